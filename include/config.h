/* Configuration shared by every subcommand. Precedence: command-line flag,
 * then environment variable, then built-in default. Validated once. */
#ifndef CBI_CONFIG_H
#define CBI_CONFIG_H

#include <getopt.h>
#include <stdio.h>

/* Exit codes of every subcommand (README "Exit codes"). */
enum {
  EXIT_OK = 0,
  EXIT_FAILURE_RUN = 1,   /* the run failed (database, RPC, input) */
  EXIT_USAGE = 2,         /* bad flag, bad value, missing argument */
  EXIT_UNAVAILABLE = 3    /* subcommand not available in this build */
};

typedef struct cbi_config {
  const char *database_url; /* DATABASE_URL */
  const char *rpc_url;      /* SOLANA_RPC_URL, comma-separated endpoints */
  const char *ws_url;       /* SOLANA_WS_URL */
  const char *program_id;   /* PROGRAM_ID (default: the IDL's address) */
  const char *commitment;   /* COMMITMENT: processed | confirmed | finalized */
  const char *idl_path;     /* IDL_PATH (default: the embedded Crypto Bet IDL) */
  const char *log_level;    /* LOG_LEVEL: debug | info | warn | error */
} cbi_config_t;

/* getopt_long entries for the common flags; values are CONFIG_OPT_*. */
enum {
  CONFIG_OPT_DATABASE_URL = 0x1000,
  CONFIG_OPT_RPC_URL,
  CONFIG_OPT_WS_URL,
  CONFIG_OPT_PROGRAM_ID,
  CONFIG_OPT_COMMITMENT,
  CONFIG_OPT_IDL,
  CONFIG_OPT_LOG_LEVEL
};
#define CONFIG_COMMON_LONGOPTS                                        \
  {"database-url", required_argument, 0, CONFIG_OPT_DATABASE_URL},   \
      {"rpc-url", required_argument, 0, CONFIG_OPT_RPC_URL},         \
      {"ws-url", required_argument, 0, CONFIG_OPT_WS_URL},           \
      {"program-id", required_argument, 0, CONFIG_OPT_PROGRAM_ID},   \
      {"commitment", required_argument, 0, CONFIG_OPT_COMMITMENT},   \
      {"idl", required_argument, 0, CONFIG_OPT_IDL},                 \
      {"log-level", required_argument, 0, CONFIG_OPT_LOG_LEVEL}

/* Fills cfg from the environment and defaults. */
void config_init(cbi_config_t *cfg);

/* Applies a common flag. Returns 1 if opt was a common flag, else 0. */
int config_apply(cbi_config_t *cfg, int opt, const char *arg);

/* Validates values and applies the log level. 0, or -1 with a message in
 * err naming the bad setting. */
int config_finish(cbi_config_t *cfg, char *err, size_t errsz);

/* Prints the common flags' help. */
void config_print_help(FILE *out);

/* Parses a decimal u64 / positive int flag value strictly. 0 or -1. */
int config_parse_u64(const char *s, unsigned long long *out);

#endif
