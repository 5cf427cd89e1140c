/* Sink throughput: market + position upserts per second through the sink
 * (insert pass, then an update pass at a higher slot), next to a COPY of
 * the same rows into UNLOGGED tables of the same width without indexes,
 * measured in the same run on the same server.
 *
 * A second section compares write strategies for the same upsert.
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
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "migrate.h"
#include "sink.h"

#define N_MARKETS 2000
#define POS_PER_MARKET 24
#define N_POSITIONS (N_MARKETS * POS_PER_MARKET)
#define N_USERS 1000

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

/* One sink pass over all records at this slot; returns seconds. */
static double sink_pass(sink_t *s, uint64_t slot) {
  cb_account_t a;
  int total = N_MARKETS + N_POSITIONS;
  double t0 = now_s();
  for (int k = 0; k < total; k++) {
    mk_record(&a, k, slot);
    int rc = sink_put_account(s, &a);
    if (rc != SINK_OK) {
      fprintf(stderr, "bench_sink: put: %s %s\n", sink_strerror(rc), sink_last_error(s));
      exit(EXIT_FAILURE_RUN);
    }
  }
  if (sink_flush(s) != SINK_OK) {
    fprintf(stderr, "bench_sink: flush: %s\n", sink_last_error(s));
    exit(EXIT_FAILURE_RUN);
  }
  return now_s() - t0;
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
             "\t2024-12-01 00:00:00+00\t%" PRId64 "\tf\t0\t1.5\t-0.5\t0\t%" PRIu32 "\t%u\t%" PRIu64
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

/* COPY of the same rows, in batches of the same size, one transaction
 * each; returns seconds. */
static double copy_pass(PGconn *c, uint64_t slot, size_t batch) {
  static const char msql[] =
      "COPY bench_copy_markets (market_pubkey, market_id, authority_pubkey, title, description, "
      "category, market_type, created_at, created_at_unix, resolution_time, resolution_time_unix, "
      "resolved_at, state, resolution_result, yes_pool, no_pool, total_volume, "
      "total_participants, accepted_mint, yes_vault, no_vault, resolver_pubkey, oracle_source, "
      "metadata_uri, creation_fee, bump, sync_slot, last_sync_at, closed_at, closed_slot) "
      "FROM STDIN";
  static const char psql[] =
      "COPY bench_copy_positions (position_pubkey, user_id, user_pubkey, market_pubkey, "
      "yes_shares, no_shares, total_invested, yes_avg_price, no_avg_price, created_at, "
      "created_at_unix, updated_at, updated_at_unix, claimed, claimed_amount, current_value, "
      "unrealized_pnl, realized_pnl, bet_count, bump, sync_slot, last_sync_at, closed_at, "
      "closed_slot) FROM STDIN";
  cbuf_t mb = {0}, pb = {0};
  cb_account_t a;
  int total = N_MARKETS + N_POSITIONS;
  double t0 = now_s();
  for (int k = 0; k < total;) {
    mb.n = pb.n = 0;
    for (size_t i = 0; i < batch && k < total; i++, k++) {
      mk_record(&a, k, slot);
      copy_line(&mb, &pb, &a);
    }
    must_exec(c, "BEGIN");
    if (mb.n) copy_in(c, msql, &mb);
    if (pb.n) copy_in(c, psql, &pb);
    must_exec(c, "COMMIT");
  }
  double t = now_s() - t0;
  free(mb.p);
  free(pb.p);
  return t;
}


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

static void put_rec(void *ud, const cb_account_t *a) {
  sink_t *s = ud;
  int rc = sink_put_account(s, a);
  if (rc != SINK_OK) {
    fprintf(stderr, "bench_sink: put: %s %s\n", sink_strerror(rc), sink_last_error(s));
    exit(EXIT_FAILURE_RUN);
  }
}

typedef struct copy_ctx {
  PGconn *c;
  size_t batch, n;
  cbuf_t mb, pb;
} copy_ctx_t;

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
    "created_at_unix, updated_at, updated_at_unix, claimed, claimed_amount, current_value, "
    "unrealized_pnl, realized_pnl, bet_count, bump, sync_slot, last_sync_at, closed_at, "
    "closed_slot) FROM STDIN";

static void copy_batch(copy_ctx_t *x) {
  if (x->n == 0) return;
  must_exec(x->c, "BEGIN");
  if (x->mb.n) copy_in(x->c, copy_msql, &x->mb);
  if (x->pb.n) copy_in(x->c, copy_psql, &x->pb);
  must_exec(x->c, "COMMIT");
  x->mb.n = x->pb.n = 0;
  x->n = 0;
}

static void copy_rec(void *ud, const cb_account_t *a) {
  copy_ctx_t *x = ud;
  copy_line(&x->mb, &x->pb, a);
  if (++x->n >= x->batch) copy_batch(x);
}

/* Runs the stream through the sink and, on the same server, COPYs the
 * same records into the unlogged copies; prints both. */
static void stream_bench(PGconn *c, const char *uri, size_t batch) {
  char err[1024];
  must_exec(c, "TRUNCATE positions_cache, markets_cache, users, account_closures, "
               "bench_copy_markets, bench_copy_positions CASCADE");
  must_exec(c, "VACUUM ANALYZE");
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = uri;
  o.batch_max_records = batch;
  sink_t *s = NULL;
  if (sink_open(&o, &s, err, sizeof err) != SINK_OK) {
    fprintf(stderr, "bench_sink: %s\n", err);
    exit(EXIT_FAILURE_RUN);
  }
  stream_t st;
  stream_init(&st);
  double t0 = now_s();
  int nl = stream_gen(&st, 0, put_rec, s);
  if (sink_flush(s) != SINK_OK) exit(EXIT_FAILURE_RUN);
  double t1 = now_s();
  sink_stats_t s0;
  sink_get_stats(s, &s0);
  int nb = stream_gen(&st, 1, put_rec, s);
  if (sink_flush(s) != SINK_OK) {
    fprintf(stderr, "bench_sink: flush: %s\n", sink_last_error(s));
    exit(EXIT_FAILURE_RUN);
  }
  double t2 = now_s();
  sink_stats_t s1;
  sink_get_stats(s, &s1);
  sink_close(s);
  stream_free(&st);

  copy_ctx_t x;
  memset(&x, 0, sizeof x);
  x.c = c;
  x.batch = batch;
  stream_init(&st);
  double c0 = now_s();
  stream_gen(&st, 0, copy_rec, &x);
  copy_batch(&x);
  double c1 = now_s();
  stream_gen(&st, 1, copy_rec, &x);
  copy_batch(&x);
  double c2 = now_s();
  stream_free(&st);
  free(x.mb.p);
  free(x.pb.p);

  uint64_t applied = s1.accounts_written - s0.accounts_written;
  printf("stream batch=%zu: load %d records %.0f/s (COPY %.0f/s); bets %d records %.0f/s, "
         "%" PRIu64 " rows applied, %" PRIu64 " superseded or stale (COPY %.0f/s)\n",
         batch, nl, nl / (t1 - t0), nl / (c1 - c0), nb, nb / (t2 - t1), applied,
         (s1.accounts_stale_ignored - s0.accounts_stale_ignored), nb / (c2 - c1));
  printf("bench sink_stream: %.0f/s (COPY ceiling %.0f/s, ratio %.2f)\n",
         (nl + nb) / (t2 - t0), (nl + nb) / (c2 - c0), (c2 - c0) / (t2 - t0));
  fflush(stdout);
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
  double t0 = now_s();
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
  double t = now_s() - t0;
  for (int k = 0; k < STRAT_NCOL; k++) free(a[k].p);
  return t;
}

static double strat_pipeline(PGconn *c, uint64_t slot, size_t batch) {
  char v[STRAT_NCOL][128];
  const char *val[STRAT_NCOL];
  double t0 = now_s();
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
  return now_s() - t0;
}

static double strat_copy(PGconn *c, uint64_t slot, size_t batch) {
  char v[STRAT_NCOL][128];
  const char *val[STRAT_NCOL];
  char sql[1024];
  snprintf(sql, sizeof sql, "COPY strat_stage (%s) FROM STDIN", strat_cols);
  cbuf_t b = {0};
  double t0 = now_s();
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
  return now_s() - t0;
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

int main(int argc, char **argv) {
  const char *base = getenv("CBI_TEST_DATABASE_URL");
  if (!base || !*base) base = getenv("DATABASE_URL");
  if (!base || !*base) {
    fprintf(stderr, "bench_sink: set CBI_TEST_DATABASE_URL or DATABASE_URL\n");
    return EXIT_USAGE;
  }
  char dbname[64], sql[160], err[1024];
  snprintf(dbname, sizeof dbname, "bench_sink_%d", (int)getpid());
  PGconn *admin = must_connect(base);
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
  must_exec(admin, sql);
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
  must_exec(admin, sql);
  char *uri = scratch_uri(base, dbname);
  PGconn *c = must_connect(uri);
  if (migrate_run(c, NULL, err, sizeof err) != MIGRATE_OK) {
    fprintf(stderr, "bench_sink: migrate: %s\n", err);
    return EXIT_FAILURE_RUN;
  }
  must_exec(c, "CREATE UNLOGGED TABLE bench_copy_markets (LIKE markets_cache INCLUDING DEFAULTS)");
  must_exec(c,
            "CREATE UNLOGGED TABLE bench_copy_positions (LIKE positions_cache INCLUDING DEFAULTS)");

  int nb = argc > 1 ? argc - 1 : 1;
  int total = N_MARKETS + N_POSITIONS;
  int rc = EXIT_OK;
  for (int bi = 0; bi < nb; bi++) {
    unsigned long long batch = SINK_DEFAULT_BATCH_MAX_RECORDS;
    if (argc > 1 && (config_parse_u64(argv[bi + 1], &batch) != 0 || batch == 0)) {
      fprintf(stderr, "bench_sink: bad batch size '%s'\n", argv[bi + 1]);
      return EXIT_USAGE;
    }
    must_exec(c, "TRUNCATE positions_cache, markets_cache, users, account_closures, "
                 "bench_copy_markets, bench_copy_positions CASCADE");
    must_exec(c, "VACUUM ANALYZE");
    sink_options_t o;
    sink_options_init(&o);
    o.conninfo = uri;
    o.batch_max_records = (size_t)batch;
    sink_t *s = NULL;
    if (sink_open(&o, &s, err, sizeof err) != SINK_OK) {
      fprintf(stderr, "bench_sink: %s\n", err);
      return EXIT_FAILURE_RUN;
    }
    double ti = sink_pass(s, 100);      /* insert pass */
    double tu = sink_pass(s, 101);      /* update pass */
    double ci = copy_pass(c, 100, batch);
    double cu = copy_pass(c, 101, batch);
    sink_stats_t st;
    sink_get_stats(s, &st);
    sink_close(s);
    if (st.accounts_written != (uint64_t)(2 * total)) {
      fprintf(stderr, "bench_sink: expected %d rows written, got %" PRIu64 "\n", 2 * total,
              st.accounts_written);
      rc = EXIT_FAILURE_RUN;
    }
    double ups = 2.0 * total / (ti + tu);
    double cps = 2.0 * total / (ci + cu);
    printf("batch=%llu: insert pass %.0f/s, update pass %.0f/s (%d markets, %d positions, "
           "%" PRIu64 " batches); COPY %.0f/s\n",
           batch, total / ti, total / tu, N_MARKETS, N_POSITIONS, st.batches, cps);
    printf("bench sink_upserts: %.0f/s (COPY ceiling %.0f/s, ratio %.2f)\n", ups, cps,
           ups / cps);
    fflush(stdout);
  }
  for (int bi = 0; bi < nb; bi++) {
    unsigned long long batch = SINK_DEFAULT_BATCH_MAX_RECORDS;
    if (argc > 1) (void)config_parse_u64(argv[bi + 1], &batch);
    stream_bench(c, uri, (size_t)batch);
  }
  if (getenv("CBI_BENCH_STRATEGIES")) strategy_compare(c, SINK_DEFAULT_BATCH_MAX_RECORDS);
  PQfinish(c);
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
  must_exec(admin, sql);
  PQfinish(admin);
  free(uri);
  return rc;
}
