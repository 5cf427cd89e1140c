/* Solana transaction wire-format parser. */
#include "txmsg.h"

#include <stdlib.h>
#include <string.h>

const char *txmsg_strerror(int code) {
  switch (code) {
  case TXMSG_OK: return "ok";
  case TXMSG_ERR_TRUNCATED: return "truncated transaction";
  case TXMSG_ERR_COMPACT_U16: return "invalid compact-u16";
  case TXMSG_ERR_VERSION: return "unsupported message version";
  case TXMSG_ERR_HEADER: return "inconsistent message header";
  case TXMSG_ERR_INDEX: return "program or account index out of range";
  case TXMSG_ERR_TRAILING: return "bytes after the message";
  case TXMSG_ERR_TOO_MANY_KEYS: return "more than 256 account keys";
  case TXMSG_ERR_NOMEM: return "out of memory";
  default: return "unknown error";
  }
}

int txmsg_read_compact_u16(const uint8_t *buf, size_t len, size_t *off, uint16_t *out) {
  uint32_t v = 0;
  size_t o = *off;
  for (unsigned i = 0; i < 3; i++) {
    if (o >= len) return TXMSG_ERR_TRUNCATED;
    uint8_t b = buf[o++];
    if (i == 2) {
      /* third byte carries bits 14..15 only, and no continuation */
      if (b > 0x03) return TXMSG_ERR_COMPACT_U16;
      if (b == 0) return TXMSG_ERR_COMPACT_U16; /* not minimal */
      v |= (uint32_t)b << 14;
      break;
    }
    v |= (uint32_t)(b & 0x7fu) << (7 * i);
    if ((b & 0x80u) == 0) {
      if (i > 0 && b == 0) return TXMSG_ERR_COMPACT_U16; /* not minimal */
      break;
    }
  }
  *off = o;
  *out = (uint16_t)v;
  return TXMSG_OK;
}

/* Reserves n elements of size sz at buf[*off]: the pointer, or NULL when
 * they do not fit in what is left. */
static const uint8_t *take(const uint8_t *buf, size_t len, size_t *off, size_t n, size_t sz) {
  if (*off > len) return NULL;
  size_t left = len - *off;
  if (sz != 0 && n > left / sz) return NULL;
  const uint8_t *p = buf + *off;
  *off += n * sz;
  return p;
}

int txmsg_is_static_writable(const txmsg_t *m, size_t i) {
  if (i >= m->n_keys) return 0;
  size_t req = m->num_required_signatures;
  if (i < req) return i < req - m->num_readonly_signed;
  return i < (size_t)m->n_keys - m->num_readonly_unsigned;
}

void txmsg_free(txmsg_t *m) {
  if (!m) return;
  free(m->ix);
  free(m->lookups);
  memset(m, 0, sizeof *m);
}

/* Signatures, version prefix, header, static keys, recent blockhash. */
static int read_header(const uint8_t *buf, size_t len, size_t *off, txmsg_t *m) {
  int rc;
  if ((rc = txmsg_read_compact_u16(buf, len, off, &m->n_signatures)) != 0) return rc;
  if (!(m->signatures = take(buf, len, off, m->n_signatures, 64))) return TXMSG_ERR_TRUNCATED;
  m->message_offset = *off;
  if (*off >= len) return TXMSG_ERR_TRUNCATED;
  if (buf[*off] & 0x80u) {
    m->version = buf[*off] & 0x7f;
    if (m->version != 0) return TXMSG_ERR_VERSION;
    (*off)++;
  }
  const uint8_t *h = take(buf, len, off, 3, 1);
  if (!h) return TXMSG_ERR_TRUNCATED;
  m->num_required_signatures = h[0];
  m->num_readonly_signed = h[1];
  m->num_readonly_unsigned = h[2];
  if (m->num_required_signatures == 0 || m->num_readonly_signed >= m->num_required_signatures ||
      m->n_signatures != m->num_required_signatures) {
    *off = m->message_offset;
    return TXMSG_ERR_HEADER;
  }
  if ((rc = txmsg_read_compact_u16(buf, len, off, &m->n_keys)) != 0) return rc;
  if (!(m->keys = take(buf, len, off, m->n_keys, 32))) return TXMSG_ERR_TRUNCATED;
  if ((size_t)m->num_required_signatures + m->num_readonly_unsigned > m->n_keys)
    return TXMSG_ERR_HEADER;
  if (m->n_keys > 256) return TXMSG_ERR_TOO_MANY_KEYS;
  if (!(m->recent_blockhash = take(buf, len, off, 1, 32))) return TXMSG_ERR_TRUNCATED;
  return TXMSG_OK;
}

/* The compiled instructions. */
static int read_instructions(const uint8_t *buf, size_t len, size_t *off, txmsg_t *m) {
  uint16_t n;
  int rc;
  if ((rc = txmsg_read_compact_u16(buf, len, off, &n)) != 0) return rc;
  /* each instruction is at least 3 bytes: bound the allocation by the input */
  if (n > (len - *off) / 3) return TXMSG_ERR_TRUNCATED;
  m->n_ix = n;
  if (n) {
    m->ix = calloc(n, sizeof *m->ix);
    if (!m->ix) return TXMSG_ERR_NOMEM;
  }
  for (uint16_t i = 0; i < n; i++) {
    txmsg_ix_t *ix = &m->ix[i];
    const uint8_t *p = take(buf, len, off, 1, 1);
    if (!p) return TXMSG_ERR_TRUNCATED;
    ix->program_id_index = p[0];
    if ((rc = txmsg_read_compact_u16(buf, len, off, &ix->n_accounts)) != 0) return rc;
    if (!(ix->accounts = take(buf, len, off, ix->n_accounts, 1))) return TXMSG_ERR_TRUNCATED;
    if ((rc = txmsg_read_compact_u16(buf, len, off, &ix->data_len)) != 0) return rc;
    if (!(ix->data = take(buf, len, off, ix->data_len, 1))) return TXMSG_ERR_TRUNCATED;
  }
  return TXMSG_OK;
}

/* v0: the address table lookups. */
static int read_lookups(const uint8_t *buf, size_t len, size_t *off, txmsg_t *m) {
  uint16_t n;
  int rc;
  if ((rc = txmsg_read_compact_u16(buf, len, off, &n)) != 0) return rc;
  /* each lookup is at least 34 bytes */
  if (n > (len - *off) / 34) return TXMSG_ERR_TRUNCATED;
  m->n_lookups = n;
  if (n) {
    m->lookups = calloc(n, sizeof *m->lookups);
    if (!m->lookups) return TXMSG_ERR_NOMEM;
  }
  uint32_t total_w = 0, total_r = 0;
  for (uint16_t i = 0; i < n; i++) {
    txmsg_lookup_t *l = &m->lookups[i];
    if (!(l->table_key = take(buf, len, off, 1, 32))) return TXMSG_ERR_TRUNCATED;
    if ((rc = txmsg_read_compact_u16(buf, len, off, &l->n_writable)) != 0) return rc;
    if (!(l->writable = take(buf, len, off, l->n_writable, 1))) return TXMSG_ERR_TRUNCATED;
    if ((rc = txmsg_read_compact_u16(buf, len, off, &l->n_readonly)) != 0) return rc;
    if (!(l->readonly = take(buf, len, off, l->n_readonly, 1))) return TXMSG_ERR_TRUNCATED;
    total_w += l->n_writable;
    total_r += l->n_readonly;
  }
  if ((uint32_t)m->n_keys + total_w + total_r > 256) return TXMSG_ERR_TOO_MANY_KEYS;
  m->n_loaded_writable = (uint16_t)total_w;
  m->n_loaded_readonly = (uint16_t)total_r;
  return TXMSG_OK;
}

/* Program ids must be static keys (never the fee payer); accounts may
 * reach into the looked-up keys. *off: the offending byte. */
static int check_indexes(const uint8_t *buf, size_t *off, const txmsg_t *m) {
  size_t total = (size_t)m->n_keys + m->n_loaded_writable + m->n_loaded_readonly;
  for (uint16_t i = 0; i < m->n_ix; i++) {
    const txmsg_ix_t *ix = &m->ix[i];
    if (ix->program_id_index == 0 || ix->program_id_index >= m->n_keys) {
      /* the program id byte precedes the accounts' compact-u16 count */
      size_t cu = ix->n_accounts < 0x80 ? 1 : ix->n_accounts < 0x4000 ? 2 : 3;
      *off = (size_t)(ix->accounts - buf) - cu - 1;
      return TXMSG_ERR_INDEX;
    }
    for (uint16_t a = 0; a < ix->n_accounts; a++) {
      if (ix->accounts[a] >= total) {
        *off = (size_t)(ix->accounts + a - buf);
        return TXMSG_ERR_INDEX;
      }
    }
  }
  return TXMSG_OK;
}

int txmsg_parse(const uint8_t *buf, size_t len, txmsg_t *out, size_t *err_off) {
  txmsg_t m;
  size_t off = 0;
  int rc;

  memset(&m, 0, sizeof m);
  memset(out, 0, sizeof *out);
  m.version = TXMSG_VERSION_LEGACY;

  if ((rc = read_header(buf, len, &off, &m)) != 0) goto out;
  if ((rc = read_instructions(buf, len, &off, &m)) != 0) goto out;
  if (m.version == 0 && (rc = read_lookups(buf, len, &off, &m)) != 0) goto out;
  if (off != len) {
    rc = TXMSG_ERR_TRAILING;
    goto out;
  }
  rc = check_indexes(buf, &off, &m);

out:
  if (rc != TXMSG_OK) {
    if (err_off) *err_off = off > len ? len : off;
    txmsg_free(&m);
    return rc;
  }
  *out = m;
  return TXMSG_OK;
}
