/* Transactions from arbitrary JSON: jsonx_loads + txn_parse + txn_extract
 * (with the embedded Crypto Bet IDL) never crash or leak; a parsed
 * transaction is internally consistent (indexes inside the key list,
 * flattened order, top-level groups) and its rows and issues point at
 * instructions of the program.
 *
 * Input: one getTransaction "result" object or one element of getBlock's
 * "transactions" (json, base64 or jsonParsed encoding). The input's length
 * picks whether a block context is passed. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "jsonx.h"
#include "txn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROGRAM "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe"

static idl_t *g_idl;

static void check_str(const char *s, size_t cap) {
  if (!memchr(s, '\0', cap)) abort();
}

static void check_tx(const txn_t *tx) {
  uint8_t tmp[64];
  if (tx->n_static_keys > tx->n_keys || tx->n_keys > 512 || tx->n_top > tx->n_ix) abort();
  check_str(tx->signature, sizeof tx->signature);
  check_str(tx->error_message, sizeof tx->error_message);
  if (tx->n_signatures > 0 && strcmp(tx->signature, tx->signatures[0]) != 0) abort();
  for (size_t i = 0; i < tx->n_signatures; i++)
    if (base58_decode_64(tx->signatures[i], tmp) != 0) abort();
  for (size_t i = 0; i < tx->n_keys; i++)
    if (base58_decode_32(tx->keys[i], tmp) != 0) abort();
  if (tx->failed != (tx->error_message[0] != '\0')) abort();
  uint32_t top = 0;
  for (size_t i = 0; i < tx->n_ix; i++) {
    const txn_ix_t *x = &tx->ix[i];
    if (x->index != i || !x->program_id || x->stack_height == 0) abort();
    if (!x->inner) {
      if (x->top_index != top || x->stack_height != 1) abort();
      top++;
    } else if (i == 0 || x->top_index + 1 != top) {
      abort();
    }
    if (x->has_data && x->data_len > 0 && !x->data) abort();
    if (!x->has_accounts && x->n_accounts != 0) abort();
    for (size_t a = 0; a < x->n_accounts; a++) {
      if (x->account_idx[a] >= tx->n_keys) abort();
      if (strcmp(x->accounts[a], tx->keys[x->account_idx[a]]) != 0) abort();
    }
    volatile uint8_t sink = 0;
    for (size_t b = 0; b < x->data_len; b++) sink ^= x->data[b];
    (void)sink;
  }
  if (top != tx->n_top) abort();
  for (size_t i = 0; i < tx->n_logs; i++) (void)strlen(tx->logs[i]);
  (void)txn_touches_program(tx, PROGRAM);

  /* balances: both or neither, one per key; closes are writable keys that
   * went from > 0 to 0, in key order, none for a failed transaction */
  if (tx->has_balances != (tx->pre_balances != NULL) ||
      tx->has_balances != (tx->post_balances != NULL))
    abort();
  const char *closed[8];
  size_t n_closed = txn_closed_accounts(tx, PROGRAM, closed, 8);
  if (n_closed && (tx->failed || !tx->has_balances)) abort();
  for (size_t c = 0, k = 0; c < n_closed && c < 8; c++, k++) {
    while (k < tx->n_keys && tx->keys[k] != closed[c]) k++;
    if (k == tx->n_keys || !tx->key_writable[k] || tx->pre_balances[k] == 0 ||
        tx->post_balances[k] != 0)
      abort();
  }

  uint32_t *map = NULL, *depth = NULL;
  size_t n = 0;
  if (txn_invoke_map(tx, &map, &depth, &n) != TXN_OK) abort();
  for (size_t k = 0; k < n; k++)
    if (map[k] != UINT32_MAX && map[k] >= tx->n_ix) abort();
  free(map);
  free(depth);
}

static void check_rows(const txn_t *tx, const txn_rows_t *rows, const txn_issues_t *is) {
  for (size_t r = 0; r < rows->count; r++) {
    const cb_tx_row_t *row = &rows->rows[r];
    if (row->instruction_index >= tx->n_ix) abort();
    if (strcmp(tx->ix[row->instruction_index].program_id, PROGRAM) != 0) abort();
    if (r > 0 && row->instruction_index <= rows->rows[r - 1].instruction_index) abort();
    if (strcmp(row->signature, tx->signature) != 0) abort();
    if (!cb_tx_type_name(row->type)) abort();
    check_str(row->market, sizeof row->market);
    check_str(row->user, sizeof row->user);
    check_str(row->error_message, sizeof row->error_message);
    if (row->failed != tx->failed || row->slot != tx->slot || row->fee != tx->fee) abort();
  }
  for (size_t a = 0; a < rows->n_accounts; a++) {
    uint8_t tmp[32];
    if (base58_decode_32(rows->accounts[a], tmp) != 0) abort();
    for (size_t b = 0; b < a; b++)
      if (strcmp(rows->accounts[a], rows->accounts[b]) == 0) abort();
  }
  if (tx->failed && rows->n_accounts) abort();
  for (size_t i = 0; is && i < is->count; i++) {
    const txn_issue_t *it = &is->items[i];
    if (it->kind < TXN_ISSUE_INSTRUCTION_DECODE || it->kind > TXN_ISSUE_EVENT_UNMATCHED) abort();
    if (tx->n_ix && it->instruction_index >= tx->n_ix) abort();
    if (it->len && !it->data) abort();
    check_str(it->message, sizeof it->message);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  if (!g_idl && idl_load_default(&g_idl, err, sizeof err) != 0) abort();
  json_t *doc = jsonx_loads((const char *)data, size, err, sizeof err);
  if (!doc) return 0;
  txn_block_t blk, *block = NULL;
  if (size & 1) {
    json_t *b = json_object_get(doc, "block");
    if (txn_block_from_json(b ? b : doc, 310000000, &blk) == TXN_OK) block = &blk;
  }
  txn_t *tx = (txn_t *)(uintptr_t)1;
  err[0] = '\0';
  int rc = txn_parse(doc, block, &tx, err, sizeof err);
  json_decref(doc); /* the txn_t must not borrow from the document */
  if (rc != TXN_OK) {
    if (tx != NULL || rc < TXN_ERR_NOMEM || rc > 0 || err[0] == '\0') abort();
    check_str(err, sizeof err);
    return 0;
  }
  check_tx(tx);
  txn_rows_t rows;
  txn_issues_t issues;
  if (txn_extract(g_idl, tx, PROGRAM, &rows, &issues) != TXN_OK) abort();
  check_rows(tx, &rows, &issues);
  txn_rows_free(&rows);
  txn_issues_free(&issues);
  /* without an issue list, the same rows */
  txn_rows_t rows2;
  if (txn_extract(g_idl, tx, PROGRAM, &rows2, NULL) != TXN_OK) abort();
  txn_rows_free(&rows2);
  txn_free(tx);
  return 0;
}
