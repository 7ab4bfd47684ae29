#!/usr/bin/env bash
# Sets everything up and runs every test: the guests' own tests (natively), then the runtime's
# unit and integration tests (real binary, real guests under real limits, real store), the pipelines'
# own test cases, a freshly scaffolded guest, the dashboard in a real browser (Debian's
# chromium; screenshots of every page in target/ui-screenshots/), and the aarch64 runtime-only
# build under qemu-aarch64.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# What only the tests need: a real ZeroMQ peer (pyzmq), chromium and playwright-core.
scripts/setup-test.sh
(cd guests && cargo test --target-dir ../target/guests)
cargo test --workspace
# Every pipeline file's own test cases, against the real guests under their real limits.
target/debug/sluice test pipelines/*.yaml
# A scaffolded guest builds and passes its tests as generated.
scripts/test-scaffold.sh
# The dashboard in Debian's chromium against the real binary (it starts its own server).
node --test tests/ui/
# The edge build: cross-compiled for aarch64 without the compiler, run under qemu with guests
# precompiled by the debug build above.
SLUICE_FULL_BIN=target/debug/sluice scripts/test-edge.sh
