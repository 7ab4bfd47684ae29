#!/usr/bin/env bash
# History queries while ingesting: does a dashboard's load cut ingest or slow `/health`?
#
# Starts the release binary with pipelines/default.yaml in a temporary data directory on
# loopback, fills its store with ROWS events (timestamps spread over the last 24 hours), then runs
# two phases of DURATION seconds each:
#   (a) ingest alone: wrk posts 100-event NDJSON batches (~200 bytes an event) over 16
#       connections while a prober GETs /health every 20 ms;
#   (b) the same, plus 3 client loops each alternating `/api/v1/logs?q=<word>&limit=100` and
#       `/api/v1/timeline?since=24h`.
# For each it prints stored events/s (from /stats), ingest request p99 (wrk), ingest → stored p99
# (from /metrics), /health p99, and the queries' count, p50, p99 and errors; then (b)/(a).
#
#   scripts/bench-query-load.sh                       # 5,000,000 rows, 30 s per phase
#   ROWS=500000 DURATION=15 scripts/bench-query-load.sh
#
# SLUICE_BIN (default target/release/sluice) is not built here: `cargo build --release --bin
# sluice` first. Needs python3, curl and wrk. Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SLUICE_BIN:-target/release/sluice}
rows=${ROWS:-5000000}
duration=${DURATION:-30}
port=${PORT:-$((18600 + RANDOM % 300))}
base="http://127.0.0.1:$port"
[ -x "$bin" ] || { echo "no binary at $bin; run: cargo build --release --bin sluice" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is required" >&2; exit 1; }

work=$(mktemp -d)
server=""
stop_server() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=""; fi
}
trap 'kill $(jobs -p) 2>/dev/null || true; stop_server; rm -rf "$work"' EXIT

start_server() {
  "$bin" run pipelines/default.yaml --http "127.0.0.1:$port" --data-dir "$work/data" >>"$work/sluice.log" 2>&1 &
  server=$!
  for _ in $(seq 600); do
    curl -sf "$base/health" >/dev/null && return 0
    kill -0 "$server" 2>/dev/null || { tail -20 "$work/sluice.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "sluice did not start" >&2; exit 1
}

# One 100-event batch of realistic lines for wrk (receive time as the event time).
python3 - "$work/batch.ndjson" <<'PY'
import json, random, sys
random.seed(7)
levels = ["info"] * 7 + ["warn", "error", "debug"]
sources = ["auth", "billing", "api", "db", "cache"]
templates = [
    "User {n} logged in from 10.0.{a}.{b} after {ms} ms",
    "payment {n} declined by issuer for account {a}-{b}",
    "GET /api/items/{n} returned 200 in {ms} ms for 10.0.{a}.{b}",
    "cache miss for key session:{n}; fetched from db in {ms} ms",
    "connection to upstream 10.0.{a}.{b}:5432 timed out after {ms} ms",
]
with open(sys.argv[1], "w") as f:
    for i in range(100):
        t = random.choice(templates).format(n=random.randint(1, 99999), a=random.randint(0, 255),
                                            b=random.randint(0, 255), ms=random.randint(1, 999))
        f.write(json.dumps({"message": t, "level": random.choice(levels), "source": random.choice(sources),
                            "request_id": f"req-{random.randint(0, 1 << 40):x}"}) + "\n")
PY
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
local f = io.open("$work/batch.ndjson", "rb"); wrk.body = f:read("*a"); f:close()
LUA

start_server
echo "prefilling $rows events..."
started=$(date +%s)
python3 - "$base" "$rows" <<'PY'
# Distinct events, their timestamps spread over the last 24 hours, 10,000 a request over 4
# connections; 503 (the journal bound) is retried.
import http.client, json, random, sys, threading, time, urllib.parse
base, total = sys.argv[1], int(sys.argv[2])
host = urllib.parse.urlparse(base)
levels = ["info"] * 7 + ["warn", "error", "debug"]
sources = ["auth", "billing", "api", "db", "cache"]
words = ["logged", "declined", "returned", "miss", "timed", "refused", "retrying", "rotated"]
now = time.time()
per_request, lock, sent = 10_000, threading.Lock(), [0]

def body(seed):
    r = random.Random(seed)
    lines = []
    for _ in range(per_request):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - r.random() * 86_000)) + ".%03dZ" % r.randint(0, 999)
        w = r.choice(words)
        msg = f"request {r.randint(1, 99999)} {w} for 10.0.{r.randint(0, 255)}.{r.randint(0, 255)} after {r.randint(1, 999)} ms"
        lines.append(json.dumps({"message": msg, "level": r.choice(levels), "source": r.choice(sources),
                                 "timestamp": ts}))
    return ("\n".join(lines) + "\n").encode()

def worker(k):
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
    while True:
        with lock:
            if sent[0] >= total:
                return
            sent[0] += per_request
            seed = sent[0]
        data = body(seed)
        while True:
            conn.request("POST", "/api/v1/ingest", data, {"Content-Type": "application/x-ndjson"})
            resp = conn.getresponse(); resp.read()
            if resp.status == 202:
                break
            time.sleep(0.2)

threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
for t in threads: t.start()
for t in threads: t.join()
PY
until curl -sf -XPOST "$base/flush" >/dev/null; do sleep 1; done
echo "prefilled in $(( $(date +%s) - started )) s; restarting on the same data directory"
stop_server
start_server
sleep 3

python3 - "$base" "$duration" "$work/post.lua" <<'PY'
import http.client, json, re, subprocess, sys, threading, time, urllib.parse
base, duration, lua = sys.argv[1], int(sys.argv[2]), sys.argv[3]
host = urllib.parse.urlparse(base)

def get(conn, path):
    started = time.perf_counter()
    conn.request("GET", path)
    resp = conn.getresponse(); body = resp.read()
    return resp.status, time.perf_counter() - started, body

def fetch(path):
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
    return get(conn, path)[2].decode()

def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

def histogram():
    text = fetch("/metrics")
    buckets = {}
    for m in re.finditer(r'sluice_ingest_to_stored_seconds_bucket\{le="([^"]+)"\} (\d+)', text):
        buckets[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = int(m.group(2))
    return buckets

def hist_p99(before, after):
    deltas = sorted((le, after.get(le, 0) - before.get(le, 0)) for le in after)
    if not deltas or deltas[-1][1] == 0:
        return float("nan")
    total = deltas[-1][1]
    for le, cumulative in deltas:
        if cumulative >= 0.99 * total:
            return le
    return float("inf")

def stored():
    return json.loads(fetch("/stats"))["stored"]

def phase(with_queries):
    stop = threading.Event()
    health, queries, errors = [], [], {}

    def prober():
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        while not stop.is_set():
            status, took, _ = get(conn, "/health")
            health.append(took)
            time.sleep(0.02)

    def client(k):
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        words = ["declined", "timed", "refused", "rotated", "logged", "miss"]
        i = k
        while not stop.is_set():
            path = (f"/api/v1/logs?q={words[i % len(words)]}&limit=100" if i % 2 == 0
                    else "/api/v1/timeline?since=24h")
            status, took, body = get(conn, path)
            queries.append(took)
            if status != 200:
                code = json.loads(body).get("error", {}).get("code", status) if body else status
                errors[code] = errors.get(code, 0) + 1
            i += 1

    threads = [threading.Thread(target=prober)]
    if with_queries:
        threads += [threading.Thread(target=client, args=(k,)) for k in range(3)]
    hist_before, stored_before, started = histogram(), stored(), time.time()
    for t in threads: t.start()
    wrk = subprocess.run(["wrk", "-t1", "-c16", f"-d{duration}s", "--latency", "-s", lua, f"{base}/api/v1/ingest"],
                         capture_output=True, text=True)
    elapsed = time.time() - started
    stored_after, hist_after = stored(), histogram()
    stop.set()
    for t in threads: t.join()
    m = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", wrk.stdout)
    ingest_p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)] if m else float("nan")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk.stdout)
    return {
        "events_s": (stored_after - stored_before) / elapsed,
        "ingest_p99_ms": ingest_p99,
        "ingest_non2xx": int(non2xx.group(1)) if non2xx else 0,
        "stored_p99_s": hist_p99(hist_before, hist_after),
        "health_p99_ms": pct(health, 99) * 1e3,
        "health_max_ms": max(health) * 1e3 if health else float("nan"),
        "health_n": len(health),
        "queries": len(queries),
        "query_p50_ms": pct(queries, 50) * 1e3,
        "query_p99_ms": pct(queries, 99) * 1e3,
        "query_errors": errors,
    }

def show(name, r):
    line = (f"{name}: stored {r['events_s']:,.0f} events/s; ingest request p99 {r['ingest_p99_ms']:.1f} ms"
            f" ({r['ingest_non2xx']} non-2xx); ingest->stored p99 <= {r['stored_p99_s']:.2f} s;"
            f" /health p99 {r['health_p99_ms']:.1f} ms (max {r['health_max_ms']:.1f}, {r['health_n']} probes)")
    if r["queries"]:
        line += (f"; queries {r['queries']} (p50 {r['query_p50_ms']:.0f} ms, p99 {r['query_p99_ms']:.0f} ms,"
                 f" errors {r['query_errors'] or 'none'})")
    print(line, flush=True)

alone = phase(False)
show("ingest alone      ", alone)
loaded = phase(True)
show("ingest + 3 queries", loaded)
print(f"ratio: stored events/s {loaded['events_s'] / alone['events_s']:.2f}; "
      f"/health p99 {loaded['health_p99_ms']:.1f} ms against {alone['health_p99_ms']:.1f} ms")
PY
echo "store: $(du -sh "$work/data/sluice.db" | cut -f1), WAL $(du -sh "$work/data/sluice.db-wal" 2>/dev/null | cut -f1)"
