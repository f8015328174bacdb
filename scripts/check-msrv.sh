#!/usr/bin/env bash
# The Rust version Cargo.toml declares (rust-version) is one the lock can build with: no locked
# package needs a newer one (cargo metadata), and the crate, its tests and benches check with
# that toolchain (`cargo +MSRV check --locked --all-targets`, in target/msrv). CI runs this.
# Usage: scripts/check-msrv.sh     (fetches the toolchain with rustup when it is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
[ -n "$msrv" ] || { echo "check-msrv: Cargo.toml declares no rust-version" >&2; exit 1; }
cargo metadata --locked --format-version 1 --filter-platform x86_64-unknown-linux-gnu |
  MSRV="$msrv" python3 -c '
import json, os, sys
def v(text): return tuple(int(p) for p in (text.split(".") + ["0", "0"])[:3])
msrv = os.environ["MSRV"]
meta = json.load(sys.stdin)
ids = {n["id"] for n in meta["resolve"]["nodes"]}
newer = sorted((p["rust_version"], p["name"], p["version"]) for p in meta["packages"]
               if p["id"] in ids and p.get("rust_version") and v(p["rust_version"]) > v(msrv))
if newer:
    for need, name, version in newer:
        print(f"check-msrv: {name} {version} needs Rust {need}, but Cargo.toml says {msrv}", file=sys.stderr)
    sys.exit(1)
need = max((p["rust_version"] for p in meta["packages"] if p["id"] in ids and p.get("rust_version")), key=v)
print(f"check-msrv: the lock needs Rust {need}; Cargo.toml says {msrv}")
'
# The compile check needs the toolchain from static.rust-lang.org. Where that cannot be reached,
# it says so loudly and the metadata check above stands alone (CI must not go red for a mirror).
if ! rustup toolchain install "$msrv" --profile minimal --no-self-update >/dev/null 2>&1; then
  echo "check-msrv: SKIPPED the compile check: rustup cannot fetch Rust $msrv here" >&2
  exit 0
fi
CARGO_TARGET_DIR=target/msrv cargo +"$msrv" check --locked --all-targets --quiet
echo "check-msrv: jwtctl checks with Rust $msrv"
