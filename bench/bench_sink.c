/* Sink throughput: market + position upserts per second through the sink,
 * next to a COPY ceiling measured in the same run on the same server: COPY
 * (text) into UNLOGGED tables without indexes of the rows the sink writes,
 * with the same columns (markets_cache, position_accounts), in
 * transactions of the same batch size.
 *
 * Two workloads, each run CBI_BENCH_REPS times (default 3; medians
 * printed, with the load average before and after):
 *  - live stream: 1000 markets and 50000 positions are loaded (inserts),
 *    then 50000 bets arrive, each updating one market (its pools) and one
 *    position (10% of them new positions). Within a batch the sink keeps
 *    only the newest record per account; the COPY ceiling writes exactly
 *    the rows the sink writes (checked), so both do the same work.
 *  - distinct-key passes: 2000 markets and 48000 positions inserted, then
 *    all updated once (no record superseded in a batch).
 * Server CPU per row comes from /proc/<backend pid>/stat when the server
 * runs on this machine.
 *
 * The headline "bench sink_upserts" is the live stream (records handed to
 * the sink per second, both phases) and its ratio to the COPY ceiling.
 * CBI_BENCH_STRATEGIES=1 adds the comparison of write strategies for a
 * market upsert (array parameters, pipelined single rows, COPY staging).
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
 * the benchmark's strings). */
static void copy_line(cbuf_t *mb, cbuf_t *pb, const cb_account_t *a) {
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
             "%s\t00000000-0000-0000-0000-000000000001\t%s\t%s\t%" PRIu64 "\t%" PRIu64
             "\t%" PRIu64 "\t0.512345678\t0.487654322\t2024-12-01 00:00:00+00\t%" PRId64
             "\t2024-12-01 00:00:00+00\t%" PRId64 "\tf\t0\t%" PRIu32 "\t%u\t%" PRIu64
             "\t2025-01-01 00:00:00+00\t\\N\t\\N\n",
             a->pubkey, p->user.b58, p->market.b58, p->yes_shares, p->no_shares,
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
 * derived columns are computed by the view when read). */
static const char copy_msql[] =
    "COPY bench_copy_markets (market_pubkey, market_id, authority_pubkey, title, description, "
    "category, market_type, created_at, created_at_unix, resolution_time, resolution_time_unix, "
    "resolved_at, state, resolution_result, yes_pool, no_pool, total_volume, "
    "total_participants, accepted_mint, yes_vault, no_vault, resolver_pubkey, oracle_source, "
    "metadata_uri, creation_fee, bump, sync_slot, last_sync_at, closed_at, closed_slot) "
    "FROM STDIN";
static const char copy_psql[] =
    "COPY bench_copy_positions (position_pubkey, user_id, user_pubkey, market_pubkey, "
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

static void reset_tables(PGconn *c) {
  must_exec(c, "TRUNCATE position_accounts, markets_cache, users, account_closures, "
               "bench_copy_markets, bench_copy_positions CASCADE");
  must_exec(c, "VACUUM ANALYZE");
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

/* The COPY ceiling writes the rows the sink writes: records are grouped
 * into windows of the sink's batch size and, as in the sink's batch, only
 * the last record per pubkey of a window is kept; each window is one
 * transaction of two COPYs into the unlogged copies. */
typedef struct copy_ctx {
  PGconn *c;
  size_t batch, n;
  cb_account_t *win;
  uint32_t *slot; /* open-addressing table: index + 1 into win */
  size_t nslot;
  cbuf_t mb, pb;
  double rows;
} copy_ctx_t;

static uint32_t fnv(const char *k) {
  uint32_t h = 2166136261u;
  for (; *k; k++) h = (h ^ (uint8_t)*k) * 16777619u;
  return h;
}

static void copy_window(copy_ctx_t *x) {
  if (x->n == 0) return;
  x->mb.n = x->pb.n = 0;
  for (size_t i = 0; i < x->n; i++) {
    if (x->win[i].kind == CB_ACCOUNT_UNKNOWN) continue; /* superseded */
    copy_line(&x->mb, &x->pb, &x->win[i]);
    x->rows++;
  }
  must_exec(x->c, "BEGIN");
  if (x->mb.n) copy_in(x->c, copy_msql, &x->mb);
  if (x->pb.n) copy_in(x->c, copy_psql, &x->pb);
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

static void run_copy(PGconn *c, size_t batch, gen_fn gen, void *ctx, meas_t out[2]) {
  copy_ctx_t x;
  memset(&x, 0, sizeof x);
  x.c = c;
  x.batch = batch;
  x.nslot = 1;
  while (x.nslot < 2 * batch) x.nslot *= 2;
  x.win = malloc(batch * sizeof *x.win);
  x.slot = calloc(x.nslot, sizeof *x.slot);
  if (!x.win || !x.slot) exit(EXIT_FAILURE_RUN);
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
  free(x.win);
  free(x.slot);
  free(x.mb.p);
  free(x.pb.p);
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_dbl);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
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

#define MAX_REPS 9

/* Runs a workload reps times (sink, then COPY, on emptied tables) and
 * prints medians. Returns the median sink rate (records/s) and the
 * median ratio of COPY time to sink time over both phases. */
static void workload(PGconn *c, const char *uri, size_t batch, int reps, const char *name,
                     const char *ph0, const char *ph1, gen_fn gen, void *ctx, double *rate,
                     double *ratio) {
  double r_sink[2][MAX_REPS], r_copy[2][MAX_REPS], rows[2][MAX_REPS], tot_s[MAX_REPS],
      tot_c[MAX_REPS], rat[MAX_REPS], srv_s[MAX_REPS], srv_c[MAX_REPS], cli[MAX_REPS];
  double recs[2] = {0, 0};
  char la0[64], la1[64];
  loadavg(la0, sizeof la0);
  for (int r = 0; r < reps; r++) {
    meas_t ms[2], mc[2];
    reset_tables(c);
    run_sink(c, uri, batch, gen, ctx, ms);
    reset_tables(c);
    run_copy(c, batch, gen, ctx, mc);
    for (int ph = 0; ph < 2; ph++) {
      if (ms[ph].rows != mc[ph].rows) {
        fprintf(stderr, "bench_sink: %s phase %d: sink wrote %.0f rows, COPY %.0f\n", name, ph,
                ms[ph].rows, mc[ph].rows);
        exit(EXIT_FAILURE_RUN);
      }
      recs[ph] = ms[ph].recs;
      rows[ph][r] = ms[ph].rows;
      r_sink[ph][r] = ms[ph].recs / ms[ph].wall;
      r_copy[ph][r] = mc[ph].recs / mc[ph].wall;
    }
    double ws = ms[0].wall + ms[1].wall, wc = mc[0].wall + mc[1].wall;
    tot_s[r] = (recs[0] + recs[1]) / ws;
    tot_c[r] = (recs[0] + recs[1]) / wc;
    rat[r] = wc / ws;
    double n = ms[0].rows + ms[1].rows;
    srv_s[r] = ms[0].srv >= 0 ? (ms[0].srv + ms[1].srv) / n * 1e6 : -1;
    srv_c[r] = mc[0].srv >= 0 ? (mc[0].srv + mc[1].srv) / n * 1e6 : -1;
    cli[r] = (ms[0].cli + ms[1].cli) / (recs[0] + recs[1]) * 1e6;
  }
  loadavg(la1, sizeof la1);
  double rows0 = rows[0][0], rows1 = rows[1][0];
  double m0 = median(r_sink[0], reps), m1 = median(r_sink[1], reps);
  double c0 = median(r_copy[0], reps), c1 = median(r_copy[1], reps);
  double ts = median(tot_s, reps), tc = median(tot_c, reps), ra = median(rat, reps);
  double ss = median(srv_s, reps), sc = median(srv_c, reps), cl = median(cli, reps);
  printf("%s batch=%zu (median of %d, loadavg %s -> %s):\n", name, batch, reps, la0, la1);
  printf("  %s: %.0f records (%.0f rows written) sink %.0f/s, COPY %.0f/s\n", ph0, recs[0],
         rows0, m0, c0);
  printf("  %s: %.0f records (%.0f rows written) sink %.0f/s, COPY %.0f/s\n", ph1, recs[1],
         rows1, m1, c1);
  if (ss >= 0 && sc >= 0)
    printf("  server CPU per row written: sink %.1f us, COPY %.1f us; client CPU per record "
           "%.1f us\n",
           ss, sc, cl);
  printf("  both: sink %.0f/s, COPY %.0f/s, ratio %.2f\n", ts, tc, ra);
  fflush(stdout);
  *rate = ts;
  *ratio = ra;
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

/* Insert pass + update pass per strategy; prints upserts/s of each. */
static void strategy_compare(PGconn *c, size_t batch) {
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
  const char *name[3] = {"unnest arrays", "pipelined single-row", "COPY to staging"};
  double rate[3];
  for (int k = 0; k < 3; k++) {
    must_exec(c, "TRUNCATE markets_cache CASCADE");
    double t = fn[k](c, 1, batch) + fn[k](c, 2, batch);
    rate[k] = 2.0 * STRAT_N / t;
  }
  printf("write strategies (market upserts, %d inserts + %d updates, batch %zu): ", STRAT_N,
         STRAT_N, batch);
  for (int k = 0; k < 3; k++) printf("%s%s %.0f/s", k ? ", " : "", name[k], rate[k]);
  printf("\n");
  must_exec(c, "TRUNCATE markets_cache CASCADE");
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

static void hot_market(PGconn *c, const char *uri, size_t batch, int reps) {
  double off[MAX_REPS], on[MAX_REPS];
  for (int r = 0; r < reps; r++) {
    off[r] = hot_market_run(c, uri, batch, 0);
    on[r] = hot_market_run(c, uri, batch, 1);
  }
  double moff = median(off, reps), mon = median(on, reps);
  printf("hot market batch=%zu (median of %d): %d bets on %d markets in one UTC day, %d "
         "wallets, 3 records per bet\n",
         batch, reps, H_BETS, H_MARKETS, H_WALLETS);
  printf("bench sink_bets_without_analytics: %.0f bets/s\n", moff);
  printf("bench sink_bets_with_analytics: %.0f bets/s (%.0f%% of without)\n", mon,
         100.0 * mon / moff);
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *base = getenv("CBI_TEST_DATABASE_URL");
  if (!base || !*base) base = getenv("DATABASE_URL");
  if (!base || !*base) {
    fprintf(stderr, "bench_sink: set CBI_TEST_DATABASE_URL or DATABASE_URL\n");
    return EXIT_USAGE;
  }
  int reps = 3;
  const char *re = getenv("CBI_BENCH_REPS");
  if (re && *re) {
    unsigned long long v;
    if (config_parse_u64(re, &v) != 0 || v == 0 || v > MAX_REPS) {
      fprintf(stderr, "bench_sink: CBI_BENCH_REPS must be 1..%d\n", MAX_REPS);
      return EXIT_USAGE;
    }
    reps = (int)v;
  }
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
  for (int bi = 0; bi < nb && !(hot_only && *hot_only); bi++) {
    double rate, ratio, prate, pratio;
    stream_t st;
    stream_init(&st);
    workload(c, uri, batches[bi], reps, "live stream", "load (inserts)", "bets (updates)",
             stream_gen_cb, &st, &rate, &ratio);
    stream_free(&st);
    workload(c, uri, batches[bi], reps, "distinct-key passes", "insert pass", "update pass",
             pass_gen, NULL, &prate, &pratio);
    printf("bench sink_upserts: %.0f/s (COPY ceiling ratio %.2f; distinct-key passes %.0f/s, "
           "ratio %.2f)\n",
           rate, ratio, prate, pratio);
    fflush(stdout);
  }
  for (int bi = 0; bi < nb; bi++) hot_market(c, uri, batches[bi], reps);
  if (getenv("CBI_BENCH_STRATEGIES")) strategy_compare(c, batches[0]);
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
  return EXIT_OK;
}
