//! Counters and histograms (Prometheus text at `/metrics`) and the process's log set-up.
//!
//! Metrics are typed fields rather than names looked up at run time, so a misspelt metric is a
//! compile error.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InputLabel {
    pub input: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabel {
    pub input: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabel {
    pub stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TrapLabel {
    pub stage: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabel {
    /// `ok` or `error`.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutputLabel {
    pub output: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InferenceRequestLabel {
    /// What `request` answered: `queued`, `known`, `disabled`, `over_budget` or `busy`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InferenceCallLabel {
    /// `ok`, `failed` or `timeout`.
    pub result: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 13 s, 1.6x apart: fine enough for p50/p99 by interpolation.
    Histogram::new(exponential_buckets(0.000_05, 1.6, 28))
}

/// Every metric the runtime exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub events_in: Family<InputLabel, Counter>,
    pub requests_rejected: Family<RejectLabel, Counter>,
    pub stage_events_in: Family<StageLabel, Counter>,
    pub stage_events_out: Family<StageLabel, Counter>,
    pub stage_events_failed: Family<StageLabel, Counter>,
    pub guest_call_seconds: Family<StageLabel, Histogram, fn() -> Histogram>,
    pub guest_traps: Family<TrapLabel, Counter>,
    pub output_events: Family<OutputLabel, Counter>,
    pub output_errors: Family<OutputLabel, Counter>,
    pub ingest_to_stored_seconds: Histogram,
    pub ingest_to_output_seconds: Family<OutputLabel, Histogram, fn() -> Histogram>,
    pub journal_pending_bytes: Gauge,
    pub output_pending_bytes: Family<OutputLabel, Gauge>,
    pub tail_clients: Gauge,
    pub reloads: Family<ReloadLabel, Counter>,
    pub inference_requests: Family<InferenceRequestLabel, Counter>,
    pub inference_calls: Family<InferenceCallLabel, Counter>,
    pub inference_call_seconds: Histogram,
    /// Plain totals for `/stats`.
    pub totals: Totals,
}

/// Running totals shown by `/stats`.
#[derive(Debug, Default)]
pub struct Totals {
    pub received: AtomicU64,
    pub stored: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub batches: AtomicU64,
    pub rejected_requests: AtomicU64,
}

impl Totals {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sluice");
        let m = Metrics {
            events_in: Family::default(),
            requests_rejected: Family::default(),
            stage_events_in: Family::default(),
            stage_events_out: Family::default(),
            stage_events_failed: Family::default(),
            guest_call_seconds: Family::new_with_constructor(latency_histogram),
            guest_traps: Family::default(),
            output_events: Family::default(),
            output_errors: Family::default(),
            ingest_to_stored_seconds: latency_histogram(),
            ingest_to_output_seconds: Family::new_with_constructor(latency_histogram),
            journal_pending_bytes: Gauge::default(),
            output_pending_bytes: Family::default(),
            tail_clients: Gauge::default(),
            reloads: Family::default(),
            inference_requests: Family::default(),
            inference_calls: Family::default(),
            // 10 ms to about 80 s, doubling: model calls are slow and their timeout is seconds.
            inference_call_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            totals: Totals::default(),
            registry: Registry::default(),
        };
        registry.register("events_in", "Events accepted by an input", m.events_in.clone());
        registry.register("requests_rejected", "Requests refused by an input, by reason", m.requests_rejected.clone());
        registry.register("stage_events_in", "Events handed to a stage", m.stage_events_in.clone());
        registry.register("stage_events_out", "Events a stage passed on", m.stage_events_out.clone());
        registry.register("stage_events_failed", "Events a stage dead-lettered", m.stage_events_failed.clone());
        registry.register("guest_call_seconds", "Duration of one guest call (one batch)", m.guest_call_seconds.clone());
        registry.register(
            "guest_traps",
            "Guest instances ended by a trap, deadline or memory cap",
            m.guest_traps.clone(),
        );
        registry.register("output_events", "Events an output durably took", m.output_events.clone());
        registry.register("output_errors", "Failed output writes (retried)", m.output_errors.clone());
        registry.register(
            "ingest_to_stored_seconds",
            "Time from acknowledged ingest to committed in the store",
            m.ingest_to_stored_seconds.clone(),
        );
        registry.register(
            "ingest_to_output_seconds",
            "Time from acknowledged ingest to durably delivered, per task output (PostgreSQL, Kafka)",
            m.ingest_to_output_seconds.clone(),
        );
        registry.register(
            "journal_pending_bytes",
            "Journal bytes not yet committed by every output",
            m.journal_pending_bytes.clone(),
        );
        registry.register(
            "output_pending_bytes",
            "Journal bytes a durable output has not yet committed (it waits while its far end is down)",
            m.output_pending_bytes.clone(),
        );
        registry.register("tail_clients", "Connected live-tail clients", m.tail_clients.clone());
        registry.register(
            "reloads",
            "Pipeline reloads, by result (`error`: the running pipeline stayed)",
            m.reloads.clone(),
        );
        registry.register(
            "inference_requests",
            "Inference requests from guests, by what they were answered",
            m.inference_requests.clone(),
        );
        registry.register("inference_calls", "Calls to the model endpoint, by result", m.inference_calls.clone());
        registry.register(
            "inference_call_seconds",
            "Duration of one call to the model endpoint",
            m.inference_call_seconds.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }

    pub fn stage(&self, stage: &str) -> StageLabel {
        StageLabel { stage: stage.to_string() }
    }
}

/// Sets up `tracing` output; `filter` uses `RUST_LOG` syntax (e.g. `info,sluice=debug`).
pub fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}
