//! The stages' signals in PostgreSQL, inside the batch's transaction: alerts into `alerts`,
//! insights onto `aggregated_logs`, pattern merges as re-pointed `logs` rows and folded counts.
//! Which of these apply follows the output's `tables`.

use serde_json::Value as Json;
use sqlx::{Postgres, Transaction};

use super::clean;
use crate::event::{Signal, SignalKind, format_ns};
use crate::storage::signals::{alert_id, fired_ns, text};

/// The tables a signal may touch.
#[derive(Debug, Clone, Copy)]
pub struct Tables {
    pub logs: bool,
    pub aggregated: bool,
    pub alerts: bool,
}

pub async fn apply(tx: &mut Transaction<'_, Postgres>, signals: &[Signal], tables: Tables) -> Result<(), sqlx::Error> {
    for signal in signals {
        match signal.kind {
            SignalKind::Alert if tables.alerts => insert_alert(tx, signal).await?,
            SignalKind::Insight if tables.aggregated => set_insight(tx, signal).await?,
            SignalKind::PatternChanged => change_pattern(tx, signal, tables).await?,
            _ => {}
        }
    }
    Ok(())
}

async fn insert_alert(tx: &mut Transaction<'_, Postgres>, signal: &Signal) -> Result<(), sqlx::Error> {
    let body = &signal.body;
    let field = |key: &str| text(body, key).map(clean);
    sqlx::query(
        "INSERT INTO alerts (id, stage, rule, kind, severity, title, message, alert_key, source, pattern_id,
                             fired_at, event_ids, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::timestamptz, $12::jsonb, $13::jsonb)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(clean(&alert_id(signal)))
    .bind(clean(&signal.stage))
    .bind(field("rule").unwrap_or_else(|| "unnamed".into()))
    .bind(field("kind").unwrap_or_else(|| "unknown".into()))
    .bind(field("severity").unwrap_or_else(|| "warning".into()))
    .bind(field("title").or_else(|| field("rule")).unwrap_or_else(|| "alert".into()))
    .bind(field("message").unwrap_or_default())
    .bind(field("key").unwrap_or_default())
    .bind(field("source"))
    .bind(field("pattern_id"))
    .bind(format_ns(fired_ns(signal)))
    .bind(clean(&body.get("event_ids").map_or_else(|| "[]".to_string(), Json::to_string)))
    .bind(clean(&Json::Object(body.clone()).to_string()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn set_insight(tx: &mut Transaction<'_, Postgres>, signal: &Signal) -> Result<(), sqlx::Error> {
    let Some(pattern_id) = text(&signal.body, "pattern_id") else { return Ok(()) };
    let Some(insight) = signal.body.get("insight").filter(|i| i.is_object()) else { return Ok(()) };
    let template = text(&signal.body, "template").unwrap_or_default();
    sqlx::query(
        "INSERT INTO aggregated_logs (pattern_id, message_pattern, count, insight, insight_at)
         VALUES ($1, $2, 0, $3::jsonb, $4::timestamptz)
         ON CONFLICT (pattern_id) DO UPDATE SET insight = EXCLUDED.insight, insight_at = EXCLUDED.insight_at",
    )
    .bind(clean(pattern_id))
    .bind(clean(template))
    .bind(clean(&insight.to_string()))
    .bind(format_ns(signal.emitted_ns))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn change_pattern(
    tx: &mut Transaction<'_, Postgres>,
    signal: &Signal,
    tables: Tables,
) -> Result<(), sqlx::Error> {
    let Some(id) = text(&signal.body, "id").map(clean) else { return Ok(()) };
    let template = text(&signal.body, "template").map(clean);
    let merged: Vec<String> = signal
        .body
        .get("merged")
        .and_then(Json::as_array)
        .map(|m| m.iter().filter_map(Json::as_str).map(clean).filter(|m| *m != id).collect())
        .unwrap_or_default();
    if tables.logs && !merged.is_empty() {
        sqlx::query("UPDATE logs SET pattern_id = $1 WHERE pattern_id = ANY($2)")
            .bind(&id)
            .bind(&merged)
            .execute(&mut **tx)
            .await?;
    }
    if !tables.aggregated {
        return Ok(());
    }
    if let Some(template) = &template {
        sqlx::query("UPDATE aggregated_logs SET message_pattern = $2 WHERE pattern_id = $1")
            .bind(&id)
            .bind(template)
            .execute(&mut **tx)
            .await?;
    }
    if merged.is_empty() {
        return Ok(());
    }
    // Fold the merged rows into the surviving one (made from them if it has no row yet).
    sqlx::query(
        "INSERT INTO aggregated_logs AS a (pattern_id, message_pattern, count, level, source, first_seen, last_seen,
                                           metadata, sample_messages, insight, insight_at)
         SELECT $1, COALESCE($3, min(message_pattern)), sum(count)::int4, min(level), min(source), min(first_seen),
                max(last_seen), NULL, NULL, NULL, NULL
         FROM aggregated_logs WHERE pattern_id = ANY($2)
         HAVING count(*) > 0
         ON CONFLICT (pattern_id) DO UPDATE SET
           count = COALESCE(a.count, 0) + EXCLUDED.count,
           first_seen = LEAST(a.first_seen, EXCLUDED.first_seen),
           last_seen = GREATEST(a.last_seen, EXCLUDED.last_seen)",
    )
    .bind(&id)
    .bind(&merged)
    .bind(&template)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM aggregated_logs WHERE pattern_id = ANY($1)").bind(&merged).execute(&mut **tx).await?;
    Ok(())
}
