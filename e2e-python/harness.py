"""Test harness: a real `shonin --dev serve` in a temp dir, with one registered client and user.

It builds nothing. The binary comes from SHONIN_BIN, else $CARGO_TARGET_DIR/debug/shonin
(scripts/test moves the target dir in CI; a relative one is resolved against SHONIN_REPO_ROOT),
else ../target/debug/shonin next to e2e-python/.

TLS: every HTTP call trusts ONLY the development CA the server writes to
<tmp>/shonin-data/tls/dev-ca.pem (`requests` `verify=<that file>`). Certificate checks are
never switched off.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from jwskate import Jwk

from pki import Ca, Leaf, subject_dn

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = Path(os.environ.get("SHONIN_REPO_ROOT") or E2E_DIR.parent).resolve()

CLIENT_ID = "py-client"
CLIENT_NAME = "Python client"
# A tls_client_auth client (RFC 8705 §2.1) whose tokens are certificate-bound (§3).
MTLS_CLIENT_ID = "py-mtls-client"
USERNAME = "alice"
SCOPE = "openid accounts"


def shonin_binary() -> Path:
    """The shonin binary to test; raises a clear error when there is none."""
    if os.environ.get("SHONIN_BIN"):
        binary, why = Path(os.environ["SHONIN_BIN"]).resolve(), "SHONIN_BIN"
    elif os.environ.get("CARGO_TARGET_DIR"):
        binary = (REPO_ROOT / os.environ["CARGO_TARGET_DIR"] / "debug" / "shonin").resolve()
        why = "CARGO_TARGET_DIR/debug/shonin"
    else:
        binary, why = (E2E_DIR.parent / "target" / "debug" / "shonin").resolve(), "default ../target/debug/shonin"
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise RuntimeError(
            f"shonin binary not found or not executable: {binary} ({why}).\n"
            "Build it first (`cargo build -p shonin-server`; scripts/test builds it in its test step) "
            "or point SHONIN_BIN at it."
        )
    return binary


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shonin_env(port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment minus every inherited SHONIN_* variable (the server reads them as
    configuration, and scripts/test exports SHONIN_REPO_ROOT), plus this run's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHONIN_")}
    env.update(
        SHONIN_ISSUER=f"https://localhost:{port}",
        SHONIN_SERVER__LISTEN=f"127.0.0.1:{port}",
        SHONIN_RATE_LIMIT__PER_IP_PER_SECOND="0",
        NO_COLOR="1",
    )
    env.update(extra or {})
    return env


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<no log>"


def ca_pinned_session(ca_file: Path) -> requests.Session:
    """A `requests.Session` whose TLS trust store is exactly `ca_file`.

    `trust_env = False` matters: with it on, requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    (set on our machines) replace `Session.verify` for every request, so the system bundle would
    be used instead of the dev CA. It also keeps proxy variables away from loopback traffic.
    """
    s = requests.Session()
    s.trust_env = False
    s.verify = str(ca_file)
    return s


def log_exchange(r: requests.Response, *_: Any, **__: Any) -> requests.Response:
    """Prints each HTTP exchange (pytest shows it only for failing tests)."""
    req = r.request
    body = req.body.decode(errors="replace") if isinstance(req.body, bytes) else (req.body or "")
    dpop = req.headers.get("DPoP")
    print(f"> {req.method} {req.url}" + (" [DPoP proof]" if dpop else "") + (f"\n>   {body[:600]}" if body else ""))
    print(f"< {r.status_code} {r.headers.get('Content-Type', '')} {r.text[:600]!r}")
    for h in ("Location", "WWW-Authenticate", "DPoP-Nonce"):
        if h in r.headers:
            print(f"<   {h}: {r.headers[h]}")
    return r


class PortTaken(RuntimeError):
    pass


@dataclass
class Server:
    issuer: str
    port: int
    dir: Path
    ca_file: Path
    client_key: Jwk  # private ES256 key for private_key_jwt; its public half is registered
    redirect_uri: str
    username: str
    password: str
    log_file: Path
    process: subprocess.Popen
    client_ca: Ca  # the CA the server trusts for tls_client_auth (server.client_ca_file)
    _stopped: int | None = field(default=None, repr=False)

    @property
    def client_id(self) -> str:
        return CLIENT_ID

    @property
    def mtls_client_id(self) -> str:
        return MTLS_CLIENT_ID

    def session(self, *, log: bool = False, cert: Leaf | None = None) -> requests.Session:
        """A requests session that trusts only the dev CA; with `log`, it prints every exchange;
        with `cert`, it presents that TLS client certificate."""
        s = ca_pinned_session(self.ca_file)
        if cert is not None:
            s.cert = cert.pair
        if log:
            s.hooks["response"].append(log_exchange)
        return s

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_file, lines)

    def stop(self) -> int:
        """SIGTERM by PID; returns the exit code (a clean stop is 0)."""
        if self._stopped is not None:
            return self._stopped
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = -9
        self._stopped = code
        if code == 0 and os.environ.get("SHONIN_E2E_KEEP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print(f"# shonin e2e-python: kept {self.dir}")
        return code


def _run(binary: Path, global_args: list[str], args: list[str], *, cwd: Path, env: dict[str, str], stdin: str = "") -> str:
    proc = subprocess.run(
        [str(binary), *global_args, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"`shonin {' '.join(args)}` failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def start_server() -> Server:
    """Starts a fresh server; retries with a new port if `serve` could not bind the chosen one."""
    for attempt in range(1, 4):
        try:
            return _start_once()
        except PortTaken:
            if attempt == 3:
                raise
    raise AssertionError("unreachable")


def _start_once() -> Server:
    binary = shonin_binary()
    tmp = Path(tempfile.mkdtemp(prefix="shonin-py-"))
    data_dir = tmp / "shonin-data"
    port = free_port()
    issuer = f"https://localhost:{port}"
    client_ca = Ca(tmp, "trusted")
    env = shonin_env(
        port,
        {
            "SHONIN_SERVER__CLIENT_CERTIFICATES": "optional",
            "SHONIN_SERVER__CLIENT_CA_FILE": str(client_ca.cert_file),
        },
    )
    global_args = ["--dev", "--data-dir", str(data_dir)]

    def run(args: list[str], stdin: str = "") -> str:
        return _run(binary, global_args, args, cwd=tmp, env=env, stdin=stdin)

    # The client's signing key: ES256; only its public half is registered, inline.
    client_key = Jwk.generate(alg="ES256")
    client_key = client_key.with_kid_thumbprint()
    public = client_key.public_jwk().with_usage_parameters()
    jwks_file = tmp / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [dict(public)]}, indent=2))
    redirect_uri = f"https://localhost:{port}/cb"
    password = "pw-" + secrets.token_urlsafe(18)

    # `migrate` does not create the data directory (`serve --dev` does): make it owner-only.
    data_dir.mkdir(mode=0o700)
    run(["migrate"])
    run(
        [
            "clients", "add",
            "--client-id", CLIENT_ID,
            "--name", CLIENT_NAME,
            "--redirect-uri", redirect_uri,
            "--jwks-file", str(jwks_file),
            "--scope", SCOPE,
            "--grant-type", "authorization_code",
            "--grant-type", "refresh_token",
            "--grant-type", "client_credentials",
        ]
    )
    run(
        [
            "clients", "add",
            "--client-id", MTLS_CLIENT_ID,
            "--name", "Python mTLS client",
            "--redirect-uri", redirect_uri,
            "--scope", SCOPE,
            "--auth-method", "tls_client_auth",
            "--tls-subject-dn", subject_dn(MTLS_CLIENT_ID),
            "--dpop-bound=false",
            "--certificate-bound",
            "--grant-type", "authorization_code",
            "--grant-type", "refresh_token",
            "--grant-type", "client_credentials",
        ]
    )
    run(["users", "add", "--username", USERNAME, "--password-stdin"], stdin=password + "\n")

    log_file = tmp / "server.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [str(binary), *global_args, "serve"],
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    ca_file = data_dir / "tls" / "dev-ca.pem"
    deadline = time.monotonic() + 30
    last = "never tried"
    while True:
        code = process.poll()
        if code is not None:
            log_text = tail(log_file)
            err = PortTaken if ("address already in use" in log_text.lower() or "cannot bind" in log_text.lower()) else RuntimeError
            raise err(f"shonin serve exited early (exit {code}):\n{log_text}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"shonin serve not ready within 30 s (last: {last}):\n{tail(log_file)}")
        if ca_file.exists():
            try:
                with ca_pinned_session(ca_file) as probe:
                    r = probe.get(f"{issuer}/readyz", timeout=5)
                if r.status_code == 200:
                    break
                last = f"GET /readyz -> {r.status_code} {r.text[:200]}"
            except requests.RequestException as e:
                last = repr(e)
        time.sleep(0.1)

    return Server(
        issuer=issuer,
        port=port,
        dir=tmp,
        ca_file=ca_file,
        client_key=client_key,
        redirect_uri=redirect_uri,
        username=USERNAME,
        password=password,
        log_file=log_file,
        process=process,
        client_ca=client_ca,
    )
