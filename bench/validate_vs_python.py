#!/usr/bin/env python3
"""`validate` against Python's csv module on the same file, side by side (not a test).

Python reads the file with the csv module and checks each row the simplest way (a canonical
UUID by regular expression, a known state, reasons under 2,000 characters, no repeated
auth_uuid): far less than `validate` checks, so the ratio flatters Python. Rounds alternate
the two tools; the ratio is taken within each round (the machine may be shared).
    python3 bench/validate_vs_python.py [ROWS] [ROUNDS]
Needs the release binary and example: cargo build --release --bin tecalis-status --example gen_input
"""
import os, re, resource, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/tecalis-status")
GEN = os.path.join(ROOT, "target/release/examples/gen_input")

CHECK = r'''
import csv, re, sys
uuid = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
states = {"OK", "KO", "CANCELLED"}
seen, bad, rows = set(), 0, 0
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    r = csv.reader(f)
    header = [h.strip().lower() for h in next(r)]
    iu, ist, ir = header.index("auth_uuid"), header.index("state"), header.index("reasons")
    for row in r:
        rows += 1
        u = row[iu].strip()
        if not uuid.match(u) or row[ist].strip().upper() not in states or len(row[ir]) > 2000 or u in seen:
            bad += 1
        seen.add(u)
print(rows, bad)
'''


def timed(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "in.csv")
        with open(path, "wb") as f:
            subprocess.run([GEN, str(rows)], stdout=f, check=True)
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {rows} rows, "
              f"{os.path.getsize(path) / 1e6:.0f} MB; load average {os.getloadavg()[0]:.1f}")
        print("round validate_wall validate_cpu python_wall python_cpu ratio_wall ratio_cpu")
        for n in range(1, rounds + 1):
            ours = timed([BIN, "validate", path])
            py = timed([sys.executable, "-c", CHECK, path])
            print(f"{n} {ours[0]:.2f} {ours[1]:.2f} {py[0]:.2f} {py[1]:.2f} "
                  f"{ours[0] / py[0]:.2f} {ours[1] / py[1]:.2f}")


if __name__ == "__main__":
    main()
