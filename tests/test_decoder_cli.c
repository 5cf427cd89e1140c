/* Every subcommand opens the IDL and the Crypto Bet decoder the same way:
 * an IDL that does not match the Crypto Bet records (or does not load)
 * stops live, reconcile, backfill and snapshot at start-up with exit code
 * 2 and a message naming the mismatch, before any connection is tried;
 * decode still decodes with any program's IDL. Runs the real binary. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* Nothing listens on port 9 (discard): a command that got past the IDL
 * check would fail (or retry) there instead of exiting 2. */
#define NOWHERE_DB "postgresql://127.0.0.1:9/none?connect_timeout=1"
#define NOWHERE_RPC "http://127.0.0.1:9"
#define NOWHERE_WS "ws://127.0.0.1:9"

static char g_bad_idl[128], g_err[128];

/* Writes the Crypto Bet IDL with Market.title turned into a u64. */
static void write_bad_idl(void) {
  size_t len;
  char *text = tu_read_file("idl/crypto_bet.json", &len);
  json_t *root = json_loadb(text, len, 0, NULL);
  ck_assert_ptr_nonnull(root);
  free(text);
  json_t *types = json_object_get(root, "types");
  int found = 0;
  for (size_t i = 0; i < json_array_size(types); i++) {
    json_t *t = json_array_get(types, i);
    if (strcmp(json_string_value(json_object_get(t, "name")), "Market") != 0) continue;
    json_t *fields = json_object_get(json_object_get(t, "type"), "fields");
    json_t *f = json_array_get(fields, 2);
    ck_assert_str_eq(json_string_value(json_object_get(f, "name")), "title");
    json_object_set_new(f, "type", json_string("u64"));
    found = 1;
  }
  ck_assert(found);
  snprintf(g_bad_idl, sizeof g_bad_idl, "/tmp/cbi-bad-idl-%d.json", (int)getpid());
  snprintf(g_err, sizeof g_err, "/tmp/cbi-bad-idl-%d.err", (int)getpid());
  ck_assert_int_eq(json_dump_file(root, g_bad_idl, 0), 0);
  json_decref(root);
}

/* Runs the binary with args + the unreachable endpoints; returns its exit
 * code; *err_text (caller frees) gets its stderr. */
static int run(const char *const *args, char **err_text) {
  static const char *const nowhere[] = {"--database-url", NOWHERE_DB, "--rpc-url", NOWHERE_RPC,
                                        "--ws-url",       NOWHERE_WS, NULL};
  pid_t pid = tu_spawn("crypto-bet-indexer", args, nowhere, "/dev/null", g_err);
  int code = tu_wait_exit(pid, 20000, g_err);
  size_t n;
  *err_text = tu_read_file(g_err, &n);
  return code;
}

START_TEST(test_incompatible_idl_exits_2) {
  write_bad_idl();
  static const char *cmds[][6] = {
      {"live", "--idl", NULL, NULL},
      {"reconcile", "--idl", NULL, NULL},
      {"backfill", "--from-slot", "1", "--to-slot", "2", "--idl"},
      {"snapshot", "--idl", NULL, NULL},
  };
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    const char *args[10];
    size_t n = 0;
    for (size_t k = 0; k < 6 && cmds[i][k]; k++) args[n++] = cmds[i][k];
    args[n++] = g_bad_idl;
    args[n] = NULL;
    char *err = NULL;
    int code = run(args, &err);
    ck_assert_msg(code == 2, "%s: exit %d, stderr: %s", cmds[i][0], code, err);
    ck_assert_msg(strstr(err, "does not match the Crypto Bet layouts") != NULL, "%s: %s",
                  cmds[i][0], err);
    ck_assert_msg(strstr(err, "Market.title") != NULL, "%s: %s", cmds[i][0], err);
    free(err);
  }
  unlink(g_bad_idl);
  unlink(g_err);
}
END_TEST

/* Another program's IDL (Orca's: no Crypto Bet accounts at all). */
START_TEST(test_foreign_idl_exits_2) {
  snprintf(g_err, sizeof g_err, "/tmp/cbi-foreign-idl-%d.err", (int)getpid());
  static const char *const cmds[] = {"live", "reconcile"};
  for (size_t i = 0; i < 2; i++) {
    const char *args[] = {cmds[i],      "--idl", "fixtures/orca-whirlpool/whirlpool.idl.json",
                          "--program-id", "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc", NULL};
    char *err = NULL;
    int code = run(args, &err);
    ck_assert_msg(code == 2, "%s: exit %d, stderr: %s", cmds[i], code, err);
    ck_assert_msg(strstr(err, "GlobalConfig") != NULL, "%s: %s", cmds[i], err);
    free(err);
  }
  unlink(g_err);
}
END_TEST

START_TEST(test_missing_idl_exits_2) {
  snprintf(g_err, sizeof g_err, "/tmp/cbi-missing-idl-%d.err", (int)getpid());
  static const char *const cmds[] = {"live", "reconcile", "snapshot"};
  for (size_t i = 0; i < 3; i++) {
    const char *args[] = {cmds[i], "--idl", "/nonexistent/idl.json", NULL};
    char *err = NULL;
    int code = run(args, &err);
    ck_assert_msg(code == 2, "%s: exit %d, stderr: %s", cmds[i], code, err);
    ck_assert_msg(strstr(err, "cannot load the IDL") != NULL, "%s: %s", cmds[i], err);
    free(err);
  }
  unlink(g_err);
}
END_TEST

/* decode is the debugging tool for any IDL: a mismatching one still
 * decodes generically. place_bet: discriminator, side No, amount 7. */
START_TEST(test_decode_any_idl) {
  write_bad_idl();
  const char *args[] = {"decode", "--idl", g_bad_idl, "--instruction", "3j5D3D+mfiEBBwAAAAAAAAA=",
                        NULL};
  char out[128];
  snprintf(out, sizeof out, "/tmp/cbi-bad-idl-%d.out", (int)getpid());
  pid_t pid = tu_spawn("crypto-bet-indexer", args, NULL, out, g_err);
  ck_assert_int_eq(tu_wait_exit(pid, 20000, g_err), 0);
  size_t n;
  char *text = tu_read_file(out, &n);
  json_t *j = json_loads(text, 0, NULL);
  ck_assert_ptr_nonnull(j);
  ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "place_bet");
  json_t *v = json_object_get(j, "value");
  ck_assert_str_eq(json_string_value(json_object_get(v, "side")), "No");
  ck_assert_int_eq(json_integer_value(json_object_get(v, "amount")), 7);
  json_decref(j);
  free(text);
  unlink(out);
  unlink(g_bad_idl);
  unlink(g_err);
}
END_TEST

int main(void) {
  Suite *s = suite_create("decoder_cli");
  TCase *tc = tcase_create("open");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_incompatible_idl_exits_2);
  tcase_add_test(tc, test_foreign_idl_exits_2);
  tcase_add_test(tc, test_missing_idl_exits_2);
  tcase_add_test(tc, test_decode_any_idl);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
