/* IDL loading on arbitrary JSON text: idl_load_json never crashes or
 * leaks, fails with *out NULL and a message, and a loaded IDL is usable:
 * its accessors answer, the typed binding check runs, and decoding bytes
 * against each of its accounts, instructions and events (the input's own
 * bytes after each discriminator) never crashes.
 *
 * Input: JSON text (seeded with the Crypto Bet and Orca IDLs), optionally
 * followed by a NUL byte and the body bytes to decode. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cb_decoder.h"
#include "decoder.h"
#include "idl.h"
#include "idl_layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes disc + body with every decoder that takes def's kind. */
static void decode_with(const idl_t *idl, const idl_def_t *d, int what, const uint8_t *body,
                        size_t blen) {
  uint8_t *buf = malloc(d->disc_len + blen + 1);
  json_t *j = NULL;
  decode_error_t e;
  static const char *const keys[] = {"11111111111111111111111111111111",
                                     "kneoK1rfAZy7e56axK367Vp6ddVpFLoE8oK24KNNeoe", NULL};
  if (!buf) abort();
  memcpy(buf, d->disc, d->disc_len);
  memcpy(buf + d->disc_len, body, blen);
  size_t n = d->disc_len + blen;
  int rc;
  if (what == 0) {
    rc = decode_account_json(idl, buf, n, false, &j, &e);
  } else if (what == 1) {
    rc = decode_instruction_json(idl, buf, n, keys, 3, &j, &e);
  } else {
    rc = decode_event_json(idl, buf, n, &j, &e);
  }
  if ((rc == 0) != (j != NULL)) abort();
  if (rc != 0 && (e.code != rc || e.offset > n)) abort();
  json_decref(j);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  idl_t *idl = (idl_t *)(uintptr_t)1;
  char err[256];
  err[0] = 'x';
  err[1] = '\0';
  const uint8_t *nul = memchr(data, '\0', size);
  size_t tlen = nul ? (size_t)(nul - data) : size;
  const uint8_t *body = nul ? nul + 1 : data + size;
  size_t blen = nul ? size - tlen - 1 : 0;
  int rc = idl_load_json((const char *)data, tlen, &idl, err, sizeof err);
  if (rc != 0) {
    if (rc != -1 || idl != NULL || err[0] == '\0' || !memchr(err, '\0', sizeof err)) abort();
    return 0;
  }
  if (!idl) abort();
  (void)idl_address(idl);
  if (!idl_name(idl)) abort();
  size_t na = idl_account_count(idl);
  for (size_t i = 0; i < na; i++) {
    size_t dl = 0;
    if (!idl_account_name(idl, i) || !idl_account_discriminator(idl, i, &dl) || dl > IDL_DISC_MAX)
      abort();
  }
  /* The Crypto Bet binding either builds or says why (a layout
   * mismatch), never anything else. */
  decode_error_t de;
  cb_decoder_t *dec = (cb_decoder_t *)(uintptr_t)1;
  int brc = cb_decoder_new(idl, &dec, &de);
  if (brc == 0 ? dec == NULL : (dec != NULL || de.code != brc ||
                                (brc != DECODE_ERR_LAYOUT && brc != DECODE_ERR_NOMEM)))
    abort();
  if (dec) {
    cb_account_t a;
    (void)cb_decode_account(dec, body, blen, &a, &de);
    cb_decoder_free(dec);
  }

  /* Decode the body after each definition's discriminator. */
  const struct idl *I = idl;
  for (size_t i = 0; i < I->n_accounts && i < 16; i++) decode_with(idl, &I->accounts[i], 0, body, blen);
  for (size_t i = 0; i < I->n_instructions && i < 16; i++)
    decode_with(idl, &I->instructions[i], 1, body, blen);
  for (size_t i = 0; i < I->n_events && i < 16; i++) decode_with(idl, &I->events[i], 2, body, blen);
  /* and all-zero bodies, which take every "first variant / None / empty" path */
  {
    static const uint8_t zeros[256];
    for (size_t i = 0; i < I->n_accounts && i < 16; i++)
      decode_with(idl, &I->accounts[i], 0, zeros, sizeof zeros);
  }
  idl_free(idl);
  return 0;
}
