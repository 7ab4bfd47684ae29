//! The outputs of the running topology that run on their own tasks (PostgreSQL, Kafka,
//! webhooks). An
//! unchanged output keeps its task and connections across a reload; a removed one is sent no
//! more batches, delivers what it holds and ends.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::OutputConfig;
use crate::outputs::sink::{Sink, SinkContext};
use crate::outputs::{Batch, overflow, webhook};

/// One running output task, with a sender so a reload can keep feeding it.
#[derive(Debug)]
pub(super) struct RunningSink {
    pub config: OutputConfig,
    pub batches: mpsc::Sender<Arc<Batch>>,
    pub task: JoinHandle<()>,
}

/// The running task outputs, by name.
#[derive(Debug, Default)]
pub(super) struct Sinks {
    pub running: HashMap<String, RunningSink>,
}

/// Whether this kind of output runs as its own task.
pub(super) fn is_task(config: &OutputConfig) -> bool {
    matches!(config, OutputConfig::Postgres(_) | OutputConfig::Kafka(_) | OutputConfig::Webhook(_))
}

/// Starts an output's task, behind its overflow queue (`outputs::overflow`, bounded by
/// `overflow_bytes`) so that it never holds the rest of the pipeline back; returns it and the
/// processor's end.
pub(super) fn spawn(
    config: &OutputConfig,
    ctx: SinkContext,
    sink: Sink,
    from_processor: mpsc::Receiver<Arc<Batch>>,
    overflow_bytes: u64,
) -> Option<(RunningSink, Sink)> {
    if !is_task(config) {
        return None;
    }
    let (to_output, batches) = mpsc::channel(crate::outputs::sink::QUEUE);
    overflow::spawn(&ctx.name, overflow::file_for(&ctx.data_dir, &ctx.name), overflow_bytes, from_processor, to_output);
    let task = match config.clone() {
        #[cfg(feature = "postgres")]
        OutputConfig::Postgres(c) => tokio::spawn(crate::outputs::postgres::run(c, ctx, batches)),
        #[cfg(feature = "kafka")]
        OutputConfig::Kafka(c) => tokio::spawn(crate::outputs::kafka::run(c, ctx, batches)),
        OutputConfig::Webhook(c) => tokio::spawn(webhook::run(c, ctx, batches)),
        // Not a task output (`is_task` above), or not in this build, which the pipeline's loading
        // refused (`OutputConfig::is_built`).
        other => unreachable!("the `{}` output is not a task output of this build", other.kind()),
    };
    Some((RunningSink { config: config.clone(), batches: sink.batches.clone(), task }, sink))
}

impl RunningSink {
    /// The processor's end for a kept output (it already said where it starts).
    pub fn keep(&self, name: &str) -> Sink {
        Sink { name: name.to_string(), batches: self.batches.clone(), ready: None }
    }
}
