//! The store output: a thread that commits each batch to the embedded store, retrying until it
//! succeeds, and then reports the committed offset.
//!
//! It runs on its own thread (with a small single-threaded runtime for libSQL's async API)
//! because SQLite work is blocking; it must never run on the request-serving runtime.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Batch, Offsets};
use crate::event::now_ns;
use crate::storage::Store;
use crate::telemetry::{Metrics, OutputLabel, Totals};

/// The running store output.
#[derive(Debug)]
pub struct StoreOutput {
    thread: std::thread::JoinHandle<()>,
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
        batches: mpsc::Receiver<Arc<Batch>>,
        committed: Offsets,
    ) -> std::io::Result<StoreOutput> {
        let thread = std::thread::Builder::new().name("store-output".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "store output cannot start its runtime");
                    return;
                }
            };
            rt.block_on(run(config, batches, committed));
        })?;
        Ok(StoreOutput { thread })
    }

    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("store output thread panicked");
        }
    }
}

async fn run(config: StoreOutputConfig, mut batches: mpsc::Receiver<Arc<Batch>>, committed: Offsets) {
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
    while let Some(batch) = batches.recv().await {
        let mut backoff = Duration::from_millis(50);
        loop {
            match writer.write(&batch, batch.store_events).await {
                Ok(applied) => {
                    if applied {
                        record(&config, &label, &batch);
                    }
                    committed.commit(&config.name, batch.end_offset);
                    break;
                }
                Err(e) => {
                    config.metrics.output_errors.get_or_create(&label).inc();
                    committed.fail(&config.name, e.to_string());
                    tracing::error!(error = %e, retry_in = ?backoff, "store write failed; the batch stays in the journal and is retried");
                    if sleep_or_abort(&config.abort, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
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
