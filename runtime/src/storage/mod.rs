//! The embedded libSQL store: logs, patterns, dead letters, guest state and the journal offset it
//! has committed up to. Encrypted at rest when a key is given.
//!
//! One writer connection (owned by the store output's thread) and one shared reader connection
//! for queries; WAL mode lets them work side by side. This module must never be written to from
//! anywhere but [`writer::StoreWriter`], so the offset in `meta` always matches the data.

mod migrate;
pub mod query;
pub mod signals;
pub mod timeline;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use libsql::{Builder, Cipher, Connection, Database, EncryptionConfig};

pub use writer::StoreWriter;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("store migration {version} failed: {source}")]
    Migration {
        version: u32,
        #[source]
        source: libsql::Error,
    },
    #[error("store query failed: {0}")]
    Sql(#[from] libsql::Error),
    #[error("invalid query: {0}")]
    BadQuery(String),
}

/// The open store.
#[derive(Clone)]
pub struct Store {
    db: std::sync::Arc<Database>,
    reader: Connection,
    path: PathBuf,
    /// Each connection's page cache.
    cache_kib: u32,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating and migrating if needed) the database at `path`. With `key`, the file is
    /// encrypted (AES-256) and holds no plaintext; opening an encrypted file without the right
    /// key fails here rather than on the first query. Each connection (the writer, the reader)
    /// keeps a page cache of up to `cache_mib` MiB.
    pub async fn open(path: &Path, key: Option<&[u8]>, cache_mib: u32) -> Result<Store, StoreError> {
        let open_err = |message: String| StoreError::Open { path: path.to_path_buf(), message };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        }
        let mut builder = Builder::new_local(path);
        if let Some(key) = key {
            builder =
                builder.encryption_config(EncryptionConfig::new(Cipher::Aes256Cbc, bytes::Bytes::copy_from_slice(key)));
        }
        let db = builder.build().await.map_err(|e| open_err(e.to_string()))?;
        let cache_kib = cache_mib.max(1).saturating_mul(1024);
        let writer = connect(&db, cache_kib).await.map_err(|e| open_err(format!("{e} (wrong or missing key?)")))?;
        migrate::run(&writer).await?;
        drop(writer);
        let reader = connect(&db, cache_kib).await.map_err(|e| open_err(e.to_string()))?;
        Ok(Store { db: std::sync::Arc::new(db), reader, path: path.to_path_buf(), cache_kib })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection for queries (reads only).
    pub fn reader(&self) -> &Connection {
        &self.reader
    }

    /// A new connection for the single writer.
    pub async fn writer(&self) -> Result<StoreWriter, StoreError> {
        Ok(StoreWriter::new(connect(&self.db, self.cache_kib).await?))
    }

    /// How far into the journal the store has committed.
    pub async fn committed_offset(&self) -> Result<u64, StoreError> {
        let mut rows = self.reader.query("SELECT value FROM meta WHERE key = 'journal_offset'", ()).await?;
        match rows.next().await? {
            Some(row) => Ok(row.get::<String>(0)?.parse().unwrap_or(0)),
            None => Ok(0),
        }
    }

    /// A stage's saved state.
    pub async fn load_state(&self, stage: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut rows =
            self.reader.query("SELECT key, value FROM guest_state WHERE stage = ?1 ORDER BY key", [stage]).await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push((row.get::<String>(0)?, row.get::<Vec<u8>>(1)?));
        }
        Ok(out)
    }

    /// A trivial round trip, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut rows = self.reader.query("SELECT 1", ()).await?;
        rows.next().await?;
        Ok(())
    }
}

async fn connect(db: &Database, cache_kib: u32) -> Result<Connection, StoreError> {
    let conn = db.connect()?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // WAL lets queries run beside the writer; FULL makes each commit durable on its own, since the
    // journal is released as soon as the store says it has the data. A negative cache size is in
    // KiB rather than pages.
    let cache = format!("PRAGMA cache_size = -{cache_kib}");
    for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", cache.as_str()] {
        let mut rows = conn.query(pragma, ()).await?;
        while rows.next().await?.is_some() {}
    }
    Ok(conn)
}
