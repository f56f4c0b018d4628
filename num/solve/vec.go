package solve

import (
	"errors"
	"fmt"
	"math"

	"github.com/tweedie-recon/tweedie/num/linop"
)

// Sentinel errors, wrapped with context by the solvers.
var (
	// ErrShape reports vectors whose lengths do not fit the operators.
	ErrShape = errors.New("solve: length mismatch")
	// ErrConfig reports a configuration value out of its range.
	ErrConfig = errors.New("solve: bad configuration")
	// ErrBreakdown reports a numerical breakdown (e.g. CG met a direction
	// of non-positive curvature: the operator is not positive definite).
	ErrBreakdown = errors.New("solve: breakdown")
)

// Info reports how an iteration ended.
type Info struct {
	// Iter is the number of iterations run.
	Iter int
	// Converged is true when the stopping tolerance was met before MaxIter.
	Converged bool
	// Residual is the last value of the algorithm's stopping measure
	// (relative residual for CG, relative change for FISTA and SIRT, the
	// primal residual for ADMM and PDHG).
	Residual float64
	// DualResidual is the last dual residual (ADMM and PDHG only).
	DualResidual float64
}

// Prox is a proximal map applied in place:
//
//	x ← prox_{t·R}(x) = argmin_z ½‖z − x‖² + t·R(z).
//
// The solvers pass t = (penalty weight)·(step).
type Prox[T linop.Scalar] func(x []T, t float64)

// scalar converts a real number to T.
func scalar[T linop.Scalar](a float64) T { return linop.FromComplex[T](complex(a, 0)) }

// rdot is Re⟨a, b⟩.
func rdot[T linop.Scalar](a, b []T) float64 { return real(linop.Dot(a, b)) }

// checkLen returns an ErrShape error naming the vector when got ≠ want.
func checkLen(what string, want, got int) error {
	if want != got {
		return fmt.Errorf("%w: %s has length %d, want %d", ErrShape, what, got, want)
	}
	return nil
}

// checkOp checks that an operator exists and has positive lengths.
func checkOp[T linop.Scalar](name string, a linop.Op[T]) error {
	if a == nil {
		return fmt.Errorf("%w: operator %s is nil", ErrConfig, name)
	}
	if a.InLen() <= 0 || a.OutLen() <= 0 {
		return fmt.Errorf("%w: operator %s has lengths %d → %d", ErrShape, name, a.InLen(), a.OutLen())
	}
	return nil
}

// checkParam rejects NaN, infinite and negative values (and zero when
// positive is set).
func checkParam(name string, v float64, positive bool) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || (positive && v == 0) {
		return fmt.Errorf("%w: %s = %g", ErrConfig, name, v)
	}
	return nil
}

// initial returns a copy of x0, or zeros when x0 is nil.
func initial[T linop.Scalar](x0 []T, n int) ([]T, error) {
	x := make([]T, n)
	if x0 != nil {
		if err := checkLen("x0", n, len(x0)); err != nil {
			return nil, err
		}
		copy(x, x0)
	}
	return x, nil
}

// sub computes dst = a − b.
func sub[T linop.Scalar](dst, a, b []T) {
	for i := range dst {
		dst[i] = a[i] - b[i]
	}
}

// normDiff returns ‖a − b‖.
func normDiff[T linop.Scalar](a, b []T) float64 {
	switch av := any(a).(type) {
	case []float32:
		bv := any(b).([]float32)
		var s float64
		for i := range av {
			d := float64(av[i]) - float64(bv[i])
			s += d * d
		}
		return math.Sqrt(s)
	case []complex64:
		bv := any(b).([]complex64)
		var s float64
		for i := range av {
			d := av[i] - bv[i]
			s += float64(real(d))*float64(real(d)) + float64(imag(d))*float64(imag(d))
		}
		return math.Sqrt(s)
	}
	panic("unreachable")
}

// sumOp is the operator A + ρB for Hermitian A and B, used for the ADMM
// x-update (AᴴA + ρDᴴD).
type sumOp[T linop.Scalar] struct {
	a, b linop.Op[T]
	rho  T
	tmp  []T
}

func (s *sumOp[T]) InLen() int  { return s.a.InLen() }
func (s *sumOp[T]) OutLen() int { return s.a.OutLen() }
func (s *sumOp[T]) Apply(dst, src []T) {
	s.a.Apply(dst, src)
	s.b.Apply(s.tmp, src)
	linop.Axpy(dst, s.rho, s.tmp)
}
func (s *sumOp[T]) Adjoint(dst, src []T) { s.Apply(dst, src) }
