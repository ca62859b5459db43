// Critical alerts for people who are not looking at the page: the tab's title carries the
// count of open critical alerts shown on this page (the user's visible departments only), and,
// once the user opts in with the button, each new critical alert raises a browser notification.
// The page never asks for permission by itself: only a click on the button does.
(function () {
  "use strict";

  var OPT_OUT_KEY = "dashboard.notifications";
  var baseTitle = document.title;
  var button = null;

  function supported() {
    return typeof window.Notification === "function";
  }

  function optedOut() {
    try {
      return window.localStorage.getItem(OPT_OUT_KEY) === "off";
    } catch (err) {
      return false;
    }
  }

  function setOptedOut(off) {
    try {
      if (off) window.localStorage.setItem(OPT_OUT_KEY, "off");
      else window.localStorage.removeItem(OPT_OUT_KEY);
    } catch (err) {
      // storage disabled: the choice lasts until the page reloads
    }
  }

  function enabled() {
    return supported() && window.Notification.permission === "granted" && !optedOut();
  }

  function refreshButton() {
    if (!button) return;
    if (!supported()) {
      button.hidden = true;
      return;
    }
    button.hidden = false;
    var permission = window.Notification.permission;
    button.disabled = permission === "denied";
    button.setAttribute("aria-pressed", enabled() ? "true" : "false");
    if (permission === "denied") button.textContent = "Notifications blocked in this browser";
    else if (enabled()) button.textContent = "Critical alert notifications on (turn off)";
    else button.textContent = "Notify me of critical alerts";
  }

  function toggle() {
    if (enabled()) {
      setOptedOut(true);
      refreshButton();
      return;
    }
    setOptedOut(false);
    if (window.Notification.permission === "granted") {
      refreshButton();
      return;
    }
    window.Notification.requestPermission().then(refreshButton, refreshButton);
  }

  // count: open critical alerts in the page's alert panel.
  function setCriticalCount(count) {
    document.title = count > 0 ? "(" + count + ") " + baseTitle : baseTitle;
  }

  // alert: a contract `alert` object newly added to the page.
  function alertArrived(alert) {
    if (alert.severity !== "critical" || !enabled()) return;
    try {
      new window.Notification("Critical alert · " + alert.department, {
        body: alert.message,
        tag: "dashboard-alert-" + alert.id,
        requireInteraction: true,
      });
    } catch (err) {
      // a browser that allows notifications only from a service worker: the title badge remains
    }
  }

  function init(toggleButton) {
    button = toggleButton;
    if (button) button.addEventListener("click", toggle);
    refreshButton();
  }

  window.DashNotify = { init: init, alertArrived: alertArrived, setCriticalCount: setCriticalCount };
})();
