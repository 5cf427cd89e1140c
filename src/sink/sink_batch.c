/* The sink's batch: owned copies of queued records, per-pubkey slot-guard
 * dedup, dead-letter fingerprints, checkpoints; small arena and hash map
 * helpers shared with sink.c. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "progress.h"
#include "sink_priv.h"

/* ------------------------------------------------------------- helpers */

void sink_set_err(sink_t *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
  size_t n = strlen(s->err);
  while (n > 0 && (s->err[n - 1] == '\n' || s->err[n - 1] == ' ')) s->err[--n] = '\0';
}

int sink_grow(void **p, size_t *cap, size_t need, size_t elsz) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need) {
    if (c > SIZE_MAX / 2 / elsz) return -1;
    c *= 2;
  }
  void *q = realloc(*p, c * elsz);
  if (!q) return -1;
  *p = q;
  *cap = c;
  return 0;
}

void *sink_arena_alloc(arena_blk_t **head, size_t n) {
  n = (n + 7) & ~(size_t)7;
  arena_blk_t *b = *head;
  if (!b || n > b->cap - b->used) {
    size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
    arena_blk_t *nb = malloc(sizeof *nb + cap);
    if (!nb) return NULL;
    nb->next = b;
    nb->used = 0;
    nb->cap = cap;
    *head = nb;
    b = nb;
  }
  void *p = b->data + b->used;
  b->used += n;
  return p;
}

char *sink_arena_strndup(arena_blk_t **head, const char *s, size_t n) {
  char *p = sink_arena_alloc(head, n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* Frees every block but the newest, which is kept empty for reuse. */
void sink_arena_reset(arena_blk_t **head) {
  arena_blk_t *b = *head;
  if (!b) return;
  arena_blk_t *rest = b->next;
  while (rest) {
    arena_blk_t *n = rest->next;
    free(rest);
    rest = n;
  }
  b->next = NULL;
  b->used = 0;
}

void sink_arena_free(arena_blk_t **head) {
  arena_blk_t *b = *head;
  while (b) {
    arena_blk_t *n = b->next;
    free(b);
    b = n;
  }
  *head = NULL;
}

/* ---------------------------------------------------------- key maps */

uint32_t sink_hash_key(const char *k) {
  uint32_t h = 2166136261u;
  for (; *k; k++) h = (h ^ (uint8_t)*k) * 16777619u;
  return h;
}

static kent_t *kmap_slot(kmap_t *m, const char *key, uint32_t h) {
  uint32_t mask = m->cap - 1;
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    kent_t *e = &m->e[i];
    if (e->idx1 == 0 || (e->hash == h && strcmp(e->key, key) == 0)) return e;
  }
}

static int kmap_grow(kmap_t *m) {
  uint32_t ncap = m->cap ? m->cap * 2 : 256;
  if (ncap < m->cap) return -1;
  kent_t *ne = calloc(ncap, sizeof *ne);
  if (!ne) return -1;
  kmap_t nm = {ne, ncap, 0};
  for (uint32_t i = 0; i < m->cap; i++) {
    if (m->e[i].idx1 == 0) continue;
    kent_t *d = kmap_slot(&nm, m->e[i].key, m->e[i].hash);
    *d = m->e[i];
    nm.n++;
  }
  free(m->e);
  *m = nm;
  return 0;
}

/* Returns the index stored for key, or -1; *h receives the key's hash. */
long sink_kmap_get(kmap_t *m, const char *key, uint32_t *h) {
  *h = sink_hash_key(key);
  if (m->cap == 0) return -1;
  kent_t *e = kmap_slot(m, key, *h);
  return e->idx1 ? (long)e->idx1 - 1 : -1;
}

int sink_kmap_put(kmap_t *m, const char *key, uint32_t h, size_t idx) {
  if ((m->n + 1) * 2 > m->cap && kmap_grow(m) != 0) return -1;
  kent_t *e = kmap_slot(m, key, h);
  if (e->idx1 == 0) m->n++;
  e->hash = h;
  e->idx1 = (uint32_t)idx + 1;
  snprintf(e->key, sizeof e->key, "%s", key);
  return 0;
}

void sink_kmap_clear(kmap_t *m) {
  if (m->n) memset(m->e, 0, (size_t)m->cap * sizeof *m->e);
  m->n = 0;
}

/* ---------------------------------------------------------------- put */

static int valid_cstr(const char *p, size_t cap, size_t minlen) {
  const char *z = memchr(p, '\0', cap);
  return z && (size_t)(z - p) >= minlen;
}

static int valid_pk(const cb_pubkey_t *k) { return valid_cstr(k->b58, sizeof k->b58, 1); }

static int copy_str(sink_t *s, cb_str_t *v) {
  if (v->len && !v->ptr) return -1;
  if (v->len && memchr(v->ptr, '\0', v->len)) return -1;
  char *p = sink_arena_strndup(&s->arena, v->ptr, v->len);
  if (!p) return -2;
  v->ptr = p;
  return 0;
}

static void note_put(sink_t *s) {
  if (s->pending == 0 && s->first_ms == 0) s->first_ms = progress_now_ms();
  s->pending++;
}

int sink_maybe_flush(sink_t *s) {
  return s->pending >= s->opt.batch_max_records ? sink_flush(s) : SINK_OK;
}

/* Copies the kind's borrowed strings into the batch arena and checks the
 * pubkey texts. Returns 0, SINK_ERR_INVALID or SINK_ERR_NOMEM. */
static int own_account(sink_t *s, cb_account_t *a) {
  int r = 0;
  switch (a->kind) {
  case CB_ACCOUNT_GLOBAL_CONFIG:
    if (!valid_pk(&a->u.config.authority) || !valid_pk(&a->u.config.platform_treasury))
      return SINK_ERR_INVALID;
    return 0;
  case CB_ACCOUNT_MARKET: {
    cb_market_t *m = &a->u.market;
    if (!valid_pk(&m->authority) || !valid_pk(&m->accepted_mint) || !valid_pk(&m->yes_vault) ||
        !valid_pk(&m->no_vault) || !valid_pk(&m->resolver) ||
        (m->has_oracle_source && !valid_pk(&m->oracle_source)))
      return SINK_ERR_INVALID;
    if ((r = copy_str(s, &m->title)) || (r = copy_str(s, &m->description)) ||
        (r = copy_str(s, &m->category)) || (r = copy_str(s, &m->metadata_uri)))
      return r == -2 ? SINK_ERR_NOMEM : SINK_ERR_INVALID;
    return 0;
  }
  case CB_ACCOUNT_POSITION:
    if (!valid_pk(&a->u.position.user) || !valid_pk(&a->u.position.market))
      return SINK_ERR_INVALID;
    return 0;
  case CB_ACCOUNT_TREASURY:
    if (!valid_pk(&a->u.treasury.market) || !valid_pk(&a->u.treasury.mint) ||
        !valid_pk(&a->u.treasury.authority))
      return SINK_ERR_INVALID;
    return 0;
  case CB_ACCOUNT_ORACLE_DATA:
    if (!valid_pk(&a->u.oracle.authority) || !valid_pk(&a->u.oracle.market))
      return SINK_ERR_INVALID;
    if ((r = copy_str(s, &a->u.oracle.source)) || (r = copy_str(s, &a->u.oracle.value)))
      return r == -2 ? SINK_ERR_NOMEM : SINK_ERR_INVALID;
    return 0;
  default: return SINK_ERR_INVALID;
  }
}

/* Block times the database can stamp (years 1970-9999); others are not
 * trusted and the close is stamped when written. */
#define CLOSE_TIME_MAX 253402300799LL

static int put_close(sink_t *s, const char *pubkey, uint64_t slot, bool has_time, int64_t time) {
  if (has_time && (time < 0 || time > CLOSE_TIME_MAX)) has_time = false;
  uint32_t h;
  long i = sink_kmap_get(&s->cmap, pubkey, &h);
  if (i >= 0) {
    s->st.accounts_stale_ignored++;
    crec_t *c = &s->cls[i];
    /* The close from a transaction (with its time) wins over one from an
     * account read; among closes of one kind, the later slot
     * (schema/005_closures.sql). */
    if ((has_time && !c->has_time) || (has_time == c->has_time && slot > c->slot)) {
      c->slot = slot;
      c->has_time = has_time;
      c->time = time;
    }
    note_put(s);
    return sink_maybe_flush(s);
  }
  if (sink_grow((void **)&s->cls, &s->capcls, s->ncls + 1, sizeof *s->cls) != 0 ||
      sink_kmap_put(&s->cmap, pubkey, h, s->ncls) != 0)
    return SINK_ERR_NOMEM;
  crec_t *c = &s->cls[s->ncls++];
  snprintf(c->pubkey, sizeof c->pubkey, "%s", pubkey);
  c->slot = slot;
  c->has_time = has_time;
  c->time = time;
  note_put(s);
  return sink_maybe_flush(s);
}

int sink_put_account(sink_t *s, const cb_account_t *acc) {
  if (!s || !acc) return SINK_ERR_INVALID;
  if (!valid_cstr(acc->pubkey, sizeof acc->pubkey, 1) || acc->slot > (uint64_t)INT64_MAX) {
    sink_set_err(s, "account record with an empty or unterminated pubkey or a slot above 2^63-1");
    return SINK_ERR_INVALID;
  }
  if (acc->closed) return put_close(s, acc->pubkey, acc->slot, acc->has_closed_time, acc->closed_time);
  uint32_t h;
  long i = sink_kmap_get(&s->amap, acc->pubkey, &h);
  if (i >= 0 && acc->slot < s->acc[i].slot) {
    s->st.accounts_stale_ignored++; /* an equal or newer state is already queued */
    note_put(s);
    return sink_maybe_flush(s);
  }
  cb_account_t copy = *acc;
  int rc = own_account(s, &copy);
  if (rc != 0) {
    sink_set_err(s, "account %s: %s", acc->pubkey,
            rc == SINK_ERR_NOMEM ? "out of memory"
                                 : "unknown kind, unterminated pubkey or string with NUL");
    return rc;
  }
  if (i >= 0) {
    s->st.accounts_stale_ignored++; /* the queued older state is superseded */
    s->acc[i] = copy;
  } else {
    if (sink_grow((void **)&s->acc, &s->capacc, s->nacc + 1, sizeof *s->acc) != 0 ||
        sink_kmap_put(&s->amap, acc->pubkey, h, s->nacc) != 0)
      return SINK_ERR_NOMEM;
    s->acc[s->nacc++] = copy;
  }
  note_put(s);
  return sink_maybe_flush(s);
}

int sink_mark_closed(sink_t *s, const char *pubkey, uint64_t slot) {
  if (!s || !pubkey || !*pubkey || strlen(pubkey) >= CB_PUBKEY_B58_MAX ||
      slot > (uint64_t)INT64_MAX)
    return SINK_ERR_INVALID;
  return put_close(s, pubkey, slot, false, 0);
}

int sink_put_tx(sink_t *s, const cb_tx_row_t *row) {
  if (!s || !row) return SINK_ERR_INVALID;
  if (!valid_cstr(row->signature, sizeof row->signature, 1) ||
      !valid_cstr(row->market, sizeof row->market, 0) ||
      !valid_cstr(row->user, sizeof row->user, 0) ||
      !valid_cstr(row->error_message, sizeof row->error_message, 0) ||
      row->instruction_index > (uint32_t)INT32_MAX || row->slot > (uint64_t)INT64_MAX ||
      (row->has_block_height && row->block_height > (uint64_t)INT64_MAX)) {
    sink_set_err(s, "transaction row with an unterminated string or an out-of-range number");
    return SINK_ERR_INVALID;
  }
  char key[SINK_KEY_MAX];
  snprintf(key, sizeof key, "%s#%" PRIu32, row->signature, row->instruction_index);
  uint32_t h;
  long i = sink_kmap_get(&s->tmap, key, &h);
  if (i >= 0) {
    s->tx[i] = *row; /* the later observation wins (status updates) */
  } else {
    if (sink_grow((void **)&s->tx, &s->captx, s->ntx + 1, sizeof *s->tx) != 0 ||
        sink_kmap_put(&s->tmap, key, h, s->ntx) != 0)
      return SINK_ERR_NOMEM;
    s->tx[s->ntx++] = *row;
  }
  note_put(s);
  return sink_maybe_flush(s);
}

/* Copies text replacing bytes that PostgreSQL text cannot hold (NUL,
 * invalid UTF-8) with '?'. */
static char *arena_clean_text(arena_blk_t **a, const char *src) {
  size_t n = strlen(src);
  char *d = sink_arena_strndup(a, src, n);
  if (!d) return NULL;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)d[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    int ok = len > 0 && len <= n - i;
    for (size_t k = 1; ok && k < len; k++) ok = ((unsigned char)d[i + k] >> 6) == 2;
    if (ok && len == 2 && c < 0xC2) ok = 0;
    if (ok && len == 3) {
      unsigned cp = ((c & 15u) << 12) | (((unsigned char)d[i + 1] & 63u) << 6) |
                    ((unsigned char)d[i + 2] & 63u);
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) ok = 0;
    }
    if (ok && len == 4) {
      unsigned cp = ((c & 7u) << 18) | (((unsigned char)d[i + 1] & 63u) << 12) |
                    (((unsigned char)d[i + 2] & 63u) << 6) | ((unsigned char)d[i + 3] & 63u);
      if (cp < 0x10000 || cp > 0x10FFFF) ok = 0;
    }
    if (!ok) {
      d[i++] = '?';
      continue;
    }
    i += len;
  }
  return d;
}

static void fingerprint(const char *kind, const char *key, const uint8_t *raw, size_t rawlen,
                        const char *reason, uint8_t out[crypto_hash_sha256_BYTES]) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, (const unsigned char *)kind, strlen(kind) + 1);
  crypto_hash_sha256_update(&st, (const unsigned char *)(key ? key : ""),
                            strlen(key ? key : "") + 1);
  if (rawlen)
    crypto_hash_sha256_update(&st, raw, rawlen);
  else
    crypto_hash_sha256_update(&st, (const unsigned char *)reason, strlen(reason));
  crypto_hash_sha256_final(&st, out);
}

/* Adds a dead letter to *v, merging with an identical one (same
 * fingerprint) when map is given. Strings are copied into *a. */
int sink_add_dead(arena_blk_t **a, dlrec_t **v, size_t *n, size_t *cap, kmap_t *map,
                    const char *kind, const char *key, uint64_t slot, const char *reason,
                    const uint8_t *raw, size_t rawlen) {
  dlrec_t d;
  memset(&d, 0, sizeof d);
  d.kind = arena_clean_text(a, kind);
  d.key = key ? arena_clean_text(a, key) : NULL;
  d.reason = arena_clean_text(a, reason);
  if (!d.kind || (key && !d.key) || !d.reason) return SINK_ERR_NOMEM;
  if (rawlen) {
    uint8_t *r = sink_arena_alloc(a, rawlen);
    if (!r) return SINK_ERR_NOMEM;
    memcpy(r, raw, rawlen);
    d.raw = r;
    d.rawlen = rawlen;
  }
  d.slot = slot > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : slot;
  d.count = 1;
  fingerprint(d.kind, d.key, d.raw, d.rawlen, d.reason, d.fp);
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, d.fp, sizeof d.fp);
  uint32_t h = 0;
  long i = map ? sink_kmap_get(map, hex, &h) : -1;
  if (i >= 0) {
    (*v)[i].count++;
    if (d.slot > (*v)[i].slot) (*v)[i].slot = d.slot;
    (*v)[i].reason = d.reason;
    return SINK_OK;
  }
  if (sink_grow((void **)v, cap, *n + 1, sizeof **v) != 0) return SINK_ERR_NOMEM;
  if (map && sink_kmap_put(map, hex, h, *n) != 0) return SINK_ERR_NOMEM;
  (*v)[(*n)++] = d;
  return SINK_OK;
}

int sink_put_dead_letter(sink_t *s, const char *kind, const char *key, uint64_t slot,
                         const char *reason, const uint8_t *raw, size_t rawlen) {
  if (!s || !kind || !*kind || !reason || (rawlen && !raw)) return SINK_ERR_INVALID;
  int rc = sink_add_dead(&s->arena, &s->dl, &s->ndl, &s->capdl, &s->dmap, kind, key, slot, reason,
                    raw, rawlen);
  if (rc != SINK_OK) return rc;
  note_put(s);
  return sink_maybe_flush(s);
}

int sink_set_checkpoint(sink_t *s, const char *stream, uint64_t slot, const char *signature) {
  if (!s || !stream || !*stream || strlen(stream) > SINK_STREAM_MAX ||
      slot > (uint64_t)INT64_MAX || (signature && strlen(signature) >= CB_SIGNATURE_B58_MAX))
    return SINK_ERR_INVALID;
  ckpt_t *c = NULL;
  for (size_t i = 0; i < s->nckpt; i++)
    if (strcmp(s->ckpt[i].stream, stream) == 0) c = &s->ckpt[i];
  if (!c) {
    if (s->nckpt >= SINK_MAX_STREAMS) {
      sink_set_err(s, "more than %d checkpoint streams in one batch", SINK_MAX_STREAMS);
      return SINK_ERR_INVALID;
    }
    c = &s->ckpt[s->nckpt++];
    snprintf(c->stream, sizeof c->stream, "%s", stream);
  }
  c->slot = slot;
  c->has_sig = signature != NULL;
  snprintf(c->sig, sizeof c->sig, "%s", signature ? signature : "");
  if (s->first_ms == 0) s->first_ms = progress_now_ms();
  return SINK_OK;
}

size_t sink_pending(const sink_t *s) { return s ? s->pending : 0; }

int sink_batch_empty(const sink_t *s) {
  return s->nacc == 0 && s->ncls == 0 && s->ntx == 0 && s->ndl == 0 && s->nckpt == 0 &&
         !s->has_chain_time;
}

int sink_batch_due_in_ms(const sink_t *s) {
  if (!s || (sink_batch_empty(s) && s->pending == 0)) return -1;
  if (s->pending >= s->opt.batch_max_records) return 0;
  int64_t left = s->first_ms + s->opt.batch_max_delay_ms - progress_now_ms();
  return left <= 0 ? 0 : (int)left;
}

int sink_batch_due(const sink_t *s) { return sink_batch_due_in_ms(s) == 0; }

void sink_get_stats(const sink_t *s, sink_stats_t *out) {
  if (s && out) *out = s->st;
}

