#!/bin/sh
# Runs every benchmark in BUILD/bench against a throwaway PostgreSQL cluster
# and the replay server where needed. Figures go to stdout; record them in
# BENCHMARKS.md with the machine and date.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 2
. tests/pg.sh
pg_start || exit 2
trap 'pg_stop' EXIT INT TERM
export CBI_BUILD="$BUILD"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
rc=0
for b in "$BUILD"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "== $b"
  "$b" || rc=1
done
exit $rc
