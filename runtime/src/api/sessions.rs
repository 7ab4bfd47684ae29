//! Seed 003's per-session live stream as server-sent events: `GET /api/v1/sessions/{id}/stream`.
//!
//! A subscriber first gets the session's buffered recent events (see
//! [`crate::outputs::sessions`]), then its live ones, as `event: logs` with the event as JSON
//! data (the tail's shape). One that falls behind skips ahead and gets `event: lagged` with
//! `{"missed_batches": N}`: the stream's batches it never saw (of all sessions, so some of them
//! may not have held this session's events). Many clients may follow one session; none of them
//! can slow the pipeline.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::{self, error::RecvError};

use super::tail::LiveEvent;
use super::{ApiError, AppState};
use crate::event::Event;
use crate::outputs::websocket::{TailHub, TailItem};

/// Longest session id accepted.
const MAX_SESSION_ID: usize = 256;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/sessions/{id}/stream", get(stream_session))
}

async fn stream_session(State(state): State<AppState>, Path(session): Path<String>) -> Result<Response, ApiError> {
    if session.is_empty() || session.len() > MAX_SESSION_ID {
        return Err(ApiError::bad_request("bad_session", format!("a session id has 1 to {MAX_SESSION_ID} bytes")));
    }
    let Some(hub) = state.live.tail() else {
        return Err(ApiError::not_found("this pipeline has no websocket output, so no live session streams"));
    };
    let (rx, _) = hub.subscribe();
    let recent = hub.recent(&session);
    let follower = Follower {
        replayed_through: recent.last().map(|b| b.seq),
        pending: recent.iter().map(|b| logs(&b.event)).collect(),
        rx,
        session,
        hub,
        shutdown: state.shutdown.clone(),
    };
    Ok(Sse::new(follow(follower)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

/// One subscriber's position in the stream.
struct Follower {
    session: String,
    rx: broadcast::Receiver<TailItem>,
    /// Messages ready to send, oldest first.
    pending: VecDeque<SseEvent>,
    /// Live events numbered up to here were already sent from the buffer.
    replayed_through: Option<u64>,
    hub: Arc<TailHub>,
    shutdown: tokio_util::sync::CancellationToken,
}

fn follow(follower: Follower) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    stream::unfold(follower, |mut f| async move {
        loop {
            if let Some(event) = f.pending.pop_front() {
                return Some((Ok(event), f));
            }
            let item = tokio::select! {
                () = f.shutdown.cancelled() => return None,
                () = f.hub.retired() => return None,
                item = f.rx.recv() => item,
            };
            match item {
                Ok(item) => {
                    for (i, event) in item.batch.events.iter().enumerate() {
                        let seq = item.first_seq + i as u64;
                        let fresh = f.replayed_through.is_none_or(|last| seq > last);
                        if fresh && event.session_id.as_deref() == Some(f.session.as_str()) {
                            f.pending.push_back(logs(event));
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    f.pending.push_back(
                        SseEvent::default().event("lagged").data(format!("{{\"missed_batches\":{missed}}}")),
                    );
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

fn logs(event: &Event) -> SseEvent {
    let data = serde_json::to_string(&LiveEvent::from(event)).unwrap_or_default();
    SseEvent::default().event("logs").data(data)
}
