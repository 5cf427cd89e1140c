/* Redaction of secrets in URLs and connection strings, and log levels. */
#include <check.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "testutil.h"

static void check_url(const char *in, const char *want) {
  char out[512];
  log_redact_url(in, out, sizeof out);
  ck_assert_msg(strcmp(out, want) == 0, "redact(%s) = %s, want %s", in, out, want);
}

START_TEST(url_query_keys) {
  check_url("https://mainnet.helius-rpc.com/?api-key=abc123-def",
            "https://mainnet.helius-rpc.com/?api-key=***");
  check_url("https://rpc.example.com/path?x=1&token=zzz", "https://rpc.example.com/path?x=***&token=***");
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
    while (n < lead) in[n++] = 'a';
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

int main(void) {
  Suite *s = suite_create("log");
  TCase *tc = tcase_create("redact");
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
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
