package stream

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/tweedie-recon/tweedie/rawdata/mrd"
)

// Encoder writes messages to a stream, one Write call per message.
type Encoder struct {
	w io.Writer
}

// NewEncoder writes to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

func (e *Encoder) send(b []byte) error {
	_, err := e.w.Write(b)
	return err
}

func appendID(b []byte, id ID) []byte { return binary.LittleEndian.AppendUint16(b, uint16(id)) }

// WriteConfigFile sends CONFIG_FILE: the name, NUL-padded to 1024 bytes.
func (e *Encoder) WriteConfigFile(name string) error {
	if len(name) >= ConfigFileSize || bytes.IndexByte([]byte(name), 0) >= 0 {
		return fmt.Errorf("config name of %d bytes: at most %d, without NUL", len(name), ConfigFileSize-1)
	}
	b := appendID(make([]byte, 0, 2+ConfigFileSize), IDConfigFile)
	b = append(b, name...)
	b = append(b, make([]byte, ConfigFileSize-len(name))...)
	return e.send(b)
}

// writeText sends a length-prefixed, NUL-terminated text (connection.py
// counts the NUL in the length).
func (e *Encoder) writeText(id ID, s string) error {
	if uint64(len(s))+1 > math.MaxUint32 {
		return fmt.Errorf("%v of %d bytes does not fit a uint32 length", id, len(s))
	}
	b := appendID(make([]byte, 0, 7+len(s)), id)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)+1))
	b = append(b, s...)
	b = append(b, 0)
	return e.send(b)
}

// WriteConfigText sends CONFIG_TEXT.
func (e *Encoder) WriteConfigText(s string) error { return e.writeText(IDConfigText, s) }

// WriteHeader sends the XML header (METADATA_XML_TEXT).
func (e *Encoder) WriteHeader(xml string) error { return e.writeText(IDHeader, xml) }

// WriteText sends TEXT.
func (e *Encoder) WriteText(s string) error { return e.writeText(IDText, s) }

// WriteClose sends CLOSE.
func (e *Encoder) WriteClose() error { return e.send(appendID(nil, IDClose)) }

// WriteAcquisition sends an acquisition; its trajectory and samples must
// have the lengths its header gives.
func (e *Encoder) WriteAcquisition(a *mrd.Acquisition) error {
	h := &a.Head
	ns, nc, nt := int(h.NumberOfSamples), int(h.ActiveChannels), int(h.TrajectoryDimensions)
	if len(a.Data) != ns*nc || len(a.Traj) != ns*nt {
		return fmt.Errorf("acquisition of %d samples and %d trajectory values, its header says %d samples × %d channels, %d dimensions",
			len(a.Data), len(a.Traj), ns, nc, nt)
	}
	hb, err := h.MarshalBinary()
	if err != nil {
		return err
	}
	b := appendID(make([]byte, 0, 2+len(hb)+4*len(a.Traj)+8*len(a.Data)), IDAcquisition)
	b = append(b, hb...)
	for _, v := range a.Traj {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	for _, v := range a.Data {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(real(v)))
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(imag(v)))
	}
	return e.send(b)
}

// WriteImage sends an image: its header (attribute_string_len set to the
// attributes' length), the uint64 attribute length, the attributes
// (DefaultAttributes when empty) and the pixels, which must be as many as
// the header describes.
func (e *Encoder) WriteImage(im *Image) error {
	size := im.Head.DataType.Size()
	if size == 0 {
		return fmt.Errorf("image of %v", im.Head.DataType)
	}
	if im.Pixels()*size != len(im.Data) {
		return fmt.Errorf("image of %d × %d × %d × %d channels of %v has %d bytes of data",
			im.Head.MatrixSize[0], im.Head.MatrixSize[1], im.Head.MatrixSize[2], im.Head.Channels, im.Head.DataType, len(im.Data))
	}
	attr := im.Attributes
	if attr == "" {
		attr = DefaultAttributes
	}
	if uint64(len(attr)) > math.MaxUint32 {
		return fmt.Errorf("image attributes of %d bytes", len(attr))
	}
	head := im.Head
	head.AttributeStringLen = uint32(len(attr))
	var buf bytes.Buffer
	buf.Grow(2 + ImageHeaderSize + 8 + len(attr) + len(im.Data))
	buf.Write(appendID(nil, IDImage))
	if err := binary.Write(&buf, binary.LittleEndian, &head); err != nil {
		return err
	}
	buf.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(attr))))
	buf.WriteString(attr)
	buf.Write(im.Data)
	return e.send(buf.Bytes())
}

// WriteWaveform sends a waveform.
func (e *Encoder) WriteWaveform(w *Waveform) error {
	if len(w.Data) != int(w.Head.NumberOfSamples)*int(w.Head.Channels) {
		return fmt.Errorf("waveform of %d values, its header says %d samples × %d channels", len(w.Data), w.Head.NumberOfSamples, w.Head.Channels)
	}
	b := appendID(make([]byte, 0, 2+WaveformHeaderSize+4*len(w.Data)), IDWaveform)
	b = w.Head.appendBinary(b)
	for _, v := range w.Data {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return e.send(b)
}
