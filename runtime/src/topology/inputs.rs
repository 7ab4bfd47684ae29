//! The broker inputs (AMQP, Kafka, ZeroMQ) of the running topology: one task each, kept across a
//! reload when its settings did not change (so it keeps its connection), stopped and started
//! again when they did. The HTTP input is not here: it is the shared server's, swapped in `live`.

use std::collections::HashMap;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::InputConfig;
use crate::inputs::InputContext;

/// Longest an input is given to stop (finish journaling what it holds, leave its group).
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// One running input task.
#[derive(Debug)]
pub(super) struct RunningInput {
    pub config: InputConfig,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// The running broker inputs, by name.
#[derive(Debug, Default)]
pub(super) struct Inputs {
    pub running: HashMap<String, RunningInput>,
}

/// Starts one input's task. `ctx.cancel` stops it.
pub(super) fn spawn(config: &InputConfig, ctx: InputContext) -> Option<RunningInput> {
    let cancel = ctx.cancel.clone();
    let task = start(config.clone(), ctx)?;
    Some(RunningInput { config: config.clone(), cancel, task })
}

fn start(config: InputConfig, ctx: InputContext) -> Option<JoinHandle<()>> {
    match config {
        #[cfg(feature = "amqp")]
        InputConfig::Amqp(c) => Some(tokio::spawn(crate::inputs::amqp::run(c, ctx))),
        #[cfg(feature = "kafka")]
        InputConfig::Kafka(c) => Some(tokio::spawn(crate::inputs::kafka::run(c, ctx))),
        #[cfg(feature = "zeromq")]
        InputConfig::Zeromq(c) => Some(tokio::spawn(crate::inputs::zeromq::run(c, ctx))),
        // The HTTP input is the shared server's; one this build lacks was refused when the
        // pipeline was loaded (`InputConfig::is_built`).
        _ => {
            drop(ctx);
            None
        }
    }
}

impl RunningInput {
    /// Stops the task and waits (bounded) for it to finish.
    pub async fn stop(self, name: &str) {
        self.cancel.cancel();
        match tokio::time::timeout(STOP_TIMEOUT, self.task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(input = name, error = %e, "input task failed"),
            Err(_) => tracing::warn!(input = name, "input did not stop in time"),
        }
    }
}

impl Inputs {
    /// Stops every input (shutdown), concurrently.
    pub async fn stop_all(&mut self) {
        let stopping: Vec<_> =
            self.running.drain().map(|(name, input)| async move { input.stop(&name).await }).collect();
        futures_util::future::join_all(stopping).await;
    }
}
