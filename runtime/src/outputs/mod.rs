//! Where processed batches go: the embedded store ([`libsql`]), PostgreSQL ([`postgres`]), Kafka
//! ([`kafka`]) and the live stream ([`websocket`]).
//!
//! A durable output reports the journal offset it has committed; the journal is released only
//! behind every durable output. The live stream is best-effort by nature (a slow client skips
//! ahead) and never holds the pipeline back.

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod libsql;
#[cfg(any(feature = "kafka", feature = "postgres"))]
mod offset_file;
mod offsets;
pub mod overflow;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sessions;
pub mod sink;
pub mod webhook;
pub mod websocket;

pub use offsets::Offsets;

use crate::event::{DeadLetter, Event, Signal};
use crate::wasm::StateWrite;

/// One processed batch, as every output receives it.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Batch {
    /// Journal offset just past the last record this batch was made from.
    pub end_offset: u64,
    /// Events that came out of the last stage.
    pub events: Vec<Event>,
    /// Events a stage could not process.
    pub dead_letters: Vec<DeadLetter>,
    /// Guest state written while processing this batch.
    pub state: Vec<StateWrite>,
    /// What the stages reported besides their outcomes (alerts, pattern changes, insights).
    pub signals: Vec<Signal>,
    /// Whether the events go into the store's `logs` (the pipeline has a `libsql` output); dead
    /// letters and state always do.
    pub store_events: bool,
    /// Made by an idle tick rather than from the journal: it carries no events, only the state
    /// writes and signals of the stages' tick calls. It is never "already held" by an output, and
    /// it moves no output's offset.
    pub tick: bool,
}

impl Batch {
    /// Whether an output that has committed up to `committed` already holds this batch (and so
    /// skips it whole).
    pub fn already_held(&self, committed: u64) -> bool {
        !self.tick && self.end_offset <= committed
    }
}
