/* The strict flag parser config_parse_u64 accepts exactly the plain
 * decimal numbers (digits only) that fit in 64 bits, with their value.
 *
 * Input: one string (truncated at the first NUL byte). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_u64(const char *s) {
  unsigned long long v = 0;
  int ok = config_parse_u64(s, &v) == 0;
  size_t n = strlen(s), i;
  int digits = n > 0;
  for (i = 0; i < n && digits; i++) digits = s[i] >= '0' && s[i] <= '9';
  if (ok && !digits) abort(); /* only plain decimal digits are a u64 flag */
  if (digits) {
    char *end;
    errno = 0;
    unsigned long long ref = strtoull(s, &end, 10);
    if (ok != (errno == 0)) abort();
    if (ok && v != ref) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  check_u64(s);
  free(s);
  return 0;
}
