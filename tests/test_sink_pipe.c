/* The sink's batch as one pipeline: with the database behind a link that
 * adds a fixed delay to everything the client sends, a batch of a dozen
 * statements (BEGIN .. COMMIT) costs about one delay, not one per
 * statement, and commits exactly what a direct connection commits. A
 * delay proxy on 127.0.0.1 stands between the sink and the test server. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "migrate.h"
#include "sink.h"
#include "testutil.h"

#define DELAY_MS 40

/* ------------------------------------------------------ the delay proxy */

typedef struct chunk {
  struct chunk *next;
  long due_ms;
  size_t n;
  char data[];
} chunk_t;

/* One direction of one proxied connection: a reader queues what arrives
 * with its due time, a writer forwards it when due. */
typedef struct pipe_dir {
  int from, to;
  long delay_ms;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  chunk_t *head, *tail;
  int eof;
  pthread_t reader; /* joined by the writer, which frees the direction */
} pipe_dir_t;

static void *dir_reader(void *arg) {
  pipe_dir_t *d = arg;
  char buf[65536];
  for (;;) {
    ssize_t n = read(d->from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    pthread_mutex_lock(&d->mu);
    if (n <= 0) {
      d->eof = 1;
    } else {
      chunk_t *c = malloc(sizeof *c + (size_t)n);
      if (c) {
        c->next = NULL;
        c->due_ms = tu_now_ms() + d->delay_ms;
        c->n = (size_t)n;
        memcpy(c->data, buf, (size_t)n);
        if (d->tail) d->tail->next = c;
        else d->head = c;
        d->tail = c;
      }
    }
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (n <= 0) return NULL;
  }
}

static void *dir_writer(void *arg) {
  pipe_dir_t *d = arg;
  for (;;) {
    pthread_mutex_lock(&d->mu);
    while (!d->head && !d->eof) pthread_cond_wait(&d->cv, &d->mu);
    chunk_t *c = d->head;
    if (!c) {
      pthread_mutex_unlock(&d->mu);
      shutdown(d->to, SHUT_WR);
      pthread_join(d->reader, NULL);
      pthread_mutex_destroy(&d->mu);
      pthread_cond_destroy(&d->cv);
      free(d);
      return NULL;
    }
    d->head = c->next;
    if (!d->head) d->tail = NULL;
    pthread_mutex_unlock(&d->mu);
    long wait = c->due_ms - tu_now_ms();
    if (wait > 0) tu_sleep_ms(wait);
    size_t off = 0;
    while (off < c->n) {
      ssize_t w = write(d->to, c->data + off, c->n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      off += (size_t)w;
    }
    free(c);
  }
}

typedef struct proxy {
  int lfd, upstream_port;
  long delay_ms;
  pthread_t th;
} proxy_t;

static void start_dir(int from, int to, long delay_ms) {
  pipe_dir_t *d = calloc(1, sizeof *d);
  ck_assert_ptr_nonnull(d);
  d->from = from;
  d->to = to;
  d->delay_ms = delay_ms;
  pthread_mutex_init(&d->mu, NULL);
  pthread_cond_init(&d->cv, NULL);
  /* the threads live as long as the connection */
  pthread_t w;
  ck_assert_int_eq(pthread_create(&d->reader, NULL, dir_reader, d), 0);
  ck_assert_int_eq(pthread_create(&w, NULL, dir_writer, d), 0);
  pthread_detach(w);
}

static void *proxy_main(void *arg) {
  proxy_t *p = arg;
  for (;;) {
    int c = accept(p->lfd, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    int u = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->upstream_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (u < 0 || connect(u, (struct sockaddr *)&a, sizeof a) != 0) {
      close(c);
      if (u >= 0) close(u);
      continue;
    }
    start_dir(c, u, p->delay_ms); /* client -> server: delayed */
    start_dir(u, c, 0);
  }
}

/* Listens on an ephemeral port of 127.0.0.1; returns it. */
static int proxy_start(proxy_t *p, int upstream_port, long delay_ms) {
  p->upstream_port = upstream_port;
  p->delay_ms = delay_ms;
  p->lfd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(p->lfd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(listen(p->lfd, 16), 0);
  socklen_t len = sizeof a;
  ck_assert_int_eq(getsockname(p->lfd, (struct sockaddr *)&a, &len), 0);
  ck_assert_int_eq(pthread_create(&p->th, NULL, proxy_main, p), 0);
  pthread_detach(p->th);
  return ntohs(a.sin_port);
}

/* --------------------------------------------------------------- records */

static void key(char *out, const char *tag, int n) { tu_key(out, 44, tag, n); }

static cb_str_t str(const char *s) {
  cb_str_t v = {s, (uint32_t)strlen(s)};
  return v;
}

/* One record of every kind the batch writes, round r (keys and slots
 * differ per round). */
static void queue_round(sink_t *s, int r) {
  uint64_t slot = 1000 + (uint64_t)r;
  char mk[CB_PUBKEY_B58_MAX], user[CB_PUBKEY_B58_MAX];
  key(mk, "PipeMkt", r);
  key(user, "PipeUsr", r);
  cb_account_t a;
  memset(&a, 0, sizeof a);
  a.kind = CB_ACCOUNT_MARKET;
  snprintf(a.pubkey, sizeof a.pubkey, "%s", mk);
  a.slot = slot;
  cb_market_t *m = &a.u.market;
  key(m->authority.b58, "Auth", 1);
  m->title = str("pipelined");
  m->description = str("d");
  m->category = str("c");
  m->created_at = 1733011200;
  m->resolution_time = 4102444800;
  m->state = CB_MARKET_ACTIVE;
  m->market_type = CB_MARKET_STABLE;
  key(m->accepted_mint.b58, "Mint", 1);
  key(m->yes_vault.b58, "YesV", r);
  key(m->no_vault.b58, "NoV", r);
  m->yes_pool = 7000000001ull + (uint64_t)r;
  m->no_pool = 3;
  key(m->resolver.b58, "Res", 1);
  m->metadata_uri = str("ipfs://x");
  ck_assert_int_eq(sink_put_account(s, &a), SINK_OK);
  for (int i = 0; i < 2; i++) {
    cb_account_t p;
    memset(&p, 0, sizeof p);
    p.kind = CB_ACCOUNT_POSITION;
    key(p.pubkey, "PipePos", r * 10 + i);
    p.slot = slot;
    snprintf(p.u.position.user.b58, sizeof p.u.position.user.b58, "%s", user);
    snprintf(p.u.position.market.b58, sizeof p.u.position.market.b58, "%s", mk);
    p.u.position.yes_shares = 18446744073709551615ull - (uint64_t)i; /* u64 max survives */
    p.u.position.total_invested = 10;
    p.u.position.created_at = 1733011200;
    p.u.position.updated_at = 1733011300;
    ck_assert_int_eq(sink_put_account(s, &p), SINK_OK);
  }
  cb_tx_row_t t;
  memset(&t, 0, sizeof t);
  tu_key(t.signature, 88, "PipeSig", r);
  t.type = CB_TX_PLACE_BET;
  snprintf(t.market, sizeof t.market, "%s", mk);
  snprintf(t.user, sizeof t.user, "%s", user);
  t.amount = 1000;
  t.side = CB_SIDE_YES;
  t.slot = slot;
  t.has_block_time = true;
  t.block_time = 1733011400 + r;
  ck_assert_int_eq(sink_put_tx(s, &t), SINK_OK);
  ck_assert_int_eq(sink_put_dead_letter(s, "record", mk, slot, "pipelined dead letter",
                                        (const uint8_t *)"raw\0bytes", 9),
                   SINK_OK);
  ck_assert_int_eq(sink_set_checkpoint(s, "pipe", slot, NULL), SINK_OK);
  ck_assert_int_eq(sink_set_chain_time(s, slot, 1733011400 + r), SINK_OK);
}

/* A sink that flushes only when asked. */
static sink_t *open_sink(const char *conninfo) {
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = conninfo;
  o.batch_max_records = 100000;
  sink_t *s = NULL;
  char err[512];
  ck_assert_msg(sink_open(&o, &s, err, sizeof err) == SINK_OK, "%s", err);
  return s;
}

START_TEST(t_batch_is_one_round_trip) {
  PGconn *c = NULL;
  char *uri = tu_fresh_migrated_db("pipe", &c);
  /* postgresql://postgres@127.0.0.1:PORT/DB */
  const char *db = strrchr(uri, '/');
  ck_assert_ptr_nonnull(db);
  const char *colon = db;
  while (colon > uri && *colon != ':') colon--;
  ck_assert_int_eq(*colon, ':');
  char *end = NULL;
  long upstream = strtol(colon + 1, &end, 10);
  ck_assert_msg(end && *end == '/' && upstream > 0 && upstream < 65536, "port in %s", uri);
  proxy_t px;
  int pport = proxy_start(&px, (int)upstream, DELAY_MS);
  char via[512];
  snprintf(via, sizeof via, "postgresql://postgres@127.0.0.1:%d%s", pport, db);

  sink_t *s = open_sink(via);

  const int rounds = 5;
  long worst = 0, total = 0;
  for (int r = 0; r < rounds; r++) {
    queue_round(s, r);
    long t0 = tu_now_ms();
    int rc = sink_flush(s);
    long ms = tu_now_ms() - t0;
    ck_assert_msg(rc == SINK_OK, "flush: %s", sink_last_error(s));
    if (ms > worst) worst = ms;
    total += ms;
  }
  fprintf(stderr, "pipelined batch over a %d ms link: mean %ld ms, worst %ld ms\n", DELAY_MS,
          total / rounds, worst);
  /* BEGIN, analytics (2), users, markets, positions, transactions, dead
   * letters, checkpoint, change feed, COMMIT: eleven statements. One at a
   * time that is eleven delays (440 ms); as one pipeline, one delay plus
   * the server's own time. */
  ck_assert_msg(total / rounds < 3 * DELAY_MS, "a batch took %ld ms on average over a %d ms link",
                total / rounds, DELAY_MS);

  /* and it wrote what it was given, counted as a direct connection counts */
  sink_stats_t st;
  sink_get_stats(s, &st);
  ck_assert_uint_eq(st.batches, (uint64_t)rounds);
  ck_assert_uint_eq(st.rows[SINK_ROWS_MARKETS], (uint64_t)rounds);
  ck_assert_uint_eq(st.rows[SINK_ROWS_POSITIONS], 2u * rounds);
  ck_assert_uint_eq(st.rows[SINK_ROWS_TRANSACTIONS], (uint64_t)rounds);
  ck_assert_uint_eq(st.rows[SINK_ROWS_DEAD_LETTERS], (uint64_t)rounds);
  ck_assert_uint_eq(st.accounts_written, 3u * rounds);
  tu_assert_query(c, "SELECT count(*) FROM markets_cache WHERE market_pubkey LIKE 'PipeMkt%'", "5");
  tu_assert_query(c, "SELECT yes_pool::text FROM markets_cache WHERE market_pubkey LIKE 'PipeMkt4%'",
                  "7000000005");
  tu_assert_query(c, "SELECT count(*) FROM positions_cache WHERE yes_shares = 18446744073709551615",
                  "5");
  tu_assert_query(c, "SELECT count(*) FROM transactions WHERE signature LIKE 'PipeSig%'", "5");
  tu_assert_query(c, "SELECT count(*) FROM bet_history", "5");
  tu_assert_query(c, "SELECT count(*) FROM dead_letters WHERE raw = '\\x7261770062797465'::bytea || '\\x73'::bytea", "5");
  tu_assert_query(c, "SELECT slot FROM sync_checkpoints WHERE stream = 'pipe'", "1004");

  /* the same records again: nothing new, every account record stale */
  for (int r = 0; r < rounds; r++) queue_round(s, r);
  ck_assert_int_eq(sink_flush(s), SINK_OK);
  sink_get_stats(s, &st);
  ck_assert_uint_eq(st.accounts_written, 3u * rounds);
  ck_assert_uint_eq(st.accounts_stale_ignored, 3u * rounds);
  tu_assert_query(c, "SELECT count(*) FROM bet_history", "5");
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

/* A record the database rejects in the middle of a pipelined batch: the
 * statements after it are skipped by the server, the batch is retried
 * record by record, the record becomes a dead letter and the rest
 * commits. */
START_TEST(t_rejected_record_mid_pipeline) {
  PGconn *c = NULL;
  char *uri = tu_fresh_migrated_db("pipe", &c);
  sink_t *s = open_sink(uri);
  /* a CHECK the schema does not have, so that one market is refused */
  PGresult *r = PQexec(c, "ALTER TABLE markets_cache ADD CONSTRAINT pipe_no_13 "
                          "CHECK (yes_pool <> 7000000001)");
  ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
  PQclear(r);
  queue_round(s, 0); /* refused market: yes_pool 7000000001 */
  queue_round(s, 1);
  ck_assert_int_eq(sink_flush(s), SINK_OK);
  sink_stats_t st;
  sink_get_stats(s, &st);
  ck_assert_uint_eq(st.rejected, 1);
  ck_assert_uint_eq(st.rows[SINK_ROWS_MARKETS], 1);
  ck_assert_uint_eq(st.rows[SINK_ROWS_POSITIONS], 4);
  tu_assert_query(c, "SELECT count(*) FROM markets_cache", "1");
  tu_assert_query(c, "SELECT count(*) FROM positions_cache", "4");
  tu_assert_query(c, "SELECT count(*) FROM transactions", "2");
  tu_assert_query(c, "SELECT count(*) FROM dead_letters WHERE reason LIKE 'rejected by database:%pipe_no_13%'", "1");
  tu_assert_query(c, "SELECT slot FROM sync_checkpoints WHERE stream = 'pipe'", "1001");
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

int main(void) {
  Suite *su = suite_create("sink_pipe");
  TCase *tc = tcase_create("pipeline");
  tcase_set_timeout(tc, 60);
  if (tu_have_pg()) {
    tcase_add_test(tc, t_batch_is_one_round_trip);
    tcase_add_test(tc, t_rejected_record_mid_pipeline);
  }
  suite_add_tcase(su, tc);
  return tu_run_suite(su);
}
