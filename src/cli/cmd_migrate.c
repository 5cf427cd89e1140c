/* crypto-bet-indexer migrate: applies the embedded schema migrations. */
#include <stdio.h>
#include <string.h>

#include "cmd_common.h"
#include "commands.h"
#include "config.h"
#include "log.h"
#include "migrate.h"

static void migrate_usage(FILE *out) {
  fputs("usage: crypto-bet-indexer migrate [--database-url URL] [--status] [options]\n"
        "\n"
        "Applies the schema migrations compiled into this binary (schema/NNN_*.sql), each in\n"
        "its own transaction, recording them in schema_migrations. Re-running is a no-op.\n"
        "A migration that was applied and has since changed is an error.\n"
        "\n",
        out);
  config_print_help(out, CONFIG_CMD_MIGRATE);
  fputs("\nExit codes: 0 success, 1 database error or checksum mismatch, 2 usage error.\n", out);
}

int cmd_migrate(int argc, char **argv) {
  cbi_config_t cfg;
  int pr = cmd_common_parse("migrate", CONFIG_CMD_MIGRATE, &cfg, argc, argv, migrate_usage);
  if (pr != CMD_COMMON_CONTINUE) return pr;
  int status_only = (int)config_u64(&cfg, CONFIG_STATUS);
  char err[1024];
  char redacted[512];
  log_redact_conninfo(cfg.database_url, redacted, sizeof redacted);
  int rc, exit_code = EXIT_OK;
  err[0] = '\0';
  if (status_only) {
    rc = migrate_status(cfg.database_url, stdout, err, sizeof err);
    if (rc != MIGRATE_OK) {
      if (rc == MIGRATE_ERR_CONNECT) log_error("migrate", "%s", err);
      else if (rc != MIGRATE_ERR_PENDING) log_error("migrate", "database=%s %s", redacted, err);
      exit_code = EXIT_FAILURE_RUN;
    }
  } else {
    int applied = 0;
    rc = migrate_run(cfg.database_url, &applied, err, sizeof err);
    if (rc == MIGRATE_ERR_CONNECT) {
      log_error("migrate", "%s", err);
      exit_code = EXIT_FAILURE_RUN;
    } else if (rc != MIGRATE_OK) {
      log_error("migrate", "database=%s %s", redacted, err);
      exit_code = EXIT_FAILURE_RUN;
    } else {
      log_info("migrate", "done database=%s applied=%d", redacted, applied);
    }
  }
  return exit_code;
}
