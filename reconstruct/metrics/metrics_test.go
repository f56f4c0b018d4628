package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestAgainstScikitImage computes the same measures with scikit-image
// (Debian python3-skimage), the reference fastMRI's evaluate.py calls.
func TestAgainstScikitImage(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import skimage").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3-skimage missing: run scripts/install-deps.sh")
		}
		t.Skip("python3-skimage missing")
	}
	const s, r, c = 3, 40, 33
	rng := rand.New(rand.NewPCG(7, 8))
	ref := make([]float32, s*r*c)
	test := make([]float32, s*r*c)
	for i := range ref {
		v := math.Sin(float64(i%c)/5) + math.Cos(float64(i/c%r)/7) + 2
		ref[i] = float32(v)
		test[i] = float32(v + 0.3*rng.NormFloat64())
	}
	got, err := Compare(ref, test, s, r, c)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(v []float32) string {
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmt.Sprint(x)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	script := fmt.Sprintf(`
import json, numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
gt = np.array(%s, dtype=np.float32).reshape(%d,%d,%d).astype(np.float64)
pr = np.array(%s, dtype=np.float32).reshape(%d,%d,%d).astype(np.float64)
mx = gt.max()
nmse = np.linalg.norm(gt - pr) ** 2 / np.linalg.norm(gt) ** 2
psnr = peak_signal_noise_ratio(gt, pr, data_range=mx)
ssim = np.mean([structural_similarity(gt[i], pr[i], data_range=mx) for i in range(gt.shape[0])])
print(json.dumps({"psnr": psnr, "ssim": ssim, "nmse": nmse}))
`, enc(ref), s, r, c, enc(test), s, r, c)
	out, err := exec.Command(py, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var want Result
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if math.Abs(got.PSNR-want.PSNR) > 1e-4 || math.Abs(got.SSIM-want.SSIM) > 1e-6 || math.Abs(got.NMSE-want.NMSE)/want.NMSE > 1e-6 {
		t.Errorf("tweedie %+v, scikit-image %+v", got, want)
	}
}

func TestIdentityAndErrors(t *testing.T) {
	v := make([]float32, 2*10*10)
	for i := range v {
		v[i] = float32(i % 13)
	}
	r, err := Compare(v, v, 2, 10, 10)
	if err != nil || !math.IsInf(r.PSNR, 1) || math.Abs(r.SSIM-1) > 1e-12 || r.NMSE != 0 {
		t.Errorf("identical volumes: %+v %v", r, err)
	}
	if _, err := Compare(v, v[:10], 2, 10, 10); err == nil {
		t.Error("length mismatch accepted")
	}
	bad := append([]float32(nil), v...)
	bad[5] = float32(math.NaN())
	if _, err := Compare(v, bad, 2, 10, 10); err == nil {
		t.Error("NaN accepted")
	}
}
