/* Websocket notifications (untrusted network input): wsmsg_parse
 * never crashes or leaks and classifies consistently; the fast path agrees
 * with the full parser; utf8_check (the one UTF-8 validator) agrees with a
 * plain code-point decoder on every input, offsets included.
 *
 * Input: one websocket text message. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "../utf8_ref.h"
#include "wsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  wsmsg_t m;
  wsmsg_kind_t k = wsmsg_parse(data, size, 0, &m);
  if (k != m.kind) abort();
  if (!memchr(m.reason, '\0', sizeof m.reason)) abort();
  switch (k) {
    case WSMSG_BAD:
      if (m.reason[0] == '\0') abort();
      break;
    case WSMSG_ACCOUNT:
      if (!m.pubkey || !m.account || !m.doc) abort();
      if (!json_is_object(m.account) && !json_is_null(m.account)) abort();
      break;
    case WSMSG_LOGS:
      if (!m.signature || !m.doc) abort();
      break;
    case WSMSG_SLOT:
      if (!m.doc) abort();
      break;
    default: abort();
  }
  wsmsg_clear(&m);
  if (m.doc) abort();

  /* a binary frame is always refused */
  if (wsmsg_parse(data, size, 1, &m) != WSMSG_BAD) abort();
  wsmsg_clear(&m);

  size_t bad = 0, bad_ref = 0;
  int ok = utf8_valid(data, size, &bad);
  if (ok != utf8_ref_valid(data, size, &bad_ref)) abort();
  if (!ok && bad != bad_ref) abort();
  if (!ok && bad >= size) abort();
  /* with NUL rejection: the first NUL or the first bad sequence, whichever
     comes first */
  const uint8_t *nul = memchr(data, 0, size);
  int rc = utf8_check(data, size, 1, &bad);
  if (nul && (ok || (size_t)(nul - data) < bad_ref)) {
    if (rc != UTF8_ERR_NUL || bad != (size_t)(nul - data)) abort();
  } else if (rc != (ok ? UTF8_OK : UTF8_ERR_INVALID)) {
    abort();
  }

  /* the fast path, when it accepts, agrees with the full parser */
  wsmsg_fast_account_t fa;
  if (!nul && ok && wsmsg_fast_account(data, size, &fa)) {
    if (wsmsg_parse(data, size, 0, &m) != WSMSG_ACCOUNT || m.slot != fa.slot ||
        strcmp(m.pubkey, fa.pubkey) != 0)
      abort();
    wsmsg_clear(&m);
  }
  return 0;
}
