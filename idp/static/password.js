// The live password checklist, strength meter and recommendations of _new_password.html.
// Enhancement only: the rules and their characters come from the page (idp.passwords), and
// the server decides when the form is sent.
(function () {
  "use strict";
  var box = document.querySelector("[data-password-checklist]");
  var input = box && document.getElementById(box.getAttribute("data-for"));
  if (!input || !String.prototype.normalize) { return; }
  var words = box.querySelector("[data-words]");
  var min = parseInt(box.getAttribute("data-min"), 10);
  var passphrase = parseInt(box.getAttribute("data-passphrase"), 10);
  var sequence = parseInt(box.getAttribute("data-sequence"), 10);
  var runs = box.getAttribute("data-runs").split(" ");
  var rules = Array.prototype.slice.call(box.querySelectorAll("[data-rule]"));
  var summary = box.querySelector("[data-checklist-summary]");
  var meter = box.querySelector("[data-strength]");
  var warnings = box.querySelector("[data-warnings]");
  var strengths = words.getAttribute("data-strengths").split("|");
  var announce = null;

  function fold(text) {
    return text.normalize("NFKD").toLowerCase().replace(/[\u0300-\u036f]/g, "");
  }
  function hasSequence(folded) {
    for (var i = 0; i + sequence <= folded.length; i++) {
      var gram = folded.slice(i, i + sequence);
      for (var r = 0; r < runs.length; r++) {
        var run = runs[r];
        if (run.indexOf(gram) >= 0 || run.split("").reverse().join("").indexOf(gram) >= 0) { return true; }
      }
    }
    return false;
  }
  function kindOf(ch) {
    if (ch !== ch.toUpperCase() && ch === ch.toLowerCase()) { return "lower"; }
    if (ch !== ch.toLowerCase() && ch === ch.toUpperCase()) { return "upper"; }
    if (/[0-9]/.test(ch)) { return "digit"; }
    return "other";
  }
  // Mirrors idp.passwords.strength: a point per length band, one for 3+ kinds, minus warnings.
  function strength(chars, found) {
    if (chars.length < min) { return 0; }
    var kinds = {};
    chars.forEach(function (ch) { kinds[kindOf(ch)] = true; });
    var score = [min, 12, passphrase].filter(function (band) { return chars.length >= band; }).length;
    score += Object.keys(kinds).length >= 3 ? 1 : 0;
    score -= found.length;
    return Math.max(0, Math.min(4, score));
  }
  // Mirrors idp.passwords.check_password for the rules the browser can decide.
  function met(rule, chars) {
    var kind = rule.getAttribute("data-rule");
    var allowed = rule.getAttribute("data-characters") || "";
    if (kind === "min") { return chars.length >= min; }
    if (kind === "needs") {
      return chars.length >= passphrase || chars.some(function (ch) { return allowed.indexOf(ch) >= 0; });
    }
    if (kind === "allowed") {
      return chars.length >= passphrase || chars.every(function (ch) { return allowed.indexOf(ch) >= 0; });
    }
    return null;  // decided by the server
  }

  function update() {
    var chars = Array.from(input.value.normalize("NFC"));
    var count = 0, total = 0;
    rules.forEach(function (rule) {
      var state = met(rule, chars);
      var name = state === null ? "server" : state ? "met" : "unmet";
      rule.setAttribute("data-state", name);
      rule.querySelector("[data-state-text]").textContent = " (" + words.getAttribute("data-" + name) + ")";
      if (state !== null) { total += 1; count += state ? 1 : 0; }
    });
    var folded = fold(chars.join(""));
    var found = [];
    if (hasSequence(folded)) { found.push("sequence"); }
    if (/(.)\1\1/u.test(folded)) { found.push("repeated"); }
    warnings.querySelectorAll("[data-warning]").forEach(function (item) {
      item.hidden = found.indexOf(item.getAttribute("data-warning")) < 0;
    });
    warnings.hidden = found.length === 0;
    var score = strength(chars, found);
    meter.hidden = chars.length === 0;
    meter.querySelector("meter").value = score;
    meter.querySelector("[data-strength-text]").textContent = strengths[score];
    meter.setAttribute("data-score", String(score));
    // Screen readers hear the summary once the citizen pauses, not at every key.
    clearTimeout(announce);
    announce = setTimeout(function () {
      summary.textContent = words.getAttribute("data-summary")
        .replace("{met}", String(count)).replace("{total}", String(total)) + ". " + strengths[score] + ".";
    }, 1200);
  }

  input.addEventListener("input", update);
  update();
})();
