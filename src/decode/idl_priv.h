/* Internals of the IDL compiler, shared by idl_types.c (type layouts) and
 * idl_defs.c (accounts, instructions, events and the driver). Not a public
 * interface: the decoding modules read the result through idl_layout.h. */
#ifndef CBI_IDL_PRIV_H
#define CBI_IDL_PRIV_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "idl_layout.h"

#define IDL_MAX_NODES ((size_t)1 << 22)
/* Distinct (type, generic arguments) instantiations. Generics can double
 * them per nesting level (T<X> using T2<X> and T2<Vec<X>>), and each one is
 * looked up linearly: real IDLs need a few hundred. */
#define IDL_MAX_INSTANCES ((size_t)1 << 12)

enum { IDL_MODE_BORSH = 0, IDL_MODE_C = 1 };

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

/* Records the first error (printf-style) into c->err; later ones are
 * dropped. Sets c->failed. */
void idl_cc_err(cctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds the primitive nodes at index == kind. 0 or -1. */
int idl_cc_prims(cctx_t *c);

/* Fields of a struct or of an enum variant: named ({"name","type"}
 * objects) or a tuple (bare types). Appends them to the field table and
 * creates the STRUCT / TUPLE / CSTRUCT node (*out). 0 or -1 + error. */
int idl_cc_fields(cctx_t *c, const json_t *fields, const genv_t *env, int mode, int packed,
                  uint32_t min_align, size_t depth, const char *defname, const char *node_name,
                  uint32_t *out);

/* Compiles (once per distinct generic instantiation) the named type of
 * the types map with generic arguments args (may be NULL) resolved in env.
 * *out = its node. 0 or -1 + error (undefined, cyclic, unsupported). */
int idl_cc_defined(cctx_t *c, const char *name, const json_t *args, const genv_t *env, int mode,
                   size_t depth, const char *where, uint32_t *out);

/* Compiles the parsed document root into I (whose root, name and address
 * are set). Returns 0, or -1 with a message naming the offending item in
 * err. On failure I holds partial tables for idl_free. */
int idl_compile(struct idl *I, const json_t *root, char *err, size_t errsz);

#endif
