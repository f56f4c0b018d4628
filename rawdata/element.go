// Package rawdata reads and writes tweedie's raw-data objects: MR k-space and
// CT sinograms carried as DICOM Raw Data Storage instances (PS3.3 §A.37,
// SOP class 1.2.840.10008.5.1.4.1.1.66) with a documented private block
// (docs/raw-data.md).
//
// The arrays in these objects reach gigabytes, so they are read with
// part10's bounded element reader: header elements are read into memory
// with bounded sizes, and the array element goes straight into a typed
// slice whose size is checked against the declared dimensions before it is
// allocated.
package rawdata

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tweedie-recon/tweedie/part10"
)

// Tag is part10's tag type, the one of the data-set code.
type Tag = part10.Tag

// T builds a tag.
func T(group, elem uint16) Tag { return part10.NewTag(group, elem) }

// maxHeaderValue bounds every element but the array: a header value larger
// than this is not something a raw-data object carries.
const maxHeaderValue = 16 << 20

// element is one header element as read.
type element struct {
	vr    string
	value []byte
}

// dataSet is the header of a raw-data object: every top-level element but
// the array, whose position the caller handles.
type dataSet map[Tag]element

func (d dataSet) has(t Tag) bool { _, ok := d[t]; return ok }

func (d dataSet) str(t Tag) string {
	e, ok := d[t]
	if !ok {
		return ""
	}
	return strings.TrimRight(string(e.value), " \x00")
}

func (d dataSet) strs(t Tag) []string {
	s := d.str(t)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\\")
}

// floats decodes FD/FL binary values or DS strings.
func (d dataSet) floats(t Tag) ([]float64, error) {
	e, ok := d[t]
	if !ok {
		return nil, nil
	}
	switch e.vr {
	case "FD":
		if len(e.value)%8 != 0 {
			return nil, fmt.Errorf("%s: FD value of %d bytes", t, len(e.value))
		}
		out := make([]float64, len(e.value)/8)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(e.value[8*i:]))
		}
		return out, nil
	case "FL":
		if len(e.value)%4 != 0 {
			return nil, fmt.Errorf("%s: FL value of %d bytes", t, len(e.value))
		}
		out := make([]float64, len(e.value)/4)
		for i := range out {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(e.value[4*i:])))
		}
		return out, nil
	default: // DS, IS, or UN holding text
		var out []float64
		for _, s := range d.strs(t) {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", t, s)
			}
			out = append(out, v)
		}
		return out, nil
	}
}

// uints decodes UL/US binary values or IS strings.
func (d dataSet) uints(t Tag) ([]uint64, error) {
	e, ok := d[t]
	if !ok {
		return nil, nil
	}
	switch e.vr {
	case "UL":
		if len(e.value)%4 != 0 {
			return nil, fmt.Errorf("%s: UL value of %d bytes", t, len(e.value))
		}
		out := make([]uint64, len(e.value)/4)
		for i := range out {
			out[i] = uint64(binary.LittleEndian.Uint32(e.value[4*i:]))
		}
		return out, nil
	case "US":
		if len(e.value)%2 != 0 {
			return nil, fmt.Errorf("%s: US value of %d bytes", t, len(e.value))
		}
		out := make([]uint64, len(e.value)/2)
		for i := range out {
			out[i] = uint64(binary.LittleEndian.Uint16(e.value[2*i:]))
		}
		return out, nil
	default:
		var out []uint64
		for _, s := range d.strs(t) {
			v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not an unsigned integer", t, s)
			}
			out = append(out, v)
		}
		return out, nil
	}
}

// writer writes Explicit VR Little Endian elements in the order given; the
// caller keeps tags ascending (PS3.5 §7.1).
type writer struct {
	w   *bufio.Writer
	err error
}

func (w *writer) header(t Tag, vr string, n uint32) {
	if w.err != nil {
		return
	}
	var b [12]byte
	_, w.err = w.w.Write(part10.AppendHeader(b[:0], t, vr, n))
}

func (w *writer) raw(t Tag, vr string, v []byte) {
	if len(v)%2 == 1 {
		pad := byte(' ')
		if vr == "UI" || vr == "OB" || vr == "UN" {
			pad = 0
		}
		v = append(v[:len(v):len(v)], pad)
	}
	if !part10.LongVR(vr) && len(v) > 0xFFFF {
		if w.err == nil {
			w.err = fmt.Errorf("value of %s too long for VR %s", t, vr)
		}
		return
	}
	w.header(t, vr, uint32(len(v)))
	if w.err == nil {
		_, w.err = w.w.Write(v)
	}
}

func (w *writer) str(t Tag, vr string, s ...string) { w.raw(t, vr, []byte(strings.Join(s, "\\"))) }

func (w *writer) fd(t Tag, v ...float64) {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	w.raw(t, "FD", b)
}

func (w *writer) ul(t Tag, v ...uint32) {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	w.raw(t, "UL", b)
}

func (w *writer) us(t Tag, v ...uint16) {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	w.raw(t, "US", b)
}

// emptySQ writes a zero-length sequence (a type 2 sequence with no items).
func (w *writer) emptySQ(t Tag) { w.header(t, "SQ", 0) }
