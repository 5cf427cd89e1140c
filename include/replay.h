/* Recorded RPC/websocket traffic in the fixture format (fixtures/README.md):
 * raw JSON scanning that keeps literals byte-exact, the recorder that
 * appends rpc.jsonl / ws.jsonl, and the store the replay server (and tests)
 * load and match requests against.
 *
 * Why raw text: jsonx_loads() turns integers above INT64_MAX into JSON
 * strings, so re-serialising a parsed document would change the wire format
 * ("rentEpoch":18446744073709551615 would become a string). Recorded and
 * served payloads are therefore copied as raw (minified) text, and parsed
 * documents are used only to match requests. */
#ifndef CBI_REPLAY_H
#define CBI_REPLAY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Raw JSON scanning ------------------------------------------------ */

typedef struct replay_span {
  const char *ptr; /* borrowed */
  size_t len;
} replay_span_t;

/* Iterates the members of a JSON object or the elements of a JSON array
 * given as raw text. The text is assumed to be valid JSON (parse it first);
 * malformed text yields -1, never an out-of-bounds read. */
typedef struct replay_raw_iter {
  const char *s;
  size_t len, pos;
  char close; /* '}' or ']' */
  int count;
} replay_raw_iter_t;

/* Positions it on the first member of the object/array that starts (after
 * whitespace) at s. Returns 0, or -1 if s is not an object or array. */
int replay_raw_iter_init(replay_raw_iter_t *it, const char *s, size_t len);

/* Next member: for objects *key is the key's raw text without the quotes
 * (escapes not decoded), for arrays key->ptr = NULL. *val is the raw value
 * text. Returns 1, 0 at the end, -1 if malformed. key may be NULL. */
int replay_raw_iter_next(replay_raw_iter_t *it, replay_span_t *key, replay_span_t *val);

/* Finds member key (plain ASCII, compared with the raw key text) of the
 * object at s. Returns 1 and *val, 0 if absent, -1 if malformed. */
int replay_raw_member(const char *s, size_t len, const char *key, replay_span_t *val);

/* Copies s without whitespace outside strings into out (capacity >= len).
 * Returns the output length. */
size_t replay_raw_minify(const char *s, size_t len, char *out);

/* ---- Recorder ---------------------------------------------------------- */

typedef struct replay_recorder replay_recorder_t;

/* Opens a recorder on dir (created if missing, parents must exist). Files
 * are opened on first use in append mode. Each record is one line written
 * with a single write(2) under a mutex: safe from several threads.
 * Returns NULL with a message in err on failure. */
replay_recorder_t *replay_recorder_open(const char *dir, char *err, size_t errsz);

/* Closes the files and frees. NULL is a no-op. */
void replay_recorder_close(replay_recorder_t *r);

/* Appends {"request":{"method":M,"params":P},"response":{"<kind>":<raw>}}
 * to rpc.jsonl. params is borrowed (NULL = omitted); kind is "result" or
 * "error"; raw is the value's raw JSON text as received (minified here).
 * Returns 0 or -1 (I/O error; logged once). */
int replay_recorder_rpc(replay_recorder_t *r, const char *method, const json_t *params,
                        const char *kind, const char *raw, size_t raw_len);

/* Marks "now" as time 0 of ws.jsonl (the first subscription). If never
 * called, time 0 is the first ws record. */
void replay_recorder_ws_start(replay_recorder_t *r);

/* Appends a notification received on a websocket, as the raw message text
 * ({"jsonrpc":"2.0","method":M,"params":{"result":...,"subscription":N}}),
 * to ws.jsonl as {"at_ms":T,"method":M,"params":{"result":...}}: literals
 * stay byte-exact, the subscription id is dropped. at_ms < 0 = now relative
 * to time 0. Returns 0, 1 if the message is not a notification (nothing
 * written), -1 on I/O error or malformed text. */
int replay_recorder_ws_raw(replay_recorder_t *r, long at_ms, const char *msg, size_t len);

/* Same from parsed values: params is borrowed, its "subscription" member is
 * dropped. Values that jsonx_loads() turned into digit strings are written
 * as strings: prefer replay_recorder_ws_raw() for exact wire fidelity. */
int replay_recorder_ws(replay_recorder_t *r, long at_ms, const char *method, const json_t *params);

/* One-shot: opens dir, appends one notification (as replay_recorder_ws),
 * closes. Returns 0 or -1. */
int replay_record_ws(const char *dir, long at_ms, const char *method, json_t *params);

/* ---- Store (what the replay server serves) ----------------------------- */

typedef struct replay_store replay_store_t;

typedef struct replay_ws_note {
  int64_t at_ms;
  char *method;       /* "programNotification", ... */
  char *params_inner; /* raw members of "params" without "subscription", minified,
                         without the braces (may be empty) */
  size_t params_inner_len;
} replay_ws_note_t;

/* Loads dir/rpc.jsonl and dir/ws.jsonl (each optional; a missing file is
 * empty, a missing dir is an error). Empty lines are skipped. Returns NULL with "file:line: reason" in
 * err on a malformed line. */
replay_store_t *replay_store_load(const char *dir, char *err, size_t errsz);

void replay_store_free(replay_store_t *s);

/* Matches method + params (JSON-equal: same values, any key order; absent
 * params equal []). When several recordings match, they are served in file
 * order, the last one repeating. On a match returns 1 and *inner = the raw
 * members of the recorded response object without braces (e.g.
 * "\"result\":{...}"), borrowed from the store; 0 if nothing matches. */
int replay_store_lookup(replay_store_t *s, const char *method, const json_t *params,
                        replay_span_t *inner);

size_t replay_store_rpc_count(const replay_store_t *s);
size_t replay_store_ws_count(const replay_store_t *s);
/* i < replay_store_ws_count(); borrowed. Notifications are kept in file order. */
const replay_ws_note_t *replay_store_ws_note(const replay_store_t *s, size_t i);

/* ---- Synthesized answers ------------------------------------------------- */

/* replay_store_load() also reads, when present, DIR/accounts.json (pubkey ->
 * {lamports, owner, data (base64), space, executable, rentEpoch, slot}) and
 * the "meta" member of DIR/expected.json (account_read_slot,
 * produced_slots). A malformed file or a value of the wrong type fails the
 * load with "path: reason".
 *
 * replay_store_synth() answers, from that data, a request that has no
 * recording (the caller tries replay_store_lookup() first), as a node would:
 *  - getMultipleAccounts [[keys], cfg], getAccountInfo [key, cfg],
 *    getProgramAccounts [program, cfg] (memcmp and dataSize filters,
 *    withContext, dataSlice, minContextSlot) from accounts.json, with context
 *    {"apiVersion":"2.0.15","slot":meta.account_read_slot, else the largest
 *    account slot}; only encoding "base64" is served;
 *  - getBlocks [start, end?, cfg] from meta.produced_slots (end capped at
 *    the last produced slot; a wider range than 500000 is refused).
 * Invalid requests get the node's -32602 errors.
 *
 * Returns 1 with *out = a new NUL-terminated string (caller frees) holding
 * the members of the response object without braces, as
 * replay_store_lookup() gives them ("\"result\":..." or "\"error\":{...}"),
 * and *out_len its length; 0 if the method is none of these or the scenario
 * lacks its source file (nothing allocated); -1 out of memory. */
int replay_store_synth(const replay_store_t *s, const char *method, const json_t *params,
                       char **out, size_t *out_len);

/* Accounts loaded from accounts.json (0 without the file). */
size_t replay_store_account_count(const replay_store_t *s);
/* Slots in expected.json meta.produced_slots (0 without them). */
size_t replay_store_produced_slot_count(const replay_store_t *s);

#endif
