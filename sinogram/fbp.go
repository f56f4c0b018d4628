package sinogram

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/tweedie-recon/tweedie/num/fft"
)

// Filter is the apodisation window applied to the ramp filter of FBP.
type Filter int

const (
	// RamLak is the bare ramp |ω| up to Nyquist (Ramachandran &
	// Lakshminarayanan 1971), built as in Kak & Slaney eq. (3.61) from the
	// band-limited spatial kernel, which removes the DC bias of a sampled
	// |ω|. scikit-image calls it "ramp".
	RamLak Filter = iota
	// SheppLogan multiplies the ramp by sinc(f) = sin(πf)/(πf).
	SheppLogan
	// Cosine multiplies by cos(πf).
	Cosine
	// Hamming multiplies by 0.54 + 0.46·cos(2πf).
	Hamming
	// Hann multiplies by ½(1 + cos 2πf): the smoothest, for noisy or
	// sparse data.
	Hann
)

var filterNames = []string{"ramlak", "shepp-logan", "cosine", "hamming", "hann"}

func (f Filter) String() string {
	if f >= 0 && int(f) < len(filterNames) {
		return filterNames[f]
	}
	return fmt.Sprintf("Filter(%d)", int(f))
}

// ParseFilter accepts the names of String and scikit-image's ("ramp").
func ParseFilter(s string) (Filter, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "ramp", "ram-lak", "ramlak", "":
		return RamLak, nil
	case "shepp-logan", "shepplogan", "shepp_logan":
		return SheppLogan, nil
	}
	for i, n := range filterNames {
		if s == n {
			return Filter(i), nil
		}
	}
	return 0, fmt.Errorf("sinogram: unknown FBP filter %q (want one of %s, or ramp)", s, strings.Join(filterNames, ", "))
}

// window returns the apodisation at frequency f in cycles per bin
// (|f| ≤ ½), with the window stretched to the cutoff fraction of Nyquist.
func (f Filter) window(freq, cutoff float64) float64 {
	if math.Abs(freq) > cutoff/2 {
		return 0
	}
	x := freq / cutoff
	switch f {
	case SheppLogan:
		if x == 0 {
			return 1
		}
		return math.Sin(math.Pi*x) / (math.Pi * x)
	case Cosine:
		return math.Cos(math.Pi * x)
	case Hamming:
		return 0.54 + 0.46*math.Cos(2*math.Pi*x)
	case Hann:
		return 0.5 + 0.5*math.Cos(2*math.Pi*x)
	}
	return 1
}

// FBPConfig configures filtered back-projection.
type FBPConfig struct {
	// Filter is the window of the ramp (default RamLak).
	Filter Filter
	// Cutoff is the highest frequency kept as a fraction of Nyquist, the
	// window being stretched over it (default 1).
	Cutoff float64
	// Workers is the number of goroutines (≤ 0: GOMAXPROCS).
	Workers int
}

// FBP is a filtered back-projection for one geometry and grid, with its
// filter and angle tables precomputed. It is safe for concurrent use.
//
// Parallel beam (Kak & Slaney 1988, §3.3.3): each view is convolved with
// the band-limited ramp kernel h(0) = 1/(4τ²), h(nτ) = −1/(n²π²τ²) for odd
// n, 0 for even n (τ = DetSpacing), as Q = τ·(h ∗ p), by FFT with the view
// zero-padded to max(64, 2^⌈log₂ 2·NDet⌉) bins (no circular wrap-around);
// then every pixel sums Q at u = x·cosθ + y·sinθ, linearly interpolated
// (pixel-driven back-projection), times the angular weight of its view:
//
//	f(x, y) = Σ_v Δθ_v Q_v(x·cosθ_v + y·sinθ_v),
//
// with Δθ_v the angle each view covers modulo 180° (π/K for K views evenly
// spread over 180°; a 360° scan counts each direction twice at half
// weight). So FBP(A x) ≈ x in the image's units.
//
// Fan beam, equiangular (Kak & Slaney §3.4.2, direct weighted
// back-projection, no rebinning): each view is weighted by R·cos γ,
// convolved with g(γ) = ½(γ/sin γ)²·h(γ) sampled at the bin angle α
// (g(0) = 1/(8α²), g(nα) = −1/(2π² sin²(nα)) for odd n, 0 for even n) as
// Q = α·(g ∗ (R cos γ · p)), and back-projected with weight 1/L²:
//
//	f(x, y) = Σ_v Δβ_v Q_v(γ′)/L²,
//
// where γ′ is the fan angle of the ray from the source through (x, y) and
// L its distance from the source, Δβ_v the angle each view covers modulo
// 360°. This is a full-scan formula: views must cover 360° (a short scan
// needs Parker weights, not implemented).
//
// Back-projection here is pixel-driven, not the transpose of the Joseph
// projector: it is the standard discretisation of the inversion formula
// and samples every pixel exactly once per view.
type FBP struct {
	grid    ImageGrid
	fan     bool
	ndet    int
	pad     int
	c0      float64   // bin of the rotation axis / central ray
	resp    []float64 // real frequency response (including τ or α and the window)
	cosV    []float64
	sinV    []float64
	wV      []float64  // angular weights (radians)
	cosG    []float64  // fan: R cos γ_k
	du      float64    // parallel: pixel size / bin spacing; fan: 1/α
	r       float64    // fan: SourceIso
	plan    *fft.Plan1 // the padded length
	workers int
	views   int
}

// NewParallelFBP precomputes FBP for a parallel-beam geometry.
func NewParallelFBP(g ParallelGeometry, grid ImageGrid, cfg FBPConfig) (*FBP, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := grid.Validate(); err != nil {
		return nil, err
	}
	f, err := newFBP(grid, g.AnglesDeg, g.NDet, g.CenterOffset, cfg)
	if err != nil {
		return nil, err
	}
	f.wV = angularWeights(g.AnglesDeg, 180)
	tau := g.DetSpacing
	f.du = grid.PixelMM / tau
	// τ·h(nτ): 1/(4τ) at 0, −1/(n²π²τ) at odd n
	f.setKernel(cfg, func(n int) float64 {
		switch {
		case n == 0:
			return 1 / (4 * tau)
		case n%2 != 0:
			return -1 / (float64(n) * float64(n) * math.Pi * math.Pi * tau)
		}
		return 0
	})
	return f, nil
}

// NewFanFBP precomputes FBP for an equiangular fan-beam full scan.
func NewFanFBP(g FanGeometry, grid ImageGrid, cfg FBPConfig) (*FBP, error) {
	if err := g.validateWith(grid); err != nil {
		return nil, err
	}
	if gap := maxGap(g.AnglesDeg, 360); gap > math.Max(3*360/float64(len(g.AnglesDeg)), 1e-9) {
		return nil, geomErr("fan-beam FBP needs views over the full 360° (largest gap between views %.1f° with %d views); a short scan needs Parker weights", gap, len(g.AnglesDeg))
	}
	f, err := newFBP(grid, g.AnglesDeg, g.NDet, g.CenterOffset, cfg)
	if err != nil {
		return nil, err
	}
	f.fan = true
	f.wV = angularWeights(g.AnglesDeg, 360)
	alpha := g.DetAngle()
	f.du = 1 / alpha
	f.r = g.SourceIso
	f.cosG = make([]float64, g.NDet)
	for k := range f.cosG {
		f.cosG[k] = g.SourceIso * math.Cos((float64(k)-f.c0)*alpha)
	}
	// α·g(nα) for |n| < NDet (the lags a linear convolution uses)
	f.setKernel(cfg, func(n int) float64 {
		switch {
		case n == 0:
			return 1 / (8 * alpha)
		case n%2 != 0 && (n < g.NDet && n > -g.NDet):
			s := math.Sin(float64(n) * alpha)
			return -alpha / (2 * math.Pi * math.Pi * s * s)
		}
		return 0
	})
	return f, nil
}

func newFBP(grid ImageGrid, anglesDeg []float64, ndet int, offset float64, cfg FBPConfig) (*FBP, error) {
	if cfg.Filter < RamLak || cfg.Filter > Hann {
		return nil, fmt.Errorf("sinogram: unknown FBP filter %v", cfg.Filter)
	}
	if cfg.Cutoff == 0 {
		cfg.Cutoff = 1
	}
	if !(cfg.Cutoff > 0 && cfg.Cutoff <= 1) {
		return nil, fmt.Errorf("sinogram: FBP cutoff %g, want (0, 1]", cfg.Cutoff)
	}
	pad := 64
	for pad < 2*ndet {
		pad <<= 1
	}
	f := &FBP{grid: grid, ndet: ndet, pad: pad, c0: float64(ndet-1)/2 + offset,
		workers: cfg.Workers, views: len(anglesDeg)}
	var err error
	if f.plan, err = fft.NewPlan1(pad); err != nil {
		return nil, fmt.Errorf("sinogram: FBP: %w", err)
	}
	f.cosV = make([]float64, len(anglesDeg))
	f.sinV = make([]float64, len(anglesDeg))
	for v, a := range anglesDeg {
		f.sinV[v], f.cosV[v] = math.Sincos(a * math.Pi / 180)
	}
	return f, nil
}

// setKernel sets the frequency response from the spatial kernel k(n),
// laid out circularly over the padded length, times the window.
func (f *FBP) setKernel(cfg FBPConfig, k func(n int) float64) {
	if cfg.Cutoff == 0 {
		cfg.Cutoff = 1
	}
	buf := make([]complex64, f.pad)
	for i := range buf {
		n := i
		if i > f.pad/2 {
			n = i - f.pad
		}
		buf[i] = complex(float32(k(n)), 0)
	}
	_ = f.plan.Forward(buf, 1) // one vector of the plan's length: cannot fail
	f.resp = make([]float64, f.pad)
	for i := range buf {
		fr := float64(i) / float64(f.pad)
		if i > f.pad/2 {
			fr -= 1
		}
		f.resp[i] = float64(real(buf[i])) * cfg.Filter.window(fr, cfg.Cutoff)
	}
}

// angularWeights returns, per view, half the angle between its neighbours
// modulo period degrees, in radians (they sum to the period).
func angularWeights(anglesDeg []float64, period float64) []float64 {
	n := len(anglesDeg)
	idx := make([]int, n)
	m := make([]float64, n)
	for i, a := range anglesDeg {
		idx[i] = i
		m[i] = math.Mod(a, period)
		if m[i] < 0 {
			m[i] += period
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return m[idx[a]] < m[idx[b]] })
	w := make([]float64, n)
	for j, i := range idx {
		prev := m[idx[(j-1+n)%n]]
		if j == 0 {
			prev -= period
		}
		next := m[idx[(j+1)%n]]
		if j == n-1 {
			next += period
		}
		w[i] = (next - prev) / 2 * math.Pi / 180
	}
	return w
}

// maxGap returns the largest angular gap between consecutive views modulo
// period, in degrees.
func maxGap(anglesDeg []float64, period float64) float64 {
	m := make([]float64, len(anglesDeg))
	for i, a := range anglesDeg {
		m[i] = math.Mod(a, period)
		if m[i] < 0 {
			m[i] += period
		}
	}
	sort.Float64s(m)
	gap := m[0] + period - m[len(m)-1]
	for i := 1; i < len(m); i++ {
		gap = math.Max(gap, m[i]-m[i-1])
	}
	return gap
}

// fbpBatch is the number of view pairs filtered by one batched FFT (the
// vector width of the Stockham kernels, as num/fft's 2D blocks).
const fbpBatch = 16

// InLen is the sinogram length views·NDet.
func (f *FBP) InLen() int { return f.views * f.ndet }

// OutLen is the image length Rows·Cols.
func (f *FBP) OutLen() int { return f.grid.Len() }

// FilterSinogram returns the filtered sinogram Q (views×NDet): for a fan
// beam including the R·cos γ weighting.
func (f *FBP) FilterSinogram(sino []float32) ([]float32, error) {
	if len(sino) != f.InLen() {
		return nil, fmt.Errorf("sinogram: FBP input has %d values, want %d views × %d bins", len(sino), f.views, f.ndet)
	}
	q := make([]float32, len(sino))
	pairs := (f.views + 1) / 2
	w := workerCount(f.workers, pairs)
	parallelChunks(pairs, w, func(_, lo, hi int) {
		buf := make([]complex64, f.pad*fbpBatch)
		for b0 := lo; b0 < hi; b0 += fbpBatch {
			// v view pairs as v interleaved vectors (sample k of pair j at
			// x[k·v + j]), each pair's two real views as the real and
			// imaginary parts: the response is real, so they do not mix
			v := min(fbpBatch, hi-b0)
			x := buf[:f.pad*v]
			clear(x)
			for j := 0; j < v; j++ {
				v0, v1 := 2*(b0+j), 2*(b0+j)+1
				a := sino[v0*f.ndet : (v0+1)*f.ndet]
				var b []float32
				if v1 < f.views {
					b = sino[v1*f.ndet : (v1+1)*f.ndet]
				}
				for k := range a {
					wt := 1.0
					if f.fan {
						wt = f.cosG[k]
					}
					im := 0.0
					if b != nil {
						im = float64(b[k]) * wt
					}
					x[k*v+j] = complex(float32(float64(a[k])*wt), float32(im))
				}
			}
			// the lengths are the plan's: Forward and Inverse cannot fail
			_ = f.plan.Forward(x, v)
			for i, h := range f.resp {
				hh := float32(h)
				row := x[i*v : (i+1)*v]
				for j, z := range row {
					row[j] = complex(real(z)*hh, imag(z)*hh)
				}
			}
			_ = f.plan.Inverse(x, v)
			for j := 0; j < v; j++ {
				v0, v1 := 2*(b0+j), 2*(b0+j)+1
				qa := q[v0*f.ndet : (v0+1)*f.ndet]
				for k := range qa {
					qa[k] = real(x[k*v+j])
				}
				if v1 < f.views {
					qb := q[v1*f.ndet : (v1+1)*f.ndet]
					for k := range qb {
						qb[k] = imag(x[k*v+j])
					}
				}
			}
		}
	})
	return q, nil
}

// Reconstruct filters and back-projects the sinogram (views×NDet) into dst
// (Rows×Cols).
func (f *FBP) Reconstruct(dst, sino []float32) error {
	if len(dst) != f.OutLen() {
		return fmt.Errorf("sinogram: FBP output has %d values, want %d×%d", len(dst), f.grid.Rows, f.grid.Cols)
	}
	q, err := f.FilterSinogram(sino)
	if err != nil {
		return err
	}
	// Copy Q with each view scaled by its angular weight and followed by
	// a zero, so the interpolation at the last bin needs no branch.
	stride := f.ndet + 1
	qw := make([]float32, f.views*stride)
	for v := 0; v < f.views; v++ {
		w := float32(f.wV[v])
		src := q[v*f.ndet : (v+1)*f.ndet]
		d := qw[v*stride : v*stride+f.ndet]
		for k, x := range src {
			d[k] = w * x
		}
	}
	rows, cols := f.grid.Rows, f.grid.Cols
	cy, cx := f.grid.center()
	p := f.grid.PixelMM
	w := workerCount(f.workers, rows)
	last := float64(f.ndet - 1)
	parallelChunks(rows, w, func(_, lo, hi int) {
		acc := make([]float32, cols)
		for r := lo; r < hi; r++ {
			clear(acc)
			y := (cy - float64(r)) * p
			for v := 0; v < f.views; v++ {
				qv := qw[v*stride : (v+1)*stride]
				cv, sv := f.cosV[v], f.sinV[v]
				if f.fan {
					f.fanRow(acc, qv, y, cx, p, cv, sv, last)
					continue
				}
				// bin t(c) = t0 + c·dt = (x cosθ + y sinθ)/τ + c0, x = (c − cx)·p
				t0 := (y*sv-cx*p*cv)/p*f.du + f.c0
				dt := cv * f.du
				c0, c1 := validRange(t0, dt, last, cols)
				if c0 > c1 {
					continue
				}
				// t in 32.32 fixed point: one integer add per pixel, and
				// the error over a row stays below 2⁻³²·cols bins.
				tf := int64(math.Round((t0 + float64(c0)*dt) * fix32))
				df := int64(math.Round(dt * fix32))
				row := acc[c0 : c1+1]
				for c := range row {
					j := int(tf >> 32)
					fr := float32(uint32(tf)) * (1.0 / fix32)
					tf += df
					if uint(j) >= uint(len(qv)-1) {
						continue // rounding pushed t a hair outside [0, last]
					}
					pr := qv[j : j+2 : j+2]
					row[c] += pr[0] + fr*(pr[1]-pr[0])
				}
			}
			copy(dst[r*cols:(r+1)*cols], acc)
		}
	})
	return nil
}

// fix32 is 2³², the scale of 32.32 fixed point.
const fix32 = 1 << 32

// validRange returns the columns c in [0, cols) with 0 ≤ t0 + c·dt ≤ last
// (c0 > c1 when none).
func validRange(t0, dt, last float64, cols int) (int, int) {
	ok := func(c int) bool {
		t := t0 + float64(c)*dt
		return t >= 0 && t <= last
	}
	lo, hi := 0.0, float64(cols-1)
	if dt == 0 {
		if t0 < 0 || t0 > last {
			return 0, -1
		}
	} else {
		a, b := (0-t0)/dt, (last-t0)/dt
		if a > b {
			a, b = b, a
		}
		lo = math.Max(lo, math.Ceil(a))
		hi = math.Min(hi, math.Floor(b))
	}
	if lo > hi {
		return 0, -1
	}
	c0, c1 := int(lo), int(hi)
	// rounding at the ends: t is monotone in c, so trim until inside
	for c0 <= c1 && !ok(c0) {
		c0++
	}
	for c1 >= c0 && !ok(c1) {
		c1--
	}
	return c0, c1
}

// fanRow adds one view's weighted back-projection to a row at height y
// (qv is prescaled by the view's angular weight and ends with a zero).
func (f *FBP) fanRow(acc []float32, qv []float32, y, cx, p, cb, sb, last float64) {
	// P·e = x cosβ + y sinβ, P·d = −x sinβ + y cosβ; the source is at
	// −R·d, so the ray through P has tan γ′ = P·e / (R + P·d).
	for c := range acc {
		x := (float64(c) - cx) * p
		pe := x*cb + y*sb
		pd := f.r - x*sb + y*cb
		t := math.Atan2(pe, pd)*f.du + f.c0
		if t < 0 || t > last {
			continue
		}
		j := int(t)
		fr := t - float64(j)
		val := float64(qv[j]) + fr*(float64(qv[j+1])-float64(qv[j]))
		acc[c] += float32(val / (pe*pe + pd*pd))
	}
}

// FBPParallel reconstructs a parallel-beam sinogram (views×NDet) in one
// call; build an FBP with NewParallelFBP to reuse the tables.
func FBPParallel(g ParallelGeometry, grid ImageGrid, sino []float32, cfg FBPConfig) ([]float32, error) {
	f, err := NewParallelFBP(g, grid, cfg)
	if err != nil {
		return nil, err
	}
	out := make([]float32, grid.Len())
	return out, f.Reconstruct(out, sino)
}

// FBPFan reconstructs an equiangular fan-beam sinogram in one call.
func FBPFan(g FanGeometry, grid ImageGrid, sino []float32, cfg FBPConfig) ([]float32, error) {
	f, err := NewFanFBP(g, grid, cfg)
	if err != nil {
		return nil, err
	}
	out := make([]float32, grid.Len())
	return out, f.Reconstruct(out, sino)
}

// NewFBPFor returns the FBP matching a projector's geometry and grid.
func NewFBPFor(p *Projector, cfg FBPConfig) (*FBP, error) {
	if g, ok := p.Parallel(); ok {
		return NewParallelFBP(g, p.Grid(), cfg)
	}
	g, _ := p.Fan()
	return NewFanFBP(g, p.Grid(), cfg)
}
