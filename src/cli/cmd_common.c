/* Shared command-line handling of the subcommands (cmd_common.h). */
#include "cmd_common.h"

#include <getopt.h>
#include <string.h>

#include "commands.h"

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

int cmd_common_load_idl(const cbi_config_t *cfg, idl_t **idl, char *err, size_t errsz) {
  return cfg->idl_path ? idl_load_file(cfg->idl_path, idl, err, errsz)
                       : idl_load_default(idl, err, errsz);
}

void cmd_common_close_decoder(cmd_decoder_t *d) {
  cb_decoder_free(d->dec);
  idl_free(d->idl);
  memset(d, 0, sizeof *d);
}

int cmd_common_open_decoder(const char *cmd, const cbi_config_t *cfg, unsigned flags,
                            cmd_decoder_t *out) {
  memset(out, 0, sizeof *out);
  char err[1024] = "";
  if (cmd_common_load_idl(cfg, &out->idl, err, sizeof err) != 0) {
    fprintf(stderr, "crypto-bet-indexer %s: cannot load the IDL %s: %s\n", cmd,
            cfg->idl_path ? cfg->idl_path : "(embedded)", err);
    goto usage;
  }
  cb_decoder_options_t opts = {.strict = (flags & CMD_DECODER_STRICT) != 0};
  decode_error_t derr;
  if (cb_decoder_new_opts(out->idl, &opts, &out->dec, &derr) != 0 &&
      !(flags & CMD_DECODER_ANY_IDL)) {
    char d[512];
    fprintf(stderr, "crypto-bet-indexer %s: the IDL %s does not match the Crypto Bet layouts: %s\n",
            cmd, cfg->idl_path ? cfg->idl_path : "(embedded)",
            decode_error_format(&derr, d, sizeof d));
    goto usage;
  }
  out->program_id = cfg->program_id ? cfg->program_id : idl_address(out->idl);
  if (out->program_id && !*out->program_id) out->program_id = NULL;
  if (!out->program_id && !(flags & CMD_DECODER_ANY_IDL)) {
    fprintf(stderr, "crypto-bet-indexer %s: no program id: the IDL names none; pass --program-id "
                    "or set PROGRAM_ID\n", cmd);
    goto usage;
  }
  return EXIT_OK;
usage:
  cmd_common_close_decoder(out);
  return EXIT_USAGE;
}
