package part10

import (
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
	rd, err := NewReader(r, ts)
	if err != nil {
		return "", "", fmt.Errorf("part10: DataSetInfo: %s", tsName(ts))
	}
	defer rd.Close()
	for sopClassUID == "" || sopInstanceUID == "" {
		e, err := rd.Next()
		if err == io.EOF || e.Tag == tagPixelData {
			break
		}
		if err != nil {
			return "", "", err
		}
		if e.Sequence() || (e.Tag != tagSOPClassUID && e.Tag != tagSOPInstanceUID) {
			continue
		}
		val, err := rd.Value(maxInfoValue)
		if err != nil {
			return "", "", err
		}
		if e.Tag == tagSOPClassUID {
			sopClassUID = trimValue(val)
		} else {
			sopInstanceUID = trimValue(val)
		}
	}
	if sopClassUID == "" {
		return "", "", formatErr(rd.Offset(), "data set has no SOP Class UID (0008,0016)")
	}
	if sopInstanceUID == "" {
		return "", "", formatErr(rd.Offset(), "data set has no SOP Instance UID (0008,0018)")
	}
	return sopClassUID, sopInstanceUID, nil
}
