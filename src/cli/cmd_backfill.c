/* crypto-bet-indexer backfill / snapshot: the JSON-RPC sources as
 * commands. Both open the IDL, the sink and the RPC client the same way,
 * stop cleanly on SIGINT/SIGTERM (a second signal exits at once), and end
 * with a summary line. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backfill.h"
#include "snapshot.h"
#include "cmd_common.h"
#include "cmd_jobs.h"
#include "commands.h"
#include "config.h"
#include "idl.h"
#include "ingest.h"
#include "log.h"
#include "progress.h"
#include "rpc.h"
#include "sink.h"

static volatile int *stop_requested; /* cmd_common_install_stop */

/* What both commands open. */
typedef struct env {
  cmd_decoder_t dec;
  sink_t *sink;
  rpc_client_t *rpc;
  ingest_t *ing;
  const char *program_id;
} env_t;

static void env_close(env_t *e) {
  ingest_free(e->ing);
  rpc_client_free(e->rpc);
  sink_close(e->sink);
  cmd_common_close_decoder(&e->dec);
  memset(e, 0, sizeof *e);
}

/* Returns EXIT_OK or the exit code to return. */
static int env_open(env_t *e, const char *cmd, const cbi_config_t *cfg, unsigned max_in_flight,
                    unsigned batch, const char *record_dir) {
  char err[1024] = "";
  memset(e, 0, sizeof *e);
  int rc = cmd_common_open_decoder(cmd, cfg, 0, &e->dec);
  if (rc != EXIT_OK) return rc;
  e->program_id = e->dec.program_id;
  rpc_options_t ro;
  rpc_options_init(&ro);
  ro.endpoints = cfg->rpc_url;
  ro.max_in_flight = max_in_flight;
  ro.batch_max = batch;
  ro.stop_flag = stop_requested;
  ro.record_dir = record_dir;
  e->rpc = rpc_client_new(&ro, err, sizeof err);
  if (!e->rpc) {
    log_error(cmd, "RPC client: %s", err);
    return EXIT_USAGE;
  }
  sink_options_t so;
  sink_options_init(&so);
  so.conninfo = cfg->database_url;
  so.stop_flag = stop_requested;
  rc = sink_open(&so, &e->sink, err, sizeof err);
  if (rc != 0) {
    log_error(cmd, "database: %s", err);
    return EXIT_FAILURE_RUN;
  }
  e->ing = ingest_new(e->dec.dec, e->program_id, e->sink);
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
        "With --enqueue the range becomes a job in the database, split into chunks that\n"
        "`crypto-bet-indexer worker` processes (and `live --job-concurrency N`), on any\n"
        "number of machines; --status [ID], --cancel ID and --wait ID manage jobs. The SQL\n"
        "function backfill_market_data(A, B) enqueues the same way.\n"
        "\n",
        out);
  config_print_help(out, CONFIG_CMD_BACKFILL);
  fputs("\nExit codes: 0 range complete, 1 run failed or stopped before the end (progress is\n"
        "kept), 2 usage or configuration error. --wait: 0 job done, 1 failed or cancelled.\n",
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
  int jobs_mode;
  int jr = cmd_jobs_backfill(argc, argv, backfill_usage, &jobs_mode);
  if (jobs_mode) return jr;
  cbi_config_t cfg;
  int pr = cmd_common_parse("backfill", CONFIG_CMD_BACKFILL, &cfg, argc, argv, backfill_usage);
  if (pr != CMD_COMMON_CONTINUE) return pr;
  backfill_options_t bo;
  backfill_options_init(&bo);
  int have_from = config_is_set(&cfg, CONFIG_FROM_SLOT);
  bo.from_slot = config_u64(&cfg, CONFIG_FROM_SLOT);
  if (config_is_set(&cfg, CONFIG_TO_SLOT)) bo.to_slot = config_u64(&cfg, CONFIG_TO_SLOT);
  bo.strategy = strcmp(config_str(&cfg, CONFIG_STRATEGY), "blocks") == 0 ? BACKFILL_BLOCKS
                                                                          : BACKFILL_SIGNATURES;
  bo.concurrency = (unsigned)config_u64(&cfg, CONFIG_BACKFILL_CONCURRENCY);
  bo.sig_page_limit = (unsigned)config_u64(&cfg, CONFIG_SIG_PAGE_LIMIT);
  unsigned batch = (unsigned)config_u64(&cfg, CONFIG_BATCH);
  bo.refresh_accounts = !config_u64(&cfg, CONFIG_NO_REFRESH);
  bo.restart = config_u64(&cfg, CONFIG_RESTART) != 0;
  bo.checkpoint_stream = config_str(&cfg, CONFIG_CHECKPOINT_STREAM);
  parse_progress(config_str(&cfg, CONFIG_PROGRESS), &bo.progress);
  const char *record_dir = config_str(&cfg, CONFIG_RPC_RECORD);
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
  stop_requested = cmd_common_install_stop(1);
  env_t e;
  /* concurrency counts calls; each HTTP request carries up to `batch` */
  int rc = env_open(&e, "backfill", &cfg, (bo.concurrency + batch - 1) / batch, batch, record_dir);
  if (rc != EXIT_OK) {
    env_close(&e);
    return rc;
  }
  bo.program_id = e.program_id;
  bo.commitment = cfg.commitment;
  bo.stop_flag = stop_requested;
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
        "\n",
        out);
  config_print_help(out, CONFIG_CMD_SNAPSHOT);
  fputs("\nExit codes: 0 success, 1 run failed or stopped, 2 usage or configuration error.\n",
        out);
}

int cmd_snapshot(int argc, char **argv) {
  cbi_config_t cfg;
  int pr = cmd_common_parse("snapshot", CONFIG_CMD_SNAPSHOT, &cfg, argc, argv, snapshot_usage);
  if (pr != CMD_COMMON_CONTINUE) return pr;
  const char *record_dir = config_str(&cfg, CONFIG_RPC_RECORD);
  char err[1024];
  stop_requested = cmd_common_install_stop(1);
  env_t e;
  int rc = env_open(&e, "snapshot", &cfg, 4, 1, record_dir);
  if (rc != EXIT_OK) {
    env_close(&e);
    return rc;
  }
  int64_t t0 = progress_now_ms();
  err[0] = '\0';
  long n = snapshot_run(e.rpc, e.ing, e.sink, e.dec.idl, e.program_id, cfg.commitment,
                        stop_requested, err, sizeof err);
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
