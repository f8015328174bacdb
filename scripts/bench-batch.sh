#!/usr/bin/env bash
# Whole-process batch verification: `jwtctl verify --batch` over 10,000 HS256 and 10,000 RS256
# tokens, side by side with a bare jsonwebtoken loop over the same tokens (examples/
# bench_tokens.rs), both release builds, in one hyperfine run per algorithm. Prints tokens per
# second, the ratio jwtctl / bare loop, and peak RSS (GNU time). Compare ratios, not times.
# Usage: [N=10000] scripts/bench-batch.sh   (needs hyperfine and GNU time: apt-get install hyperfine time)
set -euo pipefail
umask 077  # key files private, as jwtctl expects (a looser one earns a warning each run)
root=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-10000}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin jwtctl --example bench_tokens
jwtctl="$root/target/release/jwtctl"
bare="$root/target/release/examples/bench_tokens"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
head -c 48 /dev/urandom | base64 | tr '+/' '-_' > hs.key
openssl genrsa -out rsa.pem 2048 2>/dev/null
openssl rsa -in rsa.pem -pubout -out rsa.pub 2>/dev/null
"$bare" mint HS256 hs.key "$n" > hs.tokens
"$bare" mint RS256 rsa.pem "$n" > rs.tokens
for alg in HS256 RS256; do
  case $alg in HS256) tokens=hs.tokens key=hs.key verify_key=hs.key ;; RS256) tokens=rs.tokens key=rsa.pub verify_key=rsa.pub ;; esac
  [ "$("$bare" verify "$alg" "$verify_key" < "$tokens")" = "$n" ] || { echo "bare loop rejected tokens" >&2; exit 1; }
  "$jwtctl" verify --batch --quiet --key-file "$key" < "$tokens" || { echo "jwtctl rejected tokens" >&2; exit 1; }
  # The info log is removed before each run: dirty pages of earlier runs flushed mid-run would
  # time the kernel's writeback of another run (a run's own pages are written back ~30 s later).
  hyperfine --warmup 3 --runs "${RUNS:-30}" --style none --export-json "$alg.json" --prepare 'rm -f info.log' \
    -n "bare jsonwebtoken loop" "$bare verify $alg $verify_key < $tokens" \
    -n "jwtctl verify --batch" "$jwtctl verify --batch --key-file $key < $tokens > /dev/null" \
    -n "jwtctl verify --batch --log-level info" "$jwtctl --log-level info --log-file info.log verify --batch --key-file $key < $tokens > /dev/null" >/dev/null
  rss() { /usr/bin/time -f %M sh -c "$1" 2>&1 >/dev/null | tail -1; }
  python3 - "$alg.json" "$n" "$(rss "$bare verify $alg $verify_key < $tokens")" "$(rss "$jwtctl verify --batch --key-file $key < $tokens")" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
n, bare_rss, jwtctl_rss = int(sys.argv[2]), sys.argv[3], sys.argv[4]
base = results[0]["median"]
alg = sys.argv[1].split(".")[0]
print(f"{alg}, {n} tokens (median of runs; ratio to the bare loop)")
for r in results:
    cpu = r["user"] + r["system"]
    print(f"  {r['command']:40s} {r['median']*1e3:8.1f} ms  {n / r['median']:>10,.0f} tokens/s  {r['median'] / base:5.2f}x  (cpu {cpu*1e3:.1f} ms)")
info, error = results[2], results[1]
print(f"  info / error: {info['median'] / error['median']:.2f}x wall, "
      f"{(info['user'] + info['system']) / (error['user'] + error['system']):.2f}x cpu (mean user+sys)")
print(f"  peak RSS: bare loop {bare_rss} KiB, jwtctl --batch {jwtctl_rss} KiB")
PY
done
