package part10

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tweedie-recon/tweedie/internal/shareddata"
)

// seedLen is how much of each sample seeds the corpus: enough for the
// meta information and the first elements, small enough that the fuzzer's
// minimization of new inputs stays quick.
const seedLen = 1536

// seedSamples adds the start of each sample file (for FuzzReadMeta) or of
// its data set, with the conversion paths that read its transfer syntax
// (for FuzzTranscode), to a fuzz corpus.
func seedSamples(f *testing.F, dataSet bool) {
	// Seeds only: the fuzz targets run without the data too.
	data, err := shareddata.Dir()
	if err != nil {
		return
	}
	dir := filepath.Join(data, "dicom")
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".dcm" {
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if !dataSet {
			f.Add(raw[:min(len(raw), seedLen)])
			return nil
		}
		br := bufio.NewReader(bytes.NewReader(raw))
		m, err := ReadMeta(br)
		if err != nil || !IsUncompressed(m.TransferSyntaxUID) {
			return nil
		}
		if m.TransferSyntaxUID == DeflatedExplicitVRLittleEndian {
			raw, _ = io.ReadAll(br) // a prefix of a deflate stream is of little use
		} else {
			raw, _ = io.ReadAll(io.LimitReader(br, seedLen))
		}
		for i := range fuzzPaths {
			if fuzzPaths[i].from == m.TransferSyntaxUID {
				f.Add(raw, uint8(i))
			}
		}
		return nil
	})
}

// allocMin measures what f allocates, running it again (up to three times
// in all) while that exceeds limit, and returns the least: the measure is
// process-wide, and the fuzzing engine's own goroutines allocate now and
// then, whereas an allocation of f's own is there each time.
func allocMin(limit uint64, f func()) uint64 {
	n := allocDuring(f)
	for i := 0; i < 2 && n > limit; i++ {
		n = min(n, allocDuring(f))
	}
	return n
}

// maxAlloc bounds what one Transcode call may allocate, whatever its input:
// three 64 KiB buffers and, for deflate, the compressor's state.
const maxAlloc = 4 << 20

// fuzzPaths are the conversions FuzzTranscode tries, chosen by its path
// argument: every native syntax is read at least once.
var fuzzPaths = []struct{ from, to string }{
	{ImplicitVRLittleEndian, ExplicitVRLittleEndian},
	{ExplicitVRLittleEndian, ExplicitVRBigEndian},
	{ExplicitVRBigEndian, ImplicitVRLittleEndian},
	{DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian},
	{ImplicitVRLittleEndian, ExplicitVRBigEndian},
	{ExplicitVRLittleEndian, ImplicitVRLittleEndian},
}

// FuzzTranscode feeds arbitrary bytes to Transcode as Implicit VR Little
// Endian, Explicit VR Little Endian, Explicit VR Big Endian or Deflated
// Explicit VR Little Endian (path picks the conversion). It must not panic
// nor allocate more than maxAlloc; its errors must wrap ErrMalformed; and
// what it accepts must survive a round trip: converting the output back
// and forth again gives the same bytes. DataSetInfo walks the same input.
func FuzzTranscode(f *testing.F) {
	seedSamples(f, true)
	f.Add(implicitB().hdr(0x00081032, "", undefinedLength).hdr(tagItem, "", undefinedLength).
		elem(0x00100010, "", []byte("A^B")).hdr(tagItemDelim, "", 0).hdr(tagSeqDelim, "", 0).b, uint8(0))
	f.Add(explicitB().hdr(0x00091010, "UN", undefinedLength).hdr(tagItem, "", 10).
		elem(0x00100010, "PN", []byte("AB")).hdr(tagSeqDelim, "", 0).b, uint8(1))
	f.Add(bigB().elem(0x00280010, "US", []byte{0, 1}).elem(0x7FE00010, "OW", []byte{1, 2, 3, 4}).b, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, path uint8) {
		c := fuzzPaths[int(path)%len(fuzzPaths)]
		var out1 bytes.Buffer
		var err error
		n := allocMin(maxAlloc+uint64(16*len(data)), func() {
			out1.Reset()
			err = Transcode(&out1, bytes.NewReader(data), c.from, c.to)
		})
		if n > maxAlloc+uint64(16*len(data)) {
			t.Fatalf("%s -> %s allocated %d bytes for %d bytes of input", tsShort[c.from], tsShort[c.to], n, len(data))
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s -> %s: error %v does not wrap ErrMalformed", tsShort[c.from], tsShort[c.to], err)
			}
		} else {
			// Round trips. An explicit VR that disagrees with the
			// dictionary is lost in implicit VR, so the fixed point is
			// reached after one trip back when implicit VR is involved
			// and at once otherwise.
			outs := [][]byte{out1.Bytes()}
			dirs := [][2]string{{c.to, c.from}, {c.from, c.to}, {c.to, c.from}}
			for _, d := range dirs {
				var o bytes.Buffer
				if err := Transcode(&o, bytes.NewReader(outs[len(outs)-1]), d[0], d[1]); err != nil {
					t.Fatalf("%s -> %s of our own output: %v", tsShort[d[0]], tsShort[d[1]], err)
				}
				outs = append(outs, o.Bytes())
			}
			if !bytes.Equal(outs[1], outs[3]) {
				t.Fatalf("%s -> %s -> %s is not stable:\n%x\n%x", tsShort[c.to], tsShort[c.from], tsShort[c.to], outs[1], outs[3])
			}
			if c.from != ImplicitVRLittleEndian && c.to != ImplicitVRLittleEndian && !bytes.Equal(outs[0], outs[2]) {
				t.Fatalf("%s -> %s -> %s is not stable:\n%x\n%x", tsShort[c.from], tsShort[c.to], tsShort[c.from], outs[0], outs[2])
			}
		}
		n = allocMin(maxAlloc, func() { _, _, err = DataSetInfo(bytes.NewReader(data), c.from) })
		if n > maxAlloc {
			t.Fatalf("DataSetInfo allocated %d bytes", n)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("DataSetInfo: error %v does not wrap ErrMalformed", err)
		}
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
		n := allocMin(1<<20, func() { m, err = ReadMeta(bufio.NewReader(bytes.NewReader(data))) })
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
