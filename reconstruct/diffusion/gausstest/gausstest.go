// Package gausstest builds the linear-Gaussian test problems of the
// diffusion samplers: a stationary Gaussian prior (the one exported as ONNX
// graphs by tools/export_gaussian_onnx.py, read from its .npy files), a
// multi-coil SENSE problem and a parallel-beam CT problem, and the
// closed-form posterior
//
//	m = argmin (λ/2)‖Ax − y‖² + ½(x − μ)ᴴC⁻¹(x − μ),
//	(λAᴴA + C⁻¹)m = λAᴴy + C⁻¹μ,
//
// solved in the whitened form x = μ + C^½w, (λC^½AᴴAC^½ + I)w =
// λC^½Aᴴ(y − Aμ), by conjugate gradients in double precision. It is a
// test-support package: only tests and benchmarks import it.
package gausstest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/tweedie-recon/tweedie/kspace"
	"github.com/tweedie-recon/tweedie/num/array"
	"github.com/tweedie-recon/tweedie/num/linop"
	"github.com/tweedie-recon/tweedie/reconstruct/diffusion"
	"github.com/tweedie-recon/tweedie/sinogram"
)

// Testdata is the folder of the exported test models, relative to the
// repository root.
const Testdata = "reconstruct/diffusion/testdata"

// LoadPrior reads the prior of the n×n test models in dir (gauss{n}_spectrum.npy
// and gauss{n}_mean.npy) as an exact Gaussian denoiser with channels
// channels on schedule sched.
func LoadPrior(dir string, n, channels int, sched *diffusion.Schedule) (*diffusion.Gaussian, error) {
	sp, err := array.ReadNPYFile(filepath.Join(dir, fmt.Sprintf("gauss%d_spectrum.npy", n)))
	if err != nil {
		return nil, err
	}
	mu, err := array.ReadNPYFile(filepath.Join(dir, fmt.Sprintf("gauss%d_mean.npy", n)))
	if err != nil {
		return nil, err
	}
	if sp.Float32 == nil || mu.Float32 == nil || len(sp.Float32) != n*n || len(mu.Float32) != 2*n*n {
		return nil, fmt.Errorf("gausstest: prior files of %s do not hold %d×%d float32 arrays", dir, n, n)
	}
	spec := make([]float64, n*n)
	for i, v := range sp.Float32 {
		spec[i] = float64(v)
	}
	info := diffusion.ModelInfo{Name: fmt.Sprintf("gaussian-%d-%dch-%s", n, channels, sched.Kind), Channels: channels, Rows: n, Cols: n, Schedule: sched}
	return diffusion.NewGaussian(info, spec, mu.Float32[:channels*n*n])
}

// Problem is y = A·x_true + noise with the likelihood precision Lambda
// (2/σn² for circular complex noise of E|n|² = σn², 1/σn² for real noise).
type Problem[T linop.Scalar] struct {
	Name   string
	A      linop.Op[T]
	NewA   func() linop.Op[T] // a fresh operator (own scratch) for parallel use
	Y      []T
	XTrue  []T
	Lambda float64
	Noise  float64
}

// SampleX draws x ~ N(μ, C) per channel.
func SampleX[T linop.Scalar](g *diffusion.Gaussian, rng *rand.Rand) ([]T, error) {
	n := len(g.Spectrum)
	w := make([]T, n)
	switch v := any(w).(type) {
	case []complex64:
		for i := range v {
			v[i] = complex(float32(rng.NormFloat64()), float32(rng.NormFloat64()))
		}
	case []float32:
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
	}
	x := make([]T, n)
	if err := diffusion.GaussianFilter(g, x, w, math.Sqrt); err != nil {
		return nil, err
	}
	linop.Axpy(x, 1, Mean[T](g))
	return x, nil
}

// Mean returns μ as an image of T.
func Mean[T linop.Scalar](g *diffusion.Gaussian) []T {
	n := len(g.Spectrum)
	m := make([]T, n)
	switch v := any(m).(type) {
	case []complex64:
		for i := range v {
			v[i] = complex(g.Mean[i], g.Mean[n+i])
		}
	case []float32:
		copy(v, g.Mean[:n])
	}
	return m
}

// Sense builds a coils-coil SENSE problem at acceleration accel (random
// lines with an 8 % ACS centre) with complex noise of E|n|² = sigma².
func Sense(g *diffusion.Gaussian, coils int, accel, sigma float64, seed uint64) (*Problem[complex64], error) {
	info := g.Info()
	rng := rand.New(rand.NewPCG(seed, 7))
	maps, err := kspace.CoilMaps(info.Rows, info.Cols, kspace.CoilConfig{Coils: coils})
	if err != nil {
		return nil, err
	}
	lines, _, err := kspace.RandomUniformACS(info.Cols, accel, 0.08, rng)
	if err != nil {
		return nil, err
	}
	mask := kspace.LineMask(info.Rows, lines)
	newA := func() linop.Op[complex64] {
		a, err := kspace.NewSense(maps, mask)
		if err != nil {
			panic(err)
		}
		return a
	}
	a := newA()
	x, err := SampleX[complex64](g, rng)
	if err != nil {
		return nil, err
	}
	y := make([]complex64, a.OutLen())
	a.Apply(y, x)
	for i, m := range mask.Sampled {
		if !m {
			continue
		}
		for c := 0; c < coils; c++ {
			y[c*len(mask.Sampled)+i] += complex(float32(rng.NormFloat64()*sigma/math.Sqrt2), float32(rng.NormFloat64()*sigma/math.Sqrt2))
		}
	}
	return &Problem[complex64]{Name: fmt.Sprintf("SENSE %d coils %.1f×", coils, mask.Acceleration()), A: a, NewA: newA, Y: y, XTrue: x,
		Lambda: 2 / (sigma * sigma), Noise: sigma}, nil
}

// CT builds a sparse-view parallel-beam problem (views over 180°, 1 mm
// pixels, √2·n detector bins) with real noise of standard deviation sigma.
func CT(g *diffusion.Gaussian, views int, sigma float64, seed uint64) (*Problem[float32], error) {
	info := g.Info()
	rng := rand.New(rand.NewPCG(seed, 11))
	ndet := int(math.Ceil(math.Sqrt2 * float64(info.Rows)))
	geom := sinogram.ParallelGeometry{AnglesDeg: sinogram.EvenAngles(views, 0, 180), NDet: ndet, DetSpacing: 1}
	grid := sinogram.Square(info.Rows, 1)
	newA := func() linop.Op[float32] {
		p, err := sinogram.NewParallelProjector(geom, grid)
		if err != nil {
			panic(err)
		}
		return p
	}
	a := newA()
	x, err := SampleX[float32](g, rng)
	if err != nil {
		return nil, err
	}
	y := make([]float32, a.OutLen())
	a.Apply(y, x)
	for i := range y {
		y[i] += float32(rng.NormFloat64() * sigma)
	}
	return &Problem[float32]{Name: fmt.Sprintf("CT %d views", views), A: a, NewA: newA, Y: y, XTrue: x, Lambda: 1 / (sigma * sigma), Noise: sigma}, nil
}

// whitened is λC^½AᴴAC^½ + I.
type whitened[T linop.Scalar] struct {
	g      *diffusion.Gaussian
	a      linop.Op[T]
	lambda float64
	t1, t2 []T
	k      []T
}

func (w *whitened[T]) apply(dst, src []T) {
	must(diffusion.GaussianFilter(w.g, w.t1, src, math.Sqrt))
	w.a.Apply(w.k, w.t1)
	w.a.Adjoint(w.t2, w.k)
	must(diffusion.GaussianFilter(w.g, dst, w.t2, math.Sqrt))
	for i := range dst {
		dst[i] = dst[i]*linop.FromComplex[T](complex(w.lambda, 0)) + src[i]
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// solveWhitened solves (λC^½AᴴAC^½ + I)w = b by CG with double-precision
// recurrences (the operator itself runs in T).
func solveWhitened[T linop.Scalar](op *whitened[T], b []T, tol float64, maxIter int) []T {
	n := len(b)
	x := make([]complex128, n)
	r := make([]complex128, n)
	for i, v := range b {
		r[i] = c128(v)
	}
	p := append([]complex128(nil), r...)
	q := make([]T, n)
	pt := make([]T, n)
	rr := dot(r, r)
	bn := math.Sqrt(rr)
	for it := 0; it < maxIter && math.Sqrt(rr) > tol*bn; it++ {
		for i := range p {
			pt[i] = linop.FromComplex[T](p[i])
		}
		op.apply(q, pt)
		var pq float64
		for i := range p {
			pq += real(complex(real(p[i]), -imag(p[i])) * c128(q[i]))
		}
		alpha := rr / pq
		for i := range x {
			x[i] += complex(alpha, 0) * p[i]
			r[i] -= complex(alpha, 0) * c128(q[i])
		}
		rn := dot(r, r)
		beta := rn / rr
		for i := range p {
			p[i] = r[i] + complex(beta, 0)*p[i]
		}
		rr = rn
	}
	out := make([]T, n)
	for i, v := range x {
		out[i] = linop.FromComplex[T](v)
	}
	return out
}

func dot(a, b []complex128) float64 {
	var s float64
	for i := range a {
		s += real(a[i])*real(b[i]) + imag(a[i])*imag(b[i])
	}
	return s
}

func c128[T linop.Scalar](v T) complex128 {
	switch x := any(v).(type) {
	case complex64:
		return complex128(x)
	case float32:
		return complex(float64(x), 0)
	}
	return 0
}

// PosteriorMean returns the closed-form posterior mean of p under prior g.
func PosteriorMean[T linop.Scalar](g *diffusion.Gaussian, p *Problem[T]) []T {
	n := len(g.Spectrum)
	mu := Mean[T](g)
	op := &whitened[T]{g: g, a: p.A, lambda: p.Lambda, t1: make([]T, n), t2: make([]T, n), k: make([]T, p.A.OutLen())}
	// b = λC^½Aᴴ(y − Aμ)
	r := make([]T, p.A.OutLen())
	p.A.Apply(r, mu)
	for i := range r {
		r[i] = p.Y[i] - r[i]
	}
	ahr := make([]T, n)
	p.A.Adjoint(ahr, r)
	b := make([]T, n)
	must(diffusion.GaussianFilter(g, b, ahr, math.Sqrt))
	linop.Scale(b, linop.FromComplex[T](complex(p.Lambda, 0)))
	w := solveWhitened(op, b, 1e-9, 2000)
	m := make([]T, n)
	must(diffusion.GaussianFilter(g, m, w, math.Sqrt))
	linop.Axpy(m, 1, mu)
	return m
}

// PosteriorVariance returns the posterior variance E|x_i − m_i|² of the
// listed pixels: (Q⁻¹)_ii for real images and 2(Q⁻¹)_ii for complex ones,
// Q = λAᴴA + C⁻¹ (so Q⁻¹ = C^½(λC^½AᴴAC^½ + I)⁻¹C^½).
func PosteriorVariance[T linop.Scalar](g *diffusion.Gaussian, p *Problem[T], pixels []int) []float64 {
	n := len(g.Spectrum)
	op := &whitened[T]{g: g, a: p.A, lambda: p.Lambda, t1: make([]T, n), t2: make([]T, n), k: make([]T, p.A.OutLen())}
	out := make([]float64, len(pixels))
	factor := 1.0
	var z T
	if _, ok := any(z).(complex64); ok {
		factor = 2
	}
	for k, i := range pixels {
		e := make([]T, n)
		e[i] = 1
		b := make([]T, n)
		must(diffusion.GaussianFilter(g, b, e, math.Sqrt))
		w := solveWhitened(op, b, 1e-9, 2000)
		out[k] = factor * real(linop.Dot(b, w)) // e_iᵀC^½(·)⁻¹C^½e_i
	}
	return out
}

// RelErr is ‖a − b‖/‖b‖.
func RelErr[T linop.Scalar](a, b []T) float64 {
	d := make([]T, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	return linop.Norm2(d) / linop.Norm2(b)
}

// Dist is ‖a − b‖.
func Dist[T linop.Scalar](a, b []T) float64 {
	d := make([]T, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	return linop.Norm2(d)
}

// MinNorm returns the least-squares solution of Ax = y of least norm (CG
// on AᴴAx = Aᴴy from 0, many iterations): the estimate that ignores the
// prior, one of the wrong answers a test must be able to tell apart.
func MinNorm[T linop.Scalar](p *Problem[T], iters int) []T {
	n := p.A.InLen()
	b := make([]T, n)
	p.A.Adjoint(b, p.Y)
	op := &normalOnly[T]{a: p.A, k: make([]T, p.A.OutLen())}
	return solveWhitenedOp(op, b, iters)
}

type normalOnly[T linop.Scalar] struct {
	a linop.Op[T]
	k []T
}

func solveWhitenedOp[T linop.Scalar](op *normalOnly[T], b []T, iters int) []T {
	n := len(b)
	x := make([]T, n)
	r := append([]T(nil), b...)
	p := append([]T(nil), r...)
	q := make([]T, n)
	rr := real(linop.Dot(r, r))
	for it := 0; it < iters && rr > 0; it++ {
		op.a.Apply(op.k, p)
		op.a.Adjoint(q, op.k)
		pq := real(linop.Dot(p, q))
		if !(pq > 0) {
			break
		}
		alpha := linop.FromComplex[T](complex(rr/pq, 0))
		linop.Axpy(x, alpha, p)
		linop.Axpy(r, -alpha, q)
		rn := real(linop.Dot(r, r))
		beta := linop.FromComplex[T](complex(rn/rr, 0))
		for i := range p {
			p[i] = r[i] + beta*p[i]
		}
		rr = rn
	}
	return x
}
