/* sink_admin: the operator's reads and deletes on the indexer's own
 * bookkeeping (dead letters, checkpoints, row counts), over a sink's
 * connection. Parameterised SQL only; nothing here touches the batch. */
#ifndef CBI_SINK_ADMIN_H
#define CBI_SINK_ADMIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sink.h"

/* One dead_letters row. Strings and raw are borrowed for the callback. */
typedef struct sink_dead_letter {
  int64_t id;
  const char *kind;
  const char *key;    /* may be NULL */
  uint64_t slot;      /* 0 when none */
  const char *reason;
  const uint8_t *raw; /* NULL unless asked for */
  size_t rawlen;
  long attempts;
  const char *first_seen, *last_seen; /* ISO 8601 text */
} sink_dead_letter_t;

/* Returns nonzero to stop the walk. */
typedef int (*sink_dead_letter_fn)(void *user, const sink_dead_letter_t *d);

/* Calls fn for every dead letter of kind (NULL = all kinds) or the one
 * with id (id > 0), oldest first; with_raw: also the raw bytes. Returns
 * the number of rows visited (>= 0) or a negative SINK_ERR_*. */
long sink_admin_dead_letters(sink_t *s, const char *kind, int64_t id, int with_raw,
                             sink_dead_letter_fn fn, void *user);

/* Deletes the dead letters whose ids are listed. Returns the number
 * deleted or a negative SINK_ERR_*. */
long sink_admin_dead_letters_delete(sink_t *s, const int64_t *ids, size_t n);

/* Deletes every dead letter last seen before the timestamp text `before`
 * (anything PostgreSQL's timestamptz accepts). Returns the number deleted
 * or a negative SINK_ERR_* (SINK_ERR_DB for a bad timestamp). */
long sink_admin_dead_letters_purge(sink_t *s, const char *before);

/* The database side of `status` as a new JSON object:
 *   {"checkpoints":[{"stream":S,"slot":N,"updated_at":T},...],
 *    "last_commit":T|null, "dead_letters":{"<kind>":N,...},
 *    "rows":{"<table>":N,...}}
 * (*out owned by the caller). SINK_OK or a negative SINK_ERR_*. */
int sink_admin_status(sink_t *s, json_t **out);

#endif
