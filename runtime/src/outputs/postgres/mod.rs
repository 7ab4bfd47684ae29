//! The PostgreSQL output: batches into `logs`, seed 001's `aggregated_logs` and seed 002's
//! `log_events` (whichever the pipeline asks for), one transaction per batch.
//!
//! Exactly once: each transaction also moves this instance's row in `sluice_offsets` to the
//! batch's journal offset, and a batch at or below that row is skipped whole (a replay after a
//! crash); `logs` and `log_events` rows are keyed on the event id besides (`ON CONFLICT DO
//! NOTHING`), so another instance replaying the same Kafka messages adds nothing either.
//!
//! While the database is down the task retries with backoff; the batch waits in the journal
//! (nothing is acknowledged that is not on disk there), the processor is held back by this
//! output's queue, and `/stats` (`outputs.postgres`) and `sluice_output_pending_bytes` show the
//! wait. Rows are written with one `INSERT ... SELECT FROM UNNEST(...)` per table: one round trip
//! per table per batch, whatever its size.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tokio::sync::mpsc;

use super::Batch;
use super::offset_file::{self, Recorded};
use super::sink::SinkContext;
use crate::config::postgres::{PostgresOutputConfig, PostgresTable};
use crate::event::{Event, format_ns};
use crate::retry::Backoff;

mod signals;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Samples kept per pattern in `aggregated_logs`.
const MAX_SAMPLES: usize = 5;
/// A pattern's metadata stops growing past this many bytes.
const MAX_METADATA_BYTES: usize = 4096;

/// Why a write failed (all are retried).
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error("PostgreSQL: {0}")]
    Sql(#[from] sqlx::Error),
    /// The commit itself failed, so whether it landed is unknown until the database says.
    #[error("PostgreSQL commit (outcome unknown): {0}")]
    Commit(#[source] sqlx::Error),
    #[error("PostgreSQL migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot read this instance's id: {0}")]
    Instance(#[from] std::io::Error),
}

/// Delivers batches until the queue closes (see [`super::sink`] for the contract).
///
/// Where it stands is the database's offset. A copy is kept in the data directory
/// (`outputs/<name>.offset`): before the first transaction of a busy spell it says, synced, that
/// commits are in flight, and once the queue is empty again the offset reached (one synced
/// write per spell, not per batch). When the copy is exact at start (or the data directory
/// is new), the output says where it starts at once, so the pipeline, the store and every other
/// output run while the database is unreachable, and the batches wait for it
/// (`outputs::overflow`); otherwise it waits for the database to say. The processor cuts batches
/// at that start, so no batch straddles what the database holds, and each write checks the
/// database's own offset in its transaction besides.
pub async fn run(config: PostgresOutputConfig, mut ctx: SinkContext, mut batches: mpsc::Receiver<Arc<Batch>>) {
    let offset_path = offset_file::path(&ctx.data_dir, &ctx.name);
    let recorded = match offset_file::read_recorded(&offset_path) {
        Ok(recorded) => recorded,
        Err(e) => {
            tracing::warn!(output = %ctx.name, file = %offset_path.display(), error = %e, "ignoring the PostgreSQL output's local offset; waiting for the database's");
            Some(Recorded::InFlight { last: 0 })
        }
    };
    let early = match recorded {
        Some(Recorded::Exact(local)) => Some(ctx.ready(Some(local))),
        // A data directory with no instance id yet is a new instance, which the database holds
        // nothing of: it starts where the pipeline stands, recorded before anything moves on.
        None if !ctx.has_instance_id() => {
            let start = ctx.new_start();
            match offset_file::write(&offset_path, start, true).await {
                Ok(()) => Some(ctx.ready(Some(start))),
                Err(e) => {
                    tracing::warn!(output = %ctx.name, error = %e, "cannot record the PostgreSQL output's start; waiting for the database");
                    None
                }
            }
        }
        _ => None,
    };
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let (writer, committed) = loop {
        match Writer::connect(&config, &ctx).await {
            Ok(connected) => break connected,
            Err(e) => {
                tracing::warn!(output = %ctx.name, error = %e, "PostgreSQL output cannot start; retrying (events wait in the journal)");
                ctx.failed(&e);
                if !backoff.wait(&ctx.abort).await {
                    return;
                }
            }
        }
    };
    let start = match (early, recorded) {
        (Some(local), _) => {
            if committed.is_some_and(|c| c != local) {
                tracing::warn!(output = %ctx.name, local, database = committed, "the database's offset is not the one this output recorded (was the database restored or replaced?)");
            }
            local.max(committed.unwrap_or(0))
        }
        // A commit was in flight: the database says whether it landed.
        (None, Some(Recorded::InFlight { last })) => ctx.ready(Some(committed.unwrap_or(last))),
        (None, _) => ctx.ready(committed),
    };
    let mut record = LocalRecord { path: offset_path, exact: start, in_flight: false };
    backoff.reset();
    while let Some(batch) = batches.recv().await {
        if batch.already_held(start) {
            ctx.committed(batch.end_offset);
            continue;
        }
        loop {
            if let Err(e) = record.mark().await {
                tracing::warn!(output = %ctx.name, error = %e, "cannot record the PostgreSQL output's offset locally; retrying");
                ctx.failed(&e);
                if !backoff.wait(&ctx.abort).await {
                    return;
                }
                continue;
            }
            match writer.write(&batch).await {
                Ok(applied) => {
                    if applied {
                        ctx.delivered(&batch);
                    }
                    if !batch.tick {
                        record.exact = record.exact.max(batch.end_offset);
                    }
                    if batches.is_empty() {
                        record.settle(&ctx.name).await;
                    }
                    ctx.committed(batch.end_offset);
                    backoff.reset();
                    break;
                }
                Err(e) => {
                    tracing::warn!(output = %ctx.name, error = %e, "PostgreSQL write failed; the batch waits in the journal and is retried");
                    ctx.failed(&e);
                    // Failed before its commit: nothing landed, so the file can say exactly where
                    // the output stands (a restart during the outage then starts without the
                    // database).
                    if !matches!(e, PostgresError::Commit(_)) {
                        record.settle(&ctx.name).await;
                    }
                    if !backoff.wait(&ctx.abort).await {
                        return;
                    }
                }
            }
        }
    }
}

/// The output's copy of its offset in the data directory (see [`run`]).
struct LocalRecord {
    path: PathBuf,
    /// Everything below this is committed in the database.
    exact: u64,
    /// Whether the file says a commit past `exact` may be in flight.
    in_flight: bool,
}

impl LocalRecord {
    /// Says, synced, that commits past `exact` are in flight (once per busy spell).
    async fn mark(&mut self) -> std::io::Result<()> {
        if !self.in_flight {
            offset_file::write_in_flight(&self.path, self.exact).await?;
            self.in_flight = true;
        }
        Ok(())
    }

    /// Says `exact` again, when no commit is in flight. Unsynced: after a power cut the file still
    /// says "in flight" (or is unreadable), and a start then waits for the database.
    async fn settle(&mut self, output: &str) {
        if !self.in_flight {
            return;
        }
        match offset_file::write(&self.path, self.exact, false).await {
            Ok(()) => self.in_flight = false,
            Err(e) => tracing::warn!(output, error = %e, "cannot record the PostgreSQL output's offset locally"),
        }
    }
}

/// One instance's connection pool and what it writes.
struct Writer {
    pool: PgPool,
    instance: String,
    output: String,
    logs: bool,
    aggregated: bool,
    events: bool,
    alerts: bool,
}

impl Writer {
    /// Connects, applies the migrations and reads this instance's committed offset.
    async fn connect(config: &PostgresOutputConfig, ctx: &SinkContext) -> Result<(Writer, Option<u64>), PostgresError> {
        let pool = PgPoolOptions::new()
            .min_connections(config.pool.min)
            .max_connections(config.pool.max.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect(&config.effective_url())
            .await?;
        MIGRATOR.run(&pool).await?;
        let writer = Writer {
            pool,
            instance: ctx.instance_id()?,
            output: ctx.name.clone(),
            logs: config.writes(PostgresTable::Logs),
            aggregated: config.writes(PostgresTable::AggregatedLogs),
            events: config.writes(PostgresTable::LogEvents),
            alerts: config.writes(PostgresTable::Alerts),
        };
        let offset: Option<i64> =
            sqlx::query_scalar("SELECT journal_offset FROM sluice_offsets WHERE instance = $1 AND output = $2")
                .bind(&writer.instance)
                .bind(&writer.output)
                .fetch_optional(&writer.pool)
                .await?;
        Ok((writer, offset.map(|o| o.max(0) as u64)))
    }

    /// Writes one batch and its offset in one transaction; `false` if it was written before.
    async fn write(&self, batch: &Batch) -> Result<bool, PostgresError> {
        let mut tx = self.pool.begin().await?;
        let committed: Option<i64> = sqlx::query_scalar(
            "SELECT journal_offset FROM sluice_offsets WHERE instance = $1 AND output = $2 FOR UPDATE",
        )
        .bind(&self.instance)
        .bind(&self.output)
        .fetch_optional(&mut *tx)
        .await?;
        let end = i64::try_from(batch.end_offset).unwrap_or(i64::MAX);
        if committed.is_some_and(|c| batch.already_held(c.max(0) as u64)) {
            return Ok(false);
        }
        if self.logs {
            insert_logs(&mut tx, &batch.events).await?;
        }
        if self.aggregated {
            upsert_patterns(&mut tx, &batch.events).await?;
        }
        if self.events {
            insert_log_events(&mut tx, &batch.events).await?;
        }
        let tables = signals::Tables { logs: self.logs, aggregated: self.aggregated, alerts: self.alerts };
        signals::apply(&mut tx, &batch.signals, tables).await?;
        // A tick is not from the journal; the offset never moves back.
        sqlx::query(
            "INSERT INTO sluice_offsets (instance, output, journal_offset, updated_at) VALUES ($1, $2, $3, NOW())
             ON CONFLICT (instance, output) DO UPDATE SET
               journal_offset = GREATEST(sluice_offsets.journal_offset, EXCLUDED.journal_offset), updated_at = NOW()",
        )
        .bind(&self.instance)
        .bind(&self.output)
        .bind(end)
        .execute(&mut *tx)
        .await?;
        tx.commit().await.map_err(PostgresError::Commit)?;
        Ok(true)
    }
}

async fn insert_logs(tx: &mut Transaction<'_, Postgres>, events: &[Event]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let n = events.len();
    let mut ids = Vec::with_capacity(n);
    let mut timestamps = Vec::with_capacity(n);
    let mut received = Vec::with_capacity(n);
    let mut levels = Vec::with_capacity(n);
    let mut sources = Vec::with_capacity(n);
    let mut modules = Vec::with_capacity(n);
    let mut functions = Vec::with_capacity(n);
    let mut files = Vec::with_capacity(n);
    let mut lines: Vec<Option<i32>> = Vec::with_capacity(n);
    let mut topics = Vec::with_capacity(n);
    let mut messages = Vec::with_capacity(n);
    let mut users = Vec::with_capacity(n);
    let mut sessions = Vec::with_capacity(n);
    let mut traces = Vec::with_capacity(n);
    let mut attributes = Vec::with_capacity(n);
    let mut patterns = Vec::with_capacity(n);
    let mut insights = Vec::with_capacity(n);
    let mut inputs = Vec::with_capacity(n);
    for e in events {
        ids.push(clean(&e.id));
        timestamps.push(format_ns(e.timestamp_ns));
        received.push(format_ns(e.received_ns));
        levels.push(clean(e.stored_level()));
        sources.push(e.source.as_deref().map(clean));
        modules.push(e.module.as_deref().map(clean));
        functions.push(e.function.as_deref().map(clean));
        files.push(e.file.as_deref().map(clean));
        lines.push(e.line.and_then(|l| i32::try_from(l).ok()));
        topics.push(e.topic.as_deref().map(clean));
        messages.push(clean(e.stored_message()));
        users.push(e.user_id.as_deref().map(clean));
        sessions.push(e.session_id.as_deref().map(clean));
        traces.push(e.trace_id.as_deref().map(clean));
        attributes.push(json_text(&e.attributes_json()));
        patterns.push(e.pattern.as_ref().map(|p| clean(&p.id)));
        insights.push(e.insight.as_deref().map(json_text));
        inputs.push(clean(&e.input));
    }
    sqlx::query(
        "INSERT INTO logs (event_id, timestamp, received_at, level, source, module, function_name, file_path,
                           line_number, topic, message, user_uuid, session_id, trace_id, attributes, pattern_id,
                           insight, input)
         SELECT id, ts::timestamptz, rcv::timestamptz, lvl, src, md, fn, fp, ln, tp, msg, usr, ses, trc,
                attrs::jsonb, pat, ins::jsonb, inp
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::int4[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                     $15::text[], $16::text[], $17::text[], $18::text[])
              AS t(id, ts, rcv, lvl, src, md, fn, fp, ln, tp, msg, usr, ses, trc, attrs, pat, ins, inp)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(ids)
    .bind(timestamps)
    .bind(received)
    .bind(levels)
    .bind(sources)
    .bind(modules)
    .bind(functions)
    .bind(files)
    .bind(lines)
    .bind(topics)
    .bind(messages)
    .bind(users)
    .bind(sessions)
    .bind(traces)
    .bind(attributes)
    .bind(patterns)
    .bind(insights)
    .bind(inputs)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One pattern's change from one batch.
struct PatternDelta {
    template: String,
    count: i32,
    level: String,
    source: Option<String>,
    first_ns: i64,
    last_ns: i64,
    samples: Vec<String>,
    metadata: String,
}

async fn upsert_patterns(tx: &mut Transaction<'_, Postgres>, events: &[Event]) -> Result<(), sqlx::Error> {
    let mut deltas: HashMap<&str, PatternDelta> = HashMap::new();
    for event in events {
        let Some(pattern) = &event.pattern else { continue };
        let delta = deltas.entry(&*pattern.id).or_insert_with(|| PatternDelta {
            template: String::new(),
            count: 0,
            level: String::new(),
            source: None,
            first_ns: event.timestamp_ns,
            last_ns: event.timestamp_ns,
            samples: Vec::new(),
            metadata: String::new(),
        });
        delta.template = clean(&pattern.template);
        delta.count += 1;
        delta.level = clean(event.stored_level());
        if let Some(source) = &event.source {
            delta.source = Some(clean(source));
        }
        delta.first_ns = delta.first_ns.min(event.timestamp_ns);
        delta.last_ns = delta.last_ns.max(event.timestamp_ns);
        let message = clean(event.stored_message());
        if delta.samples.len() < MAX_SAMPLES && !delta.samples.contains(&message) {
            delta.samples.push(message);
        }
        if !event.attributes.is_empty() {
            delta.metadata = json_text(&event.attributes_json());
        }
    }
    if deltas.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::new();
    let mut templates = Vec::new();
    let mut counts = Vec::new();
    let mut levels = Vec::new();
    let mut sources = Vec::new();
    let mut firsts = Vec::new();
    let mut lasts = Vec::new();
    let mut metadata = Vec::new();
    let mut samples = Vec::new();
    for (id, d) in deltas {
        ids.push(clean(id));
        templates.push(d.template);
        counts.push(d.count);
        levels.push(d.level);
        sources.push(d.source);
        firsts.push(format_ns(d.first_ns));
        lasts.push(format_ns(d.last_ns));
        metadata.push(if d.metadata.is_empty() { "{}".to_string() } else { d.metadata });
        samples.push(serde_json::to_string(&d.samples).unwrap_or_else(|_| "[]".into()));
    }
    // `first_seen`/`last_seen` are seed 001's `TIMESTAMP` (no zone): they hold UTC.
    sqlx::query(&format!(
        "INSERT INTO aggregated_logs AS a (pattern_id, message_pattern, count, level, source, first_seen, last_seen,
                                           metadata, sample_messages)
         SELECT id, tpl, cnt, lvl, src, (f::timestamptz AT TIME ZONE 'UTC'), (l::timestamptz AT TIME ZONE 'UTC'),
                md::jsonb, sm::jsonb
         FROM UNNEST($1::text[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::text[]) AS t(id, tpl, cnt, lvl, src, f, l, md, sm)
         ON CONFLICT (pattern_id) DO UPDATE SET
           message_pattern = EXCLUDED.message_pattern,
           count = a.count + EXCLUDED.count,
           level = EXCLUDED.level,
           source = COALESCE(EXCLUDED.source, a.source),
           first_seen = LEAST(a.first_seen, EXCLUDED.first_seen),
           last_seen = GREATEST(a.last_seen, EXCLUDED.last_seen),
           metadata = CASE WHEN length(a.metadata::text) > {MAX_METADATA_BYTES} THEN a.metadata
                           ELSE COALESCE(a.metadata, '{{}}'::jsonb) || EXCLUDED.metadata END,
           sample_messages = CASE WHEN jsonb_array_length(COALESCE(a.sample_messages, '[]')) >= {MAX_SAMPLES}
                                  THEN a.sample_messages
                                  ELSE (SELECT COALESCE(jsonb_agg(s.v), '[]'::jsonb) FROM (
                                          SELECT DISTINCT v FROM jsonb_array_elements(
                                              COALESCE(a.sample_messages, '[]') || EXCLUDED.sample_messages) AS e(v)
                                          LIMIT {MAX_SAMPLES}) AS s)
                             END"
    ))
    .bind(ids)
    .bind(templates)
    .bind(counts)
    .bind(levels)
    .bind(sources)
    .bind(firsts)
    .bind(lasts)
    .bind(metadata)
    .bind(samples)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_log_events(tx: &mut Transaction<'_, Postgres>, events: &[Event]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = events.iter().map(|e| clean(&e.id)).collect();
    let sessions: Vec<Option<String>> = events.iter().map(|e| e.session_id.as_deref().map(clean)).collect();
    let types: Vec<String> = events.iter().map(|e| clean(e.topic.as_deref().unwrap_or("event"))).collect();
    let payloads: Vec<String> = events.iter().map(|e| json_text(&e.attributes_json())).collect();
    let created: Vec<String> = events.iter().map(|e| format_ns(e.timestamp_ns)).collect();
    sqlx::query(
        "INSERT INTO log_events (event_id, session_id, event_type, payload, created_at)
         SELECT id, ses, typ, pl::jsonb, ts::timestamptz
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(id, ses, typ, pl, ts)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(ids)
    .bind(sessions)
    .bind(types)
    .bind(payloads)
    .bind(created)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// PostgreSQL text cannot hold NUL; it becomes U+FFFD rather than failing the batch forever.
pub(super) fn clean(text: &str) -> String {
    if text.contains('\0') { text.replace('\0', "\u{FFFD}") } else { text.to_string() }
}

/// JSON text PostgreSQL will take as `jsonb`: valid JSON without `\u0000`; anything else is kept as
/// a JSON string of its (cleaned) text.
fn json_text(text: &str) -> String {
    let valid = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
    if valid && !text.contains("\\u0000") {
        return text.to_string();
    }
    let cleaned = clean(text).replace("\\u0000", "\u{FFFD}");
    if serde_json::from_str::<serde::de::IgnoredAny>(&cleaned).is_ok() {
        cleaned
    } else {
        serde_json::Value::String(cleaned).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::{clean, json_text};

    #[test]
    fn text_postgres_would_refuse_is_made_safe() {
        assert_eq!(clean("a\0b"), "a\u{FFFD}b");
        assert_eq!(json_text(r#"{"a":1}"#), r#"{"a":1}"#);
        assert_eq!(json_text("not json"), r#""not json""#);
        assert_eq!(json_text(r#"{"a":"x\u0000y"}"#), "{\"a\":\"x\u{FFFD}y\"}");
    }
}
