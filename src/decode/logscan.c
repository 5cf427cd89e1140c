/* Transaction log scanning: which "Program data:" lines did our program
 * emit (see log_events_scan in decoder.h).
 *
 * The runtime writes "Program <id> invoke [n]" when a program starts
 * executing and "Program <id> success" / "Program <id> failed: ..." when it
 * returns; a program's own output is always prefixed ("Program log: ",
 * "Program data: ", "Program return: "), so it cannot forge those lines.
 * A "Program data:" line therefore belongs to the program on top of the
 * invoke stack, and only lines whose top frame is program_id are kept. */
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "decoder.h"

#define LOGSCAN_MAX_STACK 64

typedef struct frame {
  const char *id;
  size_t idlen;
  uint32_t invocation;
  uint32_t depth;
} frame_t;

static int starts(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int b58_char(char ch) {
  return (ch >= '1' && ch <= '9') || (ch >= 'A' && ch <= 'H') || (ch >= 'J' && ch <= 'N') ||
         (ch >= 'P' && ch <= 'Z') || (ch >= 'a' && ch <= 'k') || (ch >= 'm' && ch <= 'z');
}

/* Parses "<id> <rest>" after "Program ": returns the id length (32..44
 * base58 characters) or 0. */
static size_t parse_id(const char *s) {
  size_t n = 0;
  while (s[n] && s[n] != ' ') {
    if (!b58_char(s[n])) return 0;
    n++;
  }
  return (n >= 32 && n <= 44 && s[n] == ' ') ? n : 0;
}

log_events_line_kind_t log_events_parse_line(const char *line, log_events_line_t *out) {
  memset(out, 0, sizeof *out);
  if (!line || !starts(line, "Program ")) return out->kind;
  const char *id = line + 8;
  size_t idlen = parse_id(id);
  if (idlen == 0) return out->kind; /* "Program log: ...", "Program return: ..." */
  const char *rest = id + idlen;
  if (starts(rest, " invoke [")) {
    const char *q = rest + 9;
    uint32_t n = 0;
    size_t nd = 0;
    while (*q >= '0' && *q <= '9' && nd < 6) {
      n = n * 10u + (uint32_t)(*q++ - '0');
      nd++;
    }
    out->kind = LOG_EVENTS_LINE_INVOKE;
    out->has_depth = nd > 0 && *q == ']';
    out->depth = out->has_depth ? n : 0;
  } else if (strcmp(rest, " success") == 0) {
    out->kind = LOG_EVENTS_LINE_SUCCESS;
  } else if (starts(rest, " failed")) {
    out->kind = LOG_EVENTS_LINE_FAILED;
  } else {
    return out->kind;
  }
  out->id = id;
  out->id_len = idlen;
  return out->kind;
}

/* Decodes the space-separated base64 slices of a "Program data: " line
 * into one new buffer. 0, -1 (bad base64 / empty) or -2 (out of memory). */
static int decode_slices(const char *s, uint8_t **out, size_t *outlen) {
  size_t total = strlen(s);
  uint8_t *buf = malloc(b64_decoded_max(total) + 1);
  size_t len = 0;
  if (!buf) return -2;
  const char *p = s;
  int any = 0;
  while (*p) {
    const char *e = strchr(p, ' ');
    size_t sl = e ? (size_t)(e - p) : strlen(p);
    if (sl > 0) {
      size_t got;
      if (b64_decode_into(p, sl, buf + len, b64_decoded_max(total) + 1 - len, &got) != 0) {
        free(buf);
        return -1;
      }
      len += got;
      any = 1;
    }
    p += sl;
    if (*p == ' ') p++;
  }
  if (!any) {
    free(buf);
    return -1;
  }
  *out = buf;
  *outlen = len;
  return 0;
}

void log_events_free(log_events_t *ev) {
  if (!ev) return;
  for (size_t i = 0; i < ev->count; i++) free(ev->items[i].data);
  free(ev->items);
  memset(ev, 0, sizeof *ev);
}

int log_events_scan(const char *const *lines, size_t n_lines, const char *program_id,
                    log_events_t *out) {
  memset(out, 0, sizeof *out);
  frame_t stack[LOGSCAN_MAX_STACK];
  size_t depth = 0; /* logical depth; frames beyond the cap are not stored */
  uint32_t invokes = 0;
  size_t cap = 0;
  size_t pid_len = program_id ? strlen(program_id) : 0;
  for (size_t i = 0; i < n_lines; i++) {
    const char *l = lines[i];
    if (!l) continue;
    if (starts(l, "Program data: ") || strcmp(l, "Program data:") == 0) {
      if (depth == 0 || depth > LOGSCAN_MAX_STACK) continue;
      const frame_t *top = &stack[depth - 1];
      if (top->idlen != pid_len || memcmp(top->id, program_id, pid_len) != 0) continue;
      uint8_t *data = NULL;
      size_t len = 0;
      int rc = l[13] ? decode_slices(l + 14, &data, &len) : -1;
      if (rc == -2) goto nomem;
      if (rc != 0) {
        out->bad_lines++;
        continue;
      }
      if (out->count == cap) {
        size_t ncap = cap ? cap * 2 : 8;
        log_event_t *p = realloc(out->items, ncap * sizeof *p);
        if (!p) {
          free(data);
          goto nomem;
        }
        out->items = p;
        cap = ncap;
      }
      log_event_t *ev = &out->items[out->count++];
      ev->data = data;
      ev->len = len;
      ev->invocation = top->invocation;
      ev->depth = top->depth;
      continue;
    }
    if (starts(l, "Log truncated")) {
      out->truncated = true;
      break; /* nothing is logged after the cut */
    }
    log_events_line_t pl;
    switch (log_events_parse_line(l, &pl)) {
    case LOG_EVENTS_LINE_INVOKE:
      if (depth < LOGSCAN_MAX_STACK) {
        stack[depth].id = pl.id;
        stack[depth].idlen = pl.id_len;
        stack[depth].invocation = invokes;
        stack[depth].depth = pl.has_depth ? pl.depth : (uint32_t)(depth + 1);
      }
      depth++;
      invokes++;
      break;
    case LOG_EVENTS_LINE_SUCCESS:
    case LOG_EVENTS_LINE_FAILED:
      if (depth > 0) depth--;
      break;
    case LOG_EVENTS_LINE_OTHER: break;
    }
  }
  return 0;
nomem:
  log_events_free(out);
  return DECODE_ERR_NOMEM;
}
