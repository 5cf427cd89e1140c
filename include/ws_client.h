/* Solana websocket subscriptions on a libwebsockets client thread.
 *
 * The thread connects to a ws:// or wss:// URL (certificate and host name
 * verified unless insecure is set), sends programSubscribe(program_id,
 * {encoding: base64, commitment}), logsSubscribe({mentions: [program_id]},
 * {commitment}) and slotSubscribe, and hands every complete message it
 * receives to a msgqueue as a WS_ITEM_MESSAGE, raw bytes, unparsed except
 * for what the thread itself needs (subscription replies, the slot of a
 * slotNotification). The writer thread pops and interprets them.
 *
 * Never blocking the event loop: messages are reassembled from fragments
 * up to max_message_bytes (a longer one is discarded while it streams in
 * and queued as a WS_ITEM_OVERSIZED item holding its first bytes; the
 * connection stays). When the queue is full the thread stops reading the
 * socket (lws_rx_flow_control) and resumes when the consumer has made room
 * (msgqueue space callback -> lws_cancel_service()). Timers are lws_sul.
 *
 * Liveness: a protocol ping every ping_interval_s; a connection on which no
 * message arrived for stall_timeout_s (reading not paused by backpressure),
 * or whose slotNotification slot did not advance for slot_timeout_s, is
 * closed. Every close, error or failed connect is followed by a reconnect
 * after an exponential backoff with jitter, and the subscriptions are sent
 * again. Each connection whose three subscriptions are confirmed is
 * announced to the writer with a WS_ITEM_CONNECTED item (aux = connection
 * number, 1 for the first), each lost one with WS_ITEM_DISCONNECTED (aux =
 * its number, data = reason): the writer gap-fills from its checkpoint. */
#ifndef CBI_WS_CLIENT_H
#define CBI_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "msgqueue.h"

typedef struct ws_client ws_client_t;

/* msgqueue_item_t.kind values produced by the client. */
enum {
  WS_ITEM_MESSAGE = 1,      /* data: one complete message as received; aux: 1 when
                               it came in binary frames, else 0 */
  WS_ITEM_OVERSIZED = 2,    /* data: its first bytes; aux: its full length */
  WS_ITEM_CONNECTED = 3,    /* subscriptions confirmed; aux: connection number */
  WS_ITEM_DISCONNECTED = 4  /* connection lost; aux: its number; data: reason */
};

#define WS_CLIENT_DEFAULT_MAX_MESSAGE_BYTES (4u << 20)
#define WS_CLIENT_DEFAULT_PING_INTERVAL_S 20
#define WS_CLIENT_DEFAULT_STALL_TIMEOUT_S 60
#define WS_CLIENT_DEFAULT_SLOT_TIMEOUT_S 30

typedef struct ws_client_options {
  const char *url;          /* ws://host[:port][/path] or wss://...; required */
  const char *program_id;   /* base58; required */
  const char *commitment;   /* "processed" | "confirmed" | "finalized"; required */
  size_t max_message_bytes; /* reassembly cap; default 4 MiB */
  size_t oversized_keep;    /* bytes of an oversized message kept; default 1024 */
  int ping_interval_s;      /* 1..30; default 20 */
  int stall_timeout_s;      /* >= 1; default 60 */
  int slot_timeout_s;       /* >= 1, or 0 = no slot watchdog; default 30 */
  int connect_timeout_s;    /* handshake + subscription replies; default 10 */
  int backoff_initial_ms;   /* first reconnect delay; default 250 */
  int backoff_max_ms;       /* cap; default 30000 */
  int insecure;             /* 1: accept any certificate (wss only) */
} ws_client_options_t;

/* Fills o with the defaults (url, program_id, commitment NULL). */
void ws_client_options_init(ws_client_options_t *o);

/* Validates o, creates the lws context and starts the thread, which
 * connects at once. q is borrowed (must outlive the client); the client
 * registers itself as q's space callback. o's strings are copied.
 * Returns the client, or NULL with a message in err. */
ws_client_t *ws_client_start(const ws_client_options_t *o, msgqueue_t *q, char *err,
                             size_t errsz);

/* Closes the connection (close frame, then a hard close after 1 s), stops
 * and joins the thread, frees everything. Items not yet pushed are dropped;
 * items in the queue stay there. Call it from the queue's consumer thread
 * (or while nobody pops). NULL is a no-op. */
void ws_client_stop(ws_client_t *c);

/* Wakes the thread (thread-safe): it retries pushing what it holds and
 * resumes reading. The msgqueue space callback calls it. */
void ws_client_wake(ws_client_t *c);

typedef struct ws_client_stats {
  uint64_t connects;       /* connections whose subscriptions were confirmed */
  uint64_t disconnects;    /* connections lost or closed after that */
  uint64_t connect_failures; /* attempts that never got there */
  uint64_t messages;       /* complete messages queued */
  uint64_t bytes;          /* their payload bytes */
  uint64_t oversized;      /* messages over max_message_bytes */
  uint64_t stalls;         /* closes for stall_timeout_s without a message */
  uint64_t slot_timeouts;  /* closes for slot_timeout_s without a new slot */
  uint64_t pings;          /* pings sent */
  uint64_t pongs;          /* pongs received */
  uint64_t paused;         /* times reading was paused by a full queue */
  uint64_t last_slot;      /* highest slot of a slotNotification */
  uint64_t last_root;      /* its root, 0 if none */
  int connected;           /* 1 while subscribed */
  int reading_paused;      /* 1 while backpressure holds reading */
} ws_client_stats_t;

/* Copies the counters (thread-safe). */
void ws_client_get_stats(ws_client_t *c, ws_client_stats_t *out);

/* Parses "ws[s]://host[:port][/path]" into its parts (host without
 * brackets, path starting with '/'). Returns 0, or -1 for anything else
 * (other schemes, empty host, bad port, over-long parts). */
int ws_client_parse_url(const char *url, int *tls, char *host, size_t hostsz, int *port,
                        char *path, size_t pathsz);

#endif
