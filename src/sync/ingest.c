/* Ingest: RPC/websocket JSON -> decoder/txn -> sink (see ingest.h). */
#include "ingest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "cb_decoder.h"
#include "decoder.h"
#include "jsonx.h"
#include "log.h"

struct ingest {
  const cb_decoder_t *dec;
  sink_t *sink;
  char program_id[CB_PUBKEY_B58_MAX];
  ingest_stats_t st;
};

ingest_t *ingest_new(const cb_decoder_t *dec, const char *program_id, sink_t *sink) {
  if (!dec || !program_id || !sink || strlen(program_id) >= CB_PUBKEY_B58_MAX) return NULL;
  ingest_t *ing = calloc(1, sizeof *ing);
  if (!ing) return NULL;
  ing->dec = dec;
  ing->sink = sink;
  memcpy(ing->program_id, program_id, strlen(program_id) + 1);
  return ing;
}

void ingest_free(ingest_t *ing) { free(ing); }

const char *ingest_strerror(int code) {
  switch (code) {
    case INGEST_OK: return "ok";
    case INGEST_ERR_SINK: return "the sink failed (database unavailable or refusing writes)";
    case INGEST_ERR_STOPPED: return "stopped by request while the sink was retrying";
    case INGEST_ERR_NOMEM: return "out of memory";
    case INGEST_ERR_INVALID: return "invalid argument";
    default: return "unknown ingest error";
  }
}

static const char *const dl_names[INGEST_DL_COUNT] = {
    [INGEST_DL_ACCOUNT] = "account",
    [INGEST_DL_INSTRUCTION] = "instruction",
    [INGEST_DL_EVENT] = "event",
    [INGEST_DL_TX_PARSE] = "transaction-parse",
    [INGEST_DL_TX_MISSING] = "transaction-missing",
    [INGEST_DL_TX_FETCH] = "transaction-fetch",
    [INGEST_DL_WS_MESSAGE] = "ws-message",
    [INGEST_DL_WS_OVERSIZED] = "ws-oversized",
    [INGEST_DL_SLOT_RANGE] = "slot-range",
    [INGEST_DL_RECORD] = "record",
};

const char *ingest_dl_kind_name(ingest_dl_kind_t k) {
  return (unsigned)k < INGEST_DL_COUNT ? dl_names[k] : "?";
}

int ingest_slot_ok(uint64_t slot) { return slot <= INGEST_SLOT_MAX; }

/* A sink code as an ingest code (SINK_ERR_INVALID is handled by callers:
 * the record is bad, not the sink). */
static int from_sink(int rc) {
  if (rc >= 0) return INGEST_OK;
  if (rc == SINK_ERR_STOPPED) return INGEST_ERR_STOPPED;
  if (rc == SINK_ERR_NOMEM) return INGEST_ERR_NOMEM;
  if (rc == SINK_ERR_INVALID) return INGEST_ERR_INVALID;
  return INGEST_ERR_SINK;
}

void ingest_get_stats(const ingest_t *ing, ingest_stats_t *out) { *out = ing->st; }

const char *ingest_program_id(const ingest_t *ing) { return ing->program_id; }

/* ---- touched accounts --------------------------------------------------- */

static size_t key_hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (size_t)h;
}

static int touched_rehash(ingest_touched_t *t, size_t cap) {
  size_t *slots = calloc(cap, sizeof *slots);
  if (!slots) return -1;
  for (size_t i = 0; i < t->count; i++) {
    size_t h = key_hash(t->keys[i]) & (cap - 1);
    while (slots[h]) h = (h + 1) & (cap - 1);
    slots[h] = i + 1;
  }
  free(t->slots);
  t->slots = slots;
  t->slots_cap = cap;
  return 0;
}

int ingest_touched_add(ingest_touched_t *t, const char *pubkey) {
  size_t n = strlen(pubkey);
  if (n == 0 || n >= CB_PUBKEY_B58_MAX) return 0; /* not a pubkey: nothing to refresh */
  if ((t->count + 1) * 2 > t->slots_cap &&
      touched_rehash(t, t->slots_cap ? t->slots_cap * 2 : 64) != 0)
    return -1;
  size_t h = key_hash(pubkey) & (t->slots_cap - 1);
  for (; t->slots[h]; h = (h + 1) & (t->slots_cap - 1))
    if (strcmp(t->keys[t->slots[h] - 1], pubkey) == 0) return 0;
  if (t->count == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 32;
    void *p = realloc(t->keys, cap * sizeof *t->keys);
    if (!p) return -1;
    t->keys = p;
    t->cap = cap;
  }
  memcpy(t->keys[t->count], pubkey, n + 1);
  t->slots[h] = ++t->count;
  return 0;
}

void ingest_touched_free(ingest_touched_t *t) {
  if (!t) return;
  free(t->keys);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

/* ---- accounts ----------------------------------------------------------- */

static int put_dead(ingest_t *ing, ingest_dl_kind_t k, const char *key, uint64_t slot,
                    const char *reason, const uint8_t *raw, size_t rawlen) {
  if ((unsigned)k >= INGEST_DL_COUNT || !reason) return INGEST_ERR_INVALID;
  int rc = sink_put_dead_letter(ing->sink, dl_names[k], key, slot, reason, raw, rawlen);
  if (rc == SINK_ERR_INVALID) /* a key the sink cannot store: keep the rest */
    rc = sink_put_dead_letter(ing->sink, dl_names[k], NULL, slot, reason, raw, rawlen);
  if (rc == 0) {
    ing->st.dead_letters++;
    ing->st.dead_by_kind[k]++;
  }
  return from_sink(rc);
}

int ingest_dead_letter(ingest_t *ing, ingest_dl_kind_t k, const char *key, uint64_t slot,
                       const char *reason, const uint8_t *raw, size_t rawlen) {
  if (!ing || !reason) return INGEST_ERR_INVALID;
  log_warn("ingest", "dead letter kind=%s key=%s slot=%" PRIu64 ": %s",
           ingest_dl_kind_name(k), key && *key ? key : "-", slot, reason);
  return put_dead(ing, k, key, slot, reason, raw, rawlen);
}

/* A slot that cannot be stored: one slot-range dead letter. */
static int bad_slot(ingest_t *ing, const char *what, const char *key, uint64_t slot,
                    const uint8_t *raw, size_t rawlen) {
  char reason[160];
  snprintf(reason, sizeof reason, "%s at slot %" PRIu64 ": above the highest storable slot %" PRIu64,
           what, slot, INGEST_SLOT_MAX);
  return ingest_dead_letter(ing, INGEST_DL_SLOT_RANGE, key, slot, reason, raw, rawlen);
}

/* A record the sink refused as invalid (sink_last_error says why). */
static int refused(ingest_t *ing, const char *what, const char *key, uint64_t slot) {
  char reason[400];
  snprintf(reason, sizeof reason, "%s refused by the sink: %s", what, sink_last_error(ing->sink));
  return ingest_dead_letter(ing, INGEST_DL_RECORD, key, slot, reason, NULL, 0);
}

static int put_close(ingest_t *ing, const char *pubkey, uint64_t slot) {
  if (!ingest_slot_ok(slot)) return bad_slot(ing, "account close", pubkey, slot, NULL, 0);
  cb_account_t acc;
  memset(&acc, 0, sizeof acc);
  acc.kind = CB_ACCOUNT_UNKNOWN;
  snprintf(acc.pubkey, sizeof acc.pubkey, "%s", pubkey);
  acc.slot = slot;
  acc.closed = true;
  int rc = sink_put_account(ing->sink, &acc);
  if (rc == SINK_ERR_INVALID) return refused(ing, "account close", pubkey, slot);
  if (rc == 0) ing->st.accounts_closed++;
  return from_sink(rc);
}

static int pubkey_ok(const char *pubkey) {
  return pubkey && *pubkey && strlen(pubkey) < CB_PUBKEY_B58_MAX;
}

int ingest_account_closed(ingest_t *ing, const char *pubkey, uint64_t slot) {
  if (!ing || !pubkey) return INGEST_ERR_INVALID;
  if (!pubkey_ok(pubkey))
    return ingest_dead_letter(ing, INGEST_DL_ACCOUNT, NULL, slot,
                              "account close for a key that is not a pubkey",
                              (const uint8_t *)pubkey, strlen(pubkey));
  return put_close(ing, pubkey, slot);
}

int ingest_account_bytes(ingest_t *ing, const char *pubkey, const char *owner, uint64_t lamports,
                         const uint8_t *data, size_t len, uint64_t slot) {
  if (!ing || !pubkey) return INGEST_ERR_INVALID;
  if (!pubkey_ok(pubkey))
    return ingest_dead_letter(ing, INGEST_DL_ACCOUNT, NULL, slot, "account key is not a pubkey",
                              (const uint8_t *)pubkey, strlen(pubkey));
  if (!ingest_slot_ok(slot)) return bad_slot(ing, "account update", pubkey, slot, data, len);
  if (lamports == 0 || len == 0) return put_close(ing, pubkey, slot);
  if (!owner || strcmp(owner, ing->program_id) != 0) {
    ing->st.accounts_foreign++;
    log_debug("ingest", "skipping account pubkey=%s owner=%s slot=%" PRIu64
              ": not owned by the program", pubkey, owner ? owner : "(none)", slot);
    return 0;
  }
  cb_account_t acc;
  memset(&acc, 0, sizeof acc);
  decode_error_t derr;
  memset(&derr, 0, sizeof derr);
  int rc = cb_decode_account(ing->dec, data, len, &acc, &derr);
  if (rc != DECODE_OK) {
    char reason[512];
    decode_error_format(&derr, reason, sizeof reason);
    log_warn("ingest", "undecodable account pubkey=%s slot=%" PRIu64 " type=%s field=%s "
             "offset=%zu: %s (sent to dead_letters)", pubkey, slot,
             derr.type[0] ? derr.type : "?", derr.path[0] ? derr.path : "?", derr.offset, reason);
    return put_dead(ing, INGEST_DL_ACCOUNT, pubkey, slot, reason, data, len);
  }
  if (acc.spare_first)
    log_warn("ingest", "account pubkey=%s type=%s slot=%" PRIu64 " has %" PRIu32 " bytes after "
             "its layout, not all zero: decoded the layout and ignored them (allocated larger "
             "or grown by a program upgrade?); further %s accounts like this are only counted",
             pubkey, cb_account_kind_name(acc.kind), slot, acc.spare_bytes,
             cb_account_kind_name(acc.kind));
  snprintf(acc.pubkey, sizeof acc.pubkey, "%s", pubkey);
  acc.slot = slot;
  acc.lamports = lamports;
  acc.closed = false;
  rc = sink_put_account(ing->sink, &acc);
  if (rc == SINK_ERR_INVALID) return refused(ing, "account", pubkey, slot);
  if (rc == 0) ing->st.accounts++;
  return from_sink(rc);
}

int ingest_account_json(ingest_t *ing, const char *pubkey, const json_t *account, uint64_t slot) {
  if (!ing || !pubkey) return INGEST_ERR_INVALID;
  if (!pubkey_ok(pubkey))
    return ingest_dead_letter(ing, INGEST_DL_ACCOUNT, NULL, slot, "account key is not a pubkey",
                              (const uint8_t *)pubkey, strlen(pubkey));
  if (!account || json_is_null(account)) return put_close(ing, pubkey, slot);
  char reason[256];
  uint64_t lamports = 0;
  if (!json_is_object(account) || jsonx_get_u64(account, "lamports", &lamports) != 0) {
    snprintf(reason, sizeof reason, "account JSON has no valid lamports");
    goto bad_json;
  }
  const char *owner = jsonx_get_str(account, "owner");
  const json_t *data = json_object_get(account, "data");
  const char *b64 = NULL, *enc = NULL;
  if (json_is_array(data) && json_array_size(data) == 2) {
    b64 = json_string_value(json_array_get(data, 0));
    enc = json_string_value(json_array_get(data, 1));
  }
  if (!b64 || !enc) {
    if (lamports == 0) return put_close(ing, pubkey, slot);
    snprintf(reason, sizeof reason, "account data is not [\"<data>\", \"<encoding>\"]");
    goto bad_json;
  }
  if (strcmp(enc, "base64") != 0) {
    if (lamports == 0) return put_close(ing, pubkey, slot);
    snprintf(reason, sizeof reason, "unsupported account data encoding '%.32s'", enc);
    goto bad_json;
  }
  uint8_t *bytes = NULL;
  size_t len = 0;
  if (!ingest_slot_ok(slot)) {
    char *text = json_dumps(account, JSON_COMPACT | JSON_ENCODE_ANY);
    int drc = bad_slot(ing, "account update", pubkey, slot, (const uint8_t *)text,
                       text ? strlen(text) : 0);
    free(text);
    return drc;
  }
  if (b64_decode(b64, strlen(b64), &bytes, &len) != 0) {
    snprintf(reason, sizeof reason, "account data is not valid base64");
    goto bad_json;
  }
  int rc = ingest_account_bytes(ing, pubkey, owner, lamports, bytes, len, slot);
  free(bytes);
  return rc;

bad_json:;
  /* Keep the offending JSON as the raw bytes. */
  char *text = json_dumps(account, JSON_COMPACT | JSON_ENCODE_ANY);
  log_warn("ingest", "unusable account JSON pubkey=%s slot=%" PRIu64 ": %s (sent to dead_letters)",
           pubkey, slot, reason);
  int drc = put_dead(ing, INGEST_DL_ACCOUNT, pubkey, slot, reason, (const uint8_t *)text,
                     text ? strlen(text) : 0);
  free(text);
  return drc;
}

/* ---- transactions ------------------------------------------------------- */

static uint64_t json_slot_of(const json_t *tx_result, const txn_block_t *block) {
  uint64_t slot = 0;
  if (block) return block->slot;
  if (jsonx_get_u64(tx_result, "slot", &slot) != 0) slot = 0;
  return slot;
}

/* First signature of a transaction JSON in json/jsonParsed encoding, or NULL. */
static const char *json_first_signature(const json_t *tx_result) {
  const json_t *t = json_object_get(tx_result, "transaction");
  const json_t *sigs = json_object_get(t, "signatures");
  const char *s = json_string_value(json_array_get(sigs, 0));
  return (s && strlen(s) < CB_SIGNATURE_B58_MAX) ? s : NULL;
}

/* Marks the accounts the transaction closed (a program account emptied
 * to 0 lamports) closed at its slot, in the same batch as its rows. */
static int put_closes(ingest_t *ing, const txn_t *tx) {
  const char *keys[32];
  size_t n = txn_closed_accounts(tx, ing->program_id, keys, 32);
  const char **v = keys;
  const char **big = NULL;
  if (n > 32) { /* rare: many accounts closed by one transaction */
    big = malloc(n * sizeof *big);
    if (!big) return INGEST_ERR_NOMEM;
    n = txn_closed_accounts(tx, ing->program_id, big, n);
    v = big;
  }
  int rc = INGEST_OK;
  for (size_t i = 0; i < n && rc == INGEST_OK; i++) {
    log_debug("ingest", "account closed by transaction pubkey=%s signature=%s slot=%" PRIu64,
              v[i], tx->signature, tx->slot);
    rc = put_close(ing, v[i], tx->slot);
  }
  free(big);
  return rc;
}

/* The decode issues of one transaction: dead letters (or warnings). */
static int put_issues(ingest_t *ing, const txn_t *tx, const txn_issues_t *issues) {
  for (size_t i = 0; i < issues->count; i++) {
    const txn_issue_t *is = &issues->items[i];
    if (!txn_issue_is_dead_letter(is->kind)) {
      log_warn("ingest", "transaction signature=%s slot=%" PRIu64 " instruction=%" PRIu32 ": %s",
               tx->signature, tx->slot, is->instruction_index, is->message);
      continue;
    }
    ingest_dl_kind_t k =
        is->kind == TXN_ISSUE_INSTRUCTION_DECODE ? INGEST_DL_INSTRUCTION : INGEST_DL_EVENT;
    char derr[384], reason[700];
    if (is->err.code != 0) decode_error_format(&is->err, derr, sizeof derr);
    else derr[0] = '\0';
    /* The issue's message usually embeds the decoder's text already. */
    bool add = derr[0] && !strstr(is->message, derr);
    int n = snprintf(reason, sizeof reason, "%s%s%s", is->message, add ? ": " : "",
                     add ? derr : "");
    if (n < 0) reason[0] = '\0';
    log_warn("ingest", "undecodable %s signature=%s slot=%" PRIu64 " type=%s field=%s "
             "offset=%zu: %s (sent to dead_letters)", dl_names[k], tx->signature, tx->slot,
             is->err.type[0] ? is->err.type : "?", is->err.path[0] ? is->err.path : "?",
             is->err.offset, reason);
    int rc = put_dead(ing, k, tx->signature[0] ? tx->signature : NULL, tx->slot, reason, is->data,
                      is->len);
    if (rc != 0) return rc;
  }
  return INGEST_OK;
}

int ingest_transaction(ingest_t *ing, const txn_t *tx, ingest_touched_t *touched) {
  if (!ing || !tx) return INGEST_ERR_INVALID;
  if (!ingest_slot_ok(tx->slot))
    return bad_slot(ing, "transaction", tx->signature[0] ? tx->signature : NULL, tx->slot, NULL, 0);
  txn_rows_t rows;
  txn_issues_t issues;
  memset(&rows, 0, sizeof rows);
  memset(&issues, 0, sizeof issues);
  int ret = 0;
  int rc = txn_extract(ing->dec, tx, ing->program_id, &rows, &issues);
  if (rc != TXN_OK) {
    ret = INGEST_ERR_NOMEM;
    goto out;
  }
  ing->st.transactions++;
  if ((ret = put_issues(ing, tx, &issues)) != 0) goto out;
  size_t queued = 0;
  for (size_t i = 0; i < rows.count; i++) {
    rc = sink_put_tx(ing->sink, &rows.rows[i]);
    if (rc == SINK_ERR_INVALID) {
      if ((ret = refused(ing, "transactions row", tx->signature, tx->slot)) != 0) goto out;
      continue;
    }
    if ((ret = from_sink(rc)) != 0) goto out;
    ing->st.rows++;
    queued++;
  }
  if ((ret = put_closes(ing, tx)) != 0) goto out;
  if (touched)
    for (size_t i = 0; i < rows.n_accounts; i++)
      if (ingest_touched_add(touched, rows.accounts[i]) != 0) {
        ret = INGEST_ERR_NOMEM;
        goto out;
      }
  ret = (int)queued;
out:
  txn_rows_free(&rows);
  txn_issues_free(&issues);
  return ret;
}

int ingest_transaction_json(ingest_t *ing, const json_t *tx_result, const txn_block_t *block,
                            ingest_touched_t *touched) {
  if (!ing || !tx_result) return INGEST_ERR_INVALID;
  txn_t *tx = NULL;
  char err[256];
  err[0] = '\0';
  int rc = txn_parse(tx_result, block, &tx, err, sizeof err);
  if (rc == TXN_ERR_NOMEM) return INGEST_ERR_NOMEM;
  if (rc != TXN_OK) {
    uint64_t slot = json_slot_of(tx_result, block);
    const char *sig = json_first_signature(tx_result);
    char reason[400];
    int n = snprintf(reason, sizeof reason, "transaction does not parse: %s: %s",
                     txn_strerror(rc), err);
    if (n < 0) reason[0] = '\0';
    log_warn("ingest", "unparseable transaction signature=%s slot=%" PRIu64 ": %s "
             "(sent to dead_letters)", sig ? sig : "?", slot, reason);
    char *text = json_dumps(tx_result, JSON_COMPACT | JSON_ENCODE_ANY);
    ing->st.transactions++;
    int drc = put_dead(ing, INGEST_DL_TX_PARSE, sig, slot, reason, (const uint8_t *)text,
                       text ? strlen(text) : 0);
    free(text);
    return drc;
  }
  int ret = ingest_transaction(ing, tx, touched);
  txn_free(tx);
  return ret;
}
