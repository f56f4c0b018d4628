package pdu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

func sampleRQ() *AssociateRQ {
	return &AssociateRQ{
		ProtocolVersion: 1, CalledAE: "TWEEDIE", CallingAE: "STORESCU", ApplicationContext: ApplicationContext,
		PresentationContexts: []PresentationContextRQ{
			{ID: 1, AbstractSyntax: "1.2.840.10008.1.1", TransferSyntaxes: []string{"1.2.840.10008.1.2"}},
			{ID: 3, AbstractSyntax: "1.2.840.10008.5.1.4.1.1.66", TransferSyntaxes: []string{"1.2.840.10008.1.2.1", "1.2.840.10008.1.2"}},
		},
		UserInfo: UserInfo{
			MaxLength: 16384, ImplementationClassUID: "1.2.3.4", ImplementationVersionName: "TEST_1",
			AsyncOpsWindow:       &[2]uint16{1, 1},
			RoleSelections:       []RoleSelection{{SOPClassUID: "1.2.840.10008.5.1.4.1.1.4", SCU: true, SCP: false}},
			ExtendedNegotiations: []ExtendedNegotiation{{SOPClassUID: "1.2.840.10008.5.1.4.1.2.2.1", Info: []byte{1, 0, 1}}},
			CommonExtNegotiations: []CommonExtendedNegotiation{{SOPClassUID: "1.2.840.10008.5.1.4.1.1.4", ServiceClassUID: "1.2.840.10008.4.2",
				RelatedClasses: []string{"1.2.840.10008.5.1.4.1.1.4.1"}}},
			UserIdentity: &UserIdentityRQ{IdentityType: 2, PositiveResponseRequired: true, Primary: []byte("user"), Secondary: []byte("pass")},
			Unknown:      []RawItem{{Type: 0x5F, Value: []byte{9, 9}}},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	ac := &AssociateAC{ProtocolVersion: 1, CalledAE: "TWEEDIE", CallingAE: "STORESCU", ApplicationContext: ApplicationContext,
		PresentationContexts: []PresentationContextAC{{ID: 1, Result: 0, TransferSyntax: "1.2.840.10008.1.2"}, {ID: 3, Result: 3, TransferSyntax: "1.2.840.10008.1.2"}},
		UserInfo:             UserInfo{MaxLength: 0, ImplementationClassUID: "1.2.3", HasUserIdentityAC: true, UserIdentityResponse: []byte("ok")}}
	cases := []PDU{
		sampleRQ(), ac,
		&AssociateRJ{Result: 1, Source: 1, Reason: 7},
		&PData{Items: []PDV{{ContextID: 1, Header: PDVCommand | PDVLast, Data: []byte{1, 2, 3}}, {ContextID: 3, Header: 0, Data: []byte{}}}},
		&ReleaseRQ{}, &ReleaseRP{}, &Abort{Source: 2, Reason: 6},
	}
	for _, p := range cases {
		b := Encode(p)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", p.Type(), err)
		}
		if pd, ok := got.(*PData); ok {
			for i := range pd.Items {
				if pd.Items[i].Data == nil {
					pd.Items[i].Data = []byte{}
				}
			}
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("%s round trip:\n got %+v\nwant %+v", p.Type(), got, p)
		}
		// The streaming reader agrees with Decode.
		rd := NewReader(bytes.NewReader(b), 1<<20)
		got2, err := rd.Next()
		if err != nil {
			t.Fatalf("%s via Reader: %v", p.Type(), err)
		}
		if got2.Type() != p.Type() {
			t.Errorf("Reader gave %s, want %s", got2.Type(), p.Type())
		}
	}
}

// TestAssociateRQWireLayout checks the byte layout against PS3.8 Table 9-11
// independently of the encoder: offsets of the AE titles and the first item.
func TestAssociateRQWireLayout(t *testing.T) {
	b := Encode(sampleRQ())
	if b[0] != 0x01 || binary.BigEndian.Uint32(b[2:6]) != uint32(len(b)-6) {
		t.Fatalf("header % x", b[:6])
	}
	if binary.BigEndian.Uint16(b[6:8]) != 1 {
		t.Errorf("protocol version % x", b[6:8])
	}
	if got := string(b[10:26]); got != "TWEEDIE         " {
		t.Errorf("called AE field %q", got)
	}
	if got := string(b[26:42]); got != "STORESCU        " {
		t.Errorf("calling AE field %q", got)
	}
	// 32 reserved bytes, then the application context item (0x10).
	if b[74] != 0x10 || int(binary.BigEndian.Uint16(b[76:78])) != len(ApplicationContext) {
		t.Errorf("application context item at offset 74: % x", b[74:78])
	}
}

func TestReaderLimits(t *testing.T) {
	// A P-DATA-TF announcing 2 GiB is refused after the header alone.
	hdr := []byte{0x04, 0, 0x7f, 0xff, 0xff, 0xff}
	_, err := NewReader(bytes.NewReader(hdr), 16384).Next()
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized P-DATA: %v", err)
	}
	// Fixed-size PDUs must be exactly 4 bytes long.
	_, err = NewReader(bytes.NewReader([]byte{0x05, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0}), 16384).Next()
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("long A-RELEASE-RQ: %v", err)
	}
	_, err = NewReader(bytes.NewReader([]byte{0x09, 0, 0, 0, 0, 0}), 16384).Next()
	if !errors.Is(err, ErrUnknownType) {
		t.Fatalf("unknown type: %v", err)
	}
}

func TestMalformedItems(t *testing.T) {
	good := Encode(sampleRQ())
	cases := map[string]func([]byte) []byte{
		"item length beyond PDU": func(b []byte) []byte { binary.BigEndian.PutUint16(b[76:78], 0xffff); return b },
		"truncated fixed part":   func(b []byte) []byte { b = b[:40]; binary.BigEndian.PutUint32(b[2:6], 34); return b },
		"PDV length zero": func([]byte) []byte {
			return []byte{0x04, 0, 0, 0, 0, 6, 0, 0, 0, 0, 1, 3}
		},
		"PDV length past end": func([]byte) []byte {
			return []byte{0x04, 0, 0, 0, 0, 6, 0, 0, 1, 0, 1, 3}
		},
	}
	for name, mutate := range cases {
		b := mutate(append([]byte(nil), good...))
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestTrimAE(t *testing.T) {
	for in, want := range map[string]string{"  AE  ": "AE", "AE\x00\x00": "AE", "A B": "A B"} {
		if got := TrimAE([]byte(in)); got != want {
			t.Errorf("TrimAE(%q) = %q", in, got)
		}
	}
}

// FuzzDecode: no input may panic the decoder, and whatever it accepts must
// re-encode to something it decodes to the same value.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(sampleRQ()))
	f.Add(Encode(&AssociateRJ{Result: 1, Source: 1, Reason: 3}))
	f.Add(Encode(&PData{Items: []PDV{{ContextID: 1, Header: 3, Data: []byte("abc")}}}))
	f.Add(Encode(&Abort{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		p2, err := Decode(Encode(p))
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", p.Type(), err)
		}
		if p.Type() != p2.Type() {
			t.Fatalf("type changed %s → %s", p.Type(), p2.Type())
		}
		// The streaming reader must agree on acceptance for the same bytes.
		if _, err := NewReader(bytes.NewReader(b), 1<<20).Next(); err != nil && len(b) < 1<<20 {
			t.Fatalf("Decode accepted but Reader refused: %v", err)
		}
	})
}
