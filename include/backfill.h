/* Backfill, snapshot, account refresh and reconciliation: the JSON-RPC
 * sources. Each pages through the chain with an rpc_client_t and hands
 * what it reads to ingest (one code path with live). Used from the sink's
 * (writer) thread; blocking calls that drive the RPC client internally. */
#ifndef CBI_BACKFILL_H
#define CBI_BACKFILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "rpc.h"
#include "sink.h"

typedef enum { BACKFILL_SIGNATURES = 0, BACKFILL_BLOCKS = 1 } backfill_strategy_t;

/* Defaults chosen by measurement (bench/bench_backfill.c): with 20 ms per
 * request, 128 calls in flight packed 4 per HTTP request (rpc batch_max)
 * keep the pipeline full; the command line uses both. */
#define BACKFILL_DEFAULT_CONCURRENCY 128
#define BACKFILL_DEFAULT_BATCH 4

typedef struct backfill_options {
  const char *program_id;   /* base58, required */
  const char *commitment;   /* "confirmed" (default) or "finalized" */
  uint64_t from_slot;       /* inclusive */
  uint64_t to_slot;         /* inclusive; UINT64_MAX = the chain tip (getSlot) */
  backfill_strategy_t strategy;
  unsigned concurrency;     /* getTransaction/getBlock calls in flight; 0 = default
                               BACKFILL_DEFAULT_CONCURRENCY */
  unsigned sig_page_limit;  /* getSignaturesForAddress limit; 0 = 1000 */
  const char *checkpoint_stream; /* sink checkpoint stream; NULL = "backfill:<from_slot>"
                                   (a checkpoint S on it means slots from_slot..S are
                                   complete, so any run starting at from_slot may resume
                                   from it; a run starting elsewhere does not) */
  bool refresh_accounts;    /* getMultipleAccounts of the touched accounts at the end */
  int progress;             /* progress_mode_t: 0 none, 1 log line every 5 s, 2 bar */
  const volatile int *stop_flag;
  bool restart;             /* ignore the checkpoint: redo the whole range */
} backfill_options_t;

/* Fills o with the defaults: commitment "confirmed", from_slot 0, to_slot
 * UINT64_MAX (the tip), signatures strategy, BACKFILL_DEFAULT_CONCURRENCY,
 * page limit 1000, refresh_accounts on, progress off, no stop flag;
 * program_id NULL (required). */
void backfill_options_init(backfill_options_t *o);

typedef struct backfill_summary {
  uint64_t slots;          /* slots covered */
  uint64_t signatures;     /* distinct signatures in range */
  uint64_t transactions;   /* transactions fetched and ingested */
  uint64_t instructions;   /* transactions rows written */
  uint64_t accounts;       /* accounts refreshed */
  uint64_t dead_letters;   /* undecodable data and unanswerable getTransaction calls */
  uint64_t retries;        /* RPC retries */
  uint64_t elapsed_ms;
  uint64_t last_slot;      /* highest slot fully applied (checkpointed) */
  uint64_t skipped_slots;  /* blocks strategy: slots the node reports skipped/missing */
  uint64_t resumed_from;   /* first slot fetched when resuming (0 = not resumed) */
  bool complete;           /* the whole range is applied (also when it already was) */
} backfill_summary_t;

/* Runs a backfill of [from_slot, to_slot], resuming from the stream's
 * checkpoint when it lies inside the range. Idempotent. Returns 0, or -1
 * with a message in err (RPC failure after retries, sink failure, stop).
 *
 * Transactions are applied in ascending (slot, signature) order and the
 * stream is checkpointed after each complete slot, in the sink batch that
 * holds that slot's rows. With refresh_accounts the checkpoint stays below
 * to_slot until the touched accounts are written; a resumed run re-reads
 * the transactions of the applied part (writing nothing) to rebuild the
 * refresh set, so a killed-and-resumed run ends with the same tables as an
 * uninterrupted one. A range whose checkpoint is already at to_slot is
 * complete: nothing is fetched. */
int backfill_run(rpc_client_t *rpc, ingest_t *ing, sink_t *sink, const backfill_options_t *opt,
                 backfill_summary_t *sum, char *err, size_t errsz);

/* getMultipleAccounts (100 keys per call, several calls in flight) of keys,
 * each written with the response's context slot. The keys are sorted and
 * deduplicated first, so the requests depend on the key set only. Records
 * are queued on the sink (the caller flushes). Returns the number of
 * accounts ingested (closes included) or -1 with err. */
long backfill_refresh_accounts(rpc_client_t *rpc, ingest_t *ing, sink_t *sink,
                               const char *commitment, const char (*keys)[CB_PUBKEY_B58_MAX],
                               size_t n, const volatile int *stop_flag, char *err, size_t errsz);

/* getProgramAccounts per account type of the IDL, in IDL order (memcmp
 * filter at offset 0 on the base58 discriminator, withContext), written
 * through the sink with each response's context slot, then flushed.
 * Returns accounts written or -1 with err. */
long snapshot_run(rpc_client_t *rpc, ingest_t *ing, sink_t *sink, const idl_t *idl,
                  const char *program_id, const char *commitment,
                  const volatile int *stop_flag, char *err, size_t errsz);

/* Compares every cached open account with the chain (getMultipleAccounts,
 * 100 per call, keys sorted) and marks the ones that are gone (null / 0
 * lamports / no longer owned by the program) closed at the response's
 * context slot; the others are written with their current state
 * (slot-guarded). Flushes at the end. Returns accounts closed or -1. */
long reconcile_run(rpc_client_t *rpc, ingest_t *ing, sink_t *sink, const char *program_id,
                   const char *commitment, const volatile int *stop_flag, char *err,
                   size_t errsz);

#endif
