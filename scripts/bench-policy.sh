#!/usr/bin/env bash
# `verify --batch --policy` against the same batch with the equivalent flags: 10,000 RS256
# tokens shaped as GitHub Actions' (iss, aud, repository_id, ref, environment), one policy with
# an issuer, a JWK Set file and five rules (eq, one_of, glob, regex, any) against --jwks, --iss,
# --aud and --claim-eq/--claim-match flags saying as much as flags can. Paired in ROUNDS short
# hyperfine rounds, release build; prints each median and the ratio (the issue's budget: 1.2x).
# Usage: [N=10000] [ROUNDS=5] [RUNS=10] scripts/bench-policy.sh   (needs hyperfine, openssl)
set -euo pipefail
umask 077
root=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-10000}
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin jwtctl --example bench_tokens
jwtctl="$root/target/release/jwtctl"
bare="$root/target/release/examples/bench_tokens"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
openssl genrsa -out rsa.pem 2048 2>/dev/null
openssl rsa -in rsa.pem -pubout -out rsa.pub 2>/dev/null
"$jwtctl" key public --key-file rsa.pub --format jwks > jwks.json
iss=https://token.actions.githubusercontent.com
BENCH_CLAIMS='{"iss":"'$iss'","aud":"https://github.com/acme","repository_id":"2002","repository_owner_id":"1001","event_name":"push","environment":"production","ref":"refs/heads/main","job_workflow_ref":"acme/deploy/.github/workflows/deploy.yml@refs/heads/main"}' \
  "$bare" mint RS256 rsa.pem "$n" > tokens
cat > policy.toml <<EOF
[[issuer]]
url = "$iss"
preset = "github-actions"
jwks_file = "jwks.json"
audiences = ["https://github.com/acme"]

[[issuer.rule]]
claim = "repository_id"
eq = "2002"

[[issuer.rule]]
claim = "repository_owner_id"
eq = "1001"

[[issuer.rule]]
claim = "event_name"
one_of = ["push", "workflow_dispatch"]

[[issuer.rule]]
claim = "job_workflow_ref"
glob = "acme/deploy/.github/workflows/*@refs/heads/main"

[[issuer.rule]]
any = [
  { claim = "ref", eq = "refs/heads/main" },
  { claim = "ref", regex = 'refs/tags/v[0-9]+\.[0-9]+\.[0-9]+' },
]
EOF
policy="$jwtctl verify --batch --policy policy.toml < tokens > /dev/null"
flags="$jwtctl verify --batch --jwks jwks.json --iss $iss --aud https://github.com/acme --claim-eq 'repository_id=\"2002\"' --claim-eq 'repository_owner_id=\"1001\"' --claim-eq event_name=push --claim-match 'job_workflow_ref=acme/deploy/.github/workflows/*@refs/heads/main' --claim-eq ref=refs/heads/main < tokens > /dev/null"
sh -c "$policy" || { echo "the policy batch rejected tokens" >&2; "$jwtctl" verify --batch --policy policy.toml < tokens | head -1 >&2; exit 1; }
sh -c "$flags" || { echo "the flags batch rejected tokens" >&2; exit 1; }
for round in $(seq "${ROUNDS:-5}"); do
  hyperfine --warmup 1 --runs "${RUNS:-10}" --style none --export-json "round$round.json" \
    -n flags "$flags" -n policy "$policy" >/dev/null
done
python3 - "$n" round*.json <<'PY'
import json, statistics, sys
n, rounds = int(sys.argv[1]), sys.argv[2:]
medians = {"flags": [], "policy": []}
for path in rounds:
    for r in json.load(open(path))["results"]:
        medians[r["command"]].append(r["median"])
f, p = statistics.median(medians["flags"]), statistics.median(medians["policy"])
print(f"{n} RS256 tokens, median of {len(rounds)} round medians")
print(f"  flags   {f*1e3:8.1f} ms  {n/f:>9,.0f} tokens/s")
print(f"  policy  {p*1e3:8.1f} ms  {n/p:>9,.0f} tokens/s  {p/f:.3f}x the flags (budget 1.2x)")
PY
