/* The operations HTTP endpoint, fetched with libcurl: status codes,
 * content types, bodies, readiness flipping, health stalls, the scraped
 * metrics checked by promtool, IPv4 and IPv6 loopback. */
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "metrics_cbi.h"
#include "ops_http.h"
#include "opstate.h"
#include "promtool.h"
#include "testutil.h"

typedef struct {
  long code;
  char ctype[128];
  char allow[64];
  char *body;
  size_t len;
} resp_t;

static size_t on_body(char *p, size_t sz, size_t n, void *u) {
  resp_t *r = u;
  size_t k = sz * n;
  char *nb = realloc(r->body, r->len + k + 1);
  ck_assert_ptr_nonnull(nb);
  r->body = nb;
  memcpy(r->body + r->len, p, k);
  r->len += k;
  r->body[r->len] = '\0';
  return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *u) {
  resp_t *r = u;
  size_t k = sz * n;
  if (k > 6 && strncasecmp(p, "allow:", 6) == 0) {
    size_t skip = 6;
    while (skip < k && p[skip] == ' ')
      skip++;
    size_t m = k - skip;
    if (m >= sizeof r->allow) m = sizeof r->allow - 1;
    memcpy(r->allow, p + skip, m);
    r->allow[m] = '\0';
    char *e = r->allow + strlen(r->allow);
    while (e > r->allow && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
      *--e = '\0';
  }
  return k;
}

/* method NULL = GET. */
static resp_t fetch(const char *host, int port, const char *path, const char *method) {
  resp_t r = {0};
  char url[256];
  snprintf(url, sizeof url, "http://%s:%d%s", host, port, path);
  CURL *c = curl_easy_init();
  ck_assert_ptr_nonnull(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (method && strcmp(method, "POST") == 0)
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
  else if (method)
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  CURLcode rc = curl_easy_perform(c);
  ck_assert_msg(rc == CURLE_OK, "%s: %s", url, curl_easy_strerror(rc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
  char *ct = NULL;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
  snprintf(r.ctype, sizeof r.ctype, "%s", ct ? ct : "");
  curl_easy_cleanup(c);
  if (!r.body) r.body = calloc(1, 1);
  return r;
}

static json_t *parse_json(const resp_t *r) {
  json_error_t e;
  json_t *j = json_loadb(r->body, r->len, 0, &e);
  ck_assert_msg(j != NULL, "not JSON (%s): %s", e.text, r->body);
  return j;
}

START_TEST(parse_listen) {
  char host[64];
  int port, v6;
  ck_assert_int_eq(ops_http_parse_listen("127.0.0.1:9464", host, sizeof host, &port, &v6), 0);
  ck_assert_str_eq(host, "127.0.0.1");
  ck_assert_int_eq(port, 9464);
  ck_assert_int_eq(v6, 0);
  ck_assert_int_eq(ops_http_parse_listen("[::1]:0", host, sizeof host, &port, &v6), 0);
  ck_assert_str_eq(host, "::1");
  ck_assert_int_eq(port, 0);
  ck_assert_int_eq(v6, 1);
  static const char *const bad[] = {"127.0.0.1",     "127.0.0.1:",   "127.0.0.1:65536",
                                    "::1:9464",      "[::1]9464",    "localhost:9464",
                                    ":9464",         "127.0.0.1:-1", "127.0.0.1:12a",
                                    "[127.0.0.1]:1", "300.0.0.1:1",  "[::1]:99999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    ck_assert_msg(ops_http_parse_listen(bad[i], host, sizeof host, &port, &v6) == OPS_HTTP_ERR_ADDR,
                  "accepted %s", bad[i]);
}
END_TEST

START_TEST(off_when_empty) {
  ops_http_options_t o = {.listen = ""};
  ops_http_t *h = (ops_http_t *)1;
  char err[128];
  ck_assert_int_eq(ops_http_start(&o, &h, err, sizeof err), 0);
  ck_assert_ptr_null(h);
  o.listen = "nonsense";
  ck_assert_int_eq(ops_http_start(&o, &h, err, sizeof err), OPS_HTTP_ERR_ADDR);
  ck_assert_ptr_nonnull(strstr(err, "nonsense"));
  ops_http_stop(NULL);
}
END_TEST

static void serve_and_check(const char *listen, const char *host) {
  metrics_registry_t *reg = metrics_registry_new();
  metrics_cbi_t m;
  metrics_cbi_build_t b = {"0.1.0", "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe", "confirmed"};
  ck_assert_int_eq(metrics_cbi_register(reg, &b, &m), 0);
  opstate_t st;
  opstate_init(&st, 150, 60);
  ops_http_options_t o = {.listen = listen,
                          .health = opstate_health_probe,
                          .health_user = &st,
                          .ready = opstate_ready_probe,
                          .ready_user = &st,
                          .metrics = reg};
  ops_http_t *h = NULL;
  char err[256];
  ck_assert_msg(ops_http_start(&o, &h, err, sizeof err) == 0, "%s", err);
  int port = ops_http_port(h);
  ck_assert_int_gt(port, 0);

  resp_t r = fetch(host, port, "/healthz", NULL);
  ck_assert_int_eq(r.code, 200);
  ck_assert_str_eq(r.ctype, "application/json");
  json_t *j = parse_json(&r);
  ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
  json_decref(j);
  free(r.body);

  /* Not caught up: 503 with the reasons and figures. */
  r = fetch(host, port, "/ready", NULL);
  ck_assert_int_eq(r.code, 503);
  ck_assert_str_eq(r.ctype, "application/json");
  j = parse_json(&r);
  ck_assert(json_is_false(json_object_get(j, "ready")));
  ck_assert_uint_eq(json_array_size(json_object_get(j, "reasons")), 4);
  json_decref(j);
  free(r.body);

  opstate_set_db_connected(&st, 1);
  opstate_set_subscriptions_live(&st, 1);
  opstate_set_gap_fill_done(&st, 1);
  opstate_set_tip_slot(&st, 1000);
  opstate_set_indexed_slot(&st, 700);
  r = fetch(host, port, "/ready", NULL);
  ck_assert_int_eq(r.code, 503); /* lag 300 > 150 */
  j = parse_json(&r);
  ck_assert_int_eq(json_integer_value(json_object_get(j, "lag_slots")), 300);
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "reasons"), 0)),
                   "lag 300 slots over 150");
  json_decref(j);
  free(r.body);

  opstate_set_indexed_slot(&st, 900);
  r = fetch(host, port, "/ready", NULL);
  ck_assert_int_eq(r.code, 200);
  j = parse_json(&r);
  ck_assert(json_is_true(json_object_get(j, "ready")));
  ck_assert_uint_eq(json_array_size(json_object_get(j, "reasons")), 0);
  ck_assert_int_eq(json_integer_value(json_object_get(j, "indexed_slot")), 900);
  json_decref(j);
  free(r.body);

  /* PostgreSQL goes away: not ready, still healthy. */
  opstate_set_db_connected(&st, 0);
  r = fetch(host, port, "/ready", NULL);
  ck_assert_int_eq(r.code, 503);
  ck_assert_ptr_nonnull(strstr(r.body, "database not connected"));
  free(r.body);
  r = fetch(host, port, "/healthz", NULL);
  ck_assert_int_eq(r.code, 200);
  free(r.body);

  /* Metrics: exposition content type, every family, promtool-clean, and the
   * same text a direct render gives (large body sent in several chunks). */
  metrics_counter_add(m.notifications[METRICS_CBI_NOTIF_LOGS], 5);
  metrics_gauge_set(m.indexed_slot, 900);
  r = fetch(host, port, "/metrics", NULL);
  ck_assert_int_eq(r.code, 200);
  ck_assert_str_eq(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
  ck_assert_ptr_nonnull(strstr(r.body, "\ncbi_notifications_received_total{kind=\"logs\"} 5\n"));
  ck_assert_ptr_nonnull(strstr(r.body, "\ncbi_indexed_slot 900\n"));
  ck_assert_uint_gt(r.len, 16384);
  char out[2000];
  ck_assert_msg(pt_check_metrics(r.body, out, sizeof out) == 0, "promtool: %s", out);
  free(r.body);

  r = fetch(host, port, "/nope", NULL);
  ck_assert_int_eq(r.code, 404);
  free(r.body);
  r = fetch(host, port, "/metrics", "POST");
  ck_assert_int_eq(r.code, 405);
  ck_assert_str_eq(r.allow, "GET");
  free(r.body);
  r = fetch(host, port, "/healthz", "DELETE");
  ck_assert_int_eq(r.code, 405);
  free(r.body);
  /* The server still answers after the refused methods. */
  r = fetch(host, port, "/healthz", NULL);
  ck_assert_int_eq(r.code, 200);
  free(r.body);
  ck_assert_uint_eq(ops_http_requests(h), 11);

  ops_http_stop(h);
  metrics_registry_free(reg);
}

START_TEST(serves_ipv4_loopback) {
  serve_and_check("127.0.0.1:0", "127.0.0.1");
}
END_TEST

START_TEST(serves_ipv6_loopback) {
  serve_and_check("[::1]:0", "[::1]");
}
END_TEST

START_TEST(health_fails_when_a_loop_stalls) {
  opstate_t st;
  opstate_init(&st, 150, 1);
  ops_http_options_t o = {
      .listen = "127.0.0.1:0", .health = opstate_health_probe, .health_user = &st};
  ops_http_t *h = NULL;
  char err[256];
  ck_assert_msg(ops_http_start(&o, &h, err, sizeof err) == 0, "%s", err);
  int port = ops_http_port(h);
  opstate_beat(&st, OPSTATE_LOOP_MAIN);
  resp_t r = fetch("127.0.0.1", port, "/healthz", NULL);
  ck_assert_int_eq(r.code, 200);
  free(r.body);
  usleep(1300000);
  r = fetch("127.0.0.1", port, "/healthz", NULL);
  ck_assert_int_eq(r.code, 503);
  ck_assert_ptr_nonnull(strstr(r.body, "\"status\":\"stalled\""));
  free(r.body);
  opstate_beat(&st, OPSTATE_LOOP_MAIN);
  r = fetch("127.0.0.1", port, "/healthz", NULL);
  ck_assert_int_eq(r.code, 200);
  free(r.body);
  /* No readiness callback: never ready; no registry: /metrics is 404. */
  r = fetch("127.0.0.1", port, "/ready", NULL);
  ck_assert_int_eq(r.code, 503);
  free(r.body);
  r = fetch("127.0.0.1", port, "/metrics", NULL);
  ck_assert_int_eq(r.code, 404);
  free(r.body);

  /* The port is taken: a second server fails with a code and a message. */
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  ops_http_options_t o2 = {.listen = addr};
  ops_http_t *h2 = NULL;
  ck_assert_int_eq(ops_http_start(&o2, &h2, err, sizeof err), OPS_HTTP_ERR_LISTEN);
  ck_assert_ptr_null(h2);
  ck_assert_ptr_nonnull(strstr(err, addr));
  ops_http_stop(h);
}
END_TEST

/* Idle connections (a stuck scraper, a port scan) do not starve the
 * probes: 200 of them open, /healthz still answers at once. */
START_TEST(idle_connections_do_not_starve_probes) {
  ops_http_options_t o = {.listen = "127.0.0.1:0"};
  ops_http_t *h = NULL;
  char err[256];
  ck_assert_msg(ops_http_start(&o, &h, err, sizeof err) == 0, "%s", err);
  int port = ops_http_port(h);
  int fds[200];
  for (int i = 0; i < 200; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
  }
  usleep(200000);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  resp_t r = fetch("127.0.0.1", port, "/healthz", NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ck_assert_int_eq(r.code, 200);
  free(r.body);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  ck_assert_msg(secs < 2.0, "healthz took %.2f s", secs);
  for (int i = 0; i < 200; i++)
    close(fds[i]);
  ops_http_stop(h);
}
END_TEST

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  Suite *s = suite_create("ops_http");
  TCase *tc = tcase_create("ops_http");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, parse_listen);
  tcase_add_test(tc, off_when_empty);
  tcase_add_test(tc, serves_ipv4_loopback);
  tcase_add_test(tc, serves_ipv6_loopback);
  tcase_add_test(tc, health_fails_when_a_loop_stalls);
  tcase_add_test(tc, idle_connections_do_not_starve_probes);
  suite_add_tcase(s, tc);
  int rc = tu_run_suite(s);
  curl_global_cleanup();
  return rc;
}
