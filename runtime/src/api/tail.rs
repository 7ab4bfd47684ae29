//! The live tail: `GET /api/v1/tail` upgrades to a websocket that streams events as
//! `{"topic": "logs", "payload": {...}}` (seed 004's message shape).
//!
//! Filters (`levels`, `source`, `q`, `session`) are applied here, server-side. `topics` (comma
//! separated: `logs`, `dead_letters`, `alerts`, `insights`, `patterns`; all by default) chooses
//! what is streamed: stages' signals arrive as `{"topic": "alerts", "payload": {alert}}` and so on. Each client reads
//! the broadcast at its own pace; one that falls behind skips ahead and receives
//! `{"topic": "lagged", "payload": {"missed": N}}`, so a slow browser never slows the pipeline.
//! With `session`, the session's buffered recent events come first.

use axum::Router;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::broadcast::error::RecvError;

use super::query::parse_levels;
use super::{ApiError, AppState};
use crate::event::{DeadLetter, Event, PatternRef, format_ns};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/tail", get(tail))
}

#[derive(Debug, Default, Deserialize)]
struct FilterParams {
    levels: Option<String>,
    source: Option<String>,
    q: Option<String>,
    session: Option<String>,
    topics: Option<String>,
}

/// A client's server-side filter.
#[derive(Debug, Default)]
struct Filter {
    levels: Vec<&'static str>,
    source: Option<String>,
    text: Option<String>,
    session: Option<String>,
    /// The topics streamed; all of them when the client names none.
    topics: Vec<String>,
}

/// What a client may ask for with `topics=`.
const TOPICS: &[&str] = &["logs", "dead_letters", "alerts", "insights", "patterns"];

impl Filter {
    fn parse(p: FilterParams) -> Result<Filter, ApiError> {
        Ok(Filter {
            levels: parse_levels(p.levels.as_deref())?,
            source: p.source.filter(|s| !s.is_empty()),
            text: p.q.filter(|s| !s.is_empty()).map(|s| s.to_lowercase()),
            session: p.session.filter(|s| !s.is_empty()),
            topics: parse_topics(p.topics.as_deref())?,
        })
    }

    fn wants(&self, topic: &str) -> bool {
        self.topics.is_empty() || self.topics.iter().any(|t| t == topic)
    }

    fn matches(&self, e: &Event) -> bool {
        (self.levels.is_empty() || self.levels.contains(&e.stored_level()))
            && self.source.as_ref().is_none_or(|s| e.source.as_ref() == Some(s))
            && self.session.as_ref().is_none_or(|s| e.session_id.as_ref() == Some(s))
            && self.text.as_ref().is_none_or(|t| e.stored_message().to_lowercase().contains(t))
    }
}

fn parse_topics(text: Option<&str>) -> Result<Vec<String>, ApiError> {
    let mut topics = Vec::new();
    for topic in text.unwrap_or_default().split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if !TOPICS.contains(&topic) {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("unknown topic `{topic}` (topics: {})", TOPICS.join(", ")),
            ));
        }
        topics.push(topic.to_string());
    }
    Ok(topics)
}

async fn tail(
    State(state): State<AppState>,
    query: Result<Query<FilterParams>, axum::extract::rejection::QueryRejection>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = query.map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
    let filter = Filter::parse(params)?;
    let ws = ws.map_err(|e| {
        ApiError::bad_request("not_websocket", format!("this endpoint is a websocket: {}", e.body_text()))
    })?;
    let Some(hub) = state.live.tail() else {
        return Err(ApiError::not_found("this pipeline has no websocket output"));
    };
    Ok(ws.on_upgrade(move |socket| client(socket, state, hub, filter)).into_response())
}

async fn client(
    mut socket: WebSocket,
    state: AppState,
    hub: std::sync::Arc<crate::outputs::websocket::TailHub>,
    filter: Filter,
) {
    let (mut rx, mut expected) = hub.subscribe();
    state.metrics.tail_clients.inc();
    let mut close = None;
    // A session's recent lines first; live events already among them are then skipped by number.
    let mut replayed_through = None;
    if let Some(session) = &filter.session {
        for buffered in hub.recent(session) {
            replayed_through = Some(buffered.seq);
            if filter.matches(&buffered.event)
                && send(&mut socket, &Envelope { topic: "logs", payload: LiveEvent::from(&buffered.event) })
                    .await
                    .is_err()
            {
                state.metrics.tail_clients.dec();
                return;
            }
        }
    }
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => break,
            () = hub.retired() => {
                // 1012 "service restart": the client should reconnect.
                close = Some(axum::extract::ws::CloseFrame {
                    code: 1012,
                    reason: Utf8Bytes::from_static("the pipeline was reloaded with new stream settings; reconnect"),
                });
                break;
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            item = rx.recv() => match item {
                Ok(item) => {
                    if item.first_seq > expected {
                        let missed = item.first_seq - expected;
                        if send(&mut socket, &Envelope { topic: "lagged", payload: Lagged { missed } }).await.is_err() {
                            break;
                        }
                    }
                    expected = expected.max(item.first_seq + item.len());
                    if !send_batch(&mut socket, &filter, &item, replayed_through).await {
                        break;
                    }
                }
                // The next item's sequence number says how much was skipped.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
        }
    }
    state.metrics.tail_clients.dec();
    let _ = socket.send(Message::Close(close)).await;
}

async fn send_batch(
    socket: &mut WebSocket,
    filter: &Filter,
    item: &crate::outputs::websocket::TailItem,
    replayed_through: Option<u64>,
) -> bool {
    let fresh = |i: usize| replayed_through.is_none_or(|last| item.first_seq + i as u64 > last);
    if filter.wants("logs") {
        for (_, event) in item.batch.events.iter().enumerate().filter(|&(i, e)| fresh(i) && filter.matches(e)) {
            if send(socket, &Envelope { topic: "logs", payload: LiveEvent::from(event) }).await.is_err() {
                return false;
            }
        }
    }
    // Signals are not filtered by the event filters: an alert is wanted whatever the view.
    for signal in item.batch.signals.iter().filter(|s| filter.wants(s.kind.topic())) {
        if send(socket, &Envelope { topic: signal.kind.topic(), payload: &signal.body }).await.is_err() {
            return false;
        }
    }
    if item.with_dead_letters && filter.wants("dead_letters") {
        for dead in item.batch.dead_letters.iter().filter(|d| filter.matches(&d.event)) {
            if send(socket, &Envelope { topic: "dead_letters", payload: LiveDeadLetter::from(dead) }).await.is_err() {
                return false;
            }
        }
    }
    true
}

async fn send<T: Serialize>(socket: &mut WebSocket, message: &Envelope<T>) -> Result<(), axum::Error> {
    let text = serde_json::to_string(message).unwrap_or_default();
    socket.send(Message::Text(Utf8Bytes::from(text))).await
}

#[derive(Serialize)]
struct Envelope<T> {
    topic: &'static str,
    payload: T,
}

#[derive(Serialize)]
struct Lagged {
    missed: u64,
}

/// An event as the tail (and the dashboard) sees it: the stored shape, times as RFC 3339.
#[derive(Serialize)]
pub struct LiveEvent<'a> {
    id: &'a str,
    timestamp: String,
    level: &'a str,
    source: Option<&'a str>,
    module: Option<&'a str>,
    function: Option<&'a str>,
    file: Option<&'a str>,
    line: Option<u32>,
    topic: Option<&'a str>,
    message: &'a str,
    user_id: Option<&'a str>,
    session_id: Option<&'a str>,
    trace_id: Option<&'a str>,
    attributes: Box<RawValue>,
    pattern: Option<&'a PatternRef>,
    insight: Option<Box<RawValue>>,
    input: &'a str,
}

impl<'a> From<&'a Event> for LiveEvent<'a> {
    fn from(e: &'a Event) -> Self {
        LiveEvent {
            id: &e.id,
            timestamp: format_ns(e.timestamp_ns),
            level: e.stored_level(),
            source: e.source.as_deref(),
            module: e.module.as_deref(),
            function: e.function.as_deref(),
            file: e.file.as_deref(),
            line: e.line,
            topic: e.topic.as_deref(),
            message: e.stored_message(),
            user_id: e.user_id.as_deref(),
            session_id: e.session_id.as_deref(),
            trace_id: e.trace_id.as_deref(),
            attributes: RawValue::from_string(e.attributes_json()).unwrap_or_else(|_| empty_object()),
            pattern: e.pattern.as_ref(),
            insight: e.insight.as_ref().and_then(|i| RawValue::from_string(i.clone()).ok()),
            input: &e.input,
        }
    }
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_string()).unwrap_or_default()
}

#[derive(Serialize)]
struct LiveDeadLetter<'a> {
    event: LiveEvent<'a>,
    stage: &'a str,
    guest: &'a str,
    guest_version: &'a str,
    reason: &'a str,
}

impl<'a> From<&'a DeadLetter> for LiveDeadLetter<'a> {
    fn from(d: &'a DeadLetter) -> Self {
        LiveDeadLetter {
            event: LiveEvent::from(&d.event),
            stage: &d.stage,
            guest: &d.guest,
            guest_version: &d.guest_version,
            reason: &d.reason,
        }
    }
}
