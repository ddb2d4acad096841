// The 3DS Server's notification pages, the last page of an iframe of the merchant's checkout:
// /3ds/server/notification (the ACS posted the final CRes: the challenge is over) and
// /3ds/server/method-notification (the ACS's 3DS Method page posted back). It tells the checkout
// (the iframe's parent) which, with the transaction's ID only; the checkout's backend reads the
// rest from the requestor API. Loaded from /static (CSP script-src 'self').
"use strict";
(() => {
  const done = document.getElementById("threeds-done");
  if (!done || window.parent === window) return;
  window.parent.postMessage(
    { type: done.dataset.kind, threeDSServerTransID: done.dataset.transaction },
    "*",
  );
})();
