package fft

import (
	"fmt"
	"sync"
)

// Plan1 is the plain 1D DFT of one length on batches of vectors:
//
//	Forward:  X_k = Σ_j x_j e^{−2πijk/n}
//	Inverse:  x_j = (1/n) Σ_k X_k e^{+2πijk/n}
//
// (numpy's fft and ifft, no shift, no orthonormal scale). It runs the
// Stockham kernels of Plan on v vectors at once, stored interleaved:
// element i of vector j is x[i·v + j], so each butterfly works on v
// contiguous values. CT's filtered back-projection uses it for the ramp
// filters, a block of detector rows at a time. A Plan1 is immutable and
// safe for concurrent use; scratch buffers come from a pool.
type Plan1 struct {
	p    *plan1
	pool sync.Pool // *scratch1
}

type scratch1 struct {
	y  []complex64
	sc scratch
}

// NewPlan1 prepares transforms of length n, 1 ≤ n ≤ MaxLen. Products of
// 2, 3 and 5 are fastest.
func NewPlan1(n int) (*Plan1, error) {
	if n < 1 || n > MaxLen {
		return nil, fmt.Errorf("fft: length %d out of range (1…%d)", n, MaxLen)
	}
	p := &Plan1{p: newPlan1(n)}
	p.pool.New = func() any { return &scratch1{} }
	return p, nil
}

// Len returns the transform length n.
func (p *Plan1) Len() int { return p.p.n }

// Forward transforms the v interleaved vectors of x in place;
// len(x) must be n·v, v ≥ 1.
func (p *Plan1) Forward(x []complex64, v int) error { return p.run(x, v, false) }

// Inverse is the inverse of Forward, scaled by 1/n, in place.
func (p *Plan1) Inverse(x []complex64, v int) error { return p.run(x, v, true) }

func (p *Plan1) run(x []complex64, v int, inverse bool) error {
	n := p.p.n
	if v < 1 || len(x) != n*v {
		return fmt.Errorf("fft: 1D input of length %d is not %d vectors of %d", len(x), v, n)
	}
	s := p.pool.Get().(*scratch1)
	defer p.pool.Put(s)
	if cap(s.y) < n*v {
		s.y = make([]complex64, n*v)
	}
	if p.p.maxRadix > 5 && len(s.sc.g) < p.p.maxRadix*v {
		s.sc.g = make([]complex64, p.p.maxRadix*v)
		s.sc.cs, s.sc.sn = make([]float32, p.p.maxRadix), make([]float32, p.p.maxRadix)
	}
	if inverse {
		// ifft(X) = conj(fft(conj(X))) / n
		conjInPlace(x)
	}
	out := p.p.transform(x, s.y[:n*v], &s.sc, v)
	if inverse {
		sc := 1 / float32(n)
		for i, z := range out {
			x[i] = complex(real(z)*sc, -imag(z)*sc)
		}
		return nil
	}
	if &out[0] != &x[0] {
		copy(x, out)
	}
	return nil
}
