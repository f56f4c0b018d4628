// Package linop defines linear operators on flat vectors and their algebra:
// forward, adjoint and normal operators, composition, scaling, sums and
// stacking, in the manner of BART's linops and SigPy's linop modules, with a
// dot-product adjoint test that every operator in tweedie must pass.
//
// Vectors are flat slices of float32 (CT) or complex64 (MRI); operators
// state their input and output lengths. Composition order follows ordinary
// mathematics: Chain(A, B) is A·B, which applies B first (SigPy's A*B; the
// opposite of BART's chain(a, b)).
package linop

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
)

// Scalar is the element type of the vectors operators act on.
type Scalar interface{ float32 | complex64 }

// Op is a linear operator A from vectors of length InLen to vectors of
// length OutLen.
type Op[T Scalar] interface {
	InLen() int
	OutLen() int
	// Apply computes dst = A·src. dst and src do not alias.
	Apply(dst, src []T)
	// Adjoint computes dst = Aᴴ·src (the transpose for real operators).
	Adjoint(dst, src []T)
}

// Dot returns the inner product ⟨a, b⟩ = Σ conj(a_i)·b_i, accumulated in
// double precision.
func Dot[T Scalar](a, b []T) complex128 {
	switch av := any(a).(type) {
	case []float32:
		bv := any(b).([]float32)
		var s float64
		for i, x := range av {
			s += float64(x) * float64(bv[i])
		}
		return complex(s, 0)
	case []complex64:
		bv := any(b).([]complex64)
		var re, im float64
		for i, x := range av {
			y := bv[i]
			xr, xi, yr, yi := float64(real(x)), float64(imag(x)), float64(real(y)), float64(imag(y))
			re += xr*yr + xi*yi
			im += xr*yi - xi*yr
		}
		return complex(re, im)
	}
	panic("unreachable")
}

// Norm2 returns the Euclidean norm.
func Norm2[T Scalar](a []T) float64 { return math.Sqrt(real(Dot(a, a))) }

// Axpy computes y += alpha·x.
func Axpy[T Scalar](y []T, alpha T, x []T) {
	for i := range y {
		y[i] += alpha * x[i]
	}
}

// Scale computes x *= alpha.
func Scale[T Scalar](x []T, alpha T) {
	for i := range x {
		x[i] *= alpha
	}
}

// FromComplex converts a complex128 scalar to T (dropping the imaginary
// part for real T).
func FromComplex[T Scalar](c complex128) T {
	var z T
	switch any(z).(type) {
	case float32:
		return any(float32(real(c))).(T)
	default:
		return any(complex64(c)).(T)
	}
}

// Random fills x with standard normal samples (complex: each part N(0, ½)).
func Random[T Scalar](rng *rand.Rand, x []T) {
	switch v := any(x).(type) {
	case []float32:
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
	case []complex64:
		for i := range v {
			v[i] = complex64(complex(rng.NormFloat64()*math.Sqrt2/2, rng.NormFloat64()*math.Sqrt2/2))
		}
	}
}

// CheckAdjoint runs the dot-product test ⟨A x, y⟩ = ⟨x, Aᴴ y⟩ with random x
// and y and returns the relative error |⟨Ax,y⟩ − ⟨x,Aᴴy⟩| / (‖Ax‖‖y‖).
func CheckAdjoint[T Scalar](op Op[T], rng *rand.Rand) float64 {
	x := make([]T, op.InLen())
	y := make([]T, op.OutLen())
	Random(rng, x)
	Random(rng, y)
	ax := make([]T, op.OutLen())
	aty := make([]T, op.InLen())
	op.Apply(ax, x)
	op.Adjoint(aty, y)
	lhs := Dot(ax, y)
	rhs := Dot(x, aty)
	den := Norm2(ax) * Norm2(y)
	if den == 0 {
		den = 1
	}
	return cmplx.Abs(lhs-rhs) / den
}

// ShapeError reports vectors whose lengths do not fit an operator.
func ShapeError(name string, want, got int) error {
	return fmt.Errorf("%s: vector of length %d, want %d", name, got, want)
}

// Func is an operator from two functions.
type Func[T Scalar] struct {
	In, Out  int
	Fwd, Adj func(dst, src []T)
	Name     string
}

func (f *Func[T]) InLen() int           { return f.In }
func (f *Func[T]) OutLen() int          { return f.Out }
func (f *Func[T]) Apply(dst, src []T)   { f.Fwd(dst, src) }
func (f *Func[T]) Adjoint(dst, src []T) { f.Adj(dst, src) }

// Identity of length n.
func Identity[T Scalar](n int) Op[T] {
	return &Func[T]{In: n, Out: n, Name: "identity",
		Fwd: func(d, s []T) { copy(d, s) }, Adj: func(d, s []T) { copy(d, s) }}
}

// chain is A·B.
type chain[T Scalar] struct {
	a, b Op[T]
	tmp  []T
}

// Chain returns A·B (B is applied first). It panics when the lengths do not
// meet, since that is a programming error.
func Chain[T Scalar](a, b Op[T]) Op[T] {
	if a.InLen() != b.OutLen() {
		panic(fmt.Sprintf("linop.Chain: A takes %d, B gives %d", a.InLen(), b.OutLen()))
	}
	return &chain[T]{a: a, b: b, tmp: make([]T, b.OutLen())}
}

func (c *chain[T]) InLen() int  { return c.b.InLen() }
func (c *chain[T]) OutLen() int { return c.a.OutLen() }
func (c *chain[T]) Apply(dst, src []T) {
	c.b.Apply(c.tmp, src)
	c.a.Apply(dst, c.tmp)
}
func (c *chain[T]) Adjoint(dst, src []T) {
	c.a.Adjoint(c.tmp, src)
	c.b.Adjoint(dst, c.tmp)
}

// Normal applies AᴴA, the operator of the normal equations.
type Normal[T Scalar] struct {
	A   Op[T]
	tmp []T
}

// NewNormal returns AᴴA.
func NewNormal[T Scalar](a Op[T]) *Normal[T] { return &Normal[T]{A: a, tmp: make([]T, a.OutLen())} }

func (n *Normal[T]) InLen() int  { return n.A.InLen() }
func (n *Normal[T]) OutLen() int { return n.A.InLen() }
func (n *Normal[T]) Apply(dst, src []T) {
	n.A.Apply(n.tmp, src)
	n.A.Adjoint(dst, n.tmp)
}
func (n *Normal[T]) Adjoint(dst, src []T) { n.Apply(dst, src) }

// scaled is alpha·A.
type scaled[T Scalar] struct {
	a     Op[T]
	alpha T
}

// Scaled returns alpha·A.
func Scaled[T Scalar](a Op[T], alpha T) Op[T] { return &scaled[T]{a: a, alpha: alpha} }

func (s *scaled[T]) InLen() int  { return s.a.InLen() }
func (s *scaled[T]) OutLen() int { return s.a.OutLen() }
func (s *scaled[T]) Apply(dst, src []T) {
	s.a.Apply(dst, src)
	Scale(dst, s.alpha)
}
func (s *scaled[T]) Adjoint(dst, src []T) {
	s.a.Adjoint(dst, src)
	Scale(dst, conj(s.alpha))
}

func conj[T Scalar](v T) T {
	switch x := any(v).(type) {
	case complex64:
		return any(complex(real(x), -imag(x))).(T)
	}
	return v
}

// sum is A + B.
type sum[T Scalar] struct {
	a, b Op[T]
	tmp  []T
}

// Sum returns A + B.
func Sum[T Scalar](a, b Op[T]) Op[T] {
	if a.InLen() != b.InLen() || a.OutLen() != b.OutLen() {
		panic("linop.Sum: shapes differ")
	}
	return &sum[T]{a: a, b: b, tmp: make([]T, a.OutLen())}
}

func (s *sum[T]) InLen() int  { return s.a.InLen() }
func (s *sum[T]) OutLen() int { return s.a.OutLen() }
func (s *sum[T]) Apply(dst, src []T) {
	s.a.Apply(dst, src)
	s.b.Apply(s.tmp, src)
	Axpy(dst, 1, s.tmp)
}
func (s *sum[T]) Adjoint(dst, src []T) {
	s.a.Adjoint(dst, src)
	s.b.Adjoint(s.tmp[:s.a.InLen()], src)
	Axpy(dst, 1, s.tmp[:s.a.InLen()])
}

// vstack is [A; B]: one input, outputs concatenated.
type vstack[T Scalar] struct {
	ops []Op[T]
	tmp []T
}

// VStack returns the operator x ↦ (A₁x, A₂x, …).
func VStack[T Scalar](ops ...Op[T]) Op[T] {
	n := ops[0].InLen()
	for _, o := range ops {
		if o.InLen() != n {
			panic("linop.VStack: input lengths differ")
		}
	}
	return &vstack[T]{ops: ops, tmp: make([]T, n)}
}

func (v *vstack[T]) InLen() int { return v.ops[0].InLen() }
func (v *vstack[T]) OutLen() int {
	n := 0
	for _, o := range v.ops {
		n += o.OutLen()
	}
	return n
}
func (v *vstack[T]) Apply(dst, src []T) {
	off := 0
	for _, o := range v.ops {
		o.Apply(dst[off:off+o.OutLen()], src)
		off += o.OutLen()
	}
}
func (v *vstack[T]) Adjoint(dst, src []T) {
	clear(dst)
	off := 0
	for _, o := range v.ops {
		o.Adjoint(v.tmp, src[off:off+o.OutLen()])
		Axpy(dst, 1, v.tmp)
		off += o.OutLen()
	}
}
