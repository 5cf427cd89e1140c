/* The signature walk: getSignaturesForAddress pages, newest first, for a
 * slot window of an address's history (backfill's signatures strategy).
 *
 * A walk starts at a cursor ("before"; "" = the newest entry) and pages
 * down until a page's oldest slot is below the window, or a page is short
 * (fewer than `limit` entries: the end of the history) or empty. It keeps
 * the entries of the window (up to keep_max; past that it drops them and
 * sets overflow, so that a caller can walk again window by window) and can
 * record every page's cursor and slot bounds: enough to walk any window
 * again from its own end without holding the range's signatures. The node
 * is checked: a page ending with the cursor again (no progress) or slots
 * going up (an unknown cursor answered with the newest page) stop the walk
 * with an error. Blocking (rpc_call); the caller's thread. */
#ifndef CBI_SIGWALK_H
#define CBI_SIGWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cb_types.h"
#include "rpc.h"

typedef struct sigwalk_ent {
  uint64_t slot;
  char sig[CB_SIGNATURE_B58_MAX];
} sigwalk_ent_t;

typedef struct sigwalk_list {
  sigwalk_ent_t *v;
  size_t n, cap;
} sigwalk_list_t;

/* One page as the walk saw it. */
typedef struct sigwalk_page {
  char before[CB_SIGNATURE_B58_MAX]; /* the cursor that fetched it ("" = newest) */
  uint64_t first_slot, last_slot;    /* newest and oldest slot on the page */
  uint32_t count;                    /* entries */
} sigwalk_page_t;

typedef struct sigwalk_pages {
  sigwalk_page_t *v; /* newest page first */
  size_t n, cap;
} sigwalk_pages_t;

typedef struct sigwalk {
  rpc_client_t *rpc;            /* borrowed */
  const char *address;          /* base58 */
  const char *commitment;
  unsigned limit;               /* page size, 1..1000 */
  const volatile int *stop_flag;
  const char *start;            /* cursor to start from; NULL or "" = newest */
  uint64_t lo, hi;              /* the window, inclusive */
  size_t keep_max;              /* entries kept at most (SIZE_MAX = all) */
  sigwalk_list_t *out;          /* may be NULL */
  sigwalk_pages_t *pages;       /* may be NULL */
  bool overflow;                /* out: more than keep_max entries in the window */
} sigwalk_t;

enum { SIGWALK_OK = 0, SIGWALK_ERR = -1, SIGWALK_STOPPED = -2 };

/* Runs the walk w. Returns SIGWALK_OK, SIGWALK_STOPPED (stop flag or
 * cancelled call) or SIGWALK_ERR (RPC failure after retries, a malformed
 * answer, a node that does not page backwards, no memory) with err. */
int sigwalk_run(sigwalk_t *w, char *err, size_t errsz);

/* Sorts ascending by (slot, signature) and drops duplicate signatures;
 * returns how many were dropped. */
size_t sigwalk_normalize(sigwalk_list_t *l);

/* Frees and zeroes a list. */
void sigwalk_list_free(sigwalk_list_t *l);

#endif
