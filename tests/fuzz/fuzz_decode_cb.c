/* Crypto Bet decoding with the embedded IDL: the generic JSON decoder and
 * the typed decoder agree on every input, for accounts, events and
 * instructions: same success / failure, same error code and offset, and on
 * success every field of the typed record equals the JSON value.
 *
 * Input: raw bytes (discriminator + Borsh body), as in account data,
 * "Program data:" payloads and instruction data. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "cb_decoder.h"
#include "decoder.h"
#include "idl.h"
#include "jsonx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { K_PK, K_U64, K_I64, K_U32, K_U16, K_U8, K_BOOL, K_STR, K_ENUM, K_OPTBOOL, K_OPTPK, K_B64 };

typedef struct {
  const char *name;
  int kind;
  size_t off, off2;
  const char *const *variants; /* K_ENUM, NULL-terminated; value = index */
} fchk_t;

/* IDL variant names of the enums, NULL-terminated; value = index. */
#define VNAME_(c, idl, label) #idl,
static const char *const V_market_state[] = {CB_MARKET_STATE_VARIANTS(VNAME_) NULL};
static const char *const V_market_type[] = {CB_MARKET_TYPE_VARIANTS(VNAME_) NULL};
static const char *const V_treasury_type[] = {CB_TREASURY_TYPE_VARIANTS(VNAME_) NULL};
static const char *const V_side[] = {CB_SIDE_VARIANTS(VNAME_) NULL};
#undef VNAME_

#define C(rec, nm, k, m) {nm, k, offsetof(rec, m), 0, NULL}
#define CE(rec, nm, m, v) {nm, K_ENUM, offsetof(rec, m), 0, v}
#define CO(rec, nm, k, m, has) {nm, k, offsetof(rec, m), offsetof(rec, has), NULL}
#define CEND {NULL, 0, 0, 0, NULL}

/* The account records: every field of the cb_types.h lists, checked
 * against the JSON value of the IDL field of the same name. */
#define CHK_PUBKEY(rec, m, aux) C(rec, #m, K_PK, m)
#define CHK_U8(rec, m, aux) C(rec, #m, K_U8, m)
#define CHK_U16(rec, m, aux) C(rec, #m, K_U16, m)
#define CHK_U32(rec, m, aux) C(rec, #m, K_U32, m)
#define CHK_U64(rec, m, aux) C(rec, #m, K_U64, m)
#define CHK_I64(rec, m, aux) C(rec, #m, K_I64, m)
#define CHK_BOOL(rec, m, aux) C(rec, #m, K_BOOL, m)
#define CHK_STR(rec, m, aux) C(rec, #m, K_STR, m)
#define CHK_ENUM(rec, m, aux) CE(rec, #m, m, V_##aux)
#define CHK_OPT_BOOL(rec, m, aux) CO(rec, #m, K_OPTBOOL, m, has_##m)
#define CHK_OPT_PUBKEY(rec, m, aux) CO(rec, #m, K_OPTPK, m, has_##m)
#define CHK_BYTES64(rec, m, aux) C(rec, #m, K_B64, m)
#define CHK_FIELD_(rec, m, kind, aux) CHK_##kind(rec, m, aux),

#define ACCOUNT_CHK_(kind, name, member, type, FIELDS) \
  static const fchk_t CHK_ACC_##member[] = {FIELDS(CHK_FIELD_, type) CEND};
CB_ACCOUNT_RECORDS(ACCOUNT_CHK_)
#undef ACCOUNT_CHK_

#define ACCOUNT_ENTRY_(kind, name, member, type, FIELDS) [kind] = {#name, CHK_ACC_##member},
static const struct {
  const char *name;
  const fchk_t *chk;
} ACCOUNTS[CB_ACCOUNT__COUNT] = {CB_ACCOUNT_RECORDS(ACCOUNT_ENTRY_)};
#undef ACCOUNT_ENTRY_

#define EM C(cb_event_t, "market", K_PK, market)
#define EP C(cb_event_t, "position", K_PK, position)
#define ET C(cb_event_t, "timestamp", K_I64, timestamp)
static const fchk_t CHK_EV_CREATED[] = {EM,
                                        C(cb_event_t, "market_id", K_U64, market_id),
                                        C(cb_event_t, "authority", K_PK, user),
                                        CE(cb_event_t, "market_type", market_type, V_market_type),
                                        C(cb_event_t, "creation_fee", K_U64, creation_fee),
                                        ET,
                                        CEND};
static const fchk_t CHK_EV_BET[] = {EM,
                                    EP,
                                    C(cb_event_t, "user", K_PK, user),
                                    CE(cb_event_t, "side", side, V_side),
                                    C(cb_event_t, "amount", K_U64, amount),
                                    C(cb_event_t, "platform_fee", K_U64, platform_fee),
                                    C(cb_event_t, "price", K_U64, price),
                                    C(cb_event_t, "yes_pool", K_U64, yes_pool),
                                    C(cb_event_t, "no_pool", K_U64, no_pool),
                                    ET,
                                    CEND};
static const fchk_t CHK_EV_CLAIM[] = {EM, EP, C(cb_event_t, "user", K_PK, user),
                                      C(cb_event_t, "amount", K_U64, amount), ET, CEND};
static const fchk_t CHK_EV_RESOLVED[] = {EM, C(cb_event_t, "resolver", K_PK, user),
                                         C(cb_event_t, "result", K_BOOL, result), ET, CEND};
static const fchk_t CHK_EV_CANCELLED[] = {EM, C(cb_event_t, "authority", K_PK, user), ET, CEND};
static const struct {
  const char *name;
  const fchk_t *chk;
} EVENTS[6] = {{"MarketCreated", CHK_EV_CREATED},   {"BetPlaced", CHK_EV_BET},
               {"WinningsClaimed", CHK_EV_CLAIM},   {"RefundClaimed", CHK_EV_CLAIM},
               {"MarketResolved", CHK_EV_RESOLVED}, {"MarketCancelled", CHK_EV_CANCELLED}};

static const idl_t *g_idl;
static const cb_decoder_t *g_dec, *g_strict;

static void fail(void) { abort(); }

static uint64_t json_u64_or_die(const json_t *v) {
  uint64_t u;
  if (jsonx_u64(v, &u) != 0) fail();
  return u;
}

static void check_pubkey(const json_t *v, const cb_pubkey_t *pk) {
  char b58[BASE58_ENCODED_32_SZ];
  uint8_t back[32];
  if (!json_is_string(v) || strcmp(json_string_value(v), pk->b58) != 0) fail();
  base58_encode_32(pk->bytes, b58);
  if (strcmp(b58, pk->b58) != 0) fail();
  if (base58_decode_32(pk->b58, back) != 0 || memcmp(back, pk->bytes, 32) != 0) fail();
}

/* Compares the JSON object val with the record at rec field by field. */
static void check_record(const json_t *val, const uint8_t *rec, const fchk_t *chk) {
  if (!json_is_object(val)) fail();
  for (const fchk_t *f = chk; f->name; f++) {
    const json_t *v = json_object_get(val, f->name);
    const uint8_t *p = rec + f->off;
    if (!v) fail();
    switch (f->kind) {
      case K_PK: check_pubkey(v, (const cb_pubkey_t *)p); break;
      case K_U64: {
        uint64_t x;
        memcpy(&x, p, 8);
        if (json_u64_or_die(v) != x) fail();
        break;
      }
      case K_I64: {
        int64_t x, j;
        memcpy(&x, p, 8);
        if (jsonx_i64(v, &j) != 0 || j != x) fail();
        break;
      }
      case K_U32: {
        uint32_t x;
        memcpy(&x, p, 4);
        if (json_u64_or_die(v) != x) fail();
        break;
      }
      case K_U16: {
        uint16_t x;
        memcpy(&x, p, 2);
        if (json_u64_or_die(v) != x) fail();
        break;
      }
      case K_U8:
        if (json_u64_or_die(v) != *p) fail();
        break;
      case K_BOOL: {
        bool b;
        memcpy(&b, p, sizeof b);
        if (!json_is_boolean(v) || json_is_true(v) != b) fail();
        break;
      }
      case K_STR: {
        cb_str_t s;
        memcpy(&s, p, sizeof s);
        if (!json_is_string(v) || json_string_length(v) != s.len ||
            (s.len && memcmp(json_string_value(v), s.ptr, s.len) != 0))
          fail();
        break;
      }
      case K_ENUM: {
        int x;
        memcpy(&x, p, sizeof x);
        if (!json_is_string(v) || x < 0) fail();
        for (int i = 0; i <= x; i++)
          if (!f->variants[i]) fail();
        if (strcmp(json_string_value(v), f->variants[x]) != 0) fail();
        break;
      }
      case K_OPTBOOL: {
        bool has, b;
        memcpy(&has, rec + f->off2, sizeof has);
        memcpy(&b, p, sizeof b);
        if (has ? !json_is_boolean(v) || json_is_true(v) != b : !json_is_null(v)) fail();
        break;
      }
      case K_OPTPK: {
        bool has;
        memcpy(&has, rec + f->off2, sizeof has);
        if (has) check_pubkey(v, (const cb_pubkey_t *)p);
        else if (!json_is_null(v)) fail();
        break;
      }
      case K_B64: {
        if (!json_is_array(v) || json_array_size(v) != 64) fail();
        for (size_t i = 0; i < 64; i++)
          if (json_u64_or_die(json_array_get(v, i)) != p[i]) fail();
        break;
      }
      default: fail();
    }
  }
}

/* Same outcome and code; the same offset except for truncation, where the
 * generic walker names the element that ran out and the typed decoder the
 * field that did (both inside the data). */
static void check_same_error(int rj, const decode_error_t *ej, int rt, const decode_error_t *et,
                             size_t size) {
  if (rj != rt) fail();
  if (rj == 0) return;
  if (ej->code != rj || et->code != rt || ej->offset > size || et->offset > size) fail();
  if (rj != DECODE_ERR_TRUNCATED && ej->offset != et->offset) fail();
}

static void fuzz_account(const uint8_t *data, size_t size) {
  json_t *j = NULL, *j2 = NULL;
  decode_error_t ej, et, ej2;
  cb_account_t acc;
  memset(&acc, 0, sizeof acc);
  /* strict: both refuse non-zero bytes after the layout */
  int rj = decode_account_json(g_idl, data, size, true, &j, &ej);
  int rt = cb_decode_account(g_strict, data, size, &acc, &et);
  check_same_error(rj, &ej, rt, &et, size);
  if ((rj == 0) != (j != NULL)) fail();
  if (rt == 0 && (acc.spare_bytes != 0 || acc.spare_first)) fail();
  /* the default accepts a superset, with the same value */
  int rj2 = decode_account_json(g_idl, data, size, false, &j2, &ej2);
  if (rj == 0 && (rj2 != 0 || !json_equal(j, j2))) fail();
  if (rj2 == 0 && rj != 0 && rj != DECODE_ERR_TRAILING) fail();
  cb_account_t acc2;
  decode_error_t et2;
  int rt2 = cb_decode_account(g_dec, data, size, &acc2, &et2);
  check_same_error(rj2, &ej2, rt2, &et2, size);
  if (rt2 == 0 && (rt == 0) != (acc2.spare_bytes == 0)) fail();
  if (rt2 == 0 && acc2.kind != acc.kind && rt == 0) fail();
  if (rj == 0) {
    if (acc.kind < CB_ACCOUNT_GLOBAL_CONFIG || acc.kind > CB_ACCOUNT_ORACLE_DATA) fail();
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type || strcmp(type, ACCOUNTS[acc.kind].name) != 0) fail();
    check_record(json_object_get(j, "value"), (const uint8_t *)&acc.u, ACCOUNTS[acc.kind].chk);
  }
  json_decref(j);
  json_decref(j2);
}

static void fuzz_event(const uint8_t *data, size_t size) {
  json_t *j = NULL;
  decode_error_t ej, et;
  cb_event_t ev;
  int rj = decode_event_json(g_idl, data, size, &j, &ej);
  int rt = cb_decode_event(g_dec, data, size, &ev, &et);
  check_same_error(rj, &ej, rt, &et, size);
  if (rj == 0) {
    if ((unsigned)ev.kind > CB_EVENT_MARKET_CANCELLED) fail();
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type || strcmp(type, EVENTS[ev.kind].name) != 0) fail();
    check_record(json_object_get(j, "value"), (const uint8_t *)&ev, EVENTS[ev.kind].chk);
  }
  json_decref(j);
}

static void fuzz_instruction(const uint8_t *data, size_t size) {
  static const char *const keys[] = {
      "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe", "11111111111111111111111111111111",
      "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", "SysvarC1ock11111111111111111111111111111111",
      "Vote111111111111111111111111111111111111111", "JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFG",
      "3tUH9FwxPJJVvvTXuQDUkAMojGKeGQS38PnGt2yxMjhV", "4XpRyECR2mUv6FDu7nT8yeg6jECsLstQHqY1nJCJs7iv",
      "111118qfKFDmPNA1uDdWpLJyhogk4u4W7taoE15Pd",   "SysvarRent111111111111111111111111111111111"};
  size_t n_keys = size % 11;
  json_t *j = NULL;
  decode_error_t ej, et;
  cb_instruction_t ix;
  int rj = decode_instruction_json(g_idl, data, size, keys, n_keys, &j, &ej);
  int rt = cb_decode_instruction(g_dec, data, size, keys, n_keys, &ix, &et);
  check_same_error(rj, &ej, rt, &et, size);
  if (rj == 0) {
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *want = cb_tx_type_name(ix.type);
    const json_t *val = json_object_get(j, "value");
    if (!type || !want || strcmp(type, want) != 0) fail();
    if (ix.type == CB_TX_PLACE_BET) {
      const json_t *side = json_object_get(val, "side");
      if (!json_is_string(side) || (int)ix.side < 0 || ix.side > CB_SIDE_NO ||
          strcmp(json_string_value(side), V_side[ix.side]) != 0)
        fail();
      if (json_u64_or_die(json_object_get(val, "amount")) != ix.amount) fail();
    } else if (ix.side != CB_SIDE_NONE || ix.amount != 0) {
      fail();
    }
    if (ix.type == CB_TX_CREATE_MARKET &&
        json_u64_or_die(json_object_get(val, "market_id")) != ix.market_id)
      fail();
    if (ix.type == CB_TX_RESOLVE_MARKET) {
      const json_t *r = json_object_get(val, "result");
      if (!ix.has_result || !json_is_boolean(r) || json_is_true(r) != ix.result) fail();
    }
    /* role accounts come from the key list, by IDL position */
    const json_t *accts = json_object_get(j, "accounts");
    const char *roles[] = {ix.market, ix.position, ix.oracle_data, ix.global_config};
    const char *names[] = {"market", "position", "oracle_data", "global_config"};
    for (size_t r = 0; r < 4; r++) {
      const json_t *a = json_object_get(accts, names[r]);
      if (roles[r][0] && (!json_is_string(a) || strcmp(json_string_value(a), roles[r]) != 0))
        fail();
    }
  }
  json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_idl) {
    idl_t *idl = NULL;
    cb_decoder_t *dec = NULL, *strict = NULL;
    char err[256];
    decode_error_t de;
    cb_decoder_options_t so = {.strict = true};
    if (cb_decoder_default_idl(&idl, err, sizeof err) != 0 || cb_decoder_new(idl, &dec, &de) != 0 ||
        cb_decoder_new_opts(idl, &so, &strict, &de) != 0)
      fail();
    g_idl = idl;
    g_dec = dec;
    g_strict = strict;
  }
  fuzz_account(data, size);
  fuzz_event(data, size);
  fuzz_instruction(data, size);
  return 0;
}
