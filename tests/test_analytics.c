/* Analytics maintained by the sink (schema/003_analytics.sql) against a
 * real PostgreSQL server: bet_history, market_analytics per (market, UTC
 * day), daily_platform_metrics, users statistics; midnight crossings, days
 * without bets, a market resolved mid-day, failed bets, replays and out of
 * order input, a late earlier bet, the seed document's API queries, and a
 * backfill of fixtures/chain-days compared with the values the fixture
 * generator computed from its own model (expected.json market_analytics). */
#include <inttypes.h>
#include <stdint.h>
#include <time.h>

#include "expect.h"
#include "jsonx.h"
#include "migrate.h"
#include "replay_child.h"
#include "sink.h"
#include "testutil.h"

#define DAY 86400
#define DAY0 1740787200 /* 2025-03-01 00:00:00 UTC */

/* ------------------------------------------------------------- helpers */

static PGconn *connect_uri(const char *uri) {
  PGconn *c = PQconnectdb(uri);
  ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  PQclear(PQexec(c, "SET TimeZone = 'UTC'"));
  return c;
}

static char *fresh(PGconn **out) {
  char *uri = tu_fresh_db("an");
  PGconn *c = connect_uri(uri);
  char err[512];
  ck_assert_msg(migrate_run(uri, NULL, err, sizeof err) == MIGRATE_OK, "%s", err);
  *out = c;
  return uri;
}

static sink_t *open_sink(const char *uri) {
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = uri;
  o.batch_max_records = 1000;
  o.open_timeout_ms = 10000;
  sink_t *s = NULL;
  char err[512];
  ck_assert_msg(sink_open(&o, &s, err, sizeof err) == SINK_OK, "sink_open: %s", err);
  return s;
}

static void key(char *out, size_t len, const char *tag, int n) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%s%d", tag, n);
  size_t t = strlen(tmp);
  for (size_t i = 0; i < len; i++) out[i] = i < t ? tmp[i] : (char)('A' + (i % 20));
  out[len] = '\0';
}

static void pk(cb_pubkey_t *k, const char *tag, int n) {
  memset(k, 0, sizeof *k);
  key(k->b58, 44, tag, n);
}

static cb_str_t str(const char *s) {
  cb_str_t v = {s, (uint32_t)strlen(s)};
  return v;
}

static cb_account_t market(const char *pubkey, uint64_t slot, int64_t created,
                           cb_market_state_t st, cb_market_type_t type) {
  cb_account_t a;
  memset(&a, 0, sizeof a);
  a.kind = CB_ACCOUNT_MARKET;
  snprintf(a.pubkey, sizeof a.pubkey, "%s", pubkey);
  a.slot = slot;
  cb_market_t *m = &a.u.market;
  pk(&m->authority, "Auth", 1);
  m->title = str("Will it?");
  m->description = str("");
  m->category = str("crypto");
  m->created_at = created;
  m->resolution_time = 4102444800; /* 2100-01-01 */
  m->state = st;
  m->market_type = type;
  if (st == CB_MARKET_RESOLVED) {
    m->has_resolution_result = true;
    m->resolution_result = true;
  }
  pk(&m->accepted_mint, "Mint", 1);
  pk(&m->yes_vault, "YesV", 1);
  pk(&m->no_vault, "NoV", 1);
  pk(&m->resolver, "Resolver", 1);
  m->metadata_uri = str("");
  m->creation_fee = 7000;
  return a;
}

static cb_account_t position(const char *pubkey, uint64_t slot, const char *user,
                             const char *mkt, uint64_t yes, uint64_t no, int64_t created) {
  cb_account_t a;
  memset(&a, 0, sizeof a);
  a.kind = CB_ACCOUNT_POSITION;
  snprintf(a.pubkey, sizeof a.pubkey, "%s", pubkey);
  a.slot = slot;
  cb_position_t *p = &a.u.position;
  snprintf(p->user.b58, sizeof p->user.b58, "%s", user);
  snprintf(p->market.b58, sizeof p->market.b58, "%s", mkt);
  p->yes_shares = yes;
  p->no_shares = no;
  p->total_invested = yes + no;
  p->created_at = created;
  p->updated_at = created;
  return a;
}

/* A place_bet row with its BetPlaced values (failed: none, as txn_extract
 * leaves a failed transaction's rows). */
static cb_tx_row_t bet(int n, const char *mkt, const char *user, cb_side_t side, uint64_t amount,
                       uint64_t yes_pool, uint64_t no_pool, uint64_t slot, int64_t t,
                       bool failed) {
  cb_tx_row_t r;
  memset(&r, 0, sizeof r);
  key(r.signature, 88, "Sig", n);
  r.type = CB_TX_PLACE_BET;
  snprintf(r.market, sizeof r.market, "%s", mkt);
  snprintf(r.user, sizeof r.user, "%s", user);
  r.amount = amount;
  r.side = side;
  r.slot = slot;
  r.has_block_time = true;
  r.block_time = t;
  r.fee = 5000;
  r.failed = failed;
  if (failed) {
    snprintf(r.error_message, sizeof r.error_message, "{\"InstructionError\":[0,{\"Custom\":6001}]}");
  } else {
    r.has_price = true;
    r.price = 500000000;
    r.platform_fee = amount / 40;
    r.has_pools = true;
    r.yes_pool = yes_pool;
    r.no_pool = no_pool;
  }
  return r;
}

static cb_tx_row_t other(int n, cb_tx_type_t type, const char *mkt, const char *user,
                         uint64_t amount, uint64_t slot, int64_t t) {
  cb_tx_row_t r;
  memset(&r, 0, sizeof r);
  key(r.signature, 88, "Oth", n);
  r.type = type;
  snprintf(r.market, sizeof r.market, "%s", mkt ? mkt : "");
  snprintf(r.user, sizeof r.user, "%s", user);
  r.amount = amount;
  r.side = CB_SIDE_NONE;
  r.slot = slot;
  r.has_block_time = true;
  r.block_time = t;
  if (type == CB_TX_RESOLVE_MARKET) {
    r.has_resolution = true;
    r.resolution_result = true;
    r.resolved_at = t;
  }
  return r;
}

static void put_acc(sink_t *s, const cb_account_t *a) {
  int rc = sink_put_account(s, a);
  ck_assert_msg(rc == SINK_OK, "put %s: %s", sink_strerror(rc), sink_last_error(s));
}

static void put_tx(sink_t *s, const cb_tx_row_t *t) {
  int rc = sink_put_tx(s, t);
  ck_assert_msg(rc == SINK_OK, "put_tx %s: %s", sink_strerror(rc), sink_last_error(s));
}

static void flush(sink_t *s) {
  int rc = sink_flush(s);
  ck_assert_msg(rc == SINK_OK, "flush %s: %s", sink_strerror(rc), sink_last_error(s));
}

static void chain_time(sink_t *s, uint64_t slot, int64_t t) {
  ck_assert_int_eq(sink_set_chain_time(s, slot, t), SINK_OK);
  flush(s);
}

#define ASSERTF(conn, expected, ...)                      \
  do {                                                    \
    char sql_[1024];                                      \
    snprintf(sql_, sizeof sql_, __VA_ARGS__);             \
    tu_assert_query((conn), sql_, (expected));            \
  } while (0)

/* One market_analytics row as "vol bets participants yo yc yh yl no nc nh nl". */
#define ROW_SQL                                                                              \
  "SELECT concat_ws(' ', daily_volume, daily_bets, daily_participants, yes_price_open, "     \
  "yes_price_close, yes_price_high, yes_price_low, no_price_open, no_price_close, "          \
  "no_price_high, no_price_low, coalesce(avg_spread::text, 'null'), "                       \
  "coalesce(liquidity_score::text, 'null')) FROM market_analytics "                          \
  "WHERE market_pubkey = '%s' AND date = '%s'"

#define DAY0_SQL                                                                         \
  "SELECT concat_ws(' ', yes_price_open, yes_price_close, yes_price_high, yes_price_low, "   \
  "daily_bets, daily_volume) FROM market_analytics WHERE market_pubkey = '%s' "             \
  "AND date = '2025-03-01'"

/* Every derived table as one text, for comparing two databases. */
static char *dump_derived(PGconn *c) {
  return tu_query1(
      c,
      "SELECT concat_ws(E'\\n', "
      "(SELECT string_agg(concat_ws(' ', signature, instruction_index, market_pubkey, "
      "  user_pubkey, side, amount, platform_fee, price, yes_pool, no_pool, yes_price, no_price, "
      "  slot, block_time_unix, bet_date), E'\\n' ORDER BY signature, instruction_index) "
      "  FROM bet_history), "
      "(SELECT string_agg(concat_ws(' ', market_pubkey, date, daily_volume, daily_bets, "
      "  daily_participants, yes_price_open, yes_price_close, yes_price_high, yes_price_low, "
      "  no_price_open, no_price_close, no_price_high, no_price_low), E'\\n' "
      "  ORDER BY market_pubkey, date) FROM market_analytics), "
      "(SELECT string_agg(concat_ws(' ', date, total_users, new_users, active_users, "
      "  returning_users, total_markets, new_markets, active_markets, resolved_markets, "
      "  cancelled_markets, total_volume, degen_volume, stable_volume, total_transactions, "
      "  successful_transactions, failed_transactions, avg_transaction_size, "
      "  platform_fees_collected, swap_fees_collected, total_revenue), E'\\n' ORDER BY date) "
      "  FROM daily_platform_metrics), "
      "(SELECT string_agg(concat_ws(' ', wallet_address, total_bets, total_volume, "
      "  total_winnings, win_rate, first_seen_unix), E'\\n' ORDER BY wallet_address) FROM users), "
      "(SELECT concat_ws(' ', chain_slot, chain_time_unix) FROM analytics_state))");
}

/* ------------------------------------------------------ the scenario */

/* Market M (degen) created 2025-03-01 20:00; bets crossing midnight; a
 * failed bet; a day without bets (03-03); a quiet midnight (03-04 00:00:30).
 * Market R (stable) created 03-01, resolved 03-02 12:15 after a bet that
 * morning. Wallets U1..U3. Items are returned in chain order. */
typedef struct item {
  bool is_tx;
  cb_account_t acc;
  cb_tx_row_t tx;
} item_t;

static char M[64], R[64], U1[64], U2[64], U3[64], P1[64], P2[64], P3[64], P4[64];

static void names(void) {
  key(M, 44, "MktM", 1);
  key(R, 44, "MktR", 1);
  key(U1, 44, "Wal", 1);
  key(U2, 44, "Wal", 2);
  key(U3, 44, "Wal", 3);
  key(P1, 44, "PosA", 1);
  key(P2, 44, "PosB", 2);
  key(P3, 44, "PosC", 3);
  key(P4, 44, "PosD", 4);
}

static size_t scenario(item_t *it) {
  size_t n = 0;
#define ACC(a) (it[n].is_tx = false, it[n++].acc = (a))
#define TX(t) (it[n].is_tx = true, it[n++].tx = (t))
  ACC(market(M, 100, DAY0 + 20 * 3600, CB_MARKET_ACTIVE, CB_MARKET_DEGEN));
  ACC(market(R, 101, DAY0 + 20 * 3600 + 60, CB_MARKET_ACTIVE, CB_MARKET_STABLE));
  TX(other(1, CB_TX_CREATE_MARKET, M, U3, 7000, 100, DAY0 + 20 * 3600));
  TX(other(2, CB_TX_CREATE_MARKET, R, U3, 7000, 101, DAY0 + 20 * 3600 + 60));
  /* 03-01 21:00 U1 yes 1 SOL: pools 975000000 / 0 -> yes 1, no 0 */
  TX(bet(1, M, U1, CB_SIDE_YES, 1000000000, 975000000, 0, 110, DAY0 + 21 * 3600, false));
  ACC(position(P1, 110, U1, M, 975000000, 0, DAY0 + 21 * 3600));
  /* 03-01 23:00 U2 no 0.5 SOL: pools 975000000 / 487500000 -> yes 2/3, no 1/3 */
  TX(bet(2, M, U2, CB_SIDE_NO, 500000000, 975000000, 487500000, 120, DAY0 + 23 * 3600, false));
  ACC(position(P2, 120, U2, M, 0, 487500000, DAY0 + 23 * 3600));
  /* 03-01 23:30 failed bet of U3 (below the minimum): excluded */
  TX(bet(3, M, U3, CB_SIDE_YES, 1, 1, 1, 125, DAY0 + 23 * 3600 + 1800, true));
  /* R: 03-01 22:00 U1 yes; 03-02 09:00 U2 no */
  TX(bet(4, R, U1, CB_SIDE_YES, 2000000000, 1950000000, 0, 115, DAY0 + 22 * 3600, false));
  ACC(position(P3, 115, U1, R, 1950000000, 0, DAY0 + 22 * 3600));
  /* 03-02 00:10 U1 yes 1 SOL on M, two bets in one slot: the pools order them */
  TX(bet(5, M, U1, CB_SIDE_YES, 1000000000, 1950000000, 487500000, 130,
         DAY0 + DAY + 600, false));
  TX(bet(6, M, U3, CB_SIDE_NO, 100000000, 1950000000, 585000000, 130, DAY0 + DAY + 600,
         false));
  TX(bet(7, R, U2, CB_SIDE_NO, 1000000000, 1950000000, 975000000, 140, DAY0 + DAY + 9 * 3600,
         false));
  ACC(position(P4, 140, U2, R, 0, 975000000, DAY0 + DAY + 9 * 3600));
  /* 03-02 12:15 R resolved YES */
  TX(other(3, CB_TX_RESOLVE_MARKET, R, U3, 0, 150, DAY0 + DAY + 12 * 3600 + 900));
  ACC(market(R, 150, DAY0 + 20 * 3600 + 60, CB_MARKET_RESOLVED, CB_MARKET_STABLE));
  /* 03-02 13:00 U1 claims 2925000000 */
  TX(other(4, CB_TX_CLAIM_WINNINGS, R, U1, 2925000000, 160, DAY0 + DAY + 13 * 3600));
  /* 03-03: nothing. 03-04 00:00:30: the chain's time (no transaction). */
#undef ACC
#undef TX
  return n;
}

static void apply(sink_t *s, const item_t *it, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (it[i].is_tx)
      put_tx(s, &it[i].tx);
    else
      put_acc(s, &it[i].acc);
  }
}

/* The values the scenario must produce. */
static void assert_scenario(PGconn *c) {
  ASSERTF(c, "4", "SELECT count(*) FROM market_analytics WHERE market_pubkey = '%s'", M);
  /* 03-01: two bets, U1 and U2; prices after each: 1 then 2/3 */
  ASSERTF(c,
          "1500000000 2 2 1.000000000 0.666666667 1.000000000 0.666666667 0.000000000 "
          "0.333333333 0.333333333 0.000000000 null null",
          ROW_SQL, M, "2025-03-01");
  /* 03-02 (crosses midnight): two bets in one slot, ordered by the pools:
   * yes 0.8 (1950/2437.5) then 0.769230769 (1950/2535) */
  ASSERTF(c,
          "1100000000 2 2 0.800000000 0.769230769 0.800000000 0.769230769 0.200000000 "
          "0.230769231 0.230769231 0.200000000 null null",
          ROW_SQL, M, "2025-03-02");
  /* 03-03 without bets and 03-04 (the chain's latest day): the close carried */
  ASSERTF(c,
          "0 0 0 0.769230769 0.769230769 0.769230769 0.769230769 0.230769231 0.230769231 "
          "0.230769231 0.230769231 null null",
          ROW_SQL, M, "2025-03-03");
  ASSERTF(c,
          "0 0 0 0.769230769 0.769230769 0.769230769 0.769230769 0.230769231 0.230769231 "
          "0.230769231 0.230769231 null null",
          ROW_SQL, M, "2025-03-04");
  /* R: rows through its resolution day only */
  ASSERTF(c, "2025-03-01 2025-03-02",
          "SELECT min(date) || ' ' || max(date) FROM market_analytics WHERE market_pubkey = '%s'",
          R);
  ASSERTF(c,
          "1000000000 1 1 0.666666667 0.666666667 0.666666667 0.666666667 0.333333333 "
          "0.333333333 0.333333333 0.333333333 null null",
          ROW_SQL, R, "2025-03-02");
  /* failed bet: no bet_history row */
  tu_assert_query(c, "SELECT count(*) FROM bet_history WHERE amount = 1", "0");
  tu_assert_query(c, "SELECT count(*) FROM bet_history", "6");
  /* users */
  ASSERTF(c, "3 4000000000 2925000000 1.0000",
          "SELECT concat_ws(' ', total_bets, total_volume, total_winnings, win_rate) FROM users "
          "WHERE wallet_address = '%s'", U1);
  ASSERTF(c, "2 1500000000 0 0.0000",
          "SELECT concat_ws(' ', total_bets, total_volume, total_winnings, win_rate) FROM users "
          "WHERE wallet_address = '%s'", U2);
  ASSERTF(c, "1 100000000 0 0", /* U3: no position in a resolved market */
          "SELECT concat_ws(' ', total_bets, total_volume, total_winnings, win_rate::int) FROM "
          "users WHERE wallet_address = '%s'", U3);
  /* platform metrics, 03-01: 2 markets created (fees 14000), 3 bets
   * (3.5 SOL: degen 1.5, stable 2), 6 instruction rows of which 1 failed,
   * users U3 (creator), U1, U2 all new */
  tu_assert_query(
      c,
      "SELECT concat_ws(' ', total_users, new_users, active_users, returning_users, "
      "total_markets, new_markets, active_markets, resolved_markets, total_volume, degen_volume, "
      "stable_volume, total_transactions, successful_transactions, failed_transactions, "
      "avg_transaction_size, platform_fees_collected, swap_fees_collected, total_revenue) "
      "FROM daily_platform_metrics WHERE date = '2025-03-01'",
      "3 3 3 0 2 2 2 0 3500000000 1500000000 2000000000 6 5 1 1166666666.666666667 87500000 0 "
      "87514000");
  /* 03-02: R resolved; bets 1.1 SOL degen + 1 SOL stable; U1 U2 U3 active, all returning */
  tu_assert_query(
      c,
      "SELECT concat_ws(' ', total_users, new_users, active_users, returning_users, "
      "total_markets, new_markets, active_markets, resolved_markets, total_volume, degen_volume, "
      "stable_volume, total_transactions, successful_transactions, failed_transactions, "
      "avg_transaction_size, platform_fees_collected, total_revenue) "
      "FROM daily_platform_metrics WHERE date = '2025-03-02'",
      "3 0 3 3 2 0 1 1 2100000000 1100000000 1000000000 5 5 0 700000000.000000000 52500000 "
      "52500000");
  tu_assert_query(c,
                  "SELECT string_agg(date || ':' || total_users || '/' || active_markets || '/' || "
                  "total_transactions, ' ' ORDER BY date) FROM daily_platform_metrics",
                  "2025-03-01:3/2/6 2025-03-02:3/1/5 2025-03-03:3/1/0 2025-03-04:3/1/0");
}

START_TEST(t_days_midnight_resolution) {
  names();
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri);
  item_t it[64];
  size_t n = scenario(it);
  apply(s, it, n);
  flush(s);
  /* Before the chain reports 03-04: M's rows end on the last bet's day */
  ASSERTF(c, "2025-03-02", "SELECT max(date) FROM market_analytics WHERE market_pubkey = '%s'", M);
  chain_time(s, 200, DAY0 + 3 * DAY + 30);
  assert_scenario(c);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

/* The same rows applied in reverse order, one per batch, then all again
 * twice, and the chain time reported twice (once lower): same tables as
 * applied in order once. */
START_TEST(t_replay_out_of_order) {
  names();
  PGconn *c1, *c2;
  char *uri1 = fresh(&c1);
  char *uri2 = fresh(&c2);
  item_t it[64];
  size_t n = scenario(it);
  sink_t *s1 = open_sink(uri1);
  apply(s1, it, n);
  flush(s1);
  chain_time(s1, 200, DAY0 + 3 * DAY + 30);

  sink_t *s2 = open_sink(uri2);
  chain_time(s2, 200, DAY0 + 3 * DAY + 30);
  for (size_t i = n; i-- > 0;) {
    apply(s2, &it[i], 1);
    flush(s2);
  }
  chain_time(s2, 90, DAY0); /* an older time changes nothing */
  apply(s2, it, n);
  flush(s2);
  apply(s2, it, n);
  flush(s2);
  assert_scenario(c2);
  char *d1 = dump_derived(c1), *d2 = dump_derived(c2);
  ck_assert_str_eq(d1, d2);
  free(d1);
  free(d2);
  sink_close(s1);
  sink_close(s2);
  PQfinish(c1);
  PQfinish(c2);
  free(uri1);
  free(uri2);
}
END_TEST

/* A bet arriving late, earlier in chain order than what is stored: the
 * days after it that carried the old close carry the new one. */
START_TEST(t_late_earlier_bet) {
  names();
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri);
  cb_account_t m = market(M, 100, DAY0 + 3600, CB_MARKET_ACTIVE, CB_MARKET_DEGEN);
  put_acc(s, &m);
  cb_tx_row_t b1 = bet(1, M, U1, CB_SIDE_YES, 1000, 300, 100, 110, DAY0 + 2 * 3600, false);
  put_tx(s, &b1);
  flush(s);
  chain_time(s, 500, DAY0 + 3 * DAY + 5);
  ASSERTF(c, "0.750000000 0.750000000 0.750000000 0.750000000",
          "SELECT string_agg(yes_price_close::text, ' ' ORDER BY date) FROM market_analytics "
          "WHERE market_pubkey = '%s'", M);
  /* a later bet of day 0 seen late (slot 120 > 110): day 0's close changes */
  cb_tx_row_t b2 = bet(2, M, U2, CB_SIDE_NO, 1000, 300, 300, 120, DAY0 + 3 * 3600, false);
  put_tx(s, &b2);
  flush(s);
  ASSERTF(c, "0.500000000 0.500000000 0.500000000 0.500000000",
          "SELECT string_agg(yes_price_close::text, ' ' ORDER BY date) FROM market_analytics "
          "WHERE market_pubkey = '%s'", M);
  ASSERTF(c, "0.750000000 0.500000000 0.750000000 0.500000000 2 2000", DAY0_SQL, M);
  /* a bet of day 1 seen last: day 1 has it, days 2 and 3 carry it */
  cb_tx_row_t b3 = bet(3, M, U1, CB_SIDE_YES, 1000, 700, 300, 200, DAY0 + DAY + 5, false);
  put_tx(s, &b3);
  flush(s);
  ASSERTF(c, "0.500000000 0.700000000 0.700000000 0.700000000",
          "SELECT string_agg(yes_price_close::text, ' ' ORDER BY date) FROM market_analytics "
          "WHERE market_pubkey = '%s'", M);
  ASSERTF(c, "2 1 0 0",
          "SELECT string_agg(daily_bets::text, ' ' ORDER BY date) FROM market_analytics "
          "WHERE market_pubkey = '%s'", M);
  /* the earliest bet of day 0 (slot 105) seen last: day 0's open and high */
  cb_tx_row_t b0 = bet(4, M, U3, CB_SIDE_YES, 500, 100, 0, 105, DAY0 + 3600 + 60, false);
  put_tx(s, &b0);
  flush(s);
  ASSERTF(c, "1.000000000 0.500000000 1.000000000 0.500000000 3 2500", DAY0_SQL, M);
  ASSERTF(c, "0.500000000 0.700000000 0.700000000 0.700000000",
          "SELECT string_agg(yes_price_close::text, ' ' ORDER BY date) FROM market_analytics "
          "WHERE market_pubkey = '%s'", M);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

/* ------------------------------------------------ the seed's API queries */

/* The seed document's queries, verbatim. */
static const char listing_query[] =
    "SELECT \n"
    "    m.market_pubkey,\n"
    "    m.title,\n"
    "    m.category,\n"
    "    m.resolution_time,\n"
    "    m.yes_pool,\n"
    "    m.no_pool,\n"
    "    m.total_volume,\n"
    "    m.total_participants,\n"
    "    COALESCE(ma.yes_price_close, 0.5) as current_yes_price,\n"
    "    COALESCE(ma.daily_volume, 0) as daily_volume\n"
    "FROM markets_cache m\n"
    "LEFT JOIN market_analytics ma ON ma.market_pubkey = m.market_pubkey \n"
    "    AND ma.date = CURRENT_DATE\n"
    "WHERE m.state = 'active'\n"
    "    AND m.resolution_time > NOW()\n"
    "    AND ($1 IS NULL OR m.category = $1)\n"
    "ORDER BY m.total_volume DESC, m.created_at DESC\n"
    "LIMIT $2 OFFSET $3;";

static const char portfolio_query[] =
    "SELECT \n"
    "    p.position_pubkey,\n"
    "    p.market_pubkey,\n"
    "    m.title,\n"
    "    m.category,\n"
    "    m.state,\n"
    "    p.yes_shares,\n"
    "    p.no_shares,\n"
    "    p.total_invested,\n"
    "    p.current_value,\n"
    "    p.unrealized_pnl,\n"
    "    p.claimed,\n"
    "    m.resolution_result\n"
    "FROM positions_cache p\n"
    "JOIN markets_cache m ON m.market_pubkey = p.market_pubkey\n"
    "WHERE p.user_id = $1\n"
    "    AND (p.yes_shares > 0 OR p.no_shares > 0 OR p.claimed = false)\n"
    "ORDER BY p.updated_at DESC;";

/* The listing query's "current_yes_price daily_volume" of market M, with
 * CURRENT_DATE replaced by the day given (NULL: the query verbatim). */
static char *listing(PGconn *c, const char *day) {
  char sql[2048];
  const char *at = strstr(listing_query, "CURRENT_DATE");
  ck_assert_ptr_nonnull(at);
  if (day)
    snprintf(sql, sizeof sql, "%.*s$4::date%s", (int)(at - listing_query), listing_query,
             at + strlen("CURRENT_DATE"));
  else
    snprintf(sql, sizeof sql, "%s", listing_query);
  const Oid types[4] = {25 /* text: $1::text */, 20, 20, 25};
  const char *params[4] = {"crypto", "10", "0", day};
  PGresult *r = PQexecParams(c, sql, day ? 4 : 3, types, params, NULL, NULL, 0);
  ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
  ck_assert_int_eq(PQntuples(r), 1);
  ck_assert_str_eq(PQgetvalue(r, 0, 0), M);
  char buf[128];
  snprintf(buf, sizeof buf, "%s %s", PQgetvalue(r, 0, 8), PQgetvalue(r, 0, 9));
  PQclear(r);
  return strdup(buf);
}

#define ASSERT_LISTING(c, day, want)          \
  do {                                        \
    char *got_ = listing((c), (day));         \
    ck_assert_str_eq(got_, (want));           \
    free(got_);                               \
  } while (0)

/* "position current_value unrealized_pnl" of U1's positions. */
static char *portfolio(PGconn *c) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT id FROM users WHERE wallet_address = '%s'", U1);
  char *uid = tu_query1(c, sql);
  const char *pp[1] = {uid};
  PGresult *r = PQexecParams(c, portfolio_query, 1, NULL, pp, NULL, NULL, 0);
  ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
  ck_assert_int_eq(PQntuples(r), 1);
  char buf[256];
  snprintf(buf, sizeof buf, "%s %s %s", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 8),
           PQgetvalue(r, 0, 9));
  PQclear(r);
  free(uid);
  return strdup(buf);
}

static void put_market_pools(sink_t *s, uint64_t slot, uint64_t yes, uint64_t no) {
  cb_account_t m = market(M, slot, DAY0 + 20 * 3600, CB_MARKET_ACTIVE, CB_MARKET_DEGEN);
  m.u.market.yes_pool = yes;
  m.u.market.no_pool = no;
  m.u.market.total_volume = yes + no;
  put_acc(s, &m);
}

/* The platform day by deltas (the live path) equals the day recomputed from
 * stored rows: bets with the market's new state, a failed bet, a wallet
 * first seen mid-day, a bet turned failed, a replayed batch, a claim by a
 * new wallet and its block time corrected into the next day. A marker added to the stored row survives a live batch,
 * which shows the batch was applied as a delta. */
#define PDAY_SQL                                                                          \
  "SELECT concat_ws(' ', total_users, new_users, active_users, returning_users, "         \
  "total_markets, new_markets, active_markets, total_volume, degen_volume, stable_volume, " \
  "total_transactions, successful_transactions, failed_transactions, avg_transaction_size, " \
  "platform_fees_collected, total_revenue) FROM daily_platform_metrics WHERE date = '2025-03-01'"
#define SIGNERS_SQL                                                                     \
  "SELECT string_agg(day || ' ' || wallet, ',' ORDER BY day, wallet) FROM analytics_day_signers"

START_TEST(t_platform_delta_equals_full) {
  names();
  char U4[64];
  key(U4, 44, "Wal", 4);
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri);
  put_market_pools(s, 100, 0, 0);
  flush(s);
  chain_time(s, 100, DAY0 + 20 * 3600);
  /* two bets and a failed one, with the market's new state */
  cb_tx_row_t b1 = bet(1, M, U1, CB_SIDE_YES, 1000000, 975000, 0, 110, DAY0 + 21 * 3600, false);
  cb_tx_row_t b2 = bet(2, M, U2, CB_SIDE_NO, 2000000, 975000, 1950000, 111, DAY0 + 21 * 3600 + 5,
                       false);
  cb_tx_row_t b3 = bet(3, M, U3, CB_SIDE_YES, 500000, 0, 0, 112, DAY0 + 21 * 3600 + 9, true);
  put_tx(s, &b1);
  put_tx(s, &b2);
  put_tx(s, &b3);
  put_market_pools(s, 112, 975000, 1950000);
  flush(s);
  ASSERTF(c, "3 3 3 0 1 1 1 3000000 3000000 0 3 2 1 1500000.000000000 75000 82000", PDAY_SQL);
  /* a marker on the stored row: a delta keeps it, a recompute would not */
  PQclear(PQexec(c, "UPDATE daily_platform_metrics SET total_transactions = "
                    "total_transactions + 1000 WHERE date = '2025-03-01'"));
  cb_tx_row_t b4 = bet(4, M, U1, CB_SIDE_YES, 3000000, 3900000, 1950000, 120,
                       DAY0 + 22 * 3600, false);
  put_tx(s, &b4);
  cb_account_t p1 = position(P1, 120, U1, M, 3900000, 0, DAY0 + 21 * 3600);
  put_acc(s, &p1);
  put_market_pools(s, 120, 3900000, 1950000);
  flush(s);
  ASSERTF(c, "3 3 3 0 1 1 1 6000000 6000000 0 1004 3 1 2000000.000000000 150000 157000",
          PDAY_SQL);
  PQclear(PQexec(c, "UPDATE daily_platform_metrics SET total_transactions = "
                    "total_transactions - 1000 WHERE date = '2025-03-01'"));
  /* b2's transaction seen failed after all */
  cb_tx_row_t b2f = bet(2, M, U2, CB_SIDE_NO, 2000000, 0, 0, 111, DAY0 + 21 * 3600 + 5, true);
  put_tx(s, &b2f);
  flush(s);
  /* a replayed batch, then a claim by a wallet not seen before */
  put_tx(s, &b1);
  put_tx(s, &b4);
  put_market_pools(s, 120, 3900000, 1950000);
  flush(s);
  cb_tx_row_t cl = other(1, CB_TX_CLAIM_WINNINGS, M, U4, 777, 130, DAY0 + 23 * 3600);
  put_tx(s, &cl);
  flush(s);
  ASSERTF(c, "4 4 4 0 1 1 1 4000000 4000000 0 5 3 2 2000000.000000000 100000 107000", PDAY_SQL);
  ASSERTF(c, "2 4000000", "SELECT concat_ws(' ', total_bets, total_volume) FROM users "
                          "WHERE wallet_address = '%s'", U1);
  /* the claim's block time corrected into the next day: both days follow */
  cl.block_time = DAY0 + DAY + 10;
  put_tx(s, &cl);
  flush(s);
  ASSERTF(c, "4 4 3 0 1 1 1 4000000 4000000 0 4 2 2 2000000.000000000 100000 107000", PDAY_SQL);
  ASSERTF(c, "1 1 1",
          "SELECT concat_ws(' ', active_users, returning_users, total_transactions) "
          "FROM daily_platform_metrics WHERE date = '2025-03-02'");

  char *inc = dump_derived(c);
  char *inc_signers = tu_query1(c, SIGNERS_SQL);
  ck_assert_ptr_nonnull(strstr(inc_signers, U4));
  PGresult *r = PQexec(c, "SELECT cbi_platform_refresh(DATE '2025-03-01', DATE '2025-03-02')");
  ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
  PQclear(r);
  char *full = dump_derived(c);
  char *full_signers = tu_query1(c, SIGNERS_SQL);
  ck_assert_str_eq(inc, full);
  ck_assert_str_eq(inc_signers, full_signers);
  free(inc);
  free(full);
  free(inc_signers);
  free(full_signers);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_seed_queries_midnight) {
  names();
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri);
  put_market_pools(s, 100, 0, 0);
  cb_tx_row_t b1 = bet(1, M, U1, CB_SIDE_YES, 1000000000, 975000000, 0, 110, DAY0 + 21 * 3600,
                       false);
  cb_tx_row_t b2 = bet(2, M, U2, CB_SIDE_NO, 500000000, 975000000, 487500000, 120,
                       DAY0 + 23 * 3600, false);
  put_tx(s, &b1);
  put_tx(s, &b2);
  cb_account_t p1 = position(P1, 120, U1, M, 975000000, 0, DAY0 + 21 * 3600);
  put_acc(s, &p1);
  put_market_pools(s, 120, 975000000, 487500000);
  flush(s);
  /* 23:59:59, before midnight: today is 03-01 */
  chain_time(s, 129, DAY0 + DAY - 1);
  ASSERT_LISTING(c, "2025-03-01", "0.666666667 1500000000");
  ASSERT_LISTING(c, "2025-03-02", "0.5 0"); /* no row yet: the query's own default */
  char *pf = portfolio(c);
  char want[256];
  snprintf(want, sizeof want, "%s 650000000.000000000 -325000000.000000000", P1);
  ck_assert_str_eq(pf, want);
  free(pf);
  /* 00:00:30, after midnight, nobody has bet yet: the price carries */
  chain_time(s, 130, DAY0 + DAY + 30);
  ASSERT_LISTING(c, "2025-03-02", "0.666666667 0");
  ASSERT_LISTING(c, "2025-03-01", "0.666666667 1500000000");
  /* 00:10, a bet: today's price and volume follow it */
  cb_tx_row_t b5 = bet(5, M, U1, CB_SIDE_YES, 1000000000, 1950000000, 487500000, 131,
                       DAY0 + DAY + 600, false);
  put_tx(s, &b5);
  p1.slot = 131;
  p1.u.position.yes_shares = 1950000000;
  p1.u.position.total_invested = 2000000000;
  put_acc(s, &p1);
  put_market_pools(s, 131, 1950000000, 487500000);
  flush(s);
  ASSERT_LISTING(c, "2025-03-02", "0.800000000 1000000000");
  /* Two more bets of the day, in chain order (the incremental path), then
   * the same row recomputed from bet_history: identical. */
  cb_tx_row_t b6 = bet(6, M, U2, CB_SIDE_NO, 100000000, 1950000000, 585000000, 132,
                       DAY0 + DAY + 700, false);
  put_tx(s, &b6);
  flush(s);
  cb_tx_row_t b7 = bet(7, M, U1, CB_SIDE_YES, 50000000, 2000000000, 585000000, 133,
                       DAY0 + DAY + 800, false);
  put_tx(s, &b7);
  flush(s);
  ASSERTF(c,
          "1150000000 3 2 0.800000000 0.773694391 0.800000000 0.769230769 0.200000000 "
          "0.226305609 0.230769231 0.200000000 null null",
          ROW_SQL, M, "2025-03-02");
  char *inc = dump_derived(c);
  PGresult *dr = PQexec(c, "DELETE FROM market_analytics");
  ck_assert_int_eq(PQresultStatus(dr), PGRES_COMMAND_OK);
  PQclear(dr);
  put_market_pools(s, 134, 2000000000, 585000000); /* the market's rows are rebuilt */
  flush(s);
  char *full = dump_derived(c);
  ck_assert_str_eq(inc, full);
  free(inc);
  free(full);
  ASSERT_LISTING(c, "2025-03-02", "0.773694391 1150000000");
  pf = portfolio(c);
  snprintf(want, sizeof want, "%s 1508704061.895551257 -491295938.104448743", P1); /* 1950e6 * 2000/2585 */
  ck_assert_str_eq(pf, want);
  free(pf);

  /* The query verbatim, on the real current date (session TimeZone UTC):
   * the chain time reaches now, today's row carries the last close. */
  chain_time(s, 10000, (int64_t)time(NULL));
  tu_assert_query(c, "SHOW TimeZone", "UTC");
  ASSERT_LISTING(c, NULL, "0.773694391 0");
  char *today = tu_query1(c, "SELECT CURRENT_DATE::text");
  ASSERTF(c, "0", "SELECT daily_bets FROM market_analytics WHERE market_pubkey = '%s' "
                  "AND date = '%s'", M, today);
  free(today);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

/* ------------------------------------- position-only batches, short path */

/* Counts the calls of the upkeep functions in the table an_calls: each is
 * renamed *_orig and wrapped (before the sink prepares its statements). */
static void count_upkeep_calls(PGconn *c) {
  static const char *const sql[] = {
      "CREATE TABLE an_calls (fn TEXT NOT NULL)",
      "ALTER FUNCTION cbi_analytics_pre(TEXT[], INTEGER[], TEXT[]) "
      "RENAME TO cbi_analytics_pre_orig",
      "CREATE FUNCTION cbi_analytics_pre(a TEXT[], b INTEGER[], c TEXT[]) RETURNS VOID "
      "LANGUAGE plpgsql AS $$ BEGIN INSERT INTO an_calls VALUES ('pre'); "
      "PERFORM cbi_analytics_pre_orig(a, b, c); END $$",
      "ALTER FUNCTION cbi_analytics_apply(TEXT[], INTEGER[], TEXT[], TEXT[], TEXT[], TEXT[], "
      "NUMERIC[], NUMERIC[], NUMERIC[], NUMERIC[], NUMERIC[], BIGINT[], BIGINT[], TEXT[], "
      "TEXT[], BIGINT, BIGINT) RENAME TO cbi_analytics_apply_orig",
      "CREATE FUNCTION cbi_analytics_apply(a TEXT[], b INTEGER[], c TEXT[], d TEXT[], e TEXT[], "
      "f TEXT[], g NUMERIC[], h NUMERIC[], i NUMERIC[], j NUMERIC[], k NUMERIC[], l BIGINT[], "
      "m BIGINT[], n TEXT[], o TEXT[], p BIGINT, q BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS "
      "$$ BEGIN INSERT INTO an_calls VALUES ('apply'); RETURN cbi_analytics_apply_orig(a, b, c, "
      "d, e, f, g, h, i, j, k, l, m, n, o, p, q); END $$",
      "ALTER FUNCTION cbi_analytics_positions(TEXT[]) RENAME TO cbi_analytics_positions_orig",
      "CREATE FUNCTION cbi_analytics_positions(a TEXT[]) RETURNS VOID LANGUAGE plpgsql AS "
      "$$ BEGIN INSERT INTO an_calls VALUES ('positions'); "
      "PERFORM cbi_analytics_positions_orig(a); END $$"};
  for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
    PGresult *r = PQexec(c, sql[i]);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql[i], PQerrorMessage(c));
    PQclear(r);
  }
}

static sink_t *open_sink_full(const char *uri, int full) {
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = uri;
  o.batch_max_records = 1000;
  o.open_timeout_ms = 10000;
  o.analytics_full = full;
  sink_t *s = NULL;
  char err[512];
  ck_assert_msg(sink_open(&o, &s, err, sizeof err) == SINK_OK, "sink_open: %s", err);
  return s;
}

#define SIGNERS_ALL_SQL                                                                 \
  "SELECT coalesce(string_agg(day || ' ' || wallet, ',' ORDER BY day, wallet), '') "    \
  "FROM analytics_day_signers"

/* The same batches through a sink with the short path (s[0]) and one
 * without (s[1]); after each flush every derived table is the same in
 * both databases. */
typedef struct twin {
  sink_t *s[2];
  PGconn *c[2];
  int flushes;
} twin_t;

static void twin_flush(twin_t *t) {
  for (int k = 0; k < 2; k++) flush(t->s[k]);
  t->flushes++;
  char *a = dump_derived(t->c[0]), *b = dump_derived(t->c[1]);
  ck_assert_msg(strcmp(a, b) == 0, "flush %d: short path\n%s\nfull path\n%s", t->flushes, a, b);
  free(a);
  free(b);
  a = tu_query1(t->c[0], SIGNERS_ALL_SQL);
  b = tu_query1(t->c[1], SIGNERS_ALL_SQL);
  ck_assert_msg(strcmp(a, b) == 0, "flush %d: signers %s / %s", t->flushes, a, b);
  free(a);
  free(b);
}

static void twin_acc(twin_t *t, const cb_account_t *a) {
  for (int k = 0; k < 2; k++) put_acc(t->s[k], a);
}

/* Position-only batches (new wallets, positions in resolved, active and
 * unknown markets, a created_at before the wallet's first_seen, on a
 * later day, replays and reversed order) leave every derived table as the
 * full upkeep does, and take cbi_analytics_positions() alone. */
START_TEST(t_positions_short_equals_full) {
  names();
  char W[8][64], Q[8][64], X[64];
  for (int i = 0; i < 8; i++) {
    key(W[i], 44, "Wal", 10 + i);
    key(Q[i], 44, "PosQ", i);
  }
  key(X, 44, "MktX", 1);
  twin_t t;
  memset(&t, 0, sizeof t);
  char *uri[2];
  for (int k = 0; k < 2; k++) {
    uri[k] = fresh(&t.c[k]);
    count_upkeep_calls(t.c[k]);
    t.s[k] = open_sink_full(uri[k], k);
  }
  int pos_only = 0, mixed = 0;
  /* no chain time yet: first_seen only */
  cb_account_t q0 = position(Q[0], 90, W[0], M, 5, 0, DAY0 + 5 * 3600);
  twin_acc(&t, &q0);
  twin_flush(&t), pos_only++;
  /* markets M (active) and R (resolved YES), a bet of U1 on 03-01 10:00 */
  cb_account_t m = market(M, 100, DAY0 + 3600, CB_MARKET_ACTIVE, CB_MARKET_DEGEN);
  cb_account_t r = market(R, 100, DAY0 + 3600, CB_MARKET_RESOLVED, CB_MARKET_STABLE);
  twin_acc(&t, &m);
  twin_acc(&t, &r);
  cb_tx_row_t b1 = bet(1, M, U1, CB_SIDE_YES, 1000000, 975000, 0, 110, DAY0 + 10 * 3600, false);
  for (int k = 0; k < 2; k++) put_tx(t.s[k], &b1);
  twin_flush(&t), mixed++;
  for (int k = 0; k < 2; k++) ck_assert_int_eq(sink_set_chain_time(t.s[k], 111, DAY0 + 10 * 3600 + 5), SINK_OK);
  twin_flush(&t), mixed++;
  /* new wallets on the latest day (a delta on its row): in M, in R with
   * YES shares (wins), in R with NO shares only (loses), in a market not
   * indexed */
  cb_account_t batch_c[] = {
      position(Q[1], 120, W[1], M, 10, 0, DAY0 + 10 * 3600 + 60),
      position(Q[2], 120, W[2], R, 10, 0, DAY0 + 9 * 3600),
      position(Q[3], 120, W[3], R, 0, 10, DAY0 + 9 * 3600 + 1),
      position(Q[4], 120, W[4], X, 0, 10, DAY0 + 9 * 3600 + 2)};
  /* U1 (first seen with its bet at 10:00) has a position created two days
   * earlier: the days from then are recomputed */
  cb_account_t batch_d[] = {position(P1, 130, U1, M, 30, 0, DAY0 - 2 * DAY + 5)};
  /* a new wallet whose position is dated the next day (after the chain's
   * latest day: that day's row is added), then one dated the day before */
  cb_account_t batch_e[] = {position(Q[5], 140, W[5], M, 1, 1, DAY0 + DAY + 7)};
  cb_account_t batch_e2[] = {position(Q[6], 140, W[6], R, 3, 0, DAY0 - DAY + 7)};
  /* W2's R position sold out of YES, and a second R position of W2 with
   * YES (win_rate 0.5); W0 (no chain day when first seen) in R */
  cb_account_t batch_f[] = {position(Q[2], 150, W[2], R, 0, 4, DAY0 + 9 * 3600),
                            position(P3, 150, W[2], R, 8, 0, DAY0 + 9 * 3600 + 30),
                            position(Q[7], 150, W[0], R, 2, 0, DAY0 + 8 * 3600)};
  struct {
    const cb_account_t *a;
    size_t n;
  } batches[] = {{batch_c, 4}, {batch_d, 1}, {batch_e, 1}, {batch_e2, 1}, {batch_f, 3}};
  size_t nb = sizeof batches / sizeof batches[0];
  for (size_t i = 0; i < nb; i++) {
    for (size_t j = 0; j < batches[i].n; j++) twin_acc(&t, &batches[i].a[j]);
    twin_flush(&t), pos_only++;
  }
  ASSERTF(t.c[0], "1.0000 0.5000 0.0000", /* W0 W2 W3 */
          "SELECT string_agg(win_rate::text, ' ' ORDER BY wallet_address) FROM users "
          "WHERE wallet_address IN ('%s', '%s', '%s')", W[0], W[3], W[2]);
  ASSERTF(t.c[0], "2025-02-27 2025-03-02",
          "SELECT min(date) || ' ' || max(date) FROM daily_platform_metrics");
  /* replays, all at once, then one position per batch in reverse order */
  for (size_t i = 0; i < nb; i++)
    for (size_t j = 0; j < batches[i].n; j++) twin_acc(&t, &batches[i].a[j]);
  twin_flush(&t), pos_only++;
  for (size_t i = nb; i-- > 0;)
    for (size_t j = batches[i].n; j-- > 0;) {
      twin_acc(&t, &batches[i].a[j]);
      twin_flush(&t), pos_only++;
    }
  /* the chain moves to 03-03; a new wallet of that day, next to a market
   * account in one batch (the full upkeep) and alone (the short one) */
  for (int k = 0; k < 2; k++) ck_assert_int_eq(sink_set_chain_time(t.s[k], 300, DAY0 + 2 * DAY + 50), SINK_OK);
  twin_flush(&t), mixed++;
  cb_account_t q5 = position(Q[5], 310, W[5], M, 2, 2, DAY0 + DAY + 7);
  m.slot = 310;
  twin_acc(&t, &q5);
  twin_acc(&t, &m);
  twin_flush(&t), mixed++;
  cb_account_t nq = position(Q[7], 320, W[7], M, 2, 2, DAY0 + 2 * DAY + 60);
  twin_acc(&t, &nq);
  twin_flush(&t), pos_only++;
  ASSERTF(t.c[0], "1 1", "SELECT concat_ws(' ', new_users, total_users - %s) "
          "FROM daily_platform_metrics WHERE date = '2025-03-03'",
          "(SELECT total_users FROM daily_platform_metrics WHERE date = '2025-03-02')");

  /* the short path alone for position-only batches; the pair otherwise */
  char want[64];
  snprintf(want, sizeof want, "apply:%d positions:%d pre:%d", mixed, pos_only, mixed);
  tu_assert_query(t.c[0],
                  "SELECT string_agg(fn || ':' || n, ' ' ORDER BY fn) FROM "
                  "(SELECT fn, count(*) AS n FROM an_calls GROUP BY fn) x", want);
  snprintf(want, sizeof want, "apply:%d pre:%d", mixed + pos_only, mixed + pos_only);
  tu_assert_query(t.c[1],
                  "SELECT string_agg(fn || ':' || n, ' ' ORDER BY fn) FROM "
                  "(SELECT fn, count(*) AS n FROM an_calls GROUP BY fn) x", want);
  for (int k = 0; k < 2; k++) {
    sink_close(t.s[k]);
    PQfinish(t.c[k]);
    free(uri[k]);
  }
}
END_TEST

/* --------------------------------------------- backfill of chain-days */

#define DAYS_DIR "fixtures/chain-days"

/* Every expected.json market_analytics row is in the table, and nothing else. */
static void assert_expected_analytics_(PGconn *c, const json_t *rows);
#define assert_expected_analytics assert_expected_analytics_

START_TEST(t_backfill_chain_days) {
  json_t *exp = ex_load(DAYS_DIR);
  const json_t *rows = json_object_get(exp, "market_analytics");
  ck_assert_msg(json_is_array(rows) && json_array_size(rows) > 0,
                "expected.json has no market_analytics");
  rc_child_t rs;
  PGconn *c;
  char *uri = rc_start_with_db(&rs, DAYS_DIR, NULL, "an", &c);
  PQclear(PQexec(c, "SET TimeZone = 'UTC'"));
  char url[64], from[32], to[32];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", rs.port);
  snprintf(from, sizeof from, "%" PRIu64, ex_meta_u64(exp, "start_slot"));
  snprintf(to, sizeof to, "%" PRIu64, ex_meta_u64(exp, "tip_slot"));
  const char *const args[] = {"backfill", "--from-slot", from, "--to-slot", to, "--rpc-url",
                              url, "--database-url", uri, NULL};
  for (int pass = 0; pass < 2; pass++) { /* the same range twice: no double count */
    pid_t pid = tu_spawn("crypto-bet-indexer", args, NULL, NULL, "/dev/null");
    ck_assert_int_eq(tu_wait_exit(pid, 60000, NULL), 0);
    /* The backfill reported the chain's time at the tip (getBlockTime: no
     * transaction after the last midnight), so the active market has its
     * row of the tip's day. */
    char tip[64];
    snprintf(tip, sizeof tip, "%" PRIu64 " %" PRIu64, ex_meta_u64(exp, "tip_slot"),
             ex_meta_u64(exp, "tip_time_unix"));
    tu_assert_query(c, "SELECT chain_slot || ' ' || chain_time_unix FROM analytics_state", tip);
    assert_expected_analytics(c, rows);
  }
  json_decref(exp);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

/* live over chain-days: the same rows, the tip's day from getBlockTime of
 * the newest slot (no transaction after the last midnight). */
START_TEST(t_live_chain_days) {
  json_t *exp = ex_load(DAYS_DIR);
  const json_t *rows = json_object_get(exp, "market_analytics");
  rc_child_t rs;
  PGconn *c;
  const char *const fast[] = {"--speed", "20", NULL};
  char *uri = rc_start_with_db(&rs, DAYS_DIR, fast, "an", &c);
  PQclear(PQexec(c, "SET TimeZone = 'UTC'"));
  char url[64], wurl[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", rs.port);
  snprintf(wurl, sizeof wurl, "ws://127.0.0.1:%d/", rs.port);
  const char *const args[] = {"live", "--rpc-url", url, "--ws-url", wurl, "--database-url", uri,
                              "--exit-when-idle", "2500", NULL};
  pid_t pid = tu_spawn("crypto-bet-indexer", args, NULL, NULL, "/dev/null");
  ck_assert_int_eq(tu_wait_exit(pid, 90000, NULL), 0);
  char tip[64];
  snprintf(tip, sizeof tip, "%" PRIu64 " %" PRIu64, ex_meta_u64(exp, "tip_slot"),
           ex_meta_u64(exp, "tip_time_unix"));
  tu_assert_query(c, "SELECT chain_slot || ' ' || chain_time_unix FROM analytics_state", tip);
  assert_expected_analytics(c, rows);
  json_decref(exp);
  rc_end_with_db(&rs, c, uri);
}
END_TEST

static void assert_expected_analytics_(PGconn *c, const json_t *rows) {
  {
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row) {
      const char *cols[] = {"daily_volume", "daily_bets", "daily_participants",
                            "yes_price_open", "yes_price_close", "yes_price_high",
                            "yes_price_low", "no_price_open", "no_price_close",
                            "no_price_high", "no_price_low"};
      char want[1024] = "", got_sql[1024];
      size_t off = 0;
      for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
        char v[128];
        ex_expected_text(json_object_get(row, cols[k]), v, sizeof v);
        off += (size_t)snprintf(want + off, sizeof want - off, "%s%s", k ? " " : "", v);
      }
      snprintf(got_sql, sizeof got_sql,
               "SELECT concat_ws(' ', daily_volume, daily_bets, daily_participants, "
               "yes_price_open, yes_price_close, yes_price_high, yes_price_low, no_price_open, "
               "no_price_close, no_price_high, no_price_low) FROM market_analytics "
               "WHERE market_pubkey = '%s' AND date = '%s'",
               json_string_value(json_object_get(row, "market_pubkey")),
               json_string_value(json_object_get(row, "date")));
      tu_assert_query(c, got_sql, want);
    }
    char n[32];
    snprintf(n, sizeof n, "%zu", json_array_size(rows));
    tu_assert_query(c, "SELECT count(*) FROM market_analytics", n);
  }
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  Suite *s = suite_create("analytics");
  TCase *tc = tcase_create("analytics");
  tcase_set_timeout(tc, 120);
  if (tu_have_pg()) {
    tcase_add_test(tc, t_days_midnight_resolution);
    tcase_add_test(tc, t_replay_out_of_order);
    tcase_add_test(tc, t_late_earlier_bet);
    tcase_add_test(tc, t_seed_queries_midnight);
    tcase_add_test(tc, t_platform_delta_equals_full);
    tcase_add_test(tc, t_positions_short_equals_full);
    tcase_add_test(tc, t_backfill_chain_days);
    tcase_add_test(tc, t_live_chain_days);
  }
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
