package reconstruct

// The CT iterative recipes: SIRT, ADMM-TV and PDHG-TV on a sinogram
// Projector, each only assembling the projector (sinogram), the discrete
// gradient and proximal maps (num/solve) and a solver (num/solve).

import (
	"fmt"
	"math"
	"slices"

	"github.com/tweedie-recon/tweedie/num/linop"
	"github.com/tweedie-recon/tweedie/num/solve"
	"github.com/tweedie-recon/tweedie/sinogram"
)

// SIRTConfig configures SIRT.
type SIRTConfig struct {
	// Iter is the number of iterations (default 100).
	Iter int
	// Relax is the relaxation ω in (0, 2) (default 1).
	Relax float64
	// AllowNegative turns off the projection onto x ≥ 0 after each step.
	AllowNegative bool
	// X0 is the starting image (nil: zero).
	X0 []float32
	// Callback, when set, sees each iterate; returning false stops.
	Callback func(iter int, x []float32) bool
}

// SIRT reconstructs a sinogram (views×NDet) by SIRT
// (solve.SIRT) with the projector, projected onto x ≥ 0 unless
// AllowNegative. SIRT needs no parameters but converges slowly and, with
// few views, keeps streaks; it is the classical baseline.
func SIRT(p *sinogram.Projector, sino []float32, cfg SIRTConfig) ([]float32, error) {
	if len(sino) != p.OutLen() {
		return nil, fmt.Errorf("reconstruct: SIRT: sinogram has %d values, want %d views × %d bins", len(sino), p.Views(), p.NDet())
	}
	if cfg.Iter == 0 {
		cfg.Iter = 100
	}
	sc := solve.SIRTConfig[float32]{MaxIter: cfg.Iter, Relax: cfg.Relax, Callback: cfg.Callback}
	if !cfg.AllowNegative {
		sc.ProxX = solve.NonNeg
	}
	x, _, err := solve.SIRT[float32](p, sino, cfg.X0, sc)
	return x, err
}

// Default TV parameters (see TVConfig), chosen by a small grid search
// (Lambda 0.003–0.1, Rho 0.1–3) on slices 30, 50, 60, 70 of the training
// subject (cranium_hu_256) at 8, 16 and 32 parallel views, 100 iterations;
// the validation numbers (chest) are in TestSparseViewTV. They are not the
// λ = 0.04, ρ = 10 of DiffusionMBIR, which are in that code's own scaling.
const (
	DefaultTVLambda = 0.02
	DefaultTVRho    = 0.5
)

// TVConfig configures ADMMTV and PDHGTV, which solve
//
//	min_x ½‖A x − y‖² + λ·TV(x)   subject to x ≥ 0 (unless AllowNegative).
//
// The weights are given relative to the problem so that one setting
// serves any number of views, detector and pixel size and image units:
//
//	λ = Lambda · ImageScale · c̄,   ρ = Rho · c̄,
//
// where c̄ = A.MeanColumnNormSq() = ‖A‖²_F/(Rows·Cols), the mean diagonal
// of AᵀA, which grows linearly with the number of views. With this scaling
// Lambda is roughly the fraction of the image's intensity scale below which
// TV flattens details: doubling the views doubles both λ and ‖Ax − y‖², so
// the balance stays put.
type TVConfig struct {
	// Lambda is the relative TV weight (default DefaultTVLambda).
	Lambda float64
	// Rho is the relative ADMM penalty (default DefaultTVRho); it changes
	// the speed of convergence, not the solution.
	Rho float64
	// Iter is the number of outer iterations (default 100 for ADMM, 500
	// for PDHG).
	Iter int
	// CGIter is the number of CG steps per ADMM x-update (default 5).
	CGIter int
	// Anisotropic selects ‖∇x‖₁ instead of the isotropic Σ|∇x|₂.
	Anisotropic bool
	// AllowNegative drops the constraint x ≥ 0 (which both solvers
	// otherwise enforce: ADMM through its split, PDHG in every step).
	AllowNegative bool
	// ImageScale is the intensity scale of the image (0: the 99th
	// percentile of |FBP| with a Hann filter).
	ImageScale float64
	// X0 is the starting image (nil: FBP with a Hann filter, clipped at 0
	// unless AllowNegative).
	X0 []float32
	// Callback, when set, sees each iterate; returning false stops.
	Callback func(iter int, x []float32) bool
}

// tvSetup validates, fills defaults, computes the start and the scaled
// weights.
func tvSetup(p *sinogram.Projector, sino []float32, cfg *TVConfig, defIter int) (x0 []float32, lambda, rho float64, grad *solve.Grad2D[float32], shrink solve.Prox[float32], err error) {
	if len(sino) != p.OutLen() {
		return nil, 0, 0, nil, nil, fmt.Errorf("reconstruct: TV: sinogram has %d values, want %d views × %d bins", len(sino), p.Views(), p.NDet())
	}
	if cfg.Lambda == 0 {
		cfg.Lambda = DefaultTVLambda
	}
	if cfg.Rho == 0 {
		cfg.Rho = DefaultTVRho
	}
	if cfg.Iter == 0 {
		cfg.Iter = defIter
	}
	if cfg.CGIter == 0 {
		cfg.CGIter = 5
	}
	for _, v := range []struct {
		n string
		v float64
	}{{"Lambda", cfg.Lambda}, {"Rho", cfg.Rho}, {"ImageScale", cfg.ImageScale}} {
		if math.IsNaN(v.v) || math.IsInf(v.v, 0) || v.v < 0 {
			return nil, 0, 0, nil, nil, fmt.Errorf("reconstruct: TV: %s = %g", v.n, v.v)
		}
	}
	if cfg.Iter < 0 || cfg.CGIter < 0 {
		return nil, 0, 0, nil, nil, fmt.Errorf("reconstruct: TV: Iter %d, CGIter %d", cfg.Iter, cfg.CGIter)
	}
	grid := p.Grid()
	grad, err = solve.NewGrad2D[float32](grid.Rows, grid.Cols, 1, solve.Neumann)
	if err != nil {
		return nil, 0, 0, nil, nil, err
	}
	if cfg.Anisotropic {
		shrink = solve.SoftProx[float32]()
	} else {
		shrink = solve.GroupProx[float32](2, grid.Len())
	}
	if cfg.X0 != nil {
		if len(cfg.X0) != p.InLen() {
			return nil, 0, 0, nil, nil, fmt.Errorf("reconstruct: TV: X0 has %d values, want %d", len(cfg.X0), p.InLen())
		}
		x0 = slices.Clone(cfg.X0)
	}
	if x0 == nil || cfg.ImageScale == 0 {
		f, err := sinogram.NewFBPFor(p, sinogram.FBPConfig{Filter: sinogram.Hann, Workers: p.Workers()})
		if err != nil {
			return nil, 0, 0, nil, nil, err
		}
		fbp := make([]float32, p.InLen())
		if err := f.Reconstruct(fbp, sino); err != nil {
			return nil, 0, 0, nil, nil, err
		}
		if cfg.ImageScale == 0 {
			cfg.ImageScale = quantileAbs32(fbp, 0.99)
			if !(cfg.ImageScale > 0) {
				cfg.ImageScale = 1
			}
		}
		if x0 == nil {
			x0 = fbp
			if !cfg.AllowNegative {
				solve.NonNeg(x0, 0)
			}
		}
	}
	cbar := p.MeanColumnNormSq()
	if !(cbar > 0) {
		return nil, 0, 0, nil, nil, fmt.Errorf("reconstruct: TV: no ray crosses the image")
	}
	return x0, cfg.Lambda * cfg.ImageScale * cbar, cfg.Rho * cbar, grad, shrink, nil
}

// quantileAbs32 returns the q-quantile of |x|.
func quantileAbs32(x []float32, q float64) float64 {
	a := make([]float32, len(x))
	for i, v := range x {
		a[i] = float32(math.Abs(float64(v)))
	}
	slices.Sort(a)
	return float64(a[int(q*float64(len(a)-1))])
}

// admmTVIter is ADMMTV's iteration count when TVConfig.Iter is 0.
const admmTVIter = 100

// ADMMTV reconstructs a sinogram (views×NDet) by TV-regularised
// least squares with x ≥ 0 (unless AllowNegative), solved by ADMM
// (solve.ADMM; Boyd et al. 2011 §6.4.1), starting from FBP. The split is
// z = Kx with K = [∇; I] (∇ with Neumann boundary): the z-update shrinks the
// gradient part (isotropic or anisotropic) and projects the identity part
// onto z ≥ 0, which puts the non-negativity constraint inside ADMM; the
// x-update takes CGIter CG steps on AᵀA + ρ(∇ᵀ∇ + I). With AllowNegative
// K = ∇. This is the sparse-view TV reconstruction of Sidky & Pan 2008 in
// ADMM form.
func ADMMTV(p *sinogram.Projector, sino []float32, cfg TVConfig) ([]float32, error) {
	x0, lambda, rho, grad, shrink, err := tvSetup(p, sino, &cfg, admmTVIter)
	if err != nil {
		return nil, err
	}
	var d linop.Op[float32] = grad
	if !cfg.AllowNegative {
		n := p.InLen()
		d = linop.VStack[float32](grad, linop.Identity[float32](n))
		tv := shrink
		shrink = func(z []float32, t float64) {
			tv(z[:2*n], t)
			solve.NonNeg(z[2*n:], t)
		}
	}
	x, _, _, err := solve.ADMM[float32](p, d, sino, x0, solve.ADMMConfig[float32]{
		Lambda: lambda, Rho: rho, MaxIter: cfg.Iter,
		CG:       solve.CGConfig{MaxIter: cfg.CGIter, Tol: 1e-6},
		Shrink:   shrink,
		Callback: cfg.Callback,
	})
	if err != nil {
		return nil, err
	}
	if !cfg.AllowNegative {
		solve.NonNeg(x, 0)
	}
	return x, nil
}

// PDHGTV solves the problem of ADMMTV by the
// Chambolle–Pock primal–dual method (solve.PDHG), with x ≥ 0 enforced in
// every step unless AllowNegative (as in Sidky, Jørgensen & Pan 2012).
// Rho is unused.
func PDHGTV(p *sinogram.Projector, sino []float32, cfg TVConfig) ([]float32, error) {
	x0, lambda, _, grad, shrink, err := tvSetup(p, sino, &cfg, 500)
	if err != nil {
		return nil, err
	}
	pc := solve.PDHGConfig[float32]{Lambda: lambda, MaxIter: cfg.Iter, Shrink: shrink, Callback: cfg.Callback}
	if !cfg.AllowNegative {
		pc.ProxX = solve.NonNeg
	}
	x, _, err := solve.PDHG[float32](p, grad, sino, x0, pc)
	return x, err
}
