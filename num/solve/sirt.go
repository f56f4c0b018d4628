package solve

import (
	"fmt"

	"github.com/tweedie-recon/tweedie/num/linop"
)

// SIRTConfig configures SIRT. Zero fields take the defaults.
type SIRTConfig[T linop.Scalar] struct {
	// MaxIter bounds the iterations (default 100).
	MaxIter int
	// Relax is the relaxation ω in (0, 2) (default 1).
	Relax float64
	// Tol stops when ‖x_k − x_{k−1}‖ ≤ Tol·‖x_k‖ (default 0: run MaxIter).
	Tol float64
	// ProxX, when set, is applied after each update (NonNeg for x ≥ 0).
	ProxX Prox[T]
	// Callback, when set, sees each iterate; returning false stops.
	Callback func(iter int, x []T) bool
}

// SIRT solves A x ≈ y for an operator with non-negative entries (a
// projector) by the simultaneous iterative reconstruction technique
// (Gilbert 1972; in the matrix form of Gregor & Benson 2008):
//
//	x ← x + ω C Aᴴ R (y − A x),
//	R = diag(1 / Σ_j a_ij)  (inverse row sums,    R = 1/(A·1)),
//	C = diag(1 / Σ_i a_ij)  (inverse column sums, C = 1/(Aᴴ·1)),
//
// which converges for 0 < ω < 2 to the minimiser of ‖Ax − y‖²_R nearest
// x₀ in the C⁻¹ norm. Rows or columns whose sum is zero (rays missing the
// image, pixels no ray crosses) get weight 0. For complex T the sums use
// the real parts of A·1 and Aᴴ·1, so the method is meant for real
// non-negative A.
func SIRT[T linop.Scalar](a linop.Op[T], y, x0 []T, cfg SIRTConfig[T]) ([]T, Info, error) {
	var info Info
	if cfg.MaxIter == 0 {
		cfg.MaxIter = 100
	}
	if cfg.Relax == 0 {
		cfg.Relax = 1
	}
	if err := checkOp("A", a); err != nil {
		return nil, info, err
	}
	if err := checkLen("y", a.OutLen(), len(y)); err != nil {
		return nil, info, err
	}
	if cfg.MaxIter < 0 {
		return nil, info, fmt.Errorf("%w: SIRT MaxIter = %d", ErrConfig, cfg.MaxIter)
	}
	if !(cfg.Relax > 0 && cfg.Relax < 2) {
		return nil, info, fmt.Errorf("%w: SIRT Relax = %g, want (0, 2)", ErrConfig, cfg.Relax)
	}
	if err := checkParam("SIRT Tol", cfg.Tol, false); err != nil {
		return nil, info, err
	}
	x, err := initial(x0, a.InLen())
	if err != nil {
		return nil, info, err
	}
	n, m := a.InLen(), a.OutLen()
	ones := make([]T, max(n, m))
	for i := range ones {
		ones[i] = 1
	}
	rw := make([]T, m)
	cw := make([]T, n)
	a.Apply(rw, ones[:n])
	a.Adjoint(cw, ones[:m])
	invert := func(v []T, scale float64) {
		for i, s := range v {
			r := real(toC(s))
			if r > 1e-12 {
				v[i] = scalar[T](scale / r)
			} else {
				v[i] = 0
			}
		}
	}
	invert(rw, 1)
	invert(cw, cfg.Relax)
	res := make([]T, m)
	upd := make([]T, n)
	xPrev := make([]T, n)
	for it := 1; it <= cfg.MaxIter; it++ {
		copy(xPrev, x)
		a.Apply(res, x)
		for i := range res {
			res[i] = rw[i] * (y[i] - res[i])
		}
		a.Adjoint(upd, res)
		for i := range x {
			x[i] += cw[i] * upd[i]
		}
		if cfg.ProxX != nil {
			cfg.ProxX(x, 1)
		}
		info.Iter = it
		info.Residual = normDiff(x, xPrev)
		if nx := linop.Norm2(x); nx > 0 {
			info.Residual /= nx
		}
		if cfg.Tol > 0 && info.Residual <= cfg.Tol {
			info.Converged = true
			break
		}
		if cfg.Callback != nil && !cfg.Callback(it, x) {
			break
		}
	}
	return x, info, nil
}

// toC widens a scalar to complex128.
func toC[T linop.Scalar](v T) complex128 {
	switch s := any(v).(type) {
	case float32:
		return complex(float64(s), 0)
	case complex64:
		return complex128(s)
	}
	return 0
}
