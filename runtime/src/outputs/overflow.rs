//! The queue in front of each task output (PostgreSQL, Kafka, webhooks), so that one that is
//! down or slow does not hold the pipeline back: the store, the live stream and the other outputs
//! go on, and the waiting output catches up, in order, when it can.
//!
//! A few batches wait in memory; past that they are appended to a file in the data directory
//! (`overflow/<output>-<uuid>.ndjson`, one JSON batch a line; its own file per queue, since a
//! reload may start an output again while the old one still drains) and read back in order. The
//! file is only a buffer, never a record: an event is acknowledged because the journal has it,
//! and the journal keeps it until this output commits it, so after a crash the journal replays
//! what the file held, and start-up removes what a crash left ([`clear`]). Its size is bounded (`max_bytes`); at the bound the
//! queue stops taking batches and the pipeline waits, as it would without it. Before that, the
//! journal's own bound (`journal.max_pending_mib`) answers ingest with 503.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Batch;

/// Batches held in memory before the rest go to the file.
const IN_MEMORY: usize = 4;

/// The directory of the queues' files, in the data directory.
const DIR: &str = "overflow";

/// A new queue's file for output `name`.
pub fn file_for(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join(DIR).join(format!("{name}-{}.ndjson", uuid::Uuid::now_v7().simple()))
}

/// Removes the files a previous run left (called at start, before any output runs).
pub fn clear(data_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(data_dir.join(DIR)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Starts the queue between the processor's end (`from`) and the output's task (`to`). It ends
/// once `from` is closed and everything is handed on, or when the output's task has ended.
pub fn spawn(
    output: &str,
    path: PathBuf,
    max_bytes: u64,
    from: mpsc::Receiver<Arc<Batch>>,
    to: mpsc::Sender<Arc<Batch>>,
) -> JoinHandle<()> {
    let output = output.to_string();
    tokio::spawn(async move {
        let spill = match Spill::create(path.clone()) {
            Ok(spill) => Some(spill),
            Err(e) => {
                tracing::error!(output, file = %path.display(), error = %e, "cannot create the output's overflow file; a stalled output will hold the pipeline back");
                None
            }
        };
        relay(&output, spill, max_bytes, from, to).await;
        let _ = std::fs::remove_file(&path);
    })
}

async fn relay(
    output: &str,
    mut spill: Option<Spill>,
    max_bytes: u64,
    mut from: mpsc::Receiver<Arc<Batch>>,
    to: mpsc::Sender<Arc<Batch>>,
) {
    // Oldest first: `memory`, then what is in the file, then `held` (a batch the file refused).
    let mut memory: VecDeque<Arc<Batch>> = VecDeque::new();
    let mut held: Option<Arc<Batch>> = None;
    let mut open = true;
    loop {
        let queued = spill.as_ref().map_or(0, |s| s.queued);
        if memory.is_empty() && queued > 0 {
            spill = match take_one(spill.take()).await {
                Some((s, Ok(batch))) => {
                    memory.push_back(Arc::new(batch));
                    Some(s)
                }
                Some((s, Err(e))) => {
                    // Not expected of a file this task wrote itself; the journal still holds the
                    // batches, and a restart replays them to this output.
                    tracing::error!(output, error = %e, lost = s.queued, "cannot read the output's overflow file back; its batches reach this output only after a restart");
                    Spill::create(s.path).ok()
                }
                None => None,
            };
            continue;
        }
        if memory.is_empty()
            && let Some(batch) = held.take()
        {
            memory.push_back(batch);
        }
        let queued = spill.as_ref().map_or(0, |s| s.queued);
        if !open && memory.is_empty() && queued == 0 {
            return;
        }
        let room = spill.as_ref().is_some_and(|s| s.bytes < max_bytes) || (queued == 0 && memory.len() < IN_MEMORY);
        let accepting = open && held.is_none() && room;
        tokio::select! {
            // The output's task has ended (shutdown gave up, or it failed): so does its queue,
            // and the processor then finds the output stopped.
            () = to.closed() => return,
            permit = to.reserve(), if !memory.is_empty() => {
                let Ok(permit) = permit else { return };
                if let Some(batch) = memory.pop_front() {
                    permit.send(batch);
                }
            }
            batch = from.recv(), if accepting => match batch {
                None => open = false,
                Some(batch) if queued == 0 && memory.len() < IN_MEMORY => memory.push_back(batch),
                Some(batch) => {
                    spill = match put_one(spill.take(), batch.clone()).await {
                        Some((s, Ok(()))) => Some(s),
                        Some((s, Err(e))) => {
                            tracing::warn!(output, error = %e, "cannot write to the output's overflow file; the pipeline waits for this output");
                            held = Some(batch);
                            Some(s)
                        }
                        None => {
                            held = Some(batch);
                            None
                        }
                    };
                }
            },
        }
    }
}

/// File I/O runs on the blocking pool; the file travels there and back.
async fn put_one(spill: Option<Spill>, batch: Arc<Batch>) -> Option<(Spill, std::io::Result<()>)> {
    let mut spill = spill?;
    tokio::task::spawn_blocking(move || {
        let result = spill.push(&batch);
        (spill, result)
    })
    .await
    .ok()
}

async fn take_one(spill: Option<Spill>) -> Option<(Spill, std::io::Result<Batch>)> {
    let mut spill = spill?;
    tokio::task::spawn_blocking(move || {
        let result = spill.pop();
        (spill, result)
    })
    .await
    .ok()
}

/// The file part of the queue: appended at the end, read from the front, emptied once read.
#[derive(Debug)]
struct Spill {
    path: PathBuf,
    writer: File,
    reader: BufReader<File>,
    /// Batches in the file not yet read back.
    queued: usize,
    /// The file's size.
    bytes: u64,
}

impl Spill {
    /// Creates (or empties) the file.
    fn create(path: PathBuf) -> std::io::Result<Spill> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let writer = File::options().create(true).truncate(true).write(true).read(true).open(&path)?;
        let reader = BufReader::new(File::open(&path)?);
        Ok(Spill { path, writer, reader, queued: 0, bytes: 0 })
    }

    fn push(&mut self, batch: &Batch) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(batch).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.writer.write_all(&line)?;
        self.queued += 1;
        self.bytes += line.len() as u64;
        Ok(())
    }

    fn pop(&mut self) -> std::io::Result<Batch> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file ended early"));
        }
        let batch = serde_json::from_str(&line).map_err(std::io::Error::other)?;
        self.queued -= 1;
        if self.queued == 0 {
            // Everything is read: start the file again from nothing.
            self.writer.set_len(0)?;
            self.writer.rewind()?;
            self.reader.rewind()?;
            self.bytes = 0;
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::event::Event;

    fn batch(end_offset: u64, events: usize) -> Arc<Batch> {
        let events = (0..events)
            .map(|i| Event::received(format!("{end_offset}-{i}"), 1, "http".into(), format!("line\n{i} \u{0}ü")))
            .collect();
        Arc::new(Batch { end_offset, events, ..Batch::default() })
    }

    /// With the output taking nothing, the processor's sends still go through (the file takes
    /// them); once it takes again, it gets every batch, in order, and the file is removed.
    #[tokio::test]
    async fn a_stalled_output_does_not_hold_the_sender_back_and_gets_everything_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("overflow").join("central.ndjson");
        let (tx, from) = mpsc::channel(4);
        let (to, mut rx) = mpsc::channel(4);
        let task = spawn("central", path.clone(), 64 << 20, from, to);
        for offset in 1..=100 {
            tokio::time::timeout(Duration::from_secs(10), tx.send(batch(offset, 3)))
                .await
                .expect("a send waited for the stalled output")
                .expect("send");
        }
        let spilled = std::fs::metadata(&path).expect("the overflow file").len();
        assert!(spilled > 0);
        drop(tx);
        let mut got = Vec::new();
        while let Some(batch) = rx.recv().await {
            assert_eq!(batch.events.len(), 3);
            assert_eq!(batch.events[2].raw.as_deref(), Some("line\n2 \u{0}ü"));
            got.push(batch.end_offset);
        }
        assert_eq!(got, (1..=100).collect::<Vec<_>>());
        task.await.expect("relay");
        assert!(!path.exists(), "the overflow file is removed at the end");
    }

    /// At its bound the queue takes no more, so the sender waits (the pipeline's back-pressure).
    #[tokio::test]
    async fn at_its_bound_the_queue_holds_the_sender_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (tx, from) = mpsc::channel(1);
        let (to, mut rx) = mpsc::channel(1);
        let _task = spawn("central", dir.path().join("central.ndjson"), 1, from, to);
        let mut sent = 0;
        while tokio::time::timeout(Duration::from_millis(300), tx.send(batch(sent + 1, 1))).await.is_ok() {
            sent += 1;
            assert!(sent < 50, "the queue took {sent} batches past a 1-byte bound");
        }
        // Memory (4) + one in the file (which is then over its bound) + the two channels.
        assert!(sent <= IN_MEMORY as u64 + 3, "{sent}");
        for offset in 1..=sent {
            assert_eq!(rx.recv().await.expect("batch").end_offset, offset);
        }
    }

    /// Interleaved sending and taking keeps the order across memory and the file.
    #[tokio::test]
    async fn order_holds_while_the_output_takes_slowly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (tx, from) = mpsc::channel(2);
        let (to, mut rx) = mpsc::channel(1);
        let _task = spawn("slow", dir.path().join("slow.ndjson"), 64 << 20, from, to);
        let sender = tokio::spawn(async move {
            for offset in 1..=300 {
                tx.send(batch(offset, 1)).await.expect("send");
                if offset % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        for offset in 1..=300 {
            assert_eq!(rx.recv().await.expect("batch").end_offset, offset);
            if offset % 5 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        sender.await.expect("sender");
    }
}
