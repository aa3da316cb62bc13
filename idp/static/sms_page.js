// The SMS-code page may be the answer to the form before it (the password): give it its own
// address, so that a reload asks for the page again instead of posting that form again.
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-address]");
  var address = script && script.getAttribute("data-address");
  if (address && location.pathname !== address && window.history && history.replaceState) {
    history.replaceState(null, "", address);
  }
})();
