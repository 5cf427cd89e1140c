/* Logging: one line per event. Text format (the default):
 *   LEVEL time [component] message key=value ...
 * JSON format (log_set_format(LOG_FORMAT_JSON)): one object per line,
 *   {"time":"...Z","level":"info","component":"ws","message":"...","key":value,...}
 * where the trailing "key=value" words of the formatted message become
 * members (a value runs to the next " key=" word; decimal integers of up to
 * 15 digits are JSON numbers, everything else strings; a key named like a
 * fixed member gets an "f_" prefix). Strings are escaped per RFC 8259:
 * control characters as \uXXXX, invalid UTF-8 replaced by U+FFFD.
 *
 * Redaction applies to both formats, at the sink, after formatting: every
 * URL-like word ("scheme://...") goes through log_redact_url (postgres URIs
 * through log_redact_conninfo), and the value of a password=, passwd=,
 * token=, secret=, api-key=, api_key=, apikey= or access_token= word becomes
 * "***". Callers still redact what they format (defence in depth).
 *
 * Costs one integer compare below the configured level. Thread-safe: a line
 * is written with a single write(2). */
#ifndef CBI_LOG_H
#define CBI_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level_t;

extern log_level_t log_min_level;

/* Parses "debug", "info", "warn", "error". Returns 0, or -1 if unknown. */
int log_set_level(const char *name);

typedef enum { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 } log_format_t;

/* Selects the line format for every later line (any thread; takes effect
 * line by line). */
void log_set_format(log_format_t format);

/* Parses "text" or "json" (case-insensitive) and selects it. Returns 0, or
 * -1 if unknown (the format is then unchanged). */
int log_set_format_name(const char *name);

/* The current format. */
log_format_t log_get_format(void);

/* Sends lines to fd instead of stderr (fd < 0 restores stderr). The caller
 * keeps the fd open while it is in use. */
void log_set_output_fd(int fd);

void log_write(log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(comp, ...)                                                                       \
  do {                                                                                             \
    if (log_min_level <= LOG_DEBUG) log_write(LOG_DEBUG, comp, __VA_ARGS__);                       \
  } while (0)
#define log_info(comp, ...)                                                                        \
  do {                                                                                             \
    if (log_min_level <= LOG_INFO) log_write(LOG_INFO, comp, __VA_ARGS__);                         \
  } while (0)
#define log_warn(comp, ...)                                                                        \
  do {                                                                                             \
    if (log_min_level <= LOG_WARN) log_write(LOG_WARN, comp, __VA_ARGS__);                         \
  } while (0)
#define log_error(comp, ...) log_write(LOG_ERROR, comp, __VA_ARGS__)

/* Copies url into out (size outsz, always NUL-terminated) with secrets
 * removed: userinfo ("user:pass@"), query string values, and path segments
 * that look like API keys (>= 20 chars of [A-Za-z0-9_-]) become "***".
 * Every URL that reaches a log line goes through this. Returns out. */
char *log_redact_url(const char *url, char *out, size_t outsz);

/* Copies msg into out (outsz bytes, always NUL-terminated) with the sink's
 * redaction applied (see the top of this file). Returns out. */
char *log_scrub(const char *msg, char *out, size_t outsz);

/* Same for a libpq connection string (URI or key=value): password values
 * become "***". Returns out. */
char *log_redact_conninfo(const char *conninfo, char *out, size_t outsz);

/* Error text for a caller's buffer: formats into err (errsz bytes,
 * truncated to fit, always terminated) when err and errsz are given; err
 * becomes "" if formatting fails. Nothing is logged. */
void log_set_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* log_set_err with a va_list (ap is consumed). */
void log_vset_err(char *err, size_t errsz, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
