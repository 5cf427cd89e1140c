/* IDL type compilation: primitive, option, vec, array, defined and generic
 * types into the layout nodes of idl_layout.h (see idl.c for the formats).
 *
 * repr(C) layouts use the alignments of the Solana SBF target (u128/i128
 * aligned to 8), unless the definition says packed or raises the
 * alignment. */
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idl_priv.h"
#include "log.h"

void idl_cc_err(cctx_t *c, const char *fmt, ...) {
  if (c->failed) return; /* the first error is the one reported */
  c->failed = 1;
  va_list ap;
  va_start(ap, fmt);
  log_vset_err(c->err, c->errsz, fmt, ap);
  va_end(ap);
}

/* ---- growable tables -------------------------------------------------- */

static int grow(void **arr, size_t *cap, size_t need, size_t elsz) {
  if (need <= *cap) return 0;
  size_t ncap = *cap ? *cap : 64;
  while (ncap < need) ncap *= 2;
  if (ncap > SIZE_MAX / elsz) return -1;
  void *p = realloc(*arr, ncap * elsz);
  if (!p) return -1;
  *arr = p;
  *cap = ncap;
  return 0;
}

static int add_node(cctx_t *c, const idl_node_t *n, uint32_t *idx) {
  struct idl *I = c->idl;
  if (I->n_nodes >= IDL_MAX_NODES) {
    idl_cc_err(c, "IDL too large (more than %zu layout nodes)", IDL_MAX_NODES);
    return -1;
  }
  if (grow((void **)&I->nodes, &c->cap_nodes, I->n_nodes + 1, sizeof *n) != 0) {
    idl_cc_err(c, "out of memory");
    return -1;
  }
  I->nodes[I->n_nodes] = *n;
  *idx = (uint32_t)I->n_nodes++;
  return 0;
}

/* ---- type compilation --------------------------------------------------- */

static const struct prim {
  const char *name;
  uint8_t kind;
  uint32_t size;
  uint16_t align;
} prims[] = {
    {"bool", IDL_K_BOOL, 1, 1},       {"u8", IDL_K_U8, 1, 1},
    {"i8", IDL_K_I8, 1, 1},           {"u16", IDL_K_U16, 2, 2},
    {"i16", IDL_K_I16, 2, 2},         {"u32", IDL_K_U32, 4, 4},
    {"i32", IDL_K_I32, 4, 4},         {"u64", IDL_K_U64, 8, 8},
    {"i64", IDL_K_I64, 8, 8},         {"u128", IDL_K_U128, 16, 8},
    {"i128", IDL_K_I128, 16, 8},      {"u256", IDL_K_U256, 32, 8},
    {"i256", IDL_K_I256, 32, 8},      {"f32", IDL_K_F32, 4, 4},
    {"f64", IDL_K_F64, 8, 8},         {"pubkey", IDL_K_PUBKEY, 32, 1},
    {"string", IDL_K_STRING, 4, 1},   {"bytes", IDL_K_BYTES, 4, 1},
};

int idl_cc_prims(cctx_t *c) {
  for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++) {
    idl_node_t n = {0};
    n.kind = prims[i].kind;
    n.size = prims[i].size;
    n.align = prims[i].align;
    n.flags = (prims[i].kind == IDL_K_STRING || prims[i].kind == IDL_K_BYTES) ? 0
              : (prims[i].kind == IDL_K_BOOL)                               ? IDL_NF_FIXED
                                                              : IDL_NF_FIXED | IDL_NF_PLAIN;
    n.child = IDL_NONE;
    uint32_t idx;
    if (add_node(c, &n, &idx) != 0) return -1;
    if (idx != n.kind) return -1; /* primitive nodes sit at index == kind */
  }
  return 0;
}

static int prim_lookup(const char *s) {
  if (strcmp(s, "publicKey") == 0) return IDL_K_PUBKEY;
  for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
    if (strcmp(s, prims[i].name) == 0) return prims[i].kind;
  return -1;
}

static uint32_t sat_add(uint32_t a, uint32_t b) { return (a > UINT32_MAX - b) ? UINT32_MAX : a + b; }
static uint32_t sat_mul(uint32_t a, uint32_t b) {
  return (b != 0 && a > UINT32_MAX / b) ? UINT32_MAX : a * b;
}

static int compile_type(cctx_t *c, const json_t *t, const genv_t *env, int mode, size_t depth,
                        const char *where, uint32_t *out);

static int parse_u64_text(const char *s, uint64_t *out) {
  if (!s || !*s) return -1;
  uint64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

static const genv_entry_t *genv_find(const genv_t *env, const char *name) {
  for (size_t i = env ? env->n : 0; i > 0; i--)
    if (strcmp(env->e[i - 1].name, name) == 0) return &env->e[i - 1];
  return NULL;
}

/* Array length: a JSON integer or {"generic": "N"} naming a const param. */
static int array_len(cctx_t *c, const json_t *v, const genv_t *env, const char *where,
                     uint64_t *out) {
  if (json_is_integer(v) && json_integer_value(v) >= 0) {
    *out = (uint64_t)json_integer_value(v);
    return 0;
  }
  const json_t *g = json_is_object(v) ? json_object_get(v, "generic") : NULL;
  if (json_is_string(g)) {
    const genv_entry_t *e = genv_find(env, json_string_value(g));
    if (e && e->is_const) {
      *out = e->value;
      return 0;
    }
    idl_cc_err(c, "%s: array length names unknown const generic '%s'", where, json_string_value(g));
    return -1;
  }
  idl_cc_err(c, "%s: bad array length", where);
  return -1;
}

/* A primitive named s ("u64", "publicKey", ...). */
static int compile_prim(cctx_t *c, const char *s, int mode, const char *where, uint32_t *out) {
  int k = prim_lookup(s);
  if (k < 0) {
    idl_cc_err(c, "%s: unknown type '%s'", where, s);
    return -1;
  }
  if (mode == IDL_MODE_C && (k == IDL_K_STRING || k == IDL_K_BYTES)) {
    idl_cc_err(c, "%s: '%s' cannot be part of a bytemuck (repr(C)) layout", where, s);
    return -1;
  }
  *out = (uint32_t)k;
  return 0;
}

/* {"option": T} / {"coption": T}. */
static int compile_option(cctx_t *c, const json_t *v, int co, const genv_t *env, int mode,
                          size_t depth, const char *where, uint32_t *out) {
  if (mode == IDL_MODE_C) {
    idl_cc_err(c, "%s: option cannot be part of a bytemuck (repr(C)) layout", where);
    return -1;
  }
  uint32_t ch;
  if (compile_type(c, v, env, mode, depth + 1, where, &ch) != 0) return -1;
  const idl_node_t *cn = &c->idl->nodes[ch];
  idl_node_t n = {0};
  n.kind = co ? IDL_K_COPTION : IDL_K_OPTION;
  n.child = ch;
  n.align = 1;
  if (co) {
    /* COption<T>: u32 tag, then T's bytes, present (zero) even for None,
     * as the Anchor coder lays it out; T must have a fixed size. */
    if (!(cn->flags & IDL_NF_FIXED) || cn->size == UINT32_MAX) {
      idl_cc_err(c, "%s: coption of a variable-size type", where);
      return -1;
    }
    n.size = sat_add(4, cn->size);
    n.flags = IDL_NF_FIXED;
  } else {
    n.size = 1;
  }
  return add_node(c, &n, out);
}

/* {"vec": T}. */
static int compile_vec(cctx_t *c, const json_t *v, const genv_t *env, int mode, size_t depth,
                       const char *where, uint32_t *out) {
  if (mode == IDL_MODE_C) {
    idl_cc_err(c, "%s: vec cannot be part of a bytemuck (repr(C)) layout", where);
    return -1;
  }
  uint32_t ch;
  if (compile_type(c, v, env, mode, depth + 1, where, &ch) != 0) return -1;
  /* Borsh forbids collections of zero-size types: each element would
   * decode from no bytes, so a 4-byte count could ask for 2^32 of them. */
  if (c->idl->nodes[ch].size == 0) {
    idl_cc_err(c, "%s: vec of zero-size elements", where);
    return -1;
  }
  idl_node_t n = {0};
  n.kind = IDL_K_VEC;
  n.size = 4;
  n.child = ch;
  n.align = 1;
  return add_node(c, &n, out);
}

/* {"array": [T, N]}. */
static int compile_array(cctx_t *c, const json_t *v, const genv_t *env, int mode, size_t depth,
                         const char *where, uint32_t *out) {
  if (!json_is_array(v) || json_array_size(v) != 2) {
    idl_cc_err(c, "%s: array must be [type, length]", where);
    return -1;
  }
  uint64_t len;
  uint32_t ch;
  if (array_len(c, json_array_get(v, 1), env, where, &len) != 0) return -1;
  if (len > UINT32_MAX) {
    idl_cc_err(c, "%s: array length %" PRIu64 " too large", where, len);
    return -1;
  }
  if (compile_type(c, json_array_get(v, 0), env, mode, depth + 1, where, &ch) != 0) return -1;
  const idl_node_t *cn = &c->idl->nodes[ch];
  /* Zero-size elements consume no data: nested arrays of them multiply
   * (65536 x 65536 x ...) into work and output that no data bounds. */
  if (cn->size == 0 && len > 0) {
    idl_cc_err(c, "%s: array of %" PRIu64 " zero-size elements", where, len);
    return -1;
  }
  idl_node_t n = {0};
  n.kind = IDL_K_ARRAY;
  n.count = (uint32_t)len;
  n.child = ch;
  n.size = sat_mul(cn->size, (uint32_t)len);
  n.align = cn->align;
  n.flags = cn->flags & (IDL_NF_FIXED | IDL_NF_PLAIN);
  if (mode == IDL_MODE_C && n.size == UINT32_MAX) {
    idl_cc_err(c, "%s: array too large", where);
    return -1;
  }
  return add_node(c, &n, out);
}

/* {"defined": "Name"} (legacy) or {"defined": {"name", "generics"}}. */
static int compile_ref(cctx_t *c, const json_t *v, const genv_t *env, int mode, size_t depth,
                       const char *where, uint32_t *out) {
  if (json_is_string(v)) /* legacy */
    return idl_cc_defined(c, json_string_value(v), NULL, env, mode, depth + 1, where, out);
  const json_t *nm = json_object_get(v, "name");
  if (!json_is_string(nm)) {
    idl_cc_err(c, "%s: defined type without a name", where);
    return -1;
  }
  return idl_cc_defined(c, json_string_value(nm), json_object_get(v, "generics"), env, mode,
                        depth + 1, where, out);
}

/* {"generic": "T"}: the type bound to T in env. */
static int compile_generic(cctx_t *c, const json_t *v, const genv_t *env, const char *where,
                           uint32_t *out) {
  const genv_entry_t *e = json_is_string(v) ? genv_find(env, json_string_value(v)) : NULL;
  if (!e || e->is_const) {
    idl_cc_err(c, "%s: unknown type generic '%s'", where,
               json_is_string(v) ? json_string_value(v) : "?");
    return -1;
  }
  *out = e->node;
  return 0;
}

static int compile_type(cctx_t *c, const json_t *t, const genv_t *env, int mode, size_t depth,
                        const char *where, uint32_t *out) {
  if (depth > IDL_MAX_DEPTH) {
    idl_cc_err(c, "%s: types nested deeper than %d", where, IDL_MAX_DEPTH);
    return -1;
  }
  if (json_is_string(t)) return compile_prim(c, json_string_value(t), mode, where, out);
  if (!json_is_object(t)) {
    idl_cc_err(c, "%s: type is neither a name nor an object", where);
    return -1;
  }
  const json_t *v;
  if ((v = json_object_get(t, "option")))
    return compile_option(c, v, 0, env, mode, depth, where, out);
  if ((v = json_object_get(t, "coption")))
    return compile_option(c, v, 1, env, mode, depth, where, out);
  if ((v = json_object_get(t, "vec"))) return compile_vec(c, v, env, mode, depth, where, out);
  if ((v = json_object_get(t, "array"))) return compile_array(c, v, env, mode, depth, where, out);
  if ((v = json_object_get(t, "defined"))) return compile_ref(c, v, env, mode, depth, where, out);
  if ((v = json_object_get(t, "generic"))) return compile_generic(c, v, env, where, out);
  const char *key = json_object_iter_key(json_object_iter((json_t *)t));
  idl_cc_err(c, "%s: unsupported type '%s'", where, key ? key : "{}");
  return -1;
}

/* Running layout of a struct being compiled. */
typedef struct flayout {
  int mode, packed, tuple;
  uint32_t size, align;
  int fixed, plain;
} flayout_t;

/* Field i of fields: its name (unless a tuple), type node and, in repr(C)
 * mode, offset; folds its size into L. */
static int compile_field(cctx_t *c, const json_t *fields, size_t i, idl_field_t *tmp,
                         const genv_t *env, size_t depth, const char *defname, flayout_t *L) {
  const json_t *f = json_array_get(fields, i);
  const json_t *ft = f;
  char where[256];
  if (!L->tuple) {
    const json_t *fn = json_object_get(f, "name");
    ft = json_object_get(f, "type");
    if (!json_is_string(fn) || !ft) {
      idl_cc_err(c, "%s: field %zu has no name or type", defname, i);
      return -1;
    }
    tmp[i].name = json_string_value(fn);
    snprintf(where, sizeof where, "%s.%s", defname, tmp[i].name);
    for (size_t k = 0; k < i; k++)
      if (strcmp(tmp[k].name, tmp[i].name) == 0) {
        idl_cc_err(c, "%s: field defined twice", where);
        return -1;
      }
  } else {
    snprintf(where, sizeof where, "%s.%zu", defname, i);
  }
  if (compile_type(c, ft, env, L->mode, depth + 1, where, &tmp[i].node) != 0) return -1;
  const idl_node_t *fn = &c->idl->nodes[tmp[i].node];
  if (!(fn->flags & IDL_NF_FIXED)) L->fixed = 0;
  if (!(fn->flags & IDL_NF_PLAIN)) L->plain = 0;
  if (L->mode != IDL_MODE_C) {
    L->size = sat_add(L->size, fn->size);
    return 0;
  }
  uint32_t fa = L->packed ? 1 : fn->align;
  if (fa == 0) fa = 1;
  uint64_t off = ((uint64_t)L->size + fa - 1) / fa * fa;
  if (off + fn->size > UINT32_MAX) {
    idl_cc_err(c, "%s: layout too large", where);
    return -1;
  }
  tmp[i].offset = (uint32_t)off;
  L->size = (uint32_t)(off + fn->size);
  if (fa > L->align) L->align = fa;
  return 0;
}

/* Appends the nf compiled fields to the field table and adds their node. */
static int fields_node(cctx_t *c, const idl_field_t *tmp, size_t nf, const flayout_t *L,
                       const char *defname, const char *node_name, uint32_t *out) {
  struct idl *I = c->idl;
  idl_node_t n = {0};
  n.name = node_name;
  n.count = (uint32_t)nf;
  n.child = (uint32_t)I->n_fields;
  if (L->mode == IDL_MODE_C) {
    uint64_t sz = ((uint64_t)L->size + L->align - 1) / L->align * L->align;
    if (sz > UINT32_MAX || L->align > 65535) {
      idl_cc_err(c, "%s: layout too large", defname);
      return -1;
    }
    n.kind = IDL_K_CSTRUCT;
    n.size = (uint32_t)sz;
    n.align = (uint16_t)L->align;
    n.flags = IDL_NF_FIXED | (L->tuple ? IDL_NF_CTUPLE : 0) | (L->plain ? IDL_NF_PLAIN : 0);
  } else {
    n.kind = L->tuple ? IDL_K_TUPLE : IDL_K_STRUCT;
    n.size = L->size;
    n.align = 1;
    n.flags = L->fixed ? (IDL_NF_FIXED | (L->plain ? IDL_NF_PLAIN : 0)) : 0;
  }
  if (nf > IDL_MAX_NODES - I->n_fields) {
    idl_cc_err(c, "IDL too large (more than %zu fields)", IDL_MAX_NODES);
    return -1;
  }
  if (grow((void **)&I->fields, &c->cap_fields, I->n_fields + nf, sizeof *tmp) != 0) {
    idl_cc_err(c, "out of memory");
    return -1;
  }
  if (nf) memcpy(I->fields + I->n_fields, tmp, nf * sizeof *tmp);
  I->n_fields += nf;
  return add_node(c, &n, out);
}

int idl_cc_fields(cctx_t *c, const json_t *fields, const genv_t *env, int mode, int packed,
                  uint32_t min_align, size_t depth, const char *defname, const char *node_name,
                  uint32_t *out) {
  size_t nf = json_is_array(fields) ? json_array_size(fields) : 0;
  if (fields && !json_is_array(fields) && !json_is_null(fields)) {
    idl_cc_err(c, "%s: fields must be an array", defname);
    return -1;
  }
  if (nf > 65535) {
    idl_cc_err(c, "%s: too many fields", defname);
    return -1;
  }
  flayout_t L = {mode, packed, 0, 0, packed ? 1 : (min_align ? min_align : 1), 1, 1};
  if (nf > 0) {
    const json_t *f0 = json_array_get(fields, 0);
    L.tuple = !(json_is_object(f0) && json_is_string(json_object_get(f0, "name")) &&
                json_object_get(f0, "type"));
  }
  idl_field_t *tmp = nf ? calloc(nf, sizeof *tmp) : NULL;
  if (nf && !tmp) {
    idl_cc_err(c, "out of memory");
    return -1;
  }
  int rc = 0;
  for (size_t i = 0; i < nf && rc == 0; i++)
    rc = compile_field(c, fields, i, tmp, env, depth, defname, &L);
  if (rc == 0) rc = fields_node(c, tmp, nf, &L, defname, node_name, out);
  free(tmp);
  return rc;
}

static int compile_enum(cctx_t *c, const json_t *variants, const genv_t *env, int mode,
                        size_t depth, const char *defname, uint32_t *out) {
  if (mode == IDL_MODE_C) {
    idl_cc_err(c, "%s: enum cannot be part of a bytemuck (repr(C)) layout", defname);
    return -1;
  }
  size_t nv = json_is_array(variants) ? json_array_size(variants) : 0;
  if (!json_is_array(variants)) {
    idl_cc_err(c, "%s: enum without variants", defname);
    return -1;
  }
  if (nv > 256) {
    idl_cc_err(c, "%s: more than 256 variants", defname);
    return -1;
  }
  idl_variant_t *tmp = nv ? calloc(nv, sizeof *tmp) : NULL;
  if (nv && !tmp) {
    idl_cc_err(c, "out of memory");
    return -1;
  }
  int rc = -1;
  uint32_t minp = UINT32_MAX;
  int all_unit = 1;
  for (size_t i = 0; i < nv; i++) {
    const json_t *vj = json_array_get(variants, i);
    const json_t *vn = json_object_get(vj, "name");
    if (!json_is_string(vn)) {
      idl_cc_err(c, "%s: variant %zu has no name", defname, i);
      goto out;
    }
    tmp[i].name = json_string_value(vn);
    tmp[i].node = IDL_NONE;
    const json_t *vf = json_object_get(vj, "fields");
    if (vf && json_is_array(vf)) {
      char where[256];
      snprintf(where, sizeof where, "%s::%s", defname, tmp[i].name);
      if (idl_cc_fields(c, vf, env, mode, 0, 0, depth, where, NULL, &tmp[i].node) != 0)
        goto out;
      all_unit = 0;
      uint32_t ps = c->idl->nodes[tmp[i].node].size;
      if (ps < minp) minp = ps;
    } else {
      minp = 0;
    }
  }
  struct idl *I = c->idl;
  if (nv > IDL_MAX_NODES - I->n_variants) {
    idl_cc_err(c, "IDL too large (more than %zu enum variants)", IDL_MAX_NODES);
    goto out;
  }
  if (grow((void **)&I->variants, &c->cap_variants, I->n_variants + nv, sizeof *tmp) != 0) {
    idl_cc_err(c, "out of memory");
    goto out;
  }
  if (nv) memcpy(I->variants + I->n_variants, tmp, nv * sizeof *tmp);
  idl_node_t n = {0};
  n.kind = IDL_K_ENUM;
  n.child = (uint32_t)I->n_variants;
  n.count = (uint32_t)nv;
  n.size = sat_add(1, nv ? minp : 0);
  n.align = 1;
  n.flags = all_unit ? IDL_NF_FIXED : 0;
  n.name = defname;
  I->n_variants += nv;
  rc = add_node(c, &n, out);
out:
  free(tmp);
  return rc;
}

/* Appends "<tag><value>" to the instantiation key. */
static int key_append(char *key, size_t keysz, size_t *kl, char tag, uint64_t v) {
  int w = snprintf(key + *kl, keysz - *kl, "%c%" PRIu64, tag, v);
  if (w < 0 || (size_t)w >= keysz - *kl) return -1;
  *kl += (size_t)w;
  return 0;
}

/* How a named definition is laid out: its type body, serialization and
 * repr. */
typedef struct defhead {
  const json_t *def, *ty;
  int mode, packed;
  uint32_t min_align;
} defhead_t;

/* Looks name up and reads its serialization ("borsh" or bytemuck: repr(C)
 * mode) and repr (packed, align). 0 or -1 + error. */
static int defined_head(cctx_t *c, const char *name, int mode, const char *where, defhead_t *h) {
  h->def = json_object_get(c->types, name);
  if (!h->def) {
    idl_cc_err(c, "%s: undefined type '%s'", where, name);
    return -1;
  }
  h->ty = json_object_get(h->def, "type");
  if (!json_is_object(h->ty)) {
    idl_cc_err(c, "type '%s' has no type body", name);
    return -1;
  }
  h->mode = mode;
  const json_t *ser = json_object_get(h->def, "serialization");
  if (json_is_string(ser)) {
    const char *s = json_string_value(ser);
    if (strcmp(s, "bytemuck") == 0 || strcmp(s, "bytemuckunsafe") == 0) {
      h->mode = IDL_MODE_C;
    } else if (strcmp(s, "borsh") != 0) {
      idl_cc_err(c, "type '%s': unsupported serialization '%s'", name, s);
      return -1;
    }
  } else if (ser) {
    idl_cc_err(c, "type '%s': unsupported custom serialization", name);
    return -1;
  }
  h->packed = 0;
  h->min_align = 0;
  const json_t *repr = json_object_get(h->def, "repr");
  if (json_is_object(repr)) {
    h->packed = json_is_true(json_object_get(repr, "packed"));
    const json_t *al = json_object_get(repr, "align");
    if (json_is_integer(al) && json_integer_value(al) > 0 && json_integer_value(al) <= 4096)
      h->min_align = (uint32_t)json_integer_value(al);
  }
  return 0;
}

#define GENERICS_MAX 16
#define KEY_MAX 512

/* One generic argument a for parameter p: a const value or a type
 * compiled in the caller's environment; appended to the key. */
static int generic_arg(cctx_t *c, const char *name, size_t i, const json_t *p, const json_t *a,
                       const genv_t *env, int mode, size_t depth, const char *where,
                       genv_entry_t *ge, char *key, size_t *kl) {
  const json_t *pn = json_object_get(p, "name");
  const char *pk = json_string_value(json_object_get(p, "kind"));
  if (!json_is_string(pn) || !pk) {
    idl_cc_err(c, "type '%s': bad generic parameter %zu", name, i);
    return -1;
  }
  ge->name = json_string_value(pn);
  ge->is_const = strcmp(pk, "const") == 0;
  ge->node = 0;
  ge->value = 0;
  if (ge->is_const) {
    const json_t *val = json_object_get(a, "value");
    int ok = json_is_string(val) ? parse_u64_text(json_string_value(val), &ge->value) == 0
             : json_is_integer(val) && json_integer_value(val) >= 0;
    if (json_is_integer(val)) ge->value = (uint64_t)json_integer_value(val);
    if (!ok) {
      idl_cc_err(c, "%s: const generic '%s' of '%s' has no valid value", where, ge->name, name);
      return -1;
    }
    return key_append(key, KEY_MAX, kl, 'c', ge->value) != 0 ? 1 : 0;
  }
  const json_t *at = json_object_get(a, "type");
  if (!at) {
    idl_cc_err(c, "%s: type generic '%s' of '%s' has no type", where, ge->name, name);
    return -1;
  }
  if (compile_type(c, at, env, mode, depth + 1, where, &ge->node) != 0) return -1;
  return key_append(key, KEY_MAX, kl, 't', ge->node) != 0 ? 1 : 0;
}

/* Resolves the generic arguments of name into ge[*np] and builds the
 * instantiation key (mode + arguments). 0, -1 + error, or 1 when the key
 * does not fit (too complex). */
static int defined_generics(cctx_t *c, const char *name, const defhead_t *h, const json_t *args,
                            const genv_t *env, size_t depth, const char *where, genv_entry_t *ge,
                            size_t *np, char *key) {
  const json_t *params = json_object_get(h->def, "generics");
  size_t n = json_is_array(params) ? json_array_size(params) : 0;
  size_t na = json_is_array(args) ? json_array_size(args) : 0;
  if (n != na) {
    idl_cc_err(c, "%s: type '%s' takes %zu generic arguments, %zu given", where, name, n, na);
    return -1;
  }
  if (n > GENERICS_MAX) {
    idl_cc_err(c, "type '%s': too many generic parameters", name);
    return -1;
  }
  size_t kl = 0;
  if (key_append(key, KEY_MAX, &kl, 'm', (uint64_t)(h->mode * 2 + h->packed)) != 0) return 1;
  for (size_t i = 0; i < n; i++) {
    int rc = generic_arg(c, name, i, json_array_get(params, i), json_array_get(args, i), env,
                         h->mode, depth, where, &ge[i], key, &kl);
    if (rc != 0) return rc;
  }
  *np = n;
  return 0;
}

/* The memo of (name, key): 1 and *node when compiled already, -1 + error
 * when it is being compiled (a cycle), 0 when unseen. */
static int memo_find(cctx_t *c, const char *name, const char *key, uint32_t *node) {
  for (size_t i = 0; i < c->n_memo; i++) {
    memo_t *m = &c->memo[i];
    if (strcmp(m->name, name) != 0 || strcmp(m->key, key) != 0) continue;
    if (m->done) {
      *node = m->node;
      return 1;
    }
    /* In progress: a cycle. Name it from its first occurrence. */
    char msg[512];
    size_t ml = 0, start = 0;
    for (size_t s = 0; s < c->depth; s++)
      if (strcmp(c->stack[s], name) == 0) {
        start = s;
        break;
      }
    msg[0] = '\0';
    for (size_t s = start; s < c->depth; s++) {
      int w = snprintf(msg + ml, sizeof msg - ml, "%s -> ", c->stack[s]);
      if (w < 0 || (size_t)w >= sizeof msg - ml) break;
      ml += (size_t)w;
    }
    idl_cc_err(c, "cyclic type definition: %s%s", msg, name);
    return -1;
  }
  return 0;
}

/* Registers (name, key) as being compiled and pushes name on the stack.
 * Returns its memo index, or -1 + error. */
static long memo_begin(cctx_t *c, const char *name, const char *key, const char *where) {
  if (c->n_memo >= IDL_MAX_INSTANCES) {
    idl_cc_err(c, "%s: more than %zu type instantiations (generics nested too widely)", where,
               IDL_MAX_INSTANCES);
    return -1;
  }
  if (grow((void **)&c->memo, &c->cap_memo, c->n_memo + 1, sizeof *c->memo) != 0) {
    idl_cc_err(c, "out of memory");
    return -1;
  }
  size_t mi = c->n_memo;
  c->memo[mi].name = name;
  c->memo[mi].key = strdup(key);
  c->memo[mi].done = 0;
  c->memo[mi].node = IDL_NONE;
  if (!c->memo[mi].key) {
    idl_cc_err(c, "out of memory");
    return -1;
  }
  c->n_memo++;
  if (c->depth >= IDL_MAX_DEPTH + 1) {
    idl_cc_err(c, "%s: types nested deeper than %d", where, IDL_MAX_DEPTH);
    return -1;
  }
  c->stack[c->depth++] = name;
  return (long)mi;
}

/* The body of a definition: struct, enum or alias. */
static int defined_body(cctx_t *c, const char *name, const defhead_t *h, const genv_t *inner,
                        size_t depth, uint32_t *node) {
  const char *kind = json_string_value(json_object_get(h->ty, "kind"));
  if (!kind) {
    idl_cc_err(c, "type '%s' has no kind", name);
    return -1;
  }
  if (strcmp(kind, "struct") == 0)
    return idl_cc_fields(c, json_object_get(h->ty, "fields"), inner, h->mode, h->packed,
                         h->min_align, depth, name, name, node);
  if (strcmp(kind, "enum") == 0)
    return compile_enum(c, json_object_get(h->ty, "variants"), inner, h->mode, depth, name, node);
  if (strcmp(kind, "type") == 0 || strcmp(kind, "alias") == 0) {
    const json_t *target = json_object_get(h->ty, strcmp(kind, "type") == 0 ? "alias" : "value");
    if (!target) {
      idl_cc_err(c, "type alias '%s' has no target", name);
      return -1;
    }
    return compile_type(c, target, inner, h->mode, depth + 1, name, node);
  }
  idl_cc_err(c, "type '%s': unsupported kind '%s'", name, kind);
  return -1;
}

int idl_cc_defined(cctx_t *c, const char *name, const json_t *args, const genv_t *env, int mode,
                   size_t depth, const char *where, uint32_t *out) {
  if (depth > IDL_MAX_DEPTH) {
    idl_cc_err(c, "%s: types nested deeper than %d", where, IDL_MAX_DEPTH);
    return -1;
  }
  defhead_t h;
  if (defined_head(c, name, mode, where, &h) != 0) return -1;
  genv_entry_t ge[GENERICS_MAX];
  size_t np = 0;
  char key[KEY_MAX];
  int rc = defined_generics(c, name, &h, args, env, depth, where, ge, &np, key);
  if (rc > 0) {
    idl_cc_err(c, "%s: generic instantiation of '%s' too complex", where, name);
    return -1;
  }
  if (rc < 0) return -1;
  rc = memo_find(c, name, key, out);
  if (rc != 0) return rc > 0 ? 0 : -1;
  long mi = memo_begin(c, name, key, where);
  if (mi < 0) return -1;
  genv_t inner = {ge, np};
  uint32_t node = IDL_NONE;
  rc = defined_body(c, name, &h, &inner, depth, &node);
  c->depth--;
  if (rc != 0) return -1;
  c->memo[mi].node = node;
  c->memo[mi].done = 1;
  *out = node;
  return 0;
}
