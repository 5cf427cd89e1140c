/* A live replica (replica.h): a ticking thread holds or contends for the
 * "live" lease, a watch thread stops live_run the moment the lease is no
 * longer trusted, the main thread runs live_run while leading and waits
 * otherwise; job chunks run in the background throughout. */
#include "replica.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "progress.h"
#include "sink_jobs.h"

#define WATCH_MS 10

typedef struct replica {
  const replica_options_t *o;
  sink_leader_t *leader;
  atomic_int done;         /* threads end */
  atomic_int in_live;      /* live_run is running */
  volatile int live_stop;  /* live_run's stop flag */
  volatile int live_abort; /* live_run's abort flag */
  char holder[128];
  worker_t *worker; /* background chunks, or NULL */
} replica_t;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int stopping(const replica_t *r) {
  return *r->o->stop_flag != 0;
}

/* Renews or contends; logs who leads when that changes. */
static void *tick_main(void *arg) {
  replica_t *r = arg;
  char last_holder[128] = "";
  int64_t last_term = -1;
  int warned = 0;
  while (!atomic_load(&r->done)) {
    int rc = sink_leader_tick(r->leader);
    if (rc < 0) {
      if (!warned++) log_warn("replica", "leadership: database unreachable (not leading)");
    } else {
      warned = 0;
    }
    if (rc == 0) {
      char holder[128];
      int64_t term = 0;
      bool valid = false;
      if (sink_leader_current(r->leader, holder, sizeof holder, &term, &valid) == 1 && valid &&
          (term != last_term || strcmp(holder, last_holder) != 0)) {
        log_info("replica", "standing by: live is led by %s term=%" PRId64 " (this replica: %s)",
                 holder, term, r->holder);
        snprintf(last_holder, sizeof last_holder, "%s", holder);
        last_term = term;
      }
    }
    int wait = sink_leader_next_tick_ms(r->leader);
    for (int t = 0; t < wait && !atomic_load(&r->done); t += WATCH_MS)
      sleep_ms(WATCH_MS);
  }
  return NULL;
}

/* One status line: the role, the term, and the background chunks. */
static void log_status(const replica_t *r) {
  worker_stats_t ws;
  memset(&ws, 0, sizeof ws);
  if (r->worker) worker_get_stats(r->worker, &ws);
  int64_t term = sink_leader_term(r->leader);
  log_info("replica",
           "status role=%s holder=%s term=%" PRId64 " jobs_chunks_done=%" PRIu64
           " jobs_chunks_failed=%" PRIu64 " jobs_transactions=%" PRIu64,
           term > 0 ? "leader" : "standby", r->holder, term, ws.chunks_done, ws.chunks_failed,
           ws.transactions);
}

/* Stops live_run as soon as the lease is not trusted or the process stops;
 * logs the status line every status_interval_s. */
static void *watch_main(void *arg) {
  replica_t *r = arg;
  int every_ms = r->o->live->status_interval_s > 0 ? r->o->live->status_interval_s * 1000 : 0;
  int64_t next_status = progress_now_ms() + every_ms;
  while (!atomic_load(&r->done)) {
    if (every_ms > 0 && progress_now_ms() >= next_status) {
      log_status(r);
      next_status = progress_now_ms() + every_ms;
    }
    if (atomic_load(&r->in_live)) {
      if (stopping(r)) r->live_stop = 1;
      if (r->o->live->abort_flag && *r->o->live->abort_flag) r->live_abort = 1;
      if (!sink_leader_is_leader(r->leader) && !r->live_stop) {
        log_warn("replica", "lease no longer trusted: stopping live writes now (%s)", r->holder);
        r->live_abort = 1;
        r->live_stop = 1;
      }
    }
    sleep_ms(WATCH_MS);
  }
  return NULL;
}

static int run_live_once(replica_t *r, live_summary_t *ls, char *err, size_t errsz) {
  live_options_t lo = *r->o->live;
  r->live_stop = 0;
  r->live_abort = 0;
  lo.stop_flag = &r->live_stop;
  lo.abort_flag = &r->live_abort;
  atomic_store(&r->in_live, 1);
  int rc = live_run(&lo, ls, err, errsz);
  atomic_store(&r->in_live, 0);
  return rc;
}

/* Without leadership: live_run as configured (the caller's flags). */
static int run_live_once_plain(const replica_options_t *o, live_summary_t *ls, char *err,
                               size_t errsz) {
  return live_run(o->live, ls, err, errsz);
}

int replica_run(const replica_options_t *o, replica_summary_t *sum, char *err, size_t errsz) {
  replica_summary_t local;
  if (!sum) sum = &local;
  memset(sum, 0, sizeof *sum);
  if (!o || !o->live || !o->stop_flag) {
    snprintf(err, errsz, "replica: live options and a stop flag are required");
    return -1;
  }
  replica_t r;
  memset(&r, 0, sizeof r);
  r.o = o;
  if (o->holder && *o->holder) {
    snprintf(r.holder, sizeof r.holder, "%s", o->holder);
  } else {
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(r.holder, sizeof r.holder, "%s:%d", host, (int)getpid());
  }
  worker_t *w = NULL;
  if (o->job_concurrency > 0) {
    if (!o->worker) {
      snprintf(err, errsz, "replica: job concurrency without worker options");
      return -1;
    }
    worker_options_t wo = *o->worker;
    wo.concurrency = o->job_concurrency;
    wo.exit_when_idle = false;
    if (worker_start(&wo, &w, err, errsz) != 0) return -1;
  }
  r.worker = w;
  int ret = 0;
  if (o->lease_ms < 0) { /* single instance: always leads */
    sum->terms_led = 1;
    ret = run_live_once_plain(o, &sum->live, err, errsz);
    goto out;
  }
  if (sink_leader_new(o->live->database_url, REPLICA_LEASE_NAME, r.holder,
                      o->lease_ms ? o->lease_ms : REPLICA_DEFAULT_LEASE_MS, &r.leader, err,
                      errsz) != 0) {
    ret = -1;
    goto out;
  }
  pthread_t tick, watch;
  int have_tick = pthread_create(&tick, NULL, tick_main, &r) == 0;
  int have_watch = have_tick && pthread_create(&watch, NULL, watch_main, &r) == 0;
  if (!have_watch) {
    atomic_store(&r.done, 1);
    if (have_tick) pthread_join(tick, NULL);
    snprintf(err, errsz, "replica: cannot start threads");
    sink_leader_free(r.leader);
    ret = -1;
    goto out;
  }
  log_info("replica", "started holder=%s lease_ms=%d job_concurrency=%u", r.holder,
           o->lease_ms ? o->lease_ms : REPLICA_DEFAULT_LEASE_MS, o->job_concurrency);
  while (!stopping(&r)) {
    if (!sink_leader_is_leader(r.leader)) {
      sleep_ms(WATCH_MS);
      continue;
    }
    sum->terms_led++;
    log_info("replica", "leading: starting live (holder=%s term=%" PRId64 ")", r.holder,
             sink_leader_term(r.leader));
    char lerr[1024] = "";
    int rc = run_live_once(&r, &sum->live, lerr, sizeof lerr);
    if (stopping(&r)) break;
    if (r.live_abort && !sink_leader_is_leader(r.leader)) {
      log_warn("replica", "live stopped after losing the lease (%s); standing by", r.holder);
      continue;
    }
    if (rc != 0) {
      snprintf(err, errsz, "%s", lerr);
      ret = -1;
    }
    break; /* idle exit or fatal error while leading */
  }
  atomic_store(&r.done, 1);
  pthread_join(watch, NULL);
  pthread_join(tick, NULL);
  sink_leader_free(r.leader); /* releases the lease when held */
out:
  if (w) worker_stop(w, &sum->jobs);
  return ret;
}
