/* libwebsockets client thread for the Solana subscriptions (ws_client.h).
 *
 * Everything below runs on the lws service thread except ws_client_start,
 * ws_client_stop, ws_client_wake and ws_client_get_stats. The only
 * cross-thread signals are the atomic stop flag, lws_cancel_service() and
 * the stats mutex; the queue has its own lock. */
#include "ws_client.h"

#include <inttypes.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "jsonraw.h"
#include "jsonx.h"
#include "log.h"

#define WS_TICK_US (200 * LWS_US_PER_MS)
#define WS_SUBS 3
#define WS_RX_BUFFER 65536
#define WS_STABLE_NS (10ull * 1000000000ull) /* a connection this old resets the backoff */
#define NS_PER_S 1000000000ull

#ifndef LWS_US_PER_MS
#define LWS_US_PER_MS ((lws_usec_t)1000)
#endif

typedef enum { WS_IDLE = 0, WS_CONNECTING, WS_OPEN, WS_SUBSCRIBED } ws_state_t;

struct ws_client {
  ws_client_options_t o;
  char *url, *program_id, *commitment;
  int tls, port;
  char host[256], host_header[300], path[1024];
  char sub_msg[WS_SUBS][512];
  size_t sub_len[WS_SUBS];
  msgqueue_t *q;
  struct lws_context *ctx;
  struct lws_protocols protocols[2];
  pthread_t thread;
  int thread_started;
  atomic_int stop_req;

  /* service-thread state */
  struct lws *wsi;
  ws_state_t state;
  int stopping, done, closing;
  const char *close_reason;
  uint64_t gen;       /* subscribed connections so far */
  int subs_next;      /* next subscription request to write */
  unsigned subs_ok;   /* bitmask of confirmed subscriptions */
  int ping_due;
  uint64_t t_open_ns, t_subscribed_ns, t_last_msg_ns, t_last_slot_ns, t_last_ping_ns;
  uint64_t conn_max_slot;
  msgqueue_item_t *rx; /* message being reassembled */
  uint64_t rx_total;
  int rx_over;
  msgqueue_item_t *pend_head, *pend_tail; /* read but not yet queued */
  int paused;
  unsigned attempt;
  lws_sorted_usec_list_t sul_tick, sul_retry;
  unsigned char txbuf[LWS_PRE + 512];

  pthread_mutex_t stats_mu;
  ws_client_stats_t stats;
};

/* ---- helpers ----------------------------------------------------------- */

static uint64_t now_ns(void) { return msgqueue_now_ns(); }

/* Time since t (0 when t is later than now). */
static uint64_t age_ns(uint64_t now, uint64_t t) { return now > t ? now - t : 0; }

#define STAT_ADD(c, field, n)                     \
  do {                                            \
    pthread_mutex_lock(&(c)->stats_mu);           \
    (c)->stats.field += (n);                      \
    pthread_mutex_unlock(&(c)->stats_mu);         \
  } while (0)

#define STAT_SET(c, field, v)                     \
  do {                                            \
    pthread_mutex_lock(&(c)->stats_mu);           \
    (c)->stats.field = (v);                       \
    pthread_mutex_unlock(&(c)->stats_mu);         \
  } while (0)

int ws_client_parse_url(const char *url, int *tls, char *host, size_t hostsz, int *port,
                        char *path, size_t pathsz) {
  const char *p;
  if (!url) return -1;
  if (strncmp(url, "ws://", 5) == 0) {
    *tls = 0;
    p = url + 5;
  } else if (strncmp(url, "wss://", 6) == 0) {
    *tls = 1;
    p = url + 6;
  } else {
    return -1;
  }
  /* userinfo is not supported: it would end up in logs and Host headers */
  const char *end = p + strcspn(p, "/?#");
  if (memchr(p, '@', (size_t)(end - p))) return -1;
  const char *hs = p, *he, *portp = NULL;
  if (*p == '[') {
    const char *rb = memchr(p, ']', (size_t)(end - p));
    if (!rb) return -1;
    hs = p + 1;
    he = rb;
    if (rb + 1 < end) {
      if (rb[1] != ':') return -1;
      portp = rb + 2;
    }
  } else {
    const char *colon = memchr(p, ':', (size_t)(end - p));
    he = colon ? colon : end;
    if (colon) portp = colon + 1;
  }
  size_t hl = (size_t)(he - hs);
  if (hl == 0 || hl >= hostsz) return -1;
  memcpy(host, hs, hl);
  host[hl] = '\0';
  if (portp) {
    if (portp >= end) return -1;
    long v = 0;
    for (const char *d = portp; d < end; d++) {
      if (*d < '0' || *d > '9') return -1;
      v = v * 10 + (*d - '0');
      if (v > 65535) return -1;
    }
    if (v == 0) return -1;
    *port = (int)v;
  } else {
    *port = *tls ? 443 : 80;
  }
  const char *rest = end;
  if (*rest == '#') rest = "";
  size_t rl = strcspn(rest, "#");
  if (rl == 0) {
    if (pathsz < 2) return -1;
    path[0] = '/';
    path[1] = '\0';
  } else if (*rest == '?') {
    if (rl + 2 > pathsz) return -1;
    path[0] = '/';
    memcpy(path + 1, rest, rl);
    path[rl + 1] = '\0';
  } else {
    if (rl + 1 > pathsz) return -1;
    memcpy(path, rest, rl);
    path[rl] = '\0';
  }
  return 0;
}

static int span_is(const jsonraw_span_t *v, const char *lit) {
  size_t n = strlen(lit);
  return v->len == n && memcmp(v->ptr, lit, n) == 0;
}

/* ---- queue hand-off ------------------------------------------------------ */

static void pend_append(ws_client_t *c, msgqueue_item_t *it) {
  it->next = NULL;
  if (c->pend_tail) c->pend_tail->next = it;
  else c->pend_head = it;
  c->pend_tail = it;
}

static void pause_reading(ws_client_t *c) {
  if (c->paused || !c->wsi) return;
  lws_rx_flow_control(c->wsi, 0);
  c->paused = 1;
  pthread_mutex_lock(&c->stats_mu);
  c->stats.paused++;
  c->stats.reading_paused = 1;
  pthread_mutex_unlock(&c->stats_mu);
  log_debug("ws", "queue full: reading paused");
}

/* Pushes held items in order. Returns 1 when nothing is held any more. */
static int flush_pending(ws_client_t *c) {
  while (c->pend_head) {
    msgqueue_item_t *it = c->pend_head, *next = it->next;
    int rc = msgqueue_try_push(c->q, it);
    if (rc == MSGQ_ERR_FULL) return 0;
    c->pend_head = next;
    if (!next) c->pend_tail = NULL;
    if (rc != MSGQ_OK) msgqueue_item_free(it); /* closed: the consumer is gone */
  }
  return 1;
}

static void resume_reading(ws_client_t *c) {
  if (!c->paused) return;
  c->paused = 0;
  if (c->wsi) lws_rx_flow_control(c->wsi, 1 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
  /* time spent paused is not a stall */
  c->t_last_msg_ns = c->t_last_slot_ns = now_ns();
  STAT_SET(c, reading_paused, 0);
  log_debug("ws", "queue has room: reading resumed");
}

static void deliver(ws_client_t *c, msgqueue_item_t *it) {
  if (!c->pend_head) {
    int rc = msgqueue_try_push(c->q, it);
    if (rc == MSGQ_OK) return;
    if (rc != MSGQ_ERR_FULL) {
      msgqueue_item_free(it);
      return;
    }
  }
  pend_append(c, it);
  pause_reading(c);
}

static void deliver_control(ws_client_t *c, int kind, uint64_t aux, const char *text) {
  size_t n = text ? strlen(text) : 0;
  msgqueue_item_t *it = msgqueue_item_new(kind, n);
  if (!it) {
    log_error("ws", "out of memory queueing a connection event");
    return;
  }
  it->aux = aux;
  if (n) msgqueue_item_append(&it, text, n, n);
  deliver(c, it);
}

/* ---- connection lifecycle ------------------------------------------------ */

static void retry_cb(lws_sorted_usec_list_t *sul);
static void tick_cb(lws_sorted_usec_list_t *sul);
static void ws_connect(ws_client_t *c);

static void schedule_retry(ws_client_t *c) {
  unsigned shift = c->attempt < 16 ? c->attempt : 16;
  uint64_t d = (uint64_t)c->o.backoff_initial_ms << shift;
  if (d > (uint64_t)c->o.backoff_max_ms) d = (uint64_t)c->o.backoff_max_ms;
  /* equal jitter: [d/2, d] */
  uint32_t half = (uint32_t)(d / 2);
  uint64_t delay = half + randombytes_uniform(half + 1);
  if (c->attempt < 64) c->attempt++;
  log_warn("ws", "reconnecting in_ms=%" PRIu64 " attempt=%u", delay, c->attempt);
  lws_sul_schedule(c->ctx, 0, &c->sul_retry, retry_cb, (lws_usec_t)delay * LWS_US_PER_MS);
}

/* The connection attempt or connection is over (error, close, timeout). */
static void conn_lost(ws_client_t *c, const char *reason) {
  if (c->state == WS_IDLE) return;
  int was_subscribed = c->state == WS_SUBSCRIBED;
  uint64_t lived = was_subscribed ? now_ns() - c->t_subscribed_ns : 0;
  c->wsi = NULL;
  c->state = WS_IDLE;
  c->closing = 0;
  c->subs_ok = 0;
  c->subs_next = 0;
  c->ping_due = 0;
  if (c->rx) {
    msgqueue_item_free(c->rx);
    c->rx = NULL;
  }
  if (c->paused) {
    c->paused = 0;
    STAT_SET(c, reading_paused, 0);
  }
  if (was_subscribed) {
    pthread_mutex_lock(&c->stats_mu);
    c->stats.disconnects++;
    c->stats.connected = 0;
    pthread_mutex_unlock(&c->stats_mu);
    if (lived >= WS_STABLE_NS) c->attempt = 0;
  } else {
    STAT_ADD(c, connect_failures, 1);
  }
  if (c->stopping) {
    c->done = 1;
    return;
  }
  if (was_subscribed) {
    log_warn("ws", "connection lost conn=%" PRIu64 " reason=%s", c->gen, reason);
    deliver_control(c, WS_ITEM_DISCONNECTED, c->gen, reason);
  } else {
    log_warn("ws", "connect failed reason=%s", reason);
  }
  schedule_retry(c);
}

/* Asks for the current connection to end: a close frame when it is open,
 * and a hard close one second later in any case. */
static void close_conn(ws_client_t *c, const char *reason) {
  if (!c->wsi || c->closing) return;
  c->closing = 1;
  c->close_reason = reason;
  if (c->state == WS_OPEN || c->state == WS_SUBSCRIBED) {
    if (c->paused) {
      /* reading is paused: a close handshake cannot complete; close now */
      lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
      return;
    }
    lws_callback_on_writable(c->wsi);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 1);
  } else {
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
}

static void begin_stop(ws_client_t *c) {
  if (c->stopping) return;
  c->stopping = 1;
  lws_sul_cancel(&c->sul_retry);
  if (c->wsi) close_conn(c, "shutdown");
  else {
    c->state = WS_IDLE;
    c->done = 1;
  }
}

static void ws_connect(ws_client_t *c) {
  struct lws_client_connect_info i;
  memset(&i, 0, sizeof i);
  i.context = c->ctx;
  i.address = c->host;
  i.port = c->port;
  i.path = c->path;
  i.host = c->host_header;
  i.origin = c->host_header;
  i.protocol = NULL;
  i.local_protocol_name = c->protocols[0].name;
  i.ietf_version_or_minus_one = -1;
  if (c->tls) {
    i.ssl_connection = LCCSCF_USE_SSL;
    if (c->o.insecure)
      i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                          LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
  }
  c->state = WS_CONNECTING;
  c->closing = 0;
  c->t_open_ns = now_ns();
  c->wsi = NULL;
  struct lws *wsi = lws_client_connect_via_info(&i);
  if (c->state != WS_CONNECTING) return; /* failed inside the call, already handled */
  if (!wsi) {
    conn_lost(c, "connect failed");
    return;
  }
  c->wsi = wsi;
}

static void retry_cb(lws_sorted_usec_list_t *sul) {
  ws_client_t *c = lws_container_of(sul, ws_client_t, sul_retry);
  if (c->stopping) {
    c->done = 1;
    return;
  }
  ws_connect(c);
}

static void tick_cb(lws_sorted_usec_list_t *sul) {
  ws_client_t *c = lws_container_of(sul, ws_client_t, sul_tick);
  if (atomic_load(&c->stop_req)) begin_stop(c);
  if (c->pend_head && flush_pending(c)) resume_reading(c);
  uint64_t now = now_ns();
  if (c->wsi && !c->closing) {
    if (c->state != WS_SUBSCRIBED) {
      if (age_ns(now, c->t_open_ns) > (uint64_t)c->o.connect_timeout_s * NS_PER_S)
        close_conn(c, "subscribe-timeout");
    } else if (c->paused) {
      c->t_last_msg_ns = c->t_last_slot_ns = now;
    } else if (age_ns(now, c->t_last_msg_ns) > (uint64_t)c->o.stall_timeout_s * NS_PER_S) {
      STAT_ADD(c, stalls, 1);
      log_warn("ws", "stall: no message for %d s", c->o.stall_timeout_s);
      close_conn(c, "stall");
    } else if (c->o.slot_timeout_s > 0 &&
               age_ns(now, c->t_last_slot_ns) > (uint64_t)c->o.slot_timeout_s * NS_PER_S) {
      STAT_ADD(c, slot_timeouts, 1);
      log_warn("ws", "slot watchdog: no new slot for %d s (last=%" PRIu64 ")",
               c->o.slot_timeout_s, c->conn_max_slot);
      close_conn(c, "slot-timeout");
    }
    if (c->wsi && !c->closing && (c->state == WS_OPEN || c->state == WS_SUBSCRIBED) &&
        age_ns(now, c->t_last_ping_ns) >= (uint64_t)c->o.ping_interval_s * NS_PER_S) {
      c->ping_due = 1;
      c->t_last_ping_ns = now;
      lws_callback_on_writable(c->wsi);
    }
  }
  if (!c->done) lws_sul_schedule(c->ctx, 0, &c->sul_tick, tick_cb, WS_TICK_US);
}

/* ---- messages -------------------------------------------------------------- */

static void handle_reply(ws_client_t *c, const msgqueue_item_t *it) {
  char err[160];
  json_t *doc = jsonx_loads((const char *)it->data, it->len, err, sizeof err);
  json_t *id = doc ? json_object_get(doc, "id") : NULL;
  json_int_t n = json_is_integer(id) ? json_integer_value(id) : 0;
  json_t *result = doc ? json_object_get(doc, "result") : NULL;
  json_t *error = doc ? json_object_get(doc, "error") : NULL;
  static const char *const names[WS_SUBS] = {"programSubscribe", "logsSubscribe",
                                             "slotSubscribe"};
  if (n < 1 || n > WS_SUBS) {
    log_debug("ws", "reply to an unknown request ignored");
    goto out;
  }
  if (error || !json_is_integer(result)) {
    char *text = error ? json_dumps(error, JSON_COMPACT) : NULL;
    log_error("ws", "subscription rejected method=%s error=%s", names[n - 1],
              text ? text : "no subscription id");
    free(text);
    close_conn(c, "subscribe-error");
    goto out;
  }
  c->subs_ok |= 1u << (n - 1);
  if (c->state == WS_OPEN && c->subs_ok == (1u << WS_SUBS) - 1) {
    c->state = WS_SUBSCRIBED;
    c->gen++;
    c->t_subscribed_ns = c->t_last_msg_ns = c->t_last_slot_ns = now_ns();
    c->conn_max_slot = 0;
    pthread_mutex_lock(&c->stats_mu);
    c->stats.connects++;
    c->stats.connected = 1;
    pthread_mutex_unlock(&c->stats_mu);
    if (c->gen == 1)
      log_info("ws", "subscribed program=%s commitment=%s", c->program_id, c->commitment);
    else
      log_info("ws", "resubscribed conn=%" PRIu64, c->gen);
    deliver_control(c, WS_ITEM_CONNECTED, c->gen, NULL);
  }
out:
  json_decref(doc);
}

/* Looks at a complete message; returns 1 when it goes to the writer. */
static int inspect_message(ws_client_t *c, const msgqueue_item_t *it) {
  const char *s = (const char *)it->data;
  jsonraw_span_t v;
  int m = jsonraw_member(s, it->len, "method", &v);
  if (m == 1) {
    if (span_is(&v, "\"slotNotification\"")) {
      jsonraw_span_t params, result, slot, root;
      uint64_t sl = 0, rt = 0;
      if (jsonraw_member(s, it->len, "params", &params) == 1 &&
          jsonraw_member(params.ptr, params.len, "result", &result) == 1 &&
          jsonraw_member(result.ptr, result.len, "slot", &slot) == 1 &&
          jsonx_u64_text(slot.ptr, slot.len, &sl) == 0) {
        if (jsonraw_member(result.ptr, result.len, "root", &root) != 1 ||
            jsonx_u64_text(root.ptr, root.len, &rt) != 0)
          rt = 0;
        if (sl > c->conn_max_slot) {
          c->conn_max_slot = sl;
          c->t_last_slot_ns = now_ns();
        }
        pthread_mutex_lock(&c->stats_mu);
        if (sl > c->stats.last_slot) c->stats.last_slot = sl;
        if (rt > c->stats.last_root) c->stats.last_root = rt;
        pthread_mutex_unlock(&c->stats_mu);
      }
    }
    return 1;
  }
  if (m == 0 && jsonraw_member(s, it->len, "id", &v) == 1) {
    handle_reply(c, it);
    return 0;
  }
  return 1;
}

static int rx_chunk(ws_client_t *c, struct lws *wsi, const void *in, size_t len) {
  size_t max = c->o.max_message_bytes;
  if (!c->rx) {
    size_t remain = lws_remaining_packet_payload(wsi);
    size_t hint = remain > max - len ? max : len + remain;
    if (len > max) hint = c->o.oversized_keep;
    if (hint < 256) hint = 256;
    c->rx = msgqueue_item_new(WS_ITEM_MESSAGE, hint);
    if (!c->rx) {
      log_error("ws", "out of memory reassembling a message");
      return -1;
    }
    c->rx_total = 0;
    c->rx_over = 0;
    c->rx->aux = lws_frame_is_binary(wsi) ? 1 : 0;
  }
  c->rx_total += len;
  if (!c->rx_over) {
    int rc = msgqueue_item_append(&c->rx, in, len, max);
    if (rc == MSGQ_ERR_TOO_LARGE) {
      /* keep only the first bytes; the rest is discarded as it arrives */
      c->rx_over = 1;
      size_t keep = c->o.oversized_keep, have = c->rx->len < keep ? c->rx->len : keep;
      msgqueue_item_t *small = msgqueue_item_new(WS_ITEM_OVERSIZED, keep);
      if (!small) return -1;
      msgqueue_item_append(&small, c->rx->data, have, keep);
      if (have < keep) {
        size_t more = len < keep - have ? len : keep - have;
        msgqueue_item_append(&small, in, more, keep);
      }
      small->t_ns = c->rx->t_ns;
      small->aux = c->rx->aux;
      msgqueue_item_free(c->rx);
      c->rx = small;
    } else if (rc != MSGQ_OK) {
      log_error("ws", "out of memory reassembling a message");
      return -1;
    }
  }
  if (!lws_is_final_fragment(wsi)) return 0;
  msgqueue_item_t *it = c->rx;
  c->rx = NULL;
  c->t_last_msg_ns = now_ns();
  if (c->rx_over) {
    it->kind = WS_ITEM_OVERSIZED;
    it->aux = c->rx_total;
    pthread_mutex_lock(&c->stats_mu);
    c->stats.oversized++;
    pthread_mutex_unlock(&c->stats_mu);
    log_warn("ws", "oversized message dropped bytes=%" PRIu64 " max=%zu", c->rx_total, max);
    deliver(c, it);
    return 0;
  }
  if (!inspect_message(c, it)) {
    msgqueue_item_free(it);
    return 0;
  }
  pthread_mutex_lock(&c->stats_mu);
  c->stats.messages++;
  c->stats.bytes += it->len;
  pthread_mutex_unlock(&c->stats_mu);
  deliver(c, it);
  return 0;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len) {
  (void)user;
  struct lws_context *ctx = lws_get_context(wsi);
  ws_client_t *c = ctx ? lws_context_user(ctx) : NULL;
  if (!c) return 0;
  switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      char why[200];
      snprintf(why, sizeof why, "%s", in ? (const char *)in : "connection error");
      if (c->state == WS_CONNECTING || wsi == c->wsi) conn_lost(c, why);
      break;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      if (c->state != WS_CONNECTING) break;
      c->wsi = wsi;
      c->state = WS_OPEN;
      c->subs_next = 0;
      c->subs_ok = 0;
      c->t_open_ns = c->t_last_ping_ns = now_ns();
      lws_callback_on_writable(wsi);
      break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      if (wsi != c->wsi) break;
      if (c->closing) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, NULL, 0);
        return -1;
      }
      if (c->subs_next < WS_SUBS) {
        size_t n = c->sub_len[c->subs_next];
        memcpy(c->txbuf + LWS_PRE, c->sub_msg[c->subs_next], n);
        if (lws_write(wsi, c->txbuf + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n) return -1;
        c->subs_next++;
        if (c->subs_next < WS_SUBS || c->ping_due) lws_callback_on_writable(wsi);
      } else if (c->ping_due) {
        c->ping_due = 0;
        if (lws_write(wsi, c->txbuf + LWS_PRE, 0, LWS_WRITE_PING) < 0) return -1;
        STAT_ADD(c, pings, 1);
      }
      break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
      if (wsi != c->wsi) break;
      if (rx_chunk(c, wsi, in, len) != 0) {
        c->close_reason = "out of memory";
        return -1;
      }
      break;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
      STAT_ADD(c, pongs, 1);
      break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (wsi == c->wsi && !c->closing) c->close_reason = "closed by server";
      break;
    case LWS_CALLBACK_CLIENT_CLOSED:
      if (wsi == c->wsi) conn_lost(c, c->close_reason ? c->close_reason : "closed");
      c->close_reason = NULL;
      break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
      if (atomic_load(&c->stop_req)) begin_stop(c);
      if (flush_pending(c)) resume_reading(c);
      break;
    default:
      break;
  }
  return 0;
}

/* ---- lws logging ----------------------------------------------------------- */

static void lws_log_bridge(int level, const char *line) {
  char buf[512];
  size_t n = strlen(line);
  if (n >= sizeof buf) n = sizeof buf - 1;
  memcpy(buf, line, n);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
  buf[n] = '\0';
  if (level & LLL_ERR) log_warn("lws", "%s", buf);
  else log_debug("lws", "%s", buf);
}

/* ---- thread and public API ------------------------------------------------- */

static void *ws_thread(void *arg) {
  ws_client_t *c = arg;
  ws_connect(c);
  lws_sul_schedule(c->ctx, 0, &c->sul_tick, tick_cb, WS_TICK_US);
  while (!c->done) {
    if (lws_service(c->ctx, 0) < 0) break;
  }
  lws_sul_cancel(&c->sul_tick);
  lws_sul_cancel(&c->sul_retry);
  return NULL;
}

void ws_client_options_init(ws_client_options_t *o) {
  memset(o, 0, sizeof *o);
  o->max_message_bytes = WS_CLIENT_DEFAULT_MAX_MESSAGE_BYTES;
  o->oversized_keep = 1024;
  o->ping_interval_s = WS_CLIENT_DEFAULT_PING_INTERVAL_S;
  o->stall_timeout_s = WS_CLIENT_DEFAULT_STALL_TIMEOUT_S;
  o->slot_timeout_s = WS_CLIENT_DEFAULT_SLOT_TIMEOUT_S;
  o->connect_timeout_s = 10;
  o->backoff_initial_ms = 250;
  o->backoff_max_ms = 30000;
}

static void client_free(ws_client_t *c) {
  if (!c) return;
  msgqueue_item_t *it = c->pend_head;
  while (it) {
    msgqueue_item_t *next = it->next;
    msgqueue_item_free(it);
    it = next;
  }
  msgqueue_item_free(c->rx);
  free(c->url);
  free(c->program_id);
  free(c->commitment);
  pthread_mutex_destroy(&c->stats_mu);
  free(c);
}

static void ws_space_cb(void *ud) { ws_client_wake(ud); }

ws_client_t *ws_client_start(const ws_client_options_t *o, msgqueue_t *q, char *err,
                             size_t errsz) {
  ws_client_t *c = NULL;
  if (!o || !q || !o->program_id || !o->commitment || !o->url) {
    snprintf(err, errsz, "websocket: url, program id and commitment are required");
    return NULL;
  }
  if (!base58_text_ok(o->program_id, 32)) {
    snprintf(err, errsz, "websocket: invalid program id");
    return NULL;
  }
  if (strcmp(o->commitment, "processed") != 0 && strcmp(o->commitment, "confirmed") != 0 &&
      strcmp(o->commitment, "finalized") != 0) {
    snprintf(err, errsz, "websocket: invalid commitment '%s'", o->commitment);
    return NULL;
  }
  if (o->max_message_bytes < 1024 || o->ping_interval_s < 1 || o->ping_interval_s > 30 ||
      o->stall_timeout_s < 1 || o->slot_timeout_s < 0 || o->connect_timeout_s < 1 ||
      o->backoff_initial_ms < 1 || o->backoff_max_ms < o->backoff_initial_ms) {
    snprintf(err, errsz,
             "websocket: bad options (max message >= 1024 bytes, ping interval 1..30 s, "
             "timeouts >= 1 s)");
    return NULL;
  }
  if (sodium_init() < 0) {
    snprintf(err, errsz, "websocket: libsodium initialisation failed");
    return NULL;
  }
  c = calloc(1, sizeof *c);
  if (!c) goto nomem;
  pthread_mutex_init(&c->stats_mu, NULL);
  c->o = *o;
  if (c->o.oversized_keep == 0 || c->o.oversized_keep > c->o.max_message_bytes)
    c->o.oversized_keep = 1024;
  c->url = strdup(o->url);
  c->program_id = strdup(o->program_id);
  c->commitment = strdup(o->commitment);
  if (!c->url || !c->program_id || !c->commitment) goto nomem;
  c->o.url = c->url;
  c->o.program_id = c->program_id;
  c->o.commitment = c->commitment;
  c->q = q;
  atomic_init(&c->stop_req, 0);
  if (ws_client_parse_url(o->url, &c->tls, c->host, sizeof c->host, &c->port, c->path,
                          sizeof c->path) != 0) {
    char red[256];
    snprintf(err, errsz, "websocket: invalid URL '%s' (ws:// or wss://)",
             log_redact_url(o->url, red, sizeof red));
    client_free(c);
    return NULL;
  }
  int def_port = c->tls ? 443 : 80;
  int hn = strchr(c->host, ':')
               ? (c->port == def_port
                      ? snprintf(c->host_header, sizeof c->host_header, "[%s]", c->host)
                      : snprintf(c->host_header, sizeof c->host_header, "[%s]:%d", c->host,
                                 c->port))
               : (c->port == def_port
                      ? snprintf(c->host_header, sizeof c->host_header, "%s", c->host)
                      : snprintf(c->host_header, sizeof c->host_header, "%s:%d", c->host,
                                 c->port));
  if (hn < 0 || (size_t)hn >= sizeof c->host_header) {
    snprintf(err, errsz, "websocket: host name too long");
    client_free(c);
    return NULL;
  }
  int n0 = snprintf(c->sub_msg[0], sizeof c->sub_msg[0],
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"programSubscribe\",\"params\":"
                    "[\"%s\",{\"encoding\":\"base64\",\"commitment\":\"%s\"}]}",
                    c->program_id, c->commitment);
  int n1 = snprintf(c->sub_msg[1], sizeof c->sub_msg[1],
                    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logsSubscribe\",\"params\":"
                    "[{\"mentions\":[\"%s\"]},{\"commitment\":\"%s\"}]}",
                    c->program_id, c->commitment);
  int n2 = snprintf(c->sub_msg[2], sizeof c->sub_msg[2],
                    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"slotSubscribe\"}");
  if (n0 < 0 || n1 < 0 || n2 < 0 || (size_t)n0 >= sizeof c->sub_msg[0] ||
      (size_t)n1 >= sizeof c->sub_msg[1] || (size_t)n2 >= sizeof c->sub_msg[2]) {
    snprintf(err, errsz, "websocket: subscription request too long");
    client_free(c);
    return NULL;
  }
  c->sub_len[0] = (size_t)n0;
  c->sub_len[1] = (size_t)n1;
  c->sub_len[2] = (size_t)n2;

  lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_bridge);
  c->protocols[0].name = "cbi-ws";
  c->protocols[0].callback = ws_callback;
  c->protocols[0].per_session_data_size = 0;
  c->protocols[0].rx_buffer_size = WS_RX_BUFFER;
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = c->protocols;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.user = c;
  info.gid = -1;
  info.uid = -1;
  info.fd_limit_per_thread = 16;
  info.pt_serv_buf_size = 32768;
  c->ctx = lws_create_context(&info);
  if (!c->ctx) {
    snprintf(err, errsz, "websocket: cannot create the libwebsockets context");
    client_free(c);
    return NULL;
  }
  msgqueue_set_space_cb(q, ws_space_cb, c);
  if (pthread_create(&c->thread, NULL, ws_thread, c) != 0) {
    msgqueue_set_space_cb(q, NULL, NULL);
    lws_context_destroy(c->ctx);
    snprintf(err, errsz, "websocket: cannot start the thread");
    client_free(c);
    return NULL;
  }
  c->thread_started = 1;
  return c;
nomem:
  snprintf(err, errsz, "websocket: out of memory");
  client_free(c);
  return NULL;
}

void ws_client_wake(ws_client_t *c) {
  if (c && c->ctx) lws_cancel_service(c->ctx);
}

void ws_client_stop(ws_client_t *c) {
  if (!c) return;
  msgqueue_set_space_cb(c->q, NULL, NULL);
  atomic_store(&c->stop_req, 1);
  if (c->thread_started) {
    lws_cancel_service(c->ctx);
    pthread_join(c->thread, NULL);
  }
  lws_context_destroy(c->ctx);
  client_free(c);
}

void ws_client_get_stats(ws_client_t *c, ws_client_stats_t *out) {
  pthread_mutex_lock(&c->stats_mu);
  *out = c->stats;
  pthread_mutex_unlock(&c->stats_mu);
}
