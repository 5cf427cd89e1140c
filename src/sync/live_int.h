/* Live sync internals, shared by the files of the live module only
 * (src/sync/live*.c); the interface is live.h.
 *
 *   live.c        message classification; queue items -> ingest; the
 *                 transaction fetches (txfetch)
 *   live_flush.c  the two sinks, the flusher thread, checkpoint staging,
 *                 commit latency
 *   live_fill.c   the confirmed tip (getSlot), gap fills on (re)connect and
 *                 while the websocket is down, reconciliation, status line
 *   live_run.c    set-up, the main loop, shutdown, live_run() */
#ifndef CBI_LIVE_INT_H
#define CBI_LIVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "live.h"
#include "msgqueue.h"
#include "recorder.h"
#include "wsmsg.h"
#include "rpc.h"
#include "sink.h"
#include "txfetch.h"
#include "ws_client.h"

#define LIVE_STREAM "live"
#define LIVE_GAP_STREAM "live-gap"
#define LIVE_DEFAULT_QUEUE_BYTES (16u << 20)
#define LIVE_TX_NULL_RETRIES 6        /* getTransaction null results before giving up */
#define LIVE_TX_RETRY_BASE_MS 250     /* doubled per null result */
#define LIVE_MAX_OUTSTANDING 4096     /* fetches alive before the queue is left alone */
#define LIVE_POP_BUDGET 512           /* items per loop turn */
#define LIVE_SEEN_GEN 16384           /* signatures per dedup generation */
#define LIVE_FILL_RETRY_MIN_MS 2000
#define LIVE_FILL_RETRY_MAX_MS 60000
#define LIVE_SHUTDOWN_FETCH_MS 1500   /* in-flight fetches get this long at shutdown */
#define LIVE_CKPT_ONLY_EVERY_MS 1000  /* a checkpoint without data at most this often */
#define LIVE_HANDOFF_RECORDS 2000     /* a batch this big goes to the flusher at once */
#define LIVE_SINK_MAX_RECORDS 20000   /* the sinks' own flush limit (backstop) */
#define LIVE_TIP_REFRESH_MS 5000      /* getSlot at least this often */
#define LIVE_CHAIN_TIME_MS 1000       /* getBlockTime of the newest slot at most this
                                         often (the analytics' latest indexed day) */
#define LIVE_TIP_CHASE_MS 1000        /* ... and this often while the websocket runs ahead */
#define LIVE_SLOT_AHEAD_MAX 10000     /* a message this far beyond the confirmed tip
                                         (about an hour of slots) is a slot-range dead letter */
#define LIVE_SLOTS_PER_S_MAX 5        /* ... plus this per second of the getSlot answer's age
                                         (the chain makes about 2.5 slots a second) */
#define LIVE_DOWN_FILL_AFTER_MS 2000  /* websocket down this long: fill over RPC ... */
#define LIVE_DOWN_FILL_EVERY_MS 3000  /* ... and again this long after each fill */

#define NS_PER_MS 1000000ull
#define LIVE_WATCHDOG_STUCK_MS 30000  /* a batch waiting on the database this long
                                         stops the watchdog pings */

/* 10 us buckets up to 100 ms, then 1 ms buckets up to 10 s, then overflow. */
#define LIVE_HIST_FINE 10000
#define LIVE_HIST_COARSE 9900
#define LIVE_HIST_N (LIVE_HIST_FINE + LIVE_HIST_COARSE + 1)

typedef struct live_hist {
  uint32_t b[LIVE_HIST_N];
  uint64_t n;
  uint64_t max_us;
} live_hist_t;

/* One of the two sinks (connections). The writer fills one while the
 * flusher thread commits the other, so decoding and database work
 * overlap; batches still commit strictly in the order they were handed
 * over, each with the checkpoint that was valid when it was. */
typedef struct live_sink_slot {
  sink_t *sink;
  ingest_t *ing;
  uint64_t *lat_t; /* receive times of the account updates in the batch */
  size_t lat_n, lat_cap;
  uint64_t batches_seen;
  int has_ckpt;       /* a checkpoint is set on the pending batch */
  uint64_t cp;        /* the checkpoint the handed-over batch carries */
  int rc;             /* background flush result */
  uint64_t commit_ns; /* when it committed */
  uint64_t flush_ns;  /* how long the background flush took */
} live_sink_slot_t;

typedef struct live {
  const live_options_t *o;
  const char *fetch_commitment; /* getTransaction/getBlock: never "processed" */
  uint64_t margin;
  msgqueue_t *q;
  ws_client_t *ws;
  rpc_client_t *rpc;    /* live fetches, getSlot */
  rpc_client_t *rpc_bf; /* backfill, snapshot, reconcile */
  txfetch_t *tf;
  live_sink_slot_t slot[2];
  int cur; /* the slot the writer fills */

  /* flusher thread */
  pthread_t fl_thread;
  int fl_started;
  pthread_mutex_t fl_mu;
  pthread_cond_t fl_cv;
  int fl_req;  /* slot being flushed, -1 when idle */
  int fl_done; /* slot flushed and not settled yet, or -1 */
  int fl_quit;
  uint64_t fl_count, fl_ns; /* background flushes (under fl_mu) */
  recorder_t *rec;
  uint64_t rec_t0_ns;
  int fatal;
  char fatal_msg[256];

  /* connection / gap state */
  int connected;
  uint64_t conn_gen;
  uint64_t down_since_ns;  /* websocket down since (valid while !connected) */
  uint64_t last_fill_ns;   /* the last fill (any kind) ended */
  int fill_pending;
  uint64_t fill_to; /* 0 = first slot of the connection not seen yet */
  uint64_t fill_retry_ns;
  unsigned fill_failures;
  int first_run;
  int snapshot_done;

  /* slots */
  uint64_t tip;          /* highest valid slot seen on the websocket */
  uint64_t rpc_tip;      /* highest getSlot answer (0 = none yet) */
  uint64_t rpc_tip_ns;   /* when getSlot last answered */
  int tip_req_inflight;
  uint64_t tip_req_ns, next_tip_ns;
  uint64_t cp;           /* current checkpoint value */
  uint64_t cp_set;       /* last value handed to the sink */
  uint64_t cp_committed; /* last value committed */
  uint64_t cp_set_ns;

  /* chain time: getBlockTime of the newest slot, queued on the current
   * batch like a checkpoint (sink_set_chain_time) */
  int chain_req_inflight;
  uint64_t chain_req_slot, next_chain_ns;
  int has_chain;   /* a chain time not yet queued on a batch */
  int chain_known; /* chain_time holds an answer (metrics: tip block time) */
  uint64_t chain_slot;
  int64_t chain_time;
  /* block time of the committed checkpoint's slot (metrics: indexed block
   * time), asked with getBlockTime at most every LIVE_CHAIN_TIME_MS */
  int idx_req_inflight;
  uint64_t idx_req_slot, next_idx_ns;
  uint64_t idx_slot;
  int64_t idx_time;

  /* signature dedup */
  uint64_t *seen[2];
  size_t seen_n;

  /* latency */
  live_hist_t hist;
  uint64_t first_update_ns, last_commit_ns; /* throughput window */
  uint64_t flushes, flush_ns;
  uint8_t *scratch; /* decoded account data */
  size_t scratch_cap;

  /* timing */
  uint64_t t_start_ns, last_data_ns, next_status_ns, next_reconcile_ns;
  uint64_t st_prev_updates, st_prev_tx, st_prev_ns;

  /* operations surface (live_ops.c): counters already reported */
  ingest_stats_t ops_ing[2];
  sink_stats_t ops_sink[2];
  uint64_t ops_trailing[CB_ACCOUNT__COUNT];
  uint64_t ops_tx, ops_gap_fills, ops_reconnects, ops_tip, ops_cp;
  uint64_t progress_ns, last_commit_any_ns; /* watchdog: last sign of progress */

  live_summary_t sum;
} live_t;

/* ---- live.c ---- */

/* Queue item from the websocket thread -> ingest / fetches / state. */
void live_handle_item(live_t *lv, msgqueue_item_t *it);
/* Ingests every finished transaction fetch. */
void live_process_fetches(live_t *lv);
/* Dead letter through the current ingest (fatal only when the sink is). */
void live_dead_letter(live_t *lv, ingest_dl_kind_t k, const char *key, uint64_t slot,
                      const char *reason, const uint8_t *raw, size_t rawlen);
/* --record: opens the recorder (0, or -1 with err); closes it. */
int live_recorder_open(live_t *lv, char *err, size_t errsz);
void live_recorder_close(live_t *lv);
/* Signature dedup sets. Returns 0 or -1 (no memory). */
int live_seen_init(live_t *lv);

/* ---- live_flush.c ---- */

uint64_t live_now_ns(void);
sink_t *live_cur_sink(const live_t *lv);
ingest_t *live_cur_ing(const live_t *lv);
int live_stop_requested(const live_t *lv);
/* An ingest code: 0 when it is not negative, else records the fatal error
 * (or the stop) and returns -1. */
int live_ingest_rc(live_t *lv, int rc, const char *what);
/* The same for a sink code on sink. */
int live_sink_rc_on(live_t *lv, const sink_t *sink, int rc, const char *what);
void live_lat_push(live_t *lv, uint64_t t_ns);
void live_lat_note_batches(live_t *lv, size_t committed_upto);
void live_hist_add(live_hist_t *h, uint64_t us);
double live_hist_quantile_ms(const live_hist_t *h, double q);
/* The tip the checkpoint may follow: the websocket's, capped by getSlot. */
uint64_t live_confirmed_tip(const live_t *lv);
void live_update_checkpoint(live_t *lv);
int live_flusher_start(live_t *lv);
void live_flusher_stop(live_t *lv);
/* Settles a finished background flush; wait: first waits for a running
 * one. 1 = still running (only without wait), 0 = idle, -1 = fatal. */
int live_fl_sync(live_t *lv, int wait);
/* Hands the current batch to the flusher (block: wait for a running one). */
int live_handoff(live_t *lv, int block);
/* Everything received so far committed, with the checkpoint. 0 or -1. */
int live_flush_now(live_t *lv);

/* ---- live_fill.c ---- */

/* Before applying a message at slot: the connection's gap fill when due. */
void live_maybe_fill(live_t *lv, uint64_t slot);
/* Loop duty: a pending gap fill that failed earlier, the down fill while
 * the websocket is away, the getSlot refresh. */
void live_fill_tick(live_t *lv, uint64_t now);
/* 1 when slot is so far beyond the confirmed tip that it must not be
 * trusted (why filled), else 0. */
int live_slot_absurd(const live_t *lv, uint64_t slot, char *why, size_t whysz);
void live_status_line(live_t *lv, uint64_t now);
void live_run_reconcile(live_t *lv);

/* ---- live_ops.c (every call is a no-op without o->ops) ---- */

/* RPC completion hook (rpc_options_t.on_done; user = the live_t). */
void live_ops_rpc_done(void *user, const char *method, int err_kind, double seconds);
/* A websocket notification of metrics_cbi_notif_t kind was received. */
void live_ops_notification(const live_t *lv, int kind);
/* The websocket connected (subscriptions live) or went away. */
void live_ops_connection(live_t *lv, int connected);
/* A batch of slot idx committed after flush_ns of writing. */
void live_ops_committed(live_t *lv, int idx, uint64_t flush_ns);
/* A notification's account update committed latency_us after it arrived. */
void live_ops_latency(const live_t *lv, uint64_t latency_us);
/* A gap fill finished (slots filled, transactions fetched); the first
 * one completes start-up (readiness, READY=1). */
void live_ops_gap_fill(live_t *lv, uint64_t slots, uint64_t transactions);
/* Once per main-loop turn: counter deltas (ingest, decoder, fetches),
 * tip/indexed slots, backlog, then ops_tick(progressed). */
void live_ops_turn(live_t *lv, int progressed);
/* backfill_options_t.on_tick during gap fills (user = the live_t): the
 * main loop is busy filling, which is progress (start-up timeout
 * extension, watchdog, health). */
void live_ops_fill_tick(void *user);
/* Shutdown begins: STOPPING=1. */
void live_ops_stopping(live_t *lv);

#endif
