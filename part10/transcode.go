package part10

import (
	"bufio"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

const (
	// chunkSize is the size of the buffers values are streamed through; a
	// multiple of 8 so that no swap unit straddles two chunks.
	chunkSize = 64 << 10
	// MaxDepth bounds the nesting of sequences (PS3.5 §7.5) that Transcode
	// and DataSetInfo accept.
	MaxDepth = 64
)

// decoder reads data element headers (PS3.5 §7.1) from a stream and counts
// the bytes it consumed, so that defined lengths can be checked.
type decoder struct {
	br  *bufio.Reader
	off int64
	b   [4]byte
}

func (d *decoder) readFull(p []byte) error {
	n, err := io.ReadFull(d.br, p)
	d.off += int64(n)
	return err
}

// readErr turns an error of the underlying reader into one that names the
// place; running out of input is malformed data, anything else is passed on.
func (d *decoder) readErr(err error, h *header, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if h != nil {
			return tagErr(h.off, h.tag, "input ends inside the %s (at offset %d)", what, d.off)
		}
		return formatErr(d.off, "input ends inside the %s", what)
	}
	var ce flate.CorruptInputError
	if errors.As(err, &ce) {
		return formatErr(d.off, "corrupt deflated data set: %v", err)
	}
	return fmt.Errorf("part10: reading at offset %d: %w", d.off, err)
}

func (d *decoder) discard(n int64, h *header) error {
	for n > 0 {
		c := n
		if c > 1<<30 {
			c = 1 << 30
		}
		m, err := d.br.Discard(int(c))
		d.off += int64(m)
		n -= int64(m)
		if err != nil {
			return d.readErr(err, h, "value")
		}
	}
	return nil
}

// header is a decoded data element header.
type header struct {
	tag    Tag
	vr     vr // 0 in an implicit VR syntax and for the item tags
	length uint32
	off    int64 // offset of the first byte of the header
}

// header reads the next data element header in syntax s (PS3.5 §7.1.2 and
// §7.1.3). Items and delimitation items (group FFFE) have no VR in any
// transfer syntax (PS3.5 §7.5). It returns io.EOF, unwrapped, only when the
// input ends exactly before the header.
func (d *decoder) header(s syntax) (header, error) {
	h := header{off: d.off}
	b := d.b[:]
	if err := d.readFull(b); err != nil {
		if err == io.EOF {
			return h, io.EOF
		}
		return h, d.readErr(err, nil, "tag of a data element")
	}
	h.tag = Tag(s.u16(b))<<16 | Tag(s.u16(b[2:]))
	if !s.explicit || h.tag>>16 == 0xFFFE {
		if err := d.readFull(b); err != nil {
			return h, d.readErr(err, &h, "value length")
		}
		h.length = s.u32(b)
		return h, nil
	}
	if err := d.readFull(b); err != nil {
		return h, d.readErr(err, &h, "VR and value length")
	}
	h.vr = vr(b[0])<<8 | vr(b[1])
	if !h.vr.valid() {
		return h, tagErr(h.off, h.tag, "invalid VR %s", h.vr)
	}
	if !h.vr.long() {
		h.length = uint32(s.u16(b[2:]))
		return h, nil
	}
	// Bytes 2-3 are reserved (PS3.5 Table 7.1-1); the length follows.
	if err := d.readFull(b); err != nil {
		return h, d.readErr(err, &h, "value length")
	}
	h.length = s.u32(b)
	return h, nil
}

// Modes of a data set being copied.
const (
	modeTop        = iota // the data set itself: ends at end of input
	modeUntilDelim        // item of undefined length: ends at (FFFE,E00D)
	modeDefined           // item of defined length: ends at its bound
)

// transcoder copies a data set element by element, re-encoding headers and
// byte-swapping values, with every value streamed through buf.
type transcoder struct {
	d     *decoder
	w     *bufio.Writer
	out   syntax
	buf   []byte
	first [2]byte // first two bytes of the last value copied, before swapping
	hdr   [12]byte
	// replace holds new values for top-level elements (Rewrite).
	replace map[Tag]string
	// keepFragments copies encapsulated Pixel Data and what follows it as
	// it is (Rewrite of an encapsulated data set).
	keepFragments bool
}

// Transcode copies a data set (without the file meta information) from src,
// encoded in transfer syntax from, to dst, encoded in transfer syntax to,
// streaming: values are copied through a 64 KiB buffer whatever their size.
//
// If from == to (any transfer syntax, encapsulated ones included) it is a
// plain io.Copy. Otherwise both must be native (see CanTranscode), else the
// error wraps ErrCannotTranscode. Malformed input gives a *FormatError
// naming the element and its offset in the (inflated) input data set; dst
// may then hold part of the output. Errors of src and dst are passed on,
// wrapped.
//
// The conversion follows PS3.5:
//   - Explicit VR elements (§7.1.2) carry their VR; OB, OD, OF, OL, OV, OW,
//     SQ, UC, UN, UR, UT, SV and UV have a 32-bit length, the others 16-bit.
//     Implicit VR elements (§7.1.3, Annex A.1) get their VR from the data
//     dictionary; private creators are LO, unknown elements UN, "US or SS"
//     follows Pixel Representation (0028,0103) and "OB or OW" is OW.
//     A value longer than 65534 bytes whose VR has a 16-bit length is
//     written as UN in an explicit VR syntax (PS3.5 §6.2.2).
//   - Sequences and items (§7.5) are always written with undefined length
//     and delimitation items; input of defined length is checked against
//     the enclosing length. An element of undefined length that is not Pixel
//     Data is read as a sequence; inside UN of undefined length the content
//     is Implicit VR Little Endian (§6.2.2), and so is that of a UN element
//     of defined length that the dictionary knows as a sequence, which is
//     written as SQ. An explicit VR element that is not SQ or UN but that
//     the dictionary has as SQ cannot be written in Implicit VR (a reader
//     would take it for a sequence): that is an error.
//   - Converting between Little and Big Endian (§7.3, Annex A.3) swaps each
//     value by its VR: AT, OW, US, SS in 2-byte units; OL, UL, SL, FL, OF in
//     4; FD, OD, SV, UV, OV in 8. Text, OB and UN are not swapped.
//   - Deflated Explicit VR Little Endian (Annex A.5) is a raw DEFLATE
//     stream (RFC 1951, no zlib header) of an Explicit VR Little Endian
//     data set.
//   - Group Length (gggg,0000) elements (§7.2) and the retired Length to End
//     (0008,0001) are dropped, since lengths change in the conversion.
//   - Encapsulated Pixel Data (undefined length, Annex A.4) is an error.
//
// Nesting is bounded by MaxDepth.
func Transcode(dst io.Writer, src io.Reader, from, to string) error {
	if from == to {
		_, err := io.Copy(dst, src)
		return err
	}
	fin, ok1 := LookupTransferSyntax(from)
	fout, ok2 := LookupTransferSyntax(to)
	if !ok1 || !ok2 || !IsUncompressed(from) || !IsUncompressed(to) {
		return fmt.Errorf("%w: from %s to %s", ErrCannotTranscode, tsName(from), tsName(to))
	}

	in := src
	if fin.Deflated {
		fr := getInflater(src)
		defer putInflater(fr)
		in = fr
	}
	var out io.Writer = dst
	var fw *flate.Writer
	if fout.Deflated {
		fw = getDeflater(dst)
		defer putDeflater(fw)
		out = fw
	}
	b := getBuffers(in, out)
	defer putBuffers(b)
	t := &transcoder{d: &decoder{br: b.br}, w: b.bw, out: syntaxOf(fout), buf: b.buf}
	if err := t.dataSet(syntaxOf(fin), modeTop, -1, 0, 0); err != nil {
		return err
	}
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("part10: writing: %w", err)
	}
	if fw != nil {
		if err := fw.Close(); err != nil {
			return fmt.Errorf("part10: writing: %w", err)
		}
	}
	return nil
}

// Rewrite copies a data set (without the file meta information) encoded in
// transfer syntax ts to dst with new values for top-level elements (tag →
// value; a UI value is padded with a NUL to even length, any other with a
// space, PS3.5 §6.2), and returns the transfer syntax written. A native
// data set is written in Explicit VR Little Endian with the rules of
// Transcode; an encapsulated one (PS3.5 Annex A.4) keeps its syntax, its
// elements before the Pixel Data are rewritten and the fragments copied as
// they are. Group Length elements are dropped (PS3.5 §7.2). Nested data
// sets are not changed.
func Rewrite(dst io.Writer, src io.Reader, ts string, values map[Tag]string) (string, error) {
	info, ok := LookupTransferSyntax(ts)
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrCannotTranscode, tsName(ts))
	}
	out := ExplicitVRLittleEndian
	if info.Encapsulated {
		out = ts
	}
	in := src
	if info.Deflated {
		fr := getInflater(src)
		defer putInflater(fr)
		in = fr
	}
	b := getBuffers(in, dst)
	defer putBuffers(b)
	t := &transcoder{d: &decoder{br: b.br}, w: b.bw, out: syntax{explicit: true}, buf: b.buf,
		replace: values, keepFragments: info.Encapsulated}
	if err := t.dataSet(syntaxOf(info), modeTop, -1, 0, 0); err != nil {
		return out, err
	}
	if err := t.w.Flush(); err != nil {
		return out, fmt.Errorf("part10: writing: %w", err)
	}
	return out, nil
}

// replaceValue skips the value of h and writes val in its place.
func (t *transcoder) replaceValue(h *header, v vr, val string) error {
	if err := t.d.discard(int64(h.length), h); err != nil {
		return err
	}
	b := []byte(val)
	if len(b)%2 == 1 {
		pad := byte(' ')
		if v == vrUI {
			pad = 0
		}
		b = append(b, pad)
	}
	if !v.long() && len(b) > 0xFFFE {
		return tagErr(h.off, h.tag, "new value of %d bytes is too long for VR %s", len(b), v)
	}
	if err := t.writeHeader(h.tag, v, uint32(len(b))); err != nil {
		return err
	}
	return t.write(b)
}

// buffers are the fixed-size buffers of one transcoding, pooled so that
// a node sending many files does not allocate them for each.
type buffers struct {
	br  *bufio.Reader
	bw  *bufio.Writer
	buf []byte
}

var bufferPool = sync.Pool{New: func() any {
	return &buffers{
		br:  bufio.NewReaderSize(nil, chunkSize),
		bw:  bufio.NewWriterSize(nil, chunkSize),
		buf: make([]byte, chunkSize),
	}
}}

func getBuffers(r io.Reader, w io.Writer) *buffers {
	b := bufferPool.Get().(*buffers)
	b.br.Reset(r)
	b.bw.Reset(w)
	return b
}

func putBuffers(b *buffers) {
	b.br.Reset(nil)
	b.bw.Reset(nil)
	bufferPool.Put(b)
}

var inflaters, deflaters sync.Pool

func getInflater(r io.Reader) io.ReadCloser {
	if fr, ok := inflaters.Get().(io.ReadCloser); ok {
		if err := fr.(flate.Resetter).Reset(r, nil); err == nil {
			return fr
		}
	}
	return flate.NewReader(r)
}

func putInflater(fr io.ReadCloser) {
	_ = fr.Close()
	inflaters.Put(fr)
}

func getDeflater(w io.Writer) *flate.Writer {
	if fw, ok := deflaters.Get().(*flate.Writer); ok {
		fw.Reset(w)
		return fw
	}
	fw, _ := flate.NewWriter(w, flate.DefaultCompression) // cannot fail for a valid level
	return fw
}

func putDeflater(fw *flate.Writer) {
	fw.Reset(io.Discard)
	deflaters.Put(fw)
}

func (t *transcoder) write(p []byte) error {
	if _, err := t.w.Write(p); err != nil {
		return fmt.Errorf("part10: writing: %w", err)
	}
	return nil
}

// writeHeader writes an element header in the output syntax.
func (t *transcoder) writeHeader(tg Tag, v vr, length uint32) error {
	s := t.out
	b := s.append16(t.hdr[:0], uint16(tg>>16))
	b = s.append16(b, uint16(tg))
	switch {
	case !s.explicit || tg>>16 == 0xFFFE:
		b = s.append32(b, length)
	case v.long():
		b = append(b, byte(v>>8), byte(v), 0, 0)
		b = s.append32(b, length)
	default:
		b = append(b, byte(v>>8), byte(v))
		b = s.append16(b, uint16(length))
	}
	return t.write(b)
}

// dataSet copies the elements of a data set or item encoded in syntax in.
// bound is the offset that the innermost enclosing container of defined
// length ends at, or -1; in modeDefined it is the end of this item.
func (t *transcoder) dataSet(in syntax, mode int, bound int64, depth, pixelRep int) error {
	for {
		if mode == modeDefined && t.d.off == bound {
			return nil
		}
		h, err := t.d.header(in)
		if err == io.EOF {
			if mode == modeTop {
				return nil
			}
			return formatErr(t.d.off, "input ends inside an item")
		}
		if err != nil {
			return err
		}
		if bound >= 0 && t.d.off > bound {
			return tagErr(h.off, h.tag, "element header crosses the end of the enclosing item or sequence at offset %d", bound)
		}
		if h.tag>>16 == 0xFFFE {
			if h.tag == tagItemDelim && mode == modeUntilDelim {
				return nil
			}
			return tagErr(h.off, h.tag, "unexpected %s in a data set", groupFFFEName(h.tag))
		}
		if h.length != undefinedLength && bound >= 0 && int64(h.length) > bound-t.d.off {
			return tagErr(h.off, h.tag, "value length %d exceeds the %d bytes left in the enclosing item or sequence", h.length, bound-t.d.off)
		}
		v, seqIn := h.vr, in
		if !in.explicit {
			v = implicitVR(h.tag, pixelRep)
		} else if h.length != undefinedLength && h.length > 0 && v != vrSQ && (v == vrUN || !t.out.explicit) && implicitVR(h.tag, pixelRep) == vrSQ {
			if v != vrUN {
				// An implicit VR reader would take the value for a
				// sequence, which it is not.
				return tagErr(h.off, h.tag, "has VR %s where the data dictionary has SQ; it cannot be encoded in implicit VR", v)
			}
			// UN standing for a known sequence: its value is Implicit VR
			// Little Endian (PS3.5 §6.2.2).
			v, seqIn = vrSQ, implicitLE
		}
		if h.tag == tagPixelData && v == vrSQ {
			return tagErr(h.off, h.tag, "Pixel Data with VR SQ")
		}
		if val, ok := t.replace[h.tag]; ok && mode == modeTop && h.length != undefinedLength && v != vrSQ {
			if err := t.replaceValue(&h, v, val); err != nil {
				return err
			}
			continue
		}
		if h.tag == tagPixelData && h.length == undefinedLength && t.keepFragments && mode == modeTop {
			if err := t.writeHeader(h.tag, v, undefinedLength); err != nil {
				return err
			}
			if _, err := io.Copy(t.w, t.d.br); err != nil {
				return t.d.readErr(err, &h, "encapsulated pixel data")
			}
			return nil
		}
		switch {
		case h.length == undefinedLength:
			if h.tag == tagPixelData {
				return tagErr(h.off, h.tag, "encapsulated Pixel Data (undefined length) in a native transfer syntax")
			}
			inner := in
			if in.explicit && v == vrUN {
				inner = implicitLE // PS3.5 §6.2.2: UN of undefined length
			}
			if err := t.sequence(h, inner, bound, depth+1, pixelRep); err != nil {
				return err
			}
		case v == vrSQ:
			if err := t.sequence(h, seqIn, t.d.off+int64(h.length), depth+1, pixelRep); err != nil {
				return err
			}
		case uint16(h.tag) == 0 || h.tag == tagLengthToEnd:
			if err := t.d.discard(int64(h.length), &h); err != nil {
				return err
			}
		default:
			outVR := v
			if t.out.explicit && !v.long() && h.length > 0xFFFE {
				outVR = vrUN
			}
			unit := 0
			if in.big != t.out.big && outVR != vrUN {
				unit = v.swapUnit()
			}
			if err := t.writeHeader(h.tag, outVR, h.length); err != nil {
				return err
			}
			if err := t.copyValue(&h, unit); err != nil {
				return err
			}
			if h.tag == tagPixelRep && h.length == 2 {
				pixelRep = int(in.u16(t.first[:]))
			}
		}
	}
}

// sequence copies the items of the sequence whose header is h. bound is the
// end of the sequence when its length is defined, else that of the
// innermost enclosing container (or -1).
func (t *transcoder) sequence(h header, in syntax, bound int64, depth, pixelRep int) error {
	if depth > MaxDepth {
		return tagErr(h.off, h.tag, "sequences nested more than %d deep", MaxDepth)
	}
	defined := h.length != undefinedLength
	if err := t.writeHeader(h.tag, vrSQ, undefinedLength); err != nil {
		return err
	}
	for {
		if defined && t.d.off == bound {
			break
		}
		ih, err := t.d.header(in)
		if err == io.EOF {
			return tagErr(h.off, h.tag, "input ends inside this sequence")
		}
		if err != nil {
			return err
		}
		if bound >= 0 && t.d.off > bound {
			return tagErr(ih.off, ih.tag, "item header crosses the end of the enclosing sequence or item at offset %d", bound)
		}
		if ih.tag == tagSeqDelim {
			if defined {
				return tagErr(ih.off, ih.tag, "sequence delimitation item in sequence %s of defined length", fmtTag(h.tag))
			}
			break
		}
		if ih.tag != tagItem {
			return tagErr(ih.off, ih.tag, "found where an item of sequence %s was expected", fmtTag(h.tag))
		}
		if err := t.writeHeader(tagItem, 0, undefinedLength); err != nil {
			return err
		}
		if ih.length == undefinedLength {
			err = t.dataSet(in, modeUntilDelim, bound, depth, pixelRep)
		} else {
			if bound >= 0 && int64(ih.length) > bound-t.d.off {
				return tagErr(ih.off, ih.tag, "item length %d exceeds the %d bytes left in the enclosing sequence or item", ih.length, bound-t.d.off)
			}
			err = t.dataSet(in, modeDefined, t.d.off+int64(ih.length), depth, pixelRep)
		}
		if err != nil {
			return err
		}
		if err := t.writeHeader(tagItemDelim, 0, 0); err != nil {
			return err
		}
	}
	return t.writeHeader(tagSeqDelim, 0, 0)
}

// copyValue streams the value of h to the output in chunks, swapping each
// unit of unit bytes (no swapping when unit < 2). A trailing partial unit,
// which only a malformed value has, is copied unchanged.
func (t *transcoder) copyValue(h *header, unit int) error {
	remaining := int64(h.length)
	first := true
	for remaining > 0 {
		c := int64(len(t.buf))
		if c > remaining {
			c = remaining
		}
		chunk := t.buf[:c]
		if err := t.d.readFull(chunk); err != nil {
			return t.d.readErr(err, h, fmt.Sprintf("value of %d bytes", h.length))
		}
		if first && c >= 2 {
			copy(t.first[:], chunk)
		}
		first = false
		if unit > 1 {
			swapUnits(chunk, unit)
		}
		if err := t.write(chunk); err != nil {
			return err
		}
		remaining -= c
	}
	return nil
}

// swapUnits reverses the byte order of each unit-byte unit of b.
func swapUnits(b []byte, unit int) {
	switch unit {
	case 2:
		for i := 0; i+2 <= len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
	case 4:
		for i := 0; i+4 <= len(b); i += 4 {
			b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
		}
	case 8:
		for i := 0; i+8 <= len(b); i += 8 {
			u := b[i : i+8 : i+8]
			u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7] = u[7], u[6], u[5], u[4], u[3], u[2], u[1], u[0]
		}
	}
}

func groupFFFEName(t Tag) string {
	switch t {
	case tagItem:
		return "Item (FFFE,E000)"
	case tagItemDelim:
		return "Item Delimitation Item (FFFE,E00D)"
	case tagSeqDelim:
		return "Sequence Delimitation Item (FFFE,E0DD)"
	}
	return "tag in group FFFE"
}
