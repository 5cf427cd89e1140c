/* base58 throughput: the fixed-size codecs, the reference bignum codec and
 * a memcpy of the same bytes as the in-run ceiling. Deterministic inputs
 * (libsodium's seeded generator); each measurement is timed for ~0.2 s and
 * the whole set repeated CBI_BENCH_REPS times (default 5): the figures are
 * medians, with the spread. */
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

#define DEFAULT_REPS 5

#define TIMED(RESULT, BODY) BU_TIMED(RESULT, sink, POOL, MIN_NS, BODY)

/* Samples of one rep: [codec][0 fast, 1 ref, 2 memcpy ceiling]. */
enum { ENC32, DEC32, ENC64, DEC64, NCODEC };
static const char *const names[NCODEC] = {"base58_encode_32", "base58_decode_32",
                                          "base58_encode_64", "base58_decode_64"};

static int report(int k, double v[NCODEC][3][BU_MAX_REPS], int reps) {
  double ref = bu_median(v[k][1], reps), ceil = bu_median(v[k][2], reps);
  return bu_figure(names[k], "ops/s", 0, v[k][0], reps,
                   "reference codec %.0f ops/s, memcpy ceiling %.0f ops/s", ref, ceil);
}

int main(void) {
  unsigned char seed[randombytes_SEEDBYTES];
  uint8_t *bin32 = malloc(POOL * 32), *bin64 = malloc(POOL * 64);
  char(*s32)[BASE58_ENCODED_32_SZ] = malloc(POOL * sizeof *s32);
  char(*s64)[BASE58_ENCODED_64_SZ] = malloc(POOL * sizeof *s64);
  char out[2 * 64 + 1];
  uint8_t dst[128];
  static double v[NCODEC][3][BU_MAX_REPS];
  int reps = bu_reps("bench_base58", DEFAULT_REPS);
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

  for (int r = 0; r < reps; r++) {
    TIMED(v[ENC32][2][r], {
      memcpy(dst, bin32 + 32 * i, 32);
      bu_clobber(dst);
      acc_ += dst[i & 31];
    });
    v[DEC32][2][r] = v[ENC32][2][r];
    TIMED(v[ENC32][0][r], acc_ += base58_encode_32(bin32 + 32 * i, out); bu_clobber(out));
    TIMED(v[ENC32][1][r], acc_ += base58_encode_ref(bin32 + 32 * i, 32, out); bu_clobber(out));
    TIMED(v[DEC32][0][r],
          acc_ += (uint64_t)base58_decode_32(s32[i], dst) + dst[i & 31]; bu_clobber(dst));
    TIMED(v[DEC32][1][r],
          acc_ += (uint64_t)base58_decode_ref(s32[i], dst, 32) + dst[i & 31]; bu_clobber(dst));
    TIMED(v[ENC64][2][r], {
      memcpy(dst, bin64 + 64 * i, 64);
      bu_clobber(dst);
      acc_ += dst[i & 63];
    });
    v[DEC64][2][r] = v[ENC64][2][r];
    TIMED(v[ENC64][0][r], acc_ += base58_encode_64(bin64 + 64 * i, out); bu_clobber(out));
    TIMED(v[ENC64][1][r], acc_ += base58_encode_ref(bin64 + 64 * i, 64, out); bu_clobber(out));
    TIMED(v[DEC64][0][r],
          acc_ += (uint64_t)base58_decode_64(s64[i], dst) + dst[i & 63]; bu_clobber(dst));
    TIMED(v[DEC64][1][r],
          acc_ += (uint64_t)base58_decode_ref(s64[i], dst, 64) + dst[i & 63]; bu_clobber(dst));
  }
  for (int k = 0; k < NCODEC; k++)
    if (report(k, v, reps) != 0) goto out;
  rc = 0;
out:
  free(bin32);
  free(bin64);
  free(s32);
  free(s64);
  return rc;
}
