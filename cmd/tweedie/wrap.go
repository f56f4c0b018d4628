package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/tweedie-recon/tweedie/rawdata"
	"github.com/tweedie-recon/tweedie/rawdata/wrap"
)

// identityFlags are the patient/study options of `tweedie wrap`.
type identityFlags struct {
	wrap.Identity
	perInstance int
}

func (f *identityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.PatientName, "patient-name", "", "Patient's Name (default: a synthetic one)")
	fs.StringVar(&f.PatientID, "patient-id", "", "Patient ID (default: a synthetic one)")
	fs.StringVar(&f.BirthDate, "birth-date", "", "Patient's Birth Date, YYYYMMDD")
	fs.StringVar(&f.Sex, "sex", "", "Patient's Sex: M, F or O")
	fs.StringVar(&f.StudyUID, "study-uid", "", "Study Instance UID (default: a new one)")
	fs.StringVar(&f.StudyDate, "study-date", "", "Study Date, YYYYMMDD (default: today)")
	fs.StringVar(&f.StudyTime, "study-time", "", "Study Time, HHMMSS (default: now)")
	fs.StringVar(&f.StudyID, "study-id", "", "Study ID")
	fs.StringVar(&f.Accession, "accession", "", "Accession Number")
	fs.StringVar(&f.StudyDesc, "study-description", "", "Study Description")
	fs.StringVar(&f.SeriesUID, "series-uid", "", "Series Instance UID (default: a new one)")
	fs.StringVar(&f.SeriesDesc, "series-description", "", "Series Description")
	fs.IntVar(&f.SeriesNumber, "series-number", 1, "Series Number")
	fs.StringVar(&f.FrameUID, "frame-uid", "", "Frame of Reference UID (default: a new one)")
	fs.StringVar(&f.Position, "patient-position", "HFS", "Patient Position (HFS, FFS, …)")
	fs.Float64Var(&f.PixelMM, "pixel-mm", 1, "pixel spacing of the reconstructed image, mm")
	fs.Float64Var(&f.SliceMM, "slice-mm", 1, "slice thickness and spacing, mm")
	fs.StringVar(&f.Orientation, "orientation", "axial", "slice orientation: axial, coronal or sagittal")
	fs.IntVar(&f.perInstance, "slices-per-instance", 0, "split the acquisition into instances of this many slices (0: one instance)")
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
	k, err := wrap.LoadKSpace(*kpath)
	if err == nil && *mpath != "" {
		k.Mask, err = wrap.LoadMask(*mpath, k.Rows, k.Cols)
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
	h, err := idf.Header("MR", k.Slices, rows, cols)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie wrap mr:", err)
		return 2
	}
	k.Header = h
	parts := rawdata.SplitMR(k, idf.perInstance, func(i int) string { return rawdata.DeriveUID(h.SOPInstanceUID, fmt.Sprint(i)) })
	paths, err := wrap.WriteParts(*out, len(parts), func(i int, path string) error { return rawdata.WriteMR(path, parts[i]) },
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
