package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tweedie-recon/tweedie/num/array"
	"github.com/tweedie-recon/tweedie/rawdata"
)

// identityFlags are the patient/study options of `tweedie wrap`.
type identityFlags struct {
	patientName, patientID, birthDate, sex  string
	studyUID, studyDate, studyTime, studyID string
	accession, studyDesc                    string
	seriesUID, seriesDesc                   string
	seriesNumber                            int
	frameUID, position                      string
	pixelMM, sliceMM                        float64
	orientation                             string
	perInstance                             int
}

func (f *identityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.patientName, "patient-name", "", "Patient's Name (default: a synthetic one)")
	fs.StringVar(&f.patientID, "patient-id", "", "Patient ID (default: a synthetic one)")
	fs.StringVar(&f.birthDate, "birth-date", "", "Patient's Birth Date, YYYYMMDD")
	fs.StringVar(&f.sex, "sex", "", "Patient's Sex: M, F or O")
	fs.StringVar(&f.studyUID, "study-uid", "", "Study Instance UID (default: a new one)")
	fs.StringVar(&f.studyDate, "study-date", "", "Study Date, YYYYMMDD (default: today)")
	fs.StringVar(&f.studyTime, "study-time", "", "Study Time, HHMMSS (default: now)")
	fs.StringVar(&f.studyID, "study-id", "", "Study ID")
	fs.StringVar(&f.accession, "accession", "", "Accession Number")
	fs.StringVar(&f.studyDesc, "study-description", "", "Study Description")
	fs.StringVar(&f.seriesUID, "series-uid", "", "Series Instance UID (default: a new one)")
	fs.StringVar(&f.seriesDesc, "series-description", "", "Series Description")
	fs.IntVar(&f.seriesNumber, "series-number", 1, "Series Number")
	fs.StringVar(&f.frameUID, "frame-uid", "", "Frame of Reference UID (default: a new one)")
	fs.StringVar(&f.position, "patient-position", "HFS", "Patient Position (HFS, FFS, …)")
	fs.Float64Var(&f.pixelMM, "pixel-mm", 1, "pixel spacing of the reconstructed image, mm")
	fs.Float64Var(&f.sliceMM, "slice-mm", 1, "slice thickness and spacing, mm")
	fs.StringVar(&f.orientation, "orientation", "axial", "slice orientation: axial, coronal or sagittal")
	fs.IntVar(&f.perInstance, "slices-per-instance", 0, "split the acquisition into instances of this many slices (0: one instance)")
}

// orientations gives Image Orientation (Patient) for the named planes, with
// row 0 anterior/superior and column 0 at the patient's right, as the
// project's images are laid out (PS3.3 §C.7.6.2.1.1, LPS).
var orientations = map[string][6]float64{
	"axial":    {1, 0, 0, 0, 1, 0},
	"coronal":  {1, 0, 0, 0, 0, -1},
	"sagittal": {0, 1, 0, 0, 0, -1},
}

// header builds a consistent identity and geometry for an acquisition.
func (f *identityFlags) header(modality string, slices, rows, cols int) (rawdata.Header, error) {
	var h rawdata.Header
	o, ok := orientations[f.orientation]
	if !ok {
		return h, fmt.Errorf("--orientation %q: want axial, coronal or sagittal", f.orientation)
	}
	if !(f.pixelMM > 0) || !(f.sliceMM > 0) {
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
	h.PatientName = def(f.patientName, "TWEEDIE^SYNTHETIC")
	h.PatientID = def(f.patientID, "TW"+acq[len(acq)-8:])
	h.PatientBirthDate, h.PatientSex, h.PatientPosition = f.birthDate, f.sex, f.position
	h.StudyInstanceUID = def(f.studyUID, rawdata.NewUID())
	h.StudyDate = def(f.studyDate, now.Format("20060102"))
	h.StudyTime = def(f.studyTime, now.Format("150405"))
	h.StudyID, h.AccessionNumber, h.StudyDesc = f.studyID, f.accession, f.studyDesc
	h.SeriesInstanceUID = def(f.seriesUID, rawdata.NewUID())
	h.SeriesDescription = def(f.seriesDesc, strings.ToLower(modality)+" raw data (tweedie wrap)")
	h.SeriesNumber = f.seriesNumber
	h.FrameOfReferenceUID = def(f.frameUID, rawdata.NewUID())
	h.Manufacturer = "tweedie"
	h.SOPInstanceUID = rawdata.NewUID()
	h.InstanceNumber = 1
	h.Orientation = o
	h.PixelSpacing = [2]float64{f.pixelMM, f.pixelMM}
	h.SliceThickness = f.sliceMM
	h.ImageRows, h.ImageCols = rows, cols
	// The slices are centred on the isocentre; the first voxel of each is
	// at −(size−1)/2 pixels along the row and column directions.
	normal := [3]float64{o[1]*o[5] - o[2]*o[4], o[2]*o[3] - o[0]*o[5], o[0]*o[4] - o[1]*o[3]}
	for s := 0; s < slices; s++ {
		var p [3]float64
		for i := 0; i < 3; i++ {
			p[i] = -float64(cols-1)/2*f.pixelMM*o[i] - float64(rows-1)/2*f.pixelMM*o[3+i] +
				(float64(s)-float64(slices-1)/2)*f.sliceMM*normal[i]
		}
		h.Positions = append(h.Positions, p)
	}
	h.Acquisition = rawdata.Acquisition{UID: acq, NumInstances: 1, InstanceIndex: 1, TotalSlices: slices}
	return h, nil
}

func cmdWrap(args []string) int {
	if len(args) < 1 || (args[0] != "mr" && args[0] != "ct") {
		fmt.Fprintln(os.Stderr, "usage: tweedie wrap mr|ct [flags] (tweedie wrap mr -h)")
		return 2
	}
	if args[0] == "ct" {
		return cmdWrapCT(args[1:])
	}
	return cmdWrapMR(args[1:])
}

func cmdWrapMR(args []string) int {
	fs := flag.NewFlagSet("wrap mr", flag.ExitOnError)
	kpath := fs.String("kspace", "", "k-space: .npy complex64 (slices, coils, rows, cols) as fastMRI, or BART .cfl/.hdr [readout, phase, 1, coils, …, slices in dim 13]")
	mpath := fs.String("mask", "", "sampling mask: .npy float32 (cols) or (rows, cols), or BART .cfl [readout, phase]; default: inferred from all-zero lines")
	out := fs.String("out", "", "output .dcm (with --slices-per-instance: a folder)")
	crop := fs.String("image-size", "", "ROWSxCOLS of the reconstructed image (default: the k-space matrix)")
	var idf identityFlags
	idf.register(fs)
	fs.Parse(args)
	if *kpath == "" || *out == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "tweedie wrap mr: --kspace and --out are required")
		fs.Usage()
		return 2
	}
	k, err := loadKSpace(*kpath)
	if err == nil && *mpath != "" {
		k.Mask, err = loadMask(*mpath, k.Rows, k.Cols)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie wrap mr:", err)
		return 1
	}
	if k.Mask == nil {
		k.Mask = rawdata.InferMask(k.Data, k.Slices*k.Coils, k.Rows, k.Cols)
	}
	rows, cols := k.Rows, k.Cols
	if *crop != "" {
		if _, err := fmt.Sscanf(*crop, "%dx%d", &rows, &cols); err != nil || rows < 1 || cols < 1 || rows > k.Rows || cols > k.Cols {
			fmt.Fprintf(os.Stderr, "tweedie wrap mr: --image-size %q: want ROWSxCOLS within %dx%d\n", *crop, k.Rows, k.Cols)
			return 2
		}
	}
	h, err := idf.header("MR", k.Slices, rows, cols)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie wrap mr:", err)
		return 2
	}
	k.Header = h
	parts := rawdata.SplitMR(k, idf.perInstance, func(i int) string { return rawdata.DeriveUID(h.SOPInstanceUID, fmt.Sprint(i)) })
	paths, err := writeParts(*out, len(parts), func(i int, path string) error { return rawdata.WriteMR(path, parts[i]) },
		func(i int) string { return parts[i].SOPInstanceUID })
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie wrap mr:", err)
		return 1
	}
	sampled := 0
	for _, m := range k.Mask {
		sampled += int(m)
	}
	fmt.Printf("wrote %s: MR k-space %d slices × %d coils × %d × %d, %.2f× undersampled, study %s\n",
		strings.Join(paths, ", "), k.Slices, k.Coils, k.Rows, k.Cols, float64(len(k.Mask))/float64(sampled), h.StudyInstanceUID)
	return 0
}

// writeParts writes one file, or several into a folder.
func writeParts(out string, n int, write func(i int, path string) error, uid func(i int) string) ([]string, error) {
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

// loadKSpace reads .npy (fastMRI layout) or BART .cfl/.hdr k-space.
func loadKSpace(path string) (*rawdata.MRKSpace, error) {
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

// loadMask reads a 1D (phase lines) or 2D mask as .npy float32 or BART .cfl.
func loadMask(path string, rows, cols int) ([]uint8, error) {
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
