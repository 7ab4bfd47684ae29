//! The running pipeline: guests loaded, stages built, the processor thread reading the journal,
//! and the outputs it feeds.
//!
//! ```text
//!  journal ──read──▶ processor thread ──Arc<Batch>──▶ store output thread ──▶ libSQL
//!   (durable)        stages in order       │                 │ committed offset
//!                                          └──▶ tail hub ──▶ websocket clients
//! ```
//!
//! The processor runs guests synchronously on its own thread (Wasm calls are CPU-bound and must
//! not stall the request-serving runtime); the bounded channel to the store output is what pushes
//! back when the store is slower than the stages.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{GuestSource, OutputConfig, Pipeline};
use crate::event::Event;
use crate::journal::{JournalCipher, JournalError, JournalReader};
use crate::outputs::Batch;
use crate::outputs::libsql::{StoreOutput, StoreOutputConfig};
use crate::outputs::websocket::TailHub;
use crate::stages::Stage;
use crate::storage::{Store, StoreError};
use crate::telemetry::Metrics;
use crate::wasm::{CallError, GuestState, LoadError, StateLimits, WasmHost, builtin};

/// Batches in flight between the processor and the store output.
const STORE_QUEUE: usize = 4;

/// Why a pipeline could not be started.
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
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start a pipeline thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// A started pipeline.
#[derive(Debug)]
pub struct Topology {
    processor: std::thread::JoinHandle<()>,
    store_output: StoreOutput,
    /// The live stream, when the pipeline has a websocket output.
    pub tail: Option<Arc<TailHub>>,
    /// The journal offset the store has committed.
    pub stored: watch::Receiver<u64>,
}

/// What starting a topology needs from the process.
#[derive(Debug)]
pub struct TopologyContext<'a> {
    pub wasm: &'a WasmHost,
    pub store: &'a Store,
    pub journal_dir: PathBuf,
    /// The journal's durable end offset (from its writer).
    pub durable: watch::Receiver<u64>,
    /// Set when the store is encrypted: the journal is too.
    pub cipher: Option<JournalCipher>,
    pub metrics: Arc<Metrics>,
    pub abort: CancellationToken,
}

impl Topology {
    /// Loads every guest, creates every stage (each guest's `init` runs now, so a bad config
    /// fails here), and starts processing from the store's committed offset.
    pub async fn start(pipeline: &Pipeline, ctx: TopologyContext<'_>) -> Result<Topology, TopologyError> {
        let mut stages = Vec::new();
        for stage_config in &pipeline.config.stages {
            let stage = stage_config.name.clone();
            let wasm = ctx.wasm.clone();
            let source = pipeline.guest_source(stage_config);
            let guest_name = stage_config.guest.clone();
            let guest = tokio::task::spawn_blocking(move || match source {
                GuestSource::Builtin(name) => wasm.load(&name, builtin::get(&name).unwrap_or_default()),
                GuestSource::File(path) => wasm.load_file(&guest_name, &path),
            })
            .await
            .map_err(|e| TopologyError::Thread(std::io::Error::other(e)))?
            .map_err(|source| TopologyError::Load { stage: stage.clone(), source })?;
            let saved = ctx.store.load_state(&stage).await?;
            let state =
                Arc::new(GuestState::new(&stage, StateLimits::with_quota_mib(stage_config.limits.state_mib), saved));
            let built = Stage::new(stage_config, guest, state, ctx.metrics.clone())
                .map_err(|source| TopologyError::Init { stage: stage.clone(), source })?;
            tracing::info!(stage, guest = %stage_config.guest, "stage ready");
            stages.push(built);
        }

        let mut store_events = None;
        let mut tail = None;
        for output in &pipeline.config.outputs {
            match output {
                OutputConfig::Libsql(_) => store_events = Some(output.name().to_string()),
                OutputConfig::Websocket(c) => tail = Some(Arc::new(TailHub::new(c.buffer_batches, c.dead_letters))),
            }
        }

        let start = ctx.store.committed_offset().await?;
        let (stored_tx, stored) = watch::channel(start);
        let (batches_tx, batches_rx) = mpsc::channel(STORE_QUEUE);
        let store_output = StoreOutput::spawn(
            StoreOutputConfig {
                name: store_events.clone().unwrap_or_else(|| "dead_letters".into()),
                store: ctx.store.clone(),
                store_events: store_events.is_some(),
                journal_dir: ctx.journal_dir.clone(),
                metrics: ctx.metrics.clone(),
                abort: ctx.abort.clone(),
            },
            batches_rx,
            stored_tx,
        )?;
        let processor = Processor {
            reader: JournalReader::new(&ctx.journal_dir, start, ctx.cipher),
            durable: ctx.durable,
            stages,
            max_events: pipeline.config.batch.max_events,
            tail: tail.clone(),
            batches: batches_tx,
            runtime: tokio::runtime::Handle::current(),
        };
        let processor = std::thread::Builder::new().name("processor".into()).spawn(move || processor.run())?;
        Ok(Topology { processor, store_output, tail, stored })
    }

    /// Waits until the processor has drained the journal (its writer must be closed first) and
    /// the store has committed everything.
    pub fn join(self) {
        if self.processor.join().is_err() {
            tracing::error!("processor thread panicked");
        }
        self.store_output.join();
    }
}

struct Processor {
    reader: JournalReader,
    durable: watch::Receiver<u64>,
    stages: Vec<Stage>,
    max_events: usize,
    tail: Option<Arc<TailHub>>,
    batches: mpsc::Sender<Arc<Batch>>,
    runtime: tokio::runtime::Handle,
}

impl Processor {
    fn run(mut self) {
        let mut writer_closed = false;
        loop {
            let durable = *self.durable.borrow_and_update();
            let entries = match self.reader.read(durable, self.max_events) {
                Ok(entries) => entries,
                Err(e) => {
                    self.report_read_error(&e);
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
            let Some(end_offset) = entries.last().map(|e| e.end_offset) else {
                if writer_closed {
                    break;
                }
                let durable = &mut self.durable;
                let changed = self
                    .runtime
                    .block_on(async { tokio::time::timeout(Duration::from_millis(200), durable.changed()).await });
                writer_closed = matches!(changed, Ok(Err(_)));
                continue;
            };
            let mut events: Vec<Event> = Vec::with_capacity(entries.iter().map(|e| e.events.len()).sum());
            for entry in entries {
                events.extend(entry.events.into_iter().map(|j| Event::received(j.id, j.received_ns, j.input, j.raw)));
            }
            let mut dead_letters = Vec::new();
            for stage in &mut self.stages {
                events = stage.process(events, &mut dead_letters);
            }
            let state = self.stages.iter().flat_map(|s| s.state().take_writes()).collect();
            let batch = Arc::new(Batch { end_offset, events, dead_letters, state });
            if let Some(tail) = &self.tail {
                tail.publish(&batch);
            }
            if self.batches.blocking_send(batch).is_err() {
                tracing::error!("store output stopped; processing stops");
                break;
            }
        }
        tracing::debug!(position = self.reader.position(), "processor drained the journal");
    }

    fn report_read_error(&self, e: &JournalError) {
        tracing::error!(error = %e, position = self.reader.position(), "cannot read the journal; retrying");
    }
}
