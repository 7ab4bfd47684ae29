//! The Kafka output: each processed event as JSON to a topic, keyed (by default by its source)
//! so that one key's events keep their order in one partition; dead letters, when asked, to their
//! own topic.
//!
//! A batch counts as committed only once the brokers acknowledged every message in it (`acks=all`,
//! idempotent producer, so librdkafka's own retries add no duplicates). The journal offset it ends
//! at is then written to `outputs/<name>.offset` in the data directory (replacing the file
//! atomically), and a batch at or below that offset is skipped after a restart.
//!
//! **At least once.** A crash between the brokers' acknowledgement and the offset file update,
//! or a retry after some messages of a batch were delivered and others not, produces those
//! messages again. Every message carries the event's id (`id` in the JSON), which is stable across
//! such repeats: consumers deduplicate on it.
//!
//! While the brokers are unreachable the batch is retried with backoff; it waits in the journal
//! meanwhile, and this output's queue holds the processor back.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use rdkafka::{ClientConfig, ClientContext};
use tokio::sync::mpsc;

use super::sink::SinkContext;
use super::{Batch, offset_file};
use crate::config::kafka::{KafkaKey, KafkaOutputConfig, KafkaValue};
use crate::event::{Event, SignalKind};
use crate::retry::Backoff;

/// Why a batch was not delivered (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum KafkaOutputError {
    #[error("cannot create the Kafka producer: {0}")]
    Create(KafkaError),
    #[error("{failed} of {total} Kafka messages not delivered: {first}")]
    Delivery { failed: usize, total: usize, first: KafkaError },
    #[error("cannot encode an event as JSON: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The producer, with librdkafka's logs and errors going to `tracing` under the output's name.
type Producer = FutureProducer<Logs>;

/// librdkafka's log and error callbacks.
#[derive(Debug)]
struct Logs {
    output: String,
}

impl ClientContext for Logs {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let output = &self.output;
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                tracing::error!(output, facility, "librdkafka: {message}");
            }
            RDKafkaLogLevel::Warning => tracing::warn!(output, facility, "librdkafka: {message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(output, facility, "librdkafka: {message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(output, facility, "librdkafka: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Mostly brokers going away; librdkafka reconnects by itself.
        tracing::warn!(output = %self.output, error = %error, "Kafka: {reason}");
    }
}

/// One message to produce.
#[derive(Debug)]
struct Record {
    topic: Arc<str>,
    key: String,
    payload: Vec<u8>,
}

/// Delivers batches until the queue closes (see [`super::sink`] for the contract).
pub async fn run(config: KafkaOutputConfig, mut ctx: SinkContext, mut batches: mpsc::Receiver<Arc<Batch>>) {
    let offset_path = offset_file::path(&ctx.data_dir, &ctx.name);
    let committed = match offset_file::read(&offset_path) {
        Ok(committed) => committed,
        Err(e) => {
            tracing::error!(output = %ctx.name, file = %offset_path.display(), error = %e, "cannot read the Kafka output's offset; starting where the pipeline stands");
            None
        }
    };
    let start = ctx.ready(committed);
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut producer: Option<Producer> = None;
    let topic: Arc<str> = config.topic.as_str().into();
    let dead_letters_topic: Option<Arc<str>> = config.dead_letters_topic.as_deref().map(Into::into);
    let signal_topics = SignalTopics {
        insights: config.insights_topic.as_deref().map(Into::into),
        alerts: config.alerts_topic.as_deref().map(Into::into),
    };
    loop {
        let batch = tokio::select! {
            () = ctx.abort.cancelled() => return,
            batch = batches.recv() => match batch {
                Some(batch) => batch,
                None => break,
            },
        };
        if batch.already_held(start) {
            ctx.committed(batch.end_offset);
            continue;
        }
        let mut todo = match records(&batch, &config, &topic, dead_letters_topic.as_ref(), &signal_topics) {
            Ok(records) => records,
            Err(e) => {
                // Events are plain data; this cannot fail short of a bug, and retrying cannot help.
                tracing::error!(output = %ctx.name, error = %e, "cannot encode a batch for Kafka");
                ctx.failed(&e);
                ctx.abort.cancelled().await;
                return;
            }
        };
        while !todo.is_empty() {
            let attempt = match producer.as_ref() {
                Some(p) => tokio::select! {
                    () = ctx.abort.cancelled() => return,
                    result = deliver(p, todo) => result,
                },
                None => match create(&config, &ctx.name) {
                    Ok(p) => {
                        producer = Some(p);
                        continue;
                    }
                    Err(e) => Err((e, todo)),
                },
            };
            match attempt {
                Ok(()) => {
                    backoff.reset();
                    todo = Vec::new();
                }
                Err((e, left)) => {
                    tracing::warn!(output = %ctx.name, error = %e, "Kafka delivery failed; retrying (the batch waits in the journal)");
                    ctx.failed(&e);
                    // An idempotent producer that hit a fatal error delivers nothing more.
                    if let Some((code, reason)) = producer.as_ref().and_then(|p| p.client().fatal_error()) {
                        tracing::warn!(output = %ctx.name, error = %code, reason, "Kafka producer failed for good; creating a new one");
                        producer = None;
                    }
                    todo = left;
                    if !backoff.wait(&ctx.abort).await {
                        return;
                    }
                }
            }
        }
        if batch.tick {
            // Only signals: nothing of the journal to record.
            ctx.delivered(&batch);
            continue;
        }
        if let Err(e) = offset_file::write(&offset_path, batch.end_offset, true).await {
            // Only a restart notices: it produces this batch again.
            tracing::warn!(output = %ctx.name, error = %e, "cannot record the Kafka output's offset");
        }
        ctx.delivered(&batch);
        ctx.committed(batch.end_offset);
    }
    if let Some(producer) = producer {
        // Everything was acknowledged already; this only lets the client finish cleanly.
        let _ = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(1))).await;
    }
}

/// Creates the producer (it connects on first use).
fn create(config: &KafkaOutputConfig, name: &str) -> Result<Producer, KafkaOutputError> {
    let mut client = ClientConfig::new();
    for (key, value) in &config.properties {
        client.set(key, value);
    }
    client.set("bootstrap.servers", config.effective_brokers()).set("acks", "all").set("enable.idempotence", "true");
    client.create_with_context(Logs { output: name.to_string() }).map_err(KafkaOutputError::Create)
}

/// The batch's messages, in order: its events, then its dead letters when they have a topic.
/// Where signals are produced, when they are.
struct SignalTopics {
    insights: Option<Arc<str>>,
    alerts: Option<Arc<str>>,
}

fn records(
    batch: &Batch,
    config: &KafkaOutputConfig,
    topic: &Arc<str>,
    dead_letters: Option<&Arc<str>>,
    signal_topics: &SignalTopics,
) -> Result<Vec<Record>, serde_json::Error> {
    let mut out = Vec::with_capacity(batch.events.len() + dead_letters.map_or(0, |_| batch.dead_letters.len()));
    for event in &batch.events {
        out.push(Record {
            topic: topic.clone(),
            key: key(event, config.key).to_string(),
            payload: match config.value {
                KafkaValue::Event => serde_json::to_vec(event)?,
                KafkaValue::Record => event.raw.as_deref().unwrap_or(event.stored_message()).as_bytes().to_vec(),
            },
        });
    }
    if let Some(dead_letters) = dead_letters {
        for letter in &batch.dead_letters {
            out.push(Record {
                topic: dead_letters.clone(),
                key: key(&letter.event, config.key).to_string(),
                payload: serde_json::to_vec(letter)?,
            });
        }
    }
    for signal in &batch.signals {
        let (topic, key_field) = match signal.kind {
            SignalKind::Insight => (&signal_topics.insights, "pattern_id"),
            SignalKind::Alert => (&signal_topics.alerts, "rule"),
            SignalKind::PatternChanged => continue,
        };
        let Some(topic) = topic else { continue };
        out.push(Record {
            topic: topic.clone(),
            key: signal.body.get(key_field).and_then(serde_json::Value::as_str).unwrap_or(&signal.stage).to_string(),
            payload: serde_json::to_vec(&signal.body)?,
        });
    }
    Ok(out)
}

/// The message key of an event: the configured field, else the name of its input.
fn key(event: &Event, key: KafkaKey) -> &str {
    let field = match key {
        KafkaKey::Source => event.source.as_deref(),
        KafkaKey::Input => None,
        KafkaKey::SessionId => event.session_id.as_deref(),
        KafkaKey::UserId => event.user_id.as_deref(),
        KafkaKey::TraceId => event.trace_id.as_deref(),
    };
    field.filter(|f| !f.is_empty()).unwrap_or(&event.input)
}

/// Produces `records` in order and waits for every acknowledgement. On failure, returns the
/// records that were not delivered, still in order.
async fn deliver(producer: &Producer, records: Vec<Record>) -> Result<(), (KafkaOutputError, Vec<Record>)> {
    let total = records.len();
    let mut in_flight: VecDeque<(usize, DeliveryFuture)> = VecDeque::new();
    let mut failed: Vec<(usize, KafkaError)> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        loop {
            let message = FutureRecord::to(&record.topic).key(record.key.as_bytes()).payload(record.payload.as_slice());
            match producer.send_result(message) {
                Ok(delivery) => {
                    in_flight.push_back((i, delivery));
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // Sending in order: wait for room rather than let later messages overtake.
                    match in_flight.pop_front() {
                        Some((j, delivery)) => {
                            if let Err(e) = outcome(delivery.await) {
                                failed.push((j, e));
                            }
                        }
                        None => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
                Err((e, _)) => {
                    failed.push((i, e));
                    break;
                }
            }
        }
    }
    for (i, delivery) in in_flight {
        if let Err(e) = outcome(delivery.await) {
            failed.push((i, e));
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    failed.sort_by_key(|(i, _)| *i);
    let mut failed_at = failed.iter().map(|(i, _)| *i).peekable();
    let left: Vec<Record> = records
        .into_iter()
        .enumerate()
        .filter_map(|(i, record)| (failed_at.next_if_eq(&i).is_some()).then_some(record))
        .collect();
    let count = failed.len();
    let first = failed.swap_remove(0).1;
    Err((KafkaOutputError::Delivery { failed: count, total, first }, left))
}

/// A delivery's result; a producer dropped before reporting counts as a failure.
fn outcome<E>(result: Result<OwnedDeliveryResult, E>) -> Result<(), KafkaError> {
    match result {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) => Err(e),
        Err(_) => Err(KafkaError::Canceled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_falls_back_to_the_input() {
        let mut event = Event::received("id".into(), 1, "http".into(), "x".into());
        assert_eq!(key(&event, KafkaKey::Source), "http");
        event.source = Some("auth".into());
        assert_eq!(key(&event, KafkaKey::Source), "auth");
        assert_eq!(key(&event, KafkaKey::Input), "http");
        assert_eq!(key(&event, KafkaKey::TraceId), "http");
    }
}
