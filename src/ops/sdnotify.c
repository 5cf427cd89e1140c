/* The systemd notify protocol: one datagram per message to $NOTIFY_SOCKET. */
#include "sdnotify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *sdnotify_strerror(int rc) {
  switch (rc) {
  case SDNOTIFY_OK: return "ok";
  case SDNOTIFY_ERR_INVALID: return "invalid argument";
  case SDNOTIFY_ERR_ADDR: return "NOTIFY_SOCKET is not a unix socket path or @abstract name";
  case SDNOTIFY_ERR_SOCKET: return "cannot create the notify socket";
  case SDNOTIFY_ERR_SEND: return "cannot send to the notify socket";
  default: return "unknown sdnotify error";
  }
}

/* Parses a decimal u64 without sign, blanks or trailing bytes. */
static int parse_u64(const char *s, uint64_t *out) {
  if (!s || *s < '0' || *s > '9') return -1;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

static uint64_t now_usec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int sdnotify_init(sdnotify_t *n) {
  if (!n) return SDNOTIFY_ERR_INVALID;
  memset(n, 0, sizeof *n);
  n->fd = -1;
  const char *path = getenv("NOTIFY_SOCKET");
  if (!path || !*path) return SDNOTIFY_OK;
  size_t len = strlen(path);
  if ((path[0] != '/' && path[0] != '@') || len > sizeof n->addr.sun_path - 1 ||
      (path[0] == '@' && len < 2))
    return SDNOTIFY_ERR_ADDR;
  n->addr.sun_family = AF_UNIX;
  memcpy(n->addr.sun_path, path, len);
  if (path[0] == '@') {
    n->addr.sun_path[0] = '\0'; /* abstract: the name is exactly len bytes */
    n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
  } else {
    n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
  }
  n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (n->fd < 0) {
    n->last_errno = errno;
    return SDNOTIFY_ERR_SOCKET;
  }
  n->enabled = 1;
  uint64_t usec = 0, pid = 0;
  const char *wpid = getenv("WATCHDOG_PID");
  int ours = !wpid || !*wpid || (parse_u64(wpid, &pid) == 0 && pid == (uint64_t)getpid());
  if (ours && parse_u64(getenv("WATCHDOG_USEC"), &usec) == 0 && usec > 0) n->watchdog_usec = usec;
  return SDNOTIFY_OK;
}

void sdnotify_close(sdnotify_t *n) {
  if (!n) return;
  if (n->enabled && n->fd >= 0) close(n->fd);
  n->fd = -1;
  n->enabled = 0;
}

int sdnotify_send(sdnotify_t *n, const char *state) {
  if (!n || !state || !*state) return SDNOTIFY_ERR_INVALID;
  if (!n->enabled) return SDNOTIFY_OK;
  ssize_t w;
  do {
    w = sendto(n->fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr,
               n->addrlen);
  } while (w < 0 && errno == EINTR);
  if (w < 0) {
    n->last_errno = errno;
    return SDNOTIFY_ERR_SEND;
  }
  return SDNOTIFY_OK;
}

int sdnotify_ready(sdnotify_t *n) {
  return sdnotify_send(n, "READY=1");
}

int sdnotify_stopping(sdnotify_t *n) {
  return sdnotify_send(n, "STOPPING=1");
}

int sdnotify_extend_timeout(sdnotify_t *n, uint64_t usec) {
  char msg[48];
  snprintf(msg, sizeof msg, "EXTEND_TIMEOUT_USEC=%" PRIu64, usec);
  return sdnotify_send(n, msg);
}

int sdnotify_status(sdnotify_t *n, const char *fmt, ...) {
  if (!n || !fmt) return SDNOTIFY_ERR_INVALID;
  if (!n->enabled) return SDNOTIFY_OK;
  char msg[7 + 512 + 1] = "STATUS=";
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(msg + 7, sizeof msg - 7, fmt, ap);
  va_end(ap);
  if (m < 0) return SDNOTIFY_ERR_INVALID;
  for (char *p = msg + 7; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
  return sdnotify_send(n, msg);
}

int sdnotify_watchdog(sdnotify_t *n) {
  if (!n) return SDNOTIFY_ERR_INVALID;
  int rc = sdnotify_send(n, "WATCHDOG=1");
  if (rc == SDNOTIFY_OK) n->last_ping_usec = now_usec();
  return rc;
}

uint64_t sdnotify_watchdog_interval_usec(const sdnotify_t *n) {
  return n && n->enabled ? n->watchdog_usec / 2 : 0;
}

int sdnotify_watchdog_tick(sdnotify_t *n, int progressed) {
  uint64_t iv = sdnotify_watchdog_interval_usec(n);
  if (iv == 0 || !progressed) return 0;
  if (n->last_ping_usec != 0 && now_usec() - n->last_ping_usec < iv) return 0;
  int rc = sdnotify_watchdog(n);
  return rc == SDNOTIFY_OK ? 1 : rc;
}
