/* The fixture store the replay server (tools/replay/cbi-replay) and the
 * tests load: recorded RPC responses and websocket notifications of a
 * scenario directory (fixtures/README.md), matched against requests, plus
 * answers synthesized from the scenario's accounts.json / expected.json.
 * Recorded payloads are kept as raw (minified) text, literals byte-exact
 * (jsonraw.h); parsed documents are used only to match requests.
 * Not part of the daemon: built into build/libreplay.a. */
#ifndef CBI_REPLAY_STORE_H
#define CBI_REPLAY_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonraw.h"

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
                        jsonraw_span_t *inner);

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
