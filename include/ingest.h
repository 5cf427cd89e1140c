/* Ingest: the one code path from RPC/websocket JSON to the sink, shared by
 * live, backfill, snapshot and reconcile. Decodes accounts and
 * transactions (decoder, txn), queues the records on the sink, and sends
 * everything undecodable to dead_letters with its raw bytes. No network
 * I/O of its own; used from the sink's (writer) thread. */
#ifndef CBI_INGEST_H
#define CBI_INGEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cb_decoder.h"
#include "cb_types.h"
#include "sink.h"
#include "txn.h"

typedef struct ingest ingest_t;

/* ---- errors ---------------------------------------------------------------
 * Bad input is never an error: it is counted, written to dead_letters and
 * the call returns normally (0, or a row count >= 0). A negative code means
 * the ingest could not do its job at all: the caller stops (and retries
 * later from its checkpoint). */
enum {
  INGEST_OK = 0,
  INGEST_ERR_SINK = -1,    /* the sink failed past its own retries (database
                              gone or refusing); detail: sink_last_error() */
  INGEST_ERR_STOPPED = -2, /* the sink gave up its retries on the stop flag */
  INGEST_ERR_NOMEM = -3,   /* out of memory */
  INGEST_ERR_INVALID = -4  /* caller bug: NULL handle or argument */
};

/* Static text for an INGEST_* code. */
const char *ingest_strerror(int code);

/* ---- dead letters ----------------------------------------------------------
 * The one vocabulary of dead_letters.kind for everything the sources hand
 * to ingest; the same failure has the same kind in live and in backfill.
 *
 *   account              account data or account JSON that does not decode
 *                        (unknown discriminator, short data, bad base64, ...)
 *   instruction          an instruction of the program that does not decode
 *   event                a "Program data:" event of the program that does not
 *                        decode
 *   transaction-parse    a transaction (getTransaction / getBlock element)
 *                        whose JSON or wire bytes do not parse
 *   transaction-missing  the node never returned a transaction it listed or
 *                        notified: null after every retry, or a JSON-RPC
 *                        error answer for it
 *   transaction-fetch    getTransaction failed at the transport level after
 *                        the RPC client's retries (live; a backfill fails the
 *                        run instead and its range is retried)
 *   ws-message           a websocket message that is not a well-formed
 *                        notification (binary frame, NUL byte, invalid UTF-8,
 *                        malformed JSON, unknown method, wrong shape)
 *   ws-oversized         a websocket message over --max-message-bytes (raw =
 *                        its first bytes)
 *   slot-range           a slot from the wire that is out of range: above
 *                        2^63 - 1, or far beyond the tip the RPC node
 *                        confirms (getSlot)
 *   record               a decoded record the sink refused before writing
 *                        (e.g. a string it cannot store)
 *
 * The sink itself dead-letters records the database rejects (constraint
 * violations) under the record's label (sink.h). */
typedef enum {
  INGEST_DL_ACCOUNT = 0,
  INGEST_DL_INSTRUCTION,
  INGEST_DL_EVENT,
  INGEST_DL_TX_PARSE,
  INGEST_DL_TX_MISSING,
  INGEST_DL_TX_FETCH,
  INGEST_DL_WS_MESSAGE,
  INGEST_DL_WS_OVERSIZED,
  INGEST_DL_SLOT_RANGE,
  INGEST_DL_RECORD,
  INGEST_DL_COUNT
} ingest_dl_kind_t;

/* The dead_letters.kind text of k ("?" when out of range). */
const char *ingest_dl_kind_name(ingest_dl_kind_t k);

/* The highest slot ingest accepts: PostgreSQL BIGINT (2^63 - 1). */
#define INGEST_SLOT_MAX ((uint64_t)INT64_MAX)

/* 1 when slot can be stored (<= INGEST_SLOT_MAX), else 0. */
int ingest_slot_ok(uint64_t slot);

typedef struct ingest_stats {
  uint64_t accounts;          /* account states queued on the sink */
  uint64_t accounts_closed;   /* closes queued (null account, 0 lamports, a
                                 transaction that emptied it, reconciliation) */
  uint64_t accounts_foreign;  /* skipped: alive but owned by another program (e.g. vaults) */
  uint64_t transactions;      /* transactions processed */
  uint64_t rows;              /* transactions rows queued */
  uint64_t dead_letters;      /* dead letters queued (all kinds) */
  uint64_t dead_by_kind[INGEST_DL_COUNT]; /* the same per kind */
} ingest_stats_t;

/* dec (the Crypto Bet decoder, built once at start-up) and sink are
 * borrowed and must outlive the ingest. program_id is copied. Returns NULL
 * on allocation failure or a missing argument. */
ingest_t *ingest_new(const cb_decoder_t *dec, const char *program_id, sink_t *sink);
void ingest_free(ingest_t *ing);

/* Queues one dead letter of kind k: key (pubkey or signature, may be NULL),
 * the slot it was seen at (clamped to INGEST_SLOT_MAX for storage; the
 * reason should name an out-of-range value), reason (required text) and
 * the raw bytes (may be NULL/0; copied). Logs one warning line naming kind,
 * key, slot and reason. Returns INGEST_OK or a negative INGEST_ERR_*. */
int ingest_dead_letter(ingest_t *ing, ingest_dl_kind_t k, const char *key, uint64_t slot,
                       const char *reason, const uint8_t *raw, size_t rawlen);

/* Marks pubkey closed at slot (closed_at/closed_slot; the row keeps its
 * data; slot-guarded like an update, see sink.h). A slot out of range or a
 * key that is not a pubkey is a dead letter (slot-range / account).
 * Returns INGEST_OK or a negative INGEST_ERR_*. */
int ingest_account_closed(ingest_t *ing, const char *pubkey, uint64_t slot);

/* One account as seen at slot. account: the RPC "account"/value object
 * ({"data": ["<b64>", "base64"], "lamports", "owner", ...}), or NULL / JSON
 * null when the account does not exist: a close, as is 0 lamports or
 * empty data. A live account owned by another program (a token vault) is
 * skipped and counted as foreign. Undecodable data goes to dead_letters
 * (kind account, key pubkey), a slot above INGEST_SLOT_MAX to slot-range.
 * Returns INGEST_OK (applied, skipped or dead-lettered), or a negative
 * INGEST_ERR_* (the caller stops). */
int ingest_account_json(ingest_t *ing, const char *pubkey, const json_t *account, uint64_t slot);

/* Same from raw parts (owner base58; data borrowed). */
int ingest_account_bytes(ingest_t *ing, const char *pubkey, const char *owner, uint64_t lamports,
                         const uint8_t *data, size_t len, uint64_t slot);

/* Accounts a transaction touched, to refresh with getMultipleAccounts. */
typedef struct ingest_touched {
  char (*keys)[CB_PUBKEY_B58_MAX];
  size_t count, cap;
  size_t *slots;    /* open-addressing index of keys (1-based, 0 = empty) */
  size_t slots_cap; /* power of two, or 0 */
} ingest_touched_t;

/* Adds a key unless present (expected O(1)). Start from a zeroed struct.
 * 0 or -1 (no memory). */
int ingest_touched_add(ingest_touched_t *t, const char *pubkey);
void ingest_touched_free(ingest_touched_t *t);

/* One transaction: a getTransaction result or a getBlock transactions[]
 * element (block gives slot/time/height then; may be NULL). Rows go to the
 * sink, decode issues to dead_letters (kind instruction / event, key
 * signature). Accounts the transaction closed (txn_closed_accounts: a
 * program account left with 0 lamports) are marked closed at its slot in
 * the same sink batch as its rows. touched (may be NULL) gets the writable
 * accounts of our instructions. A transaction that does not parse is one
 * dead letter (transaction-parse) with its JSON text; a slot above
 * INGEST_SLOT_MAX one slot-range dead letter. Returns the number of rows
 * queued (>= 0) or a negative INGEST_ERR_*. */
int ingest_transaction_json(ingest_t *ing, const json_t *tx_result, const txn_block_t *block,
                            ingest_touched_t *touched);

/* Same for a transaction already parsed with txn_parse (e.g. after a
 * txn_touches_program filter). tx is borrowed. Returns the number of rows
 * queued (>= 0) or a negative INGEST_ERR_*. */
int ingest_transaction(ingest_t *ing, const txn_t *tx, ingest_touched_t *touched);

void ingest_get_stats(const ingest_t *ing, ingest_stats_t *out);

/* The program id the ingest decodes for (borrowed). */
const char *ingest_program_id(const ingest_t *ing);

#endif
