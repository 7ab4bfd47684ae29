//! The `mine` guest: online log-template mining, annotating each event with its pattern and the
//! values of the pattern's variables.
//!
//! The algorithm lives in plain modules, testable natively; the [`Guest`] implementation at the
//! bottom only connects it to the host: config and stored patterns in at `init`, annotations out,
//! changed patterns saved and pattern changes signalled after each batch.

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

pub use config::Settings;
pub use miner::{Change, Miner};

use sluice_guest::{
    Annotation, Attribute, Event, Guest, InstanceCell, Outcome, PatternRef, SaveLog, SignalKind, State,
    push_json_string,
};

/// What an instance keeps between calls.
#[derive(Debug)]
struct Stage {
    miner: Miner,
    /// How saving the patterns goes.
    saves: SaveLog,
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
        STAGE.set(Stage {
            miner,
            saves: SaveLog::new(
                "patterns",
                "mining continues in memory, and patterns are saved again when they next change",
            ),
        });
        Ok(())
    }

    fn process(batch: Vec<Event>) -> Vec<Outcome> {
        let len = batch.len();
        STAGE
            .with(|stage| {
                let outcomes = batch.iter().map(|event| mine(&mut stage.miner, event)).collect();
                save(stage);
                report_changes(&mut stage.miner);
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
    annotation(miner, index, text)
}

/// The outcome for the message `text` just mined into `index`: its pattern, and its variables'
/// values when the template has any.
pub fn annotation(miner: &Miner, index: u32, text: &str) -> Outcome {
    let Some(cluster) = miner.cluster(index) else {
        return Outcome::Keep;
    };
    let mut attributes = Vec::new();
    if cluster.has_variables() {
        // Sized once: the values come from the message, plus quotes and commas.
        let mut json = String::with_capacity(text.len() + 8 + 3 * cluster.tokens.len());
        json.push('[');
        for (i, value) in miner.variables(index, text).enumerate() {
            if i > 0 {
                json.push(',');
            }
            push_json_string(&mut json, value);
        }
        json.push(']');
        attributes.push(Attribute { key: TEMPLATE_VARS.into(), value: json });
    }
    Outcome::Annotate(Annotation {
        level: None,
        pattern: Some(PatternRef { id: cluster.id.clone(), template: cluster.template.clone() }),
        insight: None,
        attributes,
    })
}

/// The attribute holding the values at a template's `<*>` positions, as a JSON array of strings.
pub const TEMPLATE_VARS: &str = "template_vars";

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

// Only on WebAssembly: the export symbols' names (`sluice:pipeline/stage@0.1.0#init`) are not
// valid in a native shared library, which `cargo test` also builds.
#[cfg(target_arch = "wasm32")]
sluice_guest::export_stage!(Mine);
