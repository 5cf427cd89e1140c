/* Job commands after option parsing (cmd_jobs.h): enqueue, status with
 * progress bars, rates and ETA (text or JSON), cancel, wait. */
#include "cmd_jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define STATUS_LIST_MAX 20
#define BAR_WIDTH 24

static sink_jobs_t *open_jobs(const char *cmd, const char *database_url) {
  char owner[96], host[64] = "host", err[512];
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  snprintf(owner, sizeof owner, "%s:%d:cli", host, (int)getpid());
  sink_jobs_t *j = NULL;
  if (sink_jobs_open(database_url, owner, 10000, &j, err, sizeof err) != 0) {
    log_error(cmd, "database: %s", err);
    return NULL;
  }
  return j;
}

static void iso_time(int64_t ms, char *buf, size_t bufsz) {
  if (ms <= 0) {
    snprintf(buf, bufsz, "-");
    return;
  }
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void duration(double s, char *buf, size_t bufsz) {
  if (s < 0) {
    snprintf(buf, bufsz, "-");
  } else if (s < 90) {
    snprintf(buf, bufsz, "%.0fs", s);
  } else if (s < 5400) {
    snprintf(buf, bufsz, "%ldm%02lds", (long)s / 60, (long)s % 60);
  } else {
    snprintf(buf, bufsz, "%ldh%02ldm", (long)s / 3600, ((long)s % 3600) / 60);
  }
}

typedef struct rates {
  double fraction; /* 0..1 of the slots done */
  double elapsed_s;
  double slots_per_s, tx_per_s;
  double eta_s; /* -1 unknown */
} rates_t;

static void compute_rates(const sink_job_info_t *j, rates_t *r) {
  uint64_t total = j->to_slot - j->from_slot + 1;
  r->fraction = total ? (double)j->slots_done / (double)total : 0;
  if (j->state == SINK_JOB_DONE) r->fraction = 1;
  int64_t end = j->finished_ms > 0 ? j->finished_ms : j->now_ms;
  r->elapsed_s = j->started_ms > 0 ? (double)(end - j->started_ms) / 1000.0 : 0;
  r->slots_per_s = r->elapsed_s > 0 ? (double)j->slots_done / r->elapsed_s : 0;
  r->tx_per_s = r->elapsed_s > 0 ? (double)j->transactions / r->elapsed_s : 0;
  r->eta_s = -1;
  if (j->state == SINK_JOB_DONE)
    r->eta_s = 0;
  else if (j->state == SINK_JOB_RUNNING && r->slots_per_s > 0)
    r->eta_s = (double)(total - j->slots_done) / r->slots_per_s;
}

void cmd_jobs_format_text(const sink_job_info_t *j, char *buf, size_t bufsz) {
  rates_t r;
  compute_rates(j, &r);
  char bar[BAR_WIDTH + 1];
  int filled = (int)(r.fraction * BAR_WIDTH + 0.5);
  for (int i = 0; i < BAR_WIDTH; i++)
    bar[i] = i < filled ? '#' : '.';
  bar[BAR_WIDTH] = '\0';
  char eta[32], req[32], el[32];
  duration(r.eta_s, eta, sizeof eta);
  duration(r.elapsed_s, el, sizeof el);
  iso_time(j->requested_ms, req, sizeof req);
  int n = snprintf(buf, bufsz,
                   "job %" PRId64 " %-9s [%s] %3.0f%%  chunks %d/%d (%d running)  slots %" PRIu64
                   "..%" PRIu64 "  %.0f slots/s  %.0f tx/s  elapsed %s  eta %s  requested %s by %s",
                   j->id, sink_job_state_name(j->state), bar, r.fraction * 100.0, j->chunks_done,
                   j->chunks_total, j->chunks_running, j->from_slot, j->to_slot, r.slots_per_s,
                   r.tx_per_s, el, eta, req, j->requested_by);
  if (n > 0 && (size_t)n < bufsz && j->last_error[0])
    snprintf(buf + n, bufsz - (size_t)n, "\n    last error: %s", j->last_error);
}

void cmd_jobs_format_json(const sink_job_info_t *j, char *buf, size_t bufsz) {
  rates_t r;
  compute_rates(j, &r);
  char req[32], st[32], fin[32];
  iso_time(j->requested_ms, req, sizeof req);
  iso_time(j->started_ms, st, sizeof st);
  iso_time(j->finished_ms, fin, sizeof fin);
  /* u64 slots as JSON integers: jansson takes json_int_t, slots are <= INT64_MAX */
  json_t *o = json_pack(
      "{s:I, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:o, s:o, s:i, s:i, s:i, s:i, s:I, s:I, s:i,"
      " s:f, s:f, s:f, s:o, s:o}",
      "id", (json_int_t)j->id, "state", sink_job_state_name(j->state), "from_slot",
      (json_int_t)j->from_slot, "to_slot", (json_int_t)j->to_slot, "chunk_slots",
      (json_int_t)j->chunk_slots, "strategy", j->strategy, "requested_by", j->requested_by,
      "requested_at", req, "started_at", j->started_ms ? json_string(st) : json_null(),
      "finished_at", j->finished_ms ? json_string(fin) : json_null(), "chunks_total",
      j->chunks_total, "chunks_done", j->chunks_done, "chunks_running", j->chunks_running,
      "chunks_failed", j->chunks_failed, "slots_done", (json_int_t)j->slots_done, "transactions",
      (json_int_t)j->transactions, "attempts", j->attempts, "progress", r.fraction, "slots_per_s",
      r.slots_per_s, "tx_per_s", r.tx_per_s, "eta_s",
      r.eta_s >= 0 ? json_real(r.eta_s) : json_null(), "last_error",
      j->last_error[0] ? json_string(j->last_error) : json_null());
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  snprintf(buf, bufsz, "%s", s ? s : "{}");
  free(s);
  json_decref(o);
}

int cmd_jobs_enqueue(const char *cmd, const char *database_url, uint64_t from, uint64_t to,
                     uint64_t chunk_slots, const char *strategy, bool json, FILE *out,
                     int64_t *job_id) {
  sink_jobs_t *j = open_jobs(cmd, database_url);
  if (!j) return EXIT_FAILURE_RUN;
  int64_t id = 0;
  int rc = sink_jobs_enqueue(j, from, to, chunk_slots, strategy, 0, &id);
  if (job_id) *job_id = id;
  int code = EXIT_OK;
  if (rc == SINK_JOBS_ERR_DUPLICATE) {
    log_error(cmd,
              "job %" PRId64 " is already active for slots %" PRIu64 "..%" PRIu64
              " (see backfill --status %" PRId64 ")",
              id, from, to, id);
    code = EXIT_FAILURE_RUN;
  } else if (rc != 0) {
    log_error(cmd, "enqueue: %s", sink_jobs_last_error(j));
    code = rc == SINK_JOBS_ERR_INVALID ? EXIT_USAGE : EXIT_FAILURE_RUN;
  } else {
    sink_job_info_t info;
    if (json)
      fprintf(out, "{\"id\":%" PRId64 "}\n", id);
    else if (sink_jobs_get(j, id, &info) == 0)
      fprintf(out,
              "job %" PRId64 " enqueued: slots %" PRIu64 "..%" PRIu64 " in %d chunks of %" PRIu64
              " slots\n",
              id, from, to, info.chunks_total, info.chunk_slots);
    else
      fprintf(out, "job %" PRId64 " enqueued\n", id);
    log_info(cmd, "job enqueued job=%" PRId64 " from=%" PRIu64 " to=%" PRIu64, id, from, to);
  }
  sink_jobs_close(j);
  return code;
}

int cmd_jobs_status(const char *cmd, const char *database_url, int64_t id, bool json, FILE *out) {
  sink_jobs_t *j = open_jobs(cmd, database_url);
  if (!j) return EXIT_FAILURE_RUN;
  int code = EXIT_OK;
  char line[2048];
  if (id > 0) {
    sink_job_info_t info;
    int rc = sink_jobs_get(j, id, &info);
    if (rc != 0) {
      log_error(cmd, "job %" PRId64 ": %s", id,
                rc == SINK_JOBS_ERR_NOT_FOUND ? "no such job" : sink_jobs_last_error(j));
      code = EXIT_FAILURE_RUN;
    } else {
      if (json)
        cmd_jobs_format_json(&info, line, sizeof line);
      else
        cmd_jobs_format_text(&info, line, sizeof line);
      fprintf(out, "%s\n", line);
    }
  } else {
    sink_job_info_t *list = calloc(STATUS_LIST_MAX, sizeof *list);
    int n = list ? sink_jobs_list(j, list, STATUS_LIST_MAX) : SINK_JOBS_ERR_NOMEM;
    if (n < 0) {
      log_error(cmd, "job list: %s", sink_jobs_last_error(j));
      code = EXIT_FAILURE_RUN;
    } else {
      if (json) fputc('[', out);
      for (int i = 0; i < n; i++) {
        if (json) {
          cmd_jobs_format_json(&list[i], line, sizeof line);
          fprintf(out, "%s%s", i ? "," : "", line);
        } else {
          cmd_jobs_format_text(&list[i], line, sizeof line);
          fprintf(out, "%s\n", line);
        }
      }
      if (json)
        fputs("]\n", out);
      else if (n == 0)
        fputs("no backfill jobs\n", out);
    }
    free(list);
  }
  sink_jobs_close(j);
  return code;
}

int cmd_jobs_cancel(const char *cmd, const char *database_url, int64_t id, FILE *out) {
  sink_jobs_t *j = open_jobs(cmd, database_url);
  if (!j) return EXIT_FAILURE_RUN;
  int rc = sink_jobs_cancel(j, id);
  int code = EXIT_OK;
  if (rc == 0) {
    fprintf(out, "job %" PRId64 " cancelled\n", id);
  } else {
    log_error(cmd, "cancel job %" PRId64 ": %s", id,
              rc == SINK_JOBS_ERR_DB || rc == SINK_JOBS_ERR_CONNECT ? sink_jobs_last_error(j)
                                                                    : sink_jobs_strerror(rc));
    code = EXIT_FAILURE_RUN;
  }
  sink_jobs_close(j);
  return code;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int cmd_jobs_wait(const char *cmd, const char *database_url, int64_t id, int poll_ms, bool quiet,
                  const volatile int *stop, FILE *out) {
  sink_jobs_t *j = open_jobs(cmd, database_url);
  if (!j) return EXIT_FAILURE_RUN;
  if (poll_ms <= 0) poll_ms = 1000;
  sink_jobs_listen(j);
  int code = EXIT_FAILURE_RUN;
  char line[2048];
  int64_t last_print = 0;
  for (;;) {
    sink_job_info_t info;
    int rc = sink_jobs_get(j, id, &info);
    if (rc == SINK_JOBS_ERR_NOT_FOUND) {
      log_error(cmd, "job %" PRId64 ": no such job", id);
      break;
    }
    if (rc == 0) {
      bool ended = info.state == SINK_JOB_DONE || info.state == SINK_JOB_FAILED ||
                   info.state == SINK_JOB_CANCELLED;
      if (ended || (!quiet && info.now_ms - last_print >= 10000)) {
        cmd_jobs_format_text(&info, line, sizeof line);
        fprintf(out, "%s\n", line);
        fflush(out);
        last_print = info.now_ms;
      }
      if (ended) {
        code = info.state == SINK_JOB_DONE ? EXIT_OK : EXIT_FAILURE_RUN;
        break;
      }
    } else {
      log_warn(cmd, "job status: %s (retrying)", sink_jobs_last_error(j));
    }
    if (stop && *stop) break;
    if (sink_jobs_wait(j, poll_ms) < 0) sleep_ms(poll_ms);
  }
  sink_jobs_close(j);
  return code;
}

/* ---- backfill job modes --------------------------------------------------- */

static int is_mode_word(const char *a, const char *name) {
  size_t n = strlen(name);
  return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

int cmd_jobs_backfill(int argc, char **argv, cmd_common_usage_fn usage, int *handled) {
  *handled = 0;
  int modes = 0;
  for (int i = 1; i < argc; i++)
    if (is_mode_word(argv[i], "--enqueue") || is_mode_word(argv[i], "--status") ||
        is_mode_word(argv[i], "--cancel") || is_mode_word(argv[i], "--wait"))
      modes++;
  if (modes == 0) return EXIT_OK;
  *handled = 1;
  /* `--status` without an ID: all jobs (the table's option takes one) */
  char **av = calloc((size_t)argc + 2, sizeof *av);
  if (!av) return EXIT_FAILURE_RUN;
  int n = 0;
  for (int i = 0; i < argc; i++) {
    av[n++] = argv[i];
    if (strcmp(argv[i], "--status") == 0 && (i + 1 >= argc || !all_digits(argv[i + 1])))
      av[n++] = (char *)"0";
  }
  av[n] = NULL;
  cbi_config_t cfg;
  int pr = cmd_common_parse("backfill", CONFIG_CMD_BACKFILL, &cfg, n, av, usage);
  free(av);
  if (pr != CMD_COMMON_CONTINUE) return pr;
  int enqueue = config_u64(&cfg, CONFIG_ENQUEUE) != 0;
  int status = config_is_set(&cfg, CONFIG_JOB_STATUS);
  int cancel = config_is_set(&cfg, CONFIG_JOB_CANCEL);
  int wait = config_is_set(&cfg, CONFIG_JOB_WAIT);
  if (enqueue + status + cancel + wait != 1) {
    fprintf(stderr, "crypto-bet-indexer backfill: --enqueue, --status, --cancel and --wait "
                    "exclude each other\n");
    return EXIT_USAGE;
  }
  bool json = config_u64(&cfg, CONFIG_JSON) != 0;
  volatile int *stop = cmd_common_install_stop(0);
  if (status)
    return cmd_jobs_status("backfill", cfg.database_url,
                           (int64_t)config_u64(&cfg, CONFIG_JOB_STATUS), json, stdout);
  if (cancel)
    return cmd_jobs_cancel("backfill", cfg.database_url,
                           (int64_t)config_u64(&cfg, CONFIG_JOB_CANCEL), stdout);
  if (wait)
    return cmd_jobs_wait("backfill", cfg.database_url, (int64_t)config_u64(&cfg, CONFIG_JOB_WAIT),
                         0, false, stop, stdout);
  if (!config_is_set(&cfg, CONFIG_FROM_SLOT) || !config_is_set(&cfg, CONFIG_TO_SLOT)) {
    fprintf(stderr, "crypto-bet-indexer backfill: --enqueue needs --from-slot and --to-slot\n");
    return EXIT_USAGE;
  }
  uint64_t from = config_u64(&cfg, CONFIG_FROM_SLOT), to = config_u64(&cfg, CONFIG_TO_SLOT);
  if (from > to || to > INT64_MAX) {
    fprintf(stderr,
            "crypto-bet-indexer backfill: --from-slot must not be after --to-slot "
            "(both at most %lld)\n",
            (long long)INT64_MAX);
    return EXIT_USAGE;
  }
  return cmd_jobs_enqueue("backfill", cfg.database_url, from, to,
                          config_u64(&cfg, CONFIG_CHUNK_SLOTS), config_str(&cfg, CONFIG_STRATEGY),
                          json, stdout, NULL);
}
