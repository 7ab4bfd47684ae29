//! The live stream's fan-out. Batches are broadcast as shared pointers (nothing is serialized
//! until a client wants it); every streamed item has a sequence number so a client that falls
//! behind learns exactly how many items it missed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::broadcast;

use super::Batch;
use super::sessions::{Buffered, SessionRings};
use crate::config::SessionBufferConfig;

/// One broadcast batch and the sequence number of its first item.
#[derive(Debug, Clone)]
pub struct TailItem {
    pub first_seq: u64,
    pub batch: Arc<Batch>,
    /// Whether the batch's dead letters are streamed too (they follow its events in sequence).
    pub with_dead_letters: bool,
}

impl TailItem {
    /// How many streamed items this batch holds.
    pub fn len(&self) -> u64 {
        let dead = if self.with_dead_letters { self.batch.dead_letters.len() } else { 0 };
        (self.batch.events.len() + dead) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The hub the topology publishes into and tail clients subscribe to.
#[derive(Debug)]
pub struct TailHub {
    tx: broadcast::Sender<TailItem>,
    next_seq: AtomicU64,
    dead_letters: bool,
    /// Recent events per session, for late subscribers.
    sessions: SessionRings,
    /// Cancelled when a reload replaces or removes this stream: its clients are told and closed,
    /// so they reconnect to the new one instead of waiting on a stream nothing publishes to.
    retired: tokio_util::sync::CancellationToken,
}

impl TailHub {
    /// `buffer` batches are kept for slow clients before they skip ahead.
    pub fn new(buffer: usize, dead_letters: bool, sessions: SessionBufferConfig) -> TailHub {
        let (tx, _) = broadcast::channel(buffer.max(1));
        TailHub {
            tx,
            next_seq: AtomicU64::new(0),
            dead_letters,
            sessions: SessionRings::new(sessions),
            retired: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// The session's buffered events, oldest first. Subscribe first, then ask for these, and skip
    /// live events whose sequence number is not above the last buffered one: nothing is then
    /// missed or seen twice.
    pub fn recent(&self, session: &str) -> Vec<Buffered> {
        self.sessions.recent(session, std::time::Instant::now())
    }

    /// Ends this stream's clients (a reload replaced it).
    pub fn retire(&self) {
        self.retired.cancel();
    }

    /// Resolves once the stream is retired.
    pub async fn retired(&self) {
        self.retired.cancelled().await;
    }

    /// Publishes a batch; never blocks, whether or not anyone listens.
    pub fn publish(&self, batch: &Arc<Batch>) {
        let mut item = TailItem { first_seq: 0, batch: batch.clone(), with_dead_letters: self.dead_letters };
        if item.is_empty() && batch.signals.is_empty() {
            return;
        }
        item.first_seq = self.next_seq.fetch_add(item.len(), Ordering::Relaxed);
        // Buffered before it is sent, so a subscriber that misses it live finds it buffered.
        self.sessions.record(item.first_seq, &batch.events, std::time::Instant::now());
        let _ = self.tx.send(item);
    }

    /// Items (events and, when streamed, dead letters) published since the stream started.
    pub fn published(&self) -> u64 {
        self.next_seq.load(Ordering::Relaxed)
    }

    pub fn subscribe(&self) -> (broadcast::Receiver<TailItem>, u64) {
        let rx = self.tx.subscribe();
        (rx, self.next_seq.load(Ordering::Relaxed))
    }
}
