//! The processor thread: reads durable journal records in order, runs each batch through the
//! stages, and hands the result to the outputs. Between two batches, and only there, it applies
//! control messages: a new topology, a guest version swap, a canary starting or stopping. So every
//! event is processed by exactly one configuration, and none is processed twice.
//!
//! Guests run synchronously here (Wasm calls are CPU-bound and must not stall the request-serving
//! runtime); the bounded channel to the store output pushes back when the store is slower.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use crate::config::StageConfig;
use crate::event::{DeadLetter, Event, now_ns};
use crate::journal::{JournalError, JournalEvent, JournalReader};
use crate::outputs::Batch;
use crate::outputs::sink::Sink;
use crate::outputs::websocket::TailHub;
use crate::stages::canary::SharedReport;
use crate::stages::{Stage, Version};
use crate::telemetry::Metrics;
use crate::wasm::{GuestState, StateLimits};

/// One stage of a topology being installed.
#[derive(Debug)]
pub enum Slot {
    /// The running stage of this name, unchanged (its instance, canary and counters carry on).
    Keep(String),
    /// A stage to create now, from an already compiled and trial-initialised version.
    New { config: StageConfig, version: Version, state: Arc<GuestState> },
}

/// Pipeline-wide settings of a topology.
#[derive(Debug, Default)]
pub struct Settings {
    /// Most events in one batch.
    pub max_events: usize,
    /// Whether events go to the store's `logs` (dead letters and state always do).
    pub store_events: bool,
    /// The live stream, when the pipeline has one.
    pub tail: Option<Arc<TailHub>>,
    /// The outputs that run on their own tasks (PostgreSQL, Kafka); every batch goes to each.
    pub sinks: Vec<Sink>,
}

/// What the processor is asked to do between batches.
#[derive(Debug)]
pub enum Control {
    /// Replace the stages and settings; all new stages are created first, and if any fails the
    /// running topology stays as it was.
    Install { slots: Vec<Slot>, settings: Settings, reply: oneshot::Sender<Result<(), String>> },
    /// Switch one stage to another version; replies with the pause it caused.
    Swap { stage: String, version: Version, reply: oneshot::Sender<Result<Duration, String>> },
    /// Start a canary on one stage.
    CanaryStart {
        stage: String,
        version: Version,
        max_diffs: usize,
        reply: oneshot::Sender<Result<SharedReport, String>>,
    },
    /// Stop one stage's canary; replies with its candidate.
    CanaryStop { stage: String, reply: oneshot::Sender<Option<Version>> },
}

/// How long the pipeline must be idle before the stages get an empty call (a tick), so
/// time-driven guests (absence alerts, pending insights) act without traffic.
pub const TICK_EVERY: Duration = Duration::from_secs(1);

pub struct Processor {
    pub reader: JournalReader,
    pub durable: watch::Receiver<u64>,
    pub control: mpsc::Receiver<Control>,
    pub batches: mpsc::Sender<Arc<Batch>>,
    /// The processor's own small runtime, for waiting on channels and timers: it does not depend
    /// on the request-serving runtime, which may be shutting down while the journal drains.
    pub runtime: tokio::runtime::Runtime,
    pub metrics: Arc<Metrics>,
}

struct Running {
    stages: Vec<Stage>,
    settings: Settings,
    /// Whether a topology has been installed; until then nothing is read from the journal.
    installed: bool,
    /// Offsets some output committed up to when processing started: batches end at each, so
    /// no batch is partly behind an output (which skips whole batches it already has).
    barriers: BTreeSet<u64>,
}

impl Processor {
    pub fn run(mut self) {
        let mut running =
            Running { stages: Vec::new(), settings: Settings::default(), installed: false, barriers: BTreeSet::new() };
        while !running.installed {
            match self.control.blocking_recv() {
                Some(message) => handle(&mut running, message, &self.metrics),
                None => return,
            }
        }
        // Every output says where it stands before anything is read; the slowest sets the start.
        let store_start = self.reader.position();
        let Some(starts) = self.wait_ready(&mut running) else { return };
        let start = starts.iter().copied().chain([store_start]).min().unwrap_or(store_start);
        let start = match self.reader.first_offset() {
            Ok(Some(first)) if first > start => {
                tracing::warn!(
                    start,
                    first,
                    "an output is behind what the journal still holds; it resumes at the journal's start"
                );
                first
            }
            _ => start,
        };
        if start != store_start {
            tracing::info!(
                from = start,
                store = store_start,
                "an output is behind the store; replaying the journal for it"
            );
            self.reader.seek(start);
        }
        running.barriers = starts.into_iter().chain([store_start]).filter(|&b| b > start).collect();
        let mut writer_closed = false;
        let mut control_open = true;
        let mut last_call = Instant::now();
        loop {
            while let Ok(message) = self.control.try_recv() {
                handle(&mut running, message, &self.metrics);
            }
            if self.wait_ready(&mut running).is_none() {
                break;
            }
            let position = self.reader.position();
            let durable = *self.durable.borrow_and_update();
            let limit = running.barriers.range(position + 1..).next().map_or(durable, |&b| b.min(durable));
            let entries = match self.reader.read(limit, running.settings.max_events) {
                Ok(entries) => entries,
                Err(e) => {
                    report_read_error(&e, self.reader.position());
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
            let Some(end_offset) = entries.last().map(|e| e.end_offset) else {
                if writer_closed {
                    break;
                }
                let (durable, control) = (&mut self.durable, &mut self.control);
                let woke = self.runtime.block_on(async {
                    tokio::select! {
                        changed = tokio::time::timeout(Duration::from_millis(200), durable.changed()) => Woke::Journal(changed.map(|r| r.is_ok())),
                        message = control.recv(), if control_open => Woke::Control(message),
                    }
                });
                match woke {
                    Woke::Journal(Ok(false)) => writer_closed = true,
                    Woke::Journal(_) => {}
                    Woke::Control(Some(message)) => handle(&mut running, message, &self.metrics),
                    Woke::Control(None) => control_open = false,
                }
                if last_call.elapsed() >= TICK_EVERY && !running.stages.is_empty() {
                    last_call = Instant::now();
                    if !self.tick(&mut running) {
                        break;
                    }
                }
                continue;
            };
            last_call = Instant::now();
            let mut events: Vec<Event> = Vec::with_capacity(entries.iter().map(|e| e.events.len()).sum());
            let mut dead_letters = Vec::new();
            for entry in entries {
                for journaled in entry.events {
                    match received(journaled) {
                        Ok(event) => events.push(event),
                        Err(dead) => dead_letters.push(*dead),
                    }
                }
            }
            for stage in &mut running.stages {
                events = stage.process(events, &mut dead_letters);
            }
            let state = running.stages.iter().flat_map(|s| s.state().take_writes()).collect();
            let signals = running.stages.iter().flat_map(|s| s.state().take_signals()).collect();
            let batch = Arc::new(Batch {
                end_offset,
                events,
                dead_letters,
                state,
                signals,
                store_events: running.settings.store_events,
                tick: false,
            });
            if !self.hand_on(&running, batch) {
                break;
            }
        }
        tracing::debug!(position = self.reader.position(), "processor drained the journal");
    }

    /// Gives every stage an empty call; hands on what they wrote or signalled, if anything.
    /// Returns `false` when an output has stopped.
    fn tick(&mut self, running: &mut Running) -> bool {
        let mut dead_letters = Vec::new();
        for stage in &mut running.stages {
            stage.tick(&mut dead_letters);
        }
        let state: Vec<_> = running.stages.iter().flat_map(|s| s.state().take_writes()).collect();
        let signals: Vec<_> = running.stages.iter().flat_map(|s| s.state().take_signals()).collect();
        if state.is_empty() && signals.is_empty() {
            return true;
        }
        let batch = Arc::new(Batch {
            end_offset: self.reader.position(),
            events: Vec::new(),
            dead_letters,
            state,
            signals,
            store_events: running.settings.store_events,
            tick: true,
        });
        self.hand_on(running, batch)
    }

    /// Publishes a batch to the live stream and sends it to every output, in order. Returns
    /// `false` when an output has stopped (processing stops then).
    fn hand_on(&self, running: &Running, batch: Arc<Batch>) -> bool {
        if let Some(tail) = &running.settings.tail {
            tail.publish(&batch);
        }
        if self.batches.blocking_send(batch.clone()).is_err() {
            tracing::error!("store output stopped; processing stops");
            return false;
        }
        let mut stopped = false;
        for sink in &running.settings.sinks {
            if sink.batches.blocking_send(batch.clone()).is_err() {
                tracing::error!(output = %sink.name, "output stopped; processing stops");
                stopped = true;
            }
        }
        !stopped
    }
}

impl Processor {
    /// Waits (handling control messages meanwhile) until every output of the installed topology
    /// has said where it starts; returns those starts, or `None` when the pipeline is stopping.
    fn wait_ready(&mut self, running: &mut Running) -> Option<Vec<u64>> {
        let mut starts = Vec::new();
        loop {
            let Some(sink) = running.settings.sinks.iter_mut().find(|s| s.ready.is_some()) else { return Some(starts) };
            let name = sink.name.clone();
            let Some(mut ready) = sink.ready.take() else { continue };
            let control = &mut self.control;
            let woke = self.runtime.block_on(async {
                tokio::select! {
                    start = &mut ready => Ready::Start(start.ok()),
                    message = control.recv() => Ready::Control(message),
                }
            });
            match woke {
                Ready::Start(Some(start)) => starts.push(start),
                Ready::Start(None) => {
                    tracing::error!(output = %name, "output stopped before it was ready; processing stops");
                    return None;
                }
                Ready::Control(message) => {
                    if let Some(sink) = running.settings.sinks.iter_mut().find(|s| s.name == name) {
                        sink.ready = Some(ready);
                    }
                    match message {
                        Some(message) => handle(running, message, &self.metrics),
                        None => return None,
                    }
                }
            }
        }
    }
}

enum Ready {
    Start(Option<u64>),
    Control(Option<Control>),
}

/// A journaled event as the stages receive it, or, when its input could not accept it, its dead
/// letter.
fn received(j: JournalEvent) -> Result<Event, Box<DeadLetter>> {
    let mut event = Event::received(j.id, j.received_ns, j.input, j.raw);
    event.topic = j.topic;
    event.session_id = j.session_id;
    match j.rejected {
        None => Ok(event),
        Some(reason) => Err(Box::new(DeadLetter {
            stage: "input".into(),
            guest: event.input.clone(),
            guest_version: String::new(),
            reason,
            failed_ns: now_ns(),
            event,
        })),
    }
}

enum Woke {
    /// `Ok(true)`: new durable data; `Ok(false)`: the writer is gone; `Err`: timed out.
    Journal(Result<bool, tokio::time::error::Elapsed>),
    Control(Option<Control>),
}

fn handle(running: &mut Running, message: Control, metrics: &Arc<Metrics>) {
    match message {
        Control::Install { slots, settings, reply } => {
            let old = std::mem::take(&mut running.stages);
            match build(old, slots, metrics) {
                Ok(stages) => {
                    running.stages = stages;
                    running.settings = settings;
                    running.installed = true;
                    let _ = reply.send(Ok(()));
                }
                Err((old, e)) => {
                    running.stages = old;
                    let _ = reply.send(Err(e));
                }
            }
        }
        Control::Swap { stage, version, reply } => {
            let result = match running.stages.iter_mut().find(|s| s.name() == stage) {
                Some(s) => s.swap(version).map_err(|e| e.to_string()),
                None => Err(format!("no stage `{stage}` is running")),
            };
            let _ = reply.send(result);
        }
        Control::CanaryStart { stage, version, max_diffs, reply } => {
            let result = match running.stages.iter_mut().find(|s| s.name() == stage) {
                Some(s) => s.start_canary(version, max_diffs).map_err(|e| e.to_string()),
                None => Err(format!("no stage `{stage}` is running")),
            };
            let _ = reply.send(result);
        }
        Control::CanaryStop { stage, reply } => {
            let candidate = running.stages.iter_mut().find(|s| s.name() == stage).and_then(Stage::stop_canary);
            let _ = reply.send(candidate);
        }
    }
}

/// Assembles the new stage list: new stages are created first (each guest's `init` runs here, on
/// the stage's real state, between batches); only when all succeed are the kept ones moved over.
/// On failure the old stages come back untouched.
fn build(old: Vec<Stage>, slots: Vec<Slot>, metrics: &Arc<Metrics>) -> Result<Vec<Stage>, (Vec<Stage>, String)> {
    let mut created = HashMap::new();
    for (i, slot) in slots.iter().enumerate() {
        if let Slot::New { config, version, state } = slot {
            state.set_limits(StateLimits::with_quota_mib(config.limits.state_mib));
            match Stage::with_version(config, version.clone(), state.clone(), metrics.clone()) {
                Ok(stage) => {
                    created.insert(i, stage);
                }
                Err(e) => return Err((old, format!("stage `{}`: {e}", config.name))),
            }
        }
    }
    let missing = slots.iter().find_map(|slot| match slot {
        Slot::Keep(name) if !old.iter().any(|s| s.name() == name) => Some(name.clone()),
        _ => None,
    });
    if let Some(name) = missing {
        return Err((old, format!("stage `{name}` was to be kept but is not running")));
    }
    let mut old: HashMap<String, Stage> = old.into_iter().map(|s| (s.name().to_string(), s)).collect();
    let mut stages = Vec::with_capacity(slots.len());
    for (i, slot) in slots.into_iter().enumerate() {
        match slot {
            Slot::Keep(name) => stages.extend(old.remove(&name)),
            Slot::New { .. } => stages.extend(created.remove(&i)),
        }
    }
    Ok(stages)
}

fn report_read_error(e: &JournalError, position: u64) {
    tracing::error!(error = %e, position, "cannot read the journal; retrying");
}
