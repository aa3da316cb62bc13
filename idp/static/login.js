// Enhancements only: tabs, the QR countdown and waiting for the app's decision.
// Without JavaScript both login methods are shown and the "continue" button works.
(function () {
  "use strict";
  // Shown as the answer of an authorization request, the page takes its own address, so that
  // a reload or a bookmark asks for this login again rather than for a new one.
  var own = document.querySelector("link[rel='canonical']");
  if (own && window.history && history.replaceState) {
    var address = new URL(own.href);
    if (address.pathname + address.search !== location.pathname + location.search) {
      history.replaceState(null, "", address.pathname + address.search + location.hash);
    }
  }
  var tabs = document.querySelectorAll("[data-tab]");
  function show(name) {
    tabs.forEach(function (tab) {
      var active = tab.getAttribute("data-tab") === name;
      var panel = document.getElementById(tab.getAttribute("data-tab"));
      if (active) { tab.setAttribute("aria-current", "true"); } else { tab.removeAttribute("aria-current"); }
      if (panel) { panel.hidden = !active; }
    });
  }
  if (tabs.length) {
    var initial = (location.hash || "").slice(1);
    var current = document.querySelector("[data-tab][aria-current]");
    var known = ["mobile", "permanent", "passkey"];
    show(known.indexOf(initial) >= 0 ? initial : (current ? current.getAttribute("data-tab") : "mobile"));
    tabs.forEach(function (tab) {
      tab.addEventListener("click", function (event) {
        event.preventDefault();
        show(tab.getAttribute("data-tab"));
        history.replaceState(null, "", "#" + tab.getAttribute("data-tab"));
      });
    });
  }

  var box = document.querySelector("[data-challenge]");
  if (!box) { return; }
  var statusUrl = box.getAttribute("data-status-url");
  var deadline = Date.now() + 1000 * parseInt(box.getAttribute("data-expires-in"), 10);
  var countdown = box.querySelector("[data-countdown]");
  var form = box.querySelector("form");
  var decided = false;
  var announcedMinute = -1;

  function tick() {
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    var minutes = Math.floor(left / 60), seconds = left % 60;
    countdown.setAttribute("data-left", String(left));
    // The region is aria-live: change its text once a minute, not every second.
    if (minutes !== announcedMinute) {
      countdown.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      announcedMinute = minutes;
    }
    if (left === 0) { decided = true; form.submit(); return; }
    setTimeout(tick, 1000);
  }

  function poll() {
    if (decided) { return; }
    fetch(statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.status === "pending") { setTimeout(poll, 2000); return; }
        decided = true;
        form.submit();
      })
      .catch(function () { setTimeout(poll, 4000); });
  }

  tick();
  poll();
})();
