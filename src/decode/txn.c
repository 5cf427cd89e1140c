/* Normalized transactions (json / base64 / jsonParsed) and Crypto Bet rows. */
#include "txn.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "base58.h"
#include "jsonx.h"
#include "txmsg.h"

/* ---- arena ------------------------------------------------------------ */

typedef struct arena_blk {
  struct arena_blk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
} arena_blk_t;

struct txn_priv {
  arena_blk_t *blocks;
};

typedef struct txn_full {
  txn_t pub;
  struct txn_priv priv;
} txn_full_t;

static void *arena_alloc(struct txn_priv *a, size_t n) {
  n = (n + 15u) & ~(size_t)15u;
  if (n == 0) n = 16;
  arena_blk_t *b = a->blocks;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > 8192 ? n : 8192;
    b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->used = 0;
    b->cap = cap;
    b->next = a->blocks;
    a->blocks = b;
  }
  void *p = b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

static char *arena_strdup(struct txn_priv *a, const char *s) {
  size_t n = strlen(s);
  char *p = arena_alloc(a, n + 1);
  if (p) memcpy(p, s, n + 1);
  return p;
}

static void arena_free(struct txn_priv *a) {
  arena_blk_t *b = a->blocks;
  while (b) {
    arena_blk_t *n = b->next;
    free(b);
    b = n;
  }
  a->blocks = NULL;
}

/* ---- misc ------------------------------------------------------------- */

const char *txn_strerror(int code) {
  switch (code) {
  case TXN_OK: return "ok";
  case TXN_ERR_FORMAT: return "malformed transaction JSON";
  case TXN_ERR_WIRE: return "transaction bytes do not parse";
  case TXN_ERR_INDEX: return "index outside the account key list";
  case TXN_ERR_NOMEM: return "out of memory";
  default: return "unknown error";
  }
}

static void seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errsz, const char *fmt, ...) {
  if (!err || errsz == 0) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err, errsz, fmt, ap);
  va_end(ap);
  if (n < 0) err[0] = '\0';
}

/* Copies src into dst (size dstsz) cutting at a UTF-8 character boundary. */
static void copy_utf8_trunc(char *dst, size_t dstsz, const char *src) {
  size_t n = strlen(src);
  if (dstsz == 0) return;
  if (n >= dstsz) {
    n = dstsz - 1;
    /* back off continuation bytes so no sequence is cut */
    while (n > 0 && ((unsigned char)src[n] & 0xC0u) == 0x80u) n--;
  }
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static bool is_valid_pubkey(const char *s) { return base58_text_ok(s, 32); }

int txn_block_from_json(const json_t *block_result, uint64_t slot, txn_block_t *out) {
  memset(out, 0, sizeof *out);
  out->slot = slot;
  if (!json_is_object(block_result)) return TXN_ERR_FORMAT;
  const json_t *bt = json_object_get(block_result, "blockTime");
  if (bt && !json_is_null(bt)) {
    if (jsonx_i64(bt, &out->block_time) != 0) return TXN_ERR_FORMAT;
    out->has_block_time = true;
  }
  const json_t *bh = json_object_get(block_result, "blockHeight");
  if (bh && !json_is_null(bh)) {
    if (jsonx_u64(bh, &out->block_height) != 0) return TXN_ERR_FORMAT;
    out->has_block_height = true;
  }
  return TXN_OK;
}

/* ---- parse state ------------------------------------------------------ */

/* Instruction under construction: indexes into the key list. */
typedef struct pix {
  uint16_t program;
  bool has_accounts;
  size_t n_accounts;
  uint16_t *accounts;
  bool has_data;
  uint8_t *data;
  size_t data_len;
  bool has_stack_height;
  uint32_t stack_height;
  uint32_t top_index;
  bool inner;
} pix_t;

typedef struct pstate {
  txn_full_t *t;
  struct txn_priv *a;
  char *err;
  size_t errsz;
  /* key list */
  size_t n_keys;
  char **keys;
  bool *writable;
  bool *signer;
} pstate_t;

static int key_find(const pstate_t *s, const char *k) {
  for (size_t i = 0; i < s->n_keys; i++)
    if (strcmp(s->keys[i], k) == 0) return (int)i;
  return -1;
}

/* Allocates the key arrays for n keys. */
static int keys_alloc(pstate_t *s, size_t n) {
  s->keys = arena_alloc(s->a, (n ? n : 1) * sizeof *s->keys);
  s->writable = arena_alloc(s->a, (n ? n : 1) * sizeof *s->writable);
  s->signer = arena_alloc(s->a, (n ? n : 1) * sizeof *s->signer);
  if (!s->keys || !s->writable || !s->signer) return TXN_ERR_NOMEM;
  s->n_keys = 0;
  return TXN_OK;
}

static int key_push(pstate_t *s, const char *k, bool w, bool sg) {
  if (!is_valid_pubkey(k)) {
    seterr(s->err, s->errsz, "account key %zu is not a base58 pubkey", s->n_keys);
    return TXN_ERR_FORMAT;
  }
  char *c = arena_strdup(s->a, k);
  if (!c) return TXN_ERR_NOMEM;
  s->keys[s->n_keys] = c;
  s->writable[s->n_keys] = w;
  s->signer[s->n_keys] = sg;
  s->n_keys++;
  return TXN_OK;
}

/* Decodes a base58 string of any length into arena bytes. */
static int b58_data(pstate_t *s, const char *str, uint8_t **out, size_t *outlen) {
  size_t n = strlen(str);
  uint8_t *buf = arena_alloc(s->a, n + 1);
  if (!buf) return TXN_ERR_NOMEM;
  int r = base58_decode_ref(str, buf, n + 1);
  if (r < 0) {
    seterr(s->err, s->errsz, "instruction data is not base58");
    return TXN_ERR_FORMAT;
  }
  *out = buf;
  *outlen = (size_t)r;
  return TXN_OK;
}

/* Reads the optional stackHeight member. */
static int read_stack_height(pstate_t *s, const json_t *o, pix_t *ix) {
  const json_t *sh = json_object_get(o, "stackHeight");
  if (!sh || json_is_null(sh)) return TXN_OK;
  uint64_t v;
  if (jsonx_u64(sh, &v) != 0 || v == 0 || v > 64) {
    seterr(s->err, s->errsz, "bad stackHeight");
    return TXN_ERR_FORMAT;
  }
  ix->has_stack_height = true;
  ix->stack_height = (uint32_t)v;
  return TXN_OK;
}

/* A compiled instruction {programIdIndex, accounts: [int], data: b58}. */
static int parse_compiled_ix(pstate_t *s, const json_t *o, pix_t *ix) {
  uint64_t v;
  if (!json_is_object(o) || jsonx_get_u64(o, "programIdIndex", &v) != 0) {
    seterr(s->err, s->errsz, "instruction without programIdIndex");
    return TXN_ERR_FORMAT;
  }
  if (v >= s->n_keys) {
    seterr(s->err, s->errsz, "programIdIndex %" PRIu64 " outside %zu keys", v, s->n_keys);
    return TXN_ERR_INDEX;
  }
  ix->program = (uint16_t)v;
  const json_t *acc = json_object_get(o, "accounts");
  if (!json_is_array(acc)) {
    seterr(s->err, s->errsz, "instruction without accounts");
    return TXN_ERR_FORMAT;
  }
  ix->has_accounts = true;
  ix->n_accounts = json_array_size(acc);
  ix->accounts = arena_alloc(s->a, (ix->n_accounts ? ix->n_accounts : 1) * sizeof(uint16_t));
  if (!ix->accounts) return TXN_ERR_NOMEM;
  for (size_t i = 0; i < ix->n_accounts; i++) {
    if (jsonx_u64(json_array_get(acc, i), &v) != 0) {
      seterr(s->err, s->errsz, "bad account index");
      return TXN_ERR_FORMAT;
    }
    if (v >= s->n_keys) {
      seterr(s->err, s->errsz, "account index %" PRIu64 " outside %zu keys", v, s->n_keys);
      return TXN_ERR_INDEX;
    }
    ix->accounts[i] = (uint16_t)v;
  }
  const char *d = jsonx_get_str(o, "data");
  if (!d) {
    seterr(s->err, s->errsz, "instruction without data");
    return TXN_ERR_FORMAT;
  }
  ix->has_data = true;
  int rc = b58_data(s, d, &ix->data, &ix->data_len);
  if (rc) return rc;
  return read_stack_height(s, o, ix);
}

/* A jsonParsed instruction: {programId, accounts: [b58], data: b58} or
 * {program, programId, parsed}. */
static int parse_jp_ix(pstate_t *s, const json_t *o, pix_t *ix) {
  const char *pid = json_is_object(o) ? jsonx_get_str(o, "programId") : NULL;
  if (!pid) {
    seterr(s->err, s->errsz, "instruction without programId");
    return TXN_ERR_FORMAT;
  }
  int k = key_find(s, pid);
  if (k < 0) {
    seterr(s->err, s->errsz, "programId %s not in accountKeys", pid);
    return TXN_ERR_INDEX;
  }
  ix->program = (uint16_t)k;
  const json_t *acc = json_object_get(o, "accounts");
  const json_t *data = json_object_get(o, "data");
  if (json_object_get(o, "parsed")) {
    ix->has_accounts = false;
    ix->has_data = false;
  } else {
    if (!json_is_array(acc) || !json_is_string(data)) {
      seterr(s->err, s->errsz, "instruction neither parsed nor {accounts, data}");
      return TXN_ERR_FORMAT;
    }
    ix->has_accounts = true;
    ix->n_accounts = json_array_size(acc);
    ix->accounts = arena_alloc(s->a, (ix->n_accounts ? ix->n_accounts : 1) * sizeof(uint16_t));
    if (!ix->accounts) return TXN_ERR_NOMEM;
    for (size_t i = 0; i < ix->n_accounts; i++) {
      const char *ks = json_string_value(json_array_get(acc, i));
      int ki = ks ? key_find(s, ks) : -1;
      if (ki < 0) {
        seterr(s->err, s->errsz, "instruction account %zu not in accountKeys", i);
        return ks ? TXN_ERR_INDEX : TXN_ERR_FORMAT;
      }
      ix->accounts[i] = (uint16_t)ki;
    }
    ix->has_data = true;
    int rc = b58_data(s, json_string_value(data), &ix->data, &ix->data_len);
    if (rc) return rc;
  }
  return read_stack_height(s, o, ix);
}

/* Appends meta.loadedAddresses (writable, then readonly). */
static int push_loaded(pstate_t *s, const json_t *la, size_t *nw, size_t *nr) {
  *nw = *nr = 0;
  if (!la || json_is_null(la)) return TXN_OK;
  const json_t *w = json_object_get(la, "writable");
  const json_t *r = json_object_get(la, "readonly");
  if (!json_is_object(la) || (w && !json_is_array(w)) || (r && !json_is_array(r))) {
    seterr(s->err, s->errsz, "bad meta.loadedAddresses");
    return TXN_ERR_FORMAT;
  }
  for (int pass = 0; pass < 2; pass++) {
    const json_t *arr = pass == 0 ? w : r;
    for (size_t i = 0; arr && i < json_array_size(arr); i++) {
      const char *k = json_string_value(json_array_get(arr, i));
      if (!k) {
        seterr(s->err, s->errsz, "bad meta.loadedAddresses entry");
        return TXN_ERR_FORMAT;
      }
      int rc = key_push(s, k, pass == 0, false);
      if (rc) return rc;
    }
  }
  *nw = w ? json_array_size(w) : 0;
  *nr = r ? json_array_size(r) : 0;
  return TXN_OK;
}

static size_t loaded_count(const json_t *la) {
  if (!json_is_object(la)) return 0;
  return json_array_size(json_object_get(la, "writable")) +
         json_array_size(json_object_get(la, "readonly"));
}

static bool is_precompile(const char *pid) {
  return strcmp(pid, "Ed25519SigVerify111111111111111111111111111") == 0 ||
         strcmp(pid, "KeccakSecp256k11111111111111111111111111111") == 0 ||
         strcmp(pid, "Secp256r1SigVerify1111111111111111111111111") == 0;
}

static bool b58_char(char ch) {
  return (ch >= '1' && ch <= '9') || (ch >= 'A' && ch <= 'H') || (ch >= 'J' && ch <= 'N') ||
         (ch >= 'P' && ch <= 'Z') || (ch >= 'a' && ch <= 'k') || (ch >= 'm' && ch <= 'z');
}

/* Recognizes "Program <id> invoke [<n>]" with the same rule as
 * log_events_scan (id: 32..44 base58 characters), so that ordinals agree.
 * Returns true and writes the id (id must hold 45 bytes) and the depth (0
 * when [n] is malformed). */
static bool invoke_line(const char *line, char id[CB_PUBKEY_B58_MAX], uint32_t *depth) {
  static const char pre[] = "Program ";
  static const char mid[] = " invoke [";
  if (strncmp(line, pre, sizeof pre - 1) != 0) return false;
  const char *p = line + sizeof pre - 1;
  size_t n = 0;
  while (p[n] && p[n] != ' ') {
    if (!b58_char(p[n])) return false;
    n++;
  }
  if (n < 32 || n > 44 || strncmp(p + n, mid, sizeof mid - 1) != 0) return false;
  const char *d = p + n + sizeof mid - 1;
  uint32_t v = 0;
  size_t nd = 0;
  while (*d >= '0' && *d <= '9' && nd < 6) {
    v = v * 10u + (uint32_t)(*d - '0');
    d++;
    nd++;
  }
  *depth = (nd > 0 && *d == ']') ? v : 0;
  memcpy(id, p, n);
  id[n] = '\0';
  return true;
}

static bool log_truncated_line(const char *line) {
  return strncmp(line, "Log truncated", 13) == 0;
}

/* Invoke-line ordinal -> flattened instruction index (see txn.h).
 * Aligning stops at the first disagreement; nothing is logged after "Log
 * truncated". */
int txn_invoke_map(const txn_t *tx, uint32_t **map_out, uint32_t **depth_out, size_t *n_out) {
  size_t n_inv = 0, n_lines = 0;
  char id[CB_PUBKEY_B58_MAX];
  uint32_t d;
  *map_out = NULL;
  *depth_out = NULL;
  *n_out = 0;
  for (; n_lines < tx->n_logs && !log_truncated_line(tx->logs[n_lines]); n_lines++)
    if (invoke_line(tx->logs[n_lines], id, &d)) n_inv++;
  if (n_inv == 0) return TXN_OK;
  uint32_t *map = malloc(n_inv * sizeof *map);
  uint32_t *depth = malloc(n_inv * sizeof *depth);
  if (!map || !depth) {
    free(map);
    free(depth);
    return TXN_ERR_NOMEM;
  }
  size_t k = 0, j = 0;
  bool aligned = true;
  for (size_t i = 0; i < n_lines; i++) {
    if (!invoke_line(tx->logs[i], id, &d)) continue;
    depth[k] = d;
    map[k] = UINT32_MAX;
    if (aligned) {
      while (j < tx->n_ix && strcmp(tx->ix[j].program_id, id) != 0 &&
             is_precompile(tx->ix[j].program_id))
        j++;
      if (j < tx->n_ix && strcmp(tx->ix[j].program_id, id) == 0) {
        map[k] = (uint32_t)j;
        j++;
      } else {
        aligned = false;
      }
    }
    k++;
  }
  *map_out = map;
  *depth_out = depth;
  *n_out = n_inv;
  return TXN_OK;
}

/* ---- txn_parse --------------------------------------------------------- */

static int parse_keys_json(pstate_t *s, const json_t *msg, const json_t *meta, size_t *n_static) {
  const json_t *ak = json_object_get(msg, "accountKeys");
  const json_t *hdr = json_object_get(msg, "header");
  uint64_t nreq, nros, nrou;
  if (!json_is_object(hdr) || jsonx_get_u64(hdr, "numRequiredSignatures", &nreq) != 0 ||
      jsonx_get_u64(hdr, "numReadonlySignedAccounts", &nros) != 0 ||
      jsonx_get_u64(hdr, "numReadonlyUnsignedAccounts", &nrou) != 0) {
    seterr(s->err, s->errsz, "message.header missing or malformed");
    return TXN_ERR_FORMAT;
  }
  size_t n = json_array_size(ak);
  const json_t *la = meta ? json_object_get(meta, "loadedAddresses") : NULL;
  size_t nl = loaded_count(la);
  if (n == 0 || n > 256 || nl > 256 || nreq > n || nros > nreq || nrou > n - nreq) {
    seterr(s->err, s->errsz, "message.header inconsistent with %zu accountKeys", n);
    return TXN_ERR_FORMAT;
  }
  int rc = keys_alloc(s, n + nl);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    const char *k = json_string_value(json_array_get(ak, i));
    if (!k) {
      seterr(s->err, s->errsz, "accountKeys[%zu] is not a string", i);
      return TXN_ERR_FORMAT;
    }
    bool w = i < nreq ? i < nreq - nros : i < n - nrou;
    rc = key_push(s, k, w, i < nreq);
    if (rc) return rc;
  }
  *n_static = n;
  size_t nw, nr;
  rc = push_loaded(s, la, &nw, &nr);
  if (rc) return rc;
  /* When the message names its lookups, their sizes must match. */
  const json_t *atl = json_object_get(msg, "addressTableLookups");
  if (json_is_array(atl)) {
    size_t w = 0, r = 0;
    for (size_t i = 0; i < json_array_size(atl); i++) {
      const json_t *l = json_array_get(atl, i);
      w += json_array_size(json_object_get(l, "writableIndexes"));
      r += json_array_size(json_object_get(l, "readonlyIndexes"));
    }
    if (la && !json_is_null(la) && (w != nw || r != nr)) {
      seterr(s->err, s->errsz, "addressTableLookups (%zu+%zu) disagree with loadedAddresses (%zu+%zu)",
             w, r, nw, nr);
      return TXN_ERR_FORMAT;
    }
  }
  return TXN_OK;
}

static int parse_keys_jp(pstate_t *s, const json_t *msg, size_t *n_static) {
  const json_t *ak = json_object_get(msg, "accountKeys");
  size_t n = json_array_size(ak);
  if (n == 0 || n > 256) {
    seterr(s->err, s->errsz, "message.accountKeys empty or too long");
    return TXN_ERR_FORMAT;
  }
  int rc = keys_alloc(s, n);
  if (rc) return rc;
  *n_static = 0;
  for (size_t i = 0; i < n; i++) {
    const json_t *o = json_array_get(ak, i);
    const char *k = json_is_object(o) ? jsonx_get_str(o, "pubkey") : NULL;
    const json_t *w = json_is_object(o) ? json_object_get(o, "writable") : NULL;
    const json_t *sg = json_is_object(o) ? json_object_get(o, "signer") : NULL;
    if (!k || !json_is_boolean(w) || !json_is_boolean(sg)) {
      seterr(s->err, s->errsz, "accountKeys[%zu] is not {pubkey, signer, writable}", i);
      return TXN_ERR_FORMAT;
    }
    const char *src = jsonx_get_str(o, "source");
    if (!src || strcmp(src, "lookupTable") != 0) (*n_static)++;
    rc = key_push(s, k, json_is_true(w), json_is_true(sg));
    if (rc) return rc;
  }
  return TXN_OK;
}

/* Converts wire-format message to key list + top-level instructions. */
static int parse_keys_wire(pstate_t *s, const txmsg_t *m, const json_t *meta, size_t *n_static) {
  const json_t *la = meta ? json_object_get(meta, "loadedAddresses") : NULL;
  size_t nl = loaded_count(la);
  if (nl > 256) {
    seterr(s->err, s->errsz, "loadedAddresses too long");
    return TXN_ERR_FORMAT;
  }
  int rc = keys_alloc(s, (size_t)m->n_keys + nl);
  if (rc) return rc;
  for (size_t i = 0; i < m->n_keys; i++) {
    char b[BASE58_ENCODED_32_SZ];
    base58_encode_32(m->keys + 32 * i, b);
    rc = key_push(s, b, txmsg_is_static_writable(m, i) != 0, i < m->num_required_signatures);
    if (rc) return rc;
  }
  *n_static = m->n_keys;
  size_t nw, nr;
  rc = push_loaded(s, la, &nw, &nr);
  if (rc) return rc;
  if (m->n_lookups && (nw != m->n_loaded_writable || nr != m->n_loaded_readonly)) {
    seterr(s->err, s->errsz,
           "address table lookups (%u+%u) disagree with meta.loadedAddresses (%zu+%zu)",
           (unsigned)m->n_loaded_writable, (unsigned)m->n_loaded_readonly, nw, nr);
    return TXN_ERR_FORMAT;
  }
  if (!m->n_lookups && (nw || nr)) {
    seterr(s->err, s->errsz, "meta.loadedAddresses without address table lookups");
    return TXN_ERR_FORMAT;
  }
  return TXN_OK;
}

static int cmp_group(const void *a, const void *b) {
  const size_t *x = a, *y = b; /* [index, position] pairs */
  if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
  return x[1] < y[1] ? -1 : (x[1] > y[1]);
}

int txn_parse(const json_t *tx_result, const txn_block_t *block, txn_t **out, char *err,
              size_t errsz) {
  int rc = TXN_OK;
  txn_full_t *t = NULL;
  pstate_t s;
  pix_t *top = NULL, *flat = NULL;
  size_t n_top = 0, n_flat = 0;
  size_t *groups = NULL;
  uint8_t *wire = NULL;
  txmsg_t m;
  memset(&m, 0, sizeof m);
  memset(&s, 0, sizeof s);
  *out = NULL;
  if (err && errsz) err[0] = '\0';

  if (!json_is_object(tx_result)) {
    seterr(err, errsz, "transaction is not a JSON object");
    return TXN_ERR_FORMAT;
  }
  t = calloc(1, sizeof *t);
  if (!t) return TXN_ERR_NOMEM;
  t->pub.priv = &t->priv;
  t->pub.version = -1;
  s.t = t;
  s.a = &t->priv;
  s.err = err;
  s.errsz = errsz;
  txn_t *tx = &t->pub;

  /* slot, block time */
  {
    const json_t *v = json_object_get(tx_result, "slot");
    if (v && jsonx_u64(v, &tx->slot) != 0) {
      seterr(err, errsz, "bad slot");
      rc = TXN_ERR_FORMAT;
      goto out;
    }
    v = json_object_get(tx_result, "blockTime");
    if (v && !json_is_null(v)) {
      if (jsonx_i64(v, &tx->block_time) != 0) {
        seterr(err, errsz, "bad blockTime");
        rc = TXN_ERR_FORMAT;
        goto out;
      }
      tx->has_block_time = true;
    }
    if (block) {
      tx->slot = block->slot;
      if (block->has_block_time) {
        tx->has_block_time = true;
        tx->block_time = block->block_time;
      }
      if (block->has_block_height) {
        tx->has_block_height = true;
        tx->block_height = block->block_height;
      }
    }
    v = json_object_get(tx_result, "version");
    if (v && !json_is_null(v)) {
      uint64_t ver;
      if (json_is_string(v) && strcmp(json_string_value(v), "legacy") == 0) {
        tx->version = -1;
      } else if (jsonx_u64(v, &ver) == 0 && ver <= 127) {
        tx->version = (int)ver;
      } else {
        seterr(err, errsz, "bad version");
        rc = TXN_ERR_FORMAT;
        goto out;
      }
    }
  }

  const json_t *meta = json_object_get(tx_result, "meta");
  if (meta && json_is_null(meta)) meta = NULL;
  if (meta && !json_is_object(meta)) {
    seterr(err, errsz, "meta is not an object");
    rc = TXN_ERR_FORMAT;
    goto out;
  }
  const json_t *txj = json_object_get(tx_result, "transaction");
  const json_t *msg = NULL;
  size_t n_static = 0;

  if (json_is_array(txj)) {
    /* [payload, "base64" | "base58"] */
    const char *payload = json_string_value(json_array_get(txj, 0));
    const char *enc = json_string_value(json_array_get(txj, 1));
    if (!payload || !enc || json_array_size(txj) != 2) {
      seterr(err, errsz, "transaction array is not [payload, encoding]");
      rc = TXN_ERR_FORMAT;
      goto out;
    }
    size_t plen = strlen(payload), wlen = 0;
    wire = malloc(plen + 1);
    if (!wire) {
      rc = TXN_ERR_NOMEM;
      goto out;
    }
    if (strcmp(enc, "base64") == 0) {
      if (b64_decode_into(payload, plen, wire, plen + 1, &wlen) != 0) {
        seterr(err, errsz, "transaction payload is not base64");
        rc = TXN_ERR_FORMAT;
        goto out;
      }
    } else if (strcmp(enc, "base58") == 0) {
      int r = base58_decode_ref(payload, wire, plen + 1);
      if (r < 0) {
        seterr(err, errsz, "transaction payload is not base58");
        rc = TXN_ERR_FORMAT;
        goto out;
      }
      wlen = (size_t)r;
    } else {
      seterr(err, errsz, "unsupported transaction encoding \"%s\"", enc);
      rc = TXN_ERR_FORMAT;
      goto out;
    }
    tx->encoding = TXN_ENC_BASE64;
    size_t eoff = 0;
    int mr = txmsg_parse(wire, wlen, &m, &eoff);
    if (mr != TXMSG_OK) {
      seterr(err, errsz, "transaction bytes: %s at byte %zu", txmsg_strerror(mr), eoff);
      rc = mr == TXMSG_ERR_NOMEM ? TXN_ERR_NOMEM : TXN_ERR_WIRE;
      goto out;
    }
    if (json_object_get(tx_result, "version") && tx->version != m.version) {
      seterr(err, errsz, "version field disagrees with the message");
      rc = TXN_ERR_FORMAT;
      goto out;
    }
    tx->version = m.version;
    if ((rc = parse_keys_wire(&s, &m, meta, &n_static)) != 0) goto out;
    /* signatures */
    char **sigs = arena_alloc(s.a, (m.n_signatures ? m.n_signatures : 1) * sizeof *sigs);
    if (!sigs) {
      rc = TXN_ERR_NOMEM;
      goto out;
    }
    for (size_t i = 0; i < m.n_signatures; i++) {
      char b[BASE58_ENCODED_64_SZ];
      base58_encode_64(m.signatures + 64 * i, b);
      if (!(sigs[i] = arena_strdup(s.a, b))) {
        rc = TXN_ERR_NOMEM;
        goto out;
      }
    }
    tx->signatures = (const char *const *)sigs;
    tx->n_signatures = m.n_signatures;
    /* top-level instructions */
    n_top = m.n_ix;
    top = calloc(n_top ? n_top : 1, sizeof *top);
    if (!top) {
      rc = TXN_ERR_NOMEM;
      goto out;
    }
    for (size_t i = 0; i < n_top; i++) {
      const txmsg_ix_t *wi = &m.ix[i];
      pix_t *p = &top[i];
      p->program = wi->program_id_index;
      p->has_accounts = true;
      p->n_accounts = wi->n_accounts;
      p->accounts = arena_alloc(s.a, (p->n_accounts ? p->n_accounts : 1) * sizeof(uint16_t));
      p->has_data = true;
      p->data_len = wi->data_len;
      p->data = arena_alloc(s.a, p->data_len ? p->data_len : 1);
      if (!p->accounts || !p->data) {
        rc = TXN_ERR_NOMEM;
        goto out;
      }
      for (size_t a = 0; a < p->n_accounts; a++) {
        if (wi->accounts[a] >= s.n_keys) {
          seterr(err, errsz, "instruction %zu account %zu: index %u outside %zu keys", i, a,
                 (unsigned)wi->accounts[a], s.n_keys);
          rc = TXN_ERR_INDEX;
          goto out;
        }
        p->accounts[a] = wi->accounts[a];
      }
      if (p->data_len) memcpy(p->data, wi->data, p->data_len);
    }
  } else if (json_is_object(txj)) {
    msg = json_object_get(txj, "message");
    const json_t *ak = json_object_get(msg, "accountKeys");
    const json_t *sigs_j = json_object_get(txj, "signatures");
    if (!json_is_object(msg) || !json_is_array(ak) || json_array_size(ak) == 0 ||
        !json_is_array(sigs_j)) {
      seterr(err, errsz, "transaction without message.accountKeys / signatures");
      rc = TXN_ERR_FORMAT;
      goto out;
    }
    if (json_is_string(json_array_get(ak, 0))) {
      tx->encoding = TXN_ENC_JSON;
      rc = parse_keys_json(&s, msg, meta, &n_static);
    } else {
      tx->encoding = TXN_ENC_JSON_PARSED;
      rc = parse_keys_jp(&s, msg, &n_static);
    }
    if (rc) goto out;
    size_t ns = json_array_size(sigs_j);
    char **sigs = arena_alloc(s.a, (ns ? ns : 1) * sizeof *sigs);
    if (!sigs) {
      rc = TXN_ERR_NOMEM;
      goto out;
    }
    for (size_t i = 0; i < ns; i++) {
      const char *sg = json_string_value(json_array_get(sigs_j, i));
      uint8_t tmp[64];
      if (!sg || base58_decode_64(sg, tmp) != 0) {
        seterr(err, errsz, "signatures[%zu] is not a base58 signature", i);
        rc = TXN_ERR_FORMAT;
        goto out;
      }
      if (!(sigs[i] = arena_strdup(s.a, sg))) {
        rc = TXN_ERR_NOMEM;
        goto out;
      }
    }
    tx->signatures = (const char *const *)sigs;
    tx->n_signatures = ns;
    const json_t *ixs = json_object_get(msg, "instructions");
    if (!json_is_array(ixs)) {
      seterr(err, errsz, "message.instructions is not an array");
      rc = TXN_ERR_FORMAT;
      goto out;
    }
    n_top = json_array_size(ixs);
    top = calloc(n_top ? n_top : 1, sizeof *top);
    if (!top) {
      rc = TXN_ERR_NOMEM;
      goto out;
    }
    for (size_t i = 0; i < n_top; i++) {
      const json_t *o = json_array_get(ixs, i);
      rc = tx->encoding == TXN_ENC_JSON ? parse_compiled_ix(&s, o, &top[i])
                                        : parse_jp_ix(&s, o, &top[i]);
      if (rc) {
        if (err && errsz) {
          char tmp[200];
          snprintf(tmp, sizeof tmp, "%s", err);
          seterr(err, errsz, "instructions[%zu]: %s", i, tmp);
        }
        goto out;
      }
    }
  } else {
    seterr(err, errsz, "transaction is neither an object nor [payload, encoding]");
    rc = TXN_ERR_FORMAT;
    goto out;
  }
  for (size_t i = 0; i < n_top; i++) {
    top[i].stack_height = 1;
    top[i].has_stack_height = true;
    top[i].top_index = (uint32_t)i;
  }

  if (tx->n_signatures > 0) {
    if (strlen(tx->signatures[0]) >= sizeof tx->signature) {
      rc = TXN_ERR_FORMAT;
      goto out;
    }
    memcpy(tx->signature, tx->signatures[0], strlen(tx->signatures[0]) + 1);
  }

  /* meta: fee, err, logs, inner instructions */
  const json_t *inner = NULL;
  if (meta) {
    tx->has_meta = true;
    const json_t *fee = json_object_get(meta, "fee");
    if (fee && jsonx_u64(fee, &tx->fee) != 0) {
      seterr(err, errsz, "bad meta.fee");
      rc = TXN_ERR_FORMAT;
      goto out;
    }
    const json_t *e = json_object_get(meta, "err");
    if (e && !json_is_null(e)) {
      tx->failed = true;
      char *dump = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
      if (!dump) {
        rc = TXN_ERR_NOMEM;
        goto out;
      }
      copy_utf8_trunc(tx->error_message, sizeof tx->error_message, dump);
      free(dump);
    }
    const json_t *logs = json_object_get(meta, "logMessages");
    if (json_is_array(logs)) {
      size_t nl = json_array_size(logs);
      char **l = arena_alloc(s.a, (nl ? nl : 1) * sizeof *l);
      if (!l) {
        rc = TXN_ERR_NOMEM;
        goto out;
      }
      for (size_t i = 0; i < nl; i++) {
        const char *ls = json_string_value(json_array_get(logs, i));
        if (!ls) {
          seterr(err, errsz, "logMessages[%zu] is not a string", i);
          rc = TXN_ERR_FORMAT;
          goto out;
        }
        if (!(l[i] = arena_strdup(s.a, ls))) {
          rc = TXN_ERR_NOMEM;
          goto out;
        }
      }
      tx->has_logs = true;
      tx->n_logs = nl;
      tx->logs = (const char *const *)l;
    } else if (logs && !json_is_null(logs)) {
      seterr(err, errsz, "logMessages is not an array");
      rc = TXN_ERR_FORMAT;
      goto out;
    }
    inner = json_object_get(meta, "innerInstructions");
    if (inner && json_is_null(inner)) inner = NULL;
    if (inner && !json_is_array(inner)) {
      seterr(err, errsz, "innerInstructions is not an array");
      rc = TXN_ERR_FORMAT;
      goto out;
    }
  }

  /* flatten: top-level i, then its inner group(s), groups sorted by index */
  {
    size_t ng = inner ? json_array_size(inner) : 0, n_inner = 0;
    groups = calloc(ng ? ng * 2 : 1, sizeof *groups);
    if (!groups) {
      rc = TXN_ERR_NOMEM;
      goto out;
    }
    for (size_t g = 0; g < ng; g++) {
      const json_t *gj = json_array_get(inner, g);
      uint64_t idx;
      const json_t *list = json_is_object(gj) ? json_object_get(gj, "instructions") : NULL;
      if (!json_is_array(list) || jsonx_get_u64(gj, "index", &idx) != 0) {
        seterr(err, errsz, "innerInstructions[%zu] is not {index, instructions}", g);
        rc = TXN_ERR_FORMAT;
        goto out;
      }
      if (idx >= n_top) {
        seterr(err, errsz, "innerInstructions[%zu].index %" PRIu64 " outside %zu instructions",
               g, idx, n_top);
        rc = TXN_ERR_INDEX;
        goto out;
      }
      groups[2 * g] = (size_t)idx;
      groups[2 * g + 1] = g;
      n_inner += json_array_size(list);
    }
    qsort(groups, ng, 2 * sizeof *groups, cmp_group);
    n_flat = n_top + n_inner;
    flat = calloc(n_flat ? n_flat : 1, sizeof *flat);
    if (!flat) {
      rc = TXN_ERR_NOMEM;
      goto out;
    }
    size_t f = 0, gi = 0;
    for (size_t i = 0; i < n_top; i++) {
      flat[f++] = top[i];
      for (; gi < ng && groups[2 * gi] == i; gi++) {
        const json_t *list = json_object_get(json_array_get(inner, groups[2 * gi + 1]), "instructions");
        for (size_t k = 0; k < json_array_size(list); k++) {
          const json_t *o = json_array_get(list, k);
          pix_t *p = &flat[f];
          /* jsonParsed inner instructions are in jsonParsed form; the other
           * encodings use the compiled form */
          rc = tx->encoding == TXN_ENC_JSON_PARSED ? parse_jp_ix(&s, o, p)
                                                   : parse_compiled_ix(&s, o, p);
          if (rc) {
            if (err && errsz) {
              char tmp[200];
              snprintf(tmp, sizeof tmp, "%s", err);
              seterr(err, errsz, "innerInstructions[index %zu][%zu]: %s", i, k, tmp);
            }
            goto out;
          }
          p->inner = true;
          p->top_index = (uint32_t)i;
          if (!p->has_stack_height) p->stack_height = 2;
          f++;
        }
      }
    }
  }

  /* publish */
  {
    char **keys = s.keys;
    tx->n_keys = s.n_keys;
    tx->n_static_keys = n_static;
    tx->keys = (const char *const *)keys;
    tx->key_writable = s.writable;
    tx->key_signer = s.signer;
    txn_ix_t *ixs = arena_alloc(s.a, (n_flat ? n_flat : 1) * sizeof *ixs);
    if (!ixs) {
      rc = TXN_ERR_NOMEM;
      goto out;
    }
    for (size_t i = 0; i < n_flat; i++) {
      const pix_t *p = &flat[i];
      txn_ix_t *x = &ixs[i];
      x->index = (uint32_t)i;
      x->top_index = p->top_index;
      x->inner = p->inner;
      x->stack_height = p->stack_height;
      x->has_stack_height = p->has_stack_height;
      x->program_id = keys[p->program];
      x->has_accounts = p->has_accounts;
      x->n_accounts = p->n_accounts;
      x->account_idx = p->accounts;
      const char **acc = arena_alloc(s.a, (p->n_accounts ? p->n_accounts : 1) * sizeof *acc);
      if (!acc) {
        rc = TXN_ERR_NOMEM;
        goto out;
      }
      for (size_t a = 0; a < p->n_accounts; a++) acc[a] = keys[p->accounts[a]];
      x->accounts = acc;
      x->has_data = p->has_data;
      x->data = p->data;
      x->data_len = p->data_len;
    }
    tx->ix = ixs;
    tx->n_ix = n_flat;
    tx->n_top = n_top;
  }

  /* stack heights the node did not record: from the log's invoke depths */
  {
    bool missing = false;
    for (size_t i = 0; i < tx->n_ix; i++)
      if (!tx->ix[i].has_stack_height) missing = true;
    if (missing && tx->has_logs) {
      uint32_t *map = NULL, *depth = NULL;
      size_t n_inv = 0;
      if ((rc = txn_invoke_map(tx, &map, &depth, &n_inv)) != 0) goto out;
      txn_ix_t *ixs = (txn_ix_t *)tx->ix;
      for (size_t k = 0; k < n_inv; k++) {
        if (map[k] == UINT32_MAX) continue;
        txn_ix_t *x = &ixs[map[k]];
        if (!x->has_stack_height && depth[k] >= 2) {
          x->stack_height = depth[k];
          x->has_stack_height = true;
        }
      }
      free(map);
      free(depth);
    }
  }

out:
  free(top);
  free(flat);
  free(groups);
  txmsg_free(&m);
  free(wire);
  if (rc != TXN_OK) {
    if (err && errsz && err[0] == '\0') seterr(err, errsz, "%s", txn_strerror(rc));
    if (t) {
      arena_free(&t->priv);
      free(t);
    }
    return rc;
  }
  *out = &t->pub;
  return TXN_OK;
}

void txn_set_block_height(txn_t *tx, uint64_t block_height) {
  tx->has_block_height = true;
  tx->block_height = block_height;
}

void txn_free(txn_t *tx) {
  if (!tx) return;
  txn_full_t *t = (txn_full_t *)tx;
  arena_free(&t->priv);
  free(t);
}

bool txn_touches_program(const txn_t *tx, const char *program_id) {
  for (size_t i = 0; i < tx->n_ix; i++)
    if (strcmp(tx->ix[i].program_id, program_id) == 0) return true;
  for (size_t i = 0; i < tx->n_keys; i++)
    if (strcmp(tx->keys[i], program_id) == 0) return true;
  return false;
}

