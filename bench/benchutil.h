/* Helpers shared by the benchmarks (bench/bench_*.c): clocks, a timing
 * loop, the build directory, whole-file reads, a fresh database, the
 * replay server as a child process, and the repetition count and figure
 * lines every benchmark prints the same way:
 *
 *   bench NAME: VALUE UNIT (median of N, min X, max Y[; details])
 *
 * one line per figure, VALUE the median over N repeated runs. Header-only. */
#ifndef CBI_BENCHUTIL_H
#define CBI_BENCHUTIL_H

#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* $CBI_BUILD, or "build" when unset or empty. */
static inline const char *bu_build_dir(void) {
  const char *b = getenv("CBI_BUILD");
  return b && *b ? b : "build";
}

/* Monotonic clock in seconds / nanoseconds. */
static inline double bu_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t bu_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Keeps the compiler from dropping writes to p. */
static inline void bu_clobber(const void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

/* Runs BODY (over index i in 0..POOL; it may add to the uint64_t acc_) in
 * rounds until MIN_NS elapsed, adds acc_ to SINK (a volatile uint64_t) and
 * stores ops per second in RESULT. */
#define BU_TIMED(RESULT, SINK, POOL, MIN_NS, BODY)               \
  do {                                                           \
    uint64_t t0_ = bu_now_ns(), t1_, ops_ = 0, acc_ = 0;         \
    do {                                                         \
      for (size_t i = 0; i < (POOL); i++) {                      \
        BODY;                                                    \
      }                                                          \
      ops_ += (POOL);                                            \
      t1_ = bu_now_ns();                                         \
    } while (t1_ - t0_ < (MIN_NS));                              \
    (SINK) += acc_;                                              \
    (RESULT) = (double)ops_ * 1e9 / (double)(t1_ - t0_);         \
  } while (0)

/* Reads a whole file, NUL-terminated (caller frees); *len (may be NULL)
 * gets its length. NULL when it cannot be read. */
static inline char *bu_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  if (b) {
    b[n] = '\0';
    if (len) *len = (size_t)n;
  }
  return b;
}

/* Drops and creates the database name on the cluster at base (a
 * postgresql:// URI) and writes its URI into uri. Messages go to stderr
 * prefixed with who. Returns 0 or -1. */
static inline int bu_create_db(const char *who, const char *base, const char *name, char *uri,
                               size_t urisz) {
  const char *slash = strrchr(base, '/');
  if (!slash) {
    fprintf(stderr, "%s: database URL must be a postgresql:// URI\n", who);
    return -1;
  }
  PGconn *c = PQconnectdb(base);
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "%s: %s", who, PQerrorMessage(c));
    PQfinish(c);
    return -1;
  }
  char sql[200];
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
  PQclear(PQexec(c, sql));
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
  PGresult *r = PQexec(c, sql);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) fprintf(stderr, "%s: %s: %s", who, sql, PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
  if (!ok) return -1;
  int n = snprintf(uri, urisz, "%.*s/%s", (int)(slash - base), base, name);
  return n > 0 && (size_t)n < urisz ? 0 : -1;
}

/* Starts BUILD/cbi-replay --dir dir --port 0 [extra...] (extra
 * NULL-terminated, may be NULL) and reads the port it prints within
 * wait_ms. Returns its pid (stop it with SIGTERM), or -1. */
static inline pid_t bu_replay_start(const char *dir, const char *const *extra, int wait_ms,
                                    int *port) {
  char bin[600];
  snprintf(bin, sizeof bin, "%s/cbi-replay", bu_build_dir());
  const char *argv[32] = {bin, "--dir", dir, "--port", "0"};
  int n = 5;
  for (int i = 0; extra && extra[i] && n < 31; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  close(fds[1]);
  char buf[128];
  size_t got = 0;
  while (got < sizeof buf - 1) {
    struct pollfd p = {fds[0], POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) break;
    ssize_t k = read(fds[0], buf + got, sizeof buf - 1 - got);
    if (k <= 0) break;
    got += (size_t)k;
    buf[got] = '\0';
    if (strchr(buf, '\n')) break;
  }
  buf[got] = '\0';
  close(fds[0]);
  if (sscanf(buf, "listening on %d", port) != 1) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
  }
  return pid;
}

/* Most repetitions a figure takes (CBI_BENCH_REPS is at most this), and
 * most samples one figure summarises. */
#define BU_MAX_REPS 25
#define BU_MAX_SAMPLES 128

/* The repetition count: $CBI_BENCH_REPS when set and not empty, else def.
 * A value outside 1..BU_MAX_REPS is reported on stderr (prefixed with who)
 * and exits with status 2. */
static inline int bu_reps(const char *who, int def) {
  const char *e = getenv("CBI_BENCH_REPS");
  if (!e || !*e) return def;
  char *end;
  errno = 0;
  long v = strtol(e, &end, 10);
  if (errno || *end || v < 1 || v > BU_MAX_REPS) {
    fprintf(stderr, "%s: CBI_BENCH_REPS must be 1..%d (got '%s')\n", who, BU_MAX_REPS, e);
    exit(2);
  }
  return (int)v;
}

/* Median, smallest and largest of n samples. */
typedef struct bu_stat {
  double median, min, max;
  int n;
} bu_stat_t;

static inline int bu_cmp_dbl_(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The summary of v[0..n) (1 <= n <= BU_MAX_SAMPLES; v is not reordered).
 * n outside that range gives a summary with n = 0 and NaN values. */
static inline bu_stat_t bu_stat(const double *v, int n) {
  bu_stat_t s = {NAN, NAN, NAN, 0};
  if (n < 1 || n > BU_MAX_SAMPLES) return s;
  double w[BU_MAX_SAMPLES];
  memcpy(w, v, (size_t)n * sizeof *w);
  qsort(w, (size_t)n, sizeof *w, bu_cmp_dbl_);
  s.median = n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
  s.min = w[0];
  s.max = w[n - 1];
  s.n = n;
  return s;
}

/* The median of v[0..n) (NaN when n is outside 1..BU_MAX_SAMPLES). */
static inline double bu_median(const double *v, int n) { return bu_stat(v, n).median; }

/* Prints one figure line to stdout and flushes it:
 *   bench NAME: MEDIAN UNIT (median of N, min MIN, max MAX[; DETAILS])
 * with prec decimals; DETAILS is printf-formatted from fmt (NULL or "" for
 * none). Returns 0, or -1 (nothing printed, a message on stderr) when the
 * samples are not usable: n outside 1..BU_MAX_SAMPLES or a value not
 * finite. */
static inline int bu_figure(const char *name, const char *unit, int prec, const double *v, int n,
                            const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static inline int bu_figure(const char *name, const char *unit, int prec, const double *v, int n,
                            const char *fmt, ...) {
  bu_stat_t s = bu_stat(v, n);
  if (s.n == 0 || !isfinite(s.min) || !isfinite(s.max)) {
    fprintf(stderr, "bench %s: no usable measurement (%d samples)\n", name, n);
    return -1;
  }
  char details[1024] = "";
  if (fmt && *fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(details, sizeof details, fmt, ap);
    va_end(ap);
  }
  printf("bench %s: %.*f %s (median of %d, min %.*f, max %.*f%s%s)\n", name, prec, s.median, unit,
         s.n, prec, s.min, prec, s.max, details[0] ? "; " : "", details);
  fflush(stdout);
  return 0;
}

#endif
