// The 3DS Server's notification page (/3ds/server/notification), the last page of the
// challenge iframe: the ACS posted the final CRes here. It tells the merchant's checkout (the
// iframe's parent) that the challenge is over, with the transaction's ID only; the checkout's
// backend reads the result from the requestor API. Loaded from /static (CSP script-src 'self').
"use strict";
(() => {
  const done = document.getElementById("threeds-done");
  if (!done || window.parent === window) return;
  window.parent.postMessage(
    { type: "shonin-3ds-complete", threeDSServerTransID: done.dataset.transaction },
    "*",
  );
})();
