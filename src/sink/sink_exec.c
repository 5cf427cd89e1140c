/* Statement execution for the sink's batches (sink_priv.h): one statement
 * at a time, or the whole batch as one libpq pipeline.
 *
 * In pipeline mode every statement of a batch (BEGIN .. COMMIT) is sent
 * without waiting for the one before, followed by one Sync: the batch costs
 * one round trip to the server instead of one per statement, and the
 * server runs its statements back to back. Each statement sent books what
 * its result adds to the batch's counters (sink_expect_t); the results are
 * read in order once the Sync is sent. The first failure decides the
 * outcome: the server skips everything after it up to the Sync
 * (PGRES_PIPELINE_ABORTED), and the explicit transaction is left aborted,
 * so the caller rolls it back as after any failed batch. */
#include <stdlib.h>
#include <string.h>

#include "sink_priv.h"

long long sink_num_or_zero(const char *v) {
  if (!v || !*v) return 0;
  char *end = NULL;
  long long x = strtoll(v, &end, 10);
  return (end && *end == '\0') ? x : 0;
}

/* The numbers of a successful result: the affected row count, or the
 * first two columns of the first row. */
static void result_numbers(PGresult *r, long long out[2]) {
  out[0] = out[1] = 0;
  if (PQresultStatus(r) == PGRES_COMMAND_OK) {
    out[0] = sink_num_or_zero(PQcmdTuples(r));
    return;
  }
  if (PQntuples(r) > 0 && PQnfields(r) > 0) out[0] = sink_num_or_zero(PQgetvalue(r, 0, 0));
  if (PQntuples(r) > 0 && PQnfields(r) > 1) out[1] = sink_num_or_zero(PQgetvalue(r, 0, 1));
}

/* Adds what a statement's result says to the batch's counters. */
static void apply_expect(sink_stats_t *d, const sink_expect_t *ex, long long n) {
  if (!d || !ex || n < 0) return;
  uint64_t w = (uint64_t)n;
  switch (ex->kind) {
  case SINK_RES_ACCOUNTS:
    d->accounts_written += w;
    d->rows[ex->k] += w;
    if (w < ex->n) d->accounts_stale_ignored += ex->n - w;
    break;
  case SINK_RES_CLOSES:
    d->accounts_written += w;
    break;
  case SINK_RES_TXS:
    d->tx_written += w;
    d->rows[SINK_ROWS_TRANSACTIONS] += w;
    break;
  case SINK_RES_DEAD:
    d->dead_letters += ex->n;
    d->rows[SINK_ROWS_DEAD_LETTERS] += ex->n;
    d->rejected += ex->n2;
    break;
  default:
    break;
  }
}

static int failed(sink_t *s, const char *what, const PGresult *r) {
  int rc = sink_classify(s->conn, r);
  sink_err_from_result(s, what, r);
  return rc;
}

int sink_exec(sink_t *s, const sink_expect_t *ex, const char *prepared, const char *sql,
              int nparams, const char *const *params, const int *lengths, const int *formats,
              long long out[2]) {
  long long tmp[2];
  if (!out) out = tmp;
  out[0] = out[1] = 0;
  const char *what = ex && ex->what ? ex->what : (prepared ? prepared : sql);
  if (s->piped) {
    if (sink_grow((void **)&s->exp, &s->capexp, s->nexp + 1, sizeof *s->exp) != 0) {
      sink_set_err(s, "%s: out of memory", what);
      return R_NOMEM;
    }
    int ok = prepared ? PQsendQueryPrepared(s->conn, prepared, nparams, params, lengths, formats, 0)
                      : PQsendQueryParams(s->conn, sql, nparams, NULL, params, lengths, formats, 0);
    if (!ok) {
      sink_set_err(s, "%s: %s", what, PQerrorMessage(s->conn));
      return PQstatus(s->conn) != CONNECTION_OK ? R_CONN : R_FATAL;
    }
    sink_expect_t e = {0};
    if (ex) e = *ex;
    e.what = what;
    s->exp[s->nexp++] = e;
    return R_OK;
  }
  PGresult *r = prepared ? PQexecPrepared(s->conn, prepared, nparams, params, lengths, formats, 0)
                         : PQexecParams(s->conn, sql, nparams, NULL, params, lengths, formats, 0);
  ExecStatusType es = PQresultStatus(r);
  int rc = R_OK;
  if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
    result_numbers(r, out);
    apply_expect(s->pd, ex, out[0]);
  } else {
    rc = failed(s, what, r);
  }
  PQclear(r);
  return rc;
}

int sink_exec_simple(sink_t *s, const char *sql) {
  return sink_exec(s, NULL, NULL, sql, 0, NULL, NULL, NULL, NULL);
}

int sink_exec_cs(sink_t *s, sink_stmt_t st, const sink_expect_t *ex, long long out[2]) {
  const char *name = sink_stmts[st].name;
  if (sink_cols_finish(&s->cs) != 0) {
    sink_set_err(s, "%s: out of memory building parameters", name);
    return R_NOMEM;
  }
  if (s->cs.range_error) {
    /* The per-record path sends text, and the server rejects the record. */
    sink_set_err(s, "%s: a value is out of range for its column", name);
    return R_DATA;
  }
  return sink_exec(s, ex, name, NULL, sink_stmts[st].nparams, s->cs.params, s->cs.lengths,
                   s->cs.formats, out);
}

int sink_pipe_begin(sink_t *s) {
  s->nexp = 0;
  if (PQenterPipelineMode(s->conn) != 1) {
    sink_set_err(s, "pipeline mode: %s", PQerrorMessage(s->conn));
    return PQstatus(s->conn) != CONNECTION_OK ? R_CONN : R_FATAL;
  }
  s->piped = true;
  return R_OK;
}

/* Reads the results of everything sent, through the Sync's, and leaves
 * pipeline mode. Returns the first failure's class, or R_OK. */
static int drain(sink_t *s) {
  int rc = R_OK;
  for (size_t i = 0; i < s->nexp; i++) {
    PGresult *r = PQgetResult(s->conn);
    if (!r) {
      if (rc == R_OK) {
        sink_set_err(s, "%s: no result: %s", s->exp[i].what, PQerrorMessage(s->conn));
        rc = PQstatus(s->conn) != CONNECTION_OK ? R_CONN : R_FATAL;
      }
      if (PQstatus(s->conn) != CONNECTION_OK) return R_CONN;
      continue;
    }
    ExecStatusType es = PQresultStatus(r);
    if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
      long long out[2];
      result_numbers(r, out);
      if (rc == R_OK) apply_expect(s->pd, &s->exp[i], out[0]);
    } else if (es != PGRES_PIPELINE_ABORTED && rc == R_OK) {
      rc = failed(s, s->exp[i].what, r);
    }
    PQclear(r);
    /* each statement's results end with a NULL */
    while ((r = PQgetResult(s->conn)) != NULL) PQclear(r);
    if (PQstatus(s->conn) != CONNECTION_OK) return R_CONN;
  }
  /* the Sync */
  PGresult *r = PQgetResult(s->conn);
  if (!r) return PQstatus(s->conn) != CONNECTION_OK ? R_CONN : rc;
  if (PQresultStatus(r) != PGRES_PIPELINE_SYNC && rc == R_OK) {
    sink_set_err(s, "pipeline: unexpected result %s", PQresStatus(PQresultStatus(r)));
    rc = R_FATAL;
  }
  PQclear(r);
  if (PQstatus(s->conn) != CONNECTION_OK) return R_CONN;
  if (PQexitPipelineMode(s->conn) != 1 && rc == R_OK) {
    sink_set_err(s, "pipeline mode: %s", PQerrorMessage(s->conn));
    rc = PQstatus(s->conn) != CONNECTION_OK ? R_CONN : R_FATAL;
  }
  return rc;
}

int sink_pipe_finish(sink_t *s, int rc) {
  if (!s->piped) return rc;
  s->piped = false;
  int r = R_CONN;
  if (PQstatus(s->conn) == CONNECTION_OK && PQpipelineSync(s->conn) == 1) {
    r = drain(s);
  } else if (rc == R_OK) {
    sink_set_err(s, "pipeline sync: %s", PQerrorMessage(s->conn));
  }
  s->nexp = 0;
  if (rc != R_OK) return rc == R_DATA && r == R_CONN ? R_CONN : rc;
  return r;
}
