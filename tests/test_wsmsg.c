/* Websocket message classification (wsmsg.h) follows the codec's rules:
 * numbers with leading zeros, keys that are base58 text but no 32-byte
 * value, signatures that are no 64-byte value, invalid UTF-8 are refused
 * by the full parser and the fast path alike. */
#include <string.h>

#include "base58.h"
#include "testutil.h"
#include "wsmsg.h"

#define PROGRAM "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe"
#define SIG88 "3Y8u8geGZJLY4RgFijfCSAozNVWH24bvwynCT6Z52xs3x1hvcyT9s1V5rdKTn7BQhp9a9sYrC9VXG78txKZUtqF5"
#define Z44 "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"

/* programNotification with the given slot / lamports literals and keys. */
static char *account_msg(const char *slot, const char *lamports, const char *pubkey,
                         const char *owner) {
  char *m = NULL;
  ck_assert_int_gt(
      asprintf(&m,
               "{\"jsonrpc\":\"2.0\",\"method\":\"programNotification\",\"params\":{\"result\":{"
               "\"context\":{\"slot\":%s},\"value\":{\"pubkey\":\"%s\",\"account\":{\"data\":["
               "\"AAAA\",\"base64\"],\"lamports\":%s,\"owner\":\"%s\"}}},\"subscription\":1}}",
               slot, pubkey, lamports, owner),
      0);
  return m;
}

static wsmsg_kind_t full(const char *text, char *reason, size_t rsz) {
  wsmsg_t m;
  wsmsg_kind_t k = wsmsg_parse((const uint8_t *)text, strlen(text), 0, &m);
  snprintf(reason, rsz, "%s", m.reason);
  wsmsg_clear(&m);
  return k;
}

static int fast(const char *text, wsmsg_fast_account_t *fa) {
  return wsmsg_fast_account((const uint8_t *)text, strlen(text), fa);
}

START_TEST(test_baseline_accepted) {
  char r[200];
  wsmsg_fast_account_t fa;
  char *m = account_msg("0", "18446744073709551615", PROGRAM, PROGRAM);
  ck_assert_int_eq(full(m, r, sizeof r), WSMSG_ACCOUNT);
  ck_assert_int_eq(fast(m, &fa), 1);
  ck_assert(fa.slot == 0 && fa.lamports == UINT64_MAX);
  free(m);
}
END_TEST

START_TEST(test_leading_zeros_refused) {
  char r[200];
  wsmsg_fast_account_t fa;
  const char *slots[] = {"007", "00", "018446744073709551615"};
  for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
    char *m = account_msg(slots[i], "1", PROGRAM, PROGRAM);
    ck_assert_msg(fast(m, &fa) == 0, "fast path took slot %s", slots[i]);
    ck_assert_msg(full(m, r, sizeof r) == WSMSG_BAD, "full parser took slot %s", slots[i]);
    ck_assert_msg(strstr(r, "malformed JSON") != NULL, "%s", r);
    free(m);
    m = account_msg("5", slots[i], PROGRAM, PROGRAM);
    ck_assert_msg(fast(m, &fa) == 0, "fast path took lamports %s", slots[i]);
    ck_assert_int_eq(full(m, r, sizeof r), WSMSG_BAD);
    free(m);
  }
  /* slotNotification too */
  ck_assert_int_eq(full("{\"method\":\"slotNotification\",\"params\":{\"result\":{\"slot\":07}}}",
                        r, sizeof r),
                   WSMSG_BAD);
}
END_TEST

START_TEST(test_keys_must_decode) {
  char r[200];
  wsmsg_fast_account_t fa;
  /* 44 characters of the alphabet that encode more than 32 bytes: the old
   * alphabet-and-length check let this through as a pubkey */
  ck_assert_int_eq(base58_text_ok(Z44, 32), 0);
  char *m = account_msg("5", "1", Z44, PROGRAM);
  ck_assert_int_eq(fast(m, &fa), 0);
  ck_assert_int_eq(full(m, r, sizeof r), WSMSG_BAD);
  ck_assert_msg(strstr(r, "pubkey") != NULL, "%s", r);
  free(m);
  m = account_msg("5", "1", PROGRAM, Z44);
  ck_assert_int_eq(fast(m, &fa), 0); /* the full parser does not read owner */
  free(m);

  char sig[89];
  memset(sig, 'z', 88);
  sig[88] = '\0';
  char *l = NULL;
  ck_assert_int_gt(asprintf(&l,
                            "{\"method\":\"logsNotification\",\"params\":{\"result\":{\"context\":"
                            "{\"slot\":5},\"value\":{\"signature\":\"%s\",\"err\":null,\"logs\":"
                            "[]}}}}",
                            sig),
                   0);
  ck_assert_int_eq(full(l, r, sizeof r), WSMSG_BAD);
  ck_assert_msg(strstr(r, "signature") != NULL, "%s", r);
  free(l);
  ck_assert_int_gt(asprintf(&l,
                            "{\"method\":\"logsNotification\",\"params\":{\"result\":{\"context\":"
                            "{\"slot\":5},\"value\":{\"signature\":\"%s\",\"err\":null,\"logs\":"
                            "[]}}}}",
                            SIG88),
                   0);
  ck_assert_int_eq(full(l, r, sizeof r), WSMSG_LOGS);
  free(l);
}
END_TEST

START_TEST(test_utf8_offset_reported) {
  char r[200];
  const char msg[] = "{\"method\":\"x\xed\xa0\x80\"}"; /* surrogate at 12 */
  wsmsg_t m;
  ck_assert_int_eq(wsmsg_parse((const uint8_t *)msg, sizeof msg - 1, 0, &m), WSMSG_BAD);
  snprintf(r, sizeof r, "%s", m.reason);
  wsmsg_clear(&m);
  ck_assert_str_eq(r, "invalid UTF-8 at offset: 12");
}
END_TEST

/* Found by tests/fuzz/fuzz_wsmsg.c: the fast path took messages with a
 * lone UTF-16 surrogate escape, \u0000 in a key, or a real literal beyond
 * the range of a double, that the full parser
 * (jansson) refuses, so the two paths disagreed on the same bytes. */
/* Both parsers on a programNotification whose account has one more
 * member, "key":value (raw text); want: 1 if both must accept, 0 if both
 * must refuse. */
static void both_agree(const char *key, const char *value, int want) {
  char r[200], *m = NULL;
  wsmsg_fast_account_t fa;
  ck_assert_int_gt(
      asprintf(&m,
               "{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{"
               "\"slot\":5},\"value\":{\"pubkey\":\"%s\",\"account\":{\"data\":[\"AAAA\","
               "\"base64\"],\"%s\":%s,\"lamports\":1,\"owner\":\"%s\"}}}}}",
               PROGRAM, key, value, PROGRAM),
      0);
  ck_assert_msg(fast(m, &fa) == want, "fast path: %s", m);
  ck_assert_msg((full(m, r, sizeof r) == WSMSG_ACCOUNT) == want, "full parser: %s: %s", m, r);
  free(m);
}

START_TEST(test_fast_path_surrogates_agree) {
  /* \u escapes in a key: lone surrogates and NUL are refused by jansson */
  static const struct {
    const char *key;
    int ok;
  } keys[] = {{"e\\ud800x", 0},        {"e\\udc00x", 0}, {"e\\ud800\\u0041x", 0},
              {"e\\ud83d\\ude00x", 1}, {"e\\u0000x", 0}, {"e\\u0001x", 1}};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) both_agree(keys[i].key, "false", keys[i].ok);
  /* \u0000 in a string value is fine (JSON_ALLOW_NUL) */
  both_agree("x", "\"a\\u0000b\"", 1);
  /* a real literal that overflows a double ("real number overflow") */
  static const struct {
    const char *lit;
    int ok;
  } reals[] = {{"1e400", 0}, {"-1.5e309", 0}, {"1844674407370955161e40015", 0},
               {"1e308", 1}, {"2.5e-400", 1}, {"-0.0", 1}};
  for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) both_agree("x", reals[i].lit, reals[i].ok);
}
END_TEST

static Suite *wsmsg_suite(void) {
  Suite *s = suite_create("wsmsg");
  TCase *tc = tcase_create("rules");
  tcase_add_test(tc, test_baseline_accepted);
  tcase_add_test(tc, test_leading_zeros_refused);
  tcase_add_test(tc, test_keys_must_decode);
  tcase_add_test(tc, test_utf8_offset_reported);
  tcase_add_test(tc, test_fast_path_surrogates_agree);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(wsmsg_suite()); }
