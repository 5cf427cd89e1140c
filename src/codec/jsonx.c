/* JSON in and out with exact 64-bit integers (see jsonx.h). */
#include "jsonx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hard cap on one document. */
#define JSONX_MAX_DOC ((size_t)256 * 1024 * 1024)

/* Nesting the literal scanner tracks; jansson refuses deeper documents
 * (JSON_PARSER_MAX_DEPTH is 2048), so scanning stops beyond this. */
#define JSONX_SCAN_DEPTH 4096

/* One pass over the document finding integer literals that do not fit
 * int64 in value position, outside strings. */
typedef struct {
  const char *text;
  size_t len;
  char *out;        /* pass 2: rewritten document, or NULL */
  size_t out_len;   /* bytes written to out */
  size_t count;     /* literals found */
  size_t stop_at;   /* mapping: a byte offset in the rewritten text */
  size_t before;    /* mapping: literals whose rewritten form ends by stop_at */
} jsonx_scan_t;

static int jsonx_fits_i64(const char *digits, size_t nd, int neg) {
  if (nd < 19) return 1;
  if (nd > 19) return 0;
  return memcmp(digits, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

static int jsonx_is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int jsonx_is_delim(char c) { return jsonx_is_ws(c) || c == ',' || c == ']' || c == '}'; }

/* Copies text[from, to) to the output in pass 2. */
static void jsonx_copy(jsonx_scan_t *s, size_t from, size_t to) {
  if (s->out && to > from) {
    memcpy(s->out + s->out_len, s->text + from, to - from);
    s->out_len += to - from;
  }
}

static void jsonx_scan(jsonx_scan_t *s) {
  unsigned char stack[JSONX_SCAN_DEPTH];
  size_t depth = 0, i = 0, copied = 0;
  const char *t = s->text;
  size_t len = s->len;
  char prev = 0; /* last significant character outside strings; 0 = start */

  while (i < len) {
    char c = t[i];
    if (c == '"') {
      i++;
      while (i < len && t[i] != '"') i += (t[i] == '\\') ? 2 : 1;
      i++; /* closing quote (or past the end when unterminated) */
      prev = '"';
      continue;
    }
    if (jsonx_is_ws(c)) {
      i++;
      continue;
    }
    if (c == '{' || c == '[') {
      if (depth == JSONX_SCAN_DEPTH) break; /* the parser rejects this depth */
      stack[depth++] = (unsigned char)c;
      prev = c;
      i++;
      continue;
    }
    if (c == '}' || c == ']') {
      if (depth > 0) depth--;
      prev = c;
      i++;
      continue;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      int value_pos = (prev == 0 && depth == 0) || prev == ':' || prev == '[' ||
                      (prev == ',' && depth > 0 && stack[depth - 1] == '[');
      size_t start = i, d0, j;
      int neg = c == '-';
      j = i + (size_t)neg;
      d0 = j;
      while (j < len && t[j] >= '0' && t[j] <= '9') j++;
      if (j < len && (t[j] == '.' || t[j] == 'e' || t[j] == 'E')) {
        /* a real: leave it, skip the whole token */
        while (j < len && ((t[j] >= '0' && t[j] <= '9') || t[j] == '.' || t[j] == 'e' ||
                           t[j] == 'E' || t[j] == '+' || t[j] == '-'))
          j++;
      } else if (value_pos && j > d0 && !(t[d0] == '0' && j - d0 > 1) &&
                 (j == len || jsonx_is_delim(t[j])) && !jsonx_fits_i64(t + d0, j - d0, neg)) {
        /* end of this literal in the rewritten text */
        if (j + 2 * s->count + 2 <= s->stop_at) s->before++;
        s->count++;
        if (s->out) {
          jsonx_copy(s, copied, start);
          s->out[s->out_len++] = '"';
          jsonx_copy(s, start, j);
          s->out[s->out_len++] = '"';
          copied = j;
        }
      }
      if (j == i) j++;
      i = j;
      prev = '0';
      continue;
    }
    prev = c;
    i++;
  }
  jsonx_copy(s, copied, len);
}

/* Line and column of byte offset pos in text, counted like jansson
 * (1-based lines; columns in UTF-8 characters). */
static void jsonx_line_col(const char *text, size_t len, size_t pos, int *line, int *col) {
  size_t i;
  int l = 1, c = 0;
  if (pos > len) pos = len;
  for (i = 0; i < pos; i++) {
    unsigned char ch = (unsigned char)text[i];
    if (ch == '\n') {
      l++;
      c = 0;
    } else if (ch < 0x80 || ch > 0xBF) {
      c++;
    }
  }
  *line = l;
  *col = c;
}

static void jsonx_err(char *err, size_t errsz, int line, int col, const char *msg) {
  if (err && errsz > 0) {
    int n = snprintf(err, errsz, "line %d column %d: %s", line, col, msg);
    if (n < 0) err[0] = '\0';
  }
}

json_t *jsonx_loads(const char *text, size_t len, char *err, size_t errsz) {
  jsonx_scan_t s;
  json_error_t jerr;
  json_t *root = NULL;
  char *buf = NULL;
  const size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;

  if (err && errsz > 0) err[0] = '\0';
  if (text == NULL) {
    jsonx_err(err, errsz, 0, 0, "no document");
    goto out;
  }
  if (len > JSONX_MAX_DOC) {
    jsonx_err(err, errsz, 0, 0, "document larger than 268435456 bytes");
    goto out;
  }
  memset(&s, 0, sizeof s);
  s.text = text;
  s.len = len;
  jsonx_scan(&s);
  if (s.count == 0) {
    root = json_loadb(text, len, flags, &jerr);
    if (!root) jsonx_err(err, errsz, jerr.line, jerr.column, jerr.text);
    goto out;
  }

  buf = malloc(len + 2 * s.count);
  if (!buf) {
    jsonx_err(err, errsz, 0, 0, "out of memory");
    goto out;
  }
  s.out = buf;
  s.count = 0;
  jsonx_scan(&s);
  root = json_loadb(buf, s.out_len, flags, &jerr);
  if (!root) {
    /* Map the position in the rewritten text back to the original: each
     * literal before it added two quote characters. */
    size_t pos = jerr.position > 0 ? (size_t)jerr.position : 0, orig;
    int line, col;
    memset(&s, 0, sizeof s);
    s.text = text;
    s.len = len;
    s.stop_at = pos;
    jsonx_scan(&s);
    orig = pos >= 2 * s.before ? pos - 2 * s.before : 0;
    jsonx_line_col(text, len, orig, &line, &col);
    jsonx_err(err, errsz, line, col, jerr.text);
  }
out:
  free(buf);
  return root;
}

int jsonx_u64_text(const char *p, size_t n, uint64_t *out) {
  uint64_t v = 0;
  if (!p || n == 0 || n > 20) return -1;
  if (n > 1 && p[0] == '0') return -1; /* JSON numbers have no leading zeros */
  for (size_t i = 0; i < n; i++) {
    unsigned d;
    if (p[i] < '0' || p[i] > '9') return -1;
    d = (unsigned)(p[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

int jsonx_u64(const json_t *v, uint64_t *out) {
  if (!v || !out) return -1;
  if (json_is_integer(v)) {
    json_int_t x = json_integer_value(v);
    if (x < 0) return -1;
    *out = (uint64_t)x;
    return 0;
  }
  if (json_is_string(v)) return jsonx_u64_text(json_string_value(v), json_string_length(v), out);
  return -1;
}

int jsonx_i64(const json_t *v, int64_t *out) {
  if (!v || !out) return -1;
  if (json_is_integer(v)) {
    *out = (int64_t)json_integer_value(v);
    return 0;
  }
  if (json_is_string(v)) {
    const char *p = json_string_value(v);
    size_t n = json_string_length(v);
    int neg = n > 0 && p[0] == '-';
    uint64_t m;
    if (jsonx_u64_text(p + neg, n - (size_t)neg, &m) != 0) return -1;
    if (neg) {
      if (m > (uint64_t)INT64_MAX + 1) return -1;
      *out = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    } else {
      if (m > (uint64_t)INT64_MAX) return -1;
      *out = (int64_t)m;
    }
    return 0;
  }
  return -1;
}

int jsonx_get_u64(const json_t *obj, const char *key, uint64_t *out) {
  if (!json_is_object(obj) || !key) return -1;
  return jsonx_u64(json_object_get(obj, key), out);
}

int jsonx_get_i64(const json_t *obj, const char *key, int64_t *out) {
  if (!json_is_object(obj) || !key) return -1;
  return jsonx_i64(json_object_get(obj, key), out);
}

const char *jsonx_get_str(const json_t *obj, const char *key) {
  if (!json_is_object(obj) || !key) return NULL;
  return json_string_value(json_object_get(obj, key));
}

char *jsonx_u128_str(unsigned __int128 v, char *buf, size_t bufsz) {
  char tmp[48];
  size_t n = sizeof tmp;
  tmp[--n] = '\0';
  do {
    tmp[--n] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v);
  if (!buf || bufsz < sizeof tmp - n) return NULL;
  memcpy(buf, tmp + n, sizeof tmp - n);
  return buf;
}

char *jsonx_i128_str(__int128 v, char *buf, size_t bufsz) {
  unsigned __int128 m = v < 0 ? (unsigned __int128)0 - (unsigned __int128)v : (unsigned __int128)v;
  char tmp[48];
  if (!jsonx_u128_str(m, tmp, sizeof tmp)) return NULL;
  if (v < 0) {
    size_t n = strlen(tmp);
    if (!buf || bufsz < n + 2) return NULL;
    buf[0] = '-';
    memcpy(buf + 1, tmp, n + 1);
    return buf;
  }
  if (!buf || bufsz < strlen(tmp) + 1) return NULL;
  memcpy(buf, tmp, strlen(tmp) + 1);
  return buf;
}
