// Transaction approval on Shonin's pages /approve/{id} and the payment consent of /authorize. Loaded from /static/approve.js (CSP
// script-src 'self'), never inline. The page's <section id="approve"> carries the CSRF value,
// the two URLs and the messages in the page's language. The server renders what is approved;
// this script only asks the passkey to sign the challenge the server computed from it.
"use strict";
(() => {
  const box = document.getElementById("approve");
  if (!box) return;
  const button = document.getElementById("approve-passkey");
  const errorLine = document.getElementById("approve-error");
  const show = (message) => {
    errorLine.textContent = message;
    errorLine.hidden = false;
  };
  if (
    !window.PublicKeyCredential ||
    typeof PublicKeyCredential.parseRequestOptionsFromJSON !== "function"
  ) {
    show(box.dataset.unsupported);
    button.disabled = true;
    return;
  }
  const post = async (url, body) => {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": box.dataset.csrf },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.detail || box.dataset.error);
    return data;
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    errorLine.hidden = true;
    try {
      const challenge = await post(box.dataset.options, {});
      const credential = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(challenge.options.publicKey),
      });
      const result = await post(box.dataset.approve, { assertion: credential.toJSON() });
      // The approval page reloads itself; a consent continues to the client with its code.
      window.location.assign(result.location || window.location.href);
    } catch (e) {
      show(e && e.name === "NotAllowedError" ? box.dataset.error : e.message || box.dataset.error);
      button.disabled = false;
    }
  });
})();
