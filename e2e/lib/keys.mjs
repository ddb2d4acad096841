// Client keys with WebCrypto only (no jose needed): ES256 (P-256), kid = RFC 7638 thumbprint.

import crypto from 'node:crypto';

const { subtle } = globalThis.crypto;

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC or OKP or RSA public JWK. */
export function jwkThumbprint(jwk) {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : jwk.kty === 'OKP'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
        : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return crypto.createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/**
 * A new ES256 client key pair: `{ key: CryptoKey (private), kid, publicJwk }`. The private key is
 * not extractable; the public JWK carries kid, alg and use for the client's registered JWK set.
 */
export async function generateClientKey() {
  const pair = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const jwk = await subtle.exportKey('jwk', pair.publicKey);
  const publicJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  const kid = jwkThumbprint(publicJwk);
  return { key: pair.privateKey, kid, publicJwk: { ...publicJwk, kid, alg: 'ES256', use: 'sig' } };
}

/** Decodes a compact JWS's header and payload without verifying it (for assertions only). */
export function decodeJwt(jwt) {
  const [h, p] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
  };
}
