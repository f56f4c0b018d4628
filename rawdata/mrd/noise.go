package mrd

import (
	"fmt"
	"math"
	"math/cmplx"
)

// Noise prewhitening (coil noise decorrelation), as Gadgetron's
// NoiseAdjustGadget does it and as Kellman P, McVeigh ER, "Image
// reconstruction in SNR units: a general method for SNR measurement", Magn
// Reson Med 2005;54:1439–1447 (erratum 2007;58:211) describes it: from
// noise-only samples n (one column of C coil values per sample, N samples)
//
//	Ψ = Σ n nᴴ / (N − 1)                 the coil noise covariance
//	Ψ = L Lᴴ                             its Cholesky factor, L lower triangular
//	W = s · L⁻¹,  s = √(2 · Δt_acq / Δt_noise · B)
//
// and every acquired sample vector x becomes W x, whose noise is white:
// uncorrelated across coils with variance s² (the factor 2 makes it 1 in
// each of the real and imaginary parts when s's other terms are 1). B is
// the relative receiver noise bandwidth of the header's
// acquisitionSystemInformation (0.793 when absent, Gadgetron's default) and
// Δt the sample times (dwell) of the data and of the noise scan; when
// either is 0, s is √2 times nothing else, as Gadgetron then takes the
// bandwidth factor as 1. (The ISMRM 2013 sunrise course code,
// ismrm_calculate_noise_decorrelation_mtx.m, states the same scale.)

// defaultNoiseBandwidth is Gadgetron's relativeReceiverNoiseBandwidth
// when the header has none.
const defaultNoiseBandwidth = 0.793

// noiseStats accumulates Σ n nᴴ over noise samples.
type noiseStats struct {
	coils int
	sum   []complex128 // coils × coils, row-major
	n     int          // samples
	dwell float64      // µs, of the first noise acquisition
}

func newNoiseStats(coils int) *noiseStats {
	return &noiseStats{coils: coils, sum: make([]complex128, coils*coils)}
}

// add accumulates one noise acquisition: samples per channel, channel by
// channel (sample fastest).
func (s *noiseStats) add(data []complex64, samples int) {
	c := s.coils
	for k := 0; k < samples; k++ {
		for i := 0; i < c; i++ {
			xi := complex128(data[i*samples+k])
			for j := 0; j <= i; j++ {
				s.sum[i*c+j] += xi * cmplx.Conj(complex128(data[j*samples+k]))
			}
		}
	}
	s.n += samples
}

// whitener returns L⁻¹ (without the scale s), lower triangular, row-major:
// an error when there are too few samples or Ψ is not positive definite.
func (s *noiseStats) whitener() ([]complex128, error) {
	c := s.coils
	if s.n < 2*c {
		return nil, fmt.Errorf("%d noise samples are too few to estimate the noise covariance of %d coils (want at least %d)", s.n, c, 2*c)
	}
	psi := make([]complex128, c*c)
	for i := 0; i < c; i++ {
		for j := 0; j <= i; j++ {
			v := s.sum[i*c+j] / complex(float64(s.n-1), 0)
			psi[i*c+j], psi[j*c+i] = v, cmplx.Conj(v)
		}
	}
	l, err := cholesky(psi, c)
	if err != nil {
		return nil, err
	}
	return invertLower(l, c), nil
}

// cholesky returns L, lower triangular with a positive real diagonal, with
// a = L Lᴴ for a Hermitian positive definite n × n matrix a (row-major).
func cholesky(a []complex128, n int) ([]complex128, error) {
	l := make([]complex128, n*n)
	for j := 0; j < n; j++ {
		d := real(a[j*n+j])
		for k := 0; k < j; k++ {
			d -= real(l[j*n+k] * cmplx.Conj(l[j*n+k]))
		}
		if !(d > 0) || math.IsInf(d, 0) {
			return nil, fmt.Errorf("the noise covariance is not positive definite at coil %d (a coil without noise, or two identical coils)", j)
		}
		ljj := math.Sqrt(d)
		l[j*n+j] = complex(ljj, 0)
		for i := j + 1; i < n; i++ {
			v := a[i*n+j]
			for k := 0; k < j; k++ {
				v -= l[i*n+k] * cmplx.Conj(l[j*n+k])
			}
			l[i*n+j] = v / complex(ljj, 0)
		}
	}
	return l, nil
}

// invertLower inverts a lower-triangular n × n matrix by forward
// substitution, column by column of the identity.
func invertLower(l []complex128, n int) []complex128 {
	inv := make([]complex128, n*n)
	for j := 0; j < n; j++ {
		inv[j*n+j] = 1 / l[j*n+j]
		for i := j + 1; i < n; i++ {
			var v complex128
			for k := j; k < i; k++ {
				v += l[i*n+k] * inv[k*n+j]
			}
			inv[i*n+j] = -v / l[i*n+i]
		}
	}
	return inv
}

// prewhitener applies W = s · L⁻¹ to acquisitions.
type prewhitener struct {
	coils  int
	w      []complex128 // L⁻¹
	bw     float64      // relative receiver noise bandwidth B
	dwell  float64      // noise sample time, µs
	column []complex128
}

// scale is s for an acquisition with sample time dwell (µs).
func (p *prewhitener) scale(dwell float64) float64 {
	if p.dwell <= 0 || dwell <= 0 {
		return math.Sqrt2
	}
	return math.Sqrt(2 * dwell / p.dwell * p.bw)
}

// apply replaces every sample vector of data (samples per channel, channel
// by channel) with W times it.
func (p *prewhitener) apply(data []complex64, samples int, dwell float64) {
	c := p.coils
	s := complex(p.scale(dwell), 0)
	if cap(p.column) < c {
		p.column = make([]complex128, c)
	}
	col := p.column[:c]
	for k := 0; k < samples; k++ {
		for i := 0; i < c; i++ {
			col[i] = complex128(data[i*samples+k])
		}
		for i := 0; i < c; i++ {
			var v complex128
			for j := 0; j <= i; j++ {
				v += p.w[i*c+j] * col[j]
			}
			data[i*samples+k] = complex64(s * v)
		}
	}
}
