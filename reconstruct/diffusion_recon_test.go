package reconstruct

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/kspace"
	"github.com/tweedie-recon/tweedie/reconstruct/diffusion"
	"github.com/tweedie-recon/tweedie/reconstruct/diffusion/gausstest"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
	"github.com/tweedie-recon/tweedie/sinogram"
)

// modelsDir makes a models folder with the Gaussian test models (the CT
// one with an HU window), or skips without ONNX Runtime (fails in CI).
func modelsDir(t *testing.T) string {
	t.Helper()
	if _, err := (onnx.Config{}).ConfigFromEnv().LibraryPath(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI: %v", err)
		}
		t.Skipf("no ONNX Runtime: %v", err)
	}
	dir := t.TempDir()
	src := "diffusion/testdata"
	for _, name := range []string{"gauss_vp_mr32", "gauss_vp_ct32"} {
		b, err := os.ReadFile(filepath.Join(src, name+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name+".onnx"), b, 0o644)
		c, _ := os.ReadFile(filepath.Join(src, name+".yaml"))
		card := string(c)
		if strings.Contains(name, "ct") {
			card = strings.Replace(card, "method: none", "method: hu-window\n  low: -1000\n  high: 1000", 1)
		}
		os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(card), 0o644)
	}
	testScore = NewScoreRuntime(onnx.Config{Models: dir, Device: "cpu"})
	return dir
}

// testScore is the score-model runtime of the test models that modelsDir
// made last (tests in this package do not run in parallel).
var testScore *ScoreRuntime

func mrTestInput(t *testing.T) (*Input, []float32) {
	vp, _ := diffusion.NewVP(1e-4, 0.02, 1000)
	g, err := gausstest.LoadPrior("diffusion/testdata", 32, 2, vp)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	x, _ := gausstest.SampleX[complex64](g, rng)
	maps, _ := kspace.CoilMaps(32, 32, kspace.CoilConfig{Coils: 4})
	lines := make([]bool, 32)
	for c := range lines {
		lines[c] = (c >= 11 && c < 21) || c%3 == 0
	}
	mask := kspace.LineMask(32, lines)
	k, _, err := kspace.Simulate(x, maps, mask, 0.01, rng)
	if err != nil {
		t.Fatal(err)
	}
	m := make([]uint8, 32*32)
	for i, s := range mask.Sampled {
		if s {
			m[i] = 1
		}
	}
	mag := make([]float32, len(x))
	for i, v := range x {
		mag[i] = float32(math.Hypot(float64(real(v)), float64(imag(v))))
	}
	return &Input{MR: &MRInput{Slices: 1, Coils: 4, Rows: 32, Cols: 32, KSpace: k, Mask: m}}, mag
}

func TestDiffusionReconstructorsMR(t *testing.T) {
	modelsDir(t)
	in, truth := mrTestInput(t)
	log := zerolog.Nop()
	zf, err := Run(context.Background(), "zero-filled", in, nil, Env{Log: log, Score: testScore})
	if err != nil {
		t.Fatal(err)
	}
	ezf := relErr32(zf.Volume, truth)
	for _, tc := range []struct {
		name   string
		params map[string]string
	}{
		{"dds", map[string]string{"seed": "1", "gamma": "1000"}},
		{"dds", map[string]string{"seed": "1", "samples": "2", "nfe": "20", "t0": "0.5"}},
		{"dds", map[string]string{"seed": "1", "nfe": "20", "t0": "0.4", "init": "l1-wavelet"}},
		{"score-mri", map[string]string{"seed": "1", "nfe": "59", "cg_iters": "10"}},
		{"dps", map[string]string{"seed": "1", "nfe": "60", "zeta": "0.3"}},
	} {
		out, err := Run(context.Background(), tc.name, in, tc.params, Env{Log: log, Score: testScore})
		if err != nil {
			t.Fatalf("%s %v: %v", tc.name, tc.params, err)
		}
		e := relErr32(out.Volume, truth)
		t.Logf("%-10s %v: %s; error %.3f (zero-filled %.3f)", tc.name, tc.params, out.Description, e, ezf)
		// A plumbing check (scales, magnitude, crop): a wrong scale or a
		// lost phase would give errors near 1.
		if !(e < 0.3) {
			t.Errorf("%s: error %.3f (zero-filled %.3f)", tc.name, e, ezf)
		}
		if tc.params["samples"] == "2" {
			if std := out.Uncertainty; std == nil || len(std.Volume) != len(out.Volume) || !strings.HasSuffix(std.Description, " std") {
				t.Errorf("%s: no uncertainty map with samples=2", tc.name)
			}
		}
	}
	a, _ := Run(context.Background(), "dds", in, map[string]string{"seed": "5", "nfe": "10"}, Env{Log: log, Score: testScore})
	b, _ := Run(context.Background(), "dds", in, map[string]string{"seed": "5", "nfe": "10"}, Env{Log: log, Score: testScore})
	if relErr32(a.Volume, b.Volume) != 0 {
		t.Error("same seed, different images")
	}
	for params, want := range map[string]string{
		"gamma=x":             "gamma",
		"nfe=0":               "nfe",
		"colour=blue":         "unknown parameter",
		"model=nonexistent":   "nonexistent",
		"vjp=reverse":         "vjp",
		"gamma_schedule=cosy": "gamma_schedule",
		"init=magic":          "init",
		"init=admm-tv":        "not an MR estimate",
		"init_iter=-1":        "init_iter",
	} {
		k, v, _ := strings.Cut(params, "=")
		_, err := Run(context.Background(), "dds", in, map[string]string{k: v}, Env{Log: log, Score: testScore})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error mentioning %q", params, err, want)
		}
	}
	if _, err := Run(context.Background(), "fbp", in, nil, Env{Log: log, Score: testScore}); err == nil || !strings.Contains(err.Error(), "CT data") {
		t.Errorf("fbp on MR data: %v", err)
	}
}

func TestDiffusionReconstructorsCT(t *testing.T) {
	modelsDir(t)
	vp, _ := diffusion.NewVP(1e-4, 0.02, 1000)
	g, _ := gausstest.LoadPrior("diffusion/testdata", 32, 1, vp)
	rng := rand.New(rand.NewPCG(2, 2))
	x, _ := gausstest.SampleX[float32](g, rng) // network units: HU = 2000x − 1000
	mw := sinogram.DefaultMuWater
	hu := make([]float32, len(x))
	mu := make([]float32, len(x))
	for i, v := range x {
		hu[i] = 2000*v - 1000
		mu[i] = float32(mw * (1 + float64(hu[i])/1000))
	}
	angles := sinogram.EvenAngles(24, 0, 180)
	in := &Input{CT: &CTInput{Slices: 2, Views: 24, Detectors: 46, AnglesDeg: angles, Beam: "PARALLEL", DetectorSpacing: 1,
		ImageSize: 32, PixelMM: 1, MuWater: mw}}
	p, err := sinogram.NewParallelProjector(sinogram.ParallelGeometry{AnglesDeg: angles, NDet: 46, DetSpacing: 1}, sinogram.Square(32, 1))
	if err != nil {
		t.Fatal(err)
	}
	sino := make([]float32, 24*46)
	p.Apply(sino, mu)
	in.CT.Sinogram = append(append([]float32(nil), sino...), sino...)
	fbp, err := Run(context.Background(), "fbp", in, nil, Env{Log: zerolog.Nop(), Score: testScore})
	if err != nil {
		t.Fatal(err)
	}
	toMu := func(v []float32) []float32 {
		out := make([]float32, len(v))
		for i, h := range v {
			out[i] = float32(mw * (1 + float64(h)/1000))
		}
		return out
	}
	efbp := relErr32(toMu(fbp.Volume[:1024]), mu)
	for _, name := range []string{"dds", "mbir", "score-mri", "dps", "dds from admm-tv"} {
		params := map[string]string{"seed": "1", "nfe": "30", "gamma": "100", "cg_iters": "10"}
		if name == "dds from admm-tv" {
			name, params["init"], params["t0"] = "dds", "admm-tv", "0.4"
		}
		if name == "dps" {
			params = map[string]string{"seed": "1", "nfe": "60", "zeta": "0.3"}
		}
		if name == "score-mri" {
			params["gamma"] = "inf"
		}
		out, err := Run(context.Background(), name, in, params, Env{Log: zerolog.Nop(), Score: testScore})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		e := relErr32(toMu(out.Volume[:1024]), mu)
		t.Logf("%-9s %s: μ error %.3f (FBP %.3f)", name, out.Description, e, efbp)
		// A plumbing check (HU window, operator scale): a wrong scale gives
		// errors near or above 1. DPS's ζ is untuned here.
		lim := 0.35
		if name == "dps" {
			lim = 0.7
		}
		if !(e < lim) {
			t.Errorf("%s: μ error %.3f (FBP %.3f)", name, e, efbp)
		}
	}
}

func TestDiffusionNoModel(t *testing.T) {
	modelsDir(t)
	// Smaller images are padded to a listed size (diffusion.Pad); rows
	// beyond every size listed (the shipped models go to 512) fit nothing.
	const rows, cols = 520, 16
	mask := make([]uint8, rows*cols)
	for i := range mask {
		mask[i] = 1
	}
	in := &Input{MR: &MRInput{Slices: 1, Coils: 1, Rows: rows, Cols: cols, KSpace: make([]complex64, rows*cols), Mask: mask}}
	testScore = NewScoreRuntime(onnx.Config{Models: t.TempDir(), Device: "cpu"})
	_, err := Run(context.Background(), "dds", in, nil, Env{Log: zerolog.Nop(), Score: testScore})
	if err == nil || !strings.Contains(err.Error(), "no score model for MR images of 520×16") {
		t.Errorf("empty models folder: %v", err)
	}
}

func relErr32(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i] - b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(num / den)
}
