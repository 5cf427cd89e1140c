/* crypto-bet-indexer worker: runs backfill job chunks from the database
 * (worker.h) until SIGTERM/SIGINT (running chunks are given back at once;
 * a second signal exits immediately) or, with --exit-when-done, until no
 * job is pending or running. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_common.h"
#include "commands.h"
#include "config.h"
#include "log.h"
#include "rpc.h"
#include "sink_jobs.h"
#include "worker.h"

static void worker_usage(FILE *out) {
  fputs("usage: crypto-bet-indexer worker [options]\n"
        "\n"
        "Runs the chunks of backfill jobs (backfill --enqueue, SELECT backfill_market_data(A, B))\n"
        "from the database: claims one chunk per slot of --job-concurrency, backfills its slot\n"
        "window over JSON-RPC, renews its lease while it runs, and records it done. Start any\n"
        "number of workers on any number of machines against one database; a chunk whose\n"
        "worker died is claimed again once its lease runs out. Idle workers wake on NOTIFY.\n"
        "\n",
        out);
  config_print_help(out, CONFIG_CMD_WORKER);
  fputs("\nExit codes: 0 stopped by a signal or done (--exit-when-done), 1 run failed, 2 usage\n"
        "or configuration error.\n",
        out);
}

int cmd_worker(int argc, char **argv) {
  cbi_config_t cfg;
  int pr = cmd_common_parse("worker", CONFIG_CMD_WORKER, &cfg, argc, argv, worker_usage);
  if (pr != CMD_COMMON_CONTINUE) return pr;
  cmd_decoder_t dec;
  int rc = cmd_common_open_decoder("worker", &cfg, 0, &dec);
  if (rc != EXIT_OK) return rc;
  volatile int *stop = cmd_common_install_stop(1);

  unsigned conc = (unsigned)config_u64(&cfg, CONFIG_BACKFILL_CONCURRENCY);
  unsigned batch = (unsigned)config_u64(&cfg, CONFIG_BATCH);
  rpc_options_t ro;
  rpc_options_init(&ro);
  ro.endpoints = cfg.rpc_url;
  ro.max_in_flight = (conc + batch - 1) / batch;
  ro.batch_max = batch;
  worker_options_t wo;
  worker_options_init(&wo);
  wo.conninfo = cfg.database_url;
  wo.rpc = &ro;
  wo.decoder = dec.dec;
  wo.program_id = dec.program_id;
  wo.commitment = cfg.commitment;
  wo.concurrency = (unsigned)config_u64(&cfg, CONFIG_WORKER_JOBS);
  wo.rpc_concurrency = conc;
  wo.lease_ms = (int)config_u64(&cfg, CONFIG_JOB_LEASE) * 1000;
  wo.exit_when_idle = config_u64(&cfg, CONFIG_EXIT_WHEN_DONE) != 0;
  char err[512];
  worker_stats_t st;
  memset(&st, 0, sizeof st);
  int code = EXIT_OK;
  if (worker_run(&wo, stop, &st, err, sizeof err) != 0) {
    log_error("worker", "%s", err);
    code = EXIT_FAILURE_RUN;
  }
  log_info("worker",
           "summary chunks_done=%" PRIu64 " chunks_failed=%" PRIu64 " chunks_lost=%" PRIu64
           " chunks_given_back=%" PRIu64 " slots=%" PRIu64 " transactions=%" PRIu64,
           st.chunks_done, st.chunks_failed, st.chunks_lost, st.chunks_released, st.slots,
           st.transactions);
  cmd_common_close_decoder(&dec);
  return code;
}
