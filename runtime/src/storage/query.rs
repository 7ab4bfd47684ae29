//! Read queries for the API: history with filters and totals, patterns, dead letters. Each runs
//! on the reader pool ([`super::readers`]) under its time limit.
//!
//! A history query without named ids looks at no more than the newest
//! [`QueryLimits::scan_rows`](super::QueryLimits) rows of its time window (by the timestamp
//! index), so a text filter never scans millions of rows: its page and total then come from
//! those rows only, and the total is a lower bound ([`LogPage::exact`] is false).

use libsql::{Connection, Row, Value};
use serde::Serialize;

use super::{Store, StoreError};

/// Filters for the history query, shared by `/api/v1/logs` and seed 004's `/recent`.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub limit: u32,
    pub offset: u32,
    /// Canonical levels; empty means all.
    pub levels: Vec<String>,
    pub source: Option<String>,
    /// RFC 3339 lower bound on the event time.
    pub since: Option<String>,
    /// RFC 3339 upper bound (exclusive) on the event time.
    pub until: Option<String>,
    /// Case-insensitive substring of the message.
    pub text: Option<String>,
    /// Only these events (by event id); empty means any.
    pub ids: Vec<String>,
}

/// Largest page a query may ask for.
pub const MAX_LIMIT: u32 = 1000;

/// A page of history and the number of events matching.
#[derive(Debug)]
pub struct LogPage {
    pub rows: Vec<LogRow>,
    pub total: u64,
    /// False when the window held more rows than a query examines: `total` then counts the
    /// matches among the newest rows examined, a lower bound, and pages end there.
    pub exact: bool,
}

/// One stored event, as the API returns it.
#[derive(Debug, Serialize)]
pub struct LogRow {
    pub id: i64,
    pub event_id: String,
    pub timestamp: String,
    pub received_at: String,
    pub level: String,
    pub source: Option<String>,
    pub module: Option<String>,
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<i64>,
    pub topic: Option<String>,
    pub message: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub trace_id: Option<String>,
    pub attributes: serde_json::Value,
    pub pattern_id: Option<String>,
    pub insight: Option<serde_json::Value>,
    pub input: String,
}

/// One mined pattern (seed 001's aggregated log).
#[derive(Debug, Serialize)]
pub struct PatternRow {
    pub pattern_id: String,
    pub pattern: String,
    pub count: i64,
    pub level: Option<String>,
    pub source: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub metadata: serde_json::Value,
    pub samples: serde_json::Value,
    /// The insight attached to the pattern (model answer or offline analysis), if any.
    pub insight: serde_json::Value,
    pub insight_at: Option<String>,
}

/// One alert raised by a rule stage.
#[derive(Debug, Serialize)]
pub struct AlertRow {
    pub id: String,
    pub stage: String,
    pub rule: String,
    pub kind: String,
    pub severity: String,
    pub title: String,
    pub message: String,
    pub key: String,
    pub source: Option<String>,
    pub pattern_id: Option<String>,
    pub fired_at: String,
    pub event_ids: serde_json::Value,
    /// The whole alert object as the stage emitted it.
    pub alert: serde_json::Value,
}

/// One dead letter.
#[derive(Debug, Serialize)]
pub struct DeadLetterRow {
    pub id: i64,
    pub event_id: String,
    pub stage: String,
    pub guest: String,
    pub guest_version: String,
    pub reason: String,
    pub event: serde_json::Value,
    pub failed_at: String,
}

/// Maps the level names clients use (`warn`, `err`, `fatal`, ...) to the stored canonical ones.
pub fn canonical_level(name: &str) -> Option<&'static str> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "trace" | "debug" | "dbg" | "verbose" => "DEBUG",
        "info" | "information" | "informational" | "notice" => "INFO",
        "warn" | "warning" => "WARNING",
        "err" | "error" | "severe" => "ERROR",
        "fatal" | "crit" | "critical" | "emerg" | "emergency" | "alert" | "panic" => "CRITICAL",
        _ => return None,
    })
}

/// Appends `values` to the positional parameters and returns their placeholders (`?3,?4,?5`),
/// for an `IN (...)` list.
pub(super) fn bind_list(params: &mut Vec<Value>, values: &[String]) -> String {
    let marks: Vec<String> = values
        .iter()
        .map(|v| {
            params.push(Value::Text(v.clone()));
            format!("?{}", params.len())
        })
        .collect();
    marks.join(",")
}

fn json(text: Option<String>) -> serde_json::Value {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(serde_json::Value::Null)
}

impl Store {
    /// A page of events, newest first, and the number matching the filters (see [`LogPage`]).
    pub async fn logs(&self, q: &LogQuery) -> Result<LogPage, StoreError> {
        let (q, scan_rows) = (q.clone(), self.query_limits().scan_rows);
        self.readers.run(move |conn| async move { logs(&conn, &q, scan_rows).await }).await
    }

    /// Patterns by count, most frequent first.
    pub async fn patterns(&self, limit: u32, offset: u32) -> Result<(Vec<PatternRow>, u64), StoreError> {
        self.readers.run(move |conn| async move { patterns(&conn, limit, offset).await }).await
    }

    /// Alerts, newest first; only those of `severity` when given.
    pub async fn alerts(
        &self,
        limit: u32,
        offset: u32,
        severity: Option<&str>,
    ) -> Result<(Vec<AlertRow>, u64), StoreError> {
        let severity = severity.map(str::to_string);
        self.readers.run(move |conn| async move { alerts(&conn, limit, offset, severity).await }).await
    }

    /// Dead letters, newest first.
    pub async fn dead_letters(&self, limit: u32, offset: u32) -> Result<(Vec<DeadLetterRow>, u64), StoreError> {
        self.readers.run(move |conn| async move { dead_letters(&conn, limit, offset).await }).await
    }
}

/// [`Store::patterns`] on a reader.
async fn patterns(conn: &Connection, limit: u32, offset: u32) -> Result<(Vec<PatternRow>, u64), StoreError> {
    let total = count(conn, "SELECT count(*) FROM patterns").await?;
    let sql = format!(
        "SELECT pattern_id, pattern, count, level, source, first_seen, last_seen, metadata, samples,
                insight, insight_at
         FROM patterns ORDER BY count DESC, pattern_id LIMIT {} OFFSET {offset}",
        limit.min(MAX_LIMIT)
    );
    let mut rows = conn.query(&sql, ()).await?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(PatternRow {
            pattern_id: row.get(0)?,
            pattern: row.get(1)?,
            count: row.get(2)?,
            level: row.get(3)?,
            source: row.get(4)?,
            first_seen: row.get(5)?,
            last_seen: row.get(6)?,
            metadata: json(row.get(7)?),
            samples: json(row.get(8)?),
            insight: json(row.get(9)?),
            insight_at: row.get(10)?,
        });
    }
    Ok((out, total))
}

/// [`Store::alerts`] on a reader.
async fn alerts(
    conn: &Connection,
    limit: u32,
    offset: u32,
    severity: Option<String>,
) -> Result<(Vec<AlertRow>, u64), StoreError> {
    let (filter, params): (&str, Vec<libsql::Value>) = match severity {
        Some(s) => ("WHERE severity = ?1", vec![libsql::Value::Text(s)]),
        None => ("", Vec::new()),
    };
    let mut rows = conn.query(&format!("SELECT count(*) FROM alerts {filter}"), params.clone()).await?;
    let total = match rows.next().await? {
        Some(row) => row.get::<i64>(0)? as u64,
        None => 0,
    };
    drop(rows);
    let sql = format!(
        "SELECT id, stage, rule, kind, severity, title, message, alert_key, source, pattern_id, fired_at,
                event_ids, body
         FROM alerts {filter} ORDER BY fired_at DESC, id LIMIT {} OFFSET {offset}",
        limit.min(MAX_LIMIT)
    );
    let mut rows = conn.query(&sql, params).await?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(AlertRow {
            id: row.get(0)?,
            stage: row.get(1)?,
            rule: row.get(2)?,
            kind: row.get(3)?,
            severity: row.get(4)?,
            title: row.get(5)?,
            message: row.get(6)?,
            key: row.get(7)?,
            source: row.get(8)?,
            pattern_id: row.get(9)?,
            fired_at: row.get(10)?,
            event_ids: json(row.get(11)?),
            alert: json(row.get(12)?),
        });
    }
    Ok((out, total))
}

/// [`Store::dead_letters`] on a reader.
async fn dead_letters(conn: &Connection, limit: u32, offset: u32) -> Result<(Vec<DeadLetterRow>, u64), StoreError> {
    let total = count(conn, "SELECT count(*) FROM dead_letters").await?;
    let sql = format!(
        "SELECT id, event_id, stage, guest, guest_version, reason, event, failed_at
         FROM dead_letters ORDER BY id DESC LIMIT {} OFFSET {offset}",
        limit.min(MAX_LIMIT)
    );
    let mut rows = conn.query(&sql, ()).await?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(DeadLetterRow {
            id: row.get(0)?,
            event_id: row.get(1)?,
            stage: row.get(2)?,
            guest: row.get(3)?,
            guest_version: row.get(4)?,
            reason: row.get(5)?,
            event: json(row.get(6)?),
            failed_at: row.get(7)?,
        });
    }
    Ok((out, total))
}

async fn count(conn: &Connection, sql: &str) -> Result<u64, StoreError> {
    let mut rows = conn.query(sql, ()).await?;
    Ok(match rows.next().await? {
        Some(row) => row.get::<i64>(0)? as u64,
        None => 0,
    })
}

/// [`Store::logs`] on a reader.
async fn logs(conn: &Connection, q: &LogQuery, scan_rows: u64) -> Result<LogPage, StoreError> {
    let mut clauses = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    if let Some(since) = &q.since {
        params.push(Value::Text(since.clone()));
        clauses.push(format!("timestamp >= ?{}", params.len()));
    }
    if let Some(until) = &q.until {
        params.push(Value::Text(until.clone()));
        clauses.push(format!("timestamp < ?{}", params.len()));
    }
    let mut exact = true;
    if q.ids.is_empty() {
        // The timestamp of the newest `scan_rows`-th row in the window, by the index alone; a
        // second row past it means the window holds more than the query may examine.
        let window = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let sql = format!(
            "SELECT timestamp FROM logs {window} ORDER BY timestamp DESC LIMIT 2 OFFSET {}",
            scan_rows.max(1) - 1
        );
        let mut rows = conn.query(&sql, params.clone()).await?;
        let boundary = match rows.next().await? {
            Some(row) => Some(row.get::<String>(0)?),
            None => None,
        };
        let more = rows.next().await?.is_some();
        drop(rows);
        if let (Some(boundary), true) = (boundary, more) {
            params.push(Value::Text(boundary));
            clauses.push(format!("timestamp >= ?{}", params.len()));
            exact = false;
        }
    }
    if !q.levels.is_empty() {
        clauses.push(format!("level IN ({})", bind_list(&mut params, &q.levels)));
    }
    if let Some(source) = &q.source {
        params.push(Value::Text(source.clone()));
        clauses.push(format!("subsystem = ?{}", params.len()));
    }
    if !q.ids.is_empty() {
        clauses.push(format!("event_id IN ({})", bind_list(&mut params, &q.ids)));
    }
    if let Some(text) = &q.text {
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        params.push(Value::Text(format!("%{escaped}%")));
        clauses.push(format!("message LIKE ?{} ESCAPE '\\'", params.len()));
    }
    let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };

    let mut rows = conn.query(&format!("SELECT count(*) FROM logs {filter}"), params.clone()).await?;
    let total = match rows.next().await? {
        Some(row) => row.get::<i64>(0)? as u64,
        None => 0,
    };
    drop(rows);

    let limit = q.limit.min(MAX_LIMIT);
    let sql = format!(
        "SELECT id, event_id, timestamp, received_at, level, subsystem, module, function_name, file_path,
                line_number, topic, message, user_uuid, session_id, trace_id, extra, pattern_id, insight, input
         FROM logs {filter} ORDER BY timestamp DESC, id DESC LIMIT {limit} OFFSET {}",
        q.offset
    );
    let mut rows = conn.query(&sql, params).await?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(log_row(&row)?);
    }
    Ok(LogPage { rows: out, total, exact })
}

fn log_row(row: &Row) -> Result<LogRow, StoreError> {
    Ok(LogRow {
        id: row.get(0)?,
        event_id: row.get(1)?,
        timestamp: row.get(2)?,
        received_at: row.get(3)?,
        level: row.get(4)?,
        source: row.get(5)?,
        module: row.get(6)?,
        function: row.get(7)?,
        file: row.get(8)?,
        line: row.get(9)?,
        topic: row.get(10)?,
        message: row.get(11)?,
        user_id: row.get(12)?,
        session_id: row.get(13)?,
        trace_id: row.get(14)?,
        attributes: json(row.get(15)?),
        pattern_id: row.get(16)?,
        insight: json(row.get::<Option<String>>(17)?).as_object().map(|o| serde_json::Value::Object(o.clone())),
        input: row.get(18)?,
    })
}

#[cfg(test)]
mod tests {
    use super::canonical_level;

    #[test]
    fn level_aliases() {
        assert_eq!(canonical_level("warn"), Some("WARNING"));
        assert_eq!(canonical_level(" Error"), Some("ERROR"));
        assert_eq!(canonical_level("fatal"), Some("CRITICAL"));
        assert_eq!(canonical_level("loud"), None);
    }
}
