/* Shared helpers for the Check suites. Tests run from the repository root
 * (tests/run.sh); database tests use the cluster in CBI_TEST_DATABASE_URL. */
#ifndef CBI_TESTUTIL_H
#define CBI_TESTUTIL_H

#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads a whole file; NUL-terminates; aborts the test on failure. */
static inline char *tu_read_file(const char *path, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(buf);
  size_t got = fread(buf, 1, (size_t)n, f);
  fclose(f);
  ck_assert_uint_eq(got, (size_t)n);
  buf[n] = '\0';
  if (len_out) *len_out = (size_t)n;
  return buf;
}

/* True when a test PostgreSQL cluster is available. */
static inline int tu_have_pg(void) { return getenv("CBI_TEST_DATABASE_URL") != NULL; }

/* Creates a fresh, empty database named <prefix>_<pid>_<counter> on the test
 * cluster and returns its connection URI (caller frees). */
static inline char *tu_fresh_db(const char *prefix) {
  static int counter;
  const char *base = getenv("CBI_TEST_DATABASE_URL");
  ck_assert_msg(base != NULL, "CBI_TEST_DATABASE_URL not set (run through tests/run.sh)");
  PGconn *c = PQconnectdb(base);
  ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
  char name[96], sql[160];
  snprintf(name, sizeof name, "%s_%d_%d", prefix, (int)getpid(), counter++);
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
  PQclear(PQexec(c, sql));
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
  PGresult *r = PQexec(c, sql);
  ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
  /* Replace the database name at the end of the base URI. */
  const char *slash = strrchr(base, '/');
  size_t keep = (size_t)(slash - base) + 1;
  char *uri = malloc(keep + strlen(name) + 1);
  memcpy(uri, base, keep);
  memcpy(uri + keep, name, strlen(name) + 1);
  return uri;
}

/* Runs a query that returns one value and returns it as a new string
 * ("<NULL>" for SQL NULL). */
static inline char *tu_query1(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
  ck_assert_msg(PQntuples(r) == 1 && PQnfields(r) == 1, "%s: %d rows", sql, PQntuples(r));
  char *v = strdup(PQgetisnull(r, 0, 0) ? "<NULL>" : PQgetvalue(r, 0, 0));
  PQclear(r);
  return v;
}

#define tu_assert_query(conn, sql, expected)                                   \
  do {                                                                         \
    char *got_ = tu_query1((conn), (sql));                                     \
    ck_assert_msg(strcmp(got_, (expected)) == 0, "%s: got '%s', want '%s'", (sql), got_, \
                  (expected));                                                 \
    free(got_);                                                                \
  } while (0)

/* Runs a suite and returns the process exit code. */
static inline int tu_run_suite(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}

#endif
