package sinogram

import (
	"math"
	"math/bits"
)

// fftPlan is an in-place radix-2 decimation-in-time FFT of a fixed power
// of two length (Cooley & Tukey 1965). The detector filters need only
// power-of-two lengths (the padded projection length), so this small
// transform keeps the package free of FFT dependencies.
type fftPlan struct {
	n    int
	rev  []int32
	twid []complex128 // exp(−2πik/n), k < n/2
}

func newFFTPlan(n int) *fftPlan {
	if n < 2 || n&(n-1) != 0 {
		panic("sinogram: FFT length must be a power of two ≥ 2")
	}
	p := &fftPlan{n: n, rev: make([]int32, n), twid: make([]complex128, n/2)}
	shift := 64 - bits.TrailingZeros(uint(n))
	for i := range p.rev {
		p.rev[i] = int32(bits.Reverse64(uint64(i)) >> shift)
	}
	for k := range p.twid {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		p.twid[k] = complex(c, s)
	}
	return p
}

// forward computes X_k = Σ_j x_j e^{−2πijk/n} in place.
func (p *fftPlan) forward(x []complex128) { p.transform(x, false) }

// inverse computes x_j = (1/n) Σ_k X_k e^{+2πijk/n} in place.
func (p *fftPlan) inverse(x []complex128) {
	p.transform(x, true)
	s := 1 / float64(p.n)
	for i := range x {
		x[i] = complex(real(x[i])*s, imag(x[i])*s)
	}
}

func (p *fftPlan) transform(x []complex128, inv bool) {
	n := p.n
	for i, r := range p.rev {
		if int(r) > i {
			x[i], x[r] = x[r], x[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half := size >> 1
		step := n / size
		for start := 0; start < n; start += size {
			for k := 0; k < half; k++ {
				w := p.twid[k*step]
				if inv {
					w = complex(real(w), -imag(w))
				}
				a := x[start+k]
				b := x[start+k+half] * w
				x[start+k] = a + b
				x[start+k+half] = a - b
			}
		}
	}
}
