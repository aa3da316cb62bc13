// Passkeys (WebAuthn): the login page's "Log in with a passkey" (and the browser's own
// offer of passkeys in the DNI/NIE field, where it supports it), and "Add a passkey" on the
// account page. The server checks everything; this file only carries the challenge to the
// authenticator and its answer back, in the page's form, as base64url JSON.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) { return; }

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64), bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer), binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBytes(options) {
    options.challenge = toBytes(options.challenge);
    if (options.user) { options.user.id = toBytes(options.user.id); }
    (options.excludeCredentials || options.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return options;
  }

  function asJson(credential) {
    var r = credential.response;
    var response = {clientDataJSON: toText(r.clientDataJSON)};
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) { response.transports = r.getTransports(); }
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) { response.userHandle = toText(r.userHandle); }
    }
    return JSON.stringify({id: credential.id, rawId: toText(credential.rawId), type: credential.type,
                           response: response, clientExtensionResults: {}});
  }

  function options(form) {
    return fetch(form.getAttribute("data-options-url"), {
      method: "POST", credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRFToken": form.elements.csrf_token.value}
    }).then(function (answer) {
      if (!answer.ok) { throw new Error("options " + answer.status); }
      return answer.json();
    }).then(withBytes);
  }

  function send(form, credential) {
    form.elements.credential.value = asJson(credential);
    form.submit();
  }

  function ready(form) {
    var start = form.querySelector("[data-passkey-start]");
    var unsupported = form.parentNode.querySelector("[data-passkey-unsupported]");
    if (start) { start.hidden = false; }
    if (unsupported) { unsupported.hidden = true; }
    return start;
  }

  function failed(form) {
    var status = form.querySelector("[data-passkey-status]");
    status.textContent = form.getAttribute("data-message-failed");
  }

  var login = document.querySelector("[data-passkey-login]");
  if (login) {
    var waiting = null, stop = null;
    // Conditional mediation: the browser lists passkeys where the DNI/NIE is typed; choosing
    // one logs in. The button below cancels it first (one request at a time). Not offered
    // again on the page that refused a passkey (the citizen reads why, then chooses), nor
    // on a page without that field (the step-up page).
    var field = document.querySelector("input[autocomplete~='webauthn']");
    if (PublicKeyCredential.isConditionalMediationAvailable && field && !login.hasAttribute("data-refused")) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available || !window.AbortController) { return; }
        stop = new AbortController();
        waiting = options(login).then(function (publicKey) {
          return navigator.credentials.get({publicKey: publicKey, mediation: "conditional", signal: stop.signal});
        }).then(function (credential) {
          if (credential) { send(login, credential); }
        }).catch(function () { /* cancelled, expired or unavailable: the button remains */ });
      });
    }
    ready(login).addEventListener("click", function () {
      if (stop) { stop.abort(); }
      Promise.resolve(waiting).then(function () {
        return options(login);
      }).then(function (publicKey) {
        return navigator.credentials.get({publicKey: publicKey});
      }).then(function (credential) {
        send(login, credential);
      }).catch(function () { failed(login); });
    });
  }

  var enroll = document.querySelector("[data-passkey-enroll]");
  if (enroll) {
    ready(enroll);
    enroll.addEventListener("submit", function (event) {
      // Without a name the server says so; no passkey is made for nothing.
      if (!enroll.elements.name.value.trim()) { return; }
      event.preventDefault();
      options(enroll).then(function (publicKey) {
        return navigator.credentials.create({publicKey: publicKey});
      }).then(function (credential) {
        send(enroll, credential);
      }).catch(function () { failed(enroll); });
    });
  }
})();
