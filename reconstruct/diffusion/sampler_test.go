package diffusion_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tweedie-recon/tweedie/kspace"
	"github.com/tweedie-recon/tweedie/num/linop"
	"github.com/tweedie-recon/tweedie/reconstruct/diffusion"
	"github.com/tweedie-recon/tweedie/reconstruct/diffusion/gausstest"
)

func TestScheduleVP(t *testing.T) {
	s, err := diffusion.NewVP(1e-4, 0.02, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// ᾱ_0 = 1 − β_0; u = k/N lands on integer steps t = kT/N − 1.
	if l := s.At(1.0 / 1000); math.Abs(l.Alpha*l.Alpha-(1-1e-4)) > 1e-12 || l.Input != 0 {
		t.Errorf("At(1/T) = %+v", l)
	}
	if l := s.At(20.0 / 1000); l.Input != 19 {
		t.Errorf("At(20/T).Input = %g, want 19", l.Input)
	}
	if l := s.At(0); l.Alpha != 1 || l.Sigma != 0 {
		t.Errorf("At(0) = %+v, want clean", l)
	}
	if l := s.At(1); math.Abs(l.Alpha-0.00635) > 2e-4 {
		t.Errorf("At(1).Alpha = %g, want ≈ 0.0064", l.Alpha)
	}
	u := s.UForVESigma(3)
	if got := s.At(u).VESigma(); math.Abs(got-3) > 1e-6 {
		t.Errorf("UForVESigma(3) → σ/α = %g", got)
	}
	if _, err := diffusion.NewVP(0, 0.02, 1000); err == nil {
		t.Error("NewVP accepted β_min = 0")
	}
	if _, err := diffusion.NewVE(1, 0.5); err == nil {
		t.Error("NewVE accepted σ_max < σ_min")
	}
}

func TestParameterisationToX0(t *testing.T) {
	lv := diffusion.Level{Alpha: 0.6, Sigma: 0.8}
	x := []float32{1.2}
	x0 := float32(0.5)
	eps := (x[0] - 0.6*x0) / 0.8
	score := -eps / 0.8
	for _, c := range []struct {
		p   diffusion.Parameterisation
		out float32
	}{{diffusion.Eps, eps}, {diffusion.Score, score}, {diffusion.X0, x0}} {
		o := []float32{c.out}
		if err := c.p.ToX0(o, x, lv); err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(o[0]-x0)) > 1e-6 {
			t.Errorf("%s: x̂0 = %g, want %g", c.p, o[0], x0)
		}
	}
}

// nanDenoiser returns NaN, as a broken network would.
type nanDenoiser struct{ info diffusion.ModelInfo }

func (d nanDenoiser) Info() diffusion.ModelInfo { return d.info }
func (d nanDenoiser) Denoise(_ context.Context, dst, x []float32, n int, lv diffusion.Level) error {
	for i := range dst {
		dst[i] = float32(math.NaN())
	}
	return nil
}

func TestSampleErrors(t *testing.T) {
	pr := getProblems(t)
	c := pr.mrVE
	sl := []diffusion.Slice[complex64]{{A: c.p.A, Y: c.p.Y}}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  diffusion.Config
		want string
	}{
		{"method", diffusion.Config{}, "unknown method"},
		{"eta", diffusion.Config{Method: diffusion.DDS, Eta: 2}, "eta"},
		{"ccdf without init", diffusion.Config{Method: diffusion.DDS, T0: 0.5}, "initial estimate"},
		{"mbir with dps", diffusion.Config{Method: diffusion.DPS, TVZ: &diffusion.TVZ{Lambda: 1}}, "dps"},
		{"mbir projection", diffusion.Config{Method: diffusion.DDS, Gamma: math.Inf(1), TVZ: &diffusion.TVZ{Lambda: 1}}, "finite"},
		{"antithetic odd", diffusion.Config{Method: diffusion.DDS, Samples: 3, Antithetic: true}, "even"},
	} {
		_, err := diffusion.Sample(ctx, c.g, sl, tc.cfg)
		if err == nil || !errors.Is(err, diffusion.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrConfig mentioning %q", tc.name, err, tc.want)
		}
	}
	// A real (CT) image on a complex model.
	ct := pr.ctVE
	if _, err := diffusion.Sample(ctx, c.g, []diffusion.Slice[float32]{{A: ct.p.A, Y: ct.p.Y}}, diffusion.Config{Method: diffusion.DDS}); err == nil || !strings.Contains(err.Error(), "channels") {
		t.Errorf("channel mismatch: %v", err)
	}
	// NaN from the network is an error naming it, not a crash.
	_, err := diffusion.Sample(ctx, nanDenoiser{c.g.Info()}, sl, diffusion.Config{Method: diffusion.DDS, Gamma: 1, Steps: 3})
	if !errors.Is(err, diffusion.ErrNonFinite) {
		t.Errorf("NaN denoiser: %v, want ErrNonFinite", err)
	}
	// Cancellation.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := diffusion.Sample(cctx, c.g, sl, diffusion.Config{Method: diffusion.DDS, Gamma: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestSampleReproducible: the same seed gives the same result whatever
// the parallelism; another seed does not.
func TestSampleReproducible(t *testing.T) {
	pr := getProblems(t)
	c := pr.ctVP
	run := func(seed uint64, newA bool) []float32 {
		s := diffusion.Slice[float32]{A: c.p.A, Y: c.p.Y}
		if newA {
			s.NewA = c.p.NewA
		}
		r, err := diffusion.Sample(context.Background(), c.g, []diffusion.Slice[float32]{s},
			diffusion.Config{Method: diffusion.DDS, Steps: 5, Eta: 0.85, Gamma: 1, Samples: 3, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return r.Mean[0]
	}
	a, b, d := run(7, false), run(7, true), run(8, false)
	if gausstest.Dist(a, b) != 0 {
		t.Error("same seed, different results")
	}
	if gausstest.Dist(a, d) == 0 {
		t.Error("different seeds, same result")
	}
}

// TestMBIR: four identical slices, each measured with its own random
// 6× mask: TV along z (DiffusionMBIR's ADMM step in DDS) shares the slices'
// information and beats slice-by-slice DDS.
func TestMBIR(t *testing.T) {
	pr := getProblems(t)
	g := pr.mrVP.g
	rng := rand.New(rand.NewPCG(3, 3))
	x, err := gausstest.SampleX[complex64](g, rng)
	if err != nil {
		t.Fatal(err)
	}
	maps, err := kspace.CoilMaps(32, 32, kspace.CoilConfig{Coils: 4})
	if err != nil {
		t.Fatal(err)
	}
	const sigma = 0.1
	var slices []diffusion.Slice[complex64]
	for j := 0; j < 4; j++ {
		lines, _, err := kspace.RandomUniformACS(32, 6, 0.08, rng)
		if err != nil {
			t.Fatal(err)
		}
		mask := kspace.LineMask(32, lines)
		newA := func() linop.Op[complex64] {
			a, err := kspace.NewSense(maps, mask)
			if err != nil {
				panic(err)
			}
			return a
		}
		a := newA()
		y := make([]complex64, a.OutLen())
		a.Apply(y, x)
		kspace.AddNoise(y, nil, sigma, rng)
		mask.Apply(y)
		slices = append(slices, diffusion.Slice[complex64]{A: a, NewA: newA, Y: y})
	}
	cfg := diffusion.Config{Method: diffusion.DDS, Steps: 30, Eta: 1, GammaNoise: true, Gamma: 2 / (sigma * sigma), CGIters: 10, Samples: 2, Seed: 1}
	errOf := func(cfg diffusion.Config) float64 {
		r, err := diffusion.Sample(context.Background(), g, slices, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var e float64
		for _, m := range r.Mean {
			e += gausstest.RelErr(m, x)
		}
		return e / float64(len(r.Mean))
	}
	plain := errOf(cfg)
	cfg.TVZ = &diffusion.TVZ{Lambda: 2, Rho: 20}
	tv := errOf(cfg)
	t.Logf("relative error to the true image: slice by slice %.4f, with TV along z %.4f", plain, tv)
	if tv > 0.9*plain {
		t.Errorf("TV along z did not help: %.4f vs %.4f slice by slice", tv, plain)
	}
}
