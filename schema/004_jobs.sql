-- Backfill jobs and leadership.
--
-- An operator asks for a backfill with SELECT backfill_market_data(a, b)
-- (the data-architecture document's function, now returning the job id) or
-- `crypto-bet-indexer backfill --enqueue`. The range is split into chunks
-- (slot windows) that any number of workers claim one at a time:
--   * a claim is one statement (FOR UPDATE SKIP LOCKED) that sets a lease
--     (lease_owner, lease_expires_at); the worker renews it by heartbeat;
--   * a chunk whose lease expired (its worker died) is claimed again;
--     redoing a chunk is harmless because every write is idempotent;
--   * a failing chunk goes back to pending with run_after = now() + backoff
--     until max_attempts, then the chunk and its job are failed with the
--     error in last_error;
--   * enqueues NOTIFY cbi_jobs so idle workers wake; workers also poll.
-- leader_leases holds term-scoped leases (one row per role, e.g. 'live'):
-- a holder renews before expires_at; anyone may take an expired lease,
-- which increments term.

CREATE TYPE backfill_job_state AS ENUM ('pending', 'running', 'done', 'failed', 'cancelled');

CREATE TABLE backfill_jobs (
    id BIGSERIAL PRIMARY KEY,
    from_slot BIGINT NOT NULL CHECK (from_slot >= 0),
    to_slot BIGINT NOT NULL,
    chunk_slots BIGINT NOT NULL CHECK (chunk_slots > 0),
    strategy TEXT NOT NULL DEFAULT 'signatures' CHECK (strategy IN ('signatures', 'blocks')),
    state backfill_job_state NOT NULL DEFAULT 'pending',
    requested_by TEXT NOT NULL DEFAULT current_user,
    requested_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    started_at TIMESTAMP WITH TIME ZONE,
    finished_at TIMESTAMP WITH TIME ZONE,
    chunks_total INTEGER NOT NULL CHECK (chunks_total > 0),
    chunks_done INTEGER NOT NULL DEFAULT 0,
    slots_done BIGINT NOT NULL DEFAULT 0,
    transactions BIGINT NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    last_error TEXT,
    CHECK (to_slot >= from_slot)
);
-- At most one active job per range: a second enqueue of the same range is
-- refused while the first is pending or running.
CREATE UNIQUE INDEX backfill_jobs_one_active_per_range ON backfill_jobs (from_slot, to_slot)
    WHERE state IN ('pending', 'running');
COMMENT ON TABLE backfill_jobs IS
    'Backfill requests: a slot range split into backfill_chunks, run by any number of workers.';

CREATE TABLE backfill_chunks (
    job_id BIGINT NOT NULL REFERENCES backfill_jobs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    from_slot BIGINT NOT NULL,
    to_slot BIGINT NOT NULL,
    state backfill_job_state NOT NULL DEFAULT 'pending',
    lease_owner TEXT,
    lease_expires_at TIMESTAMP WITH TIME ZONE,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_after TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    started_at TIMESTAMP WITH TIME ZONE,
    finished_at TIMESTAMP WITH TIME ZONE,
    transactions BIGINT,
    last_error TEXT,
    PRIMARY KEY (job_id, seq),
    CHECK (to_slot >= from_slot)
);
-- The claim scans only chunks that can still run.
CREATE INDEX backfill_chunks_claimable ON backfill_chunks (job_id, seq)
    WHERE state IN ('pending', 'running');
COMMENT ON TABLE backfill_chunks IS
    'Slot windows of a backfill job; claimed with a lease renewed by heartbeat.';

CREATE TABLE leader_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    term BIGINT NOT NULL DEFAULT 1,
    acquired_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    renewed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL
);
COMMENT ON TABLE leader_leases IS
    'Term-scoped leadership leases; the holder stops trusting its lease before expires_at.';

-- Enqueues a backfill of [start_slot, end_slot] split into windows of
-- chunk_slots slots and wakes the workers. Returns the job id. A second
-- active job for the same range raises unique_violation naming the first.
CREATE FUNCTION backfill_market_data(
    start_slot BIGINT,
    end_slot BIGINT,
    chunk_slots BIGINT DEFAULT 1000,
    strategy TEXT DEFAULT 'signatures',
    max_attempts INTEGER DEFAULT 5
) RETURNS BIGINT AS $$
DECLARE
    job BIGINT;
    existing BIGINT;
    n INTEGER;
BEGIN
    IF start_slot IS NULL OR end_slot IS NULL OR start_slot < 0 OR end_slot < start_slot THEN
        RAISE EXCEPTION 'backfill range % .. % is not a valid slot range', start_slot, end_slot
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF chunk_slots IS NULL OR chunk_slots < 1 THEN
        RAISE EXCEPTION 'chunk_slots must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    n := ((end_slot - start_slot) / chunk_slots + 1)::INTEGER;
    BEGIN
        INSERT INTO backfill_jobs (from_slot, to_slot, chunk_slots, strategy, chunks_total,
                                   max_attempts)
        VALUES (start_slot, end_slot, chunk_slots, strategy, n, max_attempts)
        RETURNING id INTO job;
    EXCEPTION WHEN unique_violation THEN
        SELECT j.id INTO existing FROM backfill_jobs j
         WHERE j.from_slot = start_slot AND j.to_slot = end_slot
           AND j.state IN ('pending', 'running');
        RAISE EXCEPTION 'backfill job % is already active for slots % .. %',
            existing, start_slot, end_slot
            USING ERRCODE = 'unique_violation', DETAIL = 'existing job ' || existing;
    END;
    INSERT INTO backfill_chunks (job_id, seq, from_slot, to_slot)
    SELECT job, g, start_slot + g::BIGINT * chunk_slots,
           LEAST(end_slot, start_slot + (g::BIGINT + 1) * chunk_slots - 1)
      FROM generate_series(0, n - 1) AS g;
    PERFORM pg_notify('cbi_jobs', job::TEXT);
    RETURN job;
END;
$$ LANGUAGE plpgsql;
