/* Runs Prometheus's promtool (Debian package "prometheus") from a test.
 * A missing promtool is a failure, never a skip. */
#ifndef CBI_TEST_PROMTOOL_H
#define CBI_TEST_PROMTOOL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs the shell command cmd, reads all its output (so it never dies of
 * SIGPIPE), keeps the last outsz - 1 bytes in out, and returns its exit
 * status (-1 when killed by a signal). */
static inline int pt_popen(const char *cmd, char *out, size_t outsz) {
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t keep = 0;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) {
    if (n >= outsz - 1) {
      memcpy(out, chunk + n - (outsz - 1), outsz - 1);
      keep = outsz - 1;
    } else {
      size_t drop = keep + n > outsz - 1 ? keep + n - (outsz - 1) : 0;
      memmove(out, out + drop, keep - drop);
      keep -= drop;
      memcpy(out + keep, chunk, n);
      keep += n;
    }
  }
  out[keep] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs "promtool ARGS" with stdin from stdin_path (or none when NULL) and
 * returns its exit status; its combined output goes into out (outsz bytes,
 * NUL-terminated). */
static inline int pt_run(const char *args, const char *stdin_path, char *out, size_t outsz) {
  ck_assert_msg(system("command -v promtool >/dev/null 2>&1") == 0,
                "promtool not found: apt-get install prometheus (tools/install-deps.sh)");
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "promtool %s %s%s 2>&1", args, stdin_path ? "< " : "",
           stdin_path ? stdin_path : "");
  return pt_popen(cmd, out, outsz);
}

/* Writes text to a temporary file and runs "promtool check metrics" on it.
 * Returns promtool's exit status (0 = valid and lint-clean). */
static inline int pt_check_metrics(const char *text, char *out, size_t outsz) {
  char path[] = "/tmp/cbi_metrics_XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  size_t len = strlen(text);
  ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
  close(fd);
  int rc = pt_run("check metrics", path, out, outsz);
  unlink(path);
  return rc;
}

#endif
