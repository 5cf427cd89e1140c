/* Fetch queue: asynchronous JSON-RPC calls whose results are collected by
 * index, for pipelines that keep many calls in flight but consume the
 * results in order (backfill, account refresh).
 *
 * A queue has `capacity` result slots; call id i uses slot i % capacity, so
 * the caller keeps ids in flight or unconsumed within a window of at most
 * capacity consecutive ids. Results outlive the caller's interest safely:
 * fetchq_free() detaches the queue and the callbacks of calls still
 * pending in the rpc client free their results when they run. */
#ifndef CBI_FETCHQ_H
#define CBI_FETCHQ_H

#include <jansson.h>
#include <stddef.h>

#include "rpc.h"

typedef struct fetchq fetchq_t;

/* c is borrowed (must outlive pending calls, which it does: rpc_client_free
 * runs their callbacks). Returns NULL on allocation failure or capacity 0. */
fetchq_t *fetchq_new(rpc_client_t *c, size_t capacity);

/* Detaches: completed unconsumed results are freed now, pending ones when
 * their callback runs. NULL is a no-op. */
void fetchq_free(fetchq_t *q);

/* Submits method(params) as call id. params is STOLEN. Returns 0, or -1 when
 * the id's slot is still busy (caller bug) or memory ran out. */
int fetchq_submit(fetchq_t *q, size_t id, const char *method, json_t *params);

/* 1 when call id has completed (result or error) and was not taken yet. */
int fetchq_done(const fetchq_t *q, size_t id);

/* 1 when call id was submitted and has not completed yet. */
int fetchq_pending_id(const fetchq_t *q, size_t id);

/* Takes the outcome of a completed call id and frees its slot. Returns the
 * result (NEW reference, caller json_decref()s; JSON null results are
 * returned as json_null()), or NULL with *err filled on failure. Returns
 * NULL with err->kind RPC_ERR_NONE if id is not done. */
json_t *fetchq_take(fetchq_t *q, size_t id, rpc_error_t *err);

/* Calls submitted through q and not completed yet. */
size_t fetchq_in_flight(const fetchq_t *q);

#endif
