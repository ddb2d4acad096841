// The peer in Shonin's token-endpoint benchmark: node-oidc-provider configured to the same profile
// as the Shonin run — FAPI 2.0, private_key_jwt with ES256 (aud = issuer), DPoP required for the
// client, client_credentials, and JWT access tokens signed with ES256 — so that each request costs
// it the same cryptography: two ES256 verifications and one ES256 signature.
//
// Listens with TLS on 127.0.0.1 only, with a certificate from a CA made for the benchmark.
// Configuration comes from the environment (see bench/run.sh):
//   PORT, ISSUER, TLS_CERT, TLS_KEY, CLIENT_ID, CLIENT_JWKS (file with the public JWK set).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'accounts',
      dpop_bound_access_tokens: true,
      // The provider has only an ES256 key; the client never gets an ID token here anyway.
      id_token_signed_response_alg: 'ES256',
    },
  ],
  enabledJWA: {
    clientAuthSigningAlgValues: ['ES256', 'PS256', 'EdDSA'],
    dPoPSigningAlgValues: ['ES256', 'PS256', 'EdDSA'],
  },
  scopes: ['accounts'],
  features: {
    fapi: { enabled: true, profile: '2.0' },
    dPoP: { enabled: true, nonceSecret: randomBytes(32) },
    clientCredentials: { enabled: true },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
    devInteractions: { enabled: false },
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
  ttl: { ClientCredentials: 300 },
});

provider.on('server_error', (_ctx, err) => {
  console.error('server_error', err);
});

const server = createServer(
  { cert: readFileSync(env('TLS_CERT')), key: readFileSync(env('TLS_KEY')) },
  provider.callback(),
);
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => {
  console.error(`oidc-provider ${issuer} listening on 127.0.0.1:${port}`);
});
