package gateway

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom/pkg/charset"

	"github.com/tweedie-recon/tweedie/part10"
	"github.com/tweedie-recon/tweedie/rules"
)

// Subject is a spooled instance as the routing rules see it: the values of
// its top-level attributes, by keyword ("Modality") or tag ("(0008,0060)"),
// in any form rules.Normalize accepts (the one parser of attribute names).
// It implements rules.Subject. The values are decoded from the reduced data
// set that ReadHeader kept (no second parse): text in the character set of
// Specific Character Set (0008,0005), numbers by their VR (PS3.5 §6.2);
// sequences and bulk values are not attributes a rule can test.
type Subject struct {
	values rules.MapSubject
}

// Subject decodes the header's kept elements.
func (h *Header) Subject() (*Subject, error) {
	var dec decoder
	for _, e := range h.elements {
		if e.tag == part10.TagSpecificCharacterSet {
			// An unknown character set is read as UTF-8 (PS3.5 §6.1.2.3
			// leaves it to the application).
			if cs, err := charset.ParseSpecificCharacterSet(textValues(e.value, nil)); err == nil && cs.Ideographic != nil {
				dec = cs.Ideographic.Bytes
			}
		}
	}
	s := make(rules.MapSubject, len(h.elements))
	for _, e := range h.elements {
		key, err := rules.Normalize(e.tag.String())
		if err != nil {
			return nil, fmt.Errorf("%w: instance %s: %v", ErrBadHeader, h.SOPInstanceUID, err)
		}
		s[key] = valueStrings(e, dec)
	}
	return &Subject{values: s}, nil
}

// decoder turns text in a data set's character set into UTF-8.
type decoder func([]byte) ([]byte, error)

// textValues splits a text value into its values (PS3.5 §6.4, backslash)
// without padding (§6.2: trailing spaces, a NUL for UI; leading spaces are
// not significant either in most VRs), decoded by dec when not nil.
func textValues(b []byte, dec decoder) []string {
	if dec != nil {
		if d, err := dec(b); err == nil {
			b = d
		}
	}
	parts := strings.Split(strings.Trim(string(b), " \x00"), "\\")
	for i, p := range parts {
		parts[i] = strings.TrimRight(strings.TrimLeft(p, " "), " \x00")
	}
	return parts
}

// valueStrings renders a value the way a rule compares it: strings without
// padding, binary numbers in decimal (little endian: the reader converts
// big endian data sets), bytes as text when printable, else in hex.
func valueStrings(e keptElement, dec decoder) []string {
	b := e.value
	ints := func(size int, f func([]byte) string) []string {
		out := make([]string, 0, len(b)/size)
		for i := 0; i+size <= len(b); i += size {
			out = append(out, f(b[i:i+size]))
		}
		return out
	}
	le := binary.LittleEndian
	switch e.vr {
	case "AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT":
		return textValues(b, dec)
	case "US":
		return ints(2, func(u []byte) string { return strconv.Itoa(int(le.Uint16(u))) })
	case "SS":
		return ints(2, func(u []byte) string { return strconv.Itoa(int(int16(le.Uint16(u)))) })
	case "UL":
		return ints(4, func(u []byte) string { return strconv.FormatUint(uint64(le.Uint32(u)), 10) })
	case "SL":
		return ints(4, func(u []byte) string { return strconv.Itoa(int(int32(le.Uint32(u)))) })
	case "UV":
		return ints(8, func(u []byte) string { return strconv.FormatUint(le.Uint64(u), 10) })
	case "SV":
		return ints(8, func(u []byte) string { return strconv.FormatInt(int64(le.Uint64(u)), 10) })
	case "AT":
		return ints(4, func(u []byte) string { return part10.NewTag(le.Uint16(u), le.Uint16(u[2:])).String() })
	case "FL":
		return ints(4, func(u []byte) string {
			return strconv.FormatFloat(float64(math.Float32frombits(le.Uint32(u))), 'g', -1, 32)
		})
	case "FD":
		return ints(8, func(u []byte) string { return strconv.FormatFloat(math.Float64frombits(le.Uint64(u)), 'g', -1, 64) })
	}
	// OB, OW, UN and the other byte streams.
	t := strings.TrimRight(string(b), " \x00")
	for _, r := range t {
		if r < 0x20 || r > 0x7e {
			return []string{fmt.Sprintf("%x", b)}
		}
	}
	return strings.Split(t, "\\")
}

// Values returns the values of an attribute and whether the instance has it.
func (s *Subject) Values(attr string) ([]string, bool) { return s.values.Values(attr) }
