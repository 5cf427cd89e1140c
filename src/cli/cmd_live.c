/* crypto-bet-indexer live / reconcile: command-line front ends of live.h
 * and reconcile_run (reconcile.h). Signals: the first SIGTERM/SIGINT asks
 * for a clean stop (flush, checkpoint, exit 0); from then on, retries give
 * up after 4 s; a second signal exits at once. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backfill.h"
#include "reconcile.h"
#include "cmd_common.h"
#include "commands.h"
#include "config.h"
#include "idl.h"
#include "ingest.h"
#include "live.h"
#include "log.h"
#include "rpc.h"
#include "sink.h"

#define SHUTDOWN_GRACE_S 4

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_abort;

static void on_stop_signal(int sig) {
  (void)sig;
  if (g_stop) _exit(EXIT_FAILURE_RUN); /* second signal: leave now */
  g_stop = 1;
  alarm(SHUTDOWN_GRACE_S);
}

static void on_alarm(int sig) {
  (void)sig;
  g_abort = 1;
}

static void install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = on_stop_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
}

static int parse_int_flag(const char *name, const char *arg, long min, long max, long *out) {
  unsigned long long v;
  if (config_parse_u64(arg, &v) != 0 || v < (unsigned long long)min ||
      v > (unsigned long long)max) {
    fprintf(stderr, "crypto-bet-indexer: %s: expected an integer in %ld..%ld, got '%s'\n", name,
            min, max, arg);
    return -1;
  }
  *out = (long)v;
  return 0;
}

static int load_idl(const cbi_config_t *cfg, idl_t **idl, const char **program_id, char *err,
                    size_t errsz) {
  if (cmd_common_load_idl(cfg, idl, err, errsz) != 0) return -1;
  *program_id = cfg->program_id ? cfg->program_id : idl_address(*idl);
  if (!*program_id) {
    snprintf(err, errsz, "the IDL names no program address: give --program-id");
    return -1;
  }
  return 0;
}

static void live_usage(FILE *out) {
  fputs(
      "usage: crypto-bet-indexer live [options]\n"
      "\n"
      "Follows the program over the websocket (programSubscribe, logsSubscribe, slotSubscribe)\n"
      "and keeps the tables in sync. On start, and after every reconnect, the gap since the\n"
      "checkpoint is backfilled over JSON-RPC before live data is trusted again. A first run\n"
      "on an empty database seeds the caches (snapshot) and indexes the program's history.\n"
      "SIGTERM/SIGINT: flush, write the checkpoint, exit 0; a second signal exits at once.\n"
      "\n"
      "  --start-slot N           first run: index history from slot N (default: the\n"
      "                           program's first transaction)\n"
      "  --max-message-bytes N    websocket message cap; longer ones are dead-lettered\n"
      "                           (default 4194304)\n"
      "  --queue-bytes N          backlog between the websocket and the writer; when full,\n"
      "                           reading stops (default 16777216; >= 2 x message cap)\n"
      "  --ping-interval S        websocket ping every S seconds, 1..30 (default 20)\n"
      "  --stall-timeout S        reconnect when no message came for S s (default 60)\n"
      "  --slot-timeout S         reconnect when no new slot came for S s; 0 = off\n"
      "                           (default 30)\n"
      "  --reconcile-interval S   mark closed accounts every S s; 0 = off (default 600)\n"
      "  --status-interval S      status line every S s; 0 = off (default 30)\n"
      "  --insecure               do not verify TLS certificates (wss:// and https://)\n"
      "  --record DIR             append every RPC exchange and notification to DIR\n"
      "                           (fixture format: rpc.jsonl, ws.jsonl)\n"
      "  --exit-when-idle MS      exit 0 once no notification came for MS ms and\n"
      "                           everything is flushed (tests, demo)\n"
      "  --concurrency N          getTransaction calls in flight (default 32)\n"
      "  -h, --help               show this help\n"
      "\n",
      out);
  config_print_help(out);
  fputs("\nExit codes: 0 stopped cleanly, 1 run failed, 2 usage error.\n", out);
}

int cmd_live(int argc, char **argv) {
  enum {
    OPT_START = 1,
    OPT_MAXMSG,
    OPT_QUEUE,
    OPT_PING,
    OPT_STALL,
    OPT_SLOT,
    OPT_RECONCILE,
    OPT_STATUS,
    OPT_INSECURE,
    OPT_RECORD,
    OPT_IDLE,
    OPT_CONC
  };
  static const struct option longopts[] = {
      CONFIG_COMMON_LONGOPTS,
      {"start-slot", required_argument, 0, OPT_START},
      {"max-message-bytes", required_argument, 0, OPT_MAXMSG},
      {"queue-bytes", required_argument, 0, OPT_QUEUE},
      {"ping-interval", required_argument, 0, OPT_PING},
      {"stall-timeout", required_argument, 0, OPT_STALL},
      {"slot-timeout", required_argument, 0, OPT_SLOT},
      {"reconcile-interval", required_argument, 0, OPT_RECONCILE},
      {"status-interval", required_argument, 0, OPT_STATUS},
      {"insecure", no_argument, 0, OPT_INSECURE},
      {"record", required_argument, 0, OPT_RECORD},
      {"exit-when-idle", required_argument, 0, OPT_IDLE},
      {"concurrency", required_argument, 0, OPT_CONC},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  cbi_config_t cfg;
  config_init(&cfg);
  live_options_t lo;
  live_options_init(&lo);
  int opt;
  long v;
  unsigned long long u;
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
      case 'h':
        live_usage(stdout);
        return EXIT_OK;
      case OPT_START:
        if (config_parse_u64(optarg, &u) != 0 || u > (unsigned long long)INT64_MAX) {
          fprintf(stderr, "crypto-bet-indexer live: --start-slot: bad slot '%s'\n", optarg);
          return EXIT_USAGE;
        }
        lo.has_start_slot = true;
        lo.start_slot = (uint64_t)u;
        continue;
      case OPT_MAXMSG:
        if (parse_int_flag("--max-message-bytes", optarg, 1024, 1L << 30, &v) != 0)
          return EXIT_USAGE;
        lo.max_message_bytes = (size_t)v;
        continue;
      case OPT_QUEUE:
        if (parse_int_flag("--queue-bytes", optarg, 4096, 1L << 34, &v) != 0) return EXIT_USAGE;
        lo.queue_bytes = (size_t)v;
        continue;
      case OPT_PING:
        if (parse_int_flag("--ping-interval", optarg, 1, 30, &v) != 0) return EXIT_USAGE;
        lo.ping_interval_s = (int)v;
        continue;
      case OPT_STALL:
        if (parse_int_flag("--stall-timeout", optarg, 1, 86400, &v) != 0) return EXIT_USAGE;
        lo.stall_timeout_s = (int)v;
        continue;
      case OPT_SLOT:
        if (parse_int_flag("--slot-timeout", optarg, 0, 86400, &v) != 0) return EXIT_USAGE;
        lo.slot_timeout_s = v == 0 ? -1 : (int)v;
        continue;
      case OPT_RECONCILE:
        if (parse_int_flag("--reconcile-interval", optarg, 0, 86400 * 30, &v) != 0)
          return EXIT_USAGE;
        lo.reconcile_interval_s = (int)v;
        continue;
      case OPT_STATUS:
        if (parse_int_flag("--status-interval", optarg, 0, 86400, &v) != 0) return EXIT_USAGE;
        lo.status_interval_s = (int)v;
        continue;
      case OPT_INSECURE:
        lo.insecure = 1;
        continue;
      case OPT_RECORD:
        lo.record_dir = optarg;
        continue;
      case OPT_IDLE:
        if (parse_int_flag("--exit-when-idle", optarg, 1, 86400000L, &v) != 0) return EXIT_USAGE;
        lo.exit_when_idle_ms = v;
        continue;
      case OPT_CONC:
        if (parse_int_flag("--concurrency", optarg, 1, 1024, &v) != 0) return EXIT_USAGE;
        lo.fetch_concurrency = (unsigned)v;
        continue;
      default:
        break;
    }
    if (config_apply(&cfg, opt, optarg)) continue;
    return cmd_common_bad_option("live", argv[optind - 1], live_usage);
  }
  if (cmd_common_no_operands("live", argc, argv, live_usage) != EXIT_OK) return EXIT_USAGE;
  char err[1024];
  if (cmd_common_finish_config("live", &cfg, err, sizeof err) != EXIT_OK) return EXIT_USAGE;
  size_t maxmsg = lo.max_message_bytes ? lo.max_message_bytes : (4u << 20);
  size_t qbytes = lo.queue_bytes ? lo.queue_bytes : (16u << 20);
  if (qbytes / 2 < maxmsg) {
    fprintf(stderr,
            "crypto-bet-indexer live: --queue-bytes (%zu) must be at least twice "
            "--max-message-bytes (%zu)\n",
            qbytes, maxmsg);
    return EXIT_USAGE;
  }
  int stall = lo.stall_timeout_s ? lo.stall_timeout_s : 60;
  int ping = lo.ping_interval_s ? lo.ping_interval_s : 20;
  if (stall <= ping && lo.stall_timeout_s && lo.ping_interval_s) {
    fprintf(stderr, "crypto-bet-indexer live: --stall-timeout must exceed --ping-interval\n");
    return EXIT_USAGE;
  }

  idl_t *idl = NULL;
  const char *program_id = NULL;
  if (load_idl(&cfg, &idl, &program_id, err, sizeof err) != 0) {
    fprintf(stderr, "crypto-bet-indexer live: %s\n", err);
    idl_free(idl);
    return EXIT_FAILURE_RUN;
  }
  lo.database_url = cfg.database_url;
  lo.rpc_url = cfg.rpc_url;
  lo.ws_url = cfg.ws_url;
  lo.program_id = program_id;
  lo.commitment = cfg.commitment;
  lo.idl = idl;
  lo.stop_flag = &g_stop;
  lo.abort_flag = &g_abort;
  g_stop = 0;
  g_abort = 0;
  install_signals();
  char red_ws[256], red_rpc[512], red_db[512];
  log_info("live", "starting program=%s commitment=%s ws=%s rpc=%s database=%s", program_id,
           cfg.commitment, log_redact_url(cfg.ws_url, red_ws, sizeof red_ws),
           log_redact_url(cfg.rpc_url, red_rpc, sizeof red_rpc),
           log_redact_conninfo(cfg.database_url, red_db, sizeof red_db));
  live_summary_t sum;
  int rc = live_run(&lo, &sum, err, sizeof err);
  alarm(0);
  idl_free(idl);
  if (rc != 0) {
    log_error("live", "%s", err);
    return EXIT_FAILURE_RUN;
  }
  return EXIT_OK;
}

static void reconcile_usage(FILE *out) {
  fputs("usage: crypto-bet-indexer reconcile [options]\n"
        "\n"
        "Compares every cached, open account with the chain (getMultipleAccounts, 100 per\n"
        "call) and marks the rows whose account is gone (closed, emptied, or no longer owned\n"
        "by the program) with closed_at and closed_slot. The live command runs this\n"
        "periodically (--reconcile-interval).\n"
        "\n"
        "  --insecure           do not verify TLS certificates\n"
        "  -h, --help           show this help\n"
        "\n",
        out);
  config_print_help(out);
  fputs("\nExit codes: 0 done, 1 run failed, 2 usage error.\n", out);
}

int cmd_reconcile(int argc, char **argv) {
  enum { OPT_INSECURE = 1 };
  static const struct option longopts[] = {CONFIG_COMMON_LONGOPTS,
                                           {"insecure", no_argument, 0, OPT_INSECURE},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  cbi_config_t cfg;
  config_init(&cfg);
  int opt, insecure = 0;
  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    if (opt == 'h') {
      reconcile_usage(stdout);
      return EXIT_OK;
    }
    if (opt == OPT_INSECURE) {
      insecure = 1;
      continue;
    }
    if (config_apply(&cfg, opt, optarg)) continue;
    return cmd_common_bad_option("reconcile", argv[optind - 1], reconcile_usage);
  }
  if (cmd_common_no_operands("reconcile", argc, argv, reconcile_usage) != EXIT_OK)
    return EXIT_USAGE;
  char err[1024];
  if (cmd_common_finish_config("reconcile", &cfg, err, sizeof err) != EXIT_OK) return EXIT_USAGE;
  int exit_code = EXIT_FAILURE_RUN;
  idl_t *idl = NULL;
  sink_t *sink = NULL;
  ingest_t *ing = NULL;
  rpc_client_t *rpc = NULL;
  const char *program_id = NULL;
  g_stop = 0;
  g_abort = 0;
  install_signals();
  if (load_idl(&cfg, &idl, &program_id, err, sizeof err) != 0) {
    log_error("reconcile", "%s", err);
    goto out;
  }
  sink_options_t so;
  sink_options_init(&so);
  so.conninfo = cfg.database_url;
  so.stop_flag = &g_stop;
  if (sink_open(&so, &sink, err, sizeof err) != 0) {
    log_error("reconcile", "database: %s", err);
    goto out;
  }
  ing = ingest_new(idl, program_id, sink);
  rpc_options_t ro;
  rpc_options_init(&ro);
  ro.endpoints = cfg.rpc_url;
  ro.stop_flag = &g_stop;
  ro.verify_tls = insecure ? 0 : 1;
  rpc = rpc_client_new(&ro, err, sizeof err);
  if (!ing || !rpc) {
    log_error("reconcile", "%s", ing ? err : "out of memory");
    goto out;
  }
  const char *commitment = strcmp(cfg.commitment, "processed") == 0 ? "confirmed" : cfg.commitment;
  long n = reconcile_run(rpc, ing, sink, program_id, commitment, &g_stop, err, sizeof err);
  if (n < 0) {
    log_error("reconcile", "%s", err);
    goto out;
  }
  int rc = sink_flush(sink);
  if (rc != 0) {
    log_error("reconcile", "flush: %s (%s)", sink_strerror(rc), sink_last_error(sink));
    goto out;
  }
  printf("reconcile: closed=%ld\n", n);
  exit_code = EXIT_OK;
out:
  rpc_client_free(rpc);
  ingest_free(ing);
  sink_close(sink);
  idl_free(idl);
  return exit_code;
}
