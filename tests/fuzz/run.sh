#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) against the library
# sources with ASan + UBSan and runs each one for FUZZ_SECONDS seconds.
#
#   sh tests/fuzz/run.sh                 build and run every target
#   sh tests/fuzz/run.sh base58 txmsg    only these targets
#   FUZZ_SECONDS=300 sh tests/fuzz/run.sh txn
#   FUZZ_BUILD_ONLY=1 sh tests/fuzz/run.sh
#   build/fuzz/fuzz_txmsg build/fuzz/artifacts/txmsg/crash-...   (reproduce)
#
# Environment: FUZZ_SECONDS (default 30) per target, FUZZ_BUILD (default
# build/fuzz), FUZZ_JOBS (compile jobs, default 2). The seed corpus is
# tests/fuzz/corpus/<target>/ (read-only); inputs the fuzzer finds go to
# $FUZZ_BUILD/corpus/<target>/, crashes to $FUZZ_BUILD/artifacts/<target>/.
# Exits non-zero when a target crashes, leaks, times out or fails to build.
set -eu

cd "$(dirname "$0")/../.."
OUT=${FUZZ_BUILD:-build/fuzz}
SECONDS_PER=${FUZZ_SECONDS:-30}
JOBS=${FUZZ_JOBS:-2}
CC=${FUZZ_CC:-clang}
PKGS="libcurl libwebsockets libpq jansson libsodium"

# ---- toolchain -----------------------------------------------------------

probe_fuzzer() {
  mkdir -p "$OUT"
  printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
    > "$OUT/probe.c"
  command -v "$CC" >/dev/null 2>&1 &&
    "$CC" -fsanitize=fuzzer,address,undefined -o "$OUT/probe" "$OUT/probe.c" >/dev/null 2>&1
}

if ! probe_fuzzer; then
  echo "fuzz: installing clang and its libFuzzer runtime"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang
  if ! probe_fuzzer; then
    major=$("$CC" -dumpversion | cut -d. -f1)
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "libclang-rt-$major-dev"
  fi
  probe_fuzzer || { echo "fuzz: $CC cannot link -fsanitize=fuzzer" >&2; exit 1; }
fi
sh tools/install-deps.sh

# ---- build ---------------------------------------------------------------

PKG_CFLAGS=$(pkg-config --cflags $PKGS)
PKG_LIBS=$(pkg-config --libs $PKGS)
WARN="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla"
BASE="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all -Iinclude -Itools/replay"
LIBFLAGS="$BASE -fsanitize=fuzzer-no-link,address,undefined $WARN $PKG_CFLAGS"
TGTFLAGS="$BASE -fsanitize=fuzzer,address,undefined $WARN -Werror $PKG_CFLAGS"

mkdir -p "$OUT/lib-obj" "$OUT/lib-gen"
sh tools/embed.sh idl/crypto_bet.json schema/*.sql > "$OUT/lib-gen/embedded.c.tmp"
if cmp -s "$OUT/lib-gen/embedded.c.tmp" "$OUT/lib-gen/embedded.c"; then
  rm -f "$OUT/lib-gen/embedded.c.tmp"
else
  mv "$OUT/lib-gen/embedded.c.tmp" "$OUT/lib-gen/embedded.c"
fi

# newest header: any header change rebuilds everything
newest_hdr=$(ls -t include/*.h src/*/*.h tools/replay/*.h 2>/dev/null | head -n 1)

# Compiles src (arg 1) into obj (arg 2) when out of date. Runs in the
# background; the caller waits.
compile() {
  if [ ! -f "$2" ] || [ "$1" -nt "$2" ] || [ "$newest_hdr" -nt "$2" ] || [ tests/fuzz/run.sh -nt "$2" ]; then
    $CC $LIBFLAGS -c -o "$2.tmp" "$1" && mv "$2.tmp" "$2"
  fi
}

objs=""
running=0
fail=0
pids=""
for src in src/*/*.c tools/replay/replay_*.c "$OUT/lib-gen/embedded.c"; do
  [ "$src" = src/cli/main.c ] && continue
  obj="$OUT/lib-obj/$(basename "$src" .c).o"
  objs="$objs $obj"
  compile "$src" "$obj" &
  pids="$pids $!"
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    for p in $pids; do wait "$p" || fail=1; done
    pids=""
    running=0
  fi
done
for p in $pids; do wait "$p" || fail=1; done
[ "$fail" -eq 0 ] || { echo "fuzz: library build failed" >&2; exit 1; }
rm -f "$OUT/libcbi-fuzz.a"
ar rcs "$OUT/libcbi-fuzz.a" $objs

if [ "$#" -gt 0 ]; then
  targets="$*"
else
  targets=$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c | sed 's/^fuzz_//'; done)
fi

for t in $targets; do
  src="tests/fuzz/fuzz_$t.c"
  [ -f "$src" ] || { echo "fuzz: no target $src" >&2; exit 1; }
  $CC $TGTFLAGS -o "$OUT/fuzz_$t" "$src" "$OUT/libcbi-fuzz.a" $PKG_LIBS -lpthread -lm ||
    { echo "fuzz: building $t failed" >&2; exit 1; }
done
[ -n "${FUZZ_BUILD_ONLY:-}" ] && exit 0

# ---- run -----------------------------------------------------------------

# Longest input each target is given (its parser's realistic maximum).
max_len() {
  case "$1" in
    base58) echo 128 ;;
    b64) echo 4096 ;;
    jsonx) echo 16384 ;;
    decode_cb | decode_orca) echo 12288 ;;
    idl) echo 131072 ;;
    logscan) echo 16384 ;;
    txmsg) echo 1232 ;;
    txn) echo 65536 ;;
    replay) echo 32768 ;;
    wsmsg) echo 16384 ;;
    config_text) echo 4096 ;;
    config_u64) echo 64 ;;
    *) echo 4096 ;;
  esac
}

# A JSON dictionary helps every JSON-shaped target.
cat > "$OUT/json.dict" <<'EOF'
"{"
"}"
"["
"]"
":"
","
"\""
"\\u0000"
"\\ud800"
"true"
"false"
"null"
"-0"
"1e400"
"18446744073709551615"
"18446744073709551616"
"9223372036854775807"
"9223372036854775808"
"-9223372036854775809"
EOF

status=0
summary=""
for t in $targets; do
  seeds="tests/fuzz/corpus/$t"
  work="$OUT/corpus/$t"
  art="$OUT/artifacts/$t"
  log="$OUT/$t.log"
  mkdir -p "$work" "$art"
  set -- -max_total_time="$SECONDS_PER" -max_len="$(max_len "$t")" -timeout=25 \
    -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$art/"
  case "$t" in
    jsonx | idl | txn | replay | wsmsg) set -- "$@" -dict="$OUT/json.dict" ;;
  esac
  [ -d "$seeds" ] && set -- "$@" "$work" "$seeds" || set -- "$@" "$work"
  echo "fuzz: $t for ${SECONDS_PER}s"
  if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$OUT/fuzz_$t" "$@" > "$log" 2>&1; then
    res=ok
  else
    res=FAILED
    status=1
    tail -n 60 "$log" >&2
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  summary="$summary$(printf '%-12s %-7s execs=%s exec/s=%s' "$t" "$res" "${execs:-?}" "${rate:-?}")
"
done
printf '%s' "$summary"
exit "$status"
