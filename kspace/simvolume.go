package kspace

import (
	"fmt"
	"math/rand/v2"
)

// Simulation of an undersampled multi-coil acquisition of a whole volume
// of magnitude images, for evaluation: what `tweedie simulate mr` writes.

// Mask kinds of VolumeSimConfig.
const (
	MaskEquispaced = "equispaced" // EquispacedACS, fastMRI's equispaced mask
	MaskRandom     = "random"     // RandomUniformACS
)

// VolumeSimConfig describes a simulated acquisition.
type VolumeSimConfig struct {
	Coils int     // receive coils (CoilMaps, normalised to Σ|S|² = 1)
	Accel float64 // nominal acceleration
	ACS   float64 // fully sampled centre fraction
	Mask  string  // MaskEquispaced or MaskRandom
	// Noise is the standard deviation relative to the RMS of the sampled
	// k-space (Simulate).
	Noise float64
	// Phase is the amplitude of each slice's smooth random phase, radians
	// (SmoothPhase).
	Phase float64
	Seed  uint64
}

// VolumeSim simulates the k-space of magnitude images slice by slice: a
// smooth random phase, smooth coil sensitivities (normalised to
// Σ|S|² = 1), complex Gaussian noise, and one undersampling mask over phase
// encoding for all slices. One seed gives one acquisition: the mask, the
// phases and the noise are drawn from a single random source in that
// order.
type VolumeSim struct {
	Rows, Cols int
	Config     VolumeSimConfig
	Lines      []bool  // the sampled phase-encoding lines (columns)
	Actual     float64 // the actual acceleration, cols / lines sampled
	mask       *Mask
	maps       []complex64
	rng        *rand.Rand
}

// NewVolumeSim draws the mask and makes the coil maps for rows×cols
// images; errors are those of the configuration.
func NewVolumeSim(rows, cols int, cfg VolumeSimConfig) (*VolumeSim, error) {
	s := &VolumeSim{Rows: rows, Cols: cols, Config: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x7eed1e))}
	var err error
	switch cfg.Mask {
	case MaskEquispaced:
		s.Lines, s.Actual, err = EquispacedACS(cols, cfg.Accel, cfg.ACS)
	case MaskRandom:
		s.Lines, s.Actual, err = RandomUniformACS(cols, cfg.Accel, cfg.ACS, s.rng)
	default:
		err = fmt.Errorf("mask %q: want %s or %s", cfg.Mask, MaskEquispaced, MaskRandom)
	}
	if err != nil {
		return nil, err
	}
	s.mask = LineMask(rows, s.Lines)
	if s.maps, err = CoilMaps(rows, cols, CoilConfig{Coils: cfg.Coils}); err != nil {
		return nil, err
	}
	return s, nil
}

// Simulate returns the k-space (slices, coils, rows, cols) of magnitude
// images (slices, rows, cols); unsampled lines are zero.
func (s *VolumeSim) Simulate(images []float32) ([]complex64, error) {
	plane := s.Rows * s.Cols
	if len(images)%plane != 0 {
		return nil, fmt.Errorf("kspace: %d image values are not a whole number of %d×%d slices", len(images), s.Rows, s.Cols)
	}
	ns := len(images) / plane
	k := make([]complex64, 0, ns*s.Config.Coils*plane)
	for i := 0; i < ns; i++ {
		img := RealToComplex(images[i*plane : (i+1)*plane])
		ph := SmoothPhase(s.Rows, s.Cols, s.Config.Phase, s.rng)
		for j := range img {
			img[j] *= ph[j]
		}
		ks, _, err := Simulate(img, s.maps, s.mask, s.Config.Noise, s.rng)
		if err != nil {
			return nil, err
		}
		k = append(k, ks...)
	}
	return k, nil
}

// LineMask1D is the mask over phase encoding as fastMRI stores it: 1 for a
// sampled column, 0 otherwise.
func (s *VolumeSim) LineMask1D() []float32 {
	m := make([]float32, len(s.Lines))
	for c, v := range s.Lines {
		if v {
			m[c] = 1
		}
	}
	return m
}
