/* The configuration table (config.h) is the one source of option names,
 * environment variables, bounds, defaults and help: README's table is
 * generated from it, the common getopt entries match it, and parsing
 * follows flag > environment > default with bounds checked. */
#include <stdio.h>
#include <string.h>

#include "backfill.h"
#include "config.h"
#include "live.h"
#include "testutil.h"

#define BEGIN_MARK "<!-- BEGIN configuration table: crypto-bet-indexer options --markdown -->\n"
#define END_MARK "<!-- END configuration table -->"

static char *markdown(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  config_print_markdown(f);
  fclose(f);
  return buf;
}

START_TEST(readme_table_matches) {
  char *readme = tu_read_file("README.md", NULL);
  char *a = strstr(readme, BEGIN_MARK);
  ck_assert_msg(a != NULL, "README.md has no configuration table marker");
  a += strlen(BEGIN_MARK);
  char *b = strstr(a, END_MARK);
  ck_assert_ptr_nonnull(b);
  *b = '\0';
  char *want = markdown();
  ck_assert_msg(strcmp(a, want) == 0,
                "README.md's configuration table differs from the table in src/cli/config.c; "
                "regenerate it with: build/crypto-bet-indexer options --markdown\n--- README\n%s"
                "--- table\n%s",
                a, want);
  free(want);
  free(readme);
}
END_TEST

START_TEST(common_longopts_match_table) {
  static const struct option common[] = {CONFIG_COMMON_LONGOPTS};
  const config_opt_t *t = config_table();
  size_t n = 0;
  for (int i = 0; i < CONFIG__COUNT; i++) {
    if (t[i].commands != CONFIG_CMD_ALL) continue;
    ck_assert_uint_lt(n, sizeof common / sizeof common[0]);
    ck_assert_str_eq(common[n].name, t[i].name);
    ck_assert_int_eq(common[n].val, CONFIG_OPT_BASE + i);
    ck_assert_int_eq(common[n].has_arg, t[i].type == CONFIG_T_FLAG ? no_argument : required_argument);
    n++;
  }
  ck_assert_uint_eq(n, sizeof common / sizeof common[0]);
}
END_TEST

START_TEST(table_is_consistent) {
  const config_opt_t *t = config_table();
  cbi_config_t cfg;
  unsetenv("DATABASE_URL");
  unsetenv("COMMITMENT");
  config_init(&cfg);
  ck_assert_int_eq(cfg.bad_code, 0);
  for (int i = 0; i < CONFIG__COUNT; i++) {
    ck_assert_msg(t[i].name && t[i].help && t[i].commands, "row %d incomplete", i);
    ck_assert_msg(t[i].dflt || t[i].dflt_doc, "--%s: default not described", t[i].name);
    ck_assert_msg(t[i].type == CONFIG_T_FLAG || t[i].metavar, "--%s: no metavar", t[i].name);
    /* every default passes its own type and bounds */
    if (t[i].dflt) ck_assert_msg(cfg.v[i].str && strcmp(cfg.v[i].str, t[i].dflt) == 0,
                                 "--%s: default '%s' rejected", t[i].name, t[i].dflt);
    ck_assert_int_eq(cfg.v[i].set, 0);
    /* names are unique per command */
    for (int j = i + 1; j < CONFIG__COUNT; j++)
      ck_assert_msg(strcmp(t[i].name, t[j].name) != 0 || !(t[i].commands & t[j].commands),
                    "--%s twice for one command", t[i].name);
  }
  /* defaults the libraries apply themselves agree with the table */
  backfill_options_t bo;
  backfill_options_init(&bo);
  ck_assert_uint_eq(config_u64(&cfg, CONFIG_BACKFILL_CONCURRENCY), bo.concurrency);
  ck_assert_uint_eq(config_u64(&cfg, CONFIG_SIG_PAGE_LIMIT), bo.sig_page_limit);
  ck_assert_uint_eq(config_u64(&cfg, CONFIG_BATCH), BACKFILL_DEFAULT_BATCH);
  live_options_t lo;
  live_options_init(&lo);
  ck_assert_uint_eq(config_u64(&cfg, CONFIG_RECONCILE_INTERVAL), (uint64_t)lo.reconcile_interval_s);
  ck_assert_uint_eq(config_u64(&cfg, CONFIG_STATUS_INTERVAL), (uint64_t)lo.status_interval_s);
  ck_assert_str_eq(config_str(&cfg, CONFIG_COMMITMENT), lo.commitment);
}
END_TEST

static int parse(cbi_config_t *cfg, unsigned cmd, const char *const *args, char *err, size_t errsz) {
  char *argv[16];
  int argc = 0;
  for (; args[argc]; argc++) argv[argc] = (char *)args[argc];
  argv[argc] = NULL;
  config_init(cfg);
  int rc = config_parse(cfg, cmd, argc, argv, err, errsz);
  if (rc == CONFIG_OK) rc = config_finish(cfg, err, errsz);
  return rc;
}

START_TEST(precedence_and_bounds) {
  cbi_config_t cfg;
  char err[300];
  setenv("DATABASE_URL", "postgresql://env/db", 1);
  setenv("COMMITMENT", "finalized", 1);
  const char *a1[] = {"live", "--ping-interval", "7", NULL};
  ck_assert_int_eq(parse(&cfg, CONFIG_CMD_LIVE, a1, err, sizeof err), CONFIG_OK);
  ck_assert_str_eq(cfg.database_url, "postgresql://env/db"); /* environment over default */
  ck_assert_str_eq(cfg.commitment, "finalized");
  ck_assert_uint_eq(config_u64(&cfg, CONFIG_PING_INTERVAL), 7);
  ck_assert(config_is_set(&cfg, CONFIG_PING_INTERVAL));
  ck_assert_uint_eq(config_u64(&cfg, CONFIG_STALL_TIMEOUT), 60); /* default */
  ck_assert(!config_is_set(&cfg, CONFIG_STALL_TIMEOUT));
  const char *a2[] = {"live", "--database-url", "postgresql://flag/db", "--commitment", "processed",
                      NULL};
  ck_assert_int_eq(parse(&cfg, CONFIG_CMD_LIVE, a2, err, sizeof err), CONFIG_OK);
  ck_assert_str_eq(cfg.database_url, "postgresql://flag/db"); /* flag over environment */
  ck_assert_str_eq(cfg.commitment, "processed");

  /* a bad environment value is reported, naming the variable */
  setenv("COMMITMENT", "soon", 1);
  ck_assert_int_eq(parse(&cfg, CONFIG_CMD_LIVE, a1, err, sizeof err), CONFIG_ERR_ENV);
  ck_assert_msg(strstr(err, "COMMITMENT") != NULL, "%s", err);
  unsetenv("COMMITMENT");
  unsetenv("DATABASE_URL");

  static const struct {
    unsigned cmd;
    const char *args[6];
    int rc;
    const char *in_err;
  } bad[] = {
      {CONFIG_CMD_LIVE, {"live", "--ping-interval", "31", NULL}, CONFIG_ERR_VALUE, "1..30"},
      {CONFIG_CMD_LIVE, {"live", "--ping-interval", "0", NULL}, CONFIG_ERR_VALUE, "--ping-interval"},
      {CONFIG_CMD_LIVE, {"live", "--ping-interval", "+5", NULL}, CONFIG_ERR_VALUE, "'+5'"},
      {CONFIG_CMD_LIVE, {"live", "--ping-interval", NULL}, CONFIG_ERR_ARGUMENT, "--ping-interval"},
      {CONFIG_CMD_LIVE, {"live", "--from-slot", "5", NULL}, CONFIG_ERR_OPTION, "--from-slot"},
      {CONFIG_CMD_LIVE, {"live", "extra", NULL}, CONFIG_ERR_OPERAND, "extra"},
      {CONFIG_CMD_LIVE, {"live", "--commitment", "soon", NULL}, CONFIG_ERR_VALUE, "processed"},
      {CONFIG_CMD_LIVE, {"live", "--program-id", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", NULL},
       CONFIG_ERR_VALUE, "pubkey"},
      {CONFIG_CMD_BACKFILL, {"backfill", "--strategy", "sideways", NULL}, CONFIG_ERR_VALUE, "blocks"},
      {CONFIG_CMD_BACKFILL, {"backfill", "--from-slot", "18446744073709551615", NULL},
       CONFIG_ERR_VALUE, "--from-slot"},
      {CONFIG_CMD_BACKFILL, {"backfill", "--checkpoint-stream", "", NULL}, CONFIG_ERR_VALUE,
       "1..63 bytes"},
      {CONFIG_CMD_MIGRATE, {"migrate", "--status=1", NULL}, CONFIG_ERR_OPTION, "--status"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    int rc = parse(&cfg, bad[i].cmd, bad[i].args, err, sizeof err);
    ck_assert_msg(rc == bad[i].rc, "case %zu: %d (%s)", i, rc, err);
    ck_assert_msg(strstr(err, bad[i].in_err) != NULL, "case %zu: '%s'", i, err);
    ck_assert_str_ne(config_strerror(rc), "unknown error");
  }
  const char *h[] = {"backfill", "--from-slot", "1", "-h", NULL};
  ck_assert_int_eq(parse(&cfg, CONFIG_CMD_BACKFILL, h, err, sizeof err), CONFIG_HELP);
  const char *f[] = {"backfill", "--from-slot", "1", "--no-refresh", "--record", "/tmp/x", NULL};
  ck_assert_int_eq(parse(&cfg, CONFIG_CMD_BACKFILL, f, err, sizeof err), CONFIG_OK);
  ck_assert_uint_eq(config_u64(&cfg, CONFIG_NO_REFRESH), 1);
  ck_assert_uint_eq(config_u64(&cfg, CONFIG_RESTART), 0);
  ck_assert_str_eq(config_str(&cfg, CONFIG_RPC_RECORD), "/tmp/x");
  ck_assert_ptr_null(config_str(&cfg, CONFIG_TO_SLOT));
}
END_TEST

START_TEST(help_lists_each_commands_options) {
  const config_opt_t *t = config_table();
  static const unsigned cmds[] = {CONFIG_CMD_LIVE, CONFIG_CMD_RECONCILE, CONFIG_CMD_BACKFILL,
                                  CONFIG_CMD_SNAPSHOT, CONFIG_CMD_MIGRATE};
  for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_print_help(f, cmds[c]);
    fclose(f);
    for (int i = 0; i < CONFIG__COUNT; i++) {
      char flag[64];
      snprintf(flag, sizeof flag, "  --%s ", t[i].name);
      int want = (t[i].commands & cmds[c]) != 0, listed = 0;
      for (int j = 0; j < CONFIG__COUNT; j++) /* --concurrency, --record: one name, two rows */
        if (strcmp(t[j].name, t[i].name) == 0 && (t[j].commands & cmds[c])) listed = 1;
      ck_assert_msg((strstr(buf, flag) != NULL) == listed, "command %zu, --%s", c, t[i].name);
      if (want && t[i].dflt) ck_assert_msg(strstr(buf, t[i].dflt) != NULL, "default of --%s", t[i].name);
      if (want && t[i].env) ck_assert_msg(strstr(buf, t[i].env) != NULL, "env of --%s", t[i].name);
    }
    free(buf);
  }
}
END_TEST

static Suite *config_suite(void) {
  Suite *s = suite_create("config");
  TCase *tc = tcase_create("table");
  tcase_add_test(tc, readme_table_matches);
  tcase_add_test(tc, common_longopts_match_table);
  tcase_add_test(tc, table_is_consistent);
  tcase_add_test(tc, precedence_and_bounds);
  tcase_add_test(tc, help_lists_each_commands_options);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run_suite(config_suite()); }
