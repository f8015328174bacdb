#!/usr/bin/env bash
# `jwtctl log search --sub X` over a log of RECORDS (default 1,000,000) records, against
# `jq -c 'select(.sub=="X")'` and `grep -F '"sub":"X"'` on the same file, paired: ROUNDS short
# hyperfine runs of all of them, and the median of the per-round ratios, so drift on a shared
# machine hits them alike (as scripts/bench-startup.sh does). Output goes through a pipe (`--output=pipe`): GNU grep stops at the first
# match when it sees stdout is /dev/null.
#
# Issue 22's bar: jwtctl at least 10x faster than jq and at most 2x grep's time. The script says
# whether each holds and exits 1 when one does not.
#
# Usage: [RECORDS=1000000] [ROUNDS=3] [RUNS=3] scripts/bench-log-search.sh
#        (needs hyperfine, jq, python3: apt-get install hyperfine jq)
set -euo pipefail
umask 077
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jwtctl="$work/jwtctl"
install -m 755 "$root/target/release/jwtctl" "$jwtctl"
cd "$work"
# Records shaped as jwtctl writes them (seq and prev first, as the chained log has them), from
# 1,000 subjects: the one searched for is in about 1 record in 1,000.
python3 - "${RECORDS:-1000000}" > security.log <<'PY'
import hashlib, json, random, sys
random.seed(22)
ops = [("verify", "success", None), ("verify", "failure", "expired"), ("issue", "success", None),
       ("refresh", "success", None), ("refresh", "failure", "reused")]
prev = "0" * 64
out = sys.stdout
for seq in range(1, int(sys.argv[1]) + 1):
    op, outcome, reason = random.choice(ops)
    secs = 1795651200 + seq // 20
    r = {"seq": seq, "prev": prev,
         "timestamp": "2026-11-%02dT%02d:%02d:%02d.%06dZ" % (26 + secs // 86400 % 3, secs // 3600 % 24,
                                                           secs // 60 % 60, secs % 60, seq % 1000000),
         "level": "ERROR" if outcome == "failure" else "INFO", "op": op, "outcome": outcome}
    if reason:
        r["reason"] = reason
    r.update({"sub": "user-%d" % random.randrange(1000), "iss": "https://auth.example",
              "jti": "%022x" % random.getrandbits(88), "kid": "2026-11", "alg": "HS256",
              "exp": secs + 1800, "token_sha256": "%064x" % random.getrandbits(256),
              "user": "deploy", "uid": 1001, "pid": 40000 + seq % 5000, "host": "api-1",
              "version": "0.1.0"})
    line = json.dumps(r, separators=(",", ":"))
    prev = hashlib.sha256(line.encode()).hexdigest()
    out.write(line + "\n")
PY
sub=user-424
echo "log: $(wc -l < security.log) records, $(du -h security.log | cut -f1); --sub $sub matches $(grep -cF "\"sub\":\"$sub\"" security.log)"
# The log is warm in the page cache for every command alike.
cat security.log > /dev/null
for round in $(seq "${ROUNDS:-3}"); do
  hyperfine -N --output=pipe --warmup 1 --runs "${RUNS:-3}" --style none \
    --export-json "$work/round-$round.json" \
    -n "jwtctl log search --sub (json)" "$jwtctl log search security.log --sub $sub --output json" \
    -n "jwtctl log search --sub (table)" "$jwtctl log search security.log --sub $sub" \
    -n "grep -F" "grep -F '\"sub\":\"$sub\"' security.log" \
    -n "jq -c select" "jq -c 'select(.sub==\"$sub\")' security.log" >/dev/null
done
python3 - "$work"/round-*.json <<'PY'
import json, statistics, sys
rounds = [{r["command"]: r["median"] for r in json.load(open(p))["results"]} for p in sys.argv[1:]]
med = {n: statistics.median(r[n] for r in rounds) for n in rounds[0]}
ratio = lambda a, b: statistics.median(r[a] / r[b] for r in rounds)
print(f"{len(rounds)} rounds; median of round medians")
for n, t in med.items():
    print(f"  {n:32s} {t * 1e3:8.1f} ms")
j = "jwtctl log search --sub (json)"
fast = ratio("jq -c select", j)
near = ratio(j, "grep -F")
print(f"jq / jwtctl:   {fast:5.1f}x  (bar: at least 10x) {'ok' if fast >= 10 else 'MISSED'}")
print(f"jwtctl / grep: {near:5.2f}x  (bar: at most 2x)    {'ok' if near <= 2 else 'MISSED'}")
sys.exit(0 if fast >= 10 and near <= 2 else 1)
PY
