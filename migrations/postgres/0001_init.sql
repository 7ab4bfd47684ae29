-- Sluice's PostgreSQL schema, applied at start by the `postgres` output (sqlx migrations).
--
-- Columns that the seeds declared VARCHAR(n) are TEXT here: a value one character too long must
-- not make a whole batch fail forever.

-- Every event (seed 004's `logs`, with seed 000's columns): attributes and insight as JSONB.
CREATE TABLE IF NOT EXISTS logs (
    id BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    timestamp TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    level TEXT NOT NULL,
    source TEXT,
    module TEXT,
    function_name TEXT,
    file_path TEXT,
    line_number INTEGER,
    topic TEXT,
    message TEXT NOT NULL,
    user_uuid TEXT,
    session_id TEXT,
    trace_id TEXT,
    attributes JSONB NOT NULL DEFAULT '{}',
    pattern_id TEXT,
    insight JSONB,
    input TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_logs_timestamp ON logs (timestamp);
CREATE INDEX IF NOT EXISTS idx_logs_level ON logs (level);
CREATE INDEX IF NOT EXISTS idx_logs_source ON logs (source);
CREATE INDEX IF NOT EXISTS idx_logs_session ON logs (session_id);

-- Seed 001's pattern aggregates, one row per mined pattern (`pattern_id` added so an upsert can
-- find its row).
CREATE TABLE IF NOT EXISTS aggregated_logs (
    id SERIAL PRIMARY KEY,
    pattern_id TEXT NOT NULL UNIQUE,
    message_pattern TEXT NOT NULL,
    count INTEGER DEFAULT 1,
    level TEXT,
    source TEXT,
    first_seen TIMESTAMP DEFAULT NOW(),
    last_seen TIMESTAMP DEFAULT NOW(),
    metadata JSONB,
    sample_messages JSONB
);
CREATE INDEX IF NOT EXISTS idx_aggregated_logs_source ON aggregated_logs (source);
CREATE INDEX IF NOT EXISTS idx_aggregated_logs_level ON aggregated_logs (level);
CREATE INDEX IF NOT EXISTS idx_aggregated_logs_last_seen ON aggregated_logs (last_seen);

-- Seed 002's audit trail: one row per event, with its session, type and payload.
CREATE TABLE IF NOT EXISTS log_events (
    id BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    session_id TEXT,
    event_type TEXT NOT NULL,
    payload JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS idx_log_events_session ON log_events (session_id);
CREATE INDEX IF NOT EXISTS idx_log_events_type ON log_events (event_type);

-- How far into its journal each Sluice instance has committed into this database, written in the
-- same transaction as the rows: a batch replayed after a crash is recognised and skipped.
CREATE TABLE IF NOT EXISTS sluice_offsets (
    instance TEXT NOT NULL,
    output TEXT NOT NULL,
    journal_offset BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (instance, output)
);
