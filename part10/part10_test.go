package part10

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// builder writes data elements by hand, independently of the encoder, in
// one of the native encodings (PS3.5 §7.1.2, §7.1.3).
type builder struct {
	explicit, big bool
	b             []byte
}

func (d *builder) order() binary.AppendByteOrder {
	if d.big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

func isLongVR(v string) bool {
	switch v {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV":
		return true
	}
	return false
}

// hdr appends a header; v is ignored in implicit VR and for group FFFE.
func (d *builder) hdr(tg Tag, v string, length uint32) *builder {
	o := d.order()
	d.b = o.AppendUint16(d.b, uint16(tg>>16))
	d.b = o.AppendUint16(d.b, uint16(tg))
	switch {
	case !d.explicit || tg>>16 == 0xFFFE:
		d.b = o.AppendUint32(d.b, length)
	case isLongVR(v):
		d.b = append(d.b, v[0], v[1], 0, 0)
		d.b = o.AppendUint32(d.b, length)
	default:
		d.b = append(d.b, v[0], v[1])
		d.b = o.AppendUint16(d.b, uint16(length))
	}
	return d
}

func (d *builder) elem(tg Tag, v string, val []byte) *builder {
	d.hdr(tg, v, uint32(len(val)))
	d.b = append(d.b, val...)
	return d
}

func (d *builder) raw(b ...byte) *builder { d.b = append(d.b, b...); return d }

func u16s(o binary.AppendByteOrder, vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = o.AppendUint16(b, v)
	}
	return b
}

func implicitB() *builder { return &builder{} }
func explicitB() *builder { return &builder{explicit: true} }
func bigB() *builder      { return &builder{explicit: true, big: true} }

func transcode(t *testing.T, in []byte, from, to string) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := Transcode(&out, bytes.NewReader(in), from, to); err != nil {
		t.Fatalf("Transcode: %v", err)
	}
	return out.Bytes()
}

func TestLookupTransferSyntax(t *testing.T) {
	for _, c := range []struct {
		uid                                          string
		explicit, big, deflated, encapsulated, known bool
	}{
		{ImplicitVRLittleEndian, false, false, false, false, true},
		{ExplicitVRLittleEndian, true, false, false, false, true},
		{DeflatedExplicitVRLittleEndian, true, false, true, false, true},
		{ExplicitVRBigEndian, true, true, false, false, true},
		{"1.2.840.10008.1.2.1.98", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.50", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.51", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.57", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.70", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.80", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.81", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.90", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.91", true, false, false, true, true},
		{"1.2.840.10008.1.2.5", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.100", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.104", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.108", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.201", true, false, false, true, true},
		{"1.2.840.10008.1.2.4.203", true, false, false, true, true},
		{"1.2.3.4", false, false, false, false, false},
		{"", false, false, false, false, false},
	} {
		ts, ok := LookupTransferSyntax(c.uid)
		if ok != c.known {
			t.Errorf("%q: known = %v", c.uid, ok)
			continue
		}
		if !ok {
			continue
		}
		if ts.UID != c.uid || ts.Name == "" || ts.Explicit != c.explicit || ts.BigEndian != c.big || ts.Deflated != c.deflated || ts.Encapsulated != c.encapsulated {
			t.Errorf("%q: got %+v", c.uid, ts)
		}
		native := c.uid == ImplicitVRLittleEndian || c.uid == ExplicitVRLittleEndian || c.uid == DeflatedExplicitVRLittleEndian || c.uid == ExplicitVRBigEndian
		if IsUncompressed(c.uid) != native {
			t.Errorf("IsUncompressed(%q) = %v", c.uid, !native)
		}
		if CanTranscode(c.uid, ImplicitVRLittleEndian) != native || CanTranscode(ExplicitVRBigEndian, c.uid) != native {
			t.Errorf("CanTranscode with %q wrong", c.uid)
		}
	}
}

func TestTranscodeRefusesEncapsulated(t *testing.T) {
	err := Transcode(io.Discard, strings.NewReader(""), "1.2.840.10008.1.2.4.50", ExplicitVRLittleEndian)
	if !errors.Is(err, ErrCannotTranscode) {
		t.Errorf("JPEG -> explicit: %v", err)
	}
	err = Transcode(io.Discard, strings.NewReader(""), ExplicitVRLittleEndian, "1.2.3")
	if !errors.Is(err, ErrCannotTranscode) {
		t.Errorf("explicit -> unknown: %v", err)
	}
	// from == to is a plain copy, whatever the syntax and content.
	in := []byte("not a data set at all")
	var out bytes.Buffer
	if err := Transcode(&out, bytes.NewReader(in), "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.50"); err != nil || !bytes.Equal(out.Bytes(), in) {
		t.Errorf("copy: %v %q", err, out.Bytes())
	}
	// Encapsulated pixel data in a native syntax is an error.
	ds := explicitB().elem(0x00280100, "US", u16s(binary.LittleEndian, 8)).
		hdr(tagPixelData, "OB", undefinedLength).hdr(tagItem, "", 0).hdr(tagSeqDelim, "", 0).b
	err = Transcode(io.Discard, bytes.NewReader(ds), ExplicitVRLittleEndian, ImplicitVRLittleEndian)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Tag != tagPixelData || !errors.Is(err, ErrMalformed) {
		t.Errorf("encapsulated pixel data: %v", err)
	}
}

// TestSwapByVR converts one element of each VR from Explicit VR Little
// Endian to Big Endian and back, checking the bytes (PS3.5 §7.3).
func TestSwapByVR(t *testing.T) {
	le, be := explicitB(), bigB()
	add := func(tg Tag, v string, leVal, beVal []byte) {
		le.elem(tg, v, leVal)
		be.elem(tg, v, beVal)
	}
	add(0x00081140, "AT", []byte{0x08, 0x00, 0x18, 0x00}, []byte{0x00, 0x08, 0x00, 0x18})
	add(0x00100010, "PN", []byte("Doe^John"), []byte("Doe^John"))
	add(0x00180050, "DS", []byte("1.5 "), []byte("1.5 "))
	add(0x00280010, "US", []byte{1, 2, 3, 4}, []byte{2, 1, 4, 3})
	add(0x00280106, "SS", []byte{1, 2}, []byte{2, 1})
	add(0x00281052, "FL", []byte{1, 2, 3, 4}, []byte{4, 3, 2, 1})
	add(0x00300010, "UL", []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{4, 3, 2, 1, 8, 7, 6, 5})
	add(0x00300020, "SL", []byte{1, 2, 3, 4}, []byte{4, 3, 2, 1})
	add(0x00300030, "FD", []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{8, 7, 6, 5, 4, 3, 2, 1})
	add(0x00300040, "OD", []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{8, 7, 6, 5, 4, 3, 2, 1})
	add(0x00300050, "OF", []byte{1, 2, 3, 4}, []byte{4, 3, 2, 1})
	add(0x00300060, "OL", []byte{1, 2, 3, 4}, []byte{4, 3, 2, 1})
	add(0x00300070, "OV", []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{8, 7, 6, 5, 4, 3, 2, 1})
	add(0x00300080, "SV", []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{8, 7, 6, 5, 4, 3, 2, 1})
	add(0x00300090, "UV", []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{8, 7, 6, 5, 4, 3, 2, 1})
	add(0x003000A0, "OB", []byte{1, 2, 3, 4}, []byte{1, 2, 3, 4})
	add(0x003000B0, "UN", []byte{1, 2, 3, 4}, []byte{1, 2, 3, 4})
	add(0x003000C0, "UT", []byte("text"), []byte("text"))
	add(0x003000D0, "UC", []byte("ab"), []byte("ab"))
	add(0x003000E0, "UR", []byte("ab"), []byte("ab"))
	add(0x7FE00010, "OW", []byte{1, 2, 3, 4, 5}, []byte{2, 1, 4, 3, 5}) // odd: last byte kept
	if got := transcode(t, le.b, ExplicitVRLittleEndian, ExplicitVRBigEndian); !bytes.Equal(got, be.b) {
		t.Errorf("LE -> BE:\n got %x\nwant %x", got, be.b)
	}
	if got := transcode(t, be.b, ExplicitVRBigEndian, ExplicitVRLittleEndian); !bytes.Equal(got, le.b) {
		t.Errorf("BE -> LE:\n got %x\nwant %x", got, le.b)
	}
}

// TestSwapAcrossChunks swaps a value larger than the copy buffer, whose
// length is not a multiple of it.
func TestSwapAcrossChunks(t *testing.T) {
	n := 3*chunkSize + 24
	val := make([]byte, n)
	want := make([]byte, n)
	for i := 0; i < n; i += 8 {
		for j := 0; j < 8; j++ {
			val[i+j] = byte(i/8 + j)
			want[i+j] = byte(i/8 + 7 - j)
		}
	}
	in := explicitB().elem(0x7FE00008, "OD", val).b
	got := transcode(t, in, ExplicitVRLittleEndian, ExplicitVRBigEndian)
	if exp := bigB().elem(0x7FE00008, "OD", want).b; !bytes.Equal(got, exp) {
		t.Errorf("OD of %d bytes not swapped in 8-byte units", n)
	}
}

func TestImplicitToExplicitVRs(t *testing.T) {
	le := binary.LittleEndian
	long := make([]byte, 0x10000) // too long for a 16-bit length
	in := implicitB().
		elem(0x00080016, "", []byte("1.2.3\x00")).
		elem(0x00090010, "", []byte("ACME")).       // private creator
		elem(0x00091001, "", []byte{1, 2}).         // private data
		elem(0x00280103, "", u16s(le, 1)).          // Pixel Representation = signed
		elem(0x00280106, "", u16s(le, 0xFFFF)).     // Smallest Image Pixel Value, US or SS
		elem(0x00281101, "", u16s(le, 256, 0, 16)). // palette descriptor: US
		elem(0x00283006, "", u16s(le, 1, 2)).       // LUT Data: US or OW
		elem(0x00290000, "", []byte{4, 0, 0, 0}).   // group length: dropped
		elem(0x00300010, "", long).                 // unknown public element
		elem(0x00540081, "", long).                 // Number of Slices, US, too long
		elem(0x60000010, "", u16s(le, 7)).          // Overlay Rows (repeating group)
		elem(0x60023000, "", []byte{1, 2, 3, 4}).   // Overlay Data, OB or OW
		elem(0x7FE00010, "", []byte{1, 2, 3, 4}).b  // Pixel Data
	want := explicitB().
		elem(0x00080016, "UI", []byte("1.2.3\x00")).
		elem(0x00090010, "LO", []byte("ACME")).
		elem(0x00091001, "UN", []byte{1, 2}).
		elem(0x00280103, "US", u16s(le, 1)).
		elem(0x00280106, "SS", u16s(le, 0xFFFF)).
		elem(0x00281101, "US", u16s(le, 256, 0, 16)).
		elem(0x00283006, "OW", u16s(le, 1, 2)).
		elem(0x00300010, "UN", long).
		elem(0x00540081, "UN", long).
		elem(0x60000010, "US", u16s(le, 7)).
		elem(0x60023000, "OW", []byte{1, 2, 3, 4}).
		elem(0x7FE00010, "OW", []byte{1, 2, 3, 4}).b
	if got := transcode(t, in, ImplicitVRLittleEndian, ExplicitVRLittleEndian); !bytes.Equal(got, want) {
		t.Errorf("implicit -> explicit:\n got %x\nwant %x", got[:200], want[:200])
	}
	// To Big Endian, the long US became UN and is not swapped (PS3.5
	// §6.2.2); the overlay data is OW and is.
	got := transcode(t, in, ImplicitVRLittleEndian, ExplicitVRBigEndian)
	if !bytes.Contains(got, []byte{0x60, 0x02, 0x30, 0x00, 'O', 'W', 0, 0, 0, 0, 0, 4, 2, 1, 4, 3}) {
		t.Errorf("overlay data not swapped as OW")
	}
	if !bytes.Contains(got, []byte{0x00, 0x54, 0x00, 0x81, 'U', 'N', 0, 0, 0, 1, 0, 0}) {
		t.Errorf("long US not written as UN")
	}
}

// TestSequences checks that sequences and items of defined length come out
// with undefined length and delimitation items, and that UN of undefined
// length is read as Implicit VR Little Endian (PS3.5 §6.2.2, §7.5).
func TestSequences(t *testing.T) {
	le := binary.LittleEndian
	inner := implicitB().elem(0x00100020, "", []byte("ID")).b
	item := explicitB().elem(0x00080100, "SH", []byte("CODE")).b
	in := explicitB().
		hdr(0x00081032, "SQ", uint32(8+len(item)+8)). // defined-length SQ
		hdr(tagItem, "", uint32(len(item))).raw(item...).
		hdr(tagItem, "", 0). // empty item
		hdr(0x00091010, "UN", undefinedLength).
		hdr(tagItem, "", undefinedLength).raw(inner...).hdr(tagItemDelim, "", 0).
		hdr(tagSeqDelim, "", 0).
		elem(0x00280010, "US", u16s(le, 5)).b
	want := bigB().
		hdr(0x00081032, "SQ", undefinedLength).
		hdr(tagItem, "", undefinedLength).elem(0x00080100, "SH", []byte("CODE")).hdr(tagItemDelim, "", 0).
		hdr(tagItem, "", undefinedLength).hdr(tagItemDelim, "", 0).
		hdr(tagSeqDelim, "", 0).
		hdr(0x00091010, "SQ", undefinedLength).
		hdr(tagItem, "", undefinedLength).elem(0x00100020, "LO", []byte("ID")).hdr(tagItemDelim, "", 0).
		hdr(tagSeqDelim, "", 0).
		elem(0x00280010, "US", u16s(binary.BigEndian, 5)).b
	got := transcode(t, in, ExplicitVRLittleEndian, ExplicitVRBigEndian)
	if !bytes.Equal(got, want) {
		t.Errorf("explicit LE -> BE:\n got %x\nwant %x", got, want)
	}
	// Implicit: an undefined-length private element is a sequence.
	inI := implicitB().
		hdr(0x00091010, "", undefinedLength).
		hdr(tagItem, "", uint32(len(inner))).raw(inner...).
		hdr(tagSeqDelim, "", 0).b
	wantE := explicitB().
		hdr(0x00091010, "SQ", undefinedLength).
		hdr(tagItem, "", undefinedLength).elem(0x00100020, "LO", []byte("ID")).hdr(tagItemDelim, "", 0).
		hdr(tagSeqDelim, "", 0).b
	if got := transcode(t, inI, ImplicitVRLittleEndian, ExplicitVRLittleEndian); !bytes.Equal(got, wantE) {
		t.Errorf("implicit -> explicit:\n got %x\nwant %x", got, wantE)
	}

	// UN of defined length for a sequence the dictionary knows holds
	// Implicit VR Little Endian items (PS3.5 §6.2.2): it becomes SQ.
	unVal := implicitB().hdr(tagItem, "", uint32(len(inner))).raw(inner...).b
	inUN := explicitB().elem(0x00081032, "UN", unVal).b
	wantUN := bigB().hdr(0x00081032, "SQ", undefinedLength).
		hdr(tagItem, "", undefinedLength).elem(0x00100020, "LO", []byte("ID")).hdr(tagItemDelim, "", 0).
		hdr(tagSeqDelim, "", 0).b
	if got := transcode(t, inUN, ExplicitVRLittleEndian, ExplicitVRBigEndian); !bytes.Equal(got, wantUN) {
		t.Errorf("UN sequence -> BE:\n got %x\nwant %x", got, wantUN)
	}

	// A known sequence written with another VR stays as it is in explicit
	// VR, but cannot be written in implicit VR.
	bad := explicitB().elem(0x00081032, "LO", []byte("AB")).b
	if got := transcode(t, bad, ExplicitVRLittleEndian, ExplicitVRBigEndian); !bytes.Equal(got, bigB().elem(0x00081032, "LO", []byte("AB")).b) {
		t.Errorf("LO for an SQ -> BE: %x", got)
	}
	err := Transcode(io.Discard, bytes.NewReader(bad), ExplicitVRLittleEndian, ImplicitVRLittleEndian)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Tag != 0x00081032 {
		t.Errorf("LO for an SQ -> implicit: %v", err)
	}
}

// nest builds an element depth sequences deep (undefined lengths).
func nest(depth int) []byte {
	b := explicitB()
	for i := 0; i < depth; i++ {
		b.hdr(0x00081032, "SQ", undefinedLength).hdr(tagItem, "", undefinedLength)
	}
	b.elem(0x00100020, "LO", []byte("ID"))
	for i := 0; i < depth; i++ {
		b.hdr(tagItemDelim, "", 0).hdr(tagSeqDelim, "", 0)
	}
	return b.b
}

func TestMalformed(t *testing.T) {
	le := binary.LittleEndian
	if err := Transcode(io.Discard, bytes.NewReader(nest(MaxDepth)), ExplicitVRLittleEndian, ImplicitVRLittleEndian); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	item := explicitB().elem(0x00100020, "LO", []byte("ID")).b
	for name, c := range map[string]struct {
		in  []byte
		tag Tag
	}{
		"too deep": {nest(MaxDepth + 1), 0x00081032},
		"item longer than sequence": {explicitB().hdr(0x00081032, "SQ", 8+4).
			hdr(tagItem, "", uint32(len(item))).raw(item...).b, tagItem},
		"element longer than item": {explicitB().hdr(0x00081032, "SQ", undefinedLength).
			hdr(tagItem, "", 10).hdr(0x00100020, "LO", 20).raw(make([]byte, 20)...).b, 0x00100020},
		"header crosses item end": {explicitB().hdr(0x00081032, "SQ", undefinedLength).
			hdr(tagItem, "", 4).raw(item...).b, 0x00100020},
		"element in sequence":           {explicitB().hdr(0x00081032, "SQ", undefinedLength).raw(item...).b, 0x00100020},
		"stray item delimiter":          {explicitB().hdr(tagItemDelim, "", 0).b, tagItemDelim},
		"seq delim in defined sequence": {explicitB().hdr(0x00081032, "SQ", 8).hdr(tagSeqDelim, "", 0).b, tagSeqDelim},
		"truncated value":               {explicitB().hdr(0x00100020, "LO", 10).raw('a').b, 0x00100020},
		"bad VR":                        {explicitB().raw(0x10, 0, 0x20, 0, 'x', 'y', 0, 0).b, 0x00100020},
		"unterminated sequence": {explicitB().hdr(0x00081032, "SQ", undefinedLength).
			hdr(tagItem, "", undefinedLength).raw(item...).b, 0},
	} {
		err := Transcode(io.Discard, bytes.NewReader(c.in), ExplicitVRLittleEndian, ImplicitVRLittleEndian)
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want a *FormatError", name, err)
			continue
		}
		if c.tag != 0 && (!fe.HasTag || fe.Tag != c.tag) {
			t.Errorf("%s: error %v does not name tag %s", name, err, fmtTag(c.tag))
		}
		if !strings.Contains(err.Error(), "offset") {
			t.Errorf("%s: error %q has no offset", name, err)
		}
	}
	_ = le
}

// allocDuring returns about the bytes allocated while f runs (large
// allocations are counted at once, small ones when their span fills).
// runtime/metrics is used rather than runtime.ReadMemStats, which stops
// the world and would slow the fuzz targets down a hundredfold.
func allocDuring(f func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	a := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	return s[0].Value.Uint64() - a
}

// TestHugeLength gives lengths far larger than the input: the error must
// come at once, without allocating anything like that much.
func TestHugeLength(t *testing.T) {
	const huge = 0x7FFFFFF0
	cases := map[string]struct {
		in   []byte
		from string
	}{
		"implicit top level":   {implicitB().hdr(0x00100010, "", huge).raw([]byte("abc")...).b, ImplicitVRLittleEndian},
		"explicit OB":          {explicitB().hdr(0x00091001, "OB", huge).raw(1, 2, 3).b, ExplicitVRLittleEndian},
		"big endian OW":        {bigB().hdr(0x7FE00010, "OW", huge).raw(1, 2, 3).b, ExplicitVRBigEndian},
		"implicit defined SQ":  {implicitB().hdr(0x00081032, "", huge).hdr(tagItem, "", huge).b, ImplicitVRLittleEndian},
		"explicit item in seq": {explicitB().hdr(0x00081032, "SQ", undefinedLength).hdr(tagItem, "", huge).hdr(0x00100010, "PN", 2).b, ExplicitVRLittleEndian},
	}
	for name, c := range cases {
		for _, to := range []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian} {
			if to == c.from {
				continue
			}
			var err error
			start := time.Now()
			n := allocDuring(func() { err = Transcode(io.Discard, bytes.NewReader(c.in), c.from, to) })
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s -> %s: got %v, want ErrMalformed", name, tsShort[to], err)
			}
			if n > 4<<20 {
				t.Errorf("%s -> %s: allocated %d bytes", name, tsShort[to], n)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("%s -> %s: took %v", name, tsShort[to], d)
			}
		}
		var err error
		n := allocDuring(func() { _, _, err = DataSetInfo(bytes.NewReader(c.in), c.from) })
		if !errors.Is(err, ErrMalformed) || n > 1<<20 {
			t.Errorf("DataSetInfo %s: %v, %d bytes allocated", name, err, n)
		}
	}
	// Meta information element with a huge length.
	meta := append(make([]byte, 128), "DICM"...)
	meta = append(meta, 0x02, 0, 0x02, 0, 'U', 'N', 0, 0, 0xF0, 0xFF, 0xFF, 0x7F, 1, 2)
	var err error
	n := allocDuring(func() { _, err = ReadMeta(bufio.NewReader(bytes.NewReader(meta))) })
	if !errors.Is(err, ErrMalformed) || n > 1<<20 {
		t.Errorf("ReadMeta: %v, %d bytes allocated", err, n)
	}
}

// zeroReader yields n bytes of a fixed pattern without holding them.
type patternReader struct{ n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = byte(i)
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// TestStreamingLargeValue transcodes a data set with a 256 MiB pixel data
// value and checks that memory use does not grow with it.
func TestStreamingLargeValue(t *testing.T) {
	const size = 256 << 20
	if testing.Short() {
		t.Skip("short")
	}
	head := implicitB().elem(0x00280100, "", u16s(binary.LittleEndian, 16)).hdr(tagPixelData, "", size).b
	for _, to := range []string{ExplicitVRBigEndian, ExplicitVRLittleEndian} {
		src := io.MultiReader(bytes.NewReader(head), &patternReader{n: size})
		cw := &countWriter{}
		var err error
		n := allocDuring(func() { err = Transcode(cw, src, ImplicitVRLittleEndian, to) })
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(head)) + size + 4; cw.n != want {
			t.Errorf("%s: wrote %d bytes, want %d", tsShort[to], cw.n, want)
		}
		if n > 1<<20 {
			t.Errorf("%s: allocated %d bytes for a %d-byte value", tsShort[to], n, size)
		}
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func TestDeflateRoundTrip(t *testing.T) {
	in := explicitB().elem(0x00080016, "UI", []byte("1.2.3\x00")).elem(0x00080018, "UI", []byte("1.2.3.4\x00")).
		elem(0x7FE00010, "OW", bytes.Repeat([]byte{1, 2}, 5000)).b
	def := transcode(t, in, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian)
	if len(def) >= len(in) {
		t.Errorf("deflated %d bytes to %d", len(in), len(def))
	}
	// Raw DEFLATE, no zlib header (PS3.5 Annex A.5).
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(def)))
	if err != nil || !bytes.Equal(raw, in) {
		t.Fatalf("inflating our output: %v", err)
	}
	if back := transcode(t, def, DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian); !bytes.Equal(back, in) {
		t.Errorf("deflated -> explicit differs")
	}
	class, inst, err := DataSetInfo(bytes.NewReader(def), DeflatedExplicitVRLittleEndian)
	if err != nil || class != "1.2.3" || inst != "1.2.3.4" {
		t.Errorf("DataSetInfo(deflated) = %q %q %v", class, inst, err)
	}
}

func TestDataSetInfo(t *testing.T) {
	item := implicitB().elem(0x00080100, "", []byte("CODE")).b
	in := implicitB().
		elem(0x00080005, "", []byte("ISO_IR 100")).
		hdr(0x00080006, "", undefinedLength). // a sequence before the UIDs
		hdr(tagItem, "", uint32(len(item))).raw(item...).hdr(tagSeqDelim, "", 0).
		elem(0x00080016, "", []byte("1.2.840.10008.5.1.4.1.1.4\x00")).
		elem(0x00080018, "", []byte("1.2.3.4.5 ")).
		hdr(0x00100010, "", 0x7FFFFFF0).b // never read
	class, inst, err := DataSetInfo(bytes.NewReader(in), ImplicitVRLittleEndian)
	if err != nil || class != "1.2.840.10008.5.1.4.1.1.4" || inst != "1.2.3.4.5" {
		t.Errorf("DataSetInfo = %q, %q, %v", class, inst, err)
	}
	if _, _, err := DataSetInfo(bytes.NewReader(in[:20]), ImplicitVRLittleEndian); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated: %v", err)
	}
	if _, _, err := DataSetInfo(bytes.NewReader(nil), ImplicitVRLittleEndian); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty: %v", err)
	}
}

func TestMetaRoundTrip(t *testing.T) {
	m := Meta{
		MediaStorageSOPClassUID:      "1.2.840.10008.5.1.4.1.1.4",
		MediaStorageSOPInstanceUID:   "1.2.3.4.5", // odd: NUL padded
		TransferSyntaxUID:            ExplicitVRBigEndian,
		ImplementationClassUID:       "2.25.1",
		ImplementationVersionName:    "TWEEDIE_0.1", // odd: space padded
		SourceApplicationEntityTitle: "STORESCU",
	}
	var buf bytes.Buffer
	if err := WriteMeta(&buf, m); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if !bytes.Equal(b[:128], make([]byte, 128)) || string(b[128:132]) != "DICM" {
		t.Fatal("bad preamble")
	}
	if gl := binary.LittleEndian.Uint32(b[140:]); int(gl) != len(b)-144 {
		t.Errorf("group length %d, want %d", gl, len(b)-144)
	}
	if !bytes.Contains(b, []byte("1.2.3.4.5\x00")) || !bytes.Contains(b, []byte("TWEEDIE_0.1 ")) ||
		!bytes.Contains(b, []byte{0x02, 0, 0x01, 0, 'O', 'B', 0, 0, 2, 0, 0, 0, 0, 1}) {
		t.Errorf("padding or version wrong: %q", b[132:])
	}
	ds := []byte{0x00, 0x08, 0x00, 0x16} // first bytes of a data set
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(b), bytes.NewReader(ds)))
	got, err := ReadMeta(br)
	if err != nil || got != m {
		t.Fatalf("ReadMeta = %+v, %v", got, err)
	}
	rest, _ := io.ReadAll(br)
	if !bytes.Equal(rest, ds) {
		t.Errorf("reader left at %x, want the data set", rest)
	}
	// Optional elements are left out when empty; required ones are not.
	m.ImplementationVersionName, m.SourceApplicationEntityTitle = "", ""
	buf.Reset()
	if err := WriteMeta(&buf, m); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadMeta(bufio.NewReader(&buf)); err != nil || got != m {
		t.Errorf("without optional elements: %+v, %v", got, err)
	}
	m.ImplementationClassUID = ""
	if err := WriteMeta(io.Discard, m); err == nil {
		t.Error("WriteMeta accepted an empty Implementation Class UID")
	}
}

func TestReadMetaErrors(t *testing.T) {
	// No DICM prefix: ErrNotPart10, reader not advanced.
	in := bytes.Repeat([]byte{8, 0}, 200)
	br := bufio.NewReader(bytes.NewReader(in))
	if _, err := ReadMeta(br); !errors.Is(err, ErrNotPart10) {
		t.Errorf("no prefix: %v", err)
	}
	if rest, _ := io.ReadAll(br); !bytes.Equal(rest, in) {
		t.Error("reader advanced")
	}
	if _, err := ReadMeta(bufio.NewReader(bytes.NewReader([]byte("short")))); !errors.Is(err, ErrNotPart10) {
		t.Errorf("short: %v", err)
	}
	// A tiny bufio buffer still works.
	var buf bytes.Buffer
	m := Meta{MediaStorageSOPClassUID: "1.2", MediaStorageSOPInstanceUID: "1.3", TransferSyntaxUID: ImplicitVRLittleEndian, ImplementationClassUID: "1.4"}
	if err := WriteMeta(&buf, m); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadMeta(bufio.NewReaderSize(bytes.NewReader(buf.Bytes()), 16)); err != nil || got != m {
		t.Errorf("small buffer: %+v, %v", got, err)
	}
	pre := append(make([]byte, 128), "DICM"...)
	for name, tail := range map[string][]byte{
		"no transfer syntax": {0x08, 0, 0x16, 0},
		"undefined length":   {0x02, 0, 0x01, 0, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF},
		"bad VR":             {0x02, 0, 0x10, 0, 'u', 'i', 2, 0, '1', 0},
		"truncated":          {0x02, 0, 0x10, 0, 'U', 'I', 20, 0, '1'},
		"too long":           append([]byte{0x02, 0, 0x01, 0, 'O', 'B', 0, 0, 0, 0, 1, 0}, make([]byte, 65536)...),
	} {
		_, err := ReadMeta(bufio.NewReader(bytes.NewReader(append(pre[:132:132], tail...))))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
