/* Metrics registry: naming rules, exact exposition text, escaping, caps,
 * lock-free updates under concurrent scrapes, and the cbi_* table checked
 * by promtool. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_cbi.h"
#include "rpc.h"
#include "promtool.h"
#include "testutil.h"

static const char *const kinds[] = {"a", "b", NULL};

static int reg1(metrics_registry_t *r, const char *name, metrics_type_t t, const char *label,
                const char *const *values) {
  static const double b[] = {0.1, 1};
  metrics_spec_t s = {.name = name, .help = "h", .type = t, .nlabels = label ? 1 : 0};
  s.label_names[0] = label;
  s.label_values[0] = values;
  if (t == METRICS_HISTOGRAM) {
    s.buckets = b;
    s.nbuckets = 2;
  }
  return metrics_register(r, &s, NULL);
}

START_TEST(naming_rules) {
  metrics_registry_t *r = metrics_registry_new();
  ck_assert_int_eq(reg1(r, "ok_total", METRICS_COUNTER, NULL, NULL), 0);
  ck_assert_int_eq(reg1(r, "ok_total", METRICS_COUNTER, NULL, NULL), METRICS_ERR_DUPLICATE);
  ck_assert_int_eq(reg1(r, "1abc_total", METRICS_COUNTER, NULL, NULL), METRICS_ERR_NAME);
  ck_assert_int_eq(reg1(r, "a-b_total", METRICS_COUNTER, NULL, NULL), METRICS_ERR_NAME);
  ck_assert_int_eq(reg1(r, "", METRICS_GAUGE, NULL, NULL), METRICS_ERR_NAME);
  ck_assert_int_eq(reg1(r, "no_suffix", METRICS_COUNTER, NULL, NULL), METRICS_ERR_NAME);
  ck_assert_int_eq(reg1(r, "gauge_total", METRICS_GAUGE, NULL, NULL), METRICS_ERR_NAME);
  ck_assert_int_eq(reg1(r, "h_bucket", METRICS_HISTOGRAM, NULL, NULL), METRICS_ERR_NAME);
  ck_assert_int_eq(reg1(r, "g_count", METRICS_GAUGE, NULL, NULL), METRICS_ERR_NAME);
  ck_assert_int_eq(reg1(r, "ns:ok", METRICS_GAUGE, NULL, NULL), 0);
  ck_assert_int_eq(reg1(r, "g1", METRICS_GAUGE, "__x", kinds), METRICS_ERR_NAME);
  ck_assert_int_eq(reg1(r, "g2", METRICS_GAUGE, "a:b", kinds), METRICS_ERR_NAME);
  ck_assert_int_eq(reg1(r, "h1", METRICS_HISTOGRAM, "le", kinds), METRICS_ERR_NAME);
  ck_assert_int_eq(reg1(r, "g3", METRICS_GAUGE, "kind", NULL), METRICS_ERR_INVALID);
  static const char *const empty[] = {NULL};
  ck_assert_int_eq(reg1(r, "g4", METRICS_GAUGE, "kind", empty), METRICS_ERR_INVALID);
  static const char *const bad_utf8[] = {"ok", "\xc3(", NULL};
  ck_assert_int_eq(reg1(r, "g7", METRICS_GAUGE, "kind", bad_utf8), METRICS_ERR_INVALID);
  static const char *const surrogate[] = {"\xed\xa0\x80", NULL};
  ck_assert_int_eq(reg1(r, "g8", METRICS_GAUGE, "kind", surrogate), METRICS_ERR_INVALID);
  static const char *const accents[] = {"caf\xc3\xa9", NULL};
  ck_assert_int_eq(reg1(r, "g9", METRICS_GAUGE, "kind", accents), 0);
  static const char *const dup[] = {"x", "x", NULL};
  ck_assert_int_eq(reg1(r, "g5", METRICS_GAUGE, "kind", dup), METRICS_ERR_DUPLICATE);
  static const double bad[] = {1, 1};
  metrics_spec_t s = {
      .name = "h2", .help = "h", .type = METRICS_HISTOGRAM, .buckets = bad, .nbuckets = 2};
  ck_assert_int_eq(metrics_register(r, &s, NULL), METRICS_ERR_INVALID);
  s.nbuckets = 0;
  ck_assert_int_eq(metrics_register(r, &s, NULL), METRICS_ERR_INVALID);
  s.help = "";
  s.type = METRICS_GAUGE;
  ck_assert_int_eq(metrics_register(r, &s, NULL), METRICS_ERR_INVALID);
  metrics_spec_t two = {.name = "g6",
                        .help = "h",
                        .type = METRICS_GAUGE,
                        .nlabels = 2,
                        .label_names = {"k", "k"},
                        .label_values = {kinds, kinds}};
  ck_assert_int_eq(metrics_register(r, &two, NULL), METRICS_ERR_DUPLICATE);
  ck_assert_str_eq(metrics_strerror(METRICS_ERR_NAME), "name breaks the Prometheus naming rules");
  /* Only the valid families exist. */
  char buf[512];
  ck_assert_int_eq(metrics_render(r, buf, sizeof buf, NULL), 0);
  ck_assert_str_eq(buf, "# HELP ok_total h\n# TYPE ok_total counter\nok_total 0\n"
                        "# HELP ns:ok h\n# TYPE ns:ok gauge\nns:ok 0\n"
                        "# HELP g9 h\n# TYPE g9 gauge\ng9{kind=\"caf\xc3\xa9\"} 0\n");
  metrics_registry_free(r);
}
END_TEST

START_TEST(exact_exposition) {
  metrics_registry_t *r = metrics_registry_new();
  static const char *const meth[] = {"get", "put", NULL};
  static const char *const outc[] = {"ok", "err", NULL};
  metrics_family_t *fc, *fg, *fh;
  metrics_spec_t c = {.name = "t_requests_total",
                      .help = "Requests.",
                      .type = METRICS_COUNTER,
                      .nlabels = 2,
                      .label_names = {"method", "outcome"},
                      .label_values = {meth, outc}};
  ck_assert_int_eq(metrics_register(r, &c, &fc), 0);
  metrics_spec_t g = {.name = "t_slot", .help = "Slot.", .type = METRICS_GAUGE};
  ck_assert_int_eq(metrics_register(r, &g, &fg), 0);
  static const double b[] = {0.005, 0.1, 2.5};
  metrics_spec_t h = {.name = "t_latency_seconds",
                      .help = "Latency.",
                      .type = METRICS_HISTOGRAM,
                      .nlabels = 1,
                      .label_names = {"method"},
                      .label_values = {meth},
                      .buckets = b,
                      .nbuckets = 3};
  ck_assert_int_eq(metrics_register(r, &h, &fh), 0);

  metrics_counter_add(metrics_counter_get(fc, (const char *const[]){"put", "err"}), 7);
  metrics_counter_inc(metrics_counter_at(fc, (const size_t[]){0, 0}));
  ck_assert_ptr_null(metrics_counter_get(fc, (const char *const[]){"del", "ok"}));
  ck_assert_ptr_null(metrics_counter_at(fc, (const size_t[]){2, 0}));
  ck_assert_ptr_null(metrics_gauge_get(fc, (const char *const[]){"get", "ok"}));
  ck_assert_ptr_eq(metrics_find(r, "t_slot"), fg);
  ck_assert_ptr_null(metrics_find(r, "t_nothing"));
  metrics_gauge_t *slot = metrics_gauge_get(fg, NULL);
  metrics_gauge_set(slot, 9007199254740993LL); /* 2^53 + 1: exact, no double rounding */
  metrics_gauge_max(slot, 5);
  ck_assert_int_eq(metrics_gauge_value(slot), 9007199254740993LL);
  metrics_histogram_t *lg = metrics_histogram_get(fh, (const char *const[]){"get"});
  metrics_histogram_observe(lg, 0.005); /* on a bound: counts in that bucket */
  metrics_histogram_observe(lg, 0.05);
  metrics_histogram_observe(lg, 3);
  metrics_histogram_observe(lg, NAN); /* NaN: ignored */
  ck_assert_uint_eq(metrics_histogram_count(lg), 3);
  metrics_counter_add(NULL, 1); /* NULL handles are no-ops */
  metrics_gauge_set(NULL, 1);
  metrics_histogram_observe(NULL, 1);

  const char *want = "# HELP t_requests_total Requests.\n"
                     "# TYPE t_requests_total counter\n"
                     "t_requests_total{method=\"get\",outcome=\"ok\"} 1\n"
                     "t_requests_total{method=\"get\",outcome=\"err\"} 0\n"
                     "t_requests_total{method=\"put\",outcome=\"ok\"} 0\n"
                     "t_requests_total{method=\"put\",outcome=\"err\"} 7\n"
                     "# HELP t_slot Slot.\n"
                     "# TYPE t_slot gauge\n"
                     "t_slot 9007199254740993\n"
                     "# HELP t_latency_seconds Latency.\n"
                     "# TYPE t_latency_seconds histogram\n"
                     "t_latency_seconds_bucket{method=\"get\",le=\"0.005\"} 1\n"
                     "t_latency_seconds_bucket{method=\"get\",le=\"0.1\"} 2\n"
                     "t_latency_seconds_bucket{method=\"get\",le=\"2.5\"} 2\n"
                     "t_latency_seconds_bucket{method=\"get\",le=\"+Inf\"} 3\n"
                     "t_latency_seconds_sum{method=\"get\"} 3.055\n"
                     "t_latency_seconds_count{method=\"get\"} 3\n"
                     "t_latency_seconds_bucket{method=\"put\",le=\"0.005\"} 0\n"
                     "t_latency_seconds_bucket{method=\"put\",le=\"0.1\"} 0\n"
                     "t_latency_seconds_bucket{method=\"put\",le=\"2.5\"} 0\n"
                     "t_latency_seconds_bucket{method=\"put\",le=\"+Inf\"} 0\n"
                     "t_latency_seconds_sum{method=\"put\"} 0\n"
                     "t_latency_seconds_count{method=\"put\"} 0\n";
  size_t len = 0;
  int rc = 0;
  char *txt = metrics_render_alloc(r, 1 << 20, &len, &rc);
  ck_assert_int_eq(rc, 0);
  ck_assert_str_eq(txt, want);
  ck_assert_uint_eq(len, strlen(want));
  char out[2000];
  ck_assert_msg(pt_check_metrics(txt, out, sizeof out) == 0, "promtool: %s", out);
  free(txt);
  metrics_registry_free(r);
}
END_TEST

START_TEST(escaping) {
  metrics_registry_t *r = metrics_registry_new();
  static const char *const vals[] = {"a\"b\\c\nd", NULL};
  metrics_spec_t s = {.name = "esc_total",
                      .help = "Back\\slash and\nnewline \"kept\".",
                      .type = METRICS_COUNTER,
                      .nlabels = 1,
                      .label_names = {"v"},
                      .label_values = {vals}};
  ck_assert_int_eq(metrics_register(r, &s, NULL), 0);
  char buf[512];
  ck_assert_int_eq(metrics_render(r, buf, sizeof buf, NULL), 0);
  ck_assert_str_eq(buf, "# HELP esc_total Back\\\\slash and\\nnewline \"kept\".\n"
                        "# TYPE esc_total counter\n"
                        "esc_total{v=\"a\\\"b\\\\c\\nd\"} 0\n");
  char out[2000];
  ck_assert_msg(pt_check_metrics(buf, out, sizeof out) == 0, "promtool: %s", out);
  metrics_registry_free(r);
}
END_TEST

START_TEST(caps) {
  metrics_registry_t *r = metrics_registry_new();
  ck_assert_int_eq(reg1(r, "cap_total", METRICS_COUNTER, NULL, NULL), 0);
  const char *want = "# HELP cap_total h\n# TYPE cap_total counter\ncap_total 0\n";
  size_t n = strlen(want), len = 0;
  char buf[128];
  ck_assert_int_eq(metrics_render(r, buf, n + 1, &len), 0); /* exact fit */
  ck_assert_str_eq(buf, want);
  ck_assert_uint_eq(len, n);
  memset(buf, 'x', sizeof buf);
  ck_assert_int_eq(metrics_render(r, buf, n, &len), METRICS_ERR_TOO_BIG);
  ck_assert_uint_eq(strlen(buf), n - 1); /* truncated, still terminated */
  ck_assert_int_eq(buf[n], 'x');         /* nothing written past the cap */
  ck_assert_int_eq(metrics_render(r, buf, 0, &len), METRICS_ERR_TOO_BIG);
  int rc = 0;
  ck_assert_ptr_null(metrics_render_alloc(r, n, &len, &rc));
  ck_assert_int_eq(rc, METRICS_ERR_TOO_BIG);
  char *t = metrics_render_alloc(r, n + 1, &len, &rc);
  ck_assert_ptr_nonnull(t);
  ck_assert_str_eq(t, want);
  free(t);
  metrics_registry_free(r);
}
END_TEST

/* Writers never block and lose no update while scrapes run. */
typedef struct {
  metrics_counter_t *c;
  metrics_gauge_t *g;
  metrics_histogram_t *h;
} hot_t;

#define HOT_N 200000

static void *hot_writer(void *arg) {
  hot_t *t = arg;
  for (int i = 0; i < HOT_N; i++) {
    metrics_counter_inc(t->c);
    metrics_gauge_add(t->g, 1);
    metrics_histogram_observe(t->h, (i % 4) * 0.5);
  }
  return NULL;
}

static int stop_scrape;
static void *scraper(void *arg) {
  metrics_registry_t *r = arg;
  char *buf = malloc(1 << 16);
  while (!__atomic_load_n(&stop_scrape, __ATOMIC_RELAXED)) {
    ck_assert_int_eq(metrics_render(r, buf, 1 << 16, NULL), 0);
    /* A scrape is internally consistent: +Inf bucket == _count. */
    const char *inf = strstr(buf, "hot_seconds_bucket{le=\"+Inf\"} ");
    const char *cnt = strstr(buf, "hot_seconds_count ");
    ck_assert(inf && cnt);
    ck_assert_uint_eq(strtoull(inf + strlen("hot_seconds_bucket{le=\"+Inf\"} "), NULL, 10),
                      strtoull(cnt + strlen("hot_seconds_count "), NULL, 10));
  }
  free(buf);
  return NULL;
}

START_TEST(concurrent_updates) {
  metrics_registry_t *r = metrics_registry_new();
  metrics_family_t *fc, *fg, *fh;
  metrics_spec_t c = {.name = "hot_total", .help = "h", .type = METRICS_COUNTER};
  metrics_spec_t g = {.name = "hot_gauge", .help = "h", .type = METRICS_GAUGE};
  static const double b[] = {0.25, 1};
  metrics_spec_t h = {
      .name = "hot_seconds", .help = "h", .type = METRICS_HISTOGRAM, .buckets = b, .nbuckets = 2};
  ck_assert_int_eq(metrics_register(r, &c, &fc), 0);
  ck_assert_int_eq(metrics_register(r, &g, &fg), 0);
  ck_assert_int_eq(metrics_register(r, &h, &fh), 0);
  hot_t t = {metrics_counter_at(fc, NULL), metrics_gauge_at(fg, NULL),
             metrics_histogram_at(fh, NULL)};
  pthread_t w[3], s;
  stop_scrape = 0;
  pthread_create(&s, NULL, scraper, r);
  for (int i = 0; i < 3; i++)
    pthread_create(&w[i], NULL, hot_writer, &t);
  for (int i = 0; i < 3; i++)
    pthread_join(w[i], NULL);
  __atomic_store_n(&stop_scrape, 1, __ATOMIC_RELAXED);
  pthread_join(s, NULL);
  ck_assert_uint_eq(metrics_counter_value(t.c), 3 * HOT_N);
  ck_assert_int_eq(metrics_gauge_value(t.g), 3 * HOT_N);
  ck_assert_uint_eq(metrics_histogram_count(t.h), 3 * HOT_N);
  char buf[2048];
  ck_assert_int_eq(metrics_render(r, buf, sizeof buf, NULL), 0);
  /* 0, 0.5, 1, 1.5 each HOT_N/4 times per writer: sum = 3 * HOT_N/4 * 3. */
  ck_assert_ptr_nonnull(strstr(buf, "hot_seconds_sum 450000\n"));
  ck_assert_ptr_nonnull(strstr(buf, "hot_seconds_bucket{le=\"0.25\"} 150000\n"));
  ck_assert_ptr_nonnull(strstr(buf, "hot_seconds_bucket{le=\"1\"} 450000\n"));
  metrics_registry_free(r);
}
END_TEST

/* The full cbi_* table: every family present, promtool-clean with values. */
START_TEST(cbi_families_pass_promtool) {
  metrics_registry_t *r = metrics_registry_new();
  metrics_cbi_t m;
  metrics_cbi_build_t b = {"0.1.0", "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe", "confirmed"};
  ck_assert_int_eq(metrics_cbi_register(r, &b, &m), 0);
  /* Registering twice in one registry is refused. */
  metrics_cbi_t m2;
  ck_assert_int_eq(metrics_cbi_register(r, &b, &m2), METRICS_ERR_DUPLICATE);
  metrics_gauge_max(m.chain_tip_slot, 312000123);
  metrics_gauge_set(m.chain_tip_block_time, 1764750000);
  metrics_gauge_set(m.indexed_slot, 312000100);
  metrics_gauge_set(m.indexed_block_time, 1764749990);
  metrics_counter_add(m.notifications[METRICS_CBI_NOTIF_ACCOUNT], 12);
  metrics_counter_add(m.rows_written[METRICS_CBI_TBL_MARKETS_CACHE], 3);
  metrics_counter_inc(m.dead_letters[METRICS_CBI_DL_ACCOUNT]);
  metrics_cbi_rpc_done(&m, "getTransaction", 0, 0.042);
  metrics_cbi_rpc_done(&m, "getTransaction", RPC_ERR_RPC, 0.3);
  metrics_cbi_rpc_done(&m, "someNewMethod", 99, 1.5);
  metrics_histogram_observe(m.sink_commit_duration, 0.004);
  metrics_histogram_observe(m.sink_batch_records, 37);
  metrics_histogram_observe(m.notification_to_commit, 0.8);
  metrics_counter_inc(m.decode_warnings[metrics_cbi_account_type("Market")]);
  ck_assert_int_eq(metrics_cbi_account_type("Nope"), METRICS_CBI_ACCT_UNKNOWN);
  ck_assert_int_eq(metrics_cbi_rpc_method("getSlot"), METRICS_CBI_RPC_GET_SLOT);
  ck_assert_int_eq(metrics_cbi_rpc_method(NULL), METRICS_CBI_RPC_OTHER);

  int rc;
  char *txt = metrics_render_alloc(r, 1 << 20, NULL, &rc);
  ck_assert_ptr_nonnull(txt);
  char out[2000];
  if (pt_check_metrics(txt, out, sizeof out) != 0) fprintf(stderr, "%s\n", txt);
  ck_assert_msg(pt_check_metrics(txt, out, sizeof out) == 0, "promtool: %s", out);
  static const char *const lines[] = {
      "cbi_build_info{version=\"0.1.0\",program_id=\"kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe\","
      "commitment=\"confirmed\"} 1\n",
      "\ncbi_chain_tip_slot 312000123\n",
      "\ncbi_chain_tip_block_time_seconds 1764750000\n",
      "\ncbi_indexed_slot 312000100\n",
      "\ncbi_indexed_block_time_seconds 1764749990\n",
      "\ncbi_notifications_received_total{kind=\"account\"} 12\n",
      "\ncbi_notifications_received_total{kind=\"slot\"} 0\n",
      "\ncbi_transactions_fetched_total{source=\"gap_fill\"} 0\n",
      "\ncbi_rows_written_total{table=\"markets_cache\"} 3\n",
      "\ncbi_stale_updates_ignored_total 0\n",
      "\ncbi_dead_letters_total{reason=\"account\"} 1\n",
      "\ncbi_rpc_requests_total{method=\"getTransaction\",outcome=\"ok\"} 1\n",
      "\ncbi_rpc_requests_total{method=\"getTransaction\",outcome=\"rpc\"} 1\n",
      "\ncbi_rpc_requests_total{method=\"other\",outcome=\"transport\"} 1\n",
      "\ncbi_rpc_request_duration_seconds_bucket{method=\"getTransaction\",le=\"0.05\"} 1\n",
      "\ncbi_rpc_request_duration_seconds_count{method=\"getTransaction\"} 2\n",
      "\ncbi_websocket_reconnects_total 0\n",
      "\ncbi_gap_fills_total 0\n",
      "\ncbi_sink_commit_duration_seconds_bucket{le=\"0.005\"} 1\n",
      "\ncbi_sink_batch_records_bucket{le=\"50\"} 1\n",
      "\ncbi_notification_to_commit_seconds_bucket{le=\"1\"} 1\n",
      "\ncbi_backlog_bytes 0\n",
      "\ncbi_database_reconnects_total 0\n",
      "\ncbi_decode_warnings_total{account_type=\"Market\"} 1\n",
      "\ncbi_ready 0\n",
      "\ncbi_sink_last_commit_timestamp_seconds 0\n",
      "\ncbi_watchdog_pings_total 0\n",
  };
  for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
    ck_assert_msg(strstr(txt, lines[i]) != NULL, "missing %s", lines[i]);
  /* Resident memory is sampled at scrape time from /proc. */
  const char *rss = strstr(txt, "\ncbi_resident_memory_bytes ");
  ck_assert_ptr_nonnull(rss);
  ck_assert_int_gt(strtoll(rss + strlen("\ncbi_resident_memory_bytes "), NULL, 10), 1 << 20);
  ck_assert_int_gt(metrics_cbi_read_rss(), 0);
  const char *st = strstr(txt, "\ncbi_process_start_time_seconds ");
  ck_assert_ptr_nonnull(st);
  ck_assert_int_gt(strtoll(st + strlen("\ncbi_process_start_time_seconds "), NULL, 10), 1700000000);
  free(txt);
  metrics_registry_free(r);
}
END_TEST

/* The promtool harness itself reports bad expositions. */
START_TEST(promtool_rejects_bad_text) {
  char out[2048];
  ck_assert_int_ne(pt_check_metrics("# TYPE x counter\nx 1\n", out, sizeof out), 0);
  ck_assert_ptr_nonnull(strstr(out, "_total"));
  ck_assert_int_ne(pt_check_metrics("garbage{\n", out, sizeof out), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("metrics");
  TCase *tc = tcase_create("metrics");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, naming_rules);
  tcase_add_test(tc, exact_exposition);
  tcase_add_test(tc, escaping);
  tcase_add_test(tc, caps);
  tcase_add_test(tc, concurrent_updates);
  tcase_add_test(tc, cbi_families_pass_promtool);
  tcase_add_test(tc, promtool_rejects_bad_text);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
