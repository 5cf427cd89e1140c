/* Backfill: a slot range over JSON-RPC. Pages through the chain with an
 * rpc_client_t, fetches transactions through txfetch (the pipeline live
 * uses too) and hands everything to ingest. Used from the sink's (writer)
 * thread; blocking calls that drive the RPC client internally. */
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

/* Signatures (signatures strategy) or blocks (blocks strategy) per window:
 * the range is applied window by window in ascending slot order, so memory
 * depends on the window, not on the range. */
#define BACKFILL_DEFAULT_WINDOW 8192

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
  unsigned window;          /* 0 = BACKFILL_DEFAULT_WINDOW */
  /* Called on the calling thread at every slice of RPC work and every
   * progress step (a liveness hook: the caller's watchdog / start-up
   * timeout extension); NULL = none. */
  void (*on_tick)(void *user);
  void *tick_user;
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
  uint64_t windows;        /* windows the range was applied in */
  uint64_t peak_window;    /* signatures strategy: most signatures held at once */
  bool complete;           /* the whole range is applied (also when it already was) */
} backfill_summary_t;

/* Runs a backfill of [from_slot, to_slot], resuming after the stream's
 * checkpoint when it lies inside the range. Idempotent. Returns 0, or -1
 * with a message in err (RPC failure after retries, sink failure, stop).
 *
 * Windows: the range is cut into slot windows of about `window` signatures
 * (signatures strategy: a first walk of getSignaturesForAddress keeps only
 * each page's cursor and slot bounds; each window is then walked again
 * from its own end) or `window` produced blocks (blocks strategy), applied
 * in ascending order. A range that fits one window is walked once. Peak
 * memory depends on the window and the concurrency, not on the range.
 *
 * Within a window, transactions are applied in ascending (slot, signature)
 * order (fetched through txfetch). Without refresh_accounts the stream is
 * checkpointed after each complete slot; with it, the accounts the
 * window's transactions touched are read (getMultipleAccounts) at the end
 * of the window and the checkpoint moves to the window's last slot in the
 * batch that holds them, so a killed-and-resumed run ends with the same
 * tables as an uninterrupted one. A transaction the node never returns is
 * a dead letter (transaction-missing). A range whose checkpoint is already
 * at to_slot is complete: nothing is fetched. */
int backfill_run(rpc_client_t *rpc, ingest_t *ing, sink_t *sink, const backfill_options_t *opt,
                 backfill_summary_t *sum, char *err, size_t errsz);

#endif
