/* Test helper: runs $CBI_BUILD/cbi-replay as a child process on an
 * ephemeral 127.0.0.1 port. The child gets SIGTERM if the test process dies
 * (a failed assertion never leaves a server behind). */
#ifndef CBI_TEST_REPLAY_CHILD_H
#define CBI_TEST_REPLAY_CHILD_H

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

typedef struct {
  pid_t pid;
  int port;
  char url[64]; /* "http://127.0.0.1:PORT/" */
} rc_child_t;

/* Starts the server on dir with extra arguments (NULL-terminated list, may
 * be NULL). Aborts the test on failure. */
static inline void rc_start(rc_child_t *c, const char *dir, const char *const *extra) {
  char bin[512];
  tu_build_path(bin, sizeof bin, "cbi-replay");
  const char *argv[64];
  int n = 0;
  argv[n++] = bin;
  argv[n++] = "--dir";
  argv[n++] = dir;
  argv[n++] = "--port";
  argv[n++] = "0";
  for (int i = 0; extra && extra[i] && n < 62; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  pid_t parent = getpid();
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  close(fds[1]);
  char line[128];
  size_t got = 0;
  long deadline = tu_now_ms() + 10000;
  while (got < sizeof line - 1 && (got == 0 || line[got - 1] != '\n')) {
    struct pollfd pfd = {fds[0], POLLIN, 0};
    long left = deadline - tu_now_ms();
    ck_assert_msg(left > 0, "cbi-replay did not print its port (%s)", bin);
    if (poll(&pfd, 1, (int)left) <= 0) continue;
    ssize_t r = read(fds[0], line + got, sizeof line - 1 - got);
    ck_assert_msg(r > 0, "cbi-replay exited before listening (%s)", bin);
    got += (size_t)r;
  }
  close(fds[0]);
  line[got] = '\0';
  ck_assert_msg(sscanf(line, "listening on %d", &c->port) == 1, "first line: %s", line);
  ck_assert_int_gt(c->port, 0);
  c->pid = pid;
  snprintf(c->url, sizeof c->url, "http://127.0.0.1:%d/", c->port);
}

/* SIGTERM, wait up to 5 s (then SIGKILL). Returns the exit status, or -1 if
 * it had to be killed or died by a signal. */
static inline int rc_stop(rc_child_t *c) {
  int status = 0;
  if (c->pid <= 0) return -1;
  kill(c->pid, SIGTERM);
  long deadline = tu_now_ms() + 15000;
  for (;;) {
    pid_t w = waitpid(c->pid, &status, WNOHANG);
    if (w == c->pid) break;
    if (tu_now_ms() > deadline) {
      kill(c->pid, SIGKILL);
      waitpid(c->pid, &status, 0);
      c->pid = 0;
      return -1;
    }
    usleep(10000);
  }
  c->pid = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* rc_start on dir with extra, then a fresh migrated database
 * (tu_fresh_migrated_db(db_prefix, conn)): the surroundings of an
 * end-to-end test. Returns the database URI; rc_end_with_db releases all. */
static inline char *rc_start_with_db(rc_child_t *c, const char *dir, const char *const *extra,
                                     const char *db_prefix, PGconn **conn) {
  rc_start(c, dir, extra);
  return tu_fresh_migrated_db(db_prefix, conn);
}

/* Closes conn, frees uri and stops the server (rc_stop). */
static inline void rc_end_with_db(rc_child_t *c, PGconn *conn, char *uri) {
  PQfinish(conn);
  free(uri);
  rc_stop(c);
}

static inline size_t rc_collect(char *data, size_t size, size_t nmemb, void *userp) {
  size_t n = size * nmemb;
  char **buf = userp;
  size_t have = *buf ? strlen(*buf) : 0;
  char *nb = realloc(*buf, have + n + 1);
  if (!nb) return 0;
  memcpy(nb + have, data, n);
  nb[have + n] = '\0';
  *buf = nb;
  return n;
}

/* HTTP request to the server; body NULL = GET. Returns the response body
 * (caller frees) and the status in *status. */
static inline char *rc_http(const rc_child_t *c, const char *path, const char *body, long *status) {
  char url[256];
  char *out = NULL;
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, path);
  CURL *e = curl_easy_init();
  ck_assert_ptr_nonnull(e);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, rc_collect);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  if (body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  }
  CURLcode rc = curl_easy_perform(e);
  ck_assert_msg(rc == CURLE_OK, "HTTP %s: %s", path, curl_easy_strerror(rc));
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
  if (!out) out = strdup("");
  return out;
}

/* One counter from GET /stats. */
static inline long long rc_stat(const rc_child_t *c, const char *name) {
  long status = 0;
  char *body = rc_http(c, "/stats", NULL, &status);
  ck_assert_int_eq(status, 200);
  json_error_t je;
  json_t *d = json_loads(body, 0, &je);
  ck_assert_msg(d != NULL, "stats not JSON: %s", body);
  json_t *v = json_object_get(d, name);
  ck_assert_msg(json_is_integer(v), "no stat %s in %s", name, body);
  long long r = (long long)json_integer_value(v);
  json_decref(d);
  free(body);
  return r;
}

/* Creates a fresh temporary directory (caller frees the path). */
static inline char *rc_tmpdir(void) {
  char *t = strdup("/tmp/cbi-rpc-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(t));
  return t;
}

static inline void rc_write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
  fclose(f);
}

static inline void rc_rmdir(char *dir) {
  char cmd[600];
  if (strncmp(dir, "/tmp/cbi-rpc-test-", 18) == 0) {
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", dir);
  }
  free(dir);
}

#endif
