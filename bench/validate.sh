#!/usr/bin/env bash
# Times `validate` on a generated file of ROWS rows (default 1,000,000) and reports wall time
# and peak RSS. Not a test: run it by hand, on an otherwise idle machine.
#   bash bench/validate.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-1000000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet --bin tecalis-status --example gen_input
./target/release/examples/gen_input "$rows" > "$work/input.csv"
echo "input: $rows rows, $(du -h "$work/input.csv" | cut -f1)"
for run in 1 2 3; do
  /usr/bin/time -f "run $run: wall %e s, peak RSS %M KB, exit %x" \
    ./target/release/tecalis-status validate "$work/input.csv" 2>&1 >/dev/null | grep -E '^run|rows:'
done
/usr/bin/time -f "wc -l: wall %e s" wc -l "$work/input.csv" 2>&1 | tail -1
