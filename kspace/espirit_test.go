package kspace

import (
	"github.com/tweedie-recon/tweedie/internal/barttest"
	"github.com/tweedie-recon/tweedie/num/array"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/tweedie-recon/tweedie/internal/shareddata"
)

// espiritPhantom simulates fully sampled 8-coil k-space of a Shepp–Logan
// phantom with a smooth phase, and returns it with the true maps.
func espiritPhantom(t testing.TB, rows, cols, coils int, noise float64, seed uint64) (ksp, maps []complex64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	img := RealToComplex(SheppLogan(rows, cols))
	ph := SmoothPhase(rows, cols, 1.5, rng)
	for i := range img {
		img[i] *= ph[i]
	}
	maps, err := CoilMaps(rows, cols, CoilConfig{Coils: coils, Rotation: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	ksp, _, err = Simulate(img, maps, FullMask(rows, cols), noise, rng)
	if err != nil {
		t.Fatal(err)
	}
	return ksp, maps
}

// mapAgreement compares two sets of unit-norm maps pixel by pixel over the
// pixels where both are non-zero: p(x) = |Σ_c conj(A_c)·B_c| (1 when they
// agree up to a phase per pixel). It returns the mean, the minimum, the
// fraction of pixels with p ≥ 0.95, the number of such pixels, and the
// agreement of the phases after one global rotation,
// |Σ_x Σ_c conj(A_c)·B_c| / Σ_x |Σ_c conj(A_c)·B_c|.
func mapAgreement(a, b []complex64, coils, n int) (mean, minP, frac95 float64, count int, phase float64) {
	minP = 1
	var sum complex128
	var sumAbs float64
	for i := 0; i < n; i++ {
		var na, nb float64
		var dot complex128
		for c := 0; c < coils; c++ {
			x, y := complex128(a[c*n+i]), complex128(b[c*n+i])
			na += real(x * cmplx.Conj(x))
			nb += real(y * cmplx.Conj(y))
			dot += cmplx.Conj(x) * y
		}
		if na == 0 || nb == 0 {
			continue
		}
		p := cmplx.Abs(dot) / math.Sqrt(na*nb)
		mean += p
		minP = min(minP, p)
		if p >= 0.95 {
			frac95++
		}
		count++
		sum += dot
		sumAbs += cmplx.Abs(dot)
	}
	if count == 0 {
		return 0, 0, 0, 0, 0
	}
	return mean / float64(count), minP, frac95 / float64(count), count, cmplx.Abs(sum) / sumAbs
}

func supportCount(m []complex64, n int) int {
	k := 0
	for i := 0; i < n; i++ {
		if m[i] != 0 {
			k++
		}
	}
	return k
}

func TestESPIRiTRecoversSimulatedMaps(t *testing.T) {
	const rows, cols, coils = 128, 112, 6
	ksp, truth := espiritPhantom(t, rows, cols, coils, 0, 1)
	res, err := ESPIRiT(ksp, coils, rows, cols, ESPIRiTConfig{})
	if err != nil {
		t.Fatal(err)
	}
	n := rows * cols
	if res.CalibRows != 24 || res.CalibCols != 24 {
		t.Errorf("calibration region %d×%d, want 24×24", res.CalibRows, res.CalibCols)
	}
	// unit norm where not cropped
	for i := 0; i < n; i++ {
		var s float64
		for c := 0; c < coils; c++ {
			v := res.Maps[c*n+i]
			s += float64(real(v)*real(v) + imag(v)*imag(v))
		}
		if s != 0 && math.Abs(s-1) > 1e-5 {
			t.Fatalf("pixel %d: Σ|S|² = %g", i, s)
		}
		if (s != 0) != (res.Eigenvalues[i] >= 0.8) {
			t.Fatalf("pixel %d: eigenvalue %g but maps norm² %g", i, res.Eigenvalues[i], s)
		}
	}
	// inside the object, the maps are the truth up to a phase per pixel
	obj := SheppLogan(rows, cols)
	masked := make([]complex64, len(truth))
	for c := 0; c < coils; c++ {
		for i := 0; i < n; i++ {
			if obj[i] != 0 {
				masked[c*n+i] = truth[c*n+i]
			}
		}
	}
	mean, minP, frac, cnt, _ := mapAgreement(masked, res.Maps, coils, n)
	t.Logf("vs truth inside the object (%d px): mean |⟨S_true,S⟩| %.5f, min %.4f, ≥0.95: %.4f; %d kernels", cnt, mean, minP, frac, res.Kernels)
	if cnt < supportCount(masked, n)*99/100 {
		t.Errorf("only %d of %d object pixels have maps", cnt, supportCount(masked, n))
	}
	if mean < 0.999 || minP < 0.98 {
		t.Errorf("maps disagree with the truth: mean %.5f, min %.4f", mean, minP)
	}
}

// denseTop returns the two largest eigenvalues of the point-wise ESPIRiT
// matrix at (n1, n2) and the top eigenvector, from the dense solver.
func denseTop(em *espiritModel, n1, n2 int) (l1, l2 float64, v []complex128) {
	nc := em.coils
	gp := make([]complex128, em.npair*em.cols)
	em.rowMatrices(n1, gp)
	g := make([]complex128, nc*nc)
	em.fill(gp, n2, g)
	vals, vecs, err := hermTopEigen(lowerColMajor(g, nc), nc, func([]float64) int { return 1 })
	if err != nil {
		panic(err)
	}
	l2 = 0
	if nc > 1 {
		l2 = vals[1]
	}
	return vals[0], l2, vecs[0]
}

// projection returns |Σ_c conj(a_c)·b_c| / (‖a‖‖b‖) of pixel i of maps a
// (coils, n) and a vector b.
func projection(a []complex64, coils, n, i int, b []complex128) float64 {
	var dot complex128
	var na, nb float64
	for c := 0; c < coils; c++ {
		x := complex128(a[c*n+i])
		dot += cmplx.Conj(x) * b[c]
		na += real(x * cmplx.Conj(x))
		nb += real(b[c] * cmplx.Conj(b[c]))
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return cmplx.Abs(dot) / math.Sqrt(na*nb)
}

// TestESPIRiTAgainstBART runs `bart ecalib -m1` on the same k-space and
// compares the maps pixel-wise with the phase-invariant statistic
// p(x) = |Σ_c conj(S_tw,c)·S_bart,c| (both unit norm; 1 = the same up to a
// phase per pixel) over the pixels both keep, the crop masks, the
// eigenvalues and the phase convention (global phase coherence
// |Σ_x Σ_c conj(S_tw)·S_bart| / Σ_x |Σ_c conj(S_tw)·S_bart|, 1 when the
// phases agree up to one constant).
//
// BART stops after 30 orthogonal iterations per pixel; where the two largest
// eigenvalues nearly coincide (at the FOV edge of the phantom both are
// ≈ 0.95–0.98) that has not converged. Every pixel with p < 0.99 is
// therefore checked against a dense eigendecomposition of the same
// point-wise matrix: ours must be its top eigenvector.
func TestESPIRiTAgainstBART(t *testing.T) {
	barttest.Path(t)
	for _, tc := range []struct {
		name              string
		rows, cols, coils int
		noise             float64
		args              []string
		cfg               ESPIRiTConfig
	}{
		{"256x256x8 defaults", 256, 256, 8, 0.0, nil, ESPIRiTConfig{}},
		{"256x256x8 1% noise", 256, 256, 8, 0.01, nil, ESPIRiTConfig{}},
		{"160x128x6 r20 k5 c0.9", 160, 128, 6, 0.005, []string{"-r", "20", "-k", "5", "-c", "0.9"},
			ESPIRiTConfig{CalibRows: 20, CalibCols: 20, KernelRows: 5, KernelCols: 5, Crop: 0.9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ksp, _ := espiritPhantom(t, tc.rows, tc.cols, tc.coils, tc.noise, 2)
			if err := array.WriteCFL(filepath.Join(dir, "ksp"), array.CFLDims(tc.coils, 1, tc.rows, tc.cols), ksp); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			barttest.Run(t, dir, append(append([]string{"ecalib", "-m1"}, tc.args...), "ksp", "maps", "ev")...)
			tb := time.Since(t0)
			dims, bm, err := array.ReadCFL(filepath.Join(dir, "maps"))
			if err != nil {
				t.Fatal(err)
			}
			if len(bm) != len(ksp) {
				t.Fatalf("bart maps dims %v", dims)
			}
			_, bev, err := array.ReadCFL(filepath.Join(dir, "ev"))
			if err != nil {
				t.Fatal(err)
			}
			t0 = time.Now()
			res, err := ESPIRiT(ksp, tc.coils, tc.rows, tc.cols, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			tg := time.Since(t0)
			cfg := tc.cfg
			em, _, err := calibrateESPIRiT(ksp, tc.coils, tc.rows, tc.cols, &cfg)
			if err != nil {
				t.Fatal(err)
			}
			n := tc.rows * tc.cols
			mean, minP, frac, cnt, phase := mapAgreement(res.Maps, bm, tc.coils, n)
			// pixels where we disagree: who is right?
			var nDis, oursOK int
			worstOurs, worstBART := 1.0, 1.0
			var evMax float64
			for i := 0; i < n; i++ {
				if res.Maps[i] == 0 || bm[i] == 0 {
					continue // cropped by either: counted in the support comparison
				}
				if p := projection(res.Maps, tc.coils, n, i, complexVec(bm, tc.coils, n, i)); p >= 0.99 {
					if p > 0.99999 {
						evMax = max(evMax, math.Abs(float64(res.Eigenvalues[i])-float64(real(bev[i]))))
					}
					continue
				}
				nDis++
				l1, l2, v := denseTop(em, i/tc.cols, i%tc.cols)
				po, pb := projection(res.Maps, tc.coils, n, i, v), projection(bm, tc.coils, n, i, v)
				worstOurs, worstBART = min(worstOurs, po), min(worstBART, pb)
				if po > 0.9999 && math.Abs(float64(res.Eigenvalues[i])-l1) < 1e-5 {
					oursOK++
				} else {
					t.Logf("pixel (%d, %d): λ₁ %.5f λ₂ %.5f, ours %.5f (p to dense %.5f), bart %.5f (p %.5f)",
						i/tc.cols, i%tc.cols, l1, l2, res.Eigenvalues[i], po, real(bev[i]), pb)
				}
			}
			sb, sg := supportCount(bm, n), supportCount(res.Maps, n)
			t.Logf("%d px kept by both: p mean %.5f, min %.4f, fraction p ≥ 0.95 %.5f; global phase coherence %.5f", cnt, mean, minP, frac, phase)
			t.Logf("%d px with p < 0.99: ours = dense top eigenvector at %d (worst p %.5f), BART's worst p %.4f; max |λ_tw − λ_bart| where p > 0.99999 %.2g",
				nDis, oursOK, worstOurs, worstBART, evMax)
			t.Logf("support: bart %d px, tweedie %d px; time: bart ecalib %v (process, I/O included), ESPIRiT %v; %d kernels",
				sb, sg, tb.Round(time.Millisecond), tg.Round(time.Millisecond), res.Kernels)
			if frac < 0.99 || mean < 0.995 {
				t.Errorf("maps disagree with BART: mean %.5f, fraction ≥ 0.95 %.5f", mean, frac)
			}
			if oursOK != nDis {
				t.Errorf("%d of %d disagreeing pixels are not the dense top eigenvector", nDis-oursOK, nDis)
			}
			if math.Abs(float64(sb-sg)) > 0.01*float64(sb) {
				t.Errorf("supports differ: bart %d, tweedie %d pixels", sb, sg)
			}
			if evMax > 1e-4 {
				t.Errorf("eigenvalues differ from BART's by up to %.3g where the maps agree", evMax)
			}
			if phase < 0.99 {
				t.Errorf("phase convention differs from BART's: coherence %.4f", phase)
			}
		})
	}
}

func complexVec(m []complex64, coils, n, i int) []complex128 {
	v := make([]complex128, coils)
	for c := range v {
		v[c] = complex128(m[c*n+i])
	}
	return v
}

func TestESPIRiTErrors(t *testing.T) {
	ksp := make([]complex64, 2*32*32)
	if _, err := ESPIRiT(ksp, 2, 32, 32, ESPIRiTConfig{}); err == nil {
		t.Error("all-zero k-space accepted")
	}
	if _, err := ESPIRiT(ksp[:10], 2, 32, 32, ESPIRiTConfig{}); err == nil {
		t.Error("short k-space accepted")
	}
	if _, err := ESPIRiT(ksp, 0, 32, 32, ESPIRiTConfig{}); err == nil {
		t.Error("0 coils accepted")
	}
	// 5 ACS columns with a 6×6 kernel: too small
	full, _ := espiritPhantom(t, 32, 32, 2, 0, 1)
	lines := make([]bool, 32)
	for i := 14; i < 19; i++ {
		lines[i] = true
	}
	m := LineMask(32, lines)
	m.Apply(full)
	if _, err := ESPIRiT(full, 2, 32, 32, ESPIRiTConfig{}); err == nil {
		t.Error("5-line calibration region accepted with a 6×6 kernel")
	}
	if _, err := ESPIRiT(full, 2, 32, 32, ESPIRiTConfig{Threshold: 2}); err == nil {
		t.Error("threshold 2 accepted")
	}
}

func TestCalibRegion(t *testing.T) {
	const rows, cols = 64, 48
	ksp := make([]complex64, rows*cols)
	// fully sampled 10 columns (centre 24) over all rows
	lines, _, _ := EquispacedACS(cols, 4, 10.0/48)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			if lines[c] {
				ksp[r*cols+c] = 1
			}
		}
	}
	cr, cc := calibRegion(ksp, 1, rows, cols, 24, 24)
	if cr != 24 || cc != 10 {
		t.Errorf("calibration region %d×%d, want 24×10", cr, cc)
	}
	// every column sampled: limited by the maximum
	for i := range ksp {
		ksp[i] = 1
	}
	if cr, cc := calibRegion(ksp, 1, rows, cols, 20, 30); cr != 20 || cc != 30 {
		t.Errorf("calibration region %d×%d, want 20×30", cr, cc)
	}
}

// TestESPIRiTRealImage calibrates on a real slice (Colin27, the training
// subject: this checks calibration, it is not an evaluation) with 4×
// equispaced sampling and compares with bart ecalib.
func TestESPIRiTRealImage(t *testing.T) {
	path := shareddata.Path(t, "mri", "colin27_t1_axial_256.npy")
	barttest.Path(t)
	a, err := array.ReadNPYFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, cols := a.Shape[1], a.Shape[2]
	n := rows * cols
	sl := 80
	img := RealToComplex(a.Float32[sl*n : (sl+1)*n])
	rng := rand.New(rand.NewPCG(4, 4))
	ph := SmoothPhase(rows, cols, 1, rng)
	for i := range img {
		img[i] *= ph[i]
	}
	const coils = 8
	maps, _ := CoilMaps(rows, cols, CoilConfig{Coils: coils})
	lines, acc, err := EquispacedACS(cols, 4, 0.08)
	if err != nil {
		t.Fatal(err)
	}
	ksp, _, err := Simulate(img, maps, LineMask(rows, lines), 0.01, rng)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	array.WriteCFL(filepath.Join(dir, "ksp"), array.CFLDims(coils, 1, rows, cols), ksp)
	barttest.Run(t, dir, "ecalib", "-m1", "ksp", "maps")
	_, bm, err := array.ReadCFL(filepath.Join(dir, "maps"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := ESPIRiT(ksp, coils, rows, cols, ESPIRiTConfig{})
	if err != nil {
		t.Fatal(err)
	}
	mean, minP, frac, cnt, phase := mapAgreement(res.Maps, bm, coils, n)
	t.Logf("Colin27 slice %d, 4× equispaced (actual %.2f), ACS %d×%d: p mean %.5f, min %.4f, ≥0.95 %.5f over %d px; support bart %d, tweedie %d; phase coherence %.4f",
		sl, acc, res.CalibRows, res.CalibCols, mean, minP, frac, cnt, supportCount(bm, n), supportCount(res.Maps, n), phase)
	if frac < 0.995 {
		t.Errorf("maps disagree with BART on a real image: fraction ≥ 0.95 is %.4f", frac)
	}
}

// BenchmarkESPIRiT256x8 is ESPIRiT with BART's defaults on 256×256×8.
func BenchmarkESPIRiT256x8(b *testing.B) {
	ksp, _ := espiritPhantom(b, 256, 256, 8, 0.01, 2)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ESPIRiT(ksp, 8, 256, 256, ESPIRiTConfig{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBARTEcalib256x8 is one `bart ecalib -m1` process on the same
// data (file I/O and process start included; see BenchmarkBARTCopy256x8
// for that overhead alone).
func BenchmarkBARTEcalib256x8(b *testing.B) {
	bart := barttest.Path(b)
	ksp, _ := espiritPhantom(b, 256, 256, 8, 0.01, 2)
	dir := b.TempDir()
	array.WriteCFL(filepath.Join(dir, "ksp"), array.CFLDims(8, 1, 256, 256), ksp)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		barttest.RunExe(b, dir, bart, "ecalib", "-m1", "ksp", "maps")
	}
}
