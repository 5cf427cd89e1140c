/* The fixture store, the recorder, and the cbi-replay server: HTTP side
 * (matching, batches, chunked bodies, latency, errors, /stats) and the
 * websocket side (subscriptions, timed streams, every fault) through a
 * libwebsockets client. */
#include <inttypes.h>
#include <libwebsockets.h>

#include "b64.h"
#include "base58.h"
#include "jsonx.h"
#include "log.h"
#include "jsonraw.h"
#include "recorder.h"
#include "replay_store.h"
#include "replay_child.h"
#include "rpc.h"
#include "testutil.h"

#define BASIC "fixtures/rpc-test/basic"

/* ---- a small websocket client ---------------------------------------------- */

typedef struct {
  char *data;
  size_t len;
  int binary;
  long at_ms;
} wmsg_t;

typedef struct {
  struct lws_context *ctx;
  struct lws *wsi;
  lws_sorted_usec_list_t tick;
  int established, closed;
  int want_ping, pongs;
  const char *to_send[16];
  size_t nsend, sent;
  wmsg_t *msgs;
  size_t nmsgs, capmsgs;
  char *rx;
  size_t rxlen, rxcap;
  long t0;
} wsc_t;

static int wsc_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  wsc_t *w = user;
  switch (reason) {
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    w->established = 1;
    lws_callback_on_writable(wsi);
    break;
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    if (w->sent < w->nsend) {
      const char *s = w->to_send[w->sent++];
      size_t n = strlen(s);
      unsigned char *buf = malloc(LWS_PRE + n);
      memcpy(buf + LWS_PRE, s, n);
      int r = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
      free(buf);
      if (r < (int)n) return -1;
      if (w->sent < w->nsend || w->want_ping) lws_callback_on_writable(wsi);
    } else if (w->want_ping) {
      unsigned char buf[LWS_PRE + 4];
      memcpy(buf + LWS_PRE, "ping", 4);
      w->want_ping = 0;
      if (lws_write(wsi, buf + LWS_PRE, 4, LWS_WRITE_PING) < 4) return -1;
    }
    break;
  case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
    w->pongs++;
    break;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    if (len > w->rxcap - w->rxlen) {
      size_t cap = w->rxcap ? w->rxcap : 4096;
      while (len > cap - w->rxlen) cap *= 2;
      w->rx = realloc(w->rx, cap + 1);
      w->rxcap = cap;
    }
    memcpy(w->rx + w->rxlen, in, len);
    w->rxlen += len;
    if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
      if (w->nmsgs == w->capmsgs) {
        w->capmsgs = w->capmsgs ? w->capmsgs * 2 : 16;
        w->msgs = realloc(w->msgs, w->capmsgs * sizeof *w->msgs);
      }
      wmsg_t *m = &w->msgs[w->nmsgs++];
      m->data = malloc(w->rxlen + 1);
      memcpy(m->data, w->rx, w->rxlen);
      m->data[w->rxlen] = '\0';
      m->len = w->rxlen;
      m->binary = lws_frame_is_binary(wsi);
      m->at_ms = tu_now_ms() - w->t0;
      w->rxlen = 0;
    }
    break;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
  case LWS_CALLBACK_CLIENT_CLOSED:
    w->closed = 1;
    w->wsi = NULL;
    break;
  default:
    break;
  }
  return 0;
}

static const struct lws_protocols wsc_protocols[] = {{"test-client", wsc_cb, 0, 65536, 0, NULL, 0},
                                                     {NULL, NULL, 0, 0, 0, NULL, 0}};

static void wsc_tick(lws_sorted_usec_list_t *sul) {
  wsc_t *w = lws_container_of(sul, wsc_t, tick);
  lws_sul_schedule(w->ctx, 0, &w->tick, wsc_tick, 10 * LWS_US_PER_MS);
}

/* Connects to the server and queues the given messages (NULL-terminated). */
static void wsc_open(wsc_t *w, int port, const char *const *send) {
  memset(w, 0, sizeof *w);
  for (size_t i = 0; send && send[i] && i < 16; i++) w->to_send[w->nsend++] = send[i];
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = wsc_protocols;
  w->ctx = lws_create_context(&info);
  ck_assert_ptr_nonnull(w->ctx);
  struct lws_client_connect_info cc;
  memset(&cc, 0, sizeof cc);
  cc.context = w->ctx;
  cc.address = "127.0.0.1";
  cc.port = port;
  cc.path = "/";
  cc.host = "127.0.0.1";
  cc.origin = "127.0.0.1";
  cc.userdata = w;
  cc.pwsi = &w->wsi;
  w->t0 = tu_now_ms();
  ck_assert_ptr_nonnull(lws_client_connect_via_info(&cc));
  lws_sul_schedule(w->ctx, 0, &w->tick, wsc_tick, 10 * LWS_US_PER_MS);
}

/* Services until nmsgs >= want (or closed), or max_ms passed. */
static void wsc_run(wsc_t *w, size_t want, long max_ms) {
  long deadline = tu_now_ms() + max_ms;
  while (tu_now_ms() < deadline && !w->closed && w->nmsgs < want) lws_service(w->ctx, 0);
}

static void wsc_close(wsc_t *w) {
  lws_sul_cancel(&w->tick);
  lws_context_destroy(w->ctx);
  for (size_t i = 0; i < w->nmsgs; i++) free(w->msgs[i].data);
  free(w->msgs);
  free(w->rx);
}

/* Parses message i as JSON (NULL if it is not). */
static json_t *wsc_json(const wsc_t *w, size_t i) {
  return jsonx_loads(w->msgs[i].data, w->msgs[i].len, NULL, 0);
}

static const char *const SUB3[] = {
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"programSubscribe\",\"params\":[\"kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe\",{\"encoding\":\"base64\",\"commitment\":\"confirmed\"}]}",
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logsSubscribe\",\"params\":[{\"mentions\":[\"kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe\"]},{\"commitment\":\"confirmed\"}]}",
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"slotSubscribe\"}", NULL};

static const char *const SUB_SLOT[] = {"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"slotSubscribe\"}", NULL};

/* Subscription ids from the three replies (ids 1..3) of SUB3. */
static void sub_ids(const wsc_t *w, long long ids[4]) {
  memset(ids, 0, 4 * sizeof *ids);
  for (size_t i = 0; i < w->nmsgs; i++) {
    json_t *d = wsc_json(w, i);
    if (d && json_object_get(d, "id") && json_is_integer(json_object_get(d, "result"))) {
      json_int_t id = json_integer_value(json_object_get(d, "id"));
      if (id >= 1 && id <= 3) ids[id] = json_integer_value(json_object_get(d, "result"));
    }
    json_decref(d);
  }
}

/* Slot numbers of the slotNotifications received, in order. */
static size_t slots_of(const wsc_t *w, uint64_t *out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < w->nmsgs && n < max; i++) {
    json_t *d = wsc_json(w, i);
    const char *m = d ? jsonx_get_str(d, "method") : NULL;
    if (m && strcmp(m, "slotNotification") == 0) {
      json_t *r = json_object_get(json_object_get(d, "params"), "result");
      ck_assert_int_eq(jsonx_get_u64(r, "slot", &out[n]), 0);
      n++;
    }
    json_decref(d);
  }
  return n;
}

static size_t count_notes(const wsc_t *w, const char *method) {
  size_t n = 0;
  for (size_t i = 0; i < w->nmsgs; i++) {
    json_t *d = wsc_json(w, i);
    const char *m = d ? jsonx_get_str(d, "method") : NULL;
    if (m && (!method || strcmp(m, method) == 0) && json_object_get(d, "params") &&
        w->msgs[i].len < 100000) {
      uint64_t slot;
      json_t *r = json_object_get(json_object_get(d, "params"), "result");
      json_t *ctx = json_object_get(r, "context");
      /* only well-formed notifications count */
      if (ctx ? jsonx_get_u64(ctx, "slot", &slot) == 0 : jsonx_get_u64(r, "slot", &slot) == 0) n++;
    }
    json_decref(d);
  }
  return n;
}

START_TEST(test_ws_subscribe_stream) {
  const char *args[] = {"--speed", "100", NULL};
  rc_child_t srv;
  rc_start(&srv, BASIC, args);
  wsc_t w;
  wsc_open(&w, srv.port, SUB3);
  wsc_run(&w, 9, 3000);
  ck_assert_uint_eq(w.nmsgs, 9);
  long long ids[4];
  sub_ids(&w, ids);
  ck_assert(ids[1] > 0 && ids[2] > 0 && ids[3] > 0);
  ck_assert(ids[1] != ids[2] && ids[2] != ids[3] && ids[1] != ids[3]);
  /* the replies look exactly like a node's */
  int replies = 0;
  for (size_t i = 0; i < w.nmsgs; i++) {
    char expect[96];
    for (int k = 1; k <= 3; k++) {
      snprintf(expect, sizeof expect, "{\"jsonrpc\":\"2.0\",\"result\":%lld,\"id\":%d}", ids[k], k);
      if (strcmp(w.msgs[i].data, expect) == 0) replies++;
    }
  }
  ck_assert_int_eq(replies, 3);
  static const char *const methods[] = {NULL, "programNotification", "logsNotification", "slotNotification"};
  size_t per[4] = {0};
  for (size_t i = 0; i < w.nmsgs; i++) {
    json_t *d = wsc_json(&w, i);
    ck_assert_ptr_nonnull(d);
    const char *m = jsonx_get_str(d, "method");
    if (m) {
      int64_t sub;
      ck_assert_int_eq(jsonx_get_i64(json_object_get(d, "params"), "subscription", &sub), 0);
      int k = 1;
      while (k <= 3 && strcmp(methods[k], m) != 0) k++;
      ck_assert_int_le(k, 3);
      ck_assert_int_eq(sub, ids[k]);
      per[k]++;
      if (k == 1) /* the u64 literal arrives byte-exact */
        ck_assert_msg(strstr(w.msgs[i].data, "\"rentEpoch\":18446744073709551615,") != NULL, "%s",
                      w.msgs[i].data);
    }
    json_decref(d);
  }
  ck_assert_uint_eq(per[1], 2);
  ck_assert_uint_eq(per[2], 1);
  ck_assert_uint_eq(per[3], 3);
  uint64_t slots[8];
  ck_assert_uint_eq(slots_of(&w, slots, 8), 3);
  ck_assert(slots[0] == 312345678 && slots[1] == 312345679 && slots[2] == 312345680);
  ck_assert_int_lt(w.msgs[w.nmsgs - 1].at_ms, 1000);
  wsc_close(&w);
  ck_assert_int_eq(rc_stat(&srv, "ws_notifications"), 6);
  ck_assert_int_eq(rc_stat(&srv, "ws_subscriptions"), 3);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

START_TEST(test_ws_timing) {
  rc_child_t srv;
  rc_start(&srv, BASIC, NULL); /* speed 1: last notification at 400 ms */
  wsc_t w;
  wsc_open(&w, srv.port, SUB_SLOT);
  wsc_run(&w, 4, 3000);
  ck_assert_uint_eq(w.nmsgs, 4);
  ck_assert_msg(w.msgs[3].at_ms >= 390 && w.msgs[3].at_ms < 1500, "last at %ld ms", w.msgs[3].at_ms);
  ck_assert_msg(w.msgs[2].at_ms >= 190, "second slot at %ld ms", w.msgs[2].at_ms);
  wsc_close(&w);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

START_TEST(test_ws_duplicate_reorder) {
  const char *dup[] = {"--speed", "100", "--ws-duplicate-every", "2", NULL};
  rc_child_t srv;
  rc_start(&srv, BASIC, dup);
  wsc_t w;
  wsc_open(&w, srv.port, SUB3);
  wsc_run(&w, 12, 3000);
  ck_assert_uint_eq(w.nmsgs, 12); /* 3 replies + 6 + 3 duplicates */
  ck_assert_uint_eq(count_notes(&w, NULL), 9);
  wsc_close(&w);
  ck_assert_int_eq(rc_stat(&srv, "ws_duplicates"), 3);
  ck_assert_int_eq(rc_stop(&srv), 0);

  const char *reo[] = {"--speed", "100", "--ws-reorder-window", "2", NULL};
  rc_start(&srv, BASIC, reo);
  wsc_open(&w, srv.port, SUB_SLOT);
  wsc_run(&w, 4, 3000);
  ck_assert_uint_eq(w.nmsgs, 4);
  uint64_t slots[8];
  ck_assert_uint_eq(slots_of(&w, slots, 8), 3);
  ck_assert(slots[0] == 312345679 && slots[1] == 312345678 && slots[2] == 312345680);
  wsc_close(&w);
  ck_assert_int_ge(rc_stat(&srv, "ws_reordered"), 1);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

START_TEST(test_ws_drop_and_stall) {
  const char *drop[] = {"--speed", "100", "--ws-drop-after", "2", NULL};
  rc_child_t srv;
  rc_start(&srv, BASIC, drop);
  wsc_t w;
  wsc_open(&w, srv.port, SUB3);
  wsc_run(&w, 100, 3000);
  ck_assert(w.closed);
  ck_assert_uint_eq(count_notes(&w, NULL), 2);
  wsc_close(&w);
  ck_assert_int_eq(rc_stat(&srv, "ws_drops"), 1);
  ck_assert_int_eq(rc_stat(&srv, "ws_open"), 0);
  /* the chain went on while the client was away: a new connection joins the
     timeline where it is, and the stream has ended */
  wsc_open(&w, srv.port, SUB_SLOT);
  wsc_run(&w, 2, 500);
  ck_assert_uint_eq(w.nmsgs, 1);
  ck_assert(!w.closed);
  wsc_close(&w);
  ck_assert_int_eq(rc_stop(&srv), 0);

  const char *stall[] = {"--speed", "100", "--ws-stall-after", "2", NULL};
  rc_start(&srv, BASIC, stall);
  wsc_open(&w, srv.port, SUB3);
  wsc_run(&w, 100, 800);
  ck_assert(!w.closed);
  ck_assert_uint_eq(count_notes(&w, NULL), 2);
  /* a stalled socket is alive: pings are still answered */
  w.want_ping = 1;
  lws_callback_on_writable(w.wsi);
  {
    long deadline = tu_now_ms() + 2000;
    while (!w.pongs && tu_now_ms() < deadline) lws_service(w.ctx, 0);
  }
  ck_assert_int_eq(w.pongs, 1);
  ck_assert_int_eq(rc_stat(&srv, "ws_stalls"), 1);
  ck_assert_int_eq(rc_stat(&srv, "ws_open"), 1);
  wsc_close(&w);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

START_TEST(test_ws_garbage) {
  const char *args[] = {"--speed", "100", "--ws-garbage-every", "1", "--ws-oversize-bytes", "300000", NULL};
  rc_child_t srv;
  rc_start(&srv, BASIC, args);
  wsc_t w;
  wsc_open(&w, srv.port, SUB3);
  wsc_run(&w, 15, 5000);
  ck_assert_uint_eq(w.nmsgs, 15); /* 3 replies, 6 notifications, 6 garbage */
  ck_assert_uint_eq(count_notes(&w, NULL), 6);
  int binary = 0, unparsable = 0, oversized = 0, wrong_shape = 0;
  for (size_t i = 0; i < w.nmsgs; i++) {
    if (w.msgs[i].binary) {
      binary++;
      continue;
    }
    json_t *d = wsc_json(&w, i);
    if (!d) unparsable++;
    else if (w.msgs[i].len >= 300000) oversized++;
    else if (strstr(w.msgs[i].data, "not-a-slot")) wrong_shape++;
    json_decref(d);
  }
  ck_assert_int_ge(binary, 1);
  ck_assert_int_ge(unparsable, 1);
  ck_assert_int_ge(oversized, 1);
  ck_assert_int_ge(wrong_shape, 1);
  ck_assert_int_eq(binary + unparsable + oversized + wrong_shape, 6);
  wsc_close(&w);
  ck_assert_int_eq(rc_stat(&srv, "ws_garbage"), 6);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

START_TEST(test_ws_requests) {
  const char *args[] = {"--speed", "100", "--ws-only-methods", "slotSubscribe", NULL};
  static const char *const msgs[] = {
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"slotSubscribe\"}",
      "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"programSubscribe\",\"params\":[\"x\"]}",
      "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"getSlot\"}",
      "this is not json",
      "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"programUnsubscribe\",\"params\":[987654]}",
      NULL};
  rc_child_t srv;
  rc_start(&srv, BASIC, args);
  wsc_t w;
  wsc_open(&w, srv.port, msgs);
  wsc_run(&w, 8, 3000);
  ck_assert_uint_eq(w.nmsgs, 8); /* 5 answers + 3 slot notifications; no program ones */
  ck_assert_uint_eq(count_notes(&w, "slotNotification"), 3);
  ck_assert_uint_eq(count_notes(&w, "programNotification"), 0);
  int seen_method_nf = 0, seen_parse = 0, seen_bad_unsub = 0, seen_str_id = 0;
  for (size_t i = 0; i < w.nmsgs; i++) {
    const char *s = w.msgs[i].data;
    if (strstr(s, "\"code\":-32601") && strstr(s, "\"id\":5")) seen_method_nf++;
    if (strstr(s, "\"code\":-32700") && strstr(s, "\"id\":null")) seen_parse++;
    if (strstr(s, "\"code\":-32602") && strstr(s, "\"id\":6")) seen_bad_unsub++;
    if (strstr(s, "\"result\":") && strstr(s, "\"id\":\"p\"")) seen_str_id++;
  }
  ck_assert_int_eq(seen_method_nf, 1);
  ck_assert_int_eq(seen_parse, 1);
  ck_assert_int_eq(seen_bad_unsub, 1);
  ck_assert_int_eq(seen_str_id, 1);
  wsc_close(&w);

  /* unsubscribe a real subscription */
  wsc_open(&w, srv.port, SUB_SLOT);
  wsc_run(&w, 1, 2000);
  ck_assert_uint_ge(w.nmsgs, 1);
  json_t *d = wsc_json(&w, 0);
  json_int_t sid = json_integer_value(json_object_get(d, "result"));
  json_decref(d);
  char unsub[128];
  snprintf(unsub, sizeof unsub, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"slotUnsubscribe\",\"params\":[%lld]}",
           (long long)sid);
  w.to_send[w.nsend++] = unsub;
  lws_callback_on_writable(w.wsi);
  wsc_run(&w, w.nmsgs + 1, 2000);
  ck_assert_str_eq(w.msgs[w.nmsgs - 1].data, "{\"jsonrpc\":\"2.0\",\"result\":true,\"id\":2}");
  wsc_close(&w);
  ck_assert_int_eq(rc_stat(&srv, "ws_unsubscriptions"), 1);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

START_TEST(test_ws_heartbeat) {
  const char *args[] = {"--speed", "1000", "--ws-slot-heartbeat-ms", "20", NULL};
  rc_child_t srv;
  rc_start(&srv, BASIC, args);
  wsc_t w;
  wsc_open(&w, srv.port, SUB_SLOT);
  wsc_run(&w, 7, 3000);
  uint64_t slots[16];
  size_t n = slots_of(&w, slots, 16);
  ck_assert_uint_ge(n, 6);
  for (size_t i = 0; i < n; i++) ck_assert(slots[i] == 312345678 + i);
  wsc_close(&w);
  ck_assert_int_ge(rc_stat(&srv, "ws_heartbeats"), 3);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

/* ---- HTTP side --------------------------------------------------------------- */

START_TEST(test_http_matching) {
  rc_child_t srv;
  rc_start(&srv, BASIC, NULL);
  long st;
  char *r = rc_http(&srv, "/",
                    "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"getAccountInfo\",\"params\":[\"kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe\",{\"commitment\":\"confirmed\",\"encoding\":\"base64\"}]}",
                    &st);
  ck_assert_int_eq(st, 200);
  ck_assert_msg(strncmp(r, "{\"jsonrpc\":\"2.0\",\"result\":{\"context\":", 36) == 0, "%s", r);
  ck_assert(strstr(r, "\"rentEpoch\":18446744073709551615,"));
  ck_assert(strstr(r, ",\"id\":\"abc\"}"));
  free(r);
  /* recordings of the same request are served in order, the last repeating */
  const char *bal = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"getBalance\",\"params\":[\"9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin\"]}";
  r = rc_http(&srv, "/", bal, &st);
  ck_assert_msg(strstr(r, "-32005") != NULL, "%s", r);
  free(r);
  for (int i = 0; i < 2; i++) {
    r = rc_http(&srv, "/", bal, &st);
    ck_assert_str_eq(r, "{\"jsonrpc\":\"2.0\",\"result\":{\"context\":{\"slot\":312345679},\"value\":18446744073709551615},\"id\":1}");
    free(r);
  }
  r = rc_http(&srv, "/", "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"getSlot\",\"params\":[{\"commitment\":\"processed\"}]}", &st);
  ck_assert_str_eq(r, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32099,\"message\":\"fixture: no recorded response for getSlot\"},\"id\":2}");
  free(r);
  r = rc_http(&srv, "/", "[{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"getSlot\"},{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"getBlockHeight\"}]", &st);
  ck_assert_str_eq(r, "[{\"jsonrpc\":\"2.0\",\"result\":312345678,\"id\":10},{\"jsonrpc\":\"2.0\",\"result\":290000123,\"id\":11}]");
  free(r);
  r = rc_http(&srv, "/", "{not json", &st);
  ck_assert_str_eq(r, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,\"message\":\"Parse error\"},\"id\":null}");
  free(r);
  r = rc_http(&srv, "/", "[]", &st);
  ck_assert(strstr(r, "-32600") != NULL);
  free(r);
  r = rc_http(&srv, "/nothing-here", NULL, &st);
  ck_assert_int_eq(st, 404);
  free(r);
  ck_assert_int_eq(rc_stat(&srv, "rpc_unmatched"), 1);
  ck_assert_int_eq(rc_stat(&srv, "rpc_batches"), 1);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

/* A scenario whose one recording has a ~90 KB request (arrives in chunks). */
static char *big_request(char **dir_out) {
  char *dir = rc_tmpdir();
  size_t cap = 200000, off = 0;
  char *params = malloc(cap);
  ck_assert_ptr_nonnull(params);
  off += (size_t)snprintf(params + off, cap - off, "[[");
  for (int i = 0; i < 2000; i++)
    off += (size_t)snprintf(params + off, cap - off, "%s\"Acct%039d\"", i ? "," : "", i);
  off += (size_t)snprintf(params + off, cap - off, "],{\"encoding\":\"base64\"}]");
  ck_assert_uint_lt(off, cap);
  size_t lcap = off + 200;
  char *line = malloc(lcap);
  snprintf(line, lcap, "{\"request\":{\"method\":\"getMultipleAccounts\",\"params\":%s},\"response\":{\"result\":{\"context\":{\"slot\":5},\"value\":[]}}}\n", params);
  rc_write_file(dir, "rpc.jsonl", line);
  free(line);
  *dir_out = dir;
  return params;
}

START_TEST(test_http_chunks_latency_limits) {
  char *dir;
  char *params = big_request(&dir);
  rc_child_t srv;
  const char *args[] = {"--latency-ms", "300", NULL};
  rc_start(&srv, dir, args);
  rpc_options_t o;
  char err[256];
  rpc_options_init(&o);
  o.endpoints = srv.url;
  rpc_client_t *c = rpc_client_new(&o, err, sizeof err);
  ck_assert_ptr_nonnull(c);
  json_t *res;
  rpc_error_t e;
  long t0 = tu_now_ms();
  ck_assert_int_eq(rpc_call(c, "getMultipleAccounts", jsonx_loads(params, strlen(params), NULL, 0), &res, &e), 0);
  long one = tu_now_ms() - t0;
  uint64_t slot;
  ck_assert_int_eq(jsonx_get_u64(json_object_get(res, "context"), "slot", &slot), 0);
  ck_assert(slot == 5);
  json_decref(res);
  ck_assert_msg(one >= 300, "latency not applied: %ld ms", one);
  /* latency does not block the server loop: 10 at once take ~one latency */
  t0 = tu_now_ms();
  int done = 0;
  for (int i = 0; i < 10; i++)
    rpc_submit(c, "getMultipleAccounts", jsonx_loads(params, strlen(params), NULL, 0), NULL, NULL);
  while (rpc_in_flight(c) > 0) done += rpc_run(c, 100);
  long ten = tu_now_ms() - t0;
  ck_assert_int_eq(done, 10);
  ck_assert_msg(ten < 1200, "10 concurrent requests took %ld ms", ten);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stat(&srv, "rpc_unmatched"), 0);
  ck_assert_int_eq(rc_stop(&srv), 0);

  const char *small[] = {"--max-body", "1000", NULL};
  rc_start(&srv, dir, small);
  long st;
  size_t blen = strlen(params) + 100;
  char *body = malloc(blen);
  snprintf(body, blen, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"getMultipleAccounts\",\"params\":%s}", params);
  char *r = rc_http(&srv, "/", body, &st);
  ck_assert_int_eq(st, 413);
  free(r);
  free(body);
  ck_assert_int_eq(rc_stat(&srv, "http_too_large"), 1);
  ck_assert_int_eq(rc_stop(&srv), 0);
  free(params);
  rc_rmdir(dir);
}
END_TEST

/* ---- store, raw scanner, recorder -------------------------------------------- */

START_TEST(test_raw_scanner) {
  const char *t = " { \"a\\\"}\" : [1, {\"x\":\"}]\"}], \"b\":-12 ,\"c\":\"s\\\\\",\"d\":{} } ";
  jsonraw_span_t v;
  ck_assert_int_eq(jsonraw_member(t, strlen(t), "b", &v), 1);
  ck_assert_uint_eq(v.len, 3);
  ck_assert(memcmp(v.ptr, "-12", 3) == 0);
  ck_assert_int_eq(jsonraw_member(t, strlen(t), "a\\\"}", &v), 1);
  ck_assert_uint_eq(v.len, strlen("[1, {\"x\":\"}]\"}]"));
  ck_assert_int_eq(jsonraw_member(t, strlen(t), "c", &v), 1);
  ck_assert(v.len == 5 && memcmp(v.ptr, "\"s\\\\\"", 5) == 0);
  ck_assert_int_eq(jsonraw_member(t, strlen(t), "d", &v), 1);
  ck_assert(v.len == 2);
  ck_assert_int_eq(jsonraw_member(t, strlen(t), "zz", &v), 0);
  char out[128];
  size_t n = jsonraw_minify(t, strlen(t), out);
  out[n] = '\0';
  ck_assert_str_eq(out, "{\"a\\\"}\":[1,{\"x\":\"}]\"}],\"b\":-12,\"c\":\"s\\\\\",\"d\":{}}");
  const char *bad[] = {"{\"a\":", "{\"a\" 1}", "{\"a\":\"unterminated}", "[1,,2]", "{\"a\":1,}x", "7"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int r = jsonraw_member(bad[i], strlen(bad[i]), "zz", &v);
    ck_assert_msg(r == -1, "bad[%zu] gave %d", i, r);
  }
  jsonraw_iter_t it;
  const char *arr = "[ \"x\" , 18446744073709551615 ,{\"k\":[]} ]";
  ck_assert_int_eq(jsonraw_iter_init(&it, arr, strlen(arr)), 0);
  int k = 0;
  while (jsonraw_iter_next(&it, NULL, &v) == 1) k++;
  ck_assert_int_eq(k, 3);
  ck_assert(v.len == 8 && memcmp(v.ptr, "{\"k\":[]}", 8) == 0);
}
END_TEST

START_TEST(test_store) {
  char *dir = rc_tmpdir();
  rc_write_file(dir, "rpc.jsonl",
                "{\"request\":{\"method\":\"m\",\"params\":[{\"a\":1,\"b\":[true,null]}]},\"response\":{\"result\":1}}\n"
                "\n"
                "{\"response\":{\"jsonrpc\":\"2.0\",\"result\":2,\"id\":99},\"request\":{\"params\":[{\"b\":[true,null],\"a\":1}],\"method\":\"m\"}}\n"
                "{\"request\":{\"method\":\"m\",\"params\":[{\"a\":1.0,\"b\":[true,null]}]},\"response\":{\"error\":{\"code\":-32009,\"message\":\"skipped\"}}}\n");
  rc_write_file(dir, "ws.jsonl",
                "{\"at_ms\":5,\"method\":\"slotNotification\",\"params\":{\"result\":{\"slot\":18446744073709551615},\"subscription\":77}}\n");
  char err[256];
  replay_store_t *s = replay_store_load(dir, err, sizeof err);
  ck_assert_msg(s != NULL, "%s", err);
  ck_assert_uint_eq(replay_store_rpc_count(s), 3);
  json_t *p = json_pack("[{s[bn]si}]", "b", 1, "a", 1);
  jsonraw_span_t in;
  ck_assert_int_eq(replay_store_lookup(s, "m", p, &in), 1);
  ck_assert(in.len == 10 && memcmp(in.ptr, "\"result\":1", 10) == 0);
  ck_assert_int_eq(replay_store_lookup(s, "m", p, &in), 1);
  ck_assert(in.len == 10 && memcmp(in.ptr, "\"result\":2", 10) == 0); /* jsonrpc/id dropped */
  ck_assert_int_eq(replay_store_lookup(s, "m", p, &in), 1);
  ck_assert(in.len == 10 && memcmp(in.ptr, "\"result\":2", 10) == 0);
  json_decref(p);
  /* 1.0 is not 1 */
  p = json_pack("[{s[bn]sf}]", "b", 1, "a", 1.0);
  ck_assert_int_eq(replay_store_lookup(s, "m", p, &in), 1);
  ck_assert(strncmp(in.ptr, "\"error\":{\"code\":-32009", 22) == 0);
  json_decref(p);
  ck_assert_int_eq(replay_store_lookup(s, "other", NULL, &in), 0);
  ck_assert_uint_eq(replay_store_ws_count(s), 1);
  const replay_ws_note_t *n = replay_store_ws_note(s, 0);
  ck_assert_int_eq(n->at_ms, 5);
  ck_assert_str_eq(n->method, "slotNotification");
  ck_assert_str_eq(n->params_inner, "\"result\":{\"slot\":18446744073709551615}");
  ck_assert_ptr_null(replay_store_ws_note(s, 1));
  replay_store_free(s);

  rc_write_file(dir, "rpc.jsonl",
                "{\"request\":{\"method\":\"m\"},\"response\":{\"result\":1}}\n"
                "{\"request\":{\"method\":\"m\"},\"response\":{}}\n");
  ck_assert_ptr_null(replay_store_load(dir, err, sizeof err));
  ck_assert_msg(strstr(err, "rpc.jsonl:2:") && strstr(err, "neither result nor error"), "%s", err);
  rc_write_file(dir, "rpc.jsonl", "{\"request\":{\"method\":\"m\"},\"response\":{\"result\":1}\n");
  ck_assert_ptr_null(replay_store_load(dir, err, sizeof err));
  ck_assert_msg(strstr(err, "rpc.jsonl:1: line 1"), "%s", err);
  rc_write_file(dir, "rpc.jsonl", "");
  rc_write_file(dir, "ws.jsonl", "{\"method\":\"slotNotification\",\"params\":{}}\n");
  ck_assert_ptr_null(replay_store_load(dir, err, sizeof err));
  ck_assert_msg(strstr(err, "ws.jsonl:1: missing or negative at_ms"), "%s", err);
  rc_rmdir(dir);
}
END_TEST

START_TEST(test_recorder_ws_roundtrip) {
  char *dir = rc_tmpdir();
  char err[256];
  recorder_t *r = recorder_open(dir, err, sizeof err);
  ck_assert_msg(r != NULL, "%s", err);
  const char *raw =
      "{\"jsonrpc\":\"2.0\",\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":9},"
      "\"value\":{\"pubkey\":\"P\",\"account\":{\"data\":[\"AA==\",\"base64\"],\"executable\":false,\"lamports\":1,"
      "\"owner\":\"kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe\",\"rentEpoch\":18446744073709551615,\"space\":1}}},"
      "\"subscription\":4242}}";
  ck_assert_int_eq(recorder_ws_raw(r, 0, raw, strlen(raw)), 0);
  ck_assert_int_eq(recorder_ws_raw(r, 5, "{\"jsonrpc\":\"2.0\",\"result\":1,\"id\":1}", 35), 1);
  json_t *params = json_pack("{s{sIsIsI}si}", "result", "parent", (json_int_t)9, "root", (json_int_t)1,
                             "slot", (json_int_t)10, "subscription", 3);
  ck_assert_int_eq(recorder_ws(r, 20, "slotNotification", params), 0);
  recorder_close(r);
  ck_assert_int_eq(recorder_record_ws(dir, 30, "slotNotification", params), 0);
  json_decref(params);
  /* negative at_ms: now relative to the first record */
  r = recorder_open(dir, err, sizeof err);
  recorder_ws_start(r);
  ck_assert_int_eq(recorder_ws_raw(r, -1, raw, strlen(raw)), 0);
  recorder_close(r);

  char path[600];
  snprintf(path, sizeof path, "%s/ws.jsonl", dir);
  char *text = tu_read_file(path, NULL);
  const char *head = "{\"at_ms\":0,\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":9}";
  ck_assert_msg(strncmp(text, head, strlen(head)) == 0, "%s", text);
  ck_assert(strstr(text, "\"rentEpoch\":18446744073709551615,") != NULL);
  ck_assert(strstr(text, "4242") == NULL);
  ck_assert(strstr(text, "{\"at_ms\":20,\"method\":\"slotNotification\",\"params\":{\"result\":{\"parent\":9,\"root\":1,\"slot\":10}}}\n") != NULL);
  free(text);

  replay_store_t *s = replay_store_load(dir, err, sizeof err);
  ck_assert_msg(s != NULL, "%s", err);
  ck_assert_uint_eq(replay_store_ws_count(s), 4);
  replay_store_free(s);

  /* served back with a fresh subscription id */
  const char *args[] = {"--speed", "100", NULL};
  rc_child_t srv;
  rc_start(&srv, dir, args);
  wsc_t w;
  static const char *const sub[] = {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"programSubscribe\",\"params\":[\"kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe\"]}", NULL};
  wsc_open(&w, srv.port, sub);
  wsc_run(&w, 3, 3000);
  ck_assert_uint_eq(w.nmsgs, 3);
  json_t *d = wsc_json(&w, 0);
  json_int_t sid = json_integer_value(json_object_get(d, "result"));
  json_decref(d);
  char expect[1024];
  snprintf(expect, sizeof expect, "%.*s%lld}}", (int)(strlen(raw) - strlen("4242}}")), raw, (long long)sid);
  ck_assert_str_eq(w.msgs[1].data, expect);
  wsc_close(&w);
  ck_assert_int_eq(rc_stop(&srv), 0);

  ck_assert_ptr_null(recorder_open("/nonexistent-dir/x/y", err, sizeof err));
  rc_rmdir(dir);
}
END_TEST

START_TEST(test_cli) {
  static const char *const cases[][5] = {{"--dir", "/nonexistent-dir-xyz", NULL},
                                         {"--port", "0", NULL},
                                         {"--dir", ".", "--speed", "-3", NULL}};
  static const int want[] = {1, 2, 2};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    pid_t pid = tu_spawn("cbi-replay", cases[i], NULL, "/dev/null", "/dev/null");
    ck_assert_int_eq(tu_wait_exit(pid, 0, NULL), want[i]);
  }
}
END_TEST

/* ---- synthesized answers (accounts.json, expected.json meta) --------------- */

#define CHAIN "fixtures/chain"
#define CHAIN_SMALL "fixtures/chain-small"
#define PROGRAM_ID "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe"
#define NEVER_CREATED "SysvarC1ock11111111111111111111111111111111"

static json_t *read_json(const char *path) {
  size_t len = 0;
  char *t = tu_read_file(path, &len);
  ck_assert_msg(t != NULL, "cannot read %s", path);
  json_t *d = jsonx_loads(t, len, NULL, 0);
  free(t);
  ck_assert_msg(d != NULL, "%s is not JSON", path);
  return d;
}

static json_t *read_meta(const char *dir) {
  char path[256];
  snprintf(path, sizeof path, "%s/expected.json", dir);
  json_t *e = read_json(path);
  json_t *m = json_incref(json_object_get(e, "meta"));
  json_decref(e);
  ck_assert_ptr_nonnull(m);
  return m;
}

static json_t *read_accounts(const char *dir) {
  char path[256];
  snprintf(path, sizeof path, "%s/accounts.json", dir);
  json_t *a = read_json(path);
  ck_assert(json_is_object(a) && json_object_size(a) > 0);
  return a;
}

static uint64_t get_u64(const json_t *obj, const char *key) {
  uint64_t v = 0;
  ck_assert_msg(jsonx_get_u64(obj, key, &v) == 0, "no u64 %s", key);
  return v;
}

/* got (an account value from the server) is exactly accounts.json[key]. */
static void assert_account(const json_t *accounts, const char *key, const json_t *got) {
  const json_t *want = json_object_get(accounts, key);
  ck_assert_msg(want != NULL, "%s is not in accounts.json", key);
  ck_assert_msg(json_is_object(got), "%s: no account returned", key);
  ck_assert(get_u64(got, "lamports") == get_u64(want, "lamports"));
  ck_assert_str_eq(jsonx_get_str(got, "owner"), jsonx_get_str(want, "owner"));
  const json_t *data = json_object_get(got, "data");
  ck_assert(json_is_array(data) && json_array_size(data) == 2);
  ck_assert_str_eq(json_string_value(json_array_get(data, 0)), jsonx_get_str(want, "data"));
  ck_assert_str_eq(json_string_value(json_array_get(data, 1)), "base64");
  ck_assert(json_is_false(json_object_get(got, "executable")));
  ck_assert(get_u64(got, "rentEpoch") == UINT64_C(18446744073709551615));
  uint8_t *raw = NULL;
  size_t rawlen = 0;
  const char *b64 = jsonx_get_str(want, "data");
  ck_assert_int_eq(b64_decode(b64, strlen(b64), &raw, &rawlen), 0);
  free(raw);
  ck_assert(get_u64(got, "space") == rawlen);
}

static rpc_client_t *client_for(const rc_child_t *srv) {
  rpc_options_t o;
  char err[256];
  rpc_options_init(&o);
  o.endpoints = srv->url;
  o.max_retries = 0;
  rpc_client_t *c = rpc_client_new(&o, err, sizeof err);
  ck_assert_msg(c != NULL, "%s", err);
  return c;
}

/* Calls method; params is stolen. Returns the result (new reference). */
static json_t *call_ok(rpc_client_t *c, const char *method, json_t *params) {
  json_t *res = NULL;
  rpc_error_t e;
  memset(&e, 0, sizeof e);
  ck_assert_msg(rpc_call(c, method, params, &res, &e) == 0, "%s: %s", method, e.message);
  return res;
}

/* Calls method expecting a JSON-RPC error with code and a message holding text. */
static void call_err(rpc_client_t *c, const char *method, json_t *params, long code,
                     const char *text) {
  json_t *res = NULL;
  rpc_error_t e;
  memset(&e, 0, sizeof e);
  ck_assert_int_eq(rpc_call(c, method, params, &res, &e), RPC_ERR_RPC);
  ck_assert_int_eq(e.kind, RPC_ERR_RPC);
  ck_assert_int_eq(e.rpc_code, code);
  ck_assert_msg(strstr(e.message, text) != NULL, "%s: message '%s'", method, e.message);
}

/* The params of the first recorded request of method in dir/rpc.jsonl. */
static json_t *recorded_params(const char *dir, const char *method) {
  char path[256], *line = NULL;
  size_t cap = 0;
  ssize_t n;
  json_t *found = NULL;
  snprintf(path, sizeof path, "%s/rpc.jsonl", dir);
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  while (!found && (n = getline(&line, &cap, f)) > 0) {
    json_t *d = jsonx_loads(line, (size_t)n, NULL, 0);
    json_t *req = json_object_get(d, "request");
    const char *m = jsonx_get_str(req, "method");
    if (m && strcmp(m, method) == 0) found = json_incref(json_object_get(req, "params"));
    json_decref(d);
  }
  free(line);
  fclose(f);
  ck_assert_msg(found != NULL, "no recorded %s in %s", method, dir);
  return found;
}

START_TEST(test_synth_multiple_accounts) {
  json_t *accounts = read_accounts(CHAIN), *meta = read_meta(CHAIN);
  size_t n = json_object_size(accounts);
  ck_assert_uint_gt(n, 101);
  const char **keys = calloc(n, sizeof *keys);
  const char *k;
  json_t *v;
  size_t i = 0;
  json_object_foreach(accounts, k, v) keys[i++] = k;
  /* a fixed shuffle: this order is not recorded */
  uint64_t x = 0x9E3779B97F4A7C15u;
  for (i = n - 1; i > 0; i--) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    size_t j = (size_t)((x >> 33) % (i + 1));
    const char *t = keys[i];
    keys[i] = keys[j];
    keys[j] = t;
  }
  /* 99 known keys and one never created at position 37: exactly the limit */
  json_t *list = json_array();
  for (i = 0; i < 99; i++) {
    if (i == 37) json_array_append_new(list, json_string(NEVER_CREATED));
    json_array_append_new(list, json_string(keys[i]));
  }
  ck_assert_uint_eq(json_array_size(list), 100);

  rc_child_t srv;
  rc_start(&srv, CHAIN, NULL);
  rpc_client_t *c = client_for(&srv);
  json_t *res =
      call_ok(c, "getMultipleAccounts",
              json_pack("[O, {s:s, s:s}]", list, "encoding", "base64", "commitment", "confirmed"));
  json_t *ctx = json_object_get(res, "context");
  ck_assert(get_u64(ctx, "slot") == get_u64(meta, "account_read_slot"));
  ck_assert_str_eq(jsonx_get_str(ctx, "apiVersion"), "2.0.15");
  json_t *vals = json_object_get(res, "value");
  ck_assert_uint_eq(json_array_size(vals), 100);
  for (i = 0; i < 100; i++) {
    const char *key = json_string_value(json_array_get(list, i));
    if (i == 37)
      ck_assert(json_is_null(json_array_get(vals, i)));
    else
      assert_account(accounts, key, json_array_get(vals, i));
  }
  json_decref(res);
  ck_assert_int_eq(rc_stat(&srv, "rpc_synthesized"), 1);

  /* the wire text carries the u64 literal, not a string */
  json_t *req = json_pack("{s:s, s:i, s:s, s:[O, {s:s}]}", "jsonrpc", "2.0", "id", 1, "method",
                          "getMultipleAccounts", "params", list, "encoding", "base64");
  char *body = json_dumps(req, JSON_COMPACT);
  long st;
  char *r = rc_http(&srv, "/", body, &st);
  ck_assert_int_eq(st, 200);
  size_t lits = 0;
  for (const char *p = r; (p = strstr(p, "\"rentEpoch\":18446744073709551615,")) != NULL; p++)
    lits++;
  ck_assert_uint_eq(lits, 99);
  free(r);
  free(body);
  json_decref(req);

  /* more than 100 keys is refused like a node */
  json_array_append_new(list, json_string(keys[99]));
  call_err(c, "getMultipleAccounts", json_pack("[O, {s:s}]", list, "encoding", "base64"), -32602,
           "Too many inputs provided; max 100");
  call_err(c, "getMultipleAccounts", json_pack("[[s], {s:s}]", keys[0], "encoding", "jsonParsed"),
           -32602, "unsupported encoding in replay");
  call_err(c, "getMultipleAccounts", json_pack("[[s]]", keys[0]), -32602,
           "unsupported encoding in replay");
  call_err(c, "getMultipleAccounts", json_pack("[[s], {s:s}]", "not-a-key", "encoding", "base64"),
           -32602, "Invalid param");

  /* a recorded request is served from the recording, and agrees */
  long long before = rc_stat(&srv, "rpc_synthesized");
  json_t *rec = recorded_params(CHAIN, "getMultipleAccounts");
  json_t *a = call_ok(c, "getMultipleAccounts", json_incref(rec));
  ck_assert_int_eq(rc_stat(&srv, "rpc_synthesized"), before);
  json_object_set_new(json_array_get(rec, 1), "commitment", json_string("finalized"));
  json_t *b = call_ok(c, "getMultipleAccounts", rec);
  ck_assert_int_eq(rc_stat(&srv, "rpc_synthesized"), before + 1);
  ck_assert(json_equal(a, b));
  json_decref(a);
  json_decref(b);
  ck_assert_int_eq(rc_stat(&srv, "rpc_unmatched"), 0);

  rpc_client_free(c);
  ck_assert_int_eq(rc_stop(&srv), 0);
  json_decref(list);
  free(keys);
  json_decref(accounts);
  json_decref(meta);
}
END_TEST

START_TEST(test_synth_account_info) {
  json_t *accounts = read_accounts(CHAIN_SMALL), *meta = read_meta(CHAIN_SMALL);
  rc_child_t srv;
  rc_start(&srv, CHAIN_SMALL, NULL);
  rpc_client_t *c = client_for(&srv);
  const char *k;
  json_t *v;
  long long n = 0;
  json_object_foreach(accounts, k, v) {
    json_t *res = call_ok(c, "getAccountInfo", json_pack("[s, {s:s}]", k, "encoding", "base64"));
    ck_assert(get_u64(json_object_get(res, "context"), "slot") ==
              get_u64(meta, "account_read_slot"));
    assert_account(accounts, k, json_object_get(res, "value"));
    json_decref(res);
    n++;
  }
  json_t *res = call_ok(
      c, "getAccountInfo",
      json_pack("[s, {s:s, s:s}]", NEVER_CREATED, "encoding", "base64", "commitment", "processed"));
  ck_assert(json_is_null(json_object_get(res, "value")));
  json_decref(res);
  ck_assert_int_eq(rc_stat(&srv, "rpc_synthesized"), n + 1);
  call_err(c, "getAccountInfo", json_pack("[s, {s:s}]", "0OIl", "encoding", "base64"), -32602,
           "Invalid param: Invalid");
  call_err(c, "getAccountInfo", json_pack("[s, {s:s}]", "1111", "encoding", "base64"), -32602,
           "Invalid param: WrongSize");
  call_err(c, "getAccountInfo", json_pack("[s, {s:s}]", NEVER_CREATED, "encoding", "base58"),
           -32602, "unsupported encoding in replay");
  /* the recorded request is served as recorded */
  long long before = rc_stat(&srv, "rpc_synthesized");
  json_t *rec = recorded_params(CHAIN_SMALL, "getAccountInfo");
  res = call_ok(c, "getAccountInfo", json_incref(rec));
  assert_account(accounts, json_string_value(json_array_get(rec, 0)),
                 json_object_get(res, "value"));
  json_decref(res);
  json_decref(rec);
  ck_assert_int_eq(rc_stat(&srv, "rpc_synthesized"), before);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stop(&srv), 0);
  json_decref(accounts);
  json_decref(meta);
}
END_TEST

/* Returns the pubkeys of a getProgramAccounts value list as an object
 * pubkey -> account, checking each appears once. */
static json_t *gpa_set(const json_t *list) {
  json_t *set = json_object();
  ck_assert(json_is_array(list));
  for (size_t i = 0; i < json_array_size(list); i++) {
    const json_t *e = json_array_get(list, i);
    const char *pk = jsonx_get_str(e, "pubkey");
    ck_assert_ptr_nonnull(pk);
    ck_assert_msg(json_object_get(set, pk) == NULL, "%s twice", pk);
    json_object_set(set, pk, json_object_get(e, "account"));
  }
  return set;
}

START_TEST(test_synth_program_accounts) {
  json_t *accounts = read_accounts(CHAIN), *meta = read_meta(CHAIN);
  json_t *idl = read_json("idl/crypto_bet.json");
  json_t *types = json_object_get(idl, "accounts");
  ck_assert_uint_eq(json_array_size(types), 5);
  rc_child_t srv;
  rc_start(&srv, CHAIN, NULL);
  rpc_client_t *c = client_for(&srv);
  size_t total = 0;
  for (size_t t = 0; t < json_array_size(types); t++) {
    const json_t *d = json_object_get(json_array_get(types, t), "discriminator");
    uint8_t disc[8];
    ck_assert_uint_eq(json_array_size(d), 8);
    for (size_t i = 0; i < 8; i++)
      disc[i] = (uint8_t)json_integer_value(json_array_get(d, i));
    char b58[32];
    base58_encode_ref(disc, 8, b58);
    /* the expected set, counted from accounts.json by the first 8 data bytes */
    size_t want = 0;
    const char *k;
    json_t *v;
    json_t *wantset = json_object();
    json_object_foreach(accounts, k, v) {
      uint8_t *raw = NULL;
      size_t rawlen = 0;
      const char *b64 = jsonx_get_str(v, "data");
      ck_assert_int_eq(b64_decode(b64, strlen(b64), &raw, &rawlen), 0);
      if (rawlen >= 8 && memcmp(raw, disc, 8) == 0) {
        want++;
        json_object_set_new(wantset, k, json_true());
      }
      free(raw);
    }
    ck_assert_uint_gt(want, 0);
    total += want;
    /* withContext false: a bare list */
    json_t *res = call_ok(c, "getProgramAccounts",
                          json_pack("[s, {s:s, s:s, s:b, s:[{s:{s:i, s:s}}]}]", PROGRAM_ID,
                                    "encoding", "base64", "commitment", "confirmed", "withContext",
                                    0, "filters", "memcmp", "offset", 0, "bytes", b58));
    json_t *got = gpa_set(res);
    ck_assert_uint_eq(json_object_size(got), want);
    json_object_foreach(got, k, v) {
      ck_assert_msg(json_object_get(wantset, k) != NULL, "%s is not a %s", k,
                    jsonx_get_str(json_array_get(types, t), "name"));
      assert_account(accounts, k, v);
    }
    json_decref(got);
    json_decref(res);
    /* withContext true, unrecorded commitment: context + value, same set as recorded */
    json_t *recp = json_pack("[s, {s:s, s:s, s:b, s:[{s:{s:i, s:s}}]}]", PROGRAM_ID, "encoding",
                             "base64", "commitment", "confirmed", "withContext", 1, "filters",
                             "memcmp", "offset", 0, "bytes", b58);
    json_t *synp = json_deep_copy(recp);
    json_object_set_new(json_array_get(synp, 1), "commitment", json_string("finalized"));
    long long before = rc_stat(&srv, "rpc_synthesized");
    json_t *rec = call_ok(c, "getProgramAccounts", recp);
    ck_assert_int_eq(rc_stat(&srv, "rpc_synthesized"), before);
    json_t *syn = call_ok(c, "getProgramAccounts", synp);
    ck_assert_int_eq(rc_stat(&srv, "rpc_synthesized"), before + 1);
    ck_assert(get_u64(json_object_get(syn, "context"), "slot") ==
              get_u64(meta, "account_read_slot"));
    json_t *s1 = gpa_set(json_object_get(syn, "value")),
           *s2 = gpa_set(json_object_get(rec, "value"));
    ck_assert_uint_eq(json_object_size(s1), want);
    ck_assert(json_equal(s1, s2));
    json_decref(s1);
    json_decref(s2);
    json_decref(rec);
    json_decref(syn);
    json_decref(wantset);
  }
  ck_assert_uint_eq(total, json_object_size(accounts));

  /* no filter: every account of the program; dataSize: those of that size */
  json_t *res =
      call_ok(c, "getProgramAccounts", json_pack("[s, {s:s}]", PROGRAM_ID, "encoding", "base64"));
  ck_assert_uint_eq(json_array_size(res), json_object_size(accounts));
  json_decref(res);
  const char *k;
  json_t *v;
  uint64_t space = get_u64(json_object_iter_value(json_object_iter(accounts)), "space");
  size_t same = 0;
  json_object_foreach(accounts, k, v) same += get_u64(v, "space") == space;
  res = call_ok(c, "getProgramAccounts",
                json_pack("[s, {s:s, s:[{s:I}]}]", PROGRAM_ID, "encoding", "base64", "filters",
                          "dataSize", (json_int_t)space));
  ck_assert_uint_eq(json_array_size(res), same);
  json_decref(res);
  /* another program owns none of them */
  res = call_ok(c, "getProgramAccounts",
                json_pack("[s, {s:s, s:b}]", "11111111111111111111111111111111", "encoding",
                          "base64", "withContext", 1));
  ck_assert_uint_eq(json_array_size(json_object_get(res, "value")), 0);
  json_decref(res);
  call_err(c, "getProgramAccounts",
           json_pack("[s, {s:s, s:[{s:I},{s:I},{s:I},{s:I},{s:I}]}]", PROGRAM_ID, "encoding",
                     "base64", "filters", "dataSize", (json_int_t)1, "dataSize", (json_int_t)2,
                     "dataSize", (json_int_t)3, "dataSize", (json_int_t)4, "dataSize",
                     (json_int_t)5),
           -32602, "Too many filters provided; max 4");
  call_err(c, "getProgramAccounts",
           json_pack("[s, {s:s, s:[{s:s}]}]", PROGRAM_ID, "encoding", "base64", "filters",
                     "tokenAccountState", "x"),
           -32602, "unsupported filter in replay");
  ck_assert_int_eq(rc_stat(&srv, "rpc_unmatched"), 0);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stop(&srv), 0);
  json_decref(idl);
  json_decref(accounts);
  json_decref(meta);
}
END_TEST

/* Expected getBlocks answer from meta.produced_slots: slots in [lo, hi]. */
static json_t *produced_in(const json_t *meta, uint64_t lo, uint64_t hi) {
  const json_t *ps = json_object_get(meta, "produced_slots");
  json_t *out = json_array();
  ck_assert(json_array_size(ps) > 0);
  for (size_t i = 0; i < json_array_size(ps); i++) {
    uint64_t s;
    ck_assert_int_eq(jsonx_u64(json_array_get(ps, i), &s), 0);
    if (s >= lo && s <= hi) json_array_append_new(out, json_integer((json_int_t)s));
  }
  return out;
}

START_TEST(test_synth_get_blocks) {
  json_t *meta = read_meta(CHAIN);
  uint64_t start = get_u64(meta, "start_slot"), tip = get_u64(meta, "tip_slot");
  uint64_t first = get_u64(meta, "first_tx_slot"), last = get_u64(meta, "last_tx_slot");
  ck_assert(json_array_size(json_object_get(meta, "skipped_slots")) > 0);
  rc_child_t srv;
  rc_start(&srv, CHAIN, NULL);
  rpc_client_t *c = client_for(&srv);
  const uint64_t ranges[][2] = {{first + 3, last - 5},  {start - 10, start + 20},
                                {start + 1, start + 1}, {tip - 40, tip - 2},
                                {tip + 1, tip + 100},   {start + 30, start + 5}};
  long long synth = 0;
  for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
    json_t *res = call_ok(c, "getBlocks",
                          json_pack("[I, I, {s:s}]", (json_int_t)ranges[i][0],
                                    (json_int_t)ranges[i][1], "commitment", "confirmed"));
    json_t *want = produced_in(meta, ranges[i][0], ranges[i][1]);
    ck_assert_msg(json_equal(res, want), "range %zu", i);
    json_decref(want);
    json_decref(res);
    synth++;
  }
  /* no end: up to the last produced slot; config in second place */
  json_t *res = call_ok(c, "getBlocks", json_pack("[I]", (json_int_t)(tip - 7)));
  json_t *want = produced_in(meta, tip - 7, UINT64_MAX);
  ck_assert(json_equal(res, want));
  json_decref(res);
  res = call_ok(c, "getBlocks",
                json_pack("[I, {s:s}]", (json_int_t)(tip - 7), "commitment", "finalized"));
  ck_assert(json_equal(res, want));
  json_decref(res);
  json_decref(want);
  synth += 2;
  ck_assert_int_eq(rc_stat(&srv, "rpc_synthesized"), synth);
  /* a wider range than a node serves */
  call_err(c, "getBlocks", json_pack("[I, I]", (json_int_t)(tip - 600000), (json_int_t)tip), -32602,
           "Slot range too large; max 500000");
  call_err(
      c, "getBlocks",
      json_pack("[I, I, {s:s}]", (json_int_t)start, (json_int_t)tip, "commitment", "processed"),
      -32602, "commitment below");
  /* the recorded range comes from the recording, and agrees */
  json_t *rec = recorded_params(CHAIN, "getBlocks");
  long long before = rc_stat(&srv, "rpc_synthesized");
  json_t *a = call_ok(c, "getBlocks", json_incref(rec));
  ck_assert_int_eq(rc_stat(&srv, "rpc_synthesized"), before);
  json_object_set_new(json_array_get(rec, 2), "commitment", json_string("finalized"));
  json_t *b = call_ok(c, "getBlocks", rec);
  ck_assert_int_eq(rc_stat(&srv, "rpc_synthesized"), before + 1);
  ck_assert(json_equal(a, b));
  ck_assert_uint_gt(json_array_size(a), 10);
  json_decref(a);
  json_decref(b);
  ck_assert_int_eq(rc_stat(&srv, "rpc_unmatched"), 0);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stop(&srv), 0);
  json_decref(meta);
}
END_TEST

/* Every recorded account read and getBlocks of a generated scenario is
 * reproduced byte for byte by the synthesized answer. */
static const char *const generated_dirs[] = {CHAIN, CHAIN_SMALL};

START_TEST(test_synth_equals_recordings) {
  const char *dir = generated_dirs[_i];
  char err[256], path[256], *line = NULL;
  size_t cap = 0, checked = 0;
  ssize_t n;
  replay_store_t *s = replay_store_load(dir, err, sizeof err);
  ck_assert_msg(s != NULL, "%s", err);
  ck_assert_uint_gt(replay_store_account_count(s), 10);
  ck_assert_uint_gt(replay_store_produced_slot_count(s), 10);
  snprintf(path, sizeof path, "%s/rpc.jsonl", dir);
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  while ((n = getline(&line, &cap, f)) > 0) {
    json_t *d = jsonx_loads(line, (size_t)n, NULL, 0);
    json_t *req = json_object_get(d, "request");
    const char *m = jsonx_get_str(req, "method");
    ck_assert_ptr_nonnull(m);
    if (strcmp(m, "getMultipleAccounts") && strcmp(m, "getAccountInfo") &&
        strcmp(m, "getProgramAccounts") && strcmp(m, "getBlocks")) {
      json_decref(d);
      continue;
    }
    jsonraw_span_t resp;
    ck_assert_int_eq(jsonraw_member(line, (size_t)n, "response", &resp), 1);
    char *min = malloc(resp.len + 1);
    size_t ml = jsonraw_minify(resp.ptr, resp.len, min);
    char *text = NULL;
    size_t tl = 0;
    ck_assert_int_eq(replay_store_synth(s, m, json_object_get(req, "params"), &text, &tl), 1);
    ck_assert_uint_eq(strlen(text), tl);
    ck_assert_msg(tl == ml - 2 && memcmp(text, min + 1, tl) == 0, "%s differs:\n%s\n%.*s", m, text,
                  (int)ml, min);
    free(text);
    free(min);
    json_decref(d);
    checked++;
  }
  free(line);
  fclose(f);
  ck_assert_uint_ge(checked, 10);
  replay_store_free(s);
}
END_TEST

static void synth_expect(replay_store_t *s, const char *method, const char *params,
                         const char *expect) {
  json_t *p = params ? jsonx_loads(params, strlen(params), NULL, 0) : NULL;
  char *text = NULL;
  size_t tl = 0;
  ck_assert(params == NULL || p != NULL);
  int r = replay_store_synth(s, method, p, &text, &tl);
  if (!expect) {
    ck_assert_int_eq(r, 0);
  } else {
    ck_assert_int_eq(r, 1);
    ck_assert_str_eq(text, expect);
    ck_assert_uint_eq(tl, strlen(expect));
  }
  free(text);
  json_decref(p);
}

START_TEST(test_synth_store) {
  char *dir = rc_tmpdir();
  char err[256];
  replay_store_t *s = replay_store_load(dir, err, sizeof err);
  ck_assert_msg(s != NULL, "%s", err);
  synth_expect(s, "getAccountInfo",
               "[\"11111111111111111111111111111111\",{\"encoding\":\"base64\"}]", NULL);
  synth_expect(s, "getBlocks", "[1,2]", NULL);
  replay_store_free(s);

  rc_write_file(dir, "accounts.json",
                "{\"11111111111111111111111111111111\":{\"lamports\":18446744073709551615,"
                "\"owner\":\"" PROGRAM_ID "\",\"data\":\"AQIDBAUGBwg=\",\"executable\":true,"
                "\"rentEpoch\":0,\"slot\":7},\n"
                " \"" NEVER_CREATED "\":{\"lamports\":5,\"owner\":\"" PROGRAM_ID "\","
                "\"data\":\"\",\"space\":0,\"slot\":9}}\n");
  s = replay_store_load(dir, err, sizeof err);
  ck_assert_msg(s != NULL, "%s", err);
  ck_assert_uint_eq(replay_store_account_count(s), 2);
  ck_assert_uint_eq(replay_store_produced_slot_count(s), 0);
  /* no expected.json: the context slot is the largest account slot */
  synth_expect(
      s, "getAccountInfo", "[\"11111111111111111111111111111111\",{\"encoding\":\"base64\"}]",
      "\"result\":{\"context\":{\"apiVersion\":\"2.0.15\",\"slot\":9},\"value\":{\"data\":"
      "[\"AQIDBAUGBwg=\",\"base64\"],\"executable\":true,\"lamports\":18446744073709551615,"
      "\"owner\":\"" PROGRAM_ID "\",\"rentEpoch\":0,\"space\":8}}");
  synth_expect(s, "getAccountInfo",
               "[\"11111111111111111111111111111111\",{\"encoding\":\"base64\",\"dataSlice\":"
               "{\"offset\":2,\"length\":3}}]",
               "\"result\":{\"context\":{\"apiVersion\":\"2.0.15\",\"slot\":9},\"value\":{\"data\":"
               "[\"AwQF\",\"base64\"],\"executable\":true,\"lamports\":18446744073709551615,"
               "\"owner\":\"" PROGRAM_ID "\",\"rentEpoch\":0,\"space\":8}}");
  synth_expect(
      s, "getMultipleAccounts",
      "[[\"" NEVER_CREATED "\",\"So11111111111111111111111111111111111111112\"],"
      "{\"encoding\":\"base64\",\"minContextSlot\":9}]",
      "\"result\":{\"context\":{\"apiVersion\":\"2.0.15\",\"slot\":9},\"value\":[{\"data\":"
      "[\"\",\"base64\"],\"executable\":false,\"lamports\":5,\"owner\":\"" PROGRAM_ID
      "\",\"rentEpoch\":18446744073709551615,\"space\":0},null]}");
  synth_expect(s, "getMultipleAccounts", "[[],{\"encoding\":\"base64\",\"minContextSlot\":10}]",
               "\"error\":{\"code\":-32016,\"message\":\"Minimum context slot has not been "
               "reached\",\"data\":{\"contextSlot\":9}}");
  /* memcmp at offset 1, base58 and base64 */
  static const char *const gpa_expect =
      "\"result\":[{\"account\":{\"data\":[\"AQIDBAUGBwg=\",\"base64\"],\"executable\":true,"
      "\"lamports\":18446744073709551615,\"owner\":\"" PROGRAM_ID "\",\"rentEpoch\":0,"
      "\"space\":8},\"pubkey\":\"11111111111111111111111111111111\"}]";
  synth_expect(s, "getProgramAccounts",
               "[\"" PROGRAM_ID "\",{\"encoding\":\"base64\",\"filters\":[{\"memcmp\":"
               "{\"offset\":1,\"bytes\":\"9t\"}}]}]",
               gpa_expect);
  synth_expect(s, "getProgramAccounts",
               "[\"" PROGRAM_ID "\",{\"encoding\":\"base64\",\"filters\":[{\"memcmp\":"
               "{\"offset\":1,\"bytes\":\"AgM=\",\"encoding\":\"base64\"}},{\"dataSize\":8}]}]",
               gpa_expect);
  /* past the end of the data: no match, no over-read */
  synth_expect(s, "getProgramAccounts",
               "[\"" PROGRAM_ID "\",{\"encoding\":\"base64\",\"withContext\":true,\"filters\":"
               "[{\"memcmp\":{\"offset\":7,\"bytes\":\"9t\"}}]}]",
               "\"result\":{\"context\":{\"apiVersion\":\"2.0.15\",\"slot\":9},\"value\":[]}");
  synth_expect(s, "getAccountInfo", "[\"11111111111111111111111111111111\"]",
               "\"error\":{\"code\":-32602,\"message\":\"unsupported encoding in replay\"}");
  synth_expect(
      s, "getAccountInfo", NULL,
      "\"error\":{\"code\":-32602,\"message\":\"Invalid params: expected [pubkey, config?]\"}");
  synth_expect(s, "getBlocks", "[1,2]", NULL); /* no produced_slots */
  synth_expect(s, "getBalance", "[\"" NEVER_CREATED "\"]", NULL);
  replay_store_free(s);

  rc_write_file(
      dir, "expected.json",
      "{\"meta\":{\"account_read_slot\":100,\"produced_slots\":[5,6,8,18446744073709551615]},"
      "\"rows\":[1,2,3]}");
  s = replay_store_load(dir, err, sizeof err);
  ck_assert_msg(s != NULL, "%s", err);
  ck_assert_uint_eq(replay_store_produced_slot_count(s), 4);
  synth_expect(s, "getMultipleAccounts", "[[],{\"encoding\":\"base64\"}]",
               "\"result\":{\"context\":{\"apiVersion\":\"2.0.15\",\"slot\":100},\"value\":[]}");
  synth_expect(s, "getBlocks", "[6]", "\"result\":[6,8]");
  synth_expect(s, "getBlocks", "[0,7,{\"commitment\":\"confirmed\"}]", "\"result\":[5,6]");
  synth_expect(s, "getBlocks", "[18446744073709551615]", "\"result\":[18446744073709551615]");
  /* no end: start + 500000 at most, as a node */
  synth_expect(s, "getBlocks", "[7,null,{\"minContextSlot\":18446744073709551615}]",
               "\"result\":[8]");
  synth_expect(s, "getBlocks", "[\"x\"]",
               "\"error\":{\"code\":-32602,\"message\":\"Invalid params: expected [start_slot, "
               "end_slot?, config?]\"}");
  replay_store_free(s);

  /* malformed sources stop the load with the file and the reason */
  rc_write_file(dir, "expected.json", "{\"meta\":{\"produced_slots\":[5,6,6]}}");
  ck_assert_ptr_null(replay_store_load(dir, err, sizeof err));
  ck_assert_msg(strstr(err, "expected.json: meta.produced_slots[2]"), "%s", err);
  rc_write_file(dir, "expected.json", "{\"meta\":[]}");
  ck_assert_ptr_null(replay_store_load(dir, err, sizeof err));
  ck_assert_msg(strstr(err, "expected.json: meta: not an object"), "%s", err);
  rc_write_file(dir, "expected.json", "{\"other\":1}");
  rc_write_file(dir, "accounts.json",
                "{\"11111111111111111111111111111111\":{\"lamports\":1,\"owner\":\"" PROGRAM_ID
                "\",\"data\":\"AQID\",\"space\":4}}");
  ck_assert_ptr_null(replay_store_load(dir, err, sizeof err));
  ck_assert_msg(strstr(err, "accounts.json: account 11111111111111111111111111111111: space"), "%s",
                err);
  rc_write_file(dir, "accounts.json",
                "{\"11111111111111111111111111111111\":{\"lamports\":1,\"owner\":\"" PROGRAM_ID
                "\",\"data\":\"AQI\"}}");
  ck_assert_ptr_null(replay_store_load(dir, err, sizeof err));
  ck_assert_msg(strstr(err, "data is not padded base64"), "%s", err);
  rc_write_file(dir, "accounts.json", "[]");
  ck_assert_ptr_null(replay_store_load(dir, err, sizeof err));
  ck_assert_msg(strstr(err, "accounts.json: not a JSON object"), "%s", err);
  rc_rmdir(dir);
}
END_TEST

int main(void) {
  Suite *s = suite_create("replay");
  TCase *tc = tcase_create("replay");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_raw_scanner);
  tcase_add_test(tc, test_store);
  tcase_add_test(tc, test_recorder_ws_roundtrip);
  tcase_add_test(tc, test_http_matching);
  tcase_add_test(tc, test_http_chunks_latency_limits);
  tcase_add_test(tc, test_ws_subscribe_stream);
  tcase_add_test(tc, test_ws_timing);
  tcase_add_test(tc, test_ws_duplicate_reorder);
  tcase_add_test(tc, test_ws_drop_and_stall);
  tcase_add_test(tc, test_ws_garbage);
  tcase_add_test(tc, test_ws_requests);
  tcase_add_test(tc, test_ws_heartbeat);
  tcase_add_test(tc, test_cli);
  tcase_add_test(tc, test_synth_store);
  tcase_add_loop_test(tc, test_synth_equals_recordings, 0, 2);
  tcase_add_test(tc, test_synth_multiple_accounts);
  tcase_add_test(tc, test_synth_account_info);
  tcase_add_test(tc, test_synth_program_accounts);
  tcase_add_test(tc, test_synth_get_blocks);
  suite_add_tcase(s, tc);
  lws_set_log_level(LLL_ERR, NULL);
  log_min_level = LOG_WARN;
  return tu_run_suite(s);
}
