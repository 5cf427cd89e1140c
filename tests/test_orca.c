/* Real mainnet data: every real account under fixtures/ (eight Orca
 * Whirlpool accounts, three Meteora DLMM accounts) decodes, through its
 * program's legacy IDL and with default options, to exactly the values the
 * upstream project's tests assert (*.expected.json). Accounts carrying
 * non-zero bytes after their layout (Meteora's Oracle: observations
 * appended after the three header fields) decode from the start, as
 * Anchor's coder does; strict decoding refuses exactly those. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
#include "decoder.h"
#include "idl.h"
#include "jsonx.h"
#include "testutil.h"

#define DIR "fixtures/orca-whirlpool/"
#define ORCA_IDL DIR "whirlpool.idl.json"
#define METEORA "fixtures/meteora-dlmm/"
#define METEORA_IDL METEORA "meteora_dlmm.idl.json"

static const struct {
  const char *idl, *dir, *name;
  int spare; /* non-zero bytes after the layout */
} CASES[] = {
    {ORCA_IDL, DIR, "fee_tier_account.json", 0},
    {ORCA_IDL, DIR, "position_account.json", 0},
    {ORCA_IDL, DIR, "position_bundle_account.json", 0},
    {ORCA_IDL, DIR, "tick_array_account.json", 0},
    {ORCA_IDL, DIR, "token_badge_account.json", 0},
    {ORCA_IDL, DIR, "whirlpool_account.json", 0},
    {ORCA_IDL, DIR, "whirlpools_config_account.json", 0},
    {ORCA_IDL, DIR, "whirlpools_config_extension_account.json", 0},
    {METEORA_IDL, METEORA, "oracle_account.json", 1},
    {METEORA_IDL, METEORA, "preset_parameter_account.json", 0},
    {METEORA_IDL, METEORA, "position_account.json", 0},
};

static json_t *load_json(const char *path) {
  size_t len;
  char *text = tu_read_file(path, &len);
  char err[256];
  /* jsonx: integers beyond int64 (u128 values, rent_epoch) become digit
   * strings instead of failing or losing precision. */
  json_t *j = jsonx_loads(text, len, err, sizeof err);
  ck_assert_msg(j != NULL, "%s: %s", path, err);
  free(text);
  return j;
}

/* Integer text of a JSON integer or digit string, for exact comparison. */
static int int_text(const json_t *v, char *buf, size_t bufsz) {
  if (json_is_integer(v)) {
    snprintf(buf, bufsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return 1;
  }
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    size_t i = (s[0] == '-') ? 1 : 0;
    if (!s[i]) return 0;
    for (; s[i]; i++)
      if (s[i] < '0' || s[i] > '9') return 0;
    snprintf(buf, bufsz, "%s", s);
    return 1;
  }
  return 0;
}

/* Expected vs decoded: same structure; numbers equal as exact integers
 * whether written as JSON integers or decimal strings. On mismatch writes
 * the path into where and returns 0. */
static int json_same(const json_t *exp, const json_t *got, char *where, size_t wsz) {
  char a[64], b[64];
  if (int_text(exp, a, sizeof a) && (json_is_integer(exp) || json_is_integer(got))) {
    if (int_text(got, b, sizeof b) && strcmp(a, b) == 0) return 1;
    snprintf(where, wsz, "want %s", a);
    return 0;
  }
  if (json_typeof(exp) != json_typeof(got)) {
    snprintf(where, wsz, "type %d vs %d", json_typeof(exp), json_typeof(got));
    return 0;
  }
  if (json_is_object(exp)) {
    if (json_object_size(exp) != json_object_size(got)) {
      snprintf(where, wsz, "object size %zu vs %zu", json_object_size(exp),
               json_object_size(got));
      return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)exp, k, v) {
      json_t *g = json_object_get(got, k);
      if (!g || !json_same(v, g, where, wsz)) {
        char t[256];
        snprintf(t, sizeof t, ".%s%s", k, g ? where : " missing");
        snprintf(where, wsz, "%s", t);
        return 0;
      }
    }
    return 1;
  }
  if (json_is_array(exp)) {
    if (json_array_size(exp) != json_array_size(got)) {
      snprintf(where, wsz, "array size %zu vs %zu", json_array_size(exp), json_array_size(got));
      return 0;
    }
    for (size_t i = 0; i < json_array_size(exp); i++)
      if (!json_same(json_array_get(exp, i), json_array_get(got, i), where, wsz)) {
        char t[256];
        snprintf(t, sizeof t, "[%zu]%s", i, where);
        snprintf(where, wsz, "%s", t);
        return 0;
      }
    return 1;
  }
  if (json_equal((json_t *)exp, (json_t *)got)) return 1;
  snprintf(where, wsz, "values differ");
  return 0;
}

static idl_t *load_idl(const char *path) {
  idl_t *idl = NULL;
  char err[512];
  size_t len;
  char *text = tu_read_file(path, &len);
  ck_assert_msg(idl_load_json(text, len, &idl, err, sizeof err) == 0, "%s: %s", path, err);
  free(text);
  return idl;
}

static idl_t *orca_idl(void) { return load_idl(ORCA_IDL); }

START_TEST(test_account) {
  const char *name = CASES[_i].name;
  char path[256];
  snprintf(path, sizeof path, "%s%s", CASES[_i].dir, name);
  json_t *acct = load_json(path);
  snprintf(path, sizeof path, "%s%s.expected.json", CASES[_i].dir, name);
  json_t *exp = load_json(path);
  idl_t *idl = load_idl(CASES[_i].idl);

  const char *b64 = json_string_value(json_object_get(acct, "data"));
  ck_assert_ptr_nonnull(b64);
  uint8_t *data;
  size_t len;
  ck_assert_int_eq(b64_decode(b64, strlen(b64), &data, &len), 0);
  uint64_t data_len, consumed;
  ck_assert_int_eq(jsonx_get_u64(exp, "data_len", &data_len), 0);
  ck_assert_int_eq(jsonx_get_u64(exp, "bytes_consumed_by_idl_layout", &consumed), 0);
  ck_assert_uint_eq(len, data_len);

  /* The legacy IDL has no discriminators: the computed
   * sha256("account:<Name>")[0..8] must equal the real account's. */
  const char *type = json_string_value(json_object_get(exp, "account_type"));
  const char *dhex = json_string_value(json_object_get(exp, "discriminator_hex"));
  char hex[17];
  for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", data[i]);
  ck_assert_str_eq(hex, dhex);
  int found = 0;
  for (size_t i = 0; i < idl_account_count(idl); i++) {
    if (strcmp(idl_account_name(idl, i), type) != 0) continue;
    size_t dl;
    const uint8_t *d = idl_account_discriminator(idl, i, &dl);
    ck_assert_uint_eq(dl, 8);
    ck_assert_mem_eq(d, data, 8);
    found = 1;
  }
  ck_assert_msg(found, "IDL lacks account %s", type);

  /* Default options: the layout decodes from the start, whatever follows. */
  json_t *out = NULL;
  decode_error_t err;
  char msg[512];
  int rc = decode_account_json(idl, data, len, false, &out, &err);
  ck_assert_msg(rc == 0, "%s: %s", name, decode_error_format(&err, msg, sizeof msg));
  ck_assert_str_eq(json_string_value(json_object_get(out, "type")), type);
  const json_t *value = json_object_get(out, "value");
  const json_t *expected = json_object_get(exp, "expected");
  const json_t *fields = json_object_get(exp, "asserted_fields");
  ck_assert_uint_gt(json_array_size(fields), 0);
  for (size_t i = 0; i < json_array_size(fields); i++) {
    const char *f = json_string_value(json_array_get(fields, i));
    const json_t *e = json_object_get(expected, f);
    const json_t *g = json_object_get(value, f);
    ck_assert_msg(e != NULL, "%s: expected lacks %s", name, f);
    ck_assert_msg(g != NULL, "%s: decoded lacks %s", name, f);
    char where[256] = "";
    ck_assert_msg(json_same(e, g, where, sizeof where), "%s: field %s differs at %s", name, f,
                  where);
  }
  json_decref(out);

  /* The layout ends exactly where the upstream decoder says it does: one
   * byte less is truncated, the exact prefix decodes. */
  ck_assert_int_eq(decode_account_json(idl, data, (size_t)consumed, true, &out, &err), 0);
  json_decref(out);
  ck_assert_int_eq(decode_account_json(idl, data, (size_t)consumed - 1, false, &out, &err),
                   DECODE_ERR_TRUNCATED);
  ck_assert_ptr_null(out);
  /* Strict: non-zero bytes after the layout are refused where they
   * start (exactly the accounts that carry some); zero padding is not. */
  rc = decode_account_json(idl, data, len, true, &out, &err);
  if (!CASES[_i].spare) {
    ck_assert_msg(rc == 0, "%s strict: %s", name, decode_error_format(&err, msg, sizeof msg));
    json_decref(out);
  } else {
    ck_assert_int_eq(rc, DECODE_ERR_TRAILING);
    ck_assert_ptr_null(out);
    ck_assert_uint_ge(err.offset, consumed);
    ck_assert_uint_lt(err.offset, len);
    ck_assert_uint_ne(data[err.offset], 0);
  }
  /* The fixture says what it holds. */
  int spare = 0;
  for (size_t i = (size_t)consumed; i < len; i++) spare |= data[i] != 0;
  ck_assert_int_eq(spare, CASES[_i].spare);

  free(data);
  idl_free(idl);
  json_decref(acct);
  json_decref(exp);
}
END_TEST

/* Legacy instructions: camelCase names, discriminator
 * sha256("global:two_hop_swap_v2")[0..8] (computed with Python's hashlib
 * when this vector was written), nested defined types, u128 above 2^64,
 * u64::MAX, Option<struct with Vec<struct with enum>>. */
START_TEST(test_legacy_instruction) {
  idl_t *idl = orca_idl();
  static const uint8_t ix[] = {
      0xba, 0x8f, 0xd1, 0x1d, 0xfe, 0x02, 0xc2, 0x75,                   /* discriminator */
      0xe8, 0x03, 0, 0, 0, 0, 0, 0,                                     /* amount 1000 */
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,                   /* threshold u64::MAX */
      1, 0, 1,                                                          /* three bools */
      0x05, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0,             /* 2^64 + 5 */
      0xaf, 0x33, 0x1b, 0xa8, 0x32, 0x7f, 0xbb, 0x35, 0xb1, 0xc4, 0xfe, 0xff, 0, 0, 0, 0,
      1,                                                                /* Some */
      2, 0, 0, 0,                                                       /* two slices */
      0, 3,                                                             /* TransferHookA, 3 */
      6, 2,                                                             /* SupplementalTickArrays */
  };
  const char *keys[25];
  char names[25][16];
  for (int i = 0; i < 25; i++) {
    snprintf(names[i], sizeof names[i], "K%d", i);
    keys[i] = names[i];
  }
  json_t *out = NULL;
  decode_error_t err;
  char msg[512];
  int rc = decode_instruction_json(idl, ix, sizeof ix, keys, 25, &out, &err);
  ck_assert_msg(rc == 0, "%s", decode_error_format(&err, msg, sizeof msg));
  ck_assert_str_eq(json_string_value(json_object_get(out, "type")), "twoHopSwapV2");
  json_t *want = json_loads(
      "{\"amount\": 1000, \"otherAmountThreshold\": \"18446744073709551615\","
      " \"amountSpecifiedIsInput\": true, \"aToBOne\": false, \"aToBTwo\": true,"
      " \"sqrtPriceLimitOne\": \"18446744073709551621\","
      " \"sqrtPriceLimitTwo\": \"79226673515401279992447579055\","
      " \"remainingAccountsInfo\": {\"slices\": [{\"accountsType\": \"TransferHookA\","
      " \"length\": 3}, {\"accountsType\": \"SupplementalTickArrays\", \"length\": 2}]}}",
      0, NULL);
  ck_assert_ptr_nonnull(want);
  ck_assert_msg(json_equal(want, json_object_get(out, "value")), "%s",
                json_dumps(json_object_get(out, "value"), 0));
  json_t *accts = json_object_get(out, "accounts");
  ck_assert_uint_eq(json_object_size(accts), 24);
  ck_assert_str_eq(json_string_value(json_object_get(accts, "whirlpoolOne")), "K0");
  ck_assert_str_eq(json_string_value(json_object_get(accts, "memoProgram")), "K23");
  json_t *rest = json_object_get(out, "remaining_accounts");
  ck_assert_uint_eq(json_array_size(rest), 1);
  ck_assert_str_eq(json_string_value(json_array_get(rest, 0)), "K24");
  json_decref(want);
  json_decref(out);

  /* sha256("global:swap")[0..8] = f8c69e91e17587c8 */
  static const uint8_t swap[] = {0xf8, 0xc6, 0x9e, 0x91, 0xe1, 0x75, 0x87, 0xc8, 1, 0, 0, 0, 0, 0,
                                 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                 0, 0, 0, 0, 0, 0, 1, 0};
  rc = decode_instruction_json(idl, swap, sizeof swap, NULL, 0, &out, &err);
  ck_assert_msg(rc == 0, "%s", decode_error_format(&err, msg, sizeof msg));
  ck_assert_str_eq(json_string_value(json_object_get(out, "type")), "swap");
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(out, "value"), "sqrtPriceLimit")), 3);
  json_decref(out);
  idl_free(idl);
}
END_TEST

/* The decode command: an account with non-zero bytes after its layout
 * decodes by default (with a note on stderr) and is refused with --strict. */
START_TEST(test_cli_spare_bytes) {
  json_t *acct = load_json(METEORA "oracle_account.json");
  const json_t *d = json_object_get(acct, "data");
  const char *b64 = json_string_value(json_is_array(d) ? json_array_get(d, 0) : d);
  ck_assert_ptr_nonnull(b64);
  char out[128], errf[128];
  snprintf(out, sizeof out, "/tmp/cbi-orca-cli-%d.out", (int)getpid());
  snprintf(errf, sizeof errf, "/tmp/cbi-orca-cli-%d.err", (int)getpid());
  const char *args[] = {"decode", "--idl", METEORA_IDL, "--account", b64, NULL};
  pid_t pid = tu_spawn("crypto-bet-indexer", args, NULL, out, errf);
  ck_assert_int_eq(tu_wait_exit(pid, 30000, errf), 0);
  size_t n;
  char *text = tu_read_file(out, &n);
  json_t *got = json_loads(text, 0, NULL);
  ck_assert_ptr_nonnull(got);
  ck_assert_str_eq(json_string_value(json_object_get(got, "type")), "Oracle");
  const json_t *v = json_object_get(got, "value");
  ck_assert_int_eq(json_integer_value(json_object_get(v, "idx")), 0);
  ck_assert_int_eq(json_integer_value(json_object_get(v, "activeSize")), 1);
  ck_assert_int_eq(json_integer_value(json_object_get(v, "length")), 100);
  json_decref(got);
  free(text);
  text = tu_read_file(errf, &n);
  ck_assert_ptr_nonnull(strstr(text, "note: Oracle: 3200 bytes after the layout end at byte 32 are not zero"));
  free(text);

  const char *strict[] = {"decode", "--idl", METEORA_IDL, "--account", b64, "--strict", NULL};
  pid = tu_spawn("crypto-bet-indexer", strict, NULL, out, errf);
  ck_assert_int_eq(tu_wait_exit(pid, 30000, errf), 1);
  text = tu_read_file(errf, &n);
  ck_assert_ptr_nonnull(strstr(text, "non-zero bytes after the layout"));
  free(text);
  unlink(out);
  unlink(errf);
  json_decref(acct);
}
END_TEST

int main(void) {
  Suite *s = suite_create("orca");
  TCase *tc = tcase_create("real_accounts");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, test_account, 0, (int)(sizeof CASES / sizeof CASES[0]));
  tcase_add_test(tc, test_legacy_instruction);
  tcase_add_test(tc, test_cli_spare_bytes);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
