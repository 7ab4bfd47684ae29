//! `sluice mine`: runs the real `mine` guest (or another mining component) over a log file, as a
//! pipeline stage would run it, and reports the patterns it found.
//!
//! Each line's `<Content>` (see [`format`]) becomes one event's message; events go to the guest
//! in batches through the same wasm seam the pipeline uses. The pattern a line ends up in is the
//! one its annotation named, followed through later merges (the guest's `pattern-changed`
//! signals), with that pattern's final template: exactly what the stores hold after re-pointing.
//! So the CSV written is what a benchmark's evaluator scores.

pub mod cli;
pub mod format;
mod report;

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use format::LogFormat;
pub use report::{PatternSummary, Summary, Times};

use crate::event::{Annotation, Event, SignalKind, now_ns};
use crate::wasm::{
    CallError, GuestState, InstanceLimits, LoadError, Outcome, StateLimits, WasmHost, WasmOptions, builtin,
};

/// Why mining could not run.
#[derive(Debug, thiserror::Error)]
pub enum MineError {
    #[error("invalid --format: {0}")]
    Format(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("the guest failed: {0}")]
    Guest(#[from] CallError),
}

/// What to mine, and how.
#[derive(Debug, Clone)]
pub struct MineOptions {
    /// The log file, one record per line.
    pub file: PathBuf,
    /// The log-format string; none: every line is mined whole.
    pub format: Option<String>,
    /// The guest's `config` as JSON text (`{}`: its defaults).
    pub config: String,
    /// A mining component to use instead of the built-in `mine`.
    pub guest: Option<PathBuf>,
    /// Lines per guest call (the pipeline's batch size).
    pub batch: usize,
    /// Where compiled guests are cached.
    pub cache_dir: PathBuf,
    /// Also time the guest's own code apart from the boundary crossing (slows calls slightly).
    pub split_time: bool,
    /// Guests precompiled for this binary (`sluice guest precompile`).
    pub precompiled_dir: Option<PathBuf>,
}

/// Mines `options.file`; returns the summary and, per line (in order), its pattern id.
pub fn run(options: &MineOptions) -> Result<(Summary, Vec<String>), MineError> {
    let format = options.format.as_deref().map(LogFormat::parse).transpose().map_err(MineError::Format)?;
    let started = Instant::now();
    let wasm = WasmHost::open(
        WasmOptions::cached(options.cache_dir.clone()).with_precompiled(options.precompiled_dir.clone()),
    )?;
    let guest = match &options.guest {
        Some(path) => wasm.load_file("mine", path)?,
        None => wasm.load("mine", builtin::get("mine").unwrap_or_default())?,
    };
    let state = Arc::new(GuestState::new("mine", StateLimits::with_quota_mib(1024), Vec::new()));
    // Offline, over a file: generous limits, so only a broken guest stops the run.
    let limits = InstanceLimits { deadline: Duration::from_secs(120), memory_bytes: 2 << 30 };
    let mut instance = guest.instantiate(state.clone(), limits, &options.config)?;
    if options.split_time {
        instance.time_guest_code();
    }

    let file =
        std::fs::File::open(&options.file).map_err(|source| MineError::Read { path: options.file.clone(), source })?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut patterns = Patterns::default();
    let mut line_ids: Vec<Arc<str>> = Vec::new();
    let mut unmatched = 0usize;
    let mut guest_time = Duration::ZERO;
    let mut buffer = Vec::new();
    let mut batch: Vec<Event> = Vec::with_capacity(options.batch);
    let received_ns = now_ns();
    loop {
        buffer.clear();
        let read = reader
            .read_until(b'\n', &mut buffer)
            .map_err(|source| MineError::Read { path: options.file.clone(), source })?;
        if read > 0 {
            let line = String::from_utf8_lossy(&buffer);
            let line = line.trim_end_matches(['\n', '\r']);
            let content = match &format {
                Some(format) => {
                    let (content, matched) = format.content(line);
                    unmatched += usize::from(!matched);
                    content
                }
                None => line,
            };
            let n = line_ids.len() + batch.len() + 1;
            batch.push(Event {
                id: n.to_string(),
                timestamp_ns: received_ns,
                received_ns,
                input: "file".into(),
                message: content.to_string(),
                ..Event::default()
            });
        }
        if batch.len() >= options.batch.max(1) || (read == 0 && !batch.is_empty()) {
            let events = std::mem::take(&mut batch);
            let call = Instant::now();
            let pairs = instance.process(events).map_err(|(_, e)| e)?;
            guest_time += call.elapsed();
            for (_, outcome) in pairs {
                line_ids.push(patterns.observe(&outcome));
            }
            state.take_writes();
            for signal in state.take_signals() {
                if signal.kind == SignalKind::PatternChanged {
                    patterns.changed(&signal.body);
                }
            }
        }
        if read == 0 {
            break;
        }
    }
    let resolved: Vec<String> = line_ids.iter().map(|id| patterns.resolve(id).to_string()).collect();
    let code_time = options.split_time.then(|| instance.guest_code_time());
    let times = Times { calls: guest_time, code: code_time, total: started.elapsed() };
    let summary = Summary::new(&resolved, &patterns.templates, unmatched, times);
    Ok((summary, resolved))
}

/// Writes `LineId,EventTemplate` (LineId 1-based), the input log-parsing evaluators take.
pub fn write_csv(path: &Path, line_ids: &[String], summary: &Summary) -> Result<(), MineError> {
    let templates: HashMap<&str, &str> =
        summary.patterns.iter().map(|p| (p.id.as_str(), p.template.as_str())).collect();
    let mut out = String::with_capacity(line_ids.len() * 64);
    out.push_str("LineId,EventTemplate\n");
    for (i, id) in line_ids.iter().enumerate() {
        out.push_str(&(i + 1).to_string());
        out.push(',');
        push_csv_field(&mut out, templates.get(id.as_str()).copied().unwrap_or_default());
        out.push('\n');
    }
    std::fs::write(path, out).map_err(|source| MineError::Write { path: path.to_path_buf(), source })
}

/// RFC 4180 quoting; a few lines, so no CSV crate for the one field that needs it.
fn push_csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// What the guest said about patterns: each one's latest template, and merges.
#[derive(Debug, Default)]
struct Patterns {
    templates: HashMap<Arc<str>, Arc<str>>,
    /// Merged pattern → the pattern it went into.
    merged_into: HashMap<String, String>,
}

impl Patterns {
    /// The pattern an outcome names ("" when it named none).
    fn observe(&mut self, outcome: &Outcome) -> Arc<str> {
        match outcome {
            Outcome::Annotate(Annotation { pattern: Some(p), .. }) => {
                self.templates.insert(p.id.clone(), p.template.clone());
                p.id.clone()
            }
            _ => Arc::default(),
        }
    }

    fn changed(&mut self, body: &serde_json::Map<String, serde_json::Value>) {
        let Some(id) = body.get("id").and_then(serde_json::Value::as_str) else { return };
        if let Some(template) = body.get("template").and_then(serde_json::Value::as_str) {
            self.templates.insert(id.into(), template.into());
        }
        for merged in body.get("merged").and_then(serde_json::Value::as_array).into_iter().flatten() {
            if let Some(merged) = merged.as_str().filter(|m| *m != id) {
                self.merged_into.insert(merged.to_string(), id.to_string());
            }
        }
    }

    /// The pattern `id` is part of now, following merges (a cycle stops where it closes).
    fn resolve<'a>(&'a self, mut id: &'a str) -> &'a str {
        for _ in 0..self.merged_into.len() {
            match self.merged_into.get(id) {
                Some(next) => id = next,
                None => break,
            }
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::push_csv_field;

    #[test]
    fn csv_quoting() {
        let mut s = String::new();
        push_csv_field(&mut s, "a <*> b");
        s.push(',');
        push_csv_field(&mut s, "x, \"y\"");
        assert_eq!(s, "a <*> b,\"x, \"\"y\"\"\"");
    }
}
