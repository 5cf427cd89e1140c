/* The PostgreSQL sink: the only writer to the database.
 *
 * Callers hand it decoded records (cb_types.h); it buffers them into a
 * batch and writes each batch in ONE database transaction together with the
 * stream checkpoints set since the previous batch. A sink is used from one
 * thread (the writer thread); it does no locking.
 *
 * Write semantics:
 *  - Accounts are upserted by pubkey with a slot guard: a record applies
 *    only if its slot is >= the row's sync_slot; older records are counted
 *    (accounts_stale_ignored) and dropped. Within one batch only the
 *    highest-slot record per pubkey is sent (ties: the later put wins).
 *    Writing the same input twice leaves the same table state.
 *  - Transactions are keyed by (signature, instruction_index); writing a
 *    row again updates only its status columns (status, error_message,
 *    block_time, block_height) in place.
 *  - users rows are created on first sight of a wallet (position owner,
 *    transaction signer).
 *  - Analytics (schema/003_analytics.sql): each batch's transaction also
 *    maintains bet_history, market_analytics, daily_platform_metrics and
 *    the users statistics from the rows it wrote, idempotently (a replay
 *    leaves the same tables).
 *  - Order independence: positions_cache.market_pubkey and
 *    transactions.market_pubkey are soft references (no foreign key), so a
 *    position or transaction always lands even before its market; its
 *    derived columns stay NULL until the market arrives and are computed
 *    then (markets_cache.resolved_at likewise from an earlier resolving
 *    transaction). See schema/.
 *  - A closed account (cb_account_t.closed, or sink_mark_closed) keeps its
 *    row and gets closed_at/closed_slot (slot-guarded like an update); a
 *    close for a pubkey not cached yet is remembered and applied when the
 *    account's row is first written.
 *  - Connection loss or server restart during a flush: reconnect with
 *    exponential backoff and retry the whole batch (nothing lost, nothing
 *    doubled: every statement is idempotent and the batch is one
 *    transaction). A record that violates a constraint is written to
 *    dead_letters and the rest of the batch commits.
 *  - The session runs with synchronous_commit = on: a batch whose flush
 *    returned 0 (and its checkpoint) survives a server crash.
 *  - Rows are written in key order, so several sinks (e.g. the live and
 *    backfill processes) can write overlapping data concurrently; the slot
 *    guard decides, deadlocks are retried.
 *
 * Write path (measured in bench/bench_sink.c against single-row pipelined
 * statements and COPY into a staging table): one prepared statement per
 * record kind per batch, taking one array parameter per column (unnest).
 *
 * Strings inside cb_account_t are borrowed views: put copies everything it
 * needs before returning, so the caller may free its buffers immediately. */
#ifndef CBI_SINK_H
#define CBI_SINK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cb_types.h"

typedef struct sink sink_t;

/* Error codes (negative). sink_strerror() gives static text;
 * sink_last_error() the detail of the most recent failure. */
enum {
  SINK_OK = 0,
  SINK_ERR_INVALID = -1, /* bad argument (NULL, over-long string, ...) */
  SINK_ERR_NOMEM = -2,
  SINK_ERR_CONNECT = -3, /* could not connect within the open timeout or
                            reconnect_max_attempts */
  SINK_ERR_SCHEMA = -4,  /* schema missing, outdated or modified: run migrate */
  SINK_ERR_STOPPED = -5, /* *stop_flag became non-zero while retrying */
  SINK_ERR_DB = -6,      /* non-retryable database error (batch kept) */
  SINK_ERR_CALLBACK = -7 /* a listing callback asked to stop (not an error
                            for the caller who asked) */
};

/* Defaults chosen by measurement (bench/bench_sink.c: 1000..2000 per batch
 * measure best; 250 is ~20% slower, 5000+ no faster and holds locks
 * longer). */
#define SINK_DEFAULT_BATCH_MAX_RECORDS 2000
#define SINK_DEFAULT_BATCH_MAX_DELAY_MS 200
#define SINK_DEFAULT_RECONNECT_MAX_BACKOFF_MS 5000
#define SINK_DEFAULT_OPEN_TIMEOUT_MS 30000

typedef struct sink_options {
  const char *conninfo;     /* libpq URI or key=value string; required;
                               borrowed only during sink_open */
  size_t batch_max_records; /* 0 = default; put flushes when reached */
  int batch_max_delay_ms;   /* 0 = default; sink_batch_due() age limit */
  const volatile int *stop_flag;  /* may be NULL; when *stop_flag != 0,
                                     reconnect/retry loops give up */
  int reconnect_max_backoff_ms;   /* 0 = default; backoff starts at 50 ms
                                     and doubles up to this */
  int reconnect_max_attempts;     /* 0 = unlimited (until stop_flag) */
  int open_timeout_ms;            /* 0 = default; sink_open keeps retrying
                                     the first connection this long */
  int skip_analytics;             /* non-zero: no analytics upkeep (for
                                     measuring its cost only: the derived
                                     tables then go stale) */
  int analytics_full;             /* non-zero: every batch runs the full
                                     upkeep (cbi_analytics_pre/_apply), also
                                     one whose only analytics input is
                                     position accounts, which otherwise
                                     takes the short cbi_analytics_positions;
                                     the tables end the same (for tests and
                                     measurements comparing the two) */
  atomic_int *connected;          /* may be NULL; set to 1 on every successful
                                     connection, 0 whenever a connection is
                                     lost or an attempt fails (readiness) */
} sink_options_t;

/* Fills opt with defaults (conninfo NULL, stop_flag NULL). */
void sink_options_init(sink_options_t *opt);

/* Connects (retrying with backoff up to open_timeout_ms, or until
 * *stop_flag), checks that every embedded migration is applied with a
 * matching checksum, and prepares the statements. Returns 0 and *out
 * (caller owns; free with sink_close), or a negative code with a message
 * in err (conninfo redacted). *out is NULL on failure. */
int sink_open(const sink_options_t *opt, sink_t **out, char *err, size_t errsz);

/* Closes the connection and frees the sink. Records still pending are
 * DISCARDED: call sink_flush first. NULL is a no-op. */
void sink_close(sink_t *s);

/* Queues one account state. Copies the record (strings included). A
 * record with closed set is a close of acc->pubkey at acc->slot (kind may
 * be CB_ACCOUNT_UNKNOWN). CB_ACCOUNT_UNKNOWN without closed, an
 * unterminated pubkey text, a string containing NUL or a slot above
 * INT64_MAX is rejected with SINK_ERR_INVALID (nothing queued). Once
 * queued, when the pending batch reaches batch_max_records it is flushed;
 * then the return value is sink_flush's and on error the record stays
 * queued with the rest of the batch (stop feeding and retry or close). */
int sink_put_account(sink_t *s, const cb_account_t *acc);

/* Queues one transactions row (copied); a row with the same (signature,
 * instruction_index) queued earlier is replaced. Unterminated strings,
 * instruction_index > INT32_MAX or slot/block_height > INT64_MAX:
 * SINK_ERR_INVALID. Same flushing rule as above. */
int sink_put_tx(sink_t *s, const cb_tx_row_t *row);

/* Queues a dead letter: something that could not be decoded or written.
 * kind: free-form short label ("account", "instruction", "event",
 * "transaction", ...), required. key: pubkey or signature, may be NULL.
 * reason: required text. raw/rawlen: the offending bytes (may be NULL/0).
 * The same (kind, key, raw) — or (kind, key, reason) when raw is empty —
 * seen again bumps attempts/last_seen instead of adding a row. Copied. */
int sink_put_dead_letter(sink_t *s, const char *kind, const char *key, uint64_t slot,
                         const char *reason, const uint8_t *raw, size_t rawlen);

/* Sets the checkpoint of a stream (e.g. "live", "backfill") to be written
 * in the same transaction as the next flushed batch: write it after the
 * records it covers have been put. stream: 1..63 chars. signature may be
 * NULL. A later call for the same stream before the flush replaces it. */
int sink_set_checkpoint(sink_t *s, const char *stream, uint64_t slot, const char *signature);

/* Reports the chain's time: block_time (unix seconds) of slot, e.g. the
 * newest indexed slot's (getBlockTime where no transaction says it). Queued
 * like a checkpoint and applied with the next flushed batch: the latest
 * indexed chain time becomes the highest of every time reported and every
 * block time of the transactions rows written (it never goes back), and
 * its UTC day is the latest indexed day, through which every active market
 * gets its market_analytics rows (a quiet program rolls over at midnight
 * too) and daily_platform_metrics its rows. A later call before the flush
 * keeps the higher time. slot above INT64_MAX: SINK_ERR_INVALID. */
int sink_set_chain_time(sink_t *s, uint64_t slot, int64_t block_time);

/* Reads the committed checkpoint of a stream from the database (pending
 * ones are not visible). Returns 0 and fills *slot and signature ("" when
 * none was stored), 1 when the stream has no checkpoint, or a negative
 * code. Reconnects like sink_flush. */
int sink_get_checkpoint(sink_t *s, const char *stream, uint64_t *slot,
                        char signature[CB_SIGNATURE_B58_MAX]);

/* Commits the pending batch (records, dead letters, checkpoints) in one
 * database transaction. On connection loss it reconnects with backoff and
 * retries the whole batch. A record rejected by a constraint goes to
 * dead_letters and the rest commits. Returns 0 (batch empty afterwards),
 * SINK_ERR_STOPPED when *stop_flag interrupted the retries, or SINK_ERR_DB
 * for a non-retryable error (e.g. schema dropped); on error the batch is
 * kept, so a later flush retries it. SINK_ERR_CONNECT when
 * reconnect_max_attempts is set and exhausted. An empty batch returns 0 at
 * once. */
int sink_flush(sink_t *s);

/* Number of queued records (accounts, transactions, dead letters). */
size_t sink_pending(const sink_t *s);

/* 1 when the batch should be flushed now: it holds batch_max_records, or
 * its oldest record (or pending checkpoint) is older than
 * batch_max_delay_ms. 0 otherwise (always 0 when empty). */
int sink_batch_due(const sink_t *s);

/* Milliseconds until sink_batch_due() turns 1 by age (0 when due now,
 * -1 when empty): a poll timeout for the writer loop. */
int sink_batch_due_in_ms(const sink_t *s);

/* Tables whose row counts sink_stats_t keeps (rows[]). */
typedef enum {
  SINK_ROWS_PLATFORM_CONFIG = 0,
  SINK_ROWS_MARKETS,
  SINK_ROWS_POSITIONS,
  SINK_ROWS_TREASURIES,
  SINK_ROWS_ORACLES,
  SINK_ROWS_TRANSACTIONS,
  SINK_ROWS_DEAD_LETTERS,
  SINK_ROWS_CHECKPOINTS,
  SINK_ROWS_COUNT
} sink_rows_table_t;

/* The change feed: every committed batch that wrote accounts, closes or
 * transactions sends one NOTIFY on this channel from inside its own
 * transaction (delivered on commit only). Payload, JSON, always under
 * SINK_NOTIFY_MAX_PAYLOAD bytes:
 *   {"slot":S,"markets":["<pubkey>",...],"markets_count":N,"positions":P,
 *    "transactions":T,"closes":C}
 * with "markets_truncated":true instead of "markets" when the list would
 * not fit. slot is the highest slot of the batch's records. */
#define SINK_NOTIFY_CHANNEL "cbi_changes"
#define SINK_NOTIFY_MAX_PAYLOAD 8000

typedef struct sink_stats {
  uint64_t rows[SINK_ROWS_COUNT];  /* rows inserted/updated per table */
  uint64_t accounts_written;       /* cache rows inserted/updated (closes too) */
  uint64_t accounts_stale_ignored; /* account records older than the row or
                                      superseded in the same batch */
  uint64_t tx_written;             /* transactions rows inserted or updated */
  uint64_t dead_letters;           /* dead letters written (incl. sink's own) */
  uint64_t rejected;               /* records sent to dead_letters by the sink
                                      because the database rejected them */
  uint64_t batches;                /* committed batches */
  uint64_t retries;                /* batch attempts repeated after an error */
  uint64_t reconnects;             /* successful reconnections */
} sink_stats_t;

/* Copies the counters. */
void sink_get_stats(const sink_t *s, sink_stats_t *out);

/* Reconciliation: calls cb for every cached account not marked closed
 * (platform_config, markets, positions, treasuries, oracle data), with its
 * kind and sync_slot. Flushes the pending batch first. Rows are streamed
 * from the database in pubkey order per table; cb must not call back into
 * the sink. cb returns 0 to continue, non-zero to stop (then
 * SINK_ERR_CALLBACK is returned). Returns 0 or a negative code. */
typedef int (*sink_account_cb)(void *ud, const char *pubkey, cb_account_kind_t kind,
                               uint64_t sync_slot);
int sink_list_open_accounts(sink_t *s, sink_account_cb cb, void *ud);

/* Queues a close of pubkey at slot (same as sink_put_account with closed
 * set and kind unknown): the row keeps its data and gets closed_at/
 * closed_slot unless it was updated at a higher slot. */
int sink_mark_closed(sink_t *s, const char *pubkey, uint64_t slot);

/* Static text for a code. */
const char *sink_strerror(int code);

/* Detail of the most recent error on this sink ("" if none). Valid until
 * the next call on s. */
const char *sink_last_error(const sink_t *s);

#endif
