//! Kafka input and output settings.
//!
//! Both connect to `brokers`, unless the environment variable named by `brokers_env` is set, so
//! one pipeline file serves every environment. `properties` go to librdkafka as they are, except
//! for the few settings Sluice's delivery promise rests on (see each `properties` field).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Consume topics as one member of a consumer group. Offsets are committed to the group only once
/// every durable output holds the messages, so another member (or this one after a restart)
/// starts where nothing can be lost.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaInputConfig {
    /// Name used in metrics and stored events; defaults to `kafka`.
    #[serde(default)]
    pub name: Option<String>,
    /// Bootstrap brokers, comma-separated `host:port`. When the environment variable named by
    /// `brokers_env` is set, it wins.
    #[serde(default = "default_brokers")]
    pub brokers: String,
    /// Environment variable that overrides `brokers`.
    #[serde(default = "default_brokers_env")]
    pub brokers_env: String,
    /// Topics to consume (seed 004 produces to `logs.raw`). At least one.
    #[serde(default = "default_topics", deserialize_with = "topics")]
    pub topics: Vec<String>,
    /// The consumer group. Sluice instances sharing a group share the topics' partitions, and one
    /// takes over the partitions of another that stops or dies.
    #[serde(default = "default_group_id")]
    pub group_id: String,
    /// Where the group starts on a partition it has no committed offset for: `earliest` (every
    /// message still in the topic) or `latest` (only messages produced from now on).
    #[serde(default)]
    pub initial_offset: InitialOffset,
    /// Largest message accepted, in bytes; a larger one is dead-lettered with the reason.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Most messages journaled as one record (one disk sync).
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Longest a message waits for more to share its record, e.g. `5ms`.
    #[serde(default = "default_linger", deserialize_with = "super::pipeline::duration")]
    pub linger: Duration,
    /// librdkafka consumer properties, e.g. `session.timeout.ms: "10000"` or the `security.*`
    /// and `sasl.*` settings. `bootstrap.servers`, `group.id`, `auto.offset.reset`,
    /// `enable.auto.commit` and `enable.auto.offset.store` are set from the fields above and Sluice's
    /// commit rule, and cannot be overridden here.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// Where a consumer group starts on a partition without a committed offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialOffset {
    /// The oldest message the topic still holds: nothing produced before the group first joined is
    /// missed.
    #[default]
    Earliest,
    /// The end of the partition.
    Latest,
}

impl InitialOffset {
    /// The value of librdkafka's `auto.offset.reset`.
    pub fn as_property(self) -> &'static str {
        match self {
            InitialOffset::Earliest => "earliest",
            InitialOffset::Latest => "latest",
        }
    }
}

/// Produce processed events to a topic, as JSON.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaOutputConfig {
    /// Name used in metrics; defaults to `kafka`.
    #[serde(default)]
    pub name: Option<String>,
    /// Bootstrap brokers, comma-separated `host:port`. When the environment variable named by
    /// `brokers_env` is set, it wins.
    #[serde(default = "default_brokers")]
    pub brokers: String,
    /// Environment variable that overrides `brokers`.
    #[serde(default = "default_brokers_env")]
    pub brokers_env: String,
    /// The topic events are produced to (seed 004 consumes `logs.normalized`).
    #[serde(default = "default_output_topic")]
    pub topic: String,
    /// The event field used as the message key, so that all events with one key land in one
    /// partition and keep their order: `source` (default), `input`, `session_id`, `user_id`,
    /// `trace_id`. An event without that field is keyed by the name of its input.
    #[serde(default)]
    pub key: KafkaKey,
    /// What a message holds: `event` (default), the processed event as JSON; or `record`, the
    /// record as it was received (for an edge that forwards raw logs to be processed elsewhere,
    /// seed 004's `logs.raw`).
    #[serde(default)]
    pub value: KafkaValue,
    /// A topic for dead letters (the event, the stage that gave up and why, as JSON); none: dead
    /// letters are not produced.
    #[serde(default)]
    pub dead_letters_topic: Option<String>,
    /// A topic for insights (seed 004's `logs.insights`): each insight a stage attaches to a
    /// pattern, as JSON `{"pattern_id", "template", "insight"}`, keyed by pattern id. None: not
    /// produced.
    #[serde(default)]
    pub insights_topic: Option<String>,
    /// A topic for alerts (the alert object as JSON, keyed by rule). None: not produced.
    #[serde(default)]
    pub alerts_topic: Option<String>,
    /// librdkafka producer properties, e.g. `compression.type: lz4` or `linger.ms: "5"`.
    /// `bootstrap.servers`, `acks` (`all`) and `enable.idempotence` (`true`) are Sluice's and
    /// cannot be overridden here.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// What a produced message holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaValue {
    /// The processed event, as JSON (with its id, so consumers can deduplicate).
    #[default]
    Event,
    /// The record as received, before any stage parsed it (the message, when a stage did).
    Record,
}

/// Which event field keys the produced messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaKey {
    /// The service or component that logged the event.
    #[default]
    Source,
    /// The name of the input that received it.
    Input,
    /// The session the event belongs to.
    SessionId,
    /// The user the event is about.
    UserId,
    /// The trace the event is part of.
    TraceId,
}

fn default_brokers() -> String {
    "127.0.0.1:9092".into()
}
fn default_brokers_env() -> String {
    "KAFKA_BROKERS".into()
}
fn default_topics() -> Vec<String> {
    vec!["logs.raw".into()]
}
fn default_group_id() -> String {
    "sluice".into()
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
fn default_output_topic() -> String {
    "logs.normalized".into()
}

/// The brokers to use: the environment's, else the file's.
fn effective(brokers: &str, env: &str) -> String {
    std::env::var(env).ok().filter(|b| !b.trim().is_empty()).unwrap_or_else(|| brokers.to_string())
}

impl KafkaInputConfig {
    /// The bootstrap brokers to use: the environment's, else the file's.
    pub fn effective_brokers(&self) -> String {
        effective(&self.brokers, &self.brokers_env)
    }
}

impl KafkaOutputConfig {
    /// The bootstrap brokers to use: the environment's, else the file's.
    pub fn effective_brokers(&self) -> String {
        effective(&self.brokers, &self.brokers_env)
    }
}

/// A non-empty list of non-empty topic names.
fn topics<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let topics = Vec::<String>::deserialize(d)?;
    if topics.is_empty() {
        return Err(serde::de::Error::custom("at least one topic is required"));
    }
    if topics.iter().any(|t| t.trim().is_empty()) {
        return Err(serde::de::Error::custom("a topic name cannot be empty"));
    }
    Ok(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(yaml: &str) -> Result<KafkaInputConfig, serde_yaml_ng::Error> {
        serde_yaml_ng::from_str(yaml)
    }

    #[test]
    fn input_defaults_follow_seed_004() {
        let c = input("{}").expect("defaults");
        assert_eq!(c.topics, vec!["logs.raw".to_string()]);
        assert_eq!((c.group_id.as_str(), c.brokers.as_str()), ("sluice", "127.0.0.1:9092"));
        assert_eq!((c.max_batch, c.max_message_bytes), (1024, 1024 * 1024));
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.initial_offset, InitialOffset::Earliest);
        let o: KafkaOutputConfig = serde_yaml_ng::from_str("{}").expect("defaults");
        assert_eq!((o.topic.as_str(), o.key, o.dead_letters_topic), ("logs.normalized", KafkaKey::Source, None));
    }

    #[test]
    fn input_fields_parse_and_mistakes_are_refused() {
        let c = input("topics: [a, b]\nlinger: 20ms\ninitial_offset: latest\nproperties: {session.timeout.ms: '6000'}")
            .expect("parses");
        assert_eq!(c.topics.len(), 2);
        assert_eq!(c.linger, Duration::from_millis(20));
        assert_eq!(c.initial_offset, InitialOffset::Latest);
        assert_eq!(c.properties["session.timeout.ms"], "6000");
        assert!(input("topics: []").expect_err("refused").to_string().contains("at least one topic"));
        assert!(input("linger: soon").expect_err("refused").to_string().contains("invalid duration"));
        assert!(input("topic: x").is_err(), "unknown fields are refused");
    }

    #[test]
    fn environment_overrides_brokers() {
        let c = input("brokers: file:9092\nbrokers_env: SLUICE_TEST_KAFKA_BROKERS_UNSET").expect("parses");
        assert_eq!(c.effective_brokers(), "file:9092");
        let c = input("brokers: file:9092\nbrokers_env: PATH").expect("parses");
        assert_ne!(c.effective_brokers(), "file:9092", "a set variable wins");
    }
}
