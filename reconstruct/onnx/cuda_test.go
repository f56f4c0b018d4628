package onnx_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tweedie-recon/tweedie/reconstruct/diffusion/gausstest"
	"github.com/tweedie-recon/tweedie/reconstruct/onnx"
)

// cudaLibrary is the CUDA build of scripts/install-onnxruntime-cuda.sh
// (TWEEDIE_ONNX_CUDA_LIBRARY overrides the path).
func cudaLibrary() string {
	if p := os.Getenv("TWEEDIE_ONNX_CUDA_LIBRARY"); p != "" {
		return p
	}
	return filepath.Join(filepath.Dir(onnx.DefaultLibrary), "cuda", "libonnxruntime.so.1")
}

// TestCUDABuild: the CUDA-capable ONNX Runtime (1.29.0, with the CUDA and
// TensorRT providers) loads through onnxruntime_go v1.27.0 and evaluates
// the score models correctly, on whatever device auto finds: on a machine
// without CUDA it must fall back to the CPU with the warning (and device
// cuda must be an error naming CUDA); where a GPU provider opens, it runs
// there. (With the 1.29.0 build of that script and onnxruntime_go v1.27.0
// no GPU provider opens anywhere: the core library is built without
// USE_CUDA, so CreateCUDAProviderOptions answers "not enabled in this
// build" before any CUDA library is looked for; see docs/models.md.) ONNX Runtime
// is loaded once per process, so the checks run in a child process with
// ONNXRUNTIME_SHARED_LIBRARY_PATH pointing at the CUDA build: its child
// test and the package's own library and device tests.
func TestCUDABuild(t *testing.T) {
	lib := cudaLibrary()
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("SKIPPED: no CUDA build of ONNX Runtime at %s (scripts/install-onnxruntime-cuda.sh installs it): %v", lib, err)
	}
	cmd := exec.Command(os.Args[0], "-test.v", "-test.count=1",
		"-test.run=^(TestHelperCUDABuild|TestGaussianModelsMatchGo|TestAutoDeviceFallsBack)$")
	cmd.Env = append(os.Environ(), "TWEEDIE_TEST_CUDA_CHILD=1", onnx.EnvLibrary+"="+lib, onnx.EnvDevice+"=")
	out, err := cmd.CombinedOutput()
	t.Logf("child process with %s=%s:\n%s", onnx.EnvLibrary, lib, out)
	if err != nil {
		t.Fatalf("the CUDA build failed: %v", err)
	}
	for _, want := range []string{"--- PASS: TestHelperCUDABuild", "--- PASS: TestGaussianModelsMatchGo"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the child's output lacks %q", want)
		}
	}
}

// TestHelperCUDABuild is TestCUDABuild's child.
func TestHelperCUDABuild(t *testing.T) {
	if os.Getenv("TWEEDIE_TEST_CUDA_CHILD") == "" {
		t.Skip("child process of TestCUDABuild")
	}
	var log bytes.Buffer
	rt, err := onnx.Open(onnx.Config{Device: "auto"}, zerolog.New(&log).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ONNX Runtime %s from %s", rt.Version(), os.Getenv(onnx.EnvLibrary))
	if rt.Version() != "1.29.0" {
		t.Errorf("the CUDA build reports ONNX Runtime %s, want 1.29.0", rt.Version())
	}
	m, err := rt.Load(filepath.Join(testdata, "gauss_vp_mr32.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("device auto → provider %s", m.Provider())
	tol := 2e-4
	if m.Provider() == "CPU" {
		if !strings.Contains(log.String(), "no GPU execution provider could be used") {
			t.Errorf("device auto fell back to the CPU without the warning; log:\n%s", log.String())
		}
		t.Logf("the fallback's warning: %s", strings.TrimSpace(log.String()))
	} else {
		tol = 5e-3 // TF32 and other GPU arithmetic
	}
	// x̂0 against the Go implementation of the same Gaussian prior.
	d, err := m.Denoiser(32, 32)
	if err != nil {
		t.Fatal(err)
	}
	info := d.Info()
	g, err := gausstest.LoadPrior(testdata, 32, info.Channels, info.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	x := make([]float32, n*info.ImageLen())
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37) * 1.3)
	}
	worst := 0.0
	for _, u := range []float64{0.05, 0.3, 0.7, 1} {
		lv := info.Schedule.At(u)
		a, b := make([]float32, len(x)), make([]float32, len(x))
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
	t.Logf("%s on %s, batch %d: worst relative difference of x̂0 from the Go prior %.2g", info.Name, m.Provider(), n, worst)
	if worst > tol {
		t.Errorf("x̂0 differs from the Go prior by %.2g (> %.g)", worst, tol)
	}
}
