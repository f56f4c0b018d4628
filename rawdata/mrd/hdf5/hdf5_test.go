package hdf5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// open opens a fixture of testdata (written by testdata/make.py with h5py
// and libhdf5 1.10.8, or by Debian's ISMRMRD phantom generator).
func open(t testing.TB, name string) *File {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

func read(t *testing.T, f *File, path string) (*Dataset, []byte) {
	t.Helper()
	ds, err := f.Dataset(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ds.Read()
	if err != nil {
		t.Fatal(err)
	}
	return ds, b
}

func ints(t *testing.T, ds *Dataset, b []byte) []int64 {
	t.Helper()
	var out []int64
	for i := 0; i < len(b); i += int(ds.Type.Size) {
		v, ok := ds.Type.Int(b[i:])
		if !ok {
			t.Fatalf("%s: element %d is not an integer", ds.Path, i)
		}
		out = append(out, v)
	}
	return out
}

// TestDefaultFormat: libhdf5's default format as h5py writes it — chunked
// data through shuffle, deflate and Fletcher-32, chunks never written read
// as zeros, big-endian integers, compact storage, fixed and
// variable-length strings, and a group whose B-tree has several levels.
func TestDefaultFormat(t *testing.T) {
	f := open(t, "v0.h5")
	ds, b := read(t, f, "/g/deflate")
	if !reflect.DeepEqual(ds.Dims, []uint64{10, 7}) || ds.Type.Class != Float || ds.Type.Size != 4 {
		t.Fatalf("deflate: %v %v", ds.Dims, ds.Type)
	}
	if got := ds.Filters(); !reflect.DeepEqual(got, []string{"shuffle", "deflate", "fletcher32"}) {
		t.Errorf("filters %v", got)
	}
	for i := 0; i < 70; i++ {
		if v, _ := ds.Type.Float64(b[4*i:]); v != float64(i)/4 {
			t.Fatalf("deflate[%d] = %v, want %v", i, v, float64(i)/4)
		}
	}
	ds, b = read(t, f, "/g/partial")
	want := make([]int64, 35)
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			want[r*5+c] = int64(r*3 + c + 1)
		}
	}
	want[6*5+4] = 99
	if got := ints(t, ds, b); !reflect.DeepEqual(got, want) {
		t.Errorf("partial = %v, want %v", got, want)
	}
	ds, b = read(t, f, "/g/bigendian")
	if got := ints(t, ds, b); !reflect.DeepEqual(got, []int64{-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5}) || !ds.Type.BigEndian {
		t.Errorf("bigendian = %v (big endian %v)", got, ds.Type.BigEndian)
	}
	ds, b = read(t, f, "/g/compact")
	if got := ints(t, ds, b); !reflect.DeepEqual(got, []int64{7, -8, 9, -10}) {
		t.Errorf("compact = %v", got)
	}
	for path, want := range map[string][]string{"/g/fixedstr": {"alpha", "beta", "gamma"}, "/g/vlstr": {"variable", "length strings"}} {
		ds, err := f.Dataset(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ds.Strings(); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %q, %v", path, got, err)
		}
	}
	names, err := f.List("/many")
	if err != nil || len(names) != 40 || names[0] != "m00" || names[39] != "m39" {
		t.Errorf("/many holds %d: %v, %v", len(names), names, err)
	}
	if _, err := f.Dataset("/g/missing"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"/g/missing"`) {
		t.Errorf("a missing dataset: %v", err)
	}
	if _, err := f.Dataset("/many"); err == nil {
		t.Error("a group opened as a dataset")
	}
}

// TestLatestFormat: a file written with libver "latest" (superblock 3,
// version 2 object headers, link messages, layout version 4) reads; the
// fixed-array chunk index and dense link storage are refused by name.
func TestLatestFormat(t *testing.T) {
	f := open(t, "latest.h5")
	ds, b := read(t, f, "/contig")
	for i := 0; i < 6; i++ {
		if v, _ := ds.Type.Float64(b[8*i:]); v != float64(i) {
			t.Fatalf("contig[%d] = %v", i, v)
		}
	}
	ds, b = read(t, f, "/compact")
	if got := ints(t, ds, b); !reflect.DeepEqual(got, []int64{1, 2, 3}) {
		t.Errorf("compact = %v", got)
	}
	ds, b = read(t, f, "/single")
	if got := ints(t, ds, b); !reflect.DeepEqual(got, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}) {
		t.Errorf("single = %v", got)
	}
	ds, _ = read(t, f, "/vlstr")
	if got, err := ds.Strings(); err != nil || !reflect.DeepEqual(got, []string{"one", "two"}) {
		t.Errorf("vlstr = %q, %v", got, err)
	}
	if _, err := f.Dataset("/farray"); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "fixed-array") {
		t.Errorf("fixed-array index: %v", err)
	}
	if _, err := f.List("/dense"); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "dense link storage") {
		t.Errorf("dense group: %v", err)
	}
}

// TestISMRMRDLayouts: the acquisitions of the phantom generator's file
// (libhdf5 through ismrmrd's C library: a chunk per acquisition) and of
// the same data rewritten by h5py (eight acquisitions a chunk, shuffled
// and deflated, a new global heap) are the same bytes, and so are their
// variable-length arrays.
func TestISMRMRDLayouts(t *testing.T) {
	a := open(t, "../../testdata/shepp8.h5")
	b := open(t, "mrd_h5py.h5")
	dsa, rowsA := read(t, a, "/dataset/data")
	dsb, rowsB := read(t, b, "/dataset/data")
	if !reflect.DeepEqual(dsa.Dims, dsb.Dims) || dsa.Type.Size != dsb.Type.Size {
		t.Fatalf("dims %v vs %v, element %d vs %d bytes", dsa.Dims, dsb.Dims, dsa.Type.Size, dsb.Type.Size)
	}
	data := dsa.Type.Member("data")
	head := dsa.Type.Member("head")
	if data == nil || head == nil || head.Type.Size != 340 || data.Type.Class != VarLen || data.Type.Base.Class != Float {
		t.Fatalf("members: %+v", dsa.Type.Members)
	}
	size := int(dsa.Type.Size)
	for i := 0; i < int(dsa.Dims[0]); i++ {
		ra, rb := rowsA[i*size:(i+1)*size], rowsB[i*size:(i+1)*size]
		if !bytes.Equal(ra[:340], rb[:340]) {
			t.Fatalf("acquisition %d: headers differ", i)
		}
		va, na, err := a.VarLen(ra[data.Offset:])
		if err != nil {
			t.Fatal(err)
		}
		vb, nb, err := b.VarLen(rb[data.Offset:])
		if err != nil {
			t.Fatal(err)
		}
		samples := binary.LittleEndian.Uint16(ra[34:])
		channels := binary.LittleEndian.Uint16(ra[38:])
		if na != nb || !bytes.Equal(va, vb) || int(na) != 2*int(samples)*int(channels) {
			t.Fatalf("acquisition %d: %d vs %d values (header: %d samples × %d channels)", i, na, nb, samples, channels)
		}
	}
	xa, _ := a.Dataset("/dataset/xml")
	sa, err := xa.Strings()
	if err != nil || len(sa) != 1 || !strings.Contains(sa[0], "<ismrmrdHeader") {
		t.Errorf("xml: %v %v", len(sa), err)
	}
}

// TestMalformed: truncations, out-of-range addresses, a bad signature and
// sizes beyond the limits are errors wrapping ErrFormat, never panics.
func TestMalformed(t *testing.T) {
	good, err := os.ReadFile("testdata/v0.h5")
	if err != nil {
		t.Fatal(err)
	}
	// readAll reads three datasets and returns their bytes.
	readAll := func(b []byte) ([]byte, error) {
		f, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, err
		}
		var all []byte
		for _, p := range []string{"/g/deflate", "/g/partial", "/g/vlstr"} {
			ds, err := f.Dataset(p)
			if err != nil {
				return nil, err
			}
			b, err := ds.Read()
			if err != nil {
				return nil, err
			}
			all = append(all, b...)
			if p == "/g/vlstr" {
				s, err := ds.Strings()
				if err != nil {
					return nil, err
				}
				all = append(all, strings.Join(s, "|")...)
			}
		}
		return all, nil
	}
	want, err := readAll(good)
	if err != nil {
		t.Fatal(err)
	}
	// A truncated file reads what it still holds, or fails with ErrFormat.
	for _, n := range []int{0, 7, 100, 800, 2000, 4000, 8000, len(good) / 2, len(good) - 100} {
		got, err := readAll(good[:n])
		if err == nil && !bytes.Equal(got, want) || err != nil && !errors.Is(err, ErrFormat) {
			t.Errorf("truncated to %d bytes: %v", n, err)
		}
	}
	if _, err := readAll(good[:2000]); err == nil || !strings.Contains(err.Error(), "truncated") && !strings.Contains(err.Error(), "ends early") {
		t.Errorf("truncated to 2000 bytes: %v, want an error that says so", err)
	}
	bad := bytes.Clone(good)
	bad[1] = 'X'
	if _, err := Open(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "signature") {
		t.Errorf("bad signature: %v", err)
	}
	// Every byte of the file in turn set to 0xFF: any error is fine, a
	// panic is not.
	for i := 0; i < len(good); i += 7 {
		b := bytes.Clone(good)
		b[i] = 0xFF
		_, _ = readAll(b)
	}
}

// TestOversizedDataspace: a dataspace that declares more elements than
// the file could hold is refused before anything is allocated.
func TestOversizedDataspace(t *testing.T) {
	good, err := os.ReadFile("testdata/v0.h5")
	if err != nil {
		t.Fatal(err)
	}
	f := open(t, "v0.h5")
	ds, err := f.Dataset("/g/deflate")
	if err != nil {
		t.Fatal(err)
	}
	// Find the dataspace message (version 1, rank 2, dims 10 and 7) and
	// make the first dimension 2⁴⁰.
	pat := make([]byte, 16)
	binary.LittleEndian.PutUint64(pat, 10)
	binary.LittleEndian.PutUint64(pat[8:], 7)
	i := bytes.Index(good, pat)
	if i < 0 || ds.Dims[0] != 10 {
		t.Fatal("dataspace of /g/deflate not found")
	}
	b := bytes.Clone(good)
	binary.LittleEndian.PutUint64(b[i:], 1<<40)
	f2, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	ds2, err := f2.Dataset("/g/deflate")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds2.Read(); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("2⁴⁰ × 7 elements: %v", err)
	}
}

// FuzzOpen: no file may panic the reader or make it allocate beyond its
// bounds; the fixtures are the seeds. Everything reachable is read: the
// groups, each dataset, its strings or variable-length members.
func FuzzOpen(f *testing.F) {
	for _, name := range []string{"v0.h5", "latest.h5", "mrd_h5py.h5", "../../testdata/shepp8.h5"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		walk(h, "/", 0)
	})
}

// walk reads everything under path, ignoring errors.
func walk(f *File, path string, depth int) {
	if depth > 4 {
		return
	}
	names, err := f.List(path)
	if err != nil {
		return
	}
	for i, n := range names {
		if i >= 16 {
			break
		}
		p := strings.TrimSuffix(path, "/") + "/" + n
		ds, err := f.Dataset(p)
		if err != nil {
			walk(f, p, depth+1)
			continue
		}
		b, err := ds.Read()
		if err != nil {
			continue
		}
		if uint64(len(b)) > maxExpand*f.size {
			panic(fmt.Sprintf("%s: %d bytes read from a %d-byte file", p, len(b), f.size))
		}
		_, _ = ds.Strings()
		for _, m := range ds.Type.Members {
			if m.Type.Class != VarLen {
				continue
			}
			for i := 0; i+int(ds.Type.Size) <= len(b) && i < 64*int(ds.Type.Size); i += int(ds.Type.Size) {
				_, _, _ = f.VarLen(b[i+int(m.Offset):])
			}
		}
		for i := 0; i+int(ds.Type.Size) <= len(b) && i < 64; i += int(ds.Type.Size) {
			_, _ = ds.Type.Float64(b[i:])
		}
	}
}
