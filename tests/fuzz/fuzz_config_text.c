/* Operator-supplied text that reaches parsers and log lines: URL and
 * libpq conninfo redaction and the websocket URL parser. Nothing crashes
 * or overflows; redaction output is a NUL-terminated, bounded string that
 * never contains the password libpq (PQconninfoParse) or libcurl
 * (curl_url) finds in the same text.
 *
 * Input: one string (truncated at the first NUL byte). */
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ws_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Occurrences of needle in hay. */
static size_t count(const char *hay, const char *needle) {
  size_t n = 0, nl = strlen(needle);
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) n++;
  (void)nl;
  return n;
}

/* A secret worth checking: long enough not to match by chance, present
 * once in the input, and not something the masks print themselves. */
static int checkable(const char *secret, const char *input) {
  return secret && strlen(secret) >= 6 && count(input, secret) == 1 &&
         !strstr("password=***", secret) && !strchr(secret, '*');
}

static void fuzz_conninfo(const char *s) {
  char out[256], big[4096];
  log_redact_conninfo(s, out, sizeof out);
  if (!memchr(out, '\0', sizeof out)) abort();
  log_redact_conninfo(s, big, sizeof big);
  if (!memchr(big, '\0', sizeof big)) abort();
  char small[1];
  log_redact_conninfo(s, small, sizeof small);
  if (small[0] != '\0') abort();

  char *perr = NULL;
  PQconninfoOption *opts = PQconninfoParse(s, &perr);
  if (opts) {
    for (PQconninfoOption *o = opts; o->keyword; o++)
      if (strcmp(o->keyword, "password") == 0 && checkable(o->val, s) && strstr(big, o->val))
        abort(); /* the password reached the redacted text */
    PQconninfoFree(opts);
  }
  PQfreemem(perr);
}

static void fuzz_url(const char *s) {
  char out[256], big[4096];
  log_redact_url(s, out, sizeof out);
  if (!memchr(out, '\0', sizeof out)) abort();
  log_redact_url(s, big, sizeof big);
  if (!memchr(big, '\0', sizeof big)) abort();
  char small[1] = {'x'};
  log_redact_url(s, small, sizeof small);
  if (small[0] != '\0') abort();

  CURLU *u = curl_url();
  if (!u) abort();
  /* only schemes libcurl can fetch (http, https, ws, wss...): what the RPC and
   * websocket clients would actually use */
  if (curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK) {
    char *pw = NULL;
    if (curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) == CURLUE_OK && checkable(pw, s) &&
        strstr(big, pw))
      abort();
    curl_free(pw);
  }
  curl_url_cleanup(u);
}

static void fuzz_ws_url(const char *s) {
  int tls = -1, port = -1;
  char host[256], path[1024];
  if (ws_client_parse_url(s, &tls, host, sizeof host, &port, path, sizeof path) == 0) {
    if (tls != 0 && tls != 1) abort();
    if (port < 1 || port > 65535) abort();
    if (!memchr(host, '\0', sizeof host) || host[0] == '\0') abort();
    if (!memchr(path, '\0', sizeof path) || path[0] != '/') abort();
    if (strchr(host, '@')) abort();
  }
  /* tiny buffers must be refused, never overflowed */
  char h1[1], p1[1];
  (void)ws_client_parse_url(s, &tls, h1, sizeof h1, &port, p1, sizeof p1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  fuzz_conninfo(s);
  fuzz_url(s);
  fuzz_ws_url(s);
  free(s);
  return 0;
}
