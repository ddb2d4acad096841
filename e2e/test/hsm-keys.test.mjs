// The signing key in an HSM, checked by a third-party client: a real `shonin --dev serve` with
// `[keys.pkcs11]` on a SoftHSM2 token made for this test (its keys generated inside the token by
// `shonin keys hsm-init`). oauth4webapi runs PAR → sign-in → consent → code grant and verifies
// the ID token's signature against the server's jwks_uri (`validateApplicationLevelSignature`);
// the ID and access tokens name the HSM key's kid, which `shonin keys list` shows in the HSM.
// Also a signed (RFC 9701) introspection response, verified the same way.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { IN_CI } from '../lib/chromium.mjs';
import { decodeJwt } from '../lib/keys.mjs';
import { authorize, codeGrant, setup } from '../lib/oauth4.mjs';
import { startServer } from '../lib/server.mjs';

const MODULE = process.env.SHONIN_PKCS11_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';
const PIN = '246810';

/** Why the HSM test cannot run here, or null. In CI it must run: scripts/test installs SoftHSM2. */
function hsmProblem() {
  if (!fs.existsSync(MODULE)) return `no PKCS#11 module at ${MODULE} (Debian: apt-get install softhsm2)`;
  try {
    execFileSync('softhsm2-util', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'softhsm2-util is not on PATH';
  }
  return null;
}

const problem = hsmProblem();
const skip = problem && !IN_CI ? problem : false;
if (skip) process.stderr.write(`# hsm-keys: SKIPPED: ${skip}\n`);

describe('tokens signed by a key in SoftHSM2, verified by oauth4webapi', { skip }, () => {
  const label = `shonin-e2e-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  let srv;
  let ctx;
  let hsmKid;

  before(async () => {
    assert.equal(problem, null, problem ?? '');
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', PIN, '--so-pin', '13579'], {
      stdio: 'ignore',
    });
    srv = await startServer({
      name: 'hsm-keys',
      setup: async (run, { dir }) => {
        const pinFile = path.join(dir, 'hsm.pin');
        await fsp.writeFile(pinFile, `${PIN}\n`, { mode: 0o600 });
        await fsp.writeFile(
          path.join(dir, 'shonin.toml'),
          `[keys.pkcs11]
module = "${MODULE}"
token_label = "${label}"
pin_file = "${pinFile}"
signing_key_label = "shonin-signing"
kek_label = "shonin-kek"
sessions = 2
serialize_calls = true
`,
        );
        await run(['keys', 'hsm-init']);
      },
    });
    const rows = JSON.parse((await srv.run(['keys', 'list', '--json'])).stdout);
    const current = rows.find((r) => r.keystore?.startsWith('hsm:') && r.alg === 'ES256' && r.state === 'current');
    assert.ok(current, JSON.stringify(rows));
    hsmKid = current.kid;
    ctx = await setup(srv);
  });

  after(async () => {
    await srv?.stop();
    try {
      execFileSync('softhsm2-util', ['--delete-token', '--token', label], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  });

  it('the published key set leads with the HSM key', async () => {
    const jwks = await (await srv.fetch(ctx.as.jwks_uri)).json();
    assert.equal(jwks.keys[0].kid, hsmKid, JSON.stringify(jwks));
    assert.equal(jwks.keys[0].kty, 'EC');
    assert.equal(jwks.keys[0].crv, 'P-256');
  });

  it('PAR → sign-in → consent → code: the ID token verifies against jwks_uri and names the HSM key', async () => {
    const a = await authorize(srv, ctx);
    const params = oauth.validateAuthResponse(ctx.as, ctx.client, a.callbackUrl, a.state);
    const { result, response } = await codeGrant(srv, ctx, { params, verifier: a.verifier, nonce: a.nonce });
    const claims = oauth.getValidatedIdTokenClaims(result);
    assert.equal(claims.iss, srv.issuer);
    // oauth4webapi fetches jwks_uri and checks the ES256 signature made inside the token.
    await oauth.validateApplicationLevelSignature(ctx.as, response, ctx.opts);
    assert.equal(decodeJwt(result.id_token).header.kid, hsmKid);
    assert.equal(decodeJwt(result.access_token).header.kid, hsmKid);

    // A signed introspection response (RFC 9701), from the same key, verified the same way.
    const alg = ctx.as.introspection_signing_alg_values_supported?.[0] ?? 'ES256';
    const jwtClient = { ...ctx.client, introspection_signed_response_alg: alg };
    const res = await oauth.introspectionRequest(ctx.as, jwtClient, ctx.clientAuth, result.access_token, {
      ...ctx.opts,
      requestJwtResponse: true,
    });
    assert.match(res.headers.get('content-type') ?? '', /^application\/token-introspection\+jwt/);
    const jwt = await res.clone().text();
    assert.equal(decodeJwt(jwt).header.kid, hsmKid);
    const introspected = await oauth.processIntrospectionResponse(ctx.as, jwtClient, res);
    assert.equal(introspected.active, true);
    await oauth.validateApplicationLevelSignature(ctx.as, res, ctx.opts);
  });
});
