package diffusion

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Parameterisation is what a network predicts.
type Parameterisation int

const (
	// Eps: the noise ε of x = α·x0 + σ·ε (DDPM, ADM, DDS).
	Eps Parameterisation = iota + 1
	// Score: ∇log p(x) (NCSN++, Score-MRI, DiffusionMBIR).
	Score
	// X0: the clean image itself.
	X0
)

func (p Parameterisation) String() string {
	switch p {
	case Eps:
		return "eps"
	case Score:
		return "score"
	case X0:
		return "x0"
	}
	return fmt.Sprintf("Parameterisation(%d)", int(p))
}

// ParseParameterisation reads "eps", "score" or "x0".
func ParseParameterisation(s string) (Parameterisation, error) {
	switch s {
	case "eps", "epsilon", "noise":
		return Eps, nil
	case "score":
		return Score, nil
	case "x0", "x_0", "sample":
		return X0, nil
	}
	return 0, fmt.Errorf("parameterisation %q: want eps, score or x0", s)
}

// ToX0 turns a network output into Tweedie's x̂0 in place, element-wise:
//
//	eps:   x̂0 = (x − σ·ε̂)/α
//	score: x̂0 = (x + σ²·ŝ)/α
//	x0:    x̂0 = out
func (p Parameterisation) ToX0(out, x []float32, lv Level) error {
	if len(out) != len(x) {
		return fmt.Errorf("diffusion: ToX0: output of %d values for an input of %d", len(out), len(x))
	}
	a, s := float32(lv.Alpha), float32(lv.Sigma)
	switch p {
	case Eps:
		for i, e := range out {
			out[i] = (x[i] - s*e) / a
		}
	case Score:
		s2 := s * s
		for i, g := range out {
			out[i] = (x[i] + s2*g) / a
		}
	case X0:
	default:
		return fmt.Errorf("diffusion: ToX0: unknown parameterisation %d", int(p))
	}
	return nil
}

// ModelInfo describes the images a Denoiser takes: Channels planes of
// Rows×Cols float32 per image (2 channels: real and imaginary parts of a
// complex image; 1: a real image), in the model's intensity scale.
type ModelInfo struct {
	Name                 string
	Modality             string // "MR", "CT" or "" (any)
	Channels, Rows, Cols int
	Schedule             *Schedule
	// MaxBatch bounds the images per Denoise call (0: no bound).
	MaxBatch int
}

// ImageLen is Channels·Rows·Cols.
func (m ModelInfo) ImageLen() int { return m.Channels * m.Rows * m.Cols }

// Denoiser is a prior: Tweedie's denoised estimate of a diffusion model.
type Denoiser interface {
	Info() ModelInfo
	// Denoise writes x̂0 = E[x0 | x_t = x] for n images (n·ImageLen values
	// in x and dst, channel-planar, C order) all at level lv. It returns an
	// error wrapping ErrNonFinite when the model produced NaN or ±Inf.
	Denoise(ctx context.Context, dst, x []float32, n int, lv Level) error
}

// ErrNonFinite reports NaN or ±Inf in a network's input or output.
var ErrNonFinite = errors.New("non-finite values")

// CheckFinite returns an error wrapping ErrNonFinite naming what and the
// first bad index, or nil.
func CheckFinite(what string, v []float32) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			n := 0
			for _, y := range v[i:] {
				if math.IsNaN(float64(y)) || math.IsInf(float64(y), 0) {
					n++
				}
			}
			return fmt.Errorf("%s: %w: %d of %d values are NaN or ±Inf (first at index %d: %v)", what, ErrNonFinite, n, len(v), i, x)
		}
	}
	return nil
}
