/* `live` with its operations surface, end to end against the replay server
 * and the test cluster: /metrics passes promtool, /ready goes 503 -> 200
 * after the start-up gap fill and back to 503 while PostgreSQL is down
 * (/healthz stays 200), the systemd notify datagrams arrive in order
 * (READY=1, then STOPPING=1), and the JSON log lines parse and carry no
 * secret from the database URL. */
#include <check.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "expect.h"
#include "promtool.h"
#include "replay_child.h"

#define CHAIN "fixtures/chain"
#define SECRET "s3cretPassw0rd"

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

/* GET http://127.0.0.1:port/path: the status (0 when nothing answers) and
 * the body (caller frees; may be NULL). */
static long http_get(int port, const char *path, char **body) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  char *out = NULL;
  long status = 0;
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, rc_collect);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  if (curl_easy_perform(e) == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(e);
  if (body) *body = out;
  else free(out);
  return status;
}

/* The value of series name (with its labels) in an exposition, or -1. */
static double metric_value(const char *text, const char *series) {
  size_t n = strlen(series);
  for (const char *p = text; (p = strstr(p, series)) != NULL; p += n) {
    if ((p == text || p[-1] == '\n') && p[n] == ' ') return strtod(p + n + 1, NULL);
  }
  return -1;
}

static int pg_ctl(const char *action) {
  const char *ctl = getenv("CBI_PG_CTL"), *data = getenv("CBI_PG_DATA");
  char logf[600];
  snprintf(logf, sizeof logf, "%s/../restart.log", data);
  pid_t pid = fork();
  if (pid == 0) {
    FILE *f = freopen("/dev/null", "w", stdout);
    (void)f;
    if (geteuid() == 0)
      execlp("runuser", "runuser", "-u", "postgres", "--", ctl, "-D", data, "-m", "immediate",
             "-w", "-l", logf, action, (char *)NULL);
    else
      execl(ctl, ctl, "-D", data, "-m", "immediate", "-w", "-l", logf, action, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Reads every datagram waiting on fd, appending each (one per line,
 * newlines inside turned into '|') to *acc. */
static void drain_notify(int fd, char **acc) {
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (n <= 0) break;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
      if (buf[i] == '\n') buf[i] = '|';
    size_t have = *acc ? strlen(*acc) : 0;
    *acc = realloc(*acc, have + (size_t)n + 2);
    memcpy(*acc + have, buf, (size_t)n);
    (*acc)[have + (size_t)n] = '\n';
    (*acc)[have + (size_t)n + 1] = '\0';
  }
}

START_TEST(e2e_operations_surface) {
  if (!getenv("CBI_PG_CTL") || !getenv("CBI_PG_DATA")) {
    fprintf(stderr, "e2e_operations_surface: CBI_PG_CTL/CBI_PG_DATA not set (run via tests/run.sh)\n");
    return;
  }
  json_t *exp = ex_load(CHAIN);
  rc_child_t rs;
  const char *rx[] = {"--speed", "15", "--ws-slot-heartbeat-ms", "100", NULL};
  PGconn *c;
  char *uri = rc_start_with_db(&rs, CHAIN, rx, "liveops", &c);
  char sql[160];
  snprintf(sql, sizeof sql, "INSERT INTO sync_checkpoints (stream, slot) VALUES ('live', %" PRIu64 ")",
           ex_meta_u64(exp, "start_slot") - 1);
  PQclear(PQexec(c, sql));
  PQfinish(c);
  /* the same database, through a URL that carries a password (the test
   * cluster trusts local connections and ignores it) */
  const char *at = strstr(uri, "postgres@");
  ck_assert_ptr_nonnull(at);
  char secret_uri[512];
  snprintf(secret_uri, sizeof secret_uri, "%.*spostgres:" SECRET "@%s", (int)(at - uri), uri,
           at + strlen("postgres@"));

  char *tmp = rc_tmpdir();
  char sock_path[100], logp[256], listen[64], rpc[64], ws[64];
  snprintf(sock_path, sizeof sock_path, "%s/notify.sock", tmp);
  snprintf(logp, sizeof logp, "%s/live.log", tmp);
  int nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
  ck_assert_int_eq(bind(nfd, (struct sockaddr *)&sa, sizeof sa), 0);
  int port = free_port();
  snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
  snprintf(rpc, sizeof rpc, "http://127.0.0.1:%d/", rs.port);
  snprintf(ws, sizeof ws, "ws://127.0.0.1:%d/", rs.port);
  setenv("NOTIFY_SOCKET", sock_path, 1);
  setenv("LOG_FORMAT", "json", 1);
  const char *args[] = {"live", "--database-url", secret_uri, "--rpc-url", rpc, "--ws-url", ws,
                        "--status-interval", "1", "--http-listen", listen,
                        "--exit-when-idle", "15000", NULL};
  pid_t pid = tu_spawn("crypto-bet-indexer", args, NULL, NULL, logp);
  unsetenv("NOTIFY_SOCKET");
  unsetenv("LOG_FORMAT");
  char *notes = NULL;

  /* readiness: 503 (catching up) first, then 200 */
  int saw_503 = 0, saw_200 = 0;
  long deadline = tu_now_ms() + 30000;
  while (tu_now_ms() < deadline && !saw_200) {
    long st = http_get(port, "/ready", NULL);
    if (st == 503) saw_503 = 1;
    if (st == 200) saw_200 = 1;
    if (!saw_200) tu_sleep_ms(5);
    ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
  }
  ck_assert_msg(saw_503, "/ready never answered 503 before the gap fill");
  ck_assert_msg(saw_200, "/ready never answered 200");
  drain_notify(nfd, &notes);

  /* /metrics: valid exposition, and the families move */
  tu_sleep_ms(800);
  char *metrics = NULL;
  ck_assert_int_eq(http_get(port, "/metrics", &metrics), 200);
  char out[4096];
  int prc = pt_check_metrics(metrics, out, sizeof out);
  ck_assert_msg(prc == 0, "promtool check metrics: %s", out);
  ck_assert_ptr_nonnull(strstr(metrics, "\ncbi_ready 1\n"));
  static const char *const moving[] = {
      "cbi_notifications_received_total{kind=\"account\"}",
      "cbi_notifications_received_total{kind=\"slot\"}",
      "cbi_notifications_received_total{kind=\"logs\"}",
      "cbi_gap_fills_total",
      "cbi_sink_commits_total",
      "cbi_rpc_requests_total{method=\"getSlot\",outcome=\"ok\"}",
      "cbi_rpc_requests_total{method=\"getTransaction\",outcome=\"ok\"}",
      "cbi_rows_written_total{table=\"markets_cache\"}",
      "cbi_rows_written_total{table=\"sync_checkpoints\"}",
      "cbi_transactions_fetched_total{source=\"live\"}",
      "cbi_notification_to_commit_seconds_count",
      "cbi_chain_tip_slot",
      "cbi_indexed_slot",
      NULL};
  for (int i = 0; moving[i]; i++)
    ck_assert_msg(metric_value(metrics, moving[i]) > 0, "%s is not above 0:\n%s", moving[i],
                  metrics);
  free(metrics);
  /* block times of the tip and of the checkpoint (getBlockTime, asked at
   * most once a second each): lag in seconds is their difference */
  static const char *const times[] = {"cbi_chain_tip_block_time_seconds",
                                      "cbi_indexed_block_time_seconds", NULL};
  for (int i = 0; times[i]; i++) {
    double v = 0;
    long until = tu_now_ms() + 8000;
    while (v <= 0 && tu_now_ms() < until) {
      ck_assert_int_eq(http_get(port, "/metrics", &metrics), 200);
      v = metric_value(metrics, times[i]);
      free(metrics);
      if (v <= 0) tu_sleep_ms(200);
    }
    /* the fixture chain's block times are in 2025 */
    ck_assert_msg(v > 1.7e9 && v < 1.8e9, "%s = %f", times[i], v);
  }

  /* PostgreSQL down: not ready, still healthy; back up: ready again (the
   * idle exit is long enough for the process to outlive the outage) */
  ck_assert_int_eq(pg_ctl("stop"), 0);
  int down_503 = 0;
  deadline = tu_now_ms() + 20000;
  while (tu_now_ms() < deadline && !down_503) {
    char *body = NULL;
    if (http_get(port, "/ready", &body) == 503 && body && strstr(body, "\"database_connected\":false"))
      down_503 = 1;
    free(body);
    ck_assert_int_eq(http_get(port, "/healthz", NULL), 200);
    tu_sleep_ms(50);
  }
  ck_assert_int_eq(pg_ctl("start"), 0);
  ck_assert_msg(down_503, "/ready did not turn 503 while PostgreSQL was down");
  int back = 0;
  deadline = tu_now_ms() + 20000;
  while (tu_now_ms() < deadline && !back) {
    back = http_get(port, "/ready", NULL) == 200;
    tu_sleep_ms(50);
  }
  if (!back) {
    char *tail = tu_read_file(logp, NULL);
    size_t tn = strlen(tail);
    ck_abort_msg("/ready did not return to 200 after PostgreSQL came back; log tail:\n%s",
                 tn > 3000 ? tail + tn - 3000 : tail);
  }

  int code = tu_wait_exit(pid, 60000, logp);
  drain_notify(nfd, &notes);
  char *log = tu_read_file(logp, NULL);
  ck_assert_msg(code == 0, "live exit %d; log:\n%.3000s", code, log);

  /* notify: READY=1 once, after start-up, then STOPPING=1 last */
  ck_assert_ptr_nonnull(notes);
  char *ready = strstr(notes, "READY=1");
  char *stopping = strstr(notes, "STOPPING=1");
  ck_assert_msg(ready && stopping && ready < stopping, "notify order: %s", notes);
  ck_assert_ptr_null(strstr(ready + 1, "READY=1"));
  ck_assert_ptr_nonnull(strstr(notes, "STATUS="));
  ck_assert_ptr_null(strstr(stopping, "\nREADY"));

  /* JSON logs: every line parses; no secret anywhere */
  ck_assert_ptr_null(strstr(log, SECRET));
  int lines = 0;
  for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
    json_error_t je;
    json_t *j = json_loads(line, 0, &je);
    ck_assert_msg(j && json_is_object(j), "log line is not a JSON object: %s", line);
    ck_assert_ptr_nonnull(json_object_get(j, "level"));
    json_decref(j);
    lines++;
  }
  ck_assert_int_gt(lines, 5);

  free(log);
  free(notes);
  close(nfd);
  unlink(sock_path);
  rmdir(tmp);
  free(tmp);
  c = PQconnectdb(uri);
  ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
  tu_assert_query(c, "SELECT count(*) > 0 FROM markets_cache", "t");
  rc_end_with_db(&rs, c, uri);
  json_decref(exp);
}
END_TEST

int main(void) {
  Suite *s = suite_create("live_ops");
  TCase *tc = tcase_create("live_ops");
  tcase_set_timeout(tc, 180);
  if (tu_have_pg()) tcase_add_test(tc, e2e_operations_surface);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
