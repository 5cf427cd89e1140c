/* opstate: the daemon's liveness and readiness facts, shared lock-free
 * between the threads that update them and the HTTP thread that reads them.
 *
 * Health ("the loops are turning"): each long-running loop calls
 * opstate_beat once per iteration; /healthz fails only when a loop that has
 * beaten at least once has not beaten for stall_seconds. Chain lag never
 * makes the process unhealthy.
 *
 * Readiness ("caught up"): database connected, subscriptions live, the
 * start-up gap fill done, and the indexed slot within ready_max_lag slots
 * of the chain tip.
 *
 * Every field is a C11 atomic; setters and probes never lock. */
#ifndef CBI_OPSTATE_H
#define CBI_OPSTATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* About a minute of 400 ms slots. */
#define OPSTATE_DEFAULT_READY_MAX_LAG 150
#define OPSTATE_DEFAULT_STALL_SECONDS 60

typedef enum {
  OPSTATE_LOOP_MAIN = 0, /* the live loop (ingest/flush) */
  OPSTATE_LOOP_WS,       /* the websocket thread's service loop */
  OPSTATE_LOOP_SINK,     /* the writer, when it has its own thread */
  OPSTATE_LOOP_COUNT
} opstate_loop_t;

typedef struct opstate {
  _Atomic int64_t beat_usec[OPSTATE_LOOP_COUNT]; /* CLOCK_MONOTONIC; 0 = never */
  atomic_int db_connected, subscriptions_live, gap_fill_done;
  _Atomic uint64_t tip_slot, indexed_slot;
  uint64_t ready_max_lag; /* slots; fixed by opstate_init */
  int64_t stall_usec;     /* fixed by opstate_init */
} opstate_t;

/* Zeroes s (nothing connected, nothing beaten) and fixes the thresholds:
 * ready_max_lag in slots, stall_seconds > 0 (<= 0 takes the default). */
void opstate_init(opstate_t *s, uint64_t ready_max_lag, int stall_seconds);

/* Records that loop just turned (any thread, lock-free). */
void opstate_beat(opstate_t *s, opstate_loop_t loop);

/* Readiness inputs (any thread). Slots only move forward: a lower value
 * than the stored one is ignored. */
void opstate_set_db_connected(opstate_t *s, int connected);
void opstate_set_subscriptions_live(opstate_t *s, int live);
void opstate_set_gap_fill_done(opstate_t *s, int done);
void opstate_set_tip_slot(opstate_t *s, uint64_t slot);
void opstate_set_indexed_slot(opstate_t *s, uint64_t slot);

/* 1 when every readiness condition holds, else 0. */
int opstate_is_ready(const opstate_t *s);

/* Indexed slot's lag behind the tip in slots (0 when the tip is not
 * ahead or unknown). */
uint64_t opstate_lag(const opstate_t *s);

/* ops_http probes (user = the opstate_t). Write a JSON object into body:
 * health: {"status":"ok"|"stalled","loops":{"main":{"age_ms":N}|null,...}}
 * ready:  {"ready":bool,"reasons":[...],"database_connected":bool,
 *          "subscriptions_live":bool,"gap_fill_done":bool,"tip_slot":N,
 *          "indexed_slot":N,"lag_slots":N,"max_lag_slots":N}
 * Return 1 (200) or 0 (503). */
int opstate_health_probe(void *user, char *body, size_t cap);
int opstate_ready_probe(void *user, char *body, size_t cap);

#endif
