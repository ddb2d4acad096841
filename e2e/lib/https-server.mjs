// HTTPS servers the tests play other parties with (a merchant's checkout, a directory server):
// on 127.0.0.1 only, on a free port.

import https from 'node:https';

/** An https server on 127.0.0.1 with `options` (cert, key, …) and `handler`; resolves to `{ server, origin }`. */
export function listenHttps(options, handler) {
  return new Promise((resolve) => {
    const server = https.createServer(options, handler);
    server.listen(0, '127.0.0.1', () => resolve({ server, origin: `https://127.0.0.1:${server.address().port}` }));
  });
}
