/* base58 throughput: the fixed-size codecs, the reference bignum codec and
 * a memcpy of the same bytes as the in-run ceiling. Deterministic inputs
 * (libsodium's seeded generator); each figure is timed for ~0.2 s. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base58.h"
#include "benchutil.h"

#define POOL 1024u
#define MIN_NS 200000000ull

static volatile uint64_t sink;

#define TIMED(RESULT, BODY) BU_TIMED(RESULT, sink, POOL, MIN_NS, BODY)

static void report(const char *name, double fast, double ref, double ceil) {
  printf("bench %s: %.0f ops/s (ref %.0f ops/s, memcpy ceiling %.0f ops/s)\n", name, fast, ref, ceil);
}

int main(void) {
  unsigned char seed[randombytes_SEEDBYTES];
  uint8_t *bin32 = malloc(POOL * 32), *bin64 = malloc(POOL * 64);
  char(*s32)[BASE58_ENCODED_32_SZ] = malloc(POOL * sizeof *s32);
  char(*s64)[BASE58_ENCODED_64_SZ] = malloc(POOL * sizeof *s64);
  char out[2 * 64 + 1];
  uint8_t dst[128];
  double fast, ref, ceil;
  int rc = 1;

  if (!bin32 || !bin64 || !s32 || !s64) goto out;
  memset(seed, 0x42, sizeof seed);
  randombytes_buf_deterministic(bin32, POOL * 32, seed);
  seed[0] = 0x43;
  randombytes_buf_deterministic(bin64, POOL * 64, seed);
  for (size_t i = 0; i < POOL; i++) {
    base58_encode_32(bin32 + 32 * i, s32[i]);
    base58_encode_64(bin64 + 64 * i, s64[i]);
  }

  TIMED(ceil, {
    memcpy(dst, bin32 + 32 * i, 32);
    bu_clobber(dst);
    acc_ += dst[i & 31];
  });
  TIMED(fast, acc_ += base58_encode_32(bin32 + 32 * i, out); bu_clobber(out));
  TIMED(ref, acc_ += base58_encode_ref(bin32 + 32 * i, 32, out); bu_clobber(out));
  report("base58_encode_32", fast, ref, ceil);
  TIMED(fast, acc_ += (uint64_t)base58_decode_32(s32[i], dst) + dst[i & 31]; bu_clobber(dst));
  TIMED(ref, acc_ += (uint64_t)base58_decode_ref(s32[i], dst, 32) + dst[i & 31]; bu_clobber(dst));
  report("base58_decode_32", fast, ref, ceil);

  TIMED(ceil, {
    memcpy(dst, bin64 + 64 * i, 64);
    bu_clobber(dst);
    acc_ += dst[i & 63];
  });
  TIMED(fast, acc_ += base58_encode_64(bin64 + 64 * i, out); bu_clobber(out));
  TIMED(ref, acc_ += base58_encode_ref(bin64 + 64 * i, 64, out); bu_clobber(out));
  report("base58_encode_64", fast, ref, ceil);
  TIMED(fast, acc_ += (uint64_t)base58_decode_64(s64[i], dst) + dst[i & 63]; bu_clobber(dst));
  TIMED(ref, acc_ += (uint64_t)base58_decode_ref(s64[i], dst, 64) + dst[i & 63]; bu_clobber(dst));
  report("base58_decode_64", fast, ref, ceil);
  rc = 0;
out:
  free(bin32);
  free(bin64);
  free(s32);
  free(s64);
  return rc;
}
