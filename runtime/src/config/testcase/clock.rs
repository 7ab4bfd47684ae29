//! A case's clock (`clock: {start, step}`) and the timeline it gives the case's entries.
//!
//! The timeline is computed here, from the schema alone, so that `validate` can refuse a case
//! whose times leave the clock's range and the harness only reads the times off.

use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::TestInput;

/// When a case's records are received, instead of the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    /// When the first entry happens, RFC 3339 (`2026-12-01T12:00:00Z`, any offset); stored as
    /// nanoseconds since the Unix epoch. Must be after the epoch: the host clock reads 0 as
    /// "wall clock".
    #[serde(deserialize_with = "rfc3339_ns")]
    pub start: i64,
    /// How long after the entry before it each record is received (`250ms`, `1s`, `5m`).
    #[serde(default = "default_step", deserialize_with = "crate::config::pipeline::duration")]
    pub step: Duration,
}

fn default_step() -> Duration {
    Duration::from_secs(1)
}

impl ClockSpec {
    /// The time of every entry, in nanoseconds: a record is received `step` after the entry
    /// before it (the first entry at `start`), a tick happens its own duration after the entry
    /// before it (after `start` when it comes first). Without ticks, record `i` is received at
    /// `start + i × step`. Fails when a time does not fit the clock (past the year 2262).
    pub fn timeline(&self, entries: &[TestInput]) -> Result<Vec<i64>, String> {
        let mut now = self.start;
        let mut times = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let gap = match entry {
                TestInput::Record(_) if i == 0 => Duration::ZERO,
                TestInput::Record(_) => self.step,
                TestInput::Tick(advance) => *advance,
            };
            now = i64::try_from(gap.as_nanos())
                .ok()
                .and_then(|gap| now.checked_add(gap))
                .ok_or_else(|| format!("entry {i} would happen after the latest time the clock can show"))?;
            times.push(now);
        }
        Ok(times)
    }
}

fn rfc3339_ns<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let text = String::deserialize(d)?;
    let invalid = |why: &str| de::Error::custom(format!("invalid start `{text}`: {why}"));
    let time = chrono::DateTime::parse_from_rfc3339(&text)
        .map_err(|e| invalid(&format!("{e}; write RFC 3339, e.g. `2026-12-01T12:00:00Z`")))?;
    match time.timestamp_nanos_opt() {
        Some(ns) if ns > 0 => Ok(ns),
        Some(_) => Err(invalid("the clock starts after 1970-01-01T00:00:00Z")),
        None => Err(invalid("the clock reaches only to the year 2262")),
    }
}
