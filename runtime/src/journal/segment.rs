//! Segment files: naming, listing and validating the records they hold.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::JournalError;

/// Bytes before a record's payload: length and CRC-32.
pub const HEADER: usize = 8;
/// Largest payload accepted back when reading; anything larger is corruption, not data.
pub const MAX_RECORD: u32 = 1 << 30;

pub fn path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

/// Base offsets of the segments in `dir`, ascending.
pub fn list(dir: &Path) -> Result<Vec<u64>, JournalError> {
    let mut bases = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| JournalError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(base) = name.strip_suffix(".log").and_then(|b| b.parse::<u64>().ok()) {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Reads one record's payload, or `None` at a clean end of data or a torn tail.
pub fn read_record(reader: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; HEADER];
    if !read_full(reader, &mut header)? {
        return Ok(None);
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_RECORD {
        return Ok(None);
    }
    let mut payload = vec![0u8; len as usize];
    if !read_full(reader, &mut payload)? || crc32fast::hash(&payload) != crc {
        return Ok(None);
    }
    Ok(Some(payload))
}

/// Fills `buf`; false if the data ends first.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => return Ok(false),
            n => filled += n,
        }
    }
    Ok(true)
}

/// Length of the valid prefix of a segment: everything up to the first torn or corrupt record.
pub fn valid_len(path: &Path) -> Result<u64, JournalError> {
    let file = File::open(path).map_err(|e| JournalError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut len = 0u64;
    while let Some(payload) = read_record(&mut reader).map_err(|e| JournalError::io(path, e))? {
        len += (HEADER + payload.len()) as u64;
    }
    Ok(len)
}
