// panva/oauth4webapi 3, unmodified, with its low-level API: the same FAPI 2.0 code flow as the
// openid-client test, then client_credentials with DPoP.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { ACCESS, consentPageProblems } from '../lib/fixtures.mjs';
import { decodeJwt } from '../lib/keys.mjs';
import { authorize, codeGrant, retryOnDpopNonce, setup } from '../lib/oauth4.mjs';
import { startServer } from '../lib/server.mjs';

describe('oauth4webapi 3: PAR, PKCE, DPoP, private_key_jwt, RAR, client_credentials', () => {
  let srv;
  let ctx;
  const s = {};

  before(async () => {
    srv = await startServer({ name: 'oauth4webapi' });
  });

  after(async () => {
    await srv?.stop();
  });

  const need = (...keys) => {
    for (const k of keys) assert.ok(s[k] !== undefined, `an earlier step did not produce ${k}`);
  };

  it('processes the discovery document', async () => {
    ctx = await setup(srv);
    assert.equal(ctx.as.issuer, srv.issuer);
    assert.equal(ctx.as.require_pushed_authorization_requests, true);
    // The same document at the RFC 8414 location.
    const issuer = new URL(srv.issuer);
    const as2 = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { ...ctx.opts, algorithm: 'oauth2' }),
    );
    assert.equal(as2.token_endpoint, ctx.as.token_endpoint);
  });

  it('PAR (pushedAuthorizationRequest + processPushedAuthorizationResponse) → sign-in → consent', async () => {
    assert.ok(ctx, 'discovery failed');
    const a = await authorize(srv, ctx);
    assert.ok(a.par.expires_in < 600, `expires_in ${a.par.expires_in} < 600`);
    assert.deepEqual(consentPageProblems(a.consentHtml, { clientName: srv.client.name }), []);
    // validateAuthResponse checks state and iss (RFC 9207) against the metadata.
    s.params = oauth.validateAuthResponse(ctx.as, ctx.client, a.callbackUrl, a.state);
    assert.ok(s.params.get('code'));
    assert.equal(s.params.get('iss'), srv.issuer);
    s.verifier = a.verifier;
    s.nonce = a.nonce;
  });

  it('authorizationCodeGrantRequest + processAuthorizationCodeResponse: DPoP tokens, ID token', async () => {
    need('params');
    const { result, response } = await codeGrant(srv, ctx, s);
    assert.equal(result.token_type, 'dpop'); // oauth4webapi lower-cases token_type
    assert.match(JSON.parse(srv.fetch.last('/token').body).token_type, /^dpop$/i);
    const claims = oauth.getValidatedIdTokenClaims(result);
    assert.equal(claims.iss, srv.issuer);
    assert.ok([claims.aud].flat().includes(srv.client.id));
    assert.equal(claims.nonce, s.nonce);
    // The ID token's signature against the server's jwks_uri.
    await oauth.validateApplicationLevelSignature(ctx.as, response, ctx.opts);
    const jkt = await ctx.DPoP.calculateThumbprint();
    assert.equal(decodeJwt(result.access_token).payload.cnf?.jkt, jkt);
    assert.deepEqual(result.authorization_details?.[0], ACCESS);
    s.tokens = result;
    s.sub = claims.sub;
    s.jkt = jkt;
  });

  it('userInfoRequest + processUserInfoResponse with DPoP', async () => {
    need('tokens');
    const info = await retryOnDpopNonce(async () =>
      oauth.processUserInfoResponse(
        ctx.as,
        ctx.client,
        s.sub,
        await oauth.userInfoRequest(ctx.as, ctx.client, s.tokens.access_token, { ...ctx.opts, DPoP: ctx.DPoP }),
      ),
    );
    assert.equal(info.sub, s.sub);
  });

  it('userinfo refuses the DPoP-bound token presented as Bearer', async () => {
    need('tokens');
    const res = await srv.fetch(ctx.as.userinfo_endpoint, {
      headers: { authorization: `Bearer ${s.tokens.access_token}` },
    });
    assert.equal(res.status, 401, 'a DPoP-bound access token used as Bearer must be rejected');
  });

  it('refreshTokenGrantRequest + processRefreshTokenResponse with DPoP', async () => {
    need('tokens');
    const refreshed = await retryOnDpopNonce(async () =>
      oauth.processRefreshTokenResponse(
        ctx.as,
        ctx.client,
        await oauth.refreshTokenGrantRequest(ctx.as, ctx.client, ctx.clientAuth, s.tokens.refresh_token, {
          ...ctx.opts,
          DPoP: ctx.DPoP,
        }),
      ),
    );
    assert.equal(refreshed.token_type, 'dpop');
    assert.equal(decodeJwt(refreshed.access_token).payload.cnf?.jkt, s.jkt);
  });

  it('a refresh with another DPoP key than the bound one is refused', async () => {
    need('tokens');
    const otherDPoP = oauth.DPoP(ctx.client, await oauth.generateKeyPair('ES256'));
    await assert.rejects(
      retryOnDpopNonce(async () =>
        oauth.processRefreshTokenResponse(
          ctx.as,
          ctx.client,
          await oauth.refreshTokenGrantRequest(ctx.as, ctx.client, ctx.clientAuth, s.tokens.refresh_token, {
            ...ctx.opts,
            DPoP: otherDPoP,
          }),
        ),
      ),
      (e) => {
        assert.ok(e instanceof oauth.ResponseBodyError, String(e));
        assert.ok(['invalid_grant', 'invalid_dpop_proof'].includes(e.error), `error ${e.error}`);
        return true;
      },
    );
  });

  it('introspectionRequest (JSON and RFC 9701 JWT) + revocationRequest', async () => {
    need('tokens');
    const intro = await oauth.processIntrospectionResponse(
      ctx.as,
      ctx.client,
      await oauth.introspectionRequest(ctx.as, ctx.client, ctx.clientAuth, s.tokens.access_token, ctx.opts),
    );
    assert.equal(intro.active, true);
    assert.equal(intro.cnf?.jkt, s.jkt);

    const alg = ctx.as.introspection_signing_alg_values_supported?.[0] ?? ctx.as.id_token_signing_alg_values_supported?.[0];
    const jwtClient = { ...ctx.client, introspection_signed_response_alg: alg };
    const jwtResponse = await oauth.introspectionRequest(ctx.as, jwtClient, ctx.clientAuth, s.tokens.access_token, {
      ...ctx.opts,
      requestJwtResponse: true,
    });
    assert.match(jwtResponse.headers.get('content-type') ?? '', /^application\/token-introspection\+jwt/);
    const jwtIntro = await oauth.processIntrospectionResponse(ctx.as, jwtClient, jwtResponse);
    assert.equal(jwtIntro.active, true);
    await oauth.validateApplicationLevelSignature(ctx.as, jwtResponse, ctx.opts);

    await oauth.processRevocationResponse(
      await oauth.revocationRequest(ctx.as, ctx.client, ctx.clientAuth, s.tokens.refresh_token, ctx.opts),
    );
    const after = await oauth.processIntrospectionResponse(
      ctx.as,
      ctx.client,
      await oauth.introspectionRequest(ctx.as, ctx.client, ctx.clientAuth, s.tokens.refresh_token, ctx.opts),
    );
    assert.equal(after.active, false);
  });

  it('clientCredentialsGrantRequest with DPoP: DPoP-bound token, introspects active', async () => {
    assert.ok(ctx, 'discovery failed');
    const DPoP = oauth.DPoP(ctx.client, await oauth.generateKeyPair('ES256'));
    const result = await retryOnDpopNonce(async () =>
      oauth.processClientCredentialsResponse(
        ctx.as,
        ctx.client,
        await oauth.clientCredentialsGrantRequest(ctx.as, ctx.client, ctx.clientAuth, new URLSearchParams({ scope: 'accounts' }), {
          ...ctx.opts,
          DPoP,
        }),
      ),
    );
    assert.equal(result.token_type, 'dpop');
    assert.equal(result.refresh_token, undefined, 'no refresh token for client_credentials (RFC 6749 §4.4.3)');
    const jkt = await DPoP.calculateThumbprint();
    assert.equal(decodeJwt(result.access_token).payload.cnf?.jkt, jkt);
    const intro = await oauth.processIntrospectionResponse(
      ctx.as,
      ctx.client,
      await oauth.introspectionRequest(ctx.as, ctx.client, ctx.clientAuth, result.access_token, ctx.opts),
    );
    assert.equal(intro.active, true);
    assert.equal(intro.client_id, srv.client.id);
    assert.equal(intro.cnf?.jkt, jkt);
  });
});
