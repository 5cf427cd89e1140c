/* Leadership (sink_jobs.h, term-scoped lease row) against a real
 * PostgreSQL: two contenders, exactly one leads; the leader's connection
 * terminated -> the other leads within the lease period; a leader that can
 * no longer reach the database stops trusting its lease before the other
 * can take it; a released lease is taken at once. Both contenders live in
 * this process, so "both believe they lead" is checked on one clock. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "expect.h"
#include "jsonx.h"
#include "log.h"
#include "replay_child.h"
#include "sink_jobs.h"
#include "testutil.h"

static char g_tmpdir[256];
static char g_days[512]; /* fixtures/chain-days: a day of activity, no hostile messages */
static json_t *g_exp;

#define TTL 1200

static sink_leader_t *contender(const char *uri, const char *holder) {
  sink_leader_t *l = NULL;
  char err[256];
  ck_assert_msg(sink_leader_new(uri, "live", holder, TTL, &l, err, sizeof err) == 0, "%s", err);
  return l;
}

/* Ticks both for ms, asserting they never both trust the lease. Returns
 * the number of iterations where exactly one led. */
static int tick_both(sink_leader_t *a, sink_leader_t *b, long ms) {
  int one = 0;
  long end = tu_now_ms() + ms;
  while (tu_now_ms() < end) {
    sink_leader_tick(a);
    sink_leader_tick(b);
    bool la = sink_leader_is_leader(a), lb = sink_leader_is_leader(b);
    ck_assert_msg(!(la && lb), "two leaders");
    if (la != lb) one++;
    tu_sleep_ms(20);
  }
  return one;
}

START_TEST(exactly_one_leads) {
  PGconn *c;
  char *uri = tu_fresh_migrated_db("lead", &c);
  sink_leader_t *a = contender(uri, "node-a"), *b = contender(uri, "node-b");
  ck_assert_int_eq(sink_leader_tick(a), 1);
  ck_assert_int_eq(sink_leader_tick(b), 0);
  ck_assert_int_eq(sink_leader_term(a), 1);
  ck_assert_int_eq(sink_leader_term(b), 0);
  int one = tick_both(a, b, 3 * TTL); /* well past several renewals */
  ck_assert_int_gt(one, 0);
  ck_assert(sink_leader_is_leader(a));
  ck_assert_int_eq(sink_leader_term(a), 1);
  char holder[64];
  int64_t term;
  bool valid;
  ck_assert_int_eq(sink_leader_current(b, holder, sizeof holder, &term, &valid), 1);
  ck_assert_str_eq(holder, "node-a");
  ck_assert_int_eq(term, 1);
  ck_assert(valid);
  tu_assert_query(c, "SELECT count(*) FROM leader_leases", "1");
  sink_leader_free(a);
  sink_leader_free(b);
  PQfinish(c);
  free(uri);
}
END_TEST

/* pg_terminate_backend on the leader's connection: the leader's renewal
 * fails and it steps down; the standby leads within the lease period
 * (plus one poll), with a higher term; never two leaders. */
START_TEST(terminated_leader_connection_fails_over) {
  PGconn *c;
  char *uri = tu_fresh_migrated_db("lead", &c);
  sink_leader_t *a = contender(uri, "node-a"), *b = contender(uri, "node-b");
  ck_assert_int_eq(sink_leader_tick(a), 1);
  tick_both(a, b, TTL / 2);
  ck_assert(sink_leader_is_leader(a));
  int pid = sink_leader_backend_pid(a);
  ck_assert_int_gt(pid, 0);
  char sql[96];
  snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", pid);
  tu_assert_query(c, sql, "t");
  long t0 = tu_now_ms();
  while (!sink_leader_is_leader(b) && tu_now_ms() - t0 < 3 * TTL) {
    sink_leader_tick(a);
    sink_leader_tick(b);
    ck_assert_msg(!(sink_leader_is_leader(a) && sink_leader_is_leader(b)), "two leaders");
    tu_sleep_ms(20);
  }
  long took = tu_now_ms() - t0;
  ck_assert_msg(sink_leader_is_leader(b), "standby did not take over within %d ms", 3 * TTL);
  ck_assert_msg(took <= TTL + TTL / 4 + 300, "takeover took %ld ms (lease %d ms)", took, TTL);
  ck_assert(!sink_leader_is_leader(a));
  ck_assert_int_eq(sink_leader_term(b), 2);
  /* the old leader does not win it back */
  tick_both(a, b, 2 * TTL);
  ck_assert(sink_leader_is_leader(b));
  ck_assert(!sink_leader_is_leader(a));
  sink_leader_free(a);
  sink_leader_free(b);
  PQfinish(c);
  free(uri);
}
END_TEST

/* The leader loses the database (it can no longer run a statement: its
 * ticks stop). It stops trusting its lease strictly before the standby can
 * take it, and the standby takes it within the lease period. */
START_TEST(leader_without_database_stops_trusting_first) {
  PGconn *c;
  char *uri = tu_fresh_migrated_db("lead", &c);
  sink_leader_t *a = contender(uri, "node-a"), *b = contender(uri, "node-b");
  ck_assert_int_eq(sink_leader_tick(a), 1);
  tick_both(a, b, TTL / 3);
  /* from here on a reaches nothing: only b runs statements */
  long t0 = tu_now_ms(), a_off = -1, b_on = -1;
  while (b_on < 0 && tu_now_ms() - t0 < 3 * TTL) {
    sink_leader_tick(b);
    long now = tu_now_ms();
    bool la = sink_leader_is_leader(a), lb = sink_leader_is_leader(b);
    if (!la && a_off < 0) a_off = now;
    if (lb) b_on = now;
    ck_assert_msg(!(la && lb), "two leaders");
    tu_sleep_ms(5);
  }
  ck_assert_msg(a_off >= 0 && b_on >= 0, "a_off=%ld b_on=%ld", a_off, b_on);
  ck_assert_msg(a_off < b_on, "the old leader trusted its lease until %ld, the new one led at %ld",
                a_off - t0, b_on - t0);
  ck_assert_int_le(b_on - t0, TTL + TTL / 4 + 200);
  /* a's next tick learns it lost the lease */
  ck_assert_int_eq(sink_leader_tick(a), 0);
  ck_assert(!sink_leader_is_leader(a));
  sink_leader_free(a);
  sink_leader_free(b);
  PQfinish(c);
  free(uri);
}
END_TEST

/* A leader that shuts down releases the lease: the standby leads at its
 * next tick. */
START_TEST(release_hands_over_at_once) {
  PGconn *c;
  char *uri = tu_fresh_migrated_db("lead", &c);
  sink_leader_t *a = contender(uri, "node-a"), *b = contender(uri, "node-b");
  ck_assert_int_eq(sink_leader_tick(a), 1);
  ck_assert_int_eq(sink_leader_tick(b), 0);
  sink_leader_free(a);
  long t0 = tu_now_ms();
  ck_assert_int_eq(sink_leader_tick(b), 1);
  ck_assert_int_lt(tu_now_ms() - t0, 500);
  ck_assert_int_eq(sink_leader_term(b), 2);
  sink_leader_free(b);
  PQfinish(c);
  free(uri);
}
END_TEST

/* ---- live replicas ------------------------------------------------------------ */

static int64_t wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Wall-clock ms of the first log line of path containing needle, or -1.
 * Lines start "LEVEL 2026-12-03T10:17:54.984Z ...". */
static int64_t log_time_of(const char *path, const char *needle) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[4096];
  int64_t t = -1;
  while (t < 0 && fgets(line, sizeof line, f)) {
    if (!strstr(line, needle)) continue;
    const char *ts = strchr(line, ' ');
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0;
    if (ts && sscanf(ts + 1, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7) {
      tm.tm_year -= 1900;
      tm.tm_mon -= 1;
      t = (int64_t)timegm(&tm) * 1000 + ms;
    }
  }
  fclose(f);
  return t;
}

static int log_has(const char *path, const char *needle) {
  char *text = tu_read_file(path, NULL);
  int r = strstr(text, needle) != NULL;
  free(text);
  return r;
}

static pid_t spawn_replica(const char *uri, int port, const char *name, const char *const *extra) {
  char rpc[64], ws[64], lp[600];
  snprintf(rpc, sizeof rpc, "http://127.0.0.1:%d/", port);
  snprintf(ws, sizeof ws, "ws://127.0.0.1:%d/", port);
  snprintf(lp, sizeof lp, "%s/%s.log", g_tmpdir, name);
  const char *const args[] = {"live", "--database-url",    uri, "--rpc-url",      rpc, "--ws-url",
                              ws,     "--status-interval", "1", "--leader-lease", "5", NULL};
  return tu_spawn("crypto-bet-indexer", args, extra, NULL, lp);
}

static void wait_log(const char *name, const char *needle, long timeout_ms) {
  char lp[600];
  snprintf(lp, sizeof lp, "%s/%s.log", g_tmpdir, name);
  long t0 = tu_now_ms();
  while (tu_now_ms() - t0 < timeout_ms) {
    if (access(lp, F_OK) == 0 && log_has(lp, needle)) return;
    tu_sleep_ms(20);
  }
  char *text = access(lp, F_OK) == 0 ? tu_read_file(lp, NULL) : strdup("(no log)");
  ck_abort_msg("%s: no '%s' within %ld ms; log:\n%s", name, needle, timeout_ms, text);
}

/* Every table, row and column of expected.json (closed accounts included:
 * their close slot and time come from the closing transaction); account
 * rows written from a gap fill's read carry the read slot ss. No dead
 * letter. */
static void assert_tables_exact(PGconn *c, const char *ss) {
  ex_assert_expected(c, g_exp, true, 0, UINT64_MAX, NULL, ss);
  tu_assert_query(c, "SELECT count(*) FROM dead_letters", "0");
}

/* Mid-stream: the leader has committed the last notified state of the
 * positions that transactions close later (slot 310000024; no notification
 * shows a close, and an account created and closed while no replica leads
 * is never seen by anyone), and the stream is not over. */
static void wait_mid_stream(PGconn *c) {
  char *got = NULL;
  for (int i = 0; i < 2000; i++) {
    tu_sleep_ms(10);
    free(got);
    got = tu_query1(c, "SELECT count(*) FROM positions_cache WHERE (position_pubkey = "
                       "'9tgmb5m8qCP4uvpcMaaBic52avgCbj6rSYBiGsYh9b56' AND sync_slot = 310000022) "
                       "OR position_pubkey IN ('5AwXTz7B4KHmftisusLmUJbw79Mvn3NdVi9i5V71L3Je', "
                       "'649Ps1vyqaEKgYMpPEkta563CpvqUXgUd89aHRUgbNkZ')");
    if (strcmp(got, "3") == 0) break;
  }
  ck_assert_msg(strcmp(got, "3") == 0, "the leader did not write the positions in time (%s)", got);
  free(got);
  ck_assert_int_lt(ex_count_rows(c, "transactions"), (long)ex_meta_u64(g_exp, "instruction_rows"));
}

/* Two live replicas on one database, both running job chunks; the leader
 * is SIGKILLed mid-stream: the standby leads within 10 s, fills the gap
 * from the checkpoint and ends with the tables of expected.json (no row
 * lost, none doubled). A job enqueued with the SQL function while they
 * run completes, and the tables stay exact. */
START_TEST(leader_sigkill_standby_takes_over) {
  static const char *const rx[] = {"--speed", "1", "--ws-slot-heartbeat-ms", "100", NULL};
  rc_child_t rs;
  PGconn *c;
  char *uri = rc_start_with_db(&rs, g_days, rx, "fo", &c);
  char sql[200];
  snprintf(sql, sizeof sql,
           "INSERT INTO sync_checkpoints (stream, slot) VALUES ('live', %" PRIu64 ")",
           ex_meta_u64(g_exp, "start_slot") - 1);
  PQclear(PQexec(c, sql));
  static const char *const extra[] = {
      "--exit-when-idle", "2500", "--job-concurrency", "1", "--lease", "3", NULL};
  pid_t a = spawn_replica(uri, rs.port, "replica-a", extra);
  wait_log("replica-a", "leading: starting live", 10000);
  pid_t b = spawn_replica(uri, rs.port, "replica-b", extra);
  wait_log("replica-b", "standing by: live is led by", 10000);
  wait_mid_stream(c);
  /* a job through the SQL function, for the replicas' background workers */
  snprintf(sql, sizeof sql, "SELECT backfill_market_data(%" PRIu64 ", %" PRIu64 ", 10)",
           ex_meta_u64(g_exp, "start_slot"), ex_meta_u64(g_exp, "tip_slot"));
  char *job = tu_query1(c, sql);
  kill(a, SIGKILL);
  int64_t killed = wall_ms();
  ck_assert_int_eq(tu_wait_exit(a, 0, NULL), 128 + SIGKILL);
  char lb[600];
  snprintf(lb, sizeof lb, "%s/replica-b.log", g_tmpdir);
  wait_log("replica-b", "leading: starting live", 10000);
  int64_t led = log_time_of(lb, "leading: starting live");
  ck_assert_msg(led > 0 && led - killed <= 10000, "standby led %" PRId64 " ms after the kill",
                led - killed);
  ck_assert_int_eq(tu_wait_exit(b, 90000, lb), 0);
  ck_assert_msg(log_has(lb, "gap fill"), "no gap fill after the takeover");
  /* the status lines say who leads */
  ck_assert_msg(log_has(lb, "status role=standby") && log_has(lb, "status role=leader"),
                "no status lines with the role");
  char ss[32];
  snprintf(ss, sizeof ss, "%" PRIu64, ex_meta_u64(g_exp, "account_read_slot"));
  assert_tables_exact(c, ss);
  tu_assert_query(c, "SELECT count(*) FROM dead_letters", "0");
  snprintf(sql, sizeof sql, "SELECT state FROM backfill_jobs WHERE id = %s", job);
  tu_assert_query(c, sql, "done");
  tu_assert_query(c, "SELECT term::text FROM leader_leases", "2");
  fprintf(stderr, "failover: standby led %" PRId64 " ms after SIGKILL\n", led - killed);
  free(job);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

/* The leader's database connection is terminated (pg_terminate_backend):
 * its renewal fails, it stops its live writes and stands by; the other
 * replica leads within 10 s, fills the gap, and the tables end exact. */
START_TEST(leader_connection_lost_standby_takes_over) {
  static const char *const rx[] = {"--speed", "1", "--ws-slot-heartbeat-ms", "100", NULL};
  rc_child_t rs;
  PGconn *c;
  char *uri = rc_start_with_db(&rs, g_days, rx, "fo", &c);
  char sql[300];
  snprintf(sql, sizeof sql,
           "INSERT INTO sync_checkpoints (stream, slot) VALUES ('live', %" PRIu64 ")",
           ex_meta_u64(g_exp, "start_slot") - 1);
  PQclear(PQexec(c, sql));
  static const char *const extra[] = {"--exit-when-idle", "2500", NULL};
  pid_t a = spawn_replica(uri, rs.port, "conn-a", extra);
  wait_log("conn-a", "leading: starting live", 10000);
  pid_t b = spawn_replica(uri, rs.port, "conn-b", extra);
  wait_log("conn-b", "standing by: live is led by", 10000);
  wait_mid_stream(c);
  snprintf(sql, sizeof sql,
           "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name "
           "= 'cbi leader ' || (SELECT holder FROM leader_leases WHERE name = 'live')");
  tu_assert_query(c, sql, "1");
  int64_t cut = wall_ms();
  char la[600], lb[600];
  snprintf(la, sizeof la, "%s/conn-a.log", g_tmpdir);
  snprintf(lb, sizeof lb, "%s/conn-b.log", g_tmpdir);
  wait_log("conn-a", "stepped down", 10000);
  wait_log("conn-b", "leading: starting live", 10000);
  int64_t led = log_time_of(lb, "leading: starting live");
  int64_t down = log_time_of(la, "stepped down");
  ck_assert_msg(led - cut <= 10000, "standby led %" PRId64 " ms after the cut", led - cut);
  ck_assert_msg(down < led,
                "the old leader stepped down at %" PRId64 ", the new one led at %" PRId64, down,
                led);
  ck_assert_int_eq(tu_wait_exit(b, 90000, lb), 0);
  kill(a, SIGTERM); /* a standby does not stop by itself */
  ck_assert_int_eq(tu_wait_exit(a, 20000, la), 0);
  char ss[32];
  snprintf(ss, sizeof ss, "%" PRIu64, ex_meta_u64(g_exp, "account_read_slot"));
  assert_tables_exact(c, ss);
  tu_assert_query(c, "SELECT term::text FROM leader_leases", "2");
  fprintf(stderr, "failover: standby led %" PRId64 " ms after the leader's connection was cut\n",
          led - cut);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  log_set_level("error");
  snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/cbi-test-failover.XXXXXX");
  if (!mkdtemp(g_tmpdir) ||
      ex_scenario("chain-days", g_tmpdir, "--preset days", g_days, sizeof g_days) != 0) {
    fprintf(stderr, "test_failover: cannot prepare the scenario\n");
    return 1;
  }
  g_exp = NULL;
  Suite *s = suite_create("failover");
  if (tu_have_pg()) {
    {
      /* loaded outside any test: the e2e case reads it */
      char path[600];
      snprintf(path, sizeof path, "%s/expected.json", g_days);
      size_t len = 0;
      FILE *f = fopen(path, "rb");
      if (f) {
        fseek(f, 0, SEEK_END);
        len = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        char *text = malloc(len + 1);
        if (text && fread(text, 1, len, f) == len) {
          char e[200];
          g_exp = jsonx_loads(text, len, e, sizeof e);
        }
        free(text);
        fclose(f);
      }
      if (!g_exp) {
        fprintf(stderr, "test_failover: cannot read %s\n", path);
        return 1;
      }
    }
    TCase *tc = tcase_create("leader");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, exactly_one_leads);
    tcase_add_test(tc, terminated_leader_connection_fails_over);
    tcase_add_test(tc, leader_without_database_stops_trusting_first);
    tcase_add_test(tc, release_hands_over_at_once);
    suite_add_tcase(s, tc);
    tc = tcase_create("replicas");
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, leader_sigkill_standby_takes_over);
    tcase_add_test(tc, leader_connection_lost_standby_takes_over);
    suite_add_tcase(s, tc);
  }
  int rc = tu_run_suite(s);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmpdir);
  if (rc == 0 && system(cmd) != 0) rc = 1;
  if (rc != 0) fprintf(stderr, "test_failover: logs kept in %s\n", g_tmpdir);
  json_decref(g_exp);
  return rc;
}
