package kspace

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tweedie-recon/tweedie/num/linop"
)

func TestSenseAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 1))
	for _, sz := range [][3]int{{64, 48, 4}, {37, 30, 3}, {128, 128, 8}} {
		rows, cols, coils := sz[0], sz[1], sz[2]
		maps := randomComplex(rng, coils*rows*cols) // unnormalised, arbitrary
		lines, _, err := RandomUniformACS(cols, 3, 0.1, rng)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []*Mask{LineMask(rows, lines), FullMask(rows, cols)} {
			a, err := NewSense(maps, m)
			if err != nil {
				t.Fatal(err)
			}
			e := linop.CheckAdjoint[complex64](a, rng)
			if e > 1e-5 {
				t.Errorf("%d×%d×%d accel %.2f: adjoint test error %.3g", rows, cols, coils, m.Acceleration(), e)
			}
			t.Logf("%d×%d×%d accel %.2f: CheckAdjoint %.2g", rows, cols, coils, m.Acceleration(), e)
		}
	}
}

// With ESPIRiT-normalised maps (Σ|S_c|² = 1 on a support, 0 outside) and
// full sampling, AᴴA is the identity on the support.
func TestSenseNormalIsIdentityOnSupport(t *testing.T) {
	const rows, cols, coils = 96, 80, 6
	maps, err := CoilMaps(rows, cols, CoilConfig{Coils: coils})
	if err != nil {
		t.Fatal(err)
	}
	n := rows * cols
	support := make([]bool, n)
	for i := range support {
		r, c := i/cols, i%cols
		support[i] = (r-48)*(r-48)+(c-40)*(c-40) < 35*35
		if !support[i] {
			for k := 0; k < coils; k++ {
				maps[k*n+i] = 0
			}
		}
	}
	a, err := NewSense(maps, FullMask(rows, cols))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(12, 1))
	x := randomComplex(rng, n)
	y := make([]complex64, a.OutLen())
	z := make([]complex64, n)
	a.Apply(y, x)
	a.Adjoint(z, y)
	var num, den float64
	for i := range x {
		want := x[i]
		if !support[i] {
			want = 0
		}
		d := complex128(z[i] - want)
		num += real(d)*real(d) + imag(d)*imag(d)
		den += float64(real(want)*real(want) + imag(want)*imag(want))
	}
	if e := math.Sqrt(num / den); e > 1e-5 {
		t.Errorf("‖AᴴAx − P_support x‖/‖x‖ = %.3g", e)
	} else {
		t.Logf("‖AᴴAx − P_support x‖/‖x‖ = %.2g", e)
	}
	// undersampled: AᴴA is a contraction
	lines, _, _ := EquispacedACS(cols, 4, 0.08)
	au, _ := NewSense(maps, LineMask(rows, lines))
	au.Apply(y, x)
	au.Adjoint(z, y)
	if linop.Norm2(z) > linop.Norm2(x)*(1+1e-6) {
		t.Errorf("‖AᴴAx‖ = %g > ‖x‖ = %g with undersampling", linop.Norm2(z), linop.Norm2(x))
	}
	// zero outside the mask
	for c := 0; c < coils; c++ {
		for i := 0; i < n; i++ {
			if !lines[i%cols] && y[c*n+i] != 0 {
				t.Fatalf("unsampled entry (%d, %d) of coil %d is %v", i/cols, i%cols, c, y[c*n+i])
			}
		}
	}
}

// Simulate and Sense agree.
func TestSimulateMatchesSense(t *testing.T) {
	const rows, cols, coils = 64, 64, 4
	rng := rand.New(rand.NewPCG(13, 1))
	maps, _ := CoilMaps(rows, cols, CoilConfig{Coils: coils, Raw: true})
	img := RealToComplex(SheppLogan(rows, cols))
	lines, _, _ := RandomUniformACS(cols, 4, 0.1, rng)
	m := LineMask(rows, lines)
	k, sigma, err := Simulate(img, maps, m, 0, nil)
	if err != nil || sigma != 0 {
		t.Fatal(err, sigma)
	}
	a, _ := NewSense(maps, m)
	y := make([]complex64, a.OutLen())
	a.Apply(y, img)
	if e := relErr(k, y); e > 1e-6 {
		t.Errorf("Simulate and Sense differ by %.3g", e)
	}
	// noise: σ = level·RMS over the sampled entries
	kn, sigma, err := Simulate(img, maps, m, 0.05, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if want := 0.05 * RMS(y, m.Sampled); math.Abs(sigma-want) > 1e-9*want {
		t.Errorf("σ = %g, want %g", sigma, want)
	}
	var ss float64
	cnt := 0
	for i := range kn {
		if m.Sampled[i%(rows*cols)] {
			d := complex128(kn[i] - y[i])
			ss += real(d)*real(d) + imag(d)*imag(d)
			cnt++
		} else if kn[i] != 0 {
			t.Fatal("noise added to an unsampled entry")
		}
	}
	if got := math.Sqrt(ss / float64(cnt)); math.Abs(got-sigma)/sigma > 0.05 {
		t.Errorf("measured noise std %g, want %g", got, sigma)
	}
	// AddNoiseSNR: SNR 20 is the same σ as level 0.05
	y2 := append([]complex64(nil), y...)
	if s := AddNoiseSNR(y2, m.Sampled, 20, rand.New(rand.NewPCG(1, 1))); math.Abs(s-sigma) > 1e-9*sigma {
		t.Errorf("AddNoiseSNR σ = %g, want %g", s, sigma)
	}
}

func TestNewSenseErrors(t *testing.T) {
	if _, err := NewSense(make([]complex64, 10), FullMask(4, 4)); err == nil {
		t.Error("10 map values for 4×4 accepted")
	}
	if _, err := NewSense(make([]complex64, 16), nil); err == nil {
		t.Error("nil mask accepted")
	}
	if _, err := NewSense(make([]complex64, 16), &Mask{Rows: 4, Cols: 4}); err == nil {
		t.Error("mask without entries accepted")
	}
}

func BenchmarkSenseNormal256x8(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 1))
	maps, _ := CoilMaps(256, 256, CoilConfig{Coils: 8})
	lines, _, _ := EquispacedACS(256, 4, 0.08)
	a, _ := NewSense(maps, LineMask(256, lines))
	x := randomComplex(rng, a.InLen())
	y := make([]complex64, a.OutLen())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Apply(y, x)
		a.Adjoint(x, y)
	}
}
