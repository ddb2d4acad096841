// EMV 3-D Secure, the issuer's browser challenge, in real Chromium (Debian's chromium,
// playwright-core) with a CDP virtual authenticator, against a real `shonin --dev serve` with
// `[threeds.acs]`. The test plays the Directory Server on both of its links: it sends the AReq
// over mutual TLS with the DS's client certificate, and it runs the DS's RReq listener (a Node
// https server that demands the ACS's client certificate from a scheme CA made with openssl). A
// merchant checkout on another origin (https://127.0.0.1:<port>, its own certificate) opens the
// challenge in an iframe and posts the CReq there; alice confirms with her passkey inside the
// iframe; the final CRes arrives at the merchant's notificationURL with its threeDSSessionData,
// and the RReq carries Y, the ECI and the authentication value. A second purchase is cancelled
// (N, challengeCancel 01). Bob has no passkey: his challenge asks for the one-time code that the
// operator's webhook (a Node http listener here) receives; a wrong code shows the attempts left,
// a resend replaces the code, the right one confirms. No CSP violation, no uncaught script error.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
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
import { makeCa } from '../lib/pki.mjs';
import { startServer } from '../lib/server.mjs';
import { makeAgent, rawRequest } from '../lib/tls-fetch.mjs';

const skip = await skipUnlessBrowser();
if (skip) process.stderr.write(`# threeds-browser: SKIPPED: ${skip}\n`);

const STEP_TIMEOUT = 15_000;
const TEST = { timeout: 120_000 };
const PAN = '4012000000006013';
const BOB_PAN = '4012000000006021';
const WEBHOOK_SECRET = 'e2e-webhook-secret-of-at-least-32-bytes';
const SESSION_DATA = 'bWVyY2hhbnQtc2Vzc2lvbi0x';
const AREQ_FIXTURE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../crates/shonin-3ds/tests/vectors/visa/3DSS-220-101/areq.json',
);

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

const b64urlJson = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));

it('Chromium and playwright-core are available (3-D Secure)', { skip }, async () => {
  await requireBrowser();
});

describe('the 3-D Secure challenge in real Chromium: merchant iframe, passkey, final CRes, RReq', { skip }, () => {
  let pkiDir;
  let srv;
  let ds; // the DS's RReq listener: { server, origin, rreqs: [{ body, clientCert }] }
  let merchant; // the merchant's checkout: { server, origin, notified: [form fields] }
  let dsAgent; // the DS's client for the AReq (mutual TLS)
  let browser;
  let profile; // { context, page, auth, log }
  let webhook; // the operator's webhook: { server, url, codes: [notification bodies] }
  const shots = [];

  async function areq(pan = PAN) {
    const v = JSON.parse(await fsp.readFile(AREQ_FIXTURE, 'utf8'));
    Object.assign(v, {
      acctNumber: pan,
      dsTransID: crypto.randomUUID(),
      dsReferenceNumber: 'DSServerRef123456',
      dsURL: `${ds.origin}/rreq`,
      notificationURL: `${merchant.origin}/notify`,
      threeDSRequestorChallengeInd: '01',
      purchaseAmount: '150000',
      merchantName: 'Books <b>&</b> Co',
    });
    const res = await rawRequest(dsAgent, `${srv.issuer}/3ds/acs/areq`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(v),
    });
    assert.equal(res.status, 200, res.text);
    const ares = JSON.parse(res.text);
    assert.equal(ares.transStatus, 'C', res.text);
    return ares;
  }

  /** Opens the merchant's checkout for `ares`; the challenge iframe's frame. */
  async function checkout(ares) {
    const { page } = profile;
    const creq = Buffer.from(
      JSON.stringify({
        threeDSServerTransID: ares.threeDSServerTransID,
        acsTransID: ares.acsTransID,
        messageType: 'CReq',
        messageVersion: ares.messageVersion,
        challengeWindowSize: '03',
      }),
    ).toString('base64url');
    const url = new URL('/checkout', merchant.origin);
    url.searchParams.set('acsURL', ares.acsURL);
    url.searchParams.set('creq', creq);
    await page.goto(url.href);
    const frame = await (await page.waitForSelector('iframe[name="challenge"]')).contentFrame();
    await frame.waitForSelector('#acs-amount');
    return frame;
  }

  /** The form the requestor's notificationURL receives next. */
  async function notified(before) {
    const deadline = Date.now() + STEP_TIMEOUT;
    while (merchant.notified.length <= before) {
      if (Date.now() > deadline) throw new Error(`no final CRes at notificationURL\n${profile.log.describe()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return merchant.notified[before];
  }

  before(async () => {
    await requireBrowser();
    pkiDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'shonin-e2e-3ds-'));
    const scheme = makeCa(pkiDir, 'scheme');
    const dsClient = scheme.issue('ds.example');
    const acsClient = scheme.issue('acs.example');
    const acsKey = path.join(pkiDir, 'acs-client.key');
    const acsCert = path.join(pkiDir, 'acs-client.pem');
    fs.writeFileSync(acsKey, acsClient.key);
    fs.writeFileSync(acsCert, acsClient.cert);
    const dsServer = scheme.issue('ds.example', { serverIp: '127.0.0.1' });
    const rreqs = [];
    ds = await listen(
      { cert: dsServer.cert, key: dsServer.key, ca: scheme.certPem, requestCert: true, rejectUnauthorized: true },
      async (req, res) => {
        const body = JSON.parse(await readBody(req));
        rreqs.push({ body, clientCert: req.socket.getPeerCertificate().raw });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            messageType: 'RRes',
            messageVersion: body.messageVersion,
            threeDSServerTransID: body.threeDSServerTransID,
            acsTransID: body.acsTransID,
            dsTransID: body.dsTransID,
            resultsStatus: '01',
          }),
        );
      },
    );
    ds.rreqs = rreqs;
    ds.acsClientDer = new crypto.X509Certificate(acsClient.cert).raw;

    // The merchant's checkout: its page opens the challenge iframe and posts the CReq into it.
    // The iframe has no src (a form post navigates it), so `allow` must name the ACS's origin:
    // the default allowlist of a bare feature name is the src's origin.
    const merchantCert = scheme.issue('merchant.example', { serverIp: '127.0.0.1' });
    const notifiedForms = [];
    merchant = await listen({ cert: merchantCert.cert, key: merchantCert.key }, async (req, res) => {
      const url = new URL(req.url, 'https://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/checkout') {
        const esc = (s) => s.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><title>Checkout</title>
<iframe name="challenge" allow="publickey-credentials-get ${esc(new URL(url.searchParams.get('acsURL')).origin)}" width="600" height="640"></iframe>
<form id="creq" method="post" target="challenge" action="${esc(url.searchParams.get('acsURL'))}">
<input type="hidden" name="creq" value="${esc(url.searchParams.get('creq'))}">
<input type="hidden" name="threeDSSessionData" value="${SESSION_DATA}">
</form>
<script>document.getElementById('creq').submit();</script>`);
        return;
      }
      if (req.method === 'POST' && url.pathname === '/notify') {
        notifiedForms.push(Object.fromEntries(new URLSearchParams(await readBody(req))));
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>Done</title><p id="done">Payment authenticated.</p>');
        return;
      }
      res.writeHead(404);
      res.end();
    });
    merchant.notified = notifiedForms;

    // The operator's webhook, where a cardholder's one-time code goes for the issuer's SMS.
    const codes = [];
    const hook = http.createServer(async (req, res) => {
      const raw = await readBody(req);
      codes.push({ signature: req.headers['shonin-signature'], raw, body: JSON.parse(raw) });
      res.writeHead(204);
      res.end();
    });
    await new Promise((r) => hook.listen(0, '127.0.0.1', r));
    webhook = { server: hook, url: `http://127.0.0.1:${hook.address().port}/hook`, codes };
    const secretFile = path.join(pkiDir, 'webhook.secret');
    fs.writeFileSync(secretFile, WEBHOOK_SECRET);

    srv = await startServer({
      name: 'threeds-browser',
      env: { SHONIN_SERVER__CLIENT_CERTIFICATES: 'optional' },
      setup: async (run, { dir }) => {
        await fsp.writeFile(
          path.join(dir, 'shonin.toml'),
          `[threeds.acs]
reference_number = "ACSRefNum1234"
ds_certificate_thumbprints = ["${dsClient.x5t}"]
results_ca_file = "${scheme.certFile}"
results_certificate_file = "${acsCert}"
results_key_file = "${acsKey}"

[[threeds.acs.card_ranges]]
start = "4012000000006000"
end = "4012000000006999"
scheme = "visa"

[threeds.acs.risk]
frictionless_up_to = { "643" = 100000 }

[alerts]
webhook_url = "${webhook.url}"
webhook_secret_file = "${secretFile}"
`,
        );
        await run(['3ds', 'cards', 'enrol', '--username', 'alice'], { stdin: `${PAN}\n` });
        await run(['users', 'add', '--username', 'bob', '--password-stdin'], { stdin: 'bob-password-e2e-1234\n' });
        await run(['3ds', 'cards', 'enrol', '--username', 'bob'], { stdin: `${BOB_PAN}\n` });
      },
    });
    const devCa = await fsp.readFile(path.join(srv.dir, 'shonin-data', 'tls', 'dev-ca.pem'), 'utf8');
    dsAgent = makeAgent(devCa, { cert: dsClient.cert, key: dsClient.key });

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
    await dsAgent?.close().catch(() => {});
    await srv?.stop();
    ds?.server.close();
    merchant?.server.close();
    webhook?.server.close();
    if (pkiDir) await fsp.rm(pkiDir, { recursive: true, force: true });
    if (shots.length) process.stderr.write(`# threeds-browser: screenshots:\n#   ${shots.join('\n#   ')}\n`);
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

  it('in the merchant iframe she sees the stored purchase and confirms it with her passkey: CRes Y, RReq Y with ECI and value', TEST, async () => {
    const ares = await areq();
    const frame = await checkout(ares);
    const text = async (id) => (await frame.textContent(`#${id}`))?.trim();
    assert.equal(await text('acs-merchant'), 'Books <b>&</b> Co', 'the merchant name as text, escaped');
    assert.equal(await frame.locator('main b').count(), 0);
    assert.equal(await text('acs-amount'), '1,500.00 RUB');
    assert.equal(await text('acs-card'), '401200******6013');
    shots.push(await screenshot(profile.page, '3ds-challenge'));

    // The challenge runs in a cross-site iframe, which Chromium puts in a process of its own
    // (site isolation): the passkey moves to a virtual authenticator on the frame's target.
    const frameAuth = await addAuthenticator(profile.context, frame).catch(() => null);
    if (frameAuth) await profile.auth.moveCredentialsTo(frameAuth);
    const seen = merchant.notified.length;
    await frame.click('#acs-confirm');
    const form = await notified(seen);
    const cres = b64urlJson(form.cres);
    assert.equal(cres.messageType, 'CRes');
    assert.equal(cres.transStatus, 'Y', profile.log.describe());
    assert.equal(cres.challengeCompletionInd, 'Y');
    assert.equal(cres.acsTransID, ares.acsTransID);
    assert.equal(form.threeDSSessionData, SESSION_DATA, 'threeDSSessionData comes back unchanged');
    await profile.page.frameLocator('iframe[name="challenge"]').locator('#done').waitFor();
    shots.push(await screenshot(profile.page, '3ds-done'));

    assert.equal(ds.rreqs.length, 1, 'one RReq, before the final CRes');
    const { body: rreq, clientCert } = ds.rreqs.at(-1);
    assert.ok(clientCert.equals(ds.acsClientDer), 'the RReq came with the ACS client certificate');
    assert.equal(rreq.messageType, 'RReq');
    assert.equal(rreq.transStatus, 'Y');
    assert.equal(rreq.eci, '05');
    assert.match(rreq.authenticationValue, /^[A-Za-z0-9+/]{27}=$/);
    assert.equal(rreq.interactionCounter, '01');
    assert.equal(rreq.dsTransID, ares.dsTransID);
  });

  it('a second purchase is cancelled in the iframe: CRes N, RReq N with challengeCancel 01', TEST, async () => {
    const ares = await areq();
    const frame = await checkout(ares);
    const seen = merchant.notified.length;
    await frame.click('#acs-cancel');
    const form = await notified(seen);
    assert.equal(b64urlJson(form.cres).transStatus, 'N');
    const rreq = ds.rreqs.at(-1).body;
    assert.equal(rreq.acsTransID, ares.acsTransID);
    assert.equal(rreq.transStatus, 'N');
    assert.equal(rreq.challengeCancel, '01');
    assert.equal(rreq.eci, undefined);
  });

  it('bob has no passkey: the code from the webhook confirms in the iframe, after a wrong one and a resend', TEST, async () => {
    /** The next code notification, with its signature checked. */
    async function nextCode(seen) {
      const deadline = Date.now() + STEP_TIMEOUT;
      while (webhook.codes.length <= seen) {
        if (Date.now() > deadline) throw new Error('no code at the webhook');
        await new Promise((r) => setTimeout(r, 50));
      }
      const { signature, raw, body } = webhook.codes[seen];
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature ?? '') ?? [];
      const expected = crypto.createHmac('sha256', WEBHOOK_SECRET).update(`${t}.${raw}`).digest('hex');
      assert.equal(v1, expected, 'the notification is signed');
      assert.equal(body.event, 'threeds.challenge_code');
      return body;
    }
    const ares = await areq(BOB_PAN);
    let codes = webhook.codes.length;
    const frame = await checkout(ares);
    assert.equal(await frame.locator('#acs-confirm').count(), 0, 'no passkey button');
    const first = await nextCode(codes++);
    assert.equal(first.acs_trans_id, ares.acsTransID);
    assert.equal(first.amount, '1,500.00 RUB');
    assert.equal(first.card, '401200******6021');
    shots.push(await screenshot(profile.page, '3ds-code'));

    await frame.fill('#acs-code', first.code === '000000' ? '111111' : '000000');
    await frame.click('#acs-code-submit');
    await frame.waitForSelector('#acs-error:not([hidden])');
    assert.equal((await frame.textContent('#acs-error')).trim(), 'The code is not right. Attempts left: 2.');
    await frame.click('#acs-resend');
    const second = await nextCode(codes++);
    await frame.waitForFunction(() => document.getElementById('acs-error').textContent.includes('new code'));

    const seen = merchant.notified.length;
    await frame.fill('#acs-code', second.code);
    await frame.click('#acs-code-submit');
    const form = await notified(seen);
    assert.equal(b64urlJson(form.cres).transStatus, 'Y', profile.log.describe());
    const rreq = ds.rreqs.at(-1).body;
    assert.equal(rreq.acsTransID, ares.acsTransID);
    assert.equal(rreq.transStatus, 'Y');
    assert.equal(rreq.eci, '05');
  });

  it('no page had a CSP violation or an uncaught script error', TEST, async () => {
    const bad = profile.log.console.filter((m) => /Content Security Policy|Refused to|Uncaught/i.test(m));
    assert.deepEqual(bad, [], profile.log.describe());
    assert.deepEqual(profile.log.errors, [], profile.log.describe());
  });
});
