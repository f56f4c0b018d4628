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

// TestIterativeFan: the recipes work with the fan-beam projector too, and
// ADMM-TV improves on FBP there as well.
func TestIterativeFan(t *testing.T) {
	const n = 64
	img := smoothPhantom(n)
	for i := range img {
		if img[i] < 0 {
			img[i] = 0
		}
	}
	grid := Square(n, 1)
	fg := FanGeometry{AnglesDeg: EvenAngles(12, 0, 360), NDet: 100, SourceIso: 150, SourceDet: 300, DetSpacing: 2}
	p, err := NewFanProjector(fg, grid)
	if err != nil {
		t.Fatal(err)
	}
	sino, _ := p.Project(img)
	fbp, err := FBPFan(fg, grid, sino, FBPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	tv, err := ReconstructADMMTV(p, sino, TVConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sirt, err := ReconstructSIRT(p, sino, SIRTConfig{Iter: 50})
	if err != nil {
		t.Fatal(err)
	}
	pf, pt, ps := psnr(img, fbp), psnr(img, tv), psnr(img, sirt)
	t.Logf("fan 12 views: FBP %.2f dB, SIRT %.2f dB, ADMM-TV %.2f dB", pf, ps, pt)
	if pt < pf+3 {
		t.Errorf("fan ADMM-TV %.2f dB not above FBP %.2f dB", pt, pf)
	}
	for _, v := range tv {
		if v < 0 {
			t.Fatal("negative value in a non-negative reconstruction")
		}
	}
}

func TestIterativeErrors(t *testing.T) {
	p, err := NewParallelProjector(ParallelGeometry{AnglesDeg: EvenAngles(4, 0, 180), NDet: 12, DetSpacing: 1}, Square(8, 1))
	if err != nil {
		t.Fatal(err)
	}
	sino := make([]float32, p.OutLen())
	if _, err := ReconstructADMMTV(p, sino[:5], TVConfig{}); err == nil {
		t.Error("short sinogram accepted")
	}
	if _, err := ReconstructPDHGTV(p, sino, TVConfig{Lambda: math.NaN()}); err == nil {
		t.Error("NaN lambda accepted")
	}
	if _, err := ReconstructADMMTV(p, sino, TVConfig{X0: make([]float32, 3)}); err == nil {
		t.Error("short X0 accepted")
	}
	if _, err := ReconstructSIRT(p, sino[:3], SIRTConfig{}); err == nil {
		t.Error("SIRT: short sinogram accepted")
	}
	// all-zero data: zero image, no NaN
	x, err := ReconstructADMMTV(p, sino, TVConfig{Iter: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range x {
		if v != 0 {
			t.Fatalf("zero data gave %v", x)
		}
	}
}
