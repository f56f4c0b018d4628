package part10

import (
	"bufio"
	"fmt"
	"io"
)

// maxInfoValue bounds the UID values DataSetInfo reads (a UI value has at
// most 64 bytes, PS3.5 Table 6.2-1; some slack is allowed).
const maxInfoValue = 1024

// DataSetInfo reads the start of a data set (without file meta information)
// encoded in transfer syntax ts and returns its SOP Class UID (0008,0016)
// and SOP Instance UID (0008,0018), for instance to store a data set that
// came without a Part 10 header. It streams: it stops as soon as both are
// found, at Pixel Data (7FE0,0010) or at the end of the input, skipping
// other values and walking through sequences without holding them. ts may be
// any transfer syntax known to LookupTransferSyntax (the elements before the
// pixel data of an encapsulated syntax are Explicit VR Little Endian).
// A missing UID gives a *FormatError.
func DataSetInfo(r io.Reader, ts string) (sopClassUID, sopInstanceUID string, err error) {
	info, ok := LookupTransferSyntax(ts)
	if !ok {
		return "", "", fmt.Errorf("part10: DataSetInfo: %s", tsName(ts))
	}
	if info.Deflated {
		fr := getInflater(r)
		defer putInflater(fr)
		r = fr
	}
	in := syntaxOf(info)
	// Sequences are walked by a transcoder that writes to io.Discard.
	t := &transcoder{
		d:   &decoder{br: bufio.NewReaderSize(r, 4096)},
		w:   bufio.NewWriterSize(io.Discard, 4096),
		out: in,
		buf: make([]byte, 4096),
	}
	pixelRep := 0
	for sopClassUID == "" || sopInstanceUID == "" {
		h, err := t.d.header(in)
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", "", err
		}
		if h.tag == tagPixelData || h.tag>>16 == 0xFFFE {
			break
		}
		v := h.vr
		if !in.explicit {
			v = implicitVR(h.tag, pixelRep)
		}
		switch {
		case h.length == undefinedLength:
			inner := in
			if in.explicit && v == vrUN {
				inner = implicitLE
			}
			if err := t.sequence(h, inner, -1, 1, pixelRep); err != nil {
				return "", "", err
			}
		case v == vrSQ:
			if err := t.sequence(h, in, t.d.off+int64(h.length), 1, pixelRep); err != nil {
				return "", "", err
			}
		case h.tag == tagSOPClassUID || h.tag == tagSOPInstanceUID:
			if h.length > maxInfoValue {
				return "", "", tagErr(h.off, h.tag, "UID value length %d exceeds %d", h.length, maxInfoValue)
			}
			val := make([]byte, h.length)
			if err := t.d.readFull(val); err != nil {
				return "", "", t.d.readErr(err, &h, "value")
			}
			if h.tag == tagSOPClassUID {
				sopClassUID = trimValue(val)
			} else {
				sopInstanceUID = trimValue(val)
			}
		case h.tag == tagPixelRep && h.length == 2:
			var b [2]byte
			if err := t.d.readFull(b[:]); err != nil {
				return "", "", t.d.readErr(err, &h, "value")
			}
			pixelRep = int(in.u16(b[:]))
		default:
			if err := t.d.discard(int64(h.length), &h); err != nil {
				return "", "", err
			}
		}
	}
	if sopClassUID == "" {
		return "", "", formatErr(t.d.off, "data set has no SOP Class UID (0008,0016)")
	}
	if sopInstanceUID == "" {
		return "", "", formatErr(t.d.off, "data set has no SOP Instance UID (0008,0018)")
	}
	return sopClassUID, sopInstanceUID, nil
}
