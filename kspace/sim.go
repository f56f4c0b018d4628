package kspace

import (
	"fmt"
	"github.com/tweedie-recon/tweedie/num/fft"
	"math"
	"math/rand/v2"
)

// Simulation of multi-coil Cartesian k-space from images, for tests and
// evaluation (the data sets hold images only; see ../shared/data beside the checkout).

// CoilConfig describes simulated receive coils: Coils wires parallel to the
// slice normal, evenly spaced on an ellipse around the field of view, each
// with the in-plane receive field of a wire (Biot–Savart: B₁⁻ ∝ −i/(z − p)
// for a point z and wire position p in the complex plane, x = column,
// y = row) with an extra radial falloff |z − p|^{1−Falloff} that mimics a
// loop coil.
type CoilConfig struct {
	Coils int
	// Radius of the coil ellipse relative to the half-axes of the field of
	// view (rows/2, cols/2). Default 1.5; must exceed √2, so that the ellipse
	// encloses the whole rectangular FOV, corners included.
	Radius float64
	// Falloff is the exponent of |S| ∝ distance^−Falloff; default 1.5
	// (1 is a bare wire).
	Falloff float64
	// Rotation of the coil ring in radians (coil 0 sits at angle Rotation,
	// measured from the +column axis towards +row).
	Rotation float64
	// Raw keeps the Biot–Savart magnitudes (each coil scaled to peak 1).
	// Otherwise the maps are normalised pixel-wise to Σ_c |S_c|² = 1, the
	// normalisation ESPIRiT's maps have, so an image simulated with them is
	// recovered exactly by SENSE.
	Raw bool
}

// CoilMaps returns smooth complex coil sensitivities (coils, rows, cols)
// following cfg.
func CoilMaps(rows, cols int, cfg CoilConfig) ([]complex64, error) {
	if rows < 1 || cols < 1 || rows > fft.MaxLen || cols > fft.MaxLen {
		return nil, fmt.Errorf("kspace: coil maps of %d×%d out of range", rows, cols)
	}
	if cfg.Coils < 1 || cfg.Coils > 256 {
		return nil, fmt.Errorf("kspace: %d coils, want 1…256", cfg.Coils)
	}
	if cfg.Radius == 0 {
		cfg.Radius = 1.5
	}
	if cfg.Falloff == 0 {
		cfg.Falloff = 1.5
	}
	if !(cfg.Radius > math.Sqrt2) || math.IsInf(cfg.Radius, 0) {
		return nil, fmt.Errorf("kspace: coil radius %g, want > √2 (coils outside the FOV, corners included)", cfg.Radius)
	}
	if !(cfg.Falloff > 0) || cfg.Falloff > 10 {
		return nil, fmt.Errorf("kspace: coil falloff %g, want in (0, 10]", cfg.Falloff)
	}
	n := rows * cols
	maps := make([]complex64, cfg.Coils*n)
	cy, cx := float64(rows/2), float64(cols/2)
	ay, ax := cfg.Radius*float64(rows)/2, cfg.Radius*float64(cols)/2
	for c := 0; c < cfg.Coils; c++ {
		th := cfg.Rotation + 2*math.Pi*float64(c)/float64(cfg.Coils)
		p := complex(cx+ax*math.Cos(th), cy+ay*math.Sin(th))
		s := maps[c*n : (c+1)*n]
		peak := 0.0
		tmp := make([]complex128, n)
		for r := 0; r < rows; r++ {
			for q := 0; q < cols; q++ {
				d := complex(float64(q), float64(r)) - p
				ad := math.Hypot(real(d), imag(d))
				v := -1i / d * complex(math.Pow(ad, 1-cfg.Falloff), 0)
				tmp[r*cols+q] = v
				peak = max(peak, math.Hypot(real(v), imag(v)))
			}
		}
		for i, v := range tmp {
			s[i] = complex64(v / complex(peak, 0))
		}
	}
	if !cfg.Raw {
		for i := 0; i < n; i++ {
			var ss float64
			for c := 0; c < cfg.Coils; c++ {
				v := maps[c*n+i]
				ss += float64(real(v))*float64(real(v)) + float64(imag(v))*float64(imag(v))
			}
			f := float32(1 / math.Sqrt(ss))
			for c := 0; c < cfg.Coils; c++ {
				maps[c*n+i] *= complex(f, 0)
			}
		}
	}
	return maps, nil
}

// SmoothPhase returns a unit-magnitude map e^{iφ} of a random smooth phase:
// φ is a random quadratic polynomial in the normalised coordinates
// (−1…1 across the FOV) scaled so that max |φ − φ(centre)| = amplitude
// radians, plus a uniform random offset.
func SmoothPhase(rows, cols int, amplitude float64, rng *rand.Rand) []complex64 {
	var c [5]float64
	for i := range c {
		c[i] = rng.NormFloat64()
	}
	off := 2 * math.Pi * rng.Float64()
	phi := make([]float64, rows*cols)
	peak := 0.0
	for r := 0; r < rows; r++ {
		y := 2*float64(r)/float64(max(rows, 2)-1) - 1
		for q := 0; q < cols; q++ {
			x := 2*float64(q)/float64(max(cols, 2)-1) - 1
			v := c[0]*x + c[1]*y + c[2]*x*y + c[3]*x*x + c[4]*y*y
			phi[r*cols+q] = v
			peak = max(peak, math.Abs(v))
		}
	}
	if peak == 0 {
		peak = 1
	}
	out := make([]complex64, rows*cols)
	for i, v := range phi {
		s, co := math.Sincos(off + v*amplitude/peak)
		out[i] = complex(float32(co), float32(s))
	}
	return out
}

// RealToComplex converts a real image to complex64.
func RealToComplex(x []float32) []complex64 {
	out := make([]complex64, len(x))
	for i, v := range x {
		out[i] = complex(v, 0)
	}
	return out
}

// AddNoise adds circularly symmetric complex Gaussian noise with
// E|n|² = sigma² (each of the real and imaginary parts N(0, sigma²/2)) to
// the entries of k where sampled is nil or true (sampled is indexed modulo
// its length, so one rows×cols mask serves all coils).
func AddNoise(k []complex64, sampled []bool, sigma float64, rng *rand.Rand) {
	s := sigma / math.Sqrt2
	for i := range k {
		if sampled != nil && !sampled[i%len(sampled)] {
			continue
		}
		k[i] += complex(float32(s*rng.NormFloat64()), float32(s*rng.NormFloat64()))
	}
}

// AddNoiseSNR adds complex Gaussian noise at the signal-to-noise ratio snr
// (linear, not dB): σ = RMS(k over the sampled entries)/snr, as in AddNoise,
// and returns σ. snr ≤ 0 or NaN adds nothing and returns 0.
func AddNoiseSNR(k []complex64, sampled []bool, snr float64, rng *rand.Rand) float64 {
	if !(snr > 0) || math.IsInf(snr, 1) {
		return 0
	}
	sigma := RMS(k, sampled) / snr
	AddNoise(k, sampled, sigma, rng)
	return sigma
}

// RMS returns the root mean square of the entries of k where sampled is nil
// or true (sampled indexed modulo its length), 0 when there are none.
func RMS(k []complex64, sampled []bool) float64 {
	var ss float64
	n := 0
	for i, v := range k {
		if sampled != nil && !sampled[i%len(sampled)] {
			continue
		}
		ss += float64(real(v))*float64(real(v)) + float64(imag(v))*float64(imag(v))
		n++
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(ss / float64(n))
}

// Simulate returns the multi-coil k-space (coils, rows, cols) of a complex
// image (rows, cols) seen through the coil maps (coils, rows, cols) and the
// sampling mask:
//
//	k_c = M ⊙ (F(S_c ⊙ x) + n_c),   E|n|² = σ²,  σ = noise · RMS(M ⊙ F(S_c ⊙ x))
//
// with F the orthonormal fft2c; the RMS runs over the sampled entries of all
// coils, so noise is the relative noise level (0.01 is "1 % noise", a k-space
// SNR of 100) and 0 gives noise-free data. Unsampled entries are zero. It
// also returns σ.
func Simulate(image, maps []complex64, mask *Mask, noise float64, rng *rand.Rand) ([]complex64, float64, error) {
	if err := mask.validate(); err != nil {
		return nil, 0, err
	}
	n := mask.Rows * mask.Cols
	if len(image) != n {
		return nil, 0, fmt.Errorf("kspace: Simulate: image of %d values, mask is %d×%d", len(image), mask.Rows, mask.Cols)
	}
	if len(maps) == 0 || len(maps)%n != 0 {
		return nil, 0, fmt.Errorf("kspace: Simulate: %d map values are not a whole number of %d×%d coils", len(maps), mask.Rows, mask.Cols)
	}
	if !(noise >= 0) || math.IsInf(noise, 0) {
		return nil, 0, fmt.Errorf("kspace: Simulate: noise level %g, want ≥ 0", noise)
	}
	if noise > 0 && rng == nil {
		return nil, 0, fmt.Errorf("kspace: Simulate: noise needs a random source")
	}
	coils := len(maps) / n
	k := make([]complex64, coils*n)
	for c := 0; c < coils; c++ {
		s := maps[c*n : (c+1)*n]
		kc := k[c*n : (c+1)*n]
		for i, v := range image {
			kc[i] = s[i] * v
		}
	}
	if err := fft.FFT2c(k, k, mask.Rows, mask.Cols); err != nil {
		return nil, 0, err
	}
	mask.Apply(k)
	sigma := 0.0
	if noise > 0 {
		sigma = noise * RMS(k, mask.Sampled)
		AddNoise(k, mask.Sampled, sigma, rng)
	}
	return k, sigma, nil
}

// RSS returns the root sum of squares over coils of (coils, rows, cols)
// data with n = rows·cols pixels per coil.
func RSS(x []complex64, n int) []float32 {
	out := make([]float32, n)
	if n == 0 {
		return out
	}
	for i := range out {
		var s float64
		for c := 0; c+1 <= len(x)/n; c++ {
			v := x[c*n+i]
			s += float64(real(v))*float64(real(v)) + float64(imag(v))*float64(imag(v))
		}
		out[i] = float32(math.Sqrt(s))
	}
	return out
}

// SheppLogan returns the modified Shepp–Logan phantom (Toft's higher-contrast
// intensities; Shepp & Logan, IEEE Trans Nucl Sci 21:21–43, 1974) on a
// rows×cols grid, x ∈ [−1, 1] along cols, y ∈ [−1, 1] along rows with row 0
// at y = +1.
func SheppLogan(rows, cols int) []float32 {
	// intensity, semi-axes a (x) and b (y), centre (x0, y0), angle (degrees)
	e := [][6]float64{
		{1, .69, .92, 0, 0, 0},
		{-.8, .6624, .874, 0, -.0184, 0},
		{-.2, .11, .31, .22, 0, -18},
		{-.2, .16, .41, -.22, 0, 18},
		{.1, .21, .25, 0, .35, 0},
		{.1, .046, .046, 0, .1, 0},
		{.1, .046, .046, 0, -.1, 0},
		{.1, .046, .023, -.08, -.605, 0},
		{.1, .023, .023, 0, -.606, 0},
		{.1, .023, .046, .06, -.605, 0},
	}
	out := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		y := 1 - 2*(float64(r)+0.5)/float64(rows)
		for c := 0; c < cols; c++ {
			x := 2*(float64(c)+0.5)/float64(cols) - 1
			var v float64
			for _, p := range e {
				s, co := math.Sincos(p[5] * math.Pi / 180)
				dx, dy := x-p[3], y-p[4]
				u := (dx*co + dy*s) / p[1]
				w := (-dx*s + dy*co) / p[2]
				if u*u+w*w <= 1 {
					v += p[0]
				}
			}
			out[r*cols+c] = float32(v)
		}
	}
	return out
}
