/* The decoder: Solana bytes -> exact values. Pure: no I/O, no globals, no
 * allocation except the JSON values it returns. Strict: every malformed
 * input is an error value naming type, field path and byte offset.
 *
 * Two outputs: generic JSON for any account/instruction/event of any loaded
 * IDL (decode CLI, dead-letter context), and typed C records for the five
 * Crypto Bet accounts, its instructions and events (the sink's input). */
#ifndef CBI_DECODER_H
#define CBI_DECODER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cb_types.h"
#include "idl.h"

typedef enum {
  DECODE_OK = 0,
  DECODE_ERR_TRUNCATED = -1,     /* a field runs past the end of the data */
  DECODE_ERR_BOOL = -2,          /* bool byte not 0 or 1 */
  DECODE_ERR_ENUM = -3,          /* enum index past the last variant */
  DECODE_ERR_OPTION = -4,        /* option/coption tag not 0 or 1 */
  DECODE_ERR_UTF8 = -5,          /* string is not valid UTF-8 */
  DECODE_ERR_NUL = -6,           /* string contains a NUL byte */
  DECODE_ERR_DISCRIMINATOR = -7, /* no definition has this discriminator */
  DECODE_ERR_TRAILING = -8,      /* non-zero bytes after the layout */
  DECODE_ERR_LAYOUT = -9,        /* IDL layout does not match the typed record */
  DECODE_ERR_NOMEM = -10,
  DECODE_ERR_BASE64 = -11, /* a base64 payload does not decode */
  DECODE_ERR_LENGTH = -12  /* a length prefix is absurd (exceeds remaining data) */
} decode_code_t;

typedef struct decode_error {
  int code;        /* decode_code_t */
  char type[64];   /* definition name, e.g. "Market" */
  char path[128];  /* field path, e.g. "title" or "rewardInfos[2].mint" */
  size_t offset;   /* byte offset into the input where the problem is */
  char detail[128];
} decode_error_t;

/* Short static text for a code. */
const char *decode_strerror(int code);

/* "Market.title at byte 52: invalid UTF-8 (detail)" into buf. Returns buf. */
char *decode_error_format(const decode_error_t *err, char *buf, size_t bufsz);

/* ---- generic JSON decoding ------------------------------------------- */

/* Decodes a whole account (discriminator included) into a new JSON object
 * {"type": "<Name>", "value": {...}}. Integers wider than 53 bits, u64,
 * i64, u128 and i128 are JSON strings of their exact decimal value when
 * they do not fit json_int_t exactly (u64 > INT64_MAX, all 128-bit values
 * outside the int64 range) and JSON integers otherwise; pubkeys are base58
 * strings; enums are "Variant" for unit variants and {"Variant": payload}
 * otherwise; bytes are base64 strings; fixed arrays and vecs are arrays.
 * Zero bytes after the layout are allowed; non-zero ones are allowed too
 * when allow_trailing is true (real accounts carry reserved space).
 * Returns DECODE_OK and *out (caller owns) or a negative code with err set
 * and *out NULL. */
int decode_account_json(const idl_t *idl, const uint8_t *data, size_t len, bool allow_trailing,
                        json_t **out, decode_error_t *err);

/* Decodes instruction data (discriminator + args) into
 * {"type": "<name>", "value": {args...}, "accounts": {"<name>": "<b58>"}}.
 * account_keys (base58, in instruction order) may be NULL/0; extra keys
 * beyond the IDL's list appear under "remaining_accounts". Bytes after the
 * arguments are ignored, as the program's own deserializer ignores them. */
int decode_instruction_json(const idl_t *idl, const uint8_t *data, size_t len,
                            const char *const *account_keys, size_t n_keys, json_t **out,
                            decode_error_t *err);

/* Decodes event bytes (discriminator + fields) into {"type", "value"}. */
int decode_event_json(const idl_t *idl, const uint8_t *data, size_t len, json_t **out,
                      decode_error_t *err);

/* ---- typed Crypto Bet decoding ----------------------------------------- */

/* Identifies the account by discriminator and decodes one of the five
 * Crypto Bet accounts into out->kind and out->u (pubkey/slot/lamports/closed
 * are the caller's). cb_str_t fields borrow from data. Zero padding after
 * the layout is allowed; non-zero trailing bytes are DECODE_ERR_TRAILING.
 * The IDL must be the Crypto Bet IDL (or layout-compatible): any mismatch
 * between the IDL and cb_types.h is DECODE_ERR_LAYOUT, found at the first
 * call (and by cb_decoder_check_idl at start-up). */
int cb_decode_account(const idl_t *idl, const uint8_t *data, size_t len, cb_account_t *out,
                      decode_error_t *err);

/* Verifies at start-up that the IDL's five account layouts, eight
 * instructions and six events match the typed records. 0 or -1 + err. */
int cb_decoder_check_idl(const idl_t *idl, decode_error_t *err);

typedef struct cb_instruction {
  cb_tx_type_t type;
  /* Accounts by IDL role; empty string when the instruction has no such
   * account or the key list is short. */
  char market[CB_PUBKEY_B58_MAX];
  char position[CB_PUBKEY_B58_MAX];
  char user[CB_PUBKEY_B58_MAX];      /* signer: user / authority / resolver */
  char oracle_data[CB_PUBKEY_B58_MAX];
  char global_config[CB_PUBKEY_B58_MAX];
  /* Arguments that transactions rows use. */
  cb_side_t side;       /* place_bet */
  uint64_t amount;      /* place_bet */
  uint64_t market_id;   /* create_market */
  bool has_result;      /* resolve_market */
  bool result;
} cb_instruction_t;

/* Decodes a Crypto Bet instruction: data (discriminator + args) and its
 * account keys (base58, instruction order). Bytes after the arguments are
 * ignored (as by the program); unknown discriminator: DECODE_ERR_DISCRIMINATOR. */
int cb_decode_instruction(const idl_t *idl, const uint8_t *data, size_t len,
                          const char *const *account_keys, size_t n_keys, cb_instruction_t *out,
                          decode_error_t *err);

typedef enum {
  CB_EVENT_MARKET_CREATED = 0,
  CB_EVENT_BET_PLACED,
  CB_EVENT_WINNINGS_CLAIMED,
  CB_EVENT_REFUND_CLAIMED,
  CB_EVENT_MARKET_RESOLVED,
  CB_EVENT_MARKET_CANCELLED
} cb_event_kind_t;

typedef struct cb_event {
  cb_event_kind_t kind;
  cb_pubkey_t market;
  cb_pubkey_t position; /* bet/claims */
  cb_pubkey_t user;     /* bet/claims; authority for created/cancelled; resolver */
  uint64_t market_id;   /* created */
  cb_market_type_t market_type;
  uint64_t creation_fee;
  cb_side_t side;
  uint64_t amount;      /* bet amount, claimed amount */
  uint64_t platform_fee;
  uint64_t price;
  uint64_t yes_pool;
  uint64_t no_pool;
  bool result;          /* resolved */
  int64_t timestamp;
} cb_event_t;

/* Decodes event bytes (discriminator + fields) into a typed event. */
int cb_decode_event(const idl_t *idl, const uint8_t *data, size_t len, cb_event_t *out,
                    decode_error_t *err);

/* ---- logs -------------------------------------------------------------- */

/* The emit_cpi! tag: instruction data starting with these 8 bytes, sent by
 * the program to itself, carries an event (discriminator + fields) after. */
extern const uint8_t CB_EMIT_CPI_TAG[8];

/* emit_cpi! payload: when ix_data (an instruction's data, typically an
 * inner instruction the program sent to itself) starts with
 * CB_EMIT_CPI_TAG, returns a pointer into ix_data just after the tag (the
 * event's discriminator + fields, for decode_event_json / cb_decode_event)
 * and its length in *event_len. Otherwise returns NULL and *event_len = 0.
 * The caller still checks that the instruction's program is ours. */
const uint8_t *decode_emit_cpi_event(const uint8_t *ix_data, size_t len, size_t *event_len);

typedef struct log_event {
  uint8_t *data;     /* decoded bytes (owned by the log_events_t) */
  size_t len;
  uint32_t invocation; /* 0-based ordinal of the "invoke" line that emitted it
                        * = index in the flattened instruction list */
  uint32_t depth;      /* invoke depth [n] */
} log_event_t;

typedef struct log_events {
  log_event_t *items;
  size_t count;
  bool truncated; /* "Log truncated" seen: some Program data may be missing */
  size_t bad_lines; /* Program data lines of ours that did not decode */
} log_events_t;

/* Scans transaction log lines and collects the payloads of "Program data: "
 * lines (several space-separated base64 slices are concatenated) emitted
 * while program_id is the executing program, tracking the
 * "Program <id> invoke [n]" / "Program <id> success|failed" stack so that
 * another program cannot spoof ours. Returns 0, or DECODE_ERR_NOMEM.
 * Free with log_events_free. */
int log_events_scan(const char *const *lines, size_t n_lines, const char *program_id,
                    log_events_t *out);
void log_events_free(log_events_t *ev);

/* The runtime's invocation-stack lines: "Program <id> invoke [<n>]",
 * "Program <id> success" and "Program <id> failed: ..." (<id>: 32..44
 * base58 characters followed by a space). A program cannot print these: its
 * own output is prefixed ("Program log: ", "Program data: ", ...). */
typedef enum {
  LOG_EVENTS_LINE_OTHER = 0,
  LOG_EVENTS_LINE_INVOKE,
  LOG_EVENTS_LINE_SUCCESS,
  LOG_EVENTS_LINE_FAILED
} log_events_line_kind_t;

typedef struct log_events_line {
  log_events_line_kind_t kind;
  const char *id; /* borrowed from the line, id_len bytes, not NUL-terminated */
  size_t id_len;
  bool has_depth; /* invoke: <n> is 1 to 6 digits followed by ']' */
  uint32_t depth; /* invoke: <n> when has_depth, else 0 */
} log_events_line_t;

/* Classifies one log line (the single parser of these lines, shared by
 * log_events_scan and txn_invoke_map). Fills *out (kind OTHER, id NULL for
 * any other line, NULL included) and returns out->kind. */
log_events_line_kind_t log_events_parse_line(const char *line, log_events_line_t *out);

#endif
