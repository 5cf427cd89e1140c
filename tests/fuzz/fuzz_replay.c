/* Fixture format (jsonraw.h, replay_store.h): the raw JSON scanners on arbitrary text never
 * read out of bounds and return spans inside the text; the store loader
 * (rpc.jsonl / ws.jsonl lines, accounts.json, expected.json meta) never
 * crashes or leaks on arbitrary files, and a loaded store answers lookups
 * and synthesized requests with well-formed JSON.
 *
 * Input: NUL-separated parts: rpc.jsonl, ws.jsonl, accounts.json,
 * expected.json, then request documents {"method": M, "params": P}. A part
 * that is absent is a missing file. The files go to a private temporary
 * directory (under /dev/shm when it exists). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonx.h"
#include "jsonraw.h"
#include "replay_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[64];
static const char *const FILES[4] = {"rpc.jsonl", "ws.jsonl", "accounts.json", "expected.json"};

static void span_inside(const char *s, size_t len, const jsonraw_span_t *sp) {
  if (sp->ptr < s || sp->ptr > s + len || sp->len > (size_t)(s + len - sp->ptr)) abort();
}

static void fuzz_raw(const char *s, size_t len) {
  jsonraw_iter_t it;
  jsonraw_span_t k, v;
  if (jsonraw_iter_init(&it, s, len) == 0) {
    int r, guard = 0;
    while ((r = jsonraw_iter_next(&it, &k, &v)) == 1) {
      span_inside(s, len, &v);
      if (k.ptr) span_inside(s, len, &k);
      if (++guard > (int)len + 1) abort(); /* every member consumes input */
      /* nested values iterate too */
      jsonraw_iter_t in;
      jsonraw_span_t k2, v2;
      if (jsonraw_iter_init(&in, v.ptr, v.len) == 0)
        while (jsonraw_iter_next(&in, &k2, &v2) == 1) span_inside(v.ptr, v.len, &v2);
    }
    if (r != 0 && r != -1) abort();
  }
  if (jsonraw_member(s, len, "response", &v) == 1) span_inside(s, len, &v);
  char *out = malloc(len + 1);
  if (!out) abort();
  size_t n = jsonraw_minify(s, len, out);
  if (n > len) abort();
  free(out);
}

/* The answer must be the members of a JSON object. */
static void check_members(const char *inner, size_t len) {
  char *doc = malloc(len + 3);
  char err[160];
  if (!doc) abort();
  doc[0] = '{';
  memcpy(doc + 1, inner, len);
  doc[len + 1] = '}';
  doc[len + 2] = '\0';
  json_t *j = jsonx_loads(doc, len + 2, err, sizeof err);
  if (!json_is_object(j)) abort();
  json_decref(j);
  free(doc);
}

static void write_part(const char *name, const uint8_t *p, size_t n, int present) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  if (!present) {
    unlink(path);
    return;
  }
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (n && fwrite(p, 1, n, f) != n) abort();
  fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_dir[0]) {
    struct stat st;
    snprintf(g_dir, sizeof g_dir, "%s/cbi-fuzz-replay-XXXXXX",
             stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp");
    if (!mkdtemp(g_dir)) abort();
  }
  fuzz_raw((const char *)data, size);

  const uint8_t *part[64];
  size_t plen[64], np = 0, start = 0;
  for (size_t i = 0; i <= size && np < 64; i++)
    if (i == size || data[i] == 0) {
      part[np] = data + start;
      plen[np] = i - start;
      np++;
      start = i + 1;
    }
  for (size_t i = 0; i < 4; i++) write_part(FILES[i], part[i < np ? i : 0], i < np ? plen[i] : 0, i < np);

  char err[512];
  replay_store_t *s = replay_store_load(g_dir, err, sizeof err);
  if (!s) {
    if (!memchr(err, '\0', sizeof err)) abort();
    return 0;
  }
  for (size_t i = 0; i < replay_store_ws_count(s); i++) {
    const replay_ws_note_t *n = replay_store_ws_note(s, i);
    if (!n || !n->method || n->at_ms < 0) abort();
    check_members(n->params_inner, n->params_inner_len);
  }
  if (replay_store_ws_note(s, replay_store_ws_count(s)) != NULL) abort();

  for (size_t i = 4; i < np; i++) {
    json_t *req = jsonx_loads((const char *)part[i], plen[i], err, sizeof err);
    const char *method = jsonx_get_str(req, "method");
    if (method) {
      const json_t *params = json_object_get(req, "params");
      jsonraw_span_t inner;
      if (replay_store_lookup(s, method, params, &inner) == 1) check_members(inner.ptr, inner.len);
      char *out = NULL;
      size_t out_len = 0;
      int r = replay_store_synth(s, method, params, &out, &out_len);
      if (r == 1) {
        if (!out || strlen(out) != out_len) abort();
        check_members(out, out_len);
        free(out);
      } else if (r != 0 && r != -1) {
        abort();
      }
    }
    json_decref(req);
  }
  replay_store_free(s);
  return 0;
}
