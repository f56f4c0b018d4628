package solve

import (
	"fmt"
	"math"

	"github.com/tweedie-recon/tweedie/num/linop"
)

// ADMMConfig configures ADMM. Zero fields take the defaults.
type ADMMConfig[T linop.Scalar] struct {
	// Lambda is the penalty weight λ (≥ 0).
	Lambda float64
	// Rho is the augmented-Lagrangian parameter ρ (> 0, default 1).
	Rho float64
	// MaxIter bounds the outer iterations (default 50).
	MaxIter int
	// CG configures the x-update (default 10 iterations, Tol 1e-6); each
	// x-update starts from the previous x.
	CG CGConfig
	// Shrink is the proximal map of ‖·‖ in the range of D: nil selects
	// SoftThreshold (anisotropic ℓ1); GroupProx(2, rows·cols) gives
	// isotropic TV for a Grad2D.
	Shrink Prox[T]
	// AbsTol and RelTol stop by the primal and dual residuals of Boyd et
	// al. §3.3.1 (both 0, the default: run MaxIter):
	//   ‖r‖ ≤ √p·AbsTol + RelTol·max(‖Dx‖, ‖z‖),
	//   ‖s‖ ≤ √n·AbsTol + RelTol·ρ‖Dᴴu‖.
	AbsTol, RelTol float64
	// Relax is the over-relaxation α of Boyd et al. §3.4.3 (0 means 1,
	// none): the z- and u-updates use αDx + (1−α)z_prev in place of Dx.
	// Values in 1.5–1.8 often halve the iterations.
	Relax float64
	// Z0 and U0 warm-start the split variable and the scaled dual (nil:
	// z = Dx₀, u = 0). They are not modified.
	Z0, U0 []T
	// Callback, when set, sees each iterate; returning false stops.
	Callback func(iter int, x []T) bool
}

// ADMMState is the split variable and scaled dual at exit, for warm starts
// across calls (e.g. one ADMM iteration per diffusion step).
type ADMMState[T linop.Scalar] struct {
	Z, U []T
}

// ADMM solves
//
//	min_x ½‖A x − y‖² + λ‖D x‖₁
//
// by the alternating direction method of multipliers in scaled form (Boyd
// et al. 2011, §3.1.1; generalised lasso/TV §6.4.1), with the split z = Dx:
//
//	x ← argmin ½‖Ax − y‖² + (ρ/2)‖Dx − z + u‖²
//	    i.e. (AᴴA + ρDᴴD) x = Aᴴy + ρDᴴ(z − u)        (by CG, warm-started)
//	z ← prox_{(λ/ρ)‖·‖}(Dx + u)                         (Shrink)
//	u ← u + Dx − z
//
// D is any operator (Grad2D for TV, DiffZ for TV along z, a wavelet
// transform for ℓ1-wavelets). The x-update needs AᴴA + ρDᴴD positive
// definite: D's null space must meet A's only at 0. It returns the new x
// and the state (z, u) for warm starts.
func ADMM[T linop.Scalar](a, d linop.Op[T], y, x0 []T, cfg ADMMConfig[T]) ([]T, ADMMState[T], Info, error) {
	var info Info
	var st ADMMState[T]
	if cfg.Rho == 0 {
		cfg.Rho = 1
	}
	if cfg.MaxIter == 0 {
		cfg.MaxIter = 50
	}
	if cfg.CG.MaxIter == 0 {
		cfg.CG.MaxIter = 10
	}
	if cfg.CG.Tol == 0 {
		cfg.CG.Tol = 1e-6
	}
	if cfg.Shrink == nil {
		cfg.Shrink = SoftThreshold[T]
	}
	if err := checkOp("A", a); err != nil {
		return nil, st, info, err
	}
	if err := checkOp("D", d); err != nil {
		return nil, st, info, err
	}
	n := a.InLen()
	if d.InLen() != n {
		return nil, st, info, fmt.Errorf("%w: ADMM: A takes %d, D takes %d", ErrShape, n, d.InLen())
	}
	if err := checkLen("y", a.OutLen(), len(y)); err != nil {
		return nil, st, info, err
	}
	if cfg.MaxIter < 0 {
		return nil, st, info, fmt.Errorf("%w: ADMM MaxIter = %d", ErrConfig, cfg.MaxIter)
	}
	for _, p := range []struct {
		n   string
		v   float64
		pos bool
	}{{"ADMM Lambda", cfg.Lambda, false}, {"ADMM Rho", cfg.Rho, true}, {"ADMM AbsTol", cfg.AbsTol, false}, {"ADMM RelTol", cfg.RelTol, false}} {
		if err := checkParam(p.n, p.v, p.pos); err != nil {
			return nil, st, info, err
		}
	}
	x, err := initial(x0, n)
	if err != nil {
		return nil, st, info, err
	}
	m := d.OutLen()
	dx := make([]T, m)
	d.Apply(dx, x)
	z := make([]T, m)
	u := make([]T, m)
	if cfg.Z0 != nil {
		if err := checkLen("Z0", m, len(cfg.Z0)); err != nil {
			return nil, st, info, err
		}
		copy(z, cfg.Z0)
	} else {
		copy(z, dx)
	}
	if cfg.U0 != nil {
		if err := checkLen("U0", m, len(cfg.U0)); err != nil {
			return nil, st, info, err
		}
		copy(u, cfg.U0)
	}
	rho := scalar[T](cfg.Rho)
	normal := &sumOp[T]{a: linop.NewNormal(a), b: linop.NewNormal(d), rho: rho, tmp: make([]T, n)}
	aty := make([]T, n)
	a.Adjoint(aty, y)
	rhs := make([]T, n)
	zu := make([]T, m)
	zPrev := make([]T, m)
	tmpN := make([]T, n)
	dxh := make([]T, m)
	alpha := cfg.Relax
	if alpha == 0 {
		alpha = 1
	}
	if !(alpha > 0 && alpha < 2) {
		return nil, st, info, fmt.Errorf("%w: ADMM Relax = %g, want 0 < α < 2", ErrConfig, cfg.Relax)
	}
	for it := 1; it <= cfg.MaxIter; it++ {
		// rhs = Aᴴy + ρDᴴ(z − u)
		sub(zu, z, u)
		d.Adjoint(rhs, zu)
		for i := range rhs {
			rhs[i] = aty[i] + rho*rhs[i]
		}
		xNew, _, err := CG[T](normal, rhs, x, cfg.CG)
		if err != nil {
			return x, ADMMState[T]{Z: z, U: u}, info, fmt.Errorf("ADMM x-update at iteration %d: %w", it, err)
		}
		x = xNew
		// z = shrink(Dx̂ + u), u += Dx̂ − z with Dx̂ = αDx + (1−α)z_prev
		d.Apply(dx, x)
		copy(zPrev, z)
		if alpha != 1 {
			a1, a0 := scalar[T](alpha), scalar[T](1-alpha)
			for i := range dxh {
				dxh[i] = a1*dx[i] + a0*zPrev[i]
			}
		} else {
			copy(dxh, dx)
		}
		for i := range z {
			z[i] = dxh[i] + u[i]
		}
		cfg.Shrink(z, cfg.Lambda/cfg.Rho)
		for i := range u {
			u[i] += dxh[i] - z[i]
		}
		info.Iter = it
		// primal residual r = Dx − z, dual residual s = ρDᴴ(z − z_prev)
		info.Residual = normDiff(dx, z)
		sub(zu, z, zPrev)
		d.Adjoint(tmpN, zu)
		info.DualResidual = cfg.Rho * linop.Norm2(tmpN)
		if cfg.AbsTol > 0 || cfg.RelTol > 0 {
			epsPri := math.Sqrt(float64(m))*cfg.AbsTol + cfg.RelTol*math.Max(linop.Norm2(dx), linop.Norm2(z))
			d.Adjoint(tmpN, u)
			epsDual := math.Sqrt(float64(n))*cfg.AbsTol + cfg.RelTol*cfg.Rho*linop.Norm2(tmpN)
			if info.Residual <= epsPri && info.DualResidual <= epsDual {
				info.Converged = true
				break
			}
		}
		if cfg.Callback != nil && !cfg.Callback(it, x) {
			break
		}
	}
	return x, ADMMState[T]{Z: z, U: u}, info, nil
}
