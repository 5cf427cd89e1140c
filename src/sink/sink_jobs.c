/* The backfill job queue (sink_jobs.h): enqueue, claim with lease,
 * heartbeat, complete, fail with backoff, cancel, progress, LISTEN. Every
 * state change is one statement (data-modifying CTEs), so a worker killed
 * at any point leaves the tables consistent. */
#include "sink_jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "sink_priv.h"
#include "progress.h"
#include "sink_jobs_priv.h"

#define OWNER_MAX 128
#define ERR_TEXT_MAX 1000

struct sink_jobs {
  PGconn *conn;
  char *conninfo;
  char owner[OWNER_MAX];
  int connect_timeout_ms;
  int listening;  /* LISTEN wanted: re-issued after a reconnect */
  int64_t dup_id; /* the active job named by the last unique violation */
  char err[512];
};

/* ------------------------------------------------------------ helpers */

PGconn *sink_jobs_connect(const char *conninfo, int connect_timeout_ms, int io_timeout_ms,
                          const char *appname, char *err, size_t errsz) {
  char ct[16], tut[16], opts[64];
  int secs = (connect_timeout_ms + 999) / 1000;
  snprintf(ct, sizeof ct, "%d", secs < 2 ? 2 : secs);
  snprintf(tut, sizeof tut, "%d", io_timeout_ms > 0 ? io_timeout_ms : 0);
  snprintf(opts, sizeof opts, "-c statement_timeout=%d", io_timeout_ms > 0 ? io_timeout_ms : 0);
  const char *kw[] = {"connect_timeout",  "keepalives",
                      "keepalives_idle",  "keepalives_interval",
                      "keepalives_count", "tcp_user_timeout",
                      "options",          "application_name",
                      "dbname",           NULL};
  const char *val[] = {ct, "1", "5", "2", "3", tut, opts, appname, conninfo, NULL};
  PGconn *c = PQconnectdbParams(kw, val, 1);
  if (!c || PQstatus(c) != CONNECTION_OK) {
    char red[256];
    log_redact_conninfo(conninfo, red, sizeof red);
    snprintf(err, errsz, "connect %s: %s", red, c ? PQerrorMessage(c) : "out of memory");
    if (c) PQfinish(c);
    return NULL;
  }
  return c;
}

static void set_err(sink_jobs_t *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(sink_jobs_t *j, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(j->err, sizeof j->err, fmt, ap);
  va_end(ap);
  /* one line */
  for (char *p = j->err; *p; p++)
    if (*p == '\n') *p = ' ';
}

const char *sink_jobs_strerror(int code) {
  switch (code) {
  case SINK_JOBS_OK: return "ok";
  case SINK_JOBS_ERR_INVALID: return "invalid argument";
  case SINK_JOBS_ERR_NOMEM: return "out of memory";
  case SINK_JOBS_ERR_CONNECT: return "cannot connect to the database";
  case SINK_JOBS_ERR_DB: return "database error";
  case SINK_JOBS_ERR_DUPLICATE: return "an active job already covers this range";
  case SINK_JOBS_ERR_NOT_FOUND: return "no such job";
  case SINK_JOBS_ERR_FINISHED: return "the job has already ended";
  case SINK_JOBS_ERR_LOST: return "the chunk's lease is no longer held";
  default: return "unknown error";
  }
}

const char *sink_jobs_last_error(const sink_jobs_t *j) {
  return j ? j->err : "";
}

const char *sink_job_state_name(sink_job_state_t s) {
  static const char *const names[] = {"pending", "running", "done", "failed", "cancelled"};
  return (unsigned)s < 5 ? names[s] : "?";
}

static sink_job_state_t state_from(const char *s) {
  for (int i = 0; i < 5; i++)
    if (strcmp(s, sink_job_state_name((sink_job_state_t)i)) == 0) return (sink_job_state_t)i;
  return SINK_JOB_FAILED;
}

/* (Re)connects when needed; re-subscribes when listening. */
static int ensure(sink_jobs_t *j) {
  if (j->conn && PQstatus(j->conn) == CONNECTION_OK) return 0;
  if (j->conn) PQfinish(j->conn);
  j->conn = sink_jobs_connect(j->conninfo, j->connect_timeout_ms, 0, "crypto-bet-indexer jobs",
                              j->err, sizeof j->err);
  if (!j->conn) return SINK_JOBS_ERR_CONNECT;
  if (j->listening) {
    PGresult *r = PQexec(j->conn, "LISTEN " SINK_JOBS_CHANNEL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) return SINK_JOBS_ERR_CONNECT;
  }
  return 0;
}

/* Runs sql with text parameters; returns the result (caller PQclear()s) or
 * NULL with j->err set and *code the error. */
static PGresult *run(sink_jobs_t *j, const char *what, const char *sql, int n,
                     const char *const *params, int *code) {
  *code = ensure(j);
  if (*code) return NULL;
  PGresult *r = PQexecParams(j->conn, sql, n, NULL, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return r;
  const char *sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  set_err(j, "%s: %s%s%s", what, sqlstate ? sqlstate : "", sqlstate ? " " : "",
          r ? PQresultErrorMessage(r) : PQerrorMessage(j->conn));
  *code = PQstatus(j->conn) != CONNECTION_OK ? SINK_JOBS_ERR_CONNECT : SINK_JOBS_ERR_DB;
  if (sqlstate && strcmp(sqlstate, "23505") == 0) *code = SINK_JOBS_ERR_DUPLICATE;
  if (sqlstate && strcmp(sqlstate, "22023") == 0) *code = SINK_JOBS_ERR_INVALID;
  if (*code == SINK_JOBS_ERR_DUPLICATE) {
    const char *d = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
    j->dup_id = d && strncmp(d, "existing job ", 13) == 0 ? strtoll(d + 13, NULL, 10) : 0;
  }
  PQclear(r);
  return NULL;
}

static uint64_t u64_of(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0 : strtoull(PQgetvalue(r, row, col), NULL, 10);
}

static int64_t i64_of(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Chunk identity parameters: job, seq, attempt, owner. */
typedef struct chunk_params {
  char job[24], seq[16], attempt[16];
  const char *p[8];
} chunk_params_t;

static void chunk_params(chunk_params_t *cp, const sink_jobs_t *j, const sink_chunk_t *c) {
  snprintf(cp->job, sizeof cp->job, "%" PRId64, c->job_id);
  snprintf(cp->seq, sizeof cp->seq, "%d", c->seq);
  snprintf(cp->attempt, sizeof cp->attempt, "%d", c->attempt);
  cp->p[0] = cp->job;
  cp->p[1] = cp->seq;
  cp->p[2] = cp->attempt;
  cp->p[3] = c->owner;
  (void)j;
}

/* ------------------------------------------------------------ open/close */

int sink_jobs_open(const char *conninfo, const char *owner, int connect_timeout_ms,
                   sink_jobs_t **out, char *err, size_t errsz) {
  *out = NULL;
  if (!conninfo || !owner || !*owner || strlen(owner) >= OWNER_MAX) {
    snprintf(err, errsz, "sink_jobs_open: conninfo and an owner of 1..%d chars required",
             OWNER_MAX - 1);
    return SINK_JOBS_ERR_INVALID;
  }
  sink_jobs_t *j = calloc(1, sizeof *j);
  if (!j || !(j->conninfo = strdup(conninfo))) {
    free(j);
    snprintf(err, errsz, "out of memory");
    return SINK_JOBS_ERR_NOMEM;
  }
  snprintf(j->owner, sizeof j->owner, "%s", owner);
  j->connect_timeout_ms = connect_timeout_ms > 0 ? connect_timeout_ms : 10000;
  int rc = ensure(j);
  if (rc) {
    snprintf(err, errsz, "%s", j->err);
    sink_jobs_close(j);
    return rc;
  }
  *out = j;
  return 0;
}

void sink_jobs_close(sink_jobs_t *j) {
  if (!j) return;
  if (j->conn) PQfinish(j->conn);
  free(j->conninfo);
  free(j);
}

/* ---------------------------------------------------------------- enqueue */

int sink_jobs_enqueue(sink_jobs_t *j, uint64_t from_slot, uint64_t to_slot, uint64_t chunk_slots,
                      const char *strategy, int max_attempts, int64_t *job_id) {
  *job_id = 0;
  if (from_slot > INT64_MAX || to_slot > INT64_MAX || to_slot < from_slot ||
      chunk_slots > INT64_MAX || max_attempts < 0) {
    set_err(j, "enqueue: invalid range %" PRIu64 "..%" PRIu64, from_slot, to_slot);
    return SINK_JOBS_ERR_INVALID;
  }
  if (!strategy) strategy = "signatures";
  if (strcmp(strategy, "signatures") != 0 && strcmp(strategy, "blocks") != 0) {
    set_err(j, "enqueue: unknown strategy %s", strategy);
    return SINK_JOBS_ERR_INVALID;
  }
  char a[24], b[24], cs[24], ma[16];
  snprintf(a, sizeof a, "%" PRIu64, from_slot);
  snprintf(b, sizeof b, "%" PRIu64, to_slot);
  snprintf(cs, sizeof cs, "%" PRIu64, chunk_slots ? chunk_slots : SINK_JOBS_DEFAULT_CHUNK_SLOTS);
  snprintf(ma, sizeof ma, "%d", max_attempts ? max_attempts : SINK_JOBS_DEFAULT_MAX_ATTEMPTS);
  const char *p[5] = {a, b, cs, strategy, ma};
  int code;
  PGresult *r = run(j, "enqueue",
                    "SELECT backfill_market_data($1::bigint, $2::bigint, $3::bigint, $4::text, "
                    "$5::integer)",
                    5, p, &code);
  if (!r) {
    if (code == SINK_JOBS_ERR_DUPLICATE) *job_id = j->dup_id;
    return code;
  }
  *job_id = i64_of(r, 0, 0);
  PQclear(r);
  return 0;
}

/* ------------------------------------------------------------------ claim */

/* Chunks whose lease expired with no attempt left fail, and their jobs. */
static const char *const rescue_sql =
    "WITH dead AS ("
    " UPDATE backfill_chunks c SET state = 'failed', finished_at = now(), lease_owner = NULL,"
    "  last_error = format('lease expired in attempt %s (worker lost)', c.attempts)"
    " FROM backfill_jobs j"
    " WHERE j.id = c.job_id AND j.state IN ('pending', 'running') AND c.state = 'running'"
    "  AND c.lease_expires_at < now() AND c.attempts >= j.max_attempts"
    " RETURNING c.job_id, c.seq, c.from_slot, c.to_slot, c.attempts, c.last_error)"
    " UPDATE backfill_jobs j SET state = 'failed', finished_at = now(),"
    "  last_error = format('chunk %s (slots %s..%s) failed after %s attempts: %s',"
    "   d.seq, d.from_slot, d.to_slot, d.attempts, d.last_error)"
    " FROM (SELECT DISTINCT ON (job_id) * FROM dead ORDER BY job_id, seq) d"
    " WHERE j.id = d.job_id";

static const char *const claim_sql =
    "WITH pick AS ("
    " SELECT c.job_id, c.seq FROM backfill_chunks c JOIN backfill_jobs j ON j.id = c.job_id"
    " WHERE c.state IN ('pending', 'running') AND j.state IN ('pending', 'running')"
    "  AND c.attempts < j.max_attempts"
    "  AND ((c.state = 'pending' AND c.run_after <= now())"
    "   OR (c.state = 'running' AND c.lease_expires_at < now()))"
    " ORDER BY c.job_id, c.seq LIMIT 1 FOR UPDATE OF c SKIP LOCKED),"
    " claimed AS ("
    " UPDATE backfill_chunks c SET state = 'running', lease_owner = $1,"
    "  lease_expires_at = now() + $2::integer * interval '1 millisecond',"
    "  attempts = c.attempts + 1, started_at = now()"
    " FROM pick p WHERE c.job_id = p.job_id AND c.seq = p.seq"
    " RETURNING c.job_id, c.seq, c.from_slot, c.to_slot, c.attempts),"
    " job AS ("
    " UPDATE backfill_jobs j SET state = 'running', started_at = coalesce(j.started_at, now())"
    " FROM claimed c WHERE j.id = c.job_id AND j.state = 'pending' RETURNING j.id)"
    " SELECT c.job_id, c.seq, c.from_slot, c.to_slot, c.attempts, j.strategy,"
    "  (SELECT count(*) FROM job)"
    " FROM claimed c JOIN backfill_jobs j ON j.id = c.job_id";

int sink_jobs_claim(sink_jobs_t *j, int lease_ms, sink_chunk_t *out) {
  memset(out, 0, sizeof *out);
  int code;
  PGresult *r = run(j, "rescue expired chunks", rescue_sql, 0, NULL, &code);
  if (!r) return code;
  if ((int)sink_num_or_zero(PQcmdTuples(r)) > 0)
    log_warn("jobs", "failed jobs whose chunk leases ran out=%s", PQcmdTuples(r));
  PQclear(r);
  char lease[16];
  snprintf(lease, sizeof lease, "%d", lease_ms > 0 ? lease_ms : SINK_JOBS_DEFAULT_LEASE_MS);
  const char *p[2] = {j->owner, lease};
  r = run(j, "claim", claim_sql, 2, p, &code);
  if (!r) return code;
  int got = PQntuples(r) == 1;
  if (got) {
    out->job_id = i64_of(r, 0, 0);
    out->seq = (int)i64_of(r, 0, 1);
    out->from_slot = u64_of(r, 0, 2);
    out->to_slot = u64_of(r, 0, 3);
    out->attempt = (int)i64_of(r, 0, 4);
    snprintf(out->strategy, sizeof out->strategy, "%s", PQgetvalue(r, 0, 5));
    snprintf(out->owner, sizeof out->owner, "%s", j->owner);
  }
  PQclear(r);
  return got;
}

/* -------------------------------------------------------- heartbeat/done */

int sink_jobs_heartbeat(sink_jobs_t *j, const sink_chunk_t *c, int lease_ms) {
  chunk_params_t cp;
  chunk_params(&cp, j, c);
  char lease[16];
  snprintf(lease, sizeof lease, "%d", lease_ms > 0 ? lease_ms : SINK_JOBS_DEFAULT_LEASE_MS);
  cp.p[4] = lease;
  int code;
  PGresult *r = run(j, "heartbeat",
                    "UPDATE backfill_chunks c"
                    " SET lease_expires_at = now() + $5::integer * interval '1 millisecond'"
                    " FROM backfill_jobs j WHERE j.id = c.job_id AND c.job_id = $1::bigint"
                    " AND c.seq = $2::integer AND c.attempts = $3::integer AND c.lease_owner = $4"
                    " AND c.state = 'running' AND j.state = 'running'",
                    5, cp.p, &code);
  if (!r) return code;
  int n = (int)sink_num_or_zero(PQcmdTuples(r));
  PQclear(r);
  return n == 1 ? 0 : SINK_JOBS_ERR_LOST;
}

int sink_jobs_complete(sink_jobs_t *j, const sink_chunk_t *c, uint64_t transactions,
                       const char *checkpoint_stream) {
  chunk_params_t cp;
  chunk_params(&cp, j, c);
  char tx[24];
  snprintf(tx, sizeof tx, "%" PRIu64, transactions);
  cp.p[4] = tx;
  cp.p[5] = checkpoint_stream;
  int code;
  PGresult *r = run(
      j, "complete",
      "WITH done AS ("
      " UPDATE backfill_chunks SET state = 'done', finished_at = now(), lease_owner = NULL,"
      "  lease_expires_at = NULL, transactions = $5::bigint"
      " WHERE job_id = $1::bigint AND seq = $2::integer AND attempts = $3::integer"
      "  AND lease_owner = $4 AND state = 'running'"
      " RETURNING job_id, to_slot - from_slot + 1 AS slots),"
      " job AS ("
      " UPDATE backfill_jobs j SET chunks_done = j.chunks_done + 1,"
      "  slots_done = j.slots_done + d.slots, transactions = j.transactions + $5::bigint,"
      "  state = CASE WHEN j.chunks_done + 1 >= j.chunks_total AND j.state = 'running'"
      "   THEN 'done'::backfill_job_state ELSE j.state END,"
      "  finished_at = CASE WHEN j.chunks_done + 1 >= j.chunks_total AND j.state = 'running'"
      "   THEN now() ELSE j.finished_at END"
      " FROM done d WHERE j.id = d.job_id RETURNING j.state),"
      " cp AS (DELETE FROM sync_checkpoints WHERE stream = $6::text AND EXISTS (SELECT 1 FROM done)"
      " RETURNING 1)"
      " SELECT (SELECT count(*) FROM done), (SELECT state::text FROM job),"
      "  (SELECT count(*) FROM cp)",
      6, cp.p, &code);
  if (!r) return code;
  int n = (int)sink_num_or_zero(PQgetvalue(r, 0, 0));
  if (n == 1 && strcmp(PQgetvalue(r, 0, 1), "done") == 0)
    log_info("jobs", "job done job=%" PRId64, c->job_id);
  PQclear(r);
  return n == 1 ? 0 : SINK_JOBS_ERR_LOST;
}

int sink_jobs_fail(sink_jobs_t *j, const sink_chunk_t *c, const char *error, int backoff_ms,
                   bool *job_failed) {
  if (job_failed) *job_failed = false;
  chunk_params_t cp;
  chunk_params(&cp, j, c);
  char msg[ERR_TEXT_MAX + 1], bo[16];
  snprintf(msg, sizeof msg, "%s", error && *error ? error : "unknown error");
  snprintf(bo, sizeof bo, "%d", backoff_ms > 0 ? backoff_ms : 1000);
  cp.p[4] = msg;
  cp.p[5] = bo;
  int code;
  PGresult *r = run(
      j, "fail",
      "WITH f AS ("
      " UPDATE backfill_chunks c SET"
      "  state = CASE WHEN c.attempts >= j.max_attempts THEN 'failed' ELSE 'pending' END"
      "   ::backfill_job_state,"
      "  run_after = now() + LEAST($6::float8 * power(2, c.attempts - 1), 600000)"
      "   * interval '1 millisecond',"
      "  lease_owner = NULL, lease_expires_at = NULL, last_error = $5,"
      "  finished_at = CASE WHEN c.attempts >= j.max_attempts THEN now() END"
      " FROM backfill_jobs j WHERE j.id = c.job_id AND c.job_id = $1::bigint"
      "  AND c.seq = $2::integer AND c.attempts = $3::integer AND c.lease_owner = $4"
      "  AND c.state = 'running'"
      " RETURNING c.job_id, c.seq, c.from_slot, c.to_slot, c.attempts, c.state),"
      " jf AS ("
      " UPDATE backfill_jobs j SET"
      "  state = CASE WHEN f.state = 'failed' THEN 'failed'::backfill_job_state ELSE j.state END,"
      "  finished_at = CASE WHEN f.state = 'failed' THEN now() ELSE j.finished_at END,"
      "  last_error = CASE WHEN f.state = 'failed'"
      "   THEN format('chunk %s (slots %s..%s) failed after %s attempts: %s',"
      "    f.seq, f.from_slot, f.to_slot, f.attempts, $5)"
      "   ELSE format('chunk %s (slots %s..%s) attempt %s: %s',"
      "    f.seq, f.from_slot, f.to_slot, f.attempts, $5) END"
      " FROM f WHERE j.id = f.job_id AND j.state IN ('pending', 'running') RETURNING j.id)"
      " SELECT f.state::text, (SELECT count(*) FROM jf) FROM f",
      6, cp.p, &code);
  if (!r) return code;
  int n = PQntuples(r);
  if (n == 1 && job_failed) *job_failed = strcmp(PQgetvalue(r, 0, 0), "failed") == 0;
  PQclear(r);
  return n == 1 ? 0 : SINK_JOBS_ERR_LOST;
}

int sink_jobs_release(sink_jobs_t *j, const sink_chunk_t *c) {
  chunk_params_t cp;
  chunk_params(&cp, j, c);
  int code;
  PGresult *r = run(j, "release",
                    "UPDATE backfill_chunks SET state = 'pending', lease_owner = NULL,"
                    " lease_expires_at = NULL, attempts = attempts - 1, run_after = now()"
                    " WHERE job_id = $1::bigint AND seq = $2::integer AND attempts = $3::integer"
                    " AND lease_owner = $4 AND state = 'running'",
                    4, cp.p, &code);
  if (!r) return code;
  int n = (int)sink_num_or_zero(PQcmdTuples(r));
  PQclear(r);
  if (n == 1) {
    PGresult *nr = PQexec(j->conn, "NOTIFY " SINK_JOBS_CHANNEL);
    PQclear(nr);
  }
  return n == 1 ? 0 : SINK_JOBS_ERR_LOST;
}

long sink_jobs_active_count(sink_jobs_t *j) {
  int code;
  PGresult *r = run(j, "active jobs",
                    "SELECT count(*) FROM backfill_jobs WHERE state IN ('pending', 'running')", 0,
                    NULL, &code);
  if (!r) return code;
  long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  return n;
}

int sink_jobs_cancel(sink_jobs_t *j, int64_t job_id) {
  char id[24];
  snprintf(id, sizeof id, "%" PRId64, job_id);
  const char *p[1] = {id};
  int code;
  PGresult *r =
      run(j, "cancel",
          "WITH jc AS ("
          " UPDATE backfill_jobs SET state = 'cancelled', finished_at = now()"
          " WHERE id = $1::bigint AND state IN ('pending', 'running') RETURNING id),"
          " cc AS ("
          " UPDATE backfill_chunks SET state = 'cancelled', lease_owner = NULL,"
          "  lease_expires_at = NULL, finished_at = now()"
          " WHERE job_id IN (SELECT id FROM jc) AND state IN ('pending', 'running') RETURNING 1),"
          " n AS (SELECT pg_notify('" SINK_JOBS_CHANNEL "', 'cancel:' || id) FROM jc)"
          " SELECT (SELECT count(*) FROM jc), (SELECT count(*) FROM cc), (SELECT count(*) FROM n),"
          "  (SELECT state::text FROM backfill_jobs WHERE id = $1::bigint)",
          1, p, &code);
  if (!r) return code;
  int n = (int)sink_num_or_zero(PQgetvalue(r, 0, 0));
  int exists = !PQgetisnull(r, 0, 3);
  PQclear(r);
  if (n == 1) {
    log_info("jobs", "job cancelled job=%" PRId64, job_id);
    return 0;
  }
  return exists ? SINK_JOBS_ERR_FINISHED : SINK_JOBS_ERR_NOT_FOUND;
}

/* --------------------------------------------------------------- progress */

#define INFO_COLS                                                                                  \
  "SELECT j.id, j.from_slot, j.to_slot, j.chunk_slots, j.strategy, j.state::text,"                 \
  " j.requested_by, (extract(epoch FROM j.requested_at) * 1000)::bigint,"                          \
  " coalesce((extract(epoch FROM j.started_at) * 1000)::bigint, 0),"                               \
  " coalesce((extract(epoch FROM j.finished_at) * 1000)::bigint, 0),"                              \
  " (extract(epoch FROM clock_timestamp()) * 1000)::bigint, j.chunks_total, j.chunks_done,"        \
  " k.running, k.failed, j.slots_done, j.transactions, k.attempts,"                                \
  " coalesce(j.last_error, '')"                                                                    \
  " FROM backfill_jobs j, LATERAL (SELECT count(*) FILTER (WHERE state = 'running') AS running,"   \
  "  count(*) FILTER (WHERE state = 'failed') AS failed,"                                          \
  "  coalesce(sum(attempts), 0) AS attempts FROM backfill_chunks WHERE job_id = j.id) k"

static void info_from(const PGresult *r, int row, sink_job_info_t *o) {
  memset(o, 0, sizeof *o);
  o->id = i64_of(r, row, 0);
  o->from_slot = u64_of(r, row, 1);
  o->to_slot = u64_of(r, row, 2);
  o->chunk_slots = u64_of(r, row, 3);
  snprintf(o->strategy, sizeof o->strategy, "%s", PQgetvalue(r, row, 4));
  o->state = state_from(PQgetvalue(r, row, 5));
  snprintf(o->requested_by, sizeof o->requested_by, "%s", PQgetvalue(r, row, 6));
  o->requested_ms = i64_of(r, row, 7);
  o->started_ms = i64_of(r, row, 8);
  o->finished_ms = i64_of(r, row, 9);
  o->now_ms = i64_of(r, row, 10);
  o->chunks_total = (int)i64_of(r, row, 11);
  o->chunks_done = (int)i64_of(r, row, 12);
  o->chunks_running = (int)i64_of(r, row, 13);
  o->chunks_failed = (int)i64_of(r, row, 14);
  o->slots_done = u64_of(r, row, 15);
  o->transactions = u64_of(r, row, 16);
  o->attempts = (int)i64_of(r, row, 17);
  snprintf(o->last_error, sizeof o->last_error, "%s", PQgetvalue(r, row, 18));
}

int sink_jobs_get(sink_jobs_t *j, int64_t job_id, sink_job_info_t *out) {
  char id[24];
  snprintf(id, sizeof id, "%" PRId64, job_id);
  const char *p[1] = {id};
  int code;
  PGresult *r = run(j, "job status", INFO_COLS " WHERE j.id = $1::bigint", 1, p, &code);
  if (!r) return code;
  int n = PQntuples(r);
  if (n == 1) info_from(r, 0, out);
  PQclear(r);
  return n == 1 ? 0 : SINK_JOBS_ERR_NOT_FOUND;
}

int sink_jobs_list(sink_jobs_t *j, sink_job_info_t *out, int max) {
  if (max <= 0) return 0;
  char lim[16];
  snprintf(lim, sizeof lim, "%d", max);
  const char *p[1] = {lim};
  int code;
  PGresult *r = run(j, "job list", INFO_COLS " ORDER BY j.id DESC LIMIT $1::integer", 1, p, &code);
  if (!r) return code;
  int n = PQntuples(r);
  for (int i = 0; i < n; i++)
    info_from(r, i, &out[i]);
  PQclear(r);
  return n;
}

/* ----------------------------------------------------------------- notify */

int sink_jobs_listen(sink_jobs_t *j) {
  if (j->listening && j->conn && PQstatus(j->conn) == CONNECTION_OK) return 0;
  int code = ensure(j);
  if (code) return code;
  PGresult *r = PQexec(j->conn, "LISTEN " SINK_JOBS_CHANNEL);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) set_err(j, "listen: %s", PQresultErrorMessage(r));
  PQclear(r);
  if (!ok) return SINK_JOBS_ERR_DB;
  j->listening = 1;
  return 0;
}

static int drain_notifies(sink_jobs_t *j) {
  int got = 0;
  PGnotify *n;
  while ((n = PQnotifies(j->conn)) != NULL) {
    got = 1;
    PQfreemem(n);
  }
  return got;
}

int sink_jobs_wait(sink_jobs_t *j, int timeout_ms) {
  int code = ensure(j);
  if (code) return code;
  if (!PQconsumeInput(j->conn)) {
    set_err(j, "wait: %s", PQerrorMessage(j->conn));
    return SINK_JOBS_ERR_CONNECT;
  }
  if (drain_notifies(j)) return 1;
  struct pollfd pfd = {PQsocket(j->conn), POLLIN, 0};
  int pr = poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms);
  if (pr < 0 && errno != EINTR) return SINK_JOBS_ERR_CONNECT;
  if (pr <= 0) return 0;
  if (!PQconsumeInput(j->conn)) {
    set_err(j, "wait: %s", PQerrorMessage(j->conn));
    return SINK_JOBS_ERR_CONNECT;
  }
  drain_notifies(j);
  return 1;
}
