/* Recorder: appends the RPC and websocket traffic a run receives to
 * DIR/rpc.jsonl and DIR/ws.jsonl in the fixture format (fixtures/README.md),
 * so a recorded run can be replayed by tools/replay/cbi-replay. Payloads
 * are copied as raw (minified) text, literals byte-exact (jsonraw.h).
 * Errors: 0 or -1; I/O failures are logged once per recorder. */
#ifndef CBI_RECORDER_H
#define CBI_RECORDER_H

#include <jansson.h>
#include <stddef.h>

typedef struct recorder recorder_t;

/* Opens a recorder on dir (created if missing, parents must exist). Files
 * are opened on first use in append mode. Each record is one line written
 * with a single write(2) under a mutex: safe from several threads.
 * Returns NULL with a message in err on failure. */
recorder_t *recorder_open(const char *dir, char *err, size_t errsz);

/* Closes the files and frees. NULL is a no-op. */
void recorder_close(recorder_t *r);

/* Appends {"request":{"method":M,"params":P},"response":{"<kind>":<raw>}}
 * to rpc.jsonl. params is borrowed (NULL = omitted); kind is "result" or
 * "error"; raw is the value's raw JSON text as received (minified here).
 * Returns 0 or -1 (I/O error; logged once). */
int recorder_rpc(recorder_t *r, const char *method, const json_t *params,
                        const char *kind, const char *raw, size_t raw_len);

/* Marks "now" as time 0 of ws.jsonl (the first subscription). If never
 * called, time 0 is the first ws record. */
void recorder_ws_start(recorder_t *r);

/* Appends a notification received on a websocket, as the raw message text
 * ({"jsonrpc":"2.0","method":M,"params":{"result":...,"subscription":N}}),
 * to ws.jsonl as {"at_ms":T,"method":M,"params":{"result":...}}: literals
 * stay byte-exact, the subscription id is dropped. at_ms < 0 = now relative
 * to time 0. Returns 0, 1 if the message is not a notification (nothing
 * written), -1 on I/O error or malformed text. */
int recorder_ws_raw(recorder_t *r, long at_ms, const char *msg, size_t len);

/* Same from parsed values: params is borrowed, its "subscription" member is
 * dropped. Values that jsonx_loads() turned into digit strings are written
 * as strings: prefer recorder_ws_raw() for exact wire fidelity. */
int recorder_ws(recorder_t *r, long at_ms, const char *method, const json_t *params);

/* One-shot: opens dir, appends one notification (as recorder_ws),
 * closes. Returns 0 or -1. */
int recorder_record_ws(const char *dir, long at_ms, const char *method, json_t *params);

#endif
