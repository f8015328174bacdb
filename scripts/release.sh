#!/usr/bin/env bash
# Release artifacts for one version, for each target (x86_64- and aarch64-unknown-linux-musl): a
# static, stripped jwtctl, and jwtctl-VERSION-TARGET.tar.gz holding it with its man pages,
# bash/zsh/fish completions, README, docs/, LICENSE and SECURITY.md; a Debian package of the same files
# (packaging/deb; amd64 and arm64); a CycloneDX SBOM per target (cargo cyclonedx) and the
# dependency list embedded in each binary (cargo auditable, so `cargo audit bin` can check a
# deployed binary); the install script CI jobs use; SHA256SUMS over them.
# Reproducible: the same commit gives the same bytes in any directory, with any CARGO_HOME (times
# from SOURCE_DATE_EPOCH, build paths remapped in Rust, C and the SBOM, tar entries sorted with
# fixed owners, modes and times). scripts/ci-release.sh checks that.
# Usage: scripts/release.sh VERSION [OUT_DIR]      (OUT_DIR defaults to target/dist/VERSION)
#   VERSION must be Cargo.toml's. SOURCE_DATE_EPOCH defaults to the last commit's time.
#   JWTCTL_SRC=DIR builds the sources in DIR (an unpacked `cargo package` crate) instead of this
#   checkout; RELEASE_BUILD_ONLY=1 stops after the build (CI runs two builds side by side);
#   RELEASE_TARGETS="TARGET ..." builds those targets only (default: both).
#   Needs: cargo install --locked cargo-auditable@0.7.7 cargo-cyclonedx@0.5.9. For x86_64:
#   rustup target add x86_64-unknown-linux-musl; apt-get install musl-tools. For aarch64: rustup
#   target add aarch64-unknown-linux-musl; pip install ziglang cargo-zigbuild (the C cross compiler
#   and linker: Debian packages no aarch64 musl gcc); apt-get install qemu-user-static (to run the
#   binary for its checks, man pages and completions). scripts/ci-release.sh installs all of these.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=$(cd "${JWTCTL_SRC:-$root}" && pwd)
die() { echo "release: $*" >&2; exit 1; }
# The build settings .cargo/config.toml gives a checkout's builds ([env]: AWS-LC's entropy source,
# SQLite's features), exported so that a build outside the checkout (JWTCTL_SRC), which cargo
# gives no config file, is built the same way.
eval "$(python3 - "$root/.cargo/config.toml" <<'PY'
import shlex, sys, tomllib
for key, value in tomllib.load(open(sys.argv[1], "rb")).get("env", {}).items():
    print(f"export {key}={shlex.quote(str(value))}")
PY
)"
cd "$src"

version=${1:-}
crate_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || die "usage: scripts/release.sh VERSION [OUT_DIR] (VERSION: $crate_version)"
[ "$version" = "$crate_version" ] ||
  die "VERSION $version is not Cargo.toml's version $crate_version: bump Cargo.toml first"
targets=${RELEASE_TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl}
out=${2:-$src/target/dist/$version}

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct 2>/dev/null) ||
    die "not a git checkout: set SOURCE_DATE_EPOCH (the release's time, in seconds)"
fi
export SOURCE_DATE_EPOCH
need() {
  cargo "$1" --help >/dev/null 2>&1 ||
    die "cargo $1 is missing: cargo install --locked cargo-$1 (versions: scripts/ci-release.sh)"
}
need auditable
for target in $targets; do
  rustup target list --installed 2>/dev/null | grep -qx "$target" ||
    die "the $target target is missing: rustup target add $target"
  case $target in
    x86_64-unknown-linux-musl)
      command -v musl-gcc >/dev/null || die "musl-gcc is missing: apt-get install musl-tools" ;;
    aarch64-unknown-linux-musl)
      command -v cargo-zigbuild >/dev/null && { command -v zig >/dev/null || python3 -m ziglang version >/dev/null 2>&1; } ||
        die "cargo-zigbuild or zig is missing: pip install ziglang cargo-zigbuild (versions: scripts/ci-release.sh)"
      command -v qemu-aarch64-static >/dev/null || [ "$(uname -m)" = aarch64 ] ||
        die "qemu-aarch64-static is missing: apt-get install qemu-user-static" ;;
    *) die "no release recipe for $target (RELEASE_TARGETS takes x86_64-unknown-linux-musl, aarch64-unknown-linux-musl)" ;;
  esac
done

# Runs a target's binary on this machine: directly for the host's architecture, under qemu-user
# for another.
run() {
  local target=$1 bin=$2
  shift 2
  if [ "${target%%-*}" = "$(uname -m)" ]; then "$bin" "$@"; else "qemu-${target%%-*}-static" "$bin" "$@"; fi
}

# Paths that would otherwise land in the binary (panic locations, C __FILE__ in AWS-LC's error
# strings) are rewritten to fixed ones: the sources, their target dir and cargo's sources.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
remap="--remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$src=/jwtctl"
unset CARGO_ENCODED_RUSTFLAGS RUSTC_WRAPPER
export RUSTFLAGS="$remap"
# A target dir of its own per target: these flags would otherwise rebuild target/'s musl build
# each time, and two targets' builds can run at once (scripts/ci-release.sh does) only in
# directories of their own, since both build their build scripts for the host.
export CARGO_PROFILE_RELEASE_STRIP=symbols
target_dir() { echo "$src/target/dist-$1"; }
binary() { echo "$(target_dir "$1")/$1/release/jwtctl"; }
for target in $targets; do
  export CARGO_TARGET_DIR
  CARGO_TARGET_DIR=$(target_dir "$target")
  export "CFLAGS_${target//-/_}=-ffile-prefix-map=$cargo_home=/cargo -ffile-prefix-map=$src=/jwtctl"
  case $target in
    # zig is the C compiler and linker for aarch64; cargo-auditable (0.7.3 and later) runs the
    # build through cargo-zigbuild when CARGO names it.
    aarch64-*) CARGO=cargo-zigbuild cargo-auditable auditable build --locked --release --target "$target" ;;
    *) cargo auditable build --locked --release --target "$target" ;;
  esac
  bin=$(binary "$target")
  # Fully static: no program interpreter and no shared library needed.
  if readelf -lW "$bin" | grep -q 'INTERP' || readelf -dW "$bin" | grep -q '(NEEDED)'; then
    die "$bin is not statically linked"
  fi
  [ "$(run "$target" "$bin" --version)" = "jwtctl $version" ] ||
    die "$bin --version does not say jwtctl $version"
done
if [ -n "${RELEASE_BUILD_ONLY:-}" ]; then exit 0; fi
need cyclonedx

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out"
rm -f "$out"/*.tar.gz "$out"/*.deb "$out"/*.cdx.json "$out/install-release.sh" "$out/SHA256SUMS"

# One target's archive, Debian package and SBOM.
package() {
  local target=$1 arch=$2
  local name=jwtctl-$version-$target
  local bin
  bin=$(binary "$target")
  local dir=$stage/$name
  mkdir -p "$dir/man/man1" "$dir/completions"
  install -m 755 "$bin" "$dir/jwtctl"
  run "$target" "$bin" man --dir "$dir/man/man1" 2>/dev/null
  run "$target" "$bin" completions bash >"$dir/completions/jwtctl.bash"
  run "$target" "$bin" completions zsh >"$dir/completions/_jwtctl"
  run "$target" "$bin" completions fish >"$dir/completions/jwtctl.fish"
  install -m 644 README.md LICENSE SECURITY.md "$dir/"
  install -D -m 644 -t "$dir/docs" docs/*.md # the reference and the pages the README links
  chmod -R u=rwX,go=rX "$dir"
  tar --sort=name --format=gnu --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    -C "$stage" -cf - "$name" | gzip -9n >"$out/$name.tar.gz"

  # The Debian package, from the same files: the static binary runs on any Debian release, so the
  # package depends only on passwd (useradd, for the jwtctl user). Built with dpkg-deb, which every
  # Debian has, rather than cargo-deb, which CI would have to compile first.
  local deb=$stage/deb-$arch
  local docdir=$deb/usr/share/doc/jwtctl
  install -d -m 755 "$deb/DEBIAN" "$deb/usr/bin" "$deb/usr/share/man/man1" "$docdir" \
    "$deb/usr/share/bash-completion/completions" "$deb/usr/share/zsh/vendor-completions" \
    "$deb/usr/share/fish/vendor_completions.d" "$deb/etc/logrotate.d"
  install -m 755 "$dir/jwtctl" "$deb/usr/bin/jwtctl"
  local page
  for page in "$dir"/man/man1/*.1; do
    gzip -9n <"$page" >"$deb/usr/share/man/man1/$(basename "$page").gz"
  done
  install -m 644 "$dir/completions/jwtctl.bash" "$deb/usr/share/bash-completion/completions/jwtctl"
  install -m 644 "$dir/completions/_jwtctl" "$deb/usr/share/zsh/vendor-completions/_jwtctl"
  install -m 644 "$dir/completions/jwtctl.fish" "$deb/usr/share/fish/vendor_completions.d/jwtctl.fish"
  install -m 644 "$root/packaging/deb/jwtctl.logrotate" "$deb/etc/logrotate.d/jwtctl"
  install -m 644 LICENSE "$docdir/copyright"
  gzip -9n <README.md >"$docdir/README.md.gz"
  install -d -m 755 "$docdir/docs"
  local doc
  for doc in docs/*.md; do gzip -9n <"$doc" >"$docdir/docs/$(basename "$doc").gz"; done
  install -m 755 "$root/packaging/deb/postinst" "$root/packaging/deb/postrm" "$deb/DEBIAN/"
  echo /etc/logrotate.d/jwtctl >"$deb/DEBIAN/conffiles"
  {
    echo "Package: jwtctl"
    echo "Version: $version-1"
    echo "Architecture: $arch"
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
  dpkg-deb --root-owner-group -Zxz --build "$deb" "$out/jwtctl_${version}-1_$arch.deb" >/dev/null

  # The SBOM: every crate in the release build with its version, license and checksum. Its serial
  # number and time come from the binary and SOURCE_DATE_EPOCH, so it is reproducible too.
  cargo cyclonedx --quiet --format json --target "$target" --override-filename jwtctl.cdx
  python3 - "$src/jwtctl.cdx.json" "$out/$name.cdx.json" "$dir/jwtctl" "$src" <<'PY'
import datetime, hashlib, json, os, sys, uuid
source, dest, binary, src = sys.argv[1:]
# jwtctl's own references name its directory (path+file:///...): rewritten as the build's paths are.
bom = json.loads(open(source).read().replace("file://" + src, "file:///jwtctl"))
os.remove(source)
digest = hashlib.sha256(open(binary, "rb").read()).hexdigest()
bom["serialNumber"] = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "jwtctl:sha256:" + digest))
epoch = int(os.environ["SOURCE_DATE_EPOCH"])
bom.setdefault("metadata", {})["timestamp"] = datetime.datetime.fromtimestamp(
    epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
json.dump(bom, open(dest, "w"), indent=2)
PY
}
for target in $targets; do
  case $target in
    x86_64-*) package "$target" amd64 ;;
    aarch64-*) package "$target" arm64 ;;
  esac
done
install -m 755 "$root/scripts/install-release.sh" "$out/install-release.sh"

(cd "$out" && sha256sum -- *.tar.gz *.deb *.cdx.json install-release.sh >SHA256SUMS)
echo "release: $out" >&2
(cd "$out" && ls -l -- * >&2)
