/* Reconciliation: the cached open accounts against the chain (reconcile.h). */
#include "reconcile.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "jsonx.h"
#include "log.h"

/* ---- reconcile ----------------------------------------------------------- */

typedef struct key_list {
  accounts_key_t *v;
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

static int reconcile_chunk(void *ud, const accounts_key_t *keys, size_t n, const json_t *values,
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
      rc = ingest_account_closed(c->ing, keys[i], slot);
      if (rc == 0) {
        c->closed++;
        log_info("reconcile", "account gone pubkey=%s slot=%" PRIu64 ": marked closed", keys[i],
                 slot);
      }
    } else {
      rc = ingest_account_json(c->ing, keys[i], v, slot); /* current state, slot-guarded */
    }
    if (rc < 0) {
      log_set_err(err, errsz, "ingest: %s: %s", ingest_strerror(rc), sink_last_error(c->sink));
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
    if (rc == SINK_ERR_CALLBACK)
      log_set_err(err, errsz, "out of memory listing open accounts");
    else
      log_set_err(err, errsz, "listing open accounts: %s: %s", sink_strerror(rc),
                  sink_last_error(sink));
    free(l.v);
    return -1;
  }
  size_t k = 0;
  accounts_key_t *v = accounts_sorted_keys((const char (*)[CB_PUBKEY_B58_MAX])l.v, l.n, &k);
  free(l.v);
  if (!v) {
    log_set_err(err, errsz, "out of memory");
    return -1;
  }
  reconcile_ctx_t c = {ing, sink, program_id, 0};
  rc = accounts_read_multi(rpc, commitment ? commitment : "confirmed", v, k, stop_flag,
                      reconcile_chunk, &c, err, errsz);
  free(v);
  if (rc != 0) return -1;
  rc = sink_flush(sink);
  if (rc != 0) {
    log_set_err(err, errsz, "sink flush: %s: %s", sink_strerror(rc), sink_last_error(sink));
    return -1;
  }
  log_info("reconcile", "checked accounts=%zu closed=%ld", k, c.closed);
  return c.closed;
}
