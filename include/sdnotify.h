/* sdnotify: the systemd notify protocol, spoken directly (no libsystemd).
 *
 * Each message is one datagram of "KEY=VALUE" lines sent to the unix socket
 * named by $NOTIFY_SOCKET: a filesystem path ("/run/systemd/notify") or an
 * abstract socket ("@name", the '@' standing for the leading NUL). With
 * NOTIFY_SOCKET unset (not started by systemd with Type=notify) every call
 * is a successful no-op.
 *
 * The watchdog: systemd sets WATCHDOG_USEC (and WATCHDOG_PID) when the unit
 * has WatchdogSec=. The daemon pings WATCHDOG=1 every half of that interval,
 * and only while its main loop makes progress, so a stuck loop is killed and
 * restarted by systemd. A WATCHDOG_PID naming another process disables it.
 *
 * Threads: the sdnotify_t is written by sdnotify_init/close only; sending
 * from several threads is safe (one sendto each). sdnotify_watchdog_tick
 * keeps its last-ping time in the struct: call it from one thread. */
#ifndef CBI_SDNOTIFY_H
#define CBI_SDNOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

enum {
  SDNOTIFY_OK = 0,
  SDNOTIFY_ERR_INVALID = -1, /* NULL argument or empty message */
  SDNOTIFY_ERR_ADDR = -2,    /* NOTIFY_SOCKET is neither "/path" nor "@abstract", or too long */
  SDNOTIFY_ERR_SOCKET = -3,  /* socket(2) failed */
  SDNOTIFY_ERR_SEND = -4,    /* sendto(2) failed (errno kept in sdnotify_t.last_errno) */
};

typedef struct sdnotify {
  int enabled; /* NOTIFY_SOCKET was set and valid */
  int fd;      /* datagram socket, -1 when disabled */
  struct sockaddr_un addr;
  socklen_t addrlen;
  uint64_t watchdog_usec;  /* WATCHDOG_USEC when it applies to this process, else 0 */
  uint64_t last_ping_usec; /* CLOCK_MONOTONIC time of the last WATCHDOG=1 */
  int last_errno;
} sdnotify_t;

/* Static English text for an SDNOTIFY_* code. */
const char *sdnotify_strerror(int rc);

/* Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID and opens the socket.
 * Returns 0 (also when NOTIFY_SOCKET is unset: n->enabled is then 0) or a
 * negative SDNOTIFY_ERR_* (n is then disabled, and safe to use and close). */
int sdnotify_init(sdnotify_t *n);

/* Closes the socket; n becomes disabled. Safe on a zeroed or disabled n. */
void sdnotify_close(sdnotify_t *n);

/* Sends state (one or more "KEY=VALUE" lines) as one datagram. Returns 0
 * (also when disabled) or SDNOTIFY_ERR_INVALID / SDNOTIFY_ERR_SEND. */
int sdnotify_send(sdnotify_t *n, const char *state);

/* "READY=1": start-up is complete (after the start-up gap fill). */
int sdnotify_ready(sdnotify_t *n);

/* "STATUS=<text>" from a printf format; newlines in the text become spaces
 * (a newline would start a new assignment); text longer than 512 bytes is
 * cut. */
int sdnotify_status(sdnotify_t *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "WATCHDOG=1" now (and records the time). */
int sdnotify_watchdog(sdnotify_t *n);

/* "EXTEND_TIMEOUT_USEC=<usec>": asks systemd (>= 236) for usec more from
 * now before the start (or stop) timeout fires; sent while a long start-up
 * (the gap fill after an outage) still makes progress. */
int sdnotify_extend_timeout(sdnotify_t *n, uint64_t usec);

/* "STOPPING=1": shutdown has begun. */
int sdnotify_stopping(sdnotify_t *n);

/* Half of WATCHDOG_USEC in microseconds: how often to ping; 0 when the
 * watchdog is off (disabled, unset, or WATCHDOG_PID is another process). */
uint64_t sdnotify_watchdog_interval_usec(const sdnotify_t *n);

/* For the main loop: sends WATCHDOG=1 when progressed is nonzero and at
 * least the interval has passed since the last ping (the first call pings).
 * A loop that stops making progress stops pinging, and systemd restarts it.
 * Returns 1 when a ping was sent, 0 when none was due (or the watchdog is
 * off, or no progress), or a negative SDNOTIFY_ERR_*. */
int sdnotify_watchdog_tick(sdnotify_t *n, int progressed);

#endif
