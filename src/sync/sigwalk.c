/* The signature walk (see sigwalk.h). */
#include "sigwalk.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "log.h"

static void werr(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void werr(char *err, size_t errsz, const char *fmt, ...) {
  if (!err || errsz == 0 || err[0]) return; /* the first error wins */
  va_list ap;
  va_start(ap, fmt);
  log_vset_err(err, errsz, fmt, ap);
  va_end(ap);
}

static int sig_list_add(sigwalk_list_t *l, uint64_t slot, const char *sig) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 1024;
    void *p = realloc(l->v, cap * sizeof *l->v);
    if (!p) return -1;
    l->v = p;
    l->cap = cap;
  }
  l->v[l->n].slot = slot;
  memcpy(l->v[l->n].sig, sig, strlen(sig) + 1);
  l->n++;
  return 0;
}

void sigwalk_list_free(sigwalk_list_t *l) {
  free(l->v);
  memset(l, 0, sizeof *l);
}

static int cmp_sig(const void *a, const void *b) {
  return strcmp(((const sigwalk_ent_t *)a)->sig, ((const sigwalk_ent_t *)b)->sig);
}

static int cmp_slot_sig(const void *a, const void *b) {
  const sigwalk_ent_t *x = a, *y = b;
  if (x->slot != y->slot) return x->slot < y->slot ? -1 : 1;
  return strcmp(x->sig, y->sig);
}

static int walk_page(sigwalk_t *w, char *err, size_t errsz, json_t *page, const char *cursor, unsigned limit,
                     uint64_t *prev_slot, uint64_t pageno, char *next_cursor, uint64_t *last_slot,
                     size_t *m_out) {
  if (!json_is_array(page)) {
    werr(err, errsz, "getSignaturesForAddress: result is not an array");
    return -1;
  }
  size_t m = json_array_size(page);
  *m_out = m;
  if (m == 0) return 1;
  const char *last_sig = NULL;
  uint64_t first = 0;
  for (size_t i = 0; i < m; i++) {
    const json_t *e = json_array_get(page, i);
    const char *sig = jsonx_get_str(e, "signature");
    uint64_t slot;
    if (!sig || strlen(sig) >= CB_SIGNATURE_B58_MAX || strlen(sig) < 32 ||
        jsonx_get_u64(e, "slot", &slot) != 0) {
      werr(err, errsz, "getSignaturesForAddress: entry %zu of page %" PRIu64
              " has no valid signature/slot", i, pageno);
      return -1;
    }
    if (slot > *prev_slot) {
      werr(err, errsz, "getSignaturesForAddress: slots go up (%" PRIu64 " after %" PRIu64
              ") on page %" PRIu64 " with before=%s: the node is not paging backwards",
              slot, *prev_slot, pageno, cursor[0] ? cursor : "(none)");
      return -1;
    }
    if (i == 0) first = slot;
    *prev_slot = slot;
    if (slot >= w->lo && slot <= w->hi && w->out && !w->overflow) {
      if (w->out->n >= w->keep_max) {
        sigwalk_list_free(w->out);
        w->overflow = true;
      } else if (sig_list_add(w->out, slot, sig) != 0) {
        werr(err, errsz, "out of memory collecting signatures");
        return -1;
      }
    }
    last_sig = sig;
    *last_slot = slot;
  }
  if (strcmp(last_sig, cursor) == 0) {
    werr(err, errsz, "getSignaturesForAddress: no progress (page %" PRIu64
            " ends with the cursor %s again)", pageno, cursor);
    return -1;
  }
  if (w->pages) {
    sigwalk_pages_t *pl = w->pages;
    if (pl->n == pl->cap) {
      size_t cap = pl->cap ? pl->cap * 2 : 64;
      void *p = realloc(pl->v, cap * sizeof *pl->v);
      if (!p) {
        werr(err, errsz, "out of memory collecting signature pages");
        return -1;
      }
      pl->v = p;
      pl->cap = cap;
    }
    sigwalk_page_t *pm = &pl->v[pl->n++];
    memcpy(pm->before, cursor, strlen(cursor) + 1);
    pm->first_slot = first;
    pm->last_slot = *last_slot;
    pm->count = (uint32_t)m;
  }
  memcpy(next_cursor, last_sig, strlen(last_sig) + 1);
  /* Below the range, or a short page: the end of the address's history. */
  return (*last_slot < w->lo || m < limit) ? 1 : 0;
}

int sigwalk_run(sigwalk_t *w, char *err, size_t errsz) {
  char cursor[CB_SIGNATURE_B58_MAX], next[CB_SIGNATURE_B58_MAX];
  snprintf(cursor, sizeof cursor, "%s", w->start ? w->start : "");
  uint64_t prev_slot = UINT64_MAX, pages = 0;
  unsigned limit = w->limit == 0 || w->limit > 1000 ? 1000 : w->limit;
  w->overflow = false;
  if (err && errsz) err[0] = '\0';
  for (;;) {
    if (w->stop_flag && *w->stop_flag) {
      werr(err, errsz, "stopped by request");
      return SIGWALK_STOPPED;
    }
    json_t *opts = json_pack("{s:I, s:s}", "limit", (json_int_t)limit, "commitment", w->commitment);
    if (opts && cursor[0]) json_object_set_new(opts, "before", json_string(cursor));
    json_t *params = opts ? json_pack("[s, o]", w->address, opts) : NULL;
    json_t *page = NULL;
    rpc_error_t e;
    memset(&e, 0, sizeof e);
    if (!params) {
      werr(err, errsz, "out of memory building getSignaturesForAddress params");
      return SIGWALK_ERR;
    }
    if (rpc_call(w->rpc, "getSignaturesForAddress", params, &page, &e) != 0) {
      if (e.kind == RPC_ERR_CANCELLED || (w->stop_flag && *w->stop_flag)) {
        werr(err, errsz, "stopped by request during getSignaturesForAddress");
        return SIGWALK_STOPPED;
      }
      if (e.kind == RPC_ERR_RPC)
        werr(err, errsz, "getSignaturesForAddress failed: rpc error %ld: %s", e.rpc_code, e.message);
      else
        werr(err, errsz, "getSignaturesForAddress failed: %s: %s", rpc_error_kind_name(e.kind),
             e.message);
      return SIGWALK_ERR;
    }
    pages++;
    uint64_t last_slot = 0;
    size_t m = 0;
    int ret = walk_page(w, err, errsz, page, cursor, limit, &prev_slot, pages, next, &last_slot, &m);
    json_decref(page);
    if (ret < 0) return SIGWALK_ERR;
    log_debug("sigwalk", "page=%" PRIu64 " entries=%zu oldest_slot=%" PRIu64, pages, m, last_slot);
    if (ret > 0) {
      log_debug("sigwalk", "done pages=%" PRIu64 " kept=%zu%s", pages, w->out ? w->out->n : 0,
                w->overflow ? " (over keep_max)" : "");
      return SIGWALK_OK;
    }
    memcpy(cursor, next, strlen(next) + 1);
  }
}

/* Sorts ascending by (slot, signature) and drops duplicate signatures. */
size_t sigwalk_normalize(sigwalk_list_t *l) {
  if (l->n == 0) return 0;
  qsort(l->v, l->n, sizeof *l->v, cmp_sig);
  size_t w = 1;
  for (size_t i = 1; i < l->n; i++)
    if (strcmp(l->v[i].sig, l->v[w - 1].sig) != 0) l->v[w++] = l->v[i];
  size_t dropped = l->n - w;
  l->n = w;
  qsort(l->v, l->n, sizeof *l->v, cmp_slot_sig);
  return dropped;
}

