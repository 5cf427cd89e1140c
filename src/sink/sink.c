/* The sink: connection, one transaction per batch, reconnect-and-retry,
 * per-record dead-lettering on the retry path, reads. The batch itself is
 * in sink_batch.c, statements and encoders in sink_sql.c. */
#include "sink.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "migrate.h"
#include "migrate_priv.h"
#include "progress.h"
#include "sink_priv.h"

/* ------------------------------------------------------------- helpers */

static int stopped(const sink_t *s) { return s->opt.stop_flag && *s->opt.stop_flag != 0; }

/* Sleeps ms in short slices; returns -1 as soon as the stop flag is set. */
static int sleep_ms(const sink_t *s, int ms) {
  while (ms > 0) {
    if (stopped(s)) return -1;
    int step = ms < 20 ? ms : 20;
    struct timespec ts = {0, (long)step * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    ms -= step;
  }
  return stopped(s) ? -1 : 0;
}

/* ------------------------------------------------------------ errors */

const char *sink_strerror(int code) {
  switch (code) {
  case SINK_OK: return "ok";
  case SINK_ERR_INVALID: return "invalid argument";
  case SINK_ERR_NOMEM: return "out of memory";
  case SINK_ERR_CONNECT: return "cannot connect to the database";
  case SINK_ERR_SCHEMA: return "database schema missing or outdated (run migrate)";
  case SINK_ERR_STOPPED: return "stopped while retrying";
  case SINK_ERR_DB: return "database error";
  case SINK_ERR_CALLBACK: return "stopped by callback";
  default: return "unknown error";
  }
}

const char *sink_last_error(const sink_t *s) { return s ? s->err : ""; }

/* Classifies a failed result: connection problems and transient
 * conflicts are retried, data errors go to the per-record path. */
int sink_classify(PGconn *c, const PGresult *r) {
  if (!c || PQstatus(c) != CONNECTION_OK) return R_CONN;
  const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  if (!st) return R_CONN;
  if (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
      strcmp(st, "57P03") == 0 || strncmp(st, "53", 2) == 0)
    return R_CONN;
  if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0 ||
      strcmp(st, "57014") == 0)
    return R_TRANSIENT;
  if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0) return R_DATA;
  return R_FATAL;
}

void sink_err_from_result(sink_t *s, const char *what, const PGresult *r) {
  const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  const char *msg = r ? PQresultErrorMessage(r) : NULL;
  if (!msg || !*msg) msg = s->conn ? PQerrorMessage(s->conn) : "no connection";
  sink_set_err(s, "%s: %s%s%s", what, st ? st : "", st ? " " : "", msg);
}

/* --------------------------------------------------------- connection */

static void note_connected(const sink_t *s, int up) {
  if (s->opt.connected) atomic_store(s->opt.connected, up);
}

static void drop_conn(sink_t *s) {
  if (s->conn) {
    PQfinish(s->conn);
    note_connected(s, 0);
  }
  s->conn = NULL;
  s->nknown = 0;
  if (s->known) memset(s->known, 0, s->capknown * sizeof *s->known);
}

/* ------------------------------------------------------- known wallets */

#define KNOWN_CAP (1u << 18)

static uint64_t wallet_hash(const char *w) {
  uint64_t h = 14695981039346656037ull;
  for (; *w; w++) h = (h ^ (uint8_t)*w) * 1099511628211ull;
  return h ? h : 1;
}

static int known_has(const sink_t *s, uint64_t h) {
  if (!s->known) return 0;
  size_t mask = s->capknown - 1;
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    if (s->known[i] == h) return 1;
    if (s->known[i] == 0) return 0;
  }
}

/* Best effort: without memory the cache just stays empty. */
static void known_add(sink_t *s, uint64_t h) {
  if (!s->known) {
    s->known = calloc(KNOWN_CAP, sizeof *s->known);
    if (!s->known) return;
    s->capknown = KNOWN_CAP;
  }
  if (s->nknown >= s->capknown / 2) {
    memset(s->known, 0, s->capknown * sizeof *s->known);
    s->nknown = 0;
  }
  size_t mask = s->capknown - 1;
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    if (s->known[i] == h) return;
    if (s->known[i] == 0) {
      s->known[i] = h;
      s->nknown++;
      return;
    }
  }
}

/* After a commit: every wallet of the batch has its users row. */
static void known_note_batch(sink_t *s) {
  for (size_t i = 0; i < s->nacc; i++)
    if (s->acc[i].kind == CB_ACCOUNT_POSITION)
      known_add(s, wallet_hash(s->acc[i].u.position.user.b58));
  for (size_t i = 0; i < s->ntx; i++)
    if (s->tx[i].user[0]) known_add(s, wallet_hash(s->tx[i].user));
}

/* One connection attempt: connect, verify the schema, prepare statements.
 * Returns R_OK, R_CONN (retry later) or R_FATAL (schema/prepare error;
 * *code says which). */
/* Server notices and warnings go through the log (its format, its
 * redaction) rather than straight to stderr. */
static void on_notice(void *arg, const char *msg) {
  (void)arg;
  size_t n = strlen(msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) n--;
  log_warn("sink", "server notice=%.*s", (int)n, msg);
}

static int try_connect(sink_t *s, int *code) {
  static const char *const kw[] = {"connect_timeout", "keepalives",       "keepalives_idle",
                                   "keepalives_interval", "keepalives_count", "application_name",
                                   "dbname",          NULL};
  const char *val[] = {"10", "1", "30", "10", "3", "crypto-bet-indexer", s->conninfo, NULL};
  *code = SINK_ERR_DB;
  PGconn *c = PQconnectdbParams(kw, val, 1);
  if (!c) {
    sink_set_err(s, "connect %s: out of memory", s->redacted);
    return R_CONN;
  }
  PQsetNoticeProcessor(c, on_notice, NULL);
  if (PQstatus(c) != CONNECTION_OK) {
    sink_set_err(s, "connect %s: %s", s->redacted, PQerrorMessage(c));
    PQfinish(c);
    return R_CONN;
  }
  /* A batch acknowledged by COMMIT must survive a server crash even where
   * the server defaults to asynchronous commit: its checkpoint says so. */
  PGresult *sr = PQexec(c, "SET synchronous_commit = on");
  if (PQresultStatus(sr) != PGRES_COMMAND_OK) {
    sink_set_err(s, "connect %s: %s", s->redacted, PQresultErrorMessage(sr));
    PQclear(sr);
    PQfinish(c);
    return R_CONN;
  }
  PQclear(sr);
  char merr[512];
  int mrc = migrate_check_conn(c, merr, sizeof merr);
  if (mrc != MIGRATE_OK) {
    int conn_lost = PQstatus(c) != CONNECTION_OK;
    sink_set_err(s, "schema check on %s: %s", s->redacted, merr);
    PQfinish(c);
    if (conn_lost) return R_CONN;
    *code = SINK_ERR_SCHEMA;
    return R_FATAL;
  }
  for (int i = 0; i < SQ__COUNT; i++) {
    PGresult *r = PQprepare(c, sink_stmts[i].name, sink_stmts[i].sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      int cls = sink_classify(c, r);
      sink_set_err(s, "prepare %s: %s", sink_stmts[i].name, PQresultErrorMessage(r));
      PQclear(r);
      PQfinish(c);
      return cls == R_CONN ? R_CONN : R_FATAL;
    }
    PQclear(r);
  }
  s->conn = c;
  return R_OK;
}

/* Connects, retrying with exponential backoff until connected, the stop
 * flag, the attempt limit or (deadline_ms > 0) the deadline. */
static int ensure_conn(sink_t *s, int64_t deadline_ms) {
  if (s->conn && PQstatus(s->conn) == CONNECTION_OK) return SINK_OK;
  drop_conn(s);
  int backoff = BACKOFF_START_MS, attempts = 0;
  for (;;) {
    if (stopped(s)) return SINK_ERR_STOPPED;
    int code;
    int r = try_connect(s, &code);
    attempts++;
    note_connected(s, r == R_OK);
    if (r == R_OK) {
      if (s->ever_connected) {
        s->st.reconnects++;
        log_info("sink", "reconnected database=%s attempts=%d", s->redacted, attempts);
      }
      s->ever_connected = 1;
      return SINK_OK;
    }
    if (r == R_FATAL) {
      log_error("sink", "%s", s->err);
      return code;
    }
    if (attempts == 1 || attempts % 10 == 0)
      log_warn("sink", "database unavailable attempts=%d error=%s", attempts, s->err);
    if (s->opt.reconnect_max_attempts > 0 && attempts >= s->opt.reconnect_max_attempts)
      return SINK_ERR_CONNECT;
    if (deadline_ms > 0 && progress_now_ms() + backoff > deadline_ms) return SINK_ERR_CONNECT;
    if (sleep_ms(s, backoff) != 0) return SINK_ERR_STOPPED;
    backoff = backoff * 2 > s->opt.reconnect_max_backoff_ms ? s->opt.reconnect_max_backoff_ms
                                                             : backoff * 2;
  }
}

int sink_connection(sink_t *s, PGconn **out) {
  int rc = ensure_conn(s, 0);
  *out = rc == SINK_OK ? s->conn : NULL;
  return rc;
}

/* ---------------------------------------------------------- open/close */

void sink_options_init(sink_options_t *opt) {
  memset(opt, 0, sizeof *opt);
  opt->batch_max_records = SINK_DEFAULT_BATCH_MAX_RECORDS;
  opt->batch_max_delay_ms = SINK_DEFAULT_BATCH_MAX_DELAY_MS;
  opt->reconnect_max_backoff_ms = SINK_DEFAULT_RECONNECT_MAX_BACKOFF_MS;
  opt->open_timeout_ms = SINK_DEFAULT_OPEN_TIMEOUT_MS;
}

int sink_open(const sink_options_t *opt, sink_t **out, char *err, size_t errsz) {
  int rc = SINK_OK;
  sink_t *s = NULL;
  if (out) *out = NULL;
  if (!opt || !out || !opt->conninfo) {
    if (err && errsz) snprintf(err, errsz, "sink_open: options, conninfo and out are required");
    return SINK_ERR_INVALID;
  }
  if (sodium_init() < 0) {
    if (err && errsz) snprintf(err, errsz, "libsodium initialisation failed");
    return SINK_ERR_NOMEM;
  }
  s = calloc(1, sizeof *s);
  if (!s || !(s->conninfo = strdup(opt->conninfo))) {
    if (err && errsz) snprintf(err, errsz, "out of memory");
    rc = SINK_ERR_NOMEM;
    goto out;
  }
  s->opt = *opt;
  s->opt.conninfo = NULL;
  if (s->opt.batch_max_records == 0) s->opt.batch_max_records = SINK_DEFAULT_BATCH_MAX_RECORDS;
  if (s->opt.batch_max_delay_ms <= 0) s->opt.batch_max_delay_ms = SINK_DEFAULT_BATCH_MAX_DELAY_MS;
  if (s->opt.reconnect_max_backoff_ms <= 0)
    s->opt.reconnect_max_backoff_ms = SINK_DEFAULT_RECONNECT_MAX_BACKOFF_MS;
  if (s->opt.reconnect_max_backoff_ms < BACKOFF_START_MS)
    s->opt.reconnect_max_backoff_ms = BACKOFF_START_MS;
  if (s->opt.open_timeout_ms <= 0) s->opt.open_timeout_ms = SINK_DEFAULT_OPEN_TIMEOUT_MS;
  log_redact_conninfo(opt->conninfo, s->redacted, sizeof s->redacted);
  rc = ensure_conn(s, progress_now_ms() + s->opt.open_timeout_ms);
  if (rc != SINK_OK) {
    if (err && errsz) snprintf(err, errsz, "%s: %s", sink_strerror(rc), s->err);
    goto out;
  }
  log_info("sink", "connected database=%s batch_max_records=%zu batch_max_delay_ms=%d",
           s->redacted, s->opt.batch_max_records, s->opt.batch_max_delay_ms);
  *out = s;
  s = NULL;
out:
  sink_close(s);
  return rc;
}

void sink_close(sink_t *s) {
  if (!s) return;
  drop_conn(s);
  free(s->conninfo);
  free(s->acc);
  free(s->cls);
  free(s->tx);
  free(s->dl);
  free(s->rej);
  free(s->order);
  free(s->txorder);
  free(s->exp);
  free(s->known);
  free(s->amap.e);
  free(s->cmap.e);
  free(s->tmap.e);
  free(s->dmap.e);
  sink_arena_free(&s->arena);
  sink_arena_free(&s->rarena);
  sink_cols_free(&s->cs);
  free(s);
}

/* ---------------------------------------------------------- batches */

/* Rows are sent in key order so that two sinks writing overlapping
 * batches (e.g. live and backfill processes) lock rows in the same order
 * and cannot deadlock each other. */
static int cmp_acc(const void *a, const void *b, void *ctx) {
  const cb_account_t *v = ctx;
  const cb_account_t *x = &v[*(const uint32_t *)a], *y = &v[*(const uint32_t *)b];
  if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
  return strcmp(x->pubkey, y->pubkey);
}

static int cmp_cls(const void *a, const void *b) {
  return strcmp(((const crec_t *)a)->pubkey, ((const crec_t *)b)->pubkey);
}

static int cmp_tx(const void *a, const void *b, void *ctx) {
  const cb_tx_row_t *v = ctx;
  const cb_tx_row_t *x = &v[*(const uint32_t *)a], *y = &v[*(const uint32_t *)b];
  int c = strcmp(x->signature, y->signature);
  if (c) return c;
  return x->instruction_index < y->instruction_index ? -1 : x->instruction_index > y->instruction_index;
}

/* Fills s->order (accounts) and s->txorder with key-sorted indexes and
 * sorts the closes in place (their map is rebuilt). */
static int sort_batch(sink_t *s) {
  if (sink_grow((void **)&s->order, &s->caporder, s->nacc + 1, sizeof *s->order) != 0 ||
      sink_grow((void **)&s->txorder, &s->captxorder, s->ntx + 1, sizeof *s->txorder) != 0)
    return -1;
  for (size_t i = 0; i < s->nacc; i++) s->order[i] = (uint32_t)i;
  for (size_t i = 0; i < s->ntx; i++) s->txorder[i] = (uint32_t)i;
  qsort_r(s->order, s->nacc, sizeof *s->order, cmp_acc, s->acc);
  qsort_r(s->txorder, s->ntx, sizeof *s->txorder, cmp_tx, s->tx);
  if (s->ncls > 1) {
    qsort(s->cls, s->ncls, sizeof *s->cls, cmp_cls);
    sink_kmap_clear(&s->cmap);
    for (size_t i = 0; i < s->ncls; i++) {
      uint32_t h = sink_hash_key(s->cls[i].pubkey);
      if (sink_kmap_put(&s->cmap, s->cls[i].pubkey, h, i) != 0) return -1;
    }
  }
  return 0;
}

typedef void (*acc_row_fn)(sink_cols_t *, const cb_account_t *);

static const struct {
  cb_account_kind_t kind;
  sink_stmt_t stmt;
  acc_row_fn row;
  const char *label;
} acc_stages[] = {
    {CB_ACCOUNT_GLOBAL_CONFIG, SQ_CONFIGS, sink_row_config, "global_config"},
    {CB_ACCOUNT_MARKET, SQ_MARKETS, sink_row_market, "market"},
    {CB_ACCOUNT_POSITION, SQ_POSITIONS, sink_row_position, "position"},
    {CB_ACCOUNT_TREASURY, SQ_TREASURIES, sink_row_treasury, "treasury"},
    {CB_ACCOUNT_ORACLE_DATA, SQ_ORACLES, sink_row_oracle, "oracle_data"},
};
#define N_ACC_STAGES (sizeof acc_stages / sizeof acc_stages[0])
/* acc_stages[k] counts into rows[k]: the same order as sink_rows_table_t */
_Static_assert(N_ACC_STAGES == SINK_ROWS_ORACLES + 1, "acc_stages order");

/* Records the single-row record in s->cs as rejected (dead letter written
 * in this batch's transaction). s->err holds the database's reason. */
static int reject(sink_t *s, sink_stmt_t st, const char *kind, const char *key,
                  uint64_t slot) {
  sink_buf_t raw = {0};
  const sink_stmt_def_t *d = &sink_stmts[st];
  for (int k = 0; k < d->nparams; k++) {
    const char *v = s->cs.params[k];
    size_t n = v ? strlen(v) : 0;
    sink_buf_put(&raw, d->cols[k], strlen(d->cols[k]));
    sink_buf_put(&raw, "=", 1);
    if (n >= 2) sink_buf_put(&raw, v + 1, n - 2); /* strip the array braces */
    sink_buf_put(&raw, "\n", 1);
  }
  char reason[sizeof s->err + 32];
  snprintf(reason, sizeof reason, "rejected by database: %s", s->err);
  int rc = raw.oom ? SINK_ERR_NOMEM
                   : sink_add_dead(&s->rarena, &s->rej, &s->nrej, &s->caprej, NULL, kind, key, slot,
                              reason, (const uint8_t *)raw.p, raw.n);
  sink_buf_free(&raw);
  log_warn("sink", "record rejected kind=%s key=%s slot=%" PRIu64 " error=%s", kind,
           key ? key : "", slot, s->err);
  return rc == SINK_OK ? R_OK : R_NOMEM;
}

/* Runs the single-record statement already built in s->cs (after the
 * users row in *users, if any) inside a savepoint; a data error rolls the
 * savepoint back and dead-letters the record. *written gets out[0]. */
static int exec_guarded(sink_t *s, sink_stmt_t st, const char *user, const char *kind,
                        const char *key, uint64_t slot, long long *written, int *rejected) {
  long long out[2];
  *written = 0;
  *rejected = 0;
  int rc = sink_exec_simple(s, "SAVEPOINT cbi_rec");
  if (rc != R_OK) return rc;
  if (user && *user) {
    /* The statement's arrays are rebuilt after the users row: keep a copy
     * of the record's parameters by running users on a separate cols. */
    sink_cols_t saved = s->cs;
    sink_cols_t ucs;
    memset(&ucs, 0, sizeof ucs);
    s->cs = ucs;
    sink_cols_begin(&s->cs, &sink_stmts[SQ_USERS], false);
    sink_col_str(&s->cs, 0, user);
    sink_cols_end_row(&s->cs);
    rc = sink_exec_cs(s, SQ_USERS, NULL, out);
    sink_cols_free(&s->cs);
    s->cs = saved;
    if (rc != R_OK) goto failed;
  }
  rc = sink_exec_cs(s, st, NULL, out);
  if (rc != R_OK) goto failed;
  *written = out[0];
  return sink_exec_simple(s, "RELEASE SAVEPOINT cbi_rec");
failed:
  if (rc != R_DATA) return rc;
  {
    char why[sizeof s->err];
    memcpy(why, s->err, sizeof why);
    int r2 = sink_exec_simple(s, "ROLLBACK TO SAVEPOINT cbi_rec");
    if (r2 == R_OK) r2 = sink_exec_simple(s, "RELEASE SAVEPOINT cbi_rec");
    if (r2 != R_OK) return r2;
    memcpy(s->err, why, sizeof why);
    (void)sink_cols_finish(&s->cs);
    *rejected = 1;
    return reject(s, st, kind, key, slot);
  }
}

static void stage_closure_row(sink_t *s, const crec_t *c) {
  sink_col_str(&s->cs, 0, c->pubkey);
  sink_col_u64(&s->cs, 1, c->slot);
  if (c->has_time) sink_col_i64(&s->cs, 2, c->time);
  else sink_col_null(&s->cs, 2);
  sink_cols_end_row(&s->cs);
}

static int stage_closures(sink_t *s, int slow) {
  long long out[2], w;
  int rej;
  if (s->ncls == 0) return R_OK;
  if (!slow) {
    sink_cols_begin(&s->cs, &sink_stmts[SQ_CLOSURES], true);
    for (size_t i = 0; i < s->ncls; i++) {
      stage_closure_row(s, &s->cls[i]);
    }
    return sink_exec_cs(s, SQ_CLOSURES, NULL, out);
  }
  for (size_t i = 0; i < s->ncls; i++) {
    sink_cols_begin(&s->cs, &sink_stmts[SQ_CLOSURES], false);
    stage_closure_row(s, &s->cls[i]);
    int rc = exec_guarded(s, SQ_CLOSURES, NULL, "account_close", s->cls[i].pubkey,
                          s->cls[i].slot, &w, &rej);
    if (rc != R_OK) return rc;
  }
  return R_OK;
}

static int stage_users(sink_t *s) {
  long long out[2];
  size_t n = 0;
  sink_cols_begin(&s->cs, &sink_stmts[SQ_USERS], true);
  for (size_t i = 0; i < s->nacc; i++) {
    if (s->acc[i].kind != CB_ACCOUNT_POSITION) continue;
    if (known_has(s, wallet_hash(s->acc[i].u.position.user.b58))) continue;
    sink_col_str(&s->cs, 0, s->acc[i].u.position.user.b58);
    sink_cols_end_row(&s->cs);
    n++;
  }
  for (size_t i = 0; i < s->ntx; i++) {
    if (!s->tx[i].user[0]) continue; /* user_id is nullable here: never skipped */
    sink_col_str(&s->cs, 0, s->tx[i].user);
    sink_cols_end_row(&s->cs);
    n++;
  }
  return n ? sink_exec_cs(s, SQ_USERS, NULL, out) : R_OK;
}

static int stage_accounts(sink_t *s, int slow, sink_stats_t *d) {
  long long out[2];
  for (size_t k = 0; k < N_ACC_STAGES; k++) {
    sink_stmt_t st = acc_stages[k].stmt;
    size_t n = 0;
    if (!slow) {
      sink_cols_begin(&s->cs, &sink_stmts[st], true);
      for (size_t j = 0; j < s->nacc; j++) {
        const cb_account_t *a = &s->acc[s->order[j]];
        if (a->kind != acc_stages[k].kind) continue;
        acc_stages[k].row(&s->cs, a);
        n++;
      }
      if (n == 0) continue;
      sink_expect_t ex = {.what = sink_stmts[st].name, .kind = SINK_RES_ACCOUNTS,
                          .k = (uint8_t)k, .n = (uint32_t)n};
      int rc = sink_exec_cs(s, st, &ex, out);
      if (rc != R_OK) return rc;
      continue;
    }
    for (size_t j = 0; j < s->nacc; j++) {
      const cb_account_t *a = &s->acc[s->order[j]];
      if (a->kind != acc_stages[k].kind) continue;
      long long w;
      int rej;
      sink_cols_begin(&s->cs, &sink_stmts[st], false);
      acc_stages[k].row(&s->cs, a);
      const char *user = a->kind == CB_ACCOUNT_POSITION ? a->u.position.user.b58 : NULL;
      int rc = exec_guarded(s, st, user, acc_stages[k].label, a->pubkey, a->slot, &w, &rej);
      if (rc != R_OK) return rc;
      if (w > 0) {
        d->accounts_written += (uint64_t)w;
        d->rows[k] += (uint64_t)w;
      }
      else if (!rej)
        d->accounts_stale_ignored++;
    }
  }
  return R_OK;
}

static int stage_closes(sink_t *s, int slow, sink_stats_t *d) {
  long long out[2], w;
  int rej;
  if (s->ncls == 0) return R_OK;
  if (!slow) {
    sink_cols_begin(&s->cs, &sink_stmts[SQ_CLOSES], true);
    for (size_t i = 0; i < s->ncls; i++) {
      sink_col_str(&s->cs, 0, s->cls[i].pubkey);
      sink_cols_end_row(&s->cs);
    }
    sink_expect_t ex = {.what = sink_stmts[SQ_CLOSES].name, .kind = SINK_RES_CLOSES};
    return sink_exec_cs(s, SQ_CLOSES, &ex, out);
  }
  for (size_t i = 0; i < s->ncls; i++) {
    sink_cols_begin(&s->cs, &sink_stmts[SQ_CLOSES], false);
    sink_col_str(&s->cs, 0, s->cls[i].pubkey);
    sink_cols_end_row(&s->cs);
    int rc = exec_guarded(s, SQ_CLOSES, NULL, "account_close", s->cls[i].pubkey,
                          s->cls[i].slot, &w, &rej);
    if (rc != R_OK) return rc;
    d->accounts_written += (uint64_t)w;
  }
  return R_OK;
}

static int stage_txs(sink_t *s, int slow, sink_stats_t *d) {
  long long out[2], w;
  int rej;
  if (s->ntx == 0) return R_OK;
  if (!slow) {
    sink_cols_begin(&s->cs, &sink_stmts[SQ_TXS], true);
    for (size_t j = 0; j < s->ntx; j++) sink_row_tx(&s->cs, &s->tx[s->txorder[j]]);
    sink_expect_t ex = {.what = sink_stmts[SQ_TXS].name, .kind = SINK_RES_TXS};
    return sink_exec_cs(s, SQ_TXS, &ex, out);
  }
  for (size_t j = 0; j < s->ntx; j++) {
    const cb_tx_row_t *t = &s->tx[s->txorder[j]];
    sink_cols_begin(&s->cs, &sink_stmts[SQ_TXS], false);
    sink_row_tx(&s->cs, t);
    int rc = exec_guarded(s, SQ_TXS, t->user, "transaction", t->signature, t->slot, &w, &rej);
    if (rc != R_OK) return rc;
    d->tx_written += (uint64_t)w;
    d->rows[SINK_ROWS_TRANSACTIONS] += (uint64_t)w;
  }
  return R_OK;
}

static void dead_row(sink_cols_t *cs, const dlrec_t *r, uint32_t count) {
  sink_col_str(cs, 0, r->kind);
  sink_col_str(cs, 1, r->key);
  sink_col_u64(cs, 2, r->slot);
  sink_col_str(cs, 3, r->reason);
  if (r->rawlen)
    sink_col_bytea(cs, 4, r->raw, r->rawlen);
  else
    sink_col_null(cs, 4);
  sink_col_bytea(cs, 5, r->fp, sizeof r->fp);
  sink_col_u64(cs, 6, count);
  sink_cols_end_row(cs);
}

/* Writes queued and rejected dead letters; identical fingerprints are
 * merged so the upsert never meets the same row twice. */
static int stage_dead(sink_t *s) {
  long long out[2];
  if (s->ndl + s->nrej == 0) return R_OK;
  uint32_t *extra = calloc(s->ndl + s->nrej + 1, sizeof *extra);
  uint8_t *skip = calloc(s->nrej + 1, 1);
  int rc = R_OK;
  if (!extra || !skip) {
    sink_set_err(s, "out of memory");
    rc = R_NOMEM;
    goto out;
  }
  for (size_t j = 0; j < s->nrej; j++) {
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, s->rej[j].fp, sizeof s->rej[j].fp);
    uint32_t h;
    long i = sink_kmap_get(&s->dmap, hex, &h);
    if (i >= 0) {
      extra[i] += s->rej[j].count;
      skip[j] = 1;
      continue;
    }
    for (size_t k = 0; k < j; k++) {
      if (!skip[k] && memcmp(s->rej[k].fp, s->rej[j].fp, sizeof s->rej[j].fp) == 0) {
        extra[s->ndl + k] += s->rej[j].count;
        skip[j] = 1;
        break;
      }
    }
  }
  size_t n = 0;
  sink_cols_begin(&s->cs, &sink_stmts[SQ_DEAD], true);
  for (size_t i = 0; i < s->ndl; i++, n++) dead_row(&s->cs, &s->dl[i], s->dl[i].count + extra[i]);
  for (size_t j = 0; j < s->nrej; j++) {
    if (skip[j]) continue;
    dead_row(&s->cs, &s->rej[j], s->rej[j].count + extra[s->ndl + j]);
    n++;
  }
  sink_expect_t ex = {.what = sink_stmts[SQ_DEAD].name, .kind = SINK_RES_DEAD,
                      .n = (uint32_t)n, .n2 = (uint32_t)s->nrej};
  rc = sink_exec_cs(s, SQ_DEAD, &ex, out);
out:
  free(extra);
  free(skip);
  return rc;
}

static int stage_checkpoints(sink_t *s) {
  long long out[2];
  if (s->nckpt == 0) return R_OK;
  sink_cols_begin(&s->cs, &sink_stmts[SQ_CHECKPOINTS], true);
  for (size_t i = 0; i < s->nckpt; i++) {
    sink_col_str(&s->cs, 0, s->ckpt[i].stream);
    sink_col_u64(&s->cs, 1, s->ckpt[i].slot);
    sink_col_str(&s->cs, 2, s->ckpt[i].has_sig ? s->ckpt[i].sig : NULL);
    sink_cols_end_row(&s->cs);
  }
  return sink_exec_cs(s, SQ_CHECKPOINTS, NULL, out);
}

/* One attempt at the whole batch in one transaction. The batch goes as
 * one pipeline (one round trip); slow: every record in its own savepoint,
 * one statement at a time, data errors dead-lettered. */
static int run_batch(sink_t *s, int slow, sink_stats_t *d) {
  memset(d, 0, sizeof *d);
  s->nrej = 0;
  s->pd = d;
  sink_arena_reset(&s->rarena);
  int rc = slow ? R_OK : sink_pipe_begin(s);
  if (rc != R_OK) goto done;
  if ((rc = sink_exec_simple(s, "BEGIN")) != R_OK) goto done;
  if ((rc = sink_analytics_prestage(s)) != R_OK) goto done;
  if ((rc = stage_closures(s, slow)) != R_OK) goto done;
  if (!slow && (rc = stage_users(s)) != R_OK) goto done;
  if ((rc = stage_accounts(s, slow, d)) != R_OK) goto done;
  if ((rc = stage_closes(s, slow, d)) != R_OK) goto done;
  if ((rc = stage_txs(s, slow, d)) != R_OK) goto done;
  if ((rc = sink_analytics_stage(s)) != R_OK) goto done;
  if ((rc = stage_dead(s)) != R_OK) goto done;
  if ((rc = stage_checkpoints(s)) != R_OK) goto done;
  if ((rc = sink_notify_send(s)) != R_OK) goto done;
  rc = sink_exec_simple(s, "COMMIT");
done:
  rc = sink_pipe_finish(s, rc);
  s->pd = NULL;
  if (rc == R_OK) {
    d->rows[SINK_ROWS_CHECKPOINTS] += s->nckpt;
    return R_OK;
  }
  if (s->conn && PQstatus(s->conn) == CONNECTION_OK && PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF)
    drop_conn(s); /* results left unread: start over on a fresh connection */
  if (s->conn && PQstatus(s->conn) == CONNECTION_OK &&
      PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
    PGresult *r = PQexec(s->conn, "ROLLBACK");
    PQclear(r);
  }
  if (slow && rc == R_DATA) rc = R_FATAL; /* data error outside a guarded record */
  return rc;
}

static void clear_batch(sink_t *s) {
  s->nacc = s->ncls = s->ntx = s->ndl = s->nckpt = s->nrej = 0;
  s->has_chain_time = false;
  sink_kmap_clear(&s->amap);
  sink_kmap_clear(&s->cmap);
  sink_kmap_clear(&s->tmap);
  sink_kmap_clear(&s->dmap);
  sink_arena_reset(&s->arena);
  sink_arena_reset(&s->rarena);
  s->pending = 0;
  s->first_ms = 0;
}

static void add_stats(sink_stats_t *t, const sink_stats_t *d) {
  for (size_t k = 0; k < SINK_ROWS_COUNT; k++) t->rows[k] += d->rows[k];
  t->accounts_written += d->accounts_written;
  t->accounts_stale_ignored += d->accounts_stale_ignored;
  t->tx_written += d->tx_written;
  t->dead_letters += d->dead_letters;
  t->rejected += d->rejected;
}

int sink_flush(sink_t *s) {
  if (!s) return SINK_ERR_INVALID;
  if (sink_batch_empty(s)) {
    s->pending = 0;
    s->first_ms = 0;
    return SINK_OK;
  }
  if (sort_batch(s) != 0) {
    sink_set_err(s, "out of memory");
    return SINK_ERR_NOMEM;
  }
  int backoff = BACKOFF_START_MS;
  for (;;) {
    if (stopped(s)) return SINK_ERR_STOPPED;
    int rc = ensure_conn(s, 0);
    if (rc != SINK_OK) return rc;
    sink_stats_t d;
    int r = run_batch(s, 0, &d);
    if (r == R_DATA) {
      log_warn("sink", "batch rejected, retrying record by record error=%s", s->err);
      r = run_batch(s, 1, &d);
    }
    if (r == R_OK) {
      add_stats(&s->st, &d);
      s->st.batches++;
      known_note_batch(s);
      clear_batch(s);
      return SINK_OK;
    }
    if (r == R_FATAL || r == R_NOMEM) {
      log_error("sink", "batch failed error=%s", s->err);
      return r == R_NOMEM ? SINK_ERR_NOMEM : SINK_ERR_DB;
    }
    s->st.retries++;
    if (r == R_CONN) {
      log_warn("sink", "connection lost during batch, retrying error=%s", s->err);
      drop_conn(s);
      backoff = BACKOFF_START_MS;
    } else {
      log_warn("sink", "transient error, retrying batch in %d ms error=%s", backoff, s->err);
      if (sleep_ms(s, backoff) != 0) return SINK_ERR_STOPPED;
      backoff = backoff * 2 > s->opt.reconnect_max_backoff_ms ? s->opt.reconnect_max_backoff_ms
                                                               : backoff * 2;
    }
  }
}

/* ------------------------------------------------------------- reads */

int sink_get_checkpoint(sink_t *s, const char *stream, uint64_t *slot,
                        char signature[CB_SIGNATURE_B58_MAX]) {
  if (!s || !stream || !*stream || !slot || !signature) return SINK_ERR_INVALID;
  for (;;) {
    int rc = ensure_conn(s, 0);
    if (rc != SINK_OK) return rc;
    const char *params[1] = {stream};
    PGresult *r = PQexecPrepared(s->conn, sink_stmts[SQ_GET_CHECKPOINT].name, 1, params, NULL,
                                 NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
      int found = PQntuples(r) == 1;
      if (found) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(PQgetvalue(r, 0, 0), &end, 10);
        *slot = (errno == 0 && end && *end == '\0') ? (uint64_t)v : 0;
        snprintf(signature, CB_SIGNATURE_B58_MAX, "%s",
                 PQgetisnull(r, 0, 1) ? "" : PQgetvalue(r, 0, 1));
      }
      PQclear(r);
      return found ? 0 : 1;
    }
    int cls = sink_classify(s->conn, r);
    sink_err_from_result(s, "get checkpoint", r);
    PQclear(r);
    if (cls != R_CONN) return SINK_ERR_DB;
    s->st.retries++;
    drop_conn(s);
  }
}
