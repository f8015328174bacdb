#!/usr/bin/env python3
"""Whole-process cost of the ledger: `jwtctl refresh` against a ledger holding 100,000 ids versus
no ledger, alternating one run of each so drift hits both alike. Each run refreshes a different
pre-issued token (a consumed token cannot be refreshed twice).

Usage: python3 scripts/bench-ledger.py [RUNS=300]   (builds the release binary first)
Prints the median wall time of each and their ratio; compare ratios, not times across runs.
Spawning costs the same in both arms; the script also times /bin/true and prints the ratio with
that cost taken off both, the stricter figure.
"""
import hashlib
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 300
IDS = 100_000

subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
jwtctl = os.path.join(ROOT, "target", "release", "jwtctl")
work = tempfile.mkdtemp()
env = dict(os.environ, JWTCTL_KEY_FILE=os.path.join(work, "bench.key"))
env.pop("JWTCTL_LEDGER", None)
os.umask(0o077)  # key files private, as jwtctl expects (a looser one earns a warning each run)
with open(env["JWTCTL_KEY_FILE"], "w") as f:
    f.write(os.urandom(48).hex())


def jw(*args, stdin=None):
    return subprocess.run([jwtctl, *args], cwd=work, env=env, input=stdin, capture_output=True,
                          text=True, check=True).stdout.strip()


# Let jwtctl create the ledger (schema, WAL, 0600), then fill it with 100,000 live ids (keyed,
# as jwtctl keys them, by the SHA-256 of the id).
ledger = os.path.join(work, "ledger.db")
jw("ledger", "init", "--ledger", ledger)
jw("revoke", "--ledger", ledger, jw("issue"))
now = int(time.time())
with sqlite3.connect(ledger) as db:
    db.executemany("INSERT INTO ids (key, id, state, exp, at) VALUES (?, ?, 'consumed', ?, ?)",
                   ((hashlib.sha256(f"jti:filler-{i:06d}".encode()).digest(),
                     f"jti:filler-{i:06d}", now + 86400, now) for i in range(IDS)))
count = sqlite3.connect(ledger).execute("SELECT count(*) FROM ids").fetchone()[0]

tokens = [jw("issue", "--sub", f"bench-{i}") for i in range(3 * RUNS)]
times = {"spawn only (true)": [], "no ledger": [], "ledger (100k ids)": [],
         "ledger, --log-sync": []}
true = subprocess.run(["sh", "-c", "command -v true"], capture_output=True, text=True).stdout.strip()
for i in range(RUNS):
    for arm, extra in (("no ledger", ["--no-ledger"]), ("ledger (100k ids)", ["--ledger", ledger]),
                       ("ledger, --log-sync", ["--ledger", ledger, "--log-sync"])):
        token = tokens.pop()
        start = time.perf_counter_ns()
        subprocess.run([jwtctl, "refresh", *extra, token], cwd=work, env=env,
                       stdout=subprocess.DEVNULL, check=True)
        times[arm].append(time.perf_counter_ns() - start)
    start = time.perf_counter_ns()
    subprocess.run([true], stdout=subprocess.DEVNULL, check=True)
    times["spawn only (true)"].append(time.perf_counter_ns() - start)

print(f"ledger rows: {count}; {RUNS} refreshes per arm, alternating")
base = statistics.median(times["no ledger"])
spawn = statistics.median(times["spawn only (true)"])
for arm, ts in times.items():
    med = statistics.median(ts)
    print(f"  {arm:20s} median {med / 1e6:7.3f} ms   ratio {med / base:5.2f}x")
ledger_med = statistics.median(times["ledger (100k ids)"])
print(f"  ratio with the spawn cost of /bin/true taken off both: "
      f"{(ledger_med - spawn) / (base - spawn):.2f}x")
