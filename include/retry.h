/* retry: runs stored dead letters through ingest again (the current IDL
 * and decoder), and removes those that now apply.
 *
 *  - account: the stored account bytes (or account JSON) with their pubkey
 *    and slot, through ingest_account_bytes / ingest_account_json (the
 *    program as owner; the cache keeps no lamports, so any non-zero value
 *    stands for "alive").
 *  - ws-message: the raw websocket message through the live classification
 *    (wsmsg_parse); an account notification goes to ingest, a logs
 *    notification refetches its transaction, a slot notification carries
 *    nothing to apply.
 *  - transaction-parse, transaction-missing, transaction-fetch,
 *    instruction, event: getTransaction by the stored signature, then
 *    ingest_transaction_json.
 *  - other kinds (ws-oversized, slot-range, record) are left alone.
 * A dead letter applies when its retry raised no new dead letter; the
 * applied rows are deleted after the retried data has committed. */
#ifndef CBI_RETRY_H
#define CBI_RETRY_H

#include <stdint.h>

#include "ingest.h"
#include "rpc.h"
#include "sink.h"

typedef struct retry_summary {
  uint64_t tried;    /* dead letters looked at */
  uint64_t applied;  /* applied now and deleted */
  uint64_t failing;  /* still failing (the row stays; attempts go up) */
  uint64_t skipped;  /* kinds that cannot be retried */
} retry_summary_t;

/* Retries the dead letter with id (id > 0) or every one of kind (NULL =
 * all kinds) through ing, whose sink is sink (also used to read and delete
 * the rows). rpc (may be NULL: transactions are then skipped) fetches
 * transactions at commitment. Returns 0 (summary filled) or -1 with err
 * (a database failure). */
int retry_dead_letters(sink_t *sink, ingest_t *ing, rpc_client_t *rpc, const char *commitment,
                       const char *kind, int64_t id, retry_summary_t *sum, char *err,
                       size_t errsz);

#endif
