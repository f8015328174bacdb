#!/usr/bin/env bash
# Install a jwtctl release binary: fetch jwtctl-VERSION-TARGET.tar.gz and SHA256SUMS from SOURCE,
# refuse the archive unless its SHA-256 is the one SHA256SUMS lists for it, and put jwtctl in
# BINDIR. The GitHub action (action.yml) and the GitLab CI snippet in docs/ci.md run this.
# Usage: scripts/install-release.sh VERSION SOURCE BINDIR
#   SOURCE: the https:// address of the version's release files, or a directory holding them (as
#   scripts/release.sh makes). Needs curl for https://, sha256sum and tar. Prints the binary's path.
set -euo pipefail
die() { echo "install-release: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: install-release.sh VERSION SOURCE BINDIR"
version=$1 source=${2%/} bindir=$3
case $version in
  v*) version=${version#v} ;;
esac
case $version in
  '' | *[!0-9A-Za-z.+-]*) die "VERSION $1 is not a version (say 0.1.0)" ;;
esac
case $(uname -sm) in
  "Linux x86_64") target=x86_64-unknown-linux-musl ;;
  "Linux aarch64" | "Linux arm64") target=aarch64-unknown-linux-musl ;;
  *) die "releases are built for Linux x86_64 and aarch64, not $(uname -sm)" ;;
esac
name=jwtctl-$version-$target

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch() {
  case $source in
    https://*) curl --proto '=https' --tlsv1.2 -fsSL --retry 3 -o "$work/$1" "$source/$1" ||
      die "cannot download $source/$1" ;;
    http://* | ftp://*) die "SOURCE must be https:// (or a directory), not $source" ;;
    *) cp -- "$source/$1" "$work/$1" 2>/dev/null || die "$source/$1 does not exist" ;;
  esac
}
fetch SHA256SUMS
fetch "$name.tar.gz"
# Exactly one line must name the archive; sha256sum -c then checks its bytes.
grep -E "^[0-9a-f]{64}  $name\.tar\.gz$" "$work/SHA256SUMS" >"$work/expected" || true
[ "$(wc -l <"$work/expected")" -eq 1 ] || die "SHA256SUMS has no single line for $name.tar.gz"
(cd "$work" && sha256sum --quiet -c expected) ||
  die "$name.tar.gz does not match its SHA-256 in SHA256SUMS: refusing to install it"
tar -xzf "$work/$name.tar.gz" -C "$work" "$name/jwtctl"
mkdir -p "$bindir"
install -m 755 "$work/$name/jwtctl" "$bindir/jwtctl"
[ "$("$bindir/jwtctl" --version)" = "jwtctl $version" ] || die "$bindir/jwtctl is not jwtctl $version"
echo "$bindir/jwtctl"
