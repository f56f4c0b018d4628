package kspace

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

func TestCoilMaps(t *testing.T) {
	const rows, cols = 64, 80
	n := rows * cols
	for _, coils := range []int{1, 4, 8, 12} {
		maps, err := CoilMaps(rows, cols, CoilConfig{Coils: coils})
		if err != nil {
			t.Fatal(err)
		}
		rss := RSS(maps, n)
		for i, v := range rss {
			if math.Abs(float64(v)-1) > 1e-5 {
				t.Fatalf("%d coils: RSS at pixel %d = %g, want 1", coils, i, v)
			}
		}
		// smooth: neighbouring pixels differ little
		for c := 0; c < coils; c++ {
			for r := 0; r < rows; r++ {
				for q := 1; q < cols; q++ {
					if d := cmplx.Abs(complex128(maps[c*n+r*cols+q] - maps[c*n+r*cols+q-1])); d > 0.2 {
						t.Fatalf("%d coils: coil %d jumps by %g at (%d, %d)", coils, c, d, r, q)
					}
				}
			}
		}
	}
	raw, err := CoilMaps(rows, cols, CoilConfig{Coils: 4, Raw: true, Falloff: 2})
	if err != nil {
		t.Fatal(err)
	}
	// coil 0 sits at angle 0 (+cols side): stronger on the right than on the left
	if l, r := cmplx.Abs(complex128(raw[32*cols])), cmplx.Abs(complex128(raw[32*cols+cols-1])); r <= 2*l {
		t.Errorf("coil 0: |S| left %g, right %g; expected it to peak on the right", l, r)
	}
	var peak float64
	for _, v := range raw[:n] {
		peak = max(peak, cmplx.Abs(complex128(v)))
	}
	if math.Abs(peak-1) > 1e-6 {
		t.Errorf("raw coil peak %g, want 1", peak)
	}
	for _, cfg := range []CoilConfig{{Coils: 0}, {Coils: 4, Radius: 0.5}, {Coils: 4, Falloff: -1}, {Coils: 1000}} {
		if _, err := CoilMaps(rows, cols, cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestSmoothPhaseAndPhantom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := SmoothPhase(50, 60, 2, rng)
	centre := cmplx.Phase(complex128(p[25*60+30]))
	var maxDev float64
	for _, v := range p {
		if math.Abs(cmplx.Abs(complex128(v))-1) > 1e-6 {
			t.Fatalf("|e^{iφ}| = %g", cmplx.Abs(complex128(v)))
		}
		d := math.Abs(cmplx.Phase(complex128(v) * cmplx.Exp(complex(0, -centre))))
		maxDev = max(maxDev, d)
	}
	if maxDev < 0.5 || maxDev > 4.01 {
		t.Errorf("phase varies by up to %g rad around the centre, want about the amplitude 2", maxDev)
	}
	sl := SheppLogan(64, 64)
	var lo, hi float32 = 1, 0
	for _, v := range sl {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo < -1e-6 || hi > 1+1e-6 || sl[0] != 0 || sl[32*64+32] == 0 {
		t.Errorf("Shepp–Logan range [%g, %g], corner %g, centre %g", lo, hi, sl[0], sl[32*64+32])
	}
}

func TestSimulateErrors(t *testing.T) {
	img := make([]complex64, 16)
	maps := make([]complex64, 32)
	m := FullMask(4, 4)
	if _, _, err := Simulate(img[:15], maps, m, 0, nil); err == nil {
		t.Error("short image accepted")
	}
	if _, _, err := Simulate(img, maps[:31], m, 0, nil); err == nil {
		t.Error("31 map values accepted")
	}
	if _, _, err := Simulate(img, maps, m, -1, nil); err == nil {
		t.Error("negative noise accepted")
	}
	if _, _, err := Simulate(img, maps, m, 0.1, nil); err == nil {
		t.Error("noise without a random source accepted")
	}
	if _, _, err := Simulate(img, maps, nil, 0, nil); err == nil {
		t.Error("nil mask accepted")
	}
}
