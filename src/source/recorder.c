/* Recorder: appends RPC and websocket traffic to rpc.jsonl / ws.jsonl in
 * the fixture format (recorder.h, fixtures/README.md). */
#include "recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jsonraw.h"
#include "log.h"
#include "progress.h"

struct recorder {
  char *dir;
  int fd_rpc, fd_ws;
  pthread_mutex_t mu;
  int64_t t0_ms; /* -1 = unset */
  int io_logged;
};

recorder_t *recorder_open(const char *dir, char *err, size_t errsz) {
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
  recorder_t *r = calloc(1, sizeof *r);
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

void recorder_close(recorder_t *r) {
  if (!r) return;
  if (r->fd_rpc >= 0) close(r->fd_rpc);
  if (r->fd_ws >= 0) close(r->fd_ws);
  pthread_mutex_destroy(&r->mu);
  free(r->dir);
  free(r);
}

/* Writes one line to dir/name (opened on first use). Called with mu held. */
static int rec_write(recorder_t *r, int *fd, const char *name, const char *p, size_t n) {
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

int recorder_rpc(recorder_t *r, const char *method, const json_t *params,
                        const char *kind, const char *raw, size_t raw_len) {
  jsonraw_buf_t b = {0};
  int rc = -1;
  json_t *m = json_string(method);
  jsonraw_buf_adds(&b, "{\"request\":{\"method\":");
  if (!m || jsonraw_buf_add_json(&b, m) != 0) goto out;
  if (params) {
    jsonraw_buf_adds(&b, ",\"params\":");
    if (jsonraw_buf_add_json(&b, params) != 0) goto out;
  }
  jsonraw_buf_adds(&b, "},\"response\":{\"");
  jsonraw_buf_adds(&b, kind);
  jsonraw_buf_adds(&b, "\":");
  jsonraw_buf_add_min(&b, raw, raw_len);
  jsonraw_buf_adds(&b, "}}\n");
  if (b.oom) goto out;
  pthread_mutex_lock(&r->mu);
  rc = rec_write(r, &r->fd_rpc, "rpc.jsonl", b.p, b.len);
  pthread_mutex_unlock(&r->mu);
out:
  json_decref(m);
  free(b.p);
  return rc;
}

void recorder_ws_start(recorder_t *r) {
  pthread_mutex_lock(&r->mu);
  r->t0_ms = progress_now_ms();
  pthread_mutex_unlock(&r->mu);
}

/* Resolves at_ms < 0 to now - t0 (setting t0 on first use). mu held. */
static long rec_at(recorder_t *r, long at_ms) {
  if (at_ms >= 0) return at_ms;
  int64_t now = progress_now_ms();
  if (r->t0_ms < 0) r->t0_ms = now;
  return (long)(now - r->t0_ms);
}

static int rec_ws_line(recorder_t *r, long at_ms, jsonraw_buf_t *tail) {
  char head[48];
  int rc;
  pthread_mutex_lock(&r->mu);
  int k = snprintf(head, sizeof head, "{\"at_ms\":%ld,", rec_at(r, at_ms));
  jsonraw_buf_t b = {0};
  if (k > 0 && (size_t)k < sizeof head) jsonraw_buf_add(&b, head, (size_t)k);
  jsonraw_buf_add(&b, tail->p, tail->len);
  rc = (b.oom || tail->oom) ? -1 : rec_write(r, &r->fd_ws, "ws.jsonl", b.p, b.len);
  pthread_mutex_unlock(&r->mu);
  free(b.p);
  return rc;
}

static const char *const skip_subscription[] = {"subscription", NULL};

int recorder_ws_raw(recorder_t *r, long at_ms, const char *msg, size_t len) {
  jsonraw_span_t method, params, id;
  jsonraw_buf_t t = {0};
  int rc = -1;
  if (jsonraw_member(msg, len, "method", &method) != 1 ||
      jsonraw_member(msg, len, "params", &params) != 1)
    return 1;
  if (jsonraw_member(msg, len, "id", &id) == 1) return 1;
  if (method.len < 2 || method.ptr[0] != '"') return 1;
  jsonraw_buf_adds(&t, "\"method\":");
  jsonraw_buf_add(&t, method.ptr, method.len);
  jsonraw_buf_adds(&t, ",\"params\":{");
  if (jsonraw_buf_add_members(&t, params.ptr, params.len, skip_subscription) != 0) goto out;
  jsonraw_buf_adds(&t, "}}\n");
  rc = rec_ws_line(r, at_ms, &t);
out:
  free(t.p);
  return rc;
}

int recorder_ws(recorder_t *r, long at_ms, const char *method, const json_t *params) {
  jsonraw_buf_t t = {0};
  int rc = -1;
  json_t *m = json_string(method);
  json_t *p = json_is_object(params) ? json_copy((json_t *)params) : json_object();
  if (!m || !p) goto out;
  json_object_del(p, "subscription");
  jsonraw_buf_adds(&t, "\"method\":");
  if (jsonraw_buf_add_json(&t, m) != 0) goto out;
  jsonraw_buf_adds(&t, ",\"params\":");
  if (jsonraw_buf_add_json(&t, p) != 0) goto out;
  jsonraw_buf_adds(&t, "}\n");
  rc = rec_ws_line(r, at_ms, &t);
out:
  json_decref(m);
  json_decref(p);
  free(t.p);
  return rc;
}

int recorder_record_ws(const char *dir, long at_ms, const char *method, json_t *params) {
  char err[256];
  recorder_t *r = recorder_open(dir, err, sizeof err);
  if (!r) {
    log_error("record", "%s", err);
    return -1;
  }
  int rc = recorder_ws(r, at_ms, method, params);
  recorder_close(r);
  return rc;
}

