/* Schema migrations against a real PostgreSQL server: from empty, re-run,
 * checksum mismatch, unknown versions, the CLI's exit codes. */
#include <sodium.h>
#include <sys/wait.h>

#include "embedded.h"
#include "migrate.h"
#include "sink.h"
#include "testutil.h"

static PGconn *connect_uri(const char *uri) {
  PGconn *c = PQconnectdb(uri);
  ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  return c;
}

static size_t count_schema_files(void) {
  size_t n = 0;
  for (const embedded_file_t *f = embedded_files; f->name; f++)
    if (strncmp(f->name, "schema/", 7) == 0) n++;
  return n;
}

START_TEST(t_from_empty_and_rerun) {
  char *uri = tu_fresh_db("mig");
  PGconn *c = connect_uri(uri);
  char err[1024] = "";
  int applied = -1;
  size_t nfiles = count_schema_files();
  ck_assert_uint_ge(nfiles, 2);
  ck_assert_int_eq(migrate_check(uri, err, sizeof err), MIGRATE_ERR_PENDING);
  ck_assert_int_eq(migrate_run(uri, &applied, err, sizeof err), MIGRATE_OK);
  ck_assert_int_eq(applied, (int)nfiles);
  ck_assert_int_eq(migrate_check(uri, err, sizeof err), MIGRATE_OK);

  /* Every core table exists. */
  const char *tables[] = {"users",           "markets_cache",    "market_analytics",
                          "positions_cache", "transactions",     "platform_config",
                          "treasuries_cache", "oracle_data_cache", "sync_checkpoints",
                          "dead_letters",    "account_closures", "schema_migrations"};
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT to_regclass('%s') IS NOT NULL", tables[i]);
    tu_assert_query(c, sql, "t");
  }

  /* Recorded checksums are the sha256 of the files on disk. */
  PGresult *r = PQexec(c, "SELECT version, checksum, description FROM schema_migrations "
                          "ORDER BY version");
  ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
  ck_assert_int_eq(PQntuples(r), (int)nfiles);
  ck_assert_str_eq(PQgetvalue(r, 0, 0), "001");
  ck_assert_str_eq(PQgetvalue(r, 0, 2), "core");
  size_t len;
  char *disk = tu_read_file("schema/001_core.sql", &len);
  unsigned char h[32];
  char hex[65];
  crypto_hash_sha256(h, (const unsigned char *)disk, len);
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  ck_assert_str_eq(PQgetvalue(r, 0, 1), hex);
  free(disk);
  PQclear(r);

  /* Re-running is a no-op. */
  applied = -1;
  ck_assert_int_eq(migrate_run(uri, &applied, err, sizeof err), MIGRATE_OK);
  ck_assert_int_eq(applied, 0);
  char want[32];
  snprintf(want, sizeof want, "%zu", nfiles);
  tu_assert_query(c, "SELECT count(*) FROM schema_migrations", want);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_checksum_mismatch) {
  char *uri = tu_fresh_db("mig");
  PGconn *c = connect_uri(uri);
  char err[1024] = "";
  ck_assert_int_eq(migrate_run(uri, NULL, err, sizeof err), MIGRATE_OK);
  PQclear(PQexec(c, "UPDATE schema_migrations SET checksum = repeat('0', 64) "
                    "WHERE version = '001'"));
  err[0] = '\0';
  ck_assert_int_eq(migrate_run(uri, NULL, err, sizeof err), MIGRATE_ERR_CHECKSUM);
  ck_assert_msg(strstr(err, "schema/001_core.sql") != NULL, "error names the file: %s", err);
  ck_assert_int_eq(migrate_check(uri, err, sizeof err), MIGRATE_ERR_CHECKSUM);
  /* status reports it too */
  char *buf = NULL;
  size_t blen = 0;
  FILE *mem = open_memstream(&buf, &blen);
  ck_assert_int_eq(migrate_status(uri, mem, err, sizeof err), MIGRATE_ERR_CHECKSUM);
  fclose(mem);
  ck_assert_msg(strstr(buf, "CHECKSUM MISMATCH") != NULL, "%s", buf);
  free(buf);
  /* The sink refuses a modified schema. */
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = uri;
  sink_t *s = NULL;
  ck_assert_int_eq(sink_open(&o, &s, err, sizeof err), SINK_ERR_SCHEMA);
  ck_assert_ptr_null(s);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_unknown_version_and_pending) {
  char *uri = tu_fresh_db("mig");
  PGconn *c = connect_uri(uri);
  char err[1024] = "";
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = uri;
  sink_t *s = NULL;
  ck_assert_int_eq(sink_open(&o, &s, err, sizeof err), SINK_ERR_SCHEMA);
  ck_assert_msg(strstr(err, "migrate") != NULL, "hint to run migrate: %s", err);
  ck_assert_int_eq(migrate_run(uri, NULL, err, sizeof err), MIGRATE_OK);
  ck_assert_int_eq(sink_open(&o, &s, err, sizeof err), SINK_OK);
  sink_close(s);
  PQclear(PQexec(c, "INSERT INTO schema_migrations (version, description, checksum) "
                    "VALUES ('999', 'future', repeat('a', 64))"));
  ck_assert_int_eq(migrate_run(uri, NULL, err, sizeof err), MIGRATE_ERR_UNKNOWN);
  ck_assert_msg(strstr(err, "999") != NULL, "%s", err);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_failed_migration_rolls_back) {
  /* A migration's statements and its schema_migrations row commit together:
   * with a conflicting object in place, 001 fails and leaves nothing. */
  char *uri = tu_fresh_db("mig");
  PGconn *c = connect_uri(uri);
  PQclear(PQexec(c, "CREATE TABLE dead_letters (x int)"));
  char err[1024] = "";
  ck_assert_int_eq(migrate_run(uri, NULL, err, sizeof err), MIGRATE_ERR_DB);
  ck_assert_msg(strstr(err, "001") != NULL, "%s", err);
  tu_assert_query(c, "SELECT count(*) FROM schema_migrations", "0");
  tu_assert_query(c, "SELECT to_regclass('markets_cache') IS NULL", "t");
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_connect_failure_is_a_code) {
  /* No server on port 1: a negative code, the password redacted. */
  char err[1024] = "";
  int applied = 7;
  const char *bad = "postgresql://indexer:hunter2@127.0.0.1:1/crypto_bet?connect_timeout=2";
  ck_assert_int_eq(migrate_run(bad, &applied, err, sizeof err), MIGRATE_ERR_CONNECT);
  ck_assert_int_eq(applied, 0);
  ck_assert_msg(strstr(err, "cannot connect") != NULL, "%s", err);
  ck_assert_msg(strstr(err, "hunter2") == NULL, "password leaked: %s", err);
  ck_assert_int_eq(migrate_check(bad, err, sizeof err), MIGRATE_ERR_CONNECT);
  ck_assert_int_eq(migrate_status(bad, stdout, err, sizeof err), MIGRATE_ERR_CONNECT);
  ck_assert_str_eq(migrate_strerror(MIGRATE_ERR_CONNECT), "cannot connect to the database");
}
END_TEST

static int run_cli(const char *args) {
  const char *build = getenv("CBI_BUILD");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s/crypto-bet-indexer migrate %s >/dev/null 2>&1",
           build ? build : "build", args);
  int st = system(cmd);
  ck_assert_msg(st != -1 && WIFEXITED(st), "cannot run %s", cmd);
  return WEXITSTATUS(st);
}

START_TEST(t_cli) {
  char *uri = tu_fresh_db("mig");
  char args[600];
  ck_assert_int_eq(run_cli("--help"), 0);
  ck_assert_int_eq(run_cli("--no-such-flag"), 2);
  snprintf(args, sizeof args, "--status --database-url '%s'", uri);
  ck_assert_int_eq(run_cli(args), 1); /* pending */
  snprintf(args, sizeof args, "--database-url '%s'", uri);
  ck_assert_int_eq(run_cli(args), 0);
  ck_assert_int_eq(run_cli(args), 0); /* re-run */
  snprintf(args, sizeof args, "--status --database-url '%s'", uri);
  ck_assert_int_eq(run_cli(args), 0);
  ck_assert_int_eq(run_cli("--database-url 'postgresql://127.0.0.1:1/nope?connect_timeout=2'"), 1);
  PGconn *c = connect_uri(uri);
  PQclear(PQexec(c, "UPDATE schema_migrations SET checksum = repeat('1', 64) "
                    "WHERE version = '002'"));
  PQfinish(c);
  snprintf(args, sizeof args, "--database-url '%s'", uri);
  ck_assert_int_eq(run_cli(args), 1);
  free(uri);
}
END_TEST

int main(void) {
  Suite *s = suite_create("migrate");
  TCase *tc = tcase_create("migrate");
  tcase_set_timeout(tc, 120);
  if (tu_have_pg()) {
    tcase_add_test(tc, t_from_empty_and_rerun);
    tcase_add_test(tc, t_checksum_mismatch);
    tcase_add_test(tc, t_unknown_version_and_pending);
    tcase_add_test(tc, t_failed_migration_rolls_back);
    tcase_add_test(tc, t_cli);
    tcase_add_test(tc, t_connect_failure_is_a_code);
  }
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
