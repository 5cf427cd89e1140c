/* Fixture format: raw JSON scanning, recorder, store (see replay.h). */
#include "replay.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jsonx.h"
#include "log.h"

/* ---- Raw JSON scanning ------------------------------------------------ */

static int raw_is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static size_t raw_skip_ws(const char *s, size_t len, size_t pos) {
  while (pos < len && raw_is_ws(s[pos])) pos++;
  return pos;
}

/* pos at '"'; returns the position after the closing quote, or len + 1 if
 * unterminated. */
static size_t raw_skip_string(const char *s, size_t len, size_t pos) {
  pos++;
  while (pos < len) {
    if (s[pos] == '\\') {
      pos += 2;
      continue;
    }
    if (s[pos] == '"') return pos + 1;
    pos++;
  }
  return len + 1;
}

/* Skips one value starting at pos (no leading whitespace). Returns the end
 * position, or len + 1 if malformed. */
static size_t raw_skip_value(const char *s, size_t len, size_t pos) {
  if (pos >= len) return len + 1;
  char c = s[pos];
  if (c == '"') return raw_skip_string(s, len, pos);
  if (c == '{' || c == '[') {
    size_t depth = 0;
    while (pos < len) {
      c = s[pos];
      if (c == '"') {
        pos = raw_skip_string(s, len, pos);
        if (pos > len) return len + 1;
        continue;
      }
      if (c == '{' || c == '[') depth++;
      else if (c == '}' || c == ']') {
        if (--depth == 0) return pos + 1;
      }
      pos++;
    }
    return len + 1;
  }
  if (c == '}' || c == ']' || c == ',' || c == ':') return len + 1;
  size_t start = pos;
  while (pos < len && !raw_is_ws(s[pos]) && s[pos] != ',' && s[pos] != '}' && s[pos] != ']' &&
         s[pos] != ':')
    pos++;
  return pos > start ? pos : len + 1;
}

int replay_raw_iter_init(replay_raw_iter_t *it, const char *s, size_t len) {
  size_t pos = raw_skip_ws(s, len, 0);
  if (pos >= len || (s[pos] != '{' && s[pos] != '[')) return -1;
  it->s = s;
  it->len = len;
  it->close = s[pos] == '{' ? '}' : ']';
  it->pos = pos + 1;
  it->count = 0;
  return 0;
}

int replay_raw_iter_next(replay_raw_iter_t *it, replay_span_t *key, replay_span_t *val) {
  const char *s = it->s;
  size_t len = it->len;
  size_t pos = raw_skip_ws(s, len, it->pos);
  if (pos >= len) return -1;
  if (s[pos] == it->close) {
    it->pos = pos;
    return 0;
  }
  if (it->count > 0) {
    if (s[pos] != ',') return -1;
    pos = raw_skip_ws(s, len, pos + 1);
    if (pos >= len) return -1;
  }
  if (key) {
    key->ptr = NULL;
    key->len = 0;
  }
  if (it->close == '}') {
    if (s[pos] != '"') return -1;
    size_t kend = raw_skip_string(s, len, pos);
    if (kend > len) return -1;
    if (key) {
      key->ptr = s + pos + 1;
      key->len = kend - pos - 2;
    }
    pos = raw_skip_ws(s, len, kend);
    if (pos >= len || s[pos] != ':') return -1;
    pos = raw_skip_ws(s, len, pos + 1);
  }
  size_t vend = raw_skip_value(s, len, pos);
  if (vend > len) return -1;
  val->ptr = s + pos;
  val->len = vend - pos;
  it->pos = vend;
  it->count++;
  return 1;
}

int replay_raw_member(const char *s, size_t len, const char *key, replay_span_t *val) {
  replay_raw_iter_t it;
  replay_span_t k, v;
  size_t klen = strlen(key);
  if (replay_raw_iter_init(&it, s, len) != 0 || it.close != '}') return -1;
  for (;;) {
    int r = replay_raw_iter_next(&it, &k, &v);
    if (r <= 0) return r;
    if (k.len == klen && memcmp(k.ptr, key, klen) == 0) {
      *val = v;
      return 1;
    }
  }
}

size_t replay_raw_minify(const char *s, size_t len, char *out) {
  size_t o = 0, i = 0;
  while (i < len) {
    char c = s[i];
    if (c == '"') {
      out[o++] = s[i++];
      while (i < len && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < len) out[o++] = s[i++];
        out[o++] = s[i++];
      }
      if (i < len) out[o++] = s[i++];
      continue;
    }
    if (!raw_is_ws(c)) out[o++] = c;
    i++;
  }
  return o;
}

/* ---- Growable buffer --------------------------------------------------- */

typedef struct {
  char *p;
  size_t len, cap;
  int oom;
} rbuf_t;

static void rbuf_add(rbuf_t *b, const char *s, size_t n) {
  if (b->oom) return;
  if (n > b->cap - b->len) {
    size_t cap = b->cap ? b->cap : 256;
    while (n > cap - b->len) {
      if (cap > SIZE_MAX / 2) {
        b->oom = 1;
        return;
      }
      cap *= 2;
    }
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void rbuf_adds(rbuf_t *b, const char *s) { rbuf_add(b, s, strlen(s)); }

static void rbuf_add_min(rbuf_t *b, const char *s, size_t n) {
  /* reserve n, then minify in place */
  size_t at = b->len;
  rbuf_add(b, s, n);
  if (b->oom) return;
  b->len = at + replay_raw_minify(s, n, b->p + at);
}

static int rbuf_add_json(rbuf_t *b, const json_t *v) {
  char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!d) return -1;
  rbuf_adds(b, d);
  free(d);
  return 0;
}

/* Appends the members of the raw object at s, except the listed keys,
 * minified, comma-separated, without braces. Returns 0 or -1. */
static int rbuf_add_members(rbuf_t *b, const char *s, size_t len, const char *const *skip) {
  replay_raw_iter_t it;
  replay_span_t k, v;
  int n = 0;
  if (replay_raw_iter_init(&it, s, len) != 0 || it.close != '}') return -1;
  for (;;) {
    int r = replay_raw_iter_next(&it, &k, &v);
    if (r < 0) return -1;
    if (r == 0) return 0;
    int skipped = 0;
    for (const char *const *q = skip; q && *q; q++)
      if (k.len == strlen(*q) && memcmp(k.ptr, *q, k.len) == 0) skipped = 1;
    if (skipped) continue;
    if (n++) rbuf_add(b, ",", 1);
    rbuf_add(b, "\"", 1);
    rbuf_add(b, k.ptr, k.len);
    rbuf_add(b, "\":", 2);
    rbuf_add_min(b, v.ptr, v.len);
  }
}

/* ---- Recorder ---------------------------------------------------------- */

struct replay_recorder {
  char *dir;
  int fd_rpc, fd_ws;
  pthread_mutex_t mu;
  int64_t t0_ms; /* -1 = unset */
  int io_logged;
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

replay_recorder_t *replay_recorder_open(const char *dir, char *err, size_t errsz) {
  struct stat st;
  if (!dir || !*dir) {
    snprintf(err, errsz, "record dir is empty");
    return NULL;
  }
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    snprintf(err, errsz, "cannot create record dir %s: %s", dir, strerror(errno));
    return NULL;
  }
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK) != 0) {
    snprintf(err, errsz, "record dir %s is not a writable directory", dir);
    return NULL;
  }
  replay_recorder_t *r = calloc(1, sizeof *r);
  if (!r || !(r->dir = strdup(dir))) {
    free(r);
    snprintf(err, errsz, "out of memory");
    return NULL;
  }
  r->fd_rpc = r->fd_ws = -1;
  r->t0_ms = -1;
  pthread_mutex_init(&r->mu, NULL);
  return r;
}

void replay_recorder_close(replay_recorder_t *r) {
  if (!r) return;
  if (r->fd_rpc >= 0) close(r->fd_rpc);
  if (r->fd_ws >= 0) close(r->fd_ws);
  pthread_mutex_destroy(&r->mu);
  free(r->dir);
  free(r);
}

/* Writes one line to dir/name (opened on first use). Called with mu held. */
static int rec_write(replay_recorder_t *r, int *fd, const char *name, const char *p, size_t n) {
  if (*fd < 0) {
    char path[4096];
    int k = snprintf(path, sizeof path, "%s/%s", r->dir, name);
    if (k < 0 || (size_t)k >= sizeof path) return -1;
    *fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (*fd < 0) {
      if (!r->io_logged++) log_error("record", "cannot open %s: %s", path, strerror(errno));
      return -1;
    }
  }
  while (n > 0) {
    ssize_t w = write(*fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (!r->io_logged++) log_error("record", "write %s: %s", name, strerror(errno));
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int replay_recorder_rpc(replay_recorder_t *r, const char *method, const json_t *params,
                        const char *kind, const char *raw, size_t raw_len) {
  rbuf_t b = {0};
  int rc = -1;
  json_t *m = json_string(method);
  rbuf_adds(&b, "{\"request\":{\"method\":");
  if (!m || rbuf_add_json(&b, m) != 0) goto out;
  if (params) {
    rbuf_adds(&b, ",\"params\":");
    if (rbuf_add_json(&b, params) != 0) goto out;
  }
  rbuf_adds(&b, "},\"response\":{\"");
  rbuf_adds(&b, kind);
  rbuf_adds(&b, "\":");
  rbuf_add_min(&b, raw, raw_len);
  rbuf_adds(&b, "}}\n");
  if (b.oom) goto out;
  pthread_mutex_lock(&r->mu);
  rc = rec_write(r, &r->fd_rpc, "rpc.jsonl", b.p, b.len);
  pthread_mutex_unlock(&r->mu);
out:
  json_decref(m);
  free(b.p);
  return rc;
}

void replay_recorder_ws_start(replay_recorder_t *r) {
  pthread_mutex_lock(&r->mu);
  r->t0_ms = mono_ms();
  pthread_mutex_unlock(&r->mu);
}

/* Resolves at_ms < 0 to now - t0 (setting t0 on first use). mu held. */
static long rec_at(replay_recorder_t *r, long at_ms) {
  if (at_ms >= 0) return at_ms;
  int64_t now = mono_ms();
  if (r->t0_ms < 0) r->t0_ms = now;
  return (long)(now - r->t0_ms);
}

static int rec_ws_line(replay_recorder_t *r, long at_ms, rbuf_t *tail) {
  char head[48];
  int rc;
  pthread_mutex_lock(&r->mu);
  int k = snprintf(head, sizeof head, "{\"at_ms\":%ld,", rec_at(r, at_ms));
  rbuf_t b = {0};
  if (k > 0 && (size_t)k < sizeof head) rbuf_add(&b, head, (size_t)k);
  rbuf_add(&b, tail->p, tail->len);
  rc = (b.oom || tail->oom) ? -1 : rec_write(r, &r->fd_ws, "ws.jsonl", b.p, b.len);
  pthread_mutex_unlock(&r->mu);
  free(b.p);
  return rc;
}

static const char *const skip_subscription[] = {"subscription", NULL};

int replay_recorder_ws_raw(replay_recorder_t *r, long at_ms, const char *msg, size_t len) {
  replay_span_t method, params, id;
  rbuf_t t = {0};
  int rc = -1;
  if (replay_raw_member(msg, len, "method", &method) != 1 ||
      replay_raw_member(msg, len, "params", &params) != 1)
    return 1;
  if (replay_raw_member(msg, len, "id", &id) == 1) return 1;
  if (method.len < 2 || method.ptr[0] != '"') return 1;
  rbuf_adds(&t, "\"method\":");
  rbuf_add(&t, method.ptr, method.len);
  rbuf_adds(&t, ",\"params\":{");
  if (rbuf_add_members(&t, params.ptr, params.len, skip_subscription) != 0) goto out;
  rbuf_adds(&t, "}}\n");
  rc = rec_ws_line(r, at_ms, &t);
out:
  free(t.p);
  return rc;
}

int replay_recorder_ws(replay_recorder_t *r, long at_ms, const char *method, const json_t *params) {
  rbuf_t t = {0};
  int rc = -1;
  json_t *m = json_string(method);
  json_t *p = json_is_object(params) ? json_copy((json_t *)params) : json_object();
  if (!m || !p) goto out;
  json_object_del(p, "subscription");
  rbuf_adds(&t, "\"method\":");
  if (rbuf_add_json(&t, m) != 0) goto out;
  rbuf_adds(&t, ",\"params\":");
  if (rbuf_add_json(&t, p) != 0) goto out;
  rbuf_adds(&t, "}\n");
  rc = rec_ws_line(r, at_ms, &t);
out:
  json_decref(m);
  json_decref(p);
  free(t.p);
  return rc;
}

int replay_record_ws(const char *dir, long at_ms, const char *method, json_t *params) {
  char err[256];
  replay_recorder_t *r = replay_recorder_open(dir, err, sizeof err);
  if (!r) {
    log_error("record", "%s", err);
    return -1;
  }
  int rc = replay_recorder_ws(r, at_ms, method, params);
  replay_recorder_close(r);
  return rc;
}

/* ---- Store ------------------------------------------------------------- */

typedef struct {
  size_t *resp; /* indexes into store->resp */
  size_t n, cap, next;
} rgroup_t;

struct replay_store {
  json_t *index; /* key -> integer group index */
  rgroup_t *groups;
  size_t ngroups, capgroups;
  replay_span_t *resp; /* owned text */
  size_t nresp, capresp;
  replay_ws_note_t *notes;
  size_t nnotes, capnotes;
};

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

static const char *const skip_jsonrpc_id[] = {"jsonrpc", "id", NULL};

static int store_add_rpc(replay_store_t *s, const char *line, size_t len, char *err, size_t errsz) {
  char perr[200];
  rbuf_t inner = {0};
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
  replay_span_t resp;
  if (!method) {
    snprintf(err, errsz, "missing request.method");
    goto out;
  }
  if (!json_is_object(json_object_get(doc, "response")) ||
      replay_raw_member(line, len, "response", &resp) != 1) {
    snprintf(err, errsz, "missing response object");
    goto out;
  }
  if (!json_object_get(json_object_get(doc, "response"), "result") &&
      !json_is_object(json_object_get(json_object_get(doc, "response"), "error"))) {
    snprintf(err, errsz, "response has neither result nor error");
    goto out;
  }
  if (rbuf_add_members(&inner, resp.ptr, resp.len, skip_jsonrpc_id) != 0 || inner.oom) {
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
  rbuf_t inner = {0};
  int rc = -1;
  int64_t at;
  replay_span_t params;
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
      replay_raw_member(line, len, "params", &params) != 1) {
    snprintf(err, errsz, "missing params object");
    goto out;
  }
  if (rbuf_add_members(&inner, params.ptr, params.len, skip_subscription) != 0) {
    snprintf(err, errsz, "malformed params");
    goto out;
  }
  rbuf_add(&inner, "", 1); /* NUL */
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
    while (len > 0 && raw_is_ws(line[len - 1])) len--;
    size_t p = raw_skip_ws(line, len, 0);
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
      store_load_file(s, dir, "ws.jsonl", 1, err, errsz) != 0) {
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
  free(s);
}

int replay_store_lookup(replay_store_t *s, const char *method, const json_t *params,
                        replay_span_t *inner) {
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
