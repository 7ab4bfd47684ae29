//! The stages of one test case, built as production builds them, and records fed through them.
//!
//! Guests are loaded once per file (a compiled component has no state); each case gets new
//! [`Stage`]s with fresh, empty host state, so cases never see each other's patterns. Nothing is
//! stored: the state's writes are taken and discarded after each record or tick, as the store
//! output would take them with each batch; the signals are taken then too, and reported as that
//! entry's. The harness never reads or sets the clock: records come stamped by the caller.

use std::path::Path;
use std::sync::Arc;

use super::expect::Observed;
use crate::config::Pipeline;
use crate::event::{DeadLetter, Event, Signal};
use crate::stages::Stage;
use crate::telemetry::Metrics;
use crate::wasm::{Guest, GuestState, StateLimits, WasmHost};

/// A stage whose guest could not be loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadFailure {
    pub stage: String,
    pub message: String,
}

/// Loads every stage's guest, in stage order.
pub fn load_guests(
    wasm: &WasmHost,
    pipeline: &Pipeline,
    data_dir: Option<&Path>,
) -> Result<Vec<Arc<Guest>>, LoadFailure> {
    pipeline
        .config
        .stages
        .iter()
        .map(|stage| {
            let fail = |message: String| LoadFailure { stage: stage.name.clone(), message };
            let source = pipeline.guest_source(stage);
            let name = source.guest_name().map_err(fail)?;
            let bytes = match source.local_bytes().map_err(fail)? {
                Some(bytes) => bytes,
                None => crate::guests::resolve_for_test(data_dir, &stage.name, &name).map_err(fail)?.into(),
            };
            wasm.load(&name, &bytes).map_err(|e| fail(e.to_string()))
        })
        .collect()
}

/// A case's stages, in pipeline order.
#[derive(Debug)]
pub struct Harness {
    stages: Vec<Stage>,
    /// The name events are stamped with: the pipeline's first input.
    input: String,
}

impl Harness {
    /// Creates every stage; each guest's `init` runs now, with the stage's config and limits. An
    /// error names the stage whose guest refused.
    pub fn new(pipeline: &Pipeline, guests: &[Arc<Guest>]) -> Result<Harness, String> {
        let metrics = Arc::new(Metrics::new());
        let mut stages = Vec::with_capacity(guests.len());
        for (config, guest) in pipeline.config.stages.iter().zip(guests) {
            let limits = StateLimits::with_quota_mib(config.limits.state_mib);
            let state = Arc::new(GuestState::new(&config.name, limits, Vec::new()));
            let stage = Stage::new(config, guest.clone(), state, metrics.clone())
                .map_err(|e| format!("stage `{}`: {e}", config.name))?;
            stages.push(stage);
        }
        // What `init` emitted belongs to no entry (the running pipeline hands it on with the
        // first batch); an entry's expectations must see only what that entry caused.
        for stage in &stages {
            drop(stage.state().take_signals());
        }
        let input = pipeline.config.inputs.first().map_or("http", |i| i.name()).to_string();
        Ok(Harness { stages, input })
    }

    /// Runs one record, received at `received_ns`, through every stage as a batch of its own,
    /// and says what became of it.
    pub fn feed(&mut self, raw: &str, received_ns: i64) -> Observed {
        // As an input journals a record: a fresh UUIDv7 and the receive time.
        let event = Event::received(uuid::Uuid::now_v7().to_string(), received_ns, self.input.clone(), raw.to_string());
        let mut events = vec![event];
        let mut dead_letters: Vec<DeadLetter> = Vec::new();
        let mut signals = Vec::new();
        for stage in &mut self.stages {
            events = stage.process(events, &mut dead_letters);
            signals.extend(Harness::settle(stage));
        }
        Observed { events, dead_letters, signals }
    }

    /// Gives every stage an empty call, as the running pipeline does when idle, and says what
    /// the stages signalled (and dead-lettered, should a new instance fail to start).
    pub fn tick(&mut self) -> Observed {
        let mut dead_letters: Vec<DeadLetter> = Vec::new();
        let mut signals = Vec::new();
        for stage in &mut self.stages {
            stage.tick(&mut dead_letters);
            signals.extend(Harness::settle(stage));
        }
        Observed { events: Vec::new(), dead_letters, signals }
    }

    /// Discards the stage's state writes and takes its signals, after each call.
    fn settle(stage: &Stage) -> Vec<Signal> {
        drop(stage.state().take_writes());
        stage.state().take_signals()
    }
}
