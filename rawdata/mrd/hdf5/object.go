package hdf5

import (
	"fmt"
)

// Header message types (§IV.A.2).
const (
	msgNil          = 0x0000
	msgDataspace    = 0x0001
	msgLinkInfo     = 0x0002
	msgDatatype     = 0x0003
	msgFillValueOld = 0x0004
	msgFillValue    = 0x0005
	msgLink         = 0x0006
	msgExternal     = 0x0007
	msgLayout       = 0x0008
	msgGroupInfo    = 0x000A
	msgFilters      = 0x000B
	msgAttribute    = 0x000C
	msgContinuation = 0x0010
	msgSymbolTable  = 0x0011
)

// Message flag bit 1: the message is shared, stored elsewhere (§IV.A.2).
const msgFlagShared = 0x02

type message struct {
	typ   uint16
	flags uint8
	data  []byte
}

// object is a decoded object header: its messages in order, with the
// continuation blocks followed.
type object struct {
	addr uint64
	msgs []message
}

// find returns the first message of type t, or nil.
func (o *object) find(t uint16) *message {
	for i := range o.msgs {
		if o.msgs[i].typ == t {
			return &o.msgs[i]
		}
	}
	return nil
}

type block struct{ addr, n uint64 }

// object reads the object header at addr (§IV.A.1), version 1 or 2.
func (f *File) object(addr uint64) (*object, error) {
	if o, ok := f.objects[addr]; ok {
		return o, nil
	}
	pre, err := f.readUpTo(addr, 64, "object header")
	if err != nil {
		return nil, err
	}
	o := &object{addr: addr}
	if len(pre) >= 4 && string(pre[:4]) == "OHDR" {
		err = f.objectV2(o, pre)
	} else {
		err = f.objectV1(o, pre)
	}
	if err != nil {
		return nil, fmt.Errorf("object header at %d: %w", addr, err)
	}
	f.objects[addr] = o
	return o, nil
}

// objectV1: version, reserved, message count (2), reference count (4),
// header size (4), padded to 16; then messages of type (2), size (2),
// flags (1), reserved (3) and data, aligned to 8 bytes (§IV.A.1.a).
func (f *File) objectV1(o *object, pre []byte) error {
	d := newDecoder(f, pre)
	if v := d.u8(); d.err == nil && v != 1 {
		return fmt.Errorf("%w: object header version %d (want 1, or the OHDR signature of version 2)", ErrFormat, v)
	}
	d.skip(1)
	count := int(d.u16())
	d.skip(4)
	size := uint64(d.u32())
	if d.err != nil {
		return fmt.Errorf("%w: %v", ErrFormat, d.err)
	}
	return f.headerBlocks(o, block{o.addr + 16, size}, func(_ int, b []byte) ([]message, error) {
		var out []message
		bd := newDecoder(f, b)
		for bd.left() >= 8 && len(o.msgs)+len(out) < count {
			typ, n, flags := bd.u16(), int(bd.u16()), bd.u8()
			bd.skip(3)
			data := bd.bytes(n)
			if bd.err != nil {
				return nil, fmt.Errorf("%w: message of type %#x: %v", ErrFormat, typ, bd.err)
			}
			if pad := (8 - n%8) % 8; pad > 0 && bd.left() >= pad {
				bd.skip(pad)
			}
			out = append(out, message{typ, flags, data})
		}
		return out, nil
	})
}

// objectV2: "OHDR", version 2, flags, optional times and attribute phase
// change values, the size of chunk 0 in 1–8 bytes, messages of type (1),
// size (2), flags (1) [, creation order (2)] and data, a checksum; later
// chunks are "OCHK" blocks (§IV.A.1.b).
func (f *File) objectV2(o *object, pre []byte) error {
	d := newDecoder(f, pre)
	d.skip(4)
	if v := d.u8(); d.err == nil && v != 2 {
		return fmt.Errorf("%w: OHDR version %d", ErrFormat, v)
	}
	flags := d.u8()
	if flags&0x20 != 0 {
		d.skip(16)
	}
	if flags&0x10 != 0 {
		d.skip(4)
	}
	size := d.uint(1 << (flags & 3))
	if d.err != nil {
		return fmt.Errorf("%w: %v", ErrFormat, d.err)
	}
	hdr := 4
	if flags&0x04 != 0 { // creation order tracked
		hdr = 6
	}
	return f.headerBlocks(o, block{o.addr + uint64(d.off), size}, func(i int, b []byte) ([]message, error) {
		if i > 0 { // "OCHK", messages, checksum
			if len(b) < 8 || string(b[:4]) != "OCHK" {
				return nil, fmt.Errorf("%w: a continuation block lacks the OCHK signature", ErrFormat)
			}
			b = b[4 : len(b)-4]
		}
		var out []message
		bd := newDecoder(f, b)
		for bd.left() >= hdr {
			typ, n, mflags := uint16(bd.u8()), int(bd.u16()), bd.u8()
			bd.skip(hdr - 4)
			data := bd.bytes(n)
			if bd.err != nil {
				return nil, fmt.Errorf("%w: message of type %#x: %v", ErrFormat, typ, bd.err)
			}
			out = append(out, message{typ, mflags, data})
		}
		return out, nil
	})
}

// headerBlocks reads the blocks of an object header from first on,
// following continuation messages, each block at most once; messages
// decodes block i.
func (f *File) headerBlocks(o *object, first block, messages func(i int, b []byte) ([]message, error)) error {
	blocks := []block{first}
	seen := map[uint64]bool{}
	for i := 0; i < len(blocks); i++ {
		bl := blocks[i]
		if i >= maxHeaderBlocks || seen[bl.addr] {
			return fmt.Errorf("%w: continuation blocks loop or exceed %d", ErrFormat, maxHeaderBlocks)
		}
		seen[bl.addr] = true
		if bl.n > maxHeaderBlock {
			return fmt.Errorf("%w: header block of %d bytes", ErrFormat, bl.n)
		}
		b, err := f.read(bl.addr, bl.n, "object header block")
		if err != nil {
			return err
		}
		msgs, err := messages(i, b)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			o.msgs = append(o.msgs, m)
			if m.typ == msgContinuation {
				c, err := f.continuation(m.data)
				if err != nil {
					return err
				}
				blocks = append(blocks, c)
			}
		}
	}
	return nil
}

// continuation decodes §IV.A.2.q: the address and length of the next block.
func (f *File) continuation(data []byte) (block, error) {
	d := newDecoder(f, data)
	c := block{d.addr(), d.length()}
	if d.err != nil {
		return c, fmt.Errorf("%w: continuation message: %v", ErrFormat, d.err)
	}
	return c, nil
}
