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
fn constants_generalise_and_keep_the_first_id() {
    let mut miner = Miner::new(Settings::default());
    let (id1, t1) = template_of(&mut miner, "Accepted login for alice from web");
    let (id2, t2) = template_of(&mut miner, "Accepted login for bob from web");
    let (id3, t3) = template_of(&mut miner, "Accepted login for carol from web");
    assert_eq!(t1, "Accepted login for alice from web");
    assert_eq!(t2, "Accepted login for <*> from web");
    assert_eq!(t3, t2);
    assert_eq!(id1, id2);
    assert_eq!(id2, id3);
}

#[test]
fn leading_tokens_key_the_tree() {
    // Drain compares only messages that share their leading tokens (up to depth - 2): a word
    // that varies in second position splits the family, unless it is masked.
    let mut miner = Miner::new(Settings::default());
    let (a, _) = template_of(&mut miner, "User alice logged in");
    let (b, _) = template_of(&mut miner, "User bob logged in");
    assert_ne!(a, b);
    let shallow = Settings { depth: 3, ..Settings::default() };
    let mut miner = Miner::new(shallow);
    let (a, _) = template_of(&mut miner, "User alice logged in");
    let (b, t) = template_of(&mut miner, "User bob logged in");
    assert_eq!((a, t.as_str()), (b, "User <*> logged in"));
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
    let templates: Vec<&str> = miner.clusters().iter().map(|c| c.template.as_str()).collect();
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

    // What the guest does per event: mine, then build the annotation (two string copies).
    let mut miner = Miner::new(Settings::default());
    let start = std::time::Instant::now();
    for line in &lines {
        let index = miner.observe(line, 0);
        let cluster = miner.cluster(index).unwrap();
        let outcome = sluice_guest::annotate_pattern(cluster.id.as_str(), cluster.template.as_str());
        std::hint::black_box(outcome);
    }
    report("mining + annotation", lines.len(), start.elapsed(), miner.len());
}

fn report(what: &str, n: usize, elapsed: std::time::Duration, patterns: usize) {
    #[allow(clippy::cast_precision_loss, reason = "report only")]
    let rate = n as f64 / elapsed.as_secs_f64();
    eprintln!("mine, {what}: {elapsed:?}, {rate:.0} messages/s, {patterns} patterns");
}

/// The host adapter end to end, with the SDK's native stand-in for the host store.
#[test]
fn guest_saves_patterns_and_finds_them_after_a_restart() {
    use sluice_guest::{Event, Guest, Outcome, State, blank_event};

    use crate::Mine;

    fn event(message: &str, raw: Option<&str>, ns: i64) -> Event {
        Event { message: message.into(), raw: raw.map(Into::into), timestamp_ns: ns, ..blank_event() }
    }
    fn pattern(outcome: &Outcome) -> (String, String) {
        match outcome {
            Outcome::Annotate(a) => {
                let p = a.pattern.clone().unwrap();
                assert!(a.attributes.is_empty() && a.insight.is_none());
                (p.id, p.template)
            }
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

    let stored = State.scan("p/");
    assert_eq!(stored.len(), 2);
    let job = String::from_utf8(State.get(&format!("p/{job_id}")).unwrap()).unwrap();
    assert!(job.contains(r#""c":2,"f":10,"l":20"#), "{job}");

    // A new instance (same store) knows the pattern.
    Mine::init("{}".into()).unwrap();
    let outcomes = Mine::process(vec![event("Job 99 done in 1s", None, 40)]);
    assert_eq!(pattern(&outcomes[0]), (job_id, job_template));
}
