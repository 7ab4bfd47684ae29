#!/usr/bin/env bash
# Footprint figures: stripped binary sizes (the full build, and the runtime-only edge build of
# scripts/build-edge.sh: no compiler, size-optimised, the edge inputs and outputs), for x86-64 and,
# when scripts/build-edge.sh has built it, aarch64; then for the full and the runtime-only x86-64
# binaries running pipelines/default.yaml: cold start to ready with cached (or precompiled)
# guests, idle RSS, and peak RSS while 200,000 events are ingested and stored.
#
#   scripts/footprint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --bin sluice
SLUICE_FULL_BIN=target/release/sluice scripts/build-edge.sh "$host" >/dev/null
edge="target/$host/edge"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

kib() { echo $(( $(stat -c %s "$1") / 1024 )); }
strip -o "$work/full" target/release/sluice
echo "binary, stripped: full $host $(kib "$work/full") KiB; runtime-only $host $(kib "$edge/sluice") KiB"
arm=target/aarch64-unknown-linux-gnu/edge/sluice
if [ -f "$arm" ]; then echo "binary, stripped: runtime-only aarch64 $(kib "$arm") KiB"; fi

# 5,000 events a request, 40 requests: 200,000 events.
python3 - "$work/batch.ndjson" <<'PY'
import json, sys
levels = ["info", "warn", "error", "debug"]
with open(sys.argv[1], "w") as f:
    for i in range(5000):
        f.write(json.dumps({"message": f"user {i % 97} fetched item {i} in {i % 13} ms",
                            "level": levels[i % 4], "source": f"svc{i % 5}"}) + "\n")
PY

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
rss() { awk '/^'"$2"':/ {print $2}' "/proc/$1/status"; }
measure() {
  local label=$1 bin=$2; shift 2
  local data="$work/data-$label" port=$((18200 + RANDOM % 500))
  # First start fills the compile cache (the full build); the second is the one timed.
  for run in 1 2; do
    local start; start=$(date +%s%N)
    "$bin" run pipelines/default.yaml --http "127.0.0.1:$port" --data-dir "$data" "$@" >"$work/$label.log" 2>&1 &
    local pid=$!
    until curl -sf "127.0.0.1:$port/health" >/dev/null; do sleep 0.01; done
    local ready=$(( ($(date +%s%N) - start) / 1000000 ))
    if [ "$run" = 1 ]; then kill -TERM $pid; wait $pid || true; fi
  done
  sleep 5
  local idle; idle=$(rss $pid VmRSS)
  seq 40 | xargs -P 4 -I{} curl -sf -o /dev/null -XPOST "127.0.0.1:$port/api/v1/ingest" --data-binary "@$work/batch.ndjson"
  curl -sf -XPOST "127.0.0.1:$port/flush" >/dev/null
  local stored; stored=$(curl -sf "127.0.0.1:$port/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stored"])')
  echo "$label: ready in ${ready} ms (cached guests); idle RSS $(mib "$idle") MiB; peak RSS $(mib "$(rss $pid VmHWM)") MiB after storing $stored events"
  kill -TERM $pid; wait $pid || true
}
measure full target/release/sluice
measure runtime-only "$edge/sluice" --precompiled "$edge/precompiled"
