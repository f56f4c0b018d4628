package reconstruct

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/kspace"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
)

// TestDDSShippedModel: with no models folder configured, dds finds the MR
// model shipped in the binary (models/, go:embed), written to a cache
// folder, and runs it on a 2-slice 128² 4× case.
func TestDDSShippedModel(t *testing.T) {
	if _, err := (onnx.Config{}).ConfigFromEnv().LibraryPath(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI: %v", err)
		}
		t.Skipf("no ONNX Runtime: %v", err)
	}
	t.Setenv(onnx.EnvModels, "")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	score := NewScoreRuntime(onnx.Config{Device: "cpu"})
	const n, coils, slices = 128, 4, 2
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
				u, v := (float64(r)-64)/50, (float64(c)-64)/(40+4*float64(s))
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
	in := &Input{MR: &MRInput{Slices: slices, Coils: coils, Rows: n, Cols: n, KSpace: k, Mask: m}}
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
