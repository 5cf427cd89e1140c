/* Redaction of secrets in URLs and connection strings, and log levels. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "testutil.h"

static void check_url(const char *in, const char *want) {
  char out[512];
  log_redact_url(in, out, sizeof out);
  ck_assert_msg(strcmp(out, want) == 0, "redact(%s) = %s, want %s", in, out, want);
}

START_TEST(set_err_formats_and_truncates) {
  char err[8] = "old";
  log_set_err(err, sizeof err, "slot %d of %s", 7, "block");
  ck_assert_str_eq(err, "slot 7 ");
  log_set_err(err, sizeof err, "%s", "ok");
  ck_assert_str_eq(err, "ok");
  log_set_err(NULL, 10, "x");     /* no buffer: nothing happens */
  log_set_err(err, 0, "ignored"); /* no room: err untouched */
  ck_assert_str_eq(err, "ok");
}
END_TEST

START_TEST(url_query_keys) {
  check_url("https://mainnet.helius-rpc.com/?api-key=abc123-def",
            "https://mainnet.helius-rpc.com/?api-key=***");
  check_url("https://rpc.example.com/path?x=1&token=zzz",
            "https://rpc.example.com/path?x=***&token=***");
  check_url("wss://rpc.example.com/?api-key=abc", "wss://rpc.example.com/?api-key=***");
}
END_TEST

START_TEST(url_path_keys) {
  check_url("https://x.solana-mainnet.quiknode.pro/0123456789abcdef0123456789/",
            "https://x.solana-mainnet.quiknode.pro/***/");
  check_url("https://solana-mainnet.g.alchemy.com/v2/AbCdEfGhIjKlMnOpQrStUvWx",
            "https://solana-mainnet.g.alchemy.com/v2/***");
  /* Short path segments are not secrets. */
  check_url("http://127.0.0.1:8899/", "http://127.0.0.1:8899/");
  check_url("http://127.0.0.1:8899", "http://127.0.0.1:8899");
}
END_TEST

START_TEST(url_userinfo) {
  check_url("https://user:hunter2@rpc.example.com/", "https://***@rpc.example.com/");
}
END_TEST

/* Found by tests/fuzz/fuzz_config_text.c: libcurl also accepts one slash
 * after the scheme ("https:/user:pw@host"), and a '@' inside the userinfo
 * must not end the masking early. */
START_TEST(url_userinfo_lenient_forms) {
  check_url("https:/user:hunter2pw@rpc.example.com/", "https:/***@rpc.example.com/");
  check_url("https:user:hunter2pw@rpc.example.com/", "https:***@rpc.example.com/");
  check_url("https://user:p@ssw0rd@rpc.example.com/", "https://***@rpc.example.com/");
  check_url("http://127.0.0.1:8899/?api-key=abc", "http://127.0.0.1:8899/?api-key=***");
}
END_TEST

START_TEST(url_truncates_safely) {
  char out[16];
  log_redact_url("https://rpc.example.com/?api-key=secretsecret", out, sizeof out);
  ck_assert_uint_lt(strlen(out), sizeof out);
  ck_assert_ptr_null(strstr(out, "secret"));
}
END_TEST

START_TEST(conninfo_forms) {
  char out[256];
  log_redact_conninfo("postgresql://indexer:s3cret@db:5432/crypto_bet", out, sizeof out);
  ck_assert_str_eq(out, "postgresql://indexer:***@db:5432/crypto_bet");
  log_redact_conninfo("postgresql://db/crypto_bet?user=x&password=s3cret&sslmode=require", out,
                      sizeof out);
  ck_assert_str_eq(out, "postgresql://db/crypto_bet?user=x&password=***&sslmode=require");
  log_redact_conninfo("host=db password=s3cret dbname=x", out, sizeof out);
  ck_assert_str_eq(out, "host=db password=*** dbname=x");
  log_redact_conninfo("host=db password = 'a b\\' c' dbname=x", out, sizeof out);
  ck_assert_str_eq(out, "host=db password=*** dbname=x");
  log_redact_conninfo("postgresql:///crypto_bet", out, sizeof out);
  ck_assert_str_eq(out, "postgresql:///crypto_bet");
}
END_TEST

/* Found by tests/fuzz/fuzz_config_text.c (checked against PQconninfoParse):
 * libpq ends the URI userinfo at '/' only, so a password may hold '?' or
 * '#'; only "postgresql://" / "postgres://" strings are URIs, a key=value
 * string whose value contains "://" is not. */
START_TEST(conninfo_libpq_rules) {
  char out[256];
  log_redact_conninfo("postgresql://indexer:s3c?re#tpw@db:5432/crypto_bet", out, sizeof out);
  ck_assert_str_eq(out, "postgresql://indexer:***@db:5432/crypto_bet");
  log_redact_conninfo("host=db password=s3cretpw application_name=a://b", out, sizeof out);
  ck_assert_str_eq(out, "host=db password=*** application_name=a://b");
  log_redact_conninfo("postgres://u:s3cretpw@db/x", out, sizeof out);
  ck_assert_str_eq(out, "postgres://u:***@db/x");
}
END_TEST

/* A password= parameter ending just before the 1024-byte working buffer of
 * the URI form fills up: the byte after the mask must not be written past
 * the buffer (ASan build). */
START_TEST(conninfo_long_uri) {
  char in[1200], out[2048];
  for (size_t lead = 990; lead < 1030; lead++) {
    size_t n = 0;
    n += (size_t)snprintf(in + n, sizeof in - n, "postgresql://db/x?application_name=");
    while (n < lead)
      in[n++] = 'a';
    n += (size_t)snprintf(in + n, sizeof in - n, "&password=s3cretpw&sslmode=require");
    log_redact_conninfo(in, out, sizeof out);
    ck_assert_uint_lt(strlen(out), 1024);
    ck_assert_ptr_null(strstr(out, "s3cretpw"));
  }
}
END_TEST

START_TEST(levels) {
  ck_assert_int_eq(log_set_level("warn"), 0);
  ck_assert_int_eq(log_min_level, LOG_WARN);
  ck_assert_int_eq(log_set_level("DEBUG"), 0);
  ck_assert_int_eq(log_min_level, LOG_DEBUG);
  ck_assert_int_eq(log_set_level("loud"), -1);
  ck_assert_int_eq(log_min_level, LOG_DEBUG);
  log_set_level("info");
}
END_TEST

START_TEST(config_validation) {
  cbi_config_t cfg;
  char err[128];
  config_init(&cfg);
  ck_assert_int_eq(config_apply(&cfg, CONFIG_OPT_COMMITMENT, "finalized"), 1);
  ck_assert_int_eq(config_finish(&cfg, err, sizeof err), 0);
  config_apply(&cfg, CONFIG_OPT_COMMITMENT, "fast");
  ck_assert_int_eq(config_finish(&cfg, err, sizeof err), CONFIG_ERR_VALUE);
  ck_assert_ptr_nonnull(strstr(err, "fast"));
  unsigned long long v;
  ck_assert_int_eq(config_parse_u64("18446744073709551615", &v), 0);
  ck_assert(v == 18446744073709551615ULL);
  ck_assert_int_eq(config_parse_u64("18446744073709551616", &v), -1);
  ck_assert_int_eq(config_parse_u64("-1", &v), -1);
  ck_assert_int_eq(config_parse_u64("12x", &v), -1);
  ck_assert_int_eq(config_parse_u64("", &v), -1);
  ck_assert_int_eq(config_parse_u64(" -1", &v), -1);
  ck_assert_int_eq(config_parse_u64("\t42", &v), -1);
  ck_assert_int_eq(config_parse_u64("+5", &v), -1);
}
END_TEST

/* Runs fn with log lines sent to a temporary file; returns the text. */
static char *capture_log(void (*fn)(void)) {
  char path[] = "/tmp/cbi-log-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  log_set_output_fd(fd);
  fn();
  log_set_output_fd(-1);
  close(fd);
  char *text = tu_read_file(path, NULL);
  unlink(path);
  return text;
}

static void emit_sample(void) {
  log_info("ws", "reconnecting in_ms=%d attempt=%u", 500, 3u);
  log_warn("rpc", "switching endpoint from=%s to=%s",
           "https://user:hunter2pw@rpc.example.com/?api-key=abc123key",
           "https://solana-mainnet.g.alchemy.com/v2/AbCdEfGhIjKlMnOpQrStUvWx");
  log_error("sink", "database unavailable conninfo=%s error=%s",
            "postgresql://indexer:s3cretpw@db:5432/crypto_bet", "could not connect");
  log_info("sink", "connecting host=db password=s3cretpw dbname=x");
  log_warn("ingest", "bad\x01name\xff\xc3( tail sig=%s slot=%s", "5xYz\"q\\",
           "18446744073709551615");
  log_info("live", "plain message without fields");
  log_info("live", "clash message=inner level=9 n=-42 z=007");
}

START_TEST(json_lines_parse_and_hold_no_secret) {
  log_set_format(LOG_FORMAT_JSON);
  ck_assert_int_eq(log_get_format(), LOG_FORMAT_JSON);
  char *text = capture_log(emit_sample);
  log_set_format(LOG_FORMAT_TEXT);
  static const char *const secrets[] = {"hunter2pw", "abc123key", "AbCdEfGhIjKlMnOpQrStUvWx",
                                        "s3cretpw"};
  for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
    ck_assert_msg(strstr(text, secrets[i]) == NULL, "secret %s in %s", secrets[i], text);
  json_t *lines[7];
  size_t n = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    ck_assert_uint_lt(n, 7);
    json_error_t e;
    lines[n] = json_loads(line, JSON_REJECT_DUPLICATES, &e);
    ck_assert_msg(lines[n] != NULL, "line %zu not JSON (%s): %s", n, e.text, line);
    json_t *t = json_object_get(lines[n], "time");
    ck_assert_msg(json_is_string(t) && strlen(json_string_value(t)) == 24 &&
                      json_string_value(t)[23] == 'Z',
                  "time %s", line);
    n++;
  }
  ck_assert_uint_eq(n, 7);
  json_t *j = lines[0];
  ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "info");
  ck_assert_str_eq(json_string_value(json_object_get(j, "component")), "ws");
  ck_assert_str_eq(json_string_value(json_object_get(j, "message")), "reconnecting");
  ck_assert_int_eq(json_integer_value(json_object_get(j, "in_ms")), 500);
  ck_assert_int_eq(json_integer_value(json_object_get(j, "attempt")), 3);
  j = lines[1];
  ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "warn");
  ck_assert_str_eq(json_string_value(json_object_get(j, "from")),
                   "https://***@rpc.example.com/?api-key=***");
  ck_assert_str_eq(json_string_value(json_object_get(j, "to")),
                   "https://solana-mainnet.g.alchemy.com/v2/***");
  j = lines[2];
  ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "error");
  ck_assert_str_eq(json_string_value(json_object_get(j, "conninfo")),
                   "postgresql://indexer:***@db:5432/crypto_bet");
  ck_assert_str_eq(json_string_value(json_object_get(j, "error")), "could not connect");
  j = lines[3];
  ck_assert_str_eq(json_string_value(json_object_get(j, "password")), "***");
  ck_assert_str_eq(json_string_value(json_object_get(j, "dbname")), "x");
  j = lines[4];
  /* Control character escaped (kept), invalid UTF-8 replaced by U+FFFD. */
  ck_assert_str_eq(json_string_value(json_object_get(j, "message")),
                   "bad\x01name\xef\xbf\xbd\xef\xbf\xbd( tail");
  ck_assert_str_eq(json_string_value(json_object_get(j, "sig")), "5xYz\"q\\");
  /* A u64 beyond 15 digits stays an exact string. */
  ck_assert_str_eq(json_string_value(json_object_get(j, "slot")), "18446744073709551615");
  j = lines[5];
  ck_assert_str_eq(json_string_value(json_object_get(j, "message")),
                   "plain message without fields");
  ck_assert_uint_eq(json_object_size(j), 4);
  j = lines[6];
  ck_assert_str_eq(json_string_value(json_object_get(j, "message")), "clash");
  ck_assert_str_eq(json_string_value(json_object_get(j, "f_message")), "inner");
  ck_assert_int_eq(json_integer_value(json_object_get(j, "f_level")), 9);
  ck_assert_int_eq(json_integer_value(json_object_get(j, "n")), -42);
  ck_assert_str_eq(json_string_value(json_object_get(j, "z")), "007");
  for (size_t i = 0; i < n; i++)
    json_decref(lines[i]);
  free(text);
}
END_TEST

static void emit_text_secrets(void) {
  log_warn("rpc", "endpoint=%s", "https://user:hunter2pw@rpc.example.com/?api-key=abc123key");
  log_info("sink", "connecting host=db password='a b\\' s3cretpw' dbname=x token=tok123456");
  log_info("ws", "line\nbreak");
}

START_TEST(text_lines_are_redacted_too) {
  log_set_format(LOG_FORMAT_TEXT);
  char *text = capture_log(emit_text_secrets);
  ck_assert_ptr_null(strstr(text, "hunter2pw"));
  ck_assert_ptr_null(strstr(text, "abc123key"));
  ck_assert_ptr_null(strstr(text, "s3cretpw"));
  ck_assert_ptr_null(strstr(text, "tok123456"));
  ck_assert_ptr_nonnull(strstr(text, "[rpc] endpoint=https://***@rpc.example.com/?api-key=***\n"));
  ck_assert_ptr_nonnull(
      strstr(text, "[sink] connecting host=db password=*** dbname=x token=***\n"));
  ck_assert_ptr_nonnull(strstr(text, "[ws] line break\n"));
  free(text);
}
END_TEST

static void emit_huge(void) {
  char big[3000];
  memset(big, '\x01', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  log_error("x", "%s k=v", big);
  memset(big, '\xff', sizeof big - 1);
  log_error("x", "a=%s", big);
}

/* Lines that hit the size cap stay one valid JSON object each. */
START_TEST(json_truncation_stays_valid) {
  log_set_format(LOG_FORMAT_JSON);
  char *text = capture_log(emit_huge);
  log_set_format(LOG_FORMAT_TEXT);
  int n = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), n++) {
    json_error_t e;
    json_t *j = json_loads(line, 0, &e);
    ck_assert_msg(j != NULL, "line %d not JSON: %s", n, e.text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "level")), "error");
    json_decref(j);
  }
  ck_assert_int_eq(n, 2);
  free(text);
}
END_TEST

START_TEST(format_names_and_scrub) {
  ck_assert_int_eq(log_set_format_name("JSON"), 0);
  ck_assert_int_eq(log_get_format(), LOG_FORMAT_JSON);
  ck_assert_int_eq(log_set_format_name("yaml"), -1);
  ck_assert_int_eq(log_get_format(), LOG_FORMAT_JSON);
  ck_assert_int_eq(log_set_format_name("text"), 0);
  ck_assert_int_eq(log_get_format(), LOG_FORMAT_TEXT);
  char out[256];
  /* Already-redacted text passes unchanged; "key=" alone is not a secret. */
  ck_assert_str_eq(
      log_scrub("to=https://***@h/?api-key=*** key=AbCdEfGhIjKlMnOpQrStUvWxYz", out, sizeof out),
      "to=https://***@h/?api-key=*** key=AbCdEfGhIjKlMnOpQrStUvWxYz");
  ck_assert_str_eq(log_scrub("(wss://h.example/?token=zz) API_KEY=qq", out, sizeof out),
                   "(wss://h.example/?token=***) API_KEY=***");
  ck_assert_str_eq(log_scrub("url=postgres://u:pw@db/x", out, sizeof out),
                   "url=postgres://u:***@db/x");
  char tiny[8];
  log_scrub("password=hunter2hunter2", tiny, sizeof tiny);
  ck_assert_ptr_null(strstr(tiny, "hunter"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("log");
  TCase *tc = tcase_create("redact");
  tcase_add_test(tc, set_err_formats_and_truncates);
  tcase_add_test(tc, url_query_keys);
  tcase_add_test(tc, url_path_keys);
  tcase_add_test(tc, url_userinfo);
  tcase_add_test(tc, url_userinfo_lenient_forms);
  tcase_add_test(tc, url_truncates_safely);
  tcase_add_test(tc, conninfo_forms);
  tcase_add_test(tc, conninfo_libpq_rules);
  tcase_add_test(tc, conninfo_long_uri);
  tcase_add_test(tc, levels);
  tcase_add_test(tc, config_validation);
  tcase_add_test(tc, json_lines_parse_and_hold_no_secret);
  tcase_add_test(tc, text_lines_are_redacted_too);
  tcase_add_test(tc, json_truncation_stays_valid);
  tcase_add_test(tc, format_names_and_scrub);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
