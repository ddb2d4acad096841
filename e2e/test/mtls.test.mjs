// panva/openid-client 6, unmodified, over an HTTPS agent that carries a TLS client certificate:
// tls_client_auth (RFC 8705 §2.1) and certificate-bound access and refresh tokens (§3) through the
// whole FAPI 2.0 code flow, then the negative cases at the HTTP level.

import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { signInAndConsent } from '../lib/browser.mjs';
import { decodeJwt } from '../lib/keys.mjs';
import { makeCa, selfSigned } from '../lib/pki.mjs';
import { SCOPE, startServer } from '../lib/server.mjs';
import { makeAgent, makeRecordingFetch, rawRequest } from '../lib/tls-fetch.mjs';

const MTLS_CLIENT = 'e2e-mtls';
const SELF_SIGNED_CLIENT = 'e2e-self-signed';
const SUBJECT_DN = `CN=${MTLS_CLIENT},O=E2E Bank,C=DE`;

describe('openid-client 6: tls_client_auth with certificate-bound tokens (RFC 8705)', () => {
  let srv;
  let pkiDir;
  let ca;
  let otherCa;
  let leaf;
  let mtlsAgent;
  let mtlsFetch;
  let config;
  let redirectUri;
  let selfLeaf;
  const s = {};

  before(async () => {
    pkiDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'shonin-e2e-pki-'));
    ca = makeCa(pkiDir, 'trusted');
    otherCa = makeCa(pkiDir, 'other');
    leaf = ca.issue(MTLS_CLIENT);
    selfLeaf = selfSigned(pkiDir, SELF_SIGNED_CLIENT);
    const selfJwks = path.join(pkiDir, 'self-jwks.json');
    await fsp.writeFile(selfJwks, JSON.stringify({ keys: [selfLeaf.jwk] }));
    srv = await startServer({
      name: 'mtls',
      env: {
        SHONIN_SERVER__CLIENT_CERTIFICATES: 'optional',
        SHONIN_SERVER__CLIENT_CA_FILE: ca.certFile,
      },
      setup: async (run, { issuer }) => {
        redirectUri = `${issuer}/cb`;
        await run([
          'clients', 'add', '--client-id', MTLS_CLIENT, '--name', 'E2E mTLS client',
          '--redirect-uri', redirectUri, '--scope', SCOPE,
          '--auth-method', 'tls_client_auth', '--tls-subject-dn', SUBJECT_DN,
          '--dpop-bound=false', '--certificate-bound',
          '--grant-type', 'authorization_code', '--grant-type', 'refresh_token',
          '--grant-type', 'client_credentials',
        ]);
        // self_signed_tls_client_auth with DPoP-bound tokens (the default sender constraint).
        await run([
          'clients', 'add', '--client-id', SELF_SIGNED_CLIENT, '--name', 'E2E self-signed client',
          '--auth-method', 'self_signed_tls_client_auth', '--jwks-file', selfJwks,
          '--scope', 'accounts', '--grant-type', 'client_credentials',
        ]);
      },
    });
    const caPem = await fsp.readFile(path.join(srv.dir, 'shonin-data', 'tls', 'dev-ca.pem'), 'utf8');
    mtlsAgent = makeAgent(caPem, { cert: leaf.cert, key: leaf.key });
    mtlsFetch = makeRecordingFetch(mtlsAgent);
    s.caPem = caPem;
  });

  after(async () => {
    await mtlsAgent?.close().catch(() => {});
    await srv?.stop();
    if (pkiDir) await fsp.rm(pkiDir, { recursive: true, force: true });
  });

  const need = (...keys) => {
    for (const k of keys) assert.ok(s[k] !== undefined, `an earlier step did not produce ${k}`);
  };

  it('discovery advertises mTLS authentication and certificate-bound tokens', async () => {
    config = await client.discovery(new URL(srv.issuer), MTLS_CLIENT, {}, client.TlsClientAuth(), {
      [client.customFetch]: mtlsFetch,
    });
    const md = config.serverMetadata();
    assert.ok(md.token_endpoint_auth_methods_supported.includes('tls_client_auth'));
    assert.ok(md.token_endpoint_auth_methods_supported.includes('self_signed_tls_client_auth'));
    assert.equal(md.tls_client_certificate_bound_access_tokens, true);
  });

  it('runs the code flow: PAR, sign-in, consent, code → certificate-bound tokens', async () => {
    assert.ok(config, 'discovery failed');
    s.verifier = client.randomPKCECodeVerifier();
    s.state = client.randomState();
    s.nonce = client.randomNonce();
    const url = await client.buildAuthorizationUrlWithPAR(config, {
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(s.verifier),
      code_challenge_method: 'S256',
      state: s.state,
      nonce: s.nonce,
    });
    assert.equal(mtlsFetch.last('/par').status, 201, mtlsFetch.last('/par').body);
    const r = await signInAndConsent({
      agent: srv.agent,
      issuer: srv.issuer,
      authorizationUrl: url,
      username: srv.user.username,
      password: srv.user.password,
    });
    const tokens = await client.authorizationCodeGrant(config, new URL(r.callbackUrl), {
      pkceCodeVerifier: s.verifier,
      expectedState: s.state,
      expectedNonce: s.nonce,
      idTokenExpected: true,
    });
    const raw = JSON.parse(mtlsFetch.last('/token').body);
    assert.match(raw.token_type, /^bearer$/i, `token_type Bearer (got ${raw.token_type})`);
    const at = decodeJwt(tokens.access_token);
    assert.deepEqual(at.payload.cnf, { 'x5t#S256': leaf.x5t }, 'cnf.x5t#S256 is the client certificate thumbprint');
    s.tokens = tokens;
    s.sub = tokens.claims().sub;
  });

  it('userinfo accepts the token over the same certificate, and only there', async () => {
    need('tokens', 'sub');
    const info = await client.fetchUserInfo(config, s.tokens.access_token, s.sub);
    assert.equal(info.sub, s.sub);
    // The same token over a connection without a certificate, or with another one.
    const plain = makeAgent(s.caPem);
    const stranger = ca.issue(MTLS_CLIENT);
    const other = makeAgent(s.caPem, { cert: stranger.cert, key: stranger.key });
    try {
      for (const [agent, what] of [[plain, 'no certificate'], [other, 'another certificate']]) {
        const res = await rawRequest(agent, `${srv.issuer}/userinfo`, {
          headers: { authorization: `Bearer ${s.tokens.access_token}` },
        });
        assert.equal(res.status, 401, what);
        assert.match(res.headers['www-authenticate'], /^Bearer error="invalid_token"/, what);
      }
    } finally {
      await plain.close();
      await other.close();
    }
  });

  it('introspection (authenticated by the certificate) returns cnf.x5t#S256', async () => {
    need('tokens');
    const intro = await client.tokenIntrospection(config, s.tokens.access_token);
    assert.equal(intro.active, true);
    assert.equal(intro.token_type, 'Bearer');
    assert.equal(intro.cnf?.['x5t#S256'], leaf.x5t);
  });

  it('refresh works with the same certificate and is refused with another one', async () => {
    need('tokens');
    const refreshed = await client.refreshTokenGrant(config, s.tokens.refresh_token);
    assert.equal(decodeJwt(refreshed.access_token).payload.cnf['x5t#S256'], leaf.x5t);
    // A second certificate with the same subject from the same CA authenticates the client, but
    // the refresh token is bound to the first one (RFC 8705 §3).
    const second = ca.issue(MTLS_CLIENT);
    const agent = makeAgent(s.caPem, { cert: second.cert, key: second.key });
    try {
      const res = await rawRequest(agent, `${srv.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: s.tokens.refresh_token, client_id: MTLS_CLIENT }).toString(),
      });
      assert.equal(res.status, 400);
      assert.equal(res.json().error, 'invalid_grant');
    } finally {
      await agent.close();
    }
  });

  it('client_credentials: no certificate, another CA, wrong subject are invalid_client', async () => {
    const cases = [
      ['no certificate', undefined],
      ['another CA', otherCa.issue(MTLS_CLIENT)],
      ['subject mismatch', ca.issue('someone-else')],
    ];
    for (const [what, cert] of cases) {
      const agent = makeAgent(s.caPem, cert ? { cert: cert.cert, key: cert.key } : {});
      try {
        const res = await rawRequest(agent, `${srv.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'client_credentials', client_id: MTLS_CLIENT, scope: 'accounts' }).toString(),
        });
        assert.equal(res.status, 401, what);
        assert.equal(res.json().error, 'invalid_client', what);
      } finally {
        await agent.close();
      }
    }
    const ok = await client.clientCredentialsGrant(config, { scope: 'accounts' });
    assert.equal(decodeJwt(ok.access_token).payload.cnf['x5t#S256'], leaf.x5t);
  });

  it('self_signed_tls_client_auth with DPoP-bound tokens (mTLS authentication + DPoP)', async () => {
    const agent = makeAgent(s.caPem, { cert: selfLeaf.cert, key: selfLeaf.key });
    try {
      const selfConfig = await client.discovery(new URL(srv.issuer), SELF_SIGNED_CLIENT, {}, client.TlsClientAuth(), {
        [client.customFetch]: makeRecordingFetch(agent),
      });
      const keyPair = await client.randomDPoPKeyPair('ES256');
      const DPoP = client.getDPoPHandle(selfConfig, keyPair);
      const tokens = await client.clientCredentialsGrant(selfConfig, { scope: 'accounts' }, { DPoP });
      assert.match(tokens.token_type, /^dpop$/i);
      const cnf = decodeJwt(tokens.access_token).payload.cnf;
      assert.ok(cnf?.jkt && !cnf['x5t#S256'], `bound to the DPoP key only: ${JSON.stringify(cnf)}`);
    } finally {
      await agent.close();
    }
    // Another self-signed certificate (its key is not in the client's JWK set) is refused.
    const stranger = selfSigned(pkiDir, 'stranger');
    const other = makeAgent(s.caPem, { cert: stranger.cert, key: stranger.key });
    try {
      const res = await rawRequest(other, `${srv.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: SELF_SIGNED_CLIENT }).toString(),
      });
      assert.equal(res.status, 401);
      assert.equal(res.json().error, 'invalid_client');
    } finally {
      await other.close();
    }
  });
});
