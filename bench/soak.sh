#!/usr/bin/env bash
# Soak test (issue 21, item 3): Shonin (`serve --dev`, release build, SQLite) under a steady
# token-endpoint load for a long time, sampling what must stay bounded: the server's resident
# memory, the token table, the database and WAL files. At the end the server idles, stops, and
# the audit chain is verified over everything the soak wrote.
#
# The load: client_credentials + private_key_jwt + DPoP, as in bench/run.sh, at a fixed average
# rate. Each segment pregenerates SOAK_RATE × SOAK_SEGMENT requests (the proofs live 60 s) and
# sends them with SOAK_CONCURRENCY connections; a segment that finishes early waits out its time,
# so the rate is an average with bursts, never more than the file holds.
#
# Everything listens on and talks to 127.0.0.1 only; the server is stopped by its PID on exit.
#
# Usage: bench/soak.sh        (SOAK_MINUTES of load, default 30, after the release build)
# Knobs: SOAK_MINUTES (30), SOAK_RATE (req/s, 2500), SOAK_CONCURRENCY (8), SOAK_SEGMENT (s, 25),
# SOAK_SAMPLE (s, 10), SOAK_IDLE (s after the load, 60), SOAK_TOKEN_LIFETIME (s, 300: the
# server's default access token lifetime), SOAK_RETENTION (s, unset: the server's default
# oauth.token_record_retention_secs), BENCH_SKIP_BUILD=1, BENCH_KEEP=1, SOAK_OUT (default
# target/bench/soak-<time>.jsonl).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MINUTES=${SOAK_MINUTES:-30}
RATE=${SOAK_RATE:-2500}
CONCURRENCY=${SOAK_CONCURRENCY:-8}
SEGMENT=${SOAK_SEGMENT:-25}
SAMPLE=${SOAK_SAMPLE:-10}
IDLE=${SOAK_IDLE:-60}
PORT=18643
CLIENT_ID=soak-client
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${SOAK_OUT:-$ROOT/target/bench/soak-$STAMP.jsonl}
SHONIN=$ROOT/target/release/shonin
LOADGEN=$ROOT/target/release/loadgen
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shonin-soak.XXXXXX")
SERVER_PID=""
SAMPLER_PID=""

log() { printf '\n== %s\n' "$*" >&2; }

cleanup() {
  [[ -n "$SAMPLER_PID" ]] && kill "$SAMPLER_PID" 2>/dev/null || true
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  log "building (release)"
  (cd "$ROOT" && cargo build --release --locked -p shonin-server -p loadgen)
fi
mkdir -p "$(dirname "$OUT")"
: >"$OUT"

DATA=$WORK/data
DB=$DATA/shonin.db
ISSUER=https://localhost:$PORT
ENV=(
  "SHONIN_ISSUER=$ISSUER"
  "SHONIN_SERVER__LISTEN=127.0.0.1:$PORT"
  "SHONIN_RATE_LIMIT__PER_IP_PER_SECOND=0"
  "SHONIN_LOG__LEVEL=warn"
)
[[ -n "${SOAK_TOKEN_LIFETIME:-}" ]] && ENV+=("SHONIN_OAUTH__ACCESS_TOKEN_LIFETIME_SECS=$SOAK_TOKEN_LIFETIME")
[[ -n "${SOAK_RETENTION:-}" ]] && ENV+=("SHONIN_OAUTH__TOKEN_RECORD_RETENTION_SECS=$SOAK_RETENTION")

"$LOADGEN" keys --dir "$WORK/keys"
env "${ENV[@]}" "$SHONIN" --dev --data-dir "$DATA" clients add --client-id "$CLIENT_ID" \
  --name "Shonin soak client" --jwks-file "$WORK/keys/client-jwks.json" --scope accounts \
  --grant-type client_credentials >&2
log "serving on $ISSUER"
env "${ENV[@]}" "$SHONIN" --dev --data-dir "$DATA" serve >"$WORK/shonin.log" 2>&1 &
SERVER_PID=$!
CA=$DATA/tls/dev-ca.pem
for _ in $(seq 1 150); do
  curl -fsS --cacert "$CA" -o /dev/null "$ISSUER/readyz" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/shonin.log" >&2; exit 1; }
  sleep 0.2
done

# One JSON line per sample: seconds since start, the server's RSS and peak RSS (KiB), the
# database and WAL sizes (bytes), token records and the audit head.
T0=$(date +%s)
sample() {
  local phase=$1 rss hwm db wal tokens audit
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
  db=$(stat -c %s "$DB")
  wal=$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)
  tokens=$(sqlite3 -readonly "$DB" "SELECT COUNT(*) FROM oauth_tokens" 2>/dev/null || echo -1)
  audit=$(sqlite3 -readonly "$DB" "SELECT seq FROM audit_head" 2>/dev/null || echo -1)
  printf '{"kind":"sample","phase":"%s","t":%d,"rss_kib":%s,"hwm_kib":%s,"db_bytes":%s,"wal_bytes":%s,"token_rows":%s,"audit_seq":%s}\n' \
    "$phase" $(($(date +%s) - T0)) "$rss" "$hwm" "$db" "$wal" "$tokens" "$audit" >>"$OUT"
}
(
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    phase=load
    [[ -f "$WORK/idle" ]] && phase=idle
    sample "$phase" || true
    sleep "$SAMPLE"
  done
) &
SAMPLER_PID=$!

log "load: $RATE req/s for $MINUTES min, $CONCURRENCY connections, segments of $SEGMENT s"
END=$((T0 + MINUTES * 60))
while (($(date +%s) < END)); do
  start=$(date +%s)
  "$LOADGEN" pregen --keys "$WORK/keys" --client-id "$CLIENT_ID" --issuer "$ISSUER" \
    --scope accounts -n $((RATE * SEGMENT)) --out "$WORK/seg.req" 2>/dev/null
  line=$("$LOADGEN" run --file "$WORK/seg.req" --url "$ISSUER/token" --ca "$CA" \
    --concurrency "$CONCURRENCY" --duration "$SEGMENT" --label soak)
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["kind"]="segment"; d["t"]=int(sys.argv[2]); print(json.dumps(d))' \
    "$line" $(($(date +%s) - T0)) >>"$OUT"
  rest=$((start + SEGMENT + 5 - $(date +%s)))
  ((rest > 0)) && sleep "$rest"
done
rm -f "$WORK/seg.req"

log "idle for $IDLE s"
touch "$WORK/idle"
sleep "$IDLE"
kill "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
sample idle

log "stopping; verifying the audit chain"
kill "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=""
verify=$(env "${ENV[@]}" "$SHONIN" --dev --data-dir "$DATA" audit verify 2>&1 | sed -n 1p)
printf '{"kind":"verify","result":"%s"}\n' "$verify" >>"$OUT"
echo "$verify" >&2

python3 "$ROOT/bench/soak_report.py" "$OUT"
