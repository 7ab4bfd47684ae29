//! The `normalize` guest: turns raw records (JSON, logfmt, plain text) into structured events
//! with canonical levels and UTC timestamps.
//!
//! The parsing lives in plain modules, testable natively; the [`Guest`] implementation at the
//! bottom only moves data between them and the host.

mod attrs;
mod config;
mod fields;
mod json;
mod level;
mod logfmt;
mod normalize;
mod plain;
mod record;
mod time;

#[cfg(test)]
mod tests;

pub use config::Settings;
pub use normalize::normalize;

use sluice_guest::{Event, Guest, InstanceCell, Outcome};

/// The settings `init` validated, used by every `process` call of this instance.
static SETTINGS: InstanceCell<Settings> = InstanceCell::new();

/// The exported stage.
#[derive(Debug)]
pub struct Normalize;

impl Guest for Normalize {
    fn init(config: String) -> Result<(), String> {
        SETTINGS.set(Settings::from_json(&config)?);
        Ok(())
    }

    fn process(batch: Vec<Event>) -> Vec<Outcome> {
        let len = batch.len();
        SETTINGS
            .with(|settings| batch.into_iter().map(|event| normalize(event, settings)).collect())
            .unwrap_or_else(|| not_initialised(len))
    }
}

/// Outcomes for a batch that arrived before `init`: a host bug, reported per event rather than
/// guessed around.
fn not_initialised(len: usize) -> Vec<Outcome> {
    (0..len).map(|_| sluice_guest::fail("normalize: process called before init")).collect()
}

// Only on WebAssembly: the export symbols' names (`sluice:pipeline/batch-stage@0.1.1#init`) are not
// valid in a native shared library, which `cargo test` also builds.
#[cfg(target_arch = "wasm32")]
sluice_guest::export_stage!(Normalize);
