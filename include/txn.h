/* Normalized Solana transactions and Crypto Bet row extraction.
 *
 * txn_parse() turns one getTransaction "result" object, or one element of
 * getBlock's "transactions" array, in any of the three RPC encodings
 * ("json", "base64", "jsonParsed") into one read-only view: signatures,
 * the full account key list (static keys, then meta.loadedAddresses
 * writable, then readonly, for v0 messages) and the instructions flattened
 * in execution order: top-level instruction i followed by the inner (CPI)
 * instructions of meta.innerInstructions[index == i].
 *
 * txn_extract() turns that view into `transactions` rows (cb_tx_row_t):
 * one per Crypto Bet instruction, top-level or inner, with the values the
 * program's events carry (from "Program data:" log lines and from emit_cpi
 * self-invocations) attributed to the instruction that emitted them. */
#ifndef CBI_TXN_H
#define CBI_TXN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cb_types.h"
#include "decoder.h"
#include "idl.h"

typedef enum {
  TXN_OK = 0,
  TXN_ERR_FORMAT = -1,  /* the JSON does not have the shape of a transaction */
  TXN_ERR_WIRE = -2,    /* base64 transaction bytes do not parse (txmsg) */
  TXN_ERR_INDEX = -3,   /* an account / program index outside the key list */
  TXN_ERR_NOMEM = -4
} txn_code_t;

/* Static text for a code. */
const char *txn_strerror(int code);

/* Which encoding the transaction arrived in. */
typedef enum { TXN_ENC_JSON = 0, TXN_ENC_BASE64, TXN_ENC_JSON_PARSED } txn_encoding_t;

/* Block context for an element of getBlock's "transactions" (which carries
 * no slot / blockTime of its own). */
typedef struct txn_block {
  uint64_t slot;
  bool has_block_time;
  int64_t block_time;
  bool has_block_height;
  uint64_t block_height;
} txn_block_t;

/* Fills *out from a getBlock "result" object (blockTime, blockHeight; both
 * may be null) and the slot the block was requested for. Returns 0, or
 * TXN_ERR_FORMAT when result is not an object or a present field is not a
 * valid integer. */
int txn_block_from_json(const json_t *block_result, uint64_t slot, txn_block_t *out);

/* One instruction of the flattened list. Strings and arrays are owned by
 * the txn_t. */
typedef struct txn_ix {
  uint32_t index;       /* position in the flattened list (= instruction_index) */
  uint32_t top_index;   /* the top-level instruction it belongs to */
  bool inner;           /* false for top-level instructions */
  uint32_t stack_height; /* 1 for top-level; inner: meta stackHeight, else from the
                          * log's "invoke [n]" lines, else 2 */
  bool has_stack_height; /* stack_height came from meta or logs (not guessed) */
  const char *program_id; /* base58 */
  bool has_accounts;      /* false for jsonParsed "parsed" instructions */
  size_t n_accounts;
  const char *const *accounts; /* base58, instruction order */
  const uint16_t *account_idx; /* index of each account in txn_t.keys */
  bool has_data;               /* false for jsonParsed "parsed" instructions */
  const uint8_t *data;
  size_t data_len;
} txn_ix_t;

/* The normalized view. Read-only for callers except the block fields
 * (txn_set_block_height). */
typedef struct txn {
  txn_encoding_t encoding;
  int version; /* -1 legacy, 0 for v0 */
  char signature[CB_SIGNATURE_B58_MAX]; /* first signature; "" if none */
  size_t n_signatures;
  const char *const *signatures; /* base58 */

  uint64_t slot;
  bool has_block_time;
  int64_t block_time;
  bool has_block_height;
  uint64_t block_height;

  uint64_t fee;       /* meta.fee; 0 when meta is absent */
  bool has_meta;
  bool failed;        /* meta.err set */
  char error_message[256]; /* meta.err as compact JSON (truncated on a UTF-8
                            * boundary) when failed, else "" */

  /* Full key list: static keys, then loaded writable, then loaded readonly
   * (json/base64); jsonParsed lists them all in message.accountKeys. */
  size_t n_keys;
  size_t n_static_keys;
  const char *const *keys; /* base58 */
  const bool *key_writable;
  const bool *key_signer;

  size_t n_ix;
  const txn_ix_t *ix;
  size_t n_top; /* number of top-level instructions */

  /* meta.preBalances / meta.postBalances (lamports, exact u64), aligned
   * with keys: n_keys entries each when has_balances, else NULL. */
  bool has_balances;
  const uint64_t *pre_balances;
  const uint64_t *post_balances;

  bool has_logs; /* meta.logMessages present (null when not recorded) */
  size_t n_logs;
  const char *const *logs;

  struct txn_priv *priv; /* storage */
} txn_t;

/* Parses one transaction. tx_result: a getTransaction "result" object
 * (slot and blockTime taken from it) or an element of getBlock's
 * "transactions" array. block: NULL, or the block context, whose slot,
 * block time and block height (when has_) override / complete the ones in
 * tx_result. The encoding is detected from the shape of "transaction".
 * meta.preBalances and meta.postBalances, when present, must both be
 * arrays of exactly n_keys u64 values (integers or digit strings, as
 * jsonx_loads leaves values above INT64_MAX): otherwise TXN_ERR_FORMAT.
 * The txn_t copies everything it needs: tx_result may be freed afterwards.
 * Returns TXN_OK and *out (free with txn_free), or a negative txn_code_t,
 * *out NULL and a message in err. Never reads past any input bound. */
int txn_parse(const json_t *tx_result, const txn_block_t *block, txn_t **out, char *err,
              size_t errsz);

/* Sets the block height afterwards (getTransaction carries none). */
void txn_set_block_height(txn_t *tx, uint64_t block_height);

void txn_free(txn_t *tx);

/* True when any instruction (top-level or inner) runs program_id, or the
 * key list contains it. */
bool txn_touches_program(const txn_t *tx, const char *program_id);

/* Keys of the accounts this transaction closed: writable accounts passed to an
 * instruction of program_id (top-level or inner) whose post balance is 0 while
 * the pre balance was > 0, in a successful transaction with balances. Writes up
 * to cap key pointers (borrowed from tx) to out in key-list order, each key once;
 * returns the total count (which may exceed cap). 0 for a failed transaction. */
size_t txn_closed_accounts(const txn_t *tx, const char *program_id, const char **out, size_t cap);

/* Maps the log's "Program <id> invoke [n]" lines, by ordinal (the
 * `invocation` of log_events_scan), to flattened instruction indexes: walks
 * both in order matching program ids (precompiles, which log no invoke
 * line, are skipped). *map (UINT32_MAX where a line matches nothing, e.g.
 * after a disagreement) and *depth (each line's [n]) get *n entries;
 * the caller frees both (NULL when there are no invoke lines). Returns
 * TXN_OK or TXN_ERR_NOMEM. */
int txn_invoke_map(const txn_t *tx, uint32_t **map, uint32_t **depth, size_t *n);

/* ---- extraction ---------------------------------------------------- */

typedef enum {
  /* Instruction data of our program that does not decode (dead letter:
   * data = the instruction bytes, err = the decoder's error). */
  TXN_ISSUE_INSTRUCTION_DECODE = 1,
  /* An event payload of our program that does not decode (dead letter:
   * data = the event bytes). */
  TXN_ISSUE_EVENT_DECODE = 2,
  /* The event an instruction's row takes values from is absent (logs
   * truncated or missing); the row's fields from it are left 0. */
  TXN_ISSUE_EVENT_MISSING = 3,
  /* An event that could not be attributed to any instruction of ours
   * (log invocations do not line up with the instruction list). */
  TXN_ISSUE_EVENT_UNMATCHED = 4
} txn_issue_kind_t;

typedef struct txn_issue {
  txn_issue_kind_t kind;
  uint32_t instruction_index; /* flattened index of the instruction concerned */
  decode_error_t err;         /* decode kinds: the decoder's error */
  uint8_t *data;              /* owned copy of the raw bytes; may be NULL */
  size_t len;
  char message[256]; /* one-line description */
} txn_issue_t;

typedef struct txn_issues {
  txn_issue_t *items;
  size_t count;
} txn_issues_t;

/* True for the kinds that the caller records as dead letters. */
bool txn_issue_is_dead_letter(txn_issue_kind_t kind);

typedef struct txn_rows {
  cb_tx_row_t *rows; /* flattened-index order */
  size_t count;
  /* Writable non-signer accounts of our program's instructions (market,
   * position, global_config, vaults, oracle_data, ...), deduplicated, in
   * first-seen order: candidates for a getMultipleAccounts refresh (the
   * caller keeps the ones the program owns). Empty for a failed
   * transaction (it changed no account of ours). */
  char (*accounts)[CB_PUBKEY_B58_MAX];
  size_t n_accounts;
} txn_rows_t;

/* Produces the rows of tx for program_id (base58). out and issues (issues
 * may be NULL) are overwritten (start from zeroed structs or freed ones).
 *
 * One row per instruction of program_id, top-level or inner, in flattened
 * order; emit_cpi self-invocations (data starting with CB_EMIT_CPI_TAG)
 * yield events, not rows. Events come from "Program data:" lines emitted
 * while program_id was the executing frame (log_events_scan), attributed
 * through txn_invoke_map, and from emit_cpi instructions, attributed to the
 * nearest preceding instruction of program_id in the same top-level group
 * with a smaller stack height. Row fields: user = the instruction's signer
 * (user / authority / resolver); amount = place_bet's argument, the
 * claim events' amount, MarketCreated's creation_fee, else 0; side for
 * place_bet (else CB_SIDE_NONE); price (has_price) and platform_fee from
 * BetPlaced; failed / error_message from meta.err; for a resolve_market of
 * a successful transaction has_resolution with MarketResolved's result and
 * timestamp (without the event: the argument and the block time). A missing
 * event leaves its fields 0 and adds TXN_ISSUE_EVENT_MISSING (successful
 * transactions only). A failed transaction was rolled back, events included:
 * its rows keep the instruction's own arguments (place_bet's amount and
 * side) and take nothing from events (price, platform_fee, claimed amounts,
 * creation fee, resolution all 0 / absent); undecodable or unattributable
 * payloads in its logs are still reported as issues. Undecodable data of ours becomes an issue, the other
 * instructions still produce rows. Returns TXN_OK (issues or not) or
 * TXN_ERR_NOMEM (out and issues then empty). */
int txn_extract(const idl_t *idl, const txn_t *tx, const char *program_id, txn_rows_t *out,
                txn_issues_t *issues);

void txn_rows_free(txn_rows_t *rows);
void txn_issues_free(txn_issues_t *issues);

#endif
