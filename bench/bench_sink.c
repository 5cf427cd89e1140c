/* Sink throughput: market + position upserts per second through the sink,
 * next to two COPY ceilings measured in the same run on the same server,
 * both writing exactly the rows the sink writes (checked), in transactions
 * of the same batch size:
 *  - unlogged: COPY (text) into UNLOGGED copies of markets_cache and
 *    position_accounts without indexes or constraints (the fastest a
 *    server writes these rows at all);
 *  - logged (the fair one): COPY into the real tables, logged, with all
 *    their indexes, constraints and defaults. The users rows the sink
 *    creates for new wallets (position_accounts.user_id is NOT NULL) are
 *    COPYed first in the same transaction, inside the timing; a row already
 *    in a table (an update) is deleted first in the same transaction, as a
 *    COPY cannot replace it. After the run the tables must hold what the
 *    sink's run left (counts and sums compared).
 *
 * Two workloads, each run CBI_BENCH_REPS times (default 3; each run the
 * sink, then the unlogged COPY, then the logged COPY, on emptied tables):
 *  - live stream: 1000 markets and 50000 positions are loaded (inserts),
 *    then 50000 bets arrive, each updating one market (its pools) and one
 *    position (10% of them new positions). Within a batch the sink keeps
 *    only the newest record per account; so do the COPY ceilings.
 *  - distinct-key passes: 2000 markets and 48000 positions inserted, then
 *    all updated once (no record superseded in a batch).
 * Server CPU per row comes from /proc/<backend pid>/stat when the server
 * runs on this machine. Then the analytics on a hot market (CBI_BENCH_REPS
 * runs with the upkeep off and on).
 *
 * Figures: "bench NAME: VALUE UNIT (median of N, min, max; ...)". The
 * headline "bench sink_upserts" is the live stream (records handed to the
 * sink per second, both phases), with sink_ratio_to_unlogged_copy and
 * sink_ratio_to_logged_copy (sink rate / COPY rate, per run); sink_distinct_*
 * the same for the distinct-key passes. CBI_BENCH_STRATEGIES=1 adds the
 * comparison of write strategies for a market upsert (array parameters,
 * pipelined single rows, COPY staging).
 *
 *   CBI_TEST_DATABASE_URL (or DATABASE_URL): server to use; a scratch
 *   database is created and dropped.  argv[1..]: batch sizes to try
 *   (default: the sink's default). */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "config.h"
#include "migrate.h"
#include "sink.h"

#define N_MARKETS 2000
#define POS_PER_MARKET 24
#define N_POSITIONS (N_MARKETS * POS_PER_MARKET)
#define N_USERS 1000
#define DEFAULT_REPS 3

static void key(char *out, const char *tag, int n) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%s%d", tag, n);
  size_t t = strlen(tmp);
  for (size_t i = 0; i < 44; i++) out[i] = i < t ? tmp[i] : (char)('A' + (i % 20));
  out[44] = '\0';
}

static cb_str_t str(const char *s) {
  cb_str_t v = {s, (uint32_t)strlen(s)};
  return v;
}

static void mk_market(cb_account_t *a, int i, uint64_t slot) {
  memset(a, 0, sizeof *a);
  a->kind = CB_ACCOUNT_MARKET;
  key(a->pubkey, "Mkt", i);
  a->slot = slot;
  cb_market_t *m = &a->u.market;
  key(m->authority.b58, "Auth", i % 50);
  m->market_id = (uint64_t)i;
  m->title = str("Will BTC close above 100k on Dec 31?");
  m->description = str("Resolves YES if the Coinbase BTC-USD daily close on 2025-12-31 is "
                       "strictly above 100,000 USD.");
  m->category = str("crypto");
  m->created_at = 1733011200;
  m->resolution_time = 1767139200;
  m->state = CB_MARKET_ACTIVE;
  m->market_type = CB_MARKET_STABLE;
  key(m->accepted_mint.b58, "Mint", 1);
  key(m->yes_vault.b58, "YesV", i);
  key(m->no_vault.b58, "NoV", i);
  m->yes_pool = 1000000000ull + slot * 7 + (uint64_t)i;
  m->no_pool = 2000000000ull + slot * 3;
  m->total_volume = m->yes_pool + m->no_pool;
  m->total_participants = POS_PER_MARKET;
  key(m->resolver.b58, "Res", 1);
  m->metadata_uri = str("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi");
  m->creation_fee = 10000000;
  m->bump = 254;
}

static void mk_position(cb_account_t *a, int i, uint64_t slot) {
  memset(a, 0, sizeof *a);
  a->kind = CB_ACCOUNT_POSITION;
  key(a->pubkey, "Pos", i);
  a->slot = slot;
  cb_position_t *p = &a->u.position;
  key(p->user.b58, "Usr", i % N_USERS);
  key(p->market.b58, "Mkt", i % N_MARKETS);
  p->yes_shares = 1000000ull * (uint64_t)(i % 13) + slot;
  p->no_shares = 1000000ull * (uint64_t)(i % 7);
  p->total_invested = p->yes_shares / 2 + p->no_shares / 2;
  p->yes_avg_price = 512345678;
  p->no_avg_price = 487654322;
  p->created_at = 1733011200;
  p->updated_at = 1733011200 + (int64_t)slot;
  p->bet_count = 3;
  p->bump = 255;
}

/* Record k of a pass: positions interleaved with their markets the way a
 * live stream delivers them (each bet touches one market and one position). */
static void mk_record(cb_account_t *a, int k, uint64_t slot) {
  int per = 1 + POS_PER_MARKET;
  int m = k / per, r = k % per;
  if (r == 0)
    mk_market(a, m, slot);
  else
    mk_position(a, m + (r - 1) * N_MARKETS, slot);
}

static PGconn *must_connect(const char *uri) {
  PGconn *c = PQconnectdb(uri);
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "bench_sink: connect: %s", PQerrorMessage(c));
    exit(EXIT_FAILURE_RUN);
  }
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  return c;
}

static void must_exec(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
    fprintf(stderr, "bench_sink: %s: %s", sql, PQerrorMessage(c));
    exit(EXIT_FAILURE_RUN);
  }
  PQclear(r);
}

static char *scratch_uri(const char *base, const char *name) {
  const char *slash = strrchr(base, '/');
  const char *q = strchr(base, '?');
  if (!slash || strncmp(base, "postgres", 8) != 0) {
    fprintf(stderr, "bench_sink: database URL must be a postgresql:// URI\n");
    exit(EXIT_USAGE);
  }
  size_t keep = (size_t)(slash - base) + 1;
  size_t n = keep + strlen(name) + (q ? strlen(q) : 0) + 1;
  char *u = malloc(n);
  if (!u) exit(EXIT_FAILURE_RUN);
  snprintf(u, n, "%.*s%s%s", (int)keep, base, name, q ? q : "");
  return u;
}

typedef struct cbuf {
  char *p;
  size_t n, cap;
} cbuf_t;

static void cput(cbuf_t *b, const char *s) {
  size_t n = strlen(s);
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) exit(EXIT_FAILURE_RUN);
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

/* The same fields the sink writes, as COPY text (no special characters in
 * the benchmark's strings); a position's user_id is uid. */
static void copy_line(cbuf_t *mb, cbuf_t *pb, const cb_account_t *a, const char *uid) {
  char line[2048];
  if (a->kind == CB_ACCOUNT_MARKET) {
    const cb_market_t *m = &a->u.market;
    snprintf(line, sizeof line,
             "%s\t%" PRIu64 "\t%s\t%.*s\t%.*s\t%.*s\tstable\t2024-12-01 00:00:00+00\t%" PRId64
             "\t2025-12-31 00:00:00+00\t%" PRId64 "\t\\N\tactive\t\\N\t%" PRIu64 "\t%" PRIu64
             "\t%" PRIu64 "\t%" PRIu32 "\t%s\t%s\t%s\t%s\t\\N\t%.*s\t%" PRIu64 "\t%u\t%" PRIu64
             "\t2025-01-01 00:00:00+00\t\\N\t\\N\n",
             a->pubkey, m->market_id, m->authority.b58, (int)m->title.len, m->title.ptr,
             (int)m->description.len, m->description.ptr, (int)m->category.len,
             m->category.ptr, m->created_at, m->resolution_time, m->yes_pool, m->no_pool,
             m->total_volume, m->total_participants, m->accepted_mint.b58, m->yes_vault.b58,
             m->no_vault.b58, m->resolver.b58, (int)m->metadata_uri.len, m->metadata_uri.ptr,
             m->creation_fee, m->bump, a->slot);
    cput(mb, line);
  } else {
    const cb_position_t *p = &a->u.position;
    snprintf(line, sizeof line,
             "%s\t%s\t%s\t%s\t%" PRIu64 "\t%" PRIu64
             "\t%" PRIu64 "\t0.512345678\t0.487654322\t2024-12-01 00:00:00+00\t%" PRId64
             "\t2024-12-01 00:00:00+00\t%" PRId64 "\tf\t0\t%" PRIu32 "\t%u\t%" PRIu64
             "\t2025-01-01 00:00:00+00\t\\N\t\\N\n",
             a->pubkey, uid, p->user.b58, p->market.b58, p->yes_shares, p->no_shares,
             p->total_invested, p->created_at, p->updated_at, p->bet_count, p->bump, a->slot);
    cput(pb, line);
  }
}

static void copy_in(PGconn *c, const char *sql, const cbuf_t *b) {
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COPY_IN) {
    fprintf(stderr, "bench_sink: %s: %s", sql, PQerrorMessage(c));
    exit(EXIT_FAILURE_RUN);
  }
  PQclear(r);
  if (PQputCopyData(c, b->p, (int)b->n) != 1 || PQputCopyEnd(c, NULL) != 1) {
    fprintf(stderr, "bench_sink: copy: %s", PQerrorMessage(c));
    exit(EXIT_FAILURE_RUN);
  }
  r = PQgetResult(c);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    fprintf(stderr, "bench_sink: copy: %s", PQerrorMessage(c));
    exit(EXIT_FAILURE_RUN);
  }
  PQclear(r);
  while ((r = PQgetResult(c)) != NULL) PQclear(r);
}

/* The columns the sink writes (position_accounts: positions_cache's
 * derived columns are computed by the view when read), into table %s. */
static const char copy_msql[] =
    "COPY %s (market_pubkey, market_id, authority_pubkey, title, description, "
    "category, market_type, created_at, created_at_unix, resolution_time, resolution_time_unix, "
    "resolved_at, state, resolution_result, yes_pool, no_pool, total_volume, "
    "total_participants, accepted_mint, yes_vault, no_vault, resolver_pubkey, oracle_source, "
    "metadata_uri, creation_fee, bump, sync_slot, last_sync_at, closed_at, closed_slot) "
    "FROM STDIN";
static const char copy_psql[] =
    "COPY %s (position_pubkey, user_id, user_pubkey, market_pubkey, "
    "yes_shares, no_shares, total_invested, yes_avg_price, no_avg_price, created_at, "
    "created_at_unix, updated_at, updated_at_unix, claimed, claimed_amount, bet_count, bump, "
    "sync_slot, last_sync_at, closed_at, closed_slot) FROM STDIN";

/* ------------------------------------------------------- live stream
 * A live stream's shape: S_MARKETS markets and S_POSITIONS positions are
 * loaded (inserts), then S_BETS bets arrive; each bet updates one market
 * (its pools) and one position (its shares), S_NEW_PCT percent of them
 * opening a new position (insert). Markets and positions are picked
 * uniformly, so a batch touches many distinct markets and the derived
 * position columns of every position of those markets follow. */

#define S_MARKETS 1000
#define S_POSITIONS 50000
#define S_BETS 50000
#define S_NEW_PCT 10
#define S_MAX_POS (S_POSITIONS + S_BETS)

typedef struct stream {
  uint64_t rng;
  uint64_t *yes_pool, *no_pool;
  uint64_t *yes_sh, *no_sh, *inv;
  uint32_t *bets;
  int npos;
} stream_t;

static uint64_t rnd(stream_t *st) {
  st->rng ^= st->rng << 13;
  st->rng ^= st->rng >> 7;
  st->rng ^= st->rng << 17;
  return st->rng;
}

static void stream_init(stream_t *st) {
  memset(st, 0, sizeof *st);
  st->rng = 0x9e3779b97f4a7c15ull;
  st->yes_pool = calloc(S_MARKETS, sizeof(uint64_t));
  st->no_pool = calloc(S_MARKETS, sizeof(uint64_t));
  st->yes_sh = calloc(S_MAX_POS, sizeof(uint64_t));
  st->no_sh = calloc(S_MAX_POS, sizeof(uint64_t));
  st->inv = calloc(S_MAX_POS, sizeof(uint64_t));
  st->bets = calloc(S_MAX_POS, sizeof(uint32_t));
  if (!st->yes_pool || !st->no_pool || !st->yes_sh || !st->no_sh || !st->inv || !st->bets)
    exit(EXIT_FAILURE_RUN);
}

static void stream_free(stream_t *st) {
  free(st->yes_pool);
  free(st->no_pool);
  free(st->yes_sh);
  free(st->no_sh);
  free(st->inv);
  free(st->bets);
}

static void s_market(const stream_t *st, cb_account_t *a, int m, uint64_t slot) {
  mk_market(a, m, slot);
  a->u.market.yes_pool = st->yes_pool[m];
  a->u.market.no_pool = st->no_pool[m];
  a->u.market.total_volume = st->yes_pool[m] + st->no_pool[m];
}

static void s_position(const stream_t *st, cb_account_t *a, int p, uint64_t slot) {
  mk_position(a, p, slot);
  key(a->u.position.user.b58, "Usr", (int)((uint32_t)p * 2654435761u % 10000u));
  key(a->u.position.market.b58, "Mkt", p % S_MARKETS);
  a->u.position.yes_shares = st->yes_sh[p];
  a->u.position.no_shares = st->no_sh[p];
  a->u.position.total_invested = st->inv[p];
  a->u.position.bet_count = st->bets[p];
}

/* One bet: the position it lands on (possibly new), its market's and
 * position's new state. */
static int stream_bet(stream_t *st) {
  int p;
  if (st->npos < S_MAX_POS && (int)(rnd(st) % 100) < S_NEW_PCT)
    p = st->npos++;
  else
    p = (int)(rnd(st) % (uint64_t)st->npos);
  int m = p % S_MARKETS;
  uint64_t amt = 1000000 + rnd(st) % 100000000;
  if (rnd(st) & 1) {
    st->yes_pool[m] += amt;
    st->yes_sh[p] += amt;
  } else {
    st->no_pool[m] += amt;
    st->no_sh[p] += amt;
  }
  st->inv[p] += amt;
  st->bets[p]++;
  return p;
}

typedef void (*rec_fn)(void *ud, const cb_account_t *a);

/* Generates the load phase (markets, then positions) or the bet phase,
 * handing every record to fn. Returns the record count. */
static int stream_gen(stream_t *st, int phase, rec_fn fn, void *ud) {
  cb_account_t a;
  int n = 0;
  if (phase == 0) {
    st->npos = S_POSITIONS;
    for (int m = 0; m < S_MARKETS; m++) {
      st->yes_pool[m] = 1000000000ull;
      st->no_pool[m] = 1000000000ull;
      s_market(st, &a, m, 100);
      fn(ud, &a);
      n++;
    }
    for (int p = 0; p < S_POSITIONS; p++) {
      st->yes_sh[p] = 1000000ull * (uint64_t)(p % 13);
      st->no_sh[p] = 1000000ull * (uint64_t)(p % 7);
      st->inv[p] = st->yes_sh[p] / 2 + st->no_sh[p] / 2;
      st->bets[p] = 1;
      s_position(st, &a, p, 100);
      fn(ud, &a);
      n++;
    }
    return n;
  }
  for (int b = 0; b < S_BETS; b++) {
    uint64_t slot = 1000 + (uint64_t)b / 8;
    int p = stream_bet(st);
    s_market(st, &a, p % S_MARKETS, slot);
    fn(ud, &a);
    s_position(st, &a, p, slot);
    fn(ud, &a);
    n += 2;
  }
  return n;
}

/* Distinct-key passes: every market and position once per pass (pass 0
 * inserts at slot 100, pass 1 updates every row at slot 101). */
static int pass_gen(void *ctx, int phase, rec_fn fn, void *ud) {
  (void)ctx;
  cb_account_t a;
  int total = N_MARKETS + N_POSITIONS;
  for (int k = 0; k < total; k++) {
    mk_record(&a, k, phase == 0 ? 100 : 101);
    fn(ud, &a);
  }
  return total;
}

static int stream_gen_cb(void *ctx, int phase, rec_fn fn, void *ud) {
  stream_t *st = ctx;
  if (phase == 0) {
    stream_free(st);
    stream_init(st);
  }
  return stream_gen(st, phase, fn, ud);
}

typedef int (*gen_fn)(void *ctx, int phase, rec_fn fn, void *ud);

/* CPU seconds (user + system) of a process on this machine, or -1 when
 * /proc cannot tell (server on another host). */
static double proc_cpu_s(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');
  if (!p) return -1;
  /* fields after the command: state(3) ... utime(14) stime(15) */
  unsigned long long ut = 0, st = 0;
  int field = 2;
  for (const char *q = p + 1; *q; q++) {
    if (*q == ' ') {
      field++;
      if (field == 14) ut = strtoull(q + 1, NULL, 10);
      if (field == 15) {
        st = strtoull(q + 1, NULL, 10);
        break;
      }
    }
  }
  long hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? (double)(ut + st) / (double)hz : -1;
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* One measured phase: records handed in, rows written, wall seconds,
 * server backend CPU seconds, client CPU seconds. */
typedef struct meas {
  double recs, rows, wall, srv, cli;
} meas_t;

static void put_rec(void *ud, const cb_account_t *a) {
  sink_t *s = ud;
  int rc = sink_put_account(s, a);
  if (rc != SINK_OK) {
    fprintf(stderr, "bench_sink: put: %s %s\n", sink_strerror(rc), sink_last_error(s));
    exit(EXIT_FAILURE_RUN);
  }
}

static int backend_pid_of_sink(PGconn *c) {
  PGresult *r = PQexec(c, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                          "AND application_name = 'crypto-bet-indexer'");
  int pid = (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
                ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10)
                : -1;
  PQclear(r);
  return pid;
}

/* Empties the account tables and their unlogged copies; a checkpoint
 * (when the role may) so that no run pays for the last one's dirty pages. */
static void reset_tables(PGconn *c) {
  must_exec(c, "TRUNCATE position_accounts, markets_cache, users, account_closures, "
               "bench_copy_markets, bench_copy_positions CASCADE");
  must_exec(c, "VACUUM ANALYZE");
  PQclear(PQexec(c, "CHECKPOINT"));
}

/* Both phases of a workload through a fresh sink. */
static void run_sink(PGconn *c, const char *uri, size_t batch, gen_fn gen, void *ctx,
                     meas_t out[2]) {
  char err[1024];
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = uri;
  o.batch_max_records = batch;
  sink_t *s = NULL;
  if (sink_open(&o, &s, err, sizeof err) != SINK_OK) {
    fprintf(stderr, "bench_sink: %s\n", err);
    exit(EXIT_FAILURE_RUN);
  }
  int pid = backend_pid_of_sink(c);
  for (int ph = 0; ph < 2; ph++) {
    sink_stats_t s0, s1;
    sink_get_stats(s, &s0);
    double w0 = bu_now_s(), sv0 = pid > 0 ? proc_cpu_s(pid) : -1, c0 = self_cpu_s();
    out[ph].recs = gen(ctx, ph, put_rec, s);
    if (sink_flush(s) != SINK_OK) {
      fprintf(stderr, "bench_sink: flush: %s\n", sink_last_error(s));
      exit(EXIT_FAILURE_RUN);
    }
    double sv1 = pid > 0 ? proc_cpu_s(pid) : -1;
    out[ph].wall = bu_now_s() - w0;
    out[ph].srv = sv0 >= 0 && sv1 >= 0 ? sv1 - sv0 : -1;
    out[ph].cli = self_cpu_s() - c0;
    sink_get_stats(s, &s1);
    out[ph].rows = (double)(s1.accounts_written - s0.accounts_written);
  }
  sink_close(s);
}

/* A set of pubkeys / wallets (44 characters) with a number per key; open
 * addressing over a fixed capacity (the workloads hold fewer than
 * KEYSET_CAP / 2 keys). */
#define KEYSET_CAP (1u << 18)
typedef struct keyset {
  char (*k)[45];
  uint32_t *v; /* 0: empty slot */
  size_t n;
} keyset_t;

static uint32_t fnv(const char *k) {
  uint32_t h = 2166136261u;
  for (; *k; k++) h = (h ^ (uint8_t)*k) * 16777619u;
  return h;
}

static void keyset_init(keyset_t *ks) {
  ks->k = malloc(KEYSET_CAP * sizeof *ks->k);
  ks->v = calloc(KEYSET_CAP, sizeof *ks->v);
  ks->n = 0;
  if (!ks->k || !ks->v) exit(EXIT_FAILURE_RUN);
}

static void keyset_free(keyset_t *ks) {
  free(ks->k);
  free(ks->v);
}

/* The number of key, or 0 after adding key with number v when absent. */
static uint32_t keyset_get_add(keyset_t *ks, const char *key, uint32_t v) {
  size_t mask = KEYSET_CAP - 1;
  for (size_t i = fnv(key) & mask;; i = (i + 1) & mask) {
    if (ks->v[i] == 0) {
      if (++ks->n > KEYSET_CAP / 2) {
        fprintf(stderr, "bench_sink: key set full\n");
        exit(EXIT_FAILURE_RUN);
      }
      snprintf(ks->k[i], sizeof ks->k[i], "%s", key);
      ks->v[i] = v;
      return 0;
    }
    if (strcmp(ks->k[i], key) == 0) return ks->v[i];
  }
}

/* The COPY ceilings write the rows the sink writes: records are grouped
 * into windows of the sink's batch size and, as in the sink's batch, only
 * the last record per pubkey of a window is kept; each window is one
 * transaction.
 *  - unlogged: two COPYs into the UNLOGGED copies without indexes or
 *    constraints (user_id a constant);
 *  - logged: into the real tables (markets_cache, position_accounts,
 *    users: logged, every index, constraint and default). As in the sink's
 *    transaction, the users rows of wallets not seen before come first (a
 *    COPY of users (id, wallet_address), the id generated here), then the
 *    accounts with their user_id. A COPY cannot replace a row: a pubkey
 *    already in the table is deleted first in the same transaction
 *    (DELETE ... WHERE pubkey = ANY($1)), then COPYed like the others. */
typedef struct copy_ctx {
  PGconn *c;
  int logged;
  size_t batch, n;
  cb_account_t *win;
  uint32_t *slot; /* open-addressing table: index + 1 into win */
  size_t nslot;
  cbuf_t mb, pb, ub, dm, dp;
  char msql[1024], psql[1024];
  keyset_t present, users; /* logged: pubkeys in the tables, wallets with their users row */
  double rows;
} copy_ctx_t;

static void del_keys(PGconn *c, const char *sql, cbuf_t *b) {
  cput(b, "}");
  b->p[b->n] = '\0';
  const char *v[1] = {b->p};
  PGresult *r = PQexecParams(c, sql, 1, NULL, v, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    fprintf(stderr, "bench_sink: %s: %s", sql, PQerrorMessage(c));
    exit(EXIT_FAILURE_RUN);
  }
  PQclear(r);
}

static void copy_window(copy_ctx_t *x) {
  if (x->n == 0) return;
  x->mb.n = x->pb.n = x->ub.n = x->dm.n = x->dp.n = 0;
  cput(&x->dm, "{");
  cput(&x->dp, "{");
  for (size_t i = 0; i < x->n; i++) {
    const cb_account_t *a = &x->win[i];
    if (a->kind == CB_ACCOUNT_UNKNOWN) continue; /* superseded */
    char uid[40] = "00000000-0000-0000-0000-000000000001";
    if (x->logged) {
      if (a->kind == CB_ACCOUNT_POSITION) {
        uint32_t next = (uint32_t)x->users.n + 1;
        uint32_t id = keyset_get_add(&x->users, a->u.position.user.b58, next);
        int first = id == 0; /* first sight of the wallet: its users row */
        if (first) id = next;
        snprintf(uid, sizeof uid, "00000000-0000-4000-8000-%012" PRIx32, id);
        if (first) {
          cput(&x->ub, uid);
          cput(&x->ub, "\t");
          cput(&x->ub, a->u.position.user.b58);
          cput(&x->ub, "\n");
        }
      }
      if (keyset_get_add(&x->present, a->pubkey, 1) != 0) {
        cbuf_t *d = a->kind == CB_ACCOUNT_MARKET ? &x->dm : &x->dp;
        if (d->n > 1) cput(d, ",");
        cput(d, a->pubkey);
      }
    }
    copy_line(&x->mb, &x->pb, a, uid);
    x->rows++;
  }
  must_exec(x->c, "BEGIN");
  if (x->ub.n) copy_in(x->c, "COPY users (id, wallet_address) FROM STDIN", &x->ub);
  if (x->dm.n > 1)
    del_keys(x->c, "DELETE FROM markets_cache WHERE market_pubkey = ANY($1::text[])", &x->dm);
  if (x->dp.n > 1)
    del_keys(x->c, "DELETE FROM position_accounts WHERE position_pubkey = ANY($1::text[])",
             &x->dp);
  if (x->mb.n) copy_in(x->c, x->msql, &x->mb);
  if (x->pb.n) copy_in(x->c, x->psql, &x->pb);
  must_exec(x->c, "COMMIT");
  memset(x->slot, 0, x->nslot * sizeof *x->slot);
  x->n = 0;
}

static void copy_rec(void *ud, const cb_account_t *a) {
  copy_ctx_t *x = ud;
  size_t mask = x->nslot - 1;
  for (size_t i = fnv(a->pubkey) & mask;; i = (i + 1) & mask) {
    if (x->slot[i] == 0) {
      x->slot[i] = (uint32_t)x->n + 1;
      break;
    }
    if (strcmp(x->win[x->slot[i] - 1].pubkey, a->pubkey) == 0) {
      x->win[x->slot[i] - 1].kind = CB_ACCOUNT_UNKNOWN;
      x->slot[i] = (uint32_t)x->n + 1;
      break;
    }
  }
  x->win[x->n++] = *a;
  if (x->n >= x->batch) copy_window(x);
}

/* Both phases of a workload through COPY, into the unlogged copies or
 * (logged) the real tables, which start empty. */
static void run_copy(PGconn *c, size_t batch, int logged, gen_fn gen, void *ctx, meas_t out[2]) {
  copy_ctx_t x;
  memset(&x, 0, sizeof x);
  x.c = c;
  x.logged = logged;
  x.batch = batch;
  x.nslot = 1;
  while (x.nslot < 2 * batch) x.nslot *= 2;
  x.win = malloc(batch * sizeof *x.win);
  x.slot = calloc(x.nslot, sizeof *x.slot);
  if (!x.win || !x.slot) exit(EXIT_FAILURE_RUN);
  snprintf(x.msql, sizeof x.msql, copy_msql, logged ? "markets_cache" : "bench_copy_markets");
  snprintf(x.psql, sizeof x.psql, copy_psql, logged ? "position_accounts" : "bench_copy_positions");
  if (logged) {
    keyset_init(&x.present);
    keyset_init(&x.users);
  }
  int pid = PQbackendPID(c);
  for (int ph = 0; ph < 2; ph++) {
    x.rows = 0;
    double w0 = bu_now_s(), sv0 = proc_cpu_s(pid), c0 = self_cpu_s();
    out[ph].recs = gen(ctx, ph, copy_rec, &x);
    copy_window(&x);
    double sv1 = proc_cpu_s(pid);
    out[ph].wall = bu_now_s() - w0;
    out[ph].srv = sv0 >= 0 && sv1 >= 0 ? sv1 - sv0 : -1;
    out[ph].cli = self_cpu_s() - c0;
    out[ph].rows = x.rows;
  }
  if (logged) {
    keyset_free(&x.present);
    keyset_free(&x.users);
  }
  free(x.win);
  free(x.slot);
  free(x.mb.p);
  free(x.pb.p);
  free(x.ub.p);
  free(x.dm.p);
  free(x.dp.p);
}

static void loadavg(char *out, size_t n) {
  FILE *f = fopen("/proc/loadavg", "r");
  out[0] = '\0';
  if (f) {
    if (!fgets(out, (int)n, f)) out[0] = '\0';
    fclose(f);
  }
  char *sp = out;
  for (int k = 0; k < 3 && sp; k++) sp = strchr(sp + 1, ' ');
  if (sp) *sp = '\0';
}

/* What the account tables hold, as one string: row counts and sums of
 * the columns the workloads change (the sink's run and the logged COPY
 * must leave the same). */
static void table_state(PGconn *c, char *out, size_t n) {
  PGresult *r = PQexec(c,
                       "SELECT (SELECT count(*) || ' ' || coalesce(sum(yes_pool), 0) || ' ' || "
                       "coalesce(sum(no_pool), 0) || ' ' || coalesce(max(sync_slot), 0) "
                       "FROM markets_cache) || ' / ' || "
                       "(SELECT count(*) || ' ' || coalesce(sum(yes_shares), 0) || ' ' || "
                       "coalesce(sum(no_shares), 0) || ' ' || coalesce(sum(bet_count), 0) || ' ' "
                       "|| count(DISTINCT user_id) FROM position_accounts) || ' / ' || "
                       "(SELECT count(*) FROM users)");
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
    fprintf(stderr, "bench_sink: table state: %s", PQerrorMessage(c));
    exit(EXIT_FAILURE_RUN);
  }
  snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
}

/* The three writers of a workload: the sink, COPY into the unlogged
 * copies, COPY into the real (logged, indexed) tables. */
enum { W_SINK, W_UNLOGGED, W_LOGGED, NW };

/* Runs a workload reps times (the sink, then the unlogged COPY, then the
 * logged COPY, each on emptied tables) and prints its figures, named
 * prefix_... (ph0/ph1 name the phases in figure names, ph0d/ph1d describe
 * them). Returns 0, or -1 when a figure could not be printed. */
static int workload(PGconn *c, const char *uri, size_t batch, int reps, const char *prefix,
                    const char *desc, const char *ph0, const char *ph1, const char *ph0d,
                    const char *ph1d, gen_fn gen, void *ctx) {
  /* per writer and rep: rate per phase and both, server CPU per row */
  double rate[NW][3][BU_MAX_REPS], srv[NW][BU_MAX_REPS], cli[BU_MAX_REPS];
  double ratio[NW][BU_MAX_REPS];
  double recs[2] = {0, 0}, rows[2] = {0, 0};
  int have_srv = 1;
  char la0[64], la1[64];
  loadavg(la0, sizeof la0);
  for (int r = 0; r < reps; r++) {
    meas_t m[NW][2];
    char st_sink[512], st_logged[512];
    reset_tables(c);
    run_sink(c, uri, batch, gen, ctx, m[W_SINK]);
    table_state(c, st_sink, sizeof st_sink);
    reset_tables(c);
    run_copy(c, batch, 0, gen, ctx, m[W_UNLOGGED]);
    reset_tables(c);
    run_copy(c, batch, 1, gen, ctx, m[W_LOGGED]);
    table_state(c, st_logged, sizeof st_logged);
    if (strcmp(st_sink, st_logged) != 0) {
      fprintf(stderr, "bench_sink: %s: the logged COPY left \"%s\", the sink \"%s\"\n", desc,
              st_logged, st_sink);
      exit(EXIT_FAILURE_RUN);
    }
    for (int w = 0; w < NW; w++) {
      for (int ph = 0; ph < 2; ph++) {
        if (m[w][ph].rows != m[W_SINK][ph].rows) {
          fprintf(stderr, "bench_sink: %s phase %d: sink wrote %.0f rows, COPY %.0f\n", desc, ph,
                  m[W_SINK][ph].rows, m[w][ph].rows);
          exit(EXIT_FAILURE_RUN);
        }
        rate[w][ph][r] = m[w][ph].recs / m[w][ph].wall;
      }
      double wall = m[w][0].wall + m[w][1].wall;
      rate[w][2][r] = (m[w][0].recs + m[w][1].recs) / wall;
      ratio[w][r] = wall / (m[W_SINK][0].wall + m[W_SINK][1].wall); /* COPY time / sink time */
      if (m[w][0].srv < 0 || m[w][1].srv < 0) have_srv = 0;
      srv[w][r] = (m[w][0].srv + m[w][1].srv) / (m[w][0].rows + m[w][1].rows) * 1e6;
    }
    cli[r] = (m[W_SINK][0].cli + m[W_SINK][1].cli) / (m[W_SINK][0].recs + m[W_SINK][1].recs) * 1e6;
    for (int ph = 0; ph < 2; ph++) {
      recs[ph] = m[W_SINK][ph].recs;
      rows[ph] = m[W_SINK][ph].rows;
    }
  }
  loadavg(la1, sizeof la1);
  char name[128], bs[32] = "";
  if (batch != SINK_DEFAULT_BATCH_MAX_RECORDS) snprintf(bs, sizeof bs, "_batch_%zu", batch);
#define MED(W, PH) bu_median(rate[W][PH], reps)
  printf("%s, batch %zu: %s %.0f records (%.0f rows written), %s %.0f records (%.0f rows "
         "written); loadavg %s -> %s\n",
         desc, batch, ph0d, recs[0], rows[0], ph1d, recs[1], rows[1], la0, la1);
  int bad = 0;
  snprintf(name, sizeof name, "%s_upserts%s", prefix, bs);
  bad |= bu_figure(name, "records/s", 0, rate[W_SINK][2], reps,
                   "%s, both phases, through the sink; unlogged COPY %.0f/s, logged COPY %.0f/s",
                   desc, MED(W_UNLOGGED, 2), MED(W_LOGGED, 2));
  snprintf(name, sizeof name, "%s_copy_unlogged_ceiling%s", prefix, bs);
  bad |= bu_figure(name, "records/s", 0, rate[W_UNLOGGED][2], reps,
                   "COPY of the rows the sink writes into UNLOGGED tables without indexes or "
                   "constraints, one transaction per batch");
  snprintf(name, sizeof name, "%s_copy_logged_ceiling%s", prefix, bs);
  bad |= bu_figure(name, "records/s", 0, rate[W_LOGGED][2], reps,
                   "COPY of the same rows into the real logged tables with all their indexes "
                   "and constraints, one transaction per batch; users rows COPYed first in the "
                   "same transaction (timed), a row already present DELETEd first");
  snprintf(name, sizeof name, "%s_ratio_to_unlogged_copy%s", prefix, bs);
  bad |= bu_figure(name, "x", 2, ratio[W_UNLOGGED], reps,
                   "sink rate / unlogged COPY rate, per run; goal >= 0.5");
  snprintf(name, sizeof name, "%s_ratio_to_logged_copy%s", prefix, bs);
  bad |= bu_figure(name, "x", 2, ratio[W_LOGGED], reps,
                   "sink rate / logged COPY rate, per run; goal >= 0.5");
  snprintf(name, sizeof name, "%s_%s_upserts%s", prefix, ph0, bs);
  bad |= bu_figure(name, "records/s", 0, rate[W_SINK][0], reps,
                   "%s; unlogged COPY %.0f/s, logged COPY %.0f/s", ph0d, MED(W_UNLOGGED, 0),
                   MED(W_LOGGED, 0));
  snprintf(name, sizeof name, "%s_%s_upserts%s", prefix, ph1, bs);
  bad |= bu_figure(name, "records/s", 0, rate[W_SINK][1], reps,
                   "%s; unlogged COPY %.0f/s, logged COPY %.0f/s", ph1d, MED(W_UNLOGGED, 1),
                   MED(W_LOGGED, 1));
#undef MED
  if (have_srv) {
    snprintf(name, sizeof name, "%s_server_cpu_per_row%s", prefix, bs);
    bad |= bu_figure(name, "us", 1, srv[W_SINK], reps,
                     "sink's backend, both phases; unlogged COPY %.1f us, logged COPY %.1f us; "
                     "client CPU per record %.1f us",
                     bu_median(srv[W_UNLOGGED], reps), bu_median(srv[W_LOGGED], reps),
                     bu_median(cli, reps));
  }
  return bad ? -1 : 0;
}

/* ---------------------------------------------- write strategy comparison
 * The same market upsert (24 columns, slot guard) three ways, batches of
 * the same size: one statement with one array per column (what the sink
 * does), single-row prepared statements in pipeline mode, and COPY into a
 * temporary staging table followed by INSERT ... SELECT ... ON CONFLICT. */

#define STRAT_N 20000
#define STRAT_NCOL 24
static const char *const strat_types[STRAT_NCOL] = {
    "text", "numeric", "text", "text", "text", "text", "market_type", "bigint", "bigint",
    "market_state", "boolean", "numeric", "numeric", "numeric", "bigint", "text", "text",
    "text", "text", "text", "text", "numeric", "smallint", "bigint"};
static const char strat_cols[] =
    "market_pubkey, market_id, authority_pubkey, title, description, category, market_type, "
    "created_at_unix, resolution_time_unix, state, resolution_result, yes_pool, no_pool, "
    "total_volume, total_participants, accepted_mint, yes_vault, no_vault, resolver_pubkey, "
    "oracle_source, metadata_uri, creation_fee, bump, sync_slot";
static const char strat_update[] =
    " ON CONFLICT (market_pubkey) DO UPDATE SET market_id = EXCLUDED.market_id, "
    "authority_pubkey = EXCLUDED.authority_pubkey, title = EXCLUDED.title, "
    "description = EXCLUDED.description, category = EXCLUDED.category, "
    "market_type = EXCLUDED.market_type, created_at_unix = EXCLUDED.created_at_unix, "
    "resolution_time_unix = EXCLUDED.resolution_time_unix, state = EXCLUDED.state, "
    "resolution_result = EXCLUDED.resolution_result, yes_pool = EXCLUDED.yes_pool, "
    "no_pool = EXCLUDED.no_pool, total_volume = EXCLUDED.total_volume, "
    "total_participants = EXCLUDED.total_participants, accepted_mint = EXCLUDED.accepted_mint, "
    "yes_vault = EXCLUDED.yes_vault, no_vault = EXCLUDED.no_vault, "
    "resolver_pubkey = EXCLUDED.resolver_pubkey, oracle_source = EXCLUDED.oracle_source, "
    "metadata_uri = EXCLUDED.metadata_uri, creation_fee = EXCLUDED.creation_fee, "
    "bump = EXCLUDED.bump, sync_slot = EXCLUDED.sync_slot, last_sync_at = now() "
    "WHERE t.sync_slot <= EXCLUDED.sync_slot";

/* Column values of market i at slot as text (NULL for SQL NULL). */
static void strat_row(int i, uint64_t slot, char v[STRAT_NCOL][128], const char *out[STRAT_NCOL]) {
  cb_account_t a;
  mk_market(&a, i, slot);
  const cb_market_t *m = &a.u.market;
  snprintf(v[0], 128, "%s", a.pubkey);
  snprintf(v[1], 128, "%" PRIu64, m->market_id);
  snprintf(v[2], 128, "%s", m->authority.b58);
  snprintf(v[3], 128, "%.*s", (int)m->title.len, m->title.ptr);
  snprintf(v[4], 128, "%.*s", (int)m->description.len, m->description.ptr);
  snprintf(v[5], 128, "%.*s", (int)m->category.len, m->category.ptr);
  snprintf(v[6], 128, "stable");
  snprintf(v[7], 128, "%" PRId64, m->created_at);
  snprintf(v[8], 128, "%" PRId64, m->resolution_time);
  snprintf(v[9], 128, "active");
  snprintf(v[11], 128, "%" PRIu64, m->yes_pool);
  snprintf(v[12], 128, "%" PRIu64, m->no_pool);
  snprintf(v[13], 128, "%" PRIu64, m->total_volume);
  snprintf(v[14], 128, "%" PRIu32, m->total_participants);
  snprintf(v[15], 128, "%s", m->accepted_mint.b58);
  snprintf(v[16], 128, "%s", m->yes_vault.b58);
  snprintf(v[17], 128, "%s", m->no_vault.b58);
  snprintf(v[18], 128, "%s", m->resolver.b58);
  snprintf(v[20], 128, "%.*s", (int)m->metadata_uri.len, m->metadata_uri.ptr);
  snprintf(v[21], 128, "%" PRIu64, m->creation_fee);
  snprintf(v[22], 128, "%u", m->bump);
  snprintf(v[23], 128, "%" PRIu64, slot);
  for (int k = 0; k < STRAT_NCOL; k++) out[k] = v[k];
  out[10] = NULL;
  out[19] = NULL;
}

static void cput_quoted(cbuf_t *b, const char *s) {
  /* the benchmark's values contain no quotes or backslashes */
  cput(b, "\"");
  cput(b, s);
  cput(b, "\"");
}

static double strat_unnest(PGconn *c, uint64_t slot, size_t batch) {
  cbuf_t a[STRAT_NCOL];
  memset(a, 0, sizeof a);
  char v[STRAT_NCOL][128];
  const char *val[STRAT_NCOL];
  double t0 = bu_now_s();
  for (int b = 0; b < STRAT_N; b += (int)batch) {
    for (int k = 0; k < STRAT_NCOL; k++) {
      a[k].n = 0;
      cput(&a[k], "{");
    }
    for (int i = b; i < b + (int)batch && i < STRAT_N; i++) {
      strat_row(i, slot, v, val);
      for (int k = 0; k < STRAT_NCOL; k++) {
        if (i > b) cput(&a[k], ",");
        if (val[k])
          cput_quoted(&a[k], val[k]);
        else
          cput(&a[k], "NULL");
      }
    }
    const char *pv[STRAT_NCOL];
    for (int k = 0; k < STRAT_NCOL; k++) {
      cput(&a[k], "}");
      a[k].p[a[k].n] = '\0';
      pv[k] = a[k].p;
    }
    must_exec(c, "BEGIN");
    PGresult *r = PQexecPrepared(c, "strat_unnest", STRAT_NCOL, pv, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      fprintf(stderr, "bench_sink: unnest: %s", PQerrorMessage(c));
      exit(EXIT_FAILURE_RUN);
    }
    PQclear(r);
    must_exec(c, "COMMIT");
  }
  double t = bu_now_s() - t0;
  for (int k = 0; k < STRAT_NCOL; k++) free(a[k].p);
  return t;
}

static double strat_pipeline(PGconn *c, uint64_t slot, size_t batch) {
  char v[STRAT_NCOL][128];
  const char *val[STRAT_NCOL];
  double t0 = bu_now_s();
  if (!PQenterPipelineMode(c)) {
    fprintf(stderr, "bench_sink: pipeline mode: %s", PQerrorMessage(c));
    exit(EXIT_FAILURE_RUN);
  }
  for (int b = 0; b < STRAT_N; b += (int)batch) {
    int ok = PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
    for (int i = b; ok && i < b + (int)batch && i < STRAT_N; i++) {
      strat_row(i, slot, v, val);
      ok = PQsendQueryPrepared(c, "strat_row", STRAT_NCOL, val, NULL, NULL, 0);
    }
    ok = ok && PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) && PQpipelineSync(c);
    if (!ok) {
      fprintf(stderr, "bench_sink: pipeline send: %s", PQerrorMessage(c));
      exit(EXIT_FAILURE_RUN);
    }
    for (;;) {
      PGresult *r = PQgetResult(c);
      if (!r) continue; /* end of one query's results */
      ExecStatusType st = PQresultStatus(r);
      PQclear(r);
      if (st == PGRES_PIPELINE_SYNC) break;
      if (st != PGRES_COMMAND_OK) {
        fprintf(stderr, "bench_sink: pipeline: %s", PQerrorMessage(c));
        exit(EXIT_FAILURE_RUN);
      }
    }
  }
  PQexitPipelineMode(c);
  return bu_now_s() - t0;
}

static double strat_copy(PGconn *c, uint64_t slot, size_t batch) {
  char v[STRAT_NCOL][128];
  const char *val[STRAT_NCOL];
  char sql[1024];
  snprintf(sql, sizeof sql, "COPY strat_stage (%s) FROM STDIN", strat_cols);
  cbuf_t b = {0};
  double t0 = bu_now_s();
  for (int s0 = 0; s0 < STRAT_N; s0 += (int)batch) {
    b.n = 0;
    for (int i = s0; i < s0 + (int)batch && i < STRAT_N; i++) {
      strat_row(i, slot, v, val);
      for (int k = 0; k < STRAT_NCOL; k++) {
        if (k) cput(&b, "\t");
        cput(&b, val[k] ? val[k] : "\\N");
      }
      cput(&b, "\n");
    }
    must_exec(c, "BEGIN");
    copy_in(c, sql, &b);
    PGresult *r = PQexecPrepared(c, "strat_from_stage", 0, NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      fprintf(stderr, "bench_sink: from stage: %s", PQerrorMessage(c));
      exit(EXIT_FAILURE_RUN);
    }
    PQclear(r);
    must_exec(c, "COMMIT");
  }
  free(b.p);
  return bu_now_s() - t0;
}

static void must_prepare(PGconn *c, const char *name, const char *sql) {
  PGresult *r = PQprepare(c, name, sql, 0, NULL);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    fprintf(stderr, "bench_sink: prepare %s: %s", name, PQerrorMessage(c));
    exit(EXIT_FAILURE_RUN);
  }
  PQclear(r);
}

/* Insert pass + update pass per strategy, reps times; prints upserts/s of
 * each. Returns 0 or -1 (a figure not printed). */
static int strategy_compare(PGconn *c, size_t batch, int reps) {
  char sql[4096];
  int n = snprintf(sql, sizeof sql, "INSERT INTO markets_cache AS t (%s) SELECT * FROM unnest(",
                   strat_cols);
  for (int k = 0; k < STRAT_NCOL; k++)
    n += snprintf(sql + n, sizeof sql - (size_t)n, "%s$%d::%s[]", k ? ", " : "", k + 1,
                  strat_types[k]);
  snprintf(sql + n, sizeof sql - (size_t)n, ")%s", strat_update);
  must_prepare(c, "strat_unnest", sql);
  n = snprintf(sql, sizeof sql, "INSERT INTO markets_cache AS t (%s) VALUES (", strat_cols);
  for (int k = 0; k < STRAT_NCOL; k++)
    n += snprintf(sql + n, sizeof sql - (size_t)n, "%s$%d::%s", k ? ", " : "", k + 1,
                  strat_types[k]);
  snprintf(sql + n, sizeof sql - (size_t)n, ")%s", strat_update);
  must_prepare(c, "strat_row", sql);
  must_exec(c, "CREATE TEMP TABLE strat_stage (LIKE markets_cache INCLUDING DEFAULTS) "
               "ON COMMIT DELETE ROWS");
  snprintf(sql, sizeof sql, "INSERT INTO markets_cache AS t (%s) SELECT %s FROM strat_stage%s",
           strat_cols, strat_cols, strat_update);
  must_prepare(c, "strat_from_stage", sql);
  double (*fn[3])(PGconn *, uint64_t, size_t) = {strat_unnest, strat_pipeline, strat_copy};
  const char *name[3] = {"sink_strategy_unnest_arrays", "sink_strategy_pipelined_rows",
                         "sink_strategy_copy_staging"};
  const char *what[3] = {"one statement with one array per column (what the sink does)",
                         "single-row prepared statements in pipeline mode",
                         "COPY into a temporary staging table, then INSERT ... SELECT"};
  double rate[3][BU_MAX_REPS];
  for (int r = 0; r < reps; r++)
    for (int k = 0; k < 3; k++) {
      must_exec(c, "TRUNCATE markets_cache CASCADE");
      double t = fn[k](c, 1, batch) + fn[k](c, 2, batch);
      rate[k][r] = 2.0 * STRAT_N / t;
    }
  int bad = 0;
  for (int k = 0; k < 3; k++)
    bad |= bu_figure(name[k], "upserts/s", 0, rate[k], reps,
                     "%s; market upserts, %d inserts + %d updates, batch %zu", what[k], STRAT_N,
                     STRAT_N, batch);
  must_exec(c, "TRUNCATE markets_cache CASCADE");
  return bad ? -1 : 0;
}

/* ------------------------------------------------ analytics on a hot market
 * A live stream of bets concentrated on few markets within one UTC day:
 * H_BETS place_bet transaction rows (with their BetPlaced pools), each
 * followed by its market's and position's new state, as the live source
 * hands them over. Run once with the analytics upkeep off
 * (sink_options_t.skip_analytics) and once on, on emptied tables; the
 * figure is bets per second through the sink (three records each). */

#define H_MARKETS 4
#define H_WALLETS 400
#define H_BETS 20000
#define H_DAY0 1740787200 /* 2025-03-01 00:00:00 UTC */

static double hot_market_run(PGconn *c, const char *uri, size_t batch, int analytics) {
  must_exec(c, "TRUNCATE position_accounts, markets_cache, users, account_closures, "
               "transactions, bet_history, market_analytics, daily_platform_metrics, "
               "analytics_state CASCADE");
  must_exec(c, "VACUUM ANALYZE");
  char err[1024];
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = uri;
  o.batch_max_records = batch;
  o.skip_analytics = !analytics;
  sink_t *s = NULL;
  if (sink_open(&o, &s, err, sizeof err) != SINK_OK) {
    fprintf(stderr, "bench_sink: %s\n", err);
    exit(EXIT_FAILURE_RUN);
  }
  uint64_t yes[H_MARKETS] = {0}, no[H_MARKETS] = {0}, rng = 0x2545f4914f6cdd1dull;
  cb_account_t a;
  for (int m = 0; m < H_MARKETS; m++) {
    mk_market(&a, m, 1);
    a.u.market.created_at = H_DAY0;
    a.u.market.yes_pool = a.u.market.no_pool = a.u.market.total_volume = 0;
    put_rec(s, &a);
  }
  if (sink_flush(s) != SINK_OK) exit(EXIT_FAILURE_RUN);
  double t0 = bu_now_s();
  for (int i = 0; i < H_BETS; i++) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    int m = i % H_MARKETS, w = (int)(rng % H_WALLETS);
    uint64_t amt = 1000000 + (rng >> 20) % 100000000, fee = amt / 40;
    bool y = (rng >> 8) & 1;
    if (y)
      yes[m] += amt - fee;
    else
      no[m] += amt - fee;
    cb_tx_row_t t;
    memset(&t, 0, sizeof t);
    snprintf(t.signature, sizeof t.signature, "HotBet%dSig", i);
    for (size_t k = strlen(t.signature); k < 88; k++) t.signature[k] = (char)('a' + k % 26);
    t.type = CB_TX_PLACE_BET;
    key(t.market, "Mkt", m);
    key(t.user, "Usr", w);
    t.amount = amt;
    t.side = y ? CB_SIDE_YES : CB_SIDE_NO;
    t.has_price = true;
    t.price = (y ? yes[m] : no[m]) * 1000000000ull / (yes[m] + no[m]);
    t.platform_fee = fee;
    t.has_pools = true;
    t.yes_pool = yes[m];
    t.no_pool = no[m];
    t.slot = 1000 + (uint64_t)i / 4;
    t.has_block_time = true;
    t.block_time = H_DAY0 + 3600 + i; /* all on 2025-03-01 */
    t.fee = 5000;
    if (sink_put_tx(s, &t) != SINK_OK) exit(EXIT_FAILURE_RUN);
    mk_market(&a, m, t.slot);
    a.u.market.created_at = H_DAY0;
    a.u.market.yes_pool = yes[m];
    a.u.market.no_pool = no[m];
    put_rec(s, &a);
    mk_position(&a, m * H_WALLETS + w, t.slot);
    key(a.u.position.user.b58, "Usr", w);
    key(a.u.position.market.b58, "Mkt", m);
    put_rec(s, &a);
  }
  if (sink_flush(s) != SINK_OK) {
    fprintf(stderr, "bench_sink: flush: %s\n", sink_last_error(s));
    exit(EXIT_FAILURE_RUN);
  }
  double rate = H_BETS / (bu_now_s() - t0);
  sink_close(s);
  if (analytics) { /* the upkeep did its work */
    PGresult *r = PQexec(c, "SELECT sum(daily_bets) FROM market_analytics");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && strtol(PQgetvalue(r, 0, 0), NULL, 10) == H_BETS;
    PQclear(r);
    if (!ok) {
      fprintf(stderr, "bench_sink: market_analytics does not count every bet\n");
      exit(EXIT_FAILURE_RUN);
    }
  }
  return rate;
}

static int hot_market(PGconn *c, const char *uri, size_t batch, int reps) {
  double off[BU_MAX_REPS], on[BU_MAX_REPS], share[BU_MAX_REPS];
  for (int r = 0; r < reps; r++) {
    off[r] = hot_market_run(c, uri, batch, 0);
    on[r] = hot_market_run(c, uri, batch, 1);
    share[r] = 100.0 * on[r] / off[r];
  }
  char n0[96], n1[96], bs[32] = "";
  if (batch != SINK_DEFAULT_BATCH_MAX_RECORDS) snprintf(bs, sizeof bs, "_batch_%zu", batch);
  snprintf(n0, sizeof n0, "sink_bets_without_analytics%s", bs);
  snprintf(n1, sizeof n1, "sink_bets_with_analytics%s", bs);
  int bad = bu_figure(n0, "bets/s", 0, off, reps,
                      "hot market: %d bets on %d markets in one UTC day, %d wallets, 3 records "
                      "per bet, batch %zu, analytics upkeep off",
                      H_BETS, H_MARKETS, H_WALLETS, batch);
  bad |= bu_figure(n1, "bets/s", 0, on, reps,
                   "the same with the analytics upkeep; %.0f%% of without (median of per-run "
                   "shares, min %.0f%%, max %.0f%%)",
                   bu_median(share, reps), bu_stat(share, reps).min, bu_stat(share, reps).max);
  return bad ? -1 : 0;
}

int main(int argc, char **argv) {
  const char *base = getenv("CBI_TEST_DATABASE_URL");
  if (!base || !*base) base = getenv("DATABASE_URL");
  if (!base || !*base) {
    fprintf(stderr, "bench_sink: set CBI_TEST_DATABASE_URL or DATABASE_URL\n");
    return EXIT_USAGE;
  }
  int reps = bu_reps("bench_sink", DEFAULT_REPS);
  size_t batches[16];
  int nb = 0;
  for (int i = 1; i < argc && nb < 16; i++) {
    unsigned long long v;
    if (config_parse_u64(argv[i], &v) != 0 || v == 0 || v > 1000000) {
      fprintf(stderr, "bench_sink: bad batch size '%s'\n", argv[i]);
      return EXIT_USAGE;
    }
    batches[nb++] = (size_t)v;
  }
  if (nb == 0) batches[nb++] = SINK_DEFAULT_BATCH_MAX_RECORDS;

  char dbname[64], sql[160], err[1024];
  snprintf(dbname, sizeof dbname, "bench_sink_%d", (int)getpid());
  PGconn *admin = must_connect(base);
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
  must_exec(admin, sql);
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
  must_exec(admin, sql);
  char *uri = scratch_uri(base, dbname);
  PGconn *c = must_connect(uri);
  if (migrate_run(uri, NULL, err, sizeof err) != MIGRATE_OK) {
    fprintf(stderr, "bench_sink: migrate: %s\n", err);
    return EXIT_FAILURE_RUN;
  }
  must_exec(c, "CREATE UNLOGGED TABLE bench_copy_markets (LIKE markets_cache INCLUDING DEFAULTS)");
  must_exec(c, "CREATE UNLOGGED TABLE bench_copy_positions "
               "(LIKE position_accounts INCLUDING DEFAULTS)");

  /* CBI_BENCH_HOT_ONLY: only the hot-market analytics workload */
  const char *hot_only = getenv("CBI_BENCH_HOT_ONLY");
  int bad = 0;
  for (int bi = 0; bi < nb && !(hot_only && *hot_only); bi++) {
    stream_t st;
    stream_init(&st);
    bad |= workload(c, uri, batches[bi], reps, "sink", "live stream", "load", "bets",
                    "load (inserts)", "bets (updates)", stream_gen_cb, &st);
    stream_free(&st);
    bad |= workload(c, uri, batches[bi], reps, "sink_distinct", "distinct-key passes", "insert",
                    "update", "insert pass", "update pass", pass_gen, NULL);
  }
  for (int bi = 0; bi < nb; bi++) bad |= hot_market(c, uri, batches[bi], reps);
  if (getenv("CBI_BENCH_STRATEGIES")) bad |= strategy_compare(c, batches[0], reps);
  PQfinish(c);
  /* CBI_BENCH_KEEP_DB: leave the scratch database (named on stderr) */
  const char *keep = getenv("CBI_BENCH_KEEP_DB");
  if (keep && *keep) {
    fprintf(stderr, "bench_sink: kept database %s\n", dbname);
  } else {
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
    must_exec(admin, sql);
  }
  PQfinish(admin);
  free(uri);
  return bad ? EXIT_FAILURE_RUN : EXIT_OK;
}
