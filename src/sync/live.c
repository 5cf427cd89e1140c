/* Live sync, writer side (live.h): queue -> ingest -> sink, gap fills,
 * transaction fetches, checkpoint, status, shutdown. Everything here runs
 * on the thread that called live_run(); the websocket thread only fills
 * the queue. */
#include "live.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "b64.h"
#include "backfill.h"
#include "reconcile.h"
#include "snapshot.h"
#include "ingest.h"
#include "jsonx.h"
#include "log.h"
#include "msgqueue.h"
#include "replay.h"
#include "rpc.h"
#include "sink.h"
#include "txn.h"
#include "ws_client.h"

#define LIVE_STREAM "live"
#define LIVE_GAP_STREAM "live-gap"
#define LIVE_DEFAULT_QUEUE_BYTES (16u << 20)
#define LIVE_TX_NULL_RETRIES 6        /* getTransaction null results before giving up */
#define LIVE_TX_RETRY_BASE_MS 250     /* doubled per null result */
#define LIVE_MAX_OUTSTANDING 4096     /* fetches alive before the queue is left alone */
#define LIVE_POP_BUDGET 512           /* items per loop turn */
#define LIVE_BLOCK_CACHE 1024         /* slots of block heights kept */
#define LIVE_SEEN_GEN 16384           /* signatures per dedup generation */
#define LIVE_FILL_RETRY_MIN_MS 2000
#define LIVE_FILL_RETRY_MAX_MS 60000
#define LIVE_SHUTDOWN_FETCH_MS 1500   /* in-flight fetches get this long at shutdown */
#define LIVE_CKPT_ONLY_EVERY_MS 1000  /* a checkpoint without data at most this often */
#define LIVE_HANDOFF_RECORDS 2000     /* a batch this big goes to the flusher at once */
#define LIVE_SINK_MAX_RECORDS 20000   /* the sinks' own flush limit (backstop) */

#define NS_PER_MS 1000000ull

/* ---- small pure helpers ---------------------------------------------------- */

int live_utf8_valid(const uint8_t *p, size_t n, size_t *bad_off) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
      cp = c & 0x1F;
      min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      cp = c & 0x0F;
      min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      goto bad;
    }
    if (need > n - i - 1) goto bad;
    for (size_t k = 1; k <= need; k++) {
      uint8_t d = p[i + k];
      if ((d & 0xC0) != 0x80) goto bad;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto bad;
    i += need + 1;
  }
  return 1;
bad:
  if (bad_off) *bad_off = i;
  return 0;
}

uint64_t live_checkpoint_next(uint64_t cp, uint64_t tip, uint64_t margin, bool has_outstanding,
                              uint64_t min_outstanding) {
  uint64_t cand = tip > margin ? tip - margin : 0;
  if (has_outstanding) {
    uint64_t lim = min_outstanding > 0 ? min_outstanding - 1 : 0;
    if (cand > lim) cand = lim;
  }
  return cand > cp ? cand : cp;
}

static int b58_text_ok(const char *s, size_t minlen, size_t maxlen) {
  static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  size_t n = strlen(s);
  if (n < minlen || n > maxlen) return 0;
  for (size_t i = 0; i < n; i++)
    if (!memchr(alphabet, s[i], sizeof alphabet - 1)) return 0;
  return 1;
}

void live_msg_clear(live_msg_t *m) {
  json_decref(m->doc);
  m->doc = NULL;
}

/* reason = what, then ": detail" when detail is given */
static live_msg_kind_t msg_bad(live_msg_t *out, const char *what, const char *detail) {
  snprintf(out->reason, sizeof out->reason, "%s%s%s", what, detail ? ": " : "",
           detail ? detail : "");
  out->kind = LIVE_MSG_BAD;
  return LIVE_MSG_BAD;
}

live_msg_kind_t live_parse_message(const uint8_t *data, size_t len, int binary, live_msg_t *out) {
  memset(out, 0, sizeof *out);
  char tmp[160];
  size_t off = 0;
  if (binary) return msg_bad(out, "binary frame", NULL);
  const uint8_t *nul = memchr(data, 0, len);
  if (nul) {
    snprintf(tmp, sizeof tmp, "%zu", (size_t)(nul - data));
    return msg_bad(out, "NUL byte at offset", tmp);
  }
  if (!live_utf8_valid(data, len, &off)) {
    snprintf(tmp, sizeof tmp, "%zu", off);
    return msg_bad(out, "invalid UTF-8 at offset", tmp);
  }
  out->doc = jsonx_loads((const char *)data, len, tmp, sizeof tmp);
  if (!out->doc) return msg_bad(out, "malformed JSON", tmp);
  if (!json_is_object(out->doc)) return msg_bad(out, "not a JSON object", NULL);
  const char *method = jsonx_get_str(out->doc, "method");
  if (!method) return msg_bad(out, "not a notification (no method)", NULL);
  json_t *params = json_object_get(out->doc, "params");
  json_t *result = json_is_object(params) ? json_object_get(params, "result") : NULL;
  if (strcmp(method, "slotNotification") == 0) {
    if (!json_is_object(result) || jsonx_get_u64(result, "slot", &out->slot) != 0)
      return msg_bad(out, "slotNotification without a slot", NULL);
    json_t *root = json_object_get(result, "root");
    if (root && !json_is_null(root)) {
      if (jsonx_u64(root, &out->root) != 0)
        return msg_bad(out, "slotNotification with a bad root", NULL);
      out->has_root = true;
    }
    out->kind = LIVE_MSG_SLOT;
    return out->kind;
  }
  int is_prog = strcmp(method, "programNotification") == 0;
  int is_logs = strcmp(method, "logsNotification") == 0;
  if (!is_prog && !is_logs) {
    snprintf(tmp, sizeof tmp, "%.100s", method);
    return msg_bad(out, "unknown method", tmp);
  }
  json_t *context = json_is_object(result) ? json_object_get(result, "context") : NULL;
  json_t *value = json_is_object(result) ? json_object_get(result, "value") : NULL;
  if (!json_is_object(context) || jsonx_get_u64(context, "slot", &out->slot) != 0)
    return msg_bad(out, "notification without a context slot", method);
  if (!json_is_object(value)) return msg_bad(out, "notification without a value object", method);
  if (is_prog) {
    const char *pk = jsonx_get_str(value, "pubkey");
    json_t *acc = json_object_get(value, "account");
    if (!pk || !b58_text_ok(pk, 32, 44))
      return msg_bad(out, "programNotification without a valid pubkey", NULL);
    if (!acc || (!json_is_object(acc) && !json_is_null(acc)))
      return msg_bad(out, "programNotification without an account", NULL);
    out->pubkey = pk;
    out->account = acc;
    out->kind = LIVE_MSG_ACCOUNT;
    return out->kind;
  }
  const char *sig = jsonx_get_str(value, "signature");
  if (!sig || !b58_text_ok(sig, 64, 88))
    return msg_bad(out, "logsNotification without a valid signature", NULL);
  json_t *err = json_object_get(value, "err");
  out->tx_failed = err && !json_is_null(err);
  out->signature = sig;
  out->kind = LIVE_MSG_LOGS;
  return out->kind;
}

/* ---- fast path for programNotification --------------------------------------- */

static size_t js_ws(const char *s, size_t n, size_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

static int js_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* i at '"': the index after the closing quote, or 0 if malformed. */
static size_t js_string(const char *s, size_t n, size_t i) {
  for (i++; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') return i + 1;
    if (c < 0x20) return 0;
    if (c == '\\') {
      if (++i >= n) return 0;
      c = (unsigned char)s[i];
      if (c == 'u') {
        if (n - i < 5 || !js_hex(s[i + 1]) || !js_hex(s[i + 2]) || !js_hex(s[i + 3]) ||
            !js_hex(s[i + 4]))
          return 0;
        i += 4;
      } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
        return 0;
      }
    }
  }
  return 0;
}

static size_t js_digits(const char *s, size_t n, size_t i) {
  size_t st = i;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  return i > st ? i : 0;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?: index after it, or 0. */
static size_t js_number(const char *s, size_t n, size_t i) {
  if (s[i] == '-') i++;
  if (i >= n) return 0;
  if (s[i] == '0') i++;
  else if (!(i = js_digits(s, n, i))) return 0;
  if (i < n && s[i] == '.' && !(i = js_digits(s, n, i + 1))) return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (!(i = js_digits(s, n, i))) return 0;
  }
  return i;
}

/* 1 when s[0..n) is exactly one JSON value (RFC 8259 grammar, nesting up
 * to 64 levels), surrounded by whitespace only. One pass, no allocation;
 * UTF-8 is checked separately. */
static int json_syntax_ok(const char *s, size_t n) {
  char stack[64];
  int sp = 0;
  enum { S_VALUE, S_VALUE_OR_CLOSE, S_KEY, S_KEY_OR_CLOSE, S_AFTER } st = S_VALUE;
  size_t i = js_ws(s, n, 0);
  for (;;) {
    if (st == S_AFTER) {
      i = js_ws(s, n, i);
      if (sp == 0) return i == n;
      if (i >= n) return 0;
      if (s[i] == ',') {
        i = js_ws(s, n, i + 1);
        st = stack[sp - 1] == '{' ? S_KEY : S_VALUE;
      } else if (s[i] == (stack[sp - 1] == '{' ? '}' : ']')) {
        sp--;
        i++;
      } else {
        return 0;
      }
      continue;
    }
    if (i >= n) return 0;
    char c = s[i];
    if (st == S_KEY || st == S_KEY_OR_CLOSE) {
      if (st == S_KEY_OR_CLOSE && c == '}') {
        sp--;
        i++;
        st = S_AFTER;
        continue;
      }
      if (c != '"' || !(i = js_string(s, n, i))) return 0;
      i = js_ws(s, n, i);
      if (i >= n || s[i] != ':') return 0;
      i = js_ws(s, n, i + 1);
      st = S_VALUE;
      continue;
    }
    if (st == S_VALUE_OR_CLOSE && c == ']') {
      sp--;
      i++;
      st = S_AFTER;
      continue;
    }
    if (c == '{' || c == '[') {
      if (sp == (int)sizeof stack) return 0;
      stack[sp++] = c;
      i = js_ws(s, n, i + 1);
      st = c == '{' ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
      continue;
    }
    if (c == '"') i = js_string(s, n, i);
    else if (c == '-' || (c >= '0' && c <= '9')) i = js_number(s, n, i);
    else if (n - i >= 4 && memcmp(s + i, "true", 4) == 0) i += 4;
    else if (n - i >= 5 && memcmp(s + i, "false", 5) == 0) i += 5;
    else if (n - i >= 4 && memcmp(s + i, "null", 4) == 0) i += 4;
    else return 0;
    if (i == 0) return 0;
    st = S_AFTER;
  }
}

/* Member key of the object at obj (already validated). */
static int raw_get(const replay_span_t *obj, const char *key, replay_span_t *out) {
  if (obj->len == 0 || obj->ptr[0] != '{') return 0;
  return replay_raw_member(obj->ptr, obj->len, key, out) == 1;
}

static int raw_obj(const replay_span_t *parent, const char *key, replay_span_t *out) {
  return raw_get(parent, key, out) && out->len > 0 && out->ptr[0] == '{';
}

static int raw_u64(const replay_span_t *v, uint64_t *out) {
  if (v->len == 0 || v->len > 20) return 0;
  uint64_t x = 0;
  for (size_t i = 0; i < v->len; i++) {
    char c = v->ptr[i];
    if (c < '0' || c > '9') return 0;
    uint64_t d = (uint64_t)(c - '0');
    if (x > (UINT64_MAX - d) / 10) return 0;
    x = x * 10 + d;
  }
  if (v->len > 1 && v->ptr[0] == '0') return 0; /* JSON has no leading zeros */
  *out = x;
  return 1;
}

/* An escape-free JSON string: content span without the quotes. */
static int raw_str(const replay_span_t *v, replay_span_t *content) {
  if (v->len < 2 || v->ptr[0] != '"' || v->ptr[v->len - 1] != '"') return 0;
  content->ptr = v->ptr + 1;
  content->len = v->len - 2;
  for (size_t i = 0; i < content->len; i++)
    if (content->ptr[i] == '\\' || (unsigned char)content->ptr[i] < 0x20) return 0;
  return 1;
}

static int raw_key_text(const replay_span_t *v, char *out, size_t outsz) {
  replay_span_t c;
  if (!raw_str(v, &c) || c.len == 0 || c.len >= outsz) return 0;
  memcpy(out, c.ptr, c.len);
  out[c.len] = '\0';
  return 1;
}

int live_fast_account(const uint8_t *data, size_t len, live_fast_account_t *out) {
  replay_span_t top = {(const char *)data, len}, v, params, result, context, value, account, arr;
  size_t i = 0;
  while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')) i++;
  top.ptr += i;
  top.len -= i;
  if (top.len == 0 || top.ptr[0] != '{' || !json_syntax_ok(top.ptr, top.len)) return 0;
  if (!raw_get(&top, "method", &v) || v.len != sizeof "\"programNotification\"" - 1 ||
      memcmp(v.ptr, "\"programNotification\"", v.len) != 0)
    return 0;
  if (!raw_obj(&top, "params", &params) || !raw_obj(&params, "result", &result) ||
      !raw_obj(&result, "context", &context) || !raw_obj(&result, "value", &value) ||
      !raw_obj(&value, "account", &account))
    return 0;
  if (!raw_get(&context, "slot", &v) || !raw_u64(&v, &out->slot)) return 0;
  if (!raw_get(&value, "pubkey", &v) || !raw_key_text(&v, out->pubkey, sizeof out->pubkey) ||
      !b58_text_ok(out->pubkey, 32, 44))
    return 0;
  if (!raw_get(&account, "owner", &v) || !raw_key_text(&v, out->owner, sizeof out->owner) ||
      !b58_text_ok(out->owner, 32, 44))
    return 0;
  if (!raw_get(&account, "lamports", &v) || !raw_u64(&v, &out->lamports)) return 0;
  if (!raw_get(&account, "data", &arr) || arr.len == 0 || arr.ptr[0] != '[') return 0;
  replay_raw_iter_t it;
  replay_span_t e0, e1, e2, c0, c1;
  if (replay_raw_iter_init(&it, arr.ptr, arr.len) != 0 || replay_raw_iter_next(&it, NULL, &e0) != 1 ||
      replay_raw_iter_next(&it, NULL, &e1) != 1 || replay_raw_iter_next(&it, NULL, &e2) != 0)
    return 0;
  if (!raw_str(&e0, &c0) || !raw_str(&e1, &c1) || c1.len != 6 || memcmp(c1.ptr, "base64", 6) != 0)
    return 0;
  out->b64 = c0.ptr;
  out->b64_len = c0.len;
  return 1;
}

/* ---- latency histogram ------------------------------------------------------ */

/* 10 us buckets up to 100 ms, then 1 ms buckets up to 10 s, then overflow. */
#define HIST_FINE 10000
#define HIST_COARSE 9900
#define HIST_N (HIST_FINE + HIST_COARSE + 1)

typedef struct hist {
  uint32_t b[HIST_N];
  uint64_t n;
  uint64_t max_us;
} hist_t;

static void hist_add(hist_t *h, uint64_t us) {
  size_t i;
  if (us < 100000) i = (size_t)(us / 10);
  else if (us < 10000000) i = HIST_FINE + (size_t)((us - 100000) / 1000);
  else i = HIST_N - 1;
  if (i >= HIST_N) i = HIST_N - 1;
  h->b[i]++;
  h->n++;
  if (us > h->max_us) h->max_us = us;
}

/* Upper edge of the bucket holding quantile q, in ms. */
static double hist_quantile_ms(const hist_t *h, double q) {
  if (h->n == 0) return 0.0;
  uint64_t rank = (uint64_t)((double)h->n * q);
  if (rank >= h->n) rank = h->n - 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < HIST_N; i++) {
    seen += h->b[i];
    if (seen > rank) {
      double us = i < HIST_FINE ? (double)(i + 1) * 10.0
                                : 100000.0 + (double)(i - HIST_FINE + 1) * 1000.0;
      if (us > (double)h->max_us) us = (double)h->max_us;
      return us / 1000.0;
    }
  }
  return (double)h->max_us / 1000.0;
}

/* ---- transaction fetches ---------------------------------------------------- */

typedef enum {
  F_NEW = 0,     /* to submit */
  F_TX_WAIT,     /* getTransaction in flight */
  F_TX_OK,       /* result in tx; needs its block */
  F_TX_NULL,     /* null result: retry later */
  F_TX_FAILED,   /* error: dead letter */
  F_RETRY_WAIT,  /* waiting for due_ns */
  F_BLOCK_WAIT,  /* waiting for a getBlock */
  F_BLOCK_READY, /* block known (or failed): ingest */
  F_CANCELLED    /* client going away */
} fetch_state_t;

typedef struct live live_t;

typedef struct fetch {
  struct fetch *next;              /* ready / retry / block waiter list */
  struct fetch *all_prev, *all_next;
  live_t *lv;
  fetch_state_t state;
  char sig[CB_SIGNATURE_B58_MAX];
  uint64_t slot;                   /* notification slot, then the transaction's */
  int tries;
  uint64_t due_ns;
  json_t *tx;
  rpc_error_t err;
} fetch_t;

typedef enum { B_EMPTY = 0, B_PENDING, B_DONE, B_FAILED } block_state_t;

/* One of the two sinks (connections). The writer fills one while the
 * flusher thread commits the other, so decoding and database work
 * overlap; batches still commit strictly in the order they were handed
 * over, each with the checkpoint that was valid when it was. */
typedef struct sink_slot {
  sink_t *sink;
  ingest_t *ing;
  uint64_t *lat_t; /* receive times of the account updates in the batch */
  size_t lat_n, lat_cap;
  uint64_t batches_seen;
  int has_ckpt;       /* a checkpoint is set on the pending batch */
  uint64_t cp;        /* the checkpoint the handed-over batch carries */
  int rc;             /* background flush result */
  uint64_t commit_ns; /* when it committed */
} sink_slot_t;

typedef struct block_entry {
  uint64_t slot;
  block_state_t state;
  txn_block_t blk;
  fetch_t *waiters;
} block_entry_t;

struct live {
  const live_options_t *o;
  const char *fetch_commitment; /* getTransaction/getBlock: never "processed" */
  uint64_t margin;
  msgqueue_t *q;
  ws_client_t *ws;
  rpc_client_t *rpc;    /* live fetches */
  rpc_client_t *rpc_bf; /* backfill, snapshot, reconcile */
  sink_slot_t slot[2];
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
  replay_recorder_t *rec;
  uint64_t rec_t0_ns;
  int fatal;
  char fatal_msg[256];

  /* connection / gap state */
  int connected;
  uint64_t conn_gen;
  int fill_pending;
  uint64_t fill_to; /* 0 = first slot of the connection not seen yet */
  uint64_t fill_retry_ns;
  unsigned fill_failures;
  int first_run;
  int snapshot_done;

  /* slots */
  uint64_t tip;
  uint64_t cp;           /* current checkpoint value */
  uint64_t cp_set;       /* last value handed to the sink */
  uint64_t cp_committed; /* last value committed */
  uint64_t cp_set_ns;

  /* fetches */
  fetch_t *all;
  size_t n_fetch;
  fetch_t *ready_head, *ready_tail;
  fetch_t *retry_head;
  block_entry_t blocks[LIVE_BLOCK_CACHE];
  uint64_t *seen[2];
  size_t seen_n;

  /* latency */
  hist_t hist;
  uint64_t first_update_ns, last_commit_ns; /* throughput window */
  uint64_t flushes, flush_ns;
  uint8_t *scratch; /* decoded account data */
  size_t scratch_cap;

  /* timing */
  uint64_t t_start_ns, last_data_ns, next_status_ns, next_reconcile_ns;
  uint64_t st_prev_updates, st_prev_tx, st_prev_ns;

  live_summary_t sum;
};

static uint64_t now_ns(void) { return msgqueue_now_ns(); }

static sink_t *cur_sink(const live_t *lv) { return lv->slot[lv->cur].sink; }
static ingest_t *cur_ing(const live_t *lv) { return lv->slot[lv->cur].ing; }

static int stop_requested(const live_t *lv) {
  return (lv->o->stop_flag && *lv->o->stop_flag) || (lv->o->abort_flag && *lv->o->abort_flag);
}

static void set_fatal(live_t *lv, const sink_t *sink, const char *what, int code) {
  if (lv->fatal) return;
  lv->fatal = 1;
  snprintf(lv->fatal_msg, sizeof lv->fatal_msg, "%s: %s (%s)", what, sink_strerror(code),
           sink ? sink_last_error(sink) : "");
  log_error("live", "%s", lv->fatal_msg);
}

/* A sink call failed. Connection loss is retried inside the sink; what
 * comes out is a stop (shutdown) or a hard database error. */
static int sink_rc_on(live_t *lv, const sink_t *sink, int rc, const char *what) {
  if (rc >= 0) return 0;
  if (rc == SINK_ERR_STOPPED && stop_requested(lv)) return -1;
  set_fatal(lv, sink, what, rc);
  return -1;
}

static int sink_rc(live_t *lv, int rc, const char *what) {
  return sink_rc_on(lv, cur_sink(lv), rc, what);
}

static void dead_letter(live_t *lv, const char *kind, const char *key, uint64_t slot,
                        const char *reason, const uint8_t *raw, size_t rawlen) {
  log_warn("live", "dead letter kind=%s key=%s slot=%" PRIu64 " reason=%s", kind,
           key ? key : "-", slot, reason);
  lv->sum.dead_letters++;
  sink_rc(lv, sink_put_dead_letter(cur_sink(lv), kind, key, slot, reason, raw, rawlen),
          "dead letter");
}

/* Latency bookkeeping: a sink put may flush the batch before queuing the
 * new record; every account update noted before it is then committed. */
static void lat_commit(live_t *lv, sink_slot_t *s, size_t n, uint64_t commit_ns) {
  if (n > s->lat_n) n = s->lat_n;
  for (size_t i = 0; i < n; i++)
    hist_add(&lv->hist, (commit_ns > s->lat_t[i] ? commit_ns - s->lat_t[i] : 0) / 1000);
  if (n > 0 && commit_ns > lv->last_commit_ns) lv->last_commit_ns = commit_ns;
  if (n == 0) return;
  if (s->lat_n > n) memmove(s->lat_t, s->lat_t + n, (s->lat_n - n) * sizeof *s->lat_t);
  s->lat_n -= n;
}

static void lat_note_batches(live_t *lv, size_t committed_upto) {
  sink_slot_t *s = &lv->slot[lv->cur];
  sink_stats_t st;
  sink_get_stats(s->sink, &st);
  if (st.batches == s->batches_seen) return;
  s->batches_seen = st.batches;
  lat_commit(lv, s, committed_upto, now_ns());
}

static void lat_push(live_t *lv, uint64_t t_ns) {
  sink_slot_t *s = &lv->slot[lv->cur];
  if (s->lat_n == s->lat_cap) {
    size_t cap = s->lat_cap ? s->lat_cap * 2 : 1024;
    uint64_t *p = realloc(s->lat_t, cap * sizeof *p);
    if (!p) return; /* a missed sample, not an error */
    s->lat_t = p;
    s->lat_cap = cap;
  }
  s->lat_t[s->lat_n++] = t_ns;
}

/* ---- signature dedup: two generations of open-addressing sets ------------ */

static uint64_t sig_hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  h ^= h >> 29;
  return h ? h : 1;
}

#define SEEN_SLOTS (LIVE_SEEN_GEN * 2)

static int seen_has(const uint64_t *set, uint64_t h) {
  for (size_t i = h & (SEEN_SLOTS - 1);; i = (i + 1) & (SEEN_SLOTS - 1)) {
    if (set[i] == 0) return 0;
    if (set[i] == h) return 1;
  }
}

/* Returns 1 if sig was seen recently, else records it and returns 0. */
static int seen_check_add(live_t *lv, const char *sig) {
  uint64_t h = sig_hash(sig);
  if (seen_has(lv->seen[0], h) || seen_has(lv->seen[1], h)) return 1;
  if (lv->seen_n >= LIVE_SEEN_GEN) {
    uint64_t *old = lv->seen[1];
    memset(old, 0, SEEN_SLOTS * sizeof *old);
    lv->seen[1] = lv->seen[0];
    lv->seen[0] = old;
    lv->seen_n = 0;
  }
  size_t i = h & (SEEN_SLOTS - 1);
  while (lv->seen[0][i] != 0) i = (i + 1) & (SEEN_SLOTS - 1);
  lv->seen[0][i] = h;
  lv->seen_n++;
  return 0;
}

/* ---- fetch lifecycle ---------------------------------------------------------- */

static void ready_push(live_t *lv, fetch_t *f) {
  f->next = NULL;
  if (lv->ready_tail) lv->ready_tail->next = f;
  else lv->ready_head = f;
  lv->ready_tail = f;
}

static fetch_t *fetch_new(live_t *lv, const char *sig, uint64_t slot) {
  fetch_t *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->lv = lv;
  snprintf(f->sig, sizeof f->sig, "%s", sig);
  f->slot = slot;
  f->all_next = lv->all;
  if (lv->all) lv->all->all_prev = f;
  lv->all = f;
  lv->n_fetch++;
  return f;
}

static void fetch_free(live_t *lv, fetch_t *f) {
  if (f->all_prev) f->all_prev->all_next = f->all_next;
  else lv->all = f->all_next;
  if (f->all_next) f->all_next->all_prev = f->all_prev;
  lv->n_fetch--;
  json_decref(f->tx);
  free(f);
}

static void on_tx(void *user, json_t *result, const rpc_error_t *err) {
  fetch_t *f = user;
  if (err) {
    f->err = *err;
    f->state = err->kind == RPC_ERR_CANCELLED ? F_CANCELLED : F_TX_FAILED;
  } else if (!result || json_is_null(result)) {
    f->state = F_TX_NULL;
  } else {
    f->tx = json_incref(result);
    f->state = F_TX_OK;
  }
  ready_push(f->lv, f);
}

static void submit_tx(live_t *lv, fetch_t *f) {
  json_t *params = json_pack("[s{s:s,s:i,s:s}]", f->sig, "encoding", "json",
                             "maxSupportedTransactionVersion", 0, "commitment",
                             lv->fetch_commitment);
  f->state = F_TX_WAIT;
  if (!params || rpc_submit(lv->rpc, "getTransaction", params, on_tx, f) != 0) {
    f->err.kind = RPC_ERR_TRANSPORT;
    snprintf(f->err.message, sizeof f->err.message, "out of memory submitting getTransaction");
    f->state = F_TX_FAILED;
    ready_push(lv, f);
  }
}

typedef struct block_req {
  live_t *lv;
  uint64_t slot;
} block_req_t;

static block_entry_t *block_slot(live_t *lv, uint64_t slot) {
  return &lv->blocks[slot % LIVE_BLOCK_CACHE];
}

static void on_block(void *user, json_t *result, const rpc_error_t *err) {
  block_req_t *br = user;
  live_t *lv = br->lv;
  block_entry_t *e = block_slot(lv, br->slot);
  if (e->slot == br->slot && e->state == B_PENDING) {
    if (!err && result && txn_block_from_json(result, br->slot, &e->blk) == 0) {
      e->state = B_DONE;
    } else {
      e->state = B_FAILED;
      if (!err || err->kind != RPC_ERR_CANCELLED)
        log_warn("live", "getBlock failed slot=%" PRIu64 " error=%s: rows keep no block height",
                 br->slot, err ? err->message : "bad block");
    }
    fetch_t *w = e->waiters;
    e->waiters = NULL;
    while (w) {
      fetch_t *next = w->next;
      w->state = (err && err->kind == RPC_ERR_CANCELLED) ? F_CANCELLED : F_BLOCK_READY;
      ready_push(lv, w);
      w = next;
    }
  }
  free(br);
}

/* The transaction is in f->tx: find its block context. */
static void need_block(live_t *lv, fetch_t *f) {
  uint64_t slot = f->slot;
  if (jsonx_get_u64(f->tx, "slot", &slot) == 0) f->slot = slot;
  block_entry_t *e = block_slot(lv, slot);
  if (e->slot == slot && (e->state == B_DONE || e->state == B_FAILED)) {
    f->state = F_BLOCK_READY;
    ready_push(lv, f);
    return;
  }
  if (e->slot == slot && e->state == B_PENDING) {
    f->state = F_BLOCK_WAIT;
    f->next = e->waiters;
    e->waiters = f;
    return;
  }
  if (e->state == B_PENDING && e->waiters) {
    /* another slot holds this cache line: ingest without the height wait */
    f->state = F_BLOCK_READY;
    ready_push(lv, f);
    return;
  }
  block_req_t *br = malloc(sizeof *br);
  json_t *params = json_pack("[I{s:s,s:b,s:s}]", (json_int_t)slot, "transactionDetails", "none",
                             "rewards", 0, "commitment", lv->fetch_commitment);
  memset(e, 0, sizeof *e);
  e->slot = slot;
  e->state = B_PENDING;
  f->state = F_BLOCK_WAIT;
  f->next = NULL;
  e->waiters = f;
  if (!br || !params || slot > (uint64_t)INT64_MAX) {
    free(br);
    json_decref(params);
    e->state = B_FAILED;
    e->waiters = NULL;
    f->state = F_BLOCK_READY;
    ready_push(lv, f);
    return;
  }
  br->lv = lv;
  br->slot = slot;
  if (rpc_submit(lv->rpc, "getBlock", params, on_block, br) != 0) {
    free(br);
    e->state = B_FAILED;
    e->waiters = NULL;
    f->state = F_BLOCK_READY;
    ready_push(lv, f);
  }
}

static void ingest_fetched(live_t *lv, fetch_t *f) {
  block_entry_t *e = block_slot(lv, f->slot);
  const txn_block_t *blk = (e->slot == f->slot && e->state == B_DONE) ? &e->blk : NULL;
  int rc = ingest_transaction_json(cur_ing(lv), f->tx, blk, NULL);
  if (rc < 0) {
    sink_rc(lv, rc, "ingest transaction");
    return;
  }
  lv->sum.transactions++;
}

/* Works the ready list until it is empty. */
static void process_ready(live_t *lv) {
  while (lv->ready_head && !lv->fatal) {
    fetch_t *f = lv->ready_head;
    lv->ready_head = f->next;
    if (!lv->ready_head) lv->ready_tail = NULL;
    f->next = NULL;
    switch (f->state) {
      case F_NEW:
        submit_tx(lv, f);
        break;
      case F_TX_OK:
        need_block(lv, f);
        break;
      case F_BLOCK_READY:
        ingest_fetched(lv, f);
        fetch_free(lv, f);
        break;
      case F_TX_NULL:
        f->tries++;
        if (f->tries > LIVE_TX_NULL_RETRIES) {
          char why[128];
          snprintf(why, sizeof why, "getTransaction returned null %d times", f->tries);
          lv->sum.tx_missing++;
          dead_letter(lv, "transaction-missing", f->sig, f->slot, why, NULL, 0);
          fetch_free(lv, f);
        } else {
          uint64_t ms = (uint64_t)LIVE_TX_RETRY_BASE_MS << (f->tries - 1);
          f->due_ns = now_ns() + ms * NS_PER_MS;
          f->state = F_RETRY_WAIT;
          f->next = lv->retry_head;
          lv->retry_head = f;
          lv->sum.fetch_retries++;
        }
        break;
      case F_TX_FAILED: {
        char why[320];
        snprintf(why, sizeof why, "getTransaction failed (%s): %s",
                 rpc_error_kind_name(f->err.kind), f->err.message);
        dead_letter(lv, "transaction-fetch", f->sig, f->slot, why, NULL, 0);
        fetch_free(lv, f);
        break;
      }
      case F_CANCELLED:
        fetch_free(lv, f);
        break;
      default:
        break;
    }
  }
}

static void submit_due_retries(live_t *lv, uint64_t now) {
  fetch_t **pp = &lv->retry_head;
  while (*pp) {
    fetch_t *f = *pp;
    if (f->due_ns <= now) {
      *pp = f->next;
      f->next = NULL;
      submit_tx(lv, f);
    } else {
      pp = &f->next;
    }
  }
}

static int min_outstanding(const live_t *lv, uint64_t *out) {
  int have = 0;
  uint64_t m = UINT64_MAX;
  for (const fetch_t *f = lv->all; f; f = f->all_next) {
    have = 1;
    if (f->slot < m) m = f->slot;
  }
  *out = m;
  return have;
}

/* ---- checkpoint and flush ------------------------------------------------------ */

static void update_checkpoint(live_t *lv) {
  if (lv->fill_pending) return;
  uint64_t mo = 0;
  int have = min_outstanding(lv, &mo);
  lv->cp = live_checkpoint_next(lv->cp, lv->tip, lv->margin, have, mo);
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
    uint64_t t0 = now_ns();
    int rc = sink_flush(lv->slot[idx].sink);
    uint64_t t1 = now_ns();
    pthread_mutex_lock(&lv->fl_mu);
    lv->slot[idx].rc = rc;
    lv->slot[idx].commit_ns = t1;
    lv->fl_count++;
    lv->fl_ns += t1 - t0;
    lv->fl_req = -1;
    lv->fl_done = idx;
    pthread_cond_broadcast(&lv->fl_cv);
  }
  pthread_mutex_unlock(&lv->fl_mu);
  return NULL;
}

/* Books a finished background flush: latencies, committed checkpoint,
 * errors. Returns 0 or -1 (fatal or stop). */
static int settle(live_t *lv, int idx) {
  sink_slot_t *s = &lv->slot[idx];
  if (s->rc != 0) return sink_rc_on(lv, s->sink, s->rc, "flush");
  sink_stats_t st;
  sink_get_stats(s->sink, &st);
  s->batches_seen = st.batches;
  lat_commit(lv, s, s->lat_n, s->commit_ns);
  if (s->cp > lv->cp_committed) lv->cp_committed = s->cp;
  return 0;
}

/* Settles a finished flush; with wait, first waits for a running one.
 * Returns 1 when a flush is still running (only without wait), 0 when the
 * flusher is idle and settled, -1 on a fatal error. */
static int fl_sync(live_t *lv, int wait) {
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
  sink_slot_t *s = &lv->slot[lv->cur];
  update_checkpoint(lv);
  if (lv->cp == lv->cp_set) return 0;
  if (sink_pending(s->sink) == 0 && now_ns() - lv->cp_set_ns < LIVE_CKPT_ONLY_EVERY_MS * NS_PER_MS)
    return 0;
  if (sink_rc(lv, sink_set_checkpoint(s->sink, LIVE_STREAM, lv->cp, NULL), "checkpoint") != 0)
    return -1;
  s->has_ckpt = 1;
  lv->cp_set = lv->cp;
  lv->cp_set_ns = now_ns();
  return 0;
}

/* Hands the current batch to the flusher and switches to the other sink.
 * When a flush is still running: block = 0 returns at once (the batch
 * keeps growing), block = 1 waits for it. Returns 0 or -1. */
static int handoff(live_t *lv, int block) {
  int r = fl_sync(lv, block);
  if (r < 0) return -1;
  if (r == 1) return 0;
  if (stage_checkpoint(lv) != 0) return -1;
  sink_slot_t *s = &lv->slot[lv->cur];
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

/* Everything received so far committed, with the checkpoint: waits for the
 * flusher, then commits the current batch on this thread. Returns 0 or -1
 * (fatal or stop). */
static int flush_now(live_t *lv) {
  if (fl_sync(lv, 1) != 0) return -1;
  if (stage_checkpoint(lv) != 0) return -1;
  sink_slot_t *s = &lv->slot[lv->cur];
  uint64_t cp = lv->cp_set;
  uint64_t t0 = now_ns();
  int rc = sink_flush(s->sink);
  uint64_t t1 = now_ns();
  lv->flush_ns += t1 - t0;
  lv->flushes++;
  if (sink_rc(lv, rc, "flush") != 0) return -1;
  s->has_ckpt = 0;
  if (cp > lv->cp_committed) lv->cp_committed = cp;
  sink_stats_t st;
  sink_get_stats(s->sink, &st);
  s->batches_seen = st.batches;
  lat_commit(lv, s, s->lat_n, t1);
  return 0;
}

/* ---- gap fill ------------------------------------------------------------------ */

static void fill_failed(live_t *lv, const char *what, const char *err) {
  if (stop_requested(lv)) return;
  unsigned shift = lv->fill_failures < 5 ? lv->fill_failures : 5;
  uint64_t ms = (uint64_t)LIVE_FILL_RETRY_MIN_MS << shift;
  if (ms > LIVE_FILL_RETRY_MAX_MS) ms = LIVE_FILL_RETRY_MAX_MS;
  lv->fill_failures++;
  lv->fill_retry_ns = now_ns() + ms * NS_PER_MS;
  log_error("live", "%s failed, retrying in %" PRIu64 " ms: %s", what, ms, err);
}

/* Backfills (checkpoint, fill_to]; on a first run seeds the caches first. */
static void do_fill(live_t *lv) {
  char err[512] = "";
  uint64_t t0 = now_ns();
  if (flush_now(lv) != 0) return;
  if (lv->first_run && !lv->snapshot_done) {
    log_info("live", "empty database: seeding the caches (snapshot)");
    long n = snapshot_run(lv->rpc_bf, cur_ing(lv), cur_sink(lv), lv->o->idl, lv->o->program_id,
                          lv->fetch_commitment, lv->o->stop_flag, err, sizeof err);
    if (n < 0) {
      fill_failed(lv, "snapshot", err);
      return;
    }
    if (flush_now(lv) != 0) return;
    lv->snapshot_done = 1;
    log_info("live", "snapshot done accounts=%ld", n);
  }
  uint64_t from = lv->first_run ? (lv->o->has_start_slot ? lv->o->start_slot : 0) : lv->cp + 1;
  uint64_t to = lv->fill_to;
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
    backfill_summary_t bs;
    memset(&bs, 0, sizeof bs);
    log_info("live", "%s from_slot=%" PRIu64 " to_slot=%" PRIu64,
             lv->first_run ? "indexing history" : "gap fill", from, to);
    if (backfill_run(lv->rpc_bf, cur_ing(lv), cur_sink(lv), &bo, &bs, err, sizeof err) != 0) {
      fill_failed(lv, "gap fill", err);
      return;
    }
    log_info("live",
             "gap filled from_slot=%" PRIu64 " to_slot=%" PRIu64 " transactions=%" PRIu64
             " accounts=%" PRIu64 " dead_letters=%" PRIu64 " ms=%" PRIu64,
             from, to, bs.transactions, bs.accounts, bs.dead_letters,
             (uint64_t)((now_ns() - t0) / NS_PER_MS));
  }
  lv->first_run = 0;
  lv->fill_pending = 0;
  lv->fill_failures = 0;
  lv->sum.gap_fills++;
  if (to > lv->cp) lv->cp = to;
  if (lv->tip < to) lv->tip = to;
  lv->last_data_ns = now_ns();
  flush_now(lv);
}

static void maybe_fill(live_t *lv, uint64_t slot) {
  if (!lv->fill_pending || !lv->connected) return;
  if (lv->fill_to == 0) {
    lv->fill_to = slot > 0 ? slot : 1;
    lv->fill_retry_ns = 0;
  }
  if (now_ns() >= lv->fill_retry_ns) do_fill(lv);
}

/* ---- queue items ------------------------------------------------------------------ */

/* After an account went to ingest (its latency entry is the last one). */
static void apply_account(live_t *lv, int rc) {
  size_t n = lv->slot[lv->cur].lat_n;
  lat_note_batches(lv, n ? n - 1 : 0);
  if (sink_rc(lv, rc, "ingest account") == 0) lv->sum.account_updates++;
}

/* The hot path: a well-formed programNotification goes straight to
 * ingest_account_bytes. Returns 1 when the message was handled. */
static int fast_account(live_t *lv, const msgqueue_item_t *it) {
  live_fast_account_t fa;
  if (memchr(it->data, 0, it->len) || !live_utf8_valid(it->data, it->len, NULL) ||
      !live_fast_account(it->data, it->len, &fa))
    return 0;
  size_t need = b64_decoded_max(fa.b64_len);
  if (need > lv->scratch_cap) {
    uint8_t *p = realloc(lv->scratch, need);
    if (!p) return 0;
    lv->scratch = p;
    lv->scratch_cap = need;
  }
  size_t n = 0;
  if (b64_decode_into(fa.b64, fa.b64_len, lv->scratch, lv->scratch_cap, &n) != 0) return 0;
  maybe_fill(lv, fa.slot);
  if (lv->fatal) return 1;
  if (fa.slot > lv->tip) lv->tip = fa.slot;
  lv->last_data_ns = now_ns();
  if (lv->first_update_ns == 0) lv->first_update_ns = it->t_ns;
  lat_push(lv, it->t_ns);
  int rc =
      ingest_account_bytes(cur_ing(lv), fa.pubkey, fa.owner, fa.lamports, lv->scratch, n, fa.slot);
  apply_account(lv, rc);
  return 1;
}

static void handle_message(live_t *lv, msgqueue_item_t *it) {
  if (lv->rec) {
    if (lv->rec_t0_ns == 0) lv->rec_t0_ns = it->t_ns;
    long at = (long)((it->t_ns - lv->rec_t0_ns) / NS_PER_MS);
    replay_recorder_ws_raw(lv->rec, at, (const char *)it->data, it->len);
  }
  if (it->aux != 1 && fast_account(lv, it)) return;
  live_msg_t m;
  live_parse_message(it->data, it->len, it->aux == 1, &m);
  if (m.kind == LIVE_MSG_BAD) {
    dead_letter(lv, "ws-message", NULL, 0, m.reason, it->data, it->len);
    live_msg_clear(&m);
    return;
  }
  maybe_fill(lv, m.slot);
  if (lv->fatal) goto out;
  if (m.slot > lv->tip) lv->tip = m.slot;
  switch (m.kind) {
    case LIVE_MSG_SLOT:
      lv->sum.slot_notifications++;
      break;
    case LIVE_MSG_ACCOUNT: {
      lv->last_data_ns = now_ns();
      if (lv->first_update_ns == 0) lv->first_update_ns = it->t_ns;
      lat_push(lv, it->t_ns);
      int rc = ingest_account_json(cur_ing(lv), m.pubkey, json_is_null(m.account) ? NULL : m.account,
                                   m.slot);
      apply_account(lv, rc);
      break;
    }
    case LIVE_MSG_LOGS: {
      lv->last_data_ns = now_ns();
      lv->sum.logs_notifications++;
      if (seen_check_add(lv, m.signature)) break;
      fetch_t *f = fetch_new(lv, m.signature, m.slot);
      if (!f) {
        dead_letter(lv, "transaction-fetch", m.signature, m.slot, "out of memory", NULL, 0);
        break;
      }
      submit_tx(lv, f);
      break;
    }
    default:
      break;
  }
out:
  live_msg_clear(&m);
}

static void handle_item(live_t *lv, msgqueue_item_t *it) {
  switch (it->kind) {
    case WS_ITEM_CONNECTED:
      lv->connected = 1;
      lv->conn_gen = it->aux;
      if (it->aux > 1) lv->sum.reconnects++;
      lv->fill_pending = 1;
      lv->fill_to = 0;
      break;
    case WS_ITEM_DISCONNECTED:
      lv->connected = 0;
      lv->fill_pending = 1;
      lv->fill_to = 0;
      break;
    case WS_ITEM_OVERSIZED: {
      char why[160];
      snprintf(why, sizeof why, "oversized message: %" PRIu64 " bytes > max %zu (first %zu kept)",
               it->aux, lv->o->max_message_bytes, it->len);
      dead_letter(lv, "ws-message", NULL, 0, why, it->data, it->len);
      break;
    }
    case WS_ITEM_MESSAGE:
      handle_message(lv, it);
      break;
    default:
      break;
  }
}

/* ---- periodic work ---------------------------------------------------------------- */

static long peak_rss_kb(void) {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
}

static void status_line(live_t *lv, uint64_t now) {
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
           "status tip=%" PRIu64 " checkpoint=%" PRIu64 " slot_lag=%" PRIu64
           " updates_per_s=%.0f tx_per_s=%.0f backlog_items=%zu backlog_bytes=%zu"
           " fetches=%zu reconnects=%" PRIu64 " dead_letters=%" PRIu64 "%s%s",
           lv->tip, lv->cp_committed, lag, ups, tps, qs.items, qs.bytes, lv->n_fetch,
           lv->sum.reconnects, lv->sum.dead_letters, ws.reading_paused ? " reading=paused" : "",
           lv->fill_pending ? " live=waiting-for-gap-fill" : "");
}

static void run_reconcile(live_t *lv) {
  char err[512] = "";
  if (flush_now(lv) != 0) return;
  long n = reconcile_run(lv->rpc_bf, cur_ing(lv), cur_sink(lv), lv->o->program_id, lv->fetch_commitment,
                         lv->o->stop_flag, err, sizeof err);
  if (n < 0) {
    if (!stop_requested(lv)) log_error("live", "reconcile failed: %s", err);
    return;
  }
  lv->sum.reconciles++;
  if (n > 0) log_info("live", "reconcile closed=%ld", n);
  flush_now(lv);
}

/* ---- set-up and the loop ------------------------------------------------------------ */

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
  lv->seen[0] = calloc(SEEN_SLOTS, sizeof(uint64_t));
  lv->seen[1] = calloc(SEEN_SLOTS, sizeof(uint64_t));
  if (!lv->seen[0] || !lv->seen[1]) {
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
    rc = sink_open(&so, &lv->slot[k].sink, e2, sizeof e2);
    if (rc != 0) {
      snprintf(err, errsz, "database: %s", e2);
      return -1;
    }
    lv->slot[k].ing = ingest_new(o->idl, o->program_id, lv->slot[k].sink);
    if (!lv->slot[k].ing) {
      snprintf(err, errsz, "out of memory");
      return -1;
    }
  }
  lv->fl_req = lv->fl_done = -1;
  pthread_mutex_init(&lv->fl_mu, NULL);
  pthread_cond_init(&lv->fl_cv, NULL);
  if (pthread_create(&lv->fl_thread, NULL, flusher_main, lv) != 0) {
    snprintf(err, errsz, "cannot start the flusher thread");
    return -1;
  }
  lv->fl_started = 1;
  uint64_t cp = 0;
  char sig[CB_SIGNATURE_B58_MAX];
  rc = sink_get_checkpoint(cur_sink(lv), LIVE_STREAM, &cp, sig);
  if (rc < 0) {
    snprintf(err, errsz, "database: reading the checkpoint: %s", sink_last_error(cur_sink(lv)));
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
    rpc_client_t *c = rpc_client_new(&ro, e2, sizeof e2);
    if (!c) {
      snprintf(err, errsz, "rpc: %s", e2);
      return -1;
    }
    if (k == 0) lv->rpc = c;
    else lv->rpc_bf = c;
  }
  if (o->record_dir) {
    lv->rec = replay_recorder_open(o->record_dir, e2, sizeof e2);
    if (!lv->rec) {
      snprintf(err, errsz, "record: %s", e2);
      return -1;
    }
  }

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
  return 0;
}

static void teardown(live_t *lv) {
  ws_client_stop(lv->ws);
  lv->ws = NULL;
  /* the clients cancel what is pending: callbacks run and fill the ready list */
  rpc_client_free(lv->rpc);
  rpc_client_free(lv->rpc_bf);
  lv->rpc = lv->rpc_bf = NULL;
  while (lv->all) fetch_free(lv, lv->all);
  lv->ready_head = lv->ready_tail = lv->retry_head = NULL;
  for (size_t i = 0; i < LIVE_BLOCK_CACHE; i++) lv->blocks[i].waiters = NULL;
  if (lv->fl_started) {
    pthread_mutex_lock(&lv->fl_mu);
    lv->fl_quit = 1;
    pthread_cond_broadcast(&lv->fl_cv);
    pthread_mutex_unlock(&lv->fl_mu);
    pthread_join(lv->fl_thread, NULL);
    pthread_mutex_destroy(&lv->fl_mu);
    pthread_cond_destroy(&lv->fl_cv);
    lv->fl_started = 0;
  }
  for (int k = 0; k < 2; k++) {
    ingest_free(lv->slot[k].ing);
    sink_close(lv->slot[k].sink);
    free(lv->slot[k].lat_t);
  }
  msgqueue_free(lv->q);
  replay_recorder_close(lv->rec);
  free(lv->seen[0]);
  free(lv->seen[1]);
  free(lv->scratch);
}

static int wait_ms_for(live_t *lv) {
  if (lv->ready_head) return 0;
  if (rpc_in_flight(lv->rpc) > 0 || lv->retry_head) return 1;
  if (sink_pending(cur_sink(lv)) > 0) {
    int d = sink_batch_due_in_ms(cur_sink(lv));
    return d < 0 ? 50 : (d > 50 ? 50 : d);
  }
  return 100;
}

static int idle_done(live_t *lv, uint64_t now) {
  if (lv->o->exit_when_idle_ms <= 0 || lv->fill_pending || !lv->connected) return 0;
  if (now - lv->last_data_ns < (uint64_t)lv->o->exit_when_idle_ms * NS_PER_MS) return 0;
  if (lv->n_fetch > 0 || lv->ready_head) return 0;
  msgqueue_stats_t qs;
  msgqueue_get_stats(lv->q, &qs);
  if (qs.items > 0) return 0;
  if (flush_now(lv) != 0) return 0;
  return sink_pending(cur_sink(lv)) == 0;
}

static void shutdown_drain(live_t *lv) {
  /* stop reading: nothing new is applied; what is still queued is not
   * covered by the checkpoint and comes back through the next gap fill */
  ws_client_stop(lv->ws);
  lv->ws = NULL;
  uint64_t deadline = now_ns() + LIVE_SHUTDOWN_FETCH_MS * NS_PER_MS;
  while (!lv->fatal && (lv->n_fetch > 0) && now_ns() < deadline &&
         !(lv->o->abort_flag && *lv->o->abort_flag)) {
    process_ready(lv);
    submit_due_retries(lv, now_ns());
    if (rpc_in_flight(lv->rpc) > 0) rpc_run(lv->rpc, 10);
    else if (!lv->ready_head) break; /* only retries waiting: give them up */
  }
  if (lv->n_fetch > 0)
    log_warn("live", "shutdown: %zu transaction fetches abandoned (the checkpoint stays below them)",
             lv->n_fetch);
  if (!lv->fatal && flush_now(lv) != 0 && !lv->fatal) {
    lv->fatal = 1;
    snprintf(lv->fatal_msg, sizeof lv->fatal_msg,
             "final flush interrupted: %s; the next start resumes from checkpoint %" PRIu64,
             sink_last_error(cur_sink(lv)), lv->cp_committed);
    log_error("live", "%s", lv->fatal_msg);
  }
}

int live_run(const live_options_t *o, live_summary_t *sum, char *err, size_t errsz) {
  live_t *lv = calloc(1, sizeof *lv);
  int ret = -1;
  if (!lv) {
    snprintf(err, errsz, "out of memory");
    return -1;
  }
  if (!o || !o->database_url || !o->rpc_url || !o->ws_url || !o->program_id || !o->commitment ||
      !o->idl) {
    snprintf(err, errsz, "live: database, RPC and websocket URLs, program id and IDL required");
    free(lv);
    return -1;
  }
  lv->t_start_ns = lv->last_data_ns = lv->st_prev_ns = now_ns();
  if (setup(lv, o, err, errsz) != 0) goto out;
  if (o->status_interval_s > 0)
    lv->next_status_ns = lv->t_start_ns + (uint64_t)o->status_interval_s * 1000 * NS_PER_MS;
  if (o->reconcile_interval_s > 0)
    lv->next_reconcile_ns = lv->t_start_ns + (uint64_t)o->reconcile_interval_s * 1000 * NS_PER_MS;
  const char *reason = "signal";

  while (!lv->fatal) {
    if (stop_requested(lv)) break;
    uint64_t now = now_ns();
    process_ready(lv);
    submit_due_retries(lv, now);
    if (lv->fill_pending && lv->connected && lv->fill_to != 0 && now >= lv->fill_retry_ns)
      do_fill(lv);
    for (int budget = LIVE_POP_BUDGET; budget > 0 && !lv->fatal && !stop_requested(lv); budget--) {
      if (lv->n_fetch >= LIVE_MAX_OUTSTANDING) {
        rpc_run(lv->rpc, 5);
        break;
      }
      msgqueue_item_t *it = msgqueue_pop(lv->q, budget == LIVE_POP_BUDGET ? wait_ms_for(lv) : 0);
      if (!it) break;
      handle_item(lv, it);
      msgqueue_item_free(it);
      if (sink_pending(cur_sink(lv)) >= LIVE_HANDOFF_RECORDS && handoff(lv, 1) != 0) break;
    }
    if (lv->fatal) break;
    if (rpc_in_flight(lv->rpc) > 0) rpc_run(lv->rpc, 0);
    process_ready(lv);
    {
      msgqueue_stats_t qs;
      msgqueue_get_stats(lv->q, &qs);
      update_checkpoint(lv);
      /* hand the batch over when it is due, or as soon as there is nothing
       * more to add to it: small batches when quiet, big ones under load */
      size_t pend = sink_pending(cur_sink(lv));
      int want = sink_batch_due(cur_sink(lv)) || (pend > 0 && qs.items == 0 && !lv->ready_head) ||
                 (lv->cp != lv->cp_set &&
                  now_ns() - lv->cp_set_ns >= LIVE_CKPT_ONLY_EVERY_MS * NS_PER_MS);
      if (want && handoff(lv, pend >= LIVE_HANDOFF_RECORDS) != 0) break;
      if (!want && fl_sync(lv, 0) < 0) break;
    }
    now = now_ns();
    if (lv->next_status_ns && now >= lv->next_status_ns) {
      status_line(lv, now);
      lv->next_status_ns = now + (uint64_t)o->status_interval_s * 1000 * NS_PER_MS;
    }
    if (lv->next_reconcile_ns && now >= lv->next_reconcile_ns && !lv->fill_pending) {
      run_reconcile(lv);
      lv->next_reconcile_ns = now_ns() + (uint64_t)o->reconcile_interval_s * 1000 * NS_PER_MS;
    }
    if (idle_done(lv, now)) {
      reason = "idle";
      log_info("live", "no notification for %ld ms and everything flushed: stopping",
               o->exit_when_idle_ms);
      break;
    }
  }
  if (!lv->fatal && strcmp(reason, "signal") == 0)
    log_info("live", "stopping: draining and writing the checkpoint");
  msgqueue_stats_t qs;
  msgqueue_get_stats(lv->q, &qs);
  shutdown_drain(lv);
  lv->sum.checkpoint = lv->cp_committed;
  lv->sum.tip = lv->tip;
  lv->sum.latency_samples = lv->hist.n;
  lv->sum.latency_p50_ms = hist_quantile_ms(&lv->hist, 0.50);
  lv->sum.latency_p99_ms = hist_quantile_ms(&lv->hist, 0.99);
  lv->sum.latency_max_ms = (double)lv->hist.max_us / 1000.0;
  lv->sum.elapsed_ms = (now_ns() - lv->t_start_ns) / NS_PER_MS;
  if (lv->first_update_ns && lv->last_commit_ns > lv->first_update_ns)
    lv->sum.updates_window_ms = (lv->last_commit_ns - lv->first_update_ns) / NS_PER_MS;
  lv->sum.queue_peak_bytes = qs.peak_bytes;
  snprintf(lv->sum.stop_reason, sizeof lv->sum.stop_reason, "%s", lv->fatal ? "error" : reason);
  if (lv->fatal) {
    snprintf(err, errsz, "%s", lv->fatal_msg);
  } else {
    ret = 0;
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
             " gap_fills=%" PRIu64 " latency_p50_ms=%.2f latency_p99_ms=%.2f"
             " updates_window_ms=%" PRIu64 " flushes=%" PRIu64 " flush_ms=%" PRIu64
             " queue_peak_bytes=%zu peak_rss_kb=%ld elapsed_ms=%" PRIu64,
             lv->sum.stop_reason, lv->sum.checkpoint, lv->sum.tip, lv->sum.account_updates,
             lv->sum.transactions, lv->sum.dead_letters, lv->sum.reconnects, lv->sum.gap_fills,
             lv->sum.latency_p50_ms, lv->sum.latency_p99_ms, lv->sum.updates_window_ms,
             lv->flushes, (uint64_t)(lv->flush_ns / NS_PER_MS), lv->sum.queue_peak_bytes,
             peak_rss_kb(), lv->sum.elapsed_ms);
  }
out:
  if (sum) *sum = lv->sum;
  teardown(lv);
  free(lv);
  return ret;
}
