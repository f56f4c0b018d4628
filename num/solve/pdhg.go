package solve

import (
	"fmt"
	"math"

	"github.com/tweedie-recon/tweedie/num/linop"
)

// PDHGConfig configures PDHG. Zero fields take the defaults.
type PDHGConfig[T linop.Scalar] struct {
	// Lambda is the penalty weight λ (≥ 0).
	Lambda float64
	// MaxIter bounds the iterations (default 200).
	MaxIter int
	// Kappa scales the D block of K = [A; κD] (the penalty becomes
	// (λ/κ)‖κDx‖, the same problem). 0 balances the blocks,
	// κ = √(‖AᴴA‖/‖DᴴD‖), which matters when A and D differ in scale by
	// orders of magnitude, as a CT projector and a gradient do.
	Kappa float64
	// Tau and Sigma are the primal and dual steps; they need
	// τσ‖K‖² < 1. Both 0: τ = σ = 0.99/‖K‖. One 0: set from the other.
	Tau, Sigma float64
	// Theta is the extrapolation weight (default 1, Chambolle & Pock's θ).
	Theta float64
	// Shrink is the proximal map of ‖·‖ in the range of D (nil:
	// SoftThreshold; GroupProx for isotropic TV).
	Shrink Prox[T]
	// ProxX is the proximal map of an extra term G(x) (nil: none; NonNeg
	// for x ≥ 0 on real images).
	ProxX Prox[T]
	// Tol stops when ‖x_k − x_{k−1}‖ ≤ Tol·‖x_k‖ (default 0: run MaxIter).
	Tol float64
	// Power configures the norm estimates.
	Power PowerConfig
	// Callback, when set, sees each iterate; returning false stops.
	Callback func(iter int, x []T) bool
}

// PDHG solves
//
//	min_x ½‖A x − y‖² + λ‖D x‖₁ + G(x)
//
// by the primal–dual hybrid gradient method of Chambolle & Pock 2011
// (J. Math. Imaging Vis. 40:120–145, Algorithm 1), as Sidky, Jørgensen &
// Pan 2012 apply it to TV-regularised CT. With K = [A; κD], the dual
// variables p (data) and q (penalty), and μ = λ/κ:
//
//	p ← (p + σ(A x̄ − y)) / (1 + σ)                  (prox of σ(½‖·−y‖²)*)
//	q ← v − σ·prox_{(μ/σ)‖·‖}(v/σ),  v = q + σκDx̄    (Moreau: a projection
//	                                                   onto the μ-ball)
//	x' ← prox_{τG}(x − τ(Aᴴp + κDᴴq))
//	x̄ ← x' + θ(x' − x),  x ← x'
//
// It converges for τσ‖K‖² < 1. It returns a new vector.
func PDHG[T linop.Scalar](a, d linop.Op[T], y, x0 []T, cfg PDHGConfig[T]) ([]T, Info, error) {
	var info Info
	if cfg.MaxIter == 0 {
		cfg.MaxIter = 200
	}
	if cfg.Theta == 0 {
		cfg.Theta = 1
	}
	if cfg.Shrink == nil {
		cfg.Shrink = SoftThreshold[T]
	}
	if err := checkOp("A", a); err != nil {
		return nil, info, err
	}
	if err := checkOp("D", d); err != nil {
		return nil, info, err
	}
	n := a.InLen()
	if d.InLen() != n {
		return nil, info, fmt.Errorf("%w: PDHG: A takes %d, D takes %d", ErrShape, n, d.InLen())
	}
	if err := checkLen("y", a.OutLen(), len(y)); err != nil {
		return nil, info, err
	}
	if cfg.MaxIter < 0 {
		return nil, info, fmt.Errorf("%w: PDHG MaxIter = %d", ErrConfig, cfg.MaxIter)
	}
	for _, p := range []struct {
		n string
		v float64
	}{{"PDHG Lambda", cfg.Lambda}, {"PDHG Kappa", cfg.Kappa}, {"PDHG Tau", cfg.Tau}, {"PDHG Sigma", cfg.Sigma}, {"PDHG Tol", cfg.Tol}} {
		if err := checkParam(p.n, p.v, false); err != nil {
			return nil, info, err
		}
	}
	if !(cfg.Theta > 0 && cfg.Theta <= 1) {
		return nil, info, fmt.Errorf("%w: PDHG Theta = %g, want (0, 1]", ErrConfig, cfg.Theta)
	}
	x, err := initial(x0, n)
	if err != nil {
		return nil, info, err
	}
	kappa := cfg.Kappa
	if kappa == 0 {
		la, err := NormalNorm(a, cfg.Power)
		if err != nil {
			return nil, info, err
		}
		ld, err := NormalNorm(d, cfg.Power)
		if err != nil {
			return nil, info, err
		}
		kappa = 1
		if la > 0 && ld > 0 {
			kappa = math.Sqrt(la / ld)
		}
	}
	tau, sigma := cfg.Tau, cfg.Sigma
	if tau == 0 || sigma == 0 {
		kk := &sumOp[T]{a: linop.NewNormal(a), b: linop.NewNormal(d), rho: scalar[T](kappa * kappa), tmp: make([]T, n)}
		l2, err := PowerIteration[T](kk, cfg.Power)
		if err != nil {
			return nil, info, err
		}
		if !(l2 > 0) {
			return nil, info, fmt.Errorf("%w: PDHG: ‖K‖² estimated as %g", ErrBreakdown, l2)
		}
		l2 *= 1.01
		switch {
		case tau == 0 && sigma == 0:
			tau = 0.99 / math.Sqrt(l2)
			sigma = tau
		case tau == 0:
			tau = 0.99 / (l2 * sigma)
		default:
			sigma = 0.99 / (l2 * tau)
		}
	}
	mu := cfg.Lambda / kappa
	m := d.OutLen()
	p := make([]T, a.OutLen())
	q := make([]T, m)
	ax := make([]T, a.OutLen())
	dx := make([]T, m)
	xbar := make([]T, n)
	copy(xbar, x)
	xPrev := make([]T, n)
	g1 := make([]T, n)
	g2 := make([]T, n)
	sig := scalar[T](sigma)
	inv1s := scalar[T](1 / (1 + sigma))
	sk := scalar[T](sigma * kappa)
	invS := scalar[T](1 / sigma)
	tauT := scalar[T](tau)
	kT := scalar[T](kappa)
	theta := scalar[T](cfg.Theta)
	for it := 1; it <= cfg.MaxIter; it++ {
		// data dual
		a.Apply(ax, xbar)
		for i := range p {
			p[i] = (p[i] + sig*(ax[i]-y[i])) * inv1s
		}
		// penalty dual: v = q + σκDx̄; q = v − σ·shrink(v/σ, μ/σ)
		d.Apply(dx, xbar)
		for i := range q {
			q[i] += sk * dx[i]
			dx[i] = q[i] * invS
		}
		cfg.Shrink(dx, mu/sigma)
		for i := range q {
			q[i] -= sig * dx[i]
		}
		// primal
		a.Adjoint(g1, p)
		d.Adjoint(g2, q)
		copy(xPrev, x)
		for i := range x {
			x[i] -= tauT * (g1[i] + kT*g2[i])
		}
		if cfg.ProxX != nil {
			cfg.ProxX(x, tau)
		}
		for i := range xbar {
			xbar[i] = x[i] + theta*(x[i]-xPrev[i])
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
