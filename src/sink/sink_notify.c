/* The change feed (sink.h): one NOTIFY on SINK_NOTIFY_CHANNEL per
 * committed batch that changed data, sent with pg_notify inside the
 * batch's own transaction so that PostgreSQL delivers it only when the
 * batch commits (a rolled-back batch notifies nobody).
 *
 * Payload (JSON, under SINK_NOTIFY_MAX_PAYLOAD bytes):
 *   {"slot":S,"markets":["<pubkey>",...],"markets_count":N,
 *    "positions":P,"transactions":T,"closes":C}
 * slot: the highest slot of the batch's records; markets: every market
 * the batch touched (market accounts, the markets of positions and of
 * transactions), each once. When the list would not fit, it is left out
 * and "markets_truncated":true is set (markets_count stays exact). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_priv.h"

typedef struct mset {
  kmap_t map;
  size_t n;
} mset_t;

/* Adds key when new. 0, or -1 on allocation failure. */
static int mset_add(mset_t *m, const char *key) {
  if (!key || !*key) return 0;
  uint32_t h;
  if (sink_kmap_get(&m->map, key, &h) >= 0) return 0;
  if (sink_kmap_put(&m->map, key, h, m->n) != 0) return -1;
  m->n++;
  return 0;
}

static void buf_str(sink_buf_t *b, const char *s) { sink_buf_put(b, s, strlen(s)); }

int sink_notify_payload(const sink_t *s, char **out, size_t *outlen) {
  *out = NULL;
  *outlen = 0;
  if (s->nacc + s->ncls + s->ntx == 0) return 0;
  mset_t ms;
  memset(&ms, 0, sizeof ms);
  uint64_t slot = 0, positions = 0;
  sink_buf_t list = {0};
  int rc = -1;
  for (size_t i = 0; i < s->nacc; i++) {
    const cb_account_t *a = &s->acc[i];
    if (a->slot > slot) slot = a->slot;
    const char *mk = NULL;
    if (a->kind == CB_ACCOUNT_MARKET) mk = a->pubkey;
    else if (a->kind == CB_ACCOUNT_POSITION) {
      positions++;
      if (!a->closed) mk = a->u.position.market.b58;
    }
    size_t before = ms.n;
    if (mset_add(&ms, mk) != 0) goto out;
    if (ms.n > before) {
      buf_str(&list, ms.n > 1 ? ",\"" : "\"");
      buf_str(&list, mk);
      buf_str(&list, "\"");
    }
  }
  for (size_t i = 0; i < s->ncls; i++)
    if (s->cls[i].slot > slot) slot = s->cls[i].slot;
  for (size_t i = 0; i < s->ntx; i++) {
    const cb_tx_row_t *t = &s->tx[i];
    if (t->slot > slot) slot = t->slot;
    size_t before = ms.n;
    if (mset_add(&ms, t->market) != 0) goto out;
    if (ms.n > before) {
      buf_str(&list, ms.n > 1 ? ",\"" : "\"");
      buf_str(&list, t->market);
      buf_str(&list, "\"");
    }
  }
  if (list.oom) goto out;
  char head[200], tail[200];
  int hn = snprintf(head, sizeof head, "{\"slot\":%" PRIu64 ",", slot);
  int tn = snprintf(tail, sizeof tail,
                    "\"markets_count\":%zu,\"positions\":%" PRIu64 ",\"transactions\":%zu,"
                    "\"closes\":%zu}",
                    ms.n, positions, s->ntx, s->ncls);
  sink_buf_t b = {0};
  sink_buf_put(&b, head, (size_t)hn);
  if ((size_t)hn + list.n + (size_t)tn + 16 < SINK_NOTIFY_MAX_PAYLOAD) {
    buf_str(&b, "\"markets\":[");
    sink_buf_put(&b, list.p ? list.p : "", list.n);
    buf_str(&b, "],");
  } else {
    buf_str(&b, "\"markets_truncated\":true,");
  }
  sink_buf_put(&b, tail, (size_t)tn);
  sink_buf_put(&b, "", 1);
  if (b.oom) {
    sink_buf_free(&b);
    goto out;
  }
  *out = b.p;
  *outlen = b.n - 1;
  rc = 1;
out:
  sink_buf_free(&list);
  free(ms.map.e);
  return rc;
}

int sink_notify_send(sink_t *s) {
  char *payload = NULL;
  size_t n = 0;
  int have = sink_notify_payload(s, &payload, &n);
  if (have == 0) return R_OK;
  if (have < 0) {
    sink_set_err(s, "change feed: out of memory");
    return R_NOMEM;
  }
  const char *params[2] = {SINK_NOTIFY_CHANNEL, payload};
  const sink_expect_t ex = {.what = "change feed: pg_notify"};
  int rc = sink_exec(s, &ex, NULL, "SELECT pg_notify($1, $2)", 2, params, NULL, NULL, NULL);
  free(payload);
  return rc;
}
