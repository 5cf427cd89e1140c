/* Subcommands of crypto-bet-indexer. Each takes argv as after the
 * subcommand name (argv[0] is the subcommand) and returns an exit code
 * (config.h). */
#ifndef CBI_COMMANDS_H
#define CBI_COMMANDS_H

int cmd_live(int argc, char **argv);
int cmd_backfill(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_reconcile(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_dead_letters(int argc, char **argv);

#endif
