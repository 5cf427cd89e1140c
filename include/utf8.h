/* UTF-8 validation: the one implementation used by the decoder (on-chain
 * strings), the websocket message checks and every other text check.
 * Valid means RFC 3629: no overlong forms, no surrogates (U+D800..DFFF),
 * nothing above U+10FFFF, no stray continuation bytes. Pure. */
#ifndef CBI_UTF8_H
#define CBI_UTF8_H

#include <stddef.h>
#include <stdint.h>

enum {
  UTF8_OK = 0,
  UTF8_ERR_INVALID = -1, /* not UTF-8 at *bad */
  UTF8_ERR_NUL = -2      /* a 0x00 byte at *bad (only with reject_nul) */
};

/* Checks s[0..n). reject_nul != 0 also refuses 0x00 bytes. Returns
 * UTF8_OK, or a negative UTF8_ERR_* with *bad (may be NULL) set to the
 * offset of the first offending byte (the lead byte of a bad sequence). */
int utf8_check(const uint8_t *s, size_t n, int reject_nul, size_t *bad);

/* 1 when p[0..n) is valid UTF-8 (0x00 allowed), else 0 with the offset of
 * the first bad byte in *bad_off (may be NULL). */
int utf8_valid(const uint8_t *p, size_t n, size_t *bad_off);

/* "ok", "invalid UTF-8", "NUL byte", or "unknown error". */
const char *utf8_strerror(int code);

#endif
