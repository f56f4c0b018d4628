package sinogram

import (
	"errors"
	"math"
	"testing"
)

func TestVolumeHelpers(t *testing.T) {
	const n, slices = 32, 5
	grid := Square(n, 1)
	g := ParallelGeometry{AnglesDeg: EvenAngles(48, 0, 180), NDet: 46, DetSpacing: 1}
	p, err := NewParallelProjector(g, grid)
	if err != nil {
		t.Fatal(err)
	}
	vol := make([]float32, slices*n*n)
	base := smoothPhantom(n)
	for s := 0; s < slices; s++ {
		for i, v := range base {
			vol[s*n*n+i] = v * float32(s+1)
		}
	}
	sino, err := ProjectVolume(p, vol, slices)
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < slices; s++ {
		one, _ := p.Project(vol[s*n*n : (s+1)*n*n])
		for i, v := range one {
			if d := math.Abs(float64(v - sino[s*p.OutLen()+i])); d > 1e-5*math.Max(1, math.Abs(float64(v))) {
				t.Fatalf("slice %d differs from its own projection at %d", s, i)
			}
		}
	}
	f, err := NewFBPFor(p, FBPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := f.ReconstructVolume(sino, slices)
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < slices; s++ {
		one := make([]float32, n*n)
		if err := f.Reconstruct(one, sino[s*p.OutLen():(s+1)*p.OutLen()]); err != nil {
			t.Fatal(err)
		}
		for i := range one {
			if one[i] != rec[s*n*n+i] {
				t.Fatalf("slice %d: volume FBP differs at %d", s, i)
			}
		}
	}
	if _, err := ProjectVolume(p, vol[:10], slices); err == nil {
		t.Error("short volume accepted")
	}
	if _, err := f.ReconstructVolume(sino, 0); err == nil {
		t.Error("zero slices accepted")
	}
	boom := errors.New("boom")
	err = ForEachSlice(7, 2, func(i int) error {
		if i == 3 || i == 5 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || err.Error() != "slice 3: boom" {
		t.Errorf("ForEachSlice error %v", err)
	}
}
