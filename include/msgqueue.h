/* A bounded FIFO of byte messages between two threads: the websocket thread
 * (producer) and the writer thread (consumer).
 *
 * The queue is capped in bytes (each item counts its payload plus a fixed
 * overhead). msgqueue_try_push() never blocks: when the item does not fit it
 * fails with MSGQ_FULL and the producer keeps the item and stops reading its
 * socket (backpressure). Once the consumer has drained the queue below half
 * of the cap, the space callback runs (on the consumer's thread, outside the
 * lock) so the producer can be woken (lws_cancel_service()). An item larger
 * than the cap is accepted when the queue is empty, so nothing can wedge.
 *
 * Items are allocated by the producer (msgqueue_item_new / _append), handed
 * over on a successful push, and owned by the consumer after a pop.
 *
 * Thread-safety: every function may be called from any thread; one
 * producer and one consumer is the intended use. */
#ifndef CBI_MSGQUEUE_H
#define CBI_MSGQUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct msgqueue msgqueue_t;

enum {
  MSGQ_OK = 0,
  MSGQ_ERR_FULL = -1,   /* the item does not fit now; the caller keeps it */
  MSGQ_ERR_CLOSED = -2, /* msgqueue_close() was called; the caller keeps it */
  MSGQ_ERR_NOMEM = -3,
  MSGQ_ERR_TOO_LARGE = -4 /* msgqueue_item_append: over max_len */
};

/* Bytes an item costs against the cap besides its payload. */
#define MSGQ_ITEM_OVERHEAD 64

typedef struct msgqueue_item {
  struct msgqueue_item *next; /* queue link; owned by the queue */
  int kind;                   /* meaning defined by the producer */
  uint64_t aux;               /* producer-defined value (generation, length, ...) */
  uint64_t t_ns;              /* CLOCK_MONOTONIC time the item was created */
  size_t len;                 /* payload bytes used */
  size_t cap;                 /* payload bytes allocated (one more for a NUL) */
  uint8_t data[];             /* payload; data[len] is always 0 */
} msgqueue_item_t;

/* A new item with room for cap payload bytes (len 0, data[0] = 0, t_ns =
 * now). Returns NULL when memory runs out. Free with msgqueue_item_free
 * unless a push took it. */
msgqueue_item_t *msgqueue_item_new(int kind, size_t cap);

/* Appends n bytes to *it, growing it (doubling) as needed, but never past
 * max_len payload bytes: then returns MSGQ_ERR_TOO_LARGE and leaves *it
 * unchanged. *it may move. Returns MSGQ_OK or a negative code. */
int msgqueue_item_append(msgqueue_item_t **it, const void *p, size_t n, size_t max_len);

/* Frees an item. NULL is a no-op. */
void msgqueue_item_free(msgqueue_item_t *it);

/* Monotonic clock in nanoseconds (the time base of t_ns). */
uint64_t msgqueue_now_ns(void);

/* A queue capped at max_bytes (> 0). Returns NULL on allocation failure. */
msgqueue_t *msgqueue_new(size_t max_bytes);

/* Frees the queue and every item still in it. NULL is a no-op. No other
 * thread may use q any more. */
void msgqueue_free(msgqueue_t *q);

/* Appends it unless that would take the queue past its cap (an empty queue
 * takes any item). Returns MSGQ_OK (the queue owns it now), MSGQ_ERR_FULL
 * or MSGQ_ERR_CLOSED (the caller still owns it). A refused push arms the
 * space callback. */
int msgqueue_try_push(msgqueue_t *q, msgqueue_item_t *it);

/* Removes the oldest item, waiting up to timeout_ms (< 0: without limit,
 * 0: not at all). Returns the item (caller owns; msgqueue_item_free), or
 * NULL on timeout, or when the queue is closed and empty. */
msgqueue_item_t *msgqueue_pop(msgqueue_t *q, int timeout_ms);

/* Refuses further pushes and wakes a waiting pop; items already queued
 * can still be popped. Idempotent. */
void msgqueue_close(msgqueue_t *q);

/* Wakes a consumer blocked in msgqueue_pop (it returns NULL as on a
 * timeout if the queue is still empty). */
void msgqueue_wake(msgqueue_t *q);

/* Registers fn(ud), called by the thread that pops, without the lock held,
 * when the queue falls to half its cap or less after a push was refused.
 * Set it before the producer starts. */
void msgqueue_set_space_cb(msgqueue_t *q, void (*fn)(void *ud), void *ud);

typedef struct msgqueue_stats {
  size_t items;          /* items queued now */
  size_t bytes;          /* bytes counted against the cap now */
  size_t max_bytes;      /* the cap */
  size_t peak_bytes;     /* highest bytes seen */
  uint64_t pushed;       /* items accepted */
  uint64_t refused_full; /* pushes refused with MSGQ_ERR_FULL */
} msgqueue_stats_t;

/* Copies the counters. */
void msgqueue_get_stats(msgqueue_t *q, msgqueue_stats_t *out);

#endif
