#!/usr/bin/env bash
# What the chained, sealed log costs (issue 22's bars), every pair measured side by side:
#  1. one `verify --log-level info`, whole process: this build with a sealed log, this build with
#     a chained (unsealed) log, and a build from before chaining (BASE, default: the commit
#     before the chain, built once into target/base) — bar: sealed/base <= 1.1;
#  2. `verify --batch` of N tokens at --log-level info against the same batch at the default
#     level, sealed — bar: <= 1.3;
#  3. `log verify --verify-key` over RECORDS records (default 1,000,000) against `sha256sum` of the
#     same file — bar: <= 3.
# Usage: [ROUNDS=5] [RUNS=100] [RECORDS=1000000] [BASE=path/to/old/jwtctl] scripts/bench-log.sh
# Needs hyperfine (apt-get install hyperfine). Compare ratios, not times.
set -euo pipefail
umask 077
root=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-100}
RECORDS=${RECORDS:-1000000}
BASE_REV=${BASE_REV:-cb4b461}
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
if [ -z "${BASE:-}" ]; then
  base_tree="$root/target/base-src"
  if [ ! -x "$root/target/base/release/jwtctl" ]; then
    rm -rf "$base_tree"
    git -C "$root" worktree add --detach "$base_tree" "$BASE_REV" >/dev/null
    cargo build --release --quiet --manifest-path "$base_tree/Cargo.toml" --target-dir "$root/target/base"
    git -C "$root" worktree remove --force "$base_tree"
  fi
  BASE="$root/target/base/release/jwtctl"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
install -m 755 "$root/target/release/jwtctl" "$work/jwtctl"
install -m 755 "$BASE" "$work/jwtctl-base"
cd "$work"
mkdir plain chained sealed batch
head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' > key
for d in plain chained sealed batch; do cp key "$d/key"; done
export JWTCTL_KEY_FILE=key
token=$(cd plain && "$work/jwtctl-base" issue --sub bench)
(cd sealed && "$work/jwtctl" log seal init --interval 1s --verify-key-out ../seal.key 2>/dev/null)
median() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["median"])' "$@"; }
ratio() { python3 -c 'import statistics as s,sys; a=[float(x) for x in sys.argv[1].split()]; b=[float(x) for x in sys.argv[2].split()]; print(f"{s.median(a)/s.median(b):.3f}")' "$1" "$2"; }

echo "== 1. one verify --log-level info (whole process), $ROUNDS rounds x $RUNS runs"
s1=""; c1=""; b1=""
for _ in $(seq "$ROUNDS"); do
  hyperfine -N --style none --warmup 10 --runs "$RUNS" --export-json r.json \
    "sh -c 'cd sealed && exec $work/jwtctl --log-level info verify $token'" \
    "sh -c 'cd chained && exec $work/jwtctl --log-level info verify $token'" \
    "sh -c 'cd plain && exec $work/jwtctl-base --log-level info verify $token'" >/dev/null
  s1="$s1 $(median r.json 0)"; c1="$c1 $(median r.json 1)"; b1="$b1 $(median r.json 2)"
done
echo "sealed/base  $(ratio "$s1" "$b1")   (bar: <= 1.1)"
echo "chained/base $(ratio "$c1" "$b1")"

echo "== 2. verify --batch of 20000 tokens, sealed log: info against the default level"
for _ in $(seq 20000); do echo "$token"; done > tokens.txt
hyperfine -N --style none --warmup 1 --runs 10 --export-json b.json \
  "sh -c 'cd batch && exec $work/jwtctl --log-level info verify --batch < ../tokens.txt > /dev/null'" \
  "sh -c 'cd batch && exec $work/jwtctl verify --batch < ../tokens.txt > /dev/null'" >/dev/null
echo "info/default $(ratio "$(median b.json 0)" "$(median b.json 1)")   (bar: <= 1.3)"

echo "== 3. log verify --verify-key over $RECORDS records against sha256sum"
mkdir big && cp key big/key
(cd big && "$work/jwtctl" log seal init --interval 1s --verify-key-out ../big.key 2>/dev/null)
left=$RECORDS
while [ "$left" -gt 0 ]; do
  n=$(( left < 200000 ? left : 200000 ))
  head -n "$n" <(yes "$token") > chunk.txt
  (cd big && "$work/jwtctl" --log-level info verify --batch < ../chunk.txt > /dev/null)
  left=$(( left - n ))
done
ls -l big/security.log | awk '{print "log size: " $5 " bytes"}'
hyperfine -N --style none --warmup 1 --runs 5 --export-json v.json \
  "$work/jwtctl --log-file big/other.log log verify --verify-key big.key big/security.log" \
  "sha256sum big/security.log" >/dev/null
echo "log-verify/sha256sum $(ratio "$(median v.json 0)" "$(median v.json 1)")   (bar: <= 3)"
