//! Miner behaviour as a whole: templates, ids, persistence, determinism, bounds, speed.

use crate::{Miner, Settings};

fn template_of(miner: &mut Miner, message: &str) -> (String, String) {
    let index = miner.observe(message, 0);
    let cluster = miner.cluster(index).unwrap();
    (cluster.id.clone(), cluster.template.clone())
}

#[test]
fn one_family_one_stable_id() {
    let mut miner = Miner::new(Settings::default());
    let (id1, t1) = template_of(&mut miner, "User 123 logged in");
    let (id2, t2) = template_of(&mut miner, "User 456 logged in");
    assert_eq!(t1, "User <*> logged in");
    assert_eq!(t2, "User <*> logged in");
    assert_eq!(id1, id2);
    assert_eq!(miner.len(), 1);
}

#[test]
fn a_position_becomes_variable_once_enough_words_were_seen_there() {
    // A few different words are wording (they may tell events apart); the fifth makes the
    // position a variable, and the patterns merge into the oldest.
    let mut miner = Miner::new(Settings::default());
    let names = ["alice", "bob", "carol", "dave", "erin"];
    let mut ids = Vec::new();
    for name in &names[..4] {
        let (id, template) = template_of(&mut miner, &format!("Accepted login for {name} from web"));
        assert_eq!(template, format!("Accepted login for {name} from web"));
        ids.push(id);
    }
    assert_eq!(miner.live(), 4);
    let (id, template) = template_of(&mut miner, "Accepted login for erin from web");
    assert_eq!((id.as_str(), template.as_str()), (ids[0].as_str(), "Accepted login for <*> from web"));
    assert_eq!(miner.live(), 1);
    let zoe = miner.observe("Accepted login for zoe from web", 0);
    assert_eq!(miner.final_cluster(zoe).unwrap().id, ids[0]);
    let changes = miner.take_changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].id, ids[0]);
    assert_eq!(changes[0].template, "Accepted login for <*> from web");
    let mut merged = changes[0].merged.clone();
    merged.sort();
    let mut expected: Vec<String> = ids[1..].to_vec();
    expected.push(miner.clusters()[4].id.clone());
    expected.sort();
    assert_eq!(merged, expected);
    assert!(miner.take_changes().is_empty());
}

#[test]
fn few_distinct_words_stay_apart() {
    let mut miner = Miner::new(Settings::default());
    let events = ["Started", "Paused", "Resumed", "Stopped"];
    for round in 0..10 {
        for event in events {
            miner.observe(&format!("[instance: {round}] VM {event} (Lifecycle Event)"), 0);
        }
    }
    let mut templates: Vec<&str> =
        miner.clusters().iter().filter(|c| c.merged_into.is_none()).map(|c| c.template.as_str()).collect();
    templates.sort_unstable();
    assert_eq!(
        templates,
        [
            "[instance: <*>] VM Paused (Lifecycle Event)",
            "[instance: <*>] VM Resumed (Lifecycle Event)",
            "[instance: <*>] VM Started (Lifecycle Event)",
            "[instance: <*>] VM Stopped (Lifecycle Event)",
        ]
    );
}

#[test]
fn digit_words_generalise_at_once() {
    let mut miner = Miner::new(Settings::default());
    let (a, _) = template_of(&mut miner, "Task attempt_01_m_3 is done");
    let (b, t) = template_of(&mut miner, "Task attempt_02_r_7 is done");
    assert_eq!((a, t.as_str()), (b, "Task <*> is done"));
    // Not when the digit words are nearly all there is.
    let (c, _) = template_of(&mut miner, "x1 y2");
    let (d, _) = template_of(&mut miner, "x3 y4");
    assert_ne!(c, d);
}

#[test]
fn template_variables_in_order() {
    let mut miner = Miner::new(Settings::default());
    let vars = |miner: &mut Miner, message: &str| {
        let index = miner.observe(message, 0);
        miner.variables(index, message).map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(vars(&mut miner, "User 123 logged in from (10.0.0.1), took=12ms"), ["123", "10.0.0.1", "12ms"]);
    assert!(vars(&mut miner, "Starting worker pool").is_empty());
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        vars(&mut miner, &format!("session of {name} expired after 30s"));
    }
    assert_eq!(vars(&mut miner, "session of zoe expired after 5s"), ["zoe", "5s"]);
}

#[test]
fn merges_survive_a_rebuild_from_state() {
    let mut original = Miner::new(Settings::default());
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        original.observe(&format!("Accepted login for {name} from web"), 1);
    }
    let stored = original.take_dirty();
    assert_eq!(stored.len(), 5, "absorbed patterns are stored too");
    let (mut rebuilt, problems) = Miner::load(Settings::default(), stored);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!((rebuilt.len(), rebuilt.live()), (5, 1));
    let survivor = rebuilt.clusters()[0].id.clone();
    for i in 1..5u32 {
        assert_eq!(rebuilt.final_cluster(i).unwrap().id, survivor);
    }
    assert_eq!(rebuilt.clusters()[0].count, 5);
    let (id, template) = template_of(&mut rebuilt, "Accepted login for bob from web");
    assert_eq!((id, template.as_str()), (survivor, "Accepted login for <*> from web"));
}

#[test]
fn different_families_stay_apart() {
    let mut miner = Miner::new(Settings::default());
    let families = [
        ("Connection from 10.0.0.1:5000 closed", "Connection from <*> closed"),
        ("Disk /dev/sda1 is 91% full", "Disk <*> is <*> full"),
        ("Request 4bf92f3577b34da6 took 12ms", "Request <*> took <*>"),
        ("session=abc123 expired after 30s", "session=abc123 expired after <*>"),
        ("Starting worker pool", "Starting worker pool"),
    ];
    for (message, template) in families {
        assert_eq!(template_of(&mut miner, message).1, template, "{message}");
    }
    assert_eq!(template_of(&mut miner, "Connection from 10.0.0.2:6000 closed").1, families[0].1);
    assert_eq!(template_of(&mut miner, "session=zz9 expired after 1.5s").1, "session=<*> expired after <*>");
    assert_eq!(miner.len(), families.len());
}

#[test]
fn masking_cases_in_templates() {
    let mut miner = Miner::new(Settings::default());
    let cases = [
        ("id 123e4567-e89b-12d3-a456-426614174000 ok", "id <*> ok"),
        ("read 0x7ffe1234 bytes", "read <*> bytes"),
        ("hash a94a8fe5ccb19ba61c4c0873d391e987982fbbd3 done", "hash <*> done"),
        ("opened /var/log/app.log (ro)", "opened <*> (ro)"),
        ("took [12.5ms], retrying", "took [<*>], retrying"),
        ("peer=192.168.1.7:443 state=up", "peer=<*> state=up"),
    ];
    for (message, template) in cases {
        assert_eq!(template_of(&mut miner, message).1, template, "{message}");
    }
}

#[test]
fn empty_and_odd_messages_do_not_panic() {
    let mut miner = Miner::new(Settings::default());
    for message in ["", " ", "<*>", "=", "a=", "=b", "\u{0}", "é ü", &"x ".repeat(10_000), "12345"] {
        miner.observe(message, 0);
    }
    let (_, t) = template_of(&mut miner, "99999");
    assert_eq!(t, "<*>");
}

#[test]
fn ids_survive_a_rebuild_from_state() {
    let messages = [
        "Accepted login for alice from web",
        "Accepted login for bob from web",
        "Disk /dev/sda1 is 91% full",
        "cache miss key=users:17",
        "cache miss key=users:18",
        "worker 3 started",
    ];
    let mut original = Miner::new(Settings::default());
    for message in messages {
        original.observe(message, 1);
    }
    let stored = original.take_dirty();
    assert_eq!(stored.len(), original.len());
    assert!(original.take_dirty().is_empty(), "written once, then clean");

    let (mut rebuilt, problems) = Miner::load(Settings::default(), stored);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(rebuilt.len(), original.len());
    for (a, b) in original.clusters().iter().zip(rebuilt.clusters()) {
        assert_eq!((&a.id, &a.template, a.count, &a.samples), (&b.id, &b.template, b.count, &b.samples));
    }
    // Both continue identically.
    for message in ["Accepted login for carol from web", "worker 9 started", "brand new line here"] {
        assert_eq!(template_of(&mut original, message), template_of(&mut rebuilt, message));
    }
}

#[test]
fn only_changed_patterns_are_written() {
    let mut miner = Miner::new(Settings::default());
    miner.observe("alpha one", 1);
    miner.observe("beta two three", 1);
    assert_eq!(miner.take_dirty().len(), 2);
    miner.observe("alpha one", 2);
    miner.observe("alpha one", 3);
    let written = miner.take_dirty();
    assert_eq!(written.len(), 1);
    let text = String::from_utf8(written[0].1.clone()).unwrap();
    assert!(text.contains(r#""c":3"#) && text.contains(r#""f":1"#) && text.contains(r#""l":3"#), "{text}");
}

#[test]
fn deterministic_across_instances() {
    let lines = corpus(5_000);
    let run = || {
        let mut miner = Miner::new(Settings::default());
        lines.iter().map(|l| template_of(&mut miner, l).0).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn a_rebuilt_miner_continues_like_the_original() {
    // Mid-stream, with merges and generalisations behind it, a miner rebuilt from the store
    // makes the same decisions as the one that kept running.
    let lines = corpus(3_000);
    let (first, second) = lines.split_at(1_500);
    let mut original = Miner::new(Settings::default());
    for line in first {
        original.observe(line, 0);
    }
    let (mut rebuilt, problems) = Miner::load(Settings::default(), original.take_dirty());
    assert!(problems.is_empty(), "{problems:?}");
    for line in second {
        assert_eq!(template_of(&mut original, line), template_of(&mut rebuilt, line), "{line}");
    }
    assert_eq!(original.live(), rebuilt.live());
}

#[test]
fn pattern_count_is_bounded() {
    let settings = Settings { max_patterns: 5, ..Settings::default() };
    let mut miner = Miner::new(settings);
    for i in 0..500 {
        // Each line differs in length and wording, so each would otherwise be a new pattern.
        let message = format!("{} end", "word".repeat(i % 50 + 1).chars().take(3 + i).collect::<String>());
        miner.observe(&message, 0);
        miner.observe(&format!("unique{} {}", "z".repeat(i), "tail ".repeat(i % 7)), 0);
    }
    assert!(miner.len() <= 6, "{}", miner.len());
    assert!(miner.clusters().iter().any(|c| c.catch_all));
}

/// Typical server lines from a handful of families, with varying values.
fn corpus(n: usize) -> Vec<String> {
    let users = ["alice", "bob", "carol", "dave", "erin"];
    (0..n)
        .map(|i| match i % 8 {
            0 => format!("Accepted login for {} from 10.0.{}.{}", users[i % 5], i % 256, (i * 7) % 256),
            1 => format!("GET /api/v1/orders/{i} 200 {}ms", i % 900),
            2 => format!("Connection to db-{} established in {}.{}s", i % 3, i % 10, i % 100),
            3 => format!("Worker {} finished job {:x} with status=ok", i % 16, i * 2654435761),
            4 => format!("Cache miss for key=session:{} ttl={}", i % 1000, i % 60),
            5 => format!("WARN disk usage at {}% on /dev/sda{}", i % 100, i % 4),
            6 => format!("Request {:08x}-aaaa-bbbb-cccc-{:012x} failed: timeout after 30s", i, i),
            _ => format!("Scheduled task cleanup ran, removed {} files", i % 50),
        })
        .collect()
}

#[test]
fn corpus_families_are_found() {
    let mut miner = Miner::new(Settings::default());
    for line in corpus(4_000) {
        miner.observe(&line, 0);
    }
    let templates: Vec<&str> =
        miner.clusters().iter().filter(|c| c.merged_into.is_none()).map(|c| c.template.as_str()).collect();
    assert_eq!(templates.len(), 8, "{templates:#?}");
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn throughput() {
    let lines = corpus(1_000_000);
    let bytes: usize = lines.iter().map(String::len).sum();
    eprintln!("mine: {} messages, avg {} bytes", lines.len(), bytes / lines.len());

    let mut miner = Miner::new(Settings::default());
    let start = std::time::Instant::now();
    for line in &lines {
        std::hint::black_box(miner.observe(line, 0));
    }
    report("mining only", lines.len(), start.elapsed(), miner.len());

    // What the guest does per event: mine, then build the annotation (pattern and variables).
    let mut miner = Miner::new(Settings::default());
    let start = std::time::Instant::now();
    for line in &lines {
        let index = miner.observe(line, 0);
        std::hint::black_box(crate::annotation(&miner, index, line));
    }
    report("mining + annotation", lines.len(), start.elapsed(), miner.len());

    // The batch path: the same, read from and written to the batch layout, 1000 lines a batch.
    let batches: Vec<_> = lines
        .chunks(1000)
        .map(|chunk| {
            let events: Vec<_> = chunk
                .iter()
                .map(|l| sluice_guest::Event { message: l.clone(), ..sluice_guest::blank_event() })
                .collect();
            sluice_guest::pack(&events)
        })
        .collect();
    let mut miner = Miner::new(Settings::default());
    let mut spans = crate::annotate::BatchSpans::default();
    let start = std::time::Instant::now();
    for batch in &batches {
        let mut answers = sluice_guest::Answers::with_capacity(batch.events.len(), 0);
        crate::mine_batch(&mut miner, &mut spans, &sluice_guest::BatchView::new(batch), &mut answers);
        std::hint::black_box(answers.finish());
    }
    report("mining + batch answer", lines.len(), start.elapsed(), miner.len());
}

fn report(what: &str, n: usize, elapsed: std::time::Duration, patterns: usize) {
    #[allow(clippy::cast_precision_loss, reason = "report only")]
    let rate = n as f64 / elapsed.as_secs_f64();
    eprintln!("mine, {what}: {elapsed:?}, {rate:.0} messages/s, {patterns} patterns");
}

/// Serialises the tests that go through the guest's instance, a static shared by the test
/// threads (the host store and the signals they also use are per thread).
fn exclusive_guest() -> std::sync::MutexGuard<'static, ()> {
    static GUEST: std::sync::Mutex<()> = std::sync::Mutex::new(());
    GUEST.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The host adapter end to end, with the SDK's native stand-in for the host store.
#[test]
fn guest_saves_patterns_and_finds_them_after_a_restart() {
    use sluice_guest::{Event, Guest, Outcome, State, blank_event};

    use crate::Mine;

    let _guest = exclusive_guest();

    fn event(message: &str, raw: Option<&str>, ns: i64) -> Event {
        Event { message: message.into(), raw: raw.map(Into::into), timestamp_ns: ns, ..blank_event() }
    }
    fn pattern(outcome: &Outcome) -> (String, String) {
        match outcome {
            Outcome::Annotate(a) => {
                let p = a.pattern.clone().unwrap();
                assert!(a.insight.is_none());
                (p.id, p.template)
            }
            other => panic!("expected an annotation, got {other:?}"),
        }
    }
    fn vars(outcome: &Outcome) -> Option<String> {
        match outcome {
            Outcome::Annotate(a) => a.attributes.iter().find(|a| a.key == "template_vars").map(|a| a.value.clone()),
            other => panic!("expected an annotation, got {other:?}"),
        }
    }

    assert!(Mine::init(r#"{"similarity": 2}"#.into()).is_err());
    assert!(Mine::init(r#"{"colour": 1}"#.into()).unwrap_err().contains("colour"));
    Mine::init("{}".into()).unwrap();
    let batch = vec![
        event("Job 17 done in 12ms", None, 10),
        event("", Some("Job 18 done in 3ms"), 20),
        event("disk full", None, 30),
    ];
    let outcomes = Mine::process(batch);
    assert_eq!(outcomes.len(), 3);
    let (job_id, job_template) = pattern(&outcomes[0]);
    assert_eq!(pattern(&outcomes[1]), (job_id.clone(), job_template.clone()));
    assert_eq!(job_template, "Job <*> done in <*>");
    assert_eq!(vars(&outcomes[0]).as_deref(), Some(r#"["17","12ms"]"#));
    assert_eq!(vars(&outcomes[2]), None, "no variables, no attribute");

    let stored = State.scan("p/");
    assert_eq!(stored.len(), 2);
    let job = String::from_utf8(State.get(&format!("p/{job_id}")).unwrap()).unwrap();
    assert!(job.contains(r#""c":2,"f":10,"l":20"#), "{job}");

    // A new instance (same store) knows the pattern.
    Mine::init("{}".into()).unwrap();
    let outcomes = Mine::process(vec![event("Job 99 done in 1s", None, 40)]);
    assert_eq!(pattern(&outcomes[0]), (job_id, job_template));
}

/// Merges end to end: one signal per pattern per batch, and the merge holds after a restart.
#[test]
fn guest_signals_merges_and_keeps_them_after_a_restart() {
    use sluice_guest::signal::take_signals;
    use sluice_guest::{Event, Guest, Outcome, SignalKind, blank_event};

    use crate::Mine;

    let _guest = exclusive_guest();

    fn batch(names: &[&str]) -> Vec<Event> {
        names.iter().map(|n| Event { message: format!("Failed login for {n} via ssh"), ..blank_event() }).collect()
    }
    fn id(outcome: &Outcome) -> String {
        match outcome {
            Outcome::Annotate(a) => a.pattern.clone().unwrap().id,
            other => panic!("expected an annotation, got {other:?}"),
        }
    }

    Mine::init("{}".into()).unwrap();
    take_signals();
    let first = Mine::process(batch(&["alice", "bob", "carol"]));
    let absorbed = id(&first[1]);
    assert!(take_signals().is_empty(), "new patterns alone are no change");
    let second = Mine::process(batch(&["dave", "erin", "frank", "bob"]));
    let survivor = id(&first[0]);
    assert!(second.iter().skip(1).all(|o| id(o) == survivor));
    let signals = take_signals();
    assert_eq!(signals.len(), 1, "{signals:?}");
    assert_eq!(signals[0].0, SignalKind::PatternChanged);
    let body: serde_json::Value = serde_json::from_str(&signals[0].1).unwrap();
    assert_eq!(body["id"], survivor.as_str());
    assert_eq!(body["template"], "Failed login for <*> via ssh");
    let merged: Vec<&str> = body["merged"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(merged.len(), 4, "bob, carol, dave and erin were absorbed: {merged:?}");
    assert!(merged.contains(&absorbed.as_str()));

    // A new instance on the same store keeps the merge.
    Mine::init("{}".into()).unwrap();
    let outcomes = Mine::process(batch(&["bob", "zed"]));
    assert_eq!((id(&outcomes[0]), id(&outcomes[1])), (survivor.clone(), survivor));
    assert!(take_signals().is_empty());
}

/// Lines for the batch path: the corpus families, plus wordings that merge and templates that
/// generalise in the middle of a batch, raw-only and empty events, and values JSON must escape.
fn varied_events(n: usize) -> Vec<sluice_guest::Event> {
    use sluice_guest::{Event, blank_event};

    let names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "zoë"];
    let lines = corpus(n);
    lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let ns = i64::try_from(i).unwrap() * 1_000;
            let message = match i % 7 {
                0 => format!("Failed login for {} via ssh", names[(i / 7) % names.len()]),
                1 => format!("Task attempt_{:02}_m_{} is done", i % 13, i % 5),
                2 => format!("Uploaded \"fichier_{i}.txt\" to C:\\Users\\usér\\{i} ✓"),
                3 => format!("line\twith\ncontrol {i}\u{1} chars"),
                _ => line,
            };
            match i % 11 {
                0 => Event { raw: Some(message), timestamp_ns: ns, ..blank_event() },
                1 => Event { timestamp_ns: ns, ..blank_event() },
                2 => {
                    Event { message, raw: Some("ignored: the message wins".into()), timestamp_ns: ns, ..blank_event() }
                }
                _ => Event { message, timestamp_ns: ns, ..blank_event() },
            }
        })
        .collect()
}

/// The batch path answers exactly what the owned path answers, batch after batch, and writes each
/// pattern's strings once per batch rather than once per event.
#[test]
fn the_batch_path_answers_as_the_owned_path() {
    use std::collections::HashMap;

    use sluice_guest::{Answers, BatchView, Outcome, pack, unpack};

    use crate::annotate::BatchSpans;

    let events = varied_events(600);
    let mut owned = Miner::new(Settings::default());
    let mut fast = Miner::new(Settings::default());
    let mut spans = BatchSpans::default();
    let mut generalised_within_a_batch = false;
    let mut start = 0;
    for size in [1, 0, 250, 7, 342] {
        let chunk = &events[start..start + size];
        start += size;
        let expected: Vec<Outcome> = chunk.iter().map(|event| crate::mine(&mut owned, event)).collect();

        let batch = pack(chunk);
        let mut answers = Answers::new();
        crate::mine_batch(&mut fast, &mut spans, &BatchView::new(&batch), &mut answers);
        let results = answers.finish();
        assert_eq!(unpack(&results), expected);

        let mut pushed = Answers::new();
        expected.iter().cloned().for_each(|outcome| pushed.push(outcome));
        assert!(size < 10 || results.text.len() * 2 < pushed.finish().text.len(), "strings written once");

        let mut templates: HashMap<String, Vec<String>> = HashMap::new();
        for outcome in &expected {
            if let Outcome::Annotate(a) = outcome {
                let pattern = a.pattern.clone().unwrap();
                let seen = templates.entry(pattern.id).or_default();
                if !seen.contains(&pattern.template) {
                    seen.push(pattern.template);
                }
            }
        }
        generalised_within_a_batch |= templates.values().any(|t| t.len() > 1);
    }
    assert_eq!(start, events.len());
    assert!(generalised_within_a_batch, "the test should cover a template changing mid-batch");
    let changes = owned.take_changes();
    assert!(changes.iter().any(|c| !c.merged.is_empty()), "the test should cover merges");
    assert_eq!(fast.take_changes(), changes);
    assert_eq!(owned.take_dirty(), fast.take_dirty());
}

/// Through the exported adapter: the same outcomes, stored patterns and signals as `process`.
#[test]
fn guest_batch_path_saves_and_signals_like_the_owned_path() {
    use sluice_guest::signal::take_signals;
    use sluice_guest::{Guest, State, process_packed};

    use crate::Mine;

    let _guest = exclusive_guest();
    let events = varied_events(300);
    let run = |batch_path: bool| {
        for (key, _) in State.scan(crate::persist::PREFIX) {
            State.delete(&key);
        }
        Mine::init("{}".into()).unwrap();
        take_signals();
        let outcomes = if batch_path { process_packed::<Mine>(&events) } else { Mine::process(events.clone()) };
        (outcomes, State.scan(crate::persist::PREFIX), take_signals())
    };
    let (owned, batch) = (run(false), run(true));
    assert!(!owned.2.is_empty(), "merges were signalled");
    assert_eq!(batch, owned);
}
