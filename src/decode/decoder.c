/* Generic JSON decoding of accounts, instructions and events of any loaded
 * IDL, error values, and the emit_cpi! payload helper (see decoder.h). */
#include "decoder.h"

#include <stdio.h>
#include <string.h>

#include "decode_borsh.h"
#include "idl_layout.h"

const uint8_t CB_EMIT_CPI_TAG[8] = {0xe4, 0x45, 0xa5, 0x2e, 0x51, 0xcb, 0x9a, 0x1d};

const char *decode_strerror(int code) {
  switch (code) {
    case DECODE_OK: return "ok";
    case DECODE_ERR_TRUNCATED: return "data ends inside a field";
    case DECODE_ERR_BOOL: return "bool byte is not 0 or 1";
    case DECODE_ERR_ENUM: return "enum variant index out of range";
    case DECODE_ERR_OPTION: return "option tag is not 0 or 1";
    case DECODE_ERR_UTF8: return "invalid UTF-8 in string";
    case DECODE_ERR_NUL: return "NUL byte in string";
    case DECODE_ERR_DISCRIMINATOR: return "unknown discriminator";
    case DECODE_ERR_TRAILING: return "non-zero bytes after the layout";
    case DECODE_ERR_LAYOUT: return "IDL layout does not match the typed record";
    case DECODE_ERR_NOMEM: return "out of memory";
    case DECODE_ERR_BASE64: return "invalid base64";
    case DECODE_ERR_LENGTH: return "length prefix exceeds the remaining data";
    default: return "unknown decode error";
  }
}

char *decode_error_format(const decode_error_t *err, char *buf, size_t bufsz) {
  if (!buf || bufsz == 0) return buf;
  const char *type = err->type, *path = err->path;
  int n = snprintf(buf, bufsz, "%s%s%s%sat byte %zu: %s%s%s%s", type, (*type && *path) ? "." : "",
                   path, (*type || *path) ? " " : "", err->offset, decode_strerror(err->code),
                   err->detail[0] ? " (" : "", err->detail, err->detail[0] ? ")" : "");
  if (n < 0) buf[0] = '\0';
  return buf;
}

static void err_reset(decode_error_t *err) {
  err->code = 0;
  err->type[0] = err->path[0] = err->detail[0] = '\0';
  err->offset = 0;
}

int decode_unknown_disc(decode_error_t *err, const char *what, const uint8_t *data, size_t len) {
  char hex[2 * 8 + 1];
  size_t n = len < 8 ? len : 8;
  for (size_t i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", data[i]);
  hex[2 * n] = '\0';
  decode_ctx_t c = {NULL, data, len, what, err};
  return decode_borsh_fail(&c, DECODE_ERR_DISCRIMINATOR, NULL, NULL, 0,
                           len ? "no %s has discriminator %s%s" : "no %s matches empty data%s%s",
                           what, hex, len > 8 ? "..." : "");
}

/* Decodes def's layout at its discriminator's end into {"type","value"}. */
static int decode_def(const idl_t *idl, const idl_def_t *d, const uint8_t *data, size_t len,
                      int trailing_mode, json_t **out, decode_error_t *err) {
  decode_ctx_t c = {idl, data, len, d->name, err};
  size_t off = d->disc_len;
  json_t *v = NULL, *obj = NULL;
  int rc = decode_borsh_walk(&c, d->node, &off, &v, NULL, 0);
  if (rc != 0) return rc;
  /* trailing_mode: 0 zero bytes only, 1 anything */
  rc = decode_borsh_trailing(&c, off, trailing_mode);
  if (rc != 0) {
    json_decref(v);
    return rc;
  }
  obj = json_object();
  if (!obj || json_object_set_new(obj, "type", json_string(d->name)) != 0 ||
      json_object_set_new(obj, "value", v) != 0) {
    json_decref(obj);
    return decode_borsh_fail(&c, DECODE_ERR_NOMEM, NULL, NULL, 0, NULL);
  }
  *out = obj;
  return 0;
}

int decode_account_json(const idl_t *idl, const uint8_t *data, size_t len, bool strict,
                        json_t **out, decode_error_t *err) {
  decode_error_t scratch;
  if (!err) err = &scratch;
  err_reset(err);
  *out = NULL;
  const idl_def_t *d = idl_find_def(idl->accounts, idl->n_accounts, data, len);
  if (!d) return decode_unknown_disc(err, "account", data, len);
  /* Bytes after the layout are ignored unless strict (Anchor's coder
   * ignores them; real accounts carry reserved or grown space). */
  return decode_def(idl, d, data, len, strict ? 0 : 1, out, err);
}

int decode_event_json(const idl_t *idl, const uint8_t *data, size_t len, json_t **out,
                      decode_error_t *err) {
  decode_error_t scratch;
  if (!err) err = &scratch;
  err_reset(err);
  *out = NULL;
  const idl_def_t *d = idl_find_def(idl->events, idl->n_events, data, len);
  if (!d) return decode_unknown_disc(err, "event", data, len);
  return decode_def(idl, d, data, len, 0, out, err);
}

int decode_instruction_json(const idl_t *idl, const uint8_t *data, size_t len,
                            const char *const *account_keys, size_t n_keys, json_t **out,
                            decode_error_t *err) {
  decode_error_t scratch;
  if (!err) err = &scratch;
  err_reset(err);
  *out = NULL;
  const idl_def_t *d = idl_find_def(idl->instructions, idl->n_instructions, data, len);
  if (!d) return decode_unknown_disc(err, "instruction", data, len);
  /* The program deserializes arguments without checking for leftover
   * bytes, so neither does the indexer: what the chain accepted decodes. */
  json_t *obj = NULL;
  int rc = decode_def(idl, d, data, len, 1, &obj, err);
  if (rc != 0) return rc;
  json_t *accts = json_object(), *rest = NULL;
  if (!accts) goto nomem;
  if (json_object_set_new(obj, "accounts", accts) != 0) goto nomem;
  for (size_t i = 0; i < n_keys; i++) {
    const char *k = account_keys[i] ? account_keys[i] : "";
    if (i < d->n_accounts) {
      if (json_object_set_new(accts, d->accounts[i].name, json_string(k)) != 0) goto nomem;
    } else {
      if (!rest) {
        rest = json_array();
        if (!rest || json_object_set_new(obj, "remaining_accounts", rest) != 0) goto nomem;
      }
      if (json_array_append_new(rest, json_string(k)) != 0) goto nomem;
    }
  }
  *out = obj;
  return 0;
nomem:
  json_decref(obj);
  {
    decode_ctx_t c = {idl, data, len, d->name, err};
    return decode_borsh_fail(&c, DECODE_ERR_NOMEM, NULL, NULL, 0, NULL);
  }
}

const uint8_t *decode_emit_cpi_event(const uint8_t *ix_data, size_t len, size_t *event_len) {
  if (!ix_data || len < sizeof CB_EMIT_CPI_TAG ||
      memcmp(ix_data, CB_EMIT_CPI_TAG, sizeof CB_EMIT_CPI_TAG) != 0) {
    if (event_len) *event_len = 0;
    return NULL;
  }
  if (event_len) *event_len = len - sizeof CB_EMIT_CPI_TAG;
  return ix_data + sizeof CB_EMIT_CPI_TAG;
}
