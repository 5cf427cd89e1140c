/* deploy/: the alert rules pass `promtool check rules` and their unit tests
 * (`promtool test rules`); the systemd unit passes `systemd-analyze verify`
 * and the offline security check, and carries the notify, watchdog, restart
 * and hardening settings. Missing tools fail, never skip. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "promtool.h"
#include "testutil.h"

#define UNIT "deploy/crypto-bet-indexer.service"

static int run(const char *cmd, char *out, size_t outsz) {
  return pt_popen(cmd, out, outsz);
}

START_TEST(alert_rules_check) {
  char out[2000];
  int rc = pt_run("check rules deploy/alerts.yml", NULL, out, sizeof out);
  ck_assert_msg(rc == 0, "promtool check rules: %s", out);
  ck_assert_ptr_nonnull(strstr(out, "SUCCESS"));
  ck_assert_ptr_null(strstr(out, "WARNING"));
}
END_TEST

START_TEST(alert_rules_fire_as_documented) {
  char out[2000];
  int rc = pt_run("test rules deploy/alerts_test.yml", NULL, out, sizeof out);
  ck_assert_msg(rc == 0, "promtool test rules: %s", out);
  ck_assert_ptr_nonnull(strstr(out, "SUCCESS"));
  /* Every alert the operations section promises has a rule. */
  char *rules = tu_read_file("deploy/alerts.yml", NULL);
  static const char *const names[] = {"CbiNotReady", "CbiLagGrowing", "CbiDeadLettersIncreasing",
                                      "CbiNoCommit", "CbiRestarting", "CbiDown"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char want[64];
    snprintf(want, sizeof want, "alert: %s\n", names[i]);
    ck_assert_msg(strstr(rules, want) != NULL, "no rule %s", names[i]);
  }
  free(rules);
}
END_TEST

/* A copy of the unit whose ExecStart names the binary just built (verify
 * checks that the command exists). Returns the directory (static). */
static const char *unit_copy(void) {
  static char dir[64];
  snprintf(dir, sizeof dir, "/tmp/cbi_unit_%d", (int)getpid());
  mkdir(dir, 0700);
  const char *build = getenv("CBI_BUILD") ? getenv("CBI_BUILD") : "build";
  char rel[PATH_MAX], bin[PATH_MAX];
  snprintf(rel, sizeof rel, "%s/crypto-bet-indexer", build);
  ck_assert_msg(realpath(rel, bin) != NULL, "no binary %s (make first)", rel);
  char *text = tu_read_file(UNIT, NULL);
  char path[128];
  snprintf(path, sizeof path, "%s/crypto-bet-indexer.service", dir);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  const char *from = "/usr/local/bin/crypto-bet-indexer";
  const char *p = text, *q;
  while ((q = strstr(p, from)) != NULL) {
    fwrite(p, 1, (size_t)(q - p), f);
    fputs(bin, f);
    p = q + strlen(from);
  }
  fputs(p, f);
  fclose(f);
  free(text);
  return dir;
}

START_TEST(unit_verifies) {
  ck_assert_msg(system("command -v systemd-analyze >/dev/null 2>&1") == 0,
                "systemd-analyze not found (Debian package systemd)");
  const char *dir = unit_copy();
  char cmd[512], out[1500];
  snprintf(cmd, sizeof cmd, "cd %s && systemd-analyze verify ./crypto-bet-indexer.service 2>&1",
           dir);
  int rc = run(cmd, out, sizeof out);
  /* verify reports bad settings as warnings with exit 0: any output fails. */
  ck_assert_msg(rc == 0 && out[0] == '\0', "systemd-analyze verify (rc %d): %s", rc, out);
  /* Hardening figure: exposure at most 2.0 of 10 ("OK"). */
  snprintf(cmd, sizeof cmd,
           "cd %s && systemd-analyze security --offline=true --threshold=20 "
           "./crypto-bet-indexer.service 2>&1",
           dir);
  rc = run(cmd, out, sizeof out);
  ck_assert_msg(rc == 0, "systemd-analyze security (rc %d): %s", rc, out);
  ck_assert_ptr_nonnull(strstr(out, "Overall exposure level"));
  /* The checker itself notices a broken unit. */
  snprintf(cmd, sizeof cmd,
           "cd %s && sed 's/^Type=notify/Type=notifi/' crypto-bet-indexer.service > bad.service && "
           "systemd-analyze verify ./bad.service 2>&1",
           dir);
  run(cmd, out, sizeof out);
  ck_assert_ptr_nonnull(strstr(out, "Failed to parse service type"));
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(unit_settings) {
  char *u = tu_read_file(UNIT, NULL);
  static const char *const must[] = {"\nType=notify\n",
                                     "\nNotifyAccess=main\n",
                                     "\nWatchdogSec=",
                                     "\nRestart=on-failure\n",
                                     "\nDynamicUser=yes\n",
                                     "\nProtectSystem=strict\n",
                                     "\nProtectHome=yes\n",
                                     "\nPrivateTmp=yes\n",
                                     "\nNoNewPrivileges=yes\n",
                                     "\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n",
                                     "\nMemoryMax=",
                                     "\nProtectKernelTunables=yes\n",
                                     "\nProtectKernelModules=yes\n",
                                     "\nLockPersonality=yes\n",
                                     "\nProtectControlGroups=yes\n",
                                     "\nCapabilityBoundingSet=\n",
                                     "\nEnvironment=HTTP_LISTEN=127.0.0.1:9464\n"};
  for (size_t i = 0; i < sizeof must / sizeof *must; i++)
    ck_assert_msg(strstr(u, must[i]) != NULL, "unit lacks %s", must[i]);
  ck_assert_ptr_null(strstr(u, "Restart=always"));
  free(u);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_deploy");
  TCase *tc = tcase_create("deploy");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, alert_rules_check);
  tcase_add_test(tc, alert_rules_fire_as_documented);
  tcase_add_test(tc, unit_verifies);
  tcase_add_test(tc, unit_settings);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
