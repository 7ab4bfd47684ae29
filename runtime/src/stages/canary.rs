//! A candidate guest version running on a copy of live traffic next to the active one.
//!
//! The candidate sees exactly the events the active version sees, call for call, but what it
//! answers goes nowhere: it is only compared with the active version's outcomes. Its state is a
//! private copy taken when the canary started, so it can never touch the real state, and its
//! failures (traps included) are counted, never dead-lettered.
//!
//! It runs on a thread of its own, fed through a short bounded queue: the processor hands over a
//! copy of each call and moves on. A canary that cannot keep up skips calls (counted in the
//! report) rather than slowing live traffic down.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
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
    /// Events the candidate skipped because it was behind (never compared).
    pub skipped: u64,
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
            skipped: 0,
            identical: 0,
            differing: 0,
            candidate_errors: 0,
            last_error: None,
            diffs: Vec::new(),
            max_diffs,
        }
    }
}

/// Calls waiting for the candidate; beyond this it skips.
const QUEUE_CALLS: usize = 4;

/// One call, as the candidate replays it: the events and what the active version answered.
type Work = (Vec<Event>, Result<Vec<Outcome>, CallError>);

/// The processor's handle on a running canary. Dropping it ends the candidate's thread once it
/// has finished what is queued.
#[derive(Debug)]
pub struct Canary {
    pub version: Version,
    pub report: SharedReport,
    queue: SyncSender<Work>,
}

impl Canary {
    /// Starts the candidate's first instance (its `init` runs now, on the private state), then
    /// its thread.
    pub fn start(
        version: Version,
        state: GuestState,
        config_json: &str,
        limits: InstanceLimits,
        report: SharedReport,
    ) -> Result<Canary, CallError> {
        let state = Arc::new(state);
        let instance = version.guest.instantiate(state.clone(), limits, config_json)?;
        let (queue, work) = std::sync::mpsc::sync_channel(QUEUE_CALLS);
        let candidate = Candidate {
            version: version.clone(),
            state,
            instance: Some(instance),
            config_json: config_json.to_string(),
            limits,
            report: report.clone(),
        };
        std::thread::Builder::new()
            .name("canary".into())
            .spawn(move || candidate.run_queue(work))
            .map_err(|e| CallError::Init(format!("cannot start the canary thread: {e}")))?;
        Ok(Canary { version, report, queue })
    }

    /// Hands the candidate a copy of one call: `events` and the active version's outcomes (`Err`
    /// when the active call failed). Never waits.
    pub fn offer(&self, events: Vec<Event>, active: Result<Vec<Outcome>, CallError>) {
        let n = events.len() as u64;
        match self.queue.try_send((events, active)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.report.lock().unwrap_or_else(|p| p.into_inner()).skipped += n,
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// The candidate's side, on its own thread.
struct Candidate {
    version: Version,
    state: Arc<GuestState>,
    instance: Option<GuestInstance>,
    config_json: String,
    limits: InstanceLimits,
    report: SharedReport,
}

impl Candidate {
    fn run_queue(mut self, work: Receiver<Work>) {
        while let Ok((events, active)) = work.recv() {
            self.compare(events, active.as_ref().map(|o| o.iter().collect()));
        }
    }

    /// Runs the candidate on `events` and compares its outcomes with the active version's.
    fn compare(&mut self, events: Vec<Event>, active: Result<Vec<&Outcome>, &CallError>) {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::wasm::{StateLimits, WasmHost};

    fn hostile(mode: &str) -> (Version, String) {
        let cache = tempfile::tempdir().expect("tempdir");
        let wasm = WasmHost::new(cache.path().to_path_buf()).expect("engine");
        let path = std::path::Path::new(env!("SLUICE_GUESTS_DIR")).join("hostile.wasm");
        let guest = wasm.load_file("hostile", &path).expect("fixture");
        (Version::new(guest), format!(r#"{{"trigger": "x", "mode": "{mode}"}}"#))
    }

    fn event(message: &str) -> Event {
        Event { id: message.into(), message: message.into(), ..Event::default() }
    }

    #[test]
    fn a_candidate_that_falls_behind_skips_instead_of_blocking() {
        let (version, config) = hostile("loop");
        let limits = InstanceLimits { deadline: Duration::from_millis(200), memory_bytes: 32 << 20 };
        let report = Arc::new(Mutex::new(CanaryReport::new("s", &version, &version, 5)));
        let state = GuestState::new("s", StateLimits::with_quota_mib(1), vec![]);
        let canary = Canary::start(version, state, &config, limits, report.clone()).expect("start");
        // Each call makes the candidate spin until its 200 ms deadline; the queue holds 4 calls.
        for i in 0..10 {
            canary.offer(vec![event(&format!("x {i}"))], Ok(vec![Outcome::Keep]));
        }
        let skipped = report.lock().expect("lock").skipped;
        assert!(skipped >= 5, "calls beyond the queue are skipped at once: {skipped}");
        drop(canary);
        for _ in 0..100 {
            let r = report.lock().expect("lock").clone();
            if r.events + r.skipped == 10 {
                assert_eq!(r.candidate_errors, r.events, "each compared call hit the deadline: {r:?}");
                assert_eq!(r.differing, r.events);
                assert!(r.last_error.is_some_and(|e| e.contains("deadline")));
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the candidate did not drain its queue");
    }

    #[test]
    fn identical_outcomes_are_counted_as_such() {
        let (version, config) = hostile("fail");
        let limits = InstanceLimits { deadline: Duration::from_secs(1), memory_bytes: 32 << 20 };
        let report = Arc::new(Mutex::new(CanaryReport::new("s", &version, &version, 5)));
        let state = GuestState::new("s", StateLimits::with_quota_mib(1), vec![]);
        let canary = Canary::start(version, state, &config, limits, report.clone()).expect("start");
        let refusal = Outcome::Fail("hostile guest refused: x".into());
        canary.offer(vec![event("calm"), event("x marks")], Ok(vec![Outcome::Keep, refusal]));
        canary.offer(vec![event("calm again")], Ok(vec![Outcome::Fail("other".into())]));
        drop(canary);
        for _ in 0..100 {
            let r = report.lock().expect("lock").clone();
            if r.events == 3 {
                assert_eq!((r.identical, r.differing, r.skipped), (2, 1, 0), "{r:?}");
                assert_eq!(r.diffs[0].event_id, "calm again");
                assert_eq!(r.diffs[0].candidate, serde_json::json!("keep"));
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the candidate did not drain its queue");
    }
}
