package array

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// NumPy .npy format (NEP 1, versions 1.0–3.0): the magic "\x93NUMPY", a
// version byte pair, a little-endian header length (2 bytes in 1.0, 4 in 2.0
// and 3.0), and an ASCII Python dict literal with 'descr', 'fortran_order'
// and 'shape', padded with spaces and a newline; then the raw data.

// NPY is an array read from a .npy file. Exactly one of Float32 and
// Complex64 is set, according to Dtype.
type NPY struct {
	Shape     []int
	Dtype     string // "<f4" or "<c8"
	Float32   []float32
	Complex64 []complex64
}

// Len returns the number of elements (the product of Shape).
func (a *NPY) Len() int {
	n := 1
	for _, s := range a.Shape {
		n *= s
	}
	return n
}

const npyMagic = "\x93NUMPY"

// maxNPYHeader bounds the dict literal of a .npy header (numpy itself
// refuses headers over 10000 bytes by default).
const maxNPYHeader = 1 << 16

// ReadNPYFile reads a float32 or complex64 .npy file, C order. The
// header's size is checked against DefaultMaxElements and against the
// file's length before the data buffer is allocated.
func ReadNPYFile(path string) (*NPY, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("array: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("array: %w", err)
	}
	a, err := readNPY(bufio.NewReaderSize(f, 1<<20), DefaultMaxElements, st.Size())
	if err != nil {
		return nil, fmt.Errorf("array: %s: %w", path, err)
	}
	return a, nil
}

// ReadNPY reads a float32 ('<f4') or complex64 ('<c8') .npy stream in C
// order with at most DefaultMaxElements elements.
func ReadNPY(r io.Reader) (*NPY, error) { return ReadNPYLimit(r, DefaultMaxElements) }

// ReadNPYLimit reads a .npy stream of at most maxElements elements. Memory
// grows with the data received, so a header that promises more data than
// the stream holds costs no more than the stream's length.
func ReadNPYLimit(r io.Reader, maxElements int64) (*NPY, error) {
	a, err := readNPY(r, maxElements, -1)
	if err != nil {
		return nil, fmt.Errorf("array: npy: %w", err)
	}
	return a, nil
}

func readNPY(r io.Reader, maxElements, size int64) (*NPY, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return nil, fmt.Errorf("%w: short preamble: %v", ErrMalformedHeader, err)
	}
	if string(pre[:6]) != npyMagic {
		return nil, fmt.Errorf("%w: not a .npy file (bad magic %q)", ErrMalformedHeader, pre[:6])
	}
	major := pre[6]
	var hlen int64
	var prefix int64
	switch major {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return nil, fmt.Errorf("%w: short preamble: %v", ErrMalformedHeader, err)
		}
		hlen = int64(binary.LittleEndian.Uint16(pre[8:10]))
		prefix = 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: short preamble: %v", ErrMalformedHeader, err)
		}
		hlen = int64(binary.LittleEndian.Uint32(b[:]))
		prefix = 12
	default:
		return nil, fmt.Errorf("%w: unsupported .npy version %d.%d", ErrMalformedHeader, major, pre[7])
	}
	if hlen > maxNPYHeader {
		return nil, fmt.Errorf("%w: header of %d bytes (at most %d)", ErrMalformedHeader, hlen, maxNPYHeader)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%w: header shorter than its stated %d bytes: %v", ErrMalformedHeader, hlen, err)
	}
	descr, fortran, shape, err := parseNPYHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	if fortran {
		return nil, fmt.Errorf("%w: fortran_order is True; only C order is supported", ErrMalformedHeader)
	}
	var elem int64
	switch descr {
	case "<f4":
		elem = 4
	case "<c8":
		elem = 8
	default:
		return nil, fmt.Errorf("%w: dtype %q not supported (want '<f4' float32 or '<c8' complex64)", ErrMalformedHeader, descr)
	}
	n, err := checkedProduct(shape, maxElements)
	if err != nil {
		return nil, err
	}
	if size >= 0 && size-prefix-hlen != n*elem {
		return nil, fmt.Errorf("%w: shape %v of %s needs %d data bytes, file has %d", ErrMalformedHeader, shape, descr, n*elem, size-prefix-hlen)
	}
	a := &NPY{Shape: shape, Dtype: descr}
	if elem == 4 {
		a.Float32, err = readFloat32s(r, n)
	} else {
		a.Complex64, err = readComplex64s(r, n)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// parseNPYHeader parses the dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
func parseNPYHeader(h string) (descr string, fortran bool, shape []int, err error) {
	bad := func(format string, args ...any) (string, bool, []int, error) {
		return "", false, nil, fmt.Errorf("%w: %s in %q", ErrMalformedHeader, fmt.Sprintf(format, args...), strings.TrimSpace(h))
	}
	s := strings.TrimSpace(h)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return bad("header is not a dict literal")
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	seen := map[string]bool{}
	for len(s) > 0 {
		key, rest, ok := npyString(s)
		if !ok {
			return bad("expected a quoted key")
		}
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, ":") {
			return bad("expected ':' after key %q", key)
		}
		rest = strings.TrimSpace(rest[1:])
		if seen[key] {
			return bad("duplicate key %q", key)
		}
		seen[key] = true
		switch key {
		case "descr":
			v, r2, ok := npyString(rest)
			if !ok {
				return bad("descr is not a string")
			}
			descr, rest = v, r2
		case "fortran_order":
			switch {
			case strings.HasPrefix(rest, "False"):
				fortran, rest = false, rest[5:]
			case strings.HasPrefix(rest, "True"):
				fortran, rest = true, rest[4:]
			default:
				return bad("fortran_order is not True or False")
			}
		case "shape":
			if !strings.HasPrefix(rest, "(") {
				return bad("shape is not a tuple")
			}
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return bad("shape tuple not closed")
			}
			shape = []int{}
			for _, f := range strings.Split(rest[1:end], ",") {
				f = strings.TrimSpace(f)
				if f == "" {
					continue
				}
				f = strings.TrimSuffix(f, "L") // Python 2 longs
				v, e := strconv.ParseInt(f, 10, 64)
				if e != nil || v < 0 || v > 1<<40 {
					return bad("shape entry %q is not a non-negative integer", f)
				}
				if len(shape) == maxDims {
					return bad("more than %d dimensions", maxDims)
				}
				shape = append(shape, int(v))
			}
			rest = rest[end+1:]
		default:
			return bad("unexpected key %q", key)
		}
		rest = strings.TrimSpace(rest)
		if strings.HasPrefix(rest, ",") {
			rest = strings.TrimSpace(rest[1:])
		} else if rest != "" {
			return bad("expected ',' after value of %q", key)
		}
		s = rest
	}
	if !seen["descr"] || !seen["fortran_order"] || !seen["shape"] {
		return bad("missing one of 'descr', 'fortran_order', 'shape'")
	}
	return descr, fortran, shape, nil
}

// npyString reads a single- or double-quoted Python string without escapes.
func npyString(s string) (val, rest string, ok bool) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') {
		return "", s, false
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", s, false
	}
	return s[1 : 1+end], s[2+end:], true
}

// npyHeader builds a version 1.0 (or 2.0 when long) header whose total
// length is a multiple of 64, as numpy writes it.
func npyHeader(descr string, shape []int) []byte {
	var sh strings.Builder
	sh.WriteByte('(')
	for i, s := range shape {
		if i > 0 {
			sh.WriteString(", ")
		}
		sh.WriteString(strconv.Itoa(s))
	}
	if len(shape) == 1 {
		sh.WriteByte(',')
	}
	sh.WriteByte(')')
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, sh.String())
	var b bytes.Buffer
	b.WriteString(npyMagic)
	pre := 10
	if len(dict)+1+10 > 65535 {
		pre = 12
	}
	pad := 64 - (pre+len(dict)+1)%64
	if pad == 64 {
		pad = 0
	}
	hlen := len(dict) + pad + 1
	if pre == 10 {
		b.Write([]byte{1, 0})
		binary.Write(&b, binary.LittleEndian, uint16(hlen))
	} else {
		b.Write([]byte{2, 0})
		binary.Write(&b, binary.LittleEndian, uint32(hlen))
	}
	b.WriteString(dict)
	b.WriteString(strings.Repeat(" ", pad))
	b.WriteByte('\n')
	return b.Bytes()
}

func checkShape(shape []int, n int) error {
	if len(shape) > maxDims {
		return fmt.Errorf("array: npy: %d dimensions (at most %d)", len(shape), maxDims)
	}
	p := 1
	for _, s := range shape {
		if s < 0 {
			return fmt.Errorf("array: npy: negative dimension in shape %v", shape)
		}
		p *= s
	}
	if p != n {
		return fmt.Errorf("array: npy: shape %v holds %d elements, data has %d", shape, p, n)
	}
	return nil
}

// WriteNPYFloat32 writes data as a C-order '<f4' .npy array of the given shape.
func WriteNPYFloat32(w io.Writer, shape []int, data []float32) error {
	if err := checkShape(shape, len(data)); err != nil {
		return err
	}
	if _, err := w.Write(npyHeader("<f4", shape)); err != nil {
		return err
	}
	return writeFloat32s(w, data)
}

// WriteNPYComplex64 writes data as a C-order '<c8' .npy array of the given shape.
func WriteNPYComplex64(w io.Writer, shape []int, data []complex64) error {
	if err := checkShape(shape, len(data)); err != nil {
		return err
	}
	if _, err := w.Write(npyHeader("<c8", shape)); err != nil {
		return err
	}
	return writeComplex64s(w, data)
}

// WriteNPYFile writes a .npy file; data must be []float32 or []complex64.
func WriteNPYFile(path string, shape []int, data any) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("array: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	switch d := data.(type) {
	case []float32:
		err = WriteNPYFloat32(w, shape, d)
	case []complex64:
		err = WriteNPYComplex64(w, shape, d)
	default:
		err = fmt.Errorf("array: WriteNPYFile: data of type %T, want []float32 or []complex64", data)
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("array: %s: %w", path, err)
	}
	return nil
}
