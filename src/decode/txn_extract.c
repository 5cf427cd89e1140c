/* Crypto Bet rows from a normalized transaction (txn_extract). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "txn.h"

/* ---- extraction -------------------------------------------------------- */

bool txn_issue_is_dead_letter(txn_issue_kind_t kind) {
  return kind == TXN_ISSUE_INSTRUCTION_DECODE || kind == TXN_ISSUE_EVENT_DECODE;
}

void txn_rows_free(txn_rows_t *rows) {
  if (!rows) return;
  free(rows->rows);
  free(rows->accounts);
  memset(rows, 0, sizeof *rows);
}

void txn_issues_free(txn_issues_t *issues) {
  if (!issues) return;
  for (size_t i = 0; i < issues->count; i++)
    free(issues->items[i].data);
  free(issues->items);
  memset(issues, 0, sizeof *issues);
}

static int issue_add(txn_issues_t *is, txn_issue_kind_t kind, uint32_t ix_index,
                     const decode_error_t *derr, const uint8_t *data, size_t len, const char *fmt,
                     ...) __attribute__((format(printf, 7, 8)));
static int issue_add(txn_issues_t *is, txn_issue_kind_t kind, uint32_t ix_index,
                     const decode_error_t *derr, const uint8_t *data, size_t len, const char *fmt,
                     ...) {
  if (!is) return TXN_OK;
  txn_issue_t *items = realloc(is->items, (is->count + 1) * sizeof *items);
  if (!items) return TXN_ERR_NOMEM;
  is->items = items;
  txn_issue_t *it = &items[is->count];
  memset(it, 0, sizeof *it);
  it->kind = kind;
  it->instruction_index = ix_index;
  if (derr) it->err = *derr;
  if (data && len) {
    it->data = malloc(len);
    if (!it->data) return TXN_ERR_NOMEM;
    memcpy(it->data, data, len);
    it->len = len;
  }
  va_list ap;
  va_start(ap, fmt);
  log_vset_err(it->message, sizeof it->message, fmt, ap);
  va_end(ap);
  is->count++;
  return TXN_OK;
}

typedef struct owned_event {
  uint32_t owner; /* flattened index of the instruction it belongs to */
  cb_event_t ev;
} owned_event_t;

static bool is_emit_cpi(const txn_ix_t *x) {
  return x->has_data && x->data_len >= 8 && memcmp(x->data, CB_EMIT_CPI_TAG, 8) == 0;
}

static const char *event_name(cb_event_kind_t k) {
  switch (k) {
  case CB_EVENT_MARKET_CREATED: return "MarketCreated";
  case CB_EVENT_BET_PLACED: return "BetPlaced";
  case CB_EVENT_WINNINGS_CLAIMED: return "WinningsClaimed";
  case CB_EVENT_REFUND_CLAIMED: return "RefundClaimed";
  case CB_EVENT_MARKET_RESOLVED: return "MarketResolved";
  case CB_EVENT_MARKET_CANCELLED: return "MarketCancelled";
  }
  return "?";
}

/* The event whose values a row of this type takes, or -1. */
static int wanted_event(cb_tx_type_t t) {
  switch (t) {
  case CB_TX_CREATE_MARKET: return CB_EVENT_MARKET_CREATED;
  case CB_TX_PLACE_BET: return CB_EVENT_BET_PLACED;
  case CB_TX_CLAIM_WINNINGS: return CB_EVENT_WINNINGS_CLAIMED;
  case CB_TX_CLAIM_REFUND: return CB_EVENT_REFUND_CLAIMED;
  case CB_TX_RESOLVE_MARKET: return CB_EVENT_MARKET_RESOLVED;
  default: return -1;
  }
}

static int events_push(owned_event_t **evs, size_t *n, uint32_t owner, const cb_event_t *ev) {
  owned_event_t *p = realloc(*evs, (*n + 1) * sizeof *p);
  if (!p) return TXN_ERR_NOMEM;
  *evs = p;
  p[*n].owner = owner;
  p[*n].ev = *ev;
  (*n)++;
  return TXN_OK;
}

static void copy_key(char dst[CB_PUBKEY_B58_MAX], const char *src) {
  size_t n = strnlen(src, CB_PUBKEY_B58_MAX - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* Extraction state: the phases below fill it in order. */
typedef struct extract {
  const cb_decoder_t *decoder;
  const txn_t *tx;
  const char *program_id;
  txn_rows_t *out;
  txn_issues_t *issues;
  owned_event_t *evs; /* events attributed to instructions of ours */
  size_t n_evs;
  cb_instruction_t *dec; /* per flattened instruction */
  bool *is_row;
  uint32_t *map, *depth; /* txn_invoke_map */
  size_t n_inv;
  log_events_t le;
  bool have_le;
} extract_t;

/* emit_cpi self-invocation i: its event, owned by the nearest preceding
 * instruction of ours in the same top-level group with a smaller stack
 * height. */
static int emit_cpi_event(extract_t *x, size_t i) {
  const txn_ix_t *ix = &x->tx->ix[i];
  decode_error_t derr;
  memset(&derr, 0, sizeof derr);
  cb_event_t ev;
  if (cb_decode_event(x->decoder, ix->data + 8, ix->data_len - 8, &ev, &derr) != DECODE_OK) {
    char m[200];
    return issue_add(x->issues, TXN_ISSUE_EVENT_DECODE, ix->index, &derr, ix->data + 8,
                     ix->data_len - 8, "emit_cpi event at instruction %u: %s", ix->index,
                     decode_error_format(&derr, m, sizeof m));
  }
  uint32_t owner = UINT32_MAX;
  for (size_t j = i; j-- > 0;) {
    const txn_ix_t *y = &x->tx->ix[j];
    if (y->top_index != ix->top_index) break;
    if (y->stack_height < ix->stack_height && strcmp(y->program_id, x->program_id) == 0 &&
        !is_emit_cpi(y)) {
      owner = y->index;
      break;
    }
  }
  if (owner == UINT32_MAX)
    return issue_add(x->issues, TXN_ISSUE_EVENT_UNMATCHED, ix->index, NULL, ix->data + 8,
                     ix->data_len - 8,
                     "emit_cpi %s event at instruction %u has no emitting instruction",
                     event_name(ev.kind), ix->index);
  return events_push(&x->evs, &x->n_evs, owner, &ev);
}

/* Phase 1: our instructions become rows (decoded) or, for emit_cpi
 * self-invocations, events. */
static int decode_instructions(extract_t *x) {
  for (size_t i = 0; i < x->tx->n_ix; i++) {
    const txn_ix_t *ix = &x->tx->ix[i];
    if (strcmp(ix->program_id, x->program_id) != 0) continue;
    if (!ix->has_data || !ix->has_accounts) continue; /* parsed by the node: not ours to decode */
    int rc;
    if (is_emit_cpi(ix)) {
      if ((rc = emit_cpi_event(x, i)) != 0) return rc;
      continue;
    }
    decode_error_t derr;
    memset(&derr, 0, sizeof derr);
    if (cb_decode_instruction(x->decoder, ix->data, ix->data_len, ix->accounts, ix->n_accounts,
                              &x->dec[i], &derr) != DECODE_OK) {
      char m[200];
      if ((rc = issue_add(x->issues, TXN_ISSUE_INSTRUCTION_DECODE, ix->index, &derr, ix->data,
                          ix->data_len, "instruction %u: %s", ix->index,
                          decode_error_format(&derr, m, sizeof m))) != 0)
        return rc;
      continue;
    }
    x->is_row[i] = true;
    x->out->count++;
  }
  return TXN_OK;
}

/* One "Program data:" payload of ours: decoded and attributed through the
 * invoke map. */
static int log_event(extract_t *x, const log_event_t *l) {
  uint32_t owner = l->invocation < x->n_inv ? x->map[l->invocation] : UINT32_MAX;
  if (owner != UINT32_MAX && strcmp(x->tx->ix[owner].program_id, x->program_id) != 0)
    owner = UINT32_MAX;
  cb_event_t ev;
  decode_error_t derr;
  memset(&derr, 0, sizeof derr);
  if (cb_decode_event(x->decoder, l->data, l->len, &ev, &derr) != DECODE_OK) {
    char m[200];
    return issue_add(x->issues, TXN_ISSUE_EVENT_DECODE, owner != UINT32_MAX ? owner : 0, &derr,
                     l->data, l->len, "log event of invocation %u: %s", l->invocation,
                     decode_error_format(&derr, m, sizeof m));
  }
  if (owner == UINT32_MAX)
    return issue_add(x->issues, TXN_ISSUE_EVENT_UNMATCHED, 0, NULL, l->data, l->len,
                     "%s event of log invocation %u matches no instruction of the program",
                     event_name(ev.kind), l->invocation);
  return events_push(&x->evs, &x->n_evs, owner, &ev);
}

/* Phase 2: events from "Program data:" log lines, attributed by invocation. */
static int scan_log_events(extract_t *x) {
  const txn_t *tx = x->tx;
  if (!tx->has_logs || !tx->n_logs) return TXN_OK;
  if (log_events_scan(tx->logs, tx->n_logs, x->program_id, &x->le) != 0) return TXN_ERR_NOMEM;
  x->have_le = true;
  int rc = txn_invoke_map(tx, &x->map, &x->depth, &x->n_inv);
  if (rc) return rc;
  if (x->le.bad_lines) {
    decode_error_t derr;
    memset(&derr, 0, sizeof derr);
    derr.code = DECODE_ERR_BASE64;
    snprintf(derr.detail, sizeof derr.detail, "Program data line is not base64");
    if ((rc = issue_add(x->issues, TXN_ISSUE_EVENT_DECODE, 0, &derr, NULL, 0,
                        "%zu Program data line(s) of the program did not decode as base64",
                        x->le.bad_lines)) != 0)
      return rc;
  }
  for (size_t e = 0; e < x->le.count; e++)
    if ((rc = log_event(x, &x->le.items[e])) != 0) return rc;
  return TXN_OK;
}

/* The row's fields from the instruction and the transaction. */
static void row_base(const extract_t *x, size_t i, cb_tx_row_t *row) {
  const txn_t *tx = x->tx;
  const cb_instruction_t *d = &x->dec[i];
  memcpy(row->signature, tx->signature, sizeof row->signature);
  row->instruction_index = (uint32_t)i;
  row->type = d->type;
  copy_key(row->market, d->market);
  copy_key(row->user, d->user);
  row->side = CB_SIDE_NONE;
  row->slot = tx->slot;
  row->has_block_time = tx->has_block_time;
  row->block_time = tx->block_time;
  row->has_block_height = tx->has_block_height;
  row->block_height = tx->block_height;
  row->fee = tx->fee;
  row->failed = tx->failed;
  memcpy(row->error_message, tx->error_message, sizeof row->error_message);
  if (d->type == CB_TX_PLACE_BET) {
    row->amount = d->amount;
    row->side = d->side;
  }
}

/* The row's fields from its event (ev may be NULL) and, for a resolution,
 * from the arguments and the block time without it. A failed transaction
 * was rolled back: its events describe nothing that happened, so its rows
 * take nothing from them and miss none. */
static int row_event(extract_t *x, size_t i, cb_tx_row_t *row) {
  const txn_t *tx = x->tx;
  const cb_instruction_t *d = &x->dec[i];
  int want = wanted_event(d->type);
  if (want < 0 || tx->failed) return TXN_OK;
  const cb_event_t *ev = NULL;
  for (size_t e = 0; e < x->n_evs && !ev; e++)
    if (x->evs[e].owner == i && (int)x->evs[e].ev.kind == want) ev = &x->evs[e].ev;
  if (ev) {
    switch (d->type) {
    case CB_TX_CREATE_MARKET: row->amount = ev->creation_fee; break;
    case CB_TX_PLACE_BET:
      row->has_price = true;
      row->price = ev->price;
      row->platform_fee = ev->platform_fee;
      row->has_pools = true;
      row->yes_pool = ev->yes_pool;
      row->no_pool = ev->no_pool;
      break;
    case CB_TX_CLAIM_WINNINGS:
    case CB_TX_CLAIM_REFUND: row->amount = ev->amount; break;
    default: break;
    }
  } else {
    int rc = issue_add(x->issues, TXN_ISSUE_EVENT_MISSING, (uint32_t)i, NULL, NULL, 0,
                       "%s instruction %zu: no %s event%s", cb_tx_type_name(d->type), i,
                       event_name((cb_event_kind_t)want),
                       !tx->has_logs                     ? " (no logMessages)"
                       : (x->have_le && x->le.truncated) ? " (log truncated)"
                                                         : "");
    if (rc) return rc;
  }
  if (d->type == CB_TX_RESOLVE_MARKET) {
    row->has_resolution = true;
    if (ev) {
      row->resolution_result = ev->result;
      row->resolved_at = ev->timestamp;
    } else {
      row->resolution_result = d->has_result ? d->result : false;
      row->resolved_at = tx->has_block_time ? tx->block_time : 0;
    }
  }
  return TXN_OK;
}

/* Phase 3: one row per decoded instruction of ours. */
static int build_rows(extract_t *x) {
  txn_rows_t *out = x->out;
  if (out->count) {
    out->rows = calloc(out->count, sizeof *out->rows);
    if (!out->rows) return TXN_ERR_NOMEM;
  }
  size_t r = 0;
  for (size_t i = 0; i < x->tx->n_ix; i++) {
    if (!x->is_row[i]) continue;
    cb_tx_row_t *row = &out->rows[r++];
    row_base(x, i, row);
    int rc = row_event(x, i, row);
    if (rc) return rc;
  }
  return TXN_OK;
}

/* Phase 4: writable non-signer accounts of our instructions (successful
 * transactions only). */
static int collect_accounts(extract_t *x) {
  const txn_t *tx = x->tx;
  txn_rows_t *out = x->out;
  if (tx->failed) return TXN_OK;
  size_t cap = 0;
  for (size_t i = 0; i < tx->n_ix; i++)
    if (x->is_row[i]) cap += tx->ix[i].n_accounts;
  if (cap) {
    out->accounts = calloc(cap, sizeof *out->accounts);
    if (!out->accounts) return TXN_ERR_NOMEM;
  }
  for (size_t i = 0; i < tx->n_ix; i++) {
    if (!x->is_row[i]) continue;
    const txn_ix_t *ix = &tx->ix[i];
    for (size_t a = 0; a < ix->n_accounts; a++) {
      uint16_t k = ix->account_idx[a];
      if (!tx->key_writable[k] || tx->key_signer[k]) continue;
      const char *key = tx->keys[k];
      if (strcmp(key, x->program_id) == 0) continue;
      bool dup = false;
      for (size_t j = 0; j < out->n_accounts && !dup; j++)
        dup = strcmp(out->accounts[j], key) == 0;
      if (!dup) copy_key(out->accounts[out->n_accounts++], key);
    }
  }
  return TXN_OK;
}

int txn_extract(const cb_decoder_t *decoder, const txn_t *tx, const char *program_id,
                txn_rows_t *out, txn_issues_t *issues) {
  int rc = TXN_OK;
  extract_t x;
  memset(&x, 0, sizeof x);
  memset(out, 0, sizeof *out);
  if (issues) memset(issues, 0, sizeof *issues);
  x.decoder = decoder;
  x.tx = tx;
  x.program_id = program_id;
  x.out = out;
  x.issues = issues;
  size_t n = tx->n_ix;
  x.dec = calloc(n ? n : 1, sizeof *x.dec);
  x.is_row = calloc(n ? n : 1, sizeof *x.is_row);
  if (!x.dec || !x.is_row) {
    rc = TXN_ERR_NOMEM;
    goto out;
  }
  if ((rc = decode_instructions(&x)) != 0) goto out;
  if ((rc = scan_log_events(&x)) != 0) goto out;
  if ((rc = build_rows(&x)) != 0) goto out;
  rc = collect_accounts(&x);
out:
  free(x.dec);
  free(x.is_row);
  free(x.evs);
  free(x.map);
  free(x.depth);
  if (x.have_le) log_events_free(&x.le);
  if (rc != TXN_OK) {
    txn_rows_free(out);
    txn_issues_free(issues);
  }
  return rc;
}
