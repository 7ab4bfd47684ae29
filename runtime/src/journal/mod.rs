//! The durable journal: where an acknowledged event lives until every output has it.
//!
//! Inputs append a record (one ingest request's events) and are answered only after the record
//! is on disk (`fdatasync`); appends that arrive together share one sync (group commit). The
//! topology reads records back in order, and outputs report how far they have durably taken them;
//! segments wholly below that point are deleted.
//!
//! Why hand-written rather than a crate: the contract is small and specific (one writer thread,
//! one sequential reader, offsets shared with the store's own commit record), and the available
//! write-ahead-log crates bring their own recovery and checkpoint models that would duplicate the
//! store's.
//!
//! On disk: `journal/<base offset>.log` segments; each record is `len: u32 LE`, `crc32: u32 LE`,
//! then `len` bytes of postcard-encoded [`JournalEvent`]s. An offset is a byte position in the
//! concatenation of all segments. A torn record at the tail (a crash mid-write, never acknowledged)
//! is cut off when the journal is opened.

mod reader;
mod segment;
mod writer;

use serde::{Deserialize, Serialize};

pub use reader::{Entry, JournalReader, release};
pub use writer::{Appender, JournalWriter};

/// One event as journaled: what the input received, before any processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEvent {
    pub id: String,
    pub received_ns: i64,
    pub input: String,
    pub raw: String,
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

/// Encodes one record (header and payload) ready to append. Done by the caller, off the writer
/// thread, so encoding scales with the request handlers.
pub fn encode_record(events: &[JournalEvent]) -> Vec<u8> {
    let header = vec![0u8; segment::HEADER];
    // Serializing owned strings and integers into a growable Vec cannot fail.
    let mut record = postcard::to_extend(events, header).expect("postcard into a Vec is infallible");
    let payload_len = (record.len() - segment::HEADER) as u32;
    let crc = crc32fast::hash(&record[segment::HEADER..]);
    record[..4].copy_from_slice(&payload_len.to_le_bytes());
    record[4..8].copy_from_slice(&crc.to_le_bytes());
    record
}

#[cfg(test)]
mod tests;
