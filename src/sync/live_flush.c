/* Live sync, writing (live_int.h): two sinks, the flusher thread that
 * commits one while the writer fills the other, the checkpoint staged on
 * each batch, and the commit latency of account updates. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_int.h"
#include "log.h"

uint64_t live_now_ns(void) { return msgqueue_now_ns(); }

sink_t *live_cur_sink(const live_t *lv) { return lv->slot[lv->cur].sink; }
ingest_t *live_cur_ing(const live_t *lv) { return lv->slot[lv->cur].ing; }

int live_stop_requested(const live_t *lv) {
  return (lv->o->stop_flag && *lv->o->stop_flag) || (lv->o->abort_flag && *lv->o->abort_flag);
}

static void set_fatal(live_t *lv, const char *what, const char *text, const char *detail) {
  if (lv->fatal) return;
  lv->fatal = 1;
  snprintf(lv->fatal_msg, sizeof lv->fatal_msg, "%s: %s (%s)", what, text, detail);
  log_error("live", "%s", lv->fatal_msg);
}

/* A sink call failed. Connection loss is retried inside the sink; what
 * comes out is a stop (shutdown) or a hard database error. */
int live_sink_rc_on(live_t *lv, const sink_t *sink, int rc, const char *what) {
  if (rc >= 0) return 0;
  if (rc == SINK_ERR_STOPPED && live_stop_requested(lv)) return -1;
  set_fatal(lv, what, sink_strerror(rc), sink ? sink_last_error(sink) : "");
  return -1;
}

static int sink_rc(live_t *lv, int rc, const char *what) {
  return live_sink_rc_on(lv, live_cur_sink(lv), rc, what);
}

/* Bad input never comes back from ingest as an error: a negative code is
 * the sink gone past its retries (or a stop). */
int live_ingest_rc(live_t *lv, int rc, const char *what) {
  if (rc >= 0) return 0;
  if (rc == INGEST_ERR_STOPPED && live_stop_requested(lv)) return -1;
  set_fatal(lv, what, ingest_strerror(rc), sink_last_error(live_cur_sink(lv)));
  return -1;
}

/* ---- latency ------------------------------------------------------------- */

void live_hist_add(live_hist_t *h, uint64_t us) {
  size_t i;
  if (us < 100000) i = (size_t)(us / 10);
  else if (us < 10000000) i = LIVE_HIST_FINE + (size_t)((us - 100000) / 1000);
  else i = LIVE_HIST_N - 1;
  if (i >= LIVE_HIST_N) i = LIVE_HIST_N - 1;
  h->b[i]++;
  h->n++;
  if (us > h->max_us) h->max_us = us;
}

/* Upper edge of the bucket holding quantile q, in ms. */
double live_hist_quantile_ms(const live_hist_t *h, double q) {
  if (h->n == 0) return 0.0;
  uint64_t rank = (uint64_t)((double)h->n * q);
  if (rank >= h->n) rank = h->n - 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < LIVE_HIST_N; i++) {
    seen += h->b[i];
    if (seen > rank) {
      double us = i < LIVE_HIST_FINE ? (double)(i + 1) * 10.0
                                     : 100000.0 + (double)(i - LIVE_HIST_FINE + 1) * 1000.0;
      if (us > (double)h->max_us) us = (double)h->max_us;
      return us / 1000.0;
    }
  }
  return (double)h->max_us / 1000.0;
}

/* Latency bookkeeping: a sink put may flush the batch before queuing the
 * new record; every account update noted before it is then committed. */
static void lat_commit(live_t *lv, live_sink_slot_t *s, size_t n, uint64_t commit_ns) {
  if (n > s->lat_n) n = s->lat_n;
  for (size_t i = 0; i < n; i++) {
    uint64_t us = (commit_ns > s->lat_t[i] ? commit_ns - s->lat_t[i] : 0) / 1000;
    live_hist_add(&lv->hist, us);
    live_ops_latency(lv, us);
  }
  if (n > 0 && commit_ns > lv->last_commit_ns) lv->last_commit_ns = commit_ns;
  if (n == 0) return;
  if (s->lat_n > n) memmove(s->lat_t, s->lat_t + n, (s->lat_n - n) * sizeof *s->lat_t);
  s->lat_n -= n;
}

void live_lat_note_batches(live_t *lv, size_t committed_upto) {
  live_sink_slot_t *s = &lv->slot[lv->cur];
  sink_stats_t st;
  sink_get_stats(s->sink, &st);
  if (st.batches == s->batches_seen) return;
  s->batches_seen = st.batches;
  lat_commit(lv, s, committed_upto, live_now_ns());
}

void live_lat_push(live_t *lv, uint64_t t_ns) {
  live_sink_slot_t *s = &lv->slot[lv->cur];
  if (s->lat_n == s->lat_cap) {
    size_t cap = s->lat_cap ? s->lat_cap * 2 : 1024;
    uint64_t *p = realloc(s->lat_t, cap * sizeof *p);
    if (!p) return; /* a missed sample, not an error */
    s->lat_t = p;
    s->lat_cap = cap;
  }
  s->lat_t[s->lat_n++] = t_ns;
}

/* ---- checkpoint ------------------------------------------------------------ */

uint64_t live_confirmed_tip(const live_t *lv) {
  return lv->tip < lv->rpc_tip ? lv->tip : lv->rpc_tip;
}

void live_update_checkpoint(live_t *lv) {
  if (lv->fill_pending) return;
  uint64_t mo = 0;
  int have = txfetch_min_slot(lv->tf, &mo);
  lv->cp = live_checkpoint_next(lv->cp, live_confirmed_tip(lv), lv->margin, have, mo);
}

/* ---- the flusher --------------------------------------------------------------- */

static void *flusher_main(void *arg) {
  live_t *lv = arg;
  pthread_mutex_lock(&lv->fl_mu);
  for (;;) {
    while (lv->fl_req < 0 && !lv->fl_quit) pthread_cond_wait(&lv->fl_cv, &lv->fl_mu);
    if (lv->fl_req < 0) break;
    int idx = lv->fl_req;
    pthread_mutex_unlock(&lv->fl_mu);
    uint64_t t0 = live_now_ns();
    int rc = sink_flush(lv->slot[idx].sink);
    uint64_t t1 = live_now_ns();
    pthread_mutex_lock(&lv->fl_mu);
    lv->slot[idx].rc = rc;
    lv->slot[idx].commit_ns = t1;
    lv->slot[idx].flush_ns = t1 - t0;
    lv->fl_count++;
    lv->fl_ns += t1 - t0;
    lv->fl_req = -1;
    lv->fl_done = idx;
    pthread_cond_broadcast(&lv->fl_cv);
    /* the writer may be waiting for input: the next batch can go now */
    msgqueue_wake(lv->q);
  }
  pthread_mutex_unlock(&lv->fl_mu);
  return NULL;
}

int live_flusher_start(live_t *lv) {
  lv->fl_req = lv->fl_done = -1;
  pthread_mutex_init(&lv->fl_mu, NULL);
  pthread_cond_init(&lv->fl_cv, NULL);
  if (pthread_create(&lv->fl_thread, NULL, flusher_main, lv) != 0) {
    pthread_mutex_destroy(&lv->fl_mu);
    pthread_cond_destroy(&lv->fl_cv);
    return -1;
  }
  lv->fl_started = 1;
  return 0;
}

void live_flusher_stop(live_t *lv) {
  if (!lv->fl_started) return;
  pthread_mutex_lock(&lv->fl_mu);
  lv->fl_quit = 1;
  pthread_cond_broadcast(&lv->fl_cv);
  pthread_mutex_unlock(&lv->fl_mu);
  pthread_join(lv->fl_thread, NULL);
  pthread_mutex_destroy(&lv->fl_mu);
  pthread_cond_destroy(&lv->fl_cv);
  lv->fl_started = 0;
}

/* Books a finished background flush: latencies, committed checkpoint,
 * errors. Returns 0 or -1 (fatal or stop). */
static int settle(live_t *lv, int idx) {
  live_sink_slot_t *s = &lv->slot[idx];
  if (s->rc != 0) return live_sink_rc_on(lv, s->sink, s->rc, "flush");
  lv->last_commit_any_ns = s->commit_ns;
  sink_stats_t st;
  sink_get_stats(s->sink, &st);
  s->batches_seen = st.batches;
  live_ops_committed(lv, idx, s->flush_ns);
  lat_commit(lv, s, s->lat_n, s->commit_ns);
  if (s->cp > lv->cp_committed) lv->cp_committed = s->cp;
  return 0;
}

int live_fl_sync(live_t *lv, int wait) {
  pthread_mutex_lock(&lv->fl_mu);
  if (wait)
    while (lv->fl_req >= 0) pthread_cond_wait(&lv->fl_cv, &lv->fl_mu);
  int busy = lv->fl_req >= 0, done = lv->fl_done;
  if (!busy) lv->fl_done = -1;
  pthread_mutex_unlock(&lv->fl_mu);
  if (busy) return 1;
  if (done >= 0 && settle(lv, done) != 0) return -1;
  return lv->fatal ? -1 : 0;
}

/* Sets the checkpoint on the current batch when it moved (and the batch
 * carries data, or the last one is old enough). */
static int stage_checkpoint(live_t *lv) {
  live_sink_slot_t *s = &lv->slot[lv->cur];
  if (lv->has_chain) { /* the chain's time: queued like a checkpoint */
    if (sink_rc(lv, sink_set_chain_time(s->sink, lv->chain_slot, lv->chain_time),
                "chain time") != 0)
      return -1;
    lv->has_chain = 0;
    s->has_ckpt = 1;
  }
  live_update_checkpoint(lv);
  if (lv->cp == lv->cp_set) return 0;
  if (sink_pending(s->sink) == 0 &&
      live_now_ns() - lv->cp_set_ns < LIVE_CKPT_ONLY_EVERY_MS * NS_PER_MS)
    return 0;
  if (sink_rc(lv, sink_set_checkpoint(s->sink, LIVE_STREAM, lv->cp, NULL), "checkpoint") != 0)
    return -1;

  s->has_ckpt = 1;
  lv->cp_set = lv->cp;
  lv->cp_set_ns = live_now_ns();
  return 0;
}

int live_handoff(live_t *lv, int block) {
  int r = live_fl_sync(lv, block);
  if (r < 0) return -1;
  if (r == 1) return 0;
  if (stage_checkpoint(lv) != 0) return -1;
  live_sink_slot_t *s = &lv->slot[lv->cur];
  if (sink_pending(s->sink) == 0 && !s->has_ckpt) return 0;
  s->cp = lv->cp_set;
  s->has_ckpt = 0;
  pthread_mutex_lock(&lv->fl_mu);
  lv->fl_req = lv->cur;
  pthread_cond_signal(&lv->fl_cv);
  pthread_mutex_unlock(&lv->fl_mu);
  lv->cur = 1 - lv->cur;
  return 0;
}

int live_flush_now(live_t *lv) {
  if (live_fl_sync(lv, 1) != 0) return -1;
  if (stage_checkpoint(lv) != 0) return -1;
  live_sink_slot_t *s = &lv->slot[lv->cur];
  uint64_t cp = lv->cp_set;
  uint64_t t0 = live_now_ns();
  int rc = sink_flush(s->sink);
  uint64_t t1 = live_now_ns();
  lv->flush_ns += t1 - t0;
  lv->flushes++;
  if (sink_rc(lv, rc, "flush") != 0) return -1;
  s->has_ckpt = 0;
  if (cp > lv->cp_committed) lv->cp_committed = cp;
  sink_stats_t st;
  sink_get_stats(s->sink, &st);
  s->batches_seen = st.batches;
  live_ops_committed(lv, lv->cur, t1 - t0);
  lv->last_commit_any_ns = t1;
  lat_commit(lv, s, s->lat_n, t1);
  return 0;
}
