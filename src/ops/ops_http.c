/* The operations HTTP endpoint on libwebsockets: its own context and
 * thread; daemon threads never block on it. */
#include "ops_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define HTTP_CHUNK 16384
#define METRICS_DEFAULT_MAX ((size_t)4 << 20)

struct ops_http {
  ops_http_options_t o;
  struct lws_context *ctx;
  struct lws_protocols protocols[2];
  pthread_t thread;
  atomic_int stop;
  atomic_ulong requests;
  int port;
  char host[64];
};

/* One response in flight on one connection. */
typedef struct {
  int status;
  const char *ctype;
  char *body;
  size_t len, off;
  int headers_sent;
  int close_after; /* the request body was never read: close, don't reuse */
} pss_t;

const char *ops_http_strerror(int rc) {
  switch (rc) {
  case OPS_HTTP_OK: return "ok";
  case OPS_HTTP_ERR_INVALID: return "invalid argument";
  case OPS_HTTP_ERR_ADDR: return "listen address is not IPV4:PORT or [IPV6]:PORT";
  case OPS_HTTP_ERR_LISTEN: return "cannot listen on the address";
  case OPS_HTTP_ERR_THREAD: return "cannot start the HTTP thread";
  case OPS_HTTP_ERR_NOMEM: return "out of memory";
  default: return "unknown ops_http error";
  }
}

int ops_http_parse_listen(const char *s, char *host, size_t hostsz, int *port, int *is_ipv6) {
  if (!s || !host || !port || !is_ipv6 || hostsz == 0) return OPS_HTTP_ERR_INVALID;
  const char *colon, *h = s;
  size_t hl;
  int v6 = 0;
  if (*s == '[') {
    const char *rb = strchr(s, ']');
    if (!rb || rb[1] != ':') return OPS_HTTP_ERR_ADDR;
    h = s + 1;
    hl = (size_t)(rb - h);
    colon = rb + 1;
    v6 = 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon) return OPS_HTTP_ERR_ADDR;
    hl = (size_t)(colon - s);
  }
  if (hl == 0 || hl >= hostsz || hl >= 64) return OPS_HTTP_ERR_ADDR;
  char tmp[64];
  memcpy(tmp, h, hl);
  tmp[hl] = '\0';
  unsigned char sa[sizeof(struct in6_addr)];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, tmp, sa) != 1) return OPS_HTTP_ERR_ADDR;
  const char *p = colon + 1;
  if (*p < '0' || *p > '9') return OPS_HTTP_ERR_ADDR;
  long v = 0;
  for (; *p; p++) {
    if (*p < '0' || *p > '9') return OPS_HTTP_ERR_ADDR;
    v = v * 10 + (*p - '0');
    if (v > 65535) return OPS_HTTP_ERR_ADDR;
  }
  memcpy(host, tmp, hl + 1);
  *port = (int)v;
  *is_ipv6 = v6;
  return OPS_HTTP_OK;
}

static void pss_reset(pss_t *p) {
  free(p->body);
  memset(p, 0, sizeof *p);
}

static void respond_probe(pss_t *p, ops_http_probe_fn fn, void *user, int absent_ok) {
  p->body = malloc(OPS_HTTP_PROBE_BODY_MAX);
  if (!p->body) {
    p->status = 500;
    p->ctype = "text/plain; charset=utf-8";
    return;
  }
  p->body[0] = '\0';
  int ok = fn ? fn(user, p->body, OPS_HTTP_PROBE_BODY_MAX) : absent_ok;
  p->body[OPS_HTTP_PROBE_BODY_MAX - 1] = '\0';
  if (!p->body[0])
    snprintf(p->body, OPS_HTTP_PROBE_BODY_MAX, "{\"status\":\"%s\"}", ok ? "ok" : "fail");
  size_t n = strlen(p->body);
  if (n + 1 < OPS_HTTP_PROBE_BODY_MAX && p->body[n - 1] != '\n') p->body[n++] = '\n';
  p->len = n;
  p->status = ok ? 200 : 503;
  p->ctype = "application/json";
}

static void respond_text(pss_t *p, int status, const char *text) {
  p->status = status;
  p->ctype = "text/plain; charset=utf-8";
  p->len = strlen(text);
  p->body = malloc(p->len + 1);
  if (p->body)
    memcpy(p->body, text, p->len + 1);
  else
    p->len = 0;
}

static void route(ops_http_t *h, pss_t *p, struct lws *wsi, const char *path) {
  if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
    p->close_after = 1;
    respond_text(p, 405, "method not allowed: only GET\n");
    return;
  }
  if (strcmp(path, "/healthz") == 0) {
    respond_probe(p, h->o.health, h->o.health_user, 1);
  } else if (strcmp(path, "/ready") == 0) {
    respond_probe(p, h->o.ready, h->o.ready_user, 0);
  } else if (strcmp(path, "/metrics") == 0 && h->o.metrics) {
    int rc = 0;
    size_t max = h->o.metrics_max_bytes ? h->o.metrics_max_bytes : METRICS_DEFAULT_MAX;
    p->body = metrics_render_alloc(h->o.metrics, max, &p->len, &rc);
    if (!p->body) {
      log_error("http", "metrics rendering failed: %s", metrics_strerror(rc));
      respond_text(p, 500, "metrics unavailable\n");
      return;
    }
    p->status = 200;
    p->ctype = METRICS_CONTENT_TYPE;
  } else {
    respond_text(p, 404, "not found: GET /healthz, /ready or /metrics\n");
  }
}

/* Returns 0 to keep the connection, -1 to close it. */
static int writeable(pss_t *p, struct lws *wsi) {
  static __thread unsigned char chunk[LWS_PRE + HTTP_CHUNK];
  if (p->status == 0) return 0;
  if (!p->headers_sent) {
    unsigned char hbuf[LWS_PRE + 1024];
    unsigned char *start = hbuf + LWS_PRE, *q = start, *end = hbuf + sizeof hbuf - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)p->status, p->ctype, (lws_filepos_t)p->len, &q,
                                    end))
      return -1;
    static const char nostore[] = "no-store";
    if (lws_add_http_header_by_name(
            wsi, (const unsigned char *)"cache-control:", (const unsigned char *)nostore,
            (int)sizeof nostore - 1, &q, end))
      return -1;
    if (p->status == 405 && lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
                                                        (const unsigned char *)"GET", 3, &q, end))
      return -1;
    if (lws_finalize_write_http_header(wsi, start, &q, end)) return -1;
    p->headers_sent = 1;
    if (p->len > 0) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  } else {
    size_t n = p->len - p->off;
    if (n > HTTP_CHUNK) n = HTTP_CHUNK;
    int final = p->off + n == p->len;
    memcpy(chunk + LWS_PRE, p->body + p->off, n);
    if (lws_write(wsi, chunk + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
      return -1;
    p->off += n;
    if (!final) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  }
  int close_after = p->close_after;
  pss_reset(p);
  if (close_after) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len) {
  (void)len;
  pss_t *p = user;
  struct lws_context *ctx = lws_get_context(wsi);
  ops_http_t *h = ctx ? lws_context_user(ctx) : NULL;
  switch (reason) {
  case LWS_CALLBACK_HTTP:
    if (!h || !p) return -1;
    atomic_fetch_add(&h->requests, 1);
    pss_reset(p);
    route(h, p, wsi, in ? (const char *)in : "");
    lws_callback_on_writable(wsi);
    return 0;
  case LWS_CALLBACK_HTTP_BODY:
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    return 0; /* request bodies are ignored: only GET is served */
  case LWS_CALLBACK_HTTP_WRITEABLE: return p ? writeable(p, wsi) : -1;
  case LWS_CALLBACK_CLOSED_HTTP:
    if (p) pss_reset(p);
    return 0;
  default: break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* libwebsockets' own log lines go through log.h (one emitter per process:
 * the same bridge the websocket client installs). */
static void lws_log_bridge(int level, const char *line) {
  char buf[512];
  size_t n = strlen(line);
  if (n >= sizeof buf) n = sizeof buf - 1;
  memcpy(buf, line, n);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    n--;
  buf[n] = '\0';
  if (level & LLL_ERR)
    log_warn("lws", "%s", buf);
  else
    log_debug("lws", "%s", buf);
}

/* Binds and closes a socket on the address first: a port in use is
 * reported with the system's reason, and libwebsockets' own failure path
 * (which leaks a little in 4.1) is not taken. Returns 0 or errno. */
static int probe_bind(const char *host, int port, int v6) {
  if (port == 0) return 0;
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (v6) {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    inet_pton(AF_INET6, host, &a.sin6_addr);
    rc = bind(fd, (struct sockaddr *)&a, sizeof a);
  } else {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    rc = bind(fd, (struct sockaddr *)&a, sizeof a);
  }
  int e = rc == 0 ? 0 : errno;
  close(fd);
  return e;
}

static void *http_thread(void *arg) {
  ops_http_t *h = arg;
  while (!atomic_load(&h->stop))
    if (lws_service(h->ctx, 0) < 0) break;
  return NULL;
}

int ops_http_start(const ops_http_options_t *o, ops_http_t **out, char *err, size_t errsz) {
  if (!o || !out) return OPS_HTTP_ERR_INVALID;
  *out = NULL;
  if (!o->listen || !*o->listen) return OPS_HTTP_OK;
  ops_http_t *h = calloc(1, sizeof *h);
  if (!h) return OPS_HTTP_ERR_NOMEM;
  int port = 0, v6 = 0;
  int rc = ops_http_parse_listen(o->listen, h->host, sizeof h->host, &port, &v6);
  if (rc != OPS_HTTP_OK) {
    snprintf(err, errsz, "http listen address '%.80s': %s", o->listen, ops_http_strerror(rc));
    free(h);
    return rc;
  }
  int be = probe_bind(h->host, port, v6);
  if (be != 0) {
    snprintf(err, errsz, "http: cannot listen on %.80s: %s", o->listen, strerror(be));
    free(h);
    return OPS_HTTP_ERR_LISTEN;
  }
  h->o = *o;
  h->o.listen = NULL; /* the caller's string need not outlive start */
  atomic_init(&h->stop, 0);
  atomic_init(&h->requests, 0);
  h->protocols[0].name = "http";
  h->protocols[0].callback = http_cb;
  h->protocols[0].per_session_data_size = sizeof(pss_t);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = port == 0 ? 0 : port;
  /* lws binds the wildcard address when iface is NULL. */
  int any = strcmp(h->host, "0.0.0.0") == 0 || strcmp(h->host, "::") == 0;
  info.iface = any ? NULL : h->host;
  info.protocols = h->protocols;
  info.options = v6 ? (LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE)
                    : LWS_SERVER_OPTION_DISABLE_IPV6;
  if (v6 && strcmp(h->host, "::") == 0) info.options = 0; /* dual stack on [::] */
  info.user = h;
  info.gid = -1;
  info.uid = -1;
  info.timeout_secs = 5; /* idle or slow connections are dropped after this */
  info.keepalive_timeout = 5;
  info.fd_limit_per_thread = 256; /* connections, listen socket included */
  info.vhost_name = "ops";
  lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_bridge);
  h->ctx = lws_create_context(&info);
  struct lws_vhost *vh = h->ctx ? lws_get_vhost_by_name(h->ctx, "ops") : NULL;
  h->port = vh ? lws_get_vhost_listen_port(vh) : -1;
  if (!h->ctx || h->port <= 0) {
    snprintf(err, errsz, "http: cannot listen on %.80s", o->listen);
    if (h->ctx) lws_context_destroy(h->ctx);
    free(h);
    return OPS_HTTP_ERR_LISTEN;
  }
  if (pthread_create(&h->thread, NULL, http_thread, h) != 0) {
    snprintf(err, errsz, "http: cannot start the thread");
    lws_context_destroy(h->ctx);
    free(h);
    return OPS_HTTP_ERR_THREAD;
  }
  log_info("http", "serving /healthz /ready /metrics listen=%s%s%s:%d", v6 ? "[" : "", h->host,
           v6 ? "]" : "", h->port);
  *out = h;
  return OPS_HTTP_OK;
}

int ops_http_port(const ops_http_t *h) {
  return h ? h->port : -1;
}

unsigned long ops_http_requests(const ops_http_t *h) {
  return h ? atomic_load(&((ops_http_t *)h)->requests) : 0;
}

void ops_http_stop(ops_http_t *h) {
  if (!h) return;
  atomic_store(&h->stop, 1);
  lws_cancel_service(h->ctx);
  pthread_join(h->thread, NULL);
  lws_context_destroy(h->ctx);
  free(h);
}
