/* The message of a transaction in each RPC encoding: signatures, the key
 * list (static keys, then meta.loadedAddresses writable, then readonly)
 * and the top-level instructions; inner instructions in the same forms.
 * Part of the txn module (see txn.h, txn_internal.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "base58.h"
#include "jsonx.h"
#include "log.h"
#include "txmsg.h"
#include "txn_internal.h"

static bool is_valid_pubkey(const char *s) { return s && base58_text_ok(s, 32); }

/* ---- keys and instructions ---------------------------------------------- */

static int key_find(const txn_pstate_t *s, const char *k) {
  for (size_t i = 0; i < s->n_keys; i++)
    if (strcmp(s->keys[i], k) == 0) return (int)i;
  return -1;
}

/* Allocates the key arrays for n keys. */
static int keys_alloc(txn_pstate_t *s, size_t n) {
  s->keys = txn_arena_alloc(s->a, (n ? n : 1) * sizeof *s->keys);
  s->writable = txn_arena_alloc(s->a, (n ? n : 1) * sizeof *s->writable);
  s->signer = txn_arena_alloc(s->a, (n ? n : 1) * sizeof *s->signer);
  if (!s->keys || !s->writable || !s->signer) return TXN_ERR_NOMEM;
  s->n_keys = 0;
  return TXN_OK;
}

static int key_push(txn_pstate_t *s, const char *k, bool w, bool sg) {
  if (!is_valid_pubkey(k)) {
    log_set_err(s->err, s->errsz, "account key %zu is not a base58 pubkey", s->n_keys);
    return TXN_ERR_FORMAT;
  }
  char *c = txn_arena_strdup(s->a, k);
  if (!c) return TXN_ERR_NOMEM;
  s->keys[s->n_keys] = c;
  s->writable[s->n_keys] = w;
  s->signer[s->n_keys] = sg;
  s->n_keys++;
  return TXN_OK;
}

/* Decodes a base58 string of any length into arena bytes. */
static int b58_data(txn_pstate_t *s, const char *str, uint8_t **out, size_t *outlen) {
  size_t n = strlen(str);
  uint8_t *buf = txn_arena_alloc(s->a, n + 1);
  if (!buf) return TXN_ERR_NOMEM;
  int r = base58_decode_ref(str, buf, n + 1);
  if (r < 0) {
    log_set_err(s->err, s->errsz, "instruction data is not base58");
    return TXN_ERR_FORMAT;
  }
  *out = buf;
  *outlen = (size_t)r;
  return TXN_OK;
}

/* Reads the optional stackHeight member. */
static int read_stack_height(txn_pstate_t *s, const json_t *o, txn_pix_t *ix) {
  const json_t *sh = json_object_get(o, "stackHeight");
  if (!sh || json_is_null(sh)) return TXN_OK;
  uint64_t v;
  if (jsonx_u64(sh, &v) != 0 || v == 0 || v > 64) {
    log_set_err(s->err, s->errsz, "bad stackHeight");
    return TXN_ERR_FORMAT;
  }
  ix->has_stack_height = true;
  ix->stack_height = (uint32_t)v;
  return TXN_OK;
}

/* Gives ix an account index list of n entries (filled by the caller).
 * Returns 0, or -1 when out of memory. */
static int alloc_accounts(txn_pstate_t *s, txn_pix_t *ix, size_t n) {
  ix->has_accounts = true;
  ix->n_accounts = n;
  ix->accounts = txn_arena_alloc(s->a, (n ? n : 1) * sizeof(uint16_t));
  return ix->accounts ? 0 : -1;
}

/* A compiled instruction {programIdIndex, accounts: [int], data: b58}. */
static int parse_compiled_ix(txn_pstate_t *s, const json_t *o, txn_pix_t *ix) {
  uint64_t v;
  if (!json_is_object(o) || jsonx_get_u64(o, "programIdIndex", &v) != 0) {
    log_set_err(s->err, s->errsz, "instruction without programIdIndex");
    return TXN_ERR_FORMAT;
  }
  if (v >= s->n_keys) {
    log_set_err(s->err, s->errsz, "programIdIndex %" PRIu64 " outside %zu keys", v, s->n_keys);
    return TXN_ERR_INDEX;
  }
  ix->program = (uint16_t)v;
  const json_t *acc = json_object_get(o, "accounts");
  if (!json_is_array(acc)) {
    log_set_err(s->err, s->errsz, "instruction without accounts");
    return TXN_ERR_FORMAT;
  }
  if (alloc_accounts(s, ix, json_array_size(acc)) != 0) return TXN_ERR_NOMEM;
  for (size_t i = 0; i < ix->n_accounts; i++) {
    if (jsonx_u64(json_array_get(acc, i), &v) != 0) {
      log_set_err(s->err, s->errsz, "bad account index");
      return TXN_ERR_FORMAT;
    }
    if (v >= s->n_keys) {
      log_set_err(s->err, s->errsz, "account index %" PRIu64 " outside %zu keys", v, s->n_keys);
      return TXN_ERR_INDEX;
    }
    ix->accounts[i] = (uint16_t)v;
  }
  const char *d = jsonx_get_str(o, "data");
  if (!d) {
    log_set_err(s->err, s->errsz, "instruction without data");
    return TXN_ERR_FORMAT;
  }
  ix->has_data = true;
  int rc = b58_data(s, d, &ix->data, &ix->data_len);
  if (rc) return rc;
  return read_stack_height(s, o, ix);
}

/* A jsonParsed instruction: {programId, accounts: [b58], data: b58} or
 * {program, programId, parsed}. */
static int parse_jp_ix(txn_pstate_t *s, const json_t *o, txn_pix_t *ix) {
  const char *pid = json_is_object(o) ? jsonx_get_str(o, "programId") : NULL;
  if (!pid) {
    log_set_err(s->err, s->errsz, "instruction without programId");
    return TXN_ERR_FORMAT;
  }
  int k = key_find(s, pid);
  if (k < 0) {
    log_set_err(s->err, s->errsz, "programId %s not in accountKeys", pid);
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
      log_set_err(s->err, s->errsz, "instruction neither parsed nor {accounts, data}");
      return TXN_ERR_FORMAT;
    }
    if (alloc_accounts(s, ix, json_array_size(acc)) != 0) return TXN_ERR_NOMEM;
    for (size_t i = 0; i < ix->n_accounts; i++) {
      const char *ks = json_string_value(json_array_get(acc, i));
      int ki = ks ? key_find(s, ks) : -1;
      if (ki < 0) {
        log_set_err(s->err, s->errsz, "instruction account %zu not in accountKeys", i);
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
static int push_loaded(txn_pstate_t *s, const json_t *la, size_t *nw, size_t *nr) {
  *nw = *nr = 0;
  if (!la || json_is_null(la)) return TXN_OK;
  const json_t *w = json_object_get(la, "writable");
  const json_t *r = json_object_get(la, "readonly");
  if (!json_is_object(la) || (w && !json_is_array(w)) || (r && !json_is_array(r))) {
    log_set_err(s->err, s->errsz, "bad meta.loadedAddresses");
    return TXN_ERR_FORMAT;
  }
  for (int pass = 0; pass < 2; pass++) {
    const json_t *arr = pass == 0 ? w : r;
    for (size_t i = 0; arr && i < json_array_size(arr); i++) {
      const char *k = json_string_value(json_array_get(arr, i));
      if (!k) {
        log_set_err(s->err, s->errsz, "bad meta.loadedAddresses entry");
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

static int parse_keys_json(txn_pstate_t *s, const json_t *msg, const json_t *meta,
                           size_t *n_static) {
  const json_t *ak = json_object_get(msg, "accountKeys");
  const json_t *hdr = json_object_get(msg, "header");
  uint64_t nreq, nros, nrou;
  if (!json_is_object(hdr) || jsonx_get_u64(hdr, "numRequiredSignatures", &nreq) != 0 ||
      jsonx_get_u64(hdr, "numReadonlySignedAccounts", &nros) != 0 ||
      jsonx_get_u64(hdr, "numReadonlyUnsignedAccounts", &nrou) != 0) {
    log_set_err(s->err, s->errsz, "message.header missing or malformed");
    return TXN_ERR_FORMAT;
  }
  size_t n = json_array_size(ak);
  const json_t *la = meta ? json_object_get(meta, "loadedAddresses") : NULL;
  size_t nl = loaded_count(la);
  if (n == 0 || n > 256 || nl > 256 || nreq > n || nros > nreq || nrou > n - nreq) {
    log_set_err(s->err, s->errsz, "message.header inconsistent with %zu accountKeys", n);
    return TXN_ERR_FORMAT;
  }
  int rc = keys_alloc(s, n + nl);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    const char *k = json_string_value(json_array_get(ak, i));
    if (!k) {
      log_set_err(s->err, s->errsz, "accountKeys[%zu] is not a string", i);
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
      log_set_err(s->err, s->errsz,
                  "addressTableLookups (%zu+%zu) disagree with loadedAddresses (%zu+%zu)", w, r, nw,
                  nr);
      return TXN_ERR_FORMAT;
    }
  }
  return TXN_OK;
}

static int parse_keys_jp(txn_pstate_t *s, const json_t *msg, size_t *n_static) {
  const json_t *ak = json_object_get(msg, "accountKeys");
  size_t n = json_array_size(ak);
  if (n == 0 || n > 256) {
    log_set_err(s->err, s->errsz, "message.accountKeys empty or too long");
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
      log_set_err(s->err, s->errsz, "accountKeys[%zu] is not {pubkey, signer, writable}", i);
      return TXN_ERR_FORMAT;
    }
    const char *src = jsonx_get_str(o, "source");
    if (!src || strcmp(src, "lookupTable") != 0) (*n_static)++;
    rc = key_push(s, k, json_is_true(w), json_is_true(sg));
    if (rc) return rc;
  }
  return TXN_OK;
}

/* The key list of a wire-format message, with meta.loadedAddresses. */
static int parse_keys_wire(txn_pstate_t *s, const txmsg_t *m, const json_t *meta,
                           size_t *n_static) {
  const json_t *la = meta ? json_object_get(meta, "loadedAddresses") : NULL;
  size_t nl = loaded_count(la);
  if (nl > 256) {
    log_set_err(s->err, s->errsz, "loadedAddresses too long");
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
    log_set_err(s->err, s->errsz,
                "address table lookups (%u+%u) disagree with meta.loadedAddresses (%zu+%zu)",
                (unsigned)m->n_loaded_writable, (unsigned)m->n_loaded_readonly, nw, nr);
    return TXN_ERR_FORMAT;
  }
  if (!m->n_lookups && (nw || nr)) {
    log_set_err(s->err, s->errsz, "meta.loadedAddresses without address table lookups");
    return TXN_ERR_FORMAT;
  }
  return TXN_OK;
}

/* ---- wire form: [payload, "base64" | "base58"] --------------------------- */

/* Decodes the payload into a new buffer (*wire, caller frees). */
static int wire_decode(txn_pstate_t *s, const json_t *txj, uint8_t **wire, size_t *wlen) {
  const char *payload = json_string_value(json_array_get(txj, 0));
  const char *enc = json_string_value(json_array_get(txj, 1));
  if (!payload || !enc || json_array_size(txj) != 2) {
    log_set_err(s->err, s->errsz, "transaction array is not [payload, encoding]");
    return TXN_ERR_FORMAT;
  }
  size_t plen = strlen(payload);
  uint8_t *w = malloc(plen + 1);
  if (!w) return TXN_ERR_NOMEM;
  *wire = w;
  if (strcmp(enc, "base64") == 0) {
    if (b64_decode_into(payload, plen, w, plen + 1, wlen) != 0) {
      log_set_err(s->err, s->errsz, "transaction payload is not base64");
      return TXN_ERR_FORMAT;
    }
  } else if (strcmp(enc, "base58") == 0) {
    int r = base58_decode_ref(payload, w, plen + 1);
    if (r < 0) {
      log_set_err(s->err, s->errsz, "transaction payload is not base58");
      return TXN_ERR_FORMAT;
    }
    *wlen = (size_t)r;
  } else {
    log_set_err(s->err, s->errsz, "unsupported transaction encoding \"%s\"", enc);
    return TXN_ERR_FORMAT;
  }
  return TXN_OK;
}

static int wire_signatures(txn_pstate_t *s, const txmsg_t *m) {
  char **sigs = txn_arena_alloc(s->a, (m->n_signatures ? m->n_signatures : 1) * sizeof *sigs);
  if (!sigs) return TXN_ERR_NOMEM;
  for (size_t i = 0; i < m->n_signatures; i++) {
    char b[BASE58_ENCODED_64_SZ];
    base58_encode_64(m->signatures + 64 * i, b);
    if (!(sigs[i] = txn_arena_strdup(s->a, b))) return TXN_ERR_NOMEM;
  }
  s->tx->signatures = (const char *const *)sigs;
  s->tx->n_signatures = m->n_signatures;
  return TXN_OK;
}

static int wire_instructions(txn_pstate_t *s, const txmsg_t *m) {
  s->n_top = m->n_ix;
  s->top = calloc(s->n_top ? s->n_top : 1, sizeof *s->top);
  if (!s->top) return TXN_ERR_NOMEM;
  for (size_t i = 0; i < s->n_top; i++) {
    const txmsg_ix_t *wi = &m->ix[i];
    txn_pix_t *p = &s->top[i];
    p->program = wi->program_id_index;
    p->has_accounts = true;
    p->n_accounts = wi->n_accounts;
    p->accounts = txn_arena_alloc(s->a, (p->n_accounts ? p->n_accounts : 1) * sizeof(uint16_t));
    p->has_data = true;
    p->data_len = wi->data_len;
    p->data = txn_arena_alloc(s->a, p->data_len ? p->data_len : 1);
    if (!p->accounts || !p->data) return TXN_ERR_NOMEM;
    for (size_t a = 0; a < p->n_accounts; a++) {
      if (wi->accounts[a] >= s->n_keys) {
        log_set_err(s->err, s->errsz, "instruction %zu account %zu: index %u outside %zu keys", i,
                    a, (unsigned)wi->accounts[a], s->n_keys);
        return TXN_ERR_INDEX;
      }
      p->accounts[a] = wi->accounts[a];
    }
    if (p->data_len) memcpy(p->data, wi->data, p->data_len);
  }
  return TXN_OK;
}

static int message_wire(txn_pstate_t *s, const json_t *tx_result, const json_t *txj,
                        const json_t *meta) {
  uint8_t *wire = NULL;
  size_t wlen = 0, eoff = 0;
  txmsg_t m;
  memset(&m, 0, sizeof m);
  int rc = wire_decode(s, txj, &wire, &wlen);
  if (rc) goto out;
  s->tx->encoding = TXN_ENC_BASE64;
  int mr = txmsg_parse(wire, wlen, &m, &eoff);
  if (mr != TXMSG_OK) {
    log_set_err(s->err, s->errsz, "transaction bytes: %s at byte %zu", txmsg_strerror(mr), eoff);
    rc = mr == TXMSG_ERR_NOMEM ? TXN_ERR_NOMEM : TXN_ERR_WIRE;
    goto out;
  }
  if (json_object_get(tx_result, "version") && s->tx->version != m.version) {
    log_set_err(s->err, s->errsz, "version field disagrees with the message");
    rc = TXN_ERR_FORMAT;
    goto out;
  }
  s->tx->version = m.version;
  if ((rc = parse_keys_wire(s, &m, meta, &s->n_static)) != 0) goto out;
  if ((rc = wire_signatures(s, &m)) != 0) goto out;
  rc = wire_instructions(s, &m);
out:
  txmsg_free(&m);
  free(wire);
  return rc;
}

/* ---- json and jsonParsed forms ------------------------------------------ */

static int json_signatures(txn_pstate_t *s, const json_t *sigs_j) {
  size_t ns = json_array_size(sigs_j);
  char **sigs = txn_arena_alloc(s->a, (ns ? ns : 1) * sizeof *sigs);
  if (!sigs) return TXN_ERR_NOMEM;
  for (size_t i = 0; i < ns; i++) {
    const char *sg = json_string_value(json_array_get(sigs_j, i));
    if (!sg || !base58_text_ok(sg, 64)) {
      log_set_err(s->err, s->errsz, "signatures[%zu] is not a base58 signature", i);
      return TXN_ERR_FORMAT;
    }
    if (!(sigs[i] = txn_arena_strdup(s->a, sg))) return TXN_ERR_NOMEM;
  }
  s->tx->signatures = (const char *const *)sigs;
  s->tx->n_signatures = ns;
  return TXN_OK;
}

/* Prefixes s->err with what (the failing element). */
static void err_prefix(txn_pstate_t *s, const char *what) {
  if (s->err && s->errsz) {
    char tmp[200];
    snprintf(tmp, sizeof tmp, "%s", s->err);
    log_set_err(s->err, s->errsz, "%s: %s", what, tmp);
  }
}

static int json_instructions(txn_pstate_t *s, const json_t *msg) {
  const json_t *ixs = json_object_get(msg, "instructions");
  if (!json_is_array(ixs)) {
    log_set_err(s->err, s->errsz, "message.instructions is not an array");
    return TXN_ERR_FORMAT;
  }
  s->n_top = json_array_size(ixs);
  s->top = calloc(s->n_top ? s->n_top : 1, sizeof *s->top);
  if (!s->top) return TXN_ERR_NOMEM;
  for (size_t i = 0; i < s->n_top; i++) {
    const json_t *o = json_array_get(ixs, i);
    int rc = s->tx->encoding == TXN_ENC_JSON ? parse_compiled_ix(s, o, &s->top[i])
                                             : parse_jp_ix(s, o, &s->top[i]);
    if (rc) {
      char what[48];
      snprintf(what, sizeof what, "instructions[%zu]", i);
      err_prefix(s, what);
      return rc;
    }
  }
  return TXN_OK;
}

static int message_json(txn_pstate_t *s, const json_t *txj, const json_t *meta) {
  const json_t *msg = json_object_get(txj, "message");
  const json_t *ak = json_object_get(msg, "accountKeys");
  const json_t *sigs_j = json_object_get(txj, "signatures");
  if (!json_is_object(msg) || !json_is_array(ak) || json_array_size(ak) == 0 ||
      !json_is_array(sigs_j)) {
    log_set_err(s->err, s->errsz, "transaction without message.accountKeys / signatures");
    return TXN_ERR_FORMAT;
  }
  int rc;
  if (json_is_string(json_array_get(ak, 0))) {
    s->tx->encoding = TXN_ENC_JSON;
    rc = parse_keys_json(s, msg, meta, &s->n_static);
  } else {
    s->tx->encoding = TXN_ENC_JSON_PARSED;
    rc = parse_keys_jp(s, msg, &s->n_static);
  }
  if (rc) return rc;
  if ((rc = json_signatures(s, sigs_j)) != 0) return rc;
  return json_instructions(s, msg);
}

int txn_message_parse(txn_pstate_t *s, const json_t *tx_result, const json_t *meta) {
  const json_t *txj = json_object_get(tx_result, "transaction");
  int rc;
  if (json_is_array(txj)) {
    rc = message_wire(s, tx_result, txj, meta);
  } else if (json_is_object(txj)) {
    rc = message_json(s, txj, meta);
  } else {
    log_set_err(s->err, s->errsz, "transaction is neither an object nor [payload, encoding]");
    rc = TXN_ERR_FORMAT;
  }
  if (rc) return rc;
  for (size_t i = 0; i < s->n_top; i++) {
    s->top[i].stack_height = 1;
    s->top[i].has_stack_height = true;
    s->top[i].top_index = (uint32_t)i;
  }
  return TXN_OK;
}

int txn_message_inner_ix(txn_pstate_t *s, const json_t *o, txn_pix_t *ix) {
  /* jsonParsed inner instructions are in jsonParsed form; the other
   * encodings use the compiled form */
  return s->tx->encoding == TXN_ENC_JSON_PARSED ? parse_jp_ix(s, o, ix)
                                                : parse_compiled_ix(s, o, ix);
}
