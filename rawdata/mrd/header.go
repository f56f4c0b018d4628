package mrd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrHeader wraps every problem with an ISMRMRD XML header.
var ErrHeader = errors.New("ISMRMRD header")

// Limits on the XML header.
const (
	// MaxHeaderBytes bounds the XML header, as docs/raw-data.md bounds
	// every header value of a raw-data object.
	MaxHeaderBytes = 16 << 20
	// MaxEncodings bounds the encoding spaces of one header.
	MaxEncodings = 64
	// MaxChannels is the most receiver channels an acquisition can name
	// (ISMRMRD's channel mask has 16 × 64 bits).
	MaxChannels = 1024
)

// Header is the ISMRMRD XML header (schema/ismrmrd.xsd of ismrmrd 1.8,
// the "ismrmrdHeader" element): the parts tweedie uses. Optional elements
// are nil when absent. Raw keeps the document verbatim.
type Header struct {
	XMLName      xml.Name                      `xml:"ismrmrdHeader"`
	Version      int64                         `xml:"version"`
	Subject      *SubjectInformation           `xml:"subjectInformation"`
	Study        *StudyInformation             `xml:"studyInformation"`
	Measurement  *MeasurementInformation       `xml:"measurementInformation"`
	System       *AcquisitionSystemInformation `xml:"acquisitionSystemInformation"`
	Experimental ExperimentalConditions        `xml:"experimentalConditions"`
	Encoding     []Encoding                    `xml:"encoding"`
	Sequence     *SequenceParameters           `xml:"sequenceParameters"`
	Raw          string                        `xml:"-"`
}

// SubjectInformation is subjectInformationType.
type SubjectInformation struct {
	PatientName      string   `xml:"patientName"`
	PatientWeightKg  *float64 `xml:"patientWeight_kg"`
	PatientID        string   `xml:"patientID"`
	PatientBirthdate string   `xml:"patientBirthdate"` // xs:date, YYYY-MM-DD
	PatientGender    string   `xml:"patientGender"`    // M, F or O
}

// StudyInformation is studyInformationType.
type StudyInformation struct {
	StudyDate              string `xml:"studyDate"` // xs:date
	StudyTime              string `xml:"studyTime"` // xs:time, hh:mm:ss[.fff]
	StudyID                string `xml:"studyID"`
	AccessionNumber        string `xml:"accessionNumber"` // xs:long
	ReferringPhysicianName string `xml:"referringPhysicianName"`
	StudyDescription       string `xml:"studyDescription"`
	StudyInstanceUID       string `xml:"studyInstanceUID"`
}

// MeasurementInformation is measurementInformationType.
type MeasurementInformation struct {
	MeasurementID         string                  `xml:"measurementID"`
	SeriesDate            string                  `xml:"seriesDate"`
	SeriesTime            string                  `xml:"seriesTime"`
	PatientPosition       string                  `xml:"patientPosition"` // HFS, FFS, HFDR, …
	InitialSeriesNumber   *int64                  `xml:"initialSeriesNumber"`
	ProtocolName          string                  `xml:"protocolName"`
	SeriesDescription     string                  `xml:"seriesDescription"`
	MeasurementDependency []MeasurementDependency `xml:"measurementDependency"`
	SeriesInstanceUIDRoot string                  `xml:"seriesInstanceUIDRoot"`
	FrameOfReferenceUID   string                  `xml:"frameOfReferenceUID"`
}

// MeasurementDependency names another measurement this one depends on (a
// noise scan, a reference scan).
type MeasurementDependency struct {
	DependencyType string `xml:"dependencyType"`
	MeasurementID  string `xml:"measurementID"`
}

// AcquisitionSystemInformation is acquisitionSystemInformationType.
type AcquisitionSystemInformation struct {
	SystemVendor                   string   `xml:"systemVendor"`
	SystemModel                    string   `xml:"systemModel"`
	SystemFieldStrengthT           *float64 `xml:"systemFieldStrength_T"`
	RelativeReceiverNoiseBandwidth *float64 `xml:"relativeReceiverNoiseBandwidth"`
	ReceiverChannels               *int     `xml:"receiverChannels"`
	InstitutionName                string   `xml:"institutionName"`
	StationName                    string   `xml:"stationName"`
	DeviceID                       string   `xml:"deviceID"`
}

// ExperimentalConditions is experimentalConditionsType.
type ExperimentalConditions struct {
	H1ResonanceFrequencyHz int64 `xml:"H1resonanceFrequency_Hz"`
}

// Encoding is encodingType: one encoding space of the acquisition.
type Encoding struct {
	EncodedSpace    EncodingSpace    `xml:"encodedSpace"`
	ReconSpace      EncodingSpace    `xml:"reconSpace"`
	Limits          EncodingLimits   `xml:"encodingLimits"`
	Trajectory      string           `xml:"trajectory"` // cartesian, epi, radial, goldenangle, spiral, other
	TrajectoryID    string           `xml:"trajectoryDescription>identifier"`
	ParallelImaging *ParallelImaging `xml:"parallelImaging"`
	EchoTrainLength *int64           `xml:"echoTrainLength"`
}

// EncodingSpace is encodingSpaceType: a matrix and its field of view.
type EncodingSpace struct {
	Matrix MatrixSize  `xml:"matrixSize"`
	FOV    FieldOfView `xml:"fieldOfView_mm"`
}

// MatrixSize is matrixSizeType (x readout, y phase, z partition).
type MatrixSize struct {
	X int `xml:"x"`
	Y int `xml:"y"`
	Z int `xml:"z"`
}

// FieldOfView is fieldOfView_mm, in millimetres.
type FieldOfView struct {
	X float64 `xml:"x"`
	Y float64 `xml:"y"`
	Z float64 `xml:"z"`
}

// Limit is limitType: the range of an encoding counter and its centre.
type Limit struct {
	Minimum int `xml:"minimum"`
	Maximum int `xml:"maximum"`
	Center  int `xml:"center"`
}

// EncodingLimits is encodingLimitsType.
type EncodingLimits struct {
	Step0      *Limit `xml:"kspace_encoding_step_0"`
	Step1      *Limit `xml:"kspace_encoding_step_1"`
	Step2      *Limit `xml:"kspace_encoding_step_2"`
	Average    *Limit `xml:"average"`
	Slice      *Limit `xml:"slice"`
	Contrast   *Limit `xml:"contrast"`
	Phase      *Limit `xml:"phase"`
	Repetition *Limit `xml:"repetition"`
	Set        *Limit `xml:"set"`
	Segment    *Limit `xml:"segment"`
}

// ParallelImaging is parallelImagingType.
type ParallelImaging struct {
	Acceleration struct {
		Step1 int `xml:"kspace_encoding_step_1"`
		Step2 int `xml:"kspace_encoding_step_2"`
	} `xml:"accelerationFactor"`
	CalibrationMode       string `xml:"calibrationMode"` // embedded, interleaved, separate, external, other
	InterleavingDimension string `xml:"interleavingDimension"`
}

// SequenceParameters is sequenceParametersType (times in ms).
type SequenceParameters struct {
	TR           []float64 `xml:"TR"`
	TE           []float64 `xml:"TE"`
	TI           []float64 `xml:"TI"`
	FlipAngleDeg []float64 `xml:"flipAngle_deg"`
	SequenceType string    `xml:"sequence_type"`
}

// The trajectories and calibration modes of the schema.
var (
	trajectories     = []string{"cartesian", "epi", "radial", "goldenangle", "spiral", "other"}
	calibrationModes = []string{"embedded", "interleaved", "separate", "external", "other"}
)

// ParseHeader parses and checks an ISMRMRD XML header: at most
// MaxHeaderBytes, one to MaxEncodings encodings, matrix sizes that fit the
// 16-bit counters of the acquisitions, finite non-negative fields of view,
// limits with minimum ≤ centre and minimum ≤ maximum, and the schema's
// trajectory and calibration names. Strings are trimmed of white space.
func ParseHeader(b []byte) (*Header, error) {
	if len(b) > MaxHeaderBytes {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d-byte limit", ErrHeader, len(b), MaxHeaderBytes)
	}
	h := &Header{}
	dec := xml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(h); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHeader, err)
	}
	h.Raw = string(b)
	trimStrings(h)
	if err := h.check(); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *Header) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrHeader, fmt.Sprintf(format, a...))
	}
	if len(h.Encoding) == 0 {
		return bad("no <encoding> element")
	}
	if len(h.Encoding) > MaxEncodings {
		return bad("%d encodings exceed the limit of %d", len(h.Encoding), MaxEncodings)
	}
	for i := range h.Encoding {
		e := &h.Encoding[i]
		for _, s := range []struct {
			name string
			sp   *EncodingSpace
		}{{"encodedSpace", &e.EncodedSpace}, {"reconSpace", &e.ReconSpace}} {
			m := &s.sp.Matrix
			if m.Z == 0 {
				m.Z = 1 // the schema's default
			}
			if m.X < 1 || m.Y < 1 || m.X > math.MaxUint16 || m.Y > math.MaxUint16 || m.Z > math.MaxUint16 {
				return bad("encoding %d: %s matrix %d × %d × %d (each 1 … 65535)", i, s.name, m.X, m.Y, m.Z)
			}
			for _, v := range []float64{s.sp.FOV.X, s.sp.FOV.Y, s.sp.FOV.Z} {
				if !(v >= 0) || math.IsInf(v, 0) {
					return bad("encoding %d: %s field of view %v mm", i, s.name, s.sp.FOV)
				}
			}
		}
		l := &e.Limits
		for _, lim := range []struct {
			name string
			l    *Limit
		}{{"kspace_encoding_step_0", l.Step0}, {"kspace_encoding_step_1", l.Step1}, {"kspace_encoding_step_2", l.Step2},
			{"average", l.Average}, {"slice", l.Slice}, {"contrast", l.Contrast}, {"phase", l.Phase},
			{"repetition", l.Repetition}, {"set", l.Set}, {"segment", l.Segment}} {
			if lim.l == nil {
				continue
			}
			x := lim.l
			if x.Minimum < 0 || x.Maximum < x.Minimum || x.Maximum > math.MaxUint16 || x.Center < 0 || x.Center > math.MaxUint16 {
				return bad("encoding %d: limit %s is minimum %d, maximum %d, centre %d", i, lim.name, x.Minimum, x.Maximum, x.Center)
			}
		}
		if !oneOf(e.Trajectory, trajectories) {
			return bad("encoding %d: trajectory %q (want one of %s)", i, e.Trajectory, strings.Join(trajectories, ", "))
		}
		if p := e.ParallelImaging; p != nil {
			if p.Acceleration.Step1 < 0 || p.Acceleration.Step2 < 0 || p.Acceleration.Step1 > 256 || p.Acceleration.Step2 > 256 {
				return bad("encoding %d: acceleration %d × %d", i, p.Acceleration.Step1, p.Acceleration.Step2)
			}
			if p.CalibrationMode != "" && !oneOf(p.CalibrationMode, calibrationModes) {
				return bad("encoding %d: calibration mode %q (want one of %s)", i, p.CalibrationMode, strings.Join(calibrationModes, ", "))
			}
		}
	}
	if s := h.System; s != nil {
		if c := s.ReceiverChannels; c != nil && (*c < 0 || *c > MaxChannels) {
			return bad("%d receiver channels (at most %d)", *c, MaxChannels)
		}
		if b := s.RelativeReceiverNoiseBandwidth; b != nil && !(*b > 0 && *b <= 10) {
			return bad("relative receiver noise bandwidth %v", *b)
		}
	}
	return nil
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// trimStrings trims white space from the text fields tweedie uses.
func trimStrings(h *Header) {
	trim := func(ps ...*string) {
		for _, p := range ps {
			*p = strings.TrimSpace(*p)
		}
	}
	if s := h.Subject; s != nil {
		trim(&s.PatientName, &s.PatientID, &s.PatientBirthdate, &s.PatientGender)
	}
	if s := h.Study; s != nil {
		trim(&s.StudyDate, &s.StudyTime, &s.StudyID, &s.AccessionNumber, &s.ReferringPhysicianName, &s.StudyDescription, &s.StudyInstanceUID)
	}
	if m := h.Measurement; m != nil {
		trim(&m.MeasurementID, &m.SeriesDate, &m.SeriesTime, &m.PatientPosition, &m.ProtocolName, &m.SeriesDescription,
			&m.SeriesInstanceUIDRoot, &m.FrameOfReferenceUID)
	}
	if s := h.System; s != nil {
		trim(&s.SystemVendor, &s.SystemModel, &s.InstitutionName, &s.StationName, &s.DeviceID)
	}
	for i := range h.Encoding {
		e := &h.Encoding[i]
		trim(&e.Trajectory, &e.TrajectoryID)
		if p := e.ParallelImaging; p != nil {
			trim(&p.CalibrationMode, &p.InterleavingDimension)
		}
	}
}
