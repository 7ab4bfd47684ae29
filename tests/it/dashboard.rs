//! The dashboard's side of the server: the embedded pages with their security headers, the API's
//! JSON 404, and the endpoints only the dashboard needs (the pipeline's shape with counters,
//! volume over time, per-pattern volume, history by time window and by event id). The pages
//! themselves are tested in a real browser by `tests/ui/`.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::helpers::{DEFAULT_PIPELINE, TestServer};

fn at(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The bucket of `buckets` (a timeline's or a volume's `from`/`bucket_seconds`) holding `time`.
fn bucket_of(reply: &Value, time: DateTime<Utc>) -> usize {
    let from = DateTime::parse_from_rfc3339(reply["from"].as_str().expect("from")).expect("from is RFC 3339");
    let width = reply["bucket_seconds"].as_i64().expect("bucket_seconds");
    usize::try_from((time.timestamp() - from.timestamp()) / width).expect("time inside the window")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_served_with_security_headers_and_the_api_answers_json_404s() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    let client = &server.client;
    let page = client.get(server.url("/")).send().await.expect("GET /");
    assert_eq!(page.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    };
    assert!(header(&page, "content-type").starts_with("text/html"), "{:?}", page.headers());
    assert_eq!(header(&page, "x-frame-options"), "DENY");
    let csp = header(&page, "content-security-policy");
    for directive in ["default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "CSP `{csp}` lacks {directive}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("http"), "CSP allows more than the origin: {csp}");
    let html = page.text().await.expect("page");

    // The page's own routes get the same page, so a shared link loads.
    let routed = client.get(server.url("/explore?levels=ERROR&page=2")).send().await.expect("GET /explore");
    assert_eq!(routed.status(), 200);
    assert_eq!(routed.text().await.expect("page"), html);

    // Every script and stylesheet the page names is served, with its type, and cached for good.
    let assets: Vec<&str> = html.split('"').filter(|s| s.starts_with("/assets/")).collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")), "{html}");
    for asset in &assets {
        let r = client.get(server.url(asset)).send().await.expect("asset");
        assert_eq!(r.status(), 200, "{asset}");
        let expected = if asset.ends_with(".js") { "javascript" } else { "text/css" };
        assert!(header(&r, "content-type").contains(expected), "{asset}: {:?}", r.headers());
        assert!(header(&r, "cache-control").contains("immutable"), "{asset}");
        assert!(!r.bytes().await.expect("body").is_empty());
    }
    let missing = client.get(server.url("/assets/app-nothere.js")).send().await.expect("asset");
    assert_eq!(missing.status(), 404, "a missing script is not answered with the page");

    for (method, path) in [(reqwest::Method::GET, "/api/v1/nope"), (reqwest::Method::POST, "/nothing/here")] {
        let r = client.request(method.clone(), server.url(path)).send().await.expect("request");
        assert_eq!(r.status(), 404, "{method} {path}");
        assert!(header(&r, "content-type").starts_with("application/json"));
        assert!(!header(&r, "content-security-policy").is_empty(), "every response carries the headers");
        let body: Value = r.json().await.expect("JSON 404");
        assert_eq!(body["error"]["code"], "not_found", "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains(path)), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_view_counts_every_input_stage_and_output() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    let events: Vec<Value> = (0..7).map(|i| json!({"message": format!("job {i} done"), "source": "jobs"})).collect();
    assert_eq!(server.ingest_ndjson(&events).await.0, 202);
    server.flush().await;
    let (status, _, view) = server.get("/api/v1/pipeline").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["inputs"], json!([{"name": "http", "kind": "http", "events": 7}]));
    let stages: Vec<(&str, u64, u64)> = view["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            (s["name"].as_str().unwrap_or(""), s["events_in"].as_u64().unwrap_or(0), s["failed"].as_u64().unwrap_or(9))
        })
        .collect();
    assert_eq!(stages, [("normalize", 7, 0), ("mine", 7, 0)]);
    assert!(view["stages"][0]["active"].as_str().is_some_and(|v| v.len() == 12), "{view}");
    let outputs = view["outputs"].as_array().expect("outputs");
    let libsql = &outputs[0];
    assert_eq!((libsql["name"].as_str(), libsql["kind"].as_str()), (Some("libsql"), Some("libsql")));
    assert_eq!((libsql["events"].as_u64(), libsql["durable"].as_bool()), (Some(7), Some(true)), "{view}");
    assert_eq!(libsql["pending_bytes"], 0, "flushed");
    let websocket = &outputs[1];
    assert_eq!((websocket["kind"].as_str(), websocket["durable"].as_bool()), (Some("websocket"), Some(false)));
    assert_eq!(websocket["events"], 7, "{view}");
    assert_eq!((view["totals"]["received"].as_u64(), view["totals"]["stored"].as_u64()), (Some(7), Some(7)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_buckets_events_by_their_time_and_level() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    let now = Utc::now();
    let (t1, t2) = (now - Duration::minutes(30), now - Duration::minutes(5));
    let old = now - Duration::hours(3);
    let mut events = Vec::new();
    for i in 0..4 {
        events.push(
            json!({"message": format!("request {i} served"), "level": "info", "source": "web", "timestamp": at(t1)}),
        );
    }
    for i in 0..3 {
        events.push(
            json!({"message": format!("disk {i} failing"), "level": "error", "source": "disk", "timestamp": at(t2)}),
        );
    }
    events.push(json!({"message": "request 9 served", "level": "info", "source": "web", "timestamp": at(t2)}));
    events.push(json!({"message": "ancient history", "level": "error", "source": "old", "timestamp": at(old)}));
    assert_eq!(server.ingest_ndjson(&events).await.0, 202);
    server.flush().await;

    let (status, _, line) = server.get("/api/v1/timeline?since=1h&buckets=60").await;
    assert_eq!(status, 200, "{line}");
    assert_eq!(line["bucket_seconds"], 60);
    let buckets = line["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 60);
    let total: u64 = buckets.iter().map(|b| b["total"].as_u64().unwrap_or(0)).sum();
    assert_eq!(total, 8, "the event three hours old is outside the window: {line}");
    let (b1, b2) = (bucket_of(&line, t1), bucket_of(&line, t2));
    assert_eq!(buckets[b1]["levels"], json!({"INFO": 4}), "{line}");
    assert_eq!(buckets[b2]["levels"], json!({"ERROR": 3, "INFO": 1}), "{line}");
    assert_eq!(buckets[b2]["total"], 4);
    let starts: Vec<i64> = buckets.iter().map(|b| b["start_unix"].as_i64().unwrap_or(0)).collect();
    assert!(starts.windows(2).all(|w| w[1] - w[0] == 60), "consecutive minutes, oldest first");
    assert!(*starts.last().unwrap_or(&0) <= now.timestamp() && now.timestamp() < starts.last().unwrap_or(&0) + 60);
    assert_eq!(line["sources"], json!([{"source": "web", "count": 5}, {"source": "disk", "count": 3}]));

    let (_, _, errors) = server.get("/api/v1/timeline?since=1h&buckets=60&levels=error&source=disk").await;
    let counts: Vec<u64> =
        errors["buckets"].as_array().expect("buckets").iter().map(|b| b["total"].as_u64().unwrap_or(0)).collect();
    assert_eq!(counts.iter().sum::<u64>(), 3);
    assert_eq!(counts[bucket_of(&errors, t2)], 3);

    let (_, _, day) = server.get("/api/v1/timeline?since=24h&buckets=24").await;
    assert_eq!(day["bucket_seconds"], 3600);
    assert_eq!(day["buckets"][bucket_of(&day, old)]["levels"], json!({"ERROR": 1}), "{day}");

    for (query, named) in [("buckets=0", "buckets"), ("buckets=lots", "buckets"), ("since=yesterdayish", "since")] {
        let (status, _, error) = server.get(&format!("/api/v1/timeline?{query}")).await;
        assert_eq!(status, 400, "{query}: {error}");
        assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains(named)), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_volume_history_windows_and_id_lookups() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    let now = Utc::now();
    let (early, late) = (now - Duration::minutes(50), now - Duration::minutes(2));
    let mut events: Vec<Value> =
        (0..5).map(|i| json!({"message": format!("user {i} logged in"), "timestamp": at(early)})).collect();
    events.extend((5..7).map(|i| json!({"message": format!("user {i} logged in"), "timestamp": at(late)})));
    events.push(json!({"message": "cache flushed", "timestamp": at(late)}));
    assert_eq!(server.ingest_ndjson(&events).await.0, 202);
    server.flush().await;
    let (rows, _) = server.logs("").await;
    let login = rows.iter().find(|r| r["message"] == "user 0 logged in").expect("login row")["pattern_id"].clone();
    let login = login.as_str().expect("pattern id");

    let (status, _, volume) =
        server.get(&format!("/api/v1/patterns/volume?ids={login},0000000000000000&since=1h&buckets=6")).await;
    assert_eq!(status, 200, "{volume}");
    assert_eq!(volume["bucket_seconds"], 600);
    let series = volume["series"][login].as_array().expect("series");
    assert_eq!(series.len(), 6);
    let mut expected = vec![0u64; 6];
    expected[bucket_of(&volume, early)] += 5;
    expected[bucket_of(&volume, late)] += 2;
    assert_eq!(series.iter().map(|c| c.as_u64().unwrap_or(99)).collect::<Vec<_>>(), expected, "{volume}");
    assert_eq!(volume["series"]["0000000000000000"], json!([0, 0, 0, 0, 0, 0]), "an unknown pattern has no volume");
    let too_many: Vec<String> = (0..501).map(|i| format!("{i:016x}")).collect();
    let (status, _, _) = server.get(&format!("/api/v1/patterns/volume?ids={}", too_many.join(","))).await;
    assert_eq!(status, 400);

    // A time window: `until` is exclusive, and both ends take spans too.
    let (rows, total) = server.logs(&format!("until={}", at(late))).await;
    assert_eq!(total, 5, "{rows:?}");
    let (_, total) = server.logs("since=10m").await;
    assert_eq!(total, 3);
    let (_, total) = server.logs("since=1h&until=10m").await;
    assert_eq!(total, 5);
    let (status, _, error) = server.get("/api/v1/logs?until=soonish").await;
    assert_eq!(status, 400);
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("until")), "{error}");

    // Named events, as an alert's evidence is fetched.
    let (all, _) = server.logs("").await;
    let wanted: Vec<&str> = all.iter().take(3).filter_map(|r| r["event_id"].as_str()).collect();
    let (found, total) = server.logs(&format!("ids={}", wanted.join(","))).await;
    assert_eq!(total, 3);
    let mut got: Vec<&str> = found.iter().filter_map(|r| r["event_id"].as_str()).collect();
    let mut wanted = wanted.clone();
    got.sort();
    wanted.sort();
    assert_eq!(got, wanted);
    let (_, total) = server.logs("ids=no-such-event").await;
    assert_eq!(total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_from_another_sites_page_is_refused_and_the_dashboards_own_goes_through() {
    let server = TestServer::start(DEFAULT_PIPELINE).await;
    let host = server.base.trim_start_matches("http://").to_string();
    let rollback = |origin: Option<String>, fetch_site: &'static str| {
        let mut request = server
            .client
            .post(server.url("/api/v1/guests/normalize/rollback"))
            .header("content-type", "text/plain")
            .header("sec-fetch-site", fetch_site);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        async move {
            let response = request.send().await.expect("rollback");
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // A form on another site posting to this loopback server: no preflight, so only the
    // server's own check stands between it and the management API.
    for (origin, site) in [(Some("http://evil.example".to_string()), "cross-site"), (None, "cross-site")] {
        let (status, body) = rollback(origin, site).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("cross_origin")), "{body}");
    }
    // The dashboard's own request reaches the handler (which has nothing to roll back to).
    let (status, body) = rollback(Some(format!("http://{host}")), "same-origin").await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("no_previous")), "{body}");
    let (_, _, guests) = server.get("/api/v1/guests").await;
    assert!(guests["stages"][0]["previous"].is_null(), "nothing changed: {guests}");
}
