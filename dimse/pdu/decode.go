package pdu

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Reader reads PDUs from a byte stream. It owns one buffer that grows up to
// the largest PDU accepted so far and is reused, so a long transfer of
// P-DATA-TF PDUs allocates nothing per PDU.
type Reader struct {
	r io.Reader
	// MaxPData bounds the length field of P-DATA-TF PDUs: the maximum length
	// this node announced in its user information (PS3.8 §D.1) plus a small
	// allowance, since the announced value counts only the PDV items.
	MaxPData uint32
	// MaxControl bounds the other PDUs; zero means DefaultMaxControlPDU.
	MaxControl uint32
	hdr        [HeaderSize]byte
	buf        []byte
	pdata      PData
}

// NewReader returns a reader that accepts P-DATA-TF PDUs up to maxPData bytes.
func NewReader(r io.Reader, maxPData uint32) *Reader {
	return &Reader{r: r, MaxPData: maxPData}
}

// Header reads only the next PDU header. It is exposed for callers that want
// to account for partial reads; most callers use Next.
func (rd *Reader) header() (Type, uint32, error) {
	if _, err := io.ReadFull(rd.r, rd.hdr[:]); err != nil {
		return 0, 0, err
	}
	return Type(rd.hdr[0]), binary.BigEndian.Uint32(rd.hdr[2:6]), nil
}

// Next reads and decodes the next PDU. For a P-DATA-TF the returned value and
// the PDV data alias the reader's buffers and are valid until the next call.
// A PDU whose length exceeds the limit is rejected after reading only its
// header; the error wraps ErrTooLarge and the stream is then unusable.
func (rd *Reader) Next() (PDU, error) {
	typ, n, err := rd.header()
	if err != nil {
		return nil, err
	}
	limit := rd.MaxControl
	if limit == 0 {
		limit = DefaultMaxControlPDU
	}
	switch typ {
	case TypePData:
		limit = rd.MaxPData
		if limit == 0 {
			limit = 1<<32 - 1
		}
	case TypeAssociateRQ, TypeAssociateAC:
	case TypeAssociateRJ, TypeReleaseRQ, TypeReleaseRP, TypeAbort:
		limit = 4 // fixed length PDUs (PS3.8 Tables 9-21, 9-24, 9-25, 9-26)
	default:
		return nil, fmt.Errorf("%w 0x%02x (length %d)", ErrUnknownType, byte(typ), n)
	}
	if n > limit {
		return nil, fmt.Errorf("%w: %s of %d bytes, limit %d", ErrTooLarge, typ, n, limit)
	}
	body, err := rd.body(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading %s body of %d bytes: %w", typ, n, err)
	}
	if typ == TypePData {
		items, err := decodePDVs(rd.pdata.Items[:0], body)
		if err != nil {
			return nil, err
		}
		rd.pdata.Items = items
		return &rd.pdata, nil
	}
	return decodeBody(typ, body)
}

// readChunk is the most a PDU body grows by before those bytes have
// arrived.
const readChunk = 64 << 10

// body reads a PDU body of n bytes into the reader's buffer. The length field
// is the peer's claim, not a fact: the buffer grows (at most doubling) only
// as bytes arrive, so a peer that announces a large PDU and sends nothing
// costs at most readChunk bytes beyond what it did send, however large the
// limit. A buffer already grown by earlier PDUs is reused.
func (rd *Reader) body(n uint32) ([]byte, error) {
	b := rd.buf[:0]
	for uint32(len(b)) < n {
		k := min(int(n)-len(b), readChunk)
		if cap(b)-len(b) < k {
			// Grow to hold this chunk: at least double, never past n.
			nc := min(max(2*cap(b), len(b)+k), int(n))
			nb := make([]byte, len(b), nc)
			copy(nb, b)
			b = nb
			rd.buf = nb
		}
		m, err := io.ReadFull(rd.r, b[len(b):len(b)+k])
		b = b[:len(b)+m]
		if err != nil {
			if err == io.EOF && len(b) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return b, nil
}

// Decode decodes one complete PDU held in b (header included). The result
// does not alias b except for PDV data.
func Decode(b []byte) (PDU, error) {
	if len(b) < HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a PDU header", ErrMalformed, len(b))
	}
	typ := Type(b[0])
	n := binary.BigEndian.Uint32(b[2:6])
	if uint64(n) != uint64(len(b)-HeaderSize) {
		return nil, fmt.Errorf("%w: %s length field %d but %d bytes follow", ErrMalformed, typ, n, len(b)-HeaderSize)
	}
	if typ == TypePData {
		items, err := decodePDVs(nil, b[HeaderSize:])
		if err != nil {
			return nil, err
		}
		return &PData{Items: items}, nil
	}
	return decodeBody(typ, b[HeaderSize:])
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func decodeBody(typ Type, body []byte) (PDU, error) {
	switch typ {
	case TypeAssociateRQ:
		return decodeAssociateRQ(body)
	case TypeAssociateAC:
		return decodeAssociateAC(body)
	case TypeAssociateRJ:
		if len(body) != 4 {
			return nil, malformed("A-ASSOCIATE-RJ length %d, want 4", len(body))
		}
		return &AssociateRJ{Result: body[1], Source: body[2], Reason: body[3]}, nil
	case TypeReleaseRQ:
		if len(body) != 4 {
			return nil, malformed("A-RELEASE-RQ length %d, want 4", len(body))
		}
		return &ReleaseRQ{}, nil
	case TypeReleaseRP:
		if len(body) != 4 {
			return nil, malformed("A-RELEASE-RP length %d, want 4", len(body))
		}
		return &ReleaseRP{}, nil
	case TypeAbort:
		if len(body) != 4 {
			return nil, malformed("A-ABORT length %d, want 4", len(body))
		}
		return &Abort{Source: body[2], Reason: body[3]}, nil
	}
	return nil, fmt.Errorf("%w 0x%02x", ErrUnknownType, byte(typ))
}

// decodePDVs splits a P-DATA-TF body into PDV items (PS3.8 §9.3.5.1).
func decodePDVs(dst []PDV, b []byte) ([]PDV, error) {
	if len(b) == 0 {
		return nil, malformed("P-DATA-TF without PDV items")
	}
	for len(b) > 0 {
		if len(b) < 6 {
			return nil, malformed("PDV item header truncated (%d bytes left)", len(b))
		}
		n := binary.BigEndian.Uint32(b[:4])
		if n < 2 || uint64(n) > uint64(len(b)-4) {
			return nil, malformed("PDV item length %d with %d bytes left", n, len(b)-4)
		}
		dst = append(dst, PDV{ContextID: b[4], Header: b[5], Data: b[6 : 4+n]})
		b = b[4+n:]
	}
	return dst, nil
}

// item is one variable item: type, reserved byte, 16-bit length, value.
type item struct {
	typ   byte
	value []byte
}

// items iterates over the variable items in b, each bounded by what remains.
func items(b []byte, where string) ([]item, error) {
	var out []item
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, malformed("%s: item header truncated (%d bytes left)", where, len(b))
		}
		n := int(binary.BigEndian.Uint16(b[2:4]))
		if n > len(b)-4 {
			return nil, malformed("%s: item 0x%02x length %d with %d bytes left", where, b[0], n, len(b)-4)
		}
		out = append(out, item{typ: b[0], value: b[4 : 4+n]})
		b = b[4+n:]
	}
	return out, nil
}

// assocFixed decodes the fixed part shared by A-ASSOCIATE-RQ and -AC (PS3.8
// Tables 9-11 and 9-17) and returns the variable items.
func assocFixed(typ Type, b []byte) (version uint16, called, calling string, its []item, err error) {
	if len(b) < 68 {
		return 0, "", "", nil, malformed("%s fixed fields truncated (%d of 68 bytes)", typ, len(b))
	}
	version = binary.BigEndian.Uint16(b[0:2])
	called = TrimAE(b[4:20])
	calling = TrimAE(b[20:36])
	its, err = items(b[68:], typ.String())
	return
}

func decodeAssociateRQ(b []byte) (*AssociateRQ, error) {
	v, called, calling, its, err := assocFixed(TypeAssociateRQ, b)
	if err != nil {
		return nil, err
	}
	p := &AssociateRQ{ProtocolVersion: v, CalledAE: called, CallingAE: calling}
	seenUI := false
	for _, it := range its {
		switch it.typ {
		case 0x10:
			p.ApplicationContext = trimUID(it.value)
		case 0x20:
			pc, err := decodePCRQ(it.value)
			if err != nil {
				return nil, err
			}
			p.PresentationContexts = append(p.PresentationContexts, pc)
		case 0x50:
			if seenUI {
				return nil, malformed("A-ASSOCIATE-RQ has two user information items")
			}
			seenUI = true
			if err := p.UserInfo.decode(it.value); err != nil {
				return nil, err
			}
		default:
			return nil, malformed("A-ASSOCIATE-RQ: unexpected item type 0x%02x", it.typ)
		}
	}
	if p.ApplicationContext == "" {
		return nil, malformed("A-ASSOCIATE-RQ without application context item")
	}
	if !seenUI {
		return nil, malformed("A-ASSOCIATE-RQ without user information item")
	}
	return p, nil
}

func decodeAssociateAC(b []byte) (*AssociateAC, error) {
	v, called, calling, its, err := assocFixed(TypeAssociateAC, b)
	if err != nil {
		return nil, err
	}
	p := &AssociateAC{ProtocolVersion: v, CalledAE: called, CallingAE: calling}
	for _, it := range its {
		switch it.typ {
		case 0x10:
			p.ApplicationContext = trimUID(it.value)
		case 0x21:
			if len(it.value) < 4 {
				return nil, malformed("presentation context AC item of %d bytes", len(it.value))
			}
			pc := PresentationContextAC{ID: it.value[0], Result: it.value[2]}
			subs, err := items(it.value[4:], "presentation context AC")
			if err != nil {
				return nil, err
			}
			for _, s := range subs {
				if s.typ == 0x40 {
					pc.TransferSyntax = trimUID(s.value)
				}
			}
			p.PresentationContexts = append(p.PresentationContexts, pc)
		case 0x50:
			if err := p.UserInfo.decode(it.value); err != nil {
				return nil, err
			}
		default:
			return nil, malformed("A-ASSOCIATE-AC: unexpected item type 0x%02x", it.typ)
		}
	}
	return p, nil
}

func decodePCRQ(b []byte) (PresentationContextRQ, error) {
	var pc PresentationContextRQ
	if len(b) < 4 {
		return pc, malformed("presentation context RQ item of %d bytes", len(b))
	}
	pc.ID = b[0]
	subs, err := items(b[4:], "presentation context RQ")
	if err != nil {
		return pc, err
	}
	for _, s := range subs {
		switch s.typ {
		case 0x30:
			pc.AbstractSyntax = trimUID(s.value)
		case 0x40:
			pc.TransferSyntaxes = append(pc.TransferSyntaxes, trimUID(s.value))
		default:
			return pc, malformed("presentation context %d: unexpected sub-item 0x%02x", pc.ID, s.typ)
		}
	}
	return pc, nil
}

// u16str reads a 16-bit length followed by that many bytes.
func u16str(b []byte, what string) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, malformed("%s: length truncated", what)
	}
	n := int(binary.BigEndian.Uint16(b))
	if n > len(b)-2 {
		return "", nil, malformed("%s: length %d with %d bytes left", what, n, len(b)-2)
	}
	return string(b[2 : 2+n]), b[2+n:], nil
}

func (u *UserInfo) decode(b []byte) error {
	subs, err := items(b, "user information")
	if err != nil {
		return err
	}
	for _, s := range subs {
		v := s.value
		switch s.typ {
		case 0x51:
			if len(v) != 4 {
				return malformed("maximum length sub-item of %d bytes", len(v))
			}
			u.MaxLength = binary.BigEndian.Uint32(v)
		case 0x52:
			u.ImplementationClassUID = trimUID(v)
		case 0x53:
			if len(v) != 4 {
				return malformed("asynchronous operations window sub-item of %d bytes", len(v))
			}
			u.AsyncOpsWindow = &[2]uint16{binary.BigEndian.Uint16(v[0:2]), binary.BigEndian.Uint16(v[2:4])}
		case 0x54:
			uid, rest, err := u16str(v, "role selection")
			if err != nil {
				return err
			}
			if len(rest) != 2 {
				return malformed("role selection for %s: %d role bytes", uid, len(rest))
			}
			u.RoleSelections = append(u.RoleSelections, RoleSelection{SOPClassUID: trimUID([]byte(uid)), SCU: rest[0] == 1, SCP: rest[1] == 1})
		case 0x55:
			u.ImplementationVersionName = string(v)
		case 0x56:
			uid, rest, err := u16str(v, "extended negotiation")
			if err != nil {
				return err
			}
			u.ExtendedNegotiations = append(u.ExtendedNegotiations, ExtendedNegotiation{SOPClassUID: trimUID([]byte(uid)), Info: append([]byte(nil), rest...)})
		case 0x57:
			e, err := decodeCommonExt(v)
			if err != nil {
				return err
			}
			u.CommonExtNegotiations = append(u.CommonExtNegotiations, e)
		case 0x58:
			if len(v) < 2 {
				return malformed("user identity sub-item of %d bytes", len(v))
			}
			id := &UserIdentityRQ{IdentityType: v[0], PositiveResponseRequired: v[1] == 1}
			p, rest, err := u16str(v[2:], "user identity primary field")
			if err != nil {
				return err
			}
			sec, rest, err := u16str(rest, "user identity secondary field")
			if err != nil {
				return err
			}
			if len(rest) != 0 {
				return malformed("user identity: %d trailing bytes", len(rest))
			}
			id.Primary, id.Secondary = []byte(p), []byte(sec)
			u.UserIdentity = id
		case 0x59:
			r, _, err := u16str(v, "user identity response")
			if err != nil {
				return err
			}
			u.HasUserIdentityAC = true
			u.UserIdentityResponse = []byte(r)
		default:
			// Unknown sub-items are kept, not rejected: PS3.7 §D.3.3 lets
			// peers add items that an acceptor ignores.
			u.Unknown = append(u.Unknown, RawItem{Type: s.typ, Value: append([]byte(nil), v...)})
		}
	}
	return nil
}

func decodeCommonExt(v []byte) (CommonExtendedNegotiation, error) {
	var e CommonExtendedNegotiation
	sop, rest, err := u16str(v, "common extended negotiation SOP class")
	if err != nil {
		return e, err
	}
	svc, rest, err := u16str(rest, "common extended negotiation service class")
	if err != nil {
		return e, err
	}
	rel, rest, err := u16str(rest, "common extended negotiation related classes")
	if err != nil {
		return e, err
	}
	if len(rest) != 0 {
		return e, malformed("common extended negotiation: %d trailing bytes", len(rest))
	}
	e.SOPClassUID, e.ServiceClassUID = trimUID([]byte(sop)), trimUID([]byte(svc))
	rb := []byte(rel)
	for len(rb) > 0 {
		var r string
		r, rb, err = u16str(rb, "related general SOP class")
		if err != nil {
			return e, err
		}
		e.RelatedClasses = append(e.RelatedClasses, trimUID([]byte(r)))
	}
	return e, nil
}
