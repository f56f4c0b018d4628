package peers

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// MRDGenerator is Debian ismrmrd-tools' phantom generator: a Cartesian
// Shepp–Logan acquisition with its ground truth (<group>/phantom, csm)
// stored beside it in the MRD file.
const MRDGenerator = "ismrmrd_generate_cartesian_shepp_logan"

// MRDPhantom writes a phantom MRD file with the generator's flags (-m
// matrix, -c coils, -O oversampling, -a acceleration, -w calibration lines,
// -n noise, -C noise scan, -r repetitions) and returns its path; the test
// is skipped when ismrmrd-tools is not installed (Need).
func MRDPhantom(t testing.TB, args ...string) string {
	t.Helper()
	Need(t, MRDGenerator)
	path := filepath.Join(t.TempDir(), "phantom.h5")
	cmd := exec.Command(MRDGenerator, append(args, "-o", path)...)
	cmd.Dir = t.TempDir() // it also writes a reconstructed image there
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", MRDGenerator, strings.Join(args, " "), err, out)
	}
	return path
}
