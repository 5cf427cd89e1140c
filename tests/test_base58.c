/* base58: known vectors, strict decoding, and the fixed-size codecs diffed
 * against the reference bignum codec on deterministic random inputs. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base58.h"
#include "testutil.h"

static const char *B58_ALPHA = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static void hex_to_bytes(const char *hex, uint8_t *out, size_t n) {
  size_t bin_len = 0;
  ck_assert_int_eq(sodium_hex2bin(out, n, hex, strlen(hex), NULL, &bin_len, NULL), 0);
  ck_assert_uint_eq(bin_len, n);
}

/* Encodes with the fixed-size codec for n (32 or 64). */
static size_t enc_fixed(const uint8_t *in, size_t n, char *out) {
  return n == 32 ? base58_encode_32(in, out) : base58_encode_64(in, out);
}

static int dec_fixed(const char *in, size_t n, uint8_t *out) {
  return n == 32 ? base58_decode_32(in, out) : base58_decode_64(in, out);
}

/* Checks hex <-> b58 in both directions with the fast and the reference codec. */
static void check_vector(const char *hex, const char *b58) {
  uint8_t bin[64], got[64];
  char s[2 * 64 + 1];
  size_t n = strlen(hex) / 2;
  ck_assert(n == 32 || n == 64);
  hex_to_bytes(hex, bin, n);
  ck_assert_uint_eq(enc_fixed(bin, n, s), strlen(b58));
  ck_assert_str_eq(s, b58);
  ck_assert_uint_eq(base58_encode_ref(bin, n, s), strlen(b58));
  ck_assert_str_eq(s, b58);
  memset(got, 0xaa, sizeof got);
  ck_assert_int_eq(dec_fixed(b58, n, got), 0);
  ck_assert_mem_eq(got, bin, n);
  memset(got, 0xaa, sizeof got);
  ck_assert_int_eq(base58_decode_ref(b58, got, n), (int)n);
  ck_assert_mem_eq(got, bin, n);
}

START_TEST(test_known_vectors) {
  /* system program / all-zero pubkey */
  check_vector("0000000000000000000000000000000000000000000000000000000000000000",
               "11111111111111111111111111111111");
  /* Crypto Bet program id */
  check_vector("0b3797e46c8869db3e6282a21b6123d1b551a0dbf806d8d9c8cab21b71940cdd",
               "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe");
  /* SPL Token program, Clock sysvar, Vote program */
  check_vector("06ddf6e1d765a193d9cbe146ceeb79ac1cb485ed5f5b37913a8cf5857eff00a9",
               "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
  check_vector("06a7d51718c774c928566398691d5eb68b5eb8a39b4b6d5c73555b2100000000",
               "SysvarC1ock11111111111111111111111111111111");
  check_vector("0761481d357474bb7c4d7624ebd3bdb3d8355e73d11043fc0da3538000000000",
               "Vote111111111111111111111111111111111111111");
  /* maxima */
  check_vector("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
               "JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFG");
  check_vector("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
               "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
               "67rpwLCuS5DGA8KGZXKsVQ7dnPb9goRLoKfgGbLfQg9WoLUgNY77E2jT11fem3coV9nAkguBACzrU1iyZM4B8roQ");
  /* 64-byte: a mainnet transaction signature (fixtures/rpc-samples) */
  check_vector("c769c52f21f0ad48f804099ff1e3ca429ced2e06cd0d494cff74416dbdf1c062"
               "37acdd65cf7e0e4cd31702735eb093bb360b6ddb479b7d4f6692bd0b87d0db0a",
               "4zExa66hUSr28i2ma6EJwEsm3nZo4VFryEyRYE5Zrr4Q6dZpP1ctzsoMqUhLnp6iHGPp5MB722rZXRBKg927WXN9");
  check_vector("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
               "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
               "1GMkH3brNXiNNs1tiFZHu4yZSRrzJwxi5wB9bHFtMinfCXNnR1adh8Vo8NTheK4evneedH4qmvjeqcBBNAefgS");
  check_vector("0000000000000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000000",
               "1111111111111111111111111111111111111111111111111111111111111111");
  check_vector("0000000000010000000000000000000000000000000000000000000000000000",
               "111118qfKFDmPNA1uDdWpLJyhogk4u4W7taoE15Pd");
}
END_TEST

START_TEST(test_fixture_signature_roundtrip) {
  size_t len = 0;
  char *doc = tu_read_file("fixtures/rpc-samples/get_transaction_json_encoding.json", &len);
  const char *sig = "4zExa66hUSr28i2ma6EJwEsm3nZo4VFryEyRYE5Zrr4Q6dZpP1ctzsoMqUhLnp6iHGPp5MB722rZXRBKg927WXN9";
  uint8_t bin[64];
  char back[BASE58_ENCODED_64_SZ];
  ck_assert_ptr_nonnull(strstr(doc, sig));
  ck_assert_int_eq(base58_decode_64(sig, bin), 0);
  ck_assert_uint_eq(base58_encode_64(bin, back), strlen(sig));
  ck_assert_str_eq(back, sig);
  free(doc);
}
END_TEST

/* Every count of leading zero bytes, for both sizes: one '1' per zero byte
 * and nothing more. */
START_TEST(test_leading_zeros) {
  size_t sizes[2] = {32, 64}, si, z;
  for (si = 0; si < 2; si++) {
    size_t n = sizes[si];
    for (z = 0; z <= n; z++) {
      uint8_t in[64], got[64];
      char s[BASE58_ENCODED_64_SZ], r[2 * 64 + 1];
      size_t len, ones = 0;
      memset(in, 0, z);
      memset(in + z, 0xff, n - z);
      if (z < n) in[z] = 0x01; /* smallest top byte */
      len = enc_fixed(in, n, s);
      ck_assert_uint_eq(len, strlen(s));
      while (s[ones] == '1') ones++;
      ck_assert_uint_eq(ones, z);
      ck_assert_uint_eq(base58_encode_ref(in, n, r), len);
      ck_assert_str_eq(s, r);
      ck_assert_int_eq(dec_fixed(s, n, got), 0);
      ck_assert_mem_eq(got, in, n);
      if (z < n) {
        /* one '1' more or less is a different byte count */
        char t[BASE58_ENCODED_64_SZ + 1];
        t[0] = '1';
        memcpy(t + 1, s, len + 1);
        ck_assert_int_eq(dec_fixed(t, n, got), -1);
        if (z > 0) ck_assert_int_eq(dec_fixed(s + 1, n, got), -1);
      }
    }
  }
}
END_TEST

START_TEST(test_decode_rejects) {
  uint8_t out[64];
  char s[200];
  const char *pid = "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe";
  const char bad[] = {'0', 'O', 'I', 'l', '+', '/', ' ', '\n', '-', '_', (char)0x80, (char)0xff};
  size_t i;

  ck_assert_int_eq(base58_decode_32("", out), -1);
  ck_assert_int_eq(base58_decode_64("", out), -1);
  ck_assert_int_eq(base58_decode_ref("", out, 32), 0); /* zero bytes, not 32 */
  /* characters outside the alphabet, at the front, middle and end */
  for (i = 0; i < sizeof bad; i++) {
    size_t pos[3] = {0, 20, 42}, p;
    for (p = 0; p < 3; p++) {
      snprintf(s, sizeof s, "%s", pid);
      s[pos[p]] = bad[i];
      ck_assert_msg(base58_decode_32(s, out) == -1, "accepted 0x%02x at %zu", (unsigned char)bad[i], pos[p]);
      ck_assert_int_eq(base58_decode_ref(s, out, 32), -1);
    }
  }
  /* too short: 31 zero bytes; a 31-byte value; too long: 45 characters */
  ck_assert_int_eq(base58_decode_32("1111111111111111111111111111111", out), -1);
  ck_assert_int_eq(base58_decode_32("111111111111111111111111111111111", out), -1); /* 33 ones */
  ck_assert_int_eq(base58_decode_32("2222222222222222222222222222222222222222222", out), -1);
  ck_assert_int_eq(base58_decode_32("kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe1", out), -1);
  ck_assert_int_eq(base58_decode_32("11kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe", out), -1);
  /* values of 33 bytes: 2^256 exactly, and the largest 44-digit string */
  ck_assert_int_eq(base58_decode_32("JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFH", out), -1);
  ck_assert_int_eq(base58_decode_32("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", out), -1);
  ck_assert_int_eq(base58_decode_64(
      "67rpwLCuS5DGA8KGZXKsVQ7dnPb9goRLoKfgGbLfQg9WoLUgNY77E2jT11fem3coV9nAkguBACzrU1iyZM4B8roR", out), -1);
  memset(s, 'z', 88);
  s[88] = '\0';
  ck_assert_int_eq(base58_decode_64(s, out), -1);
  /* a 32-byte key is not a 64-byte signature and vice versa */
  ck_assert_int_eq(base58_decode_64(pid, out), -1);
  ck_assert_int_eq(base58_decode_32(
      "4zExa66hUSr28i2ma6EJwEsm3nZo4VFryEyRYE5Zrr4Q6dZpP1ctzsoMqUhLnp6iHGPp5MB722rZXRBKg927WXN9", out), -1);
  /* a very long string is rejected without reading it all */
  memset(s, '1', sizeof s - 1);
  s[sizeof s - 1] = '\0';
  ck_assert_int_eq(base58_decode_32(s, out), -1);
  ck_assert_int_eq(base58_decode_64(s, out), -1);
  /* the reference decoder respects outsz */
  ck_assert_int_eq(base58_decode_ref(pid, out, 31), -1);
  ck_assert_int_eq(base58_decode_ref("11", out, 1), -1);
}
END_TEST

/* Deterministic random bytes for the diff tests. */
static uint8_t *det_bytes(size_t n, uint8_t tag) {
  unsigned char seed[randombytes_SEEDBYTES];
  uint8_t *p = malloc(n);
  ck_assert_ptr_nonnull(p);
  memset(seed, 0x5a, sizeof seed);
  seed[0] = tag;
  randombytes_buf_deterministic(p, n, seed);
  return p;
}

#define DIFF_ITERS 100000

/* Random values with random leading-zero counts: fast encode == reference
 * encode, fast decode(encoding) == value. */
static void diff_roundtrip(size_t n, uint8_t tag) {
  size_t per = n + 2, i;
  uint8_t *rnd = det_bytes((size_t)DIFF_ITERS * per, tag);
  for (i = 0; i < DIFF_ITERS; i++) {
    const uint8_t *r = rnd + i * per;
    uint8_t in[64], got[64];
    char fast[BASE58_ENCODED_64_SZ], ref[2 * 64 + 1];
    size_t z = r[0] % (n + 1), lf, lr;
    memcpy(in, r + 2, n);
    if (r[1] < 16) memset(in, 0xff, n);    /* near the maximum */
    else if (r[1] < 32) memset(in, 0, n);  /* small values */
    if (r[1] < 32 && z < n) in[n - 1] = r[2];
    if (r[1] >= 32 && r[1] < 64) z = 0;    /* more full-width values */
    memset(in, 0, z);
    lf = enc_fixed(in, n, fast);
    lr = base58_encode_ref(in, n, ref);
    ck_assert_uint_eq(lf, lr);
    ck_assert_str_eq(fast, ref);
    ck_assert_int_eq(dec_fixed(ref, n, got), 0);
    ck_assert_mem_eq(got, in, n);
  }
  free(rnd);
}

/* Mutated encodings: the fast decoder accepts exactly what the reference
 * decodes to n bytes, with the same bytes. */
static void diff_decode(size_t n, uint8_t tag) {
  size_t per = n + 6, i, accepted = 0;
  uint8_t *rnd = det_bytes((size_t)DIFF_ITERS * per, tag);
  for (i = 0; i < DIFF_ITERS; i++) {
    const uint8_t *r = rnd + i * per;
    uint8_t in[64], fast[64], ref[128];
    char s[2 * 64 + 8];
    size_t len, pos, z = r[0] % 8u;
    int rf, rr;
    memcpy(in, r + 6, n);
    memset(in, 0, z < n ? z : n);
    len = base58_encode_ref(in, n, s);
    pos = len ? r[2] % len : 0;
    switch (r[1] % 8u) {
      case 0: /* replace a character with a random alphabet character */
        s[pos] = B58_ALPHA[r[3] % 58u];
        break;
      case 1: /* insert one */
        memmove(s + pos + 1, s + pos, len - pos + 1);
        s[pos] = B58_ALPHA[r[3] % 58u];
        break;
      case 2: /* delete one */
        memmove(s + pos, s + pos + 1, len - pos);
        break;
      case 3: /* one more leading '1' */
        memmove(s + 1, s, len + 1);
        s[0] = '1';
        break;
      case 4: /* first character into '1' */
        s[0] = '1';
        break;
      case 5: /* a character outside the alphabet */
        s[pos] = (char)(r[3] & 0x7f ? r[3] : '0');
        if (strchr(B58_ALPHA, s[pos])) s[pos] = 'l';
        break;
      case 6: /* the top digit raised */
        s[z] = B58_ALPHA[57 - r[3] % 4u];
        break;
      default: /* unchanged */
        break;
    }
    rf = dec_fixed(s, n, fast);
    rr = base58_decode_ref(s, ref, sizeof ref);
    ck_assert_msg(rf == (rr == (int)n ? 0 : -1), "'%s': fast %d ref %d", s, rf, rr);
    if (rf == 0) {
      ck_assert_mem_eq(fast, ref, n);
      accepted++;
    }
  }
  /* both outcomes are well represented */
  ck_assert_uint_gt(accepted, DIFF_ITERS / 5);
  ck_assert_uint_lt(accepted, DIFF_ITERS * 4 / 5);
  free(rnd);
}

START_TEST(test_diff_roundtrip_32) { diff_roundtrip(32, 1); }
END_TEST
START_TEST(test_diff_roundtrip_64) { diff_roundtrip(64, 2); }
END_TEST
START_TEST(test_diff_decode_32) { diff_decode(32, 3); }
END_TEST
START_TEST(test_diff_decode_64) { diff_decode(64, 4); }
END_TEST

/* The reference codec on other lengths (it is the test oracle). */
START_TEST(test_ref_any_length) {
  uint8_t out[8];
  char s[32];
  const uint8_t hello[] = {'h', 'e', 'l', 'l', 'o'};
  const uint8_t z2[] = {0, 0, 1};
  ck_assert_uint_eq(base58_encode_ref(hello, 5, s), 7);
  ck_assert_str_eq(s, "Cn8eVZg");
  ck_assert_int_eq(base58_decode_ref("Cn8eVZg", out, sizeof out), 5);
  ck_assert_mem_eq(out, hello, 5);
  ck_assert_uint_eq(base58_encode_ref(z2, 3, s), 3);
  ck_assert_str_eq(s, "112");
  ck_assert_uint_eq(base58_encode_ref(hello, 0, s), 0);
  ck_assert_str_eq(s, "");
  ck_assert_int_eq(base58_decode_ref("Cn8eVZg", out, 4), -1);
}
END_TEST

/* One base58 rule for key text (base58_text_ok): the text decodes to
 * exactly 32 (pubkey) or 64 (signature) bytes. Alphabet-and-length checks
 * accepted text that overflows 32 bytes. */
START_TEST(test_text_ok_one_rule) {
  ck_assert_int_eq(base58_text_ok("11111111111111111111111111111111", 32), 1);
  ck_assert_int_eq(base58_text_ok("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", 32), 1);
  ck_assert_int_eq(base58_text_ok("1111111111111111111111111111112", 32), 0); /* 31 chars */
  char z44[45], z88[89], z43[44];
  memset(z44, 'z', 44);
  z44[44] = '\0';
  memset(z88, 'z', 88);
  z88[88] = '\0';
  memset(z43, 'z', 43);
  z43[43] = '\0';
  /* alphabet and length fine, value too large: not a key */
  ck_assert_int_eq(base58_text_ok(z44, 32), 0);
  ck_assert_int_eq(base58_text_ok(z88, 64), 0);
  ck_assert_int_eq(base58_text_ok(z43, 32), 1); /* 58^43 - 1 < 2^256 */
  /* a real signature; and keys of the other size are refused */
  uint8_t sig[64];
  char s64[BASE58_ENCODED_64_SZ], s32[BASE58_ENCODED_32_SZ];
  for (size_t i = 0; i < 64; i++) sig[i] = (uint8_t)(i * 37 + 11);
  base58_encode_64(sig, s64);
  base58_encode_32(sig, s32);
  ck_assert_int_eq(base58_text_ok(s64, 64), 1);
  ck_assert_int_eq(base58_text_ok(s64, 32), 0);
  ck_assert_int_eq(base58_text_ok(s32, 32), 1);
  ck_assert_int_eq(base58_text_ok(s32, 64), 0);
  ck_assert_int_eq(base58_text_ok(s32, 33), 0);
  /* characters outside the alphabet, empty, NULL */
  char bad[BASE58_ENCODED_32_SZ];
  static const char outside[] = "0OIl+/ \n";
  for (size_t k = 0; k < sizeof outside - 1; k++) {
    memcpy(bad, s32, sizeof bad);
    bad[5] = outside[k];
    ck_assert_msg(base58_text_ok(bad, 32) == 0, "char 0x%02x", (unsigned)outside[k]);
  }
  ck_assert_int_eq(base58_text_ok("", 32), 0);
  ck_assert_int_eq(base58_text_ok(NULL, 32), 0);
  (void)B58_ALPHA;
}
END_TEST

static Suite *base58_suite(void) {
  Suite *s = suite_create("base58");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_known_vectors);
  tcase_add_test(tc, test_fixture_signature_roundtrip);
  tcase_add_test(tc, test_leading_zeros);
  tcase_add_test(tc, test_decode_rejects);
  tcase_add_test(tc, test_ref_any_length);
  tcase_add_test(tc, test_diff_roundtrip_32);
  tcase_add_test(tc, test_diff_roundtrip_64);
  tcase_add_test(tc, test_diff_decode_32);
  tcase_add_test(tc, test_diff_decode_64);
  tcase_add_test(tc, test_text_ok_one_rule);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  if (sodium_init() < 0) return 1;
  return tu_run_suite(base58_suite());
}
