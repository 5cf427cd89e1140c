/* JSON-RPC 2.0 client over HTTP(S): libcurl multi, one thread, many calls in
 * flight, keep-alive, optional batching (JSON arrays), retries with
 * exponential backoff and full jitter, several endpoints with rotation.
 *
 * Model: a *call* is one JSON-RPC request (method + params). Calls are queued
 * by rpc_submit() and packed into HTTP transfers (one call per POST, or up to
 * batch_max calls per POST as a JSON array). At most max_in_flight transfers
 * run at once; further calls wait in the queue. rpc_run() drives the
 * transfers and invokes each call's callback exactly once, with either a
 * result or an error.
 *
 * Failure policy (per call):
 *   retried  (up to max_retries, backoff = random in [0, min(retry_max_ms,
 *            retry_base_ms * 2^attempt)], libsodium randombytes_uniform):
 *            - transport errors: connect failure, timeout, reset, TLS error
 *            - HTTP 429 (waits at least Retry-After seconds when given in
 *              delta-seconds form, capped at 60 s), HTTP 5xx, HTTP 408
 *            - JSON-RPC errors -32005 (node behind), -32004 (block not
 *              available yet), -32014 (block status not yet available),
 *              -32016 (minimum context slot not reached), -32603 (internal
 *              error; nodes return it for transient overload)
 *   never retried (delivered to the callback as RPC_ERR_RPC with rpc_code):
 *            - every other JSON-RPC error, notably -32602 (invalid params),
 *              -32601 (method not found), -32007 (slot skipped / missing
 *              due to ledger jump), -32009 (slot not in long-term storage),
 *              -32001 (block cleaned up), -32010 (key excluded from
 *              secondary indexes), -32015 (transaction version not
 *              supported), -32099 (replay fixture: no recording)
 *   never retried, other kinds: HTTP 4xx other than 408/429 (RPC_ERR_HTTP),
 *            response over max_response_bytes (RPC_ERR_TOO_LARGE; the
 *            transfer is aborted as soon as the limit is crossed), response
 *            not JSON or not a JSON-RPC response (RPC_ERR_PARSE, message
 *            names the line/column).
 * When retries are exhausted the last error is delivered (its kind is that
 * of the last attempt: RPC_ERR_TRANSPORT, RPC_ERR_HTTP or RPC_ERR_RPC).
 *
 * Endpoints: after rotate_after consecutive failed attempts on the current
 * endpoint (transport errors, 429, 5xx) the client moves to the next one
 * (round robin). Successes reset the counter.
 *
 * Logging: URLs only ever appear through log_redact_url(); request bodies
 * are not logged above debug level.
 *
 * Big integers: responses are parsed with jsonx_loads(), so integers above
 * INT64_MAX (rentEpoch 18446744073709551615) arrive as JSON strings of the
 * same digits; read every u64 with jsonx_u64()/jsonx_get_u64().
 *
 * Thread-safety: a client is used by one thread at a time. Different
 * clients are independent. rpc_global_init() must have run once before the
 * first client is created while only one thread exists (rpc_client_new()
 * calls it too; it is idempotent but not thread-safe). */
#ifndef CBI_RPC_H
#define CBI_RPC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rpc_client rpc_client_t;

/* Error codes: 0 or negative (rpc_strerror). The kind of a failed call is
 * one of TRANSPORT..CANCELLED; INVALID and INTERNAL are returned by the
 * functions below only. */
typedef enum {
  RPC_OK = 0,
  RPC_ERR_NONE = RPC_OK,  /* kept for rpc_error_t.kind of a success */
  RPC_ERR_TRANSPORT = -1, /* connect/timeout/reset/TLS: no HTTP response */
  RPC_ERR_HTTP = -2,      /* HTTP status other than 200 (http_status set) */
  RPC_ERR_RPC = -3,       /* JSON-RPC error object (rpc_code set) */
  RPC_ERR_PARSE = -4,     /* body not JSON / not a JSON-RPC response */
  RPC_ERR_TOO_LARGE = -5, /* body over max_response_bytes */
  RPC_ERR_CANCELLED = -6, /* stop flag set, or client destroyed with the call pending */
  RPC_ERR_INVALID = -7,   /* rpc_submit: empty method, or out of memory */
  RPC_ERR_INTERNAL = -8   /* rpc_run: libcurl multi interface failed */
} rpc_error_kind_t;

/* Per-kind counters in rpc_stats_t are indexed by RPC_ERR_INDEX(kind),
 * kind one of RPC_ERR_TRANSPORT..RPC_ERR_CANCELLED. */
#define RPC_ERR_KIND_COUNT 7
#define RPC_ERR_INDEX(kind) (-(kind))

typedef struct rpc_error {
  int kind;          /* rpc_error_kind_t: negative for a failure */
  long http_status;  /* last HTTP status seen, 0 if none */
  long rpc_code;     /* JSON-RPC error code for RPC_ERR_RPC, else 0 */
  char message[256]; /* human-readable; never contains an unredacted URL */
} rpc_error_t;

typedef struct rpc_options {
  const char *endpoints;     /* comma-separated http(s) URLs; required */
  unsigned max_in_flight;    /* concurrent HTTP transfers; default 32 */
  unsigned batch_max;        /* calls per POST; 1 = no batching (default) */
  long timeout_ms;           /* per attempt, whole transfer; default 30000 */
  long connect_timeout_ms;   /* default 5000 */
  size_t max_response_bytes; /* per HTTP response body; default 64 MiB */
  int max_retries;           /* retries after the first attempt; default 8 */
  long retry_base_ms;        /* default 100 */
  long retry_max_ms;         /* cap of one backoff; default 10000 */
  unsigned rotate_after;     /* consecutive failures before rotating; default 3 */
  const volatile int *stop_flag; /* when *stop_flag != 0, pending calls are
                                    cancelled (RPC_ERR_CANCELLED); may be NULL */
  const char *record_dir;    /* NULL = off; else every request/response pair is
                                appended to record_dir/rpc.jsonl (fixture format,
                                fixtures/README.md) */
  int verify_tls;            /* 1 = verify peer + host (rpc_options_init()); 0 = off,
                                logged as a warning. Start from rpc_options_init():
                                a zeroed struct turns verification off. */
  const char *user_agent;    /* default "crypto-bet-indexer" */
  /* Completion hook (metrics): called once per call just before its
   * callback, on the thread running rpc_run, with the method, 0 or the
   * final RPC_ERR_* kind, and the seconds from submission (retries
   * included). NULL = off. */
  void (*on_done)(void *user, const char *method, int err_kind, double seconds);
  void *on_done_user;
} rpc_options_t;

/* Per-client counters since creation (monotonic). */
typedef struct rpc_stats {
  uint64_t calls_submitted;
  uint64_t calls_ok;                      /* callbacks with a result */
  uint64_t calls_failed;                  /* callbacks with an error */
  uint64_t errors[RPC_ERR_KIND_COUNT];    /* final errors by RPC_ERR_INDEX(kind) */
  uint64_t http_requests;                 /* POSTs started (a batch counts once) */
  uint64_t retries;                       /* calls re-queued after a failed attempt */
  uint64_t attempt_failures[RPC_ERR_KIND_COUNT]; /* failed attempts by RPC_ERR_INDEX(kind)
                                                    (incl. retried) */
  uint64_t http_429;                      /* 429 responses seen */
  uint64_t http_5xx;                      /* 5xx responses seen */
  uint64_t rotations;                     /* endpoint switches */
  uint64_t connections;                   /* new TCP connections (keep-alive reuses) */
  uint64_t bytes_sent;                    /* request bodies */
  uint64_t bytes_received;                /* response bodies */
} rpc_stats_t;

/* Callback for an asynchronous call. Called exactly once per submitted
 * call, from inside rpc_run()/rpc_call()/rpc_client_free() on the client's
 * thread. On success result != NULL (borrowed: valid only during the
 * callback; json_incref() it to keep it) and err == NULL; a JSON null
 * result (getTransaction of an unknown signature) is json_null(). On
 * failure result == NULL and err != NULL (borrowed). The callback may call
 * rpc_submit(), rpc_in_flight(), rpc_get_stats(); it must not call
 * rpc_run(), rpc_call() or rpc_client_free(). */
typedef void (*rpc_done_fn)(void *user, json_t *result, const rpc_error_t *err);

/* Initialises libcurl and libsodium once per process. Returns 0 or -1. */
int rpc_global_init(void);

/* Fills o with the defaults listed above (endpoints = NULL). */
void rpc_options_init(rpc_options_t *o);

/* Creates a client. o is copied (strings too); fields left 0 take their
 * defaults (max_retries: use rpc_options_init() to get 8; 0 means no
 * retry). Returns NULL with a message in err on bad options (no endpoint,
 * URL not http(s)://, record_dir not writable). */
rpc_client_t *rpc_client_new(const rpc_options_t *o, char *err, size_t errsz);

/* Cancels pending calls (their callbacks run with RPC_ERR_CANCELLED), then
 * frees everything. NULL is a no-op. */
void rpc_client_free(rpc_client_t *c);

/* Queues a call. method is copied; params is STOLEN (a JSON array or
 * object, or NULL for no params), also on failure. Returns 0, or
 * RPC_ERR_INVALID if method is empty or memory ran out (cb is then NOT
 * called). */
int rpc_submit(rpc_client_t *c, const char *method, json_t *params, rpc_done_fn cb, void *user);

/* Drives transfers for at most timeout_ms (0 = one non-blocking pass),
 * returning early as soon as at least one callback has run or nothing is
 * pending. Returns the number of callbacks run (>= 0), or RPC_ERR_INTERNAL
 * on a libcurl failure. When the stop flag is set, every pending call is
 * cancelled and its callback runs before rpc_run() returns. */
int rpc_run(rpc_client_t *c, int timeout_ms);

/* Calls submitted whose callback has not run yet (queued, in a transfer,
 * or waiting for a retry). Use it to keep N calls in flight:
 *   while (more && rpc_in_flight(c) < N) rpc_submit(...);
 *   rpc_run(c, 100); */
size_t rpc_in_flight(const rpc_client_t *c);

/* Blocking convenience: submits one call and drives the client (other
 * pending calls progress and their callbacks run too) until it completes.
 * params is STOLEN. Returns 0 with *result_out a NEW reference (caller
 * json_decref()s; may be json_null()), or the call's negative error code
 * (err->kind) with *result_out = NULL and *err filled (err may be NULL). Must not be called from a callback. */
int rpc_call(rpc_client_t *c, const char *method, json_t *params, json_t **result_out,
             rpc_error_t *err);

/* Copies the counters. */
void rpc_get_stats(const rpc_client_t *c, rpc_stats_t *out);

/* Short name for logs and dead-letter reasons: "transport", "http", "rpc",
 * "parse", "too_large", "cancelled", "invalid", "internal", "none" (0), or
 * "unknown". */
const char *rpc_error_kind_name(int kind);

/* One line for logs and dead-letter reasons into buf (always terminated
 * when bufsz > 0, truncated to fit): "rpc error CODE: MESSAGE" for
 * RPC_ERR_RPC, "HTTP STATUS: MESSAGE" for RPC_ERR_HTTP, otherwise
 * "KIND: MESSAGE" with KIND from rpc_error_kind_name(). */
void rpc_error_describe(const rpc_error_t *e, char *buf, size_t bufsz);

/* Static description of a code: "ok", "transport error (no HTTP
 * response)", ..., or "unknown error". */
const char *rpc_strerror(int code);

/* 1 if a JSON-RPC error code is retried by the policy above, else 0. */
int rpc_code_is_retryable(long rpc_code);

/* Endpoint currently in use, redacted for logging (writes into out). */
char *rpc_current_endpoint(const rpc_client_t *c, char *out, size_t outsz);

#endif
