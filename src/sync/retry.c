/* Dead-letter retry (retry.h). */
#include "retry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sink_admin.h"
#include "wsmsg.h"

/* A copy of one row (the walk's strings are borrowed). */
typedef struct item {
  int64_t id;
  char kind[32];
  char *key;
  uint64_t slot;
  uint8_t *raw;
  size_t rawlen;
} item_t;

typedef struct items {
  item_t *v;
  size_t n, cap;
  int oom;
} items_t;

static int collect(void *user, const sink_dead_letter_t *d) {
  items_t *it = user;
  if (it->n == it->cap) {
    size_t cap = it->cap ? it->cap * 2 : 64;
    item_t *p = realloc(it->v, cap * sizeof *p);
    if (!p) {
      it->oom = 1;
      return 1;
    }
    it->v = p;
    it->cap = cap;
  }
  item_t *x = &it->v[it->n];
  memset(x, 0, sizeof *x);
  x->id = d->id;
  snprintf(x->kind, sizeof x->kind, "%s", d->kind);
  x->key = d->key ? strdup(d->key) : NULL;
  x->slot = d->slot;
  if (d->rawlen) {
    x->raw = malloc(d->rawlen);
    if (x->raw) memcpy(x->raw, d->raw, d->rawlen);
    x->rawlen = x->raw ? d->rawlen : 0;
  }
  it->n++;
  return 0;
}

static void items_free(items_t *it) {
  for (size_t i = 0; i < it->n; i++) {
    free(it->v[i].key);
    free(it->v[i].raw);
  }
  free(it->v);
}

/* getTransaction + ingest: 1 ingested, 0 not available, <0 ingest error. */
static int refetch(ingest_t *ing, rpc_client_t *rpc, const char *commitment, const char *sig) {
  if (!rpc || !sig) return 0;
  json_t *params = json_pack("[s{s:s,s:i,s:s}]", sig, "encoding", "json",
                             "maxSupportedTransactionVersion", 0, "commitment", commitment);
  json_t *res = NULL;
  rpc_error_t e;
  memset(&e, 0, sizeof e);
  if (!params || rpc_call(rpc, "getTransaction", params, &res, &e) != 0) {
    log_warn("retry", "getTransaction signature=%s: %s", sig, params ? e.message : "out of memory");
    return 0;
  }
  if (!res || json_is_null(res)) {
    json_decref(res);
    return 0;
  }
  int rc = ingest_transaction_json(ing, res, NULL, NULL);
  json_decref(res);
  return rc < 0 ? rc : 1;
}

/* One dead letter through ingest: 1 went to ingest, 0 nothing to retry
 * with (skipped), -1 not available now, <-1 ingest error (fatal). */
static int retry_one(ingest_t *ing, rpc_client_t *rpc, const char *commitment, const item_t *x) {
  const char *k = x->kind;
  if (strcmp(k, "account") == 0) {
    if (!x->key || !x->rawlen) return 0;
    if (x->raw[0] == '{') { /* account JSON */
      json_error_t je;
      json_t *acc = json_loadb((const char *)x->raw, x->rawlen, 0, &je);
      if (!acc) return -1;
      int rc = ingest_account_json(ing, x->key, acc, x->slot);
      json_decref(acc);
      return rc < 0 ? rc - 1 : 1;
    }
    int rc = ingest_account_bytes(ing, x->key, ingest_program_id(ing), 1, x->raw, x->rawlen,
                                  x->slot);
    return rc < 0 ? rc - 1 : 1;
  }
  if (strcmp(k, "ws-message") == 0) {
    if (!x->rawlen) return 0;
    wsmsg_t m;
    wsmsg_parse(x->raw, x->rawlen, 0, &m);
    int out = -1;
    if (m.kind == WSMSG_ACCOUNT) {
      int rc = ingest_account_json(ing, m.pubkey, json_is_null(m.account) ? NULL : m.account,
                                   m.slot);
      out = rc < 0 ? rc - 1 : 1;
    } else if (m.kind == WSMSG_LOGS) {
      int rc = refetch(ing, rpc, commitment, m.signature);
      out = rc < 0 ? rc - 1 : rc == 1 ? 1 : -1;
    } else if (m.kind == WSMSG_SLOT) {
      out = 1;
    } else if (m.kind == WSMSG_BAD) {
      /* the same message again: the row's attempts and last_seen move */
      int rc = ingest_dead_letter(ing, INGEST_DL_WS_MESSAGE, NULL, 0, m.reason, x->raw, x->rawlen);
      out = rc < 0 ? rc - 1 : -1;
    }
    wsmsg_clear(&m);
    return out;
  }
  if (strcmp(k, "transaction-parse") == 0 || strcmp(k, "transaction-missing") == 0 ||
      strcmp(k, "transaction-fetch") == 0 || strcmp(k, "instruction") == 0 ||
      strcmp(k, "event") == 0) {
    if (!rpc || !x->key) return 0;
    int rc = refetch(ing, rpc, commitment, x->key);
    return rc < 0 ? rc - 1 : rc == 1 ? 1 : -1;
  }
  return 0;
}

int retry_dead_letters(sink_t *sink, ingest_t *ing, rpc_client_t *rpc, const char *commitment,
                       const char *kind, int64_t id, retry_summary_t *sum, char *err,
                       size_t errsz) {
  memset(sum, 0, sizeof *sum);
  items_t it;
  memset(&it, 0, sizeof it);
  long n = sink_admin_dead_letters(sink, kind, id, 1, collect, &it);
  if (n < 0 || it.oom) {
    snprintf(err, errsz, "reading dead letters: %s", n < 0 ? sink_last_error(sink) : "out of memory");
    items_free(&it);
    return -1;
  }
  int64_t *applied = calloc(it.n + 1, sizeof *applied);
  size_t na = 0;
  int ret = -1;
  if (!applied) {
    snprintf(err, errsz, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < it.n; i++) {
    const item_t *x = &it.v[i];
    sum->tried++;
    ingest_stats_t before, after;
    ingest_get_stats(ing, &before);
    int r = retry_one(ing, rpc, commitment ? commitment : "confirmed", x);
    if (r < -1) {
      snprintf(err, errsz, "ingest: %s (%s)", ingest_strerror(r + 1), sink_last_error(sink));
      goto out;
    }
    ingest_get_stats(ing, &after);
    if (r == 0) {
      sum->skipped++;
    } else if (r == 1 && after.dead_letters == before.dead_letters) {
      applied[na++] = x->id;
    } else {
      sum->failing++;
    }
    log_info("retry", "dead letter id=%" PRId64 " kind=%s key=%s %s", x->id, x->kind,
             x->key ? x->key : "-",
             r == 0 ? "skipped (cannot be retried)"
                    : (r == 1 && after.dead_letters == before.dead_letters) ? "applied"
                                                                           : "still failing");
  }
  int frc = sink_flush(sink);
  if (frc != SINK_OK) {
    snprintf(err, errsz, "flush: %s (%s)", sink_strerror(frc), sink_last_error(sink));
    goto out;
  }
  long del = sink_admin_dead_letters_delete(sink, applied, na);
  if (del < 0) {
    snprintf(err, errsz, "deleting applied dead letters: %s", sink_last_error(sink));
    goto out;
  }
  sum->applied = (uint64_t)del;
  ret = 0;
out:
  free(applied);
  items_free(&it);
  return ret;
}
