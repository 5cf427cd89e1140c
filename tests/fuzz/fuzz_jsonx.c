/* jsonx_loads on arbitrary text: never crashes or leaks; when jansson's
 * plain json_loadb accepts the text, jsonx returns an equal document; when
 * jsonx accepts text that jansson rejects, jansson's reason is an integer
 * out of range (the one thing jsonx rewrites), and every digit string jsonx
 * produced reads back exactly through jsonx_u64 / jsonx_i64. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks v checking the 64-bit readers on every integer and digit string. */
static void check_values(const json_t *v, unsigned depth) {
  if (depth > 4096) return;
  if (json_is_object(v)) {
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) check_values(m, depth + 1);
  } else if (json_is_array(v)) {
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) check_values(m, depth + 1);
  } else if (json_is_integer(v)) {
    int64_t i;
    uint64_t u;
    if (jsonx_i64(v, &i) != 0 || i != json_integer_value(v)) abort();
    if ((jsonx_u64(v, &u) == 0) != (json_integer_value(v) >= 0)) abort();
    if (json_integer_value(v) >= 0 && u != (uint64_t)json_integer_value(v)) abort();
  } else if (json_is_string(v)) {
    /* any digit string: the u64 reader agrees with strtoull, except that
       it refuses leading zeros (jsonx_u64_text: JSON integer grammar) */
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), i;
    uint64_t u;
    int digits = n > 0 && n <= 20;
    for (i = 0; digits && i < n; i++) digits = s[i] >= '0' && s[i] <= '9';
    if (digits) {
      char *end;
      unsigned long long ref;
      int ok = jsonx_u64(v, &u) == 0;
      errno = 0;
      ref = strtoull(s, &end, 10);
      if (ok != (errno == 0 && !(n > 1 && s[0] == '0'))) abort();
      if (ok && u != ref) abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[160];
  json_error_t jerr;
  json_t *x = jsonx_loads((const char *)data, size, err, sizeof err);
  json_t *plain = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (plain) {
    if (!x || !json_equal(x, plain)) abort();
  } else if (x) {
    if (!strstr(jerr.text, "too big")) abort();
  }
  if (!x && memchr(err, '\0', sizeof err) == NULL) abort();
  if (x) check_values(x, 0);
  json_decref(x);
  json_decref(plain);
  return 0;
}
