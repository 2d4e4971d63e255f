#!/usr/bin/env bash
# `--rate auto` against hidden rate limits in the sandbox (issue 15): builds the release binary
# and prints a Markdown table for BENCHMARKS.md. About 4 minutes on 2 cores; run it on an idle
# machine. --only auto or --only fixed runs half of it, --quick halves the rows.
#   bash bench/rate_auto.sh [--only auto|fixed] [--quick]
# With --shapes, the limiters of issue 20 instead (bench/rate_auto_shapes.py, about 5 minutes):
#   bash bench/rate_auto.sh --shapes [--only NAME-PART]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3; }
cargo build --release --quiet --bin tecalis-status --example gen_input
if [ "${1:-}" = "--shapes" ]; then
    shift
    exec python3 bench/rate_auto_shapes.py "$@"
fi
python3 bench/rate_auto.py "$@"
