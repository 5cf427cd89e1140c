/* Slot-range backfill over JSON-RPC: the signatures and blocks strategies
 * (see backfill.h). One thread: calls are pipelined through the rpc
 * client (fetchq keeps `concurrency` in flight) and results are applied in
 * ascending slot order so that every checkpoint is exact. */
#include "backfill.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchq.h"
#include "jsonx.h"
#include "log.h"
#include "progress.h"

#define BF_DEFAULT_CONCURRENCY BACKFILL_DEFAULT_CONCURRENCY
#define BF_DEFAULT_SIG_LIMIT 1000
#define BF_MAX_SIG_LIMIT 1000
#define BF_GETBLOCKS_MAX_RANGE 500000ULL
#define BF_NULL_TX_RETRIES 3
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
}

/* One signature of the range. */
typedef struct sig_ent {
  uint64_t slot;
  char sig[CB_SIGNATURE_B58_MAX];
} sig_ent_t;

typedef struct bf {
  rpc_client_t *rpc;
  ingest_t *ing;
  sink_t *sink;
  const backfill_options_t *o;
  const char *commitment;
  const char *program_id;
  char stream[64];
  uint64_t from, to;
  uint64_t full_from;  /* slots >= full_from are ingested; below: refresh set only */
  bool cap_ok;         /* the transaction phase may checkpoint (cap valid) */
  uint64_t cp_cap;     /* highest slot the transaction phase may checkpoint */
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
  if (!b->err || b->errsz == 0) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->err, b->errsz, fmt, ap);
  va_end(ap);
  if (n < 0) b->err[0] = '\0';
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

/* Queues the checkpoint "slots from..slot are applied" (capped, monotonic). */
static void bf_checkpoint(bf_t *b, uint64_t slot, const char *sig, bool final) {
  if (!final) {
    if (!b->cap_ok) return;
    if (slot > b->cp_cap) slot = b->cp_cap;
  }
  if (slot < b->from || (b->has_set && slot <= b->last_set)) return;
  int rc = sink_set_checkpoint(b->sink, b->stream, slot, sig && *sig ? sig : NULL);
  if (rc != 0) {
    bf_sink_fail(b, rc, "setting the checkpoint");
    return;
  }
  b->has_set = true;
  b->last_set = slot;
  b->sum->last_slot = slot;
}

static void bf_maybe_flush(bf_t *b) {
  if (!sink_batch_due(b->sink)) return;
  int rc = sink_flush(b->sink);
  if (rc != 0) bf_sink_fail(b, rc, "flushing");
}

static void bf_progress(bf_t *b, uint64_t slot) {
  uint64_t done = slot >= b->from ? slot - b->from + 1 : 0;
  progress_update(&b->prog, done, b->sum->transactions);
}

/* Drives the client one slice; records a fatal internal failure. */
static void bf_run_rpc(bf_t *b) {
  if (rpc_run(b->rpc, BF_RUN_SLICE_MS) < 0) bf_fail(b, 1, "RPC client internal failure");
}

static json_t *commitment_obj(const char *c) { return json_pack("{s:s}", "commitment", c); }

static json_t *slot_json(uint64_t slot) { return json_integer((json_int_t)slot); }

static void describe_rpc_err(const rpc_error_t *e, char *buf, size_t bufsz) {
  int n;
  if (e->kind == RPC_ERR_RPC)
    n = snprintf(buf, bufsz, "rpc error %ld: %s", e->rpc_code, e->message);
  else if (e->kind == RPC_ERR_HTTP)
    n = snprintf(buf, bufsz, "HTTP %ld: %s", e->http_status, e->message);
  else
    n = snprintf(buf, bufsz, "%s: %s", rpc_error_kind_name(e->kind), e->message);
  if (n < 0 && bufsz) buf[0] = '\0';
}

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
      describe_rpc_err(&e, d, sizeof d);
      bf_fail(b, 1, "%s failed: %s", method, d);
    }
    return NULL;
  }
  return res;
}

/* ---- signatures strategy: the walk ---------------------------------- */

typedef struct sig_list {
  sig_ent_t *v;
  size_t n, cap;
} sig_list_t;

static int sig_list_add(sig_list_t *l, uint64_t slot, const char *sig) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 1024;
    void *p = realloc(l->v, cap * sizeof *l->v);
    if (!p) return -1;
    l->v = p;
    l->cap = cap;
  }
  l->v[l->n].slot = slot;
  memcpy(l->v[l->n].sig, sig, strlen(sig) + 1);
  l->n++;
  return 0;
}

static int cmp_sig(const void *a, const void *b) {
  return strcmp(((const sig_ent_t *)a)->sig, ((const sig_ent_t *)b)->sig);
}

static int cmp_slot_sig(const void *a, const void *b) {
  const sig_ent_t *x = a, *y = b;
  if (x->slot != y->slot) return x->slot < y->slot ? -1 : 1;
  return strcmp(x->sig, y->sig);
}

/* Pages getSignaturesForAddress from the newest entry down until a page's
 * oldest slot is below lo, or a page is short (fewer than `limit` entries:
 * the end of the history) or empty; keeps lo <= slot <= hi. The
 * cursor ("before") is the last signature of the previous page, but the
 * walk is bounded by slot and stops with an error when the node makes no
 * progress (same last signature again) or slots go up (an unknown cursor
 * answered with the newest page). */
static int walk_signatures(bf_t *b, uint64_t lo, uint64_t hi, sig_list_t *out) {
  char cursor[CB_SIGNATURE_B58_MAX] = "";
  uint64_t prev_slot = UINT64_MAX;
  unsigned limit = b->o->sig_page_limit ? b->o->sig_page_limit : BF_DEFAULT_SIG_LIMIT;
  if (limit > BF_MAX_SIG_LIMIT) limit = BF_MAX_SIG_LIMIT;
  uint64_t pages = 0, seen = 0;
  for (;;) {
    if (bf_check_stop(b)) return -1;
    json_t *opts = json_pack("{s:I, s:s}", "limit", (json_int_t)limit, "commitment", b->commitment);
    if (opts && cursor[0]) json_object_set_new(opts, "before", json_string(cursor));
    json_t *params = opts ? json_pack("[s, o]", b->program_id, opts) : NULL;
    json_t *page = bf_call(b, "getSignaturesForAddress", params);
    if (!page) return -1;
    int ret = 0;
    if (!json_is_array(page)) {
      bf_fail(b, 1, "getSignaturesForAddress: result is not an array");
      ret = -1;
      goto next;
    }
    size_t m = json_array_size(page);
    if (m == 0) {
      ret = 1;
      goto next;
    }
    pages++;
    const char *last_sig = NULL;
    uint64_t last_slot = 0;
    for (size_t i = 0; i < m; i++) {
      const json_t *e = json_array_get(page, i);
      const char *sig = jsonx_get_str(e, "signature");
      uint64_t slot;
      if (!sig || strlen(sig) >= CB_SIGNATURE_B58_MAX || strlen(sig) < 32 ||
          jsonx_get_u64(e, "slot", &slot) != 0) {
        bf_fail(b, 1, "getSignaturesForAddress: entry %zu of page %" PRIu64
                " has no valid signature/slot", i, pages);
        ret = -1;
        goto next;
      }
      if (slot > prev_slot) {
        bf_fail(b, 1, "getSignaturesForAddress: slots go up (%" PRIu64 " after %" PRIu64
                ") on page %" PRIu64 " with before=%s: the node is not paging backwards",
                slot, prev_slot, pages, cursor[0] ? cursor : "(none)");
        ret = -1;
        goto next;
      }
      prev_slot = slot;
      seen++;
      if (slot >= lo && slot <= hi && sig_list_add(out, slot, sig) != 0) {
        bf_fail(b, 1, "out of memory collecting signatures");
        ret = -1;
        goto next;
      }
      last_sig = sig;
      last_slot = slot;
    }
    if (strcmp(last_sig, cursor) == 0) {
      bf_fail(b, 1, "getSignaturesForAddress: no progress (page %" PRIu64
              " ends with the cursor %s again)", pages, cursor);
      ret = -1;
      goto next;
    }
    memcpy(cursor, last_sig, strlen(last_sig) + 1);
    /* Below the range, or a short page: the end of the address's history. */
    if (last_slot < lo || m < limit) ret = 1;
    log_debug("backfill", "signatures page=%" PRIu64 " entries=%zu oldest_slot=%" PRIu64
              " kept=%zu", pages, m, last_slot, out->n);
  next:
    json_decref(page);
    if (ret != 0) {
      if (ret > 0)
        log_info("backfill", "signature walk done pages=%" PRIu64 " entries=%" PRIu64
                 " in_range=%zu", pages, seen, out->n);
      return ret > 0 ? 0 : -1;
    }
  }
}

/* Sorts ascending by (slot, signature) and drops duplicate signatures. */
static void sig_list_normalize(sig_list_t *l) {
  if (l->n == 0) return;
  qsort(l->v, l->n, sizeof *l->v, cmp_sig);
  size_t w = 1;
  for (size_t i = 1; i < l->n; i++)
    if (strcmp(l->v[i].sig, l->v[w - 1].sig) != 0) l->v[w++] = l->v[i];
  if (w != l->n) log_info("backfill", "dropped %zu duplicate signatures", l->n - w);
  l->n = w;
  qsort(l->v, l->n, sizeof *l->v, cmp_slot_sig);
}

/* ---- signatures strategy: fetching and applying ------------------------ */

static json_t *get_transaction_params(const bf_t *b, const char *sig) {
  return json_pack("[s, {s:s, s:i, s:s}]", sig, "encoding", "json",
                   "maxSupportedTransactionVersion", 0, "commitment", b->commitment);
}

static json_t *get_block_header_params(const bf_t *b, uint64_t slot) {
  return json_pack("[o, {s:s, s:b, s:s}]", slot_json(slot), "transactionDetails", "none",
                   "rewards", 0, "commitment", b->commitment);
}

static bool rpc_code_slot_missing(long code) { return code == -32007 || code == -32009; }

typedef struct blockinfo {
  int state; /* 0 unknown, 1 known */
  txn_block_t blk;
} blockinfo_t;

/* Applies one fetched transaction (or its failure) in order. */
static void apply_sig(bf_t *b, const sig_ent_t *e, bool full, json_t *res, const rpc_error_t *err,
                      const txn_block_t *blk) {
  if (!res) {
    if (err->kind == RPC_ERR_CANCELLED) {
      bf_fail(b, 2, "stopped by request");
      return;
    }
    char d[320];
    describe_rpc_err(err, d, sizeof d);
    if (err->kind != RPC_ERR_RPC) {
      bf_fail(b, 1, "getTransaction %s (slot %" PRIu64 ") failed: %s", e->sig, e->slot, d);
      return;
    }
    if (!full) return;
    /* The node answered "never" for this transaction: record it, go on. */
    char reason[400];
    if (snprintf(reason, sizeof reason, "getTransaction failed: %s", d) < 0) reason[0] = '\0';
    log_warn("backfill", "getTransaction signature=%s slot=%" PRIu64 ": %s (sent to dead_letters)",
             e->sig, e->slot, d);
    int rc = sink_put_dead_letter(b->sink, "transaction", e->sig, e->slot, reason, NULL, 0);
    if (rc != 0) bf_sink_fail(b, rc, "writing a dead letter");
    else b->sum->dead_letters++;
    return;
  }
  if (json_is_null(res)) {
    if (!full) return;
    log_warn("backfill", "getTransaction signature=%s slot=%" PRIu64 " returned null after %d "
             "tries (sent to dead_letters)", e->sig, e->slot, BF_NULL_TX_RETRIES + 1);
    int rc = sink_put_dead_letter(b->sink, "transaction", e->sig, e->slot,
                                  "getTransaction returned null (transaction not found)", NULL, 0);
    if (rc != 0) bf_sink_fail(b, rc, "writing a dead letter");
    else b->sum->dead_letters++;
    return;
  }
  if (!full) {
    if (b->refresh) ingest_transaction_touched(b->ing, res, NULL, &b->touched);
    return;
  }
  int rc = ingest_transaction_json(b->ing, res, blk, b->refresh ? &b->touched : NULL);
  if (rc < 0) {
    bf_sink_fail(b, rc, "writing transactions");
    return;
  }
  b->sum->transactions++;
}

static void run_signatures(bf_t *b) {
  sig_list_t l = {0};
  uint32_t *bix = NULL;
  uint64_t *bslot = NULL;
  blockinfo_t *binfo = NULL;
  uint8_t *tries = NULL;
  fetchq_t *txq = NULL, *bq = NULL;
  uint64_t lo = b->refresh ? b->from : b->full_from;

  if (walk_signatures(b, lo, b->to, &l) != 0) goto out;
  sig_list_normalize(&l);
  size_t n = l.n;
  b->sum->signatures = 0;
  for (size_t i = 0; i < n; i++)
    if (l.v[i].slot >= b->full_from) b->sum->signatures++;

  /* Distinct slots of the entries to ingest: one getBlock each for the
   * block height (getTransaction carries none). */
  size_t nb = 0;
  bix = calloc(n ? n : 1, sizeof *bix);
  bslot = calloc(n ? n : 1, sizeof *bslot);
  binfo = calloc(n ? n : 1, sizeof *binfo);
  tries = calloc(n ? n : 1, 1);
  if (!bix || !bslot || !binfo || !tries) {
    bf_fail(b, 1, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    if (l.v[i].slot < b->full_from) continue;
    if (nb == 0 || bslot[nb - 1] != l.v[i].slot) bslot[nb++] = l.v[i].slot;
    bix[i] = (uint32_t)(nb - 1);
  }

  size_t window = (size_t)b->conc * 4 + 8;
  txq = fetchq_new(b->rpc, window);
  bq = fetchq_new(b->rpc, window + 1);
  if (!txq || !bq) {
    bf_fail(b, 1, "out of memory");
    goto out;
  }
  size_t nrescan = 0;
  while (nrescan < n && l.v[nrescan].slot < b->full_from) nrescan++;
  if (nrescan)
    log_info("backfill", "re-reading %zu applied transactions (slots < %" PRIu64
             ") to rebuild the account refresh set", nrescan, b->full_from);

  size_t proc = 0, sub = 0, next_block = 0;
  while (proc < n && !b->failed) {
    if (bf_check_stop(b)) break;
    while (sub < n && sub - proc < window && rpc_in_flight(b->rpc) < b->conc) {
      bool full = l.v[sub].slot >= b->full_from;
      if (full && bix[sub] >= next_block) {
        if (fetchq_submit(bq, bix[sub], "getBlock", get_block_header_params(b, l.v[sub].slot)) != 0) {
          bf_fail(b, 1, "cannot submit getBlock");
          break;
        }
        next_block = bix[sub] + 1;
      }
      if (fetchq_submit(txq, sub, "getTransaction", get_transaction_params(b, l.v[sub].sig)) != 0) {
        bf_fail(b, 1, "cannot submit getTransaction");
        break;
      }
      sub++;
    }
    bool progressed = false;
    while (proc < n && !b->failed && fetchq_done(txq, proc)) {
      const sig_ent_t *e = &l.v[proc];
      bool full = e->slot >= b->full_from;
      txn_block_t blk;
      memset(&blk, 0, sizeof blk);
      blk.slot = e->slot;
      if (full) {
        blockinfo_t *bi = &binfo[bix[proc]];
        if (!bi->state) {
          if (!fetchq_done(bq, bix[proc])) break;
          rpc_error_t be;
          json_t *br = fetchq_take(bq, bix[proc], &be);
          bi->state = 1;
          bi->blk.slot = e->slot;
          if (br && !json_is_null(br)) {
            if (txn_block_from_json(br, e->slot, &bi->blk) != TXN_OK) {
              log_warn("backfill", "getBlock slot=%" PRIu64 ": unusable block header; rows "
                       "get no block height", e->slot);
              memset(&bi->blk, 0, sizeof bi->blk);
              bi->blk.slot = e->slot;
            }
          } else if (!br && be.kind == RPC_ERR_CANCELLED) {
            json_decref(br);
            bf_fail(b, 2, "stopped by request");
            break;
          } else if (!br && (be.kind != RPC_ERR_RPC)) {
            char d[320];
            describe_rpc_err(&be, d, sizeof d);
            bf_fail(b, 1, "getBlock %" PRIu64 " failed: %s", e->slot, d);
            break;
          } else {
            char d[320] = "null block";
            if (!br) describe_rpc_err(&be, d, sizeof d);
            log_warn("backfill", "getBlock slot=%" PRIu64 ": %s; rows get no block height",
                     e->slot, d);
          }
          json_decref(br);
        }
        blk = bi->blk;
      }
      rpc_error_t te;
      json_t *res = fetchq_take(txq, proc, &te);
      if (res && json_is_null(res) && tries[proc] < BF_NULL_TX_RETRIES) {
        /* Not visible on this node yet: ask again. */
        tries[proc]++;
        json_decref(res);
        if (fetchq_submit(txq, proc, "getTransaction", get_transaction_params(b, e->sig)) != 0)
          bf_fail(b, 1, "cannot submit getTransaction");
        break;
      }
      apply_sig(b, e, full, res, &te, &blk);
      json_decref(res);
      if (b->failed) break;
      proc++;
      progressed = true;
      if (full && (proc == n || l.v[proc].slot != e->slot)) bf_checkpoint(b, e->slot, e->sig, false);
      bf_progress(b, e->slot);
    }
    if (b->failed) break;
    bf_maybe_flush(b);
    if (!progressed && proc < n) bf_run_rpc(b);
  }
  if (!b->failed) bf_checkpoint(b, b->to, n ? l.v[n - 1].sig : NULL, false);
out:
  fetchq_free(txq);
  fetchq_free(bq);
  free(tries);
  free(binfo);
  free(bslot);
  free(bix);
  free(l.v);
}

/* ---- blocks strategy ----------------------------------------------------- */

static json_t *get_block_full_params(const bf_t *b, uint64_t slot) {
  return json_pack("[o, {s:s, s:i, s:s, s:b, s:s}]", slot_json(slot), "encoding", "json",
                   "maxSupportedTransactionVersion", 0, "transactionDetails", "full", "rewards", 0,
                   "commitment", b->commitment);
}

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

static void apply_block(bf_t *b, uint64_t slot, bool full, json_t *res, const rpc_error_t *err) {
  if (!res || json_is_null(res)) {
    if (res || (err->kind == RPC_ERR_RPC && rpc_code_slot_missing(err->rpc_code))) {
      if (full) {
        b->sum->skipped_slots++;
        log_debug("backfill", "slot=%" PRIu64 " skipped or missing on the node", slot);
      }
      return;
    }
    if (err->kind == RPC_ERR_CANCELLED) {
      bf_fail(b, 2, "stopped by request");
      return;
    }
    char d[320];
    describe_rpc_err(err, d, sizeof d);
    bf_fail(b, 1, "getBlock %" PRIu64 " failed: %s", slot, d);
    return;
  }
  txn_block_t blk;
  if (txn_block_from_json(res, slot, &blk) != TXN_OK) {
    log_warn("backfill", "getBlock slot=%" PRIu64 ": unusable blockTime/blockHeight", slot);
    memset(&blk, 0, sizeof blk);
    blk.slot = slot;
  }
  const json_t *txs = json_object_get(res, "transactions");
  size_t i;
  const json_t *tx;
  json_array_foreach(txs, i, tx) {
    int m = tx_json_mentions(tx, b->program_id);
    if (m == 0) continue;
    if (m < 0) {
      /* No key list in the JSON (base64 wire bytes): parse to decide. */
      txn_t *t = NULL;
      char perr[128];
      if (txn_parse(tx, &blk, &t, perr, sizeof perr) != TXN_OK) {
        log_debug("backfill", "slot=%" PRIu64 " transaction %zu does not parse: %s", slot, i, perr);
        continue;
      }
      if (txn_touches_program(t, b->program_id)) {
        if (!full) {
          if (b->refresh) ingest_transaction_touched(b->ing, tx, &blk, &b->touched);
        } else {
          int rc = ingest_transaction(b->ing, t, b->refresh ? &b->touched : NULL);
          if (rc < 0) bf_sink_fail(b, rc, "writing transactions");
          b->sum->transactions++;
          b->sum->signatures++;
        }
      }
      txn_free(t);
      if (b->failed) return;
      continue;
    }
    if (!full) {
      if (b->refresh) ingest_transaction_touched(b->ing, tx, &blk, &b->touched);
      continue;
    }
    int rc = ingest_transaction_json(b->ing, tx, &blk, b->refresh ? &b->touched : NULL);
    if (rc < 0) {
      bf_sink_fail(b, rc, "writing transactions");
      return;
    }
    b->sum->transactions++;
    b->sum->signatures++;
  }
}

/* Fetches and applies the slots of one getBlocks page in order. */
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
      bool full = slots[proc] >= b->full_from;
      apply_block(b, slots[proc], full, res, &e);
      json_decref(res);
      if (b->failed) break;
      if (full) bf_checkpoint(b, slots[proc], NULL, false);
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

static void run_blocks(bf_t *b) {
  /* Pages always start at from_slot (the same getBlocks requests whether
   * resuming or not); applied slots are fetched again only when the refresh
   * set must be rebuilt. */
  uint64_t start = b->from;
  uint64_t *slots = NULL;
  size_t cap = 0;
  while (start <= b->to && !b->failed) {
    if (bf_check_stop(b)) break;
    uint64_t end = b->to - start >= BF_GETBLOCKS_MAX_RANGE - 1 ? start + BF_GETBLOCKS_MAX_RANGE - 1
                                                              : b->to;
    json_t *params = json_pack("[o, o, o]", slot_json(start), slot_json(end),
                               commitment_obj(b->commitment));
    json_t *res = bf_call(b, "getBlocks", params);
    if (!res) break;
    size_t ns = json_array_size(res);
    if (!json_is_array(res)) {
      bf_fail(b, 1, "getBlocks %" PRIu64 "..%" PRIu64 ": result is not an array", start, end);
      json_decref(res);
      break;
    }
    if (ns > cap) {
      void *p = realloc(slots, ns * sizeof *slots);
      if (!p) {
        bf_fail(b, 1, "out of memory");
        json_decref(res);
        break;
      }
      slots = p;
      cap = ns;
    }
    size_t k = 0;
    uint64_t prev = 0;
    for (size_t i = 0; i < ns; i++) {
      uint64_t s;
      if (jsonx_u64(json_array_get(res, i), &s) != 0 || s < start || s > end ||
          (i > 0 && s <= prev)) {
        bf_fail(b, 1, "getBlocks %" PRIu64 "..%" PRIu64 ": entry %zu is not an ascending slot "
                "in the range", start, end, i);
        break;
      }
      prev = s;
      if (s >= b->full_from || b->refresh) slots[k++] = s;
    }
    json_decref(res);
    if (b->failed) break;
    {
      /* Slots of the applied part that have no block at all. */
      uint64_t lo = start > b->full_from ? start : b->full_from, have = 0;
      for (size_t i = 0; i < k; i++)
        if (slots[i] >= lo) have++;
      if (end >= lo) b->sum->skipped_slots += (end - lo + 1) - have;
    }
    log_debug("backfill", "getBlocks %" PRIu64 "..%" PRIu64 ": %zu blocks", start, end, k);
    run_block_list(b, slots, k);
    if (b->failed) break;
    if (end >= b->full_from) bf_checkpoint(b, end, NULL, false);
    bf_progress(b, end);
    if (end == b->to) break;
    start = end + 1;
  }
  free(slots);
}

/* ---- the run ------------------------------------------------------------- */

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
  b.from = opt->from_slot;
  b.to = opt->to_slot;

  int64_t t0 = progress_now_ms();
  rpc_stats_t rs0, rs1;
  rpc_get_stats(rpc, &rs0);
  ingest_stats_t is0, is1;
  ingest_get_stats(ing, &is0);

  if (b.to == UINT64_MAX) {
    json_t *r = bf_call(&b, "getSlot", json_pack("[o]", commitment_obj(b.commitment)));
    if (!r) goto out;
    if (jsonx_u64(r, &b.to) != 0) bf_fail(&b, 1, "getSlot: result is not a slot");
    json_decref(r);
    if (b.failed) goto out;
    log_info("backfill", "chain tip slot=%" PRIu64 " (commitment %s)", b.to, b.commitment);
  }
  if (b.from > b.to) {
    bf_fail(&b, 1, "empty range: from_slot %" PRIu64 " > to_slot %" PRIu64, b.from, b.to);
    goto out;
  }
  sum->slots = b.to - b.from + (b.to - b.from < UINT64_MAX ? 1 : 0);
  int n = opt->checkpoint_stream ? snprintf(b.stream, sizeof b.stream, "%s", opt->checkpoint_stream)
                                 : snprintf(b.stream, sizeof b.stream, "backfill:%" PRIu64, b.from);
  if (n <= 0 || (size_t)n >= sizeof b.stream) {
    bf_fail(&b, 1, "checkpoint stream name must be 1..63 characters");
    goto out;
  }
  b.full_from = b.from;
  if (!opt->restart) {
    uint64_t cslot = 0;
    char csig[CB_SIGNATURE_B58_MAX];
    int rc = sink_get_checkpoint(sink, b.stream, &cslot, csig);
    if (rc < 0) {
      bf_sink_fail(&b, rc, "reading the checkpoint");
      goto out;
    }
    if (rc == 0 && cslot >= b.from) {
      b.has_set = true;
      b.last_set = cslot;
      sum->last_slot = cslot;
      if (cslot >= b.to) {
        sum->complete = true;
        log_info("backfill", "range %" PRIu64 "..%" PRIu64 " already complete (checkpoint "
                 "stream=%s slot=%" PRIu64 "): nothing to do", b.from, b.to, b.stream, cslot);
        goto out;
      }
      b.full_from = cslot + 1;
      sum->resumed_from = b.full_from;
      log_info("backfill", "resuming at slot=%" PRIu64 " (checkpoint stream=%s slot=%" PRIu64 ")",
               b.full_from, b.stream, cslot);
    }
  }
  if (b.refresh) {
    /* The final slot is checkpointed only once the accounts are written. */
    b.cap_ok = b.to > b.from;
    b.cp_cap = b.to - 1;
  } else {
    b.cap_ok = true;
    b.cp_cap = b.to;
  }
  progress_init(&b.prog, opt->progress, "backfill", sum->slots);
  log_info("backfill", "start range=%" PRIu64 "..%" PRIu64 " strategy=%s concurrency=%u "
           "commitment=%s stream=%s refresh=%s", b.from, b.to,
           opt->strategy == BACKFILL_BLOCKS ? "blocks" : "signatures", b.conc, b.commitment,
           b.stream, b.refresh ? "yes" : "no");

  if (opt->strategy == BACKFILL_BLOCKS) run_blocks(&b);
  else run_signatures(&b);

  if (!b.failed && b.refresh) {
    char rerr[512] = "";
    progress_update(&b.prog, sum->slots, sum->transactions);
    progress_clear(&b.prog);
    log_info("backfill", "refreshing %zu touched accounts", b.touched.count);
    long na = backfill_refresh_accounts(rpc, ing, sink, b.commitment,
                                        (const char (*)[CB_PUBKEY_B58_MAX])b.touched.keys,
                                        b.touched.count, opt->stop_flag, rerr, sizeof rerr);
    if (na < 0) bf_fail(&b, bf_stopping(&b) ? 2 : 1, "account refresh: %s", rerr);
    else sum->accounts = (uint64_t)na;
  }
  if (!b.failed) {
    bf_checkpoint(&b, b.to, NULL, true);
    if (!b.failed) sum->complete = true;
  }
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
  sum->dead_letters += is1.dead_letters - is0.dead_letters;
  sum->retries = rs1.retries - rs0.retries;
  sum->elapsed_ms = (uint64_t)(progress_now_ms() - t0);
  ingest_touched_free(&b.touched);
  return b.failed ? -1 : 0;
}
