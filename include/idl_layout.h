/* The compiled form of an Anchor IDL: a flat table of layout nodes that the
 * decoder walks without any string lookup. Internal to the decoding modules
 * (idl.c, idl_types.c and idl_defs.c build it; decode_borsh.c, decoder.c
 * and decode_cb.c read it); everyone else uses the opaque idl_t of idl.h.
 *
 * Nodes reference each other by index. A defined type is compiled once per
 * distinct instantiation (generic arguments substituted at load time), so a
 * reference to it is just its node index. The graph is acyclic (cyclic
 * definitions are rejected at load) and at most IDL_MAX_DEPTH deep. */
#ifndef CBI_IDL_LAYOUT_H
#define CBI_IDL_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "idl.h"

#define IDL_MAX_DEPTH 64    /* nesting limit of type definitions */
#define IDL_DISC_MAX 64     /* longest discriminator accepted */
#define IDL_NONE UINT32_MAX /* "no node" (unit enum variants) */

typedef enum idl_kind {
  IDL_K_BOOL = 0,
  IDL_K_U8,
  IDL_K_I8,
  IDL_K_U16,
  IDL_K_I16,
  IDL_K_U32,
  IDL_K_I32,
  IDL_K_U64,
  IDL_K_I64,
  IDL_K_U128,
  IDL_K_I128,
  IDL_K_U256,
  IDL_K_I256,
  IDL_K_F32,
  IDL_K_F64,
  IDL_K_PUBKEY,
  IDL_K_STRING, /* u32 length + UTF-8 bytes */
  IDL_K_BYTES,  /* u32 length + bytes */
  IDL_K__PRIM_COUNT,
  IDL_K_OPTION = IDL_K__PRIM_COUNT, /* u8 tag + child when 1 */
  IDL_K_COPTION,                    /* u32 tag + child when 1 */
  IDL_K_VEC,                        /* u32 count + count children */
  IDL_K_ARRAY,                      /* count children */
  IDL_K_STRUCT,                     /* count named fields, Borsh */
  IDL_K_TUPLE,                      /* count unnamed fields, Borsh */
  IDL_K_ENUM,                       /* u8 index + variant payload */
  IDL_K_CSTRUCT                     /* repr(C) struct (bytemuck): fields at offsets */
} idl_kind_t;

/* Node flags. */
#define IDL_NF_FIXED 0x01 /* Borsh encoding always has exactly `size` bytes */
#define IDL_NF_CTUPLE 0x02 /* CSTRUCT whose fields are unnamed */
#define IDL_NF_PLAIN 0x04  /* FIXED and every byte pattern is valid (no bool,
                            * enum, option, string inside): skipping it needs
                            * only a bounds check */

typedef struct idl_node {
  uint8_t kind;   /* idl_kind_t */
  uint8_t flags;  /* IDL_NF_* */
  uint16_t align; /* repr(C) alignment (CSTRUCT, ARRAY and primitives) */
  uint32_t size;  /* minimum encoded size; exact when FIXED; repr(C) size for CSTRUCT */
  uint32_t child; /* OPTION/COPTION/VEC/ARRAY: element node;
                   * STRUCT/TUPLE/CSTRUCT: index of the first field;
                   * ENUM: index of the first variant */
  uint32_t count; /* ARRAY: length; STRUCT/TUPLE/CSTRUCT: fields; ENUM: variants */
  const char *name; /* defined type name (structs, enums), else NULL */
} idl_node_t;

typedef struct idl_field {
  const char *name; /* IDL field name; NULL for tuple fields */
  uint32_t node;
  uint32_t offset; /* CSTRUCT: byte offset inside the struct */
} idl_field_t;

typedef struct idl_variant {
  const char *name;
  uint32_t node; /* STRUCT or TUPLE payload, or IDL_NONE for unit variants */
} idl_variant_t;

typedef struct idl_ix_account {
  const char *name; /* flattened leaf name */
  uint8_t signer;
  uint8_t writable;
} idl_ix_account_t;

/* One account, instruction or event definition. */
typedef struct idl_def {
  const char *name;
  uint8_t disc[IDL_DISC_MAX];
  uint32_t disc_len;
  uint32_t node; /* STRUCT (args / fields) or CSTRUCT (bytemuck account) */
  idl_ix_account_t *accounts; /* instructions only */
  size_t n_accounts;
} idl_def_t;

struct idl {
  void *root; /* json_t: the parsed document; names borrow from it */
  idl_node_t *nodes;
  size_t n_nodes;
  idl_field_t *fields;
  size_t n_fields;
  idl_variant_t *variants;
  size_t n_variants;
  idl_def_t *accounts;
  size_t n_accounts;
  idl_def_t *instructions;
  size_t n_instructions;
  idl_def_t *events;
  size_t n_events;
  const char *address; /* or NULL */
  const char *name;
};

/* Looks a definition up by discriminator: the longest discriminator that
 * prefixes data. Returns NULL when none does. */
const idl_def_t *idl_find_def(const idl_def_t *defs, size_t n, const uint8_t *data, size_t len);

/* Definition by exact name, or NULL. */
const idl_def_t *idl_find_def_name(const idl_def_t *defs, size_t n, const char *name);

/* Writes the snake_case form of an IDL name (heck-style: "initializePoolV2"
 * -> "initialize_pool_v2"; already snake names are unchanged) into out.
 * Returns 0, or -1 when out is too small. */
int idl_snake_case(const char *name, char *out, size_t outsz);

#endif
