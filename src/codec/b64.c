/* Standard padded base64 via libsodium (see b64.h). */
#include "b64.h"

#include <sodium.h>
#include <stdlib.h>

size_t b64_decoded_max(size_t inlen) { return inlen / 4 * 3; }

/* libsodium 1.0.18 decodes every byte 0x80..0xFF as '/' (63) instead of
 * rejecting it; its ASCII handling is strict. Returns 1 when no byte of
 * in[0..n) has the high bit set. */
static int b64_ascii_only(const char *in, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)in[i] >= 0x80) return 0;
  return 1;
}

int b64_decode_into(const char *in, size_t inlen, uint8_t *out, size_t outsz, size_t *outlen) {
  size_t bin_len = 0;
  if (!in || !outlen || (!out && outsz > 0)) return -1;
  if (inlen == 0) {
    *outlen = 0;
    return 0;
  }
  if (inlen % 4 != 0 || !b64_ascii_only(in, inlen)) return -1;
  /* b64_end == NULL: the whole input must be consumed; ignore == NULL:
   * no whitespace or other characters are skipped */
  if (sodium_base642bin(out, outsz, in, inlen, NULL, &bin_len, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return -1;
  *outlen = bin_len;
  return 0;
}

int b64_decode(const char *in, size_t inlen, uint8_t **out, size_t *outlen) {
  uint8_t *buf = NULL;
  size_t cap, n = 0;
  int rc = -1;
  if (!out || !outlen) return -1;
  *out = NULL;
  if (!in) goto out;
  cap = b64_decoded_max(inlen);
  buf = malloc(cap > 0 ? cap : 1);
  if (!buf) goto out;
  if (b64_decode_into(in, inlen, buf, cap, &n) != 0) goto out;
  *out = buf;
  *outlen = n;
  buf = NULL;
  rc = 0;
out:
  free(buf);
  return rc;
}

char *b64_encode(const uint8_t *in, size_t n) {
  char *s;
  size_t sz;
  if (!in && n > 0) return NULL;
  if (n > SIZE_MAX / 2) return NULL;
  sz = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
  s = malloc(sz);
  if (!s) return NULL;
  if (n == 0) {
    s[0] = '\0';
    return s;
  }
  sodium_bin2base64(s, sz, in, n, sodium_base64_VARIANT_ORIGINAL);
  return s;
}
