package rawdata

import (
	"errors"
	"fmt"
	"math"
)

// CTSinogram is one instance of sparse-view CT projection data: line
// integrals of linear attenuation shaped (Slices, Views, Detectors) in C
// order, with the projection geometry and the reconstruction grid.
type CTSinogram struct {
	Header
	Slices, Views, Detectors int
	Data                     []float32
	AnglesDeg                []float64 // one per view
	Beam                     string    // PARALLEL or FAN
	DetectorSpacing          float64   // mm for parallel beam, degrees for equiangular fan beam
	DetectorOffset           float64   // centre of rotation offset, detector elements
	SourceIso, SourceDet     float64   // mm, fan beam only
	MuWater                  float64   // 1/mm, for HU conversion
}

// Beam geometries.
const (
	BeamParallel = "PARALLEL"
	BeamFan      = "FAN"
)

// Validate checks sizes, geometry and samples.
func (s *CTSinogram) Validate() error {
	if err := s.validateHeader(); err != nil {
		return err
	}
	if len(s.Data) != s.Slices*s.Views*s.Detectors {
		return fmt.Errorf("%w: %d samples for %d × %d × %d", ErrInvalid, len(s.Data), s.Slices, s.Views, s.Detectors)
	}
	for i, v := range s.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w: sinogram sample %s is %v", ErrInvalid, s.where(i), v)
		}
	}
	return nil
}

// validateHeader checks everything but the samples.
func (s *CTSinogram) validateHeader() error {
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	if s.Slices < 1 || s.Views < 1 || s.Detectors < 2 {
		bad("sinogram of %d slices × %d views × %d detectors", s.Slices, s.Views, s.Detectors)
	}
	if len(s.AnglesDeg) != s.Views {
		bad("%d angles for %d views", len(s.AnglesDeg), s.Views)
	}
	for i, a := range s.AnglesDeg {
		if math.IsNaN(a) || math.IsInf(a, 0) {
			bad("angle %d is %v", i, a)
			break
		}
	}
	switch s.Beam {
	case BeamParallel:
	case BeamFan:
		if !(s.SourceIso > 0 && s.SourceDet > s.SourceIso) {
			bad("fan beam needs 0 < source-isocentre (%g mm) < source-detector (%g mm)", s.SourceIso, s.SourceDet)
		}
	default:
		bad("beam geometry %q, want %s or %s", s.Beam, BeamParallel, BeamFan)
	}
	if !(s.DetectorSpacing > 0) {
		bad("detector spacing %g must be positive", s.DetectorSpacing)
	}
	if !(s.MuWater > 0 && s.MuWater < 1) {
		bad("water attenuation %g /mm is not plausible (0 < μ < 1)", s.MuWater)
	}
	if s.ImageRows < 1 || s.ImageCols < 1 || !(s.PixelSpacing[0] > 0) {
		bad("reconstruction grid %d × %d at %v mm", s.ImageRows, s.ImageCols, s.PixelSpacing)
	}
	if len(s.Positions) != s.Slices {
		bad("%d slice positions for %d slices", len(s.Positions), s.Slices)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, joinProblems(problems))
	}
	return nil
}

func joinProblems(p []string) string {
	out := ""
	for i, s := range p {
		if i > 0 {
			out += "; "
		}
		out += s
	}
	return out
}

func (s *CTSinogram) where(i int) string {
	d := i % s.Detectors
	v := i / s.Detectors % s.Views
	sl := i / (s.Detectors * s.Views)
	return fmt.Sprintf("slice %d, view %d, detector %d", sl, v, d)
}

// WriteCT writes s as a Raw Data Storage Part 10 file.
func WriteCT(path string, s *CTSinogram) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.Modality == "" {
		s.Modality = "CT"
	}
	return writeFile(path, s.SOPInstanceUID, func(w *writer) {
		s.writeCommon(w, RawDataStorage)
		s.writePrivateCommon(w, KindCTSinogram, layoutCT, formatFloat,
			[]uint32{uint32(s.Slices), uint32(s.Views), uint32(s.Detectors)})
		s.writePrivateGeometry(w)
		w.fd(tagAnglesDeg, s.AnglesDeg...)
		w.str(tagBeamGeometry, "CS", s.Beam)
		w.fd(tagDetectorSpacing, s.DetectorSpacing)
		w.fd(tagDetectorOffset, s.DetectorOffset)
		if s.Beam == BeamFan {
			w.fd(tagSourceIso, s.SourceIso)
			w.fd(tagSourceDetector, s.SourceDet)
		}
		w.fd(tagMuWater, s.MuWater)
		writeArray(w, len(s.Data), func(i int) float32 { return s.Data[i] })
	})
}

// ReadCT reads and checks a CT sinogram object.
func ReadCT(path string) (*CTSinogram, error) {
	p, err := open(path)
	if err != nil {
		return nil, err
	}
	defer p.closer()
	return p.ct()
}

func (p *parsed) ct() (*CTSinogram, error) {
	if p.kind != KindCTSinogram {
		return nil, fmt.Errorf("%s: data kind %q is not %s", p.path, p.kind, KindCTSinogram)
	}
	if len(p.dims) != 3 {
		return nil, fmt.Errorf("%s: %w: a sinogram needs 3 array dimensions (slices, views, detectors), got %v", p.path, ErrInvalid, p.dims)
	}
	if f := p.ds.str(tagSampleFormat); f != formatFloat {
		return nil, fmt.Errorf("%s: %w: sample format %q, want %s", p.path, ErrInvalid, f, formatFloat)
	}
	s := &CTSinogram{Slices: p.dims[0], Views: p.dims[1], Detectors: p.dims[2]}
	h, err := p.readHeader(s.Slices)
	if err != nil {
		return nil, err
	}
	s.Header = h
	one := func(t Tag) float64 {
		v, _ := p.ds.floats(t)
		if len(v) == 0 {
			return 0
		}
		return v[0]
	}
	s.AnglesDeg, err = p.ds.floats(tagAnglesDeg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	s.Beam = p.ds.str(tagBeamGeometry)
	s.DetectorSpacing, s.DetectorOffset = one(tagDetectorSpacing), one(tagDetectorOffset)
	s.SourceIso, s.SourceDet, s.MuWater = one(tagSourceIso), one(tagSourceDetector), one(tagMuWater)
	// Check the header before reading a possibly large array.
	if err := s.validateHeader(); err != nil {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	s.Data, err = p.readArray(s.Slices * s.Views * s.Detectors)
	if err != nil {
		var se *SampleError
		if errors.As(err, &se) {
			se.Where = s.where(se.Index)
		}
		return nil, err
	}
	return s, nil
}
