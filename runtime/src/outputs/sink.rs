//! The contract between the processor and an output that runs on its own task (PostgreSQL,
//! Kafka): how it learns where it stands, receives batches and reports what is durable.
//!
//! An output's task, given a [`SinkContext`] and a queue of batches:
//! 1. finds what it committed before (in its own store), and calls [`SinkContext::ready`] once;
//!    until every output has, the processor does not start;
//! 2. takes batches in order; a batch whose `end_offset` is at or below what it committed before
//!    was delivered before a crash and is skipped whole (the processor starts batches at every
//!    output's committed offset, so a batch never straddles one);
//! 3. delivers each batch durably (retrying with backoff while the far end is down: the data
//!    waits in the journal), then calls [`SinkContext::committed`];
//! 4. returns when the queue closes (after delivering what it holds) or when `abort` fires.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{Batch, Offsets};
use crate::telemetry::Metrics;

/// Batches in flight to one output; the processor waits beyond this, so the slowest durable
/// output paces the pipeline and the rest waits in the journal.
pub const QUEUE: usize = 4;

/// What an output task is given.
#[derive(Debug)]
pub struct SinkContext {
    pub name: String,
    pub metrics: Arc<Metrics>,
    /// Fires when shutdown gives up waiting; the task returns without delivering the rest, which
    /// stays in the journal for the next start.
    pub abort: CancellationToken,
    /// The data directory, for outputs that keep their own offset there.
    pub data_dir: PathBuf,
    offsets: Offsets,
    /// An output added to a running pipeline starts here at the earliest (it does not replay
    /// history it never had).
    floor: u64,
    ready: Option<oneshot::Sender<u64>>,
}

/// The processor's end of one output.
#[derive(Debug)]
pub struct Sink {
    pub name: String,
    pub batches: mpsc::Sender<Arc<Batch>>,
    /// Resolves to the offset the output starts from, once it knows.
    pub ready: Option<oneshot::Receiver<u64>>,
}

impl SinkContext {
    /// A context and the processor's end for output `name`, with its queue.
    pub fn new(
        name: &str,
        offsets: &Offsets,
        floor: u64,
        metrics: Arc<Metrics>,
        abort: CancellationToken,
        data_dir: PathBuf,
    ) -> (SinkContext, Sink, mpsc::Receiver<Arc<Batch>>) {
        offsets.expect(name);
        let (ready_tx, ready_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(QUEUE);
        let ctx = SinkContext {
            name: name.to_string(),
            metrics,
            abort,
            data_dir,
            offsets: offsets.clone(),
            floor,
            ready: Some(ready_tx),
        };
        (ctx, Sink { name: name.to_string(), batches: tx, ready: Some(ready_rx) }, rx)
    }

    /// Says what this output committed before (`None`: it never ran, or its store is new).
    /// Returns the offset at or below which batches are to be skipped.
    pub fn ready(&mut self, committed: Option<u64>) -> u64 {
        let start = match committed {
            Some(offset) => offset.max(self.floor),
            None => self.new_start(),
        };
        if let Some(ready) = self.ready.take() {
            self.offsets.start(&self.name, start);
            let _ = ready.send(start);
        }
        start
    }

    /// Where an output that never committed anything starts: where the pipeline stands.
    pub fn new_start(&self) -> u64 {
        self.offsets.get(&self.name).unwrap_or(self.floor).max(self.floor)
    }

    /// Counts a batch this output has durably delivered (events, and the time since each was
    /// acknowledged at ingest).
    pub fn delivered(&self, batch: &Batch) {
        let label = crate::telemetry::OutputLabel { output: self.name.clone() };
        self.metrics.output_events.get_or_create(&label).inc_by(batch.events.len() as u64);
        let now = crate::event::now_ns();
        let histogram = self.metrics.ingest_to_output_seconds.get_or_create(&label);
        for event in &batch.events {
            histogram.observe((now - event.received_ns).max(0) as f64 / 1e9);
        }
    }

    /// Records that everything below `offset` is durable in this output.
    pub fn committed(&self, offset: u64) {
        self.offsets.commit(&self.name, offset);
    }

    /// This Sluice instance's id (its data directory's), created on first use: outputs that keep
    /// their offset in a shared database key it by this, so instances sharing one database each
    /// keep their own.
    pub fn instance_id(&self) -> std::io::Result<String> {
        let path = self.instance_id_path();
        match std::fs::read_to_string(&path) {
            Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_string()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let id = uuid::Uuid::now_v7().to_string();
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &id)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(id)
    }

    /// Whether this data directory has an instance id yet (`false`: it is a new instance, which
    /// no shared database can hold anything of).
    pub fn has_instance_id(&self) -> bool {
        self.instance_id_path().exists()
    }

    fn instance_id_path(&self) -> PathBuf {
        self.data_dir.join("instance_id")
    }

    /// Records a failed attempt (it will be retried): counted in `sluice_output_errors` and shown
    /// by `/stats` until the next success.
    pub fn failed(&self, error: &dyn std::fmt::Display) {
        let label = crate::telemetry::OutputLabel { output: self.name.clone() };
        self.metrics.output_errors.get_or_create(&label).inc();
        self.offsets.fail(&self.name, error.to_string());
    }
}
