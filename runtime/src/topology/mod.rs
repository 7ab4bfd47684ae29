//! The running pipeline and every change to it.
//!
//! ```text
//!  journal ──read──▶ processor ──batch──▶ chain: a thread per stage ──Arc<Batch>──▶ store output ──▶ libSQL
//!   (durable)        thread                  (in order, bounded)   │                 │ committed offset
//!                    ▲ control messages      ◀── in-band changes   └──▶ tail hub ──▶ websocket clients
//!                    │ (between batches)
//!  Topology: start = apply(first pipeline); reload = apply(new pipeline);
//!            activate / rollback / canary = one stage's version
//! ```
//!
//! There is one path through which the pipeline changes: [`Topology::apply`] plans the new
//! topology in full (parses nothing itself, but loads and compiles every guest and runs each new
//! guest's `init` on a private copy of its state) before the running one is touched, then asks the
//! processor to install it between two batches. Start-up goes through the same path. If anything
//! fails, the running topology stays as it was and the error is returned.

mod chain;
mod inputs;
mod lifecycle;
pub mod live;
mod outputs;
mod plan;
mod processor;
pub mod reload;
pub mod shape;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{InputConfig, Pipeline, StageConfig, WebsocketOutputConfig};
use crate::guests::{ActiveRecord, Registry, RegistryError};
use crate::inputs::InputContext;
use crate::journal::{Appender, JournalCipher, JournalReader};
use crate::outputs::Offsets;
use crate::outputs::libsql::{StoreOutput, StoreOutputConfig};
use crate::outputs::sink::SinkContext;
use crate::outputs::websocket::TailHub;
use crate::stages::Version;
use crate::stages::canary::SharedReport;
use crate::storage::{Store, StoreError};
use crate::telemetry::Metrics;
use crate::wasm::{CallError, GuestState, LoadError, WasmHost};

pub use lifecycle::{Activated, GuestsStatus, LifecycleError, StageStatus, Uploaded, VersionStatus};
pub use plan::Changes;
use processor::{Control, Processor};
pub use reload::{ReloadLog, ReloadStatus};

/// Batches in flight between the processor and the store output.
const STORE_QUEUE: usize = 4;
/// The embedded store's name among the durable outputs' offsets.
pub const STORE_OUTPUT: &str = "libsql";
/// How often journal segments behind every output are deleted.
const RELEASE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Control messages waiting for the processor; senders wait beyond this.
const CONTROL_QUEUE: usize = 16;

/// Why a pipeline could not be started or changed.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("stage `{stage}`: {source}")]
    Load {
        stage: String,
        #[source]
        source: LoadError,
    },
    #[error("stage `{stage}`: {source}")]
    Init {
        stage: String,
        #[source]
        source: CallError,
    },
    #[error("stage `{stage}`: {message}")]
    Guest { stage: String, message: String },
    /// A stage could not be created when the topology was installed (its guest's `init` failed
    /// on the stage's real state); the message names the stage.
    #[error("{0}")]
    Install(String),
    #[error("the processor has stopped")]
    Stopped,
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start a pipeline thread: {0}")]
    Thread(#[from] std::io::Error),
    #[error(transparent)]
    Inference(#[from] crate::inference::InferenceError),
}

/// What starting a topology needs from the process.
#[derive(Debug)]
pub struct TopologyContext {
    pub wasm: WasmHost,
    pub store: Store,
    pub registry: Arc<Registry>,
    pub journal_dir: PathBuf,
    /// The data directory (outputs that keep their own offset keep it there).
    pub data_dir: PathBuf,
    /// Where inputs append.
    pub appender: Appender,
    /// The journal's durable end offset (from its writer).
    pub durable: watch::Receiver<u64>,
    /// Set when the store is encrypted: the journal is too.
    pub cipher: Option<JournalCipher>,
    pub metrics: Arc<Metrics>,
    pub abort: CancellationToken,
}

/// One stage as the topology knows it (the processor owns the stage itself).
#[derive(Debug, Clone)]
struct StageInfo {
    config: StageConfig,
    /// The guest name.
    guest: String,
    record: ActiveRecord,
    canary: Option<SharedReport>,
}

/// The installed topology.
#[derive(Debug, Default)]
struct Current {
    pipeline: Option<Pipeline>,
    stages: Vec<StageInfo>,
    websocket: Option<WebsocketOutputConfig>,
    tail: Option<Arc<TailHub>>,
    inputs: inputs::Inputs,
    sinks: outputs::Sinks,
    /// The inference service guests reach, and the settings it was started with.
    inference: Option<(crate::config::InferenceConfig, crate::inference::Service)>,
}

/// The running pipeline: the processor and store output threads and what runs in them.
#[derive(Debug)]
pub struct Topology {
    wasm: WasmHost,
    store: Store,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    control: mpsc::Sender<Control>,
    threads: Mutex<Option<(std::thread::JoinHandle<()>, StoreOutput)>>,
    runtime: tokio::runtime::Handle,
    /// How far each durable output has committed the journal.
    pub offsets: Offsets,
    appender: Appender,
    durable: watch::Receiver<u64>,
    data_dir: PathBuf,
    abort: CancellationToken,
    /// Cancelled once the pipeline has stopped.
    stopped: CancellationToken,
    /// What request handlers read.
    pub live: Arc<live::Live>,
    /// Held for the whole of every change, so changes happen one at a time.
    current: tokio::sync::Mutex<Current>,
    /// A copy of the stages as last changed, for readers that must not wait for a change in
    /// progress (which may be compiling a guest).
    view: Mutex<Vec<StageInfo>>,
    /// The inputs and outputs as last changed.
    shape: Mutex<shape::Shape>,
    /// Loaded versions by (guest, sha256), with their counters.
    versions: Mutex<HashMap<(String, String), Version>>,
    /// Every stage's state by stage name, kept even when a reload removes the stage, so a stage
    /// that comes back finds state that may not have reached the store yet.
    states: Mutex<HashMap<String, Arc<GuestState>>>,
    /// Reload count and last result.
    pub reloads: ReloadLog,
}

/// The outputs a plan started (or kept), before they join the current topology.
#[derive(Debug, Default)]
struct StartedSinks {
    sinks: outputs::Sinks,
    /// Names of the outputs started for this plan.
    started: Vec<String>,
}

/// Deletes journal segments every durable output is past, at most once a second, while every
/// output knows its offset.
fn spawn_release(offsets: Offsets, journal_dir: PathBuf, stopped: CancellationToken) {
    tokio::spawn(async move {
        let mut held = offsets.held();
        loop {
            tokio::select! {
                () = stopped.cancelled() => return,
                changed = held.changed() => if changed.is_err() { return },
            }
            let offset = *held.borrow_and_update();
            if offsets.all_known()
                && let Err(e) = crate::journal::release(&journal_dir, offset)
            {
                tracing::warn!(error = %e, "cannot release journal segments");
            }
            tokio::select! {
                () = stopped.cancelled() => return,
                () = tokio::time::sleep(RELEASE_EVERY) => {}
            }
        }
    });
}

/// Creates an instance of `version` with the stage's config and limits on a private copy of
/// `state`, on a blocking thread, and drops it: whether the version can start, found out without
/// touching the running stage or its state.
async fn trial(config: &StageConfig, version: &Version, state: &GuestState) -> Result<(), CallError> {
    let trial_state = Arc::new(state.snapshot());
    let json = crate::stages::config_json(config)?;
    let limits = crate::stages::instance_limits(config);
    let guest = version.guest.clone();
    tokio::task::spawn_blocking(move || guest.instantiate(trial_state, limits, &json).map(drop))
        .await
        .map_err(|e| CallError::Init(format!("init task failed: {e}")))?
}

impl Topology {
    /// Starts the processor and store output threads, then installs `pipeline` through
    /// [`Topology::apply`]: loading every guest and running each `init`, so a bad config fails
    /// here. Processing starts from the store's committed offset.
    pub async fn start(pipeline: &Pipeline, ctx: TopologyContext) -> Result<Arc<Topology>, TopologyError> {
        let start = ctx.store.committed_offset().await?;
        let offsets = Offsets::new(STORE_OUTPUT, start);
        let (batches_tx, batches_rx) = mpsc::channel(STORE_QUEUE);
        let store_output = StoreOutput::spawn(
            StoreOutputConfig {
                name: STORE_OUTPUT.into(),
                store: ctx.store.clone(),
                metrics: ctx.metrics.clone(),
                abort: ctx.abort.clone(),
            },
            batches_rx,
            offsets.clone(),
        )?;
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
        let processor = Processor {
            reader: JournalReader::new(&ctx.journal_dir, start, ctx.cipher),
            durable: ctx.durable.clone(),
            control: control_rx,
            batches: batches_tx,
            runtime: tokio::runtime::Builder::new_current_thread().enable_time().build()?,
            metrics: ctx.metrics.clone(),
        };
        let processor = std::thread::Builder::new().name("processor".into()).spawn(move || processor.run())?;
        let topology = Arc::new(Topology {
            wasm: ctx.wasm,
            store: ctx.store,
            registry: ctx.registry,
            metrics: ctx.metrics,
            control,
            threads: Mutex::new(Some((processor, store_output))),
            runtime: tokio::runtime::Handle::current(),
            offsets,
            appender: ctx.appender,
            durable: ctx.durable.clone(),
            data_dir: ctx.data_dir,
            abort: ctx.abort.clone(),
            stopped: CancellationToken::new(),
            live: Arc::new(live::Live::default()),
            current: tokio::sync::Mutex::new(Current::default()),
            view: Mutex::new(Vec::new()),
            shape: Mutex::new(shape::Shape::default()),
            versions: Mutex::new(HashMap::new()),
            states: Mutex::new(HashMap::new()),
            reloads: ReloadLog::default(),
        });
        spawn_release(topology.offsets.clone(), ctx.journal_dir, topology.stopped.clone());
        topology.apply(pipeline).await?;
        *topology.reloads.last_text.lock().unwrap_or_else(|p| p.into_inner()) = Some(pipeline.text.clone());
        Ok(topology)
    }

    /// Makes `pipeline` the running topology: plans it in full, then installs it between two
    /// batches. Unchanged stages keep their instances; the HTTP input keeps its limits object (and
    /// so its in-flight permits) when its settings did not change. On error nothing changed.
    pub async fn apply(&self, pipeline: &Pipeline) -> Result<Changes, TopologyError> {
        let mut current = self.current.lock().await;
        // A changed inference section starts a new service first (settings errors stop the
        // change); it replaces the running one only once the new topology is installed.
        let inference = match &current.inference {
            Some((config, _)) if *config == pipeline.config.inference => None,
            _ => Some(crate::inference::build(&pipeline.config.inference, &self.runtime, self.metrics.clone())?),
        };
        let mut plan = self.plan(pipeline, &current).await?;
        let mut sinks = self.start_sinks(pipeline, &mut current, &mut plan);
        let (reply, answer) = oneshot::channel();
        let install = Control::Install { slots: plan.slots, settings: plan.settings, reply };
        let installed = match self.control.send(install).await {
            Ok(()) => answer.await.map_err(|_| TopologyError::Stopped).and_then(|r| r.map_err(TopologyError::Install)),
            Err(_) => Err(TopologyError::Stopped),
        };
        if let Err(e) = installed {
            // The outputs started for this plan end with their queues; the running ones stay.
            for name in sinks.started {
                if !current.sinks.running.contains_key(&name) {
                    self.offsets.remove(&name);
                }
            }
            return Err(e);
        }
        for (name, _) in std::mem::take(&mut current.sinks.running) {
            if !sinks.sinks.running.contains_key(&name) {
                self.offsets.remove(&name);
            }
        }
        for info in &plan.current.stages {
            if let Err(e) = self.registry.set_active(&info.config.name, info.record.clone()) {
                tracing::error!(stage = %info.config.name, error = %e, "cannot record the active guest version");
            }
        }
        self.live.set(plan.http, plan.current.tail.clone(), plan.max_pending_bytes);
        // Broker inputs start once the backlog bound they pace themselves by is in place.
        let inputs = self.restart_inputs(pipeline, &mut current, &mut plan.changes).await;
        if let Some(old) = &current.tail
            && !plan.current.tail.as_ref().is_some_and(|new| Arc::ptr_eq(old, new))
        {
            old.retire();
        }
        let inference = match inference {
            Some(service) => {
                self.wasm.services().set_inference(service.inference());
                if let Some((_, old)) = current.inference.take() {
                    self.runtime.spawn(old.shutdown());
                }
                Some((pipeline.config.inference.clone(), service))
            }
            None => current.inference.take(),
        };
        *self.view.lock().unwrap_or_else(|p| p.into_inner()) = plan.current.stages.clone();
        *self.shape.lock().unwrap_or_else(|p| p.into_inner()) = shape::Shape::of(&pipeline.config);
        *current = Current { inputs, sinks: std::mem::take(&mut sinks.sinks), inference, ..plan.current };
        Ok(plan.changes)
    }

    /// The task outputs the plan needs: unchanged ones keep running (the processor gets another
    /// end of their queue), new or changed ones are started now, so they can find their offsets
    /// while the install waits for them.
    fn start_sinks(&self, pipeline: &Pipeline, current: &mut Current, plan: &mut plan::Plan) -> StartedSinks {
        // An output added to a running pipeline does not replay history it never had.
        let floor = if current.pipeline.is_some() { *self.offsets.held().borrow() } else { 0 };
        let mut started = StartedSinks::default();
        for output in pipeline.config.outputs.iter().filter(|o| outputs::is_task(o)) {
            let name = output.name().to_string();
            if let Some(running) = current.sinks.running.get(&name)
                && running.config == *output
            {
                plan.settings.sinks.push(running.keep(&name));
                plan.changes.outputs_kept.push(name.clone());
                if let Some(running) = current.sinks.running.remove(&name) {
                    started.sinks.running.insert(name, running);
                }
                continue;
            }
            let (ctx, sink, rx) = SinkContext::new(
                &name,
                &self.offsets,
                floor,
                self.metrics.clone(),
                self.abort.clone(),
                self.data_dir.clone(),
            );
            // Processed batches are larger than the raw journal they come from: four times the
            // journal's bound, so that ingest is refused (503) at the journal's bound first.
            let overflow_bytes = pipeline.config.journal.max_pending_mib.saturating_mul(4 << 20);
            if let Some((running, sink)) = outputs::spawn(output, ctx, sink, rx, overflow_bytes) {
                plan.settings.sinks.push(sink);
                plan.changes.outputs_changed.push(name.clone());
                started.started.push(name.clone());
                started.sinks.running.insert(name, running);
            }
        }
        started
    }

    /// After an install: inputs whose settings did not change keep running (and their
    /// connections); changed ones are stopped and started again; removed ones are stopped.
    async fn restart_inputs(
        &self,
        pipeline: &Pipeline,
        current: &mut Current,
        changes: &mut Changes,
    ) -> inputs::Inputs {
        let mut kept = inputs::Inputs::default();
        let wanted: Vec<&InputConfig> =
            pipeline.config.inputs.iter().filter(|i| !matches!(i, InputConfig::Http(_))).collect();
        for config in &wanted {
            let name = config.name().to_string();
            match current.inputs.running.remove(&name) {
                Some(running) if running.config == **config => {
                    changes.inputs_kept.push(name.clone());
                    kept.running.insert(name, running);
                    continue;
                }
                Some(running) => running.stop(&name).await,
                None => {}
            }
            changes.inputs_changed.push(name.clone());
            let ctx = InputContext::new(
                &name,
                CancellationToken::new(),
                self.metrics.clone(),
                self.appender.clone(),
                self.durable.clone(),
                self.offsets.held(),
                self.live.clone(),
            );
            if let Some(running) = inputs::spawn(config, ctx) {
                kept.running.insert(name, running);
            }
        }
        current.inputs.stop_all().await;
        kept
    }

    /// Stops every broker input (shutdown, before the journal closes), so none is left holding
    /// messages it cannot journal.
    pub async fn stop_inputs(&self) {
        self.current.lock().await.inputs.stop_all().await;
    }

    /// Updates the readers' copy of one stage after it changed.
    fn publish(&self, info: &StageInfo) {
        let mut view = self.view.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = view.iter_mut().find(|s| s.config.name == info.config.name) {
            *slot = info.clone();
        }
    }

    /// The readers' copy of the stages.
    fn stages_view(&self) -> Vec<StageInfo> {
        self.view.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The running inputs and outputs; never waits for a change in progress.
    pub fn shape(&self) -> shape::Shape {
        self.shape.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Each stage's name, guest and active version (12 hex digits); never waits for a change.
    pub fn stage_names(&self) -> Vec<(String, String, String)> {
        self.stages_view()
            .iter()
            .map(|s| (s.config.name.clone(), s.guest.clone(), lifecycle::short(&s.record.active)))
            .collect()
    }

    /// The pipeline file the topology was last built from.
    pub async fn pipeline_path(&self) -> Option<PathBuf> {
        self.current.lock().await.pipeline.as_ref().map(|p| p.path.clone())
    }

    /// Waits until the processor has drained the journal (its writer must be closed first) and
    /// the store has committed everything. Blocks; call once, at shutdown.
    pub fn join(&self) {
        let threads = self.threads.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((processor, store_output)) = threads {
            if processor.join().is_err() {
                tracing::error!("processor thread panicked");
            }
            store_output.join();
        }
        // The processor has dropped its ends of the output queues; with ours gone too, each
        // output delivers what it holds and ends.
        let sinks = std::mem::take(&mut self.current.blocking_lock().sinks.running);
        for (name, sink) in sinks {
            drop(sink.batches);
            if let Err(e) = self.runtime.block_on(sink.task) {
                tracing::error!(output = %name, error = %e, "output task failed");
            }
        }
        self.stopped.cancel();
    }

    /// A loaded version of `guest`: compiled (or read from the compile cache) on a blocking
    /// thread the first time, shared afterwards. `bytes` saves reading them from the registry.
    async fn version(
        &self,
        guest: &str,
        sha256: &str,
        bytes: Option<std::borrow::Cow<'static, [u8]>>,
    ) -> Result<Version, LoadError> {
        let key = (guest.to_string(), sha256.to_string());
        if let Some(v) = self.versions.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(v.clone());
        }
        let bytes = match bytes {
            Some(bytes) => bytes,
            None => self
                .registry
                .bytes(guest, sha256)
                .map(std::borrow::Cow::Owned)
                .map_err(|e| LoadError::Invalid { name: guest.to_string(), reason: e.to_string() })?,
        };
        let wasm = self.wasm.clone();
        let name = guest.to_string();
        let guest = tokio::task::spawn_blocking(move || wasm.load(&name, &bytes))
            .await
            .map_err(|e| LoadError::Engine(format!("compile task failed: {e}")))??;
        let version = Version::new(guest);
        self.versions.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_insert(version.clone());
        Ok(version)
    }

    /// Compiles and checks a component without keeping it: what an upload must pass. Returns the
    /// stage world it implements.
    async fn check(&self, guest: &str, bytes: Vec<u8>) -> Result<String, LoadError> {
        let wasm = self.wasm.clone();
        let name = guest.to_string();
        tokio::task::spawn_blocking(move || wasm.load(&name, &bytes).map(|g| g.world.clone()))
            .await
            .map_err(|e| LoadError::Engine(format!("compile task failed: {e}")))?
    }

    /// The stage's state: the one in use, or as stored.
    async fn state(&self, stage: &StageConfig) -> Result<Arc<GuestState>, StoreError> {
        if let Some(state) = self.states.lock().unwrap_or_else(|p| p.into_inner()).get(&stage.name) {
            return Ok(state.clone());
        }
        let saved = self.store.load_state(&stage.name).await?;
        let limits = crate::wasm::StateLimits::with_quota_mib(stage.limits.state_mib);
        let state = Arc::new(GuestState::new(&stage.name, limits, saved));
        Ok(self.states.lock().unwrap_or_else(|p| p.into_inner()).entry(stage.name.clone()).or_insert(state).clone())
    }
}
