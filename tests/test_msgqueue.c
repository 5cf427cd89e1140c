/* msgqueue: byte cap, FIFO order, blocking pop, close, the space callback,
 * and a two-thread producer/consumer run that never exceeds the cap. */
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "msgqueue.h"
#include "testutil.h"

static msgqueue_item_t *item_with(int kind, const char *text) {
  msgqueue_item_t *it = msgqueue_item_new(kind, 0);
  ck_assert_ptr_nonnull(it);
  ck_assert_int_eq(msgqueue_item_append(&it, text, strlen(text), 1 << 20), MSGQ_OK);
  return it;
}

static msgqueue_item_t *item_sized(size_t n, uint64_t seq) {
  msgqueue_item_t *it = msgqueue_item_new(1, n);
  ck_assert_ptr_nonnull(it);
  memset(it->data, 'x', n);
  it->len = n;
  it->data[n] = 0;
  it->aux = seq;
  return it;
}

static long ms_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

START_TEST(test_item_append_grows_and_caps) {
  msgqueue_item_t *it = msgqueue_item_new(7, 4);
  ck_assert_ptr_nonnull(it);
  ck_assert_int_eq(it->kind, 7);
  ck_assert_uint_eq(it->len, 0);
  ck_assert_int_eq(msgqueue_item_append(&it, "abc", 3, 10), MSGQ_OK);
  ck_assert_int_eq(msgqueue_item_append(&it, "defgh", 5, 10), MSGQ_OK);
  ck_assert_uint_eq(it->len, 8);
  ck_assert_str_eq((const char *)it->data, "abcdefgh");
  /* 8 + 3 > 10: refused, unchanged */
  ck_assert_int_eq(msgqueue_item_append(&it, "ijk", 3, 10), MSGQ_ERR_TOO_LARGE);
  ck_assert_uint_eq(it->len, 8);
  ck_assert_str_eq((const char *)it->data, "abcdefgh");
  ck_assert_int_eq(msgqueue_item_append(&it, "ij", 2, 10), MSGQ_OK);
  ck_assert_uint_eq(it->len, 10);
  ck_assert_uint_le(it->cap, 10);
  ck_assert_str_eq((const char *)it->data, "abcdefghij");
  /* a huge n does not overflow the check */
  ck_assert_int_eq(msgqueue_item_append(&it, "x", SIZE_MAX, 10), MSGQ_ERR_TOO_LARGE);
  msgqueue_item_free(it);
  msgqueue_item_free(NULL);
}
END_TEST

START_TEST(test_fifo_and_byte_cap) {
  /* each 100-byte item costs 100 + overhead */
  size_t cost = 100 + MSGQ_ITEM_OVERHEAD;
  msgqueue_t *q = msgqueue_new(cost * 6);
  ck_assert_ptr_nonnull(q);
  for (uint64_t i = 0; i < 6; i++) ck_assert_int_eq(msgqueue_try_push(q, item_sized(100, i)), MSGQ_OK);
  msgqueue_item_t *extra = item_sized(100, 6);
  ck_assert_int_eq(msgqueue_try_push(q, extra), MSGQ_ERR_FULL);
  msgqueue_stats_t st;
  msgqueue_get_stats(q, &st);
  ck_assert_uint_eq(st.items, 6);
  ck_assert_uint_eq(st.bytes, cost * 6);
  ck_assert_uint_eq(st.refused_full, 1);
  ck_assert_uint_eq(st.pushed, 6);
  msgqueue_item_t *it = msgqueue_pop(q, 0);
  ck_assert_ptr_nonnull(it);
  ck_assert_uint_eq(it->aux, 0);
  msgqueue_item_free(it);
  ck_assert_int_eq(msgqueue_try_push(q, extra), MSGQ_OK);
  for (uint64_t i = 1; i <= 6; i++) {
    it = msgqueue_pop(q, 0);
    ck_assert_ptr_nonnull(it);
    ck_assert_uint_eq(it->aux, i);
    ck_assert_uint_eq(it->len, 100);
    msgqueue_item_free(it);
  }
  ck_assert_ptr_null(msgqueue_pop(q, 0));
  msgqueue_get_stats(q, &st);
  ck_assert_uint_eq(st.items, 0);
  ck_assert_uint_eq(st.bytes, 0);
  ck_assert_uint_eq(st.peak_bytes, cost * 6);
  msgqueue_free(q);
}
END_TEST

START_TEST(test_empty_queue_takes_oversized_item) {
  msgqueue_t *q = msgqueue_new(256);
  msgqueue_item_t *big = item_sized(1000, 1);
  ck_assert_int_eq(msgqueue_try_push(q, big), MSGQ_OK);
  msgqueue_item_t *small = item_with(1, "x");
  ck_assert_int_eq(msgqueue_try_push(q, small), MSGQ_ERR_FULL);
  msgqueue_item_free(msgqueue_pop(q, 0));
  ck_assert_int_eq(msgqueue_try_push(q, small), MSGQ_OK);
  msgqueue_free(q); /* frees the queued item too */
}
END_TEST

START_TEST(test_pop_timeout) {
  msgqueue_t *q = msgqueue_new(1024);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ck_assert_ptr_null(msgqueue_pop(q, 120));
  long el = ms_since(&t0);
  ck_assert_int_ge(el, 110);
  ck_assert_int_lt(el, 2000);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ck_assert_ptr_null(msgqueue_pop(q, 0));
  ck_assert_int_lt(ms_since(&t0), 50);
  msgqueue_free(q);
}
END_TEST

START_TEST(test_close) {
  msgqueue_t *q = msgqueue_new(1024);
  ck_assert_int_eq(msgqueue_try_push(q, item_with(1, "a")), MSGQ_OK);
  ck_assert_int_eq(msgqueue_try_push(q, item_with(1, "b")), MSGQ_OK);
  msgqueue_close(q);
  msgqueue_close(q);
  msgqueue_item_t *c = item_with(1, "c");
  ck_assert_int_eq(msgqueue_try_push(q, c), MSGQ_ERR_CLOSED);
  msgqueue_item_free(c);
  msgqueue_item_t *it = msgqueue_pop(q, -1);
  ck_assert_str_eq((const char *)it->data, "a");
  msgqueue_item_free(it);
  it = msgqueue_pop(q, -1);
  ck_assert_str_eq((const char *)it->data, "b");
  msgqueue_item_free(it);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ck_assert_ptr_null(msgqueue_pop(q, -1)); /* closed and empty: at once */
  ck_assert_int_lt(ms_since(&t0), 50);
  msgqueue_free(q);
}
END_TEST

static int space_calls;
static void count_space(void *ud) {
  ck_assert_ptr_eq(ud, &space_calls);
  space_calls++;
}

START_TEST(test_space_callback_after_refusal_only) {
  size_t cost = 100 + MSGQ_ITEM_OVERHEAD;
  msgqueue_t *q = msgqueue_new(cost * 4);
  space_calls = 0;
  msgqueue_set_space_cb(q, count_space, &space_calls);
  /* no refusal: draining never calls it */
  for (int i = 0; i < 4; i++) ck_assert_int_eq(msgqueue_try_push(q, item_sized(100, 0)), MSGQ_OK);
  for (int i = 0; i < 4; i++) msgqueue_item_free(msgqueue_pop(q, 0));
  ck_assert_int_eq(space_calls, 0);
  /* full, refused twice: one call, when the queue is at half or less */
  for (int i = 0; i < 4; i++) ck_assert_int_eq(msgqueue_try_push(q, item_sized(100, 0)), MSGQ_OK);
  msgqueue_item_t *x = item_sized(100, 0);
  ck_assert_int_eq(msgqueue_try_push(q, x), MSGQ_ERR_FULL);
  ck_assert_int_eq(msgqueue_try_push(q, x), MSGQ_ERR_FULL);
  msgqueue_item_free(msgqueue_pop(q, 0)); /* 3 left: above half */
  ck_assert_int_eq(space_calls, 0);
  msgqueue_item_free(msgqueue_pop(q, 0)); /* 2 left: half */
  ck_assert_int_eq(space_calls, 1);
  msgqueue_item_free(msgqueue_pop(q, 0));
  msgqueue_item_free(msgqueue_pop(q, 0));
  ck_assert_int_eq(space_calls, 1);
  msgqueue_item_free(x);
  msgqueue_free(q);
}
END_TEST

/* Producer: pushes n items with sequence numbers and random sizes; when the
 * queue refuses, it waits for the space callback like the websocket thread
 * waits for lws_cancel_service(). */
typedef struct {
  msgqueue_t *q;
  uint64_t n;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int space;
  uint64_t refusals;
} prod_t;

static void prod_space(void *ud) {
  prod_t *p = ud;
  pthread_mutex_lock(&p->mu);
  p->space = 1;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

static void *producer(void *arg) {
  prod_t *p = arg;
  uint32_t rnd = 12345;
  for (uint64_t i = 0; i < p->n; i++) {
    rnd = rnd * 1103515245u + 12345u;
    size_t sz = 1 + (rnd >> 16) % 2000;
    msgqueue_item_t *it = item_sized(sz, i);
    for (;;) {
      pthread_mutex_lock(&p->mu);
      p->space = 0;
      pthread_mutex_unlock(&p->mu);
      int rc = msgqueue_try_push(p->q, it);
      if (rc == MSGQ_OK) break;
      ck_assert_int_eq(rc, MSGQ_ERR_FULL);
      p->refusals++;
      pthread_mutex_lock(&p->mu);
      struct timespec dl;
      clock_gettime(CLOCK_REALTIME, &dl);
      dl.tv_sec += 5;
      while (!p->space) {
        if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) != 0) break;
      }
      int got = p->space;
      pthread_mutex_unlock(&p->mu);
      /* a lost wake-up would leave the producer stuck until the timeout */
      ck_assert_msg(got, "no space callback within 5 s");
    }
  }
  msgqueue_close(p->q);
  return NULL;
}

START_TEST(test_threads_order_and_cap) {
  const size_t cap = 64 * 1024;
  prod_t p;
  memset(&p, 0, sizeof p);
  p.q = msgqueue_new(cap);
  p.n = 200000;
  pthread_mutex_init(&p.mu, NULL);
  pthread_cond_init(&p.cv, NULL);
  msgqueue_set_space_cb(p.q, prod_space, &p);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, producer, &p), 0);
  uint64_t expect = 0;
  uint32_t slow = 0;
  for (;;) {
    msgqueue_item_t *it = msgqueue_pop(p.q, -1);
    if (!it) break;
    ck_assert_uint_eq(it->aux, expect);
    ck_assert_uint_ge(it->len, 1);
    ck_assert_uint_le(it->len, 2000);
    ck_assert_int_eq(it->data[0], 'x');
    expect++;
    msgqueue_item_free(it);
    if (++slow % 5000 == 0) usleep(2000); /* let the queue fill now and then */
  }
  pthread_join(th, NULL);
  ck_assert_uint_eq(expect, p.n);
  msgqueue_stats_t st;
  msgqueue_get_stats(p.q, &st);
  ck_assert_uint_le(st.peak_bytes, cap);
  ck_assert_uint_eq(st.pushed, p.n);
  ck_assert_uint_gt(p.refusals, 0);
  msgqueue_free(p.q);
  pthread_mutex_destroy(&p.mu);
  pthread_cond_destroy(&p.cv);
}
END_TEST

static void *waker(void *arg) {
  usleep(100000);
  msgqueue_wake(arg);
  return NULL;
}

START_TEST(test_wake_unblocks_pop) {
  msgqueue_t *q = msgqueue_new(1024);
  pthread_t th;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ck_assert_int_eq(pthread_create(&th, NULL, waker, q), 0);
  ck_assert_ptr_null(msgqueue_pop(q, -1));
  long el = ms_since(&t0);
  ck_assert_int_ge(el, 80);
  ck_assert_int_lt(el, 3000);
  pthread_join(th, NULL);
  msgqueue_free(q);
}
END_TEST

int main(void) {
  Suite *s = suite_create("msgqueue");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_item_append_grows_and_caps);
  tcase_add_test(tc, test_fifo_and_byte_cap);
  tcase_add_test(tc, test_empty_queue_takes_oversized_item);
  tcase_add_test(tc, test_pop_timeout);
  tcase_add_test(tc, test_close);
  tcase_add_test(tc, test_space_callback_after_refusal_only);
  tcase_add_test(tc, test_threads_order_and_cap);
  tcase_add_test(tc, test_wake_unblocks_pop);
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
