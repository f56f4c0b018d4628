package diffusion

import (
	"fmt"
	"math"
)

// Kind is the family of a noise schedule.
type Kind int

const (
	// VP is the variance-preserving (DDPM) schedule: α² + σ² = 1.
	VP Kind = iota + 1
	// VE is the variance-exploding (NCSN) schedule: α = 1.
	VE
)

func (k Kind) String() string {
	switch k {
	case VP:
		return "vp"
	case VE:
		return "ve"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Level is one point of the forward process x = Alpha·x0 + Sigma·z.
type Level struct {
	// U is the normalised time in [0, 1] (0: clean).
	U float64
	// Alpha is the signal scale α, Sigma the noise standard deviation σ.
	Alpha, Sigma float64
	// Input is the value fed to the network's time input: the step
	// t ∈ [0, T−1] of a VP model (a float, possibly fractional), σ for a VE
	// model.
	Input float64
}

// VESigma is σ/α, the noise level of the same point in VE coordinates
// (x/α = x0 + (σ/α)·z).
func (l Level) VESigma() float64 { return l.Sigma / l.Alpha }

// Schedule is a noise schedule. Build it with NewVP or NewVE.
type Schedule struct {
	Kind Kind
	// VP: β linear from BetaMin to BetaMax over Steps steps.
	BetaMin, BetaMax float64
	Steps            int
	// VE: σ geometric from SigmaMin to SigmaMax.
	SigmaMin, SigmaMax float64

	alphaBar []float64 // VP: ᾱ_t, t = 0…T−1
}

// NewVP returns the linear-β variance-preserving schedule of DDPM (Ho et
// al. 2020): β_t = β_min + (β_max − β_min)·t/(T−1), ᾱ_t = Π_{i≤t}(1 − β_i).
func NewVP(betaMin, betaMax float64, steps int) (*Schedule, error) {
	if !(betaMin > 0 && betaMax >= betaMin && betaMax < 1) || steps < 2 {
		return nil, fmt.Errorf("diffusion: VP schedule β %g…%g over %d steps: want 0 < β_min ≤ β_max < 1 and at least 2 steps", betaMin, betaMax, steps)
	}
	s := &Schedule{Kind: VP, BetaMin: betaMin, BetaMax: betaMax, Steps: steps, alphaBar: make([]float64, steps)}
	ab := 1.0
	for t := 0; t < steps; t++ {
		beta := betaMin + (betaMax-betaMin)*float64(t)/float64(steps-1)
		ab *= 1 - beta
		s.alphaBar[t] = ab
	}
	return s, nil
}

// NewVE returns the variance-exploding schedule σ(u) = σ_min·(σ_max/σ_min)^u
// of NCSN++ (Song et al. 2021).
func NewVE(sigmaMin, sigmaMax float64) (*Schedule, error) {
	if !(sigmaMin > 0 && sigmaMax > sigmaMin) || math.IsInf(sigmaMax, 0) {
		return nil, fmt.Errorf("diffusion: VE schedule σ %g…%g: want 0 < σ_min < σ_max", sigmaMin, sigmaMax)
	}
	return &Schedule{Kind: VE, SigmaMin: sigmaMin, SigmaMax: sigmaMax}, nil
}

// AlphaBar returns ᾱ at a continuous VP step t ∈ [−1, T−1], linearly
// interpolated between integer steps, with ᾱ(−1) = 1 (the clean image).
// The exported Gaussian test models interpolate the same way.
func (s *Schedule) AlphaBar(t float64) float64 {
	if t <= -1 {
		return 1
	}
	if t >= float64(s.Steps-1) {
		return s.alphaBar[s.Steps-1]
	}
	i := math.Floor(t)
	f := t - i
	at := func(k int) float64 {
		if k < 0 {
			return 1
		}
		return s.alphaBar[k]
	}
	k := int(i)
	return (1-f)*at(k) + f*at(k+1)
}

// At returns the level at normalised time u ∈ [0, 1]. VP: the step is
// t = u·T − 1, so u = k/N falls on integer steps whenever N divides T (with
// T = 1000 and N = 50: t = 19, 39, …, 999), and u = 0 is t = −1, ᾱ = 1.
// VE: σ = σ_min·(σ_max/σ_min)^u for u > 0, and σ = 0 at u = 0.
func (s *Schedule) At(u float64) Level {
	u = math.Max(0, math.Min(1, u))
	switch s.Kind {
	case VP:
		t := u*float64(s.Steps) - 1
		ab := s.AlphaBar(t)
		return Level{U: u, Alpha: math.Sqrt(ab), Sigma: math.Sqrt(math.Max(0, 1-ab)), Input: math.Max(t, 0)}
	case VE:
		if u == 0 {
			return Level{U: 0, Alpha: 1, Sigma: 0, Input: 0}
		}
		sig := s.SigmaMin * math.Pow(s.SigmaMax/s.SigmaMin, u)
		return Level{U: u, Alpha: 1, Sigma: sig, Input: sig}
	}
	panic("diffusion: schedule of unknown kind")
}

// UForVESigma returns the u at which σ/α equals sigma (bisection on the
// increasing σ/α), clamped to the schedule's range.
func (s *Schedule) UForVESigma(sigma float64) float64 {
	lo, hi := 1e-9, 1.0
	if sigma <= s.At(lo).VESigma() {
		return lo
	}
	if sigma >= s.At(hi).VESigma() {
		return hi
	}
	for range 80 {
		mid := (lo + hi) / 2
		if s.At(mid).VESigma() < sigma {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// Validate reports an unusable schedule.
func (s *Schedule) Validate() error {
	if s == nil {
		return fmt.Errorf("diffusion: no schedule")
	}
	switch s.Kind {
	case VP:
		if len(s.alphaBar) != s.Steps || s.Steps < 2 {
			return fmt.Errorf("diffusion: VP schedule not built with NewVP")
		}
	case VE:
		if !(s.SigmaMin > 0 && s.SigmaMax > s.SigmaMin) {
			return fmt.Errorf("diffusion: VE schedule σ %g…%g", s.SigmaMin, s.SigmaMax)
		}
	default:
		return fmt.Errorf("diffusion: schedule kind %d", s.Kind)
	}
	return nil
}
