package sinogram

import (
	"math"
	"testing"
)

// TestParallelSim: a water square fills the central bin of the view at 0°
// with μ_water × its side; air, and the −1024 HU of padding (clipped), add
// nothing; the sinograms are (slices, views, SkimageDetectors(N)).
func TestParallelSim(t *testing.T) {
	const n, px = 32, 0.8
	img := make([]float32, 2*n*n) // slice 0: water (0 HU)
	for i := range img[n*n:] {
		img[n*n+i] = -1024
	}
	sim := ParallelSim{N: n, PixelMM: px, Views: 8, MuWater: DefaultMuWater}
	sino, err := sim.Simulate(img)
	if err != nil {
		t.Fatal(err)
	}
	ndet := SkimageDetectors(n)
	if g := sim.Geometry(); g.NDet != ndet || len(g.AnglesDeg) != 8 || g.AnglesDeg[1] != 22.5 {
		t.Errorf("geometry %+v", g)
	}
	if len(sino) != 2*8*ndet {
		t.Fatalf("%d values, want 2 × 8 × %d", len(sino), ndet)
	}
	want := DefaultMuWater * n * px
	if got := float64(sino[ndet/2]); math.Abs(got-want) > 0.02*want {
		t.Errorf("central bin at 0°: %g, want μ·side = %g", got, want)
	}
	for i, v := range sino[8*ndet:] {
		if v != 0 {
			t.Fatalf("padding projects to %g at %d", v, i)
		}
	}
	if _, err := (ParallelSim{N: n, PixelMM: px, Views: 0, MuWater: DefaultMuWater}).Simulate(img); err == nil {
		t.Error("no views accepted")
	}
	if _, err := sim.Simulate(img[:n*n-1]); err == nil {
		t.Error("a partial slice was simulated")
	}
}
