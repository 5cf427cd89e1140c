/* Solana transaction wire format (what "encoding": "base64" carries):
 *
 *   compact-u16 n, n x 64-byte signatures, then the message:
 *   [0x80 | version]  (versioned messages only; legacy ones start with the header)
 *   header: num_required_signatures, num_readonly_signed, num_readonly_unsigned
 *   compact-u16 n, n x 32-byte static account keys
 *   32-byte recent blockhash
 *   compact-u16 n, n x instruction:
 *       u8 program_id_index, compact-u16 n + n x u8 account indices,
 *       compact-u16 n + n data bytes
 *   (v0 only) compact-u16 n, n x address table lookup:
 *       32-byte table key, compact-u16 n + n x u8 writable indexes,
 *       compact-u16 n + n x u8 readonly indexes
 *
 * The parser is strict: every count is checked against the bytes left
 * before anything is read, compact-u16 values must be minimally encoded,
 * the header must be sane (at least one writable signer, signature count ==
 * num_required_signatures, counts within the key list), program and
 * account indexes must fall inside the (static + looked-up) key list,
 * program ids must be static keys, only version 0 is accepted, and no byte
 * may follow the message. */
#ifndef CBI_TXMSG_H
#define CBI_TXMSG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  TXMSG_OK = 0,
  TXMSG_ERR_TRUNCATED = -1,    /* a count or field runs past the end */
  TXMSG_ERR_COMPACT_U16 = -2,  /* compact-u16 not minimal or > 0xffff */
  TXMSG_ERR_VERSION = -3,      /* message version other than legacy / 0 */
  TXMSG_ERR_HEADER = -4,       /* header inconsistent with signatures / keys */
  TXMSG_ERR_INDEX = -5,        /* program or account index out of range */
  TXMSG_ERR_TRAILING = -6,     /* bytes after the message */
  TXMSG_ERR_TOO_MANY_KEYS = -7, /* static + looked-up keys exceed 256 */
  TXMSG_ERR_NOMEM = -8
} txmsg_code_t;

#define TXMSG_VERSION_LEGACY (-1)

typedef struct txmsg_ix {
  uint8_t program_id_index;
  uint16_t n_accounts;
  const uint8_t *accounts; /* n_accounts indexes into the full key list */
  uint16_t data_len;
  const uint8_t *data;
} txmsg_ix_t;

typedef struct txmsg_lookup {
  const uint8_t *table_key; /* 32 bytes */
  uint16_t n_writable;
  const uint8_t *writable; /* indexes inside the table */
  uint16_t n_readonly;
  const uint8_t *readonly;
} txmsg_lookup_t;

/* A parsed transaction. Every pointer borrows from the buffer given to
 * txmsg_parse (which must outlive it) except ix and lookups, which the
 * struct owns (txmsg_free). */
typedef struct txmsg {
  int version; /* TXMSG_VERSION_LEGACY or 0 */
  uint16_t n_signatures;
  const uint8_t *signatures; /* n_signatures x 64 bytes */
  uint8_t num_required_signatures;
  uint8_t num_readonly_signed;
  uint8_t num_readonly_unsigned;
  uint16_t n_keys;
  const uint8_t *keys; /* n_keys x 32 bytes: the static keys */
  const uint8_t *recent_blockhash; /* 32 bytes */
  uint16_t n_ix;
  txmsg_ix_t *ix;
  uint16_t n_lookups;
  txmsg_lookup_t *lookups;
  uint16_t n_loaded_writable; /* sum over lookups */
  uint16_t n_loaded_readonly;
  size_t message_offset; /* where the message starts in the buffer */
} txmsg_t;

/* Parses a whole serialized transaction (signatures + message) of len
 * bytes. Returns TXMSG_OK with *out filled, or a negative txmsg_code_t
 * with *out zeroed and *err_off (if non-NULL) set to the byte offset where
 * the problem was found. Never reads outside [buf, buf+len). Release with
 * txmsg_free (also safe on a zeroed or failed struct). */
int txmsg_parse(const uint8_t *buf, size_t len, txmsg_t *out, size_t *err_off);

void txmsg_free(txmsg_t *m);

/* True when static key index i is writable per the message header (legacy
 * rules: writable signers first, then readonly signers, writable unsigned,
 * readonly unsigned). Indexes past the static keys: false. */
int txmsg_is_static_writable(const txmsg_t *m, size_t i);

/* Static text for a code. */
const char *txmsg_strerror(int code);

/* Reads one compact-u16 at buf[*off], advancing *off. Returns 0 or
 * TXMSG_ERR_TRUNCATED / TXMSG_ERR_COMPACT_U16. Exposed for tests. */
int txmsg_read_compact_u16(const uint8_t *buf, size_t len, size_t *off, uint16_t *out);

#endif
