package stream

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/tweedie-recon/tweedie/rawdata/mrd"
)

func testAcquisition(samples, channels, trajDims int) *mrd.Acquisition {
	a := &mrd.Acquisition{}
	a.Head.Version = 1
	a.Head.NumberOfSamples = uint16(samples)
	a.Head.ActiveChannels = uint16(channels)
	a.Head.AvailableChannels = uint16(channels)
	a.Head.TrajectoryDimensions = uint16(trajDims)
	a.Head.Idx.KSpaceEncodeStep1 = 7
	a.Head.Position = [3]float32{1, -2, 3.5}
	a.Head.Set(mrd.IsParallelCalibration)
	a.Head.UserInt[7] = -5
	for i := 0; i < samples*trajDims; i++ {
		a.Traj = append(a.Traj, float32(i)*0.25)
	}
	for i := 0; i < samples*channels; i++ {
		a.Data = append(a.Data, complex(float32(i), -float32(i)/3))
	}
	return a
}

// stream encodes a session's worth of every message type.
func testStream(t *testing.T) ([]byte, []*Message) {
	t.Helper()
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	acq := testAcquisition(16, 3, 2)
	im, err := NewComplexImage(4, 3, 2, 1, []complex64{1, 2i, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 + 1i, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24})
	if err != nil {
		t.Fatal(err)
	}
	im.Head.Slice = 3
	im.Head.Position = [3]float32{0, 1, 2}
	im.Head.UserFloat[2] = 1.5
	im.Attributes = "<ismrmrdMeta/>"
	wf := &Waveform{Head: WaveformHeader{Version: 1, Flags: 1 << 40, MeasurementUID: 9, ScanCounter: 2, TimeStamp: 77,
		NumberOfSamples: 5, Channels: 2, SampleTimeUs: 2.5, WaveformID: 3}, Data: []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 0xffffffff}}
	for _, err := range []error{
		e.WriteConfigFile("l1-wavelet"),
		e.WriteConfigText("<config/>"),
		e.WriteHeader("<ismrmrdHeader/>"),
		e.WriteText("hello"),
		e.WriteAcquisition(acq),
		e.WriteImage(im),
		e.WriteWaveform(wf),
		e.WriteClose(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	imWant := *im
	imWant.Head.AttributeStringLen = uint32(len(im.Attributes))
	want := []*Message{
		{ID: IDConfigFile, Text: "l1-wavelet"},
		{ID: IDConfigText, Text: "<config/>"},
		{ID: IDHeader, Text: "<ismrmrdHeader/>"},
		{ID: IDText, Text: "hello"},
		{ID: IDAcquisition, Acquisition: acq},
		{ID: IDImage, Image: &imWant},
		{ID: IDWaveform, Waveform: wf},
		{ID: IDClose},
	}
	return buf.Bytes(), want
}

// TestRoundTrip: every message type written by the Encoder reads back
// equal, and the stream ends with io.EOF after CLOSE.
func TestRoundTrip(t *testing.T) {
	b, want := testStream(t)
	d := NewDecoder(bytes.NewReader(b), Limits{})
	for i, w := range want {
		m, err := d.Next()
		if err != nil {
			t.Fatalf("message %d (%v): %v", i, w.ID, err)
		}
		if !reflect.DeepEqual(m, w) {
			t.Errorf("message %d: got %+v, want %+v", i, m, w)
		}
	}
	if _, err := d.Next(); err != io.EOF {
		t.Errorf("after CLOSE: %v, want io.EOF", err)
	}
}

// TestLayout: the binary sizes are ismrmrd.h's, the fields at its offsets,
// and a text is written as connection.py writes it (length with the NUL).
func TestLayout(t *testing.T) {
	if n := binary.Size(ImageHeader{}); n != ImageHeaderSize {
		t.Fatalf("ImageHeader is %d bytes, want %d", n, ImageHeaderSize)
	}
	var buf bytes.Buffer
	h := ImageHeader{DataType: Float, MatrixSize: [3]uint16{0x0102, 3, 4}, ImageSeriesIndex: 0xabcd, AttributeStringLen: 0x11223344}
	if err := binary.Write(&buf, binary.LittleEndian, &h); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// offsets: data_type 2, matrix_size 16, image_series_index 128, attribute_string_len 194
	if b[2] != 5 || b[16] != 2 || b[17] != 1 || b[128] != 0xcd || b[194] != 0x44 || b[197] != 0x11 {
		t.Errorf("image header bytes % x", b)
	}
	wb := (&WaveformHeader{Flags: 0x0807060504030201, WaveformID: 0x0a0b}).appendBinary(nil)
	if len(wb) != WaveformHeaderSize || wb[8] != 1 || wb[15] != 8 || wb[36] != 0x0b {
		t.Errorf("waveform header bytes % x", wb)
	}
	buf.Reset()
	if err := NewEncoder(&buf).WriteText("ab"); err != nil {
		t.Fatal(err)
	}
	if got := buf.Bytes(); !bytes.Equal(got, []byte{5, 0, 3, 0, 0, 0, 'a', 'b', 0}) {
		t.Errorf("text message % x", got)
	}
	buf.Reset()
	if err := NewEncoder(&buf).WriteConfigFile("dds"); err != nil {
		t.Fatal(err)
	}
	if got := buf.Bytes(); len(got) != 2+ConfigFileSize || got[0] != 1 || string(got[2:5]) != "dds" || got[5] != 0 {
		t.Errorf("config file message of %d bytes % x…", len(got), got[:8])
	}
}

// TestTruncated: a stream cut anywhere inside a message is ErrTruncated,
// never a panic; cut between messages it is io.EOF.
func TestTruncated(t *testing.T) {
	b, want := testStream(t)
	// message boundaries
	bound := map[int]bool{0: true}
	d := NewDecoder(bytes.NewReader(b), Limits{})
	r := bytes.NewReader(b)
	d = NewDecoder(r, Limits{})
	for range want {
		if _, err := d.Next(); err != nil {
			t.Fatal(err)
		}
		bound[len(b)-r.Len()] = true
	}
	for cut := 0; cut < len(b); cut++ {
		d := NewDecoder(bytes.NewReader(b[:cut]), Limits{})
		var err error
		for err == nil {
			_, err = d.Next()
		}
		if bound[cut] {
			if err != io.EOF {
				t.Fatalf("cut at message boundary %d: %v", cut, err)
			}
		} else if !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d: %v, want ErrTruncated", cut, err)
		}
	}
}

// TestDecodeErrors: unknown ids, lengths above the limits and unknown
// image types are refused before anything is allocated, by name.
func TestDecodeErrors(t *testing.T) {
	le := binary.LittleEndian
	msg := func(id ID, body ...[]byte) []byte {
		b := le.AppendUint16(nil, uint16(id))
		for _, p := range body {
			b = append(b, p...)
		}
		return b
	}
	acqHead := func(samples, channels, traj int) []byte {
		a := testAcquisition(0, 0, 0)
		a.Head.NumberOfSamples, a.Head.ActiveChannels, a.Head.TrajectoryDimensions = uint16(samples), uint16(channels), uint16(traj)
		hb, _ := a.Head.MarshalBinary()
		return hb
	}
	imgHead := func(dt DataType, x, y, z, c uint16) []byte {
		var buf bytes.Buffer
		binary.Write(&buf, binary.LittleEndian, &ImageHeader{DataType: dt, MatrixSize: [3]uint16{x, y, z}, Channels: c})
		return buf.Bytes()
	}
	cases := []struct {
		name  string
		in    []byte
		lim   Limits
		err   error
		words string
	}{
		{"unknown id", msg(1009), Limits{}, ErrUnknownID, "unknown MRD message id 1009"},
		{"garbage", []byte("GET / HTTP/1.1\r\n\r\n"), Limits{}, ErrUnknownID, "unknown MRD message id 17735"},
		{"oversized header", msg(IDHeader, le.AppendUint32(nil, 0xffffffff)), Limits{}, ErrOversized, "XML header of 4294967295 bytes > limit 1048576"},
		{"oversized header, own limit", msg(IDHeader, le.AppendUint32(nil, 101)), Limits{HeaderBytes: 100}, ErrOversized, "XML header of 101 bytes > limit 100"},
		{"oversized text", msg(IDText, le.AppendUint32(nil, 2<<20)), Limits{}, ErrOversized, "text of 2097152 bytes > limit 1048576"},
		{"oversized config text", msg(IDConfigText, le.AppendUint32(nil, 2<<20)), Limits{}, ErrOversized, "config text of 2097152 bytes"},
		{"oversized acquisition", msg(IDAcquisition, acqHead(65535, 1024, 0)), Limits{}, ErrOversized, "65535 samples × 1024 channels = 67107840 samples > limit 4194304"},
		{"oversized trajectory", msg(IDAcquisition, acqHead(65535, 1, 65535)), Limits{}, ErrOversized, "trajectory of 65535 samples × 65535 dimensions"},
		{"oversized attributes", msg(IDImage, imgHead(Float, 1, 1, 1, 1), le.AppendUint64(nil, 1<<63)), Limits{}, ErrOversized, "attribute string of 9223372036854775808 bytes > limit 1048576"},
		{"oversized image", msg(IDImage, imgHead(CxDouble, 65535, 65535, 65535, 65535), le.AppendUint64(nil, 0)), Limits{}, ErrOversized, "complex double) of"},
		{"unknown data type", msg(IDImage, imgHead(9, 1, 1, 1, 1), le.AppendUint64(nil, 0)), Limits{}, ErrMalformed, "unknown data type 9"},
		{"oversized waveform", msg(IDWaveform, (&WaveformHeader{NumberOfSamples: 65535, Channels: 65535}).appendBinary(nil)), Limits{}, ErrOversized, "65535 samples × 65535 channels"},
		{"truncated acquisition", msg(IDAcquisition, acqHead(128, 4, 0), make([]byte, 100)), Limits{}, ErrTruncated, "samples of ISMRMRD_ACQUISITION (1008)"},
		{"truncated id", []byte{0xe8}, Limits{}, ErrTruncated, "message id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewDecoder(bytes.NewReader(c.in), c.lim).Next()
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.words) {
				t.Fatalf("got %v, want %v with %q", err, c.err, c.words)
			}
		})
	}
}

// TestImageHelpers: float and complex images give their magnitudes back.
func TestImageHelpers(t *testing.T) {
	im, err := NewFloatImage(2, 2, 1, 1, []float32{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := im.Float32s(); err != nil || !reflect.DeepEqual(v, []float32{1, 2, 3, 4}) {
		t.Errorf("float image: %v %v", v, err)
	}
	im, err = NewComplexImage(2, 1, 1, 1, []complex64{3 + 4i, -1})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := im.Float32s(); err != nil || !reflect.DeepEqual(v, []float32{5, 1}) {
		t.Errorf("complex image: %v %v", v, err)
	}
	if _, err := NewFloatImage(2, 2, 1, 1, []float32{1}); err == nil {
		t.Error("a float image of the wrong size was made")
	}
	if _, err := NewFloatImage(0, 2, 1, 1, nil); err == nil {
		t.Error("an empty float image was made")
	}
	if err := NewEncoder(io.Discard).WriteConfigFile(strings.Repeat("x", 1024)); err == nil {
		t.Error("a 1024-byte config name was written")
	}
}

// FuzzDecoder: no input makes the Decoder or a Session on it panic, loop
// or allocate beyond its limits (small ones here); whatever the Decoder
// reads, the Encoder writes to bytes that read back to messages that
// encode to the same bytes again (bytes, not values: NaNs).
func FuzzDecoder(f *testing.F) {
	b, _ := testStream(&testing.T{})
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte{0xe8, 0x03})
	f.Add([]byte{3, 0, 0xff, 0xff, 0xff, 0xff})
	lim := Limits{HeaderBytes: 4096, TextBytes: 4096, AttributeBytes: 4096, AcquisitionSamples: 4096, ImageBytes: 1 << 16, WaveformSamples: 4096}
	f.Fuzz(func(t *testing.T, in []byte) {
		sess := &Session{Conn: struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(in), io.Discard}, Handler: fuzzHandler{}, Limits: lim, MaxAcquisitions: 100, MaxBytes: 1 << 20}
		if sum, err := sess.Run(context.Background()); err == nil && !sum.ServerClosed {
			t.Fatalf("a session without error that did not close: %+v", sum)
		}
		msgs := decodeAll(NewDecoder(bytes.NewReader(in), lim))
		once := encodeAll(t, msgs)
		again := decodeAll(NewDecoder(bytes.NewReader(once), Limits{}))
		if len(again) != len(msgs) {
			t.Fatalf("%d messages, then %d", len(msgs), len(again))
		}
		if twice := encodeAll(t, again); !bytes.Equal(once, twice) {
			t.Fatalf("re-encoding changed the bytes")
		}
	})
}

func decodeAll(d *Decoder) []*Message {
	var msgs []*Message
	for i := 0; i < 1000; i++ {
		m, err := d.Next()
		if err != nil {
			break
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func encodeAll(t *testing.T, msgs []*Message) []byte {
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	for _, m := range msgs {
		var err error
		switch m.ID {
		case IDConfigFile:
			err = e.WriteConfigFile(m.Text)
		case IDConfigText:
			err = e.WriteConfigText(m.Text)
		case IDHeader:
			err = e.WriteHeader(m.Text)
		case IDText:
			err = e.WriteText(m.Text)
		case IDClose:
			err = e.WriteClose()
		case IDAcquisition:
			err = e.WriteAcquisition(m.Acquisition)
		case IDImage:
			err = e.WriteImage(m.Image)
		case IDWaveform:
			err = e.WriteWaveform(m.Waveform)
		}
		if err != nil {
			t.Fatalf("re-encoding %v: %v", m.ID, err)
		}
	}
	return buf.Bytes()
}

// fuzzHandler takes every config but "refuse" and answers one small image.
type fuzzHandler struct{}

func (fuzzHandler) Configure(_ context.Context, c Config) error {
	if c.Name == "refuse" {
		return errors.New("refused")
	}
	return nil
}

func (fuzzHandler) Reconstruct(_ context.Context, req *Request, send func(*Image) error) error {
	im, err := NewFloatImage(2, 1, 1, 1, []float32{float32(len(req.Acquisitions)), float32(req.Waveforms)})
	if err != nil {
		return err
	}
	return send(im)
}
