package hdf5

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Class is a datatype class (§IV.A.2.d).
type Class uint8

// The datatype classes.
const (
	FixedPoint Class = 0
	Float      Class = 1
	Time       Class = 2
	String     Class = 3
	Bitfield   Class = 4
	Opaque     Class = 5
	Compound   Class = 6
	Reference  Class = 7
	Enum       Class = 8
	VarLen     Class = 9
	Array      Class = 10
)

var classNames = [...]string{"fixed-point", "floating-point", "time", "string", "bitfield", "opaque",
	"compound", "reference", "enumeration", "variable-length", "array"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class %d", c)
}

// Datatype describes the elements of a dataset as stored in the file.
type Datatype struct {
	Class     Class
	Size      uint32 // bytes of one element in the file
	BigEndian bool   // fixed-point and floating-point
	Signed    bool   // fixed-point
	VarString bool   // variable-length: a string rather than a sequence
	Members   []Member
	Base      *Datatype // variable-length, array and enumeration
	Dims      []uint32  // array
}

// Member is one field of a compound datatype.
type Member struct {
	Name   string
	Offset uint32
	Type   *Datatype
}

// maxElement bounds the size of one element; ISMRMRD's largest is a few
// hundred bytes.
const maxElement = 1 << 20

// Member returns the compound member called name, or nil.
func (t *Datatype) Member(name string) *Member {
	for i := range t.Members {
		if t.Members[i].Name == name {
			return &t.Members[i]
		}
	}
	return nil
}

func (t *Datatype) String() string {
	switch t.Class {
	case FixedPoint:
		s := "u"
		if t.Signed {
			s = "i"
		}
		return fmt.Sprintf("%s%d", s, 8*t.Size)
	case Float:
		return fmt.Sprintf("f%d", 8*t.Size)
	case VarLen:
		if t.VarString {
			return "vlen string"
		}
		return "vlen " + t.Base.String()
	case Array:
		return fmt.Sprintf("%v %v", t.Dims, t.Base)
	}
	return fmt.Sprintf("%v (%d bytes)", t.Class, t.Size)
}

// parseDatatype decodes one datatype message body (§IV.A.2.d), nested
// members and bases included.
func parseDatatype(d *decoder, depth int) (*Datatype, error) {
	if depth > maxTypeDepth {
		return nil, fmt.Errorf("%w: datatypes nested deeper than %d", ErrFormat, maxTypeDepth)
	}
	cv := d.u8()
	bits := d.bytes(3)
	size := d.u32()
	if d.err != nil {
		return nil, fmt.Errorf("%w: datatype: %v", ErrFormat, d.err)
	}
	t := &Datatype{Class: Class(cv & 0x0f), Size: size}
	version := cv >> 4
	if size > maxElement {
		return nil, fmt.Errorf("%w: %v datatype of %d bytes", ErrFormat, t.Class, size)
	}
	b0, b1 := bits[0], bits[1]
	switch t.Class {
	case FixedPoint:
		t.BigEndian, t.Signed = b0&1 != 0, b0&8 != 0
		d.skip(4)
	case Float:
		if b0&0x40 != 0 {
			return nil, fmt.Errorf("%w: VAX-order floating point", ErrUnsupported)
		}
		t.BigEndian = b0&1 != 0
		d.skip(12)
	case Time:
		t.BigEndian = b0&1 != 0
		d.skip(2)
	case String, Reference:
	case Bitfield:
		d.skip(4)
	case Opaque:
		d.skip(int(b0)) // the tag, NUL-padded to a multiple of 8
	case Compound:
		n := int(b0) | int(b1)<<8
		if n > int(size) && size > 0 || n > 1<<12 {
			return nil, fmt.Errorf("%w: compound of %d bytes with %d members", ErrFormat, size, n)
		}
		for i := 0; i < n; i++ {
			m, err := parseMember(d, version, size, depth)
			if err != nil {
				return nil, err
			}
			if uint64(m.Offset)+uint64(m.Type.Size) > uint64(size) {
				return nil, fmt.Errorf("%w: compound member %q at %d of %d bytes overruns the %d-byte compound", ErrFormat, m.Name, m.Offset, m.Type.Size, size)
			}
			t.Members = append(t.Members, m)
		}
	case Enum:
		n := int(b0) | int(b1)<<8
		base, err := parseDatatype(d, depth+1)
		if err != nil {
			return nil, err
		}
		t.Base = base
		for i := 0; i < n && d.err == nil; i++ {
			d.cstring(version < 3)
		}
		if need, ok := mul(uint64(n), uint64(base.Size), uint64(d.left())); !ok {
			return nil, fmt.Errorf("%w: enumeration of %d values overruns its message", ErrFormat, n)
		} else {
			d.skip(int(need))
		}
	case VarLen:
		t.VarString = b0&0x0f == 1
		base, err := parseDatatype(d, depth+1)
		if err != nil {
			return nil, err
		}
		t.Base = base
	case Array:
		rank := int(d.u8())
		if rank < 1 || rank > maxRank {
			return nil, fmt.Errorf("%w: array of rank %d", ErrFormat, rank)
		}
		if version < 3 {
			d.skip(3)
		}
		count := uint64(1)
		for i := 0; i < rank; i++ {
			n := d.u32()
			t.Dims = append(t.Dims, n)
			count, _ = mul(count, uint64(n), math.MaxUint32)
		}
		if version < 3 {
			d.skip(4 * rank) // permutation indices
		}
		base, err := parseDatatype(d, depth+1)
		if err != nil {
			return nil, err
		}
		t.Base = base
		if n, ok := mul(count, uint64(base.Size), maxElement); !ok || n != uint64(size) {
			return nil, fmt.Errorf("%w: array %v of %d-byte elements is not %d bytes", ErrFormat, t.Dims, base.Size, size)
		}
	default:
		return nil, fmt.Errorf("%w: datatype class %d", ErrFormat, t.Class)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v datatype: %v", ErrFormat, t.Class, d.err)
	}
	return t, nil
}

// parseMember decodes one compound member: version 1 (padded name, offset,
// an old-style array description, type), 2 (padded name, offset, type) or
// 3 (name, offset in as few bytes as the compound's size needs, type).
func parseMember(d *decoder, version uint8, size uint32, depth int) (Member, error) {
	var m Member
	m.Name = d.cstring(version < 3)
	switch version {
	case 1:
		m.Offset = d.u32()
		rank := int(d.u8())
		d.skip(3 + 4 + 4)
		var dims [4]uint32
		for i := range dims {
			dims[i] = d.u32()
		}
		t, err := parseDatatype(d, depth+1)
		if err != nil {
			return m, err
		}
		if rank > 4 {
			return m, fmt.Errorf("%w: compound member %q of rank %d", ErrFormat, m.Name, rank)
		}
		if rank > 0 {
			count := uint64(1)
			for _, n := range dims[:rank] {
				count, _ = mul(count, uint64(n), math.MaxUint32)
			}
			total, ok := mul(count, uint64(t.Size), maxElement)
			if !ok {
				return m, fmt.Errorf("%w: compound member %q too large", ErrFormat, m.Name)
			}
			t = &Datatype{Class: Array, Size: uint32(total), Dims: append([]uint32(nil), dims[:rank]...), Base: t}
		}
		m.Type = t
	case 2, 3:
		if version == 2 {
			m.Offset = d.u32()
		} else {
			n := 1
			for size >= 1<<(8*n) && n < 4 {
				n++
			}
			m.Offset = uint32(d.uint(n))
		}
		t, err := parseDatatype(d, depth+1)
		if err != nil {
			return m, err
		}
		m.Type = t
	default:
		return m, fmt.Errorf("%w: compound datatype version %d", ErrFormat, version)
	}
	if d.err != nil {
		return m, fmt.Errorf("%w: compound member: %v", ErrFormat, d.err)
	}
	return m, nil
}

func (t *Datatype) order() binary.ByteOrder {
	if t.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// Uint decodes one fixed-point element of 1, 2, 4 or 8 bytes (a signed one
// must not be negative).
func (t *Datatype) Uint(b []byte) (uint64, bool) {
	if t.Class != FixedPoint || len(b) < int(t.Size) {
		return 0, false
	}
	var v uint64
	switch t.Size {
	case 1:
		v = uint64(b[0])
		if t.Signed && int8(b[0]) < 0 {
			return 0, false
		}
	case 2:
		u := t.order().Uint16(b)
		if t.Signed && int16(u) < 0 {
			return 0, false
		}
		v = uint64(u)
	case 4:
		u := t.order().Uint32(b)
		if t.Signed && int32(u) < 0 {
			return 0, false
		}
		v = uint64(u)
	case 8:
		v = t.order().Uint64(b)
		if t.Signed && int64(v) < 0 {
			return 0, false
		}
	default:
		return 0, false
	}
	return v, true
}

// Int decodes one fixed-point element as a signed value.
func (t *Datatype) Int(b []byte) (int64, bool) {
	if t.Class != FixedPoint || len(b) < int(t.Size) {
		return 0, false
	}
	switch t.Size {
	case 1:
		if t.Signed {
			return int64(int8(b[0])), true
		}
		return int64(b[0]), true
	case 2:
		u := t.order().Uint16(b)
		if t.Signed {
			return int64(int16(u)), true
		}
		return int64(u), true
	case 4:
		u := t.order().Uint32(b)
		if t.Signed {
			return int64(int32(u)), true
		}
		return int64(u), true
	case 8:
		u := t.order().Uint64(b)
		if !t.Signed && u > math.MaxInt64 {
			return 0, false
		}
		return int64(u), true
	}
	return 0, false
}

// Float64 decodes one element of a 4- or 8-byte floating-point type, or of
// a fixed-point type.
func (t *Datatype) Float64(b []byte) (float64, bool) {
	if len(b) < int(t.Size) {
		return 0, false
	}
	switch {
	case t.Class == Float && t.Size == 4:
		return float64(math.Float32frombits(t.order().Uint32(b))), true
	case t.Class == Float && t.Size == 8:
		return math.Float64frombits(t.order().Uint64(b)), true
	case t.Class == FixedPoint:
		v, ok := t.Int(b)
		return float64(v), ok
	}
	return 0, false
}

// Count is the number of base elements of an array type, 1 for others.
func (t *Datatype) Count() int {
	if t.Class != Array {
		return 1
	}
	return int(t.Size / max(t.Base.Size, 1))
}
