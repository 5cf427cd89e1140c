/* Account reads over JSON-RPC: refresh of touched accounts
 * (getMultipleAccounts), snapshot (getProgramAccounts per account type) and
 * reconciliation of the cached open accounts. Declared in backfill.h. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "base58.h"
#include "fetchq.h"
#include "jsonx.h"
#include "log.h"

#define REFRESH_CHUNK 100  /* getMultipleAccounts accepts at most 100 keys */
#define REFRESH_WINDOW 8   /* chunks in flight */

typedef char pubkey_buf_t[CB_PUBKEY_B58_MAX];

static void set_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errsz, const char *fmt, ...) {
  if (!err || errsz == 0) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err, errsz, fmt, ap);
  va_end(ap);
  if (n < 0) err[0] = '\0';
}

static void rpc_err_text(const char *method, const rpc_error_t *e, char *err, size_t errsz) {
  if (e->kind == RPC_ERR_CANCELLED)
    set_err(err, errsz, "%s: stopped by request", method);
  else if (e->kind == RPC_ERR_RPC)
    set_err(err, errsz, "%s failed: rpc error %ld: %s", method, e->rpc_code, e->message);
  else
    set_err(err, errsz, "%s failed: %s: %s", method, rpc_error_kind_name(e->kind), e->message);
}

static int cmp_key(const void *a, const void *b) { return strcmp(a, b); }

/* Sorted, deduplicated copy of keys (lexicographic order makes the request
 * sequence a function of the key set alone). */
static pubkey_buf_t *sorted_keys(const char (*keys)[CB_PUBKEY_B58_MAX], size_t n, size_t *out_n) {
  pubkey_buf_t *v = malloc((n ? n : 1) * sizeof *v);
  if (!v) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len = strnlen(keys[i], CB_PUBKEY_B58_MAX);
    if (len == 0 || len >= CB_PUBKEY_B58_MAX) continue;
    memcpy(v[k++], keys[i], len + 1);
  }
  qsort(v, k, sizeof *v, cmp_key);
  size_t w = 0;
  for (size_t i = 0; i < k; i++)
    if (w == 0 || strcmp(v[i], v[w - 1]) != 0) memmove(v[w++], v[i], sizeof *v);
  *out_n = w;
  return v;
}

/* Applies one getMultipleAccounts answer: values[i] belongs to keys[i]. */
typedef int (*chunk_fn)(void *ud, const pubkey_buf_t *keys, size_t n, const json_t *values,
                        uint64_t slot, char *err, size_t errsz);

/* getMultipleAccounts over keys in chunks of 100, REFRESH_WINDOW chunks in
 * flight, applied in chunk order. Returns 0 or -1 with err. */
static int multi_accounts(rpc_client_t *rpc, const char *commitment, const pubkey_buf_t *keys, size_t n,
                          const volatile int *stop_flag, chunk_fn fn, void *ud, char *err,
                          size_t errsz) {
  size_t nchunks = (n + REFRESH_CHUNK - 1) / REFRESH_CHUNK;
  if (nchunks == 0) return 0;
  fetchq_t *q = fetchq_new(rpc, REFRESH_WINDOW);
  if (!q) {
    set_err(err, errsz, "out of memory");
    return -1;
  }
  int ret = 0;
  size_t proc = 0, sub = 0;
  while (proc < nchunks) {
    if (stop_flag && *stop_flag) {
      set_err(err, errsz, "stopped by request");
      ret = -1;
      break;
    }
    while (sub < nchunks && sub - proc < REFRESH_WINDOW) {
      size_t off = sub * REFRESH_CHUNK, cnt = n - off < REFRESH_CHUNK ? n - off : REFRESH_CHUNK;
      json_t *arr = json_array();
      for (size_t i = 0; arr && i < cnt; i++)
        if (json_array_append_new(arr, json_string(keys[off + i])) != 0) {
          json_decref(arr);
          arr = NULL;
        }
      json_t *params = arr ? json_pack("[o, {s:s, s:s}]", arr, "encoding", "base64",
                                       "commitment", commitment)
                           : NULL;
      if (!params || fetchq_submit(q, sub, "getMultipleAccounts", params) != 0) {
        set_err(err, errsz, "cannot submit getMultipleAccounts");
        ret = -1;
        goto out;
      }
      sub++;
    }
    bool progressed = false;
    while (proc < nchunks && fetchq_done(q, proc)) {
      rpc_error_t e;
      json_t *res = fetchq_take(q, proc, &e);
      size_t off = proc * REFRESH_CHUNK, cnt = n - off < REFRESH_CHUNK ? n - off : REFRESH_CHUNK;
      if (!res) {
        rpc_err_text("getMultipleAccounts", &e, err, errsz);
        ret = -1;
        goto out;
      }
      uint64_t slot = 0;
      const json_t *values = json_object_get(res, "value");
      if (jsonx_get_u64(json_object_get(res, "context"), "slot", &slot) != 0 ||
          !json_is_array(values) || json_array_size(values) != cnt) {
        set_err(err, errsz, "getMultipleAccounts: result is not {context: {slot}, value: [%zu "
                "accounts]}", cnt);
        json_decref(res);
        ret = -1;
        goto out;
      }
      int rc = fn(ud, keys + off, cnt, values, slot, err, errsz);
      json_decref(res);
      if (rc != 0) {
        ret = -1;
        goto out;
      }
      proc++;
      progressed = true;
    }
    if (!progressed && proc < nchunks && rpc_run(rpc, 100) < 0) {
      set_err(err, errsz, "RPC client internal failure");
      ret = -1;
      break;
    }
  }
out:
  fetchq_free(q);
  return ret;
}

/* ---- refresh ------------------------------------------------------------- */

typedef struct refresh_ctx {
  ingest_t *ing;
  sink_t *sink;
  long count;
} refresh_ctx_t;

static int refresh_chunk(void *ud, const pubkey_buf_t *keys, size_t n, const json_t *values,
                         uint64_t slot, char *err, size_t errsz) {
  refresh_ctx_t *c = ud;
  for (size_t i = 0; i < n; i++) {
    int rc = ingest_account_json(c->ing, keys[i], json_array_get(values, i), slot);
    if (rc < 0) {
      set_err(err, errsz, "sink: %s: %s", sink_strerror(rc), sink_last_error(c->sink));
      return -1;
    }
    c->count++;
  }
  return 0;
}

long backfill_refresh_accounts(rpc_client_t *rpc, ingest_t *ing, sink_t *sink,
                               const char *commitment, const char (*keys)[CB_PUBKEY_B58_MAX],
                               size_t n, const volatile int *stop_flag, char *err, size_t errsz) {
  if (err && errsz) err[0] = '\0';
  if (n == 0) return 0;
  size_t k = 0;
  pubkey_buf_t *v = sorted_keys(keys, n, &k);
  if (!v) {
    set_err(err, errsz, "out of memory");
    return -1;
  }
  refresh_ctx_t c = {ing, sink, 0};
  int rc = multi_accounts(rpc, commitment ? commitment : "confirmed", v, k, stop_flag,
                          refresh_chunk, &c, err, errsz);
  free(v);
  if (rc != 0) return -1;
  log_info("backfill", "refreshed accounts=%ld (getMultipleAccounts calls=%zu)", c.count,
           (k + REFRESH_CHUNK - 1) / REFRESH_CHUNK);
  return c.count;
}

/* ---- snapshot ------------------------------------------------------------ */

long snapshot_run(rpc_client_t *rpc, ingest_t *ing, sink_t *sink, const idl_t *idl,
                  const char *program_id, const char *commitment,
                  const volatile int *stop_flag, char *err, size_t errsz) {
  if (err && errsz) err[0] = '\0';
  if (!commitment) commitment = "confirmed";
  long total = 0;
  size_t ntypes = idl_account_count(idl);
  for (size_t t = 0; t < ntypes; t++) {
    if (stop_flag && *stop_flag) {
      set_err(err, errsz, "stopped by request");
      return -1;
    }
    size_t dlen = 0;
    const uint8_t *disc = idl_account_discriminator(idl, t, &dlen);
    const char *name = idl_account_name(idl, t);
    if (!disc || dlen == 0) {
      log_warn("snapshot", "account type %s has no discriminator: skipped", name ? name : "?");
      continue;
    }
    char *b58 = malloc(2 * dlen + 2);
    if (!b58) {
      set_err(err, errsz, "out of memory");
      return -1;
    }
    base58_encode_ref(disc, dlen, b58);
    json_t *params = json_pack("[s, {s:s, s:s, s:b, s:[{s:{s:i, s:s}}]}]", program_id,
                               "encoding", "base64", "commitment", commitment, "withContext", 1,
                               "filters", "memcmp", "offset", 0, "bytes", b58);
    free(b58);
    json_t *res = NULL;
    rpc_error_t e;
    memset(&e, 0, sizeof e);
    if (!params || rpc_call(rpc, "getProgramAccounts", params, &res, &e) != 0) {
      if (!params) set_err(err, errsz, "out of memory");
      else rpc_err_text("getProgramAccounts", &e, err, errsz);
      return -1;
    }
    uint64_t slot = 0;
    const json_t *list = json_object_get(res, "value");
    if (jsonx_get_u64(json_object_get(res, "context"), "slot", &slot) != 0 ||
        !json_is_array(list)) {
      set_err(err, errsz, "getProgramAccounts %s: result is not {context: {slot}, value: [...]}",
              name ? name : "?");
      json_decref(res);
      return -1;
    }
    size_t i;
    const json_t *item;
    long count = 0;
    json_array_foreach(list, i, item) {
      const char *pk = jsonx_get_str(item, "pubkey");
      const json_t *acc = json_object_get(item, "account");
      if (!pk || !json_is_object(acc)) {
        set_err(err, errsz, "getProgramAccounts %s: entry %zu has no pubkey/account",
                name ? name : "?", i);
        json_decref(res);
        return -1;
      }
      int rc = ingest_account_json(ing, pk, acc, slot);
      if (rc < 0) {
        set_err(err, errsz, "sink: %s: %s", sink_strerror(rc), sink_last_error(sink));
        json_decref(res);
        return -1;
      }
      count++;
    }
    json_decref(res);
    log_info("snapshot", "type=%s accounts=%ld slot=%" PRIu64, name ? name : "?", count, slot);
    total += count;
  }
  int rc = sink_flush(sink);
  if (rc != 0) {
    set_err(err, errsz, "sink flush: %s: %s", sink_strerror(rc), sink_last_error(sink));
    return -1;
  }
  return total;
}

/* ---- reconcile ----------------------------------------------------------- */

typedef struct key_list {
  pubkey_buf_t *v;
  size_t n, cap;
} key_list_t;

static int collect_open(void *ud, const char *pubkey, cb_account_kind_t kind, uint64_t sync_slot) {
  (void)kind;
  (void)sync_slot;
  key_list_t *l = ud;
  size_t len = strlen(pubkey);
  if (len == 0 || len >= CB_PUBKEY_B58_MAX) return 0;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 256;
    void *p = realloc(l->v, cap * sizeof *l->v);
    if (!p) return 1;
    l->v = p;
    l->cap = cap;
  }
  memcpy(l->v[l->n++], pubkey, len + 1);
  return 0;
}

typedef struct reconcile_ctx {
  ingest_t *ing;
  sink_t *sink;
  const char *program_id;
  long closed;
} reconcile_ctx_t;

static int reconcile_chunk(void *ud, const pubkey_buf_t *keys, size_t n, const json_t *values,
                           uint64_t slot, char *err, size_t errsz) {
  reconcile_ctx_t *c = ud;
  for (size_t i = 0; i < n; i++) {
    const json_t *v = json_array_get(values, i);
    uint64_t lamports = 0;
    const char *owner = jsonx_get_str(v, "owner");
    bool gone = !v || json_is_null(v) || jsonx_get_u64(v, "lamports", &lamports) != 0 ||
                lamports == 0 || !owner || strcmp(owner, c->program_id) != 0;
    int rc;
    if (gone) {
      rc = sink_mark_closed(c->sink, keys[i], slot);
      if (rc == 0) {
        c->closed++;
        log_info("reconcile", "account gone pubkey=%s slot=%" PRIu64 ": marked closed", keys[i],
                 slot);
      }
    } else {
      rc = ingest_account_json(c->ing, keys[i], v, slot); /* current state, slot-guarded */
    }
    if (rc < 0) {
      set_err(err, errsz, "sink: %s: %s", sink_strerror(rc), sink_last_error(c->sink));
      return -1;
    }
  }
  return 0;
}

long reconcile_run(rpc_client_t *rpc, ingest_t *ing, sink_t *sink, const char *program_id,
                   const char *commitment, const volatile int *stop_flag, char *err,
                   size_t errsz) {
  if (err && errsz) err[0] = '\0';
  key_list_t l = {0};
  int rc = sink_list_open_accounts(sink, collect_open, &l);
  if (rc != 0) {
    if (rc == SINK_ERR_CALLBACK) set_err(err, errsz, "out of memory listing open accounts");
    else set_err(err, errsz, "listing open accounts: %s: %s", sink_strerror(rc),
                 sink_last_error(sink));
    free(l.v);
    return -1;
  }
  size_t k = 0;
  pubkey_buf_t *v = sorted_keys((const char (*)[CB_PUBKEY_B58_MAX])l.v, l.n, &k);
  free(l.v);
  if (!v) {
    set_err(err, errsz, "out of memory");
    return -1;
  }
  reconcile_ctx_t c = {ing, sink, program_id, 0};
  rc = multi_accounts(rpc, commitment ? commitment : "confirmed", v, k, stop_flag,
                      reconcile_chunk, &c, err, errsz);
  free(v);
  if (rc != 0) return -1;
  rc = sink_flush(sink);
  if (rc != 0) {
    set_err(err, errsz, "sink flush: %s: %s", sink_strerror(rc), sink_last_error(sink));
    return -1;
  }
  log_info("reconcile", "checked accounts=%zu closed=%ld", k, c.closed);
  return c.closed;
}
