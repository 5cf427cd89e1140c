/* Internals shared by replay_store.c (recorded traffic) and
 * replay_synth.c (synthesized answers). Not a public interface. */
#ifndef CBI_REPLAY_STORE_PRIV_H
#define CBI_REPLAY_STORE_PRIV_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonraw.h"
#include "replay_store.h"

typedef struct {
  size_t *resp; /* indexes into store->resp */
  size_t n, cap, next;
} rgroup_t;

struct replay_store {
  json_t *index; /* key -> integer group index */
  rgroup_t *groups;
  size_t ngroups, capgroups;
  jsonraw_span_t *resp; /* owned text */
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

/* Loads DIR/accounts.json and the meta of DIR/expected.json into s (each
 * optional). Returns 0, or -1 with "path: reason" in err. */
int replay_synth_load(replay_store_t *s, const char *dir, char *err, size_t errsz);

/* Frees what replay_synth_load allocated. */
void replay_synth_free(replay_store_t *s);

#endif
