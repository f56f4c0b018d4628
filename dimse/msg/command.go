// Package msg encodes and decodes DIMSE command sets, PS3.7 §9.3 and §E.1.
//
// A command set is a group 0000 data set, always in Implicit VR Little
// Endian, that starts with Command Group Length (0000,0000). Only the command
// elements of PS3.7 Annex E are interpreted; other group 0000 elements are
// kept and re-encoded unchanged. Decoding bounds every length against the
// bytes that remain and never panics.
package msg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MaxCommandSize bounds a command set. Real ones are below 1 KiB; the bound
// protects the receiver, which must buffer a whole command before decoding.
const MaxCommandSize = 64 << 10

// Field is the Command Field (0000,0100), PS3.7 §E.1.
type Field uint16

// Command field values, PS3.7 Annex E.
const (
	CStoreRQ  Field = 0x0001
	CStoreRSP Field = 0x8001
	CGetRQ    Field = 0x0010
	CGetRSP   Field = 0x8010
	CFindRQ   Field = 0x0020
	CFindRSP  Field = 0x8020
	CMoveRQ   Field = 0x0021
	CMoveRSP  Field = 0x8021
	CEchoRQ   Field = 0x0030
	CEchoRSP  Field = 0x8030
	CCancelRQ Field = 0x0FFF
)

func (f Field) String() string {
	switch f {
	case CStoreRQ:
		return "C-STORE-RQ"
	case CStoreRSP:
		return "C-STORE-RSP"
	case CGetRQ:
		return "C-GET-RQ"
	case CGetRSP:
		return "C-GET-RSP"
	case CFindRQ:
		return "C-FIND-RQ"
	case CFindRSP:
		return "C-FIND-RSP"
	case CMoveRQ:
		return "C-MOVE-RQ"
	case CMoveRSP:
		return "C-MOVE-RSP"
	case CEchoRQ:
		return "C-ECHO-RQ"
	case CEchoRSP:
		return "C-ECHO-RSP"
	case CCancelRQ:
		return "C-CANCEL-RQ"
	}
	return fmt.Sprintf("command 0x%04x", uint16(f))
}

// IsResponse reports whether the field is a response (bit 15 set).
func (f Field) IsResponse() bool { return f&0x8000 != 0 }

// NoDataSet is the Command Data Set Type value meaning "no data set", PS3.7 §E.1.
const NoDataSet uint16 = 0x0101

// Priorities, PS3.7 §E.1 (0000,0700).
const (
	PriorityMedium uint16 = 0x0000
	PriorityHigh   uint16 = 0x0001
	PriorityLow    uint16 = 0x0002
)

// Command element tags (group 0000), PS3.7 Table E.1-1.
const (
	TagGroupLength               uint16 = 0x0000
	TagAffectedSOPClassUID       uint16 = 0x0002
	TagRequestedSOPClassUID      uint16 = 0x0003
	TagCommandField              uint16 = 0x0100
	TagMessageID                 uint16 = 0x0110
	TagMessageIDBeingRespondedTo uint16 = 0x0120
	TagMoveDestination           uint16 = 0x0600
	TagPriority                  uint16 = 0x0700
	TagCommandDataSetType        uint16 = 0x0800
	TagStatus                    uint16 = 0x0900
	TagOffendingElement          uint16 = 0x0901
	TagErrorComment              uint16 = 0x0902
	TagErrorID                   uint16 = 0x0903
	TagAffectedSOPInstanceUID    uint16 = 0x1000
	TagRequestedSOPInstanceUID   uint16 = 0x1001
	TagMoveOriginatorAE          uint16 = 0x1030
	TagMoveOriginatorMessageID   uint16 = 0x1031
)

// Command is a decoded command set. Fields absent from the wire are zero;
// Has tells which were present.
type Command struct {
	Field                  Field
	MessageID              uint16
	MessageIDRespondedTo   uint16
	AffectedSOPClassUID    string
	AffectedSOPInstanceUID string
	Priority               uint16
	// WithDataSet says a data set follows the command; it is encoded as
	// Command Data Set Type 0x0000, its absence as 0x0101 (PS3.7 §E.1).
	WithDataSet bool
	// DataSetType is the value decoded from the wire.
	DataSetType         uint16
	Status              uint16
	ErrorComment        string
	OffendingElements   []uint32
	ErrorID             uint16
	MoveOriginatorAE    string
	MoveOriginatorMsgID uint16
	// Other holds group 0000 elements not listed above, by element number.
	Other map[uint16][]byte
	has   map[uint16]bool
}

// Has reports whether the element (0000,elem) was present when decoded or set.
func (c *Command) Has(elem uint16) bool { return c.has[elem] }

// HasDataSet reports whether a data set follows the command.
func (c *Command) HasDataSet() bool { return c.WithDataSet }

func (c *Command) mark(elem uint16) {
	if c.has == nil {
		c.has = map[uint16]bool{}
	}
	c.has[elem] = true
}

// Errors returned by Decode.
var ErrMalformed = errors.New("malformed DIMSE command set")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Encode returns the command set in Implicit VR Little Endian with a correct
// Command Group Length. Which elements are written follows PS3.7 Annex 9
// tables for the command: requests carry Message ID and (C-STORE) Priority,
// responses the Message ID Being Responded To and Status.
func (c *Command) Encode() []byte {
	type el struct {
		tag uint16
		val []byte
	}
	var els []el
	u16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	uid := func(s string) []byte {
		b := []byte(s)
		if len(b)%2 == 1 {
			b = append(b, 0)
		}
		return b
	}
	str := func(s string) []byte {
		b := []byte(s)
		if len(b)%2 == 1 {
			b = append(b, ' ')
		}
		return b
	}
	if c.AffectedSOPClassUID != "" {
		els = append(els, el{TagAffectedSOPClassUID, uid(c.AffectedSOPClassUID)})
	}
	els = append(els, el{TagCommandField, u16(uint16(c.Field))})
	if c.Field.IsResponse() {
		els = append(els, el{TagMessageIDBeingRespondedTo, u16(c.MessageIDRespondedTo)})
	} else {
		els = append(els, el{TagMessageID, u16(c.MessageID)})
	}
	if c.Field == CStoreRQ || c.Field == CFindRQ || c.Field == CMoveRQ || c.Field == CGetRQ || c.Has(TagPriority) {
		els = append(els, el{TagPriority, u16(c.Priority)})
	}
	dst := NoDataSet
	if c.WithDataSet {
		dst = 0x0000
	}
	els = append(els, el{TagCommandDataSetType, u16(dst)})
	if c.Field.IsResponse() {
		els = append(els, el{TagStatus, u16(c.Status)})
	}
	if len(c.OffendingElements) > 0 {
		var b []byte
		for _, t := range c.OffendingElements {
			b = binary.LittleEndian.AppendUint16(b, uint16(t>>16))
			b = binary.LittleEndian.AppendUint16(b, uint16(t))
		}
		els = append(els, el{TagOffendingElement, b})
	}
	if c.ErrorComment != "" {
		s := c.ErrorComment
		if len(s) > 64 { // LO: at most 64 characters
			s = s[:64]
		}
		els = append(els, el{TagErrorComment, str(s)})
	}
	if c.Has(TagErrorID) {
		els = append(els, el{TagErrorID, u16(c.ErrorID)})
	}
	if c.AffectedSOPInstanceUID != "" {
		els = append(els, el{TagAffectedSOPInstanceUID, uid(c.AffectedSOPInstanceUID)})
	}
	if c.MoveOriginatorAE != "" {
		els = append(els, el{TagMoveOriginatorAE, str(c.MoveOriginatorAE)})
		els = append(els, el{TagMoveOriginatorMessageID, u16(c.MoveOriginatorMsgID)})
	}
	for tag, v := range c.Other {
		els = append(els, el{tag, v})
	}
	sort.Slice(els, func(i, j int) bool { return els[i].tag < els[j].tag })
	n := 0
	for _, e := range els {
		n += 8 + len(e.val)
	}
	b := make([]byte, 0, 12+n)
	b = append(b, 0, 0, 0, 0, 4, 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	for _, e := range els {
		b = append(b, 0, 0, byte(e.tag), byte(e.tag>>8))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e.val)))
		b = append(b, e.val...)
	}
	return b
}

// Decode parses a command set. It requires Command Field; other missing
// elements are the receiving service's business (it answers with a status).
func Decode(b []byte) (*Command, error) {
	if len(b) > MaxCommandSize {
		return nil, malformed("%d bytes, limit %d", len(b), MaxCommandSize)
	}
	c := &Command{}
	off := 0
	for off < len(b) {
		if len(b)-off < 8 {
			return nil, malformed("element header truncated at offset %d", off)
		}
		group := binary.LittleEndian.Uint16(b[off:])
		elem := binary.LittleEndian.Uint16(b[off+2:])
		n := binary.LittleEndian.Uint32(b[off+4:])
		off += 8
		if group != 0 {
			return nil, malformed("element (%04x,%04x) at offset %d is outside group 0000", group, elem, off-8)
		}
		if uint64(n) > uint64(len(b)-off) {
			return nil, malformed("element (0000,%04x) length %d with %d bytes left", elem, n, len(b)-off)
		}
		v := b[off : off+int(n)]
		off += int(n)
		if c.Has(elem) {
			return nil, malformed("element (0000,%04x) repeated", elem)
		}
		c.mark(elem)
		needU16 := func() (uint16, error) {
			if len(v) != 2 {
				return 0, malformed("element (0000,%04x) has %d bytes, want 2 (US)", elem, len(v))
			}
			return binary.LittleEndian.Uint16(v), nil
		}
		var err error
		switch elem {
		case TagGroupLength:
			if len(v) != 4 {
				return nil, malformed("Command Group Length has %d bytes, want 4", len(v))
			}
			if gl := binary.LittleEndian.Uint32(v); uint64(gl) != uint64(len(b)-off) {
				return nil, malformed("Command Group Length %d but %d bytes follow", gl, len(b)-off)
			}
		case TagAffectedSOPClassUID, TagRequestedSOPClassUID:
			if c.AffectedSOPClassUID == "" {
				c.AffectedSOPClassUID = trimValue(v)
			}
		case TagAffectedSOPInstanceUID, TagRequestedSOPInstanceUID:
			if c.AffectedSOPInstanceUID == "" {
				c.AffectedSOPInstanceUID = trimValue(v)
			}
		case TagCommandField:
			var f uint16
			f, err = needU16()
			c.Field = Field(f)
		case TagMessageID:
			c.MessageID, err = needU16()
		case TagMessageIDBeingRespondedTo:
			c.MessageIDRespondedTo, err = needU16()
		case TagPriority:
			c.Priority, err = needU16()
		case TagCommandDataSetType:
			c.DataSetType, err = needU16()
			c.WithDataSet = c.DataSetType != NoDataSet
		case TagStatus:
			c.Status, err = needU16()
		case TagErrorID:
			c.ErrorID, err = needU16()
		case TagMoveOriginatorMessageID:
			c.MoveOriginatorMsgID, err = needU16()
		case TagErrorComment:
			c.ErrorComment = trimValue(v)
		case TagMoveOriginatorAE:
			c.MoveOriginatorAE = trimValue(v)
		case TagOffendingElement:
			if len(v)%4 != 0 {
				return nil, malformed("Offending Element has %d bytes, not a multiple of 4 (AT)", len(v))
			}
			for i := 0; i < len(v); i += 4 {
				c.OffendingElements = append(c.OffendingElements,
					uint32(binary.LittleEndian.Uint16(v[i:]))<<16|uint32(binary.LittleEndian.Uint16(v[i+2:])))
			}
		default:
			if c.Other == nil {
				c.Other = map[uint16][]byte{}
			}
			c.Other[elem] = append([]byte(nil), v...)
		}
		if err != nil {
			return nil, err
		}
	}
	if !c.Has(TagCommandField) {
		return nil, malformed("no Command Field (0000,0100)")
	}
	if !c.Has(TagCommandDataSetType) {
		return nil, malformed("%s without Command Data Set Type (0000,0800)", c.Field)
	}
	return c, nil
}

func trimValue(v []byte) string { return strings.TrimRight(string(v), "\x00 ") }
