// Passkeys (WebAuthn) for the login page, the second step of a login and
// the account page. Served from /static (CSP script-src 'self'); the page
// names its mode and endpoints in the data- attributes of #passkey. The
// server keeps every challenge: this script only carries the options to
// navigator.credentials and the answer back, as JSON, same-origin.
"use strict";
(function () {
  var box = document.getElementById("passkey");
  if (!box) return;
  var mode = box.getAttribute("data-mode");
  var base = box.getAttribute("data-base");
  var cont = box.getAttribute("data-continue") || "";
  var errorEl = document.getElementById("passkey-error");
  var supported = !!(window.PublicKeyCredential && navigator.credentials);

  function b64ToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64(buf) {
    if (!buf) return null;
    var b = new Uint8Array(buf), s = "";
    for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function showError(msg) {
    errorEl.textContent = msg;
    errorEl.hidden = false;
  }
  function clearError() {
    errorEl.textContent = "";
    errorEl.hidden = true;
  }
  function post(path, body) {
    return fetch(base + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw { server: j.error || box.getAttribute("data-msg-failed") };
        return j;
      });
    });
  }
  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = b64ToBuf(pk.challenge);
    pk.user.id = b64ToBuf(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = b64ToBuf(c.id); });
    return { publicKey: pk };
  }
  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = b64ToBuf(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = b64ToBuf(c.id); });
    return { publicKey: pk };
  }
  function attestationJSON(c) {
    return {
      id: c.id, rawId: bufToB64(c.rawId), type: c.type,
      authenticatorAttachment: c.authenticatorAttachment || undefined,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: {
        clientDataJSON: bufToB64(c.response.clientDataJSON),
        attestationObject: bufToB64(c.response.attestationObject),
        transports: c.response.getTransports ? c.response.getTransports() : []
      }
    };
  }
  function assertionJSON(c) {
    return {
      id: c.id, rawId: bufToB64(c.rawId), type: c.type,
      authenticatorAttachment: c.authenticatorAttachment || undefined,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: {
        clientDataJSON: bufToB64(c.response.clientDataJSON),
        authenticatorData: bufToB64(c.response.authenticatorData),
        signature: bufToB64(c.response.signature),
        userHandle: bufToB64(c.response.userHandle)
      }
    };
  }
  function fail(e) {
    // What went wrong, for whoever inspects the page (never shown).
    errorEl.setAttribute("data-detail", e && e.name ? e.name + ": " + e.message : String(e && e.server || e));
    if (e && e.server) return showError(e.server);
    if (e && e.name === "AbortError") return;
    if (e && e.name === "InvalidStateError" && mode === "register") {
      return showError(box.getAttribute("data-msg-exists"));
    }
    if (e && (e.name === "NotAllowedError" || e.name === "InvalidStateError")) {
      return showError(box.getAttribute("data-msg-cancelled"));
    }
    showError(box.getAttribute("data-msg-failed"));
  }
  function go(j) { window.location.assign(j.redirect); }

  // Sign in (login, verify): begin, navigator.credentials.get, finish.
  // The browser runs one request at a time: the autofill request
  // (conditional) waits in the background, and a press of the button
  // aborts it and waits for it to end before asking in a dialog.
  function signIn(conditional, ctl) {
    return post("/begin", { conditional: conditional }).then(function (b) {
      var opts = requestOptions(b.options);
      if (conditional) opts.mediation = "conditional";
      if (ctl) opts.signal = ctl.signal;
      return navigator.credentials.get(opts).then(function (cred) {
        return post("/finish", { ceremony: b.ceremony, credential: assertionJSON(cred), continue: cont });
      });
    }).then(go);
  }
  var background = null; // the autofill request: {ctl, done}
  var pressed = false;
  function buttonSignIn() {
    clearError();
    if (!supported) return showError(box.getAttribute("data-msg-unsupported"));
    pressed = true;
    var before = Promise.resolve();
    if (background) {
      background.ctl.abort();
      before = background.done;
      background = null;
    }
    before.then(function () { return signIn(false, null); }).catch(fail);
  }

  if (mode === "login") {
    document.getElementById("passkey-login").addEventListener("click", buttonSignIn);
    if (supported && window.AbortController && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (!ok || pressed) return;
        var ctl = new AbortController();
        background = {
          ctl: ctl,
          done: signIn(true, ctl).catch(function (e) {
            if (!ctl.signal.aborted) fail(e);
          })
        };
      }, function () {});
    }
  } else if (mode === "verify") {
    document.getElementById("passkey-verify").addEventListener("click", buttonSignIn);
  } else if (mode === "register") {
    document.getElementById("passkey-add").addEventListener("click", function () {
      clearError();
      if (!supported) return showError(box.getAttribute("data-msg-unsupported"));
      var name = document.getElementById("passkey-name").value;
      post("/begin").then(function (b) {
        return navigator.credentials.create(creationOptions(b.options)).then(function (cred) {
          return post("/finish", { ceremony: b.ceremony, credential: attestationJSON(cred), name: name });
        });
      }).then(go).catch(fail);
    });
  }
})();
