//! An output's committed journal offset kept in a file of the data directory
//! (`outputs/<name>.offset`): the Kafka output's only record of where it stands, and the
//! PostgreSQL output's local copy of the offset it keeps in the database, so it can say where it
//! starts while the database is unreachable.
//!
//! The file holds `N` (everything below journal offset `N` is committed) or, for an output that
//! commits elsewhere, `N+` while a commit past `N` is in flight: whether it landed is then only
//! known to the far end.

use std::path::{Path, PathBuf};

/// The file that holds output `name`'s offset.
pub fn path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("outputs").join(format!("{name}.offset"))
}

/// The offset in `path`; `None` when there is no file.
#[cfg_attr(not(feature = "kafka"), allow(dead_code))]
pub fn read(path: &Path) -> std::io::Result<Option<u64>> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("`{}`: {e}", text.trim()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// What a file records (see the module's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Everything below this offset is committed, nothing past it.
    Exact(u64),
    /// Everything below `last` is committed; a commit past it may have landed.
    InFlight { last: u64 },
}

/// What `path` records; `None` when there is no file.
pub fn read_recorded(path: &Path) -> std::io::Result<Option<Recorded>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let text = text.trim();
    let (number, in_flight) = match text.strip_suffix('+') {
        Some(number) => (number, true),
        None => (text, false),
    };
    let offset: u64 =
        number.parse().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("`{text}`: {e}")))?;
    Ok(Some(if in_flight { Recorded::InFlight { last: offset } } else { Recorded::Exact(offset) }))
}

/// Records, synced, that a commit past `last` is about to be made elsewhere.
pub async fn write_in_flight(path: &Path, last: u64) -> std::io::Result<()> {
    replace(path, format!("{last}+"), true).await
}

/// Replaces the offset file: written beside it, renamed over it, and when `sync` (an offset that
/// must not go back after a power cut) both synced; an unsynced one may come back after a power
/// cut as the previous value or unreadable.
pub async fn write(path: &Path, offset: u64, sync: bool) -> std::io::Result<()> {
    replace(path, offset.to_string(), sync).await
}

async fn replace(path: &Path, text: String, sync: bool) -> std::io::Result<()> {
    let path: PathBuf = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("offset.tmp");
        std::fs::write(&tmp, text)?;
        if sync {
            std::fs::File::open(&tmp)?.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        // The rename is durable once the directory is.
        if sync && let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_and_refuses_garbage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = path(dir.path(), "central");
        assert_eq!(read(&file).expect("read"), None);
        write(&file, 42, true).await.expect("write");
        write(&file, 4096, false).await.expect("write");
        assert_eq!(read(&file).expect("read"), Some(4096));
        assert_eq!(read_recorded(&file).expect("read"), Some(Recorded::Exact(4096)));
        write_in_flight(&file, 4096).await.expect("write");
        assert_eq!(read_recorded(&file).expect("read"), Some(Recorded::InFlight { last: 4096 }));
        std::fs::write(&file, "forty").expect("write");
        let error = read(&file).expect_err("garbage");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("`forty`"), "{error}");
        assert!(read_recorded(&file).is_err());
    }
}
