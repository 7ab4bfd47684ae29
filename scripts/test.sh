#!/usr/bin/env bash
# Sets everything up and runs every test: the guests' own tests (natively), then the runtime's
# unit and integration tests (real binary, real guests under real limits, real store).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
(cd guests && cargo test --target-dir ../target/guests)
cargo test --workspace
