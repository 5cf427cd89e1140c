/* Generic walker over the compiled IDL layout (see decode_borsh.h). */
#include "decode_borsh.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "base58.h"
#include "jsonx.h"
#include "log.h"
#include "utf8.h"

/* ---- little-endian loads ------------------------------------------------ */

static inline uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static inline uint32_t ld32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t ld64(const uint8_t *p) {
  return (uint64_t)ld32(p) | ((uint64_t)ld32(p + 4) << 32);
}

/* ---- errors --------------------------------------------------------------- */

static void path_format(const decode_pframe_t *pf, const char *leaf, char *out, size_t outsz) {
  const decode_pframe_t *st[DECODE_MAX_DEPTH + 2];
  size_t n = 0, o = 0;
  for (const decode_pframe_t *f = pf; f && n < DECODE_MAX_DEPTH + 1; f = f->up) st[n++] = f;
  out[0] = '\0';
  for (size_t i = n; i > 0; i--) {
    const decode_pframe_t *f = st[i - 1];
    int w;
    if (f->kind == DECODE_PF_INDEX)
      w = snprintf(out + o, outsz - o, "[%zu]", f->index);
    else if (f->kind == DECODE_PF_TUPLE)
      w = snprintf(out + o, outsz - o, "%s%zu", o ? "." : "", f->index);
    else
      w = snprintf(out + o, outsz - o, "%s%s", o ? "." : "", f->name ? f->name : "?");
    if (w < 0 || (size_t)w >= outsz - o) return; /* truncated path */
    o += (size_t)w;
  }
  if (leaf) snprintf(out + o, outsz - o, "%s%s", o ? "." : "", leaf);
}

int decode_borsh_fail(const decode_ctx_t *c, int code, const decode_pframe_t *pf,
                      const char *leaf, size_t offset, const char *fmt, ...) {
  decode_error_t *e = c->err;
  if (!e) return code;
  e->code = code;
  snprintf(e->type, sizeof e->type, "%s", c->type ? c->type : "");
  path_format(pf, leaf, e->path, sizeof e->path);
  e->offset = offset;
  e->detail[0] = '\0';
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    log_vset_err(e->detail, sizeof e->detail, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* ---- strings -------------------------------------------------------------- */

int decode_utf8_check(const uint8_t *s, size_t n, size_t *bad) {
  int rc = utf8_check(s, n, 1, bad);
  return rc == UTF8_OK ? 0 : rc == UTF8_ERR_NUL ? DECODE_ERR_NUL : DECODE_ERR_UTF8;
}

int decode_all_zero(const uint8_t *p, size_t n, size_t *first) {
  size_t i = 0;
  for (; n - i >= 8; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (w) break;
  }
  for (; i < n; i++)
    if (p[i]) {
      if (first) *first = i;
      return 0;
    }
  return 1;
}

int decode_borsh_trailing(const decode_ctx_t *c, size_t off, int allow_nonzero) {
  size_t first;
  if (allow_nonzero || off >= c->len || decode_all_zero(c->data + off, c->len - off, &first))
    return 0;
  return decode_borsh_fail(c, DECODE_ERR_TRAILING, NULL, NULL, off + first,
                           "%zu bytes after the layout end at byte %zu are not zero",
                           c->len - off, off);
}

/* ---- JSON scalars --------------------------------------------------------- */

static json_t *json_u64(uint64_t v) {
  if (v <= (uint64_t)INT64_MAX) return json_integer((json_int_t)v);
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRIu64, v);
  return json_string(buf);
}

static json_t *json_u128(unsigned __int128 v) {
  if (v <= (unsigned __int128)INT64_MAX) return json_integer((json_int_t)v);
  char buf[48];
  return json_string(jsonx_u128_str(v, buf, sizeof buf));
}

static json_t *json_i128(__int128 v) {
  if (v >= (__int128)INT64_MIN && v <= (__int128)INT64_MAX) return json_integer((json_int_t)v);
  char buf[48];
  return json_string(jsonx_i128_str(v, buf, sizeof buf));
}

/* 256-bit little-endian two's complement (or unsigned) to exact JSON. */
static json_t *json_w256(const uint8_t *p, int is_signed) {
  uint64_t l[4];
  for (int i = 0; i < 4; i++) l[i] = ld64(p + 8 * i);
  int neg = is_signed && (l[3] >> 63);
  if (neg) { /* magnitude = ~x + 1 */
    unsigned carry = 1;
    for (int i = 0; i < 4; i++) {
      l[i] = ~l[i] + carry;
      carry = carry && l[i] == 0;
    }
  }
  if (l[1] == 0 && l[2] == 0 && l[3] == 0) {
    if (!neg && l[0] <= (uint64_t)INT64_MAX) return json_integer((json_int_t)l[0]);
    if (neg && l[0] <= (uint64_t)INT64_MAX + 1) return json_integer((json_int_t)(0 - l[0]));
  }
  /* Repeated division by 10^19: each step yields 19 decimal digits. */
  char digits[96];
  size_t nd = 0;
  const uint64_t base = 10000000000000000000ULL;
  while (l[0] || l[1] || l[2] || l[3]) {
    unsigned __int128 rem = 0;
    for (int i = 3; i >= 0; i--) {
      unsigned __int128 cur = (rem << 64) | l[i];
      l[i] = (uint64_t)(cur / base);
      rem = cur % base;
    }
    uint64_t r = (uint64_t)rem;
    int more = l[0] || l[1] || l[2] || l[3];
    for (int k = 0; k < 19 && (more || r); k++) {
      digits[nd++] = (char)('0' + r % 10);
      r /= 10;
    }
  }
  char buf[100];
  size_t o = 0;
  if (neg) buf[o++] = '-';
  while (nd) buf[o++] = digits[--nd];
  buf[o] = '\0';
  return json_string(buf);
}

static json_t *json_float(double d) {
  if (isnan(d)) return json_string("NaN");
  if (isinf(d)) return json_string(d > 0 ? "Infinity" : "-Infinity");
  return json_real(d);
}

/* ---- the walker ----------------------------------------------------------- */

#define NOMEM(c, pf) decode_borsh_fail((c), DECODE_ERR_NOMEM, (pf), NULL, *off, "out of memory")

static int walk_prim(const decode_ctx_t *c, const idl_node_t *n, size_t *off, json_t **out,
                     const decode_pframe_t *pf) {
  size_t o = *off, rem = c->len - o;
  const uint8_t *p = c->data + o;
  if (n->size > rem)
    return decode_borsh_fail(c, DECODE_ERR_TRUNCATED, pf, NULL, o,
                             "needs %" PRIu32 " bytes, %zu left", n->size, rem);
  json_t *v = NULL;
  switch (n->kind) {
    case IDL_K_BOOL:
      if (p[0] > 1)
        return decode_borsh_fail(c, DECODE_ERR_BOOL, pf, NULL, o, "bool byte is %u", p[0]);
      if (out) v = json_boolean(p[0]);
      break;
    case IDL_K_U8: if (out) v = json_integer(p[0]); break;
    case IDL_K_I8: if (out) v = json_integer((int8_t)p[0]); break;
    case IDL_K_U16: if (out) v = json_integer(ld16(p)); break;
    case IDL_K_I16: if (out) v = json_integer((int16_t)ld16(p)); break;
    case IDL_K_U32: if (out) v = json_integer(ld32(p)); break;
    case IDL_K_I32: if (out) v = json_integer((int32_t)ld32(p)); break;
    case IDL_K_U64: if (out) v = json_u64(ld64(p)); break;
    case IDL_K_I64: if (out) v = json_integer((json_int_t)(int64_t)ld64(p)); break;
    case IDL_K_U128:
      if (out) v = json_u128(((unsigned __int128)ld64(p + 8) << 64) | ld64(p));
      break;
    case IDL_K_I128:
      if (out) v = json_i128((__int128)(((unsigned __int128)ld64(p + 8) << 64) | ld64(p)));
      break;
    case IDL_K_U256: if (out) v = json_w256(p, 0); break;
    case IDL_K_I256: if (out) v = json_w256(p, 1); break;
    case IDL_K_F32:
      if (out) {
        uint32_t u = ld32(p);
        float f;
        memcpy(&f, &u, 4);
        v = json_float((double)f);
      }
      break;
    case IDL_K_F64:
      if (out) {
        uint64_t u = ld64(p);
        double d;
        memcpy(&d, &u, 8);
        v = json_float(d);
      }
      break;
    case IDL_K_PUBKEY:
      if (out) {
        char b58[BASE58_ENCODED_32_SZ];
        base58_encode_32(p, b58);
        v = json_string(b58);
      }
      break;
    default:
      return decode_borsh_fail(c, DECODE_ERR_LAYOUT, pf, NULL, o, "bad primitive kind %u",
                               n->kind);
  }
  if (out && !v) return NOMEM(c, pf);
  if (out) *out = v;
  *off = o + n->size;
  return 0;
}

static int walk_lenprefixed(const decode_ctx_t *c, const idl_node_t *n, size_t *off, json_t **out,
                            const decode_pframe_t *pf) {
  size_t o = *off, rem = c->len - o;
  if (rem < 4)
    return decode_borsh_fail(c, DECODE_ERR_TRUNCATED, pf, NULL, o,
                             "length prefix needs 4 bytes, %zu left", rem);
  uint32_t L = ld32(c->data + o);
  if (L > rem - 4)
    return decode_borsh_fail(c, DECODE_ERR_LENGTH, pf, NULL, o,
                             "length %" PRIu32 " exceeds the %zu bytes left", L, rem - 4);
  const uint8_t *s = c->data + o + 4;
  if (n->kind == IDL_K_STRING) {
    size_t bad;
    int rc = decode_utf8_check(s, L, &bad);
    if (rc != 0)
      return decode_borsh_fail(c, rc, pf, NULL, o + 4 + bad,
                               rc == DECODE_ERR_NUL ? "NUL byte in string at index %zu"
                                                    : "invalid UTF-8 at index %zu",
                               bad);
    if (out && !(*out = json_stringn_nocheck((const char *)s, L))) return NOMEM(c, pf);
  } else if (out) {
    char *b = b64_encode(s, L);
    if (!b) return NOMEM(c, pf);
    *out = json_string_nocheck(b);
    free(b);
    if (!*out) return NOMEM(c, pf);
  }
  *off = o + 4 + L;
  return 0;
}

static int walk_fields(const decode_ctx_t *c, const idl_node_t *n, size_t *off, json_t **out,
                       const decode_pframe_t *pf, unsigned depth) {
  /* an IDL without any field has no field table (fields == NULL) */
  const idl_field_t *f = n->count ? &c->idl->fields[n->child] : NULL;
  int named = n->kind == IDL_K_STRUCT || (n->kind == IDL_K_CSTRUCT && !(n->flags & IDL_NF_CTUPLE));
  json_t *acc = NULL;
  if (out) {
    acc = named ? json_object() : json_array();
    if (!acc) return NOMEM(c, pf);
  }
  size_t base = *off;
  int rc = 0;
  for (uint32_t i = 0; i < n->count; i++) {
    decode_pframe_t fr = {pf, f[i].name, i, named ? DECODE_PF_NAME : DECODE_PF_TUPLE};
    if (n->kind == IDL_K_CSTRUCT) {
      if (f[i].offset > c->len - base) {
        rc = decode_borsh_fail(c, DECODE_ERR_TRUNCATED, &fr, NULL, base + f[i].offset,
                               "field starts past the end (%zu bytes)", c->len);
        goto out;
      }
      *off = base + f[i].offset;
    }
    json_t *v = NULL;
    rc = decode_borsh_walk(c, f[i].node, off, out ? &v : NULL, &fr, depth + 1);
    if (rc != 0) goto out;
    if (out) {
      int r = named ? json_object_set_new_nocheck(acc, f[i].name, v) : json_array_append_new(acc, v);
      if (r != 0) {
        rc = NOMEM(c, &fr);
        goto out;
      }
    }
  }
  if (n->kind == IDL_K_CSTRUCT) {
    if (n->size > c->len - base) {
      rc = decode_borsh_fail(c, DECODE_ERR_TRUNCATED, pf, NULL, base,
                             "repr(C) layout needs %" PRIu32 " bytes, %zu left", n->size,
                             c->len - base);
      goto out;
    }
    *off = base + n->size;
  }
out:
  if (rc != 0) {
    json_decref(acc);
    return rc;
  }
  if (out) *out = acc;
  return 0;
}

static int walk_seq(const decode_ctx_t *c, const idl_node_t *n, uint32_t count, size_t *off,
                    json_t **out, const decode_pframe_t *pf, unsigned depth) {
  const idl_node_t *el = &c->idl->nodes[n->child];
  json_t *arr = NULL;
  if (out && !(arr = json_array())) return NOMEM(c, pf);
  /* Plain fixed-size elements: one bounds check for the whole run. */
  if ((el->flags & IDL_NF_PLAIN) && el->size != 0 && count <= (c->len - *off) / el->size &&
      (!out || el->kind == IDL_K_U8)) {
    if (out)
      for (uint32_t i = 0; i < count; i++)
        if (json_array_append_new(arr, json_integer(c->data[*off + i])) != 0) {
          json_decref(arr);
          return NOMEM(c, pf);
        }
    *off += (size_t)count * el->size;
    if (out) *out = arr;
    return 0;
  }
  for (uint32_t i = 0; i < count; i++) {
    decode_pframe_t fr = {pf, NULL, i, DECODE_PF_INDEX};
    json_t *v = NULL;
    int rc = decode_borsh_walk(c, n->child, off, out ? &v : NULL, &fr, depth + 1);
    if (rc != 0) {
      json_decref(arr);
      return rc;
    }
    if (out && json_array_append_new(arr, v) != 0) {
      json_decref(arr);
      return NOMEM(c, &fr);
    }
  }
  if (out) *out = arr;
  return 0;
}

int decode_borsh_walk(const decode_ctx_t *c, uint32_t ni, size_t *off, json_t **out,
                      const decode_pframe_t *pf, unsigned depth) {
  const idl_node_t *n = &c->idl->nodes[ni];
  size_t o = *off, rem = c->len - o;
  if (out) *out = NULL;
  if (depth > DECODE_MAX_DEPTH)
    return decode_borsh_fail(c, DECODE_ERR_LAYOUT, pf, NULL, o, "layout nested too deep");
  if (!out && (n->flags & IDL_NF_PLAIN) && n->size <= rem) {
    *off = o + n->size;
    return 0;
  }
  switch (n->kind) {
    case IDL_K_STRING:
    case IDL_K_BYTES:
      return walk_lenprefixed(c, n, off, out, pf);
    case IDL_K_OPTION:
    case IDL_K_COPTION: {
      size_t tl = n->kind == IDL_K_OPTION ? 1 : 4;
      if (rem < tl)
        return decode_borsh_fail(c, DECODE_ERR_TRUNCATED, pf, NULL, o, "option tag missing");
      uint32_t tag = tl == 1 ? c->data[o] : ld32(c->data + o);
      if (tag > 1)
        return decode_borsh_fail(c, DECODE_ERR_OPTION, pf, NULL, o, "option tag is %" PRIu32,
                                 tag);
      *off = o + tl;
      if (tag == 1) return decode_borsh_walk(c, n->child, off, out, pf, depth + 1);
      if (tl == 4) { /* COption None still holds the payload's bytes */
        uint32_t psz = c->idl->nodes[n->child].size;
        if (psz > rem - tl)
          return decode_borsh_fail(c, DECODE_ERR_TRUNCATED, pf, NULL, o + tl,
                                   "coption payload needs %" PRIu32 " bytes", psz);
        *off += psz;
      }
      if (out && !(*out = json_null())) return NOMEM(c, pf);
      return 0;
    }
    case IDL_K_VEC: {
      if (rem < 4)
        return decode_borsh_fail(c, DECODE_ERR_TRUNCATED, pf, NULL, o,
                                 "length prefix needs 4 bytes, %zu left", rem);
      uint32_t count = ld32(c->data + o);
      uint32_t esz = c->idl->nodes[n->child].size;
      if (esz ? count > (rem - 4) / esz : count > 65536)
        return decode_borsh_fail(c, DECODE_ERR_LENGTH, pf, NULL, o,
                                 "%" PRIu32 " elements cannot fit in the %zu bytes left", count,
                                 rem - 4);
      *off = o + 4;
      return walk_seq(c, n, count, off, out, pf, depth);
    }
    case IDL_K_ARRAY:
      return walk_seq(c, n, n->count, off, out, pf, depth);
    case IDL_K_STRUCT:
    case IDL_K_TUPLE:
    case IDL_K_CSTRUCT:
      return walk_fields(c, n, off, out, pf, depth);
    case IDL_K_ENUM: {
      if (rem < 1)
        return decode_borsh_fail(c, DECODE_ERR_TRUNCATED, pf, NULL, o, "enum index missing");
      uint8_t idx = c->data[o];
      if (idx >= n->count)
        return decode_borsh_fail(c, DECODE_ERR_ENUM, pf, NULL, o,
                                 "variant index %u, %s has %" PRIu32 " variants", idx,
                                 n->name ? n->name : "enum", n->count);
      const idl_variant_t *v = &c->idl->variants[n->child + idx];
      *off = o + 1;
      if (v->node == IDL_NONE) {
        if (out && !(*out = json_string_nocheck(v->name))) return NOMEM(c, pf);
        return 0;
      }
      decode_pframe_t fr = {pf, v->name, 0, DECODE_PF_NAME};
      json_t *payload = NULL;
      int rc = decode_borsh_walk(c, v->node, off, out ? &payload : NULL, &fr, depth + 1);
      if (rc != 0) return rc;
      if (out) {
        json_t *obj = json_object();
        if (!obj || json_object_set_new_nocheck(obj, v->name, payload) != 0) {
          json_decref(obj);
          return NOMEM(c, pf);
        }
        *out = obj;
      }
      return 0;
    }
    default:
      return walk_prim(c, n, off, out, pf);
  }
}
