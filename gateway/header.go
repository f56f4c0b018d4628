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
	// elements is the reduced data set: the kept top-level elements, in
	// order, with little-endian values.
	elements []keptElement
}

// keptElement is a top-level element of the reduced data set.
type keptElement struct {
	tag   part10.Tag
	vr    string
	value []byte
}

// Limits of header reading: values kept, the reduced data set, top-level
// elements before the pixel data.
const (
	maxKeptValue   = 64 << 10
	maxHeaderBytes = 4 << 20
	maxElements    = 20000
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

// readDataSetHeader reads the top-level elements of a data set in transfer
// syntax ts with part10's bounded element reader (any syntax it knows:
// deflated and big endian ones are converted as they are read), until the
// Pixel Data (7FE0,0010) or the end, keeping the small ones. Sequences
// (PS3.5 §7.5) are skipped by the reader without being held.
func readDataSetHeader(r io.Reader, ts string) (*Header, error) {
	rd, err := part10.NewReader(r, ts)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	h := &Header{}
	var creator77 string
	kept := 0
	for n := 0; ; n++ {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if n == maxElements {
			return nil, fmt.Errorf("more than %d elements before the pixel data", maxElements)
		}
		if e.Tag.Group() >= 0x7FE0 {
			break // Pixel Data and what follows it: not header
		}
		if e.Sequence() || e.Length > maxKeptValue || e.Tag.Element() == 0 || kept > maxHeaderBytes {
			continue // skipped by the next Next
		}
		val, err := rd.Value(maxKeptValue)
		if err != nil {
			return nil, err
		}
		kept += len(val)
		h.elements = append(h.elements, keptElement{tag: e.Tag, vr: e.VR, value: val})
		switch e.Tag {
		case part10.TagSOPClassUID:
			h.SOPClassUID = trimValue(val)
		case part10.TagSOPInstanceUID:
			h.SOPInstanceUID = trimValue(val)
		case part10.TagStudyInstanceUID:
			h.StudyUID = trimValue(val)
		case part10.TagSeriesInstanceUID:
			h.SeriesUID = trimValue(val)
		case part10.TagPatientName:
			h.PatientName = trimValue(val)
		case part10.TagPatientID:
			h.PatientID = trimValue(val)
		case rawdata.TagPrivateCreator:
			creator77 = trimValue(val)
		case rawdata.TagAcquisitionUID, rawdata.TagNumInstances, rawdata.TagTotalSlices:
			if creator77 != rawdata.PrivateCreator {
				break
			}
			switch e.Tag {
			case rawdata.TagAcquisitionUID:
				h.AcquisitionUID = trimValue(val)
			case rawdata.TagNumInstances:
				h.NumInstances = uintValue(e.VR, val)
			case rawdata.TagTotalSlices:
				h.TotalSlices = uintValue(e.VR, val)
			}
		}
	}
	return h, nil
}

// seriesUIDFromPrefix reads the Series Instance UID from the first bytes
// of a data set still arriving. final is false when the bytes end before
// the UID could be read (try again with more); with final true, uid is
// "" when the data set has none before (0020,000E)'s place or is not
// readable.
func seriesUIDFromPrefix(prefix []byte, ts string, full bool) (uid string, final bool) {
	rd, err := part10.NewReader(bytes.NewReader(prefix), ts)
	if err != nil {
		return "", full
	}
	defer rd.Close()
	for n := 0; n < maxElements; n++ {
		e, err := rd.Next()
		if err != nil {
			return "", full
		}
		if e.Tag == part10.TagSeriesInstanceUID {
			if e.Length > 64 {
				return "", true
			}
			val, err := rd.Value(64)
			if err != nil {
				return "", full
			}
			return trimValue(val), true
		}
		if e.Tag > part10.TagSeriesInstanceUID {
			return "", true // elements are in ascending order: there is none
		}
	}
	return "", true
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
