// A client whose redirect_uri is on another origin than the issuer, as every real client's is.
// (The other files use https://localhost:<port>/cb, the issuer's own origin.)

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { authorize, codeGrant, setup } from '../lib/oauth4.mjs';
import { startServer } from '../lib/server.mjs';

const WEB = { id: 'e2e-web', name: 'E2E web app', redirectUri: 'https://app.example/cb' };

/** The sources of one directive of a Content-Security-Policy header, or undefined. */
function cspDirective(header, name) {
  for (const part of String(header ?? '').split(';')) {
    const [directive, ...sources] = part.trim().split(/\s+/);
    if (directive?.toLowerCase() === name) return sources;
  }
  return undefined;
}

/** Whether a CSP source list allows navigating a form submission to `url` (CSP3 §6.7.2, simplified). */
function cspAllows(sources, url, selfOrigin) {
  const u = new URL(url);
  return sources.some((src) => {
    const s = src.toLowerCase();
    if (s === '*' || s === `${u.protocol}`) return true;
    if (s === "'self'") return u.origin === selfOrigin;
    if (s === "'none'") return false;
    try {
      const allowed = new URL(/^[a-z][a-z0-9+.-]*:\/\//.test(s) ? s : `${u.protocol}//${s}`);
      return allowed.origin === u.origin && u.pathname.startsWith(allowed.pathname === '/' ? '/' : allowed.pathname);
    } catch {
      return false;
    }
  });
}

describe('a client with a cross-origin redirect_uri', () => {
  let srv;
  let ctx;
  const s = {};

  before(async () => {
    srv = await startServer({ name: 'cross-origin', extraClients: [WEB] });
    ctx = await setup(srv, srv.extraClients[0]);
  });

  after(async () => {
    await srv?.stop();
  });

  it('completes the code flow: 303 to the client origin with code, state, iss', async () => {
    const a = await authorize(srv, ctx);
    assert.equal(a.callbackUrl.origin + a.callbackUrl.pathname, WEB.redirectUri);
    const params = oauth.validateAuthResponse(ctx.as, ctx.client, a.callbackUrl, a.state);
    const { result } = await codeGrant(srv, ctx, { params, verifier: a.verifier, nonce: a.nonce });
    assert.equal(result.token_type, 'dpop');
    assert.ok(a.consentHtml.includes(WEB.name), 'the consent page names the client');
    s.a = a;
  });

  // Chrome and Safari apply CSP `form-action` to the redirects that follow a form submission
  // (w3c/webappsec-csp#8; Firefox does not). The consent form posts to /authorize/consent, which
  // answers 303 to the client's redirect_uri, so a consent page with `form-action 'self'` leaves
  // the user stuck on it: the browser refuses to follow the redirect and the client never gets
  // its code. The HTTP driver above does not enforce CSP, so this checks the header instead.
  it("the consent page's CSP form-action lets a browser follow the 303 to the client's redirect_uri", () => {
    assert.ok(s.a, 'the flow failed');
    const csp = s.a.consentHeaders['content-security-policy'];
    const formAction = cspDirective(csp, 'form-action');
    if (formAction === undefined) return; // no form-action (default-src does not cover it): allowed
    assert.ok(
      cspAllows(formAction, s.a.callbackUrl.href, new URL(srv.issuer).origin),
      `consent page CSP "form-action ${formAction.join(' ')}" blocks the redirect to ${WEB.redirectUri} ` +
        'in Chrome and Safari (full header: ' + csp + ')',
    );
  });
});
