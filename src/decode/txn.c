/* Normalized transactions (json / base64 / jsonParsed): txn_parse and its
 * phases (context, message, meta, flattening, publishing), the invoke map
 * and closed accounts. The message itself is read by txn_message.c. */
#include "txn.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "log.h"
#include "txn_internal.h"

/* ---- arena ------------------------------------------------------------ */

struct txn_arena_blk {
  struct txn_arena_blk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

typedef struct txn_full {
  txn_t pub;
  struct txn_priv priv;
} txn_full_t;

void *txn_arena_alloc(struct txn_priv *a, size_t n) {
  n = (n + 15u) & ~(size_t)15u;
  if (n == 0) n = 16;
  struct txn_arena_blk *b = a->blocks;
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

char *txn_arena_strdup(struct txn_priv *a, const char *s) {
  size_t n = strlen(s);
  char *p = txn_arena_alloc(a, n + 1);
  if (p) memcpy(p, s, n + 1);
  return p;
}

static void arena_free(struct txn_priv *a) {
  struct txn_arena_blk *b = a->blocks;
  while (b) {
    struct txn_arena_blk *n = b->next;
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

/* Copies src into dst (size dstsz) cutting at a UTF-8 character boundary. */
static void copy_utf8_trunc(char *dst, size_t dstsz, const char *src) {
  size_t n = strlen(src);
  if (dstsz == 0) return;
  if (n >= dstsz) {
    n = dstsz - 1;
    /* back off continuation bytes so no sequence is cut */
    while (n > 0 && ((unsigned char)src[n] & 0xC0u) == 0x80u)
      n--;
  }
  memcpy(dst, src, n);
  dst[n] = '\0';
}

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

/* ---- invoke map --------------------------------------------------------- */

static bool is_precompile(const char *pid) {
  return strcmp(pid, "Ed25519SigVerify111111111111111111111111111") == 0 ||
         strcmp(pid, "KeccakSecp256k11111111111111111111111111111") == 0 ||
         strcmp(pid, "Secp256r1SigVerify1111111111111111111111111") == 0;
}

static bool log_truncated_line(const char *line) {
  return strncmp(line, "Log truncated", 13) == 0;
}

static bool id_is(const log_events_line_t *l, const char *program_id) {
  return strlen(program_id) == l->id_len && memcmp(program_id, l->id, l->id_len) == 0;
}

/* Invoke-line ordinal -> flattened instruction index (see txn.h). The
 * lines are recognized by log_events_parse_line, as in log_events_scan, so
 * that ordinals agree. Aligning stops at the first disagreement; nothing is
 * logged after "Log truncated". */
int txn_invoke_map(const txn_t *tx, uint32_t **map_out, uint32_t **depth_out, size_t *n_out) {
  size_t n_inv = 0, n_lines = 0;
  log_events_line_t l;
  *map_out = NULL;
  *depth_out = NULL;
  *n_out = 0;
  for (; n_lines < tx->n_logs && !log_truncated_line(tx->logs[n_lines]); n_lines++)
    if (log_events_parse_line(tx->logs[n_lines], &l) == LOG_EVENTS_LINE_INVOKE) n_inv++;
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
    if (log_events_parse_line(tx->logs[i], &l) != LOG_EVENTS_LINE_INVOKE) continue;
    depth[k] = l.depth;
    map[k] = UINT32_MAX;
    if (aligned) {
      while (j < tx->n_ix && !id_is(&l, tx->ix[j].program_id) &&
             is_precompile(tx->ix[j].program_id))
        j++;
      if (j < tx->n_ix && id_is(&l, tx->ix[j].program_id)) {
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

/* ---- txn_parse phases ---------------------------------------------------- */

/* slot, blockTime, version of tx_result; the block context overrides. */
static int parse_context(txn_pstate_t *s, const json_t *tx_result, const txn_block_t *block) {
  txn_t *tx = s->tx;
  const json_t *v = json_object_get(tx_result, "slot");
  if (v && jsonx_u64(v, &tx->slot) != 0) {
    log_set_err(s->err, s->errsz, "bad slot");
    return TXN_ERR_FORMAT;
  }
  v = json_object_get(tx_result, "blockTime");
  if (v && !json_is_null(v)) {
    if (jsonx_i64(v, &tx->block_time) != 0) {
      log_set_err(s->err, s->errsz, "bad blockTime");
      return TXN_ERR_FORMAT;
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
      log_set_err(s->err, s->errsz, "bad version");
      return TXN_ERR_FORMAT;
    }
  }
  return TXN_OK;
}

/* meta.err as compact JSON. */
static int parse_error(txn_pstate_t *s, const json_t *meta) {
  const json_t *e = json_object_get(meta, "err");
  if (!e || json_is_null(e)) return TXN_OK;
  s->tx->failed = true;
  char *dump = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!dump) return TXN_ERR_NOMEM;
  copy_utf8_trunc(s->tx->error_message, sizeof s->tx->error_message, dump);
  free(dump);
  return TXN_OK;
}

/* meta.logMessages (array, null or absent). */
static int parse_logs(txn_pstate_t *s, const json_t *meta) {
  const json_t *logs = json_object_get(meta, "logMessages");
  if (!logs || json_is_null(logs)) return TXN_OK;
  if (!json_is_array(logs)) {
    log_set_err(s->err, s->errsz, "logMessages is not an array");
    return TXN_ERR_FORMAT;
  }
  size_t nl = json_array_size(logs);
  char **l = txn_arena_alloc(s->a, (nl ? nl : 1) * sizeof *l);
  if (!l) return TXN_ERR_NOMEM;
  for (size_t i = 0; i < nl; i++) {
    const char *ls = json_string_value(json_array_get(logs, i));
    if (!ls) {
      log_set_err(s->err, s->errsz, "logMessages[%zu] is not a string", i);
      return TXN_ERR_FORMAT;
    }
    if (!(l[i] = txn_arena_strdup(s->a, ls))) return TXN_ERR_NOMEM;
  }
  s->tx->has_logs = true;
  s->tx->n_logs = nl;
  s->tx->logs = (const char *const *)l;
  return TXN_OK;
}

/* One of meta.preBalances / meta.postBalances: n_keys exact u64 values. */
static int read_balances(txn_pstate_t *s, const json_t *arr, const char *name, uint64_t **out) {
  size_t n = json_array_size(arr);
  if (n != s->n_keys) {
    log_set_err(s->err, s->errsz, "meta.%s has %zu entries for %zu account keys", name, n,
                s->n_keys);
    return TXN_ERR_FORMAT;
  }
  uint64_t *v = txn_arena_alloc(s->a, (n ? n : 1) * sizeof *v);
  if (!v) return TXN_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    if (jsonx_u64(json_array_get(arr, i), &v[i]) != 0) {
      log_set_err(s->err, s->errsz, "meta.%s[%zu] is not a u64", name, i);
      return TXN_ERR_FORMAT;
    }
  }
  *out = v;
  return TXN_OK;
}

/* meta.preBalances / meta.postBalances, aligned with the key list. Both
 * absent (or null): no balances. One without the other, a non-array or a
 * length other than the key count: TXN_ERR_FORMAT. */
static int parse_balances(txn_pstate_t *s, const json_t *meta) {
  const json_t *pre = json_object_get(meta, "preBalances");
  const json_t *post = json_object_get(meta, "postBalances");
  if (pre && json_is_null(pre)) pre = NULL;
  if (post && json_is_null(post)) post = NULL;
  if (!pre && !post) return TXN_OK;
  if (!json_is_array(pre) || !json_is_array(post)) {
    log_set_err(s->err, s->errsz, "meta.preBalances / postBalances: both must be arrays");
    return TXN_ERR_FORMAT;
  }
  uint64_t *pv = NULL, *qv = NULL;
  int rc = read_balances(s, pre, "preBalances", &pv);
  if (rc == TXN_OK) rc = read_balances(s, post, "postBalances", &qv);
  if (rc != TXN_OK) return rc;
  s->tx->has_balances = true;
  s->tx->pre_balances = pv;
  s->tx->post_balances = qv;
  return TXN_OK;
}

/* meta: fee, err, logs, balances; *inner = meta.innerInstructions or NULL. */
static int parse_meta(txn_pstate_t *s, const json_t *meta, const json_t **inner) {
  *inner = NULL;
  if (!meta) return TXN_OK;
  s->tx->has_meta = true;
  const json_t *fee = json_object_get(meta, "fee");
  if (fee && jsonx_u64(fee, &s->tx->fee) != 0) {
    log_set_err(s->err, s->errsz, "bad meta.fee");
    return TXN_ERR_FORMAT;
  }
  int rc;
  if ((rc = parse_error(s, meta)) != 0) return rc;
  if ((rc = parse_logs(s, meta)) != 0) return rc;
  if ((rc = parse_balances(s, meta)) != 0) return rc;
  const json_t *in = json_object_get(meta, "innerInstructions");
  if (in && json_is_null(in)) in = NULL;
  if (in && !json_is_array(in)) {
    log_set_err(s->err, s->errsz, "innerInstructions is not an array");
    return TXN_ERR_FORMAT;
  }
  *inner = in;
  return TXN_OK;
}

static int cmp_group(const void *a, const void *b) {
  const size_t *x = a, *y = b; /* [index, position] pairs */
  if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
  return x[1] < y[1] ? -1 : (x[1] > y[1]);
}

/* Sorts the inner groups by top-level index into groups ([index, position]
 * pairs, malloc'd) and counts their instructions. */
static int inner_groups(txn_pstate_t *s, const json_t *inner, size_t **groups_out,
                        size_t *n_inner) {
  size_t ng = inner ? json_array_size(inner) : 0;
  size_t *groups = calloc(ng ? ng * 2 : 1, sizeof *groups);
  *groups_out = groups;
  *n_inner = 0;
  if (!groups) return TXN_ERR_NOMEM;
  for (size_t g = 0; g < ng; g++) {
    const json_t *gj = json_array_get(inner, g);
    uint64_t idx;
    const json_t *list = json_is_object(gj) ? json_object_get(gj, "instructions") : NULL;
    if (!json_is_array(list) || jsonx_get_u64(gj, "index", &idx) != 0) {
      log_set_err(s->err, s->errsz, "innerInstructions[%zu] is not {index, instructions}", g);
      return TXN_ERR_FORMAT;
    }
    if (idx >= s->n_top) {
      log_set_err(s->err, s->errsz,
                  "innerInstructions[%zu].index %" PRIu64 " outside %zu instructions", g, idx,
                  s->n_top);
      return TXN_ERR_INDEX;
    }
    groups[2 * g] = (size_t)idx;
    groups[2 * g + 1] = g;
    *n_inner += json_array_size(list);
  }
  qsort(groups, ng, 2 * sizeof *groups, cmp_group);
  return TXN_OK;
}

/* Flattens: top-level i, then its inner group(s), groups sorted by index.
 * *flat (malloc'd, caller frees) gets *n_flat entries. */
static int flatten(txn_pstate_t *s, const json_t *inner, txn_pix_t **flat_out, size_t *n_flat) {
  size_t *groups = NULL, n_inner = 0;
  size_t ng = inner ? json_array_size(inner) : 0;
  int rc = inner_groups(s, inner, &groups, &n_inner);
  if (rc) goto out;
  *n_flat = s->n_top + n_inner;
  txn_pix_t *flat = calloc(*n_flat ? *n_flat : 1, sizeof *flat);
  *flat_out = flat;
  if (!flat) {
    rc = TXN_ERR_NOMEM;
    goto out;
  }
  size_t f = 0, gi = 0;
  for (size_t i = 0; i < s->n_top; i++) {
    flat[f++] = s->top[i];
    for (; gi < ng && groups[2 * gi] == i; gi++) {
      const json_t *list =
          json_object_get(json_array_get(inner, groups[2 * gi + 1]), "instructions");
      for (size_t k = 0; k < json_array_size(list); k++) {
        txn_pix_t *p = &flat[f];
        if ((rc = txn_message_inner_ix(s, json_array_get(list, k), p)) != 0) {
          if (s->err && s->errsz) {
            char tmp[200];
            snprintf(tmp, sizeof tmp, "%s", s->err);
            log_set_err(s->err, s->errsz, "innerInstructions[index %zu][%zu]: %s", i, k, tmp);
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
out:
  free(groups);
  return rc;
}

/* Publishes the key list and the flattened instructions into tx. */
static int publish(txn_pstate_t *s, const txn_pix_t *flat, size_t n_flat) {
  txn_t *tx = s->tx;
  tx->n_keys = s->n_keys;
  tx->n_static_keys = s->n_static;
  tx->keys = (const char *const *)s->keys;
  tx->key_writable = s->writable;
  tx->key_signer = s->signer;
  txn_ix_t *ixs = txn_arena_alloc(s->a, (n_flat ? n_flat : 1) * sizeof *ixs);
  if (!ixs) return TXN_ERR_NOMEM;
  for (size_t i = 0; i < n_flat; i++) {
    const txn_pix_t *p = &flat[i];
    txn_ix_t *x = &ixs[i];
    x->index = (uint32_t)i;
    x->top_index = p->top_index;
    x->inner = p->inner;
    x->stack_height = p->stack_height;
    x->has_stack_height = p->has_stack_height;
    x->program_id = s->keys[p->program];
    x->has_accounts = p->has_accounts;
    x->n_accounts = p->n_accounts;
    x->account_idx = p->accounts;
    const char **acc = txn_arena_alloc(s->a, (p->n_accounts ? p->n_accounts : 1) * sizeof *acc);
    if (!acc) return TXN_ERR_NOMEM;
    for (size_t a = 0; a < p->n_accounts; a++)
      acc[a] = s->keys[p->accounts[a]];
    x->accounts = acc;
    x->has_data = p->has_data;
    x->data = p->data;
    x->data_len = p->data_len;
  }
  tx->ix = ixs;
  tx->n_ix = n_flat;
  tx->n_top = s->n_top;
  if (tx->n_signatures > 0) {
    size_t n = strlen(tx->signatures[0]);
    if (n >= sizeof tx->signature) {
      log_set_err(s->err, s->errsz, "first signature too long");
      return TXN_ERR_FORMAT;
    }
    memcpy(tx->signature, tx->signatures[0], n + 1);
  }
  return TXN_OK;
}

/* Stack heights the node did not record: from the log's invoke depths. */
static int stack_heights_from_logs(txn_t *tx) {
  bool missing = false;
  for (size_t i = 0; i < tx->n_ix; i++)
    if (!tx->ix[i].has_stack_height) missing = true;
  if (!missing || !tx->has_logs) return TXN_OK;
  uint32_t *map = NULL, *depth = NULL;
  size_t n_inv = 0;
  int rc = txn_invoke_map(tx, &map, &depth, &n_inv);
  if (rc) return rc;
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
  return TXN_OK;
}

int txn_parse(const json_t *tx_result, const txn_block_t *block, txn_t **out, char *err,
              size_t errsz) {
  int rc = TXN_OK;
  txn_full_t *t = NULL;
  txn_pstate_t s;
  txn_pix_t *flat = NULL;
  size_t n_flat = 0;
  const json_t *meta = NULL, *inner = NULL;
  memset(&s, 0, sizeof s);
  *out = NULL;
  if (err && errsz) err[0] = '\0';
  if (!json_is_object(tx_result)) {
    log_set_err(err, errsz, "transaction is not a JSON object");
    return TXN_ERR_FORMAT;
  }
  t = calloc(1, sizeof *t);
  if (!t) return TXN_ERR_NOMEM;
  t->pub.priv = &t->priv;
  t->pub.version = -1;
  s.tx = &t->pub;
  s.a = &t->priv;
  s.err = err;
  s.errsz = errsz;

  if ((rc = parse_context(&s, tx_result, block)) != 0) goto out;
  meta = json_object_get(tx_result, "meta");
  if (meta && json_is_null(meta)) meta = NULL;
  if (meta && !json_is_object(meta)) {
    log_set_err(err, errsz, "meta is not an object");
    rc = TXN_ERR_FORMAT;
    goto out;
  }
  if ((rc = txn_message_parse(&s, tx_result, meta)) != 0) goto out;
  if ((rc = parse_meta(&s, meta, &inner)) != 0) goto out;
  if ((rc = flatten(&s, inner, &flat, &n_flat)) != 0) goto out;
  if ((rc = publish(&s, flat, n_flat)) != 0) goto out;
  rc = stack_heights_from_logs(&t->pub);

out:
  free(s.top);
  free(flat);
  if (rc != TXN_OK) {
    if (err && errsz && err[0] == '\0') log_set_err(err, errsz, "%s", txn_strerror(rc));
    arena_free(&t->priv);
    free(t);
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

/* True when instruction x passes key k. */
static bool ix_passes_key(const txn_ix_t *x, size_t k) {
  for (size_t a = 0; a < x->n_accounts; a++)
    if (x->account_idx[a] == k) return true;
  return false;
}

size_t txn_closed_accounts(const txn_t *tx, const char *program_id, const char **out, size_t cap) {
  if (!tx || !program_id || tx->failed || !tx->has_balances) return 0;
  size_t n = 0;
  for (size_t k = 0; k < tx->n_keys; k++) {
    if (!tx->key_writable[k] || tx->pre_balances[k] == 0 || tx->post_balances[k] != 0) continue;
    bool passed = false;
    for (size_t i = 0; i < tx->n_ix && !passed; i++) {
      const txn_ix_t *x = &tx->ix[i];
      passed = x->has_accounts && strcmp(x->program_id, program_id) == 0 && ix_passes_key(x, k);
    }
    if (!passed) continue;
    if (out && n < cap) out[n] = tx->keys[k];
    n++;
  }
  return n;
}
