/* Live sync: the writer thread of `crypto-bet-indexer live`.
 *
 * live_run() starts the websocket client (ws_client.h), whose thread fills a
 * bounded msgqueue, and then works the queue on the calling thread:
 *
 *  - Start-up and every reconnect: no live data is trusted until the gap
 *    between the checkpoint "live" and the first slot seen on the new
 *    subscription (capped at the tip the RPC node confirms with getSlot)
 *    has been backfilled (backfill_run, signatures strategy, with the
 *    touched accounts refreshed). A first run on an empty database seeds
 *    the caches with snapshot_run and backfills from --start-slot, or from
 *    the program's first transaction.
 *  - While the websocket is down (a dead node, or one that drops the socket
 *    so often that the reconnect backoff climbs), the same gap fill runs
 *    from the checkpoint to the confirmed tip every few seconds, so the
 *    tables stay fresh over RPC until the socket is back.
 *  - programNotification -> ingest_account_json / ingest_account_bytes at
 *    the context slot.
 *  - logsNotification -> the transaction fetch pipeline (txfetch.h: the
 *    one backfill uses; null results retried with backoff, then
 *    dead-lettered as transaction-missing) -> ingest_transaction_json, which
 *    also marks the accounts the transaction emptied closed.
 *  - slotNotification -> chain tip (status line, checkpoint).
 *  - Slots: a message whose slot is above 2^63 - 1, or far beyond the tip
 *    the RPC node confirms, is a slot-range dead letter and changes
 *    nothing. The checkpoint follows min(websocket tip, last getSlot
 *    answer); getSlot is asked every few seconds, and every second while
 *    the websocket runs ahead of it.
 *  - Anything else (malformed JSON, invalid UTF-8, NUL bytes, binary frames,
 *    unknown methods, wrong shapes) -> dead_letters with kind ws-message
 *    (ws-oversized for messages over the cap) and the raw bytes; nothing
 *    stops. All of it goes through ingest (ingest.h): bad input is never
 *    fatal; only a sink failure past its retries is.
 *  - The checkpoint "live" is written in the same database transaction as
 *    the data it covers: the highest slot at or below which everything
 *    received has been applied, kept LIVE_CHECKPOINT_MARGIN slots behind
 *    the confirmed tip (late or reordered notifications) and below every
 *    transaction fetch still in flight.
 *  - Writing: two sinks (connections); while a flusher thread commits one
 *    batch the writer decodes into the other, and batches commit strictly
 *    in hand-over order. A batch is handed over when it is due, when the
 *    queue is momentarily empty (small batches, low latency when quiet) or
 *    at 2000 records (large batches under load).
 *  - PostgreSQL down: the sink retries; the queue fills up and the
 *    websocket thread stops reading (backpressure); memory stays bounded.
 *  - Every reconcile_interval_s: reconcile_run (closed accounts, the safety
 *    net behind the closing transactions).
 *  - *stop_flag set: stop reading, finish in-flight fetches briefly, flush,
 *    write the checkpoint, close. *abort_flag set: give up retries at once.
 */
#ifndef CBI_LIVE_H
#define CBI_LIVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cb_decoder.h"
#include "idl.h"

/* Slots the checkpoint stays behind the highest slot seen (confirmed /
 * processed commitment); finalized notifications trail the tip by about
 * 32 slots more. */
struct ops;

#define LIVE_CHECKPOINT_MARGIN 32
#define LIVE_CHECKPOINT_MARGIN_FINALIZED 96

typedef struct live_options {
  const char *database_url; /* required */
  const char *rpc_url;      /* required; comma-separated endpoints */
  const char *ws_url;       /* required */
  const char *program_id;   /* required */
  const char *commitment;   /* "processed" | "confirmed" | "finalized" */
  const idl_t *idl;         /* required; borrowed */
  const cb_decoder_t *decoder; /* required; borrowed; built from idl */
  bool has_start_slot;      /* first run: backfill from start_slot, not from the
                               program's first transaction */
  uint64_t start_slot;
  size_t max_message_bytes; /* websocket message cap; 0 = default 4 MiB */
  size_t queue_bytes;       /* queue cap; 0 = default 16 MiB; >= 2 x message cap */
  int ping_interval_s;      /* 0 = default 20 */
  int stall_timeout_s;      /* 0 = default 60 */
  int slot_timeout_s;       /* 0 = default 30; < 0 = off */
  int reconcile_interval_s; /* 0 = off */
  int status_interval_s;    /* 0 = off */
  int insecure;             /* accept any TLS certificate (ws and RPC) */
  const char *record_dir;   /* NULL = off; else rpc.jsonl + ws.jsonl there */
  long exit_when_idle_ms;   /* 0 = off; else stop cleanly once no notification
                               arrived for that long and all is flushed */
  unsigned fetch_concurrency; /* getTransaction calls in flight; 0 = 32 */
  int sink_batch_delay_ms;  /* 0 = default 50 */
  struct ops *ops;          /* operations surface (ops.h), started by the
                               caller; NULL = none. live_run feeds every
                               metric family and the readiness facts, and
                               calls ops_tick once per loop turn and
                               ops_note_stopping when the stop begins. */
  const volatile int *stop_flag;  /* may be NULL */
  const volatile int *abort_flag; /* may be NULL */
} live_options_t;

/* Fills o with the defaults above (strings NULL, commitment "confirmed",
 * reconcile 600 s, status 30 s). */
void live_options_init(live_options_t *o);

typedef struct live_summary {
  uint64_t account_updates;    /* programNotifications applied */
  uint64_t logs_notifications; /* logsNotifications received */
  uint64_t transactions;       /* transactions fetched and ingested */
  uint64_t slot_notifications;
  uint64_t dead_letters;       /* ws messages and fetches dead-lettered here */
  uint64_t tx_missing;         /* signatures given up after null results */
  uint64_t fetch_retries;      /* getTransaction repeated after a null result */
  uint64_t reconnects;         /* websocket connections after the first */
  uint64_t gap_fills;          /* backfills run (start-up included) */
  uint64_t down_fills;         /* of those, run while the websocket was down */
  uint64_t reconciles;
  uint64_t checkpoint;         /* last checkpoint committed */
  uint64_t tip;                /* highest slot seen */
  uint64_t latency_samples;    /* account updates with a commit time */
  double latency_p50_ms, latency_p99_ms, latency_max_ms; /* notification
                                  received -> its batch committed */
  uint64_t updates_window_ms;  /* first account notification received -> last
                                  account update committed */
  uint64_t elapsed_ms;
  size_t queue_peak_bytes;
  char stop_reason[32];        /* "signal", "idle", "error" */
} live_summary_t;

/* Runs live sync until *stop_flag, exit_when_idle_ms of quiet, or a fatal
 * error (database schema missing, sink failure that is not a connection
 * loss, websocket setup failure). Returns 0 after a clean stop (summary
 * filled), or -1 with a message in err. sum may be NULL. */
int live_run(const live_options_t *o, live_summary_t *sum, char *err, size_t errsz);

/* The checkpoint after one step: never below cp; at most tip - margin; and
 * below min_outstanding (the lowest slot with a transaction fetch in
 * flight) when has_outstanding. */
uint64_t live_checkpoint_next(uint64_t cp, uint64_t tip, uint64_t margin, bool has_outstanding,
                              uint64_t min_outstanding);

#endif
