#!/usr/bin/env bash
# Whole-process `jwtctl refresh` with the PostgreSQL ledger (Unix socket) against the SQLite
# ledger. Every run consumes its token, so hyperfine's repeated command does not fit: a Python
# driver issues N fresh tokens per store first (not timed), then times each refresh process,
# alternating the two stores run by run so that drift hits both alike, and prints medians and
# their ratio. Also `pgbench -C` (PostgreSQL's own connection set-up per transaction), for scale.
# Usage: [N=300] scripts/bench-ledger-stores.sh   (starts its own server with scripts/pg-test-server.sh)
set -euo pipefail
umask 077
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
jwtctl="$root/target/release/jwtctl"
work=$(mktemp -d)
chmod 755 "$work"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
trap 'as_owner "$bin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
eval "$("$root/scripts/pg-test-server.sh" "$work/pg")"
"$bin/psql" -q "$JWTCTL_TEST_POSTGRES" -c "CREATE DATABASE bench"
pg_url=${JWTCTL_TEST_POSTGRES/\/postgres\?//bench?}
cd "$work"
head -c 48 /dev/urandom | base64 | tr '+/' '-_' >bench.key
export JWTCTL_KEY_FILE=bench.key
"$jwtctl" ledger init --ledger "$pg_url" >/dev/null
"$jwtctl" ledger init --ledger "$work/ledger.db" >/dev/null
python3 - "$jwtctl" "$pg_url" "$work/ledger.db" "${N:-300}" <<'PY'
import statistics, subprocess, sys, time
jwtctl, pg, sqlite, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
issue = lambda: subprocess.run([jwtctl, "issue", "--sub", "bench"], capture_output=True, check=True, text=True).stdout.strip()
tokens = {name: [issue() for _ in range(n + 10)] for name in ("sqlite", "postgres")}
where = {"sqlite": sqlite, "postgres": pg}
times = {"sqlite": [], "postgres": []}
for i in range(n + 10):
    for name in ("sqlite", "postgres") if i % 2 else ("postgres", "sqlite"):
        start = time.perf_counter_ns()
        subprocess.run([jwtctl, "refresh", "--ledger", where[name], tokens[name][i]],
                       stdout=subprocess.DEVNULL, check=True)
        if i >= 10:  # the first runs warm the caches
            times[name].append(time.perf_counter_ns() - start)
med = {k: statistics.median(v) / 1e6 for k, v in times.items()}
print(f"{n} refreshes each; median whole-process time")
print(f"  sqlite ledger    {med['sqlite']:.3f} ms")
print(f"  postgres ledger  {med['postgres']:.3f} ms   ({med['postgres'] / med['sqlite']:.2f}x sqlite)")
PY
if command -v pgbench >/dev/null || [ -x "$bin/pgbench" ]; then
  printf 'SELECT 1;\n' >select1.sql
  "$bin/pgbench" -n -C -c 1 -t 300 -f select1.sql "$JWTCTL_TEST_POSTGRES" 2>/dev/null |
    grep -E 'average connection time|latency average' | sed 's/^/  pgbench -C: /'
fi
