//! The HTTP surface: ingest (from [`crate::inputs::http`]), queries, the live tail, operations
//! endpoints, the pipeline's shape and volume over time, and the dashboard, as one axum [`Router`] built by [`app`] so tests can drive it
//! without a socket.

mod auth;
mod body;
mod error;
mod guests;
mod headers;
mod ops;
mod pipeline;
mod query;
mod sessions;
mod tail;
mod timeline;
mod ui;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use auth::{Access, AccessError};
pub(crate) use body::read_limited;
pub use error::ApiError;
pub use guests::MAX_GUEST_BYTES;

use crate::journal::Appender;
use crate::storage::Store;
use crate::telemetry::Metrics;
use crate::topology::Topology;
use crate::topology::live::Live;

/// Everything request handlers share.
#[derive(Debug)]
pub struct Shared {
    pub store: Store,
    pub appender: Appender,
    /// The journal's durable end offset.
    pub durable: watch::Receiver<u64>,
    /// The offset every durable output (the store, PostgreSQL, Kafka) has committed.
    pub stored: watch::Receiver<u64>,
    /// The running pipeline, for the management API.
    pub topology: Arc<Topology>,
    /// What handlers read of the running pipeline (the HTTP input's limits, the live stream, the
    /// backlog bound); a reload swaps it.
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
    /// Who may use the management API.
    pub access: Access,
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
        .merge(sessions::routes())
        .merge(guests::routes(state.clone()))
        .merge(pipeline::routes())
        .merge(timeline::routes())
        .merge(ui::routes())
        .layer(axum::middleware::map_response(headers::secure))
        .with_state(state)
}
