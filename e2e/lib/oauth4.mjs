// Small helpers around oauth4webapi 3's low-level API (it leaves DPoP nonce retries to the caller).

import * as oauth from 'oauth4webapi';
import { signInAndConsent } from './browser.mjs';
import { AUTHORIZATION_DETAILS } from './fixtures.mjs';
import { SCOPE } from './server.mjs';

/**
 * Runs `attempt()` (a request and its processing); if the server answers `use_dpop_nonce`, the
 * DPoP handle has cached the `DPoP-Nonce` it sent, so one retry is made (RFC 9449 §8).
 */
export async function retryOnDpopNonce(attempt) {
  try {
    return await attempt();
  } catch (e) {
    if (oauth.isDPoPNonceError(e)) return attempt();
    throw e;
  }
}

/**
 * Discovery plus the client objects oauth4webapi needs, for one server from `startServer` and
 * one of its clients (default: the main one).
 */
export async function setup(srv, registered = srv.client) {
  const opts = { [oauth.customFetch]: srv.fetch };
  const issuer = new URL(srv.issuer);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, opts));
  const client = { client_id: registered.id };
  const clientAuth = oauth.PrivateKeyJwt({ key: registered.key, kid: registered.kid });
  const dpopKeys = await oauth.generateKeyPair('ES256');
  const DPoP = oauth.DPoP(client, dpopKeys);
  return { as, client, clientAuth, DPoP, dpopKeys, opts, redirectUri: registered.redirectUri };
}

/**
 * PAR only (with DPoP, so the code is bound to the key): PKCE S256, state, nonce and the payment
 * `authorization_details`, plus `extra` parameters (e.g. `{ acr_values: 'phrh' }`). Returns
 * `{ par, verifier, state, nonce, authorizationUrl }`; a browser then opens `authorizationUrl`.
 */
export async function pushAuthorization(srv, { as, client, clientAuth, DPoP, opts, redirectUri }, extra = {}) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const parameters = new URLSearchParams({
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    authorization_details: AUTHORIZATION_DETAILS,
    ...extra,
  });
  const par = await retryOnDpopNonce(async () =>
    oauth.processPushedAuthorizationResponse(
      as,
      client,
      await oauth.pushedAuthorizationRequest(as, client, clientAuth, parameters, { ...opts, DPoP }),
    ),
  );
  const authorizationUrl = new URL(as.authorization_endpoint);
  authorizationUrl.searchParams.set('client_id', client.client_id);
  authorizationUrl.searchParams.set('request_uri', par.request_uri);
  return { par, verifier, state, nonce, authorizationUrl };
}

/**
 * PAR (with DPoP, so the code is bound to the key) → sign-in → consent. Returns
 * `{ params (validated callback parameters), verifier, state, nonce, consentHtml, callbackUrl }`.
 */
export async function authorize(srv, ctx, { decision = 'approve' } = {}) {
  const { par, verifier, state, nonce, authorizationUrl } = await pushAuthorization(srv, ctx);

  const r = await signInAndConsent({
    agent: srv.agent,
    issuer: srv.issuer,
    authorizationUrl,
    username: srv.user.username,
    password: srv.user.password,
    decision,
  });
  const callbackUrl = new URL(r.callbackUrl);
  return { par, verifier, state, nonce, callbackUrl, consentHtml: r.consentHtml, consentHeaders: r.consentHeaders };
}

/**
 * Exchanges validated callback `params` for tokens (DPoP-bound). Returns `{ result, response }`:
 * the processed token response and the Response it came from (for
 * `validateApplicationLevelSignature`).
 */
export function codeGrant(srv, { as, client, clientAuth, DPoP, opts, redirectUri }, { params, verifier, nonce }) {
  return retryOnDpopNonce(async () => {
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      clientAuth,
      params,
      redirectUri,
      verifier,
      { ...opts, DPoP },
    );
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: nonce,
      requireIdToken: true,
    });
    return { result, response };
  });
}
