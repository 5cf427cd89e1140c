/* Synthesized answers of the replay server (replay_store.h,
 * replay_store_synth): getMultipleAccounts, getAccountInfo,
 * getProgramAccounts and getBlocks served from a scenario's accounts.json
 * and expected.json meta, as a node would. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "base58.h"
#include "jsonx.h"
#include "replay_store.h"
#include "replay_store_priv.h"

#define SYNTH_API_VERSION "2.0.15"
#define SYNTH_MAX_MULTIPLE_ACCOUNTS 100 /* a node's getMultipleAccounts limit */
#define SYNTH_MAX_BLOCKS_RANGE 500000   /* a node's getBlocks range limit */
#define SYNTH_MAX_FILTERS 4             /* a node's getProgramAccounts filter limit */
#define SYNTH_MAX_MEMCMP 128            /* a node's memcmp bytes limit */

typedef struct synth_acct {
  char *pubkey;   /* base58 */
  char *owner;    /* base58 */
  char *data_b64; /* as in accounts.json (strictly validated, so canonical) */
  uint8_t *data;
  size_t data_len;
  uint64_t lamports, rent_epoch, slot;
  int executable;
} synth_acct_t;

/* Maps path read-only. Returns 0, 1 if the file does not exist, -1 with a
 * message in err. An empty file maps as len 0, *text = NULL. */
static int synth_map(const char *path, const char **text, size_t *len, char *err, size_t errsz) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  *text = NULL;
  *len = 0;
  if (fd < 0) {
    if (errno == ENOENT) return 1;
    snprintf(err, errsz, "%s: %s", path, strerror(errno));
    return -1;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errsz, "%s: not a regular file", path);
    close(fd);
    return -1;
  }
  if (st.st_size > 0) {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      snprintf(err, errsz, "%s: mmap: %s", path, strerror(errno));
      close(fd);
      return -1;
    }
    *text = p;
    *len = (size_t)st.st_size;
  }
  close(fd);
  return 0;
}

static void synth_unmap(const char *text, size_t len) {
  if (text) munmap((void *)text, len);
}

static void synth_acct_free(synth_acct_t *a) {
  free(a->pubkey);
  free(a->owner);
  free(a->data_b64);
  free(a->data);
}

/* Optional u64 member: absent keeps *out; present must be a u64. */
static int synth_opt_u64(const json_t *obj, const char *key, uint64_t *out) {
  const json_t *v = json_object_get(obj, key);
  return v ? jsonx_u64(v, out) : 0;
}

/* Fills a from one accounts.json entry. Returns 0, or -1 with *why. */
static int synth_parse_account(synth_acct_t *a, const char *key, const json_t *v,
                               const char **why) {
  uint8_t k32[32];
  const char *owner = jsonx_get_str(v, "owner");
  const char *data = jsonx_get_str(v, "data");
  const json_t *exe = json_object_get(v, "executable");
  uint64_t space;
  const char *e = NULL;
  memset(a, 0, sizeof *a);
  a->rent_epoch = UINT64_MAX;
  if (base58_decode_32(key, k32) != 0)
    e = "pubkey is not base58 of 32 bytes";
  else if (!json_is_object(v))
    e = "not an object";
  else if (jsonx_get_u64(v, "lamports", &a->lamports) != 0)
    e = "lamports is not a u64";
  else if (!owner || base58_decode_32(owner, k32) != 0)
    e = "owner is not a base58 pubkey";
  else if (!data)
    e = "data is not a string";
  else if (synth_opt_u64(v, "rentEpoch", &a->rent_epoch) != 0)
    e = "rentEpoch is not a u64";
  else if (synth_opt_u64(v, "slot", &a->slot) != 0)
    e = "slot is not a u64";
  else if (exe && !json_is_boolean(exe))
    e = "executable is not a boolean";
  else if (b64_decode(data, strlen(data), &a->data, &a->data_len) != 0)
    e = "data is not padded base64";
  else if (json_object_get(v, "space") &&
           (jsonx_get_u64(v, "space", &space) != 0 || space != a->data_len))
    e = "space is not the decoded data length";
  else if (!(a->pubkey = strdup(key)) || !(a->owner = strdup(owner)) ||
           !(a->data_b64 = strdup(data)))
    e = "out of memory";
  a->executable = exe && json_is_true(exe);
  *why = e;
  return e ? -1 : 0;
}

static int synth_load_accounts(replay_store_t *s, const char *path, char *err, size_t errsz) {
  const char *text;
  size_t len;
  char perr[200];
  const char *key, *why = NULL;
  json_t *val, *doc = NULL;
  int rc = synth_map(path, &text, &len, err, errsz);
  if (rc != 0) return rc > 0 ? 0 : -1;
  rc = -1;
  doc = jsonx_loads(text ? text : "", len, perr, sizeof perr);
  if (!doc) {
    snprintf(err, errsz, "%s: %s", path, perr);
    goto out;
  }
  if (!json_is_object(doc)) {
    snprintf(err, errsz, "%s: not a JSON object", path);
    goto out;
  }
  s->accts = calloc(json_object_size(doc) + 1, sizeof *s->accts);
  s->acct_index = json_object();
  if (!s->accts || !s->acct_index) goto oom;
  json_object_foreach(doc, key, val) {
    synth_acct_t *a = &s->accts[s->naccts];
    if (synth_parse_account(a, key, val, &why) != 0) {
      synth_acct_free(a);
      snprintf(err, errsz, "%s: account %.64s: %s", path, key, why);
      goto out;
    }
    s->naccts++;
    if (json_object_set_new(s->acct_index, key, json_integer((json_int_t)(s->naccts - 1))) != 0)
      goto oom;
    if (a->slot > s->acct_slot && !s->have_read_slot) s->acct_slot = a->slot;
  }
  s->have_accts = 1;
  rc = 0;
  goto out;
oom:
  snprintf(err, errsz, "%s: out of memory", path);
out:
  json_decref(doc);
  synth_unmap(text, len);
  return rc;
}

/* Reads only the "meta" member of expected.json (the rest may be large). */
static int synth_load_meta(replay_store_t *s, const char *path, char *err, size_t errsz) {
  const char *text;
  size_t len;
  char perr[200];
  jsonraw_span_t m;
  json_t *meta = NULL;
  int rc = synth_map(path, &text, &len, err, errsz);
  if (rc != 0) return rc > 0 ? 0 : -1;
  rc = -1;
  int r = text ? jsonraw_member(text, len, "meta", &m) : -1;
  if (r < 0) {
    snprintf(err, errsz, "%s: not a JSON object", path);
    goto out;
  }
  if (r == 0) {
    rc = 0;
    goto out;
  }
  meta = jsonx_loads(m.ptr, m.len, perr, sizeof perr);
  if (!json_is_object(meta)) {
    snprintf(err, errsz, "%s: meta: %s", path, meta ? "not an object" : perr);
    goto out;
  }
  if (json_object_get(meta, "account_read_slot")) {
    if (jsonx_get_u64(meta, "account_read_slot", &s->acct_slot) != 0) {
      snprintf(err, errsz, "%s: meta.account_read_slot is not a u64", path);
      goto out;
    }
    s->have_read_slot = 1;
  }
  const json_t *ps = json_object_get(meta, "produced_slots");
  if (ps) {
    size_t n = json_array_size(ps);
    if (!json_is_array(ps)) {
      snprintf(err, errsz, "%s: meta.produced_slots is not an array", path);
      goto out;
    }
    s->produced = malloc((n + 1) * sizeof *s->produced);
    if (!s->produced) {
      snprintf(err, errsz, "%s: out of memory", path);
      goto out;
    }
    for (size_t i = 0; i < n; i++) {
      if (jsonx_u64(json_array_get(ps, i), &s->produced[i]) != 0 ||
          (i > 0 && s->produced[i] <= s->produced[i - 1])) {
        snprintf(err, errsz, "%s: meta.produced_slots[%zu] is not a u64 above the previous one",
                 path, i);
        goto out;
      }
    }
    s->nproduced = n;
    s->have_produced = 1;
  }
  rc = 0;
out:
  json_decref(meta);
  synth_unmap(text, len);
  return rc;
}

int replay_synth_load(replay_store_t *s, const char *dir, char *err, size_t errsz) {
  char path[4096];
  int k = snprintf(path, sizeof path, "%s/expected.json", dir);
  if (k < 0 || (size_t)k >= sizeof path) {
    snprintf(err, errsz, "path too long");
    return -1;
  }
  if (synth_load_meta(s, path, err, errsz) != 0) return -1;
  k = snprintf(path, sizeof path, "%s/accounts.json", dir);
  if (k < 0 || (size_t)k >= sizeof path) {
    snprintf(err, errsz, "path too long");
    return -1;
  }
  return synth_load_accounts(s, path, err, errsz);
}

void replay_synth_free(replay_store_t *s) {
  for (size_t i = 0; i < s->naccts; i++)
    synth_acct_free(&s->accts[i]);
  free(s->accts);
  json_decref(s->acct_index);
  free(s->produced);
}

/* ---- answer building ---- */

static void buf_add_u64(jsonraw_buf_t *b, uint64_t v) {
  char t[24];
  int n = snprintf(t, sizeof t, "%" PRIu64, v);
  if (n > 0 && (size_t)n < sizeof t)
    jsonraw_buf_add(b, t, (size_t)n);
  else
    b->oom = 1;
}

/* Appends an error answer. Returns 1 (the request is answered). */
static int synth_error(jsonraw_buf_t *b, long code, const char *msg) {
  char head[64];
  json_t *m = json_string(msg);
  int n = snprintf(head, sizeof head, "\"error\":{\"code\":%ld,\"message\":", code);
  if (n > 0 && (size_t)n < sizeof head) jsonraw_buf_add(b, head, (size_t)n);
  if (!m || jsonraw_buf_add_json(b, m) != 0) b->oom = 1;
  jsonraw_buf_adds(b, "}");
  json_decref(m);
  return 1;
}

static int synth_invalid(jsonraw_buf_t *b, const char *what) {
  char msg[160];
  snprintf(msg, sizeof msg, "Invalid params: %s", what);
  return synth_error(b, -32602, msg);
}

/* NULL if k is a valid pubkey, else solana's ParsePubkeyError name. */
static const char *synth_pubkey_error(const char *k) {
  uint8_t k32[32], any[64];
  if (strlen(k) > BASE58_ENCODED_32_MAX) return "WrongSize";
  if (base58_decode_32(k, k32) == 0) return NULL;
  int n = base58_decode_ref(k, any, sizeof any);
  return n >= 0 && n != 32 ? "WrongSize" : "Invalid";
}

/* Appends an error and returns 1 if the string is not a pubkey, else 0. */
static int synth_check_pubkey(jsonraw_buf_t *b, const char *k) {
  char msg[64];
  const char *e = synth_pubkey_error(k);
  if (!e) return 0;
  snprintf(msg, sizeof msg, "Invalid param: %s", e);
  return synth_error(b, -32602, msg);
}

enum { SYNTH_CFG_ACCOUNTS, SYNTH_CFG_PROGRAM, SYNTH_CFG_BLOCKS };

typedef struct {
  int with_context;
  int has_slice;
  uint64_t slice_off, slice_len;
  int has_min;
  uint64_t min_slot;
  const json_t *filters; /* borrowed; NULL = none */
} synth_cfg_t;

/* Parses the config object (NULL or null = absent). Returns 0, or 1 after
 * appending an error answer. */
static int synth_cfg(jsonraw_buf_t *b, const json_t *cfg, int kind, synth_cfg_t *c) {
  const json_t *v;
  memset(c, 0, sizeof *c);
  if (cfg && json_is_null(cfg)) cfg = NULL;
  if (cfg && !json_is_object(cfg)) return synth_invalid(b, "the config is not an object");
  v = cfg ? json_object_get(cfg, "commitment") : NULL;
  if (v && !json_is_string(v)) return synth_invalid(b, "commitment is not a string");
  if (v && kind == SYNTH_CFG_BLOCKS && strcmp(json_string_value(v), "processed") == 0)
    return synth_error(b, -32602, "Method does not support commitment below `confirmed`");
  v = cfg ? json_object_get(cfg, "minContextSlot") : NULL;
  if (v && !json_is_null(v)) {
    if (jsonx_u64(v, &c->min_slot) != 0) return synth_invalid(b, "minContextSlot is not a u64");
    c->has_min = 1;
  }
  if (kind == SYNTH_CFG_BLOCKS) return 0;
  v = cfg ? json_object_get(cfg, "encoding") : NULL;
  if (v && !json_is_string(v)) return synth_invalid(b, "encoding is not a string");
  if (!v || strcmp(json_string_value(v), "base64") != 0)
    return synth_error(b, -32602, "unsupported encoding in replay");
  v = cfg ? json_object_get(cfg, "dataSlice") : NULL;
  if (v && !json_is_null(v)) {
    if (!json_is_object(v) || jsonx_get_u64(v, "offset", &c->slice_off) != 0 ||
        jsonx_get_u64(v, "length", &c->slice_len) != 0)
      return synth_invalid(b, "dataSlice is not {offset, length}");
    c->has_slice = 1;
  }
  if (kind != SYNTH_CFG_PROGRAM) return 0;
  v = json_object_get(cfg, "withContext");
  if (v && !json_is_null(v)) {
    if (!json_is_boolean(v)) return synth_invalid(b, "withContext is not a boolean");
    c->with_context = json_is_true(v);
  }
  v = json_object_get(cfg, "filters");
  if (v && !json_is_null(v)) {
    if (!json_is_array(v)) return synth_invalid(b, "filters is not an array");
    c->filters = v;
  }
  return 0;
}

/* Appends the -32016 error and returns 1 if minContextSlot is above slot. */
static int synth_min_slot(jsonraw_buf_t *b, const synth_cfg_t *c, uint64_t slot) {
  if (!c->has_min || c->min_slot <= slot) return 0;
  jsonraw_buf_adds(b,
            "\"error\":{\"code\":-32016,\"message\":\"Minimum context slot has not been reached\","
            "\"data\":{\"contextSlot\":");
  buf_add_u64(b, slot);
  jsonraw_buf_adds(b, "}}");
  return 1;
}

static void synth_context(jsonraw_buf_t *b, const replay_store_t *s) {
  jsonraw_buf_adds(b, "{\"apiVersion\":\"" SYNTH_API_VERSION "\",\"slot\":");
  buf_add_u64(b, s->acct_slot);
  jsonraw_buf_adds(b, "}");
}

/* Appends the account object as a node encodes it (base64). */
static void synth_account(jsonraw_buf_t *b, const synth_acct_t *a, const synth_cfg_t *c) {
  jsonraw_buf_adds(b, "{\"data\":[\"");
  if (c->has_slice) {
    size_t off = c->slice_off < a->data_len ? (size_t)c->slice_off : a->data_len;
    size_t n = c->slice_len < a->data_len - off ? (size_t)c->slice_len : a->data_len - off;
    char *enc = b64_encode(a->data + off, n);
    if (enc)
      jsonraw_buf_adds(b, enc);
    else
      b->oom = 1;
    free(enc);
  } else {
    jsonraw_buf_adds(b, a->data_b64);
  }
  jsonraw_buf_adds(b, "\",\"base64\"],\"executable\":");
  jsonraw_buf_adds(b, a->executable ? "true" : "false");
  jsonraw_buf_adds(b, ",\"lamports\":");
  buf_add_u64(b, a->lamports);
  jsonraw_buf_adds(b, ",\"owner\":\"");
  jsonraw_buf_adds(b, a->owner);
  jsonraw_buf_adds(b, "\",\"rentEpoch\":");
  buf_add_u64(b, a->rent_epoch);
  jsonraw_buf_adds(b, ",\"space\":");
  buf_add_u64(b, (uint64_t)a->data_len);
  jsonraw_buf_adds(b, "}");
}

static const synth_acct_t *synth_find(const replay_store_t *s, const char *key) {
  const json_t *i = json_object_get(s->acct_index, key);
  return i ? &s->accts[json_integer_value(i)] : NULL;
}

static void synth_value(jsonraw_buf_t *b, const replay_store_t *s, const char *key, const synth_cfg_t *c) {
  const synth_acct_t *a = synth_find(s, key);
  if (a)
    synth_account(b, a, c);
  else
    jsonraw_buf_adds(b, "null");
}

static int synth_multiple_accounts(jsonraw_buf_t *b, const replay_store_t *s, const json_t *params) {
  const json_t *keys = json_array_get(params, 0);
  size_t np = json_array_size(params), nk = json_array_size(keys);
  synth_cfg_t c;
  if (np < 1 || np > 2 || !json_is_array(keys))
    return synth_invalid(b, "expected [[pubkey, ...], config?]");
  if (nk > SYNTH_MAX_MULTIPLE_ACCOUNTS) {
    return synth_error(b, -32602, "Too many inputs provided; max 100");
  }
  for (size_t i = 0; i < nk; i++) {
    const char *k = json_string_value(json_array_get(keys, i));
    if (!k) return synth_invalid(b, "a pubkey is not a string");
    if (synth_check_pubkey(b, k)) return 1;
  }
  if (synth_cfg(b, json_array_get(params, 1), SYNTH_CFG_ACCOUNTS, &c) ||
      synth_min_slot(b, &c, s->acct_slot))
    return 1;
  jsonraw_buf_adds(b, "\"result\":{\"context\":");
  synth_context(b, s);
  jsonraw_buf_adds(b, ",\"value\":[");
  for (size_t i = 0; i < nk; i++) {
    if (i) jsonraw_buf_adds(b, ",");
    synth_value(b, s, json_string_value(json_array_get(keys, i)), &c);
  }
  jsonraw_buf_adds(b, "]}");
  return 1;
}

static int synth_account_info(jsonraw_buf_t *b, const replay_store_t *s, const json_t *params) {
  const char *k = json_string_value(json_array_get(params, 0));
  size_t np = json_array_size(params);
  synth_cfg_t c;
  if (np < 1 || np > 2 || !k) return synth_invalid(b, "expected [pubkey, config?]");
  if (synth_check_pubkey(b, k) || synth_cfg(b, json_array_get(params, 1), SYNTH_CFG_ACCOUNTS, &c) ||
      synth_min_slot(b, &c, s->acct_slot))
    return 1;
  jsonraw_buf_adds(b, "\"result\":{\"context\":");
  synth_context(b, s);
  jsonraw_buf_adds(b, ",\"value\":");
  synth_value(b, s, k, &c);
  jsonraw_buf_adds(b, "}");
  return 1;
}

typedef struct {
  int is_size;
  uint64_t offset, size;
  uint8_t bytes[SYNTH_MAX_MEMCMP];
  size_t n;
} synth_filter_t;

/* Parses one filter. Returns 0, or 1 after appending an error answer. */
static int synth_filter(jsonraw_buf_t *b, const json_t *f, synth_filter_t *out) {
  const json_t *mc = json_object_get(f, "memcmp");
  memset(out, 0, sizeof *out);
  if (!json_is_object(f) || json_object_size(f) != 1 || (!mc && !json_object_get(f, "dataSize")))
    return synth_error(b, -32602, "unsupported filter in replay");
  if (!mc) {
    if (jsonx_get_u64(f, "dataSize", &out->size) != 0)
      return synth_invalid(b, "dataSize is not a u64");
    out->is_size = 1;
    return 0;
  }
  const char *bytes = jsonx_get_str(mc, "bytes");
  const char *enc = jsonx_get_str(mc, "encoding");
  if (!json_is_object(mc) || jsonx_get_u64(mc, "offset", &out->offset) != 0 || !bytes ||
      (json_object_get(mc, "encoding") && !enc))
    return synth_invalid(b, "memcmp is not {offset, bytes, encoding?}");
  if (!enc || strcmp(enc, "base58") == 0) {
    int n = base58_decode_ref(bytes, out->bytes, sizeof out->bytes);
    if (n < 0)
      return synth_error(b, -32602,
                         "Invalid param: memcmp bytes are not base58 of at most 128 bytes");
    out->n = (size_t)n;
  } else if (strcmp(enc, "base64") == 0) {
    if (b64_decode_into(bytes, strlen(bytes), out->bytes, sizeof out->bytes, &out->n) != 0)
      return synth_error(b, -32602,
                         "Invalid param: memcmp bytes are not base64 of at most 128 bytes");
  } else
    return synth_error(b, -32602, "unsupported filter in replay");
  return 0;
}

static int synth_filter_match(const synth_filter_t *f, const synth_acct_t *a) {
  if (f->is_size) return f->size == (uint64_t)a->data_len;
  if (f->offset > (uint64_t)a->data_len || f->n > a->data_len - (size_t)f->offset) return 0;
  return memcmp(a->data + f->offset, f->bytes, f->n) == 0;
}

static int synth_program_accounts(jsonraw_buf_t *b, const replay_store_t *s, const json_t *params) {
  const char *prog = json_string_value(json_array_get(params, 0));
  size_t np = json_array_size(params), nf, k = 0;
  synth_filter_t f[SYNTH_MAX_FILTERS];
  synth_cfg_t c;
  if (np < 1 || np > 2 || !prog) return synth_invalid(b, "expected [program, config?]");
  if (synth_check_pubkey(b, prog) || synth_cfg(b, json_array_get(params, 1), SYNTH_CFG_PROGRAM, &c))
    return 1;
  nf = json_array_size(c.filters);
  if (nf > SYNTH_MAX_FILTERS) {
    return synth_error(b, -32602, "Too many filters provided; max 4");
  }
  for (size_t i = 0; i < nf; i++)
    if (synth_filter(b, json_array_get(c.filters, i), &f[i])) return 1;
  if (synth_min_slot(b, &c, s->acct_slot)) return 1;
  jsonraw_buf_adds(b, "\"result\":");
  if (c.with_context) {
    jsonraw_buf_adds(b, "{\"context\":");
    synth_context(b, s);
    jsonraw_buf_adds(b, ",\"value\":");
  }
  jsonraw_buf_adds(b, "[");
  for (size_t i = 0; i < s->naccts; i++) {
    const synth_acct_t *a = &s->accts[i];
    size_t j = 0;
    if (strcmp(a->owner, prog) != 0) continue;
    while (j < nf && synth_filter_match(&f[j], a))
      j++;
    if (j < nf) continue;
    if (k++) jsonraw_buf_adds(b, ",");
    jsonraw_buf_adds(b, "{\"account\":");
    synth_account(b, a, &c);
    jsonraw_buf_adds(b, ",\"pubkey\":\"");
    jsonraw_buf_adds(b, a->pubkey);
    jsonraw_buf_adds(b, "\"}");
  }
  jsonraw_buf_adds(b, c.with_context ? "]}" : "]");
  return 1;
}

static int synth_blocks(jsonraw_buf_t *b, const replay_store_t *s, const json_t *params) {
  size_t np = json_array_size(params);
  const json_t *second = json_array_get(params, 1), *cfg = json_array_get(params, 2);
  uint64_t start, end = 0, last = s->nproduced ? s->produced[s->nproduced - 1] : 0;
  int has_end = 0;
  synth_cfg_t c;
  if (np < 1 || np > 3 || jsonx_u64(json_array_get(params, 0), &start) != 0)
    return synth_invalid(b, "expected [start_slot, end_slot?, config?]");
  if (second && json_is_object(second) && np == 2) {
    cfg = second;
  } else if (second && !json_is_null(second)) {
    if (jsonx_u64(second, &end) != 0) return synth_invalid(b, "end_slot is not a u64");
    has_end = 1;
  }
  if (synth_cfg(b, cfg, SYNTH_CFG_BLOCKS, &c) || synth_min_slot(b, &c, last)) return 1;
  /* as a node: the end defaults to start + the range limit, and is capped at
   * the highest slot it has; then the range is checked */
  if (!has_end)
    end = start > UINT64_MAX - SYNTH_MAX_BLOCKS_RANGE ? UINT64_MAX : start + SYNTH_MAX_BLOCKS_RANGE;
  if (end > last) end = last;
  if (s->nproduced == 0 || end < start) {
    jsonraw_buf_adds(b, "\"result\":[]");
    return 1;
  }
  if (end - start > SYNTH_MAX_BLOCKS_RANGE) {
    return synth_error(b, -32602, "Slot range too large; max 500000");
  }
  size_t lo = 0, hi = s->nproduced; /* first index with slot >= start */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->produced[mid] < start)
      lo = mid + 1;
    else
      hi = mid;
  }
  jsonraw_buf_adds(b, "\"result\":[");
  for (size_t i = lo; i < s->nproduced && s->produced[i] <= end; i++) {
    if (i > lo) jsonraw_buf_adds(b, ",");
    buf_add_u64(b, s->produced[i]);
  }
  jsonraw_buf_adds(b, "]");
  return 1;
}

int replay_store_synth(const replay_store_t *s, const char *method, const json_t *params,
                       char **out, size_t *out_len) {
  jsonraw_buf_t b = {0};
  if (!params)
    params = json_array(); /* absent params are [] */
  else
    json_incref((json_t *)params);
  if (!params) return -1;
  if (s->have_accts && strcmp(method, "getMultipleAccounts") == 0)
    synth_multiple_accounts(&b, s, params);
  else if (s->have_accts && strcmp(method, "getAccountInfo") == 0)
    synth_account_info(&b, s, params);
  else if (s->have_accts && strcmp(method, "getProgramAccounts") == 0)
    synth_program_accounts(&b, s, params);
  else if (s->have_produced && strcmp(method, "getBlocks") == 0)
    synth_blocks(&b, s, params);
  else {
    json_decref((json_t *)params);
    return 0;
  }
  json_decref((json_t *)params);
  jsonraw_buf_add(&b, "", 1);
  if (b.oom) {
    free(b.p);
    return -1;
  }
  *out = b.p;
  *out_len = b.len - 1;
  return 1;
}

size_t replay_store_account_count(const replay_store_t *s) {
  return s->naccts;
}
size_t replay_store_produced_slot_count(const replay_store_t *s) {
  return s->nproduced;
}

