/* One HTTP transfer of the JSON-RPC client (rpc_priv.h): the curl easy
 * handle, its request body (one call or a JSON-RPC batch) and the capped
 * response buffer. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rpc.h"
#include "rpc_priv.h"

void rpc_xfer_destroy(rpc_xfer_t *x) {
  if (!x) return;
  if (x->easy) curl_easy_cleanup(x->easy);
  curl_slist_free_all(x->headers);
  free(x->calls);
  free(x->body);
  free(x->resp);
  free(x);
}


static size_t on_write(char *data, size_t size, size_t nmemb, void *userp) {
  rpc_xfer_t *x = userp;
  size_t n = size * nmemb;
  if (n > x->max_resp - x->resp_len) {
    x->too_large = 1;
    return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
  }
  if (n > x->resp_cap - x->resp_len) {
    size_t cap = x->resp_cap ? x->resp_cap : 16384;
    while (n > cap - x->resp_len) cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if (cap > x->max_resp) cap = x->max_resp;
    char *p = realloc(x->resp, cap + 1);
    if (!p) return 0;
    x->resp = p;
    x->resp_cap = cap;
  }
  memcpy(x->resp + x->resp_len, data, n);
  x->resp_len += n;
  return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp) {
  rpc_xfer_t *x = userp;
  size_t n = size * nmemb;
  if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) x->retry_after_s = -1; /* new response */
  if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
    size_t i = 12;
    while (i < n && (data[i] == ' ' || data[i] == '\t')) i++;
    long v = 0;
    size_t d0 = i;
    while (i < n && data[i] >= '0' && data[i] <= '9' && v < 100000) v = v * 10 + (data[i++] - '0');
    if (i > d0) x->retry_after_s = v; /* HTTP-date form is ignored: plain backoff */
  }
  return n;
}

rpc_xfer_t *rpc_xfer_get(rpc_client_t *c) {
  rpc_xfer_t *x = c->free_xfers;
  if (x) {
    c->free_xfers = x->next;
    x->next = NULL;
    curl_easy_reset(x->easy);
    return x;
  }
  x = calloc(1, sizeof *x);
  if (!x) return NULL;
  x->easy = curl_easy_init();
  x->headers = curl_slist_append(NULL, "Content-Type: application/json");
  if (x->headers) x->headers = curl_slist_append(x->headers, "Accept: application/json");
  if (x->headers) x->headers = curl_slist_append(x->headers, "Expect:");
  if (!x->easy || !x->headers) {
    rpc_xfer_destroy(x);
    return NULL;
  }
  return x;
}

static json_t *request_object(rpc_call_t *call) {
  json_t *o = json_object();
  if (!o) return NULL;
  if (json_object_set_new(o, "jsonrpc", json_string("2.0")) != 0 ||
      json_object_set_new(o, "id", json_integer((json_int_t)call->id)) != 0 ||
      json_object_set_new(o, "method", json_string(call->method)) != 0 ||
      (call->params && json_object_set(o, "params", call->params) != 0)) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int rpc_xfer_build_body(rpc_client_t *c, rpc_xfer_t *x) {
  json_t *doc = NULL;
  for (size_t i = 0; i < x->ncalls; i++) x->calls[i]->id = c->next_id++;
  if (!x->batch) {
    doc = request_object(x->calls[0]);
  } else {
    doc = json_array();
    for (size_t i = 0; doc && i < x->ncalls; i++) {
      json_t *o = request_object(x->calls[i]);
      if (!o || json_array_append_new(doc, o) != 0) {
        json_decref(doc);
        doc = NULL;
      }
    }
  }
  if (!doc) return -1;
  x->body = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  if (!x->body) return -1;
  x->body_len = strlen(x->body);
  return 0;
}

int rpc_xfer_setup(rpc_client_t *c, rpc_xfer_t *x) {
  CURL *e = x->easy;
  x->endpoint = c->cur_endpoint;
  x->resp_len = 0;
  x->too_large = 0;
  x->retry_after_s = -1;
  x->max_resp = c->o.max_response_bytes;
  x->errbuf[0] = '\0';
  int bad = 0;
#define SETOPT(opt, val) bad |= curl_easy_setopt(e, opt, val) != CURLE_OK
  SETOPT(CURLOPT_URL, c->endpoints[x->endpoint]);
  SETOPT(CURLOPT_POST, 1L);
  SETOPT(CURLOPT_POSTFIELDS, x->body);
  SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
  SETOPT(CURLOPT_HTTPHEADER, x->headers);
  SETOPT(CURLOPT_WRITEFUNCTION, on_write);
  SETOPT(CURLOPT_WRITEDATA, x);
  SETOPT(CURLOPT_HEADERFUNCTION, on_header);
  SETOPT(CURLOPT_HEADERDATA, x);
  SETOPT(CURLOPT_PRIVATE, x);
  SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
  SETOPT(CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
  SETOPT(CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
  SETOPT(CURLOPT_NOSIGNAL, 1L);
  SETOPT(CURLOPT_SSL_VERIFYPEER, c->o.verify_tls ? 1L : 0L);
  SETOPT(CURLOPT_SSL_VERIFYHOST, c->o.verify_tls ? 2L : 0L);
  SETOPT(CURLOPT_USERAGENT, c->o.user_agent);
  SETOPT(CURLOPT_ACCEPT_ENCODING, "");
  SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->o.max_response_bytes);
  SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
  SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
  SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
#undef SETOPT
  return bad ? -1 : 0;
}

