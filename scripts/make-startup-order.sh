#!/usr/bin/env bash
# Regenerate link/startup.ld: a linker script fragment that gathers the functions jwtctl runs in
# its common one-shot commands into one output section, `.text.jwtctl.startup`, placed before
# `.text`, so a short run touches a few pages of code instead of pages all over a 6 MB .text
# (each first touch is a page fault). build.rs hands it to LLD.
#
# The script names input sections by pattern, not by exact symbol: a Rust symbol carries hashes
# of its crate's version (`17h<hash>E`, `Cs<hash>_`), which a version bump or a dependency update
# changes. Each hash becomes `*` where the pattern then names at most 4 functions in this build
# (a few instances of a small generic); where it would name more (`FnOnce::call_once` has
# hundreds), the exact name is kept. So a bump keeps most of the layout, and a stale entry only
# costs speed: a pattern that matches nothing places nothing. Run it after large code or dependency changes.
# Usage: scripts/make-startup-order.sh   (needs valgrind)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/release/jwtctl"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
trace() {  # trace NAME ARGS...: run jwtctl ARGS under callgrind, mangled names kept
  valgrind --tool=callgrind --demangle=no --compress-strings=no \
    --callgrind-out-file="$work/$1.cg" "$bin" "${@:2}" >"$work/$1.out" 2>/dev/null || true
}
trace issue-new --log-level info issue --sub bench             # creates ./jwtctl.key
token=$("$bin" issue --sub bench)
trace verify verify "$token"                                   # what the start-up bench times
trace verify-info --log-level info verify "$token"
trace verify-json verify --output json "$token"
trace rejected verify "${token%?}x"                            # a bad signature
trace issue issue --sub bench --aud api --claim role=admin
trace refresh refresh --no-ledger "$token"
# The binary's own functions: verify's first, then what each other run adds, each group sorted
# so that regenerating the list changes only the lines whose functions changed.
nm "$bin" | awk '$2 ~ /^[tTwW]$/ {print $3}' | sort -u >"$work/symbols"
: >"$work/seen"
for run in verify verify-info verify-json rejected issue-new issue refresh; do
  sed -n 's/^c\?fn=//p' "$work/$run.cg" | grep -Fxf "$work/symbols" | sort -u |
    comm -23 - <(sort "$work/seen") | tee -a "$work/seen"
done >"$work/order"
python3 - "$work/order" "$work/symbols" >"$root/link/startup.ld" <<'PY'
import fnmatch, re, sys
order = open(sys.argv[1]).read().split()
symbols = open(sys.argv[2]).read().split()
def pattern(name):
    if name.startswith("_ZN"):  # legacy mangling: the hash is the 17h...E suffix
        return re.sub(r"17h[0-9a-f]{16}E$", "17h*E", name)
    if name.startswith("_R"):  # v0 mangling: crate hashes, and back-references that shift with them
        return re.sub(r"B[0-9a-zA-Z]*_", "B*_", re.sub(r"Cs[0-9a-zA-Z]+_", "Cs*_", name))
    return name  # C: stable
print("/* Made by scripts/make-startup-order.sh; build.rs passes it to LLD. */")
print("SECTIONS {\n  .text.jwtctl.startup : {")
unique = 0
for name in order:
    glob = pattern(name)
    if glob != name and len(fnmatch.filter(symbols, glob)) <= 4:
        name, unique = glob, unique + 1
    # LLVM puts a function it judges cold in .text.unlikely.NAME, a C constructor in .text.startup.NAME.
    print(f"    *(.text.{name} .text.unlikely.{name} .text.startup.{name})")
print("  }\n} INSERT BEFORE .text;")
print(f"{len(order)} functions, {unique} by pattern", file=sys.stderr)
PY
