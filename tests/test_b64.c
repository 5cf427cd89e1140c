/* b64: RFC 4648 vectors, strict rejects, round trips, and a real account
 * (fixture JSON -> base64 data -> fields). */
#include <sodium.h>
#include <string.h>

#include "b64.h"
#include "base58.h"
#include "jsonx.h"
#include "testutil.h"

static const struct {
  const char *bin, *b64;
} RFC4648[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

START_TEST(test_rfc4648_vectors) {
  size_t i;
  for (i = 0; i < sizeof RFC4648 / sizeof RFC4648[0]; i++) {
    size_t n = strlen(RFC4648[i].bin), outlen = 99;
    char *enc = b64_encode((const uint8_t *)RFC4648[i].bin, n);
    uint8_t *dec = NULL, small[8];
    ck_assert_ptr_nonnull(enc);
    ck_assert_str_eq(enc, RFC4648[i].b64);
    free(enc);
    ck_assert_int_eq(b64_decode(RFC4648[i].b64, strlen(RFC4648[i].b64), &dec, &outlen), 0);
    ck_assert_ptr_nonnull(dec);
    ck_assert_uint_eq(outlen, n);
    ck_assert_mem_eq(dec, RFC4648[i].bin, n);
    free(dec);
    ck_assert_int_eq(b64_decode_into(RFC4648[i].b64, strlen(RFC4648[i].b64), small, sizeof small,
                                     &outlen), 0);
    ck_assert_uint_eq(outlen, n);
    ck_assert_mem_eq(small, RFC4648[i].bin, n);
  }
}
END_TEST

START_TEST(test_rejects) {
  const char *bad[] = {
      "Zg=",      "Zg",        "Z",        "Zm9v\n",   " Zm9v",     "Zm9v ",  "Zm 9v",
      "Zm9v=",    "Zm9v====",  "Zh==",     "Zm9=",     "Zm-v",      "Zm_v",   "====",
      "Zg==Zg==", "Zg=a",      "Z===",     "Zm9vYg=\n", "\tZm9v",   "Zm9v\r\n",
  };
  size_t i, outlen;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t *dec = (uint8_t *)1, buf[16];
    ck_assert_msg(b64_decode(bad[i], strlen(bad[i]), &dec, &outlen) == -1, "accepted '%s'", bad[i]);
    ck_assert_ptr_null(dec);
    ck_assert_msg(b64_decode_into(bad[i], strlen(bad[i]), buf, sizeof buf, &outlen) == -1,
                  "accepted '%s'", bad[i]);
  }
  /* an embedded NUL counts as a character */
  {
    uint8_t buf[16];
    ck_assert_int_eq(b64_decode_into("Zm9v\0AAA", 8, buf, sizeof buf, &outlen), -1);
  }
}
END_TEST

/* Bytes 0x80..0xFF are not base64 (libsodium 1.0.18 alone decodes them as
 * '/'): found by tests/fuzz/fuzz_b64.c with "\xbf\xc2\xc2\xf7\xc2\xc2\xf7\xc4". */
START_TEST(test_rejects_high_bytes) {
  uint8_t buf[16], *dec = (uint8_t *)1;
  size_t outlen;
  ck_assert_int_eq(b64_decode("\xbf\xc2\xc2\xf7\xc2\xc2\xf7\xc4", 8, &dec, &outlen), -1);
  ck_assert_ptr_null(dec);
  for (int c = 0x80; c <= 0xff; c++) {
    char in[9] = "Zm9vYmFy";
    in[c % 8] = (char)c;
    ck_assert_msg(b64_decode_into(in, 8, buf, sizeof buf, &outlen) == -1, "accepted byte 0x%02x", c);
  }
  /* the valid neighbour still decodes */
  ck_assert_int_eq(b64_decode_into("Zm9vYmFy", 8, buf, sizeof buf, &outlen), 0);
  ck_assert_uint_eq(outlen, 6);
}
END_TEST

START_TEST(test_decode_into_sizes) {
  uint8_t buf[6];
  size_t outlen = 0;
  ck_assert_int_eq(b64_decode_into("Zm9vYmFy", 8, buf, 6, &outlen), 0);
  ck_assert_uint_eq(outlen, 6);
  ck_assert_mem_eq(buf, "foobar", 6);
  ck_assert_int_eq(b64_decode_into("Zm9vYmFy", 8, buf, 5, &outlen), -1);
  ck_assert_int_eq(b64_decode_into("Zm9vYg==", 8, buf, 4, &outlen), 0);
  ck_assert_uint_eq(outlen, 4);
  ck_assert_int_eq(b64_decode_into("", 0, NULL, 0, &outlen), 0);
  ck_assert_uint_eq(outlen, 0);
  ck_assert_uint_eq(b64_decoded_max(8), 6);
  ck_assert_uint_eq(b64_decoded_max(0), 0);
}
END_TEST

START_TEST(test_roundtrip_random) {
  unsigned char seed[randombytes_SEEDBYTES];
  uint8_t data[1024];
  size_t n;
  memset(seed, 0x64, sizeof seed);
  randombytes_buf_deterministic(data, sizeof data, seed);
  for (n = 0; n <= sizeof data; n += (n < 70 ? 1 : 37)) {
    char *enc = b64_encode(data, n);
    uint8_t *dec = NULL;
    size_t outlen = 0;
    ck_assert_ptr_nonnull(enc);
    ck_assert_uint_eq(strlen(enc), (n + 2) / 3 * 4);
    ck_assert_int_eq(b64_decode(enc, strlen(enc), &dec, &outlen), 0);
    ck_assert_uint_eq(outlen, n);
    if (n) ck_assert_mem_eq(dec, data, n);
    free(dec);
    free(enc);
  }
}
END_TEST

/* A real mainnet FeeTier account (fixtures/orca-whirlpool): the JSON with a
 * u64-max rent epoch, the base64 data, a pubkey and two u16 fields, checked
 * against the values in the fixture's .expected.json. */
START_TEST(test_fixture_account) {
  size_t len, outlen = 0;
  char *doc = tu_read_file("fixtures/orca-whirlpool/fee_tier_account.json", &len);
  char err[256], key[BASE58_ENCODED_32_SZ];
  json_t *root = jsonx_loads(doc, len, err, sizeof err);
  const uint8_t disc[8] = {0x38, 0x4b, 0x9f, 0x4c, 0x8e, 0x44, 0xbe, 0x69};
  uint8_t *data = NULL;
  const char *b64;
  uint64_t space = 0;
  ck_assert_msg(root != NULL, "%s", err);
  b64 = jsonx_get_str(root, "data");
  ck_assert_ptr_nonnull(b64);
  ck_assert_int_eq(b64_decode(b64, strlen(b64), &data, &outlen), 0);
  ck_assert_int_eq(jsonx_get_u64(root, "space", &space), 0);
  ck_assert_uint_eq(outlen, 44);
  ck_assert(space == outlen);
  ck_assert_mem_eq(data, disc, 8);
  base58_encode_32(data + 8, key);
  ck_assert_str_eq(key, "2LecshUwdy9xi7meFgHtFJQNSKk4KdTrcpvaB56dP2NQ");
  ck_assert_uint_eq((unsigned)data[40] | (unsigned)data[41] << 8, 32896);
  ck_assert_uint_eq((unsigned)data[42] | (unsigned)data[43] << 8, 10000);
  free(data);
  json_decref(root);
  free(doc);
}
END_TEST

static Suite *b64_suite(void) {
  Suite *s = suite_create("b64");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_rfc4648_vectors);
  tcase_add_test(tc, test_rejects);
  tcase_add_test(tc, test_rejects_high_bytes);
  tcase_add_test(tc, test_decode_into_sizes);
  tcase_add_test(tc, test_roundtrip_random);
  tcase_add_test(tc, test_fixture_account);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  if (sodium_init() < 0) return 1;
  return tu_run_suite(b64_suite());
}
