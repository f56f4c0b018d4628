package part10

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// flatElem is one element of a parsed data set, keyed by its path of tags.
type flatElem struct {
	rawVR string
	value string
}

// flatten lists the elements of a data set parsed by
// github.com/suyashkumar/dicom, recursing into sequences; group lengths
// and the meta information are left out.
func flatten(elems []*dicom.Element, prefix string, out map[string]flatElem, order *[]string) {
	for _, e := range elems {
		if e.Tag.Element == 0 || e.Tag.Group == 0x0002 || (e.Tag == tag.Tag{Group: 0x0008, Element: 0x0001}) {
			continue
		}
		key := fmt.Sprintf("%s(%04x,%04x)", prefix, e.Tag.Group, e.Tag.Element)
		*order = append(*order, key)
		switch e.Value.ValueType() {
		case dicom.Sequences:
			items := e.Value.GetValue().([]*dicom.SequenceItemValue)
			out[key] = flatElem{rawVR: "SQ", value: fmt.Sprintf("%d items", len(items))}
			for i, it := range items {
				flatten(it.GetValue().([]*dicom.Element), fmt.Sprintf("%s[%d]", key, i), out, order)
			}
		case dicom.PixelData:
			info := dicom.MustGetPixelDataInfo(e.Value)
			var b strings.Builder
			for _, f := range info.Frames {
				if nf, err := f.GetNativeFrame(); err == nil {
					fmt.Fprintf(&b, "%v;", nf.RawDataSlice())
				}
			}
			out[key] = flatElem{rawVR: "PX", value: fmt.Sprintf("%d frames, err %v: %s", len(info.Frames), info.ParseErr, b.String())}
		case dicom.Strings:
			var vals []string
			for _, s := range dicom.MustGetStrings(e.Value) {
				vals = append(vals, strings.TrimRight(s, " \x00"))
			}
			out[key] = flatElem{rawVR: e.RawValueRepresentation, value: strings.Join(vals, `\`)}
		default:
			out[key] = flatElem{rawVR: e.RawValueRepresentation, value: e.Value.String()}
		}
	}
}

func parseFlat(t *testing.T, path string) (map[string]flatElem, []string) {
	t.Helper()
	ds, err := dicom.ParseFile(path, nil)
	if err != nil {
		t.Fatalf("dicom.ParseFile(%s): %v", path, err)
	}
	m := map[string]flatElem{}
	var order []string
	flatten(ds.Elements, "", m, &order)
	return m, order
}

// TestTranscodeGoDicom parses our conversions of every native sample with
// github.com/suyashkumar/dicom and compares each element with the parse of
// the original file. Elements whose VR is not known on both sides (UN, as
// implicit VR private elements become) are compared by presence only; byte
// values (OB, OW, UN) are compared only between Little Endian files, since
// that library does not swap them in Big Endian.
func TestTranscodeGoDicom(t *testing.T) {
	tmp := t.TempDir()
	for _, s := range nativeSamples(t) {
		t.Run(rel(t, s.path), func(t *testing.T) {
			want, wantOrder := parseFlat(t, s.path)
			for _, to := range []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian} {
				if to == s.meta.TransferSyntaxUID {
					continue
				}
				p := filepath.Join(tmp, strings.ReplaceAll(rel(t, s.path), "/", "_")+"-"+tsShort[to]+".dcm")
				transcodeFile(t, s.meta, s.data, s.meta.TransferSyntaxUID, to, p)
				got, gotOrder := parseFlat(t, p)
				if len(gotOrder) != len(wantOrder) {
					t.Errorf("%s: %d elements, original has %d", tsShort[to], len(gotOrder), len(wantOrder))
				}
				bigEndian := to == ExplicitVRBigEndian || s.meta.TransferSyntaxUID == ExplicitVRBigEndian
				n, compared := 0, 0
				for _, k := range wantOrder {
					w, g := want[k], got[k]
					if _, ok := got[k]; !ok {
						t.Errorf("%s: element %s is missing", tsShort[to], k)
						continue
					}
					isBytes := func(vr string) bool { return vr == "OB" || vr == "OW" || vr == "UN" }
					switch {
					case w.rawVR == "UN" || g.rawVR == "UN" || (w.rawVR != g.rawVR && !(isBytes(w.rawVR) && isBytes(g.rawVR))):
						continue
					case isBytes(w.rawVR) && bigEndian:
						continue
					}
					compared++
					if w.value != g.value {
						n++
						t.Errorf("%s: element %s: %s %.100q, original %s %.100q", tsShort[to], k, g.rawVR, g.value, w.rawVR, w.value)
					}
				}
				if n == 0 && len(want) > 0 {
					t.Logf("%s: %d elements present, %d values compared and equal", tsShort[to], len(wantOrder), compared)
				}
			}
		})
	}
}
