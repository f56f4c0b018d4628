package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/tweedie-recon/tweedie/rawdata/mrd"
)

// ID is a message identifier (constants.py's MRD_MESSAGE_*).
type ID uint16

// The message identifiers of the MRD streaming protocol.
const (
	IDConfigFile  ID = 1
	IDConfigText  ID = 2
	IDHeader      ID = 3 // MRD_MESSAGE_METADATA_XML_TEXT
	IDClose       ID = 4
	IDText        ID = 5
	IDAcquisition ID = 1008
	IDImage       ID = 1022
	IDWaveform    ID = 1026
)

var idNames = map[ID]string{
	IDConfigFile: "CONFIG_FILE", IDConfigText: "CONFIG_TEXT", IDHeader: "METADATA_XML_TEXT",
	IDClose: "CLOSE", IDText: "TEXT", IDAcquisition: "ISMRMRD_ACQUISITION",
	IDImage: "ISMRMRD_IMAGE", IDWaveform: "ISMRMRD_WAVEFORM",
}

func (id ID) String() string {
	if n, ok := idNames[id]; ok {
		return fmt.Sprintf("%s (%d)", n, uint16(id))
	}
	return fmt.Sprintf("message id %d", uint16(id))
}

// ConfigFileSize is the fixed size of a CONFIG_FILE body: a NUL-terminated
// name of at most 1023 bytes.
const ConfigFileSize = 1024

// Errors of the Decoder; each returned error wraps one of them and says
// more (which message, how many bytes, which limit).
var (
	// ErrUnknownID: a message identifier the protocol does not define.
	ErrUnknownID = errors.New("unknown MRD message id")
	// ErrTruncated: the stream ended inside a message.
	ErrTruncated = errors.New("truncated MRD message")
	// ErrOversized: a length above its limit.
	ErrOversized = errors.New("oversized MRD message")
	// ErrMalformed: a message whose fields contradict each other or the
	// protocol (an unknown image data type).
	ErrMalformed = errors.New("malformed MRD message")
)

// Limits bound what one message may make the Decoder allocate. A zero
// field takes its default (DefaultLimits).
type Limits struct {
	HeaderBytes    int // the XML header (METADATA_XML_TEXT)
	TextBytes      int // CONFIG_TEXT and TEXT
	AttributeBytes int // an image's attribute string
	// AcquisitionSamples bounds number_of_samples × active_channels of one
	// acquisition, and number_of_samples × trajectory_dimensions.
	AcquisitionSamples int
	ImageBytes         int // an image's pixel data
	WaveformSamples    int // number_of_samples × channels of one waveform
}

// DefaultLimits are the limits a zero Limits field takes: 1 MiB of XML
// header, text and image attributes; 2²² complex samples (32 MiB) per
// acquisition — 65535 readout samples of 64 channels fit; 256 MiB of image
// data; 2²⁰ waveform samples.
var DefaultLimits = Limits{
	HeaderBytes:        1 << 20,
	TextBytes:          1 << 20,
	AttributeBytes:     1 << 20,
	AcquisitionSamples: 1 << 22,
	ImageBytes:         256 << 20,
	WaveformSamples:    1 << 20,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&l.HeaderBytes, d.HeaderBytes)
	pick(&l.TextBytes, d.TextBytes)
	pick(&l.AttributeBytes, d.AttributeBytes)
	pick(&l.AcquisitionSamples, d.AcquisitionSamples)
	pick(&l.ImageBytes, d.ImageBytes)
	pick(&l.WaveformSamples, d.WaveformSamples)
	return l
}

// Message is one decoded message: ID says which of the other fields is set.
type Message struct {
	ID ID
	// Text is the config name (CONFIG_FILE), the config text
	// (CONFIG_TEXT), the XML header (HEADER) or the text (TEXT), cut at
	// its first NUL.
	Text        string
	Acquisition *mrd.Acquisition
	Image       *Image
	Waveform    *Waveform
}

// Decoder reads messages from a stream.
type Decoder struct {
	r      io.Reader
	limits Limits
	buf    [8]byte
}

// NewDecoder reads from r with the given limits (zero fields: defaults).
func NewDecoder(r io.Reader, limits Limits) *Decoder {
	return &Decoder{r: r, limits: limits.withDefaults()}
}

// Next reads one message. At the end of the stream between messages it
// returns io.EOF; inside a message, an error wrapping ErrTruncated.
func (d *Decoder) Next() (*Message, error) {
	n, err := io.ReadFull(d.r, d.buf[:2])
	if err != nil {
		if n == 0 && err == io.EOF {
			return nil, io.EOF
		}
		return nil, d.readErr(err, "message id")
	}
	id := ID(binary.LittleEndian.Uint16(d.buf[:2]))
	m := &Message{ID: id}
	switch id {
	case IDConfigFile:
		b, err := d.read(ConfigFileSize, id, "config name")
		if err != nil {
			return nil, err
		}
		if bytes.IndexByte(b, 0) < 0 {
			return nil, fmt.Errorf("%w: %v: the config name is not NUL-terminated within %d bytes", ErrMalformed, id, ConfigFileSize)
		}
		m.Text = cutNUL(b)
	case IDConfigText:
		m.Text, err = d.text(id, "config text", d.limits.TextBytes)
	case IDHeader:
		m.Text, err = d.text(id, "XML header", d.limits.HeaderBytes)
	case IDText:
		m.Text, err = d.text(id, "text", d.limits.TextBytes)
	case IDClose:
	case IDAcquisition:
		m.Acquisition, err = d.acquisition()
	case IDImage:
		m.Image, err = d.image()
	case IDWaveform:
		m.Waveform, err = d.waveform()
	default:
		return nil, fmt.Errorf("%w %d", ErrUnknownID, uint16(id))
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// readErr turns the end of the stream inside a message into ErrTruncated.
func (d *Decoder) readErr(err error, what string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: the stream ends inside the %s", ErrTruncated, what)
	}
	return fmt.Errorf("reading the %s: %w", what, err)
}

// read reads n bytes; n must have been bounded by the caller.
func (d *Decoder) read(n int, id ID, what string) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		return nil, d.readErr(err, fmt.Sprintf("%s of %v", what, id))
	}
	return b, nil
}

func (d *Decoder) uint32(id ID, what string) (uint32, error) {
	if _, err := io.ReadFull(d.r, d.buf[:4]); err != nil {
		return 0, d.readErr(err, fmt.Sprintf("%s of %v", what, id))
	}
	return binary.LittleEndian.Uint32(d.buf[:4]), nil
}

func oversized(id ID, what string, n uint64, limit int) error {
	return fmt.Errorf("%w: %v: %s of %d bytes > limit %d", ErrOversized, id, what, n, limit)
}

// text reads a uint32 length and that many bytes, cut at the first NUL.
func (d *Decoder) text(id ID, what string, limit int) (string, error) {
	n, err := d.uint32(id, what+" length")
	if err != nil {
		return "", err
	}
	if uint64(n) > uint64(limit) {
		return "", oversized(id, what, uint64(n), limit)
	}
	b, err := d.read(int(n), id, what)
	if err != nil {
		return "", err
	}
	return cutNUL(b), nil
}

func cutNUL(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func (d *Decoder) acquisition() (*mrd.Acquisition, error) {
	hb, err := d.read(mrd.AcquisitionHeaderSize, IDAcquisition, "acquisition header")
	if err != nil {
		return nil, err
	}
	h, err := mrd.ParseAcquisitionHeader(hb)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	ns, nc, nt := uint64(h.NumberOfSamples), uint64(h.ActiveChannels), uint64(h.TrajectoryDimensions)
	lim := d.limits.AcquisitionSamples
	if ns*nc > uint64(lim) {
		return nil, fmt.Errorf("%w: %v: %d samples × %d channels = %d samples > limit %d",
			ErrOversized, IDAcquisition, ns, nc, ns*nc, lim)
	}
	if ns*nt > uint64(lim) {
		return nil, fmt.Errorf("%w: %v: trajectory of %d samples × %d dimensions = %d values > limit %d",
			ErrOversized, IDAcquisition, ns, nt, ns*nt, lim)
	}
	a := &mrd.Acquisition{Head: h}
	if nt > 0 {
		b, err := d.read(int(ns*nt)*4, IDAcquisition, "trajectory")
		if err != nil {
			return nil, err
		}
		a.Traj = make([]float32, ns*nt)
		for i := range a.Traj {
			a.Traj[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	b, err := d.read(int(ns*nc)*8, IDAcquisition, "samples")
	if err != nil {
		return nil, err
	}
	a.Data = make([]complex64, ns*nc)
	for i := range a.Data {
		a.Data[i] = complex(math.Float32frombits(binary.LittleEndian.Uint32(b[8*i:])),
			math.Float32frombits(binary.LittleEndian.Uint32(b[8*i+4:])))
	}
	return a, nil
}

func (d *Decoder) image() (*Image, error) {
	hb, err := d.read(ImageHeaderSize, IDImage, "image header")
	if err != nil {
		return nil, err
	}
	im := &Image{}
	if err := binary.Read(bytes.NewReader(hb), binary.LittleEndian, &im.Head); err != nil {
		return nil, fmt.Errorf("%w: image header: %v", ErrMalformed, err)
	}
	if _, err := io.ReadFull(d.r, d.buf[:8]); err != nil {
		return nil, d.readErr(err, fmt.Sprintf("attribute length of %v", IDImage))
	}
	na := binary.LittleEndian.Uint64(d.buf[:8])
	if na > uint64(d.limits.AttributeBytes) {
		return nil, oversized(IDImage, "attribute string", na, d.limits.AttributeBytes)
	}
	ab, err := d.read(int(na), IDImage, "attribute string")
	if err != nil {
		return nil, err
	}
	im.Attributes = cutNUL(ab)
	size := im.Head.DataType.Size()
	if size == 0 {
		return nil, fmt.Errorf("%w: %v: unknown data type %d", ErrMalformed, IDImage, im.Head.DataType)
	}
	h := &im.Head
	n := uint64(h.MatrixSize[0]) * uint64(h.MatrixSize[1]) * uint64(h.MatrixSize[2]) * uint64(h.Channels) * uint64(size)
	if n > uint64(d.limits.ImageBytes) {
		return nil, oversized(IDImage, fmt.Sprintf("data (%d × %d × %d × %d channels of %v)",
			h.MatrixSize[0], h.MatrixSize[1], h.MatrixSize[2], h.Channels, h.DataType), n, d.limits.ImageBytes)
	}
	im.Data, err = d.read(int(n), IDImage, "image data")
	if err != nil {
		return nil, err
	}
	return im, nil
}

func (d *Decoder) waveform() (*Waveform, error) {
	hb, err := d.read(WaveformHeaderSize, IDWaveform, "waveform header")
	if err != nil {
		return nil, err
	}
	w := &Waveform{Head: parseWaveformHeader(hb)}
	n := uint64(w.Head.NumberOfSamples) * uint64(w.Head.Channels)
	if n > uint64(d.limits.WaveformSamples) {
		return nil, fmt.Errorf("%w: %v: %d samples × %d channels = %d samples > limit %d",
			ErrOversized, IDWaveform, w.Head.NumberOfSamples, w.Head.Channels, n, d.limits.WaveformSamples)
	}
	b, err := d.read(int(n)*4, IDWaveform, "waveform data")
	if err != nil {
		return nil, err
	}
	w.Data = make([]uint32, n)
	for i := range w.Data {
		w.Data[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w, nil
}
