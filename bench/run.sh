#!/usr/bin/env bash
# Shonin's token-endpoint benchmark (issue 3, "Performance"), in one run on this machine:
#   1. the crypto ceiling: `loadgen crypto` (2 ES256 verifications + 1 ES256 signature per request);
#   2. Shonin (`serve --dev`, release build) on SQLite, then on a fresh PostgreSQL database:
#      client_credentials + private_key_jwt + DPoP at the token endpoint, requests signed ahead
#      of time; then full code flows (PAR → authorize → sign-in → consent → token), with a
#      password sign-in and then with a passkey sign-in (a software authenticator, enrolled once
#      through the account page); the refresh_token grant (private_key_jwt + DPoP, the refresh
#      token from one real code flow); GET /userinfo with a DPoP-bound access token (from one
#      real code flow just before); and the floor: the same requests sent to a path answered
#      with 404;
#      then transaction approvals through /transactions (`loadgen flow --kind approval`):
#      create → challenge → the software authenticator signs → approve → execute;
#   2b. Shonin with mTLS (bench/mtls_phase.sh): tls_client_auth + certificate-bound tokens,
#      keep-alive and a new TLS handshake per request, on SQLite and PostgreSQL;
#   3. node-oidc-provider (pinned in bench/oidc-provider) under the same load and profile:
#      client_credentials, refresh_token and userinfo (its two tokens minted at its start: it has
#      no sign-in pages, so no code flow there).
# Then a table with req/s, p50/p99 and the ratios Shonin ÷ oidc-provider and Shonin ÷ ceiling.
#
# Everything listens on and talks to 127.0.0.1 only. Every load is bounded in time and count and
# stops by itself; every process started here is stopped by its PID on exit.
#
# Usage: bench/run.sh            (about 6 minutes after the release build)
# Knobs (environment): BENCH_DURATION (s, default 20), BENCH_WARMUP (s, 5), BENCH_CONCURRENCY
# (32), BENCH_FLOW_DURATION (s, 10), BENCH_FLOW_CONCURRENCY (8), BENCH_SWEEP (connection
# counts of the concurrency sweep, default "2 4 8 16 64"; empty: no sweep), BENCH_SKIP_BUILD=1,
# BENCH_KEEP=1 (keep the temporary directory), BENCH_WAIT_QUIET (s, default 0: see wait_quiet),
# BENCH_OUT (results file, default target/bench/results-<time>.jsonl), BENCH_PG_URL (server URL
# of PostgreSQL, default postgres://postgres@127.0.0.1:5432).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${BENCH_DURATION:-20}
WARMUP=${BENCH_WARMUP:-5}
CONCURRENCY=${BENCH_CONCURRENCY:-32}
FLOW_DURATION=${BENCH_FLOW_DURATION:-10}
FLOW_CONCURRENCY=${BENCH_FLOW_CONCURRENCY:-8}
SWEEP=${BENCH_SWEEP-2 4 8 16 64}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
SHONIN_PORT=18443
PEER_PORT=19443
CLIENT_ID=bench-client
# A second client for the refresh_token phase (grant types authorization_code + refresh_token), so
# that the code flows of bench-client stay what they were (no refresh token issued per flow).
REFRESH_CLIENT_ID=bench-refresh
# The bank's backend of the approval phase: client_credentials with scope `transactions`.
TXN_CLIENT_ID=bench-txn
REDIRECT_URI=https://client.example/cb
BENCH_USER=bench-user
# The approval phase's user: loadgen enrols a passkey after a password sign-in, which a user who
# already has one (BENCH_USER, from the passkey flows) may not do.
APPROVER=bench-approver
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${BENCH_OUT:-$ROOT/target/bench/results-$STAMP.jsonl}

SHONIN=$ROOT/target/release/shonin
LOADGEN=$ROOT/target/release/loadgen
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shonin-bench.XXXXXX")
PG_DB=""
SERVER_PID=""

log() { printf '\n== %s\n' "$*" >&2; }

stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

cleanup() {
  stop_server
  if [[ -n "$PG_DB" ]]; then
    psql "$PG_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    echo "kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build -----------------------------------------------------------------------------------
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  log "building (release)"
  (cd "$ROOT" && cargo build --release --locked -p shonin-server -p loadgen)
fi
log "installing the pinned node-oidc-provider"
(cd "$ROOT/bench/oidc-provider" && npm ci --no-audit --no-fund --loglevel=error >&2)
mkdir -p "$(dirname "$OUT")"
: >"$OUT"

# --- key material ----------------------------------------------------------------------------
"$LOADGEN" keys --dir "$WORK/keys"
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$WORK/password"

# A CA made for the peer's TLS certificate; loadgen trusts it explicitly (--ca).
(
  cd "$WORK"
  openssl ecparam -name prime256v1 -genkey -noout -out peer-ca.key
  openssl req -x509 -new -key peer-ca.key -sha256 -days 1 -subj "/CN=Shonin bench peer CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    -out peer-ca.pem
  openssl ecparam -name prime256v1 -genkey -noout -out peer.key
  openssl req -new -key peer.key -subj "/CN=localhost" -out peer.csr
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >peer-ext.cnf
  openssl x509 -req -in peer.csr -CA peer-ca.pem -CAkey peer-ca.key -CAcreateserial -days 1 \
    -sha256 -extfile peer-ext.cnf -out peer.pem 2>/dev/null
)

# --- helpers ---------------------------------------------------------------------------------
# CPU seconds (user + system) a process has used, from /proc (clock ticks of 1/100 s).
cpu_secs() { awk '{ sub(/.*\) /, ""); printf "%.2f\n", ($12 + $13) / 100 }' "/proc/$1/stat"; }
# CPU seconds the whole machine has been busy (user, nice, system, irq, softirq, steal).
busy_secs() { awk '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8 + $9) / 100 }' /proc/stat; }
# CPU seconds used by every process named postgres (the database of the PostgreSQL runs).
db_secs() {
  local sum=0 pid
  for pid in $(pgrep -x postgres || true); do
    sum=$(awk -v s="$sum" '{ sub(/.*\) /, ""); printf "%.2f", s + ($12 + $13) / 100 }' "/proc/$pid/stat" 2>/dev/null || echo "$sum")
  done
  echo "$sum"
}

wait_ready() { # URL CA
  for _ in $(seq 1 150); do
    if curl -fsS --cacert "$2" -o /dev/null "$1" 2>/dev/null; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "server exited" >&2; return 1; fi
    sleep 0.2
  done
  echo "not ready: $1" >&2
  return 1
}

# With BENCH_WAIT_QUIET=N, waits up to N seconds before each measurement until the machine's
# other work has stopped (under 0.15 cores busy over 3 s, the idle servers included): on a shared
# 2-core machine, a compiler running beside the benchmark halves every figure.
wait_quiet() {
  local limit=${BENCH_WAIT_QUIET:-0} waited=0 a b
  while ((waited < limit)); do
    a=$(busy_secs)
    sleep 3
    b=$(busy_secs)
    if awk -v a="$a" -v b="$b" 'BEGIN { exit !((b - a) / 3 < 0.15) }'; then return 0; fi
    waited=$((waited + 3))
  done
  ((limit == 0)) || echo "the machine did not become quiet in ${limit} s; measuring anyway" >&2
}

json_get() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# Where the machine's CPU goes during a measured window: cpu_start before it, cpu_add LINE after it
# adds to the result line the server's CPU, the PostgreSQL processes' (postgres labels only) and
# other_cpu_s (anything but server, database and generator; more than a few seconds means the
# figures were disturbed), and appends it to the results. EXTRA-JSON: more members to add.
cpu_start() { # LABEL
  CPU_DB=db_secs
  [[ "$1" == *postgres* ]] || CPU_DB="echo 0"
  CPU_SRV0=$(cpu_secs "$SERVER_PID") CPU_BUSY0=$(busy_secs) CPU_DB0=$($CPU_DB)
}
cpu_add() { # LINE [EXTRA-JSON]
  local srv1 busy1 db1
  srv1=$(cpu_secs "$SERVER_PID") busy1=$(busy_secs) db1=$($CPU_DB)
  python3 - "$1" "$CPU_SRV0" "$srv1" "$CPU_BUSY0" "$busy1" "$CPU_DB0" "$db1" "${2:-"{}"}" <<'PY' | tee -a "$OUT"
import json, sys
d = json.loads(sys.argv[1])
s0, s1, b0, b1, p0, p1 = map(float, sys.argv[2:8])
d["server_cpu_s"] = round(s1 - s0, 2)
d["db_cpu_s"] = round(p1 - p0, 2)
d["machine_busy_s"] = round(b1 - b0, 2)
d["other_cpu_s"] = round((b1 - b0) - (s1 - s0) - (p1 - p0) - (d.get("client_cpu_s") or 0), 2)
d.update(json.loads(sys.argv[8]))
print(json.dumps(d))
PY
}

# Warm-up, then the measured window. Each run gets its own freshly signed file (the DPoP proofs
# live 60 s), sized from the warm-up rate so that the file does not run out before the window.
# KIND is what `loadgen pregen --kind` signs: client-credentials (the default), refresh-token or
# userinfo (these two present a token from TOKENS, a file of `loadgen flow --save-tokens`).
token_load() { # LABEL ISSUER CA [KIND TOKENS [CLIENT]]
  local label=$1 issuer=$2 ca=$3 kind=${4:-client-credentials} url line rps n
  local client=${6:-$CLIENT_ID}
  local -a extra=(--kind "$kind")
  [[ -z "${5:-}" ]] || extra+=(--tokens "$5")
  url="$issuer/token"
  [[ "$kind" != userinfo ]] || url="$issuer/userinfo"
  # Here, not between signing and sending: the signed file is good for 55 s only.
  wait_quiet
  "$LOADGEN" pregen --keys "$WORK/keys" --client-id "$client" --issuer "$issuer" \
    --token-url "$url" "${extra[@]}" -n 20000 --out "$WORK/warm.req"
  line=$("$LOADGEN" run --file "$WORK/warm.req" --url "$url" --ca "$ca" \
    --concurrency "$CONCURRENCY" --duration "$WARMUP" --label "$label warm-up")
  echo "$line" >&2
  rps=$(json_get "$line" rps)
  n=$(python3 -c "import math,sys; print(max(20000, min(1500000, math.ceil(float(sys.argv[1]) * int(sys.argv[2]) * 3) + 5000)))" "$rps" "$DURATION")
  "$LOADGEN" pregen --keys "$WORK/keys" --client-id "$client" --issuer "$issuer" \
    --token-url "$url" "${extra[@]}" -n "$n" --out "$WORK/run.req"
  cpu_start "$label"
  line=$("$LOADGEN" run --file "$WORK/run.req" --url "$url" --ca "$ca" \
    --concurrency "$CONCURRENCY" --duration "$DURATION" --label "$label")
  cpu_add "$line" "{\"kind\": \"$kind\"}"
  rm -f "$WORK/warm.req" "$WORK/run.req"
}

# One real code flow (password sign-in) that saves its token response into FILE, for the
# refresh_token and userinfo phases: the tokens they present come from the server's own flow.
one_flow_tokens() { # ISSUER CA CLIENT FILE
  rm -f "$4"
  "$LOADGEN" flow --keys "$WORK/keys" --client-id "$3" --issuer "$1" --ca "$2" \
    --redirect-uri "$REDIRECT_URI" --username "$BENCH_USER" --password-file "$WORK/password" \
    --concurrency 1 --max-flows 1 --duration 30 --save-tokens "$4" --label "tokens" >&2
}

# Full code flows, with the server's CPU per flow. SIGN_IN: password or passkey.
flow_load() { # LABEL ISSUER CA SIGN_IN
  local line
  wait_quiet
  cpu_start "$1"
  line=$("$LOADGEN" flow --keys "$WORK/keys" --client-id "$CLIENT_ID" --issuer "$2" --ca "$3" \
    --redirect-uri "$REDIRECT_URI" --username "$BENCH_USER" --password-file "$WORK/password" \
    --sign-in "$4" --concurrency "$FLOW_CONCURRENCY" --duration "$FLOW_DURATION" --label "$1")
  cpu_add "$line"
}

# Transaction approvals (create → challenge → passkey signature → approve → execute), with the
# server's CPU per approval. The user's id comes from `users list`.
approval_load() { # LABEL ISSUER CA USER_ID
  local line
  wait_quiet
  cpu_start "$1"
  line=$("$LOADGEN" flow --kind approval --keys "$WORK/keys" --client-id "$TXN_CLIENT_ID" \
    --issuer "$2" --ca "$3" --redirect-uri "$REDIRECT_URI" --username "$APPROVER" \
    --password-file "$WORK/password" --sign-in passkey --user-id "$4" \
    --concurrency "$FLOW_CONCURRENCY" --duration "$FLOW_DURATION" --label "$1")
  cpu_add "$line"
}

# The concurrency sweep: the same load at other connection counts than the main run (on the warm
# server), 10 s each, so the report can name the peak (the most req/s) and the p99 at the
# smallest concurrency that reaches 95 % of it — the latency target is "p99 < 10 ms at peak",
# and with more connections than that a closed loop only adds queueing.
sweep_load() { # LABEL ISSUER CA
  local label=$1 issuer=$2 ca=$3 c line rps n
  for c in ${SWEEP}; do
    wait_quiet
    # Sized for 10 s at the main run's rate and half as much again (a point may be faster).
    rps=$(python3 -c 'import json,sys; print(max((json.loads(l)["ok_rps"] for l in open(sys.argv[1]) if json.loads(l).get("label") == sys.argv[2]), default=5000))' "$OUT" "$label")
    n=$(python3 -c "import math,sys; print(max(10000, min(600000, math.ceil(float(sys.argv[1]) * 10 * 1.5) + 5000)))" "$rps")
    "$LOADGEN" pregen --keys "$WORK/keys" --client-id "$CLIENT_ID" --issuer "$issuer" \
      -n "$n" --out "$WORK/sweep.req"
    line=$("$LOADGEN" run --file "$WORK/sweep.req" --url "$issuer/token" --ca "$ca" \
      --concurrency "$c" --duration 10 --label "$label c$c")
    python3 -c 'import json,sys; d = json.loads(sys.argv[1]); d["sweep_of"] = sys.argv[2]; print(json.dumps(d))' \
      "$line" "$label" | tee -a "$OUT"
    rm -f "$WORK/sweep.req"
  done
}

# What a request costs the server without the token endpoint's work: the same requests (the same
# bytes, on the same TLS keep-alive connections, through the same layers and access log) sent to a
# path the server answers with 404. With the ceiling and the generator's CPU per token request it
# bounds "÷ ceiling" from above (bench/report.py). 100,000 requests: the run ends at the file's end.
floor_load() { # LABEL ISSUER CA
  local label=$1 issuer=$2 ca=$3 url="$2/bench-floor-404" line srv0 srv1
  wait_quiet
  "$LOADGEN" pregen --keys "$WORK/keys" --client-id "$CLIENT_ID" --issuer "$issuer" \
    --token-url "$url" -n 100000 --out "$WORK/floor.req"
  srv0=$(cpu_secs "$SERVER_PID")
  line=$("$LOADGEN" run --file "$WORK/floor.req" --url "$url" --ca "$ca" --expect-status 404 \
    --concurrency "$CONCURRENCY" --duration "$DURATION" --label "$label floor")
  srv1=$(cpu_secs "$SERVER_PID")
  python3 -c 'import json,sys; d = json.loads(sys.argv[1]); d["floor_of"] = sys.argv[2]; d["server_cpu_s"] = round(float(sys.argv[4]) - float(sys.argv[3]), 2); print(json.dumps(d))' \
    "$line" "$label" "$srv0" "$srv1" | tee -a "$OUT"
  rm -f "$WORK/floor.req"
}

# The machine and how busy it was: other work on a 2-core machine skews every figure.
machine_line() { # WHEN
  python3 - "$1" <<'PY'
import json, os, platform, sys
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(json.dumps({"mode": "machine", "when": sys.argv[1], "cpus": os.cpu_count(), "cpu": model,
                  "kernel": platform.release(), "loadavg": list(os.getloadavg())}))
PY
}
machine_line start | tee -a "$OUT"

# --- 1. crypto ceiling (before any server runs, so it has the machine to itself) -------------
log "crypto ceiling"
wait_quiet
busy0=$(busy_secs)
line=$("$LOADGEN" crypto --seconds 3 --threads 1,2)
busy1=$(busy_secs)
python3 - "$line" "$busy0" "$busy1" <<'PY' | tee -a "$OUT"
import json, sys
d = json.loads(sys.argv[1])
d["other_cpu_s"] = round(float(sys.argv[3]) - float(sys.argv[2]) - d["cpu_s"], 2)
print(json.dumps(d))
PY

# --- 2. Shonin on SQLite and PostgreSQL ------------------------------------------------------
shonin_bench() { # ENGINE
  local engine=$1 data="$WORK/shonin-$1"
  local -a env=(
    "SHONIN_ISSUER=https://localhost:$SHONIN_PORT"
    "SHONIN_SERVER__LISTEN=127.0.0.1:$SHONIN_PORT"
    "SHONIN_RATE_LIMIT__PER_IP_PER_SECOND=0"
  )
  if [[ "$engine" == postgres ]]; then
    PG_DB="shonin_bench_$$_$RANDOM"
    psql "$PG_URL/postgres" -qAtc "CREATE DATABASE $PG_DB" >/dev/null
    env+=("SHONIN_STORAGE__URL=$PG_URL/$PG_DB")
  fi
  log "Shonin on $engine: registering the client and the user"
  env "${env[@]}" "$SHONIN" --dev --data-dir "$data" clients add --client-id "$CLIENT_ID" \
    --name "Shonin benchmark client" --jwks-file "$WORK/keys/client-jwks.json" \
    --scope openid --scope accounts --redirect-uri "$REDIRECT_URI" \
    --grant-type client_credentials --grant-type authorization_code >&2
  env "${env[@]}" "$SHONIN" --dev --data-dir "$data" clients add --client-id "$REFRESH_CLIENT_ID" \
    --name "Shonin benchmark client (refresh)" --jwks-file "$WORK/keys/client-jwks.json" \
    --scope openid --scope accounts --redirect-uri "$REDIRECT_URI" \
    --grant-type authorization_code --grant-type refresh_token >&2
  env "${env[@]}" "$SHONIN" --dev --data-dir "$data" clients add --client-id "$TXN_CLIENT_ID" \
    --name "Shonin benchmark bank backend" --jwks-file "$WORK/keys/client-jwks.json" \
    --scope transactions --redirect-uri "$REDIRECT_URI" --grant-type client_credentials >&2
  env "${env[@]}" "$SHONIN" --dev --data-dir "$data" users add --username "$BENCH_USER" \
    --password-stdin <"$WORK/password" >&2
  env "${env[@]}" "$SHONIN" --dev --data-dir "$data" users add --username "$APPROVER" \
    --password-stdin <"$WORK/password" >&2
  local user_id
  user_id=$(env "${env[@]}" "$SHONIN" --dev --data-dir "$data" users list \
    | awk -v u="$APPROVER" '$1 == u { print $2 }')
  log "Shonin on $engine: serving"
  env "${env[@]}" "$SHONIN" --dev --data-dir "$data" serve >"$WORK/shonin-$engine.log" 2>&1 &
  SERVER_PID=$!
  local ca="$data/tls/dev-ca.pem" issuer="https://localhost:$SHONIN_PORT"
  for _ in $(seq 1 150); do [[ -f "$ca" ]] && break; sleep 0.2; done
  wait_ready "$issuer/readyz" "$ca"
  token_load "shonin-$engine" "$issuer" "$ca"
  log "Shonin on $engine: concurrency sweep ($SWEEP)"
  sweep_load "shonin-$engine" "$issuer" "$ca"
  log "Shonin on $engine: the same requests to a 404 path (the floor)"
  floor_load "shonin-$engine" "$issuer" "$ca"
  log "Shonin on $engine: code flows, password sign-in"
  flow_load "shonin-$engine flow" "$issuer" "$ca" password
  log "Shonin on $engine: code flows, passkey sign-in (enrolled once through the account page)"
  flow_load "shonin-$engine flow passkey" "$issuer" "$ca" passkey
  log "Shonin on $engine: refresh_token grant (the refresh token from one code flow)"
  one_flow_tokens "$issuer" "$ca" "$REFRESH_CLIENT_ID" "$WORK/tokens-refresh.json"
  token_load "shonin-$engine refresh" "$issuer" "$ca" refresh-token "$WORK/tokens-refresh.json" \
    "$REFRESH_CLIENT_ID"
  log "Shonin on $engine: GET /userinfo (the access token from one code flow just before)"
  # Access tokens live oauth.access_token_lifetime_secs (300 s by default): this one is obtained
  # right before its load, which lasts BENCH_WARMUP + BENCH_DURATION plus the signing.
  one_flow_tokens "$issuer" "$ca" "$CLIENT_ID" "$WORK/tokens-userinfo.json"
  token_load "shonin-$engine userinfo" "$issuer" "$ca" userinfo "$WORK/tokens-userinfo.json"
  log "Shonin on $engine: transaction approvals (create, challenge, passkey, approve, execute)"
  approval_load "shonin-$engine approvals" "$issuer" "$ca" "$user_id"
  stop_server
  if [[ "$engine" == postgres ]]; then
    psql "$PG_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
    PG_DB=""
  fi
}
shonin_bench sqlite
shonin_bench postgres

# --- 2b. Shonin with mTLS (issue 5; the phase lives in bench/mtls_phase.sh) -------------------
# shellcheck source=bench/mtls_phase.sh
source "$ROOT/bench/mtls_phase.sh"
shonin_mtls_bench sqlite
shonin_mtls_bench postgres

# --- 3. node-oidc-provider -------------------------------------------------------------------
log "node-oidc-provider $(node -p "require('$ROOT/bench/oidc-provider/node_modules/oidc-provider/package.json').version") on node $(node --version)"
# A fresh peer for each load. With TOKENS_OUT it mints, at its start, the refresh token and the
# access token the refresh_token and userinfo loads present (server.mjs): it has no sign-in pages.
# Fresh, because its in-memory store (the quick-start adapter) is an LRU of about 1,000 entries: a
# load of thousands of requests, each leaving replay-detection entries, pushes out whatever that
# load does not read (a grant minted before the client_credentials load was gone after it).
start_peer() { # LOG
  (
    cd "$ROOT/bench/oidc-provider"
    exec env PORT=$PEER_PORT ISSUER="https://localhost:$PEER_PORT" TLS_CERT="$WORK/peer.pem" \
      TLS_KEY="$WORK/peer.key" CLIENT_ID=$CLIENT_ID CLIENT_JWKS="$WORK/keys/client-jwks.json" \
      DPOP_JWK="$WORK/keys/dpop-public-jwk.json" TOKENS_OUT="$WORK/tokens-peer.json" \
      NODE_ENV=production node server.mjs
  ) >>"$WORK/oidc-provider.log" 2>&1 &
  SERVER_PID=$!
  wait_ready "https://localhost:$PEER_PORT/.well-known/openid-configuration" "$WORK/peer-ca.pem"
}
start_peer
token_load "oidc-provider" "https://localhost:$PEER_PORT" "$WORK/peer-ca.pem"
stop_server
log "node-oidc-provider: refresh_token grant (tokens minted at its start)"
start_peer
token_load "oidc-provider refresh" "https://localhost:$PEER_PORT" "$WORK/peer-ca.pem" \
  refresh-token "$WORK/tokens-peer.json"
stop_server
log "node-oidc-provider: GET /userinfo (tokens minted at its start)"
start_peer
token_load "oidc-provider userinfo" "https://localhost:$PEER_PORT" "$WORK/peer-ca.pem" \
  userinfo "$WORK/tokens-peer.json"
stop_server

machine_line end | tee -a "$OUT"

# --- results ---------------------------------------------------------------------------------
log "results ($OUT)"
python3 "$ROOT/bench/report.py" "$OUT"
