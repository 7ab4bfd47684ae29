-- What the intelligence stages report besides events (see `signal` in the WIT contract).

-- Alerts raised by rule stages, one row per alert; `body` keeps the whole alert object.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    stage TEXT NOT NULL,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    alert_key TEXT NOT NULL DEFAULT '',
    source TEXT,
    pattern_id TEXT,
    fired_at TEXT NOT NULL,
    event_ids TEXT NOT NULL DEFAULT '[]',
    body TEXT NOT NULL
);
CREATE INDEX idx_alerts_fired_at ON alerts(fired_at);

-- The insight attached to a pattern (model answer or offline analysis), and when it was set.
ALTER TABLE patterns ADD COLUMN insight TEXT;
ALTER TABLE patterns ADD COLUMN insight_at TEXT;

-- Patterns merged into another: their rows and counts were moved to `into_id` when the merge
-- arrived (the miner gives later events of a merged pattern the surviving id itself).
CREATE TABLE pattern_merges (
    from_id TEXT PRIMARY KEY,
    into_id TEXT NOT NULL,
    merged_at TEXT NOT NULL
) WITHOUT ROWID;
