#!/bin/sh
# Runs every benchmark in BUILD/bench against a throwaway PostgreSQL cluster
# and the replay server where needed. Figures go to stdout, one per line:
#   bench NAME: VALUE UNIT (median of N, min X, max Y; details)
# VALUE the median over N repeated runs (CBI_BENCH_REPS overrides each
# benchmark's default count). Record them in BENCHMARKS.md with the machine
# and date. Exits 1 when a benchmark failed (a figure it could not measure
# is not printed).
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 2
. tests/pg.sh
pg_start || exit 2
trap 'pg_stop' EXIT INT TERM
export CBI_BUILD="$BUILD"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
[ -n "${CBI_BENCH_REPS:-}" ] && echo "CBI_BENCH_REPS: $CBI_BENCH_REPS"
rc=0
t_all=$(date +%s)
for b in "$BUILD"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "== $b"
  t0=$(date +%s)
  if "$b"; then
    echo "== $b: $(( $(date +%s) - t0 )) s"
  else
    echo "== $b: FAILED (exit $?) after $(( $(date +%s) - t0 )) s"
    rc=1
  fi
done
echo "total: $(( $(date +%s) - t_all )) s"
exit $rc
