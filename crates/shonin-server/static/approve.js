// Transaction approval on Shonin's pages /approve/{id} and the payment consent of /authorize.
// Loaded from /static/approve.js (CSP script-src 'self'), never inline. The page's <section id="approve"> carries the CSRF value,
// the two URLs and the messages in the page's language. The server renders what is approved;
// this script only asks the passkey to sign the challenge the server computed from it. After a
// refused approval it says how many attempts are left (the answer's `attempts_left`), and when
// the last one has locked the payment it says so and offers no further try (PSD2 RTS Art. 4(4):
// the payer is warned before the block).
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
    if (!response.ok) {
      const failure = new Error(data.detail || box.dataset.error);
      failure.problem = data;
      throw failure;
    }
    return data;
  };
  const attemptsLeft = (n) =>
    n === 1 ? box.dataset.lastAttempt : box.dataset.attemptsLeft.replaceAll("{n}", String(n));
  const locked = () => {
    show(box.dataset.locked);
    button.hidden = true;
    const reject = document.getElementById("approve-reject");
    if (reject) reject.hidden = true;
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
      const problem = (e && e.problem) || {};
      const left = problem.attempts_left;
      if (problem.error === "transaction_locked" || (problem.error === "approval_refused" && left === 0)) {
        locked();
        return;
      }
      if (problem.error === "approval_refused" && Number.isInteger(left)) {
        show(attemptsLeft(left));
      } else {
        show(e && e.name === "NotAllowedError" ? box.dataset.error : (e && e.message) || box.dataset.error);
      }
      button.disabled = false;
    }
  });
})();
