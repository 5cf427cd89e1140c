/* Configuration table and its parser (config.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "base58.h"
#include "log.h"
#include "sink_jobs.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define ALL CONFIG_CMD_ALL
#define LIVE CONFIG_CMD_LIVE
#define RECONCILE CONFIG_CMD_RECONCILE
#define BACKFILL CONFIG_CMD_BACKFILL
#define SNAPSHOT CONFIG_CMD_SNAPSHOT
#define MIGRATE CONFIG_CMD_MIGRATE
#define WORKER CONFIG_CMD_WORKER
#define STATUS_CMD CONFIG_CMD_STATUS
#define DEAD CONFIG_CMD_DEAD_LETTERS

#define PATH_MAX_LEN 4095
#define SECONDS_DAY 86400

/* name, env, type, metavar, min, max, choices, default, default in words,
 * help, commands */
static const config_opt_t table[CONFIG__COUNT] = {
    [CONFIG_DATABASE_URL] = {"database-url", "DATABASE_URL", CONFIG_T_STRING, "URL", 1, PATH_MAX_LEN,
                             NULL, "postgresql:///crypto_bet", NULL, "libpq connection string", ALL},
    [CONFIG_RPC_URL] = {"rpc-url", "SOLANA_RPC_URL", CONFIG_T_STRING, "URL[,URL]", 1, PATH_MAX_LEN,
                        NULL, "http://127.0.0.1:8899", NULL,
                        "JSON-RPC endpoint(s); comma-separated endpoints rotate on failure", ALL},
    [CONFIG_WS_URL] = {"ws-url", "SOLANA_WS_URL", CONFIG_T_STRING, "URL", 1, PATH_MAX_LEN, NULL,
                       "ws://127.0.0.1:8900", NULL, "websocket endpoint", ALL},
    [CONFIG_PROGRAM_ID] = {"program-id", "PROGRAM_ID", CONFIG_T_PUBKEY, "KEY", 0, 0, NULL, NULL,
                           "the IDL's address", "program address (base58)", ALL},
    [CONFIG_COMMITMENT] = {"commitment", "COMMITMENT", CONFIG_T_ENUM, "LEVEL", 0, 0,
                           "processed|confirmed|finalized", "confirmed", NULL, "commitment level",
                           ALL},
    [CONFIG_IDL] = {"idl", "IDL_PATH", CONFIG_T_STRING, "FILE", 1, PATH_MAX_LEN, NULL, NULL,
                    "embedded idl/crypto_bet.json", "Anchor IDL file", ALL},
    [CONFIG_LOG_LEVEL] = {"log-level", "LOG_LEVEL", CONFIG_T_ENUM, "LEVEL", 0, 0,
                          "debug|info|warn|error", "info", NULL, "least severe level logged", ALL},
    [CONFIG_LOG_FORMAT] = {"log-format", "LOG_FORMAT", CONFIG_T_ENUM, "FORMAT", 0, 0, "text|json",
                           "text", NULL,
                           "log line format: text, or json (one object per line, for log "
                           "shippers)",
                           ALL},

    [CONFIG_START_SLOT] = {"start-slot", NULL, CONFIG_T_U64, "N", 0, INT64_MAX, NULL, NULL,
                           "the program's first transaction",
                           "first run on an empty database: index history from slot N", LIVE},
    [CONFIG_MAX_MESSAGE_BYTES] = {"max-message-bytes", NULL, CONFIG_T_U64, "N", 1024, 1ull << 30,
                                  NULL, "4194304", NULL,
                                  "websocket message cap; longer messages are dead-lettered", LIVE},
    [CONFIG_QUEUE_BYTES] = {"queue-bytes", NULL, CONFIG_T_U64, "N", 4096, 1ull << 34, NULL,
                            "16777216", NULL,
                            "backlog between the websocket and the writer, at least twice the "
                            "message cap; when full, reading stops",
                            LIVE},
    [CONFIG_PING_INTERVAL] = {"ping-interval", NULL, CONFIG_T_U64, "S", 1, 30, NULL, "20", NULL,
                              "websocket ping every S seconds", LIVE},
    [CONFIG_STALL_TIMEOUT] = {"stall-timeout", NULL, CONFIG_T_U64, "S", 1, SECONDS_DAY, NULL, "60",
                              NULL,
                              "reconnect when no message came for S seconds (more than the ping "
                              "interval)",
                              LIVE},
    [CONFIG_SLOT_TIMEOUT] = {"slot-timeout", NULL, CONFIG_T_U64, "S", 0, SECONDS_DAY, NULL, "30",
                             NULL, "reconnect when no new slot came for S seconds; 0 = off", LIVE},
    [CONFIG_RECONCILE_INTERVAL] = {"reconcile-interval", NULL, CONFIG_T_U64, "S", 0,
                                   30 * SECONDS_DAY, NULL, "600", NULL,
                                   "mark closed accounts every S seconds; 0 = off", LIVE},
    [CONFIG_STATUS_INTERVAL] = {"status-interval", NULL, CONFIG_T_U64, "S", 0, SECONDS_DAY, NULL,
                                "30", NULL, "status line every S seconds; 0 = off", LIVE},
    [CONFIG_EXIT_WHEN_IDLE] = {"exit-when-idle", NULL, CONFIG_T_U64, "MS", 1, 86400000, NULL, NULL,
                               "off",
                               "exit 0 once no notification came for MS ms and everything is "
                               "flushed (tests, demo)",
                               LIVE},
    [CONFIG_LIVE_CONCURRENCY] = {"concurrency", NULL, CONFIG_T_U64, "N", 1, 1024, NULL, "32", NULL,
                                 "getTransaction calls in flight", LIVE},
    [CONFIG_LIVE_RECORD] = {"record", NULL, CONFIG_T_STRING, "DIR", 1, PATH_MAX_LEN, NULL, NULL,
                            "off",
                            "append every RPC exchange and notification to DIR (fixture format: "
                            "rpc.jsonl, ws.jsonl)",
                            LIVE},
    [CONFIG_HTTP_LISTEN] = {"http-listen", "HTTP_LISTEN", CONFIG_T_STRING, "ADDR:PORT", 0, 255, NULL,
                            "127.0.0.1:9464", NULL,
                            "serve /metrics, /healthz and /ready here; \"off\" = no HTTP "
                            "endpoint",
                            LIVE},
    [CONFIG_READY_MAX_LAG] = {"ready-max-lag", "READY_MAX_LAG", CONFIG_T_U64, "SLOTS", 1, 1000000,
                              NULL, "150", NULL,
                              "/ready answers 200 only while the checkpoint is within SLOTS of "
                              "the chain tip (150 slots: about a minute)",
                              LIVE},
    [CONFIG_INSECURE] = {"insecure", NULL, CONFIG_T_FLAG, NULL, 0, 1, NULL, NULL, "off",
                         "do not verify TLS certificates (wss:// and https://)",
                        LIVE | RECONCILE | STATUS_CMD | DEAD},

    [CONFIG_FROM_SLOT] = {"from-slot", NULL, CONFIG_T_U64, "A", 0, UINT64_MAX - 1, NULL, NULL,
                          "none (required)", "first slot of the range", BACKFILL},
    [CONFIG_TO_SLOT] = {"to-slot", NULL, CONFIG_T_U64, "B", 0, UINT64_MAX - 1, NULL, NULL,
                        "the chain tip (getSlot)", "last slot of the range (inclusive)", BACKFILL},
    [CONFIG_STRATEGY] = {"strategy", NULL, CONFIG_T_ENUM, "S", 0, 0, "signatures|blocks",
                         "signatures", NULL,
                         "signatures: getSignaturesForAddress + getTransaction; blocks: getBlocks "
                         "+ getBlock of every slot",
                         BACKFILL},
    [CONFIG_BACKFILL_CONCURRENCY] = {"concurrency", NULL, CONFIG_T_U64, "N", 1, 1024, NULL,
                                     STR(BACKFILL_DEFAULT_CONCURRENCY), NULL,
                                     "RPC calls in flight (worker: per chunk)",
                                     BACKFILL | WORKER},
    [CONFIG_BATCH] = {"batch", NULL, CONFIG_T_U64, "B", 1, 100, NULL, STR(BACKFILL_DEFAULT_BATCH),
                      NULL,
                      "calls per HTTP request (JSON-RPC batch; 1 = none): at most ceil(N/B) "
                      "requests in flight",
                      BACKFILL | WORKER},
    [CONFIG_SIG_PAGE_LIMIT] = {"sig-page-limit", NULL, CONFIG_T_U64, "N", 1, 1000, NULL, "1000",
                               NULL, "getSignaturesForAddress page size", BACKFILL},
    [CONFIG_NO_REFRESH] = {"no-refresh", NULL, CONFIG_T_FLAG, NULL, 0, 1, NULL, NULL, "off",
                           "do not read the touched accounts at the end", BACKFILL},
    [CONFIG_RESTART] = {"restart", NULL, CONFIG_T_FLAG, NULL, 0, 1, NULL, NULL, "off",
                        "ignore the checkpoint and redo the whole range", BACKFILL},
    [CONFIG_CHECKPOINT_STREAM] = {"checkpoint-stream", NULL, CONFIG_T_STRING, "S", 1, 63, NULL,
                                  NULL, "backfill:<A>", "checkpoint stream name", BACKFILL},
    [CONFIG_PROGRESS] = {"progress", NULL, CONFIG_T_ENUM, "MODE", 0, 0, "auto|bar|log|none", "auto",
                         NULL,
                         "auto: a bar on a terminal, else a log line every 5 s", BACKFILL},
    [CONFIG_RPC_RECORD] = {"record", NULL, CONFIG_T_STRING, "DIR", 1, PATH_MAX_LEN, NULL, NULL,
                           "off",
                           "append every RPC request/response to DIR/rpc.jsonl (fixture format)",
                           BACKFILL | SNAPSHOT},

    [CONFIG_STATUS] = {"status", NULL, CONFIG_T_FLAG, NULL, 0, 1, NULL, NULL, "off",
                       "list each migration as applied, pending or mismatched and change "
                       "nothing; exit 0 when all are applied, 1 otherwise",
                       MIGRATE},

    [CONFIG_ENQUEUE] = {"enqueue", NULL, CONFIG_T_FLAG, NULL, 0, 1, NULL, NULL, "off",
                        "do not run the range here: enqueue it as a job for the workers "
                        "(prints the job id)",
                        BACKFILL},
    [CONFIG_CHUNK_SLOTS] = {"chunk-slots", NULL, CONFIG_T_U64, "N", 1, INT64_MAX, NULL,
                            STR(SINK_JOBS_DEFAULT_CHUNK_SLOTS), NULL,
                            "with --enqueue: slots per chunk (the unit a worker claims)",
                            BACKFILL},
    [CONFIG_JOB_STATUS] = {"status", NULL, CONFIG_T_U64, "[ID]", 0, INT64_MAX, NULL, NULL,
                           "all jobs",
                           "show job ID (or the newest jobs): progress, rate, ETA, last error",
                           BACKFILL},
    [CONFIG_JOB_CANCEL] = {"cancel", NULL, CONFIG_T_U64, "ID", 1, INT64_MAX, NULL, NULL, "none",
                           "cancel job ID (running chunks stop at their next heartbeat)",
                           BACKFILL},
    [CONFIG_JOB_WAIT] = {"wait", NULL, CONFIG_T_U64, "ID", 1, INT64_MAX, NULL, NULL, "none",
                         "block until job ID ends; exit 0 when done, 1 when failed or cancelled",
                         BACKFILL},
    [CONFIG_JSON] = {"json", NULL, CONFIG_T_FLAG, NULL, 0, 1, NULL, NULL, "off",
                     "print JSON instead of text (backfill: with --status / --enqueue)",
                     BACKFILL | STATUS_CMD | DEAD},
    [CONFIG_WORKER_JOBS] = {"job-concurrency", NULL, CONFIG_T_U64, "N", 1, 256, NULL,
                            "2", NULL, "job chunks run at once", WORKER},
    [CONFIG_JOB_LEASE] = {"lease", NULL, CONFIG_T_U64, "S", 2, 3600, NULL,
                          STR(SINK_JOBS_DEFAULT_LEASE_S), NULL,
                          "chunk lease in seconds, renewed every S/4; a dead worker's chunk is "
                          "claimed again after it",
                          LIVE | WORKER},
    [CONFIG_EXIT_WHEN_DONE] = {"exit-when-done", NULL, CONFIG_T_FLAG, NULL, 0, 1, NULL, NULL,
                               "off", "exit 0 once no job is pending or running", WORKER},
    [CONFIG_LIVE_JOBS] = {"job-concurrency", NULL, CONFIG_T_U64, "N", 0, 64, NULL, "0", NULL,
                          "backfill job chunks run in the background, on separate connections "
                          "(0 = none)",
                          LIVE},
    [CONFIG_LEADER_LEASE] = {"leader-lease", NULL, CONFIG_T_U64, "S", 0, 600, NULL, "0", NULL,
                             "replicas on one database (set it on each, e.g. 5): one leads "
                             "(holds this lease, renewed every S/4), the others stand by and "
                             "take over within about 1.25 S; 0 = no leadership (one instance)",
                             LIVE},
    [CONFIG_REASON] = {"reason", NULL, CONFIG_T_STRING, "KIND", 1, 32, NULL, NULL, "every kind",
                       "only dead letters of this kind (account, ws-message, "
                       "transaction-missing, ...)",
                       DEAD},
    [CONFIG_BEFORE] = {"before", NULL, CONFIG_T_STRING, "TIME", 1, 64, NULL, NULL,
                       "none (required by purge)",
                       "purge: dead letters last seen before TIME (e.g. 2026-01-31 or "
                       "2026-01-31T12:00:00Z)",
                       DEAD},
};

const config_opt_t *config_table(void) { return table; }

const char *config_strerror(int code) {
  switch (code) {
  case CONFIG_OK: return "ok";
  case CONFIG_HELP: return "help requested";
  case CONFIG_ERR_OPTION: return "unknown option";
  case CONFIG_ERR_ARGUMENT: return "option needs an argument";
  case CONFIG_ERR_VALUE: return "invalid option value";
  case CONFIG_ERR_ENV: return "invalid environment value";
  case CONFIG_ERR_OPERAND: return "unexpected argument";
  case CONFIG_ERR_LOG_LEVEL: return "invalid log level";
  default: return "unknown error";
  }
}

int config_parse_u64(const char *s, unsigned long long *out) {
  /* Digits only: strtoull alone would skip leading white space and accept
   * a sign, wrapping " -1" to UINT64_MAX. */
  if (!s || *s < '0' || *s > '9') return -1;
  errno = 0;
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0') return -1;
  *out = v;
  return 0;
}

/* 1 when s is one of the '|'-separated choices. */
static int enum_has(const char *choices, const char *s) {
  size_t n = strlen(s);
  for (const char *p = choices; p && *p;) {
    const char *bar = strchr(p, '|');
    size_t k = bar ? (size_t)(bar - p) : strlen(p);
    if (k == n && n > 0 && strncmp(p, s, k) == 0) return 1;
    p = bar ? bar + 1 : NULL;
  }
  return 0;
}

/* Checks text against row o; sets *v. 0, or -1 with the reason in why. */
static int value_from_text(const config_opt_t *o, const char *text, config_value_t *v, char *why,
                           size_t whysz) {
  unsigned long long u = 0;
  switch (o->type) {
  case CONFIG_T_FLAG:
    v->u64 = 1;
    v->str = "1";
    return 0;
  case CONFIG_T_U64:
    if (config_parse_u64(text, &u) != 0 || u < o->min || u > o->max) {
      snprintf(why, whysz, "expected an integer in %llu..%llu, got '%.64s'",
               (unsigned long long)o->min, (unsigned long long)o->max, text);
      return -1;
    }
    v->u64 = u;
    v->str = text;
    return 0;
  case CONFIG_T_ENUM:
    if (!enum_has(o->choices, text)) {
      snprintf(why, whysz, "expected one of %s, got '%.64s'", o->choices, text);
      return -1;
    }
    v->str = text;
    return 0;
  case CONFIG_T_PUBKEY:
    if (!base58_text_ok(text, 32)) {
      snprintf(why, whysz, "expected a base58 pubkey (32 bytes), got '%.64s'", text);
      return -1;
    }
    v->str = text;
    return 0;
  case CONFIG_T_STRING:
    if (strlen(text) < o->min || strlen(text) > o->max) {
      snprintf(why, whysz, "expected %llu..%llu bytes, got %zu", (unsigned long long)o->min,
               (unsigned long long)o->max, strlen(text));
      return -1;
    }
    v->str = text;
    return 0;
  }
  return -1;
}

int config_set(cbi_config_t *cfg, config_id_t id, const char *text, char *err, size_t errsz) {
  char why[160];
  config_value_t v = cfg->v[id];
  if (value_from_text(&table[id], text ? text : "", &v, why, sizeof why) != 0) {
    snprintf(err, errsz, "--%s: %s", table[id].name, why);
    return CONFIG_ERR_VALUE;
  }
  v.set = 1;
  cfg->v[id] = v;
  return CONFIG_OK;
}

/* Remembers the first bad value for config_finish. */
static void note_bad(cbi_config_t *cfg, int code, const char *msg) {
  if (cfg->bad_code) return;
  cfg->bad_code = code;
  snprintf(cfg->bad_msg, sizeof cfg->bad_msg, "%s", msg);
}

void config_init(cbi_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  for (int i = 0; i < CONFIG__COUNT; i++) {
    const config_opt_t *o = &table[i];
    if (o->dflt) {
      char why[160];
      /* defaults are checked by tests/test_config.c; a bad one stays unset */
      if (value_from_text(o, o->dflt, &cfg->v[i], why, sizeof why) != 0) cfg->v[i].str = NULL;
    }
    const char *e = o->env ? getenv(o->env) : NULL;
    if (e && *e) {
      char why[160], msg[240];
      config_value_t v = cfg->v[i];
      if (value_from_text(o, e, &v, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, "%s: %s", o->env, why);
        note_bad(cfg, CONFIG_ERR_ENV, msg);
      } else {
        v.set = 1;
        cfg->v[i] = v;
      }
    }
  }
}

int config_apply(cbi_config_t *cfg, int opt, const char *arg) {
  int id = opt - CONFIG_OPT_BASE;
  if (id < 0 || id >= CONFIG__COUNT || table[id].commands != CONFIG_CMD_ALL) return 0;
  char msg[240];
  if (config_set(cfg, (config_id_t)id, arg, msg, sizeof msg) != 0)
    note_bad(cfg, CONFIG_ERR_VALUE, msg);
  return 1;
}

int config_parse(cbi_config_t *cfg, unsigned cmd, int argc, char **argv, char *err, size_t errsz) {
  struct option longopts[CONFIG__COUNT + 2];
  size_t n = 0;
  for (int i = 0; i < CONFIG__COUNT; i++) {
    if (!(table[i].commands & cmd)) continue;
    longopts[n].name = table[i].name;
    longopts[n].has_arg = table[i].type == CONFIG_T_FLAG ? no_argument : required_argument;
    longopts[n].flag = NULL;
    longopts[n].val = CONFIG_OPT_BASE + i;
    n++;
  }
  longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
  longopts[n] = (struct option){NULL, 0, NULL, 0};
  int opt;
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    const char *word = argv[optind - 1];
    if (opt == 'h') return CONFIG_HELP;
    if (opt == ':') {
      snprintf(err, errsz, "option '%s' needs an argument", word);
      return CONFIG_ERR_ARGUMENT;
    }
    if (opt == '?' || opt < CONFIG_OPT_BASE || opt >= CONFIG_OPT_BASE + CONFIG__COUNT) {
      snprintf(err, errsz, "unknown option '%s'", word);
      return CONFIG_ERR_OPTION;
    }
    int rc = config_set(cfg, (config_id_t)(opt - CONFIG_OPT_BASE), optarg, err, errsz);
    if (rc != CONFIG_OK) return rc;
  }
  if (optind < argc) {
    snprintf(err, errsz, "unexpected argument '%s'", argv[optind]);
    return CONFIG_ERR_OPERAND;
  }
  return CONFIG_OK;
}

int config_finish(cbi_config_t *cfg, char *err, size_t errsz) {
  if (cfg->bad_code) {
    snprintf(err, errsz, "%s", cfg->bad_msg);
    return cfg->bad_code;
  }
  cfg->database_url = cfg->v[CONFIG_DATABASE_URL].str;
  cfg->rpc_url = cfg->v[CONFIG_RPC_URL].str;
  cfg->ws_url = cfg->v[CONFIG_WS_URL].str;
  cfg->program_id = cfg->v[CONFIG_PROGRAM_ID].str;
  cfg->commitment = cfg->v[CONFIG_COMMITMENT].str;
  cfg->idl_path = cfg->v[CONFIG_IDL].str;
  cfg->log_level = cfg->v[CONFIG_LOG_LEVEL].str;
  cfg->log_format = cfg->v[CONFIG_LOG_FORMAT].str;
  if (log_set_format_name(cfg->log_format) != 0) {
    snprintf(err, errsz, "invalid log format '%s' (text, json)", cfg->log_format);
    return CONFIG_ERR_VALUE;
  }
  if (log_set_level(cfg->log_level) != 0) {
    snprintf(err, errsz, "invalid log level '%s' (debug, info, warn, error)", cfg->log_level);
    return CONFIG_ERR_LOG_LEVEL;
  }
  return CONFIG_OK;
}

const char *config_str(const cbi_config_t *cfg, config_id_t id) { return cfg->v[id].str; }
uint64_t config_u64(const cbi_config_t *cfg, config_id_t id) { return cfg->v[id].u64; }
int config_is_set(const cbi_config_t *cfg, config_id_t id) { return cfg->v[id].set; }

/* ---- help and README ------------------------------------------------------ */

#define HELP_COL 26
#define HELP_WIDTH 79

/* "(env X, 1..30, default 20)" for row o. */
static void detail(const config_opt_t *o, int with_env, char *buf, size_t bufsz) {
  size_t n = 0;
  buf[0] = '\0';
#define ADD(...)                                                              \
  do {                                                                        \
    int k_ = snprintf(buf + n, bufsz - n, __VA_ARGS__);                       \
    if (k_ > 0) n = (size_t)k_ < bufsz - n ? n + (size_t)k_ : bufsz - 1;      \
  } while (0)
  ADD("(");
  if (with_env && o->env) ADD("env %s, ", o->env);
  if (o->type == CONFIG_T_U64) ADD("%llu..%llu, ", (unsigned long long)o->min, (unsigned long long)o->max);
  if (o->type == CONFIG_T_ENUM) ADD("%s, ", o->choices);
  if (o->dflt) ADD("default %s)", o->dflt);
  else if (o->dflt_doc) ADD("default: %s)", o->dflt_doc);
  else ADD("no default)");
#undef ADD
}

/* Writes text word by word from column col, wrapping at HELP_WIDTH with
 * continuation lines starting at HELP_COL. */
static void wrap(FILE *out, size_t col, const char *text) {
  int first = 1;
  for (const char *p = text; *p;) {
    while (*p == ' ') p++;
    size_t w = strcspn(p, " ");
    if (w == 0) break;
    if (!first && col + 1 + w > HELP_WIDTH) {
      fprintf(out, "\n%*s", HELP_COL, "");
      col = HELP_COL;
    } else if (!first) {
      fputc(' ', out);
      col++;
    }
    fwrite(p, 1, w, out);
    col += w;
    p += w;
    first = 0;
  }
  fputc('\n', out);
}

static void help_row(FILE *out, const config_opt_t *o, int with_env) {
  char det[200], text[600];
  int k = fprintf(out, "  --%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
  size_t col = k > 0 ? (size_t)k : 0;
  if (col + 1 >= HELP_COL) fprintf(out, "\n%*s", HELP_COL, "");
  else fprintf(out, "%*s", (int)(HELP_COL - col), "");
  detail(o, with_env, det, sizeof det);
  snprintf(text, sizeof text, "%s %s", o->help, o->type == CONFIG_T_FLAG ? "" : det);
  wrap(out, HELP_COL, text);
}

void config_print_help(FILE *out, unsigned cmd) {
  int own = 0;
  for (int i = 0; i < CONFIG__COUNT; i++) {
    if (table[i].commands == CONFIG_CMD_ALL || !(table[i].commands & cmd)) continue;
    if (!own++) fputs("Options:\n", out);
    help_row(out, &table[i], 1);
  }
  /* commands without table options (decode) list their own flags and -h */
  if (own) fputs("  -h, --help              show this help\n\n", out);
  fputs("Common options (flag, then environment variable, then default):\n", out);
  for (int i = 0; i < CONFIG__COUNT; i++)
    if (table[i].commands == CONFIG_CMD_ALL) help_row(out, &table[i], 1);
}

static const char *const cmd_names[] = {"live",    "reconcile", "backfill", "snapshot", "migrate",
                                        "decode",  "worker",    "status",   "dead-letters"};

void config_print_markdown(FILE *out) {
  fputs("| flag | environment | commands | values | default | what |\n"
        "|---|---|---|---|---|---|\n",
        out);
  for (int i = 0; i < CONFIG__COUNT; i++) {
    const config_opt_t *o = &table[i];
    char cmds[96] = "", vals[96], dflt[96];
    if (o->commands == CONFIG_CMD_ALL) {
      snprintf(cmds, sizeof cmds, "all");
    } else {
      size_t n = 0;
      for (size_t c = 0; c < sizeof cmd_names / sizeof cmd_names[0]; c++)
        if (o->commands & (1u << c)) {
          int k = snprintf(cmds + n, sizeof cmds - n, "%s%s", n ? ", " : "", cmd_names[c]);
          if (k > 0 && (size_t)k < sizeof cmds - n) n += (size_t)k;
        }
    }
    switch (o->type) {
    case CONFIG_T_U64:
      snprintf(vals, sizeof vals, "%llu..%llu", (unsigned long long)o->min,
               (unsigned long long)o->max);
      break;
    case CONFIG_T_ENUM: {
      /* a|b -> `a`, `b` (a '|' would split the markdown cell) */
      size_t n = 0;
      vals[n++] = '`';
      for (const char *p = o->choices; *p && n + 6 < sizeof vals; p++) {
        if (*p == '|') {
          memcpy(vals + n, "`, `", 4);
          n += 4;
        } else {
          vals[n++] = *p;
        }
      }
      vals[n++] = '`';
      vals[n] = '\0';
      break;
    }
    case CONFIG_T_FLAG: snprintf(vals, sizeof vals, "flag"); break;
    case CONFIG_T_PUBKEY: snprintf(vals, sizeof vals, "base58 pubkey"); break;
    case CONFIG_T_STRING:
      if (o->max < PATH_MAX_LEN)
        snprintf(vals, sizeof vals, "%s, %llu..%llu bytes", o->metavar, (unsigned long long)o->min,
                 (unsigned long long)o->max);
      else
        snprintf(vals, sizeof vals, "%s", o->metavar);
      break;
    }
    if (o->dflt) snprintf(dflt, sizeof dflt, "`%s`", o->dflt);
    else if (o->dflt_doc && strpbrk(o->dflt_doc, "<>"))
      snprintf(dflt, sizeof dflt, "`%s`", o->dflt_doc); /* literal text, not markup */
    else snprintf(dflt, sizeof dflt, "%s", o->dflt_doc ? o->dflt_doc : "");
    fprintf(out, "| `--%s` | %s | %s | %s | %s | %s |\n", o->name, o->env ? o->env : "",
            cmds, vals, dflt, o->help);
  }
}
