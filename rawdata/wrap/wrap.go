// Package wrap turns arrays — MR k-space and masks (.npy as fastMRI lays
// them out, BART .cfl), CT sinograms and angles — into raw-data DICOM
// objects with a consistent identity and geometry: what `tweedie wrap`
// does, apart from its flags.
package wrap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tweedie-recon/tweedie/num/array"
	"github.com/tweedie-recon/tweedie/rawdata"
)

// Identity is the patient, study, series and geometry of a wrapped
// acquisition; empty strings get defaults (see Header).
type Identity struct {
	PatientName, PatientID, BirthDate, Sex  string
	StudyUID, StudyDate, StudyTime, StudyID string
	Accession, StudyDesc                    string
	SeriesUID, SeriesDesc                   string
	SeriesNumber                            int
	FrameUID, Position                      string
	PixelMM, SliceMM                        float64
	Orientation                             string // axial, coronal or sagittal
}

// orientations gives Image Orientation (Patient) for the named planes, with
// row 0 anterior/superior and column 0 at the patient's right, as the
// project's images are laid out (PS3.3 §C.7.6.2.1.1, LPS).
var orientations = map[string][6]float64{
	"axial":    {1, 0, 0, 0, 1, 0},
	"coronal":  {1, 0, 0, 0, 0, -1},
	"sagittal": {0, 1, 0, 0, 0, -1},
}

// Header builds a consistent identity and geometry for an acquisition of
// slices slices reconstructed as rows × cols images, defaulting what f
// leaves empty (synthetic patient, new UIDs, today).
func (f *Identity) Header(modality string, slices, rows, cols int) (rawdata.Header, error) {
	var h rawdata.Header
	o, ok := orientations[f.Orientation]
	if !ok {
		return h, fmt.Errorf("--orientation %q: want axial, coronal or sagittal", f.Orientation)
	}
	if !(f.PixelMM > 0) || !(f.SliceMM > 0) {
		return h, errors.New("--pixel-mm and --slice-mm must be positive")
	}
	now := time.Now()
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	acq := rawdata.NewUID()
	h.Modality = modality
	h.PatientName = def(f.PatientName, "TWEEDIE^SYNTHETIC")
	h.PatientID = def(f.PatientID, "TW"+acq[len(acq)-8:])
	h.PatientBirthDate, h.PatientSex, h.PatientPosition = f.BirthDate, f.Sex, f.Position
	h.StudyInstanceUID = def(f.StudyUID, rawdata.NewUID())
	h.StudyDate = def(f.StudyDate, now.Format("20060102"))
	h.StudyTime = def(f.StudyTime, now.Format("150405"))
	h.StudyID, h.AccessionNumber, h.StudyDesc = f.StudyID, f.Accession, f.StudyDesc
	h.SeriesInstanceUID = def(f.SeriesUID, rawdata.NewUID())
	h.SeriesDescription = def(f.SeriesDesc, strings.ToLower(modality)+" raw data (tweedie wrap)")
	h.SeriesNumber = f.SeriesNumber
	h.FrameOfReferenceUID = def(f.FrameUID, rawdata.NewUID())
	h.Manufacturer = "tweedie"
	h.SOPInstanceUID = rawdata.NewUID()
	h.InstanceNumber = 1
	h.Orientation = o
	h.PixelSpacing = [2]float64{f.PixelMM, f.PixelMM}
	h.SliceThickness = f.SliceMM
	h.ImageRows, h.ImageCols = rows, cols
	// The slices are centred on the isocentre; the first voxel of each is
	// at −(size−1)/2 pixels along the row and column directions.
	normal := [3]float64{o[1]*o[5] - o[2]*o[4], o[2]*o[3] - o[0]*o[5], o[0]*o[4] - o[1]*o[3]}
	for s := 0; s < slices; s++ {
		var p [3]float64
		for i := 0; i < 3; i++ {
			p[i] = -float64(cols-1)/2*f.PixelMM*o[i] - float64(rows-1)/2*f.PixelMM*o[3+i] +
				(float64(s)-float64(slices-1)/2)*f.SliceMM*normal[i]
		}
		h.Positions = append(h.Positions, p)
	}
	h.Acquisition = rawdata.Acquisition{UID: acq, NumInstances: 1, InstanceIndex: 1, TotalSlices: slices}
	return h, nil
}

// SplitCT splits a sinogram into instances of per slices each (per ≤ 0
// or ≥ the slices: one instance), their SOP Instance UIDs derived from
// the header's.
func SplitCT(s *rawdata.CTSinogram, per int) []*rawdata.CTSinogram {
	h := s.Header
	var parts []*rawdata.CTSinogram
	if per > 0 && per < s.Slices {
		nInst := (s.Slices + per - 1) / per
		plane := s.Views * s.Detectors
		for i := 0; i < nInst; i++ {
			s0, s1 := i*per, min((i+1)*per, s.Slices)
			p := *s
			p.Slices, p.FirstSlice, p.TotalSlices, p.NumInstances, p.InstanceIndex, p.InstanceNumber = s1-s0, s0, s.Slices, nInst, i+1, i+1
			p.Data, p.Positions = s.Data[s0*plane:s1*plane], s.Positions[s0:s1]
			p.SOPInstanceUID = rawdata.DeriveUID(h.SOPInstanceUID, fmt.Sprint(i))
			parts = append(parts, &p)
		}
	} else {
		parts = []*rawdata.CTSinogram{s}
	}
	return parts
}

// WriteParts writes n parts: one file at out, or several into the folder
// out named by uid(i), and returns the paths written.
func WriteParts(out string, n int, write func(i int, path string) error, uid func(i int) string) ([]string, error) {
	if n == 1 {
		return []string{out}, write(0, out)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for i := 0; i < n; i++ {
		p := filepath.Join(out, uid(i)+".dcm")
		if err := write(i, p); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// ParseAngles reads SPEC: a .npy of degrees, or linspace:START:STOP:N with
// STOP excluded (numpy's linspace(..., endpoint=False)).
func ParseAngles(spec string) ([]float64, error) {
	if rest, ok := strings.CutPrefix(spec, "linspace:"); ok {
		f := strings.Split(rest, ":")
		if len(f) != 3 {
			return nil, fmt.Errorf("--angles %q: want linspace:START:STOP:N", spec)
		}
		start, err1 := strconv.ParseFloat(f[0], 64)
		stop, err2 := strconv.ParseFloat(f[1], 64)
		n, err3 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || err3 != nil || n < 1 || n > 1<<16 {
			return nil, fmt.Errorf("--angles %q: START and STOP must be numbers and N in 1 … 65536", spec)
		}
		out := make([]float64, n)
		for i := range out {
			out[i] = start + (stop-start)*float64(i)/float64(n)
		}
		return out, nil
	}
	a, err := array.ReadNPYFile(spec)
	if err != nil {
		return nil, fmt.Errorf("--angles: %w", err)
	}
	if len(a.Shape) != 1 || a.Float32 == nil {
		return nil, fmt.Errorf("--angles %s: want a 1-D float32 array of degrees, got %s %v", spec, a.Dtype, a.Shape)
	}
	out := make([]float64, len(a.Float32))
	for i, v := range a.Float32 {
		out[i] = float64(v)
	}
	return out, nil
}

// LoadKSpace reads .npy (fastMRI layout) or BART .cfl/.hdr k-space.
func LoadKSpace(path string) (*rawdata.MRKSpace, error) {
	if strings.HasSuffix(path, ".npy") {
		a, err := array.ReadNPYFile(path)
		if err != nil {
			return nil, err
		}
		if a.Complex64 == nil {
			return nil, fmt.Errorf("%s: k-space must be complex64 (<c8), not %s", path, a.Dtype)
		}
		shape := a.Shape
		if len(shape) == 3 { // (coils, rows, cols): one slice
			shape = append([]int{1}, shape...)
		}
		if len(shape) != 4 {
			return nil, fmt.Errorf("%s: k-space shape %v, want (slices, coils, rows, cols)", path, a.Shape)
		}
		return &rawdata.MRKSpace{Slices: shape[0], Coils: shape[1], Rows: shape[2], Cols: shape[3], Data: a.Complex64}, nil
	}
	base := strings.TrimSuffix(strings.TrimSuffix(path, ".cfl"), ".hdr")
	dims, data, err := array.ReadCFL(base)
	if err != nil {
		return nil, err
	}
	// BART: column-major, dims[0] readout, dims[1] phase, dims[3] coils,
	// dims[13] slices; every other dimension must be 1.
	d := make([]int, 16)
	for i := range d {
		d[i] = 1
	}
	copy(d, dims)
	for i, v := range d {
		if v != 1 && i != 0 && i != 1 && i != 3 && i != 13 {
			return nil, fmt.Errorf("%s: BART dimension %d is %d; only readout (0), phase (1), coils (3) and slices (13) may exceed 1", path, i, v)
		}
	}
	R, P, C, S := d[0], d[1], d[3], d[13]
	k := &rawdata.MRKSpace{Slices: S, Coils: C, Rows: R, Cols: P, Data: make([]complex64, len(data))}
	strideSlice := R * P * C // dims 2 and 4–12 are 1
	for s := 0; s < S; s++ {
		for c := 0; c < C; c++ {
			for p := 0; p < P; p++ {
				for r := 0; r < R; r++ {
					k.Data[((s*C+c)*R+r)*P+p] = data[s*strideSlice+c*R*P+p*R+r]
				}
			}
		}
	}
	return k, nil
}

// LoadMask reads a 1D (phase lines) or 2D mask as .npy float32 or BART .cfl.
func LoadMask(path string, rows, cols int) ([]uint8, error) {
	var vals []float32
	var shape []int
	if strings.HasSuffix(path, ".npy") {
		a, err := array.ReadNPYFile(path)
		if err != nil {
			return nil, err
		}
		vals, shape = a.Float32, a.Shape
		if a.Complex64 != nil {
			vals = make([]float32, len(a.Complex64))
			for i, v := range a.Complex64 {
				vals[i] = real(v)
			}
		}
	} else {
		dims, data, err := array.ReadCFL(strings.TrimSuffix(strings.TrimSuffix(path, ".cfl"), ".hdr"))
		if err != nil {
			return nil, err
		}
		if len(dims) < 2 || len(data) != dims[0]*dims[1] {
			return nil, fmt.Errorf("%s: mask dims %v, want [readout, phase]", path, dims)
		}
		// Column-major [readout, phase] → C order (rows, cols).
		vals, shape = make([]float32, len(data)), []int{dims[0], dims[1]}
		for p := 0; p < dims[1]; p++ {
			for r := 0; r < dims[0]; r++ {
				vals[r*dims[1]+p] = real(data[p*dims[0]+r])
			}
		}
	}
	m := make([]uint8, rows*cols)
	switch {
	case len(shape) == 1 && shape[0] == cols:
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				if vals[c] != 0 {
					m[r*cols+c] = 1
				}
			}
		}
	case len(shape) == 2 && shape[0] == rows && shape[1] == cols:
		for i, v := range vals {
			if v != 0 {
				m[i] = 1
			}
		}
	default:
		return nil, fmt.Errorf("%s: mask of shape %v does not fit k-space %d × %d (want (%d) or (%d, %d))", path, shape, rows, cols, cols, rows, cols)
	}
	return m, nil
}
