//! The Kafka input: one member of a consumer group, journaling what it reads and committing its
//! offsets to the group only once every durable output holds the messages.
//!
//! Messages are gathered up to `max_batch` or for `linger`, whichever comes first, and journaled
//! as one record. Each message's event id is derived from its topic, partition and offset
//! ([`stable_id`]), so a message read again, by this member after a restart or by another after a
//! rebalance, carries the same id and outputs store it once. Committing runs beside consuming
//! ([`group::commit_task`]), so the outputs' latency does not slow the reading; at most
//! [`PENDING_BATCHES`] journaled batches wait for theirs.
//!
//! A message that is not UTF-8, is larger than `max_message_bytes` or has no payload is journaled
//! as rejected: the processor dead-letters it with the reason, and its offset is committed like
//! any other. This input never commits an offset for data the outputs do not hold, and never
//! panics on what a broker sends; librdkafka reconnects to brokers by itself.

mod group;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientConfig, Message};
use tokio::sync::mpsc;
use tokio::time::Instant;

use self::group::{GroupContext, Offsets, Partition, Pending};
use crate::config::kafka::KafkaInputConfig;
use crate::inputs::{InputContext, InputError, stable_id};
use crate::journal::JournalEvent;
use crate::retry::Backoff;

/// Journaled batches whose offsets may wait for the outputs at once; beyond it, reading waits.
pub const PENDING_BATCHES: usize = 64;

/// Longest shutdown waits for the outputs to hold what was journaled, so it can be committed.
const FINAL_WAIT: Duration = Duration::from_secs(5);

/// Longest leaving the group may take at shutdown.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

type GroupConsumer = StreamConsumer<GroupContext>;

/// Runs until `ctx.cancel` fires.
pub async fn run(config: KafkaInputConfig, ctx: InputContext) {
    let pending = Arc::new(Pending::new(ctx.clone()));
    let consumer = match connect(&config, &ctx, &pending) {
        Ok(consumer) => Arc::new(consumer),
        Err(e) => {
            // A setting librdkafka refuses: retrying cannot help until the pipeline changes.
            tracing::error!(input = %ctx.name, error = %e, "Kafka input cannot start");
            ctx.cancel.cancelled().await;
            return;
        }
    };
    tracing::info!(input = %ctx.name, topics = ?config.topics, group = %config.group_id, "Kafka input started");
    let (ends, ends_rx) = mpsc::channel(PENDING_BATCHES);
    let committer = tokio::spawn(group::commit_task::<GroupContext, _>(consumer.clone(), pending.clone(), ends_rx));

    let mut batch = Gathering::default();
    let mut errors = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
    let max_batch = config.max_batch.max(1);
    loop {
        let deadline = batch.deadline;
        tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => break,
            () = sleep_until(deadline) => {
                if !flush(&mut batch, &ctx, &pending, &ends).await {
                    break;
                }
            }
            received = consumer.recv() => match received {
                Ok(message) => {
                    errors.reset();
                    // A revocation runs inside `recv`, before the message it returns is read.
                    batch.forget(&pending.take_revoked());
                    batch.push(&message, &config, &ctx);
                    if batch.events.len() >= max_batch && !flush(&mut batch, &ctx, &pending, &ends).await {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(input = %ctx.name, error = %e, "Kafka consumer error");
                    if !errors.wait(&ctx.cancel).await {
                        break;
                    }
                }
            },
        }
    }

    // Stop: journal what was read, commit what the outputs hold by then, leave the group.
    flush(&mut batch, &ctx, &pending, &ends).await;
    drop(ends);
    if let Err(e) = committer.await {
        tracing::error!(input = %ctx.name, error = %e, "Kafka commit task failed");
    }
    if let Some(last) = pending.last_end() {
        let deadline = Instant::now() + FINAL_WAIT;
        while ctx.held() < last && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    pending.commit_held(consumer.as_ref());
    pending.clear();
    // Closing polls until librdkafka has finished outstanding commits and left the group.
    let close = tokio::task::spawn_blocking(move || drop(consumer));
    if tokio::time::timeout(CLOSE_WAIT, close).await.is_err() {
        tracing::warn!(input = %ctx.name, "Kafka consumer did not leave its group in time");
    }
    tracing::info!(input = %ctx.name, "Kafka input stopped");
}

/// Creates the consumer and subscribes it.
fn connect(
    config: &KafkaInputConfig,
    ctx: &InputContext,
    pending: &Arc<Pending>,
) -> Result<GroupConsumer, rdkafka::error::KafkaError> {
    let mut client = ClientConfig::new();
    client.set("client.id", format!("sluice-{}", ctx.name));
    for (key, value) in &config.properties {
        client.set(key, value);
    }
    client
        .set("bootstrap.servers", config.effective_brokers())
        .set("group.id", &config.group_id)
        .set("auto.offset.reset", config.initial_offset.as_property())
        // Offsets are committed by this input, once the outputs hold the messages.
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    let consumer: GroupConsumer = client.create_with_context(GroupContext { pending: pending.clone() })?;
    let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    Ok(consumer)
}

/// Messages read but not journaled yet.
#[derive(Debug, Default)]
struct Gathering {
    events: Vec<JournalEvent>,
    /// The partition each event came from, parallel to `events`.
    from: Vec<Partition>,
    offsets: Offsets,
    /// When the batch is to be journaled even if it is not full.
    deadline: Option<Instant>,
}

impl Gathering {
    fn push(&mut self, message: &BorrowedMessage<'_>, config: &KafkaInputConfig, ctx: &InputContext) {
        if self.events.is_empty() {
            self.deadline = Some(Instant::now() + config.linger);
        }
        let partition = (message.topic().to_string(), message.partition());
        let next = message.offset() + 1;
        let entry = self.offsets.entry(partition.clone()).or_insert(next);
        *entry = (*entry).max(next);
        self.events.push(event(message, config.max_message_bytes, ctx));
        self.from.push(partition);
    }

    /// Drops what was read from partitions the group took away: not journaled and not
    /// committed, those messages go to the partitions' next owner.
    fn forget(&mut self, revoked: &HashSet<Partition>) {
        if revoked.is_empty() || self.events.is_empty() {
            return;
        }
        let mut keep = self.from.iter().map(|p| !revoked.contains(p));
        self.events.retain(|_| keep.next().unwrap_or(false));
        self.from.retain(|p| !revoked.contains(p));
        self.offsets.retain(|p, _| !revoked.contains(p));
        if self.events.is_empty() {
            self.deadline = None;
        }
    }
}

/// Journals the gathered messages as one record and queues their offsets for committing.
/// `false` when the input is to stop.
async fn flush(batch: &mut Gathering, ctx: &InputContext, pending: &Pending, ends: &mpsc::Sender<u64>) -> bool {
    batch.forget(&pending.take_revoked());
    batch.deadline = None;
    if batch.events.is_empty() {
        return true;
    }
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let end = loop {
        match ctx.append(&batch.events).await {
            Ok(end) => break end,
            Err(InputError::Closed) => return false,
            Err(e) => {
                // Nothing was committed for these messages; keep them and try again.
                tracing::error!(input = %ctx.name, error = %e, "cannot journal Kafka messages; retrying");
                if !backoff.wait(&ctx.cancel).await {
                    return false;
                }
            }
        }
    };
    batch.events.clear();
    batch.from.clear();
    pending.push(end, std::mem::take(&mut batch.offsets));
    // Waits while too many batches wait for the outputs; the final commit covers the rest.
    tokio::select! {
        () = ctx.cancel.cancelled() => false,
        sent = ends.send(end) => sent.is_ok(),
    }
}

/// The journal event for one message: its text, or a rejection with the reason.
fn event(message: &BorrowedMessage<'_>, max_bytes: usize, ctx: &InputContext) -> JournalEvent {
    let topic = message.topic();
    let unix_ms = message.timestamp().to_millis().and_then(|ms| u64::try_from(ms).ok()).unwrap_or(0);
    let (partition, offset) = (message.partition().to_string(), message.offset().to_string());
    let id = stable_id(unix_ms, &[topic.as_bytes(), partition.as_bytes(), offset.as_bytes()]);
    let topic = Some(topic.to_string());
    match message.payload() {
        None => ctx.rejected(Some(id), &[], topic, "message has no payload".into()),
        Some(payload) if payload.len() > max_bytes => ctx.rejected(
            Some(id),
            payload,
            topic,
            format!("message of {} bytes exceeds max_message_bytes {max_bytes}", payload.len()),
        ),
        Some(payload) => match std::str::from_utf8(payload) {
            Ok(text) => ctx.event_with_id(id, text.to_string(), topic),
            Err(e) => ctx.rejected(Some(id), payload, topic, format!("invalid UTF-8 at byte {}", e.valid_up_to())),
        },
    }
}

/// Sleeps until `deadline`; forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
