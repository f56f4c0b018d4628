package mrd

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Flag is a bit of AcquisitionHeader.Flags, numbered from 1 as ismrmrd.h's
// ISMRMRD_AcquisitionFlags number them (bit n is 1 << (n−1)).
type Flag uint8

// The acquisition flags of ismrmrd.h.
const (
	FirstInEncodeStep1              Flag = 1
	LastInEncodeStep1               Flag = 2
	FirstInEncodeStep2              Flag = 3
	LastInEncodeStep2               Flag = 4
	FirstInAverage                  Flag = 5
	LastInAverage                   Flag = 6
	FirstInSlice                    Flag = 7
	LastInSlice                     Flag = 8
	FirstInContrast                 Flag = 9
	LastInContrast                  Flag = 10
	FirstInPhase                    Flag = 11
	LastInPhase                     Flag = 12
	FirstInRepetition               Flag = 13
	LastInRepetition                Flag = 14
	FirstInSet                      Flag = 15
	LastInSet                       Flag = 16
	FirstInSegment                  Flag = 17
	LastInSegment                   Flag = 18
	IsNoiseMeasurement              Flag = 19
	IsParallelCalibration           Flag = 20
	IsParallelCalibrationAndImaging Flag = 21
	IsReverse                       Flag = 22
	IsNavigationData                Flag = 23
	IsPhasecorrData                 Flag = 24
	LastInMeasurement               Flag = 25
	IsHPFeedbackData                Flag = 26
	IsDummyscanData                 Flag = 27
	IsRTFeedbackData                Flag = 28
	IsSurfaceCoilCorrectionScanData Flag = 29
	IsPhaseStabilizationReference   Flag = 30
	IsPhaseStabilization            Flag = 31
)

var flagNames = map[Flag]string{
	IsNoiseMeasurement: "noise measurement", IsParallelCalibration: "parallel calibration",
	IsParallelCalibrationAndImaging: "parallel calibration and imaging", IsReverse: "reverse",
	IsNavigationData: "navigation data", IsPhasecorrData: "phase correction data",
	IsHPFeedbackData: "HP feedback data", IsDummyscanData: "dummy scan data", IsRTFeedbackData: "RT feedback data",
	IsSurfaceCoilCorrectionScanData: "surface coil correction scan data",
	IsPhaseStabilizationReference:   "phase stabilization reference", IsPhaseStabilization: "phase stabilization",
}

func (f Flag) String() string {
	if n, ok := flagNames[f]; ok {
		return n
	}
	return fmt.Sprintf("flag %d", uint8(f))
}

// EncodingCounters is ISMRMRD_EncodingCounters: the loop counters of one
// acquisition (34 bytes).
type EncodingCounters struct {
	KSpaceEncodeStep1 uint16 // phase encoding line
	KSpaceEncodeStep2 uint16 // partition (3D)
	Average           uint16
	Slice             uint16
	Contrast          uint16 // echo
	Phase             uint16 // cardiac phase
	Repetition        uint16
	Set               uint16
	Segment           uint16
	User              [8]uint16
}

// AcquisitionHeader is ISMRMRD_AcquisitionHeader of ismrmrd.h: 340 bytes,
// little endian, packed to 2-byte alignment (which leaves no padding: the
// fields follow one another at the offsets ismrmrd.h asserts, version at
// 0, flags at 2, number_of_samples at 34, channel_mask at 40, position at
// 182, idx at 242, user_float at 308). encoding/binary reads and writes it
// field by field in that order.
type AcquisitionHeader struct {
	Version              uint16
	Flags                uint64
	MeasurementUID       uint32
	ScanCounter          uint32
	AcquisitionTimeStamp uint32
	PhysiologyTimeStamp  [3]uint32
	NumberOfSamples      uint16
	AvailableChannels    uint16
	ActiveChannels       uint16
	ChannelMask          [16]uint64
	DiscardPre           uint16
	DiscardPost          uint16
	CenterSample         uint16
	EncodingSpaceRef     uint16
	TrajectoryDimensions uint16
	SampleTimeUs         float32
	Position             [3]float32 // centre of the slice or slab, mm, patient coordinates (LPS)
	ReadDir              [3]float32
	PhaseDir             [3]float32
	SliceDir             [3]float32
	PatientTablePosition [3]float32
	Idx                  EncodingCounters
	UserInt              [8]int32
	UserFloat            [8]float32
}

// AcquisitionHeaderSize is the size of the binary AcquisitionHeader.
const AcquisitionHeaderSize = 340

// Has reports whether flag f is set.
func (h *AcquisitionHeader) Has(f Flag) bool { return f >= 1 && f <= 64 && h.Flags&(1<<(f-1)) != 0 }

// Set sets flag f.
func (h *AcquisitionHeader) Set(f Flag) {
	if f >= 1 && f <= 64 {
		h.Flags |= 1 << (f - 1)
	}
}

// ParseAcquisitionHeader decodes the 340-byte binary header (the MRD
// streaming protocol's layout, and the one ISMRMRD's HDF5 files describe
// member by member).
func ParseAcquisitionHeader(b []byte) (AcquisitionHeader, error) {
	var h AcquisitionHeader
	if len(b) < AcquisitionHeaderSize {
		return h, fmt.Errorf("acquisition header of %d bytes, want %d", len(b), AcquisitionHeaderSize)
	}
	err := binary.Read(bytes.NewReader(b[:AcquisitionHeaderSize]), binary.LittleEndian, &h)
	return h, err
}

// MarshalBinary encodes h in the 340-byte binary layout.
func (h *AcquisitionHeader) MarshalBinary() ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(AcquisitionHeaderSize)
	err := binary.Write(&buf, binary.LittleEndian, h)
	return buf.Bytes(), err
}

// field is one member of the binary layout, by its name in ismrmrd.h (and
// in the HDF5 compound ISMRMRD's dataset code writes), for copying a header
// member by member from a compound whose layout may differ.
type field struct {
	name   string
	off    int
	size   int  // bytes of one value
	count  int  // values
	float  bool // IEEE float rather than integer
	signed bool
}

// headerFields lists the binary layout's fields at their offsets (the
// static_asserts of ismrmrd.h); idx's members are named "idx.<member>".
var headerFields = func() []field {
	var out []field
	off := 0
	add := func(name string, size, count int, float, signed bool) {
		out = append(out, field{name, off, size, count, float, signed})
		off += size * count
	}
	add("version", 2, 1, false, false)
	add("flags", 8, 1, false, false)
	add("measurement_uid", 4, 1, false, false)
	add("scan_counter", 4, 1, false, false)
	add("acquisition_time_stamp", 4, 1, false, false)
	add("physiology_time_stamp", 4, 3, false, false)
	add("number_of_samples", 2, 1, false, false)
	add("available_channels", 2, 1, false, false)
	add("active_channels", 2, 1, false, false)
	add("channel_mask", 8, 16, false, false)
	add("discard_pre", 2, 1, false, false)
	add("discard_post", 2, 1, false, false)
	add("center_sample", 2, 1, false, false)
	add("encoding_space_ref", 2, 1, false, false)
	add("trajectory_dimensions", 2, 1, false, false)
	add("sample_time_us", 4, 1, true, false)
	for _, n := range []string{"position", "read_dir", "phase_dir", "slice_dir", "patient_table_position"} {
		add(n, 4, 3, true, false)
	}
	for _, n := range []string{"kspace_encode_step_1", "kspace_encode_step_2", "average", "slice", "contrast", "phase", "repetition", "set", "segment"} {
		add("idx."+n, 2, 1, false, false)
	}
	add("idx.user", 2, 8, false, false)
	add("user_int", 4, 8, false, true)
	add("user_float", 4, 8, true, false)
	if off != AcquisitionHeaderSize {
		panic(fmt.Sprintf("mrd: acquisition header layout is %d bytes", off))
	}
	return out
}()
