//! Operations endpoints: health (seed 001's `/health`, `/health/db`), `/stats`, `/flush` and
//! Prometheus `/metrics`.

use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::json;

use super::{ApiError, AppState};
use crate::telemetry::Totals;

/// Longest `/flush` waits for the store to catch up.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/db", get(health_db))
        .route("/stats", get(stats))
        .route("/flush", post(flush))
        .route("/metrics", get(metrics))
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs(),
    }))
}

async fn health_db(State(state): State<AppState>) -> impl IntoResponse {
    let started = Instant::now();
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "database": "libsql",
                "latency_ms": started.elapsed().as_secs_f64() * 1000.0,
            })),
        ),
        Err(e) => {
            tracing::error!(error = %e, "database health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({ "status": "error", "database": "libsql", "error": "the store did not answer; see the server log" }),
                ),
            )
        }
    }
}

fn pending_bytes(state: &AppState) -> u64 {
    let durable = *state.durable.borrow();
    let stored = *state.stored.borrow();
    let pending = durable.saturating_sub(stored);
    state.metrics.journal_pending_bytes.set(pending as i64);
    for (output, offset) in state.topology.offsets.all() {
        let label = crate::telemetry::OutputLabel { output };
        state.metrics.output_pending_bytes.get_or_create(&label).set(durable.saturating_sub(offset) as i64);
    }
    pending
}

/// Each durable output: how far it has committed, how much waits for it, and its last failure
/// since it last succeeded (an output whose far end is down shows it here while events wait).
fn outputs(state: &AppState) -> serde_json::Value {
    let durable = *state.durable.borrow();
    let errors = state.topology.offsets.errors();
    let outputs: serde_json::Map<String, serde_json::Value> = state
        .topology
        .offsets
        .all()
        .into_iter()
        .map(|(name, offset)| {
            let error = errors
                .get(&name)
                .map(|(at, message)| json!({ "at": crate::event::format_ns(*at), "message": message }));
            let value = json!({
                "committed_offset": offset,
                "pending_bytes": durable.saturating_sub(offset),
                "waiting": error.is_some(),
                "last_error": error,
            });
            (name, value)
        })
        .collect();
    serde_json::Value::Object(outputs)
}

async fn stats(State(state): State<AppState>) -> impl IntoResponse {
    let t = &state.metrics.totals;
    let pending = pending_bytes(&state);
    Json(json!({
        "received": Totals::get(&t.received),
        "stored": Totals::get(&t.stored),
        "dead_lettered": Totals::get(&t.dead_lettered),
        "batches": Totals::get(&t.batches),
        "rejected_requests": Totals::get(&t.rejected_requests),
        "journal": {
            "durable_offset": *state.durable.borrow(),
            "stored_offset": *state.stored.borrow(),
            "pending_bytes": pending,
        },
        "outputs": outputs(&state),
        "reload": state.topology.reloads.status(),
        "uptime_seconds": state.started.elapsed().as_secs(),
    }))
}

/// Waits until everything acknowledged before this call is committed by every durable output.
async fn flush(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let target = *state.durable.borrow();
    let mut stored = state.stored.clone();
    // Right after a start, an output that has not read its own committed offset yet holds a
    // placeholder (where the others are): waiting for every output to know where it is keeps a
    // flush from answering before the replay to that output has even begun.
    let offsets = &state.topology.offsets;
    let caught_up = |&offset: &u64| offset >= target && offsets.all_known();
    let reached = tokio::time::timeout(FLUSH_TIMEOUT, stored.wait_for(caught_up)).await;
    match reached {
        Ok(Ok(_)) => Ok(Json(json!({ "flushed": true, "offset": target }))),
        Ok(Err(_)) => Err(ApiError::unavailable("the pipeline is shutting down")),
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "flush_timeout",
            format!("the store did not catch up within {FLUSH_TIMEOUT:?}; events are safe in the journal"),
        )),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    pending_bytes(&state);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.encode())
}
