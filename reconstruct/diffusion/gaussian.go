package diffusion

import (
	"context"
	"fmt"
	"math"

	"github.com/tweedie-recon/tweedie/num/fft"
	"github.com/tweedie-recon/tweedie/num/linop"
)

// Gaussian is the exact Tweedie denoiser of a stationary Gaussian prior:
// each channel of x0 is independent with mean Mean[c] and covariance
// C = F⁻¹·diag(P)·F (F the orthonormal 2D DFT, P the power spectrum). For
// x = α·x0 + σ·z,
//
//	x̂0 = μ + F⁻¹·diag(αP/(α²P + σ²))·F·(x − αμ),
//
// a non-trivial affine map that the tests compare the samplers with, since
// the posterior of a linear measurement under this prior is Gaussian with a
// known mean. A complex image (2 channels) has independent real and
// imaginary parts with the same spectrum, a circular complex Gaussian.
type Gaussian struct {
	info ModelInfo
	// Spectrum is P in the DFT's natural (unshifted) order, Rows·Cols
	// values.
	Spectrum []float64
	// Mean is μ, channel-planar (Channels·Rows·Cols).
	Mean []float32
	// centred is fftshift(P), the filter's layout for num/fft's centred FFT.
	centred []float64
	plan    *fft.Plan
}

// NewGaussian returns the exact denoiser of a stationary Gaussian prior
// with the given spectrum (natural DFT order, all positive) and mean.
func NewGaussian(info ModelInfo, spectrum []float64, mean []float32) (*Gaussian, error) {
	n := info.Rows * info.Cols
	if info.Channels != 1 && info.Channels != 2 {
		return nil, fmt.Errorf("diffusion: Gaussian prior of %d channels, want 1 or 2", info.Channels)
	}
	if len(spectrum) != n || len(mean) != info.Channels*n {
		return nil, fmt.Errorf("diffusion: Gaussian prior: spectrum of %d and mean of %d values for %d channels of %d×%d",
			len(spectrum), len(mean), info.Channels, info.Rows, info.Cols)
	}
	if err := info.Schedule.Validate(); err != nil {
		return nil, err
	}
	for i, p := range spectrum {
		if !(p > 0) || math.IsInf(p, 0) {
			return nil, fmt.Errorf("diffusion: Gaussian prior: spectrum[%d] = %g, want > 0", i, p)
		}
	}
	plan, err := fft.CachedPlan(info.Rows, info.Cols)
	if err != nil {
		return nil, err
	}
	g := &Gaussian{info: info, Spectrum: spectrum, Mean: mean, plan: plan, centred: make([]float64, n)}
	for r := 0; r < info.Rows; r++ {
		for c := 0; c < info.Cols; c++ {
			// fftshift: centred index j holds natural index (j − ⌊n/2⌋) mod n.
			sr := (r - info.Rows/2 + info.Rows) % info.Rows
			sc := (c - info.Cols/2 + info.Cols) % info.Cols
			g.centred[r*info.Cols+c] = spectrum[sr*info.Cols+sc]
		}
	}
	return g, nil
}

// Info implements Denoiser.
func (g *Gaussian) Info() ModelInfo { return g.info }

// Denoise implements Denoiser exactly.
func (g *Gaussian) Denoise(ctx context.Context, dst, x []float32, n int, lv Level) error {
	il := g.info.ImageLen()
	if len(x) != n*il || len(dst) != n*il {
		return fmt.Errorf("diffusion: Gaussian.Denoise: %d and %d values for %d images of %d", len(dst), len(x), n, il)
	}
	if err := CheckFinite("Gaussian denoiser input", x); err != nil {
		return err
	}
	a, s2 := lv.Alpha, lv.Sigma*lv.Sigma
	h := make([]float64, len(g.centred))
	for i, p := range g.centred {
		h[i] = a * p / (a*a*p + s2)
	}
	np := g.info.Rows * g.info.Cols
	buf := make([]complex64, np)
	for b := 0; b < n; b++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		xi, di := x[b*il:(b+1)*il], dst[b*il:(b+1)*il]
		// Channels are filtered in pairs as one complex image (a real
		// filter acts on real and imaginary parts alike).
		for c := 0; c < g.info.Channels; c += 2 {
			two := c+1 < g.info.Channels
			re, mre := xi[c*np:(c+1)*np], g.Mean[c*np:(c+1)*np]
			for i := range buf {
				v := complex(re[i]-float32(a)*mre[i], 0)
				if two {
					v += complex(0, xi[(c+1)*np+i]-float32(a)*g.Mean[(c+1)*np+i])
				}
				buf[i] = v
			}
			if err := g.filter(buf, h); err != nil {
				return err
			}
			for i, v := range buf {
				di[c*np+i] = mre[i] + real(v)
				if two {
					di[(c+1)*np+i] = g.Mean[(c+1)*np+i] + imag(v)
				}
			}
		}
	}
	return nil
}

// filter computes buf ← F⁻¹·diag(h)·F·buf with h in the centred layout.
func (g *Gaussian) filter(buf []complex64, h []float64) error {
	if err := g.plan.Forward(buf, buf); err != nil {
		return err
	}
	for i := range buf {
		buf[i] *= complex(float32(h[i]), 0)
	}
	return g.plan.Inverse(buf, buf)
}

// GaussianFilter computes dst = F⁻¹·diag(fn(P))·F·src for one image of T
// (complex64: a 2-channel image; float32: a 1-channel one), e.g. fn = √ for
// C^½ or 1/p for C⁻¹ in closed-form posteriors.
func GaussianFilter[T linop.Scalar](g *Gaussian, dst, src []T, fn func(p float64) float64) error {
	np := g.info.Rows * g.info.Cols
	if len(src) != np || len(dst) != np {
		return fmt.Errorf("diffusion: GaussianFilter: %d and %d values for %d×%d", len(dst), len(src), g.info.Rows, g.info.Cols)
	}
	h := make([]float64, np)
	for i, p := range g.centred {
		h[i] = fn(p)
	}
	buf := make([]complex64, np)
	switch s := any(src).(type) {
	case []complex64:
		copy(buf, s)
	case []float32:
		for i, v := range s {
			buf[i] = complex(v, 0)
		}
	}
	if err := g.filter(buf, h); err != nil {
		return err
	}
	switch d := any(dst).(type) {
	case []complex64:
		copy(d, buf)
	case []float32:
		for i, v := range buf {
			d[i] = real(v)
		}
	}
	return nil
}
