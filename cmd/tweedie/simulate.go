package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/tweedie-recon/tweedie/derived"
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

// simFail prints a simulate error and returns code.
func simFail(modality string, code int, f string, a ...any) int {
	fmt.Fprintf(os.Stderr, "tweedie simulate "+modality+": "+f+"\n", a...)
	return code
}

// cmdSimulateMR makes multi-coil k-space from magnitude images
// (kspace.VolumeSim).
func cmdSimulateMR(args []string) int {
	fs := flag.NewFlagSet("simulate mr", flag.ExitOnError)
	images := fs.String("images", "", ".npy float32 (slices, rows, cols) magnitude images")
	slices := fs.String("slices", "", "slice range A:B (B excluded; default all)")
	var cfg kspace.VolumeSimConfig
	fs.IntVar(&cfg.Coils, "coils", 8, "number of receive coils")
	fs.Float64Var(&cfg.Accel, "accel", 4, "nominal acceleration")
	fs.Float64Var(&cfg.ACS, "acs", 0.08, "fully sampled centre fraction")
	fs.StringVar(&cfg.Mask, "mask", kspace.MaskEquispaced, "equispaced (fastMRI) or random (uniform with ACS)")
	fs.Float64Var(&cfg.Noise, "noise", 0.01, "noise standard deviation relative to the RMS of the sampled k-space")
	fs.Float64Var(&cfg.Phase, "phase", 1.0, "amplitude of the smooth random phase, radians")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed")
	kout := fs.String("kspace", "", "output k-space .npy complex64 (slices, coils, rows, cols)")
	mout := fs.String("mask-out", "", "output mask .npy float32 (cols)")
	ref := fs.String("ref", "", "output reference magnitude .npy float32 (slices, rows, cols)")
	fs.Parse(args)
	fail := func(code int, f string, a ...any) int { return simFail("mr", code, f, a...) }
	if *images == "" || *kout == "" || fs.NArg() != 0 {
		fs.Usage()
		return fail(2, "--images and --kspace are required")
	}
	vol, n, rows, cols, err := derived.ReadVolume(*images)
	if err != nil {
		return fail(1, "%v", err)
	}
	lo, hi, err := parseRange(*slices, n)
	if err != nil {
		return fail(2, "%v", err)
	}
	sim, err := kspace.NewVolumeSim(rows, cols, cfg)
	if err != nil {
		return fail(2, "%v", err)
	}
	plane, ns := rows*cols, hi-lo
	k, err := sim.Simulate(vol[lo*plane : hi*plane])
	if err != nil {
		return fail(1, "%v", err)
	}
	if err := array.WriteNPYFile(*kout, []int{ns, cfg.Coils, rows, cols}, k); err != nil {
		return fail(1, "%v", err)
	}
	if *mout != "" {
		if err := array.WriteNPYFile(*mout, []int{cols}, sim.LineMask1D()); err != nil {
			return fail(1, "%v", err)
		}
	}
	if *ref != "" {
		if err := array.WriteNPYFile(*ref, []int{ns, rows, cols}, vol[lo*plane:hi*plane]); err != nil {
			return fail(1, "%v", err)
		}
	}
	fmt.Printf("simulated %d slices × %d coils × %d × %d, %s mask, nominal %.0f×, actual %.2f×, noise %.3g\n",
		ns, cfg.Coils, rows, cols, cfg.Mask, cfg.Accel, sim.Actual, cfg.Noise)
	return 0
}

// cmdSimulateCT makes parallel-beam sinograms of HU images
// (sinogram.ParallelSim).
func cmdSimulateCT(args []string) int {
	fs := flag.NewFlagSet("simulate ct", flag.ExitOnError)
	images := fs.String("images", "", ".npy float32 (slices, N, N) images in HU")
	slices := fs.String("slices", "", "slice range A:B (B excluded; default all)")
	var sim sinogram.ParallelSim
	fs.Float64Var(&sim.PixelMM, "pixel-mm", 0.957, "pixel size of the images, mm")
	fs.IntVar(&sim.Views, "views", 32, "number of views over [0°, 180°)")
	fs.Float64Var(&sim.MuWater, "mu-water", sinogram.DefaultMuWater, "water attenuation, 1/mm")
	out := fs.String("sinogram", "", "output .npy float32 (slices, views, detectors) of line integrals")
	ref := fs.String("ref", "", "output reference .npy float32 (slices, N, N) in HU")
	fs.Parse(args)
	fail := func(code int, f string, a ...any) int { return simFail("ct", code, f, a...) }
	if *images == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return fail(2, "--images and --sinogram are required")
	}
	vol, n, rows, cols, err := derived.ReadVolume(*images)
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
	if sim.Views < 1 || sim.Views > 1<<14 {
		return fail(2, "--views %d out of range", sim.Views)
	}
	sim.N = rows
	plane := rows * cols
	sino, err := sim.Simulate(vol[lo*plane : hi*plane])
	if err != nil {
		return fail(1, "%v", err)
	}
	ndet := sim.Geometry().NDet
	if err := array.WriteNPYFile(*out, []int{hi - lo, sim.Views, ndet}, sino); err != nil {
		return fail(1, "%v", err)
	}
	if *ref != "" {
		if err := array.WriteNPYFile(*ref, []int{hi - lo, rows, cols}, vol[lo*plane:hi*plane]); err != nil {
			return fail(1, "%v", err)
		}
	}
	fmt.Printf("simulated %d slices: %d views over [0°, 180°) × %d detectors at %g mm, projected at %g mm pixels\n"+
		"wrap with: tweedie wrap ct --sinogram %s --angles linspace:0:180:%d --geometry parallel --detector-mm %g --image-size %d --pixel-mm %g --mu-water %g --out OUT.dcm\n",
		hi-lo, sim.Views, ndet, sim.PixelMM, sim.PixelMM/2, *out, sim.Views, sim.PixelMM, rows, sim.PixelMM, sim.MuWater)
	return 0
}
