/* Websocket notifications (untrusted network input): live_parse_message
 * never crashes or leaks and classifies consistently; its UTF-8 validator
 * agrees with the decoder's (decode_utf8_check) on every NUL-free input,
 * offsets included.
 *
 * Input: one websocket text message. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode_borsh.h"
#include "live.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  live_msg_t m;
  live_msg_kind_t k = live_parse_message(data, size, 0, &m);
  if (k != m.kind) abort();
  if (!memchr(m.reason, '\0', sizeof m.reason)) abort();
  switch (k) {
    case LIVE_MSG_BAD:
      if (m.reason[0] == '\0') abort();
      break;
    case LIVE_MSG_ACCOUNT:
      if (!m.pubkey || !m.account || !m.doc) abort();
      if (!json_is_object(m.account) && !json_is_null(m.account)) abort();
      break;
    case LIVE_MSG_LOGS:
      if (!m.signature || !m.doc) abort();
      break;
    case LIVE_MSG_SLOT:
      if (!m.doc) abort();
      break;
    default: abort();
  }
  live_msg_clear(&m);
  if (m.doc) abort();

  /* a binary frame is always refused */
  if (live_parse_message(data, size, 1, &m) != LIVE_MSG_BAD) abort();
  live_msg_clear(&m);

  size_t bad_live = 0, bad_dec = 0;
  int ok_live = live_utf8_valid(data, size, &bad_live);
  if (!memchr(data, 0, size)) {
    int ok_dec = decode_utf8_check(data, size, &bad_dec) == 0;
    if (ok_live != ok_dec) abort();
    if (!ok_live && bad_live != bad_dec) abort();
  }
  if (!ok_live && bad_live >= size) abort();
  return 0;
}
