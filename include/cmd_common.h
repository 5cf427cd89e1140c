/* Pieces every subcommand (commands.h) shares: reporting command-line
 * mistakes the same way, finishing the common configuration, and opening
 * the IDL and the Crypto Bet decoder it names. Messages go to stderr as
 * "crypto-bet-indexer CMD: ...". */
#ifndef CBI_CMD_COMMON_H
#define CBI_CMD_COMMON_H

#include <stddef.h>
#include <stdio.h>

#include "cb_decoder.h"
#include "config.h"
#include "idl.h"

/* Prints a command's help to out. */
typedef void (*cmd_common_usage_fn)(FILE *out);

/* An option the command's getopt_long loop did not handle and config_apply
 * did not accept (unknown, or missing its argument): prints
 * "unknown or incomplete option 'ARG'" and the usage to stderr. arg: the
 * offending word, argv[optind - 1]. Returns EXIT_USAGE. */
int cmd_common_bad_option(const char *cmd, const char *arg, cmd_common_usage_fn usage);

/* After the option loop, for commands that take no operands: returns
 * EXIT_OK when optind reached argc; otherwise prints "unexpected argument"
 * naming the first operand, and the usage, to stderr and returns
 * EXIT_USAGE. */
int cmd_common_no_operands(const char *cmd, int argc, char **argv, cmd_common_usage_fn usage);

/* config_finish(cfg); on failure prints its reason to stderr (err/errsz:
 * the caller's buffer, holding the reason afterwards). Returns EXIT_OK or
 * EXIT_USAGE. */
int cmd_common_finish_config(const char *cmd, cbi_config_t *cfg, char *err, size_t errsz);

/* cmd_common_parse(): the command goes on. */
#define CMD_COMMON_CONTINUE (-1)

/* The whole command line of cmd through the configuration table
 * (config.h): config_init, config_parse for the options of mask
 * (CONFIG_CMD_*; the common options included), config_finish. Returns
 * CMD_COMMON_CONTINUE with cfg filled, or the exit code to return at once:
 * EXIT_OK after --help (usage on stdout), EXIT_USAGE after a message naming
 * the bad option or value (and the usage) on stderr. */
int cmd_common_parse(const char *cmd, unsigned mask, cbi_config_t *cfg, int argc, char **argv,
                     cmd_common_usage_fn usage);

/* Loads the IDL cfg names (--idl file, read here: the IDL engine does no
 * I/O), or the embedded one. Returns 0 with *idl owned by the caller
 * (idl_free), or non-zero with the reason in err (without the path). */
int cmd_common_load_idl(const cbi_config_t *cfg, idl_t **idl, char *err, size_t errsz);

/* What every subcommand opens first. */
typedef struct cmd_decoder {
  idl_t *idl;             /* owned */
  cb_decoder_t *dec;      /* owned; NULL only with CMD_DECODER_ANY_IDL and a foreign IDL */
  const char *program_id; /* --program-id, else the IDL's address; NULL with
                           * CMD_DECODER_ANY_IDL when neither names one */
} cmd_decoder_t;

/* Flags of cmd_common_open_decoder. */
#define CMD_DECODER_ANY_IDL 0x1 /* decode: an IDL of another program is fine
                                 * (generic decoding only, dec NULL) */
#define CMD_DECODER_STRICT 0x2  /* refuse accounts with non-zero bytes after
                                 * their layout (cb_decoder_options_t.strict) */

/* Loads the IDL cfg names (or the embedded one), builds the Crypto Bet
 * decoder from it (checking that its layouts match the records) and
 * resolves the program id. Every subcommand opens this way. On failure
 * prints why to stderr ("cannot load the IDL ...", "the IDL does not match
 * the Crypto Bet layouts: Market.title ...", "no program id ...") and
 * returns EXIT_USAGE, with *out empty; returns EXIT_OK with *out filled
 * otherwise (release with cmd_common_close_decoder). */
int cmd_common_open_decoder(const char *cmd, const cbi_config_t *cfg, unsigned flags,
                            cmd_decoder_t *out);

/* Frees what cmd_common_open_decoder opened; a zeroed *d is a no-op. */
void cmd_common_close_decoder(cmd_decoder_t *d);

/* Installs the stop handler for SIGINT and SIGTERM: the first signal sets
 * the returned flag (the stop flag the command hands to the RPC client,
 * sink and run loops), a second one exits at once with EXIT_FAILURE_RUN.
 * ignore_sigpipe: SIGPIPE is ignored too. One flag per process; calling
 * again returns the same flag. */
volatile int *cmd_common_install_stop(int ignore_sigpipe);

#endif
