package gateway

import (
	"bytes"
	"testing"

	"github.com/tweedie-recon/tweedie/part10"
)

// FuzzReadHeader walks arbitrary bytes as a received data set, the way the
// spool reads every instance a peer sends (headerFromPrefix), in each native
// transfer syntax, and decodes what it kept as the rules would see it: no
// panic, and a header within its bounds.
func FuzzReadHeader(f *testing.F) {
	f.Add([]byte("\x08\x00\x16\x00UI\x04\x001.2\x00\x08\x00\x60\x00CS\x02\x00MR"), uint8(1))
	f.Add([]byte("\x08\x00\x05\x00\x0a\x00\x00\x00ISO_IR 100\x10\x00\x10\x00\x04\x00\x00\x00M\xfcl "), uint8(0))
	syntaxes := []string{part10.ImplicitVRLittleEndian, part10.ExplicitVRLittleEndian, part10.ExplicitVRBigEndian,
		part10.DeflatedExplicitVRLittleEndian}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		h, err := readDataSetHeader(bytes.NewReader(data), syntaxes[int(which)%len(syntaxes)])
		if err != nil {
			return
		}
		n := 0
		for _, e := range h.elements {
			if len(e.value) > maxKeptValue {
				t.Fatalf("kept a value of %d bytes", len(e.value))
			}
			n += len(e.value)
		}
		if n > maxHeaderBytes+maxKeptValue || len(h.elements) > maxElements {
			t.Fatalf("kept %d elements, %d bytes", len(h.elements), n)
		}
		if _, err := h.Subject(); err != nil {
			t.Fatalf("kept elements the rules cannot read: %v", err)
		}
	})
}
