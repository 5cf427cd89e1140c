/* Metrics: a small registry rendered in the Prometheus text exposition
 * format 0.0.4.
 *
 * A registry holds families (counter, gauge, histogram). A family's label
 * names and, for each label, the complete set of its values are fixed when
 * the family is registered: every series (one per combination of values)
 * exists from then on, so a label can never grow without bound and a
 * scrape always shows every series, zeros included.
 *
 * Threads: registration and rendering take the registry's mutex; updating
 * a series (metrics_counter_add, metrics_gauge_set, metrics_histogram_observe,
 * ...) is a few relaxed C11 atomic operations and never takes a lock, so a
 * websocket or writer thread never waits for a scrape. Series handles stay
 * valid until metrics_registry_free. */
#ifndef CBI_METRICS_H
#define CBI_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS 3   /* label names per family */
#define METRICS_MAX_VALUES 64  /* values per label */
#define METRICS_MAX_SERIES 512 /* series (value combinations) per family */
#define METRICS_MAX_BUCKETS 32 /* histogram upper bounds, +Inf excluded */
#define METRICS_MAX_HOOKS 8    /* collect hooks per registry */

enum {
  METRICS_OK = 0,
  METRICS_ERR_INVALID = -1,   /* NULL argument, wrong type, bad bucket list */
  METRICS_ERR_NAME = -2,      /* metric or label name breaks the naming rules */
  METRICS_ERR_DUPLICATE = -3, /* a family of that name exists (or a label repeats) */
  METRICS_ERR_NOMEM = -4,
  METRICS_ERR_TOO_BIG = -5, /* rendering exceeds the caller's cap */
  METRICS_ERR_LIMIT = -6,   /* over METRICS_MAX_* */
};

typedef enum { METRICS_COUNTER = 0, METRICS_GAUGE = 1, METRICS_HISTOGRAM = 2 } metrics_type_t;

typedef struct metrics_registry metrics_registry_t;
typedef struct metrics_family metrics_family_t;
typedef struct metrics_counter metrics_counter_t;
typedef struct metrics_gauge metrics_gauge_t;
typedef struct metrics_histogram metrics_histogram_t;

/* What metrics_register needs. Strings are copied. */
typedef struct metrics_spec {
  const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in "_total",
                       other types must not; no reserved histogram suffix
                       (_bucket, _sum, _count) on any type */
  const char *help; /* non-empty UTF-8 text; escaped on output */
  metrics_type_t type;
  size_t nlabels;                              /* 0..METRICS_MAX_LABELS */
  const char *label_names[METRICS_MAX_LABELS]; /* [a-zA-Z_][a-zA-Z0-9_]*, not "__"
                                                  prefixed; histograms: not "le" */
  /* For each label, its values: a NULL-terminated list of 1..METRICS_MAX_VALUES
     distinct UTF-8 strings (escaped on output). */
  const char *const *label_values[METRICS_MAX_LABELS];
  const double *buckets; /* histograms: strictly ascending finite upper bounds */
  size_t nbuckets;       /* 1..METRICS_MAX_BUCKETS for histograms, else 0 */
} metrics_spec_t;

/* Returns a static English text for a METRICS_* code. */
const char *metrics_strerror(int rc);

/* New empty registry, or NULL when out of memory. */
metrics_registry_t *metrics_registry_new(void);

/* Frees the registry, its families and every series handle. No other thread
 * may use any of them any more. NULL is a no-op. */
void metrics_registry_free(metrics_registry_t *r);

/* Validates spec and adds a family whose series all start at zero. Families
 * render in registration order. On success *out (if out is not NULL) is the
 * family, owned by the registry. Returns 0 or a negative METRICS_ERR_*; on
 * failure the registry is unchanged. */
int metrics_register(metrics_registry_t *r, const metrics_spec_t *spec, metrics_family_t **out);

/* The registered family called name, or NULL. */
metrics_family_t *metrics_find(metrics_registry_t *r, const char *name);

/* Series lookup by label values: values[i] is the value of the family's
 * label i (values may be NULL for a family without labels). Returns the
 * series, or NULL when the family has another type or a value is not one
 * of the registered values. The lookup is lock-free (a few strcmp): do it
 * once at start-up and keep the handle on hot paths. */
metrics_counter_t *metrics_counter_get(metrics_family_t *f, const char *const *values);
metrics_gauge_t *metrics_gauge_get(metrics_family_t *f, const char *const *values);
metrics_histogram_t *metrics_histogram_get(metrics_family_t *f, const char *const *values);

/* Series lookup by value indexes (idx[i] indexes label i's value list, in
 * registration order; idx may be NULL without labels). NULL when an index is
 * out of range or the type differs. */
metrics_counter_t *metrics_counter_at(metrics_family_t *f, const size_t *idx);
metrics_gauge_t *metrics_gauge_at(metrics_family_t *f, const size_t *idx);
metrics_histogram_t *metrics_histogram_at(metrics_family_t *f, const size_t *idx);

/* Hot-path updates: lock-free, safe from any thread, NULL handle is a
 * no-op (so an unwired metric costs nothing and cannot crash). */
void metrics_counter_add(metrics_counter_t *c, uint64_t n);
static inline void metrics_counter_inc(metrics_counter_t *c) {
  metrics_counter_add(c, 1);
}
uint64_t metrics_counter_value(const metrics_counter_t *c);

/* Gauges hold a signed 64-bit integer (slots, Unix seconds, bytes, 0/1):
 * exact, rendered without rounding. */
void metrics_gauge_set(metrics_gauge_t *g, int64_t v);
void metrics_gauge_add(metrics_gauge_t *g, int64_t delta);
/* Raises the gauge to v if v is larger (a monotonic high-water mark such as
 * a slot that concurrent threads report out of order). */
void metrics_gauge_max(metrics_gauge_t *g, int64_t v);
int64_t metrics_gauge_value(const metrics_gauge_t *g);

/* Counts v into the first bucket whose upper bound is >= v (or +Inf) and
 * adds v to the sum. NaN is ignored. */
void metrics_histogram_observe(metrics_histogram_t *h, double v);
/* Observation count so far (the _count line). */
uint64_t metrics_histogram_count(const metrics_histogram_t *h);

/* Registers fn(user) to run at the start of every render, under the
 * registry mutex, before any value is read: the place to sample values that
 * are read rather than pushed (e.g. resident memory from /proc). fn must not
 * call back into the registry except to update series. Returns 0 or
 * METRICS_ERR_LIMIT / METRICS_ERR_INVALID. */
int metrics_on_collect(metrics_registry_t *r, void (*fn)(void *user), void *user);

/* Renders every family (HELP, TYPE, one line per series) into buf of cap
 * bytes, NUL-terminated, and stores the length (without NUL) in *len_out
 * when not NULL. Returns 0, or METRICS_ERR_TOO_BIG when the text plus NUL
 * does not fit (buf then holds a truncated prefix, NUL-terminated when cap
 * > 0, which must not be served). */
int metrics_render(metrics_registry_t *r, char *buf, size_t cap, size_t *len_out);

/* Same into a malloc'd string (caller frees) of at most max bytes (NUL
 * included). Returns NULL when out of memory or over max (*rc_out, when not
 * NULL, then holds the METRICS_ERR_* code). */
char *metrics_render_alloc(metrics_registry_t *r, size_t max, size_t *len_out, int *rc_out);

/* Content-Type of the rendered text. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
