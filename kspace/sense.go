package kspace

import (
	"fmt"
	"github.com/tweedie-recon/tweedie/num/fft"
	"github.com/tweedie-recon/tweedie/num/parallel"
	"runtime"

	"github.com/tweedie-recon/tweedie/num/linop"
)

// Sense is the Cartesian SENSE forward model (Pruessmann KP, Weiger M,
// Scheidegger MB, Boesiger P. "SENSE: sensitivity encoding for fast MRI."
// Magn Reson Med 42:952–962, 1999) as a linear operator
//
//	A = M·F·S:  (A x)_c = M ⊙ fft2c(S_c ⊙ x)
//	Aᴴ k = Σ_c conj(S_c) ⊙ ifft2c(M ⊙ k_c)
//
// from an image x (rows·cols, row-major) to multi-coil k-space
// (coils, rows, cols). The output keeps the full Cartesian grid with zeros
// where the mask does not sample (rather than a packed vector of the
// sampled entries), so it composes directly with FFT-based code and has the
// layout of BART's k-space (see the package comment); the adjoint ignores
// unsampled entries of its input. One mask serves all coils.
//
// With maps normalised so that Σ_c |S_c|² = 1 (ESPIRiT's maps) and full
// sampling, AᴴA is the identity on the maps' support and zero outside;
// with undersampling AᴴA ≤ I.
//
// A Sense holds scratch buffers: one value must not be used by several
// goroutines at once (make one per goroutine; the maps are shared, not
// copied). The coil loops and the FFTs use the Plan's workers.
type Sense struct {
	rows, cols, coils int
	maps              []complex64
	mask              *Mask
	plan              *fft.Plan
	tmp               []complex64
	workers           int
}

var _ linop.Op[complex64] = (*Sense)(nil)

// NewSense returns the SENSE operator for coil maps (coils, rows, cols) and
// a rows×cols mask (FullMask for full sampling), which also gives the image
// size. The maps and the mask are referenced, not copied.
func NewSense(maps []complex64, mask *Mask) (*Sense, error) {
	if err := mask.validate(); err != nil {
		return nil, fmt.Errorf("kspace: NewSense: %w", err)
	}
	n := mask.Rows * mask.Cols
	if len(maps) == 0 || len(maps)%n != 0 {
		return nil, fmt.Errorf("kspace: NewSense: %d map values are not a whole number of %d×%d coils", len(maps), mask.Rows, mask.Cols)
	}
	plan, err := fft.CachedPlan(mask.Rows, mask.Cols)
	if err != nil {
		return nil, err
	}
	coils := len(maps) / n
	return &Sense{rows: mask.Rows, cols: mask.Cols, coils: coils, maps: maps, mask: mask, plan: plan,
		tmp: make([]complex64, coils*n), workers: runtime.GOMAXPROCS(0)}, nil
}

// Coils returns the number of coils.
func (s *Sense) Coils() int { return s.coils }

// InLen is rows·cols.
func (s *Sense) InLen() int { return s.rows * s.cols }

// OutLen is coils·rows·cols.
func (s *Sense) OutLen() int { return s.coils * s.rows * s.cols }

func (s *Sense) check(dst, src []complex64, dn, sn int) {
	if len(src) != sn {
		panic(linop.ShapeError("kspace.Sense input", sn, len(src)))
	}
	if len(dst) != dn {
		panic(linop.ShapeError("kspace.Sense output", dn, len(dst)))
	}
}

// Apply computes dst = M·F·S·src.
func (s *Sense) Apply(dst, src []complex64) {
	n := s.rows * s.cols
	s.check(dst, src, s.coils*n, n)
	parallel.For(s.workers, s.coils, func(next func() (int, bool)) {
		for c, ok := next(); ok; c, ok = next() {
			sc, dc := s.maps[c*n:(c+1)*n], dst[c*n:(c+1)*n]
			for i, x := range src {
				dc[i] = sc[i] * x
			}
		}
	})
	if err := s.plan.Forward(dst, dst); err != nil {
		panic(err)
	}
	s.mask.Apply(dst)
}

// Adjoint computes dst = Sᴴ·F⁻¹·M·src.
func (s *Sense) Adjoint(dst, src []complex64) {
	n := s.rows * s.cols
	s.check(dst, src, n, s.coils*n)
	parallel.For(s.workers, s.coils, func(next func() (int, bool)) {
		for c, ok := next(); ok; c, ok = next() {
			sc, tc := src[c*n:(c+1)*n], s.tmp[c*n:(c+1)*n]
			for i, m := range s.mask.Sampled {
				if m {
					tc[i] = sc[i]
				} else {
					tc[i] = 0
				}
			}
		}
	})
	if err := s.plan.Inverse(s.tmp, s.tmp); err != nil {
		panic(err)
	}
	const chunk = 4096
	parallel.For(s.workers, (n+chunk-1)/chunk, func(next func() (int, bool)) {
		for t, ok := next(); ok; t, ok = next() {
			lo, hi := t*chunk, min(n, (t+1)*chunk)
			d := dst[lo:hi]
			clear(d)
			for c := 0; c < s.coils; c++ {
				sc, tc := s.maps[c*n+lo:c*n+hi], s.tmp[c*n+lo:c*n+hi]
				for i := range d {
					m := sc[i]
					d[i] += complex(real(m), -imag(m)) * tc[i]
				}
			}
		}
	})
}
