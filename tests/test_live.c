/* Live sync.
 *
 * Unit part (no server): message classification, UTF-8 validation, the
 * checkpoint rule, websocket URL parsing.
 *
 * Websocket client against cbi-replay: every notification arrives in order
 * through a queue far smaller than the stream while the consumer stalls
 * (backpressure, nothing dropped); oversized messages become OVERSIZED
 * items and the connection stays.
 *
 * End to end: the real binary (`crypto-bet-indexer live --exit-when-idle`)
 * against cbi-replay streaming fixtures/chain and a fresh migrated
 * database; the final tables must equal fixtures/chain/expected.json
 * (tests/expect.h) after a clean stream, a socket drop, a stall,
 * duplicates and reordering, garbage (which must be in dead_letters), a
 * PostgreSQL restart, and SIGTERM followed by a restart. */
#include <errno.h>
#include <inttypes.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "expect.h"
#include "live.h"
#include "msgqueue.h"
#include "jsonraw.h"
#include "utf8.h"
#include "wsmsg.h"
#include "replay_store.h"
#include "replay_child.h"
#include "ws_client.h"

#define CHAIN "fixtures/chain"
#define CHAIN_SMALL "fixtures/chain-small"
#define PROGRAM "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe"
#define SIG88 "3Y8u8geGZJLY4RgFijfCSAozNVWH24bvwynCT6Z52xs3x1hvcyT9s1V5rdKTn7BQhp9a9sYrC9VXG78txKZUtqF5"

#ifdef __SANITIZE_ADDRESS__
/* The wss test makes OpenSSL load the system CA store; LeakSanitizer
 * reports that library-internal state (only libcrypto frames) at exit. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libcrypto.so\n"; }
#endif

static json_t *g_exp_doc;
static char g_tmp[128];

/* fixtures/chain/expected.json, loaded on first use inside a test. */
#define g_exp exp_doc()
static json_t *exp_doc(void) {
  if (!g_exp_doc) g_exp_doc = ex_load(CHAIN);
  return g_exp_doc;
}

/* ---- unit: UTF-8 ------------------------------------------------------------- */

START_TEST(utf8_vectors) {
  static const struct {
    const char *bytes;
    size_t len;
    int ok;
    size_t bad;
  } v[] = {
      {"", 0, 1, 0},
      {"plain ascii", 11, 1, 0},
      {"\xE2\x82\xAC", 3, 1, 0},         /* U+20AC euro sign */
      {"\xC3\xA9t\xC3\xA9", 5, 1, 0},    /* "ete" with accents */
      {"\xF0\x9F\x98\x80", 4, 1, 0},     /* U+1F600 */
      {"\xF4\x8F\xBF\xBF", 4, 1, 0},     /* U+10FFFF, the last code point */
      {"\xED\x9F\xBF", 3, 1, 0},         /* U+D7FF, below the surrogates */
      {"\xC0\xAF", 2, 0, 0},             /* overlong '/' */
      {"\xE0\x80\xAF", 3, 0, 0},         /* overlong '/' */
      {"ab\xED\xA0\x80", 5, 0, 2},       /* U+D800 surrogate */
      {"\xF4\x90\x80\x80", 4, 0, 0},     /* above U+10FFFF */
      {"ok\xE2\x82", 4, 0, 2},           /* truncated */
      {"\x80", 1, 0, 0},                 /* lone continuation */
      {"x\xFF", 2, 0, 1},                /* never valid */
      {"\xC3\x28", 2, 0, 0},             /* bad continuation */
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    size_t bad = 999;
    int ok = utf8_valid((const uint8_t *)v[i].bytes, v[i].len, &bad);
    ck_assert_msg(ok == v[i].ok, "vector %zu: got %d", i, ok);
    if (!ok) ck_assert_msg(bad == v[i].bad, "vector %zu: bad offset %zu", i, bad);
  }
}
END_TEST

/* ---- unit: message classification ------------------------------------------------ */

static wsmsg_kind_t classify(const char *text, wsmsg_t *m) {
  return wsmsg_parse((const uint8_t *)text, strlen(text), 0, m);
}

START_TEST(parse_good_notifications) {
  wsmsg_t m;
  ck_assert_int_eq(classify("{\"jsonrpc\":\"2.0\",\"method\":\"slotNotification\",\"params\":{"
                            "\"result\":{\"parent\":75,\"root\":44,\"slot\":76},\"subscription\":0}}",
                            &m),
                   WSMSG_SLOT);
  ck_assert_uint_eq(m.slot, 76);
  ck_assert(m.has_root);
  ck_assert_uint_eq(m.root, 44);
  wsmsg_clear(&m);

  /* rentEpoch u64::MAX must not break the parse */
  ck_assert_int_eq(
      classify("{\"jsonrpc\":\"2.0\",\"method\":\"programNotification\",\"params\":{\"result\":{"
               "\"context\":{\"slot\":18446744073709551615},\"value\":{\"pubkey\":\"" PROGRAM
               "\",\"account\":{\"data\":[\"AAAA\",\"base64\"],\"executable\":false,"
               "\"lamports\":1,\"owner\":\"" PROGRAM "\",\"rentEpoch\":18446744073709551615,"
               "\"space\":3}}},\"subscription\":1}}",
               &m),
      WSMSG_ACCOUNT);
  ck_assert_uint_eq(m.slot, UINT64_MAX);
  ck_assert_str_eq(m.pubkey, PROGRAM);
  ck_assert(json_is_object(m.account));
  wsmsg_clear(&m);

  ck_assert_int_eq(classify("{\"jsonrpc\":\"2.0\",\"method\":\"logsNotification\",\"params\":{"
                            "\"result\":{\"context\":{\"slot\":5},\"value\":{\"signature\":\"" SIG88
                            "\",\"err\":{\"InstructionError\":[0,{\"Custom\":6001}]},\"logs\":[]}},"
                            "\"subscription\":2}}",
                            &m),
                   WSMSG_LOGS);
  ck_assert_uint_eq(m.slot, 5);
  ck_assert_str_eq(m.signature, SIG88);
  ck_assert(m.tx_failed);
  wsmsg_clear(&m);

  /* a closed account arrives as account: null */
  ck_assert_int_eq(
      classify("{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":"
               "9},\"value\":{\"pubkey\":\"" PROGRAM "\",\"account\":null}}}}",
               &m),
      WSMSG_ACCOUNT);
  ck_assert(json_is_null(m.account));
  wsmsg_clear(&m);
}
END_TEST

START_TEST(parse_garbage) {
  static const struct {
    const char *text;
    const char *reason;
  } v[] = {
      {"{\"jsonrpc\":\"2.0\",\"method\":\"programNotification\",\"params\":{\"result\":{"
       "\"context\":{\"slot\":",
       "malformed JSON"},
      {"[1,2,3]", "not a JSON object"},
      {"{\"jsonrpc\":\"2.0\",\"result\":5,\"id\":1}", "no method"},
      {"{\"method\":\"accountNotification\",\"params\":{}}", "unknown method: accountNotification"},
      {"{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":"
       "\"not-a-slot\"},\"value\":[1,2,3]},\"subscription\":3}}",
       "without a context slot"},
      {"{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":1},"
       "\"value\":{\"pubkey\":\"0OIl\",\"account\":null}}}}",
       "valid pubkey"},
      {"{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":1},"
       "\"value\":{\"pubkey\":\"" PROGRAM "\",\"account\":7}}}}",
       "without an account"},
      {"{\"method\":\"logsNotification\",\"params\":{\"result\":{\"context\":{\"slot\":1},"
       "\"value\":{\"signature\":\"short\"}}}}",
       "valid signature"},
      {"{\"method\":\"slotNotification\",\"params\":{\"result\":{\"slot\":-1}}}",
       "without a slot"},
      {"{\"method\":\"slotNotification\",\"params\":{\"result\":{\"slot\":1,\"root\":\"x\"}}}",
       "bad root"},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    wsmsg_t m;
    ck_assert_int_eq(classify(v[i].text, &m), WSMSG_BAD);
    ck_assert_msg(strstr(m.reason, v[i].reason) != NULL, "vector %zu: reason '%s'", i, m.reason);
    wsmsg_clear(&m);
  }
  wsmsg_t m;
  const uint8_t nul[] = "{\"method\":\"slotNotification\"\0}";
  ck_assert_int_eq(wsmsg_parse(nul, sizeof nul - 1, 0, &m), WSMSG_BAD);
  ck_assert_str_eq(m.reason, "NUL byte at offset: 28");
  wsmsg_clear(&m);
  const uint8_t bad[] = "{\"method\":\"\xC3\x28\"}";
  ck_assert_int_eq(wsmsg_parse(bad, sizeof bad - 1, 0, &m), WSMSG_BAD);
  ck_assert_str_eq(m.reason, "invalid UTF-8 at offset: 11");
  wsmsg_clear(&m);
  const char *ok = "{\"method\":\"slotNotification\",\"params\":{\"result\":{\"slot\":1}}}";
  ck_assert_int_eq(wsmsg_parse((const uint8_t *)ok, strlen(ok), 1, &m), WSMSG_BAD);
  ck_assert_str_eq(m.reason, "binary frame");
  wsmsg_clear(&m);
}
END_TEST

/* ---- unit: the programNotification fast path ------------------------------------ */

/* Every programNotification of fixtures/chain, framed as the server sends
 * it: the fast path finds exactly what the full parser finds. */
START_TEST(fast_path_matches_full_parser) {
  char err[256];
  replay_store_t *st = replay_store_load(CHAIN, err, sizeof err);
  ck_assert_msg(st != NULL, "%s", err);
  size_t n = replay_store_ws_count(st), checked = 0;
  for (size_t i = 0; i < n; i++) {
    const replay_ws_note_t *note = replay_store_ws_note(st, i);
    if (strcmp(note->method, "programNotification") != 0) continue;
    size_t cap = note->params_inner_len + 200;
    char *msg = malloc(cap);
    int k = snprintf(msg, cap,
                     "{\"jsonrpc\":\"2.0\",\"method\":\"programNotification\",\"params\":{%.*s,"
                     "\"subscription\":%zu}}",
                     (int)note->params_inner_len, note->params_inner, i);
    ck_assert(k > 0 && (size_t)k < cap);
    wsmsg_fast_account_t fa;
    ck_assert_msg(wsmsg_fast_account((const uint8_t *)msg, (size_t)k, &fa) == 1, "note %zu", i);
    wsmsg_t m;
    ck_assert_int_eq(wsmsg_parse((const uint8_t *)msg, (size_t)k, 0, &m), WSMSG_ACCOUNT);
    ck_assert_uint_eq(fa.slot, m.slot);
    ck_assert_str_eq(fa.pubkey, m.pubkey);
    ck_assert_str_eq(fa.owner, jsonx_get_str(m.account, "owner"));
    uint64_t lam = 0;
    ck_assert_int_eq(jsonx_get_u64(m.account, "lamports", &lam), 0);
    ck_assert_uint_eq(fa.lamports, lam);
    const char *b64 = json_string_value(json_array_get(json_object_get(m.account, "data"), 0));
    ck_assert_ptr_nonnull(b64);
    ck_assert_uint_eq(fa.b64_len, strlen(b64));
    ck_assert(memcmp(fa.b64, b64, fa.b64_len) == 0);
    wsmsg_clear(&m);
    free(msg);
    checked++;
  }
  ck_assert_uint_gt(checked, 100);
  replay_store_free(st);
}
END_TEST

#define FAST_OK                                                                                   \
  "{\"jsonrpc\":\"2.0\",\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":" \
  "5},\"value\":{\"pubkey\":\"" PROGRAM "\",\"account\":{\"data\":[\"AAAA\",\"base64\"],"           \
  "\"lamports\":7,\"owner\":\"" PROGRAM "\"}}},\"subscription\":1}}"

/* FAST_OK with one more top-level member: the whole message must still be
 * valid JSON for the fast path to take it. */
#define FAST_WITH(extra)                                                                          \
  "{\"jsonrpc\":\"2.0\"," extra ",\"method\":\"programNotification\",\"params\":{\"result\":{"      \
  "\"context\":{\"slot\":5},\"value\":{\"pubkey\":\"" PROGRAM "\",\"account\":{\"data\":[\"AAAA\","     \
  "\"base64\"],\"lamports\":7,\"owner\":\"" PROGRAM "\"}}},\"subscription\":1}}"

START_TEST(fast_path_requires_valid_json) {
  wsmsg_fast_account_t fa;
  static const char *const good[] = {
      FAST_WITH("\"x\":[1,-2.5e+3,0.25,true,false,null,{},[],\"\\u00e9\\n\"]"),
      FAST_WITH("\"y\" : { \"z\" : [ ] }"),
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    ck_assert_msg(wsmsg_fast_account((const uint8_t *)good[i], strlen(good[i]), &fa) == 1,
                  "valid %zu refused", i);
  static const char *const bad[] = {
      FAST_WITH("\"x\":[1,]"),        FAST_WITH("\"x\":{,}"),      FAST_WITH("\"x\":01"),
      FAST_WITH("\"x\":1."),          FAST_WITH("\"x\":-"),        FAST_WITH("\"x\":tru"),
      FAST_WITH("\"x\":\"\\q\""),     FAST_WITH("\"x\":\"\\u12\""), FAST_WITH("\"x\":\"a\tb\""),
      FAST_WITH("\"x\" 1"),           FAST_WITH("\"x\":[}"),       FAST_WITH("x:1"),
      FAST_WITH("\"x\":1 2"),         FAST_WITH("\"x\":.5"),       FAST_WITH("\"x\":NaN"),
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(wsmsg_fast_account((const uint8_t *)bad[i], strlen(bad[i]), &fa) == 0,
                  "invalid %zu accepted: %s", i, bad[i]);
}
END_TEST

START_TEST(fast_path_declines_odd_shapes) {
  wsmsg_fast_account_t fa;
  ck_assert_int_eq(wsmsg_fast_account((const uint8_t *)FAST_OK, strlen(FAST_OK), &fa), 1);
  ck_assert_uint_eq(fa.slot, 5);
  ck_assert_uint_eq(fa.lamports, 7);
  ck_assert_uint_eq(fa.b64_len, 4);
  /* each of these must go to the full parser */
  static const char *const odd[] = {
      /* escaped character in the pubkey */
      "{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":5},"
      "\"value\":{\"pubkey\":\"kneo\\u004B1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe\",\"account\":{"
      "\"data\":[\"AAAA\",\"base64\"],\"lamports\":7,\"owner\":\"" PROGRAM "\"}}}}}",
      /* another encoding */
      "{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":5},"
      "\"value\":{\"pubkey\":\"" PROGRAM "\",\"account\":{\"data\":[\"AAAA\",\"base58\"],"
      "\"lamports\":7,\"owner\":\"" PROGRAM "\"}}}}}",
      /* a number that is not plain digits */
      "{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":5e0},"
      "\"value\":{\"pubkey\":\"" PROGRAM "\",\"account\":{\"data\":[\"AAAA\",\"base64\"],"
      "\"lamports\":7,\"owner\":\"" PROGRAM "\"}}}}}",
      "{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":05},"
      "\"value\":{\"pubkey\":\"" PROGRAM "\",\"account\":{\"data\":[\"AAAA\",\"base64\"],"
      "\"lamports\":7,\"owner\":\"" PROGRAM "\"}}}}}",
      /* trailing bytes, truncation, a missing comma */
      FAST_OK "x",
      "{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":5}",
      "{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":5}"
      "\"value\":{\"pubkey\":\"" PROGRAM "\",\"account\":{\"data\":[\"AAAA\",\"base64\"],"
      "\"lamports\":7,\"owner\":\"" PROGRAM "\"}}}}}",
      /* a third data element, an account that is null (a close) */
      "{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":5},"
      "\"value\":{\"pubkey\":\"" PROGRAM "\",\"account\":{\"data\":[\"AAAA\",\"base64\",1],"
      "\"lamports\":7,\"owner\":\"" PROGRAM "\"}}}}}",
      "{\"method\":\"programNotification\",\"params\":{\"result\":{\"context\":{\"slot\":5},"
      "\"value\":{\"pubkey\":\"" PROGRAM "\",\"account\":null}}}}",
      /* not this method */
      "{\"method\":\"slotNotification\",\"params\":{\"result\":{\"slot\":5}}}",
      "[]",
      "",
  };
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
    ck_assert_msg(wsmsg_fast_account((const uint8_t *)odd[i], strlen(odd[i]), &fa) == 0,
                  "odd shape %zu accepted", i);
}
END_TEST

/* ---- unit: checkpoint rule ------------------------------------------------------- */

START_TEST(checkpoint_rule) {
  /* margin behind the tip */
  ck_assert_uint_eq(live_checkpoint_next(0, 1000, 32, false, 0), 968);
  /* never backwards */
  ck_assert_uint_eq(live_checkpoint_next(990, 1000, 32, false, 0), 990);
  /* below the lowest in-flight fetch */
  ck_assert_uint_eq(live_checkpoint_next(0, 1000, 32, true, 900), 899);
  ck_assert_uint_eq(live_checkpoint_next(0, 1000, 32, true, 999), 968);
  ck_assert_uint_eq(live_checkpoint_next(950, 1000, 32, true, 900), 950);
  /* tiny tips */
  ck_assert_uint_eq(live_checkpoint_next(0, 10, 32, false, 0), 0);
  ck_assert_uint_eq(live_checkpoint_next(0, 100, 32, true, 0), 0);
}
END_TEST

/* ---- unit: URL parsing ------------------------------------------------------------- */

START_TEST(url_parsing) {
  int tls = -1, port = 0;
  char host[64], path[64];
  ck_assert_int_eq(ws_client_parse_url("ws://127.0.0.1:8900", &tls, host, sizeof host, &port,
                                       path, sizeof path),
                   0);
  ck_assert_int_eq(tls, 0);
  ck_assert_str_eq(host, "127.0.0.1");
  ck_assert_int_eq(port, 8900);
  ck_assert_str_eq(path, "/");
  ck_assert_int_eq(ws_client_parse_url("wss://api.example.com/ws/KEY123?x=1#frag", &tls, host,
                                       sizeof host, &port, path, sizeof path),
                   0);
  ck_assert_int_eq(tls, 1);
  ck_assert_str_eq(host, "api.example.com");
  ck_assert_int_eq(port, 443);
  ck_assert_str_eq(path, "/ws/KEY123?x=1");
  ck_assert_int_eq(ws_client_parse_url("wss://h?api-key=1", &tls, host, sizeof host, &port, path,
                                       sizeof path),
                   0);
  ck_assert_str_eq(path, "/?api-key=1");
  ck_assert_int_eq(ws_client_parse_url("ws://[::1]:9000/p", &tls, host, sizeof host, &port, path,
                                       sizeof path),
                   0);
  ck_assert_str_eq(host, "::1");
  ck_assert_int_eq(port, 9000);
  static const char *const bad[] = {"http://h/",     "ws://",          "ws://:80/",
                                    "ws://h:0/",     "ws://h:65536/",  "ws://h:12x/",
                                    "ws://u:p@h/",   "ws://[::1/",     "wss://h:/",
                                    "WS://h/",       NULL};
  for (int i = 0; bad[i]; i++)
    ck_assert_msg(ws_client_parse_url(bad[i], &tls, host, sizeof host, &port, path, sizeof path) ==
                      -1,
                  "accepted %s", bad[i]);
  char tiny[4];
  ck_assert_int_eq(
      ws_client_parse_url("ws://longhost/", &tls, tiny, sizeof tiny, &port, path, sizeof path), -1);
}
END_TEST

/* ---- websocket client against cbi-replay -------------------------------------------- */

static size_t count_lines(const char *path) {
  size_t len = 0, n = 0;
  char *t = tu_read_file(path, &len);
  for (size_t i = 0; i < len; i++)
    if (t[i] == '\n') n++;
  free(t);
  return n;
}

/* The slot of the last notification of a ws.jsonl fixture. */
static uint64_t fixture_last_slot(const char *path) {
  size_t len = 0;
  char *t = tu_read_file(path, &len);
  while (len > 0 && t[len - 1] == '\n') t[--len] = '\0';
  char *line = strrchr(t, '\n');
  line = line ? line + 1 : t;
  json_t *d = jsonx_loads(line, strlen(line), NULL, 0);
  ck_assert_ptr_nonnull(d);
  json_t *r = json_object_get(json_object_get(d, "params"), "result");
  uint64_t slot = 0;
  if (jsonx_get_u64(r, "slot", &slot) != 0)
    ck_assert_int_eq(jsonx_get_u64(json_object_get(r, "context"), "slot", &slot), 0);
  json_decref(d);
  free(t);
  return slot;
}

static ws_client_t *start_ws(const rc_child_t *rs, msgqueue_t *q, size_t max_msg) {
  char url[64], err[256];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/", rs->port);
  ws_client_options_t o;
  ws_client_options_init(&o);
  o.url = url;
  o.program_id = PROGRAM;
  o.commitment = "confirmed";
  if (max_msg) o.max_message_bytes = max_msg;
  ws_client_t *ws = ws_client_start(&o, q, err, sizeof err);
  ck_assert_msg(ws != NULL, "ws_client_start: %s", err);
  return ws;
}

/* The whole chain-small stream through a queue of 4 KiB while the consumer
 * sleeps: reading pauses, nothing is lost, order is kept. */
START_TEST(ws_backpressure_keeps_everything) {
  rc_child_t rs;
  const char *extra[] = {"--speed", "50", NULL};
  rc_start(&rs, CHAIN_SMALL, extra);
  msgqueue_t *q = msgqueue_new(4096);
  ws_client_t *ws = start_ws(&rs, q, 0);
  size_t want = count_lines(CHAIN_SMALL "/ws.jsonl");
  msgqueue_item_t *it = msgqueue_pop(q, 10000);
  ck_assert_ptr_nonnull(it);
  ck_assert_int_eq(it->kind, WS_ITEM_CONNECTED);
  ck_assert_uint_eq(it->aux, 1);
  msgqueue_item_free(it);
  usleep(1500 * 1000); /* the stream (~0.3 s) is over; the socket holds the rest */
  msgqueue_stats_t qs;
  msgqueue_get_stats(q, &qs);
  ck_assert_uint_le(qs.peak_bytes, 4096 + 4096); /* one item may exceed into an empty queue */
  ws_client_stats_t st;
  ws_client_get_stats(ws, &st);
  ck_assert_uint_ge(st.paused, 1);
  size_t got = 0;
  uint64_t last_slot = 0;
  while (got < want && (it = msgqueue_pop(q, 5000)) != NULL) {
    ck_assert_int_eq(it->kind, WS_ITEM_MESSAGE);
    wsmsg_t m;
    ck_assert_int_ne(wsmsg_parse(it->data, it->len, 0, &m), WSMSG_BAD);
    ck_assert_uint_ge(m.slot, last_slot); /* the fixture is in slot order */
    last_slot = m.slot;
    wsmsg_clear(&m);
    msgqueue_item_free(it);
    got++;
  }
  ck_assert_uint_eq(got, want);
  ck_assert_uint_eq(last_slot, fixture_last_slot(CHAIN_SMALL "/ws.jsonl"));
  ws_client_get_stats(ws, &st);
  ck_assert_uint_eq(st.messages, want);
  ck_assert_uint_eq(st.connects, 1);
  ck_assert_uint_eq(st.disconnects, 0);
  ws_client_stop(ws);
  msgqueue_free(q);
  ck_assert_int_eq(rc_stop(&rs), 0);
}
END_TEST

/* Oversized frames (garbage kind 3 of cbi-replay) come out as OVERSIZED
 * items with their full length; the connection stays and the rest of the
 * stream arrives. */
START_TEST(ws_oversized_is_reported) {
  rc_child_t rs;
  const char *extra[] = {"--speed", "50", "--ws-garbage-every", "10", "--ws-oversize-bytes",
                         "300000", NULL};
  rc_start(&rs, CHAIN_SMALL, extra);
  msgqueue_t *q = msgqueue_new(1 << 20);
  ws_client_t *ws = start_ws(&rs, q, 65536);
  size_t notes = count_lines(CHAIN_SMALL "/ws.jsonl"), messages = 0, oversized = 0;
  msgqueue_item_t *it;
  while ((it = msgqueue_pop(q, 1500)) != NULL) { /* until the stream is over */
    if (it->kind == WS_ITEM_OVERSIZED) {
      oversized++;
      ck_assert_uint_ge(it->aux, 300000);
      ck_assert_uint_le(it->len, 1024);
      ck_assert(memcmp(it->data, "{\"jsonrpc\":\"2.0\",\"method\":\"programNotification\"", 47) ==
                0);
    } else if (it->kind == WS_ITEM_MESSAGE) {
      messages++;
    }
    msgqueue_item_free(it);
  }
  long long garbage = rc_stat(&rs, "ws_garbage");
  ck_assert_int_ge(garbage, 4);
  /* every notification plus the garbage that is not oversized */
  ck_assert_uint_eq(messages, notes + (size_t)garbage - oversized);
  ck_assert_uint_eq(oversized, (size_t)(garbage / 4) + (garbage % 4 >= 3 ? 1 : 0));
  ws_client_stats_t st;
  ws_client_get_stats(ws, &st);
  ck_assert_uint_eq(st.oversized, oversized);
  ck_assert_uint_eq(st.connects, 1);
  ck_assert_uint_eq(st.disconnects, 0);
  ws_client_stop(ws);
  msgqueue_free(q);
  rc_stop(&rs);
}
END_TEST

/* ---- wss: certificate verification ------------------------------------------------------ */

/* A minimal TLS websocket server (self-signed certificate for localhost)
 * that confirms any subscription: enough to see whether the client's
 * handshake gets through. */
typedef struct tls_srv {
  struct lws_context *ctx;
  pthread_t th;
  volatile int stop;
  int port;
  int pending; /* replies to send */
  long ids[8];
} tls_srv_t;

static int tls_srv_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len) {
  (void)user;
  tls_srv_t *t = lws_context_user(lws_get_context(wsi));
  if (!t) return 0;
  if (reason == LWS_CALLBACK_RECEIVE) {
    jsonraw_span_t id;
    long v = 0;
    if (jsonraw_member(in, len, "id", &id) == 1) v = strtol(id.ptr, NULL, 10);
    if (t->pending < 8) t->ids[t->pending++] = v;
    lws_callback_on_writable(wsi);
  } else if (reason == LWS_CALLBACK_SERVER_WRITEABLE && t->pending > 0) {
    unsigned char buf[LWS_PRE + 128];
    int n = snprintf((char *)buf + LWS_PRE, 128, "{\"jsonrpc\":\"2.0\",\"result\":%ld,\"id\":%ld}",
                     t->ids[0] + 100, t->ids[0]);
    memmove(t->ids, t->ids + 1, (size_t)(t->pending - 1) * sizeof t->ids[0]);
    t->pending--;
    if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n) return -1;
    if (t->pending > 0) lws_callback_on_writable(wsi);
  }
  return 0;
}

static const struct lws_protocols tls_protocols[] = {{"tls-test", tls_srv_cb, 0, 0, 0, NULL, 0},
                                                     {NULL, NULL, 0, 0, 0, NULL, 0}};

static void *tls_srv_main(void *arg) {
  tls_srv_t *t = arg;
  while (!t->stop) lws_service(t->ctx, 0);
  return NULL;
}

/* Returns 0, or -1 when no certificate could be made (no openssl tool). */
static int tls_srv_start(tls_srv_t *t) {
  char cmd[1024], cert[300], key[300];
  snprintf(cert, sizeof cert, "%s/cert.pem", g_tmp);
  snprintf(key, sizeof key, "%s/key.pem", g_tmp);
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' -out '%s' -subj /CN=localhost "
           "-days 2 >/dev/null 2>&1",
           key, cert);
  if (system(cmd) != 0) return -1;
  memset(t, 0, sizeof *t);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = 0;
  info.iface = "127.0.0.1";
  info.protocols = tls_protocols;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_IPV6;
  info.ssl_cert_filepath = cert;
  info.ssl_private_key_filepath = key;
  info.user = t;
  info.gid = -1;
  info.uid = -1;
  t->ctx = lws_create_context(&info);
  ck_assert_ptr_nonnull(t->ctx);
  t->port = lws_get_vhost_listen_port(lws_get_vhost_by_name(t->ctx, "default"));
  ck_assert_int_gt(t->port, 0);
  ck_assert_int_eq(pthread_create(&t->th, NULL, tls_srv_main, t), 0);
  return 0;
}

static void tls_srv_stop(tls_srv_t *t) {
  t->stop = 1;
  lws_cancel_service(t->ctx);
  pthread_join(t->th, NULL);
  lws_context_destroy(t->ctx);
}

/* Waits up to ms for a CONNECTED item; returns 1 if one came. */
static int got_connected(msgqueue_t *q, int ms) {
  long deadline = tu_now_ms() + ms;
  while (tu_now_ms() < deadline) {
    msgqueue_item_t *it = msgqueue_pop(q, 100);
    if (!it) continue;
    int k = it->kind;
    msgqueue_item_free(it);
    if (k == WS_ITEM_CONNECTED) return 1;
  }
  return 0;
}

static tls_srv_t g_tls; /* outlives the test body even when an assertion fails */

START_TEST(wss_verifies_certificates) {
  if (tls_srv_start(&g_tls) != 0) {
    fprintf(stderr, "wss_verifies_certificates: no openssl tool to make a certificate; skipped\n");
    return;
  }
  char url[64], err[256];
  snprintf(url, sizeof url, "wss://localhost:%d/", g_tls.port);
  for (int insecure = 0; insecure <= 1; insecure++) {
    msgqueue_t *q = msgqueue_new(1 << 20);
    ws_client_options_t o;
    ws_client_options_init(&o);
    o.url = url;
    o.program_id = PROGRAM;
    o.commitment = "confirmed";
    o.backoff_initial_ms = 100;
    o.insecure = insecure;
    ws_client_t *ws = ws_client_start(&o, q, err, sizeof err);
    ck_assert_msg(ws != NULL, "%s", err);
    ws_client_stats_t st;
    int connected = 0;
    if (insecure) {
      connected = got_connected(q, 8000);
    } else {
      /* wait for the first refused handshake; nothing may connect meanwhile */
      long deadline = tu_now_ms() + 8000;
      do {
        connected |= got_connected(q, 200);
        ws_client_get_stats(ws, &st);
      } while (st.connect_failures == 0 && tu_now_ms() < deadline);
    }
    ws_client_get_stats(ws, &st);
    ws_client_stop(ws);
    msgqueue_free(q);
    if (insecure) {
      ck_assert_msg(connected, "--insecure did not connect");
    } else {
      /* a self-signed certificate is refused: no subscription, retries */
      ck_assert_msg(!connected, "self-signed certificate accepted by default");
      ck_assert_uint_ge(st.connect_failures, 1);
    }
  }
  tls_srv_stop(&g_tls);
}
END_TEST

/* ---- end to end --------------------------------------------------------------------- */

/* A database that already tracks the program: the checkpoint sits just
 * before the stream, so there is no snapshot and every account update
 * comes from programNotification (those touched in the first slot are
 * refreshed by the start-up gap fill). */
static void seed_checkpoint(PGconn *c) {
  char sql[160];
  snprintf(sql, sizeof sql,
           "INSERT INTO sync_checkpoints (stream, slot) VALUES ('live', %" PRIu64 ")",
           ex_meta_u64(g_exp, "start_slot") - 1);
  PGresult *r = PQexec(c, sql);
  ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
  PQclear(r);
}

/* The surroundings of one end-to-end run: the replay server on CHAIN with
 * replay_args, and a fresh migrated database (with seed_checkpoint when
 * seed). Returns the database URI (rc_end_with_db releases everything). */
static char *start_e2e(rc_child_t *rs, const char *const *replay_args, bool seed, PGconn **c) {
  char *uri = rc_start_with_db(rs, CHAIN, replay_args, "live", c);
  if (seed) seed_checkpoint(*c);
  return uri;
}

static pid_t spawn_live(const char *uri, int port, const char *logfile, const char *const *extra) {
  char rpc[64], ws[64];
  snprintf(rpc, sizeof rpc, "http://127.0.0.1:%d/", port);
  snprintf(ws, sizeof ws, "ws://127.0.0.1:%d/", port);
  const char *const args[] = {"live",    "--database-url", uri, "--rpc-url", rpc, "--ws-url",
                              ws,        "--status-interval", "1", NULL};
  return tu_spawn("crypto-bet-indexer", args, extra, NULL, logfile);
}

static char *log_path(const char *name) {
  char *p = malloc(256);
  ck_assert_ptr_nonnull(p);
  snprintf(p, 256, "%s/%s.log", g_tmp, name);
  return p;
}

/* Waits (up to 60 s) for a live run logging to lp and asserts exit 0.
 * Returns the log text. */
static char *wait_live_ok(pid_t pid, const char *lp) {
  int code = tu_wait_exit(pid, 60000, lp);
  char *log = tu_read_file(lp, NULL);
  size_t n = strlen(log);
  ck_assert_msg(code == 0, "live exit %d; log tail:\n%s", code, n > 3000 ? log + n - 3000 : log);
  return log;
}

/* Runs live to its idle exit and asserts exit 0. Returns the log text. */
static char *run_live_ok(const char *uri, int port, const char *name, const char *const *extra) {
  char *lp = log_path(name);
  char *log = wait_live_ok(spawn_live(uri, port, lp, extra), lp);
  free(lp);
  return log;
}

static void assert_tables(PGconn *c, long *alt_hits) {
  char rs[32];
  snprintf(rs, sizeof rs, "%" PRIu64, ex_meta_u64(g_exp, "account_read_slot"));
  long alt = ex_assert_expected(c, g_exp, true, 0, UINT64_MAX, NULL, rs);
  if (alt_hits) *alt_hits = alt;
}

/* The stream's hostile messages (expected.json meta.hostile_ws: slots above
 * 2^63 - 1 and far beyond the tip) are slot-range dead letters, plus `more`
 * of other kinds; every other message lands. */
static void assert_dead_letters(PGconn *c, size_t more) {
  char want[32], sql[200];
  snprintf(want, sizeof want, "%zu", more);
  tu_assert_query(c, "SELECT count(*) FROM dead_letters WHERE kind <> 'slot-range'", want);
  /* a stream that loses messages on purpose may lose hostile ones too */
  snprintf(sql, sizeof sql, "SELECT count(*) %s %zu FROM dead_letters WHERE kind = 'slot-range'",
           ex_stream_lossy ? "<=" : "=", ex_count_hostile(g_exp, NULL));
  tu_assert_query(c, sql, "t");
}

/* assert_tables, and no dead letter but the hostile slots. */
static void assert_tables_clean(PGconn *c) {
  assert_tables(c, NULL);
  assert_dead_letters(c, 0);
}

static long accounts_expected(void) {
  static const char *const t[] = {"platform_config", "markets_cache", "positions_cache",
                                  "treasuries_cache", "oracle_data_cache"};
  long n = 0;
  for (int i = 0; i < 5; i++) n += (long)json_array_size(json_object_get(g_exp, t[i]));
  return n;
}

static uint64_t checkpoint_of(PGconn *c, const char *stream) {
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT coalesce(max(slot), 0) FROM sync_checkpoints WHERE stream = '%s'",
           stream);
  char *v = tu_query1(c, sql);
  uint64_t s = strtoull(v, NULL, 10);
  free(v);
  return s;
}

static const char *const REPLAY_FAST[] = {"--speed", "40", "--ws-slot-heartbeat-ms", "100", NULL};

START_TEST(e2e_clean_stream) {
  rc_child_t rs;
  PGconn *c;
  char *uri = start_e2e(&rs, REPLAY_FAST, true, &c);
  char rec[200];
  snprintf(rec, sizeof rec, "%s/record", g_tmp);
  const char *extra[] = {"--exit-when-idle", "1500", "--record", rec, NULL};
  char *log = run_live_ok(uri, rs.port, "clean", extra);
  long alt = 0;
  assert_tables(c, &alt);
  /* most accounts carry the slot of their last notification, not a read */
  ck_assert_msg(alt < accounts_expected() / 2, "%ld of %ld accounts from reads", alt,
                accounts_expected());
  assert_dead_letters(c, 0);
  ck_assert_uint_ge(checkpoint_of(c, "live"), ex_meta_u64(g_exp, "tip_slot") - LIVE_CHECKPOINT_MARGIN);
  ck_assert_ptr_nonnull(strstr(log, "reason=idle"));
  ck_assert_ptr_null(strstr(log, "snapshot"));
  /* the recording replays: every notification of the stream is in it */
  char err[256];
  replay_store_t *st = replay_store_load(rec, err, sizeof err);
  ck_assert_msg(st != NULL, "recording: %s", err);
  ck_assert_uint_ge(replay_store_ws_count(st), count_lines(CHAIN "/ws.jsonl"));
  ck_assert_uint_gt(replay_store_rpc_count(st), 0);
  replay_store_free(st);
  free(log);

  /* reconcile finds nothing closed */
  char url[64], lp[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", rs.port);
  snprintf(lp, sizeof lp, "%s/reconcile.log", g_tmp);
  const char *const args[] = {"reconcile", "--rpc-url", url, "--database-url", uri, NULL};
  pid_t pid = tu_spawn("crypto-bet-indexer", args, NULL, "/dev/null", lp);
  ck_assert_int_eq(tu_wait_exit(pid, 30000, lp), 0);
  tu_assert_query(c, "SELECT count(*) FROM markets_cache WHERE closed_slot IS NOT NULL", "0");
  rc_end_with_db(&rs, c, uri);
}
END_TEST

/* The server closes the socket mid-stream; the notifications it sends
 * before the client is back are only available through the gap fill. */
START_TEST(e2e_socket_drop) {
  ex_stream_lossy = true; /* notifications are lost on purpose */
  rc_child_t rs;
  const char *rx[] = {"--speed", "40", "--ws-slot-heartbeat-ms", "100", "--ws-drop-after", "300",
                      "--ws-fault-once", NULL};
  PGconn *c;
  char *uri = start_e2e(&rs, rx, true, &c);
  const char *extra[] = {"--exit-when-idle", "1500", NULL};
  char *log = run_live_ok(uri, rs.port, "drop", extra);
  ck_assert_int_eq(rc_stat(&rs, "ws_drops"), 1);
  ck_assert_ptr_nonnull(strstr(log, "resubscribed conn=2"));
  ck_assert_ptr_nonnull(strstr(log, "reconnects=1 "));
  assert_tables_clean(c);
  free(log);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

/* The server keeps the socket open (and answers pings) but sends nothing:
 * the stall timeout closes it, the gap is filled. */
START_TEST(e2e_stall) {
  ex_stream_lossy = true; /* notifications are lost on purpose */
  rc_child_t rs;
  const char *rx[] = {"--speed", "40", "--ws-slot-heartbeat-ms", "100", "--ws-stall-after", "300",
                      "--ws-fault-once", NULL};
  PGconn *c;
  char *uri = start_e2e(&rs, rx, true, &c);
  /* the idle exit must come well after the stall timeout */
  const char *extra[] = {"--exit-when-idle", "3000", "--stall-timeout", "2", "--ping-interval",
                         "1", NULL};
  char *log = run_live_ok(uri, rs.port, "stall", extra);
  ck_assert_int_eq(rc_stat(&rs, "ws_stalls"), 1);
  ck_assert_ptr_nonnull(strstr(log, "stall: no message"));
  ck_assert_ptr_nonnull(strstr(log, "resubscribed conn=2"));
  assert_tables_clean(c);
  free(log);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

START_TEST(e2e_duplicates_and_reordering) {
  rc_child_t rs;
  const char *rx[] = {"--speed", "40", "--ws-slot-heartbeat-ms", "100", "--ws-duplicate-every", "3",
                      "--ws-reorder-window", "5", NULL};
  PGconn *c;
  char *uri = start_e2e(&rs, rx, true, &c);
  const char *extra[] = {"--exit-when-idle", "1500", NULL};
  char *log = run_live_ok(uri, rs.port, "dup", extra);
  ck_assert_int_gt(rc_stat(&rs, "ws_duplicates"), 100);
  ck_assert_int_gt(rc_stat(&rs, "ws_reordered"), 50);
  long alt = 0;
  assert_tables(c, &alt);
  ck_assert_msg(alt < accounts_expected() / 2, "%ld accounts from reads", alt);
  assert_dead_letters(c, 0);
  free(log);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

START_TEST(e2e_garbage_to_dead_letters) {
  rc_child_t rs;
  const char *rx[] = {"--speed", "40", "--ws-slot-heartbeat-ms", "100", "--ws-garbage-every", "20",
                      "--ws-oversize-bytes", "300000", NULL};
  PGconn *c;
  char *uri = start_e2e(&rs, rx, true, &c);
  const char *extra[] = {"--exit-when-idle", "1500", "--max-message-bytes", "65536", NULL};
  char *log = run_live_ok(uri, rs.port, "garbage", extra);
  long long sent = rc_stat(&rs, "ws_garbage");
  ck_assert_int_ge(sent, 8);
  assert_tables(c, NULL);
  /* every garbage message is accounted for (identical ones bump attempts),
   * next to the stream's own hostile slots */
  char want[32];
  snprintf(want, sizeof want, "%lld", sent);
  tu_assert_query(c, "SELECT coalesce(sum(attempts), 0) FROM dead_letters WHERE kind <> "
                  "'slot-range'", want);
  snprintf(want, sizeof want, "%zu", ex_count_hostile(g_exp, NULL));
  tu_assert_query(c, "SELECT count(*) FROM dead_letters WHERE kind = 'slot-range'", want);
  tu_assert_query(c, "SELECT count(*) FROM dead_letters WHERE kind NOT IN ('ws-message', "
                  "'ws-oversized', 'slot-range')", "0");
  tu_assert_query(c, "SELECT count(*) > 0 FROM dead_letters WHERE kind = 'ws-oversized' AND "
                  "reason LIKE 'oversized message%'", "t");
  tu_assert_query(c, "SELECT count(*) FROM dead_letters WHERE raw IS NULL OR length(raw) = 0", "0");
  tu_assert_query(c, "SELECT count(*) > 0 FROM dead_letters WHERE reason LIKE 'malformed JSON%'",
                  "t");
  tu_assert_query(c, "SELECT count(*) > 0 FROM dead_letters WHERE reason = 'binary frame'", "t");
  tu_assert_query(c, "SELECT count(*) > 0 FROM dead_letters WHERE reason LIKE 'oversized message%'",
                  "t");
  tu_assert_query(c,
                  "SELECT count(*) > 0 FROM dead_letters WHERE reason LIKE '%without a context slot%'",
                  "t");
  /* the oversized row keeps the message's first bytes only */
  tu_assert_query(c,
                  "SELECT max(length(raw)) <= 1024 FROM dead_letters WHERE reason LIKE 'oversized%'",
                  "t");
  ck_assert_ptr_null(strstr(log, "resubscribed")); /* the connection stayed */
  free(log);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

static int pg_restart(void) {
  const char *ctl = getenv("CBI_PG_CTL"), *data = getenv("CBI_PG_DATA");
  if (!ctl || !data) return -1;
  char logf[600];
  snprintf(logf, sizeof logf, "%s/../restart.log", data);
  pid_t pid = fork();
  if (pid == 0) {
    FILE *f = freopen("/dev/null", "w", stdout);
    (void)f;
    if (geteuid() == 0)
      execlp("runuser", "runuser", "-u", "postgres", "--", ctl, "-D", data, "-m", "immediate",
             "-w", "-l", logf, "restart", (char *)NULL);
    else
      execl(ctl, ctl, "-D", data, "-m", "immediate", "-w", "-l", logf, "restart", (char *)NULL);
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(e2e_postgres_restart) {
  if (!getenv("CBI_PG_CTL") || !getenv("CBI_PG_DATA")) {
    fprintf(stderr, "e2e_postgres_restart: CBI_PG_CTL/CBI_PG_DATA not set (run via tests/run.sh)\n");
    return;
  }
  rc_child_t rs;
  const char *rx[] = {"--speed", "15", "--ws-slot-heartbeat-ms", "100", NULL};
  PGconn *c;
  char *uri = start_e2e(&rs, rx, true, &c);
  PQfinish(c);
  char *lp = log_path("pgrestart");
  const char *extra[] = {"--exit-when-idle", "2000", NULL};
  pid_t pid = spawn_live(uri, rs.port, lp, extra);
  usleep(1000 * 1000); /* about a third of the stream (~3.2 s) */
  ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
  ck_assert_int_eq(pg_restart(), 0);
  char *log = wait_live_ok(pid, lp);
  c = PQconnectdb(uri);
  ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
  assert_tables_clean(c);
  free(log);
  free(lp);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

/* First run on an empty database, SIGTERM mid-stream (exit 0 within 5 s
 * with a checkpoint), then a restart that completes the tables. */
START_TEST(e2e_sigterm_then_restart) {
  ex_stream_lossy = true; /* notifications are lost on purpose */
  rc_child_t rs;
  const char *rx[] = {"--speed", "15", "--ws-slot-heartbeat-ms", "100", NULL};
  PGconn *c;
  char *uri = start_e2e(&rs, rx, false, &c);
  char *lp = log_path("sigterm1");
  pid_t pid = spawn_live(uri, rs.port, lp, NULL);
  usleep(1300 * 1000); /* mid-stream (~3.2 s) */
  ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
  long t0 = tu_now_ms();
  kill(pid, SIGTERM);
  int code = tu_wait_exit(pid, 10000, lp);
  long took = tu_now_ms() - t0;
  char *log = tu_read_file(lp, NULL);
  ck_assert_msg(code == 0, "exit %d after SIGTERM; log:\n%s", code, log);
  ck_assert_msg(took < 5000, "SIGTERM took %ld ms", took);
  ck_assert_ptr_nonnull(strstr(log, "reason=signal"));
  ck_assert_ptr_nonnull(strstr(log, "snapshot done"));
  uint64_t cp = checkpoint_of(c, "live");
  ck_assert_uint_ge(cp, ex_meta_u64(g_exp, "start_slot"));
  ck_assert_int_gt(ex_count_rows(c, "transactions"), 0);
  free(log);
  free(lp);
  /* the restart picks up from the checkpoint: no second snapshot */
  const char *extra[] = {"--exit-when-idle", "1500", NULL};
  log = run_live_ok(uri, rs.port, "sigterm2", extra);
  ck_assert_ptr_nonnull(strstr(log, "resuming checkpoint="));
  ck_assert_ptr_null(strstr(log, "snapshot"));
  assert_tables_clean(c);
  ck_assert_uint_ge(checkpoint_of(c, "live"), cp);
  free(log);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

/* ---- hostile slots ------------------------------------------------------------------ */

/* line with its first `"slot":N` (after `after` when given) set to slot. */
static char *with_slot(const char *line, const char *after, const char *slot) {
  const char *from = after ? strstr(line, after) : line;
  ck_assert_ptr_nonnull(from);
  const char *p = strstr(from, "\"slot\":");
  ck_assert_ptr_nonnull(p);
  p += 7;
  const char *q = p;
  while (*q >= '0' && *q <= '9') q++;
  size_t n = strlen(line) + strlen(slot) + 1;
  char *out = malloc(n);
  ck_assert_ptr_nonnull(out);
  snprintf(out, n, "%.*s%s%s", (int)(p - line), line, slot, q);
  return out;
}

/* A scenario directory: fixtures/chain with, in the middle of its
 * websocket stream, messages whose slots are out of range: 2^64 - 1 and
 * 2^63 + 5 (not storable), and one a billion slots beyond the chain's tip
 * (storable, absurd), on each notification kind. */
static char *hostile_dir(void) {
  char *dir = malloc(300);
  ck_assert_ptr_nonnull(dir);
  snprintf(dir, 300, "%s/hostile", g_tmp);
  ck_assert_int_eq(mkdir(dir, 0700) == 0 || errno == EEXIST, 1);
  static const char *const copy[] = {"rpc.jsonl", "accounts.json", "expected.json"};
  for (int i = 0; i < 3; i++) {
    char path[300];
    snprintf(path, sizeof path, CHAIN "/%s", copy[i]);
    char *t = tu_read_file(path, NULL);
    rc_write_file(dir, copy[i], t);
    free(t);
  }
  char absurd[32];
  snprintf(absurd, sizeof absurd, "%" PRIu64,
           (uint64_t)(ex_meta_u64(g_exp, "tip_slot") + 1000000000u));
  /* a logsNotification and a slotNotification of the stream, hostile */
  char *ws2 = tu_read_file(CHAIN "/ws.jsonl", NULL);
  char *logs = strstr(ws2, "\"logsNotification\"");
  char *slotn = strstr(ws2, "\"slotNotification\"");
  ck_assert(logs && slotn);
  while (logs > ws2 && logs[-1] != '\n') logs--;
  while (slotn > ws2 && slotn[-1] != '\n') slotn--;
  *strchr(logs, '\n') = '\0';
  *strchr(slotn, '\n') = '\0';
  char *c = with_slot(logs, "\"context\"", "9223372036854775813");
  char *d = with_slot(slotn, "\"result\"", absurd);
  ck_assert(strncmp(c, "{\"at_ms\":", 9) == 0 && strncmp(d, "{\"at_ms\":", 9) == 0);
  char *ws = tu_read_file(CHAIN "/ws.jsonl", NULL);
  size_t cap = strlen(ws) + 100000, len = 0;
  char *out = malloc(cap);
  ck_assert_ptr_nonnull(out);
  int n = 0, done = 0;
  for (char *line = strtok(ws, "\n"); line; line = strtok(NULL, "\n"), n++) {
    len += (size_t)snprintf(out + len, cap - len, "%s\n", line);
    if (done || n < 300) continue;
    if (!strstr(line, "\"programNotification\"")) continue;
    /* after a programNotification in mid-stream: the hostile messages, at its time */
    char *a = with_slot(line, "\"context\"", "18446744073709551615");
    char *b = with_slot(line, "\"context\"", absurd);
    int at = (int)(strchr(line, ',') - line);
    len += (size_t)snprintf(out + len, cap - len, "%s\n%s\n%.*s%s\n%.*s%s\n", a, b, at, line,
                            strchr(c, ','), at, line, strchr(d, ','));
    free(a);
    free(b);
    done = 1;
  }
  ck_assert(done);
  free(c);
  free(d);
  free(ws2);
  rc_write_file(dir, "ws.jsonl", out);
  free(out);
  free(ws);
  return dir;
}

/* Slots out of range on the websocket are dead letters (slot-range) and
 * nothing else: the daemon carries on (no failed write, no exit), the tip
 * and the checkpoint never pass the tip the RPC node confirms, and the
 * tables end equal to expected.json. */
START_TEST(e2e_hostile_slots) {
  char *dir = hostile_dir();
  rc_child_t rs;
  PGconn *c;
  /* no heartbeat: this replay server would continue it from the highest
   * slotNotification, the absurd one */
  static const char *const rx[] = {"--speed", "40", NULL};
  char *uri = rc_start_with_db(&rs, dir, rx, "live", &c);
  seed_checkpoint(c);
  const char *extra[] = {"--exit-when-idle", "1500", NULL};
  char *log = run_live_ok(uri, rs.port, "hostile", extra);
  assert_tables(c, NULL);
  tu_assert_query(c, "SELECT count(*) FROM dead_letters WHERE kind <> 'slot-range'", "0");
  char nwant[32];
  snprintf(nwant, sizeof nwant, "%zu", 4 + ex_count_hostile(g_exp, NULL));
  tu_assert_query(c, "SELECT count(*) FROM dead_letters", nwant);
  tu_assert_query(c, "SELECT count(*) FROM dead_letters WHERE raw IS NULL OR length(raw) = 0", "0");
  snprintf(nwant, sizeof nwant, "%zu", 2 + ex_count_hostile(g_exp, "out_of_range"));
  tu_assert_query(c, "SELECT count(*) FROM dead_letters WHERE reason LIKE '%above the highest "
                  "storable slot%'", nwant);
  snprintf(nwant, sizeof nwant, "%zu", 2 + ex_count_hostile(g_exp, "beyond_tip"));
  tu_assert_query(c, "SELECT count(*) FROM dead_letters WHERE reason LIKE '%beyond the tip the "
                  "RPC node confirms%'", nwant);
  uint64_t cp = checkpoint_of(c, "live");
  ck_assert_uint_le(cp, ex_meta_u64(g_exp, "tip_slot"));
  ck_assert_uint_ge(cp, ex_meta_u64(g_exp, "tip_slot") - LIVE_CHECKPOINT_MARGIN);
  ck_assert_ptr_nonnull(strstr(log, "reason=idle"));
  free(log);
  rc_end_with_db(&rs, c, uri);
  free(dir);
}
END_TEST

/* ---- closed accounts -------------------------------------------------------------------- */

/* fixtures/chain with the first claim_winnings transaction (getTransaction,
 * json encoding) showing its Position emptied: postBalances 0 (what a
 * claim that closes the Position returns). The closed pubkey and the
 * transaction's slot go to *closed / *slot. */
static char *closing_claim_dir(char *closed, size_t closedsz, uint64_t *slot) {
  char *dir = malloc(300);
  ck_assert_ptr_nonnull(dir);
  snprintf(dir, 300, "%s/closing", g_tmp);
  ck_assert_int_eq(mkdir(dir, 0700) == 0 || errno == EEXIST, 1);
  static const char *const copy[] = {"ws.jsonl", "accounts.json", "expected.json"};
  for (int i = 0; i < 3; i++) {
    char path[300];
    snprintf(path, sizeof path, CHAIN "/%s", copy[i]);
    char *t = tu_read_file(path, NULL);
    rc_write_file(dir, copy[i], t);
    free(t);
  }
  const char *sig = json_string_value(json_array_get(
      json_object_get(json_object_get(ex_meta(g_exp), "special_signatures"), "claim_winnings"),
      0));
  ck_assert_ptr_nonnull(sig);
  char *rpc = tu_read_file(CHAIN "/rpc.jsonl", NULL);
  size_t cap = strlen(rpc) + 4096, len = 0;
  char *out = malloc(cap);
  ck_assert_ptr_nonnull(out);
  int edited = 0;
  for (char *line = strtok(rpc, "\n"); line; line = strtok(NULL, "\n")) {
    if (!strstr(line, "\"getTransaction\"") || !strstr(line, sig) ||
        !strstr(line, "\"encoding\":\"json\"")) {
      len += (size_t)snprintf(out + len, cap - len, "%s\n", line);
      continue;
    }
    json_error_t je;
    json_t *rec = json_loads(line, 0, &je);
    ck_assert_msg(rec != NULL, "%s", je.text);
    json_t *res = json_object_get(json_object_get(rec, "response"), "result");
    json_t *keys = json_object_get(
        json_object_get(json_object_get(res, "transaction"), "message"), "accountKeys");
    json_t *post = json_object_get(json_object_get(res, "meta"), "postBalances");
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
      size_t j;
      const json_t *row;
      int pos = 0;
      json_array_foreach(json_object_get(g_exp, "positions_cache"), j, row)
        if (strcmp(jsonx_get_str(row, "position_pubkey"), json_string_value(k)) == 0) pos = 1;
      if (!pos) continue;
      snprintf(closed, closedsz, "%s", json_string_value(k));
      json_array_set_new(post, i, json_integer(0));
      break;
    }
    ck_assert_int_eq(jsonx_get_u64(res, "slot", slot), 0);
    char *text = json_dumps(rec, JSON_COMPACT);
    len += (size_t)snprintf(out + len, cap - len, "%s\n", text);
    free(text);
    json_decref(rec);
    edited++;
  }
  ck_assert_int_eq(edited, 1);
  ck_assert(closed[0]);
  rc_write_file(dir, "rpc.jsonl", out);
  free(out);
  free(rpc);
  return dir;
}

/* programSubscribe says nothing when an account is closed; the closing
 * transaction does (postBalances 0). Live marks the Position closed at
 * that transaction's slot, in the commit of its rows, long before any
 * reconciliation (off here). */
START_TEST(e2e_closed_by_transaction) {
  char closed[64] = "";
  uint64_t slot = 0;
  char *dir = closing_claim_dir(closed, sizeof closed, &slot);
  rc_child_t rs;
  PGconn *c;
  char *uri = rc_start_with_db(&rs, dir, REPLAY_FAST, "live", &c);
  seed_checkpoint(c);
  const char *extra[] = {"--exit-when-idle", "1500", "--reconcile-interval", "0", NULL};
  char *log = run_live_ok(uri, rs.port, "closing", extra);
  char want[32], sql[300];
  snprintf(want, sizeof want, "%" PRIu64, slot);
  snprintf(sql, sizeof sql, "SELECT coalesce(closed_slot::text, 'open') FROM positions_cache "
           "WHERE position_pubkey = '%s'", closed);
  tu_assert_query(c, sql, want);
  snprintf(sql, sizeof sql, "SELECT (closed_at IS NOT NULL)::text FROM positions_cache WHERE "
           "position_pubkey = '%s'", closed);
  tu_assert_query(c, sql, "true");
  char nclosed[32];
  snprintf(nclosed, sizeof nclosed, "%zu", 1 + ex_count_closed(g_exp, "positions_cache"));
  tu_assert_query(c, "SELECT count(*) FROM positions_cache WHERE closed_slot IS NOT NULL", nclosed);
  assert_dead_letters(c, 0);
  ck_assert_ptr_null(strstr(log, "reconcile closed"));
  free(log);
  rc_end_with_db(&rs, c, uri);
  free(dir);
}
END_TEST

/* A transaction the node never returns (getTransaction answers an error):
 * one dead letter of kind transaction-missing, as backfill records it
 * (test_backfill.c, unanswerable_transaction_dead_letter); the rest lands. */
START_TEST(e2e_missing_transaction_dead_letter) {
  char *dir = malloc(300);
  ck_assert_ptr_nonnull(dir);
  snprintf(dir, 300, "%s/missing", g_tmp);
  ck_assert_int_eq(mkdir(dir, 0700) == 0 || errno == EEXIST, 1);
  static const char *const copy[] = {"ws.jsonl", "accounts.json", "expected.json"};
  for (int i = 0; i < 3; i++) {
    char path[300];
    snprintf(path, sizeof path, CHAIN "/%s", copy[i]);
    char *t = tu_read_file(path, NULL);
    rc_write_file(dir, copy[i], t);
    free(t);
  }
  const char *victim = json_string_value(json_array_get(
      json_object_get(json_object_get(ex_meta(g_exp), "special_signatures"), "failed_place_bet"),
      0));
  ck_assert_ptr_nonnull(victim);
  char *rpc = tu_read_file(CHAIN "/rpc.jsonl", NULL);
  size_t cap = strlen(rpc) + 16, len = 0;
  char *out = malloc(cap);
  int dropped = 0;
  for (char *line = strtok(rpc, "\n"); line; line = strtok(NULL, "\n")) {
    if (strstr(line, "\"getTransaction\"") && strstr(line, victim)) {
      dropped++;
      continue;
    }
    len += (size_t)snprintf(out + len, cap - len, "%s\n", line);
  }
  ck_assert_int_gt(dropped, 0);
  rc_write_file(dir, "rpc.jsonl", out);
  free(out);
  free(rpc);
  rc_child_t rs;
  PGconn *c;
  char *uri = rc_start_with_db(&rs, dir, REPLAY_FAST, "live", &c);
  seed_checkpoint(c);
  const char *extra[] = {"--exit-when-idle", "1500", NULL};
  char *log = run_live_ok(uri, rs.port, "missing", extra);
  assert_dead_letters(c, 1);
  char sql[300];
  snprintf(sql, sizeof sql, "SELECT kind FROM dead_letters WHERE key = '%s' AND reason LIKE "
           "'%%-32099%%'", victim);
  tu_assert_query(c, sql, "transaction-missing");
  long rows = 0;
  size_t i;
  const json_t *row;
  json_array_foreach(json_object_get(g_exp, "transactions"), i, row)
    if (strcmp(jsonx_get_str(row, "signature"), victim) != 0) rows++;
  char want[32];
  snprintf(want, sizeof want, "%ld", rows);
  tu_assert_query(c, "SELECT count(*) FROM transactions", want);
  free(log);
  rc_end_with_db(&rs, c, uri);
  free(dir);
}
END_TEST

/* ---- a flapping websocket ------------------------------------------------------------ */

/* The chain's timeline: the slot of each notification of ws.jsonl by its
 * at_ms (file order, non-decreasing). */
typedef struct timeline {
  long *at;
  uint64_t *slot;
  size_t n;
} timeline_t;

static void timeline_load(timeline_t *tl) {
  char *ws = tu_read_file(CHAIN "/ws.jsonl", NULL);
  size_t cap = 4096;
  tl->at = malloc(cap * sizeof *tl->at);
  tl->slot = malloc(cap * sizeof *tl->slot);
  tl->n = 0;
  for (char *line = strtok(ws, "\n"); line; line = strtok(NULL, "\n")) {
    json_t *d = jsonx_loads(line, strlen(line), NULL, 0);
    ck_assert_ptr_nonnull(d);
    json_t *r = json_object_get(json_object_get(d, "params"), "result");
    uint64_t slot = 0;
    if (jsonx_get_u64(r, "slot", &slot) != 0)
      ck_assert_int_eq(jsonx_get_u64(json_object_get(r, "context"), "slot", &slot), 0);
    ck_assert(tl->n < cap);
    tl->at[tl->n] = (long)json_integer_value(json_object_get(d, "at_ms"));
    tl->slot[tl->n++] = slot;
    json_decref(d);
  }
  free(ws);
}

/* The highest slot the chain had reached at ms since the stream began. */
static uint64_t timeline_slot(const timeline_t *tl, long ms) {
  uint64_t s = 0;
  for (size_t i = 0; i < tl->n && tl->at[i] <= ms; i++)
    if (tl->slot[i] > s) s = tl->slot[i];
  return s;
}

/* transactions rows of expected.json at slots <= slot */
static long expected_rows_upto(uint64_t slot) {
  long n = 0;
  size_t i;
  const json_t *row;
  json_array_foreach(json_object_get(g_exp, "transactions"), i, row) {
    uint64_t s = 0;
    ck_assert_int_eq(jsonx_get_u64(row, "slot", &s), 0);
    if (s <= slot) n++;
  }
  return n;
}

/* The node drops the socket every 40 notifications (about 2 s at real
 * speed) for the whole stream (48 s), so the reconnect backoff climbs to
 * its 30 s cap while the RPC node answers fine. Sampled every half second,
 * the tables never lag the chain by more than FLAP_LAG_MS: every
 * transaction of a slot the chain reached FLAP_LAG_MS earlier is there.
 * They end equal to expected.json. */
#define FLAP_LAG_MS 6000
START_TEST(e2e_flapping_socket_keeps_tables_fresh) {
  ex_stream_lossy = true; /* notifications are lost on purpose */
  timeline_t tl;
  timeline_load(&tl);
  rc_child_t rs;
  const char *rx[] = {"--speed", "1", "--ws-drop-after", "40", "--ws-slot-heartbeat-ms", "400",
                      NULL};
  PGconn *c;
  char *uri = start_e2e(&rs, rx, true, &c);
  char *lp = log_path("flapping");
  long t0 = tu_now_ms();
  pid_t pid = spawn_live(uri, rs.port, lp, NULL);
  long stream_ms = tl.at[tl.n - 1], worst = 0, samples = 0;
  uint64_t worst_slot = 0;
  while (tu_now_ms() - t0 < stream_ms + 3000) {
    usleep(500 * 1000);
    ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "live exited during the stream");
    long t = tu_now_ms() - t0 - FLAP_LAG_MS;
    if (t < 0) continue;
    uint64_t slot = timeline_slot(&tl, t);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM transactions WHERE slot <= %" PRIu64, slot);
    char *v = tu_query1(c, sql);
    long have = strtol(v, NULL, 10), want = expected_rows_upto(slot);
    free(v);
    samples++;
    if (want - have > worst) {
      worst = want - have;
      worst_slot = slot;
    }
  }
  long long drops = rc_stat(&rs, "ws_drops");
  kill(pid, SIGTERM);
  int code = tu_wait_exit(pid, 10000, lp);
  char *log = tu_read_file(lp, NULL);
  ck_assert_msg(code == 0, "exit %d", code);
  ck_assert_int_ge(drops, 5);
  ck_assert_int_gt(samples, 60);
  ck_assert_msg(worst == 0, "the tables lagged the chain by more than %d ms: %ld rows of slots "
                "<= %" PRIu64 " missing", FLAP_LAG_MS, worst, worst_slot);
  ck_assert_ptr_nonnull(strstr(log, "filling from the checkpoint over RPC"));
  assert_tables_clean(c);
  free(log);
  free(lp);
  free(tl.at);
  free(tl.slot);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

START_TEST(cli_usage) {
  static const char *const cases[][6] = {{"live", "--ping-interval", "31", NULL},
                                         {"live", "--ping-interval", "0", NULL},
                                         {"live", "--queue-bytes", "5000", NULL},
                                         {"live", "--max-message-bytes", "x", NULL},
                                         {"live", "--stall-timeout", "5", "--ping-interval", "10",
                                          NULL},
                                         {"live", "--bogus", NULL},
                                         {"live", "extra-arg", NULL},
                                         {"live", "--commitment", "soon", NULL}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pid_t pid = tu_spawn("crypto-bet-indexer", cases[i], NULL, NULL, "/dev/null");
    int code = tu_wait_exit(pid, 0, NULL);
    ck_assert_msg(code == 2, "case %zu: exit %d", i, code);
  }
  static const char *const helps[][3] = {{"live", "--help", NULL}, {"reconcile", "--help", NULL}};
  for (int i = 0; i < 2; i++) {
    pid_t pid = tu_spawn("crypto-bet-indexer", helps[i], NULL, "/dev/null", NULL);
    int code = tu_wait_exit(pid, 0, NULL);
    ck_assert_msg(code == 0, "%s --help: %d", helps[i][0], code);
  }
}
END_TEST

int main(void) {
  snprintf(g_tmp, sizeof g_tmp, "/tmp/cbi-live-test-XXXXXX");
  if (!mkdtemp(g_tmp)) return 2;
  Suite *s = suite_create("live");
  TCase *unit = tcase_create("unit");
  tcase_add_test(unit, utf8_vectors);
  tcase_add_test(unit, parse_good_notifications);
  tcase_add_test(unit, parse_garbage);
  tcase_add_test(unit, checkpoint_rule);
  tcase_add_test(unit, fast_path_matches_full_parser);
  tcase_add_test(unit, fast_path_declines_odd_shapes);
  tcase_add_test(unit, fast_path_requires_valid_json);
  tcase_add_test(unit, url_parsing);
  suite_add_tcase(s, unit);
  TCase *ws = tcase_create("ws_client");
  tcase_set_timeout(ws, 60);
  tcase_add_test(ws, ws_backpressure_keeps_everything);
  tcase_add_test(ws, ws_oversized_is_reported);
  tcase_add_test(ws, wss_verifies_certificates);
  suite_add_tcase(s, ws);
  TCase *e2e = tcase_create("e2e");
  tcase_set_timeout(e2e, 120);
  if (tu_have_pg()) {
    tcase_add_test(e2e, e2e_clean_stream);
    tcase_add_test(e2e, e2e_socket_drop);
    tcase_add_test(e2e, e2e_stall);
    tcase_add_test(e2e, e2e_duplicates_and_reordering);
    tcase_add_test(e2e, e2e_garbage_to_dead_letters);
    tcase_add_test(e2e, e2e_postgres_restart);
    tcase_add_test(e2e, e2e_sigterm_then_restart);
    tcase_add_test(e2e, e2e_hostile_slots);
    tcase_add_test(e2e, e2e_closed_by_transaction);
    tcase_add_test(e2e, e2e_missing_transaction_dead_letter);
    tcase_add_test(e2e, e2e_flapping_socket_keeps_tables_fresh);
  }
  tcase_add_test(e2e, cli_usage);
  suite_add_tcase(s, e2e);
  int rc = tu_run_suite(s);
  json_decref(g_exp_doc);
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
  if (rc == 0 && system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", g_tmp);
  return rc;
}
