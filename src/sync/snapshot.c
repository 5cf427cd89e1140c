/* Snapshot: getProgramAccounts per account type of the IDL (snapshot.h). */
#include "snapshot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts.h"
#include "jsonx.h"
#include "log.h"
#include "base58.h"

/* ---- snapshot ------------------------------------------------------------ */

long snapshot_run(rpc_client_t *rpc, ingest_t *ing, sink_t *sink, const idl_t *idl,
                  const char *program_id, const char *commitment,
                  const volatile int *stop_flag, char *err, size_t errsz) {
  if (err && errsz) err[0] = '\0';
  if (!commitment) commitment = "confirmed";
  long total = 0;
  size_t ntypes = idl_account_count(idl);
  for (size_t t = 0; t < ntypes; t++) {
    if (stop_flag && *stop_flag) {
      log_set_err(err, errsz, "stopped by request");
      return -1;
    }
    size_t dlen = 0;
    const uint8_t *disc = idl_account_discriminator(idl, t, &dlen);
    const char *name = idl_account_name(idl, t);
    if (!disc || dlen == 0) {
      log_warn("snapshot", "account type %s has no discriminator: skipped", name ? name : "?");
      continue;
    }
    char *b58 = malloc(2 * dlen + 2);
    if (!b58) {
      log_set_err(err, errsz, "out of memory");
      return -1;
    }
    base58_encode_ref(disc, dlen, b58);
    json_t *params = json_pack("[s, {s:s, s:s, s:b, s:[{s:{s:i, s:s}}]}]", program_id,
                               "encoding", "base64", "commitment", commitment, "withContext", 1,
                               "filters", "memcmp", "offset", 0, "bytes", b58);
    free(b58);
    json_t *res = NULL;
    rpc_error_t e;
    memset(&e, 0, sizeof e);
    if (!params || rpc_call(rpc, "getProgramAccounts", params, &res, &e) != 0) {
      if (!params)
        log_set_err(err, errsz, "out of memory");
      else accounts_rpc_err_text("getProgramAccounts", &e, err, errsz);
      return -1;
    }
    uint64_t slot = 0;
    const json_t *list = json_object_get(res, "value");
    if (jsonx_get_u64(json_object_get(res, "context"), "slot", &slot) != 0 ||
        !json_is_array(list)) {
      log_set_err(err, errsz,
                  "getProgramAccounts %s: result is not {context: {slot}, value: [...]}",
                  name ? name : "?");
      json_decref(res);
      return -1;
    }
    size_t i;
    const json_t *item;
    long count = 0;
    json_array_foreach(list, i, item) {
      const char *pk = jsonx_get_str(item, "pubkey");
      const json_t *acc = json_object_get(item, "account");
      if (!pk || !json_is_object(acc)) {
        log_set_err(err, errsz, "getProgramAccounts %s: entry %zu has no pubkey/account",
                    name ? name : "?", i);
        json_decref(res);
        return -1;
      }
      int rc = ingest_account_json(ing, pk, acc, slot);
      if (rc < 0) {
        log_set_err(err, errsz, "ingest: %s: %s", ingest_strerror(rc), sink_last_error(sink));
        json_decref(res);
        return -1;
      }
      count++;
    }
    json_decref(res);
    log_info("snapshot", "type=%s accounts=%ld slot=%" PRIu64, name ? name : "?", count, slot);
    total += count;
  }
  int rc = sink_flush(sink);
  if (rc != 0) {
    log_set_err(err, errsz, "sink flush: %s: %s", sink_strerror(rc), sink_last_error(sink));
    return -1;
  }
  return total;
}

