// Package hdf5 reads the part of HDF5 that ISMRMRD/MRD files use, in pure
// Go, following the HDF5 File Format Specification Version 3.0 (The HDF
// Group; section numbers below are that document's):
//
//   - the superblock, versions 0 and 1 (what libhdf5 writes by default, and
//     so ISMRMRD's C library, siemens_to_ismrmrd and h5py) and 2 and 3
//     (files written with libver "latest"), §II.A;
//   - object headers, versions 1 and 2 with their continuation blocks,
//     §IV.A.1;
//   - groups as symbol tables (version 1 B-trees of type 0, symbol table
//     nodes and local heaps, §III.A.1, III.B, III.D) and as compact link
//     messages (§IV.A.2.g);
//   - datasets: dataspace, datatype (fixed-point, floating-point, string,
//     compound, variable-length, array, enumeration and the rest by size),
//     data layout (compact, contiguous, and chunked with a version 1 B-tree
//     of type 1, or with the version 4 single-chunk and implicit indexes),
//     the filter pipeline with deflate, shuffle and Fletcher-32 (§IV.A.2);
//   - variable-length data in global heap collections (§III.E).
//
// What it does not read is refused by name: dense link storage (fractal
// heaps), shared (committed) datatypes, the fixed-array, extensible-array
// and version 2 B-tree chunk indexes, external and virtual storage, and
// filters other than the three above (szip, n-bit, scale-offset, Blosc,
// LZ4, …). Checksums of version 2 metadata are not verified; sizes are.
//
// Every size and address read from the file is checked before it is used:
// addresses and lengths against the file's size, one read against MaxRead,
// element counts against the bytes they need, nesting against fixed
// depths, and every walk of a B-tree or a header chain against loops. A
// malformed or hostile file gives an error wrapping ErrFormat (or
// ErrUnsupported for a valid file outside the subset), never a panic or an
// allocation the file did not pay for.
package hdf5

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Errors wrapped by everything the package returns.
var (
	// ErrFormat: the bytes are not a well-formed HDF5 file (truncated,
	// out-of-range address, bad signature, impossible size).
	ErrFormat = errors.New("malformed HDF5 file")
	// ErrUnsupported: a valid HDF5 feature this reader does not implement.
	ErrUnsupported = errors.New("unsupported HDF5 feature")
)

// Limits on what one file may make the reader do.
const (
	// MaxRead bounds one read from the file: an object header block, a
	// heap, one chunk (stored or decompressed) and a whole dataset's
	// elements (Dataset.Read).
	MaxRead = 1 << 30
	// maxHeaderBlock bounds one object header block or continuation.
	maxHeaderBlock = 16 << 20
	// maxHeaderBlocks bounds the continuation chain of one object header.
	maxHeaderBlocks = 1024
	// maxRank bounds dataspace and array dimensionality (HDF5's own limit).
	maxRank = 32
	// maxTypeDepth bounds the nesting of datatypes (compounds of arrays …).
	maxTypeDepth = 16
	// maxTreeDepth bounds B-tree levels.
	maxTreeDepth = 64
	// maxGroupEntries bounds the links of one group.
	maxGroupEntries = 1 << 20
	// maxHeapCache bounds the global heap collections kept in memory.
	maxHeapCache = 256 << 20
	// maxExpand is deflate's largest ratio of output to input (zlib's
	// technical details: 1032:1): no dataset of a file holds more bytes
	// than this many times the file's size.
	maxExpand = 1032
)

var signature = []byte("\x89HDF\r\n\x1a\n")

// File is an open HDF5 file. It is not safe for concurrent use.
type File struct {
	r      io.ReaderAt
	size   uint64 // bytes in the file
	base   uint64 // base address: file addresses are relative to it
	so, sl int    // sizes of offsets and of lengths, bytes
	root   uint64 // the root group's object header

	objects   map[uint64]*object
	groups    map[uint64][]Link
	heaps     map[uint64]*collection
	heapBytes int
}

// Open reads the superblock of the HDF5 file in r, size bytes long. The
// signature may follow a user block at 0, 512, 1024, 2048, … bytes (§II.A).
func Open(r io.ReaderAt, size int64) (*File, error) {
	if size < int64(len(signature)) {
		return nil, fmt.Errorf("%w: %d bytes is too short for an HDF5 file", ErrFormat, size)
	}
	f := &File{r: r, size: uint64(size), objects: map[uint64]*object{}, groups: map[uint64][]Link{}, heaps: map[uint64]*collection{}}
	var at uint64
	for {
		sig := make([]byte, len(signature))
		if _, err := r.ReadAt(sig, int64(at)); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if bytes.Equal(sig, signature) {
			break
		}
		if at == 0 {
			at = 512
		} else {
			at *= 2
		}
		if at+uint64(len(signature)) > f.size {
			return nil, fmt.Errorf("%w: no HDF5 signature (not an HDF5 file)", ErrFormat)
		}
	}
	n := min(f.size-at, 256)
	b := make([]byte, n)
	if _, err := r.ReadAt(b, int64(at)); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if err := f.superblock(b, at); err != nil {
		return nil, err
	}
	return f, nil
}

// superblock decodes §II.A: versions 0 and 1 end in the root group's
// symbol table entry, versions 2 and 3 name the root object header.
func (f *File) superblock(b []byte, at uint64) error {
	d := &decoder{b: b, off: len(signature)}
	version := d.u8()
	switch version {
	case 0, 1:
		d.skip(4) // free-space, root symbol table entry, reserved, shared header versions
		f.so, f.sl = int(d.u8()), int(d.u8())
		d.skip(1)
		d.skip(4) // group leaf and internal node K
		d.skip(4) // file consistency flags
		if version == 1 {
			d.skip(4) // indexed storage internal node K, reserved
		}
		if err := f.checkSizes(d); err != nil {
			return err
		}
		d.so, d.sl = f.so, f.sl
		f.base = d.addr()
		d.addr() // free-space info
		d.addr() // end of file
		d.addr() // driver info block
		d.addr() // root: link name offset
		f.root = d.addr()
	case 2, 3:
		f.so, f.sl = int(d.u8()), int(d.u8())
		d.skip(1) // file consistency flags
		if err := f.checkSizes(d); err != nil {
			return err
		}
		d.so, d.sl = f.so, f.sl
		f.base = d.addr()
		d.addr() // superblock extension
		d.addr() // end of file
		f.root = d.addr()
	default:
		return fmt.Errorf("%w: superblock version %d", ErrUnsupported, version)
	}
	if d.err != nil {
		return fmt.Errorf("%w: superblock at %d: %v", ErrFormat, at, d.err)
	}
	if f.base != at && f.base != 0 {
		return fmt.Errorf("%w: base address %d with the superblock at %d", ErrFormat, f.base, at)
	}
	if f.base > f.size {
		return fmt.Errorf("%w: base address %d beyond the file's %d bytes", ErrFormat, f.base, f.size)
	}
	return nil
}

func (f *File) checkSizes(d *decoder) error {
	ok := func(n int) bool { return n == 2 || n == 4 || n == 8 }
	if d.err == nil && (!ok(f.so) || !ok(f.sl)) {
		return fmt.Errorf("%w: superblock gives %d-byte offsets and %d-byte lengths (want 2, 4 or 8)", ErrFormat, f.so, f.sl)
	}
	return nil
}

// undefined reports whether a is the undefined address (all bits set).
func (f *File) undefined(a uint64) bool {
	if f.so == 8 {
		return a == ^uint64(0)
	}
	return a == 1<<(8*f.so)-1
}

// read returns n bytes at file address addr (relative to the base), all of
// them inside the file and n ≤ MaxRead.
func (f *File) read(addr, n uint64, what string) ([]byte, error) {
	if n > MaxRead {
		return nil, fmt.Errorf("%w: %s of %d bytes exceeds the %d-byte limit", ErrFormat, what, n, MaxRead)
	}
	abs := f.base + addr
	if f.undefined(addr) || abs < f.base || abs > f.size || n > f.size-abs {
		return nil, fmt.Errorf("%w: %s at address %d, %d bytes, beyond the end of the %d-byte file (truncated?)", ErrFormat, what, addr, n, f.size)
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, int64(abs)); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s at address %d: the file ends early", ErrFormat, what, addr)
		}
		return nil, err
	}
	return b, nil
}

// readUpTo returns up to n bytes at addr: fewer where the file ends first.
func (f *File) readUpTo(addr, n uint64, what string) ([]byte, error) {
	abs := f.base + addr
	if f.undefined(addr) || abs < f.base || abs >= f.size {
		return nil, fmt.Errorf("%w: %s at address %d, beyond the end of the %d-byte file", ErrFormat, what, addr, f.size)
	}
	return f.read(addr, min(n, f.size-abs), what)
}

// decoder reads little-endian fields from b; the first short read sets err
// and every later read returns zero.
type decoder struct {
	b      []byte
	off    int
	err    error
	so, sl int
}

func newDecoder(f *File, b []byte) *decoder { return &decoder{b: b, so: f.so, sl: f.sl} }

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.err = fmt.Errorf("%d bytes needed at offset %d of a %d-byte structure", n, d.off, len(d.b))
		return nil
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s
}

func (d *decoder) skip(n int)         { d.take(n) }
func (d *decoder) left() int          { return len(d.b) - d.off }
func (d *decoder) u8() uint8          { return uint8(d.uint(1)) }
func (d *decoder) u16() uint16        { return uint16(d.uint(2)) }
func (d *decoder) u32() uint32        { return uint32(d.uint(4)) }
func (d *decoder) u64() uint64        { return d.uint(8) }
func (d *decoder) addr() uint64       { return d.uint(d.so) }
func (d *decoder) length() uint64     { return d.uint(d.sl) }
func (d *decoder) bytes(n int) []byte { return d.take(n) }
func (d *decoder) expect(sig string) bool {
	s := d.take(len(sig))
	if d.err == nil && string(s) != sig {
		d.err = fmt.Errorf("signature %q, want %q", s, sig)
	}
	return d.err == nil
}

// uint reads an n-byte little-endian unsigned integer, 0 ≤ n ≤ 8.
func (d *decoder) uint(n int) uint64 {
	if n > 8 {
		d.err = fmt.Errorf("%d-byte integer", n)
		return 0
	}
	s := d.take(n)
	var v uint64
	for i := len(s) - 1; i >= 0; i-- {
		v = v<<8 | uint64(s[i])
	}
	return v
}

// cstring reads a NUL-terminated name; padded rounds what it takes up to a
// multiple of 8 bytes, counting the NUL.
func (d *decoder) cstring(padded bool) string {
	if d.err != nil {
		return ""
	}
	i := bytes.IndexByte(d.b[d.off:], 0)
	if i < 0 {
		d.err = fmt.Errorf("name at offset %d has no terminating NUL", d.off)
		return ""
	}
	s := string(d.b[d.off : d.off+i])
	n := i + 1
	if padded {
		n = (n + 7) &^ 7
	}
	d.take(n)
	return s
}

// mul returns a·b, or false when it overflows or exceeds limit.
func mul(a, b, limit uint64) (uint64, bool) {
	if a != 0 && b > limit/a {
		return 0, false
	}
	return a * b, a*b <= limit
}
