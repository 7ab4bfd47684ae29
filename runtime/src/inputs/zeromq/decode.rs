//! One ZeroMQ message in, one verdict out: the frame layout and size checks, and the protobuf
//! `LogEntry` turned into the JSON object the `normalize` stage reads. Pure functions, no I/O.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::config::zeromq::ZeromqFormat;

/// The seed's `LogEntry`, as `proto/log_entry.proto` describes it.
///
/// Written by hand with prost's derive rather than generated: generating needs `protoc`, which
/// the build does not assume. The test `struct_matches_the_proto_file` reads the `.proto` file
/// and checks every field's name and number (and every level) against this struct.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LogEntry {
    #[prost(string, tag = "1")]
    pub timestamp: String,
    #[prost(enumeration = "LogLevel", tag = "2")]
    pub level: i32,
    #[prost(string, tag = "3")]
    pub subsystem: String,
    #[prost(string, tag = "4")]
    pub module: String,
    #[prost(string, tag = "5")]
    pub function: String,
    #[prost(string, tag = "6")]
    pub message: String,
    #[prost(string, tag = "7")]
    pub topic: String,
    #[prost(string, tag = "9")]
    pub file_path: String,
    #[prost(int32, tag = "10")]
    pub line_number: i32,
    #[prost(string, tag = "11")]
    pub user_uuid: String,
    #[prost(string, tag = "12")]
    pub session_id: String,
    #[prost(string, tag = "13")]
    pub trace_id: String,
    #[prost(string, tag = "15")]
    pub extra: String,
}

/// `LogLevel` of `proto/log_entry.proto`, numbered like Python's logging levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum LogLevel {
    Unspecified = 0,
    Debug = 10,
    Info = 20,
    Warning = 30,
    Error = 40,
    Critical = 50,
}

impl LogLevel {
    /// The name in the `.proto` file, which is also the canonical level the stages store.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Unspecified => "LOG_LEVEL_UNSPECIFIED",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
            LogLevel::Critical => "CRITICAL",
        }
    }
}

/// The level a `LogEntry.level` number stands for: the highest named level at or below it
/// (DEBUG below 10, so custom levels such as a TRACE of 5 keep their rank); none for 0 and below.
pub fn level_name(value: i32) -> Option<&'static str> {
    let level = match value {
        i32::MIN..=0 => return None,
        1..=19 => LogLevel::Debug,
        20..=29 => LogLevel::Info,
        30..=39 => LogLevel::Warning,
        40..=49 => LogLevel::Error,
        _ => LogLevel::Critical,
    };
    Some(level.name())
}

/// What the input does with one received message.
#[derive(Debug, PartialEq)]
pub enum Verdict<'a> {
    /// Its topic matches no subscription (only a peer that ignores subscriptions sends such):
    /// not ours, skipped as a ZeroMQ SUB socket would.
    NotSubscribed,
    /// Journal it with `raw` as the record and `topic` as the event's topic.
    Accept { topic: String, raw: String },
    /// Journal it as rejected: the processor dead-letters it with `reason`.
    Reject { topic: String, payload: &'a [u8], reason: String },
}

/// Judges one message, given as its frames.
pub fn judge<'a>(frames: &'a [Bytes], topics: &[String], format: ZeromqFormat, max_bytes: usize) -> Verdict<'a> {
    let Some(first) = frames.first() else {
        return Verdict::NotSubscribed;
    };
    if !topics.iter().any(|t| first.starts_with(t.as_bytes())) {
        return Verdict::NotSubscribed;
    }
    let topic = String::from_utf8_lossy(first).into_owned();
    let payload: &[u8] = frames.get(1).unwrap_or(first);
    let reject = |reason: String| Verdict::Reject { topic: topic.clone(), payload, reason };
    let size: usize = frames.iter().map(Bytes::len).sum();
    if size > max_bytes {
        return reject(format!("message too large: {size} bytes exceeds max_message_bytes {max_bytes}"));
    }
    match frames.len() {
        1 => return reject("message has no payload frame: expected [topic, payload]".into()),
        2 => {}
        n => return reject(format!("unexpected frames: message has {n}, expected [topic, payload]")),
    }
    if payload.is_empty() {
        return reject("empty payload frame".into());
    }
    let raw = match format {
        ZeromqFormat::Protobuf => match <LogEntry as prost::Message>::decode(payload) {
            Ok(entry) => entry_json(entry, &topic),
            Err(e) => {
                let detail = e.to_string();
                let detail = detail.strip_prefix("failed to decode Protobuf message: ").unwrap_or(&detail);
                return reject(format!("invalid protobuf LogEntry: {detail}"));
            }
        },
        ZeromqFormat::Json => match std::str::from_utf8(payload) {
            Ok(text) => text.to_owned(),
            Err(e) => return reject(format!("invalid UTF-8 in JSON payload: {e}")),
        },
    };
    Verdict::Accept { topic, raw }
}

/// The entry as a JSON object with the keys `normalize` knows. Fields at their default are left
/// out; `extra` is an object when it holds a JSON object, else its text.
pub fn entry_json(entry: LogEntry, frame_topic: &str) -> String {
    let mut object = Map::new();
    let mut text = |key: &str, value: String| {
        if !value.is_empty() {
            object.insert(key.to_owned(), Value::String(value));
        }
    };
    text("timestamp", entry.timestamp);
    text("level", level_name(entry.level).unwrap_or_default().to_owned());
    text("subsystem", entry.subsystem);
    text("module", entry.module);
    text("function", entry.function);
    text("message", entry.message);
    // The frame names the event's topic; the entry's own is a fallback for an empty frame.
    if frame_topic.is_empty() {
        text("topic", entry.topic);
    }
    text("file_path", entry.file_path);
    text("user_uuid", entry.user_uuid);
    text("session_id", entry.session_id);
    text("trace_id", entry.trace_id);
    if entry.line_number > 0 {
        object.insert("line_number".into(), Value::from(entry.line_number));
    }
    if !entry.extra.is_empty() {
        let extra = match serde_json::from_str::<Value>(&entry.extra) {
            Ok(value @ Value::Object(_)) => value,
            _ => Value::String(entry.extra),
        };
        object.insert("extra".into(), extra);
    }
    Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::Bytes;
    use prost::Message as _;
    use serde_json::{Value, json};

    use super::{LogEntry, LogLevel, Verdict, entry_json, judge, level_name};
    use crate::config::zeromq::ZeromqFormat;

    const PROTO: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../proto/log_entry.proto"));

    /// `(type, name, number)` of each line `type name = number;` in the block `{kind} {name} {`.
    fn proto_block(kind: &str, name: &str) -> Vec<(String, String, u32)> {
        let text: String = PROTO.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
        let start = regex::Regex::new(&format!(r"\b{kind}\s+{name}\s*\{{")).expect("regex");
        let found = start.find(&text).unwrap_or_else(|| panic!("no {kind} {name} in the .proto file"));
        let body = &text[found.end()..];
        let body = &body[..body.find('}').expect("closing brace")];
        let line = regex::Regex::new(r"(?m)^\s*(?:(\w+)\s+)?(\w+)\s*=\s*(\d+)\s*;").expect("regex");
        line.captures_iter(body)
            .map(|c| {
                let kind = c.get(1).map_or("", |m| m.as_str()).to_owned();
                (kind, c[2].to_owned(), c[3].parse().expect("number"))
            })
            .collect()
    }

    /// Field number → (wire type, value) of an encoded message, read by hand.
    fn wire_fields(mut bytes: &[u8]) -> BTreeMap<u32, (u8, Vec<u8>)> {
        fn varint(bytes: &mut &[u8]) -> u64 {
            let mut value = 0u64;
            for shift in (0..64).step_by(7) {
                let (&byte, rest) = bytes.split_first().expect("varint");
                *bytes = rest;
                value |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            value
        }
        let mut fields = BTreeMap::new();
        while !bytes.is_empty() {
            let key = varint(&mut bytes);
            let (number, wire) = ((key >> 3) as u32, (key & 7) as u8);
            let value = match wire {
                0 => varint(&mut bytes).to_string().into_bytes(),
                2 => {
                    let len = varint(&mut bytes) as usize;
                    let (value, rest) = bytes.split_at(len);
                    bytes = rest;
                    value.to_vec()
                }
                other => panic!("unexpected wire type {other}"),
            };
            assert!(fields.insert(number, (wire, value)).is_none(), "field {number} twice");
        }
        fields
    }

    #[test]
    fn struct_matches_the_proto_file() {
        // Every text field holds its own name, so the wire shows which number each one has.
        let entry = LogEntry {
            timestamp: "timestamp".into(),
            level: LogLevel::Error as i32,
            subsystem: "subsystem".into(),
            module: "module".into(),
            function: "function".into(),
            message: "message".into(),
            topic: "topic".into(),
            file_path: "file_path".into(),
            line_number: 4242,
            user_uuid: "user_uuid".into(),
            session_id: "session_id".into(),
            trace_id: "trace_id".into(),
            extra: "extra".into(),
        };
        let wire = wire_fields(&entry.encode_to_vec());
        let fields = proto_block("message", "LogEntry");
        assert_eq!(fields.len(), wire.len(), "the .proto file has {fields:?}, the struct encodes {wire:?}");
        for (kind, name, number) in &fields {
            let (wire_type, value) =
                wire.get(number).unwrap_or_else(|| panic!("the struct has no field {number} ({name})"));
            let expected = match (kind.as_str(), name.as_str()) {
                ("string", _) => (2, name.as_bytes().to_vec()),
                ("LogLevel", "level") => (0, b"40".to_vec()),
                ("int32", "line_number") => (0, b"4242".to_vec()),
                other => panic!("field {other:?} = {number} of the .proto file is not known to this test"),
            };
            assert_eq!((*wire_type, value.clone()), expected, "field {number} should be `{kind} {name}`");
        }

        let levels = proto_block("enum", "LogLevel");
        assert_eq!(levels.len(), 6, "{levels:?}");
        for (_, name, number) in levels {
            let number = i32::try_from(number).expect("i32");
            let level = LogLevel::try_from(number).unwrap_or_else(|_| panic!("no level {number} ({name})"));
            assert_eq!(level.name(), name);
            if number > 0 {
                assert_eq!(level_name(number), Some(level.name()));
            }
        }
    }

    #[test]
    fn levels_between_names_keep_their_rank() {
        assert_eq!(level_name(0), None);
        assert_eq!(level_name(-3), None);
        assert_eq!(level_name(5), Some("DEBUG"));
        assert_eq!(level_name(25), Some("INFO"));
        assert_eq!(level_name(39), Some("WARNING"));
        assert_eq!(level_name(99), Some("CRITICAL"));
    }

    #[test]
    fn an_entry_becomes_the_keys_normalize_reads() {
        let entry = LogEntry {
            timestamp: "2025-01-31T12:00:00.5+00:00".into(),
            level: LogLevel::Warning as i32,
            subsystem: "backend".into(),
            module: "auth".into(),
            function: "login".into(),
            message: "user logged in".into(),
            topic: "ignored when the frame has one".into(),
            line_number: 12,
            extra: r#"{"ip": "10.0.0.1", "n": 2}"#.into(),
            ..LogEntry::default()
        };
        let json: Value = serde_json::from_str(&entry_json(entry, "logs.backend")).expect("json");
        assert_eq!(
            json,
            json!({
                "timestamp": "2025-01-31T12:00:00.5+00:00", "level": "WARNING", "subsystem": "backend",
                "module": "auth", "function": "login", "message": "user logged in", "line_number": 12,
                "extra": {"ip": "10.0.0.1", "n": 2},
            })
        );
        let entry = LogEntry { topic: "logs.own".into(), extra: "[1, 2]".into(), ..LogEntry::default() };
        let json: Value = serde_json::from_str(&entry_json(entry, "")).expect("json");
        assert_eq!(json, json!({"topic": "logs.own", "extra": "[1, 2]"}));
    }

    /// A verdict that owns its payload, for comparing.
    #[derive(Debug, PartialEq)]
    enum Judged {
        Skipped,
        Accepted { topic: String, raw: String },
        Rejected { topic: String, payload: Vec<u8>, reason: String },
    }

    fn judged(parts: &[&[u8]], topics: &[&str], format: ZeromqFormat, max: usize) -> Judged {
        let frames: Vec<Bytes> = parts.iter().map(|p| Bytes::copy_from_slice(p)).collect();
        let topics: Vec<String> = topics.iter().map(|t| (*t).to_owned()).collect();
        match judge(&frames, &topics, format, max) {
            Verdict::NotSubscribed => Judged::Skipped,
            Verdict::Accept { topic, raw } => Judged::Accepted { topic, raw },
            Verdict::Reject { topic, payload, reason } => Judged::Rejected { topic, payload: payload.to_vec(), reason },
        }
    }

    fn reason(parts: &[&[u8]], format: ZeromqFormat) -> String {
        match judged(parts, &["logs."], format, 1024) {
            Judged::Rejected { reason, .. } => reason,
            other => panic!("not rejected: {other:?}"),
        }
    }

    #[test]
    fn messages_are_judged() {
        use ZeromqFormat::{Json, Protobuf};
        let good = LogEntry { message: "hi".into(), ..LogEntry::default() }.encode_to_vec();
        assert_eq!(
            judged(&[b"logs.a", &good], &["logs."], Protobuf, 1024),
            Judged::Accepted { topic: "logs.a".into(), raw: r#"{"message":"hi"}"#.into() }
        );
        assert_eq!(judged(&[b"metrics.x", &good], &["logs."], Protobuf, 1024), Judged::Skipped);
        assert_eq!(
            judged(&[b"logs.j", b"level=info msg=x"], &["logs."], Json, 1024),
            Judged::Accepted { topic: "logs.j".into(), raw: "level=info msg=x".into() }
        );
        assert!(matches!(judged(&[b"any", b"{}"], &[""], Json, 10), Judged::Accepted { .. }));

        let garbage = reason(&[b"logs.a", b"\xff\xff\xff"], Protobuf);
        assert!(garbage.starts_with("invalid protobuf LogEntry: "), "{garbage}");
        let bad_text = LogEntry { message: "x".into(), ..LogEntry::default() }.encode_to_vec();
        let bad_text: Vec<u8> = bad_text.iter().map(|&b| if b == b'x' { 0xff } else { b }).collect();
        let bad_text = reason(&[b"logs.a", &bad_text], Protobuf);
        assert!(bad_text.contains("LogEntry.message") && bad_text.contains("UTF-8"), "{bad_text}");

        let utf8 = reason(&[b"logs.a", b"{\"message\": \"\xc3\x28\"}"], Json);
        assert!(utf8.starts_with("invalid UTF-8 in JSON payload: "), "{utf8}");
        let big = vec![b'x'; 2000];
        assert_eq!(reason(&[b"logs.a", &big], Json), "message too large: 2006 bytes exceeds max_message_bytes 1024");
        assert!(reason(&[b"logs.a"], Protobuf).contains("no payload frame"));
        assert!(reason(&[b"logs.a", b"x", b"y"], Json).contains("message has 3"));
        assert_eq!(reason(&[b"logs.a", b""], Protobuf), "empty payload frame");

        // What is kept of a rejected message is its payload frame (the only frame if alone).
        assert_eq!(
            judged(&[b"logs.solo"], &["logs."], Json, 1024),
            Judged::Rejected {
                topic: "logs.solo".into(),
                payload: b"logs.solo".to_vec(),
                reason: "message has no payload frame: expected [topic, payload]".into()
            }
        );
    }
}
