package rawdata

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Dciodvfy runs dicom3tools' validator and returns its "Error" lines (its
// exit status is unreliable; it reports on stderr).
func Dciodvfy(t *testing.T, path string) []string {
	t.Helper()
	if _, err := exec.LookPath("dciodvfy"); err != nil {
		t.Skip("dciodvfy not installed (scripts/install-deps.sh)")
	}
	out, _ := exec.Command("dciodvfy", path).CombinedOutput()
	var errs []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Error") {
			errs = append(errs, l)
		}
	}
	t.Logf("dciodvfy %s:\n%s", filepath.Base(path), out)
	return errs
}

func TestMRRawDataPassesDciodvfy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.dcm")
	if err := WriteMR(path, sampleMR()); err != nil {
		t.Fatal(err)
	}
	if errs := Dciodvfy(t, path); len(errs) > 0 {
		t.Errorf("dciodvfy errors:\n%s", strings.Join(errs, "\n"))
	}
}
