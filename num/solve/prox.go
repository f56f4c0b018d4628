package solve

import (
	"fmt"
	"math"

	"github.com/tweedie-recon/tweedie/num/linop"
)

// SoftThreshold applies the proximal map of t‖·‖₁ elementwise, in place:
//
//	x_i ← x_i · max(0, 1 − t/|x_i|),
//
// which for real x is sign(x_i)·max(|x_i| − t, 0) and for complex x
// shrinks the magnitude by t and keeps the phase. It is the anisotropic
// shrinkage of TV and of wavelet ℓ1 penalties. t ≤ 0 leaves x alone.
func SoftThreshold[T linop.Scalar](x []T, t float64) {
	if !(t > 0) {
		return
	}
	switch v := any(x).(type) {
	case []float32:
		tt := float32(t)
		for i, a := range v {
			switch {
			case a > tt:
				v[i] = a - tt
			case a < -tt:
				v[i] = a + tt
			default:
				v[i] = 0
			}
		}
	case []complex64:
		for i, a := range v {
			re, im := float64(real(a)), float64(imag(a))
			m := math.Hypot(re, im)
			if m <= t {
				v[i] = 0
				continue
			}
			s := 1 - t/m
			v[i] = complex64(complex(re*s, im*s))
		}
	}
}

// GroupSoftThreshold applies the proximal map of t‖·‖₂,₁ in place, with x
// viewed as an array (outer, comps, inner) whose groups are the comps
// values x[o, :, i]:
//
//	g ← g · max(0, 1 − t/‖g‖₂)   for each group g.
//
// With comps = 2 and inner = rows·cols it is the isotropic TV shrinkage of
// a Grad2D output; complex values shrink by the group's ℓ2 norm of
// magnitudes and keep their phases. Lengths that do not divide leave x
// alone (the constructors of callers check them).
func GroupSoftThreshold[T linop.Scalar](x []T, t float64, comps, inner int) {
	if !(t > 0) || comps <= 0 || inner <= 0 || len(x)%(comps*inner) != 0 {
		return
	}
	block := comps * inner
	switch v := any(x).(type) {
	case []float32:
		for o := 0; o < len(v); o += block {
			b := v[o : o+block]
			for i := 0; i < inner; i++ {
				var s float64
				for c := 0; c < comps; c++ {
					a := float64(b[c*inner+i])
					s += a * a
				}
				m := math.Sqrt(s)
				f := float32(0)
				if m > t {
					f = float32(1 - t/m)
				}
				for c := 0; c < comps; c++ {
					b[c*inner+i] *= f
				}
			}
		}
	case []complex64:
		for o := 0; o < len(v); o += block {
			b := v[o : o+block]
			for i := 0; i < inner; i++ {
				var s float64
				for c := 0; c < comps; c++ {
					a := b[c*inner+i]
					s += float64(real(a))*float64(real(a)) + float64(imag(a))*float64(imag(a))
				}
				m := math.Sqrt(s)
				f := complex64(0)
				if m > t {
					f = complex(float32(1-t/m), 0)
				}
				for c := 0; c < comps; c++ {
					b[c*inner+i] *= f
				}
			}
		}
	}
}

// SoftProx returns SoftThreshold as a Prox (anisotropic ℓ1).
func SoftProx[T linop.Scalar]() Prox[T] { return SoftThreshold[T] }

// GroupProx returns GroupSoftThreshold with the given layout as a Prox
// (isotropic ℓ2,1; GroupProx(2, rows·cols) for a Grad2D output).
func GroupProx[T linop.Scalar](comps, inner int) Prox[T] {
	return func(x []T, t float64) { GroupSoftThreshold(x, t, comps, inner) }
}

// NonNeg is the proximal map of the indicator of x ≥ 0 (a projection, t is
// ignored), for real images such as attenuation maps.
func NonNeg(x []float32, _ float64) {
	for i, a := range x {
		if a < 0 {
			x[i] = 0
		}
	}
}

// projectBall projects a dual field p onto {‖p_g‖ ≤ r} per group (iso) or
// per element (aniso), the dual of SoftThreshold/GroupSoftThreshold.
func projectBall[T linop.Scalar](p []T, r float64, iso bool, comps, inner int) {
	switch v := any(p).(type) {
	case []float32:
		if !iso {
			rr := float32(r)
			for i, a := range v {
				if a > rr {
					v[i] = rr
				} else if a < -rr {
					v[i] = -rr
				}
			}
			return
		}
		for i := 0; i < inner; i++ {
			var s float64
			for c := 0; c < comps; c++ {
				a := float64(v[c*inner+i])
				s += a * a
			}
			if m := math.Sqrt(s); m > r {
				f := float32(r / m)
				for c := 0; c < comps; c++ {
					v[c*inner+i] *= f
				}
			}
		}
	case []complex64:
		if !iso {
			comps, inner = 1, len(v)
		}
		for i := 0; i < inner; i++ {
			var s float64
			for c := 0; c < comps; c++ {
				a := v[c*inner+i]
				s += float64(real(a))*float64(real(a)) + float64(imag(a))*float64(imag(a))
			}
			if m := math.Sqrt(s); m > r {
				f := complex(float32(r/m), 0)
				for c := 0; c < comps; c++ {
					v[c*inner+i] *= f
				}
			}
		}
	}
}

// TVProxConfig configures TVProx.
type TVProxConfig struct {
	// Anisotropic selects TV = ‖∇x‖₁ instead of the isotropic Σ|∇x|₂.
	Anisotropic bool
	// Iter is the number of fast gradient projection steps per call
	// (default 50). The dual variable is kept between calls as a warm
	// start, so inside FISTA a few iterations per call suffice.
	Iter int
}

// TVProx returns the proximal map of t·TV(x) for images of rows×cols
// (Neumann boundary, Grad2D), i.e. the ROF denoiser
//
//	x ← argmin_z ½‖z − x‖² + t·‖∇z‖,
//
// computed on the dual by the fast gradient projection (FGP) of Beck &
// Teboulle 2009 (IEEE TIP 18(11), Algorithm GP/FGP): with b the input and
// P the unit ball per pixel (iso) or per element (aniso),
//
//	p ← Proj_P(r + (1/(8t)) ∇(b − t∇ᴴr)),   (‖∇‖² ≤ 8)
//	s' = (1 + √(1+4s²))/2,  r = p + ((s−1)/s')(p − p_prev),
//	z = b − t∇ᴴp.
//
// The returned Prox holds scratch buffers and the warm-start dual: use one
// per goroutine. It returns an error for sizes out of range.
func TVProx[T linop.Scalar](rows, cols int, cfg TVProxConfig) (Prox[T], error) {
	g, err := NewGrad2D[T](rows, cols, 1, Neumann)
	if err != nil {
		return nil, err
	}
	if cfg.Iter == 0 {
		cfg.Iter = 50
	}
	if cfg.Iter < 0 {
		return nil, fmt.Errorf("%w: TVProx Iter = %d", ErrConfig, cfg.Iter)
	}
	n := rows * cols
	p := make([]T, 2*n)
	pPrev := make([]T, 2*n)
	r := make([]T, 2*n)
	gz := make([]T, 2*n)
	z := make([]T, n)
	b := make([]T, n)
	iso := !cfg.Anisotropic
	return func(x []T, t float64) {
		if !(t > 0) || len(x) != n {
			return
		}
		copy(b, x)
		copy(r, p)
		s := 1.0
		ts := scalar[T](t)
		step := scalar[T](1 / (8 * t))
		for it := 0; it < cfg.Iter; it++ {
			// z = b − t ∇ᴴ r
			g.Adjoint(z, r)
			for i := range z {
				z[i] = b[i] - ts*z[i]
			}
			g.Apply(gz, z)
			copy(pPrev, p)
			for i := range p {
				p[i] = r[i] + step*gz[i]
			}
			projectBall(p, 1, iso, 2, n)
			sNew := (1 + math.Sqrt(1+4*s*s)) / 2
			mom := scalar[T]((s - 1) / sNew)
			for i := range r {
				r[i] = p[i] + mom*(p[i]-pPrev[i])
			}
			s = sNew
		}
		g.Adjoint(z, p)
		for i := range x {
			x[i] = b[i] - ts*z[i]
		}
	}, nil
}
