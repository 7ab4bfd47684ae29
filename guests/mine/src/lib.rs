//! The `mine` guest: online log-template mining (Drain), annotating each event with its pattern.
//!
//! The algorithm lives in plain modules, testable natively; the [`Guest`] implementation at the
//! bottom only connects it to the host: config and stored patterns in at `init`, annotations out
//! and changed patterns saved after each batch.

mod cluster;
mod config;
mod fnv;
mod intern;
mod mask;
mod miner;
mod persist;
mod tokenize;
mod tree;

#[cfg(test)]
mod tests;

pub use config::Settings;
pub use miner::Miner;

use sluice_guest::{Event, Guest, InstanceCell, Outcome, State, StateError, annotate_pattern};

/// How often, in batches, a persisting save failure is logged again.
const SAVE_FAILURE_LOG_EVERY: u64 = 1000;

/// What an instance keeps between calls.
#[derive(Debug)]
struct Stage {
    miner: Miner,
    /// Consecutive batches whose patterns could not all be saved.
    failing_batches: u64,
}

static STAGE: InstanceCell<Stage> = InstanceCell::new();

/// The exported stage.
#[derive(Debug)]
pub struct Mine;

impl Guest for Mine {
    fn init(config: String) -> Result<(), String> {
        let settings = Settings::from_json(&config)?;
        let (miner, problems) = Miner::load(settings, State.scan(persist::PREFIX));
        for problem in problems.iter().take(10) {
            sluice_guest::log!(Warn, "ignoring unreadable stored pattern {problem}");
        }
        if problems.len() > 10 {
            sluice_guest::log!(Warn, "ignoring {} more unreadable stored patterns", problems.len() - 10);
        }
        sluice_guest::log!(Debug, "loaded {} stored patterns", miner.len());
        STAGE.set(Stage { miner, failing_batches: 0 });
        Ok(())
    }

    fn process(batch: Vec<Event>) -> Vec<Outcome> {
        let len = batch.len();
        STAGE
            .with(|stage| {
                let outcomes = batch.iter().map(|event| mine(&mut stage.miner, event)).collect();
                save(stage);
                outcomes
            })
            .unwrap_or_else(|| (0..len).map(|_| sluice_guest::fail("mine: process called before init")).collect())
    }
}

/// Mines one event's message (its raw record when it has no message yet).
fn mine(miner: &mut Miner, event: &Event) -> Outcome {
    let text = match (&*event.message, &event.raw) {
        ("", Some(raw)) => raw.as_str(),
        (message, _) => message,
    };
    let index = miner.observe(text, event.timestamp_ns);
    match miner.cluster(index) {
        Some(cluster) => annotate_pattern(cluster.id.as_str(), cluster.template.as_str()),
        None => Outcome::Keep,
    }
}

/// Writes the patterns the batch changed. A refused write (quota, size) is not fatal: the pattern
/// stays in memory, and is written again the next time it changes.
fn save(stage: &mut Stage) {
    let mut failed = 0usize;
    let mut first_error = None;
    for (key, value) in stage.miner.take_dirty() {
        if let Err(error) = State.set(&key, &value) {
            failed += 1;
            first_error.get_or_insert((key, error));
        }
    }
    match first_error {
        Some((key, error)) => {
            if stage.failing_batches.is_multiple_of(SAVE_FAILURE_LOG_EVERY) {
                sluice_guest::log!(
                    Warn,
                    "could not save {failed} pattern(s), first {key}: {}; mining continues in \
                     memory, and patterns are saved again when they next change",
                    describe(error)
                );
            }
            stage.failing_batches += 1;
        }
        None if stage.failing_batches > 0 => {
            sluice_guest::log!(Info, "saving patterns again");
            stage.failing_batches = 0;
        }
        None => {}
    }
}

fn describe(error: StateError) -> String {
    match error {
        StateError::KeyTooLong(limit) => format!("key longer than {limit} bytes"),
        StateError::ValueTooLarge(limit) => format!("value larger than {limit} bytes"),
        StateError::QuotaExceeded(quota) => format!("state quota of {quota} bytes reached"),
    }
}

// Only on WebAssembly: the export symbols' names (`sluice:pipeline/stage@0.1.0#init`) are not
// valid in a native shared library, which `cargo test` also builds.
#[cfg(target_arch = "wasm32")]
sluice_guest::export_stage!(Mine);
