// The vault's hosted card fields (/vault/hosted-fields), inside the merchant's checkout iframe.
// Loaded from /static/vault-fields.js (CSP script-src 'self'), never inline. It posts the card,
// with the page's client token, to /vault/nonces on Shonin's own origin, and gives the parent
// page only the one-time nonce and what may be shown of the card (brand, last four digits), by
// postMessage addressed to the client token's origin alone. The parent may ask it to submit
// ({type: "shonin.vault.submit"}); messages from any other window or origin are ignored.
"use strict";
(() => {
  const box = document.getElementById("hf");
  if (!box) return;
  const token = box.dataset.token;
  const origin = box.dataset.origin;
  const form = document.getElementById("hf-form");
  const button = document.getElementById("hf-submit");
  const errorLine = document.getElementById("hf-error");
  const saved = document.getElementById("hf-saved");
  const value = (id) => document.getElementById(id).value.trim();
  const tell = (message) => window.parent.postMessage(message, origin);
  let busy = false;

  const submit = async () => {
    if (busy) return;
    busy = true;
    button.disabled = true;
    errorLine.hidden = true;
    saved.hidden = true;
    const card = {
      pan: value("hf-pan").replace(/[\s-]/g, ""),
      exp_month: Number(value("hf-month")),
      exp_year: Number(value("hf-year")),
    };
    if (value("hf-name")) card.name = value("hf-name");
    if (value("hf-cvv")) card.cvv = value("hf-cvv");
    try {
      const response = await fetch("/vault/nonces", {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(card),
        credentials: "omit",
        cache: "no-store",
      });
      const answer = await response.json().catch(() => ({}));
      if (response.status === 201) {
        form.reset();
        saved.hidden = false;
        tell({
          type: "shonin.vault.nonce",
          nonce: answer.nonce,
          card: answer.card,
          expires_at: answer.expires_at,
        });
      } else {
        errorLine.textContent = box.dataset.failed + (answer.detail || response.status);
        errorLine.hidden = false;
        tell({ type: "shonin.vault.error", error: answer.error || "server_error" });
      }
    } catch (e) {
      errorLine.textContent = box.dataset.failed + String(e);
      errorLine.hidden = false;
      tell({ type: "shonin.vault.error", error: "network_error" });
    } finally {
      busy = false;
      button.disabled = false;
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || event.origin !== origin) return;
    if (event.data && event.data.type === "shonin.vault.submit") submit();
  });
  tell({ type: "shonin.vault.ready" });
})();
