package part10

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// seedSamples adds the first few KiB of each sample file (for FuzzReadMeta)
// or of its data set (for FuzzTranscode) to a fuzz corpus.
func seedSamples(f *testing.F, dataSet bool) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data", "dicom"))
	if err != nil {
		return
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".dcm" {
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if dataSet {
			br := bufio.NewReader(bytes.NewReader(raw))
			m, err := ReadMeta(br)
			if err != nil || !IsUncompressed(m.TransferSyntaxUID) || m.TransferSyntaxUID == DeflatedExplicitVRLittleEndian {
				return nil
			}
			raw, _ = io.ReadAll(br)
		}
		if len(raw) > 4096 {
			raw = raw[:4096]
		}
		f.Add(raw)
		return nil
	})
}

// maxAlloc bounds what one Transcode call may allocate, whatever its input:
// three 64 KiB buffers and, for deflate, the compressor's state.
const maxAlloc = 4 << 20

// FuzzTranscode feeds arbitrary bytes to Transcode as Implicit VR Little
// Endian, Explicit VR Little Endian, Explicit VR Big Endian and Deflated
// Explicit VR Little Endian. It must not
// panic nor allocate more than maxAlloc; its errors must be *FormatError;
// and what it accepts must survive a round trip: converting the output
// back and forth again gives the same bytes.
func FuzzTranscode(f *testing.F) {
	seedSamples(f, true)
	f.Add(implicitB().hdr(0x00081032, "", undefinedLength).hdr(tagItem, "", undefinedLength).
		elem(0x00100010, "", []byte("A^B")).hdr(tagItemDelim, "", 0).hdr(tagSeqDelim, "", 0).b)
	f.Add(explicitB().hdr(0x00091010, "UN", undefinedLength).hdr(tagItem, "", 10).
		elem(0x00100010, "PN", []byte("AB")).hdr(tagSeqDelim, "", 0).b)
	f.Add(bigB().elem(0x00280010, "US", []byte{0, 1}).elem(0x7FE00010, "OW", []byte{1, 2, 3, 4}).b)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []struct{ from, to string }{
			{ImplicitVRLittleEndian, ExplicitVRLittleEndian},
			{ExplicitVRLittleEndian, ExplicitVRBigEndian},
			{ExplicitVRBigEndian, ImplicitVRLittleEndian},
			{DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian},
		} {
			var out1 bytes.Buffer
			var err error
			n := allocDuring(func() { err = Transcode(&out1, bytes.NewReader(data), c.from, c.to) })
			if n > maxAlloc+uint64(out1.Cap()) {
				t.Fatalf("%s -> %s allocated %d bytes for %d bytes of input", tsShort[c.from], tsShort[c.to], n, len(data))
			}
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("%s -> %s: error %v is not ErrMalformed", tsShort[c.from], tsShort[c.to], err)
				}
				continue
			}
			// Round trip: to -> from -> to is a fixed point.
			var out2, out3 bytes.Buffer
			if err := Transcode(&out2, bytes.NewReader(out1.Bytes()), c.to, c.from); err != nil {
				t.Fatalf("%s -> %s of our own output: %v", tsShort[c.to], tsShort[c.from], err)
			}
			if err := Transcode(&out3, bytes.NewReader(out2.Bytes()), c.from, c.to); err != nil {
				t.Fatalf("%s -> %s of our own output: %v", tsShort[c.from], tsShort[c.to], err)
			}
			if !bytes.Equal(out1.Bytes(), out3.Bytes()) {
				t.Fatalf("%s -> %s -> %s -> %s is not stable:\n%x\n%x", tsShort[c.from], tsShort[c.to], tsShort[c.from], tsShort[c.to], out1.Bytes(), out3.Bytes())
			}
		}
		// DataSetInfo walks the same input without panicking.
		_, _, _ = DataSetInfo(bytes.NewReader(data), ImplicitVRLittleEndian)
		_, _, _ = DataSetInfo(bytes.NewReader(data), ExplicitVRBigEndian)
	})
}

// FuzzReadMeta feeds arbitrary bytes to ReadMeta: no panic, bounded
// allocation, and what it reads and WriteMeta can write reads back equal.
func FuzzReadMeta(f *testing.F) {
	seedSamples(f, false)
	var buf bytes.Buffer
	_ = WriteMeta(&buf, Meta{MediaStorageSOPClassUID: "1.2", MediaStorageSOPInstanceUID: "1.2.3", TransferSyntaxUID: ExplicitVRBigEndian, ImplementationClassUID: "2.25.1", ImplementationVersionName: "X", SourceApplicationEntityTitle: "AE"})
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Meta
		var err error
		n := allocDuring(func() { m, err = ReadMeta(bufio.NewReader(bytes.NewReader(data))) })
		if n > 1<<20 {
			t.Fatalf("ReadMeta allocated %d bytes for %d bytes of input", n, len(data))
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotPart10) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrNotPart10", err)
			}
			return
		}
		var out bytes.Buffer
		if err := WriteMeta(&out, m); err != nil {
			return // empty required element or over-long value
		}
		m2, err := ReadMeta(bufio.NewReader(&out))
		if err != nil || m2 != m {
			t.Fatalf("round trip: %+v -> %+v, %v", m, m2, err)
		}
	})
}
