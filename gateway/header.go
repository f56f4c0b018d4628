package gateway

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/tweedie-recon/tweedie/dimse"
	"github.com/tweedie-recon/tweedie/part10"
	"github.com/tweedie-recon/tweedie/rawdata"
)

// Header is what the gateway reads of a spooled instance: the identifying
// UIDs, the acquisition bookkeeping of raw-data objects, and the top-level
// elements without bulk values (for the routing rules, see Subject). It is
// read without holding the object: values above maxKeptValue bytes and
// everything from Pixel Data (7FE0,0010) on are skipped, sequences are
// walked but not kept.
type Header struct {
	SOPClassUID, SOPInstanceUID string
	TransferSyntaxUID           string
	StudyUID, SeriesUID         string
	// AcquisitionUID (0077,1010), NumInstances (0077,1011) and TotalSlices
	// (0077,1014) are the raw-data convention's declaration of how many
	// instances make up an acquisition (docs/raw-data.md); zero when absent.
	AcquisitionUID string
	NumInstances   int
	TotalSlices    int
	// PatientName and PatientID are read for the audit stream only; the
	// operational log never carries them.
	PatientName, PatientID string
	// elements is the reduced data set: kept top-level elements in Explicit
	// VR Little Endian, in order.
	elements []byte
}

// Limits of header reading: values kept, the reduced data set, elements.
const (
	maxKeptValue   = 64 << 10
	maxHeaderBytes = 4 << 20
	maxElements    = 20000
	undefinedLen   = 0xFFFFFFFF
)

// Tags the gateway reads (PS3.6), and the raw-data private block
// (rawdata/tags.go: creator (0077,0010) reserves (0077,1000)–(0077,10FF)).
const (
	tagSOPClassUID      = 0x00080016
	tagSOPInstanceUID   = 0x00080018
	tagPatientName      = 0x00100010
	tagPatientID        = 0x00100020
	tagStudyInstanceUID = 0x0020000D
	tagSeriesInstance   = 0x0020000E
	tagPrivateCreator77 = 0x00770010
	tagAcquisitionUID   = 0x00771010
	tagNumInstances     = 0x00771011
	tagTotalSlices      = 0x00771014
)

// ErrBadHeader wraps every problem reading an object's header.
var ErrBadHeader = errors.New("unreadable DICOM header")

// ReadHeader reads the header of a Part 10 file.
func ReadHeader(path string) (*Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	m, err := part10.ReadMeta(br)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadHeader, path, err)
	}
	h, err := readDataSetHeader(br, m.TransferSyntaxUID)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadHeader, path, err)
	}
	h.identify(m.TransferSyntaxUID, m.MediaStorageSOPClassUID, m.MediaStorageSOPInstanceUID)
	return h, nil
}

// identify records the transfer syntax and fills the SOP class and
// instance from the file meta information or the C-STORE request when the
// data set lacks them.
func (h *Header) identify(ts, sopClass, sopInstance string) {
	h.TransferSyntaxUID = ts
	if h.SOPClassUID == "" {
		h.SOPClassUID = sopClass
	}
	if h.SOPInstanceUID == "" {
		h.SOPInstanceUID = sopInstance
	}
}

// headerFromPrefix reads the header of a just-received instance from the
// bytes the sink kept in memory, continuing from rest (the file or the
// journal record, from the end of the prefix) only when the header runs
// past them.
func headerFromPrefix(prefix []byte, rest io.Reader, req *dimse.StoreRequest) (*Header, error) {
	h, err := readDataSetHeader(io.MultiReader(bytes.NewReader(prefix), rest), req.TransferSyntaxUID)
	if err != nil {
		return nil, fmt.Errorf("%w: instance %s: %v", ErrBadHeader, req.SOPInstanceUID, err)
	}
	h.identify(req.TransferSyntaxUID, req.SOPClassUID, req.SOPInstanceUID)
	return h, nil
}

// lazyFile reads a file from an offset, opening it on the first Read.
type lazyFile struct {
	path string
	off  int64
	f    *os.File
}

func (l *lazyFile) Read(p []byte) (int, error) {
	if l.f == nil {
		f, err := os.Open(l.path)
		if err != nil {
			return 0, err
		}
		if _, err := f.Seek(l.off, io.SeekStart); err != nil {
			f.Close()
			return 0, err
		}
		l.f = f
	}
	return l.f.Read(p)
}

func (l *lazyFile) Close() {
	if l.f != nil {
		l.f.Close()
	}
}

// readDataSetHeader walks a data set in transfer syntax ts. Explicit VR
// Little Endian, and the encapsulated syntaxes (whose elements before the
// pixel data are Explicit VR Little Endian), are walked directly; the other
// native syntaxes are converted to it on the fly with part10.Transcode,
// which stops as soon as the walk has what it needs.
func readDataSetHeader(r io.Reader, ts string) (*Header, error) {
	info, ok := part10.LookupTransferSyntax(ts)
	if !ok {
		return nil, fmt.Errorf("unknown transfer syntax %s", ts)
	}
	if info.Explicit && !info.BigEndian && !info.Deflated {
		return walkExplicitLE(bufio.NewReaderSize(r, 32<<10))
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := part10.Transcode(pw, r, ts, part10.ExplicitVRLittleEndian)
		pw.CloseWithError(err)
		done <- err
	}()
	// A conversion error reaches the walk through the pipe.
	h, err := walkExplicitLE(bufio.NewReaderSize(pr, 32<<10))
	// Stop the conversion: the walk has what it needs (or failed).
	pr.CloseWithError(errWalkDone)
	<-done
	return h, err
}

var errWalkDone = errors.New("header walk finished")

// longVR reports the VRs with a 4-byte length field in Explicit VR
// (PS3.5 §7.1.2, Table 7.1-1).
func longVR(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}

// walkExplicitLE reads Explicit VR Little Endian elements (PS3.5 §7.1.2)
// until Pixel Data or the end, keeping the small top-level ones. Nested
// data sets (sequences, PS3.5 §7.5) are walked through: defined lengths are
// skipped whole, undefined lengths followed to their delimiters.
func walkExplicitLE(br *bufio.Reader) (*Header, error) {
	h := &Header{}
	var out bytes.Buffer
	depth, n := 0, 0
	var creator77 string
	var off int64
	var hd [12]byte
	for {
		if _, err := io.ReadFull(br, hd[:8]); err != nil {
			if err == io.EOF && depth == 0 {
				break
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, fmt.Errorf("data set ends inside an element header at byte %d", off)
			}
			return nil, err
		}
		off += 8
		if n++; n > maxElements*4 {
			return nil, fmt.Errorf("more than %d elements before the pixel data", maxElements*4)
		}
		group, elem := binary.LittleEndian.Uint16(hd[0:]), binary.LittleEndian.Uint16(hd[2:])
		tag := uint32(group)<<16 | uint32(elem)
		if group == 0xFFFE {
			// Item and delimiters (PS3.5 §7.5): no VR, a 4-byte length.
			length := binary.LittleEndian.Uint32(hd[4:])
			switch elem {
			case 0xE000:
				if depth == 0 {
					return nil, fmt.Errorf("item outside a sequence at byte %d", off-8)
				}
				if length == undefinedLen {
					depth++
				} else if err := discard(br, int64(length), &off); err != nil {
					return nil, err
				}
			case 0xE00D, 0xE0DD:
				if depth == 0 {
					return nil, fmt.Errorf("delimiter (FFFE,%04X) outside a sequence at byte %d", elem, off-8)
				}
				depth--
			default:
				return nil, fmt.Errorf("unknown element (FFFE,%04X) at byte %d", elem, off-8)
			}
			continue
		}
		if depth == 0 && group >= 0x7FE0 {
			break // Pixel Data and what follows it: not header
		}
		vr := string(hd[4:6])
		var length uint32
		if longVR(vr) {
			if _, err := io.ReadFull(br, hd[8:12]); err != nil {
				return nil, fmt.Errorf("data set ends inside the header of %s", fmtTag(tag))
			}
			off += 4
			length = binary.LittleEndian.Uint32(hd[8:])
		} else {
			if vr[0] < 'A' || vr[0] > 'Z' || vr[1] < 'A' || vr[1] > 'Z' {
				return nil, fmt.Errorf("%s at byte %d has no valid VR (%q)", fmtTag(tag), off-8, vr)
			}
			length = uint32(binary.LittleEndian.Uint16(hd[6:]))
		}
		if length == undefinedLen {
			if vr == "UN" {
				// An undefined-length UN holds Implicit VR items (PS3.5
				// §6.2.2); this walker reads Explicit VR only, so the
				// header ends here, with what was read so far.
				break
			}
			depth++
			continue
		}
		if depth > 0 || length > maxKeptValue || elem == 0x0000 || out.Len() > maxHeaderBytes {
			if err := discard(br, int64(length), &off); err != nil {
				return nil, fmt.Errorf("%s: %v", fmtTag(tag), err)
			}
			continue
		}
		val := make([]byte, length)
		if _, err := io.ReadFull(br, val); err != nil {
			return nil, fmt.Errorf("data set ends inside the value of %s", fmtTag(tag))
		}
		off += int64(length)
		out.Write(hd[:8])
		if longVR(vr) {
			out.Write(hd[8:12])
		}
		out.Write(val)
		switch tag {
		case tagSOPClassUID:
			h.SOPClassUID = trimValue(val)
		case tagSOPInstanceUID:
			h.SOPInstanceUID = trimValue(val)
		case tagStudyInstanceUID:
			h.StudyUID = trimValue(val)
		case tagSeriesInstance:
			h.SeriesUID = trimValue(val)
		case tagPatientName:
			h.PatientName = trimValue(val)
		case tagPatientID:
			h.PatientID = trimValue(val)
		case tagPrivateCreator77:
			creator77 = trimValue(val)
		case tagAcquisitionUID, tagNumInstances, tagTotalSlices:
			if creator77 != rawdata.PrivateCreator {
				break
			}
			switch tag {
			case tagAcquisitionUID:
				h.AcquisitionUID = trimValue(val)
			case tagNumInstances:
				h.NumInstances = uintValue(vr, val)
			case tagTotalSlices:
				h.TotalSlices = uintValue(vr, val)
			}
		}
	}
	h.elements = out.Bytes()
	return h, nil
}

func discard(br *bufio.Reader, n int64, off *int64) error {
	for n > 0 {
		k := n
		if k > 1<<30 {
			k = 1 << 30
		}
		d, err := br.Discard(int(k))
		*off += int64(d)
		n -= int64(d)
		if err != nil {
			return fmt.Errorf("data set ends %d bytes early", n)
		}
	}
	return nil
}

// trimValue strips the padding of a string value (PS3.5 §6.2: trailing
// spaces, or a NUL for UI).
func trimValue(b []byte) string { return strings.TrimRight(string(b), " \x00") }

// uintValue reads a count written as UL, US, IS, or as UN (4 bytes, a UL
// whose VR an Implicit VR sender could not say).
func uintValue(vr string, b []byte) int {
	switch {
	case (vr == "UL" || vr == "UN") && len(b) >= 4:
		return int(binary.LittleEndian.Uint32(b))
	case vr == "US" && len(b) >= 2:
		return int(binary.LittleEndian.Uint16(b))
	case vr == "IS":
		v, _ := strconv.Atoi(strings.TrimSpace(trimValue(b)))
		return v
	}
	return 0
}

func fmtTag(t uint32) string { return fmt.Sprintf("(%04X,%04X)", t>>16, t&0xFFFF) }
