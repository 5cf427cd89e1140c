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

typedef struct ingest_stats {
  uint64_t accounts;          /* account states queued on the sink */
  uint64_t accounts_closed;   /* closes queued (null account or 0 lamports) */
  uint64_t accounts_foreign;  /* skipped: alive but owned by another program (e.g. vaults) */
  uint64_t transactions;      /* transactions processed */
  uint64_t rows;              /* transactions rows queued */
  uint64_t dead_letters;      /* dead letters queued */
} ingest_stats_t;

/* dec (the Crypto Bet decoder, built once at start-up) and sink are
 * borrowed and must outlive the ingest. program_id is copied. Returns NULL
 * on allocation failure or a missing argument. */
ingest_t *ingest_new(const cb_decoder_t *dec, const char *program_id, sink_t *sink);
void ingest_free(ingest_t *ing);

/* One account as seen at slot. account: the RPC "account"/value object
 * ({"data": ["<b64>", "base64"], "lamports", "owner", ...}), or NULL / JSON
 * null when the account does not exist: a close, as is 0 lamports or
 * empty data. A live account owned by another program (a token vault) is
 * skipped and counted as foreign. Undecodable
 * data goes to dead_letters (kind "account", key pubkey). Returns 0, or a
 * negative sink code when the sink failed (the caller stops). */
int ingest_account_json(ingest_t *ing, const char *pubkey, const json_t *account, uint64_t slot);

/* Same from raw parts (owner base58). */
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
 * sink, decode issues to dead_letters (kind "instruction"/"event"/
 * "transaction", key signature). touched (may be NULL) gets the writable
 * accounts of our instructions. A transaction that does not parse is one
 * dead letter with its JSON text. Returns the number of rows queued (>= 0)
 * or a negative sink code. */
int ingest_transaction_json(ingest_t *ing, const json_t *tx_result, const txn_block_t *block,
                            ingest_touched_t *touched);

/* Same for a transaction already parsed with txn_parse (e.g. after a
 * txn_touches_program filter). tx is borrowed. Returns the number of rows
 * queued (>= 0) or a negative sink code. */
int ingest_transaction(ingest_t *ing, const txn_t *tx, ingest_touched_t *touched);

/* Collects into touched the accounts ingest_transaction_json would add,
 * writing nothing (no rows, no dead letters, no stats): used to rebuild the
 * refresh set of a range that was already ingested (resumed backfill).
 * Returns the number of keys added (>= 0), or -1 when the transaction does
 * not parse or memory ran out. */
int ingest_transaction_touched(ingest_t *ing, const json_t *tx_result, const txn_block_t *block,
                               ingest_touched_t *touched);

void ingest_get_stats(const ingest_t *ing, ingest_stats_t *out);

/* The program id the ingest decodes for (borrowed). */
const char *ingest_program_id(const ingest_t *ing);

#endif
