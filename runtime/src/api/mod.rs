//! The HTTP surface: ingest (from [`crate::inputs::http`]), queries, the live tail, operations
//! endpoints and the dashboard, as one axum [`Router`] built by [`app`] so tests can drive it
//! without a socket.

mod error;
mod ops;
mod query;
mod tail;
mod ui;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;

use crate::inputs::http::HttpInput;
use crate::journal::Appender;
use crate::outputs::websocket::TailHub;
use crate::storage::Store;
use crate::telemetry::Metrics;

/// Everything request handlers share.
#[derive(Debug)]
pub struct Shared {
    pub store: Store,
    pub appender: Appender,
    /// The journal's durable end offset.
    pub durable: watch::Receiver<u64>,
    /// The offset the store has committed.
    pub stored: watch::Receiver<u64>,
    /// Inputs refuse new events while more than this many journal bytes await the store.
    pub max_pending_bytes: u64,
    pub tail: Option<Arc<TailHub>>,
    pub metrics: Arc<Metrics>,
    /// The HTTP input's limits, when the pipeline has one (otherwise ingest answers 404).
    pub http: Option<HttpInput>,
    /// Cancelled at shutdown; long-lived handlers (the tail) end on it.
    pub shutdown: CancellationToken,
    pub started: Instant,
}

/// Cheap-to-clone handle on [`Shared`].
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(crate::inputs::http::routes())
        .merge(query::routes())
        .merge(ops::routes())
        .merge(tail::routes())
        .merge(ui::routes())
        .with_state(state)
}
