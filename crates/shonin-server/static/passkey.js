// Passkey ceremonies for Shonin's pages. Loaded from /static/passkey.js (CSP script-src 'self'),
// never inline. The page's <section id="passkey"> carries the CSRF value, where to continue,
// and the messages in the page's language. Options and credentials travel as the JSON forms
// of WebAuthn Level 3 (parse*OptionsFromJSON / toJSON).
"use strict";
(() => {
  const box = document.getElementById("passkey");
  if (!box) return;
  const errorLine = document.getElementById("passkey-error");
  const csrf = box.dataset.csrf;
  const next = box.dataset.next;
  const show = (message) => {
    if (!errorLine) return;
    errorLine.textContent = message;
    errorLine.hidden = false;
  };
  const supported =
    window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function";
  if (!supported) {
    show(box.dataset.unsupported);
    for (const b of box.querySelectorAll("button")) b.disabled = true;
    return;
  }
  const post = async (url, body) => {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.detail || box.dataset.error);
    return data;
  };

  let pending = null; // the AbortController of a conditional (autofill) request
  const signIn = async (conditional) => {
    if (pending) pending.abort();
    const controller = new AbortController();
    if (conditional) pending = controller;
    const challenge = await post("/passkeys/sign-in/options", {});
    const request = {
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(challenge.options.publicKey),
      signal: controller.signal,
    };
    if (conditional) request.mediation = "conditional";
    const credential = await navigator.credentials.get(request);
    // With a username typed (and the button pressed), the passkey must be that account's.
    const typed = document.getElementById("username");
    const username = !conditional && typed && typed.value.trim() ? typed.value.trim() : undefined;
    const done = await post("/passkeys/sign-in", {
      ceremony: challenge.ceremony,
      credential: credential.toJSON(),
      next,
      username,
    });
    window.location.assign(done.location);
  };
  const enrol = async () => {
    const name = document.getElementById("passkey-name");
    const challenge = await post("/account/passkeys/options", {});
    const credential = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(challenge.options.publicKey),
    });
    const done = await post("/account/passkeys", {
      ceremony: challenge.ceremony,
      credential: credential.toJSON(),
      name: name ? name.value : "",
    });
    window.location.assign(done.location);
  };
  const report = (e) => {
    if (e && e.name === "AbortError") return;
    show(e && e.message && !(e instanceof DOMException) ? e.message : box.dataset.error);
  };

  const signInButton = document.getElementById("passkey-sign-in");
  if (signInButton) signInButton.addEventListener("click", () => signIn(false).catch(report));
  const enrolButton = document.getElementById("passkey-enrol");
  if (enrolButton) enrolButton.addEventListener("click", () => enrol().catch(report));

  // Conditional mediation: passkeys offered in the username field's autofill.
  if (box.dataset.passkey === "sign-in" && document.getElementById("username")) {
    Promise.resolve(PublicKeyCredential.isConditionalMediationAvailable?.())
      .then((available) => {
        if (available) return signIn(true);
      })
      // A conditional request that the browser ends (no passkey chosen, none available) is not
      // something the user did: only the server's answer is worth showing.
      .catch((e) => {
        if (!(e instanceof DOMException)) report(e);
      });
  }
})();
