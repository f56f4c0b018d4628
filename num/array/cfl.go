package array

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// BART's file format: base.hdr is text with a "# Dimensions" line followed
// by a line of integers (BART writes 16), and base.cfl holds the complex64
// samples, little endian, column-major (dims[0] varies fastest).

// DefaultMaxElements bounds the number of array elements ReadCFL and ReadNPY
// accept from a header before allocating (2^28 elements: 2 GiB of
// complex64).
const DefaultMaxElements = 1 << 28

// maxHeaderBytes bounds the text read from a .hdr file.
const maxHeaderBytes = 1 << 16

// maxDims bounds the number of dimensions in a .hdr or .npy header.
const maxDims = 64

// ErrMalformedHeader is wrapped by the errors for unreadable .hdr and .npy
// headers.
var ErrMalformedHeader = errors.New("malformed header")

// CFLDims returns BART's dims for a C-order array of the given shape: the
// shape reversed, e.g. (coils, rows, cols) → [cols, rows, coils]. Insert
// singleton dims as BART expects (kspace (coils, rows, cols) is
// [cols, rows, 1, coils]) with CFLDims(coils, 1, rows, cols).
func CFLDims(shape ...int) []int {
	d := make([]int, len(shape))
	for i, s := range shape {
		d[len(shape)-1-i] = s
	}
	return d
}

// cflBase strips a trailing ".cfl" or ".hdr" so both "x" and "x.cfl" name
// the pair x.hdr/x.cfl.
func cflBase(base string) string {
	if s, ok := strings.CutSuffix(base, ".cfl"); ok {
		return s
	}
	if s, ok := strings.CutSuffix(base, ".hdr"); ok {
		return s
	}
	return base
}

// ReadCFL reads the BART array base.hdr/base.cfl and returns its dims (all
// of them, trailing singletons included) and samples in BART's memory order.
// It is ReadCFLLimit with DefaultMaxElements.
func ReadCFL(base string) (dims []int, data []complex64, err error) {
	return ReadCFLLimit(base, DefaultMaxElements)
}

// ReadCFLLimit reads a BART array of at most maxElements elements. The
// header's size is checked against the limit and against the .cfl file's
// length before any sample buffer is allocated.
func ReadCFLLimit(base string, maxElements int64) (dims []int, data []complex64, err error) {
	base = cflBase(base)
	hf, err := os.Open(base + ".hdr")
	if err != nil {
		return nil, nil, fmt.Errorf("array: BART header: %w", err)
	}
	dims, err = parseCFLHeader(io.LimitReader(hf, maxHeaderBytes+1))
	hf.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("array: %s.hdr: %w", base, err)
	}
	n, err := checkedProduct(dims, maxElements)
	if err != nil {
		return nil, nil, fmt.Errorf("array: %s.hdr: %w", base, err)
	}
	f, err := os.Open(base + ".cfl")
	if err != nil {
		return nil, nil, fmt.Errorf("array: BART data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("array: %s.cfl: %w", base, err)
	}
	if st.Size() != n*8 {
		return nil, nil, fmt.Errorf("array: %s.cfl holds %d bytes, header dims %v need %d", base, st.Size(), dims, n*8)
	}
	data, err = readComplex64s(bufio.NewReaderSize(f, 1<<20), n)
	if err != nil {
		return nil, nil, fmt.Errorf("array: %s.cfl: %w", base, err)
	}
	return dims, data, nil
}

// parseCFLHeader reads the integers on the line after "# Dimensions".
func parseCFLHeader(r io.Reader) ([]int, error) {
	text, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(text) > maxHeaderBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedHeader, maxHeaderBytes)
	}
	lines := strings.Split(string(text), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "# Dimensions" {
			continue
		}
		if i+1 >= len(lines) {
			return nil, fmt.Errorf("%w: no line after \"# Dimensions\"", ErrMalformedHeader)
		}
		fields := strings.Fields(lines[i+1])
		if len(fields) == 0 {
			return nil, fmt.Errorf("%w: empty dimension line", ErrMalformedHeader)
		}
		if len(fields) > maxDims {
			return nil, fmt.Errorf("%w: %d dimensions (at most %d)", ErrMalformedHeader, len(fields), maxDims)
		}
		dims := make([]int, len(fields))
		for j, f := range fields {
			v, err := strconv.ParseInt(f, 10, 64)
			if err != nil || v < 1 || v > math.MaxInt32 {
				return nil, fmt.Errorf("%w: dimension %d is %q, want an integer in 1…%d", ErrMalformedHeader, j, f, math.MaxInt32)
			}
			dims[j] = int(v)
		}
		return dims, nil
	}
	return nil, fmt.Errorf("%w: no \"# Dimensions\" line", ErrMalformedHeader)
}

// checkedProduct multiplies dims without overflow and bounds the result.
func checkedProduct(dims []int, maxElements int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension %d", ErrMalformedHeader, d)
		}
		if d != 0 && n > maxElements/int64(d) {
			return 0, fmt.Errorf("array of dims %v exceeds the limit of %d elements", dims, maxElements)
		}
		n *= int64(d)
	}
	if n > maxElements {
		return 0, fmt.Errorf("array of dims %v exceeds the limit of %d elements", dims, maxElements)
	}
	return n, nil
}

// WriteCFL writes base.hdr and base.cfl. The product of dims must equal
// len(data); data are written in the order given (BART's column-major
// order, i.e. a C-order array with its shape reversed, see CFLDims).
func WriteCFL(base string, dims []int, data []complex64) error {
	base = cflBase(base)
	if len(dims) == 0 || len(dims) > maxDims {
		return fmt.Errorf("array: WriteCFL %s: %d dims, want 1…%d", base, len(dims), maxDims)
	}
	n := 1
	for _, d := range dims {
		if d < 1 {
			return fmt.Errorf("array: WriteCFL %s: dimension %d < 1 in %v", base, d, dims)
		}
		n *= d
	}
	if n != len(data) {
		return fmt.Errorf("array: WriteCFL %s: dims %v hold %d elements, data has %d", base, dims, n, len(data))
	}
	var hdr bytes.Buffer
	hdr.WriteString("# Dimensions\n")
	for i := 0; i < max(len(dims), 16); i++ {
		d := 1
		if i < len(dims) {
			d = dims[i]
		}
		fmt.Fprintf(&hdr, "%d ", d)
	}
	hdr.WriteString("\n")
	if err := os.WriteFile(base+".hdr", hdr.Bytes(), 0o644); err != nil {
		return fmt.Errorf("array: WriteCFL: %w", err)
	}
	f, err := os.Create(base + ".cfl")
	if err != nil {
		return fmt.Errorf("array: WriteCFL: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := writeComplex64s(w, data); err != nil {
		f.Close()
		return fmt.Errorf("array: WriteCFL %s.cfl: %w", base, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("array: WriteCFL %s.cfl: %w", base, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("array: WriteCFL %s.cfl: %w", base, err)
	}
	return nil
}

// readChunk is the number of elements decoded per read; buffers grow with
// the data actually received, never ahead of it by more than one chunk.
const readChunk = 1 << 18

// readFloat32s reads n little-endian float32 values.
func readFloat32s(r io.Reader, n int64) ([]float32, error) {
	out := make([]float32, 0, min(n, readChunk))
	buf := make([]byte, 4*min(n, readChunk))
	for int64(len(out)) < n {
		m := min(n-int64(len(out)), readChunk)
		b := buf[:4*m]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("data end after %d of %d values: %w", int64(len(out)), n, err)
		}
		for i := int64(0); i < m; i++ {
			out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
	}
	return out, nil
}

// readComplex64s reads n little-endian complex64 values (real, imaginary).
func readComplex64s(r io.Reader, n int64) ([]complex64, error) {
	out := make([]complex64, 0, min(n, readChunk))
	buf := make([]byte, 8*min(n, readChunk))
	for int64(len(out)) < n {
		m := min(n-int64(len(out)), readChunk)
		b := buf[:8*m]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("data end after %d of %d values: %w", int64(len(out)), n, err)
		}
		for i := int64(0); i < m; i++ {
			re := math.Float32frombits(binary.LittleEndian.Uint32(b[8*i:]))
			im := math.Float32frombits(binary.LittleEndian.Uint32(b[8*i+4:]))
			out = append(out, complex(re, im))
		}
	}
	return out, nil
}

func writeFloat32s(w io.Writer, data []float32) error {
	buf := make([]byte, 4*min(len(data), readChunk))
	for len(data) > 0 {
		m := min(len(data), readChunk)
		for i, v := range data[:m] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(buf[:4*m]); err != nil {
			return err
		}
		data = data[m:]
	}
	return nil
}

func writeComplex64s(w io.Writer, data []complex64) error {
	buf := make([]byte, 8*min(len(data), readChunk))
	for len(data) > 0 {
		m := min(len(data), readChunk)
		for i, v := range data[:m] {
			binary.LittleEndian.PutUint32(buf[8*i:], math.Float32bits(real(v)))
			binary.LittleEndian.PutUint32(buf[8*i+4:], math.Float32bits(imag(v)))
		}
		if _, err := w.Write(buf[:8*m]); err != nil {
			return err
		}
		data = data[m:]
	}
	return nil
}
