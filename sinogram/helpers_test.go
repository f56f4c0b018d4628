package sinogram

import (
	"io"
	"math"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/tweedie-recon/tweedie/internal/shareddata"
)

// loadCT returns slice i of a CT stack in HU and its side.
func loadCT(t testing.TB, name string, i int) ([]float32, int) {
	t.Helper()
	p := shareddata.Path(t, "ct", name)
	v, shape, err := readNPY(p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if len(shape) != 3 || shape[1] != shape[2] || i >= shape[0] {
		t.Fatalf("%s: shape %v", name, shape)
	}
	n := shape[1]
	return v[i*n*n : (i+1)*n*n], n
}

// muImage converts HU to attenuation (1/mm), clipped at 0.
func muImage(hu []float32) []float32 {
	mu := make([]float32, len(hu))
	if err := HUToMu(mu, hu, DefaultMuWater); err != nil {
		panic(err)
	}
	for i, v := range mu {
		if v < 0 {
			mu[i] = 0
		}
	}
	return mu
}

var (
	pyOnce    sync.Once
	pyMissing string
)

// python runs a script with /usr/bin/python3 (skipping when it or
// scikit-image is missing) and returns its output.
func python(t testing.TB, script string, args ...string) string {
	t.Helper()
	const py = "/usr/bin/python3"
	pyOnce.Do(func() {
		if _, err := os.Stat(py); err != nil {
			pyMissing = "no " + py
			return
		}
		if err := exec.Command(py, "-c", "import skimage.transform").Run(); err != nil {
			pyMissing = "python3 without scikit-image"
		}
	})
	if pyMissing != "" {
		t.Skip(pyMissing)
	}
	out, err := exec.Command(py, append([]string{"-c", script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	return string(out)
}

func maxOf(x []float32) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	return m
}

// psnr as fastMRI: 20·log10(max ref) − 10·log10(MSE), over the image.
func psnr(ref, x []float32) float64 {
	var s float64
	for i := range ref {
		d := float64(x[i]) - float64(ref[i])
		s += d * d
	}
	mse := s / float64(len(ref))
	return 20*math.Log10(maxOf(ref)) - 10*math.Log10(mse)
}

// ssim as fastMRI (skimage structural_similarity with win_size 7, uniform
// window, K1 0.01, K2 0.03, data_range = max ref, sample covariance),
// averaged over the valid region of one slice.
func ssim(ref, x []float32, rows, cols int) float64 {
	const w = 7
	L := maxOf(ref)
	c1, c2 := math.Pow(0.01*L, 2), math.Pow(0.03*L, 2)
	np := float64(w * w)
	cov := np / (np - 1)
	var sum float64
	cnt := 0
	for r := 0; r+w <= rows; r++ {
		for c := 0; c+w <= cols; c++ {
			var sx, sy, sxx, syy, sxy float64
			for i := 0; i < w; i++ {
				for j := 0; j < w; j++ {
					a := float64(ref[(r+i)*cols+c+j])
					b := float64(x[(r+i)*cols+c+j])
					sx += a
					sy += b
					sxx += a * a
					syy += b * b
					sxy += a * b
				}
			}
			ux, uy := sx/np, sy/np
			vx := cov * (sxx/np - ux*ux)
			vy := cov * (syy/np - uy*uy)
			vxy := cov * (sxy/np - ux*uy)
			sum += ((2*ux*uy + c1) * (2*vxy + c2)) / ((ux*ux + uy*uy + c1) * (vx + vy + c2))
			cnt++
		}
	}
	return sum / float64(cnt)
}

// testOut receives one-line result summaries (discarded unless
// TWEEDIE_RESULTS names a file).
var testOut = resultsWriter()

func resultsWriter() io.Writer {
	if p := os.Getenv("TWEEDIE_RESULTS"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			return f
		}
	}
	return io.Discard
}
