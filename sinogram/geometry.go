package sinogram

import (
	"errors"
	"fmt"
	"math"
)

// Limits on sizes, so that a corrupt or hostile header cannot make tweedie
// allocate without bound.
const (
	// MaxImageSide bounds Rows and Cols.
	MaxImageSide = 8192
	// MaxViews bounds the number of projection angles.
	MaxViews = 1 << 16
	// MaxDetectors bounds the number of detector bins.
	MaxDetectors = 1 << 15
	// MaxSinogram bounds views × detectors.
	MaxSinogram = 1 << 27
)

// ErrGeometry is wrapped by every geometry validation error.
var ErrGeometry = errors.New("sinogram: invalid geometry")

func geomErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrGeometry, fmt.Sprintf(format, a...))
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// ImageGrid is the reconstruction grid: Rows×Cols square pixels of
// PixelMM, the rotation axis at the geometric centre moved by (ShiftRow,
// ShiftCol) pixels (positive: towards larger indices).
type ImageGrid struct {
	Rows, Cols         int
	PixelMM            float64
	ShiftRow, ShiftCol float64
}

// Square returns an n×n grid centred on the rotation axis.
func Square(n int, pixelMM float64) ImageGrid {
	return ImageGrid{Rows: n, Cols: n, PixelMM: pixelMM}
}

// Len is Rows·Cols.
func (g ImageGrid) Len() int { return g.Rows * g.Cols }

// center returns the rotation axis (cy, cx) in fractional pixel indices.
func (g ImageGrid) center() (cy, cx float64) {
	return float64(g.Rows-1)/2 + g.ShiftRow, float64(g.Cols-1)/2 + g.ShiftCol
}

// radiusMM is the largest distance from the rotation axis to a pixel's
// outer corner.
func (g ImageGrid) radiusMM() float64 {
	cy, cx := g.center()
	dy := math.Max(cy+0.5, float64(g.Rows)-0.5-cy)
	dx := math.Max(cx+0.5, float64(g.Cols)-0.5-cx)
	return math.Hypot(dx, dy) * g.PixelMM
}

// Validate reports what is wrong with the grid.
func (g ImageGrid) Validate() error {
	if g.Rows <= 0 || g.Cols <= 0 || g.Rows > MaxImageSide || g.Cols > MaxImageSide {
		return geomErr("image grid %d×%d, want 1..%d per side", g.Rows, g.Cols, MaxImageSide)
	}
	if !finite(g.PixelMM) || g.PixelMM <= 0 {
		return geomErr("pixel size %g mm, want > 0", g.PixelMM)
	}
	if !finite(g.ShiftRow) || !finite(g.ShiftCol) || math.Abs(g.ShiftRow) > float64(g.Rows) || math.Abs(g.ShiftCol) > float64(g.Cols) {
		return geomErr("rotation axis shift (%g, %g) pixels lies outside the %d×%d grid", g.ShiftRow, g.ShiftCol, g.Rows, g.Cols)
	}
	return nil
}

// ParallelGeometry is a parallel-beam scan (see the package comment for
// the conventions).
type ParallelGeometry struct {
	// AnglesDeg are the view angles θ in degrees (any finite values; 180°
	// of coverage is a full scan).
	AnglesDeg []float64
	// NDet is the number of detector bins.
	NDet int
	// DetSpacing is the bin width in mm.
	DetSpacing float64
	// CenterOffset is the position of the rotation axis on the detector
	// relative to its middle, (NDet−1)/2, in bins (not mm): positive moves
	// it towards larger bin indices.
	CenterOffset float64
}

// Views is len(AnglesDeg).
func (g ParallelGeometry) Views() int { return len(g.AnglesDeg) }

// SinoLen is views × NDet.
func (g ParallelGeometry) SinoLen() int { return len(g.AnglesDeg) * g.NDet }

func validateCommon(kind string, angles []float64, ndet int, spacing, offset float64) error {
	if len(angles) == 0 || len(angles) > MaxViews {
		return geomErr("%s: %d views, want 1..%d", kind, len(angles), MaxViews)
	}
	if ndet <= 0 || ndet > MaxDetectors {
		return geomErr("%s: %d detector bins, want 1..%d", kind, ndet, MaxDetectors)
	}
	if len(angles)*ndet > MaxSinogram {
		return geomErr("%s: %d views × %d bins exceeds %d samples", kind, len(angles), ndet, MaxSinogram)
	}
	if !finite(spacing) || spacing <= 0 {
		return geomErr("%s: detector spacing %g mm, want > 0", kind, spacing)
	}
	if !finite(offset) || math.Abs(offset) >= float64(ndet) {
		return geomErr("%s: centre offset %g bins, want |offset| < %d", kind, offset, ndet)
	}
	for i, a := range angles {
		if !finite(a) || math.Abs(a) > 1e6 {
			return geomErr("%s: angle %d is %g degrees", kind, i, a)
		}
	}
	return nil
}

// Validate reports what is wrong with the geometry.
func (g ParallelGeometry) Validate() error {
	return validateCommon("parallel beam", g.AnglesDeg, g.NDet, g.DetSpacing, g.CenterOffset)
}

// FanGeometry is an equiangular fan-beam scan with a curved detector
// centred on the source (see the package comment).
type FanGeometry struct {
	// AnglesDeg are the source angles β in degrees; FBP needs a full scan
	// (views spread over 360°).
	AnglesDeg []float64
	// NDet is the number of detector bins.
	NDet int
	// SourceIso is the source–isocentre distance R in mm.
	SourceIso float64
	// SourceDet is the source–detector distance in mm (> SourceIso).
	SourceDet float64
	// DetSpacing is the arc length of one bin on the detector in mm; the
	// angular spacing is DetSpacing/SourceDet radians.
	DetSpacing float64
	// CenterOffset moves the bin that sees the central ray, in bins.
	CenterOffset float64
}

// Views is len(AnglesDeg).
func (g FanGeometry) Views() int { return len(g.AnglesDeg) }

// SinoLen is views × NDet.
func (g FanGeometry) SinoLen() int { return len(g.AnglesDeg) * g.NDet }

// DetAngle is the angular bin spacing in radians.
func (g FanGeometry) DetAngle() float64 { return g.DetSpacing / g.SourceDet }

// Validate reports what is wrong with the geometry on its own.
func (g FanGeometry) Validate() error {
	if err := validateCommon("fan beam", g.AnglesDeg, g.NDet, g.DetSpacing, g.CenterOffset); err != nil {
		return err
	}
	if !finite(g.SourceIso) || g.SourceIso <= 0 {
		return geomErr("fan beam: source–isocentre distance %g mm, want > 0", g.SourceIso)
	}
	if !finite(g.SourceDet) || g.SourceDet <= g.SourceIso {
		return geomErr("fan beam: source–detector distance %g mm must exceed the source–isocentre distance %g mm", g.SourceDet, g.SourceIso)
	}
	half := (float64(g.NDet)/2 + math.Abs(g.CenterOffset)) * g.DetAngle()
	if half >= math.Pi/2 {
		return geomErr("fan beam: half fan angle %.1f° (%d bins × %g mm at %g mm) must be below 90°", half*180/math.Pi, g.NDet, g.DetSpacing, g.SourceDet)
	}
	return nil
}

// validateWith checks that the source and the detector lie outside the
// image, so that every line integral is the integral between them.
func (g FanGeometry) validateWith(grid ImageGrid) error {
	if err := g.Validate(); err != nil {
		return err
	}
	if err := grid.Validate(); err != nil {
		return err
	}
	r := grid.radiusMM()
	if g.SourceIso <= r {
		return geomErr("fan beam: source at %g mm from the isocentre lies inside the image (radius %.1f mm)", g.SourceIso, r)
	}
	if g.SourceDet-g.SourceIso <= r {
		return geomErr("fan beam: detector at %g mm beyond the isocentre cuts the image (radius %.1f mm)", g.SourceDet-g.SourceIso, r)
	}
	return nil
}

// EvenAngles returns n angles start + i·span/n degrees, i = 0…n−1
// (numpy.linspace(start, start+span, n, endpoint=False)).
func EvenAngles(n int, start, span float64) []float64 {
	if n <= 0 {
		return nil
	}
	a := make([]float64, n)
	for i := range a {
		a[i] = start + span*float64(i)/float64(n)
	}
	return a
}

// SkimageDetectors is the number of bins of skimage.transform.radon with
// circle=False for an n×n image: n + ⌈√2·n − n⌉ (computed in the same
// floating point as scikit-image).
func SkimageDetectors(n int) int {
	return n + int(math.Ceil(math.Sqrt2*float64(n)-float64(n)))
}

// ForSkimageRadon returns the geometry and grid that reproduce
// skimage.transform.radon(image, theta=anglesDeg, circle=False) for an n×n
// image of pixelMM pixels: SkimageDetectors(n) bins of pixelMM, the
// rotation axis at pixel (n//2, n//2) and on bin D//2. Convert
// scikit-image's sinogram with FromSkimage(…, pixelMM).
func ForSkimageRadon(n int, anglesDeg []float64, pixelMM float64) (ParallelGeometry, ImageGrid, error) {
	if n <= 0 || n > MaxImageSide {
		return ParallelGeometry{}, ImageGrid{}, geomErr("skimage image side %d, want 1..%d", n, MaxImageSide)
	}
	d := SkimageDetectors(n)
	shift := float64(n/2) - float64(n-1)/2
	grid := ImageGrid{Rows: n, Cols: n, PixelMM: pixelMM, ShiftRow: shift, ShiftCol: shift}
	geom := ParallelGeometry{
		AnglesDeg:    append([]float64(nil), anglesDeg...),
		NDet:         d,
		DetSpacing:   pixelMM,
		CenterOffset: float64(d/2) - float64(d-1)/2,
	}
	if err := grid.Validate(); err != nil {
		return ParallelGeometry{}, ImageGrid{}, err
	}
	if err := geom.Validate(); err != nil {
		return ParallelGeometry{}, ImageGrid{}, err
	}
	return geom, grid, nil
}

// FromSkimage converts a scikit-image sinogram, (nDet, views) row-major
// with values in pixel units, to tweedie's (views, nDet) layout in mm by
// transposing and multiplying by pixelMM.
func FromSkimage(sk []float32, nDet, views int, pixelMM float64) ([]float32, error) {
	if nDet <= 0 || views <= 0 || nDet > MaxDetectors || views > MaxViews || len(sk) != nDet*views {
		return nil, geomErr("skimage sinogram of %d values is not %d bins × %d views", len(sk), nDet, views)
	}
	if !finite(pixelMM) || pixelMM <= 0 {
		return nil, geomErr("pixel size %g mm", pixelMM)
	}
	out := make([]float32, len(sk))
	s := float32(pixelMM)
	for j := 0; j < nDet; j++ {
		for v := 0; v < views; v++ {
			out[v*nDet+j] = sk[j*views+v] * s
		}
	}
	return out, nil
}

// ToSkimage is the inverse of FromSkimage: (views, nDet) in mm to
// (nDet, views) in pixel units.
func ToSkimage(sino []float32, nDet, views int, pixelMM float64) ([]float32, error) {
	if nDet <= 0 || views <= 0 || nDet > MaxDetectors || views > MaxViews || len(sino) != nDet*views {
		return nil, geomErr("sinogram of %d values is not %d views × %d bins", len(sino), views, nDet)
	}
	if !finite(pixelMM) || pixelMM <= 0 {
		return nil, geomErr("pixel size %g mm", pixelMM)
	}
	out := make([]float32, len(sino))
	s := float32(1 / pixelMM)
	for v := 0; v < views; v++ {
		for j := 0; j < nDet; j++ {
			out[j*views+v] = sino[v*nDet+j] * s
		}
	}
	return out, nil
}
