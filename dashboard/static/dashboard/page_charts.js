// The page's charts, drawn by the vendored Chart.js (dashboard/static/dashboard/vendor/chartjs):
// hourly admissions as a line, the occupancy outlook as a line inside its low–high band, daily
// admissions/discharges and revenue as bars. Each chart has a table beside it for screen
// readers (filled by dashboard.js); tooltips show the values on hover and touch.
// Colours come from the page's CSS variables, so wall mode's dark theme applies.
(function () {
  "use strict";

  var fmt = window.DashFormat;
  var charts = {};

  function colour(name) {
    return getComputedStyle(document.body).getPropertyValue(name).trim();
  }

  function baseOptions(kind) {
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { labels: { color: colour("--text") } },
        tooltip: {
          callbacks: {
            label: function (context) {
              return context.dataset.label + ": " + fmt.format(context.parsed.y, kind);
            },
          },
        },
      },
      scales: {
        x: { ticks: { color: colour("--muted"), maxTicksLimit: 12 }, grid: { color: colour("--line") } },
        y: { beginAtZero: true, ticks: { color: colour("--muted") }, grid: { color: colour("--line") } },
      },
    };
  }

  // Creates the chart on first use, then replaces its data in place (no flicker, no leak).
  function draw(id, type, labels, datasets, kind, tweak) {
    var canvas = document.getElementById(id);
    if (!canvas || typeof window.Chart !== "function") return;
    var chart = charts[id];
    if (!chart) {
      var options = baseOptions(kind);
      if (tweak) tweak(options);
      chart = charts[id] = new window.Chart(canvas, { type: type, data: { labels: [], datasets: [] }, options: options });
    }
    chart.data.labels = labels;
    chart.data.datasets = datasets;
    chart.update("none");
  }

  function localHour(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function line(label, values, colourName, extra) {
    var dataset = {
      label: label,
      data: values,
      borderColor: colour(colourName),
      backgroundColor: colour(colourName),
      pointRadius: 2,
      tension: 0,  // straight segments: a smoothed curve would show values that were never there
    };
    Object.keys(extra || {}).forEach(function (key) { dataset[key] = extra[key]; });
    return dataset;
  }

  function bars(label, values, colourName) {
    return { label: label, data: values, backgroundColor: colour(colourName) };
  }

  // The outlook starts at the beds occupied now, so the band reads as where things are heading.
  function drawOutlook(outlook, occupiedNow) {
    var rows = Array.isArray(outlook) ? outlook : [];
    document.getElementById("outlook-empty").hidden = rows.length > 0;
    document.getElementById("chart-outlook").parentNode.hidden = rows.length === 0;
    var start = occupiedNow === null || occupiedNow === undefined ? null : Number(occupiedNow);
    var labels = ["now"].concat(rows.map(function (row) { return localHour(row.hour); }));
    function series(key) {
      return [start].concat(rows.map(function (row) { return row[key]; }));
    }
    var band = colour("--band");
    draw("chart-outlook", "line", rows.length ? labels : [], rows.length ? [
      line("low", series("low"), "--band-edge", { pointRadius: 0, borderDash: [4, 4] }),
      line("high", series("high"), "--band-edge", { pointRadius: 0, borderDash: [4, 4], fill: "-1", backgroundColor: band }),
      line("expected occupied beds", series("expected_occupied_beds"), "--series-a", { pointRadius: 3 }),
    ] : [], "decimal", function (options) {
      // The band's edges are named in the caption and the tooltip; the legend keeps the line.
      options.plugins.legend.labels.filter = function (item) { return item.text !== "low" && item.text !== "high"; };
    });
  }

  // historical: the historical tier's data; critical: the critical tier's (for beds now).
  function render(historical, critical) {
    var hourly = historical.admissions_hourly || [];
    draw("chart-hourly", "line", hourly.map(function (h) { return localHour(h.hour); }), [
      line("admissions", hourly.map(function (h) { return h.count; }), "--series-a", { fill: false }),
    ], "count");
    drawOutlook(historical.outlook, fmt.lookup(critical || {}, "rooms.beds_occupied"));
    var daily = historical.daily || [];
    var days = daily.map(function (d) { return d.date.slice(5); });
    draw("chart-daily", "bar", days, [
      bars("admissions", daily.map(function (d) { return d.admissions; }), "--series-a"),
      bars("discharges", daily.map(function (d) { return d.discharges; }), "--series-b"),
    ], "count");
    draw("chart-revenue", "bar", days, [
      bars("revenue", daily.map(function (d) { return d.revenue || 0; }), "--series-a"),
    ], "money");
  }

  window.DashCharts = { render: render, charts: charts };
})();
