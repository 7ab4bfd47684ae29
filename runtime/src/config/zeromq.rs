//! ZeroMQ input settings.

use std::time::Duration;

use serde::Deserialize;

/// A SUB socket that connects to publishers (seed 000: a message bus's subscriber port 5556), or
/// binds for publishers to connect to it. It receives `[topic, payload]` messages whose topic
/// starts with one of `topics`.
///
/// ```yaml
/// inputs:
///   - zeromq:
///       connect: [tcp://127.0.0.1:5556]
///       topics: [logs.]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZeromqInputConfig {
    /// Name used in metrics and stored events; defaults to `zeromq`.
    #[serde(default)]
    pub name: Option<String>,
    /// Publishers to connect to, e.g. `tcp://127.0.0.1:5556`. Each gets its own connection, made
    /// again whenever it drops; a publisher that is not up yet is retried until it is. Exclusive
    /// with `bind`.
    #[serde(default)]
    pub connect: Vec<String>,
    /// Address to listen on for publishers that connect, e.g. `tcp://0.0.0.0:5556`. Exclusive
    /// with `connect`.
    #[serde(default)]
    pub bind: Option<String>,
    /// Topic prefixes subscribed to; a message is received when its topic frame starts with one
    /// of them. `""` subscribes to everything.
    #[serde(default = "default_topics")]
    pub topics: Vec<String>,
    /// How the payload frame is read: `protobuf` (a `LogEntry`, see `proto/log_entry.proto`) or
    /// `json` (UTF-8 text handed to the stages as it is: JSON, logfmt or a plain line).
    #[serde(default)]
    pub format: ZeromqFormat,
    /// Largest message accepted (all frames), in bytes; a larger one is dead-lettered with the
    /// reason. ZeroMQ has already delivered it whole by then: this bounds what is journaled, not
    /// what a peer can send.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Most messages journaled as one record (one disk sync).
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// How long the first message of a record waits for more before it is journaled, e.g. `5ms`;
    /// `0s` journals whatever has arrived at once.
    #[serde(default = "default_linger", deserialize_with = "super::pipeline::duration")]
    pub linger: Duration,
}

/// How a message's payload frame is decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZeromqFormat {
    /// A protobuf `LogEntry` (`proto/log_entry.proto`), turned into a JSON object for the stages.
    #[default]
    Protobuf,
    /// UTF-8 text, passed on unchanged.
    Json,
}

fn default_topics() -> Vec<String> {
    vec!["logs.".into()]
}
fn default_max_message_bytes() -> usize {
    1024 * 1024
}
fn default_max_batch() -> usize {
    1024
}
fn default_linger() -> Duration {
    Duration::from_millis(5)
}

/// Longest `linger` accepted: longer would only add latency.
const MAX_LINGER: Duration = Duration::from_secs(10);

impl ZeromqInputConfig {
    /// Checks what the schema cannot: exactly one of `connect` and `bind`, TCP endpoints, and
    /// limits above zero. The message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        match (self.connect.is_empty(), &self.bind) {
            (true, None) => return Err("one of `connect` (publishers to connect to) or `bind` is required".into()),
            (false, Some(_)) => return Err("`connect` and `bind` are exclusive: set one".into()),
            _ => {}
        }
        for endpoint in &self.connect {
            check_endpoint(endpoint).map_err(|e| format!("connect: {e}"))?;
        }
        if let Some(endpoint) = &self.bind {
            check_endpoint(endpoint).map_err(|e| format!("bind: {e}"))?;
        }
        if self.topics.is_empty() {
            return Err("`topics` is empty, so nothing would be received: use `\"\"` for every topic".into());
        }
        if self.max_message_bytes == 0 {
            return Err("`max_message_bytes` must be above zero".into());
        }
        if self.max_batch == 0 {
            return Err("`max_batch` must be above zero".into());
        }
        if self.linger > MAX_LINGER {
            return Err(format!("`linger` must be at most {}", humantime::format_duration(MAX_LINGER)));
        }
        Ok(())
    }
}

/// A `tcp://host:port` endpoint (the only transport built in).
#[cfg(feature = "zeromq")]
fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let parsed: zeromq::Endpoint =
        endpoint.parse().map_err(|e| format!("`{endpoint}` is not a ZeroMQ endpoint (tcp://host:port): {e}"))?;
    match parsed {
        zeromq::Endpoint::Tcp(..) => Ok(()),
        _ => Err(format!("`{endpoint}`: only tcp:// endpoints are supported")),
    }
}

/// Without the ZeroMQ input built, no endpoint is parsed: the pipeline is refused for naming the
/// input at all (`config::not_built`).
#[cfg(not(feature = "zeromq"))]
fn check_endpoint(_endpoint: &str) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{ZeromqFormat, ZeromqInputConfig};

    fn parse(yaml: &str) -> Result<ZeromqInputConfig, String> {
        serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_follow_the_seed() {
        let c = parse("connect: [tcp://127.0.0.1:5556]").expect("parse");
        assert_eq!(c.name, None);
        assert_eq!(c.topics, ["logs."]);
        assert_eq!(c.format, ZeromqFormat::Protobuf);
        assert_eq!(c.max_message_bytes, 1024 * 1024);
        assert_eq!(c.max_batch, 1024);
        assert_eq!(c.linger, Duration::from_millis(5));
        c.validate().expect("valid");
    }

    #[test]
    fn every_field_parses() {
        let c = parse(
            "name: bus\nbind: tcp://0.0.0.0:5556\ntopics: ['']\nformat: json\nmax_message_bytes: 10\nmax_batch: 2\nlinger: 250ms",
        )
        .expect("parse");
        assert_eq!(c.bind.as_deref(), Some("tcp://0.0.0.0:5556"));
        assert_eq!(c.format, ZeromqFormat::Json);
        assert_eq!(c.linger, Duration::from_millis(250));
        c.validate().expect("valid");
    }

    #[test]
    fn mistakes_are_named() {
        assert!(
            parse("connect: [tcp://a:1]\nlinger: soon").expect_err("bad duration").contains("invalid duration `soon`")
        );
        assert!(parse("connect: [tcp://a:1]\nformat: xml").is_err());
        assert!(parse("connect: [tcp://a:1]\nhwm: 5").expect_err("unknown field").contains("unknown field"));
        let invalid = |yaml: &str| parse(yaml).expect("parse").validate().expect_err(yaml);
        assert!(invalid("topics: [logs.]").contains("one of `connect`"));
        assert!(invalid("connect: [tcp://a:1]\nbind: tcp://b:2").contains("exclusive"));
        assert!(invalid("connect: [127.0.0.1:5556]").contains("connect: `127.0.0.1:5556`"));
        assert!(invalid("connect: ['ipc:///tmp/x']").contains("only tcp://"));
        assert!(invalid("connect: [tcp://a:1]\ntopics: []").contains("`topics` is empty"));
        assert!(invalid("connect: [tcp://a:1]\nmax_batch: 0").contains("max_batch"));
        assert!(invalid("connect: [tcp://a:1]\nmax_message_bytes: 0").contains("max_message_bytes"));
        assert!(invalid("connect: [tcp://a:1]\nlinger: 1m").contains("linger"));
    }
}
