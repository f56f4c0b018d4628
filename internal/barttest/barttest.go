// Package barttest runs the BART toolbox (mrirecon/bart) from tests that
// compare tweedie's numerics with it: the FFT, ESPIRiT and the .cfl
// format. Without bart on PATH a test is skipped, unless CI is set, where a
// missing bart is a failure (scripts/install-deps.sh installs it).
package barttest

import (
	"os"
	"os/exec"
	"testing"
)

// Path returns the bart executable, skipping the test when bart is not on
// PATH and CI is unset (on CI a missing bart is a failure).
func Path(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("bart")
	if err != nil {
		if os.Getenv("CI") == "" {
			tb.Skip("bart not on PATH")
		}
		tb.Fatalf("bart not on PATH (CI is set): %v", err)
	}
	return p
}

// Run runs bart with args in dir and fails the test on error.
func Run(tb testing.TB, dir string, args ...string) {
	tb.Helper()
	cmd := exec.Command(Path(tb), args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("bart %v: %v\n%s", args, err, out)
	}
}

// RunExe runs an executable with args in dir with OMP_NUM_THREADS=2 and
// fails the test on error.
func RunExe(tb testing.TB, dir, exe string, args ...string) {
	tb.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=2")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %v: %v\n%s", exe, args, err, out)
	}
}
