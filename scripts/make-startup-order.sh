#!/usr/bin/env bash
# Regenerate link/startup.order: the functions jwtctl runs in its common one-shot commands, which
# build.rs asks the linker to place side by side, so a short run touches a few pages of code
# instead of pages all over a 4 MB .text (each first touch is a page fault, about 2-3 us here).
# Run it after changing dependencies or the toolchain; a stale list only costs speed: names the
# linker no longer finds are skipped. Usage: scripts/make-startup-order.sh   (needs valgrind)
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
trace refresh refresh "$token"
# The binary's own functions: verify's first, then what each other run adds, each group sorted
# so that regenerating the list changes only the lines whose functions changed.
nm "$bin" | awk '$2 ~ /^[tTwW]$/ {print $3}' | sort -u >"$work/symbols"
: >"$work/seen"
for run in verify verify-info verify-json rejected issue-new issue refresh; do
  sed -n 's/^c\?fn=//p' "$work/$run.cg" | grep -Fxf "$work/symbols" | sort -u |
    comm -23 - <(sort "$work/seen") | tee -a "$work/seen"
done >"$root/link/startup.order"
echo "link/startup.order: $(wc -l <"$root/link/startup.order") functions"
