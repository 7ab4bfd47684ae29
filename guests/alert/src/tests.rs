//! The stage as a whole, through the [`Guest`] implementation and the SDK's native stand-ins for
//! the host (store, signals, clock): each rule kind at its boundary, dedup, cooldown, restarts,
//! rule changes, bad state, and speed.

use serde_json::Value;
use sluice_guest::inference::native::set_now;
use sluice_guest::signal::take_signals;
use sluice_guest::{Event, Guest, Outcome, PatternRef, SignalKind, State, blank_event};

use crate::{Alerts, Engine, Settings};

const S: i64 = 1_000_000_000;

/// An event received at `at_ns`.
fn ev(id: &str, level: &str, source: Option<&str>, pattern: Option<&str>, at_ns: i64) -> Event {
    Event {
        id: id.into(),
        level: level.into(),
        source: source.map(Into::into),
        pattern: pattern.map(|p| PatternRef { id: p.into(), template: format!("template of {p}") }),
        received_ns: at_ns,
        timestamp_ns: at_ns,
        message: format!("message {id}"),
        ..blank_event()
    }
}

fn error_at(id: &str, at_ns: i64) -> Event {
    ev(id, "ERROR", Some("payments"), None, at_ns)
}

/// `{"rules": [rule]}`.
fn config(rules: &[&str]) -> String {
    format!(r#"{{"rules": [{}]}}"#, rules.join(","))
}

/// Runs one call with the clock at `now_ns` and returns the alert bodies it emitted.
fn call(batch: Vec<Event>, now_ns: i64) -> Vec<Value> {
    set_now(now_ns);
    let n = batch.len();
    let outcomes = Alerts::process(batch);
    assert_eq!(outcomes.len(), n);
    assert!(outcomes.iter().all(|o| *o == Outcome::Keep));
    take_signals()
        .into_iter()
        .map(|(kind, body)| {
            assert_eq!(kind, SignalKind::Alert);
            serde_json::from_str(&body).unwrap()
        })
        .collect()
}

fn rules_of(alerts: &[Value]) -> Vec<&str> {
    alerts.iter().map(|a| a["rule"].as_str().unwrap()).collect()
}

const THRESHOLD: &str = r#"{"name": "payment-errors", "kind": "threshold", "filter": {"level": "ERROR", "source": "payments"},
    "window": "60s", "above": 3, "severity": "critical", "dedup": "0s"}"#;

#[test]
fn threshold_fires_above_the_limit_only() {
    Alerts::init(config(&[THRESHOLD])).unwrap();
    // Three matching events are not more than three; a WARNING and another source do not count.
    let batch = vec![
        error_at("e1", 0),
        error_at("e2", S),
        error_at("e3", 2 * S),
        ev("w", "WARNING", Some("payments"), None, 2 * S),
        ev("o", "CRITICAL", Some("orders"), None, 2 * S),
    ];
    assert!(call(batch, 2 * S).is_empty());
    let alerts = call(vec![ev("c4", "CRITICAL", Some("payments"), None, 3 * S)], 3 * S);
    assert_eq!(rules_of(&alerts), ["payment-errors"]);
    let alert = &alerts[0];
    assert_eq!((alert["value"].as_f64(), alert["threshold"].as_f64()), (Some(4.0), Some(3.0)));
    assert_eq!(alert["kind"], "threshold");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["key"], "");
    assert_eq!(alert["source"], "payments", "from the filter");
    assert_eq!(alert["window_ns"], 60 * S);
    assert_eq!(alert["fired_ns"], 3 * S);
    assert_eq!(alert["event_ids"], serde_json::json!(["c4"]));
    assert_eq!(alert["suppressed"], 0);
    let id = alert["id"].as_str().unwrap();
    assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert!(alert["title"].as_str().unwrap().contains("4 events in 1m"), "{alert}");
    assert!(alert["message"].as_str().unwrap().contains("limit of 3"), "{alert}");
}

#[test]
fn threshold_window_boundary() {
    Alerts::init(config(&[THRESHOLD])).unwrap();
    assert!(call(vec![error_at("a", 0), error_at("b", 0), error_at("c", 0)], 0).is_empty());
    // At 60s the three events at 0 are out of the window: one event is not over the limit.
    assert!(call(vec![error_at("d", 60 * S)], 60 * S).is_empty());

    Alerts::init(config(&[
        r#"{"name": "other", "kind": "threshold", "window": "60s", "above": 3, "severity": "info"}"#,
    ]))
    .unwrap();
    // Slots are 3s long: 99s starts one. Just before 60s have passed, the events still count.
    assert!(call(vec![error_at("a", 99 * S), error_at("b", 99 * S), error_at("c", 99 * S)], 99 * S).is_empty());
    assert_eq!(call(vec![error_at("d", 159 * S - 1)], 159 * S - 1).len(), 1);
}

#[test]
fn threshold_groups_by_source() {
    let rule = r#"{"name": "by-source", "kind": "threshold", "filter": {"level": "ERROR"}, "window": "1m",
        "above": 1, "group_by": "source", "severity": "error"}"#;
    Alerts::init(config(&[rule])).unwrap();
    let batch = vec![
        ev("a1", "ERROR", Some("a"), None, S),
        ev("b1", "ERROR", Some("b"), None, S),
        ev("a2", "ERROR", Some("a"), None, S),
    ];
    let alerts = call(batch, S);
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0]["key"].as_str(), alerts[0]["source"].as_str()), (Some("a"), Some("a")));
    assert_eq!(alerts[0]["event_ids"], serde_json::json!(["a1", "a2"]));
    let alerts = call(vec![ev("b2", "ERROR", Some("b"), None, 2 * S)], 2 * S);
    assert_eq!(alerts[0]["key"], "b");
}

#[test]
fn dedup_suppresses_and_counts() {
    let rule = r#"{"name": "any-error", "kind": "threshold", "filter": {"level": "ERROR"}, "window": "1m",
        "above": 0, "severity": "error", "dedup": "10s"}"#;
    Alerts::init(config(&[rule])).unwrap();
    assert_eq!(call(vec![error_at("a", 0)], 0).len(), 1);
    assert!(call(vec![error_at("b", S)], S).is_empty());
    assert!(call(vec![error_at("c", 10 * S - 1)], 10 * S - 1).is_empty());
    // Ticks do not re-trigger a counting rule: nothing new arrived.
    assert!(call(vec![], 10 * S).is_empty());
    let alerts = call(vec![error_at("d", 10 * S)], 10 * S);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["suppressed"], 2);
    assert_eq!(alerts[0]["value"].as_f64(), Some(4.0));
    // The counter starts again.
    assert!(call(vec![error_at("e", 11 * S)], 11 * S).is_empty());
    assert_eq!(call(vec![error_at("f", 20 * S)], 20 * S)[0]["suppressed"], 1);
}

#[test]
fn cooldown_spans_keys() {
    let rule = r#"{"name": "per-source", "kind": "threshold", "window": "1m", "above": 0, "group_by": "source",
        "severity": "warning", "dedup": "0s", "cooldown": "10s"}"#;
    Alerts::init(config(&[rule])).unwrap();
    let alerts = call(vec![ev("a", "INFO", Some("a"), None, 0), ev("b", "INFO", Some("b"), None, 0)], 0);
    assert_eq!(alerts.len(), 1, "one key wins, deterministically");
    assert_eq!(alerts[0]["key"], "a");
    assert!(call(vec![ev("c", "INFO", Some("c"), None, 5 * S)], 5 * S).is_empty());
    let alerts = call(vec![ev("b2", "INFO", Some("b"), None, 10 * S)], 10 * S);
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0]["key"].as_str(), alerts[0]["suppressed"].as_u64()), (Some("b"), Some(2)));
}

const RATE: &str = r#"{"name": "error-rate", "kind": "rate_change", "filter": {"level": "ERROR"}, "window": "10s",
    "baseline": "100s", "factor": 3, "min_events": 5, "severity": "error", "dedup": "0s"}"#;

#[test]
fn rate_change_against_the_baseline() {
    Alerts::init(config(&[RATE])).unwrap();
    // Slots are 500ms; the baseline has 10 whole buckets of 10s plus a partial one. At 119.5s
    // (slot 239) the window is 110s..120s and the partial bucket is complete: the baseline is
    // exactly 0s..110s. 22 events there are 2 per window, so 3x is 6 events.
    let baseline: Vec<Event> = (0..22).map(|i| error_at(&format!("b{i}"), i * 5 * S)).collect();
    assert!(call(baseline, 105 * S).is_empty());
    let now = 119 * S + S / 2;
    let burst: Vec<Event> = (0..5).map(|i| error_at(&format!("c{i}"), now)).collect();
    assert!(call(burst, now).is_empty(), "5 < 6");
    let alerts = call(vec![error_at("c5", now + S / 10)], now + S / 10);
    assert_eq!(rules_of(&alerts), ["error-rate"]);
    assert_eq!((alerts[0]["value"].as_f64(), alerts[0]["threshold"].as_f64()), (Some(6.0), Some(6.0)));
    assert_eq!(alerts[0]["kind"], "rate_change");
    assert!(alerts[0]["message"].as_str().unwrap().contains("against 22 in the 110s before"), "{}", alerts[0]);
}

#[test]
fn rate_change_with_a_zero_baseline_needs_min_events() {
    Alerts::init(config(&[RATE])).unwrap();
    let four: Vec<Event> = (0..4).map(|i| error_at(&format!("a{i}"), 1000 * S)).collect();
    assert!(call(four, 1000 * S).is_empty());
    let alerts = call(vec![error_at("a4", 1000 * S)], 1000 * S);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["threshold"].as_f64(), Some(5.0));
    assert!(alerts[0]["title"].as_str().unwrap().contains("from nothing"), "{}", alerts[0]);
}

#[test]
fn volume_spike_is_per_pattern() {
    let rule = r#"{"name": "pattern-spike", "kind": "volume_spike", "window": "10s", "baseline": "100s",
        "factor": 5, "min_events": 20, "severity": "warning"}"#;
    Alerts::init(config(&[rule])).unwrap();
    // Pattern `steady`: 1 event per 5s for the baseline (2 per window), then 10 in the window:
    // 5x, but under min_events. Pattern `new`: 19 then 20 events from nothing.
    let steady: Vec<Event> = (0..22).map(|i| ev(&format!("s{i}"), "INFO", None, Some("steady"), i * 5 * S)).collect();
    assert!(call(steady, 105 * S).is_empty());
    let now = 119 * S + S / 2;
    let mut batch: Vec<Event> = (0..10).map(|i| ev(&format!("t{i}"), "INFO", None, Some("steady"), now)).collect();
    batch.extend((0..19).map(|i| ev(&format!("n{i}"), "INFO", None, Some("new"), now)));
    assert!(call(batch, now).is_empty());
    let alerts = call(vec![ev("n19", "INFO", None, Some("new"), now)], now);
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0]["key"].as_str(), alerts[0]["pattern_id"].as_str()), (Some("new"), Some("new")));
    assert_eq!(alerts[0]["template"], "template of new");
    // `steady` reaches 20 in its window: 20 >= 5 x 2 and >= 20.
    let more: Vec<Event> = (0..10).map(|i| ev(&format!("u{i}"), "INFO", None, Some("steady"), now)).collect();
    let alerts = call(more, now);
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0]["value"].as_f64(), alerts[0]["threshold"].as_f64()), (Some(20.0), Some(20.0)));
    assert_eq!(alerts[0]["event_ids"].as_array().unwrap().len(), 10);
}

const NEW_PATTERNS: &str = r#"{"name": "new-patterns", "kind": "new_pattern", "filter": {"level": "WARNING"}, "severity": "info", "max_keys": 3}"#;

#[test]
fn new_pattern_fires_once_per_id() {
    Alerts::init(config(&[NEW_PATTERNS])).unwrap();
    let batch = vec![
        ev("1", "WARNING", None, Some("p1"), S),
        ev("2", "ERROR", None, Some("p1"), S),
        ev("3", "INFO", None, Some("p2"), S),
        ev("4", "WARNING", None, None, S),
    ];
    let alerts = call(batch, S);
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0]["key"].as_str(), alerts[0]["pattern_id"].as_str()), (Some("p1"), Some("p1")));
    assert_eq!(alerts[0]["event_ids"], serde_json::json!(["1", "2"]));
    assert_eq!(alerts[0]["value"].as_f64(), Some(2.0));
    assert!(alerts[0]["title"].as_str().unwrap().contains("template of p1"));
    assert!(call(vec![ev("5", "WARNING", None, Some("p1"), 2 * S)], 2 * S).is_empty());
    // p2 was only seen below the filter's level: it is new to this rule.
    let alerts = call(vec![ev("6", "WARNING", None, Some("p2"), 3 * S)], 3 * S);
    assert_eq!(alerts[0]["key"], "p2");

    // After a restart, the seen ids are remembered.
    Alerts::init(config(&[NEW_PATTERNS])).unwrap();
    assert!(call(vec![ev("7", "WARNING", None, Some("p2"), 4 * S)], 4 * S).is_empty());

    // Beyond max_keys (3), the least recently seen id (p1, last at 2s) is forgotten.
    assert_eq!(call(vec![ev("8", "WARNING", None, Some("p3"), 5 * S)], 5 * S).len(), 1);
    assert_eq!(call(vec![ev("9", "WARNING", None, Some("p4"), 6 * S)], 6 * S).len(), 1);
    assert!(call(vec![ev("10", "WARNING", None, Some("p2"), 7 * S)], 7 * S).is_empty());
    assert_eq!(call(vec![ev("11", "WARNING", None, Some("p1"), 8 * S)], 8 * S).len(), 1, "p1 was forgotten");
    assert_eq!(State.scan("a/new-patterns/").iter().filter(|(k, _)| k.contains("/k/")).count(), 3);
}

const ABSENCE: &str = r#"{"name": "billing-silent", "kind": "absence", "filter": {"source": "billing"}, "for": "10s",
    "severity": "error", "dedup": "0s"}"#;

#[test]
fn absence_fires_on_a_tick_and_rearms() {
    Alerts::init(config(&[ABSENCE])).unwrap();
    assert!(call(vec![], 100 * S).is_empty(), "the rule starts now");
    assert!(call(vec![ev("x", "INFO", Some("orders"), None, 105 * S)], 105 * S).is_empty());
    assert!(call(vec![], 110 * S).is_empty(), "10s is not more than 10s");
    let alerts = call(vec![], 110 * S + 1);
    assert_eq!(rules_of(&alerts), ["billing-silent"]);
    assert_eq!(alerts[0]["kind"], "absence");
    assert_eq!(alerts[0]["source"], "billing");
    assert_eq!((alerts[0]["value"].as_f64(), alerts[0]["threshold"].as_f64()), (Some(10.0 * 1e9 + 1.0), Some(1e10)));
    assert!(alerts[0]["message"].as_str().unwrap().contains("none seen yet"), "{}", alerts[0]);
    assert_eq!(alerts[0]["event_ids"], serde_json::json!([]));
    assert!(call(vec![], 200 * S).is_empty(), "fires once per silence");

    // A matching event re-arms it; the next silence is measured from that event.
    assert!(call(vec![ev("b", "INFO", Some("billing"), None, 300 * S)], 300 * S).is_empty());
    assert!(call(vec![], 310 * S).is_empty());
    // Survives a restart in the middle of the silence.
    Alerts::init(config(&[ABSENCE])).unwrap();
    let alerts = call(vec![], 311 * S);
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0]["message"].as_str().unwrap().contains("11s since the last matching event"), "{}", alerts[0]);
}

#[test]
fn absence_dedup_counts_a_second_silence() {
    let rule = ABSENCE.replace(r#""dedup": "0s""#, r#""dedup": "1m""#);
    Alerts::init(config(&[&rule])).unwrap();
    call(vec![ev("b", "INFO", Some("billing"), None, 0)], 0);
    assert_eq!(call(vec![], 11 * S).len(), 1);
    call(vec![ev("b", "INFO", Some("billing"), None, 12 * S)], 12 * S);
    assert!(call(vec![], 23 * S).is_empty(), "second silence within dedup");
    call(vec![ev("b", "INFO", Some("billing"), None, 70 * S)], 70 * S);
    let alerts = call(vec![], 81 * S);
    assert_eq!(alerts[0]["suppressed"], 1);
}

#[test]
fn restart_keeps_windows_and_dedup() {
    let rule =
        r#"{"name": "burst", "kind": "threshold", "window": "1m", "above": 2, "severity": "info", "dedup": "30s"}"#;
    Alerts::init(config(&[rule])).unwrap();
    assert!(call(vec![error_at("a", 0), error_at("b", S)], S).is_empty());
    Alerts::init(config(&[rule])).unwrap();
    assert_eq!(call(vec![error_at("c", 2 * S)], 2 * S).len(), 1, "the window survived");
    Alerts::init(config(&[rule])).unwrap();
    assert!(call(vec![error_at("d", 3 * S)], 3 * S).is_empty(), "dedup survived");
    Alerts::init(config(&[rule])).unwrap();
    let alerts = call(vec![error_at("e", 32 * S)], 32 * S);
    assert_eq!(alerts[0]["suppressed"], 1, "the suppressed count survived");
}

#[test]
fn a_changed_rule_starts_fresh_and_others_keep_their_state() {
    let a = r#"{"name": "a", "kind": "threshold", "window": "1m", "above": 3, "severity": "info"}"#;
    let b = r#"{"name": "b", "kind": "threshold", "window": "1m", "above": 3, "severity": "info"}"#;
    Alerts::init(config(&[a, b])).unwrap();
    let three: Vec<Event> = (0..3).map(|i| error_at(&format!("e{i}"), S)).collect();
    assert!(call(three, S).is_empty());
    let old_a: Vec<String> = State.scan("a/a/").into_iter().map(|(k, _)| k).collect();
    assert!(!old_a.is_empty());

    let a2 = a.replace(r#""above": 3"#, r#""above": 2"#);
    Alerts::init(config(&[&a2, b])).unwrap();
    // `a` forgot its 3 events (1 is not more than 2); `b` kept them (4 is more than 3).
    let alerts = call(vec![error_at("e3", 2 * S)], 2 * S);
    assert_eq!(rules_of(&alerts), ["b"]);
    let keys: Vec<String> = State.scan("a/a/").into_iter().map(|(k, _)| k).collect();
    assert!(keys.iter().all(|k| !old_a.contains(k)), "old state deleted: {keys:?}");

    // A removed rule's state goes too.
    Alerts::init(config(&[&a2])).unwrap();
    call(vec![], 3 * S);
    assert!(State.scan("a/b/").is_empty());
}

#[test]
fn unreadable_state_is_logged_and_the_rule_starts_fresh() {
    Alerts::init(config(&[THRESHOLD])).unwrap();
    call(vec![error_at("a", 0), error_at("b", 0), error_at("c", 0)], 0);
    let stored = State.scan("a/payment-errors/");
    let entry = stored.iter().find(|(k, _)| k.contains("/k/")).unwrap().0.clone();
    State.set(&entry, b"{not json").unwrap();
    Alerts::init(config(&[THRESHOLD])).unwrap();
    assert!(call(vec![error_at("d", S)], S).is_empty(), "counts started again");
    assert!(State.get(&entry).is_some_and(|v| v != b"{not json"), "rewritten");
}

#[test]
fn bad_config_fails_init_with_the_rule_and_key() {
    let err = Alerts::init(config(&[r#"{"name": "x", "kind": "threshold", "window": "5m", "severity": "info"}"#]))
        .unwrap_err();
    assert!(err.contains("rule `x`") && err.contains("`above`"), "{err}");
    let err = Alerts::init("{}".into()).unwrap_err();
    assert!(err.contains("rules"), "{err}");
}

#[test]
fn group_keys_are_bounded() {
    let rule = r#"{"name": "capped", "kind": "threshold", "window": "10s", "above": 0, "group_by": "source",
        "severity": "info", "dedup": "0s", "max_keys": 2}"#;
    let mut engine = Engine::load(Settings::from_json(&config(&[rule])).unwrap(), Vec::new()).0;
    let batch =
        [ev("1", "INFO", Some("a"), None, 0), ev("2", "INFO", Some("b"), None, 0), ev("3", "INFO", Some("c"), None, 0)];
    assert_eq!(engine.process(&batch, 0).len(), 2);
    assert_eq!(engine.take_overflow(), [("capped", 1)]);
    assert_eq!(engine.tracked("capped"), Some(2));
    // Once a and b are out of their windows, they are forgotten and c is counted.
    assert!(engine.process(&[], 10 * S).is_empty());
    assert_eq!(engine.tracked("capped"), Some(0));
    let alerts = engine.process(&[ev("4", "INFO", Some("c"), None, 11 * S)], 11 * S);
    assert_eq!(alerts[0].key, "c");
    let deletes = engine.take_writes().iter().filter(|w| matches!(w, crate::persist::Write::Delete(_))).count();
    assert_eq!(deletes, 2);
}

#[test]
fn time_never_goes_back_and_ids_are_deterministic() {
    let rules = Settings::from_json(&config(&[THRESHOLD])).unwrap();
    let run = || {
        let mut engine = Engine::load(rules.clone(), Vec::new()).0;
        let batch: Vec<Event> = (0..4).map(|i| error_at(&format!("e{i}"), 50 * S)).collect();
        let alerts = engine.process(&batch, 10 * S);
        assert_eq!(engine.now_ns(), 50 * S, "newest received_ns is later than the clock");
        engine.process(&[], 0);
        assert_eq!(engine.now_ns(), 50 * S);
        alerts
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    assert_eq!(a[0].fired_ns, 50 * S);
}

#[test]
fn an_empty_batch_is_answered_empty() {
    Alerts::init(config(&[THRESHOLD])).unwrap();
    set_now(0);
    assert!(Alerts::process(Vec::new()).is_empty());
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn throughput() {
    let rules = [
        THRESHOLD,
        r#"{"name": "by-source", "kind": "threshold", "filter": {"level": "ERROR"}, "window": "5m", "above": 100000000, "group_by": "source", "severity": "error"}"#,
        r#"{"name": "error-rate", "kind": "rate_change", "filter": {"level": "ERROR"}, "window": "5m", "baseline": "1h", "factor": 3, "min_events": 10, "severity": "error"}"#,
        r#"{"name": "new-patterns", "kind": "new_pattern", "filter": {"level": "WARNING"}, "severity": "info"}"#,
        r#"{"name": "pattern-spike", "kind": "volume_spike", "window": "1m", "baseline": "30m", "factor": 5, "min_events": 20, "severity": "warning"}"#,
        r#"{"name": "billing-silent", "kind": "absence", "filter": {"source": "billing"}, "for": "10m", "severity": "error"}"#,
    ];
    let settings = Settings::from_json(&config(&rules)).unwrap();
    let levels = ["DEBUG", "INFO", "INFO", "INFO", "WARNING", "ERROR"];
    let sources = ["payments", "orders", "billing", "auth", "search"];
    let n = 1_000_000usize;
    // 100k events per second, in batches of 256, 200 patterns.
    let events: Vec<Event> = (0..n)
        .map(|i| {
            let pattern = format!("{:016x}", i % 200);
            let source = sources[i % sources.len()];
            ev(&format!("ev{i}"), levels[i % levels.len()], Some(source), Some(&pattern), i as i64 * 10_000)
        })
        .collect();
    let mut engine = Engine::load(settings, Vec::new()).0;
    let (mut alerts, mut writes) = (0usize, 0usize);
    let mut encoding = std::time::Duration::ZERO;
    let start = std::time::Instant::now();
    for batch in events.chunks(256) {
        let now = batch.last().map_or(0, |e| e.received_ns);
        alerts += engine.process(batch, now).len();
        let before = std::time::Instant::now();
        writes += engine.take_writes().len();
        encoding += before.elapsed();
    }
    let elapsed = start.elapsed();
    #[allow(clippy::cast_precision_loss, reason = "report only")]
    let per = |d: std::time::Duration| d.as_nanos() as f64 / (n * rules.len()) as f64;
    eprintln!(
        "alert: {n} events x {} rules in {elapsed:?}: {:.1} ns per event per rule ({:.1} of it encoding state), \
         {alerts} alerts, {writes} store writes",
        rules.len(),
        per(elapsed),
        per(encoding),
    );
}
