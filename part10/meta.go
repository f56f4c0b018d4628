package part10

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Meta is the File Meta Information of a DICOM file, PS3.10 §7.1: the
// group 0002 elements that follow the preamble and "DICM" prefix, always
// encoded in Explicit VR Little Endian.
type Meta struct {
	MediaStorageSOPClassUID      string // (0002,0002) UI
	MediaStorageSOPInstanceUID   string // (0002,0003) UI
	TransferSyntaxUID            string // (0002,0010) UI
	ImplementationClassUID       string // (0002,0012) UI
	ImplementationVersionName    string // (0002,0013) SH
	SourceApplicationEntityTitle string // (0002,0016) AE
}

const (
	preambleLen = 128
	// maxMetaGroup bounds the whole group 0002 as read by ReadMeta; every
	// value is therefore bounded by it too.
	maxMetaGroup = 64 << 10
	// maxMetaValue bounds the values WriteMeta accepts.
	maxMetaValue = 1024
)

// ReadMeta reads the 128-byte preamble, the "DICM" prefix and the File Meta
// Information elements (group 0002, Explicit VR Little Endian, PS3.10 §7.1,
// PS3.5 §7.1.2) from r, leaving r positioned at the first byte of the data
// set. Elements other than those of Meta are skipped. The group is bounded
// to 64 KiB in all; a group that is larger, malformed or lacks the Transfer
// Syntax UID (0002,0010) gives a *FormatError.
//
// Input that has no "DICM" prefix after 128 bytes gives an error wrapping
// ErrNotPart10; r is then not advanced when its buffer holds at least 132
// bytes (the default bufio size does), so that the caller can read the
// input as a bare data set.
func ReadMeta(r *bufio.Reader) (Meta, error) {
	var m Meta
	pre, err := r.Peek(preambleLen + 4)
	peeked := true
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		// A reader with a tiny buffer: read the prefix instead of peeking.
		pre = make([]byte, preambleLen+4)
		if _, err := io.ReadFull(r, pre); err != nil {
			return m, fmt.Errorf("%w: %v", ErrNotPart10, err)
		}
		peeked = false
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return m, fmt.Errorf("%w: input is only %d bytes long", ErrNotPart10, len(pre))
	case err != nil:
		return m, err
	}
	if string(pre[preambleLen:]) != "DICM" {
		return m, ErrNotPart10
	}
	if peeked {
		if _, err := r.Discard(preambleLen + 4); err != nil {
			return m, err
		}
	}

	off := int64(preambleLen + 4)
	start := off
	groupEnd := int64(-1) // from (0002,0000) when present
	le := syntax{explicit: true}
	var b [8]byte
	for {
		if groupEnd >= 0 && off == groupEnd && m.TransferSyntaxUID == ExplicitVRBigEndian {
			// A Big Endian data set could start with bytes that look like
			// group 0002; trust the group length.
			break
		}
		p, err := r.Peek(2)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break // file of meta information only
			}
			return m, fmt.Errorf("part10: reading file meta information at offset %d: %w", off, err)
		}
		if le.u16(p) != 0x0002 {
			break
		}
		hoff := off
		if _, err := io.ReadFull(r, b[:8]); err != nil {
			return m, metaReadErr(err, hoff, 0, "a file meta information element header")
		}
		off += 8
		tg := Tag(le.u16(b[:]))<<16 | Tag(le.u16(b[2:]))
		v := vr(b[4])<<8 | vr(b[5])
		if !v.valid() {
			return m, tagErr(hoff, tg, "invalid VR %s in file meta information (which is always Explicit VR Little Endian)", v)
		}
		length := uint32(le.u16(b[6:]))
		if v.long() {
			if _, err := io.ReadFull(r, b[:4]); err != nil {
				return m, metaReadErr(err, hoff, tg, "the element header")
			}
			off += 4
			length = le.u32(b[:4])
		}
		if length == undefinedLength {
			return m, tagErr(hoff, tg, "undefined length in file meta information")
		}
		if off-start+int64(length) > maxMetaGroup {
			return m, tagErr(hoff, tg, "value length %d makes the file meta information exceed %d bytes", length, maxMetaGroup)
		}
		var dst *string
		switch tg {
		case 0x00020000:
			if length != 4 {
				return m, tagErr(hoff, tg, "file meta information group length has value length %d, want 4", length)
			}
			if _, err := io.ReadFull(r, b[:4]); err != nil {
				return m, metaReadErr(err, hoff, tg, "the value")
			}
			off += 4
			groupEnd = off + int64(le.u32(b[:4]))
			continue
		case 0x00020002:
			dst = &m.MediaStorageSOPClassUID
		case 0x00020003:
			dst = &m.MediaStorageSOPInstanceUID
		case 0x00020010:
			dst = &m.TransferSyntaxUID
		case 0x00020012:
			dst = &m.ImplementationClassUID
		case 0x00020013:
			dst = &m.ImplementationVersionName
		case 0x00020016:
			dst = &m.SourceApplicationEntityTitle
		}
		if dst == nil {
			n, err := r.Discard(int(length))
			off += int64(n)
			if err != nil {
				return m, metaReadErr(err, hoff, tg, "the value")
			}
			continue
		}
		val := make([]byte, length)
		n, err := io.ReadFull(r, val)
		off += int64(n)
		if err != nil {
			return m, metaReadErr(err, hoff, tg, "the value")
		}
		*dst = trimValue(val)
	}
	if m.TransferSyntaxUID == "" {
		return m, formatErr(off, "file meta information lacks the Transfer Syntax UID (0002,0010)")
	}
	return m, nil
}

// metaReadErr reports a failed read in the meta information: running out
// of input is malformed data, other errors are passed on.
func metaReadErr(err error, off int64, tg Tag, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if tg == 0 {
			return formatErr(off, "input ends inside %s", what)
		}
		return tagErr(off, tg, "input ends inside %s", what)
	}
	return fmt.Errorf("part10: reading file meta information at offset %d: %w", off, err)
}

// trimValue removes the padding of a UI (NUL) or string (space) value,
// PS3.5 §6.2, and the insignificant leading spaces of SH and AE.
func trimValue(b []byte) string {
	s := strings.TrimRightFunc(string(b), func(r rune) bool { return r == 0 || unicode.IsSpace(r) })
	return strings.TrimLeftFunc(s, unicode.IsSpace)
}

// WriteMeta writes a 128-byte preamble of zeros, "DICM" and the File Meta
// Information (PS3.10 §7.1) in Explicit VR Little Endian: the group length
// (0002,0000), the version (0002,0001) 00\01, and (0002,0002), (0002,0003),
// (0002,0010), (0002,0012) from m, then (0002,0013) and (0002,0016) when
// set. UIDs are padded with a NUL to even length and strings with a space
// (PS3.5 §6.2). The Type 1 elements must not be empty; each value is limited
// to 1024 bytes.
func WriteMeta(w io.Writer, m Meta) error {
	type elem struct {
		tag  Tag
		v    vr
		val  string
		name string
		req  bool
	}
	elems := []elem{
		{0x00020002, vrUI, m.MediaStorageSOPClassUID, "MediaStorageSOPClassUID", true},
		{0x00020003, vrUI, m.MediaStorageSOPInstanceUID, "MediaStorageSOPInstanceUID", true},
		{0x00020010, vrUI, m.TransferSyntaxUID, "TransferSyntaxUID", true},
		{0x00020012, vrUI, m.ImplementationClassUID, "ImplementationClassUID", true},
		{0x00020013, vrSH, m.ImplementationVersionName, "ImplementationVersionName", false},
		{0x00020016, vrAE, m.SourceApplicationEntityTitle, "SourceApplicationEntityTitle", false},
	}
	le := syntax{explicit: true}
	var body bytes.Buffer
	// (0002,0001) File Meta Information Version, OB, 00\01.
	body.Write([]byte{0x02, 0x00, 0x01, 0x00, 'O', 'B', 0, 0, 2, 0, 0, 0, 0x00, 0x01})
	for _, e := range elems {
		if e.val == "" {
			if e.req {
				return fmt.Errorf("part10: WriteMeta: %s %s is empty", fmtTag(e.tag), e.name)
			}
			continue
		}
		if len(e.val) > maxMetaValue {
			return fmt.Errorf("part10: WriteMeta: %s %s is %d bytes long, more than %d", fmtTag(e.tag), e.name, len(e.val), maxMetaValue)
		}
		val := e.val
		if len(val)%2 == 1 {
			if e.v == vrUI {
				val += "\x00"
			} else {
				val += " "
			}
		}
		var h [8]byte
		b := le.append16(h[:0], 0x0002)
		b = le.append16(b, uint16(e.tag))
		b = append(b, byte(e.v>>8), byte(e.v))
		b = le.append16(b, uint16(len(val)))
		body.Write(b)
		body.WriteString(val)
	}
	out := make([]byte, preambleLen, preambleLen+4+12+body.Len())
	out = append(out, "DICM"...)
	// (0002,0000) File Meta Information Group Length, UL.
	out = append(out, 0x02, 0x00, 0x00, 0x00, 'U', 'L', 4, 0)
	out = le.append32(out, uint32(body.Len()))
	out = append(out, body.Bytes()...)
	_, err := w.Write(out)
	return err
}
