//! Webhook output settings.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::pipeline::duration;

/// POST the stages' signals (alerts, by default) as JSON to an HTTP endpoint. Best effort by
/// design: deliveries are retried with backoff, but a failing or slow endpoint never holds the
/// pipeline back. Once `queue` deliveries wait, the oldest is dropped and counted.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookOutputConfig {
    /// Name used in metrics and `/stats`; defaults to `webhook`.
    #[serde(default)]
    pub name: Option<String>,
    /// Where to POST, e.g. `http://alerts.internal:9000/hooks/sluice`.
    pub url: String,
    /// Which signals are posted: `alert` (default), `insight`.
    #[serde(default = "default_kinds")]
    pub kinds: Vec<WebhookKind>,
    /// Only alerts of at least this severity (`info`, `warning`, `error`, `critical`); all when
    /// absent.
    #[serde(default)]
    pub min_severity: Option<String>,
    /// Headers sent with every request, e.g. `Authorization`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Time allowed for one request.
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Attempts per delivery before it is given up (and counted as failed).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Deliveries waiting at most; beyond, the oldest is dropped and counted.
    #[serde(default = "default_queue")]
    pub queue: usize,
}

/// A signal kind a webhook can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    Alert,
    Insight,
}

fn default_kinds() -> Vec<WebhookKind> {
    vec![WebhookKind::Alert]
}
fn default_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_attempts() -> u32 {
    5
}
fn default_queue() -> usize {
    1000
}

/// Severities in increasing order.
pub const SEVERITIES: &[&str] = &["info", "warning", "error", "critical"];

impl WebhookOutputConfig {
    /// Checks what serde cannot; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(format!("url: `{}` is not an http:// or https:// address", self.url));
        }
        if let Some(min) = &self.min_severity
            && !SEVERITIES.contains(&min.as_str())
        {
            return Err(format!("min_severity: `{min}` is not one of {}", SEVERITIES.join(", ")));
        }
        if self.max_attempts == 0 {
            return Err("max_attempts: must be at least 1".into());
        }
        if self.queue == 0 {
            return Err("queue: must be at least 1".into());
        }
        Ok(())
    }
}
