/* crypto-bet-indexer live / reconcile: command-line front ends of live.h
 * and reconcile_run (reconcile.h). Signals: the first SIGTERM/SIGINT asks
 * for a clean stop (flush, checkpoint, exit 0); from then on, retries give
 * up after 4 s; a second signal exits at once. */
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
#include "replica.h"
#include "log.h"
#include "ops.h"
#include "version.h"
#include "rpc.h"
#include "sink.h"
#include "worker.h"

#define SHUTDOWN_GRACE_S 4
/* RPC calls in flight per background job chunk: a small share of the
 * node next to the live fetches (README "Backfill jobs"). */
#define LIVE_JOB_RPC_IN_FLIGHT 16

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

static void live_usage(FILE *out) {
  fputs(
      "usage: crypto-bet-indexer live [options]\n"
      "\n"
      "Follows the program over the websocket (programSubscribe, logsSubscribe, slotSubscribe)\n"
      "and keeps the tables in sync. On start, and after every reconnect, the gap since the\n"
      "checkpoint is backfilled over JSON-RPC before live data is trusted again. A first run\n"
      "on an empty database seeds the caches (snapshot) and indexes the program's history.\n"
      "SIGTERM/SIGINT: flush, write the checkpoint, exit 0; a second signal exits at once.\n"
      "\n",
      out);
  config_print_help(out, CONFIG_CMD_LIVE);
  fputs("\nExit codes: 0 stopped cleanly, 1 run failed, 2 usage error.\n", out);
}

int cmd_live(int argc, char **argv) {
  cbi_config_t cfg;
  int pr = cmd_common_parse("live", CONFIG_CMD_LIVE, &cfg, argc, argv, live_usage);
  if (pr != CMD_COMMON_CONTINUE) return pr;
  char err[1024];
  live_options_t lo;
  live_options_init(&lo);
  lo.has_start_slot = config_is_set(&cfg, CONFIG_START_SLOT);
  lo.start_slot = config_u64(&cfg, CONFIG_START_SLOT);
  lo.max_message_bytes = (size_t)config_u64(&cfg, CONFIG_MAX_MESSAGE_BYTES);
  lo.queue_bytes = (size_t)config_u64(&cfg, CONFIG_QUEUE_BYTES);
  lo.ping_interval_s = (int)config_u64(&cfg, CONFIG_PING_INTERVAL);
  lo.stall_timeout_s = (int)config_u64(&cfg, CONFIG_STALL_TIMEOUT);
  lo.slot_timeout_s = config_u64(&cfg, CONFIG_SLOT_TIMEOUT) == 0
                          ? -1
                          : (int)config_u64(&cfg, CONFIG_SLOT_TIMEOUT);
  lo.reconcile_interval_s = (int)config_u64(&cfg, CONFIG_RECONCILE_INTERVAL);
  lo.status_interval_s = (int)config_u64(&cfg, CONFIG_STATUS_INTERVAL);
  lo.insecure = (int)config_u64(&cfg, CONFIG_INSECURE);
  lo.record_dir = config_str(&cfg, CONFIG_LIVE_RECORD);
  lo.exit_when_idle_ms = (long)config_u64(&cfg, CONFIG_EXIT_WHEN_IDLE);
  lo.fetch_concurrency = (unsigned)config_u64(&cfg, CONFIG_LIVE_CONCURRENCY);
  size_t maxmsg = lo.max_message_bytes, qbytes = lo.queue_bytes;
  if (qbytes / 2 < maxmsg) {
    fprintf(stderr,
            "crypto-bet-indexer live: --queue-bytes (%zu) must be at least twice "
            "--max-message-bytes (%zu)\n",
            qbytes, maxmsg);
    return EXIT_USAGE;
  }
  if (lo.stall_timeout_s <= lo.ping_interval_s) {
    fprintf(stderr, "crypto-bet-indexer live: --stall-timeout must exceed --ping-interval\n");
    return EXIT_USAGE;
  }

  cmd_decoder_t dec;
  int open_rc = cmd_common_open_decoder("live", &cfg, 0, &dec);
  if (open_rc != EXIT_OK) return open_rc;
  const char *program_id = dec.program_id;
  lo.database_url = cfg.database_url;
  lo.rpc_url = cfg.rpc_url;
  lo.ws_url = cfg.ws_url;
  lo.program_id = program_id;
  lo.commitment = cfg.commitment;
  lo.idl = dec.idl;
  lo.decoder = dec.dec;
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
  ops_t ops;
  memset(&ops, 0, sizeof ops);
  const char *listen = config_str(&cfg, CONFIG_HTTP_LISTEN);
  ops_options_t oo;
  memset(&oo, 0, sizeof oo);
  oo.http_listen = listen && *listen && strcmp(listen, "off") != 0 ? listen : NULL;
  oo.ready_max_lag = config_u64(&cfg, CONFIG_READY_MAX_LAG);
  oo.status_interval_s = 10;
  oo.build.version = CBI_VERSION;
  oo.build.program_id = program_id;
  oo.build.commitment = cfg.commitment;
  if (ops_start(&ops, &oo, err, sizeof err) != 0) {
    /* indexing matters more than its dashboard: run without the endpoint */
    log_warn("live", "operations endpoint unavailable, running without it: %s", err);
    memset(&ops, 0, sizeof ops);
    oo.http_listen = NULL;
    if (ops_start(&ops, &oo, err, sizeof err) != 0) memset(&ops, 0, sizeof ops);
  }
  if (ops.reg) lo.ops = &ops;
  /* Replicas and background jobs (replica.h). */
  rpc_options_t jro;
  rpc_options_init(&jro);
  jro.endpoints = cfg.rpc_url;
  jro.max_in_flight = LIVE_JOB_RPC_IN_FLIGHT;
  jro.verify_tls = lo.insecure ? 0 : 1;
  worker_options_t wo;
  worker_options_init(&wo);
  wo.conninfo = cfg.database_url;
  wo.rpc = &jro;
  wo.decoder = dec.dec;
  wo.program_id = program_id;
  wo.commitment = cfg.commitment;
  wo.rpc_concurrency = LIVE_JOB_RPC_IN_FLIGHT;
  wo.lease_ms = (int)config_u64(&cfg, CONFIG_JOB_LEASE) * 1000;
  replica_options_t ro;
  memset(&ro, 0, sizeof ro);
  ro.live = &lo;
  ro.stop_flag = &g_stop;
  uint64_t lease_s = config_u64(&cfg, CONFIG_LEADER_LEASE);
  ro.lease_ms = lease_s == 0 ? -1 : (int)lease_s * 1000;
  ro.job_concurrency = (unsigned)config_u64(&cfg, CONFIG_LIVE_JOBS);
  ro.worker = &wo;
  replica_summary_t sum;
  int rc = replica_run(&ro, &sum, err, sizeof err);
  alarm(0);
  ops_stop(&ops);
  cmd_common_close_decoder(&dec);
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
        "\n",
        out);
  config_print_help(out, CONFIG_CMD_RECONCILE);
  fputs("\nExit codes: 0 done, 1 run failed, 2 usage error.\n", out);
}

int cmd_reconcile(int argc, char **argv) {
  cbi_config_t cfg;
  int pr = cmd_common_parse("reconcile", CONFIG_CMD_RECONCILE, &cfg, argc, argv, reconcile_usage);
  if (pr != CMD_COMMON_CONTINUE) return pr;
  char err[1024];
  int insecure = (int)config_u64(&cfg, CONFIG_INSECURE);
  cmd_decoder_t dec;
  int exit_code = cmd_common_open_decoder("reconcile", &cfg, 0, &dec);
  if (exit_code != EXIT_OK) return exit_code;
  exit_code = EXIT_FAILURE_RUN;
  sink_t *sink = NULL;
  ingest_t *ing = NULL;
  rpc_client_t *rpc = NULL;
  const char *program_id = dec.program_id;
  g_stop = 0;
  g_abort = 0;
  install_signals();
  sink_options_t so;
  sink_options_init(&so);
  so.conninfo = cfg.database_url;
  so.stop_flag = &g_stop;
  if (sink_open(&so, &sink, err, sizeof err) != 0) {
    log_error("reconcile", "database: %s", err);
    goto out;
  }
  ing = ingest_new(dec.dec, program_id, sink);
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
  cmd_common_close_decoder(&dec);
  return exit_code;
}
