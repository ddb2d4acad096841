// Client-side tokenization in real Chromium (Debian's chromium, playwright-core) against a real
// `shonin --dev serve` over TLS. The merchant's backend (oauth4webapi: client_credentials with
// private_key_jwt and DPoP, scopes `vault vault:detokenize`) gets a client token for its
// checkout's origin (a Node https server on 127.0.0.1, another origin than Shonin's); the
// checkout frames Shonin's hosted card fields; the shopper types the card there; the checkout
// receives only a nonce and the masked card by postMessage and cannot read the frame; the
// backend exchanges the nonce for a vault token, once, and its first detokenize carries the
// CVV, the second not. A card with a wrong check digit is refused inside the frame and the
// checkout hears `shonin.vault.error`; a page of another origin cannot frame the fields. After
// the run, the server's files (database, WAL, log) and its audit export hold no card number and
// no CVV.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import {
  launchChromium,
  requireBrowser,
  screenshot,
  serverSpkiPin,
  skipUnlessBrowser,
  spkiSha256,
  watchPage,
} from '../lib/chromium.mjs';
import { retryOnDpopNonce, setup } from '../lib/oauth4.mjs';
import { cardNumbers, filesUnder, securityCodes } from '../lib/pci.mjs';
import { listenHttps as listen } from '../lib/https-server.mjs';
import { makeCa } from '../lib/pki.mjs';
import { startServer } from '../lib/server.mjs';

const skip = await skipUnlessBrowser();
if (skip) process.stderr.write(`# vault-browser: SKIPPED: ${skip}\n`);

const STEP_TIMEOUT = 15_000;
const TEST = { timeout: 120_000 };
const SHOP = 'shop-backend';
const PAN = '4012888888881881';
const ALL_PANS = [PAN, '4012888888881882', '5555555555554444'];

const esc = (s) => s.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');

/** The merchant's checkout: it frames the hosted fields and keeps every message it hears. */
function checkoutPage(fieldsUrl, shoninOrigin) {
  return `<!doctype html><title>Checkout</title>
<h1>Pay Books &amp; Co</h1>
<iframe id="fields" title="Card details" src="${esc(fieldsUrl)}" width="420" height="520"></iframe>
<p id="nonce"></p>
<script>
window.heard = [];
window.addEventListener('message', (e) => {
  if (e.origin !== ${JSON.stringify(shoninOrigin)}) return;
  window.heard.push(e.data);
  if (e.data.type === 'shonin.vault.nonce') document.getElementById('nonce').textContent = e.data.nonce;
});
</script>`;
}

it('Chromium and playwright-core are available (vault)', { skip }, async () => {
  await requireBrowser();
});

describe('client-side tokenization: hosted card fields in a merchant iframe', { skip }, () => {
  let srv;
  let browser;
  let page;
  let log;
  let merchant; // { server, origin }
  let pkiDir;
  let shop; // oauth4webapi objects of the merchant's backend, and its access token
  const shots = [];

  /** A call of the merchant's backend to the vault API, DPoP-bound. */
  async function api(method, p, body) {
    const headers = new Headers();
    if (body) headers.set('content-type', 'application/json');
    const res = await retryOnDpopNonce(() =>
      oauth.protectedResourceRequest(shop.token, method, new URL(p, srv.issuer), headers, body ? JSON.stringify(body) : null, {
        ...shop.opts,
        DPoP: shop.DPoP,
      }),
    );
    return { status: res.status, body: await res.json() };
  }

  async function clientToken(origin) {
    const r = await api('POST', '/vault/client-tokens', { origin });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.client_token;
  }

  /** Opens the checkout with a fresh client token; the hosted fields' frame. */
  async function openCheckout() {
    const token = await clientToken(merchant.origin);
    const url = new URL('/checkout', merchant.origin);
    url.searchParams.set('fields', `${srv.issuer}/vault/hosted-fields?client_token=${token}`);
    await page.goto(url.href);
    const frame = await (await page.waitForSelector('#fields')).contentFrame();
    await frame.waitForSelector('#hf-pan');
    await page.waitForFunction(() => window.heard.some((m) => m.type === 'shonin.vault.ready'));
    return frame;
  }

  async function heard(type) {
    await page.waitForFunction((t) => window.heard.some((m) => m.type === t), type, { timeout: STEP_TIMEOUT });
    return page.evaluate((t) => window.heard.filter((m) => m.type === t), type);
  }

  before(async () => {
    await requireBrowser();
    pkiDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'shonin-e2e-vault-'));
    const ca = makeCa(pkiDir, 'merchant-ca');
    const cert = ca.issue('merchant.example', { serverIp: '127.0.0.1' });
    merchant = await listen({ cert: cert.cert, key: cert.key }, (req, res) => {
      const url = new URL(req.url, 'https://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/checkout') {
        const fields = url.searchParams.get('fields');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(checkoutPage(fields, new URL(fields).origin));
        return;
      }
      res.writeHead(404);
      res.end();
    });

    srv = await startServer({
      name: 'vault-browser',
      setup: (run, { dir }) =>
        run([
          'clients', 'add',
          '--client-id', SHOP,
          '--name', 'Books & Co',
          '--redirect-uri', 'https://localhost/cb',
          '--jwks-file', path.join(dir, 'jwks.json'),
          '--scope', 'vault',
          '--scope', 'vault:detokenize',
          '--grant-type', 'client_credentials',
        ]),
    });
    shop = await setup(srv, { id: SHOP, key: srv.client.key, kid: srv.client.kid });
    const tokens = await retryOnDpopNonce(async () =>
      oauth.processClientCredentialsResponse(
        shop.as,
        shop.client,
        await oauth.clientCredentialsGrantRequest(shop.as, shop.client, shop.clientAuth, new URLSearchParams({ scope: 'vault vault:detokenize' }), {
          ...shop.opts,
          DPoP: shop.DPoP,
        }),
      ),
    );
    shop.token = tokens.access_token;

    browser = await launchChromium({ spkiPins: [serverSpkiPin(srv), spkiSha256(cert.cert)] });
    const context = await browser.newContext({ locale: 'en-US' });
    context.setDefaultTimeout(STEP_TIMEOUT);
    page = await context.newPage();
    log = watchPage(page);
  });

  after(async () => {
    await browser?.close();
    await srv?.stop();
    merchant?.server.close();
    if (pkiDir) await fsp.rm(pkiDir, { recursive: true, force: true });
    if (shots.length) process.stderr.write(`# vault-browser: screenshots:\n#   ${shots.join('\n#   ')}\n`);
  });

  it('the shopper types the card in the frame; the checkout gets a nonce, never the number', TEST, async () => {
    const frame = await openCheckout();
    // The checkout cannot reach into the frame (another origin).
    assert.equal(await page.evaluate(() => document.getElementById('fields').contentDocument), null);
    await frame.fill('#hf-pan', '4012 8888 8888 1881');
    await frame.fill('#hf-month', '12');
    await frame.fill('#hf-year', '2031');
    await frame.fill('#hf-name', 'Jane Doe');
    await frame.fill('#hf-cvv', '737');
    shots.push(await screenshot(page, 'vault-hosted-fields'));
    await frame.click('#hf-submit');
    const [message] = await heard('shonin.vault.nonce');
    assert.match(message.nonce, /^nonce_[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(message.card, { brand: 'visa', last4: '1881', exp_month: 12, exp_year: 2031 });
    assert.equal(await frame.isVisible('#hf-saved'), true);
    assert.equal(await frame.inputValue('#hf-pan'), '', 'the form is cleared');
    // Nothing the checkout holds has the number or the code.
    const everything = JSON.stringify(await page.evaluate(() => window.heard)) + (await page.content());
    assert.ok(!everything.includes(PAN) && !everything.includes('737'), everything);
    assert.deepEqual(log.errors, [], log.describe());

    // The backend exchanges the nonce once; the first detokenize carries the CVV.
    const exchanged = await api('POST', '/vault/nonces/exchange', { nonce: message.nonce });
    assert.equal(exchanged.status, 201, JSON.stringify(exchanged.body));
    assert.equal(exchanged.body.last4, '1881');
    assert.ok(exchanged.body.cvv_held_until);
    const again = await api('POST', '/vault/nonces/exchange', { nonce: message.nonce });
    assert.deepEqual([again.status, again.body.error], [400, 'invalid_nonce']);
    const detok = `/vault/cards/${exchanged.body.token}/detokenize`;
    const first = await api('POST', detok);
    assert.deepEqual([first.status, first.body.pan, first.body.cvv], [200, PAN, '737']);
    const second = await api('POST', detok);
    assert.deepEqual([second.body.pan, second.body.cvv], [PAN, undefined]);
  });

  it('a wrong check digit is refused in the frame and the checkout hears an error', TEST, async () => {
    const frame = await openCheckout();
    await frame.fill('#hf-pan', '4012888888881882');
    await frame.fill('#hf-month', '12');
    await frame.fill('#hf-year', '2031');
    await frame.click('#hf-submit');
    const [message] = await heard('shonin.vault.error');
    assert.equal(message.error, 'invalid_card');
    const shown = await frame.textContent('#hf-error');
    assert.match(shown, /The card was not accepted: pan: .*Luhn/);
    assert.ok(!(await page.content()).includes('4012888888881882'));
    shots.push(await screenshot(page, 'vault-hosted-fields-refused'));
  });

  it('the checkout can submit through postMessage, and the frame ignores other senders', TEST, async () => {
    const frame = await openCheckout();
    await frame.fill('#hf-pan', '5555555555554444');
    await frame.fill('#hf-month', '01');
    await frame.fill('#hf-year', '2032');
    // A message from the frame's own window (not its parent) does nothing.
    await frame.evaluate(() => window.postMessage({ type: 'shonin.vault.submit' }, '*'));
    await page.waitForTimeout(300);
    assert.equal((await page.evaluate(() => window.heard.filter((m) => m.type === 'shonin.vault.nonce'))).length, 0);
    await page.evaluate((o) => document.getElementById('fields').contentWindow.postMessage({ type: 'shonin.vault.submit' }, o), srv.issuer);
    const [message] = await heard('shonin.vault.nonce');
    assert.equal(message.card.last4, '4444');
  });

  it('a page of another origin cannot frame the fields', TEST, async () => {
    // The client token names the merchant's origin; Shonin's own origin framing it is refused
    // by frame-ancestors, and the frame never gets the form.
    const token = await clientToken(merchant.origin);
    await page.goto(`${srv.issuer}/healthz`);
    await page.setContent(`<iframe id="f" src="${esc(`${srv.issuer}/vault/hosted-fields?client_token=${token}`)}"></iframe>`);
    const frame = await (await page.waitForSelector('#f')).contentFrame();
    await page.waitForTimeout(500);
    const hasForm = await frame.$('#hf-pan').then((h) => h !== null).catch(() => false);
    assert.equal(hasForm, false, 'the hosted fields rendered under a foreign ancestor');
  });

  it('after the run: no card number or CVV in the database files, the server log or the audit export', TEST, async () => {
    await browser.close();
    browser = null;
    await srv.stop({
      inspect: async (dir) => {
        const exported = path.join(dir, 'audit-export.jsonl');
        await srv.run(['audit', 'export', '--output', exported]);
        const entries = (await fsp.readFile(exported, 'utf8')).trim().split('\n');
        assert.ok(entries.some((l) => l.includes('vault.exchange')), 'the export holds the vault entries');
        const problems = [];
        const files = filesUnder(dir);
        assert.ok(files.some((f) => f.endsWith('server.log')), files.join('\n'));
        for (const file of files) {
          const bytes = fs.readFileSync(file);
          for (const n of cardNumbers(bytes)) problems.push(`${file}: card number ${n}`);
          for (const c of securityCodes(bytes)) problems.push(`${file}: ${c}`);
          for (const pan of ALL_PANS) if (bytes.includes(pan)) problems.push(`${file}: ${pan}`);
        }
        assert.deepEqual(problems, []);
      },
    });
  });
});
