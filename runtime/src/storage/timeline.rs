//! Volume over time for the dashboard: events per time bucket and level, the busiest sources, and
//! per-pattern volume for sparklines. Times are the events' own timestamps (the indexed column).
//!
//! The timeline reads the in-memory counts per minute, level and source ([`super::volume`]) when
//! its buckets are whole minutes (any bucket of a minute or more is) and those counts are ready;
//! otherwise, and for pattern volume, it counts in SQL so only the counts leave the store. Both
//! run on the reader pool under its time limit.

use std::collections::HashMap;

use libsql::{Connection, Value};
use serde::Serialize;

use super::query::bind_list;
use super::volume::Volume;
use super::{Store, StoreError};
use crate::event::format_ns;

/// Most buckets one query may ask for.
pub const MAX_BUCKETS: u32 = 1000;
/// Most patterns one volume query may name.
pub const MAX_PATTERNS: usize = 500;
/// Sources listed by [`Store::timeline`], busiest first.
const TOP_SOURCES: u32 = 20;
/// Most new rows a timeline query folds into the volume counts itself before it answers; past
/// that it counts in SQL and leaves the rest to the counting thread.
const FOLD_ROWS: i64 = 200_000;

/// A time window cut into equal buckets; `to` is exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_ns: i64,
    pub bucket_ns: i64,
    pub buckets: u32,
}

impl Window {
    /// The `buckets` buckets that end at `end_ns`'s bucket boundary (rounded up, so the current
    /// bucket is the last) and cover at least `span_ns`. Buckets are whole seconds, and whole
    /// minutes once longer than a minute (so the per-minute counts can answer).
    pub fn ending_at(end_ns: i64, span_ns: i64, buckets: u32) -> Window {
        let buckets = buckets.clamp(1, MAX_BUCKETS);
        let second = 1_000_000_000i64;
        // Both operands are positive; `i64::div_ceil` is not stable.
        let ceil = |a: i64, b: i64| (a + b - 1) / b;
        let per_bucket = ceil(span_ns.max(1), i64::from(buckets));
        let unit = if per_bucket > 60 * second { 60 * second } else { second };
        let bucket_ns = ceil(per_bucket, unit).max(1) * unit;
        let to_ns = end_ns.div_euclid(bucket_ns) * bucket_ns + bucket_ns;
        Window { from_ns: to_ns - bucket_ns * i64::from(buckets), bucket_ns, buckets }
    }

    pub fn to_ns(&self) -> i64 {
        self.from_ns + self.bucket_ns * i64::from(self.buckets)
    }

    /// SQL for the bucket index of the row's `timestamp`: parameters `?1` (the window's start
    /// in seconds) and `?2` (the bucket length in seconds), which [`Window::filter`] puts first.
    const BUCKET_SQL: &str = "(CAST(strftime('%s', timestamp) AS INTEGER) - ?1) / ?2";

    /// The `WHERE` clause for this window and `filter`, and its parameters; with `bucketed`, the
    /// two parameters of [`Window::BUCKET_SQL`] come first.
    fn filter(&self, filter: &TimelineFilter, bucketed: bool) -> (String, Vec<Value>) {
        let second = 1_000_000_000;
        let mut params = Vec::new();
        if bucketed {
            params.push(Value::Integer(self.from_ns.div_euclid(second)));
            params.push(Value::Integer(self.bucket_ns / second));
        }
        params.push(Value::Text(format_ns(self.from_ns)));
        params.push(Value::Text(format_ns(self.to_ns())));
        let mut sql = format!("WHERE timestamp >= ?{} AND timestamp < ?{}", params.len() - 1, params.len());
        sql.push_str(&filter.clauses(&mut params));
        (sql, params)
    }

    fn index(&self, bucket: i64) -> Option<usize> {
        usize::try_from(bucket).ok().filter(|&b| b < self.buckets as usize)
    }
}

/// Events per bucket, oldest first.
#[derive(Debug, Serialize)]
pub struct Timeline {
    pub from: String,
    pub to: String,
    pub bucket_seconds: i64,
    pub buckets: Vec<Bucket>,
    /// The busiest sources in the window; an event without a source counts as `null`.
    pub sources: Vec<SourceCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    pub start: String,
    pub start_unix: i64,
    pub total: u64,
    /// Counts by canonical level; levels with no event are left out.
    pub levels: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
pub struct SourceCount {
    pub source: Option<String>,
    pub count: u64,
}

/// Per-pattern counts per bucket, oldest first, for the patterns asked about.
#[derive(Debug, Serialize)]
pub struct PatternVolume {
    pub from: String,
    pub to: String,
    pub bucket_seconds: i64,
    pub series: HashMap<String, Vec<u64>>,
}

/// Optional narrowing of the timeline, as in the history query.
#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    /// Canonical levels; empty means all.
    pub levels: Vec<String>,
    pub source: Option<String>,
}

impl TimelineFilter {
    /// ` AND ...` clauses, numbering their parameters after those already in `params`.
    fn clauses(&self, params: &mut Vec<Value>) -> String {
        let mut sql = String::new();
        if !self.levels.is_empty() {
            sql.push_str(&format!(" AND level IN ({})", bind_list(params, &self.levels)));
        }
        if let Some(source) = &self.source {
            params.push(Value::Text(source.clone()));
            sql.push_str(&format!(" AND subsystem = ?{}", params.len()));
        }
        sql
    }
}

impl Store {
    /// Events per bucket and level in `window`, and the busiest sources in it.
    pub async fn timeline(&self, window: Window, filter: &TimelineFilter) -> Result<Timeline, StoreError> {
        let (filter, volume) = (filter.clone(), self.volume.clone());
        self.readers.run(move |conn| async move { timeline(&conn, &volume, window, &filter).await }).await
    }

    /// Each named pattern's events per bucket in `window` (zeros for a pattern with none).
    pub async fn pattern_volume(&self, window: Window, ids: &[String]) -> Result<PatternVolume, StoreError> {
        let ids = ids.to_vec();
        self.readers.run(move |conn| async move { pattern_volume(&conn, window, &ids).await }).await
    }
}

/// [`Store::timeline`] on a reader: from the volume counts when they can answer, else in SQL.
async fn timeline(
    conn: &Connection,
    volume: &Volume,
    window: Window,
    filter: &TimelineFilter,
) -> Result<Timeline, StoreError> {
    let second = 1_000_000_000;
    let mut buckets: Vec<Bucket> = (0..window.buckets)
        .map(|i| {
            let start = window.from_ns + window.bucket_ns * i64::from(i);
            Bucket { start: format_ns(start), start_unix: start / second, total: 0, levels: Default::default() }
        })
        .collect();
    let counted = match window.bucket_ns % (60 * second) == 0 && volume.fold(conn, FOLD_ROWS).await? {
        true => from_volume(volume, window, filter, &mut buckets),
        false => None,
    };
    let sources = match counted {
        Some(sources) => sources,
        None => in_sql(conn, window, filter, &mut buckets).await?,
    };
    Ok(Timeline {
        from: format_ns(window.from_ns),
        to: format_ns(window.to_ns()),
        bucket_seconds: window.bucket_ns / second,
        buckets,
        sources,
    })
}

/// Fills `buckets` from the per-minute counts and returns the busiest sources, or `None` (and
/// `buckets` untouched) when the counts cannot answer for `window`.
fn from_volume(
    volume: &Volume,
    window: Window,
    filter: &TimelineFilter,
    buckets: &mut [Bucket],
) -> Option<Vec<SourceCount>> {
    let mut sources: HashMap<Option<String>, u64> = HashMap::new();
    volume.visit(window.from_ns, window.to_ns(), |c| {
        if !filter.levels.is_empty() && !filter.levels.iter().any(|l| l == c.level) {
            return;
        }
        if filter.source.as_deref().is_some_and(|s| c.source != Some(s)) {
            return;
        }
        let Some(i) = window.index((c.minute * 60_000_000_000 - window.from_ns) / window.bucket_ns) else { return };
        buckets[i].total += c.count;
        *buckets[i].levels.entry(c.level.to_string()).or_default() += c.count;
        *sources.entry(c.source.map(str::to_string)).or_default() += c.count;
    })?;
    let mut sources: Vec<SourceCount> =
        sources.into_iter().map(|(source, count)| SourceCount { source, count }).collect();
    sources.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.source.cmp(&b.source)));
    sources.truncate(TOP_SOURCES as usize);
    Some(sources)
}

/// Fills `buckets` by counting in SQL and returns the busiest sources.
async fn in_sql(
    conn: &Connection,
    window: Window,
    filter: &TimelineFilter,
    buckets: &mut [Bucket],
) -> Result<Vec<SourceCount>, StoreError> {
    let (filter_sql, params) = window.filter(filter, true);
    let sql = format!("SELECT {} AS b, level, count(*) FROM logs {filter_sql} GROUP BY b, level", Window::BUCKET_SQL);
    let mut rows = conn.query(&sql, params).await?;
    while let Some(row) = rows.next().await? {
        let Some(i) = window.index(row.get::<i64>(0)?) else { continue };
        let count = row.get::<i64>(2)? as u64;
        buckets[i].total += count;
        *buckets[i].levels.entry(row.get::<String>(1)?).or_default() += count;
    }
    drop(rows);
    let (filter_sql, params) = window.filter(filter, false);
    let sql = format!(
        "SELECT subsystem, count(*) AS n FROM logs {filter_sql}
         GROUP BY subsystem ORDER BY n DESC, subsystem LIMIT {TOP_SOURCES}"
    );
    let mut rows = conn.query(&sql, params).await?;
    let mut sources = Vec::new();
    while let Some(row) = rows.next().await? {
        sources.push(SourceCount { source: row.get(0)?, count: row.get::<i64>(1)? as u64 });
    }
    Ok(sources)
}

/// [`Store::pattern_volume`] on a reader.
async fn pattern_volume(conn: &Connection, window: Window, ids: &[String]) -> Result<PatternVolume, StoreError> {
    let mut series: HashMap<String, Vec<u64>> =
        ids.iter().map(|id| (id.clone(), vec![0; window.buckets as usize])).collect();
    if !ids.is_empty() {
        let (filter_sql, mut params) = window.filter(&TimelineFilter::default(), true);
        let marks = bind_list(&mut params, ids);
        let sql = format!(
            "SELECT pattern_id, {} AS b, count(*) FROM logs {filter_sql} AND pattern_id IN ({marks})
             GROUP BY pattern_id, b",
            Window::BUCKET_SQL,
        );
        let mut rows = conn.query(&sql, params).await?;
        while let Some(row) = rows.next().await? {
            let id: String = row.get(0)?;
            let (Some(i), Some(counts)) = (window.index(row.get::<i64>(1)?), series.get_mut(&id)) else { continue };
            counts[i] += row.get::<i64>(2)? as u64;
        }
    }
    Ok(PatternVolume {
        from: format_ns(window.from_ns),
        to: format_ns(window.to_ns()),
        bucket_seconds: window.bucket_ns / 1_000_000_000,
        series,
    })
}

#[cfg(test)]
mod tests {
    use super::Window;

    const S: i64 = 1_000_000_000;

    #[test]
    fn a_window_ends_on_the_bucket_after_now_and_covers_the_span() {
        // 10:00:30 with an hour in 60 buckets: minute buckets, the last one holding 10:00:30.
        let now = 36_030 * S;
        let w = Window::ending_at(now, 3600 * S, 60);
        assert_eq!((w.bucket_ns, w.buckets), (60 * S, 60));
        assert_eq!(w.to_ns(), 36_060 * S);
        assert_eq!(w.from_ns, 36_060 * S - 3600 * S);
        assert_eq!(w.index((now / S - w.from_ns / S) / 60), Some(59));
        assert_eq!(w.index(60), None);
        assert_eq!(w.index(-1), None);
    }

    #[test]
    fn buckets_are_whole_seconds_and_bounded() {
        let w = Window::ending_at(0, 10 * S, 100);
        assert_eq!(w.bucket_ns, S);
        let w = Window::ending_at(0, 3600 * S, 1_000_000);
        assert_eq!(w.buckets, super::MAX_BUCKETS);
        assert_eq!(w.bucket_ns, 4 * S);
    }
}
