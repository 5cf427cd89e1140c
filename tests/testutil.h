/* Shared helpers for the Check suites. Tests run from the repository root
 * (tests/run.sh); database tests use the cluster in CBI_TEST_DATABASE_URL. */
#ifndef CBI_TESTUTIL_H
#define CBI_TESTUTIL_H

#include <check.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "migrate.h"

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

/* tu_fresh_db, connected (client_min_messages = warning) and migrated to
 * the latest schema. Returns the URI (caller frees); *conn_out receives the
 * connection (caller PQfinish()es). */
static inline char *tu_fresh_migrated_db(const char *prefix, PGconn **conn_out) {
  char *uri = tu_fresh_db(prefix);
  PGconn *c = PQconnectdb(uri);
  ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  char err[512];
  ck_assert_msg(migrate_run(uri, NULL, err, sizeof err) == 0, "migrate: %s", err);
  *conn_out = c;
  return uri;
}

/* A base58-looking text of exactly len characters: tag, n, then padding
 * (out holds len + 1 bytes). */
static inline void tu_key(char *out, size_t len, const char *tag, int n) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%s%d", tag, n);
  size_t t = strlen(tmp);
  for (size_t i = 0; i < len; i++) out[i] = i < t ? tmp[i] : (char)('A' + (i % 20));
  out[len] = '\0';
}

/* Writes $CBI_BUILD/name ("build/name" when unset or empty) into buf. */
static inline void tu_build_path(char *buf, size_t bufsz, const char *name) {
  const char *b = getenv("CBI_BUILD");
  int n = snprintf(buf, bufsz, "%s/%s", b && *b ? b : "build", name);
  ck_assert_msg(n > 0 && (size_t)n < bufsz, "build path too long: %s", name);
}

static inline long tu_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void tu_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Starts the build's program prog with args then extra (both
 * NULL-terminated; extra may be NULL) as a child process. out_file /
 * err_file (may be NULL: inherited) receive its stdout / stderr. Returns
 * the child's pid (wait with tu_wait_exit). */
static inline pid_t tu_spawn(const char *prog, const char *const *args, const char *const *extra,
                             const char *out_file, const char *err_file) {
  char bin[512];
  tu_build_path(bin, sizeof bin, prog);
  const char *argv[64];
  int n = 0;
  argv[n++] = bin;
  for (int i = 0; args && args[i]; i++) {
    ck_assert_int_lt(n, 63);
    argv[n++] = args[i];
  }
  for (int i = 0; extra && extra[i]; i++) {
    ck_assert_int_lt(n, 63);
    argv[n++] = extra[i];
  }
  argv[n] = NULL;
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    FILE *f = NULL;
    if (out_file) f = freopen(out_file, "w", stdout);
    if (err_file) f = freopen(err_file, "w", stderr);
    (void)f;
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  return pid;
}

/* Waits for a child; timeout_ms <= 0 waits without limit, otherwise the
 * child is killed on timeout and the test fails (showing the tail of
 * log_file when not NULL). Returns the exit code, 128 + signal when killed
 * by one. */
static inline int tu_wait_exit(pid_t pid, long timeout_ms, const char *log_file) {
  int st = 0;
  if (timeout_ms <= 0) {
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
  } else {
    long deadline = tu_now_ms() + timeout_ms;
    for (;;) {
      pid_t w = waitpid(pid, &st, WNOHANG);
      if (w == pid) break;
      if (tu_now_ms() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        char *log = log_file ? tu_read_file(log_file, NULL) : strdup("");
        size_t n = strlen(log);
        ck_abort_msg("child did not exit within %ld ms; log tail:\n%s", timeout_ms,
                     n > 3000 ? log + n - 3000 : log);
      }
      usleep(20000);
    }
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
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
