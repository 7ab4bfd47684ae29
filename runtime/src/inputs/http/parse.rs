//! Turning request bodies into raw records, or into a precise reason why not.
//!
//! Parsing here only checks syntax and the shape each endpoint promises; the records themselves
//! are kept as received (JSON object text or a text line) for the `normalize` guest to interpret.
//! A body is accepted or refused whole: nothing of a refused body is stored.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Why a body was refused. `line` is the 1-based line of NDJSON bodies, or of the JSON error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    pub code: &'static str,
    pub message: String,
    pub line: Option<usize>,
    /// Too many events is a size problem (413), everything else a bad request (400).
    pub too_large: bool,
}

impl BodyError {
    fn new(code: &'static str, message: impl Into<String>, line: Option<usize>) -> Self {
        BodyError { code, message: message.into(), line, too_large: false }
    }

    fn json(e: &serde_json::Error, context: &str, line_base: usize) -> Self {
        let line = line_base + e.line().saturating_sub(1);
        let column = e.column();
        let code = if e.is_data() { "wrong_type" } else { "malformed_json" };
        // serde's message ends with "at line X column Y"; we report the position ourselves.
        let text = e.to_string();
        let text = text.split(" at line ").next().unwrap_or(&text).to_string();
        BodyError::new(code, format!("{context}line {line}, column {column}: {text}"), Some(line))
    }
}

/// Checks the body is UTF-8, naming where it is not.
pub fn utf8(body: &[u8]) -> Result<&str, BodyError> {
    std::str::from_utf8(body).map_err(|e| {
        let at = e.valid_up_to();
        let line = body[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        BodyError::new(
            "invalid_utf8",
            format!("body is not valid UTF-8: invalid byte at offset {at} (line {line})"),
            Some(line),
        )
    })
}

fn check_count(n: usize, max: usize) -> Result<(), BodyError> {
    if n > max {
        let mut e =
            BodyError::new("too_many_events", format!("request carries more than {max} events (the limit)"), None);
        e.too_large = true;
        return Err(e);
    }
    Ok(())
}

/// `/api/v1/ingest`: NDJSON (one JSON object or string per line), a JSON array of those, or, with
/// `Content-Type: text/plain`, one raw text record per line. Blank lines are skipped.
pub fn stream(body: &str, plain_text: bool, max_events: usize) -> Result<Vec<String>, BodyError> {
    let mut records = Vec::new();
    if plain_text {
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            records.push(line.to_string());
            check_count(records.len(), max_events)?;
        }
    } else if body.trim_start().starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(body).map_err(|e| BodyError::json(&e, "", 1))?;
        check_count(items.len(), max_events)?;
        for (i, item) in items.iter().enumerate() {
            records.push(record(item).map_err(|found| {
                BodyError::new(
                    "wrong_type",
                    format!("element {i}: expected a JSON object or string, found {found}"),
                    None,
                )
            })?);
        }
    } else {
        for (i, line) in body.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let n = i + 1;
            let item: &RawValue = serde_json::from_str(line).map_err(|e| BodyError::json(&e, "", n))?;
            records.push(record(item).map_err(|found| {
                BodyError::new(
                    "wrong_type",
                    format!("line {n}: expected a JSON object or string, found {found}"),
                    Some(n),
                )
            })?);
            check_count(records.len(), max_events)?;
        }
    }
    if records.is_empty() {
        return Err(BodyError::new("empty_body", "the body holds no events", None));
    }
    Ok(records)
}

/// An object stays JSON text; a string becomes its (unescaped) text. Anything else names its kind.
fn record(item: &RawValue) -> Result<String, &'static str> {
    let text = item.get();
    match text.as_bytes().first() {
        Some(b'{') => Ok(text.to_string()),
        Some(b'"') => serde_json::from_str::<String>(text).map_err(|_| "an invalid string"),
        Some(b'[') => Err("an array"),
        Some(b't' | b'f') => Err("a boolean"),
        Some(b'n') => Err("null"),
        _ => Err("a number"),
    }
}

/// `/ingest` (seeds 001 and 004): one JSON log object.
pub fn single(body: &str) -> Result<String, BodyError> {
    let object = object(body, "")?;
    check_log_fields(&object, "")?;
    Ok(body.trim().to_string())
}

/// `/ingest/batch` (seed 001): `{"logs": [...]}`.
pub fn batch(body: &str, max_events: usize) -> Result<Vec<String>, BodyError> {
    #[derive(Deserialize)]
    struct Batch<'a> {
        #[serde(borrow)]
        logs: Vec<&'a RawValue>,
    }
    let parsed: Batch<'_> = serde_json::from_str(body).map_err(|e| BodyError::json(&e, "", 1))?;
    check_count(parsed.logs.len(), max_events)?;
    if parsed.logs.is_empty() {
        return Err(BodyError::new("empty_body", "`logs` holds no events", None));
    }
    parsed
        .logs
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let context = format!("logs[{i}]");
            let object = object(item.get(), &format!("{context}: "))?;
            check_log_fields(&object, &format!("{context}."))?;
            Ok(item.get().to_string())
        })
        .collect()
}

/// `/log` (seed 002): an audit event `{session_id, event_type, payload}`.
pub fn audit(body: &str) -> Result<String, BodyError> {
    let object = object(body, "")?;
    match object.get("event_type") {
        Some(Value::String(s)) if !s.is_empty() => {}
        Some(Value::String(_)) => return Err(BodyError::new("missing_field", "`event_type` must not be empty", None)),
        Some(other) => return Err(wrong_type("event_type", "a string", other)),
        None => return Err(BodyError::new("missing_field", "missing field `event_type`", None)),
    }
    match object.get("session_id") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        Some(other) => return Err(wrong_type("session_id", "a string or an integer", other)),
    }
    match object.get("payload") {
        None | Some(Value::Null | Value::Object(_)) => {}
        Some(other) => return Err(wrong_type("payload", "an object", other)),
    }
    Ok(body.trim().to_string())
}

fn object(text: &str, context: &str) -> Result<Map<String, Value>, BodyError> {
    let value: Value = serde_json::from_str(text).map_err(|e| BodyError::json(&e, context, 1))?;
    match value {
        Value::Object(map) => Ok(map),
        other => {
            Err(BodyError::new("wrong_type", format!("{context}expected a JSON object, found {}", kind(&other)), None))
        }
    }
}

/// The typed fields the seeds' log shapes promise.
fn check_log_fields(object: &Map<String, Value>, prefix: &str) -> Result<(), BodyError> {
    match object.get("message") {
        Some(Value::String(_)) => {}
        Some(other) => return Err(wrong_type(&format!("{prefix}message"), "a string", other)),
        None => return Err(BodyError::new("missing_field", format!("missing field `{prefix}message`"), None)),
    }
    for key in ["level", "source", "service"] {
        match object.get(key) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(other) => return Err(wrong_type(&format!("{prefix}{key}"), "a string", other)),
        }
    }
    match object.get("timestamp") {
        None | Some(Value::Null | Value::String(_) | Value::Number(_)) => {}
        Some(other) => return Err(wrong_type(&format!("{prefix}timestamp"), "a string or a number", other)),
    }
    for key in ["metadata", "context"] {
        match object.get(key) {
            None | Some(Value::Null | Value::Object(_)) => {}
            Some(other) => return Err(wrong_type(&format!("{prefix}{key}"), "an object", other)),
        }
    }
    Ok(())
}

fn wrong_type(field: &str, expected: &str, found: &Value) -> BodyError {
    BodyError::new("wrong_type", format!("field `{field}` must be {expected}, found {}", kind(found)), None)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_keeps_objects_and_strings() {
        let body = "{\"message\":\"a\"}\n\n\"plain line\"\n";
        assert_eq!(stream(body, false, 10).expect("ok"), vec!["{\"message\":\"a\"}".to_string(), "plain line".into()]);
    }

    #[test]
    fn ndjson_error_names_the_line() {
        let err = stream("{\"a\":1}\n{\"a\":1}\n{\"a\": }\n", false, 10).expect_err("bad");
        assert_eq!(err.code, "malformed_json");
        assert_eq!(err.line, Some(3));
        assert!(err.message.starts_with("line 3, column 7:"), "{}", err.message);
        let err = stream("{}\n42\n", false, 10).expect_err("number");
        assert_eq!(err.message, "line 2: expected a JSON object or string, found a number");
    }

    #[test]
    fn arrays_and_text_bodies() {
        assert_eq!(stream(" [{\"m\":1}, \"x\"]", false, 10).expect("ok").len(), 2);
        let err = stream("[{\"m\":1}, null]", false, 10).expect_err("null");
        assert!(err.message.contains("element 1"), "{}", err.message);
        assert_eq!(stream("level=info msg=hi\nplain\n", true, 10).expect("ok").len(), 2);
    }

    #[test]
    fn limits_and_emptiness() {
        let err = stream("{}\n{}\n{}\n", false, 2).expect_err("too many");
        assert!(err.too_large);
        assert_eq!(stream(" \n", false, 2).expect_err("empty").code, "empty_body");
    }

    #[test]
    fn invalid_utf8_is_located() {
        let err = utf8(b"{\"a\":1}\n{\"a\":\"\xff\"}").expect_err("bad utf8");
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("offset 14"), "{}", err.message);
    }

    #[test]
    fn seed_shapes_are_type_checked() {
        assert!(single(r#"{"message":"m","level":"info","source":"s","metadata":{"a":1}}"#).is_ok());
        let err = single(r#"{"message": 5}"#).expect_err("wrong type");
        assert_eq!(err.message, "field `message` must be a string, found a number");
        assert_eq!(single(r#"{"level":"info"}"#).expect_err("missing").code, "missing_field");
        assert_eq!(single("[1]").expect_err("array").code, "wrong_type");
        let err = batch(r#"{"logs":[{"message":"a"},{"message":"b","context":3}]}"#, 10).expect_err("ctx");
        assert_eq!(err.message, "field `logs[1].context` must be an object, found a number");
        assert_eq!(batch(r#"{"logs":{}}"#, 10).expect_err("not array").code, "wrong_type");
        assert!(audit(r#"{"session_id":123,"event_type":"review_started","payload":{"x":1}}"#).is_ok());
        assert_eq!(audit(r#"{"session_id":{},"event_type":"x"}"#).expect_err("sid").code, "wrong_type");
        assert_eq!(audit(r#"{"session_id":1}"#).expect_err("missing").code, "missing_field");
    }
}
