//! The `mine` guest: online log-template mining, annotating each event with its pattern and the
//! values of the pattern's variables.
//!
//! The algorithm lives in plain modules, testable natively; the [`Guest`] implementation at the
//! bottom only connects it to the host: config and stored patterns in at `init`, annotations out,
//! changed patterns saved and pattern changes signalled after each batch.

mod annotate;
mod cluster;
mod config;
mod fnv;
mod index;
mod intern;
mod mask;
mod miner;
mod persist;
mod siblings;
mod tokenize;

#[cfg(test)]
mod tests;

pub use annotate::{TEMPLATE_VARS, annotation};
pub use config::Settings;
pub use miner::{Change, Miner};

use annotate::BatchSpans;
use sluice_guest::{
    Answers, BatchView, Event, Guest, InstanceCell, Outcome, SaveLog, SignalKind, State, push_json_string,
};

/// What an instance keeps between calls.
#[derive(Debug)]
struct Stage {
    miner: Miner,
    /// How saving the patterns goes.
    saves: SaveLog,
    /// The strings written into the current batch's answer, for [`Guest::process_batch`].
    spans: BatchSpans,
}

/// Why every event of a batch fails when the host skipped `init`.
const NOT_INITIALISED: &str = "mine: process called before init";

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
        STAGE.set(Stage {
            miner,
            saves: SaveLog::new(
                "patterns",
                "mining continues in memory, and patterns are saved again when they next change",
            ),
            spans: BatchSpans::default(),
        });
        Ok(())
    }

    fn process(batch: Vec<Event>) -> Vec<Outcome> {
        let len = batch.len();
        STAGE
            .with(|stage| {
                let outcomes = batch.iter().map(|event| mine(&mut stage.miner, event)).collect();
                after_batch(stage);
                outcomes
            })
            .unwrap_or_else(|| (0..len).map(|_| sluice_guest::fail(NOT_INITIALISED)).collect())
    }

    /// As [`Self::process`], reading each message where it lies in the batch and writing each
    /// pattern's strings once per batch.
    fn process_batch(batch: &BatchView<'_>, answers: &mut Answers) {
        let done = STAGE.with(|stage| {
            mine_batch(&mut stage.miner, &mut stage.spans, batch, answers);
            after_batch(stage);
        });
        if done.is_none() {
            let reason = answers.span(NOT_INITIALISED);
            for _ in 0..batch.len() {
                answers.fail_span(reason);
            }
        }
    }
}

/// What is mined of an event: its message, or its raw record when it has no message yet.
fn mined_text<'a>(message: &'a str, raw: Option<&'a str>) -> &'a str {
    match (message, raw) {
        ("", Some(raw)) => raw,
        (message, _) => message,
    }
}

/// Mines one event.
fn mine(miner: &mut Miner, event: &Event) -> Outcome {
    let text = mined_text(&event.message, event.raw.as_deref());
    let index = miner.observe(text, event.timestamp_ns);
    annotation(miner, index, text)
}

/// Mines every event of `batch`, answering each as [`mine`] would.
fn mine_batch(miner: &mut Miner, spans: &mut BatchSpans, batch: &BatchView<'_>, answers: &mut Answers) {
    spans.start_batch();
    for event in batch.events() {
        let text = mined_text(event.message(), event.raw());
        let index = miner.observe(text, event.timestamp_ns());
        spans.annotate(answers, miner, index, text);
    }
}

/// What follows every batch: the changed patterns saved, their changes signalled.
fn after_batch(stage: &mut Stage) {
    save(stage);
    report_changes(&mut stage.miner);
}

/// Emits one `pattern-changed` signal per pattern that generalised or absorbed others during
/// the batch, so the host can re-point what it stored under the absorbed ids.
fn report_changes(miner: &mut Miner) {
    for change in miner.take_changes() {
        let mut body = String::from(r#"{"id":"#);
        push_json_string(&mut body, &change.id);
        body.push_str(r#","template":"#);
        push_json_string(&mut body, &change.template);
        body.push_str(r#","merged":["#);
        for (i, id) in change.merged.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            push_json_string(&mut body, id);
        }
        body.push_str("]}");
        if !sluice_guest::emit(SignalKind::PatternChanged, &body) {
            sluice_guest::log!(Warn, "host refused the pattern-changed signal of {}", change.id);
        }
    }
}

/// Writes the patterns the batch changed. A refused write (quota, size) is not fatal: the pattern
/// stays in memory, and is written again the next time it changes.
fn save(stage: &mut Stage) {
    let writes = stage.miner.take_dirty().into_iter().map(|(key, value)| (key, Some(value)));
    stage.saves.record(State.apply(writes));
}

// Only on WebAssembly: the export symbols' names (`sluice:pipeline/batch-stage@0.1.1#init`) are not
// valid in a native shared library, which `cargo test` also builds.
#[cfg(target_arch = "wasm32")]
sluice_guest::export_stage!(Mine);
