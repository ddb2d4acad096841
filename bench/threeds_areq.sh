#!/usr/bin/env bash
# EMV 3DS AReq → ARes per second at the ACS (issue 25, "Performance"), in one run: release build,
# SQLite then a fresh PostgreSQL database, HTTP/1.1 keep-alive over TLS 1.3 with the DS's client
# certificate (mutual TLS), 16 requests in flight, a 3 s warm-up and a 10 s measured window.
# Every request is the scheme sample browser AReq for an enrolled card under the frictionless
# threshold: the ACS checks the message, finds the card by its keyed fingerprint, counts nothing
# (no velocity rule), decides Y, computes the authentication value and commits the transaction
# with its audit entry. There is no DS simulator yet, so the generator plays the DS.
# Printed: requests/s, latency, the server's CPU per request and the database's (PostgreSQL), and
# the server's own count of ARes and Erro answers (so a run of Erro answers cannot pass as one).
#
# Usage: bench/threeds_areq.sh   (after `cargo build --release -p shonin-server -p loadgen`)
# Everything listens on 127.0.0.1; the server is stopped by its PID on exit.
set -euo pipefail
BENCH_NAME=areq
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
PORT=18515
ISSUER=https://localhost:$PORT
CONCURRENCY=${CONCURRENCY:-16}

PAN=4012000000006013
"$L" mtls-pki --out "$W/pki" --cn bench-ds >/dev/null
THUMB=$(openssl x509 -in "$W/pki/client.pem" -outform DER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')
cat >"$W/acs.toml" <<TOML
[threeds.acs]
reference_number = "BENCH-ACS"
ds_certificate_thumbprints = ["$THUMB"]

[[threeds.acs.card_ranges]]
start = "4012000000006000"
end = "4012000000006999"
scheme = "visa"

[threeds.acs.risk]
frictionless_up_to = { "643" = 100000 }
TOML
python3 - "$ROOT/crates/shonin-3ds/tests/vectors/visa/3DSS-220-101/areq.json" "$PAN" >"$W/areq.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
# The DS's transaction ID is unique per AReq (a repeat is Erro 301): loadgen puts a fresh UUID
# in place of the placeholder for every request.
m.update(acctNumber=sys.argv[2], dsTransID="00000000-0000-4000-8000-000000000000",
         dsReferenceNumber="DSServerRef123456", threeDSRequestorChallengeInd="01")
print(json.dumps(m))
PY
head -c 24 /dev/urandom | base64 >"$W/password"

for engine in sqlite postgres; do
  engine_begin "$engine"
  export SHONIN_SERVER__CLIENT_CERTIFICATES=optional SHONIN_SERVER__CLIENT_CA_FILE=$W/pki/client-ca.pem
  run() { "$S" --dev --data-dir "$D" --config "$W/acs.toml" "$@"; }
  run migrate >/dev/null
  run users add --username cardholder --password-stdin <"$W/password" >/dev/null
  echo "$PAN" | run 3ds cards enrol --username cardholder >/dev/null
  serve_ready --config "$W/acs.toml"
  first=$(sed 's/00000000-0000-4000-8000-000000000000/11111111-1111-4111-8111-111111111111/' "$W/areq.json" |
    curl -sS --cacert "$D/tls/dev-ca.pem" --cert "$W/pki/client.pem" --key "$W/pki/client-key.pem" \
      -H 'content-type: application/json' --data-binary @- "$ISSUER/3ds/acs/areq")
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d.get("messageType")=="ARes" and d.get("transStatus")=="Y", d' "$first"
  load() { # SECONDS LABEL
    "$L" mtls --url "$ISSUER/3ds/acs/areq" --ca "$D/tls/dev-ca.pem" --cert "$W/pki/client.pem" \
      --key "$W/pki/client-key.pem" --json-body "$W/areq.json" --concurrency "$CONCURRENCY" \
      --duration "$1" --label "$2"
  }
  load 3 warm-up >/dev/null
  c0=$(cpu "$P") d0=$(pg_cpu)
  line=$(load 10 "shonin-$engine areq frictionless")
  c1=$(cpu "$P") d1=$(pg_cpu)
  metrics=$(curl -fsS --cacert "$D/tls/dev-ca.pem" "$ISSUER/metrics")
  python3 - "$line" "$c0" "$c1" "$d0" "$d1" "$engine" "$metrics" <<'PY'
import json, re, sys
d = json.loads(sys.argv[1])
c0, c1, p0, p1 = map(float, sys.argv[2:6])
engine, metrics = sys.argv[6], sys.argv[7]
def total(name):
    return sum(float(v) for v in re.findall(r"^" + name + r"(?:\{[^}]*\})? (\S+)$", metrics, re.M))
d["server_cpu_s"] = round(c1 - c0, 2)
d["db_cpu_s"] = round(p1 - p0, 2) if engine == "postgres" else 0.0
d["server_ares_total"] = total("shonin_3ds_authentications_total")
d["server_erro_total"] = total("shonin_3ds_errors_total")
print(json.dumps(d))
n = d["requests"]
print(f"{engine}: {d['ok_rps']:.0f} AReq/s, p50 {d['latency_ms']['p50']} ms, p99 {d['latency_ms']['p99']} ms, "
      f"server CPU {1000 * d['server_cpu_s'] / n:.3f} ms/req"
      + (f" + database {1000 * d['db_cpu_s'] / n:.3f} ms/req" if engine == "postgres" else "")
      + f"; the server answered {d['server_ares_total']:.0f} ARes and {d['server_erro_total']:.0f} Erro in all")
assert d["server_erro_total"] == 0, "Erro answers in the run"
PY
  engine_end
done
