// Package derived writes reconstructed images as a derived DICOM series in
// the study of their raw data: MR Image Storage (PS3.3 §A.4) for MR
// magnitude, CT Image Storage (PS3.3 §A.3) for CT in Hounsfield units, one
// instance per slice, with the geometry of the input.
//
// Data sets are built and encoded with github.com/suyashkumar/dicom.
package derived

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/frame"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/tweedie-recon/tweedie/part10"
	"github.com/tweedie-recon/tweedie/rawdata"
)

// SOP classes written.
const (
	MRImageStorage = "1.2.840.10008.5.1.4.1.1.4"
	CTImageStorage = "1.2.840.10008.5.1.4.1.1.2"
)

// Series is a reconstructed volume and what is needed to file it.
type Series struct {
	// Source is the raw data's header: identity (patient, study, frame of
	// reference) and geometry (orientation, positions, spacing).
	Source rawdata.Header
	// Volume holds Slices × Rows × Cols values in C order: MR magnitude in
	// the physical scale of the data, CT in Hounsfield units.
	Volume     []float32
	Slices     int
	Rows, Cols int
	// SeriesInstanceUID and the per-slice SOP Instance UIDs are given by the
	// caller so that a rerun of the same job yields the same instances.
	SeriesInstanceUID string
	SOPInstanceUID    func(slice int) string
	SeriesNumber      int
	// SeriesDescription names the reconstructor and its main parameters.
	SeriesDescription string
	// ImageType value 3 and later, e.g. "OTHER" or "AXIAL".
	ImageTypeDetail []string
}

// Options for writing.
type Options struct {
	Manufacturer string // default "tweedie"
}

// Write writes one Part 10 file per slice into dir, named by SOP Instance
// UID, and returns the paths.
func Write(dir string, s *Series, opt Options) ([]string, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	var paths []string
	scale := s.scaling()
	for i := 0; i < s.Slices; i++ {
		ds, err := s.dataset(i, scale, opt)
		if err != nil {
			return paths, err
		}
		var buf bytes.Buffer
		if err := dicom.Write(&buf, ds, dicom.SkipVRVerification()); err != nil {
			return paths, fmt.Errorf("encoding slice %d: %w", i, err)
		}
		p := filepath.Join(dir, s.SOPInstanceUID(i)+".dcm")
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
			return paths, err
		}
		if err := os.Rename(tmp, p); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func (s *Series) validate() error {
	switch {
	case s.Slices < 1 || s.Rows < 1 || s.Cols < 1 || len(s.Volume) != s.Slices*s.Rows*s.Cols:
		return fmt.Errorf("derived: volume of %d values for %d × %d × %d", len(s.Volume), s.Slices, s.Rows, s.Cols)
	case len(s.Source.Positions) != s.Slices:
		return fmt.Errorf("derived: %d slice positions for %d slices", len(s.Source.Positions), s.Slices)
	case s.Source.Modality != "MR" && s.Source.Modality != "CT":
		return fmt.Errorf("derived: modality %q, want MR or CT", s.Source.Modality)
	case s.SeriesInstanceUID == "" || s.SOPInstanceUID == nil:
		return fmt.Errorf("derived: series and instance UIDs must be given")
	}
	for i, v := range s.Volume {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("derived: voxel %d is %v", i, v)
		}
	}
	return nil
}

// scaling is the map from stored pixel values to the volume's values,
// value = stored·slope + intercept (PS3.3 §C.11.1.1.2).
type scaling struct {
	slope, intercept float64
	signed           bool
	center, width    float64 // in stored units
	private          bool    // slope in ValueScale, no modality LUT
}

func (s *Series) scaling() scaling {
	sorted := slices.Clone(s.Volume)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	pct := func(p float64) float64 { return float64(sorted[int(p*float64(len(sorted)-1))]) }
	if s.Source.Modality == "CT" {
		// HU stored as signed 16-bit with slope 1: the CT convention.
		return scaling{slope: 1, intercept: 0, signed: true, center: 40, width: 400}
	}
	// MR magnitude: the maximum maps to 65000 so that 16 bits keep the
	// precision. The MR IOD has no modality LUT, so the physical scale
	// (value = stored × slope) goes into the private element ValueScale
	// (docs/raw-data.md) rather than Rescale Slope.
	maxv := math.Max(float64(sorted[len(sorted)-1]), 1e-30)
	lo, hi := pct(0.005), pct(0.995)
	slope := maxv / 65000
	return scaling{slope: slope, intercept: 0, center: (lo + hi) / 2 / slope, width: math.Max((hi-lo)/slope, 1), private: true}
}

func el(t tag.Tag, v any) *dicom.Element {
	e, err := dicom.NewElement(t, v)
	if err != nil {
		panic(fmt.Sprintf("derived: element %v: %v", t, err))
	}
	return e
}

func fmtDS(v float64) string {
	s := strconv.FormatFloat(v, 'g', 10, 64)
	if len(s) > 16 {
		s = strconv.FormatFloat(v, 'g', 6, 64)
	}
	return s
}

func dsList(v ...float64) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = fmtDS(x)
	}
	return out
}

func (s *Series) dataset(i int, sc scaling, opt Options) (dicom.Dataset, error) {
	src := s.Source
	now := time.Now()
	manufacturer := opt.Manufacturer
	if manufacturer == "" {
		manufacturer = "tweedie"
	}
	sopClass := MRImageStorage
	if src.Modality == "CT" {
		sopClass = CTImageStorage
	}
	imageType := append([]string{"DERIVED", "PRIMARY"}, s.ImageTypeDetail...)
	if len(s.ImageTypeDetail) == 0 {
		if src.Modality == "CT" {
			imageType = append(imageType, "AXIAL")
		} else {
			imageType = append(imageType, "OTHER")
		}
	}
	pos := src.Positions[i]
	o := src.Orientation
	// Slice location: position along the slice normal (PS3.3 §C.7.6.2.1.2).
	n := [3]float64{o[1]*o[5] - o[2]*o[4], o[2]*o[3] - o[0]*o[5], o[0]*o[4] - o[1]*o[3]}
	sliceLoc := pos[0]*n[0] + pos[1]*n[1] + pos[2]*n[2]

	nf := frame.NewNativeFrame[uint16](16, s.Rows, s.Cols, s.Rows*s.Cols, 1)
	plane := s.Volume[i*s.Rows*s.Cols : (i+1)*s.Rows*s.Cols]
	for k, v := range plane {
		q := math.Round((float64(v) - sc.intercept) / sc.slope)
		if sc.signed {
			q = math.Max(-32768, math.Min(32767, q))
		} else {
			q = math.Max(0, math.Min(65535, q))
		}
		nf.RawData[k] = uint16(int16(int32(q))) // two's complement when signed
		if !sc.signed {
			nf.RawData[k] = uint16(q)
		}
	}
	pixelRep := 0
	if sc.signed {
		pixelRep = 1
	}
	elems := []*dicom.Element{
		el(tag.SpecificCharacterSet, []string{"ISO_IR 192"}),
		el(tag.ImageType, imageType),
		el(tag.InstanceCreationDate, []string{now.Format("20060102")}),
		el(tag.InstanceCreationTime, []string{now.Format("150405")}),
		el(tag.SOPClassUID, []string{sopClass}),
		el(tag.SOPInstanceUID, []string{s.SOPInstanceUID(i)}),
		el(tag.StudyDate, []string{src.StudyDate}),
		el(tag.SeriesDate, []string{now.Format("20060102")}),
		el(tag.ContentDate, []string{now.Format("20060102")}),
		el(tag.StudyTime, []string{src.StudyTime}),
		el(tag.SeriesTime, []string{now.Format("150405")}),
		el(tag.ContentTime, []string{now.Format("150405")}),
		el(tag.AccessionNumber, []string{src.AccessionNumber}),
		el(tag.Modality, []string{src.Modality}),
		el(tag.Manufacturer, []string{manufacturer}),
		el(tag.ReferringPhysicianName, []string{src.ReferringPhysician}),
		el(tag.SeriesDescription, []string{truncate(s.SeriesDescription, 64)}),
		el(tag.DerivationDescription, []string{truncate("reconstructed from raw data by tweedie: "+s.SeriesDescription, 1024)}),
		el(tag.PatientName, []string{src.PatientName}),
		el(tag.PatientID, []string{src.PatientID}),
		el(tag.PatientBirthDate, []string{src.PatientBirthDate}),
		el(tag.PatientSex, []string{src.PatientSex}),
		el(tag.SliceThickness, dsList(src.SliceThickness)),
		el(tag.StudyInstanceUID, []string{src.StudyInstanceUID}),
		el(tag.SeriesInstanceUID, []string{s.SeriesInstanceUID}),
		el(tag.StudyID, []string{src.StudyID}),
		el(tag.SeriesNumber, []string{strconv.Itoa(s.SeriesNumber)}),
		el(tag.InstanceNumber, []string{strconv.Itoa(src.FirstSlice + i + 1)}),
		el(tag.PatientOrientation, []string{}),
		el(tag.ImagePositionPatient, dsList(pos[:]...)),
		el(tag.ImageOrientationPatient, dsList(o[:]...)),
		el(tag.FrameOfReferenceUID, []string{frameOfReference(src)}),
		el(tag.Laterality, []string{}),
		el(tag.PositionReferenceIndicator, []string{}),
		el(tag.SliceLocation, dsList(sliceLoc)),
		el(tag.SamplesPerPixel, []int{1}),
		el(tag.PhotometricInterpretation, []string{"MONOCHROME2"}),
		el(tag.Rows, []int{s.Rows}),
		el(tag.Columns, []int{s.Cols}),
		el(tag.PixelSpacing, dsList(src.PixelSpacing[:]...)),
		el(tag.BitsAllocated, []int{16}),
		el(tag.BitsStored, []int{16}),
		el(tag.HighBit, []int{15}),
		el(tag.PixelRepresentation, []int{pixelRep}),
		el(tag.PixelData, dicom.PixelDataInfo{Frames: []*frame.Frame{{NativeData: nf}}}),
		el(tag.PatientPosition, []string{src.PatientPosition}),
	}
	if sc.private {
		elems = append(elems,
			el(tag.WindowCenter, dsList(math.Round(sc.center))),
			el(tag.WindowWidth, dsList(math.Round(sc.width))),
			privateCreator(),
			privateFD(tagValueScale, sc.slope))
	} else {
		elems = append(elems,
			el(tag.WindowCenter, dsList(sc.center)),
			el(tag.WindowWidth, dsList(sc.width)),
			el(tag.RescaleIntercept, dsList(sc.intercept)),
			el(tag.RescaleSlope, dsList(sc.slope)))
	}
	if src.Modality == "MR" {
		elems = append(elems,
			el(tag.ScanningSequence, []string{"RM"}),
			el(tag.SequenceVariant, []string{"NONE"}),
			el(tag.ScanOptions, []string{}),
			el(tag.MRAcquisitionType, []string{"2D"}),
			el(tag.RepetitionTime, []string{}),
			el(tag.EchoTime, []string{}),
			el(tag.EchoTrainLength, []string{}),
		)
	} else {
		elems = append(elems,
			el(tag.KVP, []string{}),
			el(tag.AcquisitionNumber, []string{}),
			el(tag.RescaleType, []string{"HU"}),
		)
	}
	sort.Slice(elems, func(a, b int) bool { return elems[a].Tag.Compare(elems[b].Tag) < 0 })
	ds := dicom.Dataset{Elements: append(fileMeta(sopClass, s.SOPInstanceUID(i)), elems...)}
	return ds, nil
}

// The private block of derived images shares the raw-data creator; its
// tags are defined once, in rawdata (PS3.5 §7.8.1).
var (
	tagPrivateCreator = dictTag(rawdata.TagPrivateCreator)
	// tagValueScale: physical value = stored value × ValueScale (MR).
	tagValueScale = dictTag(rawdata.TagValueScale)
)

// dictTag is a tag as github.com/suyashkumar/dicom, which encodes the
// derived data sets, spells it.
func dictTag(t part10.Tag) tag.Tag { return tag.Tag{Group: t.Group(), Element: t.Element()} }

func privateCreator() *dicom.Element {
	return &dicom.Element{Tag: tagPrivateCreator, ValueRepresentation: tag.VRString, RawValueRepresentation: "LO",
		Value: must(dicom.NewValue([]string{rawdata.PrivateCreator}))}
}

func privateFD(t tag.Tag, v float64) *dicom.Element {
	return &dicom.Element{Tag: t, ValueRepresentation: tag.VRFloat64List, RawValueRepresentation: "FD",
		Value: must(dicom.NewValue([]float64{v}))}
}

func must(v dicom.Value, err error) dicom.Value {
	if err != nil {
		panic(err)
	}
	return v
}

func frameOfReference(h rawdata.Header) string {
	if h.FrameOfReferenceUID != "" {
		return h.FrameOfReferenceUID
	}
	// Slices of one acquisition share a frame of reference.
	return rawdata.DeriveUID("frame-of-reference", h.Acquisition.UID)
}

func fileMeta(sopClass, sopInstance string) []*dicom.Element {
	return []*dicom.Element{
		el(tag.FileMetaInformationVersion, []byte{0, 1}),
		el(tag.MediaStorageSOPClassUID, []string{sopClass}),
		el(tag.MediaStorageSOPInstanceUID, []string{sopInstance}),
		el(tag.TransferSyntaxUID, []string{"1.2.840.10008.1.2.1"}),
		el(tag.ImplementationClassUID, []string{part10.ImplementationClassUID}),
		el(tag.ImplementationVersionName, []string{part10.ImplementationVersionName}),
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
