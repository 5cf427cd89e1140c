/* Bounded, byte-capped FIFO between the websocket and writer threads (see
 * msgqueue.h). A mutex, one condition variable for the consumer, and a
 * callback instead of a second condition variable for the producer: the
 * producer is an event loop that must never block. */
#include "msgqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct msgqueue {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  msgqueue_item_t *head, *tail;
  size_t items, bytes, max_bytes, peak_bytes;
  uint64_t pushed, refused_full;
  int closed;
  int want_space; /* a push was refused since the last space callback */
  int wake;       /* msgqueue_wake() pending */
  void (*space_fn)(void *);
  void *space_ud;
};

uint64_t msgqueue_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

msgqueue_item_t *msgqueue_item_new(int kind, size_t cap) {
  if (cap > SIZE_MAX - sizeof(msgqueue_item_t) - 1) return NULL;
  msgqueue_item_t *it = malloc(sizeof *it + cap + 1);
  if (!it) return NULL;
  it->next = NULL;
  it->kind = kind;
  it->aux = 0;
  it->t_ns = msgqueue_now_ns();
  it->len = 0;
  it->cap = cap;
  it->data[0] = 0;
  return it;
}

int msgqueue_item_append(msgqueue_item_t **itp, const void *p, size_t n, size_t max_len) {
  msgqueue_item_t *it = *itp;
  if (n > max_len || it->len > max_len - n) return MSGQ_ERR_TOO_LARGE;
  size_t need = it->len + n;
  if (need > it->cap) {
    size_t cap = it->cap ? it->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > max_len) cap = max_len;
    if (cap > SIZE_MAX - sizeof(msgqueue_item_t) - 1) return MSGQ_ERR_NOMEM;
    msgqueue_item_t *g = realloc(it, sizeof *it + cap + 1);
    if (!g) return MSGQ_ERR_NOMEM;
    g->cap = cap;
    it = g;
    *itp = g;
  }
  if (n) memcpy(it->data + it->len, p, n);
  it->len = need;
  it->data[it->len] = 0;
  return MSGQ_OK;
}

void msgqueue_item_free(msgqueue_item_t *it) { free(it); }

static size_t item_cost(const msgqueue_item_t *it) {
  return it->len > SIZE_MAX - MSGQ_ITEM_OVERHEAD ? SIZE_MAX : it->len + MSGQ_ITEM_OVERHEAD;
}

msgqueue_t *msgqueue_new(size_t max_bytes) {
  if (max_bytes == 0) return NULL;
  msgqueue_t *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if (pthread_mutex_init(&q->mu, NULL) != 0) goto fail_mu;
  if (pthread_cond_init(&q->cv, &ca) != 0) goto fail_cv;
  pthread_condattr_destroy(&ca);
  q->max_bytes = max_bytes;
  return q;
fail_cv:
  pthread_mutex_destroy(&q->mu);
fail_mu:
  pthread_condattr_destroy(&ca);
  free(q);
  return NULL;
}

void msgqueue_free(msgqueue_t *q) {
  if (!q) return;
  msgqueue_item_t *it = q->head;
  while (it) {
    msgqueue_item_t *next = it->next;
    free(it);
    it = next;
  }
  pthread_cond_destroy(&q->cv);
  pthread_mutex_destroy(&q->mu);
  free(q);
}

int msgqueue_try_push(msgqueue_t *q, msgqueue_item_t *it) {
  size_t cost = item_cost(it);
  int rc = MSGQ_OK;
  pthread_mutex_lock(&q->mu);
  if (q->closed) {
    rc = MSGQ_ERR_CLOSED;
  } else if (q->items > 0 && (cost > q->max_bytes || q->bytes > q->max_bytes - cost)) {
    q->want_space = 1;
    q->refused_full++;
    rc = MSGQ_ERR_FULL;
  } else {
    it->next = NULL;
    if (q->tail) q->tail->next = it;
    else q->head = it;
    q->tail = it;
    q->items++;
    q->bytes = q->bytes > SIZE_MAX - cost ? SIZE_MAX : q->bytes + cost;
    if (q->bytes > q->peak_bytes) q->peak_bytes = q->bytes;
    q->pushed++;
    if (q->items == 1) pthread_cond_signal(&q->cv);
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

msgqueue_item_t *msgqueue_pop(msgqueue_t *q, int timeout_ms) {
  msgqueue_item_t *it = NULL;
  void (*fn)(void *) = NULL;
  void *ud = NULL;
  struct timespec deadline;
  if (timeout_ms > 0) {
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
  }
  pthread_mutex_lock(&q->mu);
  while (!q->head && !q->closed && !q->wake && timeout_ms != 0) {
    int rc = timeout_ms < 0 ? pthread_cond_wait(&q->cv, &q->mu)
                            : pthread_cond_timedwait(&q->cv, &q->mu, &deadline);
    if (rc == ETIMEDOUT) break;
  }
  q->wake = 0;
  it = q->head;
  if (it) {
    q->head = it->next;
    if (!q->head) q->tail = NULL;
    it->next = NULL;
    q->items--;
    size_t cost = item_cost(it);
    q->bytes = cost > q->bytes ? 0 : q->bytes - cost;
    if (q->want_space && q->bytes <= q->max_bytes / 2) {
      q->want_space = 0;
      fn = q->space_fn;
      ud = q->space_ud;
    }
  }
  pthread_mutex_unlock(&q->mu);
  if (fn) fn(ud);
  return it;
}

void msgqueue_close(msgqueue_t *q) {
  pthread_mutex_lock(&q->mu);
  q->closed = 1;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

void msgqueue_wake(msgqueue_t *q) {
  pthread_mutex_lock(&q->mu);
  q->wake = 1;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

void msgqueue_set_space_cb(msgqueue_t *q, void (*fn)(void *ud), void *ud) {
  pthread_mutex_lock(&q->mu);
  q->space_fn = fn;
  q->space_ud = ud;
  pthread_mutex_unlock(&q->mu);
}

void msgqueue_get_stats(msgqueue_t *q, msgqueue_stats_t *out) {
  pthread_mutex_lock(&q->mu);
  out->items = q->items;
  out->bytes = q->bytes;
  out->max_bytes = q->max_bytes;
  out->peak_bytes = q->peak_bytes;
  out->pushed = q->pushed;
  out->refused_full = q->refused_full;
  pthread_mutex_unlock(&q->mu);
}
