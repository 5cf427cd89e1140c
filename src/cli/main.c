/* crypto-bet-indexer: keeps PostgreSQL in sync with the Crypto Bet Solana
 * program. git-style subcommands; see usage() and README.md. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "version.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *summary;
} commands[] = {
    {"live", cmd_live, "follow the chain over websocket and keep the tables in sync"},
    {"backfill", cmd_backfill, "index a slot range over JSON-RPC"},
    {"snapshot", cmd_snapshot, "seed the account caches with getProgramAccounts"},
    {"reconcile", cmd_reconcile, "mark cached accounts that no longer exist as closed"},
    {"migrate", cmd_migrate, "apply the schema migrations"},
    {"decode", cmd_decode, "decode an account, instruction or event to JSON"},
    {"worker", cmd_worker, "run backfill job chunks from the database (any number of machines)"},
    {"status", cmd_status, "one screen: checkpoints and their lag, dead letters, row counts"},
    {"dead-letters", cmd_dead_letters, "list, show, retry or purge dead letters"},
};

/* crypto-bet-indexer options [--markdown]: every option of every command
 * from the configuration table (README's table is this with --markdown). */
static int cmd_options(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--markdown") == 0) {
    config_print_markdown(stdout);
    return EXIT_OK;
  }
  if (argc != 1) {
    fprintf(stderr, "usage: crypto-bet-indexer options [--markdown]\n");
    return EXIT_USAGE;
  }
  static const struct {
    const char *name;
    unsigned mask;
  } cmds[] = {{"live", CONFIG_CMD_LIVE},         {"reconcile", CONFIG_CMD_RECONCILE},
              {"backfill", CONFIG_CMD_BACKFILL}, {"snapshot", CONFIG_CMD_SNAPSHOT},
              {"migrate", CONFIG_CMD_MIGRATE},   {"worker", CONFIG_CMD_WORKER},
              {"status", CONFIG_CMD_STATUS},     {"dead-letters", CONFIG_CMD_DEAD_LETTERS}};
  const config_opt_t *t = config_table();
  for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
    printf("%s options:\n", cmds[c].name);
    for (int i = 0; i < CONFIG__COUNT; i++)
      if (t[i].commands != CONFIG_CMD_ALL && (t[i].commands & cmds[c].mask))
        printf("  --%s\n", t[i].name);
  }
  printf("\n");
  config_print_help(stdout, 0);
  return EXIT_OK;
}

static void usage(FILE *out) {
  fprintf(out, "usage: crypto-bet-indexer <command> [options]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "  %-10s %s\n", "options", "list every option (--markdown: README's table)");
  fprintf(out, "  %-10s %s\n\n", "version", "print the version");
  fprintf(out, "'crypto-bet-indexer <command> --help' describes a command's options.\n"
               "Exit codes: 0 success, 1 run failed, 2 usage or configuration error,\n"
               "3 command not available in this build.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return EXIT_OK;
  }
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("crypto-bet-indexer %s\n", CBI_VERSION);
    return EXIT_OK;
  }
  if (strcmp(cmd, "options") == 0) return cmd_options(argc - 1, argv + 1);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(cmd, commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "crypto-bet-indexer: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return EXIT_USAGE;
}
