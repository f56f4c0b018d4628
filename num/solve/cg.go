package solve

import (
	"fmt"
	"math"

	"github.com/tweedie-recon/tweedie/num/linop"
)

// CGConfig configures CG. Zero fields take the defaults.
type CGConfig struct {
	// MaxIter bounds the iterations (default 50).
	MaxIter int
	// Tol stops when ‖b − A x‖ ≤ Tol·‖b‖ (default 1e-6; float32 data
	// rarely allows much less).
	Tol float64
	// Callback, when set, is called after each iteration with the relative
	// residual; returning false stops the iteration.
	Callback func(iter int, relResidual float64) bool
}

func (c CGConfig) withDefaults() CGConfig {
	if c.MaxIter == 0 {
		c.MaxIter = 50
	}
	if c.Tol == 0 {
		c.Tol = 1e-6
	}
	return c
}

// CG solves A x = b for Hermitian positive definite A by conjugate
// gradients (Hestenes & Stiefel 1952), starting from x0 (nil: zero). It
// returns a new vector. For least squares, pass A = linop.NewNormal(B) and
// b = Bᴴy.
//
// The Hermitian form, in which all inner products conjugate their first
// argument (linop.Dot) and ⟨r, r⟩ and ⟨p, Ap⟩ are real:
//
//	r = b − A x,  p = r,  ρ = ⟨r, r⟩
//	repeat:
//	  q = A p
//	  α = ρ / Re⟨p, q⟩        (⟨p, Ap⟩ is real for Hermitian A)
//	  x ← x + α p
//	  r ← r − α q
//	  ρ' = ⟨r, r⟩;  stop if √ρ' ≤ Tol·‖b‖
//	  p ← r + (ρ'/ρ) p;  ρ = ρ'
//
// Using rᵀr instead of rᴴr on complex data is the classic bug this form
// avoids (see docs/methods.md on DDS). A non-positive ⟨p, Ap⟩
// returns ErrBreakdown with the iterate reached so far.
func CG[T linop.Scalar](a linop.Op[T], b, x0 []T, cfg CGConfig) ([]T, Info, error) {
	cfg = cfg.withDefaults()
	var info Info
	if err := checkOp("A", a); err != nil {
		return nil, info, err
	}
	n := a.InLen()
	if a.OutLen() != n {
		return nil, info, fmt.Errorf("%w: CG needs a square operator, got %d → %d", ErrShape, n, a.OutLen())
	}
	if err := checkLen("b", n, len(b)); err != nil {
		return nil, info, err
	}
	if cfg.MaxIter < 0 {
		return nil, info, fmt.Errorf("%w: CG MaxIter = %d", ErrConfig, cfg.MaxIter)
	}
	if err := checkParam("CG Tol", cfg.Tol, true); err != nil {
		return nil, info, err
	}
	x, err := initial(x0, n)
	if err != nil {
		return nil, info, err
	}
	info, err = cgRun(a, b, x, x0 != nil, cfg, new(CGWork[T]))
	return x, info, err
}

// CGWork holds CG's vectors for reuse across calls of CGInPlace (the
// samplers solve the same size hundreds of times).
type CGWork[T linop.Scalar] struct{ r, q, p []T }

func (w *CGWork[T]) grow(n int) {
	if cap(w.r) < n {
		w.r, w.q, w.p = make([]T, n), make([]T, n), make([]T, n)
	}
	w.r, w.q, w.p = w.r[:n], w.q[:n], w.p[:n]
}

// CGInPlace is CG with the start and the result in x (a zero x starts
// from zero) and its vectors in work: it allocates nothing.
func CGInPlace[T linop.Scalar](a linop.Op[T], b, x []T, cfg CGConfig, work *CGWork[T]) (Info, error) {
	cfg = cfg.withDefaults()
	var info Info
	if err := checkOp("A", a); err != nil {
		return info, err
	}
	n := a.InLen()
	if a.OutLen() != n {
		return info, fmt.Errorf("%w: CG needs a square operator, got %d → %d", ErrShape, n, a.OutLen())
	}
	if err := checkLen("b", n, len(b)); err != nil {
		return info, err
	}
	if err := checkLen("x", n, len(x)); err != nil {
		return info, err
	}
	if cfg.MaxIter < 0 {
		return info, fmt.Errorf("%w: CG MaxIter = %d", ErrConfig, cfg.MaxIter)
	}
	if err := checkParam("CG Tol", cfg.Tol, true); err != nil {
		return info, err
	}
	return cgRun(a, b, x, true, cfg, work)
}

// cgRun iterates from x (from zero when hasX0 is false and x is zero).
func cgRun[T linop.Scalar](a linop.Op[T], b, x []T, hasX0 bool, cfg CGConfig, w *CGWork[T]) (Info, error) {
	var info Info
	n := len(x)
	bnorm := linop.Norm2(b)
	if bnorm == 0 {
		clear(x) // the solution of A x = 0 is 0
		info.Converged = true
		return info, nil
	}
	w.grow(n)
	r, q, p := w.r, w.q, w.p
	// r = b − A x
	if hasX0 {
		a.Apply(q, x)
		sub(r, b, q)
	} else {
		copy(r, b)
	}
	copy(p, r)
	rho := rdot(r, r)
	info.Residual = math.Sqrt(rho) / bnorm
	if info.Residual <= cfg.Tol {
		info.Converged = true
		return info, nil
	}
	for it := 1; it <= cfg.MaxIter; it++ {
		a.Apply(q, p)
		pq := rdot(p, q)
		if !(pq > 0) {
			return info, fmt.Errorf("%w: CG iteration %d: ⟨p, Ap⟩ = %g (operator not positive definite)", ErrBreakdown, it, pq)
		}
		alpha := rho / pq
		linop.Axpy(x, scalar[T](alpha), p)
		linop.Axpy(r, scalar[T](-alpha), q)
		rhoNew := rdot(r, r)
		info.Iter = it
		info.Residual = math.Sqrt(rhoNew) / bnorm
		if info.Residual <= cfg.Tol {
			info.Converged = true
			return info, nil
		}
		if cfg.Callback != nil && !cfg.Callback(it, info.Residual) {
			return info, nil
		}
		beta := scalar[T](rhoNew / rho)
		for i := range p {
			p[i] = r[i] + beta*p[i]
		}
		rho = rhoNew
	}
	return info, nil
}
