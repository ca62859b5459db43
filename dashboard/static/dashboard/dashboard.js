// The dashboard page's live part: one WebSocket, the contract's seq/epoch rules, tiles,
// charts and the alert panel updated in place. The page is complete without this script.
(function () {
  "use strict";

  var boot = JSON.parse(document.getElementById("dash-boot").textContent);
  var SILENCE_MS = 25000;
  var BACKOFF_FIRST_MS = 500;
  var BACKOFF_MAX_MS = 30000;
  var OFFLINE_AFTER_ATTEMPTS = 6;
  var STALE_AFTER_INTERVALS = 2;

  var state = {
    scope: boot.scope,
    epoch: boot.snapshot.epoch,
    seq: boot.snapshot.seq,
    data: boot.snapshot.data,
    sourcesDown: false,
    lastMessageAt: Date.now(),
    resyncing: false,
    socket: null,
    attempt: 0,
    stopped: false,
    requestCounter: 0,
  };

  // --- formatting (the same rules as dashboard/web/page_presenter.py) ----------------------
  function lookup(data, path) {
    var value = data;
    var parts = path.split(".");
    for (var i = 0; i < parts.length; i++) {
      if (value === null || typeof value !== "object") return null;
      value = value[parts[i]];
    }
    return value === undefined ? null : value;
  }

  function format(value, kind) {
    if (value === null || value === undefined) return "–";
    if (kind === "percent") return Math.round(100 * Number(value)) + "%";
    if (kind === "money") {
      return Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    return Math.round(Number(value)).toLocaleString("en-US");
  }

  function ago(seconds) {
    if (seconds < 60) return Math.max(0, Math.round(seconds)) + " s ago";
    if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
    return Math.round(seconds / 3600) + " h ago";
  }

  function parseTime(iso) {
    return new Date(iso).getTime();
  }

  // --- connection indicator -----------------------------------------------------------
  var connection = document.getElementById("connection");
  var CONNECTION_TEXT = { live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };

  function setConnection(name, detail) {
    connection.dataset.state = name;
    connection.querySelector(".connection-text").textContent = detail || CONNECTION_TEXT[name];
    var buttons = document.querySelectorAll("button.ack");
    for (var i = 0; i < buttons.length; i++) {
      if (!buttons[i].dataset.pending) buttons[i].disabled = name !== "live";
    }
  }

  function showMessage(text) {
    var box = document.getElementById("page-message");
    box.textContent = text;
    box.hidden = !text;
  }

  // --- tiles --------------------------------------------------------------------------
  function renderTier(tier, data, previous) {
    var tiles = document.querySelectorAll('.tile[data-key^="' + tier + '."]');
    for (var i = 0; i < tiles.length; i++) {
      var tile = tiles[i];
      var path = tile.dataset.key.slice(tier.length + 1);
      var kind = tile.dataset.kind;
      var value = lookup(data, path);
      tile.querySelector("[data-value]").textContent = format(value, kind);
      if (previous) {
        var before = lookup(previous, path);
        var delta = tile.querySelector("[data-delta]");
        if (value === null || before === null || value === before) {
          delta.textContent = "no change";
          delta.dataset.direction = "none";
        } else {
          var diff = Number(value) - Number(before);
          var sign = diff > 0 ? "+" : "−";
          var amount = kind === "percent" ? format(Math.abs(diff), kind) + " pts" : format(Math.abs(diff), kind);
          delta.textContent = (diff > 0 ? "▲ " : "▼ ") + sign + amount + " since last";
          delta.dataset.direction = diff > 0 ? "up" : "down";
        }
      }
    }
    if (tier === "standard" && Array.isArray(data.departments)) renderDepartments(data.departments);
    if (tier === "historical") renderHistorical(data);
  }

  function renderDepartments(rows) {
    var body = document.getElementById("department-rows");
    if (!body) return;
    body.textContent = "";
    rows.forEach(function (row) {
      body.appendChild(tableRow(row.department, boot.department_paths.map(function (path) {
        return format(lookup(row, path), /_rate$/.test(path) ? "percent" : "count");
      })));
    });
  }

  function tableRow(header, cells) {
    var tr = document.createElement("tr");
    var th = document.createElement("th");
    th.scope = "row";
    th.textContent = header;
    tr.appendChild(th);
    cells.forEach(function (cell) {
      var td = document.createElement("td");
      td.textContent = cell;
      tr.appendChild(td);
    });
    return tr;
  }

  function refreshAges() {
    var now = Date.now();
    ["critical", "standard", "historical"].forEach(function (tier) {
      var data = state.data[tier];
      if (!data || !data.computed_at) return;
      var age = (now - parseTime(data.computed_at)) / 1000;
      var stale = state.sourcesDown || age > STALE_AFTER_INTERVALS * boot.intervals[tier];
      var label = (stale ? "stale, " : "") + "updated " + ago(age);
      var heading = document.querySelector('[data-tier-age="' + tier + '"]');
      if (heading) heading.textContent = "(" + label + ")";
      var tiles = document.querySelectorAll('.tile[data-key^="' + tier + '."]');
      for (var i = 0; i < tiles.length; i++) {
        tiles[i].classList.toggle("stale", stale);
        tiles[i].querySelector("[data-age]").textContent = label;
      }
    });
    var times = document.querySelectorAll("#alert-list time");
    for (var j = 0; j < times.length; j++) {
      times[j].textContent = ago((now - parseTime(times[j].getAttribute("datetime"))) / 1000);
    }
  }

  // --- charts: SVG drawn here, values in tooltips and labels ---------------------------
  var SVG = "http://www.w3.org/2000/svg";

  function svgElement(name, attributes, text) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { element.setAttribute(key, attributes[key]); });
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function barChart(svg, labels, series, kind) {
    if (!svg) return;
    var width = 600, height = 180, left = 44, bottom = 22, top = 10;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.textContent = "";
    var max = 0;
    series.forEach(function (s) { s.values.forEach(function (v) { max = Math.max(max, v); }); });
    max = max || 1;
    var plotWidth = width - left - 4, plotHeight = height - top - bottom;
    var slot = plotWidth / labels.length;
    var barWidth = Math.max(1, (slot - 2) / series.length);
    svg.appendChild(svgElement("line", { x1: left, y1: top + plotHeight, x2: width, y2: top + plotHeight, class: "axis" }));
    svg.appendChild(svgElement("text", { x: left - 6, y: top + 8, class: "tick", "text-anchor": "end" }, format(max, kind)));
    svg.appendChild(svgElement("text", { x: left - 6, y: top + plotHeight, class: "tick", "text-anchor": "end" }, "0"));
    labels.forEach(function (label, i) {
      series.forEach(function (s, k) {
        var value = s.values[i];
        var barHeight = (value / max) * plotHeight;
        var rect = svgElement("rect", {
          x: left + i * slot + 1 + k * barWidth,
          y: top + plotHeight - barHeight,
          width: barWidth,
          height: Math.max(barHeight, 0.5),
          class: "bar " + s.className,
        });
        rect.appendChild(svgElement("title", {}, label + ": " + format(value, kind) + " " + s.name));
        svg.appendChild(rect);
      });
      var every = Math.ceil(labels.length / 8);
      if (i % every === 0) {
        svg.appendChild(svgElement("text", { x: left + i * slot + slot / 2, y: height - 6, class: "tick", "text-anchor": "middle" }, label));
      }
    });
  }

  function comparisonText(ratio) {
    if (ratio === null || ratio === undefined) return "no earlier data";
    var change = Math.round((ratio - 1) * 100);
    return (change > 0 ? "▲ +" : change < 0 ? "▼ " : "") + change + "%";
  }

  function renderHistorical(data) {
    var hourly = data.admissions_hourly || [];
    barChart(
      document.getElementById("chart-hourly"),
      hourly.map(function (h) { return new Date(h.hour).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }),
      [{ name: "admissions", className: "series-a", values: hourly.map(function (h) { return h.count; }) }],
      "count"
    );
    var daily = data.daily || [];
    var days = daily.map(function (d) { return d.date.slice(5); });
    barChart(document.getElementById("chart-daily"), days, [
      { name: "admissions", className: "series-a", values: daily.map(function (d) { return d.admissions; }) },
      { name: "discharges", className: "series-b", values: daily.map(function (d) { return d.discharges; }) },
    ], "count");
    if (document.getElementById("chart-revenue")) {
      barChart(document.getElementById("chart-revenue"), days, [
        { name: "revenue", className: "series-a", values: daily.map(function (d) { return d.revenue || 0; }) },
      ], "money");
    }
    var list = document.getElementById("comparisons");
    list.textContent = "";
    var periods = { day: "today vs yesterday", week: "week over week", month: "month over month" };
    Object.keys(data.comparisons || {}).forEach(function (metric) {
      Object.keys(periods).forEach(function (period) {
        var item = document.createElement("li");
        item.textContent = metric.charAt(0).toUpperCase() + metric.slice(1) + ", " + periods[period] + ": " +
          comparisonText(data.comparisons[metric][period]);
        list.appendChild(item);
      });
    });
    var rows = document.getElementById("daily-rows");
    rows.textContent = "";
    daily.forEach(function (d) {
      var cells = [d.admissions, d.discharges];
      if ("revenue" in d) cells.push(format(d.revenue, "money"));
      rows.appendChild(tableRow(d.date, cells));
    });
  }

  // --- alerts -------------------------------------------------------------------------
  var alertList = document.getElementById("alert-list");

  function mayAcknowledge(department) {
    return boot.ack_departments.indexOf(department) !== -1;
  }

  function updateAlertCount() {
    var count = alertList.children.length;
    document.getElementById("alert-count").textContent = count;
    document.getElementById("alerts-empty").hidden = count > 0;
  }

  function addAlert(alert) {
    var existing = alertList.querySelector('[data-alert-id="' + CSS.escape(alert.id) + '"]');
    if (existing) {
      if (alert.escalated) markEscalated(existing);
      return;
    }
    var item = document.createElement("li");
    item.className = "alert severity-" + alert.severity;
    item.dataset.alertId = alert.id;
    [["alert-severity", alert.severity.toUpperCase()], ["alert-where", alert.department + " · " + alert.kind],
     ["alert-message", alert.message]].forEach(function (part) {
      var span = document.createElement("span");
      span.className = part[0];
      span.textContent = part[1];
      item.appendChild(span);
    });
    var time = document.createElement("time");
    time.className = "alert-time";
    time.setAttribute("datetime", alert.created_at);
    time.textContent = ago((Date.now() - parseTime(alert.created_at)) / 1000);
    item.appendChild(time);
    if (mayAcknowledge(alert.department)) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "ack";
      button.dataset.ack = alert.id;
      button.textContent = "Acknowledge";
      button.disabled = connection.dataset.state !== "live";
      item.appendChild(button);
    }
    if (alert.escalated) markEscalated(item);
    alertList.insertBefore(item, alertList.firstChild);
    updateAlertCount();
  }

  function markEscalated(item) {
    if (item.querySelector(".alert-escalated")) return;
    var badge = document.createElement("span");
    badge.className = "alert-escalated";
    badge.textContent = "ESCALATED";
    item.insertBefore(badge, item.firstChild);
    alertList.insertBefore(item, alertList.firstChild);
  }

  function removeAlert(alertId) {
    var item = alertList.querySelector('[data-alert-id="' + CSS.escape(alertId) + '"]');
    if (item) item.remove();
    updateAlertCount();
  }

  alertList.addEventListener("click", function (event) {
    var button = event.target.closest("button.ack");
    if (!button || !state.socket || state.socket.readyState !== WebSocket.OPEN) return;
    state.requestCounter += 1;
    button.disabled = true;
    button.dataset.pending = "1";
    button.textContent = "Acknowledging…";
    send({ type: "ack_alert", alert_id: button.dataset.ack, request_id: "ack-" + state.requestCounter });
  });

  // --- protocol -----------------------------------------------------------------------
  function send(message) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(message));
  }

  function resubscribe() {
    if (state.resyncing) return;
    state.resyncing = true;
    send({ type: "subscribe", scope: state.scope, since: { epoch: state.epoch, seq: state.seq } });
  }

  // True when a stream message is the next one of our scope; starts a resync on a gap.
  function inOrder(message) {
    if (message.scope !== state.scope) return false;
    if (message.epoch !== state.epoch) {
      resubscribe();
      return false;
    }
    if (message.seq <= state.seq) return false;
    if (message.seq !== state.seq + 1) {
      resubscribe();
      return false;
    }
    state.seq = message.seq;
    return true;
  }

  var handlers = {
    hello: function (message) {
      message.subscribed.forEach(function (scope) {
        if (scope !== state.scope) send({ type: "unsubscribe", scope: scope });
      });
      if (message.subscribed.indexOf(state.scope) === -1) {
        state.resyncing = false;
        resubscribe();
      }
      state.attempt = 0;
      setConnection("live");
    },
    subscribed: function (message) {
      if (message.scope === state.scope) state.resyncing = false;
    },
    snapshot: function (message) {
      if (message.scope !== state.scope) return;
      var previous = state.data;
      state.epoch = message.epoch;
      state.seq = message.seq;
      state.data = message.data;
      state.resyncing = false;
      ["critical", "standard", "historical"].forEach(function (tier) {
        renderTier(tier, message.data[tier], previous[tier]);
      });
      refreshAges();
    },
    update: function (message) {
      if (!inOrder(message)) return;
      var previous = state.data[message.tier];
      state.data[message.tier] = message.data;
      renderTier(message.tier, message.data, previous);
      refreshAges();
    },
    alert: function (message) {
      if (inOrder(message)) addAlert(message.alert);
    },
    alert_acknowledged: function (message) {
      if (inOrder(message)) removeAlert(message.alert_id);
    },
    heartbeat: function (message) {
      if (message.scope === state.scope && (message.epoch !== state.epoch || message.seq > state.seq)) resubscribe();
    },
    status: function (message) {
      var sources = message.sources || {};
      var wasDown = state.sourcesDown;
      state.sourcesDown = Object.keys(sources).some(function (name) { return sources[name] !== "ok"; });
      showMessage(state.sourcesDown ? "A data source is down (" + Object.keys(sources).filter(function (name) {
        return sources[name] !== "ok";
      }).join(", ") + "): the numbers shown may be out of date." : "");
      if (wasDown && !state.sourcesDown) {
        state.resyncing = false;
        resubscribe();
      }
      refreshAges();
    },
    unsubscribed: function (message) {
      if (message.scope === state.scope && message.reason === "forbidden") {
        showMessage("Your access to " + message.scope + " was withdrawn. Reload the page to see what you may view.");
      }
    },
    ack_result: function (message) {
      if (message.ok) return;
      releasePendingAcks();
      showMessage(message.reason === "unavailable"
        ? "The hospital database is not answering: the alert was not acknowledged. Try again."
        : "The alert was not acknowledged (" + message.reason + ").");
    },
    pong: function () {},
    error: function (message) {
      releasePendingAcks();
      showMessage(message.message);
    },
  };

  function releasePendingAcks() {
    var pending = alertList.querySelectorAll("button.ack[data-pending]");
    for (var i = 0; i < pending.length; i++) {
      delete pending[i].dataset.pending;
      pending[i].textContent = "Acknowledge";
      pending[i].disabled = false;
    }
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/dashboard/");
    state.socket = socket;
    state.resyncing = false;
    socket.addEventListener("message", function (event) {
      state.lastMessageAt = Date.now();
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      var handler = Object.prototype.hasOwnProperty.call(handlers, message.type) ? handlers[message.type] : null;
      if (handler) handler(message);
    });
    socket.addEventListener("close", function (event) {
      if (state.socket !== socket) return;
      state.socket = null;
      if (event.code === 4401) {
        setConnection("offline", "Signed out");
        window.location.reload();
        return;
      }
      if (event.code === 4403) {
        state.stopped = true;
        setConnection("offline", "Access withdrawn");
        showMessage("Your dashboard access was withdrawn.");
        return;
      }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (state.stopped) return;
    state.attempt += 1;
    setConnection(state.attempt > OFFLINE_AFTER_ATTEMPTS || !navigator.onLine ? "offline" : "reconnecting");
    var ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, state.attempt - 1));
    window.setTimeout(connect, Math.random() * ceiling);
  }

  window.setInterval(function () {
    refreshAges();
    if (state.socket && state.socket.readyState === WebSocket.OPEN && Date.now() - state.lastMessageAt > SILENCE_MS) {
      state.lastMessageAt = Date.now();
      state.resyncing = false;
      resubscribe();
    }
  }, 1000);

  renderHistorical(state.data.historical || {});
  refreshAges();
  setConnection("reconnecting", "Connecting…");
  connect();
})();
