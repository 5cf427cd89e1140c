/* Backfill jobs and leadership in PostgreSQL (schema/004_jobs.sql).
 *
 * Jobs: a slot range split into chunks (slot windows). Any number of
 * workers, on any machines, claim chunks with one statement
 * (FOR UPDATE SKIP LOCKED) that sets a lease; the worker renews the lease
 * by heartbeat; a chunk whose lease expired is claimed again by whoever
 * asks next (its worker died). A failing chunk goes back to pending after
 * an exponential backoff until the job's max_attempts, then the chunk and
 * the job are failed with the error in last_error. Idle workers wait for
 * NOTIFY cbi_jobs, with polling as the fallback.
 *
 * Leadership: a term-scoped lease row (leader_leases). The holder renews
 * it every ttl/4 and trusts it only until (time the renewal was SENT +
 * ttl - margin) by its own monotonic clock, which is before the expiry the
 * database stored (now() at the server, later than the send); a
 * contender can take the lease only after that expiry. So a leader that
 * loses the database stops trusting its lease before anyone else can hold
 * it (clock rates assumed within margin/ttl of each other). A holder that
 * fails to renew steps down and does not contend again for one ttl, so a
 * standby takes over.
 *
 * Each handle owns one dedicated connection and is used by one thread at a
 * time, except sink_leader_is_leader(), which any thread may call. */
#ifndef CBI_SINK_JOBS_H
#define CBI_SINK_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error codes (negative); sink_jobs_strerror() gives static text. */
enum {
  SINK_JOBS_OK = 0,
  SINK_JOBS_ERR_INVALID = -1, /* bad argument or range */
  SINK_JOBS_ERR_NOMEM = -2,
  SINK_JOBS_ERR_CONNECT = -3,   /* no connection (retried on the next call) */
  SINK_JOBS_ERR_DB = -4,        /* a statement failed (detail: sink_jobs_last_error) */
  SINK_JOBS_ERR_DUPLICATE = -5, /* an active job already covers this range */
  SINK_JOBS_ERR_NOT_FOUND = -6, /* no such job */
  SINK_JOBS_ERR_FINISHED = -7,  /* the job is already done, failed or cancelled */
  SINK_JOBS_ERR_LOST = -8       /* the chunk's lease is no longer ours */
};

/* Default chunk size in slots, chosen by measurement (bench/bench_jobs.c,
 * README "Backfill jobs"). */
#define SINK_JOBS_DEFAULT_CHUNK_SLOTS 1000
#define SINK_JOBS_DEFAULT_LEASE_S 30
#define SINK_JOBS_DEFAULT_LEASE_MS (SINK_JOBS_DEFAULT_LEASE_S * 1000)
#define SINK_JOBS_DEFAULT_MAX_ATTEMPTS 5
/* NOTIFY channel of enqueues. */
#define SINK_JOBS_CHANNEL "cbi_jobs"

typedef struct sink_jobs sink_jobs_t;

typedef enum {
  SINK_JOB_PENDING = 0,
  SINK_JOB_RUNNING,
  SINK_JOB_DONE,
  SINK_JOB_FAILED,
  SINK_JOB_CANCELLED
} sink_job_state_t;

/* Connects to conninfo (borrowed) within connect_timeout_ms (0 = 10 s).
 * owner names this worker in lease_owner (1..127 chars, copied; e.g.
 * "host:pid:thread"). Returns 0 and *out (free with sink_jobs_close), or a
 * negative code with a message in err (conninfo redacted). */
int sink_jobs_open(const char *conninfo, const char *owner, int connect_timeout_ms,
                   sink_jobs_t **out, char *err, size_t errsz);

/* Closes the connection and frees the handle. NULL is a no-op. */
void sink_jobs_close(sink_jobs_t *j);

/* Detail of the most recent failure on j ("" if none). */
const char *sink_jobs_last_error(const sink_jobs_t *j);

/* Static text for a code. */
const char *sink_jobs_strerror(int code);

/* Name of a state ("pending", ...); "?" when out of range. */
const char *sink_job_state_name(sink_job_state_t s);

/* Enqueues [from_slot, to_slot] (inclusive, both <= INT64_MAX) in windows
 * of chunk_slots (0 = default) through backfill_market_data(), which also
 * NOTIFYs the workers. strategy: "signatures" or "blocks" (NULL = the
 * former). max_attempts 0 = default. Returns 0 and *job_id;
 * SINK_JOBS_ERR_DUPLICATE with *job_id = the active job of that range; or
 * another negative code. */
int sink_jobs_enqueue(sink_jobs_t *j, uint64_t from_slot, uint64_t to_slot, uint64_t chunk_slots,
                      const char *strategy, int max_attempts, int64_t *job_id);

/* A claimed chunk. (owner, attempt) identify this claim (the lease
 * token): heartbeat, complete, fail and release act only while they still
 * match, from whichever handle (e.g. a separate heartbeat connection). */
typedef struct sink_chunk {
  int64_t job_id;
  int seq;
  uint64_t from_slot, to_slot;
  int attempt;
  char strategy[16];
  char owner[128];
} sink_chunk_t;

/* Claims one runnable chunk in one statement: a pending chunk whose
 * backoff has passed, or a running one whose lease expired, of a pending
 * or running job whose attempts are below the job's limit (oldest job,
 * lowest seq first; rows locked by other claimers are skipped). Sets the
 * lease to lease_ms (0 = default), counts the attempt and marks the job
 * running. Also fails, first, any chunk whose lease expired with no
 * attempt left (and its job). Returns 1 and *out when a chunk was claimed,
 * 0 when none is runnable, or a negative code. */
int sink_jobs_claim(sink_jobs_t *j, int lease_ms, sink_chunk_t *out);

/* Renews the lease of c to lease_ms from now. Returns 0; SINK_JOBS_ERR_LOST
 * when the chunk is no longer ours (lease taken after expiry, job
 * cancelled or failed): the caller must stop working on it; or a negative
 * code (connection: the caller keeps working until its lease runs out). */
int sink_jobs_heartbeat(sink_jobs_t *j, const sink_chunk_t *c, int lease_ms);

/* Marks c done (only while ours), adds its slots and transactions to the
 * job's progress, ends the job as done when it was the last chunk, and
 * deletes checkpoint_stream (may be NULL) from sync_checkpoints, all in one
 * transaction. Returns 0, SINK_JOBS_ERR_LOST, or a negative code. */
int sink_jobs_complete(sink_jobs_t *j, const sink_chunk_t *c, uint64_t transactions,
                       const char *checkpoint_stream);

/* Records a failed attempt of c with message error (truncated to 1000
 * bytes): back to pending after backoff_ms * 2^(attempt-1) (capped at
 * 10 minutes; backoff_ms 0 = 1000) while attempts remain, else the chunk
 * and the job fail with error as last_error. *job_failed (may be NULL) says
 * which. Returns 0, SINK_JOBS_ERR_LOST, or a negative code. */
int sink_jobs_fail(sink_jobs_t *j, const sink_chunk_t *c, const char *error, int backoff_ms,
                   bool *job_failed);

/* Gives c back unfinished (the worker is shutting down): pending at once,
 * the attempt not counted. Returns 0, SINK_JOBS_ERR_LOST or a negative
 * code. */
int sink_jobs_release(sink_jobs_t *j, const sink_chunk_t *c);

/* Number of pending or running jobs, or a negative code. */
long sink_jobs_active_count(sink_jobs_t *j);

/* Cancels job_id and its unfinished chunks (running chunks see
 * SINK_JOBS_ERR_LOST at their next heartbeat) and NOTIFYs. Returns 0,
 * SINK_JOBS_ERR_NOT_FOUND, SINK_JOBS_ERR_FINISHED or a negative code. */
int sink_jobs_cancel(sink_jobs_t *j, int64_t job_id);

/* One job's state and progress. Times are unix milliseconds, 0 = unset. */
typedef struct sink_job_info {
  int64_t id;
  uint64_t from_slot, to_slot, chunk_slots;
  char strategy[16];
  sink_job_state_t state;
  char requested_by[64];
  int64_t requested_ms, started_ms, finished_ms, now_ms;
  int chunks_total, chunks_done, chunks_running, chunks_failed;
  uint64_t slots_done, transactions;
  int attempts; /* attempts over all chunks */
  char last_error[1024];
} sink_job_info_t;

/* Fills *out for job_id. Returns 0, SINK_JOBS_ERR_NOT_FOUND or a negative
 * code. */
int sink_jobs_get(sink_jobs_t *j, int64_t job_id, sink_job_info_t *out);

/* Lists up to max jobs, newest first, into out. Returns the number
 * written or a negative code. */
int sink_jobs_list(sink_jobs_t *j, sink_job_info_t *out, int max);

/* Subscribes this connection to NOTIFY cbi_jobs (once; again after a
 * reconnect). Returns 0 or a negative code. */
int sink_jobs_listen(sink_jobs_t *j);

/* Waits up to timeout_ms for a notification on a listening handle (or any
 * input); returns 1 when one arrived (all pending ones are consumed), 0 on
 * timeout, or a negative code (connection lost: the caller polls). */
int sink_jobs_wait(sink_jobs_t *j, int timeout_ms);

/* ------------------------------------------------------------ leadership */

typedef struct sink_leader sink_leader_t;

/* A contender for lease name (e.g. "live") as holder (1..127 chars, e.g.
 * "host:pid"), both copied, with lease ttl_ms (>= 300). Connects lazily on
 * the first tick; conninfo is copied. Returns 0 and *out, or a negative
 * code. */
int sink_leader_new(const char *conninfo, const char *name, const char *holder, int ttl_ms,
                    sink_leader_t **out, char *err, size_t errsz);

/* Releases the lease when held (expires it now so a standby takes over at
 * once), closes the connection, frees. NULL is a no-op. */
void sink_leader_free(sink_leader_t *l);

/* One step: renews the lease when leading and a renewal is due (every
 * ttl/4), tries to acquire it when not leading (every call; callers call
 * at least every ttl/4), reconnecting as needed. A failed renewal (lost
 * connection, lease taken) steps down and holds off contending for one
 * ttl. Returns 1 when leading afterwards, 0 when not, or a negative code
 * when the database could not be reached (not leading). */
int sink_leader_tick(sink_leader_t *l);

/* True while the lease is trusted: leading and before the local deadline.
 * Thread-safe; cheap (reads the monotonic clock). */
bool sink_leader_is_leader(const sink_leader_t *l);

/* Term of the lease while leading (increases with each change of holder),
 * 0 when not leading. Thread-safe. */
int64_t sink_leader_term(const sink_leader_t *l);

/* Milliseconds until the next tick is due (renewal or retry), >= 0. */
int sink_leader_next_tick_ms(const sink_leader_t *l);

/* Reads the lease row: holder (holdersz bytes), term and whether it is
 * unexpired at the server. Returns 1 when a row exists, 0 when none, or a
 * negative code. Uses the handle's connection (same thread as tick). */
int sink_leader_current(sink_leader_t *l, char *holder, size_t holdersz, int64_t *term,
                        bool *valid);

/* The backend pid of the handle's connection (0 when not connected), for
 * tests that terminate it. */
int sink_leader_backend_pid(const sink_leader_t *l);

#endif
