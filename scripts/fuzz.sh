#!/usr/bin/env bash
# Run each cargo-fuzz target for a time box, one after another; print executions, coverage and
# crashes per target. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]  (default: 60, every target)
#
# libFuzzer adds the inputs it finds to the first corpus directory it is given: that is a
# temporary directory here, and fuzz/corpus/<target> (the committed seeds) comes second, read
# only, so the repository's corpus stays small. Crash reproducers land in fuzz/artifacts/<target>/.
# Set FUZZ_KEEP_CORPUS=1 to keep the grown corpora (their path is printed). Needs the nightly
# toolchain and cargo-fuzz (cargo install cargo-fuzz). Exit status 1 if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
case $seconds in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/jwtctl-fuzz.XXXXXX")
if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
  echo "grown corpora and logs: $work"
else
  trap 'rm -rf "$work"' EXIT
fi

# One build for every target, so each time box is spent fuzzing.
cargo +nightly fuzz build >&2

summary=()
crashed=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t" "fuzz/artifacts/$t"
  log="$work/$t.log"
  echo "== $t: ${seconds}s" >&2
  status=0
  cargo +nightly fuzz run "$t" "$work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
  # The final status line: '#N DONE cov: X ft: Y ...'; after a crash, the last '#N ...' line.
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE ' "$log" | tail -n 1 || true)
  last=${done_line:-$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -n 1 || true)}
  execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  crashes=0
  if [ -z "$done_line" ] || [ "$status" -ne 0 ]; then
    crashes=1
    crashed=1
    echo "-- $t crashed (exit $status); the end of its log:" >&2
    grep -E "panicked at|^thread|Test unit written to|SUMMARY|ERROR:" "$log" | head -n 12 >&2 || true
    tail -n 5 "$log" >&2
  fi
  grown=$(find "$work/$t" -type f | wc -l)
  summary+=("$(printf '%-14s %8s %12s %7s %7s %8s %10s' "$t" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$crashes" "$grown")")
done

printf '%-14s %8s %12s %7s %7s %8s %10s\n' target seconds executions cov ft crashes new_inputs
printf '%s\n' "${summary[@]}"
exit "$crashed"
