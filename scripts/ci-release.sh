#!/usr/bin/env bash
# CI's release smoke test (.ci/run calls it): installs what scripts/release.sh needs, makes the
# release of Cargo.toml's version, checks each artifact, and checks the release is reproducible
# by building the committed tree again in another directory and comparing the bytes.
# Usage: scripts/ci-release.sh      (as root on Debian: installs packages; takes ~2 release builds)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
die() { echo "ci-release: $*" >&2; exit 1; }
step() { echo "ci-release: $* (at ${SECONDS}s)" >&2; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
target=x86_64-unknown-linux-musl
name=jwtctl-$version-$target
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)

if ! command -v musl-gcc >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq musl-tools >/dev/null
fi
rustup target add "$target" >/dev/null 2>&1 || die "rustup cannot add the $target target"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step "release build"
scripts/release.sh "$version" "$work/a"
step "release build done"
a=$work/a

# The archive: the files it promises, a binary that runs, and sums that check.
(cd "$a" && sha256sum --quiet -c SHA256SUMS) || die "SHA256SUMS does not match the artifacts"
tar -tzf "$a/$name.tar.gz" | sort >"$work/listing"
for f in jwtctl README.md LICENSE SECURITY.md man/man1/jwtctl.1 man/man1/jwtctl-verify.1 \
  completions/jwtctl.bash completions/_jwtctl completions/jwtctl.fish; do
  grep -qx "$name/$f" "$work/listing" || die "$name.tar.gz has no $f"
done
tar -xzf "$a/$name.tar.gz" -C "$work"
[ "$("$work/$name/jwtctl" --version)" = "jwtctl $version" ] || die "the archived jwtctl does not run"
if readelf -SW "$work/$name/jwtctl" | grep -q '\.symtab'; then die "the archived jwtctl is not stripped"; fi
bash -c "source '$work/$name/completions/jwtctl.bash' && complete -p jwtctl" >/dev/null ||
  die "the bash completion does not register for jwtctl"

# Reproducible: the committed tree, unpacked elsewhere, with its own target dir (nothing compiled
# is shared; only cargo's downloaded sources are), the same SOURCE_DATE_EPOCH, gives the same bytes.
step "second release build, in another directory"
mkdir "$work/b-src"
git archive --format=tar HEAD | tar -x -C "$work/b-src"
"$work/b-src/scripts/release.sh" "$version" "$work/b"
step "second release build done"
rm -rf "$work/b-src"
if ! cmp -s "$a/SHA256SUMS" "$work/b/SHA256SUMS"; then
  diff "$a/SHA256SUMS" "$work/b/SHA256SUMS" >&2 || true
  die "two builds of the same commit differ: the release is not reproducible"
fi
echo "ci-release: $name is reproducible: $(cut -c1-16 "$a/SHA256SUMS" | head -1)…" >&2
