#!/usr/bin/env bash
# Whole-process start-up: `jwtctl verify` of one HS256 token (at the default log level, at
# --log-level info, and at info with --log-sync) against a hello-world Rust binary. hyperfine runs the three side by side in
# ROUNDS short rounds, so drift on a noisy machine hits all of them alike; the script prints each
# command's median of round medians and its ratio to hello-world. Compare ratios, not times.
# The release binary (static musl, stripped: scripts/release.sh builds it) runs beside them when it
# has been built, so its start-up is compared with the glibc build's in the same rounds.
# Usage: [ROUNDS=10] [RUNS=300] scripts/bench-startup.sh   (needs hyperfine: apt-get install hyperfine)
set -euo pipefail
umask 077  # key files private, as jwtctl expects (a looser one earns a warning each run)
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
# The same code linked statically (glibc included): no dynamic loader work at start-up.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet \
  --manifest-path "$root/Cargo.toml" --target x86_64-unknown-linux-gnu --target-dir "$root/target/static"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'fn main() { println!("hello"); }\n' > "$work/hello.rs"
rustc -C opt-level=3 -o "$work/hello" "$work/hello.rs"
cd "$work"
# Time the binaries as installed: copied, as `cargo install` copies them, beside hello. The file
# the linker just wrote sits in the page cache in small pages, so each first touch maps less of
# it (fault-around): run from target/, the same bytes took 5% longer here (149 page faults
# against 144 for a copy). Reading it back from disk, or copying it, gives the installed state.
install -m 755 "$root/target/release/jwtctl" "$work/jwtctl"
install -m 755 "$root/target/static/x86_64-unknown-linux-gnu/release/jwtctl" "$work/jwtctl-static"
jwtctl="$work/jwtctl"
static="$work/jwtctl-static"
release="$root/target/dist-x86_64-unknown-linux-musl/x86_64-unknown-linux-musl/release/jwtctl"
if [ -x "$release" ]; then
  install -m 755 "$release" "$work/jwtctl-musl"
else
  echo "no release binary: run scripts/release.sh VERSION first to time it too" >&2
fi
# The start-up layout (build.rs) only helps while its patterns name this build's functions.
if [ -f "$root/link/startup.ld" ]; then
  nm "$jwtctl" | awk '{print $NF}' | python3 -c '
import bisect, fnmatch, re, sys
symbols = sorted(set(sys.stdin.read().split()))
def present(pattern):  # only symbols sharing the literal start of the pattern are tried
    start = pattern.split("*")[0]
    i = bisect.bisect_left(symbols, start)
    while i < len(symbols) and symbols[i].startswith(start):
        if fnmatch.fnmatchcase(symbols[i], pattern):
            return True
        i += 1
    return False
names = re.findall(r"\*\(\.text\.(\S+)", open(sys.argv[1]).read())
found = sum(1 for n in names if present(n))
print(f"link/startup.ld: {found} of {len(names)} functions are in this build (low: run scripts/make-startup-order.sh)")
' "$root/link/startup.ld"
fi
head -c 48 /dev/urandom | base64 | tr '+/' '-_' > bench.key
export JWTCTL_KEY_FILE=bench.key
token=$("$jwtctl" issue --sub bench)
musl_cmd=()
if [ -x "$work/jwtctl-musl" ]; then
  musl_cmd=(-n "verify (musl release)" "$work/jwtctl-musl verify $token")
fi
for round in $(seq "${ROUNDS:-10}"); do
  hyperfine -N --warmup 20 --runs "${RUNS:-300}" --style none \
    --export-json "$work/round-$round.json" \
    -n hello "$work/hello" \
    -n "verify (log-level error)" "$jwtctl verify $token" \
    -n "verify (log-level info)" "$jwtctl --log-level info verify $token" \
    -n "verify (info, --log-sync)" "$jwtctl --log-level info --log-sync verify $token" \
    -n "verify (static build)" "$static verify $token" \
    ${musl_cmd[@]+"${musl_cmd[@]}"} >/dev/null
done
python3 - "$work"/round-*.json <<'PY'
import json, statistics, sys
rounds = [json.load(open(p))["results"] for p in sys.argv[1:]]
names = [r["command"] for r in rounds[0]]
med = {n: statistics.median(r[i]["median"] for r in rounds) for i, n in enumerate(names)}
def ratios(i, base):
    return [r[i]["median"] / r[base]["median"] for r in rounds]
print(f"{len(rounds)} rounds; median of round medians; median (and range) of per-round ratios")
print(f"  {'command':28s} {'time':>10s}   {'/hello':>6s} {'rounds':>11s}  {'/verify(error)':>14s}")
for i, n in enumerate(names):
    h = ratios(i, 0)
    spread = f"{min(h):.2f}-{max(h):.2f}"
    print(f"  {n:28s} {med[n]*1e3:7.3f} ms   {statistics.median(h):5.2f}x {spread:>11s}"
          f"  {statistics.median(ratios(i, 1)):13.2f}x")
PY
