//! Whole-event tests: raw records in, normalized events out.

use sluice_guest::{Attribute, Event, Outcome, blank_event};

use crate::{Settings, normalize};

const RECEIVED: i64 = 1_700_000_000_000_000_000;
/// 2024-05-01T12:00:00Z
const BASE: i64 = 1_714_564_800_000_000_000;

fn raw_event(raw: &str) -> Event {
    Event {
        id: "ev-1".into(),
        timestamp_ns: RECEIVED,
        received_ns: RECEIVED,
        input: "http".into(),
        raw: Some(raw.into()),
        ..blank_event()
    }
}

fn run(raw: &str) -> Event {
    run_with(raw, &Settings::default())
}

fn run_with(raw: &str, settings: &Settings) -> Event {
    match normalize(raw_event(raw), settings) {
        Outcome::Replace(mut events) if events.len() == 1 => events.pop().unwrap(),
        other => panic!("expected one replacement, got {other:?}"),
    }
}

fn attr<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    event.attributes.iter().find(|a| a.key == key).map(|a| a.value.as_str())
}

#[test]
fn json_fields_mapped() {
    let e = run(r#"{"ts": "2024-05-01T12:00:00Z", "severity": "warn", "msg": "disk almost full",
        "service": "api", "module": "store", "funcName": "flush", "pathname": "/app/store.py",
        "lineno": 42, "topic": "logs.api", "userId": "u-1", "session_id": 123,
        "trace_id": "abc", "host": "h1"}"#);
    assert_eq!(e.id, "ev-1");
    assert_eq!(e.input, "http");
    assert_eq!(e.received_ns, RECEIVED);
    assert_eq!(e.timestamp_ns, BASE);
    assert_eq!(e.level, "WARNING");
    assert_eq!(e.message, "disk almost full");
    assert_eq!(e.source.as_deref(), Some("api"));
    assert_eq!(e.module.as_deref(), Some("store"));
    assert_eq!(e.function.as_deref(), Some("flush"));
    assert_eq!(e.file.as_deref(), Some("/app/store.py"));
    assert_eq!(e.line, Some(42));
    assert_eq!(e.topic.as_deref(), Some("logs.api"));
    assert_eq!(e.user_id.as_deref(), Some("u-1"));
    assert_eq!(e.session_id.as_deref(), Some("123"));
    assert_eq!(e.trace_id.as_deref(), Some("abc"));
    assert_eq!(e.raw, None);
    assert_eq!(e.attributes, vec![Attribute { key: "host".into(), value: "\"h1\"".into() }]);
}

#[test]
fn best_spelling_wins_and_the_other_is_kept() {
    let e = run(r#"{"msg": "short", "message": "long", "line": "7"}"#);
    assert_eq!(e.message, "long");
    assert_eq!(attr(&e, "msg"), Some("\"short\""));
    assert_eq!(e.line, Some(7));
}

#[test]
fn containers_flattened_one_level() {
    let e = run(r#"{"message": "m", "metadata": {"region": "eu", "n": 3, "deep": {"a": [1]}},
        "extra": "scalar", "context": {}, "payload": null}"#);
    let keys: Vec<&str> = e.attributes.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["region", "n", "deep", "extra", "payload"]);
    assert_eq!(attr(&e, "region"), Some("\"eu\""));
    assert_eq!(attr(&e, "n"), Some("3"));
    assert_eq!(attr(&e, "deep"), Some(r#"{"a": [1]}"#));
    assert_eq!(attr(&e, "extra"), Some("\"scalar\""));
    assert_eq!(attr(&e, "payload"), Some("null"));
}

#[test]
fn audit_event_type_becomes_message() {
    let e = run(r#"{"event_type": "user.login", "user_id": 7, "timestamp": 1714564800}"#);
    assert_eq!(e.message, "user.login");
    assert_eq!(e.topic.as_deref(), Some("user.login"));
    assert_eq!(e.user_id.as_deref(), Some("7"));
    assert_eq!(e.timestamp_ns, BASE);
    assert_eq!(e.level, "INFO");
}

#[test]
fn unknown_level_and_timestamp_are_kept() {
    let e = run(r#"{"message": "m", "level": "LOUD", "time": "last tuesday"}"#);
    assert_eq!(e.level, "INFO");
    assert_eq!(e.timestamp_ns, RECEIVED);
    assert_eq!(attr(&e, "original_level"), Some("\"LOUD\""));
    assert_eq!(attr(&e, "original_timestamp"), Some("\"last tuesday\""));

    let e = run(r#"{"message": "m", "level": 99, "ts": 1e400}"#);
    assert_eq!(attr(&e, "original_level"), Some("99"));
    assert!(attr(&e, "ts").is_some() || attr(&e, "original_timestamp").is_some());
}

#[test]
fn numeric_levels_and_epochs() {
    let e = run(r#"{"message": "m", "level": 40, "ts": 1714564800123}"#);
    assert_eq!(e.level, "ERROR");
    assert_eq!(e.timestamp_ns, BASE + 123_000_000);
    let e = run(r#"{"message": "m", "levelname": "CRITICAL", "ts": "1714564800.5"}"#);
    assert_eq!(e.level, "CRITICAL");
    assert_eq!(e.timestamp_ns, BASE + 500_000_000);
}

#[test]
fn default_level_is_configurable() {
    let settings = Settings::from_json(r#"{"default_level": "debug"}"#).unwrap();
    assert_eq!(run_with(r#"{"message": "m"}"#, &settings).level, "DEBUG");
}

#[test]
fn malformed_json_is_plain_text() {
    let e = run(r#"{"message": "cut off"#);
    assert_eq!(e.message, r#"{"message": "cut off"#);
    assert_eq!(e.level, "INFO");
    assert!(e.attributes.is_empty());
}

#[test]
fn logfmt_lines() {
    let e = run(r#"time=2024-05-01T12:00:00Z level=error msg="db \"main\" down" retries=3 svc=x"#);
    assert_eq!(e.timestamp_ns, BASE);
    assert_eq!(e.level, "ERROR");
    assert_eq!(e.message, "db \"main\" down");
    assert_eq!(attr(&e, "retries"), Some("\"3\""));
    assert_eq!(attr(&e, "svc"), Some("\"x\""));

    let e = run("level=info method=GET status=200");
    assert_eq!(e.message, "level=info method=GET status=200");
    assert_eq!(e.level, "INFO");
}

#[test]
fn plain_text_lines() {
    let e = run("2024-05-01T12:00:00Z ERROR disk full\n");
    assert_eq!((e.timestamp_ns, e.level.as_str(), e.message.as_str()), (BASE, "ERROR", "disk full"));
    let e = run("just a line");
    assert_eq!((e.timestamp_ns, e.level.as_str(), e.message.as_str()), (RECEIVED, "INFO", "just a line"));
}

#[test]
fn oversized_attributes_truncated() {
    let settings = Settings::from_json(r#"{"max_attribute_bytes": 100}"#).unwrap();
    let raw = format!(r#"{{"message": "m", "blob": "{}"}}"#, "x".repeat(1000));
    let e = run_with(&raw, &settings);
    let blob = attr(&e, "blob").unwrap();
    assert!(blob.len() <= 100);
    assert!(serde_json::from_str::<String>(blob).unwrap().contains("truncated"));
}

#[test]
fn structured_events_only_get_their_level_harmonized() {
    let settings = Settings::default();
    let mut event = blank_event();
    event.level = "INFO".into();
    event.message = "m".into();
    assert_eq!(normalize(event.clone(), &settings), Outcome::Keep);

    event.level = "warn".into();
    match normalize(event.clone(), &settings) {
        Outcome::Annotate(a) => {
            assert_eq!(a.level.as_deref(), Some("WARNING"));
            assert!(a.attributes.is_empty());
        }
        other => panic!("{other:?}"),
    }

    event.level = "shouting".into();
    match normalize(event, &settings) {
        Outcome::Annotate(a) => {
            assert_eq!(a.level.as_deref(), Some("INFO"));
            assert_eq!(a.attributes.len(), 1);
            assert_eq!(
                (a.attributes[0].key.as_str(), a.attributes[0].value.as_str()),
                ("original_level", "\"shouting\"")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_input_never_panics() {
    let nasty = [
        String::new(),
        "{".into(),
        "}".into(),
        "{}".into(),
        "{\"message\": {\"a\": 1}}".into(),
        "{\"level\": [1,2], \"ts\": {}, \"line\": -1, \"lineno\": 99999999999}".into(),
        "{\"message\": \"\\ud800\"}".into(),
        format!("{{\"a\": {}1{}}}", "[".repeat(5000), "]".repeat(5000)),
        "\u{0}\u{1}\u{7f}".into(),
        "[ERROR".into(),
        "2024-05-01T12:00:00".into(),
        "a=\"\\".into(),
        "é=ü ß=\"\\u\"".into(),
        "9".repeat(10_000),
        format!("{{\"ts\": {}}}", "9".repeat(400)),
        "{\"ts\": -9223372036854775808, \"level\": -1}".into(),
    ];
    for raw in &nasty {
        let e = run(raw);
        assert!(!e.level.is_empty(), "{raw:?}");
    }
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn throughput() {
    let settings = Settings::default();
    let raw = r#"{"timestamp":"2024-05-01T12:00:00.123Z","level":"info","service":"checkout","message":"payment accepted for order 81723","user_id":"u-7731","trace_id":"4bf92f3577b34da6","metadata":{"amount":42.5,"currency":"EUR"}}"#;
    let n = 200_000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        let outcome = normalize(raw_event(raw), &settings);
        std::hint::black_box(outcome);
    }
    let per = start.elapsed() / n;
    eprintln!("normalize: {per:?} per {}-byte JSON record", raw.len());
}

/// The host adapter end to end.
#[test]
fn guest_validates_config_and_answers_one_outcome_per_event() {
    use sluice_guest::Guest;

    use crate::Normalize;

    assert!(Normalize::init(r#"{"level": "INFO"}"#.into()).unwrap_err().contains("level"));
    Normalize::init(r#"{"default_level": "WARNING"}"#.into()).unwrap();
    let structured = Event { level: "WARNING".into(), message: "m".into(), ..blank_event() };
    let outcomes = Normalize::process(vec![raw_event("hello"), structured, raw_event("{}")]);
    assert_eq!(outcomes.len(), 3);
    assert!(matches!(&outcomes[0], Outcome::Replace(e) if e[0].level == "WARNING"));
    assert_eq!(outcomes[1], Outcome::Keep);
    assert!(matches!(&outcomes[2], Outcome::Replace(e) if e[0].raw.is_none()));
}
