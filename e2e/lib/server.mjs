// Test harness: a real `shonin --dev serve` in a temp dir, with one registered client and user.
//
// It builds nothing. The binary comes from SHONIN_BIN, else $CARGO_TARGET_DIR/debug/shonin
// (scripts/test moves the target dir in CI), else ../target/debug/shonin next to e2e/.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateClientKey } from './keys.mjs';
import { makeAgent, makeRecordingFetch, rawRequest } from './tls-fetch.mjs';

const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO_ROOT = process.env.SHONIN_REPO_ROOT ? path.resolve(process.env.SHONIN_REPO_ROOT) : path.resolve(E2E_DIR, '..');

export const CLIENT_ID = 'e2e-client';
export const CLIENT_NAME = 'E2E client';
export const USERNAME = 'alice';
export const SCOPE = 'openid accounts payments';

/** The shonin binary to test; throws a clear error when there is none. */
export function shoninBinary() {
  let bin;
  let why;
  if (process.env.SHONIN_BIN) {
    bin = path.resolve(process.env.SHONIN_BIN);
    why = 'SHONIN_BIN';
  } else if (process.env.CARGO_TARGET_DIR) {
    bin = path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR, 'debug', 'shonin');
    why = 'CARGO_TARGET_DIR/debug/shonin';
  } else {
    bin = path.resolve(E2E_DIR, '..', 'target', 'debug', 'shonin');
    why = 'default ../target/debug/shonin';
  }
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(
      `shonin binary not found or not executable: ${bin} (${why}).\n` +
        'Build it first (`cargo build -p shonin-server`; scripts/test builds it in its test step) ' +
        'or point SHONIN_BIN at it.',
    );
  }
  return bin;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The environment for shonin: ours, minus every inherited SHONIN_* variable (the config loader
 * treats unknown SHONIN_* names as configuration keys and refuses them, and scripts/test exports
 * SHONIN_REPO_ROOT), plus the settings of this run.
 */
function shoninEnv(port, extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('SHONIN_')) env[k] = v;
  }
  env.SHONIN_ISSUER = `https://localhost:${port}`;
  env.SHONIN_SERVER__LISTEN = `127.0.0.1:${port}`;
  env.SHONIN_RATE_LIMIT__PER_IP_PER_SECOND = '0';
  env.NO_COLOR = '1';
  return { ...env, ...extra };
}

/** Runs one shonin command to completion; rejects with its output when it fails. */
function runCommand(bin, args, { cwd, env, stdin } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else {
        const shown = args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ');
        reject(new Error(`\`shonin ${shown}\` failed (exit ${code ?? signal}):\n${stdout}${stderr}`));
      }
    });
    child.stdin.end(stdin ?? '');
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '<no log>';
  }
}

/**
 * Starts a fresh server. With `requireDpopNonce`, the client is registered with
 * `--require-dpop-nonce` (every DPoP proof must carry a server nonce, RFC 9449 §8).
 * `extraClients: [{ id, name, redirectUri }]` registers more clients with the same key (their
 * objects are in `server.extraClients`).
 * `env: { SHONIN_…: value }` adds configuration; `setup(run, { issuer, port, dir })` runs more
 * `shonin` commands (e.g. `clients add` for an mTLS client) before `serve`.
 * Returns everything a test needs:
 * `{ issuer, port, dir, agent, fetch, client: {id, name, redirectUri, key, kid, publicJwk},
 *    user: {username, password}, run(args), stop(), logFile, logTail() }`.
 */
export async function startServer(options = {}) {
  // The free port is only free until someone else takes it: start again (new port, new dir)
  // if `serve` could not bind it.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (e) {
      if (attempt >= 3 || !(e instanceof PortTaken)) throw e;
    }
  }
}

class PortTaken extends Error {}

async function startOnce({ name = 'e2e', requireDpopNonce = false, extraClients = [], env: extraEnv = {}, setup }) {
  const bin = shoninBinary();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `shonin-${name}-`));
  const dataDir = path.join(dir, 'shonin-data');
  const port = await freePort();
  const issuer = `https://localhost:${port}`;
  const env = shoninEnv(port, extraEnv);
  const global = ['--dev', '--data-dir', dataDir];
  const run = (args, opts = {}) => runCommand(bin, [...global, ...args], { cwd: dir, env, ...opts });

  // The client's signing key: ES256, public half registered inline as a JWK set.
  const clientKey = await generateClientKey();
  const jwksFile = path.join(dir, 'jwks.json');
  await fsp.writeFile(jwksFile, JSON.stringify({ keys: [clientKey.publicJwk] }, null, 2));
  const redirectUri = `https://localhost:${port}/cb`;
  const password = `pw-${crypto.randomBytes(18).toString('base64url')}`;

  // `migrate` alone does not create the data directory (only `serve --dev` prepares it), so
  // create it as `serve` would: owner-only.
  await fsp.mkdir(dataDir, { mode: 0o700 });
  await run(['migrate']);
  await run([
    'clients', 'add',
    '--client-id', CLIENT_ID,
    '--name', CLIENT_NAME,
    '--redirect-uri', redirectUri,
    '--jwks-file', jwksFile,
    '--scope', SCOPE,
    '--authorization-details-type', 'payment_initiation',
    '--authorization-details-type', 'account_information',
    '--grant-type', 'authorization_code',
    '--grant-type', 'refresh_token',
    '--grant-type', 'client_credentials',
    ...(requireDpopNonce ? ['--require-dpop-nonce'] : []),
  ]);
  // More clients with the same key, e.g. one whose redirect URI is on another origin.
  for (const c of extraClients) {
    await run([
      'clients', 'add',
      '--client-id', c.id,
      '--name', c.name ?? c.id,
      '--redirect-uri', c.redirectUri,
      '--jwks-file', jwksFile,
      '--scope', SCOPE,
      '--authorization-details-type', 'payment_initiation',
      '--authorization-details-type', 'account_information',
    ]);
  }
  await run(['users', 'add', '--username', USERNAME, '--password-stdin'], { stdin: `${password}\n` });
  if (setup) await setup(run, { issuer, port, dir });

  const logFile = path.join(dir, 'server.log');
  const log = fs.openSync(logFile, 'a');
  const child = spawn(bin, [...global, 'serve'], { cwd: dir, env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let exitedEarly;
  exited.then((r) => (exitedEarly = r));

  const caFile = path.join(dataDir, 'tls', 'dev-ca.pem');
  let agent;
  const deadline = Date.now() + 30_000;
  let lastError = 'never tried';
  for (;;) {
    if (exitedEarly) {
      const Err = /cannot bind|address already in use/i.test(tail(logFile)) ? PortTaken : Error;
      throw new Err(`shonin serve exited early (${JSON.stringify(exitedEarly)}):\n${tail(logFile)}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`shonin serve not ready within 30 s (last: ${lastError}):\n${tail(logFile)}`);
    }
    try {
      agent ??= makeAgent(await fsp.readFile(caFile, 'utf8'));
      const res = await rawRequest(agent, `${issuer}/readyz`);
      if (res.status === 200) break;
      lastError = `GET /readyz -> ${res.status} ${res.text.slice(0, 200)}`;
    } catch (e) {
      lastError = e.code ?? e.message;
    }
    await sleep(100);
  }

  // If this process dies without stop() (an uncaught error, Ctrl-C), do not leave the server
  // running: 'exit' handlers may only do synchronous work, and kill() is synchronous.
  const killOnExit = () => {
    if (!exitedEarly) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopped;
  const server = {
    issuer,
    port,
    dir,
    agent,
    fetch: makeRecordingFetch(agent),
    client: { id: CLIENT_ID, name: CLIENT_NAME, redirectUri, ...clientKey },
    extraClients: extraClients.map((c) => ({ name: c.id, ...c, ...clientKey })),
    user: { username: USERNAME, password },
    run,
    logFile,
    logTail: (n) => tail(logFile, n),
    /**
     * SIGTERM by PID; resolves to the exit status and asserts a clean exit (code 0). `inspect`,
     * if given, runs after the server has exited and before its directory is removed (with the
     * directory as argument), e.g. to scan what it wrote.
     */
    async stop({ inspect } = {}) {
      if (stopped) return stopped;
      stopped = (async () => {
        process.removeListener('exit', killOnExit);
        const t0 = Date.now();
        if (!exitedEarly) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const status = await exited;
        clearTimeout(timer);
        server.stopMs = Date.now() - t0;
        await agent.close().catch(() => {});
        const ok = status.code === 0;
        if (ok && inspect) await inspect(dir);
        if (ok && process.env.SHONIN_E2E_KEEP !== '1') {
          await fsp.rm(dir, { recursive: true, force: true });
        } else {
          process.stderr.write(`# shonin e2e: kept ${dir}\n`);
        }
        assert.deepEqual(status, { code: 0, signal: null }, `shonin serve should exit 0 on SIGTERM:\n${tail(logFile)}`);
        return status;
      })();
      return stopped;
    },
  };
  return server;
}
