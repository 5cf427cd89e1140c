/* RPC client against the replay server: round trips, exact u64, batching,
 * concurrency, the retry policy, size/parse errors, endpoint rotation, URL
 * redaction, the recorder, and the real mainnet samples. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "jsonx.h"
#include "log.h"
#include "replay_child.h"
#include "rpc.h"
#include "testutil.h"

#define BASIC "fixtures/rpc-test/basic"
#define PROGRAM "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe"

static rpc_client_t *client_for(const char *endpoints, void (*tweak)(rpc_options_t *)) {
  rpc_options_t o;
  char err[256];
  rpc_options_init(&o);
  o.endpoints = endpoints;
  o.retry_base_ms = 5;
  o.retry_max_ms = 50;
  o.timeout_ms = 10000;
  if (tweak) tweak(&o);
  rpc_client_t *c = rpc_client_new(&o, err, sizeof err);
  ck_assert_msg(c != NULL, "rpc_client_new: %s", err);
  return c;
}

static json_t *account_params(void) {
  /* same values as the recording, members in another order */
  return json_pack("[s{ssss}]", PROGRAM, "commitment", "confirmed", "encoding", "base64");
}

START_TEST(test_roundtrip) {
  rc_child_t srv;
  rc_start(&srv, BASIC, NULL);
  rpc_client_t *c = client_for(srv.url, NULL);
  json_t *res = NULL;
  rpc_error_t e;
  ck_assert_int_eq(rpc_call(c, "getSlot", NULL, &res, &e), 0);
  ck_assert(json_is_integer(res));
  ck_assert_int_eq(json_integer_value(res), 312345678);
  json_decref(res);
  ck_assert_int_eq(rpc_call(c, "getBlockHeight", json_pack("[{ss}]", "commitment", "finalized"), &res, &e), 0);
  ck_assert_int_eq(json_integer_value(res), 290000100);
  json_decref(res);
  /* empty params array is the same request as no params */
  ck_assert_int_eq(rpc_call(c, "getBlockHeight", json_array(), &res, &e), 0);
  ck_assert_int_eq(json_integer_value(res), 290000123);
  json_decref(res);
  rpc_stats_t st;
  rpc_get_stats(c, &st);
  ck_assert_uint_eq(st.calls_ok, 3);
  ck_assert_uint_eq(st.http_requests, 3);
  ck_assert_uint_eq(st.retries, 0);
  ck_assert_uint_gt(st.bytes_received, 0);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stat(&srv, "rpc_calls"), 3);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

START_TEST(test_u64_exact) {
  rc_child_t srv;
  rc_start(&srv, BASIC, NULL);
  rpc_client_t *c = client_for(srv.url, NULL);
  json_t *res = NULL;
  rpc_error_t e;
  uint64_t v = 0;
  ck_assert_int_eq(rpc_call(c, "getAccountInfo", account_params(), &res, &e), 0);
  json_t *value = json_object_get(res, "value");
  ck_assert_int_eq(jsonx_get_u64(value, "rentEpoch", &v), 0);
  ck_assert(v == UINT64_MAX);
  ck_assert_int_eq(jsonx_get_u64(value, "lamports", &v), 0);
  ck_assert(v == 1141440);
  ck_assert_int_eq(jsonx_get_u64(json_object_get(res, "context"), "slot", &v), 0);
  ck_assert(v == 312345678);
  json_decref(res);
  /* first answer -32005 (node behind: retried), then the u64 balance */
  ck_assert_int_eq(rpc_call(c, "getBalance", json_pack("[s]", "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"), &res, &e), 0);
  ck_assert_int_eq(jsonx_get_u64(res, "value", &v), 0);
  ck_assert(v == UINT64_MAX);
  json_decref(res);
  rpc_stats_t st;
  rpc_get_stats(c, &st);
  ck_assert_uint_eq(st.retries, 1);
  ck_assert_uint_eq(st.attempt_failures[RPC_ERR_INDEX(RPC_ERR_RPC)], 1);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

typedef struct {
  int done;
  int ok;
  json_t *result;
  rpc_error_t err;
} slot_t;

static void on_done(void *user, json_t *result, const rpc_error_t *err) {
  slot_t *s = user;
  s->done++;
  if (err) {
    s->err = *err;
  } else {
    s->ok = 1;
    s->result = json_incref(result);
  }
}

static void run_until(rpc_client_t *c, long max_ms) {
  long deadline = tu_now_ms() + max_ms;
  while (rpc_in_flight(c) > 0) {
    ck_assert_msg(tu_now_ms() < deadline, "calls still pending after %ld ms", max_ms);
    ck_assert_int_ge(rpc_run(c, 100), 0);
  }
}

static void tweak_batch(rpc_options_t *o) { o->batch_max = 8; }

START_TEST(test_batch) {
  rc_child_t srv;
  rc_start(&srv, BASIC, NULL);
  rpc_client_t *c = client_for(srv.url, tweak_batch);
  slot_t s[5];
  memset(s, 0, sizeof s);
  ck_assert_int_eq(rpc_submit(c, "getSlot", NULL, on_done, &s[0]), 0);
  ck_assert_int_eq(rpc_submit(c, "getAccountInfo", account_params(), on_done, &s[1]), 0);
  ck_assert_int_eq(rpc_submit(c, "getBlockHeight", NULL, on_done, &s[2]), 0);
  ck_assert_int_eq(rpc_submit(c, "noSuchMethod", json_pack("[i]", 1), on_done, &s[3]), 0);
  ck_assert_int_eq(rpc_submit(c, "getBlock",
                              json_pack("[I{sssisssb}]", (json_int_t)312345000, "encoding", "json",
                                        "maxSupportedTransactionVersion", 0, "transactionDetails",
                                        "none", "rewards", 0),
                              on_done, &s[4]),
                   0);
  ck_assert_uint_eq(rpc_in_flight(c), 5);
  run_until(c, 5000);
  for (int i = 0; i < 5; i++) ck_assert_int_eq(s[i].done, 1);
  ck_assert(s[0].ok && json_integer_value(s[0].result) == 312345678);
  uint64_t v;
  ck_assert(s[1].ok);
  ck_assert_int_eq(jsonx_get_u64(json_object_get(s[1].result, "value"), "rentEpoch", &v), 0);
  ck_assert(v == UINT64_MAX);
  ck_assert(s[2].ok && json_integer_value(s[2].result) == 290000123);
  ck_assert(!s[3].ok);
  ck_assert_int_eq(s[3].err.kind, RPC_ERR_RPC);
  ck_assert_int_eq(s[3].err.rpc_code, -32099);
  ck_assert(!s[4].ok);
  ck_assert_int_eq(s[4].err.rpc_code, -32009);
  rpc_stats_t st;
  rpc_get_stats(c, &st);
  ck_assert_uint_eq(st.http_requests, 1);
  ck_assert_uint_eq(st.retries, 0);
  for (int i = 0; i < 5; i++) json_decref(s[i].result);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stat(&srv, "rpc_batches"), 1);
  ck_assert_int_eq(rc_stat(&srv, "rpc_posts"), 1);
  ck_assert_int_eq(rc_stat(&srv, "rpc_calls"), 5);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

static void tweak_32(rpc_options_t *o) { o->max_in_flight = 32; }

START_TEST(test_concurrent) {
  const char *args[] = {"--latency-ms", "300", NULL};
  rc_child_t srv;
  rc_start(&srv, BASIC, args);
  rpc_client_t *c = client_for(srv.url, tweak_32);
  enum { N = 24 };
  slot_t s[N];
  memset(s, 0, sizeof s);
  long t0 = tu_now_ms();
  for (int i = 0; i < N; i++) ck_assert_int_eq(rpc_submit(c, "getSlot", NULL, on_done, &s[i]), 0);
  run_until(c, 10000);
  long elapsed = tu_now_ms() - t0;
  for (int i = 0; i < N; i++) {
    ck_assert(s[i].ok);
    ck_assert_int_eq(json_integer_value(s[i].result), 312345678);
    json_decref(s[i].result);
  }
  /* one at a time this would take N * 300 ms = 7.2 s */
  ck_assert_msg(elapsed >= 300 && elapsed < 1500, "elapsed %ld ms", elapsed);
  rpc_stats_t st;
  rpc_get_stats(c, &st);
  ck_assert_uint_eq(st.connections, N);
  /* a second wave reuses the kept-alive connections */
  memset(s, 0, sizeof s);
  for (int i = 0; i < N; i++) ck_assert_int_eq(rpc_submit(c, "getSlot", NULL, on_done, &s[i]), 0);
  run_until(c, 10000);
  for (int i = 0; i < N; i++) {
    ck_assert(s[i].ok);
    json_decref(s[i].result);
  }
  rpc_get_stats(c, &st);
  ck_assert_uint_eq(st.connections, N);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stat(&srv, "rpc_posts"), 2 * N);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

START_TEST(test_429_retry_after) {
  const char *args[] = {"--fail-429-every", "2", "--retry-after", "1", NULL};
  rc_child_t srv;
  rc_start(&srv, BASIC, args);
  rpc_client_t *c = client_for(srv.url, NULL);
  json_t *res;
  rpc_error_t e;
  long t0 = tu_now_ms();
  ck_assert_int_eq(rpc_call(c, "getSlot", NULL, &res, &e), 0); /* POST 1: ok */
  json_decref(res);
  long t1 = tu_now_ms();
  ck_assert_int_eq(rpc_call(c, "getSlot", NULL, &res, &e), 0); /* POST 2: 429, POST 3: ok */
  ck_assert_int_eq(json_integer_value(res), 312345678);
  json_decref(res);
  long t2 = tu_now_ms();
  ck_assert_msg(t1 - t0 < 900, "first call took %ld ms", t1 - t0);
  ck_assert_msg(t2 - t1 >= 1000, "Retry-After: 1 not honoured (%ld ms)", t2 - t1);
  rpc_stats_t st;
  rpc_get_stats(c, &st);
  ck_assert_uint_eq(st.http_429, 1);
  ck_assert_uint_eq(st.retries, 1);
  ck_assert_uint_eq(st.calls_ok, 2);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stat(&srv, "faults_429"), 1);
  ck_assert_int_eq(rc_stat(&srv, "rpc_posts"), 3);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

static void tweak_2_retries(rpc_options_t *o) { o->max_retries = 2; }

START_TEST(test_500_retried) {
  const char *args[] = {"--fail-500-every", "2", NULL};
  rc_child_t srv;
  rc_start(&srv, BASIC, args);
  rpc_client_t *c = client_for(srv.url, NULL);
  json_t *res;
  rpc_error_t e;
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(rpc_call(c, "getSlot", NULL, &res, &e), 0);
    json_decref(res);
  }
  rpc_stats_t st;
  rpc_get_stats(c, &st);
  ck_assert_uint_eq(st.http_5xx, 3); /* posts 2, 4, 6 of 7 */
  ck_assert_uint_eq(st.retries, 3);
  ck_assert_uint_eq(st.calls_ok, 4);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stat(&srv, "rpc_posts"), 7);
  ck_assert_int_eq(rc_stop(&srv), 0);

  /* every POST fails: the call gives up after 1 + max_retries attempts */
  const char *always[] = {"--fail-500-every", "1", NULL};
  rc_start(&srv, BASIC, always);
  c = client_for(srv.url, tweak_2_retries);
  ck_assert_int_eq(rpc_call(c, "getSlot", NULL, &res, &e), RPC_ERR_HTTP);
  ck_assert_ptr_null(res);
  ck_assert_int_eq(e.kind, RPC_ERR_HTTP);
  ck_assert_int_eq(e.http_status, 500);
  ck_assert_msg(strstr(e.message, "after 3 attempts") != NULL, "%s", e.message);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stat(&srv, "rpc_posts"), 3);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

START_TEST(test_never_errors) {
  rc_child_t srv;
  rc_start(&srv, BASIC, NULL);
  rpc_client_t *c = client_for(srv.url, NULL);
  json_t *res;
  rpc_error_t e;
  ck_assert_int_eq(rpc_call(c, "getTransaction",
                            json_pack("[s{sssi}]", "notasignature", "encoding", "json",
                                      "maxSupportedTransactionVersion", 0),
                            &res, &e),
                   RPC_ERR_RPC);
  ck_assert_int_eq(e.kind, RPC_ERR_RPC);
  ck_assert_int_eq(e.rpc_code, -32602);
  ck_assert_msg(strstr(e.message, "Invalid param") != NULL, "%s", e.message);
  json_t *cfg = json_pack("{sssisssb}", "encoding", "json", "maxSupportedTransactionVersion", 0,
                          "transactionDetails", "none", "rewards", 0);
  ck_assert_int_eq(rpc_call(c, "getBlock", json_pack("[IO]", (json_int_t)312345000, cfg), &res, &e), RPC_ERR_RPC);
  ck_assert_int_eq(e.kind, RPC_ERR_RPC);
  ck_assert_int_eq(e.rpc_code, -32009);
  ck_assert_int_eq(rpc_call(c, "getBlock", json_pack("[IO]", (json_int_t)312345001, cfg), &res, &e), RPC_ERR_RPC);
  ck_assert_int_eq(e.rpc_code, -32007);
  json_decref(cfg);
  rpc_stats_t st;
  rpc_get_stats(c, &st);
  ck_assert_uint_eq(st.retries, 0);
  ck_assert_uint_eq(st.errors[RPC_ERR_INDEX(RPC_ERR_RPC)], 3);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stat(&srv, "rpc_posts"), 3);
  ck_assert_int_eq(rc_stop(&srv), 0);
  ck_assert(rpc_code_is_retryable(-32005) && rpc_code_is_retryable(-32004));
  ck_assert(!rpc_code_is_retryable(-32602) && !rpc_code_is_retryable(-32009) &&
            !rpc_code_is_retryable(-32007) && !rpc_code_is_retryable(-32001));
}
END_TEST

/* A scenario with the real getBlock sample (130 KB) as the recorded answer. */
static char *big_block_dir(void) {
  char *dir = rc_tmpdir();
  size_t len;
  char *sample = tu_read_file("fixtures/rpc-samples/get_block_json_encoding.json", &len);
  for (size_t i = 0; i < len; i++)
    if (sample[i] == '\n' || sample[i] == '\r') sample[i] = ' ';
  const char *head = "{\"request\":{\"method\":\"getBlock\",\"params\":[147078735]},\"response\":";
  size_t cap = strlen(head) + len + 3;
  char *line = malloc(cap);
  ck_assert_ptr_nonnull(line);
  ck_assert_int_lt(snprintf(line, cap, "%s%s}\n", head, sample), (int)cap);
  rc_write_file(dir, "rpc.jsonl", line);
  free(line);
  free(sample);
  return dir;
}

static void tweak_small(rpc_options_t *o) { o->max_response_bytes = 100; }
static void tweak_64k(rpc_options_t *o) { o->max_response_bytes = 65536; }

START_TEST(test_too_large) {
  rc_child_t srv;
  rc_start(&srv, BASIC, NULL);
  rpc_client_t *c = client_for(srv.url, tweak_small);
  json_t *res;
  rpc_error_t e;
  ck_assert_int_eq(rpc_call(c, "getAccountInfo", account_params(), &res, &e), RPC_ERR_TOO_LARGE);
  ck_assert_int_eq(e.kind, RPC_ERR_TOO_LARGE);
  ck_assert_msg(strstr(e.message, "max_response_bytes=100") != NULL, "%s", e.message);
  /* small responses still pass */
  ck_assert_int_eq(rpc_call(c, "getSlot", NULL, &res, &e), 0);
  json_decref(res);
  rpc_stats_t st;
  rpc_get_stats(c, &st);
  ck_assert_uint_eq(st.retries, 0);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stop(&srv), 0);

  /* a 130 KB answer: whole under the default cap, aborted under 64 KiB */
  char *dir = big_block_dir();
  rc_start(&srv, dir, NULL);
  c = client_for(srv.url, NULL);
  ck_assert_int_eq(rpc_call(c, "getBlock", json_pack("[i]", 147078735), &res, &e), 0);
  uint64_t v;
  ck_assert_int_eq(jsonx_get_u64(res, "parentSlot", &v), 0);
  ck_assert(v == 147078734);
  ck_assert_uint_gt(json_array_size(json_object_get(res, "transactions")), 10);
  json_decref(res);
  rpc_client_free(c);
  c = client_for(srv.url, tweak_64k);
  ck_assert_int_eq(rpc_call(c, "getBlock", json_pack("[i]", 147078735), &res, &e), RPC_ERR_TOO_LARGE);
  ck_assert_int_eq(e.kind, RPC_ERR_TOO_LARGE);
  rpc_get_stats(c, &st);
  ck_assert_uint_le(st.bytes_received, 65536);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stop(&srv), 0);
  rc_rmdir(dir);
}
END_TEST

START_TEST(test_not_json) {
  const char *args[] = {"--fail-garbage-every", "1", NULL};
  rc_child_t srv;
  rc_start(&srv, BASIC, args);
  rpc_client_t *c = client_for(srv.url, NULL);
  json_t *res;
  rpc_error_t e;
  ck_assert_int_eq(rpc_call(c, "getSlot", NULL, &res, &e), RPC_ERR_PARSE);
  ck_assert_int_eq(e.kind, RPC_ERR_PARSE);
  ck_assert_msg(strstr(e.message, "not JSON") && strstr(e.message, "line 1"), "%s", e.message);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stat(&srv, "rpc_posts"), 1);
  ck_assert_int_eq(rc_stop(&srv), 0);
}
END_TEST

/* A TCP port on 127.0.0.1 with nothing listening. */
static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  socklen_t al = sizeof a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
  close(fd);
  return ntohs(a.sin_port);
}

/* Runs fn with stderr captured; returns what was written (caller frees). */
static char *capture_stderr(void (*fn)(void *), void *arg) {
  char path[] = "/tmp/cbi-rpc-stderr-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  fn(arg);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  char *text = tu_read_file(path, NULL);
  unlink(path);
  return text;
}

typedef struct {
  const char *endpoints;
  int rc;
  rpc_error_t err;
  rpc_stats_t st;
} rot_t;

static void rotation_run(void *arg) {
  rot_t *r = arg;
  log_min_level = LOG_DEBUG;
  rpc_client_t *c = client_for(r->endpoints, NULL);
  json_t *res = NULL;
  r->rc = rpc_call(c, "getSlot", NULL, &res, &r->err);
  if (r->rc == 0) ck_assert_int_eq(json_integer_value(res), 312345678);
  json_decref(res);
  rpc_get_stats(c, &r->st);
  rpc_client_free(c);
  log_min_level = LOG_WARN;
}

START_TEST(test_rotation_and_redaction) {
  rc_child_t srv;
  rc_start(&srv, BASIC, NULL);
  char eps[512];
  snprintf(eps, sizeof eps,
           "http://127.0.0.1:%d/?api-key=abc123, http://127.0.0.1:%d/0123456789abcdef0123456789/",
           closed_port(), srv.port);
  rot_t r;
  memset(&r, 0, sizeof r);
  r.endpoints = eps;
  char *log = capture_stderr(rotation_run, &r);
  ck_assert_msg(r.rc == 0, "%s", r.err.message);
  ck_assert_uint_eq(r.st.rotations, 1);
  ck_assert_uint_eq(r.st.attempt_failures[RPC_ERR_INDEX(RPC_ERR_TRANSPORT)], 3); /* rotate_after default */
  ck_assert_msg(strstr(log, "switching endpoint") != NULL, "log: %s", log);
  ck_assert_msg(strstr(log, "api-key=***") != NULL, "log: %s", log);
  ck_assert_msg(strstr(log, "abc123") == NULL, "API key leaked: %s", log);
  ck_assert_msg(strstr(log, "0123456789abcdef0123456789") == NULL, "API key leaked: %s", log);
  free(log);
  ck_assert_int_eq(rc_stop(&srv), 0);

  /* all endpoints down: transport error, no secret in the message */
  snprintf(eps, sizeof eps, "http://127.0.0.1:%d/?api-key=abc123", closed_port());
  memset(&r, 0, sizeof r);
  r.endpoints = eps;
  log = capture_stderr(rotation_run, &r);
  ck_assert_int_eq(r.rc, RPC_ERR_TRANSPORT);
  ck_assert_int_eq(r.err.kind, RPC_ERR_TRANSPORT);
  ck_assert(strstr(r.err.message, "abc123") == NULL);
  ck_assert(strstr(log, "abc123") == NULL);
  free(log);

  char out[256];
  log_redact_url("https://mainnet.helius-rpc.com/?api-key=abc123", out, sizeof out);
  ck_assert_str_eq(out, "https://mainnet.helius-rpc.com/?api-key=***");
  log_redact_url("https://x.quiknode.pro/0123456789abcdef0123456789/", out, sizeof out);
  ck_assert_str_eq(out, "https://x.quiknode.pro/***/");
  char err[256];
  rpc_options_t o;
  rpc_options_init(&o);
  o.endpoints = "ftp://user:secretpw@example.com/";
  ck_assert_ptr_null(rpc_client_new(&o, err, sizeof err));
  ck_assert_msg(strstr(err, "secretpw") == NULL, "%s", err);
  o.endpoints = " , ";
  ck_assert_ptr_null(rpc_client_new(&o, err, sizeof err));
}
END_TEST

static const char *g_record_dir;
static void tweak_record(rpc_options_t *o) {
  o->record_dir = g_record_dir;
  o->batch_max = 4;
}

/* The calls of the recorder round trip; checks every answer. */
static void recorder_calls(rpc_client_t *c) {
  slot_t s[4];
  memset(s, 0, sizeof s);
  rpc_submit(c, "getAccountInfo", account_params(), on_done, &s[0]);
  rpc_submit(c, "getSlot", NULL, on_done, &s[1]);
  rpc_submit(c, "getBlock",
             json_pack("[I{sssisssb}]", (json_int_t)312345000, "encoding", "json",
                       "maxSupportedTransactionVersion", 0, "transactionDetails", "none", "rewards", 0),
             on_done, &s[2]);
  run_until(c, 5000);
  rpc_submit(c, "getBalance", json_pack("[s]", "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"),
             on_done, &s[3]);
  run_until(c, 5000);
  uint64_t v;
  ck_assert(s[0].ok);
  ck_assert_int_eq(jsonx_get_u64(json_object_get(s[0].result, "value"), "rentEpoch", &v), 0);
  ck_assert(v == UINT64_MAX);
  ck_assert(s[1].ok && json_integer_value(s[1].result) == 312345678);
  ck_assert(!s[2].ok && s[2].err.rpc_code == -32009);
  ck_assert(s[3].ok);
  ck_assert_int_eq(jsonx_get_u64(s[3].result, "value", &v), 0);
  ck_assert(v == UINT64_MAX);
  for (int i = 0; i < 4; i++) json_decref(s[i].result);
}

START_TEST(test_recorder_roundtrip) {
  rc_child_t srv;
  char *dir = rc_tmpdir();
  char sub[600];
  snprintf(sub, sizeof sub, "%s/rec", dir);
  g_record_dir = sub;
  rc_start(&srv, BASIC, NULL);
  rpc_client_t *c = client_for(srv.url, tweak_record);
  recorder_calls(c);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stop(&srv), 0);

  char path[700];
  snprintf(path, sizeof path, "%s/rpc.jsonl", sub);
  char *text = tu_read_file(path, NULL);
  int lines = 0;
  for (char *q = text; *q; q++) lines += *q == '\n';
  ck_assert_int_eq(lines, 5); /* getBalance: the -32005 answer, then the result */
  ck_assert_msg(strstr(text, "\"rentEpoch\":18446744073709551615") != NULL, "%s", text);
  ck_assert_msg(strstr(text, "\"value\":18446744073709551615") != NULL, "%s", text);
  ck_assert(strstr(text, "\"code\":-32005") != NULL);
  free(text);

  /* the recording serves the same answers */
  rc_start(&srv, sub, NULL);
  g_record_dir = NULL;
  c = client_for(srv.url, tweak_record);
  recorder_calls(c);
  rpc_client_free(c);
  ck_assert_int_eq(rc_stat(&srv, "rpc_unmatched"), 0);
  ck_assert_int_eq(rc_stop(&srv), 0);
  rc_rmdir(dir);
}
END_TEST

/* ---- the real mainnet samples ----------------------------------------------- */

/* Integer literals of raw JSON text, outside strings, in document order. */
static size_t raw_integers(const char *t, size_t len, char (*out)[24], size_t max) {
  size_t n = 0, i = 0;
  while (i < len) {
    if (t[i] == '"') {
      for (i++; i < len && t[i] != '"'; i++)
        if (t[i] == '\\') i++;
      i++;
      continue;
    }
    if (t[i] == '-' || (t[i] >= '0' && t[i] <= '9')) {
      size_t s = i;
      i++;
      while (i < len && t[i] >= '0' && t[i] <= '9') i++;
      int real = i < len && (t[i] == '.' || t[i] == 'e' || t[i] == 'E');
      while (i < len && strchr("0123456789.eE+-", t[i])) i++;
      if (!real && n < max && i - s < 24) {
        memcpy(out[n], t + s, i - s);
        out[n][i - s] = '\0';
        n++;
      }
      continue;
    }
    i++;
  }
  return n;
}

/* Integers of a parsed document, exactly, in document order. Values that
 * jsonx_loads() kept as digit strings are recognised by matching the raw
 * literal at the same position. */
static void parsed_integers(const json_t *v, char (*out)[24], size_t max, size_t *n,
                            char (*raw)[24], size_t nraw) {
  if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) parsed_integers(x, out, max, n, raw, nraw);
  } else if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) parsed_integers(x, out, max, n, raw, nraw);
  } else if (json_is_integer(v) && *n < max) {
    json_int_t x = json_integer_value(v);
    if (x >= 0) {
      uint64_t u;
      ck_assert_int_eq(jsonx_u64(v, &u), 0);
      snprintf(out[(*n)++], 24, "%" PRIu64, u);
    } else {
      int64_t s;
      ck_assert_int_eq(jsonx_i64(v, &s), 0);
      snprintf(out[(*n)++], 24, "%" PRId64, s);
    }
  } else if (json_is_string(v) && *n < max && *n < nraw &&
             strcmp(json_string_value(v), raw[*n]) == 0) {
    uint64_t u;
    ck_assert_int_eq(jsonx_u64(v, &u), 0); /* a literal beyond INT64_MAX */
    snprintf(out[(*n)++], 24, "%" PRIu64, u);
  }
}

START_TEST(test_real_samples) {
  static const char *const files[] = {
      "get_block_base64_encoding.json",       "get_block_json_encoding.json",
      "get_block_json_parsed_encoding.json",  "get_transaction_base64_encoding.json",
      "get_transaction_json_encoding.json",   "get_transaction_json_parsed_encoding.json"};
  enum { MAXN = 60000 };
  char(*raw)[24] = malloc(sizeof(*raw) * MAXN);
  char(*got)[24] = malloc(sizeof(*got) * MAXN);
  ck_assert(raw && got);
  for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
    char path[256], err[256];
    size_t len;
    snprintf(path, sizeof path, "fixtures/rpc-samples/%s", files[f]);
    char *text = tu_read_file(path, &len);
    json_t *doc = jsonx_loads(text, len, err, sizeof err);
    ck_assert_msg(doc != NULL, "%s: %s", path, err);
    json_t *result = json_object_get(doc, "result");
    ck_assert_msg(json_is_object(result), "%s: no result", path);
    size_t nraw = raw_integers(text, len, raw, MAXN), ngot = 0;
    ck_assert_uint_lt(nraw, MAXN);
    parsed_integers(doc, got, MAXN, &ngot, raw, nraw);
    ck_assert_msg(ngot == nraw, "%s: %zu integers parsed, %zu in the text", path, ngot, nraw);
    for (size_t i = 0; i < nraw; i++)
      ck_assert_msg(strcmp(raw[i], got[i]) == 0, "%s: integer %zu: %s != %s", path, i, raw[i], got[i]);
    uint64_t v;
    if (strstr(files[f], "transaction")) {
      ck_assert_int_eq(jsonx_get_u64(result, "slot", &v), 0);
      ck_assert(v == 147558327);
      ck_assert_int_eq(jsonx_get_u64(result, "blockTime", &v), 0);
      ck_assert(v == 1661417105);
      ck_assert_int_eq(jsonx_get_u64(json_object_get(result, "meta"), "fee", &v), 0);
      ck_assert(v == 5000);
      json_t *pre = json_object_get(json_object_get(result, "meta"), "preBalances");
      ck_assert_int_eq(jsonx_u64(json_array_get(pre, 0), &v), 0);
      ck_assert(v == 65966805251ull);
    } else {
      ck_assert_int_eq(jsonx_get_u64(result, "parentSlot", &v), 0);
      ck_assert(v == 147078734);
      ck_assert_int_eq(jsonx_get_u64(result, "blockTime", &v), 0);
      ck_assert_int_eq(jsonx_get_u64(result, "blockHeight", &v), 0);
      ck_assert_uint_gt(json_array_size(json_object_get(result, "transactions")), 10);
    }
    json_decref(doc);
    free(text);
  }
  free(raw);
  free(got);
}
END_TEST

static volatile int g_stop;
static void tweak_stop(rpc_options_t *o) { o->stop_flag = &g_stop; }

START_TEST(test_stop_flag_cancels) {
  const char *args[] = {"--latency-ms", "3000", NULL};
  rc_child_t srv;
  rc_start(&srv, BASIC, args);
  g_stop = 0;
  rpc_client_t *c = client_for(srv.url, tweak_stop);
  slot_t s[3];
  memset(s, 0, sizeof s);
  for (int i = 0; i < 3; i++) rpc_submit(c, "getSlot", NULL, on_done, &s[i]);
  ck_assert_int_eq(rpc_run(c, 200), 0);
  g_stop = 1;
  long t0 = tu_now_ms();
  ck_assert_int_eq(rpc_run(c, 1000), 3);
  ck_assert_int_lt(tu_now_ms() - t0, 500);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(s[i].done, 1);
    ck_assert_int_eq(s[i].err.kind, RPC_ERR_CANCELLED);
  }
  ck_assert_uint_eq(rpc_in_flight(c), 0);
  ck_assert_int_eq(rpc_submit(c, "", NULL, on_done, NULL), RPC_ERR_INVALID);
  /* calls still queued when the client is freed are cancelled too */
  g_stop = 0;
  slot_t late;
  memset(&late, 0, sizeof late);
  rpc_submit(c, "getSlot", NULL, on_done, &late);
  rpc_client_free(c);
  ck_assert_int_eq(late.done, 1);
  ck_assert_int_eq(late.err.kind, RPC_ERR_CANCELLED);
  ck_assert_int_eq(rc_stop(&srv), 0);
  ck_assert_str_eq(rpc_error_kind_name(RPC_ERR_TOO_LARGE), "too_large");
  /* codes are negative, each with a description */
  for (int k = RPC_ERR_TRANSPORT; k >= RPC_ERR_INTERNAL; k--) {
    ck_assert_int_lt(k, 0);
    ck_assert_str_ne(rpc_strerror(k), "unknown error");
    ck_assert_str_ne(rpc_error_kind_name(k), "unknown");
  }
  ck_assert_str_eq(rpc_strerror(RPC_OK), "ok");
  ck_assert_str_eq(rpc_strerror(1), "unknown error");
  ck_assert_str_eq(rpc_error_kind_name(1), "unknown");
}
END_TEST

START_TEST(test_error_describe) {
  rpc_error_t e;
  memset(&e, 0, sizeof e);
  char d[64];
  e.kind = RPC_ERR_RPC;
  e.rpc_code = -32009;
  snprintf(e.message, sizeof e.message, "slot skipped");
  rpc_error_describe(&e, d, sizeof d);
  ck_assert_str_eq(d, "rpc error -32009: slot skipped");
  e.kind = RPC_ERR_HTTP;
  e.http_status = 503;
  rpc_error_describe(&e, d, sizeof d);
  ck_assert_str_eq(d, "HTTP 503: slot skipped");
  e.kind = RPC_ERR_TRANSPORT;
  rpc_error_describe(&e, d, sizeof d);
  ck_assert_str_eq(d, "transport: slot skipped");
  char small[8];
  rpc_error_describe(&e, small, sizeof small);
  ck_assert_str_eq(small, "transpo");
}
END_TEST

int main(void) {
  Suite *s = suite_create("rpc");
  TCase *tc = tcase_create("rpc");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_roundtrip);
  tcase_add_test(tc, test_error_describe);
  tcase_add_test(tc, test_u64_exact);
  tcase_add_test(tc, test_batch);
  tcase_add_test(tc, test_concurrent);
  tcase_add_test(tc, test_429_retry_after);
  tcase_add_test(tc, test_500_retried);
  tcase_add_test(tc, test_never_errors);
  tcase_add_test(tc, test_too_large);
  tcase_add_test(tc, test_not_json);
  tcase_add_test(tc, test_rotation_and_redaction);
  tcase_add_test(tc, test_recorder_roundtrip);
  tcase_add_test(tc, test_real_samples);
  tcase_add_test(tc, test_stop_flag_cancels);
  suite_add_tcase(s, tc);
  log_min_level = LOG_WARN;
  return tu_run_suite(s);
}
