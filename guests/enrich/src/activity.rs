//! How often a pattern occurs: its total count and a short per-minute history, from which
//! rarity and bursts are read.
//!
//! Time is the pipeline clock (`now_ns`), not event time: bursts are about what arrives now, and
//! tests and replays drive the clock explicitly. The history is bounded: one bucket per minute for
//! the current minute and the [`HISTORY_MINUTES`] before it.

use serde::{Deserialize, Serialize};

/// One minute in nanoseconds.
pub const MINUTE_NS: i64 = 60_000_000_000;

/// Minutes before the current one that make up a pattern's "longer average".
pub const HISTORY_MINUTES: i64 = 15;

/// The minute `ns` falls in.
pub const fn minute_of(ns: i64) -> i64 {
    ns.div_euclid(MINUTE_NS)
}

/// A pattern's occurrences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Events seen in total.
    #[serde(rename = "c")]
    pub count: u64,
    /// When the pattern was first seen (pipeline clock, ns).
    #[serde(rename = "f")]
    pub first_seen_ns: i64,
    /// When the pattern was last seen (pipeline clock, ns); eviction removes the oldest.
    #[serde(rename = "l")]
    pub last_seen_ns: i64,
    /// `(minute, events)`, oldest first, only minutes with events, none older than the history.
    #[serde(rename = "b")]
    buckets: Vec<(i64, u64)>,
}

/// A pattern's rate now against its longer average.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Events in the current minute.
    pub current: u64,
    /// Mean events per minute over the history minutes since the pattern was first seen.
    pub average: f64,
}

impl Activity {
    /// A pattern first seen at `now_ns`, with no events counted yet.
    pub fn new(now_ns: i64) -> Self {
        Self { count: 0, first_seen_ns: now_ns, last_seen_ns: now_ns, buckets: Vec::new() }
    }

    /// Counts one event at `now_ns`. A clock that went backwards counts into the newest bucket.
    pub fn record(&mut self, now_ns: i64) {
        self.count += 1;
        self.last_seen_ns = self.last_seen_ns.max(now_ns);
        let minute = minute_of(now_ns);
        match self.buckets.last_mut() {
            Some((newest, events)) if *newest >= minute => *events += 1,
            _ => {
                self.buckets.retain(|&(m, _)| m >= minute - HISTORY_MINUTES);
                self.buckets.push((minute, 1));
            }
        }
    }

    /// The rate at `now_ns`, or `None` while the pattern has no full minute of history (a new
    /// pattern is novel, not bursting).
    pub fn rate(&self, now_ns: i64) -> Option<Rate> {
        let minute = minute_of(now_ns);
        let history = (minute - minute_of(self.first_seen_ns)).min(HISTORY_MINUTES);
        if history <= 0 {
            return None;
        }
        let (mut current, mut before) = (0u64, 0u64);
        for &(m, events) in &self.buckets {
            if m == minute {
                current += events;
            } else if m < minute && m >= minute - history {
                before += events;
            }
        }
        #[allow(clippy::cast_precision_loss, reason = "event counts per minute are far below 2^52")]
        let average = before as f64 / history as f64;
        Some(Rate { current, average })
    }

    /// Whether the pattern bursts at `now_ns`: at least `min_count` events this minute and more
    /// than `factor` times its average.
    pub fn burst(&self, now_ns: i64, factor: f64, min_count: u64) -> Option<Rate> {
        #[allow(clippy::cast_precision_loss, reason = "event counts per minute are far below 2^52")]
        self.rate(now_ns).filter(|r| r.current >= min_count && r.current as f64 > factor * r.average)
    }
}

/// The share of `total` events that `count` is (0 when nothing was seen).
pub fn share(count: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss, reason = "a share needs no more than f64 precision")]
    let share = count as f64 / total as f64;
    share
}

#[cfg(test)]
mod tests {
    use super::{Activity, MINUTE_NS, share};

    #[test]
    fn rates_and_bursts() {
        let mut a = Activity::new(0);
        for _ in 0..3 {
            a.record(10);
        }
        assert_eq!(a.rate(20), None, "no full minute of history yet");
        for minute in 1..5 {
            for _ in 0..2 {
                a.record(minute * MINUTE_NS + 5);
            }
        }
        let now = 5 * MINUTE_NS + 1;
        let rate = a.rate(now).unwrap();
        assert_eq!(rate.current, 0);
        assert!((rate.average - 11.0 / 5.0).abs() < 1e-9, "{rate:?}");
        for _ in 0..20 {
            a.record(now);
        }
        assert!(a.burst(now, 3.0, 10).is_some());
        assert!(a.burst(now, 10.0, 10).is_none(), "20 is not above 10 x 2.2");
        assert!(a.burst(now, 3.0, 50).is_none(), "below the minimum count");
        assert_eq!(a.count, 31);
    }

    #[test]
    fn history_is_bounded() {
        let mut a = Activity::new(0);
        for minute in 0..100 {
            a.record(minute * MINUTE_NS);
        }
        assert!(a.buckets.len() <= 16, "{}", a.buckets.len());
        assert_eq!(share(1, 4), 0.25);
        assert_eq!(share(0, 0), 0.0);
    }
}
