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

int txmsg_parse(const uint8_t *buf, size_t len, txmsg_t *out, size_t *err_off) {
  txmsg_t m;
  size_t off = 0;
  int rc = TXMSG_OK;
  uint16_t n;

  memset(&m, 0, sizeof m);
  memset(out, 0, sizeof *out);
  m.version = TXMSG_VERSION_LEGACY;

  if ((rc = txmsg_read_compact_u16(buf, len, &off, &m.n_signatures)) != 0) goto out;
  if (!(m.signatures = take(buf, len, &off, m.n_signatures, 64))) {
    rc = TXMSG_ERR_TRUNCATED;
    goto out;
  }
  m.message_offset = off;
  if (off >= len) {
    rc = TXMSG_ERR_TRUNCATED;
    goto out;
  }
  if (buf[off] & 0x80u) {
    m.version = buf[off] & 0x7f;
    if (m.version != 0) {
      rc = TXMSG_ERR_VERSION;
      goto out;
    }
    off++;
  }
  {
    const uint8_t *h = take(buf, len, &off, 3, 1);
    if (!h) {
      rc = TXMSG_ERR_TRUNCATED;
      goto out;
    }
    m.num_required_signatures = h[0];
    m.num_readonly_signed = h[1];
    m.num_readonly_unsigned = h[2];
  }
  if (m.num_required_signatures == 0 || m.num_readonly_signed >= m.num_required_signatures ||
      m.n_signatures != m.num_required_signatures) {
    off = m.message_offset;
    rc = TXMSG_ERR_HEADER;
    goto out;
  }
  if ((rc = txmsg_read_compact_u16(buf, len, &off, &m.n_keys)) != 0) goto out;
  if (!(m.keys = take(buf, len, &off, m.n_keys, 32))) {
    rc = TXMSG_ERR_TRUNCATED;
    goto out;
  }
  if ((size_t)m.num_required_signatures + m.num_readonly_unsigned > m.n_keys) {
    rc = TXMSG_ERR_HEADER;
    goto out;
  }
  if (m.n_keys > 256) {
    rc = TXMSG_ERR_TOO_MANY_KEYS;
    goto out;
  }
  if (!(m.recent_blockhash = take(buf, len, &off, 1, 32))) {
    rc = TXMSG_ERR_TRUNCATED;
    goto out;
  }

  if ((rc = txmsg_read_compact_u16(buf, len, &off, &n)) != 0) goto out;
  /* each instruction is at least 3 bytes: bound the allocation by the input */
  if (n > (len - off) / 3) {
    rc = TXMSG_ERR_TRUNCATED;
    goto out;
  }
  m.n_ix = n;
  if (n) {
    m.ix = calloc(n, sizeof *m.ix);
    if (!m.ix) {
      rc = TXMSG_ERR_NOMEM;
      goto out;
    }
  }
  for (uint16_t i = 0; i < n; i++) {
    txmsg_ix_t *ix = &m.ix[i];
    const uint8_t *p = take(buf, len, &off, 1, 1);
    if (!p) {
      rc = TXMSG_ERR_TRUNCATED;
      goto out;
    }
    ix->program_id_index = p[0];
    if ((rc = txmsg_read_compact_u16(buf, len, &off, &ix->n_accounts)) != 0) goto out;
    if (!(ix->accounts = take(buf, len, &off, ix->n_accounts, 1))) {
      rc = TXMSG_ERR_TRUNCATED;
      goto out;
    }
    if ((rc = txmsg_read_compact_u16(buf, len, &off, &ix->data_len)) != 0) goto out;
    if (!(ix->data = take(buf, len, &off, ix->data_len, 1))) {
      rc = TXMSG_ERR_TRUNCATED;
      goto out;
    }
  }

  if (m.version == 0) {
    if ((rc = txmsg_read_compact_u16(buf, len, &off, &n)) != 0) goto out;
    /* each lookup is at least 34 bytes */
    if (n > (len - off) / 34) {
      rc = TXMSG_ERR_TRUNCATED;
      goto out;
    }
    m.n_lookups = n;
    if (n) {
      m.lookups = calloc(n, sizeof *m.lookups);
      if (!m.lookups) {
        rc = TXMSG_ERR_NOMEM;
        goto out;
      }
    }
    uint32_t total_w = 0, total_r = 0;
    for (uint16_t i = 0; i < n; i++) {
      txmsg_lookup_t *l = &m.lookups[i];
      if (!(l->table_key = take(buf, len, &off, 1, 32))) {
        rc = TXMSG_ERR_TRUNCATED;
        goto out;
      }
      if ((rc = txmsg_read_compact_u16(buf, len, &off, &l->n_writable)) != 0) goto out;
      if (!(l->writable = take(buf, len, &off, l->n_writable, 1))) {
        rc = TXMSG_ERR_TRUNCATED;
        goto out;
      }
      if ((rc = txmsg_read_compact_u16(buf, len, &off, &l->n_readonly)) != 0) goto out;
      if (!(l->readonly = take(buf, len, &off, l->n_readonly, 1))) {
        rc = TXMSG_ERR_TRUNCATED;
        goto out;
      }
      total_w += l->n_writable;
      total_r += l->n_readonly;
    }
    if ((uint32_t)m.n_keys + total_w + total_r > 256) {
      rc = TXMSG_ERR_TOO_MANY_KEYS;
      goto out;
    }
    m.n_loaded_writable = (uint16_t)total_w;
    m.n_loaded_readonly = (uint16_t)total_r;
  }

  if (off != len) {
    rc = TXMSG_ERR_TRAILING;
    goto out;
  }

  /* indexes: program ids must be static keys (never the fee payer);
   * accounts may reach into the looked-up keys */
  {
    size_t total = (size_t)m.n_keys + m.n_loaded_writable + m.n_loaded_readonly;
    for (uint16_t i = 0; i < m.n_ix; i++) {
      const txmsg_ix_t *ix = &m.ix[i];
      if (ix->program_id_index == 0 || ix->program_id_index >= m.n_keys) {
        /* the program id byte precedes the accounts' compact-u16 count */
        size_t cu = ix->n_accounts < 0x80 ? 1 : ix->n_accounts < 0x4000 ? 2 : 3;
        off = (size_t)(ix->accounts - buf) - cu - 1;
        rc = TXMSG_ERR_INDEX;
        goto out;
      }
      for (uint16_t a = 0; a < ix->n_accounts; a++) {
        if (ix->accounts[a] >= total) {
          off = (size_t)(ix->accounts + a - buf);
          rc = TXMSG_ERR_INDEX;
          goto out;
        }
      }
    }
  }

out:
  if (rc != TXMSG_OK) {
    if (err_off) *err_off = off > len ? len : off;
    txmsg_free(&m);
    return rc;
  }
  *out = m;
  return TXMSG_OK;
}
