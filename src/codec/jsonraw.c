/* Raw JSON text scanning that keeps literals byte-exact (json_t-free).
 *
 * Why raw text: jsonx_loads() turns integers above INT64_MAX into JSON
 * strings, so re-serialising a parsed document would change the wire
 * format ("rentEpoch":18446744073709551615 would become a string). Code
 * that must copy or read JSON exactly (the recorder, the replay store, the
 * websocket fast path) works on spans of the original text instead. */
#include "jsonraw.h"

#include <stdlib.h>
#include <string.h>

int jsonraw_is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t jsonraw_skip_ws(const char *s, size_t len, size_t pos) {
  while (pos < len && jsonraw_is_ws(s[pos])) pos++;
  return pos;
}

/* pos at '"'; returns the position after the closing quote, or len + 1 if
 * unterminated. */
static size_t raw_skip_string(const char *s, size_t len, size_t pos) {
  pos++;
  while (pos < len) {
    if (s[pos] == '\\') {
      pos += 2;
      continue;
    }
    if (s[pos] == '"') return pos + 1;
    pos++;
  }
  return len + 1;
}

/* Skips one value starting at pos (no leading whitespace). Returns the end
 * position, or len + 1 if malformed. */
static size_t raw_skip_value(const char *s, size_t len, size_t pos) {
  if (pos >= len) return len + 1;
  char c = s[pos];
  if (c == '"') return raw_skip_string(s, len, pos);
  if (c == '{' || c == '[') {
    size_t depth = 0;
    while (pos < len) {
      c = s[pos];
      if (c == '"') {
        pos = raw_skip_string(s, len, pos);
        if (pos > len) return len + 1;
        continue;
      }
      if (c == '{' || c == '[') depth++;
      else if (c == '}' || c == ']') {
        if (--depth == 0) return pos + 1;
      }
      pos++;
    }
    return len + 1;
  }
  if (c == '}' || c == ']' || c == ',' || c == ':') return len + 1;
  size_t start = pos;
  while (pos < len && !jsonraw_is_ws(s[pos]) && s[pos] != ',' && s[pos] != '}' && s[pos] != ']' &&
         s[pos] != ':')
    pos++;
  return pos > start ? pos : len + 1;
}

int jsonraw_iter_init(jsonraw_iter_t *it, const char *s, size_t len) {
  size_t pos = jsonraw_skip_ws(s, len, 0);
  if (pos >= len || (s[pos] != '{' && s[pos] != '[')) return -1;
  it->s = s;
  it->len = len;
  it->close = s[pos] == '{' ? '}' : ']';
  it->pos = pos + 1;
  it->count = 0;
  return 0;
}

int jsonraw_iter_next(jsonraw_iter_t *it, jsonraw_span_t *key, jsonraw_span_t *val) {
  const char *s = it->s;
  size_t len = it->len;
  size_t pos = jsonraw_skip_ws(s, len, it->pos);
  if (pos >= len) return -1;
  if (s[pos] == it->close) {
    it->pos = pos;
    return 0;
  }
  if (it->count > 0) {
    if (s[pos] != ',') return -1;
    pos = jsonraw_skip_ws(s, len, pos + 1);
    if (pos >= len) return -1;
  }
  if (key) {
    key->ptr = NULL;
    key->len = 0;
  }
  if (it->close == '}') {
    if (s[pos] != '"') return -1;
    size_t kend = raw_skip_string(s, len, pos);
    if (kend > len) return -1;
    if (key) {
      key->ptr = s + pos + 1;
      key->len = kend - pos - 2;
    }
    pos = jsonraw_skip_ws(s, len, kend);
    if (pos >= len || s[pos] != ':') return -1;
    pos = jsonraw_skip_ws(s, len, pos + 1);
  }
  size_t vend = raw_skip_value(s, len, pos);
  if (vend > len) return -1;
  val->ptr = s + pos;
  val->len = vend - pos;
  it->pos = vend;
  it->count++;
  return 1;
}

int jsonraw_member(const char *s, size_t len, const char *key, jsonraw_span_t *val) {
  jsonraw_iter_t it;
  jsonraw_span_t k, v;
  size_t klen = strlen(key);
  if (jsonraw_iter_init(&it, s, len) != 0 || it.close != '}') return -1;
  for (;;) {
    int r = jsonraw_iter_next(&it, &k, &v);
    if (r <= 0) return r;
    if (k.len == klen && memcmp(k.ptr, key, klen) == 0) {
      *val = v;
      return 1;
    }
  }
}

int jsonraw_plain_string(const jsonraw_span_t *v, jsonraw_span_t *content) {
  if (v->len < 2 || v->ptr[0] != '"' || v->ptr[v->len - 1] != '"') return 0;
  for (size_t i = 1; i + 1 < v->len; i++)
    if (v->ptr[i] == '\\' || (unsigned char)v->ptr[i] < 0x20) return 0;
  content->ptr = v->ptr + 1;
  content->len = v->len - 2;
  return 1;
}

size_t jsonraw_minify(const char *s, size_t len, char *out) {
  size_t o = 0, i = 0;
  while (i < len) {
    char c = s[i];
    if (c == '"') {
      out[o++] = s[i++];
      while (i < len && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < len) out[o++] = s[i++];
        out[o++] = s[i++];
      }
      if (i < len) out[o++] = s[i++];
      continue;
    }
    if (!jsonraw_is_ws(c)) out[o++] = c;
    i++;
  }
  return o;
}

/* ---- growable text buffer ------------------------------------------------ */

void jsonraw_buf_add(jsonraw_buf_t *b, const char *s, size_t n) {
  if (b->oom) return;
  if (n > b->cap - b->len) {
    size_t cap = b->cap ? b->cap : 256;
    while (n > cap - b->len) {
      if (cap > SIZE_MAX / 2) {
        b->oom = 1;
        return;
      }
      cap *= 2;
    }
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

void jsonraw_buf_adds(jsonraw_buf_t *b, const char *s) { jsonraw_buf_add(b, s, strlen(s)); }

void jsonraw_buf_add_min(jsonraw_buf_t *b, const char *s, size_t n) {
  /* reserve n, then minify in place */
  size_t at = b->len;
  jsonraw_buf_add(b, s, n);
  if (b->oom) return;
  b->len = at + jsonraw_minify(s, n, b->p + at);
}

int jsonraw_buf_add_json(jsonraw_buf_t *b, const json_t *v) {
  char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!d) return -1;
  jsonraw_buf_adds(b, d);
  free(d);
  return 0;
}

/* Appends the members of the raw object at s, except the listed keys,
 * minified, comma-separated, without braces. Returns 0 or -1. */
int jsonraw_buf_add_members(jsonraw_buf_t *b, const char *s, size_t len, const char *const *skip) {
  jsonraw_iter_t it;
  jsonraw_span_t k, v;
  int n = 0;
  if (jsonraw_iter_init(&it, s, len) != 0 || it.close != '}') return -1;
  for (;;) {
    int r = jsonraw_iter_next(&it, &k, &v);
    if (r < 0) return -1;
    if (r == 0) return 0;
    int skipped = 0;
    for (const char *const *q = skip; q && *q; q++)
      if (k.len == strlen(*q) && memcmp(k.ptr, *q, k.len) == 0) skipped = 1;
    if (skipped) continue;
    if (n++) jsonraw_buf_add(b, ",", 1);
    jsonraw_buf_add(b, "\"", 1);
    jsonraw_buf_add(b, k.ptr, k.len);
    jsonraw_buf_add(b, "\":", 2);
    jsonraw_buf_add_min(b, v.ptr, v.len);
  }
}

