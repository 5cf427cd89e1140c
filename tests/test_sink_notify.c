/* The sink's change feed: one NOTIFY on cbi_changes per committed batch,
 * sent inside the batch's transaction (none for a rolled-back batch), with
 * the batch's slot and markets, summarised when the list is too long. */
#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"
#include "sink.h"
#include "testutil.h"

static sink_t *open_sink(const char *uri) {
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = uri;
  o.batch_max_records = 100000;
  o.reconnect_max_backoff_ms = 200;
  sink_t *s = NULL;
  char err[512];
  ck_assert_msg(sink_open(&o, &s, err, sizeof err) == SINK_OK, "sink_open: %s", err);
  return s;
}

static void key(char *out, const char *tag, int n) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%s%d", tag, n);
  size_t t = strlen(tmp);
  for (size_t i = 0; i < 44; i++) out[i] = i < t ? tmp[i] : (char)('A' + (i % 20));
  out[44] = '\0';
}

static cb_account_t market(int n, uint64_t slot) {
  cb_account_t a;
  memset(&a, 0, sizeof a);
  a.kind = CB_ACCOUNT_MARKET;
  key(a.pubkey, "Mkt", n);
  a.slot = slot;
  cb_market_t *m = &a.u.market;
  key(m->authority.b58, "Auth", 1);
  m->title = (cb_str_t){"t", 1};
  m->description = (cb_str_t){"d", 1};
  m->category = (cb_str_t){"c", 1};
  m->metadata_uri = (cb_str_t){"u", 1};
  m->created_at = 1733011200;
  m->resolution_time = 4102444800;
  key(m->accepted_mint.b58, "Mint", 1);
  key(m->yes_vault.b58, "YesV", 1);
  key(m->no_vault.b58, "NoV", 1);
  key(m->resolver.b58, "Res", 1);
  return a;
}

static cb_account_t position(int n, int mkt, uint64_t slot) {
  cb_account_t a;
  memset(&a, 0, sizeof a);
  a.kind = CB_ACCOUNT_POSITION;
  key(a.pubkey, "Pos", n);
  a.slot = slot;
  key(a.u.position.user.b58, "User", n);
  key(a.u.position.market.b58, "Mkt", mkt);
  a.u.position.created_at = a.u.position.updated_at = 1733011200;
  return a;
}

static void q(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                "%s: %s", sql, PQerrorMessage(c));
  PQclear(r);
}

/* Every notification on c so far (waits briefly for stragglers). */
static int drain(PGconn *c, json_t **got, int cap) {
  int n = 0;
  for (int round = 0; round < 5; round++) {
    PQconsumeInput(c);
    PGnotify *nf;
    while ((nf = PQnotifies(c)) != NULL) {
      ck_assert_str_eq(nf->relname, "cbi_changes");
      ck_assert_uint_lt(strlen(nf->extra), SINK_NOTIFY_MAX_PAYLOAD);
      json_error_t je;
      json_t *j = json_loads(nf->extra, 0, &je);
      ck_assert_msg(j != NULL, "payload is not JSON: %s", nf->extra);
      if (n < cap) got[n++] = j;
      else json_decref(j);
      PQfreemem(nf);
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return n;
}

START_TEST(t_notify_per_commit) {
  PGconn *c = NULL;
  char *uri = tu_fresh_migrated_db("notify", &c);
  q(c, "LISTEN cbi_changes");
  sink_t *s = open_sink(uri);

  /* batch 1: two markets, a position on the first, at slots up to 120 */
  cb_account_t a = market(1, 100), b = market(2, 110), p = position(1, 1, 120);
  ck_assert_int_eq(sink_put_account(s, &a), SINK_OK);
  ck_assert_int_eq(sink_put_account(s, &b), SINK_OK);
  ck_assert_int_eq(sink_put_account(s, &p), SINK_OK);
  ck_assert_int_eq(sink_flush(s), SINK_OK);
  /* a checkpoint-only batch changes no data: no notification */
  ck_assert_int_eq(sink_set_checkpoint(s, "live", 130, NULL), SINK_OK);
  ck_assert_int_eq(sink_flush(s), SINK_OK);
  /* batch 2: one market at slot 200 */
  cb_account_t b2 = market(2, 200);
  ck_assert_int_eq(sink_put_account(s, &b2), SINK_OK);
  ck_assert_int_eq(sink_flush(s), SINK_OK);

  json_t *got[8];
  int n = drain(c, got, 8);
  ck_assert_int_eq(n, 2);
  ck_assert_int_eq(json_integer_value(json_object_get(got[0], "slot")), 120);
  json_t *mk = json_object_get(got[0], "markets");
  ck_assert_int_eq(json_array_size(mk), 2);
  char k1[45], k2[45];
  key(k1, "Mkt", 1);
  key(k2, "Mkt", 2);
  ck_assert_str_eq(json_string_value(json_array_get(mk, 0)), k1);
  ck_assert_str_eq(json_string_value(json_array_get(mk, 1)), k2);
  ck_assert_int_eq(json_integer_value(json_object_get(got[0], "markets_count")), 2);
  ck_assert_int_eq(json_integer_value(json_object_get(got[0], "positions")), 1);
  ck_assert_int_eq(json_integer_value(json_object_get(got[0], "transactions")), 0);
  ck_assert_int_eq(json_integer_value(json_object_get(got[1], "slot")), 200);
  ck_assert_int_eq(json_array_size(json_object_get(got[1], "markets")), 1);
  for (int i = 0; i < n; i++) json_decref(got[i]);

  /* a batch that rolls back (a checkpoint the database refuses, outside
   * any guarded record: the sink gives up) notifies nobody */
  q(c, "ALTER TABLE sync_checkpoints ADD CONSTRAINT small_slot CHECK (slot < 1000)");
  cb_account_t a3 = market(3, 300);
  ck_assert_int_eq(sink_put_account(s, &a3), SINK_OK);
  ck_assert_int_eq(sink_set_checkpoint(s, "live", 5000, NULL), SINK_OK);
  ck_assert_int_ne(sink_flush(s), SINK_OK);
  n = drain(c, got, 8);
  for (int i = 0; i < n; i++) json_decref(got[i]);
  ck_assert_int_eq(n, 0);
  tu_assert_query(c, "SELECT count(*) FROM markets_cache", "2");
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_notify_summarised) {
  PGconn *c = NULL;
  char *uri = tu_fresh_migrated_db("notify", &c);
  q(c, "LISTEN cbi_changes");
  sink_t *s = open_sink(uri);
  /* 400 markets x 47 bytes of list: far over 8000 bytes */
  for (int i = 0; i < 400; i++) {
    cb_account_t a = market(i, 1000 + (uint64_t)i);
    ck_assert_int_eq(sink_put_account(s, &a), SINK_OK);
  }
  ck_assert_int_eq(sink_flush(s), SINK_OK);
  json_t *got[4];
  int n = drain(c, got, 4);
  ck_assert_int_eq(n, 1);
  ck_assert_int_eq(json_integer_value(json_object_get(got[0], "slot")), 1399);
  ck_assert(json_is_true(json_object_get(got[0], "markets_truncated")));
  ck_assert_ptr_null(json_object_get(got[0], "markets"));
  ck_assert_int_eq(json_integer_value(json_object_get(got[0], "markets_count")), 400);
  json_decref(got[0]);
  tu_assert_query(c, "SELECT count(*) FROM markets_cache", "400");
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

int main(void) {
  Suite *s = suite_create("sink_notify");
  TCase *tc = tcase_create("sink_notify");
  tcase_set_timeout(tc, 60);
  if (tu_have_pg()) {
    tcase_add_test(tc, t_notify_per_commit);
    tcase_add_test(tc, t_notify_summarised);
  }
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
