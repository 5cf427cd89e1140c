/* Live sync over RPC (live_int.h): the tip the RPC node confirms (getSlot),
 * gap fills (on every (re)connect, and every few seconds while the
 * websocket is down or flapping), reconciliation and the status line. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "jsonx.h"
#include "live_int.h"
#include "log.h"
#include "reconcile.h"
#include "snapshot.h"

/* ---- the confirmed tip ---------------------------------------------------- */

static void on_tip(void *user, json_t *result, const rpc_error_t *err) {
  live_t *lv = user;
  lv->tip_req_inflight = 0;
  uint64_t s = 0;
  if (!err && jsonx_u64(result, &s) == 0 && ingest_slot_ok(s)) {
    if (s > lv->rpc_tip) lv->rpc_tip = s;
    lv->rpc_tip_ns = live_now_ns();
  } else if (!err || err->kind != RPC_ERR_CANCELLED) {
    log_warn("live", "getSlot: %s", err ? err->message : "result is not a slot in range");
  }
}

static void tip_refresh(live_t *lv, uint64_t now) {
  if (lv->tip_req_inflight) return;
  int due = now >= lv->next_tip_ns;
  int chase = lv->tip > lv->rpc_tip + lv->margin &&
              now - lv->tip_req_ns >= LIVE_TIP_CHASE_MS * NS_PER_MS;
  if (!due && !chase) return;
  json_t *params = json_pack("[{s:s}]", "commitment", lv->fetch_commitment);
  lv->tip_req_ns = now;
  lv->next_tip_ns = now + LIVE_TIP_REFRESH_MS * NS_PER_MS;
  if (params && rpc_submit(lv->rpc, "getSlot", params, on_tip, lv) == 0) lv->tip_req_inflight = 1;
}

/* ---- the chain's time ------------------------------------------------------ */

/* getBlockTime of slot, at most every LIVE_CHAIN_TIME_MS, one request at
 * a time (*inflight), not again for the slot last asked (*req_slot). */
static void ask_block_time(live_t *lv, uint64_t now, uint64_t slot, int *inflight,
                           uint64_t *next_ns, uint64_t *req_slot, rpc_done_fn cb) {
  if (*inflight || now < *next_ns || slot == 0 || slot == *req_slot) return;
  json_t *params = json_pack("[I]", (json_int_t)slot);
  *next_ns = now + LIVE_CHAIN_TIME_MS * NS_PER_MS;
  *req_slot = slot;
  if (params && rpc_submit(lv->rpc, "getBlockTime", params, cb, lv) == 0) *inflight = 1;
}

static void on_chain_time(void *user, json_t *result, const rpc_error_t *err) {
  live_t *lv = user;
  lv->chain_req_inflight = 0;
  if (!err && json_is_integer(result)) {
    int64_t t = (int64_t)json_integer_value(result);
    if (!lv->chain_known || t >= lv->chain_time) {
      lv->has_chain = 1;
      lv->chain_known = 1;
      lv->chain_slot = lv->chain_req_slot;
      lv->chain_time = t;
    }
  } else if (err && err->kind != RPC_ERR_CANCELLED) {
    log_debug("live", "getBlockTime slot=%" PRIu64 ": %s", lv->chain_req_slot, err->message);
  }
}

/* The block time of the newest indexed slot (the websocket's tip, capped
 * by the tip the RPC node confirms), so that the analytics roll over at
 * midnight even when no transaction says it. A transaction of an earlier
 * slot still being fetched lands later and corrects the days it touches. */
static void chain_time_refresh(live_t *lv, uint64_t now) {
  uint64_t slot = lv->tip;
  if (lv->rpc_tip && slot > lv->rpc_tip) slot = lv->rpc_tip;
  ask_block_time(lv, now, slot, &lv->chain_req_inflight, &lv->next_chain_ns, &lv->chain_req_slot,
                 on_chain_time);
}

static void on_indexed_time(void *user, json_t *result, const rpc_error_t *err) {
  live_t *lv = user;
  lv->idx_req_inflight = 0;
  if (!err && json_is_integer(result) && lv->idx_req_slot >= lv->idx_slot) {
    lv->idx_slot = lv->idx_req_slot;
    lv->idx_time = (int64_t)json_integer_value(result);
  }
  /* errors: a skipped slot has no block time; the next checkpoint asks again */
}

/* The block time of the committed checkpoint's slot, for the indexed block
 * time metric (lag in seconds is tip time - indexed time). Only with the
 * operations endpoint. */
static void indexed_time_refresh(live_t *lv, uint64_t now) {
  if (!lv->o->ops) return;
  ask_block_time(lv, now, lv->cp_committed, &lv->idx_req_inflight, &lv->next_idx_ns,
                 &lv->idx_req_slot, on_indexed_time);
}

/* getSlot now (fills): the tip the RPC node confirms. 0 or -1 with err. */
static int confirm_tip(live_t *lv, uint64_t *out, char *err, size_t errsz) {
  json_t *res = NULL;
  rpc_error_t e;
  memset(&e, 0, sizeof e);
  json_t *params = json_pack("[{s:s}]", "commitment", lv->fetch_commitment);
  if (!params || rpc_call(lv->rpc_bf, "getSlot", params, &res, &e) != 0) {
    snprintf(err, errsz, "getSlot: %s", params ? e.message : "out of memory");
    return -1;
  }
  uint64_t s = 0;
  int ok = jsonx_u64(res, &s) == 0 && ingest_slot_ok(s);
  json_decref(res);
  if (!ok) {
    snprintf(err, errsz, "getSlot: result is not a slot in range");
    return -1;
  }
  if (s > lv->rpc_tip) lv->rpc_tip = s;
  lv->rpc_tip_ns = live_now_ns();
  *out = lv->rpc_tip;
  lv->next_tip_ns = live_now_ns() + LIVE_TIP_REFRESH_MS * NS_PER_MS;
  return 0;
}

int live_slot_absurd(const live_t *lv, uint64_t slot, char *why, size_t whysz) {
  if (lv->rpc_tip == 0 || slot <= lv->rpc_tip) return 0;
  /* the chain makes about 2.5 slots a second: an old answer allows more */
  uint64_t age_s = (live_now_ns() - lv->rpc_tip_ns) / (1000 * NS_PER_MS);
  if (slot - lv->rpc_tip <= LIVE_SLOT_AHEAD_MAX + LIVE_SLOTS_PER_S_MAX * age_s) return 0;
  snprintf(why, whysz, "slot %" PRIu64 " is %" PRIu64 " slots beyond the tip the RPC node "
           "confirms (%" PRIu64 ")", slot, slot - lv->rpc_tip, lv->rpc_tip);
  return 1;
}

/* ---- gap fills ---------------------------------------------------------------- */

static void fill_failed(live_t *lv, const char *what, const char *err) {
  if (live_stop_requested(lv)) return;
  unsigned shift = lv->fill_failures < 5 ? lv->fill_failures : 5;
  uint64_t ms = (uint64_t)LIVE_FILL_RETRY_MIN_MS << shift;
  if (ms > LIVE_FILL_RETRY_MAX_MS) ms = LIVE_FILL_RETRY_MAX_MS;
  lv->fill_failures++;
  lv->fill_retry_ns = live_now_ns() + ms * NS_PER_MS;
  log_error("live", "%s failed, retrying in %" PRIu64 " ms: %s", what, ms, err);
}

/* First run on an empty database: seed the caches. 0 or -1. */
static int seed_caches(live_t *lv) {
  char err[512] = "";
  log_info("live", "empty database: seeding the caches (snapshot)");
  long n = snapshot_run(lv->rpc_bf, live_cur_ing(lv), live_cur_sink(lv), lv->o->idl,
                        lv->o->program_id, lv->fetch_commitment, lv->o->stop_flag, err,
                        sizeof err);
  if (n < 0) {
    fill_failed(lv, "snapshot", err);
    return -1;
  }
  if (live_flush_now(lv) != 0) return -1;
  lv->snapshot_done = 1;
  log_info("live", "snapshot done accounts=%ld", n);
  return 0;
}

/* Backfills (checkpoint, min(target, confirmed tip)]; on a first run seeds
 * the caches first. Returns 0 when the range is applied, else -1. */
static int do_fill(live_t *lv, uint64_t target, const char *what) {
  char err[512] = "";
  uint64_t t0 = live_now_ns(), tip = 0, fill_tx = 0;
  if (live_flush_now(lv) != 0) return -1;
  if (confirm_tip(lv, &tip, err, sizeof err) != 0) {
    fill_failed(lv, what, err);
    return -1;
  }
  uint64_t to = target < tip ? target : tip;
  if (target != UINT64_MAX && target > tip)
    log_warn("live", "first websocket slot %" PRIu64 " is beyond the confirmed tip %" PRIu64
             ": filling to the tip", target, tip);
  if (lv->first_run && !lv->snapshot_done && seed_caches(lv) != 0) return -1;
  uint64_t from = lv->first_run ? (lv->o->has_start_slot ? lv->o->start_slot : 0) : lv->cp + 1;
  if (from <= to) {
    backfill_options_t bo;
    backfill_options_init(&bo);
    bo.program_id = lv->o->program_id;
    bo.commitment = lv->fetch_commitment;
    bo.from_slot = from;
    bo.to_slot = to;
    bo.strategy = BACKFILL_SIGNATURES;
    /* The history of a first run resumes after a restart (its stream is
     * "backfill:<from>"); a gap fill is short and is simply redone. */
    bo.checkpoint_stream = lv->first_run ? NULL : LIVE_GAP_STREAM;
    bo.restart = !lv->first_run;
    bo.refresh_accounts = true;
    bo.progress = (to - from > 100000) ? 1 : 0;
    bo.stop_flag = lv->o->stop_flag;
    bo.on_tick = live_ops_fill_tick;
    bo.tick_user = lv;
    backfill_summary_t bs;
    memset(&bs, 0, sizeof bs);
    log_info("live", "%s from_slot=%" PRIu64 " to_slot=%" PRIu64,
             lv->first_run ? "indexing history" : what, from, to);
    if (backfill_run(lv->rpc_bf, live_cur_ing(lv), live_cur_sink(lv), &bo, &bs, err,
                     sizeof err) != 0) {
      fill_failed(lv, what, err);
      return -1;
    }
    fill_tx = bs.transactions;
    log_info("live",
             "gap filled from_slot=%" PRIu64 " to_slot=%" PRIu64 " transactions=%" PRIu64
             " accounts=%" PRIu64 " dead_letters=%" PRIu64 " ms=%" PRIu64,
             from, to, bs.transactions, bs.accounts, bs.dead_letters,
             (uint64_t)((live_now_ns() - t0) / NS_PER_MS));
  }
  lv->first_run = 0;
  lv->fill_failures = 0;
  lv->sum.gap_fills++;
  live_ops_gap_fill(lv, from <= to ? to - from + 1 : 0, fill_tx);
  if (to > lv->cp) lv->cp = to;
  if (lv->tip < to) lv->tip = to;
  lv->last_fill_ns = live_now_ns();
  lv->last_data_ns = lv->last_fill_ns;
  live_flush_now(lv);
  return 0;
}

void live_maybe_fill(live_t *lv, uint64_t slot) {
  if (!lv->fill_pending || !lv->connected) return;
  if (lv->fill_to == 0) {
    lv->fill_to = slot > 0 ? slot : 1;
    lv->fill_retry_ns = 0;
  }
  if (live_now_ns() >= lv->fill_retry_ns && do_fill(lv, lv->fill_to, "gap fill") == 0)
    lv->fill_pending = 0;
}

void live_fill_tick(live_t *lv, uint64_t now) {
  tip_refresh(lv, now);
  chain_time_refresh(lv, now);
  indexed_time_refresh(lv, now);
  if (lv->fill_pending && lv->connected && lv->fill_to != 0 && now >= lv->fill_retry_ns) {
    if (do_fill(lv, lv->fill_to, "gap fill") == 0) lv->fill_pending = 0;
    return;
  }
  /* The websocket is down (or flapping through a long backoff): keep the
   * tables fresh over RPC until it is back; its own gap fill follows. */
  if (!lv->connected && !live_stop_requested(lv) &&
      now - lv->down_since_ns >= LIVE_DOWN_FILL_AFTER_MS * NS_PER_MS &&
      now - lv->last_fill_ns >= LIVE_DOWN_FILL_EVERY_MS * NS_PER_MS && now >= lv->fill_retry_ns) {
    log_info("live", "websocket down for %" PRIu64 " ms: filling from the checkpoint over RPC",
             (uint64_t)((now - lv->down_since_ns) / NS_PER_MS));
    lv->sum.down_fills++;
    do_fill(lv, UINT64_MAX, "down fill");
  }
}

/* ---- periodic work ---------------------------------------------------------------- */

void live_status_line(live_t *lv, uint64_t now) {
  msgqueue_stats_t qs;
  ws_client_stats_t ws;
  msgqueue_get_stats(lv->q, &qs);
  ws_client_get_stats(lv->ws, &ws);
  double secs = (double)(now - lv->st_prev_ns) / 1e9;
  if (secs <= 0) secs = 1;
  double ups = (double)(lv->sum.account_updates - lv->st_prev_updates) / secs;
  double tps = (double)(lv->sum.transactions - lv->st_prev_tx) / secs;
  lv->st_prev_updates = lv->sum.account_updates;
  lv->st_prev_tx = lv->sum.transactions;
  lv->st_prev_ns = now;
  uint64_t lag = lv->tip > lv->cp_committed ? lv->tip - lv->cp_committed : 0;
  log_info("live",
           "status tip=%" PRIu64 " confirmed_tip=%" PRIu64 " checkpoint=%" PRIu64
           " slot_lag=%" PRIu64 " updates_per_s=%.0f tx_per_s=%.0f backlog_items=%zu"
           " backlog_bytes=%zu fetches=%zu reconnects=%" PRIu64 " dead_letters=%" PRIu64 "%s%s",
           lv->tip, lv->rpc_tip, lv->cp_committed, lag, ups, tps, qs.items, qs.bytes,
           txfetch_pending(lv->tf), lv->sum.reconnects, lv->sum.dead_letters,
           ws.reading_paused ? " reading=paused" : "",
           lv->fill_pending ? (lv->connected ? " live=waiting-for-gap-fill" : " live=websocket-down")
                            : "");
}

void live_run_reconcile(live_t *lv) {
  char err[512] = "";
  if (live_flush_now(lv) != 0) return;
  long n = reconcile_run(lv->rpc_bf, live_cur_ing(lv), live_cur_sink(lv), lv->o->program_id,
                         lv->fetch_commitment, lv->o->stop_flag, err, sizeof err);
  if (n < 0) {
    if (!live_stop_requested(lv)) log_error("live", "reconcile failed: %s", err);
    return;
  }
  lv->sum.reconciles++;
  if (n > 0) log_info("live", "reconcile closed=%ld", n);
  live_flush_now(lv);
}
