//! The sequential reader the topology drains, and segment clean-up behind the outputs.

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{JournalCipher, JournalError, JournalEvent, segment};

/// One record read back: its events and the offset just past it.
#[derive(Debug)]
pub struct Entry {
    pub end_offset: u64,
    pub events: Vec<JournalEvent>,
}

/// Reads records in order from a starting offset, never past what the writer made durable.
#[derive(Debug)]
pub struct JournalReader {
    dir: PathBuf,
    position: u64,
    open: Option<(u64, BufReader<File>)>,
    cipher: Option<JournalCipher>,
}

impl JournalReader {
    pub fn new(dir: &Path, position: u64, cipher: Option<JournalCipher>) -> Self {
        JournalReader { dir: dir.to_path_buf(), position, open: None, cipher }
    }

    /// The offset of the next record to read.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Moves to `position`, which must be the start of a record (an offset some output committed).
    pub fn seek(&mut self, position: u64) {
        self.position = position;
        self.open = None;
    }

    /// Where the oldest segment still on disk starts, if there is one.
    pub fn first_offset(&self) -> Result<Option<u64>, JournalError> {
        Ok(segment::list(&self.dir)?.first().copied())
    }

    /// Reads whole records while they lie below `durable`, stopping once `max_events` is reached
    /// (a record is never split, so a batch can exceed it by one record).
    pub fn read(&mut self, durable: u64, max_events: usize) -> Result<Vec<Entry>, JournalError> {
        let mut entries = Vec::new();
        let mut count = 0;
        while self.position < durable && count < max_events {
            let Some(entry) = self.next_entry()? else { break };
            count += entry.events.len();
            entries.push(entry);
        }
        Ok(entries)
    }

    fn next_entry(&mut self) -> Result<Option<Entry>, JournalError> {
        loop {
            let Some((base, reader)) = &mut self.open else {
                let Some(base) = self.segment_for(self.position)? else { return Ok(None) };
                let path = segment::path(&self.dir, base);
                let mut file = File::open(&path).map_err(|e| JournalError::io(&path, e))?;
                file.seek(SeekFrom::Start(self.position - base)).map_err(|e| JournalError::io(&path, e))?;
                self.open = Some((base, BufReader::with_capacity(256 * 1024, file)));
                continue;
            };
            let base = *base;
            let path = segment::path(&self.dir, base);
            if let Some(payload) = segment::read_record(reader).map_err(|e| JournalError::io(&path, e))? {
                let record_len = (segment::HEADER + payload.len()) as u64;
                let payload = match &self.cipher {
                    Some(cipher) => cipher.open(&payload).ok_or_else(|| JournalError::Corrupt {
                        offset: self.position,
                        reason: "cannot decrypt the record (wrong key, or written without one)".into(),
                    })?,
                    None => payload,
                };
                let events: Vec<JournalEvent> = postcard::from_bytes(&payload)
                    .map_err(|e| JournalError::Corrupt { offset: self.position, reason: e.to_string() })?;
                self.position += record_len;
                return Ok(Some(Entry { end_offset: self.position, events }));
            }
            // The callers only read below the durable point, so running out of data here means the
            // writer rolled over to a segment that starts at our position.
            self.open = None;
            if self.segment_for(self.position)? == Some(base) {
                return Err(JournalError::Corrupt {
                    offset: self.position,
                    reason: "segment ends before the durable offset".into(),
                });
            }
        }
    }

    fn segment_for(&self, position: u64) -> Result<Option<u64>, JournalError> {
        Ok(segment::list(&self.dir)?.into_iter().rev().find(|&b| b <= position))
    }
}

/// Deletes every segment whose records all lie below `offset` (every output holds them).
pub fn release(dir: &Path, offset: u64) -> Result<usize, JournalError> {
    let bases = segment::list(dir)?;
    let mut removed = 0;
    for pair in bases.windows(2) {
        if pair[1] <= offset {
            let path = segment::path(dir, pair[0]);
            std::fs::remove_file(&path).map_err(|e| JournalError::io(&path, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}
