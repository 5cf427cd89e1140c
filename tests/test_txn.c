/* Crypto Bet rows from transactions (txn_extract). Every transaction here
 * is built by hand: instruction data from the IDL's discriminators and
 * Borsh layouts written out byte by byte, events the same way inside
 * "Program data:" log lines or emit_cpi self-invocations. Each scenario runs
 * in the json encoding and, re-serialized by the test's own wire encoder,
 * in the base64 encoding; both must give identical rows. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "base58.h"
#include "decoder.h"
#include "idl.h"
#include "jsonx.h"
#include "testutil.h"
#include "txn.h"

#define PROGRAM "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe"
#define SYSTEM "11111111111111111111111111111111"
#define COMPUTE "ComputeBudget111111111111111111111111111111"
#define ED25519 "Ed25519SigVerify111111111111111111111111111"

static idl_t *g_idl;
static cb_decoder_t *g_dec;

/* ---- keys: 32 bytes of one value, in base58 ---------------------------- */

enum {
  USER = 0x11, USER2 = 0x12, AUTH = 0x13,
  GC = 0x21, MARKET = 0x22, POS = 0x23, VAULT = 0x24, TREAS = 0x25, MINT = 0x26, YESV = 0x27,
  NOV = 0x28, RESOLVER = 0x29, ORACLE = 0x2a, POS2 = 0x2b,
  ROUTER = 0x31, EVIL = 0x32, EVAUTH = 0x33, LMARKET = 0x41
};

static char keybuf[256][BASE58_ENCODED_32_SZ];

static const char *K(int b) {
  if (keybuf[b][0] == '\0') {
    uint8_t k[32];
    memset(k, b, sizeof k);
    base58_encode_32(k, keybuf[b]);
  }
  return keybuf[b];
}

/* ---- byte builder ------------------------------------------------------- */

typedef struct {
  uint8_t b[1024];
  size_t n;
} buf_t;

static void put(buf_t *w, const void *p, size_t n) {
  ck_assert_uint_le(n, sizeof w->b - w->n);
  memcpy(w->b + w->n, p, n);
  w->n += n;
}
static void put_u8(buf_t *w, uint8_t v) { put(w, &v, 1); }
static void put_u64(buf_t *w, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  put(w, b, 8);
}
static void put_i64(buf_t *w, int64_t v) { put_u64(w, (uint64_t)v); }
static void put_key(buf_t *w, int k) {
  uint8_t b[32];
  memset(b, k, 32);
  put(w, b, 32);
}
static void put_str(buf_t *w, const char *s) {
  uint32_t n = (uint32_t)strlen(s);
  uint8_t b[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
  put(w, b, 4);
  put(w, s, n);
}

/* discriminators, copied from idl/crypto_bet.json */
static const uint8_t D_CREATE_MARKET[8] = {103, 226, 97, 235, 200, 188, 251, 254};
static const uint8_t D_PLACE_BET[8] = {222, 62, 67, 220, 63, 166, 126, 33};
static const uint8_t D_CLAIM_WINNINGS[8] = {161, 215, 24, 59, 14, 236, 242, 221};
static const uint8_t D_CLAIM_REFUND[8] = {15, 16, 30, 161, 255, 228, 97, 60};
static const uint8_t D_RESOLVE_MARKET[8] = {155, 23, 80, 173, 46, 74, 23, 239};
static const uint8_t D_CANCEL_MARKET[8] = {205, 121, 84, 210, 222, 71, 150, 11};
static const uint8_t E_MARKET_CREATED[8] = {88, 184, 130, 231, 226, 84, 6, 58};
static const uint8_t E_BET_PLACED[8] = {88, 88, 145, 226, 126, 206, 32, 0};
static const uint8_t E_WINNINGS_CLAIMED[8] = {187, 184, 29, 196, 54, 117, 70, 150};
static const uint8_t E_REFUND_CLAIMED[8] = {136, 64, 242, 99, 4, 244, 208, 130};
static const uint8_t E_MARKET_RESOLVED[8] = {89, 67, 230, 95, 143, 106, 199, 202};
static const uint8_t E_MARKET_CANCELLED[8] = {139, 163, 33, 168, 19, 180, 81, 170};
/* Anchor's EVENT_IX_TAG 0x1d9acb512ea545e4, little-endian */
static const uint8_t EMIT_TAG[8] = {0xe4, 0x45, 0xa5, 0x2e, 0x51, 0xcb, 0x9a, 0x1d};

static buf_t ix_place_bet(uint8_t side, uint64_t amount) {
  buf_t w = {.n = 0};
  put(&w, D_PLACE_BET, 8);
  put_u8(&w, side);
  put_u64(&w, amount);
  return w;
}

static buf_t ix_create_market(uint64_t id, const char *title) {
  buf_t w = {.n = 0};
  put(&w, D_CREATE_MARKET, 8);
  put_u64(&w, id);
  put_str(&w, title);
  put_str(&w, "Resolves YES if the daily close is above the strike.");
  put_str(&w, "crypto");
  put_i64(&w, 1767139200);
  put_u8(&w, 1); /* MarketType::Stable */
  put_u8(&w, 1); /* Some(oracle_source) */
  put_key(&w, ORACLE);
  put_str(&w, "https://example.org/m/42.json");
  return w;
}

static buf_t ix_plain(const uint8_t d[8]) {
  buf_t w = {.n = 0};
  put(&w, d, 8);
  return w;
}

static buf_t ix_resolve(uint8_t result) {
  buf_t w = ix_plain(D_RESOLVE_MARKET);
  put_u8(&w, result);
  return w;
}

static buf_t sys_transfer(uint64_t lamports) {
  buf_t w = {.n = 0};
  static const uint8_t tag[4] = {2, 0, 0, 0};
  put(&w, tag, 4);
  put_u64(&w, lamports);
  return w;
}

static buf_t ev_bet_placed(int market, int position, int user, uint8_t side, uint64_t amount,
                           uint64_t fee, uint64_t price, int64_t ts) {
  buf_t w = {.n = 0};
  put(&w, E_BET_PLACED, 8);
  put_key(&w, market);
  put_key(&w, position);
  put_key(&w, user);
  put_u8(&w, side);
  put_u64(&w, amount);
  put_u64(&w, fee);
  put_u64(&w, price);
  put_u64(&w, 7000000000u + amount); /* yes_pool: varies with the bet */
  put_u64(&w, 4000000000u + fee);    /* no_pool */
  put_i64(&w, ts);
  return w;
}

static buf_t ev_market_created(int market, uint64_t id, int auth, uint64_t creation_fee,
                               int64_t ts) {
  buf_t w = {.n = 0};
  put(&w, E_MARKET_CREATED, 8);
  put_key(&w, market);
  put_u64(&w, id);
  put_key(&w, auth);
  put_u8(&w, 1);
  put_u64(&w, creation_fee);
  put_i64(&w, ts);
  return w;
}

static buf_t ev_claimed(const uint8_t disc[8], int market, int position, int user,
                        uint64_t amount, int64_t ts) {
  buf_t w = {.n = 0};
  put(&w, disc, 8);
  put_key(&w, market);
  put_key(&w, position);
  put_key(&w, user);
  put_u64(&w, amount);
  put_i64(&w, ts);
  return w;
}

static buf_t ev_resolved(int market, int resolver, uint8_t result, int64_t ts) {
  buf_t w = {.n = 0};
  put(&w, E_MARKET_RESOLVED, 8);
  put_key(&w, market);
  put_key(&w, resolver);
  put_u8(&w, result);
  put_i64(&w, ts);
  return w;
}

static buf_t ev_cancelled(int market, int auth, int64_t ts) {
  buf_t w = {.n = 0};
  put(&w, E_MARKET_CANCELLED, 8);
  put_key(&w, market);
  put_key(&w, auth);
  put_i64(&w, ts);
  return w;
}

static buf_t emit_cpi(const buf_t *ev) {
  buf_t w = {.n = 0};
  put(&w, EMIT_TAG, 8);
  put(&w, ev->b, ev->n);
  return w;
}

static json_t *b58_json(const buf_t *d) {
  char *s = malloc(2 * d->n + 2);
  base58_encode_ref(d->b, d->n, s);
  json_t *j = json_string(s);
  free(s);
  return j;
}

/* ---- transaction builder (getTransaction result, json encoding) --------- */

typedef struct {
  json_t *keys;   /* static keys */
  int nreq, nros, nrou;
  json_t *lw, *lr; /* loadedAddresses (v0) */
  int version;     /* -1 legacy */
  json_t *ixs;
  json_t *inner; /* array of {index, instructions} */
  json_t *logs;  /* NULL: logMessages null */
  json_t *err;
  json_t *bal;     /* key -> [pre, post] lamports; others 1000000000 both */
  bool no_balances; /* omit meta.preBalances / postBalances */
  uint64_t slot;
  int64_t block_time;
  char sig[BASE58_ENCODED_64_SZ];
} txb_t;

/* keys: NULL-terminated list of key strings, in header order. */
static void txb_init(txb_t *t, int nreq, int nros, int nrou, ...) {
  memset(t, 0, sizeof *t);
  t->keys = json_array();
  t->nreq = nreq;
  t->nros = nros;
  t->nrou = nrou;
  t->version = -1;
  t->lw = json_array();
  t->lr = json_array();
  t->ixs = json_array();
  t->inner = json_array();
  t->logs = json_array();
  t->bal = json_object();
  t->slot = 250000123;
  t->block_time = 1700000123;
  va_list ap;
  va_start(ap, nrou);
  const char *k;
  while ((k = va_arg(ap, const char *)) != NULL) json_array_append_new(t->keys, json_string(k));
  va_end(ap);
  static uint8_t sig_seed = 1;
  uint8_t s[64];
  for (int i = 0; i < 64; i++) s[i] = (uint8_t)(sig_seed * 7 + i);
  sig_seed++;
  base58_encode_64(s, t->sig);
}

static int txb_index(const txb_t *t, const char *k) {
  size_t ns = json_array_size(t->keys), nw = json_array_size(t->lw);
  for (size_t i = 0; i < ns; i++)
    if (strcmp(json_string_value(json_array_get(t->keys, i)), k) == 0) return (int)i;
  for (size_t i = 0; i < nw; i++)
    if (strcmp(json_string_value(json_array_get(t->lw, i)), k) == 0) return (int)(ns + i);
  for (size_t i = 0; i < json_array_size(t->lr); i++)
    if (strcmp(json_string_value(json_array_get(t->lr, i)), k) == 0) return (int)(ns + nw + i);
  ck_abort_msg("key %s not in the transaction", k);
  return -1;
}

static json_t *compiled(const txb_t *t, const char *prog, const buf_t *data, va_list ap) {
  json_t *acc = json_array();
  const char *k;
  while ((k = va_arg(ap, const char *)) != NULL)
    json_array_append_new(acc, json_integer(txb_index(t, k)));
  return json_pack("{s:i, s:o, s:o}", "programIdIndex", txb_index(t, prog), "accounts", acc,
                   "data", b58_json(data));
}

/* Adds a top-level instruction; accounts: NULL-terminated key strings. */
static void txb_ix(txb_t *t, const char *prog, buf_t data, ...) {
  va_list ap;
  va_start(ap, data);
  json_t *o = compiled(t, prog, &data, ap);
  va_end(ap);
  json_object_set_new(o, "stackHeight", json_null());
  json_array_append_new(t->ixs, o);
}

/* Adds an inner instruction of top-level instruction top. */
static void txb_inner(txb_t *t, int top, int stack, const char *prog, buf_t data, ...) {
  va_list ap;
  va_start(ap, data);
  json_t *o = compiled(t, prog, &data, ap);
  va_end(ap);
  json_object_set_new(o, "stackHeight", json_integer(stack));
  json_t *g = NULL;
  for (size_t i = 0; i < json_array_size(t->inner); i++) {
    json_t *c = json_array_get(t->inner, i);
    if (json_integer_value(json_object_get(c, "index")) == top) g = c;
  }
  if (!g) {
    g = json_pack("{s:i, s:[]}", "index", top, "instructions");
    json_array_append_new(t->inner, g);
  }
  json_array_append_new(json_object_get(g, "instructions"), o);
}

/* Sets a key's meta.preBalances / postBalances entries. */
static void txb_balance(txb_t *t, const char *k, json_int_t pre, json_int_t post) {
  json_object_set_new(t->bal, k, json_pack("[I, I]", pre, post));
}

/* meta.preBalances (which 0) or postBalances (1) in key-list order. */
static json_t *txb_balances(const txb_t *t, int which) {
  json_t *out = json_array();
  const json_t *lists[3] = {t->keys, t->lw, t->lr};
  for (int l = 0; l < 3; l++)
    for (size_t i = 0; i < json_array_size(lists[l]); i++) {
      const json_t *o = json_object_get(t->bal, json_string_value(json_array_get(lists[l], i)));
      json_array_append_new(out, o ? json_copy(json_array_get(o, (size_t)which))
                                   : json_integer(1000000000));
    }
  return out;
}

static void txb_log(txb_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void txb_log(txb_t *t, const char *fmt, ...) {
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  ck_assert(n > 0 && (size_t)n < sizeof line);
  json_array_append_new(t->logs, json_string(line));
}

static void txb_log_data(txb_t *t, const buf_t *ev) {
  char *s = b64_encode(ev->b, ev->n);
  txb_log(t, "Program data: %s", s);
  free(s);
}

/* Consumes the builder. */
static json_t *txb_build(txb_t *t) {
  json_t *msg = json_pack("{s:o, s:{s:i, s:i, s:i}, s:s, s:o}", "accountKeys", t->keys, "header",
                          "numRequiredSignatures", t->nreq, "numReadonlySignedAccounts", t->nros,
                          "numReadonlyUnsignedAccounts", t->nrou, "recentBlockhash", K(0x77),
                          "instructions", t->ixs);
  if (t->version == 0) {
    /* one lookup table: writable indexes 0.., readonly after them */
    json_t *wi = json_array(), *ri = json_array();
    size_t nw = json_array_size(t->lw), nr = json_array_size(t->lr);
    for (size_t i = 0; i < nw; i++) json_array_append_new(wi, json_integer((json_int_t)i));
    for (size_t i = 0; i < nr; i++) json_array_append_new(ri, json_integer((json_int_t)(nw + i)));
    json_object_set_new(msg, "addressTableLookups",
                        json_pack("[{s:s, s:o, s:o}]", "accountKey", K(0x78), "writableIndexes",
                                  wi, "readonlyIndexes", ri));
  }
  json_t *pre = txb_balances(t, 0), *post = txb_balances(t, 1);
  json_decref(t->bal);
  json_t *meta = json_pack("{s:o, s:i, s:o, s:{s:o, s:o}, s:o, s:o, s:o, s:[], s:[]}", "err",
                           t->err ? t->err : json_null(), "fee", 5000, "innerInstructions",
                           t->inner, "loadedAddresses", "writable", t->lw, "readonly", t->lr,
                           "logMessages", t->logs ? t->logs : json_null(), "preBalances", pre,
                           "postBalances", post, "preTokenBalances", "postTokenBalances");
  if (t->no_balances) {
    json_object_del(meta, "preBalances");
    json_object_del(meta, "postBalances");
  }
  /* one signature per required signer; the first is the transaction's id */
  json_t *sigs = json_array();
  json_array_append_new(sigs, json_string(t->sig));
  for (int i = 1; i < t->nreq; i++) {
    uint8_t s[64];
    char b[BASE58_ENCODED_64_SZ];
    memset(s, 0x60 + i, sizeof s);
    base58_encode_64(s, b);
    json_array_append_new(sigs, json_string(b));
  }
  json_t *res = json_pack("{s:I, s:I, s:o, s:{s:o, s:o}}", "slot", (json_int_t)t->slot,
                          "blockTime", (json_int_t)t->block_time, "meta", meta, "transaction",
                          "signatures", sigs, "message", msg);
  ck_assert_ptr_nonnull(res);
  if (t->version == 0)
    json_object_set_new(res, "version", json_integer(0));
  else
    json_object_set_new(res, "version", json_string("legacy"));
  return res;
}

/* ---- the test's own wire encoder: json encoding -> base64 encoding ------ */

static void put_cu16(buf_t *w, size_t v) {
  ck_assert_uint_le(v, 0xffff);
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    if (v) b |= 0x80;
    put_u8(w, b);
  } while (v);
}

static void put_b58(buf_t *w, const char *s, size_t want) {
  uint8_t tmp[1024];
  int n = base58_decode_ref(s, tmp, sizeof tmp);
  ck_assert_int_ge(n, 0);
  if (want) ck_assert_uint_eq((size_t)n, want);
  put(w, tmp, (size_t)n);
}

static json_t *to_base64(const json_t *res) {
  json_t *copy = json_deep_copy(res);
  const json_t *txj = json_object_get(res, "transaction");
  const json_t *msg = json_object_get(txj, "message");
  const json_t *sigs = json_object_get(txj, "signatures");
  const json_t *hdr = json_object_get(msg, "header");
  buf_t *w = calloc(1, sizeof *w);
  put_cu16(w, json_array_size(sigs));
  for (size_t i = 0; i < json_array_size(sigs); i++)
    put_b58(w, json_string_value(json_array_get(sigs, i)), 64);
  const json_t *atl = json_object_get(msg, "addressTableLookups");
  if (atl) put_u8(w, 0x80);
  put_u8(w, (uint8_t)json_integer_value(json_object_get(hdr, "numRequiredSignatures")));
  put_u8(w, (uint8_t)json_integer_value(json_object_get(hdr, "numReadonlySignedAccounts")));
  put_u8(w, (uint8_t)json_integer_value(json_object_get(hdr, "numReadonlyUnsignedAccounts")));
  const json_t *keys = json_object_get(msg, "accountKeys");
  put_cu16(w, json_array_size(keys));
  for (size_t i = 0; i < json_array_size(keys); i++)
    put_b58(w, json_string_value(json_array_get(keys, i)), 32);
  put_b58(w, json_string_value(json_object_get(msg, "recentBlockhash")), 32);
  const json_t *ixs = json_object_get(msg, "instructions");
  put_cu16(w, json_array_size(ixs));
  for (size_t i = 0; i < json_array_size(ixs); i++) {
    const json_t *ix = json_array_get(ixs, i);
    put_u8(w, (uint8_t)json_integer_value(json_object_get(ix, "programIdIndex")));
    const json_t *acc = json_object_get(ix, "accounts");
    put_cu16(w, json_array_size(acc));
    for (size_t a = 0; a < json_array_size(acc); a++)
      put_u8(w, (uint8_t)json_integer_value(json_array_get(acc, a)));
    buf_t d = {.n = 0};
    put_b58(&d, json_string_value(json_object_get(ix, "data")), 0);
    put_cu16(w, d.n);
    put(w, d.b, d.n);
  }
  if (atl) {
    put_cu16(w, json_array_size(atl));
    for (size_t i = 0; i < json_array_size(atl); i++) {
      const json_t *l = json_array_get(atl, i);
      put_b58(w, json_string_value(json_object_get(l, "accountKey")), 32);
      const char *names[2] = {"writableIndexes", "readonlyIndexes"};
      for (int p = 0; p < 2; p++) {
        const json_t *arr = json_object_get(l, names[p]);
        put_cu16(w, json_array_size(arr));
        for (size_t k = 0; k < json_array_size(arr); k++)
          put_u8(w, (uint8_t)json_integer_value(json_array_get(arr, k)));
      }
    }
  }
  char *enc = b64_encode(w->b, w->n);
  json_object_set_new(copy, "transaction", json_pack("[s, s]", enc, "base64"));
  free(enc);
  free(w);
  return copy;
}

/* ---- running --------------------------------------------------------------- */

typedef struct {
  txn_rows_t rows;
  txn_issues_t issues;
} result_t;

static void assert_rows_equal(const cb_tx_row_t *a, const cb_tx_row_t *b) {
  ck_assert_str_eq(a->signature, b->signature);
  ck_assert_uint_eq(a->instruction_index, b->instruction_index);
  ck_assert_int_eq(a->type, b->type);
  ck_assert_str_eq(a->market, b->market);
  ck_assert_str_eq(a->user, b->user);
  ck_assert_uint_eq(a->amount, b->amount);
  ck_assert_int_eq(a->side, b->side);
  ck_assert_int_eq(a->has_price, b->has_price);
  ck_assert_uint_eq(a->price, b->price);
  ck_assert_uint_eq(a->slot, b->slot);
  ck_assert_int_eq(a->has_block_time, b->has_block_time);
  ck_assert_int_eq(a->block_time, b->block_time);
  ck_assert_int_eq(a->has_block_height, b->has_block_height);
  ck_assert_uint_eq(a->block_height, b->block_height);
  ck_assert_uint_eq(a->fee, b->fee);
  ck_assert_uint_eq(a->platform_fee, b->platform_fee);
  ck_assert_int_eq(a->has_pools, b->has_pools);
  ck_assert_uint_eq(a->yes_pool, b->yes_pool);
  ck_assert_uint_eq(a->no_pool, b->no_pool);
  ck_assert_int_eq(a->failed, b->failed);
  ck_assert_str_eq(a->error_message, b->error_message);
  ck_assert_int_eq(a->has_resolution, b->has_resolution);
  ck_assert_int_eq(a->resolution_result, b->resolution_result);
  ck_assert_int_eq(a->resolved_at, b->resolved_at);
}

/* Extracts rows from the json form and from the base64 form; asserts they
 * agree (rows, issues, accounts) and returns the json form's. Consumes res. */
static result_t run(json_t *res) {
  result_t r[2];
  json_t *forms[2] = {res, to_base64(res)};
  for (int f = 0; f < 2; f++) {
    txn_t *tx = NULL;
    char err[256];
    int rc = txn_parse(forms[f], NULL, &tx, err, sizeof err);
    ck_assert_msg(rc == TXN_OK, "form %d: %s", f, err);
    ck_assert_int_eq(tx->encoding, f == 0 ? TXN_ENC_JSON : TXN_ENC_BASE64);
    txn_set_block_height(tx, 230000000);
    memset(&r[f], 0, sizeof r[f]);
    ck_assert_int_eq(txn_extract(g_dec, tx, PROGRAM, &r[f].rows, &r[f].issues), TXN_OK);
    txn_free(tx);
    json_decref(forms[f]);
  }
  ck_assert_uint_eq(r[0].rows.count, r[1].rows.count);
  for (size_t i = 0; i < r[0].rows.count; i++) assert_rows_equal(&r[0].rows.rows[i], &r[1].rows.rows[i]);
  ck_assert_uint_eq(r[0].rows.n_accounts, r[1].rows.n_accounts);
  for (size_t i = 0; i < r[0].rows.n_accounts; i++)
    ck_assert_str_eq(r[0].rows.accounts[i], r[1].rows.accounts[i]);
  ck_assert_uint_eq(r[0].issues.count, r[1].issues.count);
  for (size_t i = 0; i < r[0].issues.count; i++) {
    ck_assert_int_eq(r[0].issues.items[i].kind, r[1].issues.items[i].kind);
    ck_assert_uint_eq(r[0].issues.items[i].instruction_index, r[1].issues.items[i].instruction_index);
  }
  txn_rows_free(&r[1].rows);
  txn_issues_free(&r[1].issues);
  return r[0];
}

static void result_free(result_t *r) {
  txn_rows_free(&r->rows);
  txn_issues_free(&r->issues);
}

/* A row with the fields every row of a builder's transaction shares. */
static cb_tx_row_t base_row(const txb_t *t) {
  cb_tx_row_t w;
  memset(&w, 0, sizeof w);
  snprintf(w.signature, sizeof w.signature, "%s", t->sig);
  w.side = CB_SIDE_NONE;
  w.slot = t->slot;
  w.has_block_time = true;
  w.block_time = t->block_time;
  w.has_block_height = true;
  w.block_height = 230000000;
  w.fee = 5000;
  return w;
}

static void assert_accounts(const txn_rows_t *r, ...) {
  va_list ap;
  va_start(ap, r);
  size_t i = 0;
  const char *k;
  while ((k = va_arg(ap, const char *)) != NULL) {
    ck_assert_msg(i < r->n_accounts, "fewer accounts than expected (%zu)", r->n_accounts);
    ck_assert_str_eq(r->accounts[i], k);
    i++;
  }
  va_end(ap);
  ck_assert_uint_eq(r->n_accounts, i);
}

static void log_invoke(txb_t *t, const char *prog, int depth) {
  txb_log(t, "Program %s invoke [%d]", prog, depth);
}
static void log_success(txb_t *t, const char *prog) { txb_log(t, "Program %s success", prog); }
static void log_consumed(txb_t *t, const char *prog, int used) {
  txb_log(t, "Program %s consumed %d of 200000 compute units", prog, used);
}

/* ---- scenarios ----------------------------------------------------------- */

START_TEST(emit_cpi_tag_matches_anchor) {
  ck_assert(memcmp(CB_EMIT_CPI_TAG, EMIT_TAG, 8) == 0);
}
END_TEST

/* ComputeBudget, then place_bet (with its system transfer as inner). */
START_TEST(place_bet_top_level) {
  txb_t t;
  txb_init(&t, 1, 0, 3, K(USER), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), SYSTEM, COMPUTE,
           PROGRAM, NULL);
  buf_t cu = {.n = 0};
  static const uint8_t setlimit[5] = {2, 0x40, 0x0d, 0x03, 0x00};
  put(&cu, setlimit, 5);
  txb_ix(&t, COMPUTE, cu, NULL);
  txb_ix(&t, PROGRAM, ix_place_bet(1, 2500000000u), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS),
         K(USER), SYSTEM, NULL);
  txb_inner(&t, 1, 2, SYSTEM, sys_transfer(2450000000u), K(USER), K(VAULT), NULL);
  log_invoke(&t, COMPUTE, 1);
  log_success(&t, COMPUTE);
  log_invoke(&t, PROGRAM, 1);
  txb_log(&t, "Program log: Instruction: PlaceBet");
  log_invoke(&t, SYSTEM, 2);
  log_success(&t, SYSTEM);
  buf_t ev = ev_bet_placed(MARKET, POS, USER, 1, 2500000000u, 50000000u, 612345678u, 1700000100);
  txb_log_data(&t, &ev);
  log_consumed(&t, PROGRAM, 25000);
  log_success(&t, PROGRAM);
  cb_tx_row_t want = base_row(&t);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  want.instruction_index = 1;
  want.type = CB_TX_PLACE_BET;
  snprintf(want.market, sizeof want.market, "%s", K(MARKET));
  snprintf(want.user, sizeof want.user, "%s", K(USER));
  want.amount = 2500000000u;
  want.side = CB_SIDE_NO;
  want.has_price = true;
  want.price = 612345678u;
  want.platform_fee = 50000000u;
  want.has_pools = true;
  want.yes_pool = 7000000000u + 2500000000u;
  want.no_pool = 4000000000u + 50000000u;
  assert_rows_equal(&r.rows.rows[0], &want);
  ck_assert_uint_eq(r.issues.count, 0);
  assert_accounts(&r.rows, K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), NULL);
  result_free(&r);
}
END_TEST

/* create_market and place_bet in one transaction, two signers. */
START_TEST(two_instructions) {
  txb_t t;
  txb_init(&t, 2, 0, 4, K(AUTH), K(USER), K(GC), K(MARKET), K(YESV), K(NOV), K(POS), K(TREAS),
           K(MINT), K(RESOLVER), SYSTEM, PROGRAM, NULL);
  const char *title = "Will BTC close above $100k on 2025-12-31? \xe2\x9c\x93";
  txb_ix(&t, PROGRAM, ix_create_market(42, title), K(GC), K(MARKET), K(AUTH), K(MINT), K(YESV),
         K(NOV), K(RESOLVER), SYSTEM, NULL);
  txb_inner(&t, 0, 2, SYSTEM, sys_transfer(10000000u), K(AUTH), K(TREAS), NULL);
  txb_ix(&t, PROGRAM, ix_place_bet(0, 1000000u), K(GC), K(MARKET), K(POS), K(YESV), K(TREAS),
         K(USER), SYSTEM, NULL);
  log_invoke(&t, PROGRAM, 1);
  txb_log(&t, "Program log: Instruction: CreateMarket");
  log_invoke(&t, SYSTEM, 2);
  log_success(&t, SYSTEM);
  buf_t e1 = ev_market_created(MARKET, 42, AUTH, 10000000u, 1700000050);
  txb_log_data(&t, &e1);
  log_consumed(&t, PROGRAM, 40000);
  log_success(&t, PROGRAM);
  log_invoke(&t, PROGRAM, 1);
  txb_log(&t, "Program log: Instruction: PlaceBet");
  buf_t e2 = ev_bet_placed(MARKET, POS, USER, 0, 1000000u, 20000u, 500000000u, 1700000051);
  txb_log_data(&t, &e2);
  log_consumed(&t, PROGRAM, 20000);
  log_success(&t, PROGRAM);
  cb_tx_row_t w0 = base_row(&t), w1 = base_row(&t);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 2);
  w0.instruction_index = 0;
  w0.type = CB_TX_CREATE_MARKET;
  snprintf(w0.market, sizeof w0.market, "%s", K(MARKET));
  snprintf(w0.user, sizeof w0.user, "%s", K(AUTH));
  w0.amount = 10000000u; /* the creation fee from MarketCreated */
  assert_rows_equal(&r.rows.rows[0], &w0);
  w1.instruction_index = 2; /* after create_market's inner transfer */
  w1.type = CB_TX_PLACE_BET;
  snprintf(w1.market, sizeof w1.market, "%s", K(MARKET));
  snprintf(w1.user, sizeof w1.user, "%s", K(USER));
  w1.amount = 1000000u;
  w1.side = CB_SIDE_YES;
  w1.has_price = true;
  w1.price = 500000000u;
  w1.platform_fee = 20000u;
  w1.has_pools = true;
  w1.yes_pool = 7000000000u + 1000000u;
  w1.no_pool = 4000000000u + 20000u;
  assert_rows_equal(&r.rows.rows[1], &w1);
  ck_assert_uint_eq(r.issues.count, 0);
  assert_accounts(&r.rows, K(GC), K(MARKET), K(YESV), K(NOV), K(POS), K(TREAS), NULL);
  result_free(&r);
}
END_TEST

/* A router program calls place_bet (stack height 2), which calls the
 * system program (3). */
START_TEST(cpi_inner_place_bet) {
  txb_t t;
  txb_init(&t, 1, 0, 3, K(USER), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), SYSTEM, PROGRAM,
           K(ROUTER), NULL);
  buf_t route = {.n = 0};
  put_u8(&route, 9);
  put_u8(&route, 9);
  txb_ix(&t, K(ROUTER), route, K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), K(USER), SYSTEM,
         PROGRAM, NULL);
  txb_inner(&t, 0, 2, PROGRAM, ix_place_bet(0, 750000000u), K(GC), K(MARKET), K(POS), K(VAULT),
            K(TREAS), K(USER), SYSTEM, NULL);
  txb_inner(&t, 0, 3, SYSTEM, sys_transfer(735000000u), K(USER), K(VAULT), NULL);
  log_invoke(&t, K(ROUTER), 1);
  txb_log(&t, "Program log: Instruction: RouteBet");
  log_invoke(&t, PROGRAM, 2);
  txb_log(&t, "Program log: Instruction: PlaceBet");
  log_invoke(&t, SYSTEM, 3);
  log_success(&t, SYSTEM);
  buf_t ev = ev_bet_placed(MARKET, POS, USER, 0, 750000000u, 15000000u, 636363636u, 1700000200);
  txb_log_data(&t, &ev);
  log_consumed(&t, PROGRAM, 22000);
  log_success(&t, PROGRAM);
  log_consumed(&t, K(ROUTER), 30000);
  log_success(&t, K(ROUTER));
  cb_tx_row_t w = base_row(&t);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  w.instruction_index = 1;
  w.type = CB_TX_PLACE_BET;
  snprintf(w.market, sizeof w.market, "%s", K(MARKET));
  snprintf(w.user, sizeof w.user, "%s", K(USER));
  w.amount = 750000000u;
  w.side = CB_SIDE_YES;
  w.has_price = true;
  w.price = 636363636u;
  w.platform_fee = 15000000u;
  w.has_pools = true;
  w.yes_pool = 7000000000u + 750000000u;
  w.no_pool = 4000000000u + 15000000u;
  assert_rows_equal(&r.rows.rows[0], &w);
  ck_assert_uint_eq(r.issues.count, 0);
  result_free(&r);

  /* the same bet with its event sent through emit_cpi (stack height 3)
   * while the log was truncated right after the router's first line */
  txb_init(&t, 1, 0, 4, K(USER), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), SYSTEM, PROGRAM,
           K(ROUTER), K(EVAUTH), NULL);
  txb_ix(&t, K(ROUTER), route, K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), K(USER), SYSTEM,
         PROGRAM, K(EVAUTH), NULL);
  txb_inner(&t, 0, 2, PROGRAM, ix_place_bet(0, 750000000u), K(GC), K(MARKET), K(POS), K(VAULT),
            K(TREAS), K(USER), SYSTEM, K(EVAUTH), PROGRAM, NULL);
  txb_inner(&t, 0, 3, SYSTEM, sys_transfer(735000000u), K(USER), K(VAULT), NULL);
  txb_inner(&t, 0, 3, PROGRAM, emit_cpi(&ev), K(EVAUTH), NULL);
  log_invoke(&t, K(ROUTER), 1);
  txb_log(&t, "Log truncated");
  w = base_row(&t);
  r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  w.instruction_index = 1;
  w.type = CB_TX_PLACE_BET;
  snprintf(w.market, sizeof w.market, "%s", K(MARKET));
  snprintf(w.user, sizeof w.user, "%s", K(USER));
  w.amount = 750000000u;
  w.side = CB_SIDE_YES;
  w.has_price = true;
  w.price = 636363636u;
  w.platform_fee = 15000000u;
  w.has_pools = true;
  w.yes_pool = 7000000000u + 750000000u;
  w.no_pool = 4000000000u + 15000000u;
  assert_rows_equal(&r.rows.rows[0], &w);
  ck_assert_uint_eq(r.issues.count, 0);
  result_free(&r);
}
END_TEST

/* claim_winnings whose event comes through emit_cpi, then claim_refund
 * whose "Program data" was lost to "Log truncated". */
START_TEST(emit_cpi_with_truncated_log) {
  txb_t t;
  txb_init(&t, 1, 0, 4, K(USER), K(POS), K(VAULT), K(POS2), K(NOV), K(MARKET), SYSTEM, K(EVAUTH),
           PROGRAM, NULL);
  txb_ix(&t, PROGRAM, ix_plain(D_CLAIM_WINNINGS), K(MARKET), K(POS), K(VAULT), K(USER), SYSTEM,
         K(EVAUTH), PROGRAM, NULL);
  txb_inner(&t, 0, 2, SYSTEM, sys_transfer(3210000000u), K(VAULT), K(USER), NULL);
  buf_t ev = ev_claimed(E_WINNINGS_CLAIMED, MARKET, POS, USER, 3210000000u, 1700000300);
  txb_inner(&t, 0, 2, PROGRAM, emit_cpi(&ev), K(EVAUTH), NULL);
  txb_ix(&t, PROGRAM, ix_plain(D_CLAIM_REFUND), K(MARKET), K(POS2), K(NOV), K(USER), SYSTEM, NULL);
  txb_inner(&t, 1, 2, SYSTEM, sys_transfer(400000000u), K(NOV), K(USER), NULL);
  log_invoke(&t, PROGRAM, 1);
  txb_log(&t, "Program log: Instruction: ClaimWinnings");
  txb_log(&t, "Log truncated");
  cb_tx_row_t w0 = base_row(&t), w1 = base_row(&t);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 2); /* the emit_cpi self-invocation is no row */
  w0.instruction_index = 0;
  w0.type = CB_TX_CLAIM_WINNINGS;
  snprintf(w0.market, sizeof w0.market, "%s", K(MARKET));
  snprintf(w0.user, sizeof w0.user, "%s", K(USER));
  w0.amount = 3210000000u;
  assert_rows_equal(&r.rows.rows[0], &w0);
  w1.instruction_index = 3;
  w1.type = CB_TX_CLAIM_REFUND;
  snprintf(w1.market, sizeof w1.market, "%s", K(MARKET));
  snprintf(w1.user, sizeof w1.user, "%s", K(USER));
  w1.amount = 0; /* not invented */
  assert_rows_equal(&r.rows.rows[1], &w1);
  ck_assert_uint_eq(r.issues.count, 1);
  ck_assert_int_eq(r.issues.items[0].kind, TXN_ISSUE_EVENT_MISSING);
  ck_assert_uint_eq(r.issues.items[0].instruction_index, 3);
  ck_assert(strstr(r.issues.items[0].message, "truncated") != NULL);
  ck_assert(!txn_issue_is_dead_letter(TXN_ISSUE_EVENT_MISSING));
  assert_accounts(&r.rows, K(POS), K(VAULT), K(POS2), K(NOV), NULL);
  result_free(&r);
}
END_TEST

/* claim_refund with its RefundClaimed event in the log. */
START_TEST(claim_refund_from_log) {
  txb_t t;
  txb_init(&t, 1, 0, 3, K(USER2), K(POS2), K(NOV), K(MARKET), SYSTEM, PROGRAM, NULL);
  txb_ix(&t, PROGRAM, ix_plain(D_CLAIM_REFUND), K(MARKET), K(POS2), K(NOV), K(USER2), SYSTEM, NULL);
  txb_inner(&t, 0, 2, SYSTEM, sys_transfer(18446744073709551615u), K(NOV), K(USER2), NULL);
  log_invoke(&t, PROGRAM, 1);
  log_invoke(&t, SYSTEM, 2);
  log_success(&t, SYSTEM);
  buf_t ev = ev_claimed(E_REFUND_CLAIMED, MARKET, POS2, USER2, 18446744073709551615u, 1700000700);
  txb_log_data(&t, &ev);
  log_success(&t, PROGRAM);
  cb_tx_row_t w = base_row(&t);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  w.type = CB_TX_CLAIM_REFUND;
  snprintf(w.market, sizeof w.market, "%s", K(MARKET));
  snprintf(w.user, sizeof w.user, "%s", K(USER2));
  w.amount = UINT64_MAX; /* exact u64 */
  assert_rows_equal(&r.rows.rows[0], &w);
  ck_assert_uint_eq(r.issues.count, 0);
  assert_accounts(&r.rows, K(POS2), K(NOV), NULL);
  result_free(&r);
}
END_TEST

/* A failed place_bet: row with failed + error_message, no event, no issue. */
START_TEST(failed_transaction) {
  txb_t t;
  txb_init(&t, 1, 0, 2, K(USER), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), SYSTEM, PROGRAM,
           NULL);
  txb_ix(&t, PROGRAM, ix_place_bet(0, 5u), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), K(USER),
         SYSTEM, NULL);
  t.err = json_pack("{s:[i, {s:i}]}", "InstructionError", 0, "Custom", 6003);
  log_invoke(&t, PROGRAM, 1);
  txb_log(&t, "Program log: Instruction: PlaceBet");
  txb_log(&t, "Program log: AnchorError thrown in programs/crypto-bet/src/lib.rs:120. Error Code: "
              "BetTooSmall. Error Number: 6003. Error Message: Bet amount below minimum.");
  log_consumed(&t, PROGRAM, 9000);
  txb_log(&t, "Program %s failed: custom program error: 0x1773", PROGRAM);
  cb_tx_row_t w = base_row(&t);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  w.instruction_index = 0;
  w.type = CB_TX_PLACE_BET;
  snprintf(w.market, sizeof w.market, "%s", K(MARKET));
  snprintf(w.user, sizeof w.user, "%s", K(USER));
  w.amount = 5;
  w.side = CB_SIDE_YES;
  w.failed = true;
  snprintf(w.error_message, sizeof w.error_message, "%s",
           "{\"InstructionError\":[0,{\"Custom\":6003}]}");
  assert_rows_equal(&r.rows.rows[0], &w);
  ck_assert_uint_eq(r.issues.count, 0);
  ck_assert_uint_eq(r.rows.n_accounts, 0); /* a failed transaction wrote nothing */
  result_free(&r);
}
END_TEST

/* A failed two-instruction transaction whose first instruction (place_bet)
 * logged its BetPlaced event before the second (claim_winnings, also with
 * its event) failed: the whole transaction was rolled back, so the rows
 * keep the instructions' own arguments and status failed and take nothing
 * from the events (no price, platform_fee or claimed amount), without
 * missing-event issues. */
START_TEST(failed_transaction_ignores_events) {
  txb_t t;
  txb_init(&t, 1, 0, 2, K(USER), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), K(POS2), SYSTEM,
           PROGRAM, NULL);
  txb_ix(&t, PROGRAM, ix_place_bet(1, 3000000u), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS),
         K(USER), SYSTEM, NULL);
  txb_ix(&t, PROGRAM, ix_plain(D_CLAIM_WINNINGS), K(MARKET), K(POS2), K(VAULT), K(USER), SYSTEM,
         NULL);
  t.err = json_pack("{s:[i, {s:i}]}", "InstructionError", 1, "Custom", 6010);
  log_invoke(&t, PROGRAM, 1);
  txb_log(&t, "Program log: Instruction: PlaceBet");
  buf_t e1 = ev_bet_placed(MARKET, POS, USER, 1, 3000000u, 60000u, 640000000u, 1700001100);
  txb_log_data(&t, &e1);
  log_consumed(&t, PROGRAM, 20000);
  log_success(&t, PROGRAM);
  log_invoke(&t, PROGRAM, 1);
  txb_log(&t, "Program log: Instruction: ClaimWinnings");
  buf_t e2 = ev_claimed(E_WINNINGS_CLAIMED, MARKET, POS2, USER, 7777777u, 1700001100);
  txb_log_data(&t, &e2);
  log_consumed(&t, PROGRAM, 9000);
  txb_log(&t, "Program %s failed: custom program error: 0x177a", PROGRAM);
  cb_tx_row_t w0 = base_row(&t), w1 = base_row(&t);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 2);
  const char *em = "{\"InstructionError\":[1,{\"Custom\":6010}]}";
  w0.instruction_index = 0;
  w0.type = CB_TX_PLACE_BET;
  snprintf(w0.market, sizeof w0.market, "%s", K(MARKET));
  snprintf(w0.user, sizeof w0.user, "%s", K(USER));
  w0.amount = 3000000u; /* the argument */
  w0.side = CB_SIDE_NO;
  w0.failed = true;
  snprintf(w0.error_message, sizeof w0.error_message, "%s", em);
  assert_rows_equal(&r.rows.rows[0], &w0); /* has_price false, price 0, platform_fee 0 */
  w1.instruction_index = 1;
  w1.type = CB_TX_CLAIM_WINNINGS;
  snprintf(w1.market, sizeof w1.market, "%s", K(MARKET));
  snprintf(w1.user, sizeof w1.user, "%s", K(USER));
  w1.failed = true;
  snprintf(w1.error_message, sizeof w1.error_message, "%s", em);
  assert_rows_equal(&r.rows.rows[1], &w1); /* amount 0: the event's amount is not taken */
  ck_assert_uint_eq(r.issues.count, 0);
  ck_assert_uint_eq(r.rows.n_accounts, 0);
  result_free(&r);

  /* a failed resolve_market with its MarketResolved event: no resolution */
  txb_init(&t, 1, 0, 2, K(RESOLVER), K(MARKET), K(ORACLE), PROGRAM, NULL);
  txb_ix(&t, PROGRAM, ix_resolve(1), K(MARKET), K(ORACLE), K(RESOLVER), NULL);
  t.err = json_pack("{s:[i, s]}", "InstructionError", 0, "ProgramFailedToComplete");
  log_invoke(&t, PROGRAM, 1);
  buf_t e3 = ev_resolved(MARKET, RESOLVER, 1, 1700001200);
  txb_log_data(&t, &e3);
  txb_log(&t, "Program %s failed: Program failed to complete", PROGRAM);
  r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  ck_assert(r.rows.rows[0].failed);
  ck_assert(!r.rows.rows[0].has_resolution);
  ck_assert_int_eq(r.rows.rows[0].resolved_at, 0);
  ck_assert_uint_eq(r.issues.count, 0);
  result_free(&r);
}
END_TEST

/* A long meta.err is cut at a UTF-8 boundary. */
START_TEST(long_error_truncated_on_utf8_boundary) {
  char big[600];
  size_t o = 0;
  while (o + 2 < sizeof big - 1) {
    big[o++] = (char)0xc3; /* U+00E9, two bytes */
    big[o++] = (char)0xa9;
  }
  big[o] = '\0';
  txb_t t;
  txb_init(&t, 1, 0, 1, K(USER), K(MARKET), PROGRAM, NULL);
  txb_ix(&t, PROGRAM, ix_plain(D_CANCEL_MARKET), K(MARKET), K(USER), NULL);
  t.err = json_pack("{s:s}", "X", big);
  log_invoke(&t, PROGRAM, 1);
  txb_log(&t, "Program %s failed: x", PROGRAM);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  const char *m = r.rows.rows[0].error_message;
  size_t n = strlen(m);
  ck_assert_uint_le(n, 255);
  ck_assert_uint_ge(n, 250);
  ck_assert(strncmp(m, "{\"X\":\"", 6) == 0);
  /* 6 ASCII bytes, then whole 2-byte characters only */
  ck_assert_uint_eq((n - 6) % 2, 0);
  ck_assert_uint_eq((unsigned char)m[n - 1], 0xa9);
  ck_assert(r.rows.rows[0].failed);
  ck_assert_int_eq(r.rows.rows[0].type, CB_TX_CANCEL_MARKET);
  snprintf(big, sizeof big, "%s", K(USER));
  ck_assert_str_eq(r.rows.rows[0].user, big);
  result_free(&r);
}
END_TEST

/* Another program prints "Program data:" with our BetPlaced layout, at the
 * top level and while called by place_bet: both ignored. */
START_TEST(spoofed_program_data_ignored) {
  txb_t t;
  txb_init(&t, 1, 0, 3, K(USER), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), SYSTEM, PROGRAM,
           K(EVIL), NULL);
  buf_t nop = {.n = 0};
  put_u8(&nop, 0);
  txb_ix(&t, K(EVIL), nop, K(MARKET), NULL);
  txb_ix(&t, PROGRAM, ix_place_bet(1, 9000000u), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS),
         K(USER), SYSTEM, NULL);
  txb_inner(&t, 1, 2, K(EVIL), nop, K(MARKET), NULL);
  buf_t fake = ev_bet_placed(MARKET, POS, USER, 1, 9000000u, 1u, 999u, 1);
  buf_t real = ev_bet_placed(MARKET, POS, USER, 1, 9000000u, 180000u, 450000000u, 1700000400);
  log_invoke(&t, K(EVIL), 1);
  txb_log_data(&t, &fake);
  log_success(&t, K(EVIL));
  log_invoke(&t, PROGRAM, 1);
  txb_log(&t, "Program log: Instruction: PlaceBet");
  log_invoke(&t, K(EVIL), 2);
  txb_log_data(&t, &fake);
  log_success(&t, K(EVIL));
  txb_log_data(&t, &real);
  log_consumed(&t, PROGRAM, 21000);
  log_success(&t, PROGRAM);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  ck_assert_uint_eq(r.rows.rows[0].instruction_index, 1);
  ck_assert(r.rows.rows[0].has_price);
  ck_assert_uint_eq(r.rows.rows[0].price, 450000000u);
  ck_assert_uint_eq(r.rows.rows[0].platform_fee, 180000u);
  ck_assert_uint_eq(r.issues.count, 0);
  result_free(&r);

  /* the same without our own event: nothing taken from the spoof */
  txb_init(&t, 1, 0, 3, K(USER), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), SYSTEM, PROGRAM,
           K(EVIL), NULL);
  txb_ix(&t, K(EVIL), nop, K(MARKET), NULL);
  txb_ix(&t, PROGRAM, ix_place_bet(1, 9000000u), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS),
         K(USER), SYSTEM, NULL);
  log_invoke(&t, K(EVIL), 1);
  txb_log_data(&t, &fake);
  log_success(&t, K(EVIL));
  log_invoke(&t, PROGRAM, 1);
  log_success(&t, PROGRAM);
  r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  ck_assert(!r.rows.rows[0].has_price);
  ck_assert_uint_eq(r.rows.rows[0].price, 0);
  ck_assert_uint_eq(r.rows.rows[0].platform_fee, 0);
  ck_assert_uint_eq(r.issues.count, 1);
  ck_assert_int_eq(r.issues.items[0].kind, TXN_ISSUE_EVENT_MISSING);
  result_free(&r);
}
END_TEST

/* v0: the market account comes from an address lookup table. */
START_TEST(v0_loaded_market) {
  txb_t t;
  txb_init(&t, 1, 0, 2, K(USER), K(GC), K(POS), K(VAULT), K(TREAS), SYSTEM, PROGRAM, NULL);
  t.version = 0;
  json_array_append_new(t.lw, json_string(K(LMARKET)));
  json_array_append_new(t.lr, json_string(K(MINT)));
  txb_ix(&t, PROGRAM, ix_place_bet(0, 123456789u), K(GC), K(LMARKET), K(POS), K(VAULT), K(TREAS),
         K(USER), SYSTEM, K(MINT), NULL);
  log_invoke(&t, PROGRAM, 1);
  buf_t ev = ev_bet_placed(LMARKET, POS, USER, 0, 123456789u, 2469135u, 333333333u, 1700000500);
  txb_log_data(&t, &ev);
  log_success(&t, PROGRAM);
  cb_tx_row_t w = base_row(&t);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  w.type = CB_TX_PLACE_BET;
  snprintf(w.market, sizeof w.market, "%s", K(LMARKET));
  snprintf(w.user, sizeof w.user, "%s", K(USER));
  w.amount = 123456789u;
  w.side = CB_SIDE_YES;
  w.has_price = true;
  w.price = 333333333u;
  w.platform_fee = 2469135u;
  w.has_pools = true;
  w.yes_pool = 7000000000u + 123456789u;
  w.no_pool = 4000000000u + 2469135u;
  assert_rows_equal(&r.rows.rows[0], &w);
  assert_accounts(&r.rows, K(GC), K(LMARKET), K(POS), K(VAULT), K(TREAS), NULL);
  ck_assert_uint_eq(r.issues.count, 0);
  result_free(&r);
}
END_TEST

/* resolve_market: outcome and time from MarketResolved; cancel_market. */
START_TEST(resolve_and_cancel) {
  txb_t t;
  txb_init(&t, 1, 0, 1, K(RESOLVER), K(MARKET), PROGRAM, NULL);
  /* oracle_data is readonly: put it among the readonly keys */
  json_array_insert_new(t.keys, 2, json_string(K(ORACLE)));
  t.nrou = 2;
  txb_ix(&t, PROGRAM, ix_resolve(1), K(MARKET), K(ORACLE), K(RESOLVER), NULL);
  log_invoke(&t, PROGRAM, 1);
  buf_t ev = ev_resolved(MARKET, RESOLVER, 0, 1700000999); /* event says NO */
  txb_log_data(&t, &ev);
  log_success(&t, PROGRAM);
  cb_tx_row_t w = base_row(&t);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  w.type = CB_TX_RESOLVE_MARKET;
  snprintf(w.market, sizeof w.market, "%s", K(MARKET));
  snprintf(w.user, sizeof w.user, "%s", K(RESOLVER));
  w.has_resolution = true;
  w.resolution_result = false; /* the event's value wins over the argument */
  w.resolved_at = 1700000999;
  assert_rows_equal(&r.rows.rows[0], &w);
  assert_accounts(&r.rows, K(MARKET), NULL);
  result_free(&r);

  /* without logs: argument and block time, and an issue */
  txb_init(&t, 1, 0, 2, K(RESOLVER), K(MARKET), K(ORACLE), PROGRAM, NULL);
  txb_ix(&t, PROGRAM, ix_resolve(1), K(MARKET), K(ORACLE), K(RESOLVER), NULL);
  json_decref(t.logs);
  t.logs = NULL;
  w = base_row(&t);
  r = run(txb_build(&t));
  w.type = CB_TX_RESOLVE_MARKET;
  snprintf(w.market, sizeof w.market, "%s", K(MARKET));
  snprintf(w.user, sizeof w.user, "%s", K(RESOLVER));
  w.has_resolution = true;
  w.resolution_result = true;
  w.resolved_at = t.block_time;
  assert_rows_equal(&r.rows.rows[0], &w);
  ck_assert_uint_eq(r.issues.count, 1);
  ck_assert_int_eq(r.issues.items[0].kind, TXN_ISSUE_EVENT_MISSING);
  ck_assert(strstr(r.issues.items[0].message, "logMessages") != NULL);
  result_free(&r);

  /* cancel_market with its event */
  txb_init(&t, 1, 0, 1, K(AUTH), K(MARKET), PROGRAM, NULL);
  txb_ix(&t, PROGRAM, ix_plain(D_CANCEL_MARKET), K(MARKET), K(AUTH), NULL);
  log_invoke(&t, PROGRAM, 1);
  buf_t ce = ev_cancelled(MARKET, AUTH, 1700001000);
  txb_log_data(&t, &ce);
  log_success(&t, PROGRAM);
  w = base_row(&t);
  r = run(txb_build(&t));
  w.type = CB_TX_CANCEL_MARKET;
  snprintf(w.market, sizeof w.market, "%s", K(MARKET));
  snprintf(w.user, sizeof w.user, "%s", K(AUTH));
  assert_rows_equal(&r.rows.rows[0], &w);
  ck_assert_uint_eq(r.issues.count, 0);
  result_free(&r);
}
END_TEST

/* Undecodable data of ours: dead-letter issues; the rest still rows. */
START_TEST(undecodable_instruction_and_event) {
  txb_t t;
  txb_init(&t, 1, 0, 2, K(USER), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), SYSTEM, PROGRAM,
           NULL);
  buf_t junk = {.n = 0};
  for (uint8_t i = 1; i <= 9; i++) put_u8(&junk, i);
  buf_t shortbet = {.n = 0};
  put(&shortbet, D_PLACE_BET, 8);
  put_u8(&shortbet, 0);
  put_u8(&shortbet, 7); /* amount cut short */
  txb_ix(&t, PROGRAM, junk, K(MARKET), NULL);
  txb_ix(&t, PROGRAM, shortbet, K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), K(USER), SYSTEM,
         NULL);
  txb_ix(&t, PROGRAM, ix_place_bet(1, 77u), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), K(USER),
         SYSTEM, NULL);
  log_invoke(&t, PROGRAM, 1);
  log_success(&t, PROGRAM);
  log_invoke(&t, PROGRAM, 1);
  log_success(&t, PROGRAM);
  log_invoke(&t, PROGRAM, 1);
  buf_t bad_ev = {.n = 0};
  put(&bad_ev, E_BET_PLACED, 8);
  put_u8(&bad_ev, 1); /* BetPlaced cut short */
  txb_log_data(&t, &bad_ev);
  log_success(&t, PROGRAM);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  ck_assert_uint_eq(r.rows.rows[0].instruction_index, 2);
  ck_assert_uint_eq(r.rows.rows[0].amount, 77);
  ck_assert(!r.rows.rows[0].has_price);
  ck_assert_uint_eq(r.issues.count, 4);
  const txn_issue_t *is = r.issues.items;
  ck_assert_int_eq(is[0].kind, TXN_ISSUE_INSTRUCTION_DECODE);
  ck_assert(txn_issue_is_dead_letter(is[0].kind));
  ck_assert_uint_eq(is[0].instruction_index, 0);
  ck_assert_int_eq(is[0].err.code, DECODE_ERR_DISCRIMINATOR);
  ck_assert_uint_eq(is[0].len, 9);
  ck_assert(memcmp(is[0].data, junk.b, 9) == 0);
  ck_assert_int_eq(is[1].kind, TXN_ISSUE_INSTRUCTION_DECODE);
  ck_assert_uint_eq(is[1].instruction_index, 1);
  ck_assert_int_eq(is[1].err.code, DECODE_ERR_TRUNCATED);
  ck_assert_uint_eq(is[1].len, 10);
  ck_assert_int_eq(is[2].kind, TXN_ISSUE_EVENT_DECODE);
  ck_assert(txn_issue_is_dead_letter(is[2].kind));
  ck_assert_uint_eq(is[2].instruction_index, 2);
  ck_assert_uint_eq(is[2].len, 9);
  ck_assert(memcmp(is[2].data, bad_ev.b, 9) == 0);
  ck_assert_int_eq(is[3].kind, TXN_ISSUE_EVENT_MISSING);
  ck_assert_uint_eq(is[3].instruction_index, 2);
  result_free(&r);
}
END_TEST

/* An Ed25519 precompile instruction (which logs no invoke line) before
 * place_bet: the event still lands on place_bet. */
START_TEST(precompile_before_instruction) {
  txb_t t;
  txb_init(&t, 1, 0, 3, K(USER), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS), SYSTEM, ED25519,
           PROGRAM, NULL);
  buf_t sigv = {.n = 0};
  put_u8(&sigv, 0);
  put_u8(&sigv, 0);
  txb_ix(&t, ED25519, sigv, NULL);
  txb_ix(&t, PROGRAM, ix_place_bet(0, 1000u), K(GC), K(MARKET), K(POS), K(VAULT), K(TREAS),
         K(USER), SYSTEM, NULL);
  log_invoke(&t, PROGRAM, 1);
  buf_t ev = ev_bet_placed(MARKET, POS, USER, 0, 1000u, 20u, 555555555u, 1700000600);
  txb_log_data(&t, &ev);
  log_success(&t, PROGRAM);
  result_t r = run(txb_build(&t));
  ck_assert_uint_eq(r.rows.count, 1);
  ck_assert_uint_eq(r.rows.rows[0].instruction_index, 1);
  ck_assert(r.rows.rows[0].has_price);
  ck_assert_uint_eq(r.rows.rows[0].price, 555555555u);
  ck_assert_uint_eq(r.issues.count, 0);
  result_free(&r);
}
END_TEST

/* A transaction without our program: no rows, no issues; and
 * txn_invoke_map on a CPI tree. */
START_TEST(foreign_and_invoke_map) {
  txb_t t;
  txb_init(&t, 1, 0, 2, K(USER), K(VAULT), SYSTEM, K(ROUTER), NULL);
  buf_t nop = {.n = 0};
  put_u8(&nop, 1);
  txb_ix(&t, K(ROUTER), nop, K(VAULT), NULL);
  txb_inner(&t, 0, 2, SYSTEM, sys_transfer(1), K(USER), K(VAULT), NULL);
  txb_ix(&t, SYSTEM, sys_transfer(2), K(USER), K(VAULT), NULL);
  log_invoke(&t, K(ROUTER), 1);
  log_invoke(&t, SYSTEM, 2);
  log_success(&t, SYSTEM);
  log_success(&t, K(ROUTER));
  log_invoke(&t, SYSTEM, 1);
  log_success(&t, SYSTEM);
  json_t *res = txb_build(&t);
  txn_t *tx = NULL;
  char err[256];
  ck_assert_int_eq(txn_parse(res, NULL, &tx, err, sizeof err), TXN_OK);
  ck_assert(!txn_touches_program(tx, PROGRAM));
  uint32_t *map = NULL, *depth = NULL;
  size_t n = 0;
  ck_assert_int_eq(txn_invoke_map(tx, &map, &depth, &n), TXN_OK);
  ck_assert_uint_eq(n, 3);
  ck_assert_uint_eq(map[0], 0);
  ck_assert_uint_eq(map[1], 1);
  ck_assert_uint_eq(map[2], 2);
  ck_assert_uint_eq(depth[0], 1);
  ck_assert_uint_eq(depth[1], 2);
  ck_assert_uint_eq(depth[2], 1);
  free(map);
  free(depth);
  txn_rows_t rows;
  txn_issues_t issues;
  ck_assert_int_eq(txn_extract(g_dec, tx, PROGRAM, &rows, &issues), TXN_OK);
  ck_assert_uint_eq(rows.count, 0);
  ck_assert_uint_eq(rows.n_accounts, 0);
  ck_assert_uint_eq(issues.count, 0);
  txn_rows_free(&rows);
  txn_issues_free(&issues);
  /* issues may be NULL */
  ck_assert_int_eq(txn_extract(g_dec, tx, PROGRAM, &rows, NULL), TXN_OK);
  txn_rows_free(&rows);
  txn_free(tx);
  json_decref(res);
}
END_TEST

/* ---- the generated chain fixture ------------------------------------------ */

#ifndef CHAIN_DIR
#define CHAIN_DIR "fixtures/chain"
#endif

static void expect_str(const char *what, const char *key, const char *got, const json_t *want) {
  if (json_is_null(want) || !want) {
    ck_assert_msg(got == NULL, "%s %s: got '%s', want null", key, what, got ? got : "");
    return;
  }
  ck_assert_msg(got != NULL, "%s %s: got null, want '%s'", key, what, json_string_value(want));
  ck_assert_msg(json_is_string(want) && strcmp(got, json_string_value(want)) == 0,
                "%s %s: got '%s', want '%s'", key, what, got, json_string_value(want));
}

static void expect_u64(const char *what, const char *key, uint64_t got, const json_t *want) {
  uint64_t w;
  ck_assert_msg(jsonx_u64(want, &w) == 0, "%s %s: expected value is not a u64", key, what);
  ck_assert_msg(got == w, "%s %s: got %" PRIu64 ", want %" PRIu64, key, what, got, w);
}

/* Compares one row with an expected.json "transactions" entry. */
static void assert_row_matches(const cb_tx_row_t *r, const json_t *e, const char *key) {
  char buf[64];
  expect_str("signature", key, r->signature, json_object_get(e, "signature"));
  expect_u64("instruction_index", key, r->instruction_index, json_object_get(e, "instruction_index"));
  expect_str("transaction_type", key, cb_tx_type_name(r->type), json_object_get(e, "transaction_type"));
  expect_str("market_pubkey", key, r->market[0] ? r->market : NULL, json_object_get(e, "market_pubkey"));
  expect_str("user_pubkey", key, r->user[0] ? r->user : NULL, json_object_get(e, "user_pubkey"));
  snprintf(buf, sizeof buf, "%" PRIu64, r->amount);
  expect_str("amount", key, buf, json_object_get(e, "amount"));
  expect_str("side", key, r->side == CB_SIDE_YES ? "yes" : r->side == CB_SIDE_NO ? "no" : NULL,
             json_object_get(e, "side"));
  snprintf(buf, sizeof buf, "%" PRIu64 ".%09" PRIu64, r->price / 1000000000u, r->price % 1000000000u);
  expect_str("price", key, r->has_price ? buf : NULL, json_object_get(e, "price"));
  expect_u64("slot", key, r->slot, json_object_get(e, "slot"));
  const json_t *bt = json_object_get(e, "block_time_unix");
  ck_assert_msg(r->has_block_time == !json_is_null(bt), "%s block_time presence", key);
  if (r->has_block_time) ck_assert_int_eq(r->block_time, json_integer_value(bt));
  const json_t *bh = json_object_get(e, "block_height");
  ck_assert_msg(r->has_block_height == !json_is_null(bh), "%s block_height presence", key);
  if (r->has_block_height) expect_u64("block_height", key, r->block_height, bh);
  snprintf(buf, sizeof buf, "%" PRIu64, r->fee);
  expect_str("fee_amount", key, buf, json_object_get(e, "fee_amount"));
  snprintf(buf, sizeof buf, "%" PRIu64, r->platform_fee);
  expect_str("platform_fee", key, buf, json_object_get(e, "platform_fee"));
  expect_str("status", key, r->failed ? "failed" : "confirmed", json_object_get(e, "status"));
  expect_str("error_message", key, r->failed ? r->error_message : NULL,
             json_object_get(e, "error_message"));
  const json_t *rr = json_object_get(e, "resolution_result");
  ck_assert_msg(r->has_resolution == !json_is_null(rr), "%s has_resolution", key);
  if (r->has_resolution) {
    ck_assert_msg(r->resolution_result == json_is_true(rr), "%s resolution_result", key);
    ck_assert_int_eq(r->resolved_at, json_integer_value(json_object_get(e, "resolved_at_unix")));
  } else {
    ck_assert(json_is_null(json_object_get(e, "resolved_at_unix")));
  }
}

typedef struct {
  json_t *expected; /* "sig#index" -> row */
  json_t *heights;  /* "slot" -> blockHeight */
  json_t *lines;    /* every rpc.jsonl record */
} chain_t;

static void chain_load(chain_t *c) {
  size_t len;
  char *text = tu_read_file(CHAIN_DIR "/expected.json", &len);
  char err[256];
  json_t *exp = jsonx_loads(text, len, err, sizeof err);
  ck_assert_msg(exp != NULL, "expected.json: %s", err);
  free(text);
  c->expected = json_object();
  const json_t *rows = json_object_get(exp, "transactions");
  ck_assert_uint_gt(json_array_size(rows), 100);
  for (size_t i = 0; i < json_array_size(rows); i++) {
    const json_t *r = json_array_get(rows, i);
    char key[128];
    snprintf(key, sizeof key, "%s#%" JSON_INTEGER_FORMAT,
             json_string_value(json_object_get(r, "signature")),
             json_integer_value(json_object_get(r, "instruction_index")));
    ck_assert_msg(json_object_get(c->expected, key) == NULL, "duplicate expected row %s", key);
    json_object_set(c->expected, key, (json_t *)r);
  }
  json_decref(exp);
  c->lines = json_array();
  c->heights = json_object();
  FILE *f = fopen(CHAIN_DIR "/rpc.jsonl", "rb");
  ck_assert_ptr_nonnull(f);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    json_t *rec = jsonx_loads(line, (size_t)n, err, sizeof err);
    ck_assert_msg(rec != NULL, "rpc.jsonl: %s", err);
    const json_t *req = json_object_get(rec, "request");
    const json_t *res = json_object_get(json_object_get(rec, "response"), "result");
    if (strcmp(json_string_value(json_object_get(req, "method")), "getBlock") == 0 &&
        json_is_object(res)) {
      char slot[32];
      snprintf(slot, sizeof slot, "%" JSON_INTEGER_FORMAT,
               json_integer_value(json_array_get(json_object_get(req, "params"), 0)));
      json_object_set(c->heights, slot, json_object_get(res, "blockHeight"));
    }
    json_array_append_new(c->lines, rec);
  }
  free(line);
  fclose(f);
}

static void chain_free(chain_t *c) {
  json_decref(c->expected);
  json_decref(c->heights);
  json_decref(c->lines);
}

/* Extracts tx and checks every row against expected (each at most once). */
static size_t chain_check_tx(const chain_t *c, json_t *seen, txn_t *tx) {
  txn_rows_t rows;
  txn_issues_t issues;
  ck_assert_int_eq(txn_extract(g_dec, tx, PROGRAM, &rows, &issues), TXN_OK);
  for (size_t i = 0; i < issues.count; i++)
    ck_abort_msg("%s: issue %d at %u: %s", tx->signature, issues.items[i].kind,
                 issues.items[i].instruction_index, issues.items[i].message);
  for (size_t i = 0; i < rows.count; i++) {
    char key[128];
    snprintf(key, sizeof key, "%s#%u", rows.rows[i].signature, rows.rows[i].instruction_index);
    const json_t *e = json_object_get(c->expected, key);
    ck_assert_msg(e != NULL, "row %s (%s) not expected", key, cb_tx_type_name(rows.rows[i].type));
    ck_assert_msg(json_object_get(seen, key) == NULL, "row %s produced twice", key);
    json_object_set_new(seen, key, json_true());
    assert_row_matches(&rows.rows[i], e, key);
  }
  size_t n = rows.count;
  /* a successful transaction of ours touches program accounts */
  if (n && !tx->failed) ck_assert_uint_gt(rows.n_accounts, 0);
  txn_rows_free(&rows);
  txn_issues_free(&issues);
  return n;
}

/* Every getTransaction response (json and base64) and every getBlock of the
 * generated history gives exactly the expected rows, field by field. */
START_TEST(chain_fixture_rows) {
  chain_t c;
  chain_load(&c);
  const char *modes[3] = {"json", "base64", "getBlock"};
  for (int mode = 0; mode < 3; mode++) {
    json_t *seen = json_object();
    size_t n_tx = 0;
    for (size_t i = 0; i < json_array_size(c.lines); i++) {
      const json_t *rec = json_array_get(c.lines, i);
      const json_t *req = json_object_get(rec, "request");
      const char *method = json_string_value(json_object_get(req, "method"));
      const json_t *params = json_object_get(req, "params");
      const json_t *res = json_object_get(json_object_get(rec, "response"), "result");
      if (!json_is_object(res)) continue;
      char err[256];
      if (mode < 2 && strcmp(method, "getTransaction") == 0) {
        const char *enc = json_string_value(json_object_get(json_array_get(params, 1), "encoding"));
        if (!enc || strcmp(enc, modes[mode]) != 0) continue;
        txn_t *tx = NULL;
        ck_assert_msg(txn_parse(res, NULL, &tx, err, sizeof err) == TXN_OK, "%s", err);
        ck_assert_int_eq(tx->encoding, mode == 0 ? TXN_ENC_JSON : TXN_ENC_BASE64);
        char slot[32];
        snprintf(slot, sizeof slot, "%" PRIu64, tx->slot);
        uint64_t h;
        ck_assert_msg(jsonx_u64(json_object_get(c.heights, slot), &h) == 0, "no block for slot %s",
                      slot);
        txn_set_block_height(tx, h);
        chain_check_tx(&c, seen, tx);
        txn_free(tx);
        n_tx++;
      } else if (mode == 2 && strcmp(method, "getBlock") == 0) {
        uint64_t slot;
        ck_assert_int_eq(jsonx_u64(json_array_get(params, 0), &slot), 0);
        txn_block_t blk;
        ck_assert_int_eq(txn_block_from_json(res, slot, &blk), TXN_OK);
        const json_t *txs = json_object_get(res, "transactions");
        for (size_t k = 0; k < json_array_size(txs); k++) {
          txn_t *tx = NULL;
          ck_assert_msg(txn_parse(json_array_get(txs, k), &blk, &tx, err, sizeof err) == TXN_OK,
                        "slot %" PRIu64 ": %s", slot, err);
          if (txn_touches_program(tx, PROGRAM)) {
            chain_check_tx(&c, seen, tx);
            n_tx++;
          } else {
            txn_rows_t rows;
            ck_assert_int_eq(txn_extract(g_dec, tx, PROGRAM, &rows, NULL), TXN_OK);
            ck_assert_uint_eq(rows.count, 0);
            txn_rows_free(&rows);
          }
          txn_free(tx);
        }
      }
    }
    ck_assert_msg(json_object_size(seen) == json_object_size(c.expected),
                  "%s: %zu of %zu expected rows produced", modes[mode], json_object_size(seen),
                  json_object_size(c.expected));
    ck_assert_uint_gt(n_tx, 100);
    json_decref(seen);
  }
  chain_free(&c);
}
END_TEST

/* ---- balances and closed accounts ----------------------------------------- */

/* A compiled instruction {programIdIndex, accounts, data, stackHeight} in
 * jsonParsed form {programId, accounts: [b58], data, stackHeight}. */
static json_t *jp_ix(const json_t *ix, const json_t *all_keys) {
  const json_t *acc = json_object_get(ix, "accounts");
  json_t *names = json_array();
  for (size_t a = 0; a < json_array_size(acc); a++)
    json_array_append(names, json_array_get(all_keys, (size_t)json_integer_value(json_array_get(acc, a))));
  json_t *o = json_pack("{s:O, s:o, s:O, s:O}", "programId",
                        json_array_get(all_keys, (size_t)json_integer_value(
                                                     json_object_get(ix, "programIdIndex"))),
                        "accounts", names, "data", json_object_get(ix, "data"), "stackHeight",
                        json_object_get(ix, "stackHeight"));
  ck_assert_ptr_nonnull(o);
  return o;
}

/* The test's own json -> jsonParsed converter: accountKeys as {pubkey,
 * signer, writable, source} (static, then loaded writable, then loaded
 * readonly, as the node lists them), instructions with base58 keys. */
static json_t *to_jsonparsed(const json_t *res) {
  json_t *copy = json_deep_copy(res);
  json_t *msg = json_object_get(json_object_get(copy, "transaction"), "message");
  json_t *meta = json_object_get(copy, "meta");
  const json_t *hdr = json_object_get(msg, "header");
  size_t nreq = (size_t)json_integer_value(json_object_get(hdr, "numRequiredSignatures"));
  size_t nros = (size_t)json_integer_value(json_object_get(hdr, "numReadonlySignedAccounts"));
  size_t nrou = (size_t)json_integer_value(json_object_get(hdr, "numReadonlyUnsignedAccounts"));
  const json_t *keys = json_object_get(msg, "accountKeys");
  const json_t *la = json_object_get(meta, "loadedAddresses");
  size_t n = json_array_size(keys);
  json_t *all = json_array(), *ak = json_array();
  for (size_t i = 0; i < n; i++) {
    bool w = i < nreq ? i < nreq - nros : i < n - nrou;
    json_array_append(all, json_array_get(keys, i));
    json_array_append_new(ak, json_pack("{s:O, s:b, s:b, s:s}", "pubkey", json_array_get(keys, i),
                                        "signer", i < nreq, "writable", w, "source",
                                        "transaction"));
  }
  for (int pass = 0; pass < 2; pass++) {
    const json_t *arr = json_object_get(la, pass == 0 ? "writable" : "readonly");
    for (size_t i = 0; i < json_array_size(arr); i++) {
      json_array_append(all, json_array_get(arr, i));
      json_array_append_new(ak, json_pack("{s:O, s:b, s:b, s:s}", "pubkey", json_array_get(arr, i),
                                          "signer", 0, "writable", pass == 0, "source",
                                          "lookupTable"));
    }
  }
  json_t *ixs = json_array();
  const json_t *old = json_object_get(msg, "instructions");
  for (size_t i = 0; i < json_array_size(old); i++)
    json_array_append_new(ixs, jp_ix(json_array_get(old, i), all));
  json_t *groups = json_array();
  const json_t *inner = json_object_get(meta, "innerInstructions");
  for (size_t g = 0; g < json_array_size(inner); g++) {
    const json_t *gj = json_array_get(inner, g);
    const json_t *list = json_object_get(gj, "instructions");
    json_t *nl = json_array();
    for (size_t k = 0; k < json_array_size(list); k++)
      json_array_append_new(nl, jp_ix(json_array_get(list, k), all));
    json_array_append_new(groups, json_pack("{s:O, s:o}", "index", json_object_get(gj, "index"),
                                            "instructions", nl));
  }
  json_object_set_new(meta, "innerInstructions", groups);
  json_object_set_new(msg, "accountKeys", ak);
  json_object_set_new(msg, "instructions", ixs);
  json_object_del(msg, "header");
  json_decref(all);
  return copy;
}

/* Parses res in the three encodings (json, base64, jsonParsed) into tx[3].
 * Consumes res. */
static void parse3(json_t *res, txn_t *tx[3]) {
  json_t *forms[3] = {res, to_base64(res), to_jsonparsed(res)};
  const txn_encoding_t enc[3] = {TXN_ENC_JSON, TXN_ENC_BASE64, TXN_ENC_JSON_PARSED};
  for (int f = 0; f < 3; f++) {
    char err[256];
    tx[f] = NULL;
    int rc = txn_parse(forms[f], NULL, &tx[f], err, sizeof err);
    ck_assert_msg(rc == TXN_OK, "form %d: %s", f, err);
    ck_assert_int_eq(tx[f]->encoding, enc[f]);
  }
  for (int f = 0; f < 3; f++) json_decref(forms[f]);
}

/* tx's closed accounts for our program equal the NULL-terminated list. */
static void assert_closed(const txn_t *tx, ...) {
  const char *got[8];
  size_t n = txn_closed_accounts(tx, PROGRAM, got, 8);
  va_list ap;
  va_start(ap, tx);
  size_t i = 0;
  const char *k;
  while ((k = va_arg(ap, const char *)) != NULL) {
    ck_assert_msg(i < n, "encoding %d: %zu closed accounts, expected more", tx->encoding, n);
    ck_assert_str_eq(got[i], k);
    i++;
  }
  va_end(ap);
  ck_assert_msg(n == i, "encoding %d: %zu closed accounts, expected %zu", tx->encoding, n, i);
  /* count without storage */
  ck_assert_uint_eq(txn_closed_accounts(tx, PROGRAM, NULL, 0), n);
}

/* Balance of key k before (which 0) or after (1). */
static uint64_t balance_of(const txn_t *tx, const char *k, int which) {
  for (size_t i = 0; i < tx->n_keys; i++)
    if (strcmp(tx->keys[i], k) == 0) return which ? tx->post_balances[i] : tx->pre_balances[i];
  ck_abort_msg("key %s not in the transaction", k);
  return 0;
}

/* claim_winnings closes its position; around it: a writable account with
 * pre balance 0, a read-only account and an account not passed to our
 * program that all end at 0 lamports, and the user's balance going up. */
static void claim_closing_position(txb_t *t) {
  txb_init(t, 1, 0, 3, K(USER), K(POS), K(VAULT), K(TREAS), K(MARKET), SYSTEM, PROGRAM, NULL);
  txb_ix(t, PROGRAM, ix_plain(D_CLAIM_WINNINGS), K(MARKET), K(POS), K(VAULT), K(USER), SYSTEM,
         NULL);
  txb_inner(t, 0, 2, SYSTEM, sys_transfer(0), K(VAULT), K(USER), NULL);
  txb_ix(t, SYSTEM, sys_transfer(5000), K(TREAS), K(USER), NULL);
  txb_balance(t, K(USER), 1000000000, 1002012880);
  txb_balance(t, K(POS), 2012880, 0);   /* closed */
  txb_balance(t, K(VAULT), 0, 0);       /* pre 0: not a close */
  txb_balance(t, K(TREAS), 5000, 0);    /* not passed to our program */
  txb_balance(t, K(MARKET), 3000000, 0); /* read-only */
  log_invoke(t, PROGRAM, 1);
  log_invoke(t, SYSTEM, 2);
  log_success(t, SYSTEM);
  buf_t ev = ev_claimed(E_WINNINGS_CLAIMED, MARKET, POS, USER, 0, 1700000900);
  txb_log_data(t, &ev);
  log_success(t, PROGRAM);
  log_invoke(t, SYSTEM, 1);
  log_success(t, SYSTEM);
}

START_TEST(closed_accounts_every_encoding) {
  txb_t t;
  claim_closing_position(&t);
  txn_t *tx[3];
  parse3(txb_build(&t), tx);
  for (int f = 0; f < 3; f++) {
    ck_assert(tx[f]->has_balances);
    ck_assert_uint_eq(tx[f]->n_keys, 7);
    ck_assert_uint_eq(balance_of(tx[f], K(USER), 0), 1000000000u);
    ck_assert_uint_eq(balance_of(tx[f], K(USER), 1), 1002012880u);
    ck_assert_uint_eq(balance_of(tx[f], K(POS), 0), 2012880u);
    ck_assert_uint_eq(balance_of(tx[f], K(POS), 1), 0);
    ck_assert_uint_eq(balance_of(tx[f], PROGRAM, 1), 1000000000u);
    assert_closed(tx[f], K(POS), NULL);
    /* the program id filters: nothing of the system program's was closed
     * except the drained treasury (pre > 0, post 0, writable) */
    const char *got[2];
    ck_assert_uint_eq(txn_closed_accounts(tx[f], SYSTEM, got, 2), 1);
    ck_assert_str_eq(got[0], K(TREAS));
    txn_free(tx[f]);
  }
}
END_TEST

/* The same transaction failed: the close was rolled back. */
START_TEST(closed_accounts_failed_transaction) {
  txb_t t;
  claim_closing_position(&t);
  t.err = json_pack("{s:[i, {s:i}]}", "InstructionError", 1, "Custom", 1);
  txn_t *tx[3];
  parse3(txb_build(&t), tx);
  for (int f = 0; f < 3; f++) {
    ck_assert(tx[f]->failed);
    ck_assert(tx[f]->has_balances);
    assert_closed(tx[f], NULL);
    txn_free(tx[f]);
  }
}
END_TEST

/* v0: a router calls claim_refund (inner) with a position from an address
 * lookup table; a static position closed by a top-level claim too (passed
 * to two instructions: listed once); a loaded read-only account at 0 is
 * not a close. */
START_TEST(closed_accounts_v0_loaded) {
  txb_t t;
  txb_init(&t, 1, 0, 3, K(USER), K(POS), K(NOV), K(MARKET), SYSTEM, PROGRAM, K(ROUTER), NULL);
  t.version = 0;
  json_array_append_new(t.lw, json_string(K(POS2)));
  json_array_append_new(t.lr, json_string(K(MINT)));
  txb_ix(&t, PROGRAM, ix_plain(D_CLAIM_REFUND), K(MARKET), K(POS), K(NOV), K(USER), SYSTEM, NULL);
  buf_t route = {.n = 0};
  put_u8(&route, 7);
  txb_ix(&t, K(ROUTER), route, K(MARKET), K(POS2), K(NOV), K(USER), SYSTEM, PROGRAM, K(MINT),
         NULL);
  txb_inner(&t, 1, 2, PROGRAM, ix_plain(D_CLAIM_REFUND), K(MARKET), K(POS2), K(NOV), K(USER),
            SYSTEM, K(POS), K(MINT), NULL);
  txb_balance(&t, K(POS), 1500000, 0);
  txb_balance(&t, K(POS2), (json_int_t)INT64_MAX, 0);
  txb_balance(&t, K(MINT), 1461600, 0);
  log_invoke(&t, PROGRAM, 1);
  buf_t e1 = ev_claimed(E_REFUND_CLAIMED, MARKET, POS, USER, 10, 1700001000);
  txb_log_data(&t, &e1);
  log_success(&t, PROGRAM);
  log_invoke(&t, K(ROUTER), 1);
  log_invoke(&t, PROGRAM, 2);
  buf_t e2 = ev_claimed(E_REFUND_CLAIMED, MARKET, POS2, USER, 20, 1700001000);
  txb_log_data(&t, &e2);
  log_success(&t, PROGRAM);
  log_success(&t, K(ROUTER));
  txn_t *tx[3];
  parse3(txb_build(&t), tx);
  for (int f = 0; f < 3; f++) {
    ck_assert_uint_eq(tx[f]->n_keys, 9);
    ck_assert_str_eq(tx[f]->keys[7], K(POS2));
    ck_assert_uint_eq(tx[f]->pre_balances[7], (uint64_t)INT64_MAX);
    ck_assert_uint_eq(tx[f]->post_balances[7], 0);
    ck_assert_uint_eq(tx[f]->pre_balances[8], 1461600u);
    assert_closed(tx[f], K(POS), K(POS2), NULL);
    const char *one[1];
    ck_assert_uint_eq(txn_closed_accounts(tx[f], PROGRAM, one, 1), 2); /* total beyond cap */
    ck_assert_str_eq(one[0], K(POS));
    txn_free(tx[f]);
  }
}
END_TEST

/* Replaces every occurrence of from by to in a JSON text (new string). */
static char *replace_all(const char *text, const char *from, const char *to) {
  size_t nf = strlen(from), nt = strlen(to), cnt = 0;
  for (const char *p = strstr(text, from); p; p = strstr(p + nf, from)) cnt++;
  char *out = malloc(strlen(text) + cnt * nt + 1);
  char *o = out;
  const char *p = text, *q;
  while ((q = strstr(p, from)) != NULL) {
    memcpy(o, p, (size_t)(q - p));
    o += q - p;
    memcpy(o, to, nt);
    o += nt;
    p = q + nf;
  }
  strcpy(o, p);
  return out;
}

/* Balances above INT64_MAX arrive as bare JSON integers: through
 * jsonx_loads they are exact in every encoding. */
START_TEST(balances_above_int64_exact) {
  txb_t t;
  claim_closing_position(&t);
  txb_balance(&t, K(VAULT), 9000000000000000001, 9000000000000000002);
  json_t *res = txb_build(&t);
  json_t *forms[3] = {res, to_base64(res), to_jsonparsed(res)};
  for (int f = 0; f < 3; f++) {
    char *text = json_dumps(forms[f], JSON_COMPACT);
    char *a = replace_all(text, "9000000000000000001", "18446744073709551615");
    char *b = replace_all(a, "9000000000000000002", "18446744073709551614");
    ck_assert_ptr_nonnull(strstr(b, ",18446744073709551615,"));
    char err[256];
    json_t *doc = jsonx_loads(b, strlen(b), err, sizeof err);
    ck_assert_msg(doc != NULL, "%s", err);
    txn_t *tx = NULL;
    ck_assert_msg(txn_parse(doc, NULL, &tx, err, sizeof err) == TXN_OK, "form %d: %s", f, err);
    ck_assert_uint_eq(balance_of(tx, K(VAULT), 0), UINT64_MAX);
    ck_assert_uint_eq(balance_of(tx, K(VAULT), 1), UINT64_MAX - 1);
    assert_closed(tx, K(POS), NULL);
    txn_free(tx);
    json_decref(doc);
    free(text);
    free(a);
    free(b);
  }
  for (int f = 0; f < 3; f++) json_decref(forms[f]);
}
END_TEST

/* Balances that do not line up with the key list are a format error (a
 * dead letter upstream); absent balances are none. */
START_TEST(balances_malformed) {
  static const char *cases[] = {
      "short",     "long",       "negative",  "real",  "string", "overflow",
      "pre_only",  "post_object", "absent",
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    txb_t t;
    claim_closing_position(&t);
    json_t *res = txb_build(&t);
    json_t *forms[3] = {res, to_base64(res), to_jsonparsed(res)};
    for (int f = 0; f < 3; f++) {
      json_t *meta = json_object_get(forms[f], "meta");
      json_t *pre = json_object_get(meta, "preBalances");
      json_t *post = json_object_get(meta, "postBalances");
      const char *k = cases[c];
      if (strcmp(k, "short") == 0) json_array_remove(post, 6);
      if (strcmp(k, "long") == 0) json_array_append_new(pre, json_integer(1));
      if (strcmp(k, "negative") == 0) json_array_set_new(pre, 1, json_integer(-1));
      if (strcmp(k, "real") == 0) json_array_set_new(post, 0, json_real(1.5));
      if (strcmp(k, "string") == 0) json_array_set_new(pre, 2, json_string("12a"));
      if (strcmp(k, "overflow") == 0) json_array_set_new(pre, 2, json_string("18446744073709551616"));
      if (strcmp(k, "pre_only") == 0) json_object_del(meta, "postBalances");
      if (strcmp(k, "post_object") == 0) json_object_set_new(meta, "postBalances", json_object());
      if (strcmp(k, "absent") == 0) {
        json_object_del(meta, "preBalances");
        json_object_set_new(meta, "postBalances", json_null());
      }
      txn_t *tx = NULL;
      char err[256];
      int rc = txn_parse(forms[f], NULL, &tx, err, sizeof err);
      if (strcmp(k, "absent") == 0) {
        ck_assert_msg(rc == TXN_OK, "%s form %d: %s", k, f, err);
        ck_assert(!tx->has_balances);
        ck_assert_ptr_null(tx->pre_balances);
        ck_assert_uint_eq(txn_closed_accounts(tx, PROGRAM, NULL, 0), 0);
        txn_free(tx);
      } else {
        ck_assert_msg(rc == TXN_ERR_FORMAT, "%s form %d: rc %d", k, f, rc);
        ck_assert_ptr_null(tx);
        ck_assert_msg(strstr(err, "Balances") != NULL, "%s form %d: %s", k, f, err);
      }
      json_decref(forms[f]);
    }
  }
}
END_TEST

/* Real mainnet blocks and a transaction (fixtures/rpc-samples) in the three
 * encodings: the same keys and exactly the same balances, equal to the
 * response's own arrays. */
static json_t *load_sample(const char *name) {
  char path[256], err[256];
  size_t len;
  snprintf(path, sizeof path, "fixtures/rpc-samples/%s", name);
  char *text = tu_read_file(path, &len);
  json_t *doc = jsonx_loads(text, len, err, sizeof err);
  ck_assert_msg(doc != NULL, "%s: %s", path, err);
  free(text);
  json_t *res = json_incref(json_object_get(doc, "result"));
  json_decref(doc);
  ck_assert_ptr_nonnull(res);
  return res;
}

static void check_real_balances(const json_t *item[3], const txn_block_t *blk, size_t *n_closes) {
  txn_t *tx[3];
  for (int f = 0; f < 3; f++) {
    char err[256];
    ck_assert_msg(txn_parse(item[f], blk, &tx[f], err, sizeof err) == TXN_OK, "%s", err);
    ck_assert(tx[f]->has_balances);
  }
  const json_t *meta = json_object_get(item[0], "meta");
  const json_t *arr[2] = {json_object_get(meta, "preBalances"), json_object_get(meta, "postBalances")};
  for (int f = 0; f < 3; f++) {
    ck_assert_str_eq(tx[f]->signature, tx[0]->signature);
    ck_assert_uint_eq(tx[f]->n_keys, tx[0]->n_keys);
    ck_assert_uint_eq(json_array_size(arr[0]), tx[f]->n_keys);
    for (size_t k = 0; k < tx[f]->n_keys; k++) {
      uint64_t want_pre, want_post;
      ck_assert_int_eq(jsonx_u64(json_array_get(arr[0], k), &want_pre), 0);
      ck_assert_int_eq(jsonx_u64(json_array_get(arr[1], k), &want_post), 0);
      ck_assert_str_eq(tx[f]->keys[k], tx[0]->keys[k]);
      ck_assert_int_eq(tx[f]->key_writable[k], tx[0]->key_writable[k]);
      ck_assert_uint_eq(tx[f]->pre_balances[k], want_pre);
      ck_assert_uint_eq(tx[f]->post_balances[k], want_post);
    }
    for (size_t i = 0; i < tx[f]->n_ix; i++) {
      if (!tx[f]->ix[i].has_accounts) continue;
      size_t n = txn_closed_accounts(tx[f], tx[f]->ix[i].program_id, NULL, 0);
      if (f == 0) *n_closes += n;
    }
  }
  for (int f = 0; f < 3; f++) txn_free(tx[f]);
}

START_TEST(real_balances_agree_across_encodings) {
  static const char *block[3] = {"get_block_json_encoding.json", "get_block_base64_encoding.json",
                                 "get_block_json_parsed_encoding.json"};
  static const char *one[3] = {"get_transaction_json_encoding.json",
                               "get_transaction_base64_encoding.json",
                               "get_transaction_json_parsed_encoding.json"};
  json_t *b[3], *t[3];
  for (int f = 0; f < 3; f++) {
    b[f] = load_sample(block[f]);
    t[f] = load_sample(one[f]);
  }
  txn_block_t blk;
  ck_assert_int_eq(txn_block_from_json(b[0], 147078735, &blk), TXN_OK);
  size_t n = json_array_size(json_object_get(b[0], "transactions")), closes = 0;
  ck_assert_uint_eq(n, 25);
  for (size_t i = 0; i < n; i++) {
    const json_t *item[3];
    for (int f = 0; f < 3; f++) {
      ck_assert_uint_eq(json_array_size(json_object_get(b[f], "transactions")), n);
      item[f] = json_array_get(json_object_get(b[f], "transactions"), i);
    }
    check_real_balances(item, &blk, &closes);
  }
  const json_t *item[3] = {t[0], t[1], t[2]};
  check_real_balances(item, NULL, &closes);
  /* these samples close no account (counted independently from the raw
   * arrays: no writable key goes from > 0 to 0 lamports) */
  ck_assert_uint_eq(closes, 0);
  for (int f = 0; f < 3; f++) {
    json_decref(b[f]);
    json_decref(t[f]);
  }
}
END_TEST

/* Every way txn_parse refuses input is a negative txn code with a message
 * and a text from txn_strerror; *out stays NULL. */
START_TEST(errors_are_txn_codes) {
  txb_t t;
  claim_closing_position(&t);
  json_t *res = txb_build(&t);
  json_t *forms[3] = {res, to_base64(res), to_jsonparsed(res)};
  struct {
    int form; /* -1: every form */
    const char *what;
    int want;
  } cases[] = {
      {-1, "slot", TXN_ERR_FORMAT},          {-1, "blockTime", TXN_ERR_FORMAT},
      {-1, "version", TXN_ERR_FORMAT},       {-1, "meta", TXN_ERR_FORMAT},
      {-1, "fee", TXN_ERR_FORMAT},           {-1, "logs", TXN_ERR_FORMAT},
      {-1, "inner_index", TXN_ERR_INDEX},    {-1, "inner_shape", TXN_ERR_FORMAT},
      {-1, "transaction", TXN_ERR_FORMAT},   {0, "program_index", TXN_ERR_INDEX},
      {0, "signature", TXN_ERR_FORMAT},      {1, "payload", TXN_ERR_FORMAT},
      {1, "wire", TXN_ERR_WIRE},             {1, "encoding", TXN_ERR_FORMAT},
      {2, "program_id", TXN_ERR_INDEX},      {2, "account_key", TXN_ERR_FORMAT},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    for (int f = 0; f < 3; f++) {
      if (cases[c].form >= 0 && cases[c].form != f) continue;
      json_t *d = json_deep_copy(forms[f]);
      json_t *meta = json_object_get(d, "meta");
      json_t *txj = json_object_get(d, "transaction");
      json_t *msg = json_object_get(txj, "message");
      const char *w = cases[c].what;
      if (!strcmp(w, "slot")) json_object_set_new(d, "slot", json_string("x"));
      if (!strcmp(w, "blockTime")) json_object_set_new(d, "blockTime", json_real(1.5));
      if (!strcmp(w, "version")) json_object_set_new(d, "version", json_string("v9"));
      if (!strcmp(w, "meta")) json_object_set_new(d, "meta", json_string("x"));
      if (!strcmp(w, "fee")) json_object_set_new(meta, "fee", json_integer(-1));
      if (!strcmp(w, "logs")) json_object_set_new(meta, "logMessages", json_pack("[i]", 1));
      if (!strcmp(w, "inner_index"))
        json_object_set_new(json_array_get(json_object_get(meta, "innerInstructions"), 0), "index",
                            json_integer(99));
      if (!strcmp(w, "inner_shape"))
        json_array_append_new(json_object_get(meta, "innerInstructions"), json_integer(3));
      if (!strcmp(w, "transaction")) json_object_set_new(d, "transaction", json_integer(1));
      if (!strcmp(w, "program_index"))
        json_object_set_new(json_array_get(json_object_get(msg, "instructions"), 0),
                            "programIdIndex", json_integer(99));
      if (!strcmp(w, "signature"))
        json_array_set_new(json_object_get(txj, "signatures"), 0, json_string("0OIl"));
      if (!strcmp(w, "payload")) json_array_set_new(txj, 0, json_string("!!!"));
      if (!strcmp(w, "wire")) json_array_set_new(txj, 0, json_string("AQID"));
      if (!strcmp(w, "encoding")) json_array_set_new(txj, 1, json_string("base32"));
      if (!strcmp(w, "program_id"))
        json_object_set_new(json_array_get(json_object_get(msg, "instructions"), 0), "programId",
                            json_string(K(EVIL)));
      if (!strcmp(w, "account_key"))
        json_object_set_new(json_array_get(json_object_get(msg, "accountKeys"), 0), "pubkey",
                            json_string("not-a-key"));
      txn_t *tx = (txn_t *)&t; /* must be reset to NULL */
      char err[256];
      int rc = txn_parse(d, NULL, &tx, err, sizeof err);
      ck_assert_msg(rc == cases[c].want, "%s form %d: rc %d (%s)", w, f, rc, err);
      ck_assert_ptr_null(tx);
      ck_assert_msg(err[0] != '\0', "%s form %d: no message", w, f);
      ck_assert_str_ne(txn_strerror(rc), "unknown error");
      json_decref(d);
    }
  }
  for (int f = 0; f < 3; f++) json_decref(forms[f]);
  txn_t *tx = (txn_t *)&t;
  char err[64];
  json_t *arr = json_array();
  ck_assert_int_eq(txn_parse(arr, NULL, &tx, err, sizeof err), TXN_ERR_FORMAT);
  ck_assert_ptr_null(tx);
  json_decref(arr);
  txn_block_t blk;
  json_t *bad = json_pack("{s:s}", "blockTime", "soon");
  ck_assert_int_eq(txn_block_from_json(bad, 1, &blk), TXN_ERR_FORMAT);
  json_decref(bad);
}
END_TEST

/* The one parser of the runtime's invocation lines. */
START_TEST(invocation_line_parser) {
  log_events_line_t l;
  char line[160];
  snprintf(line, sizeof line, "Program %s invoke [2]", PROGRAM);
  ck_assert_int_eq(log_events_parse_line(line, &l), LOG_EVENTS_LINE_INVOKE);
  ck_assert_uint_eq(l.id_len, strlen(PROGRAM));
  ck_assert(memcmp(l.id, PROGRAM, l.id_len) == 0);
  ck_assert(l.has_depth);
  ck_assert_uint_eq(l.depth, 2);
  snprintf(line, sizeof line, "Program %s invoke [x]", PROGRAM);
  ck_assert_int_eq(log_events_parse_line(line, &l), LOG_EVENTS_LINE_INVOKE);
  ck_assert(!l.has_depth);
  ck_assert_uint_eq(l.depth, 0);
  snprintf(line, sizeof line, "Program %s invoke [1234567]", PROGRAM);
  ck_assert_int_eq(log_events_parse_line(line, &l), LOG_EVENTS_LINE_INVOKE);
  ck_assert(!l.has_depth);
  snprintf(line, sizeof line, "Program %s success", SYSTEM);
  ck_assert_int_eq(log_events_parse_line(line, &l), LOG_EVENTS_LINE_SUCCESS);
  ck_assert_uint_eq(l.id_len, strlen(SYSTEM));
  snprintf(line, sizeof line, "Program %s failed: custom program error: 0x1", PROGRAM);
  ck_assert_int_eq(log_events_parse_line(line, &l), LOG_EVENTS_LINE_FAILED);
  snprintf(line, sizeof line, "Program %s successful", PROGRAM);
  ck_assert_int_eq(log_events_parse_line(line, &l), LOG_EVENTS_LINE_OTHER);
  snprintf(line, sizeof line, "Program %s consumed 10 of 200000 compute units", PROGRAM);
  ck_assert_int_eq(log_events_parse_line(line, &l), LOG_EVENTS_LINE_OTHER);
  ck_assert_ptr_null(l.id);
  static const char *others[] = {
      "Program log: Program kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe invoke [1]",
      "Program data: kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe invoke [1]",
      "Program 0OIlkneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNN invoke [1]", /* not base58 */
      "Program short invoke [1]",
      "Program kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe",
      "program kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe invoke [1]",
      "",
  };
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
    ck_assert_msg(log_events_parse_line(others[i], &l) == LOG_EVENTS_LINE_OTHER, "%s", others[i]);
  ck_assert_int_eq(log_events_parse_line(NULL, &l), LOG_EVENTS_LINE_OTHER);

  /* log_events_scan counts with it: the "invoke" text inside a Program
   * log line is not an invocation, so the event belongs to invocation 1 */
  const char *lines[] = {
      "Program ComputeBudget111111111111111111111111111111 invoke [1]",
      "Program ComputeBudget111111111111111111111111111111 success",
      "Program log: Program kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe invoke [1]",
      "Program kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe invoke [1]",
      "Program 11111111111111111111111111111111 invoke [2]",
      "Program 11111111111111111111111111111111 success",
      "Program data: AQID",
      "Program kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe success",
  };
  log_events_t ev;
  ck_assert_int_eq(log_events_scan(lines, 8, PROGRAM, &ev), 0);
  ck_assert_uint_eq(ev.count, 1);
  ck_assert_uint_eq(ev.items[0].invocation, 1);
  ck_assert_uint_eq(ev.items[0].depth, 1);
  log_events_free(&ev);
}
END_TEST

static void setup(void) {
  char err[256];
  ck_assert_msg(cb_decoder_default_idl(&g_idl, err, sizeof err) == 0, "idl: %s", err);
  ck_assert_int_eq(cb_decoder_new(g_idl, &g_dec, NULL), 0);
}

static void teardown(void) {
  cb_decoder_free(g_dec);
  g_dec = NULL;
  idl_free(g_idl);
  g_idl = NULL;
}

static Suite *suite(void) {
  Suite *s = suite_create("txn");
  TCase *tc = tcase_create("extract");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, emit_cpi_tag_matches_anchor);
  tcase_add_test(tc, place_bet_top_level);
  tcase_add_test(tc, two_instructions);
  tcase_add_test(tc, cpi_inner_place_bet);
  tcase_add_test(tc, emit_cpi_with_truncated_log);
  tcase_add_test(tc, claim_refund_from_log);
  tcase_add_test(tc, failed_transaction);
  tcase_add_test(tc, failed_transaction_ignores_events);
  tcase_add_test(tc, long_error_truncated_on_utf8_boundary);
  tcase_add_test(tc, spoofed_program_data_ignored);
  tcase_add_test(tc, v0_loaded_market);
  tcase_add_test(tc, resolve_and_cancel);
  tcase_add_test(tc, undecodable_instruction_and_event);
  tcase_add_test(tc, precompile_before_instruction);
  tcase_add_test(tc, foreign_and_invoke_map);
  tcase_add_test(tc, chain_fixture_rows);
  tcase_add_test(tc, closed_accounts_every_encoding);
  tcase_add_test(tc, closed_accounts_failed_transaction);
  tcase_add_test(tc, closed_accounts_v0_loaded);
  tcase_add_test(tc, balances_above_int64_exact);
  tcase_add_test(tc, balances_malformed);
  tcase_add_test(tc, real_balances_agree_across_encodings);
  tcase_add_test(tc, errors_are_txn_codes);
  tcase_add_test(tc, invocation_line_parser);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(suite()); }
