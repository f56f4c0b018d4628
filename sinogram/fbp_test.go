package sinogram

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

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

// relErrDisk is ‖x − ref‖/‖ref‖ over the pixels within radius (pixels) of
// the centre.
func relErrDisk(ref, x []float32, n int, radius float64) float64 {
	var e, s float64
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			dx, dy := float64(c)-float64(n-1)/2, float64(r)-float64(n-1)/2
			if dx*dx+dy*dy > radius*radius {
				continue
			}
			i := r*n + c
			d := float64(x[i] - ref[i])
			e += d * d
			s += float64(ref[i]) * float64(ref[i])
		}
	}
	return math.Sqrt(e / s)
}

// TestFBPInvertsProjector: FBP(A x) ≈ x for parallel and fan beams, every
// filter, so the scaling of both is right.
func TestFBPInvertsProjector(t *testing.T) {
	const n = 96
	const px = 0.9
	img := smoothPhantom(n)
	grid := Square(n, px)
	pg := ParallelGeometry{AnglesDeg: EvenAngles(240, 0, 180), NDet: 140, DetSpacing: px}
	fg := FanGeometry{AnglesDeg: EvenAngles(360, 0, 360), NDet: 200, SourceIso: 300, SourceDet: 500, DetSpacing: 1.2}
	pp, err := NewParallelProjector(pg, grid)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := NewFanProjector(fg, grid)
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := pp.Project(img)
	fs, _ := fp.Project(img)
	// a 360° parallel scan must give the same image
	pg360 := pg
	pg360.AnglesDeg = EvenAngles(480, 0, 360)
	pp360, _ := NewParallelProjector(pg360, grid)
	ps360, _ := pp360.Project(img)
	for _, f := range []Filter{RamLak, SheppLogan, Cosine, Hamming, Hann} {
		tol := 0.005
		if f == Hamming || f == Hann || f == Cosine {
			tol = 0.01 // smoothing windows blur the small blob
		}
		xp, err := FBPParallel(pg, grid, ps, FBPConfig{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		xp360, err := FBPParallel(pg360, grid, ps360, FBPConfig{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		xf, err := FBPFan(fg, grid, fs, FBPConfig{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		ep, ep360, ef := relErrDisk(img, xp, n, 40), relErrDisk(img, xp360, n, 40), relErrDisk(img, xf, n, 40)
		t.Logf("%-11v parallel %.4f, parallel 360° %.4f, fan %.4f", f, ep, ep360, ef)
		if ep > tol || ep360 > tol || ef > tol {
			t.Errorf("%v: FBP relative errors parallel %.4f, 360° %.4f, fan %.4f > %.2f", f, ep, ep360, ef, tol)
		}
	}
	// off-centre detectors and a shifted rotation axis
	gridS := grid
	gridS.ShiftRow, gridS.ShiftCol = 0.5, -1.5
	pgO := pg
	pgO.CenterOffset = 3.5
	fgO := fg
	fgO.CenterOffset = -2.25
	ppO, _ := NewParallelProjector(pgO, gridS)
	fpO, _ := NewFanProjector(fgO, gridS)
	psO, _ := ppO.Project(img)
	fsO, _ := fpO.Project(img)
	xpO, err := FBPParallel(pgO, gridS, psO, FBPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	xfO, err := FBPFan(fgO, gridS, fsO, FBPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if ep, ef := relErrDisk(img, xpO, n, 40), relErrDisk(img, xfO, n, 40); ep > 0.005 || ef > 0.005 {
		t.Errorf("offset geometries: FBP relative errors parallel %.4f, fan %.4f", ep, ef)
	}
	if _, err := ParseFilter("ramp"); err != nil {
		t.Error(err)
	}
	if f, err := ParseFilter("Hann"); err != nil || f != Hann {
		t.Errorf("ParseFilter(Hann) = %v, %v", f, err)
	}
	if _, err := ParseFilter("butterworth"); err == nil {
		t.Error("unknown filter accepted")
	}
	if _, err := NewParallelFBP(pg, grid, FBPConfig{Cutoff: 2}); err == nil {
		t.Error("cutoff 2 accepted")
	}
	f, _ := NewParallelFBP(pg, grid, FBPConfig{})
	if err := f.Reconstruct(make([]float32, 5), ps); err == nil {
		t.Error("short output accepted")
	}
	if err := f.Reconstruct(make([]float32, n*n), ps[:10]); err == nil {
		t.Error("short sinogram accepted")
	}
}

// TestFBPVersusIradon is the interoperability test: a sinogram made by
// skimage.transform.radon(circle=False) with 720 angles over [0, 180) from
// the validation chest slice (attenuation) is reconstructed by tweedie's
// FBP (Ram-Lak) and by skimage's iradon(filter_name='ramp'); tweedie must
// be within 0.5 dB of iradon's PSNR against the true image, or better.
func TestFBPVersusIradon(t *testing.T) {
	hu, n := loadCT(t, "ct1_chest_hu_256.npy", 0)
	mu := muImage(hu)
	dir := t.TempDir()
	if err := writeNPY(filepath.Join(dir, "mu.npy"), mu, n, n); err != nil {
		t.Fatal(err)
	}
	out := python(t, `import numpy as np, sys, time
from skimage.transform import radon, iradon
from skimage.metrics import structural_similarity
d = sys.argv[1]
mu = np.load(d + '/mu.npy').astype(np.float64)
theta = np.arange(720) * 0.25
s = radon(mu, theta, circle=False)
np.save(d + '/sk.npy', s.astype(np.float32))
best = 1e9
for _ in range(3):
    t0 = time.perf_counter()
    r = iradon(s, theta, filter_name='ramp', circle=False)
    best = min(best, time.perf_counter() - t0)
np.save(d + '/iradon.npy', r.astype(np.float32))
print(best, structural_similarity(mu, r, win_size=7, data_range=mu.max()))`, dir)
	f := strings.Fields(out)
	if len(f) < 2 {
		t.Fatalf("python printed %q", out)
	}
	pyTime, _ := strconv.ParseFloat(f[len(f)-2], 64)
	pySSIM, _ := strconv.ParseFloat(f[len(f)-1], 64)
	sk, shape, err := readNPY(filepath.Join(dir, "sk.npy"))
	if err != nil {
		t.Fatal(err)
	}
	ir, _, err := readNPY(filepath.Join(dir, "iradon.npy"))
	if err != nil {
		t.Fatal(err)
	}
	const px = 0.957
	theta := EvenAngles(720, 0, 180)
	g, grid, err := ForSkimageRadon(n, theta, px)
	if err != nil {
		t.Fatal(err)
	}
	sino, err := FromSkimage(sk, shape[0], shape[1], px)
	if err != nil {
		t.Fatal(err)
	}
	fbp, err := NewParallelFBP(g, grid, FBPConfig{Filter: RamLak})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, n*n)
	goTime := math.Inf(1)
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		if err := fbp.Reconstruct(x, sino); err != nil {
			t.Fatal(err)
		}
		goTime = math.Min(goTime, time.Since(t0).Seconds())
	}
	pT, pI := psnr(mu, x), psnr(mu, ir)
	sT, sI := ssim(mu, x, n, n), ssim(mu, ir, n, n)
	t.Logf("720 views, 256²: PSNR tweedie %.2f dB, iradon %.2f dB; SSIM %.4f, %.4f (skimage's own SSIM of iradon %.4f)", pT, pI, sT, sI, pySSIM)
	t.Logf("time: tweedie FBP %.1f ms, iradon %.1f ms: %.1f× faster", goTime*1e3, pyTime*1e3, pyTime/goTime)
	if pT < pI-0.5 {
		t.Errorf("tweedie FBP %.2f dB is more than 0.5 dB below iradon %.2f dB", pT, pI)
	}
	if math.Abs(sI-pySSIM) > 1e-3 {
		t.Errorf("SSIM helper %.5f disagrees with skimage %.5f", sI, pySSIM)
	}
	// the same reconstruction in skimage's pixel units: tweedie's FBP of
	// the unscaled sinogram with a 1-pixel geometry gives the same image,
	// to the round-off of the complex64 filter FFT (num/fft: ~1e-5 of the
	// ramp-filtered image; a geometry off by a fraction of a pixel is ≫ 1e-3)
	g1, grid1, _ := ForSkimageRadon(n, theta, 1)
	sino1, _ := FromSkimage(sk, shape[0], shape[1], 1)
	x1, err := FBPParallel(g1, grid1, sino1, FBPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if d := relErrDisk(x, x1, n, float64(n)); d > 1e-4 {
		t.Errorf("pixel and mm geometries differ by %g", d)
	}
	fmt.Fprintf(testOut, "FBP720 psnr_tweedie=%.3f psnr_iradon=%.3f ssim_tweedie=%.4f ssim_iradon=%.4f go_ms=%.1f py_ms=%.1f\n", pT, pI, sT, sI, goTime*1e3, pyTime*1e3)
}
