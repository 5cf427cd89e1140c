/* Transaction fetch pipeline (see txfetch.h). */
#include "txfetch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonx.h"
#include "log.h"
#include "msgqueue.h"

#define TF_BUCKETS 1024     /* block cache hash buckets (power of two) */
#define TF_BLOCKS_KEPT 1024 /* finished block headers kept for reuse */
#define NS_PER_MS 1000000ull

typedef enum { E_WAIT_TX = 0, E_RETRY, E_WAIT_BLOCK, E_READY } ent_state_t;
typedef enum { B_PENDING = 0, B_DONE, B_FAILED } blk_state_t;

typedef struct ent {
  struct ent *next; /* ready / retry / block waiter list */
  struct ent *all_prev, *all_next;
  struct txfetch *f;
  ent_state_t state;
  txfetch_status_t status;
  uint64_t tag;
  char sig[CB_SIGNATURE_B58_MAX];
  uint64_t slot;
  int tries;
  uint64_t due_ns;
  json_t *tx;
  bool has_block;
  txn_block_t blk;
  rpc_error_t err;
  char reason[360];
} ent_t;

typedef struct bent {
  uint64_t slot;
  blk_state_t state;
  txn_block_t blk;
  ent_t *waiters;
  struct bent *hnext;
  struct bent *lru_prev, *lru_next; /* finished entries only */
  struct txfetch *f;
} bent_t;

struct txfetch {
  rpc_client_t *rpc;
  char commitment[16];
  int null_retries, retry_base_ms, retry_max_ms;
  ent_t *all;
  size_t n_pending;
  ent_t *ready_head, *ready_tail;
  ent_t *retry_head;
  bent_t *buckets[TF_BUCKETS];
  bent_t *lru_head, *lru_tail; /* head = most recent */
  size_t n_lru;
  size_t rpc_outstanding; /* callbacks still to run */
  int detached;
  txfetch_stats_t st;
};

void txfetch_options_init(txfetch_options_t *o) {
  memset(o, 0, sizeof *o);
  o->commitment = "confirmed";
  o->null_retries = TXFETCH_DEFAULT_NULL_RETRIES;
  o->retry_base_ms = TXFETCH_DEFAULT_RETRY_BASE_MS;
  o->retry_max_ms = TXFETCH_DEFAULT_RETRY_MAX_MS;
}

txfetch_t *txfetch_new(rpc_client_t *rpc, const txfetch_options_t *o) {
  if (!rpc || !o || !o->commitment || strlen(o->commitment) >= 16 || o->null_retries < 0 ||
      o->retry_base_ms < 0 || o->retry_max_ms < o->retry_base_ms)
    return NULL;
  txfetch_t *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->rpc = rpc;
  memcpy(f->commitment, o->commitment, strlen(o->commitment) + 1);
  f->null_retries = o->null_retries;
  f->retry_base_ms = o->retry_base_ms;
  f->retry_max_ms = o->retry_max_ms;
  return f;
}

/* ---- block cache ---------------------------------------------------------- */

static size_t bucket_of(uint64_t slot) {
  return (size_t)((slot * 0x9E3779B97F4A7C15ull) >> 32) & (TF_BUCKETS - 1);
}

static bent_t *block_find(txfetch_t *f, uint64_t slot) {
  for (bent_t *b = f->buckets[bucket_of(slot)]; b; b = b->hnext)
    if (b->slot == slot) return b;
  return NULL;
}

static void block_unhash(txfetch_t *f, bent_t *b) {
  bent_t **pp = &f->buckets[bucket_of(b->slot)];
  while (*pp && *pp != b) pp = &(*pp)->hnext;
  if (*pp) *pp = b->hnext;
}

static void lru_remove(txfetch_t *f, bent_t *b) {
  if (b->lru_prev) b->lru_prev->lru_next = b->lru_next;
  else f->lru_head = b->lru_next;
  if (b->lru_next) b->lru_next->lru_prev = b->lru_prev;
  else f->lru_tail = b->lru_prev;
  b->lru_prev = b->lru_next = NULL;
  f->n_lru--;
}

/* A finished entry joins the reuse list; the oldest ones beyond the cap go. */
static void lru_add(txfetch_t *f, bent_t *b) {
  b->lru_prev = NULL;
  b->lru_next = f->lru_head;
  if (f->lru_head) f->lru_head->lru_prev = b;
  else f->lru_tail = b;
  f->lru_head = b;
  f->n_lru++;
  while (f->n_lru > TF_BLOCKS_KEPT) {
    bent_t *old = f->lru_tail;
    lru_remove(f, old);
    block_unhash(f, old);
    free(old);
  }
}

/* ---- fetch entries ------------------------------------------------------- */

static void ready_push(txfetch_t *f, ent_t *e) {
  e->state = E_READY;
  e->next = NULL;
  if (f->ready_tail) f->ready_tail->next = e;
  else f->ready_head = e;
  f->ready_tail = e;
}

static void ent_unlink(txfetch_t *f, ent_t *e) {
  if (e->all_prev) e->all_prev->all_next = e->all_next;
  else f->all = e->all_next;
  if (e->all_next) e->all_next->all_prev = e->all_prev;
  e->all_prev = e->all_next = NULL;
  f->n_pending--;
}

static void ent_free(ent_t *e) {
  json_decref(e->tx);
  free(e);
}

/* The fetch is over with status st (reason already filled when needed). */
static void finish(txfetch_t *f, ent_t *e, txfetch_status_t st) {
  e->status = st;
  if (st == TXFETCH_OK) f->st.ok++;
  else if (st == TXFETCH_MISSING) f->st.missing++;
  else if (st == TXFETCH_FAILED) f->st.failed++;
  ready_push(f, e);
}

static void on_block(void *user, json_t *result, const rpc_error_t *err);
static void on_tx(void *user, json_t *result, const rpc_error_t *err);

static void submit_tx(txfetch_t *f, ent_t *e) {
  json_t *params = json_pack("[s{s:s,s:i,s:s}]", e->sig, "encoding", "json",
                             "maxSupportedTransactionVersion", 0, "commitment", f->commitment);
  e->state = E_WAIT_TX;
  e->tries++;
  if (!params || rpc_submit(f->rpc, "getTransaction", params, on_tx, e) != 0) {
    e->err.kind = RPC_ERR_TRANSPORT;
    snprintf(e->err.message, sizeof e->err.message, "out of memory submitting getTransaction");
    snprintf(e->reason, sizeof e->reason, "getTransaction could not be submitted (out of memory)");
    finish(f, e, TXFETCH_FAILED);
    return;
  }
  f->rpc_outstanding++;
}

/* The transaction is in e->tx: attach its block header (shared per slot). */
static void need_block(txfetch_t *f, ent_t *e) {
  uint64_t slot = e->slot;
  if (jsonx_get_u64(e->tx, "slot", &slot) == 0) e->slot = slot;
  bent_t *b = block_find(f, slot);
  if (b && b->state != B_PENDING) {
    lru_remove(f, b); /* most recently used again */
    lru_add(f, b);
    e->has_block = b->state == B_DONE;
    if (e->has_block) e->blk = b->blk;
    finish(f, e, TXFETCH_OK);
    return;
  }
  if (b) {
    e->state = E_WAIT_BLOCK;
    e->next = b->waiters;
    b->waiters = e;
    return;
  }
  json_t *params = slot <= (uint64_t)INT64_MAX
                       ? json_pack("[I{s:s,s:b,s:s}]", (json_int_t)slot, "transactionDetails",
                                   "none", "rewards", 0, "commitment", f->commitment)
                       : NULL;
  b = params ? calloc(1, sizeof *b) : NULL;
  if (!b) {
    json_decref(params);
    finish(f, e, TXFETCH_OK); /* without the block height */
    return;
  }
  b->slot = slot;
  b->state = B_PENDING;
  b->f = f;
  b->hnext = f->buckets[bucket_of(slot)];
  f->buckets[bucket_of(slot)] = b;
  e->state = E_WAIT_BLOCK;
  e->next = NULL;
  b->waiters = e;
  f->st.block_requests++;
  if (rpc_submit(f->rpc, "getBlock", params, on_block, b) != 0) {
    b->state = B_FAILED;
    b->waiters = NULL;
    lru_add(f, b);
    finish(f, e, TXFETCH_OK);
    return;
  }
  f->rpc_outstanding++;
}

static void maybe_destroy(txfetch_t *f) {
  if (f->detached && f->rpc_outstanding == 0) free(f);
}

static void on_tx(void *user, json_t *result, const rpc_error_t *err) {
  ent_t *e = user;
  txfetch_t *f = e->f;
  f->rpc_outstanding--;
  if (f->detached) {
    ent_free(e);
    maybe_destroy(f);
    return;
  }
  if (err) {
    e->err = *err;
    char d[300];
    rpc_error_describe(err, d, sizeof d);
    if (err->kind == RPC_ERR_CANCELLED) {
      snprintf(e->reason, sizeof e->reason, "getTransaction cancelled");
      finish(f, e, TXFETCH_CANCELLED);
    } else if (err->kind == RPC_ERR_RPC) {
      snprintf(e->reason, sizeof e->reason, "getTransaction failed: %s", d);
      finish(f, e, TXFETCH_MISSING);
    } else {
      snprintf(e->reason, sizeof e->reason, "getTransaction failed: %s", d);
      finish(f, e, TXFETCH_FAILED);
    }
    return;
  }
  if (!result || json_is_null(result)) {
    if (e->tries > f->null_retries) {
      snprintf(e->reason, sizeof e->reason,
               "getTransaction returned null %d times (transaction not found)", e->tries);
      finish(f, e, TXFETCH_MISSING);
      return;
    }
    uint64_t ms = (uint64_t)f->retry_base_ms << (e->tries - 1 < 20 ? e->tries - 1 : 20);
    if (ms > (uint64_t)f->retry_max_ms) ms = (uint64_t)f->retry_max_ms;
    e->due_ns = msgqueue_now_ns() + ms * NS_PER_MS;
    e->state = E_RETRY;
    e->next = f->retry_head;
    f->retry_head = e;
    f->st.null_retries++;
    return;
  }
  e->tx = json_incref(result);
  need_block(f, e);
}

static void on_block(void *user, json_t *result, const rpc_error_t *err) {
  bent_t *b = user;
  txfetch_t *f = b->f;
  f->rpc_outstanding--;
  if (f->detached) {
    free(b);
    maybe_destroy(f);
    return;
  }
  int cancelled = err && err->kind == RPC_ERR_CANCELLED;
  if (!err && result && !json_is_null(result) &&
      txn_block_from_json(result, b->slot, &b->blk) == TXN_OK) {
    b->state = B_DONE;
  } else {
    b->state = B_FAILED;
    if (!cancelled)
      log_warn("txfetch", "getBlock slot=%" PRIu64 ": %s; its rows get no block height", b->slot,
               err ? err->message : "no usable block header");
  }
  ent_t *w = b->waiters;
  b->waiters = NULL;
  lru_add(f, b);
  while (w) {
    ent_t *next = w->next;
    if (cancelled) {
      w->err = *err;
      snprintf(w->reason, sizeof w->reason, "getBlock cancelled");
      finish(f, w, TXFETCH_CANCELLED);
    } else {
      w->has_block = b->state == B_DONE;
      if (w->has_block) w->blk = b->blk;
      finish(f, w, TXFETCH_OK);
    }
    w = next;
  }
}

/* ---- interface ------------------------------------------------------------ */

static int sig_text_ok(const char *s) {
  static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  size_t n = s ? strlen(s) : 0;
  if (n < 32 || n >= CB_SIGNATURE_B58_MAX) return 0;
  return strspn(s, alphabet) == n;
}

int txfetch_submit(txfetch_t *f, uint64_t tag, const char *signature, uint64_t slot_hint) {
  if (!f || !sig_text_ok(signature)) return -1;
  ent_t *e = calloc(1, sizeof *e);
  if (!e) return -1;
  e->f = f;
  e->tag = tag;
  memcpy(e->sig, signature, strlen(signature) + 1);
  e->slot = slot_hint;
  e->all_next = f->all;
  if (f->all) f->all->all_prev = e;
  f->all = e;
  f->n_pending++;
  f->st.submitted++;
  submit_tx(f, e);
  return 0;
}

int txfetch_poll(txfetch_t *f, txfetch_result_t *out) {
  if (f->retry_head) {
    uint64_t now = msgqueue_now_ns();
    ent_t **pp = &f->retry_head;
    while (*pp) {
      ent_t *e = *pp;
      if (e->due_ns <= now) {
        *pp = e->next;
        e->next = NULL;
        submit_tx(f, e);
      } else {
        pp = &e->next;
      }
    }
  }
  ent_t *e = f->ready_head;
  if (!e) return 0;
  f->ready_head = e->next;
  if (!f->ready_head) f->ready_tail = NULL;
  ent_unlink(f, e);
  memset(out, 0, sizeof *out);
  out->tag = e->tag;
  memcpy(out->signature, e->sig, sizeof out->signature);
  out->slot = e->slot;
  out->status = e->status;
  out->tx = e->tx;
  e->tx = NULL;
  out->has_block = e->has_block;
  out->block = e->blk;
  out->tries = e->tries;
  out->err = e->err;
  memcpy(out->reason, e->reason, sizeof out->reason);
  ent_free(e);
  return 1;
}

void txfetch_result_clear(txfetch_result_t *r) {
  if (!r) return;
  json_decref(r->tx);
  r->tx = NULL;
}

size_t txfetch_pending(const txfetch_t *f) { return f ? f->n_pending : 0; }

int txfetch_min_slot(const txfetch_t *f, uint64_t *out) {
  int have = 0;
  uint64_t m = UINT64_MAX;
  for (const ent_t *e = f ? f->all : NULL; e; e = e->all_next) {
    have = 1;
    if (e->slot < m) m = e->slot;
  }
  *out = m;
  return have;
}

long txfetch_wait_ms(const txfetch_t *f) {
  if (f->ready_head) return 0;
  if (!f->retry_head) return -1;
  uint64_t now = msgqueue_now_ns(), first = UINT64_MAX;
  for (const ent_t *e = f->retry_head; e; e = e->next)
    if (e->due_ns < first) first = e->due_ns;
  return first <= now ? 0 : (long)((first - now + NS_PER_MS - 1) / NS_PER_MS);
}

void txfetch_get_stats(const txfetch_t *f, txfetch_stats_t *out) { *out = f->st; }

void txfetch_free(txfetch_t *f) {
  if (!f) return;
  f->detached = 1;
  ent_t *e = f->all;
  while (e) {
    ent_t *next = e->all_next;
    if (e->state != E_WAIT_TX) ent_free(e); /* pending ones go in their callback */
    e = next;
  }
  f->all = f->ready_head = f->ready_tail = f->retry_head = NULL;
  for (size_t i = 0; i < TF_BUCKETS; i++) {
    bent_t *b = f->buckets[i];
    while (b) {
      bent_t *next = b->hnext;
      b->waiters = NULL;
      if (b->state != B_PENDING) free(b); /* pending ones go in their callback */
      b = next;
    }
    f->buckets[i] = NULL;
  }
  maybe_destroy(f);
}
