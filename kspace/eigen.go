package kspace

import (
	"errors"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
)

// A dense Hermitian eigensolver for the few largest eigenpairs, enough for
// ESPIRiT's calibration (Gram) matrix of size coils·kernel² (288 for 8 coils
// and a 6×6 kernel): Householder reduction to real symmetric tridiagonal
// form (as LAPACK's ZHETD2, lower triangle), all eigenvalues by implicit QL
// (Numerical Recipes' tqli / EISPACK tql1), eigenvectors of the wanted
// eigenvalues by inverse iteration on the tridiagonal matrix with
// re-orthogonalisation (as LAPACK's DSTEIN), and back-transformation by the
// reflectors. Only the kept vectors are back-transformed, which is what
// makes this cheaper than a full decomposition.

// hermTridiag holds Q and T with Qᴴ·A·Q = T, Q = H₀·H₁·…·H_{n−2},
// H_i = I − τ_i·v_i·v_iᴴ acting on indices i+1…n−1 (v_i[0] = 1).
type hermTridiag struct {
	n    int
	d, e []float64      // diagonal, sub-diagonal (len n−1) of T
	tau  []complex128   // τ_i
	v    [][]complex128 // v_i, length n−1−i
}

// tridiagonalize reduces the Hermitian n×n matrix whose lower triangle is
// given column-major in a (a[j·n+k] = A[k][j] for k ≥ j) to tridiagonal
// form. a is overwritten.
func tridiagonalize(a []complex128, n int) *hermTridiag {
	t := &hermTridiag{n: n, d: make([]float64, n), e: make([]float64, max(n-1, 0)),
		tau: make([]complex128, max(n-1, 0)), v: make([][]complex128, max(n-1, 0))}
	w := make([]complex128, n)
	for i := 0; i < n-1; i++ {
		col := a[i*n+i+1 : i*n+n] // A[i+1…n−1][i]
		m := len(col)
		alpha := col[0]
		x := col[1:]
		var xn float64
		for _, z := range x {
			xn += real(z)*real(z) + imag(z)*imag(z)
		}
		xn = math.Sqrt(xn)
		var tau complex128
		beta := real(alpha)
		if xn != 0 || imag(alpha) != 0 {
			beta = -math.Copysign(math.Sqrt(real(alpha)*real(alpha)+imag(alpha)*imag(alpha)+xn*xn), real(alpha))
			tau = complex((beta-real(alpha))/beta, -imag(alpha)/beta)
			s := 1 / (alpha - complex(beta, 0))
			for k := range x {
				x[k] *= s
			}
		}
		v := make([]complex128, m)
		v[0] = 1
		copy(v[1:], x)
		t.v[i], t.tau[i], t.e[i] = v, tau, beta
		t.d[i] = real(a[i*n+i])
		if tau == 0 {
			j := i + 1
			a[j*n+j] = complex(real(a[j*n+j]), 0)
			continue
		}
		// p = τ·A22·v with A22 = A[i+1…, i+1…] (lower, column-major)
		p := w[:m]
		clear(p)
		off := i + 1
		for jj := 0; jj < m; jj++ {
			j := off + jj
			colj := a[j*n+j : j*n+n] // A[j…n−1][j]
			vj := v[jj]
			s := complex(real(colj[0]), 0) * vj
			vt := v[jj+1:]
			pt := p[jj+1:]
			cj := colj[1:]
			for k, akj := range cj {
				pt[k] += akj * vj
				s += cmplx.Conj(akj) * vt[k]
			}
			p[jj] += s
		}
		for k := range p {
			p[k] *= tau
		}
		// w = p − ½·τ·(pᴴv)·v
		var pv complex128
		for k := range p {
			pv += cmplx.Conj(p[k]) * v[k]
		}
		al := -0.5 * tau * pv
		for k := range p {
			p[k] += al * v[k]
		}
		// A22 −= v·wᴴ + w·vᴴ (lower part)
		for jj := 0; jj < m; jj++ {
			j := off + jj
			colj := a[j*n+j : j*n+n]
			wj, vj := cmplx.Conj(p[jj]), cmplx.Conj(v[jj])
			vt, wt := v[jj:], p[jj:]
			for k := range colj {
				colj[k] -= vt[k]*wj + wt[k]*vj
			}
			colj[0] = complex(real(colj[0]), 0)
		}
	}
	if n > 0 {
		t.d[n-1] = real(a[(n-1)*n+n-1])
	}
	return t
}

var errNoConvergence = errors.New("tridiagonal QL iteration did not converge")

// tridiagEigenvalues returns the eigenvalues of the symmetric tridiagonal
// matrix (d, e), sorted in decreasing order (implicit QL with Wilkinson
// shifts).
func tridiagEigenvalues(d0, e0 []float64) ([]float64, error) {
	n := len(d0)
	d := slices.Clone(d0)
	e := make([]float64, n)
	copy(e, e0)
	for l := 0; l < n; l++ {
		for iter := 0; ; iter++ {
			m := l
			for ; m < n-1; m++ {
				dd := math.Abs(d[m]) + math.Abs(d[m+1])
				if math.Abs(e[m]) <= 1e-16*dd {
					break
				}
			}
			if m == l {
				break
			}
			if iter == 100 {
				return nil, errNoConvergence
			}
			g := (d[l+1] - d[l]) / (2 * e[l])
			r := math.Hypot(g, 1)
			g = d[m] - d[l] + e[l]/(g+math.Copysign(r, g))
			s, c, p := 1.0, 1.0, 0.0
			i := m - 1
			underflow := false
			for ; i >= l; i-- {
				f := s * e[i]
				b := c * e[i]
				r = math.Hypot(f, g)
				e[i+1] = r
				if r == 0 {
					d[i+1] -= p
					e[m] = 0
					underflow = true
					break
				}
				s, c = f/r, g/r
				g = d[i+1] - p
				r = (d[i]-g)*s + 2*c*b
				p = s * r
				d[i+1] = g + p
				g = c*r - b
			}
			if underflow {
				continue
			}
			d[l] -= p
			e[l] = g
			e[m] = 0
		}
	}
	slices.SortFunc(d, func(a, b float64) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	return d, nil
}

// tridiagSolver solves (T − μI)x = b by LU with partial pivoting.
type tridiagSolver struct {
	u0, u1, u2, l []float64
	swap          []bool
}

func newTridiagSolver(d, e []float64, mu, tiny float64) *tridiagSolver {
	n := len(d)
	s := &tridiagSolver{u0: make([]float64, n), u1: make([]float64, n), u2: make([]float64, n),
		l: make([]float64, n), swap: make([]bool, n)}
	for i := range d {
		s.u0[i] = d[i] - mu
		if i < n-1 {
			s.u1[i] = e[i]
		}
	}
	for i := 0; i < n-1; i++ {
		sub := e[i]
		if math.Abs(sub) > math.Abs(s.u0[i]) {
			// swap rows i and i+1: new row i = [sub, u0[i+1], u1[i+1]]
			m := s.u0[i] / sub
			oldU1 := s.u1[i]
			s.u0[i], s.u1[i], s.u2[i] = sub, s.u0[i+1], s.u1[i+1]
			s.u0[i+1] = oldU1 - m*s.u1[i]
			s.u1[i+1] = -m * s.u2[i]
			s.l[i], s.swap[i] = m, true
		} else {
			if s.u0[i] == 0 {
				s.u0[i] = tiny
			}
			m := sub / s.u0[i]
			s.u0[i+1] -= m * s.u1[i]
			s.l[i] = m
		}
	}
	if n > 0 && s.u0[n-1] == 0 {
		s.u0[n-1] = tiny
	}
	return s
}

func (s *tridiagSolver) solve(b []float64) {
	n := len(b)
	for i := 0; i < n-1; i++ {
		if s.swap[i] {
			b[i], b[i+1] = b[i+1], b[i]-s.l[i]*b[i+1]
		} else {
			b[i+1] -= s.l[i] * b[i]
		}
	}
	for i := n - 1; i >= 0; i-- {
		x := b[i]
		if i+1 < n {
			x -= s.u1[i] * b[i+1]
		}
		if i+2 < n {
			x -= s.u2[i] * b[i+2]
		}
		b[i] = x / s.u0[i]
	}
}

// topEigenvectors returns the eigenvectors of the k eigenvalues vals[0…k−1]
// (decreasing) of the tridiagonal (d, e), orthonormal, by inverse iteration.
func tridiagEigenvectors(d, e, vals []float64, rng *rand.Rand) [][]float64 {
	n := len(d)
	norm := 0.0
	for i := range d {
		r := math.Abs(d[i])
		if i < n-1 {
			r += math.Abs(e[i])
		}
		if i > 0 {
			r += math.Abs(e[i-1])
		}
		norm = max(norm, r)
	}
	if norm == 0 {
		norm = 1
	}
	tiny := 1e-15 * norm
	out := make([][]float64, len(vals))
	for j, lam := range vals {
		// perturb repeated eigenvalues slightly so the factorisations differ
		mu := lam
		if j > 0 && math.Abs(vals[j-1]-lam) < 1e-12*norm {
			mu = lam - float64(j)*1e-13*norm
		}
		s := newTridiagSolver(d, e, mu, tiny)
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		for it := 0; it < 6; it++ {
			s.solve(x)
			// orthogonalise against eigenvalues that are close
			for q := 0; q < j; q++ {
				if math.Abs(vals[q]-lam) > 1e-3*norm {
					continue
				}
				var dot float64
				for i := range x {
					dot += x[i] * out[q][i]
				}
				for i := range x {
					x[i] -= dot * out[q][i]
				}
			}
			var nr float64
			for _, v := range x {
				nr += v * v
			}
			nr = math.Sqrt(nr)
			if nr == 0 || math.IsNaN(nr) {
				for i := range x {
					x[i] = rng.NormFloat64()
				}
				continue
			}
			for i := range x {
				x[i] /= nr
			}
			// converged when the residual ‖(T − λ)x‖ is at rounding level
			if it >= 1 {
				var res float64
				for i := 0; i < n; i++ {
					r := (d[i] - lam) * x[i]
					if i > 0 {
						r += e[i-1] * x[i-1]
					}
					if i < n-1 {
						r += e[i] * x[i+1]
					}
					res += r * r
				}
				if math.Sqrt(res) < 1e-12*norm {
					break
				}
			}
		}
		out[j] = x
	}
	return out
}

// backTransform returns Q·z for a real tridiagonal eigenvector z.
func (t *hermTridiag) backTransform(z []float64) []complex128 {
	u := make([]complex128, t.n)
	for i, v := range z {
		u[i] = complex(v, 0)
	}
	for i := t.n - 2; i >= 0; i-- {
		if t.tau[i] == 0 {
			continue
		}
		v := t.v[i]
		ut := u[i+1:]
		var s complex128
		for k := range v {
			s += cmplx.Conj(v[k]) * ut[k]
		}
		s *= t.tau[i]
		for k := range v {
			ut[k] -= s * v[k]
		}
	}
	return u
}

// hermTopEigen returns all eigenvalues (decreasing) of the Hermitian n×n
// matrix given by its lower triangle column-major in a (overwritten), and
// the eigenvectors of the first keep(vals) of them.
func hermTopEigen(a []complex128, n int, keep func(vals []float64) int) ([]float64, [][]complex128, error) {
	t := tridiagonalize(a, n)
	vals, err := tridiagEigenvalues(t.d, t.e)
	if err != nil {
		return nil, nil, err
	}
	k := keep(vals)
	zs := tridiagEigenvectors(t.d, t.e, vals[:k], rand.New(rand.NewPCG(1, 2)))
	vecs := make([][]complex128, k)
	for i, z := range zs {
		vecs[i] = t.backTransform(z)
	}
	return vals, vecs, nil
}
