-- What the intelligence stages report besides events (see `signal` in the WIT contract).

-- Alerts raised by rule stages; `body` keeps the whole alert object.
CREATE TABLE IF NOT EXISTS alerts (
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
    fired_at TIMESTAMPTZ NOT NULL,
    event_ids JSONB NOT NULL DEFAULT '[]',
    body JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_alerts_fired_at ON alerts (fired_at);

-- The insight attached to a pattern (model answer or offline analysis).
ALTER TABLE aggregated_logs ADD COLUMN IF NOT EXISTS insight JSONB;
ALTER TABLE aggregated_logs ADD COLUMN IF NOT EXISTS insight_at TIMESTAMPTZ;

CREATE INDEX IF NOT EXISTS idx_logs_pattern ON logs (pattern_id);
