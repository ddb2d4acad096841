#!/usr/bin/env bash
# Where Shonin's token endpoint spends its time: runs the same load as bench/run.sh against one
# storage setup and, during the middle 10 s, samples the server with `perf record -e cpu-clock`
# (Debian's linux-perf; hardware counters are not needed) and prints the samples grouped by
# thread and by kind of work. On PostgreSQL it also counts the database's commits per request and
# the CPU its processes used.
#
# Usage: bench/profile.sh sqlite|sqlite-tmpfs|postgres
#   sqlite-tmpfs puts the data directory on /dev/shm, where fsync costs nothing: the difference
#   to `sqlite` is the price of SQLite's synchronous=FULL commits on this machine's disk.
# Knobs: BENCH_SKIP_BUILD=1, BENCH_CONCURRENCY (32), BENCH_PG_URL (as in run.sh),
# PROFILE_PERF=0 (no sampling, so no `perf` needed: just the load, the server's CPU and the
# group-commit batch sizes from /metrics — a quick before/after check of a change),
# PROFILE_KEEP=FILE (copy perf.data there, for `perf report -i FILE` afterwards),
# PROFILE_CALLGRAPH=dwarf (whole call chains: the release build has no frame pointers).
# Loopback only, bounded (one 20 s load), every process it starts is stopped by PID on exit.
set -euo pipefail

SETUP=${1:?usage: bench/profile.sh sqlite|sqlite-tmpfs|postgres}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONCURRENCY=${BENCH_CONCURRENCY:-32}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
PORT=18443
ISSUER=https://localhost:$PORT
SHONIN=$ROOT/target/release/shonin
LOADGEN=$ROOT/target/release/loadgen
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shonin-profile.XXXXXX")
DATA=$WORK/data
[[ "$SETUP" == sqlite-tmpfs ]] && DATA=$(mktemp -d /dev/shm/shonin-profile.XXXXXX)
PG_DB=""
SERVER_PID=""
LOAD_PID=""

cleanup() {
  for pid in "$LOAD_PID" "$SERVER_PID"; do
    if [[ -n "$pid" ]]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [[ -n "$PG_DB" ]]; then
    psql "$PG_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  [[ -n "${PROFILE_KEEP:-}" ]] && cp "$WORK/perf.data" "$PROFILE_KEEP" 2>/dev/null; rm -rf "$WORK" "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PERF=${PROFILE_PERF:-1}
if [[ "$PERF" == 1 ]]; then
  command -v perf >/dev/null || { echo "perf is needed: apt-get install linux-perf" >&2; exit 2; }
fi
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$ROOT" && cargo build --release --locked -p shonin-server -p loadgen)
fi

export SHONIN_ISSUER=$ISSUER SHONIN_SERVER__LISTEN=127.0.0.1:$PORT
export SHONIN_RATE_LIMIT__PER_IP_PER_SECOND=0
case "$SETUP" in
  sqlite | sqlite-tmpfs) ;;
  postgres)
    PG_DB="shonin_profile_$$_$RANDOM"
    psql "$PG_URL/postgres" -qAtc "CREATE DATABASE $PG_DB" >/dev/null
    export SHONIN_STORAGE__URL=$PG_URL/$PG_DB
    ;;
  *) echo "unknown setup $SETUP" >&2; exit 2 ;;
esac

"$LOADGEN" keys --dir "$WORK/keys"
"$SHONIN" --dev --data-dir "$DATA" clients add --client-id bench-client --name "Shonin benchmark client" \
  --jwks-file "$WORK/keys/client-jwks.json" --scope accounts --grant-type client_credentials >&2
"$SHONIN" --dev --data-dir "$DATA" serve >"$WORK/shonin.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 150); do
  curl -fsS --cacert "$DATA/tls/dev-ca.pem" -o /dev/null "$ISSUER/readyz" 2>/dev/null && break
  sleep 0.2
done

"$LOADGEN" pregen --keys "$WORK/keys" --client-id bench-client --issuer "$ISSUER" -n 150000 \
  --out "$WORK/load.req"
"$LOADGEN" run --file "$WORK/load.req" --url "$ISSUER/token" --ca "$DATA/tls/dev-ca.pem" \
  --concurrency "$CONCURRENCY" --duration 20 --label "profile $SETUP" >"$WORK/result.json" &
LOAD_PID=$!

pg_commits() {
  psql "$PG_URL/postgres" -qAtc "SELECT xact_commit FROM pg_stat_database WHERE datname = '$PG_DB'"
}
# CPU ticks (1/100 s) of every process named postgres: the database server's share of the machine.
pg_ticks() {
  local sum=0 pid t
  for pid in $(pgrep -x postgres); do
    t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
    sum=$((sum + t))
  done
  echo "$sum"
}
srv_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$SERVER_PID/stat"; }

sleep 5
[[ -n "$PG_DB" ]] && { c0=$(pg_commits); p0=$(pg_ticks); }
# Bytes the server made the kernel write to storage (WAL, checkpoints, logs): /proc/PID/io.
srv_writes() { awk '/^write_bytes/ { print $2 }' "/proc/$SERVER_PID/io"; }
s0=$(srv_ticks); w0=$(srv_writes)
if [[ "$PERF" == 1 ]]; then
  perf record -q -F 499 -e cpu-clock --call-graph "${PROFILE_CALLGRAPH:-fp}" -p "$SERVER_PID" -o "$WORK/perf.data" -- sleep 10 2>/dev/null
else
  sleep 10
fi
s1=$(srv_ticks); w1=$(srv_writes)
[[ -n "$PG_DB" ]] && { c1=$(pg_commits); p1=$(pg_ticks); }
wait "$LOAD_PID"
LOAD_PID=""
cat "$WORK/result.json"
rps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok_rps"])' "$WORK/result.json")

echo
echo "server CPU during the 10 s sample: $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", (b - a) / 100 }') s"
echo "server writes to storage: $(awk -v a="$w0" -v b="$w1" -v r="$rps" 'BEGIN { printf "%.1f", (b - a) / 1024 / (r * 10) }') KiB per request"
if [[ -n "$PG_DB" ]]; then
  python3 -c 'import sys; c, t, r = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]); print(f"PostgreSQL: {c / (r * 10):.1f} commits per request, {t / 100:.2f} CPU s of postgres processes in 10 s ({t / 100 / (r * 10) * 1e6:.0f} µs per request)")' \
    "$((c1 - c0))" "$((p1 - p0))" "$rps"
fi
echo
# Group commit (crates/shonin-store/src/batch.rs): operations per store transaction, and audit
# entries per audit-writer batch, since the server started.
curl -fsS --cacert "$DATA/tls/dev-ca.pem" "$ISSUER/metrics" |
  awk '/^shonin_(store_write|audit)_batch_(size|seconds)_(sum|count)|^shonin_store_write_batch_scripts_total/ { v[$1] = $2 }
       END { if (v["shonin_store_write_batch_size_count"] > 0)
               printf "store write batches: %d, %.1f operations each, %.2f ms each, %d as one script\n", v["shonin_store_write_batch_size_count"], v["shonin_store_write_batch_size_sum"] / v["shonin_store_write_batch_size_count"], 1000 * v["shonin_store_write_batch_seconds_sum"] / v["shonin_store_write_batch_seconds_count"], v["shonin_store_write_batch_scripts_total"];
             if (v["shonin_audit_batch_size_count"] > 0)
               printf "audit writer batches: %d, %.1f entries each\n", v["shonin_audit_batch_size_count"], v["shonin_audit_batch_size_sum"] / v["shonin_audit_batch_size_count"] }'
[[ "$PERF" == 1 ]] || exit 0
echo
perf report -i "$WORK/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null |
  grep '%' | sed 's/^/  /'
perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
  python3 "$ROOT/bench/perf_groups.py"
