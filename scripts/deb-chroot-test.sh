#!/usr/bin/env bash
# Installs the Debian package into a fresh Debian 12 (a debootstrap chroot,
# minbase: nothing but the required packages) and checks that everything is
# in place: the user tweedie, the conffile, the state folder, the unit, the
# ONNX Runtime library; `tweedie config check /etc/tweedie/tweedie.yaml`
# passes; `tweedie serve` on the packaged configuration starts as the user
# tweedie, answers C-ECHO and prints its summary; purging keeps the state.
# systemd does not run in a chroot, so the unit is checked, not started.
#
#   scripts/deb-chroot-test.sh [PACKAGE.deb]   (default: build one with build-deb.sh)
#
# Needs root (debootstrap, chroot, mount) and the Debian archive
# (MIRROR, default http://deb.debian.org/debian). CACHE (default
# /var/cache/tweedie-debootstrap) keeps the downloaded base packages between
# runs; KEEP=1 keeps the chroot. Not part of test.sh (minutes, root, network).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
[ "$(id -u)" -eq 0 ] || { echo "deb-chroot-test: run as root (debootstrap, chroot)" >&2; exit 2; }
mirror="${MIRROR:-http://deb.debian.org/debian}"
cache="${CACHE:-/var/cache/tweedie-debootstrap}"

work=$(mktemp -d -t tweedie-chroot.XXXXXX)
root="$work/root"
cleanup() {
  for m in dev/pts dev proc; do mountpoint -q "$root/$m" && umount -l "$root/$m"; done
  if [ -n "${KEEP:-}" ]; then echo "chroot kept in $root" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

deb="${1:-}"
if [ -z "$deb" ]; then
  deb=$(bash scripts/build-deb.sh "$work/dist" | tail -n 1)
fi
[ -f "$deb" ] || { echo "deb-chroot-test: no package $deb" >&2; exit 2; }

if ! command -v debootstrap >/dev/null; then
  step "Installing debootstrap" "it makes the fresh Debian 12 root"
  apt_update
  apt_run install --no-install-recommends debootstrap
fi
step "debootstrap bookworm (minbase) into $root" "a Debian 12 with nothing installed but the required packages; base packages cached in $cache"
mkdir -p "$cache"
debootstrap --variant=minbase --cache-dir="$cache" bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

step "apt-get install ./$(basename "$deb")" "the package and what it depends on, from $mirror"
cp "$deb" "$root/tmp/tweedie.deb"
in_root apt-get update -q > "$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log" >&2; exit 1; }
if ! in_root apt-get install -y -q /tmp/tweedie.deb > "$work/apt-install.log" 2>&1; then
  tail -n 30 "$work/apt-install.log" >&2; exit 1
fi
grep -E '^(Setting up|tweedie:|  tweedie|then start)' "$work/apt-install.log" | sed 's/^/    /' >&2

fail=0
check() { # check WHAT COMMAND...: runs COMMAND in the chroot
  local what=$1; shift
  if out=$(in_root "$@" 2>&1); then
    printf '    ok    %s\n' "$what" >&2
  else
    printf '    FAIL  %s\n%s\n' "$what" "$out" >&2; fail=1
  fi
}
step "Checks in the fresh root"
check "user and group tweedie (system)" sh -c 'id tweedie && [ "$(id -u tweedie)" -lt 1000 ] && getent group tweedie'
check "/var/lib/tweedie tweedie:tweedie 0750" sh -c '[ "$(stat -c %U:%G:%a /var/lib/tweedie)" = tweedie:tweedie:750 ]'
check "/etc/tweedie/tweedie.yaml root:tweedie 0640, a conffile" sh -c '[ "$(stat -c %U:%G:%a /etc/tweedie/tweedie.yaml)" = root:tweedie:640 ] && dpkg-query -W -f="\${Conffiles}" tweedie | grep -q /etc/tweedie/tweedie.yaml'
check "unit /lib/systemd/system/tweedie.service runs /usr/bin/tweedie as tweedie" sh -c 'grep -q "^ExecStart=/usr/bin/tweedie serve --config /etc/tweedie/tweedie.yaml" /lib/systemd/system/tweedie.service && grep -q "^User=tweedie" /lib/systemd/system/tweedie.service'
check "ONNX Runtime in /usr/lib/tweedie, its libraries resolved" sh -c 'test -f /usr/lib/tweedie/libonnxruntime.so.1 && ! ldd /usr/lib/tweedie/libonnxruntime.so.1 | grep -q "not found" && ! ldd /usr/bin/tweedie | grep -q "not found"'
step "tweedie config check /etc/tweedie/tweedie.yaml"
if in_root tweedie config check /etc/tweedie/tweedie.yaml >&2; then
  printf '    ok    config check passed\n' >&2
else
  printf '    FAIL  config check\n' >&2; fail=1
fi

step "tweedie serve as the user tweedie on the packaged configuration" "started by hand (no systemd in a chroot); C-ECHO to it"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 21112)
# The packaged file with the HTTP endpoint off (9110 may be taken on the host).
in_root sh -c 'sed "s|^  listen: 127.0.0.1:9110 |  listen: \"\"             |" /etc/tweedie/tweedie.yaml > /tmp/serve.yaml && chmod 0644 /tmp/serve.yaml'
in_root runuser -u tweedie -- tweedie serve --config /tmp/serve.yaml --listen "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
serve=$!
ok=0
for _ in $(seq 100); do
  if in_root tweedie echo "TWEEDIE@127.0.0.1:$port" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.2
done
kill "$serve" 2>/dev/null || true
wait "$serve" 2>/dev/null || true
sed 's/^/    | /' "$work/serve.log" | head -n 60 >&2
if [ $ok -eq 1 ]; then printf '    ok    serve started as tweedie and answered C-ECHO on 127.0.0.1:%s\n' "$port" >&2
else printf '    FAIL  serve did not answer C-ECHO\n' >&2; fail=1; fi
check "the node wrote its state under /var/lib/tweedie" sh -c 'ls /var/lib/tweedie | grep -q .'

step "apt-get purge tweedie" "the state and the user stay"
in_root apt-get purge -y -q tweedie > "$work/purge.log" 2>&1 || { tail -n 20 "$work/purge.log" >&2; fail=1; }
grep '^tweedie:' "$work/purge.log" | sed 's/^/    /' >&2 || true
check "/usr/bin/tweedie and /etc/tweedie/tweedie.yaml gone" sh -c '! test -e /usr/bin/tweedie && ! test -e /etc/tweedie/tweedie.yaml'
check "/var/lib/tweedie and the user tweedie kept" sh -c 'test -d /var/lib/tweedie && id tweedie'

if [ $fail -eq 0 ]; then
  step "PASS: $(basename "$deb") installs into a fresh Debian 12 and runs"
else
  step "FAIL: see the lines above"
fi
exit $fail
