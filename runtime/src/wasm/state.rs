//! The host-owned key-value state of one stage.
//!
//! Guests keep what must outlive an instance here (the miner's patterns, say). Reads and writes
//! go to memory; the writes of each batch are handed to the store with that batch and committed
//! in the same transaction, so state and stored events never disagree after a crash.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::event::{Signal, SignalKind};

/// Most signals one stage may emit between two batches; more are refused (the guest is told).
pub const MAX_SIGNALS_PER_BATCH: usize = 4096;

/// Largest signal body, in bytes.
pub const MAX_SIGNAL_BYTES: usize = 64 * 1024;

/// Bounds on what one stage may keep.
#[derive(Debug, Clone, Copy)]
pub struct StateLimits {
    pub max_key_bytes: u32,
    pub max_value_bytes: u32,
    pub quota_bytes: u64,
}

impl StateLimits {
    pub fn with_quota_mib(mib: u32) -> Self {
        StateLimits { max_key_bytes: 1024, max_value_bytes: 1024 * 1024, quota_bytes: u64::from(mib) * 1024 * 1024 }
    }
}

/// Why a write was refused; mirrors the WIT `state-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateError {
    KeyTooLong(u32),
    ValueTooLarge(u32),
    QuotaExceeded(u64),
}

/// One pending change: a value to set, or `None` to delete.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateWrite {
    pub stage: String,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// A stage's state, shared by its instances (one at a time) and the topology.
#[derive(Debug)]
pub struct GuestState {
    stage: String,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Under the lock so a reload can change the quota of state in use.
    limits: StateLimits,
    values: BTreeMap<String, Vec<u8>>,
    dirty: BTreeMap<String, Option<Vec<u8>>>,
    bytes: u64,
    /// Signals emitted since the last batch was handed on.
    signals: Vec<Signal>,
    /// Whether signals are kept: a snapshot (trial run, canary) drops them, as it drops writes.
    keeps_signals: bool,
}

fn entry_bytes(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

impl GuestState {
    /// State loaded from the store.
    pub fn new(stage: &str, limits: StateLimits, entries: Vec<(String, Vec<u8>)>) -> Self {
        let bytes = entries.iter().map(|(k, v)| entry_bytes(k, v)).sum();
        let values = entries.into_iter().collect();
        GuestState {
            stage: stage.to_string(),
            inner: Mutex::new(Inner {
                limits,
                values,
                dirty: BTreeMap::new(),
                bytes,
                signals: Vec::new(),
                keeps_signals: true,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the map half-updated (each operation is a
        // single insert or remove), so a poisoned lock is still safe to use.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.lock().values.get(key).cloned()
    }

    /// Changes the bounds (a reload that changed `state_mib`); existing entries stay even if the
    /// new quota is smaller, but no write may grow the state past it.
    pub fn set_limits(&self, limits: StateLimits) {
        self.lock().limits = limits;
    }

    pub fn set(&self, key: String, value: Vec<u8>) -> Result<(), StateError> {
        let mut inner = self.lock();
        let limits = inner.limits;
        if key.len() > limits.max_key_bytes as usize {
            return Err(StateError::KeyTooLong(limits.max_key_bytes));
        }
        if value.len() > limits.max_value_bytes as usize {
            return Err(StateError::ValueTooLarge(limits.max_value_bytes));
        }
        let old = inner.values.get(&key).map_or(0, |v| entry_bytes(&key, v));
        let new_total = inner.bytes - old + entry_bytes(&key, &value);
        if new_total > limits.quota_bytes {
            return Err(StateError::QuotaExceeded(limits.quota_bytes));
        }
        inner.bytes = new_total;
        inner.dirty.insert(key.clone(), Some(value.clone()));
        inner.values.insert(key, value);
        Ok(())
    }

    pub fn delete(&self, key: &str) {
        let mut inner = self.lock();
        if let Some(old) = inner.values.remove(key) {
            inner.bytes -= entry_bytes(key, &old);
            inner.dirty.insert(key.to_string(), None);
        }
    }

    /// Entries whose key starts with `prefix`, in key order.
    pub fn scan(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        self.lock()
            .values
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// An independent copy of the current values, for a trial run or a canary: its writes never
    /// reach the store.
    pub fn snapshot(&self) -> GuestState {
        let inner = self.lock();
        GuestState {
            stage: self.stage.clone(),
            inner: Mutex::new(Inner {
                limits: inner.limits,
                values: inner.values.clone(),
                dirty: BTreeMap::new(),
                bytes: inner.bytes,
                signals: Vec::new(),
                keeps_signals: false,
            }),
        }
    }

    /// Queues a signal emitted at `now_ns` (the pipeline clock); refused (`false`) when `body` is
    /// not a JSON object, is too large, or the stage has emitted too many since the last batch.
    pub fn emit(&self, kind: SignalKind, body: &str, now_ns: i64) -> bool {
        if body.len() > MAX_SIGNAL_BYTES {
            return false;
        }
        let Ok(serde_json::Value::Object(body)) = serde_json::from_str(body) else {
            return false;
        };
        let mut inner = self.lock();
        if inner.signals.len() >= MAX_SIGNALS_PER_BATCH {
            return false;
        }
        if inner.keeps_signals {
            inner.signals.push(Signal { stage: self.stage.clone(), kind, body, emitted_ns: now_ns });
        }
        true
    }

    /// Takes the signals emitted since the last call, to be handed on with the current batch.
    pub fn take_signals(&self) -> Vec<Signal> {
        std::mem::take(&mut self.lock().signals)
    }

    /// Takes the writes made since the last call, to be committed with the current batch.
    pub fn take_writes(&self) -> Vec<StateWrite> {
        let dirty = std::mem::take(&mut self.lock().dirty);
        dirty.into_iter().map(|(key, value)| StateWrite { stage: self.stage.clone(), key, value }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_bounded_and_tracked() {
        let limits = StateLimits { max_key_bytes: 4, max_value_bytes: 8, quota_bytes: 20 };
        let s = GuestState::new("mine", limits, vec![("p/a".into(), b"1".to_vec())]);
        assert_eq!(s.set("toolong".into(), vec![]), Err(StateError::KeyTooLong(4)));
        assert_eq!(s.set("k".into(), vec![0; 9]), Err(StateError::ValueTooLarge(8)));
        assert_eq!(s.set("p/b".into(), vec![1; 8]), Ok(()));
        assert_eq!(s.set("p/c".into(), vec![1; 8]), Err(StateError::QuotaExceeded(20)));
        s.delete("p/a");
        assert_eq!(s.scan("p/"), vec![("p/b".to_string(), vec![1; 8])]);
        let writes = s.take_writes();
        assert_eq!(writes.len(), 2);
        assert_eq!(writes[0], StateWrite { stage: "mine".into(), key: "p/a".into(), value: None });
        assert!(s.take_writes().is_empty());
    }
}
