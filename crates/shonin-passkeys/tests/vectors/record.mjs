// Records a real Chromium passkey registration and assertion for a chosen challenge into
// chromium-es256.json, the fixture `tests/browser_vectors.rs` verifies (no browser at test time).
//
// Debian's Chromium (headless, playwright-core from e2e/, the same launch as the e2e tests) with
// a CDP virtual authenticator (ctap2, internal, resident keys, user verification). The page is
// http://localhost:<port>, a secure context, served from 127.0.0.1 by this script; the server
// and the browser are stopped before it exits.
//
// Run: (cd e2e && npm ci) && node crates/shonin-passkeys/tests/vectors/record.mjs

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addAuthenticator, launchChromium } from '../../../../e2e/lib/chromium.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(HERE, 'chromium-es256.json');

// The challenge as transaction signing makes it: SHA-256 over the payment data.
const PAYMENT = 'shonin test vector: pay 10.00 EUR to DE89370400440532013000, ref 42';
const challenge = crypto.createHash('sha256').update(PAYMENT).digest();
const b64url = (buf) => Buffer.from(buf).toString('base64url');

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>record</title><p>recording</p>');
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const origin = `http://localhost:${server.address().port}`;

const browser = await launchChromium();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  await addAuthenticator(context, page);
  await page.goto(`${origin}/`);

  const recorded = await page.evaluate(async ({ challengeB64 }) => {
    const fromB64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    const created = await navigator.credentials.create({
      publicKey: {
        rp: { id: 'localhost', name: 'Shonin' },
        user: { id: new Uint8Array(16).fill(7), name: 'alice', displayName: 'Alice' },
        challenge: crypto.getRandomValues(new Uint8Array(32)),
        pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        attestation: 'none',
      },
    });
    const spki = created.response.getPublicKey();
    const key = await crypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
    const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', key);
    const asserted = await navigator.credentials.get({
      publicKey: {
        challenge: fromB64(challengeB64),
        rpId: 'localhost',
        allowCredentials: [{ type: 'public-key', id: created.rawId }],
        userVerification: 'required',
      },
    });
    return {
      jwk: { kty, crv, x, y },
      registration: created.toJSON(),
      assertion: asserted.toJSON(),
    };
  }, { challengeB64: b64url(challenge) });

  const fixture = {
    description:
      'A passkey registration and an assertion for a chosen challenge (SHA-256 of challenge_preimage), ' +
      'recorded from Chromium with a CDP virtual authenticator by record.mjs.',
    browser: `Chromium ${browser.version()}`,
    authenticator: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    origin,
    rp_id: 'localhost',
    challenge_preimage: PAYMENT,
    challenge: b64url(challenge),
    public_key_jwk: recorded.jwk,
    registration: recorded.registration,
    assertion: recorded.assertion,
  };
  fs.writeFileSync(OUT, `${JSON.stringify(fixture, null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), OUT)} (${fixture.browser}, origin ${origin})`);
} finally {
  await browser.close();
  server.close();
}
