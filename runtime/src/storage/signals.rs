//! Writing the stages' signals into the store, inside the batch's transaction: alerts into
//! `alerts`, insights onto their pattern, pattern changes as re-pointed rows and folded counts.

use libsql::{Connection, Value};
use serde_json::{Map, Value as Json};

use super::StoreError;
use crate::event::{Signal, SignalKind, format_ns};

/// Applies every signal of a batch, in the order the stages emitted them.
pub async fn apply(conn: &Connection, signals: &[Signal]) -> Result<(), StoreError> {
    for signal in signals {
        match signal.kind {
            SignalKind::Alert => insert_alert(conn, signal).await?,
            SignalKind::Insight => set_insight(conn, signal).await?,
            SignalKind::PatternChanged => change_pattern(conn, signal).await?,
        }
    }
    Ok(())
}

/// The text of a string field, if the body has one.
pub fn text<'a>(body: &'a Map<String, Json>, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Json::as_str)
}

/// An alert's id: its own when it has one, else one derived from what identifies it.
pub fn alert_id(signal: &Signal) -> String {
    match text(&signal.body, "id") {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => {
            let rule = text(&signal.body, "rule").unwrap_or_default();
            let key = text(&signal.body, "key").unwrap_or_default();
            crate::wasm::content_hash(format!("{}\0{rule}\0{key}\0{}", signal.stage, fired_ns(signal)).as_bytes())[..16]
                .to_string()
        }
    }
}

/// When an alert fired: its `fired_ns`, else when the host received it.
pub fn fired_ns(signal: &Signal) -> i64 {
    signal.body.get("fired_ns").and_then(Json::as_i64).unwrap_or(signal.emitted_ns)
}

async fn insert_alert(conn: &Connection, signal: &Signal) -> Result<(), StoreError> {
    let body = &signal.body;
    let opt = |key: &str| text(body, key).map_or(Value::Null, |s| Value::Text(s.to_string()));
    let event_ids = body.get("event_ids").map_or_else(|| "[]".to_string(), Json::to_string);
    conn.execute(
        "INSERT INTO alerts (id, stage, rule, kind, severity, title, message, alert_key, source, pattern_id, fired_at, event_ids, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT(id) DO NOTHING",
        vec![
            Value::Text(alert_id(signal)),
            Value::Text(signal.stage.clone()),
            Value::Text(text(body, "rule").unwrap_or("unnamed").to_string()),
            Value::Text(text(body, "kind").unwrap_or("unknown").to_string()),
            Value::Text(text(body, "severity").unwrap_or("warning").to_string()),
            Value::Text(text(body, "title").or(text(body, "rule")).unwrap_or("alert").to_string()),
            Value::Text(text(body, "message").unwrap_or_default().to_string()),
            Value::Text(text(body, "key").unwrap_or_default().to_string()),
            opt("source"),
            opt("pattern_id"),
            Value::Text(format_ns(fired_ns(signal))),
            Value::Text(event_ids),
            Value::Text(Json::Object(body.clone()).to_string()),
        ],
    )
    .await?;
    Ok(())
}

/// Attaches an insight to its pattern. The pattern's row normally exists (its first event came
/// in the same or an earlier batch); if not, the insight waits in a placeholder row that the
/// pattern's events then fill.
async fn set_insight(conn: &Connection, signal: &Signal) -> Result<(), StoreError> {
    let Some(pattern_id) = text(&signal.body, "pattern_id") else { return Ok(()) };
    let Some(insight) = signal.body.get("insight").filter(|i| i.is_object()) else { return Ok(()) };
    let template = text(&signal.body, "template").unwrap_or_default();
    let at = format_ns(signal.emitted_ns);
    conn.execute(
        "INSERT INTO patterns (pattern_id, pattern, count, first_seen, last_seen, insight, insight_at)
         VALUES (?1, ?2, 0, ?3, ?3, ?4, ?3)
         ON CONFLICT(pattern_id) DO UPDATE SET insight = excluded.insight, insight_at = excluded.insight_at",
        vec![
            Value::Text(pattern_id.to_string()),
            Value::Text(template.to_string()),
            Value::Text(at),
            Value::Text(insight.to_string()),
        ],
    )
    .await?;
    Ok(())
}

/// A pattern's template changed, or other patterns were merged into it: the template is updated,
/// the merged patterns' rows point to it, their counts, first/last seen and samples fold into
/// it, and their rows go.
async fn change_pattern(conn: &Connection, signal: &Signal) -> Result<(), StoreError> {
    let Some(id) = text(&signal.body, "id") else { return Ok(()) };
    if let Some(template) = text(&signal.body, "template") {
        conn.execute("UPDATE patterns SET pattern = ?2 WHERE pattern_id = ?1", (id, template)).await?;
    }
    let merged: Vec<&str> = signal
        .body
        .get("merged")
        .and_then(Json::as_array)
        .map(|m| m.iter().filter_map(Json::as_str).filter(|m| *m != id).collect())
        .unwrap_or_default();
    let at = format_ns(signal.emitted_ns);
    for from in merged {
        conn.execute(
            "INSERT INTO pattern_merges (from_id, into_id, merged_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(from_id) DO UPDATE SET into_id = excluded.into_id, merged_at = excluded.merged_at",
            (from, id, at.as_str()),
        )
        .await?;
        conn.execute("UPDATE logs SET pattern_id = ?2 WHERE pattern_id = ?1", (from, id)).await?;
        // Fold the merged row into the surviving one (creating it if it has no row yet).
        conn.execute(
            "INSERT INTO patterns (pattern_id, pattern, count, level, source, first_seen, last_seen, metadata, samples, insight, insight_at)
             SELECT ?2, coalesce(?3, pattern), count, level, source, first_seen, last_seen, metadata, samples, insight, insight_at
             FROM patterns WHERE pattern_id = ?1
             ON CONFLICT(pattern_id) DO UPDATE SET
               count = patterns.count + excluded.count,
               first_seen = min(patterns.first_seen, excluded.first_seen),
               last_seen = max(patterns.last_seen, excluded.last_seen),
               insight = coalesce(patterns.insight, excluded.insight),
               insight_at = coalesce(patterns.insight_at, excluded.insight_at)",
            vec![
                Value::Text(from.to_string()),
                Value::Text(id.to_string()),
                text(&signal.body, "template").map_or(Value::Null, |t| Value::Text(t.to_string())),
            ],
        )
        .await?;
        conn.execute("DELETE FROM patterns WHERE pattern_id = ?1", [from]).await?;
    }
    Ok(())
}
