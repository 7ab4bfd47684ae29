//! The webhook output: POSTs signals (alerts by default) as JSON, one request per signal, with
//! retries and backoff.
//!
//! It must never hold the pipeline back, so it is not a durable output: each batch is taken at
//! once and its offset reported as held; the signals wait in this task's own bounded queue, and
//! when the endpoint is down long enough for that queue to fill, the oldest are dropped and
//! counted (`/metrics` `sluice_output_errors`, the log). Alerts are kept in the stores whatever
//! happens here.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Batch;
use super::sink::SinkContext;
use crate::config::webhook::{SEVERITIES, WebhookKind, WebhookOutputConfig};
use crate::event::{Signal, SignalKind};
use crate::retry::Backoff;

/// Runs the output until its queue closes (then delivers what waits, if it can) or `abort` fires.
pub async fn run(config: WebhookOutputConfig, mut ctx: SinkContext, mut batches: mpsc::Receiver<Arc<Batch>>) {
    ctx.ready(None);
    let client = match reqwest::Client::builder().timeout(config.timeout).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(output = %ctx.name, error = %e, "cannot create the webhook client; signals are not posted");
            ctx.failed(&e);
            while let Some(batch) = batches.recv().await {
                ctx.committed(batch.end_offset);
            }
            return;
        }
    };
    let mut waiting: VecDeque<Signal> = VecDeque::new();
    let mut dropped = 0u64;
    let mut open = true;
    while open || !waiting.is_empty() {
        // Take every batch there is, then deliver one signal; a batch never waits for delivery.
        loop {
            let next = if waiting.is_empty() && open {
                tokio::select! {
                    () = ctx.abort.cancelled() => return,
                    batch = batches.recv() => batch,
                }
            } else {
                match batches.try_recv() {
                    Ok(batch) => Some(batch),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
            };
            let Some(batch) = next else {
                open = false;
                break;
            };
            for signal in batch.signals.iter().filter(|s| wanted(&config, s)) {
                if waiting.len() >= config.queue {
                    waiting.pop_front();
                    dropped += 1;
                    ctx.failed(&format!("{dropped} signal(s) dropped: the endpoint is behind and the queue is full"));
                }
                waiting.push_back(signal.clone());
            }
            ctx.committed(batch.end_offset);
        }
        if let Some(signal) = waiting.pop_front()
            && !deliver(&client, &config, &ctx, &signal).await
        {
            return;
        }
    }
}

/// Whether the output posts this signal.
fn wanted(config: &WebhookOutputConfig, signal: &Signal) -> bool {
    let kind = match signal.kind {
        SignalKind::Alert => WebhookKind::Alert,
        SignalKind::Insight => WebhookKind::Insight,
        SignalKind::PatternChanged => return false,
    };
    if !config.kinds.contains(&kind) {
        return false;
    }
    match (&config.min_severity, signal.kind) {
        (Some(min), SignalKind::Alert) => {
            let severity = signal.body.get("severity").and_then(serde_json::Value::as_str).unwrap_or("warning");
            rank(severity) >= rank(min)
        }
        _ => true,
    }
}

fn rank(severity: &str) -> usize {
    SEVERITIES.iter().position(|s| *s == severity).unwrap_or(1)
}

/// Posts one signal, retrying with backoff up to `max_attempts`. Returns `false` if aborted.
async fn deliver(client: &reqwest::Client, config: &WebhookOutputConfig, ctx: &SinkContext, signal: &Signal) -> bool {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    let kind = match signal.kind {
        SignalKind::Alert => "alert",
        SignalKind::Insight => "insight",
        SignalKind::PatternChanged => "pattern_changed",
    };
    for attempt in 1..=config.max_attempts {
        let mut request = client.post(&config.url).header("X-Sluice-Signal", kind).json(&signal.body);
        for (name, value) in &config.headers {
            request = request.header(name, value);
        }
        let outcome = tokio::select! {
            () = ctx.abort.cancelled() => return false,
            response = request.send() => response,
        };
        let error = match outcome {
            Ok(response) if response.status().is_success() => return true,
            Ok(response) => format!("HTTP {}", response.status()),
            Err(e) => format!("{e}"),
        };
        tracing::warn!(output = %ctx.name, attempt, max = config.max_attempts, error, "webhook delivery failed");
        ctx.failed(&format!("{kind} delivery attempt {attempt}: {error}"));
        if attempt < config.max_attempts && !backoff.wait(&ctx.abort).await {
            return false;
        }
    }
    tracing::error!(output = %ctx.name, kind, "webhook delivery given up after {} attempts", config.max_attempts);
    true
}

#[cfg(test)]
mod tests {
    use super::wanted;
    use crate::config::webhook::{WebhookKind, WebhookOutputConfig};
    use crate::event::{Signal, SignalKind};

    fn config(kinds: Vec<WebhookKind>, min_severity: Option<&str>) -> WebhookOutputConfig {
        WebhookOutputConfig {
            name: None,
            url: "http://127.0.0.1:1/".into(),
            kinds,
            min_severity: min_severity.map(Into::into),
            headers: Default::default(),
            timeout: std::time::Duration::from_secs(1),
            max_attempts: 1,
            queue: 1,
        }
    }

    fn signal(kind: SignalKind, severity: &str) -> Signal {
        let body = serde_json::json!({"severity": severity});
        Signal { stage: "s".into(), kind, body: body.as_object().cloned().unwrap_or_default(), emitted_ns: 0 }
    }

    #[test]
    fn kinds_and_severity_choose_what_is_posted() {
        let alerts = config(vec![WebhookKind::Alert], Some("error"));
        assert!(wanted(&alerts, &signal(SignalKind::Alert, "critical")));
        assert!(wanted(&alerts, &signal(SignalKind::Alert, "error")));
        assert!(!wanted(&alerts, &signal(SignalKind::Alert, "warning")));
        assert!(!wanted(&alerts, &signal(SignalKind::Insight, "critical")));
        assert!(!wanted(&alerts, &signal(SignalKind::PatternChanged, "critical")));
        let both = config(vec![WebhookKind::Alert, WebhookKind::Insight], None);
        assert!(wanted(&both, &signal(SignalKind::Alert, "info")));
        assert!(wanted(&both, &signal(SignalKind::Insight, "info")));
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = config(vec![WebhookKind::Alert], Some("loud"));
        assert!(c.validate().is_err_and(|e| e.starts_with("min_severity")));
        c.min_severity = None;
        c.url = "ftp://x".into();
        assert!(c.validate().is_err_and(|e| e.starts_with("url")));
    }
}
