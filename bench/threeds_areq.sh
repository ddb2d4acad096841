#!/usr/bin/env bash
# EMV 3DS AReq → ARes per second at the ACS (issue 25, "Performance"), in one run: release build,
# SQLite then a fresh PostgreSQL database, HTTP/1.1 keep-alive over TLS 1.3 with the DS's client
# certificate (mutual TLS), 16 requests in flight, a 3 s warm-up and a 10 s measured window.
# Every request is the scheme sample browser AReq for an enrolled card under the frictionless
# threshold: the ACS checks the message, finds the card by its keyed fingerprint, counts nothing
# (no velocity rule), decides Y, computes the authentication value and commits the transaction
# with its audit entry. Two paths in the same run: `direct`, the generator playing the DS (the
# ACS alone), and `via-ds`, the generator playing the 3DS Server and sending to `shonin ds-sim`,
# which routes by card range and relays to the ACS over its own mutual-TLS keep-alive connections
# (the issue's path). Printed per path: requests/s, latency, the ACS's CPU per request, the
# simulator's (via-ds) and the database's (PostgreSQL), and the ACS's own count of ARes and Erro
# answers (so a run of Erro answers cannot pass as one).
#
# Usage: bench/threeds_areq.sh   (after `cargo build --release -p shonin-server -p loadgen`)
# Everything listens on 127.0.0.1; the server is stopped by its PID on exit.
set -euo pipefail
BENCH_NAME=areq
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
PORT=18515
DS_PORT=18516
ISSUER=https://localhost:$PORT
Q="" # the DS simulator's PID
trap '[[ -n "$Q" ]] && kill "$Q" 2>/dev/null; cleanup' EXIT
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
  # The DS simulator: the dev server's certificate for its own listener, the generator's client
  # certificate both to be trusted from (client CA) and to present to the ACS (whose dev CA it
  # trusts).
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
  load() { # URL SECONDS LABEL
    "$L" mtls --url "$1" --ca "$D/tls/dev-ca.pem" --cert "$W/pki/client.pem" \
      --key "$W/pki/client-key.pem" --json-body "$W/areq.json" --concurrency "$CONCURRENCY" \
      --duration "$2" --label "$3"
  }
  for path in direct via-ds; do
    url=$ISSUER/3ds/acs/areq
    [[ $path == via-ds ]] && url=https://localhost:$DS_PORT/ds/areq
    load "$url" 3 warm-up >/dev/null
    before=$(curl -fsS --cacert "$D/tls/dev-ca.pem" "$ISSUER/metrics" | awk '/^shonin_3ds_authentications_total/ {s += $2} END {print s + 0}')
    c0=$(cpu "$P") q0=$(cpu "$Q") d0=$(pg_cpu)
    line=$(load "$url" 10 "shonin-$engine areq frictionless $path")
    c1=$(cpu "$P") q1=$(cpu "$Q") d1=$(pg_cpu)
    metrics=$(curl -fsS --cacert "$D/tls/dev-ca.pem" "$ISSUER/metrics")
    python3 - "$line" "$c0" "$c1" "$d0" "$d1" "$q0" "$q1" "$engine" "$path" "$metrics" "$before" <<'PY'
import json, re, sys
d = json.loads(sys.argv[1])
c0, c1, p0, p1, q0, q1 = map(float, sys.argv[2:8])
engine, path, metrics, before = sys.argv[8], sys.argv[9], sys.argv[10], float(sys.argv[11])
def total(name):
    return sum(float(v) for v in re.findall(r"^" + name + r"(?:\{[^}]*\})? (\S+)$", metrics, re.M))
d["server_cpu_s"] = round(c1 - c0, 2)
d["ds_cpu_s"] = round(q1 - q0, 2) if path == "via-ds" else 0.0
d["db_cpu_s"] = round(p1 - p0, 2) if engine == "postgres" else 0.0
d["server_ares_total"] = total("shonin_3ds_authentications_total")
d["server_erro_total"] = total("shonin_3ds_errors_total")
print(json.dumps(d))
n = d["requests"]
print(f"{engine} {path}: {d['ok_rps']:.0f} AReq/s, p50 {d['latency_ms']['p50']} ms, p99 {d['latency_ms']['p99']} ms, "
      f"ACS CPU {1000 * d['server_cpu_s'] / n:.3f} ms/req"
      + (f" + DS simulator {1000 * d['ds_cpu_s'] / n:.3f} ms/req" if path == "via-ds" else "")
      + (f" + database {1000 * d['db_cpu_s'] / n:.3f} ms/req" if engine == "postgres" else "")
      + f"; the ACS answered {d['server_ares_total']:.0f} ARes and {d['server_erro_total']:.0f} Erro in all")
assert d["server_erro_total"] == 0, "Erro answers in the run"
# Every answer counted as ok was an ARes from the ACS (a DS Erro has HTTP 200 too).
assert d["server_ares_total"] - before >= d["ok"], "answers that were not the ACS's ARes"
assert d["transport_errors"] == 0, "transport errors in the run"
PY
  done
  kill "$Q"; wait "$Q" 2>/dev/null || true; Q=""
  engine_end
done
