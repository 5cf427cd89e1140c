/* IDL definitions: discriminators, accounts, instructions (with their
 * flattened account lists), events, and the compiler's driver. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idl_priv.h"

/* ---- definitions ---------------------------------------------------------- */

static void sha_disc(const char *prefix, const char *name, idl_def_t *d) {
  crypto_hash_sha256_state st;
  uint8_t h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, (const unsigned char *)prefix, strlen(prefix));
  crypto_hash_sha256_update(&st, (const unsigned char *)name, strlen(name));
  crypto_hash_sha256_final(&st, h);
  memcpy(d->disc, h, 8);
  d->disc_len = 8;
}

/* Explicit discriminator array, or computed. */
static int def_disc(cctx_t *c, const json_t *j, const char *what, const char *prefix,
                    const char *hashname, idl_def_t *d) {
  const json_t *dj = json_object_get(j, "discriminator");
  if (!dj) {
    sha_disc(prefix, hashname, d);
    return 0;
  }
  if (!json_is_array(dj) || json_array_size(dj) > IDL_DISC_MAX) {
    idl_cc_err(c, "%s '%s': bad discriminator", what, d->name);
    return -1;
  }
  d->disc_len = (uint32_t)json_array_size(dj);
  for (size_t i = 0; i < d->disc_len; i++) {
    const json_t *b = json_array_get(dj, i);
    if (!json_is_integer(b) || json_integer_value(b) < 0 || json_integer_value(b) > 255) {
      idl_cc_err(c, "%s '%s': discriminator byte %zu is not 0..255", what, d->name, i);
      return -1;
    }
    d->disc[i] = (uint8_t)json_integer_value(b);
  }
  return 0;
}

static int check_dup_disc(cctx_t *c, const idl_def_t *defs, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      if (defs[i].disc_len == defs[j].disc_len &&
          memcmp(defs[i].disc, defs[j].disc, defs[i].disc_len) == 0) {
        idl_cc_err(c, "%ss '%s' and '%s' have the same discriminator", what, defs[i].name,
               defs[j].name);
        return -1;
      }
  return 0;
}

static int flatten_accounts(cctx_t *c, const json_t *arr, idl_def_t *d, size_t depth) {
  if (!json_is_array(arr)) return 0;
  if (depth > 16) {
    idl_cc_err(c, "instruction '%s': account groups nested too deep", d->name);
    return -1;
  }
  for (size_t i = 0; i < json_array_size(arr); i++) {
    const json_t *a = json_array_get(arr, i);
    const json_t *sub = json_object_get(a, "accounts");
    if (json_is_array(sub)) {
      if (flatten_accounts(c, sub, d, depth + 1) != 0) return -1;
      continue;
    }
    const json_t *nm = json_object_get(a, "name");
    if (!json_is_string(nm)) {
      idl_cc_err(c, "instruction '%s': account %zu has no name", d->name, i);
      return -1;
    }
    idl_ix_account_t *p = realloc(d->accounts, (d->n_accounts + 1) * sizeof *p);
    if (!p) {
      idl_cc_err(c, "out of memory");
      return -1;
    }
    d->accounts = p;
    idl_ix_account_t *e = &d->accounts[d->n_accounts++];
    e->name = json_string_value(nm);
    e->signer = json_is_true(json_object_get(a, "signer")) ||
                json_is_true(json_object_get(a, "isSigner"));
    e->writable = json_is_true(json_object_get(a, "writable")) ||
                  json_is_true(json_object_get(a, "isMut"));
  }
  return 0;
}

static int alloc_defs(cctx_t *c, const json_t *arr, idl_def_t **defs, size_t *n) {
  *n = json_is_array(arr) ? json_array_size(arr) : 0;
  if (*n == 0) return 0;
  *defs = calloc(*n, sizeof **defs);
  if (!*defs) {
    idl_cc_err(c, "out of memory");
    return -1;
  }
  return 0;
}

static int compile_accounts(cctx_t *c, const json_t *arr) {
  struct idl *I = c->idl;
  if (alloc_defs(c, arr, &I->accounts, &I->n_accounts) != 0) return -1;
  for (size_t i = 0; i < I->n_accounts; i++) {
    const json_t *a = json_array_get(arr, i);
    idl_def_t *d = &I->accounts[i];
    const char *nm = json_string_value(json_object_get(a, "name"));
    if (!nm) {
      idl_cc_err(c, "account %zu has no name", i);
      return -1;
    }
    d->name = nm;
    if (def_disc(c, a, "account", "account:", nm, d) != 0) return -1;
    char where[160];
    snprintf(where, sizeof where, "account '%s'", nm);
    if (idl_cc_defined(c, nm, NULL, NULL, IDL_MODE_BORSH, 0, where, &d->node) != 0) return -1;
  }
  return check_dup_disc(c, I->accounts, I->n_accounts, "account");
}

static int compile_instructions(cctx_t *c, const json_t *arr) {
  struct idl *I = c->idl;
  if (alloc_defs(c, arr, &I->instructions, &I->n_instructions) != 0) return -1;
  for (size_t i = 0; i < I->n_instructions; i++) {
    const json_t *a = json_array_get(arr, i);
    idl_def_t *d = &I->instructions[i];
    const char *nm = json_string_value(json_object_get(a, "name"));
    if (!nm) {
      idl_cc_err(c, "instruction %zu has no name", i);
      return -1;
    }
    d->name = nm;
    char snake[256];
    if (idl_snake_case(nm, snake, sizeof snake) != 0) {
      idl_cc_err(c, "instruction '%.64s...': name too long", nm);
      return -1;
    }
    if (def_disc(c, a, "instruction", "global:", snake, d) != 0) return -1;
    if (flatten_accounts(c, json_object_get(a, "accounts"), d, 0) != 0) return -1;
    const json_t *args = json_object_get(a, "args");
    if (args && json_array_size(args) > 0 &&
        !json_is_string(json_object_get(json_array_get(args, 0), "name"))) {
      idl_cc_err(c, "instruction '%s': argument without a name", nm);
      return -1;
    }
    if (idl_cc_fields(c, args, NULL, IDL_MODE_BORSH, 0, 0, 0, nm, nm, &d->node) != 0) return -1;
  }
  return check_dup_disc(c, I->instructions, I->n_instructions, "instruction");
}

static int compile_events(cctx_t *c, const json_t *arr) {
  struct idl *I = c->idl;
  if (alloc_defs(c, arr, &I->events, &I->n_events) != 0) return -1;
  for (size_t i = 0; i < I->n_events; i++) {
    const json_t *a = json_array_get(arr, i);
    idl_def_t *d = &I->events[i];
    const char *nm = json_string_value(json_object_get(a, "name"));
    if (!nm) {
      idl_cc_err(c, "event %zu has no name", i);
      return -1;
    }
    d->name = nm;
    if (def_disc(c, a, "event", "event:", nm, d) != 0) return -1;
    const json_t *fields = json_object_get(a, "fields");
    if (fields) { /* legacy: fields inline */
      if (idl_cc_fields(c, fields, NULL, IDL_MODE_BORSH, 0, 0, 0, nm, nm, &d->node) != 0) return -1;
    } else {
      char where[160];
      snprintf(where, sizeof where, "event '%s'", nm);
      if (idl_cc_defined(c, nm, NULL, NULL, IDL_MODE_BORSH, 0, where, &d->node) != 0) return -1;
    }
  }
  return check_dup_disc(c, I->events, I->n_events, "event");
}

/* name -> definition map: the types section, plus legacy accounts that
 * carry their type inline (types win on a clash). */
static int build_types(cctx_t *c, const json_t *root) {
  c->types = json_object();
  if (!c->types) {
    idl_cc_err(c, "out of memory");
    return -1;
  }
  const json_t *types = json_object_get(root, "types");
  if (types && !json_is_array(types)) {
    idl_cc_err(c, "\"types\" is not an array");
    return -1;
  }
  for (size_t i = 0; i < json_array_size(types); i++) {
    json_t *t = json_array_get(types, i);
    const char *nm = json_string_value(json_object_get(t, "name"));
    if (!nm) {
      idl_cc_err(c, "type %zu has no name", i);
      return -1;
    }
    if (json_object_get(c->types, nm)) {
      idl_cc_err(c, "type '%s' defined twice", nm);
      return -1;
    }
    json_object_set(c->types, nm, t);
  }
  const json_t *accts = json_object_get(root, "accounts");
  for (size_t i = 0; i < json_array_size(accts); i++) {
    json_t *a = json_array_get(accts, i);
    const char *nm = json_string_value(json_object_get(a, "name"));
    if (nm && json_object_get(a, "type") && !json_object_get(c->types, nm))
      json_object_set(c->types, nm, a);
  }
  return 0;
}
int idl_compile(struct idl *I, const json_t *root, char *err, size_t errsz) {
  cctx_t c = {0};
  c.idl = I;
  c.err = err;
  c.errsz = errsz;
  int rc = -1;
  if (idl_cc_prims(&c) != 0) goto out;
  if (build_types(&c, root) != 0) goto out;
  if (compile_accounts(&c, json_object_get(root, "accounts")) != 0) goto out;
  if (compile_instructions(&c, json_object_get(root, "instructions")) != 0) goto out;
  if (compile_events(&c, json_object_get(root, "events")) != 0) goto out;
  /* Every named type must compile, used or not: an undefined or cyclic
   * definition is an error of the IDL, not of the first message using it. */
  const char *tn;
  json_t *tv;
  json_object_foreach(c.types, tn, tv) {
    if (json_object_get(tv, "generics") && json_array_size(json_object_get(tv, "generics")) > 0)
      continue; /* generic: compiled per instantiation */
    uint32_t node;
    char where[160];
    snprintf(where, sizeof where, "type '%s'", tn);
    if (idl_cc_defined(&c, tn, NULL, NULL, IDL_MODE_BORSH, 0, where, &node) != 0) goto out;
  }
  rc = 0;
out:
  for (size_t i = 0; i < c.n_memo; i++) free(c.memo[i].key);
  free(c.memo);
  json_decref(c.types);
  if (rc != 0 || c.failed) {
    if (!c.failed) idl_cc_err(&c, "IDL compilation failed");
    return -1;
  }
  return 0;
}
