/* Backfill throughput: the real binary against the replay server with 20 ms
 * added per HTTP response, over a large generated scenario (tools/
 * gen-fixtures.py --markets 50 --wallets 500 --bets 20000), at the default
 * settings and at concurrency 1 (on the newest slots of the range, bounded
 * in time). Needs CBI_TEST_DATABASE_URL and CBI_BUILD (bench/run.sh).
 *
 * Peak memory: the binary's peak RSS (VmHWM, sampled) over the whole range
 * of that scenario (about 25,000 transactions) and of one about eight times
 * larger (--markets 400 --wallets 4000 --bets 170000, about 200,000
 * transactions; no added latency): backfill works in slot windows, so the
 * two figures should be about equal. CBI_BENCH_RSS_LARGE=0 skips the large
 * one (its scenario takes several minutes and about 3 GB to generate).
 *
 * The scenarios are generated once into BUILD/bench-data/ and reused;
 * CBI_BENCH_BACKFILL_DIR points at another one for the first. Figures count
 * whole runs: signature walk, getTransaction/getBlock, database writes and
 * the account refresh. The default and concurrency-1 runs are repeated
 * CBI_BENCH_REPS times (default 3, each on a fresh database; figures are
 * medians with the spread); the large scenario runs once. */
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "jsonx.h"

#define LATENCY_MS "20"
#define C1_SLOTS 250          /* slots of the concurrency-1 run */
#define C1_TIME_LIMIT_S 40    /* SIGTERM after this (the figure stays valid) */
#define DEFAULT_REPS 3
#define GOAL_TX_PER_S 1000.0

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

#define SCENARIO_ARGS "--markets 50 --wallets 500 --bets 20000"
#define LARGE_ARGS "--markets 400 --wallets 4000 --bets 170000"

/* 1 when the generated directory's expected.json was made with args
 * (its meta.command near the top of the file), else 0. A directory cached by an
 * earlier run with other arguments is generated again. */
static int scenario_matches(const char *exp, const char *args) {
  FILE *f = fopen(exp, "rb");
  if (!f) return 0;
  char head[4096];
  size_t n = fread(head, 1, sizeof head - 1, f);
  fclose(f);
  head[n] = '\0';
  char want[200];
  snprintf(want, sizeof want, " %s ", args);
  return strstr(head, want) != NULL;
}

/* Generates the scenario (args, in BUILD/bench-data/name, or env's
 * directory when set) unless present. Returns 0 or -1. */
static int ensure_scenario(char *dir, size_t dirsz, const char *env, const char *name,
                           const char *args) {
  char exp[700];
  if (env && *env) {
    snprintf(dir, dirsz, "%s", env);
  } else {
    snprintf(dir, dirsz, "%s/bench-data/%s", bu_build_dir(), name);
  }
  snprintf(exp, sizeof exp, "%s/expected.json", dir);
  if (file_exists(exp) && ((env && *env) || scenario_matches(exp, args))) return 0;
  char cmd[1400];
  snprintf(cmd, sizeof cmd, "mkdir -p %s/bench-data", bu_build_dir());
  if (system(cmd) != 0) return -1;
  printf("generating %s (once) ...\n", dir);
  fflush(stdout);
  double t0 = bu_now_s();
  snprintf(cmd, sizeof cmd,
           "python3 tools/gen-fixtures.py --out %s %s --encoding json --no-verify > /dev/null", dir,
           args);
  if (system(cmd) != 0) return -1;
  printf("generated in %.0f s\n", bu_now_s() - t0);
  return file_exists(exp) ? 0 : -1;
}

typedef struct meta {
  uint64_t start_slot, tip_slot, signatures;
} meta_t;

static int read_meta(const char *dir, meta_t *m) {
  char path[700];
  snprintf(path, sizeof path, "%s/expected.json", dir);
  size_t len = 0;
  char *buf = bu_read_file(path, &len);
  char err[200];
  json_t *doc = buf ? jsonx_loads(buf, len, err, sizeof err) : NULL;
  free(buf);
  const json_t *meta = json_object_get(doc, "meta");
  int rc = (jsonx_get_u64(meta, "start_slot", &m->start_slot) == 0 &&
            jsonx_get_u64(meta, "tip_slot", &m->tip_slot) == 0 &&
            jsonx_get_u64(meta, "signature_count", &m->signatures) == 0)
               ? 0
               : -1;
  json_decref(doc);
  return rc;
}

/* ---- database ------------------------------------------------------------ */

/* A fresh database name migrated by the binary under test (it applies its
 * own embedded migrations); its URI goes into uri. Returns 0 or -1. */
static int fresh_db(const char *name, char *uri, size_t urisz) {
  const char *base = getenv("CBI_TEST_DATABASE_URL");
  if (!base || bu_create_db("bench_backfill", base, name, uri, urisz) != 0) return -1;
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "%s/crypto-bet-indexer migrate --database-url '%s' --log-level warn",
           bu_build_dir(), uri);
  if (system(cmd) != 0) {
    fprintf(stderr, "bench_backfill: migrate failed\n");
    return -1;
  }
  return 0;
}

/* ---- runs ------------------------------------------------------------------ */

typedef struct result {
  int exit_code;
  double seconds;
  uint64_t transactions, accounts;
  long peak_rss_kb; /* the backfill program's peak resident set (VmHWM) */
} result_t;

static uint64_t field(const char *line, const char *key) {
  const char *p = strstr(line, key);
  if (!p) return 0;
  return strtoull(p + strlen(key), NULL, 10);
}

/* VmHWM of pid in kB (the peak resident set of its current program: reset
 * by exec, so the bench's own memory, shared by the child between fork and
 * exec, does not count, as it would in wait4's ru_maxrss), or 0. */
static long vm_hwm_kb(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  long kb = 0;
  int execd = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "Name:", 5) == 0) execd = strstr(line, "crypto-bet") != NULL;
    if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
  }
  fclose(f);
  return execd ? kb : 0; /* before exec the child is a copy of the bench */
}

/* Runs `crypto-bet-indexer backfill` with extra args; SIGTERM after
 * limit_s (0 = none). Parses the summary line from its log. */
static int run_backfill(const char *uri, int port, uint64_t from, uint64_t to,
                        const char *const *extra, int limit_s, result_t *res) {
  char path[600], url[64], f[32], t[32], logpath[] = "/tmp/cbi-bench-backfill.XXXXXX";
  int lfd = mkstemp(logpath);
  if (lfd < 0) return -1;
  snprintf(path, sizeof path, "%s/crypto-bet-indexer", bu_build_dir());
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  snprintf(f, sizeof f, "%" PRIu64, from);
  snprintf(t, sizeof t, "%" PRIu64, to);
  const char *argv[32] = {path, "backfill", "--from-slot", f, "--to-slot", t, "--rpc-url", url,
                          "--database-url", uri, "--progress", "none"};
  int n = 12;
  for (int i = 0; extra && extra[i] && n < 30; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  double t0 = bu_now_s();
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(lfd, STDERR_FILENO);
    execv(path, (char *const *)argv);
    _exit(127);
  }
  int st = 0, termed = 0;
  long hwm = 0;
  for (;;) {
    long h = vm_hwm_kb(pid); /* sampled every 20 ms; the peak holds until exit */
    if (h > hwm) hwm = h;
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    if (limit_s > 0 && !termed && bu_now_s() - t0 > limit_s) {
      kill(pid, SIGTERM);
      termed = 1;
    }
    struct timespec ts = {0, 20000000L};
    nanosleep(&ts, NULL);
  }
  res->seconds = bu_now_s() - t0;
  res->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  res->peak_rss_kb = hwm;
  /* summary line */
  FILE *lf = fdopen(lfd, "r");
  char line[4096];
  res->transactions = res->accounts = 0;
  if (lf) {
    rewind(lf);
    while (fgets(line, sizeof line, lf)) {
      if (strstr(line, "[backfill] summary")) {
        res->transactions = field(line, " transactions=");
        res->accounts = field(line, " accounts=");
      } else if (strstr(line, "ERROR")) {
        fputs(line, stderr);
      }
    }
    fclose(lf);
  } else {
    close(lfd);
  }
  unlink(logpath);
  return 0;
}

/* The peak RSS over the large scenario's whole range. Returns 0 or 1. */
static int bench_large_rss(void) {
  const char *skip = getenv("CBI_BENCH_RSS_LARGE");
  if (skip && strcmp(skip, "0") == 0) {
    printf("large scenario skipped (CBI_BENCH_RSS_LARGE=0)\n");
    return 0;
  }
  char dir[600], uri[600];
  if (ensure_scenario(dir, sizeof dir, NULL, "backfill-m400-b170000", LARGE_ARGS) != 0) {
    fprintf(stderr, "bench_backfill: cannot generate the large scenario\n");
    return 1;
  }
  meta_t m;
  if (read_meta(dir, &m) != 0) return 1;
  double t0 = bu_now_s();
  int port = 0;
  pid_t rp = bu_replay_start(dir, NULL, 900000, &port);
  if (rp < 0) {
    fprintf(stderr, "bench_backfill: cannot start cbi-replay on the large scenario\n");
    return 1;
  }
  printf("large scenario: %s, %" PRIu64 " signatures (replay server loaded in %.1f s)\n", dir,
         m.signatures, bu_now_s() - t0);
  int rc = 0;
  result_t r;
  if (fresh_db("bench_backfill_large", uri, sizeof uri) != 0 ||
      run_backfill(uri, port, m.start_slot, m.tip_slot, NULL, 0, &r) != 0) {
    rc = 1;
  } else if (r.exit_code != 0 || r.transactions != m.signatures) {
    fprintf(stderr, "bench_backfill: large run exit=%d transactions=%" PRIu64 " (want %" PRIu64
            ")\n", r.exit_code, r.transactions, m.signatures);
    rc = 1;
  } else {
    double v = (double)r.peak_rss_kb / 1024.0;
    if (r.peak_rss_kb <= 0 ||
        bu_figure("backfill_peak_rss_200k", "MiB", 1, &v, 1,
                  "one run, whole range: %" PRIu64 " transactions + %" PRIu64
                  " accounts in %.2f s, no added latency",
                  r.transactions, r.accounts, r.seconds) != 0)
      rc = 1;
  }
  kill(rp, SIGTERM);
  waitpid(rp, NULL, 0);
  return rc;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  if (!getenv("CBI_TEST_DATABASE_URL")) {
    fprintf(stderr, "bench_backfill: CBI_TEST_DATABASE_URL not set (run through bench/run.sh)\n");
    return 1;
  }
  char dir[600];
  if (ensure_scenario(dir, sizeof dir, getenv("CBI_BENCH_BACKFILL_DIR"), "backfill-m50-b20000",
                      SCENARIO_ARGS) != 0) {
    fprintf(stderr, "bench_backfill: cannot generate the scenario (tools/gen-fixtures.py)\n");
    return 1;
  }
  meta_t m;
  if (read_meta(dir, &m) != 0) {
    fprintf(stderr, "bench_backfill: %s/expected.json has no meta\n", dir);
    return 1;
  }
  double t0 = bu_now_s();
  int port = 0;
  static const char *const replay_args[] = {"--latency-ms", LATENCY_MS, NULL};
  pid_t rp = bu_replay_start(dir, replay_args, 300000, &port);
  if (rp < 0) {
    fprintf(stderr, "bench_backfill: cannot start cbi-replay\n");
    return 1;
  }
  printf("scenario: %s, %" PRIu64 " signatures over slots %" PRIu64 "..%" PRIu64
         " (replay server loaded in %.1f s, %s ms per response)\n",
         dir, m.signatures, m.start_slot, m.tip_slot, bu_now_s() - t0, LATENCY_MS);
  int rc = 0, reps = bu_reps("bench_backfill", DEFAULT_REPS);
  static const char *const c1[] = {"--concurrency", "1", "--batch", "1", "--no-refresh", NULL};
  uint64_t from1 = m.tip_slot >= C1_SLOTS ? m.tip_slot - C1_SLOTS + 1 : 0;
  double rate[BU_MAX_REPS], rate1[BU_MAX_REPS], rss[BU_MAX_REPS];
  uint64_t accounts = 0, tx1 = 0;
  int stopped1 = 0;
  for (int k = 0; k < reps; k++) {
    result_t d, one;
    char u1[600], u2[600];
    if (fresh_db("bench_backfill_default", u1, sizeof u1) != 0 ||
        fresh_db("bench_backfill_c1", u2, sizeof u2) != 0 ||
        run_backfill(u1, port, m.start_slot, m.tip_slot, NULL, 0, &d) != 0) {
      fprintf(stderr, "bench_backfill: setup failed\n");
      rc = 1;
      goto out;
    }
    if (d.exit_code != 0 || d.transactions != m.signatures || d.seconds <= 0 ||
        d.peak_rss_kb <= 0) {
      fprintf(stderr, "bench_backfill: default run exit=%d transactions=%" PRIu64 " (want %" PRIu64
              ")\n", d.exit_code, d.transactions, m.signatures);
      rc = 1;
      goto out;
    }
    if (run_backfill(u2, port, from1, m.tip_slot, c1, C1_TIME_LIMIT_S, &one) != 0 ||
        one.transactions == 0 || one.seconds <= 0) {
      fprintf(stderr, "bench_backfill: concurrency-1 run failed (exit=%d, %" PRIu64
              " transactions)\n", one.exit_code, one.transactions);
      rc = 1;
      goto out;
    }
    rate[k] = (double)d.transactions / d.seconds;
    rate1[k] = (double)one.transactions / one.seconds;
    rss[k] = (double)d.peak_rss_kb / 1024.0;
    accounts = d.accounts;
    tx1 = one.transactions;
    if (one.exit_code != 0) stopped1++;
  }
  double r1 = bu_median(rate1, reps);
  if (bu_figure("backfill", "tx/s", 0, rate, reps,
                "concurrency 128, batch 4; whole run of %" PRIu64 " transactions + %" PRIu64
                " accounts: signature walk, fetch, writes, refresh; concurrency 1: %.1f tx/s; "
                "goal >= %.0f tx/s",
                m.signatures, accounts, r1, GOAL_TX_PER_S) != 0 ||
      bu_figure("backfill_concurrency_1", "tx/s", 1, rate1, reps,
                "--concurrency 1 --batch 1 --no-refresh over slots %" PRIu64 "..%" PRIu64
                " (%" PRIu64 " transactions in the last run; %d of %d runs stopped at the %d s "
                "limit)",
                from1, m.tip_slot, tx1, stopped1, reps, C1_TIME_LIMIT_S) != 0 ||
      bu_figure("backfill_peak_rss_25k", "MiB", 1, rss, reps,
                "peak of each default run, whole range, %" PRIu64 " transactions",
                m.signatures) != 0)
    rc = 1;
out:
  kill(rp, SIGTERM);
  waitpid(rp, NULL, 0);
  if (rc == 0) rc = bench_large_rss();
  return rc;
}
