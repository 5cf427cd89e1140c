/* Live sync, websocket side of the writer (live.h, live_int.h): message
 * classification, queue items -> ingest, transaction fetches (txfetch).
 * Everything here runs on the thread that called live_run(); the websocket
 * thread only fills the queue. */
#include "live.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "jsonx.h"
#include "live_int.h"
#include "log.h"
#include "metrics_cbi.h"
#include "utf8.h"

/* ---- small pure helpers ---------------------------------------------------- */

uint64_t live_checkpoint_next(uint64_t cp, uint64_t tip, uint64_t margin, bool has_outstanding,
                              uint64_t min_outstanding) {
  uint64_t cand = tip > margin ? tip - margin : 0;
  if (has_outstanding) {
    uint64_t lim = min_outstanding > 0 ? min_outstanding - 1 : 0;
    if (cand > lim) cand = lim;
  }
  return cand > cp ? cand : cp;
}


/* ---- signature dedup: two generations of open-addressing sets ------------ */

static uint64_t sig_hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  h ^= h >> 29;
  return h ? h : 1;
}

#define SEEN_SLOTS (LIVE_SEEN_GEN * 2)

static int seen_has(const uint64_t *set, uint64_t h) {
  for (size_t i = h & (SEEN_SLOTS - 1);; i = (i + 1) & (SEEN_SLOTS - 1)) {
    if (set[i] == 0) return 0;
    if (set[i] == h) return 1;
  }
}

/* Returns 1 if sig was seen recently, else records it and returns 0. */
static int seen_check_add(live_t *lv, const char *sig) {
  uint64_t h = sig_hash(sig);
  if (seen_has(lv->seen[0], h) || seen_has(lv->seen[1], h)) return 1;
  if (lv->seen_n >= LIVE_SEEN_GEN) {
    uint64_t *old = lv->seen[1];
    memset(old, 0, SEEN_SLOTS * sizeof *old);
    lv->seen[1] = lv->seen[0];
    lv->seen[0] = old;
    lv->seen_n = 0;
  }
  size_t i = h & (SEEN_SLOTS - 1);
  while (lv->seen[0][i] != 0) i = (i + 1) & (SEEN_SLOTS - 1);
  lv->seen[0][i] = h;
  lv->seen_n++;
  return 0;
}

int live_seen_init(live_t *lv) {
  lv->seen[0] = calloc(SEEN_SLOTS, sizeof(uint64_t));
  lv->seen[1] = calloc(SEEN_SLOTS, sizeof(uint64_t));
  return lv->seen[0] && lv->seen[1] ? 0 : -1;
}

/* ---- the recorder (--record) --------------------------------------------------- */

int live_recorder_open(live_t *lv, char *err, size_t errsz) {
  char e2[512] = "";
  if (!lv->o->record_dir) return 0;
  lv->rec = recorder_open(lv->o->record_dir, e2, sizeof e2);
  if (!lv->rec) {
    snprintf(err, errsz, "record: %s", e2);
    return -1;
  }
  return 0;
}

void live_recorder_close(live_t *lv) {
  recorder_close(lv->rec);
  lv->rec = NULL;
}

/* ---- dead letters and fetches --------------------------------------------------- */

void live_dead_letter(live_t *lv, ingest_dl_kind_t k, const char *key, uint64_t slot,
                      const char *reason, const uint8_t *raw, size_t rawlen) {
  lv->sum.dead_letters++;
  live_ingest_rc(lv, ingest_dead_letter(live_cur_ing(lv), k, key, slot, reason, raw, rawlen),
                 "dead letter");
}

void live_process_fetches(live_t *lv) {
  txfetch_result_t r;
  while (!lv->fatal && txfetch_poll(lv->tf, &r)) {
    switch (r.status) {
      case TXFETCH_OK: {
        int rc = ingest_transaction_json(live_cur_ing(lv), r.tx, r.has_block ? &r.block : NULL,
                                         NULL);
        if (live_ingest_rc(lv, rc, "ingest transaction") == 0) lv->sum.transactions++;
        break;
      }
      case TXFETCH_MISSING:
        lv->sum.tx_missing++;
        live_dead_letter(lv, INGEST_DL_TX_MISSING, r.signature, r.slot, r.reason, NULL, 0);
        break;
      case TXFETCH_FAILED:
        live_dead_letter(lv, INGEST_DL_TX_FETCH, r.signature, r.slot, r.reason, NULL, 0);
        break;
      default: /* cancelled: the client is going away */
        break;
    }
    txfetch_result_clear(&r);
  }
}

/* A slot from the wire that cannot be trusted: above 2^63 - 1, or far
 * beyond the tip the RPC node confirms. The message becomes a slot-range
 * dead letter (raw bytes kept) and nothing of it is applied: it moves
 * neither the tip nor the checkpoint. Returns 1 when rejected. */
static int reject_slot(live_t *lv, uint64_t slot, const msgqueue_item_t *it) {
  char why[200];
  if (ingest_slot_ok(slot)) {
    if (!live_slot_absurd(lv, slot, why, sizeof why)) return 0;
  } else {
    snprintf(why, sizeof why, "websocket message slot %" PRIu64 " is above the highest storable "
             "slot %" PRIu64, slot, INGEST_SLOT_MAX);
  }
  live_dead_letter(lv, INGEST_DL_SLOT_RANGE, NULL, slot, why, it->data, it->len);
  return 1;
}

/* Every message with a slot: range check, the connection's gap fill, the
 * check against the confirmed tip. Returns 1 when the message may be
 * applied. */
static int admit_slot(live_t *lv, uint64_t slot, const msgqueue_item_t *it) {
  if (!ingest_slot_ok(slot)) {
    reject_slot(lv, slot, it);
    return 0;
  }
  live_maybe_fill(lv, slot);
  if (lv->fatal || reject_slot(lv, slot, it)) return 0;
  if (slot > lv->tip) lv->tip = slot;
  return 1;
}

/* ---- queue items ------------------------------------------------------------------ */

/* After an account went to ingest (its latency entry is the last one). */
static void apply_account(live_t *lv, int rc) {
  size_t n = lv->slot[lv->cur].lat_n;
  live_lat_note_batches(lv, n ? n - 1 : 0);
  if (live_ingest_rc(lv, rc, "ingest account") == 0) lv->sum.account_updates++;
}

/* The hot path: a well-formed programNotification goes straight to
 * ingest_account_bytes. Returns 1 when the message was handled. */
static int fast_account(live_t *lv, const msgqueue_item_t *it) {
  wsmsg_fast_account_t fa;
  if (memchr(it->data, 0, it->len) || !utf8_valid(it->data, it->len, NULL) ||
      !wsmsg_fast_account(it->data, it->len, &fa))
    return 0;
  size_t need = b64_decoded_max(fa.b64_len);
  if (need > lv->scratch_cap) {
    uint8_t *p = realloc(lv->scratch, need);
    if (!p) return 0;
    lv->scratch = p;
    lv->scratch_cap = need;
  }
  size_t n = 0;
  if (b64_decode_into(fa.b64, fa.b64_len, lv->scratch, lv->scratch_cap, &n) != 0) return 0;
  live_ops_notification(lv, METRICS_CBI_NOTIF_ACCOUNT);
  if (!admit_slot(lv, fa.slot, it)) return 1;
  lv->last_data_ns = live_now_ns();
  if (lv->first_update_ns == 0) lv->first_update_ns = it->t_ns;
  live_lat_push(lv, it->t_ns);
  int rc = ingest_account_bytes(live_cur_ing(lv), fa.pubkey, fa.owner, fa.lamports, lv->scratch, n,
                                fa.slot);
  apply_account(lv, rc);
  return 1;
}

static void handle_message(live_t *lv, msgqueue_item_t *it) {
  if (lv->rec) {
    if (lv->rec_t0_ns == 0) lv->rec_t0_ns = it->t_ns;
    long at = (long)((it->t_ns - lv->rec_t0_ns) / NS_PER_MS);
    recorder_ws_raw(lv->rec, at, (const char *)it->data, it->len);
  }
  if (it->aux != 1 && fast_account(lv, it)) return;
  wsmsg_t m;
  wsmsg_parse(it->data, it->len, it->aux == 1, &m);
  if (m.kind == WSMSG_BAD) {
    live_dead_letter(lv, INGEST_DL_WS_MESSAGE, NULL, 0, m.reason, it->data, it->len);
    wsmsg_clear(&m);
    return;
  }
  live_ops_notification(lv, m.kind == WSMSG_SLOT      ? METRICS_CBI_NOTIF_SLOT
                            : m.kind == WSMSG_ACCOUNT ? METRICS_CBI_NOTIF_ACCOUNT
                            : m.kind == WSMSG_LOGS    ? METRICS_CBI_NOTIF_LOGS
                                                      : -1);
  if (!admit_slot(lv, m.slot, it)) goto out;
  switch (m.kind) {
    case WSMSG_SLOT:
      lv->sum.slot_notifications++;
      break;
    case WSMSG_ACCOUNT: {
      lv->last_data_ns = live_now_ns();
      if (lv->first_update_ns == 0) lv->first_update_ns = it->t_ns;
      live_lat_push(lv, it->t_ns);
      int rc = ingest_account_json(live_cur_ing(lv), m.pubkey,
                                   json_is_null(m.account) ? NULL : m.account, m.slot);
      apply_account(lv, rc);
      break;
    }
    case WSMSG_LOGS: {
      lv->last_data_ns = live_now_ns();
      lv->sum.logs_notifications++;
      if (seen_check_add(lv, m.signature)) break;
      if (txfetch_submit(lv->tf, 0, m.signature, m.slot) != 0)
        live_dead_letter(lv, INGEST_DL_TX_FETCH, m.signature, m.slot,
                         "getTransaction could not be submitted (out of memory)", NULL, 0);
      break;
    }
    default:
      break;
  }
out:
  wsmsg_clear(&m);
}

void live_handle_item(live_t *lv, msgqueue_item_t *it) {
  switch (it->kind) {
    case WS_ITEM_CONNECTED:
      lv->connected = 1;
      lv->conn_gen = it->aux;
      if (it->aux > 1) lv->sum.reconnects++;
      lv->fill_pending = 1;
      lv->fill_to = 0;
      live_ops_connection(lv, 1);
      break;
    case WS_ITEM_DISCONNECTED:
      live_ops_connection(lv, 0);
      lv->connected = 0;
      lv->down_since_ns = live_now_ns();
      lv->fill_pending = 1;
      lv->fill_to = 0;
      break;
    case WS_ITEM_OVERSIZED: {
      char why[160];
      snprintf(why, sizeof why, "oversized message: %" PRIu64 " bytes > max %zu (first %zu kept)",
               it->aux, lv->o->max_message_bytes, it->len);
      live_dead_letter(lv, INGEST_DL_WS_OVERSIZED, NULL, 0, why, it->data, it->len);
      break;
    }
    case WS_ITEM_MESSAGE:
      handle_message(lv, it);
      break;
    default:
      break;
  }
}

