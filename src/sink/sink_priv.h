/* Internals shared by sink.c (batching, connection, retries) and
 * sink_sql.c (statements and array encoding). Not a public interface. */
#ifndef CBI_SINK_PRIV_H
#define CBI_SINK_PRIV_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "cb_types.h"
#include "sink.h"

/* Growable byte buffer; on allocation failure sets oom and drops data. */
typedef struct sink_buf {
  char *p;
  size_t n, cap;
  bool oom;
} sink_buf_t;

void sink_buf_put(sink_buf_t *b, const char *s, size_t n);
void sink_buf_free(sink_buf_t *b);

/* Element types of the array parameters (pg_type OIDs). Enum columns are
 * sent as text and cast in SQL. */
#define SINK_OID_BOOL 16
#define SINK_OID_BYTEA 17
#define SINK_OID_INT8 20
#define SINK_OID_INT2 21
#define SINK_OID_INT4 23
#define SINK_OID_TEXT 25
#define SINK_OID_NUMERIC 1700

/* One parameter per column: a one-dimensional array, in binary format
 * (the batch path) or as a text-format literal (the per-record path, whose
 * text also renders a rejected record for dead_letters). */
#define SINK_MAX_COLS 32
#define SINK_ARRAY_HDR 20 /* binary array header: ndim, flags, oid, dim, lbound */
typedef struct sink_cols {
  sink_buf_t col[SINK_MAX_COLS];
  int ncol;
  size_t rows;
  bool finished;
  bool binary;
  bool range_error; /* a value did not fit its column's type */
  const uint32_t *types; /* element type per column */
  bool hasnull[SINK_MAX_COLS];
  const char *params[SINK_MAX_COLS];
  int lengths[SINK_MAX_COLS];
  int formats[SINK_MAX_COLS];
} sink_cols_t;

struct sink_stmt_def;
/* Starts the parameters of statement def (one column per parameter). */
void sink_cols_begin(sink_cols_t *cs, const struct sink_stmt_def *def, bool binary);
void sink_cols_end_row(sink_cols_t *cs);
/* Closes the arrays (once; later calls only report); returns 0, or -1
 * on allocation failure. */
int sink_cols_finish(sink_cols_t *cs);
void sink_cols_free(sink_cols_t *cs);
void sink_col_text(sink_cols_t *cs, int i, const char *s, size_t len);
void sink_col_str(sink_cols_t *cs, int i, const char *s); /* NULL -> SQL NULL */
void sink_col_null(sink_cols_t *cs, int i);
/* Integers go to numeric, bigint, integer or smallint columns; a value
 * outside the column type's range sets range_error (the batch then takes
 * the per-record path, where the server rejects the record). */
void sink_col_u64(sink_cols_t *cs, int i, uint64_t v);
void sink_col_i64(sink_cols_t *cs, int i, int64_t v);
/* Optional values: sink_col_u64/sink_col_i64 with v when has, else
 * sink_col_null. */
void sink_col_u64_opt(sink_cols_t *cs, int i, bool has, uint64_t v);
void sink_col_i64_opt(sink_cols_t *cs, int i, bool has, int64_t v);
void sink_col_bool(sink_cols_t *cs, int i, bool v);
void sink_col_bytea(sink_cols_t *cs, int i, const uint8_t *p, size_t n);

/* Statements, prepared on every connection. */
typedef enum {
  SQ_CLOSURES = 0,
  SQ_USERS,
  SQ_CONFIGS,
  SQ_MARKETS,
  SQ_POSITIONS,
  SQ_TREASURIES,
  SQ_ORACLES,
  SQ_CLOSES,
  SQ_TXS,
  SQ_DEAD,
  SQ_CHECKPOINTS,
  SQ_GET_CHECKPOINT,
  SQ_ANALYTICS,
  SQ_ANALYTICS_POS,
  SQ__COUNT
} sink_stmt_t;

typedef struct sink_stmt_def {
  const char *name; /* prepared statement name */
  const char *sql;
  int nparams;
  const char *const *cols; /* column names (dead-letter rendering), nparams */
  const uint32_t *types;   /* array element type per parameter, nparams */
} sink_stmt_def_t;

extern const sink_stmt_def_t sink_stmts[SQ__COUNT];

/* Row encoders: append one row to cs (begun with the statement's nparams). */
void sink_row_config(sink_cols_t *cs, const cb_account_t *a);
void sink_row_market(sink_cols_t *cs, const cb_account_t *a);
void sink_row_position(sink_cols_t *cs, const cb_account_t *a);
void sink_row_treasury(sink_cols_t *cs, const cb_account_t *a);
void sink_row_oracle(sink_cols_t *cs, const cb_account_t *a);
void sink_row_tx(sink_cols_t *cs, const cb_tx_row_t *t);

/* Decimal text of v into buf (>= 21 bytes); returns length. */
size_t sink_u64_dec(uint64_t v, char *buf);

/* What a statement's result adds to the batch's counters (sink_exec.c). */
typedef enum {
  SINK_RES_NONE = 0,
  SINK_RES_ACCOUNTS, /* an account stage: k (rows[k]), n records sent */
  SINK_RES_CLOSES,
  SINK_RES_TXS,
  SINK_RES_DEAD      /* n dead letters, n2 of them rejected records */
} sink_res_kind_t;

typedef struct sink_expect {
  const char *what; /* the statement, for errors (static text) */
  uint8_t kind;     /* sink_res_kind_t */
  uint8_t k;
  uint32_t n, n2;
} sink_expect_t;

/* ------------------------------------------------------- the sink */

#define SINK_MAX_STREAMS 16
#define SINK_STREAM_MAX 63
#define SINK_KEY_MAX 100
#define ARENA_BLOCK (64 * 1024)
#define BACKOFF_START_MS 50

/* Outcome of one attempt at a statement or a batch. */
enum { R_OK = 0, R_DATA, R_CONN, R_TRANSIENT, R_FATAL, R_NOMEM };

typedef struct arena_blk {
  struct arena_blk *next;
  size_t used, cap;
  char data[];
} arena_blk_t;

typedef struct kent {
  uint32_t hash;
  uint32_t idx1; /* index + 1; 0 = empty */
  char key[SINK_KEY_MAX];
} kent_t;

typedef struct kmap {
  kent_t *e;
  uint32_t cap, n;
} kmap_t;

typedef struct crec {
  char pubkey[CB_PUBKEY_B58_MAX];
  uint64_t slot;
  bool has_time; /* time: block time of the closing transaction (unix s) */
  int64_t time;
} crec_t;

typedef struct dlrec {
  const char *kind, *key, *reason;
  const uint8_t *raw;
  size_t rawlen;
  uint64_t slot;
  uint8_t fp[crypto_hash_sha256_BYTES];
  uint32_t count;
} dlrec_t;

typedef struct ckpt {
  char stream[SINK_STREAM_MAX + 1];
  uint64_t slot;
  bool has_sig;
  char sig[CB_SIGNATURE_B58_MAX];
} ckpt_t;

struct sink {
  PGconn *conn;
  char *conninfo;
  char redacted[256];
  sink_options_t opt;
  int ever_connected;

  cb_account_t *acc;
  size_t nacc, capacc;
  crec_t *cls;
  size_t ncls, capcls;
  cb_tx_row_t *tx;
  size_t ntx, captx;
  dlrec_t *dl;
  size_t ndl, capdl;
  ckpt_t ckpt[SINK_MAX_STREAMS];
  size_t nckpt;
  bool has_chain_time; /* sink_set_chain_time since the last commit */
  uint64_t chain_slot;
  int64_t chain_time;
  kmap_t amap, cmap, tmap, dmap;
  arena_blk_t *arena;
  size_t pending;
  int64_t first_ms;

  /* Records rejected by the database during the current attempt. */
  dlrec_t *rej;
  size_t nrej, caprej;
  arena_blk_t *rarena;

  uint32_t *order, *txorder; /* key-sorted indexes into acc / tx */
  size_t caporder, captxorder;

  /* 64-bit hashes of wallets whose users row a committed batch of this
   * connection created or found (open addressing, 0 = empty): the users
   * stage skips them for positions. A wallet wrongly taken as known (a hash
   * collision, a users row deleted since) only fails the batch on
   * position_accounts.user_id NOT NULL, and the per-record path creates the
   * row. Cleared on reconnect and when half full. */
  uint64_t *known;
  size_t nknown, capknown;

  /* Pipeline mode (sink_exec.c): the statements sent and not read yet,
   * and the counters their results go to. */
  bool piped;
  sink_expect_t *exp;
  size_t nexp, capexp;
  sink_stats_t *pd;

  sink_cols_t cs;
  sink_stats_t st;
  char err[768];
};

/* Statement execution (sink_exec.c). sink_exec runs one statement: the
 * prepared statement `prepared` or else `sql`, with text or binary
 * parameters. Outside pipeline mode it waits for the result, fills out
 * (may be NULL: the row count, or the first two columns of the first row)
 * and adds what ex says to *s->pd (ex and s->pd may be NULL). In pipeline
 * mode it only sends, books ex, and out stays 0: the counters are added
 * when sink_pipe_finish reads the results. Returns R_OK or an R_* class
 * with s->err set. */
int sink_exec(sink_t *s, const sink_expect_t *ex, const char *prepared, const char *sql,
              int nparams, const char *const *params, const int *lengths, const int *formats,
              long long out[2]);
/* sql without parameters. */
int sink_exec_simple(sink_t *s, const char *sql);
/* Prepared statement st with the arrays in s->cs (finished here): R_NOMEM
 * when they could not be built, R_DATA when a value did not fit its
 * column. */
int sink_exec_cs(sink_t *s, sink_stmt_t st, const sink_expect_t *ex, long long out[2]);
/* Enters pipeline mode on the (idle) connection: R_OK or an R_* class. */
int sink_pipe_begin(sink_t *s);
/* Ends the pipeline begun by sink_pipe_begin (no-op outside one): sends
 * the Sync, reads every result in order, adds the booked counters to
 * *s->pd, leaves pipeline mode. rc is the outcome of the sending; the
 * result is rc when it is a failure (R_CONN when the connection went
 * away meanwhile), else the first failure among the results, else R_OK.
 * After a failure the transaction is left aborted: roll it back. */
int sink_pipe_finish(sink_t *s, int rc);

/* Outcome class (R_*) of a failed result; the detail into s->err. */
int sink_classify(PGconn *c, const PGresult *r);

/* A decimal integer from PostgreSQL's text (PQcmdTuples, PQgetvalue), or 0
 * when it is empty or not a whole number. */
long long sink_num_or_zero(const char *v);
void sink_err_from_result(sink_t *s, const char *what, const PGresult *r);

/* The analytics statement (sink_analytics.c), prepared with the others. */
extern const char sink_analytics_sql[];
extern const char *const sink_analytics_cols[];
extern const uint32_t sink_analytics_types[];
#define SINK_ANALYTICS_NPARAMS 17
/* The upkeep of a batch whose only analytics input is position accounts
 * (cbi_analytics_positions(), schema/006): one parameter, the pubkeys. */
extern const char sink_analytics_pos_sql[];
extern const char *const sink_analytics_pos_cols[];
extern const uint32_t sink_analytics_pos_types[];
/* Runs the analytics upkeep of the batch inside its transaction (after
 * its accounts and transactions rows): R_OK or an R_* failure. */
int sink_analytics_stage(sink_t *s);
/* Keeps the stored state of the batch's transactions rows and market
 * accounts for the upkeep's deltas; runs first in the batch's
 * transaction: R_OK or an R_* failure. */
int sink_analytics_prestage(sink_t *s);
/* Formats the sink's last error (trailing newlines trimmed). */
void sink_set_err(sink_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Grows *p (of *cap elements of elsz) to hold need; 0 or -1. */
int sink_grow(void **p, size_t *cap, size_t need, size_t elsz);
void *sink_arena_alloc(arena_blk_t **head, size_t n);
char *sink_arena_strndup(arena_blk_t **head, const char *s, size_t n);
void sink_arena_reset(arena_blk_t **head);
void sink_arena_free(arena_blk_t **head);
uint32_t sink_hash_key(const char *k);
/* Index stored for key or -1; *h gets the key's hash for sink_kmap_put. */
long sink_kmap_get(kmap_t *m, const char *key, uint32_t *h);
int sink_kmap_put(kmap_t *m, const char *key, uint32_t h, size_t idx);
void sink_kmap_clear(kmap_t *m);
/* Adds a dead letter to *v (strings copied into *a), merging into an
 * identical one (same fingerprint) when map is given. SINK_OK or
 * SINK_ERR_NOMEM. */
int sink_add_dead(arena_blk_t **a, dlrec_t **v, size_t *n, size_t *cap, kmap_t *map,
                  const char *kind, const char *key, uint64_t slot, const char *reason,
                  const uint8_t *raw, size_t rawlen);
int sink_batch_empty(const sink_t *s);
/* Change feed (sink_notify.c). The payload of the pending batch into *out
 * (malloc'd, NUL-terminated, *outlen bytes): 1, 0 when the batch changes
 * no data (nothing to send), -1 on allocation failure. */
int sink_notify_payload(const sink_t *s, char **out, size_t *outlen);
/* Sends the payload with pg_notify inside the open transaction: R_OK
 * (also when there is nothing to send) or an R_* code with s->err set. */
int sink_notify_send(sink_t *s);
/* The live connection (connecting with the usual retries): SINK_OK and
 * *out, or a negative SINK_ERR_* (sink_admin.c). */
int sink_connection(sink_t *s, PGconn **out);
/* Flushes when the batch is full (put's auto-flush). */
int sink_maybe_flush(sink_t *s);

#endif
