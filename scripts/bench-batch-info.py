#!/usr/bin/env python3
"""Issue 22's batch bar: `verify --batch` at `--log-level info` against the same batch at the
default level (ERROR), whole process, runs interleaved. Bar: info/default <= 1.3 (CPU time).

Each round runs every build at both levels, one after another, in an order that alternates from
round to round; CPU time is the child's user+sys from getrusage(RUSAGE_CHILDREN) deltas, wall
time is measured around the wait. The info log and its state file are removed before each run
(as scripts/bench-batch.sh does: a later run must not time the kernel's writeback of earlier
runs' pages). Prints per build the medians at each level and the ratio info/default, both of the
medians and the median of each round's own ratio. Compare ratios, not times.

With --floor, each round also times `bench_tokens floor` over the same tokens: only the work the
chained format itself asks of a record (the token's SHA-256, a line as long as the info log's
lines holding it and the previous line's hash, that line's SHA-256, one write(2) per 256 lines),
less the same program only reading the tokens. It prints that floor per record, the ratio it
alone would give, and what is left under the bar for everything else (formatting, dispatch,
the clock). With --issued, the batch is N copies of one token `jwtctl issue` made (as
scripts/bench-log.sh part 2 has it) instead of N distinct minted ones.

Usage: scripts/bench-batch-info.py [--n 5000] [--rounds 25] [--alg HS256] [--floor] [--issued]
                                   JWTCTL [JWTCTL...]
  e.g. scripts/bench-batch-info.py target/release/jwtctl /path/to/baseline/jwtctl
Needs target/release/examples/bench_tokens (cargo build --release --example bench_tokens) or
BENCH_TOKENS=path; openssl for RS256.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd, stdin_path, cwd):
    """Run `cmd` with stdin from `stdin_path` and stdout to /dev/null; its (cpu, wall) seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(stdin_path, "rb") as stdin, open(os.devnull, "wb") as null:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=null, cwd=cwd)
        code = proc.wait()
        wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        sys.exit(f"{' '.join(cmd)} exited {code}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=5000, help="tokens per batch")
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--alg", default="HS256", choices=["HS256", "RS256"])
    p.add_argument("--floor", action="store_true", help="also time the format's own work")
    p.add_argument("--issued", action="store_true", help="N copies of one jwtctl-issued token")
    p.add_argument("builds", nargs="+", help="jwtctl binaries to compare")
    args = p.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bench = os.environ.get("BENCH_TOKENS", os.path.join(root, "target/release/examples/bench_tokens"))
    work = tempfile.mkdtemp()
    os.umask(0o077)
    try:
        builds = []
        for i, b in enumerate(args.builds):
            dest = os.path.join(work, f"jwtctl-{i}")
            shutil.copy(b, dest)
            builds.append((b, dest))
        key = os.path.join(work, "hs.key")
        with open(key, "wb") as f:
            f.write(os.urandom(48).hex().encode() + b"\n")
        verify_key, sign_key = key, key
        if args.alg == "RS256":
            sign_key, verify_key = os.path.join(work, "rsa.pem"), os.path.join(work, "rsa.pub")
            subprocess.run(["openssl", "genrsa", "-out", sign_key, "2048"], check=True, capture_output=True)
            subprocess.run(["openssl", "rsa", "-in", sign_key, "-pubout", "-out", verify_key], check=True, capture_output=True)
        tokens = os.path.join(work, "tokens")
        with open(tokens, "wb") as f:
            if args.issued:
                issued = subprocess.run(
                    [builds[0][1], "--log-file", os.path.join(work, "issue.log"), "issue",
                     "--sub", "bench", "--key-file", sign_key],
                    check=True, capture_output=True).stdout
                f.write((issued.strip() + b"\n") * args.n)
            else:
                subprocess.run([bench, "mint", args.alg, sign_key, str(args.n)], stdout=f, check=True)
        log = os.path.join(work, "info.log")

        def cmd(binary, info):
            level = ["--log-level", "info"] if info else []
            return [binary, *level, "--log-file", log, "verify", "--batch", "--key-file", verify_key]

        def once(binary, info):
            for path in (log, log + ".state"):
                if os.path.exists(path):
                    os.remove(path)
            result = run(cmd(binary, info), tokens, work)
            if info:
                with open(log, "rb") as f:
                    lines = sum(1 for _ in f)
                if lines != args.n:
                    sys.exit(f"{binary}: {lines} records for {args.n} tokens")
            return result

        runs = [(b, info) for b in range(len(builds)) for info in (False, True)]
        for b, info in runs:  # warm-up: page cache, CPU frequency
            once(builds[b][1], info)
        floor_log = os.path.join(work, "floor.log")
        if args.floor:
            # The info log of the first build, just written by the warm-up: its mean line.
            with open(log, "rb") as f:
                data = f.read()
            line_bytes = round(len(data) / max(1, data.count(b"\n"))) - 1
            runs += [("read", None), ("floor", None)]

        def floor(kind):
            if os.path.exists(floor_log):
                os.remove(floor_log)
            mode = ["0", "-"] if kind == "read" else [str(line_bytes), floor_log]
            return run([bench, "floor", *mode], tokens, work)

        times = {r: [] for r in runs}
        for round_ in range(args.rounds):
            order = runs if round_ % 2 == 0 else runs[::-1]
            for b, info in order:
                if info is None:
                    times[(b, info)].append(floor(b))
                else:
                    times[(b, info)].append(once(builds[b][1], info))
        med = lambda xs: statistics.median(xs)
        print(f"{args.alg}, {args.n} tokens, {args.rounds} interleaved rounds (medians)")
        for b, (name, _) in enumerate(builds):
            d, i = times[(b, False)], times[(b, True)]
            dc, ic = [t[0] for t in d], [t[0] for t in i]
            dw, iw = [t[1] for t in d], [t[1] for t in i]
            paired_c = med([x / y for x, y in zip(ic, dc)])
            paired_w = med([x / y for x, y in zip(iw, dw)])
            print(f"  {name}")
            print(f"    default: cpu {med(dc)*1e3:7.1f} ms  wall {med(dw)*1e3:7.1f} ms")
            print(f"    info:    cpu {med(ic)*1e3:7.1f} ms  wall {med(iw)*1e3:7.1f} ms")
            print(f"    info/default: cpu {med(ic)/med(dc):.3f}x (paired {paired_c:.3f}x), "
                  f"wall {med(iw)/med(dw):.3f}x (paired {paired_w:.3f}x)   bar: <= 1.3")
            per = (med(ic) - med(dc)) / args.n * 1e6
            print(f"    info costs {per:.2f} us of cpu per record")
            if args.floor:
                fl = med([t[0] for t in times[("floor", None)]]) - med(
                    [t[0] for t in times[("read", None)]])
                left = 0.3 * med(dc) - fl
                print(f"    the format's own work ({line_bytes}-byte lines): {fl / args.n * 1e6:.2f} us "
                      f"a record, {(med(dc) + fl) / med(dc):.3f}x alone; left for everything else "
                      f"under 1.3x: {left / args.n * 1e6:.2f} us a record (used: "
                      f"{per - fl / args.n * 1e6:.2f} us)")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
