/* The committed generated scenarios (fixtures/chain, chain-small,
 * chain-days) hold the cases the end-to-end suites rely on, read here with
 * the daemon's own exact JSON reader (jsonx) independently of the
 * generator: claims that close their Position (balances to 0, static and
 * lookup-table keys, no later notification, absent from account reads);
 * failed transactions whose rows take nothing from a logged event;
 * accounts with non-zero bytes after their layout; websocket messages with
 * out-of-range and absurd slots; consistent preBalances/postBalances; the
 * several-days scenario. And `tools/gen-fixtures.py --verify` passes on
 * each. No database needed. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "expect.h"
#include "jsonx.h"
#include "testutil.h"

static const char *const SETS[] = {"chain", "chain-small", "chain-days"};
#define NSETS ((int)(sizeof SETS / sizeof SETS[0]))

typedef struct scen {
  char dir[128];
  json_t *expected, *accounts;
} scen_t;

static void scen_open(scen_t *s, int i) {
  snprintf(s->dir, sizeof s->dir, "fixtures/%s", SETS[i]);
  s->expected = ex_load_file(s->dir, "expected.json");
  s->accounts = ex_load_file(s->dir, "accounts.json");
}

static void scen_close(scen_t *s) {
  json_decref(s->expected);
  json_decref(s->accounts);
}

static const json_t *meta_of(const scen_t *s) { return json_object_get(s->expected, "meta"); }

static uint64_t u64_of(const json_t *v, const char *what) {
  uint64_t x = 0;
  ck_assert_msg(jsonx_u64(v, &x) == 0, "%s is not a u64", what);
  return x;
}

static uint64_t get_u64(const json_t *obj, const char *key) {
  uint64_t x = 0;
  ck_assert_msg(jsonx_get_u64(obj, key, &x) == 0, "%s is not a u64", key);
  return x;
}

/* Calls fn(doc, ud) for every line of DIR/NAME containing all of the given
 * substrings (NULL-terminated list; parsing only those lines). Returns the
 * number of lines passed to fn. */
typedef void (*line_fn)(const json_t *doc, size_t lineno, void *ud);

static size_t each_line(const char *dir, const char *name, const char *const *needles, line_fn fn,
                        void *ud) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  char *line = NULL;
  size_t cap = 0, n = 0, lineno = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) > 0) {
    lineno++;
    bool all = true;
    for (int k = 0; needles && needles[k] && all; k++) all = strstr(line, needles[k]) != NULL;
    if (!all) continue;
    char err[200];
    json_t *doc = jsonx_loads(line, (size_t)len, err, sizeof err);
    ck_assert_msg(doc != NULL, "%s:%zu: %s", path, lineno, err);
    fn(doc, lineno, ud);
    json_decref(doc);
    n++;
  }
  free(line);
  fclose(f);
  return n;
}

/* ---- getTransaction (json encoding) of one signature ---------------------- */

typedef struct find_tx {
  const char *sig;
  json_t *result;
} find_tx_t;

static void find_tx_cb(const json_t *doc, size_t lineno, void *ud) {
  (void)lineno;
  find_tx_t *f = ud;
  const json_t *req = json_object_get(doc, "request");
  const json_t *params = json_object_get(req, "params");
  if (strcmp(jsonx_get_str(req, "method"), "getTransaction") != 0) return;
  if (strcmp(json_string_value(json_array_get(params, 0)), f->sig) != 0) return;
  const char *enc = jsonx_get_str(json_array_get(params, 1), "encoding");
  if (!enc || strcmp(enc, "json") != 0) return;
  json_decref(f->result);
  f->result = json_incref(json_object_get(json_object_get(doc, "response"), "result"));
}

/* The recorded json-encoding getTransaction result of sig (caller decrefs). */
static json_t *get_tx(const scen_t *s, const char *sig) {
  find_tx_t f = {sig, NULL};
  const char *needles[] = {"\"getTransaction\"", sig, NULL};
  each_line(s->dir, "rpc.jsonl", needles, find_tx_cb, &f);
  ck_assert_msg(f.result != NULL && json_is_object(f.result), "%s: getTransaction %s not recorded",
                s->dir, sig);
  return f.result;
}

/* Account keys of a transaction result: static, loaded writable, loaded
 * readonly. Returns the count; *nstatic gets the static ones. */
static size_t tx_keys(const json_t *res, const char **keys, size_t max, size_t *nstatic) {
  const json_t *msg = json_object_get(json_object_get(res, "transaction"), "message");
  const json_t *la = json_object_get(json_object_get(res, "meta"), "loadedAddresses");
  const json_t *parts[3] = {json_object_get(msg, "accountKeys"), json_object_get(la, "writable"),
                            json_object_get(la, "readonly")};
  size_t n = 0;
  for (int p = 0; p < 3; p++) {
    size_t i;
    const json_t *k;
    ck_assert(json_is_array(parts[p]));
    json_array_foreach(parts[p], i, k) {
      ck_assert_uint_lt(n, max);
      keys[n++] = json_string_value(k);
    }
    if (p == 0) *nstatic = n;
  }
  return n;
}

/* The expected row of table whose column col is val (NULL if none). */
static const json_t *row_where(const scen_t *s, const char *table, const char *col,
                               const char *val) {
  size_t i;
  const json_t *r;
  json_array_foreach(json_object_get(s->expected, table), i, r) {
    const char *v = jsonx_get_str(r, col);
    if (v && strcmp(v, val) == 0) return r;
  }
  return NULL;
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(verify_passes) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "python3 tools/gen-fixtures.py --verify fixtures/%s >/dev/null 2>&1",
           SETS[_i]);
  ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}
END_TEST

typedef struct ws_scan {
  const char *pubkey;
  uint64_t closed_slot;
  size_t before, after;
} ws_scan_t;

static void ws_close_cb(const json_t *doc, size_t lineno, void *ud) {
  (void)lineno;
  ws_scan_t *w = ud;
  if (strcmp(jsonx_get_str(doc, "method"), "programNotification") != 0) return;
  const json_t *res = json_object_get(json_object_get(doc, "params"), "result");
  const char *pk = jsonx_get_str(json_object_get(res, "value"), "pubkey");
  if (!pk || strcmp(pk, w->pubkey) != 0) return;
  uint64_t slot = get_u64(json_object_get(res, "context"), "slot");
  if (slot >= w->closed_slot) w->after++;
  else w->before++;
}

/* Every closed account: the closing transaction succeeded at closed_slot /
 * closed_at_unix, holds the account (loaded or static as listed) with a
 * balance going from its rent to 0, and the signer received that rent plus
 * the claim's amount minus the fee; no account read or later notification
 * shows it; its expected row is marked closed at that slot. */
START_TEST(closes_in_balances) {
  scen_t s;
  scen_open(&s, _i);
  const json_t *closed = json_object_get(meta_of(&s), "closed_accounts");
  ck_assert_msg(json_array_size(closed) >= 1, "%s: no closed account", s.dir);
  size_t i, loaded = 0;
  const json_t *c;
  json_array_foreach(closed, i, c) {
    const char *pk = jsonx_get_str(c, "pubkey"), *sig = jsonx_get_str(c, "signature");
    uint64_t cslot = get_u64(c, "closed_slot"), ctime = get_u64(c, "closed_at_unix");
    json_t *tx = get_tx(&s, sig);
    const json_t *m = json_object_get(tx, "meta");
    ck_assert_msg(json_is_null(json_object_get(m, "err")), "%s: closing tx failed", sig);
    ck_assert_uint_eq(get_u64(tx, "slot"), cslot);
    ck_assert_uint_eq(get_u64(tx, "blockTime"), ctime);
    const char *keys[256];
    size_t nstatic = 0, n = tx_keys(tx, keys, 256, &nstatic);
    const json_t *pre = json_object_get(m, "preBalances"), *post = json_object_get(m, "postBalances");
    ck_assert_uint_eq(json_array_size(pre), n);
    ck_assert_uint_eq(json_array_size(post), n);
    size_t idx = n;
    for (size_t k = 0; k < n; k++)
      if (strcmp(keys[k], pk) == 0) idx = k;
    ck_assert_msg(idx < n, "%s: closing tx does not hold %s", sig, pk);
    ck_assert_int_eq(idx >= nstatic, json_is_true(json_object_get(c, "loaded_address")));
    if (idx >= nstatic) loaded++;
    uint64_t rent = u64_of(json_array_get(pre, idx), "preBalance");
    ck_assert_uint_gt(rent, 0);
    ck_assert_uint_eq(u64_of(json_array_get(post, idx), "postBalance"), 0);
    /* the signer (fee payer, key 0) gets the rent and the claim */
    const json_t *row = row_where(&s, "transactions", "signature", sig);
    ck_assert_ptr_nonnull(row);
    uint64_t amount = 0, fee = get_u64(m, "fee");
    ck_assert_int_eq(jsonx_u64(json_object_get(row, "amount"), &amount), 0);
    uint64_t u0 = u64_of(json_array_get(pre, 0), "pre"), u1 = u64_of(json_array_get(post, 0), "post");
    ck_assert_uint_eq(u1 - u0, rent + amount - fee);
    /* gone from account reads, never notified at or after the close */
    ck_assert_msg(json_object_get(s.accounts, pk) == NULL, "accounts.json holds closed %s", pk);
    ws_scan_t w = {pk, cslot, 0, 0};
    const char *needles[] = {pk, NULL};
    each_line(s.dir, "ws.jsonl", needles, ws_close_cb, &w);
    ck_assert_uint_ge(w.before, 1);
    ck_assert_uint_eq(w.after, 0);
    /* its row: closed at the closing transaction */
    const json_t *pr = row_where(&s, "positions_cache", "position_pubkey", pk);
    ck_assert_ptr_nonnull(pr);
    ck_assert_uint_eq(get_u64(pr, "closed_slot"), cslot);
    ck_assert_uint_eq(get_u64(pr, "closed_at_unix"), ctime);
    ck_assert_uint_eq(get_u64(pr, "sync_slot"), cslot);
    json_decref(tx);
  }
  /* every other cache row is open and in accounts.json */
  size_t open_rows = 0;
  static const char *const caches[][2] = {{"platform_config", "config_pubkey"},
                                          {"markets_cache", "market_pubkey"},
                                          {"positions_cache", "position_pubkey"},
                                          {"treasuries_cache", "treasury_pubkey"},
                                          {"oracle_data_cache", "oracle_pubkey"}};
  for (int t = 0; t < 5; t++) {
    const json_t *r;
    json_array_foreach(json_object_get(s.expected, caches[t][0]), i, r) {
      if (!json_is_null(json_object_get(r, "closed_slot"))) continue;
      ck_assert(json_is_null(json_object_get(r, "closed_at_unix")));
      ck_assert_ptr_nonnull(json_object_get(s.accounts, jsonx_get_str(r, caches[t][1])));
      open_rows++;
    }
  }
  ck_assert_uint_eq(open_rows, json_object_size(s.accounts));
  size_t closed_rows = 0;
  for (int t = 0; t < 5; t++) closed_rows += ex_count_closed(s.expected, caches[t][0]);
  ck_assert_uint_eq(closed_rows, json_array_size(closed));
  if (strcmp(SETS[_i], "chain-days") != 0) ck_assert_uint_ge(loaded, 1);
  ck_assert_uint_ge(json_array_size(closed) - loaded, 1); /* and a static one */
  scen_close(&s);
}
END_TEST

/* Failed transactions take nothing from events; the special case logged
 * its event before its second instruction failed. */
START_TEST(failed_rows_take_no_event) {
  scen_t s;
  scen_open(&s, _i);
  size_t i, failed = 0;
  const json_t *r;
  json_array_foreach(json_object_get(s.expected, "transactions"), i, r) {
    if (strcmp(jsonx_get_str(r, "status"), "failed") != 0) continue;
    failed++;
    ck_assert(json_is_null(json_object_get(r, "price")));
    ck_assert_str_eq(jsonx_get_str(r, "platform_fee"), "0");
  }
  ck_assert_uint_ge(failed, 3);
  const json_t *sp = json_object_get(meta_of(&s), "special_signatures");
  const char *sig = json_string_value(json_array_get(json_object_get(sp, "failed_after_event"), 0));
  ck_assert_ptr_nonnull(sig);
  json_t *tx = get_tx(&s, sig);
  const json_t *m = json_object_get(tx, "meta");
  const json_t *ie = json_object_get(json_object_get(m, "err"), "InstructionError");
  ck_assert_int_eq(json_integer_value(json_array_get(ie, 0)), 1);
  bool logged = false;
  const json_t *l;
  json_array_foreach(json_object_get(m, "logMessages"), i, l)
      logged = logged || strncmp(json_string_value(l), "Program data: ", 14) == 0;
  ck_assert_msg(logged, "%s: no Program data: line", sig);
  size_t rows = 0;
  json_array_foreach(json_object_get(s.expected, "transactions"), i, r) {
    if (strcmp(jsonx_get_str(r, "signature"), sig) != 0) continue;
    rows++;
    ck_assert_str_eq(jsonx_get_str(r, "transaction_type"), "place_bet");
    ck_assert_str_eq(jsonx_get_str(r, "status"), "failed");
  }
  ck_assert_uint_eq(rows, 2);
  json_decref(tx);
  scen_close(&s);
}
END_TEST

/* The listed accounts carry non-zero bytes after their layout, are served
 * in full, and have an expected row. */
START_TEST(trailing_bytes) {
  scen_t s;
  scen_open(&s, _i);
  const json_t *tb = json_object_get(meta_of(&s), "trailing_bytes_accounts");
  ck_assert_uint_ge(json_object_size(tb), 1);
  const char *pk;
  const json_t *t;
  json_object_foreach((json_t *)tb, pk, t) {
    const json_t *a = json_object_get(s.accounts, pk);
    ck_assert_ptr_nonnull(a);
    const char *b64 = jsonx_get_str(a, "data");
    uint8_t *data = NULL;
    size_t len = 0;
    ck_assert_int_eq(b64_decode(b64, strlen(b64), &data, &len), 0);
    uint64_t space = get_u64(t, "space"), layout = get_u64(t, "layout_space");
    ck_assert_uint_eq(len, space);
    ck_assert_uint_eq(get_u64(a, "space"), space);
    ck_assert_uint_eq(space - layout, get_u64(t, "spare_bytes"));
    bool nonzero = false;
    for (size_t k = layout; k < len; k++) nonzero = nonzero || data[k] != 0;
    ck_assert_msg(nonzero, "%s: spare bytes are all zero", pk);
    free(data);
    ck_assert_ptr_nonnull(row_where(&s, "markets_cache", "market_pubkey", pk));
  }
  scen_close(&s);
}
END_TEST

typedef struct ws_slots {
  uint64_t tip, max_slot;
} ws_slots_t;

static uint64_t note_slot(const json_t *doc) {
  const json_t *res = json_object_get(json_object_get(doc, "params"), "result");
  uint64_t slot = 0;
  if (jsonx_get_u64(res, "slot", &slot) == 0) return slot;
  ck_assert_int_eq(jsonx_get_u64(json_object_get(res, "context"), "slot", &slot), 0);
  return slot;
}

static void ws_max_cb(const json_t *doc, size_t lineno, void *ud) {
  (void)lineno;
  ws_slots_t *w = ud;
  uint64_t s = note_slot(doc);
  if (s > w->max_slot) w->max_slot = s;
}

typedef struct ws_line {
  size_t want;
  json_t *doc;
} ws_line_t;

static void ws_line_cb(const json_t *doc, size_t lineno, void *ud) {
  ws_line_t *w = ud;
  if (lineno == w->want) w->doc = json_incref((json_t *)doc);
}

/* chain: the listed hostile messages are where meta says, with exact u64
 * slots of both classes; the other scenarios' streams stay within the
 * tip (the transport tests read them in order). */
START_TEST(hostile_ws) {
  scen_t s;
  scen_open(&s, _i);
  const json_t *h = json_object_get(meta_of(&s), "hostile_ws");
  uint64_t tip = get_u64(meta_of(&s), "tip_slot");
  if (strcmp(SETS[_i], "chain") != 0) {
    ck_assert_uint_eq(json_array_size(h), 0);
    ws_slots_t w = {tip, 0};
    each_line(s.dir, "ws.jsonl", NULL, ws_max_cb, &w);
    ck_assert_uint_le(w.max_slot, tip);
    scen_close(&s);
    return;
  }
  size_t i, out_of_range = 0, beyond = 0;
  const json_t *e;
  bool max_seen = false, two63_seen = false;
  json_array_foreach(h, i, e) {
    ws_line_t w = {(size_t)get_u64(e, "line"), NULL};
    each_line(s.dir, "ws.jsonl", NULL, ws_line_cb, &w);
    ck_assert_ptr_nonnull(w.doc);
    ck_assert_str_eq(jsonx_get_str(w.doc, "method"), jsonx_get_str(e, "method"));
    uint64_t slot = note_slot(w.doc);
    ck_assert_uint_eq(slot, get_u64(e, "slot"));
    const char *cls = jsonx_get_str(e, "class");
    if (slot > (uint64_t)INT64_MAX) {
      ck_assert_str_eq(cls, "out_of_range");
      out_of_range++;
    } else {
      ck_assert_str_eq(cls, "beyond_tip");
      ck_assert_uint_gt(slot, tip + 1000000);
      beyond++;
    }
    max_seen = max_seen || slot == UINT64_MAX;
    two63_seen = two63_seen || slot == (uint64_t)INT64_MAX + 1;
    json_decref(w.doc);
  }
  ck_assert_uint_eq(ex_count_hostile(s.expected, "out_of_range"), out_of_range);
  ck_assert_uint_eq(ex_count_hostile(s.expected, "beyond_tip"), beyond);
  ck_assert_uint_eq(ex_count_hostile(s.expected, NULL), json_array_size(h));
  ck_assert_uint_ge(out_of_range, 2);
  ck_assert_uint_ge(beyond, 1);
  ck_assert(max_seen && two63_seen);
  scen_close(&s);
}
END_TEST

typedef struct bal {
  size_t txs;
} bal_t;

static void balances_cb(const json_t *doc, size_t lineno, void *ud) {
  bal_t *b = ud;
  const json_t *req = json_object_get(doc, "request");
  if (strcmp(jsonx_get_str(req, "method"), "getTransaction") != 0) return;
  const json_t *res = json_object_get(json_object_get(doc, "response"), "result");
  const char *enc = jsonx_get_str(json_array_get(json_object_get(req, "params"), 1), "encoding");
  if (strcmp(enc, "json") != 0) return;
  const char *keys[256];
  size_t nstatic = 0, n = tx_keys(res, keys, 256, &nstatic);
  const json_t *m = json_object_get(res, "meta");
  const json_t *pre = json_object_get(m, "preBalances"), *post = json_object_get(m, "postBalances");
  ck_assert_msg(json_array_size(pre) == n && json_array_size(post) == n,
                "rpc.jsonl:%zu: %zu keys, %zu pre, %zu post", lineno, n, json_array_size(pre),
                json_array_size(post));
  unsigned __int128 a = 0, z = 0;
  for (size_t k = 0; k < n; k++) {
    a += u64_of(json_array_get(pre, k), "pre");
    z += u64_of(json_array_get(post, k), "post");
  }
  ck_assert_msg(a - z == get_u64(m, "fee"), "rpc.jsonl:%zu: balances do not change by the fee",
                lineno);
  b->txs++;
}

/* Every recorded transaction: one balance per account key, and its accounts'
 * lamports change by exactly its fee. */
START_TEST(balances_consistent) {
  scen_t s;
  scen_open(&s, _i);
  bal_t b = {0};
  const char *needles[] = {"\"getTransaction\"", NULL};
  each_line(s.dir, "rpc.jsonl", needles, balances_cb, &b);
  ck_assert_uint_eq(b.txs, get_u64(meta_of(&s), "signature_count"));
  scen_close(&s);
}
END_TEST

/* chain-days: bets on several UTC days crossing two midnights, a day
 * without bets between them, a market resolved with bets before and after
 * it that day, failed bets, and the tip on a later day than the last
 * transaction. */
START_TEST(several_days) {
  scen_t s;
  scen_open(&s, 2);
  ck_assert_str_eq(SETS[2], "chain-days");
  bool day[16] = {false};
  size_t i, failed = 0;
  const json_t *r;
  uint64_t first = 0, resolve_t = 0, last_t = 0;
  const json_t *rows = json_object_get(s.expected, "transactions");
  first = get_u64(json_array_get(rows, 0), "block_time_unix") / 86400;
  json_array_foreach(rows, i, r) {
    uint64_t t = get_u64(r, "block_time_unix");
    last_t = t;
    const char *type = jsonx_get_str(r, "transaction_type");
    bool ok = strcmp(jsonx_get_str(r, "status"), "confirmed") == 0;
    if (strcmp(type, "place_bet") == 0 && !ok) failed++;
    if (strcmp(type, "place_bet") == 0 && ok) {
      ck_assert_uint_lt(t / 86400 - first, 16);
      day[t / 86400 - first] = true;
    }
    if (strcmp(type, "resolve_market") == 0 && ok) resolve_t = t;
  }
  int ndays = 0, last = 0, gap = 0;
  for (int d = 0; d < 16; d++)
    if (day[d]) ndays++, last = d;
  for (int d = 0; d < last; d++)
    if (!day[d]) gap++;
  ck_assert_int_ge(ndays, 3);
  ck_assert_int_ge(last, 2);
  ck_assert_int_ge(gap, 1);
  ck_assert_uint_ge(failed, 2);
  ck_assert_uint_gt(resolve_t, 0);
  bool before = false, after = false;
  json_array_foreach(rows, i, r) {
    uint64_t t = get_u64(r, "block_time_unix");
    if (strcmp(jsonx_get_str(r, "transaction_type"), "place_bet") != 0 ||
        strcmp(jsonx_get_str(r, "status"), "confirmed") != 0 || t / 86400 != resolve_t / 86400)
      continue;
    before = before || t < resolve_t;
    after = after || t > resolve_t;
  }
  ck_assert(before && after);
  ck_assert_uint_gt(get_u64(meta_of(&s), "tip_time_unix") / 86400, last_t / 86400);
  scen_close(&s);
}
END_TEST

int main(void) {
  Suite *s = suite_create("fixtures");
  TCase *tc = tcase_create("generated");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, verify_passes, 0, NSETS);
  tcase_add_loop_test(tc, closes_in_balances, 0, NSETS);
  tcase_add_loop_test(tc, failed_rows_take_no_event, 0, NSETS);
  tcase_add_loop_test(tc, trailing_bytes, 0, NSETS);
  tcase_add_loop_test(tc, hostile_ws, 0, NSETS);
  tcase_add_loop_test(tc, balances_consistent, 0, NSETS);
  tcase_add_test(tc, several_days);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
