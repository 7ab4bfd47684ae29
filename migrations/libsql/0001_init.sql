-- Sluice's embedded store. Column names follow seed 000's `logs` table; `subsystem` is what the
-- other seeds call `source`, and `extra` holds the open attributes as a JSON object.
CREATE TABLE logs (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    timestamp TEXT NOT NULL,
    received_at TEXT NOT NULL,
    level TEXT NOT NULL,
    subsystem TEXT,
    module TEXT,
    function_name TEXT,
    file_path TEXT,
    line_number INTEGER,
    topic TEXT,
    message TEXT NOT NULL,
    user_uuid TEXT,
    session_id TEXT,
    trace_id TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    pattern_id TEXT,
    insight TEXT,
    input TEXT NOT NULL
);
CREATE INDEX idx_logs_timestamp ON logs(timestamp);

-- Seed 001's `aggregated_logs`: one row per mined pattern.
CREATE TABLE patterns (
    pattern_id TEXT PRIMARY KEY,
    pattern TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    level TEXT,
    source TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    samples TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX idx_patterns_last_seen ON patterns(last_seen);

-- Events a stage could not process, with the reason. Nothing is dropped silently.
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    guest TEXT NOT NULL,
    guest_version TEXT NOT NULL,
    reason TEXT NOT NULL,
    event TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
CREATE INDEX idx_dead_letters_event ON dead_letters(event_id);

-- Host-owned guest state, per stage.
CREATE TABLE guest_state (
    stage TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (stage, key)
) WITHOUT ROWID;

-- Bookkeeping: `journal_offset` is how far into the journal this store has committed, written in
-- the same transaction as the data so a replay after a crash skips exactly what is already here.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
