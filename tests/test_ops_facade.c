/* The operations surface end to end: the daemon's calls drive /ready
 * (503 -> 200 after catch-up -> 503 when PostgreSQL goes away, /healthz
 * staying 200), cbi_ready, and the notify datagrams in order. */
#include <check.h>
#include <curl/curl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ops.h"
#include "promtool.h"
#include "testutil.h"

static size_t sink_body(char *p, size_t sz, size_t n, void *u) {
  char **b = u;
  size_t old = *b ? strlen(*b) : 0, k = sz * n;
  char *nb = realloc(*b, old + k + 1);
  ck_assert_ptr_nonnull(nb);
  memcpy(nb + old, p, k);
  nb[old + k] = '\0';
  *b = nb;
  return k;
}

static long get(int port, const char *path, char **body) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  CURL *c = curl_easy_init();
  *body = NULL;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  if (!*body) *body = calloc(1, 1);
  return code;
}

static long get_code(int port, const char *path) {
  char *b;
  long code = get(port, path, &b);
  free(b);
  return code;
}

static void next_dgram(int fd, char *buf, size_t cap) {
  ssize_t n = recv(fd, buf, cap - 1, 0);
  ck_assert_msg(n >= 0, "no datagram");
  buf[n] = '\0';
}

START_TEST(daemon_flow) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/cbi_ops_notify_%d", (int)getpid());
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  struct timeval tv = {.tv_sec = 2};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setenv("NOTIFY_SOCKET", path, 1);
  setenv("WATCHDOG_USEC", "2000000", 1); /* ping every 1 s */
  unsetenv("WATCHDOG_PID");

  ops_t ops;
  ops_options_t opt = {
      .http_listen = "127.0.0.1:0",
      .ready_max_lag = 150,
      .status_interval_s = 3600,
      .build = {"0.1.0", "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe", "confirmed"}};
  char err[256];
  ck_assert_msg(ops_start(&ops, &opt, err, sizeof err) == 0, "%s", err);
  int port = ops_http_port(ops.http);

  /* Starting: healthy, not ready, no READY=1 yet. */
  ops_tick(&ops, 1);
  ck_assert_int_eq(get_code(port, "/healthz"), 200);
  ck_assert_int_eq(get_code(port, "/ready"), 503);
  char d[600];
  next_dgram(fd, d, sizeof d);
  ck_assert_str_eq(d, "EXTEND_TIMEOUT_USEC=120000000"); /* start-up advancing */
  next_dgram(fd, d, sizeof d);
  ck_assert_str_eq(d, "WATCHDOG=1"); /* first tick pings */

  /* Connected, subscribed, gap fill done, caught up. */
  ops_note_db(&ops, 1);
  ops_note_subscriptions(&ops, 1);
  ops_note_tip(&ops, 312000200, 1764750080);
  ops_note_indexed(&ops, 312000000, 1764750000);
  ops_note_gap_fill_done(&ops);
  usleep(1050000);
  ops_tick(&ops, 1);
  ck_assert_int_eq(get_code(port, "/ready"), 503); /* lag 200 > 150 */
  next_dgram(fd, d, sizeof d);
  ck_assert_msg(
      strncmp(d, "STATUS=catching up tip=312000200 indexed=312000000 lag=200 slots", 64) == 0, "%s",
      d);
  next_dgram(fd, d, sizeof d);
  ck_assert_str_eq(d, "READY=1");
  next_dgram(fd, d, sizeof d);
  ck_assert_str_eq(d, "WATCHDOG=1");

  ops_note_indexed(&ops, 312000190, 1764750076);
  ops_note_commit(&ops, 42, 0.012);
  ops_tick(&ops, 1);
  ck_assert_int_eq(get_code(port, "/ready"), 200);
  char *m;
  ck_assert_int_eq(get(port, "/metrics", &m), 200);
  ck_assert_ptr_nonnull(strstr(m, "\ncbi_ready 1\n"));
  ck_assert_ptr_nonnull(strstr(m, "\ncbi_indexed_slot 312000190\n"));
  ck_assert_ptr_nonnull(strstr(m, "\ncbi_chain_tip_block_time_seconds 1764750080\n"));
  ck_assert_ptr_nonnull(strstr(m, "\ncbi_sink_commits_total 1\n"));
  ck_assert_ptr_nonnull(strstr(m, "\ncbi_sink_batch_records_bucket{le=\"50\"} 1\n"));
  ck_assert_ptr_nonnull(strstr(m, "\ncbi_watchdog_pings_total 2\n"));
  char out[2000];
  ck_assert_msg(pt_check_metrics(m, out, sizeof out) == 0, "promtool: %s", out);
  free(m);

  /* PostgreSQL stops: not ready, still healthy; it comes back: ready, one
   * reconnect counted. */
  ops_note_db(&ops, 0);
  ops_tick(&ops, 1);
  ck_assert_int_eq(get_code(port, "/ready"), 503);
  ck_assert_int_eq(get_code(port, "/healthz"), 200);
  ck_assert_int_eq(metrics_gauge_value(ops.m.ready), 0);
  ops_note_db(&ops, 1);
  ops_tick(&ops, 1);
  ck_assert_int_eq(get_code(port, "/ready"), 200);
  ck_assert_uint_eq(metrics_counter_value(ops.m.db_reconnects), 1);

  /* A loop that stops progressing stops pinging (pings due meanwhile are
   * drained first). */
  char x[64];
  while (recv(fd, x, sizeof x, MSG_DONTWAIT) > 0) {
  }
  usleep(1050000);
  ops_tick(&ops, 0);
  ops_note_stopping(&ops);
  ops_stop(&ops); /* STOPPING=1 only once */
  next_dgram(fd, d, sizeof d);
  ck_assert_str_eq(d, "STOPPING=1");
  ck_assert_int_lt(recv(fd, x, sizeof x, MSG_DONTWAIT), 0);
  ops_stop(&ops); /* twice is safe */
  close(fd);
  unlink(path);
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
}
END_TEST

START_TEST(bad_listen_fails_cleanly) {
  unsetenv("NOTIFY_SOCKET");
  ops_t ops;
  ops_options_t opt = {.http_listen = "localhost:1", .build = {"v", "p", "c"}};
  char err[256];
  ck_assert_int_eq(ops_start(&ops, &opt, err, sizeof err), OPS_HTTP_ERR_ADDR);
  ck_assert_ptr_nonnull(strstr(err, "localhost:1"));
  ops_stop(&ops);
  opt.http_listen = "";
  ck_assert_int_eq(ops_start(&ops, &opt, err, sizeof err), 0);
  ck_assert_ptr_null(ops.http);
  ops_tick(&ops, 1);
  ops_stop(&ops);
}
END_TEST

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  Suite *s = suite_create("ops_facade");
  TCase *tc = tcase_create("ops");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, daemon_flow);
  tcase_add_test(tc, bad_listen_fails_cleanly);
  suite_add_tcase(s, tc);
  int rc = tu_run_suite(s);
  curl_global_cleanup();
  return rc;
}
