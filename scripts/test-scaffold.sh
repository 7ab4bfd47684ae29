#!/usr/bin/env bash
# Proves that `sluice guest new` makes a guest crate that works as generated: it is scaffolded into
# a temporary directory, its unit tests pass natively, it builds for wasm32-wasip2, and the test
# cases of its pipeline.yaml pass under `sluice test`, in the real sandbox. Then the same crate is
# built against contract 0.1.0 (its WIT put back as it was before the batch world was added) and
# must pass again: guests built for 0.1.0 keep working.
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

(
    cd "$crate"
    rm wit/batch.wit
    sed -i 's/^package sluice:pipeline@0\.1\.1;$/package sluice:pipeline@0.1.0;/' wit/*.wit
    cargo build --release --target wasm32-wasip2
)
cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/$ident.wasm" "$release/"
if ! grep -q 'sluice:pipeline/stage@0.1.0' "$release/$ident.wasm"; then
    echo "scaffold: the 0.1.0 build does not export sluice:pipeline/stage@0.1.0" >&2
    exit 1
fi
SLUICE_LOG=warn "$sluice" test "$crate/pipeline.yaml"
echo "scaffold: ok (contracts 0.1.1 and 0.1.0)"
