# shellcheck shell=bash
# Shared by approvals.sh, payment_consent.sh and threeds_areq.sh (source it with BENCH_NAME set):
# the release binaries, a work directory that is removed on exit with the server (PID in P)
# stopped and the PostgreSQL database (name in DB) dropped, and CPU readings from /proc in clock
# ticks (1/100 s), not `ps`'s whole seconds.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
S=$ROOT/target/release/shonin
L=$ROOT/target/release/loadgen
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
W=$(mktemp -d "${TMPDIR:-/tmp}/shonin-$BENCH_NAME.XXXXXX")
P=""
DB=""
cleanup() {
  [[ -n "$P" ]] && kill "$P" 2>/dev/null && wait "$P" 2>/dev/null
  [[ -n "$DB" ]] && psql "$PG_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
# A process's user + system time, in seconds.
cpu() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
# Every PostgreSQL process's user + system time, in seconds.
pg_cpu() { for p in $(pgrep -x postgres); do cat "/proc/$p/stat" 2>/dev/null; done | awk '{s += $14 + $15} END {print s / 100}'; }

# Before each engine's run: the server's address in the environment, a fresh PostgreSQL database
# for `postgres`, and the data directory D.
engine_begin() { # ENGINE
  export SHONIN_ISSUER=$ISSUER SHONIN_SERVER__LISTEN=127.0.0.1:$PORT SHONIN_RATE_LIMIT__PER_IP_PER_SECOND=0
  unset SHONIN_STORAGE__URL
  if [[ $1 == postgres ]]; then
    DB="shonin_${BENCH_NAME}_$$"
    psql "$PG_URL/postgres" -qAtc "CREATE DATABASE $DB" >/dev/null
    export SHONIN_STORAGE__URL="$PG_URL/$DB"
  fi
  D=$W/data-$1
  mkdir -m 700 "$D"
}

# Starts `shonin --dev serve` on D (extra global options as arguments) and waits until it is
# ready. Started directly, so P is the server's own PID (its CPU time is read from it).
serve_ready() { # [OPTION...]
  "$S" --dev --data-dir "$D" "$@" serve >"$W/log-$(basename "$D")" 2>&1 &
  P=$!
  for _ in $(seq 1 150); do
    curl -fsS --cacert "$D/tls/dev-ca.pem" -o /dev/null "$ISSUER/readyz" 2>/dev/null && break
    sleep 0.2
  done
}

# After each engine's run: the server stopped, the PostgreSQL database dropped.
engine_end() {
  kill "$P"; wait "$P" 2>/dev/null || true; P=""
  if [[ -n "$DB" ]]; then
    psql "$PG_URL/postgres" -qAtc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
    DB=""
  fi
}
