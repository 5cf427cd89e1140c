/* Websocket message classification: what the live source checks before a
 * notification goes on to ingest. Pure (no I/O): the websocket thread's
 * bytes in, a kind and the fields out, or WSMSG_BAD with a reason naming
 * what is wrong and where (the message then becomes a dead letter with its
 * raw bytes). The rules are the codec's: utf8_valid, jsonx_u64_text (no
 * leading zeros), base58_text_ok (decodes to exactly 32 / 64 bytes). */
#ifndef CBI_WSMSG_H
#define CBI_WSMSG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  WSMSG_BAD = 0,   /* goes to dead_letters; reason says why */
  WSMSG_ACCOUNT,   /* programNotification */
  WSMSG_LOGS,      /* logsNotification */
  WSMSG_SLOT       /* slotNotification */
} wsmsg_kind_t;

typedef struct wsmsg {
  wsmsg_kind_t kind;
  uint64_t slot;          /* context slot, or the slot of a slotNotification */
  bool has_root;
  uint64_t root;          /* slotNotification root */
  const char *pubkey;     /* ACCOUNT; borrowed from doc */
  const json_t *account;  /* ACCOUNT: the account object or JSON null; borrowed */
  const char *signature;  /* LOGS; borrowed from doc */
  bool tx_failed;         /* LOGS: value.err is not null */
  json_t *doc;            /* the parsed message (owned; wsmsg_clear) */
  char reason[200];       /* BAD: why */
} wsmsg_t;

/* Classifies one websocket message (binary: it came in a binary frame).
 * Checks, in order: binary frame, NUL bytes, UTF-8 validity, JSON syntax,
 * notification shape per method. Returns the kind (also in out->kind). */
wsmsg_kind_t wsmsg_parse(const uint8_t *data, size_t len, int binary, wsmsg_t *out);

/* Releases out->doc. */
void wsmsg_clear(wsmsg_t *m);

/* The fields of a programNotification that ingest needs, found without
 * building a JSON tree (the hot path of live sync). */
typedef struct wsmsg_fast_account {
  uint64_t slot;
  uint64_t lamports;
  char pubkey[45];
  char owner[45];
  const char *b64; /* account data, base64, borrowed from the message */
  size_t b64_len;
} wsmsg_fast_account_t;

/* Recognises the exact shape {"jsonrpc":..,"method":"programNotification",
 * "params":{"result":{"context":{"slot":N,..},"value":{"pubkey":"..",
 * "account":{"data":["..","base64"],"lamports":N,"owner":"..",..}}},..}}
 * (any member order, whitespace allowed), with every object on the path
 * well-formed, plain digits for the numbers and escape-free strings.
 * Returns 1 and fills out, or 0 when the message must take the full parser
 * (wsmsg_parse), which also handles every malformed case. The
 * caller has checked NUL bytes and UTF-8. */
int wsmsg_fast_account(const uint8_t *data, size_t len, wsmsg_fast_account_t *out);

#endif
