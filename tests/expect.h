/* Comparing the database with a generated scenario's expected.json
 * (tools/gen-fixtures.py): every expected row is looked up by its key and
 * compared column by column as PostgreSQL ::text, and each table must hold
 * exactly the expected number of rows. Shared by the end-to-end suites
 * (backfill, live). Needs testutil.h and jsonx.h. */
#ifndef CBI_TEST_EXPECT_H
#define CBI_TEST_EXPECT_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "jsonx.h"
#include "testutil.h"

/* Loads the JSON file DIR/NAME (caller json_decref()s). */
static inline json_t *ex_load_file(const char *dir, const char *name) {
  char path[700];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t len = 0;
  char *text = tu_read_file(path, &len);
  char err[200];
  json_t *e = jsonx_loads(text, len, err, sizeof err);
  ck_assert_msg(e != NULL, "%s: %s", path, err);
  free(text);
  return e;
}

/* Loads DIR/expected.json (caller json_decref()s). */
static inline json_t *ex_load(const char *dir) { return ex_load_file(dir, "expected.json"); }

/* Finds the scenario fixtures/NAME, or generates it into TMPDIR/NAME with
 * tools/gen-fixtures.py GEN_ARGS when the repository has none. Writes its
 * directory into dir. Runs outside a test (no assertions): returns 0, or
 * -1 when the scenario could not be generated. */
static inline int ex_scenario(const char *name, const char *tmpdir, const char *gen_args,
                              char *dir, size_t dirsz) {
  char probe[600];
  snprintf(probe, sizeof probe, "fixtures/%s/expected.json", name);
  if (access(probe, F_OK) == 0) {
    snprintf(dir, dirsz, "fixtures/%s", name);
    return 0;
  }
  snprintf(dir, dirsz, "%s/%s", tmpdir, name);
  char cmd[1024];
  int n = snprintf(cmd, sizeof cmd, "python3 tools/gen-fixtures.py --out %s %s --no-verify >/dev/null",
                   dir, gen_args);
  if (n < 0 || (size_t)n >= sizeof cmd) return -1;
  return system(cmd) == 0 ? 0 : -1;
}

static inline const json_t *ex_meta(const json_t *exp) { return json_object_get(exp, "meta"); }

static inline uint64_t ex_meta_u64(const json_t *exp, const char *key) {
  uint64_t v = 0;
  ck_assert_msg(jsonx_get_u64(ex_meta(exp), key, &v) == 0, "expected.json meta.%s", key);
  return v;
}

static inline long ex_count_rows(PGconn *c, const char *table) {
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  char *v = tu_query1(c, sql);
  long n = strtol(v, NULL, 10);
  free(v);
  return n;
}

/* Rows of the expected cache table whose account was closed (a non-null
 * closed_slot): a sync that only reads accounts after the close has none of
 * them (for example a backfill's account count). */
static inline size_t ex_count_closed(const json_t *exp, const char *table) {
  size_t i, n = 0;
  const json_t *row;
  json_array_foreach(json_object_get(exp, table), i, row) {
    const json_t *cs = json_object_get(row, "closed_slot");
    if (cs && !json_is_null(cs)) n++;
  }
  return n;
}

/* Entries of meta.hostile_ws of class cls ("out_of_range": slot >= 2^63,
 * which no BIGINT column holds; "beyond_tip": a valid slot far beyond the
 * node's tip), or all of them with cls NULL. */
static inline size_t ex_count_hostile(const json_t *exp, const char *cls) {
  size_t i, n = 0;
  const json_t *h;
  json_array_foreach(json_object_get(ex_meta(exp), "hostile_ws"), i, h) {
    const char *c = json_string_value(json_object_get(h, "class"));
    if (!cls || (c && strcmp(c, cls) == 0)) n++;
  }
  return n;
}

/* Set by a test whose stream loses notifications on purpose (socket drops,
 * stalls, a restart): an account closed later cannot be re-read from the
 * chain (it no longer exists), so the state it showed in a lost
 * notification is gone for good (and an account created and closed while
 * the stream was down was never seen at all). For such closed rows only the
 * key and the close (closed_slot, closed_at) are compared (sync_slot is the
 * slot of whichever state was seen last), and the row may be absent. */
static bool ex_stream_lossy;

static inline bool ex_lossy_column_skipped(bool closed, const char *col, const char *key1) {
  if (!closed || !ex_stream_lossy) return false;
  return strcmp(col, key1) != 0 && strcmp(col, "closed_slot") != 0 &&
         strcmp(col, "closed_at_unix") != 0;
}

/* expected.json value as PostgreSQL ::text ("<NULL>" for null). */
static inline void ex_expected_text(const json_t *v, char *buf, size_t bufsz) {
  if (!v || json_is_null(v)) snprintf(buf, bufsz, "<NULL>");
  else if (json_is_true(v)) snprintf(buf, bufsz, "true");
  else if (json_is_false(v)) snprintf(buf, bufsz, "false");
  else if (json_is_integer(v)) snprintf(buf, bufsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  else if (json_is_string(v)) snprintf(buf, bufsz, "%s", json_string_value(v));
  else ck_abort_msg("unexpected JSON value type in expected.json");
}

/* Column expression giving the ::text expected.json holds. */
static inline void ex_column_expr(const char *table, const char *col, char *buf, size_t bufsz) {
  if (strcmp(table, "markets_cache") == 0 && strcmp(col, "resolved_at_unix") == 0)
    snprintf(buf, bufsz, "extract(epoch FROM resolved_at)::bigint::text");
  else if (strcmp(col, "closed_at_unix") == 0)
    snprintf(buf, bufsz, "extract(epoch FROM closed_at)::bigint::text");
  else if (strcmp(table, "oracle_data_cache") == 0 && strcmp(col, "signature") == 0)
    snprintf(buf, bufsz, "encode(signature, 'hex')");
  else
    snprintf(buf, bufsz, "%s::text", col);
}

/* Compares one table with expected.json field by field. key1/key2: 1 or 2
 * columns identifying a row. sync_slot: the value account rows must carry
 * (NULL: the row's own expected value); alt_sync_slot (may be NULL): a
 * second accepted value (an account read with getMultipleAccounts /
 * getProgramAccounts carries meta.account_read_slot instead of the slot of
 * its last change). Rows with a "slot" outside [lo, hi] are not expected.
 * skip: a column not to compare (may be NULL). subset: expected rows absent
 * from the database are allowed, and the table must hold exactly the rows
 * compared; otherwise every expected row must be there and the table must
 * hold exactly those. *alt_hits (may be NULL) receives the number of rows
 * whose sync_slot matched alt_sync_slot rather than the expected value.
 * Closed accounts (an expected row with a non-null closed_slot: the last
 * state the stream showed, closed at closed_slot) keep their own expected
 * sync_slot (the close) even when sync_slot is given; and when sync_slot is
 * given (rows written from account reads at the read slot, where a closed
 * account no longer exists) their row may be absent: such a sync never saw
 * their state. Returns the number of rows compared. */
static inline long ex_compare_rows(PGconn *c, const json_t *exp, const char *table,
                                   const char *key1, const char *key2, const char *sync_slot,
                                   const char *alt_sync_slot, uint64_t lo, uint64_t hi,
                                   const char *skip, bool subset, long *alt_hits_out) {
  const json_t *rows = json_object_get(exp, table);
  ck_assert_msg(json_is_array(rows), "expected.json has no %s", table);
  size_t i, want = 0;
  long alt_hits = 0, compared = 0, absent_closed = 0;
  const json_t *row;
  json_array_foreach(rows, i, row) {
    uint64_t slot;
    if (jsonx_get_u64(row, "slot", &slot) == 0 && (slot < lo || slot > hi)) continue;
    want++;
    const json_t *cs = json_object_get(row, "closed_slot");
    bool closed = cs != NULL && !json_is_null(cs);
    const char *col;
    const json_t *val;
    char sql[4096];
    size_t off = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    int ncols = 0;
    const char *names[64];
    json_object_foreach((json_t *)row, col, val) {
      if (skip && strcmp(col, skip) == 0) continue;
      if (ex_lossy_column_skipped(closed, col, key1)) continue;
      char e[160];
      ex_column_expr(table, col, e, sizeof e);
      off += (size_t)snprintf(sql + off, sizeof sql - off, "%s%s", ncols ? ", " : "", e);
      names[ncols++] = col;
      ck_assert_int_lt(ncols, 64);
    }
    off += (size_t)snprintf(sql + off, sizeof sql - off, " FROM %s WHERE %s = $1%s", table, key1,
                            key2 ? " AND " : "");
    if (key2) snprintf(sql + off, sizeof sql - off, "%s = $2::int", key2);
    char k1[128], k2[32];
    ex_expected_text(json_object_get(row, key1), k1, sizeof k1);
    if (key2) ex_expected_text(json_object_get(row, key2), k2, sizeof k2);
    const char *params[2] = {k1, k2};
    PGresult *r = PQexecParams(c, sql, key2 ? 2 : 1, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    if ((subset || (closed && (sync_slot || ex_stream_lossy))) && PQntuples(r) == 0) {
      if (!subset) absent_closed++;
      PQclear(r);
      continue;
    }
    ck_assert_msg(PQntuples(r) == 1, "%s: row %s %s missing", table, k1, key2 ? k2 : "");
    compared++;
    for (int j = 0; j < ncols; j++) {
      char w[1024];
      int is_sync = strcmp(names[j], "sync_slot") == 0;
      if (is_sync && sync_slot && !closed) snprintf(w, sizeof w, "%s", sync_slot);
      else ex_expected_text(json_object_get(row, names[j]), w, sizeof w);
      const char *got = PQgetisnull(r, 0, j) ? "<NULL>" : PQgetvalue(r, 0, j);
      if (is_sync && alt_sync_slot && strcmp(got, w) != 0 && strcmp(got, alt_sync_slot) == 0) {
        alt_hits++;
        continue;
      }
      ck_assert_msg(strcmp(got, w) == 0, "%s %s%s%s .%s: got '%s', want '%s'", table, k1,
                    key2 ? " #" : "", key2 ? k2 : "", names[j], got, w);
    }
    PQclear(r);
  }
  if (subset) ck_assert_int_eq(ex_count_rows(c, table), compared);
  else ck_assert_int_eq(ex_count_rows(c, table), (long)want - absent_closed);
  if (alt_hits_out) *alt_hits_out = alt_hits;
  return compared;
}

/* ex_compare_rows without subset. Returns the number of rows whose
 * sync_slot matched alt_sync_slot rather than the expected value. */
static inline long ex_assert_table(PGconn *c, const json_t *exp, const char *table,
                                   const char *key1, const char *key2, const char *sync_slot,
                                   const char *alt_sync_slot, uint64_t lo, uint64_t hi,
                                   const char *skip) {
  long alt_hits = 0;
  ex_compare_rows(c, exp, table, key1, key2, sync_slot, alt_sync_slot, lo, hi, skip, false,
                  &alt_hits);
  return alt_hits;
}

/* Everything expected.json lists: transactions (restricted to [lo, hi]),
 * and with accounts the five caches and users. sync_slot / alt_sync_slot
 * as in ex_assert_table. dead_letters is the caller's to check. Returns
 * the number of cache rows that matched alt_sync_slot. */
static inline long ex_assert_expected(PGconn *c, const json_t *exp, bool accounts, uint64_t lo,
                                      uint64_t hi, const char *sync_slot,
                                      const char *alt_sync_slot) {
  ex_assert_table(c, exp, "transactions", "signature", "instruction_index", NULL, NULL, lo, hi,
                  NULL);
  if (!accounts) {
    tu_assert_query(c, "SELECT count(*) FROM platform_config", "0");
    tu_assert_query(c, "SELECT count(*) FROM positions_cache", "0");
    return 0;
  }
  static const char *const caches[][2] = {{"platform_config", "config_pubkey"},
                                          {"markets_cache", "market_pubkey"},
                                          {"positions_cache", "position_pubkey"},
                                          {"treasuries_cache", "treasury_pubkey"},
                                          {"oracle_data_cache", "oracle_pubkey"}};
  long alt = 0;
  for (size_t k = 0; k < sizeof caches / sizeof caches[0]; k++)
    alt += ex_assert_table(c, exp, caches[k][0], caches[k][1], NULL, sync_slot, alt_sync_slot, 0,
                           UINT64_MAX, NULL);
  ex_assert_table(c, exp, "users", "wallet_address", NULL, NULL, NULL, 0, UINT64_MAX, NULL);
  return alt;
}

#endif
