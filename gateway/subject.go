package gateway

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/part10"
)

// Subject is a spooled instance as the routing rules see it: the values of
// its top-level attributes, by keyword ("Modality") or tag ("(0008,0060)").
// It implements rules.Subject. The header is decoded by
// github.com/suyashkumar/dicom (character sets, numbers) from the reduced
// data set that ReadHeader kept; sequences and bulk values are not
// attributes a rule can test.
type Subject struct {
	values map[uint32][]string
}

// Subject decodes the header's kept elements.
func (h *Header) Subject() (*Subject, error) {
	var buf bytes.Buffer
	if err := part10.WriteMeta(&buf, part10.Meta{MediaStorageSOPClassUID: h.SOPClassUID, MediaStorageSOPInstanceUID: h.SOPInstanceUID,
		TransferSyntaxUID: part10.ExplicitVRLittleEndian, ImplementationClassUID: dimse.ImplementationClassUID}); err != nil {
		return nil, err
	}
	buf.Write(h.elements)
	ds, err := dicom.Parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil,
		dicom.SkipPixelData(), dicom.AllowUnknownSpecificCharacterSet(), dicom.AllowMissingMetaElementGroupLength())
	if err != nil {
		return nil, fmt.Errorf("%w: instance %s: %v", ErrBadHeader, h.SOPInstanceUID, err)
	}
	s := &Subject{values: map[uint32][]string{}}
	for _, e := range ds.Elements {
		if e.Tag.Group == 0x0002 {
			continue
		}
		s.values[uint32(e.Tag.Group)<<16|uint32(e.Tag.Element)] = valueStrings(e)
	}
	return s, nil
}

// valueStrings renders a value the way a rule compares it: strings without
// padding, numbers in decimal, bytes as text when printable.
func valueStrings(e *dicom.Element) []string {
	switch v := e.Value.GetValue().(type) {
	case []string:
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = strings.TrimRight(strings.TrimLeft(s, " "), " \x00")
		}
		return out
	case []int:
		out := make([]string, len(v))
		for i, n := range v {
			out[i] = strconv.Itoa(n)
		}
		return out
	case []float64:
		out := make([]string, len(v))
		for i, f := range v {
			out[i] = strconv.FormatFloat(f, 'g', -1, 64)
		}
		return out
	case []byte:
		t := strings.TrimRight(string(v), " \x00")
		for _, r := range t {
			if r < 0x20 || r > 0x7e {
				return []string{fmt.Sprintf("%x", v)}
			}
		}
		return strings.Split(t, "\\")
	}
	return nil
}

var keywordCache sync.Map // keyword → uint32 tag, or error

// ParseAttr turns a keyword ("SeriesDescription") or a tag written
// "(0008,103E)", "0008,103E" or "0008103E" into a tag.
func ParseAttr(attr string) (uint32, error) {
	a := strings.TrimSpace(attr)
	hex := strings.NewReplacer("(", "", ")", "", ",", "", " ", "").Replace(a)
	if len(hex) == 8 && strings.ContainsAny(a[:1], "(0123456789") {
		if v, err := strconv.ParseUint(hex, 16, 32); err == nil {
			return uint32(v), nil
		}
	}
	if v, ok := keywordCache.Load(a); ok {
		return v.(uint32), nil
	}
	info, err := tag.FindByKeyword(a)
	if err != nil || info.Keyword != a {
		return 0, fmt.Errorf("%q is neither a DICOM keyword nor a tag like (0008,0060)", attr)
	}
	t := uint32(info.Tag.Group)<<16 | uint32(info.Tag.Element)
	keywordCache.Store(a, t)
	return t, nil
}

// Values returns the values of an attribute and whether the instance has it.
func (s *Subject) Values(attr string) ([]string, bool) {
	t, err := ParseAttr(attr)
	if err != nil {
		return nil, false
	}
	v, ok := s.values[t]
	return v, ok
}
