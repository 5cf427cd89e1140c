/* Transaction log scanning on arbitrary log line arrays: log_events_scan
 * never crashes or leaks; every event names an invoke line that exists,
 * carries bytes that a "Program data:" line held, and there are no more
 * events than such lines; the result does not depend on lines after a
 * "Log truncated" line.
 *
 * Input: text split on '\n' into lines (NUL bytes end a line early, as
 * they would for a C string). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROGRAM "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe"

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  const char **lines = NULL;
  size_t n = 0, i, invokes = 0, data_lines = 0, cut = 0;
  log_events_t ev, ev2;
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  lines = malloc((size + 1) * sizeof *lines);
  if (!lines) abort();
  lines[n++] = text;
  for (i = 0; i < size; i++)
    if (text[i] == '\n') {
      text[i] = '\0';
      lines[n++] = text + i + 1;
    }

  cut = n;
  for (i = 0; i < n; i++) {
    if (starts(lines[i], "Log truncated")) {
      cut = i;
      break;
    }
    if (starts(lines[i], "Program ") && strstr(lines[i], " invoke [")) invokes++;
    if (starts(lines[i], "Program data:")) data_lines++;
  }

  if (log_events_scan(lines, n, PROGRAM, &ev) != 0) abort();
  if (ev.count > data_lines || ev.count + ev.bad_lines > data_lines) abort();
  if (ev.truncated != (cut < n)) abort();
  for (i = 0; i < ev.count; i++) {
    if (ev.items[i].invocation >= invokes) abort();
    if (ev.items[i].len > 0 && !ev.items[i].data) abort();
  }
  /* lines after the cut change nothing */
  if (cut < n) {
    if (log_events_scan(lines, cut + 1, PROGRAM, &ev2) != 0) abort();
    if (ev2.count != ev.count || ev2.bad_lines != ev.bad_lines || !ev2.truncated) abort();
    for (i = 0; i < ev.count; i++)
      if (ev2.items[i].len != ev.items[i].len || ev2.items[i].invocation != ev.items[i].invocation ||
          memcmp(ev2.items[i].data, ev.items[i].data, ev.items[i].len) != 0)
        abort();
    log_events_free(&ev2);
  }
  /* with a NULL line in the middle and another program id: still sane */
  if (n > 1) {
    const char *saved = lines[n / 2];
    lines[n / 2] = NULL;
    if (log_events_scan(lines, n, "11111111111111111111111111111111", &ev2) != 0) abort();
    log_events_free(&ev2);
    lines[n / 2] = saved;
  }
  log_events_free(&ev);
  if (ev.count != 0 || ev.items != NULL) abort();
  free(lines);
  free(text);
  return 0;
}
