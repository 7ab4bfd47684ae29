//! History and pattern queries: `/api/v1/logs` (filters, a time window, or named event ids), seed
//! 004's `/recent` (same query, its parameter names), `/api/v1/patterns`, `/api/v1/alerts` and
//! `/api/v1/dead-letters`. Totals go in `X-Total-Count`; a history query examines at most the
//! newest rows of its window the store allows, and says with `X-Total-Count-Exact: false` when its
//! total is a lower bound. Queries run on the store's reader pool: when every reader stays busy
//! the answer is 503 `busy`, and a query past its time limit is stopped with 503 `query_timeout`.

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::event::format_ns;
use crate::storage::StoreError;
use crate::storage::query::{LogQuery, canonical_level};

const DEFAULT_LIMIT: u32 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/logs", get(logs))
        .route("/recent", get(logs))
        .route("/api/v1/patterns", get(patterns))
        .route("/api/v1/dead-letters", get(dead_letters))
        .route("/api/v1/alerts", get(alerts))
}

/// Every parameter arrives as text so a bad value gets our error, naming the parameter.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    limit: Option<String>,
    offset: Option<String>,
    levels: Option<String>,
    source: Option<String>,
    since: Option<String>,
    since_minutes: Option<String>,
    until: Option<String>,
    q: Option<String>,
    ids: Option<String>,
    severity: Option<String>,
}

fn number(name: &str, value: Option<&String>, default: u32) -> Result<u32, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            ApiError::bad_request("bad_query", format!("`{name}` must be a non-negative integer, got `{v}`"))
        }),
    }
}

fn params(query: Result<Query<Params>, QueryRejection>) -> Result<Params, ApiError> {
    query.map(|Query(p)| p).map_err(|e| ApiError::bad_request("bad_query", e.body_text()))
}

/// A comma-separated `levels` list in any spelling clients use, as canonical levels.
pub(super) fn parse_levels(list: Option<&str>) -> Result<Vec<&'static str>, ApiError> {
    list.unwrap_or_default()
        .split(',')
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            canonical_level(l)
                .ok_or_else(|| ApiError::bad_request("bad_query", format!("unknown level `{l}` in `levels`")))
        })
        .collect()
}

fn log_query(p: &Params) -> Result<LogQuery, ApiError> {
    let levels = parse_levels(p.levels.as_deref())?.into_iter().map(str::to_string).collect();
    let since = match (&p.since, &p.since_minutes) {
        (Some(since), _) if !since.is_empty() => Some(parse_time("since", since)?),
        (Some(_), _) => None,
        (None, Some(minutes)) => {
            let minutes: i64 = minutes.parse().map_err(|_| {
                ApiError::bad_request("bad_query", format!("`sinceMinutes` must be an integer, got `{minutes}`"))
            })?;
            Some(format_ns(crate::event::now_ns() - minutes.saturating_mul(60_000_000_000)))
        }
        (None, None) => None,
    };
    Ok(LogQuery {
        limit: number("limit", p.limit.as_ref(), DEFAULT_LIMIT)?,
        offset: number("offset", p.offset.as_ref(), 0)?,
        levels,
        source: p.source.clone().filter(|s| !s.is_empty()),
        since,
        until: p.until.as_deref().filter(|u| !u.is_empty()).map(|u| parse_time("until", u)).transpose()?,
        text: p.q.clone().filter(|s| !s.is_empty()),
        ids: parse_list("ids", p.ids.as_deref(), MAX_IDS, "events")?,
    })
}

/// Most event ids one history query may name.
const MAX_IDS: usize = 1000;

/// A comma-separated list parameter (`ids`), empty items skipped; more than `max` items, each
/// one of `what`, is refused.
pub(super) fn parse_list(name: &str, list: Option<&str>, max: usize, what: &str) -> Result<Vec<String>, ApiError> {
    let items: Vec<String> =
        list.unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    if items.len() > max {
        return Err(ApiError::bad_request(
            "bad_query",
            format!("`{name}` names {} {what}; at most {max}", items.len()),
        ));
    }
    Ok(items)
}

/// A time parameter: an RFC 3339 time or a span back from now (`15m`, `2h`), as a stored
/// timestamp.
fn parse_time(name: &str, text: &str) -> Result<String, ApiError> {
    time_ns(name, text).map(format_ns)
}

/// A time parameter in nanoseconds since the epoch.
pub(super) fn time_ns(name: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_nanos_opt().unwrap_or(0));
    }
    if let Ok(span) = humantime::parse_duration(text) {
        return Ok(crate::event::now_ns() - span.as_nanos().min(i64::MAX as u128) as i64);
    }
    Err(ApiError::bad_request(
        "bad_query",
        format!("`{name}` must be an RFC 3339 time or a span like `15m`, got `{text}`"),
    ))
}

/// A store failure as the API reports it: a busy pool and a stopped query get codes of their own
/// (both 503, so clients retry later).
pub(super) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Busy { .. } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", format!("{e}; retry shortly"))
        }
        StoreError::TimedOut(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "query_timeout",
            format!("{e}; narrow the time window or the filters"),
        ),
        other => other.into(),
    }
}

fn with_total<T: Serialize>(rows: T, total: u64) -> Response {
    let mut response = Json(rows).into_response();
    response.headers_mut().insert(HeaderName::from_static("x-total-count"), HeaderValue::from(total));
    response
}

async fn logs(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = log_query(&params(query)?)?;
    let page = state.store.logs(&q).await.map_err(store_error)?;
    let mut response = with_total(page.rows, page.total);
    let exact = HeaderValue::from_static(if page.exact { "true" } else { "false" });
    response.headers_mut().insert(HeaderName::from_static("x-total-count-exact"), exact);
    Ok(response)
}

/// `limit` and `offset` of a plain paged listing.
fn page(query: Result<Query<Params>, QueryRejection>) -> Result<(u32, u32), ApiError> {
    let p = params(query)?;
    Ok((number("limit", p.limit.as_ref(), DEFAULT_LIMIT)?, number("offset", p.offset.as_ref(), 0)?))
}

async fn patterns(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (limit, offset) = page(query)?;
    let (rows, total) = state.store.patterns(limit, offset).await.map_err(store_error)?;
    Ok(with_total(rows, total))
}

async fn alerts(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = params(query)?;
    let (limit, offset) = (number("limit", p.limit.as_ref(), DEFAULT_LIMIT)?, number("offset", p.offset.as_ref(), 0)?);
    let severity = match p.severity.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if crate::config::webhook::SEVERITIES.contains(&s) => Some(s),
        Some(s) => {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("severity `{s}` is not one of {}", crate::config::webhook::SEVERITIES.join(", ")),
            ));
        }
        None => None,
    };
    let (rows, total) = state.store.alerts(limit, offset, severity).await.map_err(store_error)?;
    Ok(with_total(rows, total))
}

async fn dead_letters(
    State(state): State<AppState>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (limit, offset) = page(query)?;
    let (rows, total) = state.store.dead_letters(limit, offset).await.map_err(store_error)?;
    Ok(with_total(rows, total))
}
