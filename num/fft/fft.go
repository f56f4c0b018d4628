// Package fft is tweedie's one fast Fourier transform, used by both
// modalities: the centred orthonormal 2D transform of MRI (Plan, FFT2c,
// IFFT2c: k-space ↔ image, fastMRI's fft2c, BART's `fft -u 3`) and the
// plain 1D transform of batches of vectors (Plan1: the ramp filters of CT's
// filtered back-projection). Both run the same mixed-radix Stockham kernels
// on complex64 with twiddles computed in float64. The package imports
// nothing of tweedie.
//
// Array layout. Images are complex64, row-major (C order) with shape
// (rows, cols); a batch (e.g. coils) is the slowest index. Relation to BART:
// a C-order (rows, cols) image is the BART array [cols, rows] in memory
// (see package array), so BART's dims[0] (READ_DIM) is our cols axis.
package fft

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/tweedie-recon/tweedie/num/parallel"
)

// Plan holds precomputed twiddle factors for centred orthonormal 2D FFTs of
// one image size. It is immutable after NewPlan and safe for concurrent use:
// each call draws its scratch buffers from a pool.
//
// Definitions (numpy notation, fastMRI's fft2c/ifft2c; N = rows·cols):
//
//	Forward(x) = fftshift(fft2(ifftshift(x)))  / √N   (sign e^{−2πi·k·n/n})
//	Inverse(y) = fftshift(ifft2(ifftshift(y))) · √N / N
//
// so Forward is unitary, Inverse is its inverse and its adjoint, and the
// image and k-space centres sit at index (rows/2, cols/2) (integer division),
// which for odd sizes is where numpy's fftshift puts them.
//
// Relation to `bart fft -u 3`: BART's unitary centred FFT over dims 0 and 1
// uses the same sign (FFTW_FORWARD = e^{−2πi…}), the same 1/√N scaling and
// the same centre. BART centres by multiplying with a phase ramp before and
// after the FFT (fftmod: e^{2πi·(j − c/2)·c/n}, c = n/2 rounded down; the
// checkerboard (−1)^j for even n) instead of shifting; the two agree for
// every size, odd ones included (TestBARTFFTAgreement: relative difference
// ≈ 2e-7 for 15×21 and 9×16). Since a C-order (rows, cols) image is the BART
// array [cols, rows] in memory (see package array), `bart fft -u 3`
// equals Forward and `bart fft -u -i 3` equals Inverse element for element
// on the same bytes: no transposition is needed, and BART's dims[0] (its
// readout) is our cols axis.
//
// Algorithm: mixed-radix Stockham autosort (radices 4, 2, 3, 5 and a generic
// odd radix for other prime factors, O(n·p) for a prime factor p), applied to
// blocks of rows transposed into vectors (the FFT along cols) and to strips of
// columns (the FFT along rows), so every butterfly works on contiguous
// vectors. The fftshift/ifftshift permutations, the conjugations of the
// inverse transform and the 1/√N scale are folded into the gather and scatter
// copies. Arithmetic is complex64 with twiddles computed in float64.
type Plan struct {
	rows, cols int
	pr, pc     *plan1
	workers    int
	pool       sync.Pool
}

// PlanOption configures NewPlan.
type PlanOption func(*Plan)

// Workers sets the number of goroutines a transform may use (default
// runtime.GOMAXPROCS(0)); n < 1 means 1.
func Workers(n int) PlanOption {
	return func(p *Plan) {
		if n < 1 {
			n = 1
		}
		p.workers = n
	}
}

// MaxLen bounds each dimension of a Plan and the length of a Plan1. Large
// prime factors cost O(n·p), and no image axis or detector row is this long.
const MaxLen = 1 << 16

// NewPlan prepares transforms of rows×cols images. Any positive size up to
// 65536 per axis is accepted; products of 2, 3 and 5 are fastest, and a
// prime factor p costs O(p) per output point.
func NewPlan(rows, cols int, opts ...PlanOption) (*Plan, error) {
	if rows < 1 || cols < 1 || rows > MaxLen || cols > MaxLen {
		return nil, fmt.Errorf("fft: FFT size %d×%d out of range (1…%d per axis)", rows, cols, MaxLen)
	}
	p := &Plan{rows: rows, cols: cols, workers: runtime.GOMAXPROCS(0)}
	for _, o := range opts {
		o(p)
	}
	p.pr = newPlan1(rows)
	if cols == rows {
		p.pc = p.pr
	} else {
		p.pc = newPlan1(cols)
	}
	maxn := max(rows, cols)
	maxp := max(p.pr.maxRadix, p.pc.maxRadix)
	p.pool.New = func() any { return newScratch(maxn, maxp) }
	return p, nil
}

// Rows returns the number of image rows.
func (p *Plan) Rows() int { return p.rows }

// Cols returns the number of image columns.
func (p *Plan) Cols() int { return p.cols }

// Forward computes dst = fft2c(src) for a batch of images: len(src) must be
// a positive multiple of rows·cols (the leading dimension, e.g. coils, is
// the batch) and len(dst) == len(src). dst may be src (in place); other
// overlaps are not allowed.
func (p *Plan) Forward(dst, src []complex64) error { return p.run(dst, src, false) }

// Inverse computes dst = ifft2c(src), the inverse and adjoint of Forward,
// under the same rules.
func (p *Plan) Inverse(dst, src []complex64) error { return p.run(dst, src, true) }

var planCache sync.Map // [2]int → *Plan

// CachedPlan returns a shared Plan for rows×cols, creating it on first use.
func CachedPlan(rows, cols int) (*Plan, error) {
	key := [2]int{rows, cols}
	if v, ok := planCache.Load(key); ok {
		return v.(*Plan), nil
	}
	p, err := NewPlan(rows, cols)
	if err != nil {
		return nil, err
	}
	v, _ := planCache.LoadOrStore(key, p)
	return v.(*Plan), nil
}

// FFT2c computes dst = fft2c(src) on a batch of rows×cols images with a
// cached Plan.
func FFT2c(dst, src []complex64, rows, cols int) error {
	p, err := CachedPlan(rows, cols)
	if err != nil {
		return err
	}
	return p.Forward(dst, src)
}

// IFFT2c computes dst = ifft2c(src) on a batch of rows×cols images with a
// cached Plan.
func IFFT2c(dst, src []complex64, rows, cols int) error {
	p, err := CachedPlan(rows, cols)
	if err != nil {
		return err
	}
	return p.Inverse(dst, src)
}

// Vector widths: rows transposed per block in the cols pass, columns per
// strip in the rows pass. Chosen by BenchmarkFFT2c256x8 on 2 cores.
const (
	rowBlock = 16
	colStrip = 16
)

// small problems are not worth a goroutine.
const parallelMin = 1 << 14

func (p *Plan) run(dst, src []complex64, inverse bool) error {
	n := p.rows * p.cols
	if len(src) == 0 || len(src)%n != 0 {
		return fmt.Errorf("fft: FFT input of length %d is not a positive multiple of %d×%d", len(src), p.rows, p.cols)
	}
	if len(dst) != len(src) {
		return fmt.Errorf("fft: FFT output of length %d, want %d", len(dst), len(src))
	}
	batch := len(src) / n
	scale := float32(1 / math.Sqrt(float64(n)))
	nrb := (p.rows + rowBlock - 1) / rowBlock
	ncs := (p.cols + colStrip - 1) / colStrip
	workers := p.workers
	if len(src) < parallelMin {
		workers = 1
	}
	rowTask := func(s *scratch, t int) {
		b, blk := t/nrb, t%nrb
		r0 := blk * rowBlock
		v := min(rowBlock, p.rows-r0)
		off := b * n
		p.colsPass(s, dst[off:off+n], src[off:off+n], r0, v, inverse)
	}
	colTask := func(s *scratch, t int) {
		b, strip := t/ncs, t%ncs
		c0 := strip * colStrip
		w := min(colStrip, p.cols-c0)
		off := b * n
		p.rowsPass(s, dst[off:off+n], c0, w, inverse, scale)
	}
	if workers == 1 {
		s := p.pool.Get().(*scratch)
		for t := 0; t < batch*nrb; t++ {
			rowTask(s, t)
		}
		for t := 0; t < batch*ncs; t++ {
			colTask(s, t)
		}
		p.pool.Put(s)
		return nil
	}
	parallel.For(workers, batch*nrb, func(next func() (int, bool)) {
		s := p.pool.Get().(*scratch)
		for t, ok := next(); ok; t, ok = next() {
			rowTask(s, t)
		}
		p.pool.Put(s)
	})
	parallel.For(workers, batch*ncs, func(next func() (int, bool)) {
		s := p.pool.Get().(*scratch)
		for t, ok := next(); ok; t, ok = next() {
			colTask(s, t)
		}
		p.pool.Put(s)
	})
	return nil
}

// colsPass transforms rows r0…r0+v−1 along the cols axis, reading src and
// writing dst (which may be src). Gather applies ifftshift along cols (and
// conjugates for the inverse); scatter applies fftshift.
func (p *Plan) colsPass(s *scratch, dst, src []complex64, r0, v int, inverse bool) {
	c := p.cols
	m := c / 2
	buf := s.a[:c*v]
	rows := s.rows[:v]
	for j := range rows {
		rows[j] = src[(r0+j)*c : (r0+j+1)*c]
	}
	// x'[i] = x[(i+m) mod c]
	for i := 0; i < c; i++ {
		k := i + m
		if k >= c {
			k -= c
		}
		b := buf[i*v : (i+1)*v]
		for j, row := range rows {
			b[j] = row[k]
		}
	}
	if inverse {
		conjInPlace(buf)
	}
	out := p.pc.transform(buf, s.b[:c*v], s, v)
	for j := range rows {
		rows[j] = dst[(r0+j)*c : (r0+j+1)*c]
	}
	// y[k] = Y[(k−m) mod c]
	for i := 0; i < c; i++ {
		k := i + m
		if k >= c {
			k -= c
		}
		b := out[i*v : (i+1)*v]
		for j, row := range rows {
			row[k] = b[j]
		}
	}
}

// rowsPass transforms columns c0…c0+w−1 of img along the rows axis in
// place, with the shifts, the final conjugation of the inverse and the
// orthonormal scale.
func (p *Plan) rowsPass(s *scratch, img []complex64, c0, w int, inverse bool, scale float32) {
	r, c := p.rows, p.cols
	m := r / 2
	buf := s.a[:r*w]
	for i := 0; i < r; i++ {
		src := (i + m) % r
		copy(buf[i*w:(i+1)*w], img[src*c+c0:src*c+c0+w])
	}
	out := p.pr.transform(buf, s.b[:r*w], s, w)
	for k := 0; k < r; k++ {
		srcRow := out[((k-m+r)%r)*w : ((k-m+r)%r+1)*w]
		dst := img[k*c+c0 : k*c+c0+w]
		if inverse {
			for j, z := range srcRow {
				dst[j] = complex(real(z)*scale, -imag(z)*scale)
			}
		} else {
			for j, z := range srcRow {
				dst[j] = complex(real(z)*scale, imag(z)*scale)
			}
		}
	}
}

func conjInPlace(x []complex64) {
	for i, z := range x {
		x[i] = complex(real(z), -imag(z))
	}
}

// scratch is one worker's buffers: two ping-pong arrays of n vectors and the
// generic-radix temporaries.
type scratch struct {
	a, b []complex64
	rows [][]complex64 // row views of one block
	g    []complex64   // p·vmax twiddled inputs of a generic butterfly
	cs   []float32     // p cosines and sines of a generic butterfly
	sn   []float32
}

func newScratch(maxn, maxp int) *scratch {
	vmax := max(rowBlock, colStrip)
	s := &scratch{a: make([]complex64, maxn*vmax), b: make([]complex64, maxn*vmax), rows: make([][]complex64, vmax)}
	if maxp > 5 {
		s.g = make([]complex64, maxp*vmax)
		s.cs, s.sn = make([]float32, maxp), make([]float32, maxp)
	}
	return s
}

// plan1 is a 1D mixed-radix Stockham plan of length n.
type plan1 struct {
	n        int
	stages   []stage
	maxRadix int
}

// stage combines p transforms of length lstar into transforms of length
// L = p·lstar; r = n/L is the number of such transforms.
//
//	y(j + t·L*, k) = Σ_s ω_p^{ts} · (ω_L^{js} · x(j, k + s·r)),
//	x(j, k) at index j + k·L*, y(j, k) at index j + k·L, j < L*, k < r.
type stage struct {
	p, lstar, r int
	tw          []complex64 // tw[j·(p−1) + s−1] = ω_L^{js}, ω_L = e^{−2πi/L}
	cos, sin    []float32   // generic radix: cos(2πt/p), sin(2πt/p), t < p
}

func newPlan1(n int) *plan1 {
	pl := &plan1{n: n, maxRadix: 1}
	lstar := 1
	for _, p := range factor(n) {
		L := p * lstar
		st := stage{p: p, lstar: lstar, r: n / L}
		st.tw = make([]complex64, lstar*(p-1))
		for j := 0; j < lstar; j++ {
			for s := 1; s < p; s++ {
				st.tw[j*(p-1)+s-1] = expi(-2 * math.Pi * float64(j*s) / float64(L))
			}
		}
		if p > 5 {
			st.cos = make([]float32, p)
			st.sin = make([]float32, p)
			for t := 0; t < p; t++ {
				sn, cs := math.Sincos(2 * math.Pi * float64(t) / float64(p))
				st.cos[t], st.sin[t] = float32(cs), float32(sn)
			}
		}
		pl.maxRadix = max(pl.maxRadix, p)
		pl.stages = append(pl.stages, st)
		lstar = L
	}
	return pl
}

func expi(phi float64) complex64 {
	s, c := math.Sincos(phi)
	return complex(float32(c), float32(s))
}

// factor splits n into radices: 4s first, then 2, 3, 5 and remaining primes
// in increasing order.
func factor(n int) []int {
	var f []int
	for n%4 == 0 {
		f = append(f, 4)
		n /= 4
	}
	for _, p := range []int{2, 3, 5} {
		for n%p == 0 {
			f = append(f, p)
			n /= p
		}
	}
	for p := 7; p*p <= n; p += 2 {
		for n%p == 0 {
			f = append(f, p)
			n /= p
		}
	}
	if n > 1 {
		f = append(f, n)
	}
	return f
}

// transform runs the forward DFT of length n on v interleaved vectors
// (element (i, j) at x[i·v + j]) and returns the buffer that holds the
// result, x or y.
func (pl *plan1) transform(x, y []complex64, s *scratch, v int) []complex64 {
	for i := range pl.stages {
		st := &pl.stages[i]
		switch st.p {
		case 2:
			radix2(st, x, y, v)
		case 3:
			radix3(st, x, y, v)
		case 4:
			radix4(st, x, y, v)
		case 5:
			radix5(st, x, y, v)
		default:
			radixGeneric(st, x, y, s, v)
		}
		x, y = y, x
	}
	return x
}

func cmul(a, b complex64) complex64 {
	return complex(real(a)*real(b)-imag(a)*imag(b), real(a)*imag(b)+imag(a)*real(b))
}

func radix2(st *stage, x, y []complex64, v int) {
	ls, r := st.lstar, st.r
	L := 2 * ls
	for k := 0; k < r; k++ {
		for j := 0; j < ls; j++ {
			i0 := (j + k*ls) * v
			i1 := (j + (k+r)*ls) * v
			o0 := (j + k*L) * v
			o1 := o0 + ls*v
			x0, x1 := x[i0:i0+v], x[i1:i1+v]
			y0, y1 := y[o0:o0+v], y[o1:o1+v]
			if j == 0 {
				for q := range x0 {
					a, b := x0[q], x1[q]
					y0[q], y1[q] = a+b, a-b
				}
				continue
			}
			w := st.tw[j]
			for q := range x0 {
				a, b := x0[q], cmul(x1[q], w)
				y0[q], y1[q] = a+b, a-b
			}
		}
	}
}

func radix4(st *stage, x, y []complex64, v int) {
	ls, r := st.lstar, st.r
	L := 4 * ls
	for k := 0; k < r; k++ {
		for j := 0; j < ls; j++ {
			i0 := (j + k*ls) * v
			i1 := (j + (k+r)*ls) * v
			i2 := (j + (k+2*r)*ls) * v
			i3 := (j + (k+3*r)*ls) * v
			o0 := (j + k*L) * v
			o1 := o0 + ls*v
			o2 := o1 + ls*v
			o3 := o2 + ls*v
			x0, x1, x2, x3 := x[i0:i0+v], x[i1:i1+v], x[i2:i2+v], x[i3:i3+v]
			y0, y1, y2, y3 := y[o0:o0+v], y[o1:o1+v], y[o2:o2+v], y[o3:o3+v]
			x1, x2, x3 = x1[:len(x0)], x2[:len(x0)], x3[:len(x0)]
			y0, y1, y2, y3 = y0[:len(x0)], y1[:len(x0)], y2[:len(x0)], y3[:len(x0)]
			if j == 0 {
				for q := range x0 {
					a0, a1, a2, a3 := x0[q], x1[q], x2[q], x3[q]
					t0, t1 := a0+a2, a0-a2
					t2, t3 := a1+a3, a1-a3
					y0[q] = t0 + t2
					y2[q] = t0 - t2
					// t1 ∓ i·t3
					y1[q] = complex(real(t1)+imag(t3), imag(t1)-real(t3))
					y3[q] = complex(real(t1)-imag(t3), imag(t1)+real(t3))
				}
				continue
			}
			w1, w2, w3 := st.tw[j*3], st.tw[j*3+1], st.tw[j*3+2]
			for q := range x0 {
				a0, a1, a2, a3 := x0[q], cmul(x1[q], w1), cmul(x2[q], w2), cmul(x3[q], w3)
				t0, t1 := a0+a2, a0-a2
				t2, t3 := a1+a3, a1-a3
				y0[q] = t0 + t2
				y2[q] = t0 - t2
				y1[q] = complex(real(t1)+imag(t3), imag(t1)-real(t3))
				y3[q] = complex(real(t1)-imag(t3), imag(t1)+real(t3))
			}
		}
	}
}

const (
	sin60 = 0.86602540378443864676 // sin(2π/3)
	c51   = 0.30901699437494742410 // cos(2π/5)
	c52   = -0.80901699437494742410
	s51   = 0.95105651629515357212 // sin(2π/5)
	s52   = 0.58778525229247312917 // sin(4π/5)
)

func radix3(st *stage, x, y []complex64, v int) {
	ls, r := st.lstar, st.r
	L := 3 * ls
	for k := 0; k < r; k++ {
		for j := 0; j < ls; j++ {
			i0 := (j + k*ls) * v
			i1 := (j + (k+r)*ls) * v
			i2 := (j + (k+2*r)*ls) * v
			o0 := (j + k*L) * v
			o1 := o0 + ls*v
			o2 := o1 + ls*v
			x0, x1, x2 := x[i0:i0+v], x[i1:i1+v], x[i2:i2+v]
			y0, y1, y2 := y[o0:o0+v], y[o1:o1+v], y[o2:o2+v]
			w1, w2 := complex64(1), complex64(1)
			if j > 0 {
				w1, w2 = st.tw[j*2], st.tw[j*2+1]
			}
			for q := range x0 {
				a0, a1, a2 := x0[q], cmul(x1[q], w1), cmul(x2[q], w2)
				t1 := a1 + a2
				t2 := a0 - complex(0.5*real(t1), 0.5*imag(t1))
				d := a1 - a2
				// t3 = −i·sin60·d
				t3 := complex(sin60*imag(d), -sin60*real(d))
				y0[q] = a0 + t1
				y1[q] = t2 + t3
				y2[q] = t2 - t3
			}
		}
	}
}

func radix5(st *stage, x, y []complex64, v int) {
	ls, r := st.lstar, st.r
	L := 5 * ls
	for k := 0; k < r; k++ {
		for j := 0; j < ls; j++ {
			var in [5][]complex64
			var out [5][]complex64
			for s := 0; s < 5; s++ {
				i := (j + (k+s*r)*ls) * v
				in[s] = x[i : i+v]
				o := (j + k*L + s*ls) * v
				out[s] = y[o : o+v]
			}
			var w [5]complex64
			w[1], w[2], w[3], w[4] = 1, 1, 1, 1
			if j > 0 {
				w[1], w[2], w[3], w[4] = st.tw[j*4], st.tw[j*4+1], st.tw[j*4+2], st.tw[j*4+3]
			}
			for q := 0; q < v; q++ {
				a0 := in[0][q]
				a1, a2, a3, a4 := cmul(in[1][q], w[1]), cmul(in[2][q], w[2]), cmul(in[3][q], w[3]), cmul(in[4][q], w[4])
				b1, b2 := a1+a4, a2+a3
				d1, d2 := a1-a4, a2-a3
				r1 := complex(real(a0)+c51*real(b1)+c52*real(b2), imag(a0)+c51*imag(b1)+c52*imag(b2))
				r2 := complex(real(a0)+c52*real(b1)+c51*real(b2), imag(a0)+c52*imag(b1)+c51*imag(b2))
				i1 := complex(s51*real(d1)+s52*real(d2), s51*imag(d1)+s52*imag(d2))
				i2 := complex(s52*real(d1)-s51*real(d2), s52*imag(d1)-s51*imag(d2))
				out[0][q] = a0 + b1 + b2
				// r ∓ i·i
				out[1][q] = complex(real(r1)+imag(i1), imag(r1)-real(i1))
				out[4][q] = complex(real(r1)-imag(i1), imag(r1)+real(i1))
				out[2][q] = complex(real(r2)+imag(i2), imag(r2)-real(i2))
				out[3][q] = complex(real(r2)-imag(i2), imag(r2)+real(i2))
			}
		}
	}
}

// radixGeneric is the butterfly of an odd radix p:
// y_t = a_0 + Σ_{s=1}^{(p−1)/2} [cos(2πts/p)(a_s + a_{p−s}) ∓ i·sin(2πts/p)(a_s − a_{p−s})],
// the minus sign for y_t and the plus sign for y_{p−t}.
func radixGeneric(st *stage, x, y []complex64, sc *scratch, v int) {
	p, ls, r := st.p, st.lstar, st.r
	L := p * ls
	h := (p - 1) / 2
	a := sc.g[:p*v]
	cs, sn := sc.cs[:p], sc.sn[:p] // the coefficients of one output pair t
	for k := 0; k < r; k++ {
		for j := 0; j < ls; j++ {
			for s := 0; s < p; s++ {
				i := (j + (k+s*r)*ls) * v
				src := x[i : i+v]
				dst := a[s*v : (s+1)*v]
				if s == 0 || j == 0 {
					copy(dst, src)
					continue
				}
				w := st.tw[j*(p-1)+s-1]
				for q := range src {
					dst[q] = cmul(src[q], w)
				}
			}
			// sums and differences in place: a_s ← a_s + a_{p−s}, a_{p−s} ← a_s − a_{p−s}
			for s := 1; s <= h; s++ {
				u, w := a[s*v:(s+1)*v], a[(p-s)*v:(p-s+1)*v]
				for q := range u {
					u[q], w[q] = u[q]+w[q], u[q]-w[q]
				}
			}
			o0 := (j + k*L) * v
			y0 := y[o0 : o0+v]
			copy(y0, a[:v])
			for s := 1; s <= h; s++ {
				u := a[s*v : (s+1)*v]
				for q := range y0 {
					y0[q] += u[q]
				}
			}
			for t := 1; t <= h; t++ {
				ot := (j + k*L + t*ls) * v
				om := (j + k*L + (p-t)*ls) * v
				yt, ym := y[ot:ot+v], y[om:om+v]
				for s := 1; s <= h; s++ {
					idx := (t * s) % p
					cs[s], sn[s] = st.cos[idx], st.sin[idx]
				}
				for q := range yt {
					a0 := a[q]
					re, im := real(a0), imag(a0)
					var dr, di float32
					for s := 1; s <= h; s++ {
						sum, dif := a[s*v+q], a[(p-s)*v+q]
						re += cs[s] * real(sum)
						im += cs[s] * imag(sum)
						dr += sn[s] * real(dif)
						di += sn[s] * imag(dif)
					}
					// y_t = … − i·Σ sin·dif, y_{p−t} = … + i·Σ sin·dif
					yt[q] = complex(re+di, im-dr)
					ym[q] = complex(re-di, im+dr)
				}
			}
		}
	}
}
