// The 3-D Secure challenge page (/3ds/acs/challenge), inside the merchant's iframe. Loaded from
// /static/acs.js (CSP script-src 'self'), never inline. The server renders the purchase; this
// script only asks the passkey to sign the challenge the server computed from it, sends the
// answer with the page's token (no cookie reaches a third-party iframe), and when the challenge
// has ended posts the final CRes to the requestor's notificationURL with its
// threeDSSessionData. When the challenge's timer runs out it asks for the result instead.
// Without a passkey, the page holds a one-time code form (the code comes by the issuer's own
// channel) and a resend button.
// On a page holding only a message form (#acs-post: an Erro for the requestor), it submits it.
"use strict";
(() => {
  const relay = document.getElementById("acs-post");
  if (relay) {
    relay.submit();
    return;
  }
  const box = document.getElementById("acs");
  if (!box) return;
  const confirm = document.getElementById("acs-confirm");
  const cancel = document.getElementById("acs-cancel");
  const codeForm = document.getElementById("acs-code-form");
  const resend = document.getElementById("acs-resend");
  const errorLine = document.getElementById("acs-error");
  const show = (message) => {
    errorLine.textContent = message;
    errorLine.hidden = false;
  };
  const buttons = [confirm, cancel, resend, document.getElementById("acs-code-submit")].filter(Boolean);
  const busy = (on) => buttons.forEach((b) => (b.disabled = on));
  let finished = false;
  const finish = (result) => {
    finished = true;
    buttons.forEach((b) => (b.hidden = true));
    errorLine.hidden = true;
    document.getElementById("acs-returning").hidden = false;
    const form = document.getElementById("acs-result");
    form.elements.cres.value = result.cres;
    form.submit();
  };
  const send = async (action, assertion, code) => {
    const response = await fetch(box.dataset.answer, {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        acsTransID: box.dataset.trans,
        token: box.dataset.token,
        action,
        ...(assertion ? { assertion } : {}),
        ...(code !== undefined ? { code } : {}),
      }),
    });
    const data = await response.json().catch(() => ({}));
    if (response.ok && data.done) {
      finish(data);
      return null;
    }
    if (response.status === 409 && !finished) {
      // Timed out or moved on: the result is the server's to give.
      return send("result");
    }
    if (!response.ok) throw new Error(data.detail || box.dataset.error);
    return data;
  };
  const due = Number(box.dataset.due) - Date.now();
  setTimeout(() => {
    if (!finished) send("result").catch(() => {});
  }, Math.max(due + 1500, 1000));
  cancel.addEventListener("click", async () => {
    busy(true);
    try {
      await send("cancel");
    } catch (e) {
      show(e.message);
      busy(false);
    }
  });
  if (codeForm) {
    codeForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      busy(true);
      errorLine.hidden = true;
      try {
        const pending = await send("code", undefined, codeForm.elements.code.value);
        if (pending) {
          show(box.dataset.failed.replaceAll("{n}", String(pending.attemptsLeft)));
          codeForm.elements.code.value = "";
        }
      } catch (e) {
        show((e && e.message) || box.dataset.error);
      }
      if (!finished) busy(false);
    });
    resend.addEventListener("click", async () => {
      busy(true);
      try {
        await send("resend");
        show(resend.dataset.sent);
      } catch (e) {
        show((e && e.message) || box.dataset.error);
        resend.hidden = true;
      }
      if (!finished) busy(false);
    });
  }
  if (!confirm) return;
  if (
    !window.PublicKeyCredential ||
    typeof PublicKeyCredential.parseRequestOptionsFromJSON !== "function"
  ) {
    show(box.dataset.unsupported);
    confirm.disabled = true;
    return;
  }
  const options = JSON.parse(box.dataset.options);
  confirm.addEventListener("click", async () => {
    busy(true);
    errorLine.hidden = true;
    try {
      const credential = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
      });
      const pending = await send("confirm", credential.toJSON());
      if (pending) show(box.dataset.failed.replaceAll("{n}", String(pending.attemptsLeft)));
    } catch (e) {
      show(e && e.name === "NotAllowedError" ? box.dataset.error : (e && e.message) || box.dataset.error);
    }
    if (!finished) busy(false);
  });
})();
