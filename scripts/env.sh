# Sourced by the run and test scripts: puts a Go toolchain on PATH where
# install-deps.sh left one, and lets it fetch the version go.mod names.
for d in /usr/local/go/bin /usr/lib/go-1.23/bin; do
  case ":$PATH:" in *":$d:"*) ;; *) [ -x "$d/go" ] && PATH="$PATH:$d" ;; esac
done
export PATH
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
