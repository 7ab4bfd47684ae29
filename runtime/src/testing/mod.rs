//! `sluice test`: runs a pipeline file's test cases (`tests:`, schema in
//! [`crate::config::testcase`]) against the real guests under the file's own limits.
//!
//! For each case the stages are built exactly as production builds them ([`harness`]): the same
//! components, `config` and `limits` (deadline, memory, batch size, state quota), but fresh, empty
//! host state and nothing on disk except the compile cache. Each record then goes through all
//! stages **on its own, as a batch of one**, in the order written, on the same stage instances.
//! That attributes every output and dead letter to exactly one record (a batch would mix them
//! once a guest splits or drops), while stateful guests such as `mine` still see the whole
//! sequence. The price: batch effects (one trap dead-lettering a whole batch) are not reproduced;
//! a trap takes only its own record. A tick entry gives every stage an empty call instead.
//!
//! Time: a case with a `clock` runs on its own timeline
//! ([`ClockSpec::timeline`](crate::config::testcase::ClockSpec::timeline)); the host clock
//! shows each entry's time while it is processed (and `start` while the stages' `init` runs), and
//! reads the wall clock again once the case is over. Without `clock`, records are stamped with the
//! wall clock, as today. Signals are collected per entry, from every stage, after its call.
//!
//! Layout: `harness` builds stages and feeds records and ticks, `clock` drives the host clock,
//! `expect` decides whether a record's fate is what was expected and `signals` whether its
//! signals are, `view` is the stored form of an event that paths address, `report` prints the
//! results, `cache` picks the compile cache directory. This module only orchestrates; it never
//! stores events, and never talks to a running server.

mod cache;
mod clock;
mod expect;
mod harness;
mod report;
mod signals;
#[cfg(test)]
mod tests;
mod view;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

pub use expect::{Mismatch, Observed};
pub use report::{CaseReport, Failure, FileReport, Summary};

use crate::config::testcase::{TestCase, TestInput};
use crate::config::{ConfigError, Pipeline};
use crate::event::now_ns;
use crate::wasm::{Clock, Guest, LoadError, WasmHost, WasmOptions};
use clock::CaseClock;
use harness::Harness;

/// Why a file's tests could not run at all (as opposed to running and failing).
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{}: no test cases; add a `tests:` section", file.display())]
    NoTests { file: PathBuf },
    #[error("{}: stage `{stage}`: cannot load its guest: {message}", file.display())]
    Guest { file: PathBuf, stage: String, message: String },
    #[error("cannot start the wasm engine: {0}")]
    Engine(#[source] LoadError),
}

/// Runs test files; holds the one Wasm engine of the run.
#[derive(Debug)]
pub struct Runner {
    wasm: WasmHost,
    data_dir: Option<PathBuf>,
}

impl Runner {
    /// `data_dir` is a server's data directory: its uploaded guests can be named by pipelines,
    /// and its compile cache is used. Without it, the cache is a private temporary directory.
    pub fn new(data_dir: Option<&Path>) -> Result<Runner, TestError> {
        Runner::open(data_dir, None)
    }

    /// As [`Runner::new`], also loading guests precompiled for this binary from `precompiled`
    /// (`sluice guest precompile`): a runtime-only build runs only those.
    pub fn open(data_dir: Option<&Path>, precompiled: Option<&Path>) -> Result<Runner, TestError> {
        let cache_dir = match data_dir {
            Some(dir) => dir.join("cache"),
            None => cache::private_temp_dir(),
        };
        let options = WasmOptions::cached(cache_dir).with_precompiled(precompiled.map(Path::to_path_buf));
        let wasm = WasmHost::open(options).map_err(TestError::Engine)?;
        Ok(Runner { wasm, data_dir: data_dir.map(Path::to_path_buf) })
    }

    /// Loads a pipeline file and runs all its test cases.
    pub fn run_file(&self, path: &Path) -> Result<FileReport, TestError> {
        self.run_pipeline(&Pipeline::load(path)?)
    }

    /// Runs all test cases of a parsed pipeline.
    pub fn run_pipeline(&self, pipeline: &Pipeline) -> Result<FileReport, TestError> {
        let path = pipeline.path.as_path();
        if pipeline.config.tests.is_empty() {
            return Err(TestError::NoTests { file: path.to_path_buf() });
        }
        let guests = harness::load_guests(&self.wasm, pipeline, self.data_dir.as_deref())
            .map_err(|f| TestError::Guest { file: path.to_path_buf(), stage: f.stage, message: f.message })?;
        let clock = &self.wasm.services().clock;
        let cases = pipeline.config.tests.iter().map(|case| run_case(pipeline, &guests, case, clock)).collect();
        Ok(FileReport { file: path.to_path_buf(), cases })
    }
}

/// Runs the tests of one file with an engine of its own.
pub fn run_file(path: &Path, data_dir: Option<&Path>) -> Result<FileReport, TestError> {
    Runner::new(data_dir)?.run_file(path)
}

fn run_case(pipeline: &Pipeline, guests: &[Arc<Guest>], case: &TestCase, clock: &Clock) -> CaseReport {
    let mut report = CaseReport { name: case.name.clone(), setup_error: None, failures: Vec::new() };
    // Parsing checks the timeline; a hand-built config might not.
    let times = match case.clock.as_ref().map(|c| c.timeline(&case.input)).transpose() {
        Ok(times) => times,
        Err(e) => {
            report.setup_error = Some(format!("clock: {e}"));
            return report;
        }
    };
    // Set before the stages exist, so a guest's `init` already sees the case's time.
    let clock = CaseClock::new(clock, case.clock.as_ref().map(|c| c.start));
    let mut harness = match Harness::new(pipeline, guests) {
        Ok(harness) => harness,
        Err(e) => {
            report.setup_error = Some(e);
            return report;
        }
    };
    // Every entry runs, in order, before anything is checked: the sequence is what a stateful
    // guest sees, whichever entries the expectations name.
    let observed: Vec<Observed> = case
        .input
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let at = times.as_ref().and_then(|t| t.get(i).copied());
            if let Some(at) = at {
                clock.set(at);
            }
            match entry {
                TestInput::Record(record) => harness.feed(&record.raw, at.unwrap_or_else(now_ns)),
                TestInput::Tick(_) => harness.tick(),
            }
        })
        .collect();
    drop(clock);
    for expectation in &case.expect {
        let (mismatches, observed) = match observed.get(expectation.input) {
            Some(seen) => {
                let mut mismatches = expectation.fate.as_ref().map(|f| expect::check(f, seen)).unwrap_or_default();
                mismatches.extend(signals::check(&expectation.signals, &seen.signals));
                (mismatches, seen.clone())
            }
            // Parsing rejects this; a hand-built config might not.
            None => (
                vec![Mismatch {
                    path: None,
                    expected: format!("an entry numbered {}", expectation.input),
                    got: format!("entries 0 to {}", case.input.len().saturating_sub(1)),
                }],
                Observed::default(),
            ),
        };
        if !mismatches.is_empty() {
            report.failures.push(Failure {
                input: expectation.input,
                tick: case.input.get(expectation.input).is_some_and(TestInput::is_tick),
                signals_checked: !expectation.signals.is_empty(),
                mismatches,
                observed,
            });
        }
    }
    report
}

/// `sluice test`: runs every file, prints each case's result, the failures' diffs and a summary
/// line; fails when any case fails or any file cannot run (including a file without tests).
pub fn cli_main(pipelines: &[PathBuf], data_dir: Option<&Path>, precompiled: Option<&Path>) -> ExitCode {
    let runner = match Runner::open(data_dir, precompiled) {
        Ok(runner) => runner,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A closed stdout (`sluice test ... | head`) must not turn into a panic; the exit code still
    // tells the truth.
    let mut out = std::io::stdout().lock();
    let mut summary = Summary::default();
    for path in pipelines {
        match runner.run_file(path) {
            Ok(report) => {
                let _ = write!(out, "{report}");
                summary.add(&report);
            }
            Err(e) => {
                let _ = out.flush();
                eprintln!("error: {e}");
                summary.unrunnable += 1;
            }
        }
    }
    let _ = writeln!(out, "{summary}");
    if summary.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
