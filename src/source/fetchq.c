/* Fetch queue (see fetchq.h). */
#include "fetchq.h"

#include <stdlib.h>
#include <string.h>

enum { SLOT_FREE = 0, SLOT_PENDING = 1, SLOT_DONE = 2 };

typedef struct fq_slot {
  int state;
  size_t id;
  json_t *result;
  rpc_error_t err;
} fq_slot_t;

/* Shared between the queue owner and the pending callbacks: freed when the
 * owner detached and no callback is outstanding. */
struct fetchq {
  rpc_client_t *rpc;
  size_t cap;
  fq_slot_t *slots;
  size_t pending;
  int detached;
};

typedef struct fq_token {
  fetchq_t *q;
  size_t id;
} fq_token_t;

fetchq_t *fetchq_new(rpc_client_t *c, size_t capacity) {
  if (!c || capacity == 0) return NULL;
  fetchq_t *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  q->slots = calloc(capacity, sizeof *q->slots);
  if (!q->slots) {
    free(q);
    return NULL;
  }
  q->rpc = c;
  q->cap = capacity;
  return q;
}

static void fq_destroy(fetchq_t *q) {
  for (size_t i = 0; i < q->cap; i++) json_decref(q->slots[i].result);
  free(q->slots);
  free(q);
}

void fetchq_free(fetchq_t *q) {
  if (!q) return;
  for (size_t i = 0; i < q->cap; i++)
    if (q->slots[i].state == SLOT_DONE) {
      json_decref(q->slots[i].result);
      q->slots[i].result = NULL;
      q->slots[i].state = SLOT_FREE;
    }
  q->detached = 1;
  if (q->pending == 0) fq_destroy(q);
}

static void fq_done(void *user, json_t *result, const rpc_error_t *err) {
  fq_token_t *t = user;
  fetchq_t *q = t->q;
  fq_slot_t *s = &q->slots[t->id % q->cap];
  q->pending--;
  if (q->detached) {
    s->state = SLOT_FREE;
  } else {
    s->state = SLOT_DONE;
    if (err) {
      s->err = *err;
      s->result = NULL;
    } else {
      memset(&s->err, 0, sizeof s->err);
      s->result = json_incref(result ? result : json_null());
    }
  }
  free(t);
  if (q->detached && q->pending == 0) fq_destroy(q);
}

int fetchq_submit(fetchq_t *q, size_t id, const char *method, json_t *params) {
  fq_slot_t *s = &q->slots[id % q->cap];
  fq_token_t *t = NULL;
  if (s->state != SLOT_FREE || !(t = malloc(sizeof *t))) {
    json_decref(params);
    return -1;
  }
  t->q = q;
  t->id = id;
  s->state = SLOT_PENDING;
  s->id = id;
  s->result = NULL;
  q->pending++;
  if (rpc_submit(q->rpc, method, params, fq_done, t) != 0) {
    q->pending--;
    s->state = SLOT_FREE;
    free(t);
    return -1;
  }
  return 0;
}

int fetchq_done(const fetchq_t *q, size_t id) {
  const fq_slot_t *s = &q->slots[id % q->cap];
  return s->state == SLOT_DONE && s->id == id;
}

int fetchq_pending_id(const fetchq_t *q, size_t id) {
  const fq_slot_t *s = &q->slots[id % q->cap];
  return s->state == SLOT_PENDING && s->id == id;
}

json_t *fetchq_take(fetchq_t *q, size_t id, rpc_error_t *err) {
  fq_slot_t *s = &q->slots[id % q->cap];
  if (err) memset(err, 0, sizeof *err);
  if (s->state != SLOT_DONE || s->id != id) return NULL;
  json_t *r = s->result;
  if (!r && err) *err = s->err;
  s->result = NULL;
  s->state = SLOT_FREE;
  return r;
}

size_t fetchq_in_flight(const fetchq_t *q) { return q->pending; }
