//! Events per minute, level and source, kept in memory so the timeline never counts millions of
//! rows per request.
//!
//! The store's rows are only ever appended (the writer assigns ids in commit order; nothing
//! deletes rows or changes their time, level or source), so the counts are folded in by id: every
//! row up to [`State::folded`] is counted once. A thread of its own (`store-volume`, lowest CPU
//! priority, its own connection) catches up after start and then follows the store every second;
//! a timeline query folds in the last rows itself before it answers. Until the first catch-up is
//! done, or for a window this cannot answer (buckets not whole minutes, minutes older than it
//! keeps), the timeline counts in SQL as before. Memory is bounded: beyond [`MAX_ENTRIES`] counts
//! the oldest minutes are let go, and beyond [`MAX_NAMES`] distinct levels and sources it stops.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use libsql::Connection;

use super::StoreError;

/// Most (minute, level, source) counts held; about 40 bytes each.
pub const MAX_ENTRIES: usize = 250_000;
/// Most distinct levels and sources held; past it the timeline counts in SQL.
pub const MAX_NAMES: usize = 10_000;
/// Rows folded per statement, so no fold holds a read transaction long.
const CHUNK_ROWS: i64 = 20_000;
/// How often the background thread folds in new rows.
const FOLLOW: Duration = Duration::from_secs(1);
/// The pause between two chunks while catching up: a reader that never pauses would keep the
/// writer's checkpoints from ever completing, and the WAL file would grow without bound.
const CATCH_UP_PAUSE: Duration = Duration::from_millis(100);

const MINUTE_NS: i64 = 60_000_000_000;

/// Counts per minute, level and source (see the module doc).
#[derive(Debug, Default)]
pub struct Volume {
    state: Mutex<State>,
    /// Serialises folding, which spans statements.
    fold: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    /// Every row with an id up to this one is counted.
    folded: i64,
    /// The first catch-up is done.
    ready: bool,
    /// Past [`MAX_NAMES`]; the timeline counts in SQL from then on.
    disabled: bool,
    /// Minutes (since the epoch) before this one are not held.
    floor: i64,
    /// Per minute: (level, source, count), names interned in `names`.
    minutes: BTreeMap<i64, Vec<(u32, u32, u64)>>,
    entries: usize,
    names: Vec<Option<String>>,
    ids: HashMap<Option<String>, u32>,
}

/// One minute's count for a level and source, as the timeline reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count<'a> {
    pub minute: i64,
    pub level: &'a str,
    pub source: Option<&'a str>,
    pub count: u64,
}

impl State {
    fn intern(&mut self, name: Option<String>) -> Option<u32> {
        if let Some(&id) = self.ids.get(&name) {
            return Some(id);
        }
        if self.names.len() >= MAX_NAMES {
            return None;
        }
        let id = self.names.len() as u32;
        self.names.push(name.clone());
        self.ids.insert(name, id);
        Some(id)
    }

    fn add(&mut self, minute: i64, level: String, source: Option<String>, count: u64) {
        if minute < self.floor || self.disabled {
            return;
        }
        let (Some(level), Some(source)) = (self.intern(Some(level)), self.intern(source)) else {
            tracing::warn!(max = MAX_NAMES, "too many distinct levels and sources; the timeline counts in SQL");
            self.disabled = true;
            self.minutes.clear();
            return;
        };
        let counts = self.minutes.entry(minute).or_default();
        match counts.iter_mut().find(|(l, s, _)| (*l, *s) == (level, source)) {
            Some(entry) => entry.2 += count,
            None => {
                counts.push((level, source, count));
                self.entries += 1;
            }
        }
        while self.entries > MAX_ENTRIES {
            let Some((oldest, dropped)) = self.minutes.pop_first() else { break };
            self.entries -= dropped.len();
            self.floor = oldest + 1;
        }
    }
}

/// The unix minute of a stored timestamp's `YYYY-MM-DDTHH:MM` prefix.
fn minute_of(prefix: &str) -> Option<i64> {
    let time = chrono::NaiveDateTime::parse_from_str(&format!("{prefix}:00"), "%Y-%m-%dT%H:%M:%S").ok()?;
    Some(time.and_utc().timestamp().div_euclid(60))
}

impl Volume {
    /// Folds in up to `max_rows` rows the counts do not hold yet. Returns whether it caught up.
    pub async fn fold(&self, conn: &Connection, max_rows: i64) -> Result<bool, StoreError> {
        let _folding = self.fold.lock().await;
        let mut rows = conn.query("SELECT max(id) FROM logs", ()).await?;
        let top = match rows.next().await? {
            Some(row) => row.get::<Option<i64>>(0)?.unwrap_or(0),
            None => 0,
        };
        drop(rows);
        let mut from = self.lock().folded;
        let mut budget = max_rows.max(1);
        while from < top && budget > 0 {
            let to = top.min(from.saturating_add(budget.min(CHUNK_ROWS)));
            let mut rows = conn
                .query(
                    "SELECT substr(timestamp, 1, 16), level, subsystem, count(*) FROM logs
                     WHERE id > ?1 AND id <= ?2 GROUP BY 1, 2, 3",
                    (from, to),
                )
                .await?;
            let mut counts = Vec::new();
            while let Some(row) = rows.next().await? {
                let prefix: String = row.get(0)?;
                let Some(minute) = minute_of(&prefix) else { continue };
                counts.push((minute, row.get::<String>(1)?, row.get::<Option<String>>(2)?, row.get::<i64>(3)? as u64));
            }
            drop(rows);
            let mut state = self.lock();
            for (minute, level, source, count) in counts {
                state.add(minute, level, source, count);
            }
            state.folded = to;
            drop(state);
            budget -= to - from;
            from = to;
        }
        Ok(from >= top)
    }

    /// Visits the counts of minutes `[from_ns, to_ns)`, if this holds them all; `None` when the
    /// caller must count in SQL.
    pub fn visit(&self, from_ns: i64, to_ns: i64, mut each: impl FnMut(Count<'_>)) -> Option<()> {
        let state = self.lock();
        if !state.ready || state.disabled || from_ns.rem_euclid(MINUTE_NS) != 0 {
            return None;
        }
        let (from, to) = (from_ns / MINUTE_NS, to_ns.div_euclid(MINUTE_NS));
        if from < state.floor {
            return None;
        }
        for (&minute, counts) in state.minutes.range(from..to) {
            for &(level, source, count) in counts {
                let name = |id: u32| state.names.get(id as usize).and_then(|n| n.as_deref());
                each(Count { minute, level: name(level).unwrap_or_default(), source: name(source), count });
            }
        }
        Some(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the thread that catches up and follows the store on `conn`; it ends once `volume`
    /// is dropped.
    pub fn follow(volume: &Arc<Volume>, conn: Connection) -> std::io::Result<()> {
        let weak: Weak<Volume> = Arc::downgrade(volume);
        std::thread::Builder::new().name("store-volume".into()).spawn(move || {
            super::readers::lower_priority();
            let runtime = match tokio::runtime::Builder::new_current_thread().build() {
                Ok(runtime) => runtime,
                Err(error) => return tracing::error!(%error, "the volume counter cannot start"),
            };
            loop {
                let Some(volume) = weak.upgrade() else { return };
                match runtime.block_on(volume.fold(&conn, CHUNK_ROWS)) {
                    Ok(true) => {
                        volume.lock().ready = true;
                        drop(volume);
                        std::thread::sleep(FOLLOW);
                    }
                    Ok(false) => {
                        drop(volume);
                        std::thread::sleep(CATCH_UP_PAUSE);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "counting the timeline's volume failed; retrying");
                        drop(volume);
                        std::thread::sleep(FOLLOW);
                    }
                }
            }
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_of_stored_timestamps() {
        assert_eq!(minute_of("1970-01-01T00:01"), Some(1));
        assert_eq!(minute_of("2024-05-01T12:00"), Some(1_714_564_800 / 60));
        assert_eq!(minute_of("garbage"), None);
    }

    #[test]
    fn counts_add_up_and_the_oldest_minutes_go_first() {
        let volume = Volume::default();
        {
            let mut state = volume.lock();
            state.ready = true;
            state.add(5, "INFO".into(), Some("web".into()), 2);
            state.add(5, "INFO".into(), Some("web".into()), 3);
            state.add(6, "ERROR".into(), None, 1);
            assert_eq!(state.entries, 2);
        }
        let mut seen = Vec::new();
        volume.visit(5 * MINUTE_NS, 7 * MINUTE_NS, |c| seen.push((c.minute, c.level.to_string(), c.count)));
        assert_eq!(seen, vec![(5, "INFO".to_string(), 5), (6, "ERROR".to_string(), 1)]);
        assert!(volume.visit(5 * MINUTE_NS + 1, 7 * MINUTE_NS, |_| {}).is_none(), "not on a minute");

        let mut state = volume.lock();
        for minute in 0..(MAX_ENTRIES as i64 + 10) {
            state.add(100 + minute, "INFO".into(), None, 1);
        }
        assert!(state.entries <= MAX_ENTRIES);
        assert!(state.floor > 100, "the oldest minutes were let go");
        drop(state);
        assert!(volume.visit(5 * MINUTE_NS, 7 * MINUTE_NS, |_| {}).is_none(), "older than it keeps");
    }
}
