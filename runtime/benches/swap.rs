//! How long a hot swap pauses the pipeline, by how much state the guest loads.
//!
//! ```sh
//! cargo bench --bench swap
//! ```
//!
//! For each pattern count `P`, starts the real `sluice` binary with `pipelines/default.yaml` on a
//! fresh data directory, ingests `P` messages of unrelated words so the `mine` stage holds `P`
//! patterns in its host-owned state, uploads a second version of `mine` (the same code with a
//! custom section appended: another hash, the same behaviour), and switches the stage between
//! the two versions `SWAPS` times. Each `activate` reply carries the processor's pause: creating
//! the new instance and running its `init`, which for the miner means reading and rebuilding all
//! `P` patterns. The whole request time (compiling on first use, the trial `init` off the hot
//! path, waiting for the batch boundary) is printed beside it. It also checks that the pattern
//! count is unchanged after the swaps. It reports; it never asserts a target.
//!
//! Knobs: `SLUICE_BENCH_PATTERNS` [100,1000,10000], `SLUICE_BENCH_SWAPS` [20].

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

fn main() -> Result<()> {
    let counts: Vec<usize> = std::env::var("SLUICE_BENCH_PATTERNS")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .map(|s| s.trim().parse().context("SLUICE_BENCH_PATTERNS"))
        .collect::<Result<_>>()?;
    let swaps: usize = std::env::var("SLUICE_BENCH_SWAPS").ok().map_or(Ok(20), |s| s.parse())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    println!("hot swap of `mine` in pipelines/default.yaml, {swaps} swaps per row");
    println!("| patterns | pause p50 | pause max | request p50 | request max | patterns after |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for patterns in counts {
        runtime.block_on(row(patterns, swaps))?;
    }
    Ok(())
}

async fn row(patterns: usize, swaps: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path())?;
    let client = reqwest::Client::new();
    server.wait_ready(&client).await?;
    let base = &server.base;

    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for chunk in (0..patterns).collect::<Vec<_>>().chunks(1000) {
        let body: String = chunk.iter().map(|_| format!("{}\n", json!({ "message": sentence(&mut rng) }))).collect();
        let response = client.post(format!("{base}/api/v1/ingest")).body(body).send().await?;
        if !response.status().is_success() {
            bail!("ingest: {}", response.text().await?);
        }
    }
    client.post(format!("{base}/flush")).send().await?.error_for_status()?;
    let before = pattern_count(&client, base).await?;

    let mine = sluice::wasm::builtin::get("mine").context("built-in mine")?;
    let mut variant = mine.to_vec();
    // A custom section (id 0): name length, name, no payload.
    variant.extend_from_slice(&[0, 6, 5]);
    variant.extend_from_slice(b"bench");
    let uploaded: Value =
        client.put(format!("{base}/api/v1/guests/mine")).body(variant).send().await?.error_for_status()?.json().await?;
    let guests: Value = client.get(format!("{base}/api/v1/guests")).send().await?.json().await?;
    let original = guests["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stage"] == "mine"))
        .map(|s| s["active"].as_str().unwrap_or_default().to_string())
        .context("stage mine")?;
    let versions = [uploaded["version"].as_str().context("version")?.to_string(), original];

    let (mut pauses, mut requests) = (Vec::new(), Vec::new());
    for i in 0..swaps {
        let started = Instant::now();
        let reply: Value = client
            .post(format!("{base}/api/v1/guests/mine/activate"))
            .json(&json!({ "version": versions[i % 2] }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        requests.push(started.elapsed());
        pauses.push(Duration::from_micros(reply["activated"][0]["pause_us"].as_u64().context("pause_us")?));
    }
    let after = pattern_count(&client, base).await?;
    pauses.sort_unstable();
    requests.sort_unstable();
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    println!(
        "| {patterns} ({before} mined) | {} | {} | {} | {} | {after} |",
        ms(pauses[pauses.len() / 2]),
        ms(pauses[pauses.len() - 1]),
        ms(requests[requests.len() / 2]),
        ms(requests[requests.len() - 1]),
    );
    Ok(())
}

/// Six made-up words: nothing in common with other sentences, so each becomes its own pattern.
fn sentence(rng: &mut u64) -> String {
    let mut words = Vec::with_capacity(6);
    for _ in 0..6 {
        let len = 4 + (next(rng) % 5) as usize;
        words.push((0..len).map(|_| char::from(b'a' + (next(rng) % 26) as u8)).collect::<String>());
    }
    words.join(" ")
}

fn next(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

async fn pattern_count(client: &reqwest::Client, base: &str) -> Result<usize> {
    let response = client.get(format!("{base}/api/v1/patterns?limit=1")).send().await?;
    let total = response.headers().get("x-total-count").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let body: Value = response.json().await?;
    Ok(total.unwrap_or_else(|| body.as_array().map_or(0, Vec::len)))
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(dir: &Path) -> Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let pipeline = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines/default.yaml");
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("run")
            .arg(pipeline)
            .args(["--http", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(dir.join("data"))
            .env("SLUICE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()?;
        Ok(Server { child, base: format!("http://127.0.0.1:{port}") })
    }

    async fn wait_ready(&self, client: &reqwest::Client) -> Result<()> {
        for _ in 0..600 {
            if client.get(format!("{}/health", self.base)).send().await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("sluice did not come up")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
