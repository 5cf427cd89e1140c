/* ingest: account and transaction JSON through the decoder to the sink,
 * against a real PostgreSQL. Vectors come from a generated chain scenario
 * (tools/gen-fixtures.py encodes through the IDL in Python, independently
 * of the C decoder): fixtures/chain-small, or the same scenario generated
 * into a temporary directory when the repository has none. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "b64.h"
#include "expect.h"
#include "idl.h"
#include "ingest.h"
#include "jsonx.h"
#include "sink.h"
#include "testutil.h"

static char g_dir[512];     /* scenario directory */
static char g_tmpdir[256];  /* scratch; the scenario goes here without fixtures/chain-small */

/* ---- scenario ----------------------------------------------------------- */

/* The recorded getTransaction (encoding json) result for sig; new ref. */
static json_t *recorded_tx(const char *sig) {
  char path[700];
  snprintf(path, sizeof path, "%s/rpc.jsonl", g_dir);
  size_t len = 0;
  char *text = tu_read_file(path, &len);
  json_t *found = NULL;
  char *line = text;
  while (line && *line && !found) {
    char *nl = strchr(line, '\n');
    size_t n = nl ? (size_t)(nl - line) : strlen(line);
    if (n > 0 && memmem(line, n, "\"getTransaction\"", 16) && memmem(line, n, sig, strlen(sig))) {
      char err[200];
      json_t *rec = jsonx_loads(line, n, err, sizeof err);
      ck_assert_msg(rec != NULL, "rpc.jsonl: %s", err);
      json_t *params = json_object_get(json_object_get(rec, "request"), "params");
      const char *enc = jsonx_get_str(json_array_get(params, 1), "encoding");
      if (enc && strcmp(enc, "json") == 0 &&
          strcmp(json_string_value(json_array_get(params, 0)), sig) == 0)
        found = json_incref(json_object_get(json_object_get(rec, "response"), "result"));
      json_decref(rec);
    }
    line = nl ? nl + 1 : NULL;
  }
  free(text);
  ck_assert_msg(found != NULL, "no recorded getTransaction json for %s", sig);
  return found;
}

static const char *special_sig(const json_t *expected, const char *name) {
  const json_t *sp = json_object_get(json_object_get(expected, "meta"), "special_signatures");
  const char *s = json_string_value(json_array_get(json_object_get(sp, name), 0));
  ck_assert_msg(s != NULL, "expected.json has no special signature %s", name);
  return s;
}

/* First account of accounts.json whose expected table row lives in table. */
static const char *account_of_table(const json_t *expected, const char *table, const char *keycol) {
  const json_t *rows = json_object_get(expected, table);
  const char *pk = jsonx_get_str(json_array_get(rows, 0), keycol);
  ck_assert_msg(pk != NULL, "expected.json has no %s row", table);
  return pk;
}

/* {"data": [b64, "base64"], "lamports", "owner", ...} from accounts.json. */
static json_t *rpc_account(const json_t *accounts, const char *pubkey) {
  const json_t *a = json_object_get(accounts, pubkey);
  ck_assert_msg(a != NULL, "accounts.json has no %s", pubkey);
  return json_pack("{s:[s,s], s:O, s:s, s:b, s:O, s:O}", "data", jsonx_get_str(a, "data"),
                   "base64", "lamports", json_object_get(a, "lamports"), "owner",
                   jsonx_get_str(a, "owner"), "executable", 0, "rentEpoch",
                   json_object_get(a, "rentEpoch"), "space", json_object_get(a, "space"));
}

/* ---- database ----------------------------------------------------------- */

typedef struct fx {
  char *uri;
  PGconn *conn;
  sink_t *sink;
  idl_t *idl;
  cb_decoder_t *dec;
  ingest_t *ing;
  json_t *expected, *accounts;
  const char *program_id;
} fx_t;

static void fx_open(fx_t *f) {
  memset(f, 0, sizeof *f);
  f->uri = tu_fresh_migrated_db("ingest", &f->conn);
  char err[512];
  sink_options_t so;
  sink_options_init(&so);
  so.conninfo = f->uri;
  ck_assert_msg(sink_open(&so, &f->sink, err, sizeof err) == 0, "sink_open: %s", err);
  ck_assert_msg(cb_decoder_default_idl(&f->idl, err, sizeof err) == 0, "idl: %s", err);
  f->expected = ex_load_file(g_dir, "expected.json");
  f->accounts = ex_load_file(g_dir, "accounts.json");
  f->program_id = jsonx_get_str(json_object_get(f->expected, "meta"), "program_id");
  ck_assert_ptr_nonnull(f->program_id);
  ck_assert_int_eq(cb_decoder_new(f->idl, &f->dec, NULL), 0);
  f->ing = ingest_new(f->dec, f->program_id, f->sink);
  ck_assert_ptr_nonnull(f->ing);
}

static void fx_flush(fx_t *f) {
  int rc = sink_flush(f->sink);
  ck_assert_msg(rc == 0, "flush: %s: %s", sink_strerror(rc), sink_last_error(f->sink));
}

static void fx_close(fx_t *f) {
  ingest_free(f->ing);
  sink_close(f->sink);
  cb_decoder_free(f->dec);
  idl_free(f->idl);
  json_decref(f->expected);
  json_decref(f->accounts);
  PQfinish(f->conn);
  free(f->uri);
}

/* One value of a parameterised query ("<NULL>" for NULL, "<none>" for no row). */
static char *q1p(PGconn *c, const char *sql, const char *p1) {
  const char *params[1] = {p1};
  PGresult *r = PQexecParams(c, sql, p1 ? 1 : 0, NULL, p1 ? params : NULL, NULL, NULL, 0);
  ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
  char *v = strdup(PQntuples(r) == 0 ? "<none>" : PQgetisnull(r, 0, 0) ? "<NULL>"
                                                                        : PQgetvalue(r, 0, 0));
  PQclear(r);
  return v;
}

#define assert_q1p(conn, sql, p1, want)                                                        \
  do {                                                                                         \
    char *got_ = q1p((conn), (sql), (p1));                                                     \
    ck_assert_msg(strcmp(got_, (want)) == 0, "%s [%s]: got '%s', want '%s'", (sql), (p1), got_, \
                  (want));                                                                     \
    free(got_);                                                                                \
  } while (0)

static const json_t *expected_row(const json_t *expected, const char *table, const char *keycol,
                                  const char *key) {
  size_t i;
  const json_t *row;
  json_array_foreach(json_object_get(expected, table), i, row) {
    const char *k = jsonx_get_str(row, keycol);
    if (k && strcmp(k, key) == 0) return row;
  }
  ck_abort_msg("expected.json %s has no row %s", table, key);
  return NULL;
}

/* ---- accounts ------------------------------------------------------------ */

START_TEST(account_market_written_then_closed) {
  fx_t f;
  fx_open(&f);
  const char *pk = account_of_table(f.expected, "markets_cache", "market_pubkey");
  const json_t *want = expected_row(f.expected, "markets_cache", "market_pubkey", pk);
  json_t *acc = rpc_account(f.accounts, pk);
  ck_assert_int_eq(ingest_account_json(f.ing, pk, acc, 1000), 0);
  fx_flush(&f);
  assert_q1p(f.conn, "SELECT title FROM markets_cache WHERE market_pubkey = $1", pk,
             jsonx_get_str(want, "title"));
  assert_q1p(f.conn, "SELECT market_id::text FROM markets_cache WHERE market_pubkey = $1", pk,
             jsonx_get_str(want, "market_id"));
  char pools[128];
  snprintf(pools, sizeof pools, "%s/%s", jsonx_get_str(want, "yes_pool"),
           jsonx_get_str(want, "no_pool"));
  assert_q1p(f.conn, "SELECT yes_pool::text || '/' || no_pool::text FROM markets_cache "
                     "WHERE market_pubkey = $1", pk, pools);
  assert_q1p(f.conn, "SELECT state::text FROM markets_cache WHERE market_pubkey = $1", pk,
             jsonx_get_str(want, "state"));
  assert_q1p(f.conn, "SELECT sync_slot::text FROM markets_cache WHERE market_pubkey = $1", pk,
             "1000");
  assert_q1p(f.conn, "SELECT closed_slot::text FROM markets_cache WHERE market_pubkey = $1", pk,
             "<NULL>");

  /* A JSON null account: closed at that slot, data kept. */
  ck_assert_int_eq(ingest_account_json(f.ing, pk, json_null(), 1001), 0);
  fx_flush(&f);
  assert_q1p(f.conn, "SELECT closed_slot::text FROM markets_cache WHERE market_pubkey = $1", pk,
             "1001");
  assert_q1p(f.conn, "SELECT title FROM markets_cache WHERE market_pubkey = $1", pk,
             jsonx_get_str(want, "title"));
  ingest_stats_t st;
  ingest_get_stats(f.ing, &st);
  ck_assert_uint_eq(st.accounts, 1);
  ck_assert_uint_eq(st.accounts_closed, 1);
  ck_assert_uint_eq(st.dead_letters, 0);
  json_decref(acc);
  fx_close(&f);
}
END_TEST

START_TEST(account_zero_lamports_is_a_close) {
  fx_t f;
  fx_open(&f);
  const char *pk = account_of_table(f.expected, "positions_cache", "position_pubkey");
  json_t *acc = rpc_account(f.accounts, pk);
  ck_assert_int_eq(ingest_account_json(f.ing, pk, acc, 500), 0);
  json_object_set_new(acc, "lamports", json_integer(0));
  json_object_set_new(acc, "data", json_pack("[s,s]", "", "base64"));
  ck_assert_int_eq(ingest_account_json(f.ing, pk, acc, 600), 0);
  /* NULL pointer too */
  ck_assert_int_eq(ingest_account_json(f.ing, pk, NULL, 700), 0);
  fx_flush(&f);
  assert_q1p(f.conn, "SELECT closed_slot::text FROM positions_cache WHERE position_pubkey = $1",
             pk, "700");
  ingest_stats_t st;
  ingest_get_stats(f.ing, &st);
  ck_assert_uint_eq(st.accounts_closed, 2);
  json_decref(acc);
  fx_close(&f);
}
END_TEST

START_TEST(account_foreign_owner_skipped) {
  fx_t f;
  fx_open(&f);
  const char *pk = account_of_table(f.expected, "markets_cache", "market_pubkey");
  json_t *acc = rpc_account(f.accounts, pk);
  json_object_set_new(acc, "owner", json_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"));
  ck_assert_int_eq(ingest_account_json(f.ing, pk, acc, 10), 0);
  fx_flush(&f);
  tu_assert_query(f.conn, "SELECT count(*) FROM markets_cache", "0");
  tu_assert_query(f.conn, "SELECT count(*) FROM dead_letters", "0");
  ingest_stats_t st;
  ingest_get_stats(f.ing, &st);
  ck_assert_uint_eq(st.accounts_foreign, 1);
  ck_assert_uint_eq(st.accounts, 0);
  json_decref(acc);
  fx_close(&f);
}
END_TEST

/* Counts the lines of text holding needle. */
static int count_lines_with(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
  return n;
}

/* A Market with non-zero bytes after its layout (an upgrade appended a
 * field): written like any other, counted, and logged once per type. */
START_TEST(account_spare_bytes_written_and_logged_once) {
  fx_t f;
  fx_open(&f);
  const char *pk = account_of_table(f.expected, "markets_cache", "market_pubkey");
  const json_t *want = expected_row(f.expected, "markets_cache", "market_pubkey", pk);
  const char *b64 = jsonx_get_str(json_object_get(f.accounts, pk), "data");
  uint8_t *bytes = NULL;
  size_t len = 0;
  ck_assert_int_eq(b64_decode(b64, strlen(b64), &bytes, &len), 0);
  uint8_t *grown = malloc(len + 40);
  memcpy(grown, bytes, len);
  memset(grown + len, 0x77, 40);
  char logpath[128];
  snprintf(logpath, sizeof logpath, "/tmp/cbi-ingest-spare-%d.log", (int)getpid());
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  FILE *lf = fopen(logpath, "w");
  ck_assert_ptr_nonnull(lf);
  dup2(fileno(lf), STDERR_FILENO);
  for (uint64_t slot = 100; slot < 103; slot++)
    ck_assert_int_eq(ingest_account_bytes(f.ing, pk, f.program_id, 5000000, grown, len + 40, slot),
                     0);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  fclose(lf);
  fx_flush(&f);
  assert_q1p(f.conn, "SELECT title FROM markets_cache WHERE market_pubkey = $1", pk,
             jsonx_get_str(want, "title"));
  assert_q1p(f.conn, "SELECT sync_slot::text FROM markets_cache WHERE market_pubkey = $1", pk,
             "102");
  tu_assert_query(f.conn, "SELECT count(*) FROM dead_letters", "0");
  ingest_stats_t st;
  ingest_get_stats(f.ing, &st);
  ck_assert_uint_eq(st.accounts, 3);
  ck_assert_uint_eq(st.dead_letters, 0);
  ck_assert_uint_eq(cb_decoder_trailing_count(f.dec, CB_ACCOUNT_MARKET), 3);
  size_t n;
  char *log = tu_read_file(logpath, &n);
  ck_assert_msg(count_lines_with(log, "after its layout") == 1, "%s", log);
  ck_assert_msg(strstr(log, "type=Market") != NULL, "%s", log);
  free(log);
  unlink(logpath);
  free(grown);
  free(bytes);
  fx_close(&f);
}
END_TEST

START_TEST(account_undecodable_goes_to_dead_letters) {
  fx_t f;
  fx_open(&f);
  const char *pk = account_of_table(f.expected, "markets_cache", "market_pubkey");
  const char *b64 = jsonx_get_str(json_object_get(f.accounts, pk), "data");
  uint8_t *bytes = NULL;
  size_t len = 0;
  ck_assert_int_eq(b64_decode(b64, strlen(b64), &bytes, &len), 0);
  ck_assert_uint_gt(len, 60);
  /* Truncated Market: the discriminator matches, the fields run out. */
  char *cut = b64_encode(bytes, 60);
  json_t *acc = rpc_account(f.accounts, pk);
  json_object_set_new(acc, "data", json_pack("[s,s]", cut, "base64"));
  ck_assert_int_eq(ingest_account_json(f.ing, pk, acc, 77), 0);
  /* Unknown discriminator on another key. */
  uint8_t junk[16];
  memset(junk, 0xAB, sizeof junk);
  ck_assert_int_eq(ingest_account_bytes(f.ing, "11111111111111111111111111111112", f.program_id,
                                        1000, junk, sizeof junk, 78), 0);
  /* Not base64 at all. */
  json_object_set_new(acc, "data", json_pack("[s,s]", "@@not base64@@", "base64"));
  ck_assert_int_eq(ingest_account_json(f.ing, pk, acc, 79), 0);
  fx_flush(&f);
  tu_assert_query(f.conn, "SELECT count(*) FROM markets_cache", "0");
  tu_assert_query(f.conn, "SELECT count(*) FROM dead_letters WHERE kind = 'account'", "3");
  /* the truncated one keeps its raw bytes and names type and offset */
  char hex[200];
  for (int i = 0; i < 60; i++) snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  assert_q1p(f.conn, "SELECT encode(raw, 'hex') FROM dead_letters WHERE slot = 77 AND key = $1",
             pk, hex);
  char *reason = q1p(f.conn, "SELECT reason FROM dead_letters WHERE slot = 77 AND key = $1", pk);
  ck_assert_msg(strstr(reason, "Market") && strstr(reason, "at byte"), "reason: %s", reason);
  free(reason);
  reason = q1p(f.conn, "SELECT reason FROM dead_letters WHERE slot = 78 AND key = $1",
               "11111111111111111111111111111112");
  ck_assert_msg(strstr(reason, "abababab") != NULL, "reason: %s", reason);
  free(reason);
  reason = q1p(f.conn, "SELECT reason FROM dead_letters WHERE slot = 79 AND key = $1", pk);
  ck_assert_msg(strstr(reason, "base64") != NULL, "reason: %s", reason);
  free(reason);
  ingest_stats_t st;
  ingest_get_stats(f.ing, &st);
  ck_assert_uint_eq(st.dead_letters, 3);
  free(cut);
  free(bytes);
  json_decref(acc);
  fx_close(&f);
}
END_TEST

/* ---- transactions -------------------------------------------------------- */

START_TEST(transaction_rows_and_touched) {
  fx_t f;
  fx_open(&f);
  const char *sig = special_sig(f.expected, "multi_instruction");
  json_t *tx = recorded_tx(sig);
  ingest_touched_t touched = {0};
  int n = ingest_transaction_json(f.ing, tx, NULL, &touched);
  /* as many rows as expected.json lists for this signature */
  int want = 0;
  size_t i;
  const json_t *row;
  json_array_foreach(json_object_get(f.expected, "transactions"), i, row)
    if (strcmp(jsonx_get_str(row, "signature"), sig) == 0) want++;
  ck_assert_int_eq(n, want);
  ck_assert_int_ge(want, 2);
  ck_assert_uint_gt(touched.count, 0);
  /* every touched key is a program account of the scenario or at least a pubkey */
  for (size_t k = 0; k < touched.count; k++) ck_assert_uint_ge(strlen(touched.keys[k]), 32);
  fx_flush(&f);
  char nwant[16];
  snprintf(nwant, sizeof nwant, "%d", want);
  assert_q1p(f.conn, "SELECT count(*)::text FROM transactions WHERE signature = $1", sig, nwant);
  json_array_foreach(json_object_get(f.expected, "transactions"), i, row) {
    if (strcmp(jsonx_get_str(row, "signature"), sig) != 0) continue;
    char idx[16], q[256];
    snprintf(idx, sizeof idx, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(row, "instruction_index")));
    snprintf(q, sizeof q, "SELECT amount::text FROM transactions WHERE signature = $1 AND "
             "instruction_index = %s", idx);
    assert_q1p(f.conn, q, sig, jsonx_get_str(row, "amount"));
    snprintf(q, sizeof q, "SELECT transaction_type::text FROM transactions WHERE signature = $1 "
             "AND instruction_index = %s", idx);
    assert_q1p(f.conn, q, sig, jsonx_get_str(row, "transaction_type"));
  }
  ingest_stats_t st;
  ingest_get_stats(f.ing, &st);
  ck_assert_uint_eq(st.transactions, 1);
  ck_assert_uint_eq(st.rows, (uint64_t)want);
  ingest_touched_free(&touched);
  json_decref(tx);
  fx_close(&f);
}
END_TEST

/* A claim whose meta.postBalances shows its Position emptied (0 lamports
 * after, > 0 before): the Position is marked closed at the transaction's
 * slot in the same sink batch as the transaction's rows. */
START_TEST(transaction_closes_emptied_accounts) {
  fx_t f;
  fx_open(&f);
  const char *sig = special_sig(f.expected, "claim_winnings");
  json_t *tx = recorded_tx(sig);
  uint64_t slot = 0;
  ck_assert_int_eq(jsonx_get_u64(tx, "slot", &slot), 0);
  json_t *keys = json_object_get(json_object_get(json_object_get(tx, "transaction"), "message"),
                                 "accountKeys");
  json_t *pre = json_object_get(json_object_get(tx, "meta"), "preBalances");
  json_t *post = json_object_get(json_object_get(tx, "meta"), "postBalances");
  const char *closed = NULL;
  size_t i;
  json_t *k;
  json_array_foreach(keys, i, k) {
    const char *key = json_string_value(k);
    size_t j;
    const json_t *row;
    json_array_foreach(json_object_get(f.expected, "positions_cache"), j, row)
      if (strcmp(jsonx_get_str(row, "position_pubkey"), key) == 0) closed = key;
    if (closed) {
      ck_assert_int_gt(json_integer_value(json_array_get(pre, i)), 0);
      json_array_set_new(post, i, json_integer(0));
      break;
    }
  }
  ck_assert_msg(closed != NULL, "the claim passes no Position");
  /* the position as cached before the claim */
  json_t *acc = rpc_account(f.accounts, closed);
  ck_assert_int_eq(ingest_account_json(f.ing, closed, acc, slot - 1), INGEST_OK);
  fx_flush(&f);
  int n = ingest_transaction_json(f.ing, tx, NULL, NULL);
  ck_assert_int_ge(n, 1);
  /* nothing visible before the one flush, both after it */
  assert_q1p(f.conn, "SELECT count(*)::text FROM transactions WHERE signature = $1", sig, "0");
  assert_q1p(f.conn, "SELECT coalesce(closed_slot::text, 'open') FROM positions_cache WHERE "
             "position_pubkey = $1", closed, "open");
  fx_flush(&f);
  char want[32];
  snprintf(want, sizeof want, "%" PRIu64, slot);
  assert_q1p(f.conn, "SELECT coalesce(closed_slot::text, 'open') FROM positions_cache WHERE "
             "position_pubkey = $1", closed, want);
  assert_q1p(f.conn, "SELECT (closed_at IS NOT NULL)::text FROM positions_cache WHERE "
             "position_pubkey = $1", closed, "true");
  snprintf(want, sizeof want, "%d", n);
  assert_q1p(f.conn, "SELECT count(*)::text FROM transactions WHERE signature = $1", sig, want);
  ingest_stats_t st;
  ingest_get_stats(f.ing, &st);
  ck_assert_uint_eq(st.accounts_closed, 1);
  /* the unmodified transaction closes nothing */
  json_t *plain = recorded_tx(sig);
  ck_assert_int_ge(ingest_transaction_json(f.ing, plain, NULL, NULL), 1);
  ingest_get_stats(f.ing, &st);
  ck_assert_uint_eq(st.accounts_closed, 1);
  json_decref(plain);
  json_decref(acc);
  json_decref(tx);
  fx_close(&f);
}
END_TEST

/* The vocabulary, the error codes, and input that never becomes an error:
 * slots above 2^63 - 1 are slot-range dead letters, not sink failures. */
START_TEST(vocabulary_and_hostile_slots) {
  static const char *const names[INGEST_DL_COUNT] = {
      "account", "instruction", "event", "transaction-parse", "transaction-missing",
      "transaction-fetch", "ws-message", "ws-oversized", "slot-range", "record"};
  for (int k = 0; k < INGEST_DL_COUNT; k++)
    ck_assert_str_eq(ingest_dl_kind_name((ingest_dl_kind_t)k), names[k]);
  ck_assert_str_eq(ingest_dl_kind_name(INGEST_DL_COUNT), "?");
  ck_assert_str_ne(ingest_strerror(INGEST_ERR_SINK), ingest_strerror(INGEST_ERR_STOPPED));
  ck_assert(ingest_slot_ok(INGEST_SLOT_MAX));
  ck_assert(!ingest_slot_ok(INGEST_SLOT_MAX + 1));
  fx_t f;
  fx_open(&f);
  const char *pk = account_of_table(f.expected, "markets_cache", "market_pubkey");
  json_t *acc = rpc_account(f.accounts, pk);
  const uint64_t huge = 9223372036854775808ull; /* 2^63 */
  ck_assert_int_eq(ingest_account_json(f.ing, pk, acc, huge), INGEST_OK);
  ck_assert_int_eq(ingest_account_json(f.ing, pk, NULL, UINT64_MAX), INGEST_OK);
  ck_assert_int_eq(ingest_account_closed(f.ing, pk, huge), INGEST_OK);
  json_t *tx = recorded_tx(special_sig(f.expected, "multi_instruction"));
  json_object_set_new(tx, "slot", json_string("18446744073709551615"));
  ck_assert_int_eq(ingest_transaction_json(f.ing, tx, NULL, NULL), 0);
  ck_assert_int_eq(ingest_dead_letter(f.ing, INGEST_DL_WS_MESSAGE, NULL, UINT64_MAX, "test",
                                      (const uint8_t *)"x", 1), INGEST_OK);
  fx_flush(&f);
  tu_assert_query(f.conn, "SELECT count(*) FROM markets_cache", "0");
  tu_assert_query(f.conn, "SELECT count(*) FROM transactions", "0");
  tu_assert_query(f.conn, "SELECT count(*) FROM dead_letters WHERE kind = 'slot-range'", "4");
  tu_assert_query(f.conn, "SELECT max(slot)::text FROM dead_letters", "9223372036854775807");
  ingest_stats_t st;
  ingest_get_stats(f.ing, &st);
  ck_assert_uint_eq(st.dead_by_kind[INGEST_DL_SLOT_RANGE], 4);
  ck_assert_uint_eq(st.dead_by_kind[INGEST_DL_WS_MESSAGE], 1);
  json_decref(tx);
  json_decref(acc);
  fx_close(&f);
}
END_TEST

START_TEST(transaction_failed_status) {
  fx_t f;
  fx_open(&f);
  const char *sig = special_sig(f.expected, "failed_place_bet");
  json_t *tx = recorded_tx(sig);
  ck_assert_int_eq(ingest_transaction_json(f.ing, tx, NULL, NULL), 1);
  fx_flush(&f);
  assert_q1p(f.conn, "SELECT status::text || ' ' || error_message FROM transactions "
                     "WHERE signature = $1", sig,
             "failed {\"InstructionError\":[0,{\"Custom\":6001}]}");
  json_decref(tx);
  fx_close(&f);
}
END_TEST

START_TEST(transaction_unparseable_dead_letter) {
  fx_t f;
  fx_open(&f);
  json_t *junk = json_pack("{s:I, s:{s:[s]}}", "slot", (json_int_t)4242, "transaction",
                           "signatures", "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW");
  ck_assert_int_eq(ingest_transaction_json(f.ing, junk, NULL, NULL), 0);
  fx_flush(&f);
  tu_assert_query(f.conn, "SELECT kind || ' ' || slot FROM dead_letters", "transaction-parse 4242");
  tu_assert_query(f.conn, "SELECT key FROM dead_letters",
                  "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW");
  /* raw = the JSON text */
  char *raw = tu_query1(f.conn, "SELECT convert_from(raw, 'UTF8') FROM dead_letters");
  json_error_t je;
  json_t *back = json_loads(raw, 0, &je);
  ck_assert_msg(back != NULL && json_equal(back, junk), "raw: %s", raw);
  json_decref(back);
  free(raw);
  tu_assert_query(f.conn, "SELECT count(*) FROM transactions", "0");
  json_decref(junk);
  fx_close(&f);
}
END_TEST

/* Instruction data that no Crypto Bet instruction has (base58 text). */
static const char BAD_IX_DATA[] = "gPxmmPx6ye3rzGjPxS4yXv";

/* Replaces the data of the first top-level instruction of the program. */
static void corrupt_program_instruction(json_t *tx, const char *program_id) {
  json_t *msg = json_object_get(json_object_get(tx, "transaction"), "message");
  json_t *keys = json_object_get(msg, "accountKeys");
  size_t i, pidx = SIZE_MAX;
  json_t *k;
  json_array_foreach(keys, i, k) if (strcmp(json_string_value(k), program_id) == 0) pidx = i;
  ck_assert_msg(pidx != SIZE_MAX, "program not among the static keys");
  json_t *ix;
  json_array_foreach(json_object_get(msg, "instructions"), i, ix) {
    if ((size_t)json_integer_value(json_object_get(ix, "programIdIndex")) != pidx) continue;
    json_object_set_new(ix, "data", json_string(BAD_IX_DATA));
    return;
  }
  ck_abort_msg("no top-level instruction of the program");
}

/* Naive base58 decoding (reference for the expected raw bytes). */
static int b58_naive(const char *s, uint8_t *out, size_t outsz) {
  const char *alpha = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  uint8_t buf[64] = {0};
  for (const char *p = s; *p; p++) {
    const char *hit = strchr(alpha, *p);
    if (!hit) return -1;
    int carry = (int)(hit - alpha);
    for (int j = 63; j >= 0; j--) {
      carry += 58 * buf[j];
      buf[j] = (uint8_t)(carry & 0xff);
      carry >>= 8;
    }
  }
  int first = 0;
  while (first < 64 && buf[first] == 0) first++;
  size_t n = (size_t)(64 - first);
  if (n > outsz) return -1;
  memcpy(out, buf + first, n);
  return (int)n;
}

START_TEST(transaction_bad_instruction_dead_letter) {
  fx_t f;
  fx_open(&f);
  /* the plain create_market of the first market: a top-level instruction of ours */
  const char *sig = NULL;
  size_t i;
  const json_t *row;
  json_array_foreach(json_object_get(f.expected, "transactions"), i, row)
    if (!sig && strcmp(jsonx_get_str(row, "transaction_type"), "create_market") == 0 &&
        json_integer_value(json_object_get(row, "instruction_index")) == 0)
      sig = jsonx_get_str(row, "signature");
  ck_assert_ptr_nonnull(sig);
  json_t *tx = recorded_tx(sig);
  corrupt_program_instruction(tx, f.program_id);
  int n = ingest_transaction_json(f.ing, tx, NULL, NULL);
  ck_assert_int_eq(n, 0);
  fx_flush(&f);
  assert_q1p(f.conn, "SELECT kind FROM dead_letters WHERE key = $1", sig, "instruction");
  /* raw = the instruction bytes */
  uint8_t want[32];
  int wl = b58_naive(BAD_IX_DATA, want, sizeof want);
  ck_assert_int_gt(wl, 8);
  char hex[80];
  for (int j = 0; j < wl; j++) snprintf(hex + 2 * j, 3, "%02x", want[j]);
  assert_q1p(f.conn, "SELECT encode(raw, 'hex') FROM dead_letters WHERE key = $1", sig, hex);
  json_decref(tx);
  fx_close(&f);
}
END_TEST

/* ---- touched set --------------------------------------------------------- */

START_TEST(touched_dedupes_many_keys) {
  ingest_touched_t t = {0};
  char key[CB_PUBKEY_B58_MAX];
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < 5000; i++) {
      snprintf(key, sizeof key, "Key%08dxxxxxxxxxxxxxxxxxxxxxxxxxx", i);
      ck_assert_int_eq(ingest_touched_add(&t, key), 0);
    }
  ck_assert_uint_eq(t.count, 5000);
  ck_assert_str_eq(t.keys[0], "Key00000000xxxxxxxxxxxxxxxxxxxxxxxxxx");
  ck_assert_str_eq(t.keys[4999], "Key00004999xxxxxxxxxxxxxxxxxxxxxxxxxx");
  ck_assert_int_eq(ingest_touched_add(&t, ""), 0); /* ignored */
  ck_assert_uint_eq(t.count, 5000);
  ingest_touched_free(&t);
  ck_assert_uint_eq(t.count, 0);
}
END_TEST

/* ---- main ---------------------------------------------------------------- */

static int prepare_scenario(void) {
  snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/cbi-test-ingest.XXXXXX");
  if (!mkdtemp(g_tmpdir)) return -1;
  return ex_scenario("chain-small", g_tmpdir, "--markets 2 --wallets 3 --bets 5", g_dir,
                     sizeof g_dir);
}

int main(void) {
  if (prepare_scenario() != 0) {
    fprintf(stderr, "test_ingest: cannot prepare the chain-small scenario\n");
    return 1;
  }
  Suite *s = suite_create("ingest");
  TCase *tc = tcase_create("touched");
  tcase_add_test(tc, touched_dedupes_many_keys);
  suite_add_tcase(s, tc);
  if (tu_have_pg()) {
    tc = tcase_create("db");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, account_market_written_then_closed);
    tcase_add_test(tc, account_zero_lamports_is_a_close);
    tcase_add_test(tc, account_foreign_owner_skipped);
    tcase_add_test(tc, account_undecodable_goes_to_dead_letters);
    tcase_add_test(tc, account_spare_bytes_written_and_logged_once);
    tcase_add_test(tc, transaction_rows_and_touched);
    tcase_add_test(tc, transaction_failed_status);
    tcase_add_test(tc, transaction_closes_emptied_accounts);
    tcase_add_test(tc, vocabulary_and_hostile_slots);
    tcase_add_test(tc, transaction_unparseable_dead_letter);
    tcase_add_test(tc, transaction_bad_instruction_dead_letter);
    suite_add_tcase(s, tc);
  }
  int rc = tu_run_suite(s);
  if (g_tmpdir[0]) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmpdir);
    if (system(cmd) != 0) rc = 1;
  }
  return rc;
}
