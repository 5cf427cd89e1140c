/* jsonx: integers beyond int64 survive parsing as digit strings, u64/i64
 * reads are exact, errors carry positions, truncated input never crashes. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "jsonx.h"
#include "testutil.h"

static json_t *load(const char *text) {
  char err[256];
  json_t *j = jsonx_loads(text, strlen(text), err, sizeof err);
  ck_assert_msg(j != NULL, "%s: %s", text, err);
  return j;
}

/* Asserts that parsing fails and returns the message. */
static void load_fails(const char *text, char *err, size_t errsz) {
  json_t *j = jsonx_loads(text, strlen(text), err, errsz);
  ck_assert_msg(j == NULL, "parsed: %s", text);
  ck_assert_msg(strncmp(err, "line ", 5) == 0 && strstr(err, " column ") && strstr(err, ": "),
                "message '%s'", err);
}

/* A getProgramAccounts response as a validator sends it. */
static const char GPA[] =
    "{\"jsonrpc\":\"2.0\",\"result\":[{\"account\":{\"data\":[\"AQIDBA==\",\"base64\"],"
    "\"executable\":false,\"lamports\":1461600,"
    "\"owner\":\"kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe\","
    "\"rentEpoch\":18446744073709551615,\"space\":4},"
    "\"pubkey\":\"9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin\"},"
    "{\"account\":{\"data\":[\"\",\"base64\"],\"executable\":true,\"lamports\":1,"
    "\"owner\":\"BPFLoaderUpgradeab1e11111111111111111111111\","
    "\"rentEpoch\":361,\"space\":0},"
    "\"pubkey\":\"kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe\"}],\"id\":7}";

START_TEST(test_rent_epoch_program_accounts) {
  json_t *root = load(GPA);
  json_t *res = json_object_get(root, "result");
  json_t *acc0, *acc1;
  uint64_t v = 0;
  ck_assert_uint_eq(json_array_size(res), 2);
  acc0 = json_object_get(json_array_get(res, 0), "account");
  acc1 = json_object_get(json_array_get(res, 1), "account");
  ck_assert_int_eq(jsonx_get_u64(acc0, "rentEpoch", &v), 0);
  ck_assert(v == UINT64_MAX);
  ck_assert_int_eq(jsonx_get_u64(acc0, "lamports", &v), 0);
  ck_assert(v == 1461600);
  ck_assert_int_eq(jsonx_get_u64(acc1, "rentEpoch", &v), 0);
  ck_assert(v == 361);
  ck_assert(json_is_integer(json_object_get(acc1, "rentEpoch")));
  ck_assert_str_eq(jsonx_get_str(acc0, "owner"), "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe");
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(acc0, "data"), 0)), "AQIDBA==");
  ck_assert(json_is_false(json_object_get(acc0, "executable")));
  json_decref(root);
}
END_TEST

/* A real mainnet account (orca fixture) with rent_epoch = u64 max. */
START_TEST(test_fixture_rent_epoch) {
  size_t len;
  char *doc = tu_read_file("fixtures/orca-whirlpool/fee_tier_account.json", &len);
  char err[256];
  json_t *root = jsonx_loads(doc, len, err, sizeof err);
  uint64_t v = 0;
  ck_assert_msg(root != NULL, "%s", err);
  ck_assert_int_eq(jsonx_get_u64(root, "rent_epoch", &v), 0);
  ck_assert(v == UINT64_MAX);
  ck_assert_int_eq(jsonx_get_u64(root, "lamports", &v), 0);
  ck_assert(v == 1197220);
  json_decref(root);
  free(doc);
}
END_TEST

/* Documents without out-of-range integers parse exactly as jansson does. */
START_TEST(test_rpc_samples_same_as_jansson) {
  const char *files[] = {
      "fixtures/rpc-samples/get_block_base64_encoding.json",
      "fixtures/rpc-samples/get_block_json_encoding.json",
      "fixtures/rpc-samples/get_block_json_parsed_encoding.json",
      "fixtures/rpc-samples/get_transaction_base64_encoding.json",
      "fixtures/rpc-samples/get_transaction_json_encoding.json",
      "fixtures/rpc-samples/get_transaction_json_parsed_encoding.json",
  };
  size_t i;
  for (i = 0; i < sizeof files / sizeof files[0]; i++) {
    size_t len;
    char *doc = tu_read_file(files[i], &len);
    char err[256];
    json_error_t je;
    json_t *a = jsonx_loads(doc, len, err, sizeof err);
    json_t *b = json_loadb(doc, len, 0, &je);
    ck_assert_msg(a != NULL, "%s: %s", files[i], err);
    ck_assert_msg(b != NULL, "%s: %s", files[i], je.text);
    ck_assert_msg(json_equal(a, b), "%s differs", files[i]);
    json_decref(a);
    json_decref(b);
    free(doc);
  }
}
END_TEST

START_TEST(test_limits) {
  json_t *root = load("{\"umax\":18446744073709551615,\"imin\":-9223372036854775808,"
                      "\"imax\":9223372036854775807,\"p53\":9007199254740993,"
                      "\"over\":18446744073709551616,\"i63\":9223372036854775808,"
                      "\"under\":-9223372036854775809,\"huge\":123456789012345678901234567890}");
  uint64_t u = 0;
  int64_t i = 0;
  ck_assert_int_eq(jsonx_get_u64(root, "umax", &u), 0);
  ck_assert(u == UINT64_MAX);
  ck_assert_int_eq(jsonx_get_i64(root, "umax", &i), -1);
  ck_assert_int_eq(jsonx_get_i64(root, "imin", &i), 0);
  ck_assert(i == INT64_MIN);
  ck_assert(json_is_integer(json_object_get(root, "imin")));
  ck_assert_int_eq(jsonx_get_u64(root, "imin", &u), -1);
  ck_assert_int_eq(jsonx_get_i64(root, "imax", &i), 0);
  ck_assert(i == INT64_MAX);
  ck_assert(json_is_integer(json_object_get(root, "imax")));
  ck_assert_int_eq(jsonx_get_u64(root, "imax", &u), 0);
  ck_assert(u == (uint64_t)INT64_MAX);
  ck_assert_int_eq(jsonx_get_u64(root, "p53", &u), 0);
  ck_assert(u == 9007199254740993ull);
  ck_assert_int_eq(jsonx_get_i64(root, "p53", &i), 0);
  ck_assert(i == 9007199254740993ll);
  /* 2^64 overflows but the document parsed */
  ck_assert_int_eq(jsonx_get_u64(root, "over", &u), -1);
  ck_assert_str_eq(jsonx_get_str(root, "over"), "18446744073709551616");
  ck_assert_int_eq(jsonx_get_u64(root, "i63", &u), 0);
  ck_assert(u == 9223372036854775808ull);
  ck_assert_str_eq(jsonx_get_str(root, "i63"), "9223372036854775808");
  ck_assert_int_eq(jsonx_get_i64(root, "i63", &i), -1);
  ck_assert_str_eq(jsonx_get_str(root, "under"), "-9223372036854775809");
  ck_assert_int_eq(jsonx_get_i64(root, "under", &i), -1);
  ck_assert_int_eq(jsonx_get_u64(root, "under", &u), -1);
  ck_assert_str_eq(jsonx_get_str(root, "huge"), "123456789012345678901234567890");
  ck_assert_int_eq(jsonx_get_u64(root, "huge", &u), -1);
  json_decref(root);
}
END_TEST

START_TEST(test_negative_and_reals) {
  json_t *root = load("[-1, -0, 0, -5e3, 1.5, 2E+2, 1e-7, 99999999999999999999.5, "
                      "-99999999999999999999e2, 1.0]");
  uint64_t u = 7;
  int64_t i = 7;
  ck_assert_int_eq(jsonx_u64(json_array_get(root, 0), &u), -1);
  ck_assert_int_eq(jsonx_i64(json_array_get(root, 0), &i), 0);
  ck_assert(i == -1);
  ck_assert_int_eq(jsonx_i64(json_array_get(root, 1), &i), 0);
  ck_assert(i == 0);
  ck_assert_int_eq(jsonx_u64(json_array_get(root, 2), &u), 0);
  ck_assert(u == 0);
  /* exponents and decimals stay reals (also the huge ones) and are refused */
  for (size_t k = 3; k < 10; k++) {
    ck_assert_msg(json_is_real(json_array_get(root, k)), "element %zu", k);
    ck_assert_int_eq(jsonx_u64(json_array_get(root, k), &u), -1);
    ck_assert_int_eq(jsonx_i64(json_array_get(root, k), &i), -1);
  }
  json_decref(root);
}
END_TEST

START_TEST(test_strings_untouched) {
  json_t *root = load("{\"s\":\"99999999999999999999\",\"e\":\"a\\\"99999999999999999999\","
                      "\"b\":\"\\\\\",\"n\":99999999999999999999,\"k 1\\\"x\":\"\\u0041: 1\","
                      "\"z\":\"a\\u0000b\"}");
  json_t *z;
  ck_assert_str_eq(jsonx_get_str(root, "s"), "99999999999999999999");
  ck_assert_str_eq(jsonx_get_str(root, "e"), "a\"99999999999999999999");
  ck_assert_str_eq(jsonx_get_str(root, "b"), "\\");
  ck_assert_str_eq(jsonx_get_str(root, "n"), "99999999999999999999");
  ck_assert_str_eq(jsonx_get_str(root, "k 1\"x"), "A: 1");
  /* NUL inside a string parses; the caller sees the real length */
  z = json_object_get(root, "z");
  ck_assert_uint_eq(json_string_length(z), 3);
  ck_assert_mem_eq(json_string_value(z), "a\0b", 3);
  ck_assert_uint_eq(json_object_size(root), 6);
  json_decref(root);

  /* a string that only looks like it ends at an escaped quote */
  root = load("[\"\\\\\", 18446744073709551615, \"\\\\\\\"\", 18446744073709551615]");
  ck_assert_str_eq(json_string_value(json_array_get(root, 0)), "\\");
  ck_assert_str_eq(json_string_value(json_array_get(root, 1)), "18446744073709551615");
  ck_assert_str_eq(json_string_value(json_array_get(root, 2)), "\\\"");
  ck_assert_str_eq(json_string_value(json_array_get(root, 3)), "18446744073709551615");
  json_decref(root);
}
END_TEST

START_TEST(test_top_level_and_whitespace) {
  json_t *root = load(" \r\n\t18446744073709551615 \n");
  ck_assert_str_eq(json_string_value(root), "18446744073709551615");
  json_decref(root);
  root = load("{\"a\":[18446744073709551615,18446744073709551615],\"b\":{\"c\":\n-18446744073709551615}}");
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(root, "a"), 1)),
                   "18446744073709551615");
  ck_assert_str_eq(jsonx_get_str(json_object_get(root, "b"), "c"), "-18446744073709551615");
  json_decref(root);
}
END_TEST

START_TEST(test_malformed) {
  char err[256], err2[256];
  json_t *j;
  load_fails("", err, sizeof err);
  load_fails("{", err, sizeof err);
  load_fails("[1,]", err, sizeof err);
  load_fails("{\"a\" 1}", err, sizeof err);
  load_fails("[tru]", err, sizeof err);
  load_fails("[\"abc]", err, sizeof err);
  load_fails("[01]", err, sizeof err);
  load_fails("[1] [2]", err, sizeof err);
  /* not rewritten into valid JSON: keys, bad neighbours, leading zeros */
  load_fails("{99999999999999999999:1}", err, sizeof err);
  load_fails("{\"a\":1,99999999999999999999:1}", err, sizeof err);
  load_fails("[099999999999999999999]", err, sizeof err);
  load_fails("[99999999999999999999x]", err, sizeof err);
  load_fails("[x99999999999999999999]", err, sizeof err);
  load_fails("[1 99999999999999999999]", err, sizeof err);
  load_fails("[-]", err, sizeof err);
  load_fails("{\"a\":1}\n  {", err, sizeof err);
  ck_assert_msg(strncmp(err, "line 2 column ", 14) == 0, "%s", err);
  /* positions refer to the caller's text even after a rewrite: the same
   * error at the same place, once behind a rewritten literal */
  load_fails("{\"a\":99999999999999999999, \"b\": x}", err, sizeof err);
  load_fails("{\"a\":1234567890123456789 , \"b\": x}", err2, sizeof err2);
  ck_assert_str_eq(err, err2);
  ck_assert_str_eq(err, "line 1 column 33: invalid token near 'x'");
  load_fails("[99999999999999999999,\n 99999999999999999999, ?]", err, sizeof err);
  load_fails("[1234567890123456789 ,\n 1234567890123456789 , ?]", err2, sizeof err2);
  ck_assert_str_eq(err, err2);
  ck_assert_str_eq(err, "line 2 column 24: invalid token near '?'");
  /* NULL text and small/absent error buffers */
  ck_assert_ptr_null(jsonx_loads(NULL, 0, err, sizeof err));
  ck_assert_ptr_null(jsonx_loads("[", 1, NULL, 0));
  j = jsonx_loads("[", 1, err, 8);
  ck_assert_ptr_null(j);
  ck_assert_uint_eq(strlen(err), 7);
}
END_TEST

START_TEST(test_size_cap) {
  /* a mapping one byte larger than the cap: refused before any byte is read */
  size_t cap = (size_t)256 * 1024 * 1024;
  char err[256];
  char *p = mmap(NULL, cap + 1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ck_assert_ptr_ne(p, MAP_FAILED);
  ck_assert_ptr_null(jsonx_loads(p, cap + 1, err, sizeof err));
  ck_assert_msg(strstr(err, "larger than") != NULL, "%s", err);
  munmap(p, cap + 1);
}
END_TEST

START_TEST(test_deep_nesting) {
  enum { DEEP = 100000, OK_DEPTH = 1000 };
  char *doc = malloc(2 * DEEP + 64);
  char err[256];
  json_t *j, *cur;
  size_t i, n = 0;
  ck_assert_ptr_nonnull(doc);
  for (i = 0; i < DEEP; i++) doc[n++] = '[';
  j = jsonx_loads(doc, n, err, sizeof err);
  ck_assert_ptr_null(j);
  ck_assert_msg(strstr(err, "depth") != NULL, "%s", err);
  /* with a big literal at the bottom and closed properly: still refused */
  memcpy(doc + n, "18446744073709551615", 20);
  n += 20;
  for (i = 0; i < DEEP; i++) doc[n++] = ']';
  ck_assert_ptr_null(jsonx_loads(doc, n, err, sizeof err));
  /* moderate depth parses, big literal rewritten at the bottom */
  n = 0;
  for (i = 0; i < OK_DEPTH; i++) doc[n++] = '[';
  memcpy(doc + n, "18446744073709551615", 20);
  n += 20;
  for (i = 0; i < OK_DEPTH; i++) doc[n++] = ']';
  j = jsonx_loads(doc, n, err, sizeof err);
  ck_assert_msg(j != NULL, "%s", err);
  cur = j;
  for (i = 0; i < OK_DEPTH; i++) cur = json_array_get(cur, 0);
  ck_assert_str_eq(json_string_value(cur), "18446744073709551615");
  json_decref(j);
  /* objects nested deep, key positions tracked through the levels */
  n = 0;
  for (i = 0; i < OK_DEPTH; i++) {
    memcpy(doc + n, "{\"k\":", 5);
    n += 5;
  }
  memcpy(doc + n, "-18446744073709551615", 21);
  n += 21;
  for (i = 0; i < OK_DEPTH; i++) doc[n++] = '}';
  j = jsonx_loads(doc, n, err, sizeof err);
  ck_assert_msg(j != NULL, "%s", err);
  cur = j;
  for (i = 0; i < OK_DEPTH - 1; i++) cur = json_object_get(cur, "k");
  ck_assert_str_eq(jsonx_get_str(cur, "k"), "-18446744073709551615");
  json_decref(j);
  free(doc);
}
END_TEST

/* Every prefix of a sample document: parse or fail cleanly (run under
 * ASan, each prefix in its own exactly-sized heap buffer). */
START_TEST(test_truncated_every_offset) {
  size_t len = strlen(GPA), cut, parsed = 0;
  for (cut = 0; cut <= len; cut++) {
    char *buf = malloc(cut ? cut : 1);
    char err[256];
    json_t *j;
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, GPA, cut);
    err[0] = '\0';
    j = jsonx_loads(buf, cut, err, sizeof err);
    if (j) {
      parsed++;
      json_decref(j);
    } else {
      ck_assert_msg(strncmp(err, "line ", 5) == 0, "cut %zu: '%s'", cut, err);
    }
    free(buf);
  }
  ck_assert_uint_eq(parsed, 1); /* only the whole document */
}
END_TEST

START_TEST(test_u64_i64_types) {
  json_t *root = load("{\"s\":\"123\",\"neg\":\"-123\",\"e\":\"\",\"x\":\"12a\",\"sp\":\" 1\","
                      "\"plus\":\"+1\",\"t\":true,\"nul\":null,\"o\":{},\"z\":\"0\","
                      "\"s20\":\"18446744073709551615\",\"s21\":\"018446744073709551615\","
                      "\"smin\":\"-9223372036854775808\",\"nn\":\"-\",\"nul0\":\"1\\u00002\"}");
  uint64_t u = 0;
  int64_t i = 0;
  ck_assert_int_eq(jsonx_get_u64(root, "s", &u), 0);
  ck_assert(u == 123);
  ck_assert_int_eq(jsonx_get_u64(root, "neg", &u), -1);
  ck_assert_int_eq(jsonx_get_i64(root, "neg", &i), 0);
  ck_assert(i == -123);
  ck_assert_int_eq(jsonx_get_u64(root, "z", &u), 0);
  ck_assert(u == 0);
  ck_assert_int_eq(jsonx_get_u64(root, "s20", &u), 0);
  ck_assert(u == UINT64_MAX);
  ck_assert_int_eq(jsonx_get_i64(root, "smin", &i), 0);
  ck_assert(i == INT64_MIN);
  {
    const char *bad[] = {"e", "x", "sp", "plus", "t", "nul", "o", "s21", "nn", "nul0", "missing"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
      ck_assert_msg(jsonx_get_u64(root, bad[k], &u) == -1, "u64 %s", bad[k]);
      ck_assert_msg(jsonx_get_i64(root, bad[k], &i) == -1, "i64 %s", bad[k]);
    }
  }
  ck_assert_ptr_null(jsonx_get_str(root, "t"));
  ck_assert_ptr_null(jsonx_get_str(root, "missing"));
  ck_assert_int_eq(jsonx_u64(NULL, &u), -1);
  ck_assert_int_eq(jsonx_i64(NULL, &i), -1);
  ck_assert_int_eq(jsonx_get_u64(json_object_get(root, "s"), "s", &u), -1); /* not an object */
  json_decref(root);
}
END_TEST

START_TEST(test_int128_strings) {
  char buf[64];
  unsigned __int128 umax = ~(unsigned __int128)0;
  __int128 imin = (__int128)((unsigned __int128)1 << 127);
  __int128 imax = (__int128)(umax >> 1);
  ck_assert_str_eq(jsonx_u128_str(0, buf, sizeof buf), "0");
  ck_assert_str_eq(jsonx_u128_str(umax, buf, sizeof buf), "340282366920938463463374607431768211455");
  ck_assert_str_eq(jsonx_u128_str((unsigned __int128)UINT64_MAX + 1, buf, sizeof buf),
                   "18446744073709551616");
  ck_assert_str_eq(jsonx_i128_str(imin, buf, sizeof buf), "-170141183460469231731687303715884105728");
  ck_assert_str_eq(jsonx_i128_str(imax, buf, sizeof buf), "170141183460469231731687303715884105727");
  ck_assert_str_eq(jsonx_i128_str(-1, buf, sizeof buf), "-1");
  ck_assert_str_eq(jsonx_i128_str(0, buf, sizeof buf), "0");
  ck_assert_str_eq(jsonx_i128_str((__int128)INT64_MIN * 10, buf, sizeof buf), "-92233720368547758080");
  /* 41 bytes always suffice; too small a buffer gives NULL */
  ck_assert_ptr_nonnull(jsonx_i128_str(imin, buf, 41));
  ck_assert_ptr_null(jsonx_i128_str(imin, buf, 40));
  ck_assert_ptr_nonnull(jsonx_u128_str(umax, buf, 40));
  ck_assert_ptr_null(jsonx_u128_str(umax, buf, 39));
  ck_assert_ptr_null(jsonx_u128_str(5, buf, 1));
  ck_assert_str_eq(jsonx_u128_str(5, buf, 2), "5");
}
END_TEST

/* One u64 rule for JSON text (jsonx_u64_text), shared by the websocket
 * client, the message classifier and jsonx_u64 on digit strings: JSON
 * integers have no leading zeros, no sign, no fraction, no exponent. */
START_TEST(test_u64_text_one_rule) {
  static const struct {
    const char *t;
    uint64_t v;
  } good[] = {{"0", 0}, {"1", 1}, {"10", 10}, {"9223372036854775808", 9223372036854775808ull},
              {"18446744073709551615", UINT64_MAX}};
  for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
    uint64_t u = 12345;
    ck_assert_msg(jsonx_u64_text(good[k].t, strlen(good[k].t), &u) == 0, "%s", good[k].t);
    ck_assert_msg(u == good[k].v, "%s", good[k].t);
  }
  static const char *const bad[] = {"",      "00",   "007",  "01",  "018446744073709551615",
                                    "-0",    "-1",   "+1",   " 1",  "1 ",
                                    "1.0",   "1e3",  "0x10", "1_0", "18446744073709551616",
                                    "99999999999999999999", "100000000000000000000"};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    uint64_t u = 12345;
    ck_assert_msg(jsonx_u64_text(bad[k], strlen(bad[k]), &u) == -1, "accepted '%s'", bad[k]);
    ck_assert_msg(u == 12345, "clobbered on '%s'", bad[k]);
  }
  uint64_t u = 0;
  ck_assert_int_eq(jsonx_u64_text(NULL, 1, &u), -1);
  /* length counts, not NUL: "12" out of "123" */
  ck_assert_int_eq(jsonx_u64_text("123", 2, &u), 0);
  ck_assert(u == 12);

  /* jsonx_u64 / jsonx_i64 on digit strings follow the same rule */
  json_t *root = load("{\"z\":\"007\",\"nz\":\"-007\",\"ok\":\"700\",\"n\":\"-700\"}");
  int64_t i = 0;
  ck_assert_int_eq(jsonx_get_u64(root, "z", &u), -1);
  ck_assert_int_eq(jsonx_get_i64(root, "z", &i), -1);
  ck_assert_int_eq(jsonx_get_i64(root, "nz", &i), -1);
  ck_assert_int_eq(jsonx_get_u64(root, "ok", &u), 0);
  ck_assert(u == 700);
  ck_assert_int_eq(jsonx_get_i64(root, "n", &i), 0);
  ck_assert(i == -700);
  json_decref(root);
  /* and the parser agrees: a number literal with a leading zero is no JSON */
  char err[160];
  ck_assert_ptr_null(jsonx_loads("{\"slot\":007}", 13, err, sizeof err));
  ck_assert_ptr_null(jsonx_loads("{\"slot\":018446744073709551615}", 30, err, sizeof err));
}
END_TEST

static Suite *jsonx_suite(void) {
  Suite *s = suite_create("jsonx");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_rent_epoch_program_accounts);
  tcase_add_test(tc, test_fixture_rent_epoch);
  tcase_add_test(tc, test_rpc_samples_same_as_jansson);
  tcase_add_test(tc, test_limits);
  tcase_add_test(tc, test_negative_and_reals);
  tcase_add_test(tc, test_strings_untouched);
  tcase_add_test(tc, test_top_level_and_whitespace);
  tcase_add_test(tc, test_malformed);
  tcase_add_test(tc, test_size_cap);
  tcase_add_test(tc, test_deep_nesting);
  tcase_add_test(tc, test_truncated_every_offset);
  tcase_add_test(tc, test_u64_i64_types);
  tcase_add_test(tc, test_int128_strings);
  tcase_add_test(tc, test_u64_text_one_rule);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(jsonx_suite()); }
