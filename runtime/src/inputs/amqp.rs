//! The AMQP input (RabbitMQ): consumes one durable queue (seed 002's `log_queue`), optionally
//! bound to a topic exchange with routing keys (seed 003's `manman`, `logs.session.*`).
//!
//! Delivery: deliveries are gathered into one journal record (up to the prefetch, or what
//! arrived within a few milliseconds), and acknowledged (one multiple-ack) only once that record
//! is on disk. If Sluice dies before the ack, the broker delivers them again; their ids are
//! derived from the message (its `message_id` when the producer set one, else its content and
//! properties), so the outputs, which write idempotently on the id, store each once. Without a
//! `message_id`, two byte-identical messages with identical properties are one event.
//!
//! Failure: when the journal refuses a record (disk error), its deliveries are handed back
//! (`nack` with requeue) and counted per message; after `max_redeliveries` a message is
//! journaled as a dead letter instead (the reason says why), and if even that fails it is
//! rejected without requeue, to the queue's own dead-letter exchange if it has one. A message
//! the broker has delivered more than `max_redeliveries` times already (its `x-delivery-count`,
//! kept by quorum queues) is dead-lettered the same way: a message that keeps crashing a consumer
//! cannot loop forever. Invalid UTF-8 and oversized messages are dead-lettered with the reason.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

use crate::config::amqp::AmqpInputConfig;
use crate::inputs::{InputContext, InputError, stable_id};
use crate::journal::JournalEvent;
use crate::retry::Backoff;

/// How long a partial batch waits for more deliveries before it is journaled.
const LINGER: Duration = Duration::from_millis(5);

/// Why the connection or channel failed (the input reconnects).
#[derive(Debug, thiserror::Error)]
enum AmqpError {
    #[error("AMQP: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker cancelled the consumer")]
    Cancelled,
}

/// Runs until `ctx.cancel` fires, reconnecting with backoff whenever the broker goes away.
pub async fn run(config: AmqpInputConfig, ctx: InputContext) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    let mut attempts = Attempts::default();
    while !ctx.cancel.is_cancelled() {
        match consume(&config, &ctx, &mut attempts, &mut backoff).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(input = %ctx.name, error = %e, "AMQP input lost its broker; reconnecting");
                if !backoff.wait(&ctx.cancel).await {
                    return;
                }
            }
        }
    }
}

/// One connection's life: declare, consume, journal, acknowledge. `Ok` once cancelled.
async fn consume(
    config: &AmqpInputConfig,
    ctx: &InputContext,
    attempts: &mut Attempts,
    backoff: &mut Backoff,
) -> Result<(), AmqpError> {
    let connection = Connection::connect(&config.effective_url(), ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    declare(config, &channel).await?;
    channel.basic_qos(config.prefetch.max(1), BasicQosOptions::default()).await?;
    let tag = format!("sluice-{}-{}", ctx.name, uuid::Uuid::now_v7());
    let mut consumer = channel
        .basic_consume(config.queue.as_str().into(), tag.into(), BasicConsumeOptions::default(), FieldTable::default())
        .await?;
    tracing::info!(input = %ctx.name, queue = %config.queue, "AMQP input consuming");
    backoff.reset();
    let max_batch = usize::from(config.prefetch.max(1));
    loop {
        let first = tokio::select! {
            () = ctx.cancel.cancelled() => break,
            next = consumer.next() => next,
        };
        let mut deliveries = match first {
            Some(delivery) => vec![delivery?],
            None => return Err(AmqpError::Cancelled),
        };
        let linger = tokio::time::sleep(LINGER);
        tokio::pin!(linger);
        while deliveries.len() < max_batch {
            tokio::select! {
                () = &mut linger => break,
                next = consumer.next() => match next {
                    Some(delivery) => deliveries.push(delivery?),
                    None => break,
                },
            }
        }
        journal(config, ctx, &channel, deliveries, attempts).await?;
    }
    // Unacknowledged deliveries go back to the queue when the channel closes.
    let _ = channel.close(200, "sluice input stopping".into()).await;
    let _ = connection.close(200, "sluice input stopping".into()).await;
    Ok(())
}

async fn declare(config: &AmqpInputConfig, channel: &Channel) -> Result<(), lapin::Error> {
    let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(config.queue.as_str().into(), durable, FieldTable::default()).await?;
    if let Some(exchange) = &config.exchange {
        let options = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
        channel.exchange_declare(exchange.as_str().into(), ExchangeKind::Topic, options, FieldTable::default()).await?;
        for key in &config.routing_keys {
            channel
                .queue_bind(
                    config.queue.as_str().into(),
                    exchange.as_str().into(),
                    key.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
    }
    Ok(())
}

/// Journals one group of deliveries as one record, then acknowledges them together.
async fn journal(
    config: &AmqpInputConfig,
    ctx: &InputContext,
    channel: &Channel,
    deliveries: Vec<Delivery>,
    attempts: &mut Attempts,
) -> Result<(), AmqpError> {
    let events: Vec<JournalEvent> = deliveries.iter().map(|d| to_event(config, ctx, d)).collect();
    let Some(last) = deliveries.last().map(|d| d.delivery_tag) else { return Ok(()) };
    match ctx.append(&events).await {
        Ok(_) => {
            for event in &events {
                attempts.forget(&event.id);
            }
            channel.basic_ack(last, BasicAckOptions { multiple: true }).await?;
        }
        Err(InputError::Closed) => {
            channel.basic_nack(last, BasicNackOptions { multiple: true, requeue: true }).await?;
        }
        Err(InputError::Journal(e)) => {
            tracing::error!(input = %ctx.name, error = %e, "cannot journal AMQP deliveries; handing them back");
            for (delivery, event) in deliveries.iter().zip(&events) {
                if attempts.failed(&event.id) > config.max_redeliveries {
                    give_up(ctx, channel, delivery, event, &e.to_string()).await?;
                } else {
                    channel
                        .basic_nack(delivery.delivery_tag, BasicNackOptions { multiple: false, requeue: true })
                        .await?;
                }
            }
        }
    }
    Ok(())
}

/// A message that could not be journaled `max_redeliveries` times: one last try as a dead
/// letter, else rejected without requeue.
async fn give_up(
    ctx: &InputContext,
    channel: &Channel,
    delivery: &Delivery,
    event: &JournalEvent,
    error: &str,
) -> Result<(), AmqpError> {
    let reason = format!("journal failed repeatedly: {error}");
    let dead = ctx.rejected(Some(event.id.clone()), &delivery.data, event.topic.clone(), reason);
    if ctx.append(&[dead]).await.is_ok() {
        channel.basic_ack(delivery.delivery_tag, BasicAckOptions { multiple: false }).await?;
    } else {
        tracing::error!(input = %ctx.name, id = %event.id, "message rejected without requeue after repeated journal failures");
        channel.basic_reject(delivery.delivery_tag, BasicRejectOptions { requeue: false }).await?;
    }
    Ok(())
}

/// One delivery as a journal event (or its dead letter).
fn to_event(config: &AmqpInputConfig, ctx: &InputContext, d: &Delivery) -> JournalEvent {
    let id = message_id(config, d);
    let topic = (!d.routing_key.as_str().is_empty()).then(|| d.routing_key.as_str().to_string());
    let session = config
        .session_key_prefix
        .as_deref()
        .and_then(|prefix| d.routing_key.as_str().strip_prefix(prefix))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let delivered = delivery_count(d);
    let reject = |reason: String| {
        let mut dead = ctx.rejected(Some(id.clone()), &d.data, topic.clone(), reason);
        dead.session_id = session.clone();
        dead
    };
    if d.data.len() > config.max_message_bytes {
        return reject(format!(
            "message too large: {} bytes exceeds max_message_bytes {}",
            d.data.len(),
            config.max_message_bytes
        ));
    }
    if delivered > u64::from(config.max_redeliveries) + 1 {
        return reject(format!(
            "delivered too often: the broker delivered this message {delivered} times (max_redeliveries {})",
            config.max_redeliveries
        ));
    }
    match std::str::from_utf8(&d.data) {
        Ok(text) => {
            let mut event = ctx.event_with_id(id, text.to_string(), topic);
            event.session_id = session;
            event
        }
        Err(e) => reject(format!("invalid UTF-8: at byte {}", e.valid_up_to())),
    }
}

/// The id a redelivery of this message gets too: from its `message_id` when set, else from its
/// content and properties.
fn message_id(config: &AmqpInputConfig, d: &Delivery) -> String {
    let props = &d.properties;
    let millis = props.timestamp().map_or(0, |seconds| seconds.saturating_mul(1000));
    let queue = config.queue.as_bytes();
    match props.message_id() {
        Some(message_id) => stable_id(millis, &[b"amqp", queue, message_id.as_str().as_bytes()]),
        None => {
            let headers = props.headers().as_ref().map(|h| format!("{:?}", h.inner())).unwrap_or_default();
            stable_id(
                millis,
                &[
                    b"amqp-content",
                    queue,
                    d.exchange.as_str().as_bytes(),
                    d.routing_key.as_str().as_bytes(),
                    headers.as_bytes(),
                    &d.data,
                ],
            )
        }
    }
}

/// How many times the broker says it has delivered this message (`x-delivery-count`, set by
/// quorum queues, counts earlier deliveries); 1 when it does not say.
fn delivery_count(d: &Delivery) -> u64 {
    let header = d.properties.headers().as_ref().and_then(|h| h.inner().get("x-delivery-count").cloned());
    let earlier = match header {
        Some(AMQPValue::LongLongInt(n)) => u64::try_from(n).unwrap_or(0),
        Some(AMQPValue::LongInt(n)) => u64::try_from(n).unwrap_or(0),
        Some(AMQPValue::ShortInt(n)) => u64::try_from(n).unwrap_or(0),
        Some(AMQPValue::LongUInt(n)) => u64::from(n),
        _ => 0,
    };
    earlier + 1
}

/// Journal failures per message id, so a message is not handed back forever.
#[derive(Debug, Default)]
struct Attempts {
    failures: HashMap<String, u32>,
}

impl Attempts {
    /// Counts one more failure; returns the count.
    fn failed(&mut self, id: &str) -> u32 {
        // Bounded: a long outage with ever-new messages must not grow this without limit.
        if self.failures.len() > 100_000 {
            self.failures.clear();
        }
        let count = self.failures.entry(id.to_string()).or_insert(0);
        *count += 1;
        *count
    }

    fn forget(&mut self, id: &str) {
        if !self.failures.is_empty() {
            self.failures.remove(id);
        }
    }
}
