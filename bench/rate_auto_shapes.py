#!/usr/bin/env python3
"""Benchmark of `--rate auto` against the limiters vendors run (issue 20), in the project's
sandbox on loopback: a sliding window, token buckets (a short and a long burst), a fixed
wall-clock window, a per-second limit with a per-minute quota, a limit that changes during
the run, and limits announced in rate-limit headers. For each: the run's time against the
ideal (the least time the limiter allows for N rows, computed by a greedy client that knows
it), the share of requests the sandbox answered 429 (its own count), and the rate suggested
for next time against the sustained limit. Beside `auto`, the same rows at a fixed `--rate`
equal to the sustained limit, measured in the same run (the peer: an operator who knows the
limit). About 5 minutes on 2 cores.

    bash bench/rate_auto.sh --shapes        # builds the release binary, then runs this
    python3 bench/rate_auto_shapes.py [--only NAME-PART]

Targets: within 1.10x the ideal, under 1% of answers 429 (with headers: at most one), the
suggestion 85-100% of the sustained limit.
"""

import collections
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rate_auto  # noqa: E402  (the sandbox and run helpers)

# (name, sustained limit at the end, rows, sandbox flags, ideal-model kwargs, run the peer)
SHAPES = [
    ("sliding 30/s", 30, 600, ["--rate-limit", "30"], dict(per_second=30), True),
    ("sliding 40/s, 150 ms latency (before)", 40, 800,
     ["--rate-limit", "40", "--latency", "150ms"], dict(per_second=40), True),
    ("token bucket 40/s, burst 40", 40, 800,
     ["--rate-limit", "40", "--limit-shape", "bucket"], dict(per_second=40, shape="bucket"), True),
    ("token bucket 10/s, burst 100", 10, 300,
     ["--rate-limit", "10", "--limit-shape", "bucket", "--limit-burst", "100"],
     dict(per_second=10, shape="bucket", burst=100), True),
    ("fixed window 40/s", 40, 800, ["--rate-limit", "40", "--limit-shape", "fixed"],
     dict(per_second=40, shape="fixed"), True),
    ("50/s and 1,200/min (fixed)", 20, 1500,
     ["--rate-limit", "50", "--limit-shape", "fixed", "--limit-per-minute", "1200"],
     dict(per_second=50, shape="fixed", per_minute=1200), False),
    ("40/s, 15/s from 20 s, 60/s from 50 s", 60, 2000,
     ["--rate-limit", "40", "--limit-schedule", "20s=15,50s=60"],
     dict(per_second=40, schedule=((20, 15), (50, 60))), False),
    ("sliding 30/s, X-RateLimit-* headers", 30, 450,
     ["--rate-limit", "30", "--limit-headers", "x-ratelimit"], dict(per_second=30), False),
    ("fixed 30/s, RateLimit-* headers", 30, 450,
     ["--rate-limit", "30", "--limit-shape", "fixed", "--limit-headers", "ratelimit"],
     dict(per_second=30, shape="fixed"), False),
]


def ideal(n, per_second=None, shape="sliding", burst=None, per_minute=None, schedule=(), phase=0.0,
          schedule_from=0.0):
    """The least time (s) the limiter allows for n requests: each sent the moment there is
    room in every rule (the sandbox's limiter; its fixed windows are on the wall clock, and
    the run starts `phase` seconds into a minute)."""
    rules = []
    if per_second is not None:
        rules.append({"shape": shape, "limit": per_second, "length": 1.0, "log": collections.deque(),
                      "tokens": float(burst or per_second), "burst": float(burst or per_second), "at": 0.0,
                      "index": 0, "count": 0, "scheduled": True})
    if per_minute is not None:
        rules.append({"shape": "sliding" if shape == "bucket" else shape, "limit": per_minute, "length": 60.0,
                      "log": collections.deque(), "index": 0, "count": 0, "scheduled": False})

    def wait(rule, t):
        if rule["scheduled"]:
            since = t - schedule_from
            rule["limit"] = next((l for after, l in sorted(schedule, reverse=True) if since >= after), per_second)
        if rule["shape"] == "sliding":
            log = rule["log"]
            while log and t - log[0] >= rule["length"]:
                log.popleft()
            return 0.0 if len(log) < rule["limit"] else log[0] + rule["length"] - t
        if rule["shape"] == "fixed":
            index = int(t // rule["length"])
            if index != rule["index"]:
                rule["index"], rule["count"] = index, 0
            return 0.0 if rule["count"] < rule["limit"] else (index + 1) * rule["length"] - t
        rule["tokens"] = min(rule["burst"], rule["tokens"] + (t - rule["at"]) * rule["limit"])
        rule["at"] = t
        return 0.0 if rule["tokens"] >= 1 else (1 - rule["tokens"]) / rule["limit"]

    t = phase
    for rule in rules:
        rule["at"] = phase
        rule["index"] = int(phase // rule["length"])
    for _ in range(n):
        while True:
            w = max(wait(rule, t) for rule in rules)
            if w <= 0:
                break
            t += max(w, 1e-4)
        for rule in rules:
            if rule["shape"] == "sliding":
                rule["log"].append(t)
            elif rule["shape"] == "fixed":
                rule["count"] += 1
            else:
                rule["tokens"] -= 1
    return t - phase


def main():
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    print("| limiter | --rate | rows | elapsed s | ideal s | vs ideal | requests | 429s | share 429 | ok rows "
          "| suggested | vs sustained |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, sustained, rows, flags, model, peer in SHAPES:
        if only and only not in name:
            continue
        rates = ["auto"] + ([str(sustained)] if peer else [])
        with rate_auto.Sandbox(*flags) as sandbox:
            for rate in rates:
                # run() resets the sandbox, then waits 1.1 s before starting the run.
                phase = (time.time() + 1.15) % 60
                s, stats, _ = rate_auto.run(sandbox, rows, rate, [])
                best = ideal(rows, phase=phase, schedule_from=phase, **model)
                elapsed = s["elapsed_seconds"]
                requests = stats["requests"]
                throttled = stats["by_status"].get("429", 0)
                share = throttled / requests if requests else 0.0
                found = s.get("rate") or {}
                suggested = found.get("suggested_rate") if rate == "auto" else None
                versus = f"{float(suggested) / sustained:.0%}" if suggested else ""
                label = "**auto**" if rate == "auto" else f"{rate}/s"
                print(f"| {name} | {label} | {rows:,} | {elapsed:.2f} | {best:.1f} | {elapsed / best:.2f}x | "
                      f"{requests:,} | {throttled:,} | {share:.1%} | {s['counts'].get('ok', 0):,} | "
                      f"{suggested or ('-' if rate == 'auto' else '')} | {versus} |", flush=True)
    shutil.rmtree(rate_auto.WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
