#!/usr/bin/env bash
# Builds the Debian package tweedie_<version>_amd64.deb with dpkg-deb (part
# of every Debian system: no packaging tool to install) into OUT (default
# dist/):
#
#   /usr/bin/tweedie                      the binary (score models embedded)
#   /usr/lib/tweedie/libonnxruntime.so.1  ONNX Runtime, CPU build (install-onnxruntime.sh)
#   /lib/systemd/system/tweedie.service   systemd/tweedie.service, ExecStart in /usr/bin; not enabled
#   /etc/tweedie/tweedie.yaml             conffile: conf/tweedie.example.yaml with
#                                         state_dir /var/lib/tweedie and log.format json
#   /var/lib/tweedie                      the state, owned by the system user tweedie (postinst)
#   /usr/share/doc/tweedie/               README.md, copyright, changelog.gz
#   /usr/share/lintian/overrides/tweedie  why lintian's remaining errors do not apply
#
# The maintainer scripts, the copyright file and the lintian overrides are
# in packaging/deb/. DEB_MAINTAINER sets the Maintainer field.
# Check the result with `lintian --fail-on error OUT/*.deb` (test.sh does) and
# install it into a fresh Debian 12 with scripts/deb-chroot-test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/env.sh
out="${1:-dist}"
# DEB_MAINTAINER names who answers for the package you build.
maintainer="${DEB_MAINTAINER:-tweedie maintainers <tweedie-recon@users.noreply.github.com>}"
mkdir -p "$out"
out=$(cd "$out" && pwd)

if git rev-parse --git-dir >/dev/null 2>&1; then
  export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"
  version="0.1.0+git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d).$(git rev-parse --short=8 HEAD)"
  commit=$(git rev-parse HEAD)
else
  export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(date +%s)}"
  version="0.1.0"
  commit="unknown"
fi
step "Debian package tweedie $version" "into $out"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"

# The ordinary build flags, so that the build cache of the tests serves
# (-trimpath or -buildmode=pie recompile everything: minutes on 2 cores).
step "go build (stripped)" "/usr/bin/tweedie"
install -d "$root/usr/bin"
CGO_ENABLED=1 go build -ldflags="-s -w" -o "$root/usr/bin/tweedie" ./cmd/tweedie

step "ONNX Runtime library" "/usr/lib/tweedie/libonnxruntime.so.1 (tweedie looks there when /usr/local/lib/tweedie has none)"
ort_dir="${ORT_DIR:-/usr/local/lib/tweedie}"
DEST="$ort_dir" bash scripts/install-onnxruntime.sh
install -d "$root/usr/lib/tweedie"
install -m 0644 "$ort_dir/libonnxruntime.so.1" "$root/usr/lib/tweedie/libonnxruntime.so.1"

step "systemd unit, configuration, state folder, documentation"
install -d "$root/lib/systemd/system"
sed 's|/usr/local/bin/tweedie|/usr/bin/tweedie|g' systemd/tweedie.service > "$root/lib/systemd/system/tweedie.service"
chmod 0644 "$root/lib/systemd/system/tweedie.service"
if grep -q /usr/local "$root/lib/systemd/system/tweedie.service"; then
  echo "build-deb: the unit still names /usr/local" >&2; exit 1
fi

install -d "$root/etc/tweedie"
{
  echo "# Installed by the tweedie Debian package. It differs from the built-in"
  echo "# defaults in node.state_dir (/var/lib/tweedie) and log.format (json, for"
  echo "# journald); everything else below is the default."
  echo "#"
  sed -e 's|^\(  state_dir: \)tweedie-state\( *\)|\1/var/lib/tweedie\2|' \
      -e 's|^\(  format: \)console\( *\)|\1json   \2|' conf/tweedie.example.yaml
} > "$root/etc/tweedie/tweedie.yaml"
chmod 0640 "$root/etc/tweedie/tweedie.yaml"
grep -q '^  state_dir: /var/lib/tweedie' "$root/etc/tweedie/tweedie.yaml" &&
  grep -q '^  format: json' "$root/etc/tweedie/tweedie.yaml" || {
  echo "build-deb: conf/tweedie.example.yaml no longer has the state_dir or log.format lines this script edits" >&2; exit 1; }
"$root/usr/bin/tweedie" config check "$root/etc/tweedie/tweedie.yaml" >/dev/null

install -d -m 0750 "$root/var/lib/tweedie"

doc="$root/usr/share/doc/tweedie"
install -d "$doc"
install -m 0644 README.md "$doc/README.md"
install -m 0644 packaging/deb/copyright "$doc/copyright"
printf 'tweedie (%s) bookworm; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
  "$version" "$commit" "$maintainer" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")" | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
install -d "$root/usr/share/lintian/overrides"
install -m 0644 packaging/deb/lintian-overrides "$root/usr/share/lintian/overrides/tweedie"

step "Control files"
install -d "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@SIZE@|$size|" -e "s|@MAINTAINER@|$maintainer|" packaging/deb/control.in > "$root/DEBIAN/control"
echo /etc/tweedie/tweedie.yaml > "$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "packaging/deb/$s" "$root/DEBIAN/$s"; done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb="$out/tweedie_${version}_amd64.deb"
# gzip: xz takes a minute and a half more on 2 cores for 20% less.
dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >/dev/null
step "Built $deb ($(du -h "$deb" | cut -f1))"
echo "$deb"
