package part10

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Tag is a data element tag, PS3.5 §7.1: the group number in the high 16
// bits, the element number in the low 16. It is the one tag type of the
// data-set code (part10, rawdata, gateway, derived).
type Tag uint32

// NewTag builds a tag from its group and element numbers.
func NewTag(group, element uint16) Tag { return Tag(group)<<16 | Tag(element) }

// Group is the tag's group number.
func (t Tag) Group() uint16 { return uint16(t >> 16) }

// Element is the tag's element number.
func (t Tag) Element() uint16 { return uint16(t) }

// String writes the tag the way PS3.6 does: "(0008,0060)".
func (t Tag) String() string { return fmtTag(t) }

// Private reports whether the tag is a private data element's (odd group,
// PS3.5 §7.8).
func (t Tag) Private() bool { return t.Group()&1 == 1 }

// Tags that the gateway, the raw-data codec and this package need (PS3.6).
const (
	TagSpecificCharacterSet Tag = 0x00080005 // (0008,0005), PS3.3 C.12.1.1.2
	TagSOPClassUID          Tag = 0x00080016
	TagSOPInstanceUID       Tag = 0x00080018
	TagModality             Tag = 0x00080060
	TagPatientName          Tag = 0x00100010
	TagPatientID            Tag = 0x00100020
	TagStudyInstanceUID     Tag = 0x0020000D
	TagSeriesInstanceUID    Tag = 0x0020000E
	TagPixelData            Tag = 0x7FE00010 // PS3.3 C.7.6.3
)

// UndefinedLength is the value length of a sequence or item whose end is
// marked by a delimitation item instead (PS3.5 §7.1.1, §7.5).
const UndefinedLength uint32 = 0xFFFFFFFF

// LongVR reports whether an element with this VR has two reserved bytes and
// a 32-bit value length in an explicit VR transfer syntax (PS3.5 §7.1.2,
// Table 7.1-1) rather than a 16-bit length (Table 7.1-2). It is the one
// list of these VRs in tweedie.
func LongVR(v string) bool {
	p, ok := parseVR(v)
	return ok && p.long()
}

// AppendHeader appends the header of a data element in Explicit VR Little
// Endian (PS3.5 §7.1.2): tag, VR, and a 16-bit length, or two reserved
// bytes and a 32-bit length for the VRs of LongVR.
func AppendHeader(b []byte, t Tag, v string, length uint32) []byte {
	b = binary.LittleEndian.AppendUint16(b, t.Group())
	b = binary.LittleEndian.AppendUint16(b, t.Element())
	b = append(b, v[0], v[1])
	if LongVR(v) {
		b = append(b, 0, 0)
		return binary.LittleEndian.AppendUint32(b, length)
	}
	return binary.LittleEndian.AppendUint16(b, uint16(length))
}

// Element is the header of a top-level data element as Reader.Next reads
// it (PS3.5 §7.1).
type Element struct {
	Tag Tag
	// VR is the element's Value Representation (PS3.5 §6.2): as written in
	// an explicit VR transfer syntax; in Implicit VR Little Endian from the
	// data dictionary (PS3.5 §7.1.3; private elements but their creators
	// are UN).
	VR string
	// Length is the value length in bytes, or UndefinedLength.
	Length uint32
	// Offset is where the element's header starts in the data set (after
	// inflation or conversion, see NewReader).
	Offset int64
}

// Sequence reports whether the element holds items instead of a value: VR
// SQ, or any element of undefined length (PS3.5 §7.5; an undefined-length
// UN holds Implicit VR items, §6.2.2; undefined-length Pixel Data holds
// fragments, Annex A.4).
func (e Element) Sequence() bool { return e.VR == "SQ" || e.Length == UndefinedLength }

// Reader reads the top-level data elements of a data set, one at a time and
// bounded: a value is allocated only by Value, and only up to the bound the
// caller gives; anything else is streamed (Read) or skipped without being
// held. Sequences are skipped as a whole: defined lengths at once,
// undefined lengths walked through their items and delimiters, nested at
// most MaxDepth deep. It is the one element reader of tweedie: the gateway's
// header walk over network bytes, the raw-data codec and DataSetInfo read
// through it.
type Reader struct {
	t        *transcoder // decoder; walks sequences into a discarding writer
	b        *buffers
	in       syntax
	pixelRep int
	cur      header
	curVR    vr
	left     int64 // bytes of the current value not yet read or skipped
	seq      bool  // the current element is a sequence not yet skipped
	stop     func()
}

// NewReader reads the data set r (without file meta information) encoded in
// transfer syntax ts, any that LookupTransferSyntax knows (the elements
// before the pixel data of an encapsulated syntax are Explicit VR Little
// Endian, PS3.5 Annex A.4). A deflated data set (Annex A.5) is inflated and
// an Explicit VR Big Endian one (Annex A.3) converted to Explicit VR Little
// Endian as it is read, so values are always little endian. Close releases
// the buffers and stops a conversion.
func NewReader(r io.Reader, ts string) (*Reader, error) {
	info, ok := LookupTransferSyntax(ts)
	if !ok {
		return nil, fmt.Errorf("part10: reading a data set: %s", tsName(ts))
	}
	rd := &Reader{in: syntaxOf(info), stop: func() {}}
	switch {
	case info.Deflated:
		fr := getInflater(r)
		r, rd.stop = fr, func() { putInflater(fr) }
	case info.BigEndian:
		src := r
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			pw.CloseWithError(Transcode(pw, src, ts, ExplicitVRLittleEndian))
		}()
		r, rd.stop = pr, func() { pr.CloseWithError(errReaderClosed); <-done }
	}
	if info.BigEndian {
		rd.in = syntax{explicit: true}
	}
	rd.b = getBuffers(r, io.Discard)
	rd.t = &transcoder{d: &decoder{br: rd.b.br}, w: rd.b.bw, out: rd.in, buf: rd.b.buf}
	return rd, nil
}

var errReaderClosed = errors.New("part10: element reader closed")

// Close releases the reader's buffers; it must not be used afterwards.
func (r *Reader) Close() {
	if r.stop != nil {
		r.stop()
		r.stop = nil
		putBuffers(r.b)
	}
}

// Offset is the number of data-set bytes consumed so far.
func (r *Reader) Offset() int64 { return r.t.d.off }

// Next skips what is left of the current element and reads the next
// element's header. It returns io.EOF, unwrapped, when the data set ends
// between two elements; malformed input gives a *FormatError.
func (r *Reader) Next() (Element, error) {
	if err := r.skip(); err != nil {
		return Element{}, err
	}
	h, err := r.t.d.header(r.in)
	if err != nil {
		return Element{}, err
	}
	if h.tag.Group() == 0xFFFE {
		return Element{}, tagErr(h.off, h.tag, "%s outside a sequence", groupFFFEName(h.tag))
	}
	v := h.vr
	if !r.in.explicit {
		v = implicitVR(h.tag, r.pixelRep)
	}
	if h.tag == tagPixelRep && h.length == 2 {
		// "US or SS" values depend on it (PS3.5 Annex A.1); peeking keeps
		// it whether or not the caller reads the value.
		if b, err := r.t.d.br.Peek(2); err == nil {
			r.pixelRep = int(r.in.u16(b))
		}
	}
	r.cur, r.curVR = h, v
	r.seq = h.length == undefinedLength || v == vrSQ
	r.left = 0
	if h.length != undefinedLength {
		r.left = int64(h.length)
	}
	return Element{Tag: h.tag, VR: v.String(), Length: h.length, Offset: h.off}, nil
}

// Value reads the whole value of the current element, refusing (before
// allocating) a value longer than max bytes or one partly read already.
func (r *Reader) Value(max int) ([]byte, error) {
	h := &r.cur
	switch {
	case r.seq:
		return nil, tagErr(h.off, h.tag, "is a sequence, not a value")
	case r.left != int64(h.length):
		return nil, tagErr(h.off, h.tag, "value already read")
	case int64(h.length) > int64(max):
		return nil, tagErr(h.off, h.tag, "value length %d exceeds the limit of %d bytes", h.length, max)
	}
	val := make([]byte, h.length)
	if err := r.t.d.readFull(val); err != nil {
		return nil, r.t.d.readErr(err, h, "value")
	}
	r.left = 0
	return val, nil
}

// Read streams the value of the current element: io.EOF at its end.
func (r *Reader) Read(p []byte) (int, error) {
	if r.seq {
		return 0, tagErr(r.cur.off, r.cur.tag, "is a sequence, not a value")
	}
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := io.ReadFull(r.t.d.br, p)
	r.t.d.off += int64(n)
	r.left -= int64(n)
	if err != nil {
		return n, r.t.d.readErr(err, &r.cur, "value")
	}
	return n, nil
}

// skip passes over what is left of the current element.
func (r *Reader) skip() error {
	h := r.cur
	if !r.seq {
		n := r.left
		r.left = 0
		return r.t.d.discard(n, &h)
	}
	r.seq = false
	switch {
	case h.length != undefinedLength:
		return r.t.d.discard(int64(h.length), &h)
	case h.tag == tagPixelData:
		return r.skipFragments(h)
	}
	inner := r.in
	if r.in.explicit && r.curVR == vrUN {
		inner = implicitLE // PS3.5 §6.2.2: UN of undefined length
	}
	return r.t.sequence(h, inner, -1, 1, r.pixelRep)
}

// skipFragments passes over encapsulated Pixel Data: items of defined
// length up to the sequence delimitation item (PS3.5 Annex A.4).
func (r *Reader) skipFragments(h header) error {
	for {
		ih, err := r.t.d.header(r.in)
		if err == io.EOF {
			return tagErr(h.off, h.tag, "input ends inside the encapsulated pixel data")
		}
		if err != nil {
			return err
		}
		switch {
		case ih.tag == tagSeqDelim:
			return nil
		case ih.tag != tagItem || ih.length == undefinedLength:
			return tagErr(ih.off, ih.tag, "found where a fragment of the pixel data was expected")
		}
		if err := r.t.d.discard(int64(ih.length), &ih); err != nil {
			return err
		}
	}
}
