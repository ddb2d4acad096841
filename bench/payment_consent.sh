#!/usr/bin/env bash
# FAPI payment consents per second beside plain code flows, in one run: release build, SQLite
# then a fresh PostgreSQL database, 8 flows in flight, a 3 s warm-up and a 10 s measured window
# per kind. Both kinds sign in with the user's passkey and redeem the code; they differ in step 5:
#   code flow        — no authorization details, the consent page's button;
#   payment consent  — a payment_initiation detail, the passkey signs the payment on the consent
#                      page (transaction created, challenged, approved with a receipt, and the
#                      request's one use and the code in the approval's unit).
# Printed: flows/s, latency, the server's CPU per flow and the database's (PostgreSQL), and the
# payment consent's cost as a ratio of the code flow's.
#
# Usage: bench/payment_consent.sh   (after `cargo build --release -p shonin-server -p loadgen`)
# Everything listens on 127.0.0.1; the server is stopped by its PID on exit.
set -euo pipefail
BENCH_NAME=consents
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
PORT=18514
ISSUER=https://localhost:$PORT

"$L" keys --dir "$W/keys" >/dev/null 2>&1
head -c 24 /dev/urandom | base64 >"$W/password"

for engine in sqlite postgres; do
  engine_begin "$engine"
  "$S" --dev --data-dir "$D" migrate >/dev/null
  "$S" --dev --data-dir "$D" clients add --client-id bench-tpp --name "Bench TPP" \
    --jwks-file "$W/keys/client-jwks.json" --scope "openid accounts payments" \
    --authorization-details-type payment_initiation \
    --redirect-uri https://client.example/cb --grant-type authorization_code >/dev/null
  for u in warm-flow bench-flow warm-pay bench-pay; do
    "$S" --dev --data-dir "$D" users add --username "$u" --password-stdin <"$W/password" >/dev/null
  done
  serve_ready
  load() { # KIND SCOPE USER SECONDS LABEL
    "$L" flow --kind "$1" --scope "$2" --keys "$W/keys" --client-id bench-tpp --issuer "$ISSUER" \
      --ca "$D/tls/dev-ca.pem" --redirect-uri https://client.example/cb --username "$3" \
      --password-file "$W/password" --sign-in passkey --concurrency 8 --duration "$4" --label "$5"
  }
  measure() { # KIND SCOPE WARM-USER USER NAME → JSON line with the server's and database's CPU
    load "$1" "$2" "$3" 3 warm-up >/dev/null
    local c0 d0 c1 d1 line
    c0=$(cpu "$P") d0=$(pg_cpu)
    line=$(load "$1" "$2" "$4" 10 "shonin-$engine $5")
    c1=$(cpu "$P") d1=$(pg_cpu)
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["server_cpu_s"]=float(sys.argv[3])-float(sys.argv[2]); d["db_cpu_s"]=float(sys.argv[5])-float(sys.argv[4]); print(json.dumps(d))' \
      "$line" "$c0" "$c1" "$d0" "$d1"
  }
  flow=$(measure authorization "openid accounts" warm-flow bench-flow "code flows")
  pay=$(measure payment-consent "openid payments" warm-pay bench-pay "payment consents")
  echo "$flow"
  echo "$pay"
  python3 - "$flow" "$pay" "$engine" <<'PY'
import json, sys
flow, pay, engine = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
def per(d, k): return d[k] / d["ok"] * 1e3
for name, d in (("code flow", flow), ("payment consent", pay)):
    db = f", database {per(d, 'db_cpu_s'):.2f} ms" if engine == "postgres" else ""
    print(f"{engine} {name}: {d['flows_per_s']:.1f}/s, p50 {d['latency_ms']['p50']:.1f} ms, "
          f"p99 {d['latency_ms']['p99']:.1f} ms, failed {sum(d['failures_by_step'].values())}; "
          f"server CPU {per(d, 'server_cpu_s'):.2f} ms per flow{db}")
print(f"{engine}: a payment consent costs {per(pay, 'server_cpu_s') / per(flow, 'server_cpu_s'):.2f}x "
      f"the server CPU of a code flow; {pay['flows_per_s'] / flow['flows_per_s']:.2f}x its rate")
PY
  engine_end
done
