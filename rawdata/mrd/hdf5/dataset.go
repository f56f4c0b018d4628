package hdf5

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"math"
)

// Dataset is an HDF5 dataset: its shape, element type and storage.
type Dataset struct {
	f       *File
	Path    string
	Dims    []uint64 // current extent, slowest first; none for a scalar
	Type    *Datatype
	layout  layout
	filters []filter
}

type layout struct {
	class   uint8 // 0 compact, 1 contiguous, 2 chunked
	compact []byte
	addr    uint64   // contiguous data, or the chunk index
	chunk   []uint64 // chunk dimensions (the dataspace's rank)
	index   uint8    // chunk index: 0 version 1 B-tree, 1 single chunk, 2 implicit (version 4)
	single  struct {
		size uint64 // filtered size of the single chunk
		mask uint32
	}
}

type filter struct {
	id       uint16
	name     string
	optional bool
	params   []uint32
}

// Dataset opens the dataset at path.
func (f *File) Dataset(path string) (*Dataset, error) {
	addr, err := f.lookup(path)
	if err != nil {
		return nil, err
	}
	o, err := f.object(addr)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", path, err)
	}
	ds := &Dataset{f: f, Path: path}
	if err := ds.parse(o); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", path, err)
	}
	return ds, nil
}

func (ds *Dataset) parse(o *object) error {
	f := ds.f
	for _, t := range []uint16{msgDataspace, msgDatatype, msgLayout} {
		m := o.find(t)
		if m == nil {
			if t == msgDataspace && o.find(msgSymbolTable) != nil || o.find(msgLinkInfo) != nil {
				return fmt.Errorf("%w: a group, not a dataset", ErrFormat)
			}
			return fmt.Errorf("%w: no message of type %#x (not a dataset)", ErrFormat, t)
		}
		if m.flags&msgFlagShared != 0 {
			return fmt.Errorf("%w: shared header messages (committed datatypes)", ErrUnsupported)
		}
	}
	if err := ds.dataspace(o.find(msgDataspace).data); err != nil {
		return err
	}
	t, err := parseDatatype(newDecoder(f, o.find(msgDatatype).data), 0)
	if err != nil {
		return err
	}
	ds.Type = t
	if t.Size == 0 {
		return fmt.Errorf("%w: datatype of size 0", ErrFormat)
	}
	if o.find(msgExternal) != nil {
		return fmt.Errorf("%w: external data files", ErrUnsupported)
	}
	if m := o.find(msgFilters); m != nil {
		if ds.filters, err = parseFilters(newDecoder(f, m.data)); err != nil {
			return err
		}
	}
	return ds.parseLayout(newDecoder(f, o.find(msgLayout).data))
}

// dataspace decodes §IV.A.2.b: version 1 (rank, flags, 5 reserved bytes)
// or 2 (rank, flags, type), the dimensions and, when flagged, the maxima.
func (ds *Dataset) dataspace(data []byte) error {
	d := newDecoder(ds.f, data)
	version, rank, flags := d.u8(), int(d.u8()), d.u8()
	switch version {
	case 1:
		d.skip(5)
	case 2:
		if typ := d.u8(); typ == 2 {
			return fmt.Errorf("%w: null dataspace (no data)", ErrFormat)
		}
	default:
		return fmt.Errorf("%w: dataspace version %d", ErrFormat, version)
	}
	if rank > maxRank {
		return fmt.Errorf("%w: dataspace of rank %d", ErrFormat, rank)
	}
	_ = flags
	for i := 0; i < rank; i++ {
		ds.Dims = append(ds.Dims, d.length())
	}
	if d.err != nil {
		return fmt.Errorf("%w: dataspace: %v", ErrFormat, d.err)
	}
	return nil
}

// parseLayout decodes §IV.A.2.i, versions 1 to 4.
func (ds *Dataset) parseLayout(d *decoder) error {
	l := &ds.layout
	version := d.u8()
	rank := len(ds.Dims)
	switch version {
	case 1, 2:
		n := int(d.u8())
		l.class = d.u8()
		d.skip(5)
		if l.class != 0 {
			l.addr = d.addr()
		}
		if n > maxRank+1 {
			return fmt.Errorf("%w: layout of rank %d", ErrFormat, n)
		}
		dims := make([]uint64, n)
		for i := range dims {
			dims[i] = uint64(d.u32())
		}
		switch l.class {
		case 0:
			size := d.u32()
			l.compact = d.bytes(int(size))
		case 2:
			if n != rank+1 {
				return fmt.Errorf("%w: chunk of rank %d for a dataset of rank %d", ErrFormat, n-1, rank)
			}
			l.chunk = dims[:rank]
		}
	case 3, 4:
		l.class = d.u8()
		switch l.class {
		case 0:
			size := d.u16()
			l.compact = d.bytes(int(size))
		case 1:
			l.addr = d.addr()
			d.length()
		case 2:
			if version == 3 {
				n := int(d.u8())
				l.addr = d.addr()
				if n != rank+1 {
					return fmt.Errorf("%w: chunk of rank %d for a dataset of rank %d", ErrFormat, n-1, rank)
				}
				for i := 0; i < n; i++ {
					v := uint64(d.u32())
					if i < rank {
						l.chunk = append(l.chunk, v)
					}
				}
				break
			}
			flags := d.u8()
			n := int(d.u8())
			width := int(d.u8())
			if n != rank+1 || width < 1 || width > 8 {
				return fmt.Errorf("%w: version 4 chunk of rank %d (%d-byte sizes) for a dataset of rank %d", ErrFormat, n-1, width, rank)
			}
			for i := 0; i < n; i++ {
				v := d.uint(width)
				if i < rank {
					l.chunk = append(l.chunk, v)
				}
			}
			l.index = d.u8()
			switch l.index {
			case 1:
				if flags&2 != 0 {
					l.single.size = d.length()
					l.single.mask = d.u32()
				}
			case 2:
			case 3:
				return fmt.Errorf("%w: fixed-array chunk index (HDF5 1.10 files written with libver latest)", ErrUnsupported)
			case 4:
				return fmt.Errorf("%w: extensible-array chunk index (HDF5 1.10 files written with libver latest)", ErrUnsupported)
			case 5:
				return fmt.Errorf("%w: version 2 B-tree chunk index", ErrUnsupported)
			default:
				return fmt.Errorf("%w: chunk index type %d", ErrFormat, l.index)
			}
			l.addr = d.addr()
		case 3:
			return fmt.Errorf("%w: virtual dataset storage", ErrUnsupported)
		default:
			return fmt.Errorf("%w: layout class %d", ErrFormat, l.class)
		}
	default:
		return fmt.Errorf("%w: data layout version %d", ErrFormat, version)
	}
	if d.err != nil {
		return fmt.Errorf("%w: data layout: %v", ErrFormat, d.err)
	}
	if l.class == 2 {
		for _, c := range l.chunk {
			if c == 0 {
				return fmt.Errorf("%w: chunk dimensions %v", ErrFormat, l.chunk)
			}
		}
	}
	return nil
}

// parseFilters decodes the filter pipeline message (§IV.A.2.l), versions 1
// and 2.
func parseFilters(d *decoder) ([]filter, error) {
	version, n := d.u8(), int(d.u8())
	if version == 1 {
		d.skip(6)
	} else if version != 2 {
		return nil, fmt.Errorf("%w: filter pipeline version %d", ErrFormat, version)
	}
	if n > 32 {
		return nil, fmt.Errorf("%w: %d filters", ErrFormat, n)
	}
	var out []filter
	for i := 0; i < n && d.err == nil; i++ {
		var fl filter
		fl.id = d.u16()
		nameLen := 0
		if version == 1 || fl.id >= 256 {
			nameLen = int(d.u16())
		}
		flags := d.u16()
		fl.optional = flags&1 != 0
		nv := int(d.u16())
		if nameLen > 0 {
			name := d.bytes(nameLen)
			if j := bytes.IndexByte(name, 0); j >= 0 {
				name = name[:j]
			}
			fl.name = string(name)
		}
		if nv > d.left()/4 {
			return nil, fmt.Errorf("%w: filter with %d parameters overruns its message", ErrFormat, nv)
		}
		for j := 0; j < nv; j++ {
			fl.params = append(fl.params, d.u32())
		}
		if version == 1 && nv%2 == 1 {
			d.skip(4)
		}
		out = append(out, fl)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: filter pipeline: %v", ErrFormat, d.err)
	}
	return out, nil
}

var filterNames = map[uint16]string{1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit",
	6: "scaleoffset", 307: "bzip2", 32000: "LZF", 32001: "Blosc", 32004: "LZ4", 32008: "bitshuffle", 32015: "Zstandard"}

func (fl filter) String() string {
	if n, ok := filterNames[fl.id]; ok {
		return n
	}
	if fl.name != "" {
		return fmt.Sprintf("%q (%d)", fl.name, fl.id)
	}
	return fmt.Sprintf("filter %d", fl.id)
}

// Elements returns the number of elements in the dataset.
func (ds *Dataset) Elements() (uint64, error) {
	n := uint64(1)
	for _, v := range ds.Dims {
		var ok bool
		if n, ok = mul(n, v, math.MaxInt64); !ok {
			return 0, fmt.Errorf("%w: dataset %s of dimensions %v", ErrFormat, ds.Path, ds.Dims)
		}
	}
	return n, nil
}

// Read returns all elements of the dataset as stored (C order, the
// datatype's file layout), at most MaxRead bytes. Chunks that were never
// written read as zeros.
func (ds *Dataset) Read() ([]byte, error) {
	n, err := ds.Elements()
	if err != nil {
		return nil, err
	}
	// Deflate expands at most 1032:1, so no dataset holds more than that
	// many times the file's size; MaxRead bounds the rest.
	limit := min(uint64(MaxRead), maxExpand*ds.f.size)
	total, ok := mul(n, uint64(ds.Type.Size), limit)
	if !ok {
		return nil, fmt.Errorf("%w: dataset %s of %v elements of %d bytes exceeds the %d-byte limit", ErrFormat, ds.Path, ds.Dims, ds.Type.Size, limit)
	}
	l := &ds.layout
	switch l.class {
	case 0:
		if uint64(len(l.compact)) < total {
			return nil, fmt.Errorf("%w: dataset %s: compact data of %d bytes, %d needed", ErrFormat, ds.Path, len(l.compact), total)
		}
		return append([]byte(nil), l.compact[:total]...), nil
	case 1:
		if ds.f.undefined(l.addr) {
			return make([]byte, total), nil
		}
		return ds.f.read(l.addr, total, "dataset "+ds.Path)
	}
	out := make([]byte, total)
	err = ds.chunks(func(off []uint64, size uint64, mask uint32, addr uint64) error {
		return ds.place(out, off, size, mask, addr)
	})
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", ds.Path, err)
	}
	return out, nil
}

// chunkBytes is the size of one unfiltered chunk.
func (ds *Dataset) chunkBytes() (uint64, error) {
	n := uint64(ds.Type.Size)
	for _, c := range ds.layout.chunk {
		var ok bool
		if n, ok = mul(n, c, MaxRead); !ok {
			return 0, fmt.Errorf("%w: chunk %v of %d-byte elements exceeds %d bytes", ErrFormat, ds.layout.chunk, ds.Type.Size, MaxRead)
		}
	}
	return n, nil
}

// chunks calls visit for every stored chunk: its offset in elements, its
// stored size, its filter mask and its address.
func (ds *Dataset) chunks(visit func(off []uint64, size uint64, mask uint32, addr uint64) error) error {
	l := &ds.layout
	cb, err := ds.chunkBytes()
	if err != nil {
		return err
	}
	if ds.f.undefined(l.addr) {
		return nil // nothing written yet
	}
	rank := len(ds.Dims)
	switch l.index {
	case 0:
		// How many chunks the extent can hold bounds the walk.
		limit := uint64(1)
		for i, d := range ds.Dims {
			limit, _ = mul(limit, (d+l.chunk[i]-1)/l.chunk[i], 1<<40)
		}
		count := uint64(0)
		return ds.f.chunkTree(l.addr, rank, func(off []uint64, size uint64, mask uint32, addr uint64) error {
			if count++; count > limit+1 {
				return fmt.Errorf("%w: chunk B-tree holds more chunks than the extent %v allows", ErrFormat, ds.Dims)
			}
			return visit(off, size, mask, addr)
		})
	case 1:
		size := cb
		if len(ds.filters) > 0 {
			size = l.single.size
		}
		return visit(make([]uint64, rank), size, l.single.mask, l.addr)
	case 2:
		if len(ds.filters) > 0 {
			return fmt.Errorf("%w: implicit chunk index with filters", ErrFormat)
		}
		// Chunks stored one after another in C order of their grid.
		grid := make([]uint64, rank)
		total := uint64(1)
		for i, d := range ds.Dims {
			grid[i] = (d + l.chunk[i] - 1) / l.chunk[i]
			total, _ = mul(total, grid[i], 1<<40)
		}
		off := make([]uint64, rank)
		for k := uint64(0); k < total; k++ {
			rem := k
			for i := rank - 1; i >= 0; i-- {
				off[i] = rem % grid[i] * l.chunk[i]
				rem /= grid[i]
			}
			a, ok := mul(k, cb, math.MaxInt64)
			if !ok || l.addr+a < l.addr {
				return fmt.Errorf("%w: implicit chunk index overflows", ErrFormat)
			}
			if err := visit(off, cb, 0, l.addr+a); err != nil {
				return err
			}
		}
	}
	return nil
}

// chunkTree walks a version 1 B-tree of type 1 (§III.A.1): keys of chunk
// size (4), filter mask (4) and rank+1 offsets (8 each); the children of
// leaves are chunks.
func (f *File) chunkTree(addr uint64, rank int, visit func([]uint64, uint64, uint32, uint64) error) error {
	off := make([]uint64, rank+1)
	return f.btree(addr, 1, 8+8*(rank+1), 0, map[uint64]bool{}, func(key []byte, child uint64) error {
		d := newDecoder(f, key)
		size := uint64(d.u32())
		mask := d.u32()
		for j := range off {
			off[j] = d.u64()
		}
		return visit(off[:rank], size, mask, child)
	})
}

// place reads one chunk, undoes its filters and copies the part inside the
// dataset's extent into out.
func (ds *Dataset) place(out []byte, off []uint64, size uint64, mask uint32, addr uint64) error {
	l := &ds.layout
	rank := len(ds.Dims)
	for i := 0; i < rank; i++ {
		if off[i]%l.chunk[i] != 0 {
			return fmt.Errorf("%w: chunk offset %v is not on the chunk grid %v", ErrFormat, off, l.chunk)
		}
		if off[i] >= ds.Dims[i] {
			return nil // beyond the current extent (the dataset shrank)
		}
	}
	want, err := ds.chunkBytes()
	if err != nil {
		return err
	}
	raw, err := ds.f.read(addr, size, "chunk")
	if err != nil {
		return err
	}
	data, err := ds.unfilter(raw, mask, want)
	if err != nil {
		return fmt.Errorf("chunk at %v: %w", off, err)
	}
	if uint64(len(data)) != want {
		return fmt.Errorf("%w: chunk at %v holds %d bytes, want %d", ErrFormat, off, len(data), want)
	}
	es := uint64(ds.Type.Size)
	// Copy runs along the last dimension, for every index of the others.
	idx := make([]uint64, rank) // position within the chunk
	run := min(l.chunk[rank-1], ds.Dims[rank-1]-off[rank-1]) * es
	for {
		src, dst := uint64(0), uint64(0)
		for i := 0; i < rank; i++ {
			src = src*l.chunk[i] + idx[i]
			dst = dst*ds.Dims[i] + off[i] + idx[i]
		}
		copy(out[dst*es:dst*es+run], data[src*es:src*es+run])
		i := rank - 2
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < l.chunk[i] && off[i]+idx[i] < ds.Dims[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return nil
		}
	}
}

// unfilter undoes the filter pipeline in reverse order, skipping the
// filters the chunk's mask marks as not applied.
func (ds *Dataset) unfilter(b []byte, mask uint32, want uint64) ([]byte, error) {
	for i := len(ds.filters) - 1; i >= 0; i-- {
		fl := ds.filters[i]
		if mask&(1<<i) != 0 {
			continue
		}
		switch fl.id {
		case 1: // deflate: a zlib stream
			zr, err := zlib.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("%w: deflate: %v", ErrFormat, err)
			}
			out, err := io.ReadAll(io.LimitReader(zr, int64(want)+1))
			if err != nil {
				return nil, fmt.Errorf("%w: deflate: %v", ErrFormat, err)
			}
			if uint64(len(out)) > want {
				return nil, fmt.Errorf("%w: deflated chunk inflates beyond its %d bytes", ErrFormat, want)
			}
			b = out
		case 2: // shuffle: byte j of every element stored together
			es := int(ds.Type.Size)
			if len(fl.params) > 0 {
				es = int(fl.params[0])
			}
			if es > 1 && es <= len(b) {
				n := len(b) / es
				out := make([]byte, len(b))
				for j := 0; j < es; j++ {
					for k := 0; k < n; k++ {
						out[k*es+j] = b[j*n+k]
					}
				}
				copy(out[n*es:], b[n*es:])
				b = out
			}
		case 3: // fletcher32: a 4-byte checksum appended
			if len(b) < 4 {
				return nil, fmt.Errorf("%w: Fletcher-32 chunk of %d bytes", ErrFormat, len(b))
			}
			b = b[:len(b)-4]
		default:
			return nil, fmt.Errorf("%w: the %v filter", ErrUnsupported, fl)
		}
	}
	return b, nil
}

// Filters names the dataset's filters, in the order they were applied.
func (ds *Dataset) Filters() []string {
	var out []string
	for _, fl := range ds.filters {
		out = append(out, fl.String())
	}
	return out
}

// collection is a parsed global heap collection: its objects by index.
type collection struct {
	objs map[uint16][]byte
	size int
}

// VarLen resolves one variable-length element as stored in a dataset (a
// 4-byte count, then a global heap ID: the collection's address and the
// object's 4-byte index) to the object's bytes and the count. An empty
// sequence has no heap object.
func (f *File) VarLen(ref []byte) ([]byte, uint32, error) {
	d := newDecoder(f, ref)
	count := d.u32()
	addr := d.addr()
	index := d.u32()
	if d.err != nil {
		return nil, 0, fmt.Errorf("%w: variable-length reference: %v", ErrFormat, d.err)
	}
	if count == 0 && (addr == 0 || f.undefined(addr)) {
		return nil, 0, nil
	}
	c, err := f.collection(addr)
	if err != nil {
		return nil, 0, err
	}
	obj, ok := c.objs[uint16(index)]
	if !ok || index > math.MaxUint16 {
		return nil, 0, fmt.Errorf("%w: global heap collection at %d has no object %d", ErrFormat, addr, index)
	}
	return obj, count, nil
}

// collection reads the global heap collection at addr (§III.E): "GCOL",
// version 1, reserved (3), collection size (L), then objects of index (2),
// reference count (2), reserved (4), size (L) and data padded to 8 bytes;
// index 0 is the free space that ends it.
func (f *File) collection(addr uint64) (*collection, error) {
	if c, ok := f.heaps[addr]; ok {
		return c, nil
	}
	hdr, err := f.read(addr, uint64(8+f.sl), "global heap collection")
	if err != nil {
		return nil, err
	}
	d := newDecoder(f, hdr)
	d.expect("GCOL")
	version := d.u8()
	d.skip(3)
	size := d.length()
	if d.err != nil || version != 1 {
		return nil, fmt.Errorf("%w: global heap collection at %d (version %d): %v", ErrFormat, addr, version, d.err)
	}
	b, err := f.read(addr, size, "global heap collection")
	if err != nil {
		return nil, err
	}
	c := &collection{objs: map[uint16][]byte{}, size: len(b)}
	bd := newDecoder(f, b)
	bd.off = len(hdr)
	for bd.left() >= 8+f.sl {
		index := bd.u16()
		bd.skip(6)
		n := bd.length()
		if index == 0 {
			break
		}
		if n > uint64(bd.left()) {
			return nil, fmt.Errorf("%w: global heap object %d of %d bytes overruns its collection at %d", ErrFormat, index, n, addr)
		}
		c.objs[index] = bd.bytes(int(n))
		bd.skip(min(int((8-n%8)%8), bd.left()))
	}
	if f.heapBytes+c.size > maxHeapCache {
		f.heaps, f.heapBytes = map[uint64]*collection{}, 0
	}
	f.heaps[addr] = c
	f.heapBytes += c.size
	return c, nil
}

// Strings reads a dataset of strings: variable-length or fixed-size.
func (ds *Dataset) Strings() ([]string, error) {
	t := ds.Type
	if t.Class != String && !(t.Class == VarLen && t.VarString) {
		return nil, fmt.Errorf("%w: dataset %s holds %v, not strings", ErrFormat, ds.Path, t)
	}
	b, err := ds.Read()
	if err != nil {
		return nil, err
	}
	var out []string
	for i := 0; i+int(t.Size) <= len(b); i += int(t.Size) {
		el := b[i : i+int(t.Size)]
		if t.Class == VarLen {
			s, n, err := ds.f.VarLen(el)
			if err != nil {
				return nil, fmt.Errorf("dataset %s: %w", ds.Path, err)
			}
			if uint64(n) > uint64(len(s)) {
				return nil, fmt.Errorf("%w: dataset %s: string of %d bytes in a heap object of %d", ErrFormat, ds.Path, n, len(s))
			}
			el = s[:n]
		}
		if j := bytes.IndexByte(el, 0); j >= 0 {
			el = el[:j]
		}
		out = append(out, string(el))
	}
	return out, nil
}
