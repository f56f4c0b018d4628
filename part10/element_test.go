package part10

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// readAll reads the top-level elements of data with a Reader: tag, VR and
// value of each (nil for sequences and for values over max, which are
// skipped or streamed).
type readElem struct {
	Element
	val []byte
}

func readAll(data []byte, ts string, max int) ([]readElem, error) {
	rd, err := NewReader(bytes.NewReader(data), ts)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var out []readElem
	for i := 0; ; i++ {
		e, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		re := readElem{Element: e}
		switch {
		case e.Sequence():
		case int(e.Length) <= max:
			if re.val, err = rd.Value(max); err != nil {
				return out, err
			}
		case i%2 == 0: // stream it
			var buf [7]byte
			for {
				_, err := rd.Read(buf[:])
				if err == io.EOF {
					break
				}
				if err != nil {
					return out, err
				}
			}
		}
		out = append(out, re)
	}
}

func TestReaderSyntaxes(t *testing.T) {
	item := func(b *builder) []byte {
		return b.elem(0x00100020, "LO", []byte("ID")).b
	}
	build := func(b func() *builder) []byte {
		in := item(b())
		return b().elem(0x00080016, "UI", []byte("1.2\x00")).
			elem(0x00280010, "US", u16s(b().order(), 512)).
			hdr(0x00081032, "SQ", undefinedLength).hdr(tagItem, "", uint32(len(in))).raw(in...).hdr(tagSeqDelim, "", 0).
			elem(0x00100010, "PN", []byte("A^B ")).
			elem(0x7FE00010, "OW", u16s(b().order(), 1, 2)).b
	}
	want := []struct {
		tag Tag
		vr  string
		val []byte
	}{
		{0x00080016, "UI", []byte("1.2\x00")},
		{0x00280010, "US", []byte{0, 2}}, // little endian whatever the input
		{0x00081032, "SQ", nil},
		{0x00100010, "PN", []byte("A^B ")},
		{0x7FE00010, "OW", []byte{1, 0, 2, 0}},
	}
	for ts, b := range map[string]func() *builder{
		ImplicitVRLittleEndian: implicitB, ExplicitVRLittleEndian: explicitB, ExplicitVRBigEndian: bigB,
	} {
		got, err := readAll(build(b), ts, 64)
		if err != nil {
			t.Fatalf("%s: %v", tsShort[ts], err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d elements, want %d", tsShort[ts], len(got), len(want))
		}
		for i, w := range want {
			if g := got[i]; g.Tag != w.tag || g.VR != w.vr || !bytes.Equal(g.val, w.val) {
				t.Errorf("%s: element %d is %s %s %x, want %s %s %x", tsShort[ts], i, g.Tag, g.VR, g.val, w.tag, w.vr, w.val)
			}
		}
	}
	// Deflated: the Explicit VR Little Endian stream, deflated (Annex A.5).
	var z bytes.Buffer
	fw := getDeflater(&z)
	fw.Write(build(explicitB))
	fw.Close()
	if got, err := readAll(z.Bytes(), DeflatedExplicitVRLittleEndian, 64); err != nil || len(got) != len(want) || got[3].Tag != 0x00100010 {
		t.Fatalf("deflated: %v, %+v", err, got)
	}
}

func TestReaderSkipsNestedAndFragments(t *testing.T) {
	inner := implicitB().elem(0x00100020, "", []byte("ID")).b
	// UN of undefined length holding Implicit VR items (PS3.5 §6.2.2), a
	// sequence nested in an undefined-length item, then encapsulated pixel
	// data (Annex A.4) and an element after it.
	data := explicitB().
		hdr(0x00091010, "UN", undefinedLength).hdr(tagItem, "", uint32(len(inner))).raw(inner...).hdr(tagSeqDelim, "", 0).
		hdr(0x00400555, "SQ", undefinedLength).hdr(tagItem, "", undefinedLength).
		hdr(0x00081032, "SQ", undefinedLength).hdr(tagSeqDelim, "", 0).
		hdr(tagItemDelim, "", 0).hdr(tagSeqDelim, "", 0).
		hdr(0x7FE00010, "OB", undefinedLength).hdr(tagItem, "", 0).hdr(tagItem, "", 4).raw(1, 2, 3, 4).hdr(tagSeqDelim, "", 0).
		elem(0xFFFAFFFA, "SQ", nil).b
	got, err := readAll(data, "1.2.840.10008.1.2.4.50", 64)
	if err != nil {
		t.Fatal(err)
	}
	var tags []Tag
	for _, e := range got {
		tags = append(tags, e.Tag)
	}
	if want := []Tag{0x00091010, 0x00400555, 0x7FE00010, 0xFFFAFFFA}; !equalTags(tags, want) {
		t.Fatalf("read %v, want %v", tags, want)
	}
}

func equalTags(a, b []Tag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReaderBounds(t *testing.T) {
	// A value announcing 4 GiB: Value refuses it before allocating, and
	// skipping it reports the truncation.
	data := explicitB().hdr(0x00091012, "OB", 0xFFFFFFF0).raw(1, 2).b
	rd, _ := NewReader(bytes.NewReader(data), ExplicitVRLittleEndian)
	defer rd.Close()
	e, err := rd.Next()
	if err != nil || e.Length != 0xFFFFFFF0 {
		t.Fatalf("Next: %v %+v", err, e)
	}
	var n uint64
	n = allocDuring(func() { _, err = rd.Value(1 << 20) })
	if !errors.Is(err, ErrMalformed) || n > 1<<20 {
		t.Fatalf("Value: %v after allocating %d bytes", err, n)
	}
	if _, err := rd.Next(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("skipping a truncated value: %v", err)
	}
	// Items at the top level, sequences nested too deep, unknown syntaxes.
	for name, c := range map[string][]byte{
		"item":     explicitB().hdr(tagItem, "", 0).b,
		"too deep": nest(MaxDepth + 1),
		"bad VR":   explicitB().raw(0x10, 0, 0x20, 0, 'x', 'y', 0, 0).b,
	} {
		if _, err := readAll(c, ExplicitVRLittleEndian, 64); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if _, err := NewReader(bytes.NewReader(nil), "1.2.3"); err == nil {
		t.Error("an unknown transfer syntax is accepted")
	}
}

func TestRewrite(t *testing.T) {
	values := map[Tag]string{TagSOPInstanceUID: "2.25.7", TagSeriesInstanceUID: "2.25.88"}
	check := func(name string, out []byte, ts string, wantFragments []byte) {
		t.Helper()
		got, err := readAll(out, ts, 64)
		if err != nil {
			t.Fatalf("%s: reading the output: %v", name, err)
		}
		seen := map[Tag]string{}
		for _, e := range got {
			seen[e.Tag] = string(e.val)
			if e.Tag.Element() == 0 {
				t.Errorf("%s: group length %s kept", name, e.Tag)
			}
		}
		if seen[TagSOPInstanceUID] != "2.25.7" || seen[TagSeriesInstanceUID] != "2.25.88\x00" || seen[0x00100010] != "A^B " {
			t.Errorf("%s: values %q", name, seen)
		}
		if wantFragments != nil && !bytes.HasSuffix(out, wantFragments) {
			t.Errorf("%s: fragments changed", name)
		}
	}
	for ts, b := range map[string]func() *builder{ImplicitVRLittleEndian: implicitB, ExplicitVRBigEndian: bigB, ExplicitVRLittleEndian: explicitB} {
		in := b().elem(0x00080000, "UL", []byte{0, 0, 0, 0}).elem(TagSOPInstanceUID, "UI", []byte("1.2.3.4\x00")).
			elem(0x00100010, "PN", []byte("A^B ")).elem(TagSeriesInstanceUID, "UI", []byte("1.9\x00")).b
		var out bytes.Buffer
		outTS, err := Rewrite(&out, bytes.NewReader(in), ts, values)
		if err != nil || outTS != ExplicitVRLittleEndian {
			t.Fatalf("%s: %v, %s", tsShort[ts], err, outTS)
		}
		check(tsShort[ts], out.Bytes(), outTS, nil)
	}
	frags := explicitB().hdr(tagItem, "", 0).hdr(tagItem, "", 4).raw(9, 8, 7, 6).hdr(tagSeqDelim, "", 0).b
	in := explicitB().elem(TagSOPInstanceUID, "UI", []byte("1.2.3.4\x00")).elem(0x00100010, "PN", []byte("A^B ")).
		elem(TagSeriesInstanceUID, "UI", []byte("1.9\x00")).hdr(TagPixelData, "OB", undefinedLength).raw(frags...).b
	var out bytes.Buffer
	const jpeg = "1.2.840.10008.1.2.4.50"
	if outTS, err := Rewrite(&out, bytes.NewReader(in), jpeg, values); err != nil || outTS != jpeg {
		t.Fatalf("encapsulated: %v, %s", err, outTS)
	}
	check("encapsulated", out.Bytes(), jpeg, frags)
}

// FuzzReader reads arbitrary bytes with the element reader as each native
// transfer syntax (and as an encapsulated one): it must not panic nor
// allocate beyond its buffers and the values it was allowed to read; its
// errors wrap ErrMalformed; offsets only grow; and a data set it reads
// whole reads the same after Rewrite (without replacements) converted it to
// Explicit VR Little Endian. The gateway's header walk over network bytes
// and the raw-data codec read through this reader.
func FuzzReader(f *testing.F) {
	seedSamples(f, true)
	f.Add(explicitB().hdr(0x00091010, "UN", undefinedLength).hdr(tagItem, "", 10).
		elem(0x00100010, "PN", []byte("AB")).hdr(tagSeqDelim, "", 0).elem(0x00100020, "LO", []byte("ID")).b, uint8(1))
	f.Add(implicitB().elem(0x00080016, "", []byte("1.2\x00")).elem(0x00280103, "", []byte{1, 0}).
		elem(0x00280106, "", []byte{0xFF, 0xFF}).b, uint8(0))
	syntaxes := []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian,
		"1.2.840.10008.1.2.4.50"}
	const maxValue = 256
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		ts := syntaxes[int(which)%len(syntaxes)]
		var got []readElem
		var err error
		limit := uint64(maxAlloc + 16*len(data))
		if n := allocMin(limit, func() { got, err = readAll(data, ts, maxValue) }); n > limit {
			t.Fatalf("%s: allocated %d bytes for %d bytes of input", ts, n, len(data))
		}
		var last int64 = -1
		for _, e := range got {
			if e.Offset <= last {
				t.Fatalf("%s: offset %d after %d", ts, e.Offset, last)
			}
			last = e.Offset
			if e.val != nil && len(e.val) != int(e.Length) {
				t.Fatalf("%s: value of %d bytes for length %d", ts, len(e.val), e.Length)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: error %v does not wrap ErrMalformed", ts, err)
			}
			return
		}
		var out bytes.Buffer
		outTS, err := Rewrite(&out, bytes.NewReader(data), ts, nil)
		if err != nil {
			return // e.g. a VR that disagrees with the dictionary
		}
		again, err := readAll(out.Bytes(), outTS, maxValue)
		if err != nil {
			t.Fatalf("%s: reading Rewrite's output: %v", ts, err)
		}
		var want []readElem
		for _, e := range got {
			if e.Tag.Element() != 0 && e.Tag != tagLengthToEnd {
				want = append(want, e)
			}
		}
		if len(again) != len(want) {
			t.Fatalf("%s: %d elements after Rewrite, %d before", ts, len(again), len(want))
		}
		for i := range want {
			if again[i].Tag != want[i].Tag || (!want[i].Sequence() && !again[i].Sequence() && !bytes.Equal(again[i].val, want[i].val)) {
				t.Fatalf("%s: element %d is %s %x after Rewrite, %s %x before", ts, i, again[i].Tag, again[i].val, want[i].Tag, want[i].val)
			}
		}
	})
}
