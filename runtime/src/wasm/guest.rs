//! A loaded guest version and its running instances.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Store, Trap};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::bindings::{BatchGuest, BatchGuestPre, StageGuest, StageGuestPre, stage};
use super::host::HostState;
use super::limits::MemoryLimiter;
use super::services::HostServices;
use super::state::GuestState;
use super::{EPOCH_TICK, LoadError, cache, contract, convert, layout};
use crate::event::{Annotation, Event};

/// What a guest may write to stderr (panic messages) per instance; the tail goes into trap reasons.
const STDERR_BYTES: usize = 64 * 1024;

/// One compiled, pre-linked component version.
pub struct Guest {
    pub name: String,
    /// First 12 hex digits of the component's SHA-256.
    pub version: String,
    /// The component's SHA-256, in hex: its identity.
    pub sha256: String,
    /// The stage world it implements, e.g. `sluice:pipeline/batch-guest@0.1.1`.
    pub world: String,
    pre: Pre,
    engine: wasmtime::Engine,
    services: Arc<HostServices>,
}

impl std::fmt::Debug for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest").field("name", &self.name).field("version", &self.version).finish_non_exhaustive()
    }
}

/// The component, pre-linked for the world it exports.
enum Pre {
    Typed(StageGuestPre<HostState>),
    Batch(BatchGuestPre<HostState>),
}

/// An instance's exports, for the world its component exports.
enum Bindings {
    Typed(StageGuest),
    Batch(BatchGuest),
}

/// Per-instance sandbox limits.
#[derive(Debug, Clone, Copy)]
pub struct InstanceLimits {
    pub deadline: Duration,
    pub memory_bytes: usize,
}

impl InstanceLimits {
    fn deadline_ticks(&self) -> u64 {
        (self.deadline.as_millis().div_ceil(EPOCH_TICK.as_millis()) as u64).max(1)
    }
}

/// What a stage decided for one event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Keep,
    Annotate(Annotation),
    Replace(Vec<Event>),
    Fail(String),
}

/// Why a call did not produce outcomes. A trap, deadline or memory exhaustion means the instance
/// is gone; the caller drops it and makes a new one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("deadline of {0:?} exceeded")]
    Deadline(Duration),
    #[error("memory limit of {limit} bytes exceeded (the guest asked for {asked} bytes)")]
    Memory { limit: usize, asked: usize },
    #[error("guest trapped: {0}")]
    Trap(String),
    #[error("guest init failed: {0}")]
    Init(String),
    #[error("guest broke the contract: {0}")]
    Contract(String),
}

impl CallError {
    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Deadline(_) => "deadline",
            CallError::Memory { .. } => "memory",
            CallError::Trap(_) => "trap",
            CallError::Init(_) => "init",
            CallError::Contract(_) => "contract",
        }
    }
}

impl Guest {
    pub(super) fn new(
        name: &str,
        bytes: &[u8],
        component: Component,
        linker: &Linker<HostState>,
        services: Arc<HostServices>,
    ) -> Result<Guest, LoadError> {
        let invalid = |reason: String| LoadError::Invalid { name: name.to_string(), reason };
        let world = contract::check(component.engine(), &component).map_err(invalid)?;
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| invalid(format!("{e:#}")))?;
        let mismatch = |e: wasmtime::Error| invalid(format!("its exports do not match `{}`: {e:#}", world.name()));
        let pre = match world {
            contract::World::Typed => Pre::Typed(StageGuestPre::new(instance_pre).map_err(mismatch)?),
            contract::World::Batch => Pre::Batch(BatchGuestPre::new(instance_pre).map_err(mismatch)?),
        };
        let sha256 = cache::content_hash(bytes);
        Ok(Guest {
            name: name.to_string(),
            version: sha256[..12].to_string(),
            sha256,
            world: world.name(),
            engine: component.engine().clone(),
            pre,
            services,
        })
    }

    /// Creates an instance under `limits` and calls its `init` with `config` (JSON text).
    pub fn instantiate(
        &self,
        state: Arc<GuestState>,
        limits: InstanceLimits,
        config: &str,
    ) -> Result<GuestInstance, CallError> {
        let stderr = MemoryOutputPipe::new(STDERR_BYTES);
        // No arguments, environment, files or network: a guest sees only its batch and its state.
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build();
        let host = HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory_bytes),
            state,
            services: self.services.clone(),
            label: format!("{}@{}", self.name, self.version).into(),
            code_clock: Default::default(),
        };
        let mut store = Store::new(&self.engine, host);
        store.limiter(|h| &mut h.limiter);
        store.set_epoch_deadline(limits.deadline_ticks());
        let bindings = match &self.pre {
            Pre::Typed(pre) => pre.instantiate(&mut store).map(Bindings::Typed),
            Pre::Batch(pre) => pre.instantiate(&mut store).map(Bindings::Batch),
        }
        .map_err(|e| CallError::Init(format!("{e:#}")))?;
        let mut instance = GuestInstance { store, bindings, limits, stderr };
        store_deadline(&mut instance);
        let init = match &instance.bindings {
            Bindings::Typed(b) => b.sluice_pipeline_stage().call_init(&mut instance.store, config),
            Bindings::Batch(b) => b.sluice_pipeline_batch_stage().call_init(&mut instance.store, config),
        };
        match init {
            Ok(Ok(())) => Ok(instance),
            Ok(Err(message)) => Err(CallError::Init(message)),
            Err(e) => Err(CallError::Init(instance.describe(&e).to_string())),
        }
    }
}

fn store_deadline(instance: &mut GuestInstance) {
    let ticks = instance.limits.deadline_ticks();
    instance.store.set_epoch_deadline(ticks);
}

/// A running instance: its store, limits and captured stderr.
pub struct GuestInstance {
    store: Store<HostState>,
    bindings: Bindings,
    limits: InstanceLimits,
    stderr: MemoryOutputPipe,
}

impl std::fmt::Debug for GuestInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestInstance").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl GuestInstance {
    /// The most linear memory this instance has been allowed, in bytes.
    pub fn memory_high_water(&self) -> usize {
        self.store.data().limiter.peak
    }

    /// From now on, times the guest's own code apart from the boundary crossing (see
    /// [`super::timing`]); read with [`Self::guest_code_time`].
    pub fn time_guest_code(&mut self) {
        self.store.call_hook(|mut store, hook| {
            store.data_mut().code_clock.transition(hook);
            Ok(())
        });
    }

    /// Time spent in guest code since [`Self::time_guest_code`]; zero when it is off.
    pub fn guest_code_time(&self) -> Duration {
        self.store.data().code_clock.total()
    }

    /// Calls `process` once for the whole batch. On success every event comes back paired with
    /// its outcome; on failure the events come back untouched with the reason.
    #[allow(clippy::type_complexity)]
    pub fn process(&mut self, events: Vec<Event>) -> Result<Vec<(Event, Outcome)>, (Vec<Event>, CallError)> {
        store_deadline(self);
        let started = Instant::now();
        let (events, outcomes) = match &self.bindings {
            Bindings::Typed(bindings) => call_typed(bindings, &mut self.store, events),
            Bindings::Batch(bindings) => call_batch(bindings, &mut self.store, events),
        };
        let error = match outcomes {
            Ok(outcomes) => return Ok(events.into_iter().zip(outcomes).collect()),
            Err(Failure::Wasm(e)) => self.describe(&e),
            Err(Failure::Contract(message)) => CallError::Contract(message),
        };
        tracing::debug!(elapsed = ?started.elapsed(), %error, "guest call failed");
        Err((events, error))
    }

    /// Names a failed call: the deadline, the memory cap, or the trap with the guest's last words.
    fn describe(&self, error: &wasmtime::Error) -> CallError {
        if let Some(asked) = self.store.data().limiter.refused {
            return CallError::Memory { limit: self.limits.memory_bytes, asked };
        }
        if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
            return CallError::Deadline(self.limits.deadline);
        }
        let mut message = match error.downcast_ref::<Trap>() {
            Some(trap) => trap.to_string(),
            None => format!("{error:#}"),
        };
        let stderr = self.stderr.contents();
        let last_words = String::from_utf8_lossy(&stderr);
        let last_words = last_words.trim();
        if !last_words.is_empty() {
            let tail: String = last_words.chars().rev().take(512).collect::<Vec<_>>().into_iter().rev().collect();
            message.push_str(": ");
            message.push_str(&tail);
        }
        CallError::Trap(message)
    }
}

/// How a call failed before its outcomes could be read.
enum Failure {
    /// The call itself: a trap, the deadline, the memory cap.
    Wasm(wasmtime::Error),
    /// The answer: the wrong number of outcomes, or (in the batch layout) a bad span or range.
    Contract(String),
}

/// A `stage-guest` call: each event crosses as a typed record. The events are moved into the
/// records and back, never copied.
fn call_typed(
    bindings: &StageGuest,
    store: &mut Store<HostState>,
    events: Vec<Event>,
) -> (Vec<Event>, Result<Vec<Outcome>, Failure>) {
    let batch: Vec<_> = events.into_iter().map(convert::to_wit).collect();
    let result = bindings.sluice_pipeline_stage().call_process(store, &batch);
    let events = batch.into_iter().map(convert::from_wit).collect::<Vec<_>>();
    let outcomes = match result {
        Ok(outcomes) if outcomes.len() == events.len() => Ok(outcomes.into_iter().map(outcome_from_wit).collect()),
        Ok(outcomes) => {
            Err(Failure::Contract(format!("returned {} outcomes for {} events", outcomes.len(), events.len())))
        }
        Err(e) => Err(Failure::Wasm(e)),
    };
    (events, outcomes)
}

/// A `batch-guest` call: the batch crosses as one text buffer and two lists, packed from the
/// events, which stay here.
fn call_batch(
    bindings: &BatchGuest,
    store: &mut Store<HostState>,
    events: Vec<Event>,
) -> (Vec<Event>, Result<Vec<Outcome>, Failure>) {
    let outcomes = match layout::pack(&events) {
        Ok(batch) => match bindings.sluice_pipeline_batch_stage().call_process(store, &batch) {
            Ok(results) => layout::unpack(&results, events.len()).map_err(Failure::Contract),
            Err(e) => Err(Failure::Wasm(e)),
        },
        Err(e) => Err(Failure::Contract(e.to_string())),
    };
    (events, outcomes)
}

fn outcome_from_wit(outcome: stage::Outcome) -> Outcome {
    match outcome {
        stage::Outcome::Keep => Outcome::Keep,
        stage::Outcome::Annotate(a) => Outcome::Annotate(convert::annotation(a)),
        stage::Outcome::Replace(events) => Outcome::Replace(events.into_iter().map(convert::from_wit).collect()),
        stage::Outcome::Fail(reason) => Outcome::Fail(reason),
    }
}
