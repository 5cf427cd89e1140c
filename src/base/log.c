#include "log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

log_level_t log_min_level = LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

int log_set_level(const char *name) {
  static const char *const lower[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (strcasecmp(name, lower[i]) == 0) {
      log_min_level = (log_level_t)i;
      return 0;
    }
  return -1;
}

void log_write(log_level_t level, const char *component, const char *fmt, ...) {
  char line[2048];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%s %04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] ",
                   level_names[level], tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, component);
  if (n < 0) return;
  size_t off = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + off, sizeof line - off, fmt, ap);
  va_end(ap);
  if (m < 0) return;
  off += (size_t)m < sizeof line - off ? (size_t)m : sizeof line - off - 1;
  /* Control characters from untrusted input never break the one-line rule. */
  for (size_t i = 0; i < off; i++)
    if ((unsigned char)line[i] < 0x20) line[i] = ' ';
  if (off >= sizeof line - 1) off = sizeof line - 2;
  line[off++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, off);
  (void)w;
}

static int is_key_char(int c) { return isalnum(c) || c == '_' || c == '-'; }

/* Where the authority (userinfo@host:port) of url starts: after a leading
 * "scheme:" and any number of slashes (libcurl also accepts "https:/h" and
 * "https:h"), else after the first "://", else at the start. */
static const char *url_authority(const char *url) {
  const char *q = url;
  if (isalpha((unsigned char)*q)) {
    q++;
    while (isalnum((unsigned char)*q) || *q == '+' || *q == '-' || *q == '.') q++;
    if (*q == ':') {
      q++;
      while (*q == '/') q++;
      return q;
    }
  }
  q = strstr(url, "://");
  return q ? q + 3 : url;
}

char *log_redact_url(const char *url, char *out, size_t outsz) {
  size_t o = 0;
  if (outsz == 0) return out;
#define PUT(c) do { char c_ = (char)(c); if (o + 1 < outsz) out[o++] = c_; } while (0)
#define PUTS(s) do { for (const char *q_ = (s); *q_; q_++) PUT(*q_); } while (0)
  const char *p = url;
  const char *auth = url_authority(url);
  {
    for (; p < auth; p++) PUT(*p);
    const char *end = p + strcspn(p, "/?#");
    const char *at = NULL; /* the last '@' ends the userinfo */
    for (const char *q = p; q < end; q++)
      if (*q == '@') at = q;
    if (at) {
      PUTS("***@");
      p = at + 1;
    }
  }
  int in_query = 0;
  while (*p) {
    if (*p == '?' || (in_query && *p == '&')) {
      in_query = 1;
      PUT(*p++);
      while (*p && *p != '=' && *p != '&') PUT(*p++);
      if (*p == '=') {
        PUT(*p++);
        while (*p && *p != '&' && *p != '#') p++;
        PUTS("***");
      }
      continue;
    }
    if (*p == '/' && !in_query) {
      PUT(*p++);
      size_t seg = 0;
      while (is_key_char((unsigned char)p[seg])) seg++;
      if (seg >= 20 && (p[seg] == '\0' || p[seg] == '/' || p[seg] == '?' || p[seg] == '#')) {
        PUTS("***");
        p += seg;
      }
      continue;
    }
    PUT(*p++);
  }
  out[o] = '\0';
  return out;
#undef PUT
#undef PUTS
}

/* Length of a libpq URI designator ("postgresql://" or "postgres://") at
 * the start of s, else 0: anything else is a key=value string to libpq,
 * even when a value contains "://". */
static size_t conninfo_uri_prefix(const char *s) {
  if (strncmp(s, "postgresql://", 13) == 0) return 13;
  if (strncmp(s, "postgres://", 11) == 0) return 11;
  return 0;
}

char *log_redact_conninfo(const char *conninfo, char *out, size_t outsz) {
  if (outsz == 0) return out;
  size_t prefix = conninfo_uri_prefix(conninfo);
  if (prefix) {
    /* URI: hide the userinfo password and any password= parameter. */
    char tmp[1024];
    size_t o = 0;
    const char *p = conninfo;
    for (; p < conninfo + prefix; p++) tmp[o++] = *p;
    const char *end = p + strcspn(p, "/"); /* libpq: userinfo may hold ? and # */
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at) {
      const char *colon = memchr(p, ':', (size_t)(at - p));
      const char *uend = colon ? colon : at;
      for (; p < uend && o + 1 < sizeof tmp; p++) tmp[o++] = *p;
      if (colon) {
        const char *mask = ":***";
        for (; *mask && o + 1 < sizeof tmp; mask++) tmp[o++] = *mask;
      }
      p = at;
    }
    for (; *p && o + 1 < sizeof tmp; p++) {
      if (strncmp(p, "password=", 9) == 0) {
        const char *mask = "password=***";
        for (; *mask && o + 1 < sizeof tmp; mask++) tmp[o++] = *mask;
        p += 9;
        while (*p && *p != '&') p++;
        if (!*p || o + 1 >= sizeof tmp) break;
      }
      tmp[o++] = *p;
    }
    tmp[o] = '\0';
    snprintf(out, outsz, "%s", tmp);
    return out;
  }
  size_t o = 0;
  const char *p = conninfo;
  while (*p && o + 1 < outsz) {
    if ((p == conninfo || isspace((unsigned char)p[-1])) && strncmp(p, "password", 8) == 0) {
      const char *q = p + 8;
      while (isspace((unsigned char)*q)) q++;
      if (*q == '=') {
        const char *mask = "password=***";
        for (; *mask && o + 1 < outsz; mask++) out[o++] = *mask;
        q++;
        while (isspace((unsigned char)*q)) q++;
        if (*q == '\'') {
          for (q++; *q && *q != '\''; q++)
            if (*q == '\\' && q[1]) q++;
          if (*q) q++;
        } else {
          while (*q && !isspace((unsigned char)*q)) q++;
        }
        p = q;
        continue;
      }
    }
    out[o++] = *p++;
  }
  out[o] = '\0';
  return out;
}
