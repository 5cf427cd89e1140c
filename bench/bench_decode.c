/* Market decoding throughput: the typed decoder (every pubkey encoded to
 * base58, every string UTF-8-checked), the generic JSON decoder, and a
 * memcpy of the same bytes as the in-run ceiling. Realistic Markets: title
 * 40 bytes, description 200, category 10, metadata URI 60, oracle source
 * and resolution result present; a pool of distinct deterministic inputs.
 * Each measurement is timed for ~0.3 s on one thread and the set repeated
 * CBI_BENCH_REPS times (default 5): the figures are medians, with the
 * spread. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "cb_decoder.h"
#include "decoder.h"
#include "idl.h"

#define POOL 256u
#define MIN_NS 300000000ull
#define MAXLEN 1024
#define DEFAULT_REPS 5
#define GOAL_TYPED 1e6 /* typed decodes per second */

static volatile uint64_t sink;

#define TIMED(RESULT, BODY) BU_TIMED(RESULT, sink, POOL, MIN_NS, BODY)

typedef struct {
  uint8_t b[MAXLEN];
  size_t n;
} buf_t;

static void put(buf_t *b, const void *p, size_t n) {
  memcpy(b->b + b->n, p, n);
  b->n += n;
}
static void put_le(buf_t *b, uint64_t v, int n) {
  for (int i = 0; i < n; i++) b->b[b->n++] = (uint8_t)(v >> (8 * i));
}
static void put_rand(buf_t *b, size_t n, unsigned char seed[randombytes_SEEDBYTES]) {
  randombytes_buf_deterministic(b->b + b->n, n, seed);
  seed[1]++;
  b->n += n;
}
static void put_text(buf_t *b, size_t n, unsigned k) {
  put_le(b, n, 4);
  static const char words[] = "Will the price of SOL close above the strike at expiry? ";
  for (size_t i = 0; i < n; i++) b->b[b->n++] = (uint8_t)words[(i + k) % (sizeof words - 1)];
}

/* A Market laid out as in the IDL: authority, market_id, title,
 * description, category, created_at, resolution_time, state, market_type,
 * accepted_mint, yes_vault, no_vault, yes_pool, no_pool, total_volume,
 * total_participants, resolution_result, resolver, oracle_source,
 * metadata_uri, creation_fee, bump. */
static void build_market(buf_t *b, const uint8_t disc[8], unsigned k) {
  unsigned char seed[randombytes_SEEDBYTES] = {0};
  seed[0] = (unsigned char)k;
  seed[2] = (unsigned char)(k >> 8);
  b->n = 0;
  put(b, disc, 8);
  put_rand(b, 32, seed);
  put_le(b, 1000 + k, 8);
  put_text(b, 40, k);
  put_text(b, 200, k + 3);
  put_text(b, 10, k + 7);
  put_le(b, 1700000000 + k, 8);
  put_le(b, 1800000000 + k, 8);
  b->b[b->n++] = 1;
  b->b[b->n++] = 1;
  put_rand(b, 96, seed);
  put_le(b, 123456789ull * k, 8);
  put_le(b, 987654321ull * k, 8);
  put_le(b, 1111111111ull * k, 8);
  put_le(b, k, 4);
  b->b[b->n++] = 1;
  b->b[b->n++] = 1;
  put_rand(b, 32, seed);
  b->b[b->n++] = 1;
  put_rand(b, 32, seed);
  put_text(b, 60, k + 11);
  put_le(b, 5000, 8);
  b->b[b->n++] = 254;
}

int main(void) {
  idl_t *idl = NULL;
  cb_decoder_t *dec = NULL;
  char err[512];
  int rc = 1;
  buf_t *pool = NULL;
  if (sodium_init() < 0 || cb_decoder_default_idl(&idl, err, sizeof err) != 0) {
    fprintf(stderr, "bench_decode: cannot load IDL: %s\n", err);
    goto out;
  }
  if (cb_decoder_new(idl, &dec, NULL) != 0) {
    fprintf(stderr, "bench_decode: the IDL does not bind\n");
    goto out;
  }
  size_t dl;
  const uint8_t *disc = NULL;
  for (size_t i = 0; i < idl_account_count(idl); i++)
    if (strcmp(idl_account_name(idl, i), "Market") == 0) disc = idl_account_discriminator(idl, i, &dl);
  pool = malloc(POOL * sizeof *pool);
  if (!disc || !pool) goto out;
  for (unsigned k = 0; k < POOL; k++) build_market(&pool[k], disc, k);

  decode_error_t derr;
  cb_account_t acct;
  json_t *j = NULL;
  for (unsigned k = 0; k < POOL; k++) {
    if (cb_decode_account(dec, pool[k].b, pool[k].n, &acct, &derr) != 0 ||
        decode_account_json(idl, pool[k].b, pool[k].n, true, &j, &derr) != 0) {
      fprintf(stderr, "bench_decode: sample %u does not decode: %s\n", k,
              decode_error_format(&derr, err, sizeof err));
      goto out;
    }
    json_decref(j);
  }

  static uint8_t dst[MAXLEN];
  int reps = bu_reps("bench_decode", DEFAULT_REPS);
  double typed[BU_MAX_REPS], json[BU_MAX_REPS], ceil[BU_MAX_REPS];
  for (int r = 0; r < reps; r++) {
    TIMED(ceil[r], {
      memcpy(dst, pool[i].b, pool[i].n);
      bu_clobber(dst);
    });
    TIMED(typed[r], {
      int x = cb_decode_account(dec, pool[i].b, pool[i].n, &acct, &derr);
      bu_clobber(&acct);
      sink += (uint64_t)x + acct.u.market.authority.b58[0];
    });
    TIMED(json[r], {
      json_t *v = NULL;
      int x = decode_account_json(idl, pool[i].b, pool[i].n, true, &v, &derr);
      sink += (uint64_t)x;
      json_decref(v);
    });
  }
  double mc = bu_median(ceil, reps), mt = bu_median(typed, reps);
  printf("market bytes: %zu (strings 40/200/10/60, 6 pubkeys incl. Some(oracle_source))\n",
         pool[0].n);
  if (bu_figure("market_decode_typed", "decodes/s", 0, typed, reps,
                "memcpy ceiling %.0f/s, ratio %.4f; goal >= %.0f/s: %s", mc, mt / mc, GOAL_TYPED,
                mt >= GOAL_TYPED ? "met" : "NOT met") != 0 ||
      bu_figure("market_decode_json", "decodes/s", 0, json, reps,
                "memcpy ceiling %.0f/s, ratio %.4f", mc, bu_median(json, reps) / mc) != 0)
    goto out;
  rc = 0;
out:
  free(pool);
  cb_decoder_free(dec);
  idl_free(idl);
  return rc;
}
