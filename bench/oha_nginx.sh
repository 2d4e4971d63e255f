#!/usr/bin/env bash
# Unthrottled sending against oha, side by side: nginx on 127.0.0.1 (a free port, started and
# stopped here by its PID) answers every PATCH with a fixed 200 and a JSON body like the
# vendor's (status OK, the reasons sent), so the server costs almost nothing and the client's
# CPU per row decides. The answer names no auth_uuid: nginx cannot echo each row's, and a
# fixed one would make every row a `mismatch` ("about another process"); the status is
# still compared with the state sent. Each round runs oha, then tecalis-status, on the same 20,000 rows at
# concurrency 64; the ratio is taken within the round (the machine may be shared). The same
# round also runs the floors of the HTTP layers alone, sending the same rows and doing nothing
# else (examples/http_floor.rs): reqwest, which the tool uses;
# hyper-util's pooled client, which reqwest wraps; hyper's bare connections, as oha uses.
#   bash bench/oha_nginx.sh [ROUNDS] [ROWS]
# Needs nginx (Debian `nginx-light`) and oha (`cargo install oha --locked`) on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
rows="${2:-20000}"
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light; }
command -v oha >/dev/null || { echo "oha is not on PATH: cargo install oha --locked" >&2; exit 1; }
cargo build --release --quiet --bin tecalis-status --example http_floor
bin=./target/release/tecalis-status
floor=./target/release/examples
work="$(mktemp -d)"
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mkdir -p "$work/nginx/logs"
cat > "$work/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
error_log $work/nginx/logs/error.log crit;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location /customer/status {
      default_type application/json;
      return 200 '{"data":{"name":"Ana","document_number":"00000000T","document_type":"ID","process_uuid":"0193a1b2-0000-7000-8000-000000000001","nationality":"ESP","company":"ACME","profile_alias":"default","status":"OK","status_reasons":"lote 42","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z","cleaned":false,"operations":[{"type":"DOCUMENTS","operation":"x","state":"OK","total_time":1.2},{"type":"FINISH","operation":"y","state":"OK","total_time":0.3}]}}';
    }
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
for _ in $(seq 100); do
  curl -s -o /dev/null -X PATCH "http://127.0.0.1:$port/customer/status" && break
  sleep 0.05
done
url="http://127.0.0.1:$port"

python3 - "$rows" > "$work/in.csv" <<'PY'
import sys
n = int(sys.argv[1])
print("auth_uuid,state,reasons")
for i in range(n):
    print(f"01930000-0000-7{i >> 24 & 0xfff:03x}-8{i >> 12 & 0xfff:03x}-{i:012x},OK,{'lote 42' if i % 2 == 0 else ''}")
PY
body='{"auth_uuid":"01930000-0000-7000-8000-000000000001","api_key":"bench","state":"OK","reasons":"lote 42"}'

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
echo "round oha_rows_s oha_cpu_us_row tecalis_rows_s tecalis_cpu_us_row ratio" \
  "reqwest_rows_s reqwest_cpu_us_row reqwest_ratio hyper_util_rows_s hyper_util_cpu_us_row" \
  "hyper_util_ratio hyper_conn_rows_s hyper_conn_cpu_us_row hyper_conn_ratio"
for round in $(seq "$rounds"); do
  /usr/bin/time -f "%U %S" -o "$work/oha.time" \
    oha -n "$rows" -c 64 -m PATCH -H 'Content-Type: application/json' -d "$body" \
    --no-tui --output-format json "$url/customer/status" > "$work/oha.json"
  TECALIS_URL="$url" TECALIS_API_KEY=bench /usr/bin/time -f "%U %S" -o "$work/t.time" \
    "$bin" run "$work/in.csv" --yes --force --quiet --rate 1000000/s --concurrency 64 \
    --output "$work/results.csv" --summary-json "$work/summary.json" 2>/dev/null || true
  for layer in reqwest legacy conn; do
    /usr/bin/time -f "%U %S" -o "$work/$layer.time" \
      "$floor/http_floor" "$layer" "${url#http://}" "$rows" 64 > "$work/$layer.out"
  done
  python3 - "$work" "$rows" "$round" <<'PY'
import json, sys
work, rows, round_ = sys.argv[1], int(sys.argv[2]), sys.argv[3]
oha = json.load(open(f"{work}/oha.json"))
oha_rps = oha["summary"]["requestsPerSec"]
s = json.load(open(f"{work}/summary.json"))
assert s["counts"]["ok"] == rows, s["counts"]
cpu = lambda f: sum(float(x) for x in open(f).read().split()[-2:])
floors = []
for layer in ("reqwest", "legacy", "conn"):
    out = open(f"{work}/{layer}.out").read().split()
    assert out[0] == out[2] == str(rows), out  # "N of N ok in S s: R rows/s"
    rps = float(out[-2])
    floors.append(f"{rps:.0f} {cpu(f'{work}/{layer}.time') / rows * 1e6:.1f} {rps / oha_rps:.2f}")
print(f"{round_} {oha_rps:.0f} {cpu(work + '/oha.time') / rows * 1e6:.1f} "
      f"{s['rows_per_second']:.0f} {cpu(work + '/t.time') / rows * 1e6:.1f} "
      f"{s['rows_per_second'] / oha_rps:.2f} " + " ".join(floors))
PY
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
