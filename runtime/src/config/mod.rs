//! Pipeline files: parsing, validation and precise error reports.
//!
//! A pipeline file is YAML (schema in [`pipeline`]). Errors name the file, the line and the
//! offending key, so `sluice check` can point straight at the mistake.

pub mod amqp;
pub mod inference;
pub mod kafka;
mod pipeline;
pub mod postgres;
pub mod testcase;
pub mod webhook;
pub mod zeromq;

use std::fmt;
use std::path::{Path, PathBuf};

pub use inference::InferenceConfig;
pub use pipeline::{
    BatchConfig, HttpInputConfig, InputConfig, JournalConfig, LibsqlOutputConfig, LimitsConfig, OutputConfig,
    PipelineConfig, SessionBufferConfig, StageConfig, WebsocketOutputConfig,
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
    /// The file's text, so a reload can tell whether the file really changed.
    pub text: String,
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
        let pipeline = Pipeline { config, path: path.to_path_buf(), text: text.to_string() };
        pipeline.validate(text)?;
        Ok(pipeline)
    }

    /// Where a stage's guest comes from (see [`StageConfig::guest`]).
    pub fn guest_source(&self, stage: &StageConfig) -> GuestSource {
        let g = &stage.guest;
        if g.contains('/') || g.ends_with(".wasm") {
            let dir = self.path.parent().unwrap_or(Path::new("."));
            GuestSource::File(dir.join(g))
        } else if builtin::get(g).is_some() {
            GuestSource::Builtin(g.clone())
        } else {
            GuestSource::Registry(g.clone())
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
        let mut input_names = std::collections::HashSet::new();
        for (i, input) in c.inputs.iter().enumerate() {
            if !input.is_built() {
                return Err(fail(format!("inputs[{i}]"), input.kind(), not_built("input", input.kind())));
            }
            if !input_names.insert(input.name()) {
                return Err(fail(
                    format!("inputs[{i}]"),
                    input.name(),
                    format!("input name `{}` is used twice; give one a `name`", input.name()),
                ));
            }
            if let InputConfig::Amqp(a) = input {
                if !a.routing_keys.is_empty() && a.exchange.is_none() {
                    return Err(fail(
                        format!("inputs[{i}].amqp.routing_keys"),
                        "routing_keys",
                        "routing keys need an `exchange` to bind the queue to".into(),
                    ));
                }
                if a.queue.is_empty() {
                    return Err(fail(format!("inputs[{i}].amqp.queue"), "queue", "must not be empty".into()));
                }
            }
            if let InputConfig::Zeromq(z) = input
                && let Err(message) = z.validate()
            {
                return Err(fail(format!("inputs[{i}].zeromq"), "zeromq", message));
            }
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
            match self.guest_source(stage) {
                GuestSource::File(file) if !file.is_file() => {
                    return Err(fail(
                        format!("{key}.guest"),
                        &stage.guest,
                        format!("guest file {} not found", file.display()),
                    ));
                }
                GuestSource::File(file) => {
                    if let Err(e) = guest_name_of_file(&file) {
                        return Err(fail(format!("{key}.guest"), &stage.guest, e));
                    }
                }
                GuestSource::Registry(name) => {
                    if let Err(e) = validate_guest_name(&name) {
                        return Err(fail(
                            format!("{key}.guest"),
                            &stage.guest,
                            format!(
                                "`{name}` is not a built-in guest ({}), a `.wasm` path or an uploaded guest's name: {e}",
                                builtin::NAMES.join(", ")
                            ),
                        ));
                    }
                }
                GuestSource::Builtin(_) => {}
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
        for (i, output) in c.outputs.iter().enumerate() {
            if !output.is_built() {
                return Err(fail(format!("outputs[{i}]"), output.kind(), not_built("output", output.kind())));
            }
            if output.name() == "libsql" && !matches!(output, OutputConfig::Libsql(_)) {
                return Err(fail(
                    format!("outputs[{i}]"),
                    "libsql",
                    "the name `libsql` belongs to the embedded store; choose another".into(),
                ));
            }
            if let OutputConfig::Postgres(p) = output
                && (p.pool.max == 0 || p.pool.min > p.pool.max)
            {
                return Err(fail(
                    format!("outputs[{i}].postgres.pool"),
                    "pool",
                    format!("needs 1 <= max and min <= max (got min {}, max {})", p.pool.min, p.pool.max),
                ));
            }
            if let OutputConfig::Webhook(w) = output
                && let Err(message) = w.validate()
            {
                return Err(fail(format!("outputs[{i}].webhook"), "webhook", message));
            }
            if let OutputConfig::Websocket(w) = output
                && w.sessions.max_sessions == 0
            {
                return Err(fail(
                    format!("outputs[{i}].websocket.sessions.max_sessions"),
                    "max_sessions",
                    "must be above zero (set max_messages: 0 to buffer nothing)".into(),
                ));
            }
        }
        if c.journal.max_pending_mib == 0 {
            return Err(fail("journal.max_pending_mib".into(), "max_pending_mib", "must be above zero".into()));
        }
        if c.batch.max_events == 0 {
            return Err(fail("batch.max_events".into(), "max_events", "must be above zero".into()));
        }
        testcase::validate(&self.path, text, &c.tests)?;
        Ok(())
    }
}

/// Where a guest's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestSource {
    /// Embedded in the binary.
    Builtin(String),
    /// A component file.
    File(PathBuf),
    /// A guest uploaded to the running server's registry, by name.
    Registry(String),
}

impl GuestSource {
    /// The component bytes of a built-in or file guest; `None` for an uploaded guest, whose
    /// versions live in the server's registry.
    pub fn local_bytes(&self) -> Result<Option<std::borrow::Cow<'static, [u8]>>, String> {
        match self {
            GuestSource::Builtin(name) => builtin::get(name)
                .map(|b| Some(std::borrow::Cow::Borrowed(b)))
                .ok_or_else(|| format!("`{name}` is not a built-in guest")),
            GuestSource::File(path) => std::fs::read(path)
                .map(|b| Some(std::borrow::Cow::Owned(b)))
                .map_err(|e| format!("cannot read guest {}: {e}", path.display())),
            GuestSource::Registry(_) => Ok(None),
        }
    }

    /// The guest's name: what versions are uploaded under and activated by.
    pub fn guest_name(&self) -> Result<String, String> {
        match self {
            GuestSource::Builtin(name) | GuestSource::Registry(name) => Ok(name.clone()),
            GuestSource::File(path) => guest_name_of_file(path),
        }
    }
}

/// Longest guest name.
pub const MAX_GUEST_NAME: usize = 64;

/// Guest names become directory names and URL segments, so they are kept to a safe alphabet:
/// lowercase ASCII letters, digits, `-` and `_`, starting with a letter or digit, at most
/// [`MAX_GUEST_NAME`] bytes. This rules out path tricks (`..`, `/`, `\\`, NUL) by construction.
/// The refusal of an input or output this build was made without: which feature brings it.
fn not_built(role: &str, kind: &str) -> String {
    format!(
        "this build of sluice has no `{kind}` {role}: it was built without the `{kind}` feature \
         (build with `--features {kind}`, or use the default build, which has every input and output)"
    )
}

pub fn validate_guest_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a guest name cannot be empty".into());
    }
    if name.len() > MAX_GUEST_NAME {
        return Err(format!("a guest name has at most {MAX_GUEST_NAME} characters"));
    }
    let first_ok = name.as_bytes()[0].is_ascii_lowercase() || name.as_bytes()[0].is_ascii_digit();
    let all_ok = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !first_ok || !all_ok {
        return Err(format!(
            "invalid guest name `{}`: use lowercase letters, digits, `-` and `_`, starting with a letter or digit",
            name.escape_default()
        ));
    }
    Ok(())
}

/// A file guest is named after its file's stem (`guests/redact.wasm` → `redact`), lowercased with
/// anything outside the name alphabet turned into `-`.
fn guest_name_of_file(path: &Path) -> Result<String, String> {
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_lowercase()).unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' { c } else { '-' })
        .collect::<String>()
        .trim_start_matches(['-', '_'])
        .chars()
        .take(MAX_GUEST_NAME)
        .collect();
    validate_guest_name(&name).map(|()| name).map_err(|e| format!("cannot name a guest after {}: {e}", path.display()))
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
    fn guest_sources_and_names() {
        let text = "inputs: [{http: {}}]\nstages:\n  - name: a\n    guest: mine\n  - name: b\n    guest: redact\noutputs: [{libsql: {}}]\n";
        let p = parse(text).expect("registry names are valid");
        assert_eq!(p.guest_source(&p.config.stages[0]), GuestSource::Builtin("mine".into()));
        assert_eq!(p.guest_source(&p.config.stages[1]), GuestSource::Registry("redact".into()));
        let text = "inputs: [{http: {}}]\nstages:\n  - name: a\n    guest: Bad.Name\noutputs: [{libsql: {}}]\n";
        let err = parse(text).expect_err("bad name");
        assert!(err.message.contains("invalid guest name"), "{err}");
        for bad in ["", "..", "a/b", "-x", "A", "a b", "a\0"] {
            assert!(validate_guest_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_guest_name(&"x".repeat(65)).is_err());
        assert_eq!(guest_name_of_file(Path::new("/x/My Guest.wasm")).as_deref(), Ok("my-guest"));
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
