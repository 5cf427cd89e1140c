/* The generic layout walker behind decoder.h: validates Borsh / repr(C)
 * bytes against a compiled IDL node and optionally builds the JSON value.
 * Internal to the decoding modules (decoder.c, decode_cb.c). */
#ifndef CBI_DECODE_BORSH_H
#define CBI_DECODE_BORSH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "decoder.h"
#include "idl_layout.h"

/* Deepest nesting the walker follows (compiled layouts are shallower). */
#define DECODE_MAX_DEPTH 256

/* One step of the field path, kept on the C stack while walking: nothing
 * is formatted unless an error is reported. */
typedef enum { DECODE_PF_NAME = 0, DECODE_PF_INDEX, DECODE_PF_TUPLE } decode_pf_kind_t;

typedef struct decode_pframe {
  const struct decode_pframe *up;
  const char *name; /* DECODE_PF_NAME */
  size_t index;     /* DECODE_PF_INDEX ("[i]") / DECODE_PF_TUPLE (".i") */
  int kind;
} decode_pframe_t;

typedef struct decode_ctx {
  const idl_t *idl;
  const uint8_t *data;
  size_t len;
  const char *type; /* definition name reported in errors */
  decode_error_t *err;
} decode_ctx_t;

/* Walks node ni starting at *off (<= len); pf is the path so far (NULL at
 * the top of a definition). On success advances *off past
 * the value and, when out is non-NULL, stores a new JSON value there
 * (caller owns). On failure returns a negative decode_code_t, fills
 * c->err (type, path from pf, offset) and leaves *out NULL. */
int decode_borsh_walk(const decode_ctx_t *c, uint32_t ni, size_t *off, json_t **out,
                      const decode_pframe_t *pf, unsigned depth);

/* Reports an error: fills c->err with code, c->type, the path of pf (plus
 * leaf when non-NULL) and offset; detail formatted from fmt. Returns code. */
int decode_borsh_fail(const decode_ctx_t *c, int code, const decode_pframe_t *pf,
                      const char *leaf, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Reports DECODE_ERR_DISCRIMINATOR for data whose discriminator matches
 * no definition; what is "account", "instruction" or "event" (the error's
 * type). Returns the code. (decoder.c) */
int decode_unknown_disc(decode_error_t *err, const char *what, const uint8_t *data, size_t len);

/* Checks that s[0..n) is valid UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF) without NUL bytes. Returns 0, or
 * DECODE_ERR_UTF8 / DECODE_ERR_NUL with *bad set to the offset of the
 * first offending byte. */
int decode_utf8_check(const uint8_t *s, size_t n, size_t *bad);

/* Returns 1 when p[0..n) are all zero, else 0 with *first set to the
 * offset of the first non-zero byte. */
int decode_all_zero(const uint8_t *p, size_t n, size_t *first);

/* Handles the bytes after a decoded layout: zero bytes are allowed;
 * non-zero ones are an error (DECODE_ERR_TRAILING at their offset) unless
 * allow_nonzero. Returns 0 or the error code. */
int decode_borsh_trailing(const decode_ctx_t *c, size_t off, int allow_nonzero);

#endif
