/* Backfill job throughput: one job over a generated scenario
 * (tools/gen-fixtures.py --markets 10 --wallets 100 --bets 2000: about
 * 1600 slots, 2450 signatures) run by 1, 2 and 4 workers (in-process, one
 * chunk at a time each, 16 RPC calls in flight per chunk) against the
 * replay server with 20 ms added per HTTP response; then the chunk size
 * swept at 2 workers, counting the JSON-RPC calls the node answered (what a
 * chunk costs the node); then failover between two live replicas. Each
 * measurement is repeated CBI_BENCH_REPS times (default 3); figures are
 * medians with the spread: "bench NAME: VALUE UNIT (median of N, ...)".
 * Needs CBI_TEST_DATABASE_URL and CBI_BUILD (bench/run.sh). */
#include <inttypes.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "benchutil.h"
#include "cb_decoder.h"
#include "idl.h"
#include "jsonx.h"
#include "log.h"
#include "migrate.h"
#include "rpc.h"
#include "sink_jobs.h"
#include "worker.h"

#define SCENARIO_ARGS "--markets 10 --wallets 100 --bets 2000"
#define LATENCY_MS "20"
#define RPC_IN_FLIGHT 16

typedef struct meta {
  uint64_t start_slot, tip_slot, signatures;
  char program_id[64];
} meta_t;

static int ensure_scenario(char *dir, size_t dirsz) {
  snprintf(dir, dirsz, "%s/bench-data/jobs-m10-b2000", bu_build_dir());
  char exp[700];
  snprintf(exp, sizeof exp, "%s/expected.json", dir);
  struct stat st;
  if (stat(exp, &st) == 0) return 0;
  char cmd[1400];
  snprintf(cmd, sizeof cmd,
           "mkdir -p %s/bench-data && python3 tools/gen-fixtures.py --out %s " SCENARIO_ARGS
           " --encoding json --no-verify > /dev/null",
           bu_build_dir(), dir);
  return system(cmd) == 0 && stat(exp, &st) == 0 ? 0 : -1;
}

static int read_meta(const char *dir, meta_t *m) {
  char path[700], err[200];
  snprintf(path, sizeof path, "%s/expected.json", dir);
  size_t len;
  char *text = bu_read_file(path, &len);
  if (!text) return -1;
  json_t *e = jsonx_loads(text, len, err, sizeof err);
  free(text);
  if (!e) return -1;
  const json_t *mj = json_object_get(e, "meta");
  int rc = jsonx_get_u64(mj, "start_slot", &m->start_slot) == 0 &&
                   jsonx_get_u64(mj, "tip_slot", &m->tip_slot) == 0 &&
                   jsonx_get_u64(mj, "signature_count", &m->signatures) == 0 &&
                   jsonx_get_str(mj, "program_id")
               ? 0
               : -1;
  if (rc == 0) snprintf(m->program_id, sizeof m->program_id, "%s", jsonx_get_str(mj, "program_id"));
  json_decref(e);
  return rc;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userp) {
  char **buf = userp;
  size_t n = size * nmemb, have = *buf ? strlen(*buf) : 0;
  char *nb = realloc(*buf, have + n + 1);
  if (!nb) return 0;
  memcpy(nb + have, data, n);
  nb[have + n] = '\0';
  *buf = nb;
  return n;
}

/* rpc_calls answered by the replay server so far (-1 on error). */
static long long replay_calls(int port) {
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/stats", port);
  char *body = NULL;
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(e);
  curl_easy_cleanup(e);
  long long v = -1;
  if (rc == CURLE_OK && body) {
    json_t *d = json_loads(body, 0, NULL);
    if (d && json_is_integer(json_object_get(d, "rpc_calls")))
      v = (long long)json_integer_value(json_object_get(d, "rpc_calls"));
    json_decref(d);
  }
  free(body);
  return v;
}

/* ---- failover ------------------------------------------------------------------ */

#define DEFAULT_REPS 3

static pid_t spawn_live(const char *uri, int port, const char *logpath) {
  char bin[600], rpc[64], ws[64];
  snprintf(bin, sizeof bin, "%s/crypto-bet-indexer", bu_build_dir());
  snprintf(rpc, sizeof rpc, "http://127.0.0.1:%d/", port);
  snprintf(ws, sizeof ws, "ws://127.0.0.1:%d/", port);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(logpath, "w", stderr)) _exit(126);
    execl(bin, bin, "live", "--database-url", uri, "--rpc-url", rpc, "--ws-url", ws,
          "--exit-when-idle", "2500", "--leader-lease", "5", (char *)NULL);
    _exit(127);
  }
  return pid;
}

/* Wall-clock ms of the first line of path containing needle, or -1. */
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

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long count_q(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  long n = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
               ? strtol(PQgetvalue(r, 0, 0), NULL, 10)
               : -1;
  PQclear(r);
  return n;
}

/* Two live replicas (--leader-lease 5) on fixtures/chain-days at
 * normal speed; the leader is SIGKILLed once it has written rows. Returns
 * ms from the kill to the standby's first commit (its gap fill), or -1. */
static int64_t failover_once(const char *base, int round) {
  static const char *const rx[] = {"--speed", "1", "--ws-slot-heartbeat-ms", "100", NULL};
  int port;
  pid_t rp = bu_replay_start("fixtures/chain-days", rx, 10000, &port);
  if (rp < 0) return -1;
  char uri[600], name[64], err[512], la[700], lb[700];
  snprintf(name, sizeof name, "bench_failover_%d_%d", (int)getpid(), round);
  int64_t out = -1;
  PGconn *c = NULL;
  pid_t a = -1, b = -1;
  if (bu_create_db("bench_jobs", base, name, uri, sizeof uri) != 0) goto done;
  c = PQconnectdb(uri);
  if (PQstatus(c) != CONNECTION_OK || migrate_run(uri, NULL, err, sizeof err) != 0) goto done;
  PQclear(PQexec(c, "INSERT INTO sync_checkpoints (stream, slot) VALUES ('live', 309999999)"));
  snprintf(la, sizeof la, "%s/bench-data/failover-a-%d.log", bu_build_dir(), round);
  snprintf(lb, sizeof lb, "%s/bench-data/failover-b-%d.log", bu_build_dir(), round);
  /* an earlier run's logs would answer the waits below before these start */
  unlink(la);
  unlink(lb);
  a = spawn_live(uri, port, la);
  for (int i = 0; i < 500 && log_time_of(la, "leading: starting live") < 0; i++)
    usleep(10000);
  b = spawn_live(uri, port, lb);
  for (int i = 0; i < 500 && count_q(c, "SELECT count(*) FROM transactions") < 8; i++)
    usleep(10000);
  kill(a, SIGKILL);
  int64_t killed = wall_ms();
  waitpid(a, NULL, 0);
  a = -1;
  int st = 0;
  for (int i = 0; i < 3000 && waitpid(b, &st, WNOHANG) == 0; i++)
    usleep(10000);
  if (waitpid(b, &st, WNOHANG) == 0) kill(b, SIGKILL), waitpid(b, NULL, 0);
  b = -1;
  int64_t commit = log_time_of(lb, "gap filled");
  if (commit > 0) out = commit - killed;
done:
  if (a > 0) kill(a, SIGKILL), waitpid(a, NULL, 0);
  if (b > 0) kill(b, SIGKILL), waitpid(b, NULL, 0);
  if (c) PQfinish(c);
  kill(rp, SIGTERM);
  waitpid(rp, NULL, 0);
  return out;
}

typedef struct result {
  double seconds;
  long long calls;
  int chunks;
} result_t;

/* One job over the whole scenario, chunk_slots per chunk, run by nworkers
 * workers; returns 0 and fills *res. */
static int run_job(const char *base, int port, const meta_t *m, const cb_decoder_t *dec,
                   int nworkers, uint64_t chunk_slots, int round, result_t *res) {
  char uri[600], name[64], err[512];
  snprintf(name, sizeof name, "bench_jobs_%d_%d", (int)getpid(), round);
  if (bu_create_db("bench_jobs", base, name, uri, sizeof uri) != 0) return -1;
  PGconn *c = PQconnectdb(uri);
  if (PQstatus(c) != CONNECTION_OK || migrate_run(uri, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "bench_jobs: migrate: %s\n", err);
    PQfinish(c);
    return -1;
  }
  PQfinish(c);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  rpc_options_t ro;
  rpc_options_init(&ro);
  ro.endpoints = url;
  ro.max_in_flight = RPC_IN_FLIGHT;
  worker_options_t wo;
  worker_options_init(&wo);
  wo.conninfo = uri;
  wo.rpc = &ro;
  wo.decoder = dec;
  wo.program_id = m->program_id;
  wo.rpc_concurrency = RPC_IN_FLIGHT;
  wo.poll_ms = 200;
  wo.lease_ms = 10000;
  wo.exit_when_idle = true;
  sink_jobs_t *j = NULL;
  if (sink_jobs_open(uri, "bench", 5000, &j, err, sizeof err) != 0) return -1;
  long long calls0 = replay_calls(port);
  double t0 = bu_now_s();
  int64_t job;
  if (sink_jobs_enqueue(j, m->start_slot, m->tip_slot, chunk_slots, NULL, 0, &job) != 0) {
    fprintf(stderr, "bench_jobs: enqueue: %s\n", sink_jobs_last_error(j));
    sink_jobs_close(j);
    return -1;
  }
  worker_t *w[8];
  int started = 0;
  for (int i = 0; i < nworkers; i++) {
    char owner[32];
    snprintf(owner, sizeof owner, "bench-w%d", i);
    wo.owner = owner;
    if (worker_start(&wo, &w[i], err, sizeof err) != 0) break;
    started++;
  }
  int ok = started == nworkers;
  for (int i = 0; i < started; i++) {
    while (!worker_idle_done(w[i]))
      usleep(10000);
  }
  res->seconds = bu_now_s() - t0;
  for (int i = 0; i < started; i++)
    worker_stop(w[i], NULL);
  res->calls = replay_calls(port) - calls0;
  sink_job_info_t info;
  if (sink_jobs_get(j, job, &info) != 0 || info.state != SINK_JOB_DONE) {
    fprintf(stderr, "bench_jobs: job did not complete (%s)\n", info.last_error);
    ok = 0;
  }
  res->chunks = info.chunks_total;
  sink_jobs_close(j);
  PGconn *a = PQconnectdb(base); /* the run's database is not needed again */
  char sql[100];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
  PQclear(PQexec(a, sql));
  PQfinish(a);
  return ok ? 0 : -1;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  log_set_level("error");
  const char *base = getenv("CBI_TEST_DATABASE_URL");
  if (!base) {
    fprintf(stderr, "bench_jobs: CBI_TEST_DATABASE_URL not set (run through bench/run.sh)\n");
    return 1;
  }
  char dir[600];
  meta_t m;
  if (ensure_scenario(dir, sizeof dir) != 0 || read_meta(dir, &m) != 0) {
    fprintf(stderr, "bench_jobs: cannot prepare the scenario\n");
    return 1;
  }
  idl_t *idl = NULL;
  cb_decoder_t *dec = NULL;
  char err[256];
  if (cb_decoder_default_idl(&idl, err, sizeof err) != 0 || cb_decoder_new(idl, &dec, NULL) != 0)
    return 1;
  rpc_global_init();
  static const char *const lat[] = {"--latency-ms", LATENCY_MS, NULL};
  int port;
  pid_t rp = bu_replay_start(dir, lat, 10000, &port);
  if (rp < 0) {
    fprintf(stderr, "bench_jobs: cannot start cbi-replay\n");
    return 1;
  }
  uint64_t slots = m.tip_slot - m.start_slot + 1;
  printf("scenario: %s (%" PRIu64 " slots, %" PRIu64 " signatures), %s ms per response, %d "
         "calls in flight per chunk\n",
         dir, slots, m.signatures, LATENCY_MS, RPC_IN_FLIGHT);
  int rc = 0, round = 0, reps = bu_reps("bench_jobs", DEFAULT_REPS);
  const uint64_t chunk = 100;
  static const int workers[] = {1, 2, 4};
  static const uint64_t sizes[] = {25, 100, 400, 1600};
  enum { NWK = sizeof workers / sizeof workers[0], NSZ = sizeof sizes / sizeof sizes[0] };
  double tps[NWK][BU_MAX_REPS], sps[NWK][BU_MAX_REPS], speed[NWK][BU_MAX_REPS];
  double secs[NSZ][BU_MAX_REPS], calls[NSZ][BU_MAX_REPS], over[BU_MAX_REPS],
      over_calls[BU_MAX_REPS];
  int chunks[NSZ] = {0}, nover = 0;
  for (int k = 0; k < reps && rc == 0; k++) {
    for (int i = 0; i < NWK && rc == 0; i++) {
      result_t r;
      if (run_job(base, port, &m, dec, workers[i], chunk, round++, &r) != 0 || r.seconds <= 0) {
        rc = 1;
        break;
      }
      tps[i][k] = (double)m.signatures / r.seconds;
      sps[i][k] = (double)slots / r.seconds;
      speed[i][k] = tps[i][k] / tps[0][k];
    }
    /* Chunk size: per-chunk overhead in time and in node calls. */
    result_t rs[NSZ];
    for (int i = 0; i < NSZ && rc == 0; i++) {
      if (run_job(base, port, &m, dec, 2, sizes[i], round++, &rs[i]) != 0 || rs[i].calls < 0) {
        rc = 1;
        break;
      }
      secs[i][k] = rs[i].seconds;
      calls[i][k] = (double)rs[i].calls;
      chunks[i] = rs[i].chunks;
    }
    /* Fixed cost of a chunk: the worker time (2 workers) the smallest
     * chunks add over the 400-slot ones, per extra chunk. */
    if (rc == 0 && rs[0].chunks > rs[2].chunks) {
      double extra = (double)(rs[0].chunks - rs[2].chunks);
      over[nover] = 2.0 * (rs[0].seconds - rs[2].seconds) / extra * 1000.0;
      over_calls[nover++] = (double)(rs[0].calls - rs[2].calls) / extra;
    }
  }
  kill(rp, SIGTERM);
  waitpid(rp, NULL, 0);
  if (rc == 0) {
    char name[96];
    for (int i = 0; i < NWK; i++) {
      snprintf(name, sizeof name, "jobs_tx_per_s_%d_workers", workers[i]);
      rc |= bu_figure(name, "tx/s", 0, tps[i], reps, "chunks of %" PRIu64 " slots", chunk) != 0;
      snprintf(name, sizeof name, "jobs_slots_per_s_%d_workers", workers[i]);
      rc |= bu_figure(name, "slots/s", 0, sps[i], reps, NULL) != 0;
      if (workers[i] > 1) {
        snprintf(name, sizeof name, "jobs_speedup_%d_workers", workers[i]);
        rc |= bu_figure(name, "x", 2, speed[i], reps, "over 1 worker, per run") != 0;
      }
    }
    for (int i = 0; i < NSZ; i++) {
      snprintf(name, sizeof name, "jobs_chunk_%" PRIu64 "_seconds", sizes[i]);
      rc |= bu_figure(name, "s", 2, secs[i], reps, "%d chunks, 2 workers", chunks[i]) != 0;
      snprintf(name, sizeof name, "jobs_chunk_%" PRIu64 "_rpc_calls", sizes[i]);
      rc |= bu_figure(name, "calls", 0, calls[i], reps, "%.2f per signature",
                      bu_median(calls[i], reps) / (double)m.signatures) != 0;
    }
    if (nover > 0)
      rc |= bu_figure("jobs_chunk_overhead", "ms", 0, over, nover,
                      "per chunk, worker time: chunks of 25 vs 400 slots; %.1f node calls",
                      bu_median(over_calls, nover)) != 0;
  }
  /* Failover: leader SIGKILL to the standby's first commit. */
  double fo[BU_MAX_REPS], sumf = 0;
  int okruns = 0;
  for (int i = 0; i < reps; i++) {
    int64_t ms = failover_once(base, i);
    if (ms < 0) {
      fprintf(stderr, "bench_jobs: failover run %d failed\n", i + 1);
      rc = 1;
      continue;
    }
    fo[okruns++] = (double)ms;
    sumf += (double)ms;
  }
  if (okruns == reps)
    rc |= bu_figure("failover", "ms", 0, fo, okruns,
                    "leader SIGKILL to the standby's first commit, --leader-lease 5; mean %.0f ms",
                    sumf / okruns) != 0;
  cb_decoder_free(dec);
  idl_free(idl);
  return rc;
}
