/* Crypto Bet rows from a normalized transaction (txn_extract). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  for (size_t i = 0; i < issues->count; i++) free(issues->items[i].data);
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
  int n = vsnprintf(it->message, sizeof it->message, fmt, ap);
  va_end(ap);
  if (n < 0) it->message[0] = '\0';
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

int txn_extract(const cb_decoder_t *decoder, const txn_t *tx, const char *program_id,
                txn_rows_t *out, txn_issues_t *issues) {
  int rc = TXN_OK;
  owned_event_t *evs = NULL;
  size_t n_evs = 0;
  cb_instruction_t *dec = NULL; /* per flattened ix */
  bool *is_row = NULL;
  uint32_t *map = NULL, *depth = NULL;
  size_t n_inv = 0;
  log_events_t le;
  bool have_le = false;
  memset(&le, 0, sizeof le);
  memset(out, 0, sizeof *out);
  if (issues) memset(issues, 0, sizeof *issues);

  size_t n = tx->n_ix;
  dec = calloc(n ? n : 1, sizeof *dec);
  is_row = calloc(n ? n : 1, sizeof *is_row);
  if (!dec || !is_row) {
    rc = TXN_ERR_NOMEM;
    goto out;
  }

  /* 1. our instructions: rows, and events from emit_cpi self-invocations */
  for (size_t i = 0; i < n; i++) {
    const txn_ix_t *x = &tx->ix[i];
    if (strcmp(x->program_id, program_id) != 0) continue;
    if (!x->has_data || !x->has_accounts) continue; /* parsed by the node: not ours to decode */
    decode_error_t derr;
    memset(&derr, 0, sizeof derr);
    if (is_emit_cpi(x)) {
      cb_event_t ev;
      if (cb_decode_event(decoder, x->data + 8, x->data_len - 8, &ev, &derr) != DECODE_OK) {
        char m[200];
        if ((rc = issue_add(issues, TXN_ISSUE_EVENT_DECODE, x->index, &derr, x->data + 8,
                            x->data_len - 8, "emit_cpi event at instruction %u: %s", x->index,
                            decode_error_format(&derr, m, sizeof m))) != 0)
          goto out;
        continue;
      }
      /* the emitter: nearest preceding instruction of ours, in the same
       * top-level group, with a smaller stack height */
      uint32_t owner = UINT32_MAX;
      for (size_t j = i; j-- > 0;) {
        const txn_ix_t *y = &tx->ix[j];
        if (y->top_index != x->top_index) break;
        if (y->stack_height < x->stack_height && strcmp(y->program_id, program_id) == 0 &&
            !is_emit_cpi(y)) {
          owner = y->index;
          break;
        }
      }
      if (owner == UINT32_MAX) {
        if ((rc = issue_add(issues, TXN_ISSUE_EVENT_UNMATCHED, x->index, NULL, x->data + 8,
                            x->data_len - 8,
                            "emit_cpi %s event at instruction %u has no emitting instruction",
                            event_name(ev.kind), x->index)) != 0)
          goto out;
        continue;
      }
      if ((rc = events_push(&evs, &n_evs, owner, &ev)) != 0) goto out;
      continue;
    }
    if (cb_decode_instruction(decoder, x->data, x->data_len, x->accounts, x->n_accounts, &dec[i],
                              &derr) != DECODE_OK) {
      char m[200];
      if ((rc = issue_add(issues, TXN_ISSUE_INSTRUCTION_DECODE, x->index, &derr, x->data,
                          x->data_len, "instruction %u: %s", x->index,
                          decode_error_format(&derr, m, sizeof m))) != 0)
        goto out;
      continue;
    }
    is_row[i] = true;
    out->count++;
  }

  /* 2. events from "Program data:" log lines, attributed by invocation */
  if (tx->has_logs && tx->n_logs) {
    if (log_events_scan(tx->logs, tx->n_logs, program_id, &le) != 0) {
      rc = TXN_ERR_NOMEM;
      goto out;
    }
    have_le = true;
    if ((rc = txn_invoke_map(tx, &map, &depth, &n_inv)) != 0) goto out;
    if (le.bad_lines) {
      decode_error_t derr;
      memset(&derr, 0, sizeof derr);
      derr.code = DECODE_ERR_BASE64;
      snprintf(derr.detail, sizeof derr.detail, "Program data line is not base64");
      if ((rc = issue_add(issues, TXN_ISSUE_EVENT_DECODE, 0, &derr, NULL, 0,
                          "%zu Program data line(s) of the program did not decode as base64",
                          le.bad_lines)) != 0)
        goto out;
    }
    for (size_t e = 0; e < le.count; e++) {
      const log_event_t *l = &le.items[e];
      uint32_t owner = l->invocation < n_inv ? map[l->invocation] : UINT32_MAX;
      if (owner != UINT32_MAX && strcmp(tx->ix[owner].program_id, program_id) != 0)
        owner = UINT32_MAX;
      cb_event_t ev;
      decode_error_t derr;
      memset(&derr, 0, sizeof derr);
      if (cb_decode_event(decoder, l->data, l->len, &ev, &derr) != DECODE_OK) {
        char m[200];
        if ((rc = issue_add(issues, TXN_ISSUE_EVENT_DECODE,
                            owner != UINT32_MAX ? owner : 0, &derr, l->data, l->len,
                            "log event of invocation %u: %s", l->invocation,
                            decode_error_format(&derr, m, sizeof m))) != 0)
          goto out;
        continue;
      }
      if (owner == UINT32_MAX) {
        if ((rc = issue_add(issues, TXN_ISSUE_EVENT_UNMATCHED, 0, NULL, l->data, l->len,
                            "%s event of log invocation %u matches no instruction of the program",
                            event_name(ev.kind), l->invocation)) != 0)
          goto out;
        continue;
      }
      if ((rc = events_push(&evs, &n_evs, owner, &ev)) != 0) goto out;
    }
  }

  /* 3. rows */
  if (out->count) {
    out->rows = calloc(out->count, sizeof *out->rows);
    if (!out->rows) {
      rc = TXN_ERR_NOMEM;
      goto out;
    }
  }
  size_t r = 0;
  for (size_t i = 0; i < n; i++) {
    if (!is_row[i]) continue;
    const cb_instruction_t *d = &dec[i];
    cb_tx_row_t *row = &out->rows[r++];
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
    int want = wanted_event(d->type);
    const cb_event_t *ev = NULL;
    for (size_t e = 0; want >= 0 && e < n_evs; e++)
      if (evs[e].owner == i && (int)evs[e].ev.kind == want) {
        ev = &evs[e].ev;
        break;
      }
    if (ev) {
      switch (d->type) {
      case CB_TX_CREATE_MARKET: row->amount = ev->creation_fee; break;
      case CB_TX_PLACE_BET:
        row->has_price = true;
        row->price = ev->price;
        row->platform_fee = ev->platform_fee;
        break;
      case CB_TX_CLAIM_WINNINGS:
      case CB_TX_CLAIM_REFUND: row->amount = ev->amount; break;
      default: break;
      }
    } else if (want >= 0 && !tx->failed) {
      if ((rc = issue_add(issues, TXN_ISSUE_EVENT_MISSING, (uint32_t)i, NULL, NULL, 0,
                          "%s instruction %zu: no %s event%s", cb_tx_type_name(d->type), i,
                          event_name((cb_event_kind_t)want),
                          !tx->has_logs        ? " (no logMessages)"
                          : (have_le && le.truncated) ? " (log truncated)"
                                                      : "")) != 0)
        goto out;
    }
    if (d->type == CB_TX_RESOLVE_MARKET && !tx->failed) {
      row->has_resolution = true;
      if (ev) {
        row->resolution_result = ev->result;
        row->resolved_at = ev->timestamp;
      } else {
        row->resolution_result = d->has_result ? d->result : false;
        row->resolved_at = tx->has_block_time ? tx->block_time : 0;
      }
    }
  }

  /* 4. writable non-signer accounts of our instructions (successful txs) */
  if (!tx->failed) {
    size_t cap = 0;
    for (size_t i = 0; i < n; i++)
      if (is_row[i]) cap += tx->ix[i].n_accounts;
    if (cap) {
      out->accounts = calloc(cap, sizeof *out->accounts);
      if (!out->accounts) {
        rc = TXN_ERR_NOMEM;
        goto out;
      }
    }
    for (size_t i = 0; i < n; i++) {
      if (!is_row[i]) continue;
      const txn_ix_t *x = &tx->ix[i];
      for (size_t a = 0; a < x->n_accounts; a++) {
        uint16_t k = x->account_idx[a];
        if (!tx->key_writable[k] || tx->key_signer[k]) continue;
        const char *key = tx->keys[k];
        if (strcmp(key, program_id) == 0) continue;
        bool dup = false;
        for (size_t j = 0; j < out->n_accounts && !dup; j++)
          dup = strcmp(out->accounts[j], key) == 0;
        if (!dup) copy_key(out->accounts[out->n_accounts++], key);
      }
    }
  }

out:
  free(dec);
  free(is_row);
  free(evs);
  free(map);
  free(depth);
  if (have_le) log_events_free(&le);
  if (rc != TXN_OK) {
    txn_rows_free(out);
    txn_issues_free(issues);
  }
  return rc;
}
