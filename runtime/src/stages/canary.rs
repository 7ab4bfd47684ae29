//! A candidate guest version running on a copy of live traffic next to the active one.
//!
//! The candidate sees exactly the events the active version sees, call for call, but what it
//! answers goes nowhere: it is only compared with the active version's outcomes. Its state is a
//! private copy taken when the canary started, so it can never touch the real state, and its
//! failures (traps included) are counted, never dead-lettered. It runs on the processor thread
//! right after the active call, so a canary roughly doubles that stage's guest time while it runs.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Value, json};

use super::Version;
use crate::event::{Event, format_ns, now_ns};
use crate::wasm::{CallError, GuestInstance, GuestState, InstanceLimits, Outcome};

/// How the candidate compares so far; shared with the API, which reads it at any time.
#[derive(Debug, Clone, Serialize)]
pub struct CanaryReport {
    pub stage: String,
    pub guest: String,
    /// The active version the candidate is compared with (it may change while the canary runs).
    pub active: String,
    pub candidate: String,
    pub started_at: String,
    /// Events both versions were given.
    pub events: u64,
    /// Events for which both gave the same outcome.
    pub identical: u64,
    pub differing: u64,
    /// Candidate calls that failed (trap, deadline, memory, broken contract).
    pub candidate_errors: u64,
    /// The last candidate failure, if any.
    pub last_error: Option<String>,
    /// The first `max_diffs` differing events.
    pub diffs: Vec<Diff>,
    pub max_diffs: usize,
}

/// One event on which the versions disagreed.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub event_id: String,
    pub message: String,
    pub active: Value,
    pub candidate: Value,
}

/// Shared handle on a running canary's report.
pub type SharedReport = Arc<Mutex<CanaryReport>>;

impl CanaryReport {
    pub fn new(stage: &str, active: &Version, candidate: &Version, max_diffs: usize) -> Self {
        CanaryReport {
            stage: stage.to_string(),
            guest: candidate.guest.name.clone(),
            active: active.guest.version.clone(),
            candidate: candidate.guest.version.clone(),
            started_at: format_ns(now_ns()),
            events: 0,
            identical: 0,
            differing: 0,
            candidate_errors: 0,
            last_error: None,
            diffs: Vec::new(),
            max_diffs,
        }
    }
}

/// The candidate side of a canary.
#[derive(Debug)]
pub struct Canary {
    pub version: Version,
    state: Arc<GuestState>,
    instance: Option<GuestInstance>,
    config_json: String,
    limits: InstanceLimits,
    pub report: SharedReport,
}

impl Canary {
    /// Starts the candidate's first instance (its `init` runs now, on the private state).
    pub fn start(
        version: Version,
        state: GuestState,
        config_json: &str,
        limits: InstanceLimits,
        report: SharedReport,
    ) -> Result<Canary, CallError> {
        let state = Arc::new(state);
        let instance = version.guest.instantiate(state.clone(), limits, config_json)?;
        Ok(Canary { version, state, instance: Some(instance), config_json: config_json.to_string(), limits, report })
    }

    /// Runs the candidate on `events` (a copy of what the active version got) and compares its
    /// outcomes with the active version's (`Err` when the active call failed).
    pub fn compare(&mut self, events: Vec<Event>, active: Result<Vec<&Outcome>, &CallError>) {
        let summaries: Vec<(String, String)> =
            events.iter().map(|e| (e.id.clone(), e.stored_message().chars().take(200).collect())).collect();
        let candidate = self.run(events);
        let mut report = self.report.lock().unwrap_or_else(|p| p.into_inner());
        report.events += summaries.len() as u64;
        if let Err(e) = &candidate {
            report.candidate_errors += 1;
            report.last_error = Some(e.to_string());
        }
        for (i, (event_id, message)) in summaries.into_iter().enumerate() {
            let a = match &active {
                Ok(outcomes) => outcomes.get(i).map(|o| outcome_json(o)),
                Err(e) => Some(json!({ "error": e.to_string() })),
            };
            let c = match &candidate {
                Ok(outcomes) => outcomes.get(i).map(outcome_json),
                Err(e) => Some(json!({ "error": e.to_string() })),
            };
            let same = match (&active, &candidate) {
                (Ok(a), Ok(c)) => a.get(i).copied() == c.get(i),
                _ => a == c,
            };
            if same {
                report.identical += 1;
                continue;
            }
            report.differing += 1;
            if report.diffs.len() < report.max_diffs {
                report.diffs.push(Diff {
                    event_id,
                    message,
                    active: a.unwrap_or(Value::Null),
                    candidate: c.unwrap_or(Value::Null),
                });
            }
        }
    }

    fn run(&mut self, events: Vec<Event>) -> Result<Vec<Outcome>, CallError> {
        let instance = match self.instance.as_mut() {
            Some(instance) => instance,
            None => {
                let fresh = self.version.guest.instantiate(self.state.clone(), self.limits, &self.config_json)?;
                self.instance.insert(fresh)
            }
        };
        let n = events.len();
        let started = std::time::Instant::now();
        let result = instance.process(events);
        self.version.stats.call(n, started.elapsed());
        self.version.stats.memory(instance.memory_high_water());
        // The candidate's writes stay in its private copy; drop the pending list so it stays small.
        self.state.take_writes();
        match result {
            Ok(pairs) => Ok(pairs.into_iter().map(|(_, outcome)| outcome).collect()),
            Err((_, error)) => {
                self.instance = None;
                self.version.stats.trap();
                Err(error)
            }
        }
    }
}

/// An outcome as JSON, for reports.
pub fn outcome_json(outcome: &Outcome) -> Value {
    serde_json::to_value(outcome).unwrap_or_else(|e| json!({ "unrepresentable": e.to_string() }))
}
