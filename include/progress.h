/* Progress reporting for long runs (backfill, snapshot): a one-line bar on
 * a terminal, redrawn at most 5 times a second, or one log line every few
 * seconds otherwise. Single-threaded; no allocation. */
#ifndef CBI_PROGRESS_H
#define CBI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  PROGRESS_OFF = 0, /* nothing */
  PROGRESS_LOG = 1, /* log_info line every PROGRESS_LOG_INTERVAL_MS */
  PROGRESS_BAR = 2  /* "\r"-redrawn bar on stderr */
} progress_mode_t;

#define PROGRESS_LOG_INTERVAL_MS 5000
#define PROGRESS_BAR_INTERVAL_MS 200

typedef struct progress {
  int mode;                 /* progress_mode_t */
  const char *what;         /* label, e.g. "backfill" (borrowed) */
  uint64_t total_slots;     /* slots in the range (0 = unknown) */
  uint64_t slots_done;
  uint64_t tx_done;
  int64_t start_ms;         /* monotonic */
  int64_t last_draw_ms;
  int drawn;                /* a bar is on screen (needs a newline at the end) */
} progress_t;

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t progress_now_ms(void);

/* Microseconds of CLOCK_MONOTONIC. */
int64_t progress_now_us(void);

/* PROGRESS_BAR when stderr is a terminal, else PROGRESS_LOG. */
int progress_auto_mode(void);

/* Starts the clock. what is borrowed. */
void progress_init(progress_t *p, int mode, const char *what, uint64_t total_slots);

/* Records the current counts and redraws / logs when due (rate-limited:
 * cheap to call in a loop). */
void progress_update(progress_t *p, uint64_t slots_done, uint64_t tx_done);

/* Erases the bar (before a log line of the caller's; the next update
 * redraws it). The bar leaves the cursor at column 0, so other log lines
 * overwrite it anyway. */
void progress_clear(progress_t *p);

/* Final redraw of the bar and its newline (nothing in log mode). */
void progress_finish(progress_t *p);

/* Formats "12.3s" / "4m05s" / "2h03m" into buf. Returns buf. */
char *progress_fmt_duration(uint64_t ms, char *buf, size_t bufsz);

#endif
