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
