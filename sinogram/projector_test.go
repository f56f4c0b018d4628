package sinogram

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tweedie-recon/tweedie/num/linop"
)

func TestProjectorAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	worst := 0.0
	irregular := []float64{-7.5, 0, 3.1, 44.9, 45, 45.1, 90, 133.3, 181, 359.9}
	cases := []struct {
		name string
		grid ImageGrid
		g    ParallelGeometry
	}{
		{"16 even", Square(16, 1), ParallelGeometry{AnglesDeg: EvenAngles(12, 0, 180), NDet: 23, DetSpacing: 1}},
		{"17 odd shifted", ImageGrid{Rows: 17, Cols: 17, PixelMM: 0.5, ShiftRow: 0.5, ShiftCol: -0.25}, ParallelGeometry{AnglesDeg: EvenAngles(7, 3, 180), NDet: 30, DetSpacing: 0.37, CenterOffset: 0.5}},
		{"rect irregular", ImageGrid{Rows: 20, Cols: 33, PixelMM: 1.2}, ParallelGeometry{AnglesDeg: irregular, NDet: 41, DetSpacing: 1.5, CenterOffset: -2.25}},
		{"64 full", Square(64, 0.957), ParallelGeometry{AnglesDeg: EvenAngles(90, 0, 180), NDet: 91, DetSpacing: 0.957}},
		{"one view one bin", Square(5, 1), ParallelGeometry{AnglesDeg: []float64{30}, NDet: 1, DetSpacing: 1}},
	}
	for _, c := range cases {
		p, err := NewParallelProjector(c.g, c.grid)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, w := range []int{1, 2, 3} {
			e := linop.CheckAdjoint[float32](p.WithWorkers(w), rng)
			worst = math.Max(worst, e)
			if e > 1e-5 {
				t.Errorf("parallel %s, %d workers: adjoint error %g", c.name, w, e)
			}
		}
	}
	fans := []struct {
		name string
		grid ImageGrid
		g    FanGeometry
	}{
		{"16", Square(16, 1), FanGeometry{AnglesDeg: EvenAngles(24, 0, 360), NDet: 31, SourceIso: 40, SourceDet: 80, DetSpacing: 1.6}},
		{"rect shifted", ImageGrid{Rows: 21, Cols: 14, PixelMM: 0.8, ShiftRow: -1}, FanGeometry{AnglesDeg: irregular, NDet: 40, SourceIso: 50, SourceDet: 90, DetSpacing: 1.1, CenterOffset: 1.25}},
		{"64", Square(64, 1), FanGeometry{AnglesDeg: EvenAngles(60, 0, 360), NDet: 120, SourceIso: 120, SourceDet: 220, DetSpacing: 1.4}},
	}
	for _, c := range fans {
		p, err := NewFanProjector(c.g, c.grid)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, w := range []int{1, 2} {
			e := linop.CheckAdjoint[float32](p.WithWorkers(w), rng)
			worst = math.Max(worst, e)
			if e > 1e-5 {
				t.Errorf("fan %s, %d workers: adjoint error %g", c.name, w, e)
			}
		}
	}
	t.Logf("largest relative adjoint error %.2g", worst)
}

// TestProjectorDisk checks line integrals against the chord lengths of a
// uniform disk, 2·√(r² − u²) (in mm, times the value).
func TestProjectorDisk(t *testing.T) {
	const n = 128
	const px = 0.5
	const radius = 20.0 // mm
	img := make([]float32, n*n)
	grid := Square(n, px)
	cy, cx := grid.center()
	// supersampled disk
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			in := 0
			for i := 0; i < 4; i++ {
				for j := 0; j < 4; j++ {
					x := (float64(c) - cx + (float64(j)+0.5)/4 - 0.5) * px
					y := (cy - float64(r) - (float64(i)+0.5)/4 + 0.5) * px
					if x*x+y*y < radius*radius {
						in++
					}
				}
			}
			img[r*n+c] = float32(in) / 16
		}
	}
	g := ParallelGeometry{AnglesDeg: []float64{0, 10, 30, 45, 60, 90, 120, 170}, NDet: 100, DetSpacing: 0.5}
	p, err := NewParallelProjector(g, grid)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := p.Project(img)
	var worst float64
	for v := range g.AnglesDeg {
		for k := 0; k < g.NDet; k++ {
			u := (float64(k) - float64(g.NDet-1)/2) * g.DetSpacing
			want := 0.0
			if math.Abs(u) < radius {
				want = 2 * math.Sqrt(radius*radius-u*u)
			}
			if math.Abs(u) < radius-2 { // away from the rim
				worst = math.Max(worst, math.Abs(float64(s[v*g.NDet+k])-want)/(2*radius))
			}
		}
	}
	if worst > 0.01 {
		t.Fatalf("disk chords: worst error %.3g of the diameter", worst)
	}
	// fan beam: the central ray of every view crosses the disk centre
	fg := FanGeometry{AnglesDeg: EvenAngles(16, 0, 360), NDet: 101, SourceIso: 100, SourceDet: 200, DetSpacing: 1}
	fp, err := NewFanProjector(fg, grid)
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := fp.Project(img)
	for v := 0; v < fg.Views(); v++ {
		for k := 0; k < fg.NDet; k++ {
			gam := (float64(k) - 50) * fg.DetAngle()
			u := fg.SourceIso * math.Sin(gam)
			if math.Abs(u) < radius-2 {
				want := 2 * math.Sqrt(radius*radius-u*u)
				if e := math.Abs(float64(fs[v*fg.NDet+k])-want) / (2 * radius); e > 0.01 {
					t.Fatalf("fan view %d bin %d: %g, want %g", v, k, fs[v*fg.NDet+k], want)
				}
			}
		}
	}
}

// TestProjectorMatchesSkimage compares the projector with
// skimage.transform.radon(circle=False) on a smooth image: the geometry of
// ForSkimageRadon must reproduce its sinogram, bin for bin.
func TestProjectorMatchesSkimage(t *testing.T) {
	sizes := []int{64, 65}
	dir := t.TempDir()
	for _, n := range sizes {
		img := make([]float32, n*n)
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				x, y := float64(c-30), float64(r-25)
				img[r*n+c] = float32(math.Exp(-(x*x+y*y)/50) + 0.5*math.Exp(-((x-10)*(x-10)+(y+12)*(y+12))/20))
			}
		}
		if err := writeNPY(filepath.Join(dir, fmt.Sprintf("img%d.npy", n)), img, n, n); err != nil {
			t.Fatal(err)
		}
	}
	angles := []float64{0, 17, 45, 90, 133, 170, 250}
	python(t, `import numpy as np, sys
from skimage.transform import radon
for n in (64, 65):
    img = np.load(sys.argv[1] + '/img%d.npy' % n).astype(np.float64)
    s = radon(img, [0, 17, 45, 90, 133, 170, 250], circle=False)
    np.save(sys.argv[1] + '/sk%d.npy' % n, s.astype(np.float32))`, dir)
	for _, n := range sizes {
		img, _, err := readNPY(filepath.Join(dir, fmt.Sprintf("img%d.npy", n)))
		if err != nil {
			t.Fatal(err)
		}
		sk, shape, err := readNPY(filepath.Join(dir, fmt.Sprintf("sk%d.npy", n)))
		if err != nil {
			t.Fatal(err)
		}
		const px = 0.8
		g, grid, err := ForSkimageRadon(n, angles, px)
		if err != nil {
			t.Fatal(err)
		}
		if shape[0] != g.NDet || shape[1] != len(angles) {
			t.Fatalf("skimage sinogram %v, geometry %d bins", shape, g.NDet)
		}
		p, err := NewParallelProjector(g, grid)
		if err != nil {
			t.Fatal(err)
		}
		mine, _ := p.Project(img)
		ref, err := FromSkimage(sk, shape[0], shape[1], px)
		if err != nil {
			t.Fatal(err)
		}
		var e, s float64
		for i := range ref {
			d := float64(mine[i] - ref[i])
			e += d * d
			s += float64(ref[i]) * float64(ref[i])
		}
		if rel := math.Sqrt(e / s); rel > 5e-3 {
			t.Errorf("n=%d: tweedie vs skimage radon relative error %.3g", n, rel)
		} else {
			t.Logf("n=%d: tweedie vs skimage radon relative error %.3g", n, rel)
		}
		back, err := ToSkimage(ref, g.NDet, len(angles), px)
		if err != nil {
			t.Fatal(err)
		}
		for i := range back {
			if math.Abs(float64(back[i]-sk[i])) > 1e-5*math.Max(1, math.Abs(float64(sk[i]))) {
				t.Fatalf("ToSkimage(FromSkimage) differs at %d", i)
			}
		}
	}
}

func TestGeometryErrors(t *testing.T) {
	good := ParallelGeometry{AnglesDeg: []float64{0, 90}, NDet: 10, DetSpacing: 1}
	grid := Square(8, 1)
	bad := []struct {
		name string
		g    ParallelGeometry
		grid ImageGrid
		want string
	}{
		{"no views", ParallelGeometry{NDet: 10, DetSpacing: 1}, grid, "views"},
		{"zero bins", ParallelGeometry{AnglesDeg: []float64{0}, DetSpacing: 1}, grid, "detector bins"},
		{"huge bins", ParallelGeometry{AnglesDeg: []float64{0}, NDet: 1 << 20, DetSpacing: 1}, grid, "detector bins"},
		{"NaN spacing", ParallelGeometry{AnglesDeg: []float64{0}, NDet: 4, DetSpacing: math.NaN()}, grid, "spacing"},
		{"negative spacing", ParallelGeometry{AnglesDeg: []float64{0}, NDet: 4, DetSpacing: -1}, grid, "spacing"},
		{"inf angle", ParallelGeometry{AnglesDeg: []float64{0, math.Inf(1)}, NDet: 4, DetSpacing: 1}, grid, "angle 1"},
		{"offset", ParallelGeometry{AnglesDeg: []float64{0}, NDet: 4, DetSpacing: 1, CenterOffset: 9}, grid, "offset"},
		{"empty grid", good, ImageGrid{Rows: 0, Cols: 4, PixelMM: 1}, "image grid"},
		{"huge grid", good, ImageGrid{Rows: 1 << 20, Cols: 4, PixelMM: 1}, "image grid"},
		{"pixel", good, ImageGrid{Rows: 4, Cols: 4}, "pixel size"},
		{"shift", good, ImageGrid{Rows: 4, Cols: 4, PixelMM: 1, ShiftRow: 100}, "shift"},
	}
	for _, c := range bad {
		_, err := NewParallelProjector(c.g, c.grid)
		if err == nil || !errors.Is(err, ErrGeometry) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
		if _, err := NewParallelFBP(c.g, c.grid, FBPConfig{}); err == nil {
			t.Errorf("%s: FBP accepted", c.name)
		}
	}
	fg := FanGeometry{AnglesDeg: EvenAngles(8, 0, 360), NDet: 20, SourceIso: 100, SourceDet: 200, DetSpacing: 1}
	fanBad := []struct {
		name string
		mod  func(*FanGeometry)
		grid ImageGrid
		want string
	}{
		{"source inside", func(g *FanGeometry) { g.SourceIso = 3 }, grid, "inside the image"},
		{"detector cuts", func(g *FanGeometry) { g.SourceDet = 102 }, grid, "cuts the image"},
		{"detector before iso", func(g *FanGeometry) { g.SourceDet = 50 }, grid, "must exceed"},
		{"fan too wide", func(g *FanGeometry) { g.DetSpacing = 40 }, grid, "fan angle"},
		{"zero distance", func(g *FanGeometry) { g.SourceIso = 0 }, grid, "isocentre distance"},
	}
	for _, c := range fanBad {
		g := fg
		c.mod(&g)
		_, err := NewFanProjector(g, c.grid)
		if err == nil || !errors.Is(err, ErrGeometry) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	short := fg
	short.AnglesDeg = EvenAngles(90, 0, 200)
	if _, err := NewFanFBP(short, grid, FBPConfig{}); err == nil || !strings.Contains(err.Error(), "360") {
		t.Errorf("short scan FBP: %v", err)
	}
	if _, _, err := ForSkimageRadon(0, []float64{0}, 1); err == nil {
		t.Error("ForSkimageRadon(0) accepted")
	}
	if _, err := FromSkimage(make([]float32, 5), 2, 3, 1); err == nil {
		t.Error("FromSkimage with wrong length accepted")
	}
	p, _ := NewParallelProjector(good, grid)
	if _, err := p.Project(make([]float32, 3)); err == nil {
		t.Error("Project of a short image accepted")
	}
	if _, err := p.BackProject(make([]float32, 3)); err == nil {
		t.Error("BackProject of a short sinogram accepted")
	}
}

func TestSkimageDetectors(t *testing.T) {
	// values from scikit-image 0.19: radon(np.zeros((n, n)), circle=False).shape[0]
	for n, want := range map[int]int{256: 363, 64: 91, 65: 92, 512: 725, 1: 2} {
		if got := SkimageDetectors(n); got != want {
			t.Errorf("SkimageDetectors(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestHU(t *testing.T) {
	hu := []float32{-1000, 0, 1000, -1024}
	mu := make([]float32, 4)
	if err := HUToMu(mu, hu, DefaultMuWater); err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 0.0192, 0.0384, -0.0192 * 0.024}
	for i := range want {
		if math.Abs(float64(mu[i])-want[i]) > 1e-7 {
			t.Fatalf("HUToMu %v, want %v", mu, want)
		}
	}
	back := make([]float32, 4)
	if err := MuToHU(back, mu, DefaultMuWater); err != nil {
		t.Fatal(err)
	}
	for i := range hu {
		if math.Abs(float64(back[i]-hu[i])) > 1e-3 {
			t.Fatalf("round trip %v", back)
		}
	}
	if err := HUToMu(mu, hu, 0); err == nil {
		t.Error("μ_water 0 accepted")
	}
	if err := MuToHU(mu[:2], hu, 0.02); err == nil {
		t.Error("length mismatch accepted")
	}
}
