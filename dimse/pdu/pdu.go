// Package pdu encodes and decodes the protocol data units of the DICOM upper
// layer, PS3.8 §9.3 (PDU structure) and Annex D (user information items).
//
// Every length read from the wire is checked against the bytes that remain in
// its enclosing PDU or item, and the PDU length itself against a caller-given
// maximum, before anything is allocated. Decoding never panics on malformed
// input; it returns an error that names the offending field.
package pdu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// Type is the PDU-type field, PS3.8 Table 9-11 and following.
type Type byte

// PDU types, PS3.8 §9.3.1.
const (
	TypeAssociateRQ Type = 0x01
	TypeAssociateAC Type = 0x02
	TypeAssociateRJ Type = 0x03
	TypePData       Type = 0x04
	TypeReleaseRQ   Type = 0x05
	TypeReleaseRP   Type = 0x06
	TypeAbort       Type = 0x07
)

func (t Type) String() string {
	switch t {
	case TypeAssociateRQ:
		return "A-ASSOCIATE-RQ"
	case TypeAssociateAC:
		return "A-ASSOCIATE-AC"
	case TypeAssociateRJ:
		return "A-ASSOCIATE-RJ"
	case TypePData:
		return "P-DATA-TF"
	case TypeReleaseRQ:
		return "A-RELEASE-RQ"
	case TypeReleaseRP:
		return "A-RELEASE-RP"
	case TypeAbort:
		return "A-ABORT"
	}
	return fmt.Sprintf("PDU type 0x%02x", byte(t))
}

// HeaderSize is the fixed PDU header: type, reserved byte, 32-bit length.
const HeaderSize = 6

// DefaultMaxControlPDU bounds the association-control PDUs (A-ASSOCIATE-RQ/AC),
// whose size the standard does not negotiate. Real requests are a few KiB;
// user-identity items with Kerberos tickets or JWTs stay well below this.
const DefaultMaxControlPDU = 1 << 20

// ApplicationContext is the only DICOM application context name, PS3.7 Annex A.2.1.
const ApplicationContext = "1.2.840.10008.3.1.1.1"

// Errors returned by the decoder. They are wrapped with context.
var (
	ErrTooLarge    = errors.New("PDU length exceeds the limit")
	ErrUnknownType = errors.New("unrecognised PDU type")
	ErrMalformed   = errors.New("malformed PDU")
)

// PDU is one decoded protocol data unit.
type PDU interface {
	Type() Type
	// appendBody appends the variable part (after the 6-byte header).
	appendBody(b []byte) []byte
}

// PresentationContextRQ is a presentation context item of an A-ASSOCIATE-RQ
// (item type 0x20, PS3.8 §9.3.2.2).
type PresentationContextRQ struct {
	ID               byte
	AbstractSyntax   string
	TransferSyntaxes []string
}

// Presentation context results, PS3.8 Table 9-18.
const (
	ResultAcceptance                   byte = 0
	ResultUserRejection                byte = 1
	ResultNoReason                     byte = 2
	ResultAbstractSyntaxNotSupported   byte = 3
	ResultTransferSyntaxesNotSupported byte = 4
)

// PresentationContextAC is a presentation context item of an A-ASSOCIATE-AC
// (item type 0x21, PS3.8 §9.3.3.2).
type PresentationContextAC struct {
	ID             byte
	Result         byte
	TransferSyntax string
}

// RoleSelection is the SCP/SCU role selection sub-item (0x54), PS3.7 §D.3.3.4.
type RoleSelection struct {
	SOPClassUID string
	SCU, SCP    bool
}

// ExtendedNegotiation is the SOP class extended negotiation sub-item (0x56),
// PS3.7 §D.3.3.5. Its service-class application information is kept opaque.
type ExtendedNegotiation struct {
	SOPClassUID string
	Info        []byte
}

// CommonExtendedNegotiation is the SOP class common extended negotiation
// sub-item (0x57), PS3.7 §D.3.3.6.
type CommonExtendedNegotiation struct {
	SOPClassUID     string
	ServiceClassUID string
	RelatedClasses  []string
}

// UserIdentityRQ is the user identity negotiation sub-item (0x58), PS3.7 §D.3.3.7.
type UserIdentityRQ struct {
	IdentityType             byte // 1 username, 2 username+passcode, 3 Kerberos, 4 SAML, 5 JWT
	PositiveResponseRequired bool
	Primary, Secondary       []byte
}

// RawItem is a user information sub-item that this codec does not interpret;
// it is kept so that re-encoding is faithful.
type RawItem struct {
	Type  byte
	Value []byte
}

// UserInfo is the user information item (0x50), PS3.8 §9.3.2.3 and PS3.7 Annex D.
type UserInfo struct {
	MaxLength                 uint32 // 0 means unlimited (PS3.8 §D.1)
	ImplementationClassUID    string
	ImplementationVersionName string
	// AsyncOpsWindow holds max operations invoked and performed when present.
	AsyncOpsWindow        *[2]uint16
	RoleSelections        []RoleSelection
	ExtendedNegotiations  []ExtendedNegotiation
	CommonExtNegotiations []CommonExtendedNegotiation
	UserIdentity          *UserIdentityRQ
	UserIdentityResponse  []byte // sub-item 0x59, present in an A-ASSOCIATE-AC
	HasUserIdentityAC     bool
	Unknown               []RawItem
}

// AssociateRQ is the A-ASSOCIATE-RQ PDU, PS3.8 §9.3.2.
type AssociateRQ struct {
	ProtocolVersion      uint16
	CalledAE, CallingAE  string
	ApplicationContext   string
	PresentationContexts []PresentationContextRQ
	UserInfo             UserInfo
}

// AssociateAC is the A-ASSOCIATE-AC PDU, PS3.8 §9.3.3. The AE titles are
// echoed from the request and not significant.
type AssociateAC struct {
	ProtocolVersion      uint16
	CalledAE, CallingAE  string
	ApplicationContext   string
	PresentationContexts []PresentationContextAC
	UserInfo             UserInfo
}

// Reject results, sources and reasons, PS3.8 Table 9-21.
const (
	RejectPermanent byte = 1
	RejectTransient byte = 2

	RejectSourceUser             byte = 1 // DICOM UL service-user
	RejectSourceProviderACSE     byte = 2 // service-provider (ACSE related)
	RejectSourceProviderPresentn byte = 3 // service-provider (presentation related)

	// Source 1 reasons.
	RejectNoReason               byte = 1
	RejectAppContextNotSupported byte = 2
	RejectCallingAENotRecognized byte = 3
	RejectCalledAENotRecognized  byte = 7
	RejectProtocolVersionNotSupp byte = 2 // source 2
	RejectTemporaryCongestion    byte = 1 // source 3
	RejectLocalLimitExceeded     byte = 2 // source 3
	RejectNoReasonProviderACSE   byte = 1 // source 2
)

// AssociateRJ is the A-ASSOCIATE-RJ PDU, PS3.8 §9.3.4.
type AssociateRJ struct {
	Result, Source, Reason byte
}

// Message control header bits of a PDV, PS3.8 Annex E.2.
const (
	PDVCommand byte = 0x01 // fragment of a command set (else data set)
	PDVLast    byte = 0x02 // last fragment of the command or data set
)

// PDV is one presentation data value item of a P-DATA-TF, PS3.8 §9.3.5.1.
// When decoded by a Reader, Data aliases the reader's buffer and is valid
// only until the next call to Next.
type PDV struct {
	ContextID byte
	Header    byte
	Data      []byte
}

// IsCommand reports whether the PDV carries command-set bytes.
func (v PDV) IsCommand() bool { return v.Header&PDVCommand != 0 }

// IsLast reports whether the PDV carries the last fragment.
func (v PDV) IsLast() bool { return v.Header&PDVLast != 0 }

// PData is the P-DATA-TF PDU, PS3.8 §9.3.5.
type PData struct{ Items []PDV }

// ReleaseRQ is the A-RELEASE-RQ PDU, PS3.8 §9.3.6.
type ReleaseRQ struct{}

// ReleaseRP is the A-RELEASE-RP PDU, PS3.8 §9.3.7.
type ReleaseRP struct{}

// Abort sources and reasons, PS3.8 Table 9-26.
const (
	AbortSourceUser     byte = 0
	AbortSourceProvider byte = 2

	AbortNotSpecified         byte = 0
	AbortUnrecognizedPDU      byte = 1
	AbortUnexpectedPDU        byte = 2
	AbortUnrecognizedPDUParam byte = 4
	AbortUnexpectedPDUParam   byte = 5
	AbortInvalidPDUParamValue byte = 6
)

// Abort is the A-ABORT PDU, PS3.8 §9.3.8.
type Abort struct{ Source, Reason byte }

func (*AssociateRQ) Type() Type { return TypeAssociateRQ }
func (*AssociateAC) Type() Type { return TypeAssociateAC }
func (*AssociateRJ) Type() Type { return TypeAssociateRJ }
func (*PData) Type() Type       { return TypePData }
func (*ReleaseRQ) Type() Type   { return TypeReleaseRQ }
func (*ReleaseRP) Type() Type   { return TypeReleaseRP }
func (*Abort) Type() Type       { return TypeAbort }

// TrimAE removes the space padding of a 16-byte AE title field; leading and
// trailing spaces are not significant (PS3.8 §9.3.2).
func TrimAE(b []byte) string { return strings.Trim(string(b), " \x00") }

// trimUID removes trailing NUL padding that some peers add to UIDs in items.
func trimUID(b []byte) string { return strings.TrimRight(string(b), "\x00 ") }

// Encode returns the complete PDU, header included.
func Encode(p PDU) []byte {
	b := make([]byte, HeaderSize, 256)
	b = p.appendBody(b)
	b[0] = byte(p.Type())
	binary.BigEndian.PutUint32(b[2:6], uint32(len(b)-HeaderSize))
	return b
}

// Write encodes p and writes it to w.
func Write(w io.Writer, p PDU) error {
	_, err := w.Write(Encode(p))
	return err
}

// WritePData writes a P-DATA-TF PDU holding one PDV without copying data.
// It is the hot path of every transfer; header and data go out in one vectored write.
func WritePData(w io.Writer, contextID, header byte, data []byte) error {
	h := make([]byte, HeaderSize+6)
	h[0] = byte(TypePData)
	binary.BigEndian.PutUint32(h[2:6], uint32(len(data)+6))
	binary.BigEndian.PutUint32(h[6:10], uint32(len(data)+2))
	h[10] = contextID
	h[11] = header
	// net.Buffers uses writev on TCP connections: one system call, one
	// segment train, no copy of the fragment.
	bufs := net.Buffers{h, data}
	_, err := bufs.WriteTo(w)
	return err
}

func appendItem(b []byte, typ byte, value []byte) []byte {
	b = append(b, typ, 0, byte(len(value)>>8), byte(len(value)))
	return append(b, value...)
}

func appendStrItem(b []byte, typ byte, s string) []byte {
	b = append(b, typ, 0, byte(len(s)>>8), byte(len(s)))
	return append(b, s...)
}

// beginItem appends an item header with a placeholder length and returns the
// offset at which finishItem patches it.
func beginItem(b []byte, typ byte) ([]byte, int) {
	return append(b, typ, 0, 0, 0), len(b)
}

func finishItem(b []byte, at int) []byte {
	n := len(b) - at - 4
	b[at+2] = byte(n >> 8)
	b[at+3] = byte(n)
	return b
}

func appendAE(b []byte, ae string) []byte {
	var f [16]byte
	for i := range f {
		f[i] = ' '
	}
	copy(f[:], ae)
	return append(b, f[:]...)
}

func appendAssocHeader(b []byte, version uint16, called, calling, appCtx string) []byte {
	if version == 0 {
		version = 1
	}
	b = append(b, byte(version>>8), byte(version), 0, 0)
	b = appendAE(b, called)
	b = appendAE(b, calling)
	b = append(b, make([]byte, 32)...)
	if appCtx == "" {
		appCtx = ApplicationContext
	}
	return appendStrItem(b, 0x10, appCtx)
}

func (p *AssociateRQ) appendBody(b []byte) []byte {
	b = appendAssocHeader(b, p.ProtocolVersion, p.CalledAE, p.CallingAE, p.ApplicationContext)
	for _, pc := range p.PresentationContexts {
		var at int
		b, at = beginItem(b, 0x20)
		b = append(b, pc.ID, 0, 0, 0)
		b = appendStrItem(b, 0x30, pc.AbstractSyntax)
		for _, ts := range pc.TransferSyntaxes {
			b = appendStrItem(b, 0x40, ts)
		}
		b = finishItem(b, at)
	}
	return p.UserInfo.append(b)
}

func (p *AssociateAC) appendBody(b []byte) []byte {
	b = appendAssocHeader(b, p.ProtocolVersion, p.CalledAE, p.CallingAE, p.ApplicationContext)
	for _, pc := range p.PresentationContexts {
		var at int
		b, at = beginItem(b, 0x21)
		b = append(b, pc.ID, 0, pc.Result, 0)
		b = appendStrItem(b, 0x40, pc.TransferSyntax)
		b = finishItem(b, at)
	}
	return p.UserInfo.append(b)
}

func appendU16Str(b []byte, s string) []byte {
	b = append(b, byte(len(s)>>8), byte(len(s)))
	return append(b, s...)
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func (u *UserInfo) append(b []byte) []byte {
	b, at := beginItem(b, 0x50)
	b = appendItem(b, 0x51, binary.BigEndian.AppendUint32(nil, u.MaxLength))
	if u.ImplementationClassUID != "" {
		b = appendStrItem(b, 0x52, u.ImplementationClassUID)
	}
	if u.AsyncOpsWindow != nil {
		b = appendItem(b, 0x53, []byte{byte(u.AsyncOpsWindow[0] >> 8), byte(u.AsyncOpsWindow[0]),
			byte(u.AsyncOpsWindow[1] >> 8), byte(u.AsyncOpsWindow[1])})
	}
	for _, r := range u.RoleSelections {
		var it int
		b, it = beginItem(b, 0x54)
		b = appendU16Str(b, r.SOPClassUID)
		b = append(b, boolByte(r.SCU), boolByte(r.SCP))
		b = finishItem(b, it)
	}
	if u.ImplementationVersionName != "" {
		b = appendStrItem(b, 0x55, u.ImplementationVersionName)
	}
	for _, e := range u.ExtendedNegotiations {
		var it int
		b, it = beginItem(b, 0x56)
		b = appendU16Str(b, e.SOPClassUID)
		b = append(b, e.Info...)
		b = finishItem(b, it)
	}
	for _, e := range u.CommonExtNegotiations {
		var it int
		b, it = beginItem(b, 0x57)
		b = appendU16Str(b, e.SOPClassUID)
		b = appendU16Str(b, e.ServiceClassUID)
		n := 0
		for _, r := range e.RelatedClasses {
			n += 2 + len(r)
		}
		b = append(b, byte(n>>8), byte(n))
		for _, r := range e.RelatedClasses {
			b = appendU16Str(b, r)
		}
		b = finishItem(b, it)
	}
	if id := u.UserIdentity; id != nil {
		var it int
		b, it = beginItem(b, 0x58)
		b = append(b, id.IdentityType, boolByte(id.PositiveResponseRequired))
		b = append(b, byte(len(id.Primary)>>8), byte(len(id.Primary)))
		b = append(b, id.Primary...)
		b = append(b, byte(len(id.Secondary)>>8), byte(len(id.Secondary)))
		b = append(b, id.Secondary...)
		b = finishItem(b, it)
	}
	if u.HasUserIdentityAC {
		var it int
		b, it = beginItem(b, 0x59)
		b = append(b, byte(len(u.UserIdentityResponse)>>8), byte(len(u.UserIdentityResponse)))
		b = append(b, u.UserIdentityResponse...)
		b = finishItem(b, it)
	}
	for _, r := range u.Unknown {
		b = appendItem(b, r.Type, r.Value)
	}
	return finishItem(b, at)
}

func (p *AssociateRJ) appendBody(b []byte) []byte {
	return append(b, 0, p.Result, p.Source, p.Reason)
}

func (p *PData) appendBody(b []byte) []byte {
	for _, v := range p.Items {
		b = binary.BigEndian.AppendUint32(b, uint32(len(v.Data)+2))
		b = append(b, v.ContextID, v.Header)
		b = append(b, v.Data...)
	}
	return b
}

func (*ReleaseRQ) appendBody(b []byte) []byte { return append(b, 0, 0, 0, 0) }
func (*ReleaseRP) appendBody(b []byte) []byte { return append(b, 0, 0, 0, 0) }
func (p *Abort) appendBody(b []byte) []byte   { return append(b, 0, 0, p.Source, p.Reason) }
