/* JSON-RPC 2.0 client on libcurl multi (see rpc.h for the policy). */
#include "rpc.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonraw.h"
#include "jsonx.h"
#include "log.h"
#include "progress.h"
#include "recorder.h"
#include "rpc_priv.h"

#define RPC_DEF_MAX_IN_FLIGHT 32u
#define RPC_DEF_TIMEOUT_MS 30000L
#define RPC_DEF_CONNECT_TIMEOUT_MS 5000L
#define RPC_DEF_MAX_RESPONSE ((size_t)64 * 1024 * 1024)
#define RPC_DEF_MAX_RETRIES 8
#define RPC_DEF_RETRY_BASE_MS 100L
#define RPC_DEF_RETRY_MAX_MS 10000L
#define RPC_DEF_ROTATE_AFTER 3u
#define RPC_RETRY_AFTER_CAP_MS 60000L
#define RPC_POLL_SLICE_MS 100L /* stop flag is checked at least this often */

static int g_inited;

int rpc_global_init(void) {
  if (g_inited) return 0;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return -1;
  if (sodium_init() < 0) return -1;
  g_inited = 1;
  return 0;
}

void rpc_options_init(rpc_options_t *o) {
  memset(o, 0, sizeof *o);
  o->max_in_flight = RPC_DEF_MAX_IN_FLIGHT;
  o->batch_max = 1;
  o->timeout_ms = RPC_DEF_TIMEOUT_MS;
  o->connect_timeout_ms = RPC_DEF_CONNECT_TIMEOUT_MS;
  o->max_response_bytes = RPC_DEF_MAX_RESPONSE;
  o->max_retries = RPC_DEF_MAX_RETRIES;
  o->retry_base_ms = RPC_DEF_RETRY_BASE_MS;
  o->retry_max_ms = RPC_DEF_RETRY_MAX_MS;
  o->rotate_after = RPC_DEF_ROTATE_AFTER;
  o->verify_tls = 1;
}

void rpc_error_describe(const rpc_error_t *e, char *buf, size_t bufsz) {
  int n;
  if (e->kind == RPC_ERR_RPC)
    n = snprintf(buf, bufsz, "rpc error %ld: %s", e->rpc_code, e->message);
  else if (e->kind == RPC_ERR_HTTP)
    n = snprintf(buf, bufsz, "HTTP %ld: %s", e->http_status, e->message);
  else
    n = snprintf(buf, bufsz, "%s: %s", rpc_error_kind_name(e->kind), e->message);
  if (n < 0 && bufsz) buf[0] = '\0';
}

const char *rpc_error_kind_name(int kind) {
  switch (kind) {
  case RPC_OK: return "none";
  case RPC_ERR_TRANSPORT: return "transport";
  case RPC_ERR_HTTP: return "http";
  case RPC_ERR_RPC: return "rpc";
  case RPC_ERR_PARSE: return "parse";
  case RPC_ERR_TOO_LARGE: return "too_large";
  case RPC_ERR_CANCELLED: return "cancelled";
  case RPC_ERR_INVALID: return "invalid";
  case RPC_ERR_INTERNAL: return "internal";
  default: return "unknown";
  }
}

const char *rpc_strerror(int code) {
  switch (code) {
  case RPC_OK: return "ok";
  case RPC_ERR_TRANSPORT: return "transport error (no HTTP response)";
  case RPC_ERR_HTTP: return "HTTP error status";
  case RPC_ERR_RPC: return "JSON-RPC error";
  case RPC_ERR_PARSE: return "response is not a JSON-RPC response";
  case RPC_ERR_TOO_LARGE: return "response too large";
  case RPC_ERR_CANCELLED: return "call cancelled";
  case RPC_ERR_INVALID: return "invalid call (empty method or out of memory)";
  case RPC_ERR_INTERNAL: return "internal libcurl failure";
  default: return "unknown error";
  }
}

/* Counter slot of a failure kind, or -1 for codes that are no call kind. */
static int kind_slot(int kind) {
  return kind <= RPC_ERR_TRANSPORT && kind >= RPC_ERR_CANCELLED ? RPC_ERR_INDEX(kind) : -1;
}

int rpc_code_is_retryable(long code) {
  switch (code) {
  case -32005: /* node is behind */
  case -32004: /* block not available for slot yet */
  case -32014: /* block status not yet available */
  case -32016: /* minimum context slot has not been reached */
  case -32603: /* internal error */
    return 1;
  default:
    return 0;
  }
}

char *rpc_current_endpoint(const rpc_client_t *c, char *out, size_t outsz) {
  return log_redact_url(c->endpoints[c->cur_endpoint], out, outsz);
}

static void set_err(rpc_error_t *e, int kind, long http, long code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void set_err(rpc_error_t *e, int kind, long http, long code, const char *fmt, ...) {
  va_list ap;
  e->kind = kind;
  e->http_status = http;
  e->rpc_code = code;
  va_start(ap, fmt);
  log_vset_err(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
}

/* ---- client lifecycle ---------------------------------------------------- */

static int split_endpoints(rpc_client_t *c, const char *list, char *err, size_t errsz) {
  size_t cap = 1;
  for (const char *p = list; *p; p++)
    if (*p == ',') cap++;
  c->endpoints_buf = strdup(list);
  c->endpoints = calloc(cap, sizeof *c->endpoints);
  if (!c->endpoints_buf || !c->endpoints) {
    snprintf(err, errsz, "out of memory");
    return -1;
  }
  char *save = NULL;
  for (char *tok = strtok_r(c->endpoints_buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ' || *tok == '\t') tok++;
    size_t l = strlen(tok);
    while (l > 0 && (tok[l - 1] == ' ' || tok[l - 1] == '\t')) tok[--l] = '\0';
    if (l == 0) continue;
    if (strncmp(tok, "http://", 7) != 0 && strncmp(tok, "https://", 8) != 0) {
      char red[512];
      snprintf(err, errsz, "RPC endpoint is not an http(s) URL: %s",
               log_redact_url(tok, red, sizeof red));
      return -1;
    }
    c->endpoints[c->nendpoints++] = tok;
  }
  if (c->nendpoints == 0) {
    snprintf(err, errsz, "no RPC endpoint given");
    return -1;
  }
  return 0;
}

rpc_client_t *rpc_client_new(const rpc_options_t *o, char *err, size_t errsz) {
  rpc_client_t *c = NULL;
  if (rpc_global_init() != 0) {
    snprintf(err, errsz, "libcurl/libsodium initialisation failed");
    return NULL;
  }
  if (!o || !o->endpoints) {
    snprintf(err, errsz, "no RPC endpoint given");
    return NULL;
  }
  c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errsz, "out of memory");
    return NULL;
  }
  c->o = *o;
  if (!c->o.max_in_flight) c->o.max_in_flight = RPC_DEF_MAX_IN_FLIGHT;
  if (!c->o.batch_max) c->o.batch_max = 1;
  if (c->o.timeout_ms <= 0) c->o.timeout_ms = RPC_DEF_TIMEOUT_MS;
  if (c->o.connect_timeout_ms <= 0) c->o.connect_timeout_ms = RPC_DEF_CONNECT_TIMEOUT_MS;
  if (!c->o.max_response_bytes) c->o.max_response_bytes = RPC_DEF_MAX_RESPONSE;
  if (c->o.max_retries < 0) c->o.max_retries = 0;
  if (c->o.retry_base_ms <= 0) c->o.retry_base_ms = RPC_DEF_RETRY_BASE_MS;
  if (c->o.retry_max_ms <= 0) c->o.retry_max_ms = RPC_DEF_RETRY_MAX_MS;
  if (!c->o.rotate_after) c->o.rotate_after = RPC_DEF_ROTATE_AFTER;
  c->o.endpoints = NULL;
  c->o.record_dir = NULL;
  c->o.user_agent = NULL;
  if (split_endpoints(c, o->endpoints, err, errsz) != 0) goto fail;
  if (o->record_dir) {
    c->rec = recorder_open(o->record_dir, err, errsz);
    if (!c->rec) goto fail;
  }
  c->o.user_agent = strdup(o->user_agent ? o->user_agent : "crypto-bet-indexer");
  c->multi = curl_multi_init();
  if (!c->o.user_agent || !c->multi) {
    snprintf(err, errsz, "out of memory");
    goto fail;
  }
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->o.max_in_flight * 2 + 4);
  if (!c->o.verify_tls) log_warn("rpc", "TLS certificate verification is disabled");
  curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  c->next_id = 1;
  return c;
fail:
  rpc_client_free(c);
  return NULL;
}

static void call_free(rpc_call_t *call) {
  if (!call) return;
  free(call->method);
  json_decref(call->params);
  free(call);
}

/* Runs the callback and frees the call. */
static void call_finish(rpc_client_t *c, rpc_call_t *call, json_t *result, const rpc_error_t *e) {
  if (e) {
    c->st.calls_failed++;
    if (kind_slot(e->kind) > 0) c->st.errors[kind_slot(e->kind)]++;
  } else {
    c->st.calls_ok++;
  }
  c->pending--;
  c->callbacks_run++;
  if (c->o.on_done)
    c->o.on_done(c->o.on_done_user, call->method, e ? e->kind : 0,
                 (double)(progress_now_us() - call->t_submit_us) / 1e6);
  if (call->cb) call->cb(call->user, e ? NULL : result, e);
  call_free(call);
}

/* ---- queues ---------------------------------------------------------------- */

static void ready_push(rpc_client_t *c, rpc_call_t *call) {
  call->next = NULL;
  if (c->ready.tail) c->ready.tail->next = call;
  else c->ready.head = call;
  c->ready.tail = call;
}

static rpc_call_t *ready_pop(rpc_client_t *c) {
  rpc_call_t *call = c->ready.head;
  if (call) {
    c->ready.head = call->next;
    if (!c->ready.head) c->ready.tail = NULL;
    call->next = NULL;
  }
  return call;
}

/* Moves due delayed calls to the ready queue; returns the earliest
 * remaining due time, or INT64_MAX. */
static int64_t promote_delayed(rpc_client_t *c, int64_t now) {
  int64_t next = INT64_MAX;
  rpc_call_t **pp = &c->delayed;
  while (*pp) {
    rpc_call_t *call = *pp;
    if (call->not_before <= now) {
      *pp = call->next;
      ready_push(c, call);
    } else {
      if (call->not_before < next) next = call->not_before;
      pp = &call->next;
    }
  }
  return next;
}

static void active_add(rpc_client_t *c, rpc_xfer_t *x) {
  x->prev = NULL;
  x->next = c->active;
  if (c->active) c->active->prev = x;
  c->active = x;
  c->nactive++;
}

static void active_del(rpc_client_t *c, rpc_xfer_t *x) {
  if (x->prev) x->prev->next = x->next;
  else c->active = x->next;
  if (x->next) x->next->prev = x->prev;
  x->next = x->prev = NULL;
  c->nactive--;
}

/* Returns a transfer to the pool (its calls must be handed off already). */
static void xfer_release(rpc_client_t *c, rpc_xfer_t *x) {
  x->ncalls = 0;
  free(x->body);
  x->body = NULL;
  x->resp_len = 0;
  if (x->resp_cap > 1024 * 1024) { /* do not keep huge buffers around */
    free(x->resp);
    x->resp = NULL;
    x->resp_cap = 0;
  }
  x->next = c->free_xfers;
  c->free_xfers = x;
}

/* ---- endpoint health --------------------------------------------------------- */

static void note_failure(rpc_client_t *c, const rpc_xfer_t *x) {
  if (x->endpoint != c->cur_endpoint) return; /* late news about an endpoint already left */
  c->consecutive_failures++;
  if (c->nendpoints > 1 && c->consecutive_failures >= c->o.rotate_after) {
    char from[512], to[512];
    size_t next = (c->cur_endpoint + 1) % c->nendpoints;
    log_warn("rpc", "switching endpoint after %u consecutive failures from=%s to=%s",
             c->consecutive_failures, log_redact_url(c->endpoints[c->cur_endpoint], from, sizeof from),
             log_redact_url(c->endpoints[next], to, sizeof to));
    c->cur_endpoint = next;
    c->consecutive_failures = 0;
    c->st.rotations++;
  }
}

static void note_success(rpc_client_t *c, const rpc_xfer_t *x) {
  if (x->endpoint == c->cur_endpoint) c->consecutive_failures = 0;
}

/* ---- retry policy ------------------------------------------------------------- */

/* Full jitter: uniform in [0, min(max, base * 2^(attempt-1))]. */
static long backoff_ms(const rpc_client_t *c, int attempt) {
  long ceil = c->o.retry_base_ms;
  for (int i = 1; i < attempt && ceil < c->o.retry_max_ms; i++) ceil *= 2;
  if (ceil > c->o.retry_max_ms) ceil = c->o.retry_max_ms;
  if (ceil <= 0) return 0;
  uint32_t bound = ceil >= (long)UINT32_MAX ? UINT32_MAX : (uint32_t)ceil + 1;
  return (long)randombytes_uniform(bound);
}

/* A failed attempt: re-queue with backoff, or deliver e when out of
 * retries. min_delay_ms: lower bound (Retry-After). */
static void call_retry_or_fail(rpc_client_t *c, rpc_call_t *call, rpc_error_t *e, long min_delay_ms) {
  if (kind_slot(e->kind) > 0) c->st.attempt_failures[kind_slot(e->kind)]++;
  if (call->attempts > c->o.max_retries) {
    size_t l = strlen(e->message);
    if (call->attempts > 1 && l < sizeof e->message)
      snprintf(e->message + l, sizeof e->message - l, " (after %d attempts)", call->attempts);
    call_finish(c, call, NULL, e);
    return;
  }
  long d = backoff_ms(c, call->attempts);
  if (d < min_delay_ms) d = min_delay_ms;
  log_debug("rpc", "retry method=%s attempt=%d delay_ms=%ld reason=%s", call->method,
            call->attempts, d, e->message);
  c->st.retries++;
  call->not_before = progress_now_ms() + d;
  call->next = c->delayed;
  c->delayed = call;
}

/* ---- transfers ----------------------------------------------------------------- */

/* Fails every call of x with e (no retry). */
static void xfer_fail_all(rpc_client_t *c, rpc_xfer_t *x, const rpc_error_t *e) {
  for (size_t i = 0; i < x->ncalls; i++) {
    rpc_error_t ec = *e;
    if (kind_slot(ec.kind) > 0) c->st.attempt_failures[kind_slot(ec.kind)]++;
    call_finish(c, x->calls[i], NULL, &ec);
  }
  x->ncalls = 0;
}

static void xfer_retry_all(rpc_client_t *c, rpc_xfer_t *x, const rpc_error_t *e, long min_delay) {
  for (size_t i = 0; i < x->ncalls; i++) {
    rpc_error_t ec = *e;
    call_retry_or_fail(c, x->calls[i], &ec, min_delay);
  }
  x->ncalls = 0;
}

/* Starts transfers for ready calls up to max_in_flight. */
static void start_transfers(rpc_client_t *c) {
  while (c->ready.head && c->nactive < c->o.max_in_flight) {
    rpc_xfer_t *x = rpc_xfer_get(c);
    if (!x) return; /* out of memory: try again on the next pass */
    size_t want = c->o.batch_max;
    if (want > x->capcalls) {
      rpc_call_t **nc = realloc(x->calls, want * sizeof *nc);
      if (!nc) {
        xfer_release(c, x);
        return;
      }
      x->calls = nc;
      x->capcalls = want;
    }
    x->ncalls = 0;
    while (x->ncalls < want && c->ready.head) {
      rpc_call_t *call = ready_pop(c);
      call->attempts++;
      x->calls[x->ncalls++] = call;
    }
    x->batch = x->ncalls > 1;
    rpc_error_t e;
    memset(&e, 0, sizeof e);
    if (rpc_xfer_build_body(c, x) != 0 || rpc_xfer_setup(c, x) != 0) {
      set_err(&e, RPC_ERR_TRANSPORT, 0, 0, "cannot build request for %s", x->calls[0]->method);
      xfer_fail_all(c, x, &e);
      xfer_release(c, x);
      continue;
    }
    if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
      set_err(&e, RPC_ERR_TRANSPORT, 0, 0, "cannot start transfer for %s", x->calls[0]->method);
      xfer_fail_all(c, x, &e);
      xfer_release(c, x);
      continue;
    }
    c->st.http_requests++;
    c->st.bytes_sent += x->body_len;
    active_add(c, x);
  }
}

/* Records one JSON-RPC response member ("result"/"error") of raw object text. */
static void record_one(rpc_client_t *c, const rpc_call_t *call, const char *raw, size_t len) {
  jsonraw_span_t v;
  if (!c->rec) return;
  if (jsonraw_member(raw, len, "result", &v) == 1)
    recorder_rpc(c->rec, call->method, call->params, "result", v.ptr, v.len);
  else if (jsonraw_member(raw, len, "error", &v) == 1)
    recorder_rpc(c->rec, call->method, call->params, "error", v.ptr, v.len);
}

/* Handles one JSON-RPC response object for call. raw/raw_len: its text
 * (for the recorder; may be NULL). */
static void handle_response(rpc_client_t *c, rpc_call_t *call, json_t *obj, const char *raw,
                            size_t raw_len) {
  rpc_error_t e;
  memset(&e, 0, sizeof e);
  e.http_status = 200;
  if (!json_is_object(obj)) {
    set_err(&e, RPC_ERR_PARSE, 200, 0, "%s: response is not a JSON-RPC object", call->method);
    c->st.attempt_failures[RPC_ERR_INDEX(e.kind)]++;
    call_finish(c, call, NULL, &e);
    return;
  }
  json_t *error = json_object_get(obj, "error");
  json_t *result = json_object_get(obj, "result");
  if (raw && (error || result)) record_one(c, call, raw, raw_len);
  if (error && !json_is_null(error)) {
    json_int_t code = json_integer_value(json_object_get(error, "code"));
    const char *msg = jsonx_get_str(error, "message");
    set_err(&e, RPC_ERR_RPC, 200, (long)code, "%s: JSON-RPC error %lld: %s", call->method,
            (long long)code, msg ? msg : "(no message)");
    if (rpc_code_is_retryable((long)code)) {
      call_retry_or_fail(c, call, &e, 0);
    } else {
      c->st.attempt_failures[RPC_ERR_INDEX(e.kind)]++;
      call_finish(c, call, NULL, &e);
    }
    return;
  }
  if (!result) {
    set_err(&e, RPC_ERR_PARSE, 200, 0, "%s: response has neither result nor error", call->method);
    c->st.attempt_failures[RPC_ERR_INDEX(e.kind)]++;
    call_finish(c, call, NULL, &e);
    return;
  }
  call_finish(c, call, result, NULL);
}

static int id_of(const json_t *o, uint64_t *id) {
  return json_is_object(o) ? jsonx_u64(json_object_get(o, "id"), id) : -1;
}

/* Finds the raw text of the batch element with this id (recording only). */
static int raw_batch_elem(const char *body, size_t len, uint64_t id, jsonraw_span_t *out) {
  jsonraw_iter_t it;
  jsonraw_span_t v, idv;
  if (jsonraw_iter_init(&it, body, len) != 0) return 0;
  while (jsonraw_iter_next(&it, NULL, &v) == 1) {
    uint64_t n;
    if (jsonraw_member(v.ptr, v.len, "id", &idv) != 1) continue;
    if (jsonx_u64_text(idv.ptr, idv.len, &n) == 0 && n == id) {
      *out = v;
      return 1;
    }
  }
  return 0;
}

static void handle_body(rpc_client_t *c, rpc_xfer_t *x) {
  char perr[200];
  rpc_error_t e;
  memset(&e, 0, sizeof e);
  json_t *doc = jsonx_loads(x->resp ? x->resp : "", x->resp_len, perr, sizeof perr);
  if (!doc) {
    set_err(&e, RPC_ERR_PARSE, 200, 0, "%s: response is not JSON (%zu bytes): %s",
            x->calls[0]->method, x->resp_len, perr);
    xfer_fail_all(c, x, &e);
    return;
  }
  if (!x->batch) {
    rpc_call_t *call = x->calls[0];
    x->ncalls = 0;
    handle_response(c, call, doc, x->resp, x->resp_len);
  } else if (json_is_array(doc)) {
    size_t n = x->ncalls;
    x->ncalls = 0;
    for (size_t i = 0; i < n; i++) {
      rpc_call_t *call = x->calls[i];
      json_t *found = NULL, *el;
      size_t j;
      json_array_foreach(doc, j, el) {
        uint64_t id;
        if (id_of(el, &id) == 0 && id == call->id) {
          found = el;
          break;
        }
      }
      if (!found) {
        set_err(&e, RPC_ERR_PARSE, 200, 0, "%s: missing from the batch response", call->method);
        call_retry_or_fail(c, call, &e, 0);
        continue;
      }
      jsonraw_span_t raw = {NULL, 0};
      if (c->rec) raw_batch_elem(x->resp, x->resp_len, call->id, &raw);
      handle_response(c, call, found, raw.ptr, raw.len);
    }
  } else if (json_is_object(doc) && json_object_get(doc, "error")) {
    /* the server rejected the batch as a whole: same answer for each call */
    size_t n = x->ncalls;
    x->ncalls = 0;
    for (size_t i = 0; i < n; i++) handle_response(c, x->calls[i], doc, NULL, 0);
  } else {
    set_err(&e, RPC_ERR_PARSE, 200, 0, "batch response is not a JSON array");
    xfer_fail_all(c, x, &e);
  }
  json_decref(doc);
}

static void handle_done(rpc_client_t *c, rpc_xfer_t *x, CURLcode res) {
  long status = 0, connects = 0;
  rpc_error_t e;
  memset(&e, 0, sizeof e);
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0)
    c->st.connections += (uint64_t)connects;
  c->st.bytes_received += x->resp_len;
  const char *m = x->calls[0]->method;
  if (x->too_large || res == CURLE_FILESIZE_EXCEEDED) {
    set_err(&e, RPC_ERR_TOO_LARGE, status, 0,
            "%s: response larger than max_response_bytes=%zu; transfer aborted", m,
            c->o.max_response_bytes);
    xfer_fail_all(c, x, &e);
    return;
  }
  if (res != CURLE_OK) {
    set_err(&e, RPC_ERR_TRANSPORT, status, 0, "%s: %s%s%s", m, curl_easy_strerror(res),
            x->errbuf[0] ? ": " : "", x->errbuf);
    note_failure(c, x);
    xfer_retry_all(c, x, &e, 0);
    return;
  }
  if (status == 429) {
    c->st.http_429++;
    set_err(&e, RPC_ERR_HTTP, status, 0, "%s: HTTP 429 Too Many Requests (Retry-After %ld s)", m,
            x->retry_after_s);
    note_failure(c, x);
    long min_delay = 0;
    if (x->retry_after_s > 0) {
      min_delay = x->retry_after_s * 1000;
      if (min_delay > RPC_RETRY_AFTER_CAP_MS) min_delay = RPC_RETRY_AFTER_CAP_MS;
    }
    xfer_retry_all(c, x, &e, min_delay);
    return;
  }
  if (status >= 500 || status == 408) {
    if (status >= 500) c->st.http_5xx++;
    set_err(&e, RPC_ERR_HTTP, status, 0, "%s: HTTP %ld", m, status);
    note_failure(c, x);
    xfer_retry_all(c, x, &e, 0);
    return;
  }
  if (status != 200) {
    set_err(&e, RPC_ERR_HTTP, status, 0, "%s: HTTP %ld", m, status);
    xfer_fail_all(c, x, &e);
    return;
  }
  note_success(c, x);
  handle_body(c, x);
}

static void process_done(rpc_client_t *c) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL *easy = msg->easy_handle;
    CURLcode res = msg->data.result;
    rpc_xfer_t *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    curl_multi_remove_handle(c->multi, easy);
    active_del(c, x);
    handle_done(c, x, res);
    xfer_release(c, x);
  }
}

static void cancel_all(rpc_client_t *c, const char *why) {
  rpc_error_t e;
  memset(&e, 0, sizeof e);
  set_err(&e, RPC_ERR_CANCELLED, 0, 0, "cancelled: %s", why);
  while (c->active) {
    rpc_xfer_t *x = c->active;
    curl_multi_remove_handle(c->multi, x->easy);
    active_del(c, x);
    xfer_fail_all(c, x, &e);
    xfer_release(c, x);
  }
  while (c->ready.head || c->delayed) {
    rpc_call_t *call;
    if (c->ready.head) {
      call = ready_pop(c);
    } else {
      call = c->delayed;
      c->delayed = call->next;
    }
    call_finish(c, call, NULL, &e);
  }
}

static int stopping(const rpc_client_t *c) { return c->o.stop_flag && *c->o.stop_flag; }

void rpc_client_free(rpc_client_t *c) {
  if (!c) return;
  if (c->multi) {
    /* callbacks may submit more calls while being cancelled */
    for (int guard = 0; guard < 1000 && c->pending > 0; guard++) cancel_all(c, "client closed");
  }
  while (c->free_xfers) {
    rpc_xfer_t *x = c->free_xfers;
    c->free_xfers = x->next;
    rpc_xfer_destroy(x);
  }
  if (c->multi) curl_multi_cleanup(c->multi);
  free(c->endpoints);
  free(c->endpoints_buf);
  free((char *)c->o.user_agent);
  recorder_close(c->rec);
  free(c);
}

int rpc_submit(rpc_client_t *c, const char *method, json_t *params, rpc_done_fn cb, void *user) {
  if (!method || !*method) {
    json_decref(params);
    return RPC_ERR_INVALID;
  }
  rpc_call_t *call = calloc(1, sizeof *call);
  if (!call || !(call->method = strdup(method))) {
    free(call);
    json_decref(params);
    return RPC_ERR_INVALID;
  }
  call->params = params;
  call->cb = cb;
  call->user = user;
  call->t_submit_us = progress_now_us();
  ready_push(c, call);
  c->pending++;
  c->st.calls_submitted++;
  return 0;
}

size_t rpc_in_flight(const rpc_client_t *c) { return c->pending; }

void rpc_get_stats(const rpc_client_t *c, rpc_stats_t *out) { *out = c->st; }

int rpc_run(rpc_client_t *c, int timeout_ms) {
  uint64_t before = c->callbacks_run;
  int64_t deadline = progress_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  for (;;) {
    if (stopping(c)) {
      cancel_all(c, "stop requested");
      break;
    }
    int64_t next_due = promote_delayed(c, progress_now_ms());
    start_transfers(c);
    int running = 0;
    if (curl_multi_perform(c->multi, &running) != CURLM_OK) return RPC_ERR_INTERNAL;
    process_done(c);
    if (c->callbacks_run != before || c->pending == 0) break;
    int64_t now = progress_now_ms();
    if (now >= deadline) break;
    int64_t wait = deadline - now;
    if (c->o.stop_flag && wait > RPC_POLL_SLICE_MS) wait = RPC_POLL_SLICE_MS;
    next_due = promote_delayed(c, now);
    if (c->ready.head && c->nactive < c->o.max_in_flight) continue;
    if (next_due != INT64_MAX && next_due - now < wait) wait = next_due - now;
    if (wait < 0) wait = 0;
    if (curl_multi_poll(c->multi, NULL, 0, (int)wait, NULL) != CURLM_OK) return RPC_ERR_INTERNAL;
  }
  return (int)(c->callbacks_run - before);
}

typedef struct {
  int done;
  json_t *result;
  rpc_error_t err;
} rpc_sync_t;

static void sync_done(void *user, json_t *result, const rpc_error_t *err) {
  rpc_sync_t *s = user;
  s->done = 1;
  if (err) s->err = *err;
  else s->result = json_incref(result);
}

int rpc_call(rpc_client_t *c, const char *method, json_t *params, json_t **result_out,
             rpc_error_t *err) {
  rpc_sync_t s;
  memset(&s, 0, sizeof s);
  *result_out = NULL;
  if (rpc_submit(c, method, params, sync_done, &s) != 0) {
    if (err) set_err(err, RPC_ERR_INVALID, 0, 0, "cannot submit %s", method ? method : "(null)");
    return RPC_ERR_INVALID;
  }
  while (!s.done)
    if (rpc_run(c, 1000) < 0) break;
  if (!s.done) {
    /* internal curl failure: the call stays queued; cancel everything */
    cancel_all(c, "internal transfer failure");
  }
  if (!s.result) {
    if (s.err.kind >= 0) set_err(&s.err, RPC_ERR_INTERNAL, 0, 0, "%s: internal transfer failure",
                                 method);
    if (err) *err = s.err;
    return s.err.kind;
  }
  *result_out = s.result;
  return 0;
}
