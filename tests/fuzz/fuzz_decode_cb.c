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

static const char *const V_STATE[] = {"Active", "Resolved", "Cancelled", "Paused", NULL};
static const char *const V_MTYPE[] = {"Degen", "Stable", NULL};
static const char *const V_TTYPE[] = {"YesPool", "NoPool", "Platform", NULL};
static const char *const V_SIDE[] = {"Yes", "No", NULL};

#define C(rec, nm, k, m) {nm, k, offsetof(rec, m), 0, NULL}
#define CE(rec, nm, m, v) {nm, K_ENUM, offsetof(rec, m), 0, v}
#define CO(rec, nm, k, m, has) {nm, k, offsetof(rec, m), offsetof(rec, has), NULL}
#define CEND {NULL, 0, 0, 0, NULL}

static const fchk_t CHK_CONFIG[] = {
    C(cb_global_config_t, "authority", K_PK, authority),
    C(cb_global_config_t, "platform_fee_bps", K_U16, platform_fee_bps),
    C(cb_global_config_t, "min_market_duration", K_I64, min_market_duration),
    C(cb_global_config_t, "max_market_duration", K_I64, max_market_duration),
    C(cb_global_config_t, "min_bet_amount", K_U64, min_bet_amount),
    C(cb_global_config_t, "max_bet_amount", K_U64, max_bet_amount),
    C(cb_global_config_t, "platform_treasury", K_PK, platform_treasury),
    C(cb_global_config_t, "is_paused", K_BOOL, is_paused),
    C(cb_global_config_t, "total_markets_created", K_U64, total_markets_created),
    C(cb_global_config_t, "total_volume", K_U64, total_volume),
    C(cb_global_config_t, "version", K_U8, version),
    C(cb_global_config_t, "bump", K_U8, bump),
    CEND};

static const fchk_t CHK_MARKET[] = {
    C(cb_market_t, "authority", K_PK, authority),
    C(cb_market_t, "market_id", K_U64, market_id),
    C(cb_market_t, "title", K_STR, title),
    C(cb_market_t, "description", K_STR, description),
    C(cb_market_t, "category", K_STR, category),
    C(cb_market_t, "created_at", K_I64, created_at),
    C(cb_market_t, "resolution_time", K_I64, resolution_time),
    CE(cb_market_t, "state", state, V_STATE),
    CE(cb_market_t, "market_type", market_type, V_MTYPE),
    C(cb_market_t, "accepted_mint", K_PK, accepted_mint),
    C(cb_market_t, "yes_vault", K_PK, yes_vault),
    C(cb_market_t, "no_vault", K_PK, no_vault),
    C(cb_market_t, "yes_pool", K_U64, yes_pool),
    C(cb_market_t, "no_pool", K_U64, no_pool),
    C(cb_market_t, "total_volume", K_U64, total_volume),
    C(cb_market_t, "total_participants", K_U32, total_participants),
    CO(cb_market_t, "resolution_result", K_OPTBOOL, resolution_result, has_resolution_result),
    C(cb_market_t, "resolver", K_PK, resolver),
    CO(cb_market_t, "oracle_source", K_OPTPK, oracle_source, has_oracle_source),
    C(cb_market_t, "metadata_uri", K_STR, metadata_uri),
    C(cb_market_t, "creation_fee", K_U64, creation_fee),
    C(cb_market_t, "bump", K_U8, bump),
    CEND};

static const fchk_t CHK_POSITION[] = {
    C(cb_position_t, "user", K_PK, user),
    C(cb_position_t, "market", K_PK, market),
    C(cb_position_t, "yes_shares", K_U64, yes_shares),
    C(cb_position_t, "no_shares", K_U64, no_shares),
    C(cb_position_t, "total_invested", K_U64, total_invested),
    C(cb_position_t, "yes_avg_price", K_U64, yes_avg_price),
    C(cb_position_t, "no_avg_price", K_U64, no_avg_price),
    C(cb_position_t, "created_at", K_I64, created_at),
    C(cb_position_t, "updated_at", K_I64, updated_at),
    C(cb_position_t, "claimed", K_BOOL, claimed),
    C(cb_position_t, "claimed_amount", K_U64, claimed_amount),
    C(cb_position_t, "bet_count", K_U32, bet_count),
    C(cb_position_t, "bump", K_U8, bump),
    CEND};

static const fchk_t CHK_TREASURY[] = {
    C(cb_treasury_t, "market", K_PK, market),
    C(cb_treasury_t, "mint", K_PK, mint),
    C(cb_treasury_t, "authority", K_PK, authority),
    C(cb_treasury_t, "total_deposits", K_U64, total_deposits),
    C(cb_treasury_t, "total_withdrawals", K_U64, total_withdrawals),
    C(cb_treasury_t, "current_balance", K_U64, current_balance),
    CE(cb_treasury_t, "treasury_type", treasury_type, V_TTYPE),
    C(cb_treasury_t, "bump", K_U8, bump),
    CEND};

static const fchk_t CHK_ORACLE[] = {
    C(cb_oracle_data_t, "authority", K_PK, authority),
    C(cb_oracle_data_t, "market", K_PK, market),
    C(cb_oracle_data_t, "source", K_STR, source),
    C(cb_oracle_data_t, "value", K_STR, value),
    C(cb_oracle_data_t, "timestamp", K_I64, timestamp),
    C(cb_oracle_data_t, "confidence", K_U8, confidence),
    C(cb_oracle_data_t, "signature", K_B64, signature),
    C(cb_oracle_data_t, "bump", K_U8, bump),
    CEND};

static const struct {
  const char *name;
  const fchk_t *chk;
} ACCOUNTS[6] = {{NULL, NULL},
                 {"GlobalConfig", CHK_CONFIG},
                 {"Market", CHK_MARKET},
                 {"Position", CHK_POSITION},
                 {"Treasury", CHK_TREASURY},
                 {"OracleData", CHK_ORACLE}};

#define EM C(cb_event_t, "market", K_PK, market)
#define EP C(cb_event_t, "position", K_PK, position)
#define ET C(cb_event_t, "timestamp", K_I64, timestamp)
static const fchk_t CHK_EV_CREATED[] = {EM,
                                        C(cb_event_t, "market_id", K_U64, market_id),
                                        C(cb_event_t, "authority", K_PK, user),
                                        CE(cb_event_t, "market_type", market_type, V_MTYPE),
                                        C(cb_event_t, "creation_fee", K_U64, creation_fee),
                                        ET,
                                        CEND};
static const fchk_t CHK_EV_BET[] = {EM,
                                    EP,
                                    C(cb_event_t, "user", K_PK, user),
                                    CE(cb_event_t, "side", side, V_SIDE),
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
  int rj = decode_account_json(g_idl, data, size, false, &j, &ej);
  int rt = cb_decode_account(g_idl, data, size, &acc, &et);
  check_same_error(rj, &ej, rt, &et, size);
  if ((rj == 0) != (j != NULL)) fail();
  /* allow_trailing accepts a superset, with the same value */
  int rj2 = decode_account_json(g_idl, data, size, true, &j2, &ej2);
  if (rj == 0 && (rj2 != 0 || !json_equal(j, j2))) fail();
  if (rj2 == 0 && rj != 0 && rj != DECODE_ERR_TRAILING) fail();
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
  int rt = cb_decode_event(g_idl, data, size, &ev, &et);
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
  int rt = cb_decode_instruction(g_idl, data, size, keys, n_keys, &ix, &et);
  check_same_error(rj, &ej, rt, &et, size);
  if (rj == 0) {
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *want = cb_tx_type_name(ix.type);
    const json_t *val = json_object_get(j, "value");
    if (!type || !want || strcmp(type, want) != 0) fail();
    if (ix.type == CB_TX_PLACE_BET) {
      const json_t *side = json_object_get(val, "side");
      if (!json_is_string(side) || (int)ix.side < 0 || ix.side > CB_SIDE_NO ||
          strcmp(json_string_value(side), V_SIDE[ix.side]) != 0)
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
    char err[256];
    decode_error_t de;
    if (idl_load_default(&idl, err, sizeof err) != 0 || cb_decoder_check_idl(idl, &de) != 0)
      fail();
    g_idl = idl;
  }
  fuzz_account(data, size);
  fuzz_event(data, size);
  fuzz_instruction(data, size);
  return 0;
}
