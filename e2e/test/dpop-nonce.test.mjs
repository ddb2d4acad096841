// Server-provided DPoP nonces (RFC 9449 §8, §9): a client registered with --require-dpop-nonce.
// Both libraries must recover from `use_dpop_nonce` by retrying with the `DPoP-Nonce` they were
// given: openid-client does it by itself, oauth4webapi through `isDPoPNonceError` and one retry.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { signInAndConsent } from '../lib/browser.mjs';
import { AUTHORIZATION_DETAILS } from '../lib/fixtures.mjs';
import { decodeJwt } from '../lib/keys.mjs';
import { authorize, codeGrant, retryOnDpopNonce, setup } from '../lib/oauth4.mjs';
import { SCOPE, startServer } from '../lib/server.mjs';

/** Exchanges at `path` that answered use_dpop_nonce (400 JSON error or 401 WWW-Authenticate). */
function nonceChallenges(log, path) {
  return log.filter((e) => {
    if (new URL(e.url).pathname !== path) return false;
    const www = e.headers['www-authenticate'] ?? '';
    let error;
    try {
      error = JSON.parse(e.body).error;
    } catch {
      error = undefined;
    }
    return error === 'use_dpop_nonce' || /error="use_dpop_nonce"/.test(www);
  });
}

/** Every request at `path` that the server accepted carried a DPoP proof with a nonce. */
function assertAcceptedProofsHadNonce(log, path) {
  const ok = log.filter((e) => new URL(e.url).pathname === path && e.status < 300);
  assert.ok(ok.length > 0, `a successful request to ${path}`);
  for (const e of ok) {
    assert.ok(e.requestHeaders.dpop, `${path}: DPoP proof sent`);
    assert.ok(decodeJwt(e.requestHeaders.dpop).payload.nonce, `${path}: accepted proof carries the server nonce`);
  }
}

function assertChallenge(e, status) {
  assert.equal(e.status, status, `use_dpop_nonce status at ${e.url}`);
  assert.ok(e.headers['dpop-nonce'], `${e.url}: use_dpop_nonce comes with a DPoP-Nonce header`);
}

describe('DPoP server nonces (client registered with --require-dpop-nonce)', () => {
  let srv;
  const s = {};

  before(async () => {
    srv = await startServer({ name: 'dpop-nonce', requireDpopNonce: true });
  });

  after(async () => {
    await srv?.stop();
  });

  it('openid-client retries by itself: PAR, token, refresh', async () => {
    const config = await client.discovery(
      new URL(srv.issuer),
      srv.client.id,
      {},
      client.PrivateKeyJwt({ key: srv.client.key, kid: srv.client.kid }),
      { [client.customFetch]: srv.fetch },
    );
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const DPoP = client.getDPoPHandle(config, keyPair);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = await client.buildAuthorizationUrlWithPAR(
      config,
      {
        response_type: 'code',
        redirect_uri: srv.client.redirectUri,
        scope: SCOPE,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        authorization_details: AUTHORIZATION_DETAILS,
      },
      { DPoP },
    );
    const [parChallenge] = nonceChallenges(srv.fetch.log, '/par');
    assert.ok(parChallenge, 'the first PAR proof (no nonce) is answered use_dpop_nonce');
    assertChallenge(parChallenge, 400);
    assertAcceptedProofsHadNonce(srv.fetch.log, '/par');

    const r = await signInAndConsent({
      agent: srv.agent,
      issuer: srv.issuer,
      authorizationUrl: url,
      username: srv.user.username,
      password: srv.user.password,
    });
    const tokens = await client.authorizationCodeGrant(
      config,
      new URL(r.callbackUrl),
      { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
      undefined,
      { DPoP },
    );
    assertAcceptedProofsHadNonce(srv.fetch.log, '/token');
    const sub = tokens.claims().sub;

    const info = await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP });
    assert.equal(info.sub, sub);
    s.openidClient = { config, keyPair, tokens, sub };

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, {
      DPoP: client.getDPoPHandle(config, keyPair),
    });
    assert.ok(refreshed.access_token);
    assert.ok(nonceChallenges(srv.fetch.log, '/token').length >= 1, 'token endpoint challenged the fresh handle');
    assertAcceptedProofsHadNonce(srv.fetch.log, '/token');
  });

  // RFC 9449 §9 lets a resource server demand nonces too; /userinfo does for clients registered
  // with --require-dpop-nonce.
  it('userinfo demands a nonce from a --require-dpop-nonce client (401 use_dpop_nonce)', async () => {
    assert.ok(s.openidClient, 'the openid-client flow failed');
    const { config, keyPair, tokens, sub } = s.openidClient;
    srv.fetch.log.length = 0;
    // A new handle for the same key has no nonce cached, so its first proof has none.
    const info = await client.fetchUserInfo(config, tokens.access_token, sub, {
      DPoP: client.getDPoPHandle(config, keyPair),
    });
    assert.equal(info.sub, sub);
    const [challenge] = nonceChallenges(srv.fetch.log, '/userinfo');
    assert.ok(challenge, 'userinfo accepted a proof without a nonce from a --require-dpop-nonce client');
    assertChallenge(challenge, 401);
    assert.match(challenge.headers['www-authenticate'], /^DPoP\b/i);
    assertAcceptedProofsHadNonce(srv.fetch.log, '/userinfo');
  });

  it('oauth4webapi: isDPoPNonceError + one retry, for the code flow and client_credentials', async () => {
    srv.fetch.log.length = 0;
    const ctx = await setup(srv);
    const a = await authorize(srv, ctx);
    assertChallenge(nonceChallenges(srv.fetch.log, '/par')[0] ?? assert.fail('no PAR challenge'), 400);
    const params = oauth.validateAuthResponse(ctx.as, ctx.client, a.callbackUrl, a.state);
    const { result } = await codeGrant(srv, ctx, { params, verifier: a.verifier, nonce: a.nonce });
    assert.equal(result.token_type, 'dpop');
    assertAcceptedProofsHadNonce(srv.fetch.log, '/token');

    const DPoP = oauth.DPoP(ctx.client, await oauth.generateKeyPair('ES256'));
    const cc = await retryOnDpopNonce(async () =>
      oauth.processClientCredentialsResponse(
        ctx.as,
        ctx.client,
        await oauth.clientCredentialsGrantRequest(ctx.as, ctx.client, ctx.clientAuth, new URLSearchParams({ scope: 'accounts' }), {
          ...ctx.opts,
          DPoP,
        }),
      ),
    );
    assert.equal(cc.token_type, 'dpop');
    assert.ok(nonceChallenges(srv.fetch.log, '/token').length >= 1, 'client_credentials with a new key was challenged');
  });

  it('a proof with a made-up nonce is refused with a fresh DPoP-Nonce', async () => {
    const ctx = await setup(srv);
    const DPoP = oauth.DPoP(ctx.client, await oauth.generateKeyPair('ES256'), {
      [oauth.modifyAssertion]: (_header, payload) => {
        payload.nonce = 'not-a-server-nonce';
      },
    });
    const res = await oauth.clientCredentialsGrantRequest(ctx.as, ctx.client, ctx.clientAuth, new URLSearchParams({ scope: 'accounts' }), {
      ...ctx.opts,
      DPoP,
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.ok(['use_dpop_nonce', 'invalid_dpop_proof'].includes(body.error), `error ${body.error}`);
    if (body.error === 'use_dpop_nonce') assert.ok(res.headers.get('dpop-nonce'));
  });
});
