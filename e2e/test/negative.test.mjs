// Requests FAPI 2.0 forbids, sent over HTTP (plus oauth4webapi where a real client helps).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { Browser, findForm } from '../lib/browser.mjs';
import { AUTHORIZATION_DETAILS } from '../lib/fixtures.mjs';
import { authorize, codeGrant, retryOnDpopNonce, setup } from '../lib/oauth4.mjs';
import { SCOPE, startServer } from '../lib/server.mjs';
import { makeAgent, rawRequest } from '../lib/tls-fetch.mjs';

const EVIL = 'https://evil.example/cb';

describe('negative: requests FAPI 2.0 forbids', () => {
  let srv;
  let ctx;

  before(async () => {
    srv = await startServer({ name: 'negative' });
    ctx = await setup(srv);
  });

  after(async () => {
    await srv?.stop();
  });

  const challenge = () => crypto.createHash('sha256').update(crypto.randomBytes(32)).digest('base64url');

  it('TLS is really checked: without the dev CA the server certificate is not trusted', async () => {
    const untrusting = makeAgent(undefined); // Node's default trust store only
    try {
      await assert.rejects(rawRequest(untrusting, `${srv.issuer}/readyz`), (e) => {
        const code = e.code ?? e.cause?.code ?? '';
        assert.match(code, /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/, `a certificate error, got ${code || e}`);
        return true;
      });
    } finally {
      await untrusting.close();
    }
  });

  it('/authorize without PAR (plain query) is refused on a page, with no redirect (no open redirector)', async () => {
    for (const redirect_uri of [EVIL, srv.client.redirectUri]) {
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: srv.client.id,
        redirect_uri,
        scope: 'openid',
        state: 'xyz',
        code_challenge: challenge(),
        code_challenge_method: 'S256',
      });
      const res = await rawRequest(srv.agent, `${srv.issuer}/authorize?${q}`, {
        headers: { accept: 'text/html', origin: 'https://evil.example' },
      });
      const where = `GET /authorize (redirect_uri=${redirect_uri}) -> ${res.status} Location=${res.headers.location}`;
      assert.ok(res.status >= 400 && res.status < 500, `${where}: expected a 4xx page`);
      assert.equal(res.headers.location, undefined, `${where}: must not redirect`);
      assert.ok(!res.text.includes('evil.example'), `${where}: the page must not echo/link the untrusted redirect_uri`);
      assert.equal(res.headers['access-control-allow-origin'], undefined, `${where}: no CORS on the authorization endpoint`);
    }
  });

  it('/authorize with an unknown request_uri is refused without redirect', async () => {
    const q = new URLSearchParams({
      client_id: srv.client.id,
      request_uri: `urn:ietf:params:oauth:request_uri:${crypto.randomBytes(16).toString('base64url')}`,
    });
    const res = await rawRequest(srv.agent, `${srv.issuer}/authorize?${q}`, { headers: { accept: 'text/html' } });
    assert.ok(res.status >= 400 && res.status < 500, `got ${res.status}`);
    assert.equal(res.headers.location, undefined);
  });

  it('PAR without client authentication → 401 invalid_client', async () => {
    const body = new URLSearchParams({
      client_id: srv.client.id,
      response_type: 'code',
      redirect_uri: srv.client.redirectUri,
      scope: SCOPE,
      code_challenge: challenge(),
      code_challenge_method: 'S256',
      state: 'xyz',
      authorization_details: AUTHORIZATION_DETAILS,
    });
    const res = await rawRequest(srv.agent, `${srv.issuer}/par`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: body.toString(),
    });
    assert.equal(res.status, 401, `PAR without client auth: ${res.status} ${res.text}`);
    assert.equal(res.json().error, 'invalid_client');
  });

  it('PAR with an unregistered redirect_uri → 400', async () => {
    const res = await oauth.pushedAuthorizationRequest(
      ctx.as,
      ctx.client,
      ctx.clientAuth,
      new URLSearchParams({
        response_type: 'code',
        redirect_uri: EVIL,
        scope: SCOPE,
        code_challenge: challenge(),
        code_challenge_method: 'S256',
      }),
      ctx.opts,
    );
    assert.equal(res.status, 400, `PAR with an unregistered redirect_uri: ${res.status}`);
    const err = await res.json();
    assert.ok(['invalid_request', 'invalid_redirect_uri'].includes(err.error), `error ${err.error}`);
  });

  it('a reused authorization code → invalid_grant, and the tokens issued from it stop working', async () => {
    const a = await authorize(srv, ctx);
    const params = oauth.validateAuthResponse(ctx.as, ctx.client, a.callbackUrl, a.state);
    const first = await codeGrant(srv, ctx, { params, verifier: a.verifier, nonce: a.nonce });
    assert.ok(first.result.access_token);

    await assert.rejects(codeGrant(srv, ctx, { params, verifier: a.verifier, nonce: a.nonce }), (e) => {
      assert.ok(e instanceof oauth.ResponseBodyError, String(e));
      assert.equal(e.status, 400);
      assert.equal(e.error, 'invalid_grant');
      return true;
    });

    // RFC 6749 §10.5 / issue #3: a reused code revokes every token issued from it.
    for (const [kind, token] of [
      ['access token', first.result.access_token],
      ['refresh token', first.result.refresh_token],
    ]) {
      if (!token) continue;
      const intro = await oauth.processIntrospectionResponse(
        ctx.as,
        ctx.client,
        await oauth.introspectionRequest(ctx.as, ctx.client, ctx.clientAuth, token, ctx.opts),
      );
      assert.equal(intro.active, false, `the ${kind} issued from a reused code is revoked`);
    }
  });

  it('a request_uri is single use: reopening it after consent is refused without redirect', async () => {
    const a = await authorize(srv, ctx);
    const url = new URL(ctx.as.authorization_endpoint);
    url.searchParams.set('client_id', srv.client.id);
    url.searchParams.set('request_uri', a.par.request_uri);
    const res = await new Browser(srv.agent, srv.issuer).get(url);
    assert.ok(res.status >= 400 && res.status < 500, `reused request_uri: ${res.status}`);
    assert.equal(res.headers.location, undefined);
  });

  it('sign-in with a CSRF token that does not match the cookie is refused', async () => {
    const par = await oauth.processPushedAuthorizationResponse(
      ctx.as,
      ctx.client,
      await oauth.pushedAuthorizationRequest(
        ctx.as,
        ctx.client,
        ctx.clientAuth,
        new URLSearchParams({
          response_type: 'code',
          redirect_uri: srv.client.redirectUri,
          scope: SCOPE,
          code_challenge: challenge(),
          code_challenge_method: 'S256',
        }),
        ctx.opts,
      ),
    );
    const url = new URL(ctx.as.authorization_endpoint);
    url.searchParams.set('client_id', srv.client.id);
    url.searchParams.set('request_uri', par.request_uri);
    const browser = new Browser(srv.agent, srv.issuer);
    const page = await browser.get(url);
    const form = findForm(page.text, '/authorize/sign-in');
    const forged = { ...form, hidden: { ...form.hidden, csrf: crypto.randomBytes(32).toString('base64url') } };
    const res = await browser.submit(forged, { username: srv.user.username, password: srv.user.password });
    assert.equal(res.status, 403, `forged CSRF token: ${res.status}`);
    assert.equal(browser.jar.get('__Host-shonin_session'), undefined, 'no session for a forged form');
  });

  for (const [what, tamper, errors] of [
    ['another DPoP key than the one bound at PAR (dpop_jkt)', 'key', ['invalid_dpop_proof', 'invalid_grant']],
    ['a wrong PKCE code_verifier', 'verifier', ['invalid_grant']],
  ]) {
    it(`the code exchanged with ${what} is refused`, async () => {
      const a = await authorize(srv, ctx);
      const params = oauth.validateAuthResponse(ctx.as, ctx.client, a.callbackUrl, a.state);
      const DPoP = tamper === 'key' ? oauth.DPoP(ctx.client, await oauth.generateKeyPair('ES256')) : ctx.DPoP;
      const verifier = tamper === 'verifier' ? oauth.generateRandomCodeVerifier() : a.verifier;
      const res = await oauth.authorizationCodeGrantRequest(ctx.as, ctx.client, ctx.clientAuth, params, srv.client.redirectUri, verifier, {
        ...ctx.opts,
        DPoP,
      });
      assert.equal(res.status, 400);
      const body = await res.json();
      assert.ok(errors.includes(body.error), `error ${body.error} (${body.error_description})`);
    });
  }

  it('denying consent returns access_denied to the client, with iss', async () => {
    const a = await authorize(srv, ctx, { decision: 'deny' });
    assert.equal(a.callbackUrl.origin + a.callbackUrl.pathname, srv.client.redirectUri);
    assert.equal(a.callbackUrl.searchParams.get('error'), 'access_denied');
    assert.equal(a.callbackUrl.searchParams.get('state'), a.state);
    assert.equal(a.callbackUrl.searchParams.get('iss'), srv.issuer);
    assert.equal(a.callbackUrl.searchParams.get('code'), null);
  });

  it('access token in the query string (or form body) is not accepted at userinfo', async () => {
    const a = await authorize(srv, ctx);
    const params = oauth.validateAuthResponse(ctx.as, ctx.client, a.callbackUrl, a.state);
    const { result } = await codeGrant(srv, ctx, { params, verifier: a.verifier, nonce: a.nonce });
    const token = encodeURIComponent(result.access_token);

    const query = await rawRequest(srv.agent, `${ctx.as.userinfo_endpoint}?access_token=${token}`);
    assert.ok(query.status === 400 || query.status === 401, `token in query: ${query.status} ${query.text}`);
    const form = await rawRequest(srv.agent, ctx.as.userinfo_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `access_token=${token}`,
    });
    assert.ok(form.status === 400 || form.status === 401, `token in form body: ${form.status} ${form.text}`);

    // Control: the same token works when presented properly (DPoP header + proof with ath).
    const info = await retryOnDpopNonce(async () =>
      oauth.processUserInfoResponse(
        ctx.as,
        ctx.client,
        oauth.skipSubjectCheck,
        await oauth.userInfoRequest(ctx.as, ctx.client, result.access_token, { ...ctx.opts, DPoP: ctx.DPoP }),
      ),
    );
    assert.ok(info.sub);
  });
});
