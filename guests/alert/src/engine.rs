//! All rules of a stage over the calls: the pipeline time, the store and the alerts.
//!
//! Plain logic, with no host calls: the adapter in `lib.rs` feeds it batches and the clock, and
//! carries its alerts and store writes to the host. That keeps every behaviour testable natively.

use sluice_guest::Event;

use crate::alert::Alert;
use crate::config::Settings;
use crate::persist::{PREFIX, Write};
use crate::rule::RuleState;

/// The rules and the pipeline time.
#[derive(Debug, Clone)]
pub struct Engine {
    rules: Vec<RuleState>,
    /// The newest time seen: the clock, or a newer `received_ns`. Never goes back, so a clock
    /// step backwards cannot re-open windows or dedup periods.
    now_ns: i64,
    /// Store changes not yet handed out (obsolete keys found at load).
    pending: Vec<Write>,
}

impl Engine {
    /// The engine for `settings`, with the state found in the store (`stored`: every key under
    /// [`PREFIX`]). Returns the problems met, for the log: a rule whose state is unreadable
    /// starts fresh. Keys of removed or changed rules are deleted by the first writes.
    pub fn load(settings: Settings, stored: Vec<(String, Vec<u8>)>) -> (Self, Vec<String>) {
        let mut rules = Vec::with_capacity(settings.rules.len());
        let mut problems = Vec::new();
        let mut pending = Vec::new();
        let mut stored = stored;
        stored.retain(|(key, _)| key.starts_with(PREFIX));
        for rule in settings.rules {
            let fresh = RuleState::fresh(rule.clone());
            let prefix = fresh.prefix().to_owned();
            let (mine, rest): (Vec<_>, Vec<_>) = stored.into_iter().partition(|(key, _)| key.starts_with(&prefix));
            stored = rest;
            let state = match RuleState::restore(rule, &mine) {
                Ok(state) => state,
                Err(problem) => {
                    problems.push(format!("rule `{}`: unreadable state ({problem}); starting fresh", fresh.rule.name));
                    pending.extend(mine.into_iter().map(|(key, _)| Write::Delete(key)));
                    fresh
                }
            };
            rules.push(state);
        }
        // What is left belongs to rules removed or redefined since.
        pending.extend(stored.into_iter().map(|(key, _)| Write::Delete(key)));
        (Self { rules, now_ns: i64::MIN, pending }, problems)
    }

    /// Runs every rule over `batch` (possibly empty: a tick) and returns the alerts raised, at
    /// `max(clock_ns, newest received_ns, previous now)`.
    pub fn process(&mut self, batch: &[Event], clock_ns: i64) -> Vec<Alert> {
        let newest = batch.iter().map(|e| e.received_ns).max().unwrap_or(i64::MIN);
        self.now_ns = self.now_ns.max(clock_ns).max(newest);
        let mut alerts = Vec::new();
        for state in &mut self.rules {
            for (index, event) in batch.iter().enumerate() {
                state.ingest(event, index);
            }
            state.evaluate(batch, self.now_ns, &mut alerts);
        }
        alerts
    }

    /// The store changes since the last call.
    pub fn take_writes(&mut self) -> Vec<Write> {
        let mut out = std::mem::take(&mut self.pending);
        for state in &mut self.rules {
            state.writes(&mut out);
        }
        out
    }

    /// Per rule, events of new keys not counted since the last call because the rule tracked
    /// `max_keys` keys already.
    pub fn take_overflow(&mut self) -> Vec<(&str, u64)> {
        self.rules
            .iter_mut()
            .filter_map(|state| {
                let n = state.take_overflow();
                (n > 0).then_some((state.rule.name.as_str(), n))
            })
            .collect()
    }

    /// The pipeline time of the last call.
    pub const fn now_ns(&self) -> i64 {
        self.now_ns
    }

    /// Keys tracked by the rule `name`.
    #[cfg(test)]
    pub fn tracked(&self, name: &str) -> Option<usize> {
        self.rules.iter().find(|s| s.rule.name == name).map(RuleState::tracked)
    }
}
