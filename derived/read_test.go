package derived

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/tweedie-recon/tweedie/num/array"
)

// TestReadBack: a written series read back by ReadSeries (and ReadVolume
// on its folder) is the volume in physical units, to the 16-bit
// quantisation, in instance order, with the window in the same units.
func TestReadBack(t *testing.T) {
	for _, mod := range []string{"MR", "CT"} {
		t.Run(mod, func(t *testing.T) {
			s := sampleSeries(mod)
			dir := t.TempDir()
			paths, err := Write(dir, s, Options{})
			if err != nil {
				t.Fatal(err)
			}
			maxv := 0.0
			for _, v := range s.Volume {
				maxv = math.Max(maxv, math.Abs(float64(v)))
			}
			for _, read := range []func(string) ([]float32, int, int, int, error){ReadSeries, ReadVolume} {
				vol, n, rows, cols, err := read(dir)
				if err != nil {
					t.Fatal(err)
				}
				if n != s.Slices || rows != s.Rows || cols != s.Cols {
					t.Fatalf("read %d × %d × %d, wrote %d × %d × %d", n, rows, cols, s.Slices, s.Rows, s.Cols)
				}
				for i, v := range vol {
					if math.Abs(float64(v-s.Volume[i])) > 1e-4*maxv+1e-9 {
						t.Fatalf("voxel %d: %g, want %g", i, v, s.Volume[i])
					}
				}
			}
			im, err := ReadImage(paths[0])
			if err != nil {
				t.Fatal(err)
			}
			if im.SeriesUID != s.SeriesInstanceUID || im.Name != "1001-tweedie cg-sense" || im.Number != 1 {
				t.Errorf("header read as %q %q %d", im.SeriesUID, im.Name, im.Number)
			}
			lo, hi := im.Center-im.Width/2, im.Center+im.Width/2
			if math.IsNaN(im.Center) || hi <= 0 || lo >= maxv {
				t.Errorf("window [%g, %g] misses the data [0, %g]", lo, hi, maxv)
			}
		})
	}
}

// TestReadVolumeNPY: a .npy of (rows, cols) is one slice; other ranks and
// other types are refused.
func TestReadVolumeNPY(t *testing.T) {
	dir := t.TempDir()
	p2 := filepath.Join(dir, "a.npy")
	if err := array.WriteNPYFile(p2, []int{3, 4}, make([]float32, 12)); err != nil {
		t.Fatal(err)
	}
	if _, n, r, c, err := ReadVolume(p2); err != nil || n != 1 || r != 3 || c != 4 {
		t.Errorf("(3, 4): %d × %d × %d, %v", n, r, c, err)
	}
	p1 := filepath.Join(dir, "b.npy")
	if err := array.WriteNPYFile(p1, []int{12}, make([]float32, 12)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := ReadVolume(p1); err == nil {
		t.Error("a 1-D array was read as a volume")
	}
	pc := filepath.Join(dir, "c.npy")
	if err := array.WriteNPYFile(pc, []int{3, 4}, make([]complex64, 12)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := ReadVolume(pc); err == nil {
		t.Error("complex data were read as a magnitude volume")
	}
	if _, _, _, _, err := ReadSeries(dir); err == nil {
		t.Error("a folder without .dcm files was read as a series")
	}
}
