#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *env_or(const char *name, const char *dflt) {
  const char *v = getenv(name);
  return (v && *v) ? v : dflt;
}

void config_init(cbi_config_t *cfg) {
  cfg->database_url = env_or("DATABASE_URL", "postgresql:///crypto_bet");
  cfg->rpc_url = env_or("SOLANA_RPC_URL", "http://127.0.0.1:8899");
  cfg->ws_url = env_or("SOLANA_WS_URL", "ws://127.0.0.1:8900");
  cfg->program_id = env_or("PROGRAM_ID", NULL);
  cfg->commitment = env_or("COMMITMENT", "confirmed");
  cfg->idl_path = env_or("IDL_PATH", NULL);
  cfg->log_level = env_or("LOG_LEVEL", "info");
}

int config_apply(cbi_config_t *cfg, int opt, const char *arg) {
  switch (opt) {
  case CONFIG_OPT_DATABASE_URL: cfg->database_url = arg; return 1;
  case CONFIG_OPT_RPC_URL: cfg->rpc_url = arg; return 1;
  case CONFIG_OPT_WS_URL: cfg->ws_url = arg; return 1;
  case CONFIG_OPT_PROGRAM_ID: cfg->program_id = arg; return 1;
  case CONFIG_OPT_COMMITMENT: cfg->commitment = arg; return 1;
  case CONFIG_OPT_IDL: cfg->idl_path = arg; return 1;
  case CONFIG_OPT_LOG_LEVEL: cfg->log_level = arg; return 1;
  default: return 0;
  }
}

int config_finish(cbi_config_t *cfg, char *err, size_t errsz) {
  if (log_set_level(cfg->log_level) != 0) {
    snprintf(err, errsz, "invalid log level '%s' (debug, info, warn, error)", cfg->log_level);
    return -1;
  }
  if (strcmp(cfg->commitment, "processed") != 0 && strcmp(cfg->commitment, "confirmed") != 0 &&
      strcmp(cfg->commitment, "finalized") != 0) {
    snprintf(err, errsz, "invalid commitment '%s' (processed, confirmed, finalized)",
             cfg->commitment);
    return -1;
  }
  return 0;
}

void config_print_help(FILE *out) {
  fputs("Common options (flag, then environment variable, then default):\n"
        "  --database-url URL   DATABASE_URL    libpq connection string\n"
        "                                       (default postgresql:///crypto_bet)\n"
        "  --rpc-url URL[,URL]  SOLANA_RPC_URL  JSON-RPC endpoint(s), rotated on failure\n"
        "                                       (default http://127.0.0.1:8899)\n"
        "  --ws-url URL         SOLANA_WS_URL   websocket endpoint (default ws://127.0.0.1:8900)\n"
        "  --program-id KEY     PROGRAM_ID      program address (default: the IDL's address)\n"
        "  --commitment LEVEL   COMMITMENT      processed|confirmed|finalized (default confirmed)\n"
        "  --idl FILE           IDL_PATH        Anchor IDL (default: embedded Crypto Bet IDL)\n"
        "  --log-level LEVEL    LOG_LEVEL       debug|info|warn|error (default info)\n",
        out);
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
