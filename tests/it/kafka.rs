//! The Kafka input and output against a real peer: librdkafka's mock cluster (the real protocol,
//! in this process), or the brokers named by `KAFKA_BROKERS` when it is set (each test then uses
//! topics and a group of its own).
//!
//! What is proved: each message is stored once, under an id derived from where it sits in Kafka;
//! hostile payloads are dead-lettered with the reason and the input goes on; offsets are committed
//! only for what the store holds, so a second member taking over after a `kill -9`, or the same
//! member restarted, loses nothing and stores nothing twice; the output produces each event as
//! JSON keyed by its source.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::{Value, json};

use crate::helpers::{ChildServer, DEFAULT_PIPELINE, TestServer};

/// Longest any wait in these tests lasts.
const PATIENCE: Duration = Duration::from_secs(45);

/// The brokers the tests talk to.
struct Broker {
    /// Kept alive for as long as anything talks to it: dropping it shuts the brokers down.
    mock: Option<MockCluster<'static, DefaultProducerContext>>,
    servers: String,
}

impl Broker {
    fn start() -> Broker {
        match std::env::var("KAFKA_BROKERS") {
            Ok(servers) if !servers.trim().is_empty() => Broker { mock: None, servers },
            _ => {
                let mock = MockCluster::new(1).expect("mock cluster");
                let servers = mock.bootstrap_servers();
                Broker { mock: Some(mock), servers }
            }
        }
    }

    /// A new topic with `partitions` partitions, named after `base` and unique.
    async fn topic(&self, base: &str, partitions: i32) -> String {
        let name = format!("{base}-{}", uuid::Uuid::now_v7().simple());
        match &self.mock {
            Some(mock) => mock.create_topic(&name, partitions, 1).expect("create topic"),
            None => {
                let admin: AdminClient<_> = self.config().create().expect("admin client");
                let topic = NewTopic::new(&name, partitions, TopicReplication::Fixed(1));
                let results = admin
                    .create_topics([&topic], &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))))
                    .await
                    .expect("create topic");
                for result in results {
                    result.expect("topic created");
                }
            }
        }
        name
    }

    fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.servers);
        config
    }

    fn producer(&self) -> FutureProducer {
        self.config().set("acks", "all").set("linger.ms", "1").create().expect("producer")
    }

    /// How soon a member that stopped heart-beating leaves the group: brokers refuse less than
    /// 6 s by default, and the mock's first join alone takes 3 s (a shorter session expires
    /// while it waits).
    fn session_timeout_ms(&self) -> u64 {
        6000
    }

    /// A pipeline consuming `topic` as a member of `group` into the store; `extra` adds input
    /// fields, `outputs` more outputs.
    fn pipeline(&self, topic: &str, group: &str, extra: &str, outputs: &str) -> String {
        format!(
            "
inputs:
  - kafka:
      brokers: \"{servers}\"
      topics: [\"{topic}\"]
      group_id: \"{group}\"
      max_batch: 64
      linger: 5ms
{extra}      properties:
        session.timeout.ms: \"{session}\"
        heartbeat.interval.ms: \"300\"
stages:
  - name: normalize
    guest: normalize
  - name: mine
    guest: mine
outputs:
  - libsql: {{}}
{outputs}",
            servers = self.servers,
            session = self.session_timeout_ms(),
        )
    }

    /// The offsets `group` has committed on `topic`, summed over its partitions (with every
    /// partition starting at 0, that is how many messages the group has committed).
    async fn committed(&self, group: &str, topic: &str, partitions: i32) -> i64 {
        let mut config = self.config();
        config.set("group.id", group);
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create().expect("consumer");
            let mut list = TopicPartitionList::new();
            for p in 0..partitions {
                list.add_partition(&topic, p);
            }
            match consumer.committed_offsets(list, Duration::from_secs(5)) {
                Ok(list) => {
                    list.elements().iter().map(|e| if let Offset::Offset(n) = e.offset() { n } else { 0 }).sum()
                }
                Err(_) => 0,
            }
        })
        .await
        .expect("committed offsets")
    }
}

/// Produces `payload` to `partition` of `topic` and returns the event id Sluice derives for it.
async fn produce(producer: &FutureProducer, topic: &str, partition: i32, payload: &[u8]) -> String {
    let timestamp = chrono::Utc::now().timestamp_millis();
    let record = FutureRecord::<(), [u8]>::to(topic).partition(partition).timestamp(timestamp).payload(payload);
    let delivery = producer.send(record, Duration::from_secs(10)).await.map_err(|(e, _)| e).expect("delivered");
    let (partition, offset) = (delivery.partition.to_string(), delivery.offset.to_string());
    sluice::inputs::stable_id(timestamp as u64, &[topic.as_bytes(), partition.as_bytes(), offset.as_bytes()])
}

/// Reads `count` JSON messages from the start of `topic`, as key and value, in each partition's
/// order.
async fn consume(broker: &Broker, topic: &str, partitions: i32, count: usize) -> Vec<(String, Value)> {
    let consumer: StreamConsumer = broker.config().set("group.id", group()).create().expect("consumer");
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition_offset(topic, p, Offset::Beginning).expect("partition");
    }
    consumer.assign(&list).expect("assign");
    let mut out = Vec::new();
    while out.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} messages arrived on {topic}", out.len()))
            .expect("message");
        let key = String::from_utf8(message.key().expect("a key").to_vec()).expect("UTF-8 key");
        let value: Value = serde_json::from_slice(message.payload().expect("a payload")).expect("JSON");
        out.push((key, value));
    }
    out
}

/// A JSON log line with a unique message.
fn line(i: usize) -> Vec<u8> {
    json!({"message": format!("order {i} shipped"), "level": "info", "source": "shop"}).to_string().into_bytes()
}

/// Every row a Sluice at `base` has stored.
async fn stored(client: &reqwest::Client, base: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    loop {
        let url = format!("{base}/api/v1/logs?limit=1000&offset={}", rows.len());
        let page: Vec<Value> = client.get(url).send().await.expect("logs").json().await.expect("json");
        if page.is_empty() {
            return rows;
        }
        rows.extend(page);
    }
}

fn event_ids(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| r["event_id"].as_str().expect("event id").to_string()).collect()
}

/// Polls `check` until it holds, for at most [`PATIENCE`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        match check().await {
            Ok(()) => return,
            Err(state) if Instant::now() > deadline => panic!("{what}: gave up waiting; {state}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn group() -> String {
    format!("sluice-test-{}", uuid::Uuid::now_v7().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_stored_once_under_ids_derived_from_their_offsets() {
    let broker = Broker::start();
    let topic = broker.topic("logs.raw", 2).await;
    let group = group();
    let mut server = TestServer::start(&broker.pipeline(&topic, &group, "", "")).await;
    let producer = broker.producer();
    let mut produced = HashSet::new();
    for i in 0..300 {
        produced.insert(produce(&producer, &topic, (i % 2) as i32, &line(i)).await);
    }

    let s = &server;
    eventually("every message stored", || async move {
        let (_, total) = s.logs("").await;
        if total == 300 { Ok(()) } else { Err(format!("{total} stored")) }
    })
    .await;
    let rows = stored(&server.client, &server.base).await;
    let ids: HashSet<String> = event_ids(&rows).into_iter().collect();
    assert_eq!(rows.len(), 300);
    assert_eq!(ids, produced, "each message under the id derived from its topic, partition and offset");
    let messages: HashSet<&str> = rows.iter().map(|r| r["message"].as_str().expect("message")).collect();
    assert_eq!(messages.len(), 300, "each message once");
    assert!(rows.iter().all(|r| r["topic"] == topic.as_str() && r["input"] == "kafka" && r["source"] == "shop"));

    // The group's offsets follow, now that the store holds everything.
    let (b, g, t) = (&broker, &group, &topic);
    eventually("offsets committed", || async move {
        let committed = b.committed(g, t, 2).await;
        if committed == 300 { Ok(()) } else { Err(format!("{committed} committed")) }
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_payloads_are_dead_lettered_and_the_input_goes_on() {
    let broker = Broker::start();
    let topic = broker.topic("logs.raw", 1).await;
    let group = group();
    let dead_letters_topic = broker.topic("logs.dead", 1).await;
    let outputs = format!(
        "  - kafka:\n      brokers: \"{}\"\n      topic: \"{}\"\n      dead_letters_topic: \"{dead_letters_topic}\"\n",
        broker.servers,
        broker.topic("logs.normalized", 1).await
    );
    let yaml = broker.pipeline(&topic, &group, "      max_message_bytes: 1024\n", &outputs);
    let mut server = TestServer::start(&yaml).await;
    let producer = broker.producer();
    let bad_utf8 = produce(&producer, &topic, 0, b"ok so far \xff\xfe then garbage").await;
    let oversized = produce(&producer, &topic, 0, &vec![b'x'; 2000]).await;
    let good = produce(&producer, &topic, 0, &line(1)).await;

    let (s, g) = (&server, &good);
    eventually("the good message stored", || async move {
        let (rows, _) = s.logs("").await;
        if rows.iter().any(|r| r["event_id"] == g.as_str()) { Ok(()) } else { Err(format!("{rows:?}")) }
    })
    .await;
    let (rows, total) = server.logs("").await;
    assert_eq!(total, 1, "only the good message is a log: {rows:?}");
    let letters = server.dead_letters().await;
    let reason = |id: &str| {
        letters
            .iter()
            .find(|l| l["event_id"] == id)
            .map(|l| l["reason"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no dead letter for {id}: {letters:?}"))
    };
    assert_eq!(reason(&bad_utf8), "invalid UTF-8 at byte 10");
    assert_eq!(reason(&oversized), "message of 2000 bytes exceeds max_message_bytes 1024");
    assert_eq!(letters.len(), 2, "{letters:?}");
    // The Kafka output produces them to its dead-letter topic, with the reason.
    let produced = consume(&broker, &dead_letters_topic, 1, 2).await;
    for (key, letter) in &produced {
        assert_eq!(key, "kafka", "keyed by the input when there is no source");
        let id = letter["event"]["id"].as_str().expect("the event's id");
        assert_eq!(letter["reason"], reason(id).as_str(), "{letter}");
        assert_eq!(letter["stage"], "input");
    }

    // Rejected messages count as consumed: their offsets are committed with the rest.
    let (b, g, t) = (&broker, &group, &topic);
    eventually("offsets committed", || async move {
        let committed = b.committed(g, t, 1).await;
        if committed == 3 { Ok(()) } else { Err(format!("{committed} committed")) }
    })
    .await;
    server.stop().await;
}

/// A temporary directory with a pipeline file, and data directories for Sluice children.
struct Dirs {
    dir: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Dirs {
        Dirs { dir: tempfile::tempdir().expect("tempdir") }
    }

    fn pipeline(&self, name: &str, yaml: &str) -> std::path::PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, yaml).expect("write pipeline");
        path
    }

    fn data(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_member_takes_over_from_one_killed_and_nothing_is_lost() {
    let broker = Broker::start();
    let topic = broker.topic("logs.raw", 2).await;
    let group = group();
    let dirs = Dirs::new();
    let pipeline = dirs.pipeline("kafka.yaml", &broker.pipeline(&topic, &group, "", ""));
    let client = reqwest::Client::new();
    let producer = broker.producer();

    let mut a = ChildServer::spawn(&pipeline, &dirs.data("a")).await;
    let b = ChildServer::spawn(&pipeline, &dirs.data("b")).await;

    // Until both members hold a partition, keep producing one message to each partition.
    let mut before_kill: Vec<String> = Vec::new();
    let mut i = 0;
    let deadline = Instant::now() + PATIENCE;
    loop {
        for partition in 0..2 {
            before_kill.push(produce(&producer, &topic, partition, &line(i)).await);
            i += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (in_a, in_b) = (stored(&client, &a.base).await.len(), stored(&client, &b.base).await.len());
        if in_a > 0 && in_b > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "both members never got a partition ({in_a} and {in_b} stored)");
    }
    for _ in 0..200 {
        before_kill.push(produce(&producer, &topic, (i % 2) as i32, &line(i)).await);
        i += 1;
    }
    let expected: HashSet<String> = before_kill.iter().cloned().collect();
    let (c, base_a, base_b, want) = (&client, &a.base, &b.base, &expected);
    eventually("the two members store everything", || async move {
        let (rows_a, rows_b) = (stored(c, base_a).await, stored(c, base_b).await);
        let union: HashSet<String> = event_ids(&rows_a).into_iter().chain(event_ids(&rows_b)).collect();
        let missing = want.difference(&union).count();
        if union == *want {
            Ok(())
        } else {
            Err(format!("{} stored, {missing} of {} missing", union.len(), want.len()))
        }
    })
    .await;
    let (rows_a, rows_b) = (stored(&client, &a.base).await, stored(&client, &b.base).await);
    assert_eq!(rows_a.len() + rows_b.len(), expected.len(), "each message stored by exactly one member");
    let (k, g, t) = (&broker, &group, &topic);
    eventually("the group commits what the members hold", || async move {
        let committed = k.committed(g, t, 2).await;
        if committed == want.len() as i64 { Ok(()) } else { Err(format!("{committed} committed")) }
    })
    .await;

    // More messages, and one member dies while they arrive.
    let mut after_kill: Vec<String> = Vec::new();
    for _ in 0..100 {
        after_kill.push(produce(&producer, &topic, (i % 2) as i32, &line(i)).await);
        i += 1;
    }
    a.kill9();
    for _ in 0..100 {
        after_kill.push(produce(&producer, &topic, (i % 2) as i32, &line(i)).await);
        i += 1;
    }
    let produced: HashSet<String> = before_kill.iter().chain(&after_kill).cloned().collect();

    // What the killed member journaled reaches its store when it starts again (without Kafka).
    let plain = dirs.pipeline("plain.yaml", DEFAULT_PIPELINE);
    let a = ChildServer::spawn(&plain, &dirs.data("a")).await;
    let flushed = client.post(format!("{}/flush", a.base)).send().await.expect("flush");
    assert_eq!(flushed.status(), 200);
    let ids_a: HashSet<String> = event_ids(&stored(&client, &a.base).await).into_iter().collect();

    let (in_a, all) = (&ids_a, &produced);
    eventually("the survivor takes over the dead member's partition", || async move {
        let ids_b: HashSet<String> = event_ids(&stored(c, base_b).await).into_iter().collect();
        let union: HashSet<&String> = in_a.iter().chain(&ids_b).collect();
        if union.len() == all.len() { Ok(()) } else { Err(format!("{} of {} stored", union.len(), all.len())) }
    })
    .await;
    let rows_b = stored(&client, &b.base).await;
    let ids_b: HashSet<String> = event_ids(&rows_b).into_iter().collect();
    assert_eq!(ids_b.len(), rows_b.len(), "the survivor stores no id twice");
    let messages_b: HashSet<&str> = rows_b.iter().map(|r| r["message"].as_str().expect("message")).collect();
    assert_eq!(messages_b.len(), rows_b.len(), "the survivor stores no message twice");
    let union: HashSet<String> = ids_a.union(&ids_b).cloned().collect();
    assert_eq!(union, produced, "every produced message, under its own id, and nothing else");
    // Only what the dead member had not committed may be in both stores.
    let both: HashSet<&String> = ids_a.intersection(&ids_b).collect();
    assert!(both.iter().all(|id| !expected.contains(*id)), "a committed message was read again: {both:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_then_restart_stores_every_message_once() {
    let broker = Broker::start();
    let topic = broker.topic("logs.raw", 2).await;
    let group = group();
    let dirs = Dirs::new();
    let pipeline = dirs.pipeline("kafka.yaml", &broker.pipeline(&topic, &group, "", ""));
    let client = reqwest::Client::new();
    let total = 1500;

    let mut server = ChildServer::spawn(&pipeline, &dirs.data("data")).await;
    // The producer keeps going while Sluice dies and comes back.
    let producing = {
        let producer = broker.producer();
        let topic = topic.clone();
        tokio::spawn(async move {
            for i in 0..total {
                produce(&producer, &topic, (i % 2) as i32, &line(i)).await;
                if i % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    let (c, base) = (&client, &server.base);
    eventually("Sluice consuming", || async move {
        let (status, count) = match c.get(format!("{base}/api/v1/logs?limit=1")).send().await {
            Ok(r) => (r.status(), r.headers().get("x-total-count").and_then(|v| v.to_str().ok()?.parse::<u64>().ok())),
            Err(e) => return Err(e.to_string()),
        };
        match count {
            Some(n) if n >= 100 => Ok(()),
            other => Err(format!("{status} {other:?}")),
        }
    })
    .await;
    server.kill9();
    let server = ChildServer::spawn(&pipeline, &dirs.data("data")).await;
    producing.await.expect("producer");

    let base = &server.base;
    eventually("every message stored after the restart", || async move {
        let rows = stored(c, base).await;
        if rows.len() == total { Ok(()) } else { Err(format!("{} of {total} stored", rows.len())) }
    })
    .await;
    let rows = stored(&client, &server.base).await;
    let messages: HashSet<&str> = rows.iter().map(|r| r["message"].as_str().expect("message")).collect();
    assert_eq!(messages.len(), total, "no message stored twice (its id is the same when it is read again)");
    assert_eq!(rows.len(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_output_produces_events_as_json_keyed_by_source() {
    let broker = Broker::start();
    let topic = broker.topic("logs.normalized", 2).await;
    let yaml = format!(
        "
inputs:
  - http: {{}}
stages:
  - name: normalize
    guest: normalize
  - name: mine
    guest: mine
outputs:
  - libsql: {{}}
  - kafka:
      brokers: \"{}\"
      topic: \"{topic}\"
",
        broker.servers
    );
    let mut server = TestServer::start(&yaml).await;
    let sources = ["auth", "billing", "search"];
    let lines: Vec<Value> = (0..30)
        .map(|i| json!({"message": format!("step {i} done"), "level": "info", "service": sources[i % 3], "n": i}))
        .collect();
    let (status, reply) = server.ingest_ndjson(&lines).await;
    assert_eq!(status, 202, "{reply}");
    server.flush().await;

    let mut by_key: HashMap<String, Vec<Value>> = HashMap::new();
    for (key, event) in consume(&broker, &topic, 2, lines.len()).await {
        by_key.entry(key).or_default().push(event);
    }

    let (rows, _) = server.logs("").await;
    let stored: HashSet<&str> = rows.iter().map(|r| r["event_id"].as_str().expect("id")).collect();
    assert_eq!(by_key.len(), 3, "{:?}", by_key.keys());
    for (key, events) in &by_key {
        assert_eq!(events.len(), 10, "{key}");
        let mut last = -1;
        for event in events {
            assert_eq!(event["source"], key.as_str(), "keyed by source: {event}");
            assert!(stored.contains(event["id"].as_str().expect("id")), "the stored event's id: {event}");
            let n: i64 = event["message"].as_str().and_then(|m| m.split(' ').nth(1)?.parse().ok()).expect("step");
            assert!(n > last, "one source's events keep their order: {events:?}");
            last = n;
        }
    }
    let offset_file = server.data.path().join("data/outputs/kafka.offset");
    let offset: u64 = std::fs::read_to_string(&offset_file).expect("offset file").trim().parse().expect("offset");
    assert!(offset > 0);
    server.stop().await;
}

/// Seed 004 as shipped (`pipelines/004-edge.yaml` and `004-core.yaml`, with this test's brokers,
/// topics, group and database): HTTP → edge → Kafka `logs.raw` → core → normalize, mine, enrich,
/// alert → Kafka `logs.normalized` and `logs.insights` + PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_004_edge_and_core_as_shipped() {
    let _shared = crate::pg::SERVER.read().await;
    let db = crate::pg::TestDb::create().await;
    let broker = Broker::start();
    let raw = broker.topic("logs.raw", 2).await;
    let normalized = broker.topic("logs.normalized", 2).await;
    let insights = broker.topic("logs.insights", 1).await;
    let shipped = |file: &str| {
        std::fs::read_to_string(format!("{}/../pipelines/{file}", env!("CARGO_MANIFEST_DIR")))
            .expect("shipped pipeline")
            .replace("127.0.0.1:9092", &broker.servers)
            .replace("[logs.raw]", &format!("[\"{raw}\"]"))
            .replace("topic: logs.raw", &format!("topic: \"{raw}\""))
            .replace("topic: logs.normalized", &format!("topic: \"{normalized}\""))
            .replace("insights_topic: logs.insights", &format!("insights_topic: \"{insights}\""))
            .replace("group_id: sluice-core", &format!("group_id: \"{}\"", group()))
            .replace("postgres://postgres@127.0.0.1:5432/postgres", &db.url)
    };
    let mut core = TestServer::start(&shipped("004-core.yaml")).await;
    let mut edge = TestServer::start(&shipped("004-edge.yaml")).await;
    let sources = ["checkout", "search"];
    let lines: Vec<Value> = (0..40)
        .map(|i| json!({"service": sources[i % 2], "level": "warn", "message": format!("cart {i} abandoned")}))
        .collect();
    let (status, reply) = edge.ingest_ndjson(&lines).await;
    assert_eq!(status, 202, "{reply}");

    let n = db.wait_count("SELECT count(*) FROM logs", 40, PATIENCE).await;
    assert_eq!(n, 40, "every record once in PostgreSQL");
    assert_eq!(db.count("SELECT count(*) FROM logs WHERE level = 'WARNING' AND source = 'checkout'").await, 20);
    assert_eq!(
        db.count("SELECT sum(count)::bigint FROM aggregated_logs WHERE message_pattern = 'cart <*> abandoned'").await,
        40
    );
    let produced = consume(&broker, &normalized, 2, 40).await;
    for (key, event) in &produced {
        assert_eq!(event["source"], key.as_str(), "keyed by source: {event}");
        assert_eq!(event["level"], "WARNING");
    }
    // One pattern, so one insight (the offline analysis: no endpoint here), keyed by pattern.
    let produced = consume(&broker, &insights, 1, 1).await;
    let (key, insight) = &produced[0];
    assert_eq!(insight["pattern_id"], key.as_str(), "{insight}");
    assert_eq!(insight["template"], "cart <*> abandoned");
    assert_eq!(insight["insight"]["source"], "offline");
    assert_eq!(insight["insight"]["severity"], "warning");
    edge.stop().await;
    core.stop().await;
}
