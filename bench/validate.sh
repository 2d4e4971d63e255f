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
# The same rows with bare CR line endings (Excel for Mac), and a file whose second line opens
# a quote never closed (refused at the 1 MiB record limit, without reading the rest).
tr '\n' '\r' < "$work/input.csv" > "$work/cr.csv"
/usr/bin/time -f "bare CR: wall %e s, peak RSS %M KB, exit %x" \
  ./target/release/tecalis-status validate "$work/cr.csv" 2>&1 >/dev/null | grep -E '^bare'
{ head -1 "$work/input.csv"; echo '0193a1b2-c3d4-726b-b2a7-4de452e6b438,KO,"never closed'
  tail -n +3 "$work/input.csv" | tr -d '"'; } > "$work/open.csv"
/usr/bin/time -f "open quote: wall %e s, peak RSS %M KB, exit %x" \
  ./target/release/tecalis-status validate "$work/open.csv" 2>&1 >/dev/null | grep -E '^open'
/usr/bin/time -f "wc -l: wall %e s" wc -l "$work/input.csv" 2>&1 | tail -1
