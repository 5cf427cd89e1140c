-- Core schema of the Crypto Bet indexer.
--
-- Derived from the data-architecture document's off-chain schema, keeping its
-- table and column names, with these changes so that no real data is lost or
-- rejected:
--   * base58 pubkeys are 32..44 characters, signatures 64..88 (base58 is
--     ASCII: the CHECKs count bytes, which spares every write a UTF-8 scan);
--   * on-chain u64 base-unit amounts are NUMERIC(20,0) and u64 fixed-point
--     prices (9 decimals, 1000000000 = 1.0) NUMERIC(20,9), both exact; u32
--     counters are BIGINT and u64 ids NUMERIC(20,0);
--   * transactions are keyed by (signature, instruction_index);
--   * every decoded account field is kept, every cache table has sync_slot
--     (slot of the account state the row holds) and closed_at/closed_slot;
--   * on-chain i64 unix times are stored twice: exactly as *_unix BIGINT and
--     as TIMESTAMPTZ, which is NULL when the value lies outside
--     0001-01-01 .. 9999-12-31 UTC (a timestamptz cannot hold every i64);
--   * positions_cache.market_pubkey and transactions.market_pubkey are soft
--     references (no foreign key): a position or transaction can be seen
--     before its market and must land anyway;
--   * position accounts are stored in position_accounts; positions_cache is a
--     view over it that adds the derived columns (current_value,
--     unrealized_pnl, realized_pnl) computed from the position's market at
--     read time (see 002_derived.sql), so the API's queries read it
--     unchanged and a market update never rewrites its positions;
--   * positions_cache.user_id and transactions.user_id carry no foreign key
--     either: the indexer creates the users row in the same transaction,
--     before the rows that reference it (position user_id is NOT NULL, so an
--     unresolvable wallet is rejected, never dangling). The per-row foreign
--     key check measured at a quarter or more of a position insert.
-- The indexer writes only through its sink; these tables are its contract
-- with the API.

CREATE TYPE market_type AS ENUM ('degen', 'stable');
CREATE TYPE market_state AS ENUM ('active', 'resolved', 'cancelled', 'paused');
CREATE TYPE transaction_type AS ENUM (
    'place_bet', 'claim_winnings', 'claim_refund',
    'create_market', 'resolve_market', 'cancel_market',
    'initialize_config', 'update_oracle'
);
CREATE TYPE transaction_status AS ENUM ('pending', 'confirmed', 'failed');
CREATE TYPE bet_side AS ENUM ('yes', 'no');
CREATE TYPE treasury_type AS ENUM ('yes_pool', 'no_pool', 'platform');

-- ---------------------------------------------------------------- users
CREATE TABLE users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    wallet_address VARCHAR(44) UNIQUE NOT NULL,
    username VARCHAR(32) UNIQUE,
    email VARCHAR(255),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    last_login TIMESTAMP WITH TIME ZONE,
    is_active BOOLEAN DEFAULT true,

    preferred_mode market_type DEFAULT 'stable',
    notification_settings JSONB DEFAULT '{}',
    privacy_settings JSONB DEFAULT '{}',

    kyc_status VARCHAR(20) DEFAULT 'none',
    kyc_data JSONB,

    total_bets INTEGER DEFAULT 0,
    total_volume NUMERIC(20, 0) DEFAULT 0,
    total_winnings NUMERIC(20, 0) DEFAULT 0,
    win_rate DECIMAL(5, 4) DEFAULT 0,

    CONSTRAINT valid_wallet_address CHECK (octet_length(wallet_address) BETWEEN 32 AND 44)
);
COMMENT ON TABLE users IS
    'One row per wallet seen by the indexer (position owner or transaction signer); created on first sight.';
CREATE INDEX idx_users_created_at ON users(created_at);
CREATE INDEX idx_users_last_login ON users(last_login);

-- ------------------------------------------------------- platform_config
CREATE TABLE platform_config (
    config_pubkey VARCHAR(44) PRIMARY KEY,
    authority_pubkey VARCHAR(44) NOT NULL,
    platform_fee_bps INTEGER NOT NULL,
    min_market_duration BIGINT NOT NULL,
    max_market_duration BIGINT NOT NULL,
    min_bet_amount NUMERIC(20, 0) NOT NULL,
    max_bet_amount NUMERIC(20, 0) NOT NULL,
    platform_treasury VARCHAR(44) NOT NULL,
    is_paused BOOLEAN NOT NULL,
    total_markets_created NUMERIC(20, 0) NOT NULL,
    total_volume NUMERIC(20, 0) NOT NULL,
    version SMALLINT NOT NULL,
    bump SMALLINT NOT NULL,
    last_sync_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    sync_slot BIGINT NOT NULL,
    closed_at TIMESTAMP WITH TIME ZONE,
    closed_slot BIGINT,
    CONSTRAINT valid_config_pubkey CHECK (octet_length(config_pubkey) BETWEEN 32 AND 44)
);
COMMENT ON TABLE platform_config IS 'GlobalConfig accounts, keyed by account pubkey.';
COMMENT ON COLUMN platform_config.min_market_duration IS 'Seconds (on-chain i64).';
COMMENT ON COLUMN platform_config.max_market_duration IS 'Seconds (on-chain i64).';

-- --------------------------------------------------------- markets_cache
CREATE TABLE markets_cache (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    market_pubkey VARCHAR(44) UNIQUE NOT NULL,
    market_id NUMERIC(20, 0) NOT NULL,
    authority_pubkey VARCHAR(44) NOT NULL,

    title TEXT NOT NULL,
    description TEXT,
    category TEXT NOT NULL,
    market_type market_type NOT NULL,

    created_at TIMESTAMP WITH TIME ZONE,
    created_at_unix BIGINT NOT NULL,
    resolution_time TIMESTAMP WITH TIME ZONE,
    resolution_time_unix BIGINT NOT NULL,
    resolved_at TIMESTAMP WITH TIME ZONE,

    state market_state NOT NULL DEFAULT 'active',
    resolution_result BOOLEAN,

    yes_pool NUMERIC(20, 0) NOT NULL DEFAULT 0,
    no_pool NUMERIC(20, 0) NOT NULL DEFAULT 0,
    total_volume NUMERIC(20, 0) NOT NULL DEFAULT 0,
    total_participants BIGINT NOT NULL DEFAULT 0,

    accepted_mint VARCHAR(44) NOT NULL,
    yes_vault VARCHAR(44) NOT NULL,
    no_vault VARCHAR(44) NOT NULL,
    resolver_pubkey VARCHAR(44) NOT NULL,
    oracle_source VARCHAR(44),
    metadata_uri TEXT,
    tags TEXT[],
    creation_fee NUMERIC(20, 0) NOT NULL DEFAULT 0,
    bump SMALLINT NOT NULL DEFAULT 0,

    last_sync_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    sync_block_height BIGINT,
    sync_slot BIGINT NOT NULL,
    closed_at TIMESTAMP WITH TIME ZONE,
    closed_slot BIGINT,

    CONSTRAINT valid_market_pubkey CHECK (octet_length(market_pubkey) BETWEEN 32 AND 44),
    CONSTRAINT valid_market_authority CHECK (octet_length(authority_pubkey) BETWEEN 32 AND 44)
) WITH (fillfactor = 50);
CREATE INDEX idx_markets_cache_state ON markets_cache(state);
CREATE INDEX idx_markets_cache_category ON markets_cache(category);
CREATE INDEX idx_markets_cache_resolution_time ON markets_cache(resolution_time);
CREATE INDEX idx_markets_cache_created_at ON markets_cache(created_at);
COMMENT ON COLUMN markets_cache.created_at IS
    'to_timestamp(created_at_unix); NULL when outside 0001..9999 (created_at_unix keeps the exact value).';
COMMENT ON COLUMN markets_cache.resolution_time IS
    'to_timestamp(resolution_time_unix); NULL when outside 0001..9999.';
COMMENT ON COLUMN markets_cache.resolved_at IS
    'Derived by the indexer: resolved_at of the MarketResolved event of the first successful '
    'resolve_market transaction seen for this market, else that transaction''s block time.';
COMMENT ON COLUMN markets_cache.sync_slot IS
    'Slot of the account state this row holds; an update applies only if its slot >= sync_slot.';
COMMENT ON TABLE markets_cache IS
    'Market accounts. fillfactor 50 leaves room for HOT updates: pools change with every bet.';
COMMENT ON COLUMN markets_cache.closed_at IS
    'Set when the account was closed (zero lamports / empty data) at closed_slot >= sync_slot.';

-- ------------------------------------------------------ market_analytics
CREATE TABLE market_analytics (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    market_pubkey VARCHAR(44) NOT NULL REFERENCES markets_cache(market_pubkey),
    date DATE NOT NULL,

    daily_volume NUMERIC(20, 0) DEFAULT 0,
    daily_participants BIGINT DEFAULT 0,
    daily_bets BIGINT DEFAULT 0,

    yes_price_open NUMERIC(20, 9),
    yes_price_close NUMERIC(20, 9),
    yes_price_high NUMERIC(20, 9),
    yes_price_low NUMERIC(20, 9),

    no_price_open NUMERIC(20, 9),
    no_price_close NUMERIC(20, 9),
    no_price_high NUMERIC(20, 9),
    no_price_low NUMERIC(20, 9),

    avg_spread NUMERIC(20, 9),
    liquidity_score DECIMAL(5, 4),

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    UNIQUE(market_pubkey, date)
);
COMMENT ON TABLE market_analytics IS
    'Daily market metrics read by the market listing query; not written by the indexer.';

-- ----------------------------------------------------- position_accounts
-- Position accounts as decoded. The API reads them through the view
-- positions_cache (002_derived.sql), which adds the derived columns.
CREATE TABLE position_accounts (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    position_pubkey VARCHAR(44) UNIQUE NOT NULL,
    user_id UUID NOT NULL,
    user_pubkey VARCHAR(44) NOT NULL,
    market_pubkey VARCHAR(44) NOT NULL,

    yes_shares NUMERIC(20, 0) NOT NULL DEFAULT 0,
    no_shares NUMERIC(20, 0) NOT NULL DEFAULT 0,
    total_invested NUMERIC(20, 0) NOT NULL DEFAULT 0,
    yes_avg_price NUMERIC(20, 9) NOT NULL DEFAULT 0,
    no_avg_price NUMERIC(20, 9) NOT NULL DEFAULT 0,

    created_at TIMESTAMP WITH TIME ZONE,
    created_at_unix BIGINT NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE,
    updated_at_unix BIGINT NOT NULL,
    claimed BOOLEAN NOT NULL DEFAULT false,
    claimed_amount NUMERIC(20, 0) NOT NULL DEFAULT 0,

    last_sync_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    bet_count BIGINT NOT NULL DEFAULT 0,
    bump SMALLINT NOT NULL DEFAULT 0,
    sync_slot BIGINT NOT NULL,
    closed_at TIMESTAMP WITH TIME ZONE,
    closed_slot BIGINT,

    CONSTRAINT valid_position_pubkey CHECK (octet_length(position_pubkey) BETWEEN 32 AND 44),
    CONSTRAINT valid_position_market CHECK (octet_length(market_pubkey) BETWEEN 32 AND 44)
) WITH (fillfactor = 50);
-- The API's portfolio query finds a user's positions by user_id; a market's
-- holders are found by market_pubkey (the seed's idx_positions_cache_market).
CREATE INDEX idx_positions_cache_user_id ON position_accounts(user_id);
CREATE INDEX idx_positions_cache_market ON position_accounts(market_pubkey);
COMMENT ON COLUMN position_accounts.user_id IS
    'users.id of user_pubkey; the indexer inserts the users row first, in the same transaction.';
COMMENT ON COLUMN position_accounts.market_pubkey IS
    'Soft reference to markets_cache.market_pubkey (no foreign key: positions may be seen before their market).';
COMMENT ON TABLE position_accounts IS
    'Position accounts (read them through the view positions_cache). fillfactor 50 leaves room '
    'for HOT updates.';
COMMENT ON COLUMN position_accounts.yes_avg_price IS 'On-chain u64 fixed point / 1e9, exact.';
COMMENT ON COLUMN position_accounts.no_avg_price IS 'On-chain u64 fixed point / 1e9, exact.';

-- ------------------------------------------------------ treasuries_cache
CREATE TABLE treasuries_cache (
    treasury_pubkey VARCHAR(44) PRIMARY KEY,
    market_pubkey VARCHAR(44) NOT NULL,
    mint VARCHAR(44) NOT NULL,
    authority_pubkey VARCHAR(44) NOT NULL,
    total_deposits NUMERIC(20, 0) NOT NULL,
    total_withdrawals NUMERIC(20, 0) NOT NULL,
    current_balance NUMERIC(20, 0) NOT NULL,
    treasury_type treasury_type NOT NULL,
    bump SMALLINT NOT NULL,
    last_sync_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    sync_slot BIGINT NOT NULL,
    closed_at TIMESTAMP WITH TIME ZONE,
    closed_slot BIGINT,
    CONSTRAINT valid_treasury_pubkey CHECK (octet_length(treasury_pubkey) BETWEEN 32 AND 44)
);
CREATE INDEX idx_treasuries_cache_market ON treasuries_cache(market_pubkey);

-- ----------------------------------------------------- oracle_data_cache
CREATE TABLE oracle_data_cache (
    oracle_pubkey VARCHAR(44) PRIMARY KEY,
    authority_pubkey VARCHAR(44) NOT NULL,
    market_pubkey VARCHAR(44) NOT NULL,
    source TEXT NOT NULL,
    value TEXT NOT NULL,
    data_timestamp TIMESTAMP WITH TIME ZONE,
    data_timestamp_unix BIGINT NOT NULL,
    confidence SMALLINT NOT NULL,
    signature BYTEA NOT NULL,
    bump SMALLINT NOT NULL,
    last_sync_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    sync_slot BIGINT NOT NULL,
    closed_at TIMESTAMP WITH TIME ZONE,
    closed_slot BIGINT,
    CONSTRAINT valid_oracle_pubkey CHECK (octet_length(oracle_pubkey) BETWEEN 32 AND 44),
    CONSTRAINT valid_oracle_signature CHECK (octet_length(signature) = 64)
);
CREATE INDEX idx_oracle_data_cache_market ON oracle_data_cache(market_pubkey);
COMMENT ON COLUMN oracle_data_cache.signature IS 'OracleData.signature, the raw 64 bytes.';
COMMENT ON COLUMN oracle_data_cache.data_timestamp IS
    'OracleData.timestamp; NULL when outside 0001..9999 (data_timestamp_unix keeps the exact value).';

-- ---------------------------------------------------------- transactions
CREATE TABLE transactions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    signature VARCHAR(88) NOT NULL,
    user_id UUID,
    user_pubkey VARCHAR(44),
    market_pubkey VARCHAR(44),

    transaction_type transaction_type NOT NULL,
    amount NUMERIC(20, 0) NOT NULL,
    side bet_side,
    price NUMERIC(20, 9),

    block_height BIGINT,
    slot BIGINT NOT NULL,
    block_time TIMESTAMP WITH TIME ZONE,
    block_time_unix BIGINT,

    fee_amount NUMERIC(20, 0) DEFAULT 0,
    platform_fee NUMERIC(20, 0) DEFAULT 0,

    status transaction_status DEFAULT 'confirmed',
    error_message TEXT,

    instruction_index INTEGER NOT NULL,
    resolution_result BOOLEAN,
    resolved_at TIMESTAMP WITH TIME ZONE,
    resolved_at_unix BIGINT,
    raw_transaction JSONB,

    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    CONSTRAINT valid_signature CHECK (octet_length(signature) BETWEEN 64 AND 88),
    CONSTRAINT transactions_signature_instruction_key UNIQUE (signature, instruction_index)
);
CREATE INDEX idx_transactions_user_time ON transactions(user_id, block_time DESC);
CREATE INDEX idx_transactions_market ON transactions(market_pubkey);
CREATE INDEX idx_transactions_block_time ON transactions(block_time);
COMMENT ON COLUMN transactions.instruction_index IS
    'Position of the Crypto Bet instruction among all instructions of the transaction in execution '
    'order, inner (CPI) instructions included.';
COMMENT ON COLUMN transactions.market_pubkey IS
    'Soft reference to markets_cache.market_pubkey (no foreign key: a transaction may be seen before its market).';
COMMENT ON COLUMN transactions.price IS 'On-chain u64 fixed point / 1e9, exact.';
COMMENT ON COLUMN transactions.resolved_at IS 'resolve_market: the MarketResolved event''s resolved_at.';

-- ------------------------------------------------------ indexer bookkeeping
CREATE TABLE sync_checkpoints (
    stream TEXT PRIMARY KEY,
    slot BIGINT NOT NULL,
    signature VARCHAR(88),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
COMMENT ON TABLE sync_checkpoints IS
    'One row per ingest stream: last fully applied slot (and signature), written in the same '
    'transaction as the data it covers.';

CREATE TABLE dead_letters (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT,
    slot BIGINT,
    reason TEXT NOT NULL,
    raw BYTEA,
    fingerprint BYTEA NOT NULL UNIQUE,
    first_seen TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    last_seen TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    attempts INTEGER NOT NULL DEFAULT 1
);
COMMENT ON TABLE dead_letters IS
    'Inputs that could not be decoded or written. Nothing is dropped silently.';
COMMENT ON COLUMN dead_letters.fingerprint IS
    'sha256(kind NUL key NUL raw), or of reason instead of raw when raw is empty: the same bad '
    'input seen again bumps attempts and last_seen.';

CREATE TABLE account_closures (
    pubkey VARCHAR(44) PRIMARY KEY,
    closed_slot BIGINT NOT NULL,
    closed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
COMMENT ON TABLE account_closures IS
    'Highest slot at which each account was seen closed. A cache row is closed while '
    'closed_slot >= its sync_slot; lets a close seen before the account''s first state apply.';
