#!/usr/bin/env bash
# Builds the runtime-only `sluice` (no compiler: it runs guests precompiled for it) for an edge
# box, by default aarch64-unknown-linux-gnu (Raspberry Pi 4/5 class) cross-compiled from this
# x86-64 machine, and precompiles the built-in guests for it with the full build.
#
#   scripts/build-edge.sh [TARGET]
#
# SLUICE_EDGE_FEATURES picks the inputs and outputs built in besides HTTP, libSQL, websocket and
# webhook (the runtime's cargo features amqp, kafka, postgres, zeromq); default `zeromq,postgres`,
# seeds 000 and 001: ZeroMQ or HTTP in, the encrypted store, forwarding to a central PostgreSQL.
# A pipeline naming anything else is refused at load with the feature it needs.
#
# Output, for TARGET:
#   target/TARGET/edge/sluice               the stripped runtime-only binary
#   target/TARGET/edge/precompiled/*.cwasm  the built-in guests, for `sluice run --precompiled DIR`
#
# Cross-compiling needs Debian's gcc-aarch64-linux-gnu, g++-aarch64-linux-gnu and
# libc6-dev-arm64-cross (installed here when missing). The C and C++ parts (librdkafka, the
# encrypted libSQL) must be built with the aarch64 tools while build scripts stay native: CC, CXX
# and AR name the cross tools, HOST_CC, HOST_CXX and HOST_AR the native ones. Without that,
# librdkafka's bundled build silently produces x86-64 objects and the link fails late.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-aarch64-unknown-linux-gnu}
features=${SLUICE_EDGE_FEATURES-zeromq,postgres}
scripts/setup.sh >/dev/null

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "build-edge: need root to run: $*" >&2; exit 1
  fi
}

host=$(rustc -vV | sed -n 's/^host: //p')
if [ "$target" != "$host" ]; then
  case "$target" in
    aarch64-unknown-linux-gnu) tools=aarch64-linux-gnu; packages=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
    *) echo "build-edge: no cross toolchain is known for $target" >&2; exit 1 ;;
  esac
  missing=()
  for package in "${packages[@]}"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "build-edge: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  rustup target add "$target" >/dev/null
  upper=$(echo "$target" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${upper}_LINKER=${tools}-gcc"
  export CC="${tools}-gcc" CXX="${tools}-g++" AR="${tools}-ar"
  export HOST_CC=gcc HOST_CXX=g++ HOST_AR=ar
fi

cargo build --profile edge --no-default-features --features "$features" --target "$target" --bin sluice
out="target/$target/edge"
# The full build compiles the guests for the edge binary's target and engine settings.
# SLUICE_FULL_BIN names one already built (any profile), e.g. the tests' debug binary.
full=${SLUICE_FULL_BIN:-target/release/sluice}
if [ -z "${SLUICE_FULL_BIN:-}" ]; then (unset CC CXX AR; cargo build --release --bin sluice); fi
rm -rf "$out/precompiled"
"$full" guest precompile --target "$target" --builtin --out "$out/precompiled" >/dev/null
echo "build-edge: $out/sluice ($(du -k "$out/sluice" | cut -f1) KiB) and $(ls "$out/precompiled" | wc -l) precompiled guests in $out/precompiled"
