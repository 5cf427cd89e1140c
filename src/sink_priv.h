/* Internals shared by sink.c (batching, connection, retries) and
 * sink_sql.c (statements and array encoding). Not a public interface. */
#ifndef CBI_SINK_PRIV_H
#define CBI_SINK_PRIV_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* One parameter per column: a PostgreSQL text-format array literal. */
#define SINK_MAX_COLS 32
typedef struct sink_cols {
  sink_buf_t col[SINK_MAX_COLS];
  int ncol;
  size_t rows;
  bool finished;
  const char *params[SINK_MAX_COLS];
} sink_cols_t;

void sink_cols_begin(sink_cols_t *cs, int ncol);
void sink_cols_end_row(sink_cols_t *cs);
/* Closes the literals (once; later calls only report); returns 0, or -1
 * on allocation failure. */
int sink_cols_finish(sink_cols_t *cs);
void sink_cols_free(sink_cols_t *cs);
void sink_col_text(sink_cols_t *cs, int i, const char *s, size_t len);
void sink_col_str(sink_cols_t *cs, int i, const char *s); /* NULL -> SQL NULL */
void sink_col_null(sink_cols_t *cs, int i);
void sink_col_u64(sink_cols_t *cs, int i, uint64_t v);
void sink_col_i64(sink_cols_t *cs, int i, int64_t v);
void sink_col_bool(sink_cols_t *cs, int i, bool v);
void sink_col_bytea(sink_cols_t *cs, int i, const uint8_t *p, size_t n);

/* Statements, prepared on every connection. */
typedef enum {
  SQ_CLOSURES = 0,
  SQ_USERS,
  SQ_CONFIGS,
  SQ_MARKETS,
  SQ_POSITIONS,
  SQ_RECOMPUTE,
  SQ_TREASURIES,
  SQ_ORACLES,
  SQ_CLOSES,
  SQ_TXS,
  SQ_DEAD,
  SQ_CHECKPOINTS,
  SQ_GET_CHECKPOINT,
  SQ__COUNT
} sink_stmt_t;

typedef struct sink_stmt_def {
  const char *name; /* prepared statement name */
  const char *sql;
  int nparams;
  const char *const *cols; /* column names (dead-letter rendering), nparams */
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

#endif
