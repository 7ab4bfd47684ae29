//! The processor thread: reads durable journal records in order, cuts them into batches and
//! sends each into the [`Chain`] of stage threads, whose last thread hands the result to the
//! outputs. Control messages (a new topology, a guest version swap, a canary starting or
//! stopping) are applied between two batches: a change to one stage travels down the chain in
//! order with the batches, and a new topology first drains the chain. So every batch is
//! processed by exactly one configuration, and no event is processed twice.
//!
//! Guests run on the chain's own threads (Wasm calls are CPU-bound and must not stall the
//! request-serving runtime); the bounded queues between them, and to the store output, push back
//! when a later step is slower.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use super::chain::{Chain, Change, Outlet, Stopped, Work};
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
    /// The stages on their threads; `None` until a topology is installed, or once the chain
    /// has stopped.
    chain: Option<Chain>,
    settings: Settings,
    /// Whether a topology has been installed; until then nothing is read from the journal.
    installed: bool,
    /// An output (and so the chain) has stopped: processing stops.
    stopped: bool,
    /// Offsets some output committed up to when processing started: batches end at each, so
    /// no batch is partly behind an output (which skips whole batches it already has).
    barriers: BTreeSet<u64>,
}

impl Processor {
    pub fn run(mut self) {
        let mut running = Running {
            chain: None,
            settings: Settings::default(),
            installed: false,
            stopped: false,
            barriers: BTreeSet::new(),
        };
        self.process(&mut running);
        if let Some(chain) = running.chain.take() {
            chain.finish();
        }
        tracing::debug!(position = self.reader.position(), "processor drained the journal");
    }

    fn process(&mut self, running: &mut Running) {
        while !running.installed {
            match self.control.blocking_recv() {
                Some(message) => self.handle(running, message),
                None => return,
            }
            if running.stopped {
                return;
            }
        }
        // Every output says where it stands before anything is read; the slowest sets the start.
        let store_start = self.reader.position();
        let Some(starts) = self.wait_ready(running) else { return };
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
                self.handle(running, message);
            }
            if running.stopped || self.wait_ready(running).is_none() {
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
                    Woke::Control(Some(message)) => self.handle(running, message),
                    Woke::Control(None) => control_open = false,
                }
                let has_stages = running.chain.as_ref().is_some_and(|c| !c.names().is_empty());
                if last_call.elapsed() >= TICK_EVERY && has_stages {
                    last_call = Instant::now();
                    if send(running, Work::tick(self.reader.position())).is_err() {
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
            if send(running, Work::batch(end_offset, events, dead_letters)).is_err() {
                break;
            }
        }
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
                        Some(message) => self.handle(running, message),
                        None => return None,
                    }
                    if running.stopped {
                        return None;
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

/// Sends a batch or a tick into the chain; marks the pipeline stopped when it has stopped.
fn send(running: &mut Running, work: Work) -> Result<(), Stopped> {
    let result = running.chain.as_ref().ok_or(Stopped).and_then(|chain| chain.send(work));
    if result.is_err() {
        running.stopped = true;
    }
    result
}

impl Processor {
    fn handle(&mut self, running: &mut Running, message: Control) {
        match message {
            Control::Install { slots, settings, reply } => {
                let _ = reply.send(self.install(running, slots, settings));
            }
            Control::Swap { stage, version, reply } => {
                change_stage(running, &stage, reply, move |s| s.swap(version).map_err(|e| e.to_string()));
            }
            Control::CanaryStart { stage, version, max_diffs, reply } => {
                change_stage(running, &stage, reply, move |s| {
                    s.start_canary(version, max_diffs).map_err(|e| e.to_string())
                });
            }
            Control::CanaryStop { stage, reply } => {
                if !has_stage(running, &stage) {
                    let _ = reply.send(None);
                    return;
                }
                apply(
                    running,
                    &stage,
                    Box::new(move |s: &mut Stage| {
                        let _ = reply.send(s.stop_canary());
                    }),
                );
            }
        }
    }

    /// Drains the chain, builds the new stage list from the old stages and `slots`, and starts a
    /// chain of it; on failure the old stages go back to work unchanged.
    fn install(&mut self, running: &mut Running, slots: Vec<Slot>, settings: Settings) -> Result<(), String> {
        let (old, outlet) = match running.chain.take() {
            Some(chain) => match chain.collect() {
                Some((stages, outlet)) => (stages, Some(outlet)),
                None => {
                    running.stopped = true;
                    return Err("the pipeline has stopped".into());
                }
            },
            None => (Vec::new(), None),
        };
        let (stages, outlet, result) = match build(old, slots, &self.metrics) {
            Ok(stages) => {
                let outlet = Outlet {
                    store_events: settings.store_events,
                    tail: settings.tail.clone(),
                    store: self.batches.clone(),
                    sinks: settings.sinks.iter().map(|s| (s.name.clone(), s.batches.clone())).collect(),
                };
                running.settings = settings;
                running.installed = true;
                (stages, Some(outlet), Ok(()))
            }
            Err((old, e)) => (old, outlet, Err(e)),
        };
        if let Some(outlet) = outlet {
            match Chain::start(stages, outlet) {
                Ok(chain) => running.chain = Some(chain),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the stage threads; processing stops");
                    running.stopped = true;
                    return Err(format!("cannot start the stage threads: {e}"));
                }
            }
        }
        result
    }
}

/// Has the stage's own thread run `change` between two batches and reply with its result; a
/// stage that is not running is refused at once.
fn change_stage<T: Send + 'static>(
    running: &mut Running,
    stage: &str,
    reply: oneshot::Sender<Result<T, String>>,
    change: impl FnOnce(&mut Stage) -> Result<T, String> + Send + 'static,
) {
    if !has_stage(running, stage) {
        let _ = reply.send(Err(format!("no stage `{stage}` is running")));
        return;
    }
    apply(
        running,
        stage,
        Box::new(move |s: &mut Stage| {
            let _ = reply.send(change(s));
        }),
    );
}

fn has_stage(running: &Running, stage: &str) -> bool {
    running.chain.as_ref().is_some_and(|c| c.names().iter().any(|n| n == stage))
}

/// Has the stage's own thread run `change` after the batches already sent.
fn apply(running: &mut Running, stage: &str, change: Change) {
    let Some(chain) = running.chain.as_ref() else { return };
    match chain.apply(stage, change) {
        Ok(Ok(())) => {}
        // The change, and the reply inside it, is dropped: the caller hears the processor stopped.
        Ok(Err(Stopped)) => running.stopped = true,
        Err(_) => tracing::error!(stage, "a change for a stage that is not running was dropped"),
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
