/* UTF-8 validation (utf8.h). */
#include "utf8.h"

#include <string.h>

int utf8_check(const uint8_t *s, size_t n, int reject_nul, size_t *bad) {
  size_t i = 0;
  int rc = UTF8_OK;
  while (i < n) {
    if (n - i >= 8) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      /* All ASCII and no zero byte: skip the word. */
      if (((w | ((w - 0x0101010101010101ULL) & ~w)) & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    uint8_t b = s[i];
    if (b < 0x80) {
      if (b == 0 && reject_nul) {
        rc = UTF8_ERR_NUL;
        goto out;
      }
      i++;
      continue;
    }
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b == 0xE0) {
      need = 2;
      lo = 0xA0; /* overlong */
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
      need = 2;
    } else if (b == 0xED) {
      need = 2;
      hi = 0x9F; /* surrogates */
    } else if (b == 0xF0) {
      need = 3;
      lo = 0x90; /* overlong */
    } else if (b >= 0xF1 && b <= 0xF3) {
      need = 3;
    } else if (b == 0xF4) {
      need = 3;
      hi = 0x8F; /* above U+10FFFF */
    } else {
      rc = UTF8_ERR_INVALID; /* continuation byte, C0/C1 overlong, F5..FF */
      goto out;
    }
    if (need > n - i - 1 || s[i + 1] < lo || s[i + 1] > hi) {
      rc = UTF8_ERR_INVALID;
      goto out;
    }
    for (size_t k = 2; k <= need; k++)
      if ((s[i + k] & 0xC0) != 0x80) {
        rc = UTF8_ERR_INVALID;
        goto out;
      }
    i += need + 1;
  }
  return UTF8_OK;
out:
  if (bad) *bad = i;
  return rc;
}

int utf8_valid(const uint8_t *p, size_t n, size_t *bad_off) {
  return utf8_check(p, n, 0, bad_off) == UTF8_OK;
}

const char *utf8_strerror(int code) {
  switch (code) {
  case UTF8_OK: return "ok";
  case UTF8_ERR_INVALID: return "invalid UTF-8";
  case UTF8_ERR_NUL: return "NUL byte";
  default: return "unknown error";
  }
}
