//! Running a batch through one stage: a guest under its limits, with failures turned into dead
//! letters rather than lost events.
//!
//! A stage owns at most one live instance. A trap, a missed deadline or an exhausted memory cap
//! ends that instance; the events of the failed call are dead-lettered with the guest's name,
//! version and the precise reason, and the next call gets a fresh instance (same state, since
//! state belongs to the host). A guest's own `fail` outcome is data: only that event is
//! dead-lettered and the instance lives on.
//!
//! A stage can switch guest versions between two calls ([`Stage::swap`]): the new version gets a
//! fresh instance on the same state, so nothing a guest keeps is lost, and no event is seen by
//! both versions. It can also run a candidate version on a copy of its traffic ([`canary`]).

pub mod canary;
pub mod stats;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::StageConfig;
use crate::event::{DeadLetter, Event, now_ns};
use crate::telemetry::{Metrics, TrapLabel};
use crate::wasm::{CallError, Guest, GuestInstance, GuestState, InstanceLimits, Outcome};

use canary::{Canary, CanaryReport, SharedReport};
pub use stats::{StatsSnapshot, VersionStats};

/// A loaded guest version and the counters of the work it does.
#[derive(Debug, Clone)]
pub struct Version {
    pub guest: Arc<Guest>,
    pub stats: Arc<VersionStats>,
}

impl Version {
    /// A version with fresh counters.
    pub fn new(guest: Arc<Guest>) -> Self {
        Version { guest, stats: Arc::new(VersionStats::new()) }
    }
}

/// One configured stage of a running pipeline.
#[derive(Debug)]
pub struct Stage {
    name: String,
    active: Version,
    config_json: String,
    limits: InstanceLimits,
    max_batch: usize,
    state: Arc<GuestState>,
    instance: Option<GuestInstance>,
    canary: Option<Canary>,
    metrics: Arc<Metrics>,
}

/// The stage's `config`, as the JSON text its guest's `init` gets.
pub fn config_json(config: &StageConfig) -> Result<String, CallError> {
    match &config.config {
        Some(value) => {
            serde_json::to_string(value).map_err(|e| CallError::Init(format!("config is not JSON-compatible: {e}")))
        }
        None => Ok("{}".to_string()),
    }
}

/// The sandbox limits of every instance of the stage's guest.
pub fn instance_limits(config: &StageConfig) -> InstanceLimits {
    InstanceLimits { deadline: config.limits.deadline, memory_bytes: config.limits.memory_mib as usize * 1024 * 1024 }
}

impl Stage {
    /// Creates the stage and its first instance, so a guest that rejects its configuration stops
    /// the pipeline from starting instead of failing every batch.
    pub fn new(
        config: &StageConfig,
        guest: Arc<Guest>,
        state: Arc<GuestState>,
        metrics: Arc<Metrics>,
    ) -> Result<Stage, CallError> {
        Stage::with_version(config, Version::new(guest), state, metrics)
    }

    /// [`Stage::new`] for a version whose counters are kept elsewhere too.
    pub fn with_version(
        config: &StageConfig,
        active: Version,
        state: Arc<GuestState>,
        metrics: Arc<Metrics>,
    ) -> Result<Stage, CallError> {
        let config_json = config_json(config)?;
        let limits = instance_limits(config);
        let instance = active.guest.instantiate(state.clone(), limits, &config_json)?;
        Ok(Stage {
            name: config.name.clone(),
            active,
            config_json,
            limits,
            max_batch: config.limits.max_batch,
            state,
            instance: Some(instance),
            canary: None,
            metrics,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn state(&self) -> &Arc<GuestState> {
        &self.state
    }

    /// The version that processes this stage's events.
    pub fn active(&self) -> &Version {
        &self.active
    }

    /// Switches to `version`: its first instance is created (and its `init` run) on this stage's
    /// state now; only if that succeeds does it replace the active version. Call between batches.
    /// Returns how long the switch took (the time the pipeline paused).
    pub fn swap(&mut self, version: Version) -> Result<Duration, CallError> {
        let started = Instant::now();
        let instance = version.guest.instantiate(self.state.clone(), self.limits, &self.config_json)?;
        self.instance = Some(instance);
        self.active = version;
        if let Some(canary) = &self.canary {
            canary.report.lock().unwrap_or_else(|p| p.into_inner()).active.clone_from(&self.active.guest.version);
        }
        Ok(started.elapsed())
    }

    /// Starts running `candidate` on a copy of this stage's traffic, with a private copy of its
    /// state; replaces a canary already running. Returns the report the API reads.
    pub fn start_canary(&mut self, candidate: Version, max_diffs: usize) -> Result<SharedReport, CallError> {
        let report =
            Arc::new(std::sync::Mutex::new(CanaryReport::new(&self.name, &self.active, &candidate, max_diffs)));
        let canary = Canary::start(candidate, self.state.snapshot(), &self.config_json, self.limits, report.clone())?;
        self.canary = Some(canary);
        Ok(report)
    }

    /// Stops the canary; returns its candidate, if one was running.
    pub fn stop_canary(&mut self) -> Option<Version> {
        self.canary.take().map(|c| c.version)
    }

    /// The running canary's report, if any.
    pub fn canary_report(&self) -> Option<SharedReport> {
        self.canary.as_ref().map(|c| c.report.clone())
    }

    /// Runs `events` through the guest in calls of at most `max_batch` events. Returns what goes
    /// on to the next stage; what cannot go on is appended to `dead`.
    pub fn process(&mut self, events: Vec<Event>, dead: &mut Vec<DeadLetter>) -> Vec<Event> {
        let label = self.metrics.stage(&self.name);
        self.metrics.stage_events_in.get_or_create(&label).inc_by(events.len() as u64);
        let dead_before = dead.len();
        let mut out = Vec::with_capacity(events.len());
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() {
            let chunk: Vec<Event> = events.by_ref().take(self.max_batch).collect();
            self.call(chunk, &mut out, dead);
        }
        self.metrics.stage_events_out.get_or_create(&label).inc_by(out.len() as u64);
        self.metrics.stage_events_failed.get_or_create(&label).inc_by((dead.len() - dead_before) as u64);
        out
    }

    /// An empty call, made when the pipeline is idle, so a time-driven guest can act. It is not
    /// counted as traffic.
    pub fn tick(&mut self, dead: &mut Vec<DeadLetter>) {
        let mut out = Vec::new();
        self.call_active(Vec::new(), &mut out, dead);
    }

    fn call(&mut self, chunk: Vec<Event>, out: &mut Vec<Event>, dead: &mut Vec<DeadLetter>) {
        let (out_before, dead_before) = (out.len(), dead.len());
        self.call_active(chunk, out, dead);
        self.active.stats.events_out(out.len() - out_before);
        self.active.stats.failures(dead.len() - dead_before);
    }

    fn call_active(&mut self, chunk: Vec<Event>, out: &mut Vec<Event>, dead: &mut Vec<DeadLetter>) {
        let instance = match self.instance.as_mut() {
            Some(instance) => instance,
            None => match self.active.guest.instantiate(self.state.clone(), self.limits, &self.config_json) {
                Ok(instance) => self.instance.insert(instance),
                Err(e) => {
                    let reason = format!("cannot start a new instance: {e}");
                    self.dead_letter_all(chunk, &reason, dead);
                    return;
                }
            },
        };
        // The canary gets its own copy of the very events the active version sees.
        let n = chunk.len();
        let shadow = self.canary.as_ref().filter(|_| n > 0).map(|_| chunk.clone());
        let started = Instant::now();
        let result = instance.process(chunk);
        let elapsed = started.elapsed();
        self.active.stats.memory(instance.memory_high_water());
        // A tick (empty call) is not traffic: it would skew the call latencies.
        if n > 0 {
            self.active.stats.call(n, elapsed);
            self.metrics
                .guest_call_seconds
                .get_or_create(&self.metrics.stage(&self.name))
                .observe(elapsed.as_secs_f64());
        }
        match result {
            Ok(pairs) => {
                if let (Some(canary), Some(shadow)) = (self.canary.as_ref(), shadow) {
                    canary.offer(shadow, Ok(pairs.iter().map(|(_, outcome)| outcome.clone()).collect()));
                }
                for (event, outcome) in pairs {
                    self.apply(event, outcome, out, dead);
                }
            }
            Err((events, error)) => {
                if let (Some(canary), Some(shadow)) = (self.canary.as_ref(), shadow) {
                    canary.offer(shadow, Err(error.clone()));
                }
                // The instance may be in any state after a failed call: never reuse it.
                self.instance = None;
                self.active.stats.trap();
                let label = TrapLabel { stage: self.name.clone(), kind: error.kind().to_string() };
                self.metrics.guest_traps.get_or_create(&label).inc();
                tracing::warn!(stage = %self.name, guest = %self.active.guest.name, version = %self.active.guest.version,
                    events = events.len(), %error, "guest instance failed; its batch is dead-lettered");
                self.dead_letter_all(events, &error.to_string(), dead);
            }
        }
    }

    fn apply(&self, event: Event, outcome: Outcome, out: &mut Vec<Event>, dead: &mut Vec<DeadLetter>) {
        match outcome {
            Outcome::Keep => out.push(event),
            Outcome::Annotate(annotation) => {
                let mut event = event;
                event.annotate(annotation);
                out.push(event);
            }
            Outcome::Replace(replacements) => {
                let many = replacements.len() > 1;
                for (i, mut new) in replacements.into_iter().enumerate() {
                    // Ids must stay unique and deterministic (a replay must produce the same ones),
                    // so splits derive theirs from the original.
                    if new.id.is_empty() || (many && i > 0 && new.id == event.id) {
                        new.id = format!("{}.{i}", event.id);
                    }
                    new.received_ns = event.received_ns;
                    if new.input.is_empty() {
                        new.input.clone_from(&event.input);
                    }
                    out.push(new);
                }
            }
            Outcome::Fail(reason) => dead.push(self.dead_letter(event, reason)),
        }
    }

    fn dead_letter_all(&self, events: Vec<Event>, reason: &str, dead: &mut Vec<DeadLetter>) {
        dead.extend(events.into_iter().map(|e| self.dead_letter(e, reason.to_string())));
    }

    fn dead_letter(&self, event: Event, reason: String) -> DeadLetter {
        DeadLetter {
            event,
            stage: self.name.clone(),
            guest: self.active.guest.name.clone(),
            guest_version: self.active.guest.version.clone(),
            reason,
            failed_ns: now_ns(),
        }
    }
}
