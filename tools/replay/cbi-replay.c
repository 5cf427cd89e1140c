/* cbi-replay: serves a recorded scenario directory (fixtures/README.md) on
 * 127.0.0.1: JSON-RPC over HTTP POST and Solana-style websocket
 * subscriptions on the same port, with fault injection for tests.
 *
 * One libwebsockets context, one thread. Nothing in a callback blocks:
 * added latency and the notification timeline run on lws_sul timers, and
 * websocket output goes through a per-connection send queue drained on
 * LWS_CALLBACK_SERVER_WRITEABLE. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "config.h"
#include "jsonraw.h"
#include "jsonx.h"
#include "log.h"
#include "progress.h"
#include "replay_store.h"

#define HTTP_CHUNK 65536

/* ---- options and state -------------------------------------------------- */

typedef struct {
  const char *dir;
  unsigned port;
  double speed;
  unsigned long long latency_ms;
  unsigned long long fail_429_every, retry_after_s, fail_500_every, fail_garbage_every;
  unsigned long long max_body;
  unsigned long long ws_drop_after, ws_stall_after, ws_duplicate_every, ws_reorder_window,
      ws_garbage_every, ws_oversize_bytes, ws_join_ms, ws_max_message, ws_slot_heartbeat_ms;
  int ws_fault_once;
  char **only_methods; /* notification method names, NULL-terminated; NULL = all */
} opts_t;

typedef struct msg {
  struct msg *next;
  size_t len;
  int binary;
  int is_note;
  unsigned char buf[]; /* LWS_PRE + len */
} msg_t;

typedef struct sub {
  struct sub *next;
  long id;
  char *note_method; /* e.g. "programNotification" */
} sub_t;

typedef struct pss {
  struct lws *wsi;
  /* http */
  int http_method; /* 0 none, 1 POST */
  char *body;
  size_t body_len, body_cap;
  int body_too_big;
  char *out;
  size_t out_len, out_off;
  unsigned status;
  const char *ctype;
  long retry_after;
  int headers_sent;
  lws_sorted_usec_list_t sul;
  /* websocket */
  int is_ws;
  struct pss *next_conn, *prev_conn;
  char *rx;
  size_t rx_len, rx_cap;
  int rx_too_big;
  msg_t *q_head, *q_tail;
  msg_t **hold;
  size_t nhold;
  sub_t *subs;
  uint64_t notes_sent, notes_dispatched, garbage_kind;
  int stalled;
} pss_t;

typedef struct {
  uint64_t http_requests, rpc_posts, rpc_calls, rpc_batches, rpc_unmatched, rpc_synthesized,
      faults_429, faults_500, faults_garbage, http_too_large;
  uint64_t ws_connections, ws_open, ws_subscriptions, ws_unsubscriptions, ws_notifications,
      ws_drops, ws_stalls, ws_duplicates, ws_reordered, ws_garbage, ws_heartbeats;
} stats_t;

static struct {
  opts_t o;
  replay_store_t *store;
  struct lws_context *ctx;
  pss_t *conns;
  stats_t st;
  long next_subid;
  int started;
  int64_t t0_us;
  size_t cursor;
  int drop_done, stall_done;
  lws_sorted_usec_list_t timeline;
  lws_sorted_usec_list_t heartbeat;
  uint64_t last_slot;
  int have_slot;
} srv;

/* SIGTERM / SIGINT: blocked in every thread and taken by one thread with
 * sigwait, which wakes the event loop (lws_cancel_service is thread-safe,
 * not async-signal-safe). A handler that only sets a flag can lose the
 * race with poll() and leave the loop asleep until the next event. */
static atomic_int interrupted;
static sigset_t stop_signals;

static void *signal_thread(void *arg) {
  struct lws_context *ctx = arg;
  int sig = 0;
  if (sigwait(&stop_signals, &sig) == 0) {
    atomic_store(&interrupted, 1);
    lws_cancel_service(ctx);
  }
  return NULL;
}

/* ---- small string builder -------------------------------------------- */

/* jsonraw_buf_t (jsonraw.h), plus printf-style appends. */
typedef jsonraw_buf_t sb_t;

static void sb_addf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_addf(sb_t *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof tmp) {
    b->oom = 1;
    return;
  }
  jsonraw_buf_add(b, tmp, (size_t)n);
}

/* Appends s as a JSON string literal. */
static void sb_add_jstr(sb_t *b, const char *s) {
  json_t *j = json_string(s ? s : "");
  char *d = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
  if (d) jsonraw_buf_adds(b, d);
  else b->oom = 1;
  free(d);
  json_decref(j);
}

/* ---- JSON-RPC over HTTP ------------------------------------------------ */

/* Appends the response to one request object (raw text req_raw, parsed req). */
static void rpc_answer_one(sb_t *out, const json_t *req, const char *req_raw, size_t req_len) {
  jsonraw_span_t idr = {"null", 4}, inner;
  char *text = NULL;
  size_t text_len = 0;
  int synth;
  if (req_raw && jsonraw_member(req_raw, req_len, "id", &idr) != 1) {
    idr.ptr = "null";
    idr.len = 4;
  }
  srv.st.rpc_calls++;
  const char *method = json_is_object(req) ? jsonx_get_str(req, "method") : NULL;
  jsonraw_buf_adds(out, "{\"jsonrpc\":\"2.0\",");
  if (!method) {
    jsonraw_buf_adds(out, "\"error\":{\"code\":-32600,\"message\":\"Invalid request\"}");
  } else if (replay_store_lookup(srv.store, method, json_object_get(req, "params"), &inner) == 1) {
    jsonraw_buf_add(out, inner.ptr, inner.len);
  } else if ((synth = replay_store_synth(srv.store, method, json_object_get(req, "params"), &text,
                                         &text_len)) != 0) {
    /* no recording: answered from accounts.json / expected.json */
    if (synth > 0) {
      srv.st.rpc_synthesized++;
      log_debug("replay", "synthesized method=%s", method);
      jsonraw_buf_add(out, text, text_len);
      free(text);
    } else {
      jsonraw_buf_adds(out, "\"error\":{\"code\":-32603,\"message\":\"Internal error\"}");
    }
  } else {
    char msg[300];
    snprintf(msg, sizeof msg, "fixture: no recorded response for %s", method);
    srv.st.rpc_unmatched++;
    log_debug("replay", "no recording method=%s", method);
    jsonraw_buf_adds(out, "\"error\":{\"code\":-32099,\"message\":");
    sb_add_jstr(out, msg);
    jsonraw_buf_adds(out, "}");
  }
  jsonraw_buf_adds(out, ",\"id\":");
  jsonraw_buf_add(out, idr.ptr, idr.len);
  jsonraw_buf_adds(out, "}");
}

/* Builds the HTTP response for a JSON-RPC POST body in pss. */
static void http_prepare_rpc(pss_t *p) {
  sb_t out = {0};
  char perr[200];
  uint64_t k = ++srv.st.rpc_posts;
  p->status = 200;
  p->ctype = "application/json";
  p->retry_after = -1;
  if (srv.o.fail_429_every && k % srv.o.fail_429_every == 0) {
    srv.st.faults_429++;
    p->status = 429;
    p->ctype = "text/plain";
    p->retry_after = (long)srv.o.retry_after_s;
    jsonraw_buf_adds(&out, "rate limited (injected)\n");
    goto done;
  }
  if (srv.o.fail_500_every && k % srv.o.fail_500_every == 0) {
    srv.st.faults_500++;
    p->status = 500;
    p->ctype = "text/plain";
    jsonraw_buf_adds(&out, "internal server error (injected)\n");
    goto done;
  }
  if (srv.o.fail_garbage_every && k % srv.o.fail_garbage_every == 0) {
    srv.st.faults_garbage++;
    p->ctype = "text/html";
    jsonraw_buf_adds(&out, "<html><body>502 upstream garbage (injected)</body></html>\n");
    goto done;
  }
  if (p->body_too_big) {
    srv.st.http_too_large++;
    p->status = 413;
    p->ctype = "text/plain";
    jsonraw_buf_adds(&out, "request body too large\n");
    goto done;
  }
  json_t *doc = jsonx_loads(p->body ? p->body : "", p->body_len, perr, sizeof perr);
  if (!doc) {
    jsonraw_buf_adds(&out, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"Parse error\"},\"id\":null}");
  } else if (json_is_array(doc)) {
    if (json_array_size(doc) == 0) {
      jsonraw_buf_adds(&out, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"Invalid request\"},\"id\":null}");
    } else {
      jsonraw_iter_t it;
      jsonraw_span_t el;
      int have_raw = jsonraw_iter_init(&it, p->body, p->body_len) == 0;
      srv.st.rpc_batches++;
      jsonraw_buf_adds(&out, "[");
      for (size_t i = 0; i < json_array_size(doc); i++) {
        if (i) jsonraw_buf_adds(&out, ",");
        int ok = have_raw && jsonraw_iter_next(&it, NULL, &el) == 1;
        rpc_answer_one(&out, json_array_get(doc, i), ok ? el.ptr : NULL, ok ? el.len : 0);
      }
      jsonraw_buf_adds(&out, "]");
    }
  } else {
    rpc_answer_one(&out, doc, p->body, p->body_len);
  }
  json_decref(doc);
done:
  if (out.oom) {
    free(out.p);
    out.p = NULL;
    out.len = 0;
    p->status = 500;
    p->ctype = "text/plain";
  }
  p->out = out.p;
  p->out_len = out.len;
  p->out_off = 0;
  p->headers_sent = 0;
}

static void http_prepare_stats(pss_t *p) {
  const stats_t *s = &srv.st;
  sb_t out = {0};
  sb_addf(&out, "{\"http_requests\":%" PRIu64 ",\"rpc_posts\":%" PRIu64 ",\"rpc_calls\":%" PRIu64
                ",\"rpc_batches\":%" PRIu64 ",\"rpc_unmatched\":%" PRIu64
                ",\"rpc_synthesized\":%" PRIu64,
          s->http_requests, s->rpc_posts, s->rpc_calls, s->rpc_batches, s->rpc_unmatched,
          s->rpc_synthesized);
  sb_addf(&out, ",\"faults_429\":%" PRIu64 ",\"faults_500\":%" PRIu64 ",\"faults_garbage\":%" PRIu64
                ",\"http_too_large\":%" PRIu64,
          s->faults_429, s->faults_500, s->faults_garbage, s->http_too_large);
  sb_addf(&out, ",\"ws_connections\":%" PRIu64 ",\"ws_open\":%" PRIu64 ",\"ws_subscriptions\":%" PRIu64
                ",\"ws_unsubscriptions\":%" PRIu64 ",\"ws_notifications\":%" PRIu64,
          s->ws_connections, s->ws_open, s->ws_subscriptions, s->ws_unsubscriptions,
          s->ws_notifications);
  sb_addf(&out, ",\"ws_drops\":%" PRIu64 ",\"ws_stalls\":%" PRIu64 ",\"ws_duplicates\":%" PRIu64
                ",\"ws_reordered\":%" PRIu64 ",\"ws_garbage\":%" PRIu64 ",\"ws_heartbeats\":%" PRIu64,
          s->ws_drops, s->ws_stalls, s->ws_duplicates, s->ws_reordered, s->ws_garbage,
          s->ws_heartbeats);
  sb_addf(&out, ",\"ws_stream_position\":%zu,\"ws_stream_length\":%zu,\"ws_stream_done\":%s}\n",
          srv.cursor, replay_store_ws_count(srv.store),
          srv.started && srv.cursor >= replay_store_ws_count(srv.store) ? "true" : "false");
  p->status = out.oom ? 500 : 200;
  p->ctype = "application/json";
  p->retry_after = -1;
  p->out = out.p;
  p->out_len = out.oom ? 0 : out.len;
  p->out_off = 0;
  p->headers_sent = 0;
}

static void http_prepare_text(pss_t *p, unsigned status, const char *text) {
  p->status = status;
  p->ctype = "text/plain";
  p->retry_after = -1;
  p->out = strdup(text);
  p->out_len = p->out ? strlen(text) : 0;
  p->out_off = 0;
  p->headers_sent = 0;
}

static void http_reset(pss_t *p) {
  free(p->body);
  free(p->out);
  p->body = p->out = NULL;
  p->body_len = p->body_cap = p->out_len = p->out_off = 0;
  p->body_too_big = 0;
  p->http_method = 0;
  p->headers_sent = 0;
}

static void latency_done(lws_sorted_usec_list_t *sul) {
  pss_t *p = lws_container_of(sul, pss_t, sul);
  lws_callback_on_writable(p->wsi);
}

static void http_respond_later(pss_t *p) {
  if (srv.o.latency_ms > 0)
    lws_sul_schedule(srv.ctx, 0, &p->sul, latency_done, (lws_usec_t)srv.o.latency_ms * 1000);
  else
    lws_callback_on_writable(p->wsi);
}

/* Returns 0 to keep the connection, -1 to close. */
static int http_writeable(pss_t *p) {
  static unsigned char chunk[LWS_PRE + HTTP_CHUNK];
  struct lws *wsi = p->wsi;
  if (!p->out && p->out_len == 0 && p->status == 0) return 0; /* nothing prepared */
  if (!p->headers_sent) {
    unsigned char hbuf[LWS_PRE + 1024];
    unsigned char *start = hbuf + LWS_PRE, *q = start, *end = hbuf + sizeof hbuf - 1;
    if (lws_add_http_common_headers(wsi, p->status, p->ctype, (lws_filepos_t)p->out_len, &q, end))
      return -1;
    if (p->retry_after >= 0) {
      char v[24];
      int n = snprintf(v, sizeof v, "%ld", p->retry_after);
      if (lws_add_http_header_by_name(wsi, (const unsigned char *)"Retry-After:",
                                      (const unsigned char *)v, n, &q, end))
        return -1;
    }
    if (lws_finalize_write_http_header(wsi, start, &q, end)) return -1;
    p->headers_sent = 1;
    if (p->out_len > 0) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  } else {
    size_t n = p->out_len - p->out_off;
    if (n > HTTP_CHUNK) n = HTTP_CHUNK;
    int final = p->out_off + n == p->out_len;
    memcpy(chunk + LWS_PRE, p->out + p->out_off, n);
    if (lws_write(wsi, chunk + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
      return -1;
    p->out_off += n;
    if (!final) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  }
  http_reset(p);
  p->status = 0;
  if (lws_http_transaction_completed(wsi)) return -1;
  return 0;
}

/* ---- websocket ------------------------------------------------------------ */

static msg_t *msg_new(const char *data, size_t len, int binary, int is_note) {
  msg_t *m = malloc(sizeof *m + LWS_PRE + len);
  if (!m) return NULL;
  m->next = NULL;
  m->len = len;
  m->binary = binary;
  m->is_note = is_note;
  memcpy(m->buf + LWS_PRE, data, len);
  return m;
}

static void q_push(pss_t *c, msg_t *m) {
  if (!m) return;
  m->next = NULL;
  if (c->q_tail) c->q_tail->next = m;
  else c->q_head = m;
  c->q_tail = m;
}

static void q_clear(pss_t *c) {
  while (c->q_head) {
    msg_t *m = c->q_head;
    c->q_head = m->next;
    free(m);
  }
  c->q_tail = NULL;
}

static void ws_send_text(pss_t *c, const char *s, size_t n) {
  q_push(c, msg_new(s, n, 0, 0));
  lws_callback_on_writable(c->wsi);
}

static void flush_hold(pss_t *c) {
  if (c->nhold > 1) srv.st.ws_reordered++;
  for (size_t i = c->nhold; i > 0; i--) q_push(c, c->hold[i - 1]);
  c->nhold = 0;
}

/* Delivers a notification message, through the reorder window if set. */
static void deliver(pss_t *c, msg_t *m) {
  if (!m) return;
  if (srv.o.ws_reorder_window > 1) {
    if (!c->hold) {
      c->hold = calloc(srv.o.ws_reorder_window, sizeof *c->hold);
      if (!c->hold) {
        q_push(c, m);
        return;
      }
    }
    c->hold[c->nhold++] = m;
    if (c->nhold == srv.o.ws_reorder_window) flush_hold(c);
    return;
  }
  q_push(c, m);
}

static msg_t *garbage_msg(pss_t *c, long subid) {
  sb_t b = {0};
  msg_t *m = NULL;
  switch (c->garbage_kind++ % 4) {
  case 0: /* truncated JSON */
    jsonraw_buf_adds(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":");
    break;
  case 1: { /* binary frame */
    unsigned char bin[64];
    for (size_t i = 0; i < sizeof bin; i++) bin[i] = (unsigned char)(i * 37 + 0xC1);
    return msg_new((const char *)bin, sizeof bin, 1, 0);
  }
  case 2: { /* oversized, well-formed notification */
    size_t target = srv.o.ws_oversize_bytes;
    jsonraw_buf_adds(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"programNotification\",\"params\":{\"result\":{"
                "\"context\":{\"slot\":1},\"value\":{\"pubkey\":\"11111111111111111111111111111111\","
                "\"account\":{\"data\":[\"");
    while (!b.oom && b.len + 4 < target) jsonraw_buf_add(&b, "AAAA", 4);
    sb_addf(&b, "\",\"base64\"],\"executable\":false,\"lamports\":1,\"owner\":"
                "\"11111111111111111111111111111111\",\"rentEpoch\":0,\"space\":0}}},"
                "\"subscription\":%ld}}",
            subid);
    break;
  }
  default: /* valid JSON, wrong shape */
    sb_addf(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"programNotification\",\"params\":{\"result\":"
                "{\"context\":{\"slot\":\"not-a-slot\"},\"value\":[1,2,3]},\"subscription\":%ld}}",
            subid);
    break;
  }
  if (!b.oom) m = msg_new(b.p, b.len, 0, 0);
  free(b.p);
  return m;
}

static int method_allowed(const char *note_method) {
  if (!srv.o.only_methods) return 1;
  for (char **q = srv.o.only_methods; *q; q++)
    if (strcmp(*q, note_method) == 0) return 1;
  return 0;
}

/* Sends notification text (params members in inner) to every matching
 * subscription of every connection. */
static void dispatch(const char *method, const char *inner, size_t inner_len) {
  if (!method_allowed(method)) return;
  for (pss_t *c = srv.conns; c; c = c->next_conn) {
    if (c->stalled) continue;
    int any = 0;
    for (sub_t *s = c->subs; s; s = s->next) {
      if (strcmp(s->note_method, method) != 0) continue;
      sb_t b = {0};
      jsonraw_buf_adds(&b, "{\"jsonrpc\":\"2.0\",\"method\":");
      sb_add_jstr(&b, method);
      jsonraw_buf_adds(&b, ",\"params\":{");
      if (inner_len) {
        jsonraw_buf_add(&b, inner, inner_len);
        jsonraw_buf_adds(&b, ",");
      }
      sb_addf(&b, "\"subscription\":%ld}}", s->id);
      if (b.oom) {
        free(b.p);
        continue;
      }
      c->notes_dispatched++;
      if (srv.o.ws_garbage_every && c->notes_dispatched % srv.o.ws_garbage_every == 0) {
        q_push(c, garbage_msg(c, s->id));
        srv.st.ws_garbage++;
      }
      deliver(c, msg_new(b.p, b.len, 0, 1));
      if (srv.o.ws_duplicate_every && c->notes_dispatched % srv.o.ws_duplicate_every == 0) {
        deliver(c, msg_new(b.p, b.len, 0, 1));
        srv.st.ws_duplicates++;
      }
      free(b.p);
      any = 1;
    }
    if (any) lws_callback_on_writable(c->wsi);
  }
}

static int64_t note_due_us(size_t i) {
  const replay_ws_note_t *n = replay_store_ws_note(srv.store, i);
  int64_t rel = (int64_t)((double)n->at_ms * 1000.0 / srv.o.speed);
  int64_t join = (int64_t)srv.o.ws_join_ms * 1000;
  return srv.t0_us + (rel > join ? rel : join);
}

static void heartbeat_tick(lws_sorted_usec_list_t *sul);

static void timeline_tick(lws_sorted_usec_list_t *sul) {
  (void)sul;
  size_t n = replay_store_ws_count(srv.store);
  int64_t now = progress_now_us();
  unsigned budget = 5000;
  while (srv.cursor < n && budget > 0) {
    if (note_due_us(srv.cursor) > now) break;
    const replay_ws_note_t *note = replay_store_ws_note(srv.store, srv.cursor);
    dispatch(note->method, note->params_inner, note->params_inner_len);
    srv.cursor++;
    budget--;
  }
  int64_t next = srv.cursor < n ? note_due_us(srv.cursor) - now : -1;
  if (srv.o.ws_reorder_window > 1 && (next < 0 || next > 50000)) {
    for (pss_t *c = srv.conns; c; c = c->next_conn)
      if (c->nhold) {
        flush_hold(c);
        lws_callback_on_writable(c->wsi);
      }
  }
  if (srv.cursor < n) {
    lws_sul_schedule(srv.ctx, 0, &srv.timeline, timeline_tick, next > 0 ? next : 1);
  } else if (srv.o.ws_slot_heartbeat_ms) {
    lws_sul_schedule(srv.ctx, 0, &srv.heartbeat, heartbeat_tick,
                     (lws_usec_t)srv.o.ws_slot_heartbeat_ms * 1000);
  }
}

/* After the recorded stream: synthetic slotNotifications continuing from
 * the last recorded slot, so a slot watchdog sees a live chain. */
static void heartbeat_tick(lws_sorted_usec_list_t *sul) {
  (void)sul;
  char inner[160];
  srv.last_slot++;
  uint64_t s = srv.last_slot;
  int k = snprintf(inner, sizeof inner, "\"result\":{\"parent\":%" PRIu64 ",\"root\":%" PRIu64
                                        ",\"slot\":%" PRIu64 "}",
                   s - 1, s > 32 ? s - 32 : 0, s);
  if (k > 0 && (size_t)k < sizeof inner) {
    dispatch("slotNotification", inner, (size_t)k);
    srv.st.ws_heartbeats++;
  }
  lws_sul_schedule(srv.ctx, 0, &srv.heartbeat, heartbeat_tick,
                   (lws_usec_t)srv.o.ws_slot_heartbeat_ms * 1000);
}

static void ws_reply_error(pss_t *c, long code, const char *msg, const char *id, size_t idlen) {
  sb_t b = {0};
  sb_addf(&b, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%ld,\"message\":", code);
  sb_add_jstr(&b, msg);
  jsonraw_buf_adds(&b, "},\"id\":");
  jsonraw_buf_add(&b, id, idlen);
  jsonraw_buf_adds(&b, "}");
  if (!b.oom) ws_send_text(c, b.p, b.len);
  free(b.p);
}

static int ends_with(const char *s, const char *suffix, size_t *prefix_len) {
  size_t l = strlen(s), k = strlen(suffix);
  if (l <= k || strcmp(s + l - k, suffix) != 0) return 0;
  *prefix_len = l - k;
  return 1;
}

static void ws_handle_message(pss_t *c, const char *text, size_t len) {
  char perr[200];
  jsonraw_span_t id = {"null", 4};
  size_t plen;
  json_t *doc = jsonx_loads(text, len, perr, sizeof perr);
  if (!doc || !json_is_object(doc)) {
    ws_reply_error(c, -32700, "Parse error", "null", 4);
    json_decref(doc);
    return;
  }
  if (jsonraw_member(text, len, "id", &id) != 1) {
    id.ptr = "null";
    id.len = 4;
  }
  const char *method = jsonx_get_str(doc, "method");
  if (!method) {
    ws_reply_error(c, -32600, "Invalid request", id.ptr, id.len);
  } else if (ends_with(method, "Unsubscribe", &plen)) {
    json_t *params = json_object_get(doc, "params");
    int64_t sid;
    sub_t **pp = &c->subs;
    int found = 0;
    if (jsonx_i64(json_array_get(params, 0), &sid) == 0) {
      while (*pp) {
        if ((*pp)->id == sid && strncmp((*pp)->note_method, method, plen) == 0) {
          sub_t *s = *pp;
          *pp = s->next;
          free(s->note_method);
          free(s);
          found = 1;
          break;
        }
        pp = &(*pp)->next;
      }
    }
    if (found) {
      sb_t b = {0};
      srv.st.ws_unsubscriptions++;
      jsonraw_buf_adds(&b, "{\"jsonrpc\":\"2.0\",\"result\":true,\"id\":");
      jsonraw_buf_add(&b, id.ptr, id.len);
      jsonraw_buf_adds(&b, "}");
      if (!b.oom) ws_send_text(c, b.p, b.len);
      free(b.p);
    } else {
      ws_reply_error(c, -32602, "Invalid subscription id.", id.ptr, id.len);
    }
  } else if (ends_with(method, "Subscribe", &plen)) {
    sub_t *s = calloc(1, sizeof *s);
    char *nm = malloc(plen + sizeof "Notification");
    if (!s || !nm) {
      free(s);
      free(nm);
      ws_reply_error(c, -32603, "Internal error", id.ptr, id.len);
      json_decref(doc);
      return;
    }
    memcpy(nm, method, plen);
    memcpy(nm + plen, "Notification", sizeof "Notification");
    s->note_method = nm;
    s->id = ++srv.next_subid;
    s->next = c->subs;
    c->subs = s;
    srv.st.ws_subscriptions++;
    sb_t b = {0};
    sb_addf(&b, "{\"jsonrpc\":\"2.0\",\"result\":%ld,\"id\":", s->id);
    jsonraw_buf_add(&b, id.ptr, id.len);
    jsonraw_buf_adds(&b, "}");
    if (!b.oom) ws_send_text(c, b.p, b.len);
    free(b.p);
    log_debug("replay", "subscribe method=%s id=%ld", method, s->id);
    if (!srv.started) {
      srv.started = 1;
      srv.t0_us = progress_now_us();
      lws_sul_schedule(srv.ctx, 0, &srv.timeline, timeline_tick, 1);
    }
  } else {
    ws_reply_error(c, -32601, "Method not found", id.ptr, id.len);
  }
  json_decref(doc);
}

static void ws_free_conn(pss_t *c) {
  if (c->prev_conn) c->prev_conn->next_conn = c->next_conn;
  else if (srv.conns == c) srv.conns = c->next_conn;
  if (c->next_conn) c->next_conn->prev_conn = c->prev_conn;
  c->next_conn = c->prev_conn = NULL;
  q_clear(c);
  for (size_t i = 0; i < c->nhold; i++) free(c->hold[i]);
  free(c->hold);
  c->hold = NULL;
  c->nhold = 0;
  while (c->subs) {
    sub_t *s = c->subs;
    c->subs = s->next;
    free(s->note_method);
    free(s);
  }
  free(c->rx);
  c->rx = NULL;
}

static int fault_allowed(int *done_flag) {
  if (!srv.o.ws_fault_once) return 1;
  if (*done_flag) return 0;
  *done_flag = 1;
  return 1;
}

static int ws_writeable(pss_t *c) {
  struct lws *wsi = c->wsi;
  if (c->stalled) {
    q_clear(c);
    return 0;
  }
  while (c->q_head) {
    msg_t *m = c->q_head;
    c->q_head = m->next;
    if (!c->q_head) c->q_tail = NULL;
    int n = lws_write(wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    int is_note = m->is_note;
    size_t len = m->len;
    free(m);
    if (n < (int)len) return -1;
    if (is_note) {
      c->notes_sent++;
      srv.st.ws_notifications++;
      if (srv.o.ws_drop_after && c->notes_sent >= srv.o.ws_drop_after &&
          fault_allowed(&srv.drop_done)) {
        srv.st.ws_drops++;
        log_info("replay", "dropping websocket after %" PRIu64 " notifications", c->notes_sent);
        shutdown(lws_get_socket_fd(wsi), SHUT_RDWR);
        return -1;
      }
      if (srv.o.ws_stall_after && c->notes_sent >= srv.o.ws_stall_after &&
          fault_allowed(&srv.stall_done)) {
        srv.st.ws_stalls++;
        log_info("replay", "stalling websocket after %" PRIu64 " notifications", c->notes_sent);
        c->stalled = 1;
        q_clear(c);
        return 0;
      }
    }
    if (lws_send_pipe_choked(wsi)) break;
  }
  if (c->q_head) lws_callback_on_writable(wsi);
  return 0;
}

/* ---- the protocol callback ---------------------------------------------- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
  pss_t *p = user;
  switch (reason) {
  case LWS_CALLBACK_HTTP:
    srv.st.http_requests++;
    p->wsi = wsi;
    http_reset(p);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
      p->http_method = 1;
      return 0; /* the body follows */
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0 && in && strcmp(in, "/stats") == 0)
      http_prepare_stats(p);
    else if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0 && in && strcmp(in, "/health") == 0)
      http_prepare_text(p, 200, "ok\n");
    else
      http_prepare_text(p, 404, "not found: POST JSON-RPC to /, GET /stats, or upgrade to websocket\n");
    lws_callback_on_writable(wsi);
    return 0;

  case LWS_CALLBACK_HTTP_BODY:
    if (p->body_too_big) return 0;
    if (len > srv.o.max_body - p->body_len) {
      p->body_too_big = 1;
      return 0;
    }
    if (len > p->body_cap - p->body_len) {
      size_t cap = p->body_cap ? p->body_cap : 4096;
      while (len > cap - p->body_len) cap *= 2;
      char *nb = realloc(p->body, cap + 1);
      if (!nb) return -1;
      p->body = nb;
      p->body_cap = cap;
    }
    memcpy(p->body + p->body_len, in, len);
    p->body_len += len;
    return 0;

  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    p->wsi = wsi;
    http_prepare_rpc(p);
    http_respond_later(p);
    return 0;

  case LWS_CALLBACK_HTTP_WRITEABLE:
    return http_writeable(p);

  case LWS_CALLBACK_CLOSED_HTTP:
    if (p) {
      lws_sul_cancel(&p->sul);
      http_reset(p);
    }
    break;

  case LWS_CALLBACK_ESTABLISHED:
    memset(p, 0, sizeof *p);
    p->wsi = wsi;
    p->is_ws = 1;
    p->next_conn = srv.conns;
    if (srv.conns) srv.conns->prev_conn = p;
    srv.conns = p;
    srv.st.ws_connections++;
    srv.st.ws_open++;
    return 0;

  case LWS_CALLBACK_RECEIVE:
    if (!lws_frame_is_binary(wsi) && !p->rx_too_big) {
      if (len > srv.o.ws_max_message - p->rx_len) {
        p->rx_too_big = 1;
      } else {
        if (len + 1 > p->rx_cap - p->rx_len) {
          size_t cap = p->rx_cap ? p->rx_cap : 1024;
          while (len + 1 > cap - p->rx_len) cap *= 2;
          char *nb = realloc(p->rx, cap);
          if (!nb) return -1;
          p->rx = nb;
          p->rx_cap = cap;
        }
        memcpy(p->rx + p->rx_len, in, len);
        p->rx_len += len;
      }
    }
    if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
      if (p->rx_too_big) ws_reply_error(p, -32600, "message too large", "null", 4);
      else if (p->rx_len) ws_handle_message(p, p->rx, p->rx_len);
      p->rx_len = 0;
      p->rx_too_big = 0;
    }
    return 0;

  case LWS_CALLBACK_SERVER_WRITEABLE:
    return ws_writeable(p);

  case LWS_CALLBACK_CLOSED:
    if (p && p->is_ws) {
      ws_free_conn(p);
      p->is_ws = 0;
      srv.st.ws_open--;
    }
    return 0;

  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"cbi-replay", callback, sizeof(pss_t), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

/* ---- main ---------------------------------------------------------------- */

static void lws_log_bridge(int level, const char *line) {
  size_t n = strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
  if (level & LLL_ERR) log_error("lws", "%.*s", (int)n, line);
  else if (level & LLL_WARN) log_warn("lws", "%.*s", (int)n, line);
  else log_debug("lws", "%.*s", (int)n, line);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: cbi-replay --dir SCENARIO_DIR [options]\n"
          "\n"
          "Serves SCENARIO_DIR/rpc.jsonl (JSON-RPC over HTTP POST) and SCENARIO_DIR/ws.jsonl\n"
          "(websocket subscriptions) on 127.0.0.1. Format: fixtures/README.md.\n"
          "Requests without a recording: getMultipleAccounts, getAccountInfo and\n"
          "getProgramAccounts are answered from SCENARIO_DIR/accounts.json, getBlocks from\n"
          "SCENARIO_DIR/expected.json meta.produced_slots, when those files exist.\n"
          "\n"
          "  --port N                 0 = ephemeral (default); prints \"listening on PORT\" first\n"
          "  --speed X                notification time scale (default 1; 100 = 100x faster)\n"
          "  --latency-ms N           added latency per HTTP response\n"
          "  --fail-429-every N       every Nth JSON-RPC POST gets HTTP 429\n"
          "  --retry-after S          Retry-After seconds sent with 429 (default 1)\n"
          "  --fail-500-every N       every Nth JSON-RPC POST gets HTTP 500\n"
          "  --fail-garbage-every N   every Nth JSON-RPC POST gets HTTP 200 with a non-JSON body\n"
          "  --max-body N             request body cap in bytes (default 64 MiB; over = 413)\n"
          "  --ws-drop-after N        close a websocket abruptly after N notifications\n"
          "  --ws-stall-after N       stop sending on a websocket after N notifications\n"
          "  --ws-fault-once          drop/stall only the first connection that reaches N\n"
          "  --ws-duplicate-every N   send every Nth notification twice\n"
          "  --ws-reorder-window N    deliver notifications in reversed windows of N\n"
          "  --ws-garbage-every N     before every Nth notification send a malformed message\n"
          "                           (cycling: truncated JSON, binary frame, oversized\n"
          "                           frame, wrong-shape JSON)\n"
          "  --ws-oversize-bytes N    size of the oversized frame (default 2 MiB)\n"
          "  --ws-only-methods LIST   comma-separated notification (or subscribe) methods to stream\n"
          "  --ws-join-ms N           subscriptions within N ms of the first one all get the\n"
          "                           stream from its start (default 100)\n"
          "  --ws-slot-heartbeat-ms N after the stream, a synthetic slotNotification every N ms\n"
          "  --ws-max-message N       incoming websocket message cap (default 1 MiB)\n"
          "  --log-level LEVEL        debug | info | warn | error (default warn)\n");
}

static int parse_only_methods(const char *arg) {
  size_t n = 1;
  for (const char *q = arg; *q; q++)
    if (*q == ',') n++;
  char **v = calloc(n + 1, sizeof *v);
  char *copy = strdup(arg);
  if (!v || !copy) {
    free(v);
    free(copy);
    return -1;
  }
  size_t k = 0;
  char *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    size_t plen;
    char *name;
    if (ends_with(t, "Subscribe", &plen)) {
      name = malloc(plen + sizeof "Notification");
      if (name) {
        memcpy(name, t, plen);
        memcpy(name + plen, "Notification", sizeof "Notification");
      }
    } else {
      name = strdup(t);
    }
    if (!name) return -1;
    v[k++] = name;
  }
  free(copy);
  srv.o.only_methods = v;
  return 0;
}

/* The heartbeat continues from the slot of the last slotNotification in
 * file order (not the largest: a scenario may hold hostile slots such as
 * 2^64-1 mid-stream). */
static void find_last_slot(void) {
  size_t n = replay_store_ws_count(srv.store);
  for (size_t i = 0; i < n; i++) {
    const replay_ws_note_t *note = replay_store_ws_note(srv.store, i);
    if (strcmp(note->method, "slotNotification") != 0) continue;
    char buf[512];
    int k = snprintf(buf, sizeof buf, "{%s}", note->params_inner);
    if (k < 0 || (size_t)k >= sizeof buf) continue;
    json_t *d = jsonx_loads(buf, (size_t)k, NULL, 0);
    uint64_t s;
    if (d && jsonx_get_u64(json_object_get(d, "result"), "slot", &s) == 0) {
      srv.last_slot = s;
      srv.have_slot = 1;
    }
    json_decref(d);
  }
}

enum {
  OPT_DIR = 1, OPT_PORT, OPT_SPEED, OPT_LATENCY, OPT_429, OPT_RETRY_AFTER, OPT_500, OPT_GARBAGE,
  OPT_MAX_BODY, OPT_WS_DROP, OPT_WS_STALL, OPT_WS_ONCE, OPT_WS_DUP, OPT_WS_REORDER, OPT_WS_GARBAGE,
  OPT_WS_OVERSIZE, OPT_WS_ONLY, OPT_WS_JOIN, OPT_WS_HEARTBEAT, OPT_WS_MAX_MSG, OPT_LOG, OPT_HELP
};

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"dir", required_argument, 0, OPT_DIR},
      {"port", required_argument, 0, OPT_PORT},
      {"speed", required_argument, 0, OPT_SPEED},
      {"latency-ms", required_argument, 0, OPT_LATENCY},
      {"fail-429-every", required_argument, 0, OPT_429},
      {"retry-after", required_argument, 0, OPT_RETRY_AFTER},
      {"fail-500-every", required_argument, 0, OPT_500},
      {"fail-garbage-every", required_argument, 0, OPT_GARBAGE},
      {"max-body", required_argument, 0, OPT_MAX_BODY},
      {"ws-drop-after", required_argument, 0, OPT_WS_DROP},
      {"ws-stall-after", required_argument, 0, OPT_WS_STALL},
      {"ws-fault-once", no_argument, 0, OPT_WS_ONCE},
      {"ws-duplicate-every", required_argument, 0, OPT_WS_DUP},
      {"ws-reorder-window", required_argument, 0, OPT_WS_REORDER},
      {"ws-garbage-every", required_argument, 0, OPT_WS_GARBAGE},
      {"ws-oversize-bytes", required_argument, 0, OPT_WS_OVERSIZE},
      {"ws-only-methods", required_argument, 0, OPT_WS_ONLY},
      {"ws-join-ms", required_argument, 0, OPT_WS_JOIN},
      {"ws-slot-heartbeat-ms", required_argument, 0, OPT_WS_HEARTBEAT},
      {"ws-max-message", required_argument, 0, OPT_WS_MAX_MSG},
      {"log-level", required_argument, 0, OPT_LOG},
      {"help", no_argument, 0, OPT_HELP},
      {0, 0, 0, 0}};
  char err[512];
  int rc = EXIT_FAILURE_RUN;
  unsigned long long port = 0;
  srv.o.speed = 1.0;
  srv.o.retry_after_s = 1;
  srv.o.max_body = 64ull << 20;
  srv.o.ws_oversize_bytes = 2ull << 20;
  srv.o.ws_join_ms = 100;
  srv.o.ws_max_message = 1ull << 20;
  log_min_level = LOG_WARN;
  int opt;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    unsigned long long *target = NULL;
    switch (opt) {
    case OPT_DIR: srv.o.dir = optarg; continue;
    case OPT_PORT: target = &port; break;
    case OPT_SPEED: {
      char *end = NULL;
      errno = 0;
      srv.o.speed = strtod(optarg, &end);
      if (errno || *end || !(srv.o.speed > 0) || srv.o.speed > 1e9) {
        fprintf(stderr, "cbi-replay: --speed must be a positive number\n");
        return EXIT_USAGE;
      }
      continue;
    }
    case OPT_LATENCY: target = &srv.o.latency_ms; break;
    case OPT_429: target = &srv.o.fail_429_every; break;
    case OPT_RETRY_AFTER: target = &srv.o.retry_after_s; break;
    case OPT_500: target = &srv.o.fail_500_every; break;
    case OPT_GARBAGE: target = &srv.o.fail_garbage_every; break;
    case OPT_MAX_BODY: target = &srv.o.max_body; break;
    case OPT_WS_DROP: target = &srv.o.ws_drop_after; break;
    case OPT_WS_STALL: target = &srv.o.ws_stall_after; break;
    case OPT_WS_ONCE: srv.o.ws_fault_once = 1; continue;
    case OPT_WS_DUP: target = &srv.o.ws_duplicate_every; break;
    case OPT_WS_REORDER: target = &srv.o.ws_reorder_window; break;
    case OPT_WS_GARBAGE: target = &srv.o.ws_garbage_every; break;
    case OPT_WS_OVERSIZE: target = &srv.o.ws_oversize_bytes; break;
    case OPT_WS_JOIN: target = &srv.o.ws_join_ms; break;
    case OPT_WS_HEARTBEAT: target = &srv.o.ws_slot_heartbeat_ms; break;
    case OPT_WS_MAX_MSG: target = &srv.o.ws_max_message; break;
    case OPT_WS_ONLY:
      if (parse_only_methods(optarg) != 0) return EXIT_FAILURE_RUN;
      continue;
    case OPT_LOG:
      if (log_set_level(optarg) != 0) {
        fprintf(stderr, "cbi-replay: bad --log-level %s\n", optarg);
        return EXIT_USAGE;
      }
      continue;
    case OPT_HELP: usage(stdout); return EXIT_OK;
    default: usage(stderr); return EXIT_USAGE;
    }
    if (config_parse_u64(optarg, target) != 0) {
      fprintf(stderr, "cbi-replay: bad value '%s' for %s\n", optarg, argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  if (!srv.o.dir || optind != argc || port > 65535 || srv.o.max_body == 0 ||
      srv.o.ws_max_message == 0 || srv.o.ws_reorder_window > 100000) {
    usage(stderr);
    return EXIT_USAGE;
  }
  srv.o.port = (unsigned)port;
  srv.store = replay_store_load(srv.o.dir, err, sizeof err);
  if (!srv.store) {
    fprintf(stderr, "cbi-replay: %s\n", err);
    return EXIT_FAILURE_RUN;
  }
  find_last_slot();

  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL); /* pending until signal_thread takes it */
  signal(SIGPIPE, SIG_IGN);

  lws_set_log_level(log_min_level <= LOG_DEBUG ? (LLL_ERR | LLL_WARN | LLL_NOTICE)
                                               : (LLL_ERR | LLL_WARN),
                    lws_log_bridge);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = (int)srv.o.port;
  info.iface = "127.0.0.1";
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  info.keepalive_timeout = 60;
  info.timeout_secs = 60;
  srv.ctx = lws_create_context(&info);
  if (!srv.ctx) {
    fprintf(stderr, "cbi-replay: cannot create the server on 127.0.0.1:%u\n", srv.o.port);
    goto out;
  }
  struct lws_vhost *vh = lws_get_vhost_by_name(srv.ctx, "default");
  int actual = vh ? lws_get_vhost_listen_port(vh) : (int)srv.o.port;
  printf("listening on %d\n", actual);
  fflush(stdout);
  log_info("replay", "serving dir=%s rpc=%zu ws=%zu accounts=%zu produced_slots=%zu port=%d",
           srv.o.dir, replay_store_rpc_count(srv.store), replay_store_ws_count(srv.store),
           replay_store_account_count(srv.store), replay_store_produced_slot_count(srv.store),
           actual);

  pthread_t sig_th;
  if (pthread_create(&sig_th, NULL, signal_thread, srv.ctx) != 0) {
    fprintf(stderr, "cbi-replay: cannot start the signal thread\n");
    goto out;
  }
  pthread_detach(sig_th);
  int n = 0;
  while (n >= 0 && !atomic_load(&interrupted)) n = lws_service(srv.ctx, 0);
  rc = EXIT_OK;
out:
  if (srv.ctx) lws_context_destroy(srv.ctx);
  replay_store_free(srv.store);
  if (srv.o.only_methods) {
    for (char **q = srv.o.only_methods; *q; q++) free(*q);
    free(srv.o.only_methods);
  }
  return rc;
}
