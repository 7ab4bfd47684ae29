#!/usr/bin/env bash
# The edge build, checked the way a Pi would run it: builds the aarch64 runtime-only binary and
# its precompiled guests (scripts/build-edge.sh), then under qemu-aarch64 (Debian's qemu-user):
#   - it refuses guests precompiled for this x86-64 machine, naming the target;
#   - it refuses a pipeline naming an input it was built without, naming the feature;
#   - it runs pipelines/edge.yaml's own test cases (`sluice test --precompiled`);
#   - it runs pipelines/default.yaml from the aarch64 artifacts, takes events over HTTP and
#     stores them (normalized and mined), as the API then shows.
# SLUICE_FULL_BIN names the full (compiler) build that precompiles; default: a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
target=aarch64-unknown-linux-gnu
if ! command -v qemu-aarch64 >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then as_root=(); else as_root=(sudo); fi
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user >/dev/null
fi
scripts/build-edge.sh "$target"
bin="target/$target/edge/sluice"
full=${SLUICE_FULL_BIN:-target/release/sluice}
work=$(mktemp -d)
server=
# The server shuts down gracefully on SIGTERM; wait for it before removing its data.
trap '[ -n "$server" ] && { kill "$server"; wait "$server"; } 2>/dev/null; rm -rf "$work"' EXIT
run() { qemu-aarch64 -L /usr/aarch64-linux-gnu "$bin" "$@"; }

# ELF e_machine 0xB7 is AArch64.
python3 -c 'import sys; sys.exit(open(sys.argv[1], "rb").read(20)[18] != 0xB7)' "$bin" \
  || { echo "test-edge: $bin is not an aarch64 binary" >&2; exit 1; }

# Guests precompiled for the wrong target are refused at start, with the reason.
"$full" guest precompile --builtin --out "$work/x86" >/dev/null
if run run pipelines/default.yaml --http 127.0.0.1:0 --data-dir "$work/refused" --precompiled "$work/x86" \
  >"$work/refused.log" 2>&1; then
  echo "test-edge: the aarch64 binary started with x86-64 guests" >&2; exit 1
fi
grep -q "precompiled for another target or engine configuration" "$work/refused.log" \
  || { echo "test-edge: unexpected refusal:" >&2; cat "$work/refused.log" >&2; exit 1; }

# An input the edge build does not have is refused at load, with the feature that brings it.
printf 'inputs:\n  - amqp:\n      queue: logs\noutputs:\n  - libsql: {}\n' >"$work/amqp.yaml"
if run check "$work/amqp.yaml" >"$work/check.log" 2>&1; then
  echo "test-edge: the edge build accepted an amqp input" >&2; exit 1
fi
grep -q "built without the \`amqp\` feature" "$work/check.log" \
  || { echo "test-edge: unexpected refusal:" >&2; cat "$work/check.log" >&2; exit 1; }

# The edge pipeline's own test cases, run by the edge binary from its precompiled guests.
run test pipelines/edge.yaml --precompiled "target/$target/edge/precompiled"

port=$((18700 + RANDOM % 200))
# Started directly, not through `run`, so that `$!` is the emulator itself and the trap ends it.
qemu-aarch64 -L /usr/aarch64-linux-gnu "$bin" run pipelines/default.yaml --http "127.0.0.1:$port" \
  --data-dir "$work/data" --precompiled "target/$target/edge/precompiled" >"$work/run.log" 2>&1 &
server=$!
for _ in $(seq 600); do curl -sf "127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
curl -sf "127.0.0.1:$port/health" >/dev/null || { echo "test-edge: not ready:" >&2; cat "$work/run.log" >&2; exit 1; }
curl -sf -XPOST "127.0.0.1:$port/api/v1/ingest" --data-binary $'{"message":"pump 3 pressure low","level":"warn","source":"plant"}\n{"message":"pump 4 pressure low","level":"warn","source":"plant"}\n"2026-12-01T12:00:00Z ERROR valve 9 stuck"\n' >/dev/null
curl -sf -XPOST "127.0.0.1:$port/flush" >/dev/null
curl -sf "127.0.0.1:$port/api/v1/logs?source=plant" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
assert len(rows) == 2, rows
assert {r["level"] for r in rows} == {"WARNING"}, rows
assert len({r["pattern_id"] for r in rows}) == 1 and rows[0]["pattern_id"], rows
'
curl -sf "127.0.0.1:$port/api/v1/patterns" | python3 -c '
import json, sys
templates = {p["pattern"] for p in json.load(sys.stdin)}
assert "pump <*> pressure low" in templates, templates
'
curl -sf "127.0.0.1:$port/api/v1/logs?levels=error" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
assert [r["message"] for r in rows] == ["valve 9 stuck"], rows
'
echo "test-edge: the aarch64 runtime-only binary ran the default pipeline under qemu and stored what it took"
