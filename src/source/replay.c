/* Fixture format: raw JSON scanning, recorder, store (see replay.h). */
#include "replay.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "b64.h"
#include "base58.h"
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
  /* synthesized answers (accounts.json, expected.json meta) */
  struct synth_acct *accts; /* in file order */
  size_t naccts;
  int have_accts;
  json_t *acct_index;  /* pubkey -> integer index into accts */
  uint64_t acct_slot;  /* context slot of account reads */
  int have_read_slot;  /* meta.account_read_slot was given */
  uint64_t *produced;  /* meta.produced_slots, strictly ascending */
  size_t nproduced;
  int have_produced;
};

static int synth_load(replay_store_t *s, const char *dir, char *err, size_t errsz);
static void synth_free(replay_store_t *s);

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
      store_load_file(s, dir, "ws.jsonl", 1, err, errsz) != 0 ||
      synth_load(s, dir, err, errsz) != 0) {
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
  synth_free(s);
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

/* ---- Synthesized answers ------------------------------------------------ */

#define SYNTH_API_VERSION "2.0.15"
#define SYNTH_MAX_MULTIPLE_ACCOUNTS 100 /* a node's getMultipleAccounts limit */
#define SYNTH_MAX_BLOCKS_RANGE 500000   /* a node's getBlocks range limit */
#define SYNTH_MAX_FILTERS 4             /* a node's getProgramAccounts filter limit */
#define SYNTH_MAX_MEMCMP 128            /* a node's memcmp bytes limit */

typedef struct synth_acct {
  char *pubkey;   /* base58 */
  char *owner;    /* base58 */
  char *data_b64; /* as in accounts.json (strictly validated, so canonical) */
  uint8_t *data;
  size_t data_len;
  uint64_t lamports, rent_epoch, slot;
  int executable;
} synth_acct_t;

/* Maps path read-only. Returns 0, 1 if the file does not exist, -1 with a
 * message in err. An empty file maps as len 0, *text = NULL. */
static int synth_map(const char *path, const char **text, size_t *len, char *err, size_t errsz) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  *text = NULL;
  *len = 0;
  if (fd < 0) {
    if (errno == ENOENT) return 1;
    snprintf(err, errsz, "%s: %s", path, strerror(errno));
    return -1;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errsz, "%s: not a regular file", path);
    close(fd);
    return -1;
  }
  if (st.st_size > 0) {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      snprintf(err, errsz, "%s: mmap: %s", path, strerror(errno));
      close(fd);
      return -1;
    }
    *text = p;
    *len = (size_t)st.st_size;
  }
  close(fd);
  return 0;
}

static void synth_unmap(const char *text, size_t len) {
  if (text) munmap((void *)text, len);
}

static void synth_acct_free(synth_acct_t *a) {
  free(a->pubkey);
  free(a->owner);
  free(a->data_b64);
  free(a->data);
}

/* Optional u64 member: absent keeps *out; present must be a u64. */
static int synth_opt_u64(const json_t *obj, const char *key, uint64_t *out) {
  const json_t *v = json_object_get(obj, key);
  return v ? jsonx_u64(v, out) : 0;
}

/* Fills a from one accounts.json entry. Returns 0, or -1 with *why. */
static int synth_parse_account(synth_acct_t *a, const char *key, const json_t *v,
                               const char **why) {
  uint8_t k32[32];
  const char *owner = jsonx_get_str(v, "owner");
  const char *data = jsonx_get_str(v, "data");
  const json_t *exe = json_object_get(v, "executable");
  uint64_t space;
  const char *e = NULL;
  memset(a, 0, sizeof *a);
  a->rent_epoch = UINT64_MAX;
  if (base58_decode_32(key, k32) != 0)
    e = "pubkey is not base58 of 32 bytes";
  else if (!json_is_object(v))
    e = "not an object";
  else if (jsonx_get_u64(v, "lamports", &a->lamports) != 0)
    e = "lamports is not a u64";
  else if (!owner || base58_decode_32(owner, k32) != 0)
    e = "owner is not a base58 pubkey";
  else if (!data)
    e = "data is not a string";
  else if (synth_opt_u64(v, "rentEpoch", &a->rent_epoch) != 0)
    e = "rentEpoch is not a u64";
  else if (synth_opt_u64(v, "slot", &a->slot) != 0)
    e = "slot is not a u64";
  else if (exe && !json_is_boolean(exe))
    e = "executable is not a boolean";
  else if (b64_decode(data, strlen(data), &a->data, &a->data_len) != 0)
    e = "data is not padded base64";
  else if (json_object_get(v, "space") &&
           (jsonx_get_u64(v, "space", &space) != 0 || space != a->data_len))
    e = "space is not the decoded data length";
  else if (!(a->pubkey = strdup(key)) || !(a->owner = strdup(owner)) ||
           !(a->data_b64 = strdup(data)))
    e = "out of memory";
  a->executable = exe && json_is_true(exe);
  *why = e;
  return e ? -1 : 0;
}

static int synth_load_accounts(replay_store_t *s, const char *path, char *err, size_t errsz) {
  const char *text;
  size_t len;
  char perr[200];
  const char *key, *why = NULL;
  json_t *val, *doc = NULL;
  int rc = synth_map(path, &text, &len, err, errsz);
  if (rc != 0) return rc > 0 ? 0 : -1;
  rc = -1;
  doc = jsonx_loads(text ? text : "", len, perr, sizeof perr);
  if (!doc) {
    snprintf(err, errsz, "%s: %s", path, perr);
    goto out;
  }
  if (!json_is_object(doc)) {
    snprintf(err, errsz, "%s: not a JSON object", path);
    goto out;
  }
  s->accts = calloc(json_object_size(doc) + 1, sizeof *s->accts);
  s->acct_index = json_object();
  if (!s->accts || !s->acct_index) goto oom;
  json_object_foreach(doc, key, val) {
    synth_acct_t *a = &s->accts[s->naccts];
    if (synth_parse_account(a, key, val, &why) != 0) {
      synth_acct_free(a);
      snprintf(err, errsz, "%s: account %.64s: %s", path, key, why);
      goto out;
    }
    s->naccts++;
    if (json_object_set_new(s->acct_index, key, json_integer((json_int_t)(s->naccts - 1))) != 0)
      goto oom;
    if (a->slot > s->acct_slot && !s->have_read_slot) s->acct_slot = a->slot;
  }
  s->have_accts = 1;
  rc = 0;
  goto out;
oom:
  snprintf(err, errsz, "%s: out of memory", path);
out:
  json_decref(doc);
  synth_unmap(text, len);
  return rc;
}

/* Reads only the "meta" member of expected.json (the rest may be large). */
static int synth_load_meta(replay_store_t *s, const char *path, char *err, size_t errsz) {
  const char *text;
  size_t len;
  char perr[200];
  replay_span_t m;
  json_t *meta = NULL;
  int rc = synth_map(path, &text, &len, err, errsz);
  if (rc != 0) return rc > 0 ? 0 : -1;
  rc = -1;
  int r = text ? replay_raw_member(text, len, "meta", &m) : -1;
  if (r < 0) {
    snprintf(err, errsz, "%s: not a JSON object", path);
    goto out;
  }
  if (r == 0) {
    rc = 0;
    goto out;
  }
  meta = jsonx_loads(m.ptr, m.len, perr, sizeof perr);
  if (!json_is_object(meta)) {
    snprintf(err, errsz, "%s: meta: %s", path, meta ? "not an object" : perr);
    goto out;
  }
  if (json_object_get(meta, "account_read_slot")) {
    if (jsonx_get_u64(meta, "account_read_slot", &s->acct_slot) != 0) {
      snprintf(err, errsz, "%s: meta.account_read_slot is not a u64", path);
      goto out;
    }
    s->have_read_slot = 1;
  }
  const json_t *ps = json_object_get(meta, "produced_slots");
  if (ps) {
    size_t n = json_array_size(ps);
    if (!json_is_array(ps)) {
      snprintf(err, errsz, "%s: meta.produced_slots is not an array", path);
      goto out;
    }
    s->produced = malloc((n + 1) * sizeof *s->produced);
    if (!s->produced) {
      snprintf(err, errsz, "%s: out of memory", path);
      goto out;
    }
    for (size_t i = 0; i < n; i++) {
      if (jsonx_u64(json_array_get(ps, i), &s->produced[i]) != 0 ||
          (i > 0 && s->produced[i] <= s->produced[i - 1])) {
        snprintf(err, errsz, "%s: meta.produced_slots[%zu] is not a u64 above the previous one",
                 path, i);
        goto out;
      }
    }
    s->nproduced = n;
    s->have_produced = 1;
  }
  rc = 0;
out:
  json_decref(meta);
  synth_unmap(text, len);
  return rc;
}

static int synth_load(replay_store_t *s, const char *dir, char *err, size_t errsz) {
  char path[4096];
  int k = snprintf(path, sizeof path, "%s/expected.json", dir);
  if (k < 0 || (size_t)k >= sizeof path) {
    snprintf(err, errsz, "path too long");
    return -1;
  }
  if (synth_load_meta(s, path, err, errsz) != 0) return -1;
  k = snprintf(path, sizeof path, "%s/accounts.json", dir);
  if (k < 0 || (size_t)k >= sizeof path) {
    snprintf(err, errsz, "path too long");
    return -1;
  }
  return synth_load_accounts(s, path, err, errsz);
}

static void synth_free(replay_store_t *s) {
  for (size_t i = 0; i < s->naccts; i++)
    synth_acct_free(&s->accts[i]);
  free(s->accts);
  json_decref(s->acct_index);
  free(s->produced);
}

/* ---- answer building ---- */

static void rbuf_add_u64(rbuf_t *b, uint64_t v) {
  char t[24];
  int n = snprintf(t, sizeof t, "%" PRIu64, v);
  if (n > 0 && (size_t)n < sizeof t)
    rbuf_add(b, t, (size_t)n);
  else
    b->oom = 1;
}

/* Appends an error answer. Returns 1 (the request is answered). */
static int synth_error(rbuf_t *b, long code, const char *msg) {
  char head[64];
  json_t *m = json_string(msg);
  int n = snprintf(head, sizeof head, "\"error\":{\"code\":%ld,\"message\":", code);
  if (n > 0 && (size_t)n < sizeof head) rbuf_add(b, head, (size_t)n);
  if (!m || rbuf_add_json(b, m) != 0) b->oom = 1;
  rbuf_adds(b, "}");
  json_decref(m);
  return 1;
}

static int synth_invalid(rbuf_t *b, const char *what) {
  char msg[160];
  snprintf(msg, sizeof msg, "Invalid params: %s", what);
  return synth_error(b, -32602, msg);
}

/* NULL if k is a valid pubkey, else solana's ParsePubkeyError name. */
static const char *synth_pubkey_error(const char *k) {
  uint8_t k32[32], any[64];
  if (strlen(k) > BASE58_ENCODED_32_MAX) return "WrongSize";
  if (base58_decode_32(k, k32) == 0) return NULL;
  int n = base58_decode_ref(k, any, sizeof any);
  return n >= 0 && n != 32 ? "WrongSize" : "Invalid";
}

/* Appends an error and returns 1 if the string is not a pubkey, else 0. */
static int synth_check_pubkey(rbuf_t *b, const char *k) {
  char msg[64];
  const char *e = synth_pubkey_error(k);
  if (!e) return 0;
  snprintf(msg, sizeof msg, "Invalid param: %s", e);
  return synth_error(b, -32602, msg);
}

enum { SYNTH_CFG_ACCOUNTS, SYNTH_CFG_PROGRAM, SYNTH_CFG_BLOCKS };

typedef struct {
  int with_context;
  int has_slice;
  uint64_t slice_off, slice_len;
  int has_min;
  uint64_t min_slot;
  const json_t *filters; /* borrowed; NULL = none */
} synth_cfg_t;

/* Parses the config object (NULL or null = absent). Returns 0, or 1 after
 * appending an error answer. */
static int synth_cfg(rbuf_t *b, const json_t *cfg, int kind, synth_cfg_t *c) {
  const json_t *v;
  memset(c, 0, sizeof *c);
  if (cfg && json_is_null(cfg)) cfg = NULL;
  if (cfg && !json_is_object(cfg)) return synth_invalid(b, "the config is not an object");
  v = cfg ? json_object_get(cfg, "commitment") : NULL;
  if (v && !json_is_string(v)) return synth_invalid(b, "commitment is not a string");
  if (v && kind == SYNTH_CFG_BLOCKS && strcmp(json_string_value(v), "processed") == 0)
    return synth_error(b, -32602, "Method does not support commitment below `confirmed`");
  v = cfg ? json_object_get(cfg, "minContextSlot") : NULL;
  if (v && !json_is_null(v)) {
    if (jsonx_u64(v, &c->min_slot) != 0) return synth_invalid(b, "minContextSlot is not a u64");
    c->has_min = 1;
  }
  if (kind == SYNTH_CFG_BLOCKS) return 0;
  v = cfg ? json_object_get(cfg, "encoding") : NULL;
  if (v && !json_is_string(v)) return synth_invalid(b, "encoding is not a string");
  if (!v || strcmp(json_string_value(v), "base64") != 0)
    return synth_error(b, -32602, "unsupported encoding in replay");
  v = cfg ? json_object_get(cfg, "dataSlice") : NULL;
  if (v && !json_is_null(v)) {
    if (!json_is_object(v) || jsonx_get_u64(v, "offset", &c->slice_off) != 0 ||
        jsonx_get_u64(v, "length", &c->slice_len) != 0)
      return synth_invalid(b, "dataSlice is not {offset, length}");
    c->has_slice = 1;
  }
  if (kind != SYNTH_CFG_PROGRAM) return 0;
  v = json_object_get(cfg, "withContext");
  if (v && !json_is_null(v)) {
    if (!json_is_boolean(v)) return synth_invalid(b, "withContext is not a boolean");
    c->with_context = json_is_true(v);
  }
  v = json_object_get(cfg, "filters");
  if (v && !json_is_null(v)) {
    if (!json_is_array(v)) return synth_invalid(b, "filters is not an array");
    c->filters = v;
  }
  return 0;
}

/* Appends the -32016 error and returns 1 if minContextSlot is above slot. */
static int synth_min_slot(rbuf_t *b, const synth_cfg_t *c, uint64_t slot) {
  if (!c->has_min || c->min_slot <= slot) return 0;
  rbuf_adds(b,
            "\"error\":{\"code\":-32016,\"message\":\"Minimum context slot has not been reached\","
            "\"data\":{\"contextSlot\":");
  rbuf_add_u64(b, slot);
  rbuf_adds(b, "}}");
  return 1;
}

static void synth_context(rbuf_t *b, const replay_store_t *s) {
  rbuf_adds(b, "{\"apiVersion\":\"" SYNTH_API_VERSION "\",\"slot\":");
  rbuf_add_u64(b, s->acct_slot);
  rbuf_adds(b, "}");
}

/* Appends the account object as a node encodes it (base64). */
static void synth_account(rbuf_t *b, const synth_acct_t *a, const synth_cfg_t *c) {
  rbuf_adds(b, "{\"data\":[\"");
  if (c->has_slice) {
    size_t off = c->slice_off < a->data_len ? (size_t)c->slice_off : a->data_len;
    size_t n = c->slice_len < a->data_len - off ? (size_t)c->slice_len : a->data_len - off;
    char *enc = b64_encode(a->data + off, n);
    if (enc)
      rbuf_adds(b, enc);
    else
      b->oom = 1;
    free(enc);
  } else {
    rbuf_adds(b, a->data_b64);
  }
  rbuf_adds(b, "\",\"base64\"],\"executable\":");
  rbuf_adds(b, a->executable ? "true" : "false");
  rbuf_adds(b, ",\"lamports\":");
  rbuf_add_u64(b, a->lamports);
  rbuf_adds(b, ",\"owner\":\"");
  rbuf_adds(b, a->owner);
  rbuf_adds(b, "\",\"rentEpoch\":");
  rbuf_add_u64(b, a->rent_epoch);
  rbuf_adds(b, ",\"space\":");
  rbuf_add_u64(b, (uint64_t)a->data_len);
  rbuf_adds(b, "}");
}

static const synth_acct_t *synth_find(const replay_store_t *s, const char *key) {
  const json_t *i = json_object_get(s->acct_index, key);
  return i ? &s->accts[json_integer_value(i)] : NULL;
}

static void synth_value(rbuf_t *b, const replay_store_t *s, const char *key, const synth_cfg_t *c) {
  const synth_acct_t *a = synth_find(s, key);
  if (a)
    synth_account(b, a, c);
  else
    rbuf_adds(b, "null");
}

static int synth_multiple_accounts(rbuf_t *b, const replay_store_t *s, const json_t *params) {
  const json_t *keys = json_array_get(params, 0);
  size_t np = json_array_size(params), nk = json_array_size(keys);
  synth_cfg_t c;
  if (np < 1 || np > 2 || !json_is_array(keys))
    return synth_invalid(b, "expected [[pubkey, ...], config?]");
  if (nk > SYNTH_MAX_MULTIPLE_ACCOUNTS) {
    return synth_error(b, -32602, "Too many inputs provided; max 100");
  }
  for (size_t i = 0; i < nk; i++) {
    const char *k = json_string_value(json_array_get(keys, i));
    if (!k) return synth_invalid(b, "a pubkey is not a string");
    if (synth_check_pubkey(b, k)) return 1;
  }
  if (synth_cfg(b, json_array_get(params, 1), SYNTH_CFG_ACCOUNTS, &c) ||
      synth_min_slot(b, &c, s->acct_slot))
    return 1;
  rbuf_adds(b, "\"result\":{\"context\":");
  synth_context(b, s);
  rbuf_adds(b, ",\"value\":[");
  for (size_t i = 0; i < nk; i++) {
    if (i) rbuf_adds(b, ",");
    synth_value(b, s, json_string_value(json_array_get(keys, i)), &c);
  }
  rbuf_adds(b, "]}");
  return 1;
}

static int synth_account_info(rbuf_t *b, const replay_store_t *s, const json_t *params) {
  const char *k = json_string_value(json_array_get(params, 0));
  size_t np = json_array_size(params);
  synth_cfg_t c;
  if (np < 1 || np > 2 || !k) return synth_invalid(b, "expected [pubkey, config?]");
  if (synth_check_pubkey(b, k) || synth_cfg(b, json_array_get(params, 1), SYNTH_CFG_ACCOUNTS, &c) ||
      synth_min_slot(b, &c, s->acct_slot))
    return 1;
  rbuf_adds(b, "\"result\":{\"context\":");
  synth_context(b, s);
  rbuf_adds(b, ",\"value\":");
  synth_value(b, s, k, &c);
  rbuf_adds(b, "}");
  return 1;
}

typedef struct {
  int is_size;
  uint64_t offset, size;
  uint8_t bytes[SYNTH_MAX_MEMCMP];
  size_t n;
} synth_filter_t;

/* Parses one filter. Returns 0, or 1 after appending an error answer. */
static int synth_filter(rbuf_t *b, const json_t *f, synth_filter_t *out) {
  const json_t *mc = json_object_get(f, "memcmp");
  memset(out, 0, sizeof *out);
  if (!json_is_object(f) || json_object_size(f) != 1 || (!mc && !json_object_get(f, "dataSize")))
    return synth_error(b, -32602, "unsupported filter in replay");
  if (!mc) {
    if (jsonx_get_u64(f, "dataSize", &out->size) != 0)
      return synth_invalid(b, "dataSize is not a u64");
    out->is_size = 1;
    return 0;
  }
  const char *bytes = jsonx_get_str(mc, "bytes");
  const char *enc = jsonx_get_str(mc, "encoding");
  if (!json_is_object(mc) || jsonx_get_u64(mc, "offset", &out->offset) != 0 || !bytes ||
      (json_object_get(mc, "encoding") && !enc))
    return synth_invalid(b, "memcmp is not {offset, bytes, encoding?}");
  if (!enc || strcmp(enc, "base58") == 0) {
    int n = base58_decode_ref(bytes, out->bytes, sizeof out->bytes);
    if (n < 0)
      return synth_error(b, -32602,
                         "Invalid param: memcmp bytes are not base58 of at most 128 bytes");
    out->n = (size_t)n;
  } else if (strcmp(enc, "base64") == 0) {
    if (b64_decode_into(bytes, strlen(bytes), out->bytes, sizeof out->bytes, &out->n) != 0)
      return synth_error(b, -32602,
                         "Invalid param: memcmp bytes are not base64 of at most 128 bytes");
  } else
    return synth_error(b, -32602, "unsupported filter in replay");
  return 0;
}

static int synth_filter_match(const synth_filter_t *f, const synth_acct_t *a) {
  if (f->is_size) return f->size == (uint64_t)a->data_len;
  if (f->offset > (uint64_t)a->data_len || f->n > a->data_len - (size_t)f->offset) return 0;
  return memcmp(a->data + f->offset, f->bytes, f->n) == 0;
}

static int synth_program_accounts(rbuf_t *b, const replay_store_t *s, const json_t *params) {
  const char *prog = json_string_value(json_array_get(params, 0));
  size_t np = json_array_size(params), nf, k = 0;
  synth_filter_t f[SYNTH_MAX_FILTERS];
  synth_cfg_t c;
  if (np < 1 || np > 2 || !prog) return synth_invalid(b, "expected [program, config?]");
  if (synth_check_pubkey(b, prog) || synth_cfg(b, json_array_get(params, 1), SYNTH_CFG_PROGRAM, &c))
    return 1;
  nf = json_array_size(c.filters);
  if (nf > SYNTH_MAX_FILTERS) {
    return synth_error(b, -32602, "Too many filters provided; max 4");
  }
  for (size_t i = 0; i < nf; i++)
    if (synth_filter(b, json_array_get(c.filters, i), &f[i])) return 1;
  if (synth_min_slot(b, &c, s->acct_slot)) return 1;
  rbuf_adds(b, "\"result\":");
  if (c.with_context) {
    rbuf_adds(b, "{\"context\":");
    synth_context(b, s);
    rbuf_adds(b, ",\"value\":");
  }
  rbuf_adds(b, "[");
  for (size_t i = 0; i < s->naccts; i++) {
    const synth_acct_t *a = &s->accts[i];
    size_t j = 0;
    if (strcmp(a->owner, prog) != 0) continue;
    while (j < nf && synth_filter_match(&f[j], a))
      j++;
    if (j < nf) continue;
    if (k++) rbuf_adds(b, ",");
    rbuf_adds(b, "{\"account\":");
    synth_account(b, a, &c);
    rbuf_adds(b, ",\"pubkey\":\"");
    rbuf_adds(b, a->pubkey);
    rbuf_adds(b, "\"}");
  }
  rbuf_adds(b, c.with_context ? "]}" : "]");
  return 1;
}

static int synth_blocks(rbuf_t *b, const replay_store_t *s, const json_t *params) {
  size_t np = json_array_size(params);
  const json_t *second = json_array_get(params, 1), *cfg = json_array_get(params, 2);
  uint64_t start, end = 0, last = s->nproduced ? s->produced[s->nproduced - 1] : 0;
  int has_end = 0;
  synth_cfg_t c;
  if (np < 1 || np > 3 || jsonx_u64(json_array_get(params, 0), &start) != 0)
    return synth_invalid(b, "expected [start_slot, end_slot?, config?]");
  if (second && json_is_object(second) && np == 2) {
    cfg = second;
  } else if (second && !json_is_null(second)) {
    if (jsonx_u64(second, &end) != 0) return synth_invalid(b, "end_slot is not a u64");
    has_end = 1;
  }
  if (synth_cfg(b, cfg, SYNTH_CFG_BLOCKS, &c) || synth_min_slot(b, &c, last)) return 1;
  /* as a node: the end defaults to start + the range limit, and is capped at
   * the highest slot it has; then the range is checked */
  if (!has_end)
    end = start > UINT64_MAX - SYNTH_MAX_BLOCKS_RANGE ? UINT64_MAX : start + SYNTH_MAX_BLOCKS_RANGE;
  if (end > last) end = last;
  if (s->nproduced == 0 || end < start) {
    rbuf_adds(b, "\"result\":[]");
    return 1;
  }
  if (end - start > SYNTH_MAX_BLOCKS_RANGE) {
    return synth_error(b, -32602, "Slot range too large; max 500000");
  }
  size_t lo = 0, hi = s->nproduced; /* first index with slot >= start */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->produced[mid] < start)
      lo = mid + 1;
    else
      hi = mid;
  }
  rbuf_adds(b, "\"result\":[");
  for (size_t i = lo; i < s->nproduced && s->produced[i] <= end; i++) {
    if (i > lo) rbuf_adds(b, ",");
    rbuf_add_u64(b, s->produced[i]);
  }
  rbuf_adds(b, "]");
  return 1;
}

int replay_store_synth(const replay_store_t *s, const char *method, const json_t *params,
                       char **out, size_t *out_len) {
  rbuf_t b = {0};
  if (!params)
    params = json_array(); /* absent params are [] */
  else
    json_incref((json_t *)params);
  if (!params) return -1;
  if (s->have_accts && strcmp(method, "getMultipleAccounts") == 0)
    synth_multiple_accounts(&b, s, params);
  else if (s->have_accts && strcmp(method, "getAccountInfo") == 0)
    synth_account_info(&b, s, params);
  else if (s->have_accts && strcmp(method, "getProgramAccounts") == 0)
    synth_program_accounts(&b, s, params);
  else if (s->have_produced && strcmp(method, "getBlocks") == 0)
    synth_blocks(&b, s, params);
  else {
    json_decref((json_t *)params);
    return 0;
  }
  json_decref((json_t *)params);
  rbuf_add(&b, "", 1);
  if (b.oom) {
    free(b.p);
    return -1;
  }
  *out = b.p;
  *out_len = b.len - 1;
  return 1;
}

size_t replay_store_account_count(const replay_store_t *s) {
  return s->naccts;
}
size_t replay_store_produced_slot_count(const replay_store_t *s) {
  return s->nproduced;
}
