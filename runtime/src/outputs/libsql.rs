//! The store output: a thread that commits each batch to the embedded store, retrying until it
//! succeeds, and then reports the committed offset.
//!
//! It runs on its own thread (with a small single-threaded runtime for libSQL's async API)
//! because SQLite work is blocking; it must never run on the request-serving runtime. A second
//! thread ahead of it, `store-encode`, turns each batch's events into statement parameters, so the
//! writer (which cannot be split: one transaction after another) only runs statements.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Batch, Offsets};
use crate::event::now_ns;
use crate::storage::{EncodedRows, Store};
use crate::telemetry::{Metrics, OutputLabel, Totals};

/// Encoded batches waiting for the writer.
const ENCODED_QUEUE: usize = 4;
/// Most batches committed in one transaction.
const MAX_GROUP: usize = 16;

/// The running store output.
#[derive(Debug)]
pub struct StoreOutput {
    encoder: std::thread::JoinHandle<()>,
    thread: std::thread::JoinHandle<()>,
}

/// A batch and its `logs` rows, encoded ahead of the writer.
#[derive(Debug)]
struct Encoded {
    batch: Arc<Batch>,
    rows: Option<EncodedRows>,
}

/// What the store output needs.
#[derive(Debug)]
pub struct StoreOutputConfig {
    pub name: String,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Cancelled when shutdown gives up on a store that keeps failing.
    pub abort: CancellationToken,
}

impl StoreOutput {
    /// Starts the thread. It drains `batches` until the sender is gone and records each
    /// committed offset in `offsets`.
    pub fn spawn(
        config: StoreOutputConfig,
        mut batches: mpsc::Receiver<Arc<Batch>>,
        committed: Offsets,
    ) -> std::io::Result<StoreOutput> {
        let (tx, encoded) = tokio::sync::mpsc::channel::<Encoded>(ENCODED_QUEUE);
        let encoder = std::thread::Builder::new().name("store-encode".into()).spawn(move || {
            while let Some(batch) = batches.blocking_recv() {
                let rows = batch.store_events.then(|| EncodedRows::encode(&batch.events));
                if tx.blocking_send(Encoded { batch, rows }).is_err() {
                    return;
                }
            }
        })?;
        let thread = std::thread::Builder::new().name("store-output".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "store output cannot start its runtime");
                    return;
                }
            };
            rt.block_on(run(config, encoded, committed));
        })?;
        Ok(StoreOutput { encoder, thread })
    }

    pub fn join(self) {
        if self.encoder.join().is_err() {
            tracing::error!("store encoder thread panicked");
        }
        if self.thread.join().is_err() {
            tracing::error!("store output thread panicked");
        }
    }
}

async fn run(config: StoreOutputConfig, mut batches: mpsc::Receiver<Encoded>, committed: Offsets) {
    let label = OutputLabel { output: config.name.clone() };
    let mut writer = loop {
        match config.store.writer().await {
            Ok(writer) => break writer,
            Err(e) => {
                tracing::error!(error = %e, "store output cannot connect; retrying");
                if sleep_or_abort(&config.abort, Duration::from_secs(1)).await {
                    return;
                }
            }
        }
    };
    let mut group: Vec<(Arc<Batch>, Option<EncodedRows>)> = Vec::new();
    while let Some(first) = batches.recv().await {
        // Whatever else is already waiting joins the same transaction.
        group.push((first.batch, first.rows));
        while group.len() < MAX_GROUP {
            match batches.try_recv() {
                Ok(next) => group.push((next.batch, next.rows)),
                Err(_) => break,
            }
        }
        let mut backoff = Duration::from_millis(50);
        loop {
            match writer.write(&mut group).await {
                Ok(applied) => {
                    for ((batch, _), applied) in group.iter().zip(applied) {
                        if applied {
                            record(&config, &label, batch);
                        }
                    }
                    if let Some((last, _)) = group.last() {
                        committed.commit(&config.name, last.end_offset);
                    }
                    break;
                }
                Err(e) => {
                    config.metrics.output_errors.get_or_create(&label).inc();
                    committed.fail(&config.name, e.to_string());
                    tracing::error!(error = %e, retry_in = ?backoff, "store write failed; the batches stay in the journal and are retried");
                    if sleep_or_abort(&config.abort, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        group.clear();
    }
}

fn record(config: &StoreOutputConfig, label: &OutputLabel, batch: &Batch) {
    let m = &config.metrics;
    let now = now_ns();
    if batch.store_events {
        m.output_events.get_or_create(label).inc_by(batch.events.len() as u64);
        Totals::add(&m.totals.stored, batch.events.len() as u64);
    }
    Totals::add(&m.totals.dead_lettered, batch.dead_letters.len() as u64);
    Totals::add(&m.totals.batches, 1);
    for event in &batch.events {
        m.ingest_to_stored_seconds.observe((now - event.received_ns).max(0) as f64 / 1e9);
    }
}

/// Sleeps, unless told to abort first; returns whether it aborted.
async fn sleep_or_abort(abort: &CancellationToken, duration: Duration) -> bool {
    tokio::select! {
        () = abort.cancelled() => true,
        () = tokio::time::sleep(duration) => false,
    }
}
