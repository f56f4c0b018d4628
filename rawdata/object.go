package rawdata

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tweedie-recon/tweedie/part10"
)

// Identity is what places an object in the patient's record: the Patient,
// General Study, General Series, Frame of Reference, General Equipment and
// SOP Common modules (PS3.3 §C.7.1.1, C.7.2.1, C.7.3.1, C.7.4.1, C.7.5.1,
// C.12.1).
type Identity struct {
	PatientName, PatientID, PatientBirthDate, PatientSex                        string
	StudyInstanceUID, StudyDate, StudyTime, StudyID, AccessionNumber, StudyDesc string
	ReferringPhysician                                                          string
	SeriesInstanceUID, SeriesDescription                                        string
	SeriesNumber                                                                int
	Modality                                                                    string
	PatientPosition                                                             string // HFS, FFS, … (PS3.3 §C.7.3.1.1.2)
	FrameOfReferenceUID                                                         string
	Manufacturer, InstitutionName, StationName                                  string
	SOPInstanceUID                                                              string
	InstanceNumber                                                              int
	ContentDate, ContentTime                                                    string
}

// Geometry places the reconstructed slices in the patient coordinate system
// (PS3.3 §C.7.6.2): the reconstruction writes it into Image Plane modules.
type Geometry struct {
	Orientation    [6]float64   // row then column direction cosines
	Positions      [][3]float64 // per slice: centre of the first voxel, mm
	PixelSpacing   [2]float64   // between rows, between columns, mm
	SliceThickness float64      // mm
	ImageRows      int          // matrix of the reconstructed image
	ImageCols      int
}

// Acquisition says how the instances of one acquisition fit together.
type Acquisition struct {
	UID           string // shared by all instances of the acquisition
	NumInstances  int
	InstanceIndex int // 1-based
	FirstSlice    int // 0-based index of this instance's first slice
	TotalSlices   int
}

// Header is everything but the array.
type Header struct {
	Identity
	Geometry
	Acquisition
}

// Limits on what a reader accepts before allocating.
const (
	// MaxArrayBytes bounds one instance's array (and so the allocation).
	MaxArrayBytes = 8 << 30
	maxDim        = 1 << 20
)

func (h *Header) writeCommon(w *writer, sopClass string) {
	now := time.Now()
	if h.ContentDate == "" {
		h.ContentDate, h.ContentTime = now.Format("20060102"), now.Format("150405")
	}
	w.str(tagSpecificCharacterSet, "CS", "ISO_IR 192")
	w.str(tagInstanceCreationDate, "DA", now.Format("20060102"))
	w.str(tagInstanceCreationTime, "TM", now.Format("150405"))
	w.str(tagSOPClassUID, "UI", sopClass)
	w.str(tagSOPInstanceUID, "UI", h.SOPInstanceUID)
	w.str(tagStudyDate, "DA", h.StudyDate)
	w.str(tagContentDate, "DA", h.ContentDate)
	w.str(tagStudyTime, "TM", h.StudyTime)
	w.str(tagContentTime, "TM", h.ContentTime)
	w.str(tagAccessionNumber, "SH", h.AccessionNumber)
	w.str(tagModality, "CS", h.Modality)
	w.str(tagManufacturer, "LO", h.Manufacturer)
	if h.InstitutionName != "" {
		w.str(tagInstitutionName, "LO", h.InstitutionName)
	}
	w.str(tagReferringPhysician, "PN", h.ReferringPhysician)
	if h.StationName != "" {
		w.str(tagStationName, "SH", h.StationName)
	}
	if h.StudyDesc != "" {
		w.str(tagStudyDescription, "LO", h.StudyDesc)
	}
	if h.SeriesDescription != "" {
		w.str(tagSeriesDescription, "LO", h.SeriesDescription)
	}
	w.str(tagCreatorVersionUID, "UI", part10.ImplementationClassUID)
	w.str(tagPatientName, "PN", h.PatientName)
	w.str(tagPatientID, "LO", h.PatientID)
	w.str(tagPatientBirthDate, "DA", h.PatientBirthDate)
	w.str(tagPatientSex, "CS", h.PatientSex)
	w.str(tagPatientPosition, "CS", h.PatientPosition)
	w.str(tagStudyInstanceUID, "UI", h.StudyInstanceUID)
	w.str(tagSeriesInstanceUID, "UI", h.SeriesInstanceUID)
	w.str(tagStudyID, "SH", h.StudyID)
	w.str(tagSeriesNumber, "IS", strconv.Itoa(h.SeriesNumber))
	w.str(tagInstanceNumber, "IS", strconv.Itoa(h.InstanceNumber))
	if h.FrameOfReferenceUID != "" {
		w.str(tagFrameOfReferenceUID, "UI", h.FrameOfReferenceUID)
	}
	w.str(tagLaterality, "CS", "")
	if h.FrameOfReferenceUID != "" {
		w.str(tagPositionRefIndicator, "LO", "")
	}
	w.emptySQ(tagAcquisitionContextSeq)
}

func (h *Header) writePrivateCommon(w *writer, kind, layout, format string, dims []uint32) {
	w.str(TagPrivateCreator, "LO", PrivateCreator)
	w.str(tagDataKind, "CS", kind)
	w.ul(tagArrayDims, dims...)
	w.str(tagArrayLayout, "CS", layout)
	w.str(tagSampleFormat, "CS", format)
}

func (h *Header) writePrivateGeometry(w *writer) {
	w.str(TagAcquisitionUID, "UI", h.Acquisition.UID)
	w.ul(TagNumInstances, uint32(h.NumInstances))
	w.ul(tagInstanceIndex, uint32(h.InstanceIndex))
	w.ul(tagFirstSlice, uint32(h.FirstSlice))
	w.ul(TagTotalSlices, uint32(h.TotalSlices))
	w.fd(tagOrientation, h.Orientation[:]...)
	var pos []float64
	for _, p := range h.Positions {
		pos = append(pos, p[:]...)
	}
	w.fd(tagSlicePositions, pos...)
	w.fd(tagPixelSpacing, h.PixelSpacing[:]...)
	w.fd(tagSliceThickness, h.SliceThickness)
	w.us(tagImageMatrix, uint16(h.ImageRows), uint16(h.ImageCols))
}

// writeFile writes the Part 10 wrapper and calls body for the data set.
func writeFile(path, sopInstance string, body func(w *writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = part10.WriteMeta(bw, part10.Meta{MediaStorageSOPClassUID: RawDataStorage, MediaStorageSOPInstanceUID: sopInstance,
		TransferSyntaxUID: part10.ExplicitVRLittleEndian, ImplementationClassUID: part10.ImplementationClassUID,
		ImplementationVersionName: part10.ImplementationVersionName})
	if err == nil {
		w := &writer{w: bw}
		body(w)
		err = w.err
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// parsed is a raw-data object after the header pass.
type parsed struct {
	ds       dataSet
	kind     string
	dims     []int
	arrayLen uint32
	rd       *part10.Reader
	closer   func()
	path     string
	// remain is how many data-set bytes the file holds after the reader's
	// offset zero, or -1 when the data set is converted on the fly (big
	// endian, deflated) and its size is not known in advance.
	remain int64
}

// open reads a Part 10 file up to the array element and checks the
// identity of the object.
func open(path string) (*parsed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	p := &parsed{path: path, closer: func() { f.Close() }}
	ok := false
	defer func() {
		if !ok {
			p.closer()
		}
	}()
	br := bufio.NewReaderSize(f, 1<<20)
	meta, err := part10.ReadMeta(br)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.remain = -1
	if tsi, known := part10.LookupTransferSyntax(meta.TransferSyntaxUID); !known || !part10.IsUncompressed(meta.TransferSyntaxUID) {
		return nil, fmt.Errorf("%s: transfer syntax %s cannot carry raw data", path, meta.TransferSyntaxUID)
	} else if !tsi.BigEndian && !tsi.Deflated {
		// The data set's size is known: it bounds the array (readArray).
		if st, err := f.Stat(); err == nil {
			if pos, err := f.Seek(0, io.SeekCurrent); err == nil {
				p.remain = st.Size() - (pos - int64(br.Buffered()))
			}
		}
	}
	rd, err := part10.NewReader(br, meta.TransferSyntaxUID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.rd = rd
	p.closer = func() { rd.Close(); f.Close() }
	p.ds = dataSet{}
	for {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if e.Tag == tagArrayData {
			if e.Length == part10.UndefinedLength {
				return nil, fmt.Errorf("%s: array element %s has undefined length", path, e.Tag)
			}
			p.arrayLen = e.Length
			break
		}
		if e.Sequence() {
			continue
		}
		if e.Length > maxHeaderValue {
			if e.Tag.Group() == privateGroup {
				return nil, fmt.Errorf("%s: element %s of %d bytes exceeds the %d-byte limit", path, e.Tag, e.Length, maxHeaderValue)
			}
			continue
		}
		v, err := rd.Value(maxHeaderValue)
		if err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", path, e.Tag, err)
		}
		vr := e.VR
		if vr == "UN" {
			// Implicit VR (PS3.5 §7.1.3), or a converter that did not know
			// the private block: the VR the block defines.
			vr = vrOf(e.Tag)
		}
		p.ds[e.Tag] = element{vr: vr, value: v}
	}
	if c := p.ds.str(tagSOPClassUID); c != RawDataStorage {
		return nil, fmt.Errorf("%s: SOP class %q is not Raw Data Storage (%s)", path, c, RawDataStorage)
	}
	if c := p.ds.str(TagPrivateCreator); c != PrivateCreator {
		return nil, fmt.Errorf("%s: no tweedie raw-data block: private creator (0077,0010) is %q, want %q", path, c, PrivateCreator)
	}
	p.kind = p.ds.str(tagDataKind)
	dims, err := p.ds.uints(tagArrayDims)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	prod := uint64(1)
	for i, d := range dims {
		if d < 1 || d > maxDim {
			return nil, fmt.Errorf("%s: array dimension %d is %d, want 1 … %d", path, i, d, maxDim)
		}
		prod *= d
		if prod > MaxArrayBytes {
			return nil, fmt.Errorf("%s: array dimensions %v exceed %d bytes", path, dims, MaxArrayBytes)
		}
		p.dims = append(p.dims, int(d))
	}
	ok = true
	return p, nil
}

// readArray reads the array as float32 samples after checking its length
// against want (in samples).
func (p *parsed) readArray(want int) ([]float32, error) {
	if p.arrayLen == 0 && !p.ds.has(tagArrayData) {
		return nil, fmt.Errorf("%s: missing array data element %s", p.path, tagArrayData)
	}
	if uint64(p.arrayLen) != uint64(want)*4 {
		return nil, fmt.Errorf("%s: array data has %d bytes, but the dimensions %v need %d", p.path, p.arrayLen, p.dims, uint64(want)*4)
	}
	if p.remain >= 0 && int64(p.arrayLen) > p.remain-p.rd.Offset() {
		return nil, fmt.Errorf("%s: truncated: the array data element declares %d bytes, only %d remain in the file", p.path, p.arrayLen, max(p.remain-p.rd.Offset(), 0))
	}
	// The slice is sized from the file when its size is known; a data set
	// converted on the fly grows it as the samples arrive, so a header that
	// lies costs no more memory than the data that back it.
	var out []float32
	if p.remain >= 0 {
		out = make([]float32, want)
	} else {
		out = make([]float32, min(want, 1<<20))
	}
	buf := make([]byte, 1<<20)
	for i := 0; i < want; {
		n := min(len(buf)/4, want-i)
		if _, err := io.ReadFull(p.rd, buf[:4*n]); err != nil {
			return nil, fmt.Errorf("%s: reading array: %w", p.path, err)
		}
		if len(out) < i+n {
			out = append(out[:cap(out)], make([]float32, min(want, 2*len(out))-len(out))...)
		}
		for k := 0; k < n; k++ {
			v := math.Float32frombits(binary.LittleEndian.Uint32(buf[4*k:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, &SampleError{Path: p.path, Index: i + k, Value: v}
			}
			out[i+k] = v
		}
		i += n
	}
	return out, nil
}

// SampleError reports a sample that is not a finite number.
type SampleError struct {
	Path  string
	Index int // index of the float32 sample in storage order
	Value float32
	Where string // the sample's coordinates, filled in by the typed reader
}

func (e *SampleError) Error() string {
	w := e.Where
	if w == "" {
		w = fmt.Sprintf("float %d", e.Index)
	}
	return fmt.Sprintf("%s: sample at %s is %v", e.Path, w, e.Value)
}

// readHeader fills the common header, reporting every missing or invalid
// attribute at once.
func (p *parsed) readHeader(slices int) (Header, error) {
	d := p.ds
	var h Header
	var problems []string
	need := func(t Tag, name string) string {
		v := d.str(t)
		if v == "" {
			problems = append(problems, fmt.Sprintf("missing %s %s", name, t))
		}
		return v
	}
	h.SOPInstanceUID = need(tagSOPInstanceUID, "SOP Instance UID")
	h.StudyInstanceUID = need(tagStudyInstanceUID, "Study Instance UID")
	h.SeriesInstanceUID = need(tagSeriesInstanceUID, "Series Instance UID")
	h.Modality = need(tagModality, "Modality")
	h.PatientName, h.PatientID = d.str(tagPatientName), d.str(tagPatientID)
	h.PatientBirthDate, h.PatientSex = d.str(tagPatientBirthDate), d.str(tagPatientSex)
	h.PatientPosition = d.str(tagPatientPosition)
	h.StudyDate, h.StudyTime, h.StudyID = d.str(tagStudyDate), d.str(tagStudyTime), d.str(tagStudyID)
	h.AccessionNumber, h.ReferringPhysician, h.StudyDesc = d.str(tagAccessionNumber), d.str(tagReferringPhysician), d.str(tagStudyDescription)
	h.SeriesDescription = d.str(tagSeriesDescription)
	h.SeriesNumber, _ = strconv.Atoi(strings.TrimSpace(d.str(tagSeriesNumber)))
	h.InstanceNumber, _ = strconv.Atoi(strings.TrimSpace(d.str(tagInstanceNumber)))
	h.FrameOfReferenceUID = d.str(tagFrameOfReferenceUID)
	h.Manufacturer, h.InstitutionName, h.StationName = d.str(tagManufacturer), d.str(tagInstitutionName), d.str(tagStationName)
	h.ContentDate, h.ContentTime = d.str(tagContentDate), d.str(tagContentTime)

	h.Acquisition.UID = d.str(TagAcquisitionUID)
	if h.Acquisition.UID == "" {
		h.Acquisition.UID = h.SeriesInstanceUID
	}
	u := func(t Tag, name string, def int) int {
		v, err := d.uints(t)
		if err != nil {
			problems = append(problems, err.Error())
			return def
		}
		if len(v) == 0 {
			return def
		}
		if v[0] > maxDim {
			problems = append(problems, fmt.Sprintf("%s %s is %d", name, t, v[0]))
			return def
		}
		return int(v[0])
	}
	h.NumInstances = u(TagNumInstances, "number of instances", 1)
	h.InstanceIndex = u(tagInstanceIndex, "instance index", 1)
	h.FirstSlice = u(tagFirstSlice, "first slice", 0)
	h.TotalSlices = u(TagTotalSlices, "total slices", slices)
	if h.NumInstances < 1 || h.InstanceIndex < 1 || h.InstanceIndex > h.NumInstances {
		problems = append(problems, fmt.Sprintf("instance index %d of %d instances", h.InstanceIndex, h.NumInstances))
	}
	if h.FirstSlice+slices > h.TotalSlices {
		problems = append(problems, fmt.Sprintf("slices %d … %d beyond the acquisition's %d", h.FirstSlice, h.FirstSlice+slices-1, h.TotalSlices))
	}

	f := func(t Tag, name string, n int) []float64 {
		v, err := d.floats(t)
		if err != nil {
			problems = append(problems, err.Error())
			return nil
		}
		if len(v) == 0 {
			problems = append(problems, fmt.Sprintf("missing %s %s", name, t))
			return nil
		}
		if n > 0 && len(v) != n {
			problems = append(problems, fmt.Sprintf("%s %s has %d values, want %d", name, t, len(v), n))
			return nil
		}
		for _, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				problems = append(problems, fmt.Sprintf("%s %s holds %v", name, t, x))
				return nil
			}
		}
		return v
	}
	if o := f(tagOrientation, "image orientation", 6); o != nil {
		copy(h.Orientation[:], o)
		r, c := o[0]*o[0]+o[1]*o[1]+o[2]*o[2], o[3]*o[3]+o[4]*o[4]+o[5]*o[5]
		dot := o[0]*o[3] + o[1]*o[4] + o[2]*o[5]
		if math.Abs(r-1) > 1e-3 || math.Abs(c-1) > 1e-3 || math.Abs(dot) > 1e-3 {
			problems = append(problems, fmt.Sprintf("image orientation %v is not two orthogonal unit vectors", o))
		}
	}
	if pos := f(tagSlicePositions, "slice positions", 3*slices); pos != nil {
		for i := 0; i < slices; i++ {
			h.Positions = append(h.Positions, [3]float64{pos[3*i], pos[3*i+1], pos[3*i+2]})
		}
	}
	if ps := f(tagPixelSpacing, "pixel spacing", 2); ps != nil {
		if ps[0] <= 0 || ps[1] <= 0 {
			problems = append(problems, fmt.Sprintf("pixel spacing %v must be positive", ps))
		}
		copy(h.PixelSpacing[:], ps)
	}
	if st := f(tagSliceThickness, "slice thickness", 1); st != nil {
		h.SliceThickness = st[0]
	}
	if m, err := d.uints(tagImageMatrix); err != nil || len(m) != 2 || m[0] < 1 || m[1] < 1 || m[0] > 65535 || m[1] > 65535 {
		problems = append(problems, fmt.Sprintf("image matrix %s is %v, want two sizes", tagImageMatrix, m))
	} else {
		h.ImageRows, h.ImageCols = int(m[0]), int(m[1])
	}
	if len(problems) > 0 {
		return h, fmt.Errorf("%s: %w: %s", p.path, ErrInvalid, strings.Join(problems, "; "))
	}
	return h, nil
}

// ErrInvalid marks objects whose attributes are missing or inconsistent.
var ErrInvalid = errors.New("invalid raw-data object")

// writeArray writes the array element (0077,10F0) OF of n float32 samples,
// produced by at(i), in 64 KiB chunks.
func writeArray(w *writer, n int, at func(i int) float32) {
	w.header(tagArrayData, "OF", uint32(4*n))
	buf := make([]byte, 0, 1<<16)
	for i := 0; i < n; i++ {
		buf = appendF32(buf, at(i))
		if len(buf) == cap(buf) {
			if w.err == nil {
				_, w.err = w.w.Write(buf)
			}
			buf = buf[:0]
		}
	}
	if w.err == nil {
		_, w.err = w.w.Write(buf)
	}
}
