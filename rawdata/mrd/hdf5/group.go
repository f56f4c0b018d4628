package hdf5

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Link is one named member of a group.
type Link struct {
	Name string
	addr uint64 // object header
}

// List returns the names of the members of the group at path ("/" is the
// root), sorted.
func (f *File) List(path string) ([]string, error) {
	addr, err := f.lookup(path)
	if err != nil {
		return nil, err
	}
	links, err := f.links(addr)
	if err != nil {
		return nil, fmt.Errorf("group %s: %w", path, err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Name)
	}
	sort.Strings(names)
	return names, nil
}

// Exists reports whether path names an object.
func (f *File) Exists(path string) bool {
	_, err := f.lookup(path)
	return err == nil
}

// lookup follows path from the root group to an object header address.
func (f *File) lookup(path string) (uint64, error) {
	addr := f.root
	walked := ""
	for _, name := range strings.Split(strings.Trim(path, "/"), "/") {
		if name == "" {
			continue
		}
		links, err := f.links(addr)
		if err != nil {
			return 0, fmt.Errorf("group %q: %w", "/"+walked, err)
		}
		found := false
		for _, l := range links {
			if l.Name == name {
				addr, found = l.addr, true
				break
			}
		}
		walked = strings.TrimPrefix(walked+"/"+name, "/")
		if !found {
			return 0, fmt.Errorf("%w: no object %q in the file", ErrNotFound, "/"+walked)
		}
	}
	return addr, nil
}

// ErrNotFound: a path names nothing in the file.
var ErrNotFound = errors.New("not found")

// links returns the members of the group whose object header is at addr:
// from its symbol table (§IV.A.2.r) or its link messages (§IV.A.2.g).
func (f *File) links(addr uint64) ([]Link, error) {
	if l, ok := f.groups[addr]; ok {
		return l, nil
	}
	l, err := f.readLinks(addr)
	if err == nil {
		f.groups[addr] = l
	}
	return l, err
}

func (f *File) readLinks(addr uint64) ([]Link, error) {
	o, err := f.object(addr)
	if err != nil {
		return nil, err
	}
	if m := o.find(msgSymbolTable); m != nil {
		d := newDecoder(f, m.data)
		tree, heap := d.addr(), d.addr()
		if d.err != nil {
			return nil, fmt.Errorf("%w: symbol table message: %v", ErrFormat, d.err)
		}
		names, err := f.localHeap(heap)
		if err != nil {
			return nil, err
		}
		// A group B-tree (node type 0): keys are heap offsets, the children
		// of leaves symbol table nodes.
		var out []Link
		err = f.btree(tree, 0, f.sl, 0, map[uint64]bool{}, func(_ []byte, child uint64) error {
			return f.symbolNode(child, names, &out)
		})
		return out, err
	}
	var out []Link
	for _, m := range o.msgs {
		switch m.typ {
		case msgLink:
			l, ok, err := f.link(m.data)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, l)
			}
		case msgLinkInfo:
			d := newDecoder(f, m.data)
			d.skip(1)
			flags := d.u8()
			if flags&1 != 0 {
				d.skip(8)
			}
			heap := d.addr()
			if d.err != nil {
				return nil, fmt.Errorf("%w: link info message: %v", ErrFormat, d.err)
			}
			if !f.undefined(heap) {
				return nil, fmt.Errorf("%w: dense link storage (a fractal heap of links, HDF5 1.8 groups with many members)", ErrUnsupported)
			}
		}
		if len(out) > maxGroupEntries {
			return nil, fmt.Errorf("%w: more than %d links", ErrFormat, maxGroupEntries)
		}
	}
	return out, nil
}

// link decodes a link message; soft and external links are skipped.
func (f *File) link(data []byte) (Link, bool, error) {
	d := newDecoder(f, data)
	if v := d.u8(); d.err == nil && v != 1 {
		return Link{}, false, fmt.Errorf("%w: link message version %d", ErrFormat, v)
	}
	flags := d.u8()
	typ := uint8(0)
	if flags&0x08 != 0 {
		typ = d.u8()
	}
	if flags&0x04 != 0 {
		d.skip(8)
	}
	if flags&0x10 != 0 {
		d.skip(1)
	}
	n := d.uint(1 << (flags & 3))
	if n > uint64(d.left()) {
		return Link{}, false, fmt.Errorf("%w: link name of %d bytes overruns its message", ErrFormat, n)
	}
	name := string(d.bytes(int(n)))
	if typ != 0 {
		return Link{}, false, nil
	}
	a := d.addr()
	if d.err != nil {
		return Link{}, false, fmt.Errorf("%w: link message: %v", ErrFormat, d.err)
	}
	return Link{Name: name, addr: a}, true, nil
}

// localHeap returns the data segment of the local heap at addr (§III.D):
// "HEAP", version 0, reserved (3), data segment size (L), free list
// offset (L), data segment address (O).
func (f *File) localHeap(addr uint64) ([]byte, error) {
	b, err := f.read(addr, uint64(8+2*f.sl+f.so), "local heap")
	if err != nil {
		return nil, err
	}
	d := newDecoder(f, b)
	d.expect("HEAP")
	d.skip(4)
	size := d.length()
	d.length()
	data := d.addr()
	if d.err != nil {
		return nil, fmt.Errorf("%w: local heap at %d: %v", ErrFormat, addr, d.err)
	}
	return f.read(data, size, "local heap data")
}

// btree walks the version 1 B-tree at addr (§III.A.1): "TREE", node type,
// level, entries used (2), left and right siblings, then keys of keySize
// bytes and child addresses alternating, one key more than children.
// Children of level 0 nodes go to leaf with the key before them; each node
// is read at most once and the depth is bounded.
func (f *File) btree(addr uint64, typ uint8, keySize int, depth int, seen map[uint64]bool, leaf func(key []byte, child uint64) error) error {
	what := map[uint8]string{0: "group B-tree", 1: "chunk B-tree"}[typ]
	if depth > maxTreeDepth || seen[addr] {
		return fmt.Errorf("%w: %s loops or is deeper than %d", ErrFormat, what, maxTreeDepth)
	}
	seen[addr] = true
	hdr, err := f.read(addr, uint64(8+2*f.so), what+" node")
	if err != nil {
		return err
	}
	d := newDecoder(f, hdr)
	d.expect("TREE")
	t, level, n := d.u8(), d.u8(), uint64(d.u16())
	if d.err != nil || t != typ {
		return fmt.Errorf("%w: %s node at %d (type %d): %v", ErrFormat, what, addr, t, d.err)
	}
	body, err := f.read(addr+uint64(len(hdr)), n*uint64(keySize+f.so)+uint64(keySize), what+" node")
	if err != nil {
		return err
	}
	bd := newDecoder(f, body)
	for i := uint64(0); i < n; i++ {
		key := bd.bytes(keySize)
		child := bd.addr()
		if bd.err != nil {
			return fmt.Errorf("%w: %s node at %d: %v", ErrFormat, what, addr, bd.err)
		}
		if level > 0 {
			err = f.btree(child, typ, keySize, depth+1, seen, leaf)
		} else {
			err = leaf(key, child)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// symbolNode reads a symbol table node (§III.B): "SNOD", version 1,
// reserved, the number of symbols (2), then symbol table entries (§III.C)
// of link name offset (O), object header address (O), cache type (4),
// reserved (4) and scratch pad (16).
func (f *File) symbolNode(addr uint64, names []byte, out *[]Link) error {
	hdr, err := f.read(addr, 8, "symbol table node")
	if err != nil {
		return err
	}
	d := newDecoder(f, hdr)
	d.expect("SNOD")
	d.skip(2)
	n := int(d.u16())
	if d.err != nil {
		return fmt.Errorf("%w: symbol table node at %d: %v", ErrFormat, addr, d.err)
	}
	if len(*out)+n > maxGroupEntries {
		return fmt.Errorf("%w: more than %d group members", ErrFormat, maxGroupEntries)
	}
	body, err := f.read(addr+8, uint64(n)*uint64(2*f.so+24), "symbol table node")
	if err != nil {
		return err
	}
	bd := newDecoder(f, body)
	for i := 0; i < n; i++ {
		off := bd.addr()
		obj := bd.addr()
		bd.skip(24)
		if off >= uint64(len(names)) {
			return fmt.Errorf("%w: symbol name at heap offset %d beyond the %d-byte heap", ErrFormat, off, len(names))
		}
		name := names[off:]
		if j := bytes.IndexByte(name, 0); j >= 0 {
			name = name[:j]
		}
		*out = append(*out, Link{Name: string(name), addr: obj})
	}
	return nil
}
