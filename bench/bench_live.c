/* Live sync throughput, latency and memory, end to end through the real
 * binary: cbi-replay streams generated programNotifications at a fixed
 * rate over the websocket, `crypto-bet-indexer live` decodes and writes
 * them to PostgreSQL, and exits when the stream has been quiet for 1.5 s.
 *
 * The stream: Position accounts (the data of a real fixture position)
 * under N_KEYS distinct generated pubkeys, each update at the slot of its
 * time (400 ms slots, with slotNotifications), so every update is a real
 * upsert. A first (unmeasured) run creates the N_KEYS rows; the measured
 * runs, at 10,000, 20,000 and 40,000 updates/s, update them, as a daemon
 * following the chain does. The database tracks the program already
 * (checkpoint before the first slot): no snapshot, only live traffic.
 *
 * Figures (from the daemon's closing line and wait4()):
 *   latency: notification received -> its batch committed, p50/p99
 *   sustained: updates / (first notification received -> last commit)
 *   peak RSS of the daemon
 *
 *   CBI_BUILD (default build), CBI_TEST_DATABASE_URL (bench/run.sh). */
#include <errno.h>
#include <inttypes.h>
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

/* Goals (issue 5). */
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
  long rss_kb;
  long rows;
  int ok;
} result_t;

static double field(const char *line, const char *key) {
  const char *p = strstr(line, key);
  return p ? strtod(p + strlen(key), NULL) : -1.0;
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
  const char *line = log ? strstr(log, "stopped reason=") : NULL;
  if (w != lp || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !line) {
    fprintf(stderr, "bench_live: live run at %u/s failed (status %d); log %s\n", rate, st, logf);
    free(log);
    return -1;
  }
  res->updates = (uint64_t)field(line, "account_updates=");
  res->window_ms = (uint64_t)field(line, "updates_window_ms=");
  res->p50 = field(line, "latency_p50_ms=");
  res->p99 = field(line, "latency_p99_ms=");
  free(log);
  res->rows = count_positions(uri);
  res->ok = res->updates == n && res->rows == N_KEYS;
  if (!res->ok)
    fprintf(stderr, "bench_live: %s at %u/s applied %" PRIu64 " of %u updates, %ld rows\n", tag,
            rate, res->updates, n, res->rows);
  return 0;
}

static double per_s(const result_t *r) {
  return r->window_ms ? (double)r->updates * 1000.0 / (double)r->window_ms : 0.0;
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
  struct {
    unsigned rate, n;
    const char *tag;
  } runs[] = {{10000, 80000, "r10000"}, {20000, 160000, "r20000"}, {40000, 160000, "r40000"}};
  result_t res[3];
  memset(res, 0, sizeof res);
  for (int i = 0; i < 3 && !failed; i++) {
    uint64_t start = START_SLOT + (uint64_t)(i + 1) * 1000000;
    if (run_one(uri, tmp, runs[i].tag, &a, keys, runs[i].rate, runs[i].n, start, &res[i]) != 0 ||
        !res[i].ok)
      failed = 1;
  }
  long rss = seed.rss_kb;
  for (int i = 0; i < 3; i++)
    if (res[i].rss_kb > rss) rss = res[i].rss_kb;
  PGconn *dc = PQconnectdb(base);
  char sql[128];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
  exec_sql(dc, sql);
  PQfinish(dc);
  printf("bench live_latency_at_10000_per_s: p50 %.2f ms, p99 %.2f ms (goal p99 < %.0f ms; "
         "%" PRIu64 " updates, notification received -> committed)\n",
         res[0].p50, res[0].p99, GOAL_P99_MS, res[0].updates);
  printf("bench live_sustained_at_20000_per_s: %.0f updates/s (goal >= %.0f; p50 %.2f ms, "
         "p99 %.2f ms)\n",
         per_s(&res[1]), GOAL_SUSTAINED, res[1].p50, res[1].p99);
  printf("bench live_saturation_offered_40000_per_s: %.0f updates/s (p50 %.2f ms, p99 %.2f ms)\n",
         per_s(&res[2]), res[2].p50, res[2].p99);
  printf("bench live_peak_rss_mb: %.1f (goal < %.0f; largest of all runs)\n",
         (double)rss / 1024.0, GOAL_RSS_MB);
  if (getenv("BENCH_LIVE_KEEP")) {
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
