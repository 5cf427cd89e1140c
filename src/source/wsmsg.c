/* Websocket message classification (wsmsg.h): the checks every
 * notification passes before it reaches ingest, and the fast path for
 * programNotification. */
#include "wsmsg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "jsonraw.h"
#include "jsonx.h"
#include "utf8.h"

void wsmsg_clear(wsmsg_t *m) {
  json_decref(m->doc);
  m->doc = NULL;
}

/* reason = what, then ": detail" when detail is given */
static wsmsg_kind_t msg_bad(wsmsg_t *out, const char *what, const char *detail) {
  snprintf(out->reason, sizeof out->reason, "%s%s%s", what, detail ? ": " : "",
           detail ? detail : "");
  out->kind = WSMSG_BAD;
  return WSMSG_BAD;
}

wsmsg_kind_t wsmsg_parse(const uint8_t *data, size_t len, int binary, wsmsg_t *out) {
  memset(out, 0, sizeof *out);
  char tmp[160];
  size_t off = 0;
  if (binary) return msg_bad(out, "binary frame", NULL);
  const uint8_t *nul = memchr(data, 0, len);
  if (nul) {
    snprintf(tmp, sizeof tmp, "%zu", (size_t)(nul - data));
    return msg_bad(out, "NUL byte at offset", tmp);
  }
  if (!utf8_valid(data, len, &off)) {
    snprintf(tmp, sizeof tmp, "%zu", off);
    return msg_bad(out, "invalid UTF-8 at offset", tmp);
  }
  out->doc = jsonx_loads((const char *)data, len, tmp, sizeof tmp);
  if (!out->doc) return msg_bad(out, "malformed JSON", tmp);
  if (!json_is_object(out->doc)) return msg_bad(out, "not a JSON object", NULL);
  const char *method = jsonx_get_str(out->doc, "method");
  if (!method) return msg_bad(out, "not a notification (no method)", NULL);
  json_t *params = json_object_get(out->doc, "params");
  json_t *result = json_is_object(params) ? json_object_get(params, "result") : NULL;
  if (strcmp(method, "slotNotification") == 0) {
    if (!json_is_object(result) || jsonx_get_u64(result, "slot", &out->slot) != 0)
      return msg_bad(out, "slotNotification without a slot", NULL);
    json_t *root = json_object_get(result, "root");
    if (root && !json_is_null(root)) {
      if (jsonx_u64(root, &out->root) != 0)
        return msg_bad(out, "slotNotification with a bad root", NULL);
      out->has_root = true;
    }
    out->kind = WSMSG_SLOT;
    return out->kind;
  }
  int is_prog = strcmp(method, "programNotification") == 0;
  int is_logs = strcmp(method, "logsNotification") == 0;
  if (!is_prog && !is_logs) {
    snprintf(tmp, sizeof tmp, "%.100s", method);
    return msg_bad(out, "unknown method", tmp);
  }
  json_t *context = json_is_object(result) ? json_object_get(result, "context") : NULL;
  json_t *value = json_is_object(result) ? json_object_get(result, "value") : NULL;
  if (!json_is_object(context) || jsonx_get_u64(context, "slot", &out->slot) != 0)
    return msg_bad(out, "notification without a context slot", method);
  if (!json_is_object(value)) return msg_bad(out, "notification without a value object", method);
  if (is_prog) {
    const char *pk = jsonx_get_str(value, "pubkey");
    json_t *acc = json_object_get(value, "account");
    if (!pk || !base58_text_ok(pk, 32))
      return msg_bad(out, "programNotification without a valid pubkey", NULL);
    if (!acc || (!json_is_object(acc) && !json_is_null(acc)))
      return msg_bad(out, "programNotification without an account", NULL);
    out->pubkey = pk;
    out->account = acc;
    out->kind = WSMSG_ACCOUNT;
    return out->kind;
  }
  const char *sig = jsonx_get_str(value, "signature");
  if (!sig || !base58_text_ok(sig, 64))
    return msg_bad(out, "logsNotification without a valid signature", NULL);
  json_t *err = json_object_get(value, "err");
  out->tx_failed = err && !json_is_null(err);
  out->signature = sig;
  out->kind = WSMSG_LOGS;
  return out->kind;
}

/* ---- fast path for programNotification --------------------------------------- */

static size_t js_ws(const char *s, size_t n, size_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

static int js_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The value of the 4 hex digits at s[i..i+4), or -1. */
static long js_u4(const char *s, size_t n, size_t i) {
  long v = 0;
  if (n - i < 4) return -1;
  for (size_t k = 0; k < 4; k++) {
    char c = s[i + k];
    if (!js_hex(c)) return -1;
    v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}

/* i at '"': the index after the closing quote, or 0 if malformed. A \u
 * escape of a UTF-16 surrogate must be a high one followed by \u and a low
 * one, and an object key (key != 0) may not hold \u0000: jansson refuses
 * both, so this parser does too. */
static size_t js_string(const char *s, size_t n, size_t i, int key) {
  for (i++; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') return i + 1;
    if (c < 0x20) return 0;
    if (c == '\\') {
      if (++i >= n) return 0;
      c = (unsigned char)s[i];
      if (c == 'u') {
        long u = js_u4(s, n, i + 1);
        if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF) || (key && u == 0)) return 0;
        i += 4;
        if (u >= 0xD800 && u <= 0xDBFF) {
          if (n - i < 7 || s[i + 1] != '\\' || s[i + 2] != 'u') return 0;
          long lo = js_u4(s, n, i + 3);
          if (lo < 0xDC00 || lo > 0xDFFF) return 0;
          i += 6;
        }
      } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
        return 0;
      }
    }
  }
  return 0;
}

static size_t js_digits(const char *s, size_t n, size_t i) {
  size_t st = i;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  return i > st ? i : 0;
}

#define JS_REAL_MAX 64 /* longer real literals are left to the full parser */

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?: index after it, or 0. A
 * real (fraction or exponent) must also be finite as a double, as jansson
 * requires ("1e400" is refused there, so here too). */
static size_t js_number(const char *s, size_t n, size_t i) {
  size_t st = i;
  int real = 0;
  if (s[i] == '-') i++;
  if (i >= n) return 0;
  if (s[i] == '0') i++;
  else if (!(i = js_digits(s, n, i))) return 0;
  if (i < n && s[i] == '.') {
    real = 1;
    if (!(i = js_digits(s, n, i + 1))) return 0;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    real = 1;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (!(i = js_digits(s, n, i))) return 0;
  }
  if (real) {
    char tmp[JS_REAL_MAX + 1];
    if (i - st > JS_REAL_MAX) return 0;
    memcpy(tmp, s + st, i - st);
    tmp[i - st] = '\0';
    errno = 0;
    double d = strtod(tmp, NULL);
    if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL)) return 0;
  }
  return i;
}

/* 1 when s[0..n) is exactly one JSON value (RFC 8259 grammar, nesting up
 * to 64 levels), surrounded by whitespace only. One pass, no allocation;
 * UTF-8 is checked separately. */
static int json_syntax_ok(const char *s, size_t n) {
  char stack[64];
  int sp = 0;
  enum { S_VALUE, S_VALUE_OR_CLOSE, S_KEY, S_KEY_OR_CLOSE, S_AFTER } st = S_VALUE;
  size_t i = js_ws(s, n, 0);
  for (;;) {
    if (st == S_AFTER) {
      i = js_ws(s, n, i);
      if (sp == 0) return i == n;
      if (i >= n) return 0;
      if (s[i] == ',') {
        i = js_ws(s, n, i + 1);
        st = stack[sp - 1] == '{' ? S_KEY : S_VALUE;
      } else if (s[i] == (stack[sp - 1] == '{' ? '}' : ']')) {
        sp--;
        i++;
      } else {
        return 0;
      }
      continue;
    }
    if (i >= n) return 0;
    char c = s[i];
    if (st == S_KEY || st == S_KEY_OR_CLOSE) {
      if (st == S_KEY_OR_CLOSE && c == '}') {
        sp--;
        i++;
        st = S_AFTER;
        continue;
      }
      if (c != '"' || !(i = js_string(s, n, i, 1))) return 0;
      i = js_ws(s, n, i);
      if (i >= n || s[i] != ':') return 0;
      i = js_ws(s, n, i + 1);
      st = S_VALUE;
      continue;
    }
    if (st == S_VALUE_OR_CLOSE && c == ']') {
      sp--;
      i++;
      st = S_AFTER;
      continue;
    }
    if (c == '{' || c == '[') {
      if (sp == (int)sizeof stack) return 0;
      stack[sp++] = c;
      i = js_ws(s, n, i + 1);
      st = c == '{' ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
      continue;
    }
    if (c == '"') i = js_string(s, n, i, 0);
    else if (c == '-' || (c >= '0' && c <= '9')) i = js_number(s, n, i);
    else if (n - i >= 4 && memcmp(s + i, "true", 4) == 0) i += 4;
    else if (n - i >= 5 && memcmp(s + i, "false", 5) == 0) i += 5;
    else if (n - i >= 4 && memcmp(s + i, "null", 4) == 0) i += 4;
    else return 0;
    if (i == 0) return 0;
    st = S_AFTER;
  }
}

/* Member key of the object at obj (already validated). */
static int raw_get(const jsonraw_span_t *obj, const char *key, jsonraw_span_t *out) {
  if (obj->len == 0 || obj->ptr[0] != '{') return 0;
  return jsonraw_member(obj->ptr, obj->len, key, out) == 1;
}

static int raw_obj(const jsonraw_span_t *parent, const char *key, jsonraw_span_t *out) {
  return raw_get(parent, key, out) && out->len > 0 && out->ptr[0] == '{';
}

static int raw_u64(const jsonraw_span_t *v, uint64_t *out) {
  return jsonx_u64_text(v->ptr, v->len, out) == 0;
}

static int raw_key_text(const jsonraw_span_t *v, char *out, size_t outsz) {
  jsonraw_span_t c;
  if (!jsonraw_plain_string(v, &c) || c.len == 0 || c.len >= outsz) return 0;
  memcpy(out, c.ptr, c.len);
  out[c.len] = '\0';
  return 1;
}

int wsmsg_fast_account(const uint8_t *data, size_t len, wsmsg_fast_account_t *out) {
  jsonraw_span_t top = {(const char *)data, len}, v, params, result, context, value, account, arr;
  size_t i = 0;
  while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')) i++;
  top.ptr += i;
  top.len -= i;
  if (top.len == 0 || top.ptr[0] != '{' || !json_syntax_ok(top.ptr, top.len)) return 0;
  if (!raw_get(&top, "method", &v) || v.len != sizeof "\"programNotification\"" - 1 ||
      memcmp(v.ptr, "\"programNotification\"", v.len) != 0)
    return 0;
  if (!raw_obj(&top, "params", &params) || !raw_obj(&params, "result", &result) ||
      !raw_obj(&result, "context", &context) || !raw_obj(&result, "value", &value) ||
      !raw_obj(&value, "account", &account))
    return 0;
  if (!raw_get(&context, "slot", &v) || !raw_u64(&v, &out->slot)) return 0;
  if (!raw_get(&value, "pubkey", &v) || !raw_key_text(&v, out->pubkey, sizeof out->pubkey) ||
      !base58_text_ok(out->pubkey, 32))
    return 0;
  if (!raw_get(&account, "owner", &v) || !raw_key_text(&v, out->owner, sizeof out->owner) ||
      !base58_text_ok(out->owner, 32))
    return 0;
  if (!raw_get(&account, "lamports", &v) || !raw_u64(&v, &out->lamports)) return 0;
  if (!raw_get(&account, "data", &arr) || arr.len == 0 || arr.ptr[0] != '[') return 0;
  jsonraw_iter_t it;
  jsonraw_span_t e0, e1, e2, c0, c1;
  if (jsonraw_iter_init(&it, arr.ptr, arr.len) != 0 || jsonraw_iter_next(&it, NULL, &e0) != 1 ||
      jsonraw_iter_next(&it, NULL, &e1) != 1 || jsonraw_iter_next(&it, NULL, &e2) != 0)
    return 0;
  if (!jsonraw_plain_string(&e0, &c0) || !jsonraw_plain_string(&e1, &c1) || c1.len != 6 || memcmp(c1.ptr, "base64", 6) != 0)
    return 0;
  out->b64 = c0.ptr;
  out->b64_len = c0.len;
  return 1;
}
