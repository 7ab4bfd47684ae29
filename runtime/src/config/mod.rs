//! Pipeline files: parsing, validation and precise error reports.
//!
//! A pipeline file is YAML (schema in [`pipeline`]). Errors name the file, the line and the
//! offending key, so `sluice check` can point straight at the mistake.

mod pipeline;

use std::fmt;
use std::path::{Path, PathBuf};

pub use pipeline::{
    BatchConfig, HttpInputConfig, InputConfig, JournalConfig, LibsqlOutputConfig, LimitsConfig, OutputConfig,
    PipelineConfig, StageConfig, WebsocketOutputConfig,
};

use crate::wasm::builtin;

/// A pipeline file that cannot be used, located as precisely as the problem allows.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Path of the offending key, e.g. `stages[1].limits.deadline`.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A parsed, validated pipeline and where it came from.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub config: PipelineConfig,
    /// The file it was read from; guest paths are relative to its directory.
    pub path: PathBuf,
}

impl Pipeline {
    /// Reads, parses and validates a pipeline file.
    pub fn load(path: &Path) -> Result<Pipeline, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            key: None,
            message: format!("cannot read: {e}"),
        })?;
        Pipeline::parse(path, &text)
    }

    /// Parses and validates pipeline text; `path` is used for messages and relative guest paths.
    pub fn parse(path: &Path, text: &str) -> Result<Pipeline, ConfigError> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let config: PipelineConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            ConfigError {
                file: path.to_path_buf(),
                line: inner.location().map(|l| l.line()),
                key: (key != ".").then_some(key),
                message: strip_location(&inner.to_string()),
            }
        })?;
        let pipeline = Pipeline { config, path: path.to_path_buf() };
        pipeline.validate(text)?;
        Ok(pipeline)
    }

    /// Where a stage's guest comes from.
    pub fn guest_source(&self, stage: &StageConfig) -> GuestSource {
        if builtin::get(&stage.guest).is_some() {
            GuestSource::Builtin(stage.guest.clone())
        } else {
            let dir = self.path.parent().unwrap_or(Path::new("."));
            GuestSource::File(dir.join(&stage.guest))
        }
    }

    /// Checks what the schema cannot: unique names, existing guests, sane limits.
    fn validate(&self, text: &str) -> Result<(), ConfigError> {
        let fail = |key: String, needle: &str, message: String| ConfigError {
            file: self.path.clone(),
            line: locate(text, needle),
            key: Some(key),
            message,
        };
        let c = &self.config;
        if c.inputs.is_empty() {
            return Err(fail("inputs".into(), "inputs", "at least one input is required".into()));
        }
        if c.outputs.is_empty() {
            return Err(fail("outputs".into(), "outputs", "at least one output is required".into()));
        }
        let http_inputs = c.inputs.iter().filter(|i| matches!(i, InputConfig::Http(_))).count();
        if http_inputs > 1 {
            return Err(fail("inputs".into(), "http", "at most one `http` input: the HTTP server is shared".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, stage) in c.stages.iter().enumerate() {
            let key = format!("stages[{i}]");
            if !seen.insert(stage.name.as_str()) {
                return Err(fail(
                    format!("{key}.name"),
                    &stage.name,
                    format!("stage name `{}` is used twice", stage.name),
                ));
            }
            if let GuestSource::File(file) = self.guest_source(stage)
                && !file.is_file()
            {
                return Err(fail(
                    format!("{key}.guest"),
                    &stage.guest,
                    format!(
                        "`{}` is neither a built-in guest ({}) nor a file ({} not found)",
                        stage.guest,
                        builtin::NAMES.join(", "),
                        file.display()
                    ),
                ));
            }
            let l = &stage.limits;
            if l.deadline.is_zero() {
                return Err(fail(format!("{key}.limits.deadline"), "deadline", "must be above zero".into()));
            }
            if l.memory_mib == 0 || l.memory_mib > 4096 {
                return Err(fail(format!("{key}.limits.memory_mib"), "memory_mib", "must be 1 to 4096".into()));
            }
            if l.max_batch == 0 {
                return Err(fail(format!("{key}.limits.max_batch"), "max_batch", "must be above zero".into()));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, output) in c.outputs.iter().enumerate() {
            if !names.insert(output.name()) {
                return Err(fail(
                    format!("outputs[{i}]"),
                    output.name(),
                    format!("output name `{}` is used twice", output.name()),
                ));
            }
        }
        if c.journal.max_pending_mib == 0 {
            return Err(fail("journal.max_pending_mib".into(), "max_pending_mib", "must be above zero".into()));
        }
        if c.batch.max_events == 0 {
            return Err(fail("batch.max_events".into(), "max_events", "must be above zero".into()));
        }
        Ok(())
    }
}

/// Where a guest's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestSource {
    Builtin(String),
    File(PathBuf),
}

/// serde_yaml puts its own key path in front and "at line X column Y" behind its messages; we
/// report both separately.
fn strip_location(message: &str) -> String {
    let message = match message.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => rest,
        _ => message,
    };
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Best-effort line of the first line mentioning `needle`, for errors found after parsing (the
/// parsed structs carry no positions).
fn locate(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Pipeline, ConfigError> {
        Pipeline::parse(Path::new("p.yaml"), text)
    }

    #[test]
    fn minimal_pipeline_gets_defaults() {
        let p = parse("inputs:\n  - http: {}\noutputs:\n  - libsql: {}\n").expect("valid");
        assert!(p.config.stages.is_empty());
        assert_eq!(p.config.inputs[0].name(), "http");
        assert_eq!(p.config.batch.max_events, 4096);
    }

    #[test]
    fn unknown_key_is_reported_with_line_and_path() {
        let text = "inputs:\n  - http:\n      max_bodi_bytes: 3\noutputs:\n  - libsql: {}\n";
        let err = parse(text).expect_err("unknown key");
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("inputs[0].http.max_bodi_bytes"));
        assert!(err.message.contains("unknown field `max_bodi_bytes`"), "{err}");
        assert!(err.to_string().starts_with("p.yaml:3: inputs[0].http.max_bodi_bytes: unknown field"), "{err}");
    }

    #[test]
    fn bad_duration_is_reported() {
        let text = "inputs: [{http: {}}]\nstages:\n  - name: n\n    guest: normalize\n    limits:\n      deadline: soon\noutputs: [{libsql: {}}]\n";
        let err = parse(text).expect_err("bad duration");
        assert_eq!(err.key.as_deref(), Some("stages[0].limits.deadline"));
        assert!(err.message.contains("invalid duration `soon`"), "{err}");
        assert_eq!(err.line, Some(6));
    }

    #[test]
    fn missing_guest_and_duplicate_stage_are_reported() {
        let text = "inputs: [{http: {}}]\nstages:\n  - name: a\n    guest: nope.wasm\noutputs: [{libsql: {}}]\n";
        let err = parse(text).expect_err("missing guest");
        assert_eq!(err.key.as_deref(), Some("stages[0].guest"));
        assert_eq!(err.line, Some(4));
        let text = "inputs: [{http: {}}]\nstages:\n  - name: a\n    guest: mine\n  - name: a\n    guest: normalize\noutputs: [{libsql: {}}]\n";
        let err = parse(text).expect_err("duplicate");
        assert!(err.message.contains("used twice"), "{err}");
    }

    #[test]
    fn every_pipeline_in_the_repository_is_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines");
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).expect("pipelines dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                Pipeline::load(&path).unwrap_or_else(|e| panic!("{e}"));
                count += 1;
            }
        }
        assert!(count >= 1, "no pipelines found in {}", dir.display());
    }
}
