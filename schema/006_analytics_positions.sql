-- The analytics upkeep of a batch whose only analytics input is position
-- accounts: no transactions rows, no market accounts, no chain time (the
-- common live batch: position updates). For such a batch
-- cbi_analytics_apply() (003) changes only:
--   users.first_seen_unix  lowered to the earliest created_at of the
--                          wallet's positions in the batch;
--   users.win_rate         recomputed for the owners of the batch's
--                          positions in resolved markets;
--   daily_platform_metrics wallets first seen on the latest indexed day
--                          added to that day's row (total_users,
--                          new_users) when every changed first_seen is
--                          such a wallet and the row exists; otherwise,
--                          when any first_seen changed and a latest day is
--                          known, the days from the earliest changed one
--                          are recomputed (cbi_platform_refresh).
-- Its other steps have nothing to do then: analytics_state keeps its chain
-- time (none in the batch), bet_history, market_analytics,
-- analytics_day_signers and total_bets / total_volume / total_winnings
-- have no input, no market_analytics row is due for a refresh (no bet, no
-- market account, no resolution, the day does not roll over), and its
-- temporary tables (cbi_pre_*, cbi_pday, cbi_txd, cbi_bets, cbi_refresh)
-- are emptied at commit. cbi_analytics_positions()
-- does exactly those changes, under the same advisory lock, in one call
-- and without cbi_analytics_pre(); the sink calls it instead of the pair
-- for such batches, and the tables end exactly as the pair leaves them.

CREATE FUNCTION cbi_analytics_positions(a_positions TEXT[])
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    cur_day DATE;
    n_other BIGINT;
    n_new BIGINT;
    u_from DATE;
    from_day DATE;
BEGIN
    -- the writers' lock of cbi_analytics_apply(): every statement below
    -- then reads all committed rows
    PERFORM pg_advisory_xact_lock(7161893915624350001);
    SELECT cbi_utc_day(s.chain_time_unix) INTO cur_day FROM analytics_state s;

    -- One pass over the batch's positions per wallet: the earliest
    -- created_at (first_seen_unix, lowered only) and whether one is in a
    -- resolved market (win_rate recomputed from stored rows, as in
    -- cbi_analytics_apply()); one users update for both.
    WITH f AS (
        SELECT p.user_pubkey AS w, min(p.created_at_unix) AS fs,
               bool_or(m.state IS NOT DISTINCT FROM 'resolved') AS res
          FROM position_accounts p
          LEFT JOIN markets_cache m ON m.market_pubkey = p.market_pubkey
         WHERE p.position_pubkey = ANY(a_positions)
         GROUP BY p.user_pubkey),
    o AS (
        -- (one index lookup per wallet, whatever the plan's estimates)
        SELECT o.id, f.fs, o.first_seen_unix AS old, f.res, o.win_rate AS old_rate
          FROM f CROSS JOIN LATERAL (
              SELECT u.id, u.first_seen_unix, u.win_rate FROM users u
               WHERE u.wallet_address = f.w) o),
    r AS (
        -- positions in resolved markets of the wallets to recompute
        SELECT p.user_id, count(*) AS n,
               count(*) FILTER (WHERE (m.resolution_result AND p.yes_shares > 0)
                                   OR (NOT m.resolution_result AND p.no_shares > 0)) AS k
          FROM o CROSS JOIN LATERAL (
              SELECT p.user_id, p.market_pubkey, p.yes_shares, p.no_shares
                FROM position_accounts p WHERE p.user_id = o.id) p
          JOIN markets_cache m ON m.market_pubkey = p.market_pubkey
         WHERE o.res AND m.state = 'resolved' AND m.resolution_result IS NOT NULL
         GROUP BY p.user_id),
    g AS (
        SELECT o.id, o.fs, o.old, o.old IS NULL OR o.fs < o.old AS seen, o.res, o.old_rate,
               CASE WHEN o.res THEN
                   CASE WHEN r.n IS NULL THEN 0
                        ELSE round(CAST(r.k AS NUMERIC) / r.n, 4) END END AS rate
          FROM o LEFT JOIN r ON r.user_id = o.id),
    upd AS (
        UPDATE users u SET
            first_seen_unix = CASE WHEN g.seen THEN g.fs ELSE u.first_seen_unix END,
            win_rate = CASE WHEN g.res THEN g.rate ELSE u.win_rate END
          FROM g
         WHERE u.id = g.id
           AND (g.seen OR (g.res AND g.old_rate IS DISTINCT FROM g.rate))
        RETURNING g.seen, g.fs, g.old)
    -- (a created_at outside 0001..9999 has no day: it neither blocks the
    -- delta nor counts, as in cbi_analytics_apply())
    SELECT count(*) FILTER (WHERE upd.seen AND (upd.old IS NOT NULL
                                                OR cbi_utc_day(upd.fs) <> cur_day)),
           count(*) FILTER (WHERE upd.seen AND upd.old IS NULL
                            AND cbi_utc_day(upd.fs) = cur_day),
           min(cbi_utc_day(upd.fs)) FILTER (WHERE upd.seen)
      INTO n_other, n_new, u_from FROM upd;

    IF cur_day IS NULL THEN
        RETURN;
    END IF;
    -- only wallets first seen on the latest day: a delta on its row (the
    -- unchanged columns rewritten as cbi_analytics_apply() rewrites them)
    IF n_other = 0 THEN
        IF n_new = 0 THEN
            RETURN;
        END IF;
        UPDATE daily_platform_metrics p SET
            total_users = p.total_users + n_new, new_users = p.new_users + n_new,
            avg_transaction_size = CASE WHEN p.bet_count = 0 THEN 0
                ELSE div(p.total_volume * 2000000000 + p.bet_count, p.bet_count * 2)
                     * 0.000000001 END
         WHERE p.date = cur_day;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    -- else the days from the earliest changed one are recomputed (rows
    -- exist from the first day with data: start after the last if earlier)
    IF u_from IS NULL THEN
        RETURN;
    END IF;
    from_day := LEAST(u_from, COALESCE(
        (SELECT max(p.date) + 1 FROM daily_platform_metrics p), u_from));
    PERFORM cbi_platform_refresh(from_day, GREATEST(cur_day, from_day));
END
$$ SET jit = off;
