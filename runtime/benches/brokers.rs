//! Broker benchmarks: the real `sluice` binary consuming from Kafka, ZeroMQ and RabbitMQ.
//!
//! ```sh
//! cargo bench --bench brokers
//! SLUICE_BENCH_SCENARIOS=zeromq SLUICE_BENCH_ZMQ_RATE=1000,20000 cargo bench --bench brokers
//! ```
//!
//! Every run starts a fresh `sluice run <pipeline> --http 127.0.0.1:<port> --data-dir <tmp>`
//! child process whose pipeline is `pipelines/default.yaml`'s stages (normalize, then mine) between
//! one broker input and one output, and reports figures; it never asserts a target.
//!
//! Scenarios:
//!
//! - `kafka`: a librdkafka mock cluster (one broker) created in this process, a topic with four
//!   partitions → Sluice's Kafka input (its own consumer group) → stages → PostgreSQL (`logs`
//!   and `aggregated_logs`). The mock keeps only 5 MiB or 100,000 messages per partition and
//!   deletes older ones, so the `N` JSON lines cannot all wait in it: a backlog of about half that
//!   is produced (acks=all) **before** Sluice starts, and the rest while it consumes, never more
//!   than that backlog ahead of what it has received. Sluice always has messages waiting, so the
//!   figure is consumption throughput. A check of the partitions' low watermarks afterwards
//!   warns if the mock deleted any.
//! - `zeromq`: a pyzmq publisher process (`benches/zmq_publish.py`) binds an XPUB socket; Sluice's
//!   ZeroMQ input connects to it and subscribes to `logs.`; payloads are protobuf `LogEntry`
//!   messages (`proto/log_entry.proto`), encoded here beforehand → stages → libSQL. Sending starts
//!   once Sluice answers `/health` and its subscription has reached the publisher. One run per
//!   rate in `SLUICE_BENCH_ZMQ_RATE` (messages on a fixed timetable), then one that sends as fast
//!   as the publisher can. PUB/SUB has no flow control: a publisher drops what does not fit under
//!   its high-water mark, so these runs report how many messages were stored out of those sent.
//! - `amqp`: `N` persistent messages are published with publisher confirms to a fresh durable
//!   queue on RabbitMQ **before** Sluice starts → AMQP input → stages → PostgreSQL.
//!
//! Each PostgreSQL scenario gets its own database (`sluice_bench_<uuid>`), dropped afterwards.
//!
//! Figures (see the legend the benchmark prints under its table):
//!
//! - **events/s.** Stored events over the time from the first message to all of them stored.
//!   For Kafka and AMQP the clock starts when Sluice received the first message (the
//!   earliest `received_at` in `logs`) and stops at the first poll of `SELECT count(*) FROM logs`
//!   that sees every event; for ZeroMQ it starts when the publisher sends its first message and
//!   stops at the first poll of `GET /stats` (`stored`) that sees the final count. Polls are
//!   [`POLL_EVERY`] apart, which bounds the error.
//! - **p50/p99.** Interpolated quantiles of `sluice_ingest_to_output_seconds{output="postgres"}`
//!   (received by the input → committed in PostgreSQL) or `sluice_ingest_to_stored_seconds`
//!   (→ committed in libSQL) from `GET /metrics`. They start at receipt: time a message waited
//!   in the broker, or in the publisher's queue, is not in them. With a backlog waiting they
//!   measure how long events queue inside Sluice, not the latency of a lightly loaded pipeline.
//! - **peak RSS.** `VmHWM` of the Sluice process, read once everything is stored.
//! - **dead-lettered.** `/stats` `dead_lettered`.
//!
//! Environment knobs (default in brackets):
//!
//! - `SLUICE_BENCH_SCENARIOS` [kafka,zeromq,amqp]: comma-separated subset, run in this order.
//! - `SLUICE_BENCH_EVENTS` [200000]: messages per run. A paced ZeroMQ run sends at most
//!   `SLUICE_BENCH_ZMQ_SECONDS` worth of its rate.
//! - `SLUICE_BENCH_ZMQ_RATE` [1000,100000]: the paced ZeroMQ runs, messages/s (1000/s is seed 000's
//!   requirement); `max` in the list is the as-fast-as-possible run, which is always added.
//! - `SLUICE_BENCH_ZMQ_SECONDS` [10]: longest a paced ZeroMQ run sends.
//! - `SLUICE_BENCH_ZMQ_HWM` [1000, libzmq's default]: the publisher's send high-water mark.
//! - `SLUICE_BENCH_POSTGRES_URL` [postgres://postgres@127.0.0.1:5432/test]: where the benchmark
//!   databases are created.
//! - `SLUICE_BENCH_AMQP_URL` [amqp://guest:guest@127.0.0.1:5672/%2f].
//! - `SLUICE_BENCH_PYTHON` [/usr/bin/python3 if present, else python3]: runs the publisher; it
//!   needs pyzmq.
//!
//! Linux only (it reads `/proc`). The publishers run on the same machine as Sluice and compete
//! with it for CPU. Command-line arguments (cargo passes `--bench`) are ignored.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use prost::Message as _;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Message as _};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection as _, Executor as _};

/// The stages every scenario runs are this pipeline's; its inputs and outputs are replaced.
const DEFAULT_PIPELINE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../pipelines/default.yaml"));
const PUBLISHER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/zmq_publish.py");

const DEFAULT_EVENTS: u64 = 200_000;
const DEFAULT_ZMQ_RATES: &str = "1000,100000";
const DEFAULT_ZMQ_SECONDS: u64 = 10;
const DEFAULT_ZMQ_HWM: u64 = 1000;
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

const KAFKA_PARTITIONS: i32 = 4;
/// Publisher confirms awaited at once while filling the AMQP queue.
const AMQP_CONFIRM_WINDOW: usize = 2048;
/// The topic prefix Sluice subscribes to; every ZeroMQ message's topic is `logs.<source>`.
const ZMQ_TOPIC_PREFIX: &str = "logs.";

/// How long a fresh process may take to answer `/health` (it compiles the guests first).
const READY_TIMEOUT: Duration = Duration::from_secs(300);
/// Time between two looks at the stored count.
const POLL_EVERY: Duration = Duration::from_millis(50);
/// A run whose stored count does not move for this long is given up (with the counts so far).
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Once the ZeroMQ publisher has sent everything, the count must stand still this long before
/// the rest is counted as lost.
const ZMQ_QUIET: Duration = Duration::from_secs(5);
/// How long the publisher may take to load its messages, or to see Sluice's subscription.
const PUBLISHER_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a stopped server may take to drain and exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// Longest producing or publishing the pre-loaded messages may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(300);

fn main() -> Result<()> {
    let settings = Settings::from_env()?;
    print_header(&settings);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut outcomes = Vec::new();
    for kind in &settings.kinds {
        let runs: Vec<Result<Outcome>> = match kind {
            Kind::Kafka => vec![runtime.block_on(kafka_scenario(&settings))],
            Kind::Amqp => vec![runtime.block_on(amqp_scenario(&settings))],
            Kind::Zeromq => {
                settings.zmq_runs().iter().map(|run| runtime.block_on(zeromq_scenario(&settings, run))).collect()
            }
        };
        for run in runs {
            match run {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => println!("\nWARNING: scenario `{}` failed: {e:#}", kind.id()),
            }
        }
    }
    print_table(&outcomes);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Settings

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Kafka,
    Zeromq,
    Amqp,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Kafka, Kind::Zeromq, Kind::Amqp];

    fn id(self) -> &'static str {
        match self {
            Kind::Kafka => "kafka",
            Kind::Zeromq => "zeromq",
            Kind::Amqp => "amqp",
        }
    }
}

#[derive(Debug)]
struct Settings {
    events: u64,
    kinds: Vec<Kind>,
    /// Paced ZeroMQ runs, messages/s.
    zmq_rates: Vec<u64>,
    zmq_seconds: u64,
    zmq_hwm: u64,
    postgres_url: String,
    amqp_url: String,
    python: String,
}

/// One ZeroMQ run: a fixed rate, or as fast as possible (`None`).
struct ZmqRun {
    label: String,
    rate: Option<u64>,
    events: u64,
}

impl Settings {
    fn from_env() -> Result<Settings> {
        let kinds = match std::env::var("SLUICE_BENCH_SCENARIOS") {
            Ok(list) if !list.trim().is_empty() => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    Kind::ALL.into_iter().find(|k| k.id().eq_ignore_ascii_case(s)).ok_or_else(|| {
                        let known = Kind::ALL.map(Kind::id).join(", ");
                        anyhow!("SLUICE_BENCH_SCENARIOS: unknown scenario `{s}` (known: {known})")
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            _ => Kind::ALL.to_vec(),
        };
        let rates_text = std::env::var("SLUICE_BENCH_ZMQ_RATE").unwrap_or_else(|_| DEFAULT_ZMQ_RATES.to_string());
        let mut zmq_rates = Vec::new();
        for item in rates_text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item.eq_ignore_ascii_case("max") {
                continue; // the as-fast-as-possible run is always there
            }
            let rate: u64 = item
                .replace('_', "")
                .parse()
                .ok()
                .filter(|&r| r > 0)
                .ok_or_else(|| anyhow!("SLUICE_BENCH_ZMQ_RATE: `{item}` is not a positive rate or `max`"))?;
            zmq_rates.push(rate);
        }
        let python = std::env::var("SLUICE_BENCH_PYTHON").unwrap_or_else(|_| {
            if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3".into() } else { "python3".into() }
        });
        Ok(Settings {
            events: env_count("SLUICE_BENCH_EVENTS", DEFAULT_EVENTS)?,
            kinds,
            zmq_rates,
            zmq_seconds: env_count("SLUICE_BENCH_ZMQ_SECONDS", DEFAULT_ZMQ_SECONDS)?,
            zmq_hwm: env_count("SLUICE_BENCH_ZMQ_HWM", DEFAULT_ZMQ_HWM)?,
            postgres_url: std::env::var("SLUICE_BENCH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into()),
            amqp_url: std::env::var("SLUICE_BENCH_AMQP_URL").unwrap_or_else(|_| DEFAULT_AMQP_URL.into()),
            python,
        })
    }

    fn zmq_runs(&self) -> Vec<ZmqRun> {
        let mut runs: Vec<ZmqRun> = self
            .zmq_rates
            .iter()
            .map(|&rate| ZmqRun {
                label: format!("zeromq {}/s", group(rate as f64)),
                rate: Some(rate),
                events: self.events.min(rate.saturating_mul(self.zmq_seconds)).max(1),
            })
            .collect();
        runs.push(ZmqRun { label: "zeromq max".into(), rate: None, events: self.events });
        runs
    }
}

/// A positive count from the environment; `_` may group digits (`200_000`).
fn env_count(name: &str, default: u64) -> Result<u64> {
    let Ok(text) = std::env::var(name) else { return Ok(default) };
    let n: u64 = text.trim().replace('_', "").parse().with_context(|| format!("{name}=`{text}` is not a count"))?;
    if n == 0 {
        bail!("{name} must be at least 1");
    }
    Ok(n)
}

/// `pipelines/default.yaml` with its inputs and outputs replaced by `input` and `output` (and
/// its test cases left out).
fn pipeline(input: Value, output: Value) -> Result<String> {
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(DEFAULT_PIPELINE).context("pipelines/default.yaml")?;
    let map = doc.as_mapping_mut().ok_or_else(|| anyhow!("pipelines/default.yaml is not a mapping"))?;
    map.remove("tests");
    map.insert("inputs".into(), serde_yaml_ng::to_value(json!([input]))?);
    map.insert("outputs".into(), serde_yaml_ng::to_value(json!([output]))?);
    Ok(serde_yaml_ng::to_string(&doc)?)
}

// ---------------------------------------------------------------------------------------------
// What a run measured

struct Outcome {
    name: String,
    output: &'static str,
    /// `pre-loaded`, a rate, or `max`.
    offered: String,
    /// Messages put into the broker (for ZeroMQ: handed to the PUB socket).
    sent: u64,
    stored: u64,
    dead: u64,
    e2e: Duration,
    p50: Option<Quantile>,
    p99: Option<Quantile>,
    peak_rss: u64,
    /// Sluice's CPU time over the measured interval, as a share of one core.
    cpu: Option<f64>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        let secs = self.e2e.as_secs_f64();
        if secs > 0.0 { self.stored as f64 / secs } else { 0.0 }
    }

    fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.stored + self.dead)
    }
}

/// Prints the figures of one run as they come, before the table.
fn print_run(o: &Outcome, metric: &str) {
    println!(
        "stored {} of {} sent ({} dead-lettered, {} missing) in {:.2} s: {} events/s",
        group(o.stored as f64),
        group(o.sent as f64),
        o.dead,
        group(o.lost() as f64),
        o.e2e.as_secs_f64(),
        group(o.rate())
    );
    println!(
        "{metric}: p50 {} ms, p99 {} ms; peak RSS {:.1} MB; sluice CPU {}",
        quantile_ms(o.p50),
        quantile_ms(o.p99),
        mb(o.peak_rss),
        o.cpu.map_or_else(|| "-".into(), |c| format!("{:.0}% of one core", c * 100.0))
    );
}

// ---------------------------------------------------------------------------------------------
// Kafka

async fn kafka_scenario(settings: &Settings) -> Result<Outcome> {
    let n = settings.events;
    println!("\n== kafka ==");
    let (version_number, version) = rdkafka::util::get_rdkafka_version();
    println!(
        "librdkafka {version} ({version_number:#x}) mock cluster, 1 broker, {KAFKA_PARTITIONS} partitions; \
         {} JSON lines → Kafka input → normalize → mine → PostgreSQL",
        group(n as f64)
    );
    let db = BenchDb::create(&settings.postgres_url).await?;
    let result = kafka_run(settings, &db).await;
    db.drop_now().await;
    result
}

async fn kafka_run(settings: &Settings, db: &BenchDb) -> Result<Outcome> {
    let n = settings.events;
    let cluster = MockCluster::new(1).context("cannot create the librdkafka mock cluster")?;
    let brokers = cluster.bootstrap_servers();
    let topic = format!("sluice-bench-{}", uuid::Uuid::now_v7().simple());
    cluster.create_topic(&topic, KAFKA_PARTITIONS, 1).context("cannot create the topic")?;

    let mut load = KafkaLoad::new(&brokers, &topic, json_lines(n))?;
    let started = Instant::now();
    load.top_up(0)?;
    load.flush()?;
    println!(
        "produced {} messages (acks=all) to {topic} at {brokers} in {:.2} s before Sluice starts; the rest is \
         produced while it consumes, at most {} ahead of it (the mock cluster keeps only {} MiB or {} messages \
         per partition and deletes older ones)",
        group(load.next as f64),
        started.elapsed().as_secs_f64(),
        group(load.backlog as f64),
        MOCK_RETAINED_BYTES >> 20,
        group(MOCK_RETAINED_MESSAGES as f64)
    );

    let input = json!({"kafka": {
        "brokers": brokers,
        "topics": [topic],
        "group_id": format!("sluice-bench-{}", uuid::Uuid::now_v7().simple()),
        "initial_offset": "earliest",
    }});
    let offered = format!("backlog {}", group(load.backlog as f64));
    let outcome = preloaded_run("kafka", offered, input, db, n, |received| load.top_up(received).map(|()| false)).await;
    let incomplete = outcome.as_ref().is_ok_and(|o| o.stored + o.dead < o.sent);
    let checked = load.flush().and_then(|()| if incomplete { load.report_deleted() } else { Ok(()) });
    // The cluster must outlive the consumer, which leaves its group at shutdown.
    drop(load);
    drop(cluster);
    checked?;
    outcome
}

/// What the mock cluster keeps per partition (librdkafka's `rdkafka_mock.c`): beyond either, it
/// deletes the oldest messages, as a real broker's retention would.
const MOCK_RETAINED_BYTES: u64 = 5 << 20;
const MOCK_RETAINED_MESSAGES: u64 = 100_000;
/// Bytes a record takes in the mock's log beyond its payload, rounded up (record and batch
/// headers).
const RECORD_OVERHEAD: u64 = 64;

/// The benchmark's producer: the lines, how many are produced, and how far it may run ahead of
/// what Sluice has received without the mock cluster deleting any.
struct KafkaLoad {
    producer: BaseProducer<Deliveries>,
    topic: String,
    lines: Vec<String>,
    /// Lines produced so far.
    next: usize,
    /// Most messages produced but not yet received by Sluice.
    backlog: u64,
}

impl KafkaLoad {
    fn new(brokers: &str, topic: &str, lines: Vec<String>) -> Result<KafkaLoad> {
        let producer: BaseProducer<Deliveries> = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("queue.buffering.max.messages", "100000")
            .create_with_context(Deliveries::default())
            .context("cannot create the Kafka producer")?;
        let bytes: u64 = lines.iter().map(|l| l.len() as u64).sum();
        let per_message = bytes / (lines.len() as u64).max(1) + RECORD_OVERHEAD;
        // Half of what the mock keeps, so a partition that gets more than its share stays inside.
        let partitions = KAFKA_PARTITIONS as u64;
        let backlog = (MOCK_RETAINED_BYTES / 2 / per_message).min(MOCK_RETAINED_MESSAGES / 2) * partitions;
        Ok(KafkaLoad { producer, topic: topic.into(), lines, next: 0, backlog: backlog.max(1) })
    }

    /// Produces (round-robin over the partitions) until `backlog` messages are ahead of the
    /// `received` Sluice has taken, or all are produced. Stops early when librdkafka's queue is
    /// full; the next call goes on.
    fn top_up(&mut self, received: u64) -> Result<()> {
        while self.next < self.lines.len() && (self.next as u64).saturating_sub(received) < self.backlog {
            let partition = (self.next % KAFKA_PARTITIONS as usize) as i32;
            let record = BaseRecord::<str, str>::to(&self.topic).partition(partition).payload(&self.lines[self.next]);
            match self.producer.send(record) {
                Ok(()) => self.next += 1,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    self.producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => bail!("cannot produce message {}: {e}", self.next),
            }
            if self.next.is_multiple_of(1024) {
                self.producer.poll(Duration::ZERO);
            }
        }
        self.producer.poll(Duration::ZERO);
        self.check_deliveries()
    }

    /// Waits until everything produced is acknowledged.
    fn flush(&self) -> Result<()> {
        self.producer.flush(LOAD_TIMEOUT).context("the producer did not flush")?;
        self.check_deliveries()
    }

    fn check_deliveries(&self) -> Result<()> {
        let deliveries = self.producer.context();
        let failed = deliveries.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let first = deliveries.first_error.lock().ok().and_then(|f| f.clone()).unwrap_or_default();
            bail!("{failed} messages were not delivered to the mock cluster; first: {first}");
        }
        Ok(())
    }

    /// Says how many messages the mock cluster has deleted (the partitions' low watermarks): when
    /// events are missing, those deleted before Sluice read them are among them.
    fn report_deleted(&self) -> Result<()> {
        let mut deleted = 0;
        for partition in 0..KAFKA_PARTITIONS {
            let (low, _high) = self
                .producer
                .client()
                .fetch_watermarks(&self.topic, partition, Duration::from_secs(10))
                .context("cannot read the topic's watermarks")?;
            deleted += low.max(0);
        }
        println!(
            "the mock cluster has deleted {deleted} messages (its retention); those deleted before Sluice read them \
             are among the missing"
        );
        Ok(())
    }
}

/// Counts failed deliveries of the benchmark's producer.
#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, message)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = self.first_error.lock() {
                first.get_or_insert_with(|| format!("partition {}: {e}", message.partition()));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AMQP

async fn amqp_scenario(settings: &Settings) -> Result<Outcome> {
    let n = settings.events;
    println!("\n== amqp ==");
    println!(
        "RabbitMQ at {}: {} persistent JSON messages published (confirms) to a fresh durable queue before \
         Sluice starts → normalize → mine → PostgreSQL",
        settings.amqp_url,
        group(n as f64)
    );
    let connection = Connection::connect(&settings.amqp_url, ConnectionProperties::default())
        .await
        .with_context(|| format!("cannot connect to RabbitMQ at {}", settings.amqp_url))?;
    let channel = connection.create_channel().await?;
    let queue = format!("sluice_bench_{}", uuid::Uuid::now_v7().simple());
    let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    channel.queue_declare(queue.as_str().into(), durable, FieldTable::default()).await?;

    let db = BenchDb::create(&settings.postgres_url).await;
    let result = match db {
        Ok(db) => {
            let result = amqp_run(settings, &db, &channel, &queue).await;
            db.drop_now().await;
            result
        }
        Err(e) => Err(e),
    };
    match channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await {
        Ok(left) if left > 0 => println!("deleted queue {queue} with {left} messages still in it"),
        Ok(_) => {}
        Err(e) => println!("WARNING: cannot delete queue {queue}: {e}"),
    }
    let _ = connection.close(200, "benchmark done".into()).await;
    result
}

async fn amqp_run(settings: &Settings, db: &BenchDb, channel: &lapin::Channel, queue: &str) -> Result<Outcome> {
    let n = settings.events;
    let lines = json_lines(n);
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    let started = Instant::now();
    let mut confirms = VecDeque::with_capacity(AMQP_CONFIRM_WINDOW);
    for (i, line) in lines.iter().enumerate() {
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(format!("bench-{i}").into());
        let confirm = channel
            .basic_publish("".into(), queue.into(), BasicPublishOptions::default(), line.as_bytes(), properties)
            .await
            .with_context(|| format!("cannot publish message {i}"))?;
        confirms.push_back(confirm);
        if confirms.len() >= AMQP_CONFIRM_WINDOW
            && let Some(confirm) = confirms.pop_front()
        {
            check_confirm(confirm.await?)?;
        }
        if started.elapsed() > LOAD_TIMEOUT {
            bail!("publishing did not finish within {LOAD_TIMEOUT:?}");
        }
    }
    while let Some(confirm) = confirms.pop_front() {
        check_confirm(confirm.await?)?;
    }
    let publish_time = started.elapsed();
    drop(lines);
    println!(
        "published {} messages to {queue} in {:.2} s ({} messages/s, every one confirmed)",
        group(n as f64),
        publish_time.as_secs_f64(),
        group(n as f64 / publish_time.as_secs_f64())
    );
    let input = json!({"amqp": {"url": settings.amqp_url, "queue": queue}});
    preloaded_run("amqp", "pre-loaded".into(), input, db, n, |_| Ok(false)).await
}

fn check_confirm(confirmation: lapin::Confirmation) -> Result<()> {
    if confirmation.is_ack() { Ok(()) } else { bail!("RabbitMQ did not confirm a message: {confirmation:?}") }
}

// ---------------------------------------------------------------------------------------------
// A pre-loaded broker into PostgreSQL (Kafka and AMQP)

/// Runs Sluice with `input` into PostgreSQL until `n` events are stored; `on_poll` is called with
/// the count received at every poll (the Kafka producer tops up the topic there).
async fn preloaded_run(
    name: &str,
    offered: String,
    input: Value,
    db: &BenchDb,
    n: u64,
    mut on_poll: impl FnMut(u64) -> Result<bool>,
) -> Result<Outcome> {
    let output = json!({"postgres": {
        "url": db.url,
        "pool": {"min": 2, "max": 10},
        "tables": ["logs", "aggregated_logs"],
    }});
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(30))
        .connect(&db.url)
        .await
        .with_context(|| format!("cannot connect to {}", db.url))?;
    let api = api_client()?;
    let mut server = Sluice::start(&pipeline(input, output)?)?;
    let ready_in = server.wait_ready(&api).await?;
    let cpu_ready = cpu_seconds(server.pid);
    let ready_at = Instant::now();
    println!("sluice pid {} ready on {} in {:.1} s", server.pid, server.base, ready_in.as_secs_f64());

    let done = wait_stored(&api, &mut server, Store::Postgres(&pool), n, &mut on_poll).await?;
    let cpu_done = cpu_seconds(server.pid);
    let peak_rss = peak_rss(server.pid)?;
    let first: Option<f64> =
        sqlx::query_scalar("SELECT EXTRACT(EPOCH FROM min(received_at))::float8 FROM logs").fetch_one(&pool).await?;
    let patterns: i64 = sqlx::query_scalar("SELECT count(*) FROM aggregated_logs").fetch_one(&pool).await?;
    let metrics = get_text(&api, &format!("{}/metrics", server.base)).await?;
    let latency = Histogram::parse(&metrics, "sluice_ingest_to_output_seconds", Some(("output", "postgres")));
    let stats = get_json(&api, &format!("{}/stats", server.base)).await?;

    let done_epoch = done.wall.duration_since(UNIX_EPOCH)?.as_secs_f64();
    let e2e = match first {
        Some(first) => Duration::from_secs_f64((done_epoch - first).max(0.0)),
        None => done.at.duration_since(ready_at),
    };
    if let Some(first) = first {
        let ready_epoch = done_epoch - done.at.duration_since(ready_at).as_secs_f64();
        println!(
            "first message received {:.2} s {} /health answered; {} patterns in aggregated_logs",
            (first - ready_epoch).abs(),
            if first < ready_epoch { "before" } else { "after" },
            patterns
        );
    }
    // Sluice's CPU from the first poll that saw a message received (or from /health, if that
    // one already did) to the poll that saw the last stored.
    let (from, cpu_from) = match done.first_receipt {
        Some((at, cpu)) if at > ready_at => (at, cpu),
        _ => (ready_at, cpu_ready),
    };
    let window = done.at.duration_since(from).as_secs_f64();
    let cpu = cpu_from.zip(cpu_done).filter(|_| window > 0.0).map(|(a, b)| (b - a) / window);
    let outcome = Outcome {
        name: name.into(),
        output: "postgres",
        offered,
        sent: n,
        stored: done.stored,
        dead: done.dead,
        e2e,
        p50: latency.quantile(0.50),
        p99: latency.quantile(0.99),
        peak_rss,
        cpu,
    };
    print_run(&outcome, "received → committed in PostgreSQL");
    print_stats(&stats);
    finish(server)?;
    Ok(outcome)
}

// ---------------------------------------------------------------------------------------------
// ZeroMQ

async fn zeromq_scenario(settings: &Settings, run: &ZmqRun) -> Result<Outcome> {
    println!("\n== {} ==", run.label);
    println!(
        "pyzmq publisher (XPUB, SNDHWM {}), {} protobuf LogEntry messages {} → ZeroMQ SUB input → normalize → \
         mine → libSQL",
        settings.zmq_hwm,
        group(run.events as f64),
        match run.rate {
            Some(rate) => format!("at {} messages/s", group(rate as f64)),
            None => "as fast as the publisher can send".into(),
        }
    );
    let dir = tempfile::Builder::new().prefix("sluice-bench-zmq-").tempdir()?;
    let messages = dir.path().join("messages.bin");
    std::fs::write(&messages, zmq_messages(run.events)).context("cannot write the publisher's messages")?;
    let mut publisher = Publisher::start(settings, &messages, run.rate.unwrap_or(0), dir.path())?;
    let hello = publisher.expect("port", PUBLISHER_TIMEOUT).await?.1;
    let port = hello.get("port").and_then(Value::as_u64).ok_or_else(|| anyhow!("publisher said {hello}"))?;
    println!(
        "publisher on tcp://127.0.0.1:{port} (libzmq {}, pyzmq {}, {})",
        hello.get("libzmq").and_then(Value::as_str).unwrap_or("?"),
        hello.get("pyzmq").and_then(Value::as_str).unwrap_or("?"),
        settings.python
    );

    let input = json!({"zeromq": {
        "connect": [format!("tcp://127.0.0.1:{port}")],
        "topics": [ZMQ_TOPIC_PREFIX],
        "format": "protobuf",
    }});
    let api = api_client()?;
    let mut server = Sluice::start(&pipeline(input, json!({"libsql": {}}))?)?;
    let ready_in = server.wait_ready(&api).await?;
    println!("sluice pid {} ready on {} in {:.1} s", server.pid, server.base, ready_in.as_secs_f64());

    publisher.say("go")?;
    let (started, _) = publisher.expect("sending", PUBLISHER_TIMEOUT).await?;
    let cpu_start = cpu_seconds(server.pid);
    let mut report: Option<Value> = None;
    let done = wait_stored(&api, &mut server, Store::Libsql, run.events, |_| {
        while let Some((_, line)) = publisher.try_next() {
            if line.get("done").is_some() {
                report = Some(line);
            }
        }
        Ok(report.is_some())
    })
    .await?;
    let cpu_done = cpu_seconds(server.pid);
    let peak_rss = peak_rss(server.pid)?;
    let report = match report {
        Some(report) => report,
        None => publisher.expect("done", PUBLISHER_TIMEOUT).await?.1,
    };
    let sent = report.get("sent").and_then(Value::as_u64).unwrap_or(run.events);
    let send_secs = report.get("seconds").and_then(Value::as_f64).unwrap_or(0.0);
    let behind = report.get("behind").and_then(Value::as_f64).unwrap_or(0.0);
    println!(
        "publisher: {} messages handed to the socket in {:.2} s ({} messages/s){}",
        group(sent as f64),
        send_secs,
        group(if send_secs > 0.0 { sent as f64 / send_secs } else { 0.0 }),
        match run.rate {
            Some(_) if behind > 0.01 => format!(
                "; WARNING: it ended {:.0} ms behind its timetable, so the offered rate was not reached",
                behind * 1000.0
            ),
            Some(_) => format!(", on its timetable (last message {:.1} ms late)", behind * 1000.0),
            None => String::new(),
        }
    );
    let metrics = get_text(&api, &format!("{}/metrics", server.base)).await?;
    let latency = Histogram::parse(&metrics, "sluice_ingest_to_stored_seconds", None);
    let stats = get_json(&api, &format!("{}/stats", server.base)).await?;
    let e2e = done.at.duration_since(started);
    let secs = e2e.as_secs_f64();
    let outcome = Outcome {
        name: run.label.clone(),
        output: "libsql",
        offered: run.rate.map_or_else(|| "max".into(), |r| format!("{}/s", group(r as f64))),
        sent,
        stored: done.stored,
        dead: done.dead,
        e2e,
        p50: latency.quantile(0.50),
        p99: latency.quantile(0.99),
        peak_rss,
        cpu: cpu_start.zip(cpu_done).filter(|_| secs > 0.0).map(|(a, b)| (b - a) / secs),
    };
    print_run(&outcome, "received → committed in libSQL");
    print_stats(&stats);
    // Sluice first, so that it does not see its publisher go away.
    finish(server)?;
    publisher.quit();
    Ok(outcome)
}

/// The pyzmq publisher process, spoken to in JSON lines (see `zmq_publish.py`).
struct Publisher {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: tokio::sync::mpsc::UnboundedReceiver<(Instant, Value)>,
    stderr: PathBuf,
}

impl Publisher {
    fn start(settings: &Settings, messages: &Path, rate: u64, dir: &Path) -> Result<Publisher> {
        let stderr = dir.join("publisher.log");
        let mut child = Command::new(&settings.python)
            .arg(PUBLISHER_SCRIPT)
            .arg(messages)
            .arg(rate.to_string())
            .arg(settings.zmq_hwm.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr)?)
            .spawn()
            .with_context(|| format!("cannot start the publisher with {}", settings.python))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("the publisher has no stdout"))?;
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line).unwrap_or_else(|_| json!({ "text": line }));
                if tx.send((Instant::now(), value)).is_err() {
                    break;
                }
            }
        });
        Ok(Publisher { stdin: child.stdin.take(), child: Some(child), lines, stderr })
    }

    /// The next line, which must carry the field `field`, and when it was read.
    async fn expect(&mut self, field: &str, timeout: Duration) -> Result<(Instant, Value)> {
        loop {
            let line = match tokio::time::timeout(timeout, self.lines.recv()).await {
                Ok(Some(line)) => line,
                Ok(None) => bail!("the publisher exited before `{field}`; its stderr: {}", self.stderr_tail()),
                Err(_) => bail!("the publisher did not report `{field}` within {timeout:?}"),
            };
            if let Some(error) = line.1.get("error") {
                bail!("the publisher failed: {error}; its stderr: {}", self.stderr_tail());
            }
            if line.1.get(field).is_some() {
                return Ok(line);
            }
            println!("  publisher: {}", line.1);
        }
    }

    fn try_next(&mut self) -> Option<(Instant, Value)> {
        self.lines.try_recv().ok()
    }

    fn say(&mut self, command: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| anyhow!("the publisher's stdin is closed"))?;
        writeln!(stdin, "{command}")?;
        stdin.flush()?;
        Ok(())
    }

    /// Tells the publisher to close; kills it if it does not exit within a few seconds.
    fn quit(&mut self) {
        let _ = self.say("quit");
        self.stdin = None;
        let Some(mut child) = self.child.take() else { return };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        println!("WARNING: the publisher did not exit when told; killing it");
        let _ = child.kill();
        let _ = child.wait();
    }

    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(10)..].join("\n  | ");
        if tail.is_empty() { "(empty)".into() } else { format!("\n  | {tail}") }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The protobuf `LogEntry` of `proto/log_entry.proto`, the fields the benchmark fills.
#[derive(Clone, PartialEq, prost::Message)]
struct LogEntry {
    #[prost(string, tag = "1")]
    timestamp: String,
    /// `LogLevel`: Python's logging numbers.
    #[prost(int32, tag = "2")]
    level: i32,
    #[prost(string, tag = "3")]
    subsystem: String,
    #[prost(string, tag = "4")]
    module: String,
    #[prost(string, tag = "5")]
    function: String,
    #[prost(string, tag = "6")]
    message: String,
    /// JSON text: becomes the event's attributes.
    #[prost(string, tag = "15")]
    extra: String,
}

/// `count` ZeroMQ messages in the publisher's file format: per message, a little-endian `u32`
/// length and the topic, then a length and the encoded `LogEntry`.
fn zmq_messages(count: u64) -> Vec<u8> {
    let mut rng = Rng::new(0x2e40_77a1);
    let mut out = Vec::with_capacity(count as usize * 200);
    for i in 0..count {
        let r = record(&mut rng, i);
        let entry = LogEntry {
            timestamp: r.timestamp,
            level: match r.level {
                "DEBUG" => 10,
                "INFO" => 20,
                "WARNING" => 30,
                "ERROR" => 40,
                _ => 50,
            },
            subsystem: r.source.into(),
            module: r.module.into(),
            function: r.function.into(),
            message: r.message,
            extra: json!({"request_id": r.request_id, "host": r.host}).to_string(),
        };
        let topic = format!("{ZMQ_TOPIC_PREFIX}{}", r.source);
        let payload = entry.encode_to_vec();
        for part in [topic.as_bytes(), payload.as_slice()] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Waiting for the output

/// Where the benchmark counts stored events.
enum Store<'a> {
    /// `SELECT count(*) FROM logs`.
    Postgres(&'a PgPool),
    /// `GET /stats` `stored`.
    Libsql,
}

/// When the stored count last moved, and where it ended.
struct Done {
    /// The poll that first saw the final count.
    at: Instant,
    wall: SystemTime,
    stored: u64,
    dead: u64,
    /// The first poll that saw anything received (`/stats` `received`), with Sluice's CPU time
    /// then.
    first_receipt: Option<(Instant, Option<f64>)>,
}

/// Polls until `expected` events are stored or dead-lettered. `on_poll` gets the count Sluice has
/// received at every poll and says whether no more are coming (the ZeroMQ publisher is done);
/// then a count that has stood still for [`ZMQ_QUIET`] is final. A count that does not move for
/// [`STALL_TIMEOUT`] ends the wait with a WARNING.
async fn wait_stored(
    api: &Client,
    server: &mut Sluice,
    store: Store<'_>,
    expected: u64,
    mut on_poll: impl FnMut(u64) -> Result<bool>,
) -> Result<Done> {
    let started = Instant::now();
    let mut last = (0, 0);
    let mut moved = Done { at: Instant::now(), wall: SystemTime::now(), stored: 0, dead: 0, first_receipt: None };
    let mut first_receipt = None;
    let mut progress = Instant::now();
    loop {
        if let Some(status) = server.exited()? {
            server.print_log_tail(20);
            bail!("sluice exited while the benchmark waited for its output ({status})");
        }
        let stats = get_json(api, &format!("{}/stats", server.base)).await?;
        let dead = stats.get("dead_lettered").and_then(Value::as_u64).unwrap_or(0);
        let received = stats.get("received").and_then(Value::as_u64).unwrap_or(0);
        let nothing_more = on_poll(received)?;
        if first_receipt.is_none() && received > 0 {
            first_receipt = Some((Instant::now(), cpu_seconds(server.pid)));
        }
        let stored = match &store {
            Store::Libsql => stats.get("stored").and_then(Value::as_u64).unwrap_or(0),
            Store::Postgres(pool) => postgres_count(pool).await?,
        };
        let now = Instant::now();
        if (stored, dead) != last {
            last = (stored, dead);
            moved = Done { at: now, wall: SystemTime::now(), stored, dead, first_receipt };
        }
        if stored + dead >= expected {
            return Ok(moved);
        }
        let idle = now.duration_since(moved.at);
        if nothing_more && idle >= ZMQ_QUIET {
            return Ok(moved);
        }
        if idle >= STALL_TIMEOUT {
            println!(
                "WARNING: the stored count stood still at {stored} (+{dead} dead-lettered) of {expected} for \
                 {STALL_TIMEOUT:?}; giving up on the rest"
            );
            println!(
                "  /stats journal: {}; outputs: {}",
                stats.get("journal").unwrap_or(&Value::Null),
                stats.get("outputs").unwrap_or(&Value::Null)
            );
            server.print_log_problems();
            server.print_log_tail(10);
            return Ok(moved);
        }
        if now.duration_since(progress) >= PROGRESS_EVERY {
            progress = now;
            println!(
                "  {:>5.0} s: stored {} / {}, dead-lettered {dead}",
                now.duration_since(started).as_secs_f64(),
                group(stored as f64),
                group(expected as f64)
            );
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Rows in `logs`; 0 while the output has not created the table yet.
async fn postgres_count(pool: &PgPool) -> Result<u64> {
    match sqlx::query_scalar::<_, i64>("SELECT count(*) FROM logs").fetch_one(pool).await {
        Ok(n) => Ok(n.max(0) as u64),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => Ok(0),
        Err(e) => Err(anyhow!(e).context("SELECT count(*) FROM logs")),
    }
}

fn print_stats(stats: &Value) {
    let field = |name: &str| stats.get(name).map_or_else(|| "?".into(), Value::to_string);
    println!(
        "stats: received {}, stored in libSQL {}, dead_lettered {}, batches {}",
        field("received"),
        field("stored"),
        field("dead_lettered"),
        field("batches")
    );
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// A database of its own for one run.
struct BenchDb {
    admin_url: String,
    name: String,
    url: String,
}

impl BenchDb {
    async fn create(admin_url: &str) -> Result<BenchDb> {
        let name = format!("sluice_bench_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {admin_url}"))?;
        admin.execute(sqlx::raw_sql(&format!("CREATE DATABASE {name}"))).await?;
        let _ = admin.close().await;
        let url = with_database(admin_url, &name);
        println!("created database {name}");
        Ok(BenchDb { admin_url: admin_url.into(), name, url })
    }

    /// Drops the database (whoever is still connected is disconnected).
    async fn drop_now(self) {
        let dropped = async {
            let mut admin = PgConnection::connect(&self.admin_url).await?;
            admin.execute(sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))).await?;
            let _ = admin.close().await;
            Ok::<_, sqlx::Error>(())
        };
        match dropped.await {
            Ok(()) => println!("dropped database {}", self.name),
            Err(e) => println!("WARNING: cannot drop database {}: {e}", self.name),
        }
    }
}

/// `url` with its database (the path) replaced by `database`; the query string is kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let end = base[authority..].find('/').map_or(base.len(), |i| authority + i);
    format!("{}/{database}{query}", &base[..end])
}

// ---------------------------------------------------------------------------------------------
// The server process

/// A `sluice run` child process with its own data directory (removed on drop).
struct Sluice {
    child: Option<Child>,
    pid: u32,
    base: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sluice {
    fn start(pipeline: &str) -> Result<Sluice> {
        let dir = tempfile::Builder::new().prefix("sluice-bench-").tempdir()?;
        let pipeline_path = dir.path().join("pipeline.yaml");
        std::fs::write(&pipeline_path, pipeline)?;
        let log = dir.path().join("sluice.log");
        let log_file = File::create(&log)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("run")
            .arg(&pipeline_path)
            .arg("--http")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("NO_COLOR", "1")
            // The pipeline file says where the brokers and the database are.
            .env_remove("KAFKA_BROKERS")
            .env_remove("SLUICE_AMQP_URL")
            .env_remove("SLUICE_POSTGRES_URL")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .context("cannot start the sluice binary")?;
        Ok(Sluice { pid: child.id(), child: Some(child), base: format!("http://127.0.0.1:{port}"), log, _dir: dir })
    }

    fn exited(&mut self) -> Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(child) => Ok(child.try_wait()?),
            None => bail!("sluice was already stopped"),
        }
    }

    /// Polls `/health` until it answers 200; fails early if the process exits.
    async fn wait_ready(&mut self, api: &Client) -> Result<Duration> {
        let started = Instant::now();
        let url = format!("{}/health", self.base);
        loop {
            if let Some(status) = self.exited()? {
                self.print_log_tail(20);
                bail!("sluice exited before it was ready ({status})");
            }
            if let Ok(resp) = api.get(&url).timeout(Duration::from_secs(2)).send().await
                && resp.status() == StatusCode::OK
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() > READY_TIMEOUT {
                self.print_log_tail(20);
                bail!("sluice did not answer /health within {READY_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits for the graceful shutdown; kills it if it takes too long.
    fn stop(&mut self) -> Result<ExitStatus> {
        let mut child = self.child.take().ok_or_else(|| anyhow!("sluice was already stopped"))?;
        let signalled = Command::new("kill").arg("-TERM").arg(self.pid.to_string()).status();
        if !signalled.is_ok_and(|s| s.success()) {
            println!("WARNING: could not send SIGTERM to {}; killing it", self.pid);
            child.kill()?;
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                println!("WARNING: sluice did not exit within {STOP_TIMEOUT:?} of SIGTERM; killing it");
                child.kill()?;
                return Ok(child.wait()?);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Prints how many WARN and ERROR lines the server logged, and the first few.
    fn print_log_problems(&self) {
        let Ok(text) = std::fs::read_to_string(&self.log) else { return };
        let problems: Vec<&str> = text.lines().filter(|l| l.contains(" WARN ") || l.contains(" ERROR ")).collect();
        if problems.is_empty() {
            return;
        }
        println!("WARNING: the server logged {} warning/error lines, first ones:", problems.len());
        for line in problems.iter().take(5) {
            println!("  | {line}");
        }
    }

    fn print_log_tail(&self, lines: usize) {
        let Ok(text) = std::fs::read_to_string(&self.log) else { return };
        let all: Vec<&str> = text.lines().collect();
        println!("server log (last {lines} lines):");
        for line in &all[all.len().saturating_sub(lines)..] {
            println!("  | {line}");
        }
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Stops the server and prints what it logged that looks wrong.
fn finish(mut server: Sluice) -> Result<()> {
    let status = server.stop()?;
    println!("sluice stopped ({status})");
    server.print_log_problems();
    Ok(())
}

fn api_client() -> Result<Client> {
    Ok(Client::builder().no_proxy().timeout(Duration::from_secs(30)).build()?)
}

async fn get_text(api: &Client, url: &str) -> Result<String> {
    let resp = api.get(url).send().await.with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("GET {url} answered {status}: {text}");
    }
    Ok(text)
}

async fn get_json(api: &Client, url: &str) -> Result<Value> {
    let text = get_text(api, url).await?;
    serde_json::from_str(&text).with_context(|| format!("GET {url} did not answer JSON"))
}

// ---------------------------------------------------------------------------------------------
// /proc

/// `VmHWM` (peak resident set size) of `pid`, bytes.
fn peak_rss(pid: u32) -> Result<u64> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).ok_or_else(|| anyhow!("no VmHWM for {pid}"))?;
    let kb: u64 = line["VmHWM:".len()..].trim().trim_end_matches("kB").trim().parse()?;
    Ok(kb * 1024)
}

/// User plus system CPU time `pid` has used, seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks())
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`, almost always 100).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|&t: &f64| t > 0.0)
            .unwrap_or(100.0)
    })
}

// ---------------------------------------------------------------------------------------------
// Prometheus histograms

/// A cumulative histogram: (upper bound, observations at or below it), ascending, `+Inf` last.
struct Histogram(Vec<(f64, f64)>);

/// A quantile estimate; `beyond_top` means it lies in the `+Inf` bucket, so `seconds` is only the
/// highest finite bound (a lower limit).
#[derive(Clone, Copy)]
struct Quantile {
    seconds: f64,
    beyond_top: bool,
}

impl Histogram {
    /// The buckets of histogram `name` in a text exposition, of the series with label `with`
    /// (`(key, value)`) when given.
    fn parse(text: &str, name: &str, with: Option<(&str, &str)>) -> Histogram {
        let prefix = format!("{name}_bucket{{");
        let mut buckets = Vec::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(&prefix) else { continue };
            let Some((labels, value)) = rest.rsplit_once('}') else { continue };
            let labels = parse_labels(labels);
            if let Some((key, want)) = with
                && !labels.iter().any(|(k, v)| k == key && v == want)
            {
                continue;
            }
            let Some((_, le)) = labels.iter().find(|(k, _)| k == "le") else { continue };
            let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap_or(f64::NAN) };
            let count = value.split_whitespace().next().and_then(|v| v.parse().ok());
            if let (false, Some(count)) = (bound.is_nan(), count) {
                buckets.push((bound, count));
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Histogram(buckets)
    }

    /// The `q` quantile, interpolated linearly within its bucket (as Prometheus'
    /// `histogram_quantile`); `None` without observations.
    fn quantile(&self, q: f64) -> Option<Quantile> {
        let total = self.0.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for &(upper, count) in &self.0 {
            if count >= rank {
                if upper.is_infinite() {
                    return Some(Quantile { seconds: lower, beyond_top: true });
                }
                let share = if count > below { (rank - below) / (count - below) } else { 1.0 };
                return Some(Quantile { seconds: lower + (upper - lower) * share, beyond_top: false });
            }
            (lower, below) = (upper, count);
        }
        None
    }
}

/// `a="x",le="0.5"` → `[(a, x), (le, 0.5)]` (values carry no escaped quotes here).
fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let Some(end) = after.find('"') else { break };
        labels.push((key.trim_start_matches(',').trim().to_string(), after[..end].to_string()));
        rest = &after[end + 1..];
    }
    labels
}

// ---------------------------------------------------------------------------------------------
// Generated log records

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits + 16);
        while s.len() < digits {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(digits);
        s
    }
}

/// One log record before it is rendered as JSON or protobuf.
struct Record {
    timestamp: String,
    level: &'static str,
    source: &'static str,
    module: &'static str,
    function: &'static str,
    message: String,
    request_id: String,
    host: String,
}

/// How often each of [`record`]'s templates is picked.
const WEIGHTS: [u64; 12] = [10, 9, 4, 2, 5, 14, 8, 3, 1, 7, 1, 6];

const WORDS: [&str; 8] = ["orders", "users", "invoices", "catalog", "reports", "carts", "tokens", "metrics"];

/// Record `index`: a template picked by weight, its variable parts from `rng`, so the miner sees
/// a dozen patterns with varying numbers, ids and words.
fn record(rng: &mut Rng, index: u64) -> Record {
    // From 2025-03-01T00:00:00Z, two milliseconds apart.
    let millis = 1_740_787_200_000_i64 + index as i64 * 2;
    let timestamp = chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    let mut pick = rng.next() % WEIGHTS.iter().sum::<u64>();
    let mut template = 0;
    while pick >= WEIGHTS[template] {
        pick -= WEIGHTS[template];
        template += 1;
    }
    let r = rng;
    let (level, source, module, function, message) = match template {
        0 => ("INFO", "checkout", "cart", "add_item", {
            format!("Added {} items to cart {} for customer {}", r.between(1, 9), r.hex(8), r.between(10_000, 99_999))
        }),
        1 => ("INFO", "search", "query", "run", {
            let word = r.pick(&WORDS);
            format!("Search for {word} returned {} results in {}ms", r.between(0, 5000), r.between(1, 400))
        }),
        2 => ("WARNING", "inventory", "stock", "reserve", {
            format!("Stock for SKU-{} below threshold: {} left", r.between(1000, 9999), r.between(0, 20))
        }),
        3 => ("ERROR", "billing", "invoice", "render", {
            format!("Invoice {} could not be rendered: template {} missing", r.between(1, 999_999), r.pick(&WORDS))
        }),
        4 => ("DEBUG", "scheduler", "cron", "tick", {
            format!("Tick {} ran {} jobs, next in {}s", r.between(1, 1_000_000), r.between(0, 40), r.between(1, 60))
        }),
        5 => ("INFO", "gateway", "http", "handle", {
            let method = r.pick(&["GET", "GET", "GET", "POST", "PUT", "DELETE"]);
            let status = r.pick(&["200", "200", "200", "201", "204", "404", "500"]);
            let word = r.pick(&WORDS);
            format!("{method} /v2/{word}/{} -> {status} in {}ms", r.between(1, 99_999), r.between(1, 900))
        }),
        6 => ("INFO", "sessions", "store", "refresh", {
            format!("Session {} refreshed for user {}", r.hex(16), r.between(10_000, 99_999))
        }),
        7 => ("WARNING", "mailer", "smtp", "deliver", {
            format!("Retrying delivery to user{}@example.com, attempt {}", r.between(1, 50_000), r.between(2, 6))
        }),
        8 => ("ERROR", "storage", "disk", "flush", {
            format!("Write to volume vol-{} failed after {} ms: I/O timeout", r.hex(6), r.between(100, 30_000))
        }),
        9 => ("INFO", "auth", "login", "verify", {
            let method = r.pick(&["password", "sso", "passkey", "token"]);
            format!("Login succeeded for account {} via {method}", r.between(10_000, 99_999))
        }),
        10 => ("CRITICAL", "replicator", "wal", "apply", {
            format!("Replica lag {}s exceeds limit on shard {}", r.between(30, 900), r.between(1, 16))
        }),
        _ => {
            ("DEBUG", "cache", "lru", "evict", format!("Evicted entry {} after {} hits", r.hex(12), r.between(0, 5000)))
        }
    };
    Record {
        timestamp,
        level,
        source,
        module,
        function,
        message,
        request_id: r.hex(20),
        host: format!("node-{:02}", r.between(1, 12)),
    }
}

/// `count` records as JSON lines (Kafka and AMQP payloads), about 250 bytes each.
fn json_lines(count: u64) -> Vec<String> {
    let mut rng = Rng::new(0x5b0c_e11a);
    (0..count)
        .map(|i| {
            let r = record(&mut rng, i);
            json!({
                "timestamp": r.timestamp,
                "level": r.level.to_ascii_lowercase(),
                "source": r.source,
                "message": r.message,
                "module": r.module,
                "function": r.function,
                "metadata": {"request_id": r.request_id, "host": r.host},
            })
            .to_string()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Output

fn print_header(settings: &Settings) {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, v)| v.trim());
    let arch = Command::new("uname")
        .arg("-m")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l["MemTotal:".len()..].trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or_else(|| "unknown".to_string(), |kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    println!("Sluice broker benchmark");
    println!("command: cargo bench --bench brokers");
    println!("sluice {}", env!("CARGO_PKG_VERSION"));
    println!("machine: {cpus} cores ({model}), {arch}, {memory} RAM, load average {load}");
    println!(
        "settings: SLUICE_BENCH_SCENARIOS={} SLUICE_BENCH_EVENTS={} SLUICE_BENCH_ZMQ_RATE={} \
         SLUICE_BENCH_ZMQ_SECONDS={} SLUICE_BENCH_ZMQ_HWM={}",
        settings.kinds.iter().map(|k| k.id()).collect::<Vec<_>>().join(","),
        settings.events,
        settings.zmq_rates.iter().map(u64::to_string).chain(["max".into()]).collect::<Vec<_>>().join(","),
        settings.zmq_seconds,
        settings.zmq_hwm
    );
    println!("note: the publishers run on this machine too and compete with Sluice for its {cpus} cores");
}

fn print_table(outcomes: &[Outcome]) {
    if outcomes.is_empty() {
        println!("\nno scenario completed");
        return;
    }
    let headers = [
        "scenario",
        "output",
        "offered",
        "sent",
        "stored",
        "lost",
        "dead-lettered",
        "seconds",
        "events/s",
        "p50 ms",
        "p99 ms",
        "peak RSS MB",
        "CPU %",
    ];
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            vec![
                o.name.clone(),
                o.output.to_string(),
                o.offered.clone(),
                group(o.sent as f64),
                group(o.stored as f64),
                group(o.lost() as f64),
                group(o.dead as f64),
                format!("{:.2}", o.e2e.as_secs_f64()),
                group(o.rate()),
                quantile_ms(o.p50),
                quantile_ms(o.p99),
                format!("{:.1}", mb(o.peak_rss)),
                o.cpu.map_or_else(|| "-".into(), |c| format!("{:.0}", c * 100.0)),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([headers[c].len()]).max().unwrap_or(0))
        .collect();
    let print_row = |cells: &[&str]| {
        let mut out = String::new();
        for (c, cell) in cells.iter().enumerate() {
            if c < 3 {
                let _ = write!(out, "{cell:<w$}  ", w = widths[c]);
            } else {
                let _ = write!(out, "{cell:>w$}  ", w = widths[c]);
            }
        }
        println!("{}", out.trim_end());
    };
    println!();
    print_row(&headers);
    let rules: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    print_row(&rules.iter().map(String::as_str).collect::<Vec<_>>());
    for row in &rows {
        print_row(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    println!();
    let legend = [
        "offered: pre-loaded = every message was in the broker before Sluice started; backlog B = B messages were,",
        "  and the rest was produced as Sluice consumed, keeping up to B waiting; N/s = the publisher's fixed rate;",
        "  max = as fast as it could. sent: messages in the broker (ZeroMQ: handed to the PUB socket).",
        "stored: rows in PostgreSQL `logs` / `stored` in libSQL; lost = sent - stored - dead-lettered (ZeroMQ",
        "  PUB/SUB drops what exceeds the publisher's high-water mark; a broker should lose nothing).",
        "seconds, events/s: first message → all stored (Kafka, AMQP: from Sluice receiving the first message;",
        "  ZeroMQ: from the first send), stored / seconds.",
        "p50/p99: received by Sluice's input → committed in the output (sluice_ingest_to_output_seconds for",
        "  PostgreSQL, sluice_ingest_to_stored_seconds for libSQL), interpolated within histogram buckets; a `>`",
        "  marks a quantile beyond the top bucket. With a backlog waiting they are mostly queueing in Sluice.",
        "peak RSS: VmHWM of the Sluice process (MB = 2^20 bytes). CPU %: Sluice's CPU time from the first",
        "  message (Kafka, AMQP: the first poll that saw one received) to all stored, as a share of one core.",
    ];
    for line in legend {
        println!("{line}");
    }
}

fn quantile_ms(q: Option<Quantile>) -> String {
    match q {
        None => "-".into(),
        Some(q) if q.beyond_top => format!(">{:.0}", q.seconds * 1000.0),
        Some(q) => format!("{:.1}", q.seconds * 1000.0),
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A whole number with thousands separators: `1234567.8` → `1,234,568`.
fn group(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
