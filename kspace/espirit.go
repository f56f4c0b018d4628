package kspace

import (
	"fmt"
	"github.com/tweedie-recon/tweedie/num/fft"
	"github.com/tweedie-recon/tweedie/num/parallel"
	"math"
	"math/cmplx"
	"runtime"
)

// ESPIRiT coil-sensitivity calibration: Uecker M, Lai P, Murphy MJ, Virtue P,
// Elad M, Pauly JM, Vasanawala SS, Lustig M. "ESPIRiT — an eigenvalue
// approach to autocalibrating parallel MRI: where SENSE meets GRAPPA."
// Magn Reson Med 71:990–1001 (2014).
//
// Steps, with BART's `ecalib` defaults (v0.8) in brackets:
//
//  1. Calibration region: the largest centred block of at most
//     CalibRows×CalibCols [24×24, -r] that is fully sampled, grown from the
//     k-space centre as BART's calib_geom does, then moved along cols to
//     the fully sampled position of largest energy (BART's
//     calib_readout_pos, see calibColumn).
//  2. Calibration matrix A: one row per position of a KernelRows×KernelCols
//     [6×6, -k] window inside the region, holding the window's samples of
//     all coils. Its Gram matrix C = AᵀĀ (coils·kernel² square) is
//     eigendecomposed (eigen.go); the eigenvectors with λ_i > Threshold·λ_1
//     [0.001, -t] span the signal subspace (λ = σ², so this is BART's test
//     σ_i/σ_1 > √t on the singular values of A).
//  3. With P the projection on that subspace, every k-space point lies in
//     K = kernel-size windows, and averaging their projections gives the
//     ESPIRiT operator W = (1/K)·Σ_r R_rᴴ·P·R_r, a convolution in k-space:
//     (Wy)_c[q] = Σ_{d,s} h_cd[s]·y_d[q+s] with
//     h_cd[s] = (1/K)·Σ_p P[(c,p), (d,p+s)], s ∈ (−k, k)².
//  4. In image space W is the point-wise coils×coils matrix
//     G(n) = Σ_s h[s]·exp(−2πi·s·(n − N/2)/N) (per axis; the image centre of
//     fft2c sits at N/2), Hermitian with eigenvalues in [0, 1]. The coil
//     sensitivities satisfy G(n)·S(n) = S(n): S(n) is the eigenvector of the
//     largest eigenvalue, which is ≈ 1 inside the object. G is evaluated
//     separably (O(k) per entry and pixel, equivalent to BART's sinc
//     interpolation of the 2k×2k image-space covariance), and the top
//     eigenvector is found per pixel by power iteration warm-started from the
//     neighbouring pixel, with repeated squaring when it converges slowly
//     (BART: 30 orthogonal iterations, fixed).
//  5. Maps are unit vectors, Σ_c |S_c|² = 1, and set to zero where the
//     eigenvalue is below Crop [0.8, -c].
//  6. Phase: as BART (fixphase2 with the first principal component), each
//     pixel's vector is rotated so that Σ_c S_c·conj(v_c) is real and
//     positive, v the principal eigenvector of the coils×coils covariance of
//     the calibration data [with NoPhaseRotation, -P: v = coil 0].
//
// Only one set of maps (BART -m 1) is computed.

// ESPIRiTConfig holds ESPIRiT's parameters; zero values select BART's
// defaults.
type ESPIRiTConfig struct {
	CalibRows, CalibCols   int     // largest calibration region; default 24×24
	KernelRows, KernelCols int     // kernel (window) size; default 6×6
	Threshold              float64 // keep eigenvalues λ_i > Threshold·λ_1 of AᵀĀ; default 0.001
	// Crop zeroes the maps where the eigenvalue is below it; default 0.8.
	// A negative value keeps all pixels (no cropping).
	Crop            float64
	NoPhaseRotation bool // phase relative to coil 0 instead of the principal component
	Workers         int  // goroutines; default runtime.GOMAXPROCS(0)
}

// ESPIRiTResult holds ESPIRiT's sensitivity maps and by-products.
type ESPIRiTResult struct {
	Maps []complex64 // (coils, rows, cols); Σ_c |S_c|² = 1 where not cropped, 0 where cropped
	// Eigenvalues is the largest eigenvalue of the point-wise matrix (rows,
	// cols). Where the trace of that matrix is below Crop (so the pixel is
	// cropped whatever its eigenvector) it is the Rayleigh quotient after four
	// power iterations, a lower bound.
	Eigenvalues []float32
	// Kernels is the number of singular vectors kept.
	Kernels int
	// CalibRows×CalibCols is the calibration region used, starting at
	// (CalibRow0, CalibCol0).
	CalibRows, CalibCols int
	CalibRow0, CalibCol0 int
	// SingularValues of the calibration matrix, decreasing.
	SingularValues []float64
}

// Size limits: coils, the side of the calibration Gram matrix
// (coils·kernel entries; 288 for BART's defaults with 8 coils) and the
// entries of the calibration matrix (windows × Gram side).
const (
	maxCoils     = 128
	maxGram      = 2048
	maxCalMatrix = 1 << 23
)

// ESPIRiT estimates coil sensitivities from multi-coil k-space
// (coils, rows, cols) whose centre holds a fully sampled calibration region.
// Unsampled points must be exactly zero.
func ESPIRiT(ksp []complex64, coils, rows, cols int, cfg ESPIRiTConfig) (*ESPIRiTResult, error) {
	em, res, err := calibrateESPIRiT(ksp, coils, rows, cols, &cfg)
	if err != nil {
		return nil, err
	}
	em.maps(res, cfg.Crop, cfg.Workers)
	return res, nil
}

// espiritModel is the point-wise ESPIRiT matrix G(n) in separable form:
// G_p(n1, n2) = Σ_a er[a·rows + n1]·T[(p·sr + a)·cols + n2] for the coil
// pairs p = (pairC[p], pairD[p]), pairC ≤ pairD.
type espiritModel struct {
	coils, rows, cols int
	sr, npair         int
	pairC, pairD      []int
	t, er             []complex128
	ref               []complex128 // phase reference vector
}

// calibrateESPIRiT does steps 1–4 and the phase reference; it fills the
// defaults into cfg.
func calibrateESPIRiT(ksp []complex64, coils, rows, cols int, cfg *ESPIRiTConfig) (*espiritModel, *ESPIRiTResult, error) {
	if coils < 1 || coils > maxCoils {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: %d coils, want 1…%d", coils, maxCoils)
	}
	if rows < 1 || cols < 1 || rows > fft.MaxLen || cols > fft.MaxLen {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: image size %d×%d out of range", rows, cols)
	}
	if len(ksp) != coils*rows*cols {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: k-space of %d values, want %d coils × %d × %d", len(ksp), coils, rows, cols)
	}
	if cfg.CalibRows == 0 {
		cfg.CalibRows = 24
	}
	if cfg.CalibCols == 0 {
		cfg.CalibCols = 24
	}
	if cfg.KernelRows == 0 {
		cfg.KernelRows = 6
	}
	if cfg.KernelCols == 0 {
		cfg.KernelCols = 6
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = 0.001
	}
	if cfg.Crop == 0 {
		cfg.Crop = 0.8
	}
	if cfg.Workers < 1 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	kr, kc := cfg.KernelRows, cfg.KernelCols
	if kr < 1 || kc < 1 || kr > 32 || kc > 32 || kr > rows || kc > cols {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: kernel %d×%d, want 1…32 per axis and within the image", kr, kc)
	}
	if cfg.CalibRows < 1 || cfg.CalibCols < 1 {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: calibration size %d×%d", cfg.CalibRows, cfg.CalibCols)
	}
	if !(cfg.Threshold >= 0 && cfg.Threshold < 1) {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: threshold %g, want in [0, 1)", cfg.Threshold)
	}
	if math.IsNaN(cfg.Crop) || cfg.Crop >= 1 {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: crop %g, want < 1", cfg.Crop)
	}
	n := rows * cols

	// 1. calibration region
	cr, cc := calibRegion(ksp, coils, rows, cols, cfg.CalibRows, cfg.CalibCols)
	if cr < kr || cc < kc {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: fully sampled calibration region is %d×%d, smaller than the %d×%d kernel", cr, cc, kr, kc)
	}
	r0, c0 := (rows-cr)/2, calibColumn(ksp, coils, rows, cols, cr, cc)
	res := &ESPIRiTResult{CalibRows: cr, CalibCols: cc, CalibRow0: r0, CalibCol0: c0}
	cal := make([]complex128, coils*cr*cc)
	for c := 0; c < coils; c++ {
		for a := 0; a < cr; a++ {
			for b := 0; b < cc; b++ {
				cal[(c*cr+a)*cc+b] = complex128(ksp[c*n+(r0+a)*cols+c0+b])
			}
		}
	}

	// 2. calibration matrix (transposed: one row per kernel entry) and its
	// Gram matrix C[i][j] = Σ_w A[w][i]·conj(A[w][j]).
	K := kr * kc
	N := coils * K
	nwr, nwc := cr-kr+1, cc-kc+1
	nw := nwr * nwc
	if N > maxGram {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: %d coils × %d×%d kernel give a %d² calibration Gram matrix (at most %d²)", coils, kr, kc, N, maxGram)
	}
	if np := coils * (coils + 1) / 2; np*(2*kr-1)*cols > maxCalMatrix*2 {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: %d coils with a %d-row kernel on %d columns need %d interpolation entries (at most %d)", coils, kr, cols, np*(2*kr-1)*cols, maxCalMatrix*2)
	}
	if N*nw > maxCalMatrix {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: calibration matrix of %d×%d entries exceeds %d; use a smaller calibration region", nw, N, maxCalMatrix)
	}
	at := make([]complex128, N*nw)
	for c := 0; c < coils; c++ {
		for pr := 0; pr < kr; pr++ {
			for pc := 0; pc < kc; pc++ {
				row := at[((c*kr+pr)*kc+pc)*nw:]
				for wr := 0; wr < nwr; wr++ {
					for wc := 0; wc < nwc; wc++ {
						row[wr*nwc+wc] = cal[(c*cr+wr+pr)*cc+wc+pc]
					}
				}
			}
		}
	}
	gram := make([]complex128, N*N) // lower triangle, column-major
	parallel.For(cfg.Workers, N, func(next func() (int, bool)) {
		for j, ok := next(); ok; j, ok = next() {
			aj := at[j*nw : (j+1)*nw]
			for i := j; i < N; i++ {
				ai := at[i*nw : (i+1)*nw]
				var sr, si float64
				for w, x := range ai {
					y := aj[w]
					sr += real(x)*real(y) + imag(x)*imag(y)
					si += imag(x)*real(y) - real(x)*imag(y)
				}
				gram[j*N+i] = complex(sr, si)
			}
		}
	})
	thr := cfg.Threshold
	vals, vecs, err := hermTopEigen(gram, N, func(v []float64) int {
		k := 0
		for _, l := range v {
			if v[0] > 0 && l > thr*v[0] {
				k++
			}
		}
		return k
	})
	if err != nil {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: %w", err)
	}
	if vals[0] <= 0 {
		return nil, nil, fmt.Errorf("kspace: ESPIRiT: no signal in the %d×%d calibration region", cr, cc)
	}
	res.Kernels = len(vecs)
	res.SingularValues = make([]float64, len(vals))
	for i, v := range vals {
		res.SingularValues[i] = math.Sqrt(max(v, 0))
	}

	// 3. h_cd[s] = (1/K)·Σ_p P[(c,p),(d,p+s)], P = Σ_i u_i·u_iᴴ; only c ≤ d.
	m := len(vecs)
	u := make([]complex128, N*m) // u[idx·m + i] = vecs[i][idx]
	for i, v := range vecs {
		for idx, z := range v {
			u[idx*m+i] = z
		}
	}
	sr, sc := 2*kr-1, 2*kc-1
	npair := coils * (coils + 1) / 2
	pairC, pairD := make([]int, npair), make([]int, npair)
	for c, p := 0, 0; c < coils; c++ {
		for d := c; d < coils; d++ {
			pairC[p], pairD[p] = c, d
			p++
		}
	}
	h := make([]complex128, npair*sr*sc)
	parallel.For(cfg.Workers, npair, func(next func() (int, bool)) {
		for p, ok := next(); ok; p, ok = next() {
			c, d := pairC[p], pairD[p]
			hp := h[p*sr*sc : (p+1)*sr*sc]
			for pr := 0; pr < kr; pr++ {
				for pc := 0; pc < kc; pc++ {
					ui := u[((c*kr+pr)*kc+pc)*m:][:m]
					for qr := 0; qr < kr; qr++ {
						for qc := 0; qc < kc; qc++ {
							uj := u[((d*kr+qr)*kc+qc)*m:][:m]
							var s complex128
							for i, z := range ui {
								s += z * cmplx.Conj(uj[i])
							}
							hp[(qr-pr+kr-1)*sc+qc-pc+kc-1] += s
						}
					}
				}
			}
			for i := range hp {
				hp[i] /= complex(float64(K), 0)
			}
		}
	})

	// 4. separable evaluation: T[p][a][n2] = Σ_b h_p[a][b]·Ec[b][n2], then
	// G_p(n1, n2) = Σ_a Er[a][n1]·T[p][a][n2].
	er := phaseTable(sr, kr-1, rows)
	ec := phaseTable(sc, kc-1, cols)
	T := make([]complex128, npair*sr*cols)
	parallel.For(cfg.Workers, npair, func(next func() (int, bool)) {
		for p, ok := next(); ok; p, ok = next() {
			for a := 0; a < sr; a++ {
				dst := T[(p*sr+a)*cols : (p*sr+a+1)*cols]
				for b := 0; b < sc; b++ {
					hv := h[(p*sr+a)*sc+b]
					if hv == 0 {
						continue
					}
					e := ec[b*cols : (b+1)*cols]
					for n2 := range dst {
						dst[n2] += hv * e[n2]
					}
				}
			}
		}
	})

	// principal component of the calibration data for the phase reference
	ref := make([]complex128, coils)
	if cfg.NoPhaseRotation {
		ref[0] = 1
	} else {
		cov := make([]complex128, coils*coils)
		L := cr * cc
		for j := 0; j < coils; j++ {
			for i := j; i < coils; i++ {
				var s complex128
				for q := 0; q < L; q++ {
					s += cal[i*L+q] * cmplx.Conj(cal[j*L+q])
				}
				cov[j*coils+i] = s
			}
		}
		_, pv, err := hermTopEigen(cov, coils, func([]float64) int { return 1 })
		if err != nil {
			return nil, nil, fmt.Errorf("kspace: ESPIRiT: %w", err)
		}
		copy(ref, pv[0])
	}

	em := &espiritModel{coils: coils, rows: rows, cols: cols, sr: sr, npair: npair,
		pairC: pairC, pairD: pairD, t: T, er: er, ref: ref}
	return em, res, nil
}

// rowMatrices evaluates G_p(n1, ·) for all pairs into gp (npair·cols).
func (em *espiritModel) rowMatrices(n1 int, gp []complex128) {
	clear(gp)
	cols := em.cols
	for p := 0; p < em.npair; p++ {
		g := gp[p*cols : (p+1)*cols]
		for a := 0; a < em.sr; a++ {
			e := em.er[a*em.rows+n1]
			src := em.t[(p*em.sr+a)*cols : (p*em.sr+a+1)*cols]
			for n2, z := range src {
				g[n2] += e * z
			}
		}
	}
}

// fill copies pixel n2 of a row evaluated by rowMatrices into the full
// coils×coils matrix g.
func (em *espiritModel) fill(gp []complex128, n2 int, g []complex128) {
	nc := em.coils
	for p := 0; p < em.npair; p++ {
		c, d := em.pairC[p], em.pairD[p]
		z := gp[p*em.cols+n2]
		g[c*nc+d] = z
		g[d*nc+c] = cmplx.Conj(z)
	}
	for c := 0; c < nc; c++ {
		g[c*nc+c] = complex(real(g[c*nc+c]), 0)
	}
}

// maps does steps 5–6: per-pixel top eigenvector, crop and phase.
func (em *espiritModel) maps(res *ESPIRiTResult, crop float64, workers int) {
	coils, rows, cols := em.coils, em.rows, em.cols
	n := rows * cols
	ref := em.ref
	res.Maps = make([]complex64, coils*n)
	res.Eigenvalues = make([]float32, n)
	const rowsPerTask = 8
	ntask := (rows + rowsPerTask - 1) / rowsPerTask
	parallel.For(workers, ntask, func(next func() (int, bool)) {
		pw := newPixelEigen(coils)
		gp := make([]complex128, em.npair*cols)
		start := make([]complex128, coils)
		for t, ok := next(); ok; t, ok = next() {
			copy(start, ref)
			for n1 := t * rowsPerTask; n1 < min(rows, (t+1)*rowsPerTask); n1++ {
				em.rowMatrices(n1, gp)
				copy(pw.v, start)
				for n2 := 0; n2 < cols; n2++ {
					em.fill(gp, n2, pw.g)
					lam := pw.top(crop)
					if n2 == 0 {
						copy(start, pw.v)
					}
					pix := n1*cols + n2
					res.Eigenvalues[pix] = float32(lam)
					if crop >= 0 && lam < crop {
						continue
					}
					// phase: Σ_c S_c·conj(ref_c) real and positive
					var phi complex128
					for c := 0; c < coils; c++ {
						phi += pw.v[c] * cmplx.Conj(ref[c])
					}
					rot := complex128(1)
					if a := cmplx.Abs(phi); a > 0 {
						rot = cmplx.Conj(phi) / complex(a, 0)
					}
					for c := 0; c < coils; c++ {
						res.Maps[c*n+pix] = complex64(pw.v[c] * rot)
					}
				}
			}
		}
	})
}

// calibRegion grows a centred fully sampled block from 1×1 up to
// maxR×maxC, alternating the axes (cols first, BART's dims[0]), as BART's
// calib_geom does. A point counts as sampled when any coil is non-zero.
func calibRegion(ksp []complex64, coils, rows, cols, maxR, maxC int) (int, int) {
	n := rows * cols
	sampled := func(r, c int) bool {
		for k := 0; k < coils; k++ {
			if ksp[k*n+r*cols+c] != 0 {
				return true
			}
		}
		return false
	}
	full := func(cr, cc int) bool {
		r0, c0 := (rows-cr)/2, (cols-cc)/2
		for r := r0; r < r0+cr; r++ {
			for c := c0; c < c0+cc; c++ {
				if !sampled(r, c) {
					return false
				}
			}
		}
		return true
	}
	if !full(1, 1) {
		return 0, 0
	}
	dims := [2]int{cols, rows}
	lim := [2]int{maxC, maxR}
	cal := [2]int{1, 1}
	var stop [2]bool
	for !(stop[0] && stop[1]) {
		for i := 0; i < 2; i++ {
			if cal[i] >= dims[i] || cal[i] >= lim[i] {
				stop[i] = true
			}
			if stop[i] {
				continue
			}
			cal[i]++
			if !full(cal[1], cal[0]) {
				cal[i]--
				stop[i] = true
			}
		}
	}
	return cal[1], cal[0]
}

// calibColumn returns the first column of the calibration window: among
// the positions where the cr×cc window (rows centred) is fully sampled, the
// one of largest energy, the first on ties, starting from the left. This is
// BART's calib_readout_pos, which slides the window along BART's dims[0]
// (READ_DIM) — our cols axis on identical bytes — so that `bart ecalib`
// and ESPIRiT use the same data; for even windows it often moves one column
// off (cols − cc)/2.
func calibColumn(ksp []complex64, coils, rows, cols, cr, cc int) int {
	n := rows * cols
	r0 := (rows - cr) / 2
	colEnergy := make([]float64, cols)
	colFull := make([]bool, cols)
	for c := 0; c < cols; c++ {
		full := true
		for r := r0; r < r0+cr; r++ {
			any := false
			for k := 0; k < coils; k++ {
				v := ksp[k*n+r*cols+c]
				colEnergy[c] += float64(real(v))*float64(real(v)) + float64(imag(v))*float64(imag(v))
				any = any || v != 0
			}
			full = full && any
		}
		colFull[c] = full
	}
	best, bestE := (cols-cc)/2, -1.0
	for c0 := 0; c0+cc <= cols; c0++ {
		e, ok := 0.0, true
		for c := c0; c < c0+cc; c++ {
			e += colEnergy[c]
			ok = ok && colFull[c]
		}
		if ok && e > bestE {
			best, bestE = c0, e
		}
	}
	return best
}

// phaseTable returns E[a·size + x] = exp(−2πi·(a − off)·(x − size/2)/size)
// for a < na.
func phaseTable(na, off, size int) []complex128 {
	e := make([]complex128, na*size)
	for a := 0; a < na; a++ {
		s := a - off
		for x := 0; x < size; x++ {
			// reduce the integer product first to keep the angle small
			k := (s * (x - size/2)) % size
			sn, cs := math.Sincos(-2 * math.Pi * float64(k) / float64(size))
			e[a*size+x] = complex(cs, sn)
		}
	}
	return e
}

// pixelEigen finds the top eigenpair of a small Hermitian PSD matrix g.
type pixelEigen struct {
	nc      int
	g, m, t []complex128
	v, w    []complex128
}

func newPixelEigen(nc int) *pixelEigen {
	return &pixelEigen{nc: nc, g: make([]complex128, nc*nc), m: make([]complex128, nc*nc),
		t: make([]complex128, nc*nc), v: make([]complex128, nc), w: make([]complex128, nc)}
}

// top runs power iteration on g from the current v (a unit vector) and
// returns the Rayleigh quotient vᴴgv; v holds the eigenvector. When the
// trace of g is below crop the pixel will be cropped anyway and only a few
// iterations are spent on the eigenvalue.
func (pe *pixelEigen) top(crop float64) float64 {
	nc := pe.nc
	var tr float64
	for c := 0; c < nc; c++ {
		tr += real(pe.g[c*nc+c])
	}
	if !(tr > 0) {
		return 0
	}
	maxIt := 200
	if crop >= 0 && tr < crop {
		maxIt = 4
	}
	copy(pe.m, pe.g)
	const tol2 = 1e-12
	for it := 0; it < maxIt; it++ {
		var nrm float64
		for r := 0; r < nc; r++ {
			row := pe.m[r*nc : (r+1)*nc]
			var s complex128
			for c, z := range row {
				s += z * pe.v[c]
			}
			pe.w[r] = s
			nrm += real(s)*real(s) + imag(s)*imag(s)
		}
		if nrm == 0 {
			// start vector orthogonal to everything: restart
			for c := range pe.v {
				pe.v[c] = complex(1/math.Sqrt(float64(nc)), 0)
			}
			if it > 0 {
				return 0
			}
			continue
		}
		inv := 1 / math.Sqrt(nrm)
		var diff float64
		for c := range pe.v {
			z := pe.w[c] * complex(inv, 0)
			d := z - pe.v[c]
			diff += real(d)*real(d) + imag(d)*imag(d)
			pe.v[c] = z
		}
		if diff < tol2 {
			break
		}
		if it%16 == 15 {
			pe.square()
		}
	}
	// Rayleigh quotient with the original matrix
	var lam float64
	for r := 0; r < nc; r++ {
		var s complex128
		for c := 0; c < nc; c++ {
			s += pe.g[r*nc+c] * pe.v[c]
		}
		lam += real(cmplx.Conj(pe.v[r]) * s)
	}
	return lam
}

// square replaces m by m²/‖m²‖_max, which squares the eigenvalue ratios.
func (pe *pixelEigen) square() {
	nc := pe.nc
	var mx float64
	for r := 0; r < nc; r++ {
		for c := 0; c < nc; c++ {
			var s complex128
			for k := 0; k < nc; k++ {
				s += pe.m[r*nc+k] * pe.m[k*nc+c]
			}
			pe.t[r*nc+c] = s
			mx = max(mx, math.Abs(real(s))+math.Abs(imag(s)))
		}
	}
	if mx == 0 {
		return
	}
	for i, z := range pe.t {
		pe.m[i] = z / complex(mx, 0)
	}
}
