/* Every cbi_* metric family, in one table. */
#include "metrics_cbi.h"

#include "rpc.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Label value lists, in the order of the enums in metrics_cbi.h. */
static const char *const notif_kinds[] = {"account", "logs", "slot", NULL};
static const char *const sources[] = {"live", "gap_fill", "backfill", "reconcile", NULL};
static const char *const tables[] = {"users",
                                     "platform_config",
                                     "markets_cache",
                                     "market_analytics",
                                     "position_accounts",
                                     "treasuries_cache",
                                     "oracle_data_cache",
                                     "transactions",
                                     "account_closures",
                                     "dead_letters",
                                     "sync_checkpoints",
                                     NULL};
static const char *const dl_reasons[] = {"account",
                                         "instruction",
                                         "event",
                                         "transaction-parse",
                                         "transaction-missing",
                                         "transaction-fetch",
                                         "ws-message",
                                         "ws-oversized",
                                         "slot-range",
                                         "record",
                                         NULL};
static const char *const rpc_methods[] = {"getAccountInfo",
                                          "getBlock",
                                          "getBlocks",
                                          "getMultipleAccounts",
                                          "getProgramAccounts",
                                          "getSignaturesForAddress",
                                          "getSlot",
                                          "getTransaction",
                                          "other",
                                          NULL};
static const char *const outcomes[] = {"ok",    "transport", "http",      "rpc",
                                       "parse", "too_large", "cancelled", NULL};
static const char *const acct_types[] = {"GlobalConfig", "Market",  "Position", "Treasury",
                                         "OracleData",   "unknown", NULL};

_Static_assert(sizeof notif_kinds / sizeof *notif_kinds == METRICS_CBI_NOTIF_COUNT + 1, "kinds");
_Static_assert(sizeof sources / sizeof *sources == METRICS_CBI_SRC_COUNT + 1, "sources");
_Static_assert(sizeof tables / sizeof *tables == METRICS_CBI_TBL_COUNT + 1, "tables");
_Static_assert(sizeof dl_reasons / sizeof *dl_reasons == METRICS_CBI_DL_COUNT + 1, "reasons");
_Static_assert(sizeof rpc_methods / sizeof *rpc_methods == METRICS_CBI_RPC_COUNT + 1, "methods");
_Static_assert(sizeof outcomes / sizeof *outcomes == METRICS_CBI_OUT_COUNT + 1, "outcomes");
_Static_assert(sizeof acct_types / sizeof *acct_types == METRICS_CBI_ACCT_COUNT + 1, "types");

_Static_assert((int)RPC_ERR_KIND_COUNT == (int)METRICS_CBI_OUT_COUNT &&
                   RPC_ERR_INDEX(RPC_ERR_TRANSPORT) == (int)METRICS_CBI_OUT_TRANSPORT &&
                   RPC_ERR_INDEX(RPC_ERR_HTTP) == (int)METRICS_CBI_OUT_HTTP &&
                   RPC_ERR_INDEX(RPC_ERR_RPC) == (int)METRICS_CBI_OUT_RPC &&
                   RPC_ERR_INDEX(RPC_ERR_PARSE) == (int)METRICS_CBI_OUT_PARSE &&
                   RPC_ERR_INDEX(RPC_ERR_TOO_LARGE) == (int)METRICS_CBI_OUT_TOO_LARGE &&
                   RPC_ERR_INDEX(RPC_ERR_CANCELLED) == (int)METRICS_CBI_OUT_CANCELLED,
               "outcome index == RPC_ERR_INDEX(rpc error kind)");

static const double rpc_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double commit_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,  0.5,    1,     2.5,  5,     10};
static const double lag_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300};
static const double batch_buckets[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};

#define NB(a) (sizeof(a) / sizeof *(a))

/* One family: its spec, and where its handles go in metrics_cbi_t (offset
 * of the first handle; handles of a labelled family fill an array in
 * row-major order of the label values). */
typedef struct {
  const char *name, *help;
  metrics_type_t type;
  const char *l1;
  const char *const *v1;
  const char *l2;
  const char *const *v2;
  const double *buckets;
  size_t nbuckets;
  size_t off;
} fam_def_t;

#define H(field) offsetof(metrics_cbi_t, field)
static const fam_def_t families[] = {
    {"cbi_process_start_time_seconds", "Start time of the process since the Unix epoch.",
     METRICS_GAUGE, NULL, NULL, NULL, NULL, NULL, 0, H(start_time)},
    {"cbi_resident_memory_bytes", "Resident memory of the process (from /proc/self/statm).",
     METRICS_GAUGE, NULL, NULL, NULL, NULL, NULL, 0, H(resident_memory)},
    {"cbi_chain_tip_slot", "Highest slot the node reported (slot notifications or getSlot).",
     METRICS_GAUGE, NULL, NULL, NULL, NULL, NULL, 0, H(chain_tip_slot)},
    {"cbi_chain_tip_block_time_seconds", "Block time of the chain tip slot, Unix seconds.",
     METRICS_GAUGE, NULL, NULL, NULL, NULL, NULL, 0, H(chain_tip_block_time)},
    {"cbi_indexed_slot", "Slot of the last committed checkpoint.", METRICS_GAUGE, NULL, NULL, NULL,
     NULL, NULL, 0, H(indexed_slot)},
    {"cbi_indexed_block_time_seconds", "Block time of the indexed slot, Unix seconds.",
     METRICS_GAUGE, NULL, NULL, NULL, NULL, NULL, 0, H(indexed_block_time)},
    {"cbi_ready", "1 while GET /ready answers 200 (caught up), else 0.", METRICS_GAUGE, NULL, NULL,
     NULL, NULL, NULL, 0, H(ready)},
    {"cbi_notifications_received_total", "Websocket notifications received, by kind.",
     METRICS_COUNTER, "kind", notif_kinds, NULL, NULL, NULL, 0, H(notifications)},
    {"cbi_transactions_fetched_total", "Transactions fetched over JSON-RPC, by source.",
     METRICS_COUNTER, "source", sources, NULL, NULL, NULL, 0, H(transactions_fetched)},
    {"cbi_rows_written_total", "Rows inserted or updated by the sink, by table.", METRICS_COUNTER,
     "table", tables, NULL, NULL, NULL, 0, H(rows_written)},
    {"cbi_stale_updates_ignored_total",
     "Account updates ignored because the stored row is from a newer slot.", METRICS_COUNTER, NULL,
     NULL, NULL, NULL, NULL, 0, H(stale_updates)},
    {"cbi_dead_letters_total", "Records sent to dead_letters, by dead-letter kind.", METRICS_COUNTER,
     "reason", dl_reasons, NULL, NULL, NULL, 0, H(dead_letters)},
    {"cbi_rpc_requests_total", "JSON-RPC requests finished, by method and outcome.",
     METRICS_COUNTER, "method", rpc_methods, "outcome", outcomes, NULL, 0, H(rpc_requests)},
    {"cbi_rpc_request_duration_seconds", "JSON-RPC request latency including retries, by method.",
     METRICS_HISTOGRAM, "method", rpc_methods, NULL, NULL, rpc_buckets, NB(rpc_buckets),
     H(rpc_duration)},
    {"cbi_websocket_reconnects_total", "Websocket reconnections.", METRICS_COUNTER, NULL, NULL,
     NULL, NULL, NULL, 0, H(ws_reconnects)},
    {"cbi_gap_fills_total", "Gap fills run (start-up and after reconnects).", METRICS_COUNTER, NULL,
     NULL, NULL, NULL, NULL, 0, H(gap_fills)},
    {"cbi_gap_fill_slots_total", "Slots covered by gap fills.", METRICS_COUNTER, NULL, NULL, NULL,
     NULL, NULL, 0, H(gap_fill_slots)},
    {"cbi_sink_commits_total", "Batches committed by the sink.", METRICS_COUNTER, NULL, NULL, NULL,
     NULL, NULL, 0, H(sink_commits)},
    {"cbi_sink_last_commit_timestamp_seconds", "Wall-clock time of the last sink commit.",
     METRICS_GAUGE, NULL, NULL, NULL, NULL, NULL, 0, H(last_commit_time)},
    {"cbi_sink_commit_duration_seconds", "Time to write and commit one batch.", METRICS_HISTOGRAM,
     NULL, NULL, NULL, NULL, commit_buckets, NB(commit_buckets), H(sink_commit_duration)},
    {"cbi_sink_batch_records", "Records per committed batch.", METRICS_HISTOGRAM, NULL, NULL, NULL,
     NULL, batch_buckets, NB(batch_buckets), H(sink_batch_records)},
    {"cbi_notification_to_commit_seconds",
     "Time from a websocket notification's arrival to the commit of its data.", METRICS_HISTOGRAM,
     NULL, NULL, NULL, NULL, lag_buckets, NB(lag_buckets), H(notification_to_commit)},
    {"cbi_backlog_bytes", "Bytes queued between the websocket thread and ingest.", METRICS_GAUGE,
     NULL, NULL, NULL, NULL, NULL, 0, H(backlog_bytes)},
    {"cbi_database_reconnects_total", "Reconnections to PostgreSQL.", METRICS_COUNTER, NULL, NULL,
     NULL, NULL, NULL, 0, H(db_reconnects)},
    {"cbi_decode_warnings_total",
     "Accounts decoded with a warning (e.g. trailing bytes), by account type.", METRICS_COUNTER,
     "account_type", acct_types, NULL, NULL, NULL, 0, H(decode_warnings)},
    {"cbi_watchdog_pings_total", "WATCHDOG=1 datagrams sent to systemd.", METRICS_COUNTER, NULL,
     NULL, NULL, NULL, NULL, 0, H(watchdog_pings)},
};
#undef H

int64_t metrics_cbi_read_rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  unsigned long long size = 0, resident = 0;
  int n = fscanf(f, "%llu %llu", &size, &resident);
  fclose(f);
  long page = sysconf(_SC_PAGESIZE);
  if (n != 2 || page <= 0) return -1;
  return (int64_t)(resident * (unsigned long long)page);
}

static void collect_rss(void *user) {
  metrics_cbi_t *m = user;
  int64_t rss = metrics_cbi_read_rss();
  if (rss >= 0) metrics_gauge_set(m->resident_memory, rss);
}

static size_t count_values(const char *const *v) {
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

/* Stores the handle of series pos of family f at slot pos of the array at
 * byte offset off in m. */
static void put_handle(metrics_cbi_t *m, const fam_def_t *d, metrics_family_t *f, size_t pos) {
  size_t idx[2];
  size_t n2 = d->v2 ? count_values(d->v2) : 1;
  idx[0] = pos / n2;
  idx[1] = pos % n2;
  void *h = NULL;
  if (d->type == METRICS_COUNTER)
    h = metrics_counter_at(f, idx);
  else if (d->type == METRICS_GAUGE)
    h = metrics_gauge_at(f, idx);
  else
    h = metrics_histogram_at(f, idx);
  memcpy((char *)m + d->off + pos * sizeof(void *), &h, sizeof h);
}

int metrics_cbi_register(metrics_registry_t *reg, const metrics_cbi_build_t *build,
                         metrics_cbi_t *m) {
  if (!reg || !build || !m || !build->version || !build->program_id || !build->commitment)
    return METRICS_ERR_INVALID;
  memset(m, 0, sizeof *m);
  m->reg = reg;
  const char *const v_version[] = {build->version, NULL};
  const char *const v_program[] = {build->program_id, NULL};
  const char *const v_commit[] = {build->commitment, NULL};
  metrics_spec_t bi = {.name = "cbi_build_info",
                       .help = "Build and configuration facts as labels; the value is always 1.",
                       .type = METRICS_GAUGE,
                       .nlabels = 3,
                       .label_names = {"version", "program_id", "commitment"},
                       .label_values = {v_version, v_program, v_commit}};
  metrics_family_t *f = NULL;
  int rc = metrics_register(reg, &bi, &f);
  if (rc != METRICS_OK) return rc;
  m->build_info = metrics_gauge_at(f, (const size_t[]){0, 0, 0});
  metrics_gauge_set(m->build_info, 1);
  for (size_t i = 0; i < NB(families); i++) {
    const fam_def_t *d = &families[i];
    metrics_spec_t sp = {.name = d->name,
                         .help = d->help,
                         .type = d->type,
                         .nlabels = d->l2   ? 2
                                    : d->l1 ? 1
                                            : 0,
                         .label_names = {d->l1, d->l2},
                         .label_values = {d->v1, d->v2},
                         .buckets = d->buckets,
                         .nbuckets = d->nbuckets};
    rc = metrics_register(reg, &sp, &f);
    if (rc != METRICS_OK) return rc;
    size_t n = (d->v1 ? count_values(d->v1) : 1) * (d->v2 ? count_values(d->v2) : 1);
    for (size_t pos = 0; pos < n; pos++)
      put_handle(m, d, f, pos);
  }
  metrics_gauge_set(m->start_time, (int64_t)time(NULL));
  collect_rss(m);
  return metrics_on_collect(reg, collect_rss, m);
}

metrics_cbi_rpc_method_t metrics_cbi_rpc_method(const char *method) {
  for (int i = 0; method && i < METRICS_CBI_RPC_OTHER; i++)
    if (strcmp(rpc_methods[i], method) == 0) return (metrics_cbi_rpc_method_t)i;
  return METRICS_CBI_RPC_OTHER;
}

metrics_cbi_account_t metrics_cbi_account_type(const char *type_name) {
  for (int i = 0; type_name && i < METRICS_CBI_ACCT_UNKNOWN; i++)
    if (strcmp(acct_types[i], type_name) == 0) return (metrics_cbi_account_t)i;
  return METRICS_CBI_ACCT_UNKNOWN;
}

void metrics_cbi_rpc_done(metrics_cbi_t *m, const char *method, int err_kind, double seconds) {
  if (!m) return;
  metrics_cbi_rpc_method_t mi = metrics_cbi_rpc_method(method);
  /* err_kind: 0 (RPC_OK) or a negative RPC_ERR_* kind; the outcome index is
   * RPC_ERR_INDEX(kind). Anything else counts as transport. */
  int oi = err_kind <= 0 ? RPC_ERR_INDEX(err_kind) : -1;
  if (oi < 0 || oi >= METRICS_CBI_OUT_COUNT) oi = METRICS_CBI_OUT_TRANSPORT;
  metrics_counter_inc(m->rpc_requests[mi][oi]);
  metrics_histogram_observe(m->rpc_duration[mi], seconds);
}
