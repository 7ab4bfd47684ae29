#!/usr/bin/env bash
# Proves that `sluice guest new` makes a guest crate that works as generated: it is scaffolded into
# a temporary directory, its unit tests pass natively, it builds for wasm32-wasip2, and the test
# cases of its pipeline.yaml pass under `sluice test`, in the real sandbox.
#
# Every run shares one target directory, target/scaffold, so reruns only rebuild the crate itself.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [[ ! -x target/debug/sluice ]]; then
    cargo build -p sluice --bin sluice
fi
sluice="$root/target/debug/sluice"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

name=scaffold-check
ident=${name//-/_}
crate="$work/$name"
export CARGO_TARGET_DIR="$root/target/scaffold"

"$sluice" guest new "$name" --dir "$crate"
(
    cd "$crate"
    cargo test
    cargo build --release --target wasm32-wasip2
)

# pipeline.yaml names the component where a plain `cargo build` puts it: inside the crate.
release="$crate/target/wasm32-wasip2/release"
mkdir -p "$release"
cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/$ident.wasm" "$release/"

SLUICE_LOG=warn "$sluice" test "$crate/pipeline.yaml"
echo "scaffold: ok"
