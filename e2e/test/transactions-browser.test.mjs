// Transaction signing in real Chromium (Debian's chromium, playwright-core) with a CDP virtual
// authenticator, against a real `shonin --dev serve` over TLS. A bank's backend (oauth4webapi:
// client_credentials with private_key_jwt and DPoP, scope `transactions`) creates a payment for
// alice through `/transactions`; alice opens the approval page, sees the payee and the amount
// the server stored, and approves with her passkey through the page's own script
// (/static/approve.js). The backend then reads the approval, `shonin txn verify` checks the
// receipt offline, a changed byte makes it fail, and the final gate executes only the approved
// data. A second payment in yen is shown in Japanese and rejected on the page. A third, whose
// approvals are refused, shows the attempts left after each refusal and then that it is locked.
// A third-party client (oauth4webapi, PAR + DPoP) asks for a payment_initiation consent: alice
// signs the payment on the consent page with the same passkey, and the tokens carry the approval.

import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import {
  addAuthenticator,
  assertLanguage,
  launchChromium,
  requireBrowser,
  screenshot,
  serverSpkiPin,
  skipUnlessBrowser,
  watchPage,
} from '../lib/chromium.mjs';
import { PAYMENT } from '../lib/fixtures.mjs';
import { codeGrant, pushAuthorization, retryOnDpopNonce, setup } from '../lib/oauth4.mjs';
import { startServer } from '../lib/server.mjs';

const skip = await skipUnlessBrowser();
if (skip) process.stderr.write(`# transactions-browser: SKIPPED: ${skip}\n`);

const STEP_TIMEOUT = 15_000;
const TEST = { timeout: 120_000 };
const BANK = 'bank-app';

it('Chromium and playwright-core are available (transactions)', { skip }, async () => {
  await requireBrowser();
});

describe('transaction signing in real Chromium with a virtual authenticator', { skip }, () => {
  let srv;
  let browser;
  let profile; // { context, page, auth, log }
  let bank; // oauth4webapi objects of the bank's backend, and its access token
  let userId;
  const shots = [];
  const s = {};

  /** A call of the bank's backend to the transactions API, DPoP-bound. */
  async function api(method, p, body) {
    const url = new URL(p, srv.issuer);
    const headers = new Headers();
    if (body) headers.set('content-type', 'application/json');
    const res = await retryOnDpopNonce(() =>
      oauth.protectedResourceRequest(bank.token, method, url, headers, body ? JSON.stringify(body) : null, {
        ...bank.opts,
        DPoP: bank.DPoP,
      }),
    );
    return { status: res.status, body: await res.json() };
  }

  const payment = (amount) => ({
    user_id: userId,
    payee: { name: 'Acme <b>GmbH</b>', account: { iban: 'DE89 3704 0044 0532 0130 00' } },
    amount,
    reference: 'Invoice 42',
  });

  async function shot(name) {
    shots.push(await screenshot(profile.page, `txn-${name}`));
  }

  /** What the approval page shows, read from the DOM. */
  function approvalPage() {
    return profile.page.evaluate(() => {
      const text = (id) => document.getElementById(id)?.textContent.trim() ?? null;
      return {
        path: location.pathname,
        lang: document.documentElement.lang,
        payee: text('txn-payee'),
        account: text('txn-account'),
        amount: text('txn-amount'),
        reference: text('txn-reference'),
        outcome: text('txn-outcome'),
        button: text('approve-passkey'),
        error: document.getElementById('approve-error')?.hidden === false ? text('approve-error') : null,
        bold: document.querySelectorAll('main b').length,
      };
    });
  }

  before(async () => {
    await requireBrowser();
    srv = await startServer({
      name: 'transactions-browser',
      // The bank's own backend: client_credentials only, scope `transactions`, the same key.
      setup: (run, { dir }) =>
        run([
          'clients', 'add',
          '--client-id', BANK,
          '--name', 'Example Bank',
          '--redirect-uri', `${new URL('/cb', 'https://localhost').href}`,
          '--jwks-file', path.join(dir, 'jwks.json'),
          '--scope', 'transactions',
          '--grant-type', 'client_credentials',
        ]),
    });
    const users = (await srv.run(['users', 'list'])).stdout;
    userId = users.split('\n').find((l) => l.startsWith(`${srv.user.username} `))?.split(/\s+/)[1];
    assert.match(userId ?? '', /^[0-9a-f-]{36}$/, users);

    bank = await setup(srv, { id: BANK, key: srv.client.key, kid: srv.client.kid });
    const tokens = await retryOnDpopNonce(async () =>
      oauth.processClientCredentialsResponse(
        bank.as,
        bank.client,
        await oauth.clientCredentialsGrantRequest(bank.as, bank.client, bank.clientAuth, new URLSearchParams({ scope: 'transactions' }), {
          ...bank.opts,
          DPoP: bank.DPoP,
        }),
      ),
    );
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    bank.token = tokens.access_token;

    browser = await launchChromium({ spkiPins: [serverSpkiPin(srv)] });
    const context = await browser.newContext({ baseURL: srv.issuer, locale: 'en-US' });
    context.setDefaultTimeout(STEP_TIMEOUT);
    const page = await context.newPage();
    const log = watchPage(page);
    const auth = await addAuthenticator(context, page, { presence: false });
    profile = { context, page, auth, log };
  });

  after(async () => {
    await browser?.close();
    await srv?.stop();
    if (shots.length) process.stderr.write(`# transactions-browser: screenshots:\n#   ${shots.join('\n#   ')}\n`);
  });

  it('alice signs in with her password and enrols a passkey on the account page', TEST, async () => {
    const { page, auth } = profile;
    await page.goto('/account');
    await page.fill('#username', srv.user.username);
    await page.fill('#password', srv.user.password);
    await Promise.all([page.waitForNavigation(), page.click('form:has(#password) button[type="submit"]')]);
    assert.ok(await page.locator('form[action="/account/sign-out"]').count(), 'signed in');
    await page.fill('#passkey-name', 'Laptop');
    await auth.presence(true);
    await Promise.all([page.waitForNavigation(), page.click('#passkey-enrol')]);
    assert.equal(await page.locator('li.passkey').count(), 1, profile.log.describe());
  });

  it('a FAPI payment consent is signed with the passkey, and the tokens carry the approval', TEST, async () => {
    const { page } = profile;
    const ctx = await setup(srv);
    const pushed = await pushAuthorization(srv, ctx, { authorization_details: JSON.stringify([PAYMENT]) });
    const res = await page.goto(pushed.authorizationUrl.href);
    assert.equal(res.status(), 200);
    const st = await approvalPage();
    assert.equal(st.payee, PAYMENT.creditorName, 'the payee is shown as text, escaped');
    assert.equal(st.amount, '€12.34');
    assert.equal(st.reference, PAYMENT.remittanceInformation);
    assert.equal(st.button, 'Approve with passkey');
    assert.equal(await page.locator('button[value="approve"]').count(), 0, 'no approve button for a payment');
    await shot('en-consent-payment');
    // Wait until the callback has loaded, not only been requested: a navigation still under way
    // would interrupt the next step's page.goto.
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(`${srv.client.redirectUri}?`)),
      page.click('#approve-passkey'),
    ]);
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('iss'), srv.issuer, profile.log.describe());
    const params = oauth.validateAuthResponse(ctx.as, ctx.client, url, pushed.state);
    const { result } = await codeGrant(srv, ctx, { params, verifier: pushed.verifier, nonce: pushed.nonce });
    const granted = result.authorization_details?.[0];
    assert.equal(granted?.creditorName, PAYMENT.creditorName);
    assert.deepEqual(granted?.instructedAmount, PAYMENT.instructedAmount);
    assert.match(granted?.approval?.transaction_id ?? '', /^[0-9a-f]{32}$/, JSON.stringify(granted));
    assert.match(granted?.approval?.challenge ?? '', /^[A-Za-z0-9_-]{43}$/);
  });

  it('the bank creates a payment; alice sees exactly the stored data and approves it with her passkey', TEST, async () => {
    const created = await api('POST', '/transactions', payment({ value: '123.5', currency: 'EUR' }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.state, 'created');
    s.id = created.body.id;

    const { page } = profile;
    const res = await page.goto(`/approve/${s.id}`);
    assert.equal(res.status(), 200);
    await assertLanguage(page, 'en');
    let st = await approvalPage();
    assert.equal(st.payee, 'Acme <b>GmbH</b>', 'the payee is shown as text, escaped');
    assert.equal(st.bold, 0, 'no markup from the payee name');
    assert.equal(st.account, 'DE89 3704 0044 0532 0130 00');
    assert.equal(st.amount, '€123.50');
    assert.equal(st.reference, 'Invoice 42');
    assert.equal(st.button, 'Approve with passkey');
    await shot('en-approve');

    await Promise.all([page.waitForNavigation(), page.click('#approve-passkey')]);
    st = await approvalPage();
    assert.equal(st.outcome, 'This payment is approved.', `${JSON.stringify(st)}\n${profile.log.describe()}`);
    assert.equal(st.button, null);
    await shot('en-approved');

    const read = await api('GET', `/transactions/${s.id}`);
    assert.equal(read.body.state, 'approved');
    assert.ok(read.body.approval?.receipt, 'a receipt');
    s.receipt = read.body.approval.receipt;
  });

  it('the receipt verifies offline with `shonin txn verify`, and a changed byte does not', TEST, async () => {
    assert.ok(s.receipt, 'an earlier step approved a payment');
    const jwks = path.join(srv.dir, 'public-keys.json');
    await fsp.writeFile(jwks, (await srv.run(['keys', 'public'])).stdout);
    const file = path.join(srv.dir, 'receipt.json');
    await fsp.writeFile(file, JSON.stringify({ receipt: s.receipt }));
    const ok = await srv.run(['txn', 'verify', file, '--jwks', jwks]);
    assert.match(ok.stdout, /receipt holds/);
    assert.match(ok.stdout, /123\.50 EUR/);
    // One character of the payload changed: the server's signature no longer holds.
    const [h, p, sig] = s.receipt.split('.');
    const flipped = p.slice(0, 40) + (p[40] === 'A' ? 'B' : 'A') + p.slice(41);
    await fsp.writeFile(file, JSON.stringify({ receipt: `${h}.${flipped}.${sig}` }));
    await assert.rejects(srv.run(['txn', 'verify', file, '--jwks', jwks]), /does NOT hold/);
  });

  it('the final gate executes only the approved data', TEST, async () => {
    assert.ok(s.id, 'an earlier step approved a payment');
    const { user_id, ...terms } = payment({ value: '123.50', currency: 'EUR' });
    const swapped = { ...terms, payee: { ...terms.payee, name: 'Mallory Ltd' } };
    const refused = await api('POST', `/transactions/${s.id}/execute`, swapped);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error, 'transaction_mismatch');
    const done = await api('POST', `/transactions/${s.id}/execute`, terms);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.state, 'executed');
  });

  it('a payment in yen is shown in Japanese (the language switcher) and rejected on the page', TEST, async () => {
    const created = await api('POST', '/transactions', payment({ value: '12000', currency: 'JPY' }));
    assert.equal(created.status, 201);
    const id = created.body.id;
    const { page } = profile;
    await page.goto(`/approve/${id}`);
    assert.equal((await approvalPage()).amount, '¥12,000');
    try {
      // The switcher returns to this page.
      await Promise.all([page.waitForNavigation(), page.click('form[action="/language"] button[value="ja"]')]);
      assert.equal(new URL(page.url()).pathname, `/approve/${id}`);
      await assertLanguage(page, 'ja');
      let st = await approvalPage();
      assert.equal(st.amount, '12,000円');
      assert.equal(st.button, 'パスキーで承認する');
      await shot('ja-approve');
      await Promise.all([page.waitForNavigation(), page.click('form[action$="/reject"] button')]);
      st = await approvalPage();
      assert.equal(st.outcome, 'この支払いは拒否されました。');
    } finally {
      await page.goto(`/approve/${id}`);
      await page.click('form[action="/language"] button[value="en"]');
    }
    const read = await api('GET', `/transactions/${id}`);
    assert.equal(read.body.state, 'rejected');
  });

  it('after each refused approval the page says how many attempts are left, and then that the payment is locked', TEST, async () => {
    const created = await api('POST', '/transactions', payment({ value: '5', currency: 'EUR' }));
    assert.equal(created.status, 201);
    const id = created.body.id;
    const { page } = profile;
    // The passkey signs, but the signature is broken on the way to the server: every try is a
    // refused attempt, answered 403 `approval_refused` with `attempts_left`.
    const approveUrl = new URL(`/approve/${id}`, srv.issuer).href;
    await page.route(approveUrl, async (route) => {
      const request = route.request();
      if (request.method() !== 'POST') return route.continue();
      const body = JSON.parse(request.postData());
      body.assertion.response.signature = 'MEUCIQ';
      return route.continue({ postData: JSON.stringify(body) });
    });
    const errorSays = (text) =>
      page.waitForFunction((t) => {
        const line = document.getElementById('approve-error');
        return line && !line.hidden && line.textContent.trim() === t;
      }, text);
    try {
      await page.goto(`/approve/${id}`);
      for (const left of [4, 3, 2]) {
        await page.click('#approve-passkey');
        await errorSays(`The approval failed. Attempts left before this payment is locked: ${left}.`);
      }
      await page.click('#approve-passkey');
      await errorSays('The approval failed. One attempt is left: if it fails too, this payment is locked.');
      await shot('en-last-attempt');
      await page.click('#approve-passkey');
      await errorSays('Too many failed attempts: this payment is locked.');
      assert.equal(await page.locator('#approve-passkey').isVisible(), false, 'no further try');
      assert.equal(await page.locator('#approve-reject').isVisible(), false);
      await shot('en-locked');
    } finally {
      await page.unroute(approveUrl);
    }
    await page.reload();
    assert.equal((await approvalPage()).outcome, 'Too many failed attempts: this payment is locked.');
    const read = await api('GET', `/transactions/${id}`);
    assert.equal(read.body.state, 'locked');
  });
});
