/* crypto-bet-indexer migrate: applies the embedded schema migrations. */
#include <getopt.h>
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
        "\n"
        "  --status             list each migration as applied, pending or mismatched;\n"
        "                       change nothing. Exit 0 when all are applied, 1 otherwise.\n"
        "  -h, --help           show this help\n"
        "\n",
        out);
  config_print_help(out);
  fputs("\nExit codes: 0 success, 1 database error or checksum mismatch, 2 usage error.\n", out);
}

int cmd_migrate(int argc, char **argv) {
  enum { OPT_STATUS = 1 };
  static const struct option longopts[] = {CONFIG_COMMON_LONGOPTS,
                                           {"status", no_argument, 0, OPT_STATUS},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  cbi_config_t cfg;
  config_init(&cfg);
  int status_only = 0, opt;
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    if (opt == 'h') {
      migrate_usage(stdout);
      return EXIT_OK;
    }
    if (opt == OPT_STATUS) {
      status_only = 1;
      continue;
    }
    if (config_apply(&cfg, opt, optarg)) continue;
    return cmd_common_bad_option("migrate", argv[optind - 1], migrate_usage);
  }
  if (cmd_common_no_operands("migrate", argc, argv, migrate_usage) != EXIT_OK) return EXIT_USAGE;
  char err[1024];
  if (cmd_common_finish_config("migrate", &cfg, err, sizeof err) != EXIT_OK) return EXIT_USAGE;
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
