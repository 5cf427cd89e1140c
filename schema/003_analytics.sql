-- Analytics the API reads, derived by the indexer from chain data:
--   bet_history             one row per successful place_bet (the price series)
--   market_analytics        one row per (market, UTC day): volume, bets, prices
--   daily_platform_metrics  one row per UTC day
--   users                   total_bets, total_volume, total_winnings, win_rate
--
-- Days are UTC days of the chain's block time. All amounts and prices are
-- exact NUMERIC; prices are rounded half up to 9 decimals, win_rate to 4.
-- The sink maintains everything in the same database transaction as the
-- rows it derives from, by calling cbi_analytics_apply() (below) once per
-- batch; every step either recomputes the touched keys from stored rows or
-- applies a change only for rows that this call actually inserted or
-- deleted, so a replay (duplicates, restarts, a backfill overlapping live,
-- out-of-order input) leaves the same tables.
--
-- Rows derived from history indexed before this migration are not
-- rebuilt by it (their BetPlaced pools were never stored): re-run a backfill
-- over that history after migrating; it fills everything in.

-- u64 pools as a price: part / (yes_pool + no_pool), rounded half up to 9
-- decimals; 0.5 when both pools are 0.
CREATE FUNCTION cbi_pool_price(part NUMERIC, yes_pool NUMERIC, no_pool NUMERIC)
RETURNS NUMERIC LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CAST(CASE WHEN yes_pool + no_pool = 0 THEN 0.5
                ELSE div(part * 2000000000 + (yes_pool + no_pool), (yes_pool + no_pool) * 2)
                     * 0.000000001 END AS NUMERIC(20, 9))
$$;

-- UTC day of i64 unix seconds, by integer arithmetic; NULL outside
-- 0001-01-01 .. 9999-12-31.
CREATE FUNCTION cbi_utc_day(secs BIGINT)
RETURNS DATE LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN secs BETWEEN -62135596800 AND 253402300799
                THEN DATE '1970-01-01' + CAST(div(secs - mod(mod(secs, 86400) + 86400, 86400), 86400)
                                              AS INTEGER) END
$$;

-- ------------------------------------------------------------ bet_history
CREATE TABLE bet_history (
    signature VARCHAR(88) NOT NULL,
    instruction_index INTEGER NOT NULL,
    market_pubkey VARCHAR(44) NOT NULL,
    user_pubkey VARCHAR(44) NOT NULL,
    side bet_side NOT NULL,
    amount NUMERIC(20, 0) NOT NULL,
    platform_fee NUMERIC(20, 0) NOT NULL,
    price NUMERIC(20, 9),
    yes_pool NUMERIC(20, 0),
    no_pool NUMERIC(20, 0),
    yes_price NUMERIC(20, 9),
    no_price NUMERIC(20, 9),
    slot BIGINT NOT NULL,
    block_time TIMESTAMP WITH TIME ZONE,
    block_time_unix BIGINT,
    bet_date DATE,
    PRIMARY KEY (signature, instruction_index)
);
CREATE INDEX idx_bet_history_market_day ON bet_history(market_pubkey, bet_date, user_pubkey);
CREATE INDEX idx_bet_history_day ON bet_history(bet_date);
COMMENT ON TABLE bet_history IS
    'One row per successful place_bet instruction (transactions row with status confirmed), keyed '
    'like transactions. The price series the API charts: order by slot, then yes_pool + no_pool.';
COMMENT ON COLUMN bet_history.price IS 'BetPlaced price of the bet''s side (on-chain u64 / 1e9).';
COMMENT ON COLUMN bet_history.yes_pool IS
    'BetPlaced yes_pool: the market''s YES pool after the bet. NULL (with no_pool, price, '
    'yes_price, no_price) when the event was not seen, e.g. a truncated log.';
COMMENT ON COLUMN bet_history.yes_price IS
    'yes_pool / (yes_pool + no_pool) rounded half up to 9 decimals; 0.5 on empty pools.';
COMMENT ON COLUMN bet_history.no_price IS
    'no_pool / (yes_pool + no_pool) rounded half up to 9 decimals; 0.5 on empty pools.';
COMMENT ON COLUMN bet_history.bet_date IS 'UTC day of block_time (NULL while unknown).';

-- ------------------------------------------------------ market_analytics
COMMENT ON TABLE market_analytics IS
    'Derived by the indexer: one row per market and UTC day (chain block time), from the day the '
    'market was created through the day it was resolved or cancelled, or while active through the '
    'latest indexed day (analytics_state). Written in the same transaction as the bets.';
COMMENT ON COLUMN market_analytics.daily_volume IS
    'Sum of the day''s successful place_bet amounts, gross (as markets_cache.total_volume counts them).';
COMMENT ON COLUMN market_analytics.daily_bets IS 'Number of the day''s successful place_bet instructions.';
COMMENT ON COLUMN market_analytics.daily_participants IS 'Distinct bettors of the day.';
COMMENT ON COLUMN market_analytics.yes_price_open IS
    'YES price (bet_history.yes_price) after the day''s first bet; bets ordered by slot, then '
    'yes_pool + no_pool. close: after the last; high/low: over the day''s bets. A day without '
    'bets carries the previous day''s close in all four (0.5 before the first bet). no_price_* '
    'likewise with the NO price.';
COMMENT ON COLUMN market_analytics.avg_spread IS
    'Always NULL: a parimutuel pool has one price per side and no order book, hence no spread.';
COMMENT ON COLUMN market_analytics.liquidity_score IS
    'Always NULL: there is no order book depth to score; yes_pool + no_pool is the liquidity.';
CREATE INDEX idx_market_analytics_date ON market_analytics(date);
ALTER TABLE market_analytics ADD COLUMN first_bet NUMERIC[], ADD COLUMN last_bet NUMERIC[];
COMMENT ON COLUMN market_analytics.first_bet IS
    'Indexer bookkeeping: (slot, yes_pool + no_pool, instruction_index) of the day''s first priced '
    'bet; NULL on a day without one. last_bet: of its last. Not for the API.';

-- ------------------------------------------------ daily_platform_metrics
CREATE TABLE daily_platform_metrics (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    date DATE UNIQUE NOT NULL,

    total_users INTEGER DEFAULT 0,
    new_users INTEGER DEFAULT 0,
    active_users INTEGER DEFAULT 0,
    returning_users INTEGER DEFAULT 0,

    total_markets INTEGER DEFAULT 0,
    new_markets INTEGER DEFAULT 0,
    active_markets INTEGER DEFAULT 0,
    resolved_markets INTEGER DEFAULT 0,
    cancelled_markets INTEGER DEFAULT 0,

    total_volume NUMERIC(30, 0) DEFAULT 0,
    degen_volume NUMERIC(30, 0) DEFAULT 0,
    stable_volume NUMERIC(30, 0) DEFAULT 0,

    total_transactions INTEGER DEFAULT 0,
    successful_transactions INTEGER DEFAULT 0,
    failed_transactions INTEGER DEFAULT 0,
    avg_transaction_size NUMERIC(29, 9) DEFAULT 0,

    platform_fees_collected NUMERIC(30, 0) DEFAULT 0,
    swap_fees_collected NUMERIC(30, 0) DEFAULT 0,
    total_revenue NUMERIC(30, 0) DEFAULT 0,

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    bet_count BIGINT NOT NULL DEFAULT 0
);
COMMENT ON TABLE daily_platform_metrics IS
    'Derived by the indexer: one row per UTC day (chain block time) from the first indexed day '
    'through the latest indexed day. Amounts are base units (NUMERIC, exact). "Seen" users: signer '
    'of a Crypto Bet transaction or owner of a position (users.first_seen_unix).';
COMMENT ON COLUMN daily_platform_metrics.total_users IS 'Wallets first seen up to the end of the day.';
COMMENT ON COLUMN daily_platform_metrics.new_users IS 'Wallets first seen that day.';
COMMENT ON COLUMN daily_platform_metrics.active_users IS
    'Distinct signers of the day''s Crypto Bet transactions (any status).';
COMMENT ON COLUMN daily_platform_metrics.returning_users IS
    'Active that day and first seen before it.';
COMMENT ON COLUMN daily_platform_metrics.total_markets IS 'Markets created up to the end of the day.';
COMMENT ON COLUMN daily_platform_metrics.active_markets IS
    'Markets created by the end of the day and neither resolved nor cancelled by then.';
COMMENT ON COLUMN daily_platform_metrics.cancelled_markets IS 'Markets cancelled that day (not in the seed).';
COMMENT ON COLUMN daily_platform_metrics.total_volume IS
    'Sum of the day''s successful place_bet amounts (gross); degen_volume / stable_volume by market type.';
COMMENT ON COLUMN daily_platform_metrics.avg_transaction_size IS
    'total_volume / number of the day''s successful bets, rounded half up to 9 decimals (0 without bets).';
COMMENT ON COLUMN daily_platform_metrics.platform_fees_collected IS 'Sum of the day''s BetPlaced platform_fee.';
COMMENT ON COLUMN daily_platform_metrics.swap_fees_collected IS 'Always 0: the program has no swaps.';
COMMENT ON COLUMN daily_platform_metrics.total_revenue IS
    'platform_fees_collected + creation_fee of the markets created that day.';
COMMENT ON COLUMN daily_platform_metrics.bet_count IS
    'Indexer bookkeeping: the day''s successful place_bet instructions (avg_transaction_size''s '
    'divisor). Not for the API.';
COMMENT ON COLUMN daily_platform_metrics.total_transactions IS
    'Crypto Bet instructions (transactions rows) of the day; successful_/failed_ by status.';

-- The distinct signers of each day's transactions (active_users), so that a
-- batch's new transactions rows add only wallets not yet active that day.
CREATE TABLE analytics_day_signers (
    day DATE NOT NULL,
    wallet VARCHAR(44) NOT NULL,
    PRIMARY KEY (day, wallet)
);
COMMENT ON TABLE analytics_day_signers IS
    'Indexer bookkeeping: one row per UTC day and signer of a transactions row of that day. '
    'Not for the API.';

-- ------------------------------------------------------------------ users
ALTER TABLE users ADD COLUMN first_seen_unix BIGINT;
CREATE INDEX idx_users_first_seen ON users(first_seen_unix);
-- A wallet's claims, for total_winnings.
CREATE INDEX idx_transactions_claims ON transactions(user_id)
    WHERE transaction_type = 'claim_winnings';
COMMENT ON COLUMN users.first_seen_unix IS
    'Derived: earliest block time of a Crypto Bet transaction the wallet signed or creation time of '
    'a position it owns (unix seconds).';
COMMENT ON COLUMN users.total_bets IS 'Derived: successful place_bet instructions (bet_history rows).';
COMMENT ON COLUMN users.total_volume IS 'Derived: sum of their gross amounts.';
COMMENT ON COLUMN users.total_winnings IS 'Derived: sum of successful claim_winnings amounts.';
COMMENT ON COLUMN users.win_rate IS
    'Derived: winning positions / positions in resolved markets, rounded half up to 4 decimals, 0 '
    'when there are none; a position wins when it holds shares of the resolved side.';

-- ------------------------------------------------------ analytics_state
CREATE TABLE analytics_state (
    id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    chain_slot BIGINT,
    chain_time_unix BIGINT,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
COMMENT ON TABLE analytics_state IS
    'The latest indexed chain time: the highest block time of any indexed transaction or of a '
    'slot the sources reported (sink_set_chain_time), and its slot. Its UTC day is the latest '
    'indexed day through which active markets have market_analytics rows.';

-- Last day of a market's market_analytics rows: the day it was resolved or
-- cancelled, else (active, paused) the latest indexed day.
CREATE FUNCTION cbi_market_end_day(m markets_cache, chain_day DATE)
RETURNS DATE LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN m.state IN ('resolved', 'cancelled') THEN COALESCE(
            CASE WHEN m.state = 'resolved' THEN (m.resolved_at AT TIME ZONE 'UTC')::date END,
            (SELECT cbi_utc_day(x.block_time_unix) FROM transactions x
              WHERE x.market_pubkey = m.market_pubkey AND x.status = 'confirmed'
                AND x.transaction_type = CASE WHEN m.state = 'resolved' THEN 'resolve_market'
                                              ELSE 'cancel_market' END::transaction_type
              ORDER BY x.slot, x.instruction_index LIMIT 1),
            GREATEST(cbi_utc_day(m.created_at_unix),
                     (SELECT max(b.bet_date) FROM bet_history b
                       WHERE b.market_pubkey = m.market_pubkey)))
        ELSE GREATEST(cbi_utc_day(m.created_at_unix), chain_day)
    END
$$;

-- Called first in a batch's transaction, before its rows are written:
-- keeps the stored status and block time of the batch's transactions rows
-- and the platform-relevant columns of its market accounts, from which
-- cbi_analytics_apply() (same transaction) derives exact deltas.
CREATE FUNCTION cbi_analytics_pre(t_sig TEXT[], t_ix INTEGER[], a_market TEXT[])
RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.cbi_pre_done') IS NULL THEN
        CREATE TEMP TABLE cbi_pre_tx (sig TEXT, ix INTEGER, status TEXT, btime BIGINT)
            ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE cbi_pre_mk (market TEXT, cr BIGINT, st TEXT, fee NUMERIC, ty TEXT,
                                      rs TIMESTAMP WITH TIME ZONE) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE cbi_pre_done (x BOOLEAN) ON COMMIT DELETE ROWS;
    END IF;
    DELETE FROM cbi_pre_tx;
    DELETE FROM cbi_pre_mk;
    DELETE FROM cbi_pre_done;
    INSERT INTO cbi_pre_tx
    SELECT t.signature, t.instruction_index, t.status::text, t.block_time_unix
      FROM unnest(t_sig, t_ix) AS x(sig, ix)
      JOIN transactions t ON t.signature = x.sig AND t.instruction_index = x.ix;
    INSERT INTO cbi_pre_mk
    SELECT m.market_pubkey, m.created_at_unix, m.state::text, m.creation_fee,
           m.market_type::text, m.resolved_at
      FROM markets_cache m WHERE m.market_pubkey = ANY(a_market);
    INSERT INTO cbi_pre_done VALUES (true);
END
$$;

-- The per-batch upkeep. t_*: the batch's transactions rows (all types; the
-- statuses are read back from transactions); a_markets: market accounts of
-- the batch; a_positions: position accounts of the batch; c_slot/c_time:
-- the chain time the sources reported (may be NULL). Returns the number
-- of bet_history rows inserted, updated or deleted.
CREATE FUNCTION cbi_analytics_apply(
    t_sig TEXT[], t_ix INTEGER[], t_type TEXT[], t_market TEXT[], t_user TEXT[], t_side TEXT[],
    t_amount NUMERIC[], t_pfee NUMERIC[], t_price NUMERIC[], t_yes NUMERIC[], t_no NUMERIC[],
    t_slot BIGINT[], t_btime BIGINT[], a_pubkey TEXT[], a_kind TEXT[],
    c_slot BIGINT, c_time BIGINT)
RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    old_day DATE;
    new_day DATE;
    top_time BIGINT;
    top_slot BIGINT;
    b_market TEXT[];
    b_day DATE[];
    b_user TEXT[];
    n_bets BIGINT;
    from_day DATE;
    u_from DATE;
    u_new BOOLEAN;
    s_users TEXT[];
    n_pday BIGINT;
    a_markets TEXT[] := ARRAY(SELECT x.p FROM unnest(a_pubkey, a_kind) AS x(p, k) WHERE x.k = 'market');
    a_positions TEXT[] := ARRAY(SELECT x.p FROM unnest(a_pubkey, a_kind) AS x(p, k)
                                 WHERE x.k = 'position');
    -- daily_platform_metrics by deltas (else recomputed): needs the stored
    -- state from before the batch (cbi_analytics_pre)
    fast BOOLEAN := to_regclass('pg_temp.cbi_pre_done') IS NOT NULL;
    pre_ok BOOLEAN;
BEGIN
    -- One writer at a time: every recomputation below then reads all
    -- committed rows (READ COMMITTED takes a new snapshot per statement).
    PERFORM pg_advisory_xact_lock(7161893915624350001);

    -- Latest indexed chain time (monotonic).
    SELECT cbi_utc_day(s.chain_time_unix) INTO old_day FROM analytics_state s;
    SELECT x.bt, x.sl INTO top_time, top_slot
      FROM (SELECT c_time AS bt, c_slot AS sl
            UNION ALL SELECT * FROM unnest(t_btime, t_slot)) x
     WHERE x.bt IS NOT NULL ORDER BY x.bt DESC, x.sl DESC NULLS LAST LIMIT 1;
    IF top_time IS NOT NULL THEN
        INSERT INTO analytics_state AS s (id, chain_slot, chain_time_unix)
        VALUES (true, top_slot, top_time)
        ON CONFLICT (id) DO UPDATE SET chain_slot = EXCLUDED.chain_slot,
            chain_time_unix = EXCLUDED.chain_time_unix, updated_at = now()
        WHERE s.chain_time_unix IS NULL OR s.chain_time_unix < EXCLUDED.chain_time_unix;
    END IF;
    SELECT cbi_utc_day(s.chain_time_unix) INTO new_day FROM analytics_state s;

    IF to_regclass('pg_temp.cbi_refresh') IS NULL THEN
        CREATE TEMP TABLE cbi_refresh (market TEXT, f DATE, e DATE, lo DATE)
            ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE cbi_bets (market TEXT, day DATE, usr TEXT, sig TEXT, ix INTEGER,
                                    amount NUMERIC, k NUMERIC[], d_bets INTEGER, pfee NUMERIC)
            ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE cbi_pday (day DATE, n BIGINT, ok BIGINT, bad BIGINT, act BIGINT,
                                    ret BIGINT, nu BIGINT, bets BIGINT, vol NUMERIC,
                                    degen NUMERIC, stable NUMERIC, fees NUMERIC)
            ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE cbi_txd (day DATE, usr TEXT, existed BOOLEAN, ps TEXT, ns TEXT,
                                   pd DATE)
            ON COMMIT DELETE ROWS;
    END IF;
    DELETE FROM cbi_pday;
    DELETE FROM cbi_txd;
    IF fast THEN
        fast := EXISTS (SELECT 1 FROM cbi_pre_done);
        DELETE FROM cbi_pre_done;
    END IF;
    pre_ok := fast;
    fast := fast AND old_day IS NOT NULL AND new_day = old_day;

    -- Bets: successful place_bet rows as stored in transactions. A row
    -- already there is completed (event values, block time) but never
    -- changed otherwise; one whose transaction is now failed is removed.
    WITH v AS (
        SELECT * FROM unnest(t_sig, t_ix, t_type, t_market, t_user, t_side, t_amount, t_pfee,
                             t_price, t_yes, t_no, t_slot, t_btime)
            AS v(sig, ix, ttype, market, usr, side, amount, pfee, price, yp, np, slot, btime)
         WHERE v.ttype = 'place_bet'),
    s AS (
        SELECT v.*, t.status FROM v
          JOIN transactions t ON t.signature = v.sig AND t.instruction_index = v.ix),
    del AS (
        DELETE FROM bet_history b USING s
         WHERE s.status <> 'confirmed' AND b.signature = s.sig AND b.instruction_index = s.ix
        RETURNING b.market_pubkey, b.bet_date, b.user_pubkey, -1 AS d_bets, -b.amount AS d_vol,
                  b.signature, b.instruction_index, b.amount, NULL::numeric[] AS k,
                  b.platform_fee),
    up AS (
        INSERT INTO bet_history AS b (signature, instruction_index, market_pubkey, user_pubkey,
            side, amount, platform_fee, price, yes_pool, no_pool, yes_price, no_price, slot,
            block_time, block_time_unix, bet_date)
        SELECT s.sig, s.ix, s.market, s.usr, s.side::bet_side, s.amount, s.pfee,
               s.price * 0.000000001, s.yp, s.np,
               CASE WHEN s.yp IS NOT NULL THEN cbi_pool_price(s.yp, s.yp, s.np) END,
               CASE WHEN s.yp IS NOT NULL THEN cbi_pool_price(s.np, s.yp, s.np) END,
               s.slot, cbi_unix_to_timestamptz(s.btime), s.btime, cbi_utc_day(s.btime)
          FROM s
         WHERE s.status = 'confirmed' AND s.market IS NOT NULL AND s.usr IS NOT NULL
           AND s.side IS NOT NULL
         ORDER BY s.sig, s.ix
        ON CONFLICT (signature, instruction_index) DO UPDATE SET
            platform_fee = CASE WHEN b.yes_pool IS NULL THEN EXCLUDED.platform_fee
                                ELSE b.platform_fee END,
            price = COALESCE(b.price, EXCLUDED.price),
            yes_pool = COALESCE(b.yes_pool, EXCLUDED.yes_pool),
            no_pool = COALESCE(b.no_pool, EXCLUDED.no_pool),
            yes_price = COALESCE(b.yes_price, EXCLUDED.yes_price),
            no_price = COALESCE(b.no_price, EXCLUDED.no_price),
            block_time = COALESCE(b.block_time, EXCLUDED.block_time),
            block_time_unix = COALESCE(b.block_time_unix, EXCLUDED.block_time_unix),
            bet_date = COALESCE(b.bet_date, EXCLUDED.bet_date)
        WHERE (b.yes_pool IS NULL AND EXCLUDED.yes_pool IS NOT NULL)
           OR (b.block_time_unix IS NULL AND EXCLUDED.block_time_unix IS NOT NULL)
        RETURNING b.market_pubkey, b.bet_date, b.user_pubkey,
                  CASE WHEN b.xmax = 0 THEN 1 ELSE 0 END AS d_bets,
                  CASE WHEN b.xmax = 0 THEN b.amount ELSE 0 END AS d_vol,
                  b.signature, b.instruction_index, b.amount,
                  -- an inserted priced bet: its chain-order key and prices
                  CASE WHEN b.xmax = 0 AND b.yes_price IS NOT NULL THEN
                      ARRAY[CAST(b.slot AS NUMERIC), b.yes_pool + b.no_pool,
                            b.instruction_index, b.yes_price, b.no_price] END AS k,
                  b.platform_fee),
    ch AS (SELECT * FROM del UNION ALL SELECT * FROM up),
    -- users.total_bets / total_volume: increments for rows inserted or
    -- deleted by this statement only (a replay inserts nothing).
    inc AS (
        UPDATE users u SET total_bets = u.total_bets + d.n, total_volume = u.total_volume + d.vol
          FROM (SELECT ch.user_pubkey, sum(ch.d_bets) AS n, sum(ch.d_vol) AS vol FROM ch
                 GROUP BY ch.user_pubkey HAVING sum(ch.d_bets) <> 0 OR sum(ch.d_vol) <> 0) d
         WHERE u.wallet_address = d.user_pubkey
        RETURNING 1)
    INSERT INTO cbi_bets SELECT ch.market_pubkey, ch.bet_date, ch.user_pubkey, ch.signature,
                                ch.instruction_index, ch.amount, ch.k, ch.d_bets,
                                ch.platform_fee FROM ch;
    -- platform deltas of the bets inserted or removed; a completed row
    -- (event values, block time) or a bet in an ended market is recomputed
    IF fast THEN
        fast := NOT EXISTS (
            SELECT 1 FROM cbi_bets c LEFT JOIN markets_cache m ON m.market_pubkey = c.market
             WHERE c.d_bets = 0 OR m.state IN ('resolved', 'cancelled'));
    END IF;
    IF fast THEN
        INSERT INTO cbi_pday (day, bets, vol, degen, stable, fees)
        SELECT c.day, sum(c.d_bets), sum(c.d_bets * c.amount),
               COALESCE(sum(c.d_bets * c.amount) FILTER (WHERE m.market_type = 'degen'), 0),
               COALESCE(sum(c.d_bets * c.amount) FILTER (WHERE m.market_type = 'stable'), 0),
               sum(c.d_bets * c.pfee)
          FROM cbi_bets c LEFT JOIN markets_cache m ON m.market_pubkey = c.market
         WHERE c.day IS NOT NULL GROUP BY c.day;
    END IF;
    SELECT array_agg(c.market), array_agg(c.day), count(*) INTO b_market, b_day, n_bets
      FROM cbi_bets c;

    -- market_analytics, fast path: bets this call inserted, all priced,
    -- later in chain order than the last bet of their (market, day) row,
    -- which is the market's latest row (the live case): the row is advanced
    -- from the new bets alone (participants: bettors with no other bet that
    -- day). Everything else is recomputed below.
    WITH bettor AS (
        SELECT c.market, c.day, c.usr, count(*) AS n FROM cbi_bets c
         WHERE c.day IS NOT NULL GROUP BY c.market, c.day, c.usr),
    newp AS (
        -- bettors whose only bets of the day are this call's (counting
        -- stops after one more)
        SELECT x.market, x.day, count(*) FILTER (WHERE
                   (SELECT count(*) FROM (SELECT 1 FROM bet_history b
                     WHERE b.market_pubkey = x.market AND b.bet_date = x.day
                       AND b.user_pubkey = x.usr LIMIT x.n + 1) z) = x.n) AS np
          FROM bettor x GROUP BY x.market, x.day),
    g AS (
        SELECT c.market, c.day, count(*) AS n, sum(c.amount) AS vol,
               bool_and(c.k IS NOT NULL) AS priced, min(c.k) AS k0, max(c.k) AS k1,
               min(c.k[4]) AS ylo, max(c.k[4]) AS yhi, min(c.k[5]) AS nlo, max(c.k[5]) AS nhi,
               min(newp.np) AS np
          FROM cbi_bets c JOIN newp ON newp.market = c.market AND newp.day = c.day
         GROUP BY c.market, c.day),
    fast AS (
        UPDATE market_analytics a SET
            daily_volume = a.daily_volume + g.vol, daily_bets = a.daily_bets + g.n,
            daily_participants = a.daily_participants + g.np,
            yes_price_open = CASE WHEN a.last_bet IS NULL THEN g.k0[4] ELSE a.yes_price_open END,
            no_price_open = CASE WHEN a.last_bet IS NULL THEN g.k0[5] ELSE a.no_price_open END,
            yes_price_high = CASE WHEN a.last_bet IS NULL THEN g.yhi
                                  ELSE GREATEST(a.yes_price_high, g.yhi) END,
            yes_price_low = CASE WHEN a.last_bet IS NULL THEN g.ylo
                                 ELSE LEAST(a.yes_price_low, g.ylo) END,
            no_price_high = CASE WHEN a.last_bet IS NULL THEN g.nhi
                                 ELSE GREATEST(a.no_price_high, g.nhi) END,
            no_price_low = CASE WHEN a.last_bet IS NULL THEN g.nlo
                                ELSE LEAST(a.no_price_low, g.nlo) END,
            yes_price_close = g.k1[4], no_price_close = g.k1[5],
            first_bet = COALESCE(a.first_bet, g.k0[1:3]), last_bet = g.k1[1:3]
          FROM g
         WHERE a.market_pubkey = g.market AND a.date = g.day AND g.priced
           AND ((a.last_bet IS NULL AND a.daily_bets = 0) OR g.k0[1:3] > a.last_bet)
           AND NOT EXISTS (SELECT 1 FROM market_analytics z
                            WHERE z.market_pubkey = g.market AND z.date > g.day)
        RETURNING a.market_pubkey, a.date)
    DELETE FROM cbi_bets c USING fast
     WHERE c.market = fast.market_pubkey AND c.day = fast.date;
    SELECT array_agg(c.market), array_agg(c.day) INTO b_market, b_day FROM cbi_bets c;
    IF COALESCE(cardinality(b_market), 0) > 0 OR COALESCE(cardinality(a_markets), 0) > 0
       OR t_type && ARRAY['resolve_market', 'cancel_market'] OR new_day > old_day THEN
    WITH cand AS (
        SELECT x.market, x.d FROM unnest(b_market, b_day) AS x(market, d) WHERE x.d IS NOT NULL
        UNION ALL
        SELECT x.market, NULL::date FROM unnest(a_markets) AS x(market)
        UNION ALL
        -- a resolution or cancellation ends the market's rows (its account
        -- may have been written before the transaction)
        SELECT x.market, NULL::date FROM unnest(t_type, t_market) AS x(ty, market)
         WHERE x.ty IN ('resolve_market', 'cancel_market') AND x.market IS NOT NULL
        UNION ALL
        SELECT m.market_pubkey, NULL::date FROM markets_cache m
         WHERE new_day > old_day AND m.state IN ('active', 'paused')),
    span AS (
        SELECT c.market, c.d,
               cbi_utc_day(m.created_at_unix) AS cday,
               -- (the active case of cbi_market_end_day, without planning it)
               CASE WHEN m.state IN ('active', 'paused')
                    THEN GREATEST(cbi_utc_day(m.created_at_unix), new_day)
                    ELSE cbi_market_end_day(m, new_day) END AS e
          FROM (SELECT cand.market, min(cand.d) AS d FROM cand GROUP BY cand.market) c
          JOIN markets_cache m ON m.market_pubkey = c.market),
    lim AS (
        SELECT span.market, span.d, span.e,
               GREATEST(span.cday, span.e - 3660) AS lo,
               (SELECT min(a.date) FROM market_analytics a WHERE a.market_pubkey = span.market) AS have_lo,
               (SELECT max(a.date) FROM market_analytics a WHERE a.market_pubkey = span.market) AS have_hi
          FROM span WHERE span.cday IS NOT NULL AND span.e IS NOT NULL)
    INSERT INTO cbi_refresh (market, f, e, lo)
    SELECT lim.market,
           GREATEST(lim.lo, LEAST(lim.d,
               CASE WHEN lim.have_lo IS NULL OR lim.have_lo <> lim.lo THEN lim.lo
                    WHEN lim.have_hi < lim.e THEN lim.have_hi + 1
                    WHEN lim.have_hi > lim.e THEN lim.e END)),
           lim.e, lim.lo
      FROM lim
     WHERE lim.d IS NOT NULL OR lim.have_lo IS NULL OR lim.have_lo <> lim.lo
        OR lim.have_hi <> lim.e;
    END IF;

    IF EXISTS (SELECT 1 FROM cbi_refresh) THEN
    DELETE FROM market_analytics a USING cbi_refresh r
     WHERE a.market_pubkey = r.market AND (a.date < r.lo OR a.date > r.e);

    WITH days AS (
        SELECT r.market, CAST(g AS date) AS day
          FROM cbi_refresh r, generate_series(r.f, r.e, interval '1 day') AS g
         WHERE r.f <= r.e),
    agg AS (
        SELECT b.market_pubkey AS market, b.bet_date AS day, sum(b.amount) AS vol,
               count(*) AS n, count(DISTINCT b.user_pubkey) AS np,
               min(b.yes_price) AS ylo, max(b.yes_price) AS yhi,
               min(b.no_price) AS nlo, max(b.no_price) AS nhi,
               -- first and last bet in chain order (slot, then the pools, which only
               -- grow), with their prices: one pass, no sort
               min(ARRAY[CAST(b.slot AS NUMERIC), b.yes_pool + b.no_pool, b.instruction_index,
                         b.yes_price, b.no_price]) FILTER (WHERE b.yes_price IS NOT NULL) AS fst,
               max(ARRAY[CAST(b.slot AS NUMERIC), b.yes_pool + b.no_pool, b.instruction_index,
                         b.yes_price, b.no_price]) FILTER (WHERE b.yes_price IS NOT NULL) AS lst
          FROM bet_history b JOIN cbi_refresh r ON b.market_pubkey = r.market
         WHERE r.f <= r.e AND b.bet_date BETWEEN r.f AND r.e
         GROUP BY b.market_pubkey, b.bet_date),
    init AS (
        SELECT r.market, a.yes_price_close AS y0, a.no_price_close AS n0
          FROM cbi_refresh r
          LEFT JOIN market_analytics a ON a.market_pubkey = r.market AND a.date = r.f - 1),
    j AS (
        SELECT d.market, d.day, agg.vol, agg.n, agg.np, agg.ylo, agg.yhi, agg.nlo, agg.nhi,
               agg.fst[4] AS yo, agg.lst[4] AS yc, agg.fst[5] AS no_o, agg.lst[5] AS no_c,
               agg.fst, agg.lst,
               count(agg.lst) OVER (PARTITION BY d.market ORDER BY d.day) AS grp
          FROM days d LEFT JOIN agg ON agg.market = d.market AND agg.day = d.day),
    k AS (
        SELECT j.*,
               COALESCE(first_value(j.yc) OVER (PARTITION BY j.market, j.grp ORDER BY j.day),
                        init.y0, 0.5) AS ycar,
               COALESCE(first_value(j.no_c) OVER (PARTITION BY j.market, j.grp ORDER BY j.day),
                        init.n0, 0.5) AS ncar
          FROM j JOIN init ON init.market = j.market)
    INSERT INTO market_analytics AS t (market_pubkey, date, daily_volume, daily_participants,
        daily_bets, yes_price_open, yes_price_close, yes_price_high, yes_price_low,
        no_price_open, no_price_close, no_price_high, no_price_low, avg_spread, liquidity_score,
        first_bet, last_bet)
    SELECT k.market, k.day, COALESCE(k.vol, 0), COALESCE(k.np, 0), COALESCE(k.n, 0),
           COALESCE(k.yo, k.ycar), COALESCE(k.yc, k.ycar), COALESCE(k.yhi, k.ycar),
           COALESCE(k.ylo, k.ycar), COALESCE(k.no_o, k.ncar), COALESCE(k.no_c, k.ncar),
           COALESCE(k.nhi, k.ncar), COALESCE(k.nlo, k.ncar), NULL, NULL, k.fst[1:3], k.lst[1:3]
      FROM k ORDER BY k.market, k.day
    ON CONFLICT (market_pubkey, date) DO UPDATE SET daily_volume = EXCLUDED.daily_volume,
        daily_participants = EXCLUDED.daily_participants, daily_bets = EXCLUDED.daily_bets,
        yes_price_open = EXCLUDED.yes_price_open, yes_price_close = EXCLUDED.yes_price_close,
        yes_price_high = EXCLUDED.yes_price_high, yes_price_low = EXCLUDED.yes_price_low,
        no_price_open = EXCLUDED.no_price_open, no_price_close = EXCLUDED.no_price_close,
        no_price_high = EXCLUDED.no_price_high, no_price_low = EXCLUDED.no_price_low,
        avg_spread = NULL, liquidity_score = NULL, first_bet = EXCLUDED.first_bet,
        last_bet = EXCLUDED.last_bet
    WHERE (t.daily_volume, t.daily_participants, t.daily_bets, t.yes_price_open,
           t.yes_price_close, t.yes_price_high, t.yes_price_low, t.no_price_open,
           t.no_price_close, t.no_price_high, t.no_price_low, t.first_bet, t.last_bet)
          IS DISTINCT FROM
          (EXCLUDED.daily_volume, EXCLUDED.daily_participants, EXCLUDED.daily_bets,
           EXCLUDED.yes_price_open, EXCLUDED.yes_price_close, EXCLUDED.yes_price_high,
           EXCLUDED.yes_price_low, EXCLUDED.no_price_open, EXCLUDED.no_price_close,
           EXCLUDED.no_price_high, EXCLUDED.no_price_low, EXCLUDED.first_bet,
           EXCLUDED.last_bet);
    END IF;

    -- A later day whose carried prices changed is recomputed above because
    -- the refresh runs from the earliest touched day through the last day.

    -- first_seen_unix: the minimum over the rows as they arrive (a replay
    -- changes nothing; a late earlier row lowers it).
    -- A stored row's block time is the batch's when the batch has one (else
    -- it was counted when stored): only signers the batch's times would
    -- lower are looked up.
    s_users := ARRAY(
        SELECT b.usr FROM (
            SELECT x.usr, min(x.bt) AS fs FROM unnest(t_user, t_btime) AS x(usr, bt)
             WHERE x.usr IS NOT NULL AND x.bt IS NOT NULL GROUP BY x.usr) b
          JOIN users u ON u.wallet_address = b.usr
         WHERE u.first_seen_unix IS NULL OR b.fs < u.first_seen_unix);
    WITH seen AS (
        SELECT x.usr AS w, min(t.block_time_unix) AS fs
          FROM unnest(t_sig, t_ix, t_user) AS x(sig, ix, usr)
          JOIN transactions t ON t.signature = x.sig AND t.instruction_index = x.ix
         WHERE x.usr = ANY(s_users) AND t.block_time_unix IS NOT NULL
         GROUP BY x.usr
        UNION ALL
        SELECT p.user_pubkey, min(p.created_at_unix) FROM position_accounts p
         WHERE p.position_pubkey = ANY(a_positions) GROUP BY p.user_pubkey),
    upd AS (
        UPDATE users u SET first_seen_unix = f.fs
          FROM (SELECT seen.w, min(seen.fs) AS fs FROM seen GROUP BY seen.w) f
          JOIN users o ON o.wallet_address = f.w
         WHERE u.id = o.id AND (o.first_seen_unix IS NULL OR f.fs < o.first_seen_unix)
        RETURNING f.fs, o.first_seen_unix AS old),
    nu AS (
        -- a wallet first seen on the latest day is a delta there; one seen
        -- earlier than before, or first seen on an earlier day, recomputes
        INSERT INTO cbi_pday (day, nu)
        SELECT new_day, count(*) FROM upd
         WHERE fast AND upd.old IS NULL AND cbi_utc_day(upd.fs) = new_day
        HAVING count(*) > 0
        RETURNING 1)
    SELECT min(cbi_utc_day(upd.fs)),
           bool_and(upd.old IS NULL AND cbi_utc_day(upd.fs) = new_day)
      INTO u_from, u_new FROM upd;
    fast := fast AND COALESCE(u_new, true);

    -- total_winnings of the wallets with a claim in the batch, from stored rows.
    UPDATE users u SET total_winnings = w.win
      FROM (SELECT u2.id, (SELECT COALESCE(sum(x.amount), 0) FROM transactions x
                            WHERE x.user_id = u2.id AND x.transaction_type = 'claim_winnings'
                              AND x.status = 'confirmed') AS win
              FROM users u2
             WHERE u2.wallet_address = ANY(ARRAY(
                 SELECT x.usr FROM unnest(t_type, t_user) AS x(ty, usr)
                  WHERE x.ty = 'claim_winnings'))) w
     WHERE u.id = w.id AND u.total_winnings IS DISTINCT FROM w.win;

    -- win_rate of the owners of the batch's positions and of every holder of
    -- a market the batch shows resolved, from stored rows.
    UPDATE users u SET win_rate = w.rate
      FROM (SELECT u2.id,
                   (SELECT CASE WHEN count(*) = 0 THEN 0
                           ELSE round(CAST(count(*) FILTER (WHERE
                                     (m.resolution_result AND p.yes_shares > 0)
                                  OR (NOT m.resolution_result AND p.no_shares > 0)) AS NUMERIC)
                                  / count(*), 4) END
                      FROM position_accounts p
                      JOIN markets_cache m ON m.market_pubkey = p.market_pubkey
                     WHERE p.user_id = u2.id AND m.state = 'resolved'
                       AND m.resolution_result IS NOT NULL) AS rate
              FROM users u2
             WHERE u2.wallet_address = ANY(ARRAY(
                 -- only positions in resolved markets count
                 SELECT p.user_pubkey FROM position_accounts p
                   JOIN markets_cache m ON m.market_pubkey = p.market_pubkey
                  WHERE p.position_pubkey = ANY(a_positions) AND m.state = 'resolved'
                 UNION
                 SELECT p.user_pubkey FROM position_accounts p
                   JOIN markets_cache m ON m.market_pubkey = p.market_pubkey
                  WHERE m.market_pubkey = ANY(a_markets) AND m.state = 'resolved'))) w
     WHERE u.id = w.id AND u.win_rate IS DISTINCT FROM w.rate;

    -- daily_platform_metrics by deltas: the batch's transactions rows as
    -- stored before it (cbi_analytics_pre) and after; a row whose day
    -- changed, a changed or new market account, a resolution or
    -- cancellation, or a day without its row yet recomputes instead.
    IF fast THEN
        fast := NOT EXISTS (
            SELECT 1 FROM unnest(t_type) AS x(ty)
             WHERE x.ty IN ('resolve_market', 'cancel_market', 'create_market'))
            AND NOT EXISTS (
            SELECT 1 FROM unnest(a_markets) AS x(market)
              LEFT JOIN cbi_pre_mk p ON p.market = x.market
              LEFT JOIN markets_cache m ON m.market_pubkey = x.market
             WHERE p.market IS NULL OR m.market_pubkey IS NULL
                OR (p.cr, p.st, p.fee, p.ty, p.rs) IS DISTINCT FROM
                   (m.created_at_unix, m.state::text, m.creation_fee, m.market_type::text,
                    m.resolved_at));
    END IF;
    -- the batch's transactions rows before and after it; a row moved to
    -- another day (or gone) is marked 'infinity' with its former day in pd
    IF pre_ok THEN
        WITH b AS (SELECT DISTINCT x.sig, x.ix FROM unnest(t_sig, t_ix) AS x(sig, ix)),
        j AS (
            SELECT p.sig IS NOT NULL AS existed, t.signature IS NOT NULL AS now,
                   cbi_utc_day(p.btime) AS pd, cbi_utc_day(t.block_time_unix) AS nd,
                   p.status AS ps, t.status::text AS ns, t.user_pubkey AS usr
              FROM b LEFT JOIN cbi_pre_tx p ON p.sig = b.sig AND p.ix = b.ix
              LEFT JOIN transactions t ON t.signature = b.sig AND t.instruction_index = b.ix)
        INSERT INTO cbi_txd
        SELECT CASE WHEN j.existed AND (NOT j.now OR j.pd IS DISTINCT FROM j.nd)
                    THEN DATE 'infinity' ELSE j.nd END, j.usr, j.existed, j.ps, j.ns, j.pd
          FROM j WHERE j.now OR j.existed;
        fast := fast AND NOT EXISTS (SELECT 1 FROM cbi_txd d WHERE d.day = DATE 'infinity');
    END IF;
    IF fast THEN
        WITH sg AS (
            INSERT INTO analytics_day_signers AS g (day, wallet)
            SELECT DISTINCT d.day, d.usr FROM cbi_txd d
             WHERE NOT d.existed AND d.day IS NOT NULL AND d.usr IS NOT NULL
            ORDER BY 1, 2
            ON CONFLICT (day, wallet) DO NOTHING
            RETURNING g.day, g.wallet)
        INSERT INTO cbi_pday (day, n, ok, bad, act, ret)
        SELECT x.day, sum(x.n), sum(x.ok), sum(x.bad), sum(x.act), sum(x.ret) FROM (
            SELECT d.day, count(*) FILTER (WHERE NOT d.existed) AS n,
                   count(*) FILTER (WHERE d.ns = 'confirmed')
                   - count(*) FILTER (WHERE d.existed AND d.ps = 'confirmed') AS ok,
                   count(*) FILTER (WHERE d.ns = 'failed')
                   - count(*) FILTER (WHERE d.existed AND d.ps = 'failed') AS bad,
                   0 AS act, 0 AS ret
              FROM cbi_txd d WHERE d.day IS NOT NULL GROUP BY d.day
            UNION ALL
            SELECT sg.day, 0, 0, 0, count(*),
                   count(*) FILTER (WHERE u.first_seen_unix <
                                    extract(epoch FROM CAST(sg.day AS timestamp)))
              FROM sg LEFT JOIN users u ON u.wallet_address = sg.wallet GROUP BY sg.day) x
         GROUP BY x.day;
        SELECT count(DISTINCT c.day) INTO n_pday FROM cbi_pday c;
        fast := n_pday = (SELECT count(*) FROM daily_platform_metrics p
                           WHERE p.date IN (SELECT c.day FROM cbi_pday c));
    END IF;
    IF fast THEN
        UPDATE daily_platform_metrics p SET
            total_users = p.total_users + d.nu, new_users = p.new_users + d.nu,
            active_users = p.active_users + d.act, returning_users = p.returning_users + d.ret,
            total_volume = p.total_volume + d.vol, degen_volume = p.degen_volume + d.degen,
            stable_volume = p.stable_volume + d.stable,
            total_transactions = p.total_transactions + d.n,
            successful_transactions = p.successful_transactions + d.ok,
            failed_transactions = p.failed_transactions + d.bad,
            avg_transaction_size = CASE WHEN p.bet_count + d.bets = 0 THEN 0
                ELSE div((p.total_volume + d.vol) * 2000000000 + (p.bet_count + d.bets),
                         (p.bet_count + d.bets) * 2) * 0.000000001 END,
            platform_fees_collected = p.platform_fees_collected + d.fees,
            total_revenue = p.total_revenue + d.fees, bet_count = p.bet_count + d.bets
          FROM (SELECT c.day, COALESCE(sum(c.n), 0) AS n, COALESCE(sum(c.ok), 0) AS ok,
                       COALESCE(sum(c.bad), 0) AS bad, COALESCE(sum(c.act), 0) AS act,
                       COALESCE(sum(c.ret), 0) AS ret, COALESCE(sum(c.nu), 0) AS nu,
                       COALESCE(sum(c.bets), 0) AS bets, COALESCE(sum(c.vol), 0) AS vol,
                       COALESCE(sum(c.degen), 0) AS degen, COALESCE(sum(c.stable), 0) AS stable,
                       COALESCE(sum(c.fees), 0) AS fees
                  FROM cbi_pday c GROUP BY c.day) d
         WHERE p.date = d.day
           AND (d.n, d.ok, d.bad, d.act, d.ret, d.nu, d.bets, d.vol, d.fees) IS DISTINCT FROM
               (0, 0, 0, 0, 0, 0, 0, 0, 0);
        RETURN n_bets;
    END IF;

    -- daily_platform_metrics: recomputed from the earliest touched day
    -- through the latest indexed day (totals carry from the day before).
    SELECT min(d) INTO from_day FROM (
        SELECT cbi_utc_day(x) AS d FROM unnest(t_btime) AS x
        UNION ALL SELECT d.pd FROM cbi_txd d WHERE d.day = DATE 'infinity'
        UNION ALL SELECT unnest(b_day)
        UNION ALL SELECT u_from
        UNION ALL SELECT cbi_utc_day(m.created_at_unix) FROM markets_cache m
                   WHERE m.market_pubkey = ANY(a_markets)
        UNION ALL SELECT r.e FROM cbi_refresh r
        UNION ALL SELECT old_day + 1 WHERE new_day > old_day
        UNION ALL SELECT new_day WHERE old_day IS NULL) x;
    IF from_day IS NOT NULL AND new_day IS NOT NULL THEN
        -- rows exist from the first day with data: start there if earlier
        from_day := LEAST(from_day, COALESCE(
            (SELECT max(p.date) + 1 FROM daily_platform_metrics p), from_day));
        PERFORM cbi_platform_refresh(from_day, GREATEST(new_day, from_day));
    END IF;
    RETURN n_bets;
END
$$ SET jit = off;

-- daily_platform_metrics for days d0 .. d1, from stored rows; the totals
-- (users, markets, active markets) continue from the row of d0 - 1. The
-- days' analytics_day_signers rows are rebuilt first.
CREATE FUNCTION cbi_platform_refresh(d0 DATE, d1 DATE)
RETURNS VOID LANGUAGE sql AS $$
    DELETE FROM analytics_day_signers g WHERE g.day BETWEEN d0 AND d1;
    INSERT INTO analytics_day_signers (day, wallet)
    SELECT DISTINCT cbi_utc_day(x.block_time_unix), x.user_pubkey FROM transactions x
     WHERE x.block_time >= CAST(d0 AS timestamp) AT TIME ZONE 'UTC'
       AND x.block_time < CAST(d1 + 1 AS timestamp) AT TIME ZONE 'UTC'
       AND x.user_pubkey IS NOT NULL AND x.block_time_unix IS NOT NULL;
    WITH days AS (
        SELECT CAST(g AS date) AS day FROM generate_series(d0, d1, interval '1 day') AS g),
    lo AS (SELECT extract(epoch FROM CAST(d0 AS timestamp)) :: bigint AS t0,
                  extract(epoch FROM CAST(d1 + 1 AS timestamp)) :: bigint AS t1),
    base AS (
        SELECT COALESCE((SELECT p.total_users FROM daily_platform_metrics p WHERE p.date = d0 - 1), 0) AS tu,
               COALESCE((SELECT p.total_markets FROM daily_platform_metrics p WHERE p.date = d0 - 1), 0) AS tm,
               COALESCE((SELECT p.active_markets FROM daily_platform_metrics p WHERE p.date = d0 - 1), 0) AS am),
    nu AS (
        SELECT cbi_utc_day(u.first_seen_unix) AS day, count(*) AS n FROM users u, lo
         WHERE u.first_seen_unix >= lo.t0 AND u.first_seen_unix < lo.t1 GROUP BY 1),
    mk AS (
        SELECT cbi_utc_day(m.created_at_unix) AS cday, m.state, m.creation_fee,
               CASE WHEN m.state IN ('resolved', 'cancelled') THEN cbi_market_end_day(m, NULL) END AS eday
          FROM markets_cache m),
    nm AS (SELECT mk.cday AS day, count(*) AS n, sum(mk.creation_fee) AS fees FROM mk
            WHERE mk.cday BETWEEN d0 AND d1 GROUP BY 1),
    em AS (SELECT mk.eday AS day, count(*) FILTER (WHERE mk.state = 'resolved') AS r,
                  count(*) FILTER (WHERE mk.state = 'cancelled') AS c FROM mk
            WHERE mk.eday BETWEEN d0 AND d1 GROUP BY 1),
    -- per signer first, then one users lookup per signer and day
    txu AS (
        SELECT cbi_utc_day(x.block_time_unix) AS day, x.user_pubkey, count(*) AS n,
               count(*) FILTER (WHERE x.status = 'confirmed') AS ok,
               count(*) FILTER (WHERE x.status = 'failed') AS bad
          FROM transactions x
         WHERE x.block_time >= CAST(d0 AS timestamp) AT TIME ZONE 'UTC'
           AND x.block_time < CAST(d1 + 1 AS timestamp) AT TIME ZONE 'UTC'
         GROUP BY 1, 2),
    tx AS (
        SELECT txu.day, sum(txu.n) AS n, sum(txu.ok) AS ok, sum(txu.bad) AS bad,
               count(txu.user_pubkey) AS act,
               count(txu.user_pubkey) FILTER (WHERE u.first_seen_unix <
                   extract(epoch FROM CAST(txu.day AS timestamp))) AS ret
          FROM txu LEFT JOIN users u ON u.wallet_address = txu.user_pubkey
         GROUP BY txu.day),
    -- per market first, then one markets lookup per market and day
    bvm AS (
        SELECT b.bet_date AS day, b.market_pubkey, count(*) AS n, sum(b.amount) AS vol,
               sum(b.platform_fee) AS fees
          FROM bet_history b WHERE b.bet_date BETWEEN d0 AND d1 GROUP BY 1, 2),
    bv AS (
        SELECT bvm.day, sum(bvm.n) AS n, sum(bvm.vol) AS vol,
               COALESCE(sum(bvm.vol) FILTER (WHERE m.market_type = 'degen'), 0) AS degen,
               COALESCE(sum(bvm.vol) FILTER (WHERE m.market_type = 'stable'), 0) AS stable,
               sum(bvm.fees) AS fees
          FROM bvm LEFT JOIN markets_cache m ON m.market_pubkey = bvm.market_pubkey
         GROUP BY bvm.day),
    r AS (
        SELECT days.day,
               base.tu + sum(COALESCE(nu.n, 0)) OVER w AS total_users, COALESCE(nu.n, 0) AS new_users,
               COALESCE(tx.act, 0) AS act, COALESCE(tx.ret, 0) AS ret,
               base.tm + sum(COALESCE(nm.n, 0)) OVER w AS total_markets, COALESCE(nm.n, 0) AS new_markets,
               base.am + sum(COALESCE(nm.n, 0) - COALESCE(em.r, 0) - COALESCE(em.c, 0)) OVER w AS active,
               COALESCE(em.r, 0) AS resolved, COALESCE(em.c, 0) AS cancelled,
               COALESCE(bv.vol, 0) AS vol, COALESCE(bv.degen, 0) AS degen,
               COALESCE(bv.stable, 0) AS stable,
               COALESCE(tx.n, 0) AS txn, COALESCE(tx.ok, 0) AS ok, COALESCE(tx.bad, 0) AS bad,
               CASE WHEN COALESCE(bv.n, 0) = 0 THEN 0
                    ELSE div(bv.vol * 2000000000 + bv.n, bv.n * 2) * 0.000000001 END AS avg,
               COALESCE(bv.fees, 0) AS fees, COALESCE(nm.fees, 0) AS cfees,
               COALESCE(bv.n, 0) AS bets
          FROM days CROSS JOIN base
          LEFT JOIN nu ON nu.day = days.day LEFT JOIN nm ON nm.day = days.day
          LEFT JOIN em ON em.day = days.day LEFT JOIN tx ON tx.day = days.day
          LEFT JOIN bv ON bv.day = days.day
        WINDOW w AS (ORDER BY days.day))
    INSERT INTO daily_platform_metrics AS t (date, total_users, new_users, active_users,
        returning_users, total_markets, new_markets, active_markets, resolved_markets,
        cancelled_markets, total_volume, degen_volume, stable_volume, total_transactions,
        successful_transactions, failed_transactions, avg_transaction_size,
        platform_fees_collected, swap_fees_collected, total_revenue, bet_count)
    SELECT r.day, r.total_users, r.new_users, r.act, r.ret, r.total_markets, r.new_markets,
           r.active, r.resolved, r.cancelled, r.vol, r.degen, r.stable, r.txn, r.ok, r.bad,
           r.avg, r.fees, 0, r.fees + r.cfees, r.bets
      FROM r ORDER BY r.day
    ON CONFLICT (date) DO UPDATE SET total_users = EXCLUDED.total_users,
        new_users = EXCLUDED.new_users, active_users = EXCLUDED.active_users,
        returning_users = EXCLUDED.returning_users, total_markets = EXCLUDED.total_markets,
        new_markets = EXCLUDED.new_markets, active_markets = EXCLUDED.active_markets,
        resolved_markets = EXCLUDED.resolved_markets,
        cancelled_markets = EXCLUDED.cancelled_markets, total_volume = EXCLUDED.total_volume,
        degen_volume = EXCLUDED.degen_volume, stable_volume = EXCLUDED.stable_volume,
        total_transactions = EXCLUDED.total_transactions,
        successful_transactions = EXCLUDED.successful_transactions,
        failed_transactions = EXCLUDED.failed_transactions,
        avg_transaction_size = EXCLUDED.avg_transaction_size,
        platform_fees_collected = EXCLUDED.platform_fees_collected,
        swap_fees_collected = 0, total_revenue = EXCLUDED.total_revenue,
        bet_count = EXCLUDED.bet_count
    WHERE (t.total_users, t.new_users, t.active_users, t.returning_users, t.total_markets,
           t.new_markets, t.active_markets, t.resolved_markets, t.cancelled_markets,
           t.total_volume, t.degen_volume, t.stable_volume, t.total_transactions,
           t.successful_transactions, t.failed_transactions, t.avg_transaction_size,
           t.platform_fees_collected, t.total_revenue, t.bet_count)
          IS DISTINCT FROM
          (EXCLUDED.total_users, EXCLUDED.new_users, EXCLUDED.active_users,
           EXCLUDED.returning_users, EXCLUDED.total_markets, EXCLUDED.new_markets,
           EXCLUDED.active_markets, EXCLUDED.resolved_markets, EXCLUDED.cancelled_markets,
           EXCLUDED.total_volume, EXCLUDED.degen_volume, EXCLUDED.stable_volume,
           EXCLUDED.total_transactions, EXCLUDED.successful_transactions,
           EXCLUDED.failed_transactions, EXCLUDED.avg_transaction_size,
           EXCLUDED.platform_fees_collected, EXCLUDED.total_revenue, EXCLUDED.bet_count)
$$ SET jit = off;
