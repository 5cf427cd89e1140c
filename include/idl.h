/* Anchor IDL loading: parses an IDL (0.30+ or legacy pre-0.30) with jansson
 * and compiles it into a compact layout table that the decoder walks.
 *
 * Discriminators come from the IDL when present (any length, Anchor 0.31
 * custom ones included); otherwise they are the first 8 bytes of
 * sha256("account:<Name>"), sha256("global:<snake_name>"),
 * sha256("event:<Name>") (libsodium). */
#ifndef CBI_IDL_H
#define CBI_IDL_H

#include <stddef.h>
#include <stdint.h>

typedef struct idl idl_t;

/* Largest IDL document accepted (bytes). */
#define IDL_MAX_DOC_BYTES ((size_t)64 * 1024 * 1024)

/* Loads and compiles an IDL from JSON text. On success returns 0 and sets
 * *out (caller frees with idl_free). On failure returns -1, leaves *out
 * NULL and writes a message naming the offending item into err. */
int idl_load_json(const char *text, size_t len, idl_t **out, char *err, size_t errsz);

/* Same, from a file compiled into the binary (embedded.h) under name, e.g.
 * "idl/crypto_bet.json". -1 + err when there is no such file. */
int idl_load_embedded(const char *name, idl_t **out, char *err, size_t errsz);

void idl_free(idl_t *idl);

/* The IDL's program address (base58), or NULL when it names none
 * (legacy IDLs often do not). Borrowed. */
const char *idl_address(const idl_t *idl);

/* The IDL's program name (metadata.name or legacy "name"). Borrowed. */
const char *idl_name(const idl_t *idl);

/* Number of account / instruction / event definitions and their names and
 * discriminators, for snapshot filters and the decode CLI. Borrowed. */
size_t idl_account_count(const idl_t *idl);
const char *idl_account_name(const idl_t *idl, size_t i);
const uint8_t *idl_account_discriminator(const idl_t *idl, size_t i, size_t *len);

#endif
