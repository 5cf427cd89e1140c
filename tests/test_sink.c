/* The sink against a real PostgreSQL server: exact values, slot guard,
 * idempotence, order independence, closes, restart mid-batch, dead
 * letters, derived columns and the seed document's API queries. */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "migrate.h"
#include "sink.h"
#include "testutil.h"

/* ------------------------------------------------------------- helpers */

static PGconn *connect_uri(const char *uri) {
  PGconn *c = PQconnectdb(uri);
  ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  return c;
}

/* Fresh migrated database; returns its URI and an open connection. */
static char *fresh(PGconn **out) {
  char *uri = tu_fresh_db("sink");
  PGconn *c = connect_uri(uri);
  char err[512];
  ck_assert_msg(migrate_run(uri, NULL, err, sizeof err) == MIGRATE_OK, "%s", err);
  *out = c;
  return uri;
}

static sink_t *open_sink(const char *uri, size_t batch) {
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = uri;
  o.batch_max_records = batch;
  o.reconnect_max_backoff_ms = 200;
  o.open_timeout_ms = 10000;
  sink_t *s = NULL;
  char err[512];
  int rc = sink_open(&o, &s, err, sizeof err);
  ck_assert_msg(rc == SINK_OK, "sink_open: %s", err);
  return s;
}

static void pk(cb_pubkey_t *k, const char *tag, int n) {
  memset(k, 0, sizeof *k);
  tu_key(k->b58, 44, tag, n);
}

static cb_str_t str(const char *s) {
  cb_str_t v = {s, (uint32_t)strlen(s)};
  return v;
}

static cb_account_t market(const char *pubkey, uint64_t slot, uint64_t yes, uint64_t no,
                           cb_market_state_t st) {
  cb_account_t a;
  memset(&a, 0, sizeof a);
  a.kind = CB_ACCOUNT_MARKET;
  snprintf(a.pubkey, sizeof a.pubkey, "%s", pubkey);
  a.slot = slot;
  a.lamports = 1000;
  cb_market_t *m = &a.u.market;
  pk(&m->authority, "Auth", 1);
  m->market_id = 7;
  m->title = str("Will \"BTC\" hit 100k?");
  m->description = str("back\\slash, {braces}, comma; ünïcødé");
  m->category = str("crypto");
  m->created_at = 1733011200;      /* 2024-12-01 00:00:00 UTC */
  m->resolution_time = 4102444800; /* 2100-01-01 00:00:00 UTC */
  m->state = st;
  m->market_type = CB_MARKET_STABLE;
  pk(&m->accepted_mint, "Mint", 1);
  pk(&m->yes_vault, "YesV", 1);
  pk(&m->no_vault, "NoV", 1);
  m->yes_pool = yes;
  m->no_pool = no;
  m->total_volume = yes + no;
  m->total_participants = 3;
  pk(&m->resolver, "Resolver", 1);
  m->metadata_uri = str("ipfs://meta");
  m->creation_fee = 5;
  m->bump = 254;
  return a;
}

static cb_account_t position(const char *pubkey, uint64_t slot, const char *user,
                             const char *mkt, uint64_t yes, uint64_t no, uint64_t invested) {
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
  p->total_invested = invested;
  p->yes_avg_price = 500000000;
  p->no_avg_price = 1000000000;
  p->created_at = 1733011200;
  p->updated_at = 1733011300;
  p->bet_count = 2;
  p->bump = 1;
  return a;
}

static cb_tx_row_t txrow(const char *sig, uint32_t ix, cb_tx_type_t type, const char *mkt,
                         const char *user, uint64_t slot) {
  cb_tx_row_t t;
  memset(&t, 0, sizeof t);
  snprintf(t.signature, sizeof t.signature, "%s", sig);
  t.instruction_index = ix;
  t.type = type;
  snprintf(t.market, sizeof t.market, "%s", mkt ? mkt : "");
  snprintf(t.user, sizeof t.user, "%s", user ? user : "");
  t.amount = 1000;
  t.side = CB_SIDE_YES;
  t.slot = slot;
  t.has_block_time = true;
  t.block_time = 1733011400;
  t.has_block_height = true;
  t.block_height = slot > 10 ? slot - 10 : 0;
  t.fee = 5000;
  return t;
}

static void put(sink_t *s, const cb_account_t *a) {
  int rc = sink_put_account(s, a);
  ck_assert_msg(rc == SINK_OK, "put %s: %s", sink_strerror(rc), sink_last_error(s));
}

static void flush(sink_t *s) {
  int rc = sink_flush(s);
  ck_assert_msg(rc == SINK_OK, "flush %s: %s", sink_strerror(rc), sink_last_error(s));
}

static void q(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                "%s: %s", sql, PQerrorMessage(c));
  PQclear(r);
}

#define ASSERTF(conn, expected, ...)                      \
  do {                                                    \
    char sql_[1024];                                      \
    snprintf(sql_, sizeof sql_, __VA_ARGS__);             \
    tu_assert_query((conn), sql_, (expected));            \
  } while (0)

/* --------------------------------------------------------------- tests */

START_TEST(t_exact_values) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  char m43[64], m32[64], u32[64];
  tu_key(m43, 43, "Mkt", 43);
  tu_key(m32, 32, "Mkt", 32);
  tu_key(u32, 32, "Usr", 32);
  cb_account_t a = market(m43, 100, UINT64_MAX, UINT64_MAX, CB_MARKET_ACTIVE);
  a.u.market.market_id = UINT64_MAX;
  a.u.market.total_volume = UINT64_MAX;
  a.u.market.creation_fee = UINT64_MAX;
  a.u.market.total_participants = UINT32_MAX;
  a.u.market.created_at = INT64_MIN; /* cannot be a timestamptz */
  a.u.market.has_oracle_source = true;
  pk(&a.u.market.oracle_source, "Oracle", 1);
  put(s, &a);
  cb_account_t b = market(m32, 100, 1, 2, CB_MARKET_ACTIVE);
  b.u.market.resolution_time = INT64_MAX;
  put(s, &b);
  cb_account_t p = position("Pos00000000000000000000000000000000000000001", 100, u32, m43,
                            UINT64_MAX, UINT64_MAX, UINT64_MAX);
  p.u.position.yes_avg_price = 1000000000;
  p.u.position.no_avg_price = UINT64_MAX;
  p.u.position.claimed_amount = UINT64_MAX;
  p.u.position.bet_count = UINT32_MAX;
  put(s, &p);
  cb_tx_row_t t = txrow("Sig4444444444444444444444444444444444444444444444444444444444444444",
                        0, CB_TX_PLACE_BET, m43, u32, 100);
  t.amount = UINT64_MAX;
  t.has_price = true;
  t.price = 1000000000;
  t.fee = UINT64_MAX;
  t.platform_fee = UINT64_MAX;
  ck_assert_int_eq(sink_put_tx(s, &t), SINK_OK);
  flush(s);

  ASSERTF(c, "18446744073709551615 18446744073709551615 18446744073709551615 "
             "18446744073709551615 18446744073709551615 4294967295",
          "SELECT market_id::text || ' ' || yes_pool::text || ' ' || no_pool::text || ' ' || "
          "total_volume::text || ' ' || creation_fee::text || ' ' || total_participants::text "
          "FROM markets_cache WHERE market_pubkey = '%s'", m43);
  /* i64::MIN: no timestamptz, exact seconds kept; the row is not rejected. */
  ASSERTF(c, "<NULL>", "SELECT created_at FROM markets_cache WHERE market_pubkey = '%s'", m43);
  ASSERTF(c, "-9223372036854775808",
          "SELECT created_at_unix::text FROM markets_cache WHERE market_pubkey = '%s'", m43);
  ASSERTF(c, "2100-01-01 00:00:00+00",
          "SELECT resolution_time::text FROM markets_cache WHERE market_pubkey = '%s'", m43);
  ASSERTF(c, "<NULL>", "SELECT resolution_time FROM markets_cache WHERE market_pubkey = '%s'",
          m32);
  ASSERTF(c, "9223372036854775807",
          "SELECT resolution_time_unix::text FROM markets_cache WHERE market_pubkey = '%s'", m32);
  ASSERTF(c, "32", "SELECT length(market_pubkey)::text FROM markets_cache WHERE market_pubkey "
                   "= '%s'", m32);
  /* strings survive array quoting exactly */
  ASSERTF(c, "Will \"BTC\" hit 100k?|back\\slash, {braces}, comma; ünïcødé|crypto|ipfs://meta",
          "SELECT title || '|' || description || '|' || category || '|' || metadata_uri "
          "FROM markets_cache WHERE market_pubkey = '%s'", m43);
  ASSERTF(c, "t", "SELECT oracle_source LIKE 'Oracle1%%' FROM markets_cache WHERE "
                  "market_pubkey = '%s'", m43);
  ASSERTF(c, "<NULL>", "SELECT oracle_source FROM markets_cache WHERE market_pubkey = '%s'", m32);
  /* prices: u64 / 1e9 exactly */
  tu_assert_query(c, "SELECT yes_avg_price::text || ' ' || no_avg_price::text || ' ' || "
                     "yes_shares::text || ' ' || claimed_amount::text || ' ' || bet_count::text "
                     "FROM positions_cache",
                  "1.000000000 18446744073.709551615 18446744073709551615 "
                  "18446744073709551615 4294967295");
  tu_assert_query(c, "SELECT amount::text || ' ' || price::text || ' ' || fee_amount::text || "
                     "' ' || platform_fee::text || ' ' || block_time::text FROM transactions",
                  "18446744073709551615 1.000000000 18446744073709551615 "
                  "18446744073709551615 2024-12-01 00:03:20+00");
  /* users created on first sight; both references resolve to the same row */
  tu_assert_query(c, "SELECT count(*) FROM users", "1");
  tu_assert_query(c, "SELECT count(*) FROM positions_cache p JOIN users u ON u.id = p.user_id "
                     "JOIN transactions t ON t.user_id = u.id",
                  "1");
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_other_accounts) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  cb_account_t g;
  memset(&g, 0, sizeof g);
  g.kind = CB_ACCOUNT_GLOBAL_CONFIG;
  tu_key(g.pubkey, 44, "Cfg", 1);
  g.slot = 5;
  pk(&g.u.config.authority, "Auth", 1);
  pk(&g.u.config.platform_treasury, "Tres", 1);
  g.u.config.platform_fee_bps = 65535;
  g.u.config.min_market_duration = INT64_MIN;
  g.u.config.max_market_duration = INT64_MAX;
  g.u.config.max_bet_amount = UINT64_MAX;
  g.u.config.total_volume = UINT64_MAX;
  g.u.config.is_paused = true;
  g.u.config.version = 255;
  put(s, &g);
  cb_account_t t;
  memset(&t, 0, sizeof t);
  t.kind = CB_ACCOUNT_TREASURY;
  tu_key(t.pubkey, 44, "Trs", 1);
  t.slot = 5;
  pk(&t.u.treasury.market, "Mkt", 1);
  pk(&t.u.treasury.mint, "Mint", 1);
  pk(&t.u.treasury.authority, "Auth", 1);
  t.u.treasury.current_balance = UINT64_MAX;
  t.u.treasury.treasury_type = CB_TREASURY_PLATFORM;
  put(s, &t);
  cb_account_t o;
  memset(&o, 0, sizeof o);
  o.kind = CB_ACCOUNT_ORACLE_DATA;
  tu_key(o.pubkey, 44, "Orc", 1);
  o.slot = 5;
  pk(&o.u.oracle.authority, "Auth", 1);
  pk(&o.u.oracle.market, "Mkt", 1);
  o.u.oracle.source = str("pyth");
  o.u.oracle.value = str("{\"px\": \"97000.5\"}");
  o.u.oracle.timestamp = INT64_MIN;
  o.u.oracle.confidence = 100;
  for (int i = 0; i < 64; i++) o.u.oracle.signature[i] = (uint8_t)(i * 4);
  put(s, &o);
  flush(s);
  tu_assert_query(c, "SELECT platform_fee_bps || ' ' || min_market_duration || ' ' || "
                     "max_market_duration || ' ' || max_bet_amount::text || ' ' || is_paused "
                     "|| ' ' || version FROM platform_config",
                  "65535 -9223372036854775808 9223372036854775807 18446744073709551615 true 255");
  tu_assert_query(c, "SELECT current_balance::text || ' ' || treasury_type FROM treasuries_cache",
                  "18446744073709551615 platform");
  tu_assert_query(c, "SELECT source || ' ' || value || ' ' || confidence || ' ' || "
                     "octet_length(signature) || ' ' || encode(substr(signature, 1, 4), 'hex') "
                     "|| ' ' || data_timestamp_unix FROM oracle_data_cache",
                  "pyth {\"px\": \"97000.5\"} 100 64 0004080c -9223372036854775808");
  tu_assert_query(c, "SELECT data_timestamp IS NULL FROM oracle_data_cache", "t");
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_two_instructions_one_signature) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  char sig[100];
  tu_key(sig, 88, "TwoIx", 5);
  char usr[64];
  tu_key(usr, 44, "Usr", 1);
  cb_tx_row_t a = txrow(sig, 0, CB_TX_PLACE_BET, "", usr, 50);
  cb_tx_row_t b = txrow(sig, 3, CB_TX_CLAIM_WINNINGS, "", usr, 50); /* inner instruction */
  b.side = CB_SIDE_NONE;
  ck_assert_int_eq(sink_put_tx(s, &a), SINK_OK);
  ck_assert_int_eq(sink_put_tx(s, &b), SINK_OK);
  flush(s);
  tu_assert_query(c, "SELECT string_agg(instruction_index || ':' || transaction_type || ':' || "
                     "coalesce(side::text, '-'), ',' ORDER BY instruction_index) FROM "
                     "transactions",
                  "0:place_bet:yes,3:claim_winnings:-");
  ASSERTF(c, "88", "SELECT length(signature)::text FROM transactions LIMIT 1");
  /* A later observation updates status columns in place. */
  b.failed = true;
  snprintf(b.error_message, sizeof b.error_message, "{\"InstructionError\":[0,\"X\"]}");
  b.amount = 1; /* not a status column: ignored */
  ck_assert_int_eq(sink_put_tx(s, &b), SINK_OK);
  flush(s);
  tu_assert_query(c, "SELECT count(*) FROM transactions", "2");
  tu_assert_query(c, "SELECT status || ' ' || error_message || ' ' || amount FROM transactions "
                     "WHERE instruction_index = 3",
                  "failed {\"InstructionError\":[0,\"X\"]} 1000");
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_slot_guard_shuffled) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  char m1[64], m2[64];
  tu_key(m1, 44, "Shuf", 1);
  tu_key(m2, 44, "Shuf", 2);
  uint64_t slots[50];
  for (int i = 0; i < 50; i++) slots[i] = 1000 + (uint64_t)i;
  srand(12345);
  for (int i = 49; i > 0; i--) {
    int j = rand() % (i + 1);
    uint64_t t = slots[i];
    slots[i] = slots[j];
    slots[j] = t;
  }
  /* m1: one batch per update (database-side guard). */
  for (int i = 0; i < 50; i++) {
    cb_account_t a = market(m1, slots[i], slots[i] * 10, slots[i] * 20, CB_MARKET_ACTIVE);
    put(s, &a);
    flush(s);
  }
  /* m2: all 50 in one batch (in-batch dedup). */
  for (int i = 0; i < 50; i++) {
    cb_account_t a = market(m2, slots[i], slots[i] * 10, slots[i] * 20, CB_MARKET_ACTIVE);
    put(s, &a);
  }
  flush(s);
  ASSERTF(c, "1049 10490 20980", "SELECT sync_slot || ' ' || yes_pool || ' ' || no_pool FROM "
                                 "markets_cache WHERE market_pubkey = '%s'", m1);
  ASSERTF(c, "1049 10490 20980", "SELECT sync_slot || ' ' || yes_pool || ' ' || no_pool FROM "
                                 "markets_cache WHERE market_pubkey = '%s'", m2);
  sink_stats_t st;
  sink_get_stats(s, &st);
  /* Every update but the newest per market was counted as stale, except
   * the ones that were newer than the row when they arrived. */
  ck_assert_uint_ge(st.accounts_stale_ignored, 49);
  ck_assert_uint_le(st.accounts_stale_ignored, 98);
  /* An equal slot applies (later observation wins), an older one does not. */
  cb_account_t eq = market(m1, 1049, 1, 1, CB_MARKET_ACTIVE);
  put(s, &eq);
  flush(s);
  ASSERTF(c, "1", "SELECT yes_pool::text FROM markets_cache WHERE market_pubkey = '%s'", m1);
  cb_account_t old = market(m1, 10, 2, 2, CB_MARKET_ACTIVE);
  put(s, &old);
  flush(s);
  ASSERTF(c, "1", "SELECT yes_pool::text FROM markets_cache WHERE market_pubkey = '%s'", m1);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

/* Digest of everything the sink writes except bookkeeping timestamps. */
static char *digest(PGconn *c) {
  return tu_query1(
      c,
      "SELECT md5(concat_ws('|',"
      "(SELECT string_agg(wallet_address, ',' ORDER BY wallet_address) FROM users),"
      "(SELECT string_agg(concat_ws(',', market_pubkey, yes_pool, no_pool, state, sync_slot, "
      "  closed_slot, resolved_at), ';' ORDER BY market_pubkey) FROM markets_cache),"
      "(SELECT string_agg(concat_ws(',', position_pubkey, u.wallet_address, yes_shares, "
      "  current_value, unrealized_pnl, realized_pnl, sync_slot, closed_slot), ';' "
      "  ORDER BY position_pubkey) FROM positions_cache p JOIN users u ON u.id = p.user_id),"
      "(SELECT string_agg(concat_ws(',', signature, instruction_index, status, amount, "
      "  user_pubkey), ';' ORDER BY signature, instruction_index) FROM transactions),"
      "(SELECT string_agg(concat_ws(',', stream, slot, signature), ';') FROM sync_checkpoints),"
      "(SELECT string_agg(concat_ws(',', kind, key, reason), ';' ORDER BY id) FROM "
      "  dead_letters)))");
}

static void idem_batch(sink_t *s) {
  char m[64], p[64], u[64], sig[100];
  for (int i = 0; i < 20; i++) {
    tu_key(m, 44, "IdM", i);
    cb_account_t a = market(m, 100 + (uint64_t)i, 10 * (uint64_t)i, 7, CB_MARKET_ACTIVE);
    put(s, &a);
    tu_key(p, 44, "IdP", i);
    tu_key(u, 44, "IdU", i % 3);
    cb_account_t b = position(p, 100, u, m, (uint64_t)i, 3, 9);
    put(s, &b);
    tu_key(sig, 88, "IdS", i);
    cb_tx_row_t t = txrow(sig, 0, CB_TX_PLACE_BET, m, u, 100);
    ck_assert_int_eq(sink_put_tx(s, &t), SINK_OK);
  }
  tu_key(m, 44, "IdM", 3);
  ck_assert_int_eq(sink_mark_closed(s, m, 500), SINK_OK);
  const uint8_t raw[] = {1, 2, 3};
  ck_assert_int_eq(sink_put_dead_letter(s, "account", "Bad1", 9, "undecodable", raw, 3),
                   SINK_OK);
  ck_assert_int_eq(sink_set_checkpoint(s, "live", 120, "SigX"), SINK_OK);
}

START_TEST(t_idempotent) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 10000);
  idem_batch(s);
  flush(s);
  char *d1 = digest(c);
  idem_batch(s);
  flush(s);
  char *d2 = digest(c);
  ck_assert_str_eq(d1, d2);
  tu_assert_query(c, "SELECT count(*) || ' ' || sum(attempts) FROM dead_letters", "1 2");
  tu_assert_query(c, "SELECT count(*) FROM transactions", "20");
  tu_assert_query(c, "SELECT count(*) FROM users", "3");
  free(d1);
  free(d2);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_order_independence) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  char m[64], p[64], u[64], sig[100], sig2[100];
  tu_key(m, 44, "Late", 1);
  tu_key(p, 44, "Early", 1);
  tu_key(u, 44, "Wal", 1);
  tu_key(sig, 88, "Res", 1);
  tu_key(sig2, 88, "Bet", 1);
  /* Position and transactions before the market. */
  cb_account_t pos = position(p, 10, u, m, 100, 0, 60);
  put(s, &pos);
  cb_tx_row_t bet = txrow(sig2, 0, CB_TX_PLACE_BET, m, u, 10);
  ck_assert_int_eq(sink_put_tx(s, &bet), SINK_OK);
  cb_tx_row_t res = txrow(sig, 0, CB_TX_RESOLVE_MARKET, m, u, 30);
  res.has_resolution = true;
  res.resolution_result = true;
  res.resolved_at = 1735689600; /* 2025-01-01 */
  ck_assert_int_eq(sink_put_tx(s, &res), SINK_OK);
  flush(s);
  tu_assert_query(c, "SELECT count(*) FROM positions_cache", "1");
  tu_assert_query(c, "SELECT count(*) FROM transactions", "2");
  tu_assert_query(c, "SELECT current_value IS NULL AND realized_pnl IS NULL FROM positions_cache",
                  "t");
  /* The market arrives (resolved): derived columns and resolved_at follow. */
  cb_account_t mk = market(m, 31, 100, 50, CB_MARKET_RESOLVED);
  mk.u.market.has_resolution_result = true;
  mk.u.market.resolution_result = true;
  put(s, &mk);
  flush(s);
  tu_assert_query(c, "SELECT current_value::text || ' ' || unrealized_pnl::text || ' ' || "
                     "realized_pnl::text FROM positions_cache",
                  "100.000000000 0.000000000 40.000000000");
  tu_assert_query(c, "SELECT resolved_at::text FROM markets_cache", "2025-01-01 00:00:00+00");
  /* Transaction after the market: resolved_at is not overwritten later. */
  char sig3[100];
  tu_key(sig3, 88, "Res", 2);
  cb_tx_row_t res2 = txrow(sig3, 0, CB_TX_RESOLVE_MARKET, m, u, 40);
  ck_assert_int_eq(sink_put_tx(s, &res2), SINK_OK);
  flush(s);
  tu_assert_query(c, "SELECT resolved_at::text FROM markets_cache", "2025-01-01 00:00:00+00");
  /* A market seen first, then its resolving tx (no event: block time). */
  char m2[64], sig4[100];
  tu_key(m2, 44, "Late", 2);
  tu_key(sig4, 88, "Res", 4);
  cb_account_t mk2 = market(m2, 5, 1, 1, CB_MARKET_ACTIVE);
  put(s, &mk2);
  flush(s);
  ASSERTF(c, "<NULL>", "SELECT resolved_at FROM markets_cache WHERE market_pubkey = '%s'", m2);
  cb_tx_row_t res4 = txrow(sig4, 1, CB_TX_RESOLVE_MARKET, m2, NULL, 6);
  ck_assert_int_eq(sink_put_tx(s, &res4), SINK_OK);
  flush(s);
  ASSERTF(c, "2024-12-01 00:03:20+00",
          "SELECT resolved_at::text FROM markets_cache WHERE market_pubkey = '%s'", m2);
  tu_assert_query(c, "SELECT count(*) FROM transactions WHERE user_id IS NULL", "1");
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_closed_accounts) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  char m[64], p[64], u[64];
  tu_key(m, 44, "Cls", 1);
  tu_key(p, 44, "ClsP", 1);
  tu_key(u, 44, "Wal", 1);
  cb_account_t mk = market(m, 100, 5, 5, CB_MARKET_ACTIVE);
  put(s, &mk);
  flush(s);
  cb_account_t closed;
  memset(&closed, 0, sizeof closed);
  closed.kind = CB_ACCOUNT_UNKNOWN; /* empty data: kind unknown */
  closed.closed = true;
  memcpy(closed.pubkey, m, 45);
  closed.slot = 200;
  put(s, &closed);
  flush(s);
  ASSERTF(c, "true 200 200 5", "SELECT (closed_at IS NOT NULL) || ' ' || closed_slot || ' ' || "
                            "sync_slot || ' ' || yes_pool FROM markets_cache");
  /* An older update does not reopen it. */
  cb_account_t older = market(m, 150, 9, 9, CB_MARKET_ACTIVE);
  put(s, &older);
  flush(s);
  ASSERTF(c, "true 200 5", "SELECT (closed_at IS NOT NULL) || ' ' || closed_slot || ' ' || "
                        "yes_pool FROM markets_cache");
  /* A newer state (account re-created) reopens it. */
  cb_account_t newer = market(m, 300, 7, 7, CB_MARKET_ACTIVE);
  put(s, &newer);
  flush(s);
  ASSERTF(c, "true 300 7", "SELECT (closed_at IS NULL) || ' ' || sync_slot || ' ' || yes_pool "
                        "FROM markets_cache");
  /* A close seen before the account's first state: row lands closed. */
  ck_assert_int_eq(sink_mark_closed(s, p, 90), SINK_OK);
  flush(s);
  cb_account_t pos = position(p, 80, u, m, 1, 1, 1);
  put(s, &pos);
  flush(s);
  /* (a closed row's sync_slot is its closed_slot, whichever came first) */
  ASSERTF(c, "true 90 90 1", "SELECT (closed_at IS NOT NULL) || ' ' || closed_slot || ' ' || "
                        "sync_slot || ' ' || yes_shares FROM positions_cache");
  /* A later-arriving state older than the close changes nothing. */
  cb_account_t pos2 = position(p, 85, u, m, 2, 2, 2);
  put(s, &pos2);
  flush(s);
  ASSERTF(c, "true 90 90 1", "SELECT (closed_at IS NOT NULL) || ' ' || closed_slot || ' ' || "
                        "sync_slot || ' ' || yes_shares FROM positions_cache");
  /* Update and close in the same batch. */
  char m2[64];
  tu_key(m2, 44, "Cls", 2);
  cb_account_t mk2 = market(m2, 10, 3, 3, CB_MARKET_ACTIVE);
  put(s, &mk2);
  ck_assert_int_eq(sink_mark_closed(s, m2, 11), SINK_OK);
  flush(s);
  ASSERTF(c, "true 11 3", "SELECT (closed_at IS NOT NULL) || ' ' || closed_slot || ' ' || yes_pool "
                       "FROM markets_cache WHERE market_pubkey = '%s'", m2);
  /* Reconciliation listing skips closed rows. */
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

static int list_cb(void *ud, const char *pubkey, cb_account_kind_t kind, uint64_t slot) {
  char *acc = ud;
  char line[128];
  snprintf(line, sizeof line, "%d:%.4s:%" PRIu64 ";", (int)kind, pubkey, slot);
  strncat(acc, line, 1023 - strlen(acc));
  return 0;
}

START_TEST(t_list_and_checkpoint) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  uint64_t slot = 0;
  char sig[CB_SIGNATURE_B58_MAX];
  ck_assert_int_eq(sink_get_checkpoint(s, "live", &slot, sig), 1);
  char m[64], p[64], u[64];
  tu_key(m, 44, "Lst", 1);
  tu_key(p, 44, "LsP", 1);
  tu_key(u, 44, "Wal", 1);
  cb_account_t mk = market(m, 10, 1, 1, CB_MARKET_ACTIVE);
  put(s, &mk);
  cb_account_t pos = position(p, 11, u, m, 1, 1, 1);
  put(s, &pos);
  char m2[64];
  tu_key(m2, 44, "Lsx", 2);
  cb_account_t mk2 = market(m2, 10, 1, 1, CB_MARKET_ACTIVE);
  put(s, &mk2);
  ck_assert_int_eq(sink_mark_closed(s, m2, 12), SINK_OK);
  ck_assert_int_eq(sink_set_checkpoint(s, "live", 12, NULL), SINK_OK);
  ck_assert_int_eq(sink_set_checkpoint(s, "backfill", 7, "SigB"), SINK_OK);
  ck_assert_int_eq(sink_set_checkpoint(s, "live", 13, "SigL"), SINK_OK);
  ck_assert_uint_eq(sink_pending(s), 4);
  char acc[1024] = "";
  /* listing flushes first */
  ck_assert_int_eq(sink_list_open_accounts(s, list_cb, acc), SINK_OK);
  ck_assert_str_eq(acc, "2:Lst1:10;3:LsP1:11;");
  ck_assert_uint_eq(sink_pending(s), 0);
  ck_assert_int_eq(sink_get_checkpoint(s, "live", &slot, sig), 0);
  ck_assert_uint_eq(slot, 13);
  ck_assert_str_eq(sig, "SigL");
  ck_assert_int_eq(sink_get_checkpoint(s, "backfill", &slot, sig), 0);
  ck_assert_uint_eq(slot, 7);
  /* A checkpoint alone is a batch too. */
  ck_assert_int_eq(sink_set_checkpoint(s, "live", 20, NULL), SINK_OK);
  ck_assert_int_eq(sink_batch_due_in_ms(s) >= 0, 1);
  flush(s);
  ck_assert_int_eq(sink_get_checkpoint(s, "live", &slot, sig), 0);
  ck_assert_uint_eq(slot, 20);
  ck_assert_str_eq(sig, "");
  ck_assert_int_eq(sink_batch_due_in_ms(s), -1);
  ck_assert_int_eq(sink_set_checkpoint(s, "", 1, NULL), SINK_ERR_INVALID);
  cb_account_t bad;
  memset(&bad, 0, sizeof bad);
  snprintf(bad.pubkey, sizeof bad.pubkey, "X");
  ck_assert_int_eq(sink_put_account(s, &bad), SINK_ERR_INVALID); /* unknown kind, not closed */
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_batch_due_and_autoflush) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = uri;
  o.batch_max_records = 10;
  o.batch_max_delay_ms = 50;
  sink_t *s = NULL;
  char err[256];
  ck_assert_int_eq(sink_open(&o, &s, err, sizeof err), SINK_OK);
  ck_assert_int_eq(sink_batch_due(s), 0);
  char m[64];
  tu_key(m, 44, "Due", 0);
  cb_account_t a = market(m, 1, 1, 1, CB_MARKET_ACTIVE);
  put(s, &a);
  ck_assert_int_eq(sink_batch_due(s), 0);
  struct timespec ts = {0, 80 * 1000000L};
  nanosleep(&ts, NULL);
  ck_assert_int_eq(sink_batch_due(s), 1);
  for (int i = 1; i < 10; i++) {
    tu_key(m, 44, "Due", i);
    cb_account_t b = market(m, 1, 1, 1, CB_MARKET_ACTIVE);
    put(s, &b); /* the 10th put flushes */
  }
  ck_assert_uint_eq(sink_pending(s), 0);
  tu_assert_query(c, "SELECT count(*) FROM markets_cache", "10");
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_dead_letter_bad_record) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  char m[64], p[64], u[64], sig[100];
  for (int i = 0; i < 5; i++) {
    tu_key(m, 44, "Good", i);
    cb_account_t a = market(m, 10, 1, 1, CB_MARKET_ACTIVE);
    put(s, &a);
    tu_key(p, 44, "GoodP", i);
    tu_key(u, 44, "Wal", i);
    cb_account_t b = position(p, 10, u, m, 1, 1, 1);
    put(s, &b);
    tu_key(sig, 88, "GoodS", i);
    cb_tx_row_t t = txrow(sig, 0, CB_TX_PLACE_BET, m, u, 10);
    ck_assert_int_eq(sink_put_tx(s, &t), SINK_OK);
  }
  /* 31 characters: violates valid_market_pubkey */
  char bad[64];
  tu_key(bad, 31, "Bad", 1);
  cb_account_t b = market(bad, 10, 1, 1, CB_MARKET_ACTIVE);
  put(s, &b);
  /* a position whose wallet is too short for users */
  char badp[64], badu[64];
  tu_key(badp, 44, "BadP", 1);
  tu_key(badu, 20, "W", 1);
  tu_key(m, 44, "Good", 0);
  cb_account_t bp = position(badp, 10, badu, m, 1, 1, 1);
  put(s, &bp);
  ck_assert_int_eq(sink_set_checkpoint(s, "live", 10, NULL), SINK_OK);
  flush(s);
  tu_assert_query(c, "SELECT count(*) FROM markets_cache", "5");
  tu_assert_query(c, "SELECT count(*) FROM positions_cache", "5");
  tu_assert_query(c, "SELECT count(*) FROM transactions", "5");
  tu_assert_query(c, "SELECT slot FROM sync_checkpoints", "10");
  tu_assert_query(c, "SELECT string_agg(kind || ':' || attempts, ',' ORDER BY kind) FROM "
                     "dead_letters",
                  "market:1,position:1");
  ASSERTF(c, "t", "SELECT reason LIKE '%%valid_market_pubkey%%' AND key = '%s' AND slot = 10 "
                  "AND convert_from(raw, 'UTF8') LIKE 'pubkey=\"%s\"%%' FROM dead_letters "
                  "WHERE kind = 'market'", bad, bad);
  sink_stats_t st;
  sink_get_stats(s, &st);
  ck_assert_uint_eq(st.rejected, 2);
  ck_assert_uint_eq(st.dead_letters, 2);
  /* The same bad record again bumps attempts. */
  put(s, &b);
  flush(s);
  tu_assert_query(c, "SELECT attempts FROM dead_letters WHERE kind = 'market'", "2");
  /* Caller dead letters: same input twice -> one row, attempts 2, reason
   * sanitised to valid text. */
  const uint8_t raw[] = {0xde, 0xad, 0x00, 0xbe, 0xef};
  ck_assert_int_eq(sink_put_dead_letter(s, "account", "KeyX", 5, "bad \xff utf8", raw, 5),
                   SINK_OK);
  ck_assert_int_eq(sink_put_dead_letter(s, "account", "KeyX", 6, "bad \xff utf8", raw, 5),
                   SINK_OK);
  flush(s);
  tu_assert_query(c, "SELECT attempts || ' ' || slot || ' ' || reason || ' ' || encode(raw, "
                     "'hex') FROM dead_letters WHERE kind = 'account'",
                  "2 6 bad ? utf8 dead00beef");
  ck_assert_int_eq(sink_put_dead_letter(s, "account", "KeyX", 7, "bad \xff utf8", raw, 5),
                   SINK_OK);
  flush(s);
  tu_assert_query(c, "SELECT attempts FROM dead_letters WHERE kind = 'account'", "3");
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_derived_pnl) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  char m[64], u[64], p1[64], p2[64], p3[64];
  tu_key(m, 44, "Pnl", 1);
  tu_key(u, 44, "Wal", 1);
  tu_key(p1, 44, "PnlP", 1);
  tu_key(p2, 44, "PnlP", 2);
  tu_key(p3, 44, "PnlP", 3);
  /* yes 300 / no 100: p_yes = 0.75, p_no = 0.25 */
  cb_account_t mk = market(m, 10, 300, 100, CB_MARKET_ACTIVE);
  put(s, &mk);
  cb_account_t a = position(p1, 10, u, m, 100, 40, 90); /* 75 + 10 = 85 */
  put(s, &a);
  cb_account_t b = position(p2, 10, u, m, 1, 0, 0); /* 0.75 */
  put(s, &b);
  flush(s);
  ASSERTF(c, "85.000000000 -5.000000000 0.000000000",
          "SELECT current_value || ' ' || unrealized_pnl || ' ' || realized_pnl FROM "
          "positions_cache WHERE position_pubkey = '%s'", p1);
  /* Market changes -> existing positions recomputed: yes 1 / no 2. */
  mk = market(m, 11, 1, 2, CB_MARKET_ACTIVE);
  put(s, &mk);
  flush(s);
  ASSERTF(c, "0.333333333 0.333333333",
          "SELECT current_value || ' ' || unrealized_pnl FROM positions_cache WHERE "
          "position_pubkey = '%s'", p2);
  /* 100*(1/3) + 40*(2/3) = 60 */
  ASSERTF(c, "60.000000000 -30.000000000", "SELECT current_value || ' ' || unrealized_pnl FROM "
                                           "positions_cache WHERE position_pubkey = '%s'", p1);
  /* p_yes = 2/3 -> 0.666666667 (half up) */
  mk = market(m, 12, 2, 1, CB_MARKET_ACTIVE);
  put(s, &mk);
  flush(s);
  ASSERTF(c, "0.666666667", "SELECT current_value::text FROM positions_cache WHERE "
                            "position_pubkey = '%s'", p2);
  /* Empty pools: 0.5 each. */
  mk = market(m, 13, 0, 0, CB_MARKET_ACTIVE);
  put(s, &mk);
  flush(s);
  ASSERTF(c, "70.000000000 -20.000000000 0.000000000",
          "SELECT current_value || ' ' || unrealized_pnl || ' ' || realized_pnl FROM "
          "positions_cache WHERE position_pubkey = '%s'", p1);
  /* Huge values stay exact: u64::MAX shares on both sides, pools 1:1. */
  cb_account_t h = position(p3, 13, u, m, UINT64_MAX, UINT64_MAX, 1);
  put(s, &h);
  flush(s);
  ASSERTF(c, "18446744073709551615.000000000 18446744073709551614.000000000",
          "SELECT current_value || ' ' || unrealized_pnl FROM positions_cache WHERE "
          "position_pubkey = '%s'", p3);
  /* Resolved NO: winning shares = no_shares. */
  mk = market(m, 14, 300, 100, CB_MARKET_RESOLVED);
  mk.u.market.has_resolution_result = true;
  mk.u.market.resolution_result = false;
  put(s, &mk);
  flush(s);
  ASSERTF(c, "40.000000000 0.000000000 -50.000000000",
          "SELECT current_value || ' ' || unrealized_pnl || ' ' || realized_pnl FROM "
          "positions_cache WHERE position_pubkey = '%s'", p1);
  /* Cancelled: refund, no pnl. */
  mk = market(m, 15, 300, 100, CB_MARKET_CANCELLED);
  put(s, &mk);
  flush(s);
  ASSERTF(c, "90.000000000 0.000000000 0.000000000",
          "SELECT current_value || ' ' || unrealized_pnl || ' ' || realized_pnl FROM "
          "positions_cache WHERE position_pubkey = '%s'", p1);
  /* Resolved YES, position changes after resolution (claimed). */
  mk = market(m, 16, 300, 100, CB_MARKET_RESOLVED);
  mk.u.market.has_resolution_result = true;
  mk.u.market.resolution_result = true;
  put(s, &mk);
  a = position(p1, 17, u, m, 100, 40, 90);
  a.u.position.claimed = true;
  a.u.position.claimed_amount = 100;
  put(s, &a);
  flush(s);
  ASSERTF(c, "100.000000000 0.000000000 10.000000000",
          "SELECT current_value || ' ' || unrealized_pnl || ' ' || realized_pnl FROM "
          "positions_cache WHERE position_pubkey = '%s'", p1);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

/* The API queries from the seed document, verbatim. */
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

START_TEST(t_seed_queries) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  char m1[64], m2[64], m3[64], u[64], p1[64], p2[64];
  tu_key(m1, 44, "Api", 1);
  tu_key(m2, 44, "Api", 2);
  tu_key(m3, 44, "Api", 3);
  tu_key(u, 44, "ApiWal", 1);
  tu_key(p1, 44, "ApiP", 1);
  tu_key(p2, 44, "ApiP", 2);
  cb_account_t a = market(m1, 5, 10, 10, CB_MARKET_ACTIVE);
  put(s, &a);
  cb_account_t b = market(m2, 5, 500, 500, CB_MARKET_ACTIVE);
  b.u.market.category = str("sports");
  put(s, &b);
  cb_account_t d = market(m3, 5, 1, 1, CB_MARKET_RESOLVED);
  put(s, &d);
  cb_account_t p = position(p1, 5, u, m1, 10, 0, 10);
  put(s, &p);
  cb_account_t p2a = position(p2, 6, u, m2, 0, 3, 3);
  p2a.u.position.updated_at = 1733019999;
  put(s, &p2a);
  flush(s);
  q(c, "INSERT INTO market_analytics (market_pubkey, date, yes_price_close, daily_volume) "
       "SELECT market_pubkey, CURRENT_DATE, 0.123456789, 42 FROM markets_cache "
       "WHERE category = 'sports'");
  /* The text is unchanged; $1 needs a declared type (an untyped $1 that
   * only appears in "$1 IS NULL" cannot be inferred by PostgreSQL). */
  const Oid types[3] = {25 /* text */, 20 /* int8 */, 20};
  const char *params[3] = {NULL, "10", "0"};
  PGresult *r = PQexecParams(c, listing_query, 3, types, params, NULL, NULL, 0);
  ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
  ck_assert_int_eq(PQntuples(r), 2);
  ck_assert_str_eq(PQgetvalue(r, 0, 0), m2); /* highest volume first */
  ck_assert_str_eq(PQgetvalue(r, 0, 8), "0.123456789");
  ck_assert_str_eq(PQgetvalue(r, 0, 9), "42");
  ck_assert_str_eq(PQgetvalue(r, 1, 8), "0.5");
  PQclear(r);
  params[0] = "crypto";
  r = PQexecParams(c, listing_query, 3, types, params, NULL, NULL, 0);
  ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
  ck_assert_int_eq(PQntuples(r), 1);
  ck_assert_str_eq(PQgetvalue(r, 0, 0), m1);
  PQclear(r);

  char *uid = NULL;
  {
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT id FROM users WHERE wallet_address = '%s'", u);
    uid = tu_query1(c, sql);
  }
  const char *pp[1] = {uid};
  r = PQexecParams(c, portfolio_query, 1, NULL, pp, NULL, NULL, 0);
  ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
  ck_assert_int_eq(PQntuples(r), 2);
  ck_assert_str_eq(PQgetvalue(r, 0, 0), p2); /* most recently updated first */
  ck_assert_str_eq(PQgetvalue(r, 1, 0), p1);
  ck_assert_str_eq(PQgetvalue(r, 1, 8), "5.000000000"); /* 10 * 0.5 */
  ck_assert_str_eq(PQgetvalue(r, 1, 9), "-5.000000000");
  PQclear(r);
  free(uid);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

/* ------------------------------------------- connection loss, restart */

typedef struct flush_job {
  sink_t *s;
  int rc;
} flush_job_t;

static void *flush_thread(void *arg) {
  flush_job_t *j = arg;
  j->rc = sink_flush(j->s);
  return NULL;
}

/* Waits until the sink's backend blocks on a lock (its batch is in the
 * middle of its transaction). */
static void wait_blocked(PGconn *mon) {
  for (int i = 0; i < 400; i++) {
    char *v = tu_query1(mon, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                             "'crypto-bet-indexer' AND wait_event_type = 'Lock'");
    int blocked = strcmp(v, "0") != 0;
    free(v);
    if (blocked) return;
    struct timespec ts = {0, 25 * 1000000L};
    nanosleep(&ts, NULL);
  }
  ck_abort_msg("the sink's batch never blocked");
}

/* Queues 3000 positions + markets and a checkpoint; a second connection
 * holds sync_checkpoints locked so the batch stops just before COMMIT. */
static void queue_big_batch(sink_t *s, int tag) {
  char m[64], p[64], u[64];
  for (int i = 0; i < 1500; i++) {
    tu_key(m, 44, tag ? "RsM" : "KiM", i);
    cb_account_t a = market(m, 50, (uint64_t)i, 1, CB_MARKET_ACTIVE);
    put(s, &a);
    tu_key(p, 44, tag ? "RsP" : "KiP", i);
    tu_key(u, 44, "RsU", i % 50);
    cb_account_t b = position(p, 50, u, m, 1, 1, 1);
    put(s, &b);
  }
  ck_assert_int_eq(sink_set_checkpoint(s, "live", 50, NULL), SINK_OK);
}

static void pg_restart_server(void) {
  const char *ctl = getenv("CBI_PG_CTL"), *data = getenv("CBI_PG_DATA");
  ck_assert_msg(ctl && data, "CBI_PG_CTL/CBI_PG_DATA not set (run through tests/run.sh)");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s%s -D %s -l %s/../server.log -m immediate -w restart >/dev/null",
           getuid() == 0 ? "runuser -u postgres -- " : "", ctl, data, data);
  int st = system(cmd);
  ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "restart failed: %s", cmd);
}

static void check_big_batch(PGconn *c, const char *mtag, const char *ptag) {
  ASSERTF(c, "1500", "SELECT count(*) FROM markets_cache WHERE market_pubkey LIKE '%s%%'", mtag);
  ASSERTF(c, "1500", "SELECT count(*) FROM positions_cache WHERE position_pubkey LIKE '%s%%'",
          ptag);
  tu_assert_query(c, "SELECT slot FROM sync_checkpoints WHERE stream = 'live'", "50");
}

START_TEST(t_connection_killed_mid_batch) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 100000);
  queue_big_batch(s, 0);
  PGconn *lock = connect_uri(uri);
  q(lock, "BEGIN");
  q(lock, "LOCK TABLE sync_checkpoints IN ACCESS EXCLUSIVE MODE");
  flush_job_t j = {s, -99};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, flush_thread, &j), 0);
  wait_blocked(c);
  q(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
       "'crypto-bet-indexer'");
  q(lock, "ROLLBACK");
  pthread_join(th, NULL);
  ck_assert_int_eq(j.rc, SINK_OK);
  check_big_batch(c, "KiM", "KiP");
  sink_stats_t st;
  sink_get_stats(s, &st);
  ck_assert_uint_ge(st.retries, 1);
  ck_assert_uint_ge(st.reconnects, 1);
  ck_assert_uint_eq(st.batches, 1);
  PQfinish(lock);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_server_restart_mid_batch) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 100000);
  /* Data committed before the restart must survive it. */
  char m[64];
  tu_key(m, 44, "Before", 1);
  cb_account_t a = market(m, 1, 1, 1, CB_MARKET_ACTIVE);
  put(s, &a);
  flush(s);
  queue_big_batch(s, 1);
  PGconn *lock = connect_uri(uri);
  q(lock, "BEGIN");
  q(lock, "LOCK TABLE sync_checkpoints IN ACCESS EXCLUSIVE MODE");
  flush_job_t j = {s, -99};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, flush_thread, &j), 0);
  wait_blocked(c);
  PQfinish(c);
  pg_restart_server(); /* the lock holder dies with the server */
  PQfinish(lock);
  pthread_join(th, NULL);
  ck_assert_msg(j.rc == SINK_OK, "flush after restart: %s", sink_last_error(s));
  c = connect_uri(uri);
  check_big_batch(c, "RsM", "RsP");
  tu_assert_query(c, "SELECT count(*) FROM markets_cache", "1501");
  tu_assert_query(c, "SELECT count(*) FROM users", "50");
  sink_stats_t st;
  sink_get_stats(s, &st);
  ck_assert_uint_ge(st.reconnects, 1);
  ck_assert_uint_eq(st.batches, 2);
  /* The sink keeps working afterwards. */
  tu_key(m, 44, "After", 1);
  cb_account_t b = market(m, 1, 1, 1, CB_MARKET_ACTIVE);
  put(s, &b);
  flush(s);
  tu_assert_query(c, "SELECT count(*) FROM markets_cache", "1502");
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

typedef struct writer_job {
  const char *uri;
  int reverse;
  int rc;
} writer_job_t;

/* Writes 200 markets 10 times, in forward or reverse put order, with
 * slots interleaving the other writer's. */
static void *writer_thread(void *arg) {
  writer_job_t *j = arg;
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = j->uri;
  sink_t *s = NULL;
  char err[256];
  j->rc = sink_open(&o, &s, err, sizeof err);
  for (int round = 0; round < 10 && j->rc == SINK_OK; round++) {
    for (int k = 0; k < 200 && j->rc == SINK_OK; k++) {
      int i = j->reverse ? 199 - k : k;
      char m[64];
      tu_key(m, 44, "Conc", i);
      uint64_t slot = 1000 + (uint64_t)round * 2 + (uint64_t)j->reverse;
      cb_account_t a = market(m, slot, slot, (uint64_t)j->reverse, CB_MARKET_ACTIVE);
      j->rc = sink_put_account(s, &a);
    }
    if (j->rc == SINK_OK) j->rc = sink_flush(s);
  }
  sink_close(s);
  return NULL;
}

START_TEST(t_two_writers) {
  PGconn *c;
  char *uri = fresh(&c);
  writer_job_t a = {uri, 0, -99}, b = {uri, 1, -99};
  pthread_t ta, tb;
  ck_assert_int_eq(pthread_create(&ta, NULL, writer_thread, &a), 0);
  ck_assert_int_eq(pthread_create(&tb, NULL, writer_thread, &b), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  ck_assert_int_eq(a.rc, SINK_OK);
  ck_assert_int_eq(b.rc, SINK_OK);
  /* Highest slot (1019, from the reverse writer) wins everywhere. */
  tu_assert_query(c, "SELECT count(*) || ' ' || min(sync_slot) || ' ' || max(sync_slot) || ' ' "
                     "|| min(yes_pool) || ' ' || max(no_pool) FROM markets_cache",
                  "200 1019 1019 1019 1");
  PQfinish(c);
  free(uri);
}
END_TEST

START_TEST(t_stop_flag) {
  PGconn *c;
  char *uri = fresh(&c);
  volatile int stop = 0;
  sink_options_t o;
  sink_options_init(&o);
  o.conninfo = uri;
  o.stop_flag = &stop;
  sink_t *s = NULL;
  char err[256];
  ck_assert_int_eq(sink_open(&o, &s, err, sizeof err), SINK_OK);
  char m[64];
  tu_key(m, 44, "Stop", 1);
  cb_account_t a = market(m, 1, 1, 1, CB_MARKET_ACTIVE);
  put(s, &a);
  stop = 1;
  ck_assert_int_eq(sink_flush(s), SINK_ERR_STOPPED);
  ck_assert_uint_eq(sink_pending(s), 1); /* batch kept */
  stop = 0;
  flush(s);
  tu_assert_query(c, "SELECT count(*) FROM markets_cache", "1");
  sink_close(s);
  /* Unreachable server: open gives up after the timeout. */
  o.conninfo = "postgresql://postgres@127.0.0.1:1/none";
  o.open_timeout_ms = 300;
  ck_assert_int_eq(sink_open(&o, &s, err, sizeof err), SINK_ERR_CONNECT);
  ck_assert_ptr_null(s);
  PQfinish(c);
  free(uri);
}
END_TEST

/* ------------------------------------------------ write-path details */

/* Integers travel as binary numeric/bigint/smallint array elements: base
 * 10000 digit groups with trailing zero groups, signs, extremes. */
START_TEST(t_binary_values) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  static const uint64_t pools[] = {0ull, 1ull, 9999ull, 10000ull, 10001ull, 100000000ull,
                                   1000000000000ull, 12345678901234567890ull, UINT64_MAX};
  static const char *const want[] = {"0", "1", "9999", "10000", "10001", "100000000",
                                     "1000000000000", "12345678901234567890",
                                     "18446744073709551615"};
  static const int64_t times[] = {-1, INT64_MIN + 1, 0, 86399, -62135596800, 253402300799,
                                  INT64_MAX, 1, -86400};
  char m[64];
  for (int i = 0; i < 9; i++) {
    tu_key(m, 44, "Bin", i);
    cb_account_t a = market(m, 7, pools[i], pools[8 - i], CB_MARKET_ACTIVE);
    a.u.market.created_at = times[i];
    a.u.market.bump = (uint8_t)(247 + i);
    put(s, &a);
  }
  char u[64], p[64];
  tu_key(u, 44, "BinU", 1);
  static const uint64_t prices[] = {1ull, 10000ull, 1000000000ull, 999999999ull, UINT64_MAX};
  static const char *const pwant[] = {"0.000000001", "0.000010000", "1.000000000",
                                      "0.999999999", "18446744073.709551615"};
  for (int i = 0; i < 5; i++) {
    tu_key(p, 44, "BinP", i);
    tu_key(m, 44, "Bin", 0);
    cb_account_t b = position(p, 7, u, m, pools[i + 4], 0, pools[i]);
    b.u.position.yes_avg_price = prices[i];
    put(s, &b);
  }
  flush(s);
  for (int i = 0; i < 9; i++) {
    tu_key(m, 44, "Bin", i);
    char exp[160];
    snprintf(exp, sizeof exp, "%s %s %" PRId64 " %d", want[i], want[8 - i], times[i], 247 + i);
    ASSERTF(c, exp, "SELECT yes_pool::text || ' ' || no_pool::text || ' ' || created_at_unix || "
                    "' ' || bump FROM markets_cache WHERE market_pubkey = '%s'", m);
  }
  for (int i = 0; i < 5; i++) {
    tu_key(p, 44, "BinP", i);
    char exp[160];
    snprintf(exp, sizeof exp, "%s %s %s", want[i + 4], want[i], pwant[i]);
    ASSERTF(c, exp, "SELECT yes_shares::text || ' ' || total_invested::text || ' ' || "
                    "yes_avg_price::text FROM positions_cache WHERE position_pubkey = '%s'", p);
  }
  /* -1 and INT64_MIN+1 seconds: exact in *_unix; the timestamp of -1 exists */
  tu_key(m, 44, "Bin", 0);
  ASSERTF(c, "1969-12-31 23:59:59+00",
          "SELECT created_at::text FROM markets_cache WHERE market_pubkey = '%s'", m);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

/* A record identical to the row at the same slot writes nothing (no new
 * row version); one that differs at the same slot applies. */
START_TEST(t_same_slot_noop) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  char m[64], p[64], u[64];
  tu_key(m, 44, "Noop", 1);
  tu_key(p, 44, "NoopP", 1);
  tu_key(u, 44, "NoopU", 1);
  cb_account_t a = market(m, 20, 5, 6, CB_MARKET_ACTIVE);
  cb_account_t b = position(p, 20, u, m, 3, 4, 5);
  put(s, &a);
  put(s, &b);
  flush(s);
  char *mx = tu_query1(c, "SELECT xmin::text || last_sync_at::text FROM markets_cache");
  char *px = tu_query1(c, "SELECT xmin::text || last_sync_at::text FROM position_accounts");
  sink_stats_t s0, s1;
  sink_get_stats(s, &s0);
  put(s, &a);
  put(s, &b);
  flush(s);
  sink_get_stats(s, &s1);
  ck_assert_uint_eq(s1.accounts_written, s0.accounts_written);
  ck_assert_uint_eq(s1.accounts_stale_ignored, s0.accounts_stale_ignored + 2);
  tu_assert_query(c, "SELECT xmin::text || last_sync_at::text FROM markets_cache", mx);
  tu_assert_query(c, "SELECT xmin::text || last_sync_at::text FROM position_accounts", px);
  /* A close recorded at the same slot is a difference. */
  b.u.position.claimed = true;
  put(s, &b);
  flush(s);
  sink_get_stats(s, &s0);
  ck_assert_uint_eq(s0.accounts_written, s1.accounts_written + 1);
  tu_assert_query(c, "SELECT claimed::text || ' ' || sync_slot FROM positions_cache", "true 20");
  ck_assert_int_eq(sink_mark_closed(s, m, 20), SINK_OK);
  flush(s);
  put(s, &a); /* same data and slot, but the row is closed at 20 now: stays closed */
  flush(s);
  tu_assert_query(c, "SELECT closed_slot::text || ' ' || yes_pool FROM markets_cache", "20 5");
  free(mx);
  free(px);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

/* Derived columns follow a market update without rewriting its positions. */
START_TEST(t_market_update_keeps_positions) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  char m[64], u[64], p[64];
  tu_key(m, 44, "Keep", 1);
  tu_key(u, 44, "KeepU", 1);
  cb_account_t mk = market(m, 10, 300, 100, CB_MARKET_ACTIVE);
  put(s, &mk);
  for (int i = 0; i < 3; i++) {
    tu_key(p, 44, "KeepP", i);
    cb_account_t b = position(p, 10, u, m, 100, 40, 90);
    put(s, &b);
  }
  flush(s);
  char *before = tu_query1(c, "SELECT string_agg(xmin::text, ',' ORDER BY position_pubkey) "
                              "FROM position_accounts");
  tu_assert_query(c, "SELECT string_agg(current_value::text, ',') FROM positions_cache",
                  "85.000000000,85.000000000,85.000000000");
  mk = market(m, 11, 1, 2, CB_MARKET_ACTIVE); /* 100/3 + 80/3 = 60 */
  put(s, &mk);
  flush(s);
  tu_assert_query(c, "SELECT string_agg(current_value::text || '/' || unrealized_pnl::text || "
                     "'/' || sync_slot, ',') FROM positions_cache",
                  "60.000000000/-30.000000000/10,60.000000000/-30.000000000/10,"
                  "60.000000000/-30.000000000/10");
  tu_assert_query(c, "SELECT string_agg(xmin::text, ',' ORDER BY position_pubkey) FROM "
                     "position_accounts", before);
  /* The view is read-only: writes go to position_accounts. */
  PGresult *r = PQexec(c, "UPDATE positions_cache SET yes_shares = 0");
  ck_assert_int_ne(PQresultStatus(r), PGRES_COMMAND_OK);
  PQclear(r);
  free(before);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

/* A position whose owner changes (never on chain; a corrupt record) points
 * to the new owner's users row, created even if the wallet is new. */
START_TEST(t_position_owner_change) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  char m[64], u1[64], u2[64], p[64];
  tu_key(m, 44, "Own", 1);
  tu_key(u1, 44, "OwnA", 1);
  tu_key(u2, 44, "OwnB", 2);
  tu_key(p, 44, "OwnP", 1);
  cb_account_t b = position(p, 10, u1, m, 1, 2, 3);
  put(s, &b);
  flush(s);
  b = position(p, 11, u2, m, 1, 2, 3);
  put(s, &b);
  flush(s);
  tu_assert_query(c, "SELECT count(*) FROM users", "2");
  ASSERTF(c, "t", "SELECT u.wallet_address = '%s' AND p.user_pubkey = '%s' FROM "
                  "positions_cache p JOIN users u ON u.id = p.user_id", u2, u2);
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

/* A wallet the sink has seen is not looked up again; if its users row
 * disappears anyway, the position still lands and the row is recreated. */
START_TEST(t_known_wallet_row_deleted) {
  PGconn *c;
  char *uri = fresh(&c);
  sink_t *s = open_sink(uri, 1000);
  char m[64], u[64], p[64], p2[64];
  tu_key(m, 44, "Kw", 1);
  tu_key(u, 44, "KwU", 1);
  tu_key(p, 44, "KwP", 1);
  tu_key(p2, 44, "KwP", 2);
  cb_account_t b = position(p, 10, u, m, 1, 2, 3);
  put(s, &b);
  flush(s);
  q(c, "DELETE FROM users");
  b = position(p, 11, u, m, 4, 5, 6);
  put(s, &b);
  cb_account_t b2 = position(p2, 11, u, m, 7, 8, 9);
  put(s, &b2);
  flush(s);
  tu_assert_query(c, "SELECT count(*) FROM users", "1");
  tu_assert_query(c, "SELECT count(*) || ' ' || sum(yes_shares) FROM positions_cache p "
                     "JOIN users u ON u.id = p.user_id",
                  "2 11");
  tu_assert_query(c, "SELECT count(*) FROM dead_letters", "0");
  sink_close(s);
  PQfinish(c);
  free(uri);
}
END_TEST

int main(void) {
  Suite *s = suite_create("sink");
  TCase *tc = tcase_create("sink");
  tcase_set_timeout(tc, 120);
  if (tu_have_pg()) {
    tcase_add_test(tc, t_exact_values);
    tcase_add_test(tc, t_other_accounts);
    tcase_add_test(tc, t_two_instructions_one_signature);
    tcase_add_test(tc, t_slot_guard_shuffled);
    tcase_add_test(tc, t_idempotent);
    tcase_add_test(tc, t_order_independence);
    tcase_add_test(tc, t_closed_accounts);
    tcase_add_test(tc, t_list_and_checkpoint);
    tcase_add_test(tc, t_batch_due_and_autoflush);
    tcase_add_test(tc, t_dead_letter_bad_record);
    tcase_add_test(tc, t_derived_pnl);
    tcase_add_test(tc, t_seed_queries);
    tcase_add_test(tc, t_stop_flag);
    tcase_add_test(tc, t_two_writers);
    tcase_add_test(tc, t_connection_killed_mid_batch);
    tcase_add_test(tc, t_server_restart_mid_batch);
    tcase_add_test(tc, t_binary_values);
    tcase_add_test(tc, t_same_slot_noop);
    tcase_add_test(tc, t_market_update_keeps_positions);
    tcase_add_test(tc, t_position_owner_change);
    tcase_add_test(tc, t_known_wallet_row_deleted);
  }
  suite_add_tcase(s, tc);
  return tu_run_suite(s);
}
