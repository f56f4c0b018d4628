package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/tweedie-recon/tweedie/rawdata"
	"github.com/tweedie-recon/tweedie/rawdata/mrd"
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
	ismrmrd := fs.String("ismrmrd", "", "instead of --kspace: an MRD (ISMRMRD) HDF5 file, as scanner converters and the ismrmrd tools write it (docs/mrd.md)")
	group := fs.String("group", "dataset", "with --ismrmrd: the group of the file that holds the header and the acquisitions")
	noWhiten := fs.Bool("no-prewhiten", false, "with --ismrmrd: keep the coils as acquired even when the file has a noise scan")
	out := fs.String("out", "", "output .dcm (with --slices-per-instance, or several contrasts or repetitions from --ismrmrd: a folder)")
	crop := fs.String("image-size", "", "ROWSxCOLS of the reconstructed image (default: the k-space matrix)")
	var idf identityFlags
	idf.register(fs)
	fs.Parse(args)
	if (*kpath == "") == (*ismrmrd == "") || *out == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "tweedie wrap mr: --out and one of --kspace and --ismrmrd are required")
		fs.Usage()
		return 2
	}
	if *ismrmrd != "" {
		if *mpath != "" || *crop != "" {
			fmt.Fprintln(os.Stderr, "tweedie wrap mr: --mask and --image-size do not go with --ismrmrd: the file's acquisitions give the sampling, its header the image matrix")
			return 2
		}
		f, err := mrd.Open(*ismrmrd, *group)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tweedie wrap mr:", err)
			return 1
		}
		defer f.Close()
		ks, rep, err := mrd.Wrap(f.Header, f, mrd.WrapOptions{Options: mrd.Options{NoPrewhiten: *noWhiten}, Identity: idf.given(fs)})
		if err != nil {
			fmt.Fprintf(os.Stderr, "tweedie wrap mr: %s: %v\n", *ismrmrd, err)
			return 1
		}
		fmt.Fprintln(os.Stderr, rep)
		return writeMR(*out, ks, idf.perInstance)
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
	return writeMR(*out, []*rawdata.MRKSpace{k}, idf.perInstance)
}

// given is the identity options set on the command line, the rest empty
// (for --ismrmrd, where the file's header comes before the defaults).
func (f *identityFlags) given(fs *flag.FlagSet) wrap.Identity {
	id := f.Identity
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if !set["patient-position"] {
		id.Position = ""
	}
	if !set["series-number"] {
		id.SeriesNumber = 0
	}
	if !set["orientation"] {
		id.Orientation = ""
	}
	if !set["pixel-mm"] {
		id.PixelMM = 0
	}
	if !set["slice-mm"] {
		id.SliceMM = 0
	}
	return id
}

// writeMR writes acquisitions, each split into instances of per slices:
// one file at out, or several into the folder out.
func writeMR(out string, ks []*rawdata.MRKSpace, per int) int {
	var parts []*rawdata.MRKSpace
	first := make([]int, len(ks)) // each acquisition's first part
	for i, k := range ks {
		first[i] = len(parts)
		sop := k.SOPInstanceUID
		parts = append(parts, rawdata.SplitMR(k, per, func(i int) string { return rawdata.DeriveUID(sop, fmt.Sprint(i)) })...)
	}
	paths, err := wrap.WriteParts(out, len(parts), func(i int, path string) error { return rawdata.WriteMR(path, parts[i]) },
		func(i int) string { return parts[i].SOPInstanceUID })
	if err != nil {
		fmt.Fprintln(os.Stderr, "tweedie wrap mr:", err)
		return 1
	}
	for i, k := range ks {
		sampled := 0
		for _, m := range k.Mask {
			sampled += int(m)
		}
		end := len(paths)
		if i+1 < len(ks) {
			end = first[i+1]
		}
		series := ""
		if len(ks) > 1 {
			series = fmt.Sprintf(", series %d (%s)", k.SeriesNumber, k.SeriesDescription)
		}
		fmt.Printf("wrote %s: MR k-space %d slices × %d coils × %d × %d, %.2f× undersampled, study %s%s\n",
			strings.Join(paths[first[i]:end], ", "), k.Slices, k.Coils, k.Rows, k.Cols, float64(len(k.Mask))/float64(sampled), k.StudyInstanceUID, series)
	}
	return 0
}
