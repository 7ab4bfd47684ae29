//! The stages of the running pipeline as a chain of threads: each stage on a thread of its own,
//! joined by short bounded queues, so a batch can be in `mine` while the next is in `normalize`
//! and every core has work. The last thread hands each finished batch to the outputs.
//!
//! ```text
//!  processor ──Item──▶ [normalize] ──▶ [mine] ──▶ [alert] ──▶ [enrich + outlet] ──▶ outputs
//!  (reads the          each thread owns one stage; queues hold QUEUE items
//!   journal)
//! ```
//!
//! Order and "one configuration per batch" hold because everything travels in-band: batches go
//! through the queues in journal order, and a change to a stage (a version swap, a canary) is an
//! item too, applied by the thread that owns the stage when it reaches it, after every batch
//! before it and before every batch after it. Replacing the whole chain (a new topology) sends a
//! [`Item::Collect`] that each thread answers by handing its stage on and exiting; the last one
//! returns the stages and the outlet, so the chain is empty before anything new is installed.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::event::{DeadLetter, Event, Signal};
use crate::outputs::Batch;
use crate::outputs::websocket::TailHub;
use crate::stages::Stage;
use crate::wasm::StateWrite;

/// Items waiting between two threads of the chain. Small: a batch is up to `batch.max_events`
/// events, and what waits here is memory, not progress.
const QUEUE: usize = 2;

/// A batch on its way through the stages.
#[derive(Debug)]
pub struct Work {
    /// Journal offset just past the batch's last record.
    pub end_offset: u64,
    pub events: Vec<Event>,
    pub dead_letters: Vec<DeadLetter>,
    /// State writes and signals of the stages that have seen the batch, in stage order.
    pub state: Vec<StateWrite>,
    pub signals: Vec<Signal>,
    /// An idle tick: an empty call to every stage, handed on only if a stage wrote or signalled.
    pub tick: bool,
}

impl Work {
    /// A batch read from the journal.
    pub fn batch(end_offset: u64, events: Vec<Event>, dead_letters: Vec<DeadLetter>) -> Self {
        Work { end_offset, events, dead_letters, state: Vec::new(), signals: Vec::new(), tick: false }
    }

    /// An idle tick at journal position `position`.
    pub fn tick(position: u64) -> Self {
        Work {
            end_offset: position,
            events: Vec::new(),
            dead_letters: Vec::new(),
            state: Vec::new(),
            signals: Vec::new(),
            tick: true,
        }
    }
}

/// A change to one stage, run by the thread that owns it between two batches.
pub type Change = Box<dyn FnOnce(&mut Stage) + Send>;

enum Item {
    Work(Work),
    Apply {
        stage: String,
        change: Change,
    },
    /// Every thread adds its stage and exits; the last sends the lot back.
    Collect(Vec<Stage>, SyncSender<(Vec<Stage>, Outlet)>),
}

/// Where finished batches go: the live stream, the store output and the task outputs.
#[derive(Debug)]
pub struct Outlet {
    pub store_events: bool,
    pub tail: Option<Arc<TailHub>>,
    pub store: tokio::sync::mpsc::Sender<Arc<Batch>>,
    /// The task outputs (PostgreSQL, Kafka, webhooks), by name.
    pub sinks: Vec<(String, tokio::sync::mpsc::Sender<Arc<Batch>>)>,
}

impl Outlet {
    /// Publishes the batch to the live stream and sends it to every output, in order. Returns
    /// `false` when an output has stopped (processing stops then).
    fn hand_on(&self, work: Work) -> bool {
        if work.tick && work.state.is_empty() && work.signals.is_empty() {
            return true;
        }
        let batch = Arc::new(Batch {
            end_offset: work.end_offset,
            events: work.events,
            dead_letters: work.dead_letters,
            state: work.state,
            signals: work.signals,
            store_events: self.store_events,
            tick: work.tick,
        });
        if let Some(tail) = &self.tail {
            tail.publish(&batch);
        }
        if self.store.blocking_send(batch.clone()).is_err() {
            tracing::error!("store output stopped; processing stops");
            return false;
        }
        let mut stopped = false;
        for (name, sink) in &self.sinks {
            if sink.blocking_send(batch.clone()).is_err() {
                tracing::error!(output = %name, "output stopped; processing stops");
                stopped = true;
            }
        }
        !stopped
    }
}

/// The running chain: the processor's end of its first queue, and its threads.
#[derive(Debug)]
pub struct Chain {
    head: Option<SyncSender<Item>>,
    names: Vec<String>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Item::Work(w) => f.debug_struct("Work").field("end_offset", &w.end_offset).finish_non_exhaustive(),
            Item::Apply { stage, .. } => f.debug_struct("Apply").field("stage", stage).finish_non_exhaustive(),
            Item::Collect(..) => f.write_str("Collect"),
        }
    }
}

/// The chain has stopped: an output stopped, or a thread could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

impl Chain {
    /// Starts a thread per stage (one thread with no stage when there are none), the last of
    /// which hands batches to `outlet`.
    pub fn start(stages: Vec<Stage>, outlet: Outlet) -> std::io::Result<Chain> {
        let names: Vec<String> = stages.iter().map(|s| s.name().to_string()).collect();
        let mut stages: Vec<Option<Stage>> = stages.into_iter().map(Some).collect();
        if stages.is_empty() {
            stages.push(None);
        }
        let mut threads = Vec::with_capacity(stages.len());
        let mut next: Option<SyncSender<Item>> = None;
        let mut outlet = Some(outlet);
        // Built from the last thread back, so each knows the queue after it.
        for stage in stages.into_iter().rev() {
            let (tx, rx) = sync_channel(QUEUE);
            let link = match next.take() {
                Some(next) => Link::Next(next),
                None => Link::Outlet(outlet.take().ok_or_else(|| std::io::Error::other("outlet taken twice"))?),
            };
            let name = stage.as_ref().map_or_else(|| "outlet".to_string(), |s| format!("stage-{}", s.name()));
            let thread = std::thread::Builder::new().name(name).spawn(move || run(stage, rx, link))?;
            threads.push(thread);
            next = Some(tx);
        }
        threads.reverse();
        Ok(Chain { head: next, names, threads })
    }

    /// Names of the stages, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Sends a batch (or a tick) into the chain; waits while its first queue is full.
    pub fn send(&self, work: Work) -> Result<(), Stopped> {
        self.push(Item::Work(work))
    }

    /// Has the thread that owns `stage` run `change` between two batches. `Err` gives the change
    /// back when no stage has that name.
    pub fn apply(&self, stage: &str, change: Change) -> Result<Result<(), Stopped>, Change> {
        if !self.names.iter().any(|n| n == stage) {
            return Err(change);
        }
        Ok(self.push(Item::Apply { stage: stage.to_string(), change }))
    }

    fn push(&self, item: Item) -> Result<(), Stopped> {
        let head = self.head.as_ref().ok_or(Stopped)?;
        head.send(item).map_err(|_| Stopped)
    }

    /// Lets every batch already sent finish, stops the threads, and returns the stages (in order)
    /// and the outlet. `None` when a thread had already stopped (its stage is lost with it; the
    /// pipeline is stopping anyway).
    pub fn collect(mut self) -> Option<(Vec<Stage>, Outlet)> {
        let (tx, rx) = sync_channel(1);
        let sent = self.push(Item::Collect(Vec::new(), tx)).is_ok();
        self.head = None;
        let back = if sent { rx.recv().ok() } else { None };
        self.join();
        back
    }

    /// Lets every batch already sent finish and stops the threads.
    pub fn finish(mut self) {
        self.head = None;
        self.join();
    }

    fn join(&mut self) {
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                tracing::error!("a pipeline stage thread panicked");
            }
        }
    }
}

enum Link {
    Next(SyncSender<Item>),
    Outlet(Outlet),
}

/// One thread of the chain: runs its stage (if any) over every item, in order, and passes it on.
fn run(mut stage: Option<Stage>, rx: Receiver<Item>, link: Link) {
    while let Ok(item) = rx.recv() {
        let item = match item {
            Item::Work(mut work) => {
                if let Some(stage) = stage.as_mut() {
                    process(stage, &mut work);
                }
                Item::Work(work)
            }
            Item::Apply { stage: name, change } => match stage.as_mut() {
                Some(s) if s.name() == name => {
                    change(s);
                    continue;
                }
                _ => Item::Apply { stage: name, change },
            },
            Item::Collect(mut stages, reply) => {
                stages.extend(stage.take());
                match link {
                    Link::Next(next) => {
                        let _ = next.send(Item::Collect(stages, reply));
                    }
                    Link::Outlet(outlet) => {
                        let _ = reply.send((stages, outlet));
                    }
                }
                return;
            }
        };
        let delivered = match (&link, item) {
            (Link::Next(next), item) => next.send(item).is_ok(),
            (Link::Outlet(outlet), Item::Work(work)) => outlet.hand_on(work),
            // A change for a stage this chain does not have; `Chain::apply` refuses those.
            (Link::Outlet(_), _) => true,
        };
        if !delivered {
            return;
        }
    }
}

/// Runs one stage over a batch (or a tick), collecting what it wrote and signalled.
fn process(stage: &mut Stage, work: &mut Work) {
    if work.tick {
        stage.tick(&mut work.dead_letters);
    } else {
        let events = std::mem::take(&mut work.events);
        work.events = stage.process(events, &mut work.dead_letters);
    }
    work.state.extend(stage.state().take_writes());
    work.signals.extend(stage.state().take_signals());
}
