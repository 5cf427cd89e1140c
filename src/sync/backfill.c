/* Slot-range backfill over JSON-RPC: the signatures and blocks strategies
 * (see backfill.h). One thread: calls are pipelined through the rpc
 * client (txfetch / fetchq keep `concurrency` in flight) and results are
 * applied window by window in ascending slot order so that every
 * checkpoint is exact. */
#include "backfill.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "fetchq.h"
#include "jsonx.h"
#include "log.h"
#include "progress.h"
#include "sigwalk.h"
#include "txfetch.h"

#define BF_DEFAULT_CONCURRENCY BACKFILL_DEFAULT_CONCURRENCY
#define BF_DEFAULT_SIG_LIMIT 1000
#define BF_MAX_SIG_LIMIT 1000
#define BF_GETBLOCKS_MAX_RANGE 500000ULL
#define BF_NULL_TX_RETRIES 3
#define BF_NULL_TX_RETRY_MS 100
#define BF_RUN_SLICE_MS 100

void backfill_options_init(backfill_options_t *o) {
  memset(o, 0, sizeof *o);
  o->commitment = "confirmed";
  o->from_slot = 0;
  o->to_slot = UINT64_MAX;
  o->strategy = BACKFILL_SIGNATURES;
  o->concurrency = BF_DEFAULT_CONCURRENCY;
  o->sig_page_limit = BF_DEFAULT_SIG_LIMIT;
  o->refresh_accounts = true;
  o->progress = PROGRESS_OFF;
  o->window = BACKFILL_DEFAULT_WINDOW;
}

typedef struct bf {
  rpc_client_t *rpc;
  ingest_t *ing;
  sink_t *sink;
  const backfill_options_t *o;
  const char *commitment;
  const char *program_id;
  char stream[64];
  uint64_t from, to;   /* the range */
  uint64_t start;      /* first slot to fetch (after the checkpoint when resuming) */
  unsigned window;     /* signatures / blocks per window */
  size_t windows;      /* windows planned */
  size_t peak_window;  /* most signatures held at once */
  bool has_set;        /* a checkpoint >= from is committed or queued */
  uint64_t last_set;
  unsigned conc;
  bool refresh;
  ingest_touched_t touched;
  progress_t prog;
  backfill_summary_t *sum;
  int failed;          /* 1 error, 2 stopped */
  char *err;
  size_t errsz;
} bf_t;

static void bf_fail(bf_t *b, int kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bf_fail(bf_t *b, int kind, const char *fmt, ...) {
  if (b->failed) return;
  b->failed = kind;
  va_list ap;
  va_start(ap, fmt);
  log_vset_err(b->err, b->errsz, fmt, ap);
  va_end(ap);
}

static bool bf_stopping(const bf_t *b) { return b->o->stop_flag && *b->o->stop_flag; }

/* Checks the stop flag; records the stop once. */
static bool bf_check_stop(bf_t *b) {
  if (!bf_stopping(b)) return false;
  bf_fail(b, 2, "stopped by request");
  return true;
}

static void bf_sink_fail(bf_t *b, int rc, const char *what) {
  if (rc == SINK_ERR_STOPPED) {
    bf_fail(b, 2, "stopped by request while %s", what);
    return;
  }
  bf_fail(b, 1, "sink error while %s: %s: %s", what, sink_strerror(rc), sink_last_error(b->sink));
}

static void bf_ingest_fail(bf_t *b, int rc, const char *what) {
  if (rc == INGEST_ERR_STOPPED) {
    bf_fail(b, 2, "stopped by request while %s", what);
    return;
  }
  bf_fail(b, 1, "ingest failed while %s: %s: %s", what, ingest_strerror(rc),
          sink_last_error(b->sink));
}

/* Queues the checkpoint "slots from..slot are applied" (monotonic). */
static void bf_checkpoint(bf_t *b, uint64_t slot) {
  if (slot < b->from || (b->has_set && slot <= b->last_set)) return;
  int rc = sink_set_checkpoint(b->sink, b->stream, slot, NULL);
  if (rc != 0) {
    bf_sink_fail(b, rc, "setting the checkpoint");
    return;
  }
  b->has_set = true;
  b->last_set = slot;
  b->sum->last_slot = slot;
}

static json_t *slot_json(uint64_t slot);

/* Reports the chain's time at slot (its block time) to the sink: the
 * analytics roll every active market forward to that UTC day. */
static void bf_chain_time(bf_t *b, uint64_t slot, int64_t block_time) {
  int rc = sink_set_chain_time(b->sink, slot, block_time);
  if (rc != 0) bf_sink_fail(b, rc, "setting the chain time");
}

/* The block time of the range's last slot, which no transaction may carry
 * (a quiet program still rolls over at midnight). A skipped slot or an
 * error only costs that: logged, the run goes on. */
static void bf_end_time(bf_t *b) {
  json_t *res = NULL;
  rpc_error_t e;
  memset(&e, 0, sizeof e);
  json_t *params = json_pack("[o]", slot_json(b->to));
  if (!params) return;
  if (rpc_call(b->rpc, "getBlockTime", params, &res, &e) != 0) {
    log_debug("backfill", "getBlockTime slot=%" PRIu64 ": %s", b->to, e.message);
    return;
  }
  if (json_is_integer(res)) bf_chain_time(b, b->to, (int64_t)json_integer_value(res));
  json_decref(res);
}

static void bf_maybe_flush(bf_t *b) {
  if (!sink_batch_due(b->sink)) return;
  int rc = sink_flush(b->sink);
  if (rc != 0) bf_sink_fail(b, rc, "flushing");
}

static void bf_progress(bf_t *b, uint64_t slot) {
  uint64_t done = slot >= b->from ? slot - b->from + 1 : 0;
  progress_update(&b->prog, done, b->sum->transactions);
  if (b->o->on_tick) b->o->on_tick(b->o->tick_user);
}

/* Drives the client one slice; records a fatal internal failure. */
static void bf_run_rpc(bf_t *b) {
  if (rpc_run(b->rpc, BF_RUN_SLICE_MS) < 0) bf_fail(b, 1, "RPC client internal failure");
  if (b->o->on_tick) b->o->on_tick(b->o->tick_user);
}

static json_t *commitment_obj(const char *c) { return json_pack("{s:s}", "commitment", c); }

static json_t *slot_json(uint64_t slot) { return json_integer((json_int_t)slot); }

/* A blocking call; on failure records the error (or the stop). */
static json_t *bf_call(bf_t *b, const char *method, json_t *params) {
  json_t *res = NULL;
  rpc_error_t e;
  memset(&e, 0, sizeof e);
  if (!params) {
    bf_fail(b, 1, "out of memory building %s params", method);
    return NULL;
  }
  if (rpc_call(b->rpc, method, params, &res, &e) != 0) {
    if (e.kind == RPC_ERR_CANCELLED || bf_stopping(b)) {
      bf_fail(b, 2, "stopped by request during %s", method);
    } else {
      char d[320];
      rpc_error_describe(&e, d, sizeof d);
      bf_fail(b, 1, "%s failed: %s", method, d);
    }
    return NULL;
  }
  return res;
}

/* ---- signatures strategy: fetching and applying ------------------------ */

/* Applies one fetched transaction (or its failure) in order. */
static void apply_sig(bf_t *b, const sigwalk_ent_t *e, txfetch_result_t *r) {
  switch (r->status) {
    case TXFETCH_OK: {
      int rc = ingest_transaction_json(b->ing, r->tx, r->has_block ? &r->block : NULL,
                                       b->refresh ? &b->touched : NULL);
      if (rc < 0) {
        bf_ingest_fail(b, rc, "writing transactions");
        return;
      }
      b->sum->transactions++;
      return;
    }
    case TXFETCH_MISSING: {
      /* The node answered "never" for this transaction: record it, go on. */
      int rc = ingest_dead_letter(b->ing, INGEST_DL_TX_MISSING, e->sig, e->slot, r->reason, NULL, 0);
      if (rc < 0) bf_ingest_fail(b, rc, "writing a dead letter");
      return;
    }
    case TXFETCH_CANCELLED:
      bf_fail(b, 2, "stopped by request");
      return;
    default:
      bf_fail(b, 1, "getTransaction %s (slot %" PRIu64 ") failed: %s", e->sig, e->slot, r->reason);
      return;
  }
}

/* Waits for the rpc client (or a due retry) a little. */
static void bf_wait(bf_t *b, const txfetch_t *tf) {
  long w = txfetch_wait_ms(tf);
  if (rpc_in_flight(b->rpc) > 0) {
    if (rpc_run(b->rpc, w < 0 || w > BF_RUN_SLICE_MS ? BF_RUN_SLICE_MS : (int)w) < 0)
      bf_fail(b, 1, "RPC client internal failure");
  } else if (w > 0) {
    struct timespec ts = {0, (w > BF_RUN_SLICE_MS ? BF_RUN_SLICE_MS : w) * 1000000L};
    nanosleep(&ts, NULL);
  }
}

/* Fetches and applies the signatures of one window (ascending order). */
static void apply_window(bf_t *b, const sigwalk_list_t *l) {
  size_t n = l->n, cap = (size_t)b->conc * 4 + 8;
  txfetch_options_t to;
  txfetch_options_init(&to);
  to.commitment = b->commitment;
  to.null_retries = BF_NULL_TX_RETRIES;
  to.retry_base_ms = BF_NULL_TX_RETRY_MS;
  to.retry_max_ms = BF_NULL_TX_RETRY_MS * 8;
  txfetch_t *tf = txfetch_new(b->rpc, &to);
  txfetch_result_t *ring = calloc(cap, sizeof *ring);
  uint8_t *have = calloc(cap, 1);
  if (!tf || !ring || !have) {
    bf_fail(b, 1, "out of memory");
    goto out;
  }
  size_t proc = 0, sub = 0;
  while (proc < n && !b->failed) {
    if (bf_check_stop(b)) break;
    while (sub < n && sub - proc < cap && rpc_in_flight(b->rpc) < b->conc) {
      if (txfetch_submit(tf, sub, l->v[sub].sig, l->v[sub].slot) != 0) {
        bf_fail(b, 1, "cannot submit getTransaction for %s", l->v[sub].sig);
        break;
      }
      sub++;
    }
    txfetch_result_t r;
    while (txfetch_poll(tf, &r)) {
      ring[r.tag % cap] = r;
      have[r.tag % cap] = 1;
    }
    bool progressed = false;
    while (proc < n && !b->failed && have[proc % cap]) {
      const sigwalk_ent_t *e = &l->v[proc];
      apply_sig(b, e, &ring[proc % cap]);
      txfetch_result_clear(&ring[proc % cap]);
      have[proc % cap] = 0;
      if (b->failed) break;
      proc++;
      progressed = true;
      if (!b->refresh && (proc == n || l->v[proc].slot != e->slot)) bf_checkpoint(b, e->slot);
      bf_progress(b, e->slot);
    }
    if (b->failed) break;
    bf_maybe_flush(b);
    if (!progressed && proc < n) bf_wait(b, tf);
  }
out:
  for (size_t i = 0; ring && i < cap; i++)
    if (have[i]) txfetch_result_clear(&ring[i]);
  free(ring);
  free(have);
  txfetch_free(tf);
}

/* Ends a window whose transactions are applied: reads the accounts they
 * touched (with refresh) and moves the checkpoint to hi in the same batch. */
static void end_window(bf_t *b, uint64_t hi) {
  if (b->failed) return;
  if (b->refresh && b->touched.count > 0) {
    char rerr[512] = "";
    long na = accounts_refresh(b->rpc, b->ing, b->sink, b->commitment,
                               (const char (*)[CB_PUBKEY_B58_MAX])b->touched.keys,
                               b->touched.count, b->o->stop_flag, rerr, sizeof rerr);
    if (na < 0) {
      bf_fail(b, bf_stopping(b) ? 2 : 1, "account refresh: %s", rerr);
      return;
    }
    b->sum->accounts += (uint64_t)na;
    ingest_touched_free(&b->touched);
  }
  bf_checkpoint(b, hi);
  bf_maybe_flush(b);
}

/* Applies the signatures of l (already in [lo, hi]) as one window. */
static void run_window(bf_t *b, sigwalk_list_t *l, uint64_t hi) {
  size_t dup = sigwalk_normalize(l);
  if (dup) log_info("backfill", "dropped %zu duplicate signatures", dup);
  b->sum->signatures += l->n;
  if (l->n > b->peak_window) b->peak_window = l->n;
  apply_window(b, l);
  end_window(b, hi);
}

static sigwalk_t walk_init(const bf_t *b, const char *start, uint64_t lo, uint64_t hi,
                           size_t keep_max, sigwalk_list_t *out, sigwalk_pages_t *pages) {
  sigwalk_t w;
  memset(&w, 0, sizeof w);
  w.rpc = b->rpc;
  w.address = b->program_id;
  w.commitment = b->commitment;
  w.limit = b->o->sig_page_limit ? b->o->sig_page_limit : BF_DEFAULT_SIG_LIMIT;
  if (w.limit > BF_MAX_SIG_LIMIT) w.limit = BF_MAX_SIG_LIMIT;
  w.stop_flag = b->o->stop_flag;
  w.start = start;
  w.lo = lo;
  w.hi = hi;
  w.keep_max = keep_max;
  w.out = out;
  w.pages = pages;
  return w;
}

/* Runs a walk; records its failure. Returns 0 or -1. */
static int bf_walk(bf_t *b, sigwalk_t *w) {
  char err[400];
  int rc = sigwalk_run(w, err, sizeof err);
  if (rc == SIGWALK_OK) return 0;
  bf_fail(b, rc == SIGWALK_STOPPED ? 2 : 1, "%s", err);
  return -1;
}

/* Slot windows over the recorded pages, ascending: each about `window`
 * signatures, bounded by the newest slot of a page. */
static size_t plan_windows(const bf_t *b, const sigwalk_pages_t *pl, uint64_t *his, size_t max) {
  size_t nw = 0;
  uint64_t lo = b->start, acc = 0;
  for (size_t k = pl->n; k-- > 0 && nw + 1 < max;) {
    acc += pl->v[k].count;
    uint64_t hi = pl->v[k].first_slot;
    if (acc >= b->window && hi >= lo && hi < b->to) {
      his[nw++] = hi;
      lo = hi + 1;
      acc = 0;
    }
  }
  his[nw++] = b->to;
  return nw;
}

/* The cursor to start a walk of slots <= hi: that of the first (newest)
 * page holding a slot <= hi. */
static const char *window_start(const sigwalk_pages_t *pl, uint64_t hi) {
  for (size_t k = 0; k < pl->n; k++)
    if (pl->v[k].last_slot <= hi) return pl->v[k].before;
  return "";
}

static void run_signatures(bf_t *b) {
  sigwalk_list_t l = {0};
  sigwalk_pages_t pl = {0};
  uint64_t *his = NULL;
  sigwalk_t w = walk_init(b, "", b->start, b->to, b->window, &l, &pl);
  if (bf_walk(b, &w) != 0) goto out;
  if (!w.overflow) { /* the range is one window: walked once */
    b->windows = 1;
    run_window(b, &l, b->to);
    goto out;
  }
  size_t maxw = pl.n + 1;
  his = malloc(maxw * sizeof *his);
  if (!his) {
    bf_fail(b, 1, "out of memory");
    goto out;
  }
  size_t nw = plan_windows(b, &pl, his, maxw);
  b->windows = nw;
  log_info("backfill", "range %" PRIu64 "..%" PRIu64 ": %zu signature pages, %zu windows of about "
           "%u signatures", b->start, b->to, pl.n, nw, b->window);
  uint64_t lo = b->start;
  for (size_t i = 0; i < nw && !b->failed; i++) {
    sigwalk_t ww = walk_init(b, window_start(&pl, his[i]), lo, his[i], SIZE_MAX, &l, NULL);
    log_debug("backfill", "window %zu/%zu slots %" PRIu64 "..%" PRIu64, i + 1, nw, lo, his[i]);
    if (bf_walk(b, &ww) != 0) break;
    run_window(b, &l, his[i]);
    sigwalk_list_free(&l);
    lo = his[i] + 1;
  }
out:
  free(his);
  free(pl.v);
  sigwalk_list_free(&l);
}

/* ---- blocks strategy ----------------------------------------------------- */

static json_t *get_block_full_params(const bf_t *b, uint64_t slot) {
  return json_pack("[o, {s:s, s:i, s:s, s:b, s:s}]", slot_json(slot), "encoding", "json",
                   "maxSupportedTransactionVersion", 0, "transactionDetails", "full", "rewards", 0,
                   "commitment", b->commitment);
}

static bool rpc_code_slot_missing(long code) { return code == -32007 || code == -32009; }

static bool str_array_has(const json_t *arr, const char *key) {
  size_t i;
  const json_t *v;
  json_array_foreach(arr, i, v) {
    const char *s = json_is_string(v) ? json_string_value(v) : jsonx_get_str(v, "pubkey");
    if (s && strcmp(s, key) == 0) return true;
  }
  return false;
}

/* 1 when a json/jsonParsed block transaction lists the program among its
 * keys (static or loaded: an instruction can run only a listed program),
 * 0 when not, -1 when the encoding has no readable key list (base64). */
static int tx_json_mentions(const json_t *tx, const char *program_id) {
  const json_t *t = json_object_get(tx, "transaction");
  if (!json_is_object(t)) return -1;
  const json_t *keys = json_object_get(json_object_get(t, "message"), "accountKeys");
  if (!json_is_array(keys)) return -1;
  if (str_array_has(keys, program_id)) return 1;
  const json_t *la = json_object_get(json_object_get(tx, "meta"), "loadedAddresses");
  return str_array_has(json_object_get(la, "writable"), program_id) ||
         str_array_has(json_object_get(la, "readonly"), program_id);
}

static void apply_block_tx(bf_t *b, const json_t *tx, const txn_block_t *blk, uint64_t slot,
                           size_t i) {
  int m = tx_json_mentions(tx, b->program_id);
  if (m == 0) return;
  int rc;
  if (m < 0) {
    /* No key list in the JSON (base64 wire bytes): parse to decide. */
    txn_t *t = NULL;
    char perr[128];
    if (txn_parse(tx, blk, &t, perr, sizeof perr) != TXN_OK) {
      log_debug("backfill", "slot=%" PRIu64 " transaction %zu does not parse: %s", slot, i, perr);
      return;
    }
    if (!txn_touches_program(t, b->program_id)) {
      txn_free(t);
      return;
    }
    rc = ingest_transaction(b->ing, t, b->refresh ? &b->touched : NULL);
    txn_free(t);
  } else {
    rc = ingest_transaction_json(b->ing, tx, blk, b->refresh ? &b->touched : NULL);
  }
  if (rc < 0) {
    bf_ingest_fail(b, rc, "writing transactions");
    return;
  }
  b->sum->transactions++;
  b->sum->signatures++;
}

static void apply_block(bf_t *b, uint64_t slot, json_t *res, const rpc_error_t *err) {
  if (!res || json_is_null(res)) {
    if (res || (err->kind == RPC_ERR_RPC && rpc_code_slot_missing(err->rpc_code))) {
      b->sum->skipped_slots++;
      log_debug("backfill", "slot=%" PRIu64 " skipped or missing on the node", slot);
      return;
    }
    if (err->kind == RPC_ERR_CANCELLED) {
      bf_fail(b, 2, "stopped by request");
      return;
    }
    char d[320];
    rpc_error_describe(err, d, sizeof d);
    bf_fail(b, 1, "getBlock %" PRIu64 " failed: %s", slot, d);
    return;
  }
  txn_block_t blk;
  if (txn_block_from_json(res, slot, &blk) != TXN_OK) {
    log_warn("backfill", "getBlock slot=%" PRIu64 ": unusable blockTime/blockHeight", slot);
    memset(&blk, 0, sizeof blk);
    blk.slot = slot;
  }
  if (blk.has_block_time) bf_chain_time(b, slot, blk.block_time);
  const json_t *txs = json_object_get(res, "transactions");
  size_t i;
  const json_t *tx;
  json_array_foreach(txs, i, tx) {
    apply_block_tx(b, tx, &blk, slot, i);
    if (b->failed) return;
  }
}

/* Fetches and applies the slots of one window in order. */
static void run_block_list(bf_t *b, const uint64_t *slots, size_t ns) {
  size_t window = (size_t)b->conc + b->conc / 2 + 2;
  fetchq_t *q = fetchq_new(b->rpc, window);
  if (!q) {
    bf_fail(b, 1, "out of memory");
    return;
  }
  size_t proc = 0, sub = 0;
  while (proc < ns && !b->failed) {
    if (bf_check_stop(b)) break;
    while (sub < ns && sub - proc < window && rpc_in_flight(b->rpc) < b->conc) {
      if (fetchq_submit(q, sub, "getBlock", get_block_full_params(b, slots[sub])) != 0) {
        bf_fail(b, 1, "cannot submit getBlock");
        break;
      }
      sub++;
    }
    bool progressed = false;
    while (proc < ns && !b->failed && fetchq_done(q, proc)) {
      rpc_error_t e;
      json_t *res = fetchq_take(q, proc, &e);
      apply_block(b, slots[proc], res, &e);
      json_decref(res);
      if (b->failed) break;
      if (!b->refresh) bf_checkpoint(b, slots[proc]);
      bf_progress(b, slots[proc]);
      proc++;
      progressed = true;
    }
    if (b->failed) break;
    bf_maybe_flush(b);
    if (!progressed && proc < ns) bf_run_rpc(b);
  }
  fetchq_free(q);
}

/* getBlocks [start, end]: the produced slots, checked ascending and in the
 * range, into *slots. Returns the count, or -1 (failure recorded). */
static long get_block_slots(bf_t *b, uint64_t start, uint64_t end, uint64_t **slots, size_t *cap) {
  json_t *params = json_pack("[o, o, o]", slot_json(start), slot_json(end),
                             commitment_obj(b->commitment));
  json_t *res = bf_call(b, "getBlocks", params);
  if (!res) return -1;
  size_t ns = json_array_size(res);
  long k = -1;
  if (!json_is_array(res)) {
    bf_fail(b, 1, "getBlocks %" PRIu64 "..%" PRIu64 ": result is not an array", start, end);
    goto out;
  }
  if (ns > *cap) {
    void *p = realloc(*slots, ns * sizeof **slots);
    if (!p) {
      bf_fail(b, 1, "out of memory");
      goto out;
    }
    *slots = p;
    *cap = ns;
  }
  uint64_t prev = 0;
  for (size_t i = 0; i < ns; i++) {
    uint64_t s;
    if (jsonx_u64(json_array_get(res, i), &s) != 0 || s < start || s > end ||
        (i > 0 && s <= prev)) {
      bf_fail(b, 1, "getBlocks %" PRIu64 "..%" PRIu64 ": entry %zu is not an ascending slot "
              "in the range", start, end, i);
      goto out;
    }
    prev = s;
    (*slots)[i] = s;
  }
  k = (long)ns;
out:
  json_decref(res);
  return k;
}

static void run_blocks(bf_t *b) {
  uint64_t start = b->start;
  uint64_t *slots = NULL;
  size_t cap = 0;
  while (start <= b->to && !b->failed) {
    if (bf_check_stop(b)) break;
    uint64_t end = b->to - start >= BF_GETBLOCKS_MAX_RANGE - 1 ? start + BF_GETBLOCKS_MAX_RANGE - 1
                                                              : b->to;
    long k = get_block_slots(b, start, end, &slots, &cap);
    if (k < 0) break;
    b->sum->skipped_slots += (end - start + 1) - (uint64_t)k;
    log_debug("backfill", "getBlocks %" PRIu64 "..%" PRIu64 ": %ld blocks", start, end, k);
    /* windows of `window` blocks; the last one ends at the page's end */
    for (size_t off = 0; off < (size_t)k || off == 0; off += b->window) {
      size_t cnt = (size_t)k - off < b->window ? (size_t)k - off : b->window;
      bool last = off + cnt >= (size_t)k;
      b->windows++;
      run_block_list(b, slots + off, cnt);
      end_window(b, last ? end : slots[off + cnt - 1]);
      if (b->failed || last) break;
    }
    if (b->failed) break;
    bf_progress(b, end);
    if (end == b->to) break;
    start = end + 1;
  }
  free(slots);
}

/* ---- the run ------------------------------------------------------------- */

/* to_slot UINT64_MAX: the chain tip (getSlot). Returns 0 or -1. */
static int bf_resolve_range(bf_t *b) {
  if (b->to == UINT64_MAX) {
    json_t *r = bf_call(b, "getSlot", json_pack("[o]", commitment_obj(b->commitment)));
    if (!r) return -1;
    if (jsonx_u64(r, &b->to) != 0 || !ingest_slot_ok(b->to))
      bf_fail(b, 1, "getSlot: result is not a slot in range");
    json_decref(r);
    if (b->failed) return -1;
    log_info("backfill", "chain tip slot=%" PRIu64 " (commitment %s)", b->to, b->commitment);
  }
  if (b->from > b->to) {
    bf_fail(b, 1, "empty range: from_slot %" PRIu64 " > to_slot %" PRIu64, b->from, b->to);
    return -1;
  }
  if (!ingest_slot_ok(b->to)) {
    bf_fail(b, 1, "to_slot %" PRIu64 " is above the highest storable slot", b->to);
    return -1;
  }
  b->sum->slots = b->to - b->from + 1;
  int n = b->o->checkpoint_stream
              ? snprintf(b->stream, sizeof b->stream, "%s", b->o->checkpoint_stream)
              : snprintf(b->stream, sizeof b->stream, "backfill:%" PRIu64, b->from);
  if (n <= 0 || (size_t)n >= sizeof b->stream) {
    bf_fail(b, 1, "checkpoint stream name must be 1..63 characters");
    return -1;
  }
  return 0;
}

/* Resumes after the stream's checkpoint when it lies in the range.
 * Returns 0 to run, 1 when the range is already complete, -1 on failure. */
static int bf_resume(bf_t *b) {
  b->start = b->from;
  if (b->o->restart) return 0;
  uint64_t cslot = 0;
  char csig[CB_SIGNATURE_B58_MAX];
  int rc = sink_get_checkpoint(b->sink, b->stream, &cslot, csig);
  if (rc < 0) {
    bf_sink_fail(b, rc, "reading the checkpoint");
    return -1;
  }
  if (rc != 0 || cslot < b->from) return 0;
  b->has_set = true;
  b->last_set = cslot;
  b->sum->last_slot = cslot;
  if (cslot >= b->to) {
    b->sum->complete = true;
    log_info("backfill", "range %" PRIu64 "..%" PRIu64 " already complete (checkpoint "
             "stream=%s slot=%" PRIu64 "): nothing to do", b->from, b->to, b->stream, cslot);
    return 1;
  }
  b->start = cslot + 1;
  b->sum->resumed_from = b->start;
  log_info("backfill", "resuming at slot=%" PRIu64 " (checkpoint stream=%s slot=%" PRIu64 ")",
           b->start, b->stream, cslot);
  return 0;
}

int backfill_run(rpc_client_t *rpc, ingest_t *ing, sink_t *sink, const backfill_options_t *opt,
                 backfill_summary_t *sum, char *err, size_t errsz) {
  backfill_summary_t local;
  if (!sum) sum = &local;
  memset(sum, 0, sizeof *sum);
  if (err && errsz) err[0] = '\0';
  if (!rpc || !ing || !sink || !opt || !opt->program_id || !*opt->program_id) {
    if (err && errsz) snprintf(err, errsz, "backfill: missing rpc client, ingest, sink or program id");
    return -1;
  }
  bf_t b;
  memset(&b, 0, sizeof b);
  b.rpc = rpc;
  b.ing = ing;
  b.sink = sink;
  b.o = opt;
  b.sum = sum;
  b.err = err;
  b.errsz = errsz;
  b.commitment = opt->commitment && *opt->commitment ? opt->commitment : "confirmed";
  b.program_id = opt->program_id;
  b.conc = opt->concurrency ? opt->concurrency : BF_DEFAULT_CONCURRENCY;
  b.refresh = opt->refresh_accounts;
  b.window = opt->window ? opt->window : BACKFILL_DEFAULT_WINDOW;
  b.from = opt->from_slot;
  b.to = opt->to_slot;

  int64_t t0 = progress_now_ms();
  rpc_stats_t rs0, rs1;
  rpc_get_stats(rpc, &rs0);
  ingest_stats_t is0, is1;
  ingest_get_stats(ing, &is0);

  if (bf_resolve_range(&b) != 0) goto out;
  int r = bf_resume(&b);
  if (r != 0) goto out;
  progress_init(&b.prog, opt->progress, "backfill", sum->slots);
  log_info("backfill", "start range=%" PRIu64 "..%" PRIu64 " strategy=%s concurrency=%u "
           "commitment=%s stream=%s refresh=%s window=%u", b.start, b.to,
           opt->strategy == BACKFILL_BLOCKS ? "blocks" : "signatures", b.conc, b.commitment,
           b.stream, b.refresh ? "yes" : "no", b.window);

  if (opt->strategy == BACKFILL_BLOCKS) run_blocks(&b);
  else run_signatures(&b);

  if (!b.failed) bf_end_time(&b);
  if (!b.failed) {
    bf_checkpoint(&b, b.to);
    if (!b.failed) sum->complete = true;
  }
  progress_update(&b.prog, sum->slots, sum->transactions);
  progress_finish(&b.prog);
out:;
  /* Whatever was applied is kept, with its checkpoint. */
  int frc = sink_flush(sink);
  if (frc != 0) {
    if (!b.failed) bf_sink_fail(&b, frc, "flushing");
    else log_error("backfill", "final flush failed: %s: %s", sink_strerror(frc),
                   sink_last_error(sink));
    sum->complete = false;
  }
  rpc_get_stats(rpc, &rs1);
  ingest_get_stats(ing, &is1);
  sum->instructions = is1.rows - is0.rows;
  sum->dead_letters = is1.dead_letters - is0.dead_letters;
  sum->retries = rs1.retries - rs0.retries;
  sum->windows = b.windows;
  sum->peak_window = b.peak_window;
  sum->elapsed_ms = (uint64_t)(progress_now_ms() - t0);
  ingest_touched_free(&b.touched);
  return b.failed ? -1 : 0;
}
