// A throw-away client PKI for the mTLS tests (RFC 8705), made at test time in a temp dir with
// the `openssl` command line tool (Debian's `openssl` package, on the machine image). No private
// key is committed; the directory is deleted by the caller.

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

function openssl(args, cwd) {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

/** A CA (P-256, 2 days) in `dir`: `{ name, certPem, certFile, issue(cn, opts) }`. */
export function makeCa(dir, name) {
  const key = path.join(dir, `${name}-ca.key`);
  const certFile = path.join(dir, `${name}-ca.pem`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', certFile, '-days', '2', '-subj', `/CN=${name} client CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ], dir);
  let serial = 0;
  return {
    name,
    certFile,
    certPem: fs.readFileSync(certFile, 'utf8'),
    /**
     * A client certificate `/C=DE/O=E2E Bank/CN=<cn>` (RFC 4514: `CN=<cn>,O=E2E Bank,C=DE`)
     * with the clientAuth extended key usage: `{ cert, key, x5t }` (PEM strings; x5t#S256).
     * `{ serverIp }` makes a server certificate for that IP address instead.
     */
    issue(cn, { serverIp } = {}) {
      serial += 1;
      const base = path.join(dir, `${name}-${cn}-${serial}`);
      openssl([
        'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/C=DE/O=E2E Bank/CN=${cn}`,
      ], dir);
      // With `serverIp`, a TLS server certificate for that address instead (serverAuth, IP SAN).
      const usage = serverIp ? `extendedKeyUsage=serverAuth\nsubjectAltName=IP:${serverIp}\n` : 'extendedKeyUsage=clientAuth\n';
      fs.writeFileSync(`${base}.ext`, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n${usage}`);
      openssl([
        'x509', '-req', '-in', `${base}.csr`, '-CA', certFile, '-CAkey', key,
        '-set_serial', String(1000 + serial), '-days', '1', '-out', `${base}.pem`, '-extfile', `${base}.ext`,
      ], dir);
      const cert = fs.readFileSync(`${base}.pem`, 'utf8');
      return { cert, key: fs.readFileSync(`${base}.key`, 'utf8'), x5t: x5tS256(cert) };
    },
  };
}

/**
 * A self-signed certificate (RFC 8705 §2.2) `/CN=<cn>` in `dir`: `{ cert, key, x5t, jwk }`, where
 * `jwk` is the public key to register in the client's JWK set.
 */
export function selfSigned(dir, cn) {
  const base = path.join(dir, `self-${cn}`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${base}.key`, '-out', `${base}.pem`, '-days', '1', '-subj', `/CN=${cn}`,
  ], dir);
  const cert = fs.readFileSync(`${base}.pem`, 'utf8');
  const key = fs.readFileSync(`${base}.key`, 'utf8');
  const jwk = crypto.createPublicKey(key).export({ format: 'jwk' });
  return { cert, key, x5t: x5tS256(cert), jwk: { ...jwk, kid: 'mtls', use: 'sig', alg: 'ES256' } };
}

/** RFC 8705 §3.1: base64url SHA-256 of the certificate's DER. */
export function x5tS256(certPem) {
  const der = new crypto.X509Certificate(certPem).raw;
  return crypto.createHash('sha256').update(der).digest('base64url');
}
