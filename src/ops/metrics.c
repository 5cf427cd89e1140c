/* Metrics registry and Prometheus text exposition (format 0.0.4). */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct metrics_counter {
  _Atomic uint64_t v;
};

struct metrics_gauge {
  _Atomic int64_t v;
};

struct metrics_histogram {
  const metrics_family_t *fam; /* bucket bounds */
  _Atomic uint64_t *counts;    /* nbuckets + 1 (the last is +Inf), not cumulative */
  _Atomic uint64_t sum_bits;   /* a double's bits, updated by compare-and-swap */
};

struct metrics_family {
  char *name, *help;
  metrics_type_t type;
  size_t nlabels;
  char *label_names[METRICS_MAX_LABELS];
  char **values[METRICS_MAX_LABELS]; /* per label, nvalues[i] strings */
  size_t nvalues[METRICS_MAX_LABELS];
  double buckets[METRICS_MAX_BUCKETS];
  size_t nbuckets;
  size_t nseries;
  void *series; /* array of counters, gauges or histograms, row-major by label */
  struct metrics_family *next;
};

struct metrics_registry {
  pthread_mutex_t mu;
  metrics_family_t *head, *tail;
  void (*hooks[METRICS_MAX_HOOKS])(void *);
  void *hook_user[METRICS_MAX_HOOKS];
  size_t nhooks;
};

const char *metrics_strerror(int rc) {
  switch (rc) {
  case METRICS_OK: return "ok";
  case METRICS_ERR_INVALID: return "invalid argument";
  case METRICS_ERR_NAME: return "name breaks the Prometheus naming rules";
  case METRICS_ERR_DUPLICATE: return "duplicate metric or label name";
  case METRICS_ERR_NOMEM: return "out of memory";
  case METRICS_ERR_TOO_BIG: return "exposition exceeds the buffer cap";
  case METRICS_ERR_LIMIT: return "over a registry limit";
  default: return "unknown metrics error";
  }
}

metrics_registry_t *metrics_registry_new(void) {
  metrics_registry_t *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  if (pthread_mutex_init(&r->mu, NULL) != 0) {
    free(r);
    return NULL;
  }
  return r;
}

static void family_free(metrics_family_t *f) {
  if (!f) return;
  free(f->name);
  free(f->help);
  for (size_t i = 0; i < METRICS_MAX_LABELS; i++) {
    free(f->label_names[i]);
    if (f->values[i])
      for (size_t j = 0; j < f->nvalues[i]; j++)
        free(f->values[i][j]);
    free(f->values[i]);
  }
  if (f->type == METRICS_HISTOGRAM && f->series) {
    metrics_histogram_t *h = f->series;
    for (size_t i = 0; i < f->nseries; i++)
      free(h[i].counts);
  }
  free(f->series);
  free(f);
}

void metrics_registry_free(metrics_registry_t *r) {
  if (!r) return;
  metrics_family_t *f = r->head;
  while (f) {
    metrics_family_t *n = f->next;
    family_free(f);
    f = n;
  }
  pthread_mutex_destroy(&r->mu);
  free(r);
}

/* ---- validation ---- */

static int is_alpha_(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(int c) {
  return c >= '0' && c <= '9';
}

static int valid_metric_name(const char *s) {
  if (!s || !*s || !(is_alpha_(*s) || *s == ':')) return 0;
  for (const char *p = s + 1; *p; p++)
    if (!(is_alpha_(*p) || is_digit(*p) || *p == ':')) return 0;
  return 1;
}

static int valid_label_name(const char *s) {
  if (!s || !*s || !is_alpha_(*s)) return 0;
  if (s[0] == '_' && s[1] == '_') return 0; /* reserved for Prometheus */
  for (const char *p = s + 1; *p; p++)
    if (!(is_alpha_(*p) || is_digit(*p))) return 0;
  return 1;
}

/* 1 when s is well-formed UTF-8 (no overlongs, surrogates or code points
 * above U+10FFFF): the exposition format requires it of HELP and label
 * values. */
static int valid_utf8(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  while (*u) {
    unsigned c = *u, cp;
    size_t n;
    if (c < 0x80) {
      u++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF)
      n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
      n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
      n = 4, cp = c & 0x07;
    else
      return 0;
    for (size_t i = 1; i < n; i++) {
      if ((u[i] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (u[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return 0;
    u += n;
  }
  return 1;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int check_spec(const metrics_registry_t *r, const metrics_spec_t *sp, size_t *nseries) {
  if (!sp->help || !*sp->help || !valid_utf8(sp->help)) return METRICS_ERR_INVALID;
  if (sp->type != METRICS_COUNTER && sp->type != METRICS_GAUGE && sp->type != METRICS_HISTOGRAM)
    return METRICS_ERR_INVALID;
  if (!valid_metric_name(sp->name)) return METRICS_ERR_NAME;
  int total = ends_with(sp->name, "_total");
  if ((sp->type == METRICS_COUNTER) != total) return METRICS_ERR_NAME;
  if (ends_with(sp->name, "_bucket") || ends_with(sp->name, "_sum") ||
      ends_with(sp->name, "_count"))
    return METRICS_ERR_NAME;
  for (const metrics_family_t *f = r->head; f; f = f->next)
    if (strcmp(f->name, sp->name) == 0) return METRICS_ERR_DUPLICATE;
  if (sp->nlabels > METRICS_MAX_LABELS) return METRICS_ERR_LIMIT;
  size_t n = 1;
  for (size_t i = 0; i < sp->nlabels; i++) {
    if (!valid_label_name(sp->label_names[i])) return METRICS_ERR_NAME;
    if (sp->type == METRICS_HISTOGRAM && strcmp(sp->label_names[i], "le") == 0)
      return METRICS_ERR_NAME;
    for (size_t j = 0; j < i; j++)
      if (strcmp(sp->label_names[i], sp->label_names[j]) == 0) return METRICS_ERR_DUPLICATE;
    const char *const *v = sp->label_values[i];
    if (!v || !v[0]) return METRICS_ERR_INVALID;
    size_t k = 0;
    for (; v[k]; k++) {
      if (k >= METRICS_MAX_VALUES) return METRICS_ERR_LIMIT;
      if (!valid_utf8(v[k])) return METRICS_ERR_INVALID;
      for (size_t j = 0; j < k; j++)
        if (strcmp(v[j], v[k]) == 0) return METRICS_ERR_DUPLICATE;
    }
    if (k > METRICS_MAX_SERIES / n) return METRICS_ERR_LIMIT;
    n *= k;
  }
  if (sp->type == METRICS_HISTOGRAM) {
    if (sp->nbuckets == 0 || !sp->buckets) return METRICS_ERR_INVALID;
    if (sp->nbuckets > METRICS_MAX_BUCKETS) return METRICS_ERR_LIMIT;
    for (size_t i = 0; i < sp->nbuckets; i++) {
      if (!isfinite(sp->buckets[i])) return METRICS_ERR_INVALID;
      if (i > 0 && !(sp->buckets[i] > sp->buckets[i - 1])) return METRICS_ERR_INVALID;
    }
  } else if (sp->nbuckets != 0) {
    return METRICS_ERR_INVALID;
  }
  *nseries = n;
  return METRICS_OK;
}

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

int metrics_register(metrics_registry_t *r, const metrics_spec_t *sp, metrics_family_t **out) {
  if (!r || !sp) return METRICS_ERR_INVALID;
  pthread_mutex_lock(&r->mu);
  size_t nseries = 0;
  int rc = check_spec(r, sp, &nseries);
  metrics_family_t *f = NULL;
  if (rc != METRICS_OK) goto out;
  rc = METRICS_ERR_NOMEM;
  f = calloc(1, sizeof *f);
  if (!f) goto out;
  f->type = sp->type;
  f->nlabels = sp->nlabels;
  f->nseries = nseries;
  f->name = dupstr(sp->name);
  f->help = dupstr(sp->help);
  if (!f->name || !f->help) goto out;
  for (size_t i = 0; i < sp->nlabels; i++) {
    size_t k = 0;
    while (sp->label_values[i][k])
      k++;
    f->label_names[i] = dupstr(sp->label_names[i]);
    f->values[i] = calloc(k, sizeof(char *));
    if (!f->label_names[i] || !f->values[i]) goto out;
    f->nvalues[i] = k;
    for (size_t j = 0; j < k; j++)
      if (!(f->values[i][j] = dupstr(sp->label_values[i][j]))) goto out;
  }
  if (sp->type == METRICS_COUNTER) {
    metrics_counter_t *c = calloc(nseries, sizeof *c);
    if (!(f->series = c)) goto out;
    for (size_t i = 0; i < nseries; i++)
      atomic_init(&c[i].v, 0);
  } else if (sp->type == METRICS_GAUGE) {
    metrics_gauge_t *g = calloc(nseries, sizeof *g);
    if (!(f->series = g)) goto out;
    for (size_t i = 0; i < nseries; i++)
      atomic_init(&g[i].v, 0);
  } else {
    f->nbuckets = sp->nbuckets;
    memcpy(f->buckets, sp->buckets, sp->nbuckets * sizeof(double));
    metrics_histogram_t *h = calloc(nseries, sizeof *h);
    if (!(f->series = h)) goto out;
    for (size_t i = 0; i < nseries; i++) {
      h[i].fam = f;
      double zero = 0.0;
      uint64_t bits;
      memcpy(&bits, &zero, sizeof bits);
      atomic_init(&h[i].sum_bits, bits);
      h[i].counts = calloc(sp->nbuckets + 1, sizeof(_Atomic uint64_t));
      if (!h[i].counts) goto out;
      for (size_t b = 0; b <= sp->nbuckets; b++)
        atomic_init(&h[i].counts[b], 0);
    }
  }
  if (r->tail)
    r->tail->next = f;
  else
    r->head = f;
  r->tail = f;
  if (out) *out = f;
  rc = METRICS_OK;
  f = NULL;
out:
  family_free(f);
  pthread_mutex_unlock(&r->mu);
  return rc;
}

metrics_family_t *metrics_find(metrics_registry_t *r, const char *name) {
  if (!r || !name) return NULL;
  pthread_mutex_lock(&r->mu);
  metrics_family_t *f = r->head;
  while (f && strcmp(f->name, name) != 0)
    f = f->next;
  pthread_mutex_unlock(&r->mu);
  return f;
}

/* ---- series lookup ---- */

/* Row-major position of the index tuple, or -1 when out of range. */
static long series_pos(const metrics_family_t *f, const size_t *idx) {
  size_t pos = 0;
  for (size_t i = 0; i < f->nlabels; i++) {
    if (!idx || idx[i] >= f->nvalues[i]) return -1;
    pos = pos * f->nvalues[i] + idx[i];
  }
  return (long)pos;
}

static long series_pos_by_values(const metrics_family_t *f, const char *const *values) {
  size_t idx[METRICS_MAX_LABELS] = {0};
  for (size_t i = 0; i < f->nlabels; i++) {
    if (!values || !values[i]) return -1;
    size_t j = 0;
    while (j < f->nvalues[i] && strcmp(f->values[i][j], values[i]) != 0)
      j++;
    if (j == f->nvalues[i]) return -1;
    idx[i] = j;
  }
  return series_pos(f, idx);
}

#define SERIES_GETTERS(TYPE, ENUM, NAME)                                                           \
  TYPE *metrics_##NAME##_get(metrics_family_t *f, const char *const *values) {                     \
    if (!f || f->type != ENUM) return NULL;                                                        \
    long p = series_pos_by_values(f, values);                                                      \
    return p < 0 ? NULL : (TYPE *)f->series + p;                                                   \
  }                                                                                                \
  TYPE *metrics_##NAME##_at(metrics_family_t *f, const size_t *idx) {                              \
    if (!f || f->type != ENUM) return NULL;                                                        \
    long p = series_pos(f, idx);                                                                   \
    return p < 0 ? NULL : (TYPE *)f->series + p;                                                   \
  }

SERIES_GETTERS(metrics_counter_t, METRICS_COUNTER, counter)
SERIES_GETTERS(metrics_gauge_t, METRICS_GAUGE, gauge)
SERIES_GETTERS(metrics_histogram_t, METRICS_HISTOGRAM, histogram)

/* ---- hot path ---- */

void metrics_counter_add(metrics_counter_t *c, uint64_t n) {
  if (c) atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

uint64_t metrics_counter_value(const metrics_counter_t *c) {
  return c ? atomic_load_explicit(&((metrics_counter_t *)c)->v, memory_order_relaxed) : 0;
}

void metrics_gauge_set(metrics_gauge_t *g, int64_t v) {
  if (g) atomic_store_explicit(&g->v, v, memory_order_relaxed);
}

void metrics_gauge_add(metrics_gauge_t *g, int64_t delta) {
  if (g) atomic_fetch_add_explicit(&g->v, delta, memory_order_relaxed);
}

void metrics_gauge_max(metrics_gauge_t *g, int64_t v) {
  if (!g) return;
  int64_t cur = atomic_load_explicit(&g->v, memory_order_relaxed);
  while (cur < v && !atomic_compare_exchange_weak_explicit(&g->v, &cur, v, memory_order_relaxed,
                                                           memory_order_relaxed)) {
  }
}

int64_t metrics_gauge_value(const metrics_gauge_t *g) {
  return g ? atomic_load_explicit(&((metrics_gauge_t *)g)->v, memory_order_relaxed) : 0;
}

static double bits_to_double(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}

static uint64_t double_to_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b;
}

void metrics_histogram_observe(metrics_histogram_t *h, double v) {
  if (!h || isnan(v)) return;
  const metrics_family_t *f = h->fam;
  size_t b = 0;
  while (b < f->nbuckets && v > f->buckets[b])
    b++;
  atomic_fetch_add_explicit(&h->counts[b], 1, memory_order_relaxed);
  uint64_t cur = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &cur,
                                                double_to_bits(bits_to_double(cur) + v),
                                                memory_order_relaxed, memory_order_relaxed)) {
  }
}

uint64_t metrics_histogram_count(const metrics_histogram_t *h) {
  if (!h) return 0;
  uint64_t n = 0;
  for (size_t b = 0; b <= h->fam->nbuckets; b++)
    n += atomic_load_explicit(&h->counts[b], memory_order_relaxed);
  return n;
}

int metrics_on_collect(metrics_registry_t *r, void (*fn)(void *user), void *user) {
  if (!r || !fn) return METRICS_ERR_INVALID;
  pthread_mutex_lock(&r->mu);
  int rc = METRICS_ERR_LIMIT;
  if (r->nhooks < METRICS_MAX_HOOKS) {
    r->hooks[r->nhooks] = fn;
    r->hook_user[r->nhooks++] = user;
    rc = METRICS_OK;
  }
  pthread_mutex_unlock(&r->mu);
  return rc;
}

/* ---- exposition ---- */

/* An output buffer with a hard cap: either the caller's fixed buffer or a
 * growing heap buffer. */
typedef struct {
  char *p;
  size_t len, cap, max;
  int heap, overflow, nomem;
} out_t;

static void out_put(out_t *o, const char *s, size_t n) {
  if (o->overflow || o->nomem) return;
  if (n >= o->max - o->len) { /* the text and its NUL must fit within max */
    o->overflow = 1;
    if (!o->heap && o->cap > 0) {
      size_t room = o->cap - 1 - o->len;
      memcpy(o->p + o->len, s, room);
      o->len += room;
      o->p[o->len] = '\0';
    }
    return;
  }
  if (o->heap && o->len + n + 1 > o->cap) {
    size_t nc = o->cap ? o->cap : 4096;
    while (nc < o->len + n + 1)
      nc *= 2;
    if (nc > o->max) nc = o->max;
    char *np = realloc(o->p, nc);
    if (!np) {
      o->nomem = 1;
      return;
    }
    o->p = np;
    o->cap = nc;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
  o->p[o->len] = '\0';
}

static void out_str(out_t *o, const char *s) {
  out_put(o, s, strlen(s));
}

static void out_fmt(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(out_t *o, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) out_put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* HELP text escapes backslash and newline; label values also '"'. */
static void out_escaped(out_t *o, const char *s, int quote) {
  const char *run = s;
  for (const char *p = s;; p++) {
    const char *rep = NULL;
    if (*p == '\\')
      rep = "\\\\";
    else if (*p == '\n')
      rep = "\\n";
    else if (quote && *p == '"')
      rep = "\\\"";
    else if (*p != '\0')
      continue;
    out_put(o, run, (size_t)(p - run));
    if (!rep) break;
    out_str(o, rep);
    run = p + 1;
  }
}

/* Shortest decimal text that reads back as exactly d ("+Inf", "NaN" too). */
static void out_double(out_t *o, double d) {
  if (isnan(d)) return out_str(o, "NaN");
  if (isinf(d)) return out_str(o, d > 0 ? "+Inf" : "-Inf");
  char tmp[40];
  if (d == trunc(d) && fabs(d) < 1e15) { /* integers print plainly: 450000, not 4.5e+05 */
    snprintf(tmp, sizeof tmp, "%.0f", d);
    return out_str(o, tmp);
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    if (strtod(tmp, NULL) == d) break;
  }
  out_str(o, tmp);
}

/* {a="x",b="y"[,le="..."]}: labels of series pos, plus an optional le. */
static void out_labels(out_t *o, const metrics_family_t *f, size_t pos, const char *le) {
  if (f->nlabels == 0 && !le) return;
  size_t idx[METRICS_MAX_LABELS];
  for (size_t i = f->nlabels; i-- > 0;) {
    idx[i] = pos % f->nvalues[i];
    pos /= f->nvalues[i];
  }
  out_str(o, "{");
  for (size_t i = 0; i < f->nlabels; i++) {
    if (i) out_str(o, ",");
    out_str(o, f->label_names[i]);
    out_str(o, "=\"");
    out_escaped(o, f->values[i][idx[i]], 1);
    out_str(o, "\"");
  }
  if (le) {
    if (f->nlabels) out_str(o, ",");
    out_str(o, "le=\"");
    out_str(o, le);
    out_str(o, "\"");
  }
  out_str(o, "}");
}

static void render_histogram(out_t *o, const metrics_family_t *f, size_t s) {
  const metrics_histogram_t *h = (const metrics_histogram_t *)f->series + s;
  uint64_t cum = 0;
  char le[40];
  for (size_t b = 0; b <= f->nbuckets; b++) {
    cum += atomic_load_explicit(&h->counts[b], memory_order_relaxed);
    if (b < f->nbuckets) {
      out_t t = {.p = le, .cap = sizeof le, .max = sizeof le};
      le[0] = '\0';
      out_double(&t, f->buckets[b]);
    } else {
      snprintf(le, sizeof le, "+Inf");
    }
    out_str(o, f->name);
    out_str(o, "_bucket");
    out_labels(o, f, s, le);
    out_fmt(o, " %" PRIu64 "\n", cum);
  }
  out_str(o, f->name);
  out_str(o, "_sum");
  out_labels(o, f, s, NULL);
  out_str(o, " ");
  out_double(o, bits_to_double(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)));
  out_str(o, "\n");
  out_str(o, f->name);
  out_str(o, "_count");
  out_labels(o, f, s, NULL);
  out_fmt(o, " %" PRIu64 "\n", cum);
}

static void render_all(metrics_registry_t *r, out_t *o) {
  static const char *const tnames[] = {"counter", "gauge", "histogram"};
  for (size_t i = 0; i < r->nhooks; i++)
    r->hooks[i](r->hook_user[i]);
  for (const metrics_family_t *f = r->head; f; f = f->next) {
    out_str(o, "# HELP ");
    out_str(o, f->name);
    out_str(o, " ");
    out_escaped(o, f->help, 0);
    out_str(o, "\n# TYPE ");
    out_str(o, f->name);
    out_str(o, " ");
    out_str(o, tnames[f->type]);
    out_str(o, "\n");
    for (size_t s = 0; s < f->nseries; s++) {
      if (f->type == METRICS_HISTOGRAM) {
        render_histogram(o, f, s);
        continue;
      }
      out_str(o, f->name);
      out_labels(o, f, s, NULL);
      if (f->type == METRICS_COUNTER)
        out_fmt(o, " %" PRIu64 "\n",
                metrics_counter_value((const metrics_counter_t *)f->series + s));
      else
        out_fmt(o, " %" PRId64 "\n", metrics_gauge_value((const metrics_gauge_t *)f->series + s));
    }
  }
}

int metrics_render(metrics_registry_t *r, char *buf, size_t cap, size_t *len_out) {
  if (!r || (!buf && cap)) return METRICS_ERR_INVALID;
  if (cap == 0) return METRICS_ERR_TOO_BIG;
  out_t o = {.p = buf, .cap = cap, .max = cap};
  buf[0] = '\0';
  pthread_mutex_lock(&r->mu);
  render_all(r, &o);
  pthread_mutex_unlock(&r->mu);
  if (len_out) *len_out = o.len;
  return o.overflow ? METRICS_ERR_TOO_BIG : METRICS_OK;
}

char *metrics_render_alloc(metrics_registry_t *r, size_t max, size_t *len_out, int *rc_out) {
  int rc = METRICS_OK;
  out_t o = {.heap = 1, .max = max};
  if (!r)
    rc = METRICS_ERR_INVALID;
  else if (max == 0)
    rc = METRICS_ERR_TOO_BIG;
  if (rc == METRICS_OK) {
    pthread_mutex_lock(&r->mu);
    out_put(&o, "", 0); /* allocate, so an empty registry renders "" */
    if (!o.p && !o.nomem) {
      o.p = malloc(1);
      if (o.p)
        o.p[0] = '\0';
      else
        o.nomem = 1;
    }
    render_all(r, &o);
    pthread_mutex_unlock(&r->mu);
    rc = o.nomem ? METRICS_ERR_NOMEM : o.overflow ? METRICS_ERR_TOO_BIG : METRICS_OK;
  }
  if (rc != METRICS_OK) {
    free(o.p);
    o.p = NULL;
  } else if (len_out) {
    *len_out = o.len;
  }
  if (rc_out) *rc_out = rc;
  return o.p;
}
