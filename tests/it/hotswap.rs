//! Hot swap under load: a stage switched 20 times between two versions while events keep coming.
//! Every acknowledged event is stored exactly once, and the events each version processed (its
//! counters) match what the stored rows show it did.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use crate::helpers::{TestServer, builtin, version_stats};

const PIPELINE: &str = "
inputs:
  - http: {}
stages:
  - name: normalize
    guest: normalize
outputs:
  - libsql: {}
";

const REQUESTS: usize = 60;
const PER_REQUEST: usize = 15;
const SWAPS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_under_load_loses_and_duplicates_nothing() {
    let server = Arc::new(TestServer::start(PIPELINE).await);
    // Version A parses the level ("warn" becomes WARNING); version B, the miner's code uploaded as
    // a version of `normalize`, leaves it unset (stored as INFO). So each row shows which version
    // processed it.
    let a = crate::helpers::stage_status(&server.guests().await, "normalize")["active"]
        .as_str()
        .expect("active")
        .to_string();
    let (status, uploaded) = server.push("normalize", builtin("mine")).await;
    assert_eq!(status, 201, "{uploaded}");
    let b = uploaded["version"].as_str().expect("version").to_string();

    let (acked_tx, mut acked_rx) = tokio::sync::watch::channel(0usize);
    let producer = {
        let server = server.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for r in 0..REQUESTS {
                let lines: Vec<_> = (0..PER_REQUEST)
                    .map(|i| json!({"message": format!("req {r} event {i}"), "level": "warn"}))
                    .collect();
                let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
                let response = server
                    .client
                    .post(server.url("/ingest/batch"))
                    .body(format!(
                        "{{\"logs\": [{}]}}",
                        lines.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
                    ))
                    .send()
                    .await
                    .expect("ingest");
                let status = response.status();
                assert_eq!(status, 200, "{body}: {:?}", response.text().await);
                let reply: serde_json::Value = match response.json().await {
                    Ok(v) => v,
                    Err(e) => panic!("{e}"),
                };
                ids.extend(reply["ids"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_string()));
                acked_tx.send_replace(r + 1);
            }
            ids
        })
    };
    let mut pauses = Vec::new();
    for swap in 0..SWAPS {
        // Spread the swaps over the ingest: each waits for a few more acknowledged requests.
        let after = (swap + 1) * REQUESTS / (SWAPS + 2);
        acked_rx.wait_for(|&n| n >= after).await.expect("producer alive");
        let target = if swap % 2 == 0 { &b } else { &a };
        let (status, reply) = server.activate("normalize", target).await;
        assert_eq!(status, 200, "swap {swap}: {reply}");
        assert_eq!(reply["activated"][0]["active"], target.as_str());
        pauses.push(reply["activated"][0]["pause_us"].as_u64().expect("pause"));
    }
    let acked = producer.await.expect("producer");
    server.flush().await;
    pauses.sort_unstable();
    println!("swap pauses (µs): median {} max {}", pauses[pauses.len() / 2], pauses[pauses.len() - 1]);

    let total = REQUESTS * PER_REQUEST;
    assert_eq!(acked.len(), total);
    let (rows, count) = server.logs("").await;
    assert_eq!(count as usize, total, "every acknowledged event is stored");
    let stored: Vec<&str> = rows.iter().map(|r| r["event_id"].as_str().expect("event_id")).collect();
    let unique: HashSet<&str> = stored.iter().copied().collect();
    assert_eq!(unique.len(), total, "no event is stored twice");
    assert_eq!(unique, acked.iter().map(String::as_str).collect(), "exactly the acknowledged events");

    let by_a = rows.iter().filter(|r| r["level"] == "WARNING").count() as u64;
    let by_b = rows.iter().filter(|r| r["level"] == "INFO").count() as u64;
    assert_eq!(by_a + by_b, total as u64);
    let guests = server.guests().await;
    let (stats_a, stats_b) = (version_stats(&guests, "normalize", &a), version_stats(&guests, "normalize", &b));
    assert_eq!(stats_a["events_in"], by_a, "version A's count matches its rows: {stats_a}");
    assert_eq!(stats_b["events_in"], by_b, "version B's count matches its rows: {stats_b}");
    assert!(by_a > 0 && by_b > 0, "both versions processed events: A {by_a}, B {by_b}");
    assert_eq!(server.dead_letters().await.len(), 0);
}
