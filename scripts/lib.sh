# Sourced by the scripts: numbered steps with the time since the first
# script of a run started, and apt-get with a progress line instead of
# silence. Everything goes to stderr, so a script's own output stays clean.

# The clock starts with the outermost script; nested scripts inherit it.
export TWEEDIE_T0="${TWEEDIE_T0:-$(date +%s)}"

# elapsed prints the time since TWEEDIE_T0, e.g. "1m07s".
elapsed() {
  local s=$(($(date +%s) - TWEEDIE_T0))
  if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

# step WHAT [WHY]: one line per step, "==> [12s] WHAT: WHY".
step() {
  if [ $# -ge 2 ]; then
    printf '==> [%s] %s: %s\n' "$(elapsed)" "$1" "$2" >&2
  else
    printf '==> [%s] %s\n' "$(elapsed)" "$1" >&2
  fi
}

# note TEXT: a detail under the current step.
note() { printf '    %s\n' "$*" >&2; }

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

# apt_log sets TWEEDIE_APT_LOG, where apt-get's whole output goes (one file
# per run). It must run in the script's own shell, not in $(...): there the
# variable would not survive and each apt-get would get a new file.
apt_log() {
  if [ -z "${TWEEDIE_APT_LOG:-}" ]; then
    TWEEDIE_APT_LOG=$(mktemp -t tweedie-apt.XXXXXX.log)
    export TWEEDIE_APT_LOG
  fi
}

# apt_run ARGS...: runs `apt-get ARGS`, its whole output appended to the
# log, and shows one progress line: updated in place on a terminal, a line
# per package set up otherwise (CI logs). On failure the end of the log is
# printed.
apt_run() {
  local log n=0 line rc
  apt_log
  log=$TWEEDIE_APT_LOG
  note "apt-get $* (whole output: $log)"
  set +e
  $SUDO apt-get -y -o Dpkg::Use-Pty=0 "$@" 2>&1 | tee -a "$log" | while IFS= read -r line; do
    case "$line" in
      Get:*|Hit:*|"Setting up "*|Unpacking*)
        n=$((n + 1))
        if [ -t 2 ]; then
          printf '\r    [%s] %-70.70s' "$(elapsed)" "$line" >&2
        elif [[ $line == "Setting up "* ]]; then
          printf '    [%s] %s\n' "$(elapsed)" "$line" >&2
        fi ;;
    esac
  done
  rc=${PIPESTATUS[0]}
  set -e
  [ -t 2 ] && printf '\r%-80s\r' '' >&2
  if [ "$rc" -ne 0 ]; then
    echo "apt-get $* failed (exit $rc); the end of $log:" >&2
    tail -n 30 "$log" >&2
    return "$rc"
  fi
}

# apt_update: `apt-get update` once per run.
apt_update() {
  [ -n "${TWEEDIE_APT_UPDATED:-}" ] && return 0
  apt_run update
  export TWEEDIE_APT_UPDATED=1
}

# missing_pkgs PKG...: prints those of the packages not installed.
missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf '%s\n' "$p"
  done
}
