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

#include "log.h"
#include "sink_jobs.h"
#include "testutil.h"

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

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  log_set_level("error");
  Suite *s = suite_create("failover");
  if (tu_have_pg()) {
    TCase *tc = tcase_create("leader");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, exactly_one_leads);
    tcase_add_test(tc, terminated_leader_connection_fails_over);
    tcase_add_test(tc, leader_without_database_stops_trusting_first);
    tcase_add_test(tc, release_hands_over_at_once);
    suite_add_tcase(s, tc);
  }
  return tu_run_suite(s);
}
