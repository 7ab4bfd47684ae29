//! Which well-known event field a producer's key stands for.
//!
//! The seeds (and the wider world) name the same field differently: `msg`, `log`, `text` for the
//! message, `severity` or `levelname` for the level, and so on. This table is the single place
//! that knows the spellings, shared by the JSON and logfmt parsers.

/// A well-known field of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Message,
    Level,
    Timestamp,
    Source,
    Module,
    Function,
    File,
    Line,
    Topic,
    User,
    Session,
    Trace,
}

impl Field {
    /// Number of fields, for per-field arrays.
    pub const COUNT: usize = 12;

    /// Position of the field in per-field arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// What a top-level key means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A well-known field; `rank` orders competing spellings (lower wins), so `message` beats `msg`
    /// whatever order the keys arrive in.
    Field { field: Field, rank: u8 },
    /// An object whose members become attributes one level down (`metadata`, `context`...).
    Container,
    /// Anything else: kept as an attribute under its own name.
    Other,
}

/// Classifies `key`. Keys match exactly as spelled in the table, or as the all-lower-case variant
/// of a camel-case spelling (`userid` for `userId`); other case changes are not the same key.
pub fn classify(key: &str) -> KeyKind {
    use Field::{File, Function, Level, Line, Message, Module, Session, Source, Timestamp, Topic, Trace, User};
    let (field, rank) = match key {
        "message" => (Message, 0),
        "msg" => (Message, 1),
        "log" => (Message, 2),
        "text" => (Message, 3),
        "event" => (Message, 4),
        "level" => (Level, 0),
        "severity" => (Level, 1),
        "lvl" => (Level, 2),
        "levelname" => (Level, 3),
        "log_level" => (Level, 4),
        "timestamp" => (Timestamp, 0),
        "time" => (Timestamp, 1),
        "ts" => (Timestamp, 2),
        "@timestamp" => (Timestamp, 3),
        "datetime" => (Timestamp, 4),
        "date" => (Timestamp, 5),
        "source" => (Source, 0),
        "service" => (Source, 1),
        "subsystem" => (Source, 2),
        "app" => (Source, 3),
        "application" => (Source, 4),
        "logger_name" => (Source, 5),
        "module" => (Module, 0),
        "function" => (Function, 0),
        "function_name" => (Function, 1),
        "func" => (Function, 2),
        "funcName" => (Function, 3),
        "funcname" => (Function, 4),
        "file" => (File, 0),
        "file_path" => (File, 1),
        "filename" => (File, 2),
        "pathname" => (File, 3),
        "line" => (Line, 0),
        "line_number" => (Line, 1),
        "lineno" => (Line, 2),
        "topic" => (Topic, 0),
        "event_type" => (Topic, 1),
        "user_id" => (User, 0),
        "user_uuid" => (User, 1),
        "userId" => (User, 2),
        "userid" => (User, 3),
        "user" => (User, 4),
        "session_id" => (Session, 0),
        "sessionId" => (Session, 1),
        "sessionid" => (Session, 2),
        "session" => (Session, 3),
        "trace_id" => (Trace, 0),
        "traceId" => (Trace, 1),
        "traceid" => (Trace, 2),
        "trace" => (Trace, 3),
        "metadata" | "context" | "extra" | "payload" | "attributes" | "fields" => {
            return KeyKind::Container;
        }
        _ => return KeyKind::Other,
    };
    KeyKind::Field { field, rank }
}

/// The key that, when no message was sent, provides one (the seeds' audit events).
pub const EVENT_TYPE: &str = "event_type";

#[cfg(test)]
mod tests {
    use super::{Field, KeyKind, classify};

    #[test]
    fn spellings_and_ranks() {
        assert_eq!(classify("message"), KeyKind::Field { field: Field::Message, rank: 0 });
        assert_eq!(classify("event"), KeyKind::Field { field: Field::Message, rank: 4 });
        assert_eq!(classify("@timestamp"), KeyKind::Field { field: Field::Timestamp, rank: 3 });
        assert_eq!(classify("funcName"), KeyKind::Field { field: Field::Function, rank: 3 });
        assert_eq!(classify("traceid"), KeyKind::Field { field: Field::Trace, rank: 2 });
        assert_eq!(classify("extra"), KeyKind::Container);
        assert_eq!(classify("Message"), KeyKind::Other);
        assert_eq!(classify("hostname"), KeyKind::Other);
    }

    #[test]
    fn indices_fit_arrays() {
        assert!(Field::Trace.index() < Field::COUNT);
    }
}
