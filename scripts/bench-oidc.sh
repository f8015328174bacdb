#!/usr/bin/env bash
# Whole-process `verify --oidc` with a warm cache against `verify --jwks FILE` of the same set,
# side by side in ROUNDS rounds of hyperfine runs; prints the median per-round ratio. The issuer
# is a local `python3 -m http.server` on loopback (plain http is allowed there), used only to
# fill the cache before timing: a warm run never touches the network.
# Usage: [ROUNDS=6] [RUNS=200] scripts/bench-oidc.sh   (needs hyperfine, python3)
set -euo pipefail
umask 077
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
jwtctl="$root/target/release/jwtctl"
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
mkdir -p idp/.well-known
cp "$root/tests/fixtures/keys/ec256_pkcs8.pem" ec.pem
issuer="http://127.0.0.1:$port"
"$jwtctl" key public --key-file ec.pem --format jwks > idp/jwks.json
printf '{"issuer":"%s","jwks_uri":"%s/jwks.json"}\n' "$issuer" "$issuer" \
  > idp/.well-known/openid-configuration
(cd idp && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server=$!
sleep 1
token=$("$jwtctl" issue --key-file ec.pem --iss "$issuer")
"$jwtctl" verify --oidc "$issuer" --cache-dir cache "$token" >/dev/null   # warm the cache
ratios=()
for round in $(seq "${ROUNDS:-6}"); do
  hyperfine -N --warmup 20 --runs "${RUNS:-200}" --style none --export-json "r$round.json" \
    "$jwtctl verify --jwks idp/jwks.json $token" \
    "$jwtctl verify --oidc $issuer --cache-dir cache $token" >/dev/null 2>&1
  ratios+=("$(python3 -c "import json,sys; d=json.load(open('r$round.json'))['results']; print(d[1]['median']/d[0]['median'])")")
done
python3 - "${ratios[@]}" <<'PY'
import statistics, sys
r = sorted(float(x) for x in sys.argv[1:])
print(f"verify --oidc (warm cache) / verify --jwks FILE: median {statistics.median(r):.3f}x, range {r[0]:.3f}-{r[-1]:.3f}")
PY
