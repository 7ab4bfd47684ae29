//! The single writer: appends records, syncs once per group (or, when acknowledging writes, on a
//! short timer), and tells readers what they may read.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::{Ack, JournalCipher, JournalError, JournalEvent, encode_record, segment};

/// Appends queued at once before the writer pushes back on inputs.
const QUEUE: usize = 1024;
/// How often written data is synced under [`Ack::Written`]: the most a power cut can take of what
/// was acknowledged.
pub const SYNC_EVERY: Duration = Duration::from_millis(50);

/// A handle for inputs: append a record and wait until it is durable.
///
/// Cloned freely; [`Appender::close`] closes every clone at once, which is how shutdown stops
/// intake even while long-lived handlers still hold one.
#[derive(Debug, Clone)]
pub struct Appender {
    tx: Arc<Mutex<Option<mpsc::Sender<Append>>>>,
    cipher: Option<JournalCipher>,
}

struct Append {
    record: Vec<u8>,
    done: oneshot::Sender<Result<u64, JournalError>>,
}

impl Appender {
    /// Appends `events` as one record; resolves to the journal offset just past it once it has
    /// been synced to disk (under [`Ack::Written`]: once it has been written to the file). Encoding (and encryption) happens here, on the caller's task, so it
    /// scales with the callers rather than queueing on the writer thread.
    pub async fn append(&self, events: &[JournalEvent]) -> Result<u64, JournalError> {
        let record = encode_record(events, self.cipher.as_ref());
        let (done, rx) = oneshot::channel();
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone().ok_or(JournalError::Closed)?;
        tx.send(Append { record, done }).await.map_err(|_| JournalError::Closed)?;
        rx.await.map_err(|_| JournalError::Closed)?
    }

    /// Refuses further appends. Appends already queued are still written; once they are, the
    /// writer thread exits and the durable-offset watch closes.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// The writer thread's handle. Closing the [`Appender`] lets the thread drain and exit;
/// [`JournalWriter::join`] waits for that.
#[derive(Debug)]
pub struct JournalWriter {
    thread: std::thread::JoinHandle<()>,
}

impl JournalWriter {
    /// Opens (or creates) the journal in `dir`, cutting off a torn tail. Appends continue from the
    /// end of the data, or from `floor` (what outputs already hold) if that is further on.
    /// Returns the writer, an appender, and a watch of the end offset that appends have been
    /// acknowledged up to (synced, or under [`Ack::Written`] written), which readers may read to.
    pub fn open(
        dir: &Path,
        floor: u64,
        segment_bytes: u64,
        cipher: Option<JournalCipher>,
        ack: Ack,
    ) -> Result<(JournalWriter, Appender, watch::Receiver<u64>), JournalError> {
        std::fs::create_dir_all(dir).map_err(|e| JournalError::io(dir, e))?;
        let bases = segment::list(dir)?;
        let (base, len) = match bases.last() {
            Some(&base) => {
                let path = segment::path(dir, base);
                let len = segment::valid_len(&path)?;
                let file = OpenOptions::new().write(true).open(&path).map_err(|e| JournalError::io(&path, e))?;
                file.set_len(len).map_err(|e| JournalError::io(&path, e))?;
                file.sync_all().map_err(|e| JournalError::io(&path, e))?;
                if base + len >= floor { (base, len) } else { (floor, 0) }
            }
            None => (floor, 0),
        };
        let mut state = WriterState::open(dir.to_path_buf(), base, len, segment_bytes)?;
        if ack == Ack::Written {
            state.syncer = Some(Syncer::start(&state.file).map_err(|e| JournalError::io(dir, e))?);
        }
        let (committed_tx, committed_rx) = watch::channel(base + len);
        let (tx, rx) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || state.run(rx, committed_tx))
            .map_err(|e| JournalError::io(dir, e))?;
        Ok((JournalWriter { thread }, Appender { tx: Arc::new(Mutex::new(Some(tx))), cipher }, committed_rx))
    }

    /// Waits for the writer to finish after the appender is closed.
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("journal writer thread panicked");
        }
    }
}

struct WriterState {
    dir: PathBuf,
    file: File,
    base: u64,
    len: u64,
    segment_bytes: u64,
    /// Under [`Ack::Written`]: the thread that syncs what was written.
    syncer: Option<Syncer>,
}

impl WriterState {
    fn open(dir: PathBuf, base: u64, len: u64, segment_bytes: u64) -> Result<Self, JournalError> {
        let path = segment::path(&dir, base);
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| JournalError::io(&path, e))?;
        sync_dir(&dir)?;
        Ok(WriterState { dir, file, base, len, segment_bytes, syncer: None })
    }

    fn run(mut self, mut rx: mpsc::Receiver<Append>, committed: watch::Sender<u64>) {
        let mut group = Vec::new();
        let mut buf = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            group.push(first);
            while group.len() < QUEUE {
                match rx.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            buf.clear();
            let mut ends = Vec::with_capacity(group.len());
            let mut end = self.base + self.len;
            for append in &group {
                buf.extend_from_slice(&append.record);
                end += append.record.len() as u64;
                ends.push(end);
            }
            match self.write_group(&buf) {
                Ok(()) => {
                    committed.send_replace(end);
                    for (append, end) in group.drain(..).zip(ends) {
                        let _ = append.done.send(Ok(end));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "journal append failed; the requests get an error");
                    for append in group.drain(..) {
                        let _ = append.done.send(Err(JournalError::Io {
                            path: self.dir.display().to_string(),
                            source: std::io::Error::other(e.to_string()),
                        }));
                    }
                }
            }
        }
    }

    fn write_group(&mut self, buf: &[u8]) -> Result<(), JournalError> {
        let path = segment::path(&self.dir, self.base);
        let result = self.file.write_all(buf).and_then(|()| match &self.syncer {
            Some(syncer) => {
                syncer.dirty.store(true, Ordering::Release);
                Ok(())
            }
            None => self.file.sync_data(),
        });
        if let Err(e) = result {
            // Cut back whatever part of the group reached the file, so the next group does not
            // follow a half-written record.
            let _ = self.file.set_len(self.len);
            return Err(JournalError::io(&path, e));
        }
        self.len += buf.len() as u64;
        if self.len >= self.segment_bytes {
            // A segment is left only once it is all on disk, so the syncer only ever has the
            // newest one to look after.
            if self.syncer.is_some() {
                self.file.sync_data().map_err(|e| JournalError::io(&path, e))?;
            }
            let syncer = self.syncer.take();
            let mut next = WriterState::open(self.dir.clone(), self.base + self.len, 0, self.segment_bytes)?;
            if let Some(syncer) = syncer {
                syncer.follow(&next.file).map_err(|e| JournalError::io(&path, e))?;
                next.syncer = Some(syncer);
            }
            *self = next;
        }
        Ok(())
    }
}

/// Syncs the current segment every [`SYNC_EVERY`] when something was written since the last sync,
/// and once more when the writer stops.
struct Syncer {
    file: Arc<Mutex<File>>,
    dirty: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Syncer {
    fn start(file: &File) -> std::io::Result<Syncer> {
        let shared = Arc::new(Mutex::new(file.try_clone()?));
        let dirty = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, d, s) = (shared.clone(), dirty.clone(), stop.clone());
        let thread = std::thread::Builder::new().name("journal-sync".into()).spawn(move || {
            loop {
                let stopping = s.load(Ordering::Acquire);
                if d.swap(false, Ordering::AcqRel) {
                    let file = f.lock().unwrap_or_else(|p| p.into_inner());
                    if let Err(e) = file.sync_data() {
                        tracing::error!(error = %e, "cannot sync the journal; acknowledged events may not survive a power cut");
                        d.store(true, Ordering::Release);
                    }
                }
                if stopping {
                    return;
                }
                std::thread::sleep(SYNC_EVERY);
            }
        })?;
        Ok(Syncer { file: shared, dirty, stop, thread: Some(thread) })
    }

    /// Looks after `file` (a new segment) from now on.
    fn follow(&self, file: &File) -> std::io::Result<()> {
        let clone = file.try_clone()?;
        *self.file.lock().unwrap_or_else(|p| p.into_inner()) = clone;
        Ok(())
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the journal's sync thread panicked");
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| JournalError::io(dir, e))
}
