package sinogram

import (
	"fmt"
	"testing"
	"time"
)

// simulate returns the reference μ image (n×n, 0.957 mm), the sinogram of
// the same piecewise-constant object on a 2n×2n grid of half-size pixels
// (so the data are not made by the operator that reconstructs them: no
// inverse crime), and the n×n projector, for views parallel views over
// [0, 180) and skimage's detector (⌈√2·n⌉ bins of one pixel).
func simulate(t testing.TB, hu []float32, n, views int) ([]float32, []float32, *Projector) {
	t.Helper()
	mu := muImage(hu)
	const px = 0.957
	g := ParallelGeometry{AnglesDeg: EvenAngles(views, 0, 180), NDet: SkimageDetectors(n), DetSpacing: px}
	fine, err := NewParallelProjector(g, Square(2*n, px/2))
	if err != nil {
		t.Fatal(err)
	}
	sino, err := fine.Project(upsample2(mu, n))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewParallelProjector(g, Square(n, px))
	if err != nil {
		t.Fatal(err)
	}
	return mu, sino, p
}

// TestSparseViewTV: on the validation chest slice, ADMM-TV must beat FBP
// in PSNR and SSIM by a margin at 8 and 16 views (32 views too unless
// -short). PDHG-TV and SIRT are measured alongside.
func TestSparseViewTV(t *testing.T) {
	hu, n := loadCT(t, "ct1_chest_hu_256.npy", 0)
	viewSets := []int{8, 16, 32}
	if testing.Short() {
		viewSets = viewSets[:2]
	}
	for _, views := range viewSets {
		mu, sino, p := simulate(t, hu, n, views)
		type res struct {
			name       string
			psnr, ssim float64
			secs       float64
		}
		var rs []res
		run := func(name string, f func() ([]float32, error)) []float32 {
			t0 := time.Now()
			x, err := f()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			rs = append(rs, res{name, psnr(mu, x), ssim(mu, x, n, n), time.Since(t0).Seconds()})
			return x
		}
		fbp := func(f Filter) func() ([]float32, error) {
			return func() ([]float32, error) {
				r, err := NewFBPFor(p, FBPConfig{Filter: f})
				if err != nil {
					return nil, err
				}
				x := make([]float32, n*n)
				return x, r.Reconstruct(x, sino)
			}
		}
		run("FBP ram-lak", fbp(RamLak))
		run("FBP hann", fbp(Hann))
		run("SIRT 100", func() ([]float32, error) { return ReconstructSIRT(p, sino, SIRTConfig{}) })
		run("ADMM-TV", func() ([]float32, error) { return ReconstructADMMTV(p, sino, TVConfig{}) })
		if !testing.Short() {
			run("PDHG-TV", func() ([]float32, error) { return ReconstructPDHGTV(p, sino, TVConfig{}) })
		}
		for _, r := range rs {
			t.Logf("%2d views %-12s PSNR %6.2f dB  SSIM %.4f  %6.2f s", views, r.name, r.psnr, r.ssim, r.secs)
			fmt.Fprintf(testOut, "sparse views=%d method=%q psnr=%.3f ssim=%.4f secs=%.3f\n", views, r.name, r.psnr, r.ssim, r.secs)
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
