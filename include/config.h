/* Configuration: one table (config.c) of every option -- flag name,
 * environment variable, type, bounds, default, help -- drives option
 * parsing, `--help` and README's configuration table (checked by
 * tests/test_config.c). Precedence: command-line flag, then environment
 * variable, then the table's default. Validated once, before any work. */
#ifndef CBI_CONFIG_H
#define CBI_CONFIG_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes of every subcommand (README "Exit codes"). */
enum {
  EXIT_OK = 0,
  EXIT_FAILURE_RUN = 1,   /* the run failed (database, RPC, input) */
  EXIT_USAGE = 2,         /* bad flag, bad value, missing argument */
  EXIT_UNAVAILABLE = 3    /* subcommand not available in this build */
};

/* Error codes of this module (config_strerror). */
enum {
  CONFIG_OK = 0,
  CONFIG_HELP = 1,            /* config_parse: --help / -h was given */
  CONFIG_ERR_OPTION = -1,     /* unknown option */
  CONFIG_ERR_ARGUMENT = -2,   /* an option is missing its argument */
  CONFIG_ERR_VALUE = -3,      /* a flag's value is out of type or bounds */
  CONFIG_ERR_ENV = -4,        /* an environment variable's value is out of type or bounds */
  CONFIG_ERR_OPERAND = -5,    /* an operand where the command takes none */
  CONFIG_ERR_LOG_LEVEL = -6   /* the log level could not be applied */
};

/* Commands an option belongs to (bit mask). */
enum {
  CONFIG_CMD_LIVE = 1u << 0,
  CONFIG_CMD_RECONCILE = 1u << 1,
  CONFIG_CMD_BACKFILL = 1u << 2,
  CONFIG_CMD_SNAPSHOT = 1u << 3,
  CONFIG_CMD_MIGRATE = 1u << 4,
  CONFIG_CMD_DECODE = 1u << 5,
  CONFIG_CMD_WORKER = 1u << 6,
  CONFIG_CMD_STATUS = 1u << 7,
  CONFIG_CMD_DEAD_LETTERS = 1u << 8,
  CONFIG_CMD_ALL = (1u << 9) - 1 /* the common options */
};

typedef enum {
  CONFIG_T_STRING, /* bounds: length in bytes */
  CONFIG_T_PUBKEY, /* base58 text of 32 bytes (base58_text_ok) */
  CONFIG_T_ENUM,   /* one of choices ("a|b|c") */
  CONFIG_T_U64,    /* decimal digits only, within [min, max] */
  CONFIG_T_FLAG    /* no argument; set or not */
} config_type_t;

/* Every option, by identifier (index into the table). */
typedef enum {
  /* common to every command */
  CONFIG_DATABASE_URL,
  CONFIG_RPC_URL,
  CONFIG_WS_URL,
  CONFIG_PROGRAM_ID,
  CONFIG_COMMITMENT,
  CONFIG_IDL,
  CONFIG_LOG_LEVEL,
  CONFIG_LOG_FORMAT,
  /* live */
  CONFIG_START_SLOT,
  CONFIG_MAX_MESSAGE_BYTES,
  CONFIG_QUEUE_BYTES,
  CONFIG_PING_INTERVAL,
  CONFIG_STALL_TIMEOUT,
  CONFIG_SLOT_TIMEOUT,
  CONFIG_RECONCILE_INTERVAL,
  CONFIG_STATUS_INTERVAL,
  CONFIG_EXIT_WHEN_IDLE,
  CONFIG_LIVE_CONCURRENCY,
  CONFIG_LIVE_RECORD,
  CONFIG_HTTP_LISTEN,
  CONFIG_READY_MAX_LAG,
  /* live, reconcile */
  CONFIG_INSECURE,
  /* backfill */
  CONFIG_FROM_SLOT,
  CONFIG_TO_SLOT,
  CONFIG_STRATEGY,
  CONFIG_BACKFILL_CONCURRENCY,
  CONFIG_BATCH,
  CONFIG_SIG_PAGE_LIMIT,
  CONFIG_NO_REFRESH,
  CONFIG_RESTART,
  CONFIG_CHECKPOINT_STREAM,
  CONFIG_PROGRESS,
  /* backfill, snapshot */
  CONFIG_RPC_RECORD,
  /* migrate */
  CONFIG_STATUS,
  /* backfill jobs (backfill) */
  CONFIG_ENQUEUE,
  CONFIG_CHUNK_SLOTS,
  CONFIG_JOB_STATUS,
  CONFIG_JOB_CANCEL,
  CONFIG_JOB_WAIT,
  CONFIG_JSON,
  /* worker */
  CONFIG_WORKER_JOBS,
  CONFIG_JOB_LEASE,
  CONFIG_EXIT_WHEN_DONE,
  /* live replicas */
  CONFIG_LIVE_JOBS,
  CONFIG_LEADER_LEASE,
  /* status, dead-letters (and --json of backfill --status) */
  CONFIG_REASON,
  CONFIG_BEFORE,
  CONFIG__COUNT
} config_id_t;

/* One row of the table. All strings are static. */
typedef struct config_opt {
  const char *name;      /* long flag without "--" */
  const char *env;       /* environment variable, or NULL */
  config_type_t type;
  const char *metavar;   /* argument name in the help ("URL", "N"); NULL for flags */
  uint64_t min, max;     /* U64: value bounds; STRING: length bounds */
  const char *choices;   /* ENUM: "a|b|c" */
  const char *dflt;      /* default value as text, or NULL (unset) */
  const char *dflt_doc;  /* the default in words when it is not a literal, or NULL */
  const char *help;      /* one sentence, no trailing period */
  unsigned commands;     /* CONFIG_CMD_* mask */
} config_opt_t;

typedef struct config_value {
  const char *str; /* text (flag argument, environment or default; borrowed), NULL if none */
  uint64_t u64;    /* U64 value; FLAG: 1 when set */
  int set;         /* given by a flag or the environment (not the default) */
} config_value_t;

typedef struct cbi_config {
  /* the common options, filled by config_finish (shortcuts for v[]) */
  const char *database_url; /* DATABASE_URL */
  const char *rpc_url;      /* SOLANA_RPC_URL, comma-separated endpoints */
  const char *ws_url;       /* SOLANA_WS_URL */
  const char *program_id;   /* PROGRAM_ID (NULL: the IDL's address) */
  const char *commitment;   /* COMMITMENT: processed | confirmed | finalized */
  const char *idl_path;     /* IDL_PATH (NULL: the embedded Crypto Bet IDL) */
  const char *log_level;    /* LOG_LEVEL: debug | info | warn | error */
  const char *log_format;   /* LOG_FORMAT: text | json */
  config_value_t v[CONFIG__COUNT];
  int bad_code;             /* first bad value seen before config_finish (CONFIG_ERR_*), or 0 */
  char bad_msg[240];        /* its message */
} cbi_config_t;

/* The table: CONFIG__COUNT rows in config_id_t order. */
const config_opt_t *config_table(void);

/* "ok", "unknown option", ... or "unknown error". */
const char *config_strerror(int code);

/* Fills cfg with the defaults, then the environment variables of every
 * option (an empty variable counts as unset). A value from the environment
 * that fails its type or bounds is remembered and reported by
 * config_finish. */
void config_init(cbi_config_t *cfg);

/* Sets option id from text (a flag's argument, or "1" for a FLAG).
 * Returns 0, or CONFIG_ERR_VALUE with "--name: reason" in err. */
int config_set(cbi_config_t *cfg, config_id_t id, const char *text, char *err, size_t errsz);

/* Parses argv[1..argc) (argv[0] is the command) for the options of the
 * commands in cmd (CONFIG_CMD_* mask, common options included), after
 * config_init. Operands are refused. Returns CONFIG_OK, CONFIG_HELP when
 * --help / -h was given (nothing else is checked), or a negative CONFIG_ERR_*
 * with a message in err. Then call config_finish. */
int config_parse(cbi_config_t *cfg, unsigned cmd, int argc, char **argv, char *err, size_t errsz);

/* Reports a bad environment value, fills the shortcut fields and applies
 * the log level and the log format. Returns 0, or a negative CONFIG_ERR_* with a message in
 * err naming the bad setting. */
int config_finish(cbi_config_t *cfg, char *err, size_t errsz);

/* Typed access to a value after config_finish. */
const char *config_str(const cbi_config_t *cfg, config_id_t id); /* NULL if none */
uint64_t config_u64(const cbi_config_t *cfg, config_id_t id);    /* U64 / FLAG (0/1) */
int config_is_set(const cbi_config_t *cfg, config_id_t id);      /* by flag or env */

/* Prints the help of the options of cmd: the command's own first, then
 * the common options with their environment variables. */
void config_print_help(FILE *out, unsigned cmd);

/* Prints README's configuration table (markdown) from the table. */
void config_print_markdown(FILE *out);

/* getopt_long entries of the common options, for commands that parse their
 * own flags (decode); values are CONFIG_OPT_BASE + config_id_t, handled by
 * config_apply. tests/test_config.c checks them against the table. */
#define CONFIG_OPT_BASE 0x1000
#define CONFIG_OPT_DATABASE_URL (CONFIG_OPT_BASE + CONFIG_DATABASE_URL)
#define CONFIG_OPT_COMMITMENT (CONFIG_OPT_BASE + CONFIG_COMMITMENT)
#define CONFIG_COMMON_LONGOPTS                                                         \
  {"database-url", required_argument, 0, CONFIG_OPT_BASE + CONFIG_DATABASE_URL},      \
      {"rpc-url", required_argument, 0, CONFIG_OPT_BASE + CONFIG_RPC_URL},            \
      {"ws-url", required_argument, 0, CONFIG_OPT_BASE + CONFIG_WS_URL},              \
      {"program-id", required_argument, 0, CONFIG_OPT_BASE + CONFIG_PROGRAM_ID},      \
      {"commitment", required_argument, 0, CONFIG_OPT_BASE + CONFIG_COMMITMENT},      \
      {"idl", required_argument, 0, CONFIG_OPT_BASE + CONFIG_IDL},                    \
      {"log-level", required_argument, 0, CONFIG_OPT_BASE + CONFIG_LOG_LEVEL},        \
      {"log-format", required_argument, 0, CONFIG_OPT_BASE + CONFIG_LOG_FORMAT}

/* Applies a common flag from a getopt_long loop over CONFIG_COMMON_LONGOPTS.
 * Returns 1 if opt was a common flag (a bad value is reported by
 * config_finish), else 0. */
int config_apply(cbi_config_t *cfg, int opt, const char *arg);

/* Parses a decimal u64 strictly (digits only, no sign, no white space).
 * 0 or -1. */
int config_parse_u64(const char *s, unsigned long long *out);

#endif
