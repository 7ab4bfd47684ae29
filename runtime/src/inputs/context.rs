//! What a broker input (AMQP, Kafka, ZeroMQ) is given by the topology, and the rules it follows.
//!
//! An input task:
//! - turns each message into a [`JournalEvent`] ([`InputContext::event`]), or, when the message
//!   cannot be accepted (garbage protobuf, invalid UTF-8, over the size limit), into a rejected
//!   event ([`InputContext::rejected`]) that the processor dead-letters with the reason: nothing
//!   is dropped silently and one bad message never stops the input;
//! - appends with [`InputContext::append`] and acknowledges to its broker only after that
//!   returns (the events are on disk), or, where the broker can replay (Kafka), only after every
//!   durable output holds them ([`InputContext::wait_held`]);
//! - reconnects with backoff ([`crate::retry`]) when its peer goes away;
//! - returns promptly once `cancel` fires, acknowledging nothing it has not journaled.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::event::now_ns;
use crate::journal::{Appender, JournalError, JournalEvent};
use crate::telemetry::{InputLabel, Metrics, RejectLabel, Totals};
use crate::topology::live::Live;

/// Most bytes of a rejected message kept in its dead letter.
pub const REJECTED_KEEP_BYTES: usize = 64 * 1024;

/// Why an append failed.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("shutting down")]
    Closed,
    #[error("cannot write the journal: {0}")]
    Journal(JournalError),
}

/// Everything a broker input needs from the running pipeline.
#[derive(Debug, Clone)]
pub struct InputContext {
    /// The input's name, stored with its events.
    pub name: String,
    /// Fires when the input is to stop (reload removed or changed it, or shutdown).
    pub cancel: CancellationToken,
    pub metrics: Arc<Metrics>,
    appender: Appender,
    /// The journal's durable end.
    durable: watch::Receiver<u64>,
    /// The offset every durable output holds.
    held: watch::Receiver<u64>,
    live: Arc<Live>,
}

impl InputContext {
    pub fn new(
        name: &str,
        cancel: CancellationToken,
        metrics: Arc<Metrics>,
        appender: Appender,
        durable: watch::Receiver<u64>,
        held: watch::Receiver<u64>,
        live: Arc<Live>,
    ) -> Self {
        InputContext { name: name.to_string(), cancel, metrics, appender, durable, held, live }
    }

    /// An event with a fresh, time-ordered id.
    pub fn event(&self, raw: String, topic: Option<String>) -> JournalEvent {
        self.event_with_id(uuid::Uuid::now_v7().to_string(), raw, topic)
    }

    /// An event with an id the caller derived (see [`stable_id`]), so a redelivered message
    /// gets the same id and outputs store it once.
    pub fn event_with_id(&self, id: String, raw: String, topic: Option<String>) -> JournalEvent {
        JournalEvent {
            id,
            received_ns: now_ns(),
            input: self.name.clone(),
            raw,
            topic,
            session_id: None,
            rejected: None,
        }
    }

    /// A message that cannot be accepted: it is journaled like any other, and the processor
    /// dead-letters it with `reason` instead of running stages on it. What is kept of the payload
    /// is its first [`REJECTED_KEEP_BYTES`], decoded lossily.
    pub fn rejected(&self, id: Option<String>, payload: &[u8], topic: Option<String>, reason: String) -> JournalEvent {
        let kept = &payload[..payload.len().min(REJECTED_KEEP_BYTES)];
        let label = RejectLabel { input: self.name.clone(), reason: reason_code(&reason) };
        self.metrics.requests_rejected.get_or_create(&label).inc();
        JournalEvent {
            id: id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            received_ns: now_ns(),
            input: self.name.clone(),
            raw: String::from_utf8_lossy(kept).into_owned(),
            topic,
            session_id: None,
            rejected: Some(reason),
        }
    }

    /// Journals `events` as one record and returns once it is on disk, with the journal offset
    /// just past it. While more than the pipeline's `journal.max_pending_mib` waits for the
    /// outputs, it waits first: a broker input slows down rather than refusing messages.
    pub async fn append(&self, events: &[JournalEvent]) -> Result<u64, InputError> {
        let mut held = self.held.clone();
        loop {
            let pending = self.durable.borrow().saturating_sub(*held.borrow_and_update());
            if pending <= self.live.max_pending_bytes() {
                break;
            }
            tokio::select! {
                () = self.cancel.cancelled() => return Err(InputError::Closed),
                changed = held.changed() => if changed.is_err() { return Err(InputError::Closed) },
                () = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            }
        }
        let end = self.appender.append(events).await.map_err(|e| match e {
            JournalError::Closed => InputError::Closed,
            other => InputError::Journal(other),
        })?;
        self.metrics.events_in.get_or_create(&InputLabel { input: self.name.clone() }).inc_by(events.len() as u64);
        Totals::add(&self.metrics.totals.received, events.len() as u64);
        Ok(end)
    }

    /// Waits until every durable output holds the journal up to `offset`; `false` if cancelled
    /// first.
    pub async fn wait_held(&self, offset: u64) -> bool {
        let mut held = self.held.clone();
        tokio::select! {
            () = self.cancel.cancelled() => false,
            reached = held.wait_for(|&h| h >= offset) => reached.is_ok(),
        }
    }

    /// The offset every durable output holds now.
    pub fn held(&self) -> u64 {
        *self.held.borrow()
    }
}

/// A deterministic id for a message that may be delivered again (same parts, same id), laid out
/// as a UUIDv7 so ids still sort by time: `unix_ms` gives the time bits, a SHA-256 of `parts` the
/// rest.
pub fn stable_id(unix_ms: u64, parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut random = [0u8; 10];
    random.copy_from_slice(&digest[..10]);
    uuid::Builder::from_unix_timestamp_millis(unix_ms, &random).into_uuid().to_string()
}

/// The metric label for a rejection: the reason's first words, before any detail.
fn reason_code(reason: &str) -> String {
    reason.split([':', '(']).next().unwrap_or(reason).trim().chars().take(48).collect()
}

#[cfg(test)]
mod tests {
    use super::{reason_code, stable_id};

    #[test]
    fn stable_ids_repeat_and_differ() {
        let a = stable_id(1_700_000_000_000, &[b"logs.raw", b"0", b"42"]);
        assert_eq!(a, stable_id(1_700_000_000_000, &[b"logs.raw", b"0", b"42"]));
        assert_ne!(a, stable_id(1_700_000_000_000, &[b"logs.raw", b"0", b"43"]));
        // Parts are length-prefixed, so moving a byte between parts changes the id.
        assert_ne!(stable_id(1, &[b"ab", b"c"]), stable_id(1, &[b"a", b"bc"]));
        let uuid = uuid::Uuid::parse_str(&a).expect("a uuid");
        assert_eq!(uuid.get_version_num(), 7);
    }

    #[test]
    fn reason_codes_are_short() {
        assert_eq!(reason_code("invalid protobuf LogEntry: buffer underflow"), "invalid protobuf LogEntry");
    }
}
