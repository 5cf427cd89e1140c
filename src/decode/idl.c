/* Anchor IDL loading and compilation into the layout table of idl_layout.h.
 *
 * Both IDL formats are accepted:
 *  - 0.30+: "address", "metadata.name", explicit "discriminator" arrays of
 *    any length, accounts/events naming a type of the "types" section,
 *    "pubkey", {"defined": {"name": N, "generics": [...]}}, {"generic": T},
 *    "serialization": "bytemuck" | "bytemuckunsafe" with "repr".
 *  - legacy: "name", type definitions inline in "accounts" and events
 *    ("fields"), "publicKey", {"defined": "Name"}, camelCase instruction
 *    names, discriminators computed with SHA-256.
 *
 * This file: loading (text, embedded), names, lookups and the public
 * accessors. No file or socket I/O: callers read files. The compiler itself: idl_defs.c (accounts, instructions,
 * events, the driver) and idl_types.c (type layouts), sharing idl_priv.h.
 * The engine is generic: nothing here knows any particular program. */
#include "idl.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"
#include "idl_priv.h"


/* ---- names ------------------------------------------------------------ */

static int is_upper(char ch) { return ch >= 'A' && ch <= 'Z'; }
static int is_lower(char ch) { return ch >= 'a' && ch <= 'z'; }
static int is_alnum(char ch) { return is_upper(ch) || is_lower(ch) || (ch >= '0' && ch <= '9'); }

int idl_snake_case(const char *name, char *out, size_t outsz) {
  size_t o = 0;
  int first_word = 1;
  const char *p = name;
  if (outsz == 0) return -1;
#define SC_PUT(ch)                   \
  do {                               \
    if (o + 1 >= outsz) return -1;   \
    out[o++] = (ch);                 \
  } while (0)
#define SC_WORD(b, e)                                                           \
  do {                                                                          \
    if ((e) > (b)) {                                                            \
      if (!first_word) SC_PUT('_');                                             \
      for (const char *sc_q = (b); sc_q < (e); sc_q++) SC_PUT(is_upper(*sc_q) ? (char)(*sc_q + 32) : *sc_q); \
      first_word = 0;                                                           \
    }                                                                           \
  } while (0)
  /* Same word boundaries as heck's to_snake_case (what Anchor uses). */
  while (*p) {
    while (*p && !is_alnum(*p)) p++;
    const char *w = p;
    while (*p && is_alnum(*p)) p++;
    const char *we = p;
    const char *init = w;
    enum { BOUNDARY, LOWER, UPPER } mode = BOUNDARY;
    for (const char *q = w; q < we; q++) {
      if (q + 1 < we) {
        char ch = *q, next = q[1];
        int next_mode = is_lower(ch) ? LOWER : is_upper(ch) ? UPPER : (int)mode;
        if (next_mode == LOWER && is_upper(next)) {
          SC_WORD(init, q + 1);
          init = q + 1;
          mode = BOUNDARY;
        } else if (mode == UPPER && is_upper(ch) && is_lower(next)) {
          SC_WORD(init, q);
          init = q;
          mode = BOUNDARY;
        } else {
          mode = next_mode;
        }
      } else {
        SC_WORD(init, we);
      }
    }
  }
#undef SC_PUT
#undef SC_WORD
  out[o] = '\0';
  return 0;
}

void idl_free(idl_t *idl) {
  if (!idl) return;
  for (size_t i = 0; i < idl->n_instructions; i++) free(idl->instructions[i].accounts);
  free(idl->accounts);
  free(idl->instructions);
  free(idl->events);
  free(idl->nodes);
  free(idl->fields);
  free(idl->variants);
  json_decref((json_t *)idl->root);
  free(idl);
}

int idl_load_json(const char *text, size_t len, idl_t **out, char *err, size_t errsz) {
  *out = NULL;
  if (err && errsz) err[0] = '\0';
  if (sodium_init() < 0) {
    if (err && errsz) snprintf(err, errsz, "libsodium initialisation failed");
    return -1;
  }
  if (len > IDL_MAX_DOC_BYTES) {
    if (err && errsz) snprintf(err, errsz, "IDL document too large");
    return -1;
  }
  struct idl *I = calloc(1, sizeof *I);
  if (!I) {
    if (err && errsz) snprintf(err, errsz, "out of memory");
    return -1;
  }
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    if (err && errsz)
      snprintf(err, errsz, "IDL is not valid JSON: line %d column %d: %s", je.line, je.column,
               je.text);
    goto fail;
  }
  I->root = root;
  if (!json_is_object(root)) {
    if (err && errsz) snprintf(err, errsz, "IDL is not a JSON object");
    goto fail;
  }
  const json_t *meta = json_object_get(root, "metadata");
  I->name = json_string_value(json_object_get(meta, "name"));
  if (!I->name) I->name = json_string_value(json_object_get(root, "name"));
  if (!I->name) I->name = "";
  I->address = json_string_value(json_object_get(root, "address"));
  if (!I->address) I->address = json_string_value(json_object_get(meta, "address"));
  if (idl_compile(I, root, err, errsz) != 0) goto fail;
  *out = I;
  return 0;
fail:
  idl_free(I);
  return -1;
}

int idl_load_embedded(const char *name, idl_t **out, char *err, size_t errsz) {
  const embedded_file_t *f = embedded_find(name);
  if (!f) {
    *out = NULL;
    if (err && errsz) snprintf(err, errsz, "no embedded IDL %s", name);
    return -1;
  }
  return idl_load_json(f->data, f->len, out, err, errsz);
}

const char *idl_address(const idl_t *idl) { return idl->address; }

const char *idl_name(const idl_t *idl) { return idl->name; }

size_t idl_account_count(const idl_t *idl) { return idl->n_accounts; }

const char *idl_account_name(const idl_t *idl, size_t i) {
  return i < idl->n_accounts ? idl->accounts[i].name : NULL;
}

const uint8_t *idl_account_discriminator(const idl_t *idl, size_t i, size_t *len) {
  if (i >= idl->n_accounts) {
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = idl->accounts[i].disc_len;
  return idl->accounts[i].disc;
}

const idl_def_t *idl_find_def(const idl_def_t *defs, size_t n, const uint8_t *data, size_t len) {
  const idl_def_t *best = NULL;
  for (size_t i = 0; i < n; i++) {
    const idl_def_t *d = &defs[i];
    if (d->disc_len <= len && (d->disc_len == 0 || memcmp(d->disc, data, d->disc_len) == 0) &&
        (!best || d->disc_len > best->disc_len))
      best = d;
  }
  return best;
}

const idl_def_t *idl_find_def_name(const idl_def_t *defs, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(defs[i].name, name) == 0) return &defs[i];
  return NULL;
}

