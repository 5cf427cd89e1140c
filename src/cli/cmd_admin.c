/* crypto-bet-indexer status / dead-letters: the operator's tools.
 *
 * status: each checkpoint stream and its lag behind the tip the node
 * reports (getSlot), the last commit, dead letters by kind, row counts.
 * dead-letters list | show ID | retry [ID] | purge --before TIME: the SQL
 * is in sink_admin.h, the retry in retry.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "cmd_common.h"
#include "commands.h"
#include "config.h"
#include "ingest.h"
#include "log.h"
#include "retry.h"
#include "rpc.h"
#include "sink.h"
#include "sink_admin.h"
#include "utf8.h"

static sink_t *open_sink(const char *cmd, const cbi_config_t *cfg) {
  sink_options_t so;
  sink_options_init(&so);
  so.conninfo = cfg->database_url;
  so.open_timeout_ms = 5000;
  so.reconnect_max_attempts = 3;
  sink_t *s = NULL;
  char err[768];
  if (sink_open(&so, &s, err, sizeof err) != 0) {
    log_error(cmd, "database: %s", err);
    return NULL;
  }
  return s;
}

static rpc_client_t *open_rpc(const cbi_config_t *cfg) {
  rpc_options_t ro;
  rpc_options_init(&ro);
  ro.endpoints = cfg->rpc_url;
  ro.max_retries = 2;
  ro.timeout_ms = 10000;
  ro.verify_tls = config_u64(cfg, CONFIG_INSECURE) ? 0 : 1;
  char err[256];
  rpc_client_t *c = rpc_client_new(&ro, err, sizeof err);
  if (!c) log_error("rpc", "%s", err);
  return c;
}

/* ---- status ------------------------------------------------------------------ */

static void status_usage(FILE *out) {
  fputs("usage: crypto-bet-indexer status [--json] [options]\n"
        "\n"
        "One screen from the database and the node: each checkpoint stream with its lag\n"
        "behind the tip (getSlot), the last commit, dead letters by kind, row counts.\n"
        "\n",
        out);
  config_print_help(out, CONFIG_CMD_STATUS);
  fputs("\nExit codes: 0 done (the node may be unreachable: tip null), 1 database unreachable,\n"
        "2 usage error.\n",
        out);
}

int cmd_status(int argc, char **argv) {
  cbi_config_t cfg;
  int pr = cmd_common_parse("status", CONFIG_CMD_STATUS, &cfg, argc, argv, status_usage);
  if (pr != CMD_COMMON_CONTINUE) return pr;
  sink_t *s = open_sink("status", &cfg);
  if (!s) return EXIT_FAILURE_RUN;
  json_t *st = NULL;
  int rc = sink_admin_status(s, &st);
  sink_close(s);
  if (rc != SINK_OK) {
    log_error("status", "database: %s", sink_strerror(rc));
    return EXIT_FAILURE_RUN;
  }
  uint64_t tip = 0;
  int have_tip = 0;
  rpc_client_t *rpc = open_rpc(&cfg);
  if (rpc) {
    json_t *res = NULL;
    rpc_error_t e;
    memset(&e, 0, sizeof e);
    json_t *params = json_pack("[{s:s}]", "commitment", cfg.commitment);
    if (params && rpc_call(rpc, "getSlot", params, &res, &e) == 0 && json_is_integer(res) &&
        json_integer_value(res) >= 0) {
      tip = (uint64_t)json_integer_value(res);
      have_tip = 1;
    } else {
      log_warn("status", "getSlot: %s", params ? e.message : "out of memory");
    }
    json_decref(res);
    rpc_client_free(rpc);
  }
  json_object_set_new(st, "tip_slot", have_tip ? json_integer((json_int_t)tip) : json_null());
  size_t i;
  json_t *cp;
  json_array_foreach(json_object_get(st, "checkpoints"), i, cp) {
    uint64_t slot = (uint64_t)json_integer_value(json_object_get(cp, "slot"));
    json_object_set_new(cp, "lag_slots",
                        have_tip ? json_integer((json_int_t)(tip > slot ? tip - slot : 0))
                                 : json_null());
  }
  if (config_u64(&cfg, CONFIG_JSON)) {
    char *text = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text) puts(text);
    free(text);
  } else {
    if (have_tip) printf("chain tip      %" PRIu64 " (getSlot, %s)\n", tip, cfg.commitment);
    else printf("chain tip      unknown (the node did not answer getSlot)\n");
    const char *last = json_string_value(json_object_get(st, "last_commit"));
    printf("last commit    %s\n\ncheckpoints\n", last ? last : "never");
    json_array_foreach(json_object_get(st, "checkpoints"), i, cp) {
      json_t *lag = json_object_get(cp, "lag_slots");
      char lagtxt[32] = "?";
      if (json_is_integer(lag)) snprintf(lagtxt, sizeof lagtxt, "%" JSON_INTEGER_FORMAT,
                                         json_integer_value(lag));
      printf("  %-24s slot %-12" JSON_INTEGER_FORMAT " lag %-10s updated %s\n",
             json_string_value(json_object_get(cp, "stream")),
             json_integer_value(json_object_get(cp, "slot")), lagtxt,
             json_string_value(json_object_get(cp, "updated_at")));
    }
    if (json_array_size(json_object_get(st, "checkpoints")) == 0) printf("  none\n");
    printf("\ndead letters\n");
    const char *k;
    json_t *v;
    int any = 0;
    json_object_foreach(json_object_get(st, "dead_letters"), k, v) {
      printf("  %-24s %" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
      any = 1;
    }
    if (!any) printf("  none\n");
    printf("\nrows\n");
    json_object_foreach(json_object_get(st, "rows"), k, v)
      printf("  %-24s %" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
  }
  json_decref(st);
  return EXIT_OK;
}

/* ---- dead-letters -------------------------------------------------------------- */

static void dl_usage(FILE *out) {
  fputs("usage: crypto-bet-indexer dead-letters list [--reason KIND] [--json]\n"
        "       crypto-bet-indexer dead-letters show ID [--json]\n"
        "       crypto-bet-indexer dead-letters retry [ID | --reason KIND]\n"
        "       crypto-bet-indexer dead-letters purge --before TIME\n"
        "\n"
        "list: one line per dead letter. show: every field, the raw bytes as hex and base64,\n"
        "and as text when printable. retry: runs the stored input through ingest again with\n"
        "the current IDL (accounts: the stored bytes; ws-message: the stored message;\n"
        "transaction kinds: getTransaction by signature) and deletes what now applies.\n"
        "purge: deletes dead letters last seen before TIME.\n"
        "\n",
        out);
  config_print_help(out, CONFIG_CMD_DEAD_LETTERS);
  fputs("\nExit codes: 0 done, 1 run failed (or show: no such ID), 2 usage error.\n", out);
}

static int print_line(void *user, const sink_dead_letter_t *d) {
  json_t *arr = user;
  if (arr) {
    json_array_append_new(arr, json_pack("{s:I,s:s,s:s?,s:I,s:s,s:i,s:s,s:s}", "id",
                                         (json_int_t)d->id, "kind", d->kind, "key", d->key, "slot",
                                         (json_int_t)d->slot, "reason", d->reason, "attempts",
                                         (int)d->attempts, "first_seen", d->first_seen,
                                         "last_seen", d->last_seen));
    return 0;
  }
  printf("%-8" PRId64 " %-20s %-44s %-12" PRIu64 " x%-4ld %s  %s\n", d->id, d->kind,
         d->key ? d->key : "-", d->slot, d->attempts, d->last_seen, d->reason);
  return 0;
}

static int printable(const uint8_t *p, size_t n) {
  if (!utf8_valid(p, n, NULL)) return 0;
  for (size_t i = 0; i < n; i++)
    if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\t' && p[i] != '\r') return 0;
  return 1;
}

static int print_one(void *user, const sink_dead_letter_t *d) {
  int json = *(int *)user;
  char *b64 = d->rawlen ? b64_encode(d->raw, d->rawlen) : NULL;
  if (json) {
    json_t *o = json_pack("{s:I,s:s,s:s?,s:I,s:s,s:i,s:s,s:s,s:I,s:s?}", "id", (json_int_t)d->id,
                          "kind", d->kind, "key", d->key, "slot", (json_int_t)d->slot, "reason",
                          d->reason, "attempts", (int)d->attempts, "first_seen", d->first_seen,
                          "last_seen", d->last_seen, "raw_bytes", (json_int_t)d->rawlen,
                          "raw_base64", b64);
    if (o && d->rawlen && printable(d->raw, d->rawlen))
      json_object_set_new(o, "raw_text", json_stringn((const char *)d->raw, d->rawlen));
    char *t = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (t) puts(t);
    free(t);
    json_decref(o);
  } else {
    printf("id          %" PRId64 "\nkind        %s\nkey         %s\nslot        %" PRIu64
           "\nattempts    %ld\nfirst seen  %s\nlast seen   %s\nerror       %s\nraw bytes   %zu\n",
           d->id, d->kind, d->key ? d->key : "-", d->slot, d->attempts, d->first_seen,
           d->last_seen, d->reason, d->rawlen);
    if (d->rawlen) {
      printf("hex         ");
      for (size_t i = 0; i < d->rawlen; i++) printf("%02x", d->raw[i]);
      printf("\nbase64      %s\n", b64 ? b64 : "?");
      if (printable(d->raw, d->rawlen))
        printf("text        %.*s\n", (int)d->rawlen, (const char *)d->raw);
    }
  }
  free(b64);
  return 0;
}

static int parse_id(const char *s, int64_t *id) {
  unsigned long long v;
  if (config_parse_u64(s, &v) != 0 || v == 0 || v > INT64_MAX) return -1;
  *id = (int64_t)v;
  return 0;
}

static int dl_retry(const cbi_config_t *cfg, sink_t *s, const char *reason, int64_t id) {
  cmd_decoder_t dec;
  int rc = cmd_common_open_decoder("dead-letters", cfg, 0, &dec);
  if (rc != EXIT_OK) return rc;
  rc = EXIT_FAILURE_RUN;
  ingest_t *ing = ingest_new(dec.dec, dec.program_id, s);
  rpc_client_t *rpc = open_rpc(cfg);
  if (!ing || !rpc) goto out;
  retry_summary_t sum;
  char err[512];
  const char *commitment = strcmp(cfg->commitment, "processed") == 0 ? "confirmed" : cfg->commitment;
  if (retry_dead_letters(s, ing, rpc, commitment, reason, id, &sum, err, sizeof err) != 0) {
    log_error("dead-letters", "retry: %s", err);
    goto out;
  }
  printf("retry: tried=%" PRIu64 " applied=%" PRIu64 " still_failing=%" PRIu64
         " skipped=%" PRIu64 "\n",
         sum.tried, sum.applied, sum.failing, sum.skipped);
  rc = EXIT_OK;
out:
  rpc_client_free(rpc);
  ingest_free(ing);
  cmd_common_close_decoder(&dec);
  return rc;
}

int cmd_dead_letters(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-') {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
      dl_usage(stdout);
      return EXIT_OK;
    }
    fprintf(stderr, "crypto-bet-indexer dead-letters: an action is required\n");
    dl_usage(stderr);
    return EXIT_USAGE;
  }
  const char *action = argv[1];
  int64_t id = 0;
  int first_opt = 2;
  if (argc > 2 && argv[2][0] != '-') {
    if (parse_id(argv[2], &id) != 0) {
      fprintf(stderr, "crypto-bet-indexer dead-letters: '%s' is not a dead letter id\n", argv[2]);
      return EXIT_USAGE;
    }
    first_opt = 3;
  }
  int is_list = strcmp(action, "list") == 0, is_show = strcmp(action, "show") == 0,
      is_retry = strcmp(action, "retry") == 0, is_purge = strcmp(action, "purge") == 0;
  if (!is_list && !is_show && !is_retry && !is_purge) {
    fprintf(stderr, "crypto-bet-indexer dead-letters: unknown action '%s'\n", action);
    dl_usage(stderr);
    return EXIT_USAGE;
  }
  if ((is_show && id == 0) || ((is_list || is_purge) && id != 0)) {
    fprintf(stderr, "crypto-bet-indexer dead-letters %s: %s\n", action,
            is_show ? "an ID is required" : "takes no ID");
    return EXIT_USAGE;
  }
  char **av = calloc((size_t)(argc - first_opt + 2), sizeof *av);
  if (!av) return EXIT_FAILURE_RUN;
  av[0] = argv[0];
  int ac = 1;
  for (int i = first_opt; i < argc; i++) av[ac++] = argv[i];
  cbi_config_t cfg;
  int pr = cmd_common_parse("dead-letters", CONFIG_CMD_DEAD_LETTERS, &cfg, ac, av, dl_usage);
  free(av);
  if (pr != CMD_COMMON_CONTINUE) return pr;
  const char *reason = config_str(&cfg, CONFIG_REASON);
  const char *before = config_str(&cfg, CONFIG_BEFORE);
  if (is_purge && !before) {
    fprintf(stderr, "crypto-bet-indexer dead-letters purge: --before TIME is required\n");
    return EXIT_USAGE;
  }
  if (is_retry && id && reason) {
    fprintf(stderr, "crypto-bet-indexer dead-letters retry: give an ID or --reason, not both\n");
    return EXIT_USAGE;
  }
  sink_t *s = open_sink("dead-letters", &cfg);
  if (!s) return EXIT_FAILURE_RUN;
  int json = (int)config_u64(&cfg, CONFIG_JSON), rc = EXIT_OK;
  if (is_list) {
    json_t *arr = json ? json_array() : NULL;
    long n = sink_admin_dead_letters(s, reason, 0, 0, print_line, arr);
    if (n < 0) rc = EXIT_FAILURE_RUN;
    if (arr) {
      char *t = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
      if (t) puts(t);
      free(t);
      json_decref(arr);
    }
  } else if (is_show) {
    long n = sink_admin_dead_letters(s, NULL, id, 1, print_one, &json);
    if (n == 0) fprintf(stderr, "crypto-bet-indexer dead-letters show: no dead letter %" PRId64 "\n", id);
    if (n <= 0) rc = EXIT_FAILURE_RUN;
  } else if (is_retry) {
    rc = dl_retry(&cfg, s, reason, id);
  } else {
    long n = sink_admin_dead_letters_purge(s, before);
    if (n < 0) {
      log_error("dead-letters", "purge: %s", sink_last_error(s));
      rc = EXIT_FAILURE_RUN;
    } else {
      printf("purge: deleted=%ld\n", n);
    }
  }
  if (rc == EXIT_FAILURE_RUN && !is_retry && !is_show) log_error("dead-letters", "%s", sink_last_error(s));
  sink_close(s);
  return rc;
}
