/* The indexer's metric families, registered from one table.
 *
 * metrics_cbi_register creates every cbi_* family in a registry and fills a
 * metrics_cbi_t with the series handles the daemon updates. Every label has
 * a bounded value set fixed here (enums below, each with a matching name
 * list); no pubkey, signature, URL or error text ever becomes a label
 * value. The handles are lock-free (see metrics.h) and NULL-safe. */
#ifndef CBI_METRICS_CBI_H
#define CBI_METRICS_CBI_H

#include "metrics.h"

/* Websocket notification kinds (label kind). */
typedef enum {
  METRICS_CBI_NOTIF_ACCOUNT = 0, /* programSubscribe */
  METRICS_CBI_NOTIF_LOGS,        /* logsSubscribe */
  METRICS_CBI_NOTIF_SLOT,        /* slotSubscribe */
  METRICS_CBI_NOTIF_COUNT
} metrics_cbi_notif_t;

/* Where a fetched transaction came from (label source). */
typedef enum {
  METRICS_CBI_SRC_LIVE = 0,
  METRICS_CBI_SRC_GAP_FILL,
  METRICS_CBI_SRC_BACKFILL,
  METRICS_CBI_SRC_RECONCILE,
  METRICS_CBI_SRC_COUNT
} metrics_cbi_source_t;

/* Tables the sink writes (label table); names as in schema/. */
typedef enum {
  METRICS_CBI_TBL_USERS = 0,
  METRICS_CBI_TBL_PLATFORM_CONFIG,
  METRICS_CBI_TBL_MARKETS_CACHE,
  METRICS_CBI_TBL_MARKET_ANALYTICS,
  METRICS_CBI_TBL_POSITION_ACCOUNTS,
  METRICS_CBI_TBL_TREASURIES_CACHE,
  METRICS_CBI_TBL_ORACLE_DATA_CACHE,
  METRICS_CBI_TBL_TRANSACTIONS,
  METRICS_CBI_TBL_ACCOUNT_CLOSURES,
  METRICS_CBI_TBL_DEAD_LETTERS,
  METRICS_CBI_TBL_SYNC_CHECKPOINTS,
  METRICS_CBI_TBL_COUNT
} metrics_cbi_table_t;

/* Dead-letter kinds (label reason): the ingest vocabulary (ingest.h
 * ingest_dl_kind_t, same order and names: live checks it); the free-text
 * reason stays in the dead_letters row. */
typedef enum {
  METRICS_CBI_DL_ACCOUNT = 0,     /* "account": account bytes/JSON unusable */
  METRICS_CBI_DL_INSTRUCTION,     /* "instruction" */
  METRICS_CBI_DL_EVENT,           /* "event" */
  METRICS_CBI_DL_TX_PARSE,        /* "transaction-parse" */
  METRICS_CBI_DL_TX_MISSING,      /* "transaction-missing" */
  METRICS_CBI_DL_TX_FETCH,        /* "transaction-fetch" */
  METRICS_CBI_DL_WS_MESSAGE,      /* "ws-message" */
  METRICS_CBI_DL_WS_OVERSIZED,    /* "ws-oversized" */
  METRICS_CBI_DL_SLOT_RANGE,      /* "slot-range" */
  METRICS_CBI_DL_RECORD,          /* "record": the database rejected the record */
  METRICS_CBI_DL_COUNT
} metrics_cbi_dead_reason_t;

/* JSON-RPC methods (label method). */
typedef enum {
  METRICS_CBI_RPC_GET_ACCOUNT_INFO = 0,
  METRICS_CBI_RPC_GET_BLOCK,
  METRICS_CBI_RPC_GET_BLOCKS,
  METRICS_CBI_RPC_GET_MULTIPLE_ACCOUNTS,
  METRICS_CBI_RPC_GET_PROGRAM_ACCOUNTS,
  METRICS_CBI_RPC_GET_SIGNATURES_FOR_ADDRESS,
  METRICS_CBI_RPC_GET_SLOT,
  METRICS_CBI_RPC_GET_TRANSACTION,
  METRICS_CBI_RPC_OTHER,
  METRICS_CBI_RPC_COUNT
} metrics_cbi_rpc_method_t;

/* Outcome of an RPC request (label outcome). The values after OK follow
 * rpc.h's RPC_ERR_* kinds in order: outcome index == rpc error kind. */
typedef enum {
  METRICS_CBI_OUT_OK = 0,
  METRICS_CBI_OUT_TRANSPORT,
  METRICS_CBI_OUT_HTTP,
  METRICS_CBI_OUT_RPC,
  METRICS_CBI_OUT_PARSE,
  METRICS_CBI_OUT_TOO_LARGE,
  METRICS_CBI_OUT_CANCELLED,
  METRICS_CBI_OUT_COUNT
} metrics_cbi_outcome_t;

/* Account types of the Crypto Bet IDL (label account_type). */
typedef enum {
  METRICS_CBI_ACCT_GLOBAL_CONFIG = 0,
  METRICS_CBI_ACCT_MARKET,
  METRICS_CBI_ACCT_POSITION,
  METRICS_CBI_ACCT_TREASURY,
  METRICS_CBI_ACCT_ORACLE_DATA,
  METRICS_CBI_ACCT_UNKNOWN,
  METRICS_CBI_ACCT_COUNT
} metrics_cbi_account_t;

/* Handles of every cbi_* series. A field is NULL only if registration
 * failed (metrics_cbi_register then returned an error). */
typedef struct metrics_cbi {
  metrics_registry_t *reg;
  metrics_gauge_t *build_info;      /* cbi_build_info{version,program_id,commitment} = 1 */
  metrics_gauge_t *start_time;      /* cbi_process_start_time_seconds */
  metrics_gauge_t *resident_memory; /* cbi_resident_memory_bytes, sampled at scrape */
  metrics_gauge_t *chain_tip_slot, *chain_tip_block_time;
  metrics_gauge_t *indexed_slot, *indexed_block_time;
  metrics_gauge_t *ready;            /* cbi_ready 0/1 */
  metrics_gauge_t *last_commit_time; /* cbi_sink_last_commit_timestamp_seconds */
  metrics_gauge_t *backlog_bytes;
  metrics_counter_t *notifications[METRICS_CBI_NOTIF_COUNT];
  metrics_counter_t *transactions_fetched[METRICS_CBI_SRC_COUNT];
  metrics_counter_t *rows_written[METRICS_CBI_TBL_COUNT];
  metrics_counter_t *stale_updates;
  metrics_counter_t *dead_letters[METRICS_CBI_DL_COUNT];
  metrics_counter_t *rpc_requests[METRICS_CBI_RPC_COUNT][METRICS_CBI_OUT_COUNT];
  metrics_histogram_t *rpc_duration[METRICS_CBI_RPC_COUNT];
  metrics_counter_t *ws_reconnects;
  metrics_counter_t *gap_fills;
  metrics_counter_t *gap_fill_slots;
  metrics_counter_t *sink_commits;
  metrics_histogram_t *sink_commit_duration;
  metrics_histogram_t *sink_batch_records;
  metrics_histogram_t *notification_to_commit;
  metrics_counter_t *db_reconnects;
  metrics_counter_t *decode_warnings[METRICS_CBI_ACCT_COUNT];
  metrics_counter_t *watchdog_pings;
} metrics_cbi_t;

/* Build facts carried by cbi_build_info as labels. */
typedef struct metrics_cbi_build {
  const char *version;    /* e.g. CBI_VERSION */
  const char *program_id; /* base58 program id (one fixed value, not per-record) */
  const char *commitment; /* processed | confirmed | finalized */
} metrics_cbi_build_t;

/* Registers every cbi_* family into reg (which must not hold any of them
 * yet), sets cbi_build_info to 1 and cbi_process_start_time_seconds to now,
 * installs the collect hook that reads resident memory from
 * /proc/self/statm at each scrape, and fills *m. reg must outlive m.
 * Returns 0 or a negative METRICS_ERR_* (families registered before the
 * failure stay in reg). */
int metrics_cbi_register(metrics_registry_t *reg, const metrics_cbi_build_t *build,
                         metrics_cbi_t *m);

/* Label-value mappings for callers holding strings: the method's enum (OTHER
 * when unknown), the account type's enum (UNKNOWN when unknown). */
metrics_cbi_rpc_method_t metrics_cbi_rpc_method(const char *method);
metrics_cbi_account_t metrics_cbi_account_type(const char *type_name);

/* Convenience for an RPC request that finished: counts it under its method
 * and outcome (err_kind: 0 = ok, else an rpc.h RPC_ERR_* kind; out of range
 * counts as "transport") and observes its duration in seconds. */
void metrics_cbi_rpc_done(metrics_cbi_t *m, const char *method, int err_kind, double seconds);

/* Reads the resident set size of this process in bytes from
 * /proc/self/statm; returns -1 when unavailable. */
int64_t metrics_cbi_read_rss(void);

#endif
