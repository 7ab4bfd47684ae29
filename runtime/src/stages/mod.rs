//! Running a batch through one stage: a guest under its limits, with failures turned into dead
//! letters rather than lost events.
//!
//! A stage owns at most one live instance. A trap, a missed deadline or an exhausted memory cap
//! ends that instance; the events of the failed call are dead-lettered with the guest's name,
//! version and the precise reason, and the next call gets a fresh instance (same state, since
//! state belongs to the host). A guest's own `fail` outcome is data: only that event is
//! dead-lettered and the instance lives on.

use std::sync::Arc;
use std::time::Instant;

use crate::config::StageConfig;
use crate::event::{DeadLetter, Event, now_ns};
use crate::telemetry::{Metrics, TrapLabel};
use crate::wasm::{CallError, Guest, GuestInstance, GuestState, InstanceLimits, Outcome};

/// One configured stage of a running pipeline.
#[derive(Debug)]
pub struct Stage {
    name: String,
    guest: Arc<Guest>,
    config_json: String,
    limits: InstanceLimits,
    max_batch: usize,
    state: Arc<GuestState>,
    instance: Option<GuestInstance>,
    metrics: Arc<Metrics>,
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
        let config_json = match &config.config {
            Some(value) => serde_json::to_string(value)
                .map_err(|e| CallError::Init(format!("config is not JSON-compatible: {e}")))?,
            None => "{}".to_string(),
        };
        let limits = InstanceLimits {
            deadline: config.limits.deadline,
            memory_bytes: config.limits.memory_mib as usize * 1024 * 1024,
        };
        let instance = guest.instantiate(state.clone(), limits, &config_json)?;
        Ok(Stage {
            name: config.name.clone(),
            guest,
            config_json,
            limits,
            max_batch: config.limits.max_batch,
            state,
            instance: Some(instance),
            metrics,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn state(&self) -> &Arc<GuestState> {
        &self.state
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

    fn call(&mut self, chunk: Vec<Event>, out: &mut Vec<Event>, dead: &mut Vec<DeadLetter>) {
        let instance = match self.instance.as_mut() {
            Some(instance) => instance,
            None => match self.guest.instantiate(self.state.clone(), self.limits, &self.config_json) {
                Ok(instance) => self.instance.insert(instance),
                Err(e) => {
                    let reason = format!("cannot start a new instance: {e}");
                    self.dead_letter_all(chunk, &reason, dead);
                    return;
                }
            },
        };
        let started = Instant::now();
        let result = instance.process(chunk);
        self.metrics
            .guest_call_seconds
            .get_or_create(&self.metrics.stage(&self.name))
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(pairs) => {
                for (event, outcome) in pairs {
                    self.apply(event, outcome, out, dead);
                }
            }
            Err((events, error)) => {
                // The instance may be in any state after a failed call: never reuse it.
                self.instance = None;
                let label = TrapLabel { stage: self.name.clone(), kind: error.kind().to_string() };
                self.metrics.guest_traps.get_or_create(&label).inc();
                tracing::warn!(stage = %self.name, guest = %self.guest.name, version = %self.guest.version,
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
            guest: self.guest.name.clone(),
            guest_version: self.guest.version.clone(),
            reason,
            failed_ns: now_ns(),
        }
    }
}
