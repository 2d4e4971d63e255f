#!/usr/bin/env bash
# Rehearses a real input file against a local sandbox: starts `tecalis-status sandbox` on a
# free loopback port (with no seeded processes, so it accepts your real auth_uuids with any
# key; with some latency, errors and a rate limit), runs the file against it exactly as the real run would go, prints what the
# sandbox received, and stops it. Nothing leaves this machine.
#
#   contrib/rehearse.sh corrections.csv [more run flags, e.g. --rate 20 --concurrency 8]
set -euo pipefail
input="${1:?usage: rehearse.sh INPUT.csv [run flags]}"
shift
bin="${TECALIS_BIN:-tecalis-status}"
out="$(mktemp -d)"
trap 'kill "$sandbox" 2>/dev/null || true; rm -rf "$out"' EXIT

echo '[]' > "$out/seed.json"
"$bin" sandbox --listen 127.0.0.1:0 --seed "$out/seed.json" --accept-unknown --latency 20ms --jitter 30ms \
  --error-rate 0.05 --rate-limit 50 > "$out/sandbox.out" 2>/dev/null &
sandbox=$!
for _ in $(seq 100); do
  url="$(sed -n 's/^listening on //p' "$out/sandbox.out")"
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "${url:-}" ] || { echo "the sandbox did not start" >&2; exit 1; }

set +e
TECALIS_URL="$url" TECALIS_API_KEY=rehearsal "$bin" run "$input" --yes \
  --output "${input%.csv}.rehearsal.csv" --force "$@"
code=$?
set -e
echo "sandbox received: $(curl -s "$url/_sandbox/stats" 2>/dev/null || echo '(curl not installed)')"
echo "rehearsal results: ${input%.csv}.rehearsal.csv (exit code $code)"
exit "$code"
