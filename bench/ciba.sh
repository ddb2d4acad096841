#!/usr/bin/env bash
# OpenID CIBA approvals per second from request to token, in one run: release build, SQLite
# then a fresh PostgreSQL database, 8 flows in flight, a 3 s warm-up and a 10 s measured window.
# One flow is what a client and its user's phone do: POST /bc-authorize (private_key_jwt), one
# poll while it waits (authorization_pending), the approval page's passkey sign-in (software
# authenticator) and approve form, then POST /token with the CIBA grant and DPoP.
# Printed: flows/s, latency, the server's CPU per flow and the database's (PostgreSQL).
#
# Usage: bench/ciba.sh   (after `cargo build --release -p shonin-server -p loadgen`)
# Everything listens on 127.0.0.1; the server is stopped by its PID on exit.
set -euo pipefail
BENCH_NAME=ciba
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
PORT=18516
ISSUER=https://localhost:$PORT

"$L" keys --dir "$W/keys" >/dev/null 2>&1
head -c 24 /dev/urandom | base64 >"$W/password"

for engine in sqlite postgres; do
  engine_begin "$engine"
  "$S" --dev --data-dir "$D" migrate >/dev/null
  "$S" --dev --data-dir "$D" clients add --client-id bench-ciba --name "Bench CIBA" \
    --jwks-file "$W/keys/client-jwks.json" --scope "openid accounts" \
    --grant-type urn:openid:params:grant-type:ciba --backchannel-mode poll >/dev/null
  for u in warm-ciba bench-ciba; do
    "$S" --dev --data-dir "$D" users add --username "$u" --password-stdin <"$W/password" >/dev/null
  done
  serve_ready
  load() { # USER SECONDS LABEL
    "$L" flow --kind ciba --scope "openid accounts" --keys "$W/keys" --client-id bench-ciba \
      --issuer "$ISSUER" --ca "$D/tls/dev-ca.pem" --redirect-uri https://client.example/cb \
      --username "$1" --password-file "$W/password" --sign-in passkey --concurrency 8 \
      --duration "$2" --label "$3"
  }
  load warm-ciba 3 warm-up >/dev/null
  c0=$(cpu "$P") d0=$(pg_cpu)
  line=$(load bench-ciba 10 "shonin-$engine ciba")
  c1=$(cpu "$P") d1=$(pg_cpu)
  echo "$line"
  python3 - "$line" "$engine" "$c0" "$c1" "$d0" "$d1" <<'PY'
import json, sys
d, engine = json.loads(sys.argv[1]), sys.argv[2]
c0, c1, d0, d1 = map(float, sys.argv[3:7])
per = lambda s: s / d["ok"] * 1e3
db = f", database {per(d1 - d0):.2f} ms" if engine == "postgres" else ""
print(f"{engine} ciba: {d['flows_per_s']:.1f}/s, p50 {d['latency_ms']['p50']:.1f} ms, "
      f"p99 {d['latency_ms']['p99']:.1f} ms, failed {sum(d['failures_by_step'].values())}; "
      f"server CPU {per(c1 - c0):.2f} ms per flow{db}")
PY
  engine_end
done
