// EMV 3-D Secure end to end across the three components, in real Chromium (Debian's chromium,
// playwright-core) with a CDP virtual authenticator: a merchant's backend (oauth4webapi,
// client_credentials with private_key_jwt and DPoP, scope `3ds`) calls Shonin's requestor API;
// Shonin's 3DS Server sends the AReq over mutual TLS to a real `shonin ds-sim` process, which
// routes it to Shonin's ACS (the same `shonin --dev serve`, with `[threeds.acs]` and
// `[threeds.server]`), every link with certificates of one scheme CA made with openssl. A
// frictionless purchase is answered Y at once. A larger one is challenged: the merchant's
// checkout (another origin) opens the ACS in an iframe with the `creq` the API returned, alice
// confirms with her passkey inside it, the ACS's RReq comes back through the DS, the final CRes
// reaches Shonin's notification page, which tells the checkout; the backend then reads Y with
// the ECI and the authentication value. A third purchase is cancelled in the iframe (N,
// challengeCancel 01). No CSP violation, no uncaught script error.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as oauth from 'oauth4webapi';
import { after, before, describe, it } from 'node:test';
import {
  addAuthenticator,
  launchChromium,
  requireBrowser,
  screenshot,
  serverSpkiPin,
  skipUnlessBrowser,
  spkiSha256,
  watchPage,
} from '../lib/chromium.mjs';
import { listenHttps as listen } from '../lib/https-server.mjs';
import { retryOnDpopNonce, setup } from '../lib/oauth4.mjs';
import { makeCa } from '../lib/pki.mjs';
import { freePort, shoninBinary, startServer } from '../lib/server.mjs';

const skip = await skipUnlessBrowser();
if (skip) process.stderr.write(`# threeds-server-browser: SKIPPED: ${skip}\n`);

const STEP_TIMEOUT = 15_000;
const TEST = { timeout: 120_000 };
const PAN = '4012000000006013';
const SHOP = 'tea-shop';
const SESSION_DATA = 'dGVhLXNob3Atc2Vzc2lvbi0x';

/** The checkout: opens the challenge iframe, posts the CReq into it, and records what the
 * notification page tells it (window.heard). */
function checkoutPage(acsURL, creq) {
  const esc = (s) => s.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
  return `<!doctype html><title>Tea Shop checkout</title>
<script>window.heard = []; window.addEventListener('message', (e) => window.heard.push({ origin: e.origin, data: e.data }));</script>
<p>Confirming your payment with your bank…</p>
<iframe name="challenge" allow="publickey-credentials-get ${esc(new URL(acsURL).origin)}" width="500" height="600"></iframe>
<form id="creq" method="post" target="challenge" action="${esc(acsURL)}">
<input type="hidden" name="creq" value="${esc(creq)}">
<input type="hidden" name="threeDSSessionData" value="${SESSION_DATA}">
</form>
<script>document.getElementById('creq').submit();</script>`;
}

/** The checkout's 3DS Method step: a hidden iframe that posts threeDSMethodData to the issuer's
 * method URL; what the notification page tells it lands in window.heard. */
function methodPage(url, data) {
  const esc = (s) => s.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
  return `<!doctype html><title>Tea Shop checkout</title>
<script>window.heard = []; window.addEventListener('message', (e) => window.heard.push({ origin: e.origin, data: e.data }));</script>
<p>Checking your card…</p>
<iframe name="method" hidden></iframe>
<form id="method-form" method="post" target="method" action="${esc(url)}">
<input type="hidden" name="threeDSMethodData" value="${esc(data)}">
</form>
<script>document.getElementById('method-form').submit();</script>`;
}

function waitForPort(port, deadline) {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve();
      });
      s.on('error', () => {
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

it('Chromium and playwright-core are available (3DS Server)', { skip }, async () => {
  await requireBrowser();
});

describe('3-D Secure across the 3DS Server, the DS simulator and the ACS, in real Chromium', { skip }, () => {
  let pkiDir;
  let srv;
  let dsSim; // the `shonin ds-sim` child process
  let merchant; // the checkout's origin: { server, origin }
  let shop; // the merchant's backend: oauth4webapi objects and its access token
  let browser;
  let profile; // { context, page, auth, log }
  const shots = [];

  /** A call of the merchant's backend to the requestor API, DPoP-bound. */
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

  /** Starts an authentication of `amount` (minor units of RUB); retries while the card ranges
   * are not loaded yet (503 right after start). */
  async function authenticate(amount, methodId) {
    const body = {
      ...(methodId ? { method_id: methodId } : {}),
      card: { number: PAN, expiry: '3012' },
      purchase: { amount, currency: '643', exponent: 2 },
      merchant: { name: 'Tea <Shop>', mcc: '5812', country: '643', acquirer_bin: '400551', acquirer_merchant_id: 'M-1' },
      browser: {
        accept_header: 'text/html',
        user_agent: await profile.page.evaluate(() => navigator.userAgent),
        language: 'en-US',
        javascript_enabled: true,
        color_depth: 24,
        screen_height: 900,
        screen_width: 1440,
        tz: 0,
      },
      challenge_window_size: '03',
      session_data: SESSION_DATA,
    };
    const deadline = Date.now() + STEP_TIMEOUT;
    for (;;) {
      const r = await api('POST', '/3ds/server/authentications', body);
      if (r.status !== 503 || Date.now() > deadline) {
        assert.equal(r.status, 201, JSON.stringify(r.body));
        return r.body;
      }
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  /** Opens the checkout for a challenged authentication; the challenge iframe's frame. */
  async function checkout(auth) {
    const { page } = profile;
    const url = new URL('/checkout', merchant.origin);
    url.searchParams.set('acsURL', auth.challenge.acsURL);
    url.searchParams.set('creq', auth.challenge.creq);
    await page.goto(url.href);
    const frame = await (await page.waitForSelector('iframe[name="challenge"]')).contentFrame();
    await frame.waitForSelector('#acs-amount');
    return frame;
  }

  /** What the notification page told the checkout, and the authentication as the backend
   * then reads it. */
  async function finished(auth) {
    await profile.page.waitForFunction(
      (id) => window.heard.some((m) => m.data?.type === 'shonin-3ds-complete' && m.data.threeDSServerTransID === id),
      auth.id,
      { timeout: STEP_TIMEOUT },
    );
    const heard = await profile.page.evaluate(() => window.heard);
    assert.ok(heard.every((m) => m.origin === new URL(srv.issuer).origin), JSON.stringify(heard));
    const r = await api('GET', `/3ds/server/authentications/${auth.id}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  }

  before(async () => {
    await requireBrowser();
    pkiDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'shonin-e2e-3dss-'));
    const scheme = makeCa(pkiDir, 'scheme');
    const file = (name, pem) => {
      const p = path.join(pkiDir, name);
      fs.writeFileSync(p, pem);
      return p;
    };
    const dsServer = scheme.issue('ds.example', { serverIp: '127.0.0.1' });
    const dsClient = scheme.issue('ds.example');
    const acsClient = scheme.issue('acs.example');
    const serverClient = scheme.issue('3ds-server.example');
    const dsPort = await freePort();
    const ds = `https://127.0.0.1:${dsPort}`;

    const merchantCert = scheme.issue('merchant.example', { serverIp: '127.0.0.1' });
    merchant = await listen({ cert: merchantCert.cert, key: merchantCert.key }, (req, res) => {
      const url = new URL(req.url, 'https://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/checkout') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(checkoutPage(url.searchParams.get('acsURL'), url.searchParams.get('creq')));
        return;
      }
      if (req.method === 'GET' && url.pathname === '/method') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(methodPage(url.searchParams.get('url'), url.searchParams.get('data')));
        return;
      }
      res.writeHead(404);
      res.end();
    });

    srv = await startServer({
      name: 'threeds-server-browser',
      env: { SHONIN_SERVER__CLIENT_CERTIFICATES: 'optional' },
      setup: async (run, { dir }) => {
        await fsp.writeFile(
          path.join(dir, 'shonin.toml'),
          `[threeds.acs]
reference_number = "ACSRefNum1234"
ds_certificate_thumbprints = ["${dsClient.x5t}"]
results_ca_file = "${scheme.certFile}"
results_certificate_file = "${file('acs-client.pem', acsClient.cert)}"
results_key_file = "${file('acs-client.key', acsClient.key)}"

[[threeds.acs.card_ranges]]
start = "4012000000006000"
end = "4012000000006999"
scheme = "visa"

[threeds.acs.risk]
frictionless_up_to = { "643" = 100000 }

[threeds.server]
reference_number = "SHONIN-3DSS-E2E"
requestor_id = "PSP-0001"
requestor_name = "Tea Shop PSP"
requestor_url = "https://psp.example/"
ds_areq_url = "${ds}/ds/areq"
ds_preq_url = "${ds}/ds/preq"
ds_ca_file = "${scheme.certFile}"
certificate_file = "${file('3ds-server.pem', serverClient.cert)}"
key_file = "${file('3ds-server.key', serverClient.key)}"
ds_certificate_thumbprints = ["${dsClient.x5t}"]
`,
        );
        await run(['3ds', 'cards', 'enrol', '--username', 'alice'], { stdin: `${PAN}\n` });
        await run([
          'clients', 'add',
          '--client-id', SHOP,
          '--name', 'Tea Shop',
          '--redirect-uri', 'https://localhost/cb',
          '--jwks-file', path.join(dir, 'jwks.json'),
          '--scope', '3ds',
          '--grant-type', 'client_credentials',
        ]);
      },
    });

    // The DS simulator: its own certificate from the scheme CA, trusting Shonin's dev CA for
    // the ACS and the 3DS Server it calls.
    const dsToml = path.join(pkiDir, 'ds.toml');
    await fsp.writeFile(
      dsToml,
      `listen = "127.0.0.1:${dsPort}"
public_url = "${ds}"
certificate_file = "${file('ds.pem', dsServer.cert)}"
key_file = "${file('ds.key', dsServer.key)}"
client_ca_file = "${scheme.certFile}"
client_certificate_file = "${file('ds-client.pem', dsClient.cert)}"
client_key_file = "${file('ds-client.key', dsClient.key)}"
server_ca_file = "${path.join(srv.dir, 'shonin-data', 'tls', 'dev-ca.pem')}"

[[ranges]]
start = "4012000000006000"
end = "4012000000006999"
scheme = "visa"
acs_url = "${srv.issuer}/3ds/acs/areq"
three_ds_method_url = "${srv.issuer}/3ds/acs/method"
`,
    );
    const dsLog = fs.openSync(path.join(pkiDir, 'ds-sim.log'), 'a');
    dsSim = spawn(shoninBinary(), ['ds-sim', dsToml], { stdio: ['ignore', dsLog, dsLog] });
    fs.closeSync(dsLog);
    await waitForPort(dsPort, Date.now() + STEP_TIMEOUT);

    shop = await setup(srv, { id: SHOP, key: srv.client.key, kid: srv.client.kid });
    const tokens = await retryOnDpopNonce(async () =>
      oauth.processClientCredentialsResponse(
        shop.as,
        shop.client,
        await oauth.clientCredentialsGrantRequest(shop.as, shop.client, shop.clientAuth, new URLSearchParams({ scope: '3ds' }), {
          ...shop.opts,
          DPoP: shop.DPoP,
        }),
      ),
    );
    shop.token = tokens.access_token;

    browser = await launchChromium({ spkiPins: [serverSpkiPin(srv), spkiSha256(merchantCert.cert)] });
    const context = await browser.newContext({ baseURL: srv.issuer, locale: 'en-US' });
    context.setDefaultTimeout(STEP_TIMEOUT);
    const page = await context.newPage();
    const log = watchPage(page);
    const auth = await addAuthenticator(context, page, { presence: false });
    profile = { context, page, auth, log };
  });

  after(async () => {
    await browser?.close();
    dsSim?.kill();
    await srv?.stop();
    merchant?.server.close();
    if (pkiDir) await fsp.rm(pkiDir, { recursive: true, force: true });
    if (shots.length) process.stderr.write(`# threeds-server-browser: screenshots:\n#   ${shots.join('\n#   ')}\n`);
  });

  it('a small purchase is authenticated without a challenge: Y with the ECI and the value', TEST, async () => {
    const y = await authenticate('63551');
    assert.equal(y.state, 'completed', JSON.stringify(y));
    assert.equal(y.result.transStatus, 'Y');
    assert.equal(y.result.eci, '05');
    assert.match(y.result.authenticationValue, /^[A-Za-z0-9+/]{27}=$/);
    assert.equal(y.card, '401200******6013');
  });

  it('alice enrols a passkey on the account page', TEST, async () => {
    const { page, auth } = profile;
    await page.goto('/account');
    await page.fill('#username', srv.user.username);
    await page.fill('#password', srv.user.password);
    await Promise.all([page.waitForNavigation(), page.click('form:has(#password) button[type="submit"]')]);
    await page.fill('#passkey-name', 'Laptop');
    await auth.presence(true);
    await Promise.all([page.waitForNavigation(), page.click('#passkey-enrol')]);
    assert.equal(await page.locator('li.passkey').count(), 1, profile.log.describe());
  });

  it('a larger purchase is challenged: she confirms with her passkey in the checkout iframe, the result is Y', TEST, async () => {
    const c = await authenticate('150000');
    assert.equal(c.state, 'challenge', JSON.stringify(c));
    const frame = await checkout(c);
    assert.equal((await frame.textContent('#acs-amount'))?.trim(), '1,500.00 RUB');
    assert.equal((await frame.textContent('#acs-merchant'))?.trim(), 'Tea <Shop>');
    shots.push(await screenshot(profile.page, '3dss-challenge'));
    // The challenge runs in a cross-site iframe (a process of its own): the passkey moves to a
    // virtual authenticator on the frame's target.
    const frameAuth = await addAuthenticator(profile.context, frame).catch(() => null);
    if (frameAuth) await profile.auth.moveCredentialsTo(frameAuth);
    await frame.click('#acs-confirm');
    const done = await finished(c);
    assert.equal(done.state, 'completed', JSON.stringify(done));
    assert.equal(done.result.transStatus, 'Y', profile.log.describe());
    assert.equal(done.result.eci, '05');
    assert.match(done.result.authenticationValue, /^[A-Za-z0-9+/]{27}=$/);
    assert.equal(done.result.interactionCounter, '01');
    assert.equal(done.final_cres, 'Y', 'the final CRes reached the notification page');
    await profile.page.frameLocator('iframe[name="challenge"]').locator('#threeds-done').waitFor();
    shots.push(await screenshot(profile.page, '3dss-done'));
  });

  it('a third purchase runs the 3DS Method in a hidden iframe first, then is cancelled: N with challengeCancel 01', TEST, async () => {
    // The 3DS Method: started by the backend, run by the checkout, posted back by the ACS.
    let m;
    const deadline = Date.now() + STEP_TIMEOUT;
    for (;;) {
      m = await api('POST', '/3ds/server/methods', { card: { number: PAN } });
      if (m.status !== 503 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    assert.equal(m.status, 201, JSON.stringify(m.body));
    assert.equal(m.body.state, 'method');
    const { page } = profile;
    const url = new URL('/method', merchant.origin);
    url.searchParams.set('url', m.body.method.threeDSMethodURL);
    url.searchParams.set('data', m.body.method.threeDSMethodData);
    await page.goto(url.href);
    await page.waitForFunction(
      (id) => window.heard.some((h) => h.data?.type === 'shonin-3ds-method-complete' && h.data.threeDSServerTransID === id),
      m.body.id,
      { timeout: STEP_TIMEOUT },
    );
    const c = await authenticate('150000', m.body.id);
    assert.equal(c.id, m.body.id, 'the AReq went out under the method\'s transaction');
    assert.equal(c.threeDSCompInd, 'Y', JSON.stringify(c));
    assert.equal(c.state, 'challenge', JSON.stringify(c));
    const frame = await checkout(c);
    await frame.click('#acs-cancel');
    const done = await finished(c);
    assert.equal(done.result.transStatus, 'N', JSON.stringify(done));
    assert.equal(done.result.challengeCancel, '01');
    assert.equal(done.result.eci, undefined);
  });

  it('no page had a CSP violation or an uncaught script error', TEST, async () => {
    const bad = profile.log.console.filter((m) => /Content Security Policy|Refused to|Uncaught/i.test(m));
    assert.deepEqual(bad, [], profile.log.describe());
    assert.deepEqual(profile.log.errors, [], profile.log.describe());
  });
});
