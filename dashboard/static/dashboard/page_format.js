// How the page words numbers and changes: the same rules as dashboard/web/page_presenter.py.
// A change is worded from the amount shown, so one that rounds to zero reads "no change",
// never "▼ −0". Exposed as window.DashFormat for the page's other scripts.
(function () {
  "use strict";

  var MINUS = "−";

  function lookup(data, path) {
    var value = data;
    var parts = path.split(".");
    for (var i = 0; i < parts.length; i++) {
      if (value === null || typeof value !== "object") return null;
      value = value[parts[i]];
    }
    return value === undefined ? null : value;
  }

  function duration(minutes) {
    var whole = Math.round(minutes);
    if (whole < 60) return whole + " min";
    return Math.floor(whole / 60) + " h " + (whole % 60) + " min";
  }

  function format(value, kind) {
    if (value === null || value === undefined) return "–";
    var number = Number(value);
    if (kind === "percent") return Math.round(100 * number) + "%";
    if (kind === "money") {
      return number.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    if (kind === "minutes") return duration(number);
    if (kind === "hours") {
      return number.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 }) + " h";
    }
    if (kind === "decimal") return String(Math.round(number * 10) / 10);
    return Math.round(number).toLocaleString("en-US");
  }

  // The size of a change as shown, in the kind's own unit (percent changes in points).
  function changeAmount(amount, kind) {
    if (kind === "percent") return Math.round(100 * amount) + " pts";
    if (kind === "money") return format(amount, kind);
    if (kind === "hours") return format(amount, kind);
    return format(amount, kind === "minutes" ? "minutes" : "count");
  }

  function roundsToZero(amount, kind) {
    var steps = { percent: 100, money: 100, hours: 10 };
    return Math.round(Math.abs(amount) * (steps[kind] || 1)) === 0;
  }

  // {text, direction} for a tile's change since the previous value; direction is up/down/none.
  function change(before, after, kind) {
    if (before === null || before === undefined || after === null || after === undefined) {
      return { text: "no change", direction: "none" };
    }
    var diff = Number(after) - Number(before);
    if (roundsToZero(diff, kind)) return { text: "no change", direction: "none" };
    var up = diff > 0;
    return {
      text: (up ? "▲ +" : "▼ " + MINUS) + changeAmount(Math.abs(diff), kind) + " since last",
      direction: up ? "up" : "down",
    };
  }

  var EARLIER = { day: "yesterday", week: "last week", month: "last month" };

  // A comparison ratio (current / earlier span, null when the earlier span had none).
  function comparison(ratio, period) {
    if (ratio === null || ratio === undefined) return (EARLIER[period] || "the earlier span") + " had none by this time";
    var percent = Math.round((Number(ratio) - 1) * 100);
    if (percent === 0) return "no change";
    return (percent > 0 ? "▲ +" : "▼ " + MINUS) + Math.abs(percent) + "%";
  }

  function ago(seconds) {
    if (seconds < 60) return Math.max(0, Math.round(seconds)) + " s ago";
    if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
    return Math.round(seconds / 3600) + " h ago";
  }

  // "2026-11-30T05:00:00Z" as "2026-11-30 05:00", the hour rows of the chart tables.
  function hourText(iso) {
    return String(iso).slice(0, 16).replace("T", " ");
  }

  window.DashFormat = {
    lookup: lookup,
    format: format,
    change: change,
    comparison: comparison,
    ago: ago,
    hourText: hourText,
  };
})();
