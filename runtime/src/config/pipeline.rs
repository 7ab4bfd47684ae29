//! The pipeline file's schema. Every struct denies unknown fields and every field says what it
//! does, so this file is the reference for pipeline authors.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::amqp::AmqpInputConfig;
use super::inference::InferenceConfig;
use super::kafka::{KafkaInputConfig, KafkaOutputConfig};
use super::postgres::PostgresOutputConfig;
use super::webhook::WebhookOutputConfig;
use super::zeromq::ZeromqInputConfig;

/// A pipeline: inputs feed an ordered list of stages whose result goes to every output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Where events come from. At least one.
    #[serde(deserialize_with = "serde_yaml_ng::with::singleton_map_recursive::deserialize")]
    pub inputs: Vec<InputConfig>,
    /// Guests run in this order on every batch. May be empty: events are then stored as received.
    #[serde(default)]
    pub stages: Vec<StageConfig>,
    /// Where processed events (and, if asked, dead letters) go. At least one.
    #[serde(deserialize_with = "serde_yaml_ng::with::singleton_map_recursive::deserialize")]
    pub outputs: Vec<OutputConfig>,
    /// How the pipeline groups events into batches.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Bounds on the durable journal between inputs and outputs.
    #[serde(default)]
    pub journal: JournalConfig,
    /// The model endpoint guests reach through the `inference` import (`inference.rs`). Absent:
    /// inference is disabled unless `SLUICE_INFERENCE_URL` is set.
    #[serde(default)]
    pub inference: InferenceConfig,
    /// Test cases run by `sluice test`: input records and what must become of them. Ignored by
    /// `sluice run`.
    #[serde(default)]
    pub tests: Vec<super::testcase::TestCase>,
}

/// The journal absorbs bursts while the stages or the store catch up; beyond this bound inputs
/// push back (HTTP answers 503 with `Retry-After`) rather than let disk use and latency grow
/// without limit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// Most journal data, in MiB, acknowledged but not yet committed by the store.
    #[serde(default = "default_max_pending_mib")]
    pub max_pending_mib: u64,
}

fn default_max_pending_mib() -> u64 {
    256
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig { max_pending_mib: default_max_pending_mib() }
    }
}

/// One input, keyed by its kind (`http: {...}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum InputConfig {
    /// The HTTP ingest endpoints (`/api/v1/ingest` and the seed-compatible ones). The listen address
    /// is a process setting (`--http`), not part of the pipeline.
    Http(HttpInputConfig),
    /// A RabbitMQ queue (`amqp.rs`).
    Amqp(AmqpInputConfig),
    /// Kafka topics, as a member of a consumer group (`kafka.rs`).
    Kafka(KafkaInputConfig),
    /// A ZeroMQ SUB socket (`zeromq.rs`).
    Zeromq(ZeromqInputConfig),
}

impl InputConfig {
    pub fn name(&self) -> &str {
        match self {
            InputConfig::Http(c) => c.name.as_deref().unwrap_or("http"),
            InputConfig::Amqp(c) => c.name.as_deref().unwrap_or("amqp"),
            InputConfig::Kafka(c) => c.name.as_deref().unwrap_or("kafka"),
            InputConfig::Zeromq(c) => c.name.as_deref().unwrap_or("zeromq"),
        }
    }

    /// The kind, as the pipeline file spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            InputConfig::Http(_) => "http",
            InputConfig::Amqp(_) => "amqp",
            InputConfig::Kafka(_) => "kafka",
            InputConfig::Zeromq(_) => "zeromq",
        }
    }

    /// Whether this build of Sluice has this kind of input (see the crate's features).
    pub fn is_built(&self) -> bool {
        match self {
            InputConfig::Http(_) => true,
            InputConfig::Amqp(_) => cfg!(feature = "amqp"),
            InputConfig::Kafka(_) => cfg!(feature = "kafka"),
            InputConfig::Zeromq(_) => cfg!(feature = "zeromq"),
        }
    }
}

/// Limits of the HTTP input. A request over a limit is refused whole, and nothing of it is stored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpInputConfig {
    /// Name used in metrics and stored events; defaults to `http`.
    #[serde(default)]
    pub name: Option<String>,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Most events one request may carry; more get 413.
    #[serde(default = "default_max_events_per_request")]
    pub max_events_per_request: usize,
    /// Ingest requests handled at once; beyond this, requests get 429 with `Retry-After`.
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
}

fn default_max_body_bytes() -> usize {
    16 * 1024 * 1024
}
fn default_max_events_per_request() -> usize {
    100_000
}
fn default_max_concurrent_requests() -> usize {
    256
}

impl Default for HttpInputConfig {
    fn default() -> Self {
        HttpInputConfig {
            name: None,
            max_body_bytes: default_max_body_bytes(),
            max_events_per_request: default_max_events_per_request(),
            max_concurrent_requests: default_max_concurrent_requests(),
        }
    }
}

/// One processing step: a guest, its configuration and its sandbox limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Unique within the pipeline; names the stage in metrics, logs and dead letters.
    pub name: String,
    /// Which guest runs here. One of:
    /// - a built-in guest: `normalize`, `mine`;
    /// - a path to a `.wasm` component (contains `/` or ends in `.wasm`), relative to the pipeline
    ///   file; the guest's name is the file's stem;
    /// - the name of a guest uploaded with `PUT /api/v1/guests/{name}` (`sluice guest push`).
    ///
    /// A version activated over the API (`sluice guest activate`) stays active across restarts and
    /// reloads until this field, or the file it names, changes.
    pub guest: String,
    /// Handed to the guest's `init` as JSON. Its meaning is the guest's.
    #[serde(default)]
    pub config: Option<serde_yaml_ng::Value>,
    /// Sandbox limits for every instance of this guest.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// What one guest instance may use. Exceeding a limit ends the instance (the batch is
/// dead-lettered with the reason) and a fresh instance takes the next batch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Longest one call (one batch) may run, e.g. `500ms`, `2s`.
    #[serde(default = "default_deadline", deserialize_with = "duration")]
    pub deadline: Duration,
    /// Largest linear memory an instance may grow to, in MiB.
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u32,
    /// Most events handed to the guest in one call; bigger batches are split.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Largest total size of the guest's host-owned state, in MiB.
    #[serde(default = "default_state_mib")]
    pub state_mib: u32,
}

fn default_deadline() -> Duration {
    Duration::from_secs(1)
}
fn default_memory_mib() -> u32 {
    64
}
fn default_max_batch() -> usize {
    512
}
fn default_state_mib() -> u32 {
    64
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            deadline: default_deadline(),
            memory_mib: default_memory_mib(),
            max_batch: default_max_batch(),
            state_mib: default_state_mib(),
        }
    }
}

/// One output, keyed by its kind (`libsql: {...}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OutputConfig {
    /// The embedded libSQL store in the data directory (`logs`, `patterns`, `dead_letters`).
    Libsql(LibsqlOutputConfig),
    /// The live stream served at `/api/v1/tail`.
    Websocket(WebsocketOutputConfig),
    /// A PostgreSQL database (`postgres.rs`).
    Postgres(PostgresOutputConfig),
    /// A Kafka topic (`kafka.rs`).
    Kafka(KafkaOutputConfig),
    /// An HTTP endpoint that receives alerts (and optionally insights) as JSON POSTs.
    Webhook(WebhookOutputConfig),
}

impl OutputConfig {
    pub fn name(&self) -> &str {
        match self {
            OutputConfig::Libsql(c) => c.name.as_deref().unwrap_or("libsql"),
            OutputConfig::Websocket(c) => c.name.as_deref().unwrap_or("websocket"),
            OutputConfig::Postgres(c) => c.name.as_deref().unwrap_or("postgres"),
            OutputConfig::Kafka(c) => c.name.as_deref().unwrap_or("kafka"),
            OutputConfig::Webhook(c) => c.name.as_deref().unwrap_or("webhook"),
        }
    }

    /// The kind, as the pipeline file spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            OutputConfig::Libsql(_) => "libsql",
            OutputConfig::Websocket(_) => "websocket",
            OutputConfig::Postgres(_) => "postgres",
            OutputConfig::Kafka(_) => "kafka",
            OutputConfig::Webhook(_) => "webhook",
        }
    }

    /// Whether this build of Sluice has this kind of output (see the crate's features).
    pub fn is_built(&self) -> bool {
        match self {
            OutputConfig::Libsql(_) | OutputConfig::Websocket(_) | OutputConfig::Webhook(_) => true,
            OutputConfig::Postgres(_) => cfg!(feature = "postgres"),
            OutputConfig::Kafka(_) => cfg!(feature = "kafka"),
        }
    }
}

/// The embedded store. Dead letters always land in its `dead_letters` table, whether or not this
/// output is configured: they are never lost.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibsqlOutputConfig {
    /// Name used in metrics; defaults to `libsql`.
    #[serde(default)]
    pub name: Option<String>,
}

/// The live stream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebsocketOutputConfig {
    /// Name used in metrics; defaults to `websocket`.
    #[serde(default)]
    pub name: Option<String>,
    /// Also stream dead letters (topic `dead_letters`).
    #[serde(default)]
    pub dead_letters: bool,
    /// Batches kept for slow clients before they skip ahead.
    #[serde(default = "default_buffer_batches")]
    pub buffer_batches: usize,
    /// Recent events kept per session, so a late subscriber to a session
    /// (`/api/v1/sessions/{id}/stream`, or the tail with `?session=`) first gets its recent lines.
    #[serde(default)]
    pub sessions: SessionBufferConfig,
}

/// The per-session buffers of the live stream (seed 003's `LOG_BUFFER_*`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionBufferConfig {
    /// Most events kept per session; the oldest are dropped first. `0` keeps none.
    #[serde(default = "default_session_messages")]
    pub max_messages: usize,
    /// Events older than this are dropped, e.g. `3m`.
    #[serde(default = "default_session_ttl", deserialize_with = "duration")]
    pub ttl: Duration,
    /// Most sessions buffered at once; the least recently active is dropped first.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
}

fn default_session_messages() -> usize {
    500
}
fn default_session_ttl() -> Duration {
    Duration::from_secs(180)
}
fn default_max_sessions() -> usize {
    10_000
}

impl Default for SessionBufferConfig {
    fn default() -> Self {
        SessionBufferConfig {
            max_messages: default_session_messages(),
            ttl: default_session_ttl(),
            max_sessions: default_max_sessions(),
        }
    }
}

fn default_buffer_batches() -> usize {
    1024
}

/// How events are grouped as they leave the journal.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Most events in one pipeline batch (a batch never splits one ingest request).
    #[serde(default = "default_batch_events")]
    pub max_events: usize,
}

fn default_batch_events() -> usize {
    4096
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig { max_events: default_batch_events() }
    }
}

/// Durations are written the human way: `250ms`, `2s`, `1m`.
pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| serde::de::Error::custom(format!("invalid duration `{text}`: {e}")))
}
