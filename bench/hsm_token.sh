#!/usr/bin/env bash
# The token endpoint with the signing key in an HSM beside the same endpoint with the local key
# (issue 27, "Performance"), in one run: release build, SQLite, `client_credentials` +
# `private_key_jwt` + DPoP (requests signed ahead of time by loadgen, as in bench/run.sh),
# 32 connections, HTTP/1.1 keep-alive over TLS 1.3, a 5 s warm-up and a 20 s measured window per
# keystore. The HSM is SoftHSM2 2.6 on a token made for this run (its own SOFTHSM2_CONF in the
# work directory), with `[keys.pkcs11] sessions = 4` and `serialize_calls = true` (SoftHSM2
# needs it, see docs/operations.md); the keys are made inside the token by `shonin keys
# hsm-init`. Printed per keystore: requests/s, p50/p99, the server's CPU per request, and the
# kid the responses were signed with (so a run signed by the wrong key cannot pass as the other).
#
# Usage: bench/hsm_token.sh   (after `cargo build --release -p shonin-server -p loadgen`)
# Needs softhsm2 (Debian: apt-get install softhsm2). Everything listens on 127.0.0.1; the server
# is stopped by its PID on exit and the token is deleted with the work directory.
set -euo pipefail
BENCH_NAME=hsm-token
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
PORT=18517
ISSUER=https://localhost:$PORT
CONCURRENCY=${CONCURRENCY:-32}
WARMUP=${BENCH_WARMUP:-5}
DURATION=${BENCH_DURATION:-20}
MODULE=${SHONIN_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
CLIENT_ID=bench-client
[[ -e "$MODULE" ]] || { echo "no PKCS#11 module at $MODULE (apt-get install softhsm2)" >&2; exit 2; }

"$L" keys --dir "$W/keys" >/dev/null
mkdir -p "$W/softhsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$W/softhsm/tokens" >"$W/softhsm/softhsm2.conf"
export SOFTHSM2_CONF=$W/softhsm/softhsm2.conf
softhsm2-util --init-token --free --label bench --pin 246810 --so-pin 135790 >/dev/null
echo 246810 >"$W/pin"
cat >"$W/hsm.toml" <<TOML
[keys.pkcs11]
module = "$MODULE"
token_label = "bench"
pin_file = "$W/pin"
signing_key_label = "bench-signing"
sessions = 4
serialize_calls = true
TOML
: >"$W/local.toml"

printf '%-10s %10s %9s %9s %12s  %s\n' keystore "req/s" "p50 ms" "p99 ms" "cpu ms/req" kid
for keystore in local hsm; do
  export SHONIN_ISSUER=$ISSUER SHONIN_SERVER__LISTEN=127.0.0.1:$PORT SHONIN_RATE_LIMIT__PER_IP_PER_SECOND=0
  D=$W/data-$keystore
  mkdir -m 700 "$D"
  run() { "$S" --dev --data-dir "$D" --config "$W/$keystore.toml" "$@"; }
  run migrate >/dev/null
  [[ $keystore == local ]] || run keys hsm-init >/dev/null
  run clients add --client-id "$CLIENT_ID" --name "HSM bench" --jwks-file "$W/keys/client-jwks.json" \
    --scope accounts --redirect-uri https://localhost/cb --grant-type client_credentials >/dev/null
  serve_ready --config "$W/$keystore.toml"
  CA=$D/tls/dev-ca.pem
  "$L" pregen --keys "$W/keys" --client-id "$CLIENT_ID" --issuer "$ISSUER" --token-url "$ISSUER/token" \
    --kind client-credentials -n 20000 --out "$W/warm.req" >/dev/null
  "$L" run --file "$W/warm.req" --url "$ISSUER/token" --ca "$CA" --concurrency "$CONCURRENCY" \
    --duration "$WARMUP" --label warm-up >/dev/null
  "$L" pregen --keys "$W/keys" --client-id "$CLIENT_ID" --issuer "$ISSUER" --token-url "$ISSUER/token" \
    --kind client-credentials -n 400000 --out "$W/run.req" >/dev/null
  before=$(cpu "$P")
  line=$("$L" run --file "$W/run.req" --url "$ISSUER/token" --ca "$CA" --concurrency "$CONCURRENCY" \
    --duration "$DURATION" --label "$keystore")
  after=$(cpu "$P")
  kid=$(curl -fsS --cacert "$CA" "$ISSUER/jwks" | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"][0]["kid"])')
  python3 - "$line" "$before" "$after" "$keystore" "$kid" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
cpu_ms = (float(sys.argv[3]) - float(sys.argv[2])) * 1000 / max(r["ok"], 1)
lat = r["latency_ms"]
print(f'{sys.argv[4]:<10} {r["ok_rps"]:>10.0f} {lat["p50"]:>9.2f} {lat["p99"]:>9.2f} {cpu_ms:>12.3f}  {sys.argv[5]}')
if r["ok"] != r["requests"] or r["transport_errors"]:
    print(f'  not all 200: {r["status"]}, transport errors {r["transport_errors"]}', file=sys.stderr)
PY
  rm -f "$W/warm.req" "$W/run.req"
  engine_end
done
