//! The HTTP input: `POST /api/v1/ingest` (the fast path) and the seed-compatible `POST /ingest`,
//! `POST /ingest/batch` and `POST /log`.
//!
//! Every request is checked whole (size, UTF-8, JSON, the endpoint's shape) before anything is
//! written; then its events get ids, go into the journal as one record, and the reply is sent only
//! once that record is on disk. A 2xx therefore means the events survive a `kill -9`.

pub mod parse;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::api::{ApiError, AppState, read_limited};
use crate::config::HttpInputConfig;
use crate::event::now_ns;
use crate::journal::JournalEvent;
use crate::telemetry::{InputLabel, RejectLabel, Totals};

/// The configured HTTP input.
#[derive(Debug, Clone)]
pub struct HttpInput {
    pub name: String,
    pub limits: HttpInputConfig,
    permits: Arc<Semaphore>,
}

impl HttpInput {
    pub fn new(name: &str, limits: HttpInputConfig) -> Self {
        let permits = Arc::new(Semaphore::new(limits.max_concurrent_requests));
        HttpInput { name: name.to_string(), limits, permits }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/ingest", post(ingest))
        .route("/ingest", post(ingest_single))
        .route("/ingest/batch", post(ingest_batch))
        .route("/log", post(log_audit))
}

async fn ingest(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<impl IntoResponse, ApiError> {
    let plain =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/plain"));
    let events =
        accept(&state, &headers, body, |text, limits| parse::stream(text, plain, limits.max_events_per_request))
            .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": events.len() }))))
}

async fn ingest_single(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let events = accept(&state, &headers, body, |text, _| parse::single(text).map(|r| vec![r])).await?;
    Ok(Json(json!({ "status": "accepted", "id": events.first().map(|e| &e.id) })))
}

async fn ingest_batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let events =
        accept(&state, &headers, body, |text, limits| parse::batch(text, limits.max_events_per_request)).await?;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    Ok(Json(json!({ "status": "accepted", "count": ids.len(), "ids": ids })))
}

async fn log_audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let events = accept(&state, &headers, body, |text, _| parse::audit(text).map(|r| vec![r])).await?;
    Ok(Json(json!({ "status": "queued", "event_id": events.first().map(|e| &e.id) })))
}

/// The shared path: limit, read, check, journal, and only then answer. Returns the events as
/// journaled (their new ids among them).
async fn accept(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    parse: impl FnOnce(&str, &HttpInputConfig) -> Result<Vec<String>, parse::BodyError>,
) -> Result<Vec<JournalEvent>, ApiError> {
    let Some(input) = state.live.http() else {
        return Err(ApiError::not_found("this pipeline has no HTTP input"));
    };
    let result = accept_with(state, &input, headers, body, parse).await;
    if let Err(e) = &result {
        let label = RejectLabel { input: input.name.clone(), reason: e.code.to_string() };
        state.metrics.requests_rejected.get_or_create(&label).inc();
        Totals::add(&state.metrics.totals.rejected_requests, 1);
    }
    result
}

async fn accept_with(
    state: &AppState,
    input: &HttpInput,
    headers: &HeaderMap,
    body: Body,
    parse: impl FnOnce(&str, &HttpInputConfig) -> Result<Vec<String>, parse::BodyError>,
) -> Result<Vec<JournalEvent>, ApiError> {
    let limits = &input.limits;
    let _permit =
        input.permits.try_acquire().map_err(|_| ApiError::too_many_requests(limits.max_concurrent_requests))?;
    let bytes =
        read_limited(headers, body, limits.max_body_bytes, || ApiError::body_too_large(limits.max_body_bytes)).await?;
    let pending = state.durable.borrow().saturating_sub(*state.stored.borrow());
    let max_pending = state.live.max_pending_bytes();
    if pending > max_pending {
        return Err(ApiError::overloaded(pending, max_pending));
    }
    let text = parse::utf8(&bytes)?;
    let records = parse(text, limits)?;

    let received_ns = now_ns();
    let events: Vec<JournalEvent> = records
        .into_iter()
        .map(|raw| JournalEvent {
            id: uuid::Uuid::now_v7().to_string(),
            received_ns,
            input: input.name.clone(),
            raw,
            topic: None,
            session_id: None,
            rejected: None,
        })
        .collect();
    state.appender.append(&events).await.map_err(|e| match e {
        crate::journal::JournalError::Closed => ApiError::unavailable("shutting down; nothing was stored"),
        other => ApiError::internal("cannot write the journal; nothing was stored", &other),
    })?;
    state.metrics.events_in.get_or_create(&InputLabel { input: input.name.clone() }).inc_by(events.len() as u64);
    Totals::add(&state.metrics.totals.received, events.len() as u64);
    Ok(events)
}
