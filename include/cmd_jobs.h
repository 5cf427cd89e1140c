/* The job commands behind `backfill --enqueue / --status / --cancel /
 * --wait` and `worker`, after their options are parsed: each opens its own
 * jobs connection (sink_jobs.h), reports failures on stderr as
 * "crypto-bet-indexer CMD: ..." log lines and returns an exit code
 * (config.h). */
#ifndef CBI_CMD_JOBS_H
#define CBI_CMD_JOBS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cmd_common.h"
#include "sink_jobs.h"
#include "worker.h"

/* `backfill` in its job modes: when argv holds --enqueue, --status,
 * --cancel or --wait, parses the whole command line (options of
 * CONFIG_CMD_BACKFILL; `--status` may stand without its ID: all jobs),
 * runs the mode, sets *handled and returns the exit code. Otherwise
 * *handled = 0 and nothing is done (the foreground backfill runs). */
int cmd_jobs_backfill(int argc, char **argv, cmd_common_usage_fn usage, int *handled);

/* Enqueues [from, to] in chunks of chunk_slots (0 = default) with strategy
 * (NULL = signatures) and prints "job ID enqueued ..." (or the id alone
 * with json) to out. A duplicate of an active job prints which one and
 * returns EXIT_FAILURE_RUN; *job_id (may be NULL) gets the id. */
int cmd_jobs_enqueue(const char *cmd, const char *database_url, uint64_t from, uint64_t to,
                     uint64_t chunk_slots, const char *strategy, bool json, FILE *out,
                     int64_t *job_id);

/* Prints job id (0 = the 20 newest) to out: a progress bar, chunks, rate
 * (slots/s and transactions/s since it started), ETA and the last error;
 * with json one JSON object (id given) or array. EXIT_OK, or
 * EXIT_FAILURE_RUN (database, no such job). */
int cmd_jobs_status(const char *cmd, const char *database_url, int64_t id, bool json, FILE *out);

/* Cancels id. EXIT_OK, or EXIT_FAILURE_RUN naming why (not found, already
 * ended, database). */
int cmd_jobs_cancel(const char *cmd, const char *database_url, int64_t id, FILE *out);

/* Blocks until job id ends (polling every poll_ms, 0 = 1000; progress
 * lines to out every 10 s unless quiet) or *stop: EXIT_OK when done,
 * EXIT_FAILURE_RUN when failed, cancelled, not found or stopped. */
int cmd_jobs_wait(const char *cmd, const char *database_url, int64_t id, int poll_ms, bool quiet,
                  const volatile int *stop, FILE *out);

/* One job as text (bar, rates, ETA; one or two lines) into buf. */
void cmd_jobs_format_text(const sink_job_info_t *j, char *buf, size_t bufsz);

/* One job as a compact JSON object into buf (caller-sized; truncated
 * output is still NUL-terminated). */
void cmd_jobs_format_json(const sink_job_info_t *j, char *buf, size_t bufsz);

#endif
