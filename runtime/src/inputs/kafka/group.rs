//! The consumer-group side of the Kafka input: which offsets may be committed, when, and what
//! happens to them when the group takes partitions away.
//!
//! A journaled batch becomes a [`Pending`] commit: the journal offset it ends at and, per
//! partition, the offset just past its last message. A commit is sent only for batches every
//! durable output holds ([`InputContext::held`]); nothing here ever commits an offset for data
//! that is not held. When partitions are revoked, what is held is committed right away, and the
//! rest of those partitions' offsets are dropped: the next owner reads those messages again, and
//! since their event ids are derived from topic, partition and offset, outputs store them once.
//! (With the default, eager, assignment protocol every rebalance revokes every partition; the
//! `cooperative-sticky` strategy, set in `properties`, revokes only those that move.)

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::mpsc;

use crate::inputs::InputContext;

/// A topic and partition.
pub(super) type Partition = (String, i32);

/// Per partition, the offset to commit: just past the last message taken.
pub(super) type Offsets = HashMap<Partition, i64>;

/// Journaled batches whose offsets are not committed yet.
#[derive(Debug)]
pub(super) struct Pending {
    /// The input's context, for what the outputs hold.
    ctx: InputContext,
    /// Oldest first, by journal offset.
    batches: Mutex<VecDeque<(u64, Offsets)>>,
    /// Partitions revoked since the consume loop last looked: messages it took from them but has
    /// not journaled are dropped (their next owner reads them).
    revoked: Mutex<HashSet<Partition>>,
}

impl Pending {
    pub(super) fn new(ctx: InputContext) -> Self {
        Pending { ctx, batches: Mutex::default(), revoked: Mutex::default() }
    }

    /// Records a journaled batch ending at journal offset `end`.
    pub(super) fn push(&self, end: u64, offsets: Offsets) {
        if !offsets.is_empty() {
            lock(&self.batches).push_back((end, offsets));
        }
    }

    /// The journal offset the newest pending batch ends at.
    pub(super) fn last_end(&self) -> Option<u64> {
        lock(&self.batches).back().map(|(end, _)| *end)
    }

    /// Partitions revoked since the last call.
    pub(super) fn take_revoked(&self) -> HashSet<Partition> {
        std::mem::take(&mut *lock(&self.revoked))
    }

    /// Commits (asynchronously: librdkafka finishes outstanding commits before a rebalance or
    /// close goes on) every pending batch the outputs hold.
    pub(super) fn commit_held<C: ConsumerContext, K: Consumer<C>>(&self, consumer: &K) {
        let mut batches = lock(&self.batches);
        let held = self.ctx.held();
        let mut offsets = Offsets::new();
        while batches.front().is_some_and(|(end, _)| *end <= held) {
            if let Some((_, batch)) = batches.pop_front() {
                for (partition, next) in batch {
                    let entry = offsets.entry(partition).or_insert(next);
                    *entry = (*entry).max(next);
                }
            }
        }
        // Committed under the lock, so a revocation cannot strip a partition between the
        // decision and the commit.
        commit(consumer, &self.ctx.name, &offsets);
    }

    /// Forgets every pending batch (at shutdown, after the last commit: what is not held by then
    /// is read again by the partitions' next owner).
    pub(super) fn clear(&self) {
        lock(&self.batches).clear();
    }

    /// The group takes `partitions` away: commit what is held, then forget their offsets.
    fn revoke(&self, consumer: &BaseConsumer<GroupContext>, partitions: &TopicPartitionList) {
        let revoked: HashSet<Partition> =
            partitions.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect();
        if consumer.assignment_lost() {
            // Another member may own them already; a commit would be refused or, worse, rewind it.
            tracing::warn!(input = %self.ctx.name, partitions = revoked.len(), "Kafka partitions lost; their uncommitted messages will be read again");
        } else {
            // No waiting for the outputs here: this runs inside the consumer's poll, on the
            // runtime. What they hold a moment later is read again by the next owner.
            self.commit_held(consumer);
        }
        for (_, offsets) in lock(&self.batches).iter_mut() {
            offsets.retain(|p, _| !revoked.contains(p));
        }
        tracing::info!(input = %self.ctx.name, partitions = ?sorted(&revoked), "Kafka partitions revoked");
        lock(&self.revoked).extend(revoked);
    }
}

/// Commits `offsets` without waiting for the broker's answer (failures are logged by
/// [`GroupContext::commit_callback`]).
fn commit<C: ConsumerContext, K: Consumer<C>>(consumer: &K, input: &str, offsets: &Offsets) {
    if offsets.is_empty() {
        return;
    }
    let mut list = TopicPartitionList::with_capacity(offsets.len());
    for ((topic, partition), next) in offsets {
        if let Err(e) = list.add_partition_offset(topic, *partition, Offset::Offset(*next)) {
            tracing::warn!(input, topic, partition, error = %e, "cannot list a Kafka offset to commit");
        }
    }
    if let Err(e) = consumer.commit(&list, CommitMode::Async) {
        tracing::warn!(input, error = %e, "cannot commit Kafka offsets; the next commit on those partitions covers them");
    }
}

fn sorted(partitions: &HashSet<Partition>) -> Vec<String> {
    let mut out: Vec<String> = partitions.iter().map(|(t, p)| format!("{t}[{p}]")).collect();
    out.sort();
    out
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data stays consistent at every step, so a panic elsewhere does not spoil it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Commits pending batches as the outputs come to hold them. `ends` carries the journal offset of
/// each batch as it is journaled; it is bounded, so the consume loop waits when too many batches
/// are journaled but not yet held.
pub(super) async fn commit_task<C, K>(consumer: Arc<K>, pending: Arc<Pending>, mut ends: mpsc::Receiver<u64>)
where
    C: ConsumerContext,
    K: Consumer<C> + Send + Sync,
{
    while let Some(end) = ends.recv().await {
        if !pending.ctx.wait_held(end).await {
            return;
        }
        // Every batch held by now goes with this commit; the ends of those after this one then
        // find nothing left to commit.
        pending.commit_held(consumer.as_ref());
    }
}

/// librdkafka's callbacks: logging through `tracing`, and the rebalance hook.
#[derive(Debug)]
pub(super) struct GroupContext {
    pub pending: Arc<Pending>,
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let input = &self.pending.ctx.name;
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                tracing::error!(input, facility, "librdkafka: {message}");
            }
            RDKafkaLogLevel::Warning => tracing::warn!(input, facility, "librdkafka: {message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => tracing::info!(input, facility, "librdkafka: {message}"),
            RDKafkaLogLevel::Debug => tracing::debug!(input, facility, "librdkafka: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Mostly brokers going away; librdkafka reconnects by itself.
        tracing::warn!(input = %self.pending.ctx.name, error = %error, "Kafka: {reason}");
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(partitions) => self.pending.revoke(consumer, partitions),
            Rebalance::Assign(partitions) => {
                let assigned = partitions.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect();
                tracing::info!(input = %self.pending.ctx.name, partitions = ?sorted(&assigned), "Kafka partitions assigned");
            }
            Rebalance::Error(e) => tracing::warn!(input = %self.pending.ctx.name, error = %e, "Kafka rebalance failed"),
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => {
                tracing::debug!(input = %self.pending.ctx.name, partitions = offsets.count(), "Kafka offsets committed")
            }
            Err(e) => {
                tracing::warn!(input = %self.pending.ctx.name, error = %e, "Kafka offset commit failed; the messages may be read again")
            }
        }
    }
}
