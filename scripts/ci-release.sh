#!/usr/bin/env bash
# CI's release smoke test (.ci/run calls it): installs what scripts/release.sh needs, makes the
# release of Cargo.toml's version, checks each artifact as a user would use it, and checks that
# the crate `cargo package` makes, unpacked elsewhere and built with a CARGO_HOME of its own (no
# .cargo/config.toml, nothing downloaded before), gives a release of the same bytes.
# Usage: scripts/ci-release.sh      (as root on Debian: installs packages)
#   The three release builds (A: x86_64 and aarch64; B: x86_64) run side by side: each spends a
#   good part of its time in one-threaded LTO, so on 2 cores they overlap well.
#   CI_RELEASE_SERIAL=1 runs them one after the other (a shared machine).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
die() { echo "ci-release: $*" >&2; exit 1; }
step() { echo "ci-release: $* (at ${SECONDS}s)" >&2; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
target=x86_64-unknown-linux-musl
name=jwtctl-$version-$target
arm_target=aarch64-unknown-linux-musl
arm_name=jwtctl-$version-$arm_target
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)

if ! command -v musl-gcc >/dev/null 2>&1 || ! command -v qemu-aarch64-static >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq musl-tools qemu-user-static >/dev/null
fi
rustup target add "$target" "$arm_target" >/dev/null 2>&1 || die "rustup cannot add the $target and $arm_target targets"
# aarch64's C cross compiler and linker: zig, driven by cargo-zigbuild, both prebuilt on PyPI
# (Debian packages no aarch64 musl gcc). Pinned by version and hash.
python3 -m pip install --quiet --disable-pip-version-check --break-system-packages --require-hashes \
  -r scripts/release-requirements.txt || die "pip cannot install zig and cargo-zigbuild"
# The second build is of the commit's crate: uncommitted changes would make the two differ.
git diff --quiet HEAD -- || die "the working tree has uncommitted changes: commit or stash them first"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
installed() { cargo install --list | grep -qx "$1 v$2:"; }

# The cargo plugins release.sh runs, pinned, compiled from crates.io where they are missing:
# cargo-auditable (~30 s) before the builds, which run under it; cargo-cyclonedx (~3 min), which
# only the packaging step needs, beside them.
if ! installed cargo-auditable 0.7.7; then
  step "cargo install cargo-auditable"
  cargo install --locked --quiet cargo-auditable@0.7.7
fi
cyclonedx=0
if ! installed cargo-cyclonedx 0.5.9; then
  step "cargo install cargo-cyclonedx (beside the builds)"
  cargo install --locked --quiet cargo-cyclonedx@0.5.9 >"$work/cyclonedx.log" 2>&1 &
  cyclonedx=$!
  pids+=("$cyclonedx")
fi

# B: the crate as `cargo package` makes it, unpacked outside this checkout, built with an empty
# CARGO_HOME of its own (every crate downloaded afresh, no config file).
cargo package --locked --no-verify --quiet
mkdir "$work/crate" "$work/cargo-home"
tar -xzf "target/package/jwtctl-$version.crate" -C "$work/crate"
crate=$work/crate/jwtctl-$version
# B builds x86_64 only: a third build (aarch64 again) would not fit CI's time; A builds both.
build_b() {
  CARGO_HOME=$work/cargo-home JWTCTL_SRC=$crate RELEASE_TARGETS=$target scripts/release.sh "$version" "$@"
}

step "release builds: this checkout (A: x86_64 and aarch64) and the packaged crate (B: x86_64)"
if [ -n "${CI_RELEASE_SERIAL:-}" ]; then
  RELEASE_BUILD_ONLY=1 build_b "$work/b" >"$work/b.log" 2>&1 || { cat "$work/b.log" >&2; die "build B failed"; }
  RELEASE_BUILD_ONLY=1 scripts/release.sh "$version" "$work/a"
else
  # Three builds at once (A's two targets build in directories of their own): each spends a
  # good part of its time in one-threaded LTO, so the three keep both cores busy.
  RELEASE_BUILD_ONLY=1 build_b "$work/b" >"$work/b.log" 2>&1 &
  b_pid=$!
  RELEASE_BUILD_ONLY=1 RELEASE_TARGETS=$arm_target scripts/release.sh "$version" "$work/a" >"$work/arm.log" 2>&1 &
  arm_pid=$!
  pids+=("$b_pid" "$arm_pid")
  RELEASE_BUILD_ONLY=1 RELEASE_TARGETS=$target scripts/release.sh "$version" "$work/a"
  wait "$arm_pid" || { cat "$work/arm.log" >&2; die "build A for $arm_target failed"; }
  wait "$b_pid" || { cat "$work/b.log" >&2; die "build B (the packaged crate) failed"; }
fi
step "release builds done"
if [ "$cyclonedx" != 0 ]; then
  wait "$cyclonedx" || { cat "$work/cyclonedx.log" >&2; die "cargo install cargo-cyclonedx failed"; }
fi
scripts/release.sh "$version" "$work/a"
build_b "$work/b" 2>>"$work/b.log" || { cat "$work/b.log" >&2; die "release B failed"; }
a=$work/a

# The archive: the files it promises, a binary that runs, and sums that check.
(cd "$a" && sha256sum --quiet -c SHA256SUMS) || die "SHA256SUMS does not match the artifacts"
tar -tzf "$a/$name.tar.gz" | sort >"$work/listing"
for f in jwtctl README.md LICENSE SECURITY.md docs/reference.md man/man1/jwtctl.1 man/man1/jwtctl-verify.1 \
  completions/jwtctl.bash completions/_jwtctl completions/jwtctl.fish; do
  grep -qx "$name/$f" "$work/listing" || die "$name.tar.gz has no $f"
done
tar -xzf "$a/$name.tar.gz" -C "$work"
[ "$("$work/$name/jwtctl" --version)" = "jwtctl $version" ] || die "the archived jwtctl does not run"
if readelf -SW "$work/$name/jwtctl" | grep -q '\.symtab'; then die "the archived jwtctl is not stripped"; fi
bash -c "source '$work/$name/completions/jwtctl.bash' && complete -p jwtctl" >/dev/null ||
  die "the bash completion does not register for jwtctl"

# The dependency list cargo auditable embeds (what `cargo audit bin` reads): the .dep-v0
# section, zlib-compressed JSON, naming every crate built in, and kept by the strip. Read by its
# offset and size as readelf gives them (any architecture; this machine's objcopy reads x86 only).
dep_section() {
  local at
  at=$(readelf -SW "$1" | awk '{ for (i = 1; i < NF; i++) if ($i == ".dep-v0") print $(i + 3), $(i + 4) }')
  [ -n "$at" ] || return 1
  python3 - "$1" "$2" $at <<'PY'
import sys
binary, out, offset, size = sys.argv[1], sys.argv[2], int(sys.argv[3], 16), int(sys.argv[4], 16)
with open(binary, "rb") as f:
    f.seek(offset)
    open(out, "wb").write(f.read(size))
PY
}
dep_section "$work/$name/jwtctl" "$work/dep-v0" ||
  die "the archived jwtctl has no .dep-v0 section: not built with cargo auditable"
python3 - "$work/dep-v0" <<'PY' || die "the embedded dependency list does not name jwtctl's crates"
import json, sys, zlib
deps = json.loads(zlib.decompress(open(sys.argv[1], "rb").read()))
names = {p["name"] for p in deps["packages"]}
missing = {"jwtctl", "aws-lc-sys", "libsqlite3-sys", "rustls", "clap"} - names
sys.exit(f"missing: {sorted(missing)}" if missing else 0)
PY
# The SBOM: CycloneDX JSON for jwtctl, listing the crates with versions and purls.
python3 - "$a/$name.cdx.json" "$version" <<'PY' || die "the SBOM is not a CycloneDX SBOM of jwtctl"
import json, sys
bom = json.load(open(sys.argv[1]))
assert bom["bomFormat"] == "CycloneDX", bom.get("bomFormat")
main = bom["metadata"]["component"]
assert (main["name"], main["version"]) == ("jwtctl", sys.argv[2]), main
purls = {c.get("purl", "").split("@")[0] for c in bom["components"]}
for crate in ("aws-lc-sys", "libsqlite3-sys", "rustls", "clap"):
    assert f"pkg:cargo/{crate}" in purls, crate
PY
# The aarch64 release, run under qemu-user: the same files, a static, stripped aarch64 binary
# with its dependency list, that issues, verifies (HMAC and ECDSA: AWS-LC's assembly and its
# random numbers), keeps a SQLite ledger and a log that verifies; and its SBOM and arm64 package.
step "aarch64 release under qemu"
tar -tzf "$a/$arm_name.tar.gz" | sed "s|^$arm_name/||" | sort >"$work/arm-listing"
sed "s|^$name/||" "$work/listing" | cmp -s - "$work/arm-listing" ||
  die "$arm_name.tar.gz does not hold the files $name.tar.gz holds"
tar -xzf "$a/$arm_name.tar.gz" -C "$work"
arm_bin=$work/$arm_name/jwtctl
readelf -hW "$arm_bin" | grep -q 'Machine: *AArch64' || die "$arm_name's jwtctl is not an aarch64 binary"
if readelf -lW "$arm_bin" | grep -q INTERP || readelf -SW "$arm_bin" | grep -q '\.symtab'; then
  die "$arm_name's jwtctl is not static and stripped"
fi
dep_section "$arm_bin" "$work/arm-dep-v0" ||
  die "$arm_name's jwtctl has no .dep-v0 section: not built with cargo auditable"
mkdir "$work/arm-run"
# A bash of its own: set -e does not hold in a subshell on the left of ||.
ARM_BIN=$arm_bin VERSION=$version bash -euo pipefail -c '
  cd "$1"
  q() { qemu-aarch64-static "$ARM_BIN" "$@"; }
  [ "$(q --version)" = "jwtctl $VERSION" ]
  token=$(q --log-level info issue --sub ci 2>/dev/null)
  q verify -q "$token"
  q key gen --type ec --out ec.pem 2>/dev/null
  q verify -q --key-file ec.pem "$(q issue --key-file ec.pem --sub ci)"
  q ledger init --ledger ledger.db >/dev/null
  printf %s "$token" | q refresh --ledger ledger.db >/dev/null
  if printf %s "$token" | q refresh --ledger ledger.db >/dev/null 2>&1; then exit 1; fi
  q log verify 2>&1 | grep -q "log intact"
' _ "$work/arm-run" || die "the aarch64 jwtctl does not issue, verify, refresh and log under qemu"
[ -s "$a/$arm_name.cdx.json" ] || die "no SBOM for $arm_target"
[ "$(dpkg-deb -f "$a/jwtctl_${version}-1_arm64.deb" Architecture)" = arm64 ] || die "the arm64 .deb says another architecture"
cmp -s <(dpkg-deb -c "$a/jwtctl_${version}-1_amd64.deb" | awk '{print $6}') \
  <(dpkg-deb -c "$a/jwtctl_${version}-1_arm64.deb" | awk '{print $6}') ||
  die "the arm64 .deb does not hold the files the amd64 .deb holds"

# The install script CI jobs use (action.yml, docs/ci.md), against this release directory: it
# installs a binary that runs, and refuses an archive whose bytes or SHA256SUMS line are wrong.
installed=$(scripts/install-release.sh "$version" "$a" "$work/bin")
[ "$installed" = "$work/bin/jwtctl" ] && [ "$("$installed" --version)" = "jwtctl $version" ] ||
  die "install-release.sh did not install jwtctl $version"
cp -r "$a" "$work/tampered"
printf 'x' | dd of="$work/tampered/$name.tar.gz" bs=1 seek=1000 conv=notrunc status=none
if scripts/install-release.sh "$version" "$work/tampered" "$work/bin2" 2>"$work/tamper.err" ||
  ! grep -q "does not match its SHA-256" "$work/tamper.err" || [ -e "$work/bin2/jwtctl" ]; then
  die "install-release.sh installed an archive that does not match SHA256SUMS"
fi
grep -v "$name.tar.gz" "$a/SHA256SUMS" >"$work/tampered/SHA256SUMS"
if scripts/install-release.sh "$version" "$work/tampered" "$work/bin2" 2>/dev/null; then
  die "install-release.sh installed an archive that SHA256SUMS does not list"
fi

# The Debian package, installed on this machine as a user would: the binary, the man page, the
# bash completion, the service user and directories, the logrotate snippet; then purged, leaving
# nothing behind.
deb=$a/jwtctl_${version}-1_amd64.deb
if dpkg -s jwtctl >/dev/null 2>&1 || [ -e /usr/bin/jwtctl ]; then
  die "jwtctl is installed on this machine already: the package check needs a machine without it"
fi
if ! command -v man >/dev/null 2>&1 || ! command -v logrotate >/dev/null 2>&1 ||
  ! [ -f /usr/share/bash-completion/bash_completion ]; then
  apt-get update -qq && apt-get install -y -qq man-db bash-completion logrotate >/dev/null
fi
step "dpkg -i $(basename "$deb")"
dpkg -i "$deb" >/dev/null
[ "$(/usr/bin/jwtctl --version)" = "jwtctl $version" ] || die "the packaged jwtctl does not run"
[ "$(man -w jwtctl)" = /usr/share/man/man1/jwtctl.1.gz ] || die "man -w jwtctl: $(man -w jwtctl 2>&1)"
man -w jwtctl-verify >/dev/null || die "no man page for jwtctl verify"
# The completion as bash-completion loads it (on demand, by the command's name): `jwtctl ver<TAB>`.
words=$(bash -c 'source /usr/share/bash-completion/bash_completion
  __load_completion jwtctl || exit 1
  COMP_WORDS=(jwtctl ver) COMP_CWORD=1 COMP_LINE="jwtctl ver" COMP_POINT=10
  _jwtctl jwtctl ver jwtctl; echo "${COMPREPLY[*]}"') || die "bash-completion does not load jwtctl's completion"
[ "$words" = verify ] || die "the bash completion of 'jwtctl ver' gave '$words', not 'verify'"
[ -f /usr/share/zsh/vendor-completions/_jwtctl ] && [ -f /usr/share/fish/vendor_completions.d/jwtctl.fish ] ||
  die "the zsh or fish completion is missing"
getent passwd jwtctl | grep -q ':/var/lib/jwtctl:/usr/sbin/nologin$' || die "no jwtctl system user"
[ "$(stat -c '%a %U' /var/lib/jwtctl)" = "700 jwtctl" ] || die "/var/lib/jwtctl is not 0700 jwtctl"
[ "$(stat -c '%U' /var/log/jwtctl)" = jwtctl ] || die "/var/log/jwtctl is not jwtctl's"
# The service user can keep a key and a ledger and write the log where the package put them.
runuser -u jwtctl -- env -i PATH=/usr/bin:/bin HOME=/var/lib/jwtctl sh -ec '
  cd /var/lib/jwtctl
  export JWTCTL_LOG_FILE=/var/log/jwtctl/security.log
  jwtctl --log-level info issue --sub ci >/dev/null 2>&1
  jwtctl --log-level info ledger init --ledger ledger.db >/dev/null
  jwtctl log verify 2>&1 | grep -q "log intact"' || die "the jwtctl user cannot work in its directories"
[ "$(stat -c '%a %U' /var/log/jwtctl/security.log)" = "600 jwtctl" ] || die "the service's log is not 0600 jwtctl"
# The logrotate snippet is the one docs/log.md shows, and logrotate accepts it.
python3 -c 'import sys; sys.exit(open(sys.argv[1]).read() not in open(sys.argv[2]).read())' \
  /etc/logrotate.d/jwtctl docs/log.md || die "/etc/logrotate.d/jwtctl is not the snippet in docs/log.md"
if logrotate -d /etc/logrotate.d/jwtctl 2>&1 | grep -qi error; then
  die "logrotate rejects /etc/logrotate.d/jwtctl: $(logrotate -d /etc/logrotate.d/jwtctl 2>&1 | grep -i error)"
fi
# Purge: the package's files go; the directories and user stay while they hold data, and go with
# it once emptied.
step "dpkg --purge jwtctl"
dpkg --purge jwtctl >/dev/null 2>"$work/purge.err"
grep -q "kept /var/lib/jwtctl" "$work/purge.err" || die "purge did not say it kept /var/lib/jwtctl with its key"
[ -d /var/lib/jwtctl ] && getent passwd jwtctl >/dev/null || die "purge removed keys or their owner"
rm -rf /var/lib/jwtctl/* /var/log/jwtctl/*
dpkg -i "$deb" >/dev/null && dpkg --purge jwtctl >/dev/null 2>&1
for gone in /usr/bin/jwtctl /usr/share/man/man1/jwtctl.1.gz /etc/logrotate.d/jwtctl \
  /usr/share/bash-completion/completions/jwtctl /var/lib/jwtctl /var/log/jwtctl; do
  [ ! -e "$gone" ] || die "$gone is still there after dpkg --purge jwtctl"
done
! getent passwd jwtctl >/dev/null && ! getent group jwtctl >/dev/null ||
  die "the jwtctl user or group is still there after dpkg --purge jwtctl"

# The container image. The Containerfile's image laid out in an empty root and run as the
# Containerfile says (scripts/run-as-image.py: its USER, WORKDIR, ENV and ENTRYPOINT, nothing
# else in the root): it runs, issues and verifies with its key and log in the volume, and a volume
# it cannot write is exit 3 naming the log. Then the image itself, built and run by buildah
# (Debian's; no daemon) where it installs and runs.
step "container image"
ctx=$(scripts/container-context.sh "$a" "$work/ctx")
image() { scripts/run-as-image.py "$ctx" "$work/image-root" -- "$@"; }
[ "$(image --version)" = "jwtctl $version" ] || die "jwtctl does not run in the image's root"
token=$(image issue --sub ci 2>/dev/null) && image verify -q "$token" ||
  die "jwtctl cannot issue and verify in the image's root"
[ "$(stat -c '%a %u' "$work/image-root/data/jwtctl.key" "$work/image-root/data/security.log")" = \
  "$(printf '600 10001\n600 10001')" ] || die "the image's key and log are not 0600 and its user's"
status=0
scripts/run-as-image.py "$ctx" "$work/image-ro" --data-mode 755:0 -- issue --sub ci \
  >"$work/ro.out" 2>"$work/ro.err" || status=$?
[ "$status" = 3 ] && [ ! -s "$work/ro.out" ] &&
  grep -qx "jwtctl: cannot open the security log /data/security.log: permission denied; .*" "$work/ro.err" ||
  die "an unwritable volume gave exit $status: $(cat "$work/ro.err")"
if command -v buildah >/dev/null 2>&1 ||
  { apt-get update -qq && apt-get install -y -qq buildah >/dev/null 2>&1 && command -v buildah >/dev/null 2>&1; }; then
  bah() { buildah --storage-driver vfs "$@"; }
  bah bud --quiet --isolation chroot -t "localhost/jwtctl-ci:$version" "$ctx" >/dev/null
  container=$(bah from "localhost/jwtctl-ci:$version")
  ran=$(bah run --isolation chroot "$container" -- /usr/bin/jwtctl --version) || ran=
  bah rm "$container" >/dev/null && bah rmi "localhost/jwtctl-ci:$version" >/dev/null
  [ "$ran" = "jwtctl $version" ] || die "the image buildah built does not run jwtctl"
  step "buildah built and ran the image"
else
  echo "ci-release: buildah is not installable here: the image was checked in an empty root only" >&2
fi

# Reproducible: A and B, built in different directories with different CARGO_HOMEs, B from the
# packaged crate without .cargo/config.toml, give the same bytes, artifact by artifact (the
# x86_64 ones, which B builds).
git diff --quiet HEAD -- || die "the working tree changed during the run: run it again"
grep -v -e "$arm_target" -e '_arm64\.deb$' "$a/SHA256SUMS" >"$work/a-sums"
if ! cmp -s "$work/a-sums" "$work/b/SHA256SUMS"; then
  diff "$work/a-sums" "$work/b/SHA256SUMS" >&2 || true
  mkdir "$work/b-files"
  tar -xzf "$work/b/$name.tar.gz" -C "$work/b-files"
  (cd "$work" && sha256sum "$name"/* "$name"/*/* "b-files/$name"/* "b-files/$name"/*/* 2>/dev/null |
    sort -k2 | sed 's|b-files/||' | uniq -u -w64 -f1 >&2) || true
  die "two builds of the same commit differ (the files above): the release is not reproducible"
fi
[ "$("$crate/target/dist-$target/$target/release/jwtctl" --version)" = "jwtctl $version" ] ||
  die "the jwtctl built from the packaged crate does not run"
step "$name is reproducible: $(cut -c1-16 "$work/a-sums" | head -1)…"
