/* Anchor IDL loading and compilation into the layout table of idl_layout.h.
 *
 * Both IDL formats are accepted:
 *  - 0.30+: "address", "metadata.name", explicit "discriminator" arrays of
 *    any length, accounts/events naming a type of the "types" section,
 *    "pubkey", {"defined": {"name": N, "generics": [...]}}, {"generic": T},
 *    "serialization": "bytemuck" | "bytemuckunsafe" with "repr".
 *  - legacy: "name", type definitions inline in "accounts" and events
 *    ("fields"), "publicKey", {"defined": "Name"}, camelCase instruction
 *    names, discriminators computed with SHA-256.
 *
 * repr(C) layouts use the alignments of the Solana SBF target (u128/i128
 * aligned to 8), unless the definition says packed or raises the
 * alignment. */
#include "idl.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"
#include "idl_layout.h"

#define IDL_MAX_DOC ((size_t)64 * 1024 * 1024)
#define IDL_MAX_NODES ((size_t)1 << 22)
/* Distinct (type, generic arguments) instantiations. Generics can double
 * them per nesting level (T<X> using T2<X> and T2<Vec<X>>), and each one is
 * looked up linearly: real IDLs need a few hundred. */
#define IDL_MAX_INSTANCES ((size_t)1 << 12)

enum { MODE_BORSH = 0, MODE_C = 1 };

typedef struct genv_entry {
  const char *name;
  int is_const;
  uint32_t node;  /* type parameter */
  uint64_t value; /* const parameter */
} genv_entry_t;

typedef struct genv {
  const genv_entry_t *e;
  size_t n;
} genv_t;

typedef struct memo {
  const char *name;
  char *key; /* instantiation key: mode + generic arguments */
  uint32_t node;
  int done;
} memo_t;

typedef struct cctx {
  struct idl *idl;
  json_t *types; /* name -> definition (borrowed values) */
  memo_t *memo;
  size_t n_memo, cap_memo;
  const char *stack[IDL_MAX_DEPTH + 2]; /* definitions being compiled */
  size_t depth;
  size_t cap_nodes, cap_fields, cap_variants;
  char *err;
  size_t errsz;
  int failed;
} cctx_t;

static void cc_err(cctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void cc_err(cctx_t *c, const char *fmt, ...) {
  if (c->failed) return; /* the first error is the one reported */
  c->failed = 1;
  if (!c->err || c->errsz == 0) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(c->err, c->errsz, fmt, ap);
  va_end(ap);
  if (n < 0) c->err[0] = '\0';
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
    cc_err(c, "IDL too large (more than %zu layout nodes)", IDL_MAX_NODES);
    return -1;
  }
  if (grow((void **)&I->nodes, &c->cap_nodes, I->n_nodes + 1, sizeof *n) != 0) {
    cc_err(c, "out of memory");
    return -1;
  }
  I->nodes[I->n_nodes] = *n;
  *idx = (uint32_t)I->n_nodes++;
  return 0;
}

/* ---- names ------------------------------------------------------------ */

static int is_upper(char ch) { return ch >= 'A' && ch <= 'Z'; }
static int is_lower(char ch) { return ch >= 'a' && ch <= 'z'; }
static int is_alnum(char ch) { return is_upper(ch) || is_lower(ch) || (ch >= '0' && ch <= '9'); }

int idl_snake_case(const char *name, char *out, size_t outsz) {
  size_t o = 0;
  int first_word = 1;
  const char *p = name;
  if (outsz == 0) return -1;
#define SC_PUT(ch)                   \
  do {                               \
    if (o + 1 >= outsz) return -1;   \
    out[o++] = (ch);                 \
  } while (0)
#define SC_WORD(b, e)                                                           \
  do {                                                                          \
    if ((e) > (b)) {                                                            \
      if (!first_word) SC_PUT('_');                                             \
      for (const char *sc_q = (b); sc_q < (e); sc_q++) SC_PUT(is_upper(*sc_q) ? (char)(*sc_q + 32) : *sc_q); \
      first_word = 0;                                                           \
    }                                                                           \
  } while (0)
  /* Same word boundaries as heck's to_snake_case (what Anchor uses). */
  while (*p) {
    while (*p && !is_alnum(*p)) p++;
    const char *w = p;
    while (*p && is_alnum(*p)) p++;
    const char *we = p;
    const char *init = w;
    enum { BOUNDARY, LOWER, UPPER } mode = BOUNDARY;
    for (const char *q = w; q < we; q++) {
      if (q + 1 < we) {
        char ch = *q, next = q[1];
        int next_mode = is_lower(ch) ? LOWER : is_upper(ch) ? UPPER : (int)mode;
        if (next_mode == LOWER && is_upper(next)) {
          SC_WORD(init, q + 1);
          init = q + 1;
          mode = BOUNDARY;
        } else if (mode == UPPER && is_upper(ch) && is_lower(next)) {
          SC_WORD(init, q);
          init = q;
          mode = BOUNDARY;
        } else {
          mode = next_mode;
        }
      } else {
        SC_WORD(init, we);
      }
    }
  }
#undef SC_PUT
#undef SC_WORD
  out[o] = '\0';
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

static int add_prims(cctx_t *c) {
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
static int compile_defined(cctx_t *c, const char *name, const json_t *args, const genv_t *env,
                           int mode, size_t depth, const char *where, uint32_t *out);

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
    cc_err(c, "%s: array length names unknown const generic '%s'", where, json_string_value(g));
    return -1;
  }
  cc_err(c, "%s: bad array length", where);
  return -1;
}

static int compile_type(cctx_t *c, const json_t *t, const genv_t *env, int mode, size_t depth,
                        const char *where, uint32_t *out) {
  if (depth > IDL_MAX_DEPTH) {
    cc_err(c, "%s: types nested deeper than %d", where, IDL_MAX_DEPTH);
    return -1;
  }
  if (json_is_string(t)) {
    const char *s = json_string_value(t);
    int k = prim_lookup(s);
    if (k < 0) {
      cc_err(c, "%s: unknown type '%s'", where, s);
      return -1;
    }
    if (mode == MODE_C && (k == IDL_K_STRING || k == IDL_K_BYTES)) {
      cc_err(c, "%s: '%s' cannot be part of a bytemuck (repr(C)) layout", where, s);
      return -1;
    }
    *out = (uint32_t)k;
    return 0;
  }
  if (!json_is_object(t)) {
    cc_err(c, "%s: type is neither a name nor an object", where);
    return -1;
  }
  const json_t *v;
  idl_node_t n = {0};
  if ((v = json_object_get(t, "option")) || (v = json_object_get(t, "coption"))) {
    int co = json_object_get(t, "option") == NULL;
    if (mode == MODE_C) {
      cc_err(c, "%s: option cannot be part of a bytemuck (repr(C)) layout", where);
      return -1;
    }
    uint32_t ch;
    if (compile_type(c, v, env, mode, depth + 1, where, &ch) != 0) return -1;
    const idl_node_t *cn = &c->idl->nodes[ch];
    n.kind = co ? IDL_K_COPTION : IDL_K_OPTION;
    n.child = ch;
    n.align = 1;
    if (co) {
      /* COption<T>: u32 tag, then T's bytes, present (zero) even for None,
       * as the Anchor coder lays it out; T must have a fixed size. */
      if (!(cn->flags & IDL_NF_FIXED) || cn->size == UINT32_MAX) {
        cc_err(c, "%s: coption of a variable-size type", where);
        return -1;
      }
      n.size = sat_add(4, cn->size);
      n.flags = IDL_NF_FIXED;
    } else {
      n.size = 1;
    }
    return add_node(c, &n, out);
  }
  if ((v = json_object_get(t, "vec"))) {
    if (mode == MODE_C) {
      cc_err(c, "%s: vec cannot be part of a bytemuck (repr(C)) layout", where);
      return -1;
    }
    uint32_t ch;
    if (compile_type(c, v, env, mode, depth + 1, where, &ch) != 0) return -1;
    /* Borsh forbids collections of zero-size types: each element would
     * decode from no bytes, so a 4-byte count could ask for 2^32 of them. */
    if (c->idl->nodes[ch].size == 0) {
      cc_err(c, "%s: vec of zero-size elements", where);
      return -1;
    }
    n.kind = IDL_K_VEC;
    n.size = 4;
    n.child = ch;
    n.align = 1;
    return add_node(c, &n, out);
  }
  if ((v = json_object_get(t, "array"))) {
    if (!json_is_array(v) || json_array_size(v) != 2) {
      cc_err(c, "%s: array must be [type, length]", where);
      return -1;
    }
    uint64_t len;
    uint32_t ch;
    if (array_len(c, json_array_get(v, 1), env, where, &len) != 0) return -1;
    if (len > UINT32_MAX) {
      cc_err(c, "%s: array length %" PRIu64 " too large", where, len);
      return -1;
    }
    if (compile_type(c, json_array_get(v, 0), env, mode, depth + 1, where, &ch) != 0) return -1;
    const idl_node_t *cn = &c->idl->nodes[ch];
    /* Zero-size elements consume no data: nested arrays of them multiply
     * (65536 x 65536 x ...) into work and output that no data bounds. */
    if (cn->size == 0 && len > 0) {
      cc_err(c, "%s: array of %" PRIu64 " zero-size elements", where, len);
      return -1;
    }
    n.kind = IDL_K_ARRAY;
    n.count = (uint32_t)len;
    n.child = ch;
    n.size = sat_mul(cn->size, (uint32_t)len);
    n.align = cn->align;
    n.flags = cn->flags & (IDL_NF_FIXED | IDL_NF_PLAIN);
    if (mode == MODE_C && n.size == UINT32_MAX) {
      cc_err(c, "%s: array too large", where);
      return -1;
    }
    return add_node(c, &n, out);
  }
  if ((v = json_object_get(t, "defined"))) {
    if (json_is_string(v)) /* legacy */
      return compile_defined(c, json_string_value(v), NULL, env, mode, depth + 1, where, out);
    const json_t *nm = json_object_get(v, "name");
    if (!json_is_string(nm)) {
      cc_err(c, "%s: defined type without a name", where);
      return -1;
    }
    return compile_defined(c, json_string_value(nm), json_object_get(v, "generics"), env, mode,
                           depth + 1, where, out);
  }
  if ((v = json_object_get(t, "generic"))) {
    const genv_entry_t *e = json_is_string(v) ? genv_find(env, json_string_value(v)) : NULL;
    if (!e || e->is_const) {
      cc_err(c, "%s: unknown type generic '%s'", where,
             json_is_string(v) ? json_string_value(v) : "?");
      return -1;
    }
    *out = e->node;
    return 0;
  }
  const char *key = json_object_iter_key(json_object_iter((json_t *)t));
  cc_err(c, "%s: unsupported type '%s'", where, key ? key : "{}");
  return -1;
}

/* Fields of a struct or of an enum variant: named ({"name","type"}
 * objects) or a tuple (bare types). Appends them contiguously to the
 * field table and creates the STRUCT / TUPLE / CSTRUCT node. */
static int compile_fields(cctx_t *c, const json_t *fields, const genv_t *env, int mode, int packed,
                          uint32_t min_align, size_t depth, const char *defname,
                          const char *node_name, uint32_t *out) {
  size_t nf = json_is_array(fields) ? json_array_size(fields) : 0;
  if (fields && !json_is_array(fields) && !json_is_null(fields)) {
    cc_err(c, "%s: fields must be an array", defname);
    return -1;
  }
  if (nf > 65535) {
    cc_err(c, "%s: too many fields", defname);
    return -1;
  }
  int tuple = 0;
  if (nf > 0) {
    const json_t *f0 = json_array_get(fields, 0);
    tuple = !(json_is_object(f0) && json_is_string(json_object_get(f0, "name")) &&
              json_object_get(f0, "type"));
  }
  idl_field_t *tmp = nf ? calloc(nf, sizeof *tmp) : NULL;
  if (nf && !tmp) {
    cc_err(c, "out of memory");
    return -1;
  }
  int rc = -1;
  uint32_t size = 0, align = packed ? 1 : (min_align ? min_align : 1);
  int fixed = 1, plain = 1;
  for (size_t i = 0; i < nf; i++) {
    const json_t *f = json_array_get(fields, i);
    const json_t *ft = f;
    char where[256];
    if (!tuple) {
      const json_t *fn = json_object_get(f, "name");
      ft = json_object_get(f, "type");
      if (!json_is_string(fn) || !ft) {
        cc_err(c, "%s: field %zu has no name or type", defname, i);
        goto out;
      }
      tmp[i].name = json_string_value(fn);
      snprintf(where, sizeof where, "%s.%s", defname, tmp[i].name);
      for (size_t k = 0; k < i; k++)
        if (strcmp(tmp[k].name, tmp[i].name) == 0) {
          cc_err(c, "%s: field defined twice", where);
          goto out;
        }
    } else {
      snprintf(where, sizeof where, "%s.%zu", defname, i);
    }
    if (compile_type(c, ft, env, mode, depth + 1, where, &tmp[i].node) != 0) goto out;
    const idl_node_t *fn = &c->idl->nodes[tmp[i].node];
    if (!(fn->flags & IDL_NF_FIXED)) fixed = 0;
    if (!(fn->flags & IDL_NF_PLAIN)) plain = 0;
    if (mode == MODE_C) {
      uint32_t fa = packed ? 1 : fn->align;
      if (fa == 0) fa = 1;
      uint64_t off = ((uint64_t)size + fa - 1) / fa * fa;
      if (off + fn->size > UINT32_MAX) {
        cc_err(c, "%s: layout too large", where);
        goto out;
      }
      tmp[i].offset = (uint32_t)off;
      size = (uint32_t)(off + fn->size);
      if (fa > align) align = fa;
    } else {
      size = sat_add(size, fn->size);
    }
  }
  idl_node_t n = {0};
  n.name = node_name;
  n.count = (uint32_t)nf;
  n.child = (uint32_t)c->idl->n_fields;
  if (mode == MODE_C) {
    uint64_t sz = ((uint64_t)size + align - 1) / align * align;
    if (sz > UINT32_MAX || align > 65535) {
      cc_err(c, "%s: layout too large", defname);
      goto out;
    }
    n.kind = IDL_K_CSTRUCT;
    n.size = (uint32_t)sz;
    n.align = (uint16_t)align;
    n.flags = IDL_NF_FIXED | (tuple ? IDL_NF_CTUPLE : 0) | (plain ? IDL_NF_PLAIN : 0);
  } else {
    n.kind = tuple ? IDL_K_TUPLE : IDL_K_STRUCT;
    n.size = size;
    n.align = 1;
    n.flags = fixed ? (IDL_NF_FIXED | (plain ? IDL_NF_PLAIN : 0)) : 0;
  }
  struct idl *I = c->idl;
  if (nf > IDL_MAX_NODES - I->n_fields) {
    cc_err(c, "IDL too large (more than %zu fields)", IDL_MAX_NODES);
    goto out;
  }
  if (grow((void **)&I->fields, &c->cap_fields, I->n_fields + nf, sizeof *tmp) != 0) {
    cc_err(c, "out of memory");
    goto out;
  }
  if (nf) memcpy(I->fields + I->n_fields, tmp, nf * sizeof *tmp);
  I->n_fields += nf;
  rc = add_node(c, &n, out);
out:
  free(tmp);
  return rc;
}

static int compile_enum(cctx_t *c, const json_t *variants, const genv_t *env, int mode,
                        size_t depth, const char *defname, uint32_t *out) {
  if (mode == MODE_C) {
    cc_err(c, "%s: enum cannot be part of a bytemuck (repr(C)) layout", defname);
    return -1;
  }
  size_t nv = json_is_array(variants) ? json_array_size(variants) : 0;
  if (!json_is_array(variants)) {
    cc_err(c, "%s: enum without variants", defname);
    return -1;
  }
  if (nv > 256) {
    cc_err(c, "%s: more than 256 variants", defname);
    return -1;
  }
  idl_variant_t *tmp = nv ? calloc(nv, sizeof *tmp) : NULL;
  if (nv && !tmp) {
    cc_err(c, "out of memory");
    return -1;
  }
  int rc = -1;
  uint32_t minp = UINT32_MAX;
  int all_unit = 1;
  for (size_t i = 0; i < nv; i++) {
    const json_t *vj = json_array_get(variants, i);
    const json_t *vn = json_object_get(vj, "name");
    if (!json_is_string(vn)) {
      cc_err(c, "%s: variant %zu has no name", defname, i);
      goto out;
    }
    tmp[i].name = json_string_value(vn);
    tmp[i].node = IDL_NONE;
    const json_t *vf = json_object_get(vj, "fields");
    if (vf && json_is_array(vf)) {
      char where[256];
      snprintf(where, sizeof where, "%s::%s", defname, tmp[i].name);
      if (compile_fields(c, vf, env, mode, 0, 0, depth, where, NULL, &tmp[i].node) != 0)
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
    cc_err(c, "IDL too large (more than %zu enum variants)", IDL_MAX_NODES);
    goto out;
  }
  if (grow((void **)&I->variants, &c->cap_variants, I->n_variants + nv, sizeof *tmp) != 0) {
    cc_err(c, "out of memory");
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

static int compile_defined(cctx_t *c, const char *name, const json_t *args, const genv_t *env,
                           int mode, size_t depth, const char *where, uint32_t *out) {
  if (depth > IDL_MAX_DEPTH) {
    cc_err(c, "%s: types nested deeper than %d", where, IDL_MAX_DEPTH);
    return -1;
  }
  const json_t *def = json_object_get(c->types, name);
  if (!def) {
    cc_err(c, "%s: undefined type '%s'", where, name);
    return -1;
  }
  const json_t *ty = json_object_get(def, "type");
  if (!json_is_object(ty)) {
    cc_err(c, "type '%s' has no type body", name);
    return -1;
  }
  const json_t *ser = json_object_get(def, "serialization");
  if (json_is_string(ser)) {
    const char *s = json_string_value(ser);
    if (strcmp(s, "bytemuck") == 0 || strcmp(s, "bytemuckunsafe") == 0)
      mode = MODE_C;
    else if (strcmp(s, "borsh") != 0) {
      cc_err(c, "type '%s': unsupported serialization '%s'", name, s);
      return -1;
    }
  } else if (ser) {
    cc_err(c, "type '%s': unsupported custom serialization", name);
    return -1;
  }
  int packed = 0;
  uint32_t min_align = 0;
  const json_t *repr = json_object_get(def, "repr");
  if (json_is_object(repr)) {
    packed = json_is_true(json_object_get(repr, "packed"));
    const json_t *al = json_object_get(repr, "align");
    if (json_is_integer(al) && json_integer_value(al) > 0 && json_integer_value(al) <= 4096)
      min_align = (uint32_t)json_integer_value(al);
  }

  /* Generic arguments, resolved in the caller's environment. */
  const json_t *params = json_object_get(def, "generics");
  size_t np = json_is_array(params) ? json_array_size(params) : 0;
  size_t na = json_is_array(args) ? json_array_size(args) : 0;
  if (np != na) {
    cc_err(c, "%s: type '%s' takes %zu generic arguments, %zu given", where, name, np, na);
    return -1;
  }
  if (np > 16) {
    cc_err(c, "type '%s': too many generic parameters", name);
    return -1;
  }
  genv_entry_t ge[16];
  char key[512];
  size_t kl = 0;
  if (key_append(key, sizeof key, &kl, 'm', (uint64_t)(mode * 2 + packed)) != 0) goto toolong;
  for (size_t i = 0; i < np; i++) {
    const json_t *p = json_array_get(params, i), *a = json_array_get(args, i);
    const json_t *pn = json_object_get(p, "name");
    const char *pk = json_string_value(json_object_get(p, "kind"));
    if (!json_is_string(pn) || !pk) {
      cc_err(c, "type '%s': bad generic parameter %zu", name, i);
      return -1;
    }
    ge[i].name = json_string_value(pn);
    ge[i].is_const = strcmp(pk, "const") == 0;
    ge[i].node = 0;
    ge[i].value = 0;
    if (ge[i].is_const) {
      const json_t *val = json_object_get(a, "value");
      int ok = json_is_string(val) ? parse_u64_text(json_string_value(val), &ge[i].value) == 0
               : json_is_integer(val) && json_integer_value(val) >= 0;
      if (json_is_integer(val)) ge[i].value = (uint64_t)json_integer_value(val);
      if (!ok) {
        cc_err(c, "%s: const generic '%s' of '%s' has no valid value", where, ge[i].name, name);
        return -1;
      }
      if (key_append(key, sizeof key, &kl, 'c', ge[i].value) != 0) goto toolong;
    } else {
      const json_t *at = json_object_get(a, "type");
      if (!at) {
        cc_err(c, "%s: type generic '%s' of '%s' has no type", where, ge[i].name, name);
        return -1;
      }
      if (compile_type(c, at, env, mode, depth + 1, where, &ge[i].node) != 0) return -1;
      if (key_append(key, sizeof key, &kl, 't', ge[i].node) != 0) goto toolong;
    }
  }

  for (size_t i = 0; i < c->n_memo; i++) {
    memo_t *m = &c->memo[i];
    if (strcmp(m->name, name) != 0 || strcmp(m->key, key) != 0) continue;
    if (m->done) {
      *out = m->node;
      return 0;
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
    cc_err(c, "cyclic type definition: %s%s", msg, name);
    return -1;
  }

  if (c->n_memo >= IDL_MAX_INSTANCES) {
    cc_err(c, "%s: more than %zu type instantiations (generics nested too widely)", where,
           IDL_MAX_INSTANCES);
    return -1;
  }
  if (grow((void **)&c->memo, &c->cap_memo, c->n_memo + 1, sizeof *c->memo) != 0) {
    cc_err(c, "out of memory");
    return -1;
  }
  size_t mi = c->n_memo;
  c->memo[mi].name = name;
  c->memo[mi].key = strdup(key);
  c->memo[mi].done = 0;
  c->memo[mi].node = IDL_NONE;
  if (!c->memo[mi].key) {
    cc_err(c, "out of memory");
    return -1;
  }
  c->n_memo++;
  if (c->depth >= IDL_MAX_DEPTH + 1) {
    cc_err(c, "%s: types nested deeper than %d", where, IDL_MAX_DEPTH);
    return -1;
  }
  c->stack[c->depth++] = name;

  genv_t inner = {ge, np};
  const char *kind = json_string_value(json_object_get(ty, "kind"));
  int rc = -1;
  uint32_t node = IDL_NONE;
  if (!kind) {
    cc_err(c, "type '%s' has no kind", name);
  } else if (strcmp(kind, "struct") == 0) {
    rc = compile_fields(c, json_object_get(ty, "fields"), &inner, mode, packed, min_align, depth,
                        name, name, &node);
  } else if (strcmp(kind, "enum") == 0) {
    rc = compile_enum(c, json_object_get(ty, "variants"), &inner, mode, depth, name, &node);
  } else if (strcmp(kind, "type") == 0 || strcmp(kind, "alias") == 0) {
    const json_t *target = json_object_get(ty, strcmp(kind, "type") == 0 ? "alias" : "value");
    if (!target)
      cc_err(c, "type alias '%s' has no target", name);
    else
      rc = compile_type(c, target, &inner, mode, depth + 1, name, &node);
  } else {
    cc_err(c, "type '%s': unsupported kind '%s'", name, kind);
  }
  c->depth--;
  if (rc != 0) return -1;
  c->memo[mi].node = node;
  c->memo[mi].done = 1;
  *out = node;
  return 0;
toolong:
  cc_err(c, "%s: generic instantiation of '%s' too complex", where, name);
  return -1;
}

/* ---- definitions ---------------------------------------------------------- */

static void sha_disc(const char *prefix, const char *name, idl_def_t *d) {
  crypto_hash_sha256_state st;
  uint8_t h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, (const unsigned char *)prefix, strlen(prefix));
  crypto_hash_sha256_update(&st, (const unsigned char *)name, strlen(name));
  crypto_hash_sha256_final(&st, h);
  memcpy(d->disc, h, 8);
  d->disc_len = 8;
}

/* Explicit discriminator array, or computed. */
static int def_disc(cctx_t *c, const json_t *j, const char *what, const char *prefix,
                    const char *hashname, idl_def_t *d) {
  const json_t *dj = json_object_get(j, "discriminator");
  if (!dj) {
    sha_disc(prefix, hashname, d);
    return 0;
  }
  if (!json_is_array(dj) || json_array_size(dj) > IDL_DISC_MAX) {
    cc_err(c, "%s '%s': bad discriminator", what, d->name);
    return -1;
  }
  d->disc_len = (uint32_t)json_array_size(dj);
  for (size_t i = 0; i < d->disc_len; i++) {
    const json_t *b = json_array_get(dj, i);
    if (!json_is_integer(b) || json_integer_value(b) < 0 || json_integer_value(b) > 255) {
      cc_err(c, "%s '%s': discriminator byte %zu is not 0..255", what, d->name, i);
      return -1;
    }
    d->disc[i] = (uint8_t)json_integer_value(b);
  }
  return 0;
}

static int check_dup_disc(cctx_t *c, const idl_def_t *defs, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      if (defs[i].disc_len == defs[j].disc_len &&
          memcmp(defs[i].disc, defs[j].disc, defs[i].disc_len) == 0) {
        cc_err(c, "%ss '%s' and '%s' have the same discriminator", what, defs[i].name,
               defs[j].name);
        return -1;
      }
  return 0;
}

static int flatten_accounts(cctx_t *c, const json_t *arr, idl_def_t *d, size_t depth) {
  if (!json_is_array(arr)) return 0;
  if (depth > 16) {
    cc_err(c, "instruction '%s': account groups nested too deep", d->name);
    return -1;
  }
  for (size_t i = 0; i < json_array_size(arr); i++) {
    const json_t *a = json_array_get(arr, i);
    const json_t *sub = json_object_get(a, "accounts");
    if (json_is_array(sub)) {
      if (flatten_accounts(c, sub, d, depth + 1) != 0) return -1;
      continue;
    }
    const json_t *nm = json_object_get(a, "name");
    if (!json_is_string(nm)) {
      cc_err(c, "instruction '%s': account %zu has no name", d->name, i);
      return -1;
    }
    idl_ix_account_t *p = realloc(d->accounts, (d->n_accounts + 1) * sizeof *p);
    if (!p) {
      cc_err(c, "out of memory");
      return -1;
    }
    d->accounts = p;
    idl_ix_account_t *e = &d->accounts[d->n_accounts++];
    e->name = json_string_value(nm);
    e->signer = json_is_true(json_object_get(a, "signer")) ||
                json_is_true(json_object_get(a, "isSigner"));
    e->writable = json_is_true(json_object_get(a, "writable")) ||
                  json_is_true(json_object_get(a, "isMut"));
  }
  return 0;
}

static int alloc_defs(cctx_t *c, const json_t *arr, idl_def_t **defs, size_t *n) {
  *n = json_is_array(arr) ? json_array_size(arr) : 0;
  if (*n == 0) return 0;
  *defs = calloc(*n, sizeof **defs);
  if (!*defs) {
    cc_err(c, "out of memory");
    return -1;
  }
  return 0;
}

static int compile_accounts(cctx_t *c, const json_t *arr) {
  struct idl *I = c->idl;
  if (alloc_defs(c, arr, &I->accounts, &I->n_accounts) != 0) return -1;
  for (size_t i = 0; i < I->n_accounts; i++) {
    const json_t *a = json_array_get(arr, i);
    idl_def_t *d = &I->accounts[i];
    const char *nm = json_string_value(json_object_get(a, "name"));
    if (!nm) {
      cc_err(c, "account %zu has no name", i);
      return -1;
    }
    d->name = nm;
    if (def_disc(c, a, "account", "account:", nm, d) != 0) return -1;
    char where[160];
    snprintf(where, sizeof where, "account '%s'", nm);
    if (compile_defined(c, nm, NULL, NULL, MODE_BORSH, 0, where, &d->node) != 0) return -1;
  }
  return check_dup_disc(c, I->accounts, I->n_accounts, "account");
}

static int compile_instructions(cctx_t *c, const json_t *arr) {
  struct idl *I = c->idl;
  if (alloc_defs(c, arr, &I->instructions, &I->n_instructions) != 0) return -1;
  for (size_t i = 0; i < I->n_instructions; i++) {
    const json_t *a = json_array_get(arr, i);
    idl_def_t *d = &I->instructions[i];
    const char *nm = json_string_value(json_object_get(a, "name"));
    if (!nm) {
      cc_err(c, "instruction %zu has no name", i);
      return -1;
    }
    d->name = nm;
    char snake[256];
    if (idl_snake_case(nm, snake, sizeof snake) != 0) {
      cc_err(c, "instruction '%.64s...': name too long", nm);
      return -1;
    }
    if (def_disc(c, a, "instruction", "global:", snake, d) != 0) return -1;
    if (flatten_accounts(c, json_object_get(a, "accounts"), d, 0) != 0) return -1;
    const json_t *args = json_object_get(a, "args");
    if (args && json_array_size(args) > 0 &&
        !json_is_string(json_object_get(json_array_get(args, 0), "name"))) {
      cc_err(c, "instruction '%s': argument without a name", nm);
      return -1;
    }
    if (compile_fields(c, args, NULL, MODE_BORSH, 0, 0, 0, nm, nm, &d->node) != 0) return -1;
  }
  return check_dup_disc(c, I->instructions, I->n_instructions, "instruction");
}

static int compile_events(cctx_t *c, const json_t *arr) {
  struct idl *I = c->idl;
  if (alloc_defs(c, arr, &I->events, &I->n_events) != 0) return -1;
  for (size_t i = 0; i < I->n_events; i++) {
    const json_t *a = json_array_get(arr, i);
    idl_def_t *d = &I->events[i];
    const char *nm = json_string_value(json_object_get(a, "name"));
    if (!nm) {
      cc_err(c, "event %zu has no name", i);
      return -1;
    }
    d->name = nm;
    if (def_disc(c, a, "event", "event:", nm, d) != 0) return -1;
    const json_t *fields = json_object_get(a, "fields");
    if (fields) { /* legacy: fields inline */
      if (compile_fields(c, fields, NULL, MODE_BORSH, 0, 0, 0, nm, nm, &d->node) != 0) return -1;
    } else {
      char where[160];
      snprintf(where, sizeof where, "event '%s'", nm);
      if (compile_defined(c, nm, NULL, NULL, MODE_BORSH, 0, where, &d->node) != 0) return -1;
    }
  }
  return check_dup_disc(c, I->events, I->n_events, "event");
}

/* name -> definition map: the types section, plus legacy accounts that
 * carry their type inline (types win on a clash). */
static int build_types(cctx_t *c, const json_t *root) {
  c->types = json_object();
  if (!c->types) {
    cc_err(c, "out of memory");
    return -1;
  }
  const json_t *types = json_object_get(root, "types");
  if (types && !json_is_array(types)) {
    cc_err(c, "\"types\" is not an array");
    return -1;
  }
  for (size_t i = 0; i < json_array_size(types); i++) {
    json_t *t = json_array_get(types, i);
    const char *nm = json_string_value(json_object_get(t, "name"));
    if (!nm) {
      cc_err(c, "type %zu has no name", i);
      return -1;
    }
    if (json_object_get(c->types, nm)) {
      cc_err(c, "type '%s' defined twice", nm);
      return -1;
    }
    json_object_set(c->types, nm, t);
  }
  const json_t *accts = json_object_get(root, "accounts");
  for (size_t i = 0; i < json_array_size(accts); i++) {
    json_t *a = json_array_get(accts, i);
    const char *nm = json_string_value(json_object_get(a, "name"));
    if (nm && json_object_get(a, "type") && !json_object_get(c->types, nm))
      json_object_set(c->types, nm, a);
  }
  return 0;
}

void idl_free(idl_t *idl) {
  if (!idl) return;
  void *cb = atomic_load(&idl->cb);
  decode_cb_binding_free(cb);
  for (size_t i = 0; i < idl->n_instructions; i++) free(idl->instructions[i].accounts);
  free(idl->accounts);
  free(idl->instructions);
  free(idl->events);
  free(idl->nodes);
  free(idl->fields);
  free(idl->variants);
  json_decref((json_t *)idl->root);
  free(idl);
}

int idl_load_json(const char *text, size_t len, idl_t **out, char *err, size_t errsz) {
  *out = NULL;
  if (err && errsz) err[0] = '\0';
  if (sodium_init() < 0) {
    if (err && errsz) snprintf(err, errsz, "libsodium initialisation failed");
    return -1;
  }
  cctx_t c = {0};
  c.err = err;
  c.errsz = errsz;
  struct idl *I = calloc(1, sizeof *I);
  if (!I) {
    cc_err(&c, "out of memory");
    return -1;
  }
  atomic_init(&I->cb, NULL);
  c.idl = I;
  int rc = -1;
  json_error_t je;
  json_t *root = NULL;
  if (len > IDL_MAX_DOC) {
    cc_err(&c, "IDL document too large");
    goto out;
  }
  root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    cc_err(&c, "IDL is not valid JSON: line %d column %d: %s", je.line, je.column, je.text);
    goto out;
  }
  I->root = root;
  if (!json_is_object(root)) {
    cc_err(&c, "IDL is not a JSON object");
    goto out;
  }
  const json_t *meta = json_object_get(root, "metadata");
  I->name = json_string_value(json_object_get(meta, "name"));
  if (!I->name) I->name = json_string_value(json_object_get(root, "name"));
  if (!I->name) I->name = "";
  I->address = json_string_value(json_object_get(root, "address"));
  if (!I->address) I->address = json_string_value(json_object_get(meta, "address"));
  if (add_prims(&c) != 0) goto out;
  if (build_types(&c, root) != 0) goto out;
  if (compile_accounts(&c, json_object_get(root, "accounts")) != 0) goto out;
  if (compile_instructions(&c, json_object_get(root, "instructions")) != 0) goto out;
  if (compile_events(&c, json_object_get(root, "events")) != 0) goto out;
  /* Every named type must compile, used or not: an undefined or cyclic
   * definition is an error of the IDL, not of the first message using it. */
  const char *tn;
  json_t *tv;
  json_object_foreach(c.types, tn, tv) {
    if (json_object_get(tv, "generics") && json_array_size(json_object_get(tv, "generics")) > 0)
      continue; /* generic: compiled per instantiation */
    uint32_t node;
    char where[160];
    snprintf(where, sizeof where, "type '%s'", tn);
    if (compile_defined(&c, tn, NULL, NULL, MODE_BORSH, 0, where, &node) != 0) goto out;
  }
  rc = 0;
out:
  for (size_t i = 0; i < c.n_memo; i++) free(c.memo[i].key);
  free(c.memo);
  json_decref(c.types);
  if (rc != 0 || c.failed) {
    if (!c.failed) cc_err(&c, "IDL compilation failed");
    idl_free(I);
    return -1;
  }
  *out = I;
  return 0;
}

int idl_load_file(const char *path, idl_t **out, char *err, size_t errsz) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (err && errsz) snprintf(err, errsz, "cannot open IDL %s: %s", path, strerror(errno));
    return -1;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = -1;
  for (;;) {
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      if (ncap > IDL_MAX_DOC + 1) {
        if (err && errsz) snprintf(err, errsz, "IDL %s is too large", path);
        goto out;
      }
      char *p = realloc(buf, ncap);
      if (!p) {
        if (err && errsz) snprintf(err, errsz, "out of memory reading %s", path);
        goto out;
      }
      buf = p;
      cap = ncap;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    if (err && errsz) snprintf(err, errsz, "cannot read IDL %s", path);
    goto out;
  }
  rc = idl_load_json(buf, len, out, err, errsz);
  if (rc != 0 && err && errsz) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", err);
    snprintf(err, errsz, "%s: %s", path, tmp);
  }
out:
  free(buf);
  fclose(f);
  return rc;
}

int idl_load_default(idl_t **out, char *err, size_t errsz) {
  const embedded_file_t *f = embedded_find("idl/crypto_bet.json");
  if (!f) {
    *out = NULL;
    if (err && errsz) snprintf(err, errsz, "embedded IDL idl/crypto_bet.json missing");
    return -1;
  }
  return idl_load_json(f->data, f->len, out, err, errsz);
}

const char *idl_address(const idl_t *idl) { return idl->address; }

const char *idl_name(const idl_t *idl) { return idl->name; }

size_t idl_account_count(const idl_t *idl) { return idl->n_accounts; }

const char *idl_account_name(const idl_t *idl, size_t i) {
  return i < idl->n_accounts ? idl->accounts[i].name : NULL;
}

const uint8_t *idl_account_discriminator(const idl_t *idl, size_t i, size_t *len) {
  if (i >= idl->n_accounts) {
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = idl->accounts[i].disc_len;
  return idl->accounts[i].disc;
}

const idl_def_t *idl_find_def(const idl_def_t *defs, size_t n, const uint8_t *data, size_t len) {
  const idl_def_t *best = NULL;
  for (size_t i = 0; i < n; i++) {
    const idl_def_t *d = &defs[i];
    if (d->disc_len <= len && (d->disc_len == 0 || memcmp(d->disc, data, d->disc_len) == 0) &&
        (!best || d->disc_len > best->disc_len))
      best = d;
  }
  return best;
}

const idl_def_t *idl_find_def_name(const idl_def_t *defs, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(defs[i].name, name) == 0) return &defs[i];
  return NULL;
}
