-- Derived position columns. positions_cache is a view over position_accounts
-- that computes them from the position's market (markets_cache) whenever it
-- is read, so they always follow the latest committed market and position
-- states without the indexer rewriting a market's positions on every bet.
-- All arithmetic is exact NUMERIC; the only rounding is current_value's,
-- half up to 9 decimals.
--
-- With yes_pool, no_pool, state and resolution_result from the position's
-- market (markets_cache) and shares/total_invested from the position:
--   active or paused market:
--     p_yes = yes_pool / (yes_pool + no_pool), p_no = no_pool / (yes_pool + no_pool)
--     (both 0.5 when yes_pool + no_pool = 0)
--     current_value  = yes_shares * p_yes + no_shares * p_no
--     unrealized_pnl = current_value - total_invested
--     realized_pnl   = 0
--   resolved market (winning shares W = yes_shares if resolution_result else no_shares):
--     current_value  = W, unrealized_pnl = 0, realized_pnl = W - total_invested
--   cancelled market (refund):
--     current_value  = total_invested, unrealized_pnl = 0, realized_pnl = 0
--   market not cached yet, or resolved without a result: all three NULL.

CREATE FUNCTION cbi_position_current_value(st market_state, res BOOLEAN, yes_pool NUMERIC,
                                           no_pool NUMERIC, yes_shares NUMERIC,
                                           no_shares NUMERIC, total_invested NUMERIC)
RETURNS NUMERIC LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN st = 'active' OR st = 'paused' THEN
            CASE WHEN yes_pool + no_pool = 0 THEN (yes_shares + no_shares) * 0.5
                 ELSE div((yes_shares * yes_pool + no_shares * no_pool) * 2000000000
                              + (yes_pool + no_pool),
                          (yes_pool + no_pool) * 2) * 0.000000001
            END
        WHEN st = 'resolved' THEN CASE WHEN res THEN yes_shares WHEN NOT res THEN no_shares END
        WHEN st = 'cancelled' THEN total_invested
    END
$$;

CREATE FUNCTION cbi_position_unrealized_pnl(st market_state, res BOOLEAN, yes_pool NUMERIC,
                                            no_pool NUMERIC, yes_shares NUMERIC,
                                            no_shares NUMERIC, total_invested NUMERIC)
RETURNS NUMERIC LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN st = 'active' OR st = 'paused' THEN
            cbi_position_current_value(st, res, yes_pool, no_pool, yes_shares, no_shares,
                                       total_invested) - total_invested
        WHEN st = 'resolved' THEN CASE WHEN res IS NOT NULL THEN 0 END
        WHEN st = 'cancelled' THEN 0
    END
$$;

CREATE FUNCTION cbi_position_realized_pnl(st market_state, res BOOLEAN, yes_pool NUMERIC,
                                          no_pool NUMERIC, yes_shares NUMERIC,
                                          no_shares NUMERIC, total_invested NUMERIC)
RETURNS NUMERIC LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN st = 'active' OR st = 'paused' THEN 0
        WHEN st = 'resolved' THEN
            CASE WHEN res THEN yes_shares - total_invested
                 WHEN NOT res THEN no_shares - total_invested END
        WHEN st = 'cancelled' THEN 0
    END
$$;

COMMENT ON FUNCTION cbi_position_current_value(market_state, BOOLEAN, NUMERIC, NUMERIC, NUMERIC, NUMERIC, NUMERIC) IS
    'active/paused: (yes_shares*yes_pool + no_shares*no_pool)/(yes_pool+no_pool) rounded half up to 9 '
    'decimals ((yes_shares+no_shares)/2 on empty pools); resolved: winning shares; cancelled: total_invested.';

CREATE VIEW positions_cache AS
SELECT p.id, p.position_pubkey, p.user_id, p.user_pubkey, p.market_pubkey,
       p.yes_shares, p.no_shares, p.total_invested, p.yes_avg_price, p.no_avg_price,
       p.created_at, p.created_at_unix, p.updated_at, p.updated_at_unix,
       p.claimed, p.claimed_amount,
       CAST(cbi_position_current_value(m.state, m.resolution_result, m.yes_pool, m.no_pool,
                                       p.yes_shares, p.no_shares, p.total_invested)
            AS NUMERIC(29, 9)) AS current_value,
       CAST(cbi_position_unrealized_pnl(m.state, m.resolution_result, m.yes_pool, m.no_pool,
                                        p.yes_shares, p.no_shares, p.total_invested)
            AS NUMERIC(29, 9)) AS unrealized_pnl,
       CAST(cbi_position_realized_pnl(m.state, m.resolution_result, m.yes_pool, m.no_pool,
                                      p.yes_shares, p.no_shares, p.total_invested)
            AS NUMERIC(29, 9)) AS realized_pnl,
       p.last_sync_at, p.bet_count, p.bump, p.sync_slot, p.closed_at, p.closed_slot
FROM position_accounts p
LEFT JOIN markets_cache m ON m.market_pubkey = p.market_pubkey;
COMMENT ON VIEW positions_cache IS
    'Position accounts (position_accounts) with their derived columns computed from the '
    'market''s current state. Read-only: the indexer writes position_accounts.';

COMMENT ON COLUMN positions_cache.current_value IS
    'Derived. Active/paused market: yes_shares*p_yes + no_shares*p_no with p_yes = yes_pool/(yes_pool+no_pool), '
    'p_no = no_pool/(yes_pool+no_pool), 0.5 each on empty pools, rounded half up to 9 decimals. '
    'Resolved: winning shares. Cancelled: total_invested (refund). NULL while the market is unknown.';
COMMENT ON COLUMN positions_cache.unrealized_pnl IS
    'Derived. Active/paused market: current_value - total_invested. Resolved or cancelled: 0. '
    'NULL while the market is unknown.';
COMMENT ON COLUMN positions_cache.realized_pnl IS
    'Derived. Resolved market: winning shares (yes_shares if resolution_result else no_shares) - total_invested. '
    'Active/paused: 0. Cancelled (refund): 0. NULL while the market is unknown.';

-- On-chain i64 unix seconds to timestamptz, exactly (to_timestamp is exact
-- for whole seconds in this range); NULL outside 0001-01-01 .. 9999-12-31 UTC
-- instead of an error, so one absurd on-chain value never rejects a row.
CREATE FUNCTION cbi_unix_to_timestamptz(secs BIGINT)
RETURNS TIMESTAMP WITH TIME ZONE LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN secs BETWEEN -62135596800 AND 253402300799 THEN to_timestamp(secs) END
$$;
