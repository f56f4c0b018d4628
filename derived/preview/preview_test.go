package preview

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/tweedie-recon/tweedie/derived"
	"github.com/tweedie-recon/tweedie/rawdata"
)

// writeSeries writes a derived MR series of n slices of rows × cols, a
// ramp along the columns.
func writeSeries(t *testing.T, dir string, n, rows, cols int, desc string) []string {
	t.Helper()
	var h rawdata.Header
	h.Modality = "MR"
	h.StudyInstanceUID, h.FrameOfReferenceUID, h.Acquisition.UID = rawdata.NewUID(), rawdata.NewUID(), rawdata.NewUID()
	h.Orientation = [6]float64{1, 0, 0, 0, 1, 0}
	h.PixelSpacing = [2]float64{1, 1}
	for i := 0; i < n; i++ {
		h.Positions = append(h.Positions, [3]float64{0, 0, float64(i)})
	}
	s := &derived.Series{Source: h, Slices: n, Rows: rows, Cols: cols, SeriesNumber: 1001, SeriesDescription: desc,
		SeriesInstanceUID: rawdata.NewUID(), Volume: make([]float32, n*rows*cols)}
	s.SOPInstanceUID = func(i int) string { return rawdata.DeriveUID(s.SeriesInstanceUID, string(rune('a'+i))) }
	for i := range s.Volume {
		s.Volume[i] = float32(i % cols)
	}
	paths, err := derived.Write(dir, s, derived.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// TestMontage: images of two series are grouped by series in the order
// they come; a series' montage has its images perRow to a row, windowed
// to the full grey range, and its file name is made safe.
func TestMontage(t *testing.T) {
	dir := t.TempDir()
	a := writeSeries(t, t.TempDir(), 3, 8, 10, "tweedie cg-sense λ=0.01")
	b := writeSeries(t, t.TempDir(), 1, 4, 4, "other")
	series, err := LoadSeries(append([]string{b[0]}, a...))
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 2 || len(series[0]) != 1 || len(series[1]) != 3 {
		t.Fatalf("grouped into %d series", len(series))
	}
	name := FileName(series[1])
	if name != "1001-tweedie_cg-sense____0.01" { // " λ=": λ is two bytes
		t.Errorf("file name %q", name)
	}
	out := filepath.Join(dir, name+".png")
	if err := WriteMontage(out, series[1], 2); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 2*10 || b.Dy() != 2*8 {
		t.Errorf("montage of %d × %d, want 20 × 16", b.Dx(), b.Dy())
	}
	lo, hi := uint32(255), uint32(0)
	for x := 0; x < 10; x++ {
		g, _, _, _ := img.At(x, 0).RGBA()
		lo, hi = min(lo, g>>8), max(hi, g>>8)
	}
	if hi-lo < 128 {
		t.Errorf("the ramp spans grey %d…%d: the window is off", lo, hi)
	}
	if err := CopyFiles(filepath.Join(dir, "copy"), series[1]); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "copy", "*.dcm")); len(m) != 3 {
		t.Errorf("%d files copied, want 3", len(m))
	}
}
