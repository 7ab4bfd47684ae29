//! Counters kept per guest version, for `GET /api/v1/guests`: how much work a version did, how it
//! failed, how long its calls took and how much memory it used.
//!
//! They are in-process (reset at restart); Prometheus has the per-stage view for history.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The counters of one guest version.
#[derive(Debug)]
pub struct VersionStats {
    calls: AtomicU64,
    events_in: AtomicU64,
    events_out: AtomicU64,
    failures: AtomicU64,
    traps: AtomicU64,
    memory_high_water: AtomicU64,
    /// Call durations in microseconds, 1 µs to 1 h at 2 significant digits (about 20 KiB; 3
    /// digits would take over 300 KiB per version for precision a p99 does not need).
    latency: Mutex<Histogram<u32>>,
}

/// A point-in-time copy, as the API shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatsSnapshot {
    pub calls: u64,
    pub events_in: u64,
    pub events_out: u64,
    /// Events this version dead-lettered (its own `fail`s and the events of failed calls).
    pub failures: u64,
    /// Instances ended by a trap, a deadline or the memory cap.
    pub traps: u64,
    /// 99th percentile of one call's duration, in milliseconds.
    pub p99_call_ms: f64,
    pub memory_high_water_bytes: u64,
}

impl Default for VersionStats {
    fn default() -> Self {
        VersionStats::new()
    }
}

impl VersionStats {
    pub fn new() -> Self {
        let latency =
            Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("constant bounds that hdrhistogram accepts");
        VersionStats {
            calls: AtomicU64::new(0),
            events_in: AtomicU64::new(0),
            events_out: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            traps: AtomicU64::new(0),
            memory_high_water: AtomicU64::new(0),
            latency: Mutex::new(latency),
        }
    }

    /// Records one call of `events` events that took `elapsed`.
    pub fn call(&self, events: usize, elapsed: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.events_in.fetch_add(events as u64, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1);
        self.latency.lock().unwrap_or_else(|p| p.into_inner()).saturating_record(micros);
    }

    pub fn events_out(&self, n: usize) {
        self.events_out.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn failures(&self, n: usize) {
        self.failures.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn trap(&self) {
        self.traps.fetch_add(1, Ordering::Relaxed);
    }

    pub fn memory(&self, bytes: usize) {
        self.memory_high_water.fetch_max(bytes as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let p99 = self.latency.lock().unwrap_or_else(|p| p.into_inner()).value_at_quantile(0.99);
        StatsSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            events_in: self.events_in.load(Ordering::Relaxed),
            events_out: self.events_out.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            traps: self.traps.load(Ordering::Relaxed),
            p99_call_ms: p99 as f64 / 1000.0,
            memory_high_water_bytes: self.memory_high_water.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_percentile() {
        let s = VersionStats::new();
        for i in 0..100 {
            s.call(10, Duration::from_micros(if i == 99 { 50_000 } else { 100 }));
        }
        s.events_out(990);
        s.failures(10);
        s.trap();
        s.memory(1 << 20);
        s.memory(1 << 10);
        let snap = s.snapshot();
        assert_eq!((snap.calls, snap.events_in, snap.events_out, snap.failures, snap.traps), (100, 1000, 990, 10, 1));
        assert!((0.09..0.11).contains(&snap.p99_call_ms), "{}", snap.p99_call_ms);
        assert_eq!(snap.memory_high_water_bytes, 1 << 20);
    }
}
