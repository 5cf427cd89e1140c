/* Solana transaction wire format on arbitrary bytes: txmsg_parse never
 * crashes, reads out of bounds or leaks; a failure reports an offset
 * inside the input; a success describes the input exactly: serialising
 * the parsed struct again (independent encoder below) gives back the same
 * bytes, and every index the parser accepted is inside its key list.
 *
 * Input: serialized transaction bytes (signatures + message). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "txmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  uint8_t *p;
  size_t len, cap;
} wbuf_t;

static void put(wbuf_t *w, const void *src, size_t n) {
  if (n > w->cap - w->len) abort(); /* never longer than the input */
  if (n) memcpy(w->p + w->len, src, n);
  w->len += n;
}

static void put_u8(wbuf_t *w, uint8_t b) { put(w, &b, 1); }

static void put_cu16(wbuf_t *w, uint16_t v) {
  uint32_t x = v;
  for (;;) {
    uint8_t b = x & 0x7f;
    x >>= 7;
    if (x) {
      put_u8(w, b | 0x80);
    } else {
      put_u8(w, b);
      break;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  txmsg_t m;
  size_t err_off = (size_t)-1;
  int rc = txmsg_parse(data, size, &m, &err_off);
  if (rc != TXMSG_OK) {
    if (rc < TXMSG_ERR_NOMEM || rc > 0 || err_off > size) abort();
    if (m.ix || m.lookups || m.n_ix || m.n_keys) abort(); /* zeroed */
    txmsg_free(&m);
    return 0;
  }
  wbuf_t w = {malloc(size + 1), 0, size};
  if (!w.p) abort();
  put_cu16(&w, m.n_signatures);
  put(&w, m.signatures, (size_t)m.n_signatures * 64);
  if (w.len != m.message_offset) abort();
  if (m.version == 0) put_u8(&w, 0x80);
  else if (m.version != TXMSG_VERSION_LEGACY) abort();
  put_u8(&w, m.num_required_signatures);
  put_u8(&w, m.num_readonly_signed);
  put_u8(&w, m.num_readonly_unsigned);
  put_cu16(&w, m.n_keys);
  put(&w, m.keys, (size_t)m.n_keys * 32);
  put(&w, m.recent_blockhash, 32);
  put_cu16(&w, m.n_ix);
  for (size_t i = 0; i < m.n_ix; i++) {
    const txmsg_ix_t *ix = &m.ix[i];
    put_u8(&w, ix->program_id_index);
    put_cu16(&w, ix->n_accounts);
    put(&w, ix->accounts, ix->n_accounts);
    put_cu16(&w, ix->data_len);
    put(&w, ix->data, ix->data_len);
  }
  size_t loaded_w = 0, loaded_r = 0;
  if (m.version == 0) {
    put_cu16(&w, m.n_lookups);
    for (size_t i = 0; i < m.n_lookups; i++) {
      const txmsg_lookup_t *l = &m.lookups[i];
      put(&w, l->table_key, 32);
      put_cu16(&w, l->n_writable);
      put(&w, l->writable, l->n_writable);
      put_cu16(&w, l->n_readonly);
      put(&w, l->readonly, l->n_readonly);
      loaded_w += l->n_writable;
      loaded_r += l->n_readonly;
    }
  } else if (m.n_lookups != 0) {
    abort();
  }
  if (w.len != size || memcmp(w.p, data, size) != 0) abort();
  free(w.p);

  /* header and index rules */
  if (loaded_w != m.n_loaded_writable || loaded_r != m.n_loaded_readonly) abort();
  size_t total = (size_t)m.n_keys + loaded_w + loaded_r;
  if (total > 256 || m.num_required_signatures == 0 ||
      m.num_readonly_signed >= m.num_required_signatures ||
      m.n_signatures != m.num_required_signatures ||
      (size_t)m.num_required_signatures + m.num_readonly_unsigned > m.n_keys)
    abort();
  for (size_t i = 0; i < m.n_ix; i++) {
    const txmsg_ix_t *ix = &m.ix[i];
    if (ix->program_id_index == 0 || ix->program_id_index >= m.n_keys) abort();
    for (size_t a = 0; a < ix->n_accounts; a++)
      if (ix->accounts[a] >= total) abort();
  }
  size_t writable = 0;
  for (size_t i = 0; i < (size_t)m.n_keys + 2; i++) writable += txmsg_is_static_writable(&m, i) != 0;
  if (!txmsg_is_static_writable(&m, 0)) abort(); /* the fee payer */
  if (writable != (size_t)m.n_keys - m.num_readonly_signed - m.num_readonly_unsigned) abort();
  txmsg_free(&m);
  return 0;
}
