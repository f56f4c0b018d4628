package linop

import (
	"math/rand/v2"
	"testing"
)

// dense is a small explicit matrix operator for testing the algebra.
type dense[T Scalar] struct {
	m, n int
	a    []T
}

func newDense[T Scalar](rng *rand.Rand, m, n int) *dense[T] {
	d := &dense[T]{m: m, n: n, a: make([]T, m*n)}
	Random(rng, d.a)
	return d
}
func (d *dense[T]) InLen() int  { return d.n }
func (d *dense[T]) OutLen() int { return d.m }
func (d *dense[T]) Apply(dst, src []T) {
	for i := 0; i < d.m; i++ {
		var s T
		for j := 0; j < d.n; j++ {
			s += d.a[i*d.n+j] * src[j]
		}
		dst[i] = s
	}
}
func (d *dense[T]) Adjoint(dst, src []T) {
	clear(dst)
	for i := 0; i < d.m; i++ {
		for j := 0; j < d.n; j++ {
			dst[j] += conj(d.a[i*d.n+j]) * src[i]
		}
	}
}

func testAlgebra[T Scalar](t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := newDense[T](rng, 5, 7), newDense[T](rng, 7, 4)
	c := newDense[T](rng, 5, 4)
	ops := map[string]Op[T]{
		"dense":    a,
		"chain":    Chain[T](a, b),
		"normal":   NewNormal[T](a),
		"scaled":   Scaled[T](a, FromComplex[T](0.5-2i)),
		"sum":      Sum[T](Chain[T](a, b), c),
		"vstack":   VStack[T](a, Identity[T](7)),
		"identity": Identity[T](3),
	}
	for name, op := range ops {
		if e := CheckAdjoint(op, rng); e > 1e-5 {
			t.Errorf("%s: adjoint error %.2e", name, e)
		}
	}
	// A deliberately wrong adjoint must fail the test (the check can fail).
	bad := &Func[T]{In: 7, Out: 5, Fwd: a.Apply, Adj: func(d, s []T) { a.Adjoint(d, s); d[0] += 1 }}
	if e := CheckAdjoint[T](bad, rng); e < 1e-3 {
		t.Errorf("a wrong adjoint passed (error %.2e)", e)
	}
	// Chain applies B first.
	x := make([]T, 4)
	Random(rng, x)
	y1, tmp, y2 := make([]T, 5), make([]T, 7), make([]T, 5)
	Chain[T](a, b).Apply(y1, x)
	b.Apply(tmp, x)
	a.Apply(y2, tmp)
	for i := range y1 {
		if y1[i] != y2[i] {
			t.Fatalf("Chain(A,B) is not A·B")
		}
	}
}

func TestAlgebraReal(t *testing.T)    { testAlgebra[float32](t) }
func TestAlgebraComplex(t *testing.T) { testAlgebra[complex64](t) }
