package msg

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestCommandRoundTrip(t *testing.T) {
	rq := &Command{Field: CStoreRQ, MessageID: 7, AffectedSOPClassUID: "1.2.840.10008.5.1.4.1.1.4",
		AffectedSOPInstanceUID: "1.2.3.4.5", Priority: PriorityHigh, WithDataSet: true, MoveOriginatorAE: "MOVER", MoveOriginatorMsgID: 3}
	got, err := Decode(rq.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.Field != CStoreRQ || got.MessageID != 7 || got.AffectedSOPClassUID != rq.AffectedSOPClassUID ||
		got.AffectedSOPInstanceUID != rq.AffectedSOPInstanceUID || got.Priority != PriorityHigh || !got.HasDataSet() ||
		got.MoveOriginatorAE != "MOVER" || got.MoveOriginatorMsgID != 3 {
		t.Errorf("C-STORE-RQ round trip: %+v", got)
	}
	rsp := &Command{Field: CStoreRSP, MessageIDRespondedTo: 7, AffectedSOPClassUID: "1.2.3", Status: StatusOutOfResources,
		ErrorComment: "disk full", OffendingElements: []uint32{0x00100010}}
	got, err = Decode(rsp.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusOutOfResources || got.MessageIDRespondedTo != 7 || got.HasDataSet() || got.ErrorComment != "disk full" ||
		len(got.OffendingElements) != 1 || got.OffendingElements[0] != 0x00100010 {
		t.Errorf("C-STORE-RSP round trip: %+v", got)
	}
}

// TestEncodeLayout checks PS3.7 §E.1 independently of Decode: implicit VR
// little endian, group length first and equal to the bytes that follow,
// elements in ascending order, UIDs padded to even length with NUL.
func TestEncodeLayout(t *testing.T) {
	b := (&Command{Field: CEchoRQ, MessageID: 1, AffectedSOPClassUID: "1.2.840.10008.1.1"}).Encode()
	if binary.LittleEndian.Uint32(b[0:4]) != 0 || binary.LittleEndian.Uint32(b[4:8]) != 4 {
		t.Fatalf("first element is not (0000,0000) UL: % x", b[:8])
	}
	if gl := binary.LittleEndian.Uint32(b[8:12]); int(gl) != len(b)-12 {
		t.Fatalf("group length %d, %d bytes follow", gl, len(b)-12)
	}
	prev := -1
	for off := 12; off < len(b); {
		elem := int(binary.LittleEndian.Uint16(b[off+2:]))
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		if elem <= prev {
			t.Fatalf("element (0000,%04x) after (0000,%04x)", elem, prev)
		}
		if n%2 != 0 {
			t.Fatalf("odd length %d at (0000,%04x)", n, elem)
		}
		if elem == 0x0002 && string(b[off+8:off+8+n]) != "1.2.840.10008.1.1\x00" {
			t.Fatalf("UID value %q", b[off+8:off+8+n])
		}
		if elem == 0x0800 && binary.LittleEndian.Uint16(b[off+8:]) != NoDataSet {
			t.Fatalf("C-ECHO-RQ must say no data set")
		}
		prev = elem
		off += 8 + n
	}
}

func TestDecodeErrors(t *testing.T) {
	good := (&Command{Field: CEchoRQ, MessageID: 1, AffectedSOPClassUID: "1.2.840.10008.1.1"}).Encode()
	cases := map[string][]byte{
		"empty":            {},
		"truncated header": good[:5],
		"length past end":  append(append([]byte(nil), good[:12]...), 0, 0, 0x00, 0x01, 0xff, 0xff, 0xff, 0x7f),
		"wrong group":      {8, 0, 0x16, 0, 2, 0, 0, 0, '1', 0},
		"no command field": good[:12],
		"bad group length": append(append([]byte(nil), good...), 0, 0, 0x02, 0x09, 0, 0, 0, 0),
		"repeated element": append(append([]byte(nil), good[12:]...), good[12+8+18:12+8+18+10]...),
	}
	for name, b := range cases {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestClassify(t *testing.T) {
	for s, want := range map[uint16]StatusClass{0: Success, 0xB000: Warning, 0x0001: Warning, 0xA700: Failure,
		0xC211: Failure, 0xFF00: Pending, 0xFE00: Cancel, 0x0110: Failure} {
		if got := Classify(s); got != want {
			t.Errorf("Classify(0x%04X) = %s, want %s", s, got, want)
		}
	}
}

// FuzzDecode: the command decoder never panics, and what it accepts
// re-encodes to a command it decodes with the same key fields.
func FuzzDecode(f *testing.F) {
	f.Add((&Command{Field: CEchoRQ, MessageID: 1, AffectedSOPClassUID: "1.2.840.10008.1.1"}).Encode())
	f.Add((&Command{Field: CStoreRQ, MessageID: 2, AffectedSOPClassUID: "1.2", AffectedSOPInstanceUID: "1.2.3", WithDataSet: true}).Encode())
	f.Add((&Command{Field: CStoreRSP, MessageIDRespondedTo: 2, Status: 0xA700, ErrorComment: "x", OffendingElements: []uint32{1}}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		c2, err := Decode(c.Encode())
		if err != nil {
			t.Fatalf("re-encoded command does not decode: %v", err)
		}
		if c2.Field != c.Field || c2.HasDataSet() != c.HasDataSet() || c2.AffectedSOPInstanceUID != c.AffectedSOPInstanceUID {
			t.Fatalf("round trip changed the command: %+v → %+v", c, c2)
		}
	})
}
