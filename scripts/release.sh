#!/usr/bin/env bash
# Release artifacts for one version: a static, stripped x86_64-unknown-linux-musl jwtctl, and
# jwtctl-VERSION-TARGET.tar.gz holding it with its man pages, bash/zsh/fish completions, README,
# LICENSE and SECURITY.md; a Debian package of the same files (packaging/deb); SHA256SUMS over
# every artifact. Reproducible: the same commit gives the
# same bytes in any directory (times from SOURCE_DATE_EPOCH, the build paths remapped in Rust and
# C, tar entries sorted with fixed owners, modes and times). scripts/ci-release.sh checks that.
# Usage: scripts/release.sh VERSION [OUT_DIR]      (OUT_DIR defaults to target/dist/VERSION)
#   VERSION must be Cargo.toml's. SOURCE_DATE_EPOCH defaults to the last commit's time.
#   Needs: rustup target add x86_64-unknown-linux-musl; apt-get install musl-tools.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
die() { echo "release: $*" >&2; exit 1; }

version=${1:-}
crate_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || die "usage: scripts/release.sh VERSION [OUT_DIR] (VERSION: $crate_version)"
[ "$version" = "$crate_version" ] ||
  die "VERSION $version is not Cargo.toml's version $crate_version: bump Cargo.toml first"
target=x86_64-unknown-linux-musl
out=${2:-$root/target/dist/$version}
name=jwtctl-$version-$target

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null) ||
    die "not a git checkout: set SOURCE_DATE_EPOCH (the release's time, in seconds)"
fi
export SOURCE_DATE_EPOCH
command -v musl-gcc >/dev/null || die "musl-gcc is missing: apt-get install musl-tools"
rustup target list --installed 2>/dev/null | grep -qx "$target" ||
  die "the $target target is missing: rustup target add $target"

# Paths that would otherwise land in the binary (panic locations, C __FILE__ in AWS-LC's error
# strings) are rewritten to fixed ones: this checkout, its target dir and cargo's sources.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
remap="--remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$root=/jwtctl"
unset CARGO_ENCODED_RUSTFLAGS RUSTC_WRAPPER
export RUSTFLAGS="$remap"
export CFLAGS_x86_64_unknown_linux_musl="-ffile-prefix-map=$cargo_home=/cargo -ffile-prefix-map=$root=/jwtctl"
# A target dir of its own: these flags would otherwise rebuild target/'s musl build each time.
export CARGO_TARGET_DIR=$root/target/dist-build CARGO_PROFILE_RELEASE_STRIP=symbols
cargo build --locked --release --target "$target"
bin=$CARGO_TARGET_DIR/$target/release/jwtctl

# Fully static: no program interpreter and no shared library needed.
if readelf -lW "$bin" | grep -q 'INTERP' || readelf -dW "$bin" | grep -q '(NEEDED)'; then
  die "$bin is not statically linked"
fi
[ "$("$bin" --version)" = "jwtctl $version" ] || die "$bin --version does not say jwtctl $version"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir=$stage/$name
mkdir -p "$dir/man/man1" "$dir/completions"
install -m 755 "$bin" "$dir/jwtctl"
"$bin" man --dir "$dir/man/man1" 2>/dev/null
"$bin" completions bash >"$dir/completions/jwtctl.bash"
"$bin" completions zsh >"$dir/completions/_jwtctl"
"$bin" completions fish >"$dir/completions/jwtctl.fish"
install -m 644 README.md LICENSE SECURITY.md "$dir/"
chmod -R u=rwX,go=rX "$dir"

mkdir -p "$out"
rm -f "$out/$name.tar.gz" "$out"/*.deb "$out/SHA256SUMS"
tar --sort=name --format=gnu --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  -C "$stage" -cf - "$name" | gzip -9n >"$out/$name.tar.gz"

# The Debian package, from the same files: the static binary runs on any Debian release, so the
# package depends only on passwd (useradd, for the jwtctl user). Built with dpkg-deb, which every
# Debian has, rather than cargo-deb, which CI would have to compile first.
deb=$stage/deb
docdir=$deb/usr/share/doc/jwtctl
install -d -m 755 "$deb/DEBIAN" "$deb/usr/bin" "$deb/usr/share/man/man1" "$docdir" \
  "$deb/usr/share/bash-completion/completions" "$deb/usr/share/zsh/vendor-completions" \
  "$deb/usr/share/fish/vendor_completions.d" "$deb/etc/logrotate.d"
install -m 755 "$dir/jwtctl" "$deb/usr/bin/jwtctl"
for page in "$dir"/man/man1/*.1; do
  gzip -9n <"$page" >"$deb/usr/share/man/man1/$(basename "$page").gz"
done
install -m 644 "$dir/completions/jwtctl.bash" "$deb/usr/share/bash-completion/completions/jwtctl"
install -m 644 "$dir/completions/_jwtctl" "$deb/usr/share/zsh/vendor-completions/_jwtctl"
install -m 644 "$dir/completions/jwtctl.fish" "$deb/usr/share/fish/vendor_completions.d/jwtctl.fish"
install -m 644 packaging/deb/jwtctl.logrotate "$deb/etc/logrotate.d/jwtctl"
install -m 644 LICENSE "$docdir/copyright"
gzip -9n <README.md >"$docdir/README.md.gz"
install -m 755 packaging/deb/postinst packaging/deb/postrm "$deb/DEBIAN/"
echo /etc/logrotate.d/jwtctl >"$deb/DEBIAN/conffiles"
{
  echo "Package: jwtctl"
  echo "Version: $version-1"
  echo "Architecture: amd64"
  echo "Maintainer: The jwtctl developers <jwtctl@example.org>"
  echo "Installed-Size: $(find "$deb" -path "$deb/DEBIAN" -prune -o -type f -printf '%s\n' |
    awk '{ kib += int(($1 + 1023) / 1024) } END { print kib }')"
  echo "Depends: passwd"
  echo "Suggests: bash-completion, logrotate"
  echo "Section: utils"
  echo "Priority: optional"
  echo "Description: $(sed -n 's/^description = "\(.*\)"$/\1/p' Cargo.toml)"
  echo " jwtctl issues, verifies, refreshes and revokes JWTs for shell scripts, operators and CI"
  echo " jobs, and records every operation and failure in a hash-chained security log."
} >"$deb/DEBIAN/control"
chmod 644 "$deb/DEBIAN/control" "$deb/DEBIAN/conffiles"
find "$deb" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
debfile=jwtctl_${version}-1_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$deb" "$out/$debfile" >/dev/null

(cd "$out" && sha256sum -- *.tar.gz *.deb >SHA256SUMS)
echo "release: $out" >&2
(cd "$out" && ls -l -- * >&2)
