/* Decoder vectors built independently of the decoder: byte arrays written
 * out here from the account layouts of the data-architecture document and
 * the IDL (Borsh: little-endian integers, u32-prefixed strings, u8 option
 * and enum tags), with expected values written by hand. */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cb_decoder.h"
#include "decoder.h"
#include "idl.h"
#include "idl_layout.h"
#include "testutil.h"

/* ---- byte builder --------------------------------------------------------- */

typedef struct {
  uint8_t b[4096];
  size_t n;
} bb_t;

static void put8(bb_t *b, uint8_t v) {
  ck_assert_uint_lt(b->n, sizeof b->b);
  b->b[b->n++] = v;
}
static void putle(bb_t *b, uint64_t v, int n) {
  for (int i = 0; i < n; i++) put8(b, (uint8_t)(v >> (8 * i)));
}
static void putraw(bb_t *b, const void *p, size_t n) {
  for (size_t i = 0; i < n; i++) put8(b, ((const uint8_t *)p)[i]);
}
static void putstr(bb_t *b, const char *s) {
  putle(b, strlen(s), 4);
  putraw(b, s, strlen(s));
}
static void putpk(bb_t *b, uint8_t fill) {
  for (int i = 0; i < 32; i++) put8(b, fill);
}

/* base58 of 32 bytes all equal to fill (computed with a plain Python
 * bignum encoder when these vectors were written). */
#define PK1 "4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi"
#define PK2 "8qbHbw2BbbTHBW1sbeqakYXVKRQM8Ne7pLK7m6CVfeR"
#define PK3 "CktRuQ2mttgRGkXJtyksdKHjUdc2C4TgDzyB98oEzy8"
#define PK4 "GgBaCs3NCBuZN12kCJgAW63ydqohFkHEdfdEXBPzLHq"
#define PK5 "LbUiWL3xVV8hTFYBVdbTNrpDo41NKS6o3LHHuDzjfcY"
#define PK6 "QWmroo4YnnMqYW3cnxWkFdaTxGD3P7vMSzwMHGbUzwF"
#define PK7 "US517G5965aydkZ46HS38QLi7UQiSojurfbQfKCELFx"
#define PK0 "11111111111111111111111111111111"
#define PKFF "JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFG"

static const uint8_t D_CONFIG[8] = {149, 8, 156, 202, 160, 252, 176, 217};
static const uint8_t D_MARKET[8] = {219, 190, 213, 55, 0, 227, 198, 154};
static const uint8_t D_POSITION[8] = {170, 188, 143, 228, 122, 64, 247, 208};
static const uint8_t D_TREASURY[8] = {238, 239, 123, 238, 89, 1, 168, 253};
static const uint8_t D_ORACLE[8] = {26, 131, 25, 110, 6, 141, 10, 37};
static const uint8_t D_EV_CREATED[8] = {88, 184, 130, 231, 226, 84, 6, 58};
static const uint8_t D_EV_BET[8] = {88, 88, 145, 226, 126, 206, 32, 0};
static const uint8_t D_EV_WON[8] = {187, 184, 29, 196, 54, 117, 70, 150};
static const uint8_t D_EV_REFUND[8] = {136, 64, 242, 99, 4, 244, 208, 130};
static const uint8_t D_EV_RESOLVED[8] = {89, 67, 230, 95, 143, 106, 199, 202};
static const uint8_t D_EV_CANCELLED[8] = {139, 163, 33, 168, 19, 180, 81, 170};
static const uint8_t D_IX_INIT[8] = {208, 127, 21, 1, 194, 190, 196, 70};
static const uint8_t D_IX_CREATE[8] = {103, 226, 97, 235, 200, 188, 251, 254};
static const uint8_t D_IX_BET[8] = {222, 62, 67, 220, 63, 166, 126, 33};
static const uint8_t D_IX_WIN[8] = {161, 215, 24, 59, 14, 236, 242, 221};
static const uint8_t D_IX_RESOLVE[8] = {155, 23, 80, 173, 46, 74, 23, 239};
static const uint8_t D_IX_CANCEL[8] = {205, 121, 84, 210, 222, 71, 150, 11};
static const uint8_t D_IX_ORACLE[8] = {112, 41, 209, 18, 248, 226, 252, 188};

static idl_t *cb_idl(void) {
  idl_t *idl = NULL;
  char err[512];
  ck_assert_msg(cb_decoder_default_idl(&idl, err, sizeof err) == 0, "%s", err);
  return idl;
}

/* Crypto Bet decoders of the IDLs a test loaded, built at first use (strict
 * or not) and freed with the IDL by free_idl. */
static struct {
  const idl_t *idl;
  cb_decoder_t *dec[2];
} g_decs[8];

static const cb_decoder_t *dec_of(const idl_t *idl, bool strict) {
  size_t i = 0;
  while (i < 8 && g_decs[i].idl && g_decs[i].idl != idl) i++;
  ck_assert_uint_lt(i, 8);
  g_decs[i].idl = idl;
  if (!g_decs[i].dec[strict]) {
    decode_error_t err;
    char msg[512];
    cb_decoder_options_t o = {.strict = strict};
    ck_assert_msg(cb_decoder_new_opts(idl, &o, &g_decs[i].dec[strict], &err) == 0, "%s",
                  decode_error_format(&err, msg, sizeof msg));
  }
  return g_decs[i].dec[strict];
}
#define DEC(idl) dec_of((idl), false)
#define DEC_STRICT(idl) dec_of((idl), true)

static void free_idl(idl_t *idl) {
  for (size_t i = 0; i < 8; i++)
    if (g_decs[i].idl == idl) {
      cb_decoder_free(g_decs[i].dec[0]);
      cb_decoder_free(g_decs[i].dec[1]);
      memset(&g_decs[i], 0, sizeof g_decs[i]);
    }
  idl_free(idl);
}

/* 0 when the IDL binds to the Crypto Bet records, else the code (err set). */
static int check_idl(const idl_t *idl, decode_error_t *err) {
  cb_decoder_t *d = (cb_decoder_t *)1;
  int rc = cb_decoder_new(idl, &d, err);
  if (rc != 0) ck_assert_ptr_null(d);
  cb_decoder_free(d);
  return rc;
}

static idl_t *load_idl_text(const char *text) {
  idl_t *idl = NULL;
  char err[512];
  ck_assert_msg(idl_load_json(text, strlen(text), &idl, err, sizeof err) == 0, "%s", err);
  return idl;
}

/* ---- hand-assembled samples ------------------------------------------------- */

typedef struct {
  const char *title, *desc, *cat, *uri;
  int res;        /* -1 None, 0/1 Some(false/true) */
  int has_oracle; /* Some(PK6) */
  uint8_t state, mtype;
} mk_t;

typedef struct {
  size_t title, state, res_tag, oracle_tag, uri, end;
} mk_off_t;

/* Market, field by field in the document's order. */
static void build_market(bb_t *b, const mk_t *m, mk_off_t *o) {
  mk_off_t tmp;
  if (!o) o = &tmp;
  b->n = 0;
  putraw(b, D_MARKET, 8);
  putpk(b, 1);                          /* authority */
  putle(b, 42, 8);                      /* market_id */
  o->title = b->n;
  putstr(b, m->title);                  /* title */
  putstr(b, m->desc);                   /* description */
  putstr(b, m->cat);                    /* category */
  putle(b, (uint64_t)INT64_MIN, 8);     /* created_at */
  putle(b, (uint64_t)INT64_MAX, 8);     /* resolution_time */
  o->state = b->n;
  put8(b, m->state);                    /* state */
  put8(b, m->mtype);                    /* market_type */
  putpk(b, 2);                          /* accepted_mint */
  putpk(b, 3);                          /* yes_vault */
  putpk(b, 4);                          /* no_vault */
  putle(b, UINT64_MAX, 8);              /* yes_pool */
  putle(b, 0, 8);                       /* no_pool */
  putle(b, 1ULL << 63, 8);              /* total_volume */
  putle(b, UINT32_MAX, 4);              /* total_participants */
  o->res_tag = b->n;
  if (m->res < 0) {
    put8(b, 0);
  } else {
    put8(b, 1);
    put8(b, (uint8_t)m->res);
  }
  putpk(b, 5);                          /* resolver */
  o->oracle_tag = b->n;
  if (m->has_oracle) {
    put8(b, 1);
    putpk(b, 6);
  } else {
    put8(b, 0);
  }
  o->uri = b->n;
  putstr(b, m->uri);                    /* metadata_uri */
  putle(b, 5000, 8);                    /* creation_fee */
  put8(b, 255);                         /* bump */
  o->end = b->n;
}

static const mk_t MK_SOME = {"é", "日本 🎲 prediction", "", "ipfs://x", 1, 1, 1, 1};
static const mk_t MK_NONE = {"Will SOL hit $500?", "", "crypto", "", -1, 0, 0, 0};

static void build_config(bb_t *b) {
  b->n = 0;
  putraw(b, D_CONFIG, 8);
  putpk(b, 1);
  putle(b, 250, 2);
  putle(b, 3600, 8);
  putle(b, (uint64_t)-1, 8); /* max_market_duration = -1 */
  putle(b, 1000, 8);
  putle(b, UINT64_MAX, 8);
  putpk(b, 2);
  put8(b, 1);
  putle(b, 7, 8);
  putle(b, 123456789012345ULL, 8);
  put8(b, 3);
  put8(b, 254);
}

static void build_position(bb_t *b) {
  b->n = 0;
  putraw(b, D_POSITION, 8);
  putpk(b, 7);
  putpk(b, 1);
  putle(b, 10, 8);
  putle(b, 20, 8);
  putle(b, UINT64_MAX, 8);
  putle(b, 1000000000, 8);
  putle(b, 500000000, 8);
  putle(b, (uint64_t)INT64_MIN, 8);
  putle(b, 1700000000, 8);
  put8(b, 0);
  putle(b, 0, 8);
  putle(b, 3, 4);
  put8(b, 9);
}

static void build_treasury(bb_t *b, uint8_t type) {
  b->n = 0;
  putraw(b, D_TREASURY, 8);
  putpk(b, 1);
  putpk(b, 2);
  putpk(b, 3);
  putle(b, 100, 8);
  putle(b, 40, 8);
  putle(b, 60, 8);
  put8(b, type);
  put8(b, 250);
}

static void build_oracle(bb_t *b) {
  b->n = 0;
  putraw(b, D_ORACLE, 8);
  putpk(b, 1);
  putpk(b, 2);
  putstr(b, "pyth");
  putstr(b, "123.45");
  putle(b, (uint64_t)-5, 8);
  put8(b, 100);
  for (int i = 0; i < 64; i++) put8(b, (uint8_t)i);
  put8(b, 1);
}

static int str_is(cb_str_t s, const char *want) {
  return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* ---- typed accounts ------------------------------------------------------------ */

START_TEST(test_market_typed) {
  idl_t *idl = cb_idl();
  decode_error_t err;
  char msg[512];
  ck_assert_int_eq(check_idl(idl, &err), 0);
  bb_t b;
  for (int pass = 0; pass < 2; pass++) {
    const mk_t *m = pass ? &MK_NONE : &MK_SOME;
    build_market(&b, m, NULL);
    cb_account_t a;
    memset(&a, 0xAB, sizeof a);
    int rc = cb_decode_account(DEC(idl), b.b, b.n, &a, &err);
    ck_assert_msg(rc == 0, "%s", decode_error_format(&err, msg, sizeof msg));
    ck_assert_int_eq(a.kind, CB_ACCOUNT_MARKET);
    const cb_market_t *mk = &a.u.market;
    ck_assert_str_eq(mk->authority.b58, PK1);
    ck_assert_uint_eq(mk->authority.bytes[31], 1);
    ck_assert_uint_eq(mk->market_id, 42);
    ck_assert(str_is(mk->title, m->title));
    ck_assert(str_is(mk->description, m->desc));
    ck_assert(str_is(mk->category, m->cat));
    ck_assert_int_eq(mk->created_at, INT64_MIN);
    ck_assert_int_eq(mk->resolution_time, INT64_MAX);
    ck_assert_int_eq(mk->state, pass ? CB_MARKET_ACTIVE : CB_MARKET_RESOLVED);
    ck_assert_int_eq(mk->market_type, pass ? CB_MARKET_DEGEN : CB_MARKET_STABLE);
    ck_assert_str_eq(mk->accepted_mint.b58, PK2);
    ck_assert_str_eq(mk->yes_vault.b58, PK3);
    ck_assert_str_eq(mk->no_vault.b58, PK4);
    ck_assert_uint_eq(mk->yes_pool, UINT64_MAX);
    ck_assert_uint_eq(mk->no_pool, 0);
    ck_assert_uint_eq(mk->total_volume, 1ULL << 63);
    ck_assert_uint_eq(mk->total_participants, UINT32_MAX);
    ck_assert_int_eq(mk->has_resolution_result, !pass);
    ck_assert_int_eq(mk->resolution_result, !pass);
    ck_assert_str_eq(mk->resolver.b58, PK5);
    ck_assert_int_eq(mk->has_oracle_source, !pass);
    ck_assert_str_eq(mk->oracle_source.b58, pass ? "" : PK6);
    ck_assert(str_is(mk->metadata_uri, m->uri));
    ck_assert_uint_eq(mk->creation_fee, 5000);
    ck_assert_uint_eq(mk->bump, 255);
    /* strings borrow from the input */
    ck_assert(mk->title.ptr >= (const char *)b.b && mk->title.ptr <= (const char *)b.b + b.n);
  }
  /* Anchor allocates fixed space: zero padding after the data is fine. */
  build_market(&b, &MK_NONE, NULL);
  size_t n = b.n;
  memset(b.b + n, 0, 300);
  cb_account_t a;
  const cb_decoder_t *dec = DEC(idl), *strict = DEC_STRICT(idl);
  ck_assert(!cb_decoder_strict(dec) && cb_decoder_strict(strict));
  ck_assert_int_eq(cb_decode_account(dec, b.b, n + 300, &a, &err), 0);
  ck_assert_uint_eq(a.spare_bytes, 0);
  ck_assert(!a.spare_first);
  ck_assert_int_eq(cb_decode_account(strict, b.b, n + 300, &a, &err), 0);
  ck_assert_uint_eq(cb_decoder_trailing_count(dec, CB_ACCOUNT_MARKET), 0);
  /* Non-zero bytes after the layout (a program upgrade appended a field,
   * or the account was allocated larger): the layout decodes from the
   * start, the rest is ignored and counted per kind; strict refuses. */
  b.b[n + 299] = 1;
  memset(&a, 0xAB, sizeof a);
  ck_assert_msg(cb_decode_account(dec, b.b, n + 300, &a, &err) == 0, "%s",
                decode_error_format(&err, msg, sizeof msg));
  ck_assert_int_eq(a.kind, CB_ACCOUNT_MARKET);
  ck_assert_uint_eq(a.u.market.market_id, 42);
  ck_assert(str_is(a.u.market.metadata_uri, MK_NONE.uri));
  ck_assert_uint_eq(a.u.market.creation_fee, 5000);
  ck_assert_uint_eq(a.u.market.bump, 255);
  ck_assert_uint_eq(a.spare_bytes, 300);
  ck_assert(a.spare_first);
  ck_assert_uint_eq(cb_decoder_trailing_count(dec, CB_ACCOUNT_MARKET), 1);
  ck_assert_uint_eq(cb_decoder_trailing_count(dec, CB_ACCOUNT_POSITION), 0);
  ck_assert_int_eq(cb_decode_account(dec, b.b, n + 300, &a, &err), 0);
  ck_assert(!a.spare_first); /* the first one of its kind only */
  ck_assert_uint_eq(cb_decoder_trailing_count(dec, CB_ACCOUNT_MARKET), 2);
  ck_assert_int_eq(cb_decode_account(strict, b.b, n + 300, &a, &err), DECODE_ERR_TRAILING);
  ck_assert_str_eq(err.type, "Market");
  ck_assert_uint_eq(err.offset, n + 299);
  ck_assert_uint_eq(cb_decoder_trailing_count(strict, CB_ACCOUNT_MARKET), 0);
  ck_assert_uint_eq(cb_decoder_trailing_count(dec, CB_ACCOUNT_UNKNOWN), 0);
  ck_assert_uint_eq(cb_decoder_trailing_count(dec, (cb_account_kind_t)99), 0);
  free_idl(idl);
}
END_TEST

/* One decoder shared by threads: the per-kind counters count every
 * account with spare bytes exactly once, and exactly one decode is told it
 * was the first of its kind. */
typedef struct spare_job {
  const cb_decoder_t *dec;
  const bb_t *b;
  size_t len;
  unsigned firsts, fails;
} spare_job_t;

static void *spare_worker(void *arg) {
  spare_job_t *j = arg;
  for (int i = 0; i < 2000; i++) {
    cb_account_t a;
    decode_error_t err;
    if (cb_decode_account(j->dec, j->b->b, j->len, &a, &err) != 0 || a.spare_bytes != 64)
      j->fails++;
    else if (a.spare_first)
      j->firsts++;
  }
  return NULL;
}

START_TEST(test_spare_counter_threads) {
  idl_t *idl = cb_idl();
  bb_t b;
  build_market(&b, &MK_SOME, NULL);
  size_t n = b.n;
  memset(b.b + n, 0xEE, 64);
  const cb_decoder_t *dec = DEC(idl);
  spare_job_t jobs[4];
  pthread_t th[4];
  for (int t = 0; t < 4; t++) {
    jobs[t] = (spare_job_t){dec, &b, n + 64, 0, 0};
    ck_assert_int_eq(pthread_create(&th[t], NULL, spare_worker, &jobs[t]), 0);
  }
  unsigned firsts = 0;
  for (int t = 0; t < 4; t++) {
    ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    ck_assert_uint_eq(jobs[t].fails, 0);
    firsts += jobs[t].firsts;
  }
  ck_assert_uint_eq(firsts, 1);
  ck_assert_uint_eq(cb_decoder_trailing_count(dec, CB_ACCOUNT_MARKET), 8000);
  free_idl(idl);
}
END_TEST

START_TEST(test_other_accounts_typed) {
  idl_t *idl = cb_idl();
  decode_error_t err;
  char msg[512];
  bb_t b;
  cb_account_t a;

  build_config(&b);
  ck_assert_msg(cb_decode_account(DEC(idl), b.b, b.n, &a, &err) == 0, "%s",
                decode_error_format(&err, msg, sizeof msg));
  /* the sum of the document's per-field sizes (its "Total" line is off) */
  ck_assert_uint_eq(b.n, 8 + 117);
  ck_assert_int_eq(a.kind, CB_ACCOUNT_GLOBAL_CONFIG);
  ck_assert_str_eq(a.u.config.authority.b58, PK1);
  ck_assert_uint_eq(a.u.config.platform_fee_bps, 250);
  ck_assert_int_eq(a.u.config.min_market_duration, 3600);
  ck_assert_int_eq(a.u.config.max_market_duration, -1);
  ck_assert_uint_eq(a.u.config.min_bet_amount, 1000);
  ck_assert_uint_eq(a.u.config.max_bet_amount, UINT64_MAX);
  ck_assert_str_eq(a.u.config.platform_treasury.b58, PK2);
  ck_assert(a.u.config.is_paused);
  ck_assert_uint_eq(a.u.config.total_markets_created, 7);
  ck_assert_uint_eq(a.u.config.total_volume, 123456789012345ULL);
  ck_assert_uint_eq(a.u.config.version, 3);
  ck_assert_uint_eq(a.u.config.bump, 254);

  build_position(&b);
  ck_assert_uint_eq(b.n, 8 + 134);
  ck_assert_int_eq(cb_decode_account(DEC(idl), b.b, b.n, &a, &err), 0);
  ck_assert_int_eq(a.kind, CB_ACCOUNT_POSITION);
  const cb_position_t *p = &a.u.position;
  ck_assert_str_eq(p->user.b58, PK7);
  ck_assert_str_eq(p->market.b58, PK1);
  ck_assert_uint_eq(p->yes_shares, 10);
  ck_assert_uint_eq(p->no_shares, 20);
  ck_assert_uint_eq(p->total_invested, UINT64_MAX);
  ck_assert_uint_eq(p->yes_avg_price, 1000000000);
  ck_assert_uint_eq(p->no_avg_price, 500000000);
  ck_assert_int_eq(p->created_at, INT64_MIN);
  ck_assert_int_eq(p->updated_at, 1700000000);
  ck_assert(!p->claimed);
  ck_assert_uint_eq(p->claimed_amount, 0);
  ck_assert_uint_eq(p->bet_count, 3);
  ck_assert_uint_eq(p->bump, 9);

  for (uint8_t t = 0; t < 3; t++) {
    build_treasury(&b, t);
    ck_assert_uint_eq(b.n, 130);
    ck_assert_int_eq(cb_decode_account(DEC(idl), b.b, b.n, &a, &err), 0);
    ck_assert_int_eq(a.kind, CB_ACCOUNT_TREASURY);
    ck_assert_str_eq(a.u.treasury.market.b58, PK1);
    ck_assert_str_eq(a.u.treasury.mint.b58, PK2);
    ck_assert_str_eq(a.u.treasury.authority.b58, PK3);
    ck_assert_uint_eq(a.u.treasury.total_deposits, 100);
    ck_assert_uint_eq(a.u.treasury.total_withdrawals, 40);
    ck_assert_uint_eq(a.u.treasury.current_balance, 60);
    ck_assert_int_eq(a.u.treasury.treasury_type,
                     t == 0 ? CB_TREASURY_YES : t == 1 ? CB_TREASURY_NO : CB_TREASURY_PLATFORM);
    ck_assert_uint_eq(a.u.treasury.bump, 250);
  }
  build_treasury(&b, 3);
  ck_assert_int_eq(cb_decode_account(DEC(idl), b.b, b.n, &a, &err), DECODE_ERR_ENUM);
  ck_assert_str_eq(err.type, "Treasury");
  ck_assert_str_eq(err.path, "treasury_type");
  ck_assert_uint_eq(err.offset, 128);

  build_oracle(&b);
  ck_assert_int_eq(cb_decode_account(DEC(idl), b.b, b.n, &a, &err), 0);
  ck_assert_int_eq(a.kind, CB_ACCOUNT_ORACLE_DATA);
  const cb_oracle_data_t *o = &a.u.oracle;
  ck_assert_str_eq(o->authority.b58, PK1);
  ck_assert_str_eq(o->market.b58, PK2);
  ck_assert(str_is(o->source, "pyth"));
  ck_assert(str_is(o->value, "123.45"));
  ck_assert_int_eq(o->timestamp, -5);
  ck_assert_uint_eq(o->confidence, 100);
  for (int i = 0; i < 64; i++) ck_assert_uint_eq(o->signature[i], (unsigned)i);
  ck_assert_uint_eq(o->bump, 1);
  free_idl(idl);
}
END_TEST

/* ---- JSON ------------------------------------------------------------------------ */

static void assert_json(const json_t *got, const char *want_text) {
  json_error_t je;
  json_t *want = json_loads(want_text, 0, &je);
  ck_assert_msg(want != NULL, "bad expected JSON: %s", je.text);
  char *g = json_dumps(got, JSON_SORT_KEYS);
  ck_assert_msg(json_equal(want, (json_t *)got), "got %s", g);
  free(g);
  json_decref(want);
}

START_TEST(test_market_json) {
  idl_t *idl = cb_idl();
  decode_error_t err;
  json_t *out;
  bb_t b;
  build_market(&b, &MK_SOME, NULL);
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), 0);
  assert_json(out,
              "{\"type\": \"Market\", \"value\": {\"authority\": \"" PK1 "\", \"market_id\": 42,"
              " \"title\": \"é\", \"description\": \"日本 🎲 prediction\", \"category\": \"\","
              " \"created_at\": -9223372036854775808, \"resolution_time\": 9223372036854775807,"
              " \"state\": \"Resolved\", \"market_type\": \"Stable\", \"accepted_mint\": \"" PK2
              "\", \"yes_vault\": \"" PK3 "\", \"no_vault\": \"" PK4 "\","
              " \"yes_pool\": \"18446744073709551615\", \"no_pool\": 0,"
              " \"total_volume\": \"9223372036854775808\", \"total_participants\": 4294967295,"
              " \"resolution_result\": true, \"resolver\": \"" PK5 "\", \"oracle_source\": \"" PK6
              "\", \"metadata_uri\": \"ipfs://x\", \"creation_fee\": 5000, \"bump\": 255}}");
  /* Field order is the IDL's. */
  const char *first = json_object_iter_key(json_object_iter(json_object_get(out, "value")));
  ck_assert_str_eq(first, "authority");
  json_decref(out);
  build_market(&b, &MK_NONE, NULL);
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), 0);
  json_t *v = json_object_get(out, "value");
  ck_assert(json_is_null(json_object_get(v, "resolution_result")));
  ck_assert(json_is_null(json_object_get(v, "oracle_source")));
  ck_assert_str_eq(json_string_value(json_object_get(v, "state")), "Active");
  json_decref(out);

  /* allow_trailing: non-zero reserved bytes accepted only when asked. */
  size_t n = b.n;
  memset(b.b + n, 0x5A, 16);
  ck_assert_int_eq(decode_account_json(idl, b.b, n + 16, true, &out, &err), DECODE_ERR_TRAILING);
  ck_assert_ptr_null(out);
  ck_assert_uint_eq(err.offset, n);
  ck_assert_int_eq(decode_account_json(idl, b.b, n + 16, false, &out, &err), 0);
  json_decref(out);

  build_oracle(&b);
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), 0);
  v = json_object_get(out, "value");
  ck_assert_uint_eq(json_array_size(json_object_get(v, "signature")), 64);
  ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(v, "signature"), 63)), 63);
  ck_assert_int_eq(json_integer_value(json_object_get(v, "timestamp")), -5);
  json_decref(out);
  free_idl(idl);
}
END_TEST

/* ---- errors -------------------------------------------------------------------------- */

static void expect_err(const idl_t *idl, const bb_t *b, int code, const char *type,
                       const char *path, size_t offset) {
  decode_error_t err;
  cb_account_t a;
  json_t *out = (json_t *)1;
  char msg[512];
  int rc = cb_decode_account(DEC_STRICT(idl), b->b, b->n, &a, &err);
  ck_assert_msg(rc == code, "typed: got %d (%s), want %d", rc,
                decode_error_format(&err, msg, sizeof msg), code);
  ck_assert_int_eq(err.code, code);
  ck_assert_str_eq(err.type, type);
  ck_assert_str_eq(err.path, path);
  ck_assert_uint_eq(err.offset, offset);
  rc = decode_account_json(idl, b->b, b->n, true, &out, &err);
  ck_assert_msg(rc == code, "json: got %d (%s), want %d", rc,
                decode_error_format(&err, msg, sizeof msg), code);
  ck_assert_ptr_null(out);
  ck_assert_str_eq(err.type, type);
  ck_assert_str_eq(err.path, path);
  ck_assert_uint_eq(err.offset, offset);
}

START_TEST(test_market_errors) {
  idl_t *idl = cb_idl();
  bb_t b;
  mk_off_t o;
  mk_t m = MK_SOME;

  build_market(&b, &m, &o);
  b.b[o.res_tag + 1] = 2; /* Some(bool=2) */
  expect_err(idl, &b, DECODE_ERR_BOOL, "Market", "resolution_result", o.res_tag + 1);

  build_market(&b, &m, &o);
  b.b[o.res_tag] = 2; /* option tag 2 */
  expect_err(idl, &b, DECODE_ERR_OPTION, "Market", "resolution_result", o.res_tag);

  build_market(&b, &m, &o);
  b.b[o.oracle_tag] = 7;
  expect_err(idl, &b, DECODE_ERR_OPTION, "Market", "oracle_source", o.oracle_tag);

  build_market(&b, &m, &o);
  b.b[o.state] = 4; /* MarketState has 4 variants */
  expect_err(idl, &b, DECODE_ERR_ENUM, "Market", "state", o.state);
  b.b[o.state] = 3;
  b.b[o.state + 1] = 2; /* MarketType has 2 */
  expect_err(idl, &b, DECODE_ERR_ENUM, "Market", "market_type", o.state + 1);

  build_market(&b, &m, &o);
  b.b[o.title] = 0xe8; /* title length 1000: past the end */
  b.b[o.title + 1] = 0x03;
  expect_err(idl, &b, DECODE_ERR_LENGTH, "Market", "title", o.title);
  build_market(&b, &m, &o);
  b.b[o.uri + 3] = 0x80; /* length 2^31 + 8 */
  expect_err(idl, &b, DECODE_ERR_LENGTH, "Market", "metadata_uri", o.uri);

  /* Invalid UTF-8: offset is the first byte of the bad sequence. */
  static const struct {
    const char *s;
    size_t at;
    int code;
  } bad[] = {
      {"a\xc0\xaf", 1, DECODE_ERR_UTF8},          /* overlong '/' */
      {"\xe0\x80\xaf", 0, DECODE_ERR_UTF8},       /* overlong, 3 bytes */
      {"\xf0\x80\x80\xaf", 0, DECODE_ERR_UTF8},   /* overlong, 4 bytes */
      {"ok\xed\xa0\x80", 2, DECODE_ERR_UTF8},     /* surrogate U+D800 */
      {"ab\xe6\x97", 2, DECODE_ERR_UTF8},         /* truncated sequence at the end */
      {"\xe6\x97" "a", 0, DECODE_ERR_UTF8},       /* truncated before ASCII */
      {"x\x80", 1, DECODE_ERR_UTF8},              /* lone continuation */
      {"\xf4\x90\x80\x80", 0, DECODE_ERR_UTF8},   /* above U+10FFFF */
      {"\xf5\x80\x80\x80", 0, DECODE_ERR_UTF8},
      {"0123456789\xff", 10, DECODE_ERR_UTF8},    /* after the 8-byte fast path */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    m = MK_SOME;
    m.title = bad[i].s;
    build_market(&b, &m, &o);
    expect_err(idl, &b, bad[i].code, "Market", "title", o.title + 4 + bad[i].at);
  }
  /* NUL bytes (the builder's strlen cannot write them: patch in place). */
  m = MK_SOME;
  m.title = "abcdefghijkl";
  build_market(&b, &m, &o);
  b.b[o.title + 4 + 9] = 0;
  expect_err(idl, &b, DECODE_ERR_NUL, "Market", "title", o.title + 4 + 9);
  m = MK_NONE;
  m.uri = "x";
  build_market(&b, &m, &o);
  b.b[o.uri + 4] = 0;
  expect_err(idl, &b, DECODE_ERR_NUL, "Market", "metadata_uri", o.uri + 4);

  /* Valid multi-byte text right at the edges passes. */
  m = MK_SOME;
  m.title = "\xf4\x8f\xbf\xbf\xed\x9f\xbf\xc2\x80"; /* U+10FFFF, U+D7FF, U+0080 */
  build_market(&b, &m, &o);
  cb_account_t a;
  decode_error_t err;
  ck_assert_int_eq(cb_decode_account(DEC(idl), b.b, b.n, &a, &err), 0);

  /* Unknown discriminator. */
  build_market(&b, &MK_SOME, &o);
  b.b[0] ^= 1;
  ck_assert_int_eq(cb_decode_account(DEC(idl), b.b, b.n, &a, &err), DECODE_ERR_DISCRIMINATOR);
  ck_assert_str_eq(err.type, "account");
  ck_assert_uint_eq(err.offset, 0);
  json_t *out;
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err),
                   DECODE_ERR_DISCRIMINATOR);
  ck_assert_int_eq(cb_decode_account(DEC(idl), b.b, 3, &a, &err), DECODE_ERR_DISCRIMINATOR);

  /* Non-zero trailing. */
  build_market(&b, &MK_SOME, &o);
  put8(&b, 0);
  put8(&b, 9);
  expect_err(idl, &b, DECODE_ERR_TRAILING, "Market", "", o.end + 1);

  /* Truncated inside a pubkey. */
  build_position(&b);
  b.n = 8 + 32 + 10;
  expect_err(idl, &b, DECODE_ERR_TRUNCATED, "Position", "market", 40);

  /* The formatted message names everything. */
  build_treasury(&b, 9);
  ck_assert_int_eq(cb_decode_account(DEC(idl), b.b, b.n, &a, &err), DECODE_ERR_ENUM);
  char msg[512];
  decode_error_format(&err, msg, sizeof msg);
  ck_assert_msg(strncmp(msg, "Treasury.treasury_type at byte 128: ", 36) == 0, "%s", msg);
  free_idl(idl);
}
END_TEST

/* ---- instructions and events ------------------------------------------------------------ */

START_TEST(test_instructions) {
  idl_t *idl = cb_idl();
  decode_error_t err;
  char msg[512];
  bb_t b;
  const char *keys[] = {"G", "M", "P", "V", "T", "U", "S", "X1"};

  /* place_bet(side = No, amount = u64::MAX) */
  b.n = 0;
  putraw(&b, D_IX_BET, 8);
  put8(&b, 1);
  putle(&b, UINT64_MAX, 8);
  json_t *out;
  ck_assert_int_eq(decode_instruction_json(idl, b.b, b.n, keys, 8, &out, &err), 0);
  assert_json(out, "{\"type\": \"place_bet\", \"value\": {\"side\": \"No\","
                   " \"amount\": \"18446744073709551615\"}, \"accounts\": {\"global_config\": \"G\","
                   " \"market\": \"M\", \"position\": \"P\", \"vault\": \"V\", \"platform_treasury\":"
                   " \"T\", \"user\": \"U\", \"system_program\": \"S\"},"
                   " \"remaining_accounts\": [\"X1\"]}");
  json_decref(out);
  cb_instruction_t ix;
  ck_assert_int_eq(cb_decode_instruction(DEC(idl), b.b, b.n, keys, 8, &ix, &err), 0);
  ck_assert_int_eq(ix.type, CB_TX_PLACE_BET);
  ck_assert_int_eq(ix.side, CB_SIDE_NO);
  ck_assert_uint_eq(ix.amount, UINT64_MAX);
  ck_assert_str_eq(ix.market, "M");
  ck_assert_str_eq(ix.position, "P");
  ck_assert_str_eq(ix.user, "U");
  ck_assert_str_eq(ix.global_config, "G");
  ck_assert_str_eq(ix.oracle_data, "");
  /* Short key list: roles beyond it stay empty. */
  ck_assert_int_eq(cb_decode_instruction(DEC(idl), b.b, b.n, keys, 2, &ix, &err), 0);
  ck_assert_str_eq(ix.market, "M");
  ck_assert_str_eq(ix.user, "");
  /* side = 2 is past BetSide's variants */
  b.b[8] = 2;
  ck_assert_int_eq(cb_decode_instruction(DEC(idl), b.b, b.n, keys, 8, &ix, &err), DECODE_ERR_ENUM);
  ck_assert_str_eq(err.type, "place_bet");
  ck_assert_str_eq(err.path, "side");
  ck_assert_uint_eq(err.offset, 8);
  ck_assert_int_eq(decode_instruction_json(idl, b.b, b.n, keys, 8, &out, &err), DECODE_ERR_ENUM);
  ck_assert_str_eq(err.path, "side");

  /* create_market: strings, enum, Option<Pubkey> */
  b.n = 0;
  putraw(&b, D_IX_CREATE, 8);
  putle(&b, 77, 8);
  putstr(&b, "T");
  putstr(&b, "D");
  putstr(&b, "C");
  putle(&b, 1800000000, 8);
  put8(&b, 1);
  put8(&b, 1);
  putpk(&b, 6);
  putstr(&b, "u");
  const char *ck[] = {"G", "M", "A", "MINT", "YV", "NV", "R", "S"};
  ck_assert_int_eq(cb_decode_instruction(DEC(idl), b.b, b.n, ck, 8, &ix, &err), 0);
  ck_assert_int_eq(ix.type, CB_TX_CREATE_MARKET);
  ck_assert_uint_eq(ix.market_id, 77);
  ck_assert_str_eq(ix.market, "M");
  ck_assert_str_eq(ix.user, "A"); /* the signer, not the resolver */
  ck_assert_int_eq(decode_instruction_json(idl, b.b, b.n, ck, 8, &out, &err), 0);
  ck_assert_str_eq(
      json_string_value(json_object_get(json_object_get(out, "value"), "oracle_source")), PK6);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "value"), "market_type")),
                   "Stable");
  json_decref(out);
  /* invalid UTF-8 in an argument the record does not keep is still an error */
  b.b[8 + 8 + 4] = 0xff;
  ck_assert_int_eq(cb_decode_instruction(DEC(idl), b.b, b.n, ck, 8, &ix, &err), DECODE_ERR_UTF8);
  ck_assert_str_eq(err.path, "title");
  ck_assert_uint_eq(err.offset, 20);

  /* resolve_market(result = false) */
  b.n = 0;
  putraw(&b, D_IX_RESOLVE, 8);
  put8(&b, 0);
  const char *rk[] = {"M", "O", "R"};
  ck_assert_int_eq(cb_decode_instruction(DEC(idl), b.b, b.n, rk, 3, &ix, &err), 0);
  ck_assert_int_eq(ix.type, CB_TX_RESOLVE_MARKET);
  ck_assert(ix.has_result);
  ck_assert(!ix.result);
  ck_assert_str_eq(ix.oracle_data, "O");
  ck_assert_str_eq(ix.user, "R");
  b.b[8] = 2;
  ck_assert_int_eq(cb_decode_instruction(DEC(idl), b.b, b.n, rk, 3, &ix, &err), DECODE_ERR_BOOL);
  ck_assert_str_eq(err.path, "result");

  /* argument-less instructions */
  const uint8_t *noarg[] = {D_IX_WIN, D_IX_CANCEL};
  const cb_tx_type_t types[] = {CB_TX_CLAIM_WINNINGS, CB_TX_CANCEL_MARKET};
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(cb_decode_instruction(DEC(idl), noarg[i], 8, rk, 3, &ix, &err), 0);
    ck_assert_int_eq(ix.type, types[i]);
    ck_assert_str_eq(ix.market, "M");
    ck_assert_int_eq(ix.side, CB_SIDE_NONE);
  }

  /* initialize_config and update_oracle */
  b.n = 0;
  putraw(&b, D_IX_INIT, 8);
  putle(&b, 250, 2);
  putle(&b, 60, 8);
  putle(&b, 86400, 8);
  putle(&b, 1, 8);
  putle(&b, 2, 8);
  ck_assert_int_eq(decode_instruction_json(idl, b.b, b.n, NULL, 0, &out, &err), 0);
  assert_json(out, "{\"type\": \"initialize_config\", \"value\": {\"platform_fee_bps\": 250,"
                   " \"min_market_duration\": 60, \"max_market_duration\": 86400,"
                   " \"min_bet_amount\": 1, \"max_bet_amount\": 2}, \"accounts\": {}}");
  json_decref(out);
  b.n = 0;
  putraw(&b, D_IX_ORACLE, 8);
  putstr(&b, "src");
  putstr(&b, "v");
  putle(&b, 5, 8);
  put8(&b, 99);
  for (int i = 0; i < 64; i++) put8(&b, 0xEE);
  const char *ok[] = {"OD", "M", "AU", "S"};
  ck_assert_int_eq(cb_decode_instruction(DEC(idl), b.b, b.n, ok, 4, &ix, &err), 0);
  ck_assert_int_eq(ix.type, CB_TX_UPDATE_ORACLE);
  ck_assert_str_eq(ix.oracle_data, "OD");
  ck_assert_str_eq(ix.user, "AU");
  b.n--; /* signature one byte short */
  ck_assert_int_eq(cb_decode_instruction(DEC(idl), b.b, b.n, ok, 4, &ix, &err), DECODE_ERR_TRUNCATED);
  ck_assert_str_eq(err.path, "signature[63]");
  ck_assert_uint_eq(err.offset, b.n);

  /* unknown instruction */
  uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  ck_assert_int_eq(cb_decode_instruction(DEC(idl), junk, 8, NULL, 0, &ix, &err),
                   DECODE_ERR_DISCRIMINATOR);
  ck_assert_str_eq(err.type, "instruction");
  ck_assert_int_eq(decode_instruction_json(idl, junk, 8, NULL, 0, &out, &err),
                   DECODE_ERR_DISCRIMINATOR);
  (void)msg;
  free_idl(idl);
}
END_TEST

START_TEST(test_events) {
  idl_t *idl = cb_idl();
  decode_error_t err;
  char msg[512];
  bb_t b;
  cb_event_t ev;
  json_t *out;

  b.n = 0;
  putraw(&b, D_EV_BET, 8);
  putpk(&b, 1);
  putpk(&b, 2);
  putpk(&b, 7);
  put8(&b, 0);
  putle(&b, 1000000, 8);
  putle(&b, 25000, 8);
  putle(&b, 600000000, 8);
  putle(&b, UINT64_MAX, 8);
  putle(&b, 3, 8);
  putle(&b, (uint64_t)INT64_MIN, 8);
  int rc = cb_decode_event(DEC(idl), b.b, b.n, &ev, &err);
  ck_assert_msg(rc == 0, "%s", decode_error_format(&err, msg, sizeof msg));
  ck_assert_int_eq(ev.kind, CB_EVENT_BET_PLACED);
  ck_assert_str_eq(ev.market.b58, PK1);
  ck_assert_str_eq(ev.position.b58, PK2);
  ck_assert_str_eq(ev.user.b58, PK7);
  ck_assert_int_eq(ev.side, CB_SIDE_YES);
  ck_assert_uint_eq(ev.amount, 1000000);
  ck_assert_uint_eq(ev.platform_fee, 25000);
  ck_assert_uint_eq(ev.price, 600000000);
  ck_assert_uint_eq(ev.yes_pool, UINT64_MAX);
  ck_assert_uint_eq(ev.no_pool, 3);
  ck_assert_int_eq(ev.timestamp, INT64_MIN);
  ck_assert_int_eq(decode_event_json(idl, b.b, b.n, &out, &err), 0);
  assert_json(out, "{\"type\": \"BetPlaced\", \"value\": {\"market\": \"" PK1
                   "\", \"position\": \"" PK2 "\", \"user\": \"" PK7 "\", \"side\": \"Yes\","
                   " \"amount\": 1000000, \"platform_fee\": 25000, \"price\": 600000000,"
                   " \"yes_pool\": \"18446744073709551615\", \"no_pool\": 3,"
                   " \"timestamp\": -9223372036854775808}}");
  json_decref(out);

  /* emit_cpi!: tag + event bytes */
  bb_t cpi;
  cpi.n = 0;
  static const uint8_t tag[8] = {0xe4, 0x45, 0xa5, 0x2e, 0x51, 0xcb, 0x9a, 0x1d};
  putraw(&cpi, tag, 8);
  putraw(&cpi, b.b, b.n);
  size_t elen = 99;
  const uint8_t *e = decode_emit_cpi_event(cpi.b, cpi.n, &elen);
  ck_assert_ptr_eq(e, cpi.b + 8);
  ck_assert_uint_eq(elen, b.n);
  ck_assert_int_eq(cb_decode_event(DEC(idl), e, elen, &ev, &err), 0);
  ck_assert_int_eq(ev.kind, CB_EVENT_BET_PLACED);
  ck_assert_ptr_null(decode_emit_cpi_event(b.b, b.n, &elen));
  ck_assert_uint_eq(elen, 0);
  ck_assert_ptr_null(decode_emit_cpi_event(tag, 7, &elen));
  ck_assert_mem_eq(CB_EMIT_CPI_TAG, tag, 8);

  b.n = 0;
  putraw(&b, D_EV_CREATED, 8);
  putpk(&b, 1);
  putle(&b, 5, 8);
  putpk(&b, 3);
  put8(&b, 1);
  putle(&b, 10, 8);
  putle(&b, 1700000000, 8);
  ck_assert_int_eq(cb_decode_event(DEC(idl), b.b, b.n, &ev, &err), 0);
  ck_assert_int_eq(ev.kind, CB_EVENT_MARKET_CREATED);
  ck_assert_uint_eq(ev.market_id, 5);
  ck_assert_str_eq(ev.user.b58, PK3);
  ck_assert_int_eq(ev.market_type, CB_MARKET_STABLE);
  ck_assert_uint_eq(ev.creation_fee, 10);
  ck_assert_int_eq(ev.side, CB_SIDE_NONE);

  const uint8_t *claims[] = {D_EV_WON, D_EV_REFUND};
  for (int i = 0; i < 2; i++) {
    b.n = 0;
    putraw(&b, claims[i], 8);
    putpk(&b, 1);
    putpk(&b, 2);
    putpk(&b, 3);
    putle(&b, 777, 8);
    putle(&b, 9, 8);
    ck_assert_int_eq(cb_decode_event(DEC(idl), b.b, b.n, &ev, &err), 0);
    ck_assert_int_eq(ev.kind, i ? CB_EVENT_REFUND_CLAIMED : CB_EVENT_WINNINGS_CLAIMED);
    ck_assert_uint_eq(ev.amount, 777);
    ck_assert_str_eq(ev.user.b58, PK3);
  }

  b.n = 0;
  putraw(&b, D_EV_RESOLVED, 8);
  putpk(&b, 1);
  putpk(&b, 5);
  put8(&b, 1);
  putle(&b, 42, 8);
  ck_assert_int_eq(cb_decode_event(DEC(idl), b.b, b.n, &ev, &err), 0);
  ck_assert_int_eq(ev.kind, CB_EVENT_MARKET_RESOLVED);
  ck_assert_str_eq(ev.user.b58, PK5);
  ck_assert(ev.result);
  ck_assert_int_eq(ev.timestamp, 42);
  b.b[8 + 64] = 3;
  ck_assert_int_eq(cb_decode_event(DEC(idl), b.b, b.n, &ev, &err), DECODE_ERR_BOOL);
  ck_assert_str_eq(err.type, "MarketResolved");
  ck_assert_str_eq(err.path, "result");
  ck_assert_uint_eq(err.offset, 72);

  b.n = 0;
  putraw(&b, D_EV_CANCELLED, 8);
  putpk(&b, 1);
  putpk(&b, 0);
  putle(&b, 1, 8);
  ck_assert_int_eq(cb_decode_event(DEC(idl), b.b, b.n, &ev, &err), 0);
  ck_assert_int_eq(ev.kind, CB_EVENT_MARKET_CANCELLED);
  ck_assert_str_eq(ev.user.b58, PK0);
  put8(&b, 1); /* non-zero trailing byte */
  ck_assert_int_eq(cb_decode_event(DEC(idl), b.b, b.n, &ev, &err), DECODE_ERR_TRAILING);
  ck_assert_int_eq(decode_event_json(idl, b.b, b.n, &out, &err), DECODE_ERR_TRAILING);
  /* an account is not an event */
  build_market(&b, &MK_SOME, NULL);
  ck_assert_int_eq(cb_decode_event(DEC(idl), b.b, b.n, &ev, &err), DECODE_ERR_DISCRIMINATOR);
  free_idl(idl);
}
END_TEST

/* ---- truncation and mutation: errors, never crashes --------------------------------------- */

typedef struct {
  uint8_t b[1024];
  size_t n;
  int kind; /* 0 account, 1 instruction, 2 event */
} sample_t;

static size_t all_samples(sample_t *s) {
  size_t n = 0;
  bb_t b;
  build_market(&b, &MK_SOME, NULL);
  memcpy(s[n].b, b.b, b.n), s[n].n = b.n, s[n++].kind = 0;
  build_market(&b, &MK_NONE, NULL);
  memcpy(s[n].b, b.b, b.n), s[n].n = b.n, s[n++].kind = 0;
  build_config(&b);
  memcpy(s[n].b, b.b, b.n), s[n].n = b.n, s[n++].kind = 0;
  build_position(&b);
  memcpy(s[n].b, b.b, b.n), s[n].n = b.n, s[n++].kind = 0;
  build_treasury(&b, 2);
  memcpy(s[n].b, b.b, b.n), s[n].n = b.n, s[n++].kind = 0;
  build_oracle(&b);
  memcpy(s[n].b, b.b, b.n), s[n].n = b.n, s[n++].kind = 0;
  b.n = 0;
  putraw(&b, D_IX_BET, 8);
  put8(&b, 1);
  putle(&b, 5, 8);
  memcpy(s[n].b, b.b, b.n), s[n].n = b.n, s[n++].kind = 1;
  b.n = 0;
  putraw(&b, D_IX_CREATE, 8);
  putle(&b, 77, 8);
  putstr(&b, "Tï");
  putstr(&b, "");
  putstr(&b, "C");
  putle(&b, 1800000000, 8);
  put8(&b, 1);
  put8(&b, 1);
  putpk(&b, 6);
  putstr(&b, "u");
  memcpy(s[n].b, b.b, b.n), s[n].n = b.n, s[n++].kind = 1;
  b.n = 0;
  putraw(&b, D_EV_RESOLVED, 8);
  putpk(&b, 1);
  putpk(&b, 5);
  put8(&b, 1);
  putle(&b, 42, 8);
  memcpy(s[n].b, b.b, b.n), s[n].n = b.n, s[n++].kind = 2;
  return n;
}

static int decode_any(const idl_t *idl, const uint8_t *d, size_t n, int kind, int typed) {
  decode_error_t err;
  json_t *out = NULL;
  int rc;
  const char *keys[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
  if (typed) {
    cb_account_t a;
    cb_instruction_t ix;
    cb_event_t ev;
    rc = kind == 0   ? cb_decode_account(DEC(idl), d, n, &a, &err)
         : kind == 1 ? cb_decode_instruction(DEC(idl), d, n, keys, 9, &ix, &err)
                     : cb_decode_event(DEC(idl), d, n, &ev, &err);
  } else {
    rc = kind == 0   ? decode_account_json(idl, d, n, false, &out, &err)
         : kind == 1 ? decode_instruction_json(idl, d, n, keys, 9, &out, &err)
                     : decode_event_json(idl, d, n, &out, &err);
    if (rc != 0) ck_assert_ptr_null(out);
    json_decref(out);
  }
  if (rc != 0) {
    ck_assert_int_eq(err.code, rc);
    ck_assert_uint_le(err.offset, n);
  }
  return rc;
}

START_TEST(test_truncation_every_offset) {
  idl_t *idl = cb_idl();
  static sample_t s[16];
  size_t ns = all_samples(s);
  for (size_t i = 0; i < ns; i++) {
    for (int typed = 0; typed < 2; typed++) {
      ck_assert_int_eq(decode_any(idl, s[i].b, s[i].n, s[i].kind, typed), 0);
      for (size_t cut = 0; cut < s[i].n; cut++) {
        /* exact-size heap copy: the sanitizer sees any overread */
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, s[i].b, cut);
        int rc = decode_any(idl, p, cut, s[i].kind, typed);
        ck_assert_msg(rc == DECODE_ERR_TRUNCATED || rc == DECODE_ERR_LENGTH ||
                          (cut < 8 && rc == DECODE_ERR_DISCRIMINATOR),
                      "sample %zu cut %zu typed %d: rc %d", i, cut, typed, rc);
        free(p);
      }
    }
  }
  free_idl(idl);
}
END_TEST

START_TEST(test_mutation_no_crash) {
  idl_t *idl = cb_idl();
  static sample_t s[16];
  size_t ns = all_samples(s);
  static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xc0, 0xff};
  size_t errors = 0;
  for (size_t i = 0; i < ns; i++)
    for (size_t pos = 8; pos < s[i].n; pos++)
      for (size_t v = 0; v < sizeof vals; v++) {
        uint8_t *p = malloc(s[i].n);
        memcpy(p, s[i].b, s[i].n);
        p[pos] = vals[v];
        for (int typed = 0; typed < 2; typed++)
          if (decode_any(idl, p, s[i].n, s[i].kind, typed) != 0) errors++;
        free(p);
      }
  ck_assert_uint_gt(errors, 0);
  free_idl(idl);
}
END_TEST

/* ---- a 0.30 IDL exercising every type ---------------------------------------------------- */

static const char *KITCHEN =
    "{\"address\": \"kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe\","
    " \"metadata\": {\"name\": \"kitchen\", \"version\": \"0.1.0\", \"spec\": \"0.1.0\"},"
    " \"instructions\": [{\"name\": \"do_thing\", \"discriminator\": [1, 2],"
    "   \"accounts\": [{\"name\": \"payer\", \"writable\": true, \"signer\": true},"
    "     {\"name\": \"group\", \"accounts\": [{\"name\": \"inner_a\"}, {\"name\": \"inner_b\"}]},"
    "     {\"name\": \"system_program\"}],"
    "   \"args\": [{\"name\": \"amount\", \"type\": {\"defined\": {\"name\": \"Amount\"}}},"
    "     {\"name\": \"maybe\", \"type\": {\"option\": \"string\"}}]}],"
    " \"accounts\": [{\"name\": \"Big\", \"discriminator\": [7]},"
    "   {\"name\": \"Zc\", \"discriminator\": [1, 2, 3, 4]},"
    "   {\"name\": \"Packed\", \"discriminator\": [5, 5, 5, 5, 5, 5, 5, 5]}],"
    " \"events\": [{\"name\": \"Evt\", \"discriminator\": [9, 8, 7, 6, 5, 4, 3, 2]}],"
    " \"types\": ["
    "  {\"name\": \"Amount\", \"type\": {\"kind\": \"type\", \"alias\": \"u64\"}},"
    "  {\"name\": \"Pair\", \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"k\", \"type\": \"u8\"},"
    "     {\"name\": \"v\", \"type\": \"i16\"}]}},"
    "  {\"name\": \"Tup\", \"type\": {\"kind\": \"struct\", \"fields\": [\"u8\", \"string\"]}},"
    "  {\"name\": \"Shape\", \"type\": {\"kind\": \"enum\", \"variants\": [{\"name\": \"Unit\"},"
    "     {\"name\": \"Circle\", \"fields\": [\"u32\"]},"
    "     {\"name\": \"Rect\", \"fields\": [{\"name\": \"w\", \"type\": \"u16\"}, {\"name\": \"h\", \"type\": \"u16\"}]}]}},"
    "  {\"name\": \"Wrapper\", \"generics\": [{\"kind\": \"type\", \"name\": \"T\"},"
    "     {\"kind\": \"const\", \"name\": \"N\", \"type\": \"usize\"}],"
    "   \"type\": {\"kind\": \"struct\", \"fields\": ["
    "     {\"name\": \"items\", \"type\": {\"array\": [{\"generic\": \"T\"}, {\"generic\": \"N\"}]}},"
    "     {\"name\": \"first\", \"type\": {\"option\": {\"generic\": \"T\"}}}]}},"
    "  {\"name\": \"Big\", \"type\": {\"kind\": \"struct\", \"fields\": ["
    "     {\"name\": \"a\", \"type\": \"u128\"}, {\"name\": \"b\", \"type\": \"i128\"},"
    "     {\"name\": \"c\", \"type\": \"f32\"}, {\"name\": \"d\", \"type\": \"f64\"},"
    "     {\"name\": \"e\", \"type\": {\"coption\": \"u64\"}},"
    "     {\"name\": \"f\", \"type\": {\"vec\": {\"defined\": {\"name\": \"Pair\"}}}},"
    "     {\"name\": \"g\", \"type\": {\"array\": [{\"array\": [\"u16\", 2]}, 3]}},"
    "     {\"name\": \"h\", \"type\": {\"defined\": {\"name\": \"Tup\"}}},"
    "     {\"name\": \"i\", \"type\": {\"vec\": {\"defined\": {\"name\": \"Shape\"}}}},"
    "     {\"name\": \"j\", \"type\": {\"defined\": {\"name\": \"Wrapper\", \"generics\": ["
    "        {\"kind\": \"type\", \"type\": \"u32\"}, {\"kind\": \"const\", \"value\": \"2\"}]}}},"
    "     {\"name\": \"k\", \"type\": \"bytes\"}, {\"name\": \"l\", \"type\": \"i8\"},"
    "     {\"name\": \"m\", \"type\": \"i256\"}, {\"name\": \"n\", \"type\": \"pubkey\"},"
    "     {\"name\": \"o\", \"type\": \"i64\"}]}},"
    "  {\"name\": \"Inner\", \"serialization\": \"bytemuck\", \"repr\": {\"kind\": \"c\"},"
    "   \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"x\", \"type\": \"u32\"}, {\"name\": \"y\", \"type\": \"u8\"}]}},"
    "  {\"name\": \"Zc\", \"serialization\": \"bytemuck\", \"repr\": {\"kind\": \"c\"},"
    "   \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"flag\", \"type\": \"u8\"},"
    "     {\"name\": \"val\", \"type\": \"u64\"}, {\"name\": \"trio\", \"type\": {\"array\": [\"u16\", 3]}},"
    "     {\"name\": \"inner\", \"type\": {\"defined\": {\"name\": \"Inner\"}}},"
    "     {\"name\": \"wide\", \"type\": \"u128\"}]}},"
    "  {\"name\": \"Packed\", \"serialization\": \"bytemuckunsafe\", \"repr\": {\"kind\": \"c\", \"packed\": true},"
    "   \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"a\", \"type\": \"u8\"},"
    "     {\"name\": \"b\", \"type\": \"u64\"}, {\"name\": \"c\", \"type\": \"bool\"}]}},"
    "  {\"name\": \"Evt\", \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"who\", \"type\": \"pubkey\"},"
    "     {\"name\": \"shape\", \"type\": {\"defined\": {\"name\": \"Shape\"}}}]}}"
    " ]}";

typedef struct {
  size_t e, f, i, j_first, end;
} big_off_t;

static void build_big(bb_t *b, int small, big_off_t *o) {
  static const uint8_t A_BIG[16] = {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
  static const uint8_t B_NEG[16] = {0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t M_NEG[32] = {[25] = 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t C_F32[4] = {0x00, 0x00, 0xc0, 0x3f};
  static const uint8_t D_F64[8] = {0, 0, 0, 0, 0, 0, 0xd0, 0xbf};
  big_off_t tmp;
  if (!o) o = &tmp;
  b->n = 0;
  put8(b, 7);
  if (small) {
    putle(b, 5, 8), putle(b, 0, 8);                   /* a = 5 */
    putle(b, (uint64_t)-5, 8), putle(b, UINT64_MAX, 8); /* b = -5 */
  } else {
    putraw(b, A_BIG, 16);
    putraw(b, B_NEG, 16);
  }
  putraw(b, C_F32, 4);
  putraw(b, D_F64, 8);
  o->e = b->n;
  if (small) { /* None: tag 0 and the payload's 8 zero bytes */
    putle(b, 0, 4);
    putle(b, 0, 8);
  } else {
    putle(b, 1, 4);
    putle(b, 7, 8);
  }
  o->f = b->n;
  putle(b, 2, 4);
  put8(b, 1), putle(b, (uint16_t)-2, 2);
  put8(b, 255), putle(b, 300, 2);
  for (int v = 1; v <= 6; v++) putle(b, (uint64_t)v, 2);
  put8(b, 9);
  putstr(b, "日本");
  o->i = b->n;
  putle(b, 3, 4);
  put8(b, 0);
  put8(b, 1), putle(b, 70000, 4);
  put8(b, 2), putle(b, 3, 2), putle(b, 4, 2);
  putle(b, 10, 4), putle(b, 20, 4);
  o->j_first = b->n;
  put8(b, 1), putle(b, 30, 4);
  putle(b, 4, 4), put8(b, 0xde), put8(b, 0xad), put8(b, 0xbe), put8(b, 0xef);
  put8(b, 0x80);
  putraw(b, M_NEG, 32);
  putpk(b, 0xff);
  putle(b, (uint64_t)INT64_MIN, 8);
  o->end = b->n;
}

/* Every proper prefix of a sample is an error for the JSON decoders. */
static void truncate_all(const idl_t *idl, const uint8_t *d, size_t n, int kind) {
  for (size_t cut = 0; cut < n; cut++) {
    uint8_t *p = malloc(cut ? cut : 1);
    memcpy(p, d, cut);
    json_t *out = NULL;
    decode_error_t err;
    int rc = kind == 0   ? decode_account_json(idl, p, cut, true, &out, &err)
             : kind == 1 ? decode_instruction_json(idl, p, cut, NULL, 0, &out, &err)
                         : decode_event_json(idl, p, cut, &out, &err);
    ck_assert_msg(rc == DECODE_ERR_TRUNCATED || rc == DECODE_ERR_LENGTH ||
                      rc == DECODE_ERR_DISCRIMINATOR,
                  "kind %d cut %zu of %zu: rc %d", kind, cut, n, rc);
    ck_assert_ptr_null(out);
    free(p);
  }
}

START_TEST(test_kitchen_idl) {
  idl_t *idl = load_idl_text(KITCHEN);
  decode_error_t err;
  char msg[512];
  json_t *out;
  bb_t b;
  ck_assert_str_eq(idl_name(idl), "kitchen");
  ck_assert_str_eq(idl_address(idl), "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe");
  ck_assert_uint_eq(idl_account_count(idl), 3);
  size_t dl;
  ck_assert_uint_eq(idl_account_discriminator(idl, 0, &dl)[0], 7);
  ck_assert_uint_eq(dl, 1);
  idl_account_discriminator(idl, 1, &dl);
  ck_assert_uint_eq(dl, 4);

  build_big(&b, 0, NULL);
  int rc = decode_account_json(idl, b.b, b.n, true, &out, &err);
  ck_assert_msg(rc == 0, "%s", decode_error_format(&err, msg, sizeof msg));
  assert_json(out,
              "{\"type\": \"Big\", \"value\": {\"a\": \"18446744073709551617\","
              " \"b\": \"-18446744073709551621\", \"c\": 1.5, \"d\": -0.25, \"e\": 7,"
              " \"f\": [{\"k\": 1, \"v\": -2}, {\"k\": 255, \"v\": 300}],"
              " \"g\": [[1, 2], [3, 4], [5, 6]], \"h\": [9, \"日本\"],"
              " \"i\": [\"Unit\", {\"Circle\": [70000]}, {\"Rect\": {\"w\": 3, \"h\": 4}}],"
              " \"j\": {\"items\": [10, 20], \"first\": 30}, \"k\": \"3q2+7w==\", \"l\": -128,"
              " \"m\": \"-1606938044258990275541962092341162602522202993782792835301376\","
              " \"n\": \"" PKFF "\", \"o\": -9223372036854775808}}");
  json_decref(out);
  build_big(&b, 1, NULL);
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), 0);
  json_t *v = json_object_get(out, "value");
  ck_assert(json_is_integer(json_object_get(v, "a")));
  ck_assert_int_eq(json_integer_value(json_object_get(v, "a")), 5);
  ck_assert_int_eq(json_integer_value(json_object_get(v, "b")), -5);
  ck_assert(json_is_null(json_object_get(v, "e")));
  json_decref(out);

  /* errors inside nested layouts name the full path */
  big_off_t o;
  build_big(&b, 0, &o);
  b.b[o.i + 4 + 1] = 3; /* second Shape: index 3 of 3 variants */
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), DECODE_ERR_ENUM);
  ck_assert_str_eq(err.type, "Big");
  ck_assert_str_eq(err.path, "i[1]");
  ck_assert_uint_eq(err.offset, o.i + 5);
  build_big(&b, 0, &o);
  b.b[o.j_first] = 2;
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), DECODE_ERR_OPTION);
  ck_assert_str_eq(err.path, "j.first");
  ck_assert_uint_eq(err.offset, o.j_first);
  build_big(&b, 0, &o);
  b.b[o.e] = 2;
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), DECODE_ERR_OPTION);
  ck_assert_str_eq(err.path, "e");
  build_big(&b, 0, &o);
  b.b[o.f + 1] = 0x10; /* 4098 Pairs */
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), DECODE_ERR_LENGTH);
  ck_assert_str_eq(err.path, "f");
  ck_assert_uint_eq(err.offset, o.f);
  build_big(&b, 0, &o);
  b.b[o.i - 6] = 0xff; /* first byte of h.1 = "日本" */
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), DECODE_ERR_UTF8);
  ck_assert_str_eq(err.path, "h.1");
  ck_assert_uint_eq(err.offset, o.i - 6);
  build_big(&b, 0, NULL);
  truncate_all(idl, b.b, b.n, 0);
  build_big(&b, 1, NULL);
  truncate_all(idl, b.b, b.n, 0);

  /* bytemuck: repr(C) with alignment; padding bytes are not data */
  b.n = 0;
  put8(&b, 1), put8(&b, 2), put8(&b, 3), put8(&b, 4);
  put8(&b, 200);                         /* flag @0 */
  for (int i = 1; i < 8; i++) put8(&b, 0xEE); /* padding */
  putle(&b, 1ULL << 63, 8);              /* val @8 */
  putle(&b, 1, 2), putle(&b, 2, 2), putle(&b, 3, 2); /* trio @16 */
  put8(&b, 0xEE), put8(&b, 0xEE);        /* padding to 24 */
  putle(&b, 4000000000u, 4);             /* inner.x @24 */
  put8(&b, 7);                           /* inner.y @28 */
  put8(&b, 0xEE), put8(&b, 0xEE), put8(&b, 0xEE); /* inner padding */
  putle(&b, UINT64_MAX, 8), putle(&b, UINT64_MAX, 8); /* wide @32 */
  ck_assert_uint_eq(b.n, 4 + 48);
  rc = decode_account_json(idl, b.b, b.n, true, &out, &err);
  ck_assert_msg(rc == 0, "%s", decode_error_format(&err, msg, sizeof msg));
  assert_json(out, "{\"type\": \"Zc\", \"value\": {\"flag\": 200, \"val\": \"9223372036854775808\","
                   " \"trio\": [1, 2, 3], \"inner\": {\"x\": 4000000000, \"y\": 7},"
                   " \"wide\": \"340282366920938463463374607431768211455\"}}");
  json_decref(out);
  truncate_all(idl, b.b, b.n, 0);
  b.n--;
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), DECODE_ERR_TRUNCATED);
  ck_assert_str_eq(err.path, "wide");
  ck_assert_uint_eq(err.offset, 4 + 32);

  /* packed repr(C): no padding */
  b.n = 0;
  for (int i = 0; i < 8; i++) put8(&b, 5);
  put8(&b, 1);
  putle(&b, 2, 8);
  put8(&b, 1);
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), 0);
  assert_json(out, "{\"type\": \"Packed\", \"value\": {\"a\": 1, \"b\": 2, \"c\": true}}");
  json_decref(out);
  truncate_all(idl, b.b, b.n, 0);
  b.b[17] = 2;
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), DECODE_ERR_BOOL);
  ck_assert_str_eq(err.type, "Packed");
  ck_assert_str_eq(err.path, "c");
  ck_assert_uint_eq(err.offset, 17);

  /* instruction: 2-byte discriminator, alias, Option<String>, nested accounts */
  b.n = 0;
  put8(&b, 1), put8(&b, 2);
  putle(&b, 99, 8);
  put8(&b, 1);
  putstr(&b, "é");
  const char *keys[] = {"P", "IA", "IB", "SYS", "EXTRA"};
  ck_assert_int_eq(decode_instruction_json(idl, b.b, b.n, keys, 5, &out, &err), 0);
  assert_json(out, "{\"type\": \"do_thing\", \"value\": {\"amount\": 99, \"maybe\": \"é\"},"
                   " \"accounts\": {\"payer\": \"P\", \"inner_a\": \"IA\", \"inner_b\": \"IB\","
                   " \"system_program\": \"SYS\"}, \"remaining_accounts\": [\"EXTRA\"]}");
  json_decref(out);
  truncate_all(idl, b.b, b.n, 1);

  /* event */
  b.n = 0;
  for (int i = 9; i >= 2; i--) put8(&b, (uint8_t)i);
  putpk(&b, 1);
  put8(&b, 2), putle(&b, 1, 2), putle(&b, 2, 2);
  ck_assert_int_eq(decode_event_json(idl, b.b, b.n, &out, &err), 0);
  assert_json(out, "{\"type\": \"Evt\", \"value\": {\"who\": \"" PK1 "\","
                   " \"shape\": {\"Rect\": {\"w\": 1, \"h\": 2}}}}");
  json_decref(out);
  truncate_all(idl, b.b, b.n, 2);

  /* This IDL is not Crypto Bet's: the typed decoder refuses it. */
  ck_assert_int_eq(check_idl(idl, &err), DECODE_ERR_LAYOUT);
  ck_assert_int_eq(err.code, DECODE_ERR_LAYOUT);
  free_idl(idl);
}
END_TEST

/* ---- IDL loading ------------------------------------------------------------------------- */

static void expect_load_error(const char *text, const char *needle1, const char *needle2) {
  idl_t *idl = (idl_t *)1;
  char err[512] = "";
  ck_assert_int_eq(idl_load_json(text, strlen(text), &idl, err, sizeof err), -1);
  ck_assert_ptr_null(idl);
  ck_assert_msg(strstr(err, needle1) != NULL, "'%s' lacks '%s'", err, needle1);
  if (needle2) ck_assert_msg(strstr(err, needle2) != NULL, "'%s' lacks '%s'", err, needle2);
}

/* Generic types that instantiate the next level twice (T<X> holds T'<X>
 * and T'<Vec<X>>) double the instantiations per level: 16 levels (a 6 KB
 * IDL) took 90 s to load, 20 would take hours. Now capped with an error. */
START_TEST(test_idl_generic_blowup) {
  enum { LEVELS = 20 };
  char *text = malloc(16384);
  size_t n = 0;
  ck_assert_ptr_nonnull(text);
  n += (size_t)snprintf(text + n, 16384 - n,
                        "{\"accounts\": [{\"name\": \"A\", \"discriminator\": [1]}], \"types\": [");
  for (int i = 0; i < LEVELS; i++)
    n += (size_t)snprintf(
        text + n, 16384 - n,
        "{\"name\": \"T%d\", \"generics\": [{\"kind\": \"type\", \"name\": \"X\"}],"
        " \"type\": {\"kind\": \"struct\", \"fields\": ["
        "{\"name\": \"a\", \"type\": {\"defined\": {\"name\": \"T%d\", \"generics\":"
        " [{\"kind\": \"type\", \"type\": {\"generic\": \"X\"}}]}}},"
        "{\"name\": \"b\", \"type\": {\"defined\": {\"name\": \"T%d\", \"generics\":"
        " [{\"kind\": \"type\", \"type\": {\"vec\": {\"generic\": \"X\"}}}]}}}]}},",
        i, i + 1, i + 1);
  n += (size_t)snprintf(
      text + n, 16384 - n,
      "{\"name\": \"T%d\", \"generics\": [{\"kind\": \"type\", \"name\": \"X\"}],"
      " \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"x\", \"type\": {\"generic\": \"X\"}}]}},"
      "{\"name\": \"A\", \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"t\", \"type\":"
      " {\"defined\": {\"name\": \"T0\", \"generics\": [{\"kind\": \"type\", \"type\": \"u8\"}]}}}]}}]}",
      LEVELS);
  ck_assert_uint_lt(n, 16384);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  expect_load_error(text, "type instantiations", NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 10);
  free(text);
}
END_TEST

START_TEST(test_idl_errors) {
  /* Collections of zero-size types (empty structs, [T; 0]) are refused:
   * vec<vec<[u8; 0]>> let a 165-byte account decode into 2.6 million JSON
   * arrays (350 MB). */
  expect_load_error(
      "{\"accounts\": [{\"name\": \"A\", \"discriminator\": [1]}], \"types\": ["
      "{\"name\": \"A\", \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"v\","
      " \"type\": {\"vec\": {\"vec\": {\"array\": [\"u8\", 0]}}}}]}}]}",
      "A.v", "vec of zero-size elements");
  expect_load_error(
      "{\"accounts\": [{\"name\": \"A\", \"discriminator\": [1]}], \"types\": ["
      "{\"name\": \"E\", \"type\": {\"kind\": \"struct\", \"fields\": []}},"
      "{\"name\": \"A\", \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"v\","
      " \"type\": {\"array\": [{\"array\": [{\"defined\": {\"name\": \"E\"}}, 65536]}, 65536]}}]}}]}",
      "A.v", "zero-size elements");
  expect_load_error(
      "{\"accounts\": [{\"name\": \"A\", \"discriminator\": [1]}], \"types\": ["
      "{\"name\": \"A\", \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"b\","
      " \"type\": {\"defined\": {\"name\": \"Bee\"}}}]}},"
      "{\"name\": \"Bee\", \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"a\","
      " \"type\": {\"vec\": {\"defined\": {\"name\": \"A\"}}}}]}}]}",
      "cyclic", "A -> Bee -> A");
  expect_load_error("{\"types\": [{\"name\": \"Node\", \"type\": {\"kind\": \"struct\", \"fields\":"
                    " [{\"name\": \"next\", \"type\": {\"option\": {\"defined\": \"Node\"}}}]}}]}",
                    "cyclic", "Node");
  expect_load_error("{\"accounts\": [{\"name\": \"A\", \"discriminator\": [1]}], \"types\": ["
                    "{\"name\": \"A\", \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"x\","
                    " \"type\": {\"defined\": {\"name\": \"Missing\"}}}]}}]}",
                    "undefined type 'Missing'", "A.x");
  expect_load_error("{\"accounts\": [{\"name\": \"Ghost\", \"discriminator\": [1]}]}",
                    "undefined type 'Ghost'", NULL);
  expect_load_error("{\"types\": [{\"name\": \"T\", \"type\": {\"kind\": \"struct\", \"fields\":"
                    " [{\"name\": \"x\", \"type\": \"u9\"}]}}]}",
                    "unknown type 'u9'", "T.x");
  expect_load_error("{\"types\": [{\"name\": \"Z\", \"serialization\": \"bytemuck\", \"type\":"
                    " {\"kind\": \"struct\", \"fields\": [{\"name\": \"s\", \"type\": \"string\"}]}}]}",
                    "bytemuck", "Z.s");
  expect_load_error("{\"accounts\": [{\"name\": \"A\", \"discriminator\": [1, 2]},"
                    " {\"name\": \"B\", \"discriminator\": [1, 2]}], \"types\": ["
                    "{\"name\": \"A\", \"type\": {\"kind\": \"struct\", \"fields\": []}},"
                    "{\"name\": \"B\", \"type\": {\"kind\": \"struct\", \"fields\": []}}]}",
                    "same discriminator", NULL);
  expect_load_error("{\"accounts\": [{\"name\": \"A\", \"discriminator\": [256]}]}",
                    "discriminator", NULL);
  expect_load_error("not json", "JSON", NULL);
  expect_load_error("{\"types\": [{\"name\": \"T\", \"type\": {\"kind\": \"struct\", \"fields\":"
                    " [{\"name\": \"x\", \"type\": \"u8\"}, {\"name\": \"x\", \"type\": \"u16\"}]}}]}",
                    "T.x", "twice");
  expect_load_error("{\"types\": [{\"name\": \"W\", \"generics\": [{\"kind\": \"type\", \"name\": \"T\"}],"
                    " \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"x\", \"type\": {\"generic\": \"T\"}}]}},"
                    " {\"name\": \"U\", \"type\": {\"kind\": \"struct\", \"fields\": [{\"name\": \"w\","
                    " \"type\": {\"defined\": {\"name\": \"W\"}}}]}}]}",
                    "takes 1 generic", NULL);
  /* Every prefix of a valid IDL fails cleanly (or loads), never crashes. */
  size_t klen = strlen(KITCHEN);
  for (size_t cut = 0; cut < klen; cut += 7) {
    idl_t *idl = NULL;
    char err[256];
    char *p = malloc(cut + 1);
    memcpy(p, KITCHEN, cut);
    if (idl_load_json(p, cut, &idl, err, sizeof err) == 0) free_idl(idl);
    free(p);
  }
  /* Nesting beyond the limit is refused at load time. */
  char deep[8192];
  size_t n = 0;
  n += (size_t)snprintf(deep + n, sizeof deep - n,
                        "{\"types\": [{\"name\": \"D\", \"type\": {\"kind\": \"struct\", "
                        "\"fields\": [{\"name\": \"x\", \"type\": ");
  for (int i = 0; i < 80; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"vec\": ");
  n += (size_t)snprintf(deep + n, sizeof deep - n, "\"u8\"");
  for (int i = 0; i < 80; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "}");
  snprintf(deep + n, sizeof deep - n, "}]}}]}");
  expect_load_error(deep, "deeper than", NULL);
}
END_TEST

START_TEST(test_snake_case) {
  /* heck's to_snake_case, which Anchor applies to instruction names */
  static const char *const cases[][2] = {
      {"initializeConfig", "initialize_config"},
      {"twoHopSwapV2", "two_hop_swap_v2"},
      {"place_bet", "place_bet"},
      {"openPositionWithTokenExtensions", "open_position_with_token_extensions"},
      {"HTTPServer", "http_server"},
      {"v2Swap", "v2_swap"},
      {"setRewardEmissionsSuperAuthority", "set_reward_emissions_super_authority"},
      {"A", "a"},
  };
  char out[64];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ck_assert_int_eq(idl_snake_case(cases[i][0], out, sizeof out), 0);
    ck_assert_str_eq(out, cases[i][1]);
  }
  ck_assert_int_eq(idl_snake_case("initializeConfig", out, 8), -1);
}
END_TEST

/* The Crypto Bet IDL with every discriminator removed and camelCase names
 * (the pre-0.30 shape): discriminators computed with SHA-256 must equal
 * the 0.30 IDL's, and the typed binding still holds. */
START_TEST(test_legacy_shape_of_crypto_bet) {
  size_t len;
  char *text = tu_read_file("idl/crypto_bet.json", &len);
  json_t *root = json_loadb(text, len, 0, NULL);
  free(text);
  ck_assert_ptr_nonnull(root);
  const char *sections[] = {"accounts", "events", "instructions"};
  for (int s = 0; s < 3; s++) {
    json_t *arr = json_object_get(root, sections[s]);
    for (size_t i = 0; i < json_array_size(arr); i++)
      json_object_del(json_array_get(arr, i), "discriminator");
  }
  /* camelCase instruction names, as legacy IDLs write them */
  json_t *ixs = json_object_get(root, "instructions");
  for (size_t i = 0; i < json_array_size(ixs); i++) {
    json_t *ix = json_array_get(ixs, i);
    const char *nm = json_string_value(json_object_get(ix, "name"));
    char camel[64];
    size_t o = 0;
    for (const char *p = nm; *p && o + 1 < sizeof camel; p++) {
      if (*p == '_' && p[1]) {
        camel[o++] = (char)(p[1] - 32);
        p++;
      } else {
        camel[o++] = *p;
      }
    }
    camel[o] = '\0';
    json_object_set_new(ix, "name", json_string(camel));
  }
  /* camelCase Market field names, "publicKey" */
  json_t *types = json_object_get(root, "types");
  for (size_t i = 0; i < json_array_size(types); i++) {
    json_t *t = json_array_get(types, i);
    if (strcmp(json_string_value(json_object_get(t, "name")), "Market") != 0) continue;
    json_t *fields = json_object_get(json_object_get(t, "type"), "fields");
    json_object_set_new(json_array_get(fields, 1), "name", json_string("marketId"));
    json_object_set_new(json_array_get(fields, 0), "type", json_string("publicKey"));
  }
  char *legacy = json_dumps(root, 0);
  json_decref(root);
  idl_t *idl = load_idl_text(legacy);
  free(legacy);
  decode_error_t err;
  char msg[512];
  ck_assert_msg(check_idl(idl, &err) == 0, "%s",
                decode_error_format(&err, msg, sizeof msg));
  const uint8_t *want[] = {D_CONFIG, D_MARKET, D_POSITION, D_TREASURY, D_ORACLE};
  for (size_t i = 0; i < 5; i++) {
    size_t dl;
    const uint8_t *d = idl_account_discriminator(idl, i, &dl);
    ck_assert_uint_eq(dl, 8);
    ck_assert_mem_eq(d, want[i], 8);
  }
  bb_t b;
  build_market(&b, &MK_SOME, NULL);
  cb_account_t a;
  ck_assert_int_eq(cb_decode_account(DEC(idl), b.b, b.n, &a, &err), 0);
  ck_assert_uint_eq(a.u.market.market_id, 42);
  json_t *out;
  ck_assert_int_eq(decode_account_json(idl, b.b, b.n, true, &out, &err), 0);
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(out, "value"), "marketId")),
                   42);
  json_decref(out);
  /* instruction discriminators: sha256("global:place_bet") from "placeBet" */
  b.n = 0;
  putraw(&b, D_IX_BET, 8);
  put8(&b, 0);
  putle(&b, 1, 8);
  ck_assert_int_eq(decode_instruction_json(idl, b.b, b.n, NULL, 0, &out, &err), 0);
  ck_assert_str_eq(json_string_value(json_object_get(out, "type")), "placeBet");
  json_decref(out);
  cb_instruction_t ix;
  ck_assert_int_eq(cb_decode_instruction(DEC(idl), b.b, b.n, NULL, 0, &ix, &err), 0);
  ck_assert_int_eq(ix.type, CB_TX_PLACE_BET);
  /* events too */
  b.n = 0;
  putraw(&b, D_EV_CANCELLED, 8);
  putpk(&b, 1);
  putpk(&b, 2);
  putle(&b, 3, 8);
  cb_event_t ev;
  ck_assert_int_eq(cb_decode_event(DEC(idl), b.b, b.n, &ev, &err), 0);
  ck_assert_int_eq(ev.kind, CB_EVENT_MARKET_CANCELLED);
  free_idl(idl);
}
END_TEST

/* An IDL whose Market disagrees with cb_market_t is refused by name. */
START_TEST(test_layout_mismatch) {
  size_t len;
  char *text = tu_read_file("idl/crypto_bet.json", &len);
  json_t *root = json_loadb(text, len, 0, NULL);
  free(text);
  json_t *types = json_object_get(root, "types");
  for (size_t i = 0; i < json_array_size(types); i++) {
    json_t *t = json_array_get(types, i);
    if (strcmp(json_string_value(json_object_get(t, "name")), "Market") != 0) continue;
    json_t *fields = json_object_get(json_object_get(t, "type"), "fields");
    json_object_set_new(json_array_get(fields, 2), "type", json_string("u64")); /* title */
  }
  char *bad = json_dumps(root, 0);
  idl_t *idl = load_idl_text(bad);
  free(bad);
  decode_error_t err;
  ck_assert_int_eq(check_idl(idl, &err), DECODE_ERR_LAYOUT);
  ck_assert_int_eq(err.code, DECODE_ERR_LAYOUT);
  ck_assert_str_eq(err.type, "Market");
  ck_assert_str_eq(err.path, "title");
  free_idl(idl);

  /* a field the record needs is missing */
  for (size_t i = 0; i < json_array_size(types); i++) {
    json_t *t = json_array_get(types, i);
    if (strcmp(json_string_value(json_object_get(t, "name")), "Position") != 0) continue;
    json_array_remove(json_object_get(json_object_get(t, "type"), "fields"), 9); /* claimed */
  }
  for (size_t i = 0; i < json_array_size(types); i++) {
    json_t *t = json_array_get(types, i);
    if (strcmp(json_string_value(json_object_get(t, "name")), "Market") != 0) continue;
    json_t *fields = json_object_get(json_object_get(t, "type"), "fields");
    json_object_set_new(json_array_get(fields, 2), "type", json_string("string"));
  }
  bad = json_dumps(root, 0);
  json_decref(root);
  idl = load_idl_text(bad);
  free(bad);
  ck_assert_int_eq(check_idl(idl, &err), DECODE_ERR_LAYOUT);
  ck_assert_str_eq(err.type, "Position");
  ck_assert_str_eq(err.path, "claimed");
  free_idl(idl);
}
END_TEST

/* An IDL in which no struct has a field has no field table at all: decoding
 * its empty argument / event structs must not index it (UBSan: "applying
 * zero offset to null pointer"). Found by tests/fuzz/fuzz_idl.c. */
START_TEST(test_idl_without_fields) {
  idl_t *idl = load_idl_text(
      "{\"address\": \"kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe\","
      " \"metadata\": {\"name\": \"nofields\", \"version\": \"0.1.0\", \"spec\": \"0.1.0\"},"
      " \"instructions\": [{\"name\": \"ping\", \"discriminator\": [7], \"accounts\": [],"
      "   \"args\": []}],"
      " \"events\": [{\"name\": \"Pinged\", \"discriminator\": [8]}],"
      " \"types\": [{\"name\": \"Pinged\", \"type\": {\"kind\": \"struct\", \"fields\": []}}]}");
  static const uint8_t ix[] = {7}, ev[] = {8};
  json_t *out = NULL;
  decode_error_t err;
  ck_assert_int_eq(decode_instruction_json(idl, ix, sizeof ix, NULL, 0, &out, &err), 0);
  assert_json(out, "{\"type\": \"ping\", \"value\": {}, \"accounts\": {}}");
  json_decref(out);
  ck_assert_int_eq(decode_event_json(idl, ev, sizeof ev, &out, &err), 0);
  assert_json(out, "{\"type\": \"Pinged\", \"value\": {}}");
  json_decref(out);
  free_idl(idl);
}
END_TEST

int main(void) {
  Suite *s = suite_create("decoder");
  TCase *tc = tcase_create("decoder");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_market_typed);
  tcase_add_test(tc, test_other_accounts_typed);
  tcase_add_test(tc, test_spare_counter_threads);
  tcase_add_test(tc, test_market_json);
  tcase_add_test(tc, test_market_errors);
  tcase_add_test(tc, test_instructions);
  tcase_add_test(tc, test_events);
  tcase_add_test(tc, test_truncation_every_offset);
  tcase_add_test(tc, test_mutation_no_crash);
  tcase_add_test(tc, test_kitchen_idl);
  tcase_add_test(tc, test_idl_errors);
  tcase_add_test(tc, test_idl_generic_blowup);
  tcase_add_test(tc, test_snake_case);
  tcase_add_test(tc, test_legacy_shape_of_crypto_bet);
  tcase_add_test(tc, test_layout_mismatch);
  tcase_add_test(tc, test_idl_without_fields);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
