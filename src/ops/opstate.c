/* Liveness and readiness facts, lock-free, with the HTTP probes. */
#include "opstate.h"
#include "progress.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const loop_names[OPSTATE_LOOP_COUNT] = {"main", "ws", "sink"};

void opstate_init(opstate_t *s, uint64_t ready_max_lag, int stall_seconds) {
  for (int i = 0; i < OPSTATE_LOOP_COUNT; i++)
    atomic_init(&s->beat_usec[i], 0);
  atomic_init(&s->db_connected, 0);
  atomic_init(&s->subscriptions_live, 0);
  atomic_init(&s->gap_fill_done, 0);
  atomic_init(&s->tip_slot, 0);
  atomic_init(&s->indexed_slot, 0);
  s->ready_max_lag = ready_max_lag;
  s->stall_usec =
      (int64_t)(stall_seconds > 0 ? stall_seconds : OPSTATE_DEFAULT_STALL_SECONDS) * 1000000;
}

void opstate_beat(opstate_t *s, opstate_loop_t loop) {
  if (s && loop < OPSTATE_LOOP_COUNT)
    atomic_store_explicit(&s->beat_usec[loop], progress_now_us(), memory_order_relaxed);
}

void opstate_set_db_connected(opstate_t *s, int v) {
  atomic_store(&s->db_connected, v != 0);
}
void opstate_set_subscriptions_live(opstate_t *s, int v) {
  atomic_store(&s->subscriptions_live, v != 0);
}
void opstate_set_gap_fill_done(opstate_t *s, int v) {
  atomic_store(&s->gap_fill_done, v != 0);
}

static void raise_to(_Atomic uint64_t *a, uint64_t v) {
  uint64_t cur = atomic_load(a);
  while (cur < v && !atomic_compare_exchange_weak(a, &cur, v)) {
  }
}

void opstate_set_tip_slot(opstate_t *s, uint64_t slot) {
  raise_to(&s->tip_slot, slot);
}
void opstate_set_indexed_slot(opstate_t *s, uint64_t slot) {
  raise_to(&s->indexed_slot, slot);
}

uint64_t opstate_lag(const opstate_t *s) {
  uint64_t tip = atomic_load(&((opstate_t *)s)->tip_slot);
  uint64_t idx = atomic_load(&((opstate_t *)s)->indexed_slot);
  return tip > idx ? tip - idx : 0;
}

int opstate_is_ready(const opstate_t *s) {
  opstate_t *m = (opstate_t *)s;
  return atomic_load(&m->db_connected) && atomic_load(&m->subscriptions_live) &&
         atomic_load(&m->gap_fill_done) && atomic_load(&m->tip_slot) > 0 &&
         opstate_lag(s) <= s->ready_max_lag;
}

/* Appends to body at *off without passing cap; marks truncation. */
static void put(char *body, size_t cap, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *body, size_t cap, size_t *off, const char *fmt, ...) {
  if (*off >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(body + *off, cap - *off, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  *off = (size_t)n < cap - *off ? *off + (size_t)n : cap;
}

int opstate_health_probe(void *user, char *body, size_t cap) {
  opstate_t *s = user;
  int64_t now = progress_now_us();
  int ok = 1;
  size_t off = 0;
  char loops[256];
  size_t lo = 0;
  for (int i = 0; i < OPSTATE_LOOP_COUNT; i++) {
    int64_t b = atomic_load_explicit(&s->beat_usec[i], memory_order_relaxed);
    if (b == 0) {
      put(loops, sizeof loops, &lo, "%s\"%s\":null", i ? "," : "", loop_names[i]);
      continue;
    }
    int64_t age = now - b;
    if (age > s->stall_usec) ok = 0;
    put(loops, sizeof loops, &lo, "%s\"%s\":{\"age_ms\":%" PRId64 "}", i ? "," : "", loop_names[i],
        age / 1000);
  }
  put(body, cap, &off, "{\"status\":\"%s\",\"loops\":{%s}}", ok ? "ok" : "stalled", loops);
  return ok;
}

int opstate_ready_probe(void *user, char *body, size_t cap) {
  opstate_t *s = user;
  int db = atomic_load(&s->db_connected), subs = atomic_load(&s->subscriptions_live),
      gap = atomic_load(&s->gap_fill_done);
  uint64_t tip = atomic_load(&s->tip_slot), idx = atomic_load(&s->indexed_slot);
  uint64_t lag = tip > idx ? tip - idx : 0;
  int ready = db && subs && gap && tip > 0 && lag <= s->ready_max_lag;
  size_t off = 0;
  put(body, cap, &off, "{\"ready\":%s,\"reasons\":[", ready ? "true" : "false");
  const char *sep = "";
  if (!db) put(body, cap, &off, "%s\"database not connected\"", sep), sep = ",";
  if (!subs) put(body, cap, &off, "%s\"subscriptions not live\"", sep), sep = ",";
  if (!gap) put(body, cap, &off, "%s\"start-up gap fill not done\"", sep), sep = ",";
  if (tip == 0)
    put(body, cap, &off, "%s\"chain tip unknown\"", sep), sep = ",";
  else if (lag > s->ready_max_lag)
    put(body, cap, &off, "%s\"lag %" PRIu64 " slots over %" PRIu64 "\"", sep, lag,
        s->ready_max_lag);
  put(body, cap, &off,
      "],\"database_connected\":%s,\"subscriptions_live\":%s,\"gap_fill_done\":%s,"
      "\"tip_slot\":%" PRIu64 ",\"indexed_slot\":%" PRIu64 ",\"lag_slots\":%" PRIu64
      ",\"max_lag_slots\":%" PRIu64 "}",
      db ? "true" : "false", subs ? "true" : "false", gap ? "true" : "false", tip, idx, lag,
      s->ready_max_lag);
  return ready;
}
