#!/usr/bin/env python3
"""Peak memory of a job of millions of rows after it ran: `run --resume` of the finished job
(twice, and whether the results file grew), `report`, and `report --export-failed` of a job
where every other row failed; with `--with-run`, the first `run` itself against the sandbox.

    python3 bench/resume_scale.py [ROWS] [--with-run]

ROWS defaults to 2,000,000 (SPEC's scale). Needs the release build (`cargo build --release`)
and GNU time (`/usr/bin/time -v`). The results files are written by this script in the
tool's own format (every row `ok`; every other row `failed`), with their job records, so that
the commands measured read exactly what a finished run leaves without spending the time of
sending the rows; `--with-run` makes the first file by a real run instead. Prints one Markdown
table row per command; nothing is written to BENCHMARKS.md.
"""

import csv
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(os.environ.get("TECALIS_BIN") or "") if os.environ.get("TECALIS_BIN") else os.path.join(ROOT, "target", "release", "tecalis-status")
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
ROWS = int(ARGS[0]) if ARGS else 2_000_000
WITH_RUN = "--with-run" in sys.argv
KEY = "bench-key"
COLUMNS = ["line", "auth_uuid", "state", "reasons", "outcome", "http_status", "attempts",
           "latency_ms", "error", "process_uuid", "remote_status", "remote_status_reasons",
           "remote_updated_at", "finished_at"]


def uuid(i):
    return f"01930000-{(i >> 32) & 0xffff:04x}-7{(i >> 20) & 0xfff:03x}-8{(i >> 8) & 0xfff:03x}-{i:012x}"


def write_input(path):
    with open(path, "w", newline="") as f:
        f.write("auth_uuid,state,reasons\n")
        for i in range(ROWS):
            f.write(f"{uuid(i)},KO,motivo\n")


def write_results(path, input_path, failed_every):
    """A results file as a finished run writes it, and its job record."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for i in range(ROWS):
            failed = failed_every and i % failed_every == 0
            if failed:
                w.writerow([i + 2, uuid(i), "KO", "motivo", "failed", "503", 4, 3,
                            "HTTP 503 after 4 attempts", "", "", "", "", now])
            else:
                w.writerow([i + 2, uuid(i), "KO", "motivo", "ok", 200, 1, 3, "",
                            uuid(i), "KO", "motivo", now, now])
    os.chmod(path, 0o600)
    write_job(path, input_path, exit_code=3 if failed_every else 0, lines_before=0, already=0,
              finished=now)


def write_job(results, input_path, exit_code, lines_before, already, finished):
    sha = hashlib.sha256()
    with open(input_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    job = {
        "version": "bench", "input": os.path.abspath(input_path), "input_sha256": sha.hexdigest(),
        "delimiter": ",", "encoding": None, "columns": ["auth_uuid", "state", "reasons"],
        "rows": ROWS, "lines_before": lines_before, "already_recorded": already,
        "started_at": finished, "finished_at": finished, "exit_code": exit_code,
    }
    with open(results + ".job.json", "w") as f:
        json.dump(job, f, indent=2)
    os.chmod(results + ".job.json", 0o600)


def timed(args, env=None):
    """Runs the binary under GNU time: exit code, peak RSS in MiB, wall seconds, stdout."""
    out = subprocess.run(["/usr/bin/time", "-v", BIN, *args], capture_output=True, text=True,
                         env=env, cwd=WORK)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", out.stderr).group(1)
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    return out.returncode, rss / 1024, seconds, out.stdout, out.stderr


def row(what, code, rss, seconds, other=""):
    print(f"| {what} | {code} | **{rss:.0f} MiB** | {seconds:.1f} s | {other} |", flush=True)


def main():
    if not os.path.exists(BIN):
        sys.exit(f"no release build at {BIN}: run `cargo build --release` first")
    input_path = os.path.join(WORK, "in.csv")
    write_input(input_path)
    results = os.path.join(WORK, "in.results.csv")
    half = os.path.join(WORK, "half.results.csv")
    sandbox = subprocess.Popen([BIN, "sandbox", "--listen", "127.0.0.1:0", "--accept-unknown",
                                "--keep-requests", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = sandbox.stdout.readline().strip().removeprefix("listening on ")
        env = dict(os.environ, TECALIS_API_KEY=KEY)
        send = ["run", "in.csv", "--url", url, "--yes", "--quiet", "-o", "in.results.csv"]
        print(f"{ROWS:,} rows; input {os.path.getsize(input_path):,} bytes; "
              f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("| command | exit | peak RSS | wall | other |\n|---|---|---|---|---|")
        if WITH_RUN:
            code, rss, s, _, _ = timed(send + ["--rate", "1000000/s", "--concurrency", "64"], env)
            row("`run` (all sent, sandbox)", code, rss, s)
        else:
            write_results(results, input_path, failed_every=0)
        for n in (1, 2):
            size = os.path.getsize(results)
            code, rss, s, _, err = timed(send + ["--resume"], env)
            grown = os.path.getsize(results) - size
            row(f"`run --resume` of the finished job ({n})", code, rss, s,
                f"results file {size:,} bytes, grew by {grown:,}")
        code, rss, s, out, _ = timed(["report", "in.results.csv"])
        row("`report` of the finished job", code, rss, s, out.strip().splitlines()[-1])
        write_results(half, input_path, failed_every=2)
        code, rss, s, out, _ = timed(["report", "half.results.csv"])
        row("`report`, every other row failed", code, rss, s, out.strip().splitlines()[-1])
        code, rss, s, out, _ = timed(["report", "half.results.csv", "--export-failed",
                                      "retry.csv", "--force"])
        exported = sum(1 for _ in open(os.path.join(WORK, "retry.csv"))) - 1
        row("`report --export-failed`, every other row failed", code, rss, s,
            f"{exported:,} rows exported")
    finally:
        sandbox.terminate()
        sandbox.wait()


WORK = tempfile.mkdtemp(prefix="tecalis-resume-scale-")
try:
    main()
finally:
    subprocess.run(["rm", "-rf", WORK])
