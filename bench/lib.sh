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
