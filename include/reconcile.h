/* Reconciliation: the safety net for closed accounts. Used by the
 * reconcile subcommand and periodically by live. */
#ifndef CBI_RECONCILE_H
#define CBI_RECONCILE_H

#include <stddef.h>

#include "ingest.h"
#include "rpc.h"
#include "sink.h"

/* Compares every cached open account with the chain (getMultipleAccounts,
 * 100 per call, keys sorted) and marks the ones that are gone (null / 0
 * lamports / no longer owned by the program) closed at the response's
 * context slot through ingest_account_closed; the others go to ingest with
 * their current state (slot-guarded). Flushes at the end. Returns accounts
 * closed or -1 with err. */
long reconcile_run(rpc_client_t *rpc, ingest_t *ing, sink_t *sink, const char *program_id,
                   const char *commitment, const volatile int *stop_flag, char *err,
                   size_t errsz);

#endif
