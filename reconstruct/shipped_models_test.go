package reconstruct

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/kspace"
)

// TestDDSShippedModel: with no models folder configured, dds finds the MR
// model shipped in the binary (models/, go:embed), written to a cache
// folder, and runs it on a 2-slice 128² 4× case.
func TestDDSShippedModel(t *testing.T) {
	score := shippedScore(t)
	in, truth := ellipseMRInput(t, 128, 4, 2)
	out, err := Run(context.Background(), "dds", in, map[string]string{"seed": "1", "nfe": "4"}, Env{Log: zerolog.Nop(), Score: score})
	if err != nil {
		t.Fatalf("dds with no models folder: %v", err)
	}
	if !strings.Contains(out.Description, "model=tweedie_mr_unet") {
		t.Errorf("dds used %q, want the shipped tweedie_mr_unet", out.Description)
	}
	for _, v := range out.Volume {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal("non-finite output")
		}
	}
	e := relErr32(out.Volume, truth)
	t.Logf("%s: relative error %.3f", out.Description, e)
	// A plumbing check (scale, phase, support): a wrong scale gives errors near 1.
	if !(e < 0.3) {
		t.Errorf("relative error %.3f, want < 0.3", e)
	}
}

// ellipseMRInput is an n×n MR series of an ellipse "head" with a darker
// inner ellipse and a smooth phase per slice, coils coils, 4× lines with a
// centre of 10; it returns the input and the true magnitudes.
func ellipseMRInput(t testing.TB, n, coils, slices int) (*Input, []float32) {
	t.Helper()
	maps, err := kspace.CoilMaps(n, n, kspace.CoilConfig{Coils: coils})
	if err != nil {
		t.Fatal(err)
	}
	lines := make([]bool, n)
	for c := range lines {
		lines[c] = (c >= n/2-5 && c < n/2+5) || c%4 == 0
	}
	mask := kspace.LineMask(n, lines)
	rng := rand.New(rand.NewPCG(3, 3))
	var k []complex64
	truth := make([]float32, 0, slices*n*n)
	for s := 0; s < slices; s++ {
		// An ellipse "head" with a darker inner ellipse and a smooth phase.
		x := make([]complex64, n*n)
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				u, v := (float64(r)-float64(n/2))/(0.39*float64(n)), (float64(c)-float64(n/2))/((0.31+0.03*float64(s))*float64(n))
				m := 0.0
				if u*u+v*v < 1 {
					m = 0.9
					if u*u*4+v*v*4 < 1 {
						m = 0.5
					}
				}
				ph := 0.5 * math.Sin(float64(r+c)/40)
				x[r*n+c] = complex64(complex(m*math.Cos(ph), m*math.Sin(ph)))
				truth = append(truth, float32(m))
			}
		}
		ks, _, err := kspace.Simulate(x, maps, mask, 0.01, rng)
		if err != nil {
			t.Fatal(err)
		}
		k = append(k, ks...)
	}
	m := make([]uint8, n*n)
	for i, s := range mask.Sampled {
		if s {
			m[i] = 1
		}
	}
	return &Input{MR: &MRInput{Slices: slices, Coils: coils, Rows: n, Cols: n, KSpace: k, Mask: m}}, truth
}
