/* Transaction fetch pipeline: the one way live and backfill get a
 * transaction from the node.
 *
 * For every submitted signature: getTransaction (encoding json,
 * maxSupportedTransactionVersion 0, the commitment given); a null result
 * (not visible on this node yet) is asked again after a backoff
 * (retry_base_ms doubled per try, capped at retry_max_ms) up to
 * null_retries times; then the block header of the transaction's slot
 * (getBlock, transactionDetails none, rewards false) for block time and
 * height, requested once per slot and shared by every transaction of that
 * slot (a small cache keeps recent slots). The caller drives the rpc
 * client (rpc_run) and collects finished fetches with txfetch_poll, in
 * completion order; a caller that needs submission order (backfill) keeps
 * them by tag.
 *
 * Outcomes: TXFETCH_OK (the result and, when getBlock answered, the block),
 * TXFETCH_MISSING (null after every retry, or a JSON-RPC error answer: the
 * node will not return it; dead letter transaction-missing), TXFETCH_FAILED
 * (transport / HTTP / parse failure after the rpc client's own retries),
 * TXFETCH_CANCELLED (the client was stopped or freed). A getBlock that
 * fails only costs the block height (logged once per slot).
 *
 * One thread (the rpc client's). txfetch_free may be called with calls
 * still pending: the handle detaches and their callbacks release what they
 * hold (like fetchq). */
#ifndef CBI_TXFETCH_H
#define CBI_TXFETCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cb_types.h"
#include "rpc.h"
#include "txn.h"

typedef struct txfetch txfetch_t;

typedef enum {
  TXFETCH_OK = 0,
  TXFETCH_MISSING = 1,
  TXFETCH_FAILED = 2,
  TXFETCH_CANCELLED = 3
} txfetch_status_t;

#define TXFETCH_DEFAULT_NULL_RETRIES 6
#define TXFETCH_DEFAULT_RETRY_BASE_MS 250
#define TXFETCH_DEFAULT_RETRY_MAX_MS 8000

typedef struct txfetch_options {
  const char *commitment; /* "confirmed" or "finalized"; copied; required */
  int null_retries;       /* getTransaction repeats after a null result; default 6 */
  int retry_base_ms;      /* first wait after a null result; default 250 */
  int retry_max_ms;       /* cap of one wait; default 8000 */
} txfetch_options_t;

/* Fills o with the defaults (commitment "confirmed"). */
void txfetch_options_init(txfetch_options_t *o);

typedef struct txfetch_result {
  uint64_t tag;                          /* as submitted */
  char signature[CB_SIGNATURE_B58_MAX];
  uint64_t slot;                         /* the transaction's slot when the node
                                            gave one, else the submitted hint */
  txfetch_status_t status;
  json_t *tx;                            /* OK: the getTransaction result (owned;
                                            txfetch_result_clear) */
  bool has_block;                        /* OK: block holds getBlock's answer */
  txn_block_t block;
  int tries;                             /* getTransaction calls made */
  rpc_error_t err;                       /* FAILED / CANCELLED / MISSING by error */
  char reason[360];                      /* MISSING / FAILED: why, for a dead letter */
} txfetch_result_t;

typedef struct txfetch_stats {
  uint64_t submitted;
  uint64_t ok;
  uint64_t missing;
  uint64_t failed;
  uint64_t null_retries;   /* getTransaction repeated after a null result */
  uint64_t block_requests; /* getBlock calls */
} txfetch_stats_t;

/* rpc is borrowed and must outlive every pending call (rpc_client_free
 * runs their callbacks, which is safe before or after txfetch_free).
 * Returns NULL on bad options or no memory. */
txfetch_t *txfetch_new(rpc_client_t *rpc, const txfetch_options_t *o);

/* Frees the handle and every fetch not handed out yet; calls still pending
 * in the rpc client release their state when their callback runs. NULL is
 * a no-op. */
void txfetch_free(txfetch_t *f);

/* Starts fetching signature (base58, 32..88 characters); slot_hint is the
 * slot it was seen at (notification or signature list) and orders
 * txfetch_min_slot until the node answers. tag is returned with the
 * result. Returns 0, or -1 for a malformed signature or no memory. */
int txfetch_submit(txfetch_t *f, uint64_t tag, const char *signature, uint64_t slot_hint);

/* Advances the pipeline (submits retries that are due) and hands out one
 * finished fetch: returns 1 with *out filled (the caller owns out->tx and
 * calls txfetch_result_clear), or 0 when none is finished. Never blocks;
 * the caller runs the rpc client in between. */
int txfetch_poll(txfetch_t *f, txfetch_result_t *out);

/* Releases out->tx. */
void txfetch_result_clear(txfetch_result_t *r);

/* Fetches submitted and not handed out by txfetch_poll yet. */
size_t txfetch_pending(const txfetch_t *f);

/* 1 with the lowest slot among the pending fetches in *out, or 0 when none
 * is pending. */
int txfetch_min_slot(const txfetch_t *f, uint64_t *out);

/* Milliseconds until txfetch_poll has something to do without the rpc
 * client: 0 when a result is ready, the time to the next due retry, or -1
 * when everything pending waits for the rpc client. */
long txfetch_wait_ms(const txfetch_t *f);

/* Copies the counters. */
void txfetch_get_stats(const txfetch_t *f, txfetch_stats_t *out);

#endif
