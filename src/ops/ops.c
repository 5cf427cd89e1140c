/* The operations surface in one handle: metrics, readiness, systemd, HTTP. */
#include "ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "progress.h"

int ops_start(ops_t *o, const ops_options_t *opt, char *err, size_t errsz) {
  memset(o, 0, sizeof *o);
  o->sd.fd = -1;
  atomic_init(&o->db_seen, 0);
  o->status_interval_s = opt->status_interval_s > 0 ? opt->status_interval_s : 10;
  opstate_init(&o->st, opt->ready_max_lag ? opt->ready_max_lag : OPSTATE_DEFAULT_READY_MAX_LAG,
               opt->stall_seconds);
  o->reg = metrics_registry_new();
  if (!o->reg) {
    snprintf(err, errsz, "metrics: out of memory");
    return METRICS_ERR_NOMEM;
  }
  int rc = metrics_cbi_register(o->reg, &opt->build, &o->m);
  if (rc != METRICS_OK) {
    snprintf(err, errsz, "metrics: %s", metrics_strerror(rc));
    goto fail;
  }
  rc = sdnotify_init(&o->sd);
  if (rc != SDNOTIFY_OK) log_warn("systemd", "notify socket ignored: %s", sdnotify_strerror(rc));
  if (sdnotify_watchdog_interval_usec(&o->sd))
    log_info("systemd", "watchdog ping_every_ms=%" PRIu64,
             sdnotify_watchdog_interval_usec(&o->sd) / 1000);
  ops_http_options_t ho = {.listen = opt->http_listen,
                           .health = opstate_health_probe,
                           .health_user = &o->st,
                           .ready = opstate_ready_probe,
                           .ready_user = &o->st,
                           .metrics = o->reg};
  rc = ops_http_start(&ho, &o->http, err, errsz);
  if (rc != OPS_HTTP_OK) goto fail;
  o->last_status_usec = progress_now_us();
  return 0;
fail:
  sdnotify_close(&o->sd);
  metrics_registry_free(o->reg);
  o->reg = NULL;
  return rc;
}

static void send_status(ops_t *o, int64_t now) {
  double secs = (double)(now - o->last_status_usec) / 1e6;
  uint64_t notif = 0;
  for (int i = 0; i < METRICS_CBI_NOTIF_COUNT; i++)
    notif += metrics_counter_value(o->m.notifications[i]);
  uint64_t commits = metrics_counter_value(o->m.sink_commits);
  uint64_t tip = atomic_load(&o->st.tip_slot), idx = atomic_load(&o->st.indexed_slot);
  sdnotify_status(&o->sd,
                  "%s tip=%" PRIu64 " indexed=%" PRIu64 " lag=%" PRIu64
                  " slots notifications=%.1f/s commits=%.1f/s",
                  opstate_is_ready(&o->st) ? "ready" : "catching up", tip, idx, opstate_lag(&o->st),
                  secs > 0 ? (double)(notif - o->last_notif) / secs : 0.0,
                  secs > 0 ? (double)(commits - o->last_commits) / secs : 0.0);
  o->last_notif = notif;
  o->last_commits = commits;
  o->last_status_usec = now;
}

void ops_tick(ops_t *o, int progressed) {
  if (!o->reg) return;
  opstate_beat(&o->st, OPSTATE_LOOP_MAIN);
  int ready = opstate_is_ready(&o->st);
  metrics_gauge_set(o->m.ready, ready);
  if (ready != o->was_ready)
    log_info("ops", "%s tip=%" PRIu64 " indexed=%" PRIu64 " lag=%" PRIu64,
             ready ? "ready" : "not ready", (uint64_t)atomic_load(&o->st.tip_slot),
             (uint64_t)atomic_load(&o->st.indexed_slot), opstate_lag(&o->st));
  o->was_ready = ready;
  int64_t now = progress_now_us();
  if (!o->ready_sent && atomic_load(&o->st.gap_fill_done)) {
    send_status(o, now);
    sdnotify_ready(&o->sd);
    o->ready_sent = 1;
  } else if (now - o->last_status_usec >= (int64_t)o->status_interval_s * 1000000) {
    send_status(o, now);
  }
  if (!o->ready_sent && progressed &&
      (o->last_extend_usec == 0 ||
       now - o->last_extend_usec >= (int64_t)OPS_START_EXTEND_S * 1000000 / 4)) {
    sdnotify_extend_timeout(&o->sd, (uint64_t)OPS_START_EXTEND_S * 1000000);
    o->last_extend_usec = now;
  }
  if (sdnotify_watchdog_tick(&o->sd, progressed) == 1) metrics_counter_inc(o->m.watchdog_pings);
}

void ops_note_tip(ops_t *o, uint64_t slot, int64_t block_time) {
  opstate_set_tip_slot(&o->st, slot);
  metrics_gauge_max(o->m.chain_tip_slot, (int64_t)slot);
  if (block_time > 0) metrics_gauge_max(o->m.chain_tip_block_time, block_time);
}

void ops_note_indexed(ops_t *o, uint64_t slot, int64_t block_time) {
  opstate_set_indexed_slot(&o->st, slot);
  metrics_gauge_max(o->m.indexed_slot, (int64_t)slot);
  if (block_time > 0) metrics_gauge_max(o->m.indexed_block_time, block_time);
}

void ops_note_db(ops_t *o, int connected) {
  int was = atomic_exchange(&o->st.db_connected, connected != 0);
  if (connected && !was && atomic_exchange(&o->db_seen, 1)) metrics_counter_inc(o->m.db_reconnects);
}

void ops_note_subscriptions(ops_t *o, int live) {
  opstate_set_subscriptions_live(&o->st, live);
}

void ops_note_gap_fill_done(ops_t *o) {
  opstate_set_gap_fill_done(&o->st, 1);
}

void ops_note_commit(ops_t *o, uint64_t records, double seconds) {
  metrics_counter_inc(o->m.sink_commits);
  metrics_histogram_observe(o->m.sink_commit_duration, seconds);
  metrics_histogram_observe(o->m.sink_batch_records, (double)records);
  metrics_gauge_set(o->m.last_commit_time, (int64_t)time(NULL));
}

void ops_note_stopping(ops_t *o) {
  if (!o->reg || o->stopping_sent) return;
  sdnotify_stopping(&o->sd);
  o->stopping_sent = 1;
}

void ops_stop(ops_t *o) {
  if (!o) return;
  ops_note_stopping(o);
  ops_http_stop(o->http);
  o->http = NULL;
  sdnotify_close(&o->sd);
  metrics_registry_free(o->reg);
  o->reg = NULL;
}
