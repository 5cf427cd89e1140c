/* A plain UTF-8 reference for the tests and the fuzz target: decode code
 * point by code point (RFC 3629 by definition) and compare with utf8.h. */
#ifndef CBI_TEST_UTF8_REF_H
#define CBI_TEST_UTF8_REF_H

#include <stddef.h>
#include <stdint.h>

/* 1 if p[0..n) is valid UTF-8 (0x00 allowed), else 0 with *bad = the
 * offset of the first bad sequence's lead byte. */
static inline int utf8_ref_valid(const uint8_t *p, size_t n, size_t *bad) {
  size_t i = 0;
  while (i < n) {
    uint32_t c = p[i], cp, min;
    size_t need;
    if (c < 0x80) {
      i++;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      need = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      need = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      need = 3, cp = c & 0x07, min = 0x10000;
    } else {
      goto fail;
    }
    if (n - i - 1 < need) goto fail;
    for (size_t k = 1; k <= need; k++) {
      if ((p[i + k] & 0xC0) != 0x80) goto fail;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto fail;
    i += need + 1;
  }
  return 1;
fail:
  *bad = i;
  return 0;
}

#endif
