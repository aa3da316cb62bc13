// Enhancement only: a "Print" button for the activation-code receipt. Without JavaScript
// the page tells the citizen to use the browser's Print command, which works the same.
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
