/* crypto-bet-indexer backfill / snapshot: the JSON-RPC sources as
 * commands. Both open the IDL, the sink and the RPC client the same way,
 * stop cleanly on SIGINT/SIGTERM (a second signal exits at once), and end
 * with a summary line. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backfill.h"
#include "snapshot.h"
#include "cmd_common.h"
#include "commands.h"
#include "config.h"
#include "decoder.h"
#include "idl.h"
#include "ingest.h"
#include "log.h"
#include "progress.h"
#include "rpc.h"
#include "sink.h"

static volatile int stop_requested;

static void on_signal(int sig) {
  (void)sig;
  if (stop_requested) _exit(EXIT_FAILURE_RUN); /* second signal: give up at once */
  stop_requested = 1;
}

static void install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

/* What both commands open. */
typedef struct env {
  idl_t *idl;
  sink_t *sink;
  rpc_client_t *rpc;
  ingest_t *ing;
  const char *program_id;
} env_t;

static void env_close(env_t *e) {
  ingest_free(e->ing);
  rpc_client_free(e->rpc);
  sink_close(e->sink);
  idl_free(e->idl);
  memset(e, 0, sizeof *e);
}

/* Returns EXIT_OK or the exit code to return. */
static int env_open(env_t *e, const char *cmd, const cbi_config_t *cfg, unsigned max_in_flight,
                    unsigned batch, const char *record_dir) {
  char err[1024] = "";
  memset(e, 0, sizeof *e);
  int rc = cmd_common_load_idl(cfg, &e->idl, err, sizeof err);
  if (rc != 0) {
    log_error(cmd, "cannot load the IDL %s: %s", cfg->idl_path ? cfg->idl_path : "(embedded)", err);
    return EXIT_USAGE;
  }
  decode_error_t derr;
  memset(&derr, 0, sizeof derr);
  if (cb_decoder_check_idl(e->idl, &derr) != 0) {
    char d[512];
    decode_error_format(&derr, d, sizeof d);
    log_error(cmd, "the IDL does not match the Crypto Bet layouts: %s", d);
    return EXIT_USAGE;
  }
  e->program_id = cfg->program_id ? cfg->program_id : idl_address(e->idl);
  if (!e->program_id || !*e->program_id) {
    log_error(cmd, "no program id: the IDL names none; pass --program-id or set PROGRAM_ID");
    return EXIT_USAGE;
  }
  rpc_options_t ro;
  rpc_options_init(&ro);
  ro.endpoints = cfg->rpc_url;
  ro.max_in_flight = max_in_flight;
  ro.batch_max = batch;
  ro.stop_flag = &stop_requested;
  ro.record_dir = record_dir;
  e->rpc = rpc_client_new(&ro, err, sizeof err);
  if (!e->rpc) {
    log_error(cmd, "RPC client: %s", err);
    return EXIT_USAGE;
  }
  sink_options_t so;
  sink_options_init(&so);
  so.conninfo = cfg->database_url;
  so.stop_flag = &stop_requested;
  rc = sink_open(&so, &e->sink, err, sizeof err);
  if (rc != 0) {
    log_error(cmd, "database: %s", err);
    return EXIT_FAILURE_RUN;
  }
  e->ing = ingest_new(e->idl, e->program_id, e->sink);
  if (!e->ing) {
    log_error(cmd, "out of memory");
    return EXIT_FAILURE_RUN;
  }
  char ep[256];
  log_info(cmd, "program=%s rpc=%s commitment=%s", e->program_id,
           rpc_current_endpoint(e->rpc, ep, sizeof ep), cfg->commitment);
  return EXIT_OK;
}

/* ---- backfill ---------------------------------------------------------- */

static void backfill_usage(FILE *out) {
  fputs("usage: crypto-bet-indexer backfill --from-slot A [--to-slot B] [options]\n"
        "\n"
        "Indexes the Crypto Bet transactions of slots A..B (inclusive) over JSON-RPC, then\n"
        "reads the accounts they touched (getMultipleAccounts) so the caches end at the\n"
        "chain's current state. Progress is checkpointed (stream backfill:<A>): a run that\n"
        "was stopped or killed resumes where it left off; re-running a complete range does\n"
        "nothing.\n"
        "\n"
        "  --from-slot A           first slot (required)\n"
        "  --to-slot B             last slot (default: the chain tip, getSlot)\n"
        "  --strategy S            signatures (default): getSignaturesForAddress + getTransaction;\n"
        "                          blocks: getBlocks + getBlock of every slot\n"
        "  --concurrency N         RPC calls in flight (default 128)\n"
        "  --batch B               calls per HTTP request (JSON-RPC batch, default 4; 1 = none):\n"
        "                          at most ceil(N/B) requests in flight\n"
        "  --sig-page-limit N      getSignaturesForAddress page size, 1..1000 (default 1000)\n"
        "  --no-refresh            do not read the touched accounts at the end\n"
        "  --restart               ignore the checkpoint and redo the whole range\n"
        "  --checkpoint-stream S   checkpoint stream name (default backfill:<A>)\n"
        "  --record DIR            append every RPC request/response to DIR/rpc.jsonl\n"
        "                          (fixture format, fixtures/README.md)\n"
        "  --progress MODE         auto (default: bar on a terminal, else a log line every 5 s),\n"
        "                          bar, log or none\n"
        "  -h, --help              show this help\n"
        "\n",
        out);
  config_print_help(out);
  fputs("\nExit codes: 0 range complete, 1 run failed or stopped before the end (progress is\n"
        "kept), 2 usage or configuration error.\n",
        out);
}

static int parse_progress(const char *s, int *out) {
  if (strcmp(s, "auto") == 0) *out = progress_auto_mode();
  else if (strcmp(s, "bar") == 0) *out = PROGRESS_BAR;
  else if (strcmp(s, "log") == 0) *out = PROGRESS_LOG;
  else if (strcmp(s, "none") == 0) *out = PROGRESS_OFF;
  else return -1;
  return 0;
}

static void log_summary(const backfill_summary_t *s) {
  char el[32];
  progress_fmt_duration(s->elapsed_ms, el, sizeof el);
  uint64_t ms = s->elapsed_ms ? s->elapsed_ms : 1;
  uint64_t tps = s->transactions > UINT64_MAX / 1000 ? s->transactions / ms * 1000
                                                      : s->transactions * 1000 / ms;
  log_info("backfill", "summary slots=%" PRIu64 " signatures=%" PRIu64 " transactions=%" PRIu64
           " instructions=%" PRIu64 " accounts=%" PRIu64 " dead_letters=%" PRIu64
           " retries=%" PRIu64 " skipped_slots=%" PRIu64 " elapsed=%s rate=%" PRIu64
           " tx/s last_slot=%" PRIu64 " windows=%" PRIu64 " peak_window=%" PRIu64 " complete=%s",
           s->slots, s->signatures, s->transactions, s->instructions, s->accounts,
           s->dead_letters, s->retries, s->skipped_slots, el, tps, s->last_slot, s->windows,
           s->peak_window, s->complete ? "yes" : "no");
}

int cmd_backfill(int argc, char **argv) {
  enum {
    OPT_FROM = 1, OPT_TO, OPT_STRATEGY, OPT_CONC, OPT_NO_REFRESH, OPT_RECORD, OPT_PAGE,
    OPT_RESTART, OPT_STREAM, OPT_PROGRESS, OPT_BATCH
  };
  static const struct option longopts[] = {CONFIG_COMMON_LONGOPTS,
                                           {"from-slot", required_argument, 0, OPT_FROM},
                                           {"to-slot", required_argument, 0, OPT_TO},
                                           {"strategy", required_argument, 0, OPT_STRATEGY},
                                           {"concurrency", required_argument, 0, OPT_CONC},
                                           {"no-refresh", no_argument, 0, OPT_NO_REFRESH},
                                           {"record", required_argument, 0, OPT_RECORD},
                                           {"sig-page-limit", required_argument, 0, OPT_PAGE},
                                           {"restart", no_argument, 0, OPT_RESTART},
                                           {"checkpoint-stream", required_argument, 0, OPT_STREAM},
                                           {"progress", required_argument, 0, OPT_PROGRESS},
                                           {"batch", required_argument, 0, OPT_BATCH},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  cbi_config_t cfg;
  config_init(&cfg);
  backfill_options_t bo;
  backfill_options_init(&bo);
  bo.progress = progress_auto_mode();
  const char *record_dir = NULL;
  unsigned batch = BACKFILL_DEFAULT_BATCH;
  int have_from = 0, opt;
  unsigned long long v;
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h': backfill_usage(stdout); return EXIT_OK;
    case OPT_FROM:
      if (config_parse_u64(optarg, &v) != 0 || v == UINT64_MAX) goto bad_value;
      bo.from_slot = v;
      have_from = 1;
      continue;
    case OPT_TO:
      if (config_parse_u64(optarg, &v) != 0 || v == UINT64_MAX) goto bad_value;
      bo.to_slot = v;
      continue;
    case OPT_STRATEGY:
      if (strcmp(optarg, "signatures") == 0) bo.strategy = BACKFILL_SIGNATURES;
      else if (strcmp(optarg, "blocks") == 0) bo.strategy = BACKFILL_BLOCKS;
      else goto bad_value;
      continue;
    case OPT_CONC:
      if (config_parse_u64(optarg, &v) != 0 || v < 1 || v > 1024) goto bad_value;
      bo.concurrency = (unsigned)v;
      continue;
    case OPT_PAGE:
      if (config_parse_u64(optarg, &v) != 0 || v < 1 || v > 1000) goto bad_value;
      bo.sig_page_limit = (unsigned)v;
      continue;
    case OPT_BATCH:
      if (config_parse_u64(optarg, &v) != 0 || v < 1 || v > 100) goto bad_value;
      batch = (unsigned)v;
      continue;
    case OPT_NO_REFRESH: bo.refresh_accounts = false; continue;
    case OPT_RESTART: bo.restart = true; continue;
    case OPT_RECORD: record_dir = optarg; continue;
    case OPT_STREAM:
      if (!*optarg || strlen(optarg) > 63) goto bad_value;
      bo.checkpoint_stream = optarg;
      continue;
    case OPT_PROGRESS:
      if (parse_progress(optarg, &bo.progress) != 0) goto bad_value;
      continue;
    default:
      if (config_apply(&cfg, opt, optarg)) continue;
      return cmd_common_bad_option("backfill", argv[optind - 1], backfill_usage);
    }
  bad_value:
    fprintf(stderr, "crypto-bet-indexer backfill: invalid value '%s' for %s\n", optarg,
            argv[optind - 1]);
    return EXIT_USAGE;
  }
  if (cmd_common_no_operands("backfill", argc, argv, backfill_usage) != EXIT_OK) return EXIT_USAGE;
  if (!have_from) {
    fprintf(stderr, "crypto-bet-indexer backfill: --from-slot is required\n\n");
    backfill_usage(stderr);
    return EXIT_USAGE;
  }
  if (bo.to_slot != UINT64_MAX && bo.from_slot > bo.to_slot) {
    fprintf(stderr, "crypto-bet-indexer backfill: --from-slot is after --to-slot\n");
    return EXIT_USAGE;
  }
  char err[1024];
  if (cmd_common_finish_config("backfill", &cfg, err, sizeof err) != EXIT_OK) return EXIT_USAGE;
  install_signals();
  env_t e;
  /* concurrency counts calls; each HTTP request carries up to `batch` */
  int rc = env_open(&e, "backfill", &cfg, (bo.concurrency + batch - 1) / batch, batch, record_dir);
  if (rc != EXIT_OK) {
    env_close(&e);
    return rc;
  }
  bo.program_id = e.program_id;
  bo.commitment = cfg.commitment;
  bo.stop_flag = &stop_requested;
  backfill_summary_t sum;
  err[0] = '\0';
  rc = backfill_run(e.rpc, e.ing, e.sink, &bo, &sum, err, sizeof err);
  log_summary(&sum);
  int code = EXIT_OK;
  if (rc != 0 || !sum.complete) {
    log_error("backfill", "incomplete: %s; progress is checkpointed up to slot %" PRIu64
              ", run the same command again to resume", err[0] ? err : "stopped",
              sum.last_slot);
    code = EXIT_FAILURE_RUN;
  }
  env_close(&e);
  return code;
}

/* ---- snapshot ---------------------------------------------------------- */

static void snapshot_usage(FILE *out) {
  fputs("usage: crypto-bet-indexer snapshot [options]\n"
        "\n"
        "Seeds the account caches: getProgramAccounts for each account type of the IDL\n"
        "(memcmp filter on its discriminator), every account written through the sink with\n"
        "the response's context slot (older than the cached state: ignored).\n"
        "\n"
        "  --record DIR            append every RPC request/response to DIR/rpc.jsonl\n"
        "  -h, --help              show this help\n"
        "\n",
        out);
  config_print_help(out);
  fputs("\nExit codes: 0 success, 1 run failed or stopped, 2 usage or configuration error.\n",
        out);
}

int cmd_snapshot(int argc, char **argv) {
  enum { OPT_RECORD = 1 };
  static const struct option longopts[] = {CONFIG_COMMON_LONGOPTS,
                                           {"record", required_argument, 0, OPT_RECORD},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  cbi_config_t cfg;
  config_init(&cfg);
  const char *record_dir = NULL;
  int opt;
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    if (opt == 'h') {
      snapshot_usage(stdout);
      return EXIT_OK;
    }
    if (opt == OPT_RECORD) {
      record_dir = optarg;
      continue;
    }
    if (config_apply(&cfg, opt, optarg)) continue;
    return cmd_common_bad_option("snapshot", argv[optind - 1], snapshot_usage);
  }
  if (cmd_common_no_operands("snapshot", argc, argv, snapshot_usage) != EXIT_OK) return EXIT_USAGE;
  char err[1024];
  if (cmd_common_finish_config("snapshot", &cfg, err, sizeof err) != EXIT_OK) return EXIT_USAGE;
  install_signals();
  env_t e;
  int rc = env_open(&e, "snapshot", &cfg, 4, 1, record_dir);
  if (rc != EXIT_OK) {
    env_close(&e);
    return rc;
  }
  int64_t t0 = progress_now_ms();
  err[0] = '\0';
  long n = snapshot_run(e.rpc, e.ing, e.sink, e.idl, e.program_id, cfg.commitment,
                        &stop_requested, err, sizeof err);
  ingest_stats_t is;
  ingest_get_stats(e.ing, &is);
  rpc_stats_t rs;
  rpc_get_stats(e.rpc, &rs);
  char el[32];
  progress_fmt_duration((uint64_t)(progress_now_ms() - t0), el, sizeof el);
  log_info("snapshot", "summary accounts=%" PRIu64 " closed=%" PRIu64 " foreign=%" PRIu64
           " dead_letters=%" PRIu64 " retries=%" PRIu64 " elapsed=%s", is.accounts,
           is.accounts_closed, is.accounts_foreign, is.dead_letters, rs.retries, el);
  int code = EXIT_OK;
  if (n < 0) {
    log_error("snapshot", "failed: %s", err);
    code = EXIT_FAILURE_RUN;
  }
  env_close(&e);
  return code;
}
