/* Live sync throughput, latency and memory, end to end through the real
 * binary: cbi-replay streams generated programNotifications at a fixed
 * rate over the websocket, `crypto-bet-indexer live` decodes and writes
 * them to PostgreSQL, and exits when the stream has been quiet for 1.5 s.
 *
 * The stream: Position accounts (the data of a real fixture position)
 * under N_KEYS distinct generated pubkeys, each update at the slot of its
 * time (400 ms slots, with slotNotifications), so every update is a real
 * upsert. A first (unmeasured) run creates the N_KEYS rows; the measured
 * runs update them, as a daemon following the chain does: CBI_BENCH_REPS
 * runs (default 5) at 10,000 updates/s, then HI_REPS runs (default 3;
 * CBI_BENCH_REPS when set) each at 20,000 and at 40,000 updates/s, every
 * run with a new daemon on a stream of later slots. The database tracks
 * the program already (checkpoint before the first slot): no snapshot,
 * only live traffic.
 *
 * Figures (from the daemon's closing log lines and wait4()), each the
 * median over the runs at its rate, with the spread:
 *   latency: notification received -> its batch committed, p50 and p99
 *   commit cadence at 10,000/s: updates window / sink batches (the mean
 *     time between commits), account updates / sink batches (records per
 *     commit), background flush time / background flushes (the mean time
 *     a commit takes)
 *   sustained: updates / (first notification received -> last commit)
 *   peak RSS of the daemon (per run; the goal holds for the largest)
 *
 *   CBI_BUILD (default build), CBI_TEST_DATABASE_URL (bench/run.sh),
 *   CBI_BENCH_REPS, BENCH_LIVE_KEEP (keep logs and streams). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base58.h"
#include "benchutil.h"
#include "jsonx.h"
#include "migrate.h"

#define PROGRAM "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe"
#define N_KEYS 20000
#define START_SLOT ((uint64_t)400000000)
#define SLOT_MS 400
#define LEAD_MS 500 /* stream start -> first update */

#define DEFAULT_REPS 5 /* runs at 10,000/s */
#define DEFAULT_HI_REPS 3 /* runs at 20,000/s and at 40,000/s */

/* Goals. */
#define GOAL_SUSTAINED 20000.0
#define GOAL_P99_MS 50.0
#define GOAL_RSS_MB 64.0

/* The first position of fixtures/chain: its account JSON members. */
typedef struct {
  char *data_b64;
  uint64_t lamports, space;
} acct_t;

static int load_position(acct_t *a) {
  size_t len;
  char *exp = bu_read_file("fixtures/chain/expected.json", &len);
  char *acc = NULL;
  json_t *e = NULL, *accs = NULL;
  int rc = -1;
  if (!exp) goto out;
  e = jsonx_loads(exp, len, NULL, 0);
  const char *pk =
      jsonx_get_str(json_array_get(json_object_get(e, "positions_cache"), 0), "position_pubkey");
  acc = bu_read_file("fixtures/chain/accounts.json", &len);
  if (!pk || !acc) goto out;
  accs = jsonx_loads(acc, len, NULL, 0);
  json_t *a0 = json_object_get(accs, pk);
  const char *data = jsonx_get_str(a0, "data");
  if (!data || jsonx_get_u64(a0, "lamports", &a->lamports) != 0 ||
      jsonx_get_u64(a0, "space", &a->space) != 0)
    goto out;
  a->data_b64 = strdup(data);
  rc = a->data_b64 ? 0 : -1;
out:
  json_decref(e);
  json_decref(accs);
  free(exp);
  free(acc);
  return rc;
}

/* Writes dir/ws.jsonl: n updates at rate per second from slot start. */
static int gen_stream(const char *dir, const acct_t *a, char (*keys)[48], unsigned rate,
                      unsigned n, uint64_t start) {
  char path[600];
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) return -1;
  snprintf(path, sizeof path, "%s/rpc.jsonl", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  /* a gap fill (after a reconnect) finds no transactions */
  fprintf(f, "{\"request\":{\"method\":\"getSignaturesForAddress\",\"params\":[\"" PROGRAM
             "\",{\"limit\":1000,\"commitment\":\"confirmed\"}]},\"response\":{\"result\":[]}}\n");
  /* the confirmed tip (getSlot) is the stream's last slot, and every slot
   * has a block time (getBlockTime: the analytics' latest indexed day) */
  uint64_t last = start + ((uint64_t)(n ? n - 1 : 0) * 1000 / rate) / SLOT_MS;
  fprintf(f, "{\"request\":{\"method\":\"getSlot\",\"params\":[{\"commitment\":"
             "\"confirmed\"}]},\"response\":{\"result\":%" PRIu64 "}}\n",
          last);
  for (uint64_t s = start; s <= last; s++)
    fprintf(f, "{\"request\":{\"method\":\"getBlockTime\",\"params\":[%" PRIu64
               "]},\"response\":{\"result\":%" PRIu64 "}}\n",
            s, (uint64_t)1700000000 + s * SLOT_MS / 1000);
  fclose(f);
  snprintf(path, sizeof path, "%s/ws.jsonl", dir);
  f = fopen(path, "w");
  if (!f) return -1;
  /* The first slot at once: the daemon's start-up gap fill runs on it, and
   * the updates follow LEAD_MS later, so the figures are those of a daemon
   * following the chain, not of its start (the replay server holds what is
   * due in its first --ws-join-ms and sends it in one burst). */
  fprintf(f,
          "{\"at_ms\":0,\"method\":\"slotNotification\",\"params\":{\"result\":"
          "{\"parent\":%" PRIu64 ",\"root\":%" PRIu64 ",\"slot\":%" PRIu64 "}}}\n",
          start - 1, start - 32, start);
  uint64_t last_slot = start;
  for (unsigned i = 0; i < n; i++) {
    uint64_t rel = (uint64_t)i * 1000 / rate;
    uint64_t at = LEAD_MS + rel;
    uint64_t slot = start + rel / SLOT_MS;
    if (slot != last_slot) {
      fprintf(f,
              "{\"at_ms\":%" PRIu64 ",\"method\":\"slotNotification\",\"params\":{\"result\":"
              "{\"parent\":%" PRIu64 ",\"root\":%" PRIu64 ",\"slot\":%" PRIu64 "}}}\n",
              at, slot - 1, slot - 32, slot);
      last_slot = slot;
    }
    fprintf(f,
            "{\"at_ms\":%" PRIu64 ",\"method\":\"programNotification\",\"params\":{\"result\":"
            "{\"context\":{\"apiVersion\":\"2.0.15\",\"slot\":%" PRIu64 "},\"value\":{\"pubkey\":"
            "\"%s\",\"account\":{\"data\":[\"%s\",\"base64\"],\"executable\":false,"
            "\"lamports\":%" PRIu64 ",\"owner\":\"" PROGRAM "\",\"rentEpoch\":"
            "18446744073709551615,\"space\":%" PRIu64 "}}}}}\n",
            at, slot, keys[i % N_KEYS], a->data_b64, a->lamports, a->space);
  }
  return fclose(f) == 0 ? 0 : -1;
}

static int exec_sql(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok) fprintf(stderr, "bench_live: %s: %s", sql, PQerrorMessage(c));
  PQclear(r);
  return ok ? 0 : -1;
}

/* Fresh database <name>, migrated, checkpoint "live" at the first slot of
 * the seeding stream. Writes its URI into uri. */
static int fresh_db(const char *base, const char *name, char *uri, size_t urisz) {
  if (bu_create_db("bench_live", base, name, uri, urisz) != 0) return -1;
  PGconn *c = PQconnectdb(uri);
  char err[512];
  if (PQstatus(c) != CONNECTION_OK || migrate_run(uri, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "bench_live: migrate: %s\n", err);
    PQfinish(c);
    return -1;
  }
  char sql[200];
  snprintf(sql, sizeof sql,
           "INSERT INTO sync_checkpoints (stream, slot) VALUES ('live', %" PRIu64 ")", START_SLOT);
  int rc = exec_sql(c, sql);
  PQfinish(c);
  return rc;
}

static long count_positions(const char *uri) {
  PGconn *c = PQconnectdb(uri);
  long n = -1;
  PGresult *r = PQexec(c, "SELECT count(*) FROM positions_cache");
  if (PQresultStatus(r) == PGRES_TUPLES_OK) n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  PQfinish(c);
  return n;
}

typedef struct {
  unsigned rate, n;
  uint64_t updates, window_ms;
  double p50, p99;
  /* the sink's closing line: batches committed, background flushes and
   * their total time; the foreground flushes (stopped line) */
  double batches, bg_flushes, bg_flush_ms, flushes, flush_ms;
  long rss_kb;
  long rows;
  int ok;
} result_t;

/* The log line containing needle, copied into buf (NUL-terminated, no
 * newline); NULL when there is none. */
static const char *log_line(const char *log, const char *needle, char *buf, size_t bufsz) {
  const char *p = log ? strstr(log, needle) : NULL;
  if (!p) return NULL;
  while (p > log && p[-1] != '\n') p--;
  size_t n = strcspn(p, "\n");
  if (n >= bufsz) n = bufsz - 1;
  memcpy(buf, p, n);
  buf[n] = '\0';
  return buf;
}

/* The number after " key=" in line, or -1 when the key is absent. */
static double field(const char *line, const char *key) {
  char k[64];
  snprintf(k, sizeof k, " %s=", key);
  const char *p = strstr(line, k);
  return p ? strtod(p + strlen(k), NULL) : -1.0;
}

/* Copies the last lines of a failed run's log to stderr. */
static void log_tail(const char *log) {
  if (!log) return;
  const char *p = log + strlen(log);
  if (p > log && p[-1] == '\n') p--;
  for (int lines = 0; p > log; p--)
    if (p[-1] == '\n' && ++lines == 6) break;
  fprintf(stderr, "bench_live: the log ends with:\n%s", p);
}

/* One live run over a generated stream against the database at uri. */
static int run_one(const char *uri, const char *tmp, const char *tag, const acct_t *a,
                   char (*keys)[48], unsigned rate, unsigned n, uint64_t start, result_t *res) {
  char dir[400], logf[500];
  memset(res, 0, sizeof *res);
  res->rate = rate;
  res->n = n;
  snprintf(dir, sizeof dir, "%s/%s", tmp, tag);
  if (gen_stream(dir, a, keys, rate, n, start) != 0) return -1;
  int port = 0;
  static const char *const replay_args[] = {"--speed", "1", NULL};
  pid_t rp = bu_replay_start(dir, replay_args, 60000, &port);
  if (rp < 0) return -1;
  char bin[512], rpc[64], ws[64];
  snprintf(bin, sizeof bin, "%s/crypto-bet-indexer", bu_build_dir());
  snprintf(rpc, sizeof rpc, "http://127.0.0.1:%d/", port);
  snprintf(ws, sizeof ws, "ws://127.0.0.1:%d/", port);
  snprintf(logf, sizeof logf, "%s/live_%s.log", tmp, tag);
  pid_t lp = fork();
  if (lp == 0) {
    FILE *f = freopen(logf, "w", stderr);
    (void)f;
    execl(bin, bin, "live", "--database-url", uri, "--rpc-url", rpc, "--ws-url", ws,
          "--exit-when-idle", "1500", "--status-interval", getenv("BENCH_LIVE_KEEP") ? "1" : "0",
          "--reconcile-interval", "0",
          (char *)NULL);
    _exit(127);
  }
  int st = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  pid_t w = wait4(lp, &st, 0, &ru);
  kill(rp, SIGTERM);
  waitpid(rp, NULL, 0);
  res->rss_kb = ru.ru_maxrss;
  char *log = bu_read_file(logf, NULL);
  char stopped[2048], sinkl[2048];
  const char *line = log_line(log, "stopped reason=", stopped, sizeof stopped);
  const char *sl = log_line(log, " sink batches=", sinkl, sizeof sinkl);
  if (w != lp || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !line || !sl) {
    fprintf(stderr, "bench_live: live run at %u/s failed (status %d%s); log %s\n", rate, st,
            line && !sl ? ", no sink line" : "", logf);
    log_tail(log);
    free(log);
    return -1;
  }
  res->updates = (uint64_t)field(line, "account_updates");
  res->window_ms = (uint64_t)field(line, "updates_window_ms");
  res->p50 = field(line, "latency_p50_ms");
  res->p99 = field(line, "latency_p99_ms");
  res->flushes = field(line, "flushes");
  res->flush_ms = field(line, "flush_ms");
  res->batches = field(sl, "batches");
  res->bg_flushes = field(sl, "background_flushes");
  res->bg_flush_ms = field(sl, "background_flush_ms");
  free(log);
  if (res->flushes < 0 || res->flush_ms < 0) res->flushes = res->flush_ms = 0; /* optional */
  if (res->p50 < 0 || res->p99 < 0 || res->batches <= 0 || res->bg_flushes < 0 ||
      res->bg_flush_ms < 0) {
    fprintf(stderr, "bench_live: %s: the closing lines lack a figure (log %s)\n", tag, logf);
    return -1;
  }
  res->rows = count_positions(uri);
  res->ok = res->updates == n && res->rows == N_KEYS;
  if (!res->ok)
    fprintf(stderr, "bench_live: %s at %u/s applied %" PRIu64 " of %u updates, %ld rows\n", tag,
            rate, res->updates, n, res->rows);
  return 0;
}

static double per_s(const result_t *r) {
  return r->window_ms ? (double)r->updates * 1000.0 / (double)r->window_ms : NAN;
}

/* Mean duration of one commit (sink_flush) of a run: the background
 * flushes, or all flushes when the run had no background flush. */
static double flush_mean_ms(const result_t *r) {
  if (r->bg_flushes > 0) return r->bg_flush_ms / r->bg_flushes;
  double n = r->flushes + r->bg_flushes;
  return n > 0 ? (r->flush_ms + r->bg_flush_ms) / n : NAN;
}

/* The runs at one rate. */
typedef struct {
  unsigned rate, n;
  int reps, done;
  result_t r[BU_MAX_REPS];
} series_t;

/* Samples of one quantity over a series' runs. */
static void samples(const series_t *s, double (*get)(const result_t *), double *out) {
  for (int i = 0; i < s->done; i++) out[i] = get(&s->r[i]);
}
static double get_p50(const result_t *r) { return r->p50; }
static double get_p99(const result_t *r) { return r->p99; }
static double get_rate(const result_t *r) { return per_s(r); }
static double get_interval(const result_t *r) {
  return r->batches > 0 ? (double)r->window_ms / r->batches : NAN;
}
static double get_batch(const result_t *r) {
  return r->batches > 0 ? (double)r->updates / r->batches : NAN;
}
static double get_rss(const result_t *r) { return (double)r->rss_kb / 1024.0; }

/* Prints the figure name (median over the series) with details. Returns 0
 * or -1. */
static int figure(const series_t *s, const char *name, const char *unit, int prec,
                  double (*get)(const result_t *), const char *details) {
  double v[BU_MAX_REPS];
  samples(s, get, v);
  return bu_figure(name, unit, prec, v, s->done, "%s", details);
}

int main(void) {
  const char *base = getenv("CBI_TEST_DATABASE_URL");
  if (!base) base = getenv("DATABASE_URL");
  if (!base) {
    fprintf(stderr, "bench_live: CBI_TEST_DATABASE_URL not set (run through bench/run.sh)\n");
    return 2;
  }
  if (sodium_init() < 0) return 1;
  acct_t a;
  if (load_position(&a) != 0) {
    fprintf(stderr, "bench_live: cannot read a position from fixtures/chain\n");
    return 1;
  }
  char(*keys)[48] = calloc(N_KEYS, sizeof *keys);
  if (!keys) return 1;
  for (unsigned i = 0; i < N_KEYS; i++) {
    uint8_t k[32];
    randombytes_buf(k, sizeof k);
    base58_encode_32(k, keys[i]);
  }
  char tmp[] = "/tmp/cbi-bench-live-XXXXXX";
  if (!mkdtemp(tmp)) return 1;

  /* The database: N_KEYS positions written by a first live run (not
   * measured); the measured runs update them, as a daemon does for months. */
  char uri[600], name[64];
  snprintf(name, sizeof name, "bench_live_%d", (int)getpid());
  if (fresh_db(base, name, uri, sizeof uri) != 0) return 1;
  result_t seed;
  int failed = 0;
  if (run_one(uri, tmp, "seed", &a, keys, 20000, N_KEYS, START_SLOT, &seed) != 0 || !seed.ok) {
    fprintf(stderr, "bench_live: seeding run failed\n");
    failed = 1;
  }
  int reps = bu_reps("bench_live", DEFAULT_REPS);
  const char *re = getenv("CBI_BENCH_REPS");
  int hi_reps = re && *re ? reps : DEFAULT_HI_REPS;
  /* a quiet stream (each update finds the flusher idle: one commit per
   * update or so), the latency goal's rate, and two loads */
  series_t ser[4] = {{10000, 80000, reps, 0, {{0}}},
                     {20000, 160000, hi_reps, 0, {{0}}},
                     {40000, 160000, hi_reps, 0, {{0}}},
                     {200, 1200, hi_reps, 0, {{0}}}};
  /* every run a stream of later slots than the last: each update applies */
  uint64_t start = START_SLOT;
  for (int i = 0; i < 4 && !failed; i++) {
    for (int k = 0; k < ser[i].reps && !failed; k++) {
      char tag[32];
      snprintf(tag, sizeof tag, "r%u_%d", ser[i].rate, k + 1);
      start += 1000000;
      result_t *r = &ser[i].r[k];
      if (run_one(uri, tmp, tag, &a, keys, ser[i].rate, ser[i].n, start, r) != 0 || !r->ok)
        failed = 1;
      else
        ser[i].done++;
      if (!getenv("BENCH_LIVE_KEEP")) { /* the stream files are large */
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/%s'", tmp, tag);
        if (system(cmd) != 0) fprintf(stderr, "bench_live: could not remove %s/%s\n", tmp, tag);
      }
    }
  }
  PGconn *dc = PQconnectdb(base);
  char sql[128];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
  exec_sql(dc, sql);
  PQfinish(dc);

  char d[512];
  const series_t *s10 = &ser[0], *s20 = &ser[1], *s40 = &ser[2], *s02 = &ser[3];
  int bad = 0;
  if (s02->done == s02->reps) {
    snprintf(d, sizeof d, "a quiet stream: notification received -> committed, %u updates per "
             "run", s02->n);
    bad |= figure(s02, "live_latency_p50_at_200_per_s", "ms", 2, get_p50, d);
    bad |= figure(s02, "live_latency_p99_at_200_per_s", "ms", 2, get_p99, d);
    bad |= figure(s02, "live_batch_records_at_200_per_s", "records", 1, get_batch,
                  "account updates / sink batches");
    bad |= figure(s02, "live_flush_duration_at_200_per_s", "ms", 2, flush_mean_ms,
                  "mean sink_flush time (the commit of one batch)");
  }
  if (s10->done == s10->reps) {
    snprintf(d, sizeof d, "notification received -> committed, %u updates per run", s10->n);
    bad |= figure(s10, "live_latency_p50_at_10000_per_s", "ms", 2, get_p50, d);
    snprintf(d, sizeof d, "goal < %.0f ms; notification received -> committed, %u updates per run",
             GOAL_P99_MS, s10->n);
    bad |= figure(s10, "live_latency_p99_at_10000_per_s", "ms", 2, get_p99, d);
    bad |= figure(s10, "live_commit_interval_at_10000_per_s", "ms", 1, get_interval,
                  "updates window (first notification -> last commit) / sink batches");
    bad |= figure(s10, "live_batch_records_at_10000_per_s", "records", 0, get_batch,
                  "account updates / sink batches");
    bad |= figure(s10, "live_flush_duration_at_10000_per_s", "ms", 2, flush_mean_ms,
                  "mean sink_flush time of the background flushes (the commit of one batch)");
  }
  if (s20->done == s20->reps) {
    snprintf(d, sizeof d, "goal >= %.0f; %u updates per run", GOAL_SUSTAINED, s20->n);
    bad |= figure(s20, "live_sustained_at_20000_per_s", "updates/s", 0, get_rate, d);
    bad |= figure(s20, "live_latency_p50_at_20000_per_s", "ms", 2, get_p50, "");
    bad |= figure(s20, "live_latency_p99_at_20000_per_s", "ms", 2, get_p99, "");
  }
  if (s40->done == s40->reps) {
    snprintf(d, sizeof d, "%u updates per run, offered at 40000/s", s40->n);
    bad |= figure(s40, "live_saturation_offered_40000_per_s", "updates/s", 0, get_rate, d);
    bad |= figure(s40, "live_latency_p50_at_40000_per_s", "ms", 2, get_p50, "");
    bad |= figure(s40, "live_latency_p99_at_40000_per_s", "ms", 2, get_p99, "");
  }
  if (!failed) { /* every run's peak, the seeding run's too */
    double v[1 + 4 * BU_MAX_REPS], mx = 0;
    int n = 0;
    v[n++] = get_rss(&seed);
    for (int i = 0; i < 4; i++)
      for (int k = 0; k < ser[i].done; k++) v[n++] = get_rss(&ser[i].r[k]);
    for (int i = 0; i < n; i++)
      if (v[i] > mx) mx = v[i];
    snprintf(d, sizeof d, "peak of each run, all rates and the seeding run; goal < %.0f MiB "
             "for the largest: %.1f MiB", GOAL_RSS_MB, mx);
    bad |= bu_figure("live_peak_rss_mb", "MiB", 1, v, n, "%s", d);
  }
  if (bad) failed = 1;
  if (getenv("BENCH_LIVE_KEEP") || failed) {
    fprintf(stderr, "bench_live: logs and streams kept in %s\n", tmp);
  } else {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "bench_live: could not remove %s\n", tmp);
  }
  free(keys);
  free(a.data_b64);
  return failed ? 1 : 0;
}
