//! The guest management API: upload, list, activate, roll back, canary; and pipeline reload.
//!
//! Every write route sits behind [`super::auth::require_write`] (a bearer token, or loopback only
//! when none is configured). An upload's signature is checked before the component is compiled,
//! and the component is checked against the contract before it is stored; nothing runs until a
//! stage activates it.

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState};
use crate::guests::RegistryError;
use crate::topology::LifecycleError;

/// Largest component accepted by an upload. The standard guests are a few hundred KiB; 64 MiB
/// leaves room for guests that embed models or tables, and bounds what one request can make us
/// buffer and compile.
pub const MAX_GUEST_BYTES: usize = 64 * 1024 * 1024;

/// Diffs a canary keeps unless asked otherwise.
const DEFAULT_MAX_DIFFS: usize = 20;
/// Most diffs a canary may be asked to keep.
const MAX_DIFFS: usize = 1000;

pub fn routes(state: AppState) -> Router<AppState> {
    let writes = Router::new()
        .route("/api/v1/guests/{name}", put(upload))
        .route("/api/v1/guests/{name}/activate", post(activate))
        .route("/api/v1/guests/{name}/rollback", post(rollback))
        .route("/api/v1/guests/{name}/canary", post(canary_start).delete(canary_discard))
        .route("/api/v1/guests/{name}/canary/promote", post(canary_promote))
        .route("/api/v1/reload", post(reload))
        .route_layer(axum::middleware::from_fn_with_state(state.access.clone(), super::auth::require_write));
    Router::new()
        .route("/api/v1/guests", get(list))
        .route("/api/v1/guests/{name}/canary", get(canary_status))
        .merge(writes)
}

async fn upload(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "guest_too_large",
            format!("a guest component may be at most {MAX_GUEST_BYTES} bytes"),
        )
    };
    let body = super::read_limited(&headers, body, MAX_GUEST_BYTES, too_large).await?;
    // Checked after reading the body, so a client still sending it gets this answer rather than
    // a reset connection.
    crate::config::validate_guest_name(&name).map_err(|m| ApiError::bad_request("invalid_name", m))?;
    if body.is_empty() {
        return Err(ApiError::bad_request("empty_body", "the request body must be the component's bytes"));
    }
    let signature = headers.get("x-sluice-signature").and_then(|v| v.to_str().ok());
    // The signature is checked first: an unsigned or badly signed component is never compiled.
    let signed_by = state
        .access
        .trusted
        .verify(&body, signature)
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "bad_signature", e.to_string()))?
        .map(|id| id.to_string());
    let crate::topology::Uploaded { info, created, world } =
        state.topology.upload(&name, body.to_vec(), signed_by).await.map_err(lifecycle)?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((
        status,
        Json(json!({
            "name": info.name,
            "version": info.version,
            "sha256": info.sha256,
            "size": info.size,
            "world": world,
            "signed_by": info.signed_by,
            "created": created,
        })),
    ))
}

async fn list(State(state): State<AppState>) -> impl IntoResponse {
    Json(state.topology.status().await)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateRequest {
    version: String,
    #[serde(default)]
    stage: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageRequest {
    #[serde(default)]
    stage: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CanaryRequest {
    version: String,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    max_diffs: Option<usize>,
}

/// The JSON body, with our error shape when it is malformed.
fn body<T: serde::de::DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    required(bytes)
}

fn required<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid request body: {e}")))
}

async fn activate(
    State(state): State<AppState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let request: ActivateRequest = required(&bytes)?;
    let done = state.topology.activate(&name, &request.version, request.stage.as_deref()).await.map_err(lifecycle)?;
    Ok(Json(json!({ "activated": done })))
}

async fn rollback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let request: StageRequest = body(&bytes)?;
    let done = state.topology.rollback(&name, request.stage.as_deref()).await.map_err(lifecycle)?;
    Ok(Json(json!({ "activated": done })))
}

async fn canary_start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let request: CanaryRequest = required(&bytes)?;
    let max_diffs = request.max_diffs.unwrap_or(DEFAULT_MAX_DIFFS).min(MAX_DIFFS);
    let reports = state
        .topology
        .canary_start(&name, &request.version, request.stage.as_deref(), max_diffs)
        .await
        .map_err(lifecycle)?;
    Ok(Json(json!({ "canaries": reports })))
}

async fn canary_status(State(state): State<AppState>, Path(name): Path<String>) -> impl IntoResponse {
    Json(json!({ "canaries": state.topology.canary_reports(&name).await }))
}

async fn canary_promote(
    State(state): State<AppState>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let request: StageRequest = body(&bytes)?;
    let done = state.topology.canary_promote(&name, request.stage.as_deref()).await.map_err(lifecycle)?;
    Ok(Json(json!({ "activated": done })))
}

async fn canary_discard(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(request): Query<StageRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let stopped = state.topology.canary_discard(&name, request.stage.as_deref()).await.map_err(lifecycle)?;
    Ok(Json(json!({ "discarded": stopped })))
}

async fn reload(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    match state.topology.reload("api").await {
        Ok(changes) => Ok(Json(json!({ "reloaded": true, "changes": changes }))),
        Err(message) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "reload_failed", message)),
    }
}

/// Each lifecycle failure as one stable API error.
fn lifecycle(e: LifecycleError) -> ApiError {
    let message = e.to_string();
    match e {
        LifecycleError::Registry(RegistryError::InvalidName(_)) => ApiError::bad_request("invalid_name", message),
        LifecycleError::Registry(
            RegistryError::UnknownGuest(_) | RegistryError::UnknownVersion { .. } | RegistryError::Ambiguous { .. },
        ) => ApiError::not_found(message),
        LifecycleError::Registry(other) => ApiError::internal("the guest registry failed", &other),
        LifecycleError::Invalid { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_component", message),
        LifecycleError::NoStage(_) | LifecycleError::WrongStage { .. } => {
            ApiError::new(StatusCode::CONFLICT, "no_stage", message)
        }
        LifecycleError::NoPrevious(_) => ApiError::new(StatusCode::CONFLICT, "no_previous", message),
        LifecycleError::NoCanary(_) => ApiError::new(StatusCode::CONFLICT, "no_canary", message),
        LifecycleError::Failed(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "activation_failed", message),
        LifecycleError::Stopped => ApiError::unavailable(message),
    }
}
