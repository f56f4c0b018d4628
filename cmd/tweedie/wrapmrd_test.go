package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tweedie-recon/tweedie/internal/peers"
	"github.com/tweedie-recon/tweedie/num/array"
	"github.com/tweedie-recon/tweedie/rawdata"
	"github.com/tweedie-recon/tweedie/rawdata/mrd"
)

// TestWrapISMRMRD: `tweedie wrap mr --ismrmrd` on a phantom of Debian's
// ISMRMRD generator (R = 2 with 24 ACS lines: two interleaved repetitions)
// writes one raw-data instance per repetition into the folder, each the
// library's conversion of the file (rawdata/mrd's tests measure the
// images against the phantom), free of dciodvfy errors, with the
// patient ID given on the command line; `tweedie recon` reconstructs them.
// Mixed or missing inputs and a non-Cartesian file exit non-zero with the
// reason.
func TestWrapISMRMRD(t *testing.T) {
	phantom := peers.MRDPhantom(t, "-m", "64", "-c", "4", "-O", "2", "-a", "2", "-w", "24", "-C", "-n", "0.01")
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	out := mustRun(t, "wrap", "mr", "--ismrmrd", phantom, "--out", p("raw"), "--patient-id", "MRD-1")
	raws, _ := filepath.Glob(p("raw/*.dcm"))
	if len(raws) != 2 || !strings.Contains(out, "series 2") || !strings.Contains(out, "prewhitening") {
		t.Fatalf("wrote %v:\n%s", raws, out)
	}
	dciodvfyClean(t, raws)
	f, err := mrd.Open(phantom, "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lib, _, err := mrd.Wrap(f.Header, f, mrd.WrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range raws {
		k, err := rawdata.ReadMR(r)
		if err != nil {
			t.Fatal(err)
		}
		w := lib[k.SeriesNumber-1]
		if k.PatientID != "MRD-1" || k.Rows != 64 || k.Cols != 64 || !bytes.Equal(k.Mask, w.Mask) || len(k.Data) != len(w.Data) || k.ISMRMRD == "" {
			t.Fatalf("%s: patient %q, %d × %d", r, k.PatientID, k.Rows, k.Cols)
		}
		for i := range k.Data {
			if k.Data[i] != w.Data[i] {
				t.Fatalf("%s: sample %d is %v, the library's conversion %v", r, i, k.Data[i], w.Data[i])
			}
		}
	}
	mustRun(t, append([]string{"recon", "--reconstructor", "l1-wavelet", "--out", p("l1"), "--export", p("l1.npy")}, raws[0])...)
	img, err := array.ReadNPYFile(p("l1.npy"))
	if err != nil || len(img.Float32) != 64*64 {
		t.Fatalf("recon exported %v: %v", img, err)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--ismrmrd", phantom, "--kspace", p("k.npy"), "--out", p("x.dcm")}, 2, "one of --kspace and --ismrmrd"},
		{[]string{"--ismrmrd", phantom, "--mask", p("m.npy"), "--out", p("x.dcm")}, 2, "do not go with --ismrmrd"},
		{[]string{"--ismrmrd", phantom, "--group", "other", "--out", p("x.dcm")}, 1, `no group "other"`},
		{[]string{"--ismrmrd", p("radial.h5"), "--out", p("x.dcm")}, 1, "non-Cartesian trajectory radial"},
	} {
		if strings.Contains(c.args[1], "radial") {
			b, _ := os.ReadFile(phantom)
			b = bytes.Replace(b, []byte("<trajectory>cartesian</trajectory>"), []byte("<trajectory>radial</trajectory>   "), 1)
			if err := os.WriteFile(p("radial.h5"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, code := run(t, append([]string{"wrap", "mr"}, c.args...)...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("wrap mr %s: exit %d, want %d with %q:\n%s", strings.Join(c.args, " "), code, c.code, c.want, out)
		}
	}
}
