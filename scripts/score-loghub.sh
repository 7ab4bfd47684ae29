#!/usr/bin/env bash
# Scores the mining guest on a Loghub-2k folder (LogPAI's 2,000-line datasets with ground truth,
# each `<Name>/<Name>_2k.log` with `settings.json`, and `evaluate.py` at its top), with one
# configuration for every dataset: only each dataset's `log_format` is used, to cut out the
# message; its tuned regexes and thresholds are not.
#
#   scripts/score-loghub.sh LOGHUB_DIR [OUT_DIR]
#
# Writes OUT_DIR/<Name>.csv (LineId,EventTemplate) with `sluice mine`, prints the evaluator's
# table, then the guest's throughput per dataset on the same lines repeated (REPEAT, default 100,
# times; 0 skips it): whole calls, and the guest's own code apart from the crossing. Uses a release build (built if missing; SLUICE_BIN names another binary).
set -euo pipefail
cd "$(dirname "$0")/.."
loghub=${1:?usage: scripts/score-loghub.sh LOGHUB_DIR [OUT_DIR]}
out=${2:-target/loghub}
repeat=${REPEAT:-100}
bin=${SLUICE_BIN:-target/release/sluice}
if [ -z "${SLUICE_BIN:-}" ]; then
  cargo build --release --quiet --bin sluice
fi
mkdir -p "$out"
format_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["log_format"])' "$1"; }
datasets=()
for settings in "$loghub"/*/settings.json; do
  dir=$(dirname "$settings")
  name=$(basename "$dir")
  datasets+=("$name")
  "$bin" mine "$dir/${name}_2k.log" --format "$(format_of "$settings")" --out "$out/$name.csv" --top 0 >/dev/null
done
python3 "$loghub/evaluate.py" --all --pred-dir "$out"
if [ "$repeat" -gt 0 ]; then
  echo
  echo "guest throughput in lines/s, each dataset's lines repeated $repeat times:"
  echo "whole process calls, and the guest's own code (a second run, with --split-time)"
  big=$(mktemp)
  trap 'rm -f "$big"' EXIT
  for name in "${datasets[@]}"; do
    log="$loghub/$name/${name}_2k.log"
    for _ in $(seq "$repeat"); do cat "$log"; done >"$big"
    format=$(format_of "$loghub/$name/settings.json")
    whole=$("$bin" mine "$big" --format "$format" --top 0 | sed -n 's/^guest: \([0-9]*\) lines\/s.*/\1/p')
    code=$("$bin" mine "$big" --format "$format" --top 0 --split-time | sed -n 's/^guest code: \([0-9]*\) lines\/s.*/\1/p')
    printf '%-12s whole calls %10s   guest code %10s\n' "$name" "$whole" "$code"
  done
fi
