/* UTF-8 (utf8.h): the one validator used by the decoder and the websocket
 * checks. Known vectors with offsets, the NUL option, and a diff against a
 * plain code-point decoder on deterministic random inputs. */
#include <sodium.h>
#include <string.h>

#include "decode_borsh.h"
#include "decoder.h"
#include "testutil.h"
#include "utf8.h"
#include "utf8_ref.h"


START_TEST(test_vectors) {
  static const struct {
    const char *bytes;
    size_t len;
    int ok;
    size_t bad;
  } v[] = {
      {"", 0, 1, 0},
      {"plain ascii, longer than one word", 33, 1, 0},
      {"na\xc3\xafve caf\xc3\xa9", 12, 1, 0},
      {"\xe2\x82\xac\xf0\x9f\x98\x80", 7, 1, 0}, /* U+20AC U+1F600 */
      {"\xf4\x8f\xbf\xbf", 4, 1, 0},             /* U+10FFFF, the last */
      {"\xed\x9f\xbf", 3, 1, 0},                 /* U+D7FF, before the surrogates */
      {"ab\xc1\xbf", 4, 0, 2},                   /* overlong, 2 bytes */
      {"abc\xe0\x9f\xbf", 6, 0, 3},              /* overlong, 3 bytes */
      {"\xf0\x8f\xbf\xbf", 4, 0, 0},             /* overlong, 4 bytes */
      {"xx\xed\xbf\xbf", 5, 0, 2},               /* surrogate U+DFFF */
      {"\xf4\x90\x80\x80", 4, 0, 0},             /* above U+10FFFF */
      {"ok\xf8\x88\x80\x80\x80", 7, 0, 2},       /* 5-byte form */
      {"abcdefgh\xbf", 9, 0, 8},                 /* stray continuation after a word */
      {"abcdefg\xc3", 8, 0, 7},                  /* truncated at the end */
      {"\xe2\x82(", 3, 0, 0},                    /* bad continuation */
      {"a\x00" "b", 3, 1, 0},                    /* NUL is valid UTF-8 */
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    size_t bad = 999;
    int ok = utf8_valid((const uint8_t *)v[i].bytes, v[i].len, &bad);
    ck_assert_msg(ok == v[i].ok, "vector %zu", i);
    if (!ok) ck_assert_msg(bad == v[i].bad, "vector %zu: offset %zu", i, bad);
    else ck_assert_msg(bad == 999, "vector %zu: offset written on success", i);
    ck_assert_int_eq(utf8_check((const uint8_t *)v[i].bytes, v[i].len, 0, NULL),
                     v[i].ok ? UTF8_OK : UTF8_ERR_INVALID);
  }
}
END_TEST

START_TEST(test_nul_option) {
  size_t bad = 0;
  const uint8_t s[] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 0, 'j'};
  ck_assert_int_eq(utf8_check(s, sizeof s, 0, &bad), UTF8_OK);
  ck_assert_int_eq(utf8_check(s, sizeof s, 1, &bad), UTF8_ERR_NUL);
  ck_assert_uint_eq(bad, 9);
  /* the first problem wins */
  const uint8_t t[] = {'a', 0xff, 0};
  ck_assert_int_eq(utf8_check(t, sizeof t, 1, &bad), UTF8_ERR_INVALID);
  ck_assert_uint_eq(bad, 1);
  const uint8_t u[] = {'a', 0, 0xff};
  ck_assert_int_eq(utf8_check(u, sizeof u, 1, &bad), UTF8_ERR_NUL);
  ck_assert_uint_eq(bad, 1);
  /* the decoder's string check is this rule with NUL refused */
  ck_assert_int_eq(decode_utf8_check(u, sizeof u, &bad), DECODE_ERR_NUL);
  ck_assert_int_eq(decode_utf8_check(t, sizeof t, &bad), DECODE_ERR_UTF8);
  ck_assert_int_eq(decode_utf8_check(s, 9, &bad), 0);
  ck_assert_str_eq(utf8_strerror(UTF8_ERR_NUL), "NUL byte");
  ck_assert_str_eq(utf8_strerror(UTF8_ERR_INVALID), "invalid UTF-8");
  ck_assert_str_eq(utf8_strerror(UTF8_OK), "ok");
  ck_assert_str_eq(utf8_strerror(42), "unknown error");
}
END_TEST

/* Random byte strings biased towards UTF-8 lead/continuation bytes, diffed
 * against the reference (valid flag and offset). */
START_TEST(test_diff_random) {
  ck_assert_int_ge(sodium_init(), 0);
  uint8_t seed[randombytes_SEEDBYTES] = {7};
  uint8_t buf[64 * 20000];
  randombytes_buf_deterministic(buf, sizeof buf, seed);
  static const uint8_t pick[] = {0x41, 0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
                                 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0,
                                 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
  size_t disagreements = 0, valid = 0;
  for (size_t k = 0; k < 20000; k++) {
    uint8_t *p = buf + 64 * k;
    size_t n = p[0] % 64;
    for (size_t i = 0; i < n; i++)
      if (p[i] & 1) p[i] = pick[p[i] % sizeof pick];
    size_t b1 = 0, b2 = 0;
    int r1 = utf8_valid(p, n, &b1), r2 = utf8_ref_valid(p, n, &b2);
    if (r1 != r2 || (!r1 && b1 != b2)) disagreements++;
    valid += (size_t)r1;
  }
  ck_assert_uint_eq(disagreements, 0);
  ck_assert_uint_gt(valid, 100); /* both outcomes are exercised */
  ck_assert_uint_lt(valid, 19900);
}
END_TEST

static Suite *utf8_suite(void) {
  Suite *s = suite_create("utf8");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_vectors);
  tcase_add_test(tc, test_nul_option);
  tcase_add_test(tc, test_diff_random);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(utf8_suite()); }
