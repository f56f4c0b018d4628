package peers

import (
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tweedie-recon/tweedie/rawdata/mrd"
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

// MRDTruth is the generator's noiseless coil-combined image in the MRD
// image order (x + n·y): |phantom(x, y)| · ‖csm(x, y)‖, what a SENSE
// reconstruction with maps normalised to Σ|S|² = 1 recovers up to a global
// scale. The file's phantom is [1][y][x] and csm [1][coil][y][x]
// (appendNDArray reverses ISMRMRD's dimensions).
func MRDTruth(t testing.TB, f *mrd.File) ([]float64, int) {
	t.Helper()
	pd, ph, err := f.Array("phantom")
	if err != nil {
		t.Fatal(err)
	}
	cd, csm, err := f.Array("csm")
	if err != nil {
		t.Fatal(err)
	}
	n := pd[len(pd)-1]
	if len(pd) != 3 || pd[1] != n || len(cd) != 4 || cd[2] != n || cd[3] != n {
		t.Fatalf("phantom %v, csm %v", pd, cd)
	}
	ref := make([]float64, n*n)
	for i := range ref {
		var s float64
		for c := 0; c < cd[1]; c++ {
			v := csm[c*n*n+i]
			s += float64(real(v)*real(v) + imag(v)*imag(v))
		}
		ref[i] = math.Hypot(float64(real(ph[i])), float64(imag(ph[i]))) * math.Sqrt(s)
	}
	return ref, n
}

// Correlation is the uncentred correlation ⟨a, b⟩ / (‖a‖ ‖b‖).
func Correlation(a []float64, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * float64(b[i])
		aa += a[i] * a[i]
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}
