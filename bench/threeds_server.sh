#!/usr/bin/env bash
# EMV 3-D Secure authentications per second through all three components (issue 26,
# "Performance"), in one run: release build, SQLite then a fresh PostgreSQL database. A merchant's
# backend (the generator) calls the requestor API `POST /3ds/server/authentications` with a
# DPoP-bound access token (scope 3ds) and a fresh proof with `ath` for each request; Shonin's
# 3DS Server builds and checks the AReq, sends it over mutual TLS to `shonin ds-sim` (a process
# of its own), which routes it by card range to Shonin's ACS over mutual TLS; the ACS checks it,
# finds the enrolled card by its keyed fingerprint, decides Y, computes the authentication value
# and commits its transaction; the ARes comes back, and the 3DS Server commits its transaction
# and audit entry before answering 201. The 3DS Server and the ACS are the same Shonin process
# (one binary, both configured), as a bank that is issuer and acquirer would run it.
# HTTP/1.1 keep-alive over TLS, 16 requests in flight, a 3 s warm-up and a 10 s measured window.
# Printed: authentications/s, latency, Shonin's CPU per authentication, the simulator's, the
# database's (PostgreSQL), and the server's own counts (every answer must be a completed Y).
# Then challenge flows (`loadgen flow --kind threeds-challenge`, 8 in flight, 10 s): the same
# request for an amount the ACS challenges, the challenge page, the cardholder's software
# passkey, the answer (the ACS's RReq goes through the DS to the 3DS Server before it answers),
# the final CRes at the notification URL, and the backend's read of the result, which must be Y.
#
# Usage: bench/threeds_server.sh   (after `cargo build --release -p shonin-server -p loadgen`)
# Everything listens on 127.0.0.1; the server and the simulator are stopped by their PIDs on exit.
set -euo pipefail
BENCH_NAME=3dss
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
PORT=18517
DS_PORT=18518
ISSUER=https://localhost:$PORT
Q="" # the DS simulator's PID
trap '[[ -n "$Q" ]] && kill "$Q" 2>/dev/null; cleanup' EXIT
CONCURRENCY=${CONCURRENCY:-16}
PAN=4012000000006013

"$L" keys --dir "$W/keys" >/dev/null 2>&1
"$L" mtls-pki --out "$W/pki" --cn bench-ds >/dev/null
THUMB=$(openssl x509 -in "$W/pki/client.pem" -outform DER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')
head -c 24 /dev/urandom | base64 >"$W/password"
cat >"$W/body.json" <<JSON
{"card": {"number": "$PAN", "expiry": "3012"},
 "purchase": {"amount": "63551", "currency": "643", "exponent": 2},
 "merchant": {"name": "Tea Shop", "mcc": "5812", "country": "643",
              "acquirer_bin": "400551", "acquirer_merchant_id": "M-1"},
 "browser": {"accept_header": "text/html", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
             "language": "en-GB", "javascript_enabled": true, "color_depth": 24,
             "screen_height": 900, "screen_width": 1440, "tz": -60}}
JSON

for engine in sqlite postgres; do
  engine_begin "$engine"
  export SHONIN_SERVER__CLIENT_CERTIFICATES=optional SHONIN_SERVER__CLIENT_CA_FILE=$W/pki/client-ca.pem
  # The first --dev command makes the development CA and server certificate the links use.
  "$S" --dev --data-dir "$D" migrate >/dev/null
  cat >"$W/3ds.toml" <<TOML
[threeds.acs]
reference_number = "BENCH-ACS"
ds_certificate_thumbprints = ["$THUMB"]
# The RReq link to the DS simulator (its server certificate is the dev one).
results_ca_file = "$D/tls/dev-ca.pem"
results_certificate_file = "$W/pki/client.pem"
results_key_file = "$W/pki/client-key.pem"

[[threeds.acs.card_ranges]]
start = "4012000000006000"
end = "4012000000006999"
scheme = "visa"

[threeds.acs.risk]
frictionless_up_to = { "643" = 100000 }

[threeds.server]
reference_number = "BENCH-3DSS"
requestor_id = "PSP-0001"
requestor_name = "Bench PSP"
requestor_url = "https://psp.example/"
ds_areq_url = "https://localhost:$DS_PORT/ds/areq"
ds_preq_url = "https://localhost:$DS_PORT/ds/preq"
ds_ca_file = "$D/tls/dev-ca.pem"
certificate_file = "$W/pki/client.pem"
key_file = "$W/pki/client-key.pem"
ds_certificate_thumbprints = ["$THUMB"]
TOML
  run() { "$S" --dev --data-dir "$D" --config "$W/3ds.toml" "$@"; }
  run users add --username cardholder --password-stdin <"$W/password" >/dev/null
  echo "$PAN" | run 3ds cards enrol --username cardholder >/dev/null
  run clients add --client-id bench-psp --name "PSP backend" --jwks-file "$W/keys/client-jwks.json" \
    --scope 3ds --redirect-uri https://client.example/cb --grant-type client_credentials >/dev/null
  # The DS simulator first, so the server's first PReq finds it.
  cat >"$W/ds.toml" <<TOML
listen = "127.0.0.1:$DS_PORT"
public_url = "https://localhost:$DS_PORT"
certificate_file = "$D/tls/server.pem"
key_file = "$D/tls/server-key.pem"
client_ca_file = "$W/pki/client-ca.pem"
client_certificate_file = "$W/pki/client.pem"
client_key_file = "$W/pki/client-key.pem"
server_ca_file = "$D/tls/dev-ca.pem"

[[ranges]]
start = "4012000000006000"
end = "4012000000006999"
scheme = "visa"
acs_url = "$ISSUER/3ds/acs/areq"
TOML
  "$S" ds-sim "$W/ds.toml" >"$W/log-ds-$engine" 2>&1 &
  Q=$!
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$DS_PORT") 2>/dev/null && break
    sleep 0.1
  done
  serve_ready --config "$W/3ds.toml"
  for _ in $(seq 1 50); do
    curl -fsS --cacert "$D/tls/dev-ca.pem" "$ISSUER/metrics" | grep -q '^shonin_3ds_server_card_ranges 1' && break
    sleep 0.2
  done
  # The merchant's access token: one client_credentials grant (private_key_jwt, DPoP-bound).
  "$L" pregen --keys "$W/keys" --client-id bench-psp --issuer "$ISSUER" --scope 3ds -n 1 \
    --out "$W/grant" 2>/dev/null
  IFS=$'\t' read -r proof form < <(sed -n 2p "$W/grant")
  curl -fsS --cacert "$D/tls/dev-ca.pem" -H "DPoP: $proof" --data "$form" "$ISSUER/token" >"$W/token.json"
  load() { # SECONDS LABEL
    "$L" pregen --keys "$W/keys" --client-id bench-psp --issuer "$ISSUER" --kind json-post \
      --token-url "$ISSUER/3ds/server/authentications" --tokens "$W/token.json" \
      --body "$W/body.json" -n 60000 --out "$W/load" 2>/dev/null
    "$L" run --file "$W/load" --url "$ISSUER/3ds/server/authentications" --ca "$D/tls/dev-ca.pem" \
      --concurrency "$CONCURRENCY" --duration "$1" --expect-status 201 --label "$2"
  }
  load 3 warm-up >/dev/null
  c0=$(cpu "$P") q0=$(cpu "$Q") d0=$(pg_cpu)
  line=$(load 10 "shonin-$engine 3ds frictionless end-to-end")
  c1=$(cpu "$P") q1=$(cpu "$Q") d1=$(pg_cpu)
  metrics=$(curl -fsS --cacert "$D/tls/dev-ca.pem" "$ISSUER/metrics")
  python3 - "$line" "$c0" "$c1" "$d0" "$d1" "$q0" "$q1" "$engine" "$metrics" <<'PY'
import json, re, sys
d = json.loads(sys.argv[1])
c0, c1, p0, p1, q0, q1 = map(float, sys.argv[2:8])
engine, metrics = sys.argv[8], sys.argv[9]
def total(name, label=""):
    return sum(float(v) for v in re.findall(r"^" + name + r"\{[^}]*" + label + r"[^}]*\} (\S+)$", metrics, re.M))
d["server_cpu_s"] = round(c1 - c0, 2)
d["ds_cpu_s"] = round(q1 - q0, 2)
d["db_cpu_s"] = round(p1 - p0, 2) if engine == "postgres" else 0.0
d["completed_y"] = total("shonin_3ds_server_authentications_total", 'trans_status="Y"')
d["not_y"] = total("shonin_3ds_server_authentications_total") - d["completed_y"]
print(json.dumps(d))
n = d["requests"]
print(f"{engine}: {d['ok_rps']:.0f} authentications/s, p50 {d['latency_ms']['p50']} ms, p99 {d['latency_ms']['p99']} ms; "
      f"Shonin (3DS Server + ACS) CPU {1000 * d['server_cpu_s'] / n:.3f} ms/auth + DS simulator {1000 * d['ds_cpu_s'] / n:.3f} ms/auth"
      + (f" + database {1000 * d['db_cpu_s'] / n:.3f} ms/auth" if engine == "postgres" else "")
      + f"; the server completed {d['completed_y']:.0f} Y and {d['not_y']:.0f} others in all")
assert d["not_y"] == 0, "authentications that did not end Y"
assert d["transport_errors"] == 0, "transport errors in the run"
assert d["ok"] == n, "answers other than 201"
PY
  # Challenge flows: the cardholder's passkey is enrolled once through the account page.
  c0=$(cpu "$P") q0=$(cpu "$Q") d0=$(pg_cpu)
  line=$("$L" flow --kind threeds-challenge --keys "$W/keys" --client-id bench-psp --issuer "$ISSUER" \
    --ca "$D/tls/dev-ca.pem" --redirect-uri https://client.example/cb --username cardholder \
    --password-file "$W/password" --sign-in passkey --concurrency 8 --duration 10 \
    --label "shonin-$engine 3ds challenge end-to-end")
  c1=$(cpu "$P") q1=$(cpu "$Q") d1=$(pg_cpu)
  echo "$line"
  python3 - "$line" "$c0" "$c1" "$q0" "$q1" "$d0" "$d1" "$engine" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); c0, c1, q0, q1, d0, d1 = map(float, sys.argv[2:8]); engine = sys.argv[8]
assert d["ok"] > 0 and sum(d["failures_by_step"].values()) == 0, f"failed flows: {d['failures_by_step']}"
db = f", database {(d1 - d0) / d['ok'] * 1e3:.2f} ms" if engine == "postgres" else ""
print(f"{engine}: {d['flows_per_s']:.1f} challenge flows/s, p50 {d['latency_ms']['p50']:.1f} ms, "
      f"p99 {d['latency_ms']['p99']:.1f} ms, failed {sum(d['failures_by_step'].values())}; "
      f"Shonin CPU {(c1 - c0) / d['ok'] * 1e3:.2f} ms per flow, DS simulator {(q1 - q0) / d['ok'] * 1e3:.2f} ms{db}")
assert sum(d["failures_by_step"].values()) == 0, "failed flows"
PY
  kill "$Q"; wait "$Q" 2>/dev/null || true; Q=""
  engine_end
done
