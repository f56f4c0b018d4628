package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/tweedie-recon/tweedie/num/array"
	"github.com/tweedie-recon/tweedie/rawdata"
	"github.com/tweedie-recon/tweedie/rawdata/wrap"
)

func cmdWrapCT(args []string) int {
	fs := flag.NewFlagSet("wrap ct", flag.ExitOnError)
	spath := fs.String("sinogram", "", "sinogram .npy float32 (slices, views, detectors) or (views, detectors): line integrals of attenuation")
	angles := fs.String("angles", "", "projection angles: a .npy of degrees, or linspace:START:STOP:N (STOP excluded)")
	geom := fs.String("geometry", "parallel", "parallel or fan (equiangular)")
	detMM := fs.Float64("detector-mm", 0, "detector spacing, mm (parallel; default: the pixel size)")
	detDeg := fs.Float64("detector-deg", 0, "detector angular spacing, degrees (fan)")
	offset := fs.Float64("detector-offset", 0, "centre of rotation offset, detector elements")
	sourceIso := fs.Float64("source-iso", 0, "source–isocentre distance, mm (fan)")
	sourceDet := fs.Float64("source-det", 0, "source–detector distance, mm (fan)")
	imageN := fs.Int("image-size", 0, "N of the N×N reconstruction (default: the detector count / √2, rounded down to even)")
	mu := fs.Float64("mu-water", 0.0192, "water attenuation, 1/mm (about 70 keV)")
	out := fs.String("out", "", "output .dcm (with --slices-per-instance: a folder)")
	var idf identityFlags
	idf.register(fs)
	fs.Parse(args)
	fail := func(code int, f string, a ...any) int {
		fmt.Fprintf(os.Stderr, "tweedie wrap ct: "+f+"\n", a...)
		return code
	}
	if *spath == "" || *angles == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return fail(2, "--sinogram, --angles and --out are required")
	}
	a, err := array.ReadNPYFile(*spath)
	if err != nil {
		return fail(1, "%v", err)
	}
	if a.Float32 == nil {
		return fail(1, "%s: sinogram must be float32 (<f4), not %s", *spath, a.Dtype)
	}
	shape := a.Shape
	if len(shape) == 2 {
		shape = append([]int{1}, shape...)
	}
	if len(shape) != 3 {
		return fail(1, "%s: sinogram shape %v, want (slices, views, detectors)", *spath, a.Shape)
	}
	ang, err := wrap.ParseAngles(*angles)
	if err != nil {
		return fail(2, "%v", err)
	}
	s := &rawdata.CTSinogram{Slices: shape[0], Views: shape[1], Detectors: shape[2], Data: a.Float32, AnglesDeg: ang,
		DetectorOffset: *offset, MuWater: *mu}
	switch *geom {
	case "parallel":
		s.Beam = rawdata.BeamParallel
		s.DetectorSpacing = *detMM
		if s.DetectorSpacing == 0 {
			s.DetectorSpacing = idf.PixelMM
		}
	case "fan":
		s.Beam, s.DetectorSpacing, s.SourceIso, s.SourceDet = rawdata.BeamFan, *detDeg, *sourceIso, *sourceDet
	default:
		return fail(2, "--geometry %q: want parallel or fan", *geom)
	}
	n := *imageN
	if n == 0 {
		n = int(float64(s.Detectors)/1.4142135623730951) &^ 1
	}
	h, err := idf.Header("CT", s.Slices, n, n)
	if err != nil {
		return fail(2, "%v", err)
	}
	s.Header = h
	if err := s.Validate(); err != nil {
		return fail(1, "%v", err)
	}
	parts := wrap.SplitCT(s, idf.perInstance)
	paths, err := wrap.WriteParts(*out, len(parts), func(i int, path string) error { return rawdata.WriteCT(path, parts[i]) },
		func(i int) string { return parts[i].SOPInstanceUID })
	if err != nil {
		return fail(1, "%v", err)
	}
	fmt.Printf("wrote %s: CT sinogram %d slices × %d views × %d detectors (%s), %d×%d image at %g mm, study %s\n",
		strings.Join(paths, ", "), s.Slices, s.Views, s.Detectors, strings.ToLower(s.Beam), n, n, idf.PixelMM, h.StudyInstanceUID)
	return 0
}
