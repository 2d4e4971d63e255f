#!/usr/bin/env bash
# Benchmarks of `run` against the sandbox on loopback (not a test; run by hand on an idle
# machine). Prints one line per scenario:
#   1. unthrottled rows/s at concurrency 64 (100,000 rows)
#   2. 100 ms of server latency, concurrency 50: rows/s as a fraction of the 500/s ceiling
#   3. --rate 50 over 1,000 rows: elapsed time against the ideal 20 s
#   4. peak RSS of a 1,000,000-row run (and of 100,000 rows, to show it is flat)
#   bash bench/send.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
quick="${1:-}"
cargo build --release --quiet --bin tecalis-status --example gen_input
bin=./target/release/tecalis-status
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# start_sandbox NAME ARGS...: starts a release sandbox on a free loopback port; sets $url.
start_sandbox() {
  "$bin" sandbox --listen 127.0.0.1:0 --accept-unknown --keep-requests 0 "$@" > "$work/sandbox.out" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 100); do
    url="$(head -1 "$work/sandbox.out" 2>/dev/null | sed -n 's/^listening on //p')"
    [ -n "$url" ] && return 0
    sleep 0.05
  done
  echo "sandbox did not start" >&2; exit 1
}
stop_sandbox() { kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true; }

# send INPUT ARGS...: runs `run` and prints the JSON summary's elapsed and rows/s.
send() {
  local input="$1"; shift
  TECALIS_URL="$url" TECALIS_API_KEY=bench /usr/bin/time -f "%e %M" -o "$work/time" \
    "$bin" run "$input" --yes --force --quiet --output "$work/results.csv" --summary-json "$work/summary.json" "$@" 2>/dev/null || true
  python3 - "$work/summary.json" "$work/time" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
wall, rss = open(sys.argv[2]).read().split()[-2:]
print(f"{s['rows']} rows, ok {s['counts']['ok']}, sending {s['elapsed_seconds']:.2f} s, {s['rows_per_second']:.0f} rows/s, wall {wall} s, peak RSS {int(rss)//1024} MB, p50 {s['latency_ms']['p50']} ms")
PY
}

gen() { ./target/release/examples/gen_input "$1" > "$work/in-$1.csv"; echo "$work/in-$1.csv"; }

big=100000; huge=1000000
[ "$quick" = "--quick" ] && big=20000 && huge=100000

echo "== 1. unthrottled, fast server, concurrency 64, $big rows"
start_sandbox
send "$(gen $big)" --rate 1000000/s --concurrency 64
stop_sandbox

echo "== 2. 100 ms latency, concurrency 50 (ceiling 500 rows/s), 5000 rows"
start_sandbox --latency 100ms
send "$(gen 5000)" --rate 1000000/s --concurrency 50 | tee "$work/s2"
python3 -c "import re,sys; r=float(re.search(r'(\d+) rows/s', open('$work/s2').read()).group(1)); print(f'   fraction of 500/s: {r/500:.3f}')"
stop_sandbox

echo "== 3. --rate 50 over 1000 rows (ideal 20 s; 19.98 s from the first to the last slot)"
start_sandbox
send "$(gen 1000)" --rate 50 --concurrency 8
stop_sandbox

echo "== 4. peak RSS, unthrottled, concurrency 64: 100,000 rows then $huge rows"
start_sandbox
send "$(gen 100000)" --rate 1000000/s --concurrency 64
send "$(gen $huge)" --rate 1000000/s --concurrency 64
stop_sandbox
