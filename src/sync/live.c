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

/* ---- small pure helpers ---------------------------------------------------- */

int live_utf8_valid(const uint8_t *p, size_t n, size_t *bad_off) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
      cp = c & 0x1F;
      min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      cp = c & 0x0F;
      min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      goto bad;
    }
    if (need > n - i - 1) goto bad;
    for (size_t k = 1; k <= need; k++) {
      uint8_t d = p[i + k];
      if ((d & 0xC0) != 0x80) goto bad;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto bad;
    i += need + 1;
  }
  return 1;
bad:
  if (bad_off) *bad_off = i;
  return 0;
}

uint64_t live_checkpoint_next(uint64_t cp, uint64_t tip, uint64_t margin, bool has_outstanding,
                              uint64_t min_outstanding) {
  uint64_t cand = tip > margin ? tip - margin : 0;
  if (has_outstanding) {
    uint64_t lim = min_outstanding > 0 ? min_outstanding - 1 : 0;
    if (cand > lim) cand = lim;
  }
  return cand > cp ? cand : cp;
}

static int b58_text_ok(const char *s, size_t minlen, size_t maxlen) {
  static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  size_t n = strlen(s);
  if (n < minlen || n > maxlen) return 0;
  for (size_t i = 0; i < n; i++)
    if (!memchr(alphabet, s[i], sizeof alphabet - 1)) return 0;
  return 1;
}

void live_msg_clear(live_msg_t *m) {
  json_decref(m->doc);
  m->doc = NULL;
}

/* reason = what, then ": detail" when detail is given */
static live_msg_kind_t msg_bad(live_msg_t *out, const char *what, const char *detail) {
  snprintf(out->reason, sizeof out->reason, "%s%s%s", what, detail ? ": " : "",
           detail ? detail : "");
  out->kind = LIVE_MSG_BAD;
  return LIVE_MSG_BAD;
}

live_msg_kind_t live_parse_message(const uint8_t *data, size_t len, int binary, live_msg_t *out) {
  memset(out, 0, sizeof *out);
  char tmp[160];
  size_t off = 0;
  if (binary) return msg_bad(out, "binary frame", NULL);
  const uint8_t *nul = memchr(data, 0, len);
  if (nul) {
    snprintf(tmp, sizeof tmp, "%zu", (size_t)(nul - data));
    return msg_bad(out, "NUL byte at offset", tmp);
  }
  if (!live_utf8_valid(data, len, &off)) {
    snprintf(tmp, sizeof tmp, "%zu", off);
    return msg_bad(out, "invalid UTF-8 at offset", tmp);
  }
  out->doc = jsonx_loads((const char *)data, len, tmp, sizeof tmp);
  if (!out->doc) return msg_bad(out, "malformed JSON", tmp);
  if (!json_is_object(out->doc)) return msg_bad(out, "not a JSON object", NULL);
  const char *method = jsonx_get_str(out->doc, "method");
  if (!method) return msg_bad(out, "not a notification (no method)", NULL);
  json_t *params = json_object_get(out->doc, "params");
  json_t *result = json_is_object(params) ? json_object_get(params, "result") : NULL;
  if (strcmp(method, "slotNotification") == 0) {
    if (!json_is_object(result) || jsonx_get_u64(result, "slot", &out->slot) != 0)
      return msg_bad(out, "slotNotification without a slot", NULL);
    json_t *root = json_object_get(result, "root");
    if (root && !json_is_null(root)) {
      if (jsonx_u64(root, &out->root) != 0)
        return msg_bad(out, "slotNotification with a bad root", NULL);
      out->has_root = true;
    }
    out->kind = LIVE_MSG_SLOT;
    return out->kind;
  }
  int is_prog = strcmp(method, "programNotification") == 0;
  int is_logs = strcmp(method, "logsNotification") == 0;
  if (!is_prog && !is_logs) {
    snprintf(tmp, sizeof tmp, "%.100s", method);
    return msg_bad(out, "unknown method", tmp);
  }
  json_t *context = json_is_object(result) ? json_object_get(result, "context") : NULL;
  json_t *value = json_is_object(result) ? json_object_get(result, "value") : NULL;
  if (!json_is_object(context) || jsonx_get_u64(context, "slot", &out->slot) != 0)
    return msg_bad(out, "notification without a context slot", method);
  if (!json_is_object(value)) return msg_bad(out, "notification without a value object", method);
  if (is_prog) {
    const char *pk = jsonx_get_str(value, "pubkey");
    json_t *acc = json_object_get(value, "account");
    if (!pk || !b58_text_ok(pk, 32, 44))
      return msg_bad(out, "programNotification without a valid pubkey", NULL);
    if (!acc || (!json_is_object(acc) && !json_is_null(acc)))
      return msg_bad(out, "programNotification without an account", NULL);
    out->pubkey = pk;
    out->account = acc;
    out->kind = LIVE_MSG_ACCOUNT;
    return out->kind;
  }
  const char *sig = jsonx_get_str(value, "signature");
  if (!sig || !b58_text_ok(sig, 64, 88))
    return msg_bad(out, "logsNotification without a valid signature", NULL);
  json_t *err = json_object_get(value, "err");
  out->tx_failed = err && !json_is_null(err);
  out->signature = sig;
  out->kind = LIVE_MSG_LOGS;
  return out->kind;
}

/* ---- fast path for programNotification --------------------------------------- */

static size_t js_ws(const char *s, size_t n, size_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

static int js_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* i at '"': the index after the closing quote, or 0 if malformed. */
static size_t js_string(const char *s, size_t n, size_t i) {
  for (i++; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') return i + 1;
    if (c < 0x20) return 0;
    if (c == '\\') {
      if (++i >= n) return 0;
      c = (unsigned char)s[i];
      if (c == 'u') {
        if (n - i < 5 || !js_hex(s[i + 1]) || !js_hex(s[i + 2]) || !js_hex(s[i + 3]) ||
            !js_hex(s[i + 4]))
          return 0;
        i += 4;
      } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
        return 0;
      }
    }
  }
  return 0;
}

static size_t js_digits(const char *s, size_t n, size_t i) {
  size_t st = i;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  return i > st ? i : 0;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?: index after it, or 0. */
static size_t js_number(const char *s, size_t n, size_t i) {
  if (s[i] == '-') i++;
  if (i >= n) return 0;
  if (s[i] == '0') i++;
  else if (!(i = js_digits(s, n, i))) return 0;
  if (i < n && s[i] == '.' && !(i = js_digits(s, n, i + 1))) return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (!(i = js_digits(s, n, i))) return 0;
  }
  return i;
}

/* 1 when s[0..n) is exactly one JSON value (RFC 8259 grammar, nesting up
 * to 64 levels), surrounded by whitespace only. One pass, no allocation;
 * UTF-8 is checked separately. */
static int json_syntax_ok(const char *s, size_t n) {
  char stack[64];
  int sp = 0;
  enum { S_VALUE, S_VALUE_OR_CLOSE, S_KEY, S_KEY_OR_CLOSE, S_AFTER } st = S_VALUE;
  size_t i = js_ws(s, n, 0);
  for (;;) {
    if (st == S_AFTER) {
      i = js_ws(s, n, i);
      if (sp == 0) return i == n;
      if (i >= n) return 0;
      if (s[i] == ',') {
        i = js_ws(s, n, i + 1);
        st = stack[sp - 1] == '{' ? S_KEY : S_VALUE;
      } else if (s[i] == (stack[sp - 1] == '{' ? '}' : ']')) {
        sp--;
        i++;
      } else {
        return 0;
      }
      continue;
    }
    if (i >= n) return 0;
    char c = s[i];
    if (st == S_KEY || st == S_KEY_OR_CLOSE) {
      if (st == S_KEY_OR_CLOSE && c == '}') {
        sp--;
        i++;
        st = S_AFTER;
        continue;
      }
      if (c != '"' || !(i = js_string(s, n, i))) return 0;
      i = js_ws(s, n, i);
      if (i >= n || s[i] != ':') return 0;
      i = js_ws(s, n, i + 1);
      st = S_VALUE;
      continue;
    }
    if (st == S_VALUE_OR_CLOSE && c == ']') {
      sp--;
      i++;
      st = S_AFTER;
      continue;
    }
    if (c == '{' || c == '[') {
      if (sp == (int)sizeof stack) return 0;
      stack[sp++] = c;
      i = js_ws(s, n, i + 1);
      st = c == '{' ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
      continue;
    }
    if (c == '"') i = js_string(s, n, i);
    else if (c == '-' || (c >= '0' && c <= '9')) i = js_number(s, n, i);
    else if (n - i >= 4 && memcmp(s + i, "true", 4) == 0) i += 4;
    else if (n - i >= 5 && memcmp(s + i, "false", 5) == 0) i += 5;
    else if (n - i >= 4 && memcmp(s + i, "null", 4) == 0) i += 4;
    else return 0;
    if (i == 0) return 0;
    st = S_AFTER;
  }
}

/* Member key of the object at obj (already validated). */
static int raw_get(const replay_span_t *obj, const char *key, replay_span_t *out) {
  if (obj->len == 0 || obj->ptr[0] != '{') return 0;
  return replay_raw_member(obj->ptr, obj->len, key, out) == 1;
}

static int raw_obj(const replay_span_t *parent, const char *key, replay_span_t *out) {
  return raw_get(parent, key, out) && out->len > 0 && out->ptr[0] == '{';
}

static int raw_u64(const replay_span_t *v, uint64_t *out) {
  if (v->len == 0 || v->len > 20) return 0;
  uint64_t x = 0;
  for (size_t i = 0; i < v->len; i++) {
    char c = v->ptr[i];
    if (c < '0' || c > '9') return 0;
    uint64_t d = (uint64_t)(c - '0');
    if (x > (UINT64_MAX - d) / 10) return 0;
    x = x * 10 + d;
  }
  if (v->len > 1 && v->ptr[0] == '0') return 0; /* JSON has no leading zeros */
  *out = x;
  return 1;
}

/* An escape-free JSON string: content span without the quotes. */
static int raw_str(const replay_span_t *v, replay_span_t *content) {
  if (v->len < 2 || v->ptr[0] != '"' || v->ptr[v->len - 1] != '"') return 0;
  content->ptr = v->ptr + 1;
  content->len = v->len - 2;
  for (size_t i = 0; i < content->len; i++)
    if (content->ptr[i] == '\\' || (unsigned char)content->ptr[i] < 0x20) return 0;
  return 1;
}

static int raw_key_text(const replay_span_t *v, char *out, size_t outsz) {
  replay_span_t c;
  if (!raw_str(v, &c) || c.len == 0 || c.len >= outsz) return 0;
  memcpy(out, c.ptr, c.len);
  out[c.len] = '\0';
  return 1;
}

int live_fast_account(const uint8_t *data, size_t len, live_fast_account_t *out) {
  replay_span_t top = {(const char *)data, len}, v, params, result, context, value, account, arr;
  size_t i = 0;
  while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')) i++;
  top.ptr += i;
  top.len -= i;
  if (top.len == 0 || top.ptr[0] != '{' || !json_syntax_ok(top.ptr, top.len)) return 0;
  if (!raw_get(&top, "method", &v) || v.len != sizeof "\"programNotification\"" - 1 ||
      memcmp(v.ptr, "\"programNotification\"", v.len) != 0)
    return 0;
  if (!raw_obj(&top, "params", &params) || !raw_obj(&params, "result", &result) ||
      !raw_obj(&result, "context", &context) || !raw_obj(&result, "value", &value) ||
      !raw_obj(&value, "account", &account))
    return 0;
  if (!raw_get(&context, "slot", &v) || !raw_u64(&v, &out->slot)) return 0;
  if (!raw_get(&value, "pubkey", &v) || !raw_key_text(&v, out->pubkey, sizeof out->pubkey) ||
      !b58_text_ok(out->pubkey, 32, 44))
    return 0;
  if (!raw_get(&account, "owner", &v) || !raw_key_text(&v, out->owner, sizeof out->owner) ||
      !b58_text_ok(out->owner, 32, 44))
    return 0;
  if (!raw_get(&account, "lamports", &v) || !raw_u64(&v, &out->lamports)) return 0;
  if (!raw_get(&account, "data", &arr) || arr.len == 0 || arr.ptr[0] != '[') return 0;
  replay_raw_iter_t it;
  replay_span_t e0, e1, e2, c0, c1;
  if (replay_raw_iter_init(&it, arr.ptr, arr.len) != 0 || replay_raw_iter_next(&it, NULL, &e0) != 1 ||
      replay_raw_iter_next(&it, NULL, &e1) != 1 || replay_raw_iter_next(&it, NULL, &e2) != 0)
    return 0;
  if (!raw_str(&e0, &c0) || !raw_str(&e1, &c1) || c1.len != 6 || memcmp(c1.ptr, "base64", 6) != 0)
    return 0;
  out->b64 = c0.ptr;
  out->b64_len = c0.len;
  return 1;
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
  lv->rec = replay_recorder_open(lv->o->record_dir, e2, sizeof e2);
  if (!lv->rec) {
    snprintf(err, errsz, "record: %s", e2);
    return -1;
  }
  return 0;
}

void live_recorder_close(live_t *lv) {
  replay_recorder_close(lv->rec);
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
  live_fast_account_t fa;
  if (memchr(it->data, 0, it->len) || !live_utf8_valid(it->data, it->len, NULL) ||
      !live_fast_account(it->data, it->len, &fa))
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
    replay_recorder_ws_raw(lv->rec, at, (const char *)it->data, it->len);
  }
  if (it->aux != 1 && fast_account(lv, it)) return;
  live_msg_t m;
  live_parse_message(it->data, it->len, it->aux == 1, &m);
  if (m.kind == LIVE_MSG_BAD) {
    live_dead_letter(lv, INGEST_DL_WS_MESSAGE, NULL, 0, m.reason, it->data, it->len);
    live_msg_clear(&m);
    return;
  }
  if (!admit_slot(lv, m.slot, it)) goto out;
  switch (m.kind) {
    case LIVE_MSG_SLOT:
      lv->sum.slot_notifications++;
      break;
    case LIVE_MSG_ACCOUNT: {
      lv->last_data_ns = live_now_ns();
      if (lv->first_update_ns == 0) lv->first_update_ns = it->t_ns;
      live_lat_push(lv, it->t_ns);
      int rc = ingest_account_json(live_cur_ing(lv), m.pubkey,
                                   json_is_null(m.account) ? NULL : m.account, m.slot);
      apply_account(lv, rc);
      break;
    }
    case LIVE_MSG_LOGS: {
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
  live_msg_clear(&m);
}

void live_handle_item(live_t *lv, msgqueue_item_t *it) {
  switch (it->kind) {
    case WS_ITEM_CONNECTED:
      lv->connected = 1;
      lv->conn_gen = it->aux;
      if (it->aux > 1) lv->sum.reconnects++;
      lv->fill_pending = 1;
      lv->fill_to = 0;
      break;
    case WS_ITEM_DISCONNECTED:
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

