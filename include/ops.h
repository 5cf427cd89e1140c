/* ops: one handle for the daemon's operations surface, so a long-running
 * command wires it with a few calls:
 *
 *   ops_t ops;                      ops_start(&ops, &opt, err, sizeof err);
 *   each main-loop turn:            ops_tick(&ops, progressed);
 *   as facts change (any thread):   ops_note_*(&ops, ...), or bump
 *                                   ops.m.<handle> (metrics_cbi.h) directly
 *   on shutdown:                    ops_stop(&ops);
 *
 * It owns the metrics registry with every cbi_* family (ops.m), the
 * readiness/health facts (ops.st), the systemd notifier (ops.sd) and the
 * HTTP endpoint (ops.http, NULL when off). The ops_note_* calls are
 * lock-free; ops_tick and ops_start/stop belong to the main thread. */
#ifndef CBI_OPS_H
#define CBI_OPS_H

#include <stdint.h>

#include "metrics_cbi.h"
#include "ops_http.h"
#include "opstate.h"
#include "sdnotify.h"

#define OPS_START_EXTEND_S 120

typedef struct ops_options {
  const char *http_listen; /* ADDR:PORT; NULL or "" = no HTTP endpoint */
  uint64_t ready_max_lag;  /* slots; 0 takes OPSTATE_DEFAULT_READY_MAX_LAG */
  int stall_seconds;       /* health: a loop silent this long; <= 0 = default */
  int status_interval_s;   /* STATUS= cadence; <= 0 = 10 */
  metrics_cbi_build_t build;
} ops_options_t;

typedef struct ops {
  metrics_registry_t *reg;
  metrics_cbi_t m;
  opstate_t st;
  sdnotify_t sd;
  ops_http_t *http;
  /* main-thread state of ops_tick */
  int ready_sent, was_ready, stopping_sent, status_interval_s;
  int64_t last_status_usec, last_extend_usec;
  uint64_t last_notif, last_commits;
  atomic_int db_seen; /* the database was connected at least once */
} ops_t;

/* Registers the metrics, opens the notify socket (a bad NOTIFY_SOCKET is
 * logged and ignored) and starts the HTTP endpoint. Returns 0, or a
 * negative OPS_HTTP_ERR_* / METRICS_ERR_* with a message in err (nothing is
 * left running then). */
int ops_start(ops_t *o, const ops_options_t *opt, char *err, size_t errsz);

/* Main loop, once per turn: records the heartbeat, mirrors readiness into
 * cbi_ready, sends READY=1 once after the start-up gap fill (and until then,
 * while progressed is nonzero, EXTEND_TIMEOUT_USEC= for OPS_START_EXTEND_S
 * more every OPS_START_EXTEND_S / 4, so a long gap fill that advances never
 * hits TimeoutStartSec= while a stuck one does), WATCHDOG=1 at
 * half of WATCHDOG_USEC when progressed is nonzero, and a STATUS= line
 * (tip, indexed, lag, notification and commit rates) every status
 * interval. Cheap: a few atomic loads and a clock read. */
void ops_tick(ops_t *o, int progressed);

/* Facts (any thread, lock-free). Slots only move forward. block_time is
 * Unix seconds, 0 when unknown (the gauge then keeps its value). */
void ops_note_tip(ops_t *o, uint64_t slot, int64_t block_time);
void ops_note_indexed(ops_t *o, uint64_t slot, int64_t block_time);
/* Database state; a 0 -> 1 transition after the first connection counts
 * one cbi_database_reconnects_total. */
void ops_note_db(ops_t *o, int connected);
void ops_note_subscriptions(ops_t *o, int live);
/* The start-up gap fill finished: readiness may now hold, and the next
 * ops_tick sends READY=1. (Count each gap fill in o->m.gap_fills.) */
void ops_note_gap_fill_done(ops_t *o);
/* A committed batch: records, write+commit seconds; also sets the last
 * commit time to now. */
void ops_note_commit(ops_t *o, uint64_t records, double seconds);

/* Shutdown has begun (call on SIGTERM, before the last flush): sends
 * STOPPING=1 once. Main thread. */
void ops_note_stopping(ops_t *o);

/* Sends STOPPING=1 (unless ops_note_stopping did), stops the HTTP endpoint, frees the registry.
 * Safe on a zeroed ops_t and twice. */
void ops_stop(ops_t *o);

#endif
