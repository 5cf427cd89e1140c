/* Fixture store and synthesizer of the replay server (replay_store.h):
 * loads rpc.jsonl / ws.jsonl of a scenario and matches requests against
 * them (the synthesized answers are in replay_synth.c). Linked into cbi-replay, the tests and the
 * benches, never into the daemon. */
#include "replay_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jsonx.h"
#include "replay_store_priv.h"

/* Key: method, '\n', canonical params. Returns a malloc'ed string. */
static char *store_key(const char *method, const json_t *params) {
  char *canon = NULL, *key = NULL;
  if (params && !(json_is_array(params) && json_array_size(params) == 0)) {
    canon = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!canon) return NULL;
  }
  size_t ml = strlen(method), cl = canon ? strlen(canon) : 2;
  key = malloc(ml + cl + 2);
  if (key) {
    memcpy(key, method, ml);
    key[ml] = '\n';
    memcpy(key + ml + 1, canon ? canon : "[]", cl);
    key[ml + 1 + cl] = '\0';
  }
  free(canon);
  return key;
}

#define GROW(arr, n, cap)                                                   \
  do {                                                                      \
    if ((n) == (cap)) {                                                     \
      size_t nc_ = (cap) ? (cap) * 2 : 16;                                  \
      void *np_ = realloc((arr), nc_ * sizeof *(arr));                      \
      if (!np_) goto oom;                                                   \
      (arr) = np_;                                                          \
      (cap) = nc_;                                                          \
    }                                                                       \
  } while (0)

static const char *const skip_subscription[] = {"subscription", NULL};
static const char *const skip_jsonrpc_id[] = {"jsonrpc", "id", NULL};

static int store_add_rpc(replay_store_t *s, const char *line, size_t len, char *err, size_t errsz) {
  char perr[200];
  jsonraw_buf_t inner = {0};
  char *key = NULL;
  int rc = -1;
  json_t *doc = jsonx_loads(line, len, perr, sizeof perr);
  if (!doc) {
    snprintf(err, errsz, "%s", perr);
    return -1;
  }
  json_t *req = json_object_get(doc, "request");
  const char *method = req ? jsonx_get_str(req, "method") : NULL;
  json_t *params = req ? json_object_get(req, "params") : NULL;
  jsonraw_span_t resp;
  if (!method) {
    snprintf(err, errsz, "missing request.method");
    goto out;
  }
  if (!json_is_object(json_object_get(doc, "response")) ||
      jsonraw_member(line, len, "response", &resp) != 1) {
    snprintf(err, errsz, "missing response object");
    goto out;
  }
  if (!json_object_get(json_object_get(doc, "response"), "result") &&
      !json_is_object(json_object_get(json_object_get(doc, "response"), "error"))) {
    snprintf(err, errsz, "response has neither result nor error");
    goto out;
  }
  if (jsonraw_buf_add_members(&inner, resp.ptr, resp.len, skip_jsonrpc_id) != 0 || inner.oom) {
    snprintf(err, errsz, "malformed response");
    goto out;
  }
  key = store_key(method, params);
  if (!key) goto oom;
  GROW(s->resp, s->nresp, s->capresp);
  size_t ri = s->nresp++;
  s->resp[ri].ptr = inner.p;
  s->resp[ri].len = inner.len;
  inner.p = NULL;
  json_t *gi = json_object_get(s->index, key);
  rgroup_t *g;
  if (gi) {
    g = &s->groups[json_integer_value(gi)];
  } else {
    GROW(s->groups, s->ngroups, s->capgroups);
    g = &s->groups[s->ngroups];
    memset(g, 0, sizeof *g);
    if (json_object_set_new(s->index, key, json_integer((json_int_t)s->ngroups)) != 0) goto oom;
    s->ngroups++;
  }
  GROW(g->resp, g->n, g->cap);
  g->resp[g->n++] = ri;
  rc = 0;
  goto out;
oom:
  snprintf(err, errsz, "out of memory");
out:
  free(inner.p);
  free(key);
  json_decref(doc);
  return rc;
}

static int store_add_ws(replay_store_t *s, const char *line, size_t len, char *err, size_t errsz) {
  char perr[200];
  jsonraw_buf_t inner = {0};
  int rc = -1;
  int64_t at;
  jsonraw_span_t params;
  json_t *doc = jsonx_loads(line, len, perr, sizeof perr);
  if (!doc) {
    snprintf(err, errsz, "%s", perr);
    return -1;
  }
  const char *method = jsonx_get_str(doc, "method");
  if (jsonx_get_i64(doc, "at_ms", &at) != 0 || at < 0) {
    snprintf(err, errsz, "missing or negative at_ms");
    goto out;
  }
  if (!method) {
    snprintf(err, errsz, "missing method");
    goto out;
  }
  if (!json_is_object(json_object_get(doc, "params")) ||
      jsonraw_member(line, len, "params", &params) != 1) {
    snprintf(err, errsz, "missing params object");
    goto out;
  }
  if (jsonraw_buf_add_members(&inner, params.ptr, params.len, skip_subscription) != 0) {
    snprintf(err, errsz, "malformed params");
    goto out;
  }
  jsonraw_buf_add(&inner, "", 1); /* NUL */
  if (inner.oom) goto oom;
  GROW(s->notes, s->nnotes, s->capnotes);
  replay_ws_note_t *n = &s->notes[s->nnotes];
  n->at_ms = at;
  n->method = strdup(method);
  if (!n->method) goto oom;
  n->params_inner = inner.p;
  n->params_inner_len = inner.len - 1;
  inner.p = NULL;
  s->nnotes++;
  rc = 0;
  goto out;
oom:
  snprintf(err, errsz, "out of memory");
out:
  free(inner.p);
  json_decref(doc);
  return rc;
}

static int store_load_file(replay_store_t *s, const char *dir, const char *name, int ws,
                           char *err, size_t errsz) {
  char path[4096], lerr[256];
  int k = snprintf(path, sizeof path, "%s/%s", dir, name);
  if (k < 0 || (size_t)k >= sizeof path) {
    snprintf(err, errsz, "path too long");
    return -1;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT) return 0;
    snprintf(err, errsz, "%s: %s", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  long lineno = 0;
  int rc = 0;
  while ((n = getline(&line, &cap, f)) >= 0) {
    lineno++;
    size_t len = (size_t)n;
    while (len > 0 && jsonraw_is_ws(line[len - 1])) len--;
    size_t p = jsonraw_skip_ws(line, len, 0);
    if (p == len) continue;
    int r = ws ? store_add_ws(s, line, len, lerr, sizeof lerr)
               : store_add_rpc(s, line, len, lerr, sizeof lerr);
    if (r != 0) {
      snprintf(err, errsz, "%s:%ld: %s", path, lineno, lerr);
      rc = -1;
      break;
    }
  }
  free(line);
  fclose(f);
  return rc;
}

replay_store_t *replay_store_load(const char *dir, char *err, size_t errsz) {
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errsz, "%s: not a directory", dir);
    return NULL;
  }
  replay_store_t *s = calloc(1, sizeof *s);
  if (!s || !(s->index = json_object())) {
    free(s);
    snprintf(err, errsz, "out of memory");
    return NULL;
  }
  if (store_load_file(s, dir, "rpc.jsonl", 0, err, errsz) != 0 ||
      store_load_file(s, dir, "ws.jsonl", 1, err, errsz) != 0 ||
      replay_synth_load(s, dir, err, errsz) != 0) {
    replay_store_free(s);
    return NULL;
  }
  return s;
}

void replay_store_free(replay_store_t *s) {
  if (!s) return;
  json_decref(s->index);
  for (size_t i = 0; i < s->ngroups; i++) free(s->groups[i].resp);
  free(s->groups);
  for (size_t i = 0; i < s->nresp; i++) free((char *)s->resp[i].ptr);
  free(s->resp);
  for (size_t i = 0; i < s->nnotes; i++) {
    free(s->notes[i].method);
    free(s->notes[i].params_inner);
  }
  free(s->notes);
  replay_synth_free(s);
  free(s);
}

int replay_store_lookup(replay_store_t *s, const char *method, const json_t *params,
                        jsonraw_span_t *inner) {
  char *key = store_key(method, params);
  if (!key) return 0;
  json_t *gi = json_object_get(s->index, key);
  free(key);
  if (!gi) return 0;
  rgroup_t *g = &s->groups[json_integer_value(gi)];
  size_t ri = g->resp[g->next];
  if (g->next + 1 < g->n) g->next++;
  *inner = s->resp[ri];
  return 1;
}

size_t replay_store_rpc_count(const replay_store_t *s) { return s->nresp; }
size_t replay_store_ws_count(const replay_store_t *s) { return s->nnotes; }

const replay_ws_note_t *replay_store_ws_note(const replay_store_t *s, size_t i) {
  return i < s->nnotes ? &s->notes[i] : NULL;
}

