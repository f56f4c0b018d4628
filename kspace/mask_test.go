package kspace

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func lineString(m []bool) string {
	b := make([]byte, len(m))
	for i, v := range m {
		b[i] = '0'
		if v {
			b[i] = '1'
		}
	}
	return string(b)
}

// The expected masks were produced by running fastMRI's
// EquispacedMaskFractionFunc formula (fastmri/data/subsample.py) in numpy
// with the given offset.
func TestEquispacedMatchesFastMRI(t *testing.T) {
	cases := []struct {
		n      int
		cf, a  float64
		offset int
		count  int
		want   string
	}{
		{320, 0.08, 4, 0, 80, "10000100000100001000001000010000010000100000100001000010000010000100000100001000001000010000010000100001000001000010000010000100000100001000001000011111111111111111111111111010000010000100000100001000010000010000100000100001000001000010000010000100001000001000010000010000100000100001000001000010000100000100001000001000"},
		{320, 0.08, 4, 2, 80, "00100001000001000010000010000100000100001000001000010000100000100001000001000010000010000100000100001000010000010000100000100001000001000010000010011111111111111111111111111000100000100001000001000010000100000100001000001000010000010000100000100001000010000010000100000100001000001000010000010000100001000001000010000010"},
		{368, 0.04, 8, 3, 46, "00010000000000100000000000100000000001000000000001000000000010000000000100000000000100000000001000000000010000000000010000000000100000000000100000000001000000000010000000000010011111111111111100000100000000001000000000010000000000010000000000100000000000100000000001000000000010000000000010000000000100000000001000000000001000000000010000000000010000000000100000000000"},
		{128, 0.08, 4, 1, 32, "01000010000010000100001000001000010000010000100001000001000111111111100100001000010000010000100000100001000010000010000100001000"},
		{218, 0.1, 3, 0, 74, "10001000100010010001000100010001000100010001001000100010001000100010001000100100010001000100010001111111111111111111111110001000100010010001000100010001000100010010001000100010001000100010001001000100010001000100010001"},
		{256, 0.08, 8, 5, 32, "0000010000000000000000000100000000000000000010000000000000000000100000000000000000001000000000000000000100000000000000111111111111111111110000010000000000000000001000000000000000000010000000000000000000100000000000000000010000000000000000000100000000000000"},
		{100, 0.125, 4, 1, 25, "0100000010000001000001000000100000010000001011111111111100000010000001000001000000100000010000001000"},
	}
	for _, c := range cases {
		m, acc, err := EquispacedACSOffset(c.n, c.a, c.cf, c.offset)
		if err != nil {
			t.Fatal(err)
		}
		if got := lineString(m); got != c.want {
			t.Errorf("n=%d accel=%g cf=%g offset=%d:\n got %s\nwant %s", c.n, c.a, c.cf, c.offset, got, c.want)
		}
		if math.Abs(acc-float64(c.n)/float64(c.count)) > 1e-12 {
			t.Errorf("n=%d: actual acceleration %g, want %g", c.n, acc, float64(c.n)/float64(c.count))
		}
	}
	if _, _, err := EquispacedACS(100, 8, 0.2); err == nil {
		t.Error("ACS of 20 lines with n/accel = 12.5 accepted")
	}
}

func checkACS(t *testing.T, name string, m []bool, n int, cf float64) {
	t.Helper()
	nlow := int(math.RoundToEven(float64(n) * cf))
	pad := (n - nlow + 1) / 2
	for i := pad; i < pad+nlow; i++ {
		if !m[i] {
			t.Errorf("%s: ACS line %d not sampled", name, i)
		}
	}
	if nlow > 0 && !m[n/2] {
		t.Errorf("%s: centre line %d not sampled", name, n/2)
	}
}

func TestLineMasks(t *testing.T) {
	for _, n := range []int{128, 218, 256, 320, 368} {
		for _, a := range []float64{2, 4, 6, 8} {
			cf := 0.08
			if a >= 8 {
				cf = 0.04
			}
			gens := map[string]func(seed uint64) ([]bool, float64, error){
				"equispaced": func(uint64) ([]bool, float64, error) { return EquispacedACS(n, a, cf) },
				"random": func(s uint64) ([]bool, float64, error) {
					return RandomUniformACS(n, a, cf, rand.New(rand.NewPCG(s, 7)))
				},
				"gaussian": func(s uint64) ([]bool, float64, error) {
					return VariableDensityGaussian(n, a, cf, 0.2, rand.New(rand.NewPCG(s, 7)))
				},
			}
			for name, gen := range gens {
				m, acc, err := gen(1)
				if err != nil {
					t.Fatalf("%s n=%d a=%g: %v", name, n, a, err)
				}
				if len(m) != n {
					t.Fatalf("%s: length %d, want %d", name, len(m), n)
				}
				checkACS(t, name, m, n, cf)
				if acc != Acceleration1D(m) {
					t.Errorf("%s: returned acceleration %g, mask has %g", name, acc, Acceleration1D(m))
				}
				// within one line of the nominal count (fastMRI's equispaced
				// rounding can add a few more)
				tol := 1.01
				if name == "equispaced" {
					tol = 2.01
				}
				if want := float64(n) / a; math.Abs(float64(countTrue(m))-want) > tol {
					t.Errorf("%s n=%d a=%g: %d lines, nominal %.1f (actual acceleration %.3f)", name, n, a, countTrue(m), want, acc)
				}
				m2, _, _ := gen(1)
				if !slices.Equal(m, m2) {
					t.Errorf("%s: same seed, different masks", name)
				}
				if name != "equispaced" {
					m3, _, _ := gen(2)
					if slices.Equal(m, m3) {
						t.Errorf("%s: seeds 1 and 2 give the same mask", name)
					}
				}
			}
		}
	}
}

func TestGaussianDensity(t *testing.T) {
	// Lines near the centre are chosen more often than lines at the edge.
	const n = 256
	var centre, edge int
	for s := uint64(0); s < 50; s++ {
		m, _, err := VariableDensityGaussian(n, 4, 0.04, 0.15, rand.New(rand.NewPCG(s, 1)))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			if m[n/2-30+i] {
				centre++
			}
			if m[i] {
				edge++
			}
		}
	}
	if centre <= 2*edge {
		t.Errorf("centre lines drawn %d times, edge lines %d: no variable density", centre, edge)
	}
}

func TestMaskErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	bad := []func() error{
		func() error { _, _, err := EquispacedACS(0, 4, 0.08); return err },
		func() error { _, _, err := EquispacedACS(100, 0.5, 0.08); return err },
		func() error { _, _, err := EquispacedACS(100, math.NaN(), 0.08); return err },
		func() error { _, _, err := EquispacedACS(100, 4, 1.5); return err },
		func() error { _, _, err := EquispacedACSOffset(100, 4, 0.08, -1); return err },
		func() error { _, _, err := RandomUniformACS(100, 4, 0.08, nil); return err },
		func() error { _, _, err := VariableDensityGaussian(100, 4, 0.08, 0, rng); return err },
		func() error { _, _, err := PoissonDisc2D(0, 10, 4, 2, rng); return err },
		func() error { _, _, err := PoissonDisc2D(32, 32, 4, 40, rng); return err },
		func() error { _, _, err := PoissonDisc2D(32, 32, 8, 16, rng); return err },
		func() error { _, _, err := PoissonDisc2DVariable(32, 32, 4, 4, -1, rng); return err },
	}
	for i, f := range bad {
		if f() == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}

func TestPoissonDisc2D(t *testing.T) {
	for _, c := range []struct {
		ny, nz, calib int
		accel, vd     float64
	}{{96, 80, 12, 4, 0}, {128, 128, 20, 6, 0}, {64, 96, 16, 3, 1.5}, {128, 100, 24, 8, 2}} {
		m, acc, err := PoissonDisc2DVariable(c.ny, c.nz, c.accel, c.calib, c.vd, rand.New(rand.NewPCG(9, 9)))
		if err != nil {
			t.Fatal(err)
		}
		if m.Rows != c.ny || m.Cols != c.nz || len(m.Sampled) != c.ny*c.nz {
			t.Fatalf("mask %d×%d (%d), want %d×%d", m.Rows, m.Cols, len(m.Sampled), c.ny, c.nz)
		}
		if math.Abs(acc-c.accel)/c.accel > 0.05 {
			t.Errorf("%+v: actual acceleration %.3f, nominal %g", c, acc, c.accel)
		}
		if acc != m.Acceleration() {
			t.Errorf("returned acceleration %g, mask has %g", acc, m.Acceleration())
		}
		y0, z0 := (c.ny-c.calib)/2, (c.nz-c.calib)/2
		for y := y0; y < y0+c.calib; y++ {
			for z := z0; z < z0+c.calib; z++ {
				if !m.Sampled[y*c.nz+z] {
					t.Fatalf("calibration point (%d, %d) not sampled", y, z)
				}
			}
		}
		m2, _, _ := PoissonDisc2DVariable(c.ny, c.nz, c.accel, c.calib, c.vd, rand.New(rand.NewPCG(9, 9)))
		if !slices.Equal(m.Sampled, m2.Sampled) {
			t.Error("same seed, different Poisson-disc masks")
		}
		// outside the calibration region, no two samples are adjacent
		// horizontally for uniform density and accel ≥ 3 (r0 > 1)
		if c.accel >= 3 && c.vd == 0 {
			adj := 0
			for y := 0; y < c.ny; y++ {
				for z := 0; z+1 < c.nz; z++ {
					inCal := y >= y0 && y < y0+c.calib && z+1 >= z0 && z < z0+c.calib
					if !inCal && m.Sampled[y*c.nz+z] && m.Sampled[y*c.nz+z+1] {
						adj++
					}
				}
			}
			if adj > m.Count()/20 {
				t.Errorf("%+v: %d horizontally adjacent samples of %d: not a Poisson-disc pattern", c, adj, m.Count())
			}
		}
		t.Logf("%d×%d accel %g vd %g calib %d: actual %.3f", c.ny, c.nz, c.accel, c.vd, c.calib, acc)
	}
}

func TestMaskApply(t *testing.T) {
	lines, _, err := EquispacedACS(16, 4, 0.125)
	if err != nil {
		t.Fatal(err)
	}
	m := LineMask(8, lines)
	k := make([]complex64, 2*8*16)
	for i := range k {
		k[i] = 1
	}
	if err := m.Apply(k); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 2; b++ {
		for r := 0; r < 8; r++ {
			for c := 0; c < 16; c++ {
				if (k[b*128+r*16+c] != 0) != lines[c] {
					t.Fatalf("coil %d (%d,%d): %v, line sampled %v", b, r, c, k[b*128+r*16+c], lines[c])
				}
			}
		}
	}
	if err := m.Apply(make([]complex64, 17)); err == nil {
		t.Error("Apply on 17 values accepted")
	}
}
