package kspace

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Sampling masks for Cartesian MRI.
//
// A 1D mask ([]bool of length n) selects phase-encoding lines of a 2D
// acquisition: entry c says whether column c of k-space (every row of it,
// since readout runs along rows) is acquired; LineMask expands it to a Mask.
// A 2D Mask selects points of a (ny, nz) phase-encoding plane of a 3D
// acquisition, or points of a 2D k-space. Every generator returns the actual
// acceleration n/(number sampled) next to the mask: nominal and actual
// acceleration differ, and results must state the actual one.
//
// The fully sampled centre (ACS, autocalibration signal) of a 1D mask is
// fastMRI's: nlow = round(n·acsFraction) lines (Python's round, halves to
// even) starting at (n − nlow + 1)/2, which contains the k-space centre n/2
// of fft2c.

// Mask is a Cartesian sampling pattern on a Rows×Cols k-space grid,
// row-major: Sampled[r·Cols + c] reports whether point (r, c) is acquired.
type Mask struct {
	Rows, Cols int
	Sampled    []bool
}

// NewMask returns an empty (nothing sampled) rows×cols mask.
func NewMask(rows, cols int) *Mask {
	return &Mask{Rows: rows, Cols: cols, Sampled: make([]bool, rows*cols)}
}

// FullMask returns a rows×cols mask with every point sampled.
func FullMask(rows, cols int) *Mask {
	m := NewMask(rows, cols)
	for i := range m.Sampled {
		m.Sampled[i] = true
	}
	return m
}

// LineMask expands a 1D column mask to a rows×len(lines) Mask: column c is
// sampled in every row where lines[c] is true.
func LineMask(rows int, lines []bool) *Mask {
	m := NewMask(rows, len(lines))
	for r := 0; r < rows; r++ {
		copy(m.Sampled[r*len(lines):(r+1)*len(lines)], lines)
	}
	return m
}

// Count returns the number of sampled points.
func (m *Mask) Count() int { return countTrue(m.Sampled) }

// Acceleration returns Rows·Cols / Count (+Inf when nothing is sampled).
func (m *Mask) Acceleration() float64 { return acceleration(m.Sampled) }

// Apply zeroes the unsampled entries of a batch of Rows×Cols k-space
// arrays (e.g. coils×rows×cols).
func (m *Mask) Apply(k []complex64) error {
	n := m.Rows * m.Cols
	if n == 0 || len(k)%n != 0 || len(m.Sampled) != n {
		return fmt.Errorf("kspace: mask %d×%d applied to %d values", m.Rows, m.Cols, len(k))
	}
	for b := 0; b < len(k); b += n {
		kb := k[b : b+n]
		for i, s := range m.Sampled {
			if !s {
				kb[i] = 0
			}
		}
	}
	return nil
}

func (m *Mask) validate() error {
	if m == nil || m.Rows < 1 || m.Cols < 1 || len(m.Sampled) != m.Rows*m.Cols {
		if m == nil {
			return fmt.Errorf("kspace: nil mask")
		}
		return fmt.Errorf("kspace: mask %d×%d with %d entries", m.Rows, m.Cols, len(m.Sampled))
	}
	return nil
}

// Acceleration1D returns len(lines) / (number of sampled lines), +Inf when
// none is sampled.
func Acceleration1D(lines []bool) float64 { return acceleration(lines) }

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

func acceleration(b []bool) float64 {
	c := countTrue(b)
	if c == 0 {
		return math.Inf(1)
	}
	return float64(len(b)) / float64(c)
}

// maxMaskLen bounds mask sizes (per axis).
const maxMaskLen = 1 << 16

// acsLines returns fastMRI's number of low-frequency lines and the mask with
// only them set, after validating the arguments.
func acsLines(n int, accel, acsFraction float64) ([]bool, int, error) {
	if n < 1 || n > maxMaskLen {
		return nil, 0, fmt.Errorf("kspace: mask length %d out of range 1…%d", n, maxMaskLen)
	}
	if !(accel >= 1) || math.IsInf(accel, 0) {
		return nil, 0, fmt.Errorf("kspace: acceleration %g, want ≥ 1", accel)
	}
	if !(acsFraction >= 0 && acsFraction <= 1) {
		return nil, 0, fmt.Errorf("kspace: ACS fraction %g, want in [0, 1]", acsFraction)
	}
	nlow := int(math.RoundToEven(float64(n) * acsFraction))
	m := make([]bool, n)
	pad := (n - nlow + 1) / 2
	for i := pad; i < pad+nlow; i++ {
		m[i] = true
	}
	return m, nlow, nil
}

// EquispacedACS is EquispacedACSOffset with offset 0.
func EquispacedACS(n int, accel, acsFraction float64) ([]bool, float64, error) {
	return EquispacedACSOffset(n, accel, acsFraction, 0)
}

// EquispacedACSOffset reproduces fastMRI's EquispacedMaskFractionFunc
// (named EquispacedMaskFunc in fastMRI's releases of 2020; the mask of the
// public fastMRI multi-coil data; Zbontar et al., "fastMRI: An Open Dataset
// and Benchmarks for Accelerated MRI", arXiv:1811.08839):
// nlow = round(n·acsFraction) centre lines, plus lines at
// round_half_even(offset + i·a′) for offset + i·a′ < n − 1, where the
// adjusted spacing a′ = accel·(nlow − n)/(nlow·accel − n) makes the total
// about n/accel. fastMRI draws offset uniformly from [0, round(a′)); pass
// that draw here. The spacing is not exactly uniform (fastMRI issue #54)
// and the actual acceleration, returned second, is n / lines sampled.
func EquispacedACSOffset(n int, accel, acsFraction float64, offset int) ([]bool, float64, error) {
	m, nlow, err := acsLines(n, accel, acsFraction)
	if err != nil {
		return nil, 0, err
	}
	if float64(nlow)*accel >= float64(n) {
		return nil, 0, fmt.Errorf("kspace: %d ACS lines already reach n/accel = %g of %d lines", nlow, float64(n)/accel, n)
	}
	if offset < 0 || offset >= n {
		return nil, 0, fmt.Errorf("kspace: offset %d outside 0…%d", offset, n-1)
	}
	adj := accel * float64(nlow-n) / (float64(nlow)*accel - float64(n))
	// numpy.arange(offset, n−1, adj): ceil((stop−start)/step) values start + i·step
	cnt := int(math.Ceil((float64(n-1) - float64(offset)) / adj))
	for i := 0; i < cnt; i++ {
		j := int(math.RoundToEven(float64(offset) + float64(i)*adj))
		if j >= 0 && j < n {
			m[j] = true
		}
	}
	return m, acceleration(m), nil
}

// RandomUniformACS samples the fastMRI ACS centre plus exactly
// round(n/accel) − nlow further lines drawn uniformly without replacement
// from the rest, so the actual acceleration is as close to accel as whole
// lines allow. (fastMRI's RandomMaskFunc instead keeps each line with
// probability (n/accel − nlow)/(n − nlow), so its count varies; score-MRI's
// and DDS's "uniform1d" draws with replacement and undershoots.)
func RandomUniformACS(n int, accel, acsFraction float64, rng *rand.Rand) ([]bool, float64, error) {
	m, nlow, err := acsLines(n, accel, acsFraction)
	if err != nil {
		return nil, 0, err
	}
	if rng == nil {
		return nil, 0, fmt.Errorf("kspace: RandomUniformACS needs a random source")
	}
	want := int(math.Round(float64(n)/accel)) - nlow
	var rest []int
	for i, s := range m {
		if !s {
			rest = append(rest, i)
		}
	}
	want = max(0, min(want, len(rest)))
	// partial Fisher–Yates
	for i := 0; i < want; i++ {
		j := i + rng.IntN(len(rest)-i)
		rest[i], rest[j] = rest[j], rest[i]
		m[rest[i]] = true
	}
	return m, acceleration(m), nil
}

// VariableDensityGaussian samples the fastMRI ACS centre plus exactly
// round(n/accel) − nlow further lines drawn without replacement with
// probability proportional to exp(−(c − n/2)²/(2(σn)²)), sigma = σ as a
// fraction of n (0.1–0.3 are typical; large σ approaches RandomUniformACS).
// The weighted draw is Efraimidis–Spirakis (keys log(u)/w, largest kept).
func VariableDensityGaussian(n int, accel, acsFraction, sigma float64, rng *rand.Rand) ([]bool, float64, error) {
	m, nlow, err := acsLines(n, accel, acsFraction)
	if err != nil {
		return nil, 0, err
	}
	if !(sigma > 0) || math.IsInf(sigma, 0) {
		return nil, 0, fmt.Errorf("kspace: Gaussian width %g, want > 0", sigma)
	}
	if rng == nil {
		return nil, 0, fmt.Errorf("kspace: VariableDensityGaussian needs a random source")
	}
	want := int(math.Round(float64(n)/accel)) - nlow
	type keyed struct {
		i   int
		key float64
	}
	var rest []keyed
	s := sigma * float64(n)
	for i, v := range m {
		if v {
			continue
		}
		d := float64(i - n/2)
		w := math.Max(math.Exp(-d*d/(2*s*s)), 1e-12)
		u := 1 - rng.Float64() // (0, 1]
		rest = append(rest, keyed{i, math.Log(u) / w})
	}
	want = max(0, min(want, len(rest)))
	slices.SortStableFunc(rest, func(a, b keyed) int { return cmp.Compare(b.key, a.key) })
	for _, k := range rest[:want] {
		m[k.i] = true
	}
	return m, acceleration(m), nil
}

// PoissonDisc2D is PoissonDisc2DVariable without variable density.
func PoissonDisc2D(ny, nz int, accel float64, calib int, rng *rand.Rand) (*Mask, float64, error) {
	return PoissonDisc2DVariable(ny, nz, accel, calib, 0, rng)
}

// PoissonDisc2DVariable draws a Poisson-disc pattern on the ny×nz
// phase-encoding plane (Bridson, "Fast Poisson disk sampling in arbitrary
// dimensions", SIGGRAPH 2007 sketches; used for compressed sensing by Lustig
// et al., MRM 2007, and in BART's `poisson`): points in the continuous plane
// at least r(p) apart, rounded to grid cells, plus a fully sampled
// calib×calib centre (rows and columns (n − calib)/2 …, which holds the
// fft2c centre n/2). The disc radius is r(p) = r0·(1 + vd·ρ(p)), with ρ the
// distance from the centre normalised to 1 at the middle of each edge, so
// vd > 0 samples the centre more densely (vd = 0: uniform). r0 is found by
// bisection until the actual acceleration, returned second, is within 2 % of
// accel (or the closest of 40 tries).
func PoissonDisc2DVariable(ny, nz int, accel float64, calib int, vd float64, rng *rand.Rand) (*Mask, float64, error) {
	if ny < 1 || nz < 1 || ny > 4096 || nz > 4096 {
		return nil, 0, fmt.Errorf("kspace: Poisson-disc grid %d×%d out of range 1…4096", ny, nz)
	}
	if !(accel >= 1) || math.IsInf(accel, 0) {
		return nil, 0, fmt.Errorf("kspace: acceleration %g, want ≥ 1", accel)
	}
	if calib < 0 || calib > ny || calib > nz {
		return nil, 0, fmt.Errorf("kspace: calibration size %d does not fit %d×%d", calib, ny, nz)
	}
	if float64(calib*calib) >= float64(ny*nz)/accel {
		return nil, 0, fmt.Errorf("kspace: %d×%d calibration region alone exceeds %g of %d points", calib, calib, float64(ny*nz)/accel, ny*nz)
	}
	if !(vd >= 0) || vd > 100 {
		return nil, 0, fmt.Errorf("kspace: variable-density factor %g, want in [0, 100]", vd)
	}
	if rng == nil {
		return nil, 0, fmt.Errorf("kspace: PoissonDisc2D needs a random source")
	}
	if accel == 1 {
		return FullMask(ny, nz), 1, nil
	}
	// Uniform Poisson-disc density ≈ 1/(1.6·r²) (maximal packings lie
	// between 1/(0.87r²) for hexagonal and ~1/(2r²) for Bridson's).
	mean := 1.0
	if vd > 0 {
		mean = 1 + vd*0.7 // rough mean of 1+vd·ρ over the plane
	}
	r := math.Sqrt(accel/1.6) / mean
	lo, hi := 0.0, math.Inf(1)
	var best *Mask
	bestErr := math.Inf(1)
	bestAcc := 0.0
	for it := 0; it < 40; it++ {
		m := poissonOnce(ny, nz, r, vd, calib, rng)
		acc := m.Acceleration()
		e := math.Abs(acc-accel) / accel
		if e < bestErr {
			best, bestErr, bestAcc = m, e, acc
		}
		if e < 0.02 {
			break
		}
		if acc < accel { // too dense: larger radius
			lo = r
		} else {
			hi = r
		}
		if math.IsInf(hi, 1) {
			r *= 1.5
		} else {
			r = (lo + hi) / 2
		}
	}
	return best, bestAcc, nil
}

// poissonOnce runs Bridson's algorithm once with base radius r0.
func poissonOnce(ny, nz int, r0, vd float64, calib int, rng *rand.Rand) *Mask {
	const tries = 30
	cy, cz := float64(ny)/2, float64(nz)/2
	radius := func(y, z float64) float64 {
		if vd == 0 {
			return r0
		}
		dy, dz := (y-cy)/(float64(ny)/2), (z-cz)/(float64(nz)/2)
		return r0 * (1 + vd*math.Sqrt(dy*dy+dz*dz))
	}
	cell := r0 / math.Sqrt2
	gy, gz := int(float64(ny)/cell)+1, int(float64(nz)/cell)+1
	grid := make([]int32, gy*gz) // point index + 1, 0 = empty
	var py, pz []float64
	add := func(y, z float64) {
		py, pz = append(py, y), append(pz, z)
		grid[int(y/cell)*gz+int(z/cell)] = int32(len(py))
	}
	ok := func(y, z float64) bool {
		rr := radius(y, z)
		reach := int(math.Ceil(rr / cell))
		iy, iz := int(y/cell), int(z/cell)
		for a := max(0, iy-reach); a <= min(gy-1, iy+reach); a++ {
			for b := max(0, iz-reach); b <= min(gz-1, iz+reach); b++ {
				if k := grid[a*gz+b]; k != 0 {
					dy, dz := py[k-1]-y, pz[k-1]-z
					if dy*dy+dz*dz < rr*rr {
						return false
					}
				}
			}
		}
		return true
	}
	add(rng.Float64()*float64(ny), rng.Float64()*float64(nz))
	active := []int{0}
	for len(active) > 0 {
		ai := rng.IntN(len(active))
		a := active[ai]
		ra := radius(py[a], pz[a])
		found := false
		for t := 0; t < tries; t++ {
			ang := 2 * math.Pi * rng.Float64()
			d := ra * (1 + rng.Float64())
			y, z := py[a]+d*math.Cos(ang), pz[a]+d*math.Sin(ang)
			if y < 0 || z < 0 || y >= float64(ny) || z >= float64(nz) {
				continue
			}
			if ok(y, z) {
				add(y, z)
				active = append(active, len(py)-1)
				found = true
				break
			}
		}
		if !found {
			active[ai] = active[len(active)-1]
			active = active[:len(active)-1]
		}
	}
	m := NewMask(ny, nz)
	for i := range py {
		m.Sampled[int(py[i])*nz+int(pz[i])] = true
	}
	y0, z0 := (ny-calib)/2, (nz-calib)/2
	for y := y0; y < y0+calib; y++ {
		for z := z0; z < z0+calib; z++ {
			m.Sampled[y*nz+z] = true
		}
	}
	return m
}
