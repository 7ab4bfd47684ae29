//! Checkpoints on a thread of their own, so the writer only ever appends to the WAL.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on the
//! writer's thread: every page is then written a second time (into the database file) and synced
//! while the next batch waits. Here the writer turns that off ([`WRITER_PRAGMAS`]) and this thread
//! copies the WAL back with `PASSIVE` checkpoints, which never block the writer or readers, in
//! parallel with the next commits. A page changed by many commits between two checkpoints (an
//! index's last leaf, the table's last page) is copied once, not once per commit.
//!
//! Bound: a `PASSIVE` checkpoint cannot pass a reader that is still using an old snapshot, so a
//! long query could let the WAL grow. Past [`WAL_LIMIT_FRAMES`] this thread asks for a `RESTART`
//! checkpoint, which waits (under the connection's busy timeout) for those readers and then lets
//! the writer start the WAL file over, so its size stays bounded whatever the readers do.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use libsql::Connection;

use super::StoreError;

/// What the writer's connection sets so that only this thread checkpoints.
pub(super) const WRITER_PRAGMAS: &[&str] = &["PRAGMA wal_autocheckpoint = 0"];

/// How often the WAL is copied back while data keeps coming.
const EVERY: Duration = Duration::from_millis(250);
/// WAL frames (pages) past which the checkpoint waits for readers rather than pass them: about
/// 256 MiB with 4 KiB pages.
const WAL_LIMIT_FRAMES: i64 = 65_536;
/// What the WAL file is cut back to after a checkpoint that emptied it.
const WAL_KEEP_BYTES: u64 = 64 * 1024 * 1024;

/// The running checkpoint thread; stops when dropped.
#[derive(Debug)]
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on its own connection.
    pub(super) fn start(conn: Connection) -> std::io::Result<Checkpointer> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("store-checkpoint".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "the store's checkpoint thread cannot start its runtime");
                    return;
                }
            };
            rt.block_on(run(conn, flag));
        })?;
        Ok(Checkpointer { stop, thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the store's checkpoint thread panicked");
        }
    }
}

async fn run(conn: Connection, stop: Arc<AtomicBool>) {
    if let Err(e) = pragma(&conn, &format!("PRAGMA journal_size_limit = {WAL_KEEP_BYTES}")).await {
        tracing::warn!(error = %e, "cannot limit the WAL file's size after checkpoints");
    }
    let mut mode = "PASSIVE";
    loop {
        // The last round runs after the stop, so what the writer committed last is copied too.
        let stopping = stop.load(Ordering::Relaxed);
        match checkpoint(&conn, mode).await {
            Ok((wal, copied)) => {
                mode = if wal - copied > WAL_LIMIT_FRAMES { "RESTART" } else { "PASSIVE" };
            }
            Err(e) => tracing::warn!(error = %e, "store checkpoint failed; retrying"),
        }
        if stopping {
            return;
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Runs one checkpoint; returns the WAL's frames and how many of them are now in the database.
async fn checkpoint(conn: &Connection, mode: &str) -> Result<(i64, i64), StoreError> {
    let mut rows = conn.query(&format!("PRAGMA wal_checkpoint({mode})"), ()).await?;
    let Some(row) = rows.next().await? else { return Ok((0, 0)) };
    Ok((row.get::<i64>(1)?.max(0), row.get::<i64>(2)?.max(0)))
}

async fn pragma(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    let mut rows = conn.query(sql, ()).await?;
    while rows.next().await?.is_some() {}
    Ok(())
}
