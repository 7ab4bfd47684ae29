//! The embedded libSQL store: logs, patterns, dead letters, guest state and the journal offset it
//! has committed up to. Encrypted at rest when a key is given.
//!
//! One writer connection (owned by the store output's thread); a small pool of reader
//! connections on threads of their own for the API's queries, each under a time limit
//! ([`readers`]); one more reader for the volume counts behind the timeline ([`volume`]); and one
//! for start-up lookups and health checks. WAL mode lets them work side by side. This module must
//! never be written to from anywhere but [`writer::StoreWriter`], so the offset in `meta` always
//! matches the data.

mod checkpoint;
mod migrate;
pub mod query;
pub mod readers;
pub mod signals;
pub mod timeline;
pub mod volume;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use libsql::{Builder, Cipher, Connection, Database, EncryptionConfig};
use tokio::sync::Semaphore;

pub use readers::QueryLimits;
pub use writer::{EncodedRows, StoreWriter};

use readers::Readers;
use volume::Volume;

/// The writer's page cache is this many times a reader's: every batch's inserts walk the right
/// edges of the `logs` table and its indexes, and each page missed is a read from the WAL or the
/// file. Measured under batched ingest: 8 × 2 MiB cut the writer's CPU per event by 18%.
const WRITER_CACHE_FACTOR: u32 = 8;

/// Longest `/health/db` waits for its round trip.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

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
    /// Every reader stayed busy for as long as a request may wait.
    #[error("all {readers} store readers are busy (waited {waited:?})")]
    Busy { readers: usize, waited: Duration },
    /// The query ran past its time limit and was interrupted.
    #[error("the query ran longer than its limit of {0:?} and was stopped")]
    TimedOut(Duration),
    /// The reader pool has stopped.
    #[error("the store's readers have stopped")]
    Closed,
}

/// The open store.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    /// For start-up lookups ([`Store::committed_offset`], [`Store::load_state`]) and pings.
    reader: Connection,
    /// The API's queries.
    readers: Readers,
    /// Counts behind the timeline.
    volume: Arc<Volume>,
    /// One ping at a time, even if one hangs.
    ping_gate: Arc<Semaphore>,
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
    /// key fails here rather than on the first query. Each connection (the writer, the readers)
    /// keeps a page cache of up to `cache_mib` MiB. The reader pool's limits come from the
    /// environment ([`QueryLimits::from_env`]).
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
        let reader = connect_reader(&db, cache_kib).await.map_err(|e| open_err(e.to_string()))?;
        let limits = QueryLimits::from_env();
        let mut pool = Vec::with_capacity(limits.readers);
        for _ in 0..limits.readers {
            pool.push(connect_reader(&db, cache_kib).await.map_err(|e| open_err(e.to_string()))?);
        }
        let readers = Readers::start(pool, limits).map_err(|e| open_err(e.to_string()))?;
        let volume = Arc::new(Volume::default());
        let counter = connect_reader(&db, cache_kib).await.map_err(|e| open_err(e.to_string()))?;
        Volume::follow(&volume, counter).map_err(|e| open_err(e.to_string()))?;
        Ok(Store {
            db: Arc::new(db),
            reader,
            readers,
            volume,
            ping_gate: Arc::new(Semaphore::new(1)),
            path: path.to_path_buf(),
            cache_kib,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A connection for short lookups (reads only). The API's queries go through the reader
    /// pool instead.
    pub fn reader(&self) -> &Connection {
        &self.reader
    }

    /// The reader pool's limits.
    pub fn query_limits(&self) -> QueryLimits {
        self.readers.limits()
    }

    /// Changes the API queries' time limit, how long a request waits for a reader, and how many
    /// rows a history query examines (the number of readers is fixed at start).
    pub fn set_query_limits(&self, timeout: Duration, wait: Duration, scan_rows: u64) {
        self.readers.set_limits(timeout, wait, scan_rows);
    }

    /// A new connection for the single writer.
    /// With it comes the thread that checkpoints what it writes ([`checkpoint`]), on a connection
    /// of its own; it stops when the writer is dropped.
    pub async fn writer(&self) -> Result<StoreWriter, StoreError> {
        let conn = connect(&self.db, self.cache_kib.saturating_mul(WRITER_CACHE_FACTOR)).await?;
        for pragma in checkpoint::WRITER_PRAGMAS {
            let mut rows = conn.query(pragma, ()).await?;
            while rows.next().await?.is_some() {}
        }
        let checkpointer = checkpoint::Checkpointer::start(connect(&self.db, self.cache_kib).await?)
            .map_err(|e| StoreError::Open { path: self.path.clone(), message: e.to_string() })?;
        Ok(StoreWriter::new(conn, checkpointer))
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

    /// A round trip that reads the database, for health checks. It runs on a blocking thread
    /// (never on the request runtime), one at a time, and gives up after [`PING_TIMEOUT`].
    pub async fn ping(&self) -> Result<(), StoreError> {
        let ping = async {
            let permit = self.ping_gate.clone().acquire_owned().await.map_err(|_| StoreError::Closed)?;
            let conn = self.reader.clone();
            let runtime = tokio::runtime::Handle::current();
            let task = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                runtime.block_on(async {
                    let mut rows = conn.query("SELECT count(*) FROM meta", ()).await?;
                    rows.next().await?;
                    Ok::<(), StoreError>(())
                })
            });
            task.await.map_err(|_| StoreError::Closed)?
        };
        tokio::time::timeout(PING_TIMEOUT, ping).await.map_err(|_| StoreError::TimedOut(PING_TIMEOUT))?
    }
}

/// A connection for queries: as [`connect`], refusing writes.
async fn connect_reader(db: &Database, cache_kib: u32) -> Result<Connection, StoreError> {
    let conn = connect(db, cache_kib).await?;
    conn.execute("PRAGMA query_only = ON", ()).await?;
    Ok(conn)
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
