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
  var VERSION_CHECK_MS = 10 * 60 * 1000;
  var fmt = window.DashFormat;

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
    helloCount: 0,
  };

  // --- formatting: page_format.js (the same rules as dashboard/web/page_presenter.py) ------
  var lookup = fmt.lookup;
  var format = fmt.format;
  var ago = fmt.ago;

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
        var delta = tile.querySelector("[data-delta]");
        var change = fmt.change(lookup(previous, path), value, kind);
        delta.textContent = change.text;
        delta.dataset.direction = change.direction;
      }
    }
    if (tier === "standard" && Array.isArray(data.departments)) renderDepartments(data.departments);
    if (tier === "historical") renderHistorical(data);
    if (tier === "critical") window.DashCharts.render(state.data.historical || {}, data);
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
      // Wall mode's tiles are narrow for their type size: "stale, 25 s ago" fits, "updated" is implied.
      var label = (stale ? "stale, " : "") + (boot.wall ? "" : "updated ") + ago(age);
      var heading = document.querySelector('[data-tier-age="' + tier + '"]');
      if (heading) heading.textContent = "(" + label + ")";
      var tiles = document.querySelectorAll('.tile[data-key^="' + tier + '."]');
      for (var i = 0; i < tiles.length; i++) {
        var absent = lookup(data, tiles[i].dataset.key.slice(tier.length + 1)) === null;
        tiles[i].classList.toggle("stale", stale);
        tiles[i].classList.toggle("no-data", absent);
        tiles[i].querySelector("[data-age]").textContent = absent ? "no data" : label;
      }
    });
    var times = document.querySelectorAll("#alert-list time");
    for (var j = 0; j < times.length; j++) {
      times[j].textContent = ago((now - parseTime(times[j].getAttribute("datetime"))) / 1000);
    }
  }

  // --- charts (page_charts.js) and their tables ----------------------------------------
  function fillRows(id, rows) {
    var body = document.getElementById(id);
    body.textContent = "";
    rows.forEach(function (row) { body.appendChild(tableRow(row[0], row.slice(1))); });
  }

  function renderHistorical(data) {
    window.DashCharts.render(data, state.data.critical);
    var daily = data.daily || [];
    fillRows("hourly-rows", (data.admissions_hourly || []).map(function (h) { return [fmt.hourText(h.hour), h.count]; }));
    fillRows("outlook-rows", (Array.isArray(data.outlook) ? data.outlook : []).map(function (row) {
      return [fmt.hourText(row.hour)].concat(["expected_occupied_beds", "low", "high"].map(function (key) {
        return format(row[key], "decimal");
      }));
    }));
    var list = document.getElementById("comparisons");
    list.textContent = "";
    var periods = { day: "today vs yesterday", week: "week over week", month: "month over month" };
    Object.keys(data.comparisons || {}).forEach(function (metric) {
      Object.keys(periods).forEach(function (period) {
        var item = document.createElement("li");
        item.textContent = metric.charAt(0).toUpperCase() + metric.slice(1) + ", " + periods[period] + ": " +
          fmt.comparison(data.comparisons[metric][period], period);
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
    window.DashNotify.setCriticalCount(alertList.querySelectorAll(".alert.severity-critical").length);
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
    window.DashNotify.alertArrived(alert);
  }

  // A snapshot carries no alerts: alerts published before its seq (while the page was away, or
  // in a gap the replay history no longer covered) reach the page only through the alert list,
  // read again after every snapshot and reconciled with the panel. An alert that arrives while
  // the list is on its way is kept.
  var ALERT_LIST_LIMIT = 200;

  function refreshAlerts() {
    var shownBefore = {};
    Array.prototype.forEach.call(alertList.children, function (item) {
      shownBefore[item.dataset.alertId] = true;
    });
    var url = "/api/alerts/?scope=" + encodeURIComponent(state.scope) + "&state=open";
    window.fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok && !response.redirected ? response.json() : null;
      })
      .then(function (answer) {
        if (!answer || !Array.isArray(answer.alerts)) return;
        var open = {};
        answer.alerts.slice().reverse().forEach(function (alert) {
          open[alert.id] = true;
          addAlert(alert);
        });
        if (answer.alerts.length >= ALERT_LIST_LIMIT) return; // a capped list cannot tell what was acknowledged
        Object.keys(shownBefore).forEach(function (alertId) {
          if (!open[alertId]) removeAlert(alertId);
        });
      })
      .catch(function () {});
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
      state.helloCount += 1;
      if (state.helloCount > 1) checkVersion();
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
      refreshAlerts();
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

  // A deploy that changed the page's files restarts the server: the page reloads itself then
  // (checked on every reconnect, and every VERSION_CHECK_MS in case a balancer hid the restart).
  function checkVersion() {
    window.fetch("/page/version/", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.redirected) return { version: null };
        return response.ok ? response.json() : { version: boot.version };
      })
      .then(function (answer) {
        if (answer.version !== boot.version) window.location.reload();
      })
      .catch(function () {});
  }

  // Wall mode keeps the screen on where the browser allows it (the Screen Wake Lock API).
  function keepScreenOn() {
    if (!boot.wall || !navigator.wakeLock) return;
    navigator.wakeLock.request("screen").catch(function () {});
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

  window.DashNotify.init(document.getElementById("notify-toggle"));
  updateAlertCount();
  renderHistorical(state.data.historical || {});
  refreshAges();
  window.setInterval(checkVersion, VERSION_CHECK_MS);
  keepScreenOn();
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") keepScreenOn();
  });
  setConnection("reconnecting", "Connecting…");
  connect();
})();
