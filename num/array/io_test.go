package array

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tweedie-recon/tweedie/internal/barttest"
	"github.com/tweedie-recon/tweedie/internal/shareddata"
)

func TestNPYRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{3, 4, 5}, {7}, {}, {2, 0, 3}, {1, 1}} {
		n := 1
		for _, s := range shape {
			n *= s
		}
		f := make([]float32, n)
		c := make([]complex64, n)
		for i := range f {
			f[i] = float32(i) * 0.5
			c[i] = complex(float32(i), -float32(i))
		}
		var b bytes.Buffer
		if err := WriteNPYFloat32(&b, shape, f); err != nil {
			t.Fatal(err)
		}
		if (b.Len()-len(f)*4)%64 != 0 {
			t.Errorf("shape %v: header length %d not a multiple of 64", shape, b.Len()-len(f)*4)
		}
		a, err := ReadNPY(&b)
		if err != nil {
			t.Fatalf("shape %v: %v", shape, err)
		}
		if !slices.Equal(a.Shape, shape) || !slices.Equal(a.Float32, f) || a.Dtype != "<f4" || a.Len() != n {
			t.Errorf("float32 shape %v: read back %v %v", shape, a.Shape, a.Dtype)
		}
		b.Reset()
		if err := WriteNPYComplex64(&b, shape, c); err != nil {
			t.Fatal(err)
		}
		a, err = ReadNPY(&b)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.Shape, shape) || !slices.Equal(a.Complex64, c) || a.Dtype != "<c8" {
			t.Errorf("complex64 shape %v: read back %v %v", shape, a.Shape, a.Dtype)
		}
	}
	if err := WriteNPYFloat32(&bytes.Buffer{}, []int{2, 2}, make([]float32, 3)); err == nil {
		t.Error("shape (2,2) with 3 values accepted")
	}
}

func npyBytes(header string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestNPYMalformed(t *testing.T) {
	cases := map[string][]byte{
		"empty":         nil,
		"bad magic":     []byte("\x93NUMPX\x01\x00\x10\x00{}"),
		"version 9":     []byte("\x93NUMPY\x09\x00\x10\x00{}"),
		"short header":  []byte("\x93NUMPY\x01\x00\xff\x00{'descr'"),
		"not a dict":    npyBytes("[1, 2]\n", nil),
		"big endian":    npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n", make([]byte, 4)),
		"float64":       npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", make([]byte, 8)),
		"fortran":       npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }\n", make([]byte, 4)),
		"no shape":      npyBytes("{'descr': '<f4', 'fortran_order': False, }\n", nil),
		"neg shape":     npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n", nil),
		"text shape":    npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }\n", nil),
		"huge":          npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (100000, 100000, 100000), }\n", nil),
		"overflow":      npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }\n", nil),
		"short data":    npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }\n", make([]byte, 39)),
		"duplicate key": npyBytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", make([]byte, 4)),
		"unknown key":   npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n", make([]byte, 4)),
	}
	for name, b := range cases {
		if _, err := ReadNPY(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: no error", name)
		} else if name != "short data" && !errors.Is(err, ErrMalformedHeader) && !strings.Contains(err.Error(), "limit") {
			t.Errorf("%s: error %q does not wrap ErrMalformedHeader", name, err)
		}
	}
	// a header promising more data than the file holds is caught from the
	// file size before allocating
	dir := t.TempDir()
	p := filepath.Join(dir, "x.npy")
	os.WriteFile(p, npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }\n", make([]byte, 16)), 0o644)
	if _, err := ReadNPYFile(p); err == nil || !strings.Contains(err.Error(), "needs") {
		t.Errorf("truncated file: %v", err)
	}
	if _, err := ReadNPYLimit(bytes.NewReader(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }\n", make([]byte, 400))), 99); err == nil {
		t.Error("100 elements accepted with a limit of 99")
	}
}

// FuzzReadNPY: no panic and bounded work on any input.
func FuzzReadNPY(f *testing.F) {
	var b bytes.Buffer
	WriteNPYComplex64(&b, []int{2, 3}, make([]complex64, 6))
	f.Add(b.Bytes())
	f.Add(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", make([]byte, 8)))
	f.Add([]byte("\x93NUMPY\x02\x00\x10\x00\x00\x00{'shape': ()}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ReadNPYLimit(bytes.NewReader(data), 1<<20)
		if err == nil && a.Len() != len(a.Float32)+len(a.Complex64) {
			t.Fatalf("shape %v but %d+%d values", a.Shape, len(a.Float32), len(a.Complex64))
		}
	})
}

// The real data files open and have the documented shapes; numpy reads
// what we write.
func TestNPYRealDataAndNumpy(t *testing.T) {
	p := shareddata.Path(t, "mri", "itk_t1_coronal_128.npy")
	a, err := ReadNPYFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Shape, []int{54, 128, 128}) || a.Dtype != "<f4" {
		t.Errorf("%s: shape %v dtype %s", p, a.Shape, a.Dtype)
	}
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import numpy").Run() != nil {
		t.Skip("numpy not available")
	}
	dir := t.TempDir()
	c := []complex64{1 + 2i, 3 - 4i, 5, 6i, 7, 8, 9, 10, 11, 12, 13, 14}
	if err := WriteNPYFile(filepath.Join(dir, "c.npy"), []int{3, 4}, c); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `import numpy as np; a = np.load('`+filepath.Join(dir, "c.npy")+`'); print(a.dtype, a.shape, a[0, 1], a[2, 3])`).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "complex64 (3, 4) (3-4j) (14+0j)" {
		t.Errorf("numpy read %q", got)
	}
}

func TestCFLRoundTripAndErrors(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "a")
	data := []complex64{1, 2i, 3, 4}
	if err := WriteCFL(base+".cfl", []int{2, 1, 2}, data); err != nil {
		t.Fatal(err)
	}
	dims, got, err := ReadCFL(base)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, data) || len(dims) != 16 || dims[0] != 2 || dims[2] != 2 || dims[3] != 1 {
		t.Errorf("read back dims %v data %v", dims, got)
	}
	if err := WriteCFL(base, []int{3}, data); err == nil {
		t.Error("dims [3] with 4 values accepted")
	}
	write := func(hdr string, cflBytes int) string {
		b := filepath.Join(dir, "bad")
		os.WriteFile(b+".hdr", []byte(hdr), 0o644)
		os.WriteFile(b+".cfl", make([]byte, cflBytes), 0o644)
		return b
	}
	for name, c := range map[string]struct {
		hdr string
		n   int
	}{
		"no dims line":   {"# Command\nfoo\n", 8},
		"empty dims":     {"# Dimensions\n\n", 8},
		"text dim":       {"# Dimensions\n2 x 1\n", 16},
		"zero dim":       {"# Dimensions\n2 0 1\n", 0},
		"negative dim":   {"# Dimensions\n-2 1\n", 16},
		"size mismatch":  {"# Dimensions\n4 4\n", 8 * 15},
		"too big":        {"# Dimensions\n65536 65536 65536\n", 8},
		"dims at EOF":    {"# Dimensions", 8},
		"too many dims":  {"# Dimensions\n" + strings.Repeat("1 ", 100) + "\n", 8},
		"huge dim value": {"# Dimensions\n99999999999999999999\n", 8},
	} {
		if _, _, err := ReadCFL(write(c.hdr, c.n)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, _, err := ReadCFL(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
	// BART reads what we write
	barttest.Run(t, dir, "scale", "2", "a", "b")
	_, b, err := ReadCFL(filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		if b[i] != 2*data[i] {
			t.Fatalf("bart scale 2: %v", b)
		}
	}
}

func FuzzParseCFLHeader(f *testing.F) {
	f.Add([]byte("# Dimensions\n256 256 1 8 1 1 1 1 1 1 1 1 1 1 1 1 \n# Command\nx\n"))
	f.Add([]byte("# Dimensions\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dims, err := parseCFLHeader(bytes.NewReader(data))
		if err == nil {
			if len(dims) == 0 || len(dims) > maxDims {
				t.Fatalf("%d dims accepted", len(dims))
			}
			if _, err := checkedProduct(dims, DefaultMaxElements); err == nil {
				return
			}
		}
	})
}

func newRng() *rand.Rand { return rand.New(rand.NewPCG(99, 1)) }
