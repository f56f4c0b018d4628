package reconstruct

import (
	"math"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/internal/shareddata"
	"github.com/tweedie-recon/tweedie/num/array"
	"github.com/tweedie-recon/tweedie/reconstruct/metrics"
	"github.com/tweedie-recon/tweedie/sinogram"
)

// loadCTSlice returns slice i of a CT stack of the shared data in HU and
// its side.
func loadCTSlice(t testing.TB, name string, i int) ([]float32, int) {
	t.Helper()
	p := shareddata.Path(t, "ct", name)
	a, err := array.ReadNPYFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Float32 == nil || len(a.Shape) != 3 || a.Shape[1] != a.Shape[2] || i >= a.Shape[0] {
		t.Fatalf("%s: dtype %s shape %v", name, a.Dtype, a.Shape)
	}
	n := a.Shape[1]
	return a.Float32[i*n*n : (i+1)*n*n], n
}

// muImage converts HU to attenuation (1/mm), clipped at 0.
func muImage(hu []float32) []float32 {
	mu := make([]float32, len(hu))
	if err := sinogram.HUToMu(mu, hu, sinogram.DefaultMuWater); err != nil {
		panic(err)
	}
	for i, v := range mu {
		mu[i] = max(v, 0)
	}
	return mu
}

// upsample2 replicates each pixel into 2×2 (the same piecewise-constant
// object on a grid of half the pixel size).
func upsample2(img []float32, n int) []float32 {
	out := make([]float32, 4*n*n)
	for r := 0; r < 2*n; r++ {
		for c := 0; c < 2*n; c++ {
			out[r*2*n+c] = img[(r/2)*n+c/2]
		}
	}
	return out
}

// simulateCT returns the reference μ image (n×n, 0.957 mm), the sinogram
// of the same piecewise-constant object on a 2n×2n grid of half-size
// pixels (so the data are not made by the operator that reconstructs them:
// no inverse crime), and the n×n projector, for views parallel views over
// [0, 180) and skimage's detector (⌈√2·n⌉ bins of one pixel).
func simulateCT(t testing.TB, hu []float32, n, views int) ([]float32, []float32, *sinogram.Projector) {
	t.Helper()
	mu := muImage(hu)
	const px = 0.957
	g := sinogram.ParallelGeometry{AnglesDeg: sinogram.EvenAngles(views, 0, 180), NDet: sinogram.SkimageDetectors(n), DetSpacing: px}
	fine, err := sinogram.NewParallelProjector(g, sinogram.Square(2*n, px/2))
	if err != nil {
		t.Fatal(err)
	}
	sino, err := fine.Project(upsample2(mu, n))
	if err != nil {
		t.Fatal(err)
	}
	p, err := sinogram.NewParallelProjector(g, sinogram.Square(n, px))
	if err != nil {
		t.Fatal(err)
	}
	return mu, sino, p
}

// psnrSSIM is fastMRI's PSNR and SSIM of one n×n slice (package metrics).
func psnrSSIM(t testing.TB, ref, x []float32, n int) (float64, float64) {
	t.Helper()
	r, err := metrics.Compare(ref, x, 1, n, n)
	if err != nil {
		t.Fatal(err)
	}
	return r.PSNR, r.SSIM
}

// TestSparseViewTV: on the validation chest slice, ADMM-TV must beat FBP
// in PSNR and SSIM by a margin at 8 and 16 views (32 views too unless
// -short). PDHG-TV and SIRT are measured alongside.
func TestSparseViewTV(t *testing.T) {
	hu, n := loadCTSlice(t, "ct1_chest_hu_256.npy", 0)
	viewSets := []int{8, 16, 32}
	if testing.Short() {
		viewSets = viewSets[:2]
	}
	for _, views := range viewSets {
		mu, sino, p := simulateCT(t, hu, n, views)
		type res struct {
			name       string
			psnr, ssim float64
			secs       float64
		}
		var rs []res
		run := func(name string, f func() ([]float32, error)) {
			t0 := time.Now()
			x, err := f()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ps, ss := psnrSSIM(t, mu, x, n)
			rs = append(rs, res{name, ps, ss, time.Since(t0).Seconds()})
		}
		fbp := func(f sinogram.Filter) func() ([]float32, error) {
			return func() ([]float32, error) {
				r, err := sinogram.NewFBPFor(p, sinogram.FBPConfig{Filter: f})
				if err != nil {
					return nil, err
				}
				x := make([]float32, n*n)
				return x, r.Reconstruct(x, sino)
			}
		}
		run("FBP ram-lak", fbp(sinogram.RamLak))
		run("FBP hann", fbp(sinogram.Hann))
		run("SIRT 100", func() ([]float32, error) { return SIRT(p, sino, SIRTConfig{}) })
		run("ADMM-TV", func() ([]float32, error) { return ADMMTV(p, sino, TVConfig{}) })
		if !testing.Short() {
			run("PDHG-TV", func() ([]float32, error) { return PDHGTV(p, sino, TVConfig{}) })
		}
		for _, r := range rs {
			t.Logf("%2d views %-12s PSNR %6.2f dB  SSIM %.4f  %6.2f s", views, r.name, r.psnr, r.ssim, r.secs)
		}
		bestFBP := rs[0]
		if rs[1].psnr > bestFBP.psnr {
			bestFBP = rs[1]
		}
		tv := rs[3]
		if tv.psnr < bestFBP.psnr+3 || tv.ssim < bestFBP.ssim+0.1 {
			t.Errorf("%d views: ADMM-TV %.2f dB / %.3f does not beat the best FBP %.2f dB / %.3f by 3 dB and 0.1 SSIM",
				views, tv.psnr, tv.ssim, bestFBP.psnr, bestFBP.ssim)
		}
	}
}

// smoothPhantom is a sum of Gaussian blobs on an n×n grid (values ~1).
func smoothPhantom(n int) []float32 {
	img := make([]float32, n*n)
	s := float64(n) / 64
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			x, y := (float64(c)-float64(n)/2)/s, (float64(r)-float64(n)/2)/s
			v := math.Exp(-(x*x+y*y)/300) + 0.5*math.Exp(-((x-8)*(x-8)+(y+6)*(y+6))/20) - 0.3*math.Exp(-((x+7)*(x+7)+(y-9)*(y-9))/30)
			img[r*n+c] = float32(v)
		}
	}
	return img
}

// psnrMax is 20·log10(max ref) − 10·log10(MSE) over the whole image.
func psnrMax(ref, x []float32) float64 {
	var s float64
	for i := range ref {
		d := float64(x[i]) - float64(ref[i])
		s += d * d
	}
	return 20*math.Log10(float64(slices.Max(ref))) - 10*math.Log10(s/float64(len(ref)))
}

// TestIterativeFan: the recipes work with the fan-beam projector too, and
// ADMM-TV improves on FBP there as well.
func TestIterativeFan(t *testing.T) {
	const n = 64
	img := smoothPhantom(n)
	for i := range img {
		img[i] = max(img[i], 0)
	}
	grid := sinogram.Square(n, 1)
	fg := sinogram.FanGeometry{AnglesDeg: sinogram.EvenAngles(12, 0, 360), NDet: 100, SourceIso: 150, SourceDet: 300, DetSpacing: 2}
	p, err := sinogram.NewFanProjector(fg, grid)
	if err != nil {
		t.Fatal(err)
	}
	sino, _ := p.Project(img)
	fbp, err := sinogram.FBPFan(fg, grid, sino, sinogram.FBPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	tv, err := ADMMTV(p, sino, TVConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sirt, err := SIRT(p, sino, SIRTConfig{Iter: 50})
	if err != nil {
		t.Fatal(err)
	}
	pf, pt, ps := psnrMax(img, fbp), psnrMax(img, tv), psnrMax(img, sirt)
	t.Logf("fan 12 views: FBP %.2f dB, SIRT %.2f dB, ADMM-TV %.2f dB", pf, ps, pt)
	if pt < pf+3 {
		t.Errorf("fan ADMM-TV %.2f dB not above FBP %.2f dB", pt, pf)
	}
	for _, v := range tv {
		if v < 0 {
			t.Fatal("negative value in a non-negative reconstruction")
		}
	}
}

func TestIterativeErrors(t *testing.T) {
	p, err := sinogram.NewParallelProjector(sinogram.ParallelGeometry{AnglesDeg: sinogram.EvenAngles(4, 0, 180), NDet: 12, DetSpacing: 1}, sinogram.Square(8, 1))
	if err != nil {
		t.Fatal(err)
	}
	sino := make([]float32, p.OutLen())
	if _, err := ADMMTV(p, sino[:5], TVConfig{}); err == nil {
		t.Error("short sinogram accepted")
	}
	if _, err := PDHGTV(p, sino, TVConfig{Lambda: math.NaN()}); err == nil {
		t.Error("NaN lambda accepted")
	}
	if _, err := ADMMTV(p, sino, TVConfig{X0: make([]float32, 3)}); err == nil {
		t.Error("short X0 accepted")
	}
	if _, err := SIRT(p, sino[:3], SIRTConfig{}); err == nil {
		t.Error("SIRT: short sinogram accepted")
	}
	// all-zero data: zero image, no NaN
	x, err := ADMMTV(p, sino, TVConfig{Iter: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range x {
		if v != 0 {
			t.Fatalf("zero data gave %v", x)
		}
	}
}

// BenchmarkADMMTV16 times a default ADMM-TV reconstruction from 16
// parallel views of the validation chest slice (skimage's geometry, as
// sinogram's BenchmarkFBP720), with the process's CPU time per operation.
func BenchmarkADMMTV16(b *testing.B) {
	hu, n := loadCTSlice(b, "ct1_chest_hu_256.npy", 0)
	g, grid, err := sinogram.ForSkimageRadon(n, sinogram.EvenAngles(16, 0, 180), 0.957)
	if err != nil {
		b.Fatal(err)
	}
	p, err := sinogram.NewParallelProjector(g, grid)
	if err != nil {
		b.Fatal(err)
	}
	sino, _ := p.Project(muImage(hu))
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := ADMMTV(p, sino, TVConfig{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-c0)/1e6/float64(b.N), "cpu-ms/op")
}

// cpuTime is the process's user and system CPU time, which other load on
// the machine disturbs far less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
