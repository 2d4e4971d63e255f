#!/usr/bin/env bash
# The benchmarks' one entry point: installs the peers (curl and GNU parallel from Debian,
# oha from crates.io), builds the release binary, runs every scenario against the sandbox on
# loopback and writes BENCHMARKS.md. About ten minutes on 2 cores; --quick for a smaller run.
#   bash bench/run.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v parallel >/dev/null || need_apt+=(parallel)
command -v /usr/bin/time >/dev/null || need_apt+=(time)
command -v python3 >/dev/null || need_apt+=(python3)
if [ "${#need_apt[@]}" -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi
command -v oha >/dev/null || cargo install oha --locked
cargo build --release --quiet --bin tecalis-status --example gen_input
python3 bench/bench.py "$@"
