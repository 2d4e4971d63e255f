#!/usr/bin/env bash
# The cost of redaction with many keys (issue 23, SPEC "Files and the terminal"): 5,000 rows
# against a sandbox that quotes every request back in a 422 (so every answer is redacted),
# once with one key for every row and once with 5,000 distinct per-row keys, side by side,
# REPEAT times each, alternating. Prints the CPU (user + system seconds) of each run and the
# ratio of the medians. Not a test; run by hand: bash bench/redact_keys.sh [REPEAT]
set -euo pipefail
cd "$(dirname "$0")/.."
repeat="${1:-5}"
bin="${TECALIS_BIN:-./target/release/tecalis-status}"
[ -n "${TECALIS_BIN:-}" ] || cargo build --release --quiet --bin tecalis-status
work="$(mktemp -d)"
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT
"$bin" sandbox --listen 127.0.0.1:0 --accept-unknown --keep-requests 0 \
  --error-rate 1 --error-status 422 --error-body echo >"$work/sandbox.out" 2>/dev/null &
pid=$!
for _ in $(seq 100); do
  url="$(head -1 "$work/sandbox.out" 2>/dev/null | sed -n 's/^listening on //p')"
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "sandbox did not start" >&2; exit 1; }
python3 - "$work" <<'PY'
import sys, uuid
work = sys.argv[1]
rows = [str(uuid.uuid4()) for _ in range(5000)]
with open(f"{work}/one.csv", "w") as f:
    f.write("auth_uuid,state,reasons,api_key\n")
    for u in rows:
        f.write(f"{u},KO,motivo,0f1e2d3c-4b5a-4697-8877-665544332211\n")
with open(f"{work}/many.csv", "w") as f:
    f.write("auth_uuid,state,reasons,api_key\n")
    for u in rows:
        f.write(f"{u},KO,motivo,{uuid.uuid4()}\n")
PY
cpu() { # cpu NAME: user+sys seconds of one run
  /usr/bin/time -f "%U %S" -o "$work/time" "$bin" run "$work/$1.csv" --url "$url" --yes \
    --rate 100000 --concurrency 16 --retries 0 --force --quiet >/dev/null 2>&1 || true
  tail -1 "$work/time" | awk '{printf "%.2f\n", $1 + $2}'
}
one=(); many=()
for _ in $(seq "$repeat"); do
  one+=("$(cpu one)"); many+=("$(cpu many)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m1="$(median "${one[@]}")"; mn="$(median "${many[@]}")"
echo "one key:     ${one[*]} s CPU (median $m1)"
echo "5,000 keys:  ${many[*]} s CPU (median $mn)"
awk -v a="$mn" -v b="$m1" 'BEGIN {printf "ratio: %.2f (target: at most 1.3)\n", a / b}'
