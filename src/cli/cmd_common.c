/* Shared command-line handling of the subcommands (cmd_common.h). */
#include "cmd_common.h"

#include <getopt.h>

int cmd_common_bad_option(const char *cmd, const char *arg, cmd_common_usage_fn usage) {
  fprintf(stderr, "crypto-bet-indexer %s: unknown or incomplete option '%s'\n\n", cmd, arg);
  usage(stderr);
  return EXIT_USAGE;
}

int cmd_common_no_operands(const char *cmd, int argc, char **argv, cmd_common_usage_fn usage) {
  if (optind >= argc) return EXIT_OK;
  fprintf(stderr, "crypto-bet-indexer %s: unexpected argument '%s'\n\n", cmd, argv[optind]);
  usage(stderr);
  return EXIT_USAGE;
}

int cmd_common_finish_config(const char *cmd, cbi_config_t *cfg, char *err, size_t errsz) {
  if (config_finish(cfg, err, errsz) == 0) return EXIT_OK;
  fprintf(stderr, "crypto-bet-indexer %s: %s\n", cmd, err);
  return EXIT_USAGE;
}

int cmd_common_parse(const char *cmd, unsigned mask, cbi_config_t *cfg, int argc, char **argv,
                     cmd_common_usage_fn usage) {
  char err[512];
  config_init(cfg);
  int rc = config_parse(cfg, mask, argc, argv, err, sizeof err);
  if (rc == CONFIG_HELP) {
    usage(stdout);
    return EXIT_OK;
  }
  if (rc != CONFIG_OK) {
    fprintf(stderr, "crypto-bet-indexer %s: %s\n\n", cmd, err);
    usage(stderr);
    return EXIT_USAGE;
  }
  if (config_finish(cfg, err, sizeof err) != CONFIG_OK) {
    fprintf(stderr, "crypto-bet-indexer %s: %s\n", cmd, err);
    return EXIT_USAGE;
  }
  return CMD_COMMON_CONTINUE;
}

int cmd_common_load_idl(const cbi_config_t *cfg, idl_t **idl, char *err, size_t errsz) {
  return cfg->idl_path ? idl_load_file(cfg->idl_path, idl, err, errsz)
                       : idl_load_default(idl, err, errsz);
}
