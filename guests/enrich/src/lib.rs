//! The `enrich` guest: one insight per log pattern, computed offline at once and replaced by a
//! model's answer when the host's inference returns one.
//!
//! Layout: [`enricher`] is the engine (per-pattern table, requests, lookups, eviction);
//! `analysis` and `cues` the offline analysis; `activity` counts, rarity and bursts; `insight`
//! the insight's JSON shape and the model answer's validation; `prompt` the two request
//! messages; `pattern` the per-pattern record and its store encoding; `config` the settings.
//! The [`Guest`] implementation below only connects the engine to the host: stored patterns in
//! at `init`, outcomes, signals and store writes out after each call.

mod activity;
mod analysis;
mod config;
mod cues;
pub mod enricher;
mod insight;
mod level;
mod pattern;
mod prompt;

#[cfg(test)]
mod tests;

pub use config::Settings;
pub use enricher::{Enricher, Inference};

use sluice_guest::inference::{self, Answer, Status};
use sluice_guest::{Event, Guest, InstanceCell, Outcome, SaveLog, SignalKind, State};

/// What an instance keeps between calls.
#[derive(Debug)]
struct Stage {
    engine: Enricher,
    /// How saving the patterns' records goes.
    saves: SaveLog,
}

static STAGE: InstanceCell<Stage> = InstanceCell::new();

/// The host's inference, through the SDK.
#[derive(Debug)]
struct Host;

impl Inference for Host {
    fn request(&mut self, key: &str, system: &str, user: &str) -> Status {
        inference::request(key, system, user)
    }

    fn lookup(&mut self, key: &str) -> Option<Answer> {
        inference::lookup(key)
    }
}

/// The exported stage.
#[derive(Debug)]
pub struct Enrich;

impl Guest for Enrich {
    fn init(config: String) -> Result<(), String> {
        let settings = Settings::from_json(&config)?;
        let total = State.get(enricher::TOTAL_KEY);
        let (engine, problems) =
            Enricher::load(settings, State.scan(pattern::PREFIX), total.as_deref(), inference::now_ns());
        for problem in problems.iter().take(10) {
            sluice_guest::log!(Warn, "ignoring unreadable stored pattern {problem}");
        }
        if problems.len() > 10 {
            sluice_guest::log!(Warn, "ignoring {} more unreadable stored patterns", problems.len() - 10);
        }
        sluice_guest::log!(Debug, "loaded {} stored patterns", engine.len());
        STAGE.set(Stage { engine, saves: SaveLog::new("insight records", "insights continue in memory") });
        Ok(())
    }

    fn process(batch: Vec<Event>) -> Vec<Outcome> {
        let len = batch.len();
        STAGE
            .with(|stage| {
                let outcomes = stage.engine.process(&batch, inference::now_ns(), &mut Host);
                for body in stage.engine.take_signals() {
                    if !sluice_guest::emit(SignalKind::Insight, &body) {
                        sluice_guest::log!(Warn, "the host refused an insight signal ({} bytes)", body.len());
                    }
                }
                save(stage);
                outcomes
            })
            .unwrap_or_else(|| (0..len).map(|_| sluice_guest::fail("enrich: process called before init")).collect())
    }
}

/// Applies the engine's store writes. A refused write (quota, size) is not fatal: the pattern
/// stays in memory and is written again the next time it changes.
fn save(stage: &mut Stage) {
    stage.saves.record(State.apply(stage.engine.take_writes()));
}

// Only on WebAssembly: the export symbols' names (`sluice:pipeline/batch-stage@0.1.1#init`) are not
// valid in a native shared library, which `cargo test` also builds.
#[cfg(target_arch = "wasm32")]
sluice_guest::export_stage!(Enrich);
