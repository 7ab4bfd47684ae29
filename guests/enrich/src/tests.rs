//! The stage as the host drives it: through the `Guest` implementation, with the SDK's native
//! stand-ins for state, inference, clock and signals.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde_json::Value;
use sluice_guest::inference::native::{answer, set_enabled, set_now, take_requests};
use sluice_guest::inference::{Answer, Status};
use sluice_guest::signal::take_signals;
use sluice_guest::{Event, Guest, Outcome, PatternRef, SignalKind, State, blank_event};

use crate::activity::MINUTE_NS;
use crate::enricher::{Enricher, Inference, retry_delay_ns};
use crate::{Enrich, Settings};

/// The stage lives in one static, shared by every test thread; the native host stand-ins are per
/// thread. Tests that go through `Enrich` hold this lock.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    set_now(0);
    set_enabled(false);
    take_requests();
    take_signals();
    guard
}

fn event(id: &str, template: &str, level: &str, source: &str, message: &str) -> Event {
    let mut e = blank_event();
    e.level = level.into();
    e.source = Some(source.into());
    e.message = message.into();
    e.pattern = Some(PatternRef { id: id.into(), template: template.into() });
    e
}

fn declined(n: usize) -> Vec<Event> {
    (0..n).map(|i| event("p1", "payment <*> declined", "ERROR", "billing", &format!("payment {i} declined"))).collect()
}

/// The insight an outcome sets, parsed, checking that the annotation sets nothing else.
fn insight(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Annotate(a) => {
            assert!(a.level.is_none() && a.pattern.is_none() && a.attributes.is_empty(), "{a:?}");
            serde_json::from_str(a.insight.as_deref().unwrap()).unwrap()
        }
        other => panic!("expected an annotation, got {other:?}"),
    }
}

/// The `Insight` signals emitted since the last call, parsed.
fn insight_signals() -> Vec<Value> {
    take_signals()
        .into_iter()
        .map(|(kind, body)| {
            assert_eq!(kind, SignalKind::Insight);
            serde_json::from_str(&body).unwrap()
        })
        .collect()
}

fn init(config: &str) {
    Enrich::init(config.into()).unwrap();
}

#[test]
fn offline_insight_without_endpoint_says_why() {
    let _serial = serial();
    init("{}");
    let mut batch = declined(3);
    batch.push(blank_event());
    let outcomes = Enrich::process(batch);
    assert_eq!(outcomes.len(), 4);
    assert_eq!(outcomes[3], Outcome::Keep, "events without a pattern are kept");
    let first = insight(&outcomes[0]);
    for outcome in &outcomes[1..3] {
        assert_eq!(insight(outcome), first, "one insight per pattern");
    }
    assert_eq!(first["source"], "offline");
    assert_eq!(first["fallback_reason"], "no inference endpoint configured");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["cues"], serde_json::json!(["declined"]));
    assert_eq!(first["novel"], true);
    assert_eq!(first["burst"], false);
    assert!(first["cause"].is_string());
    let summary = first["summary"].as_str().unwrap();
    assert!(summary.starts_with("New ERROR pattern from billing: 'payment <*> declined'; matched cues: declined"));
    assert!(!first["action"].as_str().unwrap().is_empty());
    assert!(take_requests().is_empty());

    let signals = insight_signals();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0]["pattern_id"], "p1");
    assert_eq!(signals[0]["template"], "payment <*> declined");
    assert_eq!(signals[0]["insight"], first);

    // Further events: the same insight, no new signal.
    let outcomes = Enrich::process(declined(2));
    assert_eq!(insight(&outcomes[1])["summary"], first["summary"]);
    assert!(insight_signals().is_empty());
}

#[test]
fn one_request_per_pattern_with_a_describing_prompt() {
    let _serial = serial();
    set_enabled(true);
    init("{}");
    let mut batch = declined(5);
    batch.extend((0..4).map(|i| event("p2", "user <*> logged in", "INFO", "auth", &format!("user {i} logged in"))));
    let outcomes = Enrich::process(batch);
    assert_eq!(insight(&outcomes[0])["fallback_reason"], "model answer pending");
    let requests = take_requests();
    let keys: Vec<&str> = requests.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(keys, ["p1", "p2"]);
    let (_, system, user) = &requests[0];
    for key in ["\"summary\"", "\"cause\"", "\"severity\"", "\"action\"", "info", "critical", "nothing else"] {
        assert!(system.contains(key), "system prompt lacks {key}: {system}");
    }
    assert!(
        user.contains("payment <*> declined") && user.contains("Level: ERROR") && user.contains("billing"),
        "{user}"
    );
    assert!(user.contains(r#"["payment 0 declined","payment 1 declined","payment 2 declined"]"#), "{user}");
    assert!(!user.contains("payment 3 declined"), "at most three samples: {user}");
    assert!(user.contains("5 in the current batch, 5 seen in total, out of 9 events"), "{user}");

    for _ in 0..3 {
        Enrich::process(declined(50));
        Enrich::process(Vec::new());
    }
    assert!(take_requests().is_empty(), "asked once per pattern, however many events");
}

#[test]
fn model_answer_replaces_offline_on_a_tick_and_is_signalled_once() {
    let _serial = serial();
    set_enabled(true);
    init("{}");
    let offline = insight(&Enrich::process(declined(2))[0]);
    assert_eq!(insight_signals().len(), 1);
    Enrich::process(Vec::new());
    assert!(insight_signals().is_empty(), "nothing new while pending");

    let reply = concat!(
        r#"{"summary":"Card payments are declined","cause":"issuer rejects","#,
        r#""severity":"critical","action":"Call the PSP"}"#
    );
    answer("p1", Answer::Ready(reply.into()));
    assert!(Enrich::process(Vec::new()).is_empty());
    let signals = insight_signals();
    assert_eq!(signals.len(), 1, "{signals:?}");
    let model = &signals[0]["insight"];
    assert_eq!(model["source"], "model");
    assert_eq!(model["summary"], "Card payments are declined");
    assert_eq!(model["cause"], "issuer rejects");
    assert_eq!(model["severity"], "critical");
    assert_eq!(model["action"], "Call the PSP");
    assert!(model.get("fallback_reason").is_none());
    assert_eq!(model["cues"], offline["cues"], "the stage's own facts stay");

    let outcomes = Enrich::process(declined(3));
    assert_eq!(&insight(&outcomes[2]), model);
    Enrich::process(Vec::new());
    assert!(insight_signals().is_empty(), "signalled once");
    assert!(take_requests().len() == 1, "the one request of the pattern");
}

#[test]
fn failed_answer_keeps_offline_with_the_reason() {
    let _serial = serial();
    set_enabled(true);
    init("{}");
    Enrich::process(declined(1));
    insight_signals();
    answer("p1", Answer::Failed("timeout after 30s".into()));
    let outcomes = Enrich::process(declined(1));
    let now = insight(&outcomes[0]);
    assert_eq!(now["source"], "offline");
    assert_eq!(now["fallback_reason"], "model call failed: timeout after 30s");
    assert_eq!(insight_signals().len(), 1);
    Enrich::process(declined(1));
    assert!(insight_signals().is_empty());
}

#[test]
fn invalid_model_json_is_a_stated_fallback() {
    let _serial = serial();
    set_enabled(true);
    init("{}");
    Enrich::process(declined(1));
    answer("p1", Answer::Ready(r#"{"summary": 3, "severity": "error", "action": "a"}"#.into()));
    let outcomes = Enrich::process(declined(1));
    let now = insight(&outcomes[0]);
    assert_eq!(now["source"], "offline");
    assert_eq!(now["fallback_reason"], "model answer invalid: `summary` is not text");
    answer("p1", Answer::Ready(r#"{"summary":"s","severity":"error","action":"a"}"#.into()));
    Enrich::process(Vec::new());
    assert_eq!(insight(&Enrich::process(declined(1))[0])["source"], "offline", "an answer is taken once");
}

#[test]
fn restart_keeps_insights_and_does_not_ask_again() {
    let _serial = serial();
    set_enabled(true);
    init("{}");
    Enrich::process(declined(2));
    answer("p1", Answer::Ready(r#"{"summary":"s","cause":null,"severity":"warning","action":"a"}"#.into()));
    Enrich::process(Vec::new());
    let before = insight(&Enrich::process(declined(1))[0]);
    assert_eq!(before["source"], "model");
    take_requests();
    take_signals();

    // A new thread is a new host: empty inference cache, the same stored state.
    let stored = State.scan("");
    assert!(stored.iter().any(|(k, _)| k == "p/p1") && stored.iter().any(|(k, _)| k == "total"));
    std::thread::spawn(move || {
        for (key, value) in &stored {
            State.set(key, value).unwrap();
        }
        set_enabled(true);
        init("{}");
        let after = insight(&Enrich::process(declined(1))[0]);
        assert_eq!(after, before);
        assert!(take_requests().is_empty(), "an answered pattern is not asked again");
        assert!(take_signals().is_empty(), "nothing changed, nothing signalled");
        Enrich::process(vec![event("p9", "disk <*> full", "ERROR", "db", "disk sda full")]);
        assert_eq!(take_requests().len(), 1, "a new pattern still is");
    })
    .join()
    .unwrap();
}

#[test]
fn pending_request_survives_a_restart_and_is_looked_up() {
    let _serial = serial();
    set_enabled(true);
    init("{}");
    Enrich::process(declined(1));
    take_requests();
    init("{}");
    answer("p1", Answer::Ready(r#"{"summary":"s","severity":"info","action":"a"}"#.into()));
    Enrich::process(Vec::new());
    let signals = insight_signals();
    assert_eq!(signals.last().unwrap()["insight"]["source"], "model");
    assert!(take_requests().is_empty());
}

#[test]
fn severity_follows_level_and_cues() {
    let _serial = serial();
    init(r#"{"request_model": false}"#);
    let outcomes = Enrich::process(vec![
        event("a", "worker <*> killed: out of memory", "INFO", "jobs", "worker 7 killed: out of memory"),
        event("b", "user <*> logged in", "DEBUG", "auth", "user 1 logged in"),
        event("c", "connection to <*> refused", "WARNING", "api", "connection to db:5432 refused"),
        event("d", "request <*> timed out", "CRITICAL", "api", "request 9 timed out"),
    ]);
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| insight(&outcomes[i]));
    assert_eq!(a["severity"], "critical");
    assert!(a["summary"].as_str().unwrap().contains("severity raised from info to critical by 'out of memory'"));
    assert!(a["action"].as_str().unwrap().contains("memory"));
    assert_eq!((b["severity"].as_str(), b["cause"].is_null()), (Some("info"), true));
    assert_eq!(c["severity"], "error");
    assert_eq!(c["cues"], serde_json::json!(["refused"]));
    assert_eq!(d["severity"], "critical", "a cue never lowers the level");
    assert_eq!(a["fallback_reason"], "model requests turned off (request_model: false)");
}

#[test]
fn min_level_limits_model_requests() {
    let _serial = serial();
    set_enabled(true);
    init(r#"{"min_level": "WARNING"}"#);
    let outcomes = Enrich::process(vec![
        event("low", "cache miss <*>", "INFO", "web", "cache miss k1"),
        event("high", "payment <*> declined", "ERROR", "billing", "payment 1 declined"),
    ]);
    assert_eq!(insight(&outcomes[0])["fallback_reason"], "level INFO is below min_level WARNING for model requests");
    let keys: Vec<String> = take_requests().into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(keys, ["high"]);
}

#[test]
fn bursts_with_explicit_clock_times() {
    let _serial = serial();
    init(r#"{"request_model": false, "burst_factor": 3, "burst_min_count": 10}"#);
    let batch = |n: usize| -> Vec<Event> {
        (0..n).map(|_| event("q", "queue <*> full", "WARNING", "broker", "queue jobs full")).collect()
    };
    for minute in 0..6 {
        set_now(minute * MINUTE_NS + 1_000);
        let outcomes = Enrich::process(batch(2));
        assert_eq!(insight(&outcomes[0])["burst"], false, "minute {minute}");
    }
    insight_signals();
    set_now(6 * MINUTE_NS + 1_000);
    let outcomes = Enrich::process(batch(9));
    assert_eq!(insight(&outcomes[0])["burst"], false, "below burst_min_count");
    let outcomes = Enrich::process(batch(5));
    let now = insight(&outcomes[4]);
    assert_eq!(now["burst"], true);
    assert!(now["summary"].as_str().unwrap().contains("14 events in the last minute against 2.0 per minute"), "{now}");
    let signals = insight_signals();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0]["insight"]["burst"], true);

    // Still bursting in the same minute: nothing new.
    Enrich::process(batch(50));
    assert!(insight_signals().is_empty());
    // Quiet minutes later the burst is over: one more signal, then none.
    set_now(9 * MINUTE_NS);
    let outcomes = Enrich::process(batch(1));
    assert_eq!(insight(&outcomes[0])["burst"], false);
    assert_eq!(insight_signals().len(), 1);
    Enrich::process(batch(1));
    assert!(insight_signals().is_empty());
}

#[test]
fn rarity_after_a_minimum_total() {
    let _serial = serial();
    init(r#"{"request_model": false, "rare_fraction": 0.01, "rare_min_total": 100}"#);
    let common: Vec<Event> = (0..50).map(|_| event("c", "tick <*>", "INFO", "cron", "tick 1")).collect();
    Enrich::process(common.clone());
    let early = insight(&Enrich::process(vec![event("r1", "odd <*>", "INFO", "x", "odd 1")])[0]);
    assert_eq!(early["rare"], false, "too few events seen yet");
    Enrich::process(common.clone());
    Enrich::process(common);
    let late = insight(&Enrich::process(vec![event("r2", "strange <*>", "INFO", "x", "strange 1")])[0]);
    assert_eq!(late["rare"], true);
    let rarity = late["rarity"].as_f64().unwrap();
    assert!((rarity - 1.0 / 152.0).abs() < 1e-5, "{rarity}");
    assert!(late["summary"].as_str().unwrap().contains("Rare:"));
}

#[test]
fn config_errors_name_the_key() {
    let _serial = serial();
    let err = Enrich::init(r#"{"max_pendin": 3}"#.into()).unwrap_err();
    assert!(err.contains("max_pendin"), "{err}");
    let err = Enrich::init(r#"{"burst_factor": "x"}"#.into()).unwrap_err();
    assert!(err.contains("burst_factor"), "{err}");
}

#[test]
fn least_recently_seen_patterns_are_forgotten() {
    let _serial = serial();
    init(r#"{"request_model": false, "max_patterns": 10}"#);
    for i in 0..11 {
        set_now(i * 1_000);
        Enrich::process(vec![event(&format!("id{i:02}"), &format!("t{i} <*>"), "INFO", "s", "m")]);
    }
    let kept: Vec<String> = State.scan("p/").into_iter().map(|(k, _)| k).collect();
    assert_eq!(kept.len(), 9, "{kept:?}");
    assert!(!kept.contains(&"p/id00".to_owned()) && !kept.contains(&"p/id01".to_owned()), "{kept:?}");
    assert!(kept.contains(&"p/id10".to_owned()));
}

/// A host whose answers the test decides, including the statuses the native stand-in never gives.
#[derive(Debug, Default)]
struct FakeHost {
    status: Option<Status>,
    requests: Vec<String>,
}

impl Inference for FakeHost {
    fn request(&mut self, key: &str, _system: &str, _user: &str) -> Status {
        self.requests.push(key.to_owned());
        self.status.unwrap_or(Status::Queued)
    }

    fn lookup(&mut self, _key: &str) -> Option<Answer> {
        Some(Answer::Pending)
    }
}

fn insight_in(engine: &Enricher, id: &str) -> Value {
    serde_json::from_str(engine.insight(id).unwrap()).unwrap()
}

#[test]
fn spent_budget_and_busy_queue_are_stated_and_retried_later() {
    for (status, reason) in [
        (Status::OverBudget, "hourly inference budget spent"),
        (Status::Busy, "inference queue busy; asking again shortly"),
    ] {
        let mut host = FakeHost { status: Some(status), ..FakeHost::default() };
        let mut engine = Enricher::new(Settings::default());
        engine.process(&declined(1), 0, &mut host);
        assert_eq!(insight_in(&engine, "p1")["fallback_reason"], reason);
        assert_eq!(engine.take_signals().len(), 1);
        let delay = retry_delay_ns(status);
        engine.process(&declined(1), delay - 1, &mut host);
        assert_eq!(host.requests.len(), 1, "not before the delay");
        host.status = None;
        engine.process(&[], delay, &mut host);
        assert_eq!(host.requests.len(), 2, "asked again after it");
        assert_eq!(insight_in(&engine, "p1")["fallback_reason"], "model answer pending");
    }
}

#[test]
fn max_pending_defers_requests() {
    let mut host = FakeHost::default();
    let settings = Settings { max_pending: 1, ..Settings::default() };
    let mut engine = Enricher::new(settings);
    let mut batch = declined(1);
    batch.push(event("p2", "other <*>", "ERROR", "s", "other 1"));
    engine.process(&batch, 0, &mut host);
    assert_eq!(host.requests, ["p1"]);
    assert!(insight_in(&engine, "p2")["fallback_reason"].as_str().unwrap().contains("max_pending"));
}

/// Throughput of the hot path (events of known patterns), in a release build:
/// `cargo test --release --target-dir ../target/guests -p enrich throughput -- --ignored --nocapture`
#[test]
#[ignore = "measurement"]
fn throughput() {
    // Batches of 1000 events over 20 patterns (typical), and over 1000 patterns (every pattern
    // touched, so written, in every call: the worst case for the per-call work).
    for patterns in [20, 1000] {
        let (events, elapsed) = measure(patterns);
        #[allow(clippy::cast_precision_loss, reason = "report only")]
        let rate = events as f64 / elapsed.as_secs_f64();
        eprintln!("enrich: {events} events of {patterns} known patterns in {elapsed:?}, {rate:.0} events/s");
    }
}

/// Processes 500 batches of 1000 events over `patterns` known patterns, with signals and store
/// writes taken after each call as the guest does; returns the events and the time taken.
fn measure(patterns: usize) -> (usize, std::time::Duration) {
    let mut host = FakeHost::default();
    let mut engine = Enricher::new(Settings::default());
    let batches: Vec<Vec<Event>> = (0..100)
        .map(|b| {
            (0..1000)
                .map(|i| {
                    let p = (b * 7 + i) % patterns;
                    let (id, template) = (format!("{p:016x}"), format!("pattern {p} <*> failed"));
                    event(&id, &template, "ERROR", "svc", "pattern 1 x failed")
                })
                .collect()
        })
        .collect();
    for batch in &batches {
        engine.process(batch, 0, &mut host);
    }
    engine.take_writes();
    let start = Instant::now();
    let mut events = 0;
    for round in 0..5 {
        for batch in &batches {
            events += engine.process(batch, i64::from(round) * MINUTE_NS, &mut host).len();
            engine.take_signals();
            engine.take_writes();
        }
    }
    (events, start.elapsed())
}
