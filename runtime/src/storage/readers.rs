//! The store's reader pool: the API's history queries run here, never on the request runtime.
//!
//! A few reader connections, each owned by a thread of its own (`store-reader-N`), take queries
//! from a queue as short as the pool (a query holds a permit for its whole run, so one handed
//! in always finds a reader). A request waits at most [`QueryLimits::wait`] for a permit, and only
//! [`MAX_WAITING`] may wait at all; beyond that it is told the store is busy. A query that runs
//! past [`QueryLimits::timeout`] is interrupted by the watchdog thread (`store-reader-watchdog`)
//! and answered with a timeout error.
//!
//! Reader threads run at the lowest CPU priority (Linux nice 19): on a small box, queries take
//! what ingest leaves and never the other way round. libSQL's calls are blocking under an async
//! signature, so each reader drives them on a current-thread runtime of its own.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use libsql::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::StoreError;

/// Most requests that may wait for a reader at once; more are told the store is busy at once.
pub const MAX_WAITING: usize = 64;

/// Bounds on API queries. Each can be set from the environment at start (`SLUICE_QUERY_READERS`,
/// `SLUICE_QUERY_TIMEOUT`, `SLUICE_QUERY_WAIT`, `SLUICE_QUERY_SCAN_ROWS`); all but `readers`
/// also later, with [`super::Store::set_query_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Reader connections (and threads): how many queries run at once.
    pub readers: usize,
    /// Longest one query may run before it is interrupted.
    pub timeout: Duration,
    /// Longest a request waits for a free reader.
    pub wait: Duration,
    /// Most rows, newest first within its time window, that a history query without named ids
    /// examines; its `X-Total-Count` is then a lower bound (`X-Total-Count-Exact: false`).
    pub scan_rows: u64,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits { readers: 2, timeout: Duration::from_secs(5), wait: Duration::from_secs(2), scan_rows: 200_000 }
    }
}

impl QueryLimits {
    /// The defaults, overridden by whichever `SLUICE_QUERY_*` variables are set; a value that
    /// does not parse is logged and ignored.
    pub fn from_env() -> QueryLimits {
        let mut limits = QueryLimits::default();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let duration = |name: &str, into: &mut Duration| {
            if let Some(text) = var(name) {
                match humantime::parse_duration(text.trim()) {
                    Ok(d) if !d.is_zero() => *into = d,
                    _ => tracing::warn!(%name, value = %text, "not a positive duration; using the default"),
                }
            }
        };
        duration("SLUICE_QUERY_TIMEOUT", &mut limits.timeout);
        duration("SLUICE_QUERY_WAIT", &mut limits.wait);
        if let Some(text) = var("SLUICE_QUERY_READERS") {
            match text.trim().parse::<usize>() {
                Ok(n @ 1..=64) => limits.readers = n,
                _ => tracing::warn!(value = %text, "SLUICE_QUERY_READERS must be 1 to 64; using the default"),
            }
        }
        if let Some(text) = var("SLUICE_QUERY_SCAN_ROWS") {
            match text.trim().parse::<u64>() {
                Ok(n) if n > 0 => limits.scan_rows = n,
                _ => {
                    tracing::warn!(value = %text, "SLUICE_QUERY_SCAN_ROWS must be a positive integer; using the default")
                }
            }
        }
        limits
    }
}

/// Work for a reader: runs with the reader's connection, on the reader's runtime.
type Job = Box<dyn FnOnce(&Slot, &tokio::runtime::Runtime) + Send>;

/// One reader as the watchdog sees it.
#[derive(Debug)]
struct Slot {
    conn: Connection,
    /// When the query now running must end; `None` while idle.
    deadline: Mutex<Option<Instant>>,
    /// Set by the watchdog when it interrupted the running query.
    interrupted: AtomicBool,
    /// Wakes the watchdog when a query starts.
    wake: Arc<Wake>,
}

#[derive(Debug, Default)]
struct Wake {
    started: Condvar,
    lock: Mutex<()>,
}

#[derive(Debug)]
struct Slots {
    readers: Vec<Slot>,
    wake: Arc<Wake>,
}

/// The pool; cheap to clone. Its threads end when the last clone is dropped.
#[derive(Clone)]
pub struct Readers {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: SyncSender<Job>,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    limits: Mutex<QueryLimits>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers").field("limits", &self.limits()).finish_non_exhaustive()
    }
}

impl Readers {
    /// Starts one thread per connection, and the watchdog.
    pub fn start(conns: Vec<Connection>, limits: QueryLimits) -> std::io::Result<Readers> {
        let count = conns.len().max(1);
        let wake = Arc::new(Wake::default());
        let slots = Arc::new(Slots {
            readers: conns
                .into_iter()
                .map(|conn| Slot {
                    conn,
                    deadline: Mutex::new(None),
                    interrupted: AtomicBool::new(false),
                    wake: wake.clone(),
                })
                .collect(),
            wake,
        });
        let (jobs, queue) = sync_channel::<Job>(count);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..slots.readers.len() {
            let (slots, queue) = (slots.clone(), queue.clone());
            std::thread::Builder::new().name(format!("store-reader-{i}")).spawn(move || reader(i, &slots, &queue))?;
        }
        let weak = Arc::downgrade(&slots);
        drop(slots);
        std::thread::Builder::new().name("store-reader-watchdog".into()).spawn(move || watchdog(&weak))?;
        Ok(Readers {
            inner: Arc::new(Inner {
                jobs,
                permits: Arc::new(Semaphore::new(count)),
                waiting: AtomicUsize::new(0),
                limits: Mutex::new(limits),
            }),
        })
    }

    pub fn limits(&self) -> QueryLimits {
        *self.inner.limits.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the time limit, the wait bound and the scan bound (not the number of readers).
    pub fn set_limits(&self, timeout: Duration, wait: Duration, scan_rows: u64) {
        let mut limits = self.inner.limits.lock().unwrap_or_else(PoisonError::into_inner);
        (limits.timeout, limits.wait, limits.scan_rows) = (timeout, wait, scan_rows.max(1));
    }

    /// Runs `query` on a reader under the pool's limits.
    pub async fn run<T, F, Fut>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Connection) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let limits = self.limits();
        self.run_within(limits.wait, limits.timeout, query).await
    }

    /// Runs `query` on a reader, waiting at most `wait` for one and letting it run `timeout`.
    pub async fn run_within<T, F, Fut>(&self, wait: Duration, timeout: Duration, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Connection) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let permit = self.permit(wait).await?;
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |slot: &Slot, runtime: &tokio::runtime::Runtime| {
            let _permit = permit;
            if reply.is_closed() {
                return; // the request is gone; nobody would read the answer
            }
            let result = slot.run(runtime, timeout, query);
            let _ = reply.send(result);
        });
        self.inner.jobs.try_send(job).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn permit(&self, wait: Duration) -> Result<OwnedSemaphorePermit, StoreError> {
        if let Ok(permit) = self.inner.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let readers = self.limits().readers;
        let busy = || StoreError::Busy { readers, waited: wait };
        if self.inner.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
            self.inner.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(busy());
        }
        let acquired = tokio::time::timeout(wait, self.inner.permits.clone().acquire_owned()).await;
        self.inner.waiting.fetch_sub(1, Ordering::AcqRel);
        match acquired {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(StoreError::Closed),
            Err(_) => Err(busy()),
        }
    }
}

impl Slot {
    fn run<T, F, Fut>(&self, runtime: &tokio::runtime::Runtime, timeout: Duration, query: F) -> Result<T, StoreError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        self.interrupted.store(false, Ordering::Release);
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + timeout);
        {
            let _guard = self.wake.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.wake.started.notify_all();
        }
        let result = runtime.block_on(query(self.conn.clone()));
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner) = None;
        match result {
            Err(_) if self.interrupted.load(Ordering::Acquire) => Err(StoreError::TimedOut(timeout)),
            other => other,
        }
    }
}

fn reader(i: usize, slots: &Slots, queue: &Mutex<Receiver<Job>>) {
    lower_priority();
    let Some(slot) = slots.readers.get(i) else { return };
    // libSQL's local calls never wait on anything but SQLite, so a bare runtime drives them.
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "store reader cannot start");
            return;
        }
    };
    loop {
        let job = match queue.lock().unwrap_or_else(PoisonError::into_inner).recv() {
            Ok(job) => job,
            Err(_) => return, // the pool is gone
        };
        job(slot, &runtime);
    }
}

/// Interrupts every query past its deadline, again every few milliseconds until it ends: an
/// interrupt that lands between two statements of a query is forgotten by SQLite.
fn watchdog(slots: &Weak<Slots>) {
    const AGAIN: Duration = Duration::from_millis(10);
    const IDLE: Duration = Duration::from_secs(1);
    loop {
        let Some(slots) = slots.upgrade() else { return };
        let now = Instant::now();
        let mut next = now + IDLE;
        for slot in &slots.readers {
            let deadline = *slot.deadline.lock().unwrap_or_else(PoisonError::into_inner);
            match deadline {
                Some(at) if at <= now => {
                    slot.interrupted.store(true, Ordering::Release);
                    let _ = slot.conn.interrupt();
                    next = next.min(now + AGAIN);
                }
                Some(at) => next = next.min(at),
                None => {}
            }
        }
        let wake = slots.wake.clone();
        drop(slots);
        let guard = wake.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = wake.started.wait_timeout(guard, next.saturating_duration_since(now));
    }
}

/// Lowers the calling thread to the lowest CPU priority. On Linux the nice value is per thread,
/// and `setpriority(PRIO_PROCESS, 0, ...)` changes the calling thread only.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // reason: std offers no thread priority; this is libc's own setpriority
pub(super) fn lower_priority() {
    unsafe extern "C" {
        fn setpriority(which: i32, who: u32, prio: i32) -> i32;
    }
    // SAFETY: a plain system call on the calling thread, with no pointers.
    if unsafe { setpriority(0, 0, 19) } != 0 {
        tracing::debug!("could not lower the store reader's priority");
    }
}

#[cfg(not(target_os = "linux"))]
pub(super) fn lower_priority() {}
