/* base58: decoding arbitrary strings never crashes and the fixed-size
 * decoders agree with the reference bignum decoder; encoding 32 / 64 bytes
 * agrees with the reference encoder and decodes back to the same bytes.
 *
 * Input: any bytes. The whole input (NUL-terminated) is decoded as a
 * string; its first 32 and 64 bytes (zero-padded) are round-tripped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_decode(const char *s, size_t n) {
  uint8_t fast[64], ref[64];
  int rf = n == 32 ? base58_decode_32(s, fast) : base58_decode_64(s, fast);
  int rr = base58_decode_ref(s, ref, n);
  /* the fixed decoder accepts exactly the strings that decode to n bytes */
  if ((rf == 0) != (rr == (int)n)) abort();
  if (rf == 0 && memcmp(fast, ref, n) != 0) abort();
  if (rf == 0) {
    /* and a decoded value encodes back to the same text */
    char enc[BASE58_ENCODED_64_SZ];
    if (n == 32) base58_encode_32(fast, enc);
    else base58_encode_64(fast, enc);
    if (strcmp(enc, s) != 0) abort();
  }
}

static void check_roundtrip(const uint8_t *in, size_t n) {
  char fast[BASE58_ENCODED_64_SZ], ref[2 * 64 + 1];
  uint8_t back[64];
  size_t lf = n == 32 ? base58_encode_32(in, fast) : base58_encode_64(in, fast);
  size_t lr = base58_encode_ref(in, n, ref);
  if (lf != lr || strcmp(fast, ref) != 0) abort();
  if (lf != strlen(fast) || lf > (n == 32 ? BASE58_ENCODED_32_MAX : BASE58_ENCODED_64_MAX)) abort();
  if ((n == 32 ? base58_decode_32(fast, back) : base58_decode_64(fast, back)) != 0) abort();
  if (memcmp(back, in, n) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  uint8_t buf[64];
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  check_decode(s, 32);
  check_decode(s, 64);
  free(s);

  memset(buf, 0, sizeof buf);
  memcpy(buf, data, size < 64 ? size : 64);
  check_roundtrip(buf, 32);
  check_roundtrip(buf, 64);
  /* the same bytes shifted right: exercises leading zero bytes */
  if (size > 0 && size < 64) {
    uint8_t sh[64];
    memset(sh, 0, sizeof sh);
    memcpy(sh + 64 - size, data, size);
    check_roundtrip(sh + 32, 32);
    check_roundtrip(sh, 64);
  }
  return 0;
}
