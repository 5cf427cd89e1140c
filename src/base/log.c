#include "log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

log_level_t log_min_level = LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static const char *const level_json[] = {"debug", "info", "warn", "error"};

static atomic_int log_format = LOG_FORMAT_TEXT;
static atomic_int log_fd = -1;

int log_set_level(const char *name) {
  static const char *const lower[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (strcasecmp(name, lower[i]) == 0) {
      log_min_level = (log_level_t)i;
      return 0;
    }
  return -1;
}

void log_set_format(log_format_t format) {
  atomic_store(&log_format, (int)format);
}

int log_set_format_name(const char *name) {
  if (!name) return -1;
  if (strcasecmp(name, "text") == 0)
    log_set_format(LOG_FORMAT_TEXT);
  else if (strcasecmp(name, "json") == 0)
    log_set_format(LOG_FORMAT_JSON);
  else
    return -1;
  return 0;
}

log_format_t log_get_format(void) {
  return (log_format_t)atomic_load(&log_format);
}

void log_set_output_fd(int fd) {
  atomic_store(&log_fd, fd);
}

/* ---- redaction at the sink ---- */

static int is_word_start(const char *msg, const char *p) {
  if (p == msg) return 1;
  char c = p[-1];
  return c == ' ' || c == '\t' || c == '=' || c == '(' || c == '[' || c == '<' || c == '"' ||
         c == '\'' || c == ',';
}

/* Length of a "scheme://" prefix at p, else 0. */
static size_t url_scheme_len(const char *p) {
  if (!isalpha((unsigned char)*p)) return 0;
  size_t i = 1;
  while (isalnum((unsigned char)p[i]) || p[i] == '+' || p[i] == '-' || p[i] == '.')
    i++;
  return strncmp(p + i, "://", 3) == 0 ? i + 3 : 0;
}

/* Length of a secret key plus its '=' at p (case-insensitive), else 0. */
static size_t secret_key_len(const char *p) {
  static const char *const keys[] = {"password=", "passwd=",  "token=",  "secret=",
                                     "api-key=",  "api_key=", "apikey=", "access_token="};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    size_t n = strlen(keys[i]);
    if (strncasecmp(p, keys[i], n) == 0) return n;
  }
  return 0;
}

char *log_scrub(const char *msg, char *out, size_t outsz) {
  size_t o = 0;
  if (outsz == 0) return out;
  const char *p = msg;
  while (*p && o + 1 < outsz) {
    size_t k;
    if (is_word_start(msg, p) && url_scheme_len(p) > 0) {
      size_t n = strcspn(p, " \t\"'<>()[]");
      char tok[1024], red[1024];
      size_t m = n < sizeof tok - 1 ? n : sizeof tok - 1;
      memcpy(tok, p, m);
      tok[m] = '\0';
      if (strncmp(tok, "postgres", 8) == 0)
        log_redact_conninfo(tok, red, sizeof red);
      else
        log_redact_url(tok, red, sizeof red);
      for (const char *q = red; *q && o + 1 < outsz; q++)
        out[o++] = *q;
      p += n;
      continue;
    }
    if (is_word_start(msg, p) && (k = secret_key_len(p)) > 0) {
      for (size_t i = 0; i < k && o + 1 < outsz; i++)
        out[o++] = p[i];
      for (const char *q = "***"; *q && o + 1 < outsz; q++)
        out[o++] = *q;
      p += k;
      if (*p == '\'') { /* libpq quoting: 'a b\' c' */
        for (p++; *p && *p != '\''; p++)
          if (*p == '\\' && p[1]) p++;
        if (*p) p++;
      } else {
        while (*p && *p != ' ' && *p != '\t' && *p != '&')
          p++;
      }
      continue;
    }
    out[o++] = *p++;
  }
  out[o] = '\0';
  return out;
}

/* ---- JSON lines ---- */

typedef struct {
  char *p;
  size_t len, cap; /* cap excludes room kept for the closing "}\n" */
} jbuf_t;

static void jb_put(jbuf_t *b, const char *s, size_t n) {
  if (n > b->cap - b->len) n = b->cap - b->len;
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void jb_str(jbuf_t *b, const char *s) {
  jb_put(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (n bytes available), else 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF)
    len = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4)
    len = 4, cp = c & 0x07;
  else
    return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return len;
}

/* A JSON string of s[0..n): escapes, and U+FFFD for invalid UTF-8. Never
 * emits half an escape or half a character when the buffer fills. */
static void jb_json_string(jbuf_t *b, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  if (b->cap - b->len < 2) return;
  jb_put(b, "\"", 1);
  size_t i = 0;
  while (i < n && b->cap - b->len > 7) {
    unsigned c = u[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c;
      jb_put(b, esc, 2);
      i++;
    } else if (c < 0x20 || c == 0x7F) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      jb_put(b, esc, 6);
      i++;
    } else {
      size_t k = utf8_len(u + i, n - i);
      if (k == 0) {
        jb_put(b, "\xEF\xBF\xBD", 3);
        i++;
      } else {
        jb_put(b, s + i, k);
        i += k;
      }
    }
  }
  jb_put(b, "\"", 1); /* fits: the loop leaves at least 2 bytes */
}

/* A key=value word starting at p: the key's length (up to '='), else 0. */
static size_t field_key_len(const char *p) {
  if (!(isalpha((unsigned char)*p) || *p == '_')) return 0;
  size_t i = 1;
  while (isalnum((unsigned char)p[i]) || p[i] == '_' || p[i] == '.' || p[i] == '-')
    i++;
  return p[i] == '=' ? i : 0;
}

/* Next " key=" word at or after p (or the end). */
static const char *next_field(const char *msg, const char *p) {
  for (; *p; p++)
    if ((p == msg || p[-1] == ' ') && field_key_len(p) > 0) return p;
  return p;
}

static int is_small_int(const char *s, size_t n) {
  size_t i = (n > 0 && s[0] == '-') ? 1 : 0;
  if (n == i || n - i > 15) return 0;
  if (s[i] == '0' && n - i > 1) return 0;
  for (; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

static size_t json_line(char *out, size_t outsz, const char *ts, log_level_t level,
                        const char *component, const char *msg) {
  jbuf_t b = {out, 0, outsz - 2};
  jb_str(&b, "{\"time\":\"");
  jb_str(&b, ts);
  jb_str(&b, "\",\"level\":\"");
  jb_str(&b, level_json[level]);
  jb_str(&b, "\",\"component\":");
  jb_json_string(&b, component, strlen(component));
  jb_str(&b, ",\"message\":");
  const char *f = next_field(msg, msg);
  size_t mlen = (size_t)(f - msg);
  while (mlen > 0 && msg[mlen - 1] == ' ')
    mlen--;
  jb_json_string(&b, msg, mlen);
  while (*f) {
    size_t klen = field_key_len(f);
    const char *v = f + klen + 1;
    const char *nf = next_field(msg, v);
    size_t vlen = (size_t)(nf - v);
    while (vlen > 0 && v[vlen - 1] == ' ')
      vlen--;
    static const char *const fixed[] = {"time", "level", "component", "message"};
    int clash = 0;
    for (size_t i = 0; i < 4; i++)
      if (strlen(fixed[i]) == klen && strncmp(f, fixed[i], klen) == 0) clash = 1;
    char key[80];
    snprintf(key, sizeof key, "%s%.*s", clash ? "f_" : "", (int)(klen < 64 ? klen : 64), f);
    size_t before = b.len;
    jb_put(&b, ",", 1);
    jb_json_string(&b, key, strlen(key));
    jb_put(&b, ":", 1);
    if (is_small_int(v, vlen))
      jb_put(&b, v, vlen);
    else
      jb_json_string(&b, v, vlen);
    if (b.len == b.cap) { /* full: drop the partial member, keep the object valid */
      b.len = before;
      break;
    }
    f = nf;
  }
  b.cap = outsz;
  jb_put(&b, "}\n", 2);
  return b.len;
}

void log_write(log_level_t level, const char *component, const char *fmt, ...) {
  char msg[2048], clean[2048];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char when[64];
  snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (m < 0) return;
  log_scrub(msg, clean, sizeof clean);
  char line[16384];
  size_t off;
  if (atomic_load(&log_format) == LOG_FORMAT_JSON) {
    off = json_line(line, sizeof line, when, level, component, clean);
  } else {
    int n = snprintf(line, 2048, "%s %s [%s] %s", level_names[level], when, component, clean);
    if (n < 0) return;
    off = (size_t)n < 2047 ? (size_t)n : 2047;
    /* Control characters from untrusted input never break the one-line rule. */
    for (size_t i = 0; i < off; i++)
      if ((unsigned char)line[i] < 0x20) line[i] = ' ';
    line[off++] = '\n';
  }
  int fd = atomic_load(&log_fd);
  ssize_t w = write(fd >= 0 ? fd : STDERR_FILENO, line, off);
  (void)w;
}

static int is_key_char(int c) {
  return isalnum(c) || c == '_' || c == '-';
}

/* Where the authority (userinfo@host:port) of url starts: after a leading
 * "scheme:" and any number of slashes (libcurl also accepts "https:/h" and
 * "https:h"), else after the first "://", else at the start. */
static const char *url_authority(const char *url) {
  const char *q = url;
  if (isalpha((unsigned char)*q)) {
    q++;
    while (isalnum((unsigned char)*q) || *q == '+' || *q == '-' || *q == '.')
      q++;
    if (*q == ':') {
      q++;
      while (*q == '/')
        q++;
      return q;
    }
  }
  q = strstr(url, "://");
  return q ? q + 3 : url;
}

char *log_redact_url(const char *url, char *out, size_t outsz) {
  size_t o = 0;
  if (outsz == 0) return out;
#define PUT(c)                                                                                     \
  do {                                                                                             \
    char c_ = (char)(c);                                                                           \
    if (o + 1 < outsz) out[o++] = c_;                                                              \
  } while (0)
#define PUTS(s)                                                                                    \
  do {                                                                                             \
    for (const char *q_ = (s); *q_; q_++)                                                          \
      PUT(*q_);                                                                                    \
  } while (0)
  const char *p = url;
  const char *auth = url_authority(url);
  {
    for (; p < auth; p++)
      PUT(*p);
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
      while (*p && *p != '=' && *p != '&')
        PUT(*p++);
      if (*p == '=') {
        PUT(*p++);
        while (*p && *p != '&' && *p != '#')
          p++;
        PUTS("***");
      }
      continue;
    }
    if (*p == '/' && !in_query) {
      PUT(*p++);
      size_t seg = 0;
      while (is_key_char((unsigned char)p[seg]))
        seg++;
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
    for (; p < conninfo + prefix; p++)
      tmp[o++] = *p;
    const char *end = p + strcspn(p, "/"); /* libpq: userinfo may hold ? and # */
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at) {
      const char *colon = memchr(p, ':', (size_t)(at - p));
      const char *uend = colon ? colon : at;
      for (; p < uend && o + 1 < sizeof tmp; p++)
        tmp[o++] = *p;
      if (colon) {
        const char *mask = ":***";
        for (; *mask && o + 1 < sizeof tmp; mask++)
          tmp[o++] = *mask;
      }
      p = at;
    }
    for (; *p && o + 1 < sizeof tmp; p++) {
      if (strncmp(p, "password=", 9) == 0) {
        const char *mask = "password=***";
        for (; *mask && o + 1 < sizeof tmp; mask++)
          tmp[o++] = *mask;
        p += 9;
        while (*p && *p != '&')
          p++;
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
      while (isspace((unsigned char)*q))
        q++;
      if (*q == '=') {
        const char *mask = "password=***";
        for (; *mask && o + 1 < outsz; mask++)
          out[o++] = *mask;
        q++;
        while (isspace((unsigned char)*q))
          q++;
        if (*q == '\'') {
          for (q++; *q && *q != '\''; q++)
            if (*q == '\\' && q[1]) q++;
          if (*q) q++;
        } else {
          while (*q && !isspace((unsigned char)*q))
            q++;
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

void log_vset_err(char *err, size_t errsz, const char *fmt, va_list ap) {
  if (!err || errsz == 0) return;
  if (vsnprintf(err, errsz, fmt, ap) < 0) err[0] = '\0';
}

void log_set_err(char *err, size_t errsz, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vset_err(err, errsz, fmt, ap);
  va_end(ap);
}
