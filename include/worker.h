/* Backfill job worker: claims chunks of the jobs in PostgreSQL
 * (sink_jobs.h) and runs each through backfill_run over its slot window,
 * with `concurrency` chunks at once (one thread each), the leases renewed
 * by a heartbeat thread. Used by `crypto-bet-indexer worker` and in the
 * background of `live`.
 *
 * Per chunk the runner opens its own RPC client, sink and ingest, and runs
 * backfill_run with checkpoint stream "job:<id>:<seq>", so a chunk claimed
 * again after its worker died resumes from that checkpoint; the stream is
 * deleted when the chunk completes. A chunk whose lease is lost (taken
 * after expiry, job cancelled or failed) is stopped at once; a chunk whose
 * heartbeat has not succeeded for lease - lease/4 ms is stopped too (the
 * worker stops trusting a lease it can no longer prove). A failing chunk
 * is reported with sink_jobs_fail (retry with backoff, then the job
 * fails). On stop, running chunks are given back (sink_jobs_release). */
#ifndef CBI_WORKER_H
#define CBI_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cb_decoder.h"
#include "rpc.h"

typedef struct worker worker_t;

typedef struct worker_options {
  const char *conninfo;        /* required; copied */
  const rpc_options_t *rpc;    /* required template (endpoints, batching, retries);
                                  its stop_flag is replaced per chunk */
  const cb_decoder_t *decoder; /* required; shared, must outlive the worker */
  const char *program_id;      /* required; copied */
  const char *commitment;      /* NULL = "confirmed"; copied */
  unsigned concurrency;        /* chunks at once; 0 = 1 */
  unsigned rpc_concurrency;    /* backfill_options.concurrency per chunk; 0 = default */
  int lease_ms;                /* 0 = SINK_JOBS_DEFAULT_LEASE_MS */
  int poll_ms;                 /* idle poll when no NOTIFY arrives; 0 = 2000 */
  int retry_backoff_ms;        /* first retry delay of a failed chunk; 0 = 1000 */
  const char *owner;           /* lease owner prefix; NULL = "<hostname>:<pid>" */
  bool exit_when_idle;         /* threads end when no job is pending or running */
  bool refresh_accounts;       /* getMultipleAccounts of touched accounts per chunk */
} worker_options_t;

/* Fills o with defaults (refresh_accounts on, everything else 0/NULL). */
void worker_options_init(worker_options_t *o);

typedef struct worker_stats {
  uint64_t chunks_done;     /* completed and recorded */
  uint64_t chunks_failed;   /* attempts reported failed */
  uint64_t chunks_lost;     /* stopped because the lease was lost */
  uint64_t chunks_released; /* given back on stop */
  uint64_t transactions;    /* ingested by completed chunks */
  uint64_t slots;           /* slots of completed chunks */
} worker_stats_t;

/* Starts the threads. Returns 0 and *out, or -1 with err. */
int worker_start(const worker_options_t *o, worker_t **out, char *err, size_t errsz);

/* True when every runner thread has ended (exit_when_idle). */
bool worker_idle_done(const worker_t *w);

/* Snapshot of the counters (thread-safe). */
void worker_get_stats(const worker_t *w, worker_stats_t *out);

/* Stops: running chunks are interrupted and given back; joins the threads,
 * frees w and fills *st (may be NULL). NULL is a no-op. */
void worker_stop(worker_t *w, worker_stats_t *st);

/* worker_start, then waits until *stop_flag (or, with exit_when_idle, the
 * end of work), then worker_stop. Returns 0 or -1 with err. */
int worker_run(const worker_options_t *o, const volatile int *stop_flag, worker_stats_t *st,
               char *err, size_t errsz);

#endif
