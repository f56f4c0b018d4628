package diffusion

import (
	"errors"
	"fmt"

	"github.com/tweedie-recon/tweedie/num/linop"
	"github.com/tweedie-recon/tweedie/num/solve"
)

// mbirState is DiffusionMBIR's data step for one sample's volume: one ADMM
// iteration (scaled form; Boyd et al. 2011, §3.1.1) per diffusion step for
//
//	min_x ½‖x − b‖² + m·[(γ/2)‖Ax − y‖² + λ‖D_z x‖₁],
//
// b the volume of denoised (DDS) or current (Score-MRI) slices, m the
// step's scale (1 for DDS, ε for Score-MRI), A block-diagonal over slices:
//
//	x ← CG(I + mγAᴴA + mρD_zᴴD_z, b + mγAᴴy + mρD_zᴴ(d − u)) from b
//	d ← soft(D_z x + u, λ/ρ)
//	u ← u + D_z x − d
//
// with d and u kept across steps (Chung et al., CVPR 2023, Algorithm 1,
// with DDS's proximity to x̂0 in place of their single CG step on the data
// term alone).
type mbirState[T linop.Scalar] struct {
	dcs      []*sliceDC[T]
	dz       *solve.DiffZ[T]
	tv       TVZ
	cgIters  int
	n        int
	d, u     []T
	lastRho  float64
	op       *mbirOp[T]
	tmp, dzx []T
}

func newMBIR[T linop.Scalar](dcs []*sliceDC[T], rows, cols int, tv TVZ, cgIters int) (*mbirState[T], error) {
	dz, err := solve.NewDiffZ[T](len(dcs), rows, cols, solve.Neumann)
	if err != nil {
		return nil, err
	}
	nv := len(dcs) * rows * cols
	st := &mbirState[T]{dcs: dcs, dz: dz, tv: tv, cgIters: cgIters, n: rows * cols,
		d: make([]T, nv), u: make([]T, nv), tmp: make([]T, nv), dzx: make([]T, nv)}
	st.op = &mbirOp[T]{st: st, tmp: make([]T, nv)}
	return st, nil
}

// step runs one ADMM iteration on the slices xs (in place) with data weight
// w = m·γ and scale m.
func (st *mbirState[T]) step(xs [][]T, w, m float64) error {
	if len(xs) != len(st.dcs) {
		return fmt.Errorf("diffusion: MBIR step on %d slices, want %d", len(xs), len(st.dcs))
	}
	rho := m * st.tv.Rho
	if st.lastRho > 0 && rho != st.lastRho {
		// The scaled dual is y/ρ: keep y when ρ changes.
		linop.Scale(st.u, scalarOf[T](st.lastRho/rho))
	}
	st.lastRho = rho
	nv := len(st.d)
	b := make([]T, nv)
	for j, x := range xs {
		copy(b[j*st.n:(j+1)*st.n], x)
	}
	rhs := append([]T(nil), b...)
	for j, dc := range st.dcs {
		linop.Axpy(rhs[j*st.n:(j+1)*st.n], scalarOf[T](w), dc.ahy)
	}
	for i := range st.tmp {
		st.tmp[i] = st.d[i] - st.u[i]
	}
	dzt := make([]T, nv)
	st.dz.Adjoint(dzt, st.tmp)
	linop.Axpy(rhs, scalarOf[T](rho), dzt)
	st.op.w, st.op.rho = w, rho
	x, _, err := solve.CG[T](st.op, rhs, b, solve.CGConfig{MaxIter: st.cgIters, Tol: 1e-6})
	if err != nil && !errors.Is(err, solve.ErrBreakdown) {
		return fmt.Errorf("MBIR data step: %w", err)
	}
	st.dz.Apply(st.dzx, x)
	for i := range st.d {
		st.d[i] = st.dzx[i] + st.u[i]
	}
	solve.SoftThreshold(st.d, st.tv.Lambda/st.tv.Rho)
	for i := range st.u {
		st.u[i] += st.dzx[i] - st.d[i]
	}
	for j, xj := range xs {
		copy(xj, x[j*st.n:(j+1)*st.n])
	}
	return nil
}

// mbirOp is I + w·blockdiag(AᴴA) + ρD_zᴴD_z on the volume.
type mbirOp[T linop.Scalar] struct {
	st     *mbirState[T]
	w, rho float64
	tmp    []T
}

func (o *mbirOp[T]) InLen() int  { return len(o.tmp) }
func (o *mbirOp[T]) OutLen() int { return len(o.tmp) }
func (o *mbirOp[T]) Apply(dst, src []T) {
	n := o.st.n
	for j, dc := range o.st.dcs {
		dc.normal.Apply(dst[j*n:(j+1)*n], src[j*n:(j+1)*n])
	}
	linop.Scale(dst, scalarOf[T](o.w))
	linop.Axpy(dst, 1, src)
	o.st.dz.Apply(o.tmp, src)
	dzt := make([]T, len(src))
	o.st.dz.Adjoint(dzt, o.tmp)
	linop.Axpy(dst, scalarOf[T](o.rho), dzt)
}
func (o *mbirOp[T]) Adjoint(dst, src []T) { o.Apply(dst, src) }
