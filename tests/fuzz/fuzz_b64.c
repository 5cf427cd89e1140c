/* base64 (account data, transactions): decoding arbitrary text never
 * crashes or leaks; accepted text is canonical (re-encodes to itself) and
 * decodes the same into a caller buffer; any bytes round-trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *dec = NULL, *dec2 = NULL;
  size_t n = 0, n2 = 0;
  char *enc;

  if (b64_decode((const char *)data, size, &dec, &n) == 0) {
    if (!dec || n > b64_decoded_max(size)) abort();
    enc = b64_encode(dec, n);
    if (!enc || strlen(enc) != size || memcmp(enc, data, size) != 0) abort();
    free(enc);
    dec2 = malloc(n + 1);
    if (!dec2) abort();
    if (b64_decode_into((const char *)data, size, dec2, n, &n2) != 0 || n2 != n ||
        memcmp(dec2, dec, n) != 0)
      abort();
    /* one byte short must fail */
    if (n > 0 && b64_decode_into((const char *)data, size, dec2, n - 1, &n2) == 0) abort();
    free(dec2);
    free(dec);
  } else if (dec != NULL) {
    abort();
  }

  enc = b64_encode(data, size);
  if (!enc) abort();
  if (b64_decode(enc, strlen(enc), &dec, &n) != 0 || n != size || memcmp(dec, data, size) != 0)
    abort();
  free(dec);
  free(enc);
  return 0;
}
