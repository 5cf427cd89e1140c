/* Internals of the transaction parser, shared by src/decode/txn.c (the
 * parse phases, meta, flattening) and src/decode/txn_message.c (the
 * message: keys, signatures, instructions in each encoding). Not an
 * interface: only those two files include it; callers use txn.h. */
#ifndef CBI_TXN_INTERNAL_H
#define CBI_TXN_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "txn.h"

/* Storage of one txn_t: a list of blocks freed together. */
struct txn_arena_blk;
struct txn_priv {
  struct txn_arena_blk *blocks;
};

/* n zeroed bytes, 16-aligned, owned by a (NULL when out of memory). */
void *txn_arena_alloc(struct txn_priv *a, size_t n);
/* Copy of s owned by a, or NULL. */
char *txn_arena_strdup(struct txn_priv *a, const char *s);

/* Instruction under construction: indexes into the key list. */
typedef struct txn_pix {
  uint16_t program;
  bool has_accounts;
  size_t n_accounts;
  uint16_t *accounts; /* arena */
  bool has_data;
  uint8_t *data; /* arena */
  size_t data_len;
  bool has_stack_height;
  uint32_t stack_height;
  uint32_t top_index;
  bool inner;
} txn_pix_t;

/* Parse state. The key arrays live in the arena; top is malloc'd (the
 * caller frees it). */
typedef struct txn_pstate {
  txn_t *tx;
  struct txn_priv *a;
  char *err;
  size_t errsz;
  size_t n_keys; /* static keys, then loaded writable, then loaded readonly */
  size_t n_static;
  char **keys;
  bool *writable;
  bool *signer;
  txn_pix_t *top; /* top-level instructions */
  size_t n_top;
} txn_pstate_t;

/* Reads tx_result's "transaction" (a json / jsonParsed object or
 * [payload, "base64" | "base58"]) with meta.loadedAddresses (meta may be
 * NULL): sets tx->encoding, tx->version (wire form), the signatures, the
 * key list and the top-level instructions (stack height 1). Returns TXN_OK
 * or a negative txn_code_t with s->err set. */
int txn_message_parse(txn_pstate_t *s, const json_t *tx_result, const json_t *meta);

/* One element of meta.innerInstructions[].instructions in the encoding of
 * the transaction (compiled for json / base64, jsonParsed otherwise) into
 * *ix. Returns TXN_OK or a negative txn_code_t with s->err set. */
int txn_message_inner_ix(txn_pstate_t *s, const json_t *o, txn_pix_t *ix);

#endif
