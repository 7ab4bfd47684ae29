#!/usr/bin/env bash
# Installs what building Sluice needs on a fresh Debian/Ubuntu machine with rustup:
# the pinned toolchain (rust-toolchain.toml), the wasm32-wasip2 target for the guests, and the
# C/C++ build tools the encrypted libSQL store is compiled with, and Node.js with npm, which build
# the dashboard (ui/) that the binary embeds. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup: need root to run: $*" >&2; exit 1
  fi
}

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v c++ >/dev/null || missing+=(g++)
command -v cc >/dev/null || missing+=(gcc)
command -v make >/dev/null || missing+=(make)
# The dashboard's build (esbuild, TypeScript) needs Node.js 18 or newer.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 18 ] || ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v rustup >/dev/null; then
  echo "setup: rustup is required (https://rustup.rs)" >&2
  exit 1
fi
# Reading the toolchain file installs the pinned toolchain if it is missing.
rustup show active-toolchain >/dev/null
rustup target add wasm32-wasip2 >/dev/null
rustup component add rustfmt clippy >/dev/null
echo "setup: ready ($(rustc --version), node $(node --version))"
