package onnx_test

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/reconstruct/diffusion"
	"github.com/tweedie-recon/tweedie/reconstruct/diffusion/gausstest"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
)

const testdata = "../diffusion/testdata"

// runtime opens ONNX Runtime, or skips the test when the library is
// missing — except in CI (CI set), where a missing library is a failure.
func runtime(t testing.TB) *onnx.Runtime {
	t.Helper()
	cfg := onnx.Config{Device: "cpu"}
	if _, err := cfg.ConfigFromEnv().LibraryPath(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI: %v", err)
		}
		t.Skipf("no ONNX Runtime: %v", err)
	}
	rt, err := onnx.Open(cfg, zerolog.New(os.Stderr).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func load(t testing.TB, rt *onnx.Runtime, name string, rows int) *onnx.Sized {
	t.Helper()
	m, err := rt.Load(filepath.Join(testdata, name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Denoiser(rows, rows)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestGaussianModelsMatchGo: the exported ONNX graphs compute the same x̂0
// as the Go implementation of the same prior, at every noise level, for
// the eps (VP) and score (VE) parameterisations and 1 and 2 channels.
func TestGaussianModelsMatchGo(t *testing.T) {
	rt := runtime(t)
	for _, name := range []string{"gauss_vp_mr32", "gauss_vp_ct32", "gauss_ve_mr32"} {
		d := load(t, rt, name, 32)
		info := d.Info()
		g, err := gausstest.LoadPrior(testdata, 32, info.Channels, info.Schedule)
		if err != nil {
			t.Fatal(err)
		}
		const n = 3
		il := info.ImageLen()
		x := make([]float32, n*il)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)*0.37) * 1.3)
		}
		worst := 0.0
		for _, u := range []float64{0.02, 0.1, 0.3, 0.6, 0.9, 1} {
			lv := info.Schedule.At(u)
			a, b := make([]float32, n*il), make([]float32, n*il)
			if err := d.Denoise(context.Background(), a, x, n, lv); err != nil {
				t.Fatal(err)
			}
			if err := g.Denoise(context.Background(), b, x, n, lv); err != nil {
				t.Fatal(err)
			}
			var num, den float64
			for i := range a {
				num += float64(a[i]-b[i]) * float64(a[i]-b[i])
				den += float64(b[i]) * float64(b[i])
			}
			worst = max(worst, math.Sqrt(num/den))
		}
		t.Logf("%s (%s, %s): worst relative difference of x̂0 from the Go prior %.2g", name, info.Schedule.Kind, d.Info().Name, worst)
		if worst > 2e-4 {
			t.Errorf("%s: ONNX and Go x̂0 differ by %.2g", name, worst)
		}
	}
}

// TestONNXPosterior runs the samplers through ONNX Runtime on the SENSE and
// CT problems and checks them against the closed-form posterior mean and
// against the same sampler on the Go prior.
func TestONNXPosterior(t *testing.T) {
	rt := runtime(t)
	ctx := context.Background()
	{
		d := load(t, rt, "gauss_vp_mr32", 32)
		g, _ := gausstest.LoadPrior(testdata, 32, 2, d.Info().Schedule)
		p, err := gausstest.Sense(g, 4, 4, 0.1, 1)
		if err != nil {
			t.Fatal(err)
		}
		m, mu := gausstest.PosteriorMean(g, p), gausstest.Mean[complex64](g)
		cfg := diffusion.Config{Method: diffusion.DDS, Steps: 50, Eta: 1, GammaNoise: true, Gamma: p.Lambda, CGIters: 10, Samples: 8, Antithetic: true, Seed: 1}
		sl := []diffusion.Slice[complex64]{{A: p.A, NewA: p.NewA, Y: p.Y}}
		ro, err := diffusion.Sample(ctx, d, sl, cfg)
		if err != nil {
			t.Fatal(err)
		}
		rg, err := diffusion.Sample(ctx, g, sl, cfg)
		if err != nil {
			t.Fatal(err)
		}
		eo, eg := gausstest.Dist(ro.Mean[0], m)/gausstest.Dist(m, mu), gausstest.Dist(rg.Mean[0], m)/gausstest.Dist(m, mu)
		t.Logf("SENSE dds N=50 (NFE %d): error relative to ‖m − μ‖ %.4f through ONNX, %.4f in Go; ONNX vs Go %.2g", ro.NFE, eo, eg, gausstest.RelErr(ro.Mean[0], rg.Mean[0]))
		if eo > 0.15 || gausstest.RelErr(ro.Mean[0], rg.Mean[0]) > 1e-3 {
			t.Errorf("SENSE through ONNX: error %.4f (Go %.4f)", eo, eg)
		}
	}
	{
		d := load(t, rt, "gauss_vp_ct32", 32)
		g, _ := gausstest.LoadPrior(testdata, 32, 1, d.Info().Schedule)
		p, err := gausstest.CT(g, 24, 0.5, 1)
		if err != nil {
			t.Fatal(err)
		}
		m, mu := gausstest.PosteriorMean(g, p), gausstest.Mean[float32](g)
		cfg := diffusion.Config{Method: diffusion.DDS, Steps: 50, Eta: 1, GammaNoise: true, Gamma: p.Lambda, CGIters: 10, Samples: 8, Antithetic: true, Seed: 1}
		ro, err := diffusion.Sample(ctx, d, []diffusion.Slice[float32]{{A: p.A, NewA: p.NewA, Y: p.Y}}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		eo := gausstest.Dist(ro.Mean[0], m) / gausstest.Dist(m, mu)
		t.Logf("CT dds N=50: error relative to ‖m − μ‖ %.4f through ONNX", eo)
		if eo > 0.15 {
			t.Errorf("CT through ONNX: error %.4f", eo)
		}
	}
	{
		d := load(t, rt, "gauss_ve_mr32", 32)
		g, _ := gausstest.LoadPrior(testdata, 32, 2, d.Info().Schedule)
		p, err := gausstest.Sense(g, 4, 4, 0.1, 1)
		if err != nil {
			t.Fatal(err)
		}
		m, mu := gausstest.PosteriorMean(g, p), gausstest.Mean[complex64](g)
		cfg := diffusion.Config{Method: diffusion.ScoreMRI, Steps: 50, Gamma: p.Lambda, CGIters: 10, Samples: 4, Antithetic: true, Seed: 1}
		ro, err := diffusion.Sample(ctx, d, []diffusion.Slice[complex64]{{A: p.A, NewA: p.NewA, Y: p.Y}}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		eo := gausstest.Dist(ro.Mean[0], m) / gausstest.Dist(m, mu)
		t.Logf("SENSE score-mri N=50 (VE model, NFE %d): error %.4f through ONNX", ro.NFE, eo)
		if eo > 0.15 {
			t.Errorf("score-mri through ONNX: error %.4f", eo)
		}
	}
}

// writeCard copies a test model into a temporary folder with a card edited
// by edit.
func writeCard(t *testing.T, model string, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(testdata, model+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "m.onnx"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := os.ReadFile(filepath.Join(testdata, model+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	card := strings.Replace(edit(string(c)), "file: "+model+".onnx", "file: m.onnx", 1)
	if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(card), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "m.onnx")
}

// TestModelCardChecks: a model that disagrees with its card, a broken card
// and a missing card are errors that say what is wrong.
func TestModelCardChecks(t *testing.T) {
	rt := runtime(t)
	for _, tc := range []struct {
		name string
		edit func(string) string
		want string
	}{
		{"channels", func(s string) string {
			return strings.NewReplacer("channels: 2\n", "channels: 1\n", "output_channels: 2", "output_channels: 1", "modality: MR", "modality: MR").Replace(s)
		}, "has 2 channels, the card says 1"},
		{"input name", func(s string) string { return strings.Replace(s, "time: t", "time: timestep", 1) }, `no input "timestep"`},
		{"size", func(s string) string { return strings.Replace(s, "sizes: [[32, 32]]", "sizes: [[64, 64]]", 1) }, ""},
		{"unknown key", func(s string) string { return s + "colour: blue\n" }, "colour"},
		{"parameterisation", func(s string) string {
			return strings.Replace(s, "parameterisation: eps", "parameterisation: velocity", 1)
		}, "velocity"},
		{"licence", func(s string) string { return strings.Replace(s, "licence: same as tweedie", "licence: ''", 1) }, "licence"},
	} {
		_, err := rt.Load(writeCard(t, "gauss_vp_mr32", tc.edit))
		if err == nil {
			if tc.want == "" {
				continue // dynamic sizes: any size the card lists is accepted by the graph
			}
			t.Errorf("%s: loaded a model that disagrees with its card", tc.name)
			continue
		}
		if !errors.Is(err, onnx.ErrCard) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrCard mentioning %q", tc.name, err, tc.want)
		}
	}
	dir := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(testdata, "gauss_vp_mr32.onnx"))
	os.WriteFile(filepath.Join(dir, "lonely.onnx"), b, 0o644)
	if _, err := rt.Load(filepath.Join(dir, "lonely.onnx")); !errors.Is(err, onnx.ErrCard) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing card: %v", err)
	}
	// Not an ONNX file at all.
	os.WriteFile(filepath.Join(dir, "junk.onnx"), []byte("not a model"), 0o644)
	c, _ := os.ReadFile(filepath.Join(testdata, "gauss_vp_mr32.yaml"))
	os.WriteFile(filepath.Join(dir, "junk.yaml"), []byte(strings.Replace(string(c), "file: gauss_vp_mr32.onnx", "file: junk.onnx", 1)), 0o644)
	if _, err := rt.Load(filepath.Join(dir, "junk.onnx")); !errors.Is(err, onnx.ErrModel) {
		t.Errorf("junk model: %v", err)
	}
}

// TestNaNModel: NaN from the network is an error at load (the probe) and
// at run time; NaN input is refused before the network runs.
func TestNaNModel(t *testing.T) {
	rt := runtime(t)
	_, err := rt.Load(filepath.Join(testdata, "nan_mr32.onnx"))
	if !errors.Is(err, diffusion.ErrNonFinite) || !strings.Contains(err.Error(), "non-finite") {
		t.Errorf("NaN model: %v, want ErrNonFinite", err)
	}
	d := load(t, rt, "gauss_vp_mr32", 32)
	x := make([]float32, d.Info().ImageLen())
	x[5] = float32(math.NaN())
	if err := d.Denoise(context.Background(), make([]float32, len(x)), x, 1, d.Info().Schedule.At(0.5)); !errors.Is(err, diffusion.ErrNonFinite) {
		t.Errorf("NaN input: %v", err)
	}
	if _, err := load(t, rt, "gauss_vp_mr32", 32), error(nil); err != nil {
		t.Fatal(err)
	}
	m, _ := rt.Load(filepath.Join(testdata, "gauss_vp_mr32.onnx"))
	if _, err := m.Denoiser(64, 64); !errors.Is(err, onnx.ErrModel) {
		t.Errorf("size the card does not list: %v", err)
	}
}

// TestLibraryErrors: a missing, relative or wrong library is a clear
// error, not a crash. The wrong library is loaded in a child process,
// since ONNX Runtime can be loaded once per process.
func TestLibraryErrors(t *testing.T) {
	log := zerolog.Nop()
	if _, err := onnx.Open(onnx.Config{Library: "/nonexistent/libonnxruntime.so.1"}, log); !errors.Is(err, onnx.ErrLibrary) || !strings.Contains(err.Error(), "install-onnxruntime") {
		t.Errorf("missing library: %v", err)
	}
	if _, err := onnx.Open(onnx.Config{Library: "libonnxruntime.so.1"}, log); !errors.Is(err, onnx.ErrLibrary) || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative path: %v", err)
	}
	if _, err := onnx.Open(onnx.Config{Library: "/bin/sh", Device: "tpu"}, log); err == nil || !strings.Contains(err.Error(), "auto, cpu or cuda") {
		t.Errorf("bad device: %v", err)
	}
	wrong := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	os.WriteFile(wrong, []byte("this is not a shared library"), 0o644)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOpenLibrary$")
	cmd.Env = append(os.Environ(), "TWEEDIE_TEST_HELPER_LIB="+wrong)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ONNX Runtime library: cannot load") {
		t.Errorf("wrong library in a child process: %v\n%s", err, out)
	}
}

// TestHelperOpenLibrary is TestLibraryErrors' child.
func TestHelperOpenLibrary(t *testing.T) {
	lib := os.Getenv("TWEEDIE_TEST_HELPER_LIB")
	if lib == "" {
		t.Skip("child process of TestLibraryErrors")
	}
	_, err := onnx.Open(onnx.Config{Library: lib}, zerolog.Nop())
	if !errors.Is(err, onnx.ErrLibrary) {
		t.Fatalf("want ErrLibrary, got %v", err)
	}
	t.Log(err)
	os.Stdout.WriteString(err.Error() + "\n")
}

func TestParseDevice(t *testing.T) {
	for in, want := range map[string]string{"": "auto", "AUTO": "auto", "cpu": "cpu", "cuda": "cuda:0", "cuda:1": "cuda:1"} {
		d, err := onnx.ParseDevice(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDevice(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"cuda:-1", "cuda:x", "metal"} {
		if _, err := onnx.ParseDevice(in); err == nil {
			t.Errorf("ParseDevice(%q) accepted", in)
		}
	}
}

// TestAutoDeviceFallsBack: device auto on a CPU-only library (the npm
// build) falls back to the CPU; device cuda fails with an error that
// names CUDA.
func TestAutoDeviceFallsBack(t *testing.T) {
	_ = runtime(t)
	rt, err := onnx.Open(onnx.Config{Device: "auto"}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	m, err := rt.Load(writeCard(t, "gauss_vp_ct32", func(s string) string { return s }))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("device auto → %s", m.Provider())
	if m.Provider() != "CPU" {
		t.Skipf("a GPU provider is available (%s): fallback not exercised", m.Provider())
	}
	rc, err := onnx.Open(onnx.Config{Device: "cuda"}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Load(writeCard(t, "gauss_vp_ct32", func(s string) string { return s })); err == nil || !strings.Contains(err.Error(), "CUDA") {
		t.Errorf("device cuda on a CPU-only library: %v", err)
	}
}
