/* Logging: one line per event, "LEVEL time [component] message key=value".
 * Costs one integer compare below the configured level. Thread-safe: a line
 * is written with a single write(2). */
#ifndef CBI_LOG_H
#define CBI_LOG_H

#include <stddef.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level_t;

extern log_level_t log_min_level;

/* Parses "debug", "info", "warn", "error". Returns 0, or -1 if unknown. */
int log_set_level(const char *name);

void log_write(log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(comp, ...) \
  do { if (log_min_level <= LOG_DEBUG) log_write(LOG_DEBUG, comp, __VA_ARGS__); } while (0)
#define log_info(comp, ...) \
  do { if (log_min_level <= LOG_INFO) log_write(LOG_INFO, comp, __VA_ARGS__); } while (0)
#define log_warn(comp, ...) \
  do { if (log_min_level <= LOG_WARN) log_write(LOG_WARN, comp, __VA_ARGS__); } while (0)
#define log_error(comp, ...) log_write(LOG_ERROR, comp, __VA_ARGS__)

/* Copies url into out (size outsz, always NUL-terminated) with secrets
 * removed: userinfo ("user:pass@"), query string values, and path segments
 * that look like API keys (>= 20 chars of [A-Za-z0-9_-]) become "***".
 * Every URL that reaches a log line goes through this. Returns out. */
char *log_redact_url(const char *url, char *out, size_t outsz);

/* Same for a libpq connection string (URI or key=value): password values
 * become "***". Returns out. */
char *log_redact_conninfo(const char *conninfo, char *out, size_t outsz);

#endif
