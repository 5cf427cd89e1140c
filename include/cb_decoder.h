/* The Crypto Bet binding: typed decoding of the program's five accounts,
 * eight instructions and six events into the records of cb_types.h.
 *
 * A cb_decoder_t is built once from an IDL (cb_decoder_new), which checks
 * that the IDL's layouts match the records: an IDL that does not fails
 * there, at start-up, never at the first message. Each IDL field becomes
 * one operation (C kind + offset into the record); IDL fields the record
 * does not carry become validating skips. The handle is immutable after
 * creation except for its counters (C11 atomics): any number of threads
 * may decode with one handle at once.
 *
 * Pure: no I/O, no globals; allocation only in cb_decoder_new. Errors are
 * the negative decode_code_t values of decoder.h (decode_strerror,
 * decode_error_format). */
#ifndef CBI_CB_DECODER_H
#define CBI_CB_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cb_types.h"
#include "decoder.h"
#include "idl.h"

typedef struct cb_decoder cb_decoder_t;

/* The Crypto Bet IDL compiled into the binary (idl/crypto_bet.json). */
#define CB_DECODER_IDL_EMBEDDED "idl/crypto_bet.json"

/* Loads the embedded Crypto Bet IDL (idl_load_embedded). 0 and *out
 * (caller frees with idl_free), or -1 + err. */
int cb_decoder_default_idl(idl_t **out, char *err, size_t errsz);

typedef struct cb_decoder_options {
  /* Accounts with non-zero bytes after their layout: false (the default)
   * decodes the layout from the start and ignores what follows, as
   * Anchor's coder does, counting such accounts per kind; true refuses
   * them with DECODE_ERR_TRAILING (debugging). */
  bool strict;
} cb_decoder_options_t;

/* Builds the binding of idl (borrowed: it must outlive the decoder) with
 * default options. Returns 0 and *out (free with cb_decoder_free), or a
 * negative decode_code_t with *out NULL and err describing the first
 * mismatch: DECODE_ERR_LAYOUT (type = the account/instruction/event,
 * path = the field, detail = what the record needs) or DECODE_ERR_NOMEM. */
int cb_decoder_new(const idl_t *idl, cb_decoder_t **out, decode_error_t *err);

/* Same with options (NULL = defaults). */
int cb_decoder_new_opts(const idl_t *idl, const cb_decoder_options_t *opts, cb_decoder_t **out,
                        decode_error_t *err);

/* NULL is a no-op. */
void cb_decoder_free(cb_decoder_t *dec);

/* The IDL the decoder was built from (borrowed). */
const idl_t *cb_decoder_idl(const cb_decoder_t *dec);

/* Whether the decoder refuses accounts with non-zero bytes after the layout. */
bool cb_decoder_strict(const cb_decoder_t *dec);

/* Accounts of kind decoded so far with non-zero bytes after their layout
 * (ignored, non-strict mode). 0 for an unknown kind. Thread-safe. */
uint64_t cb_decoder_trailing_count(const cb_decoder_t *dec, cb_account_kind_t kind);

/* Identifies the account by discriminator and decodes it into out->kind,
 * out->u, out->spare_bytes and out->spare_first (pubkey, slot, lamports
 * and closed are the caller's). cb_str_t fields borrow from data. Zero
 * bytes after the layout are padding. Non-zero bytes after it are ignored
 * and counted (spare_bytes = every byte after the layout; spare_first
 * marks the first such account of its kind), or DECODE_ERR_TRAILING when
 * the decoder is strict. Returns DECODE_OK or a negative code with err set
 * (type, field path, byte offset); out->u is then unspecified. */
int cb_decode_account(const cb_decoder_t *dec, const uint8_t *data, size_t len,
                      cb_account_t *out, decode_error_t *err);

typedef struct cb_instruction {
  cb_tx_type_t type;
  /* Accounts by IDL role; empty string when the instruction has no such
   * account or the key list is short. */
  char market[CB_PUBKEY_B58_MAX];
  char position[CB_PUBKEY_B58_MAX];
  char user[CB_PUBKEY_B58_MAX]; /* signer: user / authority / resolver */
  char oracle_data[CB_PUBKEY_B58_MAX];
  char global_config[CB_PUBKEY_B58_MAX];
  /* Arguments that transactions rows use. */
  cb_side_t side;     /* place_bet */
  uint64_t amount;    /* place_bet */
  uint64_t market_id; /* create_market */
  bool has_result;    /* resolve_market */
  bool result;
} cb_instruction_t;

/* Decodes a Crypto Bet instruction: data (discriminator + args) and its
 * account keys (base58, instruction order; may be NULL/0). Bytes after the
 * arguments are ignored (as by the program); unknown discriminator:
 * DECODE_ERR_DISCRIMINATOR. */
int cb_decode_instruction(const cb_decoder_t *dec, const uint8_t *data, size_t len,
                          const char *const *account_keys, size_t n_keys, cb_instruction_t *out,
                          decode_error_t *err);

typedef enum {
  CB_EVENT_MARKET_CREATED = 0,
  CB_EVENT_BET_PLACED,
  CB_EVENT_WINNINGS_CLAIMED,
  CB_EVENT_REFUND_CLAIMED,
  CB_EVENT_MARKET_RESOLVED,
  CB_EVENT_MARKET_CANCELLED
} cb_event_kind_t;
#define CB_EVENT__COUNT 6

typedef struct cb_event {
  cb_event_kind_t kind;
  cb_pubkey_t market;
  cb_pubkey_t position; /* bet/claims */
  cb_pubkey_t user;     /* bet/claims; authority for created/cancelled; resolver */
  uint64_t market_id;   /* created */
  cb_market_type_t market_type;
  uint64_t creation_fee;
  cb_side_t side;
  uint64_t amount; /* bet amount, claimed amount */
  uint64_t platform_fee;
  uint64_t price;
  uint64_t yes_pool;
  uint64_t no_pool;
  bool result; /* resolved */
  int64_t timestamp;
} cb_event_t;

/* Decodes event bytes (discriminator + fields) into a typed event. Events
 * are written by the program itself: non-zero bytes after the fields are
 * DECODE_ERR_TRAILING whatever the options. */
int cb_decode_event(const cb_decoder_t *dec, const uint8_t *data, size_t len, cb_event_t *out,
                    decode_error_t *err);

#endif
