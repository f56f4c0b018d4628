package sinogram

import (
	"fmt"
	"math"
)

// DefaultMuWater is the linear attenuation coefficient of water in 1/mm
// used for HU conversion: 0.0192 /mm (0.192 /cm), water at an effective
// energy of about 70 keV (NIST XCOM: μ/ρ = 0.1929 cm²/g at 70 keV), typical
// of a 120 kVp spectrum. Pass another value for other spectra.
const DefaultMuWater = 0.0192

func checkMuWater(mu float64) error {
	if !(mu > 0) || math.IsInf(mu, 0) {
		return fmt.Errorf("sinogram: μ_water = %g /mm, want > 0", mu)
	}
	return nil
}

// HUToMu converts Hounsfield units to linear attenuation in 1/mm,
//
//	μ = μ_water·(1 + HU/1000),
//
// writing into dst (which may be src). Air (−1000 HU) maps to 0; values
// below −1000 HU (e.g. the −1024 of padding) give slightly negative μ,
// which callers may clip.
func HUToMu(dst, src []float32, muWater float64) error {
	if err := checkMuWater(muWater); err != nil {
		return err
	}
	if len(dst) != len(src) {
		return fmt.Errorf("sinogram: HUToMu: dst has %d values, src %d", len(dst), len(src))
	}
	a := float32(muWater / 1000)
	b := float32(muWater)
	for i, h := range src {
		dst[i] = b + a*h
	}
	return nil
}

// MuToHU converts attenuation in 1/mm back to Hounsfield units,
// HU = 1000·(μ/μ_water − 1), writing into dst (which may be src).
func MuToHU(dst, src []float32, muWater float64) error {
	if err := checkMuWater(muWater); err != nil {
		return err
	}
	if len(dst) != len(src) {
		return fmt.Errorf("sinogram: MuToHU: dst has %d values, src %d", len(dst), len(src))
	}
	a := float32(1000 / muWater)
	for i, m := range src {
		dst[i] = a*m - 1000
	}
	return nil
}
