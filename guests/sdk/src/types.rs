//! The data a stage works on, as plain owned Rust values.
//!
//! These mirror the records of the WIT interface `types` field for field, so a guest written
//! against them reads like one written against that interface. What crosses the boundary is the
//! `batch-types` layout instead (strings in one buffer, referred to by span); the SDK converts
//! between the two (see [`BatchView`](crate::BatchView) and [`Answers`](crate::Answers)), and a
//! guest that wants to skip the copies can work on that layout directly.

/// One key of an event's open, structured attributes.
///
/// Attributes carry what producers call `metadata`, `context`, `extra` or `payload`: whatever
/// they sent beyond the well-known fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The attribute's name.
    pub key: String,
    /// The value as JSON text (`"text"`, `42`, `{"nested": true}`, ...).
    pub value: String,
}

/// The pattern (log template) an event belongs to, added by a mining stage.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternRef {
    /// Stable identifier: the same template keeps its id across restarts and versions.
    pub id: String,
    /// The template, with variable parts written as `<*>`.
    pub template: String,
}

/// One log event.
///
/// Before a parsing stage has run, most fields are empty and `raw` holds the record as it was
/// received; a parsing stage (the standard `normalize` guest) fills the fields and clears `raw`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique id assigned by the host at ingest. Outputs use it to write idempotently, so a stage
    /// that replaces an event with a changed copy should keep it.
    pub id: String,
    /// When the event happened: nanoseconds since the Unix epoch, UTC. The ingest time until a
    /// stage parses the record's own timestamp.
    pub timestamp_ns: i64,
    /// When the host received the event: nanoseconds since the Unix epoch, UTC. Read only.
    pub received_ns: i64,
    /// The input that received the event, as named in the pipeline file.
    pub input: String,
    /// Canonical level after normalization: DEBUG, INFO, WARNING, ERROR or CRITICAL. Empty until
    /// a stage sets it.
    pub level: String,
    /// The emitting service or subsystem.
    pub source: Option<String>,
    /// The code module that logged the event.
    pub module: Option<String>,
    /// The function that logged the event.
    pub function: Option<String>,
    /// The source file that logged the event.
    pub file: Option<String>,
    /// The line in `file`.
    pub line: Option<u32>,
    /// Routing topic.
    pub topic: Option<String>,
    /// The human-readable message.
    pub message: String,
    /// The user the event concerns.
    pub user_id: Option<String>,
    /// The session the event belongs to.
    pub session_id: Option<String>,
    /// The distributed trace the event belongs to.
    pub trace_id: Option<String>,
    /// Open structured attributes, in the order they were received.
    pub attributes: Vec<Attribute>,
    /// The record as received (a JSON object, a logfmt line or a plain text line), until a stage
    /// has parsed it.
    pub raw: Option<String>,
    /// Set by a mining stage.
    pub pattern: Option<PatternRef>,
    /// Set by an enrichment stage: a JSON object (summary, severity, suggested action ...).
    pub insight: Option<String>,
}

/// Changes a stage makes to an event without sending the event back.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// Sets the event's level (canonical: DEBUG, INFO, WARNING, ERROR, CRITICAL).
    pub level: Option<String>,
    /// Sets the event's pattern.
    pub pattern: Option<PatternRef>,
    /// Sets the event's insight (JSON object text).
    pub insight: Option<String>,
    /// Adds these attributes; a key already present is replaced.
    pub attributes: Vec<Attribute>,
}

/// What a stage decided for one event of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Pass the event on unchanged.
    Keep,
    /// Pass the event on with these changes applied by the host.
    Annotate(Annotation),
    /// Put these events in its place: zero drops it, several split it.
    Replace(Vec<Event>),
    /// The event cannot be processed; the host moves it to the dead-letter store with this
    /// reason. The stage keeps running.
    Fail(String),
}
