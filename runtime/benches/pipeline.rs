//! End-to-end benchmark of the real `sluice` binary over loopback HTTP.
//!
//! ```sh
//! cargo bench --bench pipeline
//! ```
//!
//! Each scenario starts a fresh `sluice run <pipeline> --http 127.0.0.1:<port> --data-dir <tmp>`
//! child process, waits for `GET /health`, lets it settle for a second, and then measures:
//!
//! - **Throughput.** `C` connections POST pre-generated NDJSON bodies of `B` events to
//!   `/api/v1/ingest` until `N` events are acknowledged (`202`), then `POST /flush` waits until the
//!   store has committed everything. *End-to-end* events/s is `N` over the time from the first
//!   send to the flush's return; *ingest* events/s is `N` over the time to the last
//!   acknowledgement. Requests/s and client-side request latency are reported too. Most scenarios
//!   send at saturation (each connection sends its next request as soon as the previous one is
//!   acknowledged), so their latency is mostly time spent queued in the journal; `paced` offers a
//!   fixed load instead.
//! - **Back-pressure.** Requests refused with `503` `overloaded` (the journal backlog is over its
//!   bound) are retried and counted; other failed requests are retried and reported as errors.
//! - **Latency.** p50 and p99 of `sluice_ingest_to_stored_seconds` (acknowledged → committed in
//!   the store) from `GET /metrics`, interpolated within buckets as Prometheus'
//!   `histogram_quantile` does.
//! - **Memory.** Idle RSS before the load, RSS after it, and peak RSS (`VmHWM`), from `/proc`.
//! - **CPU.** CPU time each group of server threads (`processor`, `store-output`,
//!   `journal-writer`, tokio workers, ...) used during the run, and the load generator's own.
//! - **Correctness.** `GET /stats` must show all `N` events stored and none dead-lettered;
//!   otherwise a WARNING is printed. The benchmark reports; it never asserts a target.
//!
//! Scenarios:
//!
//! - `default`: `pipelines/default.yaml` (http → normalize → mine → libsql + websocket).
//! - `paced`: the default pipeline at a fixed offered load of `R` events/s: request `k` is due
//!   `k·B/R` seconds after the start and goes out on connection `k mod C`. A request that cannot
//!   go out on time (its connection is still waiting for the previous answer) is sent as soon as
//!   it can, never skipped or merged, and the scenario reports how far behind the timetable the
//!   sender ended up, so an unreachable rate shows instead of silently lowering the load.
//! - `no-stages`: the same pipeline with `stages: []`, which shows what the guests cost.
//! - `single-event`: the default pipeline with one event per request over 16 connections.
//!
//! Environment knobs (default in brackets):
//!
//! - `SLUICE_BENCH_EVENTS` [1000000]: events in the `default` and `no-stages` scenarios.
//! - `SLUICE_BENCH_BATCH` [500]: events per request in batched scenarios (all but `single-event`).
//! - `SLUICE_BENCH_CONNECTIONS` [4]: concurrent connections in batched scenarios.
//! - `SLUICE_BENCH_RATE` [100000]: offered load of the `paced` scenario, events/s.
//! - `SLUICE_BENCH_PACED_EVENTS` [500000]: events in the `paced` scenario.
//! - `SLUICE_BENCH_SINGLE_EVENTS` [20000]: events (= requests) in the single-event scenario.
//! - `SLUICE_BENCH_SCENARIOS` [default,paced,no-stages,single-event]: comma-separated subset.
//!
//! Linux only (it reads `/proc`). The load generator runs on one thread of the same machine, so
//! on a small machine it competes with the server for CPU; its CPU time is printed alongside.
//! Command-line arguments (cargo passes `--bench`) are ignored.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// The pipeline the `default`, `paced` and `single-event` scenarios run; `no-stages` derives
/// from it.
const DEFAULT_PIPELINE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../pipelines/default.yaml"));

const DEFAULT_EVENTS: usize = 1_000_000;
const DEFAULT_BATCH: usize = 500;
const DEFAULT_CONNECTIONS: usize = 4;
const DEFAULT_RATE: usize = 100_000;
const DEFAULT_PACED_EVENTS: usize = 500_000;
const DEFAULT_SINGLE_EVENTS: usize = 20_000;
const SINGLE_CONNECTIONS: usize = 16;

/// How long a fresh process may take to answer `/health` (it compiles the guests first).
const READY_TIMEOUT: Duration = Duration::from_secs(300);
/// Pause between `/health` answering and the idle RSS reading.
const SETTLE: Duration = Duration::from_secs(1);
/// Client timeout for one ingest request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Client timeout for one `/flush` call (the server gives up on its own after 30 s with a 504).
const FLUSH_REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// `/flush` calls answered 504 (still catching up) before the scenario is abandoned.
const MAX_FLUSH_ATTEMPTS: u32 = 60;
/// Failed ingest requests (each is retried) before the scenario is abandoned. Refusals for
/// overload are back-pressure, not failures, and do not count.
const MAX_ERRORS: u64 = 1_000;
/// How long one request may keep being refused for overload before the scenario is abandoned.
const MAX_OVERLOADED: Duration = Duration::from_secs(300);
/// Pause before a failed or refused request is sent again.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Failed requests printed in full; the rest are only counted.
const PRINTED_ERRORS: u64 = 5;
/// How long a stopped server may take to drain and exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(90);
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

fn main() -> Result<()> {
    // `cargo bench` passes `--bench` (and any filter); there is nothing to select by argument.
    let settings = Settings::from_env()?;
    print_header(&settings);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut outcomes = Vec::new();
    for scenario in settings.scenarios() {
        match runtime.block_on(run_scenario(&scenario)) {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => println!("\nWARNING: scenario `{}` failed: {e:#}", scenario.name),
        }
    }
    print_table(&outcomes);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Settings and scenarios

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Default,
    Paced,
    NoStages,
    SingleEvent,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Default, Kind::Paced, Kind::NoStages, Kind::SingleEvent];

    fn id(self) -> &'static str {
        match self {
            Kind::Default => "default",
            Kind::Paced => "paced",
            Kind::NoStages => "no-stages",
            Kind::SingleEvent => "single-event",
        }
    }

    fn parse(name: &str) -> Option<Kind> {
        match name.trim().to_ascii_lowercase().as_str() {
            "default" => Some(Kind::Default),
            "paced" => Some(Kind::Paced),
            "no-stages" | "nostages" | "no_stages" => Some(Kind::NoStages),
            "single-event" | "single" | "single-event requests" | "single_event" => Some(Kind::SingleEvent),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Settings {
    events: usize,
    batch: usize,
    connections: usize,
    /// Offered load of the `paced` scenario, events/s.
    rate: usize,
    paced_events: usize,
    single_events: usize,
    kinds: Vec<Kind>,
}

impl Settings {
    fn from_env() -> Result<Settings> {
        let kinds = match std::env::var("SLUICE_BENCH_SCENARIOS") {
            Ok(list) if !list.trim().is_empty() => list
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    Kind::parse(s).ok_or_else(|| {
                        let known = Kind::ALL.map(Kind::id).join(", ");
                        anyhow!("SLUICE_BENCH_SCENARIOS: unknown scenario `{}` ({known})", s.trim())
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            _ => Kind::ALL.to_vec(),
        };
        Ok(Settings {
            events: env_count("SLUICE_BENCH_EVENTS", DEFAULT_EVENTS)?,
            batch: env_count("SLUICE_BENCH_BATCH", DEFAULT_BATCH)?,
            connections: env_count("SLUICE_BENCH_CONNECTIONS", DEFAULT_CONNECTIONS)?,
            rate: env_count("SLUICE_BENCH_RATE", DEFAULT_RATE)?,
            paced_events: env_count("SLUICE_BENCH_PACED_EVENTS", DEFAULT_PACED_EVENTS)?,
            single_events: env_count("SLUICE_BENCH_SINGLE_EVENTS", DEFAULT_SINGLE_EVENTS)?,
            kinds,
        })
    }

    fn scenarios(&self) -> Vec<Scenario> {
        self.kinds
            .iter()
            .map(|&kind| {
                let batched = |pipeline, events, rate| Scenario {
                    name: kind.id(),
                    pipeline,
                    events,
                    batch: self.batch,
                    connections: self.connections,
                    rate,
                };
                match kind {
                    Kind::Default => batched(DEFAULT_PIPELINE.to_string(), self.events, None),
                    Kind::Paced => batched(DEFAULT_PIPELINE.to_string(), self.paced_events, Some(self.rate)),
                    Kind::NoStages => batched(without_stages(DEFAULT_PIPELINE), self.events, None),
                    Kind::SingleEvent => Scenario {
                        name: kind.id(),
                        pipeline: DEFAULT_PIPELINE.to_string(),
                        events: self.single_events,
                        batch: 1,
                        connections: SINGLE_CONNECTIONS,
                        rate: None,
                    },
                }
            })
            .collect()
    }
}

/// A positive count from the environment; `_` may group digits (`1_000_000`).
fn env_count(name: &str, default: usize) -> Result<usize> {
    let Ok(text) = std::env::var(name) else { return Ok(default) };
    let n: usize = text.trim().replace('_', "").parse().with_context(|| format!("{name}=`{text}` is not a count"))?;
    if n == 0 {
        bail!("{name} must be at least 1");
    }
    Ok(n)
}

/// The default pipeline with its stages removed, so events are stored as received.
fn without_stages(yaml: &str) -> String {
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).expect("pipelines/default.yaml is valid YAML");
    if let Some(map) = doc.as_mapping_mut() {
        map.insert("stages".into(), serde_yaml_ng::Value::Sequence(Vec::new()));
    }
    serde_yaml_ng::to_string(&doc).expect("a YAML value serialises")
}

struct Scenario {
    name: &'static str,
    pipeline: String,
    events: usize,
    /// Events per request.
    batch: usize,
    connections: usize,
    /// Offered load in events/s; `None` sends at saturation.
    rate: Option<usize>,
}

// ---------------------------------------------------------------------------------------------
// One scenario

/// What one scenario measured.
struct Outcome {
    name: &'static str,
    events: usize,
    /// Offered load in events/s; `None` at saturation.
    rate: Option<usize>,
    /// How far behind the timetable a paced sender ended up.
    behind: Option<Duration>,
    /// Requests refused with `503` `overloaded` and retried.
    overloaded: u64,
    e2e_rate: f64,
    ingest_rate: f64,
    requests_rate: f64,
    request_p99: Duration,
    stored_p50: Option<Quantile>,
    stored_p99: Option<Quantile>,
    idle: Memory,
    after: Memory,
    counts_ok: bool,
}

async fn run_scenario(sc: &Scenario) -> Result<Outcome> {
    println!("\n== {} ==", sc.name);
    println!(
        "{} events, {} per request, {} connections, {} stages, {}",
        group(sc.events as f64),
        sc.batch,
        sc.connections,
        if sc.pipeline.contains("guest:") { "with" } else { "no" },
        match sc.rate.zip(request_interval(sc)) {
            Some((rate, interval)) => format!(
                "offered at {} events/s (a request every {:.2} ms, for {:.1} s)",
                group(rate as f64),
                interval * 1000.0,
                sc.events as f64 / rate as f64
            ),
            None => "sent at saturation".to_string(),
        }
    );

    let generated = Instant::now();
    let payloads = generate_payloads(sc.events, sc.batch);
    let bytes: usize = payloads.iter().map(|p| p.body.len()).sum();
    println!(
        "generated {} requests, {:.1} MB ({:.0} bytes/event) in {:.1} s",
        group(payloads.len() as f64),
        mb(bytes as u64),
        bytes as f64 / sc.events as f64,
        generated.elapsed().as_secs_f64()
    );

    let api = api_client()?;
    let mut server = Sluice::start(&sc.pipeline)?;
    let ready_in = server.wait_ready(&api).await?;
    println!("sluice pid {} ready on {} in {:.1} s", server.pid, server.base, ready_in.as_secs_f64());
    tokio::time::sleep(SETTLE).await;
    let idle = Memory::read(server.pid)?;
    println!("idle RSS {:.1} MB", mb(idle.rss));

    let cpu_before = (thread_cpu(&server.pid.to_string()), thread_cpu("self"));
    let acked = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let progress = tokio::spawn(report_progress(api.clone(), server.base.clone(), acked.clone(), sc.events, started));
    let schedule = Schedule::new(sc, started);
    let ingest = ingest(&server.base, payloads, sc.connections, schedule, acked).await;
    let ingest = match ingest {
        Ok(i) => i,
        Err(e) => {
            progress.abort();
            return Err(e);
        }
    };
    let ingest_time = ingest.last_ack.duration_since(started);
    let flush_attempts = flush(&api, &server.base).await;
    let e2e_time = started.elapsed();
    progress.abort();
    let flush_attempts = flush_attempts?;
    let cpu_after = (thread_cpu(&server.pid.to_string()), thread_cpu("self"));

    let after = Memory::read(server.pid)?;
    let metrics = get_text(&api, &format!("{}/metrics", server.base)).await?;
    let metrics = parse_metrics(&metrics);
    let stats = get_json(&api, &format!("{}/stats", server.base)).await?;

    let n = sc.events as f64;
    let e2e_rate = n / e2e_time.as_secs_f64();
    let ingest_rate = n / ingest_time.as_secs_f64();
    let requests_rate = ingest.requests as f64 / ingest_time.as_secs_f64();
    let mut latencies = ingest.latencies;
    latencies.sort_unstable();
    let request_p50 = percentile(&latencies, 0.50);
    let request_p99 = percentile(&latencies, 0.99);
    let stored = histogram(&metrics, "sluice_ingest_to_stored_seconds");
    let stored_p50 = stored.quantile(0.50);
    let stored_p99 = stored.quantile(0.99);

    println!(
        "ingest: {:.2} s to the last ack, {} events/s, {} requests/s, request latency p50 {} ms, p99 {} ms; \
         {} requests refused with 503 overloaded and retried",
        ingest_time.as_secs_f64(),
        group(ingest_rate),
        group(requests_rate),
        ms(request_p50),
        ms(request_p99),
        ingest.overloaded
    );
    if let Some(lag) = &ingest.lag {
        println!(
            "schedule: the sender ended {} ms behind the timetable; lag p50 {} ms, p99 {} ms, max {} ms",
            ms(lag.end),
            ms(lag.p50),
            ms(lag.p99),
            ms(lag.max)
        );
        // Behind by more than one connection's spacing: requests were queueing in the sender.
        let spacing =
            request_interval(sc).map_or(Duration::ZERO, |i| Duration::from_secs_f64(i * sc.connections as f64));
        if lag.end > spacing {
            println!(
                "WARNING: the sender could not keep up with the timetable: the offered load was not reached \
                 (ingest ran at {} events/s)",
                group(ingest_rate)
            );
        }
    }
    if ingest.errors > 0 {
        println!("WARNING: {} ingest requests failed and were retried", ingest.errors);
    }
    println!(
        "flush: returned {:.2} s after the last ack ({} call{}); end to end {:.2} s, {} events/s",
        (e2e_time - ingest_time).as_secs_f64(),
        flush_attempts,
        if flush_attempts == 1 { "" } else { "s" },
        e2e_time.as_secs_f64(),
        group(e2e_rate)
    );
    let mean = metric(&metrics, "sluice_ingest_to_stored_seconds_sum", "")
        .zip(metric(&metrics, "sluice_ingest_to_stored_seconds_count", ""))
        .filter(|&(_, count)| count > 0.0)
        .map(|(sum, count)| sum / count);
    println!(
        "ack → stored latency: p50 {} ms, p99 {} ms, mean {} ms",
        quantile_ms(stored_p50),
        quantile_ms(stored_p99),
        mean.map_or_else(|| "-".to_string(), |s| format!("{:.1}", s * 1000.0))
    );
    print_guest_calls(&metrics);
    println!(
        "memory: idle RSS {:.1} MB, RSS after {:.1} MB, peak RSS {:.1} MB",
        mb(idle.rss),
        mb(after.rss),
        mb(after.peak)
    );
    print_cpu(&cpu_before, &cpu_after, e2e_time);
    let counts_ok = check_stats(&stats, sc.events as u64);

    let status = server.stop()?;
    println!("sluice stopped ({status})");
    server.print_log_problems();
    Ok(Outcome {
        name: sc.name,
        events: sc.events,
        rate: sc.rate,
        behind: ingest.lag.map(|lag| lag.end),
        overloaded: ingest.overloaded,
        e2e_rate,
        ingest_rate,
        requests_rate,
        request_p99,
        stored_p50,
        stored_p99,
        idle,
        after,
        counts_ok,
    })
}

/// Prints `/stats` and whether every event arrived; returns whether they did.
fn check_stats(stats: &Value, expected: u64) -> bool {
    let field = |name: &str| stats.get(name).and_then(Value::as_u64);
    let (received, stored, dead) = (field("received"), field("stored"), field("dead_lettered"));
    let batches = field("batches");
    println!(
        "stats: received {}, stored {}, dead_lettered {}, batches {} (≈{} events/batch), rejected_requests {}",
        show(received),
        show(stored),
        show(dead),
        show(batches),
        match (stored, batches) {
            (Some(s), Some(b)) if b > 0 => group(s as f64 / b as f64),
            _ => "-".into(),
        },
        show(field("rejected_requests"))
    );
    let ok = stored == Some(expected) && dead == Some(0);
    if !ok {
        println!(
            "WARNING: expected stored = {expected} and dead_lettered = 0, got stored = {} and dead_lettered = {}",
            show(stored),
            show(dead)
        );
    }
    ok
}

fn show(v: Option<u64>) -> String {
    v.map_or_else(|| "?".into(), |v| v.to_string())
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
        let port = free_port()?;
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("run")
            .arg(&pipeline_path)
            .arg("--http")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .context("cannot start the sluice binary")?;
        Ok(Sluice { pid: child.id(), child: Some(child), base: format!("http://127.0.0.1:{port}"), log, _dir: dir })
    }

    /// Polls `/health` until it answers 200; fails early if the process exits.
    async fn wait_ready(&mut self, api: &Client) -> Result<Duration> {
        let started = Instant::now();
        let url = format!("{}/health", self.base);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
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

    /// SIGTERM, then waits for the graceful drain; kills it if it takes too long.
    fn stop(&mut self) -> Result<std::process::ExitStatus> {
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

    /// Prints the server's WARN and ERROR log lines, if any (the first few in full).
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

/// A loopback port nothing listens on right now.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

// ---------------------------------------------------------------------------------------------
// Load generation

/// One request body and how many events it carries.
struct Payload {
    body: Bytes,
    events: usize,
}

/// `events` events in NDJSON bodies of `per_request` events, generated deterministically.
fn generate_payloads(events: usize, per_request: usize) -> Vec<Payload> {
    let mut rng = Rng(0x5eed_1095_u64);
    let mut payloads = Vec::with_capacity(events.div_ceil(per_request));
    let mut next = 0;
    while next < events {
        let count = per_request.min(events - next);
        let mut body = String::with_capacity(count * 224);
        for i in next..next + count {
            body.push_str(&log_line(&mut rng, i));
            body.push('\n');
        }
        payloads.push(Payload { body: Bytes::from(body), events: count });
        next += count;
    }
    payloads
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    fn ip(&mut self) -> String {
        format!("10.{}.{}.{}", self.below(256), self.below(256), self.range(1, 254))
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut s = format!("{:016x}", self.next());
        while s.len() < digits {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(digits);
        s
    }

    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
    }
}

/// Relative frequency of each template in [`message`] (info-level traffic dominates).
const TEMPLATE_WEIGHTS: [u64; 20] = [12, 8, 3, 14, 6, 3, 5, 2, 6, 1, 7, 2, 5, 2, 6, 1, 2, 9, 1, 1];

/// One JSON log line of about 200 bytes: event `index`, a template chosen by `rng`.
fn log_line(rng: &mut Rng, index: usize) -> String {
    // 2024-05-01T00:00:00Z, a few milliseconds apart.
    let ms = 1_714_521_600_000_i64 + index as i64 * 3 + rng.below(3) as i64;
    let timestamp = chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    let total: u64 = TEMPLATE_WEIGHTS.iter().sum();
    let mut pick = rng.below(total);
    let mut template = 0;
    for (i, &w) in TEMPLATE_WEIGHTS.iter().enumerate() {
        if pick < w {
            template = i;
            break;
        }
        pick -= w;
    }
    let (level, source, message) = message(rng, template);
    json!({
        "timestamp": timestamp,
        "level": level,
        "source": source,
        "message": message,
        "metadata": {
            "request_id": format!("req-{}", rng.hex(16)),
            "host": format!("web-{:02}", rng.range(1, 24)),
        },
    })
    .to_string()
}

/// Level, source and message of template `template` with fresh variable parts.
fn message(r: &mut Rng, template: usize) -> (&'static str, &'static str, String) {
    match template {
        0 => ("info", "auth-service", format!("User {} logged in from {}", r.range(1000, 99_999), r.ip())),
        1 => ("info", "auth-service", format!("User {} logged out after {}s", r.range(1000, 99_999), r.range(5, 7200))),
        2 => (
            "warn",
            "auth-service",
            format!("Failed login for user {} from {}: invalid password", r.range(1000, 99_999), r.ip()),
        ),
        3 => (
            "info",
            "api-gateway",
            format!("GET /api/v1/orders/{} 200 {}ms", r.range(100_000, 999_999), r.range(2, 250)),
        ),
        4 => ("info", "api-gateway", format!("POST /api/v1/payments 201 {}ms", r.range(20, 900))),
        5 => ("warn", "api-gateway", format!("GET /api/v1/users/{} 404 {}ms", r.range(1000, 99_999), r.range(1, 40))),
        6 => (
            "info",
            "payment-service",
            format!("Payment {} authorised for {}.{:02} EUR", r.hex(12), r.range(1, 2500), r.below(100)),
        ),
        7 => ("warn", "payment-service", format!("Payment {} declined: insufficient funds", r.hex(12))),
        8 => (
            "debug",
            "db-proxy",
            format!(
                "Query took {}ms: SELECT * FROM orders WHERE customer_id = {}",
                r.range(1, 800),
                r.range(1, 500_000)
            ),
        ),
        9 => ("error", "db-proxy", format!("Connection pool exhausted, {} waiters", r.range(1, 64))),
        10 => ("debug", "cache", format!("Cache miss for key session:{}", r.hex(16))),
        11 => ("info", "cache", format!("Evicted {} keys from cache in {}ms", r.range(10, 50_000), r.range(1, 300))),
        12 => (
            "info",
            "order-service",
            format!("Order {} shipped to warehouse {}", r.range(100_000, 999_999), r.range(1, 12)),
        ),
        13 => (
            "info",
            "order-service",
            format!("Order {} cancelled by user {}", r.range(100_000, 999_999), r.range(1000, 99_999)),
        ),
        14 => ("info", "worker", format!("Worker {} picked job {} from queue emails", r.range(1, 32), r.uuid())),
        15 => (
            "error",
            "worker",
            format!(
                "Job {} failed after {} retries: timeout connecting to {}:{}",
                r.uuid(),
                r.range(1, 5),
                r.ip(),
                r.range(1024, 65_535)
            ),
        ),
        16 => ("warn", "node-exporter", format!("Disk usage at {}% on /var/lib/data", r.range(80, 99))),
        17 => ("debug", "api-gateway", format!("Health check passed in {}ms", r.range(1, 20))),
        18 => (
            "error",
            "edge-proxy",
            format!("TLS handshake failed with {}:{}: certificate expired", r.ip(), r.range(1024, 65_535)),
        ),
        _ => ("critical", "kernel", format!("Out of memory: killed process {} (java)", r.range(300, 65_000))),
    }
}

// ---------------------------------------------------------------------------------------------
// Ingest and flush

struct Ingest {
    last_ack: Instant,
    requests: u64,
    /// Failed requests (each retried), refusals for overload excluded.
    errors: u64,
    /// Requests refused with `503` `overloaded` (each retried).
    overloaded: u64,
    latencies: Vec<Duration>,
    /// How far behind its timetable a paced sender was; `None` at saturation.
    lag: Option<Lag>,
}

/// Which payload a connection sends next, and when.
enum Schedule {
    /// At saturation: the next payload no connection has taken yet, at once.
    Saturate(AtomicUsize),
    /// A fixed timetable: payload `k` is due `k · interval` seconds after `start` and goes out on
    /// connection `k mod connections`.
    Paced { start: Instant, interval: f64, connections: usize },
}

impl Schedule {
    fn new(sc: &Scenario, start: Instant) -> Schedule {
        match request_interval(sc) {
            None => Schedule::Saturate(AtomicUsize::new(0)),
            Some(interval) => Schedule::Paced { start, interval, connections: sc.connections },
        }
    }

    /// The payload connection `worker` sends as its `round`-th request (counting from 0).
    fn pick(&self, worker: usize, round: usize) -> usize {
        match self {
            Schedule::Saturate(next) => next.fetch_add(1, Ordering::Relaxed),
            Schedule::Paced { connections, .. } => worker + round * connections,
        }
    }

    /// When payload `index` is due; `None` at saturation.
    fn due(&self, index: usize) -> Option<Instant> {
        match self {
            Schedule::Saturate(_) => None,
            Schedule::Paced { start, interval, .. } => Some(*start + Duration::from_secs_f64(index as f64 * interval)),
        }
    }
}

/// Seconds between consecutive requests of a paced scenario; `None` at saturation.
fn request_interval(sc: &Scenario) -> Option<f64> {
    sc.rate.map(|rate| sc.batch as f64 / rate as f64)
}

/// How late paced requests went out (first attempt) relative to their due time.
struct Lag {
    /// The largest lag in the last round (the last request due on each connection): how far
    /// behind the timetable the sender ended up.
    end: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Lag {
    /// From the (payload index, lag) of every paced request; `None` if there were none.
    fn of(lags: Vec<(usize, Duration)>, connections: usize) -> Option<Lag> {
        let last = lags.iter().map(|&(index, _)| index).max()?;
        let last_round = last.saturating_sub(connections - 1);
        let end = lags.iter().filter(|&&(index, _)| index >= last_round).map(|&(_, lag)| lag).max()?;
        let mut sorted: Vec<Duration> = lags.into_iter().map(|(_, lag)| lag).collect();
        sorted.sort_unstable();
        Some(Lag { end, p50: percentile(&sorted, 0.50), p99: percentile(&sorted, 0.99), max: *sorted.last()? })
    }
}

/// What the connections of one ingest run share.
struct Shared {
    url: String,
    payloads: Vec<Payload>,
    schedule: Schedule,
    /// Events acknowledged so far (also read by the progress reports).
    acked: Arc<AtomicU64>,
    errors: AtomicU64,
    overloaded: AtomicU64,
}

/// What one connection did.
struct Sent {
    last_ack: Option<Instant>,
    /// Latency of every acknowledged request.
    latencies: Vec<Duration>,
    /// (payload index, lag behind the timetable) of every paced request.
    lags: Vec<(usize, Duration)>,
}

/// Sends every payload over `connections` concurrent connections (each payload once, retried
/// until acknowledged) as `schedule` says, and returns when all are acknowledged.
async fn ingest(
    base: &str,
    payloads: Vec<Payload>,
    connections: usize,
    schedule: Schedule,
    acked: Arc<AtomicU64>,
) -> Result<Ingest> {
    let shared = Arc::new(Shared {
        url: format!("{base}/api/v1/ingest"),
        payloads,
        schedule,
        acked,
        errors: AtomicU64::new(0),
        overloaded: AtomicU64::new(0),
    });
    let mut workers = Vec::with_capacity(connections);
    for worker in 0..connections {
        let client = Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1)
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        workers.push(tokio::spawn(send_loop(client, shared.clone(), worker)));
    }
    let (mut last_ack, mut latencies, mut lags) = (None, Vec::new(), Vec::new());
    for worker in workers {
        let sent = worker.await.context("an ingest worker panicked")??;
        last_ack = last_ack.max(sent.last_ack);
        latencies.extend(sent.latencies);
        lags.extend(sent.lags);
    }
    Ok(Ingest {
        last_ack: last_ack.unwrap_or_else(Instant::now),
        requests: latencies.len() as u64,
        errors: shared.errors.load(Ordering::Relaxed),
        overloaded: shared.overloaded.load(Ordering::Relaxed),
        latencies,
        lag: Lag::of(lags, connections),
    })
}

/// Connection `worker`'s loop: sends the payloads the schedule gives it, each when it is due
/// (at once if it is late), until none are left.
async fn send_loop(client: Client, shared: Arc<Shared>, worker: usize) -> Result<Sent> {
    let mut sent = Sent { last_ack: None, latencies: Vec::new(), lags: Vec::new() };
    for round in 0.. {
        let index = shared.schedule.pick(worker, round);
        if index >= shared.payloads.len() {
            break;
        }
        if let Some(due) = shared.schedule.due(index) {
            tokio::time::sleep_until(due.into()).await;
            sent.lags.push((index, Instant::now().saturating_duration_since(due)));
        }
        let (acked_at, latency) = send_payload(&client, &shared, index).await?;
        sent.last_ack = Some(acked_at);
        sent.latencies.push(latency);
    }
    Ok(sent)
}

/// Sends payload `index` until it is acknowledged, pausing between attempts; returns when the
/// acknowledgement came and how long that attempt took.
async fn send_payload(client: &Client, shared: &Shared, index: usize) -> Result<(Instant, Duration)> {
    let payload = &shared.payloads[index];
    let mut refused_since = None;
    loop {
        let sent = Instant::now();
        let answer = client
            .post(&shared.url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
            .body(payload.body.clone())
            .send()
            .await;
        let failure = match answer {
            Ok(resp) if resp.status() == StatusCode::ACCEPTED => {
                let reply: Value = resp.json().await.unwrap_or(Value::Null);
                let now = Instant::now();
                let accepted = reply.get("accepted").and_then(Value::as_u64);
                if accepted != Some(payload.events as u64) {
                    println!("WARNING: sent {} events, the reply says {reply}", payload.events);
                }
                shared.acked.fetch_add(payload.events as u64, Ordering::Relaxed);
                return Ok((now, now - sent));
            }
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                if is_overloaded(status, &text) {
                    // Back-pressure: counted, not an error, as long as it does not last.
                    let n = shared.overloaded.fetch_add(1, Ordering::Relaxed) + 1;
                    if n == 1 {
                        println!(
                            "  ingest request {index} refused (retrying; further refusals are only counted): {text}"
                        );
                    }
                    if refused_since.get_or_insert(sent).elapsed() > MAX_OVERLOADED {
                        bail!("ingest request {index} was refused as overloaded for {MAX_OVERLOADED:?}: {text}");
                    }
                    None
                } else {
                    Some(format!("HTTP {status}: {text}"))
                }
            }
            Err(e) => Some(format!("request failed: {e}")),
        };
        if let Some(failure) = failure {
            let n = shared.errors.fetch_add(1, Ordering::Relaxed) + 1;
            if n <= PRINTED_ERRORS {
                println!("ERROR (ingest request {index}, retrying): {failure}");
            }
            if n >= MAX_ERRORS {
                bail!("{n} ingest requests failed; the last: {failure}");
            }
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Whether an answer is the journal back-pressure refusal: `503` with error code `overloaded`.
fn is_overloaded(status: StatusCode, body: &str) -> bool {
    status == StatusCode::SERVICE_UNAVAILABLE
        && serde_json::from_str::<Value>(body)
            .is_ok_and(|v| v.pointer("/error/code").and_then(Value::as_str) == Some("overloaded"))
}

/// `POST /flush` until the store has caught up (the server answers 504 after 30 s of waiting).
/// Returns how many calls it took.
async fn flush(api: &Client, base: &str) -> Result<u32> {
    let url = format!("{base}/flush");
    for attempt in 1..=MAX_FLUSH_ATTEMPTS {
        let resp = api.post(&url).timeout(FLUSH_REQUEST_TIMEOUT).send().await.context("POST /flush")?;
        match resp.status() {
            StatusCode::OK => return Ok(attempt),
            StatusCode::GATEWAY_TIMEOUT => println!("  flush: the store is still catching up (call {attempt})"),
            status => bail!("POST /flush answered {status}: {}", resp.text().await.unwrap_or_default()),
        }
    }
    bail!("the store did not catch up after {MAX_FLUSH_ATTEMPTS} flush calls")
}

/// Every `PROGRESS_EVERY`, prints how many events are acknowledged and stored.
async fn report_progress(api: Client, base: String, acked: Arc<AtomicU64>, total: usize, started: Instant) {
    let url = format!("{base}/stats");
    loop {
        tokio::time::sleep(PROGRESS_EVERY).await;
        let stored = match get_json(&api, &url).await {
            Ok(stats) => stats.get("stored").and_then(Value::as_u64).map_or_else(|| "?".into(), |s| group(s as f64)),
            Err(_) => "?".into(),
        };
        println!(
            "  {:>5.0} s: acknowledged {} / {}, stored {}",
            started.elapsed().as_secs_f64(),
            group(acked.load(Ordering::Relaxed) as f64),
            group(total as f64),
            stored
        );
    }
}

fn api_client() -> Result<Client> {
    Ok(Client::builder().no_proxy().timeout(Duration::from_secs(60)).build()?)
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
// Prometheus metrics

/// One sample: metric name, label text (between the braces) and value.
struct Sample {
    name: String,
    labels: String,
    value: f64,
}

/// Parses the Prometheus/OpenMetrics text exposition (comments skipped).
fn parse_metrics(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|line| {
            let (name, labels, rest) = match line.find('{') {
                Some(open) => {
                    let close = line.rfind('}')?;
                    (&line[..open], &line[open + 1..close], &line[close + 1..])
                }
                None => {
                    let (name, rest) = line.split_once(' ')?;
                    (name, "", rest)
                }
            };
            let value = rest.split_whitespace().next()?.parse().ok()?;
            Some(Sample { name: name.to_string(), labels: labels.to_string(), value })
        })
        .collect()
}

/// The value of the sample `name` whose labels are exactly `labels`.
fn metric(samples: &[Sample], name: &str, labels: &str) -> Option<f64> {
    samples.iter().find(|s| s.name == name && s.labels == labels).map(|s| s.value)
}

/// The value of label `key` in a label text such as `stage="mine",le="0.5"`.
fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{key}=\""))? + key.len() + 2;
    let len = labels[start..].find('"')?;
    Some(&labels[start..start + len])
}

/// A cumulative histogram: (upper bound, observations at or below it), ascending, `+Inf` last.
struct Histogram(Vec<(f64, f64)>);

/// A quantile estimate; `beyond_top` means it lies in the `+Inf` bucket, so `seconds` is only the
/// highest finite bound (a lower limit).
#[derive(Clone, Copy)]
struct Quantile {
    seconds: f64,
    beyond_top: bool,
}

fn histogram(samples: &[Sample], name: &str) -> Histogram {
    let bucket = format!("{name}_bucket");
    let mut buckets: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.name == bucket)
        .filter_map(|s| {
            let le = label(&s.labels, "le")?;
            let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((bound, s.value))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Histogram(buckets)
}

impl Histogram {
    /// The `q` quantile, interpolated linearly within its bucket (as `histogram_quantile`).
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
                let width = count - below;
                let share = if width > 0.0 { (rank - below) / width } else { 1.0 };
                return Some(Quantile { seconds: lower + (upper - lower) * share, beyond_top: false });
            }
            (lower, below) = (upper, count);
        }
        None
    }
}

/// Per stage: guest calls, their total time and mean time (from `sluice_guest_call_seconds`).
fn print_guest_calls(samples: &[Sample]) {
    let mut line = String::new();
    for s in samples.iter().filter(|s| s.name == "sluice_guest_call_seconds_sum") {
        let Some(stage) = label(&s.labels, "stage") else { continue };
        let count = metric(samples, "sluice_guest_call_seconds_count", &s.labels).unwrap_or(0.0);
        let mean = if count > 0.0 { s.value / count * 1000.0 } else { 0.0 };
        let _ = write!(line, "{}{stage} {count:.0} calls, {:.2} s total, {mean:.2} ms/call", sep(&line), s.value);
    }
    if !line.is_empty() {
        println!("guests: {line}");
    }
}

fn sep(line: &str) -> &'static str {
    if line.is_empty() { "" } else { "; " }
}

// ---------------------------------------------------------------------------------------------
// /proc readings

#[derive(Clone, Copy)]
struct Memory {
    /// Resident set size now (`VmRSS`), bytes.
    rss: u64,
    /// Highest resident set size so far (`VmHWM`), bytes.
    peak: u64,
}

impl Memory {
    fn read(pid: u32) -> Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("cannot read /proc/{pid}/status"))?;
        let field = |key: &str| -> Result<u64> {
            let line = status.lines().find(|l| l.starts_with(key)).ok_or_else(|| anyhow!("no {key} for {pid}"))?;
            let kb: u64 = line[key.len()..].trim().trim_end_matches("kB").trim().parse()?;
            Ok(kb * 1024)
        };
        Ok(Memory { rss: field("VmRSS:")?, peak: field("VmHWM:")? })
    }
}

/// Thread id → (thread name, CPU time in ns).
type ThreadCpu = HashMap<String, (String, u64)>;

/// CPU time (ns) of every thread of process `pid` (a number or `self`), by thread id, with the
/// thread's name.
fn thread_cpu(pid: &str) -> ThreadCpu {
    let mut threads = HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return threads };
    for task in tasks.flatten() {
        let dir = task.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default().trim().to_string();
        if let Some(ns) = cpu_ns(&dir) {
            threads.insert(task.file_name().to_string_lossy().into_owned(), (name, ns));
        }
    }
    threads
}

/// A thread's CPU time: `schedstat` (ns) where available, else `stat` ticks (assumed 100 Hz).
fn cpu_ns(task: &Path) -> Option<u64> {
    if let Ok(text) = std::fs::read_to_string(task.join("schedstat"))
        && let Some(ns) = text.split_whitespace().next().and_then(|v| v.parse().ok())
    {
        return Some(ns);
    }
    let stat = std::fs::read_to_string(task.join("stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10_000_000)
}

/// Prints the CPU time each server thread group (and the load generator) used in `wall`;
/// `before` and `after` are (server, load generator) readings.
fn print_cpu(before: &(ThreadCpu, ThreadCpu), after: &(ThreadCpu, ThreadCpu), wall: Duration) {
    let mut groups: HashMap<String, f64> = HashMap::new();
    for (tid, (name, ns)) in &after.0 {
        let start = before.0.get(tid).map_or(0, |(_, ns)| *ns);
        // Tokio names its threads `tokio-runtime-worker` or `tokio-rt-worker`, depending on version.
        let group = if name.starts_with("tokio-") { "tokio workers".to_string() } else { name.clone() };
        *groups.entry(group).or_default() += ns.saturating_sub(start) as f64 / 1e9;
    }
    let client: f64 = after
        .1
        .iter()
        .map(|(tid, (_, ns))| ns.saturating_sub(before.1.get(tid).map_or(0, |(_, ns)| *ns)) as f64 / 1e9)
        .sum();
    let mut groups: Vec<(String, f64)> = groups.into_iter().filter(|(_, s)| *s >= 0.005).collect();
    groups.sort_by(|a, b| b.1.total_cmp(&a.1));
    let wall = wall.as_secs_f64();
    let total: f64 = groups.iter().map(|(_, s)| s).sum();
    let mut line = String::new();
    for (name, secs) in &groups {
        let _ = write!(line, "{}{name} {secs:.1} s ({:.0}%)", sep(&line), secs / wall * 100.0);
    }
    println!("server CPU over {wall:.1} s: {total:.1} s ({:.0}% of one core): {line}", total / wall * 100.0);
    println!("load generator CPU: {client:.1} s ({:.0}% of one core)", client / wall * 100.0);
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
        .map_or("unknown", |(_, v)| v.trim());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l["MemTotal:".len()..].trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or_else(|| "unknown".to_string(), |kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    println!("Sluice end-to-end pipeline benchmark");
    println!("command: cargo bench --bench pipeline");
    println!("sluice {}", env!("CARGO_PKG_VERSION"));
    println!("machine: {cpus} CPUs ({model}), {memory} RAM, load average {load}");
    println!(
        "settings: SLUICE_BENCH_EVENTS={} SLUICE_BENCH_BATCH={} SLUICE_BENCH_CONNECTIONS={} SLUICE_BENCH_RATE={} \
         SLUICE_BENCH_PACED_EVENTS={} SLUICE_BENCH_SINGLE_EVENTS={} SLUICE_BENCH_SCENARIOS={}",
        settings.events,
        settings.batch,
        settings.connections,
        settings.rate,
        settings.paced_events,
        settings.single_events,
        settings.kinds.iter().map(|k| k.id()).collect::<Vec<_>>().join(",")
    );
}

fn print_table(outcomes: &[Outcome]) {
    if outcomes.is_empty() {
        println!("\nno scenario completed");
        return;
    }
    let headers = [
        "scenario",
        "events",
        "offered/s",
        "events/s e2e",
        "ingest events/s",
        "p50 ms",
        "p99 ms",
        "idle RSS MB",
        "peak RSS MB",
        "end RSS MB",
        "requests/s",
        "req p99 ms",
        "behind ms",
        "503s",
    ];
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            vec![
                format!("{}{}", o.name, if o.counts_ok { "" } else { " (!)" }),
                group(o.events as f64),
                o.rate.map_or_else(|| "-".into(), |r| group(r as f64)),
                group(o.e2e_rate),
                group(o.ingest_rate),
                quantile_ms(o.stored_p50),
                quantile_ms(o.stored_p99),
                format!("{:.1}", mb(o.idle.rss)),
                format!("{:.1}", mb(o.after.peak)),
                format!("{:.1}", mb(o.after.rss)),
                group(o.requests_rate),
                ms(o.request_p99),
                o.behind.map_or_else(|| "-".into(), ms),
                o.overloaded.to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([headers[c].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (c, cell) in cells.iter().enumerate() {
            if c == 0 {
                let _ = write!(out, "{cell:<w$}", w = widths[c]);
            } else {
                let _ = write!(out, "  {cell:>w$}", w = widths[c]);
            }
        }
        println!("{}", out.trim_end());
    };
    println!();
    line(headers.to_vec());
    line(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().iter().map(String::as_str).collect());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    println!();
    println!("p50/p99: acknowledged → committed in the store (sluice_ingest_to_stored_seconds, interpolated);");
    println!("req p99: client-side request latency. A `>` marks a quantile beyond the histogram's top bucket.");
    println!("offered/s: the paced scenario's fixed load (`-` = sent at saturation); behind ms: how far behind its");
    println!(
        "timetable the paced sender ended up. 503s: requests refused as overloaded (journal backlog) and retried."
    );
    println!("MB = 2^20 bytes; peak RSS is VmHWM, end RSS is VmRSS after the flush.");
    if outcomes.iter().any(|o| !o.counts_ok) {
        println!("(!) /stats did not show every event stored with none dead-lettered; see the WARNING above.");
    }
}

fn quantile_ms(q: Option<Quantile>) -> String {
    match q {
        None => "-".into(),
        Some(q) if q.beyond_top => format!(">{:.0}", q.seconds * 1000.0),
        Some(q) => format!("{:.1}", q.seconds * 1000.0),
    }
}

/// The `q` quantile of sorted durations (nearest rank).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
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
