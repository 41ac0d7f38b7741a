// Passkey ceremonies for clauderon serve: fetch options, ask the authenticator, send the result back.
// Served by this server (no CDN); the pages' CSP allows only this script.
"use strict";
(function () {
  const enc = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const dec = (text) => {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
  };
  const status = (text) => { document.getElementById("status").textContent = text; };

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { error: response.statusText }; }
    if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
    return data;
  }

  async function register() {
    const nameInput = document.getElementById("passkey-name");
    const { handle, options } = await post("/passkeys/register/options");
    options.challenge = dec(options.challenge);
    options.user.id = dec(options.user.id);
    options.excludeCredentials = (options.excludeCredentials || []).map((c) => ({ ...c, id: dec(c.id) }));
    const cred = await navigator.credentials.create({ publicKey: options });
    const credential = {
      id: cred.id, rawId: enc(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: enc(cred.response.clientDataJSON),
        attestationObject: enc(cred.response.attestationObject),
        transports: cred.response.getTransports ? cred.response.getTransports() : [],
      },
    };
    return post("/passkeys/register/verify", { handle, name: nameInput ? nameInput.value : "", credential });
  }

  async function login() {
    const { handle, options } = await post("/passkeys/login/options");
    options.challenge = dec(options.challenge);
    options.allowCredentials = (options.allowCredentials || []).map((c) => ({ ...c, id: dec(c.id) }));
    const cred = await navigator.credentials.get({ publicKey: options });
    const credential = {
      id: cred.id, rawId: enc(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: {
        clientDataJSON: enc(cred.response.clientDataJSON),
        authenticatorData: enc(cred.response.authenticatorData),
        signature: enc(cred.response.signature),
        userHandle: cred.response.userHandle ? enc(cred.response.userHandle) : undefined,
      },
    };
    return post("/passkeys/login/verify", { handle, credential });
  }

  function wire(id, ceremony, working) {
    const button = document.getElementById(id);
    if (!button) return;
    button.addEventListener("click", async () => {
      button.disabled = true;
      status(working);
      try {
        const { next } = await ceremony();
        status("done");
        window.location.assign(next || "/");
      } catch (e) {
        status(e.message || String(e));
        button.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!window.PublicKeyCredential) {
      status("This browser cannot use passkeys here (they need https or http://localhost).");
      return;
    }
    wire("passkey-register", register, "Waiting for the authenticator...");
    wire("passkey-login", login, "Waiting for the authenticator...");
  });
})();
