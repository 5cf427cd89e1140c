/* Snapshot: seeds the account caches from getProgramAccounts. Used by the
 * snapshot subcommand and by live's first run on an empty database. */
#ifndef CBI_SNAPSHOT_H
#define CBI_SNAPSHOT_H

#include <stddef.h>

#include "idl.h"
#include "ingest.h"
#include "rpc.h"
#include "sink.h"

/* getProgramAccounts per account type of the IDL, in IDL order (memcmp
 * filter at offset 0 on the base58 discriminator, withContext), each
 * account handed to ingest with the response's context slot, then the
 * sink flushed. Returns accounts ingested or -1 with err (RPC failure,
 * malformed answer, sink failure, *stop_flag). */
long snapshot_run(rpc_client_t *rpc, ingest_t *ing, sink_t *sink, const idl_t *idl,
                  const char *program_id, const char *commitment,
                  const volatile int *stop_flag, char *err, size_t errsz);

#endif
