/* Shared command-line handling of the subcommands (cmd_common.h). */
#include "cmd_common.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Reads path whole (at most IDL_MAX_DOC_BYTES). 0 with *buf (caller
 * frees) and *len, or -1 + err. */
static int read_idl_file(const char *path, char **buf, size_t *len, char *err, size_t errsz) {
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errsz, "%s", strerror(errno));
    return -1;
  }
  size_t cap = 0;
  int rc = -1;
  for (;;) {
    if (*len == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      if (ncap > IDL_MAX_DOC_BYTES + 1) {
        snprintf(err, errsz, "larger than %zu bytes", IDL_MAX_DOC_BYTES);
        goto out;
      }
      char *p = realloc(*buf, ncap);
      if (!p) {
        snprintf(err, errsz, "out of memory");
        goto out;
      }
      *buf = p;
      cap = ncap;
    }
    size_t got = fread(*buf + *len, 1, cap - *len, f);
    *len += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    snprintf(err, errsz, "read error");
    goto out;
  }
  rc = 0;
out:
  fclose(f);
  if (rc != 0) {
    free(*buf);
    *buf = NULL;
  }
  return rc;
}

int cmd_common_load_idl(const cbi_config_t *cfg, idl_t **idl, char *err, size_t errsz) {
  *idl = NULL;
  if (!cfg->idl_path) return cb_decoder_default_idl(idl, err, errsz);
  char *text = NULL;
  size_t len = 0;
  if (read_idl_file(cfg->idl_path, &text, &len, err, errsz) != 0) return -1;
  int rc = idl_load_json(text, len, idl, err, errsz);
  free(text);
  return rc;
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

static volatile int g_stop_requested;

static void on_stop_signal(int sig) {
  (void)sig;
  if (g_stop_requested) _exit(EXIT_FAILURE_RUN); /* second signal: give up at once */
  g_stop_requested = 1;
}

volatile int *cmd_common_install_stop(int ignore_sigpipe) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  if (ignore_sigpipe) signal(SIGPIPE, SIG_IGN);
  return &g_stop_requested;
}
