package sinogram

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// readNPY reads a little-endian float32 or float64 C-order .npy file (all
// the test data uses) and returns the values as float32 and the shape.
func readNPY(path string) ([]float32, []int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return nil, nil, fmt.Errorf("%s: not an npy file", path)
	}
	var hl, off int
	switch b[6] {
	case 1:
		hl, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return nil, nil, fmt.Errorf("%s: short header", path)
		}
		hl, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return nil, nil, fmt.Errorf("%s: npy version %d", path, b[6])
	}
	if off+hl > len(b) {
		return nil, nil, fmt.Errorf("%s: header length %d beyond file", path, hl)
	}
	h := string(b[off : off+hl])
	data := b[off+hl:]
	if strings.Contains(h, "'fortran_order': True") {
		return nil, nil, fmt.Errorf("%s: Fortran order", path)
	}
	m := regexp.MustCompile(`'shape': \(([^)]*)\)`).FindStringSubmatch(h)
	if m == nil {
		return nil, nil, fmt.Errorf("%s: no shape in header %q", path, h)
	}
	var shape []int
	n := 1
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 {
			return nil, nil, fmt.Errorf("%s: shape %q", path, m[1])
		}
		shape = append(shape, v)
		n *= v
	}
	switch {
	case strings.Contains(h, "'<f4'"):
		if len(data) != 4*n {
			return nil, nil, fmt.Errorf("%s: %d bytes for %d float32", path, len(data), n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		return out, shape, nil
	case strings.Contains(h, "'<f8'"):
		if len(data) != 8*n {
			return nil, nil, fmt.Errorf("%s: %d bytes for %d float64", path, len(data), n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:])))
		}
		return out, shape, nil
	}
	return nil, nil, fmt.Errorf("%s: dtype in %q not float32/float64 little-endian", path, h)
}

// writeNPY writes float32 values as a C-order .npy file.
func writeNPY(path string, data []float32, shape ...int) error {
	dims := make([]string, len(shape))
	for i, s := range shape {
		dims[i] = strconv.Itoa(s)
	}
	sh := strings.Join(dims, ", ")
	if len(shape) == 1 {
		sh += ","
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", sh)
	pad := 64 - (10+len(h)+1)%64
	h += strings.Repeat(" ", pad%64) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&buf, binary.LittleEndian, uint16(len(h)))
	buf.WriteString(h)
	binary.Write(&buf, binary.LittleEndian, data)
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
