/* Operator tools against a real database: a Market account dead-lettered
 * by a strict decoder (bytes after its layout) is listed, shown with its
 * raw bytes, retried with the current (default, non-strict) decoder through
 * `crypto-bet-indexer dead-letters retry` and applied; what still fails
 * stays (attempts go up) until `purge`; `status --json` reports the
 * checkpoints, dead letters and row counts. */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "cb_decoder.h"
#include "expect.h"
#include "ingest.h"
#include "jsonx.h"
#include "migrate.h"
#include "sink.h"
#include "testutil.h"

#define CHAIN "fixtures/chain"

static char g_tmp[64];

/* Runs the binary with args; returns its stdout (caller frees) and sets *code. */
static char *run_cli(const char *const *args, int *code) {
  char out[128], err[128];
  snprintf(out, sizeof out, "%s/out.txt", g_tmp);
  snprintf(err, sizeof err, "%s/err.txt", g_tmp);
  pid_t pid = tu_spawn("crypto-bet-indexer", args, NULL, out, err);
  *code = tu_wait_exit(pid, 30000, err);
  char *e = tu_read_file(err, NULL);
  if (*code != 0) fprintf(stderr, "cli stderr: %s\n", e);
  free(e);
  return tu_read_file(out, NULL);
}

START_TEST(retry_applies_after_the_decoder_is_fixed) {
  snprintf(g_tmp, sizeof g_tmp, "/tmp/cbi-dl-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(g_tmp));
  PGconn *c = NULL;
  char *uri = tu_fresh_migrated_db("deadletters", &c);
  json_t *exp = ex_load_file(CHAIN, "expected.json"), *accs = ex_load_file(CHAIN, "accounts.json");
  const char *program = jsonx_get_str(json_object_get(exp, "meta"), "program_id");
  const char *pk = jsonx_get_str(json_array_get(json_object_get(exp, "markets_cache"), 0),
                                 "market_pubkey");
  const char *title = jsonx_get_str(json_array_get(json_object_get(exp, "markets_cache"), 0),
                                    "title");
  ck_assert_ptr_nonnull(pk);
  const char *b64 = jsonx_get_str(json_object_get(accs, pk), "data");
  uint8_t *bytes = NULL;
  size_t len = 0;
  ck_assert_int_eq(b64_decode(b64, strlen(b64), &bytes, &len), 0);
  uint8_t *grown = malloc(len + 16);
  memcpy(grown, bytes, len);
  memset(grown + len, 0x77, 16);

  /* a strict decoder refuses the Market (bytes after its layout) */
  char err[512];
  idl_t *idl = NULL;
  ck_assert_int_eq(cb_decoder_default_idl(&idl, err, sizeof err), 0);
  cb_decoder_options_t dopt = {.strict = true};
  cb_decoder_t *strict = NULL;
  ck_assert_int_eq(cb_decoder_new_opts(idl, &dopt, &strict, NULL), 0);
  sink_options_t so;
  sink_options_init(&so);
  so.conninfo = uri;
  sink_t *s = NULL;
  ck_assert_int_eq(sink_open(&so, &s, err, sizeof err), 0);
  ingest_t *ing = ingest_new(strict, program, s);
  ck_assert_int_eq(ingest_account_bytes(ing, pk, program, 5000000, grown, len + 16, 4242), 0);
  /* and a websocket message nothing can apply */
  ck_assert_int_eq(ingest_dead_letter(ing, INGEST_DL_WS_MESSAGE, NULL, 0, "not JSON",
                                      (const uint8_t *)"{nope", 5), 0);
  ck_assert_int_eq(sink_set_checkpoint(s, "live", 4300, NULL), 0);
  ck_assert_int_eq(sink_flush(s), 0);
  ingest_free(ing);
  sink_close(s);
  cb_decoder_free(strict);
  idl_free(idl);
  tu_assert_query(c, "SELECT count(*) FROM markets_cache", "0");
  tu_assert_query(c, "SELECT string_agg(kind, ',' ORDER BY id) FROM dead_letters",
                  "account,ws-message");
  char *acc_id = tu_query1(c, "SELECT id FROM dead_letters WHERE kind = 'account'");

  int code;
  const char *list[] = {"dead-letters", "list", "--database-url", uri, NULL};
  char *out = run_cli(list, &code);
  ck_assert_int_eq(code, 0);
  ck_assert_msg(strstr(out, pk) && strstr(out, "ws-message"), "list: %s", out);
  free(out);

  const char *show[] = {"dead-letters", "show", acc_id, "--database-url", uri, NULL};
  out = run_cli(show, &code);
  ck_assert_int_eq(code, 0);
  char *g64 = b64_encode(grown, len + 16);
  ck_assert_msg(strstr(out, g64) != NULL, "show lacks the base64 bytes: %s", out);
  ck_assert_msg(strstr(out, "7777777777777777") != NULL, "show lacks the hex bytes: %s", out);
  ck_assert_msg(strstr(out, "after") != NULL || strstr(out, "trailing") != NULL, "error: %s", out);
  free(g64);
  free(out);

  /* the current decoder (default options) reads the Market: retry applies it */
  const char *retry[] = {"dead-letters", "retry", "--database-url", uri, "--program-id", program,
                         "--rpc-url", "http://127.0.0.1:9/", NULL};
  out = run_cli(retry, &code);
  ck_assert_int_eq(code, 0);
  ck_assert_msg(strstr(out, "tried=2 applied=1 still_failing=1") != NULL, "retry: %s", out);
  free(out);
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT title || '/' || sync_slot FROM markets_cache WHERE market_pubkey = '%s'", pk);
  char want[256];
  snprintf(want, sizeof want, "%s/4242", title);
  tu_assert_query(c, sql, want);
  tu_assert_query(c, "SELECT kind || ':' || attempts FROM dead_letters", "ws-message:2");

  const char *status[] = {"status", "--json", "--database-url", uri, "--rpc-url",
                          "http://127.0.0.1:9/", NULL};
  out = run_cli(status, &code);
  ck_assert_int_eq(code, 0);
  json_error_t je;
  json_t *st = json_loads(out, 0, &je);
  ck_assert_msg(st != NULL, "status --json: %s", out);
  ck_assert(json_is_null(json_object_get(st, "tip_slot")));
  json_t *cp0 = json_array_get(json_object_get(st, "checkpoints"), 0);
  ck_assert_str_eq(json_string_value(json_object_get(cp0, "stream")), "live");
  ck_assert_int_eq(json_integer_value(json_object_get(cp0, "slot")), 4300);
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(st, "rows"), "markets_cache")), 1);
  ck_assert_int_eq(
      json_integer_value(json_object_get(json_object_get(st, "dead_letters"), "ws-message")), 1);
  json_decref(st);
  free(out);

  const char *purge[] = {"dead-letters", "purge", "--before", "2100-01-01", "--database-url", uri,
                         NULL};
  out = run_cli(purge, &code);
  ck_assert_int_eq(code, 0);
  ck_assert_msg(strstr(out, "deleted=1") != NULL, "purge: %s", out);
  free(out);
  tu_assert_query(c, "SELECT count(*) FROM dead_letters", "0");

  const char *bad[] = {"dead-letters", "purge", "--database-url", uri, NULL};
  out = run_cli(bad, &code);
  ck_assert_int_eq(code, 2);
  free(out);

  free(acc_id);
  free(grown);
  free(bytes);
  json_decref(exp);
  json_decref(accs);
  PQfinish(c);
  free(uri);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dead_letters");
  TCase *tc = tcase_create("dead_letters");
  tcase_set_timeout(tc, 120);
  if (tu_have_pg()) tcase_add_test(tc, retry_applies_after_the_decoder_is_fixed);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
