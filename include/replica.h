/* A `live` replica: any number of them may run against one database;
 * exactly one leads (subscribes and writes live data), the others stand by.
 * Every replica may also run backfill job chunks in the background
 * (worker.h) with a bounded concurrency.
 *
 * Leadership is the lease "live" of sink_jobs.h: a replica that acquires it
 * starts live_run, which first fills the gap from the checkpoint (so a new
 * leader loses no row, and idempotent writes double none); a leader whose
 * lease is no longer trusted (renewal failed, database unreachable) stops
 * live_run at once, before the lease expires for the others, and stands by
 * again. A leader that stops cleanly releases the lease so a standby takes
 * over at its next tick. Logs: "leading", "standing by ... led by HOLDER",
 * "stepped down". */
#ifndef CBI_REPLICA_H
#define CBI_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "live.h"
#include "worker.h"

/* Default leadership lease: a standby takes over within about 1.25 x this
 * after the leader dies (renewal and polling every lease/4). */
#define REPLICA_DEFAULT_LEASE_MS 5000
#define REPLICA_LEASE_NAME "live"

typedef struct replica_options {
  const live_options_t *live;     /* required; its stop_flag is replaced while leading */
  const volatile int *stop_flag;  /* required: process stop (SIGTERM) */
  const char *holder;             /* leader name in logs and leader_leases;
                                     NULL = "<hostname>:<pid>" */
  int lease_ms;                   /* 0 = REPLICA_DEFAULT_LEASE_MS; < 0 = no leadership:
                                     this replica always leads (single instance) */
  unsigned job_concurrency;       /* chunks in the background; 0 = none */
  const worker_options_t *worker; /* template when job_concurrency > 0 (its
                                     concurrency is replaced) */
} replica_options_t;

typedef struct replica_summary {
  live_summary_t live; /* of the last live_run */
  unsigned terms_led;  /* times this replica became leader */
  worker_stats_t jobs; /* background chunks */
} replica_summary_t;

/* Runs until *stop_flag, or until live_run ends by itself while leading
 * (exit_when_idle, or a fatal error: then -1 with err). Returns 0 or -1. */
int replica_run(const replica_options_t *o, replica_summary_t *sum, char *err, size_t errsz);

#endif
