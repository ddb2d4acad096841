#!/usr/bin/env bash
# Transaction approvals per second on their own (the approval phase of bench/run.sh, without the
# rest of the run): release build, SQLite then a fresh PostgreSQL database, 8 approvals in flight,
# a 3 s warm-up (its own user) and a 10 s measured window; the server's CPU per approval, the
# database's (PostgreSQL), and the 1-thread ES256 rates to set them beside. Each approval is
# create → challenge → the software passkey signs → approve (receipt signed) → execute.
#
# Usage: bench/approvals.sh   (after `cargo build --release -p shonin-server -p loadgen`)
# Everything listens on 127.0.0.1; the server is stopped by its PID on exit.
set -euo pipefail
BENCH_NAME=approvals
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
PORT=18512
ISSUER=https://localhost:$PORT

"$L" keys --dir "$W/keys" >/dev/null 2>&1
head -c 24 /dev/urandom | base64 >"$W/password"
"$L" crypto --seconds 3 --threads 1 >"$W/crypto.json"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["threads"]["1"]; print("ES256 on one core: %.0f verifications/s, %.0f signatures/s; 9 + 1 per approval = %.3f ms" % (t["jose_verify_per_s"], t["jose_sign_per_s"], (9/t["jose_verify_per_s"] + 1/t["jose_sign_per_s"]) * 1e3))' "$W/crypto.json"

for engine in sqlite postgres; do
  engine_begin "$engine"
  "$S" --dev --data-dir "$D" migrate >/dev/null
  "$S" --dev --data-dir "$D" clients add --client-id bench-txn --name "Bank backend" \
    --jwks-file "$W/keys/client-jwks.json" --scope transactions \
    --redirect-uri https://client.example/cb --grant-type client_credentials >/dev/null
  for u in warm-user bench-user; do
    "$S" --dev --data-dir "$D" users add --username "$u" --password-stdin <"$W/password" >/dev/null
  done
  id_of() { "$S" --dev --data-dir "$D" users list | awk -v u="$1" '$1 == u { print $2 }'; }
  serve_ready
  load() { # USER SECONDS LABEL
    "$L" flow --kind approval --keys "$W/keys" --client-id bench-txn --issuer "$ISSUER" \
      --ca "$D/tls/dev-ca.pem" --redirect-uri https://client.example/cb --username "$1" \
      --password-file "$W/password" --sign-in passkey --user-id "$(id_of "$1")" \
      --concurrency 8 --duration "$2" --label "$3"
  }
  load warm-user 3 warm-up >/dev/null
  c0=$(cpu "$P") d0=$(pg_cpu)
  line=$(load bench-user 10 "shonin-$engine approvals")
  c1=$(cpu "$P") d1=$(pg_cpu)
  echo "$line"
  python3 - "$line" "$c0" "$c1" "$d0" "$d1" "$engine" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); c0, c1, d0, d1 = map(float, sys.argv[2:6]); engine = sys.argv[6]
db = f", database {(d1 - d0) / d['ok'] * 1e3:.2f} ms" if engine == "postgres" else ""
print(f"{engine}: {d['flows_per_s']:.1f} approvals/s, p50 {d['latency_ms']['p50']:.1f} ms, "
      f"p99 {d['latency_ms']['p99']:.1f} ms, failed {sum(d['failures_by_step'].values())}; "
      f"server CPU {(c1 - c0) / d['ok'] * 1e3:.2f} ms per approval{db}")
PY
  engine_end
done
