#!/usr/bin/env bash
# Lay out the build context of the Containerfile from a release directory (scripts/release.sh's):
# CONTEXT/Containerfile, CONTEXT/rootfs (the image's files: /usr/bin/jwtctl from the release
# archive, /etc/ssl/certs/ca-certificates.crt from this machine's ca-certificates, /etc/passwd and
# /etc/group naming the jwtctl user, 10001) and CONTEXT/data (the volume's initial /data, 0700).
# Usage: scripts/container-context.sh RELEASE_DIR CONTEXT [TARGET]
#   TARGET: x86_64-unknown-linux-musl (the default) or aarch64-unknown-linux-musl (for an arm64
#   image: podman build --arch arm64). The archive is checked against RELEASE_DIR/SHA256SUMS
#   first. Needs ca-certificates.
set -euo pipefail
die() { echo "container-context: $*" >&2; exit 1; }
[ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: scripts/container-context.sh RELEASE_DIR CONTEXT [TARGET]"
root=$(cd "$(dirname "$0")/.." && pwd)
release=$(cd "$1" && pwd) ctx=$2
target=${3:-x86_64-unknown-linux-musl}
case $target in
  x86_64-unknown-linux-musl | aarch64-unknown-linux-musl) ;;
  *) die "TARGET $target is not a release target (x86_64-unknown-linux-musl, aarch64-unknown-linux-musl)" ;;
esac
archive=$(cd "$release" && ls jwtctl-*-"$target".tar.gz 2>/dev/null | head -1)
[ -n "$archive" ] || die "$release holds no jwtctl-VERSION-$target.tar.gz"
(cd "$release" && grep -E "  $archive\$" SHA256SUMS | sha256sum --quiet -c -) ||
  die "$archive does not match $release/SHA256SUMS"
certs=/etc/ssl/certs/ca-certificates.crt
[ -s "$certs" ] || die "$certs is missing: apt-get install ca-certificates"

rm -rf "$ctx"
mkdir -p "$ctx/rootfs/usr/bin" "$ctx/rootfs/etc/ssl/certs" "$ctx/data"
tar -xzOf "$release/$archive" "${archive%.tar.gz}/jwtctl" >"$ctx/rootfs/usr/bin/jwtctl"
chmod 755 "$ctx/rootfs/usr/bin/jwtctl"
install -m 644 "$certs" "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\njwtctl:x:10001:10001:jwtctl:/data:/sbin/nologin\n' \
  >"$ctx/rootfs/etc/passwd"
printf 'root:x:0:\njwtctl:x:10001:\n' >"$ctx/rootfs/etc/group"
chmod 644 "$ctx/rootfs/etc/passwd" "$ctx/rootfs/etc/group"
chmod 700 "$ctx/data"
install -m 644 "$root/Containerfile" "$ctx/Containerfile"
echo "$ctx"
