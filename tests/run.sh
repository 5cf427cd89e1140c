#!/bin/sh
# Usage: tests/run.sh [BUILD] [NAME-PREFIX]
# Runs every test binary (or those named test_NAME-PREFIX*) in BUILD/tests against one throwaway PostgreSQL
# cluster and prints a closing line "checks: N passed, M failed".
set -u
BUILD=${1:-build}
FILTER=${2:-}
cd "$(dirname "$0")/.." || exit 2
. tests/pg.sh
pg_start || exit 2
trap 'pg_stop' EXIT INT TERM
export CBI_BUILD="$BUILD"
export CBI_PG_CTL="$PG_BIN/pg_ctl"
export CBI_PG_DATA="$PG_TMP/data"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0; failed=0; bad_bins=""
log=$(mktemp)
for t in "$BUILD"/tests/test_${FILTER}*; do
  [ -x "$t" ] || continue
  echo "== $t"
  "$t" >"$log" 2>&1
  rc=$?
  cat "$log"
  line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
    f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
    e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
    passed=$((passed + n - f - e)); failed=$((failed + f + e))
  fi
  if [ $rc -ne 0 ]; then
    bad_bins="$bad_bins $t"
    [ -z "$line" ] && failed=$((failed + 1))
  fi
done
rm -f "$log"
[ -n "$bad_bins" ] && echo "failing binaries:$bad_bins"
echo "test build: $BUILD"
echo "checks: $passed passed, $failed failed"
[ $failed -eq 0 ] && [ -z "$bad_bins" ]
