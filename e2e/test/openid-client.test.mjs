// panva/openid-client 6, unmodified: discovery, private_key_jwt, DPoP, PAR, PKCE S256, state,
// nonce, RAR → sign-in and consent over HTTP → code → tokens → userinfo → refresh → revoke.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { signInAndConsent } from '../lib/browser.mjs';
import { ACCESS, AUTHORIZATION_DETAILS, consentPageProblems } from '../lib/fixtures.mjs';
import { decodeJwt, jwkThumbprint } from '../lib/keys.mjs';
import { SCOPE, startServer } from '../lib/server.mjs';

describe('openid-client 6: FAPI 2.0 code flow with PAR, PKCE, DPoP, private_key_jwt, RAR', () => {
  let srv;
  let config;
  let DPoP;
  let jkt;
  const s = {}; // state carried from step to step

  before(async () => {
    srv = await startServer({ name: 'openid-client' });
  });

  after(async () => {
    await srv?.stop();
  });

  const need = (...keys) => {
    for (const k of keys) assert.ok(s[k] !== undefined, `an earlier step did not produce ${k}`);
  };

  it('discovers the issuer and authenticates with private_key_jwt', async () => {
    config = await client.discovery(
      new URL(srv.issuer),
      srv.client.id,
      {},
      client.PrivateKeyJwt({ key: srv.client.key, kid: srv.client.kid }),
      { [client.customFetch]: srv.fetch },
    );
    const md = config.serverMetadata();
    assert.equal(md.issuer, srv.issuer);
    assert.equal(md.pushed_authorization_request_endpoint, `${srv.issuer}/par`);
    assert.equal(md.require_pushed_authorization_requests, true);
    assert.deepEqual(md.response_types_supported, ['code']);
    assert.deepEqual(md.code_challenge_methods_supported, ['S256']);
    assert.ok(md.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
    assert.ok(md.dpop_signing_alg_values_supported?.includes('ES256'), 'dpop_signing_alg_values_supported lists ES256');
    assert.equal(md.authorization_response_iss_parameter_supported, true, 'RFC 9207 advertised');
    assert.ok(md.authorization_details_types_supported?.includes('payment_initiation'));

    const keyPair = await client.randomDPoPKeyPair('ES256');
    DPoP = client.getDPoPHandle(config, keyPair);
    jkt = jwkThumbprint(await globalThis.crypto.subtle.exportKey('jwk', keyPair.publicKey));
  });

  it('pushes the authorization request (PAR + DPoP) and gets a request_uri', async () => {
    assert.ok(config, 'discovery failed');
    s.verifier = client.randomPKCECodeVerifier();
    s.state = client.randomState();
    s.nonce = client.randomNonce();
    s.authorizationUrl = await client.buildAuthorizationUrlWithPAR(
      config,
      {
        response_type: 'code',
        redirect_uri: srv.client.redirectUri,
        scope: SCOPE,
        code_challenge: await client.calculatePKCECodeChallenge(s.verifier),
        code_challenge_method: 'S256',
        state: s.state,
        nonce: s.nonce,
        authorization_details: AUTHORIZATION_DETAILS,
      },
      { DPoP },
    );
    const par = srv.fetch.last('/par');
    assert.equal(par.status, 201, `PAR status (body: ${par.body})`);
    const body = JSON.parse(par.body);
    assert.match(body.request_uri, /^urn:ietf:params:oauth:request_uri:/);
    assert.ok(body.expires_in > 0 && body.expires_in < 600, `expires_in < 600 (FAPI 2.0): ${body.expires_in}`);
    assert.ok(par.requestHeaders.dpop, 'openid-client sent a DPoP proof at PAR');
    const url = s.authorizationUrl;
    assert.equal(url.origin + url.pathname, `${srv.issuer}/authorize`);
    assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
  });

  it('signs in and approves; the consent page shows the account access and the client', async () => {
    need('authorizationUrl');
    const r = await signInAndConsent({
      agent: srv.agent,
      issuer: srv.issuer,
      authorizationUrl: s.authorizationUrl,
      username: srv.user.username,
      password: srv.user.password,
    });
    s.callbackUrl = new URL(r.callbackUrl);
    assert.deepEqual(consentPageProblems(r.consentHtml, { clientName: srv.client.name }), []);

    const cb = s.callbackUrl;
    assert.equal(cb.origin + cb.pathname, srv.client.redirectUri, 'redirected to the registered redirect_uri');
    assert.ok(cb.searchParams.get('code'), 'code in the authorization response');
    assert.equal(cb.searchParams.get('state'), s.state);
    assert.equal(cb.searchParams.get('iss'), srv.issuer, 'iss in the authorization response (RFC 9207)');

    for (const c of r.browser.jar.seen.filter((c) => c.name.startsWith('__Host-'))) {
      assert.equal(c.attrs.secure, true, `${c.name} is Secure`);
      assert.equal(c.attrs.httponly, true, `${c.name} is HttpOnly`);
      assert.equal(c.attrs.path, '/', `${c.name} has Path=/`);
      assert.equal(c.attrs.domain, undefined, `${c.name} has no Domain (a __Host- cookie)`);
    }
    const session = r.browser.jar.seen.find((c) => c.name === '__Host-shonin_session');
    assert.ok(session.attrs.samesite, 'the session cookie has a SameSite attribute (issue #3)');
  });

  it('exchanges the code (authorizationCodeGrant): DPoP-bound tokens, ID token, authorization_details', async () => {
    need('callbackUrl');
    const tokens = await client.authorizationCodeGrant(
      config,
      s.callbackUrl,
      { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce, idTokenExpected: true },
      undefined,
      { DPoP },
    );
    s.tokens = tokens;

    const raw = JSON.parse(srv.fetch.last('/token').body);
    assert.match(raw.token_type, /^dpop$/i, `token_type DPoP (got ${raw.token_type})`);
    assert.ok(tokens.refresh_token, 'a refresh token is issued');
    assert.ok(tokens.expires_in > 0);

    const claims = tokens.claims();
    assert.equal(claims.iss, srv.issuer);
    assert.ok([claims.aud].flat().includes(srv.client.id), 'aud contains the client_id');
    assert.equal(claims.nonce, s.nonce);
    assert.ok(claims.sub, 'sub');
    assert.equal(typeof claims.auth_time, 'number', 'auth_time');
    s.sub = claims.sub;

    const details = tokens.authorization_details;
    assert.ok(Array.isArray(details) && details.length === 1, `authorization_details echoed: ${JSON.stringify(details)}`);
    assert.deepEqual(details[0], ACCESS);

    // RFC 9068 access token bound to the DPoP key (RFC 9449 §6).
    const at = decodeJwt(tokens.access_token);
    assert.equal(at.header.typ.toLowerCase(), 'at+jwt', 'access token typ at+jwt (RFC 9068)');
    assert.equal(at.payload.cnf?.jkt, jkt, 'cnf.jkt is the DPoP key thumbprint');
  });

  it('fetches userinfo with the DPoP-bound access token', async () => {
    need('tokens', 'sub');
    const info = await client.fetchUserInfo(config, s.tokens.access_token, s.sub, { DPoP });
    assert.equal(info.sub, s.sub);
    const req = srv.fetch.last('/userinfo');
    assert.match(req.requestHeaders.authorization, /^DPoP /, 'sent as a DPoP token');
  });

  it('introspects the access token: active, cnf.jkt, authorization_details', async () => {
    need('tokens');
    const intro = await client.tokenIntrospection(config, s.tokens.access_token);
    assert.equal(intro.active, true);
    assert.equal(intro.client_id, srv.client.id);
    assert.equal(intro.cnf?.jkt, jkt);
    assert.deepEqual(intro.authorization_details?.[0], ACCESS);
  });

  it('refreshes with the DPoP-bound refresh token (no rotation by default)', async () => {
    need('tokens', 'sub');
    const refreshed = await client.refreshTokenGrant(config, s.tokens.refresh_token, undefined, { DPoP });
    const raw = JSON.parse(srv.fetch.last('/token').body);
    assert.match(raw.token_type, /^dpop$/i);
    assert.notEqual(refreshed.access_token, s.tokens.access_token, 'a new access token');
    assert.ok(
      refreshed.refresh_token === undefined || refreshed.refresh_token === s.tokens.refresh_token,
      'refresh token not rotated (FAPI 2.0 §5.3.2.1 item 8)',
    );
    const info = await client.fetchUserInfo(config, refreshed.access_token, s.sub, { DPoP });
    assert.equal(info.sub, s.sub);
    s.refreshed = refreshed;
  });

  it('revokes the refreshed access token: userinfo and introspection reject it', async () => {
    need('refreshed', 'sub');
    await client.tokenRevocation(config, s.refreshed.access_token, { token_type_hint: 'access_token' });
    const intro = await client.tokenIntrospection(config, s.refreshed.access_token);
    assert.equal(intro.active, false, 'revoked access token is inactive at introspection');
    await assert.rejects(
      client.fetchUserInfo(config, s.refreshed.access_token, s.sub, { DPoP }),
      (e) => {
        assert.equal(srv.fetch.last('/userinfo').status, 401, 'userinfo answers 401');
        assert.ok(e instanceof client.WWWAuthenticateChallengeError || e instanceof client.ResponseBodyError, String(e));
        return true;
      },
      'userinfo rejects a revoked access token (FAPI 2.0 RS item 3)',
    );
  });

  it('revokes the refresh token: it and the access tokens of its grant stop working', async () => {
    need('tokens', 'sub');
    // The first access token is still valid here (5 min); revoking the refresh token should take
    // it down too (RFC 7009 §2.1: "SHOULD also invalidate all access tokens based on the same
    // authorization grant").
    assert.equal((await client.tokenIntrospection(config, s.tokens.access_token)).active, true);
    await client.tokenRevocation(config, s.tokens.refresh_token, { token_type_hint: 'refresh_token' });
    const intro = await client.tokenIntrospection(config, s.tokens.refresh_token);
    assert.equal(intro.active, false);
    const atIntro = await client.tokenIntrospection(config, s.tokens.access_token);
    assert.equal(atIntro.active, false, 'the access token of the revoked grant is inactive');
    await assert.rejects(client.fetchUserInfo(config, s.tokens.access_token, s.sub, { DPoP }), 'userinfo rejects it');
    await assert.rejects(client.refreshTokenGrant(config, s.tokens.refresh_token, undefined, { DPoP }), (e) => {
      assert.ok(e instanceof client.ResponseBodyError, String(e));
      assert.equal(e.error, 'invalid_grant');
      return true;
    });
  });
});
