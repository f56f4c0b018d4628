package dimse

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"os"
	"runtime"
	"testing"

	"github.com/tweedie-recon/tweedie/dimse/msg"
	"github.com/tweedie-recon/tweedie/part10"
)

// explicitLE encodes one Explicit VR Little Endian element (PS3.5 §7.1.2).
func explicitLE(group, elem uint16, vr string, value []byte, length uint32) []byte {
	b := binary.LittleEndian.AppendUint16(nil, group)
	b = binary.LittleEndian.AppendUint16(b, elem)
	b = append(b, vr...)
	switch vr {
	case "OB", "OW", "SQ", "UN", "UT":
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, length)
	default:
		b = binary.LittleEndian.AppendUint16(b, uint16(length))
	}
	return append(b, value...)
}

// bombDataSet is a Deflated Explicit VR Little Endian data set (PS3.5 §A.5)
// whose Pixel Data is mib MiB of zeros, deflated to about a thousandth of
// that (see part10's deflateBomb for how it is built cheaply).
func bombDataSet(uid string, mib int) []byte {
	u := []byte(uid)
	if len(u)%2 == 1 {
		u = append(u, 0)
	}
	prefix := explicitLE(0x0008, 0x0016, "UI", []byte(CTImageStorage), uint32(len(CTImageStorage)))
	prefix = append(prefix, explicitLE(0x0008, 0x0018, "UI", u, uint32(len(u)))...)
	prefix = append(prefix, explicitLE(0x7FE0, 0x0010, "OB", nil, uint32(mib)<<20)...)
	var out, blk bytes.Buffer
	fw, _ := flate.NewWriter(&out, flate.BestCompression)
	fw.Write(prefix)
	fw.Flush()
	bw, _ := flate.NewWriter(&blk, flate.BestCompression)
	bw.Write(make([]byte, 1<<20))
	bw.Flush()
	for range mib {
		out.Write(blk.Bytes())
	}
	out.Write([]byte{0x03, 0x00}) // empty final block
	if out.Len()%2 == 1 {
		out.WriteByte(0) // PS3.5 §A.5 padding
	}
	return out.Bytes()
}

// TestDeflateBombGetsFailureStatus: a data set of about a megabyte on the
// wire that inflates to a gigabyte is answered 0xA700 (Out of Resources)
// within bounded memory, nothing is stored, and the association goes on; a
// corrupt stream is answered 0xC000; a good one is stored.
func TestDeflateBombGetsFailureStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		lim  part10.InflationLimit
	}{
		{"defaults (ratio)", part10.InflationLimit{}},
		{"absolute", part10.InflationLimit{MaxBytes: 64 << 20, MaxRatio: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, addr := startServer(t, ServerConfig{Store: &FileStore{Dir: dir}, Inflation: tc.lim,
				Policy: Policy{TransferSyntaxes: []string{part10.DeflatedExplicitVRLittleEndian}}})
			cl := &Client{CallingAE: "BOMBER"}
			a, err := cl.Associate(context.Background(), addr, "TWEEDIE", []ProposedContext{{AbstractSyntax: CTImageStorage,
				TransferSyntaxes: []string{part10.DeflatedExplicitVRLittleEndian}}})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Release()
			bomb := bombDataSet("1.2.3.666", 1024)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			st, err := a.Store(CTImageStorage, "1.2.3.666", part10.DeflatedExplicitVRLittleEndian, bytes.NewReader(bomb))
			runtime.ReadMemStats(&after)
			// A failure status comes with a *StatusError carrying the comment.
			if _, ok := err.(*StatusError); !ok || st != msg.StatusOutOfResources {
				t.Fatalf("bomb of %d bytes claiming 1 GiB: status 0x%04X, %v; want 0xA700", len(bomb), st, err)
			}
			// Client and server together, everything allocated during the
			// transfer: an upper bound on how much the heap can have grown.
			if got := after.TotalAlloc - before.TotalAlloc; got > 32<<20 {
				t.Errorf("the bomb cost %d bytes of heap", got)
			}
			t.Logf("bomb: %d bytes on the wire, %d bytes allocated in all", len(bomb), after.TotalAlloc-before.TotalAlloc)
			if _, err := os.Stat(dir + "/1.2.3.666.dcm"); err == nil {
				t.Error("the bomb was stored")
			}
			// Same association: a corrupt stream, then a good one.
			good := bombDataSet("1.2.3.7", 1)
			bad := append([]byte{0xff, 0xff}, good...)
			if st, err := a.Store(CTImageStorage, "1.2.3.8", part10.DeflatedExplicitVRLittleEndian, bytes.NewReader(bad)); st != msg.StatusCannotUnderstand {
				t.Errorf("corrupt stream: 0x%04X %v, want 0xC000", st, err)
			}
			if st, err := a.Store(CTImageStorage, "1.2.3.7", part10.DeflatedExplicitVRLittleEndian, bytes.NewReader(good)); err != nil || st != msg.StatusSuccess {
				t.Fatalf("good deflated data set after the bomb: 0x%04X %v", st, err)
			}
			if _, err := os.Stat(dir + "/1.2.3.7.dcm"); err != nil {
				t.Errorf("good data set not stored: %v", err)
			}
		})
	}
}
