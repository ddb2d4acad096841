// The peer in Shonin's token-endpoint benchmark: node-oidc-provider configured to the same profile
// as the Shonin run — FAPI 2.0, private_key_jwt with ES256 (aud = issuer), DPoP required for the
// client, client_credentials, and JWT access tokens signed with ES256 — so that each request costs
// it the same cryptography: two ES256 verifications and one ES256 signature.
//
// It also serves the refresh_token grant (refresh tokens not rotated, as Shonin's default) and the
// userinfo endpoint at /userinfo (DPoP-bound opaque access tokens). This peer has no sign-in
// pages, so the two tokens those loads present are not obtained through a code flow: at start,
// with TOKENS_OUT set, the provider's own models mint them (a grant for the user "bench-user", a
// refresh token of that grant with the resource server's scope, and an access token with scope
// openid bound to the DPoP key of DPOP_JWK, valid for an hour) and write {refresh_token,
// access_token} there. The
// measured requests then go through the provider's unchanged endpoints.
//
// Listens with TLS on 127.0.0.1 only, with a certificate from a CA made for the benchmark.
// Configuration comes from the environment (see bench/run.sh):
//   PORT, ISSUER, TLS_CERT, TLS_KEY, CLIENT_ID, CLIENT_JWKS (file with the public JWK set);
//   optional: TOKENS_OUT (file to write the two tokens to) and DPOP_JWK (file with the client's
//   public DPoP JWK, needed with TOKENS_OUT).

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import Provider from 'oidc-provider';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set`);
  }
  return v;
};

const port = Number(env('PORT'));
const issuer = env('ISSUER');
const clientId = env('CLIENT_ID');
const clientJwks = JSON.parse(readFileSync(env('CLIENT_JWKS'), 'utf8'));

// The provider's own ES256 signing key for access tokens, new at every start.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'bench-es256' };

// The resource server the client_credentials tokens are for: JWT access tokens (RFC 9068).
const RESOURCE = 'https://api.bench.invalid';

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: [
    {
      client_id: clientId,
      client_name: 'Shonin benchmark client',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: clientJwks,
      grant_types: ['client_credentials', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
      scope: 'openid offline_access accounts',
      dpop_bound_access_tokens: true,
      // The provider has only an ES256 key; the client never gets an ID token here anyway.
      id_token_signed_response_alg: 'ES256',
    },
  ],
  enabledJWA: {
    clientAuthSigningAlgValues: ['ES256', 'PS256', 'EdDSA'],
    dPoPSigningAlgValues: ['ES256', 'PS256', 'EdDSA'],
  },
  scopes: ['openid', 'offline_access', 'accounts'],
  features: {
    fapi: { enabled: true, profile: '2.0' },
    dPoP: { enabled: true, nonceSecret: randomBytes(32) },
    clientCredentials: { enabled: true },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'accounts',
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  // Shonin's defaults: 300 s access tokens, 30-day refresh tokens that are not rotated.
  ttl: { ClientCredentials: 300, AccessToken: 300, RefreshToken: 30 * 24 * 3600 },
  rotateRefreshToken: false,
  routes: { userinfo: '/userinfo' },
});

// RFC 7638 thumbprint of a P-256 public JWK.
const thumbprint = (jwk) => createHash('sha256')
  .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
  .digest('base64url');

// The tokens the refresh_token and userinfo loads present (see the top of this file).
async function mintTokens(out) {
  const dpopJwk = JSON.parse(readFileSync(env('DPOP_JWK'), 'utf8'));
  const client = await provider.Client.find(clientId);
  const accountId = 'bench-user';
  const grant = new provider.Grant({ accountId, clientId });
  grant.addOIDCScope('openid offline_access');
  grant.addResourceScope(RESOURCE, 'accounts');
  const grantId = await grant.save();
  // A confidential client's refresh token is bound to its authentication, not to a DPoP key
  // (RFC 9449 §5), as this provider's code flow would issue it; each refresh still needs a proof
  // (dpop_bound_access_tokens) and binds the new access token to its key.
  const refreshToken = await new provider.RefreshToken({
    accountId, client, grantId, gty: 'authorization_code', scope: 'offline_access accounts',
    resource: RESOURCE,
  }).save();
  const accessToken = await new provider.AccessToken({
    accountId, client, grantId, gty: 'authorization_code', scope: 'openid',
    jkt: thumbprint(dpopJwk),
    // It must outlive the loads before the userinfo load (the one-flow token on Shonin's side is
    // obtained right before its load instead).
    expiresIn: 3600,
  }).save();
  writeFileSync(out, JSON.stringify({ refresh_token: refreshToken, access_token: accessToken }),
    { mode: 0o600 });
}

provider.on('server_error', (_ctx, err) => {
  console.error('server_error', err);
});

const server = createServer(
  { cert: readFileSync(env('TLS_CERT')), key: readFileSync(env('TLS_KEY')) },
  provider.callback(),
);
server.keepAliveTimeout = 30_000;
if (process.env.TOKENS_OUT) {
  await mintTokens(process.env.TOKENS_OUT);
}
server.listen(port, '127.0.0.1', () => {
  console.error(`oidc-provider ${issuer} listening on 127.0.0.1:${port}`);
});
