// OpenID CIBA with panva/openid-client 6, unmodified, against a real `shonin --dev serve` over
// TLS, and the user's approval page in real Chromium (Debian's chromium, playwright-core) with a
// CDP virtual authenticator. The client starts a backchannel request (private_key_jwt) and polls
// with DPoP through the library's own `pollBackchannelAuthenticationGrant`; alice opens the
// approval page the request names, signs in there with her passkey, checks the binding message
// and approves: the library then gets DPoP-bound tokens and an ID token. A second request is
// opened in Japanese and denied: the library's poll ends with `access_denied`.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
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
import { decodeJwt, jwkThumbprint } from '../lib/keys.mjs';
import { startServer } from '../lib/server.mjs';

const skip = await skipUnlessBrowser();
if (skip) process.stderr.write(`# ciba-browser: SKIPPED: ${skip}\n`);

const STEP_TIMEOUT = 15_000;
const TEST = { timeout: 120_000 };
const CIBA_CLIENT = 'ciba-app';
const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

it('Chromium and playwright-core are available (ciba)', { skip }, async () => {
  await requireBrowser();
});

describe('CIBA: openid-client polls while alice approves in Chromium with her passkey', { skip }, () => {
  let srv;
  let browser;
  let profile; // { context, page, auth, log }
  let config;
  let DPoP;
  let jkt;
  const shots = [];

  /** The approval page of a request: the SHA-256 of its auth_req_id, hex. */
  const approvalUrl = (authReqId) =>
    `${srv.issuer}/ciba/${crypto.createHash('sha256').update(authReqId).digest('hex')}`;

  function cibaPage() {
    return profile.page.evaluate(() => {
      const text = (id) => document.getElementById(id)?.textContent.trim() ?? null;
      return {
        path: location.pathname,
        binding: text('ciba-binding-message'),
        outcome: text('ciba-outcome'),
        approve: document.querySelector('#ciba-approve button')?.textContent.trim() ?? null,
        passkeySignIn: text('passkey-sign-in'),
        bold: document.querySelectorAll('main b').length,
      };
    });
  }

  /** Opens the page, signs in there with the passkey, and is back on the page. */
  async function openAndSignIn(authReqId) {
    const { page, auth } = profile;
    const url = approvalUrl(authReqId);
    await page.goto(url);
    let st = await cibaPage();
    assert.ok(st.passkeySignIn, `a passkey sign-in first: ${JSON.stringify(st)}`);
    await auth.presence(true);
    await Promise.all([page.waitForNavigation(), page.click('#passkey-sign-in')]);
    st = await cibaPage();
    assert.equal(st.path, new URL(url).pathname, profile.log.describe());
    return st;
  }

  before(async () => {
    await requireBrowser();
    srv = await startServer({
      name: 'ciba-browser',
      // A short interval, so the library's polling keeps the test quick.
      env: { SHONIN_OAUTH__CIBA_POLL_INTERVAL_SECS: '1' },
      setup: (run, { dir }) =>
        run([
          'clients', 'add',
          '--client-id', CIBA_CLIENT,
          '--name', 'Call <b>Centre</b>',
          '--jwks-file', path.join(dir, 'jwks.json'),
          '--scope', 'openid accounts',
          '--grant-type', CIBA_GRANT,
          '--backchannel-mode', 'poll',
        ]),
    });
    config = await client.discovery(
      new URL(srv.issuer),
      CIBA_CLIENT,
      {},
      client.PrivateKeyJwt({ key: srv.client.key, kid: srv.client.kid }),
      { [client.customFetch]: srv.fetch },
    );
    const keyPair = await client.randomDPoPKeyPair('ES256');
    DPoP = client.getDPoPHandle(config, keyPair);
    jkt = jwkThumbprint(await globalThis.crypto.subtle.exportKey('jwk', keyPair.publicKey));

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
    if (shots.length) process.stderr.write(`# ciba-browser: screenshots:\n#   ${shots.join('\n#   ')}\n`);
  });

  it('discovery advertises CIBA in poll and ping mode', async () => {
    const md = config.serverMetadata();
    assert.equal(md.backchannel_authentication_endpoint, `${srv.issuer}/bc-authorize`);
    assert.deepEqual(md.backchannel_token_delivery_modes_supported, ['poll', 'ping']);
    assert.equal(md.backchannel_user_code_parameter_supported, false);
    assert.ok(md.grant_types_supported.includes(CIBA_GRANT));
  });

  it('alice enrols a passkey on the account page', TEST, async () => {
    const { page, auth } = profile;
    await page.goto('/account');
    await page.fill('#username', srv.user.username);
    await page.fill('#password', srv.user.password);
    await Promise.all([page.waitForNavigation(), page.click('form:has(#password) button[type="submit"]')]);
    await page.fill('#passkey-name', 'Phone');
    await auth.presence(true);
    await Promise.all([page.waitForNavigation(), page.click('#passkey-enrol')]);
    assert.equal(await page.locator('li.passkey').count(), 1, profile.log.describe());
    await auth.presence(false);
  });

  it('approved on the page: the library gets DPoP-bound tokens', TEST, async () => {
    const started = await client.initiateBackchannelAuthentication(config, {
      scope: 'openid accounts',
      login_hint: srv.user.username,
      binding_message: 'K7 WQ2',
    });
    assert.equal(typeof started.auth_req_id, 'string');
    assert.equal(started.interval, 1);
    const polled = client.pollBackchannelAuthenticationGrant(config, started, undefined, { DPoP });

    const st = await openAndSignIn(started.auth_req_id);
    await assertLanguage(profile.page, 'en');
    assert.equal(st.binding, 'K7 WQ2');
    assert.equal(st.bold, 0, 'the client name is text, escaped');
    assert.equal(st.approve, 'Approve');
    shots.push(await screenshot(profile.page, 'ciba-en-approve'));
    await Promise.all([profile.page.waitForNavigation(), profile.page.click('#ciba-approve button')]);
    assert.ok((await cibaPage()).outcome, profile.log.describe());
    shots.push(await screenshot(profile.page, 'ciba-en-approved'));

    const tokens = await polled;
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    const at = decodeJwt(tokens.access_token).payload;
    assert.equal(at.cnf?.jkt, jkt, 'the access token is bound to the DPoP key');
    assert.equal(at.scope, 'openid accounts');
    const claims = tokens.claims();
    assert.equal(claims.aud, CIBA_CLIENT);
    assert.ok(claims.amr.some((m) => m === 'hwk' || m === 'swk'), JSON.stringify(claims));
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP });
    assert.equal(info.sub, claims.sub);
  });

  it('denied on the page in Japanese: the poll ends with access_denied', TEST, async () => {
    // The page wants a sign-in made after the request (to the second): let the last one age.
    await new Promise((r) => setTimeout(r, 1100));
    const started = await client.initiateBackchannelAuthentication(config, {
      scope: 'openid',
      login_hint: srv.user.username,
      binding_message: '承認コード 42',
    });
    const polled = client.pollBackchannelAuthenticationGrant(config, started, undefined, { DPoP });
    const { page } = profile;
    await openAndSignIn(started.auth_req_id);
    try {
      await Promise.all([page.waitForNavigation(), page.click('form[action="/language"] button[value="ja"]')]);
      await assertLanguage(page, 'ja');
      const st = await cibaPage();
      assert.equal(st.binding, '承認コード 42');
      shots.push(await screenshot(page, 'ciba-ja-approve'));
      await Promise.all([page.waitForNavigation(), page.click('#ciba-deny button')]);
      assert.ok((await cibaPage()).outcome, profile.log.describe());
      shots.push(await screenshot(page, 'ciba-ja-denied'));
    } finally {
      await page.click('form[action="/language"] button[value="en"]').catch(() => {});
    }
    await assert.rejects(polled, (e) => {
      assert.equal(e.error ?? e.cause?.error, 'access_denied', String(e));
      return true;
    });
  });
});
