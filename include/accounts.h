/* Account reads over JSON-RPC, shared by backfill, snapshot and reconcile:
 * getMultipleAccounts in chunks of 100 with several chunks in flight, and
 * the refresh of the accounts a range of transactions touched. Every
 * account read goes to ingest (ingest.h); nothing here writes to the sink.
 * Blocking calls that drive the RPC client internally (writer thread). */
#ifndef CBI_ACCOUNTS_H
#define CBI_ACCOUNTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cb_types.h"
#include "ingest.h"
#include "rpc.h"
#include "sink.h"

typedef char accounts_key_t[CB_PUBKEY_B58_MAX];

/* "<method> failed: ..." / "<method>: stopped by request" for e into err. */
void accounts_rpc_err_text(const char *method, const rpc_error_t *e, char *err, size_t errsz);

/* A sorted, deduplicated copy of keys (empty or over-long entries dropped;
 * lexicographic order makes the request sequence a function of the key set
 * alone). Returns a NEW array (free()) with *out_n entries, or NULL when
 * memory ran out. */
accounts_key_t *accounts_sorted_keys(const char (*keys)[CB_PUBKEY_B58_MAX], size_t n,
                                     size_t *out_n);

/* Applies one getMultipleAccounts answer: values[i] (borrowed) belongs to
 * keys[i]; slot is the response's context slot. Returns 0, or -1 with err
 * filled to stop the walk. */
typedef int (*accounts_chunk_fn)(void *ud, const accounts_key_t *keys, size_t n,
                                 const json_t *values, uint64_t slot, char *err, size_t errsz);

/* getMultipleAccounts over keys (base64 encoding, commitment) in chunks of
 * 100, 8 chunks in flight, fn called for each answer in chunk order.
 * Returns 0, or -1 with err (RPC failure after the client's retries, a
 * malformed answer, *stop_flag, or fn's failure). */
int accounts_read_multi(rpc_client_t *rpc, const char *commitment, const accounts_key_t *keys,
                        size_t n, const volatile int *stop_flag, accounts_chunk_fn fn, void *ud,
                        char *err, size_t errsz);

/* Refresh: getMultipleAccounts of keys (sorted and deduplicated first, so
 * the requests depend on the key set only), each handed to
 * ingest_account_json with the response's context slot (records queued on
 * the sink; the caller flushes). Returns the number of accounts ingested
 * (closes included) or -1 with err. */
long accounts_refresh(rpc_client_t *rpc, ingest_t *ing, sink_t *sink, const char *commitment,
                      const char (*keys)[CB_PUBKEY_B58_MAX], size_t n,
                      const volatile int *stop_flag, char *err, size_t errsz);

#endif
