package part10

import (
	"fmt"

	"github.com/suyashkumar/dicom/pkg/tag"
)

// vr is a two-letter Value Representation code (PS3.5 §6.2) packed into a
// uint16 so that headers can be decoded without allocating.
type vr uint16

const (
	vrAE vr = 'A'<<8 | 'E'
	vrAS vr = 'A'<<8 | 'S'
	vrAT vr = 'A'<<8 | 'T'
	vrCS vr = 'C'<<8 | 'S'
	vrDA vr = 'D'<<8 | 'A'
	vrDS vr = 'D'<<8 | 'S'
	vrDT vr = 'D'<<8 | 'T'
	vrFD vr = 'F'<<8 | 'D'
	vrFL vr = 'F'<<8 | 'L'
	vrIS vr = 'I'<<8 | 'S'
	vrLO vr = 'L'<<8 | 'O'
	vrLT vr = 'L'<<8 | 'T'
	vrOB vr = 'O'<<8 | 'B'
	vrOD vr = 'O'<<8 | 'D'
	vrOF vr = 'O'<<8 | 'F'
	vrOL vr = 'O'<<8 | 'L'
	vrOV vr = 'O'<<8 | 'V'
	vrOW vr = 'O'<<8 | 'W'
	vrPN vr = 'P'<<8 | 'N'
	vrSH vr = 'S'<<8 | 'H'
	vrSL vr = 'S'<<8 | 'L'
	vrSQ vr = 'S'<<8 | 'Q'
	vrSS vr = 'S'<<8 | 'S'
	vrST vr = 'S'<<8 | 'T'
	vrSV vr = 'S'<<8 | 'V'
	vrTM vr = 'T'<<8 | 'M'
	vrUC vr = 'U'<<8 | 'C'
	vrUI vr = 'U'<<8 | 'I'
	vrUL vr = 'U'<<8 | 'L'
	vrUN vr = 'U'<<8 | 'N'
	vrUR vr = 'U'<<8 | 'R'
	vrUS vr = 'U'<<8 | 'S'
	vrUT vr = 'U'<<8 | 'T'
	vrUV vr = 'U'<<8 | 'V'
)

// valid reports whether v is one of the VRs of PS3.5 Table 6.2-1.
func (v vr) valid() bool {
	switch v {
	case vrAE, vrAS, vrAT, vrCS, vrDA, vrDS, vrDT, vrFD, vrFL, vrIS, vrLO,
		vrLT, vrOB, vrOD, vrOF, vrOL, vrOV, vrOW, vrPN, vrSH, vrSL, vrSQ,
		vrSS, vrST, vrSV, vrTM, vrUC, vrUI, vrUL, vrUN, vrUR, vrUS, vrUT,
		vrUV:
		return true
	}
	return false
}

// long reports whether an element with this VR is encoded, in an explicit VR
// transfer syntax, with two reserved bytes and a 32-bit value length
// (PS3.5 §7.1.2, Table 7.1-1) rather than a 16-bit length (Table 7.1-2).
func (v vr) long() bool {
	switch v {
	case vrOB, vrOD, vrOF, vrOL, vrOV, vrOW, vrSQ, vrUC, vrUN, vrUR, vrUT,
		vrSV, vrUV:
		return true
	}
	return false
}

// swapUnit is the size in bytes of the units whose byte order differs between
// Little and Big Endian encodings of a value of this VR (PS3.5 §7.3 and
// Annex A.3). 0 means the value is a byte stream that is never swapped (text,
// OB, UN; PS3.5 §6.2.2 says UN values keep Little Endian order).
func (v vr) swapUnit() int {
	switch v {
	case vrAT, vrOW, vrUS, vrSS:
		return 2
	case vrOL, vrUL, vrSL, vrFL, vrOF:
		return 4
	case vrFD, vrOD, vrSV, vrUV, vrOV:
		return 8
	}
	return 0
}

func (v vr) String() string {
	b := [2]byte{byte(v >> 8), byte(v)}
	if b[0] >= 'A' && b[0] <= 'Z' && b[1] >= 'A' && b[1] <= 'Z' {
		return string(b[:])
	}
	return fmt.Sprintf("%q", b[:])
}

func parseVR(s string) (vr, bool) {
	if len(s) != 2 {
		return 0, false
	}
	v := vr(s[0])<<8 | vr(s[1])
	return v, v.valid()
}

// Tags with a fixed meaning in the encoding layer.
const (
	tagItem           Tag = 0xFFFEE000 // PS3.5 §7.5, Item
	tagItemDelim      Tag = 0xFFFEE00D // PS3.5 §7.5, Item Delimitation Item
	tagSeqDelim       Tag = 0xFFFEE0DD // PS3.5 §7.5, Sequence Delimitation Item
	tagPixelData          = TagPixelData
	tagPixelRep       Tag = 0x00280103 // Pixel Representation
	tagLengthToEnd    Tag = 0x00080001 // retired Length to End
	tagSOPClassUID        = TagSOPClassUID
	tagSOPInstanceUID     = TagSOPInstanceUID

	undefinedLength uint32 = 0xFFFFFFFF // PS3.5 §7.1.1, undefined length
)

func fmtTag(t Tag) string {
	return fmt.Sprintf("(%04X,%04X)", uint32(t)>>16, uint32(t)&0xFFFF)
}

// isUSorSSDescriptor lists the "US or SS" attributes that are encoded as US
// whatever the Pixel Representation: the LUT descriptors, whose third value is
// always US (PS3.3 C.7.6.3.1.5, C.11.1.1.1).
func isUSorSSDescriptor(t Tag) bool {
	switch t {
	case 0x00281100, 0x00281101, 0x00281102, 0x00281103,
		0x00281111, 0x00281112, 0x00281113, 0x00283002:
		return true
	}
	return false
}

// implicitVR resolves the VR of an element read from an Implicit VR
// transfer syntax (PS3.5 §7.1.3, Annex A.1) from the data dictionary of
// github.com/suyashkumar/dicom. pixelRep is the Pixel Representation
// (0028,0103) in force, used for "US or SS" attributes.
func implicitVR(t Tag, pixelRep int) vr {
	g, e := uint16(t>>16), uint16(t)
	if e == 0 {
		return vrUL // group length, PS3.5 §7.2
	}
	if g&1 == 1 {
		// Private data element (PS3.5 §7.8.1): private creators are LO,
		// anything else has an unknown VR.
		if e >= 0x0010 && e <= 0x00FF {
			return vrLO
		}
		return vrUN
	}
	if t == tagPixelData {
		// PS3.5 Annex A.1 c): Pixel Data is OW in Implicit VR Little Endian.
		return vrOW
	}
	lookup := tag.Tag{Group: g, Element: e}
	if (g >= 0x5000 && g <= 0x50FF) || (g >= 0x6000 && g <= 0x60FF) {
		// Repeating groups (curves, overlays), PS3.5 §7.6: the dictionary
		// lists them under the base group.
		lookup.Group = g & 0xFF00
	}
	info, err := tag.Find(lookup)
	if err != nil || len(info.VRs) == 0 {
		return vrUN
	}
	return chooseVR(t, info.VRs, pixelRep)
}

// chooseVR picks one VR from a dictionary entry that may list several.
func chooseVR(t Tag, vrs []string, pixelRep int) vr {
	if len(vrs) == 1 {
		if v, ok := parseVR(vrs[0]); ok {
			return v
		}
		return vrUN
	}
	hasOW, hasSS := false, false
	for _, s := range vrs {
		switch s {
		case "OW":
			hasOW = true
		case "SS":
			hasSS = true
		}
	}
	switch {
	case hasOW:
		// "OB or OW" (overlay, waveform, curve data...), "US or OW" and
		// "US or SS or OW" (LUT data): implicit VR values are OW,
		// PS3.5 Annex A.1 c).
		return vrOW
	case hasSS:
		if pixelRep == 1 && !isUSorSSDescriptor(t) {
			return vrSS
		}
		return vrUS
	}
	if v, ok := parseVR(vrs[0]); ok {
		return v
	}
	return vrUN
}
