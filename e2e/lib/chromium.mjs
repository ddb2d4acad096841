// Real Chromium for the browser tests: Debian's `chromium` (never a browser a tool downloads)
// driven by playwright-core, a CDP virtual authenticator per page, screenshots, and the page's
// console kept for failure messages.
//
// TLS: Chromium does NOT run with certificate checks off. The dev server's certificate is issued
// by Shonin's development CA, which Chromium does not know. Instead of
// `--ignore-certificate-errors` (every certificate, every host accepted) or Playwright's
// `ignoreHTTPSErrors` (the same, per context), Chromium gets
// `--ignore-certificate-errors-spki-list=<base64 SHA-256 of the server certificate's
// SubjectPublicKeyInfo>`: a certificate error is forgiven only for a chain that contains exactly
// that public key, i.e. only for the key in `<data>/tls/server.pem` of the server under test.
// Any other certificate still fails (one test checks that a Chromium without the pin refuses
// the server). Chromium then treats the connection as valid, which WebAuthn requires: it refuses
// to run on a page with a certificate error.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SCREENSHOT_DIR = path.join(E2E_DIR, 'artifacts', 'screenshots');

/** CI mode: a missing browser is a failure there, not a skip. */
export const IN_CI = /^(1|true|yes)$/i.test(process.env.CI ?? '');

/** The Chromium binary: CHROMIUM_PATH, CHROME_BIN (scripts/test exports both), else Debian's. */
export function chromiumPath() {
  return process.env.CHROMIUM_PATH || process.env.CHROME_BIN || '/usr/bin/chromium';
}

let playwright;
/** playwright-core, or an Error saying why it cannot be loaded. */
async function loadPlaywright() {
  if (playwright) return playwright;
  try {
    playwright = await import('playwright-core');
    return playwright;
  } catch (e) {
    return new Error(`playwright-core cannot be loaded (${e.code ?? e.message}); run \`npm ci\` in e2e/`);
  }
}

/**
 * Why the browser tests cannot run here, or null when they can: no Chromium binary, or no
 * playwright-core. Install Chromium with `apt-get install -y chromium chromium-driver`
 * (scripts/test does that when e2e/.needs-chromium exists).
 */
export async function browserProblem() {
  const bin = chromiumPath();
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    return (
      `Chromium not found at ${bin} (CHROMIUM_PATH / CHROME_BIN / /usr/bin/chromium): ` +
      'install Debian\'s `chromium` and `chromium-driver` (apt-get install -y chromium chromium-driver; ' +
      'scripts/test does it because e2e/.needs-chromium exists)'
    );
  }
  const pw = await loadPlaywright();
  return pw instanceof Error ? pw.message : null;
}

/**
 * The skip option for a browser `describe`: false when Chromium can run; the reason when it
 * cannot and we are not in CI. In CI (`CI=true`) it is always false, so the suite runs and its
 * `before` fails with the reason (use `requireBrowser()` there).
 */
export async function skipUnlessBrowser() {
  const problem = await browserProblem();
  if (!problem) return false;
  if (IN_CI) return false;
  return `${problem} (a skip outside CI; with CI=true this fails)`;
}

/** Fails with the reason when Chromium cannot run (in CI, where the suite is not skipped). */
export async function requireBrowser() {
  const problem = await browserProblem();
  if (problem) throw new Error(`browser tests cannot run: ${problem}`);
}

/** base64(SHA-256(SubjectPublicKeyInfo DER)) of the first certificate in `pem`. */
export function spkiSha256(pem) {
  const spki = new crypto.X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(spki).digest('base64');
}

/** The dev server certificate's SPKI pin, from the data dir of a server from `startServer`. */
export function serverSpkiPin(srv) {
  return spkiSha256(fs.readFileSync(path.join(srv.dir, 'shonin-data', 'tls', 'server.pem'), 'utf8'));
}

/**
 * Launches headless Chromium. `spkiPins`: the keys whose certificates are accepted despite an
 * unknown issuer (see the top of this file); none: ordinary checks only.
 * Playwright's `launch` gives every browser a new, empty temporary --user-data-dir and removes it
 * on close, and adds --no-sandbox (needed as root) because `chromiumSandbox` is false.
 */
export async function launchChromium({ spkiPins = [] } = {}) {
  const pw = await loadPlaywright();
  if (pw instanceof Error) throw pw;
  return pw.chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    chromiumSandbox: false,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      // No QUIC, no background connections: this machine's network is closed, and Chromium's
      // own connections would only fail (and slow the start).
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(spkiPins.length ? [`--ignore-certificate-errors-spki-list=${spkiPins.join(',')}`] : []),
    ],
  });
}

/**
 * A CDP virtual authenticator on `page` (WebAuthn domain): a platform authenticator ("internal")
 * with resident keys and user verification, like a phone or laptop passkey provider.
 * `backupEligible` makes its new credentials synced passkeys (BE flag) instead of device-bound.
 *
 * `presence(on)` switches automatic presence simulation: while it is off, a request waits (the
 * user has not touched anything). This matters on the sign-in page, whose script starts a
 * conditional (autofill) request on load: with presence on and a discoverable credential, the
 * virtual authenticator answers that request by itself and the page signs in at once.
 */
export async function addAuthenticator(context, page, { backupEligible = false, presence = true } = {}) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: presence,
      defaultBackupEligibility: backupEligible,
      defaultBackupState: backupEligible,
    },
  });
  const auth = {
    cdp,
    authenticatorId,
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
    async presence(enabled) {
      await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
    },
    async removeCredential(credentialId) {
      await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId });
    },
    async clear() {
      await cdp.send('WebAuthn.clearCredentials', { authenticatorId });
    },
    async addCredential(credential) {
      await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
    },
    /**
     * Moves every credential to `other` (another page's authenticator), keeping the signature
     * counter: the same passkey is then used from another browser profile, and the counter
     * never goes back (a copy used on both sides would look like a cloned authenticator).
     */
    async moveCredentialsTo(other) {
      const creds = await auth.credentials();
      for (const c of creds) {
        await auth.removeCredential(c.credentialId);
        await other.addCredential(c);
      }
      return creds.length;
    },
  };
  return auth;
}

/**
 * Keeps what a page says: console messages, uncaught errors, failed requests, main-frame
 * navigations and every response of the passkey JSON API with its body. `describe()` renders it for an assertion message.
 */
export function watchPage(page) {
  // navigations: the URL of every new document in the main frame; an API entry's `doc` is the
  // number of documents so far, i.e. which document made the call.
  const log = { console: [], errors: [], failed: [], api: [], navigations: [] };
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) log.navigations.push(f.url());
  });
  page.on('console', (m) => log.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.errors.push(String(e?.stack ?? e)));
  page.on('requestfailed', (r) => log.failed.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', async (r) => {
    const url = new URL(r.url());
    if (!/^\/(passkeys|account\/passkeys)/.test(url.pathname) || r.request().method() !== 'POST') return;
    if (url.pathname === '/account/passkeys/rename' || url.pathname === '/account/passkeys/remove') return;
    const entry = { doc: log.navigations.length, path: url.pathname, status: r.status(), body: '' };
    log.api.push(entry);
    try {
      entry.body = (await r.text()).slice(0, 8000);
    } catch {
      entry.body = '<unreadable>';
    }
  });
  log.describe = () =>
    [
      `url: ${page.url()}`,
      `console:\n  ${log.console.join('\n  ') || '-'}`,
      `page errors:\n  ${log.errors.join('\n  ') || '-'}`,
      `failed requests:\n  ${log.failed.join('\n  ') || '-'}`,
      `passkey API:\n  ${log.api.map((a) => `${a.path} -> ${a.status} ${a.body}`).join('\n  ') || '-'}`,
    ].join('\n');
  return log;
}

/** A full-page PNG in e2e/artifacts/screenshots/<name>.png; returns its path. */
export async function screenshot(page, name) {
  await fsp.mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * A note when no font for Japanese is installed (`fc-list :lang=ja` lists none): the Japanese
 * pages then render as empty boxes in the screenshots. The text checks read the DOM and do not
 * depend on it. Debian's `fonts-noto-cjk` provides "Noto Sans CJK JP".
 */
export function japaneseFontNote() {
  try {
    const fonts = execFileSync('fc-list', [':lang=ja', 'family'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    if (fonts.trim()) return null;
  } catch {
    // no fontconfig: say the same
  }
  return 'no Japanese font installed (fc-list :lang=ja is empty): Japanese screenshots show boxes; apt-get install fonts-noto-cjk';
}

/** Japanese script: hiragana, katakana, CJK ideographs. */
export const JAPANESE = /[\u3040-\u30ff\u4e00-\u9fff]/;

/**
 * Checks the page's language: `<html lang>` and whether the text of `<main>` has Japanese
 * script. Only `<main>`: the footer's language switcher names each language in itself, so
 * every English page rightly shows "日本語" there.
 */
export async function assertLanguage(page, lang) {
  const { htmlLang, text } = await page.evaluate(() => ({
    htmlLang: document.documentElement.lang,
    text: document.querySelector('main')?.innerText ?? '',
  }));
  assert.equal(htmlLang, lang, `<html lang> on ${page.url()}`);
  if (lang === 'ja') assert.match(text, JAPANESE, `the Japanese page ${page.url()} shows Japanese text:\n${text}`);
  else assert.doesNotMatch(text, JAPANESE, `the English page ${page.url()} has Japanese text in <main>:\n${text}`);
}

/** No horizontal scrolling: the document is no wider than the viewport. */
export async function assertNoHorizontalScroll(page) {
  const m = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    widest: [...document.querySelectorAll('body *')]
      .map((e) => ({ e, r: e.getBoundingClientRect() }))
      .filter(({ r }) => r.right > document.documentElement.clientWidth + 0.5)
      .slice(0, 5)
      .map(({ e, r }) => `<${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className ? `.${e.className}` : ''}> right=${Math.round(r.right)}`),
  }));
  assert.ok(
    m.scrollWidth <= m.clientWidth,
    `${page.url()} scrolls horizontally at ${m.clientWidth}px: scrollWidth ${m.scrollWidth}; overflowing: ${m.widest.join(', ')}`,
  );
}
