/* Raw JSON text scanning that keeps literals byte-exact, and a growable
 * text buffer to build JSON from such spans.
 *
 * Why raw text: jsonx_loads() turns integers above INT64_MAX into JSON
 * strings, so re-serialising a parsed document would change the wire
 * format ("rentEpoch":18446744073709551615 would become a string). The
 * recorder, the replay store and the websocket fast path therefore copy or
 * read spans of the original text. Pure functions: no I/O, no allocation
 * except in jsonraw_buf_*. */
#ifndef CBI_JSONRAW_H
#define CBI_JSONRAW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct jsonraw_span {
  const char *ptr; /* borrowed */
  size_t len;
} jsonraw_span_t;

/* Iterates the members of a JSON object or the elements of a JSON array
 * given as raw text. The scanner checks structure only (brackets, quotes,
 * separators), not the full grammar: validate first where that matters.
 * Malformed text yields -1, never an out-of-bounds read. */
typedef struct jsonraw_iter {
  const char *s;
  size_t len, pos;
  char close; /* '}' or ']' */
  int count;
} jsonraw_iter_t;

/* 1 for the four JSON whitespace characters, else 0. */
int jsonraw_is_ws(char c);

/* The first position at or after pos (<= len) that is not whitespace. */
size_t jsonraw_skip_ws(const char *s, size_t len, size_t pos);

/* Positions it on the first member of the object/array that starts (after
 * whitespace) at s. Returns 0, or -1 if s is not an object or array. */
int jsonraw_iter_init(jsonraw_iter_t *it, const char *s, size_t len);

/* Next member: for objects *key is the key's raw text without the quotes
 * (escapes not decoded), for arrays key->ptr = NULL. *val is the raw value
 * text. Returns 1, 0 at the end, -1 if malformed. key may be NULL. */
int jsonraw_iter_next(jsonraw_iter_t *it, jsonraw_span_t *key, jsonraw_span_t *val);

/* Finds member key (plain ASCII, compared with the raw key text) of the
 * object at s. Returns 1 and *val, 0 if absent, -1 if malformed or not an
 * object. */
int jsonraw_member(const char *s, size_t len, const char *key, jsonraw_span_t *val);

/* A string value without escapes or control characters: returns 1 with
 * *content = the text between the quotes (borrowed from v), else 0. */
int jsonraw_plain_string(const jsonraw_span_t *v, jsonraw_span_t *content);

/* Copies s without whitespace outside strings into out (capacity >= len).
 * Returns the output length. */
size_t jsonraw_minify(const char *s, size_t len, char *out);

/* ---- growable text buffer ------------------------------------------------ */

/* Zero-initialise ({0}); p is malloc'ed (caller frees p). After an
 * allocation failure oom is set and further appends do nothing, so a
 * sequence of appends is checked once at the end. */
typedef struct jsonraw_buf {
  char *p;
  size_t len, cap;
  int oom;
} jsonraw_buf_t;

/* Appends n bytes / a NUL-terminated string. */
void jsonraw_buf_add(jsonraw_buf_t *b, const char *s, size_t n);
void jsonraw_buf_adds(jsonraw_buf_t *b, const char *s);

/* Appends the raw JSON text s[0..n) minified (jsonraw_minify). */
void jsonraw_buf_add_min(jsonraw_buf_t *b, const char *s, size_t n);

/* Appends v as compact JSON. Returns 0, or -1 if it cannot be encoded. */
int jsonraw_buf_add_json(jsonraw_buf_t *b, const json_t *v);

/* Appends the members of the raw object at s, except the keys listed in
 * skip (NULL-terminated; may be NULL), minified, comma-separated, without
 * braces. Returns 0, or -1 if s is not a well-formed object. */
int jsonraw_buf_add_members(jsonraw_buf_t *b, const char *s, size_t len, const char *const *skip);

#endif
