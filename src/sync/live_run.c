/* Live sync, the run (live.h, live_int.h): set-up, the main loop and its
 * phases, shutdown, the summary. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "live_int.h"
#include "log.h"
#include "ops.h"

static long peak_rss_kb(void) {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

void live_options_init(live_options_t *o) {
  memset(o, 0, sizeof *o);
  o->commitment = "confirmed";
  o->reconcile_interval_s = 600;
  o->status_interval_s = 30;
}

static int setup(live_t *lv, const live_options_t *o, char *err, size_t errsz) {
  char e2[512] = "";
  lv->o = o;
  lv->fetch_commitment = strcmp(o->commitment, "processed") == 0 ? "confirmed" : o->commitment;
  lv->margin = strcmp(o->commitment, "finalized") == 0 ? LIVE_CHECKPOINT_MARGIN_FINALIZED
                                                        : LIVE_CHECKPOINT_MARGIN;
  if (live_seen_init(lv) != 0) {
    snprintf(err, errsz, "out of memory");
    return -1;
  }

  sink_options_t so;
  sink_options_init(&so);
  so.conninfo = o->database_url;
  so.batch_max_delay_ms = o->sink_batch_delay_ms > 0 ? o->sink_batch_delay_ms : 50;
  /* batches are handed over at LIVE_HANDOFF_RECORDS; the sink's own limit
   * is only a backstop (a put then flushes on this thread) */
  so.batch_max_records = LIVE_SINK_MAX_RECORDS;
  so.stop_flag = o->abort_flag;
  int rc;
  for (int k = 0; k < 2; k++) {
    /* both connections report into the readiness fact: the last
     * observation (a failed attempt, a successful connect) wins */
    so.connected = o->ops ? &o->ops->st.db_connected : NULL;
    rc = sink_open(&so, &lv->slot[k].sink, e2, sizeof e2);
    if (rc != 0) {
      snprintf(err, errsz, "database: %s", e2);
      return -1;
    }
    lv->slot[k].ing = ingest_new(o->decoder, o->program_id, lv->slot[k].sink);
    if (!lv->slot[k].ing) {
      snprintf(err, errsz, "out of memory");
      return -1;
    }
  }
  if (live_flusher_start(lv) != 0) {
    snprintf(err, errsz, "cannot start the flusher thread");
    return -1;
  }
  uint64_t cp = 0;
  char sig[CB_SIGNATURE_B58_MAX];
  rc = sink_get_checkpoint(live_cur_sink(lv), LIVE_STREAM, &cp, sig);
  if (rc < 0) {
    snprintf(err, errsz, "database: reading the checkpoint: %s", sink_last_error(live_cur_sink(lv)));
    return -1;
  }
  lv->first_run = rc == 1;
  lv->cp = lv->cp_set = lv->cp_committed = rc == 1 ? 0 : cp;
  lv->tip = lv->cp;
  if (lv->first_run)
    log_info("live", "no checkpoint: first run (snapshot, then history from slot %" PRIu64 ")",
             o->has_start_slot ? o->start_slot : 0);
  else
    log_info("live", "resuming checkpoint=%" PRIu64, cp);

  for (int k = 0; k < 2; k++) {
    rpc_options_t ro;
    rpc_options_init(&ro);
    ro.endpoints = o->rpc_url;
    ro.max_in_flight = o->fetch_concurrency ? o->fetch_concurrency : 32;
    ro.stop_flag = o->abort_flag;
    ro.record_dir = o->record_dir;
    ro.verify_tls = o->insecure ? 0 : 1;
    ro.on_done = live_ops_rpc_done;
    ro.on_done_user = lv;
    rpc_client_t *c = rpc_client_new(&ro, e2, sizeof e2);
    if (!c) {
      snprintf(err, errsz, "rpc: %s", e2);
      return -1;
    }
    if (k == 0) lv->rpc = c;
    else lv->rpc_bf = c;
  }
  txfetch_options_t to;
  txfetch_options_init(&to);
  to.commitment = lv->fetch_commitment;
  to.null_retries = LIVE_TX_NULL_RETRIES;
  to.retry_base_ms = LIVE_TX_RETRY_BASE_MS;
  lv->tf = txfetch_new(lv->rpc, &to);
  if (!lv->tf) {
    snprintf(err, errsz, "out of memory");
    return -1;
  }
  if (live_recorder_open(lv, err, errsz) != 0) return -1;

  size_t maxmsg = o->max_message_bytes ? o->max_message_bytes : WS_CLIENT_DEFAULT_MAX_MESSAGE_BYTES;
  size_t qbytes = o->queue_bytes ? o->queue_bytes : LIVE_DEFAULT_QUEUE_BYTES;
  if (qbytes / 2 < maxmsg) {
    snprintf(err, errsz, "queue bytes (%zu) must be at least twice the message cap (%zu)", qbytes,
             maxmsg);
    return -1;
  }
  lv->q = msgqueue_new(qbytes);
  if (!lv->q) {
    snprintf(err, errsz, "out of memory");
    return -1;
  }
  ws_client_options_t wo;
  ws_client_options_init(&wo);
  wo.url = o->ws_url;
  wo.program_id = o->program_id;
  wo.commitment = o->commitment;
  wo.max_message_bytes = maxmsg;
  if (o->ping_interval_s) wo.ping_interval_s = o->ping_interval_s;
  if (o->stall_timeout_s) wo.stall_timeout_s = o->stall_timeout_s;
  if (o->slot_timeout_s > 0) wo.slot_timeout_s = o->slot_timeout_s;
  else if (o->slot_timeout_s < 0) wo.slot_timeout_s = 0;
  wo.insecure = o->insecure;
  lv->ws = ws_client_start(&wo, lv->q, e2, sizeof e2);
  if (!lv->ws) {
    snprintf(err, errsz, "%s", e2);
    return -1;
  }
  lv->fill_pending = 1;
  lv->down_since_ns = live_now_ns();
  return 0;
}

static void teardown(live_t *lv) {
  ws_client_stop(lv->ws);
  lv->ws = NULL;
  /* the clients cancel what is pending: callbacks run and fill the ready list */
  txfetch_free(lv->tf);
  lv->tf = NULL;
  rpc_client_free(lv->rpc);
  rpc_client_free(lv->rpc_bf);
  lv->rpc = lv->rpc_bf = NULL;
  live_flusher_stop(lv);
  for (int k = 0; k < 2; k++) {
    ingest_free(lv->slot[k].ing);
    sink_close(lv->slot[k].sink);
    free(lv->slot[k].lat_t);
  }
  msgqueue_free(lv->q);
  live_recorder_close(lv);
  free(lv->seen[0]);
  free(lv->seen[1]);
  free(lv->scratch);
}

static int wait_ms_for(live_t *lv) {
  long w = txfetch_wait_ms(lv->tf);
  if (w == 0) return 0;
  if (rpc_in_flight(lv->rpc) > 0 || w > 0) return 1;
  if (sink_pending(live_cur_sink(lv)) > 0) {
    int d = sink_batch_due_in_ms(live_cur_sink(lv));
    return d < 0 ? 50 : (d > 50 ? 50 : d);
  }
  return 100;
}

static int idle_done(live_t *lv, uint64_t now) {
  if (lv->o->exit_when_idle_ms <= 0 || lv->fill_pending || !lv->connected) return 0;
  if (now - lv->last_data_ns < (uint64_t)lv->o->exit_when_idle_ms * NS_PER_MS) return 0;
  if (txfetch_pending(lv->tf) > 0) return 0;
  msgqueue_stats_t qs;
  msgqueue_get_stats(lv->q, &qs);
  if (qs.items > 0) return 0;
  if (live_flush_now(lv) != 0) return 0;
  return sink_pending(live_cur_sink(lv)) == 0;
}

static void shutdown_drain(live_t *lv) {
  /* stop reading: nothing new is applied; what is still queued is not
   * covered by the checkpoint and comes back through the next gap fill */
  ws_client_stop(lv->ws);
  lv->ws = NULL;
  uint64_t deadline = live_now_ns() + LIVE_SHUTDOWN_FETCH_MS * NS_PER_MS;
  while (!lv->fatal && txfetch_pending(lv->tf) > 0 && live_now_ns() < deadline &&
         !(lv->o->abort_flag && *lv->o->abort_flag)) {
    live_process_fetches(lv);
    if (rpc_in_flight(lv->rpc) > 0) rpc_run(lv->rpc, 10);
    else if (txfetch_wait_ms(lv->tf) != 0) break; /* only retries waiting: give them up */
  }
  if (txfetch_pending(lv->tf) > 0)
    log_warn("live", "shutdown: %zu transaction fetches abandoned (the checkpoint stays below them)",
             txfetch_pending(lv->tf));
  if (!lv->fatal && live_flush_now(lv) != 0 && !lv->fatal) {
    lv->fatal = 1;
    snprintf(lv->fatal_msg, sizeof lv->fatal_msg,
             "final flush interrupted: %s; the next start resumes from checkpoint %" PRIu64,
             sink_last_error(live_cur_sink(lv)), lv->cp_committed);
    log_error("live", "%s", lv->fatal_msg);
  }
}

/* One turn of the queue: up to LIVE_POP_BUDGET items. */
static void pop_items(live_t *lv) {
  for (int budget = LIVE_POP_BUDGET; budget > 0 && !lv->fatal && !live_stop_requested(lv);
       budget--) {
    if (txfetch_pending(lv->tf) >= LIVE_MAX_OUTSTANDING) {
      rpc_run(lv->rpc, 5);
      break;
    }
    msgqueue_item_t *it = msgqueue_pop(lv->q, budget == LIVE_POP_BUDGET ? wait_ms_for(lv) : 0);
    if (!it) break;
    live_handle_item(lv, it);
    msgqueue_item_free(it);
    if (sink_pending(live_cur_sink(lv)) >= LIVE_HANDOFF_RECORDS && live_handoff(lv, 1) != 0) break;
  }
}

/* Group commit: the batch goes to the flusher as soon as the flusher is
 * free (live_handoff does nothing while it commits the previous one), so a
 * quiet stream commits each update one round trip after it arrived, and
 * under load a batch holds what arrived during the previous commit: the
 * batch size follows the arrival rate, with no timer in between. A batch
 * of LIVE_HANDOFF_RECORDS waits for the flusher (backpressure). Returns 0
 * or -1. */
static int commit_turn(live_t *lv) {
  live_update_checkpoint(lv);
  size_t pend = sink_pending(live_cur_sink(lv));
  int want = pend > 0 ||
             (lv->cp != lv->cp_set &&
              live_now_ns() - lv->cp_set_ns >= LIVE_CKPT_ONLY_EVERY_MS * NS_PER_MS) ||
             lv->has_chain;
  if (want) return live_handoff(lv, pend >= LIVE_HANDOFF_RECORDS);
  return live_fl_sync(lv, 0) < 0 ? -1 : 0;
}

/* Status line, reconciliation, idle exit. Returns 1 to stop (idle). */
static int periodic_turn(live_t *lv) {
  const live_options_t *o = lv->o;
  uint64_t now = live_now_ns();
  if (lv->next_status_ns && now >= lv->next_status_ns) {
    live_status_line(lv, now);
    lv->next_status_ns = now + (uint64_t)o->status_interval_s * 1000 * NS_PER_MS;
  }
  if (lv->next_reconcile_ns && now >= lv->next_reconcile_ns && !lv->fill_pending) {
    live_run_reconcile(lv);
    lv->next_reconcile_ns = live_now_ns() + (uint64_t)o->reconcile_interval_s * 1000 * NS_PER_MS;
  }
  if (idle_done(lv, now)) {
    log_info("live", "no notification for %ld ms and everything flushed: stopping",
             o->exit_when_idle_ms);
    return 1;
  }
  return 0;
}

/* Watchdog: the loop makes progress unless a batch has waited on the
 * database for longer than LIVE_WATCHDOG_STUCK_MS (the sink retrying a
 * lost connection): then WATCHDOG=1 stops and systemd restarts us only
 * if it stays stuck past WatchdogSec. */
static int loop_progressing(live_t *lv) {
  pthread_mutex_lock(&lv->fl_mu);
  int busy = lv->fl_req >= 0;
  pthread_mutex_unlock(&lv->fl_mu);
  uint64_t now = live_now_ns();
  if (!busy && sink_pending(live_cur_sink(lv)) == 0) lv->progress_ns = now;
  else if (lv->last_commit_any_ns > lv->progress_ns) lv->progress_ns = lv->last_commit_any_ns;
  return now - lv->progress_ns < (uint64_t)LIVE_WATCHDOG_STUCK_MS * NS_PER_MS;
}

/* The main loop; returns the stop reason. */
static const char *main_loop(live_t *lv) {
  while (!lv->fatal) {
    if (live_stop_requested(lv)) break;
    live_process_fetches(lv);
    live_fill_tick(lv, live_now_ns());
    pop_items(lv);
    if (lv->fatal) break;
    if (rpc_in_flight(lv->rpc) > 0) rpc_run(lv->rpc, 0);
    live_process_fetches(lv);
    if (commit_turn(lv) != 0) break;
    live_ops_turn(lv, loop_progressing(lv));
    if (periodic_turn(lv)) return "idle";
  }
  return "signal";
}

/* The summary and the closing log lines. */
static void finish_summary(live_t *lv, const char *reason) {
  msgqueue_stats_t qs;
  msgqueue_get_stats(lv->q, &qs);
  txfetch_stats_t fs;
  txfetch_get_stats(lv->tf, &fs);
  lv->sum.fetch_retries = fs.null_retries;
  lv->sum.checkpoint = lv->cp_committed;
  lv->sum.tip = lv->tip;
  lv->sum.latency_samples = lv->hist.n;
  lv->sum.latency_p50_ms = live_hist_quantile_ms(&lv->hist, 0.50);
  lv->sum.latency_p99_ms = live_hist_quantile_ms(&lv->hist, 0.99);
  lv->sum.latency_max_ms = (double)lv->hist.max_us / 1000.0;
  lv->sum.elapsed_ms = (live_now_ns() - lv->t_start_ns) / NS_PER_MS;
  if (lv->first_update_ns && lv->last_commit_ns > lv->first_update_ns)
    lv->sum.updates_window_ms = (lv->last_commit_ns - lv->first_update_ns) / NS_PER_MS;
  lv->sum.queue_peak_bytes = qs.peak_bytes;
  snprintf(lv->sum.stop_reason, sizeof lv->sum.stop_reason, "%s", lv->fatal ? "error" : reason);
  if (lv->fatal) return;
  sink_stats_t ss, s1;
  sink_get_stats(lv->slot[0].sink, &ss);
  sink_get_stats(lv->slot[1].sink, &s1);
  ss.batches += s1.batches;
  ss.accounts_written += s1.accounts_written;
  ss.accounts_stale_ignored += s1.accounts_stale_ignored;
  ss.tx_written += s1.tx_written;
  ss.retries += s1.retries;
  ss.reconnects += s1.reconnects;
  log_info("live",
           "sink batches=%" PRIu64 " accounts_written=%" PRIu64 " stale_ignored=%" PRIu64
           " tx_written=%" PRIu64 " retries=%" PRIu64 " reconnects=%" PRIu64
           " flush_ms=%" PRIu64 " background_flushes=%" PRIu64 " background_flush_ms=%" PRIu64,
           ss.batches, ss.accounts_written, ss.accounts_stale_ignored, ss.tx_written,
           ss.retries, ss.reconnects, (uint64_t)(lv->flush_ns / NS_PER_MS), lv->fl_count,
           (uint64_t)(lv->fl_ns / NS_PER_MS));
  log_info("live",
           "stopped reason=%s checkpoint=%" PRIu64 " tip=%" PRIu64 " account_updates=%" PRIu64
           " transactions=%" PRIu64 " dead_letters=%" PRIu64 " reconnects=%" PRIu64
           " gap_fills=%" PRIu64 " down_fills=%" PRIu64 " latency_p50_ms=%.2f latency_p99_ms=%.2f"
           " updates_window_ms=%" PRIu64 " flushes=%" PRIu64 " flush_ms=%" PRIu64
           " queue_peak_bytes=%zu peak_rss_kb=%ld elapsed_ms=%" PRIu64,
           lv->sum.stop_reason, lv->sum.checkpoint, lv->sum.tip, lv->sum.account_updates,
           lv->sum.transactions, lv->sum.dead_letters, lv->sum.reconnects, lv->sum.gap_fills,
           lv->sum.down_fills, lv->sum.latency_p50_ms, lv->sum.latency_p99_ms,
           lv->sum.updates_window_ms, lv->flushes, (uint64_t)(lv->flush_ns / NS_PER_MS),
           lv->sum.queue_peak_bytes, peak_rss_kb(), lv->sum.elapsed_ms);
}

int live_run(const live_options_t *o, live_summary_t *sum, char *err, size_t errsz) {
  live_t *lv = calloc(1, sizeof *lv);
  int ret = -1;
  if (!lv) {
    snprintf(err, errsz, "out of memory");
    return -1;
  }
  if (!o || !o->database_url || !o->rpc_url || !o->ws_url || !o->program_id || !o->commitment ||
      !o->idl || !o->decoder) {
    snprintf(err, errsz, "live: database, RPC and websocket URLs, program id and IDL required");
    free(lv);
    return -1;
  }
  lv->t_start_ns = lv->last_data_ns = lv->st_prev_ns = live_now_ns();
  if (setup(lv, o, err, errsz) != 0) goto out;
  if (o->status_interval_s > 0)
    lv->next_status_ns = lv->t_start_ns + (uint64_t)o->status_interval_s * 1000 * NS_PER_MS;
  if (o->reconcile_interval_s > 0)
    lv->next_reconcile_ns = lv->t_start_ns + (uint64_t)o->reconcile_interval_s * 1000 * NS_PER_MS;
  lv->progress_ns = live_now_ns();
  const char *reason = main_loop(lv);
  live_ops_stopping(lv);
  if (!lv->fatal && strcmp(reason, "signal") == 0)
    log_info("live", "stopping: draining and writing the checkpoint");
  shutdown_drain(lv);
  finish_summary(lv, reason);
  if (lv->fatal) snprintf(err, errsz, "%s", lv->fatal_msg);
  else ret = 0;
out:
  if (sum) *sum = lv->sum;
  teardown(lv);
  free(lv);
  return ret;
}
