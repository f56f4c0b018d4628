package stream

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DataType is ISMRMRD_DataTypes: the pixel type of an image.
type DataType uint16

// The data types of ismrmrd.h.
const (
	UShort    DataType = 1
	Short     DataType = 2
	UInt      DataType = 3
	Int       DataType = 4
	Float     DataType = 5
	Double    DataType = 6
	CxFloat   DataType = 7
	CxDouble  DataType = 8
	lastDType          = CxDouble
)

var dtypeSizes = [...]int{0, 2, 2, 4, 4, 4, 8, 8, 16}
var dtypeNames = [...]string{"", "ushort", "short", "uint", "int", "float", "double", "complex float", "complex double"}

// Size is the bytes of one pixel, 0 for a type the protocol does not define.
func (t DataType) Size() int {
	if t == 0 || t > lastDType {
		return 0
	}
	return dtypeSizes[t]
}

func (t DataType) String() string {
	if t == 0 || t > lastDType {
		return fmt.Sprintf("data type %d", uint16(t))
	}
	return dtypeNames[t]
}

// ImageType is ISMRMRD_ImageTypes.
type ImageType uint16

// The image types of ismrmrd.h.
const (
	Magnitude ImageType = 1
	Phase     ImageType = 2
	Real      ImageType = 3
	Imag      ImageType = 4
	Complex   ImageType = 5
)

// ImageHeader is ISMRMRD_ImageHeader of ismrmrd.h: 198 bytes, little
// endian, packed to 2-byte alignment (no padding: every field starts at an
// even offset, and the 8-byte flags at offset 4). encoding/binary reads and
// writes it field by field in this order.
type ImageHeader struct {
	Version              uint16
	DataType             DataType
	Flags                uint64
	MeasurementUID       uint32
	MatrixSize           [3]uint16 // x (fastest in the data), y, z
	FieldOfView          [3]float32
	Channels             uint16
	Position             [3]float32
	ReadDir              [3]float32
	PhaseDir             [3]float32
	SliceDir             [3]float32
	PatientTablePosition [3]float32
	Average              uint16
	Slice                uint16
	Contrast             uint16
	Phase                uint16
	Repetition           uint16
	Set                  uint16
	AcquisitionTimeStamp uint32
	PhysiologyTimeStamp  [3]uint32
	ImageType            ImageType
	ImageIndex           uint16
	ImageSeriesIndex     uint16
	UserInt              [8]int32
	UserFloat            [8]float32
	AttributeStringLen   uint32
}

// ImageHeaderSize is the size of the binary ImageHeader.
const ImageHeaderSize = 198

// Image is one MRD image: its header, its attribute string (ismrmrdMeta
// XML) and its pixels as they travel, little endian, x fastest, then y, z
// and channel.
type Image struct {
	Head       ImageHeader
	Attributes string
	Data       []byte
}

// DefaultAttributes is the attribute string the Encoder sends with an
// image that has none: ismrmrd-python parses the attributes of every image
// it receives as XML, and an empty string is no XML document.
const DefaultAttributes = `<?xml version="1.0"?><ismrmrdMeta><meta><name>DataRole</name><value>Image</value></meta></ismrmrdMeta>`

// NewFloatImage makes a magnitude image of float32 pixels (nx × ny × nz ×
// channels, x fastest), the type python-ismrmrd-server's examples and
// FIRE accept for display.
func NewFloatImage(nx, ny, nz, channels int, pix []float32) (*Image, error) {
	if err := checkDims(nx, ny, nz, channels, len(pix)); err != nil {
		return nil, err
	}
	im := &Image{Data: make([]byte, 4*len(pix))}
	for i, v := range pix {
		binary.LittleEndian.PutUint32(im.Data[4*i:], math.Float32bits(v))
	}
	im.setDims(Float, Magnitude, nx, ny, nz, channels)
	return im, nil
}

// NewComplexImage makes a complex image of complex64 pixels.
func NewComplexImage(nx, ny, nz, channels int, pix []complex64) (*Image, error) {
	if err := checkDims(nx, ny, nz, channels, len(pix)); err != nil {
		return nil, err
	}
	im := &Image{Data: make([]byte, 8*len(pix))}
	for i, v := range pix {
		binary.LittleEndian.PutUint32(im.Data[8*i:], math.Float32bits(real(v)))
		binary.LittleEndian.PutUint32(im.Data[8*i+4:], math.Float32bits(imag(v)))
	}
	im.setDims(CxFloat, Complex, nx, ny, nz, channels)
	return im, nil
}

func checkDims(nx, ny, nz, channels, n int) error {
	for _, v := range []int{nx, ny, nz, channels} {
		if v < 1 || v > math.MaxUint16 {
			return fmt.Errorf("image of %d × %d × %d × %d channels: each must be 1 to 65535", nx, ny, nz, channels)
		}
	}
	if nx*ny*nz*channels != n {
		return fmt.Errorf("image of %d × %d × %d × %d channels given %d pixels", nx, ny, nz, channels, n)
	}
	return nil
}

func (im *Image) setDims(t DataType, it ImageType, nx, ny, nz, channels int) {
	im.Head.Version = 1
	im.Head.DataType = t
	im.Head.ImageType = it
	im.Head.MatrixSize = [3]uint16{uint16(nx), uint16(ny), uint16(nz)}
	im.Head.Channels = uint16(channels)
}

// Pixels is the number of pixels the header describes.
func (im *Image) Pixels() int {
	h := &im.Head
	return int(h.MatrixSize[0]) * int(h.MatrixSize[1]) * int(h.MatrixSize[2]) * int(h.Channels)
}

// Float32s returns the pixels of a float image, or the magnitudes of a
// complex float one.
func (im *Image) Float32s() ([]float32, error) {
	n := im.Pixels()
	if n*im.Head.DataType.Size() != len(im.Data) {
		return nil, fmt.Errorf("image of %d pixels of %v has %d bytes", n, im.Head.DataType, len(im.Data))
	}
	out := make([]float32, n)
	switch im.Head.DataType {
	case Float:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(im.Data[4*i:]))
		}
	case CxFloat:
		for i := range out {
			re := math.Float32frombits(binary.LittleEndian.Uint32(im.Data[8*i:]))
			ig := math.Float32frombits(binary.LittleEndian.Uint32(im.Data[8*i+4:]))
			out[i] = float32(math.Hypot(float64(re), float64(ig)))
		}
	default:
		return nil, fmt.Errorf("image of %v, not float or complex float", im.Head.DataType)
	}
	return out, nil
}

// WaveformHeader is ISMRMRD_WaveformHeader of waveform.h. Unlike the
// acquisition and image headers it is naturally aligned: 40 bytes on the
// wire, the flags at offset 8 (6 bytes of padding after the version) and 2
// bytes of padding at the end (mrd_messages.md; ismrmrd-python's
// WaveformHeader, _pack_ = 8).
type WaveformHeader struct {
	Version         uint16
	Flags           uint64
	MeasurementUID  uint32
	ScanCounter     uint32
	TimeStamp       uint32
	NumberOfSamples uint16
	Channels        uint16
	SampleTimeUs    float32
	WaveformID      uint16
}

// WaveformHeaderSize is the size of the binary WaveformHeader.
const WaveformHeaderSize = 40

// Waveform is one MRD waveform (physiological signals, gradients): its
// header and number_of_samples × channels values, sample fastest.
type Waveform struct {
	Head WaveformHeader
	Data []uint32
}

func parseWaveformHeader(b []byte) WaveformHeader {
	le := binary.LittleEndian
	return WaveformHeader{
		Version:         le.Uint16(b[0:]),
		Flags:           le.Uint64(b[8:]),
		MeasurementUID:  le.Uint32(b[16:]),
		ScanCounter:     le.Uint32(b[20:]),
		TimeStamp:       le.Uint32(b[24:]),
		NumberOfSamples: le.Uint16(b[28:]),
		Channels:        le.Uint16(b[30:]),
		SampleTimeUs:    math.Float32frombits(le.Uint32(b[32:])),
		WaveformID:      le.Uint16(b[36:]),
	}
}

func (h *WaveformHeader) appendBinary(b []byte) []byte {
	var w [WaveformHeaderSize]byte
	le := binary.LittleEndian
	le.PutUint16(w[0:], h.Version)
	le.PutUint64(w[8:], h.Flags)
	le.PutUint32(w[16:], h.MeasurementUID)
	le.PutUint32(w[20:], h.ScanCounter)
	le.PutUint32(w[24:], h.TimeStamp)
	le.PutUint16(w[28:], h.NumberOfSamples)
	le.PutUint16(w[30:], h.Channels)
	le.PutUint32(w[32:], math.Float32bits(h.SampleTimeUs))
	le.PutUint16(w[36:], h.WaveformID)
	return append(b, w[:]...)
}
