package solve

import (
	"fmt"
	"math"

	"github.com/tweedie-recon/tweedie/num/linop"
)

// FISTAConfig configures FISTA. Zero fields take the defaults.
type FISTAConfig[T linop.Scalar] struct {
	// Lambda is the penalty weight λ (≥ 0).
	Lambda float64
	// MaxIter bounds the iterations (default 100).
	MaxIter int
	// Step is the gradient step 1/L; 0 estimates L = ‖AᴴA‖ by
	// PowerIteration (with a 1 % margin).
	Step float64
	// Tol stops when ‖x_k − x_{k−1}‖ ≤ Tol·‖x_k‖ (default 0: run MaxIter).
	Tol float64
	// Restart enables the gradient-based adaptive restart of O'Donoghue &
	// Candès 2015: the momentum resets when ⟨y_k − x_k, x_k − x_{k−1}⟩ > 0.
	Restart bool
	// Power configures the estimate of L when Step is 0.
	Power PowerConfig
	// Callback, when set, sees each iterate; returning false stops.
	Callback func(iter int, x []T) bool
}

// FISTA solves
//
//	min_x ½‖A x − y‖² + λ R(x)
//
// by the fast iterative shrinkage-thresholding algorithm of Beck &
// Teboulle 2009 (SIAM J. Imaging Sci. 2(1):183–202, §4), given the
// proximal map of R. With step 1/L, L = ‖AᴴA‖, t₁ = 1, z₁ = x₀:
//
//	x_k     = prox_{(λ/L)R}( z_k − (1/L) Aᴴ(A z_k − y) )
//	t_{k+1} = (1 + √(1 + 4t_k²)) / 2
//	z_{k+1} = x_k + ((t_k − 1)/t_{k+1}) (x_k − x_{k−1})
//
// prox may be nil (R = 0: accelerated least squares). It returns a new
// vector.
func FISTA[T linop.Scalar](a linop.Op[T], y, x0 []T, prox Prox[T], cfg FISTAConfig[T]) ([]T, Info, error) {
	var info Info
	if cfg.MaxIter == 0 {
		cfg.MaxIter = 100
	}
	if err := checkOp("A", a); err != nil {
		return nil, info, err
	}
	if err := checkLen("y", a.OutLen(), len(y)); err != nil {
		return nil, info, err
	}
	if cfg.MaxIter < 0 {
		return nil, info, fmt.Errorf("%w: FISTA MaxIter = %d", ErrConfig, cfg.MaxIter)
	}
	for _, p := range []struct {
		n string
		v float64
	}{{"FISTA Lambda", cfg.Lambda}, {"FISTA Step", cfg.Step}, {"FISTA Tol", cfg.Tol}} {
		if err := checkParam(p.n, p.v, false); err != nil {
			return nil, info, err
		}
	}
	x, err := initial(x0, a.InLen())
	if err != nil {
		return nil, info, err
	}
	step := cfg.Step
	if step == 0 {
		l, err := NormalNorm(a, cfg.Power)
		if err != nil {
			return nil, info, err
		}
		if !(l > 0) {
			return nil, info, fmt.Errorf("%w: FISTA: ‖AᴴA‖ estimated as %g", ErrBreakdown, l)
		}
		step = 1 / (1.01 * l)
	}
	n := a.InLen()
	z := make([]T, n)
	copy(z, x)
	xPrev := make([]T, n)
	grad := make([]T, n)
	res := make([]T, a.OutLen())
	t := 1.0
	stepT := scalar[T](-step)
	for it := 1; it <= cfg.MaxIter; it++ {
		copy(xPrev, x)
		// x = prox(z − step·Aᴴ(A z − y))
		a.Apply(res, z)
		sub(res, res, y)
		a.Adjoint(grad, res)
		copy(x, z)
		linop.Axpy(x, stepT, grad)
		if prox != nil {
			prox(x, cfg.Lambda*step)
		}
		tNew := (1 + math.Sqrt(1+4*t*t)) / 2
		if cfg.Restart && rdotDiff(z, x, xPrev) > 0 {
			// ⟨z − x, x − x_prev⟩ > 0: the momentum points uphill
			t, tNew = 1, 1
		}
		mom := scalar[T]((t - 1) / tNew)
		for i := range z {
			z[i] = x[i] + mom*(x[i]-xPrev[i])
		}
		t = tNew
		info.Iter = it
		nx := linop.Norm2(x)
		info.Residual = normDiff(x, xPrev)
		if nx > 0 {
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

// rdotDiff returns Re⟨z − x, x − p⟩.
func rdotDiff[T linop.Scalar](z, x, p []T) float64 {
	var s float64
	switch zv := any(z).(type) {
	case []float32:
		xv, pv := any(x).([]float32), any(p).([]float32)
		for i := range zv {
			s += float64(zv[i]-xv[i]) * float64(xv[i]-pv[i])
		}
	case []complex64:
		xv, pv := any(x).([]complex64), any(p).([]complex64)
		for i := range zv {
			a, b := zv[i]-xv[i], xv[i]-pv[i]
			s += float64(real(a))*float64(real(b)) + float64(imag(a))*float64(imag(b))
		}
	}
	return s
}
