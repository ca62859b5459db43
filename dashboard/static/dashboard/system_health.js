// The admins' system-health tile (dashboard/templates/dashboard/_system_health.html): every
// web process's memory, CPU and open connections from GET /system-health/, refreshed every
// 5 s. A process that stopped reporting is marked stale by the server; when this page cannot
// refresh, the whole tile says since when its figures are.
(function () {
  "use strict";

  var REFRESH_MS = 5000;
  var tile = document.getElementById("system-health");
  if (!tile) {
    return;
  }
  var rows = tile.querySelector("[data-system-health-rows]");
  var table = tile.querySelector(".system-health-table");
  var empty = tile.querySelector("[data-system-health-empty]");
  var age = tile.querySelector("[data-system-health-age]");
  var lastGoodAt = null;

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function render(answer) {
    rows.textContent = "";
    answer.processes.forEach(function (process) {
      var row = document.createElement("tr");
      row.className = process.stale ? "stale" : "";
      row.dataset.server = process.server;
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = process.server;
      row.appendChild(th);
      cell(row, String(process.pid));
      cell(row, (process.resident_bytes / 1048576).toFixed(1) + " MiB");
      cell(row, process.cpu_percent.toFixed(1) + " %");
      cell(row, String(process.connections));
      cell(row, Math.round(process.age_s) + " s ago" + (process.stale ? " (stale)" : ""));
      rows.appendChild(row);
    });
    table.hidden = answer.processes.length === 0;
    empty.hidden = answer.processes.length !== 0;
  }

  function markStale() {
    tile.classList.add("stale");
    age.textContent = lastGoodAt
      ? "stale: not updated since " + lastGoodAt.toLocaleTimeString()
      : "stale: not updated yet";
  }

  function refresh() {
    fetch(tile.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("system health answered " + response.status);
        }
        return response.json();
      })
      .then(function (answer) {
        render(answer);
        lastGoodAt = new Date();
        tile.classList.remove("stale");
        age.textContent = "";
      })
      .catch(markStale);
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
})();
