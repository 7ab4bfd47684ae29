//! Model inference for guests, on a side path (the `inference` import of
//! `wit/pipeline-0.1.1/host.wit`).
//!
//! A guest asks once per key (a pattern) with [`Inference::request`] and reads the answer later
//! with [`Inference::lookup`]; neither ever waits for the network, since both run inside a guest
//! call on the processor thread. Behind them: an in-memory cache per key (one call per key,
//! `known` afterwards), a sliding hourly budget, a bounded queue and a fixed pool of
//! `max_concurrent` worker tasks that POST to an OpenAI-compatible `/chat/completions`, each call
//! under `timeout`.
//!
//! A failed key is answered `known` for [`settings::RETRY_FAILED_AFTER`] (10 minutes), its reason
//! readable through `lookup`; a `request` after that sends it again (and spends budget again).
//! The cache is not durable: guests keep the insights they want in their own state.
//!
//! Layout: `settings.rs` (configuration plus environment), `service.rs` (admission and workers),
//! `cache.rs`, `budget.rs`, `client.rs` (the HTTP call), `answer.rs` (reading the model's answer).

mod answer;
mod budget;
mod cache;
mod client;
mod service;
pub mod settings;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use self::service::InferenceService;
pub use self::settings::Settings;
use crate::config::InferenceConfig;
use crate::telemetry::Metrics;
pub use crate::wasm::{Answer, Inference, NoInference, RequestStatus};

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// The settings, with the environment applied, do not make an endpoint.
    #[error("inference: {0}")]
    Config(String),
    /// The HTTP client could not be built.
    #[error("inference: cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// The service as started: what guests call ([`Service::inference`]) and the workers behind it.
/// Dropping it stops the workers; lookups of answers already in keep working.
#[derive(Debug)]
pub struct Service {
    inference: Arc<dyn Inference>,
    /// `None` when disabled.
    service: Option<Arc<InferenceService>>,
    cancel: CancellationToken,
    workers: Vec<JoinHandle<()>>,
}

/// Starts the service for a pipeline's `inference` section, with the process environment applied
/// (see [`settings`]). Without a URL the service is [`NoInference`] and starts no task.
pub fn build(
    config: &InferenceConfig,
    handle: &tokio::runtime::Handle,
    metrics: Arc<Metrics>,
) -> Result<Service, InferenceError> {
    let settings = Settings::resolve(config, |name| std::env::var(name).ok())?;
    start(settings, handle, metrics)
}

/// Starts the service with resolved settings (`None`: disabled).
pub fn start(
    settings: Option<Settings>,
    handle: &tokio::runtime::Handle,
    metrics: Arc<Metrics>,
) -> Result<Service, InferenceError> {
    let cancel = CancellationToken::new();
    let Some(settings) = settings else {
        return Ok(Service { inference: Arc::new(NoInference), service: None, cancel, workers: Vec::new() });
    };
    let settings = Arc::new(settings);
    let client = client::Client::new(settings.clone())?;
    let service = Arc::new(InferenceService::new(settings.clone(), metrics));
    let workers = (0..settings.max_concurrent)
        .map(|_| handle.spawn(service.clone().work(client.clone(), cancel.child_token())))
        .collect();
    tracing::info!(endpoint = %settings.endpoint, model = %settings.model, "inference enabled");
    Ok(Service { inference: service.clone(), service: Some(service), cancel, workers })
}

impl Service {
    /// What the guests' `inference` import calls (`HostServices::set_inference`).
    pub fn inference(&self) -> Arc<dyn Inference> {
        self.inference.clone()
    }

    /// Stops taking requests (they are answered `disabled`) and ends the workers, dropping calls
    /// in flight; returns once every worker has ended.
    pub async fn shutdown(mut self) {
        if let Some(service) = &self.service {
            service.close();
        }
        self.cancel.cancel();
        for worker in self.workers.drain(..) {
            if let Err(e) = worker.await
                && e.is_panic()
            {
                tracing::error!(error = %e, "inference worker panicked");
            }
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(service) = &self.service {
            service.close();
        }
        self.cancel.cancel();
    }
}
