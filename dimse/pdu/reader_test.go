package pdu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// TestReaderAllocatesAsBytesArrive: a P-DATA-TF that announces 256 MiB and
// then stops after a few bytes must not cost 256 MiB. The limit is set far
// above the claim, so only the chunked read stands between the claim and
// the allocation.
func TestReaderAllocatesAsBytesArrive(t *testing.T) {
	const claim = 256 << 20
	in := make([]byte, HeaderSize+1000)
	in[0] = byte(TypePData)
	binary.BigEndian.PutUint32(in[2:6], claim)
	rd := NewReader(bytes.NewReader(in), 1<<30)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := rd.Next()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated body: got %v, want unexpected EOF", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("reading 1000 bytes of a PDU announcing %d allocated %d bytes", claim, got)
	}
	if cap(rd.buf) > 2*readChunk {
		t.Fatalf("buffer grew to %d for 1000 bytes", cap(rd.buf))
	}
}

// TestReaderLargePDUInPieces: a body that arrives in small reads over many
// chunks is reassembled exactly, and the next PDU reuses the grown buffer.
func TestReaderLargePDUInPieces(t *testing.T) {
	data := make([]byte, 5*readChunk+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	// One PDV (context 1, last data fragment) per PDU, two PDUs.
	one := Encode(&PData{Items: []PDV{{ContextID: 1, Header: PDVLast, Data: data}}})
	stream := append(append([]byte(nil), one...), one...)
	rd := NewReader(iotest.HalfReader(bytes.NewReader(stream)), 1<<30)
	for i := range 2 {
		p, err := rd.Next()
		if err != nil {
			t.Fatalf("PDU %d: %v", i, err)
		}
		items := p.(*PData).Items
		if len(items) != 1 || !bytes.Equal(items[0].Data, data) {
			t.Fatalf("PDU %d: PDV data differ", i)
		}
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("after the stream: %v, want io.EOF", err)
	}
	// Steady state: a buffer big enough already is reused, nothing allocated.
	rd = NewReader(nil, 1<<30)
	rd.buf = make([]byte, 0, len(one))
	allocs := testing.AllocsPerRun(10, func() {
		rd.r = bytes.NewReader(one)
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 { // the bytes.Reader's interface conversion at most
		t.Errorf("%v allocations per PDU with a warm buffer", allocs)
	}
}

// FuzzReader: a stream of PDUs read with the streaming reader, in pieces of
// any size, never panics, and each PDU it returns is one that Decode
// accepts from the same bytes.
func FuzzReader(f *testing.F) {
	f.Add(append(Encode(sampleRQ()), Encode(&PData{Items: []PDV{{ContextID: 1, Header: 3, Data: []byte("abcd")}}})...), uint8(3))
	f.Add(Encode(&ReleaseRQ{}), uint8(1))
	f.Add([]byte{0x04, 0, 0xff, 0xff, 0xff, 0xff, 0, 0}, uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, piece uint8) {
		var r io.Reader = bytes.NewReader(b)
		if piece > 0 {
			r = &pieces{b: b, n: int(piece)}
		}
		rd := NewReader(r, 1<<16)
		off := 0
		for range 64 {
			p, err := rd.Next()
			if err != nil {
				return
			}
			n := HeaderSize + int(binary.BigEndian.Uint32(b[off+2:off+6]))
			if _, err := Decode(b[off : off+n]); err != nil {
				t.Fatalf("Reader accepted %s at %d that Decode refuses: %v", p.Type(), off, err)
			}
			off += n
		}
	})
}

// pieces returns at most n bytes per Read.
type pieces struct {
	b []byte
	n int
}

func (p *pieces) Read(q []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	k := copy(q[:min(len(q), p.n)], p.b)
	p.b = p.b[k:]
	return k, nil
}
