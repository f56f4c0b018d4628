package solve

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"github.com/tweedie-recon/tweedie/num/linop"
)

// dense is an explicit matrix operator (row-major m×n) for tests.
type dense[T linop.Scalar] struct {
	m, n int
	a    []T
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
			dst[j] += conjT(d.a[i*d.n+j]) * src[i]
		}
	}
}

func conjT[T linop.Scalar](v T) T {
	if c, ok := any(v).(complex64); ok {
		return any(complex(real(c), -imag(c))).(T)
	}
	return v
}

func randDense[T linop.Scalar](rng *rand.Rand, m, n int) *dense[T] {
	d := &dense[T]{m: m, n: n, a: make([]T, m*n)}
	linop.Random(rng, d.a)
	return d
}

// spd returns BᴴB + shift·I as a dense operator.
func spd[T linop.Scalar](rng *rand.Rand, n int, shift float64) *dense[T] {
	b := randDense[T](rng, n, n)
	a := &dense[T]{m: n, n: n, a: make([]T, n*n)}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var s T
			for k := 0; k < n; k++ {
				s += conjT(b.a[k*n+i]) * b.a[k*n+j]
			}
			if i == j {
				s += scalar[T](shift)
			}
			a.a[i*n+j] = s
		}
	}
	return a
}

func residual[T linop.Scalar](a linop.Op[T], x, b []T) float64 {
	r := make([]T, len(b))
	a.Apply(r, x)
	return normDiff(r, b) / linop.Norm2(b)
}

func testCG[T linop.Scalar](t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 40
	a := spd[T](rng, n, float64(n)/4)
	xt := make([]T, n)
	linop.Random(rng, xt)
	b := make([]T, n)
	a.Apply(b, xt)
	x, info, err := CG[T](a, b, nil, CGConfig{MaxIter: 200, Tol: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Converged {
		t.Fatalf("CG did not converge: %+v", info)
	}
	if r := residual[T](a, x, b); r > 5e-6 {
		t.Fatalf("CG residual %g", r)
	}
	if e := normDiff(x, xt) / linop.Norm2(xt); e > 1e-4 {
		t.Fatalf("CG error %g", e)
	}
	// warm start from the solution stops at once
	_, info, err = CG[T](a, b, x, CGConfig{Tol: 1e-4})
	if err != nil || info.Iter > 1 {
		t.Fatalf("warm start: %+v %v", info, err)
	}
}

func TestCGReal(t *testing.T)    { testCG[float32](t) }
func TestCGComplex(t *testing.T) { testCG[complex64](t) }

// TestCGComplexNeedsConjugate checks the Hermitian form on a problem where
// the unconjugated rᵀr form fails: a complex diagonal Hermitian system with
// widely spread eigenvalues solved to tight tolerance in n steps.
func TestCGComplexNeedsConjugate(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const n = 30
	a := spd[complex64](rng, n, 1)
	b := make([]complex64, n)
	linop.Random(rng, b)
	x, info, err := CG[complex64](a, b, nil, CGConfig{MaxIter: 3 * n, Tol: 1e-6})
	if err != nil || !info.Converged {
		t.Fatalf("%+v %v", info, err)
	}
	if r := residual[complex64](a, x, b); r > 5e-6 {
		t.Fatalf("residual %g", r)
	}
}

func TestCGErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	a := spd[float32](rng, 5, 1)
	if _, _, err := CG[float32](a, make([]float32, 4), nil, CGConfig{}); err == nil {
		t.Error("short b accepted")
	}
	if _, _, err := CG[float32](randDense[float32](rng, 4, 5), make([]float32, 4), nil, CGConfig{}); err == nil {
		t.Error("non-square accepted")
	}
	if _, _, err := CG[float32](a, make([]float32, 5), make([]float32, 3), CGConfig{}); err == nil {
		t.Error("short x0 accepted")
	}
	if _, _, err := CG[float32](a, make([]float32, 5), nil, CGConfig{Tol: math.NaN()}); err == nil {
		t.Error("NaN tol accepted")
	}
	// negative definite: breakdown error
	neg := &dense[float32]{m: 2, n: 2, a: []float32{-1, 0, 0, -2}}
	if _, _, err := CG[float32](neg, []float32{1, 1}, nil, CGConfig{}); err == nil {
		t.Error("negative definite operator accepted")
	}
	// zero rhs gives zero
	x, _, err := CG[float32](a, make([]float32, 5), []float32{1, 2, 3, 4, 5}, CGConfig{})
	if err != nil || linop.Norm2(x) != 0 {
		t.Errorf("zero rhs: %v %v", x, err)
	}
}

func TestPowerIteration(t *testing.T) {
	d := &dense[float32]{m: 4, n: 4, a: []float32{3, 0, 0, 0, 0, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 5}}
	l, err := PowerIteration[float32](d, PowerConfig{MaxIter: 200, Tol: 1e-7})
	if err != nil || math.Abs(l-7) > 1e-3 {
		t.Fatalf("λ = %g, %v", l, err)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	a := randDense[complex64](rng, 30, 20)
	l2, err := NormalNorm[complex64](a, PowerConfig{MaxIter: 500, Tol: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	// check against the Rayleigh quotient of many random vectors: none may exceed it
	n := linop.NewNormal[complex64](a)
	v := make([]complex64, 20)
	w := make([]complex64, 20)
	for k := 0; k < 50; k++ {
		linop.Random(rng, v)
		n.Apply(w, v)
		if rq := real(linop.Dot(v, w)) / real(linop.Dot(v, v)); rq > l2*(1+1e-4) {
			t.Fatalf("Rayleigh quotient %g above λ_max %g", rq, l2)
		}
	}
}

func TestAdjoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, b := range []Boundary{Neumann, Periodic} {
		for _, sz := range [][3]int{{1, 1, 1}, {1, 7, 5}, {3, 8, 8}, {2, 1, 9}} {
			g, err := NewGrad2D[float32](sz[1], sz[2], sz[0], b)
			if err != nil {
				t.Fatal(err)
			}
			if e := linop.CheckAdjoint[float32](g, rng); e > 1e-5 {
				t.Errorf("Grad2D %v %v real: %g", sz, b, e)
			}
			gc, _ := NewGrad2D[complex64](sz[1], sz[2], sz[0], b)
			if e := linop.CheckAdjoint[complex64](gc, rng); e > 1e-5 {
				t.Errorf("Grad2D %v %v complex: %g", sz, b, e)
			}
			dz, err := NewDiffZ[float32](sz[0], sz[1], sz[2], b)
			if err != nil {
				t.Fatal(err)
			}
			if e := linop.CheckAdjoint[float32](dz, rng); e > 1e-5 {
				t.Errorf("DiffZ %v %v: %g", sz, b, e)
			}
			dzc, _ := NewDiffZ[complex64](sz[0], sz[1], sz[2], b)
			if e := linop.CheckAdjoint[complex64](dzc, rng); e > 1e-5 {
				t.Errorf("DiffZ %v %v complex: %g", sz, b, e)
			}
		}
	}
	if _, err := NewGrad2D[float32](0, 3, 1, Neumann); err == nil {
		t.Error("zero rows accepted")
	}
	if _, err := NewGrad2D[float32](3, 3, 1, Boundary(7)); err == nil {
		t.Error("bad boundary accepted")
	}
	if _, err := NewDiffZ[float32](1<<20, 1<<20, 4, Neumann); err == nil {
		t.Error("huge volume accepted")
	}
}

func TestGradValues(t *testing.T) {
	// 2×3 image; Neumann: last row/col differences are zero
	x := []float32{1, 2, 4, 7, 11, 16}
	g, _ := NewGrad2D[float32](2, 3, 1, Neumann)
	out := make([]float32, 12)
	g.Apply(out, x)
	want := []float32{6, 9, 12, 0, 0, 0, 1, 2, 0, 4, 5, 0}
	for i := range want {
		if out[i] != want[i] {
			t.Fatalf("Neumann grad %v, want %v", out, want)
		}
	}
	gp, _ := NewGrad2D[float32](2, 3, 1, Periodic)
	gp.Apply(out, x)
	wantP := []float32{6, 9, 12, -6, -9, -12, 1, 2, -3, 4, 5, -9}
	for i := range wantP {
		if out[i] != wantP[i] {
			t.Fatalf("periodic grad %v, want %v", out, wantP)
		}
	}
}

func TestSoftThreshold(t *testing.T) {
	x := []float32{3, -3, 0.5, -0.5, 1}
	SoftThreshold(x, 1)
	want := []float32{2, -2, 0, 0, 0}
	for i := range x {
		if x[i] != want[i] {
			t.Fatalf("%v want %v", x, want)
		}
	}
	c := []complex64{complex(3, 4), complex(0.3, 0.4)}
	SoftThreshold(c, 1)
	if cmplx.Abs(complex128(c[0])-complex(2.4, 3.2)) > 1e-6 || c[1] != 0 {
		t.Fatalf("complex soft %v", c)
	}
	// isotropic: group (3,4) has norm 5 → scaled by 4/5
	g := []float32{3, 0.1, 4, 0.1}
	GroupSoftThreshold(g, 1, 2, 2)
	if math.Abs(float64(g[0])-2.4) > 1e-6 || math.Abs(float64(g[2])-3.2) > 1e-6 || g[1] != 0 || g[3] != 0 {
		t.Fatalf("group soft %v", g)
	}
}

// lassoKKT returns the largest violation of the optimality conditions of
// min ½‖Ax − y‖² + λ‖x‖₁: g = Aᴴ(y − Ax) must equal λ·x/|x| where x ≠ 0
// and satisfy |g| ≤ λ where x = 0. Entries below eps count as zero.
func lassoKKT[T linop.Scalar](a linop.Op[T], x, y []T, lambda, eps float64) float64 {
	r := make([]T, len(y))
	a.Apply(r, x)
	sub(r, y, r)
	g := make([]T, len(x))
	a.Adjoint(g, r)
	worst := 0.0
	for i := range x {
		xi, gi := toC(x[i]), toC(g[i])
		if cmplx.Abs(xi) > eps {
			worst = math.Max(worst, cmplx.Abs(gi-complex(lambda, 0)*xi/complex(cmplx.Abs(xi), 0)))
		} else {
			worst = math.Max(worst, cmplx.Abs(gi)-lambda)
		}
	}
	return worst / lambda
}

func testFISTALasso[T linop.Scalar](t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	a := randDense[T](rng, 60, 30)
	xt := make([]T, 30)
	for i := 0; i < 30; i += 5 {
		xt[i] = scalar[T](2 + float64(i)/10)
	}
	y := make([]T, 60)
	a.Apply(y, xt)
	noise := make([]T, 60)
	linop.Random(rng, noise)
	linop.Axpy(y, scalar[T](0.1), noise)
	const lambda = 2.0
	for _, restart := range []bool{false, true} {
		x, info, err := FISTA[T](a, y, nil, SoftProx[T](), FISTAConfig[T]{Lambda: lambda, MaxIter: 3000, Tol: 1e-8, Restart: restart})
		if err != nil {
			t.Fatal(err)
		}
		if v := lassoKKT[T](a, x, y, lambda, 1e-5); v > 2e-3 {
			t.Errorf("restart=%v: KKT violation %g after %d iterations", restart, v, info.Iter)
		}
	}
}

func TestFISTALassoReal(t *testing.T)    { testFISTALasso[float32](t) }
func TestFISTALassoComplex(t *testing.T) { testFISTALasso[complex64](t) }

// tvObjective is ½‖Ax − y‖² + λ TV(x) with isotropic or anisotropic TV.
func tvObjective(a linop.Op[float32], g *Grad2D[float32], x, y []float32, lambda float64, iso bool) float64 {
	r := make([]float32, len(y))
	a.Apply(r, x)
	f := 0.5 * math.Pow(normDiff(r, y), 2)
	d := make([]float32, g.OutLen())
	g.Apply(d, x)
	n := g.InLen()
	tv := 0.0
	for i := 0; i < n; i++ {
		if iso {
			tv += math.Hypot(float64(d[i]), float64(d[n+i]))
		} else {
			tv += math.Abs(float64(d[i])) + math.Abs(float64(d[n+i]))
		}
	}
	return f + lambda*tv
}

// phantom is a piecewise-constant test image with noise.
func phantom(rng *rand.Rand, rows, cols int, sigma float64) (clean, noisy []float32) {
	clean = make([]float32, rows*cols)
	noisy = make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			v := 0.0
			dr, dc := float64(r)-float64(rows)/2, float64(c)-float64(cols)/2
			if dr*dr+dc*dc < float64(rows*rows)/9 {
				v = 1
			}
			if r > rows/5 && r < rows/3 && c > cols/6 && c < cols/2 {
				v = 0.5
			}
			clean[r*cols+c] = float32(v)
			noisy[r*cols+c] = float32(v + sigma*rng.NormFloat64())
		}
	}
	return
}

// TestTVSolversAgree solves TV denoising (A = I) and a TV-regularised
// under-determined problem by ADMM, PDHG and FISTA+TVProx and checks that
// they reach the same objective and denoise.
func TestTVSolversAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const rows, cols = 24, 20
	n := rows * cols
	clean, noisy := phantom(rng, rows, cols, 0.2)
	g, _ := NewGrad2D[float32](rows, cols, 1, Neumann)
	id := linop.Identity[float32](n)
	const lambda = 0.15
	for _, iso := range []bool{true, false} {
		shrink := SoftProx[float32]()
		if iso {
			shrink = GroupProx[float32](2, n)
		}
		xa, _, ia, err := ADMM[float32](id, g, noisy, nil, ADMMConfig[float32]{Lambda: lambda, Rho: 1, MaxIter: 400, CG: CGConfig{MaxIter: 20, Tol: 1e-6}, Shrink: shrink})
		if err != nil {
			t.Fatal(err)
		}
		xp, _, err := PDHG[float32](id, g, noisy, nil, PDHGConfig[float32]{Lambda: lambda, MaxIter: 2000, Shrink: shrink})
		if err != nil {
			t.Fatal(err)
		}
		prox, err := TVProx[float32](rows, cols, TVProxConfig{Anisotropic: !iso, Iter: 3000})
		if err != nil {
			t.Fatal(err)
		}
		xf := append([]float32(nil), noisy...)
		prox(xf, lambda)
		oa := tvObjective(id, g, xa, noisy, lambda, iso)
		op := tvObjective(id, g, xp, noisy, lambda, iso)
		of := tvObjective(id, g, xf, noisy, lambda, iso)
		o0 := tvObjective(id, g, noisy, noisy, lambda, iso)
		t.Logf("iso=%v objective: noisy %.5f ADMM %.5f (%d it, r=%.2g s=%.2g) PDHG %.5f FGP %.5f", iso, o0, oa, ia.Iter, ia.Residual, ia.DualResidual, op, of)
		best := math.Min(oa, math.Min(op, of))
		for name, o := range map[string]float64{"ADMM": oa, "PDHG": op, "FGP": of} {
			if (o-best)/best > 1e-4 {
				t.Errorf("iso=%v %s objective %g vs best %g", iso, name, o, best)
			}
		}
		if e0, e1 := normDiff(noisy, clean), normDiff(xa, clean); e1 > 0.6*e0 {
			t.Errorf("TV denoising did not reduce the error enough: %g → %g", e0, e1)
		}
		// perturbing the solution must not lower the objective (optimality)
		for k := 0; k < 20; k++ {
			v := append([]float32(nil), xa...)
			i := rng.IntN(n)
			v[i] += float32(0.02 * rng.NormFloat64())
			if tvObjective(id, g, v, noisy, lambda, iso) < oa-1e-4 {
				t.Errorf("iso=%v perturbation lowered the ADMM objective", iso)
			}
		}
	}

	// under-determined: a random Gaussian A with half as many rows as pixels
	a := randDense[float32](rng, n/2, n)
	y := make([]float32, n/2)
	a.Apply(y, clean)
	shrink := GroupProx[float32](2, n)
	const lam2 = 0.5
	xa, _, _, err := ADMM[float32](a, g, y, nil, ADMMConfig[float32]{Lambda: lam2, Rho: 50, MaxIter: 300, CG: CGConfig{MaxIter: 30, Tol: 1e-6}, Shrink: shrink})
	if err != nil {
		t.Fatal(err)
	}
	xp, _, err := PDHG[float32](a, g, y, nil, PDHGConfig[float32]{Lambda: lam2, MaxIter: 4000, Shrink: shrink})
	if err != nil {
		t.Fatal(err)
	}
	oa, op := tvObjective(a, g, xa, y, lam2, true), tvObjective(a, g, xp, y, lam2, true)
	t.Logf("compressed sensing: ADMM %.5f PDHG %.5f; errors %.4f %.4f", oa, op, normDiff(xa, clean)/linop.Norm2(clean), normDiff(xp, clean)/linop.Norm2(clean))
	if math.Abs(oa-op)/math.Min(oa, op) > 1e-4 {
		t.Errorf("ADMM objective %g, PDHG %g", oa, op)
	}
	if e := normDiff(xa, clean) / linop.Norm2(clean); e > 0.05 {
		t.Errorf("TV recovery error %g", e)
	}
}

// TestADMML1Exact: with A = I and D = I the solution is the soft threshold.
func TestADMML1Exact(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const n = 50
	y := make([]complex64, n)
	linop.Random(rng, y)
	want := append([]complex64(nil), y...)
	SoftThreshold(want, 0.4)
	id := linop.Identity[complex64](n)
	x, _, info, err := ADMM[complex64](id, id, y, nil, ADMMConfig[complex64]{Lambda: 0.4, MaxIter: 500, AbsTol: 1e-7, RelTol: 1e-6, CG: CGConfig{Tol: 1e-7}})
	if err != nil {
		t.Fatal(err)
	}
	if e := normDiff(x, want) / linop.Norm2(want); e > 1e-4 {
		t.Fatalf("ADMM ℓ1 error %g (%+v)", e, info)
	}
	if !info.Converged {
		t.Errorf("ADMM did not meet its tolerances: %+v", info)
	}
	xp, _, err := PDHG[complex64](id, id, y, nil, PDHGConfig[complex64]{Lambda: 0.4, MaxIter: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if e := normDiff(xp, want) / linop.Norm2(want); e > 1e-4 {
		t.Fatalf("PDHG ℓ1 error %g", e)
	}
}

func TestSIRT(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	// non-negative over-determined consistent system
	a := &dense[float32]{m: 60, n: 25, a: make([]float32, 60*25)}
	for i := range a.a {
		if rng.Float64() < 0.3 {
			a.a[i] = float32(rng.Float64())
		}
	}
	xt := make([]float32, 25)
	for i := range xt {
		xt[i] = float32(rng.Float64())
	}
	y := make([]float32, 60)
	a.Apply(y, xt)
	x, _, err := SIRT[float32](a, y, nil, SIRTConfig[float32]{MaxIter: 5000, Relax: 1.9, ProxX: NonNeg})
	if err != nil {
		t.Fatal(err)
	}
	if e := normDiff(x, xt) / linop.Norm2(xt); e > 1e-2 {
		t.Fatalf("SIRT error %g", e)
	}
	if _, _, err := SIRT[float32](a, y, nil, SIRTConfig[float32]{Relax: 2.5}); err == nil {
		t.Error("relaxation 2.5 accepted")
	}
}

func TestConfigErrors(t *testing.T) {
	id := linop.Identity[float32](4)
	y := make([]float32, 4)
	if _, _, _, err := ADMM[float32](id, linop.Identity[float32](3), y, nil, ADMMConfig[float32]{}); err == nil {
		t.Error("ADMM: mismatched D accepted")
	}
	if _, _, _, err := ADMM[float32](id, id, y, nil, ADMMConfig[float32]{Rho: -1}); err == nil {
		t.Error("ADMM: negative rho accepted")
	}
	if _, _, err := PDHG[float32](id, id, y[:3], nil, PDHGConfig[float32]{}); err == nil {
		t.Error("PDHG: short y accepted")
	}
	if _, _, err := PDHG[float32](id, id, y, nil, PDHGConfig[float32]{Theta: 2}); err == nil {
		t.Error("PDHG: theta 2 accepted")
	}
	if _, _, err := FISTA[float32](id, y, nil, nil, FISTAConfig[float32]{Lambda: math.Inf(1)}); err == nil {
		t.Error("FISTA: infinite lambda accepted")
	}
	if _, _, err := FISTA[float32](nil, y, nil, nil, FISTAConfig[float32]{}); err == nil {
		t.Error("FISTA: nil operator accepted")
	}
	if _, err := TVProx[float32](0, 4, TVProxConfig{}); err == nil {
		t.Error("TVProx: zero rows accepted")
	}
}
