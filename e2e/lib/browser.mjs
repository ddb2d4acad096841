// A tiny "browser" for the authorization endpoint's HTML pages: a cookie jar, a hidden-input
// parser and a driver that walks sign-in and consent over plain HTTP (no DOM, no Chromium).

import assert from 'node:assert/strict';
import { rawRequest } from './tls-fetch.mjs';

/** Decodes the entities an HTML template engine (askama) produces in attribute values. */
export function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_, e) => {
    switch (e) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

function attributes(tag) {
  const attrs = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/**
 * The forms on a page: `[{ action, method, hidden: {name: value}, fields: [names], buttons: [{name, value}] }]`.
 */
export function parseForms(html) {
  const forms = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const fa = attributes(m[1]);
    const form = { action: fa.action ?? '', method: (fa.method ?? 'get').toLowerCase(), hidden: {}, fields: [], buttons: [] };
    for (const im of m[2].matchAll(/<(input|button)\b([^>]*)>/gi)) {
      const a = attributes(im[2]);
      if (im[1].toLowerCase() === 'button') {
        if (a.name) form.buttons.push({ name: a.name, value: a.value ?? '' });
      } else if ((a.type ?? 'text').toLowerCase() === 'hidden') {
        form.hidden[a.name] = a.value ?? '';
      } else if (a.name) {
        form.fields.push(a.name);
      }
    }
    forms.push(form);
  }
  return forms;
}

/** The one form on `html` whose action is `action`; fails the test with the page if absent. */
export function findForm(html, action) {
  const form = parseForms(html).find((f) => f.action === action);
  assert.ok(form, `expected a <form action="${action}"> on the page, got:\n${html.slice(0, 2000)}`);
  return form;
}

/** A parsed Set-Cookie header: `{ name, value, attrs: {lowercased name: value|true} }`. */
export function parseSetCookie(header) {
  const [pair, ...rest] = header.split(';');
  const eq = pair.indexOf('=');
  const attrs = {};
  for (const part of rest) {
    const p = part.trim();
    if (!p) continue;
    const i = p.indexOf('=');
    if (i < 0) attrs[p.toLowerCase()] = true;
    else attrs[p.slice(0, i).trim().toLowerCase()] = p.slice(i + 1).trim();
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attrs };
}

/** Cookies for one origin. Set-Cookie attributes are kept so tests can check them. */
export class CookieJar {
  constructor() {
    this.cookies = new Map();
    this.seen = [];
  }

  store(setCookies) {
    for (const h of setCookies) {
      const c = parseSetCookie(h);
      this.seen.push(c);
      const maxAge = c.attrs['max-age'];
      const expired =
        (maxAge !== undefined && Number(maxAge) <= 0) ||
        (typeof c.attrs.expires === 'string' && Date.parse(c.attrs.expires) <= Date.now());
      if (expired) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c);
    }
  }

  get(name) {
    return this.cookies.get(name);
  }

  header() {
    return [...this.cookies.values()].map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

/**
 * A user agent for one issuer: GET and form POST with cookies, no redirects followed, and the
 * headers a browser sends with a same-origin form post (Origin, Sec-Fetch-Site).
 */
export class Browser {
  constructor(agent, issuer) {
    this.agent = agent;
    this.issuer = issuer;
    this.origin = new URL(issuer).origin;
    this.jar = new CookieJar();
    this.history = [];
  }

  async get(url) {
    const headers = { accept: 'text/html', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' };
    const cookie = this.jar.header();
    if (cookie) headers.cookie = cookie;
    const res = await rawRequest(this.agent, String(url), { headers });
    this.jar.store(res.setCookies);
    this.history.push({ method: 'GET', url: String(url), status: res.status, location: res.headers.location });
    return res;
  }

  async post(url, fields) {
    const headers = {
      accept: 'text/html',
      'content-type': 'application/x-www-form-urlencoded',
      origin: this.origin,
      'sec-fetch-site': 'same-origin',
      'sec-fetch-mode': 'navigate',
    };
    const cookie = this.jar.header();
    if (cookie) headers.cookie = cookie;
    const body = new URLSearchParams(fields).toString();
    const res = await rawRequest(this.agent, String(url), { method: 'POST', headers, body });
    this.jar.store(res.setCookies);
    this.history.push({ method: 'POST', url: String(url), status: res.status, location: res.headers.location });
    return res;
  }

  /** Submits `form` (from `findForm`) with its hidden inputs plus `extra`. */
  submit(form, extra = {}) {
    assert.equal(form.method, 'post', `form ${form.action} should use POST`);
    return this.post(new URL(form.action, this.issuer), { ...form.hidden, ...extra });
  }

  describe() {
    return this.history.map((h) => `${h.method} ${h.url} -> ${h.status}${h.location ? ` (Location: ${h.location})` : ''}`).join('\n');
  }
}

function expectHtml(res, what, browser) {
  assert.equal(res.status, 200, `${what}: expected 200, got ${res.status}\n${browser.describe()}\n${res.text.slice(0, 1500)}`);
  assert.match(String(res.headers['content-type'] ?? ''), /^text\/html/i, `${what}: content-type`);
}

function expectSeeOther(res, what, browser) {
  assert.equal(
    res.status,
    303,
    `${what}: expected 303 See Other (FAPI 2.0 §5.3.2.2 item 8), got ${res.status}\n${browser.describe()}\n${res.text.slice(0, 1500)}`,
  );
  assert.ok(res.headers.location, `${what}: 303 without a Location header`);
  return res.headers.location;
}

/**
 * Plays the user: opens `authorizationUrl`, signs in, answers consent with `decision`, and
 * returns `{ callbackUrl, signInHtml, consentHtml, consentHeaders, browser }`. `callbackUrl` is the absolute
 * URL the server redirected to (the client's redirect_uri with code/state/iss or error).
 */
export async function signInAndConsent({ agent, issuer, authorizationUrl, username, password, decision = 'approve' }) {
  const browser = new Browser(agent, issuer);

  const page1 = await browser.get(authorizationUrl);
  expectHtml(page1, 'GET /authorize (sign-in page)', browser);
  const signInHtml = page1.text;
  const signIn = findForm(signInHtml, '/authorize/sign-in');
  assert.ok(browser.jar.get('__Host-shonin_csrf'), `GET /authorize did not set __Host-shonin_csrf\n${browser.describe()}`);
  assert.equal(signIn.hidden.csrf, browser.jar.get('__Host-shonin_csrf').value, 'hidden csrf input equals the CSRF cookie');

  const afterSignIn = await browser.submit(signIn, { username, password });
  const back = new URL(expectSeeOther(afterSignIn, 'POST /authorize/sign-in', browser), issuer);
  assert.equal(back.origin, new URL(issuer).origin, 'sign-in redirects back to the authorization server');
  assert.equal(back.pathname, '/authorize', 'sign-in redirects back to /authorize');
  assert.ok(browser.jar.get('__Host-shonin_session'), `sign-in did not set __Host-shonin_session\n${browser.describe()}`);

  const page2 = await browser.get(back);
  expectHtml(page2, 'GET /authorize (consent page)', browser);
  const consentHtml = page2.text;
  const consent = findForm(consentHtml, '/authorize/consent');
  const decisions = consent.buttons.filter((b) => b.name === 'decision').map((b) => b.value);
  assert.ok(decisions.includes(decision), `consent form offers decision=${decision} (has: ${decisions.join(', ')})`);

  const afterConsent = await browser.submit(consent, { decision });
  const callbackUrl = new URL(expectSeeOther(afterConsent, 'POST /authorize/consent', browser), issuer).href;
  return { callbackUrl, signInHtml, consentHtml, consentHeaders: page2.headers, browser };
}
