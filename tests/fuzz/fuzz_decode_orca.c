/* Generic account decoding with a large legacy (pre-0.30) IDL: Orca
 * Whirlpool (fixtures/orca-whirlpool/whirlpool.idl.json, read relative to
 * the working directory: run from the repository root). Never crashes or
 * leaks; errors are well-formed (known code, offset inside the data); the
 * strict mode accepts a subset of the lenient one with the same value;
 * decoding is deterministic; the result serialises.
 *
 * Input: raw account bytes (discriminator + body). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "idl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORCA_IDL "fixtures/orca-whirlpool/whirlpool.idl.json"

static idl_t *g_idl;

/* Reads and compiles ORCA_IDL, or aborts. */
static void load_orca(void) {
  char err[256];
  FILE *f = fopen(ORCA_IDL, "rb");
  char *text = NULL;
  long n = -1;
  if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
  if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) text = malloc((size_t)n + 1);
  if (!text || fread(text, 1, (size_t)n, f) != (size_t)n ||
      idl_load_json(text, (size_t)n, &g_idl, err, sizeof err) != 0) {
    fprintf(stderr, "fuzz_decode_orca: cannot load %s (run from the repository root)\n", ORCA_IDL);
    abort();
  }
  free(text);
  fclose(f);
}

static void check_error(int rc, const decode_error_t *e, size_t size) {
  char buf[512];
  if (rc >= 0 || rc < DECODE_ERR_LENGTH || rc == DECODE_ERR_NOMEM || e->code != rc) abort();
  if (e->offset > size) abort();
  if (!memchr(e->type, '\0', sizeof e->type) || !memchr(e->path, '\0', sizeof e->path) ||
      !memchr(e->detail, '\0', sizeof e->detail))
    abort();
  decode_error_format(e, buf, sizeof buf);
  if (!memchr(buf, '\0', sizeof buf)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *strict = NULL, *lenient = NULL, *again = NULL;
  decode_error_t es, el, ea;
  if (!g_idl) load_orca();
  int rs = decode_account_json(g_idl, data, size, true, &strict, &es);
  int rl = decode_account_json(g_idl, data, size, false, &lenient, &el);
  if ((rs == 0) != (strict != NULL) || (rl == 0) != (lenient != NULL)) abort();
  if (rs != 0) check_error(rs, &es, size);
  if (rl != 0) check_error(rl, &el, size);
  if (rs == 0 && (rl != 0 || !json_equal(strict, lenient))) abort();
  if (rl == 0 && rs != 0 && rs != DECODE_ERR_TRAILING) abort();
  if (rl != 0 && rs != rl) abort();
  int ra = decode_account_json(g_idl, data, size, false, &again, &ea);
  if (ra != rl || (ra == 0 && !json_equal(again, lenient))) abort();
  if (ra != 0 && (ea.offset != el.offset || strcmp(ea.path, el.path) != 0)) abort();
  if (lenient) {
    char *s = json_dumps(lenient, JSON_COMPACT);
    if (!s) abort();
    if (!json_is_string(json_object_get(lenient, "type")) ||
        !json_is_object(json_object_get(lenient, "value")))
      abort();
    free(s);
  }
  json_decref(strict);
  json_decref(lenient);
  json_decref(again);
  return 0;
}
