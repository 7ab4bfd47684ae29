//! `GET /api/v1/pipeline`: the running pipeline as inputs → stages → outputs, each with its
//! cumulative event counter since start, for the dashboard's drawing (which turns successive
//! readings into rates). The counters are the Prometheus ones, read, never created here.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Serialize;

use super::AppState;
use crate::telemetry::{InputLabel, OutputLabel, StageLabel, Totals};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/pipeline", get(pipeline))
}

#[derive(Debug, Serialize)]
struct PipelineView {
    inputs: Vec<InputView>,
    stages: Vec<StageView>,
    outputs: Vec<OutputView>,
    totals: TotalsView,
    uptime_seconds: u64,
}

#[derive(Debug, Serialize)]
struct InputView {
    name: String,
    kind: &'static str,
    /// Events accepted (journaled).
    events: u64,
}

#[derive(Debug, Serialize)]
struct StageView {
    name: String,
    guest: String,
    /// The active version, 12 hex digits.
    active: String,
    events_in: u64,
    events_out: u64,
    failed: u64,
}

#[derive(Debug, Serialize)]
struct OutputView {
    name: String,
    kind: &'static str,
    /// Events this output has delivered (durable outputs count what they committed).
    events: u64,
    /// Whether acknowledgements and the journal wait for this output.
    durable: bool,
    /// Journal bytes this output has not committed yet (durable outputs only).
    pending_bytes: Option<u64>,
    /// Whether its far end is failing, with the last error.
    waiting: bool,
    last_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct TotalsView {
    received: u64,
    stored: u64,
    dead_lettered: u64,
}

fn read<S: Clone + std::hash::Hash + Eq>(family: &Family<S, Counter>, label: &S) -> u64 {
    family.get(label).map(|c| c.get()).unwrap_or(0)
}

async fn pipeline(State(state): State<AppState>) -> Json<PipelineView> {
    let m = &state.metrics;
    let shape = state.topology.shape();
    let durable = *state.durable.borrow();
    let offsets = state.topology.offsets.all();
    let errors = state.topology.offsets.errors();
    let inputs = shape
        .inputs
        .into_iter()
        .map(|i| InputView {
            events: read(&m.events_in, &InputLabel { input: i.name.clone() }),
            name: i.name,
            kind: i.kind,
        })
        .collect();
    let stages = state
        .topology
        .stage_names()
        .into_iter()
        .map(|(name, guest, active)| {
            let label = StageLabel { stage: name.clone() };
            StageView {
                events_in: read(&m.stage_events_in, &label),
                events_out: read(&m.stage_events_out, &label),
                failed: read(&m.stage_events_failed, &label),
                name,
                guest,
                active,
            }
        })
        .collect();
    let outputs = shape
        .outputs
        .into_iter()
        .map(|o| {
            let offset = offsets.get(&o.name).copied();
            let error = errors.get(&o.name).map(|(_, message)| message.clone());
            // The live stream keeps no Prometheus counter; its sequence number counts the same.
            let events = match (o.kind, state.live.tail()) {
                ("websocket", Some(hub)) => hub.published(),
                _ => read(&m.output_events, &OutputLabel { output: o.name.clone() }),
            };
            OutputView {
                events,
                durable: offset.is_some(),
                pending_bytes: offset.map(|at| durable.saturating_sub(at)),
                waiting: error.is_some(),
                last_error: error,
                name: o.name,
                kind: o.kind,
            }
        })
        .collect();
    let t = &m.totals;
    Json(PipelineView {
        inputs,
        stages,
        outputs,
        totals: TotalsView {
            received: Totals::get(&t.received),
            stored: Totals::get(&t.stored),
            dead_lettered: Totals::get(&t.dead_lettered),
        },
        uptime_seconds: state.started.elapsed().as_secs(),
    })
}
