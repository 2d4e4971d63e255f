#!/usr/bin/env python3
"""Benchmark of `--rate auto` against hidden rate limits in the project's sandbox, on loopback.

For each hidden limit L (the sandbox's `--rate-limit L`: more than L requests in a 1-s window
are answered 429), runs `--rate auto` and the fixed rates an operator might guess (10/s, the
true limit, 2.5x the limit), and prints a Markdown table: elapsed sending time against the
ideal N/L, and the share of requests the sandbox answered 429 (its own count, from
/_sandbox/stats). Targets for `--rate auto` (issue 15): within 1.25x of the ideal time, at most
3% of requests answered 429, in every scenario. About 4 minutes on 2 cores.

    bash bench/rate_auto.sh            # builds the release binary, then runs this
    python3 bench/rate_auto.py [--only auto|fixed] [--quick]

Every run uses --concurrency 64 so that only the pacing differs (at a fixed rate the default
of 4 in flight would cap 150 ms of latency at 26/s). `--rate auto` gets 20 s of ideal work
(N = 20 x L), so that its start, which costs a fixed second or two, is weighed against a run
of some length; the fixed rates, whose ratio to the ideal does not depend on N, get 10 s
(and 10/s at most 100 rows), to keep the whole set short. `--quick` halves all three.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# TECALIS_PROFILE=debug uses the debug build (the pacing, not the CPU, is measured here).
PROFILE = os.environ.get("TECALIS_PROFILE", "release")
BIN = os.path.join(ROOT, "target", PROFILE, "tecalis-status")
GEN = os.path.join(ROOT, "target", PROFILE, "examples", "gen_input")
WORK = tempfile.mkdtemp(prefix="tecalis-rate-auto-")
KEY = "bench-key"

# (name, hidden limit per second, sandbox flags, extra run flags)
SCENARIOS = [
    ("8/s", 8, [], []),
    ("40/s, 150 ms latency", 40, ["--latency", "150ms"], []),
    ("150/s, --max-rate 1000", 150, [], ["--max-rate", "1000"]),
    ("40/s, no Retry-After", 40, ["--retry-after", "none"], []),
]
QUICK = "--quick" in sys.argv
AUTO_SECONDS = 10 if QUICK else 20
FIXED_SECONDS = 5 if QUICK else 10
SLOW_GUESS_ROWS = 50 if QUICK else 100


class Sandbox:
    """The project's sandbox in its own process, on a free loopback port."""

    def __init__(self, *flags):
        self.proc = subprocess.Popen(
            [BIN, "sandbox", "--listen", "127.0.0.1:0", "--accept-unknown", "--keep-requests", "0", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        self.url = line[len("listening on "):]
        if not self.url.startswith("http://127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"the sandbox is not on loopback: {self.url!r}")

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.url + "/_sandbox/reset", method="POST")).read()

    def stats(self):
        return json.load(urllib.request.urlopen(self.url + "/_sandbox/stats"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()


def gen(rows):
    path = os.path.join(WORK, f"in-{rows}.csv")
    if not os.path.exists(path):
        with open(path, "w") as f:
            subprocess.run([GEN, str(rows)], stdout=f, check=True)
    return path


def run(sandbox, rows, rate, extra):
    """One run; returns the summary JSON and the sandbox's counts."""
    sandbox.reset()
    time.sleep(1.1)  # the previous run's last second leaves the server's window
    summary = os.path.join(WORK, "summary.json")
    proc = subprocess.run(
        [BIN, "run", gen(rows), "--yes", "--force", "--quiet", "--output", os.path.join(WORK, "results.csv"),
         "--summary-json", summary, "--concurrency", "64", "--rate", rate, *extra],
        env=dict(os.environ, TECALIS_URL=sandbox.url, TECALIS_API_KEY=KEY),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if not os.path.exists(summary):
        raise RuntimeError(f"run --rate {rate} wrote no summary (exit {proc.returncode}): {proc.stderr[-2000:]}")
    s = json.load(open(summary))
    os.remove(summary)
    return s, sandbox.stats(), proc.stderr


def settled(summary):
    """The rate `--rate auto` settled on (`rate.settled_per_second` in the JSON summary), or
    `-` if the server never throttled it."""
    rate = summary.get("rate")
    if not isinstance(rate, dict):
        return None
    found = rate.get("settled_per_second")
    return "-" if found is None else f"{found:.1f}"


def main():
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    print("| scenario | --rate | rows | elapsed s | ideal s | vs ideal | requests | 429s | share 429 | ok rows | settled |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    for name, limit, sandbox_flags, run_flags in SCENARIOS:
        runs = []
        if only in (None, "auto"):
            runs.append(("auto", AUTO_SECONDS * limit, run_flags))
        if only in (None, "fixed"):
            fixed = FIXED_SECONDS * limit
            runs += [("10/s", min(fixed, SLOW_GUESS_ROWS), []), (f"{limit}/s", fixed, []),
                     (f"{limit * 2.5:g}/s", fixed, [])]
        with Sandbox("--rate-limit", str(limit), *sandbox_flags) as sandbox:
            for rate, rows, extra in runs:
                s, stats, _ = run(sandbox, rows, rate, extra)
                ideal = rows / limit
                elapsed = s["elapsed_seconds"]
                requests = stats["requests"]
                throttled = stats["by_status"].get("429", 0)
                share = throttled / requests if requests else 0.0
                rate_label = f"**{rate}**" if rate == "auto" else rate
                found = settled(s)
                print(f"| {name} | {rate_label} | {rows:,} | {elapsed:.2f} | {ideal:.1f} | {elapsed / ideal:.2f}x | "
                      f"{requests:,} | {throttled:,} | {share:.1%} | {s['counts'].get('ok', 0):,} | "
                      f"{'' if found is None else found} |", flush=True)
                if rate == "auto":
                    verdicts.append((name, elapsed / ideal, share))
    if verdicts:
        print()
        print("| scenario | target: `--rate auto` ≤ 1.25x ideal, ≤ 3% 429s | |")
        print("|---|---|---|")
        for name, ratio, share in verdicts:
            met = ratio <= 1.25 and share <= 0.03
            print(f"| {name} | {ratio:.2f}x, {share:.1%} | {'met' if met else '**missed**'} |")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
