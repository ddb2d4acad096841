# shellcheck shell=bash
# The mTLS phase of bench/run.sh (issue 5, "Performance"), sourced by it: the token endpoint with
# RFC 8705 `tls_client_auth` client authentication and certificate-bound tokens
# (client_credentials, `cnf.x5t#S256`), measured twice on one server:
#   - "keep-alive": HTTP/1.1 keep-alive, one TLS handshake per connection (compare with the
#     DPoP figures of phase 2, same concurrency and window);
#   - "new": a new TCP connection and a full TLS 1.3 handshake with client authentication per
#     request (loadgen disables session resumption), the cost of clients that do not pool.
# Nothing is signed per request (the client certificate is the credential), so there is no
# pregeneration step. Uses run.sh's variables (SHONIN, LOADGEN, WORK, OUT, SHONIN_PORT, DURATION,
# WARMUP, CONCURRENCY, PG_URL, SERVER_PID, PG_DB) and helpers (wait_ready, wait_quiet, cpu_secs,
# busy_secs, db_secs, stop_server, log).

MTLS_CLIENT_ID=bench-mtls

# One measured window of `loadgen mtls`, with the CPU accounting of token_load.
mtls_load() { # LABEL ISSUER CA CONNECTIONS
  local label=$1 issuer=$2 ca=$3 connections=$4 line
  local -a args=(--url "$issuer/token" --ca "$ca" --cert "$WORK/mtls-pki/client.pem"
    --key "$WORK/mtls-pki/client-key.pem" --client-id "$MTLS_CLIENT_ID"
    --connections "$connections" --concurrency "$CONCURRENCY")
  wait_quiet
  line=$("$LOADGEN" mtls "${args[@]}" --duration "$WARMUP" --label "$label warm-up")
  echo "$line" >&2
  local srv0 busy0 db0 srv1 busy1 db1 db=db_secs
  [[ "$label" == *postgres* ]] || db="echo 0"
  srv0=$(cpu_secs "$SERVER_PID") busy0=$(busy_secs) db0=$($db)
  line=$("$LOADGEN" mtls "${args[@]}" --duration "$DURATION" --label "$label")
  srv1=$(cpu_secs "$SERVER_PID") busy1=$(busy_secs) db1=$($db)
  python3 - "$line" "$srv0" "$srv1" "$busy0" "$busy1" "$db0" "$db1" <<'PY' | tee -a "$OUT"
import json, sys
d = json.loads(sys.argv[1])
s0, s1, b0, b1, p0, p1 = map(float, sys.argv[2:8])
d["server_cpu_s"] = round(s1 - s0, 2)
d["db_cpu_s"] = round(p1 - p0, 2)
d["machine_busy_s"] = round(b1 - b0, 2)
d["other_cpu_s"] = round((b1 - b0) - (s1 - s0) - (p1 - p0) - (d.get("client_cpu_s") or 0), 2)
print(json.dumps(d))
PY
}

shonin_mtls_bench() { # ENGINE
  local engine=$1 data="$WORK/shonin-mtls-$1"
  [[ -d "$WORK/mtls-pki" ]] || "$LOADGEN" mtls-pki --out "$WORK/mtls-pki" --cn "$MTLS_CLIENT_ID" >&2
  local -a env=(
    "SHONIN_ISSUER=https://localhost:$SHONIN_PORT"
    "SHONIN_SERVER__LISTEN=127.0.0.1:$SHONIN_PORT"
    "SHONIN_RATE_LIMIT__PER_IP_PER_SECOND=0"
    "SHONIN_SERVER__CLIENT_CERTIFICATES=optional"
    "SHONIN_SERVER__CLIENT_CA_FILE=$WORK/mtls-pki/client-ca.pem"
  )
  if [[ "$engine" == postgres ]]; then
    PG_DB="shonin_bench_mtls_$$_$RANDOM"
    psql "$PG_URL/postgres" -qAtc "CREATE DATABASE $PG_DB" >/dev/null
    env+=("SHONIN_STORAGE__URL=$PG_URL/$PG_DB")
  fi
  log "Shonin mTLS on $engine: registering the tls_client_auth client"
  env "${env[@]}" "$SHONIN" --dev --data-dir "$data" clients add --client-id "$MTLS_CLIENT_ID" \
    --name "Shonin mTLS benchmark client" --scope accounts --grant-type client_credentials \
    --auth-method tls_client_auth --tls-subject-dn "CN=$MTLS_CLIENT_ID,O=Shonin Bench,C=DE" \
    --dpop-bound=false --certificate-bound >&2
  log "Shonin mTLS on $engine: serving"
  env "${env[@]}" "$SHONIN" --dev --data-dir "$data" serve >"$WORK/shonin-mtls-$engine.log" 2>&1 &
  SERVER_PID=$!
  local ca="$data/tls/dev-ca.pem" issuer="https://localhost:$SHONIN_PORT"
  for _ in $(seq 1 150); do [[ -f "$ca" ]] && break; sleep 0.2; done
  wait_ready "$issuer/readyz" "$ca"
  mtls_load "shonin-$engine mtls keep-alive" "$issuer" "$ca" keep-alive
  mtls_load "shonin-$engine mtls new-handshake" "$issuer" "$ca" new
  stop_server
  if [[ "$engine" == postgres ]]; then
    psql "$PG_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
    PG_DB=""
  fi
}
