/* Internals shared by rpc.c (calls, queues, retries, responses) and
 * rpc_xfer.c (one HTTP transfer). Not a public interface. */
#ifndef CBI_RPC_PRIV_H
#define CBI_RPC_PRIV_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "recorder.h"
#include "rpc.h"

typedef struct rpc_call_s {
  struct rpc_call_s *next;
  char *method;
  json_t *params;
  rpc_done_fn cb;
  void *user;
  int attempts;         /* attempts started */
  int64_t not_before;   /* monotonic ms; 0 = now */
  uint64_t id;          /* id of the current attempt */
  int64_t t_submit_us;  /* monotonic, for the completion hook */
} rpc_call_t;

typedef struct rpc_xfer {
  struct rpc_xfer *next, *prev; /* active list, or free list (next only) */
  CURL *easy;
  struct curl_slist *headers;
  rpc_call_t **calls;
  size_t ncalls, capcalls;
  int batch;
  char *body;
  size_t body_len;
  size_t endpoint;
  char *resp;
  size_t resp_len, resp_cap;
  size_t max_resp;
  int too_large;
  long retry_after_s; /* -1 = none */
  char errbuf[CURL_ERROR_SIZE];
} rpc_xfer_t;

typedef struct {
  rpc_call_t *head, *tail;
} rpc_queue_t;

struct rpc_client {
  rpc_options_t o;
  char *endpoints_buf;
  char **endpoints;
  size_t nendpoints, cur_endpoint;
  unsigned consecutive_failures;
  CURLM *multi;
  rpc_queue_t ready;    /* due now, FIFO */
  rpc_call_t *delayed;  /* waiting for a retry time (unsorted) */
  rpc_xfer_t *active;   /* transfers in the multi handle */
  rpc_xfer_t *free_xfers;
  size_t nactive;
  size_t pending;       /* calls submitted, callback not yet run */
  uint64_t next_id;
  uint64_t callbacks_run;
  rpc_stats_t st;
  recorder_t *rec;
};

/* A transfer from the client's free list (easy handle reset) or a new one
 * with its headers. NULL when out of memory. */
rpc_xfer_t *rpc_xfer_get(rpc_client_t *c);

/* Gives each call of x its id and builds x->body (one request object, or a
 * batch array). Returns 0 or -1 (out of memory). */
int rpc_xfer_build_body(rpc_client_t *c, rpc_xfer_t *x);

/* Sets the easy handle's options for the current endpoint and x->body.
 * Returns 0 or -1. */
int rpc_xfer_setup(rpc_client_t *c, rpc_xfer_t *x);

/* Frees x and its easy handle. NULL is a no-op. */
void rpc_xfer_destroy(rpc_xfer_t *x);

#endif
