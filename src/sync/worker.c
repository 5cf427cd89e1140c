/* The backfill job worker (worker.h): runner threads claim chunks and run
 * them through backfill_run; one heartbeat thread renews their leases and
 * stops a chunk whose lease is lost or can no longer be proven. */
#include "worker.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backfill.h"
#include "ingest.h"
#include "log.h"
#include "progress.h"
#include "sink.h"
#include "sink_jobs.h"

#define WORKER_MAX_CONCURRENCY 256
#define HEARTBEAT_SLICE_MS 50

typedef struct slot {
  struct worker *w;
  int index;
  pthread_t thread;
  int started;
  char owner[128];
  pthread_mutex_t mu; /* guards active, chunk, last_ok_ms */
  int active;
  sink_chunk_t chunk;
  int64_t last_ok_ms; /* last successful claim/heartbeat (mono) */
  volatile int stop;  /* this chunk must stop (lost, global stop) */
  atomic_int lost;    /* set with stop when the lease was lost */
  atomic_int ended;   /* the runner thread has returned */
} slot_t;

struct worker {
  worker_options_t o;
  char *conninfo, *program_id, *commitment;
  char owner_base[96];
  unsigned n;
  slot_t *slots;
  pthread_t hb_thread;
  int hb_started;
  atomic_int stopping;
  pthread_mutex_t st_mu;
  worker_stats_t st;
};

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void worker_options_init(worker_options_t *o) {
  memset(o, 0, sizeof *o);
  o->refresh_accounts = true;
}

static void count(worker_t *w, uint64_t *field, uint64_t n) {
  pthread_mutex_lock(&w->st_mu);
  *field += n;
  pthread_mutex_unlock(&w->st_mu);
}

/* ------------------------------------------------------------ one chunk */

/* Runs c through backfill_run with the slot's stop flag. Returns 0 when
 * the range is complete (*tx = transactions ingested), else -1 with err. */
static int run_chunk(worker_t *w, slot_t *s, const sink_chunk_t *c, const char *stream,
                     uint64_t *tx, char *err, size_t errsz) {
  rpc_options_t ro = *w->o.rpc;
  ro.stop_flag = &s->stop;
  rpc_client_t *rpc = NULL;
  sink_t *sink = NULL;
  ingest_t *ing = NULL;
  int ret = -1;
  rpc = rpc_client_new(&ro, err, errsz);
  if (!rpc) goto out;
  sink_options_t so;
  sink_options_init(&so);
  so.conninfo = w->conninfo;
  so.stop_flag = &s->stop;
  int rc = sink_open(&so, &sink, err, errsz);
  if (rc != 0) goto out;
  ing = ingest_new(w->o.decoder, w->program_id, sink);
  if (!ing) {
    snprintf(err, errsz, "out of memory");
    goto out;
  }
  backfill_options_t bo;
  backfill_options_init(&bo);
  bo.program_id = w->program_id;
  bo.commitment = w->commitment;
  bo.from_slot = c->from_slot;
  bo.to_slot = c->to_slot;
  bo.strategy = strcmp(c->strategy, "blocks") == 0 ? BACKFILL_BLOCKS : BACKFILL_SIGNATURES;
  bo.concurrency = w->o.rpc_concurrency;
  bo.checkpoint_stream = stream;
  bo.refresh_accounts = w->o.refresh_accounts;
  bo.stop_flag = &s->stop;
  backfill_summary_t sum;
  memset(&sum, 0, sizeof sum);
  ret = backfill_run(rpc, ing, sink, &bo, &sum, err, errsz);
  if (ret == 0 && !sum.complete) {
    snprintf(err, errsz, "backfill ended incomplete at slot %" PRIu64, sum.last_slot);
    ret = -1;
  }
  *tx = sum.transactions;
out:
  ingest_free(ing);
  if (sink) sink_close(sink);
  if (rpc) rpc_client_free(rpc);
  return ret;
}

static void set_active(slot_t *s, const sink_chunk_t *c) {
  pthread_mutex_lock(&s->mu);
  s->active = c != NULL;
  if (c) {
    s->chunk = *c;
    s->last_ok_ms = progress_now_ms();
    atomic_store(&s->lost, 0);
    s->stop = atomic_load(&s->w->stopping);
  }
  pthread_mutex_unlock(&s->mu);
}

static void handle_chunk(worker_t *w, slot_t *s, sink_jobs_t *jobs, const sink_chunk_t *c) {
  char stream[64], err[1024] = "";
  snprintf(stream, sizeof stream, "job:%" PRId64 ":%d", c->job_id, c->seq);
  set_active(s, c);
  log_info("worker",
           "chunk claimed job=%" PRId64 " chunk=%d slots=%" PRIu64 "..%" PRIu64
           " attempt=%d owner=%s",
           c->job_id, c->seq, c->from_slot, c->to_slot, c->attempt, s->owner);
  int64_t t0 = progress_now_ms();
  uint64_t tx = 0;
  int ret = run_chunk(w, s, c, stream, &tx, err, sizeof err);
  set_active(s, NULL);
  int rc;
  if (ret == 0) {
    rc = sink_jobs_complete(jobs, c, tx, stream);
    if (rc == 0) {
      pthread_mutex_lock(&w->st_mu);
      w->st.chunks_done++;
      w->st.transactions += tx;
      w->st.slots += c->to_slot - c->from_slot + 1;
      pthread_mutex_unlock(&w->st_mu);
      log_info("worker",
               "chunk done job=%" PRId64 " chunk=%d transactions=%" PRIu64 " elapsed_ms=%" PRId64,
               c->job_id, c->seq, tx, progress_now_ms() - t0);
    } else {
      count(w, &w->st.chunks_lost, 1);
      log_warn("worker", "chunk finished but not recorded job=%" PRId64 " chunk=%d error=%s",
               c->job_id, c->seq,
               rc == SINK_JOBS_ERR_LOST ? sink_jobs_strerror(rc) : sink_jobs_last_error(jobs));
    }
    return;
  }
  if (atomic_load(&s->lost)) {
    count(w, &w->st.chunks_lost, 1);
    log_warn("worker", "chunk abandoned job=%" PRId64 " chunk=%d reason=lease lost", c->job_id,
             c->seq);
    return;
  }
  if (atomic_load(&w->stopping)) {
    rc = sink_jobs_release(jobs, c);
    if (rc == 0) count(w, &w->st.chunks_released, 1);
    log_info("worker", "chunk given back job=%" PRId64 " chunk=%d", c->job_id, c->seq);
    return;
  }
  bool job_failed = false;
  rc = sink_jobs_fail(jobs, c, err, w->o.retry_backoff_ms, &job_failed);
  count(w, &w->st.chunks_failed, 1);
  if (job_failed)
    log_error("worker", "job failed job=%" PRId64 " chunk=%d attempt=%d error=%s", c->job_id,
              c->seq, c->attempt, err);
  else
    log_warn("worker", "chunk failed job=%" PRId64 " chunk=%d attempt=%d error=%s%s", c->job_id,
             c->seq, c->attempt, err, rc == 0 ? " (will retry)" : "");
}

/* ------------------------------------------------------------ threads */

static void *runner_main(void *arg) {
  slot_t *s = arg;
  worker_t *w = s->w;
  sink_jobs_t *jobs = NULL;
  char err[512];
  int poll_ms = w->o.poll_ms > 0 ? w->o.poll_ms : 2000;
  int warned = 0;
  while (!atomic_load(&w->stopping)) {
    if (!jobs) {
      if (sink_jobs_open(w->conninfo, s->owner, 10000, &jobs, err, sizeof err) != 0) {
        if (!warned++) log_warn("worker", "database unavailable error=%s", err);
        for (int t = 0; t < poll_ms && !atomic_load(&w->stopping); t += HEARTBEAT_SLICE_MS)
          sleep_ms(HEARTBEAT_SLICE_MS);
        continue;
      }
      warned = 0;
      sink_jobs_listen(jobs);
    }
    sink_chunk_t c;
    int r = sink_jobs_claim(jobs, w->o.lease_ms, &c);
    if (r == 1) {
      handle_chunk(w, s, jobs, &c);
      continue;
    }
    if (r < 0) log_warn("worker", "claim failed error=%s", sink_jobs_last_error(jobs));
    if (r == 0 && w->o.exit_when_idle && sink_jobs_active_count(jobs) == 0) break;
    /* idle: wake on NOTIFY, poll as the fallback, in slices for the stop flag */
    for (int t = 0; t < poll_ms && !atomic_load(&w->stopping); t += 200) {
      int wr = sink_jobs_wait(jobs, 200);
      if (wr != 0) break;
    }
  }
  sink_jobs_close(jobs);
  atomic_store(&s->ended, 1);
  return NULL;
}

/* Stops the slot's chunk when it is still c (not a newer claim). */
static void stop_if_same(slot_t *s, const sink_chunk_t *c) {
  pthread_mutex_lock(&s->mu);
  if (s->active && s->chunk.job_id == c->job_id && s->chunk.seq == c->seq &&
      s->chunk.attempt == c->attempt) {
    atomic_store(&s->lost, 1);
    s->stop = 1;
  }
  pthread_mutex_unlock(&s->mu);
}

static void *heartbeat_main(void *arg) {
  worker_t *w = arg;
  int lease = w->o.lease_ms > 0 ? w->o.lease_ms : SINK_JOBS_DEFAULT_LEASE_MS;
  int every = lease / 4 > HEARTBEAT_SLICE_MS ? lease / 4 : HEARTBEAT_SLICE_MS;
  int trust = lease - lease / 4; /* stop a chunk whose lease we cannot prove */
  sink_jobs_t *jobs = NULL;
  char err[512], owner[160];
  snprintf(owner, sizeof owner, "%s:heartbeat", w->owner_base);
  int64_t next = progress_now_ms() + every;
  for (;;) {
    int stopping = atomic_load(&w->stopping);
    int all_ended = 1;
    for (unsigned i = 0; i < w->n; i++) {
      if (stopping) w->slots[i].stop = 1;
      if (!atomic_load(&w->slots[i].ended)) all_ended = 0;
    }
    if (all_ended) break;
    int64_t now = progress_now_ms();
    if (now < next) {
      sleep_ms(HEARTBEAT_SLICE_MS);
      continue;
    }
    next = now + every;
    if (!jobs && sink_jobs_open(w->conninfo, owner, lease / 4, &jobs, err, sizeof err) != 0)
      jobs = NULL;
    for (unsigned i = 0; i < w->n; i++) {
      slot_t *s = &w->slots[i];
      pthread_mutex_lock(&s->mu);
      int active = s->active;
      sink_chunk_t c = s->chunk;
      int64_t last_ok = s->last_ok_ms;
      pthread_mutex_unlock(&s->mu);
      if (!active) continue;
      /* the heartbeat connection renews with the claim's own token */
      int rc = SINK_JOBS_ERR_CONNECT;
      if (jobs) rc = sink_jobs_heartbeat(jobs, &c, lease);
      if (rc == 0) {
        pthread_mutex_lock(&s->mu);
        if (s->active && s->chunk.job_id == c.job_id && s->chunk.seq == c.seq)
          s->last_ok_ms = progress_now_ms();
        pthread_mutex_unlock(&s->mu);
      } else if (rc == SINK_JOBS_ERR_LOST) {
        stop_if_same(s, &c);
        log_warn("worker", "lease lost job=%" PRId64 " chunk=%d (cancelled, failed or taken)",
                 c.job_id, c.seq);
      } else {
        if (jobs && rc == SINK_JOBS_ERR_CONNECT) {
          sink_jobs_close(jobs);
          jobs = NULL;
        }
        if (progress_now_ms() - last_ok > trust) {
          stop_if_same(s, &c);
          log_warn("worker", "lease no longer provable job=%" PRId64 " chunk=%d: stopping it",
                   c.job_id, c.seq);
        }
      }
    }
  }
  sink_jobs_close(jobs);
  return NULL;
}

/* ------------------------------------------------------------ lifecycle */

static void free_worker(worker_t *w) {
  if (!w) return;
  if (w->slots)
    for (unsigned i = 0; i < w->n; i++)
      pthread_mutex_destroy(&w->slots[i].mu);
  pthread_mutex_destroy(&w->st_mu);
  free(w->slots);
  free(w->conninfo);
  free(w->program_id);
  free(w->commitment);
  free(w);
}

int worker_start(const worker_options_t *o, worker_t **out, char *err, size_t errsz) {
  *out = NULL;
  if (!o || !o->conninfo || !o->rpc || !o->decoder || !o->program_id) {
    snprintf(err, errsz, "worker: conninfo, rpc options, decoder and program id are required");
    return -1;
  }
  unsigned n = o->concurrency ? o->concurrency : 1;
  if (n > WORKER_MAX_CONCURRENCY) {
    snprintf(err, errsz, "worker: concurrency %u above %d", n, WORKER_MAX_CONCURRENCY);
    return -1;
  }
  if (rpc_global_init() != 0) {
    snprintf(err, errsz, "worker: libcurl initialisation failed");
    return -1;
  }
  worker_t *w = calloc(1, sizeof *w);
  if (!w) goto nomem;
  pthread_mutex_init(&w->st_mu, NULL);
  w->o = *o;
  w->n = n;
  w->conninfo = strdup(o->conninfo);
  w->program_id = strdup(o->program_id);
  w->commitment = strdup(o->commitment ? o->commitment : "confirmed");
  w->slots = calloc(n, sizeof *w->slots);
  if (!w->conninfo || !w->program_id || !w->commitment || !w->slots) goto nomem;
  w->o.conninfo = w->conninfo;
  w->o.program_id = w->program_id;
  w->o.commitment = w->commitment;
  if (o->owner && *o->owner) {
    snprintf(w->owner_base, sizeof w->owner_base, "%s", o->owner);
  } else {
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(w->owner_base, sizeof w->owner_base, "%s:%d", host, (int)getpid());
  }
  w->o.owner = NULL;
  for (unsigned i = 0; i < n; i++) {
    slot_t *s = &w->slots[i];
    s->w = w;
    s->index = (int)i;
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->owner, sizeof s->owner, "%s:%u", w->owner_base, i);
  }
  for (unsigned i = 0; i < n; i++) {
    if (pthread_create(&w->slots[i].thread, NULL, runner_main, &w->slots[i]) != 0) {
      atomic_store(&w->stopping, 1);
      for (unsigned k = i; k < n; k++)
        atomic_store(&w->slots[k].ended, 1);
      break;
    }
    w->slots[i].started = 1;
  }
  if (pthread_create(&w->hb_thread, NULL, heartbeat_main, w) == 0) w->hb_started = 1;
  if (atomic_load(&w->stopping) || !w->hb_started) {
    snprintf(err, errsz, "worker: cannot start threads");
    worker_stop(w, NULL);
    return -1;
  }
  log_info("worker", "started owner=%s concurrency=%u", w->owner_base, n);
  *out = w;
  return 0;
nomem:
  free_worker(w);
  snprintf(err, errsz, "out of memory");
  return -1;
}

bool worker_idle_done(const worker_t *w) {
  for (unsigned i = 0; i < w->n; i++)
    if (!atomic_load(&((worker_t *)w)->slots[i].ended)) return false;
  return true;
}

void worker_get_stats(const worker_t *w, worker_stats_t *out) {
  worker_t *m = (worker_t *)w;
  pthread_mutex_lock(&m->st_mu);
  *out = m->st;
  pthread_mutex_unlock(&m->st_mu);
}

void worker_stop(worker_t *w, worker_stats_t *st) {
  if (!w) return;
  atomic_store(&w->stopping, 1);
  for (unsigned i = 0; i < w->n; i++)
    w->slots[i].stop = 1;
  for (unsigned i = 0; i < w->n; i++)
    if (w->slots[i].started) pthread_join(w->slots[i].thread, NULL);
  if (w->hb_started) pthread_join(w->hb_thread, NULL);
  if (st) worker_get_stats(w, st);
  log_info("worker", "stopped owner=%s chunks_done=%" PRIu64 " chunks_failed=%" PRIu64,
           w->owner_base, w->st.chunks_done, w->st.chunks_failed);
  free_worker(w);
}

int worker_run(const worker_options_t *o, const volatile int *stop_flag, worker_stats_t *st,
               char *err, size_t errsz) {
  worker_t *w;
  if (worker_start(o, &w, err, errsz) != 0) return -1;
  while (!(stop_flag && *stop_flag) && !(o->exit_when_idle && worker_idle_done(w)))
    sleep_ms(100);
  worker_stop(w, st);
  return 0;
}
