// Passkeys in real Chromium (Debian's chromium, driven by playwright-core) with a CDP virtual
// authenticator, against a real `shonin --dev serve` over TLS: the pages' own script
// (/static/passkey.js) runs the WebAuthn ceremonies, nothing is posted on its behalf.
//
// One server and one Chromium for the file; the steps run in order on one user (alice), in
// "profiles" (Playwright browser contexts). The main profile holds the passkey; a test that
// uses another profile (another language, a phone, a FAPI client's user) moves the credential to
// that profile's authenticator and back, so the signature counter only goes up.
//
// The sign-in page starts a conditional (autofill) WebAuthn request as soon as it loads. With
// automatic presence simulation on and a discoverable credential present, Chromium's virtual
// authenticator answers that request by itself, and the page signs in before anyone clicks
// (test 3 relies on that: headless Chromium has no autofill popup to pick from). So every step
// that wants to stay on the sign-in page switches presence simulation off before it gets there:
// the conditional request then reaches the authenticator and waits there for good, like a user
// who ignores the autofill list (switching presence on later does not wake it). Before a passkey
// button is clicked, `conditionalSettled` waits until that request has been sent; then presence
// goes on, and the click aborts it (passkey.js does) and starts the button's own request.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import {
  addAuthenticator,
  assertLanguage,
  assertNoHorizontalScroll,
  japaneseFontNote,
  launchChromium,
  requireBrowser,
  screenshot,
  serverSpkiPin,
  skipUnlessBrowser,
  watchPage,
} from '../lib/chromium.mjs';
import { codeGrant, pushAuthorization, setup } from '../lib/oauth4.mjs';
import { startServer } from '../lib/server.mjs';

const skip = await skipUnlessBrowser();
if (skip) process.stderr.write(`# passkeys-browser: SKIPPED: ${skip}\n`);

const STEP_TIMEOUT = 15_000;
// How long after the sign-in page's options arrive its conditional request is taken to have
// reached the virtual authenticator. passkey.js calls navigator.credentials.get right after the
// options arrive; the rest is inside Chromium. Without this wait the request sometimes arrived
// after presence was switched on and signed in by itself (2 runs in 6); with it, none in about
// 30 runs, 20 of them four at a time on 2 cores (load average 14-15).
const CONDITIONAL_SETTLE_MS = 400;
const TEST = { timeout: 120_000 };

const sameId = (a, b) => Buffer.from(a, 'base64').equals(Buffer.from(b, 'base64'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Its own test, so that a CI run without Chromium counts a failure (the suite's tests are then
// cancelled by its `before`).
it('Chromium and playwright-core are available', { skip }, async () => {
  await requireBrowser();
});

describe('passkeys in real Chromium with a virtual authenticator', { skip }, () => {
  let srv;
  let browser;
  let main; // the main profile: { context, page, auth, log }
  const shots = [];
  const logs = []; // every profile's page log
  const s = {};

  const need = (...keys) => {
    for (const k of keys) assert.ok(s[k] !== undefined, `an earlier step did not produce ${k}`);
  };

  /** A new browser context with a page, a virtual authenticator and a watch on the page. */
  async function openProfile(options = {}) {
    const { presence = true, backupEligible = false, ...contextOptions } = options;
    const context = await browser.newContext({
      baseURL: srv.issuer,
      locale: 'en-US',
      ignoreHTTPSErrors: false, // TLS is checked; only the server's key is pinned (lib/chromium.mjs)
      ...contextOptions,
    });
    context.setDefaultTimeout(STEP_TIMEOUT);
    const page = await context.newPage();
    const log = watchPage(page);
    logs.push(log);
    const auth = await addAuthenticator(context, page, { presence, backupEligible });
    return { context, page, auth, log };
  }

  /** Runs `p` with the main profile's passkey moved into it, and moves it back afterwards. */
  async function withPasskeyIn(p, fn) {
    const moved = await main.auth.moveCredentialsTo(p.auth);
    let failed = false;
    try {
      return await fn(moved);
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      // The later steps need the passkey back; a failure here matters unless one came first.
      await p.auth.moveCredentialsTo(main.auth).catch((e) => {
        if (!failed) throw e;
      });
      await p.context.close().catch(() => {});
    }
  }

  async function shot(p, name) {
    shots.push(await screenshot(p.page, name));
  }

  /** GET a path of the server; expects 200 (or, with `'4xx'`, an error page) and returns the page's state. */
  async function open(p, path, status = 200) {
    const res = await p.page.goto(path);
    const got = res?.status();
    if (status === '4xx') assert.ok(got >= 400 && got < 500, `GET ${path}: expected a 4xx page, got ${got}\n${p.log.describe()}`);
    else assert.equal(got, status, `GET ${path}\n${p.log.describe()}`);
    return pageState(p);
  }

  /** What the page shows, read from the DOM. */
  function pageState(p) {
    return p.page.evaluate(() => {
      const text = (el) => (el ? el.textContent.trim() : null);
      const visible = (el) => (el && !el.hidden ? text(el) : null);
      const box = document.getElementById('passkey');
      return {
        path: location.pathname,
        lang: document.documentElement.lang,
        h1: text(document.querySelector('main h1')),
        signedIn: !!document.querySelector('form[action="/account/sign-out"]'),
        signedInAs: text(document.querySelector('main .lead strong')),
        passkeyBox: box?.dataset.passkey ?? null,
        passkeyButton: text(document.getElementById('passkey-sign-in')),
        passkeyError: visible(document.getElementById('passkey-error')),
        enrol: !!document.getElementById('passkey-enrol'),
        confirm: !!document.querySelector('section#passkey.confirm'),
        reauthPassword: !!document.querySelector('form[action="/account/reauthenticate"]'),
        passwordForm: document.querySelector('form input#password')?.closest('form')?.getAttribute('action') ?? null,
        usernameAutocomplete: document.getElementById('username')?.getAttribute('autocomplete') ?? null,
        notice: text(document.querySelector('main .notice')),
        errors: [...document.querySelectorAll('main .error')].filter((e) => !e.hidden).map(text),
        passkeyOnly: document.querySelector('form[action="/account/passkey-only"] button[name="on"]')?.value ?? null,
        passkeys: [...document.querySelectorAll('li.passkey')].map((li) => {
          const dd = [...li.querySelectorAll('dd')].map(text);
          return {
            name: text(li.querySelector('.passkey-name')),
            provider: dd[0],
            kind: dd[1],
            created: dd[2],
            lastUsed: dd[3],
            id: li.querySelector('input[name="credential_id"]')?.value ?? null,
            renamable: !!li.querySelector('form[action="/account/passkeys/rename"]'),
            removable: !!li.querySelector('form[action="/account/passkeys/remove"] button.danger'),
          };
        }),
        consent: [...document.querySelectorAll('form[action="/authorize/consent"] button[name="decision"]')].map((b) => b.value),
        mainText: document.querySelector('main')?.innerText ?? '',
      };
    });
  }

  /**
   * Does `act` (a click, a key) and waits for the next document in the main frame to load.
   * Fails early, with the page's console and the passkey API's answers, when the page shows a
   * passkey error instead.
   */
  async function expectNewPage(p, what, act) {
    const n0 = p.log.navigations.length;
    await act();
    const deadline = Date.now() + STEP_TIMEOUT;
    while (p.log.navigations.length <= n0) {
      const shown = await p.page
        .evaluate(() => {
          const e = document.getElementById('passkey-error');
          return e && !e.hidden ? e.textContent : null;
        })
        .catch(() => null);
      assert.equal(shown, null, `${what}: the page shows the passkey error "${shown}"\n${p.log.describe()}`);
      assert.ok(Date.now() < deadline, `${what}: no new page within ${STEP_TIMEOUT} ms\n${p.log.describe()}`);
      await sleep(50);
    }
    await p.page.waitForLoadState('load');
    return pageState(p);
  }

  /** The password form of a sign-in page (presence off first, so autofill does not sign in). */
  async function passwordSignIn(p, password = srv.user.password) {
    await p.auth.presence(false);
    await p.page.fill('#username', srv.user.username);
    await p.page.fill('#password', password);
    return expectNewPage(p, 'password sign-in', () => p.page.click('form:has(#password) button[type="submit"]'));
  }

  /**
   * On a sign-in page with #username (presence off), waits until the page's conditional request
   * has gone to the authenticator: its options have arrived, plus a moment for Chromium to pass
   * the request on. A request that reaches the authenticator with presence off waits there for
   * good, even once presence is switched on; one that arrives after the switch would answer at
   * once and sign in before the click. Returns whether the page has a conditional request.
   */
  async function conditionalSettled(p) {
    if (!(await p.page.locator('#username').count())) return false;
    const doc = p.log.navigations.length;
    const deadline = Date.now() + STEP_TIMEOUT;
    while (!p.log.api.some((a) => a.doc === doc && a.path === '/passkeys/sign-in/options')) {
      assert.ok(Date.now() < deadline, `the sign-in page did not start its conditional request\n${p.log.describe()}`);
      await sleep(25);
    }
    await sleep(CONDITIONAL_SETTLE_MS);
    return true;
  }

  /**
   * Clicks a passkey button (#passkey-sign-in or #passkey-enrol) with presence on. For a sign-in,
   * checks that the button's own ceremony signed in (not the page's conditional request).
   */
  async function passkeyButton(p, id = 'passkey-sign-in', what = id, { key } = {}) {
    const signIn = id === 'passkey-sign-in';
    const conditional = signIn && (await conditionalSettled(p));
    const doc = p.log.navigations.length;
    await p.auth.presence(true);
    // With `key`, the button must already have the focus and the key presses it.
    const st = await expectNewPage(p, what, () => (key ? p.page.keyboard.press(key) : p.page.click(`#${id}`)));
    if (signIn) {
      const calls = p.log.api.filter((a) => a.doc === doc).map((a) => `${a.path} ${a.status}`);
      const options = calls.filter((c) => c.startsWith('/passkeys/sign-in/options ')).length;
      assert.equal(options, conditional ? 2 : 1, `${what}: options for ${conditional ? 'the conditional request and ' : ''}the button: ${calls.join(', ')}`);
      assert.ok(calls.includes('/passkeys/sign-in 200'), `${what}: ${calls.join(', ')}`);
    }
    return st;
  }

  /** Signs out; the sign-in page follows, its conditional request left waiting. */
  async function signOut(p) {
    await p.auth.presence(false);
    const st = await expectNewPage(p, 'sign-out', () => p.page.click('form[action="/account/sign-out"] button'));
    assert.equal(st.signedIn, false, `signed out: ${JSON.stringify(st)}`);
    assert.equal(st.passkeyBox, 'sign-in');
    return st;
  }

  /** PAR for the main client, the consent page's redirect to redirect_uri captured. */
  async function startAuthorization(p, extra = {}) {
    s.oauth ??= await setup(srv);
    const pushed = await pushAuthorization(srv, s.oauth, extra);
    const redirects = [];
    // The redirect URI is https://localhost:<port>/cb on the server itself (which serves no such
    // page: a 404 there is fine). The browser's request for it is what a client would receive.
    // page.route cannot catch it: Playwright routes only the first request of a redirect chain,
    // and this one is the 303 answer to the consent POST.
    p.onRedirect && p.page.off('request', p.onRedirect);
    p.onRedirect = (req) => {
      if (req.url().startsWith(`${srv.client.redirectUri}?`)) redirects.push(req.url());
    };
    p.page.on('request', p.onRedirect);
    return { ...pushed, redirects };
  }

  /** Approves on the consent page, returns the validated callback parameters. */
  async function approve(p, pushed) {
    await expectNewPage(p, 'consent: approve', () => p.page.click('form[action="/authorize/consent"] button[value="approve"]'));
    assert.equal(pushed.redirects.length, 1, `one redirect to ${srv.client.redirectUri}\n${p.log.describe()}`);
    const callback = new URL(pushed.redirects[0]);
    assert.equal(callback.searchParams.get('iss'), srv.issuer);
    assert.equal(callback.searchParams.get('state'), pushed.state);
    return oauth.validateAuthResponse(s.oauth.as, s.oauth.client, callback, pushed.state);
  }

  before(async () => {
    await requireBrowser(); // in CI (not skipped) a missing Chromium fails here
    srv = await startServer({ name: 'passkeys-browser' });
    browser = await launchChromium({ spkiPins: [serverSpkiPin(srv)] });
    main = await openProfile();
    const fontNote = japaneseFontNote();
    if (fontNote) process.stderr.write(`# passkeys-browser: note: ${fontNote}\n`);
  });

  after(async () => {
    await browser?.close();
    await srv?.stop();
    if (shots.length) process.stderr.write(`# passkeys-browser: screenshots:\n#   ${shots.join('\n#   ')}\n`);
  });

  it('TLS: a Chromium without the SPKI pin refuses the dev server certificate', TEST, async () => {
    const plain = await launchChromium();
    try {
      const page = await plain.newPage();
      await assert.rejects(page.goto(`${srv.issuer}/account`), /ERR_CERT_AUTHORITY_INVALID|ERR_CERT/);
    } finally {
      await plain.close();
    }
  });

  it('1. enrol: password sign-in on /account, add a passkey, one resident credential', TEST, async () => {
    const p = main;
    await p.auth.presence(false);
    let st = await open(p, '/account');
    assert.equal(st.signedIn, false);
    assert.equal(st.passkeyBox, 'sign-in');
    assert.equal(st.passkeyButton, 'Sign in with a passkey');
    assert.equal(st.passwordForm, '/account/sign-in');
    assert.equal(st.usernameAutocomplete, 'username webauthn', '#username offers passkeys in autofill');
    await assertLanguage(p.page, 'en');
    await shot(p, 'en-sign-in');

    st = await passwordSignIn(p);
    assert.equal(st.path, '/account');
    assert.equal(st.signedIn, true, `signed in after the password: ${JSON.stringify(st)}`);
    assert.equal(st.signedInAs, srv.user.username);
    assert.deepEqual(st.passkeys, []);
    assert.ok(st.enrol, 'a fresh sign-in of a user without passkeys may add one');
    assert.equal(st.passkeyOnly, null, '"Passkey only" needs a passkey first');
    await shot(p, 'en-account-no-passkeys');

    await p.page.fill('#passkey-name', 'Laptop');
    st = await passkeyButton(p, 'passkey-enrol', 'enrolment');
    assert.equal(st.notice, 'The passkey was added.', JSON.stringify(st));
    assert.equal(st.passkeys.length, 1, JSON.stringify(st.passkeys));
    const [pk] = st.passkeys;
    assert.equal(pk.name, 'Laptop');
    assert.equal(pk.kind, 'device-bound', 'the virtual authenticator is not backup eligible');
    assert.ok(pk.provider, 'a provider is shown');
    assert.ok(pk.created, 'a creation time is shown');
    assert.ok(pk.renamable);
    // The session is a password sign-in and the user now has a passkey: adding or removing a
    // method needs a passkey sign-in first.
    assert.equal(pk.removable, false, 'no remove button after a password sign-in once a passkey exists');
    assert.equal(st.enrol, false);
    assert.ok(st.confirm, '"Confirm it is you" instead');
    assert.equal(st.passkeyButton, 'Confirm with a passkey');
    assert.equal(st.passkeyOnly, 'true', '"Passkey only" can be turned on');
    await shot(p, 'en-account');

    const creds = await p.auth.credentials();
    assert.equal(creds.length, 1, 'one credential in the authenticator');
    assert.equal(creds[0].isResidentCredential, true, 'a discoverable (resident) credential');
    assert.equal(creds[0].rpId, 'localhost');
    assert.ok(creds[0].userHandle, 'with a user handle (needed for username-less sign-in)');
    assert.ok(sameId(creds[0].credentialId, pk.id), `the listed passkey is the authenticator's credential (${pk.id})`);
    s.credentialId = creds[0].credentialId;
  });

  it('2. username-less sign-in: sign out, "Sign in with a passkey"', TEST, async () => {
    need('credentialId');
    const p = main;
    let st = await signOut(p);
    assert.equal(await p.page.inputValue('#username'), '', 'no username given');
    const doc = p.log.navigations.length;
    st = await passkeyButton(p, 'passkey-sign-in', 'passkey sign-in');
    assert.equal(st.path, '/account');
    assert.equal(st.signedIn, true, JSON.stringify(st));
    assert.equal(st.signedInAs, srv.user.username);
    // Both requests of the sign-in page (conditional and button) are username-less. A body can be
    // unreadable when the page leaves before Playwright reads it; at least one must be there.
    const options = p.log.api
      .filter((a) => a.doc === doc && a.path === '/passkeys/sign-in/options' && a.body.startsWith('{'))
      .map((a) => JSON.parse(a.body).options?.publicKey);
    assert.ok(options.length >= 1, `the sign-in page's options\n${p.log.describe()}`);
    for (const publicKey of options) {
      assert.equal(publicKey.rpId, 'localhost');
      assert.equal(publicKey.userVerification, 'required');
      assert.ok(!publicKey.allowCredentials?.length, `username-less: no allowCredentials (${JSON.stringify(publicKey)})`);
    }
    assert.notEqual(st.passkeys[0].lastUsed, 'never', 'the passkey shows when it was last used');
    assert.equal(st.passkeys[0].removable, true, 'a fresh passkey sign-in may remove passkeys');
    assert.equal(st.enrol, true, 'and add one');

    await p.page.fill('li.passkey form[action="/account/passkeys/rename"] input[name="name"]', 'Work laptop');
    st = await expectNewPage(p, 'rename', () => p.page.click('li.passkey form[action="/account/passkeys/rename"] button'));
    assert.equal(st.notice, 'The passkey was renamed.', JSON.stringify(st));
    assert.deepEqual(st.passkeys.map((k) => k.name), ['Work laptop']);
  });

  it('3. sign-in through conditional UI (autofill on #username)', TEST, async (t) => {
    need('credentialId');
    const p = main;
    await signOut(p);
    // The page started a conditional request on load; with presence simulation off it waits.
    const api0 = p.log.api.length;
    await p.page.focus('#username');
    await p.page.keyboard.press('ArrowDown');
    await sleep(300);
    await p.page.keyboard.press('Enter'); // the fields are `required`: Enter submits nothing
    await sleep(700);
    let st = await pageState(p);
    let how;
    if (st.signedIn) {
      how = 'the autofill popup (ArrowDown + Enter on the focused #username)';
    } else {
      // Headless Chromium 156 shows no autofill popup that keys could pick from; its virtual
      // authenticator answers a conditional request itself when presence simulation is on and
      // a discoverable credential for the RP exists, as a user choosing the passkey in the
      // autofill list would. Reload with presence on: no click, no key.
      await p.auth.presence(true);
      const n0 = p.log.navigations.length;
      // The page may sign in and leave before its own load event: reload() then reports the
      // interruption, which is the expected outcome here.
      await p.page.reload().catch((e) => {
        if (!/interrupted|ERR_ABORTED|destroyed/i.test(String(e))) throw e;
      });
      const deadline = Date.now() + STEP_TIMEOUT;
      while (!(p.log.navigations.length >= n0 + 2 && (st = await pageState(p).catch(() => ({}))).signedIn)) {
        assert.ok(Date.now() < deadline, `conditional request: no sign-in within ${STEP_TIMEOUT} ms\n${p.log.describe()}`);
        await sleep(100);
      }
      how = "the virtual authenticator's automatic answer to the conditional request (no autofill popup headless)";
    }
    t.diagnostic(`conditional UI resolved through ${how}`);
    assert.equal(st.signedIn, true);
    assert.equal(st.signedInAs, srv.user.username);
    const calls = p.log.api.slice(api0).map((a) => `${a.path} ${a.status}`);
    assert.ok(calls.includes('/passkeys/sign-in/options 200'), calls.join(', '));
    assert.ok(calls.includes('/passkeys/sign-in 200'), `the conditional request signed in: ${calls.join(', ')}\n${p.log.describe()}`);
  });

  it('4. FAPI 2.0: PAR → passkey sign-in in Chromium → consent → code → ID token acr=phrh, amr∋hwk', TEST, async () => {
    need('credentialId');
    const p = await openProfile({ presence: false });
    await withPasskeyIn(p, async (moved) => {
      assert.equal(moved, 1);
      for (const acrValues of [undefined, 'phrh']) {
        const label = acrValues ? `acr_values=${acrValues}` : 'no acr_values';
        const pushed = await startAuthorization(p, acrValues ? { acr_values: acrValues } : {});
        await p.auth.presence(false);
        let st = await open(p, pushed.authorizationUrl.href);
        assert.equal(st.signedIn, false);
        assert.equal(st.passkeyButton, 'Sign in with a passkey', label);
        assert.ok(st.mainText.includes(srv.client.name), `${label}: the client is named`);
        if (acrValues) {
          assert.equal(st.passwordForm, null, `${label}: no password form (a password cannot give phrh)`);
          assert.equal(await p.page.locator('#password, form[action="/authorize/sign-in"]').count(), 0);
          await shot(p, 'en-authorize-sign-in-phrh');
        } else {
          assert.equal(st.passwordForm, '/authorize/sign-in', `${label}: the password form is offered`);
          await shot(p, 'en-authorize-sign-in');
        }
        st = await passkeyButton(p, 'passkey-sign-in', `${label}: passkey sign-in at /authorize`);
        assert.equal(st.path, '/authorize', `${label}: back to /authorize`);
        assert.deepEqual(st.consent, ['approve', 'deny'], `${label}: the consent page\n${JSON.stringify(st)}`);
        await assertLanguage(p.page, 'en');
        if (!acrValues) await shot(p, 'en-consent');
        const params = await approve(p, pushed);
        const { result } = await codeGrant(srv, s.oauth, { params, verifier: pushed.verifier, nonce: pushed.nonce });
        const claims = oauth.getValidatedIdTokenClaims(result);
        assert.equal(claims.acr, 'phrh', `${label}: acr of a device-bound passkey`);
        assert.ok(Array.isArray(claims.amr) && claims.amr.includes('hwk'), `${label}: amr ${JSON.stringify(claims.amr)} includes hwk`);
        assert.ok(!claims.amr.includes('pwd'), `${label}: no pwd in amr`);
        // Sign out again, so the next round meets the sign-in page.
        await p.auth.presence(false);
        await open(p, '/account');
        await signOut(p);
      }
    });
  });

  it('5. remove a passkey after re-authentication with a passkey', TEST, async () => {
    need('credentialId');
    const p = main;
    await p.auth.presence(false);
    let st = await open(p, '/account');
    if (st.signedIn) st = await signOut(p);
    st = await passwordSignIn(p);
    assert.equal(st.signedIn, true);
    assert.equal(st.passkeys.length, 1);
    assert.equal(st.passkeys[0].removable, false, 'a password sign-in cannot remove a passkey');
    assert.ok(st.confirm, '"Confirm it is you"');
    assert.equal(st.reauthPassword, false, 'a user with a passkey confirms with the passkey, not the password');
    await shot(p, 'en-account-confirm');

    st = await passkeyButton(p, 'passkey-sign-in', 're-authentication with the passkey');
    assert.equal(st.signedIn, true);
    assert.equal(st.passkeys[0].removable, true, `remove offered after a fresh passkey sign-in: ${JSON.stringify(st)}`);

    st = await expectNewPage(p, 'remove', () => p.page.click('li.passkey form[action="/account/passkeys/remove"] button.danger'));
    assert.equal(st.notice, 'The passkey was removed.', JSON.stringify(st));
    assert.deepEqual(st.passkeys, []);

    // The authenticator still has it; the server must not accept it any more.
    await signOut(p);
    await p.auth.presence(true);
    await p.page.click('#passkey-sign-in');
    await p.page.waitForSelector('#passkey-error:not([hidden])');
    st = await pageState(p);
    assert.equal(st.signedIn, false, 'a removed passkey does not sign in');
    assert.ok(st.passkeyError, 'the page says the passkey sign-in failed');
    const refused = p.log.api.filter((a) => a.path === '/passkeys/sign-in').at(-1);
    assert.ok(refused && refused.status >= 400 && refused.status < 500, `the server refused it: ${JSON.stringify(refused)}`);
    // The user deletes it from the device as well.
    await p.auth.clear();
    delete s.credentialId;
  });

  it('6. "Passkey only" on: the password no longer signs in', TEST, async () => {
    const p = main;
    await p.auth.presence(false);
    let st = await open(p, '/account');
    assert.equal(st.signedIn, false);
    st = await passwordSignIn(p);
    assert.equal(st.signedIn, true);
    assert.ok(st.enrol, 'no passkeys left: a fresh password sign-in may add one');
    await p.page.fill('#passkey-name', 'Laptop 2');
    st = await passkeyButton(p, 'passkey-enrol', 'enrolment');
    assert.equal(st.notice, 'The passkey was added.');
    assert.deepEqual(st.passkeys.map((k) => k.name), ['Laptop 2']);
    const creds = await p.auth.credentials();
    assert.equal(creds.length, 1);
    s.credentialId = creds[0].credentialId;

    // A fresh passkey sign-in, then turn it on.
    await signOut(p);
    st = await passkeyButton(p, 'passkey-sign-in', 'passkey sign-in');
    assert.equal(st.signedIn, true);
    assert.equal(st.passkeyOnly, 'true');
    st = await expectNewPage(p, 'passkey only: turn on', () =>
      p.page.click('form[action="/account/passkey-only"] button[name="on"][value="true"]'),
    );
    assert.equal(st.notice, 'Your sign-in policy was changed.', JSON.stringify(st));
    assert.equal(st.passkeyOnly, 'false', 'now "Turn off"');
    assert.ok(st.mainText.includes('Your password no longer works'), st.mainText);

    await signOut(p);
    st = await passwordSignIn(p);
    assert.equal(st.signedIn, false, 'the password does not sign in any more');
    assert.ok(st.errors.includes('Invalid username or password.'), `errors: ${JSON.stringify(st.errors)}`);
    await shot(p, 'en-sign-in-password-refused');

    st = await passkeyButton(p, 'passkey-sign-in', 'passkey sign-in after passkey-only');
    assert.equal(st.signedIn, true, 'the passkey still signs in');
  });

  it('7a. Japanese (Accept-Language ja-JP): sign-in by keyboard, account, consent, error; the switcher', TEST, async () => {
    need('credentialId');
    const p = await openProfile({ locale: 'ja-JP', presence: false });
    await withPasskeyIn(p, async () => {
      let st = await open(p, '/account');
      assert.equal(st.signedIn, false);
      assert.equal(st.passkeyButton, 'パスキーでサインイン');
      await assertLanguage(p.page, 'ja');
      await shot(p, 'ja-sign-in');

      // Keyboard only: Tab until the passkey button has the focus, then Enter.
      let tabs = 0;
      while ((await p.page.evaluate(() => document.activeElement?.id)) !== 'passkey-sign-in') {
        assert.ok(++tabs <= 15, 'the passkey button is reachable with Tab');
        await p.page.keyboard.press('Tab');
      }
      assert.ok(tabs <= 3, `the passkey button is among the first Tab stops (took ${tabs})`);
      st = await passkeyButton(p, 'passkey-sign-in', 'keyboard passkey sign-in', { key: 'Enter' });
      assert.equal(st.signedIn, true, JSON.stringify(st));
      assert.equal(st.h1, 'アカウント');
      assert.ok(st.mainText.includes('パスキーを追加'), 'the enrol button in Japanese');
      await assertLanguage(p.page, 'ja');
      await shot(p, 'ja-account');

      const pushed = await startAuthorization(p);
      await p.auth.presence(false);
      st = await open(p, pushed.authorizationUrl.href);
      if (!st.consent.length) st = await passkeyButton(p, 'passkey-sign-in', 'passkey sign-in at /authorize');
      assert.deepEqual(st.consent, ['approve', 'deny']);
      await assertLanguage(p.page, 'ja');
      await shot(p, 'ja-consent');

      st = await open(p, '/authorize', '4xx');
      await assertLanguage(p.page, 'ja');
      await shot(p, 'ja-error');

      // The switcher: English, kept by cookie despite Accept-Language ja.
      await p.auth.presence(false);
      st = await open(p, '/account');
      st = await expectNewPage(p, 'language: English', () => p.page.click('form[action="/language"] button[value="en"]'));
      assert.equal(st.path, '/account', 'the switcher returns to the same page');
      await assertLanguage(p.page, 'en');
      assert.equal(st.h1, 'Your account');
      st = await open(p, '/authorize', '4xx');
      await assertLanguage(p.page, 'en');
      await shot(p, 'en-error');
      st = await open(p, '/account');
      st = await expectNewPage(p, 'language: 日本語', () => p.page.click('form[action="/language"] button[value="ja"]'));
      await assertLanguage(p.page, 'ja');
    });
  });

  it('7b. phone viewport 375×667: no horizontal scrolling on sign-in, account, consent, error', TEST, async () => {
    need('credentialId');
    const p = await openProfile({
      presence: false,
      viewport: { width: 375, height: 667 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await withPasskeyIn(p, async () => {
      for (const lang of ['en', 'ja']) {
        await p.auth.presence(false);
        let st = await open(p, '/account');
        if (st.lang !== lang) {
          st = await expectNewPage(p, `language: ${lang}`, () => p.page.click(`form[action="/language"] button[value="${lang}"]`));
        }
        if (st.signedIn) st = await signOut(p);
        await assertLanguage(p.page, lang);
        await assertNoHorizontalScroll(p.page);
        await shot(p, `phone-${lang}-sign-in`);

        st = await passkeyButton(p, 'passkey-sign-in', 'passkey sign-in');
        assert.equal(st.signedIn, true);
        await assertNoHorizontalScroll(p.page);
        await shot(p, `phone-${lang}-account`);

        const pushed = await startAuthorization(p);
        st = await open(p, pushed.authorizationUrl.href);
        assert.deepEqual(st.consent, ['approve', 'deny'], 'a fresh passkey session goes straight to consent');
        await assertNoHorizontalScroll(p.page);
        await shot(p, `phone-${lang}-consent`);

        await open(p, '/authorize', '4xx');
        await assertNoHorizontalScroll(p.page);
        await shot(p, `phone-${lang}-error`);
      }
    });
  });

  it('no uncaught script errors and no CSP violations on any page', () => {
    const errors = logs.flatMap((l) => l.errors);
    assert.deepEqual(errors, [], 'uncaught errors in the pages');
    const csp = logs.flatMap((l) => l.console.filter((c) => /Content Security Policy|Refused to/i.test(c)));
    assert.deepEqual(csp, [], 'CSP violations reported in the console');
  });
});
