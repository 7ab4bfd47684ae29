//! Volume over time: `GET /api/v1/timeline` (events per bucket and level, and the busiest sources)
//! and `GET /api/v1/patterns/volume` (per-pattern counts for sparklines). Both take `since` (an
//! RFC 3339 time or a span back from now, default `1h` / `24h`) and `buckets` (default 60 / 24);
//! the window ends with the bucket that holds now. Buckets longer than a minute are whole minutes.

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::Deserialize;

use super::query::{parse_levels, parse_list, store_error, time_ns};
use super::{ApiError, AppState};
use crate::storage::timeline::{MAX_BUCKETS, MAX_PATTERNS, PatternVolume, Timeline, TimelineFilter, Window};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/timeline", get(timeline)).route("/api/v1/patterns/volume", get(volume))
}

/// Every parameter arrives as text so a bad value gets our error, naming the parameter.
#[derive(Debug, Default, Deserialize)]
struct Params {
    since: Option<String>,
    buckets: Option<String>,
    levels: Option<String>,
    source: Option<String>,
    ids: Option<String>,
}

fn params(query: Result<Query<Params>, QueryRejection>) -> Result<Params, ApiError> {
    query.map(|Query(p)| p).map_err(|e| ApiError::bad_request("bad_query", e.body_text()))
}

fn window(p: &Params, default_since: &str, default_buckets: u32) -> Result<Window, ApiError> {
    let now = crate::event::now_ns();
    let since = time_ns("since", p.since.as_deref().filter(|s| !s.is_empty()).unwrap_or(default_since))?;
    if since >= now {
        return Err(ApiError::bad_request("bad_query", "`since` must be in the past"));
    }
    let buckets = match p.buckets.as_deref() {
        None => default_buckets,
        Some(text) => match text.parse::<u32>() {
            Ok(n @ 1..=MAX_BUCKETS) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "bad_query",
                    format!("`buckets` must be an integer from 1 to {MAX_BUCKETS}, got `{text}`"),
                ));
            }
        },
    };
    Ok(Window::ending_at(now, now - since, buckets))
}

async fn timeline(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Timeline>, ApiError> {
    let p = params(query)?;
    let window = window(&p, "1h", 60)?;
    let filter = TimelineFilter {
        levels: parse_levels(p.levels.as_deref())?.into_iter().map(str::to_string).collect(),
        source: p.source.clone().filter(|s| !s.is_empty()),
    };
    Ok(Json(state.store.timeline(window, &filter).await.map_err(store_error)?))
}

async fn volume(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Json<PatternVolume>, ApiError> {
    let p = params(query)?;
    let window = window(&p, "24h", 24)?;
    let mut ids = parse_list("ids", p.ids.as_deref(), MAX_PATTERNS, "patterns")?;
    ids.sort();
    ids.dedup();
    Ok(Json(state.store.pattern_volume(window, &ids).await.map_err(store_error)?))
}
