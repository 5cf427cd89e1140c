/* ops_http: the operations HTTP endpoint (GET /healthz, /ready, /metrics).
 *
 * A libwebsockets server on its own context and thread, bound to one
 * ADDR:PORT (loopback by default). Request handling runs only on that
 * thread: it calls the probe callbacks and renders the metrics registry.
 * Daemon threads never wait for it: they only update atomics (metrics.h
 * series, opstate.h) that the callbacks read.
 *
 *   GET /healthz  200 when the health callback returns 1, else 503; JSON body
 *   GET /ready    200 when the readiness callback returns 1, else 503; JSON body
 *   GET /metrics  200, text/plain; version=0.0.4 (metrics_render_alloc)
 *   other paths   404;  any method other than GET: 405 (Allow: GET)
 *
 * Every response carries Cache-Control: no-store. */
#ifndef CBI_OPS_HTTP_H
#define CBI_OPS_HTTP_H

#include <stddef.h>

#include "metrics.h"

enum {
  OPS_HTTP_OK = 0,
  OPS_HTTP_ERR_INVALID = -1, /* NULL argument */
  OPS_HTTP_ERR_ADDR = -2,    /* listen address not "IPV4:PORT" / "[IPV6]:PORT" */
  OPS_HTTP_ERR_LISTEN = -3,  /* the context could not be created or bind failed */
  OPS_HTTP_ERR_THREAD = -4,
  OPS_HTTP_ERR_NOMEM = -5,
};

/* A probe: writes a JSON object (NUL-terminated, at most cap bytes) into
 * body and returns 1 (healthy / ready: 200) or 0 (503). An empty body is
 * replaced by {"status":"ok"|"fail"}. Runs on the HTTP thread: it must only
 * read atomics or snapshots, never block or take a lock a hot path holds. */
typedef int (*ops_http_probe_fn)(void *user, char *body, size_t cap);

#define OPS_HTTP_DEFAULT_LISTEN "127.0.0.1:9464"
#define OPS_HTTP_PROBE_BODY_MAX 4096

typedef struct ops_http_options {
  const char *listen;       /* "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464", "[::]:9464";
                               port 0 picks a free port (ops_http_port tells which) */
  ops_http_probe_fn health; /* NULL: always healthy while the thread runs */
  void *health_user;
  ops_http_probe_fn ready; /* NULL: never ready (503) */
  void *ready_user;
  metrics_registry_t *metrics; /* NULL: /metrics answers 404 */
  size_t metrics_max_bytes;    /* cap of one exposition; 0 = 4 MiB */
} ops_http_options_t;

typedef struct ops_http ops_http_t;

/* Static English text for an OPS_HTTP_* code. */
const char *ops_http_strerror(int rc);

/* Parses "IPV4:PORT" or "[IPV6]:PORT" (PORT 0..65535, decimal). host gets
 * the address without brackets (hostsz >= 46 suffices). Returns 0 or
 * OPS_HTTP_ERR_ADDR. An empty string is not an address: callers treat it as
 * "off" before calling. */
int ops_http_parse_listen(const char *s, char *host, size_t hostsz, int *port, int *is_ipv6);

/* Binds the listen address and starts the server thread. On success *out is
 * the server (stop with ops_http_stop) and 0 is returned; the options'
 * pointers (callbacks' users, registry) must outlive it. On failure returns
 * a negative OPS_HTTP_ERR_* with a message in err (errsz bytes). When
 * o->listen is NULL or empty the server is off: returns 0 with *out NULL. */
int ops_http_start(const ops_http_options_t *o, ops_http_t **out, char *err, size_t errsz);

/* The bound TCP port (the kernel's choice when the address said port 0). */
int ops_http_port(const ops_http_t *h);

/* Requests served so far (any status). */
unsigned long ops_http_requests(const ops_http_t *h);

/* Stops the thread, closes the socket and frees h. NULL is a no-op. */
void ops_http_stop(ops_http_t *h);

#endif
