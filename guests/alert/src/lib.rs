//! The `alert` guest: alert rules over the event stream, raised as `alert` signals.
//!
//! Layout:
//! - [`config`]: the rules as written in the pipeline file, validated (durations in [`duration`],
//!   event filters in [`filter`]);
//! - [`engine`]: all rules over the calls, with the pipeline time; each rule's state is in
//!   [`rule`], by kind in [`counting`] (threshold, rate_change, volume_spike, over a bucketed
//!   [`series`]), [`novelty`] (new_pattern) and [`absence`];
//! - [`gate`]: dedup and cooldown; [`alert`]: the signal body; [`persist`]: the store layout.
//!
//! The [`Guest`] implementation below only connects the engine to the host: config and stored
//! state in at `init`, events and the clock in, alerts and changed state out after each call.
//! Every event is answered `keep`: this stage watches the stream, it never changes it.

mod absence;
mod alert;
mod config;
mod counting;
mod duration;
mod engine;
mod filter;
mod fnv;
mod gate;
mod novelty;
mod persist;
mod rule;
mod sample;
mod series;

#[cfg(test)]
mod tests;

pub use alert::Alert;
pub use config::Settings;
pub use engine::Engine;

use sluice_guest::{Event, Guest, InstanceCell, Outcome, SaveLog, SignalKind, State};

/// How often, in calls, refused signals are logged again (as store write failures are).
const FAILURE_LOG_EVERY: u64 = sluice_guest::saving::LOG_EVERY;

/// What an instance keeps between calls.
#[derive(Debug)]
struct Stage {
    engine: Engine,
    /// How saving the rules' state goes.
    saves: SaveLog,
    /// Consecutive calls with a refused signal.
    failing_emits: u64,
}

static STAGE: InstanceCell<Stage> = InstanceCell::new();

/// The exported stage.
#[derive(Debug)]
pub struct Alerts;

impl Guest for Alerts {
    fn init(config: String) -> Result<(), String> {
        let settings = Settings::from_json(&config)?;
        let rules = settings.rules.len();
        let (engine, problems) = Engine::load(settings, State.scan(persist::PREFIX));
        for problem in &problems {
            sluice_guest::log!(Warn, "{problem}");
        }
        sluice_guest::log!(Debug, "{rules} alert rule(s) loaded");
        STAGE.set(Stage {
            engine,
            saves: SaveLog::new("alert state entries", "rules keep running in memory"),
            failing_emits: 0,
        });
        Ok(())
    }

    fn process(batch: Vec<Event>) -> Vec<Outcome> {
        let outcomes = batch.iter().map(|_| Outcome::Keep).collect();
        let ran = STAGE.with(|stage| {
            let alerts = stage.engine.process(&batch, sluice_guest::inference::now_ns());
            emit(stage, &alerts);
            for (rule, n) in stage.engine.take_overflow() {
                sluice_guest::log!(Warn, "rule `{rule}`: {n} event(s) of new keys not counted: max_keys reached");
            }
            save(stage);
        });
        if ran.is_none() {
            sluice_guest::log!(Error, "alert: process called before init; events pass unwatched");
        }
        outcomes
    }
}

/// Sends the alerts as signals. A refusal (too many in one call, too large) loses that alert: it
/// is logged, and the rule's state already counts it as sent.
fn emit(stage: &mut Stage, alerts: &[Alert]) {
    let refused = alerts.iter().filter(|alert| !sluice_guest::emit(SignalKind::Alert, &alert.to_json())).count();
    if refused == 0 {
        stage.failing_emits = 0;
        return;
    }
    if stage.failing_emits.is_multiple_of(FAILURE_LOG_EVERY) {
        sluice_guest::log!(Warn, "the host refused {refused} of {} alert signal(s)", alerts.len());
    }
    stage.failing_emits += 1;
}

/// Applies the store changes of the call. A refused write is not fatal: the state stays in memory
/// and is written again the next time it changes.
fn save(stage: &mut Stage) {
    let writes = stage.engine.take_writes().into_iter().map(|write| match write {
        persist::Write::Set(key, value) => (key, Some(value)),
        persist::Write::Delete(key) => (key, None),
    });
    stage.saves.record(State.apply(writes));
}

// Only on WebAssembly: the export symbols' names (`sluice:pipeline/batch-stage@0.1.1#init`) are not
// valid in a native shared library, which `cargo test` also builds.
#[cfg(target_arch = "wasm32")]
sluice_guest::export_stage!(Alerts);
