//! The durable journal: where an acknowledged event lives until every output has it.
//!
//! Inputs append a record (one ingest request's events) and are answered only after the record
//! is on disk (`fdatasync`); appends that arrive together share one sync (group commit). Under
//! [`Ack::Written`] they are answered once the record is written to the file (the operating
//! system has it, so it survives the process being killed) and a timer syncs it soon after. The
//! topology reads records back in order, and outputs report how far they have durably taken them;
//! segments wholly below that point are deleted.
//!
//! Why hand-written rather than a crate: the contract is small and specific (one writer thread,
//! one sequential reader, offsets shared with the store's own commit record), and the available
//! write-ahead-log crates bring their own recovery and checkpoint models that would duplicate the
//! store's.
//!
//! On disk: `journal/<base offset>.log` segments; each record is `len: u32 LE`, `crc32: u32 LE`,
//! then `len` bytes of postcard-encoded [`JournalEvent`]s, sealed by [`JournalCipher`] when the
//! store is encrypted. An offset is a byte position in the
//! concatenation of all segments. A torn record at the tail (a crash mid-write, never acknowledged)
//! is cut off when the journal is opened.

mod cipher;
mod reader;
mod segment;
mod writer;

use serde::{Deserialize, Serialize};

pub use cipher::JournalCipher;
pub use reader::{Entry, JournalReader, release};
pub use writer::{Appender, JournalWriter, SYNC_EVERY};

/// When an append is acknowledged, and so what an acknowledgement survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Ack {
    /// Once the record is synced to disk (`fdatasync`, shared by concurrent appends): survives
    /// `kill -9` and a power cut.
    #[default]
    Synced,
    /// Once the record is written to the journal file; it is synced within [`SYNC_EVERY`].
    /// Survives `kill -9` of Sluice (the kernel holds the data), not a power cut or a kernel
    /// crash in that window.
    Written,
}

/// One event as journaled: what the input received, before any processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEvent {
    pub id: String,
    pub received_ns: i64,
    pub input: String,
    pub raw: String,
    /// The topic, subject or routing key it arrived on, when the transport has one.
    pub topic: Option<String>,
    /// The session it belongs to, when the transport says (seed 003's routing key
    /// `logs.session.{id}`); a parsing stage keeps it unless the record names another.
    pub session_id: Option<String>,
    /// Set when the input could not accept the message (garbage, invalid UTF-8, too large): the
    /// reason it is dead-lettered with instead of being processed.
    pub rejected: Option<String>,
}

/// Why the journal could not take or give back events.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal I/O error in {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("journal record at offset {offset} is corrupt: {reason}")]
    Corrupt { offset: u64, reason: String },
    #[error("the journal is shutting down")]
    Closed,
}

impl JournalError {
    fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        JournalError::Io { path: path.display().to_string(), source }
    }
}

/// Encodes one record (header and payload) ready to append. Without a cipher the payload is
/// serialized once, straight into the record's one allocation, sized up front.
fn encode_record(events: &[JournalEvent], cipher: Option<&JournalCipher>) -> Vec<u8> {
    let estimate = segment::HEADER
        + events
            .iter()
            .map(|e| {
                // Strings, their length prefixes and the integers, generously.
                e.id.len()
                    + e.input.len()
                    + e.raw.len()
                    + e.topic.as_ref().map_or(0, String::len)
                    + e.session_id.as_ref().map_or(0, String::len)
                    + e.rejected.as_ref().map_or(0, String::len)
                    + 48
            })
            .sum::<usize>();
    let mut record = Vec::with_capacity(estimate);
    record.resize(segment::HEADER, 0);
    // Serializing owned strings and integers into a growable Vec cannot fail.
    let mut record = postcard::to_extend(events, record).expect("postcard into a Vec is infallible");
    if let Some(cipher) = cipher {
        let sealed = cipher.seal(&record[segment::HEADER..]);
        record.truncate(segment::HEADER);
        record.extend_from_slice(&sealed);
    }
    let payload_len = record.len() - segment::HEADER;
    let crc = crc32fast::hash(&record[segment::HEADER..]);
    record[..4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    record[4..8].copy_from_slice(&crc.to_le_bytes());
    record
}

#[cfg(test)]
mod tests;
