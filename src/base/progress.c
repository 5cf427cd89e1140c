/* Progress bar / periodic log line (see progress.h). */
#include "progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int64_t progress_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t progress_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int progress_auto_mode(void) { return isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_LOG; }

void progress_init(progress_t *p, int mode, const char *what, uint64_t total_slots) {
  memset(p, 0, sizeof *p);
  p->mode = mode;
  p->what = what ? what : "progress";
  p->total_slots = total_slots;
  p->start_ms = progress_now_ms();
  p->last_draw_ms = p->start_ms;
}

char *progress_fmt_duration(uint64_t ms, char *buf, size_t bufsz) {
  int n;
  if (ms < 60000)
    n = snprintf(buf, bufsz, "%" PRIu64 ".%" PRIu64 "s", ms / 1000, (ms % 1000) / 100);
  else if (ms < 3600000)
    n = snprintf(buf, bufsz, "%" PRIu64 "m%02" PRIu64 "s", ms / 60000, (ms / 1000) % 60);
  else
    n = snprintf(buf, bufsz, "%" PRIu64 "h%02" PRIu64 "m", ms / 3600000, (ms / 60000) % 60);
  if (n < 0 && bufsz) buf[0] = '\0';
  return buf;
}

/* tx/s with one decimal, from integer counts (no u64 through double). */
static void rate_str(uint64_t tx, uint64_t ms, char *buf, size_t bufsz) {
  if (ms == 0) ms = 1;
  uint64_t tenths = tx > UINT64_MAX / 10000 ? tx / ms * 10000 : tx * 10000 / ms;
  if (snprintf(buf, bufsz, "%" PRIu64 ".%" PRIu64, tenths / 10, tenths % 10) < 0 && bufsz)
    buf[0] = '\0';
}

static void eta_str(const progress_t *p, uint64_t elapsed, char *buf, size_t bufsz) {
  if (p->total_slots == 0 || p->slots_done == 0 || p->slots_done >= p->total_slots) {
    snprintf(buf, bufsz, "%s", p->slots_done >= p->total_slots && p->total_slots ? "0.0s" : "?");
    return;
  }
  uint64_t left = p->total_slots - p->slots_done;
  /* elapsed * left / done, overflow-safe enough for realistic ranges */
  uint64_t eta = left > UINT64_MAX / (elapsed + 1) ? UINT64_MAX / 2
                                                   : elapsed * left / p->slots_done;
  progress_fmt_duration(eta, buf, bufsz);
}

static void draw(progress_t *p, int64_t now) {
  uint64_t elapsed = (uint64_t)(now - p->start_ms);
  char rate[32], eta[32];
  rate_str(p->tx_done, elapsed, rate, sizeof rate);
  eta_str(p, elapsed, eta, sizeof eta);
  unsigned pct = 0;
  if (p->total_slots)
    pct = (unsigned)(p->slots_done >= p->total_slots ? 100
                                                     : p->slots_done * 100 / p->total_slots);
  if (p->mode == PROGRESS_BAR) {
    char bar[31];
    unsigned fill = pct * 30 / 100;
    for (unsigned i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    char line[256];
    int n = snprintf(line, sizeof line,
                     "\r%s [%s] %3u%% slots %" PRIu64 "/%" PRIu64 "  %" PRIu64
                     " tx  %s tx/s  ETA %s\033[K\r",
                     p->what, bar, pct, p->slots_done, p->total_slots, p->tx_done, rate, eta);
    if (n > 0) {
      size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
      ssize_t w = write(STDERR_FILENO, line, len);
      (void)w;
      p->drawn = 1;
    }
  } else if (p->mode == PROGRESS_LOG) {
    log_info(p->what, "progress slots=%" PRIu64 "/%" PRIu64 " (%u%%) tx=%" PRIu64
             " rate=%s tx/s eta=%s", p->slots_done, p->total_slots, pct, p->tx_done, rate, eta);
  }
}

void progress_update(progress_t *p, uint64_t slots_done, uint64_t tx_done) {
  p->slots_done = slots_done;
  p->tx_done = tx_done;
  if (p->mode == PROGRESS_OFF) return;
  int64_t now = progress_now_ms();
  int64_t every = p->mode == PROGRESS_BAR ? PROGRESS_BAR_INTERVAL_MS : PROGRESS_LOG_INTERVAL_MS;
  if (now - p->last_draw_ms < every) return;
  p->last_draw_ms = now;
  draw(p, now);
}

void progress_clear(progress_t *p) {
  if (p->mode != PROGRESS_BAR || !p->drawn) return;
  ssize_t w = write(STDERR_FILENO, "\r\033[K", 4);
  (void)w;
  p->drawn = 0;
}

void progress_finish(progress_t *p) {
  if (p->mode != PROGRESS_BAR) return;
  draw(p, progress_now_ms());
  if (p->drawn) {
    ssize_t w = write(STDERR_FILENO, "\n", 1);
    (void)w;
    p->drawn = 0;
  }
}
