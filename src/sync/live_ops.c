/* Live sync, the operations surface (live_int.h, ops.h): feeds every cbi_*
 * metric family and the readiness facts from the writer thread. Counters
 * that modules keep themselves (ingest dead letters by kind, sink rows by
 * table, decoder trailing bytes) are read as deltas after each commit or
 * loop turn, so nothing is added to their hot paths; the websocket thread
 * is never touched (its facts arrive here as queue items). Every update is
 * a lock-free atomic (metrics.h, opstate.h). */
#include <string.h>

#include "live_int.h"
#include "ops.h"

_Static_assert((int)METRICS_CBI_DL_COUNT == (int)INGEST_DL_COUNT,
               "cbi_dead_letters_total reasons are the ingest dead-letter kinds");
_Static_assert((int)METRICS_CBI_ACCT_UNKNOWN == (int)CB_ACCOUNT__COUNT - 1,
               "account types: the decoder's kinds, then unknown");

void live_ops_rpc_done(void *user, const char *method, int err_kind, double seconds) {
  live_t *lv = user;
  if (!lv->o->ops) return;
  metrics_cbi_rpc_done(&lv->o->ops->m, method, err_kind ? RPC_ERR_INDEX(err_kind) : 0, seconds);
}

void live_ops_notification(const live_t *lv, int kind) {
  if (!lv->o->ops || kind < 0 || kind >= METRICS_CBI_NOTIF_COUNT) return;
  metrics_counter_inc(lv->o->ops->m.notifications[kind]);
}

void live_ops_connection(live_t *lv, int connected) {
  ops_t *ops = lv->o->ops;
  if (!ops) return;
  ops_note_subscriptions(ops, connected);
  if (connected && lv->sum.reconnects > lv->ops_reconnects) {
    metrics_counter_add(ops->m.ws_reconnects, lv->sum.reconnects - lv->ops_reconnects);
    lv->ops_reconnects = lv->sum.reconnects;
  }
}



static const metrics_cbi_table_t rows_table[SINK_ROWS_COUNT] = {
    [SINK_ROWS_PLATFORM_CONFIG] = METRICS_CBI_TBL_PLATFORM_CONFIG,
    [SINK_ROWS_MARKETS] = METRICS_CBI_TBL_MARKETS_CACHE,
    [SINK_ROWS_POSITIONS] = METRICS_CBI_TBL_POSITION_ACCOUNTS,
    [SINK_ROWS_TREASURIES] = METRICS_CBI_TBL_TREASURIES_CACHE,
    [SINK_ROWS_ORACLES] = METRICS_CBI_TBL_ORACLE_DATA_CACHE,
    [SINK_ROWS_TRANSACTIONS] = METRICS_CBI_TBL_TRANSACTIONS,
    [SINK_ROWS_DEAD_LETTERS] = METRICS_CBI_TBL_DEAD_LETTERS,
    [SINK_ROWS_CHECKPOINTS] = METRICS_CBI_TBL_SYNC_CHECKPOINTS,
};

void live_ops_committed(live_t *lv, int idx, uint64_t flush_ns) {
  ops_t *ops = lv->o->ops;
  if (!ops) return;
  sink_stats_t st, *prev = &lv->ops_sink[idx];
  sink_get_stats(lv->slot[idx].sink, &st);
  if (st.batches == prev->batches) return;
  uint64_t records = 0;
  for (int k = 0; k < SINK_ROWS_COUNT; k++) {
    uint64_t d = st.rows[k] - prev->rows[k];
    metrics_counter_add(ops->m.rows_written[rows_table[k]], d);
    records += d;
  }
  metrics_counter_add(ops->m.stale_updates,
                      st.accounts_stale_ignored - prev->accounts_stale_ignored);
  if (st.reconnects > prev->reconnects)
    metrics_counter_add(ops->m.db_reconnects, st.reconnects - prev->reconnects);
  /* records the database rejected were dead-lettered by the sink itself */
  metrics_counter_add(ops->m.dead_letters[METRICS_CBI_DL_RECORD], st.rejected - prev->rejected);
  ops_note_commit(ops, records, (double)flush_ns / 1e9);
  *prev = st;
}

void live_ops_latency(const live_t *lv, uint64_t latency_us) {
  if (!lv->o->ops) return;
  metrics_histogram_observe(lv->o->ops->m.notification_to_commit, (double)latency_us / 1e6);
}

void live_ops_gap_fill(live_t *lv, uint64_t slots, uint64_t transactions) {
  ops_t *ops = lv->o->ops;
  if (!ops) return;
  metrics_counter_inc(ops->m.gap_fills);
  metrics_counter_add(ops->m.gap_fill_slots, slots);
  metrics_counter_add(ops->m.transactions_fetched[METRICS_CBI_SRC_GAP_FILL], transactions);
  ops_note_gap_fill_done(ops);
}

void live_ops_turn(live_t *lv, int progressed) {
  ops_t *ops = lv->o->ops;
  if (!ops) return;
  for (int k = 0; k < 2; k++) {
    ingest_stats_t is, *prev = &lv->ops_ing[k];
    ingest_get_stats(lv->slot[k].ing, &is);
    for (int d = 0; d < INGEST_DL_COUNT; d++)
      if (is.dead_by_kind[d] > prev->dead_by_kind[d])
        metrics_counter_add(ops->m.dead_letters[d], is.dead_by_kind[d] - prev->dead_by_kind[d]);
    *prev = is;
  }
  for (int k = 1; k < CB_ACCOUNT__COUNT; k++) {
    uint64_t t = cb_decoder_trailing_count(lv->o->decoder, (cb_account_kind_t)k);
    if (t > lv->ops_trailing[k]) {
      metrics_counter_add(ops->m.decode_warnings[k - 1], t - lv->ops_trailing[k]);
      lv->ops_trailing[k] = t;
    }
  }
  if (lv->sum.transactions > lv->ops_tx) {
    metrics_counter_add(ops->m.transactions_fetched[METRICS_CBI_SRC_LIVE],
                        lv->sum.transactions - lv->ops_tx);
    lv->ops_tx = lv->sum.transactions;
  }
  uint64_t tip = lv->rpc_tip > lv->tip ? lv->rpc_tip : lv->tip;
  if (tip > lv->ops_tip) {
    ops_note_tip(ops, tip, 0);
    lv->ops_tip = tip;
  }
  /* block times (getBlockTime of the newest slot and of the checkpoint);
   * the gauges only move forward */
  if (lv->chain_known) ops_note_tip(ops, lv->ops_tip, lv->chain_time);
  if (lv->cp_committed > lv->ops_cp) {
    ops_note_indexed(ops, lv->cp_committed, 0);
    lv->ops_cp = lv->cp_committed;
  }
  if (lv->idx_slot) ops_note_indexed(ops, lv->ops_cp, lv->idx_time);
  msgqueue_stats_t qs;
  msgqueue_get_stats(lv->q, &qs);
  metrics_gauge_set(ops->m.backlog_bytes, (int64_t)qs.bytes);
  ops_tick(ops, progressed);
}

void live_ops_fill_tick(void *user) {
  live_t *lv = user;
  if (lv->o->ops) ops_tick(lv->o->ops, 1);
}

void live_ops_stopping(live_t *lv) {
  if (lv->o->ops) ops_note_stopping(lv->o->ops);
}
