//! The store's single writer: one transaction per batch, carrying the journal offset with it.

use std::collections::HashMap;
use std::sync::Arc;

use libsql::params::Params;
use libsql::{Connection, Statement, Value};

use super::StoreError;
use super::checkpoint::Checkpointer;
use crate::event::{Event, format_ns};
use crate::outputs::Batch;

/// Columns of one `logs` row, in insert order.
const LOG_COLUMNS: &[&str] = &[
    "event_id",
    "timestamp",
    "received_at",
    "level",
    "subsystem",
    "module",
    "function_name",
    "file_path",
    "line_number",
    "topic",
    "message",
    "user_uuid",
    "session_id",
    "trace_id",
    "extra",
    "pattern_id",
    "insight",
    "input",
];
/// Rows per multi-row INSERT: large enough to amortise the statement, well under SQLite's
/// parameter limit.
const ROWS_PER_INSERT: usize = 64;
/// Samples kept per pattern.
const MAX_SAMPLES: usize = 5;

/// Writes batches into the store. Owned by one thread.
pub struct StoreWriter {
    conn: Connection,
    full_insert: Option<Statement>,
    /// Copies what this writer commits into the database file, on its own thread.
    _checkpointer: Checkpointer,
}

impl std::fmt::Debug for StoreWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWriter").finish_non_exhaustive()
    }
}

impl StoreWriter {
    pub(super) fn new(conn: Connection, checkpointer: Checkpointer) -> Self {
        StoreWriter { conn, full_insert: None, _checkpointer: checkpointer }
    }

    /// Commits a group of consecutive batches in one transaction: each one's events (when it
    /// stores events), pattern counts, dead letters, state writes and signals, and the journal
    /// offset the last of them ends at, all or nothing. A batch at or below the committed offset
    /// was stored before a crash and is skipped whole. Returns, per batch, whether it was applied.
    ///
    /// One transaction (and one sync) per group rather than per batch is what keeps small
    /// batches (one event per request, a quiet broker) from costing a sync each.
    ///
    /// A batch's `rows`, when given, are its `logs` rows already encoded ([`EncodedRows::encode`],
    /// on another thread); they are used up by this call, and a retry encodes them again.
    pub async fn write(&mut self, group: &mut [(Arc<Batch>, Option<EncodedRows>)]) -> Result<Vec<bool>, StoreError> {
        self.conn.execute("BEGIN IMMEDIATE", ()).await?;
        match self.write_in_transaction(group).await {
            Ok(applied) => {
                self.conn.execute("COMMIT", ()).await?;
                Ok(applied)
            }
            Err(e) => {
                let _ = self.conn.execute("ROLLBACK", ()).await;
                Err(e)
            }
        }
    }

    async fn write_in_transaction(
        &mut self,
        group: &mut [(Arc<Batch>, Option<EncodedRows>)],
    ) -> Result<Vec<bool>, StoreError> {
        let mut offset = self.conn.query("SELECT value FROM meta WHERE key = 'journal_offset'", ()).await?;
        let committed: u64 = match offset.next().await? {
            Some(row) => row.get::<String>(0)?.parse().unwrap_or(0),
            None => 0,
        };
        drop(offset);
        let mut applied = Vec::with_capacity(group.len());
        let mut end = None;
        for (batch, rows) in group.iter_mut() {
            if batch.already_held(committed) {
                applied.push(false);
                continue;
            }
            self.write_batch(batch, rows.take()).await?;
            // A tick is not from the journal: the offset stays where the last batch left it.
            if !batch.tick {
                end = Some(batch.end_offset);
            }
            applied.push(true);
        }
        if let Some(end) = end {
            self.conn
                .execute(
                    "INSERT INTO meta (key, value) VALUES ('journal_offset', ?1)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [end.to_string()],
                )
                .await?;
        }
        Ok(applied)
    }

    async fn write_batch(&mut self, batch: &Batch, rows: Option<EncodedRows>) -> Result<(), StoreError> {
        if batch.store_events {
            let rows = rows.unwrap_or_else(|| EncodedRows::encode(&batch.events));
            self.insert_logs(rows).await?;
            self.upsert_patterns(&batch.events).await?;
        }
        self.insert_dead_letters(batch).await?;
        super::signals::apply(&self.conn, &batch.signals).await?;
        for write in &batch.state {
            match &write.value {
                Some(value) => {
                    self.conn
                        .execute(
                            "INSERT INTO guest_state (stage, key, value) VALUES (?1, ?2, ?3)
                             ON CONFLICT(stage, key) DO UPDATE SET value = excluded.value",
                            (write.stage.as_str(), write.key.as_str(), value.clone()),
                        )
                        .await?;
                }
                None => {
                    self.conn
                        .execute(
                            "DELETE FROM guest_state WHERE stage = ?1 AND key = ?2",
                            (write.stage.as_str(), write.key.as_str()),
                        )
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn insert_logs(&mut self, rows: EncodedRows) -> Result<(), StoreError> {
        for (params, n) in rows.chunks {
            if n == ROWS_PER_INSERT {
                if self.full_insert.is_none() {
                    self.full_insert = Some(self.conn.prepare(&insert_sql(ROWS_PER_INSERT)).await?);
                }
                if let Some(stmt) = &self.full_insert {
                    let result = stmt.execute(Params::Positional(params)).await;
                    stmt.reset();
                    result?;
                }
            } else {
                self.conn.execute(&insert_sql(n), Params::Positional(params)).await?;
            }
        }
        Ok(())
    }

    async fn upsert_patterns(&mut self, events: &[Event]) -> Result<(), StoreError> {
        let mut patterns: HashMap<&str, PatternDelta<'_>> = HashMap::new();
        for event in events {
            let Some(pattern) = &event.pattern else { continue };
            let delta = patterns.entry(&*pattern.id).or_insert_with(|| PatternDelta {
                template: &pattern.template,
                count: 0,
                level: event.stored_level(),
                source: event.source.as_deref(),
                first_ns: event.timestamp_ns,
                last_ns: event.timestamp_ns,
                samples: Vec::new(),
                metadata: None,
            });
            delta.template = &pattern.template;
            delta.count += 1;
            delta.level = event.stored_level();
            delta.source = event.source.as_deref().or(delta.source);
            delta.first_ns = delta.first_ns.min(event.timestamp_ns);
            delta.last_ns = delta.last_ns.max(event.timestamp_ns);
            if delta.samples.len() < MAX_SAMPLES && !delta.samples.contains(&event.stored_message()) {
                delta.samples.push(event.stored_message());
            }
            if !event.attributes.is_empty() {
                delta.metadata = Some(event);
            }
        }
        for (id, d) in patterns {
            let samples = serde_json::to_string(&d.samples).unwrap_or_else(|_| "[]".into());
            // Only the last event's attributes are kept, so only they are encoded.
            let metadata = d.metadata.map_or_else(|| "{}".to_string(), Event::attributes_json);
            self.conn
                .execute(
                    "INSERT INTO patterns (pattern_id, pattern, count, level, source, first_seen, last_seen, metadata, samples)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT(pattern_id) DO UPDATE SET
                       pattern = excluded.pattern,
                       count = patterns.count + excluded.count,
                       level = excluded.level,
                       source = coalesce(excluded.source, patterns.source),
                       first_seen = min(patterns.first_seen, excluded.first_seen),
                       last_seen = max(patterns.last_seen, excluded.last_seen),
                       metadata = CASE WHEN length(patterns.metadata) > 4096 THEN patterns.metadata
                                       ELSE json_patch(patterns.metadata, excluded.metadata) END,
                       samples = CASE WHEN json_array_length(patterns.samples) >= 5 THEN patterns.samples
                                      ELSE (SELECT json_group_array(value) FROM (
                                              SELECT value FROM json_each(patterns.samples)
                                              UNION SELECT value FROM json_each(excluded.samples) LIMIT 5))
                                 END",
                    vec![
                        Value::Text(id.to_string()),
                        Value::Text(d.template.to_string()),
                        Value::Integer(d.count),
                        Value::Text(d.level.to_string()),
                        d.source.map_or(Value::Null, |s| Value::Text(s.to_string())),
                        Value::Text(format_ns(d.first_ns)),
                        Value::Text(format_ns(d.last_ns)),
                        Value::Text(metadata),
                        Value::Text(samples),
                    ],
                )
                .await?;
        }
        Ok(())
    }

    async fn insert_dead_letters(&mut self, batch: &Batch) -> Result<(), StoreError> {
        for dead in &batch.dead_letters {
            let event = serde_json::to_string(&dead.event).unwrap_or_else(|_| "{}".into());
            self.conn
                .execute(
                    "INSERT INTO dead_letters (event_id, stage, guest, guest_version, reason, event, failed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    vec![
                        Value::Text(dead.event.id.clone()),
                        Value::Text(dead.stage.clone()),
                        Value::Text(dead.guest.clone()),
                        Value::Text(dead.guest_version.clone()),
                        Value::Text(dead.reason.clone()),
                        Value::Text(event),
                        Value::Text(format_ns(dead.failed_ns)),
                    ],
                )
                .await?;
        }
        Ok(())
    }
}

struct PatternDelta<'a> {
    template: &'a str,
    count: i64,
    level: &'a str,
    source: Option<&'a str>,
    first_ns: i64,
    last_ns: i64,
    samples: Vec<&'a str>,
    /// The last event of the pattern that has attributes: they become the pattern's metadata.
    metadata: Option<&'a Event>,
}

/// A batch's `logs` rows as statement parameters, in chunks of up to [`ROWS_PER_INSERT`] rows:
/// the formatting and copying a row needs, done before the writer's turn so that the writer's
/// thread (the one step of the pipeline that cannot run in parallel) only executes statements.
#[derive(Debug, Default)]
pub struct EncodedRows {
    /// Each chunk's parameters and its number of rows.
    chunks: Vec<(Vec<Value>, usize)>,
}

impl EncodedRows {
    pub fn encode(events: &[Event]) -> Self {
        let chunks = events
            .chunks(ROWS_PER_INSERT)
            .map(|chunk| {
                let mut params = Vec::with_capacity(chunk.len() * LOG_COLUMNS.len());
                for event in chunk {
                    params.extend(log_row(event));
                }
                (params, chunk.len())
            })
            .collect();
        EncodedRows { chunks }
    }
}

fn insert_sql(rows: usize) -> String {
    let placeholders = format!("({})", vec!["?"; LOG_COLUMNS.len()].join(","));
    format!("INSERT OR IGNORE INTO logs ({}) VALUES {}", LOG_COLUMNS.join(","), vec![placeholders; rows].join(","))
}

fn text(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::Text(s.clone()))
}

fn log_row(e: &Event) -> [Value; 18] {
    [
        Value::Text(e.id.clone()),
        Value::Text(format_ns(e.timestamp_ns)),
        Value::Text(format_ns(e.received_ns)),
        Value::Text(e.stored_level().to_string()),
        text(&e.source),
        text(&e.module),
        text(&e.function),
        text(&e.file),
        e.line.map_or(Value::Null, |l| Value::Integer(i64::from(l))),
        text(&e.topic),
        Value::Text(e.stored_message().to_string()),
        text(&e.user_id),
        text(&e.session_id),
        text(&e.trace_id),
        Value::Text(e.attributes_json()),
        e.pattern.as_ref().map_or(Value::Null, |p| Value::Text(p.id.to_string())),
        text(&e.insight),
        Value::Text(e.input.clone()),
    ]
}
