/* crypto-bet-indexer decode: decodes one account, instruction or event with
 * the IDL and prints it as JSON (the operator's debugging tool). */
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "cmd_common.h"
#include "commands.h"
#include "config.h"
#include "decoder.h"
#include "idl.h"

#define DECODE_MAX_KEYS 256

static void decode_usage(FILE *out) {
  fputs("usage: crypto-bet-indexer decode (--account B64 | --instruction B64 [--accounts K1,K2,...]\n"
        "                                 | --event B64 | --log-line LINE) [options]\n"
        "\n"
        "Decodes bytes with the Anchor IDL and prints {\"type\": \"<Name>\", \"value\": {...}}:\n"
        "the IDL's field names, pubkeys in base58, every integer exact (values outside the\n"
        "int64 range as decimal strings), enums as \"Variant\" or {\"Variant\": payload},\n"
        "bytes as base64.\n"
        "\n"
        "  --account B64        whole account data (discriminator included), base64\n"
        "  --strict             refuse an account with non-zero bytes after its layout\n"
        "                       (by default they are ignored, as Anchor's coder does, and\n"
        "                       a note on stderr says where they start)\n"
        "  --instruction B64    instruction data (discriminator + arguments), base64;\n"
        "                       data carrying the emit_cpi! tag is decoded as an event\n"
        "  --accounts K1,K2,... the instruction's account keys (base58), in order: printed\n"
        "                       under the IDL's account names\n"
        "  --event B64          event data (discriminator + fields), base64\n"
        "  --log-line LINE      a \"Program data: <b64> [<b64>...]\" log line (slices joined)\n"
        "  -h, --help           show this help\n"
        "\n",
        out);
  config_print_help(out, CONFIG_CMD_DECODE);
  fputs("\nExit codes: 0 decoded, 1 the input does not decode, 2 usage error (or the IDL\n"
        "does not load).\n",
        out);
}

/* Decodes base64 (or the slices of a log line, space-separated) into a new
 * buffer. 0 or -1. */
static int decode_b64_slices(const char *s, uint8_t **out, size_t *outlen) {
  size_t total = strlen(s), len = 0, cap = b64_decoded_max(total) + 1;
  uint8_t *buf = malloc(cap);
  if (!buf) return -1;
  const char *p = s;
  while (*p) {
    const char *e = strchr(p, ' ');
    size_t sl = e ? (size_t)(e - p) : strlen(p);
    size_t got = 0;
    if (sl > 0 && b64_decode_into(p, sl, buf + len, cap - len, &got) != 0) {
      free(buf);
      return -1;
    }
    len += got;
    p += sl;
    if (*p == ' ') p++;
  }
  *out = buf;
  *outlen = len;
  return 0;
}

/* Splits "k1,k2,..." in place into keys. Returns the count or -1. */
static int split_keys(char *s, const char **keys, size_t max) {
  size_t n = 0;
  if (!*s) return 0;
  for (char *p = s;;) {
    if (n == max) return -1;
    keys[n++] = p;
    char *c = strchr(p, ',');
    if (!c) break;
    *c = '\0';
    p = c + 1;
  }
  return (int)n;
}

enum { OPT_ACCOUNT = 1, OPT_INSTRUCTION, OPT_ACCOUNTS, OPT_EVENT, OPT_LOG_LINE, OPT_STRICT };

/* The command line, parsed and checked. */
typedef struct decode_args {
  cbi_config_t cfg;
  int mode; /* OPT_ACCOUNT, OPT_INSTRUCTION, OPT_EVENT or OPT_LOG_LINE */
  const char *input;
  const char *accounts; /* --accounts, or NULL */
  int strict;
} decode_args_t;

/* Parses and checks the options. Returns EXIT_OK, EXIT_USAGE (message
 * printed), or -1 after printing the help. */
static int decode_parse(int argc, char **argv, decode_args_t *a) {
  static const struct option longopts[] = {CONFIG_COMMON_LONGOPTS,
                                           {"account", required_argument, 0, OPT_ACCOUNT},
                                           {"instruction", required_argument, 0, OPT_INSTRUCTION},
                                           {"accounts", required_argument, 0, OPT_ACCOUNTS},
                                           {"event", required_argument, 0, OPT_EVENT},
                                           {"log-line", required_argument, 0, OPT_LOG_LINE},
                                           {"strict", no_argument, 0, OPT_STRICT},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  memset(a, 0, sizeof *a);
  config_init(&a->cfg);
  int opt, inputs = 0;
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
      case 'h':
        decode_usage(stdout);
        return -1;
      case OPT_ACCOUNT:
      case OPT_INSTRUCTION:
      case OPT_EVENT:
      case OPT_LOG_LINE:
        a->mode = opt;
        a->input = optarg;
        inputs++;
        continue;
      case OPT_ACCOUNTS:
        a->accounts = optarg;
        continue;
      case OPT_STRICT:
        a->strict = 1;
        continue;
      default:
        break;
    }
    if (config_apply(&a->cfg, opt, optarg)) continue;
    return cmd_common_bad_option("decode", argv[optind - 1], decode_usage);
  }
  if (cmd_common_no_operands("decode", argc, argv, decode_usage) != EXIT_OK) return EXIT_USAGE;
  if (inputs != 1) {
    fprintf(stderr, "crypto-bet-indexer decode: give exactly one of --account, --instruction, "
                    "--event, --log-line\n\n");
    decode_usage(stderr);
    return EXIT_USAGE;
  }
  if (a->accounts && a->mode != OPT_INSTRUCTION) {
    fprintf(stderr, "crypto-bet-indexer decode: --accounts goes with --instruction\n");
    return EXIT_USAGE;
  }
  if (a->strict && a->mode != OPT_ACCOUNT) {
    fprintf(stderr, "crypto-bet-indexer decode: --strict goes with --account\n");
    return EXIT_USAGE;
  }
  char err[1024];
  if (cmd_common_finish_config("decode", &a->cfg, err, sizeof err) != EXIT_OK) return EXIT_USAGE;
  if (a->mode == OPT_LOG_LINE) {
    if (strncmp(a->input, "Program data: ", 14) != 0) {
      fprintf(stderr, "crypto-bet-indexer decode: --log-line takes a \"Program data: ...\" line\n");
      return EXIT_USAGE;
    }
    a->input += 14;
  }
  return EXIT_OK;
}

/* Decodes data as the mode says into *out (caller owns). Without strict,
 * an account's non-zero bytes after its layout are ignored and noted on
 * stderr. Returns 0 or the decode error (derr set). */
static int decode_data(const idl_t *idl, const decode_args_t *a, const uint8_t *data, size_t len,
                       const char *const *keys, size_t n_keys, json_t **out,
                       decode_error_t *derr) {
  size_t evlen = 0;
  const uint8_t *ev = decode_emit_cpi_event(data, len, &evlen);
  if (a->mode == OPT_INSTRUCTION && !ev)
    return decode_instruction_json(idl, data, len, keys, n_keys, out, derr);
  if (a->mode != OPT_ACCOUNT)
    return ev ? decode_event_json(idl, ev, evlen, out, derr)
              : decode_event_json(idl, data, len, out, derr);
  int rc = decode_account_json(idl, data, len, a->strict, out, derr);
  json_t *again = NULL;
  decode_error_t terr;
  if (rc == 0 && !a->strict &&
      decode_account_json(idl, data, len, true, &again, &terr) == DECODE_ERR_TRAILING)
    fprintf(stderr, "crypto-bet-indexer decode: note: %s: %s; ignored them, as Anchor does "
            "(--strict refuses them)\n", terr.type, terr.detail);
  json_decref(again);
  return rc;
}

static int print_json(const json_t *out) {
  char *text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (!text) {
    fprintf(stderr, "crypto-bet-indexer decode: out of memory\n");
    return EXIT_FAILURE_RUN;
  }
  fputs(text, stdout);
  fputc('\n', stdout);
  free(text);
  return EXIT_OK;
}

int cmd_decode(int argc, char **argv) {
  decode_args_t a;
  int exit_code = decode_parse(argc, argv, &a);
  if (exit_code != EXIT_OK) return exit_code < 0 ? EXIT_OK : exit_code;
  char *keys_buf = NULL;
  const char *keys[DECODE_MAX_KEYS];
  int n_keys = 0;
  if (a.accounts) {
    keys_buf = strdup(a.accounts);
    n_keys = keys_buf ? split_keys(keys_buf, keys, DECODE_MAX_KEYS) : -1;
    if (n_keys < 0) {
      fprintf(stderr, "crypto-bet-indexer decode: --accounts: too many keys (max %d)\n",
              DECODE_MAX_KEYS);
      free(keys_buf);
      return EXIT_USAGE;
    }
  }
  exit_code = EXIT_FAILURE_RUN;
  cmd_decoder_t dec = {0};
  uint8_t *data = NULL;
  size_t len = 0;
  json_t *out = NULL;
  if (sodium_init() < 0) {
    fprintf(stderr, "crypto-bet-indexer decode: libsodium initialisation failed\n");
    goto done;
  }
  /* Any program's IDL decodes; with the Crypto Bet IDL the typed binding
   * is checked as in the other commands. */
  unsigned flags = CMD_DECODER_ANY_IDL | (a.strict ? CMD_DECODER_STRICT : 0);
  int rc = cmd_common_open_decoder("decode", &a.cfg, flags, &dec);
  if (rc != EXIT_OK) {
    exit_code = rc;
    goto done;
  }
  /* Account and instruction data are one base64 string; log lines may hold
   * several slices. */
  if (a.mode == OPT_LOG_LINE ? decode_b64_slices(a.input, &data, &len) != 0
                             : b64_decode(a.input, strlen(a.input), &data, &len) != 0) {
    fprintf(stderr, "crypto-bet-indexer decode: input is not valid base64\n");
    goto done;
  }
  decode_error_t derr;
  rc = decode_data(dec.idl, &a, data, len, keys, (size_t)n_keys, &out, &derr);
  if (rc != 0) {
    char msg[512];
    fprintf(stderr, "crypto-bet-indexer decode: %s\n", decode_error_format(&derr, msg, sizeof msg));
    goto done;
  }
  exit_code = print_json(out);
done:
  json_decref(out);
  free(data);
  cmd_common_close_decoder(&dec);
  free(keys_buf);
  return exit_code;
}
