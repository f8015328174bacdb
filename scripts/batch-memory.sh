#!/usr/bin/env bash
# Flat memory in `jwtctl verify --batch`: peak RSS (GNU time) for 1,000 lines and for 1,000,000
# lines of the same tokens. The two should be within a few MiB of each other.
# Usage: scripts/batch-memory.sh   (needs GNU time: apt-get install time)
set -euo pipefail
umask 077  # key files private, as jwtctl expects (a looser one earns a warning each run)
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin jwtctl --example bench_tokens
jwtctl="$root/target/release/jwtctl"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
head -c 48 /dev/urandom | base64 | tr '+/' '-_' > hs.key
"$root/target/release/examples/bench_tokens" mint HS256 hs.key 1000 > 1k.tokens
for _ in $(seq 1000); do cat 1k.tokens; done > 1m.tokens
for f in 1k 1m; do
  kib=$( { /usr/bin/time -f %M "$jwtctl" verify --batch --key-file hs.key < $f.tokens > /dev/null; } 2>&1 | tail -1)
  printf '%s lines: peak RSS %s KiB\n' "$(wc -l < $f.tokens)" "$kib"
done
