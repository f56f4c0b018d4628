package solve

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/tweedie-recon/tweedie/num/linop"
)

// PowerConfig configures PowerIteration. Zero fields take the defaults.
type PowerConfig struct {
	// MaxIter bounds the iterations (default 50).
	MaxIter int
	// Tol stops when the eigenvalue estimate changes by less than Tol
	// relative (default 1e-4).
	Tol float64
	// Seed of the random start vector (fixed, so results repeat).
	Seed uint64
}

// PowerIteration returns an estimate of the largest eigenvalue of the
// Hermitian positive semi-definite operator N (e.g. AᴴA):
//
//	v ← N v / ‖N v‖,   λ ≈ ⟨v, N v⟩ (the Rayleigh quotient),
//
// from a random start. The estimate approaches λ_max from below, so
// callers that need a safe Lipschitz constant add a margin (FISTA and PDHG
// multiply by 1.01).
func PowerIteration[T linop.Scalar](n linop.Op[T], cfg PowerConfig) (float64, error) {
	if cfg.MaxIter == 0 {
		cfg.MaxIter = 50
	}
	if cfg.Tol == 0 {
		cfg.Tol = 1e-4
	}
	if err := checkOp("N", n); err != nil {
		return 0, err
	}
	if n.InLen() != n.OutLen() {
		return 0, fmt.Errorf("%w: power iteration needs a square operator, got %d → %d", ErrShape, n.InLen(), n.OutLen())
	}
	if cfg.MaxIter < 0 {
		return 0, fmt.Errorf("%w: power iteration MaxIter = %d", ErrConfig, cfg.MaxIter)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	v := make([]T, n.InLen())
	w := make([]T, n.InLen())
	linop.Random(rng, v)
	linop.Scale(v, scalar[T](1/linop.Norm2(v)))
	lam := 0.0
	for it := 0; it < cfg.MaxIter; it++ {
		n.Apply(w, v)
		est := rdot(v, w) // Rayleigh quotient, ‖v‖ = 1
		nw := linop.Norm2(w)
		if nw == 0 || math.IsNaN(nw) {
			return est, nil
		}
		v, w = w, v
		linop.Scale(v, scalar[T](1/nw))
		if it > 0 && math.Abs(est-lam) <= cfg.Tol*math.Abs(est) {
			return est, nil
		}
		lam = est
	}
	return lam, nil
}

// NormalNorm returns ‖AᴴA‖ = ‖A‖², the Lipschitz constant of the gradient
// of ½‖Ax − y‖², by power iteration on AᴴA.
func NormalNorm[T linop.Scalar](a linop.Op[T], cfg PowerConfig) (float64, error) {
	if err := checkOp("A", a); err != nil {
		return 0, err
	}
	return PowerIteration[T](linop.NewNormal(a), cfg)
}
