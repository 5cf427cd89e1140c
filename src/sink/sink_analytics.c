/* The sink's analytics upkeep, inside each batch's transaction: first
 * cbi_analytics_pre() with the keys of the batch's transactions rows and
 * market accounts (their stored state before the batch, for exact
 * deltas), then, after its accounts and transactions rows, one call of
 * cbi_analytics_apply() (schema/003_analytics.sql) with the batch's
 * transactions rows, its market and position pubkeys and the chain time
 * the sources reported. The SQL functions do the rest from stored rows.
 * A batch whose only analytics input is position accounts (no
 * transactions rows, no market account, no chain time) instead makes one
 * call of cbi_analytics_positions() (schema/006_analytics_positions.sql),
 * which does what the pair does for it (first_seen_unix, win_rate, the
 * latest day's new users) and leaves the same tables.
 * Also sink_set_chain_time(). */
#include <inttypes.h>
#include <string.h>

#include "progress.h"
#include "sink_priv.h"

const char sink_analytics_sql[] =
    "SELECT cbi_analytics_apply($1::text[], $2::integer[], $3::text[], $4::text[], $5::text[], "
    " $6::text[], $7::numeric[], $8::numeric[], $9::numeric[], $10::numeric[], $11::numeric[], "
    " $12::bigint[], $13::bigint[], $14::text[], $15::text[], $16::bigint, $17::bigint)";

const char *const sink_analytics_cols[] = {
    "signature", "instruction_index", "transaction_type", "market", "user", "side",
    "amount", "platform_fee", "price", "yes_pool", "no_pool", "slot", "block_time",
    "account", "kind", "chain_slot", "chain_time"};

#define T SINK_OID_TEXT
#define N SINK_OID_NUMERIC
#define I8 SINK_OID_INT8
#define I4 SINK_OID_INT4
const uint32_t sink_analytics_types[] = {T, I4, T, T, T, T, N, N, N, N, N, I8, I8, T, T, I8, I8};
_Static_assert(sizeof sink_analytics_types / sizeof sink_analytics_types[0] ==
                       SINK_ANALYTICS_NPARAMS &&
                   sizeof sink_analytics_cols / sizeof sink_analytics_cols[0] ==
                       SINK_ANALYTICS_NPARAMS,
               "one type and name per parameter");
#undef T
#undef N
#undef I8
#undef I4

const char sink_analytics_pos_sql[] = "SELECT cbi_analytics_positions($1::text[])";
const char *const sink_analytics_pos_cols[] = {"account"};
const uint32_t sink_analytics_pos_types[] = {SINK_OID_TEXT};

#define TX_NCOLS 13
#define ACC_NCOLS 2
static const sink_stmt_def_t def_tx = {"cbi_analytics", NULL, TX_NCOLS, sink_analytics_cols,
                                       sink_analytics_types};
static const sink_stmt_def_t def_acc = {"cbi_analytics", NULL, ACC_NCOLS,
                                        sink_analytics_cols + TX_NCOLS,
                                        sink_analytics_types + TX_NCOLS};

/* The stored state, before the batch writes, of its transactions rows and
 * market accounts: cbi_analytics_pre() keeps it for the batch's
 * cbi_analytics_apply() call, which turns it into exact deltas. */
static const char sql_pre[] =
    "SELECT cbi_analytics_pre($1::text[], $2::integer[], $3::text[])";
static const char *const pre_cols[] = {"signature", "instruction_index", "account"};
static const uint32_t pre_types[] = {SINK_OID_TEXT, SINK_OID_INT4, SINK_OID_TEXT};
static const sink_stmt_def_t def_pre_tx = {"cbi_analytics_pre", NULL, 2, pre_cols, pre_types};
static const sink_stmt_def_t def_pre_acc = {"cbi_analytics_pre", NULL, 1, pre_cols + 2,
                                            pre_types + 2};

int sink_set_chain_time(sink_t *s, uint64_t slot, int64_t block_time) {
  if (!s || slot > (uint64_t)INT64_MAX) return SINK_ERR_INVALID;
  if (s->has_chain_time && (block_time < s->chain_time ||
                            (block_time == s->chain_time && slot <= s->chain_slot)))
    return SINK_OK;
  s->has_chain_time = true;
  s->chain_slot = slot;
  s->chain_time = block_time;
  if (s->first_ms == 0) s->first_ms = progress_now_ms();
  return SINK_OK;
}

static void row_tx(sink_cols_t *cs, const cb_tx_row_t *t) {
  sink_col_str(cs, 0, t->signature);
  sink_col_u64(cs, 1, t->instruction_index);
  sink_col_str(cs, 2, cb_tx_type_name(t->type));
  sink_col_str(cs, 3, t->market[0] ? t->market : NULL);
  sink_col_str(cs, 4, t->user[0] ? t->user : NULL);
  sink_col_str(cs, 5, cb_side_label(t->side));
  sink_col_u64(cs, 6, t->amount);
  sink_col_u64(cs, 7, t->platform_fee);
  sink_col_u64_opt(cs, 8, t->has_price, t->price);
  /* Rows of failed transactions take nothing from events (txn_extract);
   * their pools are never sent. */
  bool pools = t->has_pools && !t->failed;
  sink_col_u64_opt(cs, 9, pools, t->yes_pool);
  sink_col_u64_opt(cs, 10, pools, t->no_pool);
  sink_col_u64(cs, 11, t->slot);
  sink_col_i64_opt(cs, 12, t->has_block_time, t->block_time);
  sink_cols_end_row(cs);
}

/* What the analytics upkeep does for the batch, from one look at it:
 *   UPKEEP_NONE       skipped by option, or no transaction, market or
 *                     position account and no chain time;
 *   UPKEEP_POSITIONS  position accounts only (no transactions row, market
 *                     account or chain time) and the short upkeep is on:
 *                     cbi_analytics_positions() replaces
 *                     cbi_analytics_pre() and cbi_analytics_apply();
 *   UPKEEP_FULL       the pair. */
typedef enum { UPKEEP_NONE, UPKEEP_POSITIONS, UPKEEP_FULL } upkeep_t;

static upkeep_t upkeep_of(const sink_t *s) {
  if (s->opt.skip_analytics) return UPKEEP_NONE;
  bool market = false, position = false;
  for (size_t i = 0; i < s->nacc; i++) {
    if (s->acc[i].kind == CB_ACCOUNT_MARKET) market = true;
    if (s->acc[i].kind == CB_ACCOUNT_POSITION) position = true;
  }
  if (s->ntx > 0 || s->has_chain_time || market) return UPKEEP_FULL;
  if (!position) return UPKEEP_NONE;
  return s->opt.analytics_full ? UPKEEP_FULL : UPKEEP_POSITIONS;
}

/* Finishes both column sets of a statement; on failure sets the sink
 * error (what: the statement) and returns R_NOMEM or R_DATA. */
static int finish_cols(sink_t *s, sink_cols_t *a, sink_cols_t *b, const char *what) {
  if (sink_cols_finish(a) != 0 || sink_cols_finish(b) != 0) {
    sink_set_err(s, "%s: out of memory building parameters", what);
    return R_NOMEM;
  }
  if (a->range_error || b->range_error) {
    sink_set_err(s, "%s: a value is out of range for its column", what);
    return R_DATA;
  }
  return R_OK;
}

int sink_analytics_prestage(sink_t *s) {
  if (upkeep_of(s) != UPKEEP_FULL) return R_OK;
  int rc = R_OK;
  sink_cols_t acs;
  memset(&acs, 0, sizeof acs);
  sink_cols_begin(&s->cs, &def_pre_tx, true);
  for (size_t j = 0; j < s->ntx; j++) {
    const cb_tx_row_t *t = &s->tx[s->txorder[j]];
    sink_col_str(&s->cs, 0, t->signature);
    sink_col_u64(&s->cs, 1, t->instruction_index);
    sink_cols_end_row(&s->cs);
  }
  sink_cols_begin(&acs, &def_pre_acc, true);
  for (size_t j = 0; j < s->nacc; j++) {
    const cb_account_t *a = &s->acc[s->order[j]];
    if (a->kind != CB_ACCOUNT_MARKET) continue;
    sink_col_str(&acs, 0, a->pubkey);
    sink_cols_end_row(&acs);
  }
  rc = finish_cols(s, &s->cs, &acs, "cbi_analytics_pre");
  if (rc != R_OK) goto out;
  const char *params[3] = {s->cs.params[0], s->cs.params[1], acs.params[0]};
  int lengths[3] = {s->cs.lengths[0], s->cs.lengths[1], acs.lengths[0]};
  int formats[3] = {s->cs.formats[0], s->cs.formats[1], acs.formats[0]};
  const sink_expect_t ex = {.what = "cbi_analytics_pre"};
  rc = sink_exec(s, &ex, NULL, sql_pre, 3, params, lengths, formats, NULL);
out:
  sink_cols_free(&acs);
  return rc;
}

/* The short upkeep: cbi_analytics_positions() with the batch's position
 * pubkeys. */
static int stage_positions(sink_t *s) {
  sink_cols_begin(&s->cs, &sink_stmts[SQ_ANALYTICS_POS], true);
  for (size_t j = 0; j < s->nacc; j++) {
    const cb_account_t *a = &s->acc[s->order[j]];
    if (a->kind != CB_ACCOUNT_POSITION) continue;
    sink_col_str(&s->cs, 0, a->pubkey);
    sink_cols_end_row(&s->cs);
  }
  return sink_exec_cs(s, SQ_ANALYTICS_POS, NULL, NULL);
}

int sink_analytics_stage(sink_t *s) {
  upkeep_t u = upkeep_of(s);
  if (u == UPKEEP_NONE) return R_OK;
  if (u == UPKEEP_POSITIONS) return stage_positions(s);
  int rc = R_OK;
  sink_cols_t acs;
  memset(&acs, 0, sizeof acs);
  sink_cols_begin(&s->cs, &def_tx, true);
  for (size_t j = 0; j < s->ntx; j++) row_tx(&s->cs, &s->tx[s->txorder[j]]);
  sink_cols_begin(&acs, &def_acc, true);
  for (size_t j = 0; j < s->nacc; j++) {
    const cb_account_t *a = &s->acc[s->order[j]];
    if (a->kind != CB_ACCOUNT_MARKET && a->kind != CB_ACCOUNT_POSITION) continue;
    sink_col_str(&acs, 0, a->pubkey);
    sink_col_str(&acs, 1, a->kind == CB_ACCOUNT_MARKET ? "market" : "position");
    sink_cols_end_row(&acs);
  }
  rc = finish_cols(s, &s->cs, &acs, "cbi_analytics");
  if (rc != R_OK) goto out;
  const char *params[SINK_ANALYTICS_NPARAMS];
  int lengths[SINK_ANALYTICS_NPARAMS], formats[SINK_ANALYTICS_NPARAMS];
  for (int i = 0; i < TX_NCOLS; i++) {
    params[i] = s->cs.params[i];
    lengths[i] = s->cs.lengths[i];
    formats[i] = s->cs.formats[i];
  }
  for (int i = 0; i < ACC_NCOLS; i++) {
    params[TX_NCOLS + i] = acs.params[i];
    lengths[TX_NCOLS + i] = acs.lengths[i];
    formats[TX_NCOLS + i] = acs.formats[i];
  }
  char slot[24], when[24];
  snprintf(slot, sizeof slot, "%" PRIu64, s->chain_slot);
  snprintf(when, sizeof when, "%" PRId64, s->chain_time);
  params[15] = s->has_chain_time ? slot : NULL;
  params[16] = s->has_chain_time ? when : NULL;
  lengths[15] = lengths[16] = 0;
  formats[15] = formats[16] = 0;
  rc = sink_exec(s, NULL, sink_stmts[SQ_ANALYTICS].name, NULL, SINK_ANALYTICS_NPARAMS, params,
                 lengths, formats, NULL);
out:
  sink_cols_free(&acs);
  return rc;
}
