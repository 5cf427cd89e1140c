/* Account reads over JSON-RPC (accounts.h): getMultipleAccounts in chunks,
 * and the refresh of the accounts a range of transactions touched. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "fetchq.h"
#include "jsonx.h"
#include "log.h"

#define REFRESH_CHUNK 100  /* getMultipleAccounts accepts at most 100 keys */
#define REFRESH_WINDOW 8   /* chunks in flight */

void accounts_rpc_err_text(const char *method, const rpc_error_t *e, char *err, size_t errsz) {
  if (e->kind == RPC_ERR_CANCELLED)
    log_set_err(err, errsz, "%s: stopped by request", method);
  else if (e->kind == RPC_ERR_RPC)
    log_set_err(err, errsz, "%s failed: rpc error %ld: %s", method, e->rpc_code, e->message);
  else
    log_set_err(err, errsz, "%s failed: %s: %s", method, rpc_error_kind_name(e->kind), e->message);
}

static int cmp_key(const void *a, const void *b) { return strcmp(a, b); }

accounts_key_t *accounts_sorted_keys(const char (*keys)[CB_PUBKEY_B58_MAX], size_t n, size_t *out_n) {
  accounts_key_t *v = malloc((n ? n : 1) * sizeof *v);
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

int accounts_read_multi(rpc_client_t *rpc, const char *commitment, const accounts_key_t *keys,
                        size_t n, const volatile int *stop_flag, accounts_chunk_fn fn, void *ud, char *err,
                          size_t errsz) {
  size_t nchunks = (n + REFRESH_CHUNK - 1) / REFRESH_CHUNK;
  if (nchunks == 0) return 0;
  fetchq_t *q = fetchq_new(rpc, REFRESH_WINDOW);
  if (!q) {
    log_set_err(err, errsz, "out of memory");
    return -1;
  }
  int ret = 0;
  size_t proc = 0, sub = 0;
  while (proc < nchunks) {
    if (stop_flag && *stop_flag) {
      log_set_err(err, errsz, "stopped by request");
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
        log_set_err(err, errsz, "cannot submit getMultipleAccounts");
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
        accounts_rpc_err_text("getMultipleAccounts", &e, err, errsz);
        ret = -1;
        goto out;
      }
      uint64_t slot = 0;
      const json_t *values = json_object_get(res, "value");
      if (jsonx_get_u64(json_object_get(res, "context"), "slot", &slot) != 0 ||
          !json_is_array(values) || json_array_size(values) != cnt) {
        log_set_err(err, errsz,
                    "getMultipleAccounts: result is not {context: {slot}, value: [%zu "
                    "accounts]}",
                    cnt);
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
      log_set_err(err, errsz, "RPC client internal failure");
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

static int refresh_chunk(void *ud, const accounts_key_t *keys, size_t n, const json_t *values,
                         uint64_t slot, char *err, size_t errsz) {
  refresh_ctx_t *c = ud;
  for (size_t i = 0; i < n; i++) {
    int rc = ingest_account_json(c->ing, keys[i], json_array_get(values, i), slot);
    if (rc < 0) {
      log_set_err(err, errsz, "ingest: %s: %s", ingest_strerror(rc), sink_last_error(c->sink));
      return -1;
    }
    c->count++;
  }
  return 0;
}

long accounts_refresh(rpc_client_t *rpc, ingest_t *ing, sink_t *sink,
                               const char *commitment, const char (*keys)[CB_PUBKEY_B58_MAX],
                               size_t n, const volatile int *stop_flag, char *err, size_t errsz) {
  if (err && errsz) err[0] = '\0';
  if (n == 0) return 0;
  size_t k = 0;
  accounts_key_t *v = accounts_sorted_keys(keys, n, &k);
  if (!v) {
    log_set_err(err, errsz, "out of memory");
    return -1;
  }
  refresh_ctx_t c = {ing, sink, 0};
  int rc = accounts_read_multi(rpc, commitment ? commitment : "confirmed", v, k, stop_flag,
                          refresh_chunk, &c, err, errsz);
  free(v);
  if (rc != 0) return -1;
  log_info("backfill", "refreshed accounts=%ld (getMultipleAccounts calls=%zu)", c.count,
           (k + REFRESH_CHUNK - 1) / REFRESH_CHUNK);
  return c.count;
}

