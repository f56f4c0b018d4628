package mrd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/tweedie-recon/tweedie/rawdata/mrd/hdf5"
)

// ErrFile wraps problems with the acquisitions of an MRD file that the HDF5
// layer does not see (a header member of the wrong type, a data array that
// disagrees with its header).
var ErrFile = errors.New("MRD file")

// MaxAcquisitions bounds the acquisitions of one file.
const MaxAcquisitions = 1 << 24

// Source gives acquisitions by index: their headers first (cheap), their
// samples when asked. An MRD file is one; so is a slice of Acquisition.
type Source interface {
	Len() int
	Head(i int) (AcquisitionHeader, error)
	// Data returns acquisition i's samples, channel by channel (the sample
	// index fastest: ISMRMRD's data(sample, channel)), in dst's storage
	// when it is large enough.
	Data(i int, dst []complex64) ([]complex64, error)
}

// Acquisition is one readout of all active channels.
type Acquisition struct {
	Head AcquisitionHeader
	Traj []float32   // trajectory_dimensions values per sample, sample fastest
	Data []complex64 // NumberOfSamples × ActiveChannels, sample fastest
}

// Acquisitions is a Source in memory.
type Acquisitions []Acquisition

// Len implements Source.
func (a Acquisitions) Len() int { return len(a) }

// Head implements Source.
func (a Acquisitions) Head(i int) (AcquisitionHeader, error) { return a[i].Head, nil }

// Data implements Source: a copy of the samples, in dst when it is large
// enough.
func (a Acquisitions) Data(i int, dst []complex64) ([]complex64, error) {
	h := &a[i].Head
	n := int(h.NumberOfSamples) * int(h.ActiveChannels)
	if len(a[i].Data) != n {
		return nil, fmt.Errorf("%w: acquisition %d has %d samples, its header says %d × %d channels", ErrFile, i, len(a[i].Data), h.NumberOfSamples, h.ActiveChannels)
	}
	if cap(dst) < n {
		dst = make([]complex64, n)
	}
	dst = dst[:n]
	copy(dst, a[i].Data)
	return dst, nil
}

// File is one group of an ISMRMRD/MRD HDF5 file (the layout of ismrmrd's
// dataset code: <group>/xml, a variable-length string, and <group>/data,
// a one-dimensional dataset of compounds {head, traj, data} where head is
// the AcquisitionHeader member by member and traj and data are
// variable-length float arrays).
type File struct {
	Group  string
	Header *Header
	XML    string

	fh   *os.File
	h5   *hdf5.File
	rows []byte
	size int // bytes of one row
	n    int
	head []copyField
	data *hdf5.Member
	cplx bool // data's base is a {real, imag} compound rather than floats
}

// copyField copies one header field from a row's head member.
type copyField struct {
	fd  field
	off int            // of the first value within the row
	typ *hdf5.Datatype // of one value
}

// Open opens group (default "dataset") of the MRD file at path and reads
// its XML header and the table of its acquisitions (not their samples).
func Open(path, group string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	f, err := open(fh, group)
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func open(fh *os.File, group string) (*File, error) {
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	f, err := OpenReader(fh, st.Size(), group)
	if err != nil {
		return nil, err
	}
	f.fh = fh
	return f, nil
}

// OpenReader is Open on size bytes of r.
func OpenReader(r io.ReaderAt, size int64, group string) (*File, error) {
	if group == "" {
		group = "dataset"
	}
	h5, err := hdf5.Open(r, size)
	if err != nil {
		return nil, err
	}
	return fromHDF5(h5, group)
}

func fromHDF5(h5 *hdf5.File, group string) (*File, error) {
	f := &File{Group: strings.Trim(group, "/"), h5: h5}
	if _, err := h5.List("/" + f.Group); errors.Is(err, hdf5.ErrNotFound) {
		top, err := h5.List("/")
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: no group %q (the file holds %s; choose one with --group)", ErrFile, f.Group, strings.Join(top, ", "))
	} else if err != nil {
		return nil, err
	}
	x, err := h5.Dataset("/" + f.Group + "/xml")
	if err != nil {
		return nil, fmt.Errorf("the ISMRMRD header: %w", err)
	}
	if n, err := x.Elements(); err != nil || n != 1 {
		return nil, fmt.Errorf("%w: %s/xml holds %d strings, want 1", ErrFile, f.Group, n)
	}
	s, err := x.Strings()
	if err != nil {
		return nil, fmt.Errorf("the ISMRMRD header: %w", err)
	}
	if len(s) != 1 {
		return nil, fmt.Errorf("%w: %s/xml holds %d strings, want 1", ErrFile, f.Group, len(s))
	}
	f.XML = s[0]
	if f.Header, err = ParseHeader([]byte(f.XML)); err != nil {
		return nil, err
	}
	d, err := h5.Dataset("/" + f.Group + "/data")
	if errors.Is(err, hdf5.ErrNotFound) {
		return nil, fmt.Errorf("%w: group %q has a header but no acquisitions (no %s/data)", ErrFile, f.Group, f.Group)
	}
	if err != nil {
		return nil, fmt.Errorf("the acquisitions: %w", err)
	}
	if err := f.layout(d); err != nil {
		return nil, err
	}
	if len(d.Dims) != 1 || d.Dims[0] > MaxAcquisitions {
		return nil, fmt.Errorf("%w: %s/data has dimensions %v, want one of at most %d acquisitions", ErrFile, f.Group, d.Dims, MaxAcquisitions)
	}
	if f.rows, err = d.Read(); err != nil {
		return nil, fmt.Errorf("the acquisitions: %w", err)
	}
	f.size, f.n = int(d.Type.Size), int(d.Dims[0])
	return f, nil
}

// layout maps the compound of the acquisitions onto the binary header.
func (f *File) layout(d *hdf5.Dataset) error {
	t := d.Type
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s/data: %s", ErrFile, f.Group, fmt.Sprintf(format, a...))
	}
	if t.Class != hdf5.Compound {
		return bad("elements are %v, not the acquisition compound {head, traj, data}", t)
	}
	head, data := t.Member("head"), t.Member("data")
	if head == nil || data == nil || head.Type.Class != hdf5.Compound {
		return bad("the compound lacks the members head and data")
	}
	if data.Type.Class != hdf5.VarLen || data.Type.VarString {
		return bad("member data is %v, not a variable-length array", data.Type)
	}
	switch b := data.Type.Base; {
	case b.Class == hdf5.Float && (b.Size == 4 || b.Size == 8):
	case b.Class == hdf5.Compound && len(b.Members) == 2 && b.Member("real") != nil && b.Member("imag") != nil &&
		b.Member("real").Type.Class == hdf5.Float && b.Member("imag").Type.Class == hdf5.Float:
		f.cplx = true
	default:
		return bad("member data holds %v, not floats or {real, imag}", b)
	}
	f.data = data
	for _, fd := range headerFields {
		ht, off, name := head.Type, head.Offset, fd.name
		if rest, ok := strings.CutPrefix(name, "idx."); ok {
			m := ht.Member("idx")
			if m == nil || m.Type.Class != hdf5.Compound {
				continue
			}
			ht, off, name = m.Type, off+m.Offset, rest
		}
		m := ht.Member(name)
		if m == nil {
			continue // absent members read as zero
		}
		vt := m.Type
		if vt.Class == hdf5.Array {
			vt = vt.Base
		}
		if m.Type.Count() != fd.count || (vt.Class != hdf5.FixedPoint && vt.Class != hdf5.Float) {
			return bad("head member %s is %v, want %d number(s)", fd.name, m.Type, fd.count)
		}
		f.head = append(f.head, copyField{fd: fd, off: int(off + m.Offset), typ: vt})
	}
	return nil
}

// Close closes the file.
func (f *File) Close() error {
	if f.fh == nil {
		return nil
	}
	return f.fh.Close()
}

// Len implements Source.
func (f *File) Len() int { return f.n }

// Head implements Source: the row's head member, copied field by field
// into the binary layout.
func (f *File) Head(i int) (AcquisitionHeader, error) {
	if i < 0 || i >= f.n {
		return AcquisitionHeader{}, fmt.Errorf("%w: acquisition %d of %d", ErrFile, i, f.n)
	}
	row := f.rows[i*f.size : (i+1)*f.size]
	var b [AcquisitionHeaderSize]byte
	for _, c := range f.head {
		es := int(c.typ.Size)
		for k := 0; k < c.fd.count; k++ {
			src := row[c.off+k*es:]
			dst := b[c.fd.off+k*c.fd.size:]
			if c.fd.float {
				v, _ := c.typ.Float64(src)
				binary.LittleEndian.PutUint32(dst, math.Float32bits(float32(v)))
				continue
			}
			v, ok := c.typ.Int(src)
			u := uint64(v)
			if !ok { // an unsigned 64-bit value above MaxInt64
				u, _ = c.typ.Uint(src)
			}
			switch c.fd.size {
			case 2:
				binary.LittleEndian.PutUint16(dst, uint16(u))
			case 4:
				binary.LittleEndian.PutUint32(dst, uint32(u))
			case 8:
				binary.LittleEndian.PutUint64(dst, u)
			}
		}
	}
	return ParseAcquisitionHeader(b[:])
}

// Data implements Source: the row's data member from the global heap, as
// interleaved real and imaginary floats (or {real, imag} compounds), checked
// against the header's samples × channels.
func (f *File) Data(i int, dst []complex64) ([]complex64, error) {
	h, err := f.Head(i)
	if err != nil {
		return nil, err
	}
	row := f.rows[i*f.size : (i+1)*f.size]
	b, count, err := f.h5.VarLen(row[f.data.Offset : f.data.Offset+f.data.Type.Size])
	if err != nil {
		return nil, fmt.Errorf("acquisition %d: %w", i, err)
	}
	n := int(h.NumberOfSamples) * int(h.ActiveChannels)
	want := uint64(n)
	if !f.cplx {
		want *= 2
	}
	base := f.data.Type.Base
	if uint64(count) != want || uint64(len(b)) < uint64(count)*uint64(base.Size) {
		return nil, fmt.Errorf("%w: acquisition %d holds %d values in %d bytes; its header's %d samples × %d channels need %d",
			ErrFile, i, count, len(b), h.NumberOfSamples, h.ActiveChannels, want)
	}
	if cap(dst) < n {
		dst = make([]complex64, n)
	}
	dst = dst[:n]
	if f.cplx {
		re, im := base.Member("real"), base.Member("imag")
		for k := range dst {
			e := b[k*int(base.Size):]
			r, _ := re.Type.Float64(e[re.Offset:])
			m, _ := im.Type.Float64(e[im.Offset:])
			dst[k] = complex(float32(r), float32(m))
		}
		return dst, nil
	}
	es := int(base.Size)
	for k := range dst {
		r, _ := base.Float64(b[2*k*es:])
		m, _ := base.Float64(b[(2*k+1)*es:])
		dst[k] = complex(float32(r), float32(m))
	}
	return dst, nil
}

// Array reads the complex NDArray <group>/name that ISMRMRD's
// appendNDArray writes (dimensions reversed, so C order, with a leading
// dimension that counts the arrays appended): the dimensions and values.
// ismrmrd_generate_cartesian_shepp_logan writes its ground truth this way
// (phantom, csm, coil_images).
func (f *File) Array(name string) ([]int, []complex64, error) {
	d, err := f.h5.Dataset("/" + f.Group + "/" + name)
	if err != nil {
		return nil, nil, err
	}
	t := d.Type
	re, im := t.Member("real"), t.Member("imag")
	if t.Class != hdf5.Compound || re == nil || im == nil {
		return nil, nil, fmt.Errorf("%w: %s/%s holds %v, not complex values", ErrFile, f.Group, name, t)
	}
	b, err := d.Read()
	if err != nil {
		return nil, nil, err
	}
	dims := make([]int, len(d.Dims))
	for i, v := range d.Dims {
		dims[i] = int(v)
	}
	out := make([]complex64, len(b)/int(t.Size))
	for k := range out {
		e := b[k*int(t.Size):]
		r, _ := re.Type.Float64(e[re.Offset:])
		m, _ := im.Type.Float64(e[im.Offset:])
		out[k] = complex(float32(r), float32(m))
	}
	return dims, out, nil
}
