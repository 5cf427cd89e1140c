/* Backfill jobs: the queue API (sink_jobs.h) against a real PostgreSQL,
 * and the worker (worker.h) end to end against the replay server serving
 * fixtures/chain, tables compared with its expected.json. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cb_decoder.h"
#include "expect.h"
#include "idl.h"
#include "jsonx.h"
#include "log.h"
#include "replay_child.h"
#include "rpc.h"
#include "sink_jobs.h"
#include "testutil.h"
#include "worker.h"

static char g_tmpdir[256];
static char g_chain[512];
static json_t *g_expected;

static json_t *expected(void) {
  if (!g_expected) g_expected = ex_load(g_chain);
  return g_expected;
}

static uint64_t meta_u64(const char *key) {
  return ex_meta_u64(expected(), key);
}

static sink_jobs_t *jobs_open(const char *uri, const char *owner) {
  sink_jobs_t *j = NULL;
  char err[512];
  ck_assert_msg(sink_jobs_open(uri, owner, 5000, &j, err, sizeof err) == 0, "open: %s", err);
  return j;
}

/* fmt has exactly one %" PRId64 " conversion. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static char *q1(PGconn *c, const char *fmt, int64_t id) {
  char sql[512];
  snprintf(sql, sizeof sql, fmt, id);
  return tu_query1(c, sql);
}
#pragma GCC diagnostic pop

static void assert_q(PGconn *c, const char *fmt, int64_t id, const char *want) {
  char *got = q1(c, fmt, id);
  ck_assert_msg(strcmp(got, want) == 0, "%s [%" PRId64 "]: got '%s', want '%s'", fmt, id, got,
                want);
  free(got);
}

/* ---- queue API ------------------------------------------------------------- */

/* The SQL function returns the job id and splits the range; a second active
 * job for the same range is refused (by the SQL function and the API, which
 * names the existing job); after a cancel the range may be enqueued again. */
START_TEST(sql_function_and_duplicate) {
  PGconn *c;
  char *uri = tu_fresh_migrated_db("jobs", &c);
  char *id = tu_query1(c, "SELECT backfill_market_data(100, 2599, 1000)");
  int64_t job = strtoll(id, NULL, 10);
  ck_assert_int_gt(job, 0);
  free(id);
  assert_q(c,
           "SELECT string_agg(from_slot || '-' || to_slot, ',' ORDER BY seq) FROM "
           "backfill_chunks WHERE job_id = %" PRId64,
           job, "100-1099,1100-2099,2100-2599");
  assert_q(c,
           "SELECT state || ' ' || chunks_total || ' ' || (requested_by = current_user) FROM "
           "backfill_jobs WHERE id = %" PRId64,
           job, "pending 3 true");
  /* the seed's two-argument form */
  char *id2 = tu_query1(c, "SELECT backfill_market_data(5000, 5001)");
  ck_assert_int_gt(strtoll(id2, NULL, 10), job);
  free(id2);
  PGresult *r = PQexec(c, "SELECT backfill_market_data(100, 2599, 1000)");
  ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
  ck_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23505");
  ck_assert_msg(strstr(PQresultErrorMessage(r), "already active") != NULL, "%s",
                PQresultErrorMessage(r));
  PQclear(r);
  r = PQexec(c, "SELECT backfill_market_data(10, 5)");
  ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
  PQclear(r);

  sink_jobs_t *j = jobs_open(uri, "t:0");
  int64_t dup = 0;
  ck_assert_int_eq(sink_jobs_enqueue(j, 100, 2599, 1000, NULL, 0, &dup), SINK_JOBS_ERR_DUPLICATE);
  ck_assert_int_eq(dup, job);
  ck_assert_int_eq(sink_jobs_enqueue(j, 10, 5, 0, NULL, 0, &dup), SINK_JOBS_ERR_INVALID);
  ck_assert_int_eq(sink_jobs_enqueue(j, 1, 2, 0, "sideways", 0, &dup), SINK_JOBS_ERR_INVALID);
  ck_assert_int_eq(
      sink_jobs_enqueue(j, (uint64_t)INT64_MAX + 1, (uint64_t)INT64_MAX + 2, 0, NULL, 0, &dup),
      SINK_JOBS_ERR_INVALID);
  ck_assert_int_eq(sink_jobs_cancel(j, job), 0);
  int64_t again = 0;
  ck_assert_int_eq(sink_jobs_enqueue(j, 100, 2599, 1000, "blocks", 2, &again), 0);
  ck_assert_int_gt(again, job);
  sink_job_info_t info;
  ck_assert_int_eq(sink_jobs_get(j, again, &info), 0);
  ck_assert_int_eq(info.chunks_total, 3);
  ck_assert_str_eq(info.strategy, "blocks");
  ck_assert_int_eq(info.state, SINK_JOB_PENDING);
  sink_job_info_t list[8];
  ck_assert_int_eq(sink_jobs_list(j, list, 8), 3);
  ck_assert_int_eq(list[0].id, again);
  ck_assert_int_eq(list[2].state, SINK_JOB_CANCELLED);
  ck_assert_int_eq(sink_jobs_active_count(j), 2);
  sink_jobs_close(j);
  PQfinish(c);
  free(uri);
}
END_TEST

/* A cancel ends the job and its chunks; the running chunk's holder learns
 * it at its next heartbeat and cannot complete it; nothing is claimable. */
START_TEST(cancel_job) {
  PGconn *c;
  char *uri = tu_fresh_migrated_db("jobs", &c);
  sink_jobs_t *a = jobs_open(uri, "worker-a");
  int64_t job;
  ck_assert_int_eq(sink_jobs_enqueue(a, 1, 100, 50, NULL, 0, &job), 0);
  sink_chunk_t ch;
  ck_assert_int_eq(sink_jobs_claim(a, 10000, &ch), 1);
  ck_assert_int_eq(ch.job_id, job);
  ck_assert_int_eq(ch.seq, 0);
  ck_assert_int_eq(ch.attempt, 1);
  assert_q(c, "SELECT state FROM backfill_jobs WHERE id = %" PRId64, job, "running");
  ck_assert_int_eq(sink_jobs_heartbeat(a, &ch, 10000), 0);
  ck_assert_int_eq(sink_jobs_cancel(a, job), 0);
  ck_assert_int_eq(sink_jobs_heartbeat(a, &ch, 10000), SINK_JOBS_ERR_LOST);
  ck_assert_int_eq(sink_jobs_complete(a, &ch, 5, NULL), SINK_JOBS_ERR_LOST);
  sink_chunk_t none;
  ck_assert_int_eq(sink_jobs_claim(a, 10000, &none), 0);
  assert_q(c,
           "SELECT state || ' ' || (finished_at IS NOT NULL) || ' ' || chunks_done FROM "
           "backfill_jobs WHERE id = %" PRId64,
           job, "cancelled true 0");
  assert_q(c,
           "SELECT string_agg(state::text, ',' ORDER BY seq) FROM backfill_chunks WHERE "
           "job_id = %" PRId64,
           job, "cancelled,cancelled");
  ck_assert_int_eq(sink_jobs_cancel(a, job), SINK_JOBS_ERR_FINISHED);
  ck_assert_int_eq(sink_jobs_cancel(a, job + 100), SINK_JOBS_ERR_NOT_FOUND);
  sink_jobs_close(a);
  PQfinish(c);
  free(uri);
}
END_TEST

/* A chunk whose lease expired is claimed by another worker (attempt 2);
 * the first holder's heartbeat and completion are then refused. */
START_TEST(expired_lease_is_claimed_again) {
  PGconn *c;
  char *uri = tu_fresh_migrated_db("jobs", &c);
  sink_jobs_t *a = jobs_open(uri, "worker-a"), *b = jobs_open(uri, "worker-b");
  int64_t job;
  ck_assert_int_eq(sink_jobs_enqueue(a, 1, 10, 100, NULL, 0, &job), 0);
  sink_chunk_t ca, cb;
  ck_assert_int_eq(sink_jobs_claim(a, 400, &ca), 1);
  ck_assert_int_eq(sink_jobs_claim(b, 400, &cb), 0); /* held */
  tu_sleep_ms(600);
  ck_assert_int_eq(sink_jobs_claim(b, 10000, &cb), 1);
  ck_assert_int_eq(cb.job_id, job);
  ck_assert_int_eq(cb.seq, ca.seq);
  ck_assert_int_eq(cb.attempt, 2);
  ck_assert_int_eq(sink_jobs_heartbeat(a, &ca, 400), SINK_JOBS_ERR_LOST);
  ck_assert_int_eq(sink_jobs_complete(a, &ca, 1, NULL), SINK_JOBS_ERR_LOST);
  ck_assert_int_eq(sink_jobs_fail(a, &ca, "late", 0, NULL), SINK_JOBS_ERR_LOST);
  /* the heartbeat connection may renew on the claim's behalf */
  ck_assert_int_eq(sink_jobs_heartbeat(a, &cb, 10000), 0);
  ck_assert_int_eq(sink_jobs_complete(b, &cb, 7, NULL), 0);
  assert_q(c,
           "SELECT state || ' ' || chunks_done || ' ' || slots_done || ' ' || transactions "
           "FROM backfill_jobs WHERE id = %" PRId64,
           job, "done 1 10 7");
  assert_q(c,
           "SELECT lease_owner IS NULL AND state = 'done' AND attempts = 2 FROM "
           "backfill_chunks WHERE job_id = %" PRId64,
           job, "t");
  sink_jobs_close(a);
  sink_jobs_close(b);
  PQfinish(c);
  free(uri);
}
END_TEST

/* A failing chunk is retried after a backoff, up to max_attempts; then the
 * chunk and the job fail with the error visible; a worker whose lease ran
 * out with no attempt left fails the job too. */
START_TEST(retries_then_failure) {
  PGconn *c;
  char *uri = tu_fresh_migrated_db("jobs", &c);
  sink_jobs_t *a = jobs_open(uri, "worker-a");
  int64_t job;
  ck_assert_int_eq(sink_jobs_enqueue(a, 1, 10, 5, NULL, 3, &job), 0);
  sink_chunk_t ch;
  bool failed = true;
  ck_assert_int_eq(sink_jobs_claim(a, 10000, &ch), 1);
  ck_assert_int_eq(ch.seq, 0);
  ck_assert_int_eq(sink_jobs_fail(a, &ch, "node said no (1)", 400, &failed), 0);
  ck_assert(!failed);
  /* chunk 0 waits out its backoff: the next claim is chunk 1 */
  sink_chunk_t other;
  ck_assert_int_eq(sink_jobs_claim(a, 10000, &other), 1);
  ck_assert_int_eq(other.seq, 1);
  ck_assert_int_eq(sink_jobs_claim(a, 10000, &ch), 0);
  sink_job_info_t info;
  ck_assert_int_eq(sink_jobs_get(a, job, &info), 0);
  ck_assert_msg(strstr(info.last_error, "node said no (1)") != NULL, "%s", info.last_error);
  ck_assert_int_eq(info.state, SINK_JOB_RUNNING);
  tu_sleep_ms(500);
  ck_assert_int_eq(sink_jobs_claim(a, 10000, &ch), 1);
  ck_assert_int_eq(ch.seq, 0);
  ck_assert_int_eq(ch.attempt, 2);
  ck_assert_int_eq(sink_jobs_fail(a, &ch, "node said no (2)", 1, &failed), 0);
  ck_assert(!failed);
  tu_sleep_ms(50);
  ck_assert_int_eq(sink_jobs_claim(a, 10000, &ch), 1);
  ck_assert_int_eq(ch.attempt, 3);
  ck_assert_int_eq(sink_jobs_fail(a, &ch, "node said no (3)", 1, &failed), 0);
  ck_assert(failed);
  ck_assert_int_eq(sink_jobs_get(a, job, &info), 0);
  ck_assert_int_eq(info.state, SINK_JOB_FAILED);
  ck_assert_int_eq(info.chunks_failed, 1);
  ck_assert_msg(strstr(info.last_error, "chunk 0 (slots 1..5) failed after 3 attempts: "
                                        "node said no (3)") != NULL,
                "%s", info.last_error);
  ck_assert_int_gt(info.finished_ms, 0);
  /* the other chunk's holder learns it at its heartbeat; nothing claimable */
  ck_assert_int_eq(sink_jobs_heartbeat(a, &other, 10000), SINK_JOBS_ERR_LOST);
  ck_assert_int_eq(sink_jobs_claim(a, 10000, &ch), 0);

  /* lease runs out on the last attempt: the next claimer fails the job */
  int64_t job2;
  ck_assert_int_eq(sink_jobs_enqueue(a, 20, 30, 100, NULL, 1, &job2), 0);
  ck_assert_int_eq(sink_jobs_claim(a, 300, &ch), 1);
  tu_sleep_ms(450);
  ck_assert_int_eq(sink_jobs_claim(a, 300, &ch), 0);
  ck_assert_int_eq(sink_jobs_get(a, job2, &info), 0);
  ck_assert_int_eq(info.state, SINK_JOB_FAILED);
  ck_assert_msg(strstr(info.last_error, "lease expired") != NULL, "%s", info.last_error);
  sink_jobs_close(a);
  PQfinish(c);
  free(uri);
}
END_TEST

/* A listening handle wakes on an enqueue (NOTIFY), and times out without. */
START_TEST(notify_wakes_listener) {
  PGconn *c;
  char *uri = tu_fresh_migrated_db("jobs", &c);
  sink_jobs_t *a = jobs_open(uri, "worker-a"), *b = jobs_open(uri, "worker-b");
  ck_assert_int_eq(sink_jobs_listen(a), 0);
  ck_assert_int_eq(sink_jobs_wait(a, 100), 0);
  int64_t job;
  ck_assert_int_eq(sink_jobs_enqueue(b, 1, 2, 0, NULL, 0, &job), 0);
  long t0 = tu_now_ms();
  ck_assert_int_eq(sink_jobs_wait(a, 5000), 1);
  ck_assert_int_lt(tu_now_ms() - t0, 2000);
  ck_assert_int_eq(sink_jobs_wait(a, 50), 0); /* consumed */
  sink_jobs_close(a);
  sink_jobs_close(b);
  PQfinish(c);
  free(uri);
}
END_TEST

/* ---- workers end to end --------------------------------------------------- */

typedef struct wenv {
  idl_t *idl;
  cb_decoder_t *dec;
  char url[64];
  rpc_options_t ro;
  worker_options_t wo;
} wenv_t;

static void wenv_init(wenv_t *e, const char *uri, int port, const char *owner) {
  char err[512];
  e->idl = NULL;
  if (cb_decoder_default_idl(&e->idl, err, sizeof err) != 0) abort();
  if (cb_decoder_new(e->idl, &e->dec, NULL) != 0) abort();
  snprintf(e->url, sizeof e->url, "http://127.0.0.1:%d", port);
  rpc_options_init(&e->ro);
  e->ro.endpoints = e->url;
  e->ro.max_in_flight = 4;
  e->ro.retry_base_ms = 20;
  worker_options_init(&e->wo);
  e->wo.conninfo = uri;
  e->wo.rpc = &e->ro;
  e->wo.decoder = e->dec;
  e->wo.program_id = jsonx_get_str(ex_meta(expected()), "program_id");
  e->wo.concurrency = 1;
  e->wo.rpc_concurrency = 4;
  e->wo.lease_ms = 1500;
  e->wo.poll_ms = 300;
  e->wo.owner = owner;
  e->wo.exit_when_idle = true;
}

static void wenv_free(wenv_t *e) {
  cb_decoder_free(e->dec);
  idl_free(e->idl);
}

/* Forks a worker process (dies with the test). */
static pid_t fork_worker(const char *uri, int port, const char *owner, int lease_ms) {
  pid_t parent = getpid();
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    char path[600];
    snprintf(path, sizeof path, "%s/%s.log", g_tmpdir, owner);
    if (!freopen(path, "w", stderr)) _exit(126);
    log_set_level("info");
    wenv_t e;
    wenv_init(&e, uri, port, owner);
    e.wo.lease_ms = lease_ms;
    char err[512];
    worker_stats_t st;
    int rc = worker_run(&e.wo, NULL, &st, err, sizeof err);
    wenv_free(&e);
    _exit(rc == 0 ? 0 : 1);
  }
  return pid;
}

/* exact_tx: every chunk ran once, so the job's transaction count is the
 * scenario's (a resumed chunk counts only what it fetched after resuming). */
static void assert_job_matches_expected(PGconn *c, int64_t job, int chunks, bool exact_tx) {
  char want[64];
  snprintf(want, sizeof want, "done %d %d", chunks, chunks);
  assert_q(c,
           "SELECT state || ' ' || chunks_total || ' ' || chunks_done FROM backfill_jobs "
           "WHERE id = %" PRId64,
           job, want);
  char ss[32];
  snprintf(ss, sizeof ss, "%" PRIu64, meta_u64("account_read_slot"));
  ex_assert_expected(c, expected(), true, 0, UINT64_MAX, ss, NULL);
  tu_assert_query(c, "SELECT count(*) FROM dead_letters", "0");
  /* chunk checkpoints are removed with their completion */
  tu_assert_query(c, "SELECT count(*) FROM sync_checkpoints WHERE stream LIKE 'job:%'", "0");
  snprintf(want, sizeof want, "%" PRIu64, meta_u64("signature_count"));
  if (exact_tx)
    assert_q(c, "SELECT transactions FROM backfill_jobs WHERE id = %" PRId64, job, want);
}

/* Two in-process workers share a job of several chunks; the tables equal
 * expected.json and every chunk ran exactly once. */
START_TEST(two_workers_match_expected) {
  rc_child_t rs;
  PGconn *c;
  char *uri = rc_start_with_db(&rs, g_chain, NULL, "jobs", &c);
  uint64_t from = meta_u64("start_slot"), to = meta_u64("tip_slot");
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT backfill_market_data(%" PRIu64 ", %" PRIu64 ", 20)", from, to);
  char *id = tu_query1(c, sql);
  int64_t job = strtoll(id, NULL, 10);
  free(id);
  int chunks = (int)((to - from) / 20 + 1);
  ck_assert_int_ge(chunks, 4);
  wenv_t ea, eb;
  wenv_init(&ea, uri, rs.port, "wa");
  wenv_init(&eb, uri, rs.port, "wb");
  worker_t *wa, *wb;
  char err[512];
  ck_assert_msg(worker_start(&ea.wo, &wa, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(worker_start(&eb.wo, &wb, err, sizeof err) == 0, "%s", err);
  long deadline = tu_now_ms() + 60000;
  while (!(worker_idle_done(wa) && worker_idle_done(wb)) && tu_now_ms() < deadline)
    tu_sleep_ms(50);
  worker_stats_t sa, sb;
  worker_stop(wa, &sa);
  worker_stop(wb, &sb);
  ck_assert_uint_eq(sa.chunks_done + sb.chunks_done, (uint64_t)chunks);
  ck_assert_uint_gt(sa.chunks_done, 0);
  ck_assert_uint_gt(sb.chunks_done, 0);
  ck_assert_uint_eq(sa.chunks_failed + sb.chunks_failed, 0);
  assert_job_matches_expected(c, job, chunks, true);
  assert_q(c, "SELECT count(*) FROM backfill_chunks WHERE attempts <> 1 AND job_id = %" PRId64, job,
           "0");
  assert_q(c,
           "SELECT count(DISTINCT split_part(lease_owner, ':', 1)) FROM backfill_chunks "
           "WHERE job_id = %" PRId64,
           job, "0"); /* leases cleared */
  wenv_free(&ea);
  wenv_free(&eb);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

/* Two worker processes; one is SIGKILLed in the middle of a chunk (rows of
 * it written, chunk not complete). The other claims that chunk after its
 * lease expires (attempt 2), resumes it and finishes the job: the tables
 * equal expected.json. */
START_TEST(sigkilled_worker_chunk_is_redone) {
  static const char *const lat[] = {"--latency-ms", "20", NULL};
  rc_child_t rs;
  PGconn *c;
  char *uri = rc_start_with_db(&rs, g_chain, lat, "jobs", &c);
  uint64_t from = meta_u64("start_slot"), to = meta_u64("tip_slot");
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT backfill_market_data(%" PRIu64 ", %" PRIu64 ", 40)", from, to);
  char *id = tu_query1(c, sql);
  int64_t job = strtoll(id, NULL, 10);
  free(id);
  int chunks = (int)((to - from) / 40 + 1);
  const int lease = 2000;
  pid_t a = fork_worker(uri, rs.port, "victim", lease);
  /* wait until the victim holds a chunk that has written rows but is not done */
  int victim_seq = -1;
  for (int i = 0; i < 2000 && victim_seq < 0; i++) {
    tu_sleep_ms(5);
    PGresult *r = PQexec(c, "SELECT c.seq FROM backfill_chunks c WHERE c.state = 'running' AND "
                            "c.lease_owner LIKE 'victim:%' AND EXISTS (SELECT 1 FROM transactions "
                            "t WHERE t.slot BETWEEN c.from_slot AND c.to_slot)");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    if (PQntuples(r) == 1) victim_seq = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
  }
  ck_assert_msg(victim_seq >= 0, "the victim never held a chunk with rows written");
  pid_t b = fork_worker(uri, rs.port, "survivor", lease);
  kill(a, SIGKILL);
  ck_assert_int_eq(tu_wait_exit(a, 0, NULL), 128 + SIGKILL);
  long killed_at = tu_now_ms();
  char logpath[600];
  snprintf(logpath, sizeof logpath, "%s/survivor.log", g_tmpdir);
  ck_assert_int_eq(tu_wait_exit(b, 90000, logpath), 0);
  (void)killed_at;
  assert_job_matches_expected(c, job, chunks, false);
  char q[300];
  snprintf(q, sizeof q,
           "SELECT attempts || ' ' || state FROM backfill_chunks WHERE job_id = %" PRId64
           " AND seq = %d",
           job, victim_seq);
  tu_assert_query(c, q, "2 done");
  char *log = tu_read_file(logpath, NULL);
  char want[64];
  snprintf(want, sizeof want, "chunk=%d slots=", victim_seq);
  ck_assert_msg(strstr(log, want) && strstr(log, "attempt=2"), "survivor log: %s", log);
  free(log);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

/* An unreachable node: the chunk retries with backoff, then the job fails
 * with the RPC error visible; the worker exits. */
START_TEST(worker_failure_is_visible) {
  PGconn *c;
  char *uri = tu_fresh_migrated_db("jobs", &c);
  sink_jobs_t *j = jobs_open(uri, "t:0");
  int64_t job;
  ck_assert_int_eq(sink_jobs_enqueue(j, 1000, 1010, 100, NULL, 2, &job), 0);
  wenv_t e;
  wenv_init(&e, uri, 1, "wf"); /* port 1: connection refused */
  e.ro.max_retries = 1;
  e.wo.retry_backoff_ms = 50;
  worker_stats_t st;
  char err[512];
  ck_assert_int_eq(worker_run(&e.wo, NULL, &st, err, sizeof err), 0);
  sink_job_info_t info;
  ck_assert_int_eq(sink_jobs_get(j, job, &info), 0);
  ck_assert_msg(info.state == SINK_JOB_FAILED, "state %s", sink_job_state_name(info.state));
  ck_assert_uint_eq(st.chunks_failed, 2);
  ck_assert_msg(strstr(info.last_error, "failed after 2 attempts") != NULL, "%s", info.last_error);
  ck_assert_int_eq(info.attempts, 2);
  assert_q(c,
           "SELECT last_error IS NOT NULL AND state = 'failed' FROM backfill_chunks WHERE "
           "job_id = %" PRId64,
           job, "t");
  wenv_free(&e);
  sink_jobs_close(j);
  PQfinish(c);
  free(uri);
}
END_TEST

/* An idle worker with a long poll interval picks up a new job at once
 * (NOTIFY), and a cancel stops the chunk it is running. */
START_TEST(idle_worker_wakes_and_cancel_stops_chunk) {
  static const char *const lat[] = {"--latency-ms", "40", NULL};
  rc_child_t rs;
  PGconn *c;
  char *uri = rc_start_with_db(&rs, g_chain, lat, "jobs", &c);
  wenv_t e;
  wenv_init(&e, uri, rs.port, "wi");
  e.wo.exit_when_idle = false;
  e.wo.poll_ms = 60000;
  e.wo.lease_ms = 800;
  e.ro.max_in_flight = 1;
  e.wo.rpc_concurrency = 1;
  worker_t *w;
  char err[512];
  ck_assert_msg(worker_start(&e.wo, &w, err, sizeof err) == 0, "%s", err);
  tu_sleep_ms(500); /* the worker is idle, waiting */
  sink_jobs_t *j = jobs_open(uri, "t:0");
  int64_t job;
  ck_assert_int_eq(
      sink_jobs_enqueue(j, meta_u64("start_slot"), meta_u64("tip_slot"), 1000, NULL, 0, &job), 0);
  long t0 = tu_now_ms();
  sink_job_info_t info;
  do {
    tu_sleep_ms(20);
    ck_assert_int_eq(sink_jobs_get(j, job, &info), 0);
  } while (info.chunks_running == 0 && tu_now_ms() - t0 < 5000);
  ck_assert_msg(info.chunks_running == 1, "not claimed within 5 s");
  ck_assert_int_lt(tu_now_ms() - t0, 3000);
  ck_assert_int_eq(sink_jobs_cancel(j, job), 0);
  /* the heartbeat (every lease/4) sees the cancel and stops the chunk */
  worker_stats_t st;
  t0 = tu_now_ms();
  do {
    tu_sleep_ms(20);
    worker_get_stats(w, &st);
  } while (st.chunks_lost == 0 && tu_now_ms() - t0 < 5000);
  ck_assert_uint_eq(st.chunks_lost, 1);
  ck_assert_uint_eq(st.chunks_done, 0);
  worker_stop(w, &st);
  ck_assert_int_eq(sink_jobs_get(j, job, &info), 0);
  ck_assert_int_eq(info.state, SINK_JOB_CANCELLED);
  ck_assert_int_eq(info.chunks_done, 0);
  sink_jobs_close(j);
  wenv_free(&e);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

/* ---- command line ------------------------------------------------------------ */

/* Runs the binary with args (NULL-terminated) and the database URL;
 * returns the exit code, stdout in *out (caller frees, may be NULL). */
static int run_cli(const char *uri, const char *const *args, char **out) {
  static int n;
  char of[600], ef[600];
  snprintf(of, sizeof of, "%s/cli-%d.out", g_tmpdir, n);
  snprintf(ef, sizeof ef, "%s/cli-%d.err", g_tmpdir, n++);
  const char *const extra[] = {"--database-url", uri, NULL};
  pid_t pid = tu_spawn("crypto-bet-indexer", args, extra, of, ef);
  int code = tu_wait_exit(pid, 120000, ef);
  if (out) *out = tu_read_file(of, NULL);
  return code;
}

/* backfill --enqueue / --status / --wait / --cancel and the worker
 * command: a job enqueued from the command line, refused twice, run by a
 * `worker --exit-when-done`, waited for (exit 0), tables as expected; a
 * cancelled job makes --wait exit 1; mode conflicts are usage errors. */
START_TEST(cli_enqueue_worker_status_wait_cancel) {
  rc_child_t rs;
  PGconn *c;
  char *uri = rc_start_with_db(&rs, g_chain, NULL, "jobs", &c);
  char from[32], to[32], url[64];
  snprintf(from, sizeof from, "%" PRIu64, meta_u64("start_slot"));
  snprintf(to, sizeof to, "%" PRIu64, meta_u64("tip_slot"));
  snprintf(url, sizeof url, "http://127.0.0.1:%d", rs.port);
  char *out;
  const char *const enq[] = {"backfill", "--enqueue",     "--from-slot", from, "--to-slot",
                             to,         "--chunk-slots", "40",          NULL};
  ck_assert_int_eq(run_cli(uri, enq, &out), 0);
  ck_assert_msg(strstr(out, "job 1 enqueued") && strstr(out, "in 4 chunks"), "%s", out);
  free(out);
  ck_assert_int_eq(run_cli(uri, enq, NULL), 1); /* duplicate of an active job */
  const char *const st_all[] = {"backfill", "--status", "--json", NULL};
  ck_assert_int_eq(run_cli(uri, st_all, &out), 0);
  char e[200];
  json_t *arr = jsonx_loads(out, strlen(out), e, sizeof e);
  ck_assert_msg(json_is_array(arr) && json_array_size(arr) == 1, "%s", out);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "state")), "pending");
  json_decref(arr);
  free(out);
  const char *const work[] = {
      "worker", "--exit-when-done", "--rpc-url", url, "--job-concurrency", "2", "--concurrency",
      "8",      "--lease",          "5",         NULL};
  ck_assert_int_eq(run_cli(uri, work, NULL), 0);
  const char *const wait1[] = {"backfill", "--wait", "1", NULL};
  ck_assert_int_eq(run_cli(uri, wait1, &out), 0);
  ck_assert_msg(strstr(out, "job 1 done") && strstr(out, "100%"), "%s", out);
  free(out);
  const char *const st1[] = {"backfill", "--status", "1", NULL};
  ck_assert_int_eq(run_cli(uri, st1, &out), 0);
  ck_assert_msg(strstr(out, "chunks 4/4") && strstr(out, "[########################]"), "%s", out);
  free(out);
  assert_job_matches_expected(c, 1, 4, true);

  const char *const enq2[] = {"backfill",  "--enqueue", "--from-slot", "1",
                              "--to-slot", "5",         "--json",      NULL};
  ck_assert_int_eq(run_cli(uri, enq2, &out), 0);
  /* the refused duplicate consumed a sequence value */
  int64_t id2 = 0;
  ck_assert_int_eq(sscanf(out, "{\"id\":%" SCNd64 "}", &id2), 1);
  ck_assert_int_gt(id2, 1);
  free(out);
  char id2s[24];
  snprintf(id2s, sizeof id2s, "%" PRId64, id2);
  const char *const cancel2[] = {"backfill", "--cancel", id2s, NULL};
  ck_assert_int_eq(run_cli(uri, cancel2, NULL), 0);
  ck_assert_int_eq(run_cli(uri, cancel2, NULL), 1); /* already ended */
  const char *const wait2[] = {"backfill", "--wait", id2s, NULL};
  ck_assert_int_eq(run_cli(uri, wait2, &out), 1);
  ck_assert_msg(strstr(out, "cancelled") != NULL, "%s", out);
  free(out);
  const char *const wait9[] = {"backfill", "--wait", "99", NULL};
  ck_assert_int_eq(run_cli(uri, wait9, NULL), 1);
  const char *const bad1[] = {"backfill", "--enqueue", "--from-slot", "1", NULL};
  ck_assert_int_eq(run_cli(uri, bad1, NULL), 2);
  const char *const bad2[] = {"backfill", "--status", "--cancel", "1", NULL};
  ck_assert_int_eq(run_cli(uri, bad2, NULL), 2);
  const char *const bad3[] = {"backfill", "--cancel", "x", NULL};
  ck_assert_int_eq(run_cli(uri, bad3, NULL), 2);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

/* ---- main ------------------------------------------------------------------ */

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  log_set_level("warn");
  snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/cbi-test-jobs.XXXXXX");
  if (!mkdtemp(g_tmpdir) ||
      ex_scenario("chain", g_tmpdir, "--sig-page-limit 50", g_chain, sizeof g_chain) != 0) {
    fprintf(stderr, "test_jobs: cannot prepare the chain scenario\n");
    return 1;
  }
  Suite *s = suite_create("jobs");
  if (tu_have_pg()) {
    TCase *tc = tcase_create("queue");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sql_function_and_duplicate);
    tcase_add_test(tc, cancel_job);
    tcase_add_test(tc, expired_lease_is_claimed_again);
    tcase_add_test(tc, retries_then_failure);
    tcase_add_test(tc, notify_wakes_listener);
    suite_add_tcase(s, tc);
    tc = tcase_create("workers");
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, two_workers_match_expected);
    tcase_add_test(tc, sigkilled_worker_chunk_is_redone);
    tcase_add_test(tc, worker_failure_is_visible);
    tcase_add_test(tc, idle_worker_wakes_and_cancel_stops_chunk);
    tcase_add_test(tc, cli_enqueue_worker_status_wait_cancel);
    suite_add_tcase(s, tc);
  }
  int rc = tu_run_suite(s);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmpdir);
  if (system(cmd) != 0) rc = 1;
  json_decref(g_expected);
  return rc;
}
