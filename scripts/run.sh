#!/usr/bin/env bash
# Sets everything up, builds Sluice (guests included) and runs the default pipeline:
# HTTP on 127.0.0.1:8080 -> normalize -> mine -> embedded libSQL (./data) + live tail.
# Extra arguments go to `sluice run`, e.g. `scripts/run.sh --http 0.0.0.0:8080`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --bin sluice
exec target/release/sluice run pipelines/default.yaml "$@"
