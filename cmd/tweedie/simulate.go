package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/tweedie-recon/tweedie/kspace"
	"github.com/tweedie-recon/tweedie/num/array"
	"github.com/tweedie-recon/tweedie/sinogram"
)

// parseRange reads "A:B" (B excluded) within [0, n).
func parseRange(s string, n int) (int, int, error) {
	if s == "" {
		return 0, n, nil
	}
	a, b, ok := strings.Cut(s, ":")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || lo < 0 || hi > n || lo >= hi {
		return 0, 0, fmt.Errorf("--slices %q: want A:B with 0 ≤ A < B ≤ %d", s, n)
	}
	return lo, hi, nil
}

func cmdSimulate(args []string) int {
	if len(args) < 1 || (args[0] != "mr" && args[0] != "ct") {
		fmt.Fprintln(os.Stderr, "usage: tweedie simulate mr|ct [flags]   (simulate raw data from images, for evaluation)")
		return 2
	}
	if args[0] == "ct" {
		return cmdSimulateCT(args[1:])
	}
	return cmdSimulateMR(args[1:])
}

// cmdSimulateMR makes multi-coil k-space from magnitude images: a smooth
// random phase, smooth coil sensitivities (normalised to Σ|S|² = 1),
// complex Gaussian noise, and an undersampling mask over phase encoding.
func cmdSimulateMR(args []string) int {
	fs := flag.NewFlagSet("simulate mr", flag.ExitOnError)
	images := fs.String("images", "", ".npy float32 (slices, rows, cols) magnitude images")
	slices := fs.String("slices", "", "slice range A:B (B excluded; default all)")
	coils := fs.Int("coils", 8, "number of receive coils")
	accel := fs.Float64("accel", 4, "nominal acceleration")
	acs := fs.Float64("acs", 0.08, "fully sampled centre fraction")
	maskKind := fs.String("mask", "equispaced", "equispaced (fastMRI) or random (uniform with ACS)")
	noise := fs.Float64("noise", 0.01, "noise standard deviation relative to the RMS of the sampled k-space")
	phase := fs.Float64("phase", 1.0, "amplitude of the smooth random phase, radians")
	seed := fs.Uint64("seed", 1, "random seed")
	kout := fs.String("kspace", "", "output k-space .npy complex64 (slices, coils, rows, cols)")
	mout := fs.String("mask-out", "", "output mask .npy float32 (cols)")
	ref := fs.String("ref", "", "output reference magnitude .npy float32 (slices, rows, cols)")
	fs.Parse(args)
	fail := func(code int, f string, a ...any) int {
		fmt.Fprintf(os.Stderr, "tweedie simulate mr: "+f+"\n", a...)
		return code
	}
	if *images == "" || *kout == "" || fs.NArg() != 0 {
		fs.Usage()
		return fail(2, "--images and --kspace are required")
	}
	vol, n, rows, cols, err := loadVolume(*images)
	if err != nil {
		return fail(1, "%v", err)
	}
	lo, hi, err := parseRange(*slices, n)
	if err != nil {
		return fail(2, "%v", err)
	}
	rng := rand.New(rand.NewPCG(*seed, 0x7eed1e))
	var lines []bool
	var actual float64
	switch *maskKind {
	case "equispaced":
		lines, actual, err = kspace.EquispacedACS(cols, *accel, *acs)
	case "random":
		lines, actual, err = kspace.RandomUniformACS(cols, *accel, *acs, rng)
	default:
		err = fmt.Errorf("--mask %q: want equispaced or random", *maskKind)
	}
	if err != nil {
		return fail(2, "%v", err)
	}
	mask := kspace.LineMask(rows, lines)
	maps, err := kspace.CoilMaps(rows, cols, kspace.CoilConfig{Coils: *coils})
	if err != nil {
		return fail(2, "%v", err)
	}
	plane := rows * cols
	ns := hi - lo
	k := make([]complex64, 0, ns**coils*plane)
	for s := lo; s < hi; s++ {
		img := kspace.RealToComplex(vol[s*plane : (s+1)*plane])
		ph := kspace.SmoothPhase(rows, cols, *phase, rng)
		for i := range img {
			img[i] *= ph[i]
		}
		ks, _, err := kspace.Simulate(img, maps, mask, *noise, rng)
		if err != nil {
			return fail(1, "%v", err)
		}
		k = append(k, ks...)
	}
	if err := array.WriteNPYFile(*kout, []int{ns, *coils, rows, cols}, k); err != nil {
		return fail(1, "%v", err)
	}
	if *mout != "" {
		m := make([]float32, cols)
		for c, v := range lines {
			if v {
				m[c] = 1
			}
		}
		if err := array.WriteNPYFile(*mout, []int{cols}, m); err != nil {
			return fail(1, "%v", err)
		}
	}
	if *ref != "" {
		if err := array.WriteNPYFile(*ref, []int{ns, rows, cols}, vol[lo*plane:hi*plane]); err != nil {
			return fail(1, "%v", err)
		}
	}
	fmt.Printf("simulated %d slices × %d coils × %d × %d, %s mask, nominal %.0f×, actual %.2f×, noise %.3g\n",
		ns, *coils, rows, cols, *maskKind, *accel, actual, *noise)
	return 0
}

// cmdSimulateCT makes parallel-beam sinograms of HU images, projected on a
// grid twice as fine as the reconstruction grid (each pixel split into 2×2)
// so that the reconstruction does not commit the inverse crime.
func cmdSimulateCT(args []string) int {
	fs := flag.NewFlagSet("simulate ct", flag.ExitOnError)
	images := fs.String("images", "", ".npy float32 (slices, N, N) images in HU")
	slices := fs.String("slices", "", "slice range A:B (B excluded; default all)")
	pixelMM := fs.Float64("pixel-mm", 0.957, "pixel size of the images, mm")
	views := fs.Int("views", 32, "number of views over [0°, 180°)")
	mu := fs.Float64("mu-water", sinogram.DefaultMuWater, "water attenuation, 1/mm")
	out := fs.String("sinogram", "", "output .npy float32 (slices, views, detectors) of line integrals")
	ref := fs.String("ref", "", "output reference .npy float32 (slices, N, N) in HU")
	fs.Parse(args)
	fail := func(code int, f string, a ...any) int {
		fmt.Fprintf(os.Stderr, "tweedie simulate ct: "+f+"\n", a...)
		return code
	}
	if *images == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return fail(2, "--images and --sinogram are required")
	}
	vol, n, rows, cols, err := loadVolume(*images)
	if err != nil {
		return fail(1, "%v", err)
	}
	if rows != cols {
		return fail(1, "images are %d × %d, want square", rows, cols)
	}
	lo, hi, err := parseRange(*slices, n)
	if err != nil {
		return fail(2, "%v", err)
	}
	if *views < 1 || *views > 1<<14 {
		return fail(2, "--views %d out of range", *views)
	}
	angles := sinogram.EvenAngles(*views, 0, 180)
	ndet := sinogram.SkimageDetectors(rows)
	geom := sinogram.ParallelGeometry{AnglesDeg: angles, NDet: ndet, DetSpacing: *pixelMM}
	fine, err := sinogram.NewParallelProjector(geom, sinogram.Square(2*rows, *pixelMM/2))
	if err != nil {
		return fail(1, "%v", err)
	}
	plane := rows * cols
	var sino []float32
	muImg := make([]float32, plane)
	up := make([]float32, 4*plane)
	for s := lo; s < hi; s++ {
		if err := sinogram.HUToMu(muImg, vol[s*plane:(s+1)*plane], *mu); err != nil {
			return fail(1, "%v", err)
		}
		for r := 0; r < 2*rows; r++ {
			for c := 0; c < 2*cols; c++ {
				up[r*2*cols+c] = max(muImg[(r/2)*cols+c/2], 0)
			}
		}
		p, err := fine.Project(up)
		if err != nil {
			return fail(1, "%v", err)
		}
		sino = append(sino, p...)
	}
	if err := array.WriteNPYFile(*out, []int{hi - lo, *views, ndet}, sino); err != nil {
		return fail(1, "%v", err)
	}
	if *ref != "" {
		if err := array.WriteNPYFile(*ref, []int{hi - lo, rows, cols}, vol[lo*plane:hi*plane]); err != nil {
			return fail(1, "%v", err)
		}
	}
	fmt.Printf("simulated %d slices: %d views over [0°, 180°) × %d detectors at %g mm, projected at %g mm pixels\n"+
		"wrap with: tweedie wrap ct --sinogram %s --angles linspace:0:180:%d --geometry parallel --detector-mm %g --image-size %d --pixel-mm %g --mu-water %g --out OUT.dcm\n",
		hi-lo, *views, ndet, *pixelMM, *pixelMM/2, *out, *views, *pixelMM, rows, *pixelMM, *mu)
	return 0
}
