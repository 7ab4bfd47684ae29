//! AMQP (RabbitMQ) input settings.

use serde::Deserialize;

/// Consume one queue: a durable work queue (seed 002's `log_queue`), or a queue bound to a topic
/// exchange with routing keys (seed 003's exchange `manman`, `logs.session.*`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpInputConfig {
    /// Name used in metrics and stored events; defaults to `amqp`.
    #[serde(default)]
    pub name: Option<String>,
    /// The broker, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f` (the `%2f` is the vhost `/`).
    /// When the environment variable named by `url_env` is set, it wins.
    #[serde(default = "default_url")]
    pub url: String,
    /// Environment variable that overrides `url`, so a password need not live in the file.
    #[serde(default = "default_url_env")]
    pub url_env: String,
    /// The queue to consume. Declared durable if it does not exist.
    pub queue: String,
    /// A topic exchange to bind the queue to (declared durable if missing); none: consume the
    /// queue as it is.
    #[serde(default)]
    pub exchange: Option<String>,
    /// Routing keys the queue is bound with, e.g. `logs.session.*`. Needs `exchange`.
    #[serde(default)]
    pub routing_keys: Vec<String>,
    /// Messages delivered but not yet acknowledged at once (the channel's prefetch).
    #[serde(default = "default_prefetch")]
    pub prefetch: u16,
    /// Times a message is handed back to the queue after Sluice failed to journal it before it
    /// is dead-lettered instead.
    #[serde(default = "default_max_redeliveries")]
    pub max_redeliveries: u32,
    /// When set, a routing key that starts with this (seed 003: `logs.session.`) names the
    /// event's session with the rest, so the per-session live streams work for records that do
    /// not carry a session id themselves.
    #[serde(default)]
    pub session_key_prefix: Option<String>,
    /// Largest message accepted, in bytes; larger ones are dead-lettered with the reason.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
}

fn default_url() -> String {
    "amqp://guest:guest@127.0.0.1:5672/%2f".into()
}
fn default_url_env() -> String {
    "SLUICE_AMQP_URL".into()
}
fn default_prefetch() -> u16 {
    1024
}
fn default_max_redeliveries() -> u32 {
    3
}
fn default_max_message_bytes() -> usize {
    1024 * 1024
}

impl AmqpInputConfig {
    /// The broker address to use: the environment's, else the file's.
    pub fn effective_url(&self) -> String {
        std::env::var(&self.url_env).ok().filter(|u| !u.is_empty()).unwrap_or_else(|| self.url.clone())
    }
}
